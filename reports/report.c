/*
 * reports/report.c - gathering the quarterly report (see report.h and
 * docs/REPORTS.md, the document's schema).
 *
 * The sources:
 *   - the audit of the period (per policy: population, exceptions with
 *     their refs, the controls' figures), given or run here;
 *   - the audit of the previous period, read from its recorded system
 *     entry at the same policy commit, else run here (read-only);
 *   - one pass over the entries of the period, every kind at once, for
 *     what the report counts itself: consent actions, send volume per
 *     week and blocked sends, DMARC per week, alerts, access reviews;
 *   - the admin history before the period (roles held, passwords, reviews
 *     that started a clock before the period);
 *   - the finding entries the audit recorded, so that each exception row
 *     can name its finding's seq too.
 * Every scan stops at the size of the checkpoint the report is bound to.
 *
 * Weeks are ISO 8601 weeks of the report's zone, clipped to the period:
 * the first and last may be short, and say how many days they hold.
 */
#include "reports/report.h"

#include "lib/b64.h"
#include "lib/error.h"
#include "lib/jcs.h"
#include "lib/strmap.h"
#include "lib/timefmt.h"
#include "policies/state.h"
#include "reports/report_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAMPLE_SEQS            20 /* seqs cited per counted group (the rest are counted) */
#define MAX_REVIEW_ROWS        500
#define MAX_ALERT_ROWS         50
#define DEFAULT_MAX_EXCEPTIONS 100000

/* sort(3) that may be given an empty, NULL array. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* ---- ratios (written by policy_ratio_text, read back here) ---- */

int64_t report_ratio_e4(const char *s)
{
	int64_t whole = 0, frac = 0, scale = 1000;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9')
		whole = whole * 10 + (*s++ - '0');
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
			frac += scale > 0 ? (*s - '0') * scale : 0;
	if (*s != '\0' || whole > 1)
		return -1;
	return whole * 10000 + frac;
}

/* ---- weeks ---- */

struct week {
	int64_t from, to; /* [from, to), inside the period */
	char label[12];   /* "2026-W27" */
	int days;         /* days of the week inside the period */
};

/* ISO 8601 week-numbering year and week of a civil date. */
static void iso_week(int y, int m, int d, int *wy, int *wk)
{
	int64_t days = ak_time_from_civil(y, m, d, 0, 0, 0) / 86400;
	int wday = (int)(((days % 7) + 7 + 3) % 7) + 1; /* 1970-01-01 was a Thursday: Mon = 1 */
	int64_t thursday = days - wday + 4;             /* the Thursday of this week */
	int ty, tm, td;
	int64_t jan1;

	ak_time_to_civil(thursday * 86400 * 1000000, &ty, &tm, &td, NULL, NULL, NULL, NULL);
	jan1 = ak_time_from_civil(ty, 1, 1, 0, 0, 0) / 86400;
	*wy = ty;
	*wk = (int)((thursday - jan1) / 7) + 1;
}

/* The local civil date of an instant in zone. */
static int local_date(const char *zone, int64_t us, int *y, int *m, int *d, int *wday)
{
	int off, rc;

	if ((rc = ak_time_zone_offset(zone, us, &off)) != 0)
		return rc;
	ak_time_to_civil(us + (int64_t)off * 1000000, y, m, d, NULL, NULL, NULL, wday);
	return 0;
}

static int make_weeks(const struct audit_period *p, const char *zone, struct week **out, size_t *n)
{
	struct week *w = NULL;
	size_t cap = 0, k = 0;
	int64_t at = p->from_us;
	int rc = 0;

	while (at < p->to_us) {
		int y, m, d, wday, wy, wk;
		int64_t day, next;

		if ((rc = local_date(zone, at, &y, &m, &d, &wday)) != 0)
			break;
		/* the next local Monday 00:00 */
		day = ak_time_from_civil(y, m, d, 0, 0, 0) / 86400 + (wday == 0 ? 1 : 8 - wday);
		{
			int ny, nm, nd;

			ak_time_to_civil(day * 86400 * 1000000, &ny, &nm, &nd, NULL, NULL, NULL,
			                 NULL);
			if ((rc = ak_time_local(zone, ny, nm, nd, 0, 0, 0, &next)) != 0)
				break;
		}
		if (next > p->to_us)
			next = p->to_us;
		if (k == cap) {
			void *np = realloc(w, (cap = cap ? cap * 2 : 16) * sizeof(*w));

			if (np == NULL) {
				rc = ak_error_oom();
				break;
			}
			w = np;
		}
		iso_week(y, m, d, &wy, &wk);
		w[k].from = at;
		w[k].to = next;
		snprintf(w[k].label, sizeof(w[k].label), "%04d-W%02d", wy, wk);
		w[k].days = (int)((next - at + 86400LL * 1000000 / 2) / (86400LL * 1000000));
		if (w[k].days < 1)
			w[k].days = 1;
		k++;
		at = next;
	}
	if (rc != 0) {
		free(w);
		return rc;
	}
	*out = w;
	*n = k;
	return 0;
}

static size_t week_of(const struct week *w, size_t n, int64_t t)
{
	size_t lo = 0, hi = n;

	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (w[mid].from <= t)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* ---- the gathering state ---- */

/* A counted group (a method, a block reason, an alert rule, a domain)
 * with a count per week and the first seqs that show it. */
struct group {
	char *name;
	char *extra;         /* the control of a block reason; the highest alert severity */
	int64_t count, a, b; /* a, b: per-group figures (DMARC messages and passes) */
	int64_t *weeks;      /* per week: count (alerts) or messages (DMARC) */
	int64_t *weeks_b;    /* per week: aligned passes (DMARC) */
	int64_t seqs[SAMPLE_SEQS];
	size_t nseqs;
};

struct groups {
	struct ak_strmap *map;
	struct group *v;
	size_t n, cap;
};

static struct group *group_get(struct groups *g, const char *name, size_t nweeks)
{
	uint64_t *slot;
	int ins;

	if (g->map == NULL && ak_strmap_new(&g->map) != 0)
		return NULL;
	slot = ak_strmap_put(g->map, name, strlen(name), &ins);
	if (slot == NULL)
		return NULL;
	if (ins) {
		struct group *x;

		if (g->n == g->cap) {
			size_t cap = g->cap ? g->cap * 2 : 8;
			void *np = realloc(g->v, cap * sizeof(*g->v));

			if (np == NULL) {
				ak_error_oom();
				return NULL;
			}
			g->v = np;
			g->cap = cap;
		}
		x = &g->v[g->n];
		memset(x, 0, sizeof(*x));
		x->name = strdup(name);
		x->weeks = calloc(nweeks + 1, sizeof(int64_t));
		x->weeks_b = calloc(nweeks + 1, sizeof(int64_t));
		if (x->name == NULL || x->weeks == NULL || x->weeks_b == NULL) {
			free(x->name);
			free(x->weeks);
			free(x->weeks_b);
			ak_error_oom();
			return NULL;
		}
		*slot = ++g->n;
	}
	return &g->v[*slot - 1];
}

static void group_cite(struct group *x, int64_t seq)
{
	if (x->nseqs < SAMPLE_SEQS)
		x->seqs[x->nseqs++] = seq;
}

static void groups_free(struct groups *g)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		free(g->v[i].name);
		free(g->v[i].extra);
		free(g->v[i].weeks);
		free(g->v[i].weeks_b);
	}
	free(g->v);
	ak_strmap_free(g->map);
	memset(g, 0, sizeof(*g));
}

/* One admin event of an account, as the access section needs it. */
struct admin_ev {
	int64_t time, seq;
	char action[20];
	uint32_t role, actor; /* indexes into the name table, 0: none */
	unsigned char mfa;
};

struct account {
	char *name;
	struct admin_ev *ev;
	size_t n, cap;
};

enum send_status {
	S_SENT,
	S_BOUNCED,
	S_DEFERRED,
	S_BLOCKED,
	S_QUEUED,
	S_COMPLAINED,
	S_EXPIRED,
	S_OTHER,
	S_NSTATUS
};
static const char *const status_names[S_NSTATUS] = {"sent",   "bounced",    "deferred", "blocked",
                                                    "queued", "complained", "expired",  "other"};

/* One exception as the report lists it: from the audit run here, or from
 * a finding entry on record. */
struct exc_row {
	size_t policy; /* index into the policy set */
	char *what, *who, *detail, *severity;
	int64_t time, finding_seq;
	int64_t *refs;
	size_t nrefs;
};

struct exc_rows {
	struct exc_row *v;
	size_t n, cap;
};

/* The audit of a period as the report uses it, whichever way it came. */
struct pol_view {
	int64_t population, affected, not_assessed, exceptions, findings;
	json_t *figures; /* owned */
};

struct audit_view {
	struct pol_view *pol; /* parallel to the set's policies */
	struct exc_rows rows;
	int64_t total;
	int from_record; /* read from the log, not run */
	int ran;         /* run (and recorded when req->record) for this report */
	size_t appended;
	int64_t system_seq; /* its system entry, 0 when not recorded */
	int64_t checkpoint_size;
};

/* The latest audit system entry of a period at the set's commit. */
struct audit_mark {
	char from[AK_TIME_MAX], to[AK_TIME_MAX];
	int64_t seq;
	json_t *body;
};

