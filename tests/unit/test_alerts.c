/*
 * tests/unit/test_alerts.c - every alert rule at its boundaries: exactly at
 * its threshold and one below, a window one second too long, suppression
 * (one incident, one alert; a new incident after the window alerts again),
 * derived state read as of the entry's time (roles, addresses, approvals,
 * suppression) from a real store, business hours in Asia/Tokyo, entries out
 * of order, a million source addresses against the key caps, and
 * alerts.json validation.
 *
 * Rules that need no derived state are fed entries directly (db NULL, seqs
 * counted here); the others append to a store in a temp directory first and
 * feed what was appended.
 */
#include "tests/unit/unit.h"

#include "auditd/alerts/alerts.h"
#include "lib/error.h"
#include "tests/unit/policy_fixture.h"

#include <stdarg.h>

struct captured {
	char rule[64], key[300], severity[16], summary[1024];
	int64_t refs[80];
	size_t nrefs;
	int64_t from, to, time;
};

static struct captured cap[512];
static size_t ncap;
static int64_t next_seq;
static struct fixture F;
static int have_store;

static int capture(void *ctx, const struct alert_out *o)
{
	struct captured *c;
	size_t i;

	(void)ctx;
	/* What every alert must be, whatever the input. */
	assert_true(o->window_from_us <= o->window_to_us);
	assert_true(o->nrefs >= 1 && o->nrefs <= 64);
	for (i = 1; i < o->nrefs; i++)
		assert_true(o->refs[i - 1] < o->refs[i]);
	if (ncap == sizeof(cap) / sizeof(cap[0]))
		return 0;
	c = &cap[ncap++];
	snprintf(c->rule, sizeof(c->rule), "%s", o->rule);
	snprintf(c->key, sizeof(c->key), "%s", o->key);
	snprintf(c->severity, sizeof(c->severity), "%s", o->severity);
	snprintf(c->summary, sizeof(c->summary), "%s", o->summary);
	memcpy(c->refs, o->refs, o->nrefs * sizeof(int64_t));
	c->nrefs = o->nrefs;
	c->from = o->window_from_us;
	c->to = o->window_to_us;
	c->time = o->time_us;
	return 0;
}

static int setup(void **state)
{
	(void)state;
	ncap = 0;
	next_seq = 0;
	have_store = 0;
	return 0;
}

static int setup_store(void **state)
{
	setup(state);
	have_store = 1;
	return fixture_open(&F);
}

static int teardown_store(void **state)
{
	(void)state;
	fixture_close(&F);
	return 0;
}

static struct alerts *make(const char *rules_json, const struct alerts_config *cfg)
{
	json_t *rules = NULL;
	struct alerts *a = NULL;
	int rc;

	if (rules_json) {
		rules = json_loads(rules_json, 0, NULL);
		assert_non_null(rules);
	}
	rc = alerts_new(&a, rules, cfg, have_store ? evidence_db(F.st) : NULL, capture, NULL);
	if (rc != 0)
		fail_msg("alerts_new: %s", ak_error_last());
	json_decref(rules);
	return a;
}

static const int64_t BASE = INT64_C(1782864000) * 1000000; /* 2026-07-01T00:00:00Z */
#define SEC(n) ((int64_t)(n)*1000000)

