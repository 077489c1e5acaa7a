/*
 * tests/unit/test_audit.c - every control of the audit on hand-built
 * scenarios with known outcomes, each at its boundaries: exactly at a
 * deadline and one second after, a review by the account itself, an
 * opt-out then an opt-in again, time zones, a send with no consent at all.
 */
#include "tests/unit/unit.h"

#include "lib/error.h"
#include "policies/audit.h"
#include "tests/unit/policy_fixture.h"

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

static struct audit_result *run_quarter(const char *q)
{
	struct audit_period per;
	struct audit_result *r = NULL;

	assert_int_equal(audit_quarter(q, "UTC", &per), 0);
	assert_int_equal(audit_run(F.st, &F.set, &per, &r), 0);
	return r;
}

static const struct audit_policy_result *pol(const struct audit_result *r, const char *id)
{
	size_t i;

	for (i = 0; i < r->npolicies; i++)
		if (strcmp(r->policies[i].policy->id, id) == 0)
			return &r->policies[i];
	fail_msg("no result for %s", id);
	return NULL;
}

/* The exception about who whose detail contains text, or NULL. */
static const struct audit_exception *exc(const struct audit_policy_result *pr, const char *who,
					 const char *text)
{
	size_t i;

	for (i = 0; i < pr->nexceptions; i++)
		if (strcmp(pr->exceptions[i].who, who) == 0 &&
		    (text == NULL || strstr(pr->exceptions[i].detail, text)))
			return &pr->exceptions[i];
	return NULL;
}

#define SEND(rcpt, list, stream, time)                                                            \
	add(&F, "send", time,                                                                     \
	    "{\"rcpt\":\"" rcpt "\",\"list\":\"" list "\",\"stream\":\"" stream                     \
	    "\",\"status\":\"sent\",\"campaign\":\"c1\"}")
#define CONSENT(subj, list, action, method, time, extra)                                          \
	add(&F, "consent", time,                                                                  \
	    "{\"subject\":\"" subj "\",\"list\":\"" list "\",\"action\":\"" action                  \
	    "\",\"method\":\"" method "\"" extra "}")
#define PROOF ",\"proof\":{\"ip\":\"192.0.2.1\"}"

