/*
 * auditd/alerts/login.c - the login detectors, over `admin` entries whose
 * action is login_failure or login_success (the account is the actor, the
 * address the `ip` member).
 *
 *   login.bruteforce_user / _src   threshold failures whose times span at
 *       most window, per account / per address. Each key keeps only its
 *       newest `threshold` failures (sorted by time, seq), which is all the
 *       condition needs.
 *   login.spray_src   per address, the newest failure of each of at most
 *       max(threshold, fast_threshold) distinct accounts (by a keyed hash).
 *       Holding the most recent accounts is enough: if N accounts failed
 *       within a window, the N most recent ones did too.
 *   login.fail_then_success   whenever a brute-force condition holds, each
 *       account concerned is marked (for _src: the distinct accounts among
 *       the newest failures); a success for a marked account within window
 *       of the mark alerts.
 *   login.new_address_privileged / off_hours_privileged   read the derived
 *       state as of the login's time (account_roles, login_addresses).
 *
 * Windows are inclusive: "8 in 120 s" means the 1st and the 8th are at
 * most 120 s apart. A late entry is placed by its time; if a key already
 * holds `threshold` newer failures it is too old to matter and is dropped.
 */
#include "auditd/alerts/alerts_int.h"

#include "lib/error.h"
#include "lib/siphash.h"
#include "lib/timefmt.h"

#include <stdlib.h>
#include <string.h>

struct fail_ev {
	int64_t t, seq;
	uint64_t other; /* the address (by account) or account (by address), hashed */
};

struct fail_win {
	size_t n, cap;
	struct fail_ev ev[];
};

struct spray_acct {
	uint64_t acct;
	int64_t t, seq;
};

struct spray {
	size_t n, cap;
	struct spray_acct v[];
};

/* Brute forces concerning one account, merged while they are within the
 * fail-then-success window of each other. */
struct fts_mark {
	int64_t cond_t, from_t; /* the newest failure of the condition; the first */
	int by_user;            /* login.bruteforce_user's condition held */
	char addr[64];          /* the address of login.bruteforce_src's, or "" */
	size_t nrefs;
	int64_t refs[ALERT_REFS_MAX];
};

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

int alerts_login_init(struct alerts *a)
{
	struct rule_conf *c = a->conf;
	int64_t fts = c[R_FAIL_SUCCESS].enabled ? c[R_FAIL_SUCCESS].window_us : 0;
	int rc = 0;

	/* A key may go once nothing about it can matter any more: its window
	 * has passed and so has its suppression. */
	if (c[R_BF_USER].enabled || c[R_FAIL_SUCCESS].enabled)
		rc = keytab_init(&a->tab[R_BF_USER], ALERT_LOGIN_KEYS, ALERT_LOGIN_EVENTS,
		                 max64(c[R_BF_USER].window_us, c[R_BF_USER].suppress_us), free);
	if (rc == 0 && (c[R_BF_SRC].enabled || c[R_FAIL_SUCCESS].enabled))
		rc = keytab_init(&a->tab[R_BF_SRC], ALERT_LOGIN_KEYS, ALERT_LOGIN_EVENTS,
		                 max64(c[R_BF_SRC].window_us, c[R_BF_SRC].suppress_us), free);
	if (rc == 0 && c[R_SPRAY].enabled)
		rc = keytab_init(&a->tab[R_SPRAY], ALERT_LOGIN_KEYS, ALERT_LOGIN_EVENTS,
		                 max64(max64(c[R_SPRAY].window_us, c[R_SPRAY].fast_window_us),
		                       c[R_SPRAY].suppress_us),
		                 free);
	if (rc == 0 && c[R_FAIL_SUCCESS].enabled)
		rc = keytab_init(&a->tab[R_FAIL_SUCCESS], ALERT_LOGIN_KEYS, ALERT_LOGIN_EVENTS,
		                 fts + c[R_FAIL_SUCCESS].suppress_us, free);
	if (rc == 0 && c[R_NEW_ADDR].enabled)
		rc = keytab_init(&a->tab[R_NEW_ADDR], ALERT_PLAIN_KEYS, 0,
		                 c[R_NEW_ADDR].suppress_us, NULL);
	if (rc == 0 && c[R_OFF_HOURS].enabled)
		rc = keytab_init(&a->tab[R_OFF_HOURS], ALERT_PLAIN_KEYS, 0,
		                 c[R_OFF_HOURS].suppress_us, NULL);
	return rc;
}