struct gather {
	struct evidence_store *st;
	const struct report_request *req;
	struct audit_view view;
	struct ak_jdoc *doc;
	int64_t upto;     /* entries counted: 1..upto */
	int64_t relevant; /* the last seq an audit of the period must have seen */
	struct audit_mark cur, prev;
	struct prev_job *job;         /* the previous period's audit, running */
	struct exc_rows found;        /* findings on record for the period at this commit */
	struct ak_strmap *found_keys; /* policy \x1f who \x1f detail -> index + 1 */
	struct ak_strmap *policy_ids; /* policy id -> index + 1 */
	struct ak_buf key;
	const char *zone;
	struct week *weeks;
	size_t nweeks;
	/* consent */
	struct groups optin_methods, optout_methods, exemptions;
	struct groups lists; /* per list: count opt-ins, a opt-outs, b confirmations */
	int64_t optins, confirms, optouts, noproof;
	int64_t noproof_seqs[SAMPLE_SEQS];
	size_t nnoproof;
	/* sends */
	int64_t *send_weeks; /* nweeks * S_NSTATUS */
	int64_t status_total[S_NSTATUS];
	int64_t marketing, transactional, stream_other;
	struct groups blocked;
	int64_t blocked_total;
	/* DMARC, alerts */
	struct groups dmarc, alerts;
	json_t *alert_rows; /* the latest alerts, newest last */
	/* admin */
	struct ak_strmap *acct_map;
	struct account *accts;
	size_t naccts, cap_accts;
	struct ak_strmap *name_map;
	char **names;
	size_t nnames, cap_names;
	int64_t scanned;
};

static const char *sv(const struct ak_jv *o, const char *k)
{
	const struct ak_jv *v = ak_jv_get(o, k);

	return v && v->type == AK_JSTRING ? v->u.s.ptr : NULL;
}

static uint32_t name_id(struct gather *g, const char *s)
{
	uint64_t *slot;
	int ins;

	if (s == NULL || *s == '\0')
		return 0;
	if ((slot = ak_strmap_put(g->name_map, s, strlen(s), &ins)) == NULL)
		return UINT32_MAX;
	if (ins) {
		if (g->nnames == g->cap_names) {
			size_t cap = g->cap_names ? g->cap_names * 2 : 32;
			void *np = realloc(g->names, cap * sizeof(*g->names));

			if (np == NULL)
				return UINT32_MAX;
			g->names = np;
			g->cap_names = cap;
		}
		if ((g->names[g->nnames] = strdup(s)) == NULL)
			return UINT32_MAX;
		*slot = ++g->nnames;
	}
	return (uint32_t)*slot;
}

static const char *name_of(const struct gather *g, uint32_t id)
{
	return id == 0 || id > g->nnames ? "" : g->names[id - 1];
}

/* ---- the pass over the period ---- */

static int on_consent(struct gather *g, const struct evidence_entry *e, const struct ak_jv *b)
{
	const char *action = sv(b, "action"), *method = sv(b, "method"), *ex = sv(b, "exemption");
	const struct ak_jv *proof = ak_jv_get(b, "proof");
	const char *list = sv(b, "list");
	struct group *x, *l;

	if (action == NULL)
		return 0;
	if ((l = group_get(&g->lists, list ? list : "(none)", 0)) == NULL)
		return AK_ENOMEM;
	if (strcmp(action, "opt_in") == 0) {
		g->optins++;
		l->count++;
		if ((x = group_get(&g->optin_methods, method ? method : "(none)", 0)) == NULL)
			return AK_ENOMEM;
		x->count++;
		if (ex) {
			if ((x = group_get(&g->exemptions, ex, 0)) == NULL)
				return AK_ENOMEM;
			x->count++;
			group_cite(x, e->seq);
		} else if (proof == NULL || proof->type != AK_JOBJECT || proof->u.o.n == 0) {
			/* no proof object, or "proof":"none" */
			g->noproof++;
			if (g->nnoproof < SAMPLE_SEQS)
				g->noproof_seqs[g->nnoproof++] = e->seq;
		}
	} else if (strcmp(action, "confirm") == 0) {
		g->confirms++;
		l->b++;
	} else if (strcmp(action, "opt_out") == 0) {
		g->optouts++;
		l->a++;
		if ((x = group_get(&g->optout_methods, method ? method : "(none)", 0)) == NULL)
			return AK_ENOMEM;
		x->count++;
	}
	return 0;
}

static enum send_status status_of(const char *s)
{
	int i;

	for (i = 0; s && i < S_OTHER; i++)
		if (strcmp(s, status_names[i]) == 0)
			return (enum send_status)i;
	return S_OTHER;
}

static int block_reason(struct gather *g, const struct evidence_entry *e, const char *name,
                        const char *control)
{
	struct group *x = group_get(&g->blocked, name, 0);

	if (x == NULL)
		return AK_ENOMEM;
	x->count++;
	if (x->extra == NULL && control && (x->extra = strdup(control)) == NULL)
		return ak_error_oom();
	group_cite(x, e->seq);
	return 0;
}

static int on_send(struct gather *g, const struct evidence_entry *e, const struct ak_jv *b)
{
	enum send_status s = status_of(sv(b, "status"));
	const char *stream = sv(b, "stream");
	size_t w = week_of(g->weeks, g->nweeks, e->time_us);
	const struct ak_jv *gate, *reasons;
	size_t i;
	int rc;

	g->send_weeks[w * S_NSTATUS + s]++;
	g->status_total[s]++;
	if (stream && strcmp(stream, "marketing") == 0)
		g->marketing++;
	else if (stream && strcmp(stream, "transactional") == 0)
		g->transactional++;
	else
		g->stream_other++;
	if (s != S_BLOCKED)
		return 0;
	g->blocked_total++;
	/* gate.reasons[] as the gate writes them ({policy, control, detail,
	 * ref}), or plain strings; a top-level reasons[] from other senders. */
	gate = ak_jv_get(b, "gate");
	reasons = ak_jv_get(gate, "reasons");
	if (reasons == NULL || reasons->type != AK_JARRAY)
		reasons = ak_jv_get(b, "reasons");
	if (reasons == NULL || reasons->type != AK_JARRAY || reasons->u.a.n == 0)
		return block_reason(g, e, "(no reason recorded)", NULL);
	for (i = 0; i < reasons->u.a.n; i++) {
		const struct ak_jv *r = reasons->u.a.items[i];
		const char *name = r->type == AK_JSTRING ? r->u.s.ptr
		                   : sv(r, "policy")     ? sv(r, "policy")
		                   : sv(r, "control")    ? sv(r, "control")
		                                         : "(unnamed reason)";

		if ((rc = block_reason(g, e, name,
		                       r->type == AK_JOBJECT ? sv(r, "control") : NULL)) != 0)
			return rc;
	}
	return 0;
}

static int on_dmarc(struct gather *g, const struct evidence_entry *e, const struct ak_jv *b)
{
	const char *domain = sv(ak_jv_get(b, "policy"), "domain");
	const struct ak_jv *rows = ak_jv_get(b, "rows");
	size_t w = week_of(g->weeks, g->nweeks, e->time_us), i;
	struct group *x;

	if (domain == NULL || rows == NULL || rows->type != AK_JARRAY)
		return 0;
	if ((x = group_get(&g->dmarc, domain, g->nweeks)) == NULL)
		return AK_ENOMEM;
	x->count++;
	group_cite(x, e->seq);
	for (i = 0; i < rows->u.a.n; i++) {
		const struct ak_jv *r = rows->u.a.items[i], *cnt = ak_jv_get(r, "count");
		const char *dk = sv(r, "dkim"), *sp = sv(r, "spf");
		int64_t n = cnt && cnt->type == AK_JINT && cnt->u.i > 0 ? cnt->u.i : 0;

		/* aligned pass as the audit counts it: DKIM or SPF passed
		 * (the report's policy_evaluated results are alignment results) */
		x->weeks[w] += n;
		x->a += n;
		if ((dk && strcmp(dk, "pass") == 0) || (sp && strcmp(sp, "pass") == 0)) {
			x->weeks_b[w] += n;
			x->b += n;
		}
	}
	return 0;
}

static const char *const severities[] = {"info", "low", "medium", "warn", "high", "critical", NULL};

static int severity_rank(const char *s)
{
	int i;

	for (i = 0; s && severities[i]; i++)
		if (strcmp(s, severities[i]) == 0)
			return i;
	return -1;
}

static int cmp_alert_rows(const void *x, const void *y)
{
	json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	int c = strcmp(rj_str(a, "time", ""), rj_str(b, "time", ""));

	if (c)
		return c;
	return rj_int(a, "seq", 0) < rj_int(b, "seq", 0) ? -1 : 1;
}

/* Keep the latest MAX_ALERT_ROWS alerts by (time, seq), oldest first. */
static int trim_alerts(struct gather *g)
{
	size_t n = json_array_size(g->alert_rows), i;
	json_t **v, *keep;

	if (n <= MAX_ALERT_ROWS)
		return 0;
	if ((v = malloc(n * sizeof(*v))) == NULL || (keep = json_array()) == NULL) {
		free(v);
		return ak_error_oom();
	}
	for (i = 0; i < n; i++)
		v[i] = json_array_get(g->alert_rows, i);
	sort(v, n, sizeof(*v), cmp_alert_rows);
	for (i = n - MAX_ALERT_ROWS; i < n; i++)
		json_array_append(keep, v[i]);
	free(v);
	json_decref(g->alert_rows);
	g->alert_rows = keep;
	return 0;
}