static void test_audit__optin_proof_boundaries(void **state)
{
	struct audit_result *r;
	const struct audit_policy_result *pr;
	const struct audit_exception *e;
	int64_t s_none, s_conf, s_unconf, s_noproof, s_atsame, s_after, s_reoptin, s_optout,
		in_unconf;

	(void)state;
	add_policy(&F, "optin", "consent.optin_proof", 1, NULL, NULL);
	/* a: no consent at all */
	s_none = SEND("nobody@example.com", "news", "marketing", "2026-07-10T00:00:00Z");
	/* b: double opt-in confirmed before the send */
	CONSENT("conf@example.com", "news", "opt_in", "double_opt_in", "2026-07-01T00:00:00Z", PROOF);
	CONSENT("conf@example.com", "news", "confirm", "double_opt_in", "2026-07-01T00:10:00Z", PROOF);
	s_conf = SEND("conf@example.com", "news", "marketing", "2026-07-02T00:00:00Z");
	/* c: double opt-in never confirmed */
	in_unconf = CONSENT("unconf@example.com", "news", "opt_in", "double_opt_in",
			    "2026-07-01T00:00:00Z", PROOF);
	s_unconf = SEND("unconf@example.com", "news", "marketing", "2026-07-02T00:00:00Z");
	/* d: opt-in without proof */
	CONSENT("noproof@example.com", "news", "opt_in", "form", "2026-07-01T00:00:00Z", "");
	s_noproof = SEND("noproof@example.com", "news", "marketing", "2026-07-02T00:00:00Z");
	/* e: opt-in at the very second of the send counts; f: one second after does not */
	CONSENT("same@example.com", "news", "opt_in", "form", "2026-07-05T12:00:00Z", PROOF);
	s_atsame = SEND("same@example.com", "news", "marketing", "2026-07-05T12:00:00Z");
	CONSENT("late@example.com", "news", "opt_in", "form", "2026-07-05T12:00:01Z", PROOF);
	s_after = SEND("late@example.com", "news", "marketing", "2026-07-05T12:00:00Z");
	/* g: opt-in, opt-out, opt-in again, send: fine; opt-in, opt-out, send: not */
	CONSENT("back@example.com", "news", "opt_in", "form", "2026-07-01T00:00:00Z", PROOF);
	CONSENT("back@example.com", "news", "opt_out", "one_click", "2026-07-02T00:00:00Z", "");
	CONSENT("back@example.com", "news", "opt_in", "form", "2026-07-03T00:00:00Z", PROOF);
	s_reoptin = SEND("back@example.com", "news", "marketing", "2026-07-04T00:00:00Z");
	CONSENT("gone@example.com", "news", "opt_in", "form", "2026-07-01T00:00:00Z", PROOF);
	CONSENT("gone@example.com", "news", "opt_out", "one_click", "2026-07-02T00:00:00Z", "");
	s_optout = SEND("gone@example.com", "news", "marketing", "2026-07-04T00:00:00Z");
	/* h: a flagged exemption stands instead of an opt-in */
	CONSENT("client@example.com", "news", "opt_in", "business_card", "2026-07-01T00:00:00Z",
		",\"exemption\":\"business_relationship\"");
	SEND("client@example.com", "news", "marketing", "2026-07-02T00:00:00Z");
	/* i: transactional mail needs no consent; j: unknown stream is not judged */
	SEND("receipt@example.com", "news", "transactional", "2026-07-02T00:00:00Z");
	add(&F, "send", "2026-07-02T00:00:00Z", "{\"rcpt\":\"log@example.com\",\"status\":\"sent\"}");
	/* outside the quarter: not in the population */
	SEND("nobody@example.com", "news", "marketing", "2026-10-01T00:00:00Z");
	/* a deferred attempt is not a send */
	add(&F, "send", "2026-07-02T00:00:00Z",
	    "{\"rcpt\":\"nobody@example.com\",\"list\":\"news\",\"stream\":\"marketing\","
	    "\"status\":\"deferred\"}");

	r = run_quarter("2026Q3");
	pr = pol(r, "optin");
	assert_int_equal(pr->population, 9);
	assert_int_equal(pr->not_assessed, 1);
	assert_int_equal(pr->nexceptions, 5);
	e = exc(pr, "nobody@example.com", "no opt-in before it");
	assert_non_null(e);
	assert_int_equal(e->nrefs, 1);
	assert_int_equal(e->refs[0], s_none);
	assert_null(exc(pr, "conf@example.com", NULL));
	e = exc(pr, "unconf@example.com", "not confirmed");
	assert_non_null(e);
	assert_int_equal(e->refs[0], in_unconf);
	assert_int_equal(e->refs[1], s_unconf);
	assert_non_null(exc(pr, "noproof@example.com", "has no proof"));
	assert_null(exc(pr, "same@example.com", NULL));
	assert_non_null(exc(pr, "late@example.com", "no opt-in before it"));
	assert_null(exc(pr, "back@example.com", NULL));
	assert_non_null(exc(pr, "gone@example.com", "after the opt-out"));
	assert_null(exc(pr, "client@example.com", NULL));
	(void)s_conf;
	(void)s_noproof;
	(void)s_atsame;
	(void)s_after;
	(void)s_reoptin;
	(void)s_optout;
	audit_result_free(r);
}

/* Many sends, appended in an order other than their times: every one is
 * judged against its own pair (the audit looks pairs up a few sends
 * ahead), and the findings come out in time order. */
static void test_audit__many_sends_out_of_order(void **state)
{
	struct audit_result *r;
	const struct audit_policy_result *pr;
	char subj[64], t[32], body[256];
	int i, k;

	(void)state;
	add_policy(&F, "optin", "consent.optin_proof", 1, NULL, NULL);
	for (i = 0; i < 50; i++) {
		if (i % 3 == 0)
			continue; /* no consent for every third subject */
		snprintf(body, sizeof(body),
			 "{\"subject\":\"s%02d@example.com\",\"list\":\"news\",\"action\":\"opt_in\","
			 "\"method\":\"form\",\"proof\":{\"ip\":\"192.0.2.1\"}}",
			 i);
		add(&F, "consent", "2026-06-01T00:00:00Z", body);
	}
	/* 500 sends, latest first: 10 to each subject */
	for (k = 499; k >= 0; k--) {
		i = k % 50;
		snprintf(subj, sizeof(subj), "s%02d@example.com", i);
		snprintf(t, sizeof(t), "2026-07-%02dT%02d:%02d:00Z", 1 + k / 24, k % 24, i);
		snprintf(body, sizeof(body),
			 "{\"rcpt\":\"%s\",\"list\":\"news\",\"stream\":\"marketing\","
			 "\"status\":\"sent\",\"campaign\":\"c%d\"}",
			 subj, k / 100);
		add(&F, "send", t, body);
	}
	r = run_quarter("2026Q3");
	pr = pol(r, "optin");
	assert_int_equal(pr->population, 500);
	assert_int_equal(pr->nexceptions, 17 * 10);
	assert_int_equal(pr->affected, 17 * 10);
	for (k = 0; k < (int)pr->nexceptions; k++) {
		int n = 0;

		assert_int_equal(sscanf(pr->exceptions[k].who, "s%d@", &n), 1);
		assert_int_equal(n % 3, 0);
		if (k > 0)
			assert_true(pr->exceptions[k - 1].time_us <= pr->exceptions[k].time_us);
	}
	audit_result_free(r);
}

