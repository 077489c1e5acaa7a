/*
 * tests/unit/test_report.c - the quarterly report on a hand-built quarter
 * with known counts in every section; the report resting on the audit's
 * record the second time; HTML escaping of hostile entry text; CSV
 * quoting, byte-order mark and formula defusing; the atomic file write.
 */
#include "tests/unit/unit.h"

#include "lib/error.h"
#include "reports/report.h"
#include "tests/unit/policy_fixture.h"

#include <sys/stat.h>
#include <unistd.h>

static struct fixture F;

static int setup(void **state)
{
	(void)state;
	return fixture_open(&F);
}

static int teardown(void **state)
{
	(void)state;
	fixture_close(&F);
	return 0;
}

/* json_object_get along a path of keys ("a.b.c"); array indexes as digits. */
static json_t *at(json_t *v, const char *path)
{
	char key[64];
	const char *p = path;

	while (v && *p) {
		size_t n = strcspn(p, ".");

		snprintf(key, sizeof(key), "%.*s", (int)n, p);
		if (json_is_array(v))
			v = json_array_get(v, (size_t)strtol(key, NULL, 10));
		else
			v = json_object_get(v, key);
		p += n + (p[n] == '.');
	}
	return v;
}

static long long I(json_t *doc, const char *path)
{
	json_t *v = at(doc, path);

	if (!json_is_integer(v))
		fail_msg("%s is not an integer", path);
	return (long long)json_integer_value(v);
}

static const char *S(json_t *doc, const char *path)
{
	json_t *v = at(doc, path);

	if (!json_is_string(v))
		fail_msg("%s is not a string", path);
	return json_string_value(v);
}

/* The element of array path whose key equals value. */
static json_t *find(json_t *doc, const char *path, const char *key, const char *value)
{
	size_t i;
	json_t *v;

	json_array_foreach(at(doc, path), i,
	                   v) if (json_is_string(json_object_get(v, key)) &&
	                          strcmp(json_string_value(json_object_get(v, key)), value) ==
	                                  0) return v;
	fail_msg("no %s=%s in %s", key, value, path);
	return NULL;
}

static json_t *build(const char *quarter, int record)
{
	struct report_request rq;
	json_t *doc = NULL;

	memset(&rq, 0, sizeof(rq));
	assert_int_equal(audit_quarter(quarter, "UTC", &rq.period), 0);
	rq.set = &F.set;
	rq.record = record;
	rq.command = "akashi report --quarter 2026Q3 --format json -o r.json";
	rq.made_by = "tester";
	if (report_build(F.st, &rq, &doc) != 0)
		fail_msg("report_build: %s", ak_error_last());
	return doc;
}

#define CONSENT(subj, list, action, method, time, extra)                                           \
	add(&F, "consent", time,                                                                   \
	    "{\"subject\":\"" subj "\",\"list\":\"" list "\",\"action\":\"" action                 \
	    "\",\"method\":\"" method "\"" extra "}")
#define PROOF ",\"proof\":{\"ip\":\"192.0.2.1\"}"
#define SEND(rcpt, list, stream, status, time, extra)                                              \
	add(&F, "send", time,                                                                      \
	    "{\"rcpt\":\"" rcpt "\",\"list\":\"" list "\",\"stream\":\"" stream                    \
	    "\",\"status\":\"" status "\"" extra "}")

/* The quarter every test below reports on; the counts each section must
 * show are worked out next to the entries that make them. */
