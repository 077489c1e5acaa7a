/*
 * auditd/alerts/rules.c - alerts.json: the rule table, each rule's keys
 * and defaults, and the checks that turn a document into settings.
 *
 * alerts.json is one object with a member per rule to change; every member
 * of a rule is optional and the rest keep their defaults, so `{}` (or no
 * file) means the defaults. Anything unknown is an error naming it: a
 * misspelt key must not leave a rule silently at its default. The format is
 * documented in docs/POLICIES.md under "Alert rules"; keep them together.
 */
#include "auditd/alerts/alerts_int.h"

#include "lib/error.h"
#include "lib/timefmt.h"
#include "policies/policy.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const alert_rule_names[R_COUNT] = {
        [R_BF_USER] = "login.bruteforce_user",
        [R_BF_SRC] = "login.bruteforce_src",
        [R_SPRAY] = "login.spray_src",
        [R_FAIL_SUCCESS] = "login.fail_then_success",
        [R_NEW_ADDR] = "login.new_address_privileged",
        [R_OFF_HOURS] = "login.off_hours_privileged",
        [R_MASS] = "send.mass_unapproved",
        [R_VOLUME] = "send.volume_spike",
        [R_SUPPRESSED] = "send.to_suppressed",
        [R_DMARC] = "dmarc.unknown_source",
};

const char *const alert_severities[] = {"info", "low", "medium", "high", "critical", NULL};

/* The statuses of a send entry (auditd/ingest/kinds.c), bit i for item i. */
const char *const alert_send_statuses[] = {"queued",  "sent",       "deferred", "bounced",
                                           "blocked", "complained", "expired",  NULL};

enum ktype { K_BOOL, K_SEV, K_INT, K_DUR, K_HOURS, K_ZONE, K_STRS, K_STATUSES };

struct keyspec {
	const char *name;
	enum ktype type;
	int64_t min, max; /* K_INT: value; K_DUR: seconds */
};

#define DAY INT64_C(86400)
#define COMMON                                                                                     \
	{"enabled", K_BOOL, 0, 0}, {"severity", K_SEV, 0, 0},                                      \
	{                                                                                          \
		"suppress", K_DUR, 0, 30 * DAY                                                     \
	}
#define END                                                                                        \
	{                                                                                          \
		NULL, 0, 0, 0                                                                      \
	}

static const struct keyspec k_count[] = {COMMON,
                                         {"threshold", K_INT, 1, ALERT_LOGIN_THRESHOLD_MAX},
                                         {"window", K_DUR, 1, 7 * DAY},
                                         END};
static const struct keyspec k_spray[] = {COMMON,
                                         {"threshold", K_INT, 1, ALERT_LOGIN_THRESHOLD_MAX},
                                         {"window", K_DUR, 1, 7 * DAY},
                                         {"fast_threshold", K_INT, 0, ALERT_LOGIN_THRESHOLD_MAX},
                                         {"fast_window", K_DUR, 1, 7 * DAY},
                                         END};
static const struct keyspec k_fts[] = {COMMON, {"window", K_DUR, 1, 7 * DAY}, END};
static const struct keyspec k_new_addr[] = {COMMON, {"privileged_roles", K_STRS, 0, 0}, END};
static const struct keyspec k_off_hours[] = {COMMON,
                                             {"privileged_roles", K_STRS, 0, 0},
                                             {"business_hours", K_HOURS, 0, 0},
                                             {"timezone", K_ZONE, 0, 0},
                                             END};
static const struct keyspec k_mass[] = {
        COMMON, {"threshold", K_INT, 1, ALERT_MASS_THRESHOLD_MAX}, END};
static const struct keyspec k_volume[] = {COMMON,
                                          {"factor", K_INT, 1, 1000},
                                          {"window", K_DUR, 3600, 28 * DAY},
                                          {"min_hours", K_INT, 1, 28 * 24},
                                          {"min_count", K_INT, 0, INT64_C(1000000000)},
                                          {"statuses", K_STATUSES, 0, 0},
                                          END};
static const struct keyspec k_plain[] = {COMMON, END};
static const struct keyspec k_dmarc[] = {COMMON,
                                         {"threshold", K_INT, 1, INT64_C(1000000000000)},
                                         {"own_domains", K_STRS, 0, 0},
                                         END};

static const struct keyspec *const rule_keys[R_COUNT] = {
        [R_BF_USER] = k_count,    [R_BF_SRC] = k_count,      [R_SPRAY] = k_spray,
        [R_FAIL_SUCCESS] = k_fts, [R_NEW_ADDR] = k_new_addr, [R_OFF_HOURS] = k_off_hours,
        [R_MASS] = k_mass,        [R_VOLUME] = k_volume,     [R_SUPPRESSED] = k_plain,
        [R_DMARC] = k_dmarc,
};