static uint64_t hash_str(const struct alerts *a, const char *s)
{
	return ak_siphash(a->k0, a->k1, s, strlen(s));
}

/* Insert ev into the key's failures, keeping the newest `keep`. 1 when it
 * was kept, 0 when too old, <0 out of memory. */
static int win_add(struct keytab *t, struct keyslot *s, struct fail_ev ev, size_t keep)
{
	struct fail_win *w = s->data;
	size_t i;

	if (w == NULL || (w->n == w->cap && w->cap < keep)) {
		size_t cap = w ? w->cap * 2 : 4;
		struct fail_win *nw;

		if (cap > keep)
			cap = keep;
		if ((nw = realloc(w, sizeof(*w) + cap * sizeof(w->ev[0]))) == NULL)
			return ak_error_oom();
		if (w == NULL)
			nw->n = 0;
		nw->cap = cap;
		s->data = w = nw;
		keytab_charge(t, s, cap);
	}
	/* Place by (time, seq): the new one usually goes last. */
	for (i = w->n; i > 0; i--) {
		const struct fail_ev *p = &w->ev[i - 1];

		if (p->t < ev.t || (p->t == ev.t && p->seq < ev.seq))
			break;
	}
	if (w->n == keep) {
		if (i == 0)
			return 0;
		memmove(&w->ev[0], &w->ev[1], (i - 1) * sizeof(ev));
		w->ev[i - 1] = ev;
		return 1;
	}
	memmove(&w->ev[i + 1], &w->ev[i], (w->n - i) * sizeof(ev));
	w->ev[i] = ev;
	w->n++;
	return 1;
}

/* Does the key hold threshold failures within window? */
static int win_holds(const struct keyslot *s, int64_t threshold, int64_t window)
{
	const struct fail_win *w = s->data;

	return w && (int64_t)w->n >= threshold && w->ev[w->n - 1].t - w->ev[0].t <= window;
}

static size_t win_refs(const struct fail_win *w, int64_t *refs)
{
	size_t i, first = w->n > ALERT_REFS_MAX ? w->n - ALERT_REFS_MAX : 0;

	for (i = first; i < w->n; i++)
		refs[i - first] = w->ev[i].seq;
	return w->n - first;
}

static size_t distinct_other(const struct fail_win *w)
{
	size_t i, j, n = 0;

	for (i = 0; i < w->n; i++) {
		for (j = 0; j < i; j++)
			if (w->ev[j].other == w->ev[i].other)
				break;
		n += j == i;
	}
	return n;
}

static int cmp_seq(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return a < b ? -1 : a > b;
}

/* out = the ascending union of a[na] (ascending) and b[nb] (ascending
 * unless entries came out of order), without repeats. Returns its length. */
static size_t union_seqs(const int64_t *a, size_t na, int64_t *b, size_t nb, int64_t *out)
{
	size_t i = 0, j = 0, n = 0, k;

	for (k = 1; k < nb; k++)
		if (b[k - 1] > b[k]) {
			qsort(b, nb, sizeof(*b), cmp_seq);
			break;
		}
	while (i < na || j < nb) {
		int64_t v = j == nb || (i < na && a[i] < b[j]) ? a[i++] : b[j++];

		if (n == 0 || out[n - 1] != v)
			out[n++] = v;
	}
	return n;
}

