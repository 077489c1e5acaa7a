/*
 * auditd/delivery/delivery.h - the bundled delivery engine: every send
 * gated, rendered, DKIM-signed, queued, delivered over SMTP and recorded.
 *
 * A campaign (a template and a CSV of recipients) is loaded into a
 * persistent queue (SQLite, queue.db in the store directory) in batches,
 * so its size never shows in memory. Running the queue takes, for each
 * recipient,
 *
 *   gate (policies/gate.h)  -> `blocked` entry with the reasons, or
 *                              `queued` entry, before the first attempt
 *   render + sign           -> at send time, in signer threads
 *   deliver (SMTP, libevent) -> `sent` (reply, queue id), `deferred` (4xx,
 *                              retried with back-off), `bounced` (5xx: the
 *                              suppression indexer then denies the address),
 *                              `expired` (deferred past queue.max_age)
 *
 * Entries go to the evidence log through the caller's sink (the CLI
 * appends to the store it opened; the daemon routes them through its
 * group-commit writer). The log is the truth: after a crash the queue is
 * brought up to date from the send entries appended since its last mark,
 * so no recipient with a `sent` entry is sent again, and a message that
 * was in flight is retried with its attempt number counting on.
 *
 * Threads: delivery_run() runs on the caller's thread (gating, queue and
 * log writes), with one event-loop thread for SMTP and DNS, and signer
 * threads. The gate's database connection and the sink are used from the
 * caller's thread only.
 *
 * Errors: 0 or a negative AK_* code with the message in ak_error_last().
 */
#ifndef AUDITD_DELIVERY_H
#define AUDITD_DELIVERY_H

#include "evidence/evidence.h"
#include "lib/buf.h"
#include "policies/gate.h"
#include "policies/policy.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define DELIVERY_QUEUE_FILE "queue.db"

enum delivery_tls {
	DELIVERY_TLS_REQUIRED,      /* STARTTLS with a verified certificate, or no delivery */
	DELIVERY_TLS_OPPORTUNISTIC, /* STARTTLS when offered, certificate not required to verify */
	DELIVERY_TLS_OFF,           /* never STARTTLS */
};

struct delivery_options {
	const char *queue_path; /* the queue database */
	const char *relay;      /* "host:port" (smart host), or NULL/"" for MX delivery */
	const char *relay_user; /* AUTH PLAIN (only over TLS); NULL: no AUTH */
	const char *relay_password;
	enum delivery_tls tls;
	const char *ca_file;    /* NULL: the system CA store */
	const char *helo;       /* EHLO name; NULL: the host name */
	int mx_port;            /* port for MX delivery (25) */
	const char *dns_server; /* "ip" or "ip:port" instead of resolv.conf (tests), or NULL */

	const char *dkim_domain;
	const char *dkim_selector;
	const char *dkim_key;              /* PEM file, RSA-2048 */
	const char *dkim_ed25519_selector; /* optional second signature (RFC 8463) */
	const char *dkim_ed25519_key;
	int dkim_libopendkim; /* sign through libopendkim (slow; see dkim.c) */

	const char *unsub_base_url; /* "https://host" (the daemon); List-Unsubscribe points at
	                             * <base>/v1/unsubscribe?t=TOKEN */
	const void *unsub_secret;   /* HMAC key of the tokens (auditd/unsubscribe.h) */
	size_t unsub_secret_len;

	int64_t max_age_s;   /* give up (expired) after this long deferred */
	int64_t retry_min_s; /* first retry after a 4xx */
	int64_t retry_max_s; /* longest gap between retries */
	int connections;     /* connections per destination */
	int rate;            /* messages per second per destination; 0: no limit */
	int max_inflight;    /* messages rendered or on the wire at once */
	int signers;         /* signer threads; 0: one per core */
	int timeout_s;       /* SMTP command timeout */
	int batch;           /* recipients per gate/queue/log transaction */
	int gate_cache_kib;  /* page cache of the gate's connection (gate_cache_at_least) */
};

/* Fill o with the defaults (queue_path and the DKIM settings stay NULL). */
void delivery_options_default(struct delivery_options *o);

/* What options read from the configuration hold on to. */
struct delivery_owned {
	char queue[4200];
	char *password;
	size_t password_len;
	unsigned char *secret;
	size_t secret_len;
};

struct config;

/* o from the configuration keys (auditd/config.c; docs/OPERATIONS.md),
 * with the queue in store_dir; strings are borrowed from cfg or held in own
 * (release with delivery_owned_free()). AK_EINVALID naming the key. */
int delivery_options_from_config(const struct config *cfg, const char *store_dir,
                                 struct delivery_options *o, struct delivery_owned *own);
void delivery_owned_free(struct delivery_owned *own);

/* Read a whole file of at most max bytes (NUL-terminated; free() it). */
int delivery_slurp(const char *path, size_t max, char **out, size_t *len);

