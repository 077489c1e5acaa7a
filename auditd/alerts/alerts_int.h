/*
 * auditd/alerts/alerts_int.h - what the detector files share: the rule
 * table and its parsed settings (rules.c), the bounded key table every
 * detector keeps its per-key state in (keytab.c), and the detector context
 * (alerts.c, login.c, send.c).
 *
 * Memory: every piece of per-key state lives in a struct keytab, which
 * holds at most max_keys keys and at most max_cost units of the detectors'
 * own per-key arrays; past either cap, the least recently touched key is
 * evicted. Keys untouched for longer than the table's idle time (in event
 * time) are evicted as the table is used. Nothing else grows with input.
 */
#ifndef AUDITD_ALERTS_INT_H
#define AUDITD_ALERTS_INT_H

#include "auditd/alerts/alerts.h"
#include "lib/buf.h"
#include "lib/jcs.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define US_PER_S INT64_C(1000000)

/* ---- rules and their settings ---- */

enum alert_rule_id {
	R_BF_USER,
	R_BF_SRC,
	R_SPRAY,
	R_FAIL_SUCCESS,
	R_NEW_ADDR,
	R_OFF_HOURS,
	R_MASS,
	R_VOLUME,
	R_SUPPRESSED,
	R_DMARC,
	R_COUNT
};

/* Most seqs an alert cites: the newest of the entries behind it. */
#define ALERT_REFS_MAX 64
/* Longest key, in the key tables and in an alert (longer ones are cut). */
#define ALERT_KEY_MAX 256

/* The largest count thresholds accepted (they size per-key arrays). */
#define ALERT_LOGIN_THRESHOLD_MAX 10000
#define ALERT_MASS_THRESHOLD_MAX  1000000

/* Business hours: days (bit 0 = Sunday) and [start, end) seconds of the day. */
struct business_hours {
	unsigned days;
	int start_s, end_s;
};

/* The settings of one rule, defaults filled in. */
struct rule_conf {
	int enabled;
	int severity;      /* index into alert_severities */
	int64_t threshold; /* count rules; volume: min_count */
	int64_t window_us;
	int64_t suppress_us;
	int64_t fast_threshold, fast_window_us; /* spray */
	int64_t factor, min_hours;              /* volume */
	unsigned statuses;                      /* volume: bit per send status */
	int has_threshold;                      /* threshold given in alerts.json */
	struct business_hours hours;            /* off hours */
	char *zone;                             /* off hours; NULL: from cfg */
	int has_hours;
	char **strings; /* privileged_roles / own_domains; NULL: from cfg */
	size_t nstrings;
};

extern const char *const alert_rule_names[R_COUNT];
extern const char *const alert_severities[]; /* info .. critical, NULL */
extern const char *const alert_send_statuses[];

/* Parse alerts.json (NULL: defaults) into conf[R_COUNT]. AK_EINVALID with
 * "alerts.json: RULE: KEY: why". conf is cleared with rules_conf_clear(),
 * also after a failure. */
int rules_parse(const json_t *rules, struct rule_conf conf[R_COUNT]);
void rules_conf_clear(struct rule_conf conf[R_COUNT]);

/* "08:30-18:00 Mon-Fri" -> h. AK_EINVALID saying why. */
int rules_parse_hours(const char *s, struct business_hours *h);

/* ---- the bounded key table ---- */

struct keyslot {
	struct keyslot *hnext;         /* hash chain */
	struct keyslot *older, *newer; /* use order */
	uint64_t hash;
	int64_t last_us;  /* newest event time seen for the key */
	int64_t alert_us; /* event time of its last alert */
	int alerted;
	size_t cost; /* units charged to the table's budget */
	void *data;  /* the detector's per-key state */
	size_t klen;
	char key[]; /* NUL-terminated */
};

struct keytab {
	struct keyslot **b;
	size_t nb, n;
	struct keyslot *oldest, *newest;
	size_t max_keys, max_cost, cost;
	int64_t idle_us;
	uint64_t k0, k1;  /* hash key */
	uint64_t evicted; /* keys dropped for a cap (not for idleness) */
	void (*free_data)(void *);
};

/* A table of at most max_keys keys and max_cost units; keys idle for
 * idle_us are dropped. free_data (may be NULL) releases a slot's data. */