/* Mark account (by hash) for fail-then-success: the brute force in w,
 * against the account (addr NULL) or from addr. */
static int mark(struct alerts *a, uint64_t acct, const struct fail_win *w, const char *addr)
{
	struct keytab *t = &a->tab[R_FAIL_SUCCESS];
	int64_t cond_t = w->ev[w->n - 1].t, refs[ALERT_REFS_MAX], merged[2 * ALERT_REFS_MAX];
	int64_t window = a->conf[R_FAIL_SUCCESS].window_us;
	struct keyslot *s = keytab_touch(t, (const char *)&acct, sizeof(acct), cond_t);
	struct fts_mark *m;
	size_t n, keep;

	if (s == NULL)
		return AK_ENOMEM;
	if ((m = s->data) == NULL) {
		if ((m = calloc(1, sizeof(*m))) == NULL)
			return ak_error_oom();
		s->data = m;
		keytab_charge(t, s, ALERT_REFS_MAX);
	} else if (m->cond_t - cond_t > window) {
		return 0; /* a late entry; a later brute force is marked */
	} else if (cond_t - m->cond_t > window) {
		memset(m, 0, sizeof(*m)); /* an earlier incident, over */
	}
	/* Otherwise the same incident, going on or seen by the other rule. */
	if (m->nrefs == 0 || w->ev[0].t < m->from_t)
		m->from_t = w->ev[0].t;
	if (cond_t > m->cond_t || m->nrefs == 0)
		m->cond_t = cond_t;
	if (addr)
		snprintf(m->addr, sizeof(m->addr), "%.*s", alerts_cut(addr, 63), addr);
	else
		m->by_user = 1;
	n = union_seqs(m->refs, m->nrefs, refs, win_refs(w, refs), merged);
	keep = n > ALERT_REFS_MAX ? ALERT_REFS_MAX : n;
	memcpy(m->refs, merged + n - keep, keep * sizeof(int64_t));
	m->nrefs = keep;
	return 0;
}

