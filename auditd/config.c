/*
 * auditd/config.c - the table of configuration keys and their parsing
 * (see auditd/config.h). Add a key here and document it in
 * docs/OPERATIONS.md in the same change.
 */
#include "auditd/config.h"

#include "lib/error.h"
#include "lib/lines.h"
#include "lib/timefmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* C_ENUM: one of the key's choices. C_ZONE: empty, or a time zone the
 * system knows (a typo would otherwise turn the alert detectors off, or
 * fail every audit, long after the daemon started). */
enum ctype { C_STR, C_INT, C_DURATION, C_BOOL, C_ENUM, C_ZONE };

struct ckey {
	const char *key;
	enum ctype type;
	const char *def;
	const char *help;
	const char *choices; /* C_ENUM: the values, each followed by '|' */
	/* C_INT: the range when max > 0, else 0 or more. A negative batch
	 * size made `akashi ingest` ask for 2^64 bytes, a port of 70000
	 * wrapped to 4464, a negative api.rate turned rate limiting off. */
	int64_t min, max;
};

static const struct ckey keys[] = {
	{"store", C_STR, "", "store directory (overridden by --store and AKASHI_STORE)"},
	{"ingest.batch", C_INT, "1000", "entries per append transaction", NULL, 0, 1000000},
	{"ingest.max_line", C_INT, "1048576", "longest input line accepted, bytes", NULL, 0,
	 INT64_C(1) << 32},
	{"ingest.max_errors_shown", C_INT, "20", "rejects printed to stderr per ingest"},
	{"ingest.zone", C_ZONE, "", "zone of log times without one (IANA name); empty: host zone"},
	{"ingest.year", C_INT, "0", "year of log times without one; 0: infer", NULL, 0, 9999},
	{"ingest.max_report_bytes", C_INT, "268435456", "largest decompressed DMARC report"},
	{"ingest.max_report_rows", C_INT, "1000000", "most rows in one DMARC report"},
	/* akashi serve */
	{"listen", C_STR, "127.0.0.1:8025", "address:port the daemon serves HTTP(S) on ([v6]:port)"},
	{"tls.cert", C_STR, "", "PEM certificate chain; with tls.key the daemon serves HTTPS"},
	{"tls.key", C_STR, "", "PEM private key of tls.cert (read before dropping privileges)"},
	{"user", C_STR, "", "drop to this user after binding and reading keys; empty: stay"},
	{"log.level", C_ENUM, "info", "error, warning, info or debug", "error|warning|info|debug|"},
	{"log.syslog", C_BOOL, "false", "log to syslog instead of standard error"},
	{"api.max_body", C_INT, "16777216", "largest request body accepted, bytes (413 above)"},
	{"api.rate", C_INT, "200", "requests per second per API token; 0: no limit"},
	{"api.burst", C_INT, "400", "requests a token may make at once before api.rate applies"},
	{"api.timeout", C_DURATION, "60s", "idle and read timeout of an HTTP connection"},
	{"api.max_entries_chunk", C_INT, "2000", "entries per chunk of GET /v1/entries"},
	{"metrics.auth", C_BOOL, "true", "GET /metrics needs a read token"},
	{"writer.max_batch", C_INT, "20000", "most records in one group commit", NULL, 0, 10000000},
	{"writer.max_wait_us", C_INT, "0",
	 "how long the writer waits for more requests before a commit, microseconds"},
	{"writer.max_queue", C_INT, "500000", "records waiting for the writer before 503"},
	{"checkpoint.interval", C_DURATION, "60s", "sign a checkpoint this often when the log grew; 0: never"},
	{"audit.interval", C_DURATION, "1h", "run the audit of the current quarter this often; 0: never"},
	{"timezone", C_ZONE, "", "IANA zone of quarters, reports and business hours; empty: UTC "
				"(business hours: Asia/Tokyo)"},
	{"business_hours", C_STR, "08:30-18:00 Mon-Fri", "business hours for off-hours alerts"},
	{"alerts.webhook", C_STR, "", "URL alerts are POSTed to as JSON; empty: none"},
	{"alerts.webhook_secret", C_STR, "", "HMAC-SHA256 key of the X-Akashi-Signature header"},
	{"alerts.syslog", C_STR, "", "udp:HOST:PORT, tcp:HOST:PORT or unix:/dev/log; empty: none"},
	{"alerts.email", C_STR, "", "address alerts are mailed to (through the delivery engine); empty: none"},
	{"alerts.email_from", C_STR, "", "sender of alert mail; empty: akashi@<dkim.domain>"},
	{"alerts.min_severity", C_ENUM, "low", "alerts below this severity go to no sink",
	 "info|low|medium|high|critical|"},
	{"alerts.drain_timeout", C_DURATION, "10s", "on SIGTERM, how long to wait for the webhook to deliver the last alerts"},
	{"alerts.ca_file", C_STR, "", "CA bundle for https webhooks; empty: the system's"},
	{"unsubscribe.secret", C_STR, "", "file of >= 32 random bytes keying unsubscribe tokens; "
					  "empty: <store>/unsubscribe.key"},
	{"unsubscribe.max_age", C_DURATION, "90d", "how long an unsubscribe link works (>= 60d)"},
	{"unsubscribe.repeat_window", C_DURATION, "10m",
	 "a link POSTed again within this of the opt-out in force records nothing new; 0: off"},
	{"policies.repo", C_STR, "", "policy repository (git); empty: <store>/policies"},
	{"policies.ref", C_STR, "HEAD", "ref whose commit holds the policies in force"},
	/* Delivery (auditd/delivery/; docs/OPERATIONS.md "Delivery"). */
	{"relay", C_STR, "", "smart host as host:port ([host]:port); empty: deliver to each domain's MX"},
	{"relay.user", C_STR, "", "AUTH PLAIN user at the relay (sent only under TLS); empty: no AUTH"},
	{"relay.password_file", C_STR, "", "file holding the relay password"},
	{"smtp.tls", C_ENUM, "required", "STARTTLS: required (verified certificate), opportunistic, off",
	 "required|opportunistic|off|"},
	{"smtp.helo", C_STR, "", "EHLO name; empty: the host name"},
	{"smtp.port", C_INT, "25", "port of MX hosts", NULL, 1, 65535},
	{"smtp.timeout", C_DURATION, "120s", "longest wait for an SMTP reply"},
	{"smtp.dns_server", C_STR, "", "resolver (ip[:port]) for MX lookups; empty: resolv.conf"},
	{"tls.ca_file", C_STR, "", "CA certificates (PEM) to verify servers with; empty: the system store"},
	{"dkim.domain", C_STR, "", "d= of the signatures"},
	{"dkim.selector", C_STR, "", "s= of the RSA signature"},
	{"dkim.key", C_STR, "", "RSA private key (PEM, 2048 bits)"},
	{"dkim.ed25519_selector", C_STR, "", "s= of the second, Ed25519 signature (RFC 8463)"},
	{"dkim.ed25519_key", C_STR, "", "Ed25519 private key (PEM); empty: RSA only"},
	{"dkim.engine", C_ENUM, "builtin", "builtin (fast) or libopendkim (same signatures, slower)",
	 "builtin|libopendkim|"},
	{"unsubscribe.base_url", C_STR, "", "https URL of the daemon for List-Unsubscribe links"},
	{"queue.max_age", C_DURATION, "5d", "a deferred message expires after this long"},
	{"queue.retry_min", C_DURATION, "5m", "first retry after a temporary failure (doubling)"},
	{"queue.retry_max", C_DURATION, "4h", "longest wait between retries"},
	{"delivery.connections", C_INT, "8", "SMTP connections per destination", NULL, 0, 1000},
	{"delivery.rate", C_INT, "0", "messages per second per destination; 0: no limit"},
	{"delivery.max_inflight", C_INT, "512", "messages being signed or sent at once (bounds memory)",
	 NULL, 0, 1000000},
	{"delivery.signers", C_INT, "0", "signing threads; 0: one per core", NULL, 0, 64},
	{"delivery.batch", C_INT, "256", "recipients per gate/record/queue transaction", NULL, 0, 1000000},
	/* The SMTP submission gateway of `akashi serve` (auditd/delivery/smtp_server.c;
	 * docs/OPERATIONS.md "The SMTP gateway"). */
	{"smtp.listen", C_STR, "", "address:port of the SMTP submission gateway ([v6]:port); empty: off"},
	{"smtp.max_message_size", C_INT, "10485760", "largest message the gateway accepts, bytes (552 above)"},
	{"smtp.max_recipients", C_INT, "1000", "most recipients of one gateway transaction (452 above)"},
	{"smtp.idle_timeout", C_DURATION, "300s", "a gateway client silent this long is told 421 and cut"},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Durations go into int seconds and int64 microseconds: at most 68 years. */
#define DURATION_MAX INT32_MAX

struct config {
	char *val[NKEYS];
	int set[NKEYS];
};

static int find(const char *key, size_t len)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strlen(keys[i].key) == len && memcmp(keys[i].key, key, len) == 0)
			return (int)i;
	return -1;
}