static void test_audit__unsubscribe_deadline_per_profile(void **state)
{
	struct audit_result *r;
	const struct audit_policy_result *jp, *gm, *cs;
	json_t *h;

	(void)state;
	add_policy(&F, "jp", "consent.unsubscribe_deadline", 1, "{\"profiles\":[\"jp\"]}", NULL);
	add_policy(&F, "gmail", "consent.unsubscribe_deadline", 1, "{\"profiles\":[\"gmail\"]}",
		   NULL);
	add_policy(&F, "canspam", "consent.unsubscribe_deadline", 1,
		   "{\"profiles\":[\"can-spam\"],\"timezone\":\"UTC\"}", NULL);
	/* opt-out Friday 2026-07-03 10:00 UTC */
	CONSENT("a@example.com", "news", "opt_in", "form", "2026-06-01T00:00:00Z", PROOF);
	CONSENT("a@example.com", "news", "opt_out", "one_click", "2026-07-03T10:00:00Z", "");
	SEND("a@example.com", "news", "marketing", "2026-07-03T11:00:00Z");   /* jp: exactly at 1 h */
	SEND("a@example.com", "news", "marketing", "2026-07-03T11:00:01Z");   /* jp: one second after */
	SEND("a@example.com", "news", "marketing", "2026-07-05T10:00:00Z");   /* gmail: exactly 2 d */
	SEND("a@example.com", "news", "marketing", "2026-07-05T10:00:01Z");   /* gmail: 2 d + 1 s */
	/* 10 business days after Fri Jul 3 10:00 is Fri Jul 17 10:00 */
	SEND("a@example.com", "news", "marketing", "2026-07-17T10:00:00Z");
	SEND("a@example.com", "news", "marketing", "2026-07-17T10:00:01Z");
	/* transactional mail after an opt-out is allowed */
	SEND("a@example.com", "news", "transactional", "2026-07-20T00:00:00Z");
	r = run_quarter("2026Q3");
	jp = pol(r, "jp");
	gm = pol(r, "gmail");
	cs = pol(r, "canspam");
	assert_int_equal(jp->population, 1);
	assert_int_equal(jp->nexceptions, 5);
	assert_int_equal(gm->nexceptions, 3);
	assert_int_equal(cs->nexceptions, 1);
	assert_non_null(exc(cs, "a@example.com", "deadline 2026-07-17T10:00:00Z"));
	/* honour time: the last marketing send after the opt-out, 14 days and 1 s */
	h = json_object_get(jp->figures, "honor_time_seconds");
	assert_non_null(h);
	assert_int_equal(json_integer_value(json_object_get(h, "max")), 14 * 86400 + 1);
	/* the one opt-out was honoured late, 14 days after: in the (10 d, 30 d] bin */
	assert_int_equal(json_integer_value(json_object_get(h, "late")), 1);
	assert_int_equal(json_integer_value(json_object_get(h, "deadline_seconds")), 3600);
	assert_int_equal(json_array_size(json_object_get(h, "histogram")), 7);
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(h, "histogram"), 5), "count")),
			 1);
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(h, "histogram"), 0), "count")),
			 0);
	audit_result_free(r);
}

static void test_audit__access_review_gaps_and_self_review(void **state)
{
	struct audit_result *r;
	const struct audit_policy_result *pr;

	(void)state;
	add_policy(&F, "review", "access.review", 0, NULL, NULL);
	/* alice: admin since June, reviewed by bob on Jul 15 and Oct 1: never
	 * more than 90 days without review */
	add(&F, "admin", "2026-06-01T00:00:00Z",
	    "{\"actor\":\"root\",\"action\":\"role_grant\",\"target\":\"alice\",\"role\":\"admin\"}");
	add(&F, "admin", "2026-07-15T00:00:00Z",
	    "{\"actor\":\"bob\",\"action\":\"access_review\",\"target\":\"alice\"}");
	/* carol: admin since Jan, last reviewed by bob Mar 1: the 90 days ran out
	 * on May 30, inside no review until the end of the quarter */
	add(&F, "admin", "2026-01-01T00:00:00Z",
	    "{\"actor\":\"root\",\"action\":\"role_grant\",\"target\":\"carol\",\"role\":\"admin\"}");
	add(&F, "admin", "2026-06-15T00:00:00Z",
	    "{\"actor\":\"bob\",\"action\":\"access_review\",\"target\":\"carol\"}");
	/* dave: reviewed only by himself */
	add(&F, "admin", "2026-05-01T00:00:00Z",
	    "{\"actor\":\"root\",\"action\":\"role_grant\",\"target\":\"dave\",\"role\":\"admin\"}");
	add(&F, "admin", "2026-07-20T00:00:00Z",
	    "{\"actor\":\"dave\",\"action\":\"access_review\",\"target\":\"dave\"}");
	/* erin: admin revoked before the quarter: not in the population */
	add(&F, "admin", "2026-01-01T00:00:00Z",
	    "{\"actor\":\"root\",\"action\":\"role_grant\",\"target\":\"erin\",\"role\":\"admin\"}");
	add(&F, "admin", "2026-03-01T00:00:00Z",
	    "{\"actor\":\"root\",\"action\":\"role_revoke\",\"target\":\"erin\",\"role\":\"admin\"}");
	/* frank: a role that is not privileged */
	add(&F, "admin", "2026-01-01T00:00:00Z",
	    "{\"actor\":\"root\",\"action\":\"role_grant\",\"target\":\"frank\",\"role\":\"viewer\"}");
	r = run_quarter("2026Q3");
	pr = pol(r, "review");
	assert_int_equal(pr->population, 3);
	assert_null(exc(pr, "alice", NULL));
	assert_non_null(exc(pr, "carol", "not reviewed by anyone else from 2026-06-15"));
	assert_non_null(exc(pr, "dave", "reviewed by itself"));
	assert_non_null(exc(pr, "dave", "not reviewed by anyone else"));
	assert_null(exc(pr, "erin", NULL));
	assert_null(exc(pr, "frank", NULL));
	audit_result_free(r);
}