static int failure(struct alerts *a, const struct evidence_entry *e, const char *account,
                   const char *ip)
{
	struct rule_conf *c = a->conf;
	int64_t refs[ALERT_REFS_MAX];
	char span[48], where[160];
	int rc;

	if (a->tab[R_BF_USER].b) {
		struct keytab *t = &a->tab[R_BF_USER];
		struct keyslot *s = keytab_touch(t, account, strlen(account), e->time_us);
		struct fail_ev ev = {e->time_us, e->seq, ip ? hash_str(a, ip) : 0};

		if (s == NULL)
			return AK_ENOMEM;
		if ((rc = win_add(t, s, ev, (size_t)c[R_BF_USER].threshold)) < 0)
			return rc;
		if (rc == 1 && win_holds(s, c[R_BF_USER].threshold, c[R_BF_USER].window_us)) {
			const struct fail_win *w = s->data;
			size_t n = win_refs(w, refs), addrs = distinct_other(w);

			if (c[R_FAIL_SUCCESS].enabled &&
			    (rc = mark(a, hash_str(a, account), w, NULL)) != 0)
				return rc;
			if (addrs == 1 && ip)
				snprintf(where, sizeof(where), " from %.*s", alerts_cut(ip, 64),
				         ip);
			else if (addrs > 1)
				snprintf(where, sizeof(where), " from %zu addresses", addrs);
			else
				where[0] = '\0';
			alerts_span(span, sizeof(span), w->ev[w->n - 1].t - w->ev[0].t);
			if (c[R_BF_USER].enabled &&
			    (rc = alerts_fire(a, R_BF_USER, s, e->time_us, refs, n, w->ev[0].t,
			                      w->ev[w->n - 1].t, account,
			                      "%zu failed logins for %.*s%s in %s", w->n,
			                      alerts_cut(account, 128), account, where, span)) != 0)
				return rc;
		}
	}
	if (ip && a->tab[R_BF_SRC].b) {
		struct keytab *t = &a->tab[R_BF_SRC];
		struct keyslot *s = keytab_touch(t, ip, strlen(ip), e->time_us);
		struct fail_ev ev = {e->time_us, e->seq, hash_str(a, account)};

		if (s == NULL)
			return AK_ENOMEM;
		if ((rc = win_add(t, s, ev, (size_t)c[R_BF_SRC].threshold)) < 0)
			return rc;
		if (rc == 1 && win_holds(s, c[R_BF_SRC].threshold, c[R_BF_SRC].window_us)) {
			const struct fail_win *w = s->data;
			size_t n = win_refs(w, refs), accounts = distinct_other(w), i, j;

			/* Every account the brute force went after, among the
			 * newest failures (each is marked once). */
			for (i = w->n > ALERT_REFS_MAX ? w->n - ALERT_REFS_MAX : 0;
			     c[R_FAIL_SUCCESS].enabled && i < w->n; i++) {
				for (j = i + 1; j < w->n; j++)
					if (w->ev[j].other == w->ev[i].other)
						break;
				if (j == w->n && (rc = mark(a, w->ev[i].other, w, ip)) != 0)
					return rc;
			}
			if (accounts == 1)
				snprintf(where, sizeof(where), "%.*s", alerts_cut(account, 128),
				         account);
			else
				snprintf(where, sizeof(where), "%zu accounts", accounts);
			alerts_span(span, sizeof(span), w->ev[w->n - 1].t - w->ev[0].t);
			if (c[R_BF_SRC].enabled &&
			    (rc = alerts_fire(a, R_BF_SRC, s, e->time_us, refs, n, w->ev[0].t,
			                      w->ev[w->n - 1].t, ip,
			                      "%zu failed logins for %s from %.*s in %s", w->n,
			                      where, alerts_cut(ip, 64), ip, span)) != 0)
				return rc;
		}
	}
	return 0;
}

