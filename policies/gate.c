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

/* The consent of (rcpt, list) and the suppression of rcpt: one statement
 * for each, and one for both (the usual question), since a statement's
 * start and end cost SQLite about as much as its lookup. */
#define CONSENT_COLS                                                                         \
	"c.action, c.time, c.seq, c.optin_time, c.optin_seq, c.method, c.proof, "              \
	"c.confirmed_inline, c.exemption, c.confirm_time, c.confirm_seq, c.optout_time, "      \
	"c.optout_seq"
#define SUPP_COLS "s.reason, s.time, s.seq"

enum { G_CONSENT, G_SUPP, G_BOTH, G_APPROVAL, G_N };

static const char *const gsql[G_N] = {
	[G_CONSENT] = "SELECT " CONSENT_COLS ", NULL, NULL, NULL FROM consent_state c "
		      "WHERE c.subject = ?1 AND c.list = ?2",
	[G_SUPP] = "SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
		   "NULL, NULL, " SUPP_COLS " FROM suppression s "
		   "WHERE s.address = ?1 AND s.scope = '*' AND s.time <= ?3",
	[G_BOTH] = "SELECT " CONSENT_COLS ", " SUPP_COLS " FROM (SELECT 1) "
		   "LEFT JOIN consent_state c ON c.subject = ?1 AND c.list = ?2 "
		   "LEFT JOIN suppression s ON s.address = ?1 AND s.scope = '*' AND s.time <= ?3",
	[G_APPROVAL] = "SELECT seq FROM approvals WHERE campaign = ?1 AND time < ?2 AND "
		       "(?3 IS NULL OR actor <> ?3) LIMIT 1",
};

enum gkind { GK_OPTIN, GK_UNSUB, GK_SUPP, GK_MASS, GK_HEADERS, GK_OTHER };

/* What a gating policy asks of a request, worked out once from its
 * parameters (JSON lookups cost more than the decision). */
struct gpol {
	const struct policy *p;
	enum gkind kind;
	unsigned streams;          /* bit 0 marketing, bit 1 transactional: in scope */
	int scope_lists, scope_domains; /* the scope names lists / domains */
	int accept_proof_none, hard_bounce, complaint;
	int64_t threshold;
	char method[48];           /* the last confirm_methods question and answer */
	int method_has;
};

struct gate {
	sqlite3 *db;
	const struct policy_set *set;
	sqlite3_stmt *st[G_N], *begin, *commit;
	struct gpol *pol;
	char *in; /* per policy: the request at hand is in its scope */
	size_t npol;
	int batch; /* inside gate_begin() */
};

static int has_scope(const struct policy *p, const char *key)
{
	json_t *a = p->scope ? json_object_get(p->scope, key) : NULL;

	return json_is_array(a) && json_array_size(a) > 0;
}

/* Is the stream s in the policy's scope (and, for controls with one, its
 * streams parameter)? */
static int stream_in(const struct gpol *gp, const char *s)
{
	if (gp->kind != GK_MASS && !policy_param_has(gp->p, "streams", s))
		return 0;
	return gp->kind == GK_SUPP || policy_scope_allows(gp->p, "streams", s);
}

static void gpol_init(struct gpol *gp, const struct policy *p)
{
	static const struct {
		const char *control;
		enum gkind kind;
	} kinds[] = {{"consent.optin_proof", GK_OPTIN},
		     {"consent.unsubscribe_deadline", GK_UNSUB},
		     {"send.suppression", GK_SUPP},
		     {"send.mass_approval", GK_MASS},
		     {"message.unsubscribe_headers", GK_HEADERS}};
	size_t i;

	memset(gp, 0, sizeof(*gp));
	gp->p = p;
	gp->kind = GK_OTHER;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(p->control, kinds[i].control) == 0)
			gp->kind = kinds[i].kind;
	if (gp->kind == GK_OTHER || gp->kind == GK_MASS)
		return;
	gp->streams = (stream_in(gp, "marketing") ? 1u : 0u) |
		      (stream_in(gp, "transactional") ? 2u : 0u);
	gp->scope_lists = has_scope(p, "lists");
	gp->scope_domains = gp->kind != GK_SUPP && has_scope(p, "domains");
	if (gp->kind == GK_OPTIN)
		gp->accept_proof_none = policy_param_bool(p, "accept_proof_none");
	if (gp->kind == GK_SUPP) {
		gp->hard_bounce = policy_param_bool(p, "hard_bounce");
		gp->complaint = policy_param_bool(p, "complaint");
	}
}