static int on_alert(struct gather *g, const struct evidence_entry *e, const struct ak_jv *b)
{
	const char *rule = sv(b, "rule"), *sev = sv(b, "severity");
	size_t w = week_of(g->weeks, g->nweeks, e->time_us);
	const struct ak_jv *refs;
	char t[AK_TIME_MAX];
	struct group *x;
	json_t *row;

	if ((x = group_get(&g->alerts, rule ? rule : "(no rule)", g->nweeks)) == NULL)
		return AK_ENOMEM;
	x->count++;
	x->weeks[w]++;
	group_cite(x, e->seq);
	if (sev && severity_rank(sev) > severity_rank(x->extra)) {
		free(x->extra);
		if ((x->extra = strdup(sev)) == NULL)
			return ak_error_oom();
	}
	ak_time_format(t, e->time_us, AK_TIME_SECONDS);
	refs = ak_jv_get(b, "refs");
	row = json_pack("{s:s,s:I,s:s,s:s,s:s,s:o}", "time", t, "seq", (json_int_t)e->seq, "rule",
	                rule ? rule : "", "severity", sev ? sev : "", "summary",
	                sv(b, "summary") ? sv(b, "summary") : "", "refs",
	                refs && refs->type == AK_JARRAY ? ak_jv_to_jansson(refs) : json_array());
	if (row == NULL || json_array_append_new(g->alert_rows, row) != 0)
		return ak_error_oom();
	/* keep the latest few by event time (entries may come in seq order) */
	return json_array_size(g->alert_rows) > 4 * MAX_ALERT_ROWS ? trim_alerts(g) : 0;
}

static int on_admin(struct gather *g, const struct evidence_entry *e, const struct ak_jv *b)
{
	const char *actor = sv(b, "actor"), *action = sv(b, "action"), *target = sv(b, "target");
	const char *acct;
	const struct ak_jv *details, *mfa;
	struct account *a;
	struct admin_ev *ev;
	uint64_t *slot;
	int ins;

	int login;

	if (!actor || !action || strcmp(action, "approval") == 0)
		return 0;
	login = strncmp(action, "login", 5) == 0 || strcmp(action, "logout") == 0;
	/* A failed action changed nothing (no grant, no new password, no
	 * review), as the audit and the gate judge it; a failed login is
	 * still a login attempt. */
	if (!login && policy_failed_action(b))
		return 0;
	/* whom the event is about: the actor of a login, else the target */
	acct = (login || !target) ? actor : target;
	if ((slot = ak_strmap_put(g->acct_map, acct, strlen(acct), &ins)) == NULL)
		return AK_ENOMEM;
	if (ins) {
		if (g->naccts == g->cap_accts) {
			size_t cap = g->cap_accts ? g->cap_accts * 2 : 16;
			void *np = realloc(g->accts, cap * sizeof(*g->accts));

			if (np == NULL)
				return ak_error_oom();
			g->accts = np;
			g->cap_accts = cap;
		}
		memset(&g->accts[g->naccts], 0, sizeof(*g->accts));
		if ((g->accts[g->naccts].name = strdup(acct)) == NULL)
			return ak_error_oom();
		*slot = ++g->naccts;
	}
	a = &g->accts[*slot - 1];
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		void *np = realloc(a->ev, cap * sizeof(*a->ev));

		if (np == NULL)
			return ak_error_oom();
		a->ev = np;
		a->cap = cap;
	}
	ev = &a->ev[a->n++];
	memset(ev, 0, sizeof(*ev));
	ev->time = e->time_us;
	ev->seq = e->seq;
	snprintf(ev->action, sizeof(ev->action), "%s", action);
	ev->role = name_id(g, sv(b, "role"));
	ev->actor = name_id(g, actor);
	if (ev->role == UINT32_MAX || ev->actor == UINT32_MAX)
		return ak_error_oom();
	details = ak_jv_get(b, "details");
	mfa = ak_jv_get(details, "mfa");
	if (strcmp(action, "mfa_enable") == 0 || (mfa && mfa->type == AK_JTRUE))
		ev->mfa = 1;
	else if (strcmp(action, "mfa_disable") == 0)
		ev->mfa = 2;
	return 0;
}

/* ---- the previous period's audit, alongside the pass ---- */

/* The previous period's audit, run on a connection of its own while the
 * pass reads the log: both are mostly reading, and whether the pass will
 * find that audit on record is only known at its end. When it does, the
 * job is interrupted (sqlite3_interrupt() on its connection, until it has
 * stopped) and its result dropped. */
struct prev_job {
	pthread_mutex_t lock; /* guards db */
	sqlite3 *db;          /* the job's connection while it is open */
	int done;             /* under lock */
	const char *dir;
	const struct policy_set *set;
	struct audit_period period;
	struct audit_result *result;
	int rc;
	char err[256];
	pthread_t thr;
	int started;
};

static void *prev_run(void *arg)
{
	struct prev_job *j = arg;
	struct evidence_store *st = NULL;

	if ((j->rc = evidence_open(&st, j->dir, EVIDENCE_READONLY)) == 0 &&
	    (j->rc = policy_state_attach(st)) == 0) {
		pthread_mutex_lock(&j->lock);
		j->db = evidence_db(st);
		pthread_mutex_unlock(&j->lock);
		j->rc = audit_run(st, j->set, &j->period, &j->result);
	}
	if (j->rc != 0)
		snprintf(j->err, sizeof(j->err), "%s", ak_error_last());
	pthread_mutex_lock(&j->lock);
	j->db = NULL;
	j->done = 1;
	pthread_mutex_unlock(&j->lock);
	evidence_close(st);
	return NULL;
}

/* j is zeroed but for its lock. */
static void prev_start(struct prev_job *j, struct evidence_store *st, const struct policy_set *set,
                       const struct audit_period *period)
{
	j->dir = evidence_dir(st);
	j->set = set;
	j->period = *period;
	/* no thread: previous_figures() runs it inline */
	j->started = pthread_create(&j->thr, NULL, prev_run, j) == 0;
}

static void prev_join(struct prev_job *j)
{
	if (j->started)
		pthread_join(j->thr, NULL);
	j->started = 0;
}

/* Stop the job early (its result is not wanted). An interrupt reaches only
 * the statement running at the time, so it is repeated until the job has
 * stopped. */
static void prev_cancel(struct prev_job *j)
{
	const struct timespec tick = {0, 10 * 1000 * 1000};

	while (j->started) {
		int done;

		pthread_mutex_lock(&j->lock);
		done = j->done;
		if (j->db)
			sqlite3_interrupt(j->db);
		pthread_mutex_unlock(&j->lock);
		if (done)
			break;
		nanosleep(&tick, NULL);
	}
	prev_join(j);
	audit_result_free(j->result);
	j->result = NULL;
}

/* ---- findings and audit entries on record ---- */

static void rows_free(struct exc_rows *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->v[i].what);
		free(r->v[i].who);
		free(r->v[i].detail);
		free(r->v[i].severity);
		free(r->v[i].refs);
	}
	free(r->v);
	memset(r, 0, sizeof(*r));
}

/* Append a row (strings copied; refs copied). */
static int rows_add(struct exc_rows *r, size_t policy, const char *what, const char *who,
                    const char *detail, const char *severity, int64_t time, const int64_t *refs,
                    size_t nrefs, int64_t finding_seq)
{
	struct exc_row *x;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		void *np = realloc(r->v, cap * sizeof(*r->v));

		if (np == NULL)
			return ak_error_oom();
		r->v = np;
		r->cap = cap;
	}
	x = &r->v[r->n];
	memset(x, 0, sizeof(*x));
	x->policy = policy;
	x->time = time;
	x->finding_seq = finding_seq;
	x->what = strdup(what);
	x->who = strdup(who);
	x->detail = strdup(detail);
	x->severity = strdup(severity);
	x->refs = malloc((nrefs ? nrefs : 1) * sizeof(*refs));
	if (!x->what || !x->who || !x->detail || !x->severity || !x->refs) {
		free(x->what);
		free(x->who);
		free(x->detail);
		free(x->severity);
		free(x->refs);
		return ak_error_oom();
	}
	if (nrefs)
		memcpy(x->refs, refs, nrefs * sizeof(*refs));
	x->nrefs = nrefs;
	r->n++;
	return 0;
}

static int row_key(struct ak_buf *k, const char *policy, const char *who, const char *detail)
{
	ak_buf_reset(k);
	return ak_buf_printf(k, "%s\x1f%s\x1f%s", policy, who, detail);
}

static int period_is(const struct ak_jv *period, const struct audit_mark *m)
{
	const char *f = sv(period, "from"), *t = sv(period, "to");

	return f && t && strcmp(f, m->from) == 0 && strcmp(t, m->to) == 0;
}