int keytab_init(struct keytab *t, size_t max_keys, size_t max_cost, int64_t idle_us,
                void (*free_data)(void *));
void keytab_clear(struct keytab *t);

/* The slot of key, created when missing (NULL with an error only when out
 * of memory). Marks it the most recently used and raises its last_us to
 * now; first drops keys idle at now. */
struct keyslot *keytab_touch(struct keytab *t, const char *key, size_t klen, int64_t now_us);
/* The slot of key, or NULL; changes nothing. */
struct keyslot *keytab_find(const struct keytab *t, const char *key, size_t klen);
/* Change s's cost to cost, then evict other keys, oldest first, while the
 * table is over its budget. */
void keytab_charge(struct keytab *t, struct keyslot *s, size_t cost);

/* ---- the detectors ---- */

/* Caps of the key tables (see docs/POLICIES.md, "Memory"). */
#define ALERT_LOGIN_KEYS   32768   /* accounts or addresses per login rule */
#define ALERT_LOGIN_EVENTS 262144  /* failures (or accounts) held per login rule */
#define ALERT_MASS_KEYS    65536   /* campaigns */
#define ALERT_MASS_SLOTS   2097152 /* recipient hash slots over all campaigns */
#define ALERT_VOLUME_KEYS  16384   /* senders and campaigns with hourly counts */
#define ALERT_PLAIN_KEYS   65536   /* keys of rules that only remember their last alert */

struct alerts {
	struct rule_conf conf[R_COUNT];
	alerts_emit_fn emit;
	void *ctx;
	sqlite3 *db;
	sqlite3_stmt *q_roles, *q_addr, *q_supp;
	struct ak_jdoc *doc;
	uint64_t k0, k1; /* for hashing accounts and recipients */

	const char *const *roles[R_COUNT]; /* privileged roles (new address, off hours) */
	const char *const *own_domains;    /* NULL: any domain */
	char **owned[3];                   /* copies the lists point into */
	char *zone;                        /* business hours' zone */

	/* Per-key state of each rule; the fail-then-success marks are in
	 * tab[R_FAIL_SUCCESS]. A table of a disabled rule is not used, except
	 * that the brute-force tables run for fail-then-success too. */
	struct keytab tab[R_COUNT];
	uint64_t alerts[R_COUNT], suppressed_n[R_COUNT];

	/* Scratch for one alert. */
	char summary[1024];
	char key[ALERT_KEY_MAX + 1];
	int64_t refs[ALERT_REFS_MAX];

	/* alerts_feed_batch(): alerts held until its read transaction ends. */
	int deferring;
	struct ak_buf pending;
};

/* Common to every detector: emit an alert for rule r about slot s (which
 * holds its suppression state) unless it is suppressed at t. refs need not
 * be sorted (they are sorted, de-duplicated and cut to the newest
 * ALERT_REFS_MAX); the summary is printf-style. */
int alerts_fire(struct alerts *a, int r, struct keyslot *s, int64_t t, const int64_t *refs,
                size_t nrefs, int64_t from_us, int64_t to_us, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 10, 11)));

/* Would rule r be suppressed for slot s at t? (Counted when it is.) */
int alerts_suppressed(struct alerts *a, int r, struct keyslot *s, int64_t t);

/* "77 s", "9 min 30 s", "3 h 12 min", "2 d 4 h" */
void alerts_span(char *out, size_t cap, int64_t us);

/* s cut to at most max bytes on a UTF-8 character boundary, for summaries
 * (returns the byte count to print with %.*s). */
int alerts_cut(const char *s, size_t max);

const char *alerts_str(const struct ak_jv *obj, const char *key);

/* *out: a NULL-terminated copy of the strings of JSON array a (other
 * members skipped), for alerts_strv_free(); 0 or AK_ENOMEM (*out is then
 * partly filled, still freeable). */
int alerts_strv_of(const json_t *a, char ***out);
void alerts_strv_free(char **l);

int alerts_login_init(struct alerts *a);
int alerts_login_feed(struct alerts *a, const struct evidence_entry *e, const struct ak_jv *b);

int alerts_send_init(struct alerts *a);
int alerts_send_feed(struct alerts *a, const struct evidence_entry *e, const struct ak_jv *b);
int alerts_dmarc_feed(struct alerts *a, const struct evidence_entry *e, const struct ak_jv *b);

#endif
