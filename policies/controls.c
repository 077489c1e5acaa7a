/*
 * policies/controls.c - the table of built-in controls and their
 * parameters, and the small value types policies use (durations, ratios).
 * docs/POLICIES.md describes each control; a parameter added here is
 * documented there in the same change.
 */
#include "policies/policy.h"

#include "lib/error.h"
#include "lib/timefmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const streams[] = {"marketing", "transactional", NULL};
static const char *const deadline_profiles[] = {"jp", "gmail", "can-spam", "casl", NULL};
static const char *const password_profiles[] = {"pci-dss-4", "nist-800-63b-4", "off", NULL};
static const char *const exemptions[] = {"business_relationship", "address_notified",
					 "published_address", NULL};

static const struct policy_param_spec optin_proof[] = {
	{"streams", POLICY_ENUMS, "[\"marketing\"]", streams,
	 "the streams whose sends need consent"},
	{"exemptions", POLICY_ENUMS,
	 "[\"business_relationship\",\"address_notified\",\"published_address\"]", exemptions,
	 "flagged exemptions accepted instead of an opt-in (特定電子メール法 Art. 3(1))"},
	{"confirm_methods", POLICY_STRINGS, "[\"double_opt_in\"]", NULL,
	 "opt-in methods that need a confirmation (a confirm entry, or confirmation_id and "
	 "confirmed_at in the proof) before sends"},
	{"accept_proof_none", POLICY_BOOL, "false", NULL,
	 "accept opt-ins recorded without any proof (\"proof\":\"none\")"},
	{NULL, 0, NULL, NULL, NULL}};

static const struct policy_param_spec unsubscribe_deadline[] = {
        {"streams", POLICY_ENUMS, "[\"marketing\"]", streams,
         "the streams an opt-out stops (transactional mail may still go)"},
        {"profiles", POLICY_ENUMS, "[\"jp\"]", deadline_profiles,
         "the laws and mailbox rules that apply; the strictest deadline wins"},
        {"deadline", POLICY_DURATION, "\"\"", NULL,
         "a deadline of your own instead of the profiles' (e.g. \"1h\")"},
        {"jp_grace", POLICY_DURATION, "\"1h\"", NULL,
         "processing time allowed under the jp profile (the Act sets no period)"},
        {"timezone", POLICY_ZONE, "\"Asia/Tokyo\"", NULL, "zone of the business-day calendar"},
        {"holidays", POLICY_DATES, "[]", NULL, "dates that are not business days"},
        {NULL, 0, NULL, NULL, NULL}};

static const struct policy_param_spec proof_retention[] = {
	{"after_last_send", POLICY_DURATION, "\"1mo\"", NULL,
	 "keep consent proof at least this long after the last send to the address "
	 "(特定電子メール法 Rule 4)"},
	{"order_active", POLICY_BOOL, "false", NULL,
	 "a ministerial order is in force: one year after the last send instead"},
	{"org_default", POLICY_DURATION, "\"3y\"", NULL,
	 "the organisation's own floor (CASL limitation period)"},
	{NULL, 0, NULL, NULL, NULL}};

static const struct policy_param_spec access_review[] = {
	{"privileged_roles", POLICY_STRINGS,
	 "[\"admin\",\"root\",\"superuser\",\"owner\",\"security_admin\"]", NULL,
	 "roles that make an account privileged"},
	{"privileged_interval", POLICY_DURATION, "\"90d\"", NULL,
	 "longest time between two reviews of a privileged account"},
	{"all_accounts", POLICY_BOOL, "false", NULL, "review every account, not only privileged"},
	{"all_interval", POLICY_DURATION, "\"180d\"", NULL,
	 "longest time between two reviews of any account (PCI DSS 7.2.4)"},
	{NULL, 0, NULL, NULL, NULL}};

