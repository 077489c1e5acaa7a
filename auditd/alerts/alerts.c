/*
 * auditd/alerts/alerts.c - the detector context: settings from alerts.json
 * and the daemon's configuration, dispatch of entries to the login, send
 * and DMARC detectors, and what every alert goes through on its way out
 * (suppression, refs, the summary, the entry body).
 *
 * Everything runs in event time (the entries' `time`), never the clock, so
 * `akashi alerts replay` over history gives the alerts the daemon gave.
 * Suppression is per rule and key: after an alert at time t, the rule stays
 * quiet for that key while |t' - t| < suppress, as Wazuh's `ignore` does;
 * an incident still going on after that alerts again.
 */
#include "auditd/alerts/alerts_int.h"

#include "lib/error.h"
#include "lib/siphash.h"
#include "lib/timefmt.h"
#include "policies/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void alerts_strv_free(char **l)
{
	size_t i;

	for (i = 0; l && l[i]; i++)
		free(l[i]);
	free(l);
}

/* A NULL-terminated copy of list. */
static int copy_list(const char *const *list, char ***out)
{
	size_t n = 0, i;

	while (list[n])
		n++;
	if ((*out = calloc(n + 1, sizeof(char *))) == NULL)
		return ak_error_oom();
	for (i = 0; i < n; i++)
		if (((*out)[i] = strdup(list[i])) == NULL)
			return ak_error_oom();
	return 0;
}

int alerts_strv_of(const json_t *a, char ***out)
{
	json_t *v;
	size_t i, n = 0;

	if ((*out = calloc(json_array_size(a) + 1, sizeof(char *))) == NULL)
		return ak_error_oom();
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v))
			continue;
		if (((*out)[n] = strdup(json_string_value(v))) == NULL)
			return ak_error_oom();
		n++;
	}
	return 0;
}

/* The access.review control's default privileged roles, so a policy
 * change there and here cannot drift apart. */
static int default_roles(char ***out)
{
	const struct policy_control_spec *c = policy_control_find("access.review");
	const struct policy_param_spec *p;
	json_t *v = NULL;
	int rc;

	for (p = c ? c->params : NULL; p && p->name; p++)
		if (strcmp(p->name, "privileged_roles") == 0)
			v = json_loads(p->def, JSON_DECODE_ANY, NULL);
	if (!json_is_array(v)) {
		json_decref(v);
		return ak_error_set("alerts: the access.review control has no privileged_roles");
	}
	rc = alerts_strv_of(v, out);
	json_decref(v);
	return rc;
}

