/*
 * policies/audit.c - evaluating the controls over a period (see audit.h
 * and docs/POLICIES.md, which state each control's population and
 * exceptions; this file follows that text).
 *
 * The pass:
 *   1. consent history up to the period end, grouped by (subject, list)
 *      and sorted by (time, seq);
 *   2. admin history up to the period end, grouped by account;
 *   3. the earliest hard bounce or complaint per address (derived state);
 *   4. every send of the period, streamed once, judged against 1 and 3 by
 *      every send-based policy, and summed per campaign;
 *   5. DMARC reports of the period, summed per policy domain;
 *   6. the account-, campaign- and domain-based controls.
 *
 * A "send" in a population is a send entry whose message reached the
 * receiving server: status sent or bounced. queued, deferred, expired and
 * blocked entries are not sends (blocked is the gate doing its job).
 */
#include "policies/audit.h"

#include "lib/error.h"
#include "lib/jcs.h"
#include "lib/strmap.h"
#include "lib/timefmt.h"
#include "policies/state.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---- */

static const char *sv(const struct ak_jv *o, const char *k)
{
	const struct ak_jv *v = ak_jv_get(o, k);

	return v && v->type == AK_JSTRING ? v->u.s.ptr : NULL;
}

static void fmt_time(char out[AK_TIME_MAX], int64_t us)
{
	if (ak_time_format(out, us, AK_TIME_SECONDS) < 0)
		snprintf(out, AK_TIME_MAX, "?");
}

/* An instant as text for a message, in one of a few rotating buffers, so
 * a detail line can hold several and nothing is formatted unless a
 * message is made. */
static const char *tstr(int64_t us)
{
	static _Thread_local char bufs[4][AK_TIME_MAX];
	static _Thread_local int next;
	char *b = bufs[next++ & 3];

	fmt_time(b, us);
	return b;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* A growable array of fixed-size items. */
struct vec {
	void *p;
	size_t n, cap, size;
};

static void *vec_push(struct vec *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 4;
		void *np = realloc(v->p, cap * v->size);

		if (np == NULL) {
			ak_error_oom();
			return NULL;
		}
		v->p = np;
		v->cap = cap;
	}
	return (char *)v->p + v->size * v->n++;
}

/* Interned short strings (methods, exemptions, roles, actors). */
struct names {
	struct ak_strmap *map;
	struct vec list; /* const char * */
};

static int names_id(struct names *nm, const char *s, uint32_t *out)
{
	int ins;
	uint64_t *v;

	if (s == NULL) {
		*out = 0;
		return 0;
	}
	v = ak_strmap_put(nm->map, s, strlen(s), &ins);
	if (v == NULL)
		return AK_ENOMEM;
	if (ins) {
		const char **slot = vec_push(&nm->list);
		char *copy = strdup(s);

		if (slot == NULL || copy == NULL) {
			free(copy);
			return ak_error_oom();
		}
		*slot = copy;
		*v = nm->list.n; /* ids from 1; 0 is "none" */
	}
	*out = (uint32_t)*v;
	return 0;
}

static const char *names_get(const struct names *nm, uint32_t id)
{
	return id == 0 || id > nm->list.n ? "" : ((const char **)nm->list.p)[id - 1];
}

/* ---- the audit's working state ---- */

enum { ACT_OPT_IN = 1, ACT_CONFIRM, ACT_OPT_OUT };
enum { CF_PROOF = 1 };

struct cev { /* one consent event */
	int64_t time, seq;
	int64_t confirmed; /* an opt-in confirmed in its own body: from then (state.h) */
	uint8_t action, flags;
	uint32_t method, exemption;
};

struct pair { /* a (subject, list) */
	struct vec ev; /* struct cev, sorted by (time, seq) */
	const char *subject, *list;
	/* unsubscribe deadline bookkeeping, per opt-out: index into ev */
	int64_t *last_send_after; /* parallel to ev: latest send after that opt-out */
};

struct aev { /* one admin event of an account */
	int64_t time, seq;
	uint32_t action, actor, role;
	uint8_t compromised, mfa;
};

struct account {
	const char *name;
	struct vec ev; /* struct aev, sorted */
};

struct campaign {
	const char *name;
	char owner[128];
	int64_t first_time, first_seq, sends;
	struct ak_strmap *rcpts; /* distinct recipients until above every threshold */
	int64_t distinct;
};

struct domain_stats {
	const char *name;
	int64_t messages, pass, reports;
	int p_none;
	int64_t p_none_seq;
	struct vec refs; /* int64_t report seqs */
	struct ak_strmap *failing; /* source ip -> failing messages */
};

struct audit {
	struct evidence_store *st;
	const struct policy_set *set;
	struct audit_period period;
	struct audit_result *res;
	struct ak_jdoc *doc;
	struct names names;
	struct ak_strmap *pairs_map; /* "subject\x1flist" -> index + 1 */
	struct vec pairs;            /* struct pair */
	struct ak_strmap *acct_map;
	struct vec accounts;         /* struct account */
	struct ak_strmap *supp;      /* address -> index + 1 into supp_v */
	struct vec supp_v;           /* struct { int64 time, seq; char reason[16]; } */
	struct ak_strmap *camp_map;
	struct vec camps;            /* struct campaign */
	struct campaign *last_camp;  /* the campaign of the last send (into camps) */
	struct pending *ring;        /* sends waiting to be judged (see load_send) */
	size_t ring_n;               /* how many have come in so far */
	struct ak_strmap *dom_map;
	struct vec doms;             /* struct domain_stats */
	int64_t max_threshold;
	struct pcache *pc;          /* per policy of the set */
	struct vec honor;            /* per unsubscribe policy: vec of int64 honour times */
	uint32_t a_login_success, a_password_change, a_role_grant, a_role_revoke, a_access_review,
	        a_account_create, a_account_enable, a_account_disable, a_account_delete,
	        a_mfa_enable, a_mfa_disable;
};

/* What the per-send loop needs of a policy, worked out once. */
enum ctl { C_OTHER, C_OPTIN, C_UNSUB, C_SUPP, C_HEADERS };

struct pcache {
	enum ctl control;
	unsigned streams; /* bit 1 marketing, bit 2 transactional: the streams param */
	int scoped;       /* the policy has a non-empty scope */
	/* "is this opt-in method one that needs a confirmation?", by name id:
	 * a direct-mapped cache over the few methods there are */
	uint32_t cm_id[8];
	int cm_has[8];
};

static unsigned stream_bit(const char *stream)
{
	if (stream == NULL)
		return 0;
	if (strcmp(stream, "marketing") == 0)
		return 1;
	if (strcmp(stream, "transactional") == 0)
		return 2;
	return 4;
}

struct supp_row {
	int64_t time, seq;
	char reason[16];
};

/* ---- results ---- */

/* The population member the next exception is about (a kind and a seq),
 * formatted only if an exception is made; when unset, the exception's
 * "who" is the member. */
static _Thread_local const char *next_member_kind;
static _Thread_local int64_t next_member_seq;

static void member(const char *kind, int64_t seq)
{
	next_member_kind = kind;
	next_member_seq = seq;
}

/* Time, then the entries it rests on, then the text: a total order. */
static int cmp_exception(const void *x, const void *y)
{
	const struct audit_exception *a = x, *b = y;
	size_t i;
	int c;

	if (a->time_us != b->time_us)
		return a->time_us < b->time_us ? -1 : 1;
	for (i = 0; i < a->nrefs && i < b->nrefs; i++)
		if (a->refs[i] != b->refs[i])
			return a->refs[i] < b->refs[i] ? -1 : 1;
	if (a->nrefs != b->nrefs)
		return a->nrefs < b->nrefs ? -1 : 1;
	if ((c = strcmp(a->who, b->who)) != 0)
		return c;
	return strcmp(a->detail, b->detail);
}

static int add_exception(struct audit_policy_result *pr, const char *what, const char *who,
			 int64_t time_us, const int64_t *refs, size_t nrefs, const char *severity,
			 const char *fmt, ...) __attribute__((format(printf, 8, 9)));