/* Where entries go. append: the records in one durable batch (it returns
 * after they are durable) and the seq of the last one in *last_seq. scan:
 * call cb for every `send` entry with seq >= from_seq, in seq order. Both
 * are called from the thread of delivery_run() only. */
struct delivery_sink {
	int (*append)(void *ctx, const struct evidence_record *recs, size_t n, int64_t *last_seq);
	int (*scan)(void *ctx, int64_t from_seq, evidence_entry_cb cb, void *cb_ctx);
	void *ctx;
};

/* A sink over an open store (borrowed), for the CLI and tests. */
void delivery_sink_store(struct delivery_sink *out, struct evidence_store *st);

struct delivery;

/* An engine over the queue of o, recording through sink, gating with the
 * policies of set over gate_db (the store's database: consent, suppression
 * and approval tables). All borrowed; they must outlive the engine. Takes
 * the queue's runner lock: AK_EBUSY when another process runs it. */
int delivery_new(struct delivery **out, const struct delivery_options *o,
                 const struct delivery_sink *sink, sqlite3 *gate_db, const struct policy_set *set);
void delivery_free(struct delivery *d);

struct delivery_campaign {
	const char *id;
	const char *stream; /* "marketing" or "transactional" */
	const char *list;
	const char *from;  /* envelope sender; From when the template has none */
	const char *owner; /* may be NULL */
	const char *template_data;
	size_t template_len;
	const char *recipients; /* CSV path; the "email" column is the recipient */
	int skip_invalid;       /* load the valid rows even if some are not */
	/* Called for each refused row with the line it starts on (may be NULL). */
	void (*reject)(void *ctx, unsigned long line, const char *why);
	void *reject_ctx;
};

struct delivery_load {
	int64_t loaded;     /* rows added to the queue by this call */
	int64_t duplicates; /* rows naming a recipient already in the campaign */
	int64_t invalid;
	int64_t size; /* recipients in the campaign */
	int resumed;  /* the campaign was already in the queue */
};

/* Put a campaign into the queue. The same id again with the same template
 * resumes loading where it stopped (after a crash) and is otherwise a
 * no-op; with another template it is AK_EEXISTS. Invalid rows (no valid
 * email, a value that would break a header) fail the whole campaign with
 * AK_EINVALID unless skip_invalid. */
int delivery_submit(struct delivery *d, const struct delivery_campaign *c,
                    struct delivery_load *out);

struct delivery_counts {
	int64_t total, pending, queued, inflight, sent, deferred, bounced, blocked, expired;
};

enum delivery_run_mode {
	DELIVERY_UNTIL_SETTLED, /* return once every message is final or deferred to later */
	DELIVERY_FOREVER,       /* until delivery_stop() */
};

/* Run the queue (only campaign's messages when campaign is not NULL).
 * counts (optional) gets the campaign's (or the whole queue's) counts at
 * the end. */
int delivery_run(struct delivery *d, const char *campaign, enum delivery_run_mode mode,
                 struct delivery_counts *counts);

/* Ask delivery_run() to return soon (any thread, signal-safe): nothing new
 * is sent, messages on the wire get up to 10 seconds to finish (their
 * outcomes recorded), the rest stays queued for the next run. */
void delivery_stop(struct delivery *d);

/* Gate with the policies of set from now on (set borrowed; the previous
 * one may be freed after this returns). Only from the thread of
 * delivery_run() (a posted task) or while it is not running. */
int delivery_set_policies(struct delivery *d, const struct policy_set *set);

/* Run fn(d, arg) on the thread of delivery_run(), between two of its steps
 * (any thread may post; e.g. the daemon's delivery_submit()). Tasks still
 * waiting when the engine is freed run then. AK_ENOMEM. */
int delivery_post(struct delivery *d, void (*fn)(struct delivery *d, void *arg), void *arg);

/* Counts by status of a campaign (NULL: the whole queue) read from the
 * queue file alone (no lock needed). A campaign is one `akashi send` made,
 * or the name (X-Akashi-Campaign, or the gateway's campaign of the day)
 * messages came in under through the SMTP gateway, or both. AK_ENOTFOUND
 * for an unknown campaign. */
int delivery_status(const char *queue_path, const char *campaign, struct delivery_counts *out);

/* ---- messages handed in whole (the SMTP gateway, smtp_server.c) ----
 *
 * A gateway transaction is one message for a few recipients, already
 * written by the client: the engine queues it as it is (no template, no
 * merge fields, the client's Message-ID kept) under a queue entry of its
 * own (its submission id, "smtp:<hex>"), and delivers it like any other:
 * gate (now with the campaign and its size), List-Unsubscribe for
 * marketing mail, DKIM, SMTP, the same entries. Entries name the campaign
 * the client gave and carry "submission": {"via", "id", "peer"}, which is
 * how recovery finds the queue entry again. The queue entry and its
 * message are removed once every recipient is final. */

/* Is s a campaign id (1 to 200 of A-Z a-z 0-9 . _ - :)? */
int delivery_campaign_id_valid(const char *s);