static int prepare(struct alerts *a, const char *sql, sqlite3_stmt **out)
{
	if (sqlite3_prepare_v3(a->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
		return ak_error_set("alerts: derived state (policy_state_attach) is missing: %s",
		                    sqlite3_errmsg(a->db));
	return 0;
}

static int settings(struct alerts *a, const struct alerts_config *cfg)
{
	struct rule_conf *off = &a->conf[R_OFF_HOURS], *mass = &a->conf[R_MASS];
	const char *zone;
	int r, rc, o;

	/* Privileged roles: the rule's own list, else the daemon's, else the
	 * access review default. */
	if (cfg && cfg->privileged_roles)
		rc = copy_list(cfg->privileged_roles, &a->owned[0]);
	else
		rc = default_roles(&a->owned[0]);
	if (rc != 0)
		return rc;
	for (r = R_NEW_ADDR; r <= R_OFF_HOURS; r++)
		a->roles[r] = a->conf[r].strings ? (const char *const *)a->conf[r].strings
		                                 : (const char *const *)a->owned[0];
	if (a->conf[R_DMARC].strings)
		a->own_domains = (const char *const *)a->conf[R_DMARC].strings;
	else if (cfg && cfg->own_domains) {
		if ((rc = copy_list(cfg->own_domains, &a->owned[1])) != 0)
			return rc;
		a->own_domains = (const char *const *)a->owned[1];
	}
	zone = off->zone                                ? off->zone
	       : cfg && cfg->timezone && *cfg->timezone ? cfg->timezone
	                                                : "Asia/Tokyo";
	if (ak_time_zone_offset(zone, 0, &o) != 0)
		return ak_error_code(AK_EINVALID, "alerts: timezone: unknown time zone '%.64s'",
		                     zone);
	if ((a->zone = strdup(zone)) == NULL)
		return ak_error_oom();
	if (!off->has_hours && cfg && cfg->business_hours && *cfg->business_hours &&
	    rules_parse_hours(cfg->business_hours, &off->hours) != 0) {
		ak_error_prefix("alerts: business_hours");
		return AK_EINVALID;
	}
	if (!mass->has_threshold && cfg && cfg->mass_threshold) {
		if (cfg->mass_threshold < 1 || cfg->mass_threshold > ALERT_MASS_THRESHOLD_MAX)
			return ak_error_code(
			        AK_EINVALID, "alerts: mass threshold %lld out of range (1 to %d)",
			        (long long)cfg->mass_threshold, ALERT_MASS_THRESHOLD_MAX);
		mass->threshold = cfg->mass_threshold;
	}
	return 0;
}

int alerts_new(struct alerts **out, const json_t *rules, const struct alerts_config *cfg,
               sqlite3 *db, alerts_emit_fn emit, void *ctx)
{
	struct alerts *a = calloc(1, sizeof(*a));
	int rc;

	*out = NULL;
	if (a == NULL)
		return ak_error_oom();
	a->emit = emit;
	a->ctx = ctx;
	a->db = db;
	ak_buf_init(&a->pending, 0);
	ak_siphash_key(&a->k0, &a->k1);
	if ((rc = rules_parse(rules, a->conf)) != 0 || (rc = settings(a, cfg)) != 0 ||
	    (rc = ak_jdoc_new(&a->doc, 0)) != 0)
		goto done;
	if (db &&
	    ((rc = prepare(a,
	                   "SELECT role FROM account_roles WHERE account = ?1 AND since <= ?2 "
	                   "AND (until IS NULL OR until > ?2)",
	                   &a->q_roles)) != 0 ||
	     (rc = prepare(a, "SELECT first FROM login_addresses WHERE account = ?1 AND ip = ?2",
	                   &a->q_addr)) != 0 ||
	     (rc = prepare(a,
	                   /* A primary-key probe, asked for '*' and for the list (an OR,
	                    * IN or ORDER BY here builds a temporary b-tree per send). */
	                   "SELECT reason, time, seq FROM suppression WHERE address = ?1 "
	                   "AND scope = ?2 AND time < ?3",
	                   &a->q_supp)) != 0))
		goto done;
	if ((rc = alerts_login_init(a)) != 0 || (rc = alerts_send_init(a)) != 0)
		goto done;
	*out = a;
	a = NULL;
done:
	alerts_free(a);
	return rc;
}

void alerts_free(struct alerts *a)
{
	int r;

	if (a == NULL)
		return;
	for (r = 0; r < R_COUNT; r++)
		keytab_clear(&a->tab[r]);
	sqlite3_finalize(a->q_roles);
	sqlite3_finalize(a->q_addr);
	sqlite3_finalize(a->q_supp);
	ak_jdoc_free(a->doc);
	ak_buf_free(&a->pending);
	rules_conf_clear(a->conf);
	for (r = 0; r < 3; r++)
		alerts_strv_free(a->owned[r]);
	free(a->zone);
	free(a);
}

const char *alerts_str(const struct ak_jv *obj, const char *key)
{
	const struct ak_jv *v = ak_jv_get(obj, key);

	return v && v->type == AK_JSTRING && v->u.s.len ? v->u.s.ptr : NULL;
}

int alerts_feed(struct alerts *a, const struct evidence_entry *e)
{
	const struct ak_jv *b = e->parsed;
	int kind;

	if (strcmp(e->kind, "admin") == 0) {
		/* Only logins matter here; canonical bytes make this exact. */
		if (memmem(e->body, e->body_len, "\"action\":\"login_", 16) == NULL)
			return 0;
		kind = 0;
	} else if (strcmp(e->kind, "send") == 0) {
		kind = 1;
	} else if (strcmp(e->kind, "dmarc") == 0) {
		kind = 2;
	} else {
		return 0;
	}
	if (b == NULL && ak_json_parse(a->doc, e->body, e->body_len, &b) != 0) {
		ak_error_clear();
		return 0;
	}
	if (b->type != AK_JOBJECT)
		return 0;
	if (kind == 0)
		return alerts_login_feed(a, e, b);
	if (kind == 1)
		return alerts_send_feed(a, e, b);
	return alerts_dmarc_feed(a, e, b);
}

int alerts_suppressed(struct alerts *a, int r, struct keyslot *s, int64_t t)
{
	int64_t d;

	if (!s->alerted)
		return 0;
	d = t > s->alert_us ? t - s->alert_us : s->alert_us - t;
	if (d < a->conf[r].suppress_us) {
		a->suppressed_n[r]++;
		return 1;
	}
	return 0;
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return a < b ? -1 : a > b;
}

int alerts_cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return (int)n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return (int)n;
}

/* A held alert in a->pending: this header, the refs, key and summary. */
struct held {
	int rule;
	size_t nrefs, key_len, summary_len;
	int64_t from_us, to_us, time_us;
};

static int defer(struct alerts *a, int r, const struct alert_out *o)
{
	struct held h = {r,
	                 o->nrefs,
	                 strlen(o->key),
	                 strlen(o->summary),
	                 o->window_from_us,
	                 o->window_to_us,
	                 o->time_us};
	int rc;

	if ((rc = ak_buf_append(&a->pending, &h, sizeof(h))) != 0 ||
	    (rc = ak_buf_append(&a->pending, o->refs, o->nrefs * sizeof(int64_t))) != 0 ||
	    (rc = ak_buf_append(&a->pending, o->key, h.key_len + 1)) != 0 ||
	    (rc = ak_buf_append(&a->pending, o->summary, h.summary_len + 1)) != 0)
		return rc;
	/* Keep the next header aligned. */
	while (a->pending.len % sizeof(int64_t))
		if ((rc = ak_buf_putc(&a->pending, 0)) != 0)
			return rc;
	return 0;
}

static int emit_held(struct alerts *a)
{
	size_t off = 0;
	int rc = 0;

	while (rc == 0 && off < a->pending.len) {
		struct held h;
		struct alert_out o = {0};

		memcpy(&h, a->pending.data + off, sizeof(h));
		off += sizeof(h);
		memcpy(a->refs, a->pending.data + off, h.nrefs * sizeof(int64_t));
		off += h.nrefs * sizeof(int64_t);
		o.key = a->pending.data + off;
		off += h.key_len + 1;
		o.summary = a->pending.data + off;
		off += h.summary_len + 1;
		off = (off + sizeof(int64_t) - 1) & ~(sizeof(int64_t) - 1);
		o.rule = alert_rule_names[h.rule];
		o.severity = alert_severities[a->conf[h.rule].severity];
		o.refs = a->refs;
		o.nrefs = h.nrefs;
		o.window_from_us = h.from_us;
		o.window_to_us = h.to_us;
		o.time_us = h.time_us;
		rc = a->emit ? a->emit(a->ctx, &o) : 0;
	}
	ak_buf_reset(&a->pending);
	return rc;
}

int alerts_feed_batch(struct alerts *a, const struct evidence_entry *e, size_t n)
{
	size_t i;
	int rc = 0, began = 0;

	/* One read transaction for the batch: each derived-state lookup then
	 * costs a b-tree probe instead of taking and dropping the read locks. */
	if (a->db && sqlite3_get_autocommit(a->db) &&
	    sqlite3_exec(a->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK)
		began = 1;
	a->deferring = 1;
	for (i = 0; rc == 0 && i < n; i++)
		rc = alerts_feed(a, &e[i]);
	a->deferring = 0;
	if (began)
		sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL);
	if (rc != 0) {
		ak_buf_reset(&a->pending);
		return rc;
	}
	return emit_held(a);
}

int alerts_fire(struct alerts *a, int r, struct keyslot *s, int64_t t, const int64_t *refs,
                size_t nrefs, int64_t from_us, int64_t to_us, const char *key, const char *fmt, ...)
{
	struct alert_out o = {0};
	int64_t *sorted = NULL;
	size_t i, n = 0, first;
	va_list ap;
	int len;

	if (alerts_suppressed(a, r, s, t))
		return 0;
	if (!s->alerted || t > s->alert_us)
		s->alert_us = t;
	s->alerted = 1;
	a->alerts[r]++;
	if (nrefs && (sorted = malloc(nrefs * sizeof(*sorted))) == NULL)
		return ak_error_oom();
	if (nrefs)
		memcpy(sorted, refs, nrefs * sizeof(*sorted));
	qsort(sorted, nrefs, sizeof(*sorted), cmp_i64);
	for (i = 0; i < nrefs; i++)
		if (sorted[i] > 0 && (n == 0 || sorted[n - 1] != sorted[i]))
			sorted[n++] = sorted[i];
	first = n > ALERT_REFS_MAX ? n - ALERT_REFS_MAX : 0;
	for (i = first; i < n; i++)
		a->refs[i - first] = sorted[i];
	free(sorted);
	va_start(ap, fmt);
	len = vsnprintf(a->summary, sizeof(a->summary), fmt, ap);
	va_end(ap);
	if (len >= (int)sizeof(a->summary))
		a->summary[alerts_cut(a->summary, sizeof(a->summary) - 1)] = '\0';
	o.rule = alert_rule_names[r];
	o.severity = alert_severities[a->conf[r].severity];
	o.summary = a->summary;
	o.refs = a->refs;
	o.nrefs = n - first;
	/* Out-of-order input must not give a window that ends before it starts. */
	o.window_from_us = from_us < to_us ? from_us : to_us;
	o.window_to_us = from_us < to_us ? to_us : from_us;
	o.time_us = t;
	snprintf(a->key, sizeof(a->key), "%.*s", alerts_cut(key, ALERT_KEY_MAX), key);
	o.key = a->key;
	if (a->deferring)
		return defer(a, r, &o);
	return a->emit ? a->emit(a->ctx, &o) : 0;
}

void alerts_span(char *out, size_t cap, int64_t us)
{
	int64_t s = (us < 0 ? -us : us) / US_PER_S;

	if (s < 60)
		snprintf(out, cap, "%lld s", (long long)s);
	else if (s < 3600)
		snprintf(out, cap, s % 60 ? "%lld min %lld s" : "%lld min", (long long)(s / 60),
		         (long long)(s % 60));
	else if (s < 86400)
		snprintf(out, cap, s % 3600 / 60 ? "%lld h %lld min" : "%lld h",
		         (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		snprintf(out, cap, s % 86400 / 3600 ? "%lld d %lld h" : "%lld d",
		         (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

static int put_time(struct ak_buf *out, int64_t us)
{
	char t[AK_TIME_MAX];

	if (ak_time_format(t, us, AK_TIME_AUTO) < 0)
		return AK_EINVALID;
	return ak_buf_printf(out, "\"%s\"", t);
}

int alerts_body(struct ak_buf *out, const struct alert_out *a)
{
	size_t i;
	int rc;

	/* Members in canonical (RFC 8785) order, written directly. */
	if ((rc = ak_buf_puts(out, "{\"key\":")) != 0 ||
	    (rc = ak_jcs_write_string(out, a->key ? a->key : "", a->key ? strlen(a->key) : 0)) !=
	            0 ||
	    (rc = ak_buf_puts(out, ",\"refs\":[")) != 0)
		return rc;
	for (i = 0; i < a->nrefs; i++)
		if ((rc = ak_buf_printf(out, "%s%lld", i ? "," : "", (long long)a->refs[i])) != 0)
			return rc;
	if ((rc = ak_buf_puts(out, "],\"rule\":")) != 0 ||
	    (rc = ak_jcs_write_string(out, a->rule, strlen(a->rule))) != 0 ||
	    (rc = ak_buf_puts(out, ",\"severity\":")) != 0 ||
	    (rc = ak_jcs_write_string(out, a->severity, strlen(a->severity))) != 0 ||
	    (rc = ak_buf_puts(out, ",\"summary\":")) != 0 ||
	    (rc = ak_jcs_write_string(out, a->summary, strlen(a->summary))) != 0 ||
	    (rc = ak_buf_puts(out, ",\"window\":{\"from\":")) != 0 ||
	    (rc = put_time(out, a->window_from_us)) != 0 ||
	    (rc = ak_buf_puts(out, ",\"to\":")) != 0 || (rc = put_time(out, a->window_to_us)) != 0)
		return rc;
	return ak_buf_puts(out, "}}");
}

void alerts_stats(const struct alerts *a, json_t *into)
{
	int r;

	for (r = 0; r < R_COUNT; r++)
		json_object_set_new(
		        into, alert_rule_names[r],
		        json_pack("{s:b,s:I,s:I,s:I,s:I}", "enabled", a->conf[r].enabled, "alerts",
		                  (json_int_t)a->alerts[r], "suppressed",
		                  (json_int_t)a->suppressed_n[r], "keys", (json_int_t)a->tab[r].n,
		                  "evicted", (json_int_t)a->tab[r].evicted));
}