static void test_audit__password_rotation_profiles(void **state)
{
	struct audit_result *r;
	const struct audit_policy_result *pci, *nist;

	(void)state;
	add_policy(&F, "pci", "password.rotation", 0, NULL, NULL);
	add_policy(&F, "nist", "password.rotation", 0, "{\"profile\":\"nist-800-63b-4\"}", NULL);
	/* old: created Jan 1, never changed: older than 90 days all quarter */
	add(&F, "admin", "2026-01-01T00:00:00Z",
	    "{\"actor\":\"root\",\"action\":\"account_create\",\"target\":\"old\"}");
	add(&F, "admin", "2026-07-10T00:00:00Z", "{\"actor\":\"old\",\"action\":\"login_success\"}");
	/* fresh: changed Jul 1 and Sep 20: never 90 days */
	add(&F, "admin", "2026-04-15T00:00:00Z",
	    "{\"actor\":\"fresh\",\"action\":\"password_change\",\"target\":\"fresh\"}");
	add(&F, "admin", "2026-07-01T00:00:00Z",
	    "{\"actor\":\"fresh\",\"action\":\"password_change\",\"target\":\"fresh\"}");
	add(&F, "admin", "2026-09-20T00:00:00Z",
	    "{\"actor\":\"fresh\",\"action\":\"password_change\",\"target\":\"fresh\"}");
	/* edge: changed Jul 2 00:00; 90 days later is Sep 30 00:00, inside the
	 * quarter, and no change before the end */
	add(&F, "admin", "2026-07-02T00:00:00Z",
	    "{\"actor\":\"edge\",\"action\":\"password_change\",\"target\":\"edge\"}");
	/* mfa: old password but a second factor: out of pci scope */
	add(&F, "admin", "2026-01-01T00:00:00Z",
	    "{\"actor\":\"root\",\"action\":\"account_create\",\"target\":\"mfa\"}");
	add(&F, "admin", "2026-01-02T00:00:00Z",
	    "{\"actor\":\"mfa\",\"action\":\"mfa_enable\",\"target\":\"mfa\"}");
	add(&F, "admin", "2026-08-01T00:00:00Z", "{\"actor\":\"mfa\",\"action\":\"login_success\"}");
	/* nist: compromise Aug 1, change Aug 1 12:00 (fine); another Aug 10, none */
	add(&F, "admin", "2026-08-01T00:00:00Z",
	    "{\"actor\":\"sec\",\"action\":\"other\",\"target\":\"fresh\",\"details\":"
	    "{\"compromised\":true}}");
	add(&F, "admin", "2026-08-01T12:00:00Z",
	    "{\"actor\":\"fresh\",\"action\":\"password_change\",\"target\":\"fresh\"}");
	add(&F, "admin", "2026-08-10T00:00:00Z",
	    "{\"actor\":\"sec\",\"action\":\"other\",\"target\":\"old\",\"details\":"
	    "{\"compromised\":true}}");
	r = run_quarter("2026Q3");
	pci = pol(r, "pci");
	nist = pol(r, "nist");
	assert_non_null(exc(pci, "old", "older than 90 days"));
	assert_null(exc(pci, "fresh", NULL));
	assert_non_null(exc(pci, "edge", "from 2026-09-30T00:00:00Z"));
	assert_null(exc(pci, "mfa", NULL));
	assert_int_equal(nist->population, 2);
	assert_int_equal(nist->nexceptions, 1);
	assert_non_null(exc(nist, "old", "compromise"));
	audit_result_free(r);
}