#define S(n) ((int64_t)(n)*US_PER_S)

static void defaults(struct rule_conf c[R_COUNT])
{
	int r;

	memset(c, 0, sizeof(struct rule_conf) * R_COUNT);
	for (r = 0; r < R_COUNT; r++) {
		c[r].enabled = 1;
		c[r].severity = 3; /* high */
	}
	/* Sigma correlation spec example: 10 failures per user in 10 min. */
	c[R_BF_USER].threshold = 10;
	c[R_BF_USER].window_us = S(600);
	c[R_BF_USER].suppress_us = S(600);
	/* Wazuh 5712: 8 in 120 s from one source, ignore 60 s. */
	c[R_BF_SRC].threshold = 8;
	c[R_BF_SRC].window_us = S(120);
	c[R_BF_SRC].suppress_us = S(60);
	/* Sigma: > 10 users per source in 24 h; Sentinel Okta: > 15 in 5 min. */
	c[R_SPRAY].threshold = 10;
	c[R_SPRAY].window_us = S(DAY);
	c[R_SPRAY].fast_threshold = 15;
	c[R_SPRAY].fast_window_us = S(300);
	c[R_SPRAY].suppress_us = S(DAY);
	c[R_FAIL_SUCCESS].severity = 4;
	c[R_FAIL_SUCCESS].window_us = S(3600);
	c[R_FAIL_SUCCESS].suppress_us = S(3600);
	c[R_NEW_ADDR].suppress_us = S(3600);
	/* Wazuh 17101/17102: level 9 of 15, a medium. */
	c[R_OFF_HOURS].severity = 2;
	c[R_OFF_HOURS].suppress_us = S(3600);
	c[R_OFF_HOURS].hours.days = 0x3e; /* Mon-Fri */
	c[R_OFF_HOURS].hours.start_s = 8 * 3600 + 30 * 60;
	c[R_OFF_HOURS].hours.end_s = 18 * 3600;
	c[R_MASS].threshold = 10000;
	c[R_MASS].suppress_us = S(7 * DAY);
	c[R_VOLUME].factor = 3;
	c[R_VOLUME].window_us = S(7 * DAY);
	c[R_VOLUME].min_hours = 6;
	c[R_VOLUME].threshold = 100;                  /* min_count */
	c[R_VOLUME].statuses = (1u << 1) | (1u << 3); /* sent, bounced */
	c[R_VOLUME].suppress_us = S(3600);
	c[R_SUPPRESSED].severity = 4;
	c[R_SUPPRESSED].suppress_us = S(DAY);
	c[R_DMARC].threshold = 100;
	c[R_DMARC].suppress_us = S(DAY);
}

void rules_conf_clear(struct rule_conf conf[R_COUNT])
{
	int r;
	size_t i;

	for (r = 0; r < R_COUNT; r++) {
		for (i = 0; i < conf[r].nstrings; i++)
			free(conf[r].strings[i]);
		free(conf[r].strings);
		free(conf[r].zone);
		conf[r].strings = NULL;
		conf[r].nstrings = 0;
		conf[r].zone = NULL;
	}
}

static const char *day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static int day_of(const char *s, size_t n)
{
	int d;

	if (n != 3)
		return -1;
	for (d = 0; d < 7; d++)
		if (strncasecmp(s, day_names[d], 3) == 0)
			return d;
	return -1;
}

static int clock_of(const char *s, int *out)
{
	int h, m;

	if (!(s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' && s[2] == ':' &&
	      s[3] >= '0' && s[3] <= '9' && s[4] >= '0' && s[4] <= '9'))
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && m != 0))
		return -1;
	*out = h * 3600 + m * 60;
	return 0;
}

int rules_parse_hours(const char *s, struct business_hours *h)
{
	const char *p;
	unsigned days = 0;

	if (strlen(s) < 13 || clock_of(s, &h->start_s) != 0 || s[5] != '-' ||
	    clock_of(s + 6, &h->end_s) != 0 || s[11] != ' ')
		goto bad;
	if (h->start_s >= h->end_s)
		return ak_error_code(AK_EINVALID, "'%.40s': the day must start before it ends", s);
	/* Days: "Mon-Fri", "Mon,Wed,Fri", "Sat-Sun,Wed" (a range may wrap). */
	for (p = s + 12; *p;) {
		const char *e = p + strcspn(p, ",");
		const char *dash = memchr(p, '-', (size_t)(e - p));
		int a, b;

		if (dash) {
			a = day_of(p, (size_t)(dash - p));
			b = day_of(dash + 1, (size_t)(e - dash - 1));
		} else {
			a = b = day_of(p, (size_t)(e - p));
		}
		if (a < 0 || b < 0)
			goto bad;
		for (;; a = (a + 1) % 7) {
			days |= 1u << a;
			if (a == b)
				break;
		}
		p = *e ? e + 1 : e;
		if (*e && !*p)
			goto bad;
	}
	if (days == 0)
		goto bad;
	h->days = days;
	return 0;
bad:
	return ak_error_code(AK_EINVALID,
	                     "'%.40s' is not business hours like \"08:30-18:00 Mon-Fri\"", s);
}