static const struct policy_param_spec password_rotation[] = {
	{"profile", POLICY_ENUM, "\"pci-dss-4\"", password_profiles,
	 "pci-dss-4: change every max_age (password-only accounts); nist-800-63b-4: no "
	 "periodic change, change after a compromise; off"},
	{"max_age", POLICY_DURATION, "\"90d\"", NULL, "longest password age (pci-dss-4)"},
	{"exempt_mfa", POLICY_BOOL, "true", NULL,
	 "accounts with a second factor are out of scope (PCI DSS 8.3.9)"},
	{"compromise_deadline", POLICY_DURATION, "\"1d\"", NULL,
	 "nist-800-63b-4: a password must change this soon after evidence of compromise "
	 "(an admin entry with details.compromised true)"},
	{NULL, 0, NULL, NULL, NULL}};

static const struct policy_param_spec mass_approval[] = {
	{"threshold", POLICY_INT, "10000", NULL,
	 "a campaign with more recipients than this needs a second person's approval"},
	{NULL, 0, NULL, NULL, NULL}};

static const struct policy_param_spec unsubscribe_headers[] = {
	{"streams", POLICY_ENUMS, "[\"marketing\"]", streams, "the streams that need the headers"},
	{"require_https", POLICY_BOOL, "true", NULL,
	 "List-Unsubscribe must hold an https URI (RFC 8058 one-click)"},
	{"link_validity", POLICY_DURATION, "\"60d\"", NULL,
	 "how long the unsubscribe link must keep working after the send (CASL)"},
	{NULL, 0, NULL, NULL, NULL}};

static const struct policy_param_spec dmarc_alignment[] = {
	{"domains", POLICY_STRINGS, "[]", NULL,
	 "your own domains; empty: every policy domain seen in the reports"},
	{"warn_below", POLICY_RATIO, "\"0.98\"", NULL, "aligned pass share below which to warn"},
	{"fail_below", POLICY_RATIO, "\"0.95\"", NULL, "aligned pass share below which to fail"},
	{"flag_p_none", POLICY_BOOL, "true", NULL, "a published p=none is an exception"},
	{"top_sources", POLICY_INT, "10", NULL, "failing source addresses listed per domain"},
	{NULL, 0, NULL, NULL, NULL}};

static const struct policy_param_spec suppression[] = {
	{"streams", POLICY_ENUMS, "[\"marketing\",\"transactional\"]", streams,
	 "the streams that may not go to a suppressed address"},
	{"hard_bounce", POLICY_BOOL, "true", NULL, "a 5xx bounce suppresses the address"},
	{"complaint", POLICY_BOOL, "true", NULL, "a spam complaint suppresses the address"},
	{NULL, 0, NULL, NULL, NULL}};

const struct policy_control_spec policy_controls[] = {
	{"consent.optin_proof",
	 "every send in scope had, before it, a proven opt-in (or flagged exemption) for its "
	 "recipient and list, and no later opt-out",
	 1, optin_proof},
	{"consent.unsubscribe_deadline",
	 "no send to a recipient later than the deadline after their opt-out", 1,
	 unsubscribe_deadline},
	{"consent.proof_retention",
	 "consent proof is kept at least until its retention floor; retention never purges "
	 "below it",
	 0, proof_retention},
	{"access.review",
	 "every account in scope was reviewed within the interval, by someone other than its "
	 "holder",
	 0, access_review},
	{"password.rotation", "every account in scope changed its password within the maximum age",
	 0, password_rotation},
	{"send.mass_approval",
	 "a campaign above the threshold was approved by a second person before its first send",
	 1, mass_approval},
	{"message.unsubscribe_headers",
	 "mail in scope carries List-Unsubscribe (https) and List-Unsubscribe-Post, DKIM-signed",
	 1, unsubscribe_headers},
	{"dmarc.alignment",
	 "aligned DMARC pass share per own domain, from aggregate reports; p=none and failing "
	 "sources flagged",
	 0, dmarc_alignment},
	{"send.suppression",
	 "no send to an address after a hard bounce or complaint suppressed it", 1, suppression},
	{NULL, NULL, 0, NULL},
};

const char *const policy_scope_keys[] = {"streams", "lists", "domains", "roles", NULL};
const char *const policy_severities[] = {"info", "low", "medium", "high", "critical", NULL};