static int on_finding(struct gather *g, const struct evidence_entry *e, const struct ak_jv *b)
{
	static const char *const whats[] = {"subject", "account", "campaign", "domain"};
	const char *commit = sv(b, "policy_commit"), *id = sv(b, "policy_id"),
	           *detail = sv(b, "detail"), *who = NULL, *what = NULL;
	const struct ak_jv *refs = ak_jv_get(b, "refs");
	int64_t r[64];
	uint64_t *pol, *slot;
	size_t i, n = 0;
	int rc, ins;

	if (!commit || strcmp(commit, g->req->set->commit) || !id || !detail ||
	    !period_is(ak_jv_get(b, "period"), &g->cur))
		return 0;
	if ((pol = ak_strmap_get(g->policy_ids, id, strlen(id))) == NULL)
		return 0; /* a policy no longer in the set at this commit cannot be */
	for (i = 0; i < 4 && who == NULL; i++)
		if ((who = sv(b, whats[i])) != NULL)
			what = whats[i];
	for (i = 0; refs && refs->type == AK_JARRAY && i < refs->u.a.n && n < 64; i++)
		if (refs->u.a.items[i]->type == AK_JINT)
			r[n++] = refs->u.a.items[i]->u.i;
	if ((rc = row_key(&g->key, id, who ? who : "", detail)) != 0)
		return rc;
	if ((slot = ak_strmap_put(g->found_keys, g->key.data, g->key.len, &ins)) == NULL)
		return AK_ENOMEM;
	/* every finding is a row; the key finds the first of those alike */
	if (ins)
		*slot = g->found.n + 1;
	return rows_add(&g->found, *pol - 1, what ? what : "", who ? who : "", detail,
	                sv(b, "severity") ? sv(b, "severity") : "", e->time_us, r, n, e->seq);
}

static int on_system(struct gather *g, const struct evidence_entry *e, const struct ak_jv *b)
{
	const char *ev = sv(b, "event"), *commit = sv(b, "policy_commit");
	const struct ak_jv *period = ak_jv_get(b, "period");
	struct audit_mark *m;

	if (!ev || strcmp(ev, "audit") || !commit || strcmp(commit, g->req->set->commit))
		return 0;
	m = period_is(period, &g->cur) ? &g->cur : period_is(period, &g->prev) ? &g->prev : NULL;
	if (m == NULL || e->seq < m->seq)
		return 0;
	/* the previous period is on record: its audit need not run */
	if (m == &g->prev && g->job)
		prev_cancel(g->job);
	json_decref(m->body);
	m->seq = e->seq;
	if ((m->body = ak_jv_to_jansson(b)) == NULL)
		return ak_error_oom();
	return 0;
}

/* ---- the pass ---- */

/* Every entry up to the checkpoint, once, in seq order. Only what the
 * report uses is parsed: entries of the period, the admin history, the
 * findings and audit entries of this commit. */
static int on_entry(void *ctx, const struct evidence_entry *e)
{
	struct gather *g = ctx;
	const int64_t from = g->req->period.from_us, to = g->req->period.to_us;
	const char *k = e->kind;
	const struct ak_jv *b;
	int in = e->time_us >= from && e->time_us < to, audit_input;

	g->scanned++;
	audit_input = strcmp(k, "send") == 0 || strcmp(k, "consent") == 0 ||
	              strcmp(k, "admin") == 0 || strcmp(k, "dmarc") == 0;
	if (audit_input && e->time_us < to)
		g->relevant = e->seq;
	if (strcmp(k, "system") == 0) {
		/* canonical bodies: an audit entry holds exactly this */
		if (memmem(e->body, e->body_len, "\"event\":\"audit\"", 15) == NULL)
			return 0;
	} else if (strcmp(k, "finding") != 0 && !(strcmp(k, "admin") == 0 && e->time_us < to) &&
	           !(in && (audit_input || strcmp(k, "alert") == 0))) {
		return 0;
	}
	if (ak_json_parse(g->doc, e->body, e->body_len, &b) != 0)
		return 0; /* stored bodies are canonical JSON; nothing to count otherwise */
	switch (k[0]) {
	case 's':
		return k[1] == 'e' ? on_send(g, e, b) : on_system(g, e, b);
	case 'c':
		return on_consent(g, e, b);
	case 'd':
		return on_dmarc(g, e, b);
	case 'f':
		return on_finding(g, e, b);
	case 'a':
		return k[1] == 'd' ? on_admin(g, e, b) : on_alert(g, e, b);
	}
	return 0;
}

static int pass(struct gather *g, int64_t from_seq, int64_t to_seq, evidence_entry_cb cb)
{
	struct evidence_filter f = {0};

	f.from_seq = from_seq;
	f.to_seq = to_seq;
	return evidence_scan(g->st, &f, cb, g);
}

/* Findings appended after the pass (by the audit run here). */
static int on_new_finding(void *ctx, const struct evidence_entry *e)
{
	struct gather *g = ctx;
	const struct ak_jv *b;

	if (strcmp(e->kind, "finding") || ak_json_parse(g->doc, e->body, e->body_len, &b) != 0)
		return 0;
	return on_finding(g, e, b);
}

/* ---- the audit: on record, or run now ---- */

static const json_t *recorded_policy(const json_t *body, const char *id)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(body, "policies"), i,
	                   v) if (strcmp(rj_str(v, "id", ""), id) == 0) return v;
	return NULL;
}

/* Can the report rest on the recorded audit? Every entry it had to see
 * must be within what it saw, its entry must give each policy of the set
 * its counts and figures, and the findings on record for the period at
 * this commit must be exactly its own (their number per policy). */
static int view_from_record(struct gather *g)
{
	const struct policy_set *set = g->req->set;
	int64_t *per = NULL, seen;
	size_t i;

	/* what the audit surely saw: the log up to the checkpoint it was
	 * bound to (made before it read), else up to its own entry */
	seen = rj_int(g->cur.body, "checkpoint_size", 0);
	if (seen <= 0 || seen > g->cur.seq)
		seen = g->cur.seq;
	if (g->cur.seq == 0 || seen < g->relevant)
		return 0;
	if ((per = calloc(set->n + 1, sizeof(*per))) == NULL)
		return ak_error_oom();
	for (i = 0; i < g->found.n; i++)
		per[g->found.v[i].policy]++;
	for (i = 0; i < set->n; i++) {
		const json_t *p = recorded_policy(g->cur.body, set->policies[i].id);

		if (p == NULL || !json_is_object(json_object_get(p, "figures")) ||
		    !json_is_integer(json_object_get(p, "affected")) ||
		    rj_int(p, "findings", -1) != per[i]) {
			free(per);
			return 0;
		}
	}
	free(per);
	for (i = 0; i < set->n; i++) {
		const json_t *p = recorded_policy(g->cur.body, set->policies[i].id);
		struct pol_view *v = &g->view.pol[i];

		v->population = rj_int(p, "population", 0);
		v->affected = rj_int(p, "affected", 0);
		v->not_assessed = rj_int(p, "not_assessed", 0);
		v->exceptions = rj_int(p, "exceptions", 0);
		v->findings = rj_int(p, "findings", 0);
		v->figures = json_incref(json_object_get(p, "figures"));
		g->view.total += v->exceptions;
	}
	g->view.rows = g->found;
	memset(&g->found, 0, sizeof(g->found));
	g->view.from_record = 1;
	g->view.system_seq = g->cur.seq;
	g->view.checkpoint_size = rj_int(g->cur.body, "checkpoint_size", 0);
	return 1;
}

static int view_from_result(struct gather *g, const struct audit_result *r)
{
	size_t i, k;
	int rc;

	for (i = 0; i < r->npolicies; i++) {
		const struct audit_policy_result *pr = &r->policies[i];
		struct pol_view *v = &g->view.pol[i];

		v->population = pr->population;
		v->affected = pr->affected;
		v->not_assessed = pr->not_assessed;
		v->exceptions = (int64_t)pr->nexceptions;
		v->figures = json_incref(pr->figures);
		g->view.total += v->exceptions;
		for (k = 0; k < pr->nexceptions; k++) {
			const struct audit_exception *e = &pr->exceptions[k];
			uint64_t *slot;

			if ((rc = row_key(&g->key, pr->policy->id, e->who, e->detail)) != 0)
				return rc;
			slot = ak_strmap_get(g->found_keys, g->key.data, g->key.len);
			if ((rc = rows_add(&g->view.rows, i, e->what, e->who, e->detail,
			                   e->severity, e->time_us, e->refs, e->nrefs,
			                   slot ? g->found.v[*slot - 1].finding_seq : 0)) != 0)
				return rc;
		}
	}
	g->view.checkpoint_size = r->checkpoint_size;
	return 0;
}

/* The audit's own system entry, appended after the pass. */
static int on_new_audit_entry(void *ctx, const struct evidence_entry *e)
{
	struct gather *g = ctx;
	const struct ak_jv *b;

	if (strcmp(e->kind, "system") || ak_json_parse(g->doc, e->body, e->body_len, &b) != 0)
		return 0;
	return on_system(g, e, b);
}

/* ---- sections ---- */

static json_t *time_json(int64_t us)
{
	char t[AK_TIME_MAX];

	if (ak_time_format(t, us, AK_TIME_AUTO) < 0)
		return json_null();
	return json_string(t);
}

static json_t *seqs_json(const int64_t *seqs, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < n; i++)
		json_array_append_new(a, json_integer(seqs[i]));
	return a;
}

