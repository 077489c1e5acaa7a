/*
 * auditd/alerts/send.c - the detectors over `send` and `dmarc` entries.
 *
 *   send.mass_unapproved   per campaign, the distinct recipients (a keyed
 *       64-bit hash each, in an open-addressing set) until the count
 *       reaches the threshold; at that send the approvals table is asked
 *       for an approval by someone other than the campaign's owner (the
 *       `owner` of its sends) before that send's time. Then the set is
 *       freed and only "crossed" is remembered.
 *   send.volume_spike   per sender (`from`) and per campaign, counts per
 *       UTC hour over the trailing window (a ring of hour buckets). A send
 *       in the newest hour is compared with factor x the p95 of the
 *       non-empty earlier hours of the window (nearest rank), computed once
 *       per hour; with fewer than min_hours such hours there is no history
 *       and nothing fires. Late sends count in their hour but are not
 *       judged.
 *   send.to_suppressed   a sent or bounced send whose rcpt has a
 *       suppression row (global, or for the send's list) older than it.
 *   dmarc.unknown_source   per report, the rows of a source IP for an own
 *       domain with neither DKIM nor SPF passing (policy_evaluated), summed.
 */
#include "auditd/alerts/alerts_int.h"

#include "lib/ascii.h"
#include "lib/error.h"
#include "lib/siphash.h"
#include "lib/timefmt.h"
#include "policies/state.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HOUR        (3600 * US_PER_S)
#define VOLUME_REFS 16

struct mass {
	int crossed;
	size_t n, cap; /* recipients; set slots (a power of two, or 0) */
	int64_t first_t, first_seq;
	char owner[128];
	uint64_t *set;
};

struct volume {
	int64_t hour; /* the newest hour seen (time / 1 h) */
	int64_t p95;  /* of the hours before `hour`; -1: not enough history */
	int p95_known;
	size_t nrefs; /* seqs of the newest hour, a ring */
	int64_t refs[VOLUME_REFS];
	uint32_t c[]; /* c[h % nh] for the hours hour-nh+1 .. hour */
};

static void mass_free(void *p)
{
	struct mass *m = p;

	free(m->set);
	free(m);
}

static size_t volume_hours(const struct alerts *a)
{
	return (size_t)(a->conf[R_VOLUME].window_us / HOUR) + 1;
}

int alerts_send_init(struct alerts *a)
{
	struct rule_conf *c = a->conf;
	int64_t week = 7 * 24 * HOUR;
	int rc = 0;

	/* A campaign idle for a week is forgotten (and may cross again). */
	if (c[R_MASS].enabled)
		rc = keytab_init(&a->tab[R_MASS], ALERT_MASS_KEYS, ALERT_MASS_SLOTS,
		                 c[R_MASS].suppress_us > week ? c[R_MASS].suppress_us : week,
		                 mass_free);
	if (rc == 0 && c[R_VOLUME].enabled)
		rc = keytab_init(&a->tab[R_VOLUME], ALERT_VOLUME_KEYS, SIZE_MAX,
		                 c[R_VOLUME].window_us + HOUR, free);
	if (rc == 0 && c[R_SUPPRESSED].enabled)
		rc = keytab_init(&a->tab[R_SUPPRESSED], ALERT_PLAIN_KEYS, 0,
		                 c[R_SUPPRESSED].suppress_us, NULL);
	if (rc == 0 && c[R_DMARC].enabled)
		rc = keytab_init(&a->tab[R_DMARC], ALERT_PLAIN_KEYS, 0, c[R_DMARC].suppress_us,
		                 NULL);
	return rc;
}

