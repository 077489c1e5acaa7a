/*
 * policies/audit_out.c - what an audit produces: periods by quarter, the
 * JSON of `akashi audit --json`, and the finding entries it appends.
 */
#include "policies/audit.h"

#include "lib/b64.h"
#include "lib/error.h"
#include "lib/jcs.h"
#include "lib/strmap.h"
#include "lib/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int audit_quarter(const char *quarter, const char *zone, struct audit_period *out)
{
	int year, q, rc;
	char *end;
	long y;

	y = strtol(quarter, &end, 10);
	if (end == quarter || y < 1970 || y > 9998 || (end[0] != 'Q' && end[0] != 'q') ||
	    end[1] < '1' || end[1] > '4' || end[2] != '\0')
		return ak_error_code(AK_EINVALID, "'%s' is not a quarter (e.g. 2026Q3)", quarter);
	year = (int)y;
	q = end[1] - '0';
	if ((rc = ak_time_local(zone ? zone : "UTC", year, 3 * q - 2, 1, 0, 0, 0,
				&out->from_us)) != 0 ||
	    (rc = ak_time_local(zone ? zone : "UTC", q == 4 ? year + 1 : year, q == 4 ? 1 : 3 * q + 1,
				1, 0, 0, 0, &out->to_us)) != 0)
		return rc;
	snprintf(out->label, sizeof(out->label), "%dQ%d", year, q);
	return 0;
}

static json_t *period_json(const struct audit_period *p)
{
	char from[AK_TIME_MAX], to[AK_TIME_MAX];

	ak_time_format(from, p->from_us, AK_TIME_AUTO);
	ak_time_format(to, p->to_us, AK_TIME_AUTO);
	if (p->label[0])
		return json_pack("{s:s,s:s,s:s}", "from", from, "to", to, "quarter", p->label);
	return json_pack("{s:s,s:s}", "from", from, "to", to);
}

static json_t *refs_json(const struct audit_exception *e)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < e->nrefs; i++)
		json_array_append_new(a, json_integer(e->refs[i]));
	return a;
}

json_t *audit_result_json(const struct audit_result *r)
{
	char root[AK_B64_LEN(32) + 1];
	json_t *out, *pols;
	size_t i, k;

	ak_b64_encode(root, r->checkpoint_root, 32);
	pols = json_array();
	out = json_pack("{s:o,s:s,s:{s:I,s:s},s:o}", "period", period_json(&r->period),
			"policy_commit", r->policy_commit, "checkpoint", "size",
			(json_int_t)r->checkpoint_size, "root", root, "policies", pols);
	if (out == NULL)
		return NULL;
	for (i = 0; i < r->npolicies; i++) {
		const struct audit_policy_result *pr = &r->policies[i];
		json_t *ex = json_array(), *pj;
		char rate[16];
		int64_t ok = pr->population - pr->affected;

		/* The pass rate counts members of the population without any
		 * exception (one opt-out may show several late sends). */
		if (pr->population == 0)
			snprintf(rate, sizeof(rate), "n/a");
		else
			policy_ratio_text(rate, ok, pr->population);
		for (k = 0; k < pr->nexceptions; k++) {
			const struct audit_exception *e = &pr->exceptions[k];

			json_array_append_new(ex, json_pack("{s:s,s:s,s:o,s:s}", e->what, e->who,
							    "detail", e->detail, "refs",
							    refs_json(e), "severity", e->severity));
		}
		pj = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:o,s:O}", "id", pr->policy->id, "control",
			       pr->policy->control, "title", pr->policy->title, "population",
			       (json_int_t)pr->population, "affected", (json_int_t)pr->affected,
			       "not_assessed", (json_int_t)pr->not_assessed, "pass_rate", rate,
			       "exceptions", ex, "figures", pr->figures);
		json_array_append_new(pols, pj);
	}
	return out;
}

/* One finding body, canonical. */
static int finding_body(const struct audit_result *r, const struct audit_policy_result *pr,
			const struct audit_exception *e, struct ak_buf *out)
{
	json_t *b = json_pack("{s:s,s:s,s:s,s:o,s:o,s:s,s:s,s:s}", "policy_id", pr->policy->id,
			      "control", pr->policy->control, "policy_commit", r->policy_commit,
			      "period", period_json(&r->period), "refs", refs_json(e), "detail",
			      e->detail, e->what, e->who, "severity", e->severity);
	int rc;

	if (b == NULL)
		return ak_error_oom();
	rc = ak_jcs_write_jansson(out, b);
	json_decref(b);
	return rc;
}