static int cmp_group_count(const void *x, const void *y)
{
	const struct group *a = x, *b = y;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int cmp_group_name(const void *x, const void *y)
{
	const struct group *a = x, *b = y;

	return strcmp(a->name, b->name);
}

/* {"name": count, ...}, largest first (jansson keeps insertion order). */
static json_t *counts_json(struct groups *gr)
{
	json_t *o = json_object();
	size_t i;

	sort(gr->v, gr->n, sizeof(*gr->v), cmp_group_count);
	for (i = 0; o && i < gr->n; i++)
		json_object_set_new(o, gr->v[i].name, json_integer(gr->v[i].count));
	return o;
}

/* The index of the first policy of control in the set, or -1. */
/* The index of the policy of control in set, or -1. */
static long policy_index(const struct policy_set *set, const char *control)
{
	const struct policy *p = policy_find_control(set, control);

	return p ? (long)(p - set->policies) : -1;
}

/* That policy's figures (borrowed), or NULL. */
static json_t *figures_of(const struct gather *g, const char *control)
{
	long i = policy_index(g->req->set, control);

	return i < 0 ? NULL : g->view.pol[i].figures;
}

static json_t *weeks_json(const struct gather *g)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < g->nweeks; i++)
		json_array_append_new(a, json_pack("{s:s,s:o,s:o,s:i}", "week", g->weeks[i].label,
		                                   "from", time_json(g->weeks[i].from), "to",
		                                   time_json(g->weeks[i].to), "days",
		                                   g->weeks[i].days));
	return a;
}

static json_t *consent_json(struct gather *g)
{
	const struct policy *p = policy_find_control(g->req->set, "consent.unsubscribe_deadline");
	json_t *honor = json_null(), *h, *lists;
	size_t i;

	if ((h = json_object_get(figures_of(g, "consent.unsubscribe_deadline"),
	                         "honor_time_seconds")) != NULL) {
		honor = json_deep_copy(h);
		json_object_set_new(honor, "policy_id", json_string(p->id));
	}
	lists = json_array();
	sort(g->lists.v, g->lists.n, sizeof(*g->lists.v), cmp_group_name);
	for (i = 0; lists && i < g->lists.n; i++)
		json_array_append_new(lists,
		                      json_pack("{s:s,s:I,s:I,s:I}", "list", g->lists.v[i].name,
		                                "opt_ins", (json_int_t)g->lists.v[i].count,
		                                "confirmations", (json_int_t)g->lists.v[i].b,
		                                "opt_outs", (json_int_t)g->lists.v[i].a));
	return json_pack("{s:I,s:o,s:I,s:{s:I,s:o},s:o,s:I,s:o,s:o,s:o}", "opt_ins",
	                 (json_int_t)g->optins, "opt_ins_by_method", counts_json(&g->optin_methods),
	                 "confirmations", (json_int_t)g->confirms, "opt_ins_without_proof", "count",
	                 (json_int_t)g->noproof, "seqs", seqs_json(g->noproof_seqs, g->nnoproof),
	                 "exempt_opt_ins", counts_json(&g->exemptions), "opt_outs",
	                 (json_int_t)g->optouts, "opt_outs_by_method",
	                 counts_json(&g->optout_methods), "honor_time", honor, "by_list", lists);
}

static json_t *sends_json(struct gather *g)
{
	const struct policy *mass = policy_find_control(g->req->set, "send.mass_approval");
	json_t *weeks = json_array(), *by_status = json_object(), *blocked = json_array(), *m;
	size_t i, s;
	int64_t total = 0;

	for (s = 0; s < S_NSTATUS; s++) {
		total += g->status_total[s];
		if (g->status_total[s])
			json_object_set_new(by_status, status_names[s],
			                    json_integer(g->status_total[s]));
	}
	for (i = 0; weeks && i < g->nweeks; i++) {
		json_t *w = json_pack("{s:s}", "week", g->weeks[i].label);
		int64_t wt = 0;

		for (s = 0; w && s < S_NSTATUS; s++) {
			json_object_set_new(w, status_names[s],
			                    json_integer(g->send_weeks[i * S_NSTATUS + s]));
			wt += g->send_weeks[i * S_NSTATUS + s];
		}
		json_object_set_new(w, "total", json_integer(wt));
		json_array_append_new(weeks, w);
	}
	sort(g->blocked.v, g->blocked.n, sizeof(*g->blocked.v), cmp_group_count);
	for (i = 0; blocked && i < g->blocked.n; i++) {
		struct group *x = &g->blocked.v[i];

		json_array_append_new(blocked,
		                      json_pack("{s:s,s:s?,s:I,s:o}", "reason", x->name, "control",
		                                x->extra, "count", (json_int_t)x->count, "seqs",
		                                seqs_json(x->seqs, x->nseqs)));
	}
	m = json_null();
	if (mass) {
		json_t *c = json_object_get(figures_of(g, "send.mass_approval"), "campaigns");

		m = json_pack("{s:s,s:I,s:O}", "policy_id", mass->id, "threshold",
		              (json_int_t)policy_param_int(mass, "threshold"), "campaigns",
		              c ? c : json_array());
	}
	return json_pack("{s:I,s:o,s:{s:I,s:I,s:I},s:o,s:o,s:{s:I,s:o}}", "total",
	                 (json_int_t)total, "by_status", by_status, "by_stream", "marketing",
	                 (json_int_t)g->marketing, "transactional", (json_int_t)g->transactional,
	                 "unknown", (json_int_t)g->stream_other, "weeks", weeks, "mass_campaigns",
	                 m, "blocked", "total", (json_int_t)g->blocked_total, "by_reason", blocked);
}

