/*
 * policies/gate.c - the send gate (see gate.h). Each gating control reads
 * at most one row of derived state: the consent of (rcpt, list), the
 * suppression of rcpt, the first approval of a campaign.
 */
#include "policies/gate.h"

#include "lib/error.h"
#include "lib/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { G_CONSENT, G_SUPP, G_APPROVAL, G_N };

static const char *const gsql[G_N] = {
	[G_CONSENT] = "SELECT action, time, seq, optin_time, optin_seq, method, proof, "
		      "confirmed_inline, exemption, confirm_time, confirm_seq, optout_time, "
		      "optout_seq FROM consent_state WHERE subject = ?1 AND list = ?2",
	[G_SUPP] = "SELECT reason, time, seq FROM suppression WHERE address = ?1 AND scope = '*' "
		   "AND time <= ?2",
	[G_APPROVAL] = "SELECT seq FROM approvals WHERE campaign = ?1 AND time < ?2 AND "
		       "(?3 IS NULL OR actor <> ?3) LIMIT 1",
};

struct gate {
	sqlite3 *db;
	const struct policy_set *set;
	sqlite3_stmt *st[G_N];
};

int gate_new(struct gate **out, sqlite3 *db, const struct policy_set *set)
{
	struct gate *g = calloc(1, sizeof(*g));
	int i;

	if (g == NULL)
		return ak_error_oom();
	g->db = db;
	g->set = set;
	for (i = 0; i < G_N; i++)
		if (sqlite3_prepare_v3(db, gsql[i], -1, SQLITE_PREPARE_PERSISTENT, &g->st[i], NULL) !=
		    SQLITE_OK) {
			ak_error_set("gate: %s", sqlite3_errmsg(db));
			gate_free(g);
			return AK_ERROR;
		}
	*out = g;
	return 0;
}

void gate_free(struct gate *g)
{
	int i;

	if (g == NULL)
		return;
	for (i = 0; i < G_N; i++)
		sqlite3_finalize(g->st[i]);
	free(g);
}

static void deny(struct gate_decision *d, const struct policy *p, int64_t ref, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));
static void deny(struct gate_decision *d, const struct policy *p, int64_t ref, const char *fmt, ...)
{
	struct gate_reason *r;
	va_list ap;

	d->allow = 0;
	if (d->nreasons == GATE_MAX_REASONS)
		return;
	r = &d->reasons[d->nreasons++];
	snprintf(r->policy, sizeof(r->policy), "%s", p->id);
	snprintf(r->control, sizeof(r->control), "%s", p->control);
	r->ref = ref;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

struct consent_row {
	int found;
	char action[16];
	int64_t time, seq, optin_time, optin_seq, confirm_time, confirm_seq, optout_time, optout_seq;
	char method[48], exemption[48];
	int proof, confirmed_inline;
};

static int read_consent(struct gate *g, const struct gate_request *rq, struct consent_row *c)
{
	sqlite3_stmt *q = g->st[G_CONSENT];
	int step;

	memset(c, 0, sizeof(*c));
	sqlite3_reset(q);
	sqlite3_bind_text(q, 1, rq->rcpt, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, rq->list, -1, SQLITE_STATIC);
	step = sqlite3_step(q);
	if (step == SQLITE_ROW) {
		c->found = 1;
		snprintf(c->action, sizeof(c->action), "%s", sqlite3_column_text(q, 0));
		c->time = sqlite3_column_int64(q, 1);
		c->seq = sqlite3_column_int64(q, 2);
		c->optin_time = sqlite3_column_int64(q, 3);
		c->optin_seq = sqlite3_column_int64(q, 4);
		snprintf(c->method, sizeof(c->method), "%s",
			 sqlite3_column_text(q, 5) ? (const char *)sqlite3_column_text(q, 5) : "");
		c->proof = sqlite3_column_int(q, 6);
		c->confirmed_inline = sqlite3_column_int(q, 7);
		snprintf(c->exemption, sizeof(c->exemption), "%s",
			 sqlite3_column_text(q, 8) ? (const char *)sqlite3_column_text(q, 8) : "");
		c->confirm_time = sqlite3_column_int64(q, 9);
		c->confirm_seq = sqlite3_column_int64(q, 10);
		c->optout_time = sqlite3_column_int64(q, 11);
		c->optout_seq = sqlite3_column_int64(q, 12);
	} else if (step != SQLITE_DONE) {
		sqlite3_reset(q);
		return ak_error_set("gate: %s", sqlite3_errmsg(g->db));
	}
	sqlite3_reset(q);
	return 0;
}

static const char *domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : "";
}

static int scoped(const struct policy *p, const struct gate_request *rq, const char *streams)
{
	if (streams && !policy_param_has(p, streams, rq->stream))
		return 0;
	return policy_scope_allows(p, "streams", rq->stream) &&
	       policy_scope_allows(p, "lists", rq->list) &&
	       policy_scope_allows(p, "domains", domain_of(rq->rcpt));
}