/* Add h to the set; 1 if it is new, 0 if there, <0 out of memory. */
static int set_add(struct mass *m, uint64_t h)
{
	size_t i;

	if (h == 0)
		h = 1; /* 0 marks an empty slot */
	if (m->cap == 0 || (m->n + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64, j;
		uint64_t *set = calloc(cap, sizeof(*set));

		if (set == NULL)
			return ak_error_oom();
		for (j = 0; j < m->cap; j++) {
			uint64_t v = m->set[j];

			if (v == 0)
				continue;
			for (i = v & (cap - 1); set[i]; i = (i + 1) & (cap - 1))
				;
			set[i] = v;
		}
		free(m->set);
		m->set = set;
		m->cap = cap;
	}
	for (i = h & (m->cap - 1); m->set[i]; i = (i + 1) & (m->cap - 1))
		if (m->set[i] == h)
			return 0;
	m->set[i] = h;
	m->n++;
	return 1;
}

static int mass(struct alerts *a, const struct evidence_entry *e, const char *campaign,
                const char *rcpt, const char *owner)
{
	struct keytab *t = &a->tab[R_MASS];
	struct keyslot *s = keytab_touch(t, campaign, strlen(campaign), e->time_us);
	struct mass *m;
	int64_t approval = 0, refs[2];
	int rc;

	if (s == NULL)
		return AK_ENOMEM;
	if ((m = s->data) == NULL) {
		if ((m = calloc(1, sizeof(*m))) == NULL)
			return ak_error_oom();
		m->first_t = e->time_us;
		m->first_seq = e->seq;
		s->data = m;
	}
	if (m->crossed)
		return 0;
	if (e->time_us < m->first_t) {
		m->first_t = e->time_us;
		m->first_seq = e->seq;
	}
	if (!m->owner[0] && owner)
		snprintf(m->owner, sizeof(m->owner), "%.*s",
		         alerts_cut(owner, sizeof(m->owner) - 1), owner);
	if ((rc = set_add(m, ak_siphash(a->k0, a->k1, rcpt, strlen(rcpt)))) < 0)
		return rc;
	keytab_charge(t, s, m->cap);
	if ((int64_t)m->n < a->conf[R_MASS].threshold)
		return 0;
	/* Crossed at this send: count no further. */
	m->crossed = 1;
	free(m->set);
	m->set = NULL;
	m->cap = 0;
	keytab_charge(t, s, 0);
	if (a->db && (rc = policy_state_approval(a->db, campaign, m->owner[0] ? m->owner : NULL,
	                                         e->time_us, &approval, NULL, 0)) != 0)
		return rc;
	if (approval)
		return 0;
	refs[0] = m->first_seq;
	refs[1] = e->seq;
	return alerts_fire(a, R_MASS, s, e->time_us, refs, 2, m->first_t, e->time_us, campaign,
	                   "campaign %.*s reached %zu recipients with no approval by anyone but "
	                   "its owner%s%.*s",
	                   alerts_cut(campaign, 128), campaign, m->n, m->owner[0] ? " " : "",
	                   alerts_cut(m->owner, 128), m->owner);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

/* The bucket of hour h in a ring of nh. */
static size_t slot(int64_t h, size_t nh)
{
	int64_t m = h % (int64_t)nh;

	return (size_t)(m < 0 ? m + (int64_t)nh : m);
}

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

/* p95 (nearest rank) of the non-empty hours before v->hour, or -1. */
static int64_t volume_p95(const struct alerts *a, const struct volume *v, size_t nh)
{
	uint32_t hist[28 * 24 + 1];
	size_t m = 0, k;

	for (k = 1; k < nh; k++) {
		uint32_t c = v->c[slot(v->hour - (int64_t)k, nh)];

		if (c)
			hist[m++] = c;
	}
	if ((int64_t)m < a->conf[R_VOLUME].min_hours)
		return -1;
	qsort(hist, m, sizeof(hist[0]), cmp_u32);
	return hist[(95 * m + 99) / 100 - 1];
}

static int volume(struct alerts *a, const struct evidence_entry *e, const char *what,
                  const char *name)
{
	const struct rule_conf *c = &a->conf[R_VOLUME];
	struct keytab *t = &a->tab[R_VOLUME];
	size_t nh = volume_hours(a);
	int64_t k;
	int64_t h = floor_div(e->time_us, HOUR);
	struct keyslot *s;
	struct volume *v;
	char key[ALERT_KEY_MAX + 1], when[AK_TIME_MAX];
	uint32_t *cnt;
	size_t len = strlen(name);
	int n;

	/* "from:NAME"; a name too long for that keeps a hash of the rest. */
	if (len + 10 <= ALERT_KEY_MAX)
		n = snprintf(key, sizeof(key), "%s:%s", what, name);
	else
		n = snprintf(key, sizeof(key), "%s:%.*s#%016llx", what, alerts_cut(name, 200), name,
		             (unsigned long long)ak_siphash(a->k0, a->k1, name, len));

	if ((s = keytab_touch(t, key, (size_t)n, e->time_us)) == NULL)
		return AK_ENOMEM;
	if ((v = s->data) == NULL) {
		if ((v = calloc(1, sizeof(*v) + nh * sizeof(v->c[0]))) == NULL)
			return ak_error_oom();
		v->hour = h;
		s->data = v;
	}
	if (h > v->hour) {
		if (h - v->hour >= (int64_t)nh)
			memset(v->c, 0, nh * sizeof(v->c[0]));
		else
			for (k = v->hour + 1; k <= h; k++)
				v->c[slot(k, nh)] = 0;
		v->hour = h;
		v->p95_known = 0;
		v->nrefs = 0;
	} else if (h <= v->hour - (int64_t)nh) {
		return 0; /* older than the window */
	}
	cnt = &v->c[slot(h, nh)];
	if (*cnt < UINT32_MAX)
		(*cnt)++;
	if (h < v->hour) {
		v->p95_known = 0; /* a late send changed the history */
		return 0;
	}
	v->refs[v->nrefs++ % VOLUME_REFS] = e->seq;
	if (!v->p95_known) {
		v->p95 = volume_p95(a, v, nh);
		v->p95_known = 1;
	}
	if (v->p95 < 0 || (int64_t)*cnt <= c->factor * v->p95 || (int64_t)*cnt < c->threshold)
		return 0;
	ak_time_format(when, h * HOUR, AK_TIME_AUTO);
	return alerts_fire(a, R_VOLUME, s, e->time_us, v->refs,
	                   v->nrefs < VOLUME_REFS ? v->nrefs : VOLUME_REFS, h * HOUR, e->time_us,
	                   key,
	                   "%s %.*s sent %u messages in the hour from %s, above %lld x its "
	                   "trailing p95 of %lld per hour",
	                   strcmp(what, "from") == 0 ? "sender" : "campaign", alerts_cut(name, 128),
	                   name, *cnt, when, (long long)c->factor, (long long)v->p95);
}

static int to_suppressed(struct alerts *a, const struct evidence_entry *e, const char *rcpt,
                         const char *list, const char *status, const char *campaign)
{
	sqlite3_stmt *q = a->q_supp;
	char reason[32] = "", scope[160] = "", when[AK_TIME_MAX];
	int64_t st = 0, seq = 0, refs[2];
	struct keyslot *s;
	int pass;

	/* The earliest applicable suppression: a global one, or the list's. */
	for (pass = 0; pass < (list ? 2 : 1); pass++) {
		const char *sc = pass ? list : "*";

		sqlite3_reset(q);
		sqlite3_bind_text(q, 1, rcpt, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, sc, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, e->time_us);
		if (sqlite3_step(q) == SQLITE_ROW) {
			const char *r = (const char *)sqlite3_column_text(q, 0);
			int64_t t = sqlite3_column_int64(q, 1), sq = sqlite3_column_int64(q, 2);

			if (seq == 0 || t < st || (t == st && sq < seq)) {
				snprintf(reason, sizeof(reason), "%.*s", alerts_cut(r ? r : "", 31),
				         r ? r : "");
				snprintf(scope, sizeof(scope), "%.*s", alerts_cut(sc, 128), sc);
				st = t;
				seq = sq;
			}
		}
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (seq == 0)
		return 0;
	if ((s = keytab_touch(&a->tab[R_SUPPRESSED], rcpt, strlen(rcpt), e->time_us)) == NULL)
		return AK_ENOMEM;
	refs[0] = seq;
	refs[1] = e->seq;
	ak_time_format(when, st, AK_TIME_AUTO);
	return alerts_fire(a, R_SUPPRESSED, s, e->time_us, refs, 2, st, e->time_us, rcpt,
	                   "%s to suppressed address %.*s%s%.*s%s: %s%s%s since %s", status,
	                   alerts_cut(rcpt, 128), rcpt, campaign ? " (campaign " : "",
	                   campaign ? alerts_cut(campaign, 128) : 0, campaign ? campaign : "",
	                   campaign ? ")" : "", reason, strcmp(scope, "*") ? " of list " : "",
	                   strcmp(scope, "*") ? scope : "", when);
}

int alerts_send_feed(struct alerts *a, const struct evidence_entry *e, const struct ak_jv *b)
{
	const char *rcpt = alerts_str(b, "rcpt"), *status = alerts_str(b, "status");
	const char *campaign = alerts_str(b, "campaign"), *from = alerts_str(b, "from");
	int st, rc;

	if (rcpt == NULL || status == NULL)
		return 0;
	for (st = 0; alert_send_statuses[st]; st++)
		if (strcmp(alert_send_statuses[st], status) == 0)
			break;
	if (alert_send_statuses[st] == NULL)
		return 0;
	if (a->conf[R_MASS].enabled && campaign && strcmp(status, "blocked") != 0 &&
	    (rc = mass(a, e, campaign, rcpt, alerts_str(b, "owner"))) != 0)
		return rc;
	if (a->conf[R_VOLUME].enabled && (a->conf[R_VOLUME].statuses & (1u << st))) {
		if (from && (rc = volume(a, e, "from", from)) != 0)
			return rc;
		if (campaign && (rc = volume(a, e, "campaign", campaign)) != 0)
			return rc;
	}
	if (a->conf[R_SUPPRESSED].enabled && a->q_supp &&
	    (strcmp(status, "sent") == 0 || strcmp(status, "bounced") == 0))
		return to_suppressed(a, e, rcpt, alerts_str(b, "list"), status, campaign);
	return 0;
}

/* ---- dmarc.unknown_source ---- */

struct dmarc_hit {
	const char *domain, *ip;
	int64_t count;
};

static int cmp_hit(const void *x, const void *y)
{
	const struct dmarc_hit *a = x, *b = y;
	int c = strcasecmp(a->domain, b->domain);

	return c ? c : strcmp(a->ip, b->ip);
}

/* Is domain one of ours (equal to, or under, an own domain)? */
static int own(const struct alerts *a, const char *domain)
{
	const char *const *d;
	size_t n = strlen(domain);

	if (a->own_domains == NULL)
		return 1;
	for (d = a->own_domains; *d; d++) {
		size_t m = strlen(*d);

		if (n == m && strcasecmp(domain, *d) == 0)
			return 1;
		if (n > m && domain[n - m - 1] == '.' && strcasecmp(domain + n - m, *d) == 0)
			return 1;
	}
	return 0;
}

static int passes(const struct ak_jv *row, const char *key)
{
	const char *v = alerts_str(row, key);

	return v && strcasecmp(v, "pass") == 0;
}

int alerts_dmarc_feed(struct alerts *a, const struct evidence_entry *e, const struct ak_jv *b)
{
	const struct ak_jv *rows = ak_jv_get(b, "rows");
	const char *pdomain = alerts_str(ak_jv_get(b, "policy"), "domain");
	const char *org = alerts_str(b, "org_name"), *begin = alerts_str(b, "begin");
	const char *end = alerts_str(b, "end");
	int64_t from = e->time_us, to = e->time_us;
	struct dmarc_hit *hits = NULL;
	size_t i, n = 0, j;
	int rc = 0;

	if (!a->conf[R_DMARC].enabled || rows == NULL || rows->type != AK_JARRAY)
		return 0;
	if (begin)
		ak_time_parse(begin, strlen(begin), &from);
	if (end)
		ak_time_parse(end, strlen(end), &to);
	ak_error_clear();
	for (i = 0; i < rows->u.a.n; i++) {
		const struct ak_jv *r = rows->u.a.items[i], *cnt = ak_jv_get(r, "count");
		const char *ip = alerts_str(r, "source_ip"), *dom = alerts_str(r, "header_from");

		if (dom == NULL)
			dom = pdomain;
		if (ip == NULL || dom == NULL || cnt == NULL || cnt->type != AK_JINT ||
		    cnt->u.i <= 0 || passes(r, "dkim") || passes(r, "spf") || !own(a, dom))
			continue;
		if (hits == NULL && (hits = malloc(rows->u.a.n * sizeof(*hits))) == NULL)
			return ak_error_oom();
		hits[n].domain = dom;
		hits[n].ip = ip;
		hits[n++].count = cnt->u.i;
	}
	if (n == 0) /* hits is NULL: qsort's pointer must not be, even for 0 items */
		return 0;
	qsort(hits, n, sizeof(*hits), cmp_hit);
	for (i = 0; rc == 0 && i < n; i = j) {
		int64_t sum = 0;
		struct keyslot *s;
		char key[400];
		size_t k, klen;

		for (j = i; j < n && cmp_hit(&hits[i], &hits[j]) == 0; j++)
			sum = sum > INT64_MAX - hits[j].count ? INT64_MAX : sum + hits[j].count;
		if (sum < a->conf[R_DMARC].threshold)
			continue;
		klen = (size_t)snprintf(key, sizeof(key), "%.*s %.*s",
		                        alerts_cut(hits[i].domain, 253), hits[i].domain,
		                        alerts_cut(hits[i].ip, 64), hits[i].ip);
		for (k = 0; k < klen && key[k] != ' '; k++)
			key[k] = ak_ascii_lower(key[k]);
		if ((s = keytab_touch(&a->tab[R_DMARC], key, klen, e->time_us)) == NULL) {
			rc = AK_ENOMEM;
			break;
		}
		rc = alerts_fire(a, R_DMARC, s, e->time_us, &e->seq, 1, from, to, key,
		                 "%.*s sent %lld messages as %.*s failing DKIM and SPF%s%.*s",
		                 alerts_cut(hits[i].ip, 64), hits[i].ip, (long long)sum,
		                 alerts_cut(hits[i].domain, 253), hits[i].domain,
		                 org ? ", reported by " : "", org ? alerts_cut(org, 128) : 0,
		                 org ? org : "");
	}
	free(hits);
	return rc;
}