static void scenario(void)
{
	const struct policy_control_spec *c;
	char body[256];
	int i;

	for (c = policy_controls; c->name; c++)
		add_policy(&F, c->name, c->name, 0,
		           strcmp(c->name, "send.mass_approval") == 0 ? "{\"threshold\":3}" : NULL,
		           NULL);
	/* consent: a before the quarter; b, c, d, e in it */
	CONSENT("a@ex.com", "news", "opt_in", "double_opt_in", "2026-06-01T00:00:00Z", PROOF);
	CONSENT("a@ex.com", "news", "confirm", "double_opt_in", "2026-06-01T00:10:00Z", PROOF);
	CONSENT("b@ex.com", "news", "opt_in", "single_opt_in", "2026-07-02T00:00:00Z", "");
	CONSENT("c@ex.com", "news", "opt_in", "form", "2026-07-03T00:00:00Z", PROOF);
	CONSENT("c@ex.com", "news", "opt_out", "one_click", "2026-07-10T00:00:00Z", "");
	CONSENT("d@ex.com", "ニュースレター", "opt_in", "double_opt_in", "2026-07-04T00:00:00Z",
	        PROOF);
	CONSENT("d@ex.com", "ニュースレター", "confirm", "double_opt_in", "2026-07-04T00:05:00Z",
	        PROOF);
	CONSENT("e@ex.com", "news", "opt_in", "business_card", "2026-07-05T00:00:00Z",
	        ",\"exemption\":\"business_relationship\"");
	/* sends, week 28 (Jul 6-12): 3 sent, 2 blocked */
	SEND("a@ex.com", "news", "marketing", "sent", "2026-07-06T00:00:00Z", "");
	SEND("b@ex.com", "news", "marketing", "sent", "2026-07-06T01:00:00Z", ""); /* no proof */
	SEND("c@ex.com", "news", "marketing", "sent", "2026-07-10T00:30:00Z",
	     ""); /* after opt-out */
	SEND("c@ex.com", "news", "marketing", "blocked", "2026-07-11T00:00:00Z",
	     ",\"gate\":{\"decision\":\"deny\",\"reasons\":[{\"policy\":\"unsub\",\"control\":"
	     "\"consent.unsubscribe_deadline\",\"detail\":\"opted out\",\"ref\":5}]}");
	SEND("c@ex.com", "news", "marketing", "blocked", "2026-07-12T00:00:00Z",
	     ",\"gate\":{\"decision\":\"deny\",\"reasons\":[\"legacy\"]}");
	/* week 29: 1 deferred */
	SEND("a@ex.com", "news", "marketing", "deferred", "2026-07-13T00:00:00Z", "");
	/* week 32: two campaigns of 4 recipients above a threshold of 3; "big"
	 * approved by pat before its first send, "big2" never */
	add(&F, "admin", "2026-08-01T00:00:00Z",
	    "{\"actor\":\"pat\",\"action\":\"approval\",\"campaign\":\"big\"}");
	for (i = 0; i < 4; i++) {
		snprintf(
		        body, sizeof(body),
		        "{\"rcpt\":\"t%d@ex.com\",\"stream\":\"transactional\",\"status\":\"sent\","
		        "\"campaign\":\"big\",\"owner\":\"olga\"}",
		        i);
		add(&F, "send", "2026-08-03T00:00:00Z", body);
		snprintf(
		        body, sizeof(body),
		        "{\"rcpt\":\"t%d@ex.com\",\"stream\":\"transactional\",\"status\":\"sent\","
		        "\"campaign\":\"big2\",\"owner\":\"olga\"}",
		        i);
		add(&F, "send", "2026-08-04T00:00:00Z", body);
	}
	/* admin: alice admin since January, reviewed by bob in May and in the
	 * quarter;
	 * carol admin since February, never reviewed, never changed her
	 * password */
	add(&F, "admin", "2026-01-01T00:00:00Z",
	    "{\"actor\":\"root\",\"action\":\"role_grant\",\"target\":\"alice\",\"role\":"
	    "\"admin\"}");
	add(&F, "admin", "2026-02-01T00:00:00Z",
	    "{\"actor\":\"root\",\"action\":\"role_grant\",\"target\":\"carol\",\"role\":"
	    "\"admin\"}");
	add(&F, "admin", "2026-07-01T00:00:00Z",
	    "{\"actor\":\"alice\",\"action\":\"password_change\",\"target\":\"alice\"}");
	add(&F, "admin", "2026-07-15T00:00:00Z",
	    "{\"actor\":\"carol\",\"action\":\"login_success\",\"ip\":\"192.0.2.7\"}");
	add(&F, "admin", "2026-05-01T00:00:00Z",
	    "{\"actor\":\"bob\",\"action\":\"access_review\",\"target\":\"alice\"}");
	add(&F, "admin", "2026-07-20T00:00:00Z",
	    "{\"actor\":\"bob\",\"action\":\"access_review\",\"target\":\"alice\"}");
	/* DMARC: 95 of 100 aligned in week 28, 100 of 100 in week 29 */
	add(&F, "dmarc", "2026-07-07T00:00:00Z",
	    "{\"report_id\":\"1\",\"begin\":\"2026-07-07T00:00:00Z\",\"end\":\"2026-07-07T23:59:"
	    "59Z\","
	    "\"policy\":{\"domain\":\"ex.com\",\"p\":\"reject\"},\"rows\":[{\"source_ip\":\"192.0."
	    "2.1\","
	    "\"count\":95,\"dkim\":\"pass\",\"spf\":\"fail\"},{\"source_ip\":\"203.0.113.9\","
	    "\"count\":5,\"dkim\":\"fail\",\"spf\":\"fail\"}]}");
	add(&F, "dmarc", "2026-07-14T00:00:00Z",
	    "{\"report_id\":\"2\",\"begin\":\"2026-07-14T00:00:00Z\",\"end\":\"2026-07-14T23:59:"
	    "59Z\","
	    "\"policy\":{\"domain\":\"ex.com\",\"p\":\"reject\"},\"rows\":[{\"source_ip\":\"192.0."
	    "2.1\","
	    "\"count\":100,\"dkim\":\"pass\",\"spf\":\"pass\"}]}");
	/* alerts: two of one rule in week 28, one of another in week 32 */
	add(&F, "alert", "2026-07-08T00:00:00Z",
	    "{\"rule\":\"login.bruteforce\",\"severity\":\"high\",\"summary\":\"ログイン失敗 12 "
	    "回\","
	    "\"refs\":[1]}");
	add(&F, "alert", "2026-07-09T00:00:00Z",
	    "{\"rule\":\"login.bruteforce\",\"severity\":\"medium\",\"summary\":\"8 failures\","
	    "\"refs\":[1]}");
	add(&F, "alert", "2026-08-05T00:00:00Z",
	    "{\"rule\":\"send.mass\",\"severity\":\"medium\",\"summary\":\"big "
	    "send\",\"refs\":[]}");
	/* outside the quarter: counted nowhere */
	SEND("a@ex.com", "news", "marketing", "sent", "2026-10-01T00:00:00Z", "");
	add(&F, "alert", "2026-06-30T23:59:59Z",
	    "{\"rule\":\"login.bruteforce\",\"severity\":\"high\",\"summary\":\"before\",\"refs\":["
	    "]}");
}