int gate_check(struct gate *g, const struct gate_request *rq, struct gate_decision *d)
{
	struct consent_row c;
	int64_t now = rq->now_us ? rq->now_us : ak_time_now();
	char t[AK_TIME_MAX];
	size_t i;
	int rc, have_consent = 0;

	memset(d, 0, sizeof(*d));
	d->allow = 1;
	snprintf(d->policy_commit, sizeof(d->policy_commit), "%s", g->set->commit);
	if (!rq->rcpt || !*rq->rcpt || !rq->list || !rq->stream)
		return ak_error_code(AK_EINVALID, "a gate question needs rcpt, list and stream");
	for (i = 0; i < g->set->n; i++) {
		const struct policy *p = &g->set->policies[i];
		const char *ctl = p->control;

		if (!p->gate)
			continue;
		if (strcmp(ctl, "consent.optin_proof") == 0 ||
		    strcmp(ctl, "consent.unsubscribe_deadline") == 0) {
			if (!scoped(p, rq, "streams"))
				continue;
			if (!have_consent) {
				if ((rc = read_consent(g, rq, &c)) != 0)
					return rc;
				have_consent = 1;
			}
			/* An opt-out stops sends at once, whatever the audit's
			 * deadline: both controls deny on it. */
			if (c.found && strcmp(c.action, "opt_out") == 0 && c.time <= now) {
				ak_time_format(t, c.optout_time, AK_TIME_SECONDS);
				deny(d, p, c.optout_seq, "opted out of '%s' at %s", rq->list, t);
				continue;
			}
			if (strcmp(ctl, "consent.unsubscribe_deadline") == 0)
				continue;
			if (!c.found || c.optin_seq == 0 || c.optin_time > now) {
				deny(d, p, 0, "no opt-in of %s for list '%s'", rq->rcpt, rq->list);
				continue;
			}
			if (c.exemption[0] && policy_param_has(p, "exemptions", c.exemption))
				continue;
			if (!c.proof && !policy_param_bool(p, "accept_proof_none")) {
				deny(d, p, c.optin_seq, "the opt-in has no proof");
				continue;
			}
			if (policy_param_has(p, "confirm_methods", c.method) && !c.confirmed_inline &&
			    !(c.confirm_seq && c.confirm_time >= c.optin_time && c.confirm_time <= now))
				deny(d, p, c.optin_seq, "the %s opt-in is not confirmed yet", c.method);
		} else if (strcmp(ctl, "send.suppression") == 0) {
			sqlite3_stmt *q = g->st[G_SUPP];

			if (!policy_param_has(p, "streams", rq->stream) ||
			    !policy_scope_allows(p, "lists", rq->list))
				continue;
			sqlite3_reset(q);
			sqlite3_bind_text(q, 1, rq->rcpt, -1, SQLITE_STATIC);
			sqlite3_bind_int64(q, 2, now);
			if (sqlite3_step(q) == SQLITE_ROW) {
				const char *why = (const char *)sqlite3_column_text(q, 0);

				if ((strcmp(why, "hard_bounce") == 0 && policy_param_bool(p, "hard_bounce")) ||
				    (strcmp(why, "complaint") == 0 && policy_param_bool(p, "complaint"))) {
					ak_time_format(t, sqlite3_column_int64(q, 1), AK_TIME_SECONDS);
					deny(d, p, sqlite3_column_int64(q, 2), "suppressed since %s (%s)",
					     t, strcmp(why, "hard_bounce") == 0 ? "hard bounce" : why);
				}
			}
			sqlite3_reset(q);
		} else if (strcmp(ctl, "send.mass_approval") == 0) {
			sqlite3_stmt *q = g->st[G_APPROVAL];

			if (!rq->campaign || rq->campaign_size <= policy_param_int(p, "threshold"))
				continue;
			sqlite3_reset(q);
			sqlite3_bind_text(q, 1, rq->campaign, -1, SQLITE_STATIC);
			sqlite3_bind_int64(q, 2, now);
			if (rq->owner)
				sqlite3_bind_text(q, 3, rq->owner, -1, SQLITE_STATIC);
			else
				sqlite3_bind_null(q, 3);
			if (sqlite3_step(q) != SQLITE_ROW)
				deny(d, p, 0,
				     "campaign '%s' has %lld recipients (more than %lld) and no "
				     "approval by someone other than %s",
				     rq->campaign, (long long)rq->campaign_size,
				     (long long)policy_param_int(p, "threshold"),
				     rq->owner ? rq->owner : "its owner");
			sqlite3_reset(q);
		} else if (strcmp(ctl, "message.unsubscribe_headers") == 0) {
			if (scoped(p, rq, "streams") && rq->unsubscribe_headers == 0)
				deny(d, p, 0,
				     "marketing mail needs List-Unsubscribe (https) and "
				     "List-Unsubscribe-Post: List-Unsubscribe=One-Click");
		}
	}
	return 0;
}

json_t *gate_decision_json(const struct gate_decision *d)
{
	json_t *r = json_array();
	size_t i;

	for (i = 0; r && i < d->nreasons; i++) {
		json_t *o = json_pack("{s:s,s:s,s:s}", "policy", d->reasons[i].policy, "control",
				      d->reasons[i].control, "detail", d->reasons[i].detail);

		if (o && d->reasons[i].ref)
			json_object_set_new(o, "ref", json_integer(d->reasons[i].ref));
		json_array_append_new(r, o);
	}
	return json_pack("{s:s,s:o,s:s}", "decision", d->allow ? "allow" : "deny", "reasons", r,
			 "policy_commit", d->policy_commit);
}