const struct policy_control_spec *policy_control_find(const char *name)
{
	const struct policy_control_spec *c;

	for (c = policy_controls; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* ---- durations ---- */

int policy_duration_parse(const char *s, struct policy_duration *out)
{
	static const struct {
		const char *suffix;
		enum policy_unit unit;
	} units[] = {{"mo", POLICY_MONTHS},  {"bd", POLICY_BUSINESS_DAYS}, {"s", POLICY_SECONDS},
		     {"m", POLICY_MINUTES},  {"h", POLICY_HOURS},          {"d", POLICY_DAYS},
		     {"w", POLICY_WEEKS},    {"y", POLICY_YEARS}};
	char *end;
	long long n;
	size_t i;

	if (strcmp(s, "0") == 0) {
		out->n = 0;
		out->unit = POLICY_SECONDS;
		return 0;
	}
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || end == s || *s == '-' || *s == '+' || *s == ' ' || n > 1000000)
		goto bad;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].suffix) == 0) {
			out->n = n;
			out->unit = units[i].unit;
			return 0;
		}
bad:
	return ak_error_code(AK_EINVALID,
			     "'%s' is not a duration (a whole number and a unit: s, m, h, d, w, "
			     "bd (business days), mo, y; e.g. \"90d\")",
			     s);
}

int policy_duration_format(const struct policy_duration *d, char *out, size_t cap)
{
	static const char *names[] = {"second", "minute", "hour",  "day",
				      "week",   "month",  "year",  "business day"};
	int n = snprintf(out, cap, "%lld %s%s", (long long)d->n, names[d->unit],
			 d->n == 1 ? "" : "s");

	return n < 0 || (size_t)n >= cap ? ak_error_set("duration text too long") : 0;
}

static int is_holiday(const struct policy_calendar *cal, int y, int m, int d)
{
	char day[11];
	const char *const *h;

	if (cal == NULL || cal->holidays == NULL)
		return 0;
	snprintf(day, sizeof(day), "%04d-%02d-%02d", y, m, d);
	for (h = cal->holidays; *h; h++)
		if (strcmp(*h, day) == 0)
			return 1;
	return 0;
}

int policy_duration_add(int64_t t_us, const struct policy_duration *d,
			const struct policy_calendar *cal, int64_t *out_us)
{
	static const int64_t secs[] = {1, 60, 3600, 86400, 604800};
	const char *zone = cal && cal->zone ? cal->zone : "UTC";
	int y, mo, day, h, mi, s, off, rc;
	int64_t local, frac = t_us % 1000000;

	if (frac < 0)
		frac += 1000000;
	if (d->unit <= POLICY_WEEKS) {
		*out_us = t_us + d->n * secs[d->unit] * 1000000;
		return 0;
	}
	/* Calendar arithmetic on the local date and time of day. */
	if ((rc = ak_time_zone_offset(zone, t_us, &off)) != 0)
		return rc;
	local = t_us + (int64_t)off * 1000000;
	ak_time_to_civil(local, &y, &mo, &day, &h, &mi, &s, NULL);
	if (d->unit == POLICY_MONTHS || d->unit == POLICY_YEARS) {
		int64_t months = d->unit == POLICY_MONTHS ? d->n : d->n * 12;
		int64_t total = (int64_t)y * 12 + (mo - 1) + months;

		y = (int)(total / 12);
		mo = (int)(total % 12) + 1;
		if (day > ak_time_days_in_month(y, mo))
			day = ak_time_days_in_month(y, mo);
	} else {
		int64_t left = d->n, days = ak_time_from_civil(y, mo, day, 0, 0, 0) / 86400;

		while (left > 0) {
			int wday;

			days++;
			ak_time_to_civil(days * 86400 * 1000000, &y, &mo, &day, NULL, NULL, NULL,
					 &wday);
			if (wday != 0 && wday != 6 && !is_holiday(cal, y, mo, day))
				left--;
		}
	}
	if ((rc = ak_time_local(zone, y, mo, day, h, mi, s, out_us)) != 0) {
		/* The same wall-clock time does not exist that day (DST): keep
		 * the elapsed offset instead. */
		*out_us = ak_time_from_civil(y, mo, day, h, mi, s) * 1000000 -
			  (int64_t)off * 1000000;
	}
	*out_us += frac;
	return 0;
}