static void test_report__every_section_counts_the_quarter(void **state)
{
	json_t *doc, *p, *w;

	(void)state;
	scenario();
	doc = build("2026Q3", 1);
	assert_string_equal(S(doc, "format"), REPORT_FORMAT);
	assert_string_equal(S(doc, "period.quarter"), "2026Q3");
	assert_string_equal(S(doc, "previous_period.quarter"), "2026Q2");
	/* weeks: ISO weeks clipped to the quarter, W27 from Wed Jul 1 */
	assert_int_equal(json_array_size(at(doc, "weeks")), 14);
	assert_string_equal(S(doc, "weeks.0.week"), "2026-W27");
	assert_int_equal(I(doc, "weeks.0.days"), 5);
	assert_string_equal(S(doc, "weeks.13.week"), "2026-W40");
	assert_int_equal(I(doc, "weeks.13.days"), 3);
	/* consent */
	assert_int_equal(I(doc, "consent.opt_ins"), 4);
	assert_int_equal(I(doc, "consent.opt_ins_by_method.double_opt_in"), 1);
	assert_int_equal(I(doc, "consent.opt_ins_by_method.single_opt_in"), 1);
	assert_int_equal(I(doc, "consent.opt_ins_by_method.form"), 1);
	assert_int_equal(I(doc, "consent.confirmations"), 1);
	assert_int_equal(I(doc, "consent.opt_ins_without_proof.count"), 1);
	assert_int_equal(I(doc, "consent.opt_ins_without_proof.seqs.0"), 3);
	assert_int_equal(I(doc, "consent.exempt_opt_ins.business_relationship"), 1);
	assert_int_equal(I(doc, "consent.opt_outs"), 1);
	assert_int_equal(I(doc, "consent.opt_outs_by_method.one_click"), 1);
	/* c opted out at 00:00, was last sent to at 00:30: within the hour */
	assert_int_equal(I(doc, "consent.honor_time.opt_outs"), 1);
	assert_int_equal(I(doc, "consent.honor_time.max"), 1800);
	assert_int_equal(I(doc, "consent.honor_time.late"), 0);
	assert_int_equal(I(doc, "consent.honor_time.deadline_seconds"), 3600);
	assert_int_equal(I(doc, "consent.honor_time.histogram.1.count"), 1);
	/* sends */
	assert_int_equal(I(doc, "sends.total"), 14);
	assert_int_equal(I(doc, "sends.by_status.sent"), 11);
	assert_int_equal(I(doc, "sends.by_status.blocked"), 2);
	assert_int_equal(I(doc, "sends.by_status.deferred"), 1);
	assert_int_equal(I(doc, "sends.by_stream.transactional"), 8);
	w = at(doc, "sends.weeks.1");
	assert_string_equal(S(w, "week"), "2026-W28");
	assert_int_equal(I(w, "sent"), 3);
	assert_int_equal(I(w, "blocked"), 2);
	assert_int_equal(I(doc, "sends.weeks.2.deferred"), 1);
	assert_int_equal(I(doc, "sends.weeks.5.sent"), 8);
	assert_int_equal(I(doc, "sends.weeks.0.total"), 0);
	assert_int_equal(I(doc, "sends.blocked.total"), 2);
	p = find(doc, "sends.blocked.by_reason", "reason", "unsub");
	assert_int_equal(I(p, "count"), 1);
	assert_string_equal(S(p, "control"), "consent.unsubscribe_deadline");
	assert_int_equal(I(find(doc, "sends.blocked.by_reason", "reason", "legacy"), "count"), 1);
	assert_int_equal(I(doc, "sends.mass_campaigns.threshold"), 3);
	assert_int_equal(json_array_size(at(doc, "sends.mass_campaigns.campaigns")), 2);
	p = find(doc, "sends.mass_campaigns.campaigns", "campaign", "big");
	assert_int_equal(I(p, "recipients"), 4);
	assert_string_equal(S(p, "approval.actor"), "pat");
	assert_true(json_is_null(
	        at(find(doc, "sends.mass_campaigns.campaigns", "campaign", "big2"), "approval")));
	/* access */
	assert_int_equal(json_array_size(at(doc, "access.privileged_accounts")), 2);
	p = find(doc, "access.privileged_accounts", "account", "alice");
	assert_string_equal(S(p, "last_review.by"), "bob");
	assert_int_equal(I(p, "reviews_in_period"), 1);
	assert_false(json_is_true(at(p, "review_missing")));
	p = find(doc, "access.privileged_accounts", "account", "carol");
	assert_true(json_is_null(at(p, "last_review")));
	assert_true(json_is_true(at(p, "review_missing")));
	assert_int_equal(I(doc, "access.reviews.count"), 1);
	assert_string_equal(S(find(doc, "access.reviews_missing", "account", "carol"), "account"),
	                    "carol");
	p = find(doc, "access.passwords.accounts", "account", "alice");
	assert_int_equal(I(p, "age_days"), 92);
	p = find(doc, "access.passwords.accounts", "account", "carol");
	assert_int_equal(I(p, "age_days"), 242);
	assert_false(json_is_true(at(p, "changed")));
	assert_int_equal(I(doc, "access.passwords.histogram.3.count"), 1); /* 90-179 d */
	assert_int_equal(I(doc, "access.passwords.histogram.4.count"), 1); /* 180 d and more */
	/* DMARC */
	p = find(doc, "dmarc.domains", "domain", "ex.com");
	assert_int_equal(I(p, "messages"), 200);
	assert_int_equal(I(p, "aligned_pass"), 195);
	assert_string_equal(S(p, "pass_share"), "0.9750");
	assert_string_equal(S(p, "status"), "amber");
	assert_string_equal(S(p, "weeks.1.pass_share"), "0.9500");
	assert_string_equal(S(p, "weeks.2.pass_share"), "1.0000");
	assert_true(json_is_null(at(p, "weeks.3.pass_share")));
	assert_string_equal(S(p, "top_failing_sources.0.source_ip"), "203.0.113.9");
	assert_string_equal(S(doc, "dmarc.warn_below"), "0.98");
	/* alerts */
	assert_int_equal(I(doc, "alerts.total"), 3);
	p = find(doc, "alerts.by_rule", "rule", "login.bruteforce");
	assert_int_equal(I(p, "count"), 2);
	assert_string_equal(S(p, "severity"), "high");
	assert_int_equal(I(p, "weeks.1"), 2);
	assert_int_equal(I(find(doc, "alerts.by_rule", "rule", "send.mass"), "weeks.5"), 1);
	assert_int_equal(json_array_size(at(doc, "alerts.latest")), 3);
	/* summary: known populations and exceptions */
	p = find(doc, "summary.policies", "id", "consent.optin_proof");
	assert_int_equal(I(p, "population"), 3);
	assert_int_equal(I(p, "exceptions"), 2);
	assert_string_equal(S(p, "pass_rate"), "0.3333");
	assert_string_equal(S(p, "status"), "red");
	assert_int_equal(I(p, "previous.population"), 0);
	p = find(doc, "summary.policies", "id", "send.mass_approval");
	assert_int_equal(I(p, "population"), 2);
	assert_int_equal(I(p, "exceptions"), 1);
	p = find(doc, "summary.policies", "id", "dmarc.alignment");
	assert_string_equal(S(p, "status"), "amber"); /* only a warning */
	assert_string_equal(
	        S(find(doc, "summary.policies", "id", "consent.unsubscribe_deadline"), "status"),
	        "green");
	assert_string_equal(S(doc, "summary.previous_source"), "computed");
	/* exceptions: every row cites its entries and its finding */
	{
		size_t i;
		json_t *r;

		assert_int_equal(I(doc, "exceptions.total"), I(doc, "exceptions.listed"));
		assert_true(I(doc, "exceptions.total") >= 5);
		json_array_foreach(at(doc, "exceptions.rows"), i, r)
		{
			assert_true(json_array_size(at(r, "refs")) >= 1);
			assert_true(json_is_integer(at(r, "finding_seq")));
		}
		r = find(doc, "exceptions.rows", "who", "b@ex.com");
		assert_string_equal(S(r, "policy_id"), "consent.optin_proof");
		assert_int_equal(I(r, "refs.0"), 3);
	}
	/* attestation: the checkpoint and the audit that ran for it */
	assert_string_equal(S(doc, "attestation.checkpoint.origin"), "test.example/policy");
	assert_true(json_is_true(at(doc, "attestation.audit.ran")));
	assert_true(I(doc, "attestation.audit.findings_appended") >= 5);
	assert_true(I(doc, "attestation.checkpoint.size") > I(doc, "attestation.entries_counted"));
	assert_non_null(strstr(S(doc, "attestation.checkpoint.note"), "test.example/policy\n"));
	assert_non_null(strstr(S(doc, "attestation.public_key"), "BEGIN PUBLIC KEY"));
	assert_string_equal(S(doc, "attestation.policy_commit"), F.set.commit);
	assert_string_equal(S(doc, "made_by"), "tester");
	json_decref(doc);
}

