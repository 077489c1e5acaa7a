/*
 * policies/audit.h - evaluating every policy over a period of the log.
 *
 * An audit reads the entries a period needs (sends in the period; consent
 * and admin history up to its end; DMARC reports in it), evaluates each
 * policy of a policy set, and gives per policy its population, its
 * exceptions with the seqs of the entries that show them, and the figures
 * the control reports (honour times, pass shares). docs/POLICIES.md states
 * each control's population and exception precisely; the code follows it.
 *
 * audit_run() only reads. audit_record() appends the results: one `finding`
 * entry per exception (deterministic time and dedupe identity, so running
 * the same audit at the same policy commit over the same entries again adds
 * nothing) and one `system` entry saying the audit ran:
 *
 *   {"event":"audit","period":{...},"policy_commit":"...","checkpoint_size":N,
 *    "findings_appended":N,"policies":[{"id":...,"population":N,"affected":N,
 *    "not_assessed":N,"exceptions":N,"findings":N,"figures":{...}}]}
 *
 * where "findings" counts the distinct finding bodies of the policy's
 * exceptions (identical exceptions are one finding), so a reader of the
 * log (reports/) can tell whether the findings on record at a commit are
 * exactly this run's.
 *
 * Memory: the consent history up to the period end and the admin history
 * are held in memory (compactly); sends are streamed.
 *
 * Ownership: struct audit_result and everything in it belongs to the
 * caller and is freed with audit_result_free().
 */
#ifndef POLICIES_AUDIT_H
#define POLICIES_AUDIT_H

#include "evidence/evidence.h"
#include "policies/policy.h"

#include <jansson.h>
#include <stdint.h>

struct audit_period {
	int64_t from_us; /* inclusive */
	int64_t to_us;   /* exclusive */
	char label[32];  /* "2026Q3", or "" for a custom range */
};

/* "2026Q3" in zone (IANA; NULL: UTC) -> [Jul 1, Oct 1). AK_EINVALID. */
int audit_quarter(const char *quarter, const char *zone, struct audit_period *out);

struct audit_exception {
	const char *what;    /* "subject", "account", "campaign" or "domain" */
	char *who;           /* the address, account, campaign or domain */
	char *member;        /* the member of the population it is about (a send's
			      * seq, an opt-out, an account...): several exceptions
			      * may concern one member */
	char *detail;        /* one sentence */
	int64_t *refs;       /* seqs, ascending */
	size_t nrefs;
	int64_t time_us;     /* when it happened (the latest ref's time, else the period end) */
	char severity[16];   /* the policy's severity, or "warn" for a dmarc warning */
};

struct audit_policy_result {
	const struct policy *policy; /* borrowed from the set */
	int64_t population;
	int64_t affected;            /* members of the population with at least one exception */
	int64_t not_assessed;        /* records the control could not judge (e.g. unknown stream) */
	struct audit_exception *exceptions;
	size_t nexceptions, cap;
	json_t *figures;             /* control-specific numbers (object; owned) */
};

struct audit_result {
	struct audit_period period;
	char policy_commit[41];
	int64_t checkpoint_size;
	unsigned char checkpoint_root[32];
	struct audit_policy_result *policies;
	size_t npolicies;
	int64_t entries_read;
};

/* Evaluate every policy of set over period on st. */
int audit_run(struct evidence_store *st, const struct policy_set *set,
	      const struct audit_period *period, struct audit_result **out);

void audit_result_free(struct audit_result *r);

/* Append the findings and the audit's system entry; *appended (optional)
 * counts the findings that were new. */
int audit_record(struct evidence_store *st, const struct audit_result *r, size_t *appended);

/* The result as the JSON of `akashi audit --json` (a new reference). */
json_t *audit_result_json(const struct audit_result *r);

#endif