void policy_ratio_text(char out[16], int64_t part, int64_t whole)
{
	int64_t e4;

	if (whole <= 0) {
		out[0] = '\0';
		return;
	}
	if (part < 0)
		part = 0;
	e4 = part >= whole ? 10000 : part * 10000 / whole;
	snprintf(out, 16, "%lld.%04lld", (long long)(e4 / 10000), (long long)(e4 % 10000));
}

int policy_ratio_parse(const char *s, int64_t *out_ppm)
{
	int64_t whole = 0, frac = 0, scale = 1000000;
	int dropped = 0; /* a nonzero digit past the sixth: "1.0000001" is above 1 */
	const char *p = s;

	if (*p < '0' || *p > '9')
		goto bad;
	/* Past 1 the value is refused anyway: stop counting before it
	 * could overflow (and wrap round to an accepted number). */
	for (; *p >= '0' && *p <= '9'; p++)
		if (whole <= 1)
			whole = whole * 10 + (*p - '0');
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			goto bad;
		while (*p >= '0' && *p <= '9') {
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			} else if (*p != '0') {
				dropped = 1;
			}
			p++;
		}
	}
	if (*p != '\0' || whole > 1 || (whole == 1 && (frac > 0 || dropped)))
		goto bad;
	*out_ppm = whole * 1000000 + frac;
	return 0;
bad:
	return ak_error_code(AK_EINVALID, "'%s' is not a ratio between \"0\" and \"1\" (e.g. \"0.98\")",
			     s);
}

/* ---- parameters ---- */

static json_t *param(const struct policy *p, const char *name)
{
	return p->params ? json_object_get(p->params, name) : NULL;
}

int policy_param_bool(const struct policy *p, const char *name)
{
	return json_is_true(param(p, name));
}

int64_t policy_param_int(const struct policy *p, const char *name)
{
	return json_integer_value(param(p, name));
}

const char *policy_param_string(const struct policy *p, const char *name)
{
	const char *s = json_string_value(param(p, name));

	return s ? s : "";
}

struct policy_duration policy_param_duration(const struct policy *p, const char *name)
{
	struct policy_duration d = {0, POLICY_SECONDS};
	const char *s = json_string_value(param(p, name));

	if (s && *s)
		policy_duration_parse(s, &d);
	return d;
}

int64_t policy_param_ratio_ppm(const struct policy *p, const char *name)
{
	int64_t v = 0;
	const char *s = json_string_value(param(p, name));

	if (s)
		policy_ratio_parse(s, &v);
	return v;
}

json_t *policy_param_array(const struct policy *p, const char *name)
{
	json_t *a = param(p, name);

	return json_is_array(a) ? a : NULL;
}

static int array_has(json_t *a, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return 1;
	return 0;
}

int policy_param_has(const struct policy *p, const char *name, const char *s)
{
	json_t *a = policy_param_array(p, name);

	return a ? array_has(a, s) : 0;
}

int policy_scope_allows(const struct policy *p, const char *key, const char *value)
{
	json_t *a = p->scope ? json_object_get(p->scope, key) : NULL;

	if (!json_is_array(a) || json_array_size(a) == 0)
		return 1;
	return value ? array_has(a, value) : 0;
}

const struct policy *policy_find_control(const struct policy_set *set, const char *control)
{
	size_t i;

	for (i = 0; set && i < set->n; i++)
		if (strcmp(set->policies[i].control, control) == 0)
			return &set->policies[i];
	return NULL;
}

const struct policy *policy_find(const struct policy_set *set, const char *id)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (strcmp(set->policies[i].id, id) == 0)
			return &set->policies[i];
	return NULL;
}