/* The report judges admin actions as the audit does: a failed grant or
 * password change changed nothing, and an account enabled again after a
 * disable is not disabled. */
static void test_report__failed_actions_and_enabled_accounts(void **state)
{
	json_t *doc, *p;

	(void)state;
	scenario();
	add(&F, "admin", "2026-07-02T00:00:00Z",
	    "{\"actor\":\"root\",\"action\":\"role_grant\",\"target\":\"dave\",\"role\":"
	    "\"admin\",\"result\":\"failure\"}");
	add(&F, "admin", "2026-07-03T00:00:00Z",
	    "{\"actor\":\"carol\",\"action\":\"password_change\",\"target\":\"carol\","
	    "\"result\":\"failure\"}");
	add(&F, "admin", "2026-03-01T00:00:00Z",
	    "{\"actor\":\"root\",\"action\":\"account_disable\",\"target\":\"alice\"}");
	add(&F, "admin", "2026-03-02T00:00:00Z",
	    "{\"actor\":\"root\",\"action\":\"account_enable\",\"target\":\"alice\"}");
	doc = build("2026Q3", 1);
	/* alice and carol, not dave */
	assert_int_equal(json_array_size(at(doc, "access.privileged_accounts")), 2);
	p = find(doc, "access.passwords.accounts", "account", "carol");
	assert_false(json_is_true(at(p, "changed")));
	assert_int_equal(I(p, "age_days"), 242);
	p = find(doc, "access.privileged_accounts", "account", "alice");
	assert_non_null(p);
	assert_int_equal(I(p, "reviews_in_period"), 1);
	json_decref(doc);
}