static int cmp_ev(const void *x, const void *y)
{
	const struct admin_ev *a = x, *b = y;

	if (a->time != b->time)
		return a->time < b->time ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int cmp_account(const void *x, const void *y)
{
	return strcmp(((const struct account *)x)->name, ((const struct account *)y)->name);
}

/* Has the policy at index pol (-1: none) an exception about who? */
static int has_exception(const struct gather *g, long pol, const char *who)
{
	size_t i;

	for (i = 0; pol >= 0 && i < g->view.rows.n; i++)
		if (g->view.rows.v[i].policy == (size_t)pol &&
		    strcmp(g->view.rows.v[i].who, who) == 0)
			return 1;
	return 0;
}

static int is_privileged(const struct policy *review, const char *role)
{
	static const char *const def[] = {"admin", "root",           "superuser",
	                                  "owner", "security_admin", NULL};
	size_t i;

	if (role == NULL || *role == '\0')
		return 0;
	if (review)
		return policy_param_has(review, "privileged_roles", role) &&
		       policy_scope_allows(review, "roles", role);
	for (i = 0; def[i]; i++)
		if (strcmp(def[i], role) == 0)
			return 1;
	return 0;
}

/* Password-age bins, days: under 30, 30-59, 60-89, 90-179, 180 and over. */
static const int age_edges[] = {30, 60, 90, 180};

static json_t *access_json(struct gather *g)
{
	const struct policy *review = policy_find_control(g->req->set, "access.review");
	const long rv = policy_index(g->req->set, "access.review"),
	           pw = policy_index(g->req->set, "password.rotation");
	const int64_t from = g->req->period.from_us, to = g->req->period.to_us;
	json_t *priv = json_array(), *reviews = json_array(), *missing = json_array(),
	       *ages = json_array(), *hist = json_array(), *roles_param;
	int64_t nreviews = 0, bins[5] = {0};
	size_t i, k;
	char d[64] = "";

	sort(g->accts, g->naccts, sizeof(*g->accts), cmp_account);
	for (i = 0; i < g->naccts; i++) {
		struct account *a = &g->accts[i];
		json_t *held = json_array();
		int64_t disabled = INT64_MAX, last_rev = 0, last_rev_seq = 0, pw_time = 0,
		        pw_seq = 0, created = 0, created_seq = 0, in_period = 0;
		uint32_t last_rev_by = 0;
		int mfa = 0, active = 0, changed = 0;

		sort(a->ev, a->n, sizeof(*a->ev), cmp_ev);
		for (k = 0; k < a->n; k++) {
			const struct admin_ev *ev = &a->ev[k];

			if (ev->time >= to)
				break;
			if (ev->time >= from)
				active = 1;
			/* Disabled from the disable the account was not enabled
			 * (or made anew) after, as the audit has it. */
			if (strcmp(ev->action, "account_disable") == 0 ||
			    strcmp(ev->action, "account_delete") == 0) {
				if (ev->time < disabled)
					disabled = ev->time;
			} else if (strcmp(ev->action, "account_enable") == 0) {
				disabled = INT64_MAX;
			} else if (strcmp(ev->action, "account_create") == 0) {
				disabled = INT64_MAX;
				if (!created) {
					created = ev->time;
					created_seq = ev->seq;
				}
			} else if (strcmp(ev->action, "password_change") == 0) {
				pw_time = ev->time;
				pw_seq = ev->seq;
				changed = 1;
			} else if (strcmp(ev->action, "access_review") == 0) {
				int self = strcmp(name_of(g, ev->actor), a->name) == 0;

				if (ev->time >= from) {
					char t[AK_TIME_MAX];

					nreviews++;
					ak_time_format(t, ev->time, AK_TIME_SECONDS);
					if (json_array_size(reviews) < MAX_REVIEW_ROWS)
						json_array_append_new(
						        reviews,
						        json_pack("{s:s,s:s,s:s,s:I,s:b}", "time",
						                  t, "account", a->name, "reviewer",
						                  name_of(g, ev->actor), "seq",
						                  (json_int_t)ev->seq, "self",
						                  self));
					if (!self)
						in_period++;
				}
				if (!self) {
					last_rev = ev->time;
					last_rev_seq = ev->seq;
					last_rev_by = ev->actor;
				}
			}
			if (ev->mfa == 1)
				mfa = 1;
			else if (ev->mfa == 2)
				mfa = 0;
		}
		/* roles held at some time in the period that are privileged */
		for (k = 0; k < a->n; k++) {
			const struct admin_ev *ev = &a->ev[k];
			int64_t end = disabled;
			size_t j;

			if (strcmp(ev->action, "role_grant") || ev->time >= to ||
			    !is_privileged(review, name_of(g, ev->role)))
				continue;
			for (j = k + 1; j < a->n; j++)
				if (strcmp(a->ev[j].action, "role_revoke") == 0 &&
				    a->ev[j].role == ev->role) {
					if (a->ev[j].time < end)
						end = a->ev[j].time;
					break;
				}
			if (end <= from)
				continue;
			{
				size_t h;
				int dup = 0;

				for (h = 0; h < json_array_size(held); h++)
					if (strcmp(json_string_value(json_array_get(held, h)),
					           name_of(g, ev->role)) == 0)
						dup = 1;
				if (!dup)
					json_array_append_new(held,
					                      json_string(name_of(g, ev->role)));
			}
		}
		if (json_array_size(held)) {
			char t[AK_TIME_MAX];

			if (last_rev)
				ak_time_format(t, last_rev, AK_TIME_SECONDS);
			json_array_append_new(
			        priv,
			        json_pack("{s:s,s:O,s:o,s:I,s:b,s:b}", "account", a->name, "roles",
			                  held, "last_review",
			                  last_rev ? json_pack("{s:s,s:s,s:I}", "time", t, "by",
			                                       name_of(g, last_rev_by), "seq",
			                                       (json_int_t)last_rev_seq)
			                           : json_null(),
			                  "reviews_in_period", (json_int_t)in_period,
			                  "review_missing", has_exception(g, rv, a->name),
			                  "disabled", disabled < to));
		}
		json_decref(held);
		/* password age at the end of the period (or when disabled) */
		if (active && disabled > from && a->n) {
			int64_t clock = changed ? pw_time : created ? created : a->ev[0].time;
			int64_t clock_seq = changed ? pw_seq : created ? created_seq : a->ev[0].seq;
			int64_t at = disabled < to ? disabled : to;
			int64_t days = (at - clock) / (86400LL * 1000000);
			char t[AK_TIME_MAX];
			size_t b;

			for (b = 0; b < 4 && days >= age_edges[b]; b++)
				;
			bins[b]++;
			ak_time_format(t, clock, AK_TIME_SECONDS);
			json_array_append_new(
			        ages,
			        json_pack("{s:s,s:s,s:I,s:b,s:I,s:b,s:b}", "account", a->name,
			                  "since", t, "since_seq", (json_int_t)clock_seq, "changed",
			                  changed, "age_days", (json_int_t)days, "mfa", mfa,
			                  "exception", has_exception(g, pw, a->name)));
		}
	}
	for (i = 0; rv >= 0 && i < g->view.rows.n; i++) {
		const struct exc_row *e = &g->view.rows.v[i];

		if (e->policy == (size_t)rv)
			json_array_append_new(missing, json_pack("{s:s,s:s,s:o}", "account", e->who,
			                                         "detail", e->detail, "refs",
			                                         seqs_json(e->refs, e->nrefs)));
	}
	for (i = 0; i < 5; i++)
		json_array_append_new(hist,
		                      json_pack("{s:i,s:o,s:I}", "from_days",
		                                i ? age_edges[i - 1] : 0, "below_days",
		                                i < 4 ? json_integer(age_edges[i]) : json_null(),
		                                "count", (json_int_t)bins[i]));
	if (review) {
		struct policy_duration pd = policy_param_duration(review, "privileged_interval");

		policy_duration_format(&pd, d, sizeof(d));
	}
	roles_param = review ? json_deep_copy(policy_param_array(review, "privileged_roles"))
	                     : json_pack("[s,s,s,s,s]", "admin", "root", "superuser", "owner",
	                                 "security_admin");
	{
		char maxage[64] = "";
		const struct policy *pp = policy_find_control(g->req->set, "password.rotation");

		if (pp) {
			struct policy_duration md = policy_param_duration(pp, "max_age");

			if (strcmp(policy_param_string(pp, "profile"), "pci-dss-4") == 0)
				policy_duration_format(&md, maxage, sizeof(maxage));
		}
		return json_pack(
		        "{s:o,s:s,s:o,s:{s:I,s:o},s:o,s:{s:s,s:o,s:o}}", "privileged_roles",
		        roles_param, "review_interval", d, "privileged_accounts", priv, "reviews",
		        "count", (json_int_t)nreviews, "rows", reviews, "reviews_missing", missing,
		        "passwords", "max_age", maxage, "histogram", hist, "accounts", ages);
	}
}

/* 980000 -> "0.98": a ratio as the policies write it. */
static void ppm_text(char out[16], int64_t ppm)
{
	size_t n;

	snprintf(out, 16, "%lld.%06lld", (long long)(ppm / 1000000), (long long)(ppm % 1000000));
	n = strlen(out);
	while (out[n - 1] == '0')
		out[--n] = '\0';
	if (out[n - 1] == '.')
		out[--n] = '\0';
}

static json_t *dmarc_json(struct gather *g)
{
	const struct policy *pol = policy_find_control(g->req->set, "dmarc.alignment");
	json_t *figs = json_object_get(figures_of(g, "dmarc.alignment"), "domains");
	json_t *doms = json_array();
	int64_t warn = pol ? policy_param_ratio_ppm(pol, "warn_below") : 980000,
	        fail = pol ? policy_param_ratio_ppm(pol, "fail_below") : 950000;
	char wb[16], fb[16];
	size_t i, w;

	sort(g->dmarc.v, g->dmarc.n, sizeof(*g->dmarc.v), cmp_group_name);
	for (i = 0; doms && i < g->dmarc.n; i++) {
		struct group *x = &g->dmarc.v[i];
		json_t *weeks = json_array(), *fig = figs ? json_object_get(figs, x->name) : NULL;
		char share[16];
		int64_t ppm = x->a ? x->b * 1000000 / x->a : 0;
		const char *status;

		if (pol && json_array_size(policy_param_array(pol, "domains")) &&
		    !policy_param_has(pol, "domains", x->name))
			continue; /* not one of our own domains */
		for (w = 0; weeks && w < g->nweeks; w++) {
			policy_ratio_text(share, x->weeks_b[w], x->weeks[w]);
			json_array_append_new(
			        weeks, json_pack("{s:s,s:I,s:I,s:s?}", "week", g->weeks[w].label,
			                         "messages", (json_int_t)x->weeks[w],
			                         "aligned_pass", (json_int_t)x->weeks_b[w],
			                         "pass_share", share[0] ? share : NULL));
		}
		policy_ratio_text(share, x->b, x->a);
		/* the audit's lines, on the audit's arithmetic */
		status = x->a == 0 ? "n/a" : ppm < fail ? "red" : ppm < warn ? "amber" : "green";
		json_array_append_new(
		        doms,
		        json_pack("{s:s,s:I,s:I,s:I,s:s?,s:s,s:b,s:O,s:o,s:o}", "domain", x->name,
		                  "reports", (json_int_t)x->count, "messages", (json_int_t)x->a,
		                  "aligned_pass", (json_int_t)x->b, "pass_share",
		                  share[0] ? share : NULL, "status", status, "p_none",
		                  json_is_true(json_object_get(fig, "p_none")),
		                  "top_failing_sources",
		                  json_object_get(fig, "top_failing_sources")
		                          ? json_object_get(fig, "top_failing_sources")
		                          : json_array(),
		                  "weeks", weeks, "report_seqs", seqs_json(x->seqs, x->nseqs)));
	}
	ppm_text(wb, warn);
	ppm_text(fb, fail);
	return json_pack("{s:s?,s:s,s:s,s:o}", "policy_id", pol ? pol->id : NULL, "warn_below", wb,
	                 "fail_below", fb, "domains", doms);
}

static json_t *alerts_json(struct gather *g)
{
	json_t *rules = json_array();
	int64_t total = 0;
	size_t i, w;

	sort(g->alerts.v, g->alerts.n, sizeof(*g->alerts.v), cmp_group_count);
	for (i = 0; rules && i < g->alerts.n; i++) {
		struct group *x = &g->alerts.v[i];
		json_t *weeks = json_array();

		for (w = 0; weeks && w < g->nweeks; w++)
			json_array_append_new(weeks, json_integer(x->weeks[w]));
		total += x->count;
		json_array_append_new(
		        rules, json_pack("{s:s,s:s,s:I,s:o,s:o}", "rule", x->name, "severity",
		                         x->extra ? x->extra : "", "count", (json_int_t)x->count,
		                         "weeks", weeks, "seqs", seqs_json(x->seqs, x->nseqs)));
	}
	if (trim_alerts(g) != 0)
		return NULL;
	return json_pack("{s:I,s:o,s:O}", "total", (json_int_t)total, "by_rule", rules, "latest",
	                 g->alert_rows);
}

/* ---- summary and exceptions ---- */

static const char *status_of_policy(const struct gather *g, size_t pol)
{
	const struct pol_view *v = &g->view.pol[pol];
	int64_t ok = v->population - v->affected;
	int critical = 0, all_warn = 1;
	size_t i;

	if (v->population == 0 && v->exceptions == 0)
		return "n/a";
	if (v->exceptions == 0)
		return "green";
	for (i = 0; i < g->view.rows.n; i++) {
		const struct exc_row *e = &g->view.rows.v[i];

		if (e->policy != pol)
			continue;
		if (strcmp(e->severity, "critical") == 0)
			critical = 1;
		/* a warning (a DMARC share between its two lines) or a note */
		if (strcmp(e->severity, "warn") && strcmp(e->severity, "info"))
			all_warn = 0;
	}
	if (critical)
		return "red";
	if (all_warn)
		return "amber";
	if (v->population > 0 && ok > 0 && ok * 1000000 / v->population >= REPORT_AMBER_MIN_PPM)
		return "amber";
	return "red";
}

struct prev_figures {
	json_t *policies; /* [{"id","population","exceptions"}] (owned) */
	const char *source;
	int64_t seq;
};

static const json_t *prev_of(const struct prev_figures *pf, const char *id)
{
	size_t i;
	json_t *v;

	json_array_foreach(pf->policies, i, v) if (strcmp(rj_str(v, "id", ""), id) == 0) return v;
	return NULL;
}

static json_t *summary_json(const struct gather *g, const struct prev_figures *pf)
{
	const struct policy_set *set = g->req->set;
	json_t *pols = json_array();
	int64_t counts[4] = {0};
	size_t i;

	for (i = 0; pols && i < set->n; i++) {
		const struct pol_view *v = &g->view.pol[i];
		const struct policy *p = &set->policies[i];
		const char *status = status_of_policy(g, i);
		const json_t *pv = pf->policies ? prev_of(pf, p->id) : NULL;
		char rate[16], prate[16], pts[24];
		json_t *prev = json_null(), *change = json_null();

		policy_ratio_text(rate, v->population - v->affected, v->population);
		counts[strcmp(status, "green") == 0   ? 0
		       : strcmp(status, "amber") == 0 ? 1
		       : strcmp(status, "red") == 0   ? 2
		                                      : 3]++;
		if (pv) {
			int64_t pp = rj_int(pv, "population", 0), pe = rj_int(pv, "exceptions", 0);
			/* an audit recorded before "affected" was counted: at most
			 * one member per exception */
			int64_t pa = rj_int(pv, "affected", pe < pp ? pe : pp);

			policy_ratio_text(prate, pp - pa, pp);
			prev = json_pack("{s:I,s:I,s:I,s:s?}", "population", (json_int_t)pp,
			                 "affected", (json_int_t)pa, "exceptions", (json_int_t)pe,
			                 "pass_rate", prate[0] ? prate : NULL);
			if (rate[0] && prate[0]) {
				/* in percentage points, two decimals: e4 units are 0.01 pp */
				int64_t dlt = report_ratio_e4(rate) - report_ratio_e4(prate);
				int64_t ad = dlt < 0 ? -dlt : dlt;

				snprintf(pts, sizeof(pts), "%s%lld.%02lld", dlt < 0 ? "-" : "+",
				         (long long)(ad / 100), (long long)(ad % 100));
			}
			change = json_pack("{s:s?,s:I}", "pass_rate_points",
			                   rate[0] && prate[0] ? pts : NULL, "exceptions",
			                   (json_int_t)(v->exceptions - pe));
		}
		json_array_append_new(
		        pols,
		        json_pack("{s:s,s:s,s:s,s:s,s:b,s:O,s:I,s:I,s:I,s:I,s:s?,s:s,s:o,s:o}",
		                  "id", p->id, "title", p->title ? p->title : p->id, "control",
		                  p->control, "severity", p->severity ? p->severity : "", "gate",
		                  p->gate, "cites", p->cites ? p->cites : json_array(),
		                  "population", (json_int_t)v->population, "affected",
		                  (json_int_t)v->affected, "not_assessed",
		                  (json_int_t)v->not_assessed, "exceptions",
		                  (json_int_t)v->exceptions, "pass_rate", rate[0] ? rate : NULL,
		                  "status", status, "previous", prev, "change", change));
	}
	return json_pack("{s:{s:I,s:I,s:I,s:I},s:o,s:s,s:o}", "status_counts", "green",
	                 (json_int_t)counts[0], "amber", (json_int_t)counts[1], "red",
	                 (json_int_t)counts[2], "n/a", (json_int_t)counts[3], "policies", pols,
	                 "previous_source", pf->source, "previous_audit_seq",
	                 pf->seq ? json_integer(pf->seq) : json_null());
}

static int cmp_row(const void *x, const void *y)
{
	const struct exc_row *a = x, *b = y;
	int c;

	if (a->policy != b->policy)
		return a->policy < b->policy ? -1 : 1;
	if (a->time != b->time)
		return a->time < b->time ? -1 : 1;
	if ((c = strcmp(a->who, b->who)) != 0)
		return c;
	return strcmp(a->detail, b->detail);
}

static json_t *exceptions_json(struct gather *g)
{
	size_t max = g->req->max_exceptions ? g->req->max_exceptions : DEFAULT_MAX_EXCEPTIONS;
	size_t n = g->view.rows.n < max ? g->view.rows.n : max, i;
	json_t *rows = json_array();

	sort(g->view.rows.v, g->view.rows.n, sizeof(*g->view.rows.v), cmp_row);
	for (i = 0; rows && i < n; i++) {
		const struct exc_row *r = &g->view.rows.v[i];
		const struct policy *p = &g->req->set->policies[r->policy];
		char t[AK_TIME_MAX];

		ak_time_format(t, r->time, AK_TIME_SECONDS);
		if (json_array_append_new(rows,
		                          json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o}",
		                                    "policy_id", p->id, "control", p->control,
		                                    "severity", r->severity, "what", r->what, "who",
		                                    r->who, "time", t, "detail", r->detail, "refs",
		                                    seqs_json(r->refs, r->nrefs), "finding_seq",
		                                    r->finding_seq ? json_integer(r->finding_seq)
		                                                   : json_null())) != 0) {
			json_decref(rows);
			return NULL;
		}
	}
	return json_pack("{s:I,s:I,s:o}", "total", (json_int_t)g->view.total, "listed",
	                 (json_int_t)n, "rows", rows);
}