static int spray(struct alerts *a, const struct evidence_entry *e, const char *account,
                 const char *ip)
{
	const struct rule_conf *c = &a->conf[R_SPRAY];
	struct keytab *t = &a->tab[R_SPRAY];
	struct keyslot *s = keytab_touch(t, ip, strlen(ip), e->time_us);
	size_t keep = (size_t)(c->threshold > c->fast_threshold ? c->threshold : c->fast_threshold);
	uint64_t h = hash_str(a, account);
	int64_t newest = INT64_MIN, from, refs[ALERT_REFS_MAX];
	struct spray *sp;
	size_t i, n, oldest = 0;
	int fast;
	char span[48];

	if (s == NULL)
		return AK_ENOMEM;
	sp = s->data;
	for (i = 0; sp && i < sp->n; i++)
		if (sp->v[i].acct == h)
			break;
	if (sp && i < sp->n) {
		if (e->time_us > sp->v[i].t ||
		    (e->time_us == sp->v[i].t && e->seq > sp->v[i].seq)) {
			sp->v[i].t = e->time_us;
			sp->v[i].seq = e->seq;
		}
	} else {
		if (sp == NULL || (sp->n == sp->cap && sp->cap < keep)) {
			size_t cap = sp ? sp->cap * 2 : 4;
			struct spray *ns;

			if (cap > keep)
				cap = keep;
			if ((ns = realloc(sp, sizeof(*sp) + cap * sizeof(sp->v[0]))) == NULL)
				return ak_error_oom();
			if (sp == NULL)
				ns->n = 0;
			ns->cap = cap;
			s->data = sp = ns;
			keytab_charge(t, s, cap);
		}
		if (sp->n < sp->cap) {
			i = sp->n++;
		} else {
			/* Full: the account whose last failure is oldest makes room. */
			for (i = 1; i < sp->n; i++)
				if (sp->v[i].t < sp->v[oldest].t)
					oldest = i;
			if (sp->v[oldest].t > e->time_us)
				return 0;
			i = oldest;
		}
		sp->v[i].acct = h;
		sp->v[i].t = e->time_us;
		sp->v[i].seq = e->seq;
	}
	for (i = 0; i < sp->n; i++)
		if (sp->v[i].t > newest)
			newest = sp->v[i].t;
	/* The fast variant first: when both hold, it says more. */
	for (fast = c->fast_threshold > 0 ? 1 : 0; fast >= 0; fast--) {
		int64_t window = fast ? c->fast_window_us : c->window_us;
		int64_t need = fast ? c->fast_threshold : c->threshold;
		size_t count = 0;

		from = newest;
		n = 0;
		for (i = 0; i < sp->n; i++)
			if (sp->v[i].t >= newest - window) {
				count++;
				if (sp->v[i].t < from)
					from = sp->v[i].t;
			}
		if ((int64_t)count < need)
			continue;
		/* Refs: each account's latest failure, the newest first kept. */
		for (i = 0; i < sp->n; i++)
			if (sp->v[i].t >= newest - window) {
				if (n < ALERT_REFS_MAX)
					refs[n++] = sp->v[i].seq;
				else {
					size_t k, lo = 0;

					for (k = 1; k < n; k++)
						if (refs[k] < refs[lo])
							lo = k;
					if (sp->v[i].seq > refs[lo])
						refs[lo] = sp->v[i].seq;
				}
			}
		alerts_span(span, sizeof(span), newest - from);
		return alerts_fire(a, R_SPRAY, s, e->time_us, refs, n, from, newest, ip,
		                   "%zu accounts failed to log in from %.*s in %s (%s spray: at "
		                   "least %lld in %lld min)",
		                   count, alerts_cut(ip, 64), ip, span, fast ? "fast" : "slow",
		                   (long long)need, (long long)(window / (60 * US_PER_S)));
	}
	return 0;
}

/* The privileged role account held at t (into role), or 0. */
static int privileged(struct alerts *a, const char *const *roles, const char *account, int64_t t,
                      char *role, size_t cap)
{
	sqlite3_stmt *q = a->q_roles;
	int found = 0, step;

	if (q == NULL || roles == NULL)
		return 0;
	sqlite3_reset(q);
	sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, t);
	while (!found && (step = sqlite3_step(q)) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(q, 0);
		const char *const *p;

		for (p = roles; r && *p; p++)
			if (strcmp(*p, r) == 0) {
				snprintf(role, cap, "%.*s", alerts_cut(r, cap - 1), r);
				found = 1;
				break;
			}
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return found;
}

/* Had account logged in from ip before t? The row of this very login has
 * first == t; a row with first > t comes from a later login indexed first
 * (entries out of order), so this one is the first known. */
static int seen_before(struct alerts *a, const char *account, const char *ip, int64_t t)
{
	sqlite3_stmt *q = a->q_addr;
	int seen = 0;

	sqlite3_reset(q);
	sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, ip, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW)
		seen = sqlite3_column_int64(q, 0) < t;
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return seen;
}

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

