/*
 * policies/policy.h - policies as code: the built-in controls, policy files
 * read from a git commit, their parameters.
 *
 * A policy is one JSON file in a git repository:
 *
 *   {"id": "consent-optin-proof",
 *    "title": "Every marketing send had a proven opt-in before it",
 *    "control": "consent.optin_proof",
 *    "params": {"exemptions": ["business_relationship"]},
 *    "cites": ["特定電子メール法 Art. 3", "GDPR Art. 7(1)"],
 *    "gate": true,
 *    "severity": "high",
 *    "scope": {"streams": ["marketing"], "lists": ["newsletter"]}}
 *
 * `control` names one of the built-in controls below; `params` may give any
 * of that control's parameters (the rest take their defaults); `scope`
 * narrows the population (streams, lists, domains, roles). Policies are
 * always read from a commit through libgit2, never from a work tree, and
 * the commit id goes into every finding and gate decision.
 *
 * docs/POLICIES.md documents every control, parameter and profile.
 *
 * Ownership: a struct policy_set and everything in it belongs to the
 * caller of policy_load() and is freed with policy_set_free(); the json_t
 * values inside are borrowed from it.
 */
#ifndef POLICIES_POLICY_H
#define POLICIES_POLICY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ---- durations ---- */

enum policy_unit {
	POLICY_SECONDS,
	POLICY_MINUTES,
	POLICY_HOURS,
	POLICY_DAYS,
	POLICY_WEEKS,
	POLICY_MONTHS,        /* calendar months: Jan 31 + 1mo = Feb 28/29 */
	POLICY_YEARS,         /* calendar years */
	POLICY_BUSINESS_DAYS, /* Mon-Fri, minus the holidays, in a time zone */
};

struct policy_duration {
	int64_t n;
	enum policy_unit unit;
};

/* Parse "90d", "2h", "30m", "45s", "2w", "1mo", "3y", "10bd", or "0".
 * AK_EINVALID with the reason. */
int policy_duration_parse(const char *s, struct policy_duration *out);

/* Business-day calendar: a time zone and holiday dates ("2026-12-31"). */
struct policy_calendar {
	const char *zone;     /* IANA name; NULL: UTC */
	const char *const *holidays; /* sorted "YYYY-MM-DD", NULL-terminated, or NULL */
};

/* t + d. Calendar units are added in the calendar's zone (months clamp to
 * the month's last day); business days skip weekends and holidays and keep
 * the time of day. 0 or AK_EINVALID. */
int policy_duration_add(int64_t t_us, const struct policy_duration *d,
			const struct policy_calendar *cal, int64_t *out_us);

/* "90 days", "10 business days", ... for reports. */
int policy_duration_format(const struct policy_duration *d, char *out, size_t cap);

/* Ratios are written as strings ("0.98"); parsed to parts per million. */
int policy_ratio_parse(const char *s, int64_t *out_ppm);

/* part / whole as "0.9990" (four decimals) in out, rounded down, so that a
 * rate that is not all of the whole never reads as "1.0000"; "" when whole
 * is 0 or less. The audit's pass rates and the report's use it alike. */
void policy_ratio_text(char out[16], int64_t part, int64_t whole);

/* ---- controls ---- */

enum policy_param_type {
	POLICY_BOOL,
	POLICY_INT,      /* JSON integer >= 0 */
	POLICY_DURATION, /* string, policy_duration_parse() */
	POLICY_RATIO,    /* string "0.98", 0 <= r <= 1 */
	POLICY_ENUM,     /* string, one of choices */
	POLICY_ZONE,     /* string, an IANA time-zone name the system knows */
	POLICY_STRINGS,  /* array of strings */
	POLICY_ENUMS,    /* array of strings, each one of choices */
	POLICY_DATES,    /* array of "YYYY-MM-DD" */
};

struct policy_param_spec {
	const char *name;
	enum policy_param_type type;
	const char *def;     /* the default as JSON text, e.g. "\"90d\"", "10000", "[]" */
	const char *const *choices; /* for POLICY_ENUM / POLICY_ENUMS, NULL-terminated */
	const char *help;    /* one line for docs and lint messages */
};

struct policy_control_spec {
	const char *name;     /* "consent.optin_proof" */
	const char *summary;
	int can_gate;         /* whether "gate": true means something */
	const struct policy_param_spec *params; /* terminated by a NULL name */
};

/* The built-in controls, NULL-name terminated. */
extern const struct policy_control_spec policy_controls[];
const struct policy_control_spec *policy_control_find(const char *name);

/* Scope keys a policy may have. */
extern const char *const policy_scope_keys[];
/* Severities: "info", "low", "medium", "high", "critical". */
extern const char *const policy_severities[];

/* ---- loaded policies ---- */

struct policy {
	char *id;
	char *title;
	char *control;      /* as in the file */
	const struct policy_control_spec *spec;
	json_t *params;     /* every parameter, defaults filled in */
	json_t *cites;      /* array of strings */
	int gate;
	char *severity;
	json_t *scope;      /* object (possibly empty) */
	char *path;         /* file in the repository, "consent-optin-proof.json" */
};

struct policy_set {
	struct policy *policies;
	size_t n;
	char commit[41];    /* hex commit id the set was read from */
	char *ref;          /* the ref that was resolved */
	json_t *alerts;     /* alerts.json from the same commit, or NULL */
	json_t *root;       /* keeps the parsed files alive */
};

void policy_set_free(struct policy_set *set);

/* The policy of that id, or NULL. */
const struct policy *policy_find(const struct policy_set *set, const char *id);

/* The first policy of that control, or NULL (also for a NULL set). */
const struct policy *policy_find_control(const struct policy_set *set, const char *control);

/* Typed parameters (the set was validated at load; these do not fail for a
 * parameter the control declares). */
int policy_param_bool(const struct policy *p, const char *name);
int64_t policy_param_int(const struct policy *p, const char *name);
const char *policy_param_string(const struct policy *p, const char *name);
struct policy_duration policy_param_duration(const struct policy *p, const char *name);
int64_t policy_param_ratio_ppm(const struct policy *p, const char *name);
/* Array parameters: the json_t array (borrowed); and "does it hold s?" */
json_t *policy_param_array(const struct policy *p, const char *name);
int policy_param_has(const struct policy *p, const char *name, const char *s);
/* Scope: does the policy's scope allow this value for key (a missing key
 * or empty list allows everything)? */
int policy_scope_allows(const struct policy *p, const char *key, const char *value);

#endif