/* ---- the previous period ---- */

int report_previous_period(const struct audit_period *p, const char *zone, struct audit_period *out)
{
	memset(out, 0, sizeof(*out));
	if (p->label[0]) {
		char q[16], *end;
		long y = strtol(p->label, &end, 10);
		int n = end[0] == 'Q' ? end[1] - '0' : 0;

		if (n < 1 || n > 4)
			return ak_error_code(AK_EINVALID, "'%s' is not a quarter", p->label);
		if (n == 1)
			snprintf(q, sizeof(q), "%ldQ4", y - 1);
		else
			snprintf(q, sizeof(q), "%ldQ%d", y, n - 1);
		return audit_quarter(q, zone, out);
	}
	out->to_us = p->from_us;
	out->from_us = p->from_us - (p->to_us - p->from_us);
	return 0;
}

/* From its recorded audit at this commit (found by the pass), else from
 * running it now, in memory: the run the job made alongside the pass, or
 * one here. */
static int previous_figures(struct gather *g, const struct audit_period *prev, struct prev_job *job,
                            struct prev_figures *pf)
{
	struct audit_result *r = NULL;
	size_t i;
	int rc;

	if (g->prev.seq) {
		prev_cancel(job);
		pf->policies = json_incref(json_object_get(g->prev.body, "policies"));
		pf->source = "recorded";
		pf->seq = g->prev.seq;
		return 0;
	}
	prev_join(job);
	if (job->result != NULL) {
		r = job->result;
		job->result = NULL;
	} else if ((rc = audit_run(g->st, g->req->set, prev, &r)) != 0) {
		return rc;
	}
	pf->policies = json_array();
	for (i = 0; pf->policies && i < r->npolicies; i++)
		json_array_append_new(pf->policies,
		                      json_pack("{s:s,s:I,s:I,s:I}", "id",
		                                r->policies[i].policy->id, "population",
		                                (json_int_t)r->policies[i].population, "affected",
		                                (json_int_t)r->policies[i].affected, "exceptions",
		                                (json_int_t)r->policies[i].nexceptions));
	pf->source = "computed";
	audit_result_free(r);
	return pf->policies ? 0 : ak_error_oom();
}

/* ---- attestation ---- */

static json_t *attestation_json(struct gather *g, const struct evidence_checkpoint *cp)
{
	struct evidence_note note;
	struct ak_buf pem = AK_BUF_INIT(0);
	char root[AK_B64_LEN(32) + 1], hex[65], kid[9], made[AK_TIME_MAX];
	json_t *out = NULL;

	if (evidence_note_parse(cp->note, strlen(cp->note), &note) != 0 ||
	    evidence_public_key(g->st, &pem, NULL) != 0)
		goto done;
	ak_b64_encode(root, cp->root, 32);
	ak_hex_encode(hex, cp->root, 32);
	ak_hex_encode(kid, note.key_id, 4);
	ak_time_format(made, cp->made_us, AK_TIME_SECONDS);
	out = json_pack(
	        "{s:{s:s,s:I,s:s,s:s,s:s,s:s,s:I,s:s},s:s,s:s,s:I,"
	        "s:{s:s,s:o,s:b,s:I,s:I}}",
	        "checkpoint", "origin", note.origin, "size", (json_int_t)cp->size, "root", root,
	        "root_hex", hex, "key_id", kid, "note", cp->note, "entry_seq",
	        (json_int_t)cp->entry_seq, "made", made, "public_key", pem.data, "policy_commit",
	        g->req->set->commit, "entries_counted", (json_int_t)g->upto, "audit", "source",
	        g->view.from_record ? "recorded"
	        : g->view.ran       ? "run"
	                            : "run, not recorded",
	        "system_seq", g->view.system_seq ? json_integer(g->view.system_seq) : json_null(),
	        "ran", g->view.ran, "findings_appended", (json_int_t)g->view.appended,
	        "checkpoint_size", (json_int_t)g->view.checkpoint_size);
done:
	if (out == NULL && ak_error_last()[0] == '\0')
		ak_error_oom();
	ak_buf_free(&pem);
	return out;
}