int config_new(struct config **out)
{
	struct config *c = calloc(1, sizeof(*c));
	size_t i;

	if (c == NULL)
		return ak_error_oom();
	for (i = 0; i < NKEYS; i++)
		if ((c->val[i] = strdup(keys[i].def)) == NULL) {
			config_free(c);
			return ak_error_oom();
		}
	*out = c;
	return 0;
}

void config_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < NKEYS; i++)
		free(c->val[i]);
	free(c);
}

static int parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int parse_duration(const char *s, int64_t *out)
{
	char *end;
	long long v;
	int64_t mul = 1;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0)
		return -1;
	if (*end == 's')
		end++;
	else if (*end == 'm')
		mul = 60, end++;
	else if (*end == 'h')
		mul = 3600, end++;
	else if (*end == 'd')
		mul = 86400, end++;
	if (*end != '\0' || v > DURATION_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

static int check(int k, const char *v)
{
	int64_t x, min = keys[k].min, max = keys[k].max > 0 ? keys[k].max : INT64_MAX;

	switch (keys[k].type) {
	case C_INT:
		if (parse_int(v, &x) != 0)
			return ak_error_code(AK_EINVALID, "%s: '%s' is not an integer", keys[k].key,
					     v);
		if (x < min || x > max)
			return ak_error_code(AK_EINVALID, "%s: %lld is not in %lld..%lld",
			                     keys[k].key, (long long)x, (long long)min,
			                     (long long)max);
		break;
	case C_DURATION:
		if (parse_duration(v, &x) != 0)
			return ak_error_code(AK_EINVALID,
			                     "%s: '%s' is not a duration (e.g. 60s, 5m, 2h, 3d; "
			                     "at most 68 years)",
			                     keys[k].key, v);
		break;
	case C_BOOL:
		if (strcmp(v, "true") && strcmp(v, "false") && strcmp(v, "yes") &&
		    strcmp(v, "no") && strcmp(v, "1") && strcmp(v, "0"))
			return ak_error_code(AK_EINVALID, "%s: '%s' is not true or false",
					     keys[k].key, v);
		break;
	case C_ENUM: {
		const char *c = keys[k].choices, *bar;
		size_t n = strlen(v), len = 0;
		char list[128] = "";

		for (; (bar = strchr(c, '|')) != NULL; c = bar + 1) {
			if ((size_t)(bar - c) == n && memcmp(c, v, n) == 0)
				return 0;
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%.*s",
						len ? ", " : "", (int)(bar - c), c);
			if (len >= sizeof(list))
				len = sizeof(list) - 1;
		}
		return ak_error_code(AK_EINVALID, "%s: '%.80s' is not one of %s", keys[k].key, v,
				     list);
	}
	case C_ZONE: {
		int off;

		if (*v && ak_time_zone_offset(v, 0, &off) != 0) {
			ak_error_clear();
			return ak_error_code(AK_EINVALID,
					     "%s: '%.80s' is not a time zone this system knows (an "
					     "IANA name such as Asia/Tokyo, or UTC)",
					     keys[k].key, v);
		}
		break;
	}
	case C_STR:
		break;
	}
	return 0;
}