static void test_audit__mass_approval_threshold_and_owner(void **state)
{
	struct audit_result *r;
	const struct audit_policy_result *pr;
	char body[256];
	int i;

	(void)state;
	add_policy(&F, "mass", "send.mass_approval", 1, "{\"threshold\":3}", NULL);
	/* exactly the threshold: no approval needed */
	for (i = 0; i < 3; i++) {
		snprintf(body, sizeof(body),
			 "{\"rcpt\":\"u%d@example.com\",\"status\":\"sent\",\"campaign\":\"small\"}", i);
		add(&F, "send", "2026-08-01T00:00:00Z", body);
	}
	/* four recipients, approved by the owner only */
	add(&F, "admin", "2026-07-31T00:00:00Z",
	    "{\"actor\":\"olga\",\"action\":\"approval\",\"campaign\":\"selfie\"}");
	/* four, approved by someone else before the first send */
	add(&F, "admin", "2026-07-31T00:00:00Z",
	    "{\"actor\":\"pat\",\"action\":\"approval\",\"campaign\":\"good\"}");
	/* four, approved by someone else after the first send */
	add(&F, "admin", "2026-08-01T00:00:01Z",
	    "{\"actor\":\"pat\",\"action\":\"approval\",\"campaign\":\"late\"}");
	for (i = 0; i < 4; i++) {
		snprintf(body, sizeof(body),
			 "{\"rcpt\":\"u%d@example.com\",\"status\":\"sent\",\"campaign\":\"selfie\","
			 "\"owner\":\"olga\"}",
			 i);
		add(&F, "send", "2026-08-01T00:00:00Z", body);
		snprintf(body, sizeof(body),
			 "{\"rcpt\":\"u%d@example.com\",\"status\":\"sent\",\"campaign\":\"good\","
			 "\"owner\":\"olga\"}",
			 i);
		add(&F, "send", "2026-08-01T00:00:00Z", body);
		snprintf(body, sizeof(body),
			 "{\"rcpt\":\"u%d@example.com\",\"status\":\"sent\",\"campaign\":\"late\"}", i);
		add(&F, "send", "2026-08-01T00:00:00Z", body);
	}
	/* a repeat to the same recipient is not another recipient */
	add(&F, "send", "2026-08-02T00:00:00Z",
	    "{\"rcpt\":\"u0@example.com\",\"status\":\"sent\",\"campaign\":\"small\"}");
	r = run_quarter("2026Q3");
	pr = pol(r, "mass");
	assert_int_equal(pr->population, 3);
	assert_int_equal(pr->nexceptions, 2);
	assert_non_null(exc(pr, "selfie", "someone other than olga"));
	assert_non_null(exc(pr, "late", NULL));
	assert_null(exc(pr, "good", NULL));
	assert_null(exc(pr, "small", NULL));
	/* the campaigns above the threshold are listed with their approvals */
	{
		json_t *c = json_object_get(pr->figures, "campaigns"), *v;
		size_t k;
		int seen = 0;

		assert_int_equal(json_array_size(c), 3);
		json_array_foreach(c, k, v) {
			const char *name = json_string_value(json_object_get(v, "campaign"));

			assert_int_equal(json_integer_value(json_object_get(v, "recipients")), 4);
			if (strcmp(name, "good") == 0) {
				assert_string_equal(json_string_value(json_object_get(
							    json_object_get(v, "approval"), "actor")),
						    "pat");
				seen++;
			} else {
				assert_true(json_is_null(json_object_get(v, "approval")));
			}
		}
		assert_int_equal(seen, 1);
	}
	audit_result_free(r);
}