static int fail(const char *rule, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int fail(const char *rule, const char *key, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ak_error_code(AK_EINVALID, "alerts.json: %s: %s: %s", rule, key, msg);
}

/* A JSON string without NUL, or NULL. */
static const char *plain_string(const json_t *v)
{
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

static int duration(const char *rule, const struct keyspec *k, const json_t *v, int64_t *out_us)
{
	struct policy_duration d;
	const char *s = plain_string(v);
	int64_t sec;

	if (s == NULL)
		return fail(rule, k->name,
		            "expected a duration like \"120s\", \"10m\", \"24h\", not %s",
		            ak_json_type_name(v));
	if (policy_duration_parse(s, &d) != 0)
		return fail(rule, k->name, "%s", ak_error_last());
	switch (d.unit) {
	case POLICY_SECONDS:
		sec = d.n;
		break;
	case POLICY_MINUTES:
		sec = d.n * 60;
		break;
	case POLICY_HOURS:
		sec = d.n * 3600;
		break;
	case POLICY_DAYS:
		sec = d.n * DAY;
		break;
	case POLICY_WEEKS:
		sec = d.n * 7 * DAY;
		break;
	default:
		return fail(rule, k->name, "'%s' has no fixed length; use s, m, h, d or w", s);
	}
	if (sec < k->min || sec > k->max)
		return fail(rule, k->name, "'%s' is out of range (%lld s to %lld s)", s,
		            (long long)k->min, (long long)k->max);
	*out_us = sec * US_PER_S;
	return 0;
}

static int strings(const char *rule, const struct keyspec *k, const json_t *v, struct rule_conf *c)
{
	size_t i, n;

	if (!json_is_array(v))
		return fail(rule, k->name, "expected an array of strings, not %s",
			    ak_json_type_name(v));
	n = json_array_size(v);
	if (n > 1000)
		return fail(rule, k->name, "more than 1000 items");
	for (i = 0; i < n; i++) {
		const char *s = plain_string(json_array_get(v, i));

		if (s == NULL || !*s || strlen(s) > 255)
			return fail(rule, k->name,
			            "item %zu: expected a non-empty string of at most "
			            "255 bytes",
			            i);
	}
	if ((c->strings = calloc(n + 1, sizeof(char *))) == NULL)
		return ak_error_oom();
	for (i = 0; i < n; i++) {
		if ((c->strings[i] = strdup(json_string_value(json_array_get(v, i)))) == NULL)
			return ak_error_oom();
		c->nstrings = i + 1;
	}
	return 0;
}

static int statuses(const char *rule, const struct keyspec *k, const json_t *v, unsigned *out)
{
	size_t i;
	unsigned bits = 0;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return fail(rule, k->name, "expected a non-empty array of send statuses, not %s",
		            json_is_array(v) ? "an empty one" : ak_json_type_name(v));
	for (i = 0; i < json_array_size(v); i++) {
		const char *s = plain_string(json_array_get(v, i));
		int j;

		for (j = 0; s && alert_send_statuses[j]; j++)
			if (strcmp(s, alert_send_statuses[j]) == 0)
				break;
		if (s == NULL || alert_send_statuses[j] == NULL)
			return fail(
			        rule, k->name,
			        "item %zu: not one of queued, sent, deferred, bounced, blocked, "
			        "complained, expired",
			        i);
		bits |= 1u << j;
	}
	*out = bits;
	return 0;
}

static int one_key(const char *rule, const struct keyspec *k, const json_t *v, struct rule_conf *c)
{
	const char *s;
	int i, off;

	switch (k->type) {
	case K_BOOL:
		if (!json_is_boolean(v))
			return fail(rule, k->name, "expected true or false, not %s",
				    ak_json_type_name(v));
		c->enabled = json_is_true(v);
		return 0;
	case K_SEV:
		s = plain_string(v);
		for (i = 0; s && alert_severities[i]; i++)
			if (strcmp(s, alert_severities[i]) == 0) {
				c->severity = i;
				return 0;
			}
		return fail(rule, k->name, "expected one of info, low, medium, high, critical%s%s",
		            s ? "" : ", not ", s ? "" : ak_json_type_name(v));
	case K_INT: {
		int64_t n;

		if (!json_is_integer(v))
			return fail(rule, k->name, "expected an integer from %lld to %lld, not %s",
			            (long long)k->min, (long long)k->max, ak_json_type_name(v));
		n = json_integer_value(v);
		if (n < k->min || n > k->max)
			return fail(rule, k->name, "%lld is out of range (%lld to %lld)",
			            (long long)n, (long long)k->min, (long long)k->max);
		if (strcmp(k->name, "threshold") == 0 || strcmp(k->name, "min_count") == 0) {
			c->threshold = n;
			c->has_threshold = 1;
		} else if (strcmp(k->name, "fast_threshold") == 0) {
			c->fast_threshold = n;
		} else if (strcmp(k->name, "factor") == 0) {
			c->factor = n;
		} else {
			c->min_hours = n;
		}
		return 0;
	}
	case K_DUR: {
		int64_t us = 0;
		int rc = duration(rule, k, v, &us);

		if (rc != 0)
			return rc;
		if (strcmp(k->name, "suppress") == 0)
			c->suppress_us = us;
		else if (strcmp(k->name, "fast_window") == 0)
			c->fast_window_us = us;
		else
			c->window_us = us;
		return 0;
	}
	case K_HOURS:
		if ((s = plain_string(v)) == NULL)
			return fail(rule, k->name,
			            "expected a string like \"08:30-18:00 Mon-Fri\", "
			            "not %s",
			            ak_json_type_name(v));
		if (rules_parse_hours(s, &c->hours) != 0)
			return fail(rule, k->name, "%s", ak_error_last());
		c->has_hours = 1;
		return 0;
	case K_ZONE:
		if ((s = plain_string(v)) == NULL || !*s || strlen(s) > 64)
			return fail(rule, k->name, "expected a time zone name like \"Asia/Tokyo\"");
		if (ak_time_zone_offset(s, 0, &off) != 0)
			return fail(rule, k->name, "unknown time zone '%s'", s);
		free(c->zone);
		if ((c->zone = strdup(s)) == NULL)
			return ak_error_oom();
		return 0;
	case K_STRS:
		return strings(rule, k, v, c);
	case K_STATUSES:
		return statuses(rule, k, v, &c->statuses);
	}
	return 0;
}

static int one_rule(int r, const json_t *obj, struct rule_conf *c)
{
	const char *rule = alert_rule_names[r], *key;
	json_t *v;
	int rc;

	if (!json_is_object(obj))
		return ak_error_code(AK_EINVALID,
		                     "alerts.json: %s: expected an object of settings, "
		                     "not %s",
		                     rule, ak_json_type_name(obj));
	json_object_foreach((json_t *)obj, key, v)
	{
		const struct keyspec *k;
		char names[256] = "";

		for (k = rule_keys[r]; k->name; k++)
			if (strcmp(k->name, key) == 0)
				break;
		if (k->name == NULL) {
			for (k = rule_keys[r]; k->name; k++) {
				strncat(names, k->name, sizeof(names) - strlen(names) - 1);
				if (k[1].name)
					strncat(names, ", ", sizeof(names) - strlen(names) - 1);
			}
			return ak_error_code(AK_EINVALID,
			                     "alerts.json: %s: unknown key '%.60s' (keys: %s)",
			                     rule, key, names);
		}
		if ((rc = one_key(rule, k, v, c)) != 0)
			return rc;
	}
	if (r == R_VOLUME && c->window_us % (3600 * US_PER_S) != 0)
		return fail(rule, "window", "must be a whole number of hours");
	return 0;
}

int rules_parse(const json_t *rules, struct rule_conf conf[R_COUNT])
{
	const char *name;
	json_t *v;
	int r, rc;

	defaults(conf);
	if (rules == NULL || json_is_null(rules))
		return 0;
	if (!json_is_object(rules))
		return ak_error_code(AK_EINVALID,
		                     "alerts.json: expected an object with a member "
		                     "per rule, not %s",
		                     ak_json_type_name(rules));
	json_object_foreach((json_t *)rules, name, v)
	{
		for (r = 0; r < R_COUNT; r++)
			if (strcmp(alert_rule_names[r], name) == 0)
				break;
		if (r == R_COUNT) {
			rc = ak_error_code(
			        AK_EINVALID,
			        "alerts.json: unknown rule '%.60s' (rules: login.bruteforce_user, "
			        "login.bruteforce_src, login.spray_src, "
			        "login.fail_then_success, login.new_address_privileged, "
			        "login.off_hours_privileged, send.mass_unapproved, "
			        "send.volume_spike, send.to_suppressed, dmarc.unknown_source)",
			        name);
			goto fail;
		}
		if ((rc = one_rule(r, v, &conf[r])) != 0)
			goto fail;
	}
	return 0;
fail:
	rules_conf_clear(conf);
	return rc;
}

int alerts_check_hours(const char *s)
{
	struct business_hours h;

	return rules_parse_hours(s, &h);
}

int alerts_check_rules(const json_t *rules)
{
	struct rule_conf conf[R_COUNT];
	int rc = rules_parse(rules, conf);

	rules_conf_clear(conf);
	return rc;
}
