/*
 * tests/unit/test_postfix.c - the Postfix maillog adapter, on logs a real
 * Postfix 3.7 wrote (tests/data/postfix/real-*.log, captured with
 * tests/e2e/lib/postfix-instance.sh) and on hand-written lines derived
 * from them for the other syslog prefixes and the corner cases.
 */
#include "tests/unit/unit.h"

#include "auditd/ingest/postfix.h"
#include "lib/error.h"
#include "lib/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REAL_LOG    "tests/data/postfix/real-postlogd.log"
#define MULTI_LOG   "tests/data/postfix/real-postlogd-multi-instance.log"
#define ISO_LOG     "tests/data/postfix/handwritten-iso.log"
#define RFC5424_LOG "tests/data/postfix/handwritten-rfc5424.log"

#define MAX_ITEMS 2048

struct rec {
	char *where, *source, *event_id;
	int64_t time_us;
	json_t *body;
};

struct note {
	char *where, *why;
};

struct collect {
	struct rec recs[MAX_ITEMS];
	size_t nrecs;
	struct note rejects[MAX_ITEMS];
	size_t nrejects;
	struct note skips[MAX_ITEMS];
	size_t nskips;
	size_t stop_after; /* 0: never ask the adapter to stop */
};

static int on_record(void *ctx, const struct ingest_record *r)
{
	struct collect *c = ctx;
	struct rec *x;

	assert_true(c->nrecs < MAX_ITEMS);
	assert_string_equal(r->kind, "send");
	assert_non_null(r->body);
	assert_null(r->body_json);
	x = &c->recs[c->nrecs++];
	x->where = strdup(r->where);
	x->source = strdup(r->source);
	x->event_id = strdup(r->event_id);
	x->time_us = r->time_us;
	x->body = json_incref(r->body);
	if (c->stop_after && c->nrecs >= c->stop_after)
		return ak_error_code(AK_EBUSY, "sink: stop");
	return 0;
}

static int on_reject(void *ctx, const char *where, const char *why, const char *raw, size_t len)
{
	struct collect *c = ctx;

	(void)raw;
	(void)len;
	assert_true(c->nrejects < MAX_ITEMS);
	c->rejects[c->nrejects].where = strdup(where);
	c->rejects[c->nrejects].why = strdup(why);
	c->nrejects++;
	return 0;
}

static void on_skip(void *ctx, const char *where, const char *why)
{
	struct collect *c = ctx;

	if (c->nskips < MAX_ITEMS) {
		c->skips[c->nskips].where = strdup(where);
		c->skips[c->nskips].why = strdup(why);
	}
	c->nskips++;
}

static void collect_free(struct collect *c)
{
	size_t i;

	for (i = 0; i < c->nrecs; i++) {
		free(c->recs[i].where);
		free(c->recs[i].source);
		free(c->recs[i].event_id);
		json_decref(c->recs[i].body);
	}
	for (i = 0; i < c->nrejects; i++) {
		free(c->rejects[i].where);
		free(c->rejects[i].why);
	}
	for (i = 0; i < c->nskips && i < MAX_ITEMS; i++) {
		free(c->skips[i].where);
		free(c->skips[i].why);
	}
	free(c);
}

static int64_t at(const char *rfc3339)
{
	int64_t us;

	assert_int_equal(ak_time_parse(rfc3339, strlen(rfc3339), &us), 0);
	return us;
}

/* Options most tests use: UTC, reference late in November 2026. */
static struct ingest_options opts(const char *name)
{
	struct ingest_options o;

	memset(&o, 0, sizeof(o));
	o.name = name;
	o.zone = "UTC";
	o.ref_us = at("2026-11-30T00:00:00Z");
	return o;
}

static struct collect *run_stream(FILE *f, const struct ingest_options *o,
                                  const struct postfix_limits *lim, int want_rc)
{
	struct collect *c = calloc(1, sizeof(*c));
	struct ingest_sink sink = {on_record, on_reject, on_skip, c};
	int rc;

	assert_non_null(c);
	rc = ingest_postfix_limited(f, o, &sink, lim);
	if (rc != want_rc)
		fail_msg("ingest_postfix: %d (%s), wanted %d", rc, ak_error_last(), want_rc);
	return c;
}

static struct collect *run_file(const char *path, const struct ingest_options *o)
{
	FILE *f = fopen(path, "rb");
	struct collect *c;

	if (f == NULL)
		fail_msg("cannot open %s (run from the top of the tree)", path);
	c = run_stream(f, o, NULL, 0);
	fclose(f);
	return c;
}

static struct collect *run_mem(const char *text, size_t len, const struct ingest_options *o,
                               const struct postfix_limits *lim)
{
	FILE *f = fmemopen((void *)text, len, "rb");
	struct collect *c;

	assert_non_null(f);
	c = run_stream(f, o, lim, 0);
	fclose(f);
	return c;
}

static struct collect *run_text(const char *text, const struct ingest_options *o)
{
	return run_mem(text, strlen(text), o, NULL);
}