static void test_audit__dmarc_alignment_lines(void **state)
{
	struct audit_result *r;
	const struct audit_policy_result *pr;
	const struct audit_exception *e;

	(void)state;
	add_policy(&F, "dmarc", "dmarc.alignment", 0, NULL, NULL);
	/* 97 of 100 aligned: below the 98 % warning line, above 95 % */
	add(&F, "dmarc", "2026-07-05T00:00:00Z",
	    "{\"org_name\":\"google.com\",\"report_id\":\"1\",\"begin\":\"2026-07-05T00:00:00Z\","
	    "\"end\":\"2026-07-05T23:59:59Z\",\"policy\":{\"domain\":\"warn.example\",\"p\":\"reject\"},"
	    "\"rows\":[{\"source_ip\":\"192.0.2.1\",\"count\":97,\"dkim\":\"pass\",\"spf\":\"fail\"},"
	    "{\"source_ip\":\"203.0.113.9\",\"count\":3,\"dkim\":\"fail\",\"spf\":\"fail\"}]}");
	/* 90 of 100, and p=none */
	add(&F, "dmarc", "2026-07-05T00:00:00Z",
	    "{\"org_name\":\"yahoo\",\"report_id\":\"2\",\"begin\":\"2026-07-05T00:00:00Z\","
	    "\"end\":\"2026-07-05T23:59:59Z\",\"policy\":{\"domain\":\"fail.example\",\"p\":\"none\"},"
	    "\"rows\":[{\"source_ip\":\"192.0.2.1\",\"count\":90,\"dkim\":\"fail\",\"spf\":\"pass\"},"
	    "{\"source_ip\":\"198.51.100.7\",\"count\":10,\"dkim\":\"fail\",\"spf\":\"fail\"}]}");
	/* exactly 98 %: fine */
	add(&F, "dmarc", "2026-07-05T00:00:00Z",
	    "{\"org_name\":\"x\",\"report_id\":\"3\",\"begin\":\"2026-07-05T00:00:00Z\","
	    "\"end\":\"2026-07-05T23:59:59Z\",\"policy\":{\"domain\":\"ok.example\",\"p\":\"quarantine\"},"
	    "\"rows\":[{\"source_ip\":\"192.0.2.1\",\"count\":98,\"dkim\":\"pass\",\"spf\":\"pass\"},"
	    "{\"source_ip\":\"192.0.2.2\",\"count\":2,\"dkim\":\"fail\",\"spf\":\"fail\"}]}");
	r = run_quarter("2026Q3");
	pr = pol(r, "dmarc");
	assert_int_equal(pr->population, 3);
	e = exc(pr, "warn.example", "0.970000");
	assert_non_null(e);
	assert_string_equal(e->severity, "warn");
	assert_non_null(exc(pr, "warn.example", "203.0.113.9 (3)"));
	assert_non_null(exc(pr, "warn.example", "is below the warning line 0.980000"));
	e = exc(pr, "fail.example", "is below the fail line 0.950000");
	assert_non_null(e);
	assert_string_equal(e->severity, "high");
	assert_non_null(exc(pr, "fail.example", "p=none"));
	assert_null(exc(pr, "ok.example", NULL));
	audit_result_free(r);
}

static void test_audit__suppression_after_bounce(void **state)
{
	struct audit_result *r;
	const struct audit_policy_result *pr;
	int64_t bounce;

	(void)state;
	add_policy(&F, "supp", "send.suppression", 1, NULL, NULL);
	bounce = add(&F, "send", "2026-07-01T00:00:00Z",
		     "{\"rcpt\":\"gone@example.com\",\"status\":\"bounced\",\"dsn\":\"5.1.1\","
		     "\"stream\":\"marketing\"}");
	SEND("gone@example.com", "news", "marketing", "2026-07-01T00:00:01Z");
	SEND("fine@example.com", "news", "marketing", "2026-07-01T00:00:01Z");
	r = run_quarter("2026Q3");
	pr = pol(r, "supp");
	assert_int_equal(pr->population, 3);
	assert_int_equal(pr->nexceptions, 1);
	assert_int_equal(pr->exceptions[0].refs[0], bounce);
	audit_result_free(r);
}

static void test_audit__quarter_in_a_time_zone(void **state)
{
	struct audit_period p;

	(void)state;
	assert_int_equal(audit_quarter("2026Q3", "Asia/Tokyo", &p), 0);
	assert_true(p.from_us == T("2026-06-30T15:00:00Z"));
	assert_true(p.to_us == T("2026-09-30T15:00:00Z"));
	assert_int_equal(audit_quarter("2026Q4", "UTC", &p), 0);
	assert_true(p.to_us == T("2027-01-01T00:00:00Z"));
	assert_int_equal(audit_quarter("2026Q5", "UTC", &p), AK_EINVALID);
	assert_int_equal(audit_quarter("26Q1", "UTC", &p), AK_EINVALID);
}

static void test_audit__recording_twice_adds_nothing(void **state)
{
	struct audit_result *r;
	size_t n1 = 0, n2 = 0;

	(void)state;
	add_policy(&F, "optin", "consent.optin_proof", 1, NULL, NULL);
	SEND("x@example.com", "news", "marketing", "2026-07-10T00:00:00Z");
	SEND("y@example.com", "news", "marketing", "2026-07-10T00:00:00Z");
	r = run_quarter("2026Q3");
	assert_int_equal(audit_record(F.st, r, &n1), 0);
	audit_result_free(r);
	r = run_quarter("2026Q3");
	assert_int_equal(pol(r, "optin")->nexceptions, 2);
	assert_int_equal(audit_record(F.st, r, &n2), 0);
	audit_result_free(r);
	assert_int_equal(n1, 2);
	assert_int_equal(n2, 0);
}

static int last_system(void *ctx, const struct evidence_entry *e)
{
	json_decref(*(json_t **)ctx);
	*(json_t **)ctx = json_loadb(e->body, e->body_len, 0, NULL);
	return 0;
}

