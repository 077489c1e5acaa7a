/*
 * tests/fuzz/fuzz_alert_rules.c - libFuzzer target for alerts.json
 * validation (auditd/alerts/rules.c) and the detectors it configures.
 *
 * Any input must be refused or accepted without a crash, and:
 *   - alerts_check_rules() and alerts_new() agree (same code, same message);
 *   - a refusal is AK_EINVALID with a message starting "alerts.json: " that
 *     names the problem;
 *   - accepted rules run: a fixed set of logins, sends and a DMARC report is
 *     fed twice (the second time out of order) and every alert holds what
 *     alerts.h promises: refs ascending and at most 64, a window that does
 *     not end before it starts, a body that is canonical JSON.
 * `make test` replays the seed corpus via tests/fuzz/replay.c.
 */
#include "auditd/alerts/alerts.h"
#include "lib/error.h"
#include "lib/jcs.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_alert_rules: %s (%s)\n", what, ak_error_last());
		abort();
	}
}

static int emitted(void *ctx, const struct alert_out *a)
{
	struct ak_buf b = AK_BUF_INIT(0), c = AK_BUF_INIT(0);
	size_t i;

	(void)ctx;
	check(a->nrefs >= 1 && a->nrefs <= 64, "refs count");
	for (i = 1; i < a->nrefs; i++)
		check(a->refs[i - 1] < a->refs[i], "refs ascending");
	check(a->window_from_us <= a->window_to_us, "window order");
	check(a->rule && a->severity && a->summary && a->key, "strings");
	check(alerts_body(&b, a) == 0, "body");
	check(ak_jcs_canonicalize(&c, b.data, b.len) == 0 && c.len == b.len &&
		      memcmp(b.data, c.data, b.len) == 0,
	      "body canonical");
	ak_buf_free(&b);
	ak_buf_free(&c);
	return 0;
}

static const struct {
	const char *kind;
	int64_t t; /* seconds after 2026-07-01T00:00:00Z */
	const char *body;
} entries[] = {
	{"admin", 0, "{\"action\":\"login_failure\",\"actor\":\"tanaka\",\"ip\":\"203.0.113.66\"}"},
	{"admin", 1, "{\"action\":\"login_failure\",\"actor\":\"sato\",\"ip\":\"203.0.113.66\"}"},
	{"admin", 2, "{\"action\":\"login_failure\",\"actor\":\"tanaka\",\"ip\":\"203.0.113.66\"}"},
	{"admin", 3, "{\"action\":\"login_failure\",\"actor\":\"ito\",\"ip\":\"203.0.113.66\"}"},
	{"admin", 4, "{\"action\":\"login_failure\",\"actor\":\"tanaka\",\"ip\":\"198.51.100.1\"}"},
	{"admin", 5, "{\"action\":\"login_failure\",\"actor\":\"tanaka\"}"},
	{"admin", 60, "{\"action\":\"login_success\",\"actor\":\"tanaka\",\"ip\":\"203.0.113.66\"}"},
	{"admin", 61, "{\"action\":\"login_success\",\"actor\":\"sato\",\"ip\":\"203.0.113.66\"}"},
	{"send", 100, "{\"campaign\":\"c\",\"from\":\"n@example.jp\",\"rcpt\":\"a@example.jp\","
		      "\"status\":\"sent\"}"},
	{"send", 101, "{\"campaign\":\"c\",\"from\":\"n@example.jp\",\"rcpt\":\"b@example.jp\","
		      "\"status\":\"sent\"}"},
	{"send", 3700, "{\"campaign\":\"c\",\"from\":\"n@example.jp\",\"rcpt\":\"c@example.jp\","
		       "\"status\":\"queued\"}"},
	{"dmarc", 200, "{\"begin\":\"2026-07-01T00:00:00Z\",\"end\":\"2026-07-02T00:00:00Z\","
		       "\"policy\":{\"domain\":\"example.jp\"},\"report_id\":\"r\",\"rows\":[{"
		       "\"count\":5,\"dkim\":\"fail\",\"source_ip\":\"203.0.113.9\",\"spf\":\"fail\"},"
		       "{\"count\":1,\"source_ip\":\"203.0.113.9\"}]}"},
	{"admin", 7, "{\"action\":\"logout\",\"actor\":\"tanaka\"}"},
	{"admin", 8, "[1,2]"},
};

static void feed_all(struct alerts *a, int reverse)
{
	size_t n = sizeof(entries) / sizeof(entries[0]), i;

	for (i = 0; i < 3 * n; i++) {
		size_t k = reverse ? 3 * n - 1 - i : i;
		struct evidence_entry e = {0};

		e.seq = (int64_t)(i + 1 + (reverse ? 100 : 0));
		e.kind = entries[k % n].kind;
		e.time_us = (INT64_C(1782864000) + entries[k % n].t + (int64_t)(k / n) * 30) *
			    1000000;
		e.body = entries[k % n].body;
		e.body_len = strlen(e.body);
		e.bytes = e.body;
		e.len = e.body_len;
		check(alerts_feed(a, &e) == 0, "feed");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t err;
	json_t *v = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			       &err);
	struct alerts *a = NULL;
	char msg[512];
	int rc, rc2;

	if (v == NULL)
		return 0;
	ak_error_clear();
	rc = alerts_check_rules(v);
	snprintf(msg, sizeof(msg), "%s", ak_error_last());
	rc2 = alerts_new(&a, v, NULL, NULL, emitted, NULL);
	check(rc == rc2, "check_rules and alerts_new agree");
	if (rc != 0) {
		check(rc == AK_EINVALID, "a refusal is AK_EINVALID");
		check(strncmp(msg, "alerts.json: ", 13) == 0, "the message names alerts.json");
		check(strlen(msg) > 20, "the message says why");
		check(strcmp(msg, ak_error_last()) == 0, "the same message both ways");
		check(a == NULL, "nothing built");
	} else {
		json_t *st = json_object();

		check(a != NULL, "built");
		feed_all(a, 0);
		feed_all(a, 1);
		alerts_stats(a, st);
		check(json_object_size(st) == 10, "stats of every rule");
		json_decref(st);
		alerts_free(a);
	}
	json_decref(v);
	return 0;
}