static const char *str(const struct rec *r, const char *key)
{
	json_t *v = json_object_get(r->body, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_int_t num(const struct rec *r, const char *key)
{
	json_t *v = json_object_get(r->body, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static const struct rec *find(const struct collect *c, const char *status, const char *rcpt)
{
	size_t i;

	for (i = 0; i < c->nrecs; i++) {
		const char *s = str(&c->recs[i], "status"), *r = str(&c->recs[i], "rcpt");

		if (s && r && strcmp(s, status) == 0 && strcmp(r, rcpt) == 0)
			return &c->recs[i];
	}
	fail_msg("no %s record for %s", status, rcpt);
	return NULL;
}

static size_t count_status(const struct collect *c, const char *status)
{
	size_t i, n = 0;

	for (i = 0; i < c->nrecs; i++)
		if (strcmp(str(&c->recs[i], "status"), status) == 0)
			n++;
	return n;
}

static size_t count_skips(const struct collect *c, const char *why_part)
{
	size_t i, n = 0;

	for (i = 0; i < c->nskips && i < MAX_ITEMS; i++)
		if (strstr(c->skips[i].why, why_part))
			n++;
	return n;
}

static void assert_time(int64_t us, const char *want)
{
	char buf[AK_TIME_MAX];

	assert_true(ak_time_format(buf, us, AK_TIME_AUTO) > 0);
	assert_string_equal(buf, want);
}

/* ------------------------------------------------------------------ */

static void test_postfix__counts_records_per_status_in_real_log(void **state)
{
	struct ingest_options o = opts(REAL_LOG);
	struct collect *c = run_file(REAL_LOG, &o);

	(void)state;
	assert_int_equal(c->nrejects, 0);
	assert_int_equal(count_status(c, "sent"), 22);
	assert_int_equal(count_status(c, "bounced"), 4);
	assert_int_equal(count_status(c, "deferred"), 6);
	assert_int_equal(count_status(c, "expired"), 2);
	assert_int_equal(c->nrecs, 34);
	collect_free(c);
}

static void test_postfix__joins_qmgr_cleanup_smtp_by_queue_id(void **state)
{
	struct ingest_options o = opts(REAL_LOG);
	struct collect *c = run_file(REAL_LOG, &o);
	const struct rec *r = find(c, "sent", "user0@ok.test");

	(void)state;
	assert_string_equal(r->where, REAL_LOG ":18");
	assert_string_equal(r->source, "postfix:mx1");
	assert_string_equal(r->event_id, "mx1|CBA30A729FB|sent|Nov 22 08:18:28|user0@ok.test");
	assert_time(r->time_us, "2026-11-22T08:18:28Z");
	assert_string_equal(str(r, "queue_id"), "CBA30A729FB");
	assert_string_equal(str(r, "host"), "mx1");
	assert_string_equal(str(r, "message_id"), "akashi-test-0.47337@sender.test");
	assert_string_equal(str(r, "from"), "news@sender.test");
	assert_int_equal(num(r, "size"), 548);
	assert_string_equal(str(r, "client"), "localhost[127.0.0.1]");
	assert_string_equal(str(r, "campaign"), "spring-0");
	assert_string_equal(str(r, "list"), "newsletter");
	assert_string_equal(str(r, "stream"), "marketing");
	assert_string_equal(str(r, "dsn"), "2.0.0");
	assert_string_equal(str(r, "relay"), "127.0.0.1[127.0.0.1]:37445");
	assert_string_equal(str(r, "reply"), "250 2.0.0 Ok");
	assert_int_equal(num(r, "delay_ms"), 20);
	assert_null(json_object_get(r->body, "orig_to"));
	collect_free(c);
}

static void test_postfix__bounce_and_deferral_carry_reply_and_dsn(void **state)
{
	struct ingest_options o = opts(REAL_LOG);
	struct collect *c = run_file(REAL_LOG, &o);
	const struct rec *b = find(c, "bounced", "gone2@bounce.test");
	const struct rec *e = find(c, "bounced", "nobody3@error.test");
	const struct rec *d = find(c, "deferred", "slow1@defer.test");

	(void)state;
	assert_string_equal(str(b, "dsn"), "5.3.0");
	assert_string_equal(str(b, "reply"), "host 127.0.0.1[127.0.0.1] said: 500 5.3.0 Error: "
	                                     "command failed (in reply to RCPT TO command)");
	assert_string_equal(str(b, "stream"), "transactional");
	/* error(8): parentheses inside the reply survive. */
	assert_string_equal(str(e, "relay"), "none");
	assert_string_equal(str(e, "reply"), "mailbox unavailable (akashi test)");
	assert_string_equal(str(e, "dsn"), "5.1.1");
	assert_string_equal(str(d, "dsn"), "4.3.0");
	assert_string_equal(str(d, "from"), "news+1@sender.test");
	collect_free(c);
}

static void test_postfix__lowercases_rcpt_and_from(void **state)
{
	struct ingest_options o = opts(REAL_LOG);
	struct collect *c = run_file(REAL_LOG, &o);
	const struct rec *r = find(c, "sent", "other1@ok.test"); /* logged "Other1@OK.test" */

	(void)state;
	assert_string_equal(str(r, "from"), "news+1@sender.test"); /* logged "News+1@Sender.test" */
	collect_free(c);
}

static void test_postfix__orig_to_of_virtual_alias(void **state)
{
	struct ingest_options o = opts(REAL_LOG);
	struct collect *c = run_file(REAL_LOG, &o);
	const struct rec *a = find(c, "sent", "alice@ok.test");

	(void)state;
	assert_string_equal(str(a, "orig_to"), "team@ok.test");
	assert_non_null(strstr(a->event_id, "|alice@ok.test|team@ok.test"));
	collect_free(c);
}

static void test_postfix__local_pipe_discard_agents_are_delivery_lines(void **state)
{
	struct ingest_options o = opts(REAL_LOG);
	struct collect *c = run_file(REAL_LOG, &o);

	(void)state;
	assert_string_equal(str(find(c, "sent", "filebox@localhost"), "relay"), "local");
	assert_string_equal(str(find(c, "sent", "job5@pipe.test"), "relay"), "akpipe");
	assert_string_equal(str(find(c, "sent", "user3@discard.test"), "reply"), "discard.test");
	collect_free(c);
}

static void test_postfix__quoted_local_part_cannot_forge_fields(void **state)
{
	struct ingest_options o = opts(REAL_LOG);
	struct collect *c = run_file(REAL_LOG, &o);
	const struct rec *r = find(c, "sent", "\"odd>, relay=evil, status=bounced (x)\"@ok.test");

	(void)state;
	assert_string_equal(str(r, "relay"), "127.0.0.1[127.0.0.1]:37445");
	assert_string_equal(str(r, "reply"), "250 2.0.0 Ok");
	collect_free(c);
}

static void test_postfix__expired_gives_one_record_per_deferred_recipient(void **state)
{
	struct ingest_options o = opts(REAL_LOG);
	struct collect *c = run_file(REAL_LOG, &o);
	const struct rec *e1 = find(c, "expired", "late1@defer.test");
	const struct rec *e2 = find(c, "expired", "late2@defer.test");

	(void)state;
	/* The null sender is "", not left out. */
	assert_string_equal(str(e1, "from"), "");
	assert_string_equal(str(e1, "message_id"), str(e2, "message_id"));
	assert_string_equal(e1->where, e2->where);
	assert_string_not_equal(e1->event_id, e2->event_id);
	assert_null(json_object_get(e1->body, "dsn"));
	/* early@ok.test of the same message was sent: no expired record. */
	find(c, "sent", "early@ok.test");
	assert_int_equal(count_status(c, "expired"), 2);
	collect_free(c);
}

static void test_postfix__skips_other_lines_and_counts_them(void **state)
{
	struct ingest_options o = opts(REAL_LOG);
	struct collect *c = run_file(REAL_LOG, &o);

	(void)state;
	/* connect/disconnect/daemon start lines, then bounce notices. */
	assert_int_equal(count_skips(c, "without a queue id"), 7);
	assert_int_equal(count_skips(c, "not part of a delivery record"), 4);
	assert_int_equal(c->nskips, 11);
	collect_free(c);

	o = opts("mixed.log");
	c = run_text("Nov 22 08:18:28 mx1 dovecot[900]: imap(user): Logged out\n"
	             "Nov 22 08:18:28 mx1 opendkim[811]: CBA30A729FB: DKIM-Signature added\n"
	             "Nov 22 08:18:28 mx1 sshd[1]: to=<a@b>, relay=x, dsn=2.0.0, status=sent (y)\n"
	             "Nov 22 08:18:28 mx1 -- MARK --\n"
	             "Nov 22 08:18:28 mx1 postfix/smtpd[1]: warning: hostname does not resolve\n"
	             "Nov 22 08:18:28 mx1 postfix/smtpd[1]: NOQUEUE: reject: RCPT from x[1.2.3.4]\n"
	             "\n",
	             &o);
	assert_int_equal(c->nrecs, 0);
	assert_int_equal(c->nrejects, 0);
	assert_int_equal(c->nskips, 7);
	assert_int_equal(count_skips(c, "not a Postfix program"), 3);
	assert_string_equal(c->skips[3].where, "mixed.log:4");
	assert_string_equal(c->skips[3].why, "syslog line without a program name");
	collect_free(c);
}

static void test_postfix__multi_instance_syslog_name(void **state)
{
	struct ingest_options o = opts(MULTI_LOG);
	struct collect *c = run_file(MULTI_LOG, &o);
	const struct rec *r;

	(void)state;
	assert_int_equal(c->nrejects, 0);
	assert_int_equal(count_status(c, "sent"), 52);
	assert_int_equal(count_status(c, "bounced"), 10);
	assert_int_equal(count_status(c, "deferred"), 12);
	assert_int_equal(count_status(c, "expired"), 2);
	r = find(c, "sent", "user0@ok.test");
	assert_non_null(str(r, "message_id"));
	assert_string_equal(str(r, "campaign"), "spring-0");
	collect_free(c);

	o = opts("sub.log");
	c = run_text(
	        "Nov 22 08:18:28 mx1 postfix/submission/smtpd[1]: ABCDEF123: client=a[1.2.3.4]\n"
	        "Nov 22 08:18:29 mx1 postfix/relay/smtp[2]: ABCDEF123: to=<x@y.test>, "
	        "relay=y.test[5.6.7.8]:25, delay=1.5, dsn=2.0.0, status=sent (250 ok)\n",
	        &o);
	assert_int_equal(c->nrecs, 1);
	assert_string_equal(str(&c->recs[0], "client"), "a[1.2.3.4]");
	assert_int_equal(num(&c->recs[0], "delay_ms"), 1500);
	collect_free(c);
}

static void test_postfix__iso_prefix_with_offsets(void **state)
{
	struct ingest_options o = opts(ISO_LOG);
	struct collect *c = run_file(ISO_LOG, &o);
	const struct rec *r;

	(void)state;
	assert_int_equal(c->nrejects, 0);
	assert_int_equal(c->nrecs, 1);
	assert_int_equal(count_skips(c, "not a Postfix program"), 2);
	r = &c->recs[0];
	assert_time(r->time_us, "2026-11-22T08:18:28.654321Z");
	assert_string_equal(str(r, "campaign"), "spring-0");
	assert_string_equal(str(r, "message_id"), "akashi-test-0.47337@sender.test");
	assert_string_equal(r->event_id,
	                    "mx1|CBA30A729FB|sent|2026-11-22T17:18:28.654321+09:00|user0@ok.test");
	collect_free(c);
}

static void test_postfix__rfc5424_prefix(void **state)
{
	struct ingest_options o = opts(RFC5424_LOG);
	struct collect *c = run_file(RFC5424_LOG, &o);
	const struct rec *r;

	(void)state;
	assert_int_equal(c->nrejects, 0);
	assert_int_equal(c->nrecs, 1);
	r = &c->recs[0];
	assert_time(r->time_us, "2026-11-22T08:18:28.654321Z");
	/* Structured data with an escaped ']' and a BOM before MSG. */
	assert_string_equal(str(r, "message_id"), "akashi-test-0.47337@sender.test");
	assert_string_equal(str(r, "list"), "newsletter");
	assert_int_equal(num(r, "size"), 548);
	assert_int_equal(count_skips(c, "without a program name"), 1);
	collect_free(c);
}

static void test_postfix__rfc3164_with_pri_and_padded_day(void **state)
{
	struct ingest_options o = opts("pri.log");
	struct collect *c =
	        run_text("<22>Nov  2 08:18:28 mx1 postfix/smtp[1]: ABCDEF123: to=<a@b.test>, "
	                 "relay=none, delay=0, dsn=5.0.0, status=bounced (no)\r\n",
	                 &o);

	(void)state;
	assert_int_equal(c->nrecs, 1);
	assert_time(c->recs[0].time_us, "2026-11-02T08:18:28Z");
	assert_int_equal(num(&c->recs[0], "delay_ms"), 0);
	assert_string_equal(str(&c->recs[0], "reply"), "no");
	collect_free(c);
}

#define DEC_LINE "Dec 31 23:59:59 mx1 postfix/smtp[1]: AAAAA1111: to=<a@b.test>, status=sent (ok)\n"
#define JAN_LINE "Jan  1 00:00:01 mx1 postfix/smtp[1]: BBBBB2222: to=<a@b.test>, status=sent (ok)\n"

static void test_postfix__year_inferred_across_new_year(void **state)
{
	struct ingest_options o = opts("newyear.log");
	struct collect *c;

	(void)state;
	o.ref_us = at("2027-01-01T10:00:00Z"); /* file written on New Year's Day */
	c = run_text(DEC_LINE JAN_LINE, &o);
	assert_int_equal(c->nrecs, 2);
	assert_time(c->recs[0].time_us, "2026-12-31T23:59:59Z");
	assert_time(c->recs[1].time_us, "2027-01-01T00:00:01Z");
	collect_free(c);

	/* Read in late December: December is this year. */
	o.ref_us = at("2026-12-31T23:59:59Z");
	c = run_text(DEC_LINE, &o);
	assert_time(c->recs[0].time_us, "2026-12-31T23:59:59Z");
	collect_free(c);

	/* Up to one day ahead of the reference (clock skew) stays this year. */
	o.ref_us = at("2026-12-31T00:00:00Z");
	c = run_text(DEC_LINE, &o);
	assert_time(c->recs[0].time_us, "2026-12-31T23:59:59Z");
	collect_free(c);
}

static void test_postfix__explicit_year_wins(void **state)
{
	struct ingest_options o = opts("year.log");
	struct collect *c;

	(void)state;
	o.year = 2024;
	o.ref_us = at("2027-01-01T10:00:00Z");
	c = run_text(DEC_LINE "Feb 29 12:00:00 mx1 postfix/smtp[1]: CCCCC3333: to=<a@b.test>, "
	                      "status=sent (ok)\n",
	             &o);
	assert_int_equal(c->nrecs, 2);
	assert_time(c->recs[0].time_us, "2024-12-31T23:59:59Z");
	assert_time(c->recs[1].time_us, "2024-02-29T12:00:00Z");
	collect_free(c);
}

static void test_postfix__zone_converts_local_times_to_utc(void **state)
{
	struct ingest_options o = opts(REAL_LOG);
	struct collect *c;

	(void)state;
	o.zone = "Asia/Tokyo";
	c = run_file(REAL_LOG, &o);
	assert_time(find(c, "sent", "user0@ok.test")->time_us, "2026-11-21T23:18:28Z");
	collect_free(c);

	/* An ISO time without offset is local too. */
	c = run_text("2026-11-22T08:18:28.5 mx1 postfix/smtp[1]: ABCDEF123: to=<a@b.test>, "
	             "status=sent (ok)\n",
	             &o);
	assert_time(c->recs[0].time_us, "2026-11-21T23:18:28.500000Z");
	collect_free(c);
}

static void test_postfix__local_time_skipped_by_dst_is_rejected(void **state)
{
	struct ingest_options o = opts("dst.log");
	struct collect *c;

	(void)state;
	o.zone = "America/New_York";
	o.ref_us = at("2026-03-20T00:00:00Z");
	c = run_text(
	        "Mar  8 02:30:00 mx1 postfix/smtp[1]: ABCDEF123: to=<a@b.test>, status=sent (ok)\n"
	        "Mar  8 03:30:00 mx1 postfix/smtp[1]: ABCDEF124: to=<a@b.test>, status=sent (ok)\n",
	        &o);
	assert_int_equal(c->nrejects, 1);
	assert_string_equal(c->rejects[0].where, "dst.log:1");
	assert_non_null(strstr(c->rejects[0].why, "does not exist"));
	assert_int_equal(c->nrecs, 1);
	assert_time(c->recs[0].time_us, "2026-03-08T07:30:00Z");
	collect_free(c);
}

/* A line dated after the reference time is from the year before, even
 * when its time does not exist in the reference year: DST in Europe starts
 * on 2027-03-28 but on 2026-03-29, so 02:30 on Mar 28 is a fine 2026 time. */
static void test_postfix__future_line_in_a_dst_gap_is_from_the_year_before(void **state)
{
	struct ingest_options o = opts("gap.log");
	struct collect *c;

	(void)state;
	o.zone = "Europe/Berlin";
	o.ref_us = at("2027-01-02T12:00:00Z");
	c = run_text(
	        "Mar 28 02:30:00 mx1 postfix/smtp[1]: ABCDEF123: to=<a@b.test>, status=sent (ok)\n",
	        &o);
	assert_int_equal(c->nrejects, 0);
	assert_int_equal(c->nrecs, 1);
	assert_time(c->recs[0].time_us, "2026-03-28T01:30:00Z");
	collect_free(c);
}

static void test_postfix__unknown_zone_is_an_error(void **state)
{
	struct ingest_options o = opts("zone.log");
	struct collect *c;
	FILE *f = fmemopen((void *)DEC_LINE, strlen(DEC_LINE), "rb");

	(void)state;
	o.zone = "Mars/Olympus_Mons";
	c = run_stream(f, &o, NULL, AK_EINVALID);
	assert_int_equal(c->nrecs, 0);
	fclose(f);
	collect_free(c);
}

static void test_postfix__queue_id_reused_after_removed(void **state)
{
	struct ingest_options o = opts("reuse.log");
	struct collect *c;

	(void)state;
	c = run_text(
	        "Nov 22 08:00:00 mx1 postfix/cleanup[1]: ABCDEF123: message-id=<first@x>\n"
	        "Nov 22 08:00:00 mx1 postfix/cleanup[1]: ABCDEF123: info: header "
	        "X-Akashi-Campaign: c1 "
	        "from localhost[127.0.0.1]; from=<s@x> to=<a@b.test> proto=ESMTP helo=<h>\n"
	        "Nov 22 08:00:00 mx1 postfix/qmgr[2]: ABCDEF123: from=<s@x>, size=10, nrcpt=1 "
	        "(queue active)\n"
	        "Nov 22 08:00:01 mx1 postfix/smtp[3]: ABCDEF123: to=<a@b.test>, status=sent (ok)\n"
	        "Nov 22 08:00:01 mx1 postfix/qmgr[2]: ABCDEF123: removed\n"
	        "Nov 22 09:00:00 mx1 postfix/qmgr[2]: ABCDEF123: from=<t@x>, size=20, nrcpt=1 "
	        "(queue active)\n"
	        "Nov 22 09:00:01 mx1 postfix/smtp[3]: ABCDEF123: to=<a@b.test>, status=sent (ok)\n"
	        /* Same queue id on another host: another message. */
	        "Nov 22 09:00:02 mx2 postfix/smtp[3]: ABCDEF123: to=<c@b.test>, status=sent (ok)\n",
	        &o);
	assert_int_equal(c->nrecs, 3);
	assert_string_equal(str(&c->recs[0], "message_id"), "first@x");
	assert_string_equal(str(&c->recs[0], "campaign"), "c1");
	assert_string_equal(str(&c->recs[1], "from"), "t@x");
	assert_int_equal(num(&c->recs[1], "size"), 20);
	assert_null(str(&c->recs[1], "message_id"));
	assert_null(str(&c->recs[1], "campaign"));
	assert_null(str(&c->recs[2], "from"));
	assert_string_equal(c->recs[2].source, "postfix:mx2");
	assert_string_not_equal(c->recs[0].event_id, c->recs[1].event_id);
	collect_free(c);
}

static void test_postfix__expired_skips_recipients_delivered_since(void **state)
{
	struct ingest_options o = opts("retry.log");
	struct collect *c;

	(void)state;
	c = run_text("Nov 22 08:00:00 mx1 postfix/smtp[3]: ABCDEF123: to=<a@b.test>, dsn=4.0.0, "
	             "status=deferred (try later)\n"
	             "Nov 22 08:00:00 mx1 postfix/smtp[3]: ABCDEF123: to=<B@b.test>, dsn=4.0.0, "
	             "status=deferred (try later)\n"
	             "Nov 22 09:00:00 mx1 postfix/smtp[3]: ABCDEF123: to=<a@b.test>, dsn=4.0.0, "
	             "status=deferred (try later)\n"
	             "Nov 22 09:00:00 mx1 postfix/smtp[3]: ABCDEF123: to=<b@b.test>, dsn=2.0.0, "
	             "status=sent (ok)\n"
	             "Nov 22 10:00:00 mx1 postfix/qmgr[2]: ABCDEF123: from=<s@x>, status=expired, "
	             "returned to sender\n"
	             "Nov 22 10:00:00 mx1 postfix/qmgr[2]: ABCDEF123: removed\n"
	             "Nov 22 11:00:00 mx1 postfix/qmgr[2]: ABCDEF123: from=<s@x>, status=expired, "
	             "returned to sender\n",
	             &o);
	/* B@b.test (deferred) and b@b.test (sent) are different recipients as
	 * logged; the lower-cased rcpt of the record is the same. */
	assert_int_equal(count_status(c, "deferred"), 3);
	assert_int_equal(count_status(c, "expired"), 2);
	find(c, "expired", "a@b.test");
	assert_string_equal(str(find(c, "expired", "b@b.test"), "from"), "s@x");
	assert_int_equal(count_skips(c, "expired message without"), 1);
	collect_free(c);
}

static void test_postfix__log_starting_mid_stream(void **state)
{
	struct ingest_options o = opts("tail.log");
	FILE *f = fopen(REAL_LOG, "rb");
	char *all = NULL, *tail;
	size_t len = 0, i;
	int line = 1;
	struct collect *c;

	(void)state;
	assert_non_null(f);
	all = malloc(1 << 20);
	assert_non_null(all);
	len = fread(all, 1, (1 << 20) - 1, f);
	fclose(f);
	all[len] = '\0';
	/* Start at line 20: the first messages' cleanup/qmgr lines are gone. */
	for (tail = all; line < 20; tail++)
		if (*tail == '\n')
			line++;
	c = run_text(tail, &o);
	assert_int_equal(c->nrejects, 0);
	for (i = 0; i < c->nrecs; i++) {
		const struct rec *r = &c->recs[i];

		if (strcmp(str(r, "queue_id"), "CE29EA729FC") == 0) {
			assert_null(str(r, "message_id"));
			assert_null(str(r, "campaign"));
			assert_string_equal(str(r, "from"),
			                    "news+1@sender.test"); /* qmgr: line 20 */
		}
	}
	assert_null(str(find(c, "sent", "other1@ok.test"), "message_id"));
	assert_string_equal(find(c, "sent", "other1@ok.test")->where, "tail.log:2");
	/* Messages that start within the tail are complete. */
	assert_non_null(str(find(c, "sent", "user6@ok.test"), "message_id"));
	free(all);
	collect_free(c);
}

static void test_postfix__rejects_garbage_with_line_numbers(void **state)
{
	static const char text[] =
	        "this is not syslog\n"
	        "Nov 22 08:00:00 mx1 postfix/smtp[3]: ABCDEF123: to=<a@b.test>, status=sent (ok)\n"
	        "Nov 22 08:00:00 mx1 postfix/smtp[3]: \xff\xfe bad bytes\n"
	        "Nov 22 08:00:00 mx1 postfix/smtp[3]: \xc0\xaf overlong\n"
	        "Nov 22 08:00:00 mx1 postfix/smtp[3]: a\0NUL\n"
	        "Nov 32 08:00:00 mx1 postfix/smtp[3]: ABCDEF123: to=<a@b.test>, status=sent (ok)\n"
	        "Nov 22 08:00:00\n"
	        "<999>1 x\n"
	        "2026-13-01T00:00:00Z mx1 postfix/smtp[3]: x\n"
	        "Nov 22 08:00:01 mx1 postfix/smtp[3]: ABCDEF124: to=<\xe6\x97\xa5@b.test>, "
	        "status=sent (ok)\n";
	struct ingest_options o = opts("bad.log");
	struct collect *c = run_mem(text, sizeof(text) - 1, &o, NULL);
	size_t i;
	static const char *const where[] = {"bad.log:1", "bad.log:3", "bad.log:4", "bad.log:5",
	                                    "bad.log:6", "bad.log:7", "bad.log:8", "bad.log:9"};

	(void)state;
	assert_int_equal(c->nrejects, 8);
	for (i = 0; i < 8; i++)
		assert_string_equal(c->rejects[i].where, where[i]);
	assert_string_equal(c->rejects[1].why, "invalid UTF-8");
	assert_string_equal(c->rejects[2].why, "invalid UTF-8");
	assert_string_equal(c->rejects[3].why, "NUL byte in line");
	assert_int_equal(c->nrecs, 2);
	assert_string_equal(str(&c->recs[1], "rcpt"), "\xe6\x97\xa5@b.test");
	collect_free(c);
}

static void test_postfix__over_long_line_rejected_and_reading_goes_on(void **state)
{
	struct ingest_options o = opts("long.log");
	struct collect *c;
	char *text = malloc(4096);
	size_t n = 0;

	(void)state;
	assert_non_null(text);
	n += (size_t)snprintf(text + n, 4096 - n,
	                      "Nov 22 08:00:00 mx1 postfix/smtp[3]: ABCDEF123: "
	                      "to=<a@b.test>, status=sent (");
	memset(text + n, 'x', 1000);
	n += 1000;
	n += (size_t)snprintf(text + n, 4096 - n,
	                      ")\nNov 22 08:00:01 mx1 postfix/smtp[3]: ABCDEF124: to=<c@b.test>, "
	                      "status=sent (ok)\n");
	o.max_line = 200;
	c = run_mem(text, n, &o, NULL);
	assert_int_equal(c->nrejects, 1);
	assert_string_equal(c->rejects[0].where, "long.log:1");
	assert_string_equal(c->rejects[0].why, "line longer than 200 bytes");
	assert_int_equal(c->nrecs, 1);
	assert_string_equal(c->recs[0].where, "long.log:2");
	free(text);
	collect_free(c);
}

static void test_postfix__evicts_oldest_queue_id_at_cap(void **state)
{
	struct ingest_options o = opts("cap.log");
	struct postfix_limits lim = {2, 0};
	static const char text[] =
	        "Nov 22 08:00:00 mx1 postfix/cleanup[1]: AAAAA1111: message-id=<a@x>\n"
	        "Nov 22 08:00:00 mx1 postfix/cleanup[1]: BBBBB2222: message-id=<b@x>\n"
	        "Nov 22 08:00:00 mx1 postfix/smtp[1]: AAAAA1111: to=<r@x>, status=deferred "
	        "(later)\n"
	        "Nov 22 08:00:00 mx1 postfix/cleanup[1]: CCCCC3333: message-id=<c@x>\n"
	        "Nov 22 08:00:01 mx1 postfix/smtp[1]: AAAAA1111: to=<r@x>, status=sent (ok)\n"
	        "Nov 22 08:00:01 mx1 postfix/smtp[1]: BBBBB2222: to=<r@x>, status=sent (ok)\n"
	        "Nov 22 08:00:01 mx1 postfix/smtp[1]: CCCCC3333: to=<r@x>, status=sent (ok)\n";
	struct collect *c = run_mem(text, sizeof(text) - 1, &o, &lim);

	(void)state;
	/* AAAAA1111 was used after BBBBB2222, so BBBBB2222 is the oldest. */
	assert_int_equal(count_skips(c, "forgotten"), 1);
	assert_non_null(strstr(c->skips[0].why, "mx1/BBBBB2222"));
	assert_string_equal(c->skips[0].where, "cap.log:4");
	assert_int_equal(c->nrecs, 4);
	assert_string_equal(str(&c->recs[1], "message_id"), "a@x");
	assert_null(str(&c->recs[2], "message_id"));
	assert_string_equal(str(&c->recs[3], "message_id"), "c@x");
	collect_free(c);
}

static void test_postfix__state_bytes_are_bounded(void **state)
{
	struct ingest_options o = opts("bytes.log");
	struct postfix_limits lim = {0, 600}; /* room for two blocks of 256 bytes */
	static const char text[] =
	        "Nov 22 08:00:00 mx1 postfix/cleanup[1]: AAAAA1111: message-id=<a@x>\n"
	        "Nov 22 08:00:00 mx1 postfix/cleanup[1]: BBBBB2222: message-id=<b@x>\n"
	        "Nov 22 08:00:00 mx1 postfix/cleanup[1]: CCCCC3333: message-id=<c@x>\n"
	        "Nov 22 08:00:01 mx1 postfix/smtp[1]: AAAAA1111: to=<r@x>, status=sent (ok)\n"
	        "Nov 22 08:00:01 mx1 postfix/smtp[1]: CCCCC3333: to=<r@x>, status=sent (ok)\n";
	struct collect *c = run_mem(text, sizeof(text) - 1, &o, &lim);

	(void)state;
	assert_int_equal(count_skips(c, "forgotten"), 1);
	assert_int_equal(c->nrecs, 2);
	assert_null(str(&c->recs[0], "message_id"));
	assert_string_equal(str(&c->recs[1], "message_id"), "c@x");
	collect_free(c);
}

static void test_postfix__header_value_ends_at_client_part(void **state)
{
	struct ingest_options o = opts("hdr.log");
	struct collect *c;

	(void)state;
	c = run_text(
	        "Nov 22 08:00:00 mx1 postfix/cleanup[1]: ABCDEF123: info: header "
	        "x-akashi-campaign: "
	        "Sale from Tokyo; 50% from localhost[127.0.0.1]; from=<s@x> to=<r@x> proto=ESMTP "
	        "helo=<h>\n"
	        "Nov 22 08:00:00 mx1 postfix/cleanup[1]: ABCDEF123: info: header Subject: hello "
	        "from "
	        "localhost[127.0.0.1]; from=<s@x> to=<r@x>\n"
	        "Nov 22 08:00:00 mx1 postfix/cleanup[1]: ABCDEF123: info: header X-Akashi-List:  "
	        "weekly   from local; from=<s@x>\n"
	        /* As Postfix 3.7 logged a header that imitates its own suffix. */
	        "Nov 22 08:35:09 mx1 postfix/cleanup[8515]: ABCDEF123: info: header "
	        "X-Akashi-Stream: "
	        "marketing from x[1]; from=<evil> from localhost[127.0.0.1]; from=<a@sender.test> "
	        "to=<b@ok.test> proto=ESMTP helo=<[127.0.0.1]>\n"
	        "Nov 22 08:00:01 mx1 postfix/smtp[1]: ABCDEF123: to=<r@x>, status=sent (ok)\n",
	        &o);
	assert_int_equal(c->nrecs, 1);
	assert_string_equal(str(&c->recs[0], "stream"), "marketing");
	assert_string_equal(str(&c->recs[0], "campaign"), "Sale from Tokyo; 50%");
	assert_string_equal(str(&c->recs[0], "list"), "weekly");
	assert_int_equal(count_skips(c, "does not record"), 1);
	collect_free(c);
}

static void test_postfix__null_sender_first_seen_in_qmgr_line(void **state)
{
	struct ingest_options o = opts("null.log");
	struct collect *c;

	(void)state;
	/* The first line of the queue id holds only empty text: no block of
	 * remembered text exists yet (found by the fuzzer). */
	c = run_text(
	        "Nov 22 08:00:00 mx1 postfix/qmgr[2]: ABCDEF123: from=<>, size=1, nrcpt=1 "
	        "(queue active)\n"
	        "Nov 22 08:00:01 mx1 postfix/smtp[3]: ABCDEF123: to=<a@b.test>, status=sent (ok)\n",
	        &o);
	assert_int_equal(c->nrecs, 1);
	assert_string_equal(str(&c->recs[0], "from"), "");
	assert_int_equal(num(&c->recs[0], "size"), 1);
	collect_free(c);
}

static void test_postfix__event_ids_stable_and_distinct(void **state)
{
	struct ingest_options o = opts(REAL_LOG);
	struct collect *a = run_file(REAL_LOG, &o), *b;
	size_t i, j;

	(void)state;
	o.zone = "Asia/Tokyo"; /* the id names the line, not the converted time */
	b = run_file(REAL_LOG, &o);
	assert_int_equal(a->nrecs, b->nrecs);
	for (i = 0; i < a->nrecs; i++) {
		assert_string_equal(a->recs[i].event_id, b->recs[i].event_id);
		for (j = i + 1; j < a->nrecs; j++)
			assert_string_not_equal(a->recs[i].event_id, a->recs[j].event_id);
	}
	collect_free(a);
	collect_free(b);
}

static void test_postfix__bodies_hold_no_floats(void **state)
{
	struct ingest_options o = opts(MULTI_LOG);
	struct collect *c = run_file(MULTI_LOG, &o);
	size_t i;

	(void)state;
	for (i = 0; i < c->nrecs; i++) {
		const char *key;
		json_t *v;

		json_object_foreach(c->recs[i].body, key, v)
		{
			assert_true(json_is_string(v) || json_is_integer(v));
			(void)key;
		}
	}
	collect_free(c);
}

static void test_postfix__source_option_overrides_host(void **state)
{
	struct ingest_options o = opts("src.log");
	struct collect *c;

	(void)state;
	o.source = "postfix:cluster";
	c = run_text("Nov 22 08:00:01 mx7 postfix/smtp[1]: ABCDEF123: to=<r@x>, status=sent (ok)\n",
	             &o);
	assert_string_equal(c->recs[0].source, "postfix:cluster");
	assert_string_equal(str(&c->recs[0], "host"), "mx7");
	collect_free(c);
}

static void test_postfix__sink_can_stop_the_adapter(void **state)
{
	struct ingest_options o = opts(REAL_LOG);
	struct collect *c = calloc(1, sizeof(*c));
	struct ingest_sink sink = {on_record, on_reject, on_skip, c};
	FILE *f = fopen(REAL_LOG, "rb");

	(void)state;
	assert_non_null(c);
	assert_non_null(f);
	c->stop_after = 3;
	assert_int_equal(ingest_postfix(f, &o, &sink), AK_EBUSY);
	assert_int_equal(c->nrecs, 3);
	fclose(f);
	collect_free(c);
}

static void test_postfix__statuses_not_recorded_are_skipped(void **state)
{
	struct ingest_options o = opts("verify.log");
	struct collect *c;

	(void)state;
	c = run_text(
	        "Nov 22 08:00:01 mx1 postfix/smtp[1]: ABCDEF123: to=<r@x>, relay=x[1.2.3.4]:25, "
	        "delay=0.1, dsn=2.1.5, status=deliverable (250 ok)\n"
	        "Nov 22 08:00:01 mx1 postfix/smtp[1]: ABCDEF123: to=<r@x>, relay=x[1.2.3.4]:25\n"
	        "Nov 22 08:00:01 mx1 postfix/smtp[1]: ABCDEF123: to=<r@x, status=sent (ok)\n"
	        "Nov 22 08:00:01 mx1 postfix/qmgr[1]: ABCDEF123: to=<r@x>, relay=none, "
	        "delay=3600, delays=3600/0/0/0, dsn=4.4.1, status=deferred (delivery "
	        "temporarily suspended)\n",
	        &o);
	assert_int_equal(c->nrejects, 0);
	assert_int_equal(c->nskips, 3);
	assert_int_equal(c->nrecs, 1);
	assert_int_equal(num(&c->recs[0], "delay_ms"), 3600000);
	collect_free(c);
}

static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postfix__counts_records_per_status_in_real_log),
        cmocka_unit_test(test_postfix__joins_qmgr_cleanup_smtp_by_queue_id),
        cmocka_unit_test(test_postfix__bounce_and_deferral_carry_reply_and_dsn),
        cmocka_unit_test(test_postfix__lowercases_rcpt_and_from),
        cmocka_unit_test(test_postfix__orig_to_of_virtual_alias),
        cmocka_unit_test(test_postfix__local_pipe_discard_agents_are_delivery_lines),
        cmocka_unit_test(test_postfix__quoted_local_part_cannot_forge_fields),
        cmocka_unit_test(test_postfix__expired_gives_one_record_per_deferred_recipient),
        cmocka_unit_test(test_postfix__skips_other_lines_and_counts_them),
        cmocka_unit_test(test_postfix__multi_instance_syslog_name),
        cmocka_unit_test(test_postfix__iso_prefix_with_offsets),
        cmocka_unit_test(test_postfix__rfc5424_prefix),
        cmocka_unit_test(test_postfix__rfc3164_with_pri_and_padded_day),
        cmocka_unit_test(test_postfix__year_inferred_across_new_year),
        cmocka_unit_test(test_postfix__explicit_year_wins),
        cmocka_unit_test(test_postfix__zone_converts_local_times_to_utc),
        cmocka_unit_test(test_postfix__local_time_skipped_by_dst_is_rejected),
        cmocka_unit_test(test_postfix__future_line_in_a_dst_gap_is_from_the_year_before),
        cmocka_unit_test(test_postfix__unknown_zone_is_an_error),
        cmocka_unit_test(test_postfix__queue_id_reused_after_removed),
        cmocka_unit_test(test_postfix__expired_skips_recipients_delivered_since),
        cmocka_unit_test(test_postfix__log_starting_mid_stream),
        cmocka_unit_test(test_postfix__rejects_garbage_with_line_numbers),
        cmocka_unit_test(test_postfix__over_long_line_rejected_and_reading_goes_on),
        cmocka_unit_test(test_postfix__evicts_oldest_queue_id_at_cap),
        cmocka_unit_test(test_postfix__state_bytes_are_bounded),
        cmocka_unit_test(test_postfix__header_value_ends_at_client_part),
        cmocka_unit_test(test_postfix__null_sender_first_seen_in_qmgr_line),
        cmocka_unit_test(test_postfix__event_ids_stable_and_distinct),
        cmocka_unit_test(test_postfix__bodies_hold_no_floats),
        cmocka_unit_test(test_postfix__source_option_overrides_host),
        cmocka_unit_test(test_postfix__sink_can_stop_the_adapter),
        cmocka_unit_test(test_postfix__statuses_not_recorded_are_skipped),
};

AK_UNIT_MAIN(tests)