/* Feed one entry at time t; with a store, append it first. Returns its seq. */
static int64_t feed(struct alerts *a, const char *kind, int64_t t, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int64_t feed(struct alerts *a, const char *kind, int64_t t, const char *fmt, ...)
{
	char body[2048];
	struct ak_buf b = AK_BUF_INIT(0);
	struct evidence_entry e = {0};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	assert_int_equal(ak_jcs_canonicalize(&b, body, strlen(body)), 0);
	if (have_store) {
		struct evidence_record r = {0};

		r.kind = kind;
		r.time_us = t;
		r.source = "test";
		r.source_len = 4;
		r.body = b.data;
		r.body_len = b.len;
		assert_int_equal(evidence_append(F.st, &r, 1, &e.seq, NULL), 0);
	} else {
		e.seq = ++next_seq;
	}
	e.kind = kind;
	e.time_us = t;
	e.body = b.data;
	e.body_len = b.len;
	e.bytes = b.data;
	e.len = b.len;
	if (a && alerts_feed(a, &e) != 0)
		fail_msg("alerts_feed: %s", ak_error_last());
	ak_buf_free(&b);
	return e.seq;
}

#define FAIL(a, t, acct, ip)                                                                       \
	feed(a, "admin", t, "{\"actor\":\"%s\",\"action\":\"login_failure\",\"ip\":\"%s\"}", acct, \
	     ip)
#define OK(a, t, acct, ip)                                                                         \
	feed(a, "admin", t, "{\"actor\":\"%s\",\"action\":\"login_success\",\"ip\":\"%s\"}", acct, \
	     ip)
#define GRANT(a, t, acct, role)                                                                    \
	feed(a, "admin", t,                                                                        \
	     "{\"actor\":\"sec\",\"action\":\"role_grant\",\"target\":\"%s\",\"role\":\"%s\"}",    \
	     acct, role)

static size_t count(const char *rule)
{
	size_t i, n = 0;

	for (i = 0; i < ncap; i++)
		n += strcmp(cap[i].rule, rule) == 0;
	return n;
}

static const struct captured *first(const char *rule)
{
	size_t i;

	for (i = 0; i < ncap; i++)
		if (strcmp(cap[i].rule, rule) == 0)
			return &cap[i];
	fail_msg("no %s alert", rule);
	return NULL;
}

static int64_t rule_stat(const struct alerts *a, const char *rule, const char *what)
{
	json_t *s = json_object();
	int64_t v;

	alerts_stats(a, s);
	v = json_integer_value(json_object_get(json_object_get(s, rule), what));
	json_decref(s);
	return v;
}

/* ---- brute force ---- */

static void test_alerts__bruteforce_src_fires_at_8_in_120s(void **state)
{
	struct alerts *a = make(NULL, NULL);
	const struct captured *c;
	int i;

	(void)state;
	/* 8 failures, the first and the last exactly 120 s apart. */
	for (i = 0; i < 7; i++)
		FAIL(a, BASE + SEC(i * 10), "tanaka", "203.0.113.66");
	assert_int_equal(count("login.bruteforce_src"), 0);
	FAIL(a, BASE + SEC(120), "tanaka", "203.0.113.66");
	assert_int_equal(count("login.bruteforce_src"), 1);
	c = first("login.bruteforce_src");
	assert_string_equal(c->key, "203.0.113.66");
	assert_string_equal(c->severity, "high");
	assert_int_equal(c->nrefs, 8);
	for (i = 0; i < 8; i++)
		assert_int_equal(c->refs[i], i + 1);
	assert_int_equal(c->from, BASE);
	assert_int_equal(c->to, BASE + SEC(120));
	assert_int_equal(c->time, BASE + SEC(120));
	assert_string_equal(c->summary, "8 failed logins for tanaka from 203.0.113.66 in 2 min");
	alerts_free(a);
}

static void test_alerts__bruteforce_src_7_do_not_fire(void **state)
{
	struct alerts *a = make(NULL, NULL);
	int i;

	(void)state;
	for (i = 0; i < 7; i++)
		FAIL(a, BASE + SEC(i), i % 2 ? "tanaka" : "sato", "203.0.113.66");
	assert_int_equal(ncap, 0);
	alerts_free(a);
}

static void test_alerts__bruteforce_src_8_over_121s_do_not_fire(void **state)
{
	struct alerts *a = make(NULL, NULL);
	int i;

	(void)state;
	for (i = 0; i < 7; i++)
		FAIL(a, BASE + SEC(i), "tanaka", "203.0.113.66");
	FAIL(a, BASE + SEC(121), "tanaka", "203.0.113.66");
	/* and one microsecond past 120 s */
	for (i = 0; i < 7; i++)
		FAIL(a, BASE + SEC(1000 + i), "sato", "198.51.100.2");
	FAIL(a, BASE + SEC(1120) + 1, "sato", "198.51.100.2");
	assert_int_equal(count("login.bruteforce_src"), 0);
	alerts_free(a);
}

static void test_alerts__bruteforce_user_fires_at_10_in_10min(void **state)
{
	struct alerts *a = make(NULL, NULL);
	char ip[32];
	int i;

	(void)state;
	/* From ten addresses, so only the per-account rule can see it. */
	for (i = 0; i < 9; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", i + 1);
		FAIL(a, BASE + SEC(i * 60), "tanaka", ip);
	}
	assert_int_equal(count("login.bruteforce_user"), 0);
	FAIL(a, BASE + SEC(600), "tanaka", "192.0.2.10");
	assert_int_equal(count("login.bruteforce_user"), 1);
	assert_string_equal(first("login.bruteforce_user")->key, "tanaka");
	assert_string_equal(first("login.bruteforce_user")->summary,
	                    "10 failed logins for tanaka from 10 addresses in 10 min");
	assert_int_equal(count("login.bruteforce_src"), 0);

	/* 10 over 601 s: not one. */
	for (i = 0; i < 9; i++)
		FAIL(a, BASE + SEC(10000 + i), "sato", "192.0.2.50");
	FAIL(a, BASE + SEC(10000 + 601), "sato", "192.0.2.51");
	assert_int_equal(count("login.bruteforce_user"), 1);
	alerts_free(a);
}

static void test_alerts__suppression_one_incident_one_alert(void **state)
{
	struct alerts *a = make(NULL, NULL);
	int i;

	(void)state;
	/* An incident: 20 failures in 19 s is one alert (suppress 60 s). */
	for (i = 0; i < 20; i++)
		FAIL(a, BASE + SEC(i), "tanaka", "203.0.113.66");
	assert_int_equal(count("login.bruteforce_src"), 1);
	assert_int_equal(rule_stat(a, "login.bruteforce_src", "suppressed"), 12);
	/* Going on 60 s after the alert: Wazuh's ignore has run out. */
	FAIL(a, BASE + SEC(7 + 59), "tanaka", "203.0.113.66");
	assert_int_equal(count("login.bruteforce_src"), 1);
	FAIL(a, BASE + SEC(7 + 60), "tanaka", "203.0.113.66");
	assert_int_equal(count("login.bruteforce_src"), 2);
	/* A new incident long after: a new alert, citing only its own entries. */
	for (i = 0; i < 8; i++)
		FAIL(a, BASE + SEC(3600 + i), "tanaka", "203.0.113.66");
	assert_int_equal(count("login.bruteforce_src"), 3);
	assert_int_equal(cap[ncap - 1].refs[0], 23);
	assert_int_equal(cap[ncap - 1].nrefs, 8);
	alerts_free(a);
}

static void test_alerts__disabled_rule_is_quiet(void **state)
{
	struct alerts *a = make("{\"login.bruteforce_src\":{\"enabled\":false},"
	                        "\"login.bruteforce_user\":{\"threshold\":3,\"severity\":\"low\"}}",
	                        NULL);
	int i;

	(void)state;
	for (i = 0; i < 10; i++)
		FAIL(a, BASE + SEC(i), "tanaka", "203.0.113.66");
	assert_int_equal(count("login.bruteforce_src"), 0);
	assert_int_equal(count("login.bruteforce_user"), 1);
	assert_int_equal(first("login.bruteforce_user")->nrefs, 3);
	assert_string_equal(first("login.bruteforce_user")->severity, "low");
	alerts_free(a);
}

/* ---- spray ---- */

static void test_alerts__spray_slow_10_accounts_in_24h(void **state)
{
	struct alerts *a = make(NULL, NULL);
	char acct[32];
	const struct captured *c;
	int i;

	(void)state;
	/* Nine accounts over 23 h, one of them twice: not yet. */
	for (i = 0; i < 9; i++) {
		snprintf(acct, sizeof(acct), "user%d", i);
		FAIL(a, BASE + SEC(i * 9000), acct, "203.0.113.7");
	}
	FAIL(a, BASE + SEC(80000), "user3", "203.0.113.7");
	assert_int_equal(count("login.spray_src"), 0);
	/* The tenth, 24 h after the first. */
	FAIL(a, BASE + SEC(86400), "user9", "203.0.113.7");
	assert_int_equal(count("login.spray_src"), 1);
	c = first("login.spray_src");
	assert_string_equal(c->key, "203.0.113.7");
	assert_int_equal(c->nrefs, 10);
	assert_int_equal(c->refs[0], 1);
	assert_int_equal(c->refs[9], 11);
	assert_non_null(strstr(c->summary, "10 accounts failed to log in from 203.0.113.7"));
	assert_non_null(strstr(c->summary, "slow spray"));

	/* Ten accounts over 24 h + 1 s from another address: no. */
	for (i = 0; i < 9; i++) {
		snprintf(acct, sizeof(acct), "user%d", i);
		FAIL(a, BASE + SEC(i * 100), acct, "203.0.113.8");
	}
	FAIL(a, BASE + SEC(86401), "user9", "203.0.113.8");
	assert_int_equal(count("login.spray_src"), 1);
	alerts_free(a);
}

static void test_alerts__spray_fast_15_accounts_in_5min(void **state)
{
	/* With the defaults 10 in 24 h fires before 15 in 5 min can; the fast
	 * variant matters when the slow threshold is higher. */
	struct alerts *a = make("{\"login.spray_src\":{\"threshold\":50}}", NULL);
	char acct[32];
	int i;

	(void)state;
	for (i = 0; i < 14; i++) {
		snprintf(acct, sizeof(acct), "u%d", i);
		FAIL(a, BASE + SEC(i * 20), acct, "203.0.113.9");
	}
	assert_int_equal(count("login.spray_src"), 0);
	FAIL(a, BASE + SEC(300), "u14", "203.0.113.9");
	assert_int_equal(count("login.spray_src"), 1);
	assert_non_null(strstr(first("login.spray_src")->summary, "15 accounts"));
	assert_non_null(strstr(first("login.spray_src")->summary, "fast spray"));
	/* 15 over 5 min 1 s: no. */
	for (i = 0; i < 14; i++) {
		snprintf(acct, sizeof(acct), "u%d", i);
		FAIL(a, BASE + SEC(5000 + i), acct, "203.0.113.10");
	}
	FAIL(a, BASE + SEC(5000 + 301), "u14", "203.0.113.10");
	assert_int_equal(count("login.spray_src"), 1);
	alerts_free(a);
}

/* ---- fail then success ---- */

static void test_alerts__fail_then_success_within_1h(void **state)
{
	struct alerts *a = make(NULL, NULL);
	char ip[32];
	int64_t ok;
	const struct captured *c;
	int i;

	(void)state;
	for (i = 0; i < 10; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", i + 1);
		FAIL(a, BASE + SEC(i * 30), "tanaka", ip);
	}
	/* The condition last held at +270 s; a success 1 h later still counts. */
	ok = OK(a, BASE + SEC(270 + 3600), "tanaka", "192.0.2.99");
	assert_int_equal(count("login.fail_then_success"), 1);
	c = first("login.fail_then_success");
	assert_string_equal(c->severity, "critical");
	assert_string_equal(c->key, "tanaka");
	assert_int_equal(c->nrefs, 11);
	assert_int_equal(c->refs[10], ok);
	assert_int_equal(c->from, BASE);
	assert_int_equal(c->to, BASE + SEC(3870));
	alerts_free(a);
}

static void test_alerts__fail_then_success_after_1h_is_quiet(void **state)
{
	struct alerts *a = make(NULL, NULL);
	char ip[32];
	int i;

	(void)state;
	for (i = 0; i < 10; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", i + 1);
		FAIL(a, BASE + SEC(i * 30), "tanaka", ip);
	}
	OK(a, BASE + SEC(270 + 3601), "tanaka", "192.0.2.99");
	/* A success before the brute force completed is not "after" it. */
	for (i = 0; i < 9; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		FAIL(a, BASE + SEC(20000 + i), "sato", ip);
	}
	OK(a, BASE + SEC(20010), "sato", "192.0.2.201");
	FAIL(a, BASE + SEC(20020), "sato", "192.0.2.202");
	assert_int_equal(count("login.bruteforce_user"), 2);
	assert_int_equal(count("login.fail_then_success"), 0);
	alerts_free(a);
}

static void test_alerts__fail_then_success_from_brute_forcing_address(void **state)
{
	struct alerts *a = make(NULL, NULL);
	int i;

	(void)state;
	/* 8 failures from one address against two accounts: both marked. */
	for (i = 0; i < 8; i++)
		FAIL(a, BASE + SEC(i), i % 2 ? "tanaka" : "sato", "203.0.113.66");
	assert_int_equal(count("login.bruteforce_src"), 1);
	OK(a, BASE + SEC(600), "suzuki", "203.0.113.66"); /* not attacked */
	assert_int_equal(count("login.fail_then_success"), 0);
	OK(a, BASE + SEC(900), "tanaka", "198.51.100.1");
	assert_int_equal(count("login.fail_then_success"), 1);
	assert_non_null(strstr(first("login.fail_then_success")->summary,
	                       "after a brute force from 203.0.113.66 (8 failed logins)"));
	OK(a, BASE + SEC(901), "sato", "203.0.113.66");
	assert_int_equal(count("login.fail_then_success"), 2);
	alerts_free(a);
}

/* ---- privileged logins (derived state from a store) ---- */

static void test_alerts__new_address_privileged(void **state)
{
	struct alerts *a;
	int64_t s;

	(void)state;
	GRANT(NULL, BASE, "root", "admin");
	GRANT(NULL, BASE, "bob", "viewer");
	a = make("{\"login.off_hours_privileged\":{\"enabled\":false}}", NULL);
	/* Before the grant root was not privileged. */
	OK(a, BASE - SEC(10), "root", "192.0.2.1");
	assert_int_equal(count("login.new_address_privileged"), 0);
	/* A known address (seen 10 s before the grant). */
	OK(a, BASE + SEC(100), "root", "192.0.2.1");
	assert_int_equal(count("login.new_address_privileged"), 0);
	/* A new one. */
	s = OK(a, BASE + SEC(200), "root", "198.51.100.7");
	assert_int_equal(count("login.new_address_privileged"), 1);
	assert_int_equal(first("login.new_address_privileged")->refs[0], s);
	assert_string_equal(first("login.new_address_privileged")->key, "root");
	assert_string_equal(first("login.new_address_privileged")->summary,
	                    "privileged account root (admin) logged in from a new address "
	                    "198.51.100.7");
	/* Now known. */
	OK(a, BASE + SEC(7200), "root", "198.51.100.7");
	assert_int_equal(count("login.new_address_privileged"), 1);
	/* Another new one after the suppression window. */
	OK(a, BASE + SEC(7300), "root", "198.51.100.8");
	assert_int_equal(count("login.new_address_privileged"), 2);
	/* Not privileged: never. */
	OK(a, BASE + SEC(300), "bob", "203.0.113.1");
	OK(a, BASE + SEC(300), "carol", "203.0.113.2");
	assert_int_equal(count("login.new_address_privileged"), 2);
	/* Revoked: no longer. */
	feed(a, "admin", BASE + SEC(8000),
	     "{\"actor\":\"sec\",\"action\":\"role_revoke\",\"target\":\"root\",\"role\":"
	     "\"admin\"}");
	OK(a, BASE + SEC(20000), "root", "203.0.113.99");
	assert_int_equal(count("login.new_address_privileged"), 2);
	alerts_free(a);
}

static void test_alerts__new_address_roles_from_config_and_rules(void **state)
{
	const char *roles[] = {"viewer", NULL};
	struct alerts_config cfg = {0};
	struct alerts *a;

	(void)state;
	GRANT(NULL, BASE, "bob", "viewer");
	GRANT(NULL, BASE, "root", "admin");
	cfg.privileged_roles = roles;
	a = make(NULL, &cfg);
	OK(a, BASE + SEC(10), "bob", "192.0.2.1");
	OK(a, BASE + SEC(10), "root", "192.0.2.2");
	assert_int_equal(count("login.new_address_privileged"), 1);
	assert_string_equal(first("login.new_address_privileged")->key, "bob");
	alerts_free(a);
	ncap = 0;
	a = make("{\"login.new_address_privileged\":{\"privileged_roles\":[\"admin\"]}}", &cfg);
	OK(a, BASE + SEC(20), "bob", "192.0.2.3");
	OK(a, BASE + SEC(20), "root", "192.0.2.4");
	assert_int_equal(count("login.new_address_privileged"), 1);
	assert_string_equal(first("login.new_address_privileged")->key, "root");
	alerts_free(a);
}

static void test_alerts__off_hours_in_tokyo(void **state)
{
	struct alerts *a;

	(void)state;
	GRANT(NULL, BASE - SEC(86400), "root", "admin");
	a = make("{\"login.off_hours_privileged\":{\"suppress\":\"0\"},"
	         "\"login.new_address_privileged\":{\"enabled\":false}}",
	         NULL);
	/* Wednesday 2026-07-01 in Tokyo (UTC+9). */
	OK(a, T("2026-06-30T23:29:59Z"), "root", "192.0.2.1"); /* 08:29:59 */
	assert_int_equal(count("login.off_hours_privileged"), 1);
	assert_string_equal(first("login.off_hours_privileged")->severity, "medium");
	assert_string_equal(first("login.off_hours_privileged")->summary,
	                    "privileged account root (admin) logged in from 192.0.2.1 at Wed "
	                    "08:29 Asia/Tokyo, outside business hours");
	OK(a, T("2026-06-30T23:30:00Z"), "root", "192.0.2.1"); /* 08:30 */
	OK(a, T("2026-07-01T08:59:59Z"), "root", "192.0.2.1"); /* 17:59:59 */
	assert_int_equal(count("login.off_hours_privileged"), 1);
	OK(a, T("2026-07-01T09:00:00Z"), "root", "192.0.2.1"); /* 18:00 */
	assert_int_equal(count("login.off_hours_privileged"), 2);
	OK(a, T("2026-07-01T18:00:00Z"), "root", "192.0.2.1"); /* Thu 03:00 */
	assert_int_equal(count("login.off_hours_privileged"), 3);
	OK(a, T("2026-07-04T03:00:00Z"), "root", "192.0.2.1"); /* Sat 12:00 */
	OK(a, T("2026-07-05T03:00:00Z"), "root", "192.0.2.1"); /* Sun 12:00 */
	assert_int_equal(count("login.off_hours_privileged"), 5);
	OK(a, T("2026-07-06T03:00:00Z"), "root", "192.0.2.1"); /* Mon 12:00 */
	assert_int_equal(count("login.off_hours_privileged"), 5);
	/* A non-privileged account at 03:00: nothing. */
	OK(a, T("2026-07-01T18:00:00Z"), "bob", "192.0.2.1");
	assert_int_equal(count("login.off_hours_privileged"), 5);
	alerts_free(a);
}

static void test_alerts__off_hours_from_config(void **state)
{
	struct alerts_config cfg = {0};
	struct alerts *a;

	(void)state;
	GRANT(NULL, BASE - SEC(86400), "root", "admin");
	cfg.timezone = "UTC";
	cfg.business_hours = "09:00-17:00 Mon-Sat";
	a = make("{\"login.new_address_privileged\":{\"enabled\":false}}", &cfg);
	OK(a, T("2026-07-04T12:00:00Z"), "root", "192.0.2.1"); /* Sat noon UTC */
	assert_int_equal(count("login.off_hours_privileged"), 0);
	OK(a, T("2026-07-04T17:00:00Z"), "root", "192.0.2.1");
	assert_int_equal(count("login.off_hours_privileged"), 1);
	alerts_free(a);
	cfg.business_hours = "9-17";
	assert_int_equal(alerts_new(&a, NULL, &cfg, evidence_db(F.st), capture, NULL), AK_EINVALID);
	assert_non_null(strstr(ak_error_last(), "business_hours"));
	cfg.business_hours = NULL;
	cfg.timezone = "Mars/Olympus";
	assert_int_equal(alerts_new(&a, NULL, &cfg, evidence_db(F.st), capture, NULL), AK_EINVALID);
	assert_non_null(strstr(ak_error_last(), "Mars/Olympus"));
}

/* ---- sends ---- */

#define SEND(a, t, rcpt, extra)                                                                    \
	feed(a, "send", t, "{\"rcpt\":\"%s\",\"status\":\"sent\"%s}", rcpt, extra)

static void mass_campaign(struct alerts *a, const char *campaign, int64_t t0, int n)
{
	char rcpt[64], extra[128];
	int i;

	snprintf(extra, sizeof(extra), ",\"campaign\":\"%s\",\"owner\":\"sato\"", campaign);
	for (i = 0; i < n; i++) {
		snprintf(rcpt, sizeof(rcpt), "r%d@example.jp", i);
		SEND(a, t0 + SEC(i), rcpt, extra);
	}
}

static void test_alerts__mass_send_without_approval(void **state)
{
	struct alerts *a = make("{\"send.mass_unapproved\":{\"threshold\":10}}", NULL);
	int64_t s1;

	(void)state;
	s1 = SEND(a, BASE, "r0@example.jp", ",\"campaign\":\"c1\",\"owner\":\"sato\"");
	/* The same recipient again does not count. */
	SEND(a, BASE + SEC(1), "r0@example.jp", ",\"campaign\":\"c1\"");
	mass_campaign(a, "c1", BASE + SEC(2), 9); /* r0..r8: 9 distinct */
	assert_int_equal(count("send.mass_unapproved"), 0);
	SEND(a, BASE + SEC(50), "r9@example.jp", ",\"campaign\":\"c1\"");
	assert_int_equal(count("send.mass_unapproved"), 1);
	assert_string_equal(first("send.mass_unapproved")->key, "c1");
	assert_int_equal(first("send.mass_unapproved")->refs[0], s1);
	assert_int_equal(first("send.mass_unapproved")->nrefs, 2);
	assert_string_equal(first("send.mass_unapproved")->summary,
	                    "campaign c1 reached 10 recipients with no approval by anyone but its "
	                    "owner sato");
	/* Crossing is once. */
	mass_campaign(a, "c1", BASE + SEC(100), 30);
	assert_int_equal(count("send.mass_unapproved"), 1);
	alerts_free(a);
}

static void test_alerts__mass_send_approvals(void **state)
{
	struct alerts_config cfg = {0};
	struct alerts *a;

	(void)state;
	cfg.mass_threshold = 10;
	/* Approved by someone else before: fine. By the owner: no approval.
	 * After crossing: too late. */
	feed(NULL, "admin", BASE,
	     "{\"actor\":\"suzuki\",\"action\":\"approval\",\"campaign\":\"c2\"}");
	feed(NULL, "admin", BASE,
	     "{\"actor\":\"sato\",\"action\":\"approval\",\"campaign\":\"c3\"}");
	feed(NULL, "admin", BASE + SEC(3600),
	     "{\"actor\":\"suzuki\",\"action\":\"approval\",\"campaign\":\"c4\"}");
	a = make(NULL, &cfg);
	mass_campaign(a, "c2", BASE + SEC(10), 10);
	assert_int_equal(count("send.mass_unapproved"), 0);
	mass_campaign(a, "c3", BASE + SEC(10), 10);
	assert_int_equal(count("send.mass_unapproved"), 1);
	assert_string_equal(cap[ncap - 1].key, "c3");
	mass_campaign(a, "c4", BASE + SEC(10), 10);
	assert_int_equal(count("send.mass_unapproved"), 2);
	assert_string_equal(cap[ncap - 1].key, "c4");
	alerts_free(a);
}

static void hour_of_sends(struct alerts *a, int64_t hour_start, int n)
{
	int i;

	for (i = 0; i < n; i++)
		SEND(a, hour_start + SEC(i % 3600), "x@example.jp",
		     ",\"from\":\"news@example.jp\"");
}

static void test_alerts__volume_spike_with_history(void **state)
{
	struct alerts *a = make(NULL, NULL);
	const struct captured *c;
	int h;

	(void)state;
	/* A day of 100 an hour (one hour of 80); p95 = 100. */
	for (h = 0; h < 24; h++)
		hour_of_sends(a, BASE + SEC(h * 3600), h == 5 ? 80 : 100);
	assert_int_equal(count("send.volume_spike"), 0);
	hour_of_sends(a, BASE + SEC(30 * 3600), 300);
	assert_int_equal(count("send.volume_spike"), 0);
	SEND(a, BASE + SEC(30 * 3600 + 3000), "x@example.jp", ",\"from\":\"news@example.jp\"");
	assert_int_equal(count("send.volume_spike"), 1);
	c = first("send.volume_spike");
	assert_string_equal(c->key, "from:news@example.jp");
	assert_int_equal(c->nrefs, 16);
	assert_int_equal(c->from, BASE + SEC(30 * 3600));
	assert_string_equal(c->summary,
	                    "sender news@example.jp sent 301 messages in the hour from "
	                    "2026-07-02T06:00:00Z, above 3 x its trailing p95 of 100 per "
	                    "hour");
	/* More in the same hour: suppressed. */
	hour_of_sends(a, BASE + SEC(30 * 3600 + 3100), 50);
	assert_int_equal(count("send.volume_spike"), 1);
	alerts_free(a);
}

static void test_alerts__volume_spike_needs_history(void **state)
{
	struct alerts *a = make(NULL, NULL);
	int h;

	(void)state;
	/* Five hours of history (six needed): even 5000 is not a spike. */
	for (h = 0; h < 5; h++)
		hour_of_sends(a, BASE + SEC(h * 3600), 10);
	hour_of_sends(a, BASE + SEC(10 * 3600), 5000);
	assert_int_equal(count("send.volume_spike"), 0);
	/* Small numbers stay below min_count. */
	hour_of_sends(a, BASE + SEC(11 * 3600), 10);
	hour_of_sends(a, BASE + SEC(12 * 3600), 10);
	hour_of_sends(a, BASE + SEC(13 * 3600), 99);
	assert_int_equal(count("send.volume_spike"), 0);
	/* History older than 7 days is gone. */
	hour_of_sends(a, BASE + SEC(13 * 3600 + 8 * 86400), 5000);
	assert_int_equal(count("send.volume_spike"), 0);
	alerts_free(a);
}

static void test_alerts__to_suppressed(void **state)
{
	struct alerts *a;
	int64_t out, s, b;

	(void)state;
	out = feed(NULL, "consent", BASE,
	           "{\"subject\":\"a@example.jp\",\"list\":\"news\",\"action\":\"opt_out\"}");
	a = make(NULL, NULL);
	/* Before the opt-out, to another list, not delivered: fine. */
	SEND(a, BASE - SEC(1), "a@example.jp", ",\"list\":\"news\"");
	SEND(a, BASE + SEC(10), "a@example.jp", ",\"list\":\"deals\"");
	feed(a, "send", BASE + SEC(11),
	     "{\"rcpt\":\"a@example.jp\",\"list\":\"news\",\"status\":\"deferred\"}");
	assert_int_equal(count("send.to_suppressed"), 0);
	s = SEND(a, BASE + SEC(20), "a@example.jp", ",\"list\":\"news\",\"campaign\":\"c9\"");
	assert_int_equal(count("send.to_suppressed"), 1);
	assert_string_equal(first("send.to_suppressed")->severity, "critical");
	assert_string_equal(first("send.to_suppressed")->key, "a@example.jp");
	assert_int_equal(first("send.to_suppressed")->nrefs, 2);
	assert_int_equal(first("send.to_suppressed")->refs[0], out);
	assert_int_equal(first("send.to_suppressed")->refs[1], s);
	assert_string_equal(
	        first("send.to_suppressed")->summary,
	        "sent to suppressed address a@example.jp (campaign c9): opt_out of list "
	        "news since 2026-07-01T00:00:00Z");
	/* A hard bounce suppresses everywhere; the bounce itself is no alert. */
	b = feed(a, "send", BASE + SEC(30), "{\"rcpt\":\"b@example.jp\",\"status\":\"bounced\"}");
	assert_int_equal(count("send.to_suppressed"), 1);
	feed(a, "send", BASE + SEC(40), "{\"rcpt\":\"b@example.jp\",\"status\":\"bounced\"}");
	assert_int_equal(count("send.to_suppressed"), 2);
	assert_int_equal(cap[ncap - 1].refs[0], b);
	alerts_free(a);
}

/* ---- dmarc ---- */

static void test_alerts__dmarc_unknown_source(void **state)
{
	const char *own[] = {"example.jp", NULL};
	struct alerts_config cfg = {0};
	struct alerts *a;
	int64_t s;

	(void)state;
	cfg.own_domains = own;
	a = make(NULL, &cfg);
	s = feed(
	        a, "dmarc", BASE,
	        "{\"report_id\":\"r1\",\"org_name\":\"google.com\",\"begin\":\"2026-07-01T00:00:"
	        "00Z\","
	        "\"end\":\"2026-07-01T23:59:59Z\",\"policy\":{\"domain\":\"example.jp\"},\"rows\":["
	        "{\"source_ip\":\"203.0.113.9\",\"count\":60,\"dkim\":\"fail\",\"spf\":\"fail\"},"
	        "{\"source_ip\":\"203.0.113.9\",\"count\":40,\"dkim\":\"fail\",\"spf\":"
	        "\"softfail\","
	        "\"header_from\":\"EXAMPLE.jp\"},"
	        "{\"source_ip\":\"198.51.100.1\",\"count\":99,\"dkim\":\"fail\",\"spf\":\"fail\"},"
	        "{\"source_ip\":\"198.51.100.2\",\"count\":500,\"dkim\":\"fail\",\"spf\":\"pass\"},"
	        "{\"source_ip\":\"198.51.100.3\",\"count\":500,\"dkim\":\"fail\",\"spf\":\"fail\","
	        "\"header_from\":\"other.com\"},"
	        "{\"source_ip\":\"198.51.100.4\",\"count\":500,\"dkim\":\"fail\",\"spf\":\"fail\","
	        "\"header_from\":\"mail.example.jp\"}]}");
	assert_int_equal(count("dmarc.unknown_source"), 2);
	assert_string_equal(cap[0].key, "example.jp 203.0.113.9");
	assert_int_equal(cap[0].refs[0], s);
	assert_int_equal(cap[0].from, BASE);
	assert_int_equal(cap[0].to, T("2026-07-01T23:59:59Z"));
	assert_string_equal(cap[0].summary,
	                    "203.0.113.9 sent 100 messages as example.jp failing DKIM and SPF, "
	                    "reported by google.com");
	assert_string_equal(cap[1].key, "mail.example.jp 198.51.100.4");
	alerts_free(a);
}

/* The daemon's way: a committed batch, its lookups in one read transaction,
 * and emit free to append the alert to the same store. */
static int append_alert(void *ctx, const struct alert_out *o)
{
	struct ak_buf b = AK_BUF_INIT(0);
	struct evidence_record r = {0};
	int rc;

	(void)ctx;
	capture(NULL, o);
	assert_int_equal(alerts_body(&b, o), 0);
	r.kind = "alert";
	r.time_us = o->time_us;
	r.source = "akashi";
	r.source_len = 6;
	r.body = b.data;
	r.body_len = b.len;
	rc = evidence_append(F.st, &r, 1, NULL, NULL);
	ak_buf_free(&b);
	return rc;
}

static void test_alerts__batch_feeds_then_emits_outside_its_transaction(void **state)
{
	struct evidence_entry e[12];
	struct ak_buf bodies[12];
	struct alerts *a = NULL;
	int64_t size;
	int i;

	(void)state;
	feed(NULL, "consent", BASE,
	     "{\"subject\":\"a@example.jp\",\"list\":\"news\",\"action\":\"opt_out\"}");
	assert_int_equal(alerts_new(&a, NULL, NULL, evidence_db(F.st), append_alert, NULL), 0);
	for (i = 0; i < 12; i++) {
		char body[128];
		struct evidence_record r = {0};

		if (i < 10)
			snprintf(body, sizeof(body),
			         "{\"action\":\"login_failure\",\"actor\":\"u%d\",\"ip\":\"192.0.2."
			         "9\"}",
			         i);
		else
			snprintf(body, sizeof(body),
			         "{\"list\":\"news\",\"rcpt\":\"a@example.jp\",\"status\":"
			         "\"sent\"}");
		ak_buf_init(&bodies[i], 0);
		assert_int_equal(ak_jcs_canonicalize(&bodies[i], body, strlen(body)), 0);
		r.kind = i < 10 ? "admin" : "send";
		r.time_us = BASE + SEC(i + 1);
		r.source = "t";
		r.source_len = 1;
		r.body = bodies[i].data;
		r.body_len = bodies[i].len;
		memset(&e[i], 0, sizeof(e[i]));
		assert_int_equal(evidence_append(F.st, &r, 1, &e[i].seq, NULL), 0);
		e[i].kind = r.kind;
		e[i].time_us = r.time_us;
		e[i].body = e[i].bytes = bodies[i].data;
		e[i].body_len = e[i].len = bodies[i].len;
	}
	assert_int_equal(alerts_feed_batch(a, e, 12), 0);
	/* bruteforce_src, spray, to_suppressed (once: the second is suppressed) */
	assert_int_equal(ncap, 3);
	assert_int_equal(count("login.bruteforce_src"), 1);
	assert_int_equal(count("login.spray_src"), 1);
	assert_int_equal(count("send.to_suppressed"), 1);
	assert_int_equal(first("login.spray_src")->nrefs, 10);
	assert_int_equal(evidence_size(F.st, &size), 0);
	assert_int_equal(size, 1 + 12 + 3);
	for (i = 0; i < 12; i++)
		ak_buf_free(&bodies[i]);
	alerts_free(a);
}

/* ---- robustness ---- */

static void test_alerts__out_of_order_entries(void **state)
{
	struct alerts *a = make(NULL, NULL);
	static const int order[] = {5, 0, 7, 2, 6, 1, 3, 4};
	const struct captured *c;
	int i;

	(void)state;
	/* The same 8 failures in 70 s, fed shuffled: one alert, window in order. */
	for (i = 0; i < 8; i++)
		FAIL(a, BASE + SEC(order[i] * 10), "tanaka", "203.0.113.66");
	assert_int_equal(count("login.bruteforce_src"), 1);
	c = first("login.bruteforce_src");
	assert_int_equal(c->from, BASE);
	assert_int_equal(c->to, BASE + SEC(70));
	/* A straggler from long before changes nothing and breaks nothing. */
	FAIL(a, BASE - SEC(86400 * 30), "tanaka", "203.0.113.66");
	OK(a, BASE - SEC(86400 * 30), "tanaka", "203.0.113.66");
	/* Random times around one hour for every rule's input: the checks in
	 * capture() hold for whatever fires. */
	srand(7);
	for (i = 0; i < 20000; i++) {
		int64_t t = BASE + SEC(rand() % 3600) - SEC(1800);
		char acct[16], ip[32];

		snprintf(acct, sizeof(acct), "u%d", rand() % 30);
		snprintf(ip, sizeof(ip), "192.0.2.%d", rand() % 5);
		if (rand() % 10)
			FAIL(a, t, acct, ip);
		else
			OK(a, t, acct, ip);
		if (i % 7 == 0)
			SEND(a, t, "z@example.jp",
			     ",\"campaign\":\"cx\",\"from\":\"n@example.jp\"");
	}
	assert_true(ncap > 0);
	alerts_free(a);
}

/* feed() takes bodies up to 2 KB; this one builds its own. */
static void feed_long(struct alerts *a, int64_t t, const char *acct, const char *ip)
{
	struct ak_buf b = AK_BUF_INIT(0), c = AK_BUF_INIT(0);
	struct evidence_entry e = {0};

	ak_buf_printf(&b, "{\"action\":\"login_failure\",\"actor\":\"%s\",\"ip\":\"%s\"}", acct,
	              ip);
	assert_int_equal(ak_jcs_canonicalize(&c, b.data, b.len), 0);
	e.seq = ++next_seq;
	e.kind = "admin";
	e.time_us = t;
	e.body = e.bytes = c.data;
	e.body_len = e.len = c.len;
	assert_int_equal(alerts_feed(a, &e), 0);
	ak_buf_free(&b);
	ak_buf_free(&c);
}

static void test_alerts__long_keys_are_bounded(void **state)
{
	struct alerts *a = make(NULL, NULL);
	char *acct = malloc(100001), ip[32];
	int i, k;

	(void)state;
	/* Two 100 KB account names that differ only in their last byte stay
	 * two accounts; each alert's key is cut to 256 bytes. */
	memset(acct, 'x', 100000);
	acct[100000] = '\0';
	for (k = 0; k < 2; k++) {
		acct[99999] = (char)('a' + k);
		for (i = 0; i < 10; i++) {
			snprintf(ip, sizeof(ip), "192.0.2.%d", i + 10 * k);
			feed_long(a, BASE + SEC(i + 20 * k), acct, ip);
		}
	}
	assert_int_equal(count("login.bruteforce_user"), 2);
	assert_int_equal(strlen(cap[0].key), 256);
	assert_int_equal(cap[1].nrefs, 10);
	assert_int_equal(cap[1].refs[0], 11);
	assert_true(strlen(cap[0].summary) < 400);
	free(acct);
	alerts_free(a);
}

static void test_alerts__keys_capped_under_a_million_addresses(void **state)
{
	struct alerts *a = make(NULL, NULL);
	char ip[48];
	int i;

	(void)state;
	for (i = 0; i < 1000000; i++) {
		snprintf(ip, sizeof(ip), "2001:db8::%x:%x", i >> 16, i & 0xffff);
		FAIL(a, BASE + i / 1000, "tanaka", ip); /* a millisecond apart */
	}
	assert_true(rule_stat(a, "login.bruteforce_src", "keys") <= 32768);
	assert_true(rule_stat(a, "login.spray_src", "keys") <= 32768);
	assert_true(rule_stat(a, "login.bruteforce_src", "evicted") > 900000);
	/* One account, a million failures: its window keeps 10. */
	assert_int_equal(rule_stat(a, "login.bruteforce_user", "keys"), 1);
	/* Detection still works for a fresh attacker after the flood. */
	ncap = 0;
	for (i = 0; i < 8; i++)
		FAIL(a, BASE + SEC(2000 + i), "sato", "203.0.113.200");
	assert_int_equal(count("login.bruteforce_src"), 1);
	alerts_free(a);
}

/* ---- alerts.json ---- */

static void rejected(const char *json, const char *msg)
{
	json_t *r = json_loads(json, JSON_DECODE_ANY, NULL);
	struct alerts *a = NULL;

	assert_non_null(r);
	assert_int_equal(alerts_check_rules(r), AK_EINVALID);
	if (strstr(ak_error_last(), msg) == NULL)
		fail_msg("for %s: got '%s', want '%s'", json, ak_error_last(), msg);
	assert_int_equal(alerts_new(&a, r, NULL, NULL, capture, NULL), AK_EINVALID);
	assert_null(a);
	assert_non_null(strstr(ak_error_last(), msg));
	json_decref(r);
}

static void test_alerts__bad_rules_rejected_naming_the_fault(void **state)
{
	json_t *r;

	(void)state;
	rejected("{\"login.foo\":{}}", "alerts.json: unknown rule 'login.foo'");
	rejected("{\"login.bruteforce_src\":{\"treshold\":8}}",
	         "alerts.json: login.bruteforce_src: unknown key 'treshold' (keys: enabled, "
	         "severity, suppress, threshold, window)");
	rejected("{\"login.bruteforce_src\":{\"threshold\":\"8\"}}",
	         "login.bruteforce_src: threshold: expected an integer from 1 to 10000, not a "
	         "string");
	rejected("{\"login.bruteforce_src\":{\"threshold\":8.5}}",
	         "threshold: expected an integer from 1 to 10000, not a floating-point number");
	rejected("{\"login.bruteforce_src\":{\"threshold\":0}}", "threshold: 0 is out of range");
	rejected("{\"login.bruteforce_user\":{\"window\":600}}",
	         "login.bruteforce_user: window: expected a duration like \"120s\"");
	rejected("{\"login.bruteforce_user\":{\"window\":\"1mo\"}}", "has no fixed length");
	rejected("{\"login.bruteforce_user\":{\"window\":\"10 min\"}}", "is not a duration");
	rejected("{\"login.bruteforce_user\":{\"enabled\":\"yes\"}}",
	         "enabled: expected true or false, not a string");
	rejected("{\"login.bruteforce_user\":{\"severity\":\"urgent\"}}",
	         "severity: expected one of info, low, medium, high, critical");
	rejected("{\"login.bruteforce_user\":[]}",
	         "login.bruteforce_user: expected an object of settings, not an array");
	rejected("[]", "alerts.json: expected an object with a member per rule, not an array");
	rejected("{\"login.off_hours_privileged\":{\"business_hours\":\"18:00-08:30 Mon-Fri\"}}",
	         "business_hours: '18:00-08:30 Mon-Fri': the day must start before it ends");
	rejected("{\"login.off_hours_privileged\":{\"business_hours\":\"08:30-18:00 Mon-Fry\"}}",
	         "is not business hours");
	rejected("{\"login.off_hours_privileged\":{\"timezone\":\"Asia/Nowhere\"}}",
	         "timezone: unknown time zone 'Asia/Nowhere'");
	rejected("{\"login.new_address_privileged\":{\"privileged_roles\":[\"admin\",3]}}",
	         "privileged_roles: item 1: expected a non-empty string");
	rejected("{\"send.volume_spike\":{\"window\":\"90m\"}}",
	         "send.volume_spike: window: must be a whole number of hours");
	rejected("{\"send.volume_spike\":{\"statuses\":[\"sent\",\"read\"]}}",
	         "statuses: item 1: not one of");
	rejected("{\"send.mass_unapproved\":{\"threshold\":2000000}}", "out of range");
	rejected("{\"dmarc.unknown_source\":{\"own_domains\":\"example.jp\"}}",
	         "own_domains: expected an array of strings, not a string");

	r = json_loads("{\"login.bruteforce_src\":{\"threshold\":5,\"window\":\"1m\","
	               "\"suppress\":\"0\",\"severity\":\"critical\",\"enabled\":true},"
	               "\"login.spray_src\":{\"fast_threshold\":0},"
	               "\"login.off_hours_privileged\":{\"business_hours\":\"00:00-24:00 Sat-Sun\","
	               "\"timezone\":\"UTC\"},\"send.volume_spike\":{\"window\":\"2w\","
	               "\"statuses\":[\"queued\"],\"factor\":5,\"min_hours\":24,\"min_count\":0},"
	               "\"dmarc.unknown_source\":{\"threshold\":1,\"own_domains\":[\"a.jp\"]}}",
	               0, NULL);
	assert_int_equal(alerts_check_rules(r), 0);
	json_decref(r);
	r = json_object();
	assert_int_equal(alerts_check_rules(r), 0);
	json_decref(r);
	assert_int_equal(alerts_check_rules(NULL), 0);
}

static void test_alerts__body_is_canonical_json(void **state)
{
	static const int64_t refs[] = {3, 9};
	struct alert_out o = {"login.bruteforce_src",
	                      "high",
	                      "8 failed logins for \"ta\\naka\"\n",
	                      refs,
	                      2,
	                      0,
	                      0,
	                      0,
	                      "203.0.113.66"};
	struct ak_buf b = AK_BUF_INIT(0), c = AK_BUF_INIT(0);

	(void)state;
	o.window_from_us = BASE;
	o.window_to_us = BASE + 500000;
	assert_int_equal(alerts_body(&b, &o), 0);
	assert_string_equal(
	        b.data,
	        "{\"key\":\"203.0.113.66\",\"refs\":[3,9],\"rule\":\"login.bruteforce_src\","
	        "\"severity\":\"high\",\"summary\":\"8 failed logins for "
	        "\\\"ta\\\\naka\\\"\\n\",\"window\":{\"from\":\"2026-07-01T00:00:00Z\","
	        "\"to\":\"2026-07-01T00:00:00.500000Z\"}}");
	assert_int_equal(ak_jcs_canonicalize(&c, b.data, b.len), 0);
	assert_string_equal(b.data, c.data);
	ak_buf_free(&b);
	ak_buf_free(&c);
}

static const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_alerts__bruteforce_src_fires_at_8_in_120s, setup),
        cmocka_unit_test_setup(test_alerts__bruteforce_src_7_do_not_fire, setup),
        cmocka_unit_test_setup(test_alerts__bruteforce_src_8_over_121s_do_not_fire, setup),
        cmocka_unit_test_setup(test_alerts__bruteforce_user_fires_at_10_in_10min, setup),
        cmocka_unit_test_setup(test_alerts__suppression_one_incident_one_alert, setup),
        cmocka_unit_test_setup(test_alerts__disabled_rule_is_quiet, setup),
        cmocka_unit_test_setup(test_alerts__spray_slow_10_accounts_in_24h, setup),
        cmocka_unit_test_setup(test_alerts__spray_fast_15_accounts_in_5min, setup),
        cmocka_unit_test_setup(test_alerts__fail_then_success_within_1h, setup),
        cmocka_unit_test_setup(test_alerts__fail_then_success_after_1h_is_quiet, setup),
        cmocka_unit_test_setup(test_alerts__fail_then_success_from_brute_forcing_address, setup),
        cmocka_unit_test_setup_teardown(test_alerts__new_address_privileged, setup_store,
                                        teardown_store),
        cmocka_unit_test_setup_teardown(test_alerts__new_address_roles_from_config_and_rules,
                                        setup_store, teardown_store),
        cmocka_unit_test_setup_teardown(test_alerts__off_hours_in_tokyo, setup_store,
                                        teardown_store),
        cmocka_unit_test_setup_teardown(test_alerts__off_hours_from_config, setup_store,
                                        teardown_store),
        cmocka_unit_test_setup(test_alerts__mass_send_without_approval, setup),
        cmocka_unit_test_setup_teardown(test_alerts__mass_send_approvals, setup_store,
                                        teardown_store),
        cmocka_unit_test_setup(test_alerts__volume_spike_with_history, setup),
        cmocka_unit_test_setup(test_alerts__volume_spike_needs_history, setup),
        cmocka_unit_test_setup_teardown(test_alerts__to_suppressed, setup_store, teardown_store),
        cmocka_unit_test_setup(test_alerts__dmarc_unknown_source, setup),
        cmocka_unit_test_setup_teardown(test_alerts__batch_feeds_then_emits_outside_its_transaction,
                                        setup_store, teardown_store),
        cmocka_unit_test_setup(test_alerts__out_of_order_entries, setup),
        cmocka_unit_test_setup(test_alerts__long_keys_are_bounded, setup),
        cmocka_unit_test_setup(test_alerts__keys_capped_under_a_million_addresses, setup),
        cmocka_unit_test(test_alerts__bad_rules_rejected_naming_the_fault),
        cmocka_unit_test(test_alerts__body_is_canonical_json),
};

AK_UNIT_MAIN(tests)