static int put(struct config *c, const char *key, size_t klen, const char *val)
{
	int k = find(key, klen);
	char *copy;
	int rc;

	if (k < 0)
		return ak_error_code(AK_EINVALID, "unknown key '%.*s' (see docs/OPERATIONS.md)",
				     (int)klen, key);
	if ((rc = check(k, val)) != 0)
		return rc;
	if ((copy = strdup(val)) == NULL)
		return ak_error_oom();
	free(c->val[k]);
	c->val[k] = copy;
	c->set[k] = 1;
	return 0;
}

static const char *trim(char *s, size_t *len)
{
	while (*len && (s[0] == ' ' || s[0] == '\t'))
		s++, (*len)--;
	while (*len && (s[*len - 1] == ' ' || s[*len - 1] == '\t' || s[*len - 1] == '\r'))
		(*len)--;
	s[*len] = '\0';
	return s;
}

int config_load_file(struct config *c, const char *path)
{
	FILE *f = fopen(path, "r");
	struct ak_lines r;
	const char *line;
	size_t len;
	int rc = 0, got;

	if (f == NULL)
		return ak_error_set("%s: %s", path, strerror(errno));
	if ((rc = ak_lines_init(&r, f, 65536)) != 0) {
		fclose(f);
		return rc;
	}
	while ((got = ak_lines_next(&r, &line, &len)) != 0) {
		char *l = (char *)line, *eq;
		const char *key, *val;
		size_t klen, vlen;

		if (got < 0) {
			rc = got;
			ak_error_prefix("%s:%lu", path, r.lineno);
			break;
		}
		key = trim(l, &len);
		if (len == 0 || key[0] == '#')
			continue;
		eq = strchr(key, '=');
		if (eq == NULL) {
			rc = ak_error_code(AK_EINVALID, "%s:%lu: expected 'key = value'", path,
					   r.lineno);
			break;
		}
		klen = (size_t)(eq - key);
		vlen = len - klen - 1;
		val = trim(eq + 1, &vlen);
		while (klen && (key[klen - 1] == ' ' || key[klen - 1] == '\t'))
			klen--;
		if ((rc = put(c, key, klen, val)) != 0) {
			ak_error_prefix("%s:%lu", path, r.lineno);
			break;
		}
	}
	ak_lines_free(&r);
	fclose(f);
	return rc;
}