int gate_new(struct gate **out, sqlite3 *db, const struct policy_set *set)
{
	struct gate *g = calloc(1, sizeof(*g));
	size_t i;

	if (g == NULL)
		return ak_error_oom();
	g->db = db;
	g->set = set;
	for (i = 0; i < G_N; i++)
		if (sqlite3_prepare_v3(db, gsql[i], -1, SQLITE_PREPARE_PERSISTENT, &g->st[i], NULL) !=
		    SQLITE_OK)
			goto fail;
	if (sqlite3_prepare_v3(db, "BEGIN", -1, SQLITE_PREPARE_PERSISTENT, &g->begin, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v3(db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT, &g->commit, NULL) !=
		    SQLITE_OK)
		goto fail;
	if ((g->pol = calloc(set->n ? set->n : 1, sizeof(*g->pol))) == NULL ||
	    (g->in = calloc(set->n ? set->n : 1, 1)) == NULL) {
		gate_free(g);
		return ak_error_oom();
	}
	for (i = 0; i < set->n; i++)
		if (set->policies[i].gate)
			gpol_init(&g->pol[g->npol++], &set->policies[i]);
	for (i = 0; i < g->npol; i++)
		if (g->pol[i].kind == GK_MASS)
			g->pol[i].threshold = policy_param_int(g->pol[i].p, "threshold");
	*out = g;
	return 0;
fail:
	ak_error_set("gate: %s", sqlite3_errmsg(db));
	gate_free(g);
	return AK_ERROR;
}

void gate_free(struct gate *g)
{
	int i;

	if (g == NULL)
		return;
	if (g->batch)
		gate_end(g);
	for (i = 0; i < G_N; i++)
		sqlite3_finalize(g->st[i]);
	sqlite3_finalize(g->begin);
	sqlite3_finalize(g->commit);
	free(g->pol);
	free(g->in);
	free(g);
}

/* One read transaction around the lookups of a check (or of a batch):
 * SQLite then takes its snapshot once instead of once per statement. */
static int snap_begin(struct gate *g)
{
	int rc;

	if (!sqlite3_get_autocommit(g->db))
		return 0; /* the caller's transaction, or our batch */
	rc = sqlite3_step(g->begin);
	sqlite3_reset(g->begin);
	if (rc != SQLITE_DONE)
		return ak_error_set("gate: %s", sqlite3_errmsg(g->db));
	return 1;
}

static void snap_end(struct gate *g)
{
	sqlite3_step(g->commit);
	sqlite3_reset(g->commit);
}

int gate_begin(struct gate *g)
{
	int rc;

	if (g->batch)
		return 0;
	if ((rc = snap_begin(g)) < 0)
		return rc;
	g->batch = rc;
	return 0;
}

void gate_end(struct gate *g)
{
	if (g->batch)
		snap_end(g);
	g->batch = 0;
}

/* dst (size bytes) gets s, cut short if need be. */
static void copy_str(char *dst, size_t size, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n >= size)
		n = size - 1;
	memcpy(dst, s ? s : "", n);
	dst[n] = '\0';
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
	copy_str(r->policy, sizeof(r->policy), p->id);
	copy_str(r->control, sizeof(r->control), p->control);
	r->ref = ref;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

struct lookup {
	int found; /* a consent row */
	char action[16];
	int64_t time, seq, optin_time, optin_seq, confirm_time, confirm_seq, optout_time, optout_seq;
	char method[48], exemption[48];
	int proof;
	int64_t confirmed_inline;
	int supp_found; /* a suppression row */
	char supp_reason[32];
	int64_t supp_time, supp_seq;
};

/* Read what the policies in scope need: consent, suppression or both. */
static int look_up(struct gate *g, const struct gate_request *rq, int64_t now, int consent,
		   int supp, struct lookup *c)
{
	sqlite3_stmt *q = g->st[consent && supp ? G_BOTH : consent ? G_CONSENT : G_SUPP];
	int step;

	c->found = 0;
	c->supp_found = 0;
	if (!consent && !supp)
		return 0;
	sqlite3_reset(q);
	sqlite3_bind_text(q, 1, rq->rcpt, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, rq->list, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, now);
	step = sqlite3_step(q);
	if (step == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) {
		c->found = 1;
		copy_str(c->action, sizeof(c->action), (const char *)sqlite3_column_text(q, 0));
		c->time = sqlite3_column_int64(q, 1);
		c->seq = sqlite3_column_int64(q, 2);
		c->optin_time = sqlite3_column_int64(q, 3);
		c->optin_seq = sqlite3_column_int64(q, 4);
		copy_str(c->method, sizeof(c->method), (const char *)sqlite3_column_text(q, 5));
		c->proof = sqlite3_column_int(q, 6);
		c->confirmed_inline = sqlite3_column_int64(q, 7);
		copy_str(c->exemption, sizeof(c->exemption), (const char *)sqlite3_column_text(q, 8));
		c->confirm_time = sqlite3_column_int64(q, 9);
		c->confirm_seq = sqlite3_column_int64(q, 10);
		c->optout_time = sqlite3_column_int64(q, 11);
		c->optout_seq = sqlite3_column_int64(q, 12);
	}
	if (step == SQLITE_ROW && sqlite3_column_type(q, 13) != SQLITE_NULL) {
		c->supp_found = 1;
		copy_str(c->supp_reason, sizeof(c->supp_reason),
			 (const char *)sqlite3_column_text(q, 13));
		c->supp_time = sqlite3_column_int64(q, 14);
		c->supp_seq = sqlite3_column_int64(q, 15);
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
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

static unsigned stream_bit(const char *s)
{
	return strcmp(s, "marketing") == 0 ? 1u : strcmp(s, "transactional") == 0 ? 2u : 0u;
}

/* Is the request within the policy's scope? */
static int scoped(const struct gpol *gp, const struct gate_request *rq, unsigned sbit)
{
	if (sbit ? !(gp->streams & sbit) : !stream_in(gp, rq->stream))
		return 0;
	return (!gp->scope_lists || policy_scope_allows(gp->p, "lists", rq->list)) &&
	       (!gp->scope_domains || policy_scope_allows(gp->p, "domains", domain_of(rq->rcpt)));
}

static int confirm_method(struct gpol *gp, const char *method)
{
	if (strcmp(gp->method, method) != 0 || !gp->method[0]) {
		copy_str(gp->method, sizeof(gp->method), method);
		gp->method_has = policy_param_has(gp->p, "confirm_methods", method);
	}
	return gp->method_has;
}

static int check(struct gate *g, const struct gate_request *rq, int64_t now,
		 struct gate_decision *d)
{
	struct lookup c;
	unsigned sbit = stream_bit(rq->stream);
	char t[AK_TIME_MAX], *in = g->in;
	size_t i, n = g->npol;
	int rc, need_consent = 0, need_supp = 0;

	/* Which policies the request is in scope of, and so what to read. */
	for (i = 0; i < n; i++) {
		const struct gpol *gp = &g->pol[i];

		in[i] = (gp->kind == GK_OPTIN || gp->kind == GK_UNSUB || gp->kind == GK_SUPP ||
			 gp->kind == GK_HEADERS) &&
			scoped(gp, rq, sbit);
		need_consent |= in[i] && (gp->kind == GK_OPTIN || gp->kind == GK_UNSUB);
		need_supp |= in[i] && gp->kind == GK_SUPP;
	}
	if ((rc = look_up(g, rq, now, need_consent, need_supp, &c)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		struct gpol *gp = &g->pol[i];
		const struct policy *p = gp->p;

		switch (gp->kind) {
		case GK_OPTIN:
		case GK_UNSUB:
			if (!in[i])
				continue;
			/* An opt-out stops sends at once, whatever the audit's
			 * deadline: both controls deny on it. */
			if (c.found && strcmp(c.action, "opt_out") == 0 && c.time <= now) {
				ak_time_format(t, c.optout_time, AK_TIME_SECONDS);
				deny(d, p, c.optout_seq, "opted out of '%s' at %s", rq->list, t);
				continue;
			}
			if (gp->kind == GK_UNSUB)
				continue;
			if (!c.found || c.optin_seq == 0 || c.optin_time > now) {
				deny(d, p, 0, "no opt-in of %s for list '%s'", rq->rcpt, rq->list);
				continue;
			}
			if (c.exemption[0] && policy_param_has(p, "exemptions", c.exemption))
				continue;
			if (!c.proof && !gp->accept_proof_none) {
				deny(d, p, c.optin_seq, "the opt-in has no proof");
				continue;
			}
			if (confirm_method(gp, c.method) &&
			    !(c.confirmed_inline && c.confirmed_inline <= now) &&
			    !(c.confirm_seq && c.confirm_time >= c.optin_time &&
			      c.confirm_time <= now))
				deny(d, p, c.optin_seq, "the %s opt-in is not confirmed yet", c.method);
			break;
		case GK_SUPP:
			if (!in[i] || !c.supp_found)
				continue;
			if ((strcmp(c.supp_reason, "hard_bounce") == 0 && gp->hard_bounce) ||
			    (strcmp(c.supp_reason, "complaint") == 0 && gp->complaint)) {
				ak_time_format(t, c.supp_time, AK_TIME_SECONDS);
				deny(d, p, c.supp_seq, "suppressed since %s (%s)", t,
				     strcmp(c.supp_reason, "hard_bounce") == 0 ? "hard bounce"
									    : c.supp_reason);
			}
			break;
		case GK_MASS: {
			sqlite3_stmt *q = g->st[G_APPROVAL];
			int by_day = rq->owner_day_size > rq->campaign_size;
			int64_t size = by_day ? rq->owner_day_size : rq->campaign_size;

			if (!rq->campaign || size <= gp->threshold)
				continue;
			sqlite3_reset(q);
			sqlite3_bind_text(q, 1, rq->campaign, -1, SQLITE_STATIC);
			sqlite3_bind_int64(q, 2, now);
			if (rq->owner)
				sqlite3_bind_text(q, 3, rq->owner, -1, SQLITE_STATIC);
			else
				sqlite3_bind_null(q, 3);
			if ((rc = sqlite3_step(q)) == SQLITE_DONE && by_day)
				deny(d, p, 0,
				     "%s handed in %lld recipients today (more than %lld), and "
				     "campaign '%s' has no approval by someone other than %s",
				     rq->owner ? rq->owner : "its owner", (long long)size,
				     (long long)gp->threshold, rq->campaign,
				     rq->owner ? rq->owner : "its owner");
			else if (rc == SQLITE_DONE)
				deny(d, p, 0,
				     "campaign '%s' has %lld recipients (more than %lld) and no "
				     "approval by someone other than %s",
				     rq->campaign, (long long)rq->campaign_size,
				     (long long)gp->threshold, rq->owner ? rq->owner : "its owner");
			else if (rc != SQLITE_ROW) {
				sqlite3_reset(q);
				return ak_error_set("gate: %s", sqlite3_errmsg(g->db));
			}
			sqlite3_reset(q);
			break;
		}
		case GK_HEADERS:
			if (in[i] && rq->unsubscribe_headers == 0)
				deny(d, p, 0,
				     "marketing mail needs List-Unsubscribe (https) and "
				     "List-Unsubscribe-Post: List-Unsubscribe=One-Click");
			break;
		case GK_OTHER:
			break;
		}
	}
	return 0;
}

int gate_check(struct gate *g, const struct gate_request *rq, struct gate_decision *d)
{
	int64_t now = rq->now_us ? rq->now_us : ak_time_now();
	int rc, own;

	d->allow = 1;
	d->nreasons = 0;
	copy_str(d->policy_commit, sizeof(d->policy_commit), g->set->commit);
	if (!rq->rcpt || !*rq->rcpt || !rq->list || !rq->stream)
		return ak_error_code(AK_EINVALID, "a gate question needs rcpt, list and stream");
	if ((own = snap_begin(g)) < 0)
		return own;
	rc = check(g, rq, now, d);
	if (own)
		snap_end(g);
	return rc;
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

void gate_cache_at_least(sqlite3 *db, int kib)
{
	sqlite3_stmt *q = NULL;
	char sql[64];

	if (kib <= 0)
		return;
	/* The gate reads derived state only: state.db's cache. */
	if (sqlite3_prepare_v2(db, "PRAGMA state.cache_size", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW) {
		int64_t cs = sqlite3_column_int64(q, 0);

		/* positive: pages (of at most 64 KiB); negative: KiB */
		if ((cs >= 0 && cs * 64 < kib) || (cs < 0 && -cs < kib)) {
			snprintf(sql, sizeof(sql), "PRAGMA state.cache_size=-%d", kib);
			sqlite3_exec(db, sql, NULL, NULL, NULL);
		}
	}
	sqlite3_finalize(q);
}