static void test_audit__system_entry_holds_counts_and_figures(void **state)
{
	struct audit_result *r;
	struct evidence_filter f = {0};
	json_t *body = NULL, *p;

	(void)state;
	add_policy(&F, "optin", "consent.optin_proof", 1, NULL, NULL);
	add_policy(&F, "unsub", "consent.unsubscribe_deadline", 1, NULL, NULL);
	/* two sends at the same second to the same address: two findings
	 * still, their refs differ */
	SEND("x@example.com", "news", "marketing", "2026-07-10T00:00:00Z");
	SEND("x@example.com", "news", "marketing", "2026-07-10T00:00:00Z");
	add(&F, "send", "2026-07-10T00:00:00Z", "{\"rcpt\":\"z@example.com\",\"status\":\"sent\"}");
	r = run_quarter("2026Q3");
	assert_int_equal(audit_record(F.st, r, NULL), 0);
	audit_result_free(r);
	f.kind = "system";
	assert_int_equal(evidence_scan(F.st, &f, last_system, &body), 0);
	assert_non_null(body);
	assert_string_equal(json_string_value(json_object_get(body, "event")), "audit");
	p = json_array_get(json_object_get(body, "policies"), 0);
	assert_string_equal(json_string_value(json_object_get(p, "id")), "optin");
	assert_int_equal(json_integer_value(json_object_get(p, "exceptions")), 2);
	assert_int_equal(json_integer_value(json_object_get(p, "findings")), 2);
	assert_int_equal(json_integer_value(json_object_get(p, "not_assessed")), 1);
	p = json_array_get(json_object_get(body, "policies"), 1);
	assert_non_null(json_object_get(json_object_get(p, "figures"), "honor_time_seconds"));
	json_decref(body);
}

/* One row of account_state as text: "first_seen|last_login|ip|login_seq|
 * password_changed|reviewed|reviewer|created|disabled|mfa" (times in
 * seconds, NULL as "-"). */