static void test_report__second_report_rests_on_the_recorded_audit(void **state)
{
	json_t *a, *b;
	const char *k;
	json_t *v;
	int64_t size;

	(void)state;
	scenario();
	a = build("2026Q3", 1);
	assert_int_equal(evidence_size(F.st, &size), 0);
	b = build("2026Q3", 1);
	/* nothing new was appended but the checkpoint of the first build */
	assert_true(json_is_false(at(b, "attestation.audit.ran")));
	assert_string_equal(S(b, "attestation.audit.source"), "recorded");
	assert_int_equal(I(b, "attestation.audit.findings_appended"), 0);
	assert_int_equal(I(b, "attestation.audit.system_seq"),
	                 I(a, "attestation.audit.system_seq"));
	/* the same report, but for when and how it was made */
	json_object_foreach(a, k, v)
	{
		if (strcmp(k, "attestation") && strcmp(k, "made"))
			assert_true(json_equal(v, json_object_get(b, k)));
	}
	json_decref(b);
	/* a send of the quarter after the audit: the audit runs again */
	SEND("z@ex.com", "news", "marketing", "sent", "2026-09-01T00:00:00Z", "");
	b = build("2026Q3", 1);
	assert_true(json_is_true(at(b, "attestation.audit.ran")));
	assert_int_equal(I(b, "attestation.audit.findings_appended"), 1);
	assert_int_equal(I(b, "exceptions.total"), I(a, "exceptions.total") + 1);
	json_decref(a);
	json_decref(b);
}