static int add_exception(struct audit_policy_result *pr, const char *what, const char *who,
			 int64_t time_us, const int64_t *refs, size_t nrefs, const char *severity,
			 const char *fmt, ...)
{
	struct audit_exception *e;
	char detail[1024];
	va_list ap;
	size_t i, j;

	if (pr->nexceptions == pr->cap) {
		size_t cap = pr->cap ? pr->cap * 2 : 16;
		void *p = realloc(pr->exceptions, cap * sizeof(*pr->exceptions));

		if (p == NULL)
			return ak_error_oom();
		pr->exceptions = p;
		pr->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	e = &pr->exceptions[pr->nexceptions];
	memset(e, 0, sizeof(*e));
	e->what = what;
	e->who = strdup(who ? who : "");
	if (next_member_kind) {
		char m[64];

		snprintf(m, sizeof(m), "%s %lld", next_member_kind, (long long)next_member_seq);
		e->member = strdup(m);
	} else {
		e->member = strdup(who ? who : "");
	}
	next_member_kind = NULL;
	e->detail = strdup(detail);
	e->refs = calloc(nrefs ? nrefs : 1, sizeof(*e->refs));
	if (e->who == NULL || e->member == NULL || e->detail == NULL || e->refs == NULL) {
		free(e->who);
		free(e->member);
		free(e->detail);
		free(e->refs);
		return ak_error_oom();
	}
	/* refs ascending, without zeros or repeats */
	for (i = 0; i < nrefs; i++)
		if (refs[i] > 0)
			e->refs[e->nrefs++] = refs[i];
	qsort(e->refs, e->nrefs, sizeof(*e->refs), cmp_i64);
	for (i = j = 0; i < e->nrefs; i++)
		if (j == 0 || e->refs[j - 1] != e->refs[i])
			e->refs[j++] = e->refs[i];
	e->nrefs = j;
	e->time_us = time_us;
	snprintf(e->severity, sizeof(e->severity), "%s", severity);
	pr->nexceptions++;
	return 0;
}

/* ---- 1. consent history ---- */

static struct pair *pair_for(struct audit *a, const char *subject, const char *list, int create)
{
	char key[1024];
	size_t ls = strlen(subject), ll = list ? strlen(list) : 0;
	int n = (int)(ls + 1 + ll);
	uint64_t *slot;
	int ins;
	struct pair *p;

	if (ls + 1 + ll >= sizeof(key))
		return NULL;
	memcpy(key, subject, ls);
	key[ls] = '\x1f';
	if (ll)
		memcpy(key + ls + 1, list, ll);
	if (!create) {
		slot = ak_strmap_get(a->pairs_map, key, (size_t)n);
		return slot ? &((struct pair *)a->pairs.p)[*slot - 1] : NULL;
	}
	slot = ak_strmap_put(a->pairs_map, key, (size_t)n, &ins);
	if (slot == NULL)
		return NULL;
	if (ins) {
		p = vec_push(&a->pairs);
		if (p == NULL)
			return NULL;
		memset(p, 0, sizeof(*p));
		p->ev.size = sizeof(struct cev);
		*slot = a->pairs.n;
	}
	return &((struct pair *)a->pairs.p)[*slot - 1];
}

static int load_consent(void *ctx, const struct evidence_entry *e)
{
	struct audit *a = ctx;
	const struct ak_jv *b, *proof;
	const char *subject, *list, *action;
	struct pair *p;
	struct cev *c;
	int rc;

	a->res->entries_read++;
	if ((rc = ak_json_parse(a->doc, e->body, e->body_len, &b)) != 0)
		return rc;
	subject = sv(b, "subject");
	list = sv(b, "list");
	action = sv(b, "action");
	if (!subject || !list || !action)
		return 0;
	if ((p = pair_for(a, subject, list, 1)) == NULL)
		return AK_ENOMEM;
	if (p->subject == NULL) {
		p->subject = strdup(subject);
		p->list = strdup(list);
		if (!p->subject || !p->list)
			return ak_error_oom();
	}
	if ((c = vec_push(&p->ev)) == NULL)
		return AK_ENOMEM;
	memset(c, 0, sizeof(*c));
	c->time = e->time_us;
	c->seq = e->seq;
	c->action = strcmp(action, "opt_in") == 0     ? ACT_OPT_IN
		    : strcmp(action, "confirm") == 0  ? ACT_CONFIRM
		    : strcmp(action, "opt_out") == 0 ? ACT_OPT_OUT
						      : 0;
	proof = ak_jv_get(b, "proof");
	if (proof && proof->type == AK_JOBJECT && proof->u.o.n > 0) {
		c->flags |= CF_PROOF;
		if (c->action == ACT_OPT_IN)
			c->confirmed = policy_inline_confirmation(b, c->time);
	}
	if ((rc = names_id(&a->names, sv(b, "method"), &c->method)) != 0 ||
	    (rc = names_id(&a->names, sv(b, "exemption"), &c->exemption)) != 0)
		return rc;
	return 0;
}

static int cmp_cev(const void *x, const void *y)
{
	const struct cev *a = x, *b = y;

	if (a->time != b->time)
		return a->time < b->time ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Index of the last event at or before (t, seq); -1 if none. */
static long last_before(const struct pair *p, int64_t t)
{
	const struct cev *ev = p->ev.p;
	long lo = 0, hi = (long)p->ev.n - 1, ans = -1;

	while (lo <= hi) {
		long mid = (lo + hi) / 2;

		if (ev[mid].time <= t) {
			ans = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return ans;
}

/* ---- 2. admin history ---- */

static int load_admin(void *ctx, const struct evidence_entry *e)
{
	struct audit *a = ctx;
	const struct ak_jv *b, *details, *v;
	const char *actor, *action, *target, *acct;
	struct account *ac;
	struct aev *ev;
	uint64_t *slot;
	int ins, rc, login;

	a->res->entries_read++;
	if ((rc = ak_json_parse(a->doc, e->body, e->body_len, &b)) != 0)
		return rc;
	actor = sv(b, "actor");
	action = sv(b, "action");
	target = sv(b, "target");
	if (!actor || !action || strcmp(action, "approval") == 0)
		return 0;
	login = strncmp(action, "login", 5) == 0 || strcmp(action, "logout") == 0;
	if (!login && policy_failed_action(b))
		return 0; /* it changed nothing (state.h) */
	acct = !login && target ? target : actor;
	slot = ak_strmap_put(a->acct_map, acct, strlen(acct), &ins);
	if (slot == NULL)
		return AK_ENOMEM;
	if (ins) {
		if ((ac = vec_push(&a->accounts)) == NULL)
			return AK_ENOMEM;
		memset(ac, 0, sizeof(*ac));
		ac->ev.size = sizeof(struct aev);
		if ((ac->name = strdup(acct)) == NULL)
			return ak_error_oom();
		*slot = a->accounts.n;
	}
	ac = &((struct account *)a->accounts.p)[*slot - 1];
	if ((ev = vec_push(&ac->ev)) == NULL)
		return AK_ENOMEM;
	memset(ev, 0, sizeof(*ev));
	ev->time = e->time_us;
	ev->seq = e->seq;
	if ((rc = names_id(&a->names, action, &ev->action)) != 0 ||
	    (rc = names_id(&a->names, actor, &ev->actor)) != 0 ||
	    (rc = names_id(&a->names, sv(b, "role"), &ev->role)) != 0)
		return rc;
	details = ak_jv_get(b, "details");
	if (details && (v = ak_jv_get(details, "compromised")) && v->type == AK_JTRUE)
		ev->compromised = 1;
	if (details && (v = ak_jv_get(details, "mfa")) && v->type == AK_JTRUE)
		ev->mfa = 1;
	return 0;
}

static int cmp_aev(const void *x, const void *y)
{
	const struct aev *a = x, *b = y;

	if (a->time != b->time)
		return a->time < b->time ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* ---- 3. suppression ---- */

static int load_suppression(struct audit *a)
{
	sqlite3_stmt *q = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(evidence_db(a->st),
			       "SELECT address, reason, time, seq FROM suppression WHERE scope = '*'",
			       -1, &q, NULL) != SQLITE_OK)
		return ak_error_set("suppression: %s", sqlite3_errmsg(evidence_db(a->st)));
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *addr = (const char *)sqlite3_column_text(q, 0);
		struct supp_row *r;
		uint64_t *slot;

		if ((slot = ak_strmap_put(a->supp, addr, strlen(addr), NULL)) == NULL ||
		    (r = vec_push(&a->supp_v)) == NULL) {
			rc = AK_ENOMEM;
			break;
		}
		snprintf(r->reason, sizeof(r->reason), "%s", sqlite3_column_text(q, 1));
		r->time = sqlite3_column_int64(q, 2);
		r->seq = sqlite3_column_int64(q, 3);
		*slot = a->supp_v.n;
	}
	sqlite3_finalize(q);
	return rc;
}

/* ---- 4. sends ---- */

struct send {
	const char *rcpt, *list, *stream, *campaign, *status, *owner;
	struct pair *pair; /* its (rcpt, list) consent history, or NULL */
	const char *unsub;  /* the unsubscribe object's text, or NULL */
	size_t unsub_len;
	int gate;           /* the entry records a gate decision (made by akashi's engine) */
	int64_t time, seq;
	int counts; /* status sent or bounced */
};

static const char *domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : "";
}

static int in_scope(const struct pcache *pc, const struct policy *p, const struct send *s)
{
	if (!(pc->streams & stream_bit(s->stream))) /* unknown stream: not judged */
		return 0;
	if (!pc->scoped)
		return 1;
	return policy_scope_allows(p, "streams", s->stream) &&
	       policy_scope_allows(p, "lists", s->list) &&
	       policy_scope_allows(p, "domains", domain_of(s->rcpt));
}

static int needs_confirm(struct audit *a, struct pcache *pc, const struct policy *p,
			 uint32_t method)
{
	unsigned k = method & 7;

	if (pc->cm_id[k] != method || method == 0) {
		pc->cm_id[k] = method;
		pc->cm_has[k] = policy_param_has(p, "confirm_methods", names_get(&a->names, method));
	}
	return pc->cm_has[k];
}

static int judge_optin(struct audit *a, struct audit_policy_result *pr, struct pcache *pc,
		       const struct send *s)
{
	const struct policy *p = pr->policy;
	char t2[AK_TIME_MAX];
	struct pair *pair;
	const struct cev *ev, *in = NULL;
	long i, last;
	int64_t refs[4] = {s->seq, 0, 0, 0};

	if (!s->stream) {
		pr->not_assessed++;
		return 0;
	}
	if (!in_scope(pc, p, s))
		return 0;
	pr->population++;
	member("send", s->seq);
	pair = s->pair;
	last = pair ? last_before(pair, s->time) : -1;
	if (last < 0)
		return add_exception(pr, "subject", s->rcpt, s->time, refs, 1, p->severity,
				     "send at %s to list '%s' with no opt-in before it%s", tstr(s->time),
				     s->list ? s->list : "",
				     s->list ? "" : " (the send names no list; consent is per list)");
	ev = pair->ev.p;
	/* The pair's state is its latest opt-in or opt-out: a confirm
	 * completes an opt-in, it does not undo an opt-out (state.h). */
	for (i = last; i >= 0 && ev[i].action == ACT_CONFIRM; i--)
		;
	if (i >= 0 && ev[i].action == ACT_OPT_OUT) {
		fmt_time(t2, ev[i].time);
		refs[1] = ev[i].seq;
		return add_exception(pr, "subject", s->rcpt, s->time, refs, 2, p->severity,
				     "send at %s after the opt-out at %s from list '%s'", tstr(s->time), t2,
				     s->list);
	}
	for (; i >= 0; i--)
		if (ev[i].action == ACT_OPT_IN) {
			in = &ev[i];
			break;
		}
	if (in == NULL)
		return add_exception(pr, "subject", s->rcpt, s->time, refs, 1, p->severity,
				     "send at %s to list '%s' with no opt-in before it", tstr(s->time),
				     s->list);
	refs[1] = in->seq;
	if (in->exemption && policy_param_has(p, "exemptions", names_get(&a->names, in->exemption)))
		return 0;
	if (!(in->flags & CF_PROOF) && !policy_param_bool(p, "accept_proof_none")) {
		fmt_time(t2, in->time);
		return add_exception(pr, "subject", s->rcpt, s->time, refs, 2, p->severity,
				     "send at %s rests on the opt-in at %s, which has no proof "
				     "(who, when, how, IP or form)",
				     tstr(s->time), t2);
	}
	if (needs_confirm(a, pc, p, in->method) && !(in->confirmed && in->confirmed <= s->time)) {
		for (i = (long)(in - ev) + 1; i <= last; i++)
			if (ev[i].action == ACT_CONFIRM)
				return 0;
		fmt_time(t2, in->time);
		return add_exception(pr, "subject", s->rcpt, s->time, refs, 2, p->severity,
				     "send at %s rests on a %s opt-in at %s that was not confirmed "
				     "before the send",
				     tstr(s->time), names_get(&a->names, in->method), t2);
	}
	return 0;
}

/* The strictest deadline of the policy's profiles for an opt-out at t. */
static int deadline_compute(const struct policy *p, int64_t t, int64_t *out);

/* Deadlines are asked for again and again for the same opt-out (once per
 * send after it): a small direct-mapped cache spares the calendar work. */
struct deadline_slot {
	const struct policy *p;
	int64_t t, d;
};
static _Thread_local struct deadline_slot deadline_cache[4096];

static int deadline_for(const struct policy *p, int64_t t, int64_t *out)
{
	struct deadline_slot *c =
		&deadline_cache[((uint64_t)t * 0x9e3779b97f4a7c15ULL ^ (uintptr_t)p) >> 52];
	int rc;

	if (c->p == p && c->t == t) {
		*out = c->d;
		return 0;
	}
	if ((rc = deadline_compute(p, t, out)) != 0)
		return rc;
	c->p = p;
	c->t = t;
	c->d = *out;
	return 0;
}

static int deadline_compute(const struct policy *p, int64_t t, int64_t *out)
{
	static const char *const profiles[] = {"jp", "gmail", "can-spam", "casl"};
	struct policy_duration own = policy_param_duration(p, "deadline");
	json_t *hol = policy_param_array(p, "holidays");
	const char *days[400];
	struct policy_calendar cal;
	int64_t best = INT64_MAX, d;
	size_t i, nd = 0;
	int rc;

	for (i = 0; hol && i < json_array_size(hol) && nd + 1 < 400; i++)
		days[nd++] = json_string_value(json_array_get(hol, i));
	days[nd] = NULL;
	cal.zone = *policy_param_string(p, "timezone") ? policy_param_string(p, "timezone") : NULL;
	cal.holidays = days;
	if (json_is_string(json_object_get(p->params, "deadline")) &&
	    *json_string_value(json_object_get(p->params, "deadline"))) {
		if ((rc = policy_duration_add(t, &own, &cal, out)) != 0)
			return rc;
		return 0;
	}
	for (i = 0; i < 4; i++) {
		struct policy_duration dur;

		if (!policy_param_has(p, "profiles", profiles[i]))
			continue;
		if (i == 0)
			dur = policy_param_duration(p, "jp_grace");
		else if (i == 1)
			dur = (struct policy_duration){2, POLICY_DAYS};
		else
			dur = (struct policy_duration){10, POLICY_BUSINESS_DAYS};
		if ((rc = policy_duration_add(t, &dur, &cal, &d)) != 0)
			return rc;
		if (d < best)
			best = d;
	}
	*out = best == INT64_MAX ? t : best;
	return 0;
}

static int judge_unsubscribe(struct audit *a, struct audit_policy_result *pr,
			     const struct pcache *pc, const struct send *s)
{
	const struct policy *p = pr->policy;
	char t1[AK_TIME_MAX], t2[AK_TIME_MAX], t3[AK_TIME_MAX];
	struct pair *pair;
	const struct cev *ev;
	long last, i;
	int64_t deadline, refs[2];
	int rc;

	(void)a;
	if (!in_scope(pc, p, s))
		return 0;
	pair = s->pair;
	last = pair ? last_before(pair, s->time) : -1;
	if (last < 0)
		return 0;
	ev = pair->ev.p;
	/* The opt-out in force: the latest opt-out with no opt-in after it. */
	for (i = last; i >= 0 && ev[i].action != ACT_OPT_OUT; i--)
		if (ev[i].action == ACT_OPT_IN)
			return 0;
	if (i < 0)
		return 0;
	if (pair->last_send_after && s->time > pair->last_send_after[i])
		pair->last_send_after[i] = s->time;
	if ((rc = deadline_for(p, ev[i].time, &deadline)) != 0)
		return rc;
	if (s->time <= deadline)
		return 0;
	fmt_time(t1, s->time);
	fmt_time(t2, ev[i].time);
	fmt_time(t3, deadline);
	refs[0] = s->seq;
	refs[1] = ev[i].seq;
	member("opt-out", ev[i].seq);
	return add_exception(pr, "subject", s->rcpt, s->time, refs, 2, p->severity,
			     "send at %s to list '%s' after the opt-out at %s (deadline %s)", t1,
			     s->list, t2, t3);
}

static int judge_suppression(struct audit *a, struct audit_policy_result *pr,
			     const struct pcache *pc, const struct send *s)
{
	const struct policy *p = pr->policy;
	const struct supp_row *r;
	char t1[AK_TIME_MAX], t2[AK_TIME_MAX];
	uint64_t *slot;
	int64_t refs[2];

	if (s->stream && !(pc->streams & stream_bit(s->stream)))
		return 0;
	if (pc->scoped && (!policy_scope_allows(p, "lists", s->list) ||
			   !policy_scope_allows(p, "domains", domain_of(s->rcpt))))
		return 0;
	pr->population++;
	if (a->supp_v.n == 0)
		return 0;
	slot = ak_strmap_get(a->supp, s->rcpt, strlen(s->rcpt));
	if (slot == NULL)
		return 0;
	r = &((struct supp_row *)a->supp_v.p)[*slot - 1];
	if (s->time <= r->time || s->seq == r->seq ||
	    (strcmp(r->reason, "hard_bounce") == 0 && !policy_param_bool(p, "hard_bounce")) ||
	    (strcmp(r->reason, "complaint") == 0 && !policy_param_bool(p, "complaint")))
		return 0;
	fmt_time(t1, s->time);
	fmt_time(t2, r->time);
	refs[0] = s->seq;
	refs[1] = r->seq;
	member("send", s->seq);
	return add_exception(pr, "subject", s->rcpt, s->time, refs, 2, p->severity,
			     "send at %s to an address suppressed at %s (%s)", t1, t2,
			     strcmp(r->reason, "hard_bounce") == 0 ? "hard bounce" : r->reason);
}

static int judge_headers(struct audit *a, struct audit_policy_result *pr, const struct pcache *pc,
			 const struct send *s)
{
	const struct policy *p = pr->policy;
	const char *url;
	const struct ak_jv *oc, *unsub = NULL;
	int64_t refs[1] = {s->seq};

	if (!in_scope(pc, p, s))
		return 0;
	/* Only sends akashi's delivery engine made record what headers went
	 * out (their gate decision is in the entry). */
	if (!s->gate) {
		pr->not_assessed++;
		return 0;
	}
	pr->population++;
	member("send", s->seq);
	if (s->unsub && ak_json_parse(a->doc, s->unsub, s->unsub_len, &unsub) != 0)
		unsub = NULL;
	if (unsub == NULL || unsub->type != AK_JOBJECT)
		return add_exception(pr, "subject", s->rcpt, s->time, refs, 1, p->severity,
				     "marketing send at %s without List-Unsubscribe headers", tstr(s->time));
	url = sv(unsub, "url");
	oc = ak_jv_get(unsub, "one_click");
	if (policy_param_bool(p, "require_https") && (url == NULL || strncmp(url, "https://", 8)))
		return add_exception(pr, "subject", s->rcpt, s->time, refs, 1, p->severity,
				     "send at %s: List-Unsubscribe is not an https URI", tstr(s->time));
	if (oc == NULL || oc->type != AK_JTRUE)
		return add_exception(pr, "subject", s->rcpt, s->time, refs, 1, p->severity,
				     "send at %s without List-Unsubscribe-Post: "
				     "List-Unsubscribe=One-Click",
				     tstr(s->time));
	return 0;
}

static int count_campaign(struct audit *a, const struct send *s)
{
	struct campaign *c;
	uint64_t *slot;
	int ins;

	if (!s->campaign)
		return 0;
	/* A campaign's sends come together: the last one is the likely one. */
	if (a->last_camp && strcmp(a->last_camp->name, s->campaign) == 0) {
		c = a->last_camp;
		goto count;
	}
	slot = ak_strmap_put(a->camp_map, s->campaign, strlen(s->campaign), &ins);
	if (slot == NULL)
		return AK_ENOMEM;
	if (ins) {
		if ((c = vec_push(&a->camps)) == NULL)
			return AK_ENOMEM;
		memset(c, 0, sizeof(*c));
		if ((c->name = strdup(s->campaign)) == NULL || ak_strmap_new(&c->rcpts) != 0)
			return ak_error_oom();
		c->first_time = INT64_MAX;
		*slot = a->camps.n;
	}
	c = &((struct campaign *)a->camps.p)[*slot - 1];
	a->last_camp = c;
count:
	c->sends++;
	if (s->time < c->first_time || (s->time == c->first_time && s->seq < c->first_seq)) {
		c->first_time = s->time;
		c->first_seq = s->seq;
	}
	if (s->owner && !c->owner[0])
		snprintf(c->owner, sizeof(c->owner), "%s", s->owner);
	/* Distinct recipients are counted exactly until the campaign is above
	 * every threshold; then the set is dropped (memory bounded). */
	if (c->rcpts) {
		if (ak_strmap_put(c->rcpts, s->rcpt, strlen(s->rcpt), &ins) == NULL)
			return AK_ENOMEM;
		if (ins)
			c->distinct++;
		if (c->distinct > a->max_threshold) {
			ak_strmap_free(c->rcpts);
			c->rcpts = NULL;
		}
	}
	return 0;
}

/* The members of a send body the audit reads, in canonical order. */
static const char *const send_keys[] = {"campaign", "gate", "list",   "owner",
					"rcpt",     "status", "stream", "unsubscribe"};
enum { SK_CAMPAIGN, SK_GATE, SK_LIST, SK_OWNER, SK_RCPT, SK_STATUS, SK_STREAM, SK_UNSUB, SK_N };

static int judge_send(struct audit *a, struct send *s);
static int judge_pair(struct audit *a, const struct send *s);

/* A body with escaped strings: decode it with the full parser. */
static int load_send_slow(struct audit *a, const struct evidence_entry *e)
{
	const struct ak_jv *b, *u;
	struct send s;
	int rc;

	if ((rc = ak_json_parse(a->doc, e->body, e->body_len, &b)) != 0)
		return rc;
	memset(&s, 0, sizeof(s));
	s.rcpt = sv(b, "rcpt");
	s.status = sv(b, "status");
	if (!s.rcpt || !s.status ||
	    (strcmp(s.status, "sent") != 0 && strcmp(s.status, "bounced") != 0))
		return 0;
	s.counts = 1;
	s.list = sv(b, "list");
	s.stream = sv(b, "stream");
	s.campaign = sv(b, "campaign");
	s.owner = sv(b, "owner");
	s.gate = ak_jv_get(b, "gate") != NULL;
	if ((u = ak_jv_get(b, "unsubscribe")) != NULL) {
		/* The object's text: judge_headers parses it again when needed. */
		s.unsub = e->body + u->offset;
		s.unsub_len = (size_t)(e->body_len - u->offset);
		{
			const char *q = s.unsub, *end = e->body + e->body_len;
			int depth = 0;

			for (; q < end; q++) {
				if (*q == '{')
					depth++;
				else if (*q == '}' && --depth == 0)
					break;
			}
			s.unsub_len = q < end ? (size_t)(q + 1 - s.unsub) : 0;
		}
	}
	s.time = e->time_us;
	s.seq = e->seq;
	return judge_send(a, &s);
}

/* Sends wait in a short ring before they are judged, while the CPU
 * fetches what judging them reads: their (subject, list) slot in a map of
 * hundreds of thousands of pairs, the pair, its consent history. Each is a
 * cache miss otherwise, and they were most of an audit's time. Judging is
 * order-free (counts, maxima, and findings sorted afterwards). */
#define RING 16
#define AGE_PAIR 5 /* the slot is in: fetch the pair */
#define AGE_HIST 10 /* the pair is in: fetch its history */

struct pending {
	struct send s;
	uint64_t h;      /* hash of key */
	size_t klen;     /* 0: no pair to look up */
	char key[1024];  /* rcpt \x1f list, as pair_for builds it */
	char text[4096]; /* the strings s points at */
};

static struct pending *ring_at(struct audit *a, size_t n)
{
	return &a->ring[n % RING];
}

static int judge_pending(struct audit *a, struct pending *p)
{
	uint64_t *slot = NULL;

	if (p->klen)
		slot = ak_strmap_get_hashed(a->pairs_map, p->key, p->klen, p->h);
	p->s.pair = slot ? &((struct pair *)a->pairs.p)[*slot - 1] : NULL;
	return judge_pair(a, &p->s);
}

/* Judge what is left in the ring (at the end of the scan). Item k waits
 * in slot k % RING until item k + RING comes. */
static int ring_flush(struct audit *a)
{
	size_t n = a->ring_n, i = n > RING ? n - RING : 0;
	int rc = 0;

	for (; i < n && rc == 0; i++)
		rc = judge_pending(a, ring_at(a, i));
	a->ring_n = 0;
	return rc;
}

static void ring_prefetch(struct audit *a)
{
	size_t n = a->ring_n;
	struct pending *p;
	uint64_t v;

	if (n > AGE_PAIR && (p = ring_at(a, n - 1 - AGE_PAIR))->klen &&
	    (v = ak_strmap_peek(a->pairs_map, p->h)) != 0 && v <= a->pairs.n)
		__builtin_prefetch(&((struct pair *)a->pairs.p)[v - 1]);
	if (n > AGE_HIST && (p = ring_at(a, n - 1 - AGE_HIST))->klen &&
	    (v = ak_strmap_peek(a->pairs_map, p->h)) != 0 && v <= a->pairs.n)
		__builtin_prefetch(((struct pair *)a->pairs.p)[v - 1].ev.p);
}

static int load_send(void *ctx, const struct evidence_entry *e)
{
	struct audit *a = ctx;
	struct ak_jspan f[SK_N];
	const char *str[SK_N] = {NULL};
	struct pending *p;
	struct send *s;
	size_t i, used, ll;
	int rc;

	a->res->entries_read++;
	/* Bodies are canonical: their few fields are read straight from the
	 * text, without a document, unless a value has escapes. */
	if (ak_jcs_fields(e->body, e->body_len, send_keys, SK_N, f) != 0)
		return ak_error_code(AK_ETAMPERED, "seq %lld: a send body that is not canonical",
				     (long long)e->seq);
	if (f[SK_RCPT].type != AK_JSTRING || f[SK_STATUS].type != AK_JSTRING)
		return 0;
	if (!((f[SK_STATUS].len == 4 && memcmp(f[SK_STATUS].ptr, "sent", 4) == 0) ||
	      (f[SK_STATUS].len == 7 && memcmp(f[SK_STATUS].ptr, "bounced", 7) == 0)))
		return 0;
	for (i = 0, used = 0; i < SK_N; i++) {
		if (f[i].type != AK_JSTRING && !(i == SK_UNSUB && f[i].type == AK_JOBJECT))
			continue;
		used += f[i].len + 1;
		if (f[i].escaped || used > sizeof(p->text))
			return load_send_slow(a, e);
	}
	/* The send that has waited longest gives up its slot. */
	if (a->ring_n >= RING && (rc = judge_pending(a, ring_at(a, a->ring_n - RING))) != 0)
		return rc;
	p = ring_at(a, a->ring_n);
	s = &p->s;
	memset(s, 0, sizeof(*s));
	for (i = 0, used = 0; i < SK_N; i++) {
		size_t len = i == SK_UNSUB ? f[i].len : f[i].len + 1;

		if (f[i].type != AK_JSTRING && !(i == SK_UNSUB && f[i].type == AK_JOBJECT))
			continue;
		memcpy(p->text + used, f[i].ptr, f[i].len);
		if (i != SK_UNSUB)
			p->text[used + f[i].len] = '\0';
		str[i] = p->text + used;
		used += len;
	}
	s->rcpt = str[SK_RCPT];
	s->status = str[SK_STATUS];
	s->counts = 1;
	s->list = str[SK_LIST];
	s->stream = str[SK_STREAM];
	s->campaign = str[SK_CAMPAIGN];
	s->owner = str[SK_OWNER];
	if (str[SK_UNSUB]) {
		s->unsub = str[SK_UNSUB];
		s->unsub_len = f[SK_UNSUB].len;
	}
	s->gate = f[SK_GATE].type == AK_JOBJECT;
	s->time = e->time_us;
	s->seq = e->seq;
	/* The pair's key, as pair_for makes it; its slot fetched now. */
	p->klen = 0;
	ll = s->list ? strlen(s->list) : 0;
	if (a->pairs.n && f[SK_RCPT].len + 1 + ll < sizeof(p->key)) {
		memcpy(p->key, s->rcpt, f[SK_RCPT].len);
		p->key[f[SK_RCPT].len] = '\x1f';
		memcpy(p->key + f[SK_RCPT].len + 1, s->list ? s->list : "", ll);
		p->klen = f[SK_RCPT].len + 1 + ll;
		p->h = ak_strmap_hash(p->key, p->klen);
		ak_strmap_prefetch(a->pairs_map, p->h);
	}
	a->ring_n++;
	ring_prefetch(a);
	return 0;
}

static int judge_send(struct audit *a, struct send *sp)
{
	struct send s = *sp;

	s.pair = a->pairs.n ? pair_for(a, s.rcpt, s.list ? s.list : "", 0) : NULL;
	return judge_pair(a, &s);
}

/* Judge a send whose pair (or NULL) is known. */
static int judge_pair(struct audit *a, const struct send *sp)
{
	struct send s = *sp;
	size_t i;
	int rc;

	for (i = 0; i < a->res->npolicies; i++) {
		struct audit_policy_result *pr = &a->res->policies[i];
		struct pcache *pc = &a->pc[i];

		next_member_kind = NULL;
		switch (pc->control) {
		case C_OPTIN:
			rc = judge_optin(a, pr, pc, &s);
			break;
		case C_UNSUB:
			rc = judge_unsubscribe(a, pr, pc, &s);
			break;
		case C_SUPP:
			rc = judge_suppression(a, pr, pc, &s);
			break;
		case C_HEADERS:
			rc = judge_headers(a, pr, pc, &s);
			break;
		default:
			rc = 0;
		}
		if (rc != 0)
			return rc;
	}
	return count_campaign(a, &s);
}

/* ---- 5. DMARC ---- */

static int load_dmarc(void *ctx, const struct evidence_entry *e)
{
	struct audit *a = ctx;
	const struct ak_jv *b, *policy, *rows;
	const char *domain, *pv;
	struct domain_stats *d;
	uint64_t *slot;
	int64_t *ref;
	size_t i;
	int ins, rc;

	a->res->entries_read++;
	if ((rc = ak_json_parse(a->doc, e->body, e->body_len, &b)) != 0)
		return rc;
	policy = ak_jv_get(b, "policy");
	rows = ak_jv_get(b, "rows");
	domain = sv(policy, "domain");
	if (!domain || !rows || rows->type != AK_JARRAY)
		return 0;
	slot = ak_strmap_put(a->dom_map, domain, strlen(domain), &ins);
	if (slot == NULL)
		return AK_ENOMEM;
	if (ins) {
		if ((d = vec_push(&a->doms)) == NULL)
			return AK_ENOMEM;
		memset(d, 0, sizeof(*d));
		d->refs.size = sizeof(int64_t);
		if ((d->name = strdup(domain)) == NULL || ak_strmap_new(&d->failing) != 0)
			return ak_error_oom();
		*slot = a->doms.n;
	}
	d = &((struct domain_stats *)a->doms.p)[*slot - 1];
	d->reports++;
	if ((ref = vec_push(&d->refs)) == NULL)
		return AK_ENOMEM;
	*ref = e->seq;
	pv = sv(policy, "p");
	if (pv && strcmp(pv, "none") == 0 && !d->p_none) {
		d->p_none = 1;
		d->p_none_seq = e->seq;
	}
	for (i = 0; i < rows->u.a.n; i++) {
		const struct ak_jv *r = rows->u.a.items[i], *cnt = ak_jv_get(r, "count");
		const char *dk = sv(r, "dkim"), *sp = sv(r, "spf"), *ip = sv(r, "source_ip");
		int64_t n = cnt && cnt->type == AK_JINT ? cnt->u.i : 0;

		d->messages += n;
		if ((dk && strcmp(dk, "pass") == 0) || (sp && strcmp(sp, "pass") == 0)) {
			d->pass += n;
		} else if (ip && n > 0) {
			uint64_t *f = ak_strmap_put(d->failing, ip, strlen(ip), NULL);

			if (f == NULL)
				return AK_ENOMEM;
			*f += (uint64_t)n;
		}
	}
	return 0;
}

struct top_src {
	const char *ip;
	int64_t n;
};

static int collect_src(void *ctx, const char *key, size_t len, uint64_t *value)
{
	struct vec *v = ctx;
	struct top_src *t = vec_push(v);

	(void)len;
	if (t == NULL)
		return AK_ENOMEM;
	t->ip = key;
	t->n = (int64_t)*value;
	return 0;
}

static int cmp_src(const void *x, const void *y)
{
	const struct top_src *a = x, *b = y;

	if (a->n != b->n)
		return a->n > b->n ? -1 : 1;
	return strcmp(a->ip, b->ip);
}

static int eval_dmarc(struct audit *a, struct audit_policy_result *pr)
{
	const struct policy *p = pr->policy;
	json_t *doms = json_object();
	int64_t warn = policy_param_ratio_ppm(p, "warn_below"),
		fail = policy_param_ratio_ppm(p, "fail_below");
	size_t i, k, top = (size_t)policy_param_int(p, "top_sources");
	int rc = 0;

	if (doms == NULL)
		return ak_error_oom();
	json_object_set_new(pr->figures, "domains", doms);
	for (i = 0; i < a->doms.n && rc == 0; i++) {
		struct domain_stats *d = &((struct domain_stats *)a->doms.p)[i];
		json_t *dj, *srcs;
		struct vec tops = {NULL, 0, 0, sizeof(struct top_src)};
		int64_t ppm;
		char share[16], list[1024] = "";

		if (json_array_size(policy_param_array(p, "domains")) &&
		    !policy_param_has(p, "domains", d->name))
			continue;
		if (!policy_scope_allows(p, "domains", d->name))
			continue;
		pr->population++;
		ppm = d->messages ? d->pass * 1000000 / d->messages : 1000000;
		snprintf(share, sizeof(share), "%lld.%06lld", (long long)(ppm / 1000000),
			 (long long)(ppm % 1000000));
		if ((rc = ak_strmap_each(d->failing, collect_src, &tops)) != 0)
			break;
		if (tops.n > 1) /* qsort(NULL, 0) is undefined */
			qsort(tops.p, tops.n, sizeof(struct top_src), cmp_src);
		srcs = json_array();
		for (k = 0; k < tops.n && k < top; k++) {
			struct top_src *t = &((struct top_src *)tops.p)[k];
			size_t l = strlen(list);

			json_array_append_new(srcs, json_pack("{s:s,s:I}", "source_ip", t->ip,
							      "messages", (json_int_t)t->n));
			snprintf(list + l, sizeof(list) - l, "%s%s (%lld)", k ? ", " : "", t->ip,
				 (long long)t->n);
		}
		dj = json_pack("{s:I,s:I,s:s,s:I,s:b,s:o}", "messages", (json_int_t)d->messages,
			       "aligned_pass", (json_int_t)d->pass, "pass_share", share, "reports",
			       (json_int_t)d->reports, "p_none", d->p_none, "top_failing_sources",
			       srcs);
		json_object_set_new(doms, d->name, dj);
		if (ppm < warn) {
			int64_t line = ppm < fail ? fail : warn;

			rc = add_exception(pr, "domain", d->name, a->period.to_us - 1,
					   (const int64_t *)d->refs.p, d->refs.n,
					   ppm < fail ? p->severity : "warn",
					   "aligned DMARC pass share %s (%lld of %lld messages aligned "
					   "and passing) is below the %s line %lld.%06lld; top failing "
					   "sources: %s",
					   share, (long long)d->pass, (long long)d->messages,
					   ppm < fail ? "fail" : "warning", (long long)(line / 1000000),
					   (long long)(line % 1000000), list[0] ? list : "none");
		}
		if (rc == 0 && d->p_none && policy_param_bool(p, "flag_p_none"))
			rc = add_exception(pr, "domain", d->name, a->period.to_us - 1,
					   &d->p_none_seq, 1, p->severity,
					   "the published DMARC policy is p=none: failing mail is "
					   "delivered anyway");
		free(tops.p);
	}
	return rc;
}

/* ---- 6. campaigns and accounts ---- */

static int eval_mass(struct audit *a, struct audit_policy_result *pr)
{
	const struct policy *p = pr->policy;
	int64_t threshold = policy_param_int(p, "threshold");
	json_t *list = json_array();
	size_t i;
	int rc;

	if (list == NULL)
		return ak_error_oom();
	json_object_set_new(pr->figures, "campaigns", list);
	for (i = 0; i < a->camps.n; i++) {
		struct campaign *c = &((struct campaign *)a->camps.p)[i];
		int64_t aseq, refs[2];
		char actor[128], t1[AK_TIME_MAX];
		json_t *cj;

		if (c->distinct <= threshold)
			continue;
		pr->population++;
		if ((rc = policy_state_approval(evidence_db(a->st), c->name,
						c->owner[0] ? c->owner : NULL, c->first_time, &aseq,
						actor, sizeof(actor))) != 0)
			return rc;
		/* recipients: exact while the campaign was counted, else "at
		 * least" (the count stops above every threshold) */
		fmt_time(t1, c->first_time);
		cj = json_pack("{s:s,s:I,s:b,s:s,s:I,s:s,s:o}", "campaign", c->name, "recipients",
			       (json_int_t)c->distinct, "recipients_exact", c->rcpts != NULL,
			       "first_send", t1,
			       "first_seq", (json_int_t)c->first_seq, "owner", c->owner,
			       "approval",
			       aseq ? json_pack("{s:s,s:I}", "actor", actor, "seq", (json_int_t)aseq)
				    : json_null());
		if (cj == NULL || json_array_append_new(list, cj) != 0)
			return ak_error_oom();
		if (aseq)
			continue;
		refs[0] = c->first_seq;
		refs[1] = 0;
		if ((rc = add_exception(pr, "campaign", c->name, c->first_time, refs, 1,
					p->severity,
					"%s%lld recipients, first send at %s, and no approval by "
					"someone other than %s before it",
					c->rcpts ? "" : "more than ",
					(long long)(c->rcpts ? c->distinct : a->max_threshold), t1,
					c->owner[0] ? c->owner : "its owner")) != 0)
			return rc;
	}
	return 0;
}

static int is_privileged(const struct policy *p, const char *role)
{
	return role && *role && policy_param_has(p, "privileged_roles", role) &&
	       policy_scope_allows(p, "roles", role);
}

/* Review gaps of one holding interval [start, end) whose clock started at
 * clock: 1 exception per gap longer than the interval overlapping the
 * period. */
static int review_gaps(struct audit *a, struct audit_policy_result *pr, const struct account *ac,
		       int64_t clock, int64_t clock_seq, int64_t start, int64_t end,
		       const struct policy_duration *iv, const char *kind)
{
	const struct aev *ev = ac->ev.p;
	int64_t last = clock, last_seq = clock_seq, due;
	size_t i;
	int rc;

	for (i = 0;; i++) {
		int64_t next = end, next_seq = 0;
		char t1[AK_TIME_MAX], t2[AK_TIME_MAX], d[64];

		for (; i < ac->ev.n; i++)
			if (ev[i].action == a->a_access_review && ev[i].time > last &&
			    ev[i].time < end && strcmp(names_get(&a->names, ev[i].actor), ac->name)) {
				next = ev[i].time;
				next_seq = ev[i].seq;
				break;
			}
		if ((rc = policy_duration_add(last, iv, NULL, &due)) != 0)
			return rc;
		if (due < next && due < a->period.to_us && next > a->period.from_us &&
		    due < end && next > start) {
			int64_t refs[2] = {last_seq, next_seq};

			fmt_time(t1, last);
			fmt_time(t2, next < a->period.to_us ? next : a->period.to_us);
			policy_duration_format(iv, d, sizeof(d));
			if ((rc = add_exception(
			             pr, "account", ac->name, due, refs, 2, pr->policy->severity,
			             "%s account not reviewed by anyone else from %s to %s "
			             "(longer than %s)",
			             kind, t1, t2, d)) != 0)
				return rc;
		}
		if (next >= end)
			return 0;
		last = next;
		last_seq = next_seq;
	}
}

/* From when an account stays disabled: its first account_disable or
 * account_delete after which no account_enable or account_create brought
 * it back (events in time order); INT64_MAX when it is live at the end of
 * its history. A disable long ago does not keep a re-enabled account, and
 * the roles granted to it since, out of the audit. */
static int64_t disabled_from(const struct audit *a, const struct account *ac)
{
	const struct aev *ev = ac->ev.p;
	int64_t t = INT64_MAX;
	size_t k;

	for (k = 0; k < ac->ev.n; k++)
		if (ev[k].action == a->a_account_disable || ev[k].action == a->a_account_delete) {
			if (t == INT64_MAX)
				t = ev[k].time;
		} else if (ev[k].action == a->a_account_enable ||
		           ev[k].action == a->a_account_create) {
			t = INT64_MAX;
		}
	return t;
}

static int eval_review(struct audit *a, struct audit_policy_result *pr)
{
	const struct policy *p = pr->policy;
	struct policy_duration piv = policy_param_duration(p, "privileged_interval"),
			       aiv = policy_param_duration(p, "all_interval");
	size_t i, k;
	int rc;

	for (i = 0; i < a->accounts.n; i++) {
		const struct account *ac = &((struct account *)a->accounts.p)[i];
		const struct aev *ev = ac->ev.p;
		int counted = 0;
		int64_t disabled = disabled_from(a, ac);

		/* Privileged holding intervals: a grant opens, a revoke closes. */
		for (k = 0; k < ac->ev.n; k++) {
			int64_t start, end = disabled, clock, clock_seq;
			size_t j, r;

			if (ev[k].action != a->a_role_grant ||
			    !is_privileged(p, names_get(&a->names, ev[k].role)))
				continue;
			for (j = k + 1; j < ac->ev.n; j++)
				if (ev[j].action == a->a_role_revoke && ev[j].role == ev[k].role) {
					end = ev[j].time < end ? ev[j].time : end;
					break;
				}
			start = ev[k].time;
			if (start >= a->period.to_us || end <= a->period.from_us)
				continue;
			if (!counted) {
				pr->population++;
				counted = 1;
			}
			/* The clock starts at the grant, or at the last review by
			 * someone else before the period. */
			clock = start;
			clock_seq = ev[k].seq;
			for (r = 0; r < ac->ev.n; r++)
				if (ev[r].action == a->a_access_review && ev[r].time > clock &&
				    ev[r].time < a->period.from_us &&
				    strcmp(names_get(&a->names, ev[r].actor), ac->name)) {
					clock = ev[r].time;
					clock_seq = ev[r].seq;
				}
			if ((rc = review_gaps(a, pr, ac, clock, clock_seq, start, end, &piv,
					      "privileged")) != 0)
				return rc;
		}
		if (counted || !policy_param_bool(p, "all_accounts")) {
			if (!counted)
				continue;
		} else if (ac->ev.n && ev[0].time < a->period.to_us &&
			   disabled > a->period.from_us) {
			pr->population++;
			counted = 1;
			if ((rc = review_gaps(a, pr, ac, ev[0].time, ev[0].seq, ev[0].time, disabled,
					      &aiv, "")) != 0)
				return rc;
		}
		/* A review of an account by itself is no review, and is said. */
		for (k = 0; k < ac->ev.n; k++)
			if (ev[k].action == a->a_access_review && ev[k].time >= a->period.from_us &&
			    ev[k].time < a->period.to_us &&
			    strcmp(names_get(&a->names, ev[k].actor), ac->name) == 0) {
				char t1[AK_TIME_MAX];
				int64_t ref = ev[k].seq;

				fmt_time(t1, ev[k].time);
				if ((rc = add_exception(pr, "account", ac->name, ev[k].time, &ref, 1,
							p->severity,
							"reviewed by itself at %s (a review must be "
							"by someone else)",
							t1)) != 0)
					return rc;
			}
	}
	return 0;
}

static int eval_password(struct audit *a, struct audit_policy_result *pr)
{
	const struct policy *p = pr->policy;
	const char *profile = policy_param_string(p, "profile");
	struct policy_duration max = policy_param_duration(p, "max_age"),
			       comp = policy_param_duration(p, "compromise_deadline");
	size_t i, k;
	int rc;

	if (strcmp(profile, "off") == 0)
		return 0;
	for (i = 0; i < a->accounts.n; i++) {
		const struct account *ac = &((struct account *)a->accounts.p)[i];
		const struct aev *ev = ac->ev.p;
		int active = 0, mfa = 0, in_role = 0;
		int64_t disabled = disabled_from(a, ac), clock, clock_seq, due;
		char t1[AK_TIME_MAX], t2[AK_TIME_MAX], d[64];

		for (k = 0; k < ac->ev.n; k++) {
			if (ev[k].time >= a->period.from_us && ev[k].time < a->period.to_us)
				active = 1;
			if (ev[k].action == a->a_mfa_enable || ev[k].mfa)
				mfa = 1;
			else if (ev[k].action == a->a_mfa_disable)
				mfa = 0;
			if (ev[k].role && policy_scope_allows(p, "roles", names_get(&a->names,
										    ev[k].role)))
				in_role = 1;
		}
		if (!active || disabled <= a->period.from_us)
			continue;
		if (json_array_size(json_object_get(p->scope, "roles")) && !in_role)
			continue;
		if (strcmp(profile, "nist-800-63b-4") == 0) {
			for (k = 0; k < ac->ev.n; k++) {
				size_t j;
				int64_t refs[2];

				if (!ev[k].compromised || ev[k].time < a->period.from_us ||
				    ev[k].time >= a->period.to_us)
					continue;
				pr->population++;
				if ((rc = policy_duration_add(ev[k].time, &comp, NULL, &due)) != 0)
					return rc;
				for (j = k + 1; j < ac->ev.n; j++)
					if (ev[j].action == a->a_password_change && ev[j].time <= due)
						break;
				if (j < ac->ev.n)
					continue;
				fmt_time(t1, ev[k].time);
				policy_duration_format(&comp, d, sizeof(d));
				refs[0] = ev[k].seq;
				if ((rc = add_exception(pr, "account", ac->name, ev[k].time, refs, 1,
							p->severity,
							"no password change within %s of the evidence "
							"of compromise at %s",
							d, t1)) != 0)
					return rc;
			}
			continue;
		}
		if (mfa && policy_param_bool(p, "exempt_mfa"))
			continue;
		pr->population++;
		/* Never changed counts from the account's creation (or the first
		 * record of it). */
		clock = ev[0].time;
		clock_seq = ev[0].seq;
		for (k = 0; k < ac->ev.n; k++)
			if (ev[k].action == a->a_account_create) {
				clock = ev[k].time;
				clock_seq = ev[k].seq;
				break;
			}
		for (k = 0;; k++) {
			int64_t next = disabled < a->period.to_us ? disabled : a->period.to_us,
				next_seq = 0, refs[2];

			for (; k < ac->ev.n; k++)
				if (ev[k].action == a->a_password_change && ev[k].time > clock) {
					next = ev[k].time;
					next_seq = ev[k].seq;
					break;
				}
			if ((rc = policy_duration_add(clock, &max, NULL, &due)) != 0)
				return rc;
			if (due < next && due < a->period.to_us && next > a->period.from_us) {
				fmt_time(t1, clock);
				fmt_time(t2, due > a->period.from_us ? due : a->period.from_us);
				policy_duration_format(&max, d, sizeof(d));
				refs[0] = clock_seq;
				refs[1] = next_seq;
				if ((rc = add_exception(pr, "account", ac->name, due, refs, 2,
							p->severity,
							"password older than %s from %s (last changed "
							"or created %s)",
							d, t2, t1)) != 0)
					return rc;
				break;
			}
			if (k >= ac->ev.n || next >= a->period.to_us)
				break;
			clock = next;
			clock_seq = next_seq;
		}
	}
	return 0;
}

/* Upper edges of the honour-time histogram, seconds: at once, an hour, a
 * day, two days, ten days, thirty days, and beyond. */
static const int64_t honor_edges[] = {0, 3600, 86400, 2 * 86400, 10 * 86400, 30 * 86400};
#define HONOR_BINS (sizeof(honor_edges) / sizeof(honor_edges[0]) + 1)

static int eval_unsubscribe_figures(struct audit *a, struct audit_policy_result *pr)
{
	const struct policy *p = pr->policy;
	struct vec honor = {NULL, 0, 0, sizeof(int64_t)};
	int64_t bins[HONOR_BINS] = {0}, late = 0, nominal = 0;
	size_t i, k;
	int rc = 0;

	for (i = 0; i < a->pairs.n && rc == 0; i++) {
		struct pair *pair = &((struct pair *)a->pairs.p)[i];
		const struct cev *ev = pair->ev.p;

		if (!policy_scope_allows(p, "lists", pair->list) ||
		    !policy_scope_allows(p, "domains", domain_of(pair->subject)))
			continue;
		for (k = 0; k < pair->ev.n; k++) {
			int64_t deadline, *h;
			size_t b;

			if (ev[k].action != ACT_OPT_OUT || ev[k].time >= a->period.to_us)
				continue;
			if ((rc = deadline_for(p, ev[k].time, &deadline)) != 0)
				break;
			if (deadline < a->period.from_us)
				continue;
			pr->population++;
			if ((h = vec_push(&honor)) == NULL) {
				rc = AK_ENOMEM;
				break;
			}
			*h = pair->last_send_after && pair->last_send_after[k] > ev[k].time
				     ? pair->last_send_after[k] - ev[k].time
				     : 0;
			if (ev[k].time + *h > deadline)
				late++;
			for (b = 0; b < HONOR_BINS - 1 && *h > honor_edges[b] * 1000000; b++)
				;
			bins[b]++;
		}
	}
	/* The deadline of an opt-out at the start of the period, to mark on
	 * a chart (calendar and business-day deadlines vary a little). */
	if (rc == 0)
		rc = deadline_for(p, a->period.from_us, &nominal);
	if (rc == 0) {
		int64_t *v = honor.p;
		json_t *fig, *hist = json_array();

		for (k = 0; hist && k < HONOR_BINS; k++)
			json_array_append_new(
				hist, json_pack("{s:o,s:I}", "upto_seconds",
						k < HONOR_BINS - 1 ? json_integer(honor_edges[k])
								   : json_null(),
						"count", (json_int_t)bins[k]));
		if (honor.n)
			qsort(v, honor.n, sizeof(int64_t), cmp_i64);
		fig = honor.n ? json_pack("{s:I,s:I,s:I,s:I}", "opt_outs", (json_int_t)honor.n,
					  "p50", (json_int_t)(v[(honor.n - 1) / 2] / 1000000),
					  "p95",
					  (json_int_t)(v[(honor.n * 95 + 99) / 100 - 1] / 1000000),
					  "max", (json_int_t)(v[honor.n - 1] / 1000000))
			      : json_pack("{s:I}", "opt_outs", (json_int_t)0);
		if (fig == NULL || hist == NULL) {
			json_decref(fig);
			json_decref(hist);
			rc = ak_error_oom();
		} else {
			json_object_set_new(fig, "late", json_integer(late));
			json_object_set_new(fig, "deadline_seconds",
					    json_integer((nominal - a->period.from_us) / 1000000));
			json_object_set_new(fig, "histogram", hist);
			json_object_set_new(pr->figures, "honor_time_seconds", fig);
		}
	}
	free(honor.p);
	return rc;
}

static int eval_retention(struct audit *a, struct audit_policy_result *pr)
{
	size_t i, k;

	/* The log is append-only and nothing is purged yet: the population is
	 * every (subject, list) with an opt-in on record, and no proof has
	 * been lost. When retention purges, a purge below the floor will be
	 * an exception here. */
	for (i = 0; i < a->pairs.n; i++) {
		struct pair *pair = &((struct pair *)a->pairs.p)[i];
		const struct cev *ev = pair->ev.p;

		for (k = 0; k < pair->ev.n; k++)
			if (ev[k].action == ACT_OPT_IN) {
				pr->population++;
				break;
			}
	}
	return 0;
}

/* ---- driver ---- */

/* Read the entries of kind before the period's end (and from since), in
 * event-time order or, cheaper, in seq order: the log is then read mostly
 * in order (the consent and admin loaders sort what they keep, and the send
 * controls sort their exceptions). */
static int scan(struct audit *a, const char *kind, int64_t since, int has_since, int by_time,
		evidence_entry_cb cb)
{
	struct evidence_filter f = {0};

	f.by_time = by_time;
	f.kind = kind;
	f.since_us = since;
	f.has_since = has_since;
	f.until_us = a->period.to_us;
	f.has_until = 1;
	/* The loaders keep to their own tables in memory. */
	f.pipelined = 1;
	return evidence_scan(a->st, &f, cb, a);
}

static void audit_free(struct audit *a)
{
	size_t i;

	free(a->ring);
	for (i = 0; i < a->pairs.n; i++) {
		struct pair *p = &((struct pair *)a->pairs.p)[i];

		free(p->ev.p);
		free((void *)p->subject);
		free((void *)p->list);
		free(p->last_send_after);
	}
	free(a->pairs.p);
	for (i = 0; i < a->accounts.n; i++) {
		struct account *ac = &((struct account *)a->accounts.p)[i];

		free(ac->ev.p);
		free((void *)ac->name);
	}
	free(a->accounts.p);
	for (i = 0; i < a->camps.n; i++) {
		struct campaign *c = &((struct campaign *)a->camps.p)[i];

		free((void *)c->name);
		ak_strmap_free(c->rcpts);
	}
	free(a->camps.p);
	for (i = 0; i < a->doms.n; i++) {
		struct domain_stats *d = &((struct domain_stats *)a->doms.p)[i];

		free((void *)d->name);
		free(d->refs.p);
		ak_strmap_free(d->failing);
	}
	free(a->doms.p);
	for (i = 0; i < a->names.list.n; i++)
		free(((char **)a->names.list.p)[i]);
	free(a->names.list.p);
	free(a->supp_v.p);
	ak_strmap_free(a->names.map);
	ak_strmap_free(a->pairs_map);
	ak_strmap_free(a->acct_map);
	ak_strmap_free(a->supp);
	ak_strmap_free(a->camp_map);
	ak_strmap_free(a->dom_map);
	ak_jdoc_free(a->doc);
	free(a->pc);
}

static int id_of(struct audit *a, const char *name, uint32_t *out)
{
	return names_id(&a->names, name, out);
}

int audit_run(struct evidence_store *st, const struct policy_set *set,
	      const struct audit_period *period, struct audit_result **out)
{
	struct audit a;
	struct audit_result *r;
	struct evidence_checkpoint cp;
	size_t i;
	int rc = 0;

	memset(&a, 0, sizeof(a));
	a.st = st;
	a.set = set;
	a.period = *period;
	a.pairs.size = sizeof(struct pair);
	a.accounts.size = sizeof(struct account);
	a.supp_v.size = sizeof(struct supp_row);
	a.camps.size = sizeof(struct campaign);
	a.doms.size = sizeof(struct domain_stats);
	a.names.list.size = sizeof(char *);
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return ak_error_oom();
	a.res = r;
	r->period = *period;
	snprintf(r->policy_commit, sizeof(r->policy_commit), "%s", set->commit);
	r->policies = calloc(set->n ? set->n : 1, sizeof(*r->policies));
	if (r->policies == NULL) {
		free(r);
		return ak_error_oom();
	}
	r->npolicies = set->n;
	for (i = 0; i < set->n; i++) {
		r->policies[i].policy = &set->policies[i];
		r->policies[i].figures = json_object();
		if (strcmp(set->policies[i].control, "send.mass_approval") == 0 &&
		    policy_param_int(&set->policies[i], "threshold") > a.max_threshold)
			a.max_threshold = policy_param_int(&set->policies[i], "threshold");
	}
	a.pc = calloc(set->n ? set->n : 1, sizeof(*a.pc));
	a.ring = malloc(RING * sizeof(*a.ring));
	if (a.pc == NULL || a.ring == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	for (i = 0; i < set->n; i++) {
		const struct policy *p = &set->policies[i];
		struct pcache *pc = &a.pc[i];
		const char *c = p->control;
		json_t *v;
		const char *k;

		pc->control = strcmp(c, "consent.optin_proof") == 0	    ? C_OPTIN
			      : strcmp(c, "consent.unsubscribe_deadline") == 0 ? C_UNSUB
			      : strcmp(c, "send.suppression") == 0	    ? C_SUPP
			      : strcmp(c, "message.unsubscribe_headers") == 0  ? C_HEADERS
									      : C_OTHER;
		pc->streams = (policy_param_has(p, "streams", "marketing") ? 1 : 0) |
			      (policy_param_has(p, "streams", "transactional") ? 2 : 0);
		json_object_foreach(p->scope, k, v)
			if (json_array_size(v))
				pc->scoped = 1;
	}
	if ((rc = ak_jdoc_new(&a.doc, 0)) != 0 || (rc = ak_strmap_new(&a.names.map)) != 0 ||
	    (rc = ak_strmap_new(&a.pairs_map)) != 0 || (rc = ak_strmap_new(&a.acct_map)) != 0 ||
	    (rc = ak_strmap_new(&a.supp)) != 0 || (rc = ak_strmap_new(&a.camp_map)) != 0 ||
	    (rc = ak_strmap_new(&a.dom_map)) != 0)
		goto done;
	if ((rc = id_of(&a, "login_success", &a.a_login_success)) != 0 ||
	    (rc = id_of(&a, "password_change", &a.a_password_change)) != 0 ||
	    (rc = id_of(&a, "role_grant", &a.a_role_grant)) != 0 ||
	    (rc = id_of(&a, "role_revoke", &a.a_role_revoke)) != 0 ||
	    (rc = id_of(&a, "access_review", &a.a_access_review)) != 0 ||
	    (rc = id_of(&a, "account_create", &a.a_account_create)) != 0 ||
	    (rc = id_of(&a, "account_enable", &a.a_account_enable)) != 0 ||
	    (rc = id_of(&a, "account_disable", &a.a_account_disable)) != 0 ||
	    (rc = id_of(&a, "account_delete", &a.a_account_delete)) != 0 ||
	    (rc = id_of(&a, "mfa_enable", &a.a_mfa_enable)) != 0 ||
	    (rc = id_of(&a, "mfa_disable", &a.a_mfa_disable)) != 0)
		goto done;
	/* The audit is bound to the log as it stands: its latest checkpoint
	 * (the caller makes one first when it can write). */
	if (evidence_checkpoint_latest(st, &cp) == 0) {
		r->checkpoint_size = cp.size;
		memcpy(r->checkpoint_root, cp.root, 32);
		evidence_checkpoint_clear(&cp);
	}
	if ((rc = scan(&a, "consent", 0, 0, 0, load_consent)) != 0)
		goto done;
	for (i = 0; i < a.pairs.n; i++) {
		struct pair *p = &((struct pair *)a.pairs.p)[i];

		qsort(p->ev.p, p->ev.n, sizeof(struct cev), cmp_cev);
		if (policy_find_control(set, "consent.unsubscribe_deadline")) {
			p->last_send_after = calloc(p->ev.n, sizeof(int64_t));
			if (p->last_send_after == NULL) {
				rc = ak_error_oom();
				goto done;
			}
		}
	}
	if ((policy_find_control(set, "access.review") ||
	     policy_find_control(set, "password.rotation")) &&
	    (rc = scan(&a, "admin", 0, 0, 0, load_admin)) != 0)
		goto done;
	for (i = 0; i < a.accounts.n; i++) {
		struct account *ac = &((struct account *)a.accounts.p)[i];

		qsort(ac->ev.p, ac->ev.n, sizeof(struct aev), cmp_aev);
	}
	if ((rc = load_suppression(&a)) != 0 ||
	    (rc = scan(&a, "send", period->from_us, 1, 0, load_send)) != 0 ||
	    (rc = ring_flush(&a)) != 0)
		goto done;
	/* The sends came in log order: their findings are listed in time order. */
	for (i = 0; i < r->npolicies; i++)
		if (r->policies[i].nexceptions > 1 &&
		    (a.pc[i].control == C_OPTIN || a.pc[i].control == C_UNSUB ||
		     a.pc[i].control == C_SUPP || a.pc[i].control == C_HEADERS))
			qsort(r->policies[i].exceptions, r->policies[i].nexceptions,
			      sizeof(struct audit_exception), cmp_exception);
	if (policy_find_control(set, "dmarc.alignment") &&
	    (rc = scan(&a, "dmarc", period->from_us, 1, 1, load_dmarc)) != 0)
		goto done;
	for (i = 0; i < r->npolicies && rc == 0; i++) {
		struct audit_policy_result *pr = &r->policies[i];
		const char *c = pr->policy->control;

		if (strcmp(c, "dmarc.alignment") == 0)
			rc = eval_dmarc(&a, pr);
		else if (strcmp(c, "send.mass_approval") == 0)
			rc = eval_mass(&a, pr);
		else if (strcmp(c, "access.review") == 0)
			rc = eval_review(&a, pr);
		else if (strcmp(c, "password.rotation") == 0)
			rc = eval_password(&a, pr);
		else if (strcmp(c, "consent.unsubscribe_deadline") == 0)
			rc = eval_unsubscribe_figures(&a, pr);
		else if (strcmp(c, "consent.proof_retention") == 0)
			rc = eval_retention(&a, pr);
	}
	for (i = 0; i < r->npolicies && rc == 0; i++) {
		struct audit_policy_result *pr = &r->policies[i];
		struct ak_strmap *seen = NULL;
		size_t k;

		if ((rc = ak_strmap_new(&seen)) != 0)
			break;
		for (k = 0; k < pr->nexceptions; k++) {
			int ins;

			if (ak_strmap_put(seen, pr->exceptions[k].member,
					  strlen(pr->exceptions[k].member), &ins) == NULL) {
				rc = AK_ENOMEM;
				break;
			}
			if (ins)
				pr->affected++;
		}
		ak_strmap_free(seen);
	}
done:
	audit_free(&a);
	next_member_kind = NULL;
	/* The cache is keyed by policy pointers, which die with the set. */
	memset(deadline_cache, 0, sizeof(deadline_cache));
	if (rc != 0) {
		audit_result_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void audit_result_free(struct audit_result *r)
{
	size_t i, k;

	if (r == NULL)
		return;
	for (i = 0; i < r->npolicies; i++) {
		struct audit_policy_result *pr = &r->policies[i];

		for (k = 0; k < pr->nexceptions; k++) {
			free(pr->exceptions[k].member);
			free(pr->exceptions[k].who);
			free(pr->exceptions[k].detail);
			free(pr->exceptions[k].refs);
		}
		free(pr->exceptions);
		json_decref(pr->figures);
	}
	free(r->policies);
	free(r);
}