/* Distinct finding bodies among the exceptions of one policy. */
static int count_distinct(const struct audit_result *r, const struct audit_policy_result *pr,
			  int64_t *out)
{
	struct ak_strmap *seen = NULL;
	struct ak_buf body = AK_BUF_INIT(0);
	size_t k;
	int rc, ins;

	*out = 0;
	if ((rc = ak_strmap_new(&seen)) != 0)
		return rc;
	for (k = 0; k < pr->nexceptions; k++) {
		ak_buf_reset(&body);
		if ((rc = finding_body(r, pr, &pr->exceptions[k], &body)) != 0)
			break;
		if (ak_strmap_put(seen, body.data, body.len, &ins) == NULL) {
			rc = AK_ENOMEM;
			break;
		}
		*out += ins;
	}
	ak_strmap_free(seen);
	ak_buf_free(&body);
	return rc;
}

int audit_record(struct evidence_store *st, const struct audit_result *r, size_t *appended)
{
	struct evidence_appender *app = NULL;
	struct evidence_append_result res = {0};
	struct ak_buf body = AK_BUF_INIT(0), id = AK_BUF_INIT(0);
	json_t *summary = NULL, *pols;
	size_t i, k;
	int rc;

	if ((rc = evidence_appender_new(&app, st, 1000)) != 0)
		return rc;
	for (i = 0; i < r->npolicies && rc == 0; i++) {
		const struct audit_policy_result *pr = &r->policies[i];

		for (k = 0; k < pr->nexceptions && rc == 0; k++) {
			const struct audit_exception *e = &pr->exceptions[k];
			struct evidence_record rec = {0};

			ak_buf_reset(&body);
			ak_buf_reset(&id);
			if ((rc = finding_body(r, pr, e, &body)) != 0)
				break;
			/* The same exception found again at the same commit over
			 * the same period is the same finding. */
			rc = ak_buf_printf(&id, "%s\n%s\n%lld\n%lld\n", pr->policy->id,
					   r->policy_commit, (long long)r->period.from_us,
					   (long long)r->period.to_us);
			if (rc == 0)
				rc = ak_buf_append(&id, body.data, body.len);
			if (rc != 0)
				break;
			rec.kind = "finding";
			rec.time_us = e->time_us;
			rec.source = "akashi:audit";
			rec.source_len = strlen(rec.source);
			rec.body = body.data;
			rec.body_len = body.len;
			rec.dedupe = id.data;
			rec.dedupe_len = id.len;
			rc = evidence_appender_add(app, &rec);
		}
	}
	{
		int frc = evidence_appender_finish(app, &res);

		if (rc == 0)
			rc = frc;
	}
	evidence_appender_free(app);
	if (rc != 0)
		goto done;
	if (appended)
		*appended = res.appended;
	/* The audit itself, every time it runs: per policy its counts and
	 * figures, and how many distinct findings stand for its exceptions
	 * (two exceptions with the same body are one finding), so that a
	 * reader of the log can tell the findings of this run from those of
	 * an earlier run at the same commit that no longer hold. */
	pols = json_array();
	for (i = 0; i < r->npolicies && rc == 0; i++) {
		const struct audit_policy_result *pr = &r->policies[i];
		int64_t distinct = 0;

		if ((rc = count_distinct(r, pr, &distinct)) != 0)
			break;
		json_array_append_new(
			pols, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:O}", "id", pr->policy->id,
					"population", (json_int_t)pr->population, "affected",
					(json_int_t)pr->affected, "not_assessed",
					(json_int_t)pr->not_assessed, "exceptions",
					(json_int_t)pr->nexceptions, "findings", (json_int_t)distinct,
					"figures", pr->figures));
	}
	if (rc != 0)
		goto done;
	summary = json_pack("{s:s,s:o,s:s,s:I,s:o,s:I}", "event", "audit", "period",
			    period_json(&r->period), "policy_commit", r->policy_commit,
			    "checkpoint_size", (json_int_t)r->checkpoint_size, "policies", pols,
			    "findings_appended", (json_int_t)res.appended);
	ak_buf_reset(&body);
	if (summary == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	if ((rc = ak_jcs_write_jansson(&body, summary)) == 0)
		rc = evidence_append_now(st, "system", "akashi:audit", body.data, body.len, NULL);
done:
	json_decref(summary);
	ak_buf_free(&body);
	ak_buf_free(&id);
	return rc;
}