static void test_report__previous_quarter_from_its_record(void **state)
{
	json_t *doc, *p;

	(void)state;
	scenario();
	/* Q2 had one marketing send without consent */
	SEND("q2@ex.com", "news", "marketing", "sent", "2026-05-01T00:00:00Z", "");
	json_decref(build("2026Q2", 1));
	doc = build("2026Q3", 1);
	assert_string_equal(S(doc, "summary.previous_source"), "recorded");
	p = find(doc, "summary.policies", "id", "consent.optin_proof");
	assert_int_equal(I(p, "previous.population"), 1);
	assert_int_equal(I(p, "previous.exceptions"), 1);
	assert_string_equal(S(p, "previous.pass_rate"), "0.0000");
	assert_string_equal(S(p, "change.pass_rate_points"), "+33.33");
	assert_int_equal(I(p, "change.exceptions"), 1);
	json_decref(doc);
}

static void test_report__custom_range_and_previous_range(void **state)
{
	struct audit_period p = {0}, prev;

	(void)state;
	p.from_us = T("2026-07-10T00:00:00Z");
	p.to_us = T("2026-07-20T00:00:00Z");
	assert_int_equal(report_previous_period(&p, "UTC", &prev), 0);
	assert_int_equal(prev.to_us, p.from_us);
	assert_int_equal(prev.from_us, T("2026-06-30T00:00:00Z"));
	assert_int_equal(audit_quarter("2027Q1", "UTC", &p), 0);
	assert_int_equal(report_previous_period(&p, "UTC", &prev), 0);
	assert_string_equal(prev.label, "2026Q4");
	assert_int_equal(prev.from_us, T("2026-10-01T00:00:00Z"));
}

static void test_report__weeks_in_a_time_zone(void **state)
{
	struct report_request rq;
	json_t *doc = NULL;

	(void)state;
	add_policy(&F, "optin", "consent.optin_proof", 0, NULL, NULL);
	/* Monday Jul 6 00:30 in Tokyo is still Sunday Jul 5 in UTC */
	SEND("a@ex.com", "news", "marketing", "sent", "2026-07-05T15:30:00Z", "");
	memset(&rq, 0, sizeof(rq));
	assert_int_equal(audit_quarter("2026Q3", "Asia/Tokyo", &rq.period), 0);
	rq.zone = "Asia/Tokyo";
	rq.set = &F.set;
	rq.record = 1;
	assert_int_equal(report_build(F.st, &rq, &doc), 0);
	assert_string_equal(S(doc, "period.zone"), "Asia/Tokyo");
	assert_string_equal(S(doc, "period.from"), "2026-06-30T15:00:00Z");
	assert_string_equal(S(doc, "weeks.1.from"), "2026-07-05T15:00:00Z");
	assert_int_equal(I(doc, "sends.weeks.1.sent"), 1);
	json_decref(doc);
}

