/*
 * auditd/alerts/alerts.h - detectors over the stream of appended entries,
 * and the sinks alerts go to.
 *
 * The daemon feeds every entry it has appended (in seq order) to
 * alerts_feed(); detectors keep bounded windows per key (account, source
 * address, campaign, sender) and, when a rule's condition holds, call the
 * emit callback with an alert. Each rule has a suppression window so one
 * incident is one alert. The daemon appends the alert as an `alert` entry
 * (body {rule, severity, summary, refs[], window{from,to}}) and hands the
 * entry to the sinks. `akashi alerts replay` feeds history to the same
 * detectors and prints what would have fired.
 *
 * Rules and thresholds come from alerts.json in the policy repository
 * (documented in docs/POLICIES.md); every rule has a default so an empty
 * or missing file means the defaults. Detectors that need to know whether
 * an account is privileged or an address was seen before read the derived
 * state (policies/state.h) as of the entry's time, so replaying history
 * gives the answers the live daemon gave.
 *
 * Threads: a struct alerts is used from one thread. Sinks run on the
 * daemon's event loop and never block ingest.
 */
#ifndef AUDITD_ALERTS_H
#define AUDITD_ALERTS_H

#include "evidence/evidence.h"
#include "lib/buf.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

struct alert_out {
	const char *rule;      /* "login.bruteforce_src" */
	const char *severity;  /* info, low, medium, high, critical */
	const char *summary;   /* one sentence for people */
	const int64_t *refs;   /* seqs of the entries that triggered it, ascending */
	size_t nrefs;
	int64_t window_from_us, window_to_us;
	int64_t time_us;       /* the event time of the entry that completed the condition */
	const char *key;       /* what it is about: an account, an address, a campaign */
};

/* Called for each alert; return 0 to go on. The struct is borrowed. */
typedef int (*alerts_emit_fn)(void *ctx, const struct alert_out *a);

struct alerts_config {
	const char *timezone;       /* for business hours; NULL: "Asia/Tokyo" */
	const char *business_hours; /* "08:30-18:00 Mon-Fri" form; NULL: that default */
	const char *const *privileged_roles; /* NULL-terminated; NULL: the access.review default */
	const char *const *own_domains;      /* for dmarc.unknown_source; NULL: any */
	int64_t mass_threshold;     /* recipients; 0: 10000 */
};

struct alerts;

/* ---- the rules and settings the daemon makes its detectors from ---- */

struct policy_set;

struct alerts_settings {
	json_t *rules;            /* alerts.json (a copy this owns), or NULL: the defaults */
	char zone[64], hours[64]; /* timezone, business_hours; "": the defaults */
	int64_t mass_threshold;   /* send.mass_approval's threshold, or 0 */
	char **roles, **domains;  /* access.review's privileged roles, dmarc.alignment's
	                           * domains: NULL-terminated copies, or NULL */
};

/* Fill out from the rules (borrowed, copied; NULL: defaults), the
 * timezone and business_hours settings (borrowed, copied) and the policies
 * in force (set: borrowed, may be NULL), as the daemon does, so that
 * `akashi alerts replay` judges history as the daemon judged it. 0 or
 * AK_ENOMEM (out is then empty). Free with alerts_settings_free(). */
int alerts_settings_of(struct alerts_settings *out, const json_t *rules, const char *zone,
                       const char *hours, const struct policy_set *set);
/* cfg for alerts_new(), pointing into s (valid while s is). */
void alerts_settings_config(const struct alerts_settings *s, struct alerts_config *cfg);
/* All of s as JSON (a new reference; NULL when out of memory): equal JSON,
 * equal detectors. */
json_t *alerts_settings_json(const struct alerts_settings *s);
void alerts_settings_free(struct alerts_settings *s);

/* rules: the parsed alerts.json (borrowed; NULL: defaults). cfg: borrowed,
 * copied (NULL: every default). db: the store's connection, read for
 * derived state (borrowed; NULL: no derived state, so no account is
 * privileged, nothing is suppressed and no campaign approved). AK_EINVALID
 * naming the rule and key for a bad alerts.json or a bad cfg value. */
int alerts_new(struct alerts **out, const json_t *rules, const struct alerts_config *cfg,
	       sqlite3 *db, alerts_emit_fn emit, void *ctx);
void alerts_free(struct alerts *a);

/* One appended entry (kinds the detectors do not look at are ignored fast).
 * emit is called from inside, zero or more times; a non-zero return of
 * emit is returned. A body that is not what its kind says is skipped, not
 * an error: the detectors see whatever the log holds. */
int alerts_feed(struct alerts *a, const struct evidence_entry *e);