static void account_row(const char *account, char *out, size_t size)
{
	sqlite3_stmt *q;

	assert_int_equal(sqlite3_prepare_v2(evidence_db(F.st),
					    "SELECT coalesce(first_seen / 1000000, '-') || '|' || "
					    "coalesce(last_login / 1000000, '-') || '|' || "
					    "coalesce(last_login_ip, '-') || '|' || coalesce(login_seq, '-') || '|' || "
					    "coalesce(password_changed / 1000000, '-') || '|' || "
					    "coalesce(reviewed / 1000000, '-') || '|' || coalesce(reviewer, '-') || '|' || "
					    "coalesce(created / 1000000, '-') || '|' || "
					    "coalesce(disabled / 1000000, '-') || '|' || coalesce(mfa, '-') "
					    "FROM account_state WHERE account = ?",
					    -1, &q, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	snprintf(out, size, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
}

static int64_t count(const char *sql)
{
	sqlite3_stmt *q;
	int64_t n;

	assert_int_equal(sqlite3_prepare_v2(evidence_db(F.st), sql, -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

/* The derived account facts: each moves to a later event only, whatever
 * the order the events arrive in; first seen is the earliest event of any
 * kind; creation the earliest creation. Reindexing gives the same row. */
static void test_audit__account_facts_move_to_later_events_only(void **state)
{
	char row[512], again[512], want[512];
	int64_t login;

	(void)state;
	login = add(&F, "admin", "2026-07-10T00:00:00Z",
		    "{\"actor\":\"ops\",\"action\":\"login_success\",\"ip\":\"192.0.2.10\"}");
	add(&F, "admin", "2026-07-05T00:00:00Z",
	    "{\"actor\":\"ops\",\"action\":\"login_success\",\"ip\":\"192.0.2.5\"}");
	add(&F, "admin", "2026-07-03T00:00:00Z", "{\"actor\":\"ops\",\"action\":\"logout\"}");
	add(&F, "admin", "2026-07-08T00:00:00Z",
	    "{\"actor\":\"ops\",\"action\":\"password_change\"}");
	add(&F, "admin", "2026-07-07T00:00:00Z",
	    "{\"actor\":\"ops\",\"action\":\"password_change\"}");
	add(&F, "admin", "2026-07-09T00:00:00Z",
	    "{\"actor\":\"boss\",\"action\":\"access_review\",\"target\":\"ops\"}");
	add(&F, "admin", "2026-07-06T00:00:00Z",
	    "{\"actor\":\"peer\",\"action\":\"access_review\",\"target\":\"ops\"}");
	add(&F, "admin", "2026-07-04T00:00:00Z",
	    "{\"actor\":\"root\",\"action\":\"account_create\",\"target\":\"ops\"}");
	add(&F, "admin", "2026-07-02T00:00:00Z",
	    "{\"actor\":\"root\",\"action\":\"account_create\",\"target\":\"ops\"}");
	add(&F, "admin", "2026-07-12T00:00:00Z",
	    "{\"actor\":\"ops\",\"action\":\"mfa_enable\"}");
	add(&F, "admin", "2026-07-11T00:00:00Z",
	    "{\"actor\":\"ops\",\"action\":\"mfa_disable\"}");
	account_row("ops", row, sizeof(row));
	/* 2026-07-01T00:00:00Z is 1782864000; day d is + (d - 1) * 86400. */
	snprintf(want, sizeof(want), "%lld|%lld|192.0.2.10|%lld|%lld|%lld|boss|%lld|-|1",
		 1782864000LL + 1 * 86400, 1782864000LL + 9 * 86400, (long long)login,
		 1782864000LL + 7 * 86400, 1782864000LL + 8 * 86400, 1782864000LL + 1 * 86400);
	assert_string_equal(row, want);
	/* An account seen only through a fact statement has its row too. */
	add(&F, "admin", "2026-07-13T00:00:00Z",
	    "{\"actor\":\"root\",\"action\":\"account_disable\",\"target\":\"gone\"}");
	account_row("gone", row, sizeof(row));
	snprintf(want, sizeof(want), "%lld|-|-|-|-|-|-|-|%lld|-", 1782864000LL + 12 * 86400,
		 1782864000LL + 12 * 86400);
	assert_string_equal(row, want);
	account_row("ops", row, sizeof(row));
	assert_int_equal(evidence_reindex(F.st, NULL, NULL), 0);
	account_row("ops", again, sizeof(again));
	assert_string_equal(again, row);
}

/* An opt-in lifts only an opt-out suppression of its own pair. */
static void test_audit__optin_lifts_only_its_pairs_optout(void **state)
{
	(void)state;
	add(&F, "consent", "2026-07-01T00:00:00Z",
	    "{\"subject\":\"a@example.com\",\"list\":\"news\",\"action\":\"opt_out\"}");
	add(&F, "send", "2026-07-01T00:00:00Z",
	    "{\"rcpt\":\"a@example.com\",\"status\":\"bounced\",\"dsn\":\"5.1.1\"}");
	assert_int_equal(count("SELECT count(*) FROM suppression WHERE address = 'a@example.com'"),
			 2);
	add(&F, "consent", "2026-07-02T00:00:00Z",
	    "{\"subject\":\"a@example.com\",\"list\":\"other\",\"action\":\"opt_in\","
	    "\"method\":\"single\",\"proof\":{\"ip\":\"192.0.2.1\"}}");
	assert_int_equal(count("SELECT count(*) FROM suppression WHERE address = 'a@example.com'"),
			 2);
	add(&F, "consent", "2026-07-03T00:00:00Z",
	    "{\"subject\":\"a@example.com\",\"list\":\"news\",\"action\":\"opt_in\","
	    "\"method\":\"single\",\"proof\":{\"ip\":\"192.0.2.1\"}}");
	assert_int_equal(count("SELECT count(*) FROM suppression WHERE address = 'a@example.com'"),
			 1);
	assert_int_equal(count("SELECT count(*) FROM suppression WHERE address = 'a@example.com' "
			       "AND reason = 'hard_bounce'"),
			 1);
}

/* A bounce suppresses its recipient even when a nested object's "status"
 * comes first in the canonical body (keys sort "delivery" < "status"). */
static void test_audit__bounce_behind_a_nested_status_suppresses(void **state)
{
	(void)state;
	add(&F, "send", "2026-07-01T00:00:00Z",
	    "{\"rcpt\":\"b@example.com\",\"status\":\"bounced\",\"dsn\":\"5.1.1\","
	    "\"delivery\":{\"status\":\"sent\"}}");
	add(&F, "send", "2026-07-01T00:00:00Z",
	    "{\"rcpt\":\"c@example.com\",\"status\":\"sent\",\"dsn\":\"2.0.0\","
	    "\"delivery\":{\"status\":\"bounced\"}}");
	assert_int_equal(count("SELECT count(*) FROM suppression WHERE address = 'b@example.com'"),
			 1);
	assert_int_equal(count("SELECT count(*) FROM suppression WHERE address = 'c@example.com'"),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_audit__optin_proof_boundaries, setup, teardown),
	cmocka_unit_test_setup_teardown(test_audit__many_sends_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__unsubscribe_deadline_per_profile, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_audit__access_review_gaps_and_self_review, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_audit__password_rotation_profiles, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_audit__mass_approval_threshold_and_owner, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_audit__dmarc_alignment_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__suppression_after_bounce, setup, teardown),
		cmocka_unit_test(test_audit__quarter_in_a_time_zone),
		cmocka_unit_test_setup_teardown(test_audit__recording_twice_adds_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_audit__system_entry_holds_counts_and_figures,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__account_facts_move_to_later_events_only,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__optin_lifts_only_its_pairs_optout, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_audit__bounce_behind_a_nested_status_suppresses,
						setup, teardown),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