int config_set(struct config *c, const char *assignment)
{
	const char *eq = strchr(assignment, '=');
	int rc;

	if (eq == NULL || eq == assignment)
		return ak_error_code(AK_EINVALID, "--set %s: expected KEY=VALUE", assignment);
	if ((rc = put(c, assignment, (size_t)(eq - assignment), eq + 1)) != 0)
		ak_error_prefix("--set");
	return rc;
}

const char *config_get(const struct config *c, const char *key)
{
	int k = find(key, strlen(key));

	return k < 0 ? "" : c->val[k];
}

int64_t config_int(const struct config *c, const char *key)
{
	int64_t v = 0;

	parse_int(config_get(c, key), &v);
	return v;
}

int64_t config_seconds(const struct config *c, const char *key)
{
	int64_t v = 0;

	parse_duration(config_get(c, key), &v);
	return v;
}

int config_bool(const struct config *c, const char *key)
{
	const char *v = config_get(c, key);

	return strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "1") == 0;
}

int config_each(const struct config *c,
		int (*cb)(void *ctx, const char *key, const char *value, int is_set,
			  const char *help),
		void *ctx)
{
	size_t i;
	int rc;

	for (i = 0; i < NKEYS; i++)
		if ((rc = cb(ctx, keys[i].key, c->val[i], c->set[i], keys[i].help)) != 0)
			return rc;
	return 0;
}