/* Will the engine put one-click unsubscribe headers into marketing mail
 * (unsubscribe.base_url is https and a secret is loaded)? Reads settings
 * fixed at delivery_new(): any thread. */
int delivery_can_unsubscribe(const struct delivery *d);

/* A recipient the gateway's own gate refused (at RCPT). */
struct delivery_refusal {
	char rcpt[256];
	struct gate_decision gd;
};

struct delivery_raw {
	const char *campaign; /* the campaign id the entries name */
	const char *stream;   /* "marketing" or "transactional" */
	const char *list;
	const char *from;       /* envelope sender, lower-case */
	const char *owner;      /* who handed it in (the token's name) */
	const char *via, *peer; /* "smtp", the client's address: for the record */
	const char *message_id; /* "<...>" of data; "" when there is no message */
	const char *data;       /* headers, empty line, body; CRLF line ends; not dot-stuffed */
	size_t len;
	const char *const *rcpts; /* lower-case, distinct; may be none */
	size_t nrcpts;
	const struct delivery_refusal *refused; /* recorded `blocked`, with their reasons */
	size_t nrefused;
};

/* Record the refusals (durable, through the sink), then queue the message
 * for rcpts in one transaction that is on disk (synchronous=FULL) when
 * this returns 0: the gateway answers 250 only then. qid (may be NULL)
 * gets the submission id ("" when nothing was queued). From the thread of
 * delivery_run() only (delivery_post). AK_EINVALID for a bad campaign,
 * stream, list, sender or recipient. */
int delivery_submit_raw(struct delivery *d, const struct delivery_raw *m, char qid[40]);

/* Append one record of kind from source with body (canonicalised here;
 * the reference is taken) at time_us, durable through the engine's sink
 * when this returns 0 (the gateway's failed logins). From the thread of
 * delivery_run() only (delivery_post). */
int delivery_record(struct delivery *d, const char *kind, const char *source, json_t *body,
                    int64_t time_us);

/* ---- notices: short text mail from akashi itself (alerts) ---- */

struct delivery_notice {
	const char *from;    /* address (ASCII): the envelope sender and From */
	const char *to;      /* address (ASCII): the one recipient and To */
	const char *subject; /* UTF-8, one line; a control character is refused */
	const char *text;    /* the body: UTF-8 with LF line ends, no CR or NUL */
	size_t text_len;
	const char *message_id; /* "<...@...>", printable ASCII */
	int64_t date_us;        /* Date:; 0: now */
};

/* Append the RFC 5322 message of n to out (CRLF line ends, not
 * dot-stuffed): From, To, Date, Message-ID, Subject (RFC 2047 encoded-words
 * when not ASCII), Auto-Submitted: auto-generated (RFC 3834), a text/plain
 * UTF-8 body (base64 when it is not 7-bit clean or has a line over 998
 * bytes). AK_EINVALID naming the field that would not make a valid
 * message, or AK_ENOMEM; after an error out may hold part of it. */
int delivery_compose_notice(struct ak_buf *out, const struct delivery_notice *n);

/* ---- inside the daemon (http_campaigns.c) ---- */

struct daemon;

/* Start the engine of `akashi serve` on its own thread and route
 * /v1/campaigns to it (call after the routes exist). 0 unless out of
 * memory: a configuration that keeps the engine off is logged and the
 * route answers 503 with the reason. */
int delivery_service_start(struct daemon *d);
/* Stop sending: the SMTP gateway's transactions under way and the
 * messages on the wire finish (up to 10 s each) and are recorded through
 * the writer; nothing new is sent, what is queued stays for the next
 * start. Blocks until then: any thread but the engine's (SIGTERM runs it
 * on a thread of its own so the loop keeps answering). Once; later calls
 * do nothing. */
void delivery_service_quiesce(struct daemon *d);
/* Quiesce it if that was not done, then free it; call before
 * writer_stop(). Tasks posted to the engine meanwhile run here. */
void delivery_service_stop(struct daemon *d);

/* NULL when the daemon's engine runs; else why it is off (a borrowed
 * string, valid until delivery_service_stop()). Loop thread. */
const char *delivery_service_off(const struct daemon *d);

/* Mail n through the daemon's engine: composed here
 * (delivery_compose_notice), then queued on the engine's thread as one
 * transactional message of campaign (delivery_campaign_id_valid) on list,
 * with submission {"via": via}, and gated, delivered and recorded like any
 * send (`queued`, then `sent`, `deferred`, `bounced`; `blocked` when the
 * gate refuses the address, e.g. one that bounced before). Returns once it
 * is handed to the engine's thread: a failure to queue there is logged.
 * Loop thread; n and the strings are borrowed (copied). AK_EINVALID for a
 * notice or campaign that is not valid; AK_ERROR when the engine is off
 * (the reason in the message). */
int delivery_service_notify(struct daemon *d, const struct delivery_notice *n, const char *campaign,
                            const char *list, const char *via);

#endif