static void test_report__html_escapes_hostile_entry_text(void **state)
{
	struct ak_buf html = AK_BUF_INIT(0);
	json_t *doc;

	(void)state;
	add_policy(&F, "optin", "consent.optin_proof", 0, NULL, NULL);
	/* a list name, an address, an alert that try to leave their context */
	SEND("x@ex.com", "</style><script>alert(1)</script>", "marketing", "sent",
	     "2026-07-06T00:00:00Z", "");
	add(&F, "alert", "2026-07-08T00:00:00Z",
	    "{\"rule\":\"r\\\"><img src=x onerror=alert(2)>\",\"severity\":\"high\",\"summary\":"
	    "\"<script>alert(3)</script> ' \\\" &amp;\",\"refs\":[]}");
	add(&F, "consent", "2026-07-02T00:00:00Z",
	    "{\"subject\":\"y@ex.com\",\"list\":\"l\",\"action\":\"opt_in\",\"method\":"
	    "\"<svg onload=alert(4)>\"}");
	doc = build("2026Q3", 1);
	assert_int_equal(report_render_html(doc, &html), 0);
	assert_null(strstr(html.data, "<script"));
	assert_null(strstr(html.data, "<img"));
	assert_null(strstr(html.data, "<svg onload"));
	assert_null(strstr(html.data, "</style><"));
	assert_non_null(strstr(html.data, "&lt;/style&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(html.data, "r&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
	assert_non_null(strstr(html.data, "&#39; &quot; &amp;amp;"));
	/* the one style element is ours, and nothing is fetched */
	assert_non_null(strstr(html.data, "<style>"));
	assert_null(strstr(strstr(html.data, "<style>") + 1, "<style"));
	assert_null(strstr(html.data, "http://"));
	assert_null(strstr(html.data, "https://"));
	assert_non_null(strstr(html.data, "Content-Security-Policy"));
	ak_buf_free(&html);
	json_decref(doc);
}

static void test_report__html_escape_function(void **state)
{
	struct ak_buf b = AK_BUF_INIT(0);

	(void)state;
	assert_int_equal(report_html_escape(&b, "<a href='x'>\"&\"</a>\x01\tニュース"), 0);
	assert_string_equal(b.data, "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;"
	                            "\xEF\xBF\xBD\tニュース");
	ak_buf_free(&b);
}

static void test_report__html_renders_every_section_in_japanese_too(void **state)
{
	struct ak_buf html = AK_BUF_INIT(0);
	json_t *doc;

	(void)state;
	scenario();
	doc = build("2026Q3", 1);
	assert_int_equal(report_render_html(doc, &html), 0);
	assert_true(strncmp(html.data, "<!DOCTYPE html>", 15) == 0);
	assert_non_null(strstr(html.data, "<meta charset=\"utf-8\">"));
	assert_non_null(strstr(html.data, "@page{size:A4"));
	assert_non_null(strstr(html.data, "break-before:page"));
	assert_non_null(strstr(html.data, "\"Noto Sans CJK JP\""));
	assert_non_null(strstr(html.data, "ログイン失敗 12 回"));
	assert_non_null(strstr(html.data, "id=\"summary\""));
	assert_non_null(strstr(html.data, "id=\"consent\""));
	assert_non_null(strstr(html.data, "id=\"sends\""));
	assert_non_null(strstr(html.data, "id=\"access\""));
	assert_non_null(strstr(html.data, "id=\"dmarc\""));
	assert_non_null(strstr(html.data, "id=\"alerts\""));
	assert_non_null(strstr(html.data, "id=\"exceptions\""));
	assert_non_null(strstr(html.data, "id=\"attestation\""));
	assert_non_null(strstr(html.data, "deadline 1 h"));
	assert_non_null(strstr(html.data, "<svg"));
	assert_null(strstr(html.data, "<script"));
	ak_buf_free(&html);
	json_decref(doc);
}

static void test_report__csv_quotes_defuses_and_starts_with_a_bom(void **state)
{
	struct ak_buf csv = AK_BUF_INIT(0);
	json_t *doc = json_pack(
	        "{s:s,s:{s:[{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[i,i],s:i},"
	        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[],s:n}]}}",
	        "format", REPORT_FORMAT, "exceptions", "rows", "policy_id", "p1", "control",
	        "consent.optin_proof", "severity", "high", "what", "subject", "who",
	        "=HYPERLINK(\"http://x\",\"y\")", "time", "2026-07-01T00:00:00Z", "detail",
	        "list 'ニュースレター', with \"quotes\"\nand a line", "refs", 12, 57, "finding_seq",
	        99, "policy_id", "+p2", "control", "-c", "severity", "@sev", "what", "\tw", "who",
	        "\rwho", "time", "t", "detail", "plain", "refs", "finding_seq");
	const char *want =
	        "\xEF\xBB\xBF"
	        "policy_id,control,severity,subject_type,subject,time,detail,evidence_seqs,finding_"
	        "seq\r\n"
	        "p1,consent.optin_proof,high,subject,\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\","
	        "2026-07-01T00:00:00Z,\"list 'ニュースレター', with \"\"quotes\"\"\nand a "
	        "line\",12 57,99\r\n"
	        "'+p2,'-c,'@sev,'\tw,\"'\rwho\",t,plain,,\r\n";

	(void)state;
	assert_non_null(doc);
	assert_int_equal(report_render_csv(doc, &csv), 0);
	assert_string_equal(csv.data, want);
	ak_buf_free(&csv);
	json_decref(doc);
}