/* The entries of one committed batch, in seq order, as alerts_feed() each,
 * with every derived-state lookup inside one read transaction on db (when
 * db is not in a transaction already: a lookup on its own takes and drops
 * SQLite's read locks, several times the cost). emit is called after that
 * transaction has ended, so it may append to the store. */
int alerts_feed_batch(struct alerts *a, const struct evidence_entry *e, size_t n);

/* The body of the `alert` entry for a, canonical JSON appended to out:
 * {"key","refs","rule","severity","summary","window":{"from","to"}}. The
 * daemon appends it (kind "alert", time a->time_us); replay prints it. */
int alerts_body(struct ak_buf *out, const struct alert_out *a);

/* Per rule counts, added to into (an object) as
 * {"RULE":{"enabled","alerts","suppressed","keys","evicted"}}: for /metrics
 * and the replay summary. */
void alerts_stats(const struct alerts *a, json_t *into);

/* 0 if s is business hours as the business_hours setting takes them
 * ("08:30-18:00 Mon-Fri"), else AK_EINVALID saying why. */
int alerts_check_hours(const char *s);

/* Check a whole rules document without building detectors (policy lint). */
int alerts_check_rules(const json_t *rules);

/* ---- sinks ---- */

struct event_base;
struct alert_sinks;

/* One alert as mail, for the daemon's mailer (serve.c hands it to the
 * delivery engine). Everything is borrowed for the call. */
struct alert_mail {
	const char *from, *to; /* alerts.email_from, alerts.email */
	const char *subject;   /* "[akashi] high login.bruteforce_user alice": UTF-8, no
	                        * control character (those of the key are replaced) */
	const char *text;      /* the body: UTF-8, LF line ends, no CR or NUL */
	size_t text_len;
	const char *message_id; /* "<akashi-alert-SEQ.HEX@domain of from>" */
	const char *rule;
	int64_t seq; /* of the alert entry */
};

/* Take one alert mail on; called on the loop thread. 0 when it is
 * accepted (queued for delivery: what becomes of it then is the mailer's
 * to record), else an AK_* code with the message (counted failed, logged). */
typedef int (*alert_mail_fn)(void *ctx, const struct alert_mail *m);

struct alert_sinks_config {
	const char *webhook_url;    /* http(s)://... ; NULL or "": none */
	const char *webhook_secret; /* HMAC-SHA256 key for X-Akashi-Signature: sha256=<hex> */
	const char *syslog;         /* "udp:HOST:PORT", "tcp:HOST:PORT", "unix:/dev/log"; NULL: none */
	const char *email;          /* address alerts are mailed to (through mail); NULL: none */
	const char *email_from;     /* the sender of those mails; required with email */
	alert_mail_fn mail;         /* required with email (else AK_EINVALID) */
	void *mail_ctx;
	const char *min_severity;   /* alerts below it go to no sink; NULL: "low" */
	const char *ca_file;        /* for https webhooks; NULL: system store */
	unsigned max_attempts;      /* webhook tries per alert before giving up; 0: 8 */
	unsigned backoff_ms;        /* first retry delay, doubled per try up to 5 min; 0: 1000 */
	size_t queue_max;           /* alerts waiting per sink; 0: 1024 */
};

/* Sinks on the daemon's event loop (borrowed). */
int alert_sinks_new(struct alert_sinks **out, struct event_base *base,
		    const struct alert_sinks_config *cfg);
/* Queue one alert entry (its canonical JSON bytes) for every sink. Never
 * blocks: deliveries happen on the loop, webhooks retry with back-off, and
 * a full queue drops the oldest with a log line (the alert is in the log
 * as an entry either way). May be called from another thread than the
 * loop's if libevent threading was enabled (evthread_use_pthreads())
 * before base was created. */
int alert_sinks_send(struct alert_sinks *s, const char *entry, size_t len, const char *rule,
		     const char *severity);
/* Alerts the sinks still have to deliver: waiting in the webhook's or the
 * e-mail sink's queue, or the webhook's alert in flight or waiting for a
 * retry (syslog sends at once and is not counted). Any thread. */
size_t alert_sinks_pending(const struct alert_sinks *s);
/* For the daemon's stop: from now on nothing waits for back-off. A
 * webhook retry waiting goes at once, and every alert gets one more try
 * (a try in flight now gets one retry); one that fails then is given up
 * (counted failed, logged). Queued mail is handed over, syslog flushed.
 * The loop must keep running for the tries to happen; the caller bounds
 * how long (alert_sinks_pending()). Loop thread only. */
void alert_sinks_flush_now(struct alert_sinks *s);
/* Counts for /metrics: sent, failed, dropped per sink. */
void alert_sinks_stats(const struct alert_sinks *s, json_t *into);
void alert_sinks_free(struct alert_sinks *s);

#endif