static int success(struct alerts *a, const struct evidence_entry *e, const char *account,
                   const char *ip)
{
	struct rule_conf *c = a->conf;
	char role[64], span[48];
	struct keyslot *s;
	int rc;

	if (c[R_FAIL_SUCCESS].enabled) {
		uint64_t h = hash_str(a, account);
		struct keytab *t = &a->tab[R_FAIL_SUCCESS];
		struct fts_mark *m;

		s = keytab_find(t, (const char *)&h, sizeof(h));
		m = s ? s->data : NULL;
		if (m && m->cond_t <= e->time_us &&
		    e->time_us - m->cond_t <= c[R_FAIL_SUCCESS].window_us) {
			int64_t refs[ALERT_REFS_MAX + 1];
			char why[128];

			memcpy(refs, m->refs, m->nrefs * sizeof(int64_t));
			refs[m->nrefs] = e->seq;
			snprintf(
			        why, sizeof(why), "%s%s%s", m->by_user ? "against the account" : "",
			        m->by_user && m->addr[0] ? " and " : "", m->addr[0] ? "from " : "");
			alerts_span(span, sizeof(span), e->time_us - m->cond_t);
			if ((rc = alerts_fire(
			             a, R_FAIL_SUCCESS, s, e->time_us, refs, m->nrefs + 1,
			             m->from_t, e->time_us, account,
			             "%.*s logged in%s%.*s %s after a brute force %s%s (%zu "
			             "failed logins)",
			             alerts_cut(account, 128), account, ip ? " from " : "",
			             ip ? alerts_cut(ip, 64) : 0, ip ? ip : "", span, why, m->addr,
			             m->nrefs)) != 0)
				return rc;
		}
	}
	if (c[R_NEW_ADDR].enabled && ip &&
	    privileged(a, a->roles[R_NEW_ADDR], account, e->time_us, role, sizeof(role)) &&
	    !seen_before(a, account, ip, e->time_us)) {
		if ((s = keytab_touch(&a->tab[R_NEW_ADDR], account, strlen(account), e->time_us)) ==
		    NULL)
			return AK_ENOMEM;
		if ((rc = alerts_fire(
		             a, R_NEW_ADDR, s, e->time_us, &e->seq, 1, e->time_us, e->time_us,
		             account,
		             "privileged account %.*s (%s) logged in from a new address %.*s",
		             alerts_cut(account, 128), account, role, alerts_cut(ip, 64), ip)) != 0)
			return rc;
	}
	if (c[R_OFF_HOURS].enabled &&
	    privileged(a, a->roles[R_OFF_HOURS], account, e->time_us, role, sizeof(role))) {
		const struct business_hours *bh = &c[R_OFF_HOURS].hours;
		int off, hour, min, sec, wday, tod;

		if (ak_time_zone_offset(a->zone, e->time_us, &off) != 0) {
			ak_error_clear();
			return 0;
		}
		ak_time_to_civil(e->time_us + (int64_t)off * US_PER_S, NULL, NULL, NULL, &hour,
		                 &min, &sec, &wday);
		tod = hour * 3600 + min * 60 + sec;
		if ((bh->days & (1u << wday)) && tod >= bh->start_s && tod < bh->end_s)
			return 0;
		if ((s = keytab_touch(&a->tab[R_OFF_HOURS], account, strlen(account),
		                      e->time_us)) == NULL)
			return AK_ENOMEM;
		return alerts_fire(
		        a, R_OFF_HOURS, s, e->time_us, &e->seq, 1, e->time_us, e->time_us, account,
		        "privileged account %.*s (%s) logged in%s%.*s at %s %02d:%02d "
		        "%s, outside business hours",
		        alerts_cut(account, 128), account, role, ip ? " from " : "",
		        ip ? alerts_cut(ip, 64) : 0, ip ? ip : "", wdays[wday], hour, min, a->zone);
	}
	return 0;
}

int alerts_login_feed(struct alerts *a, const struct evidence_entry *e, const struct ak_jv *b)
{
	const char *action = alerts_str(b, "action"), *account = alerts_str(b, "actor");
	const char *ip = alerts_str(b, "ip"), *result = alerts_str(b, "result");
	int rc;

	if (action == NULL || account == NULL)
		return 0;
	if (strcmp(action, "login_failure") == 0) {
		if ((rc = failure(a, e, account, ip)) != 0)
			return rc;
		return ip && a->conf[R_SPRAY].enabled ? spray(a, e, account, ip) : 0;
	}
	if (strcmp(action, "login_success") == 0 && !(result && strcmp(result, "failure") == 0))
		return success(a, e, account, ip);
	return 0;
}