static void test_report__renderers_refuse_other_documents(void **state)
{
	struct ak_buf out = AK_BUF_INIT(0);
	json_t *doc = json_pack("{s:s}", "format", "something-else");

	(void)state;
	assert_int_equal(report_render_html(doc, &out), AK_EINVALID);
	assert_int_equal(report_render_csv(doc, &out), AK_EINVALID);
	ak_buf_free(&out);
	json_decref(doc);
}

static void test_report__file_written_whole_with_its_digest(void **state)
{
	char path[300], tmpl[] = "/tmp/akashi-report-XXXXXX";
	unsigned char d[32];
	static const unsigned char abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
	                                      0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
	                                      0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
	                                      0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	char buf[16] = "";
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	snprintf(path, sizeof(path), "%s/r.html", tmpl);
	assert_int_equal(report_write_file(path, "old", 3, NULL), 0);
	assert_int_equal(report_write_file(path, "abc", 3, d), 0);
	assert_memory_equal(d, abc, 32);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, sizeof(buf) - 1, f), 3);
	fclose(f);
	assert_string_equal(buf, "abc");
	/* no temporary file left behind */
	snprintf(buf, sizeof(buf), "%s", "");
	{
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 1", tmpl);
		assert_int_equal(system(cmd), 0);
	}
	/* a directory that does not exist: an error, nothing written */
	snprintf(path, sizeof(path), "%s/no/such/r.html", tmpl);
	assert_int_equal(report_write_file(path, "abc", 3, NULL) < 0, 1);
	unlink(path);
	snprintf(path, sizeof(path), "rm -rf '%s'", tmpl);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_report__every_section_counts_the_quarter,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_report__failed_actions_and_enabled_accounts,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_report__second_report_rests_on_the_recorded_audit, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_report__previous_quarter_from_its_record,
	                                        setup, teardown),
	        cmocka_unit_test(test_report__custom_range_and_previous_range),
	        cmocka_unit_test_setup_teardown(test_report__weeks_in_a_time_zone, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_report__html_escapes_hostile_entry_text, setup,
	                                        teardown),
	        cmocka_unit_test(test_report__html_escape_function),
	        cmocka_unit_test_setup_teardown(
	                test_report__html_renders_every_section_in_japanese_too, setup, teardown),
	        cmocka_unit_test(test_report__csv_quotes_defuses_and_starts_with_a_bom),
	        cmocka_unit_test(test_report__renderers_refuse_other_documents),
	        cmocka_unit_test(test_report__file_written_whole_with_its_digest),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