/* ---- the driver ---- */

static void gather_free(struct gather *g)
{
	size_t i;

	groups_free(&g->optin_methods);
	groups_free(&g->optout_methods);
	groups_free(&g->exemptions);
	groups_free(&g->lists);
	groups_free(&g->blocked);
	groups_free(&g->dmarc);
	groups_free(&g->alerts);
	for (i = 0; i < g->naccts; i++) {
		free(g->accts[i].name);
		free(g->accts[i].ev);
	}
	free(g->accts);
	for (i = 0; i < g->nnames; i++)
		free(g->names[i]);
	free(g->names);
	for (i = 0; g->view.pol && i < g->req->set->n; i++)
		json_decref(g->view.pol[i].figures);
	free(g->view.pol);
	rows_free(&g->view.rows);
	rows_free(&g->found);
	json_decref(g->cur.body);
	json_decref(g->prev.body);
	ak_strmap_free(g->acct_map);
	ak_strmap_free(g->name_map);
	ak_strmap_free(g->found_keys);
	ak_strmap_free(g->policy_ids);
	ak_buf_free(&g->key);
	free(g->send_weeks);
	free(g->weeks);
	json_decref(g->alert_rows);
	ak_jdoc_free(g->doc);
}

/* Set key of doc to v (stolen); a NULL v is the error of whoever made it. */
static int put(json_t *doc, const char *key, json_t *v)
{
	if (v == NULL)
		return ak_error_last()[0] ? AK_ERROR : ak_error_oom();
	return json_object_set_new(doc, key, v) == 0 ? 0 : ak_error_oom();
}

static int gather_init(struct gather *g, struct evidence_store *st,
                       const struct report_request *req, const struct audit_period *prev)
{
	size_t i;
	int rc;

	memset(g, 0, sizeof(*g));
	g->st = st;
	g->req = req;
	g->zone = req->zone && *req->zone ? req->zone : "UTC";
	ak_buf_init(&g->key, 0);
	ak_time_format(g->cur.from, req->period.from_us, AK_TIME_AUTO);
	ak_time_format(g->cur.to, req->period.to_us, AK_TIME_AUTO);
	ak_time_format(g->prev.from, prev->from_us, AK_TIME_AUTO);
	ak_time_format(g->prev.to, prev->to_us, AK_TIME_AUTO);
	if ((rc = ak_jdoc_new(&g->doc, 0)) != 0 || (rc = ak_strmap_new(&g->acct_map)) != 0 ||
	    (rc = ak_strmap_new(&g->name_map)) != 0 || (rc = ak_strmap_new(&g->found_keys)) != 0 ||
	    (rc = ak_strmap_new(&g->policy_ids)) != 0 ||
	    (rc = make_weeks(&req->period, g->zone, &g->weeks, &g->nweeks)) != 0)
		return rc;
	for (i = 0; i < req->set->n; i++) {
		uint64_t *slot = ak_strmap_put(g->policy_ids, req->set->policies[i].id,
		                               strlen(req->set->policies[i].id), NULL);

		if (slot == NULL)
			return AK_ENOMEM;
		if (*slot == 0)
			*slot = i + 1;
	}
	if ((g->send_weeks = calloc(g->nweeks * S_NSTATUS + 1, sizeof(int64_t))) == NULL ||
	    (g->view.pol = calloc(req->set->n + 1, sizeof(*g->view.pol))) == NULL ||
	    (g->alert_rows = json_array()) == NULL)
		return ak_error_oom();
	return 0;
}

int report_build(struct evidence_store *st, const struct report_request *req, json_t **out)
{
	struct gather g;
	struct audit_period prev;
	struct audit_result *r = NULL;
	struct evidence_checkpoint cp = {0};
	struct prev_figures pf = {NULL, "none", 0};
	struct prev_job job = {PTHREAD_MUTEX_INITIALIZER};
	json_t *doc = NULL;
	char made[AK_TIME_MAX];
	int rc, created;

	if (req->set == NULL)
		return ak_error_code(AK_EINVALID, "report: no policy set");
	if (req->period.to_us <= req->period.from_us)
		return ak_error_code(AK_EINVALID, "report: the period ends before it starts");
	ak_error_clear();
	if ((rc = report_previous_period(&req->period, req->zone && *req->zone ? req->zone : "UTC",
	                                 &prev)) != 0)
		return rc;
	if ((rc = gather_init(&g, st, req, &prev)) != 0)
		goto done;
	/* Bind what is read to a checkpoint, then read it once. */
	rc = req->record ? evidence_checkpoint(st, &cp, &created)
	                 : evidence_checkpoint_latest(st, &cp);
	if (rc != 0) {
		if (rc == AK_ENOTFOUND)
			ak_error_prefix("report: the log has no checkpoint to bind to");
		goto done;
	}
	g.upto = cp.size;
	prev_start(&job, st, req->set, &prev);
	g.job = &job;
	if ((rc = pass(&g, 0, g.upto, on_entry)) != 0 || (rc = trim_alerts(&g)) != 0)
		goto done;
	if ((rc = view_from_record(&g)) < 0)
		goto done;
	if (rc == 0) {
		/* Not on record, or entries came after it: run it now. */
		if ((rc = audit_run(st, req->set, &req->period, &r)) != 0)
			goto done;
		if (req->record) {
			int64_t before = cp.size;

			if ((rc = audit_record(st, r, &g.view.appended)) != 0)
				goto done;
			evidence_checkpoint_clear(&cp);
			if ((rc = evidence_checkpoint(st, &cp, &created)) != 0 ||
			    (rc = pass(&g, before + 1, cp.size, on_new_finding)) != 0)
				goto done;
			/* its own system entry is the last audit entry now */
			g.view.system_seq = 0;
			{
				struct audit_mark keep = g.cur;

				g.cur.seq = 0;
				g.cur.body = NULL;
				rc = pass(&g, before + 1, cp.size, on_new_audit_entry);
				g.view.system_seq = g.cur.seq;
				json_decref(g.cur.body);
				g.cur = keep;
				if (rc != 0)
					goto done;
			}
		}
		g.view.ran = req->record;
		if ((rc = view_from_result(&g, r)) != 0)
			goto done;
	} else {
		rc = 0;
	}
	if ((rc = previous_figures(&g, &prev, &job, &pf)) != 0)
		goto done;
	ak_time_format(made, req->made_us ? req->made_us : ak_time_now(), AK_TIME_SECONDS);
	doc = json_pack("{s:s,s:s,s:{s:s?,s:o,s:o,s:s},s:{s:s?,s:o,s:o},s:s,s:s,s:s?,s:s,s:s}",
	                "format", REPORT_FORMAT, "title", "Quarterly compliance report", "period",
	                "quarter", req->period.label[0] ? req->period.label : NULL, "from",
	                time_json(req->period.from_us), "to", time_json(req->period.to_us), "zone",
	                g.zone, "previous_period", "quarter", prev.label[0] ? prev.label : NULL,
	                "from", time_json(prev.from_us), "to", time_json(prev.to_us), "made", made,
	                "origin", evidence_origin(st), "made_by", req->made_by, "command",
	                req->command ? req->command : "", "tool", "akashi " AKASHI_VERSION);
	if (doc == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	{
		json_t *rules = json_pack(
		        "{s:s,s:s,s:s,s:s,s:s}", "green", "no exceptions", "amber",
		        "exceptions, but at least 99 % of the population passed and none is "
		        "critical; or every exception is a warning",
		        "red", "less than 99 % of the population passed, or a critical exception",
		        "n/a", "nothing in the population this period", "amber_min_pass_rate",
		        "0.99");

		if ((rc = put(doc, "status_rules", rules)) != 0 ||
		    (rc = put(doc, "weeks", weeks_json(&g))) != 0 ||
		    (rc = put(doc, "summary", summary_json(&g, &pf))) != 0 ||
		    (rc = put(doc, "consent", consent_json(&g))) != 0 ||
		    (rc = put(doc, "sends", sends_json(&g))) != 0 ||
		    (rc = put(doc, "access", access_json(&g))) != 0 ||
		    (rc = put(doc, "dmarc", dmarc_json(&g))) != 0 ||
		    (rc = put(doc, "alerts", alerts_json(&g))) != 0 ||
		    (rc = put(doc, "exceptions", exceptions_json(&g))) != 0 ||
		    (rc = put(doc, "attestation", attestation_json(&g, &cp))) != 0)
			goto done;
	}
done:
	prev_cancel(&job);
	pthread_mutex_destroy(&job.lock);
	json_decref(pf.policies);
	gather_free(&g);
	audit_result_free(r);
	evidence_checkpoint_clear(&cp);
	if (rc != 0) {
		json_decref(doc);
		return rc;
	}
	*out = doc;
	return 0;
}
