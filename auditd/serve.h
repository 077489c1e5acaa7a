/*
 * auditd/serve.h - what the files of the daemon share (serve.c: start,
 * signals, scheduler, alerts, shutdown; http.c: the routes). Nothing
 * outside `akashi serve` includes this.
 *
 * Threads:
 *   - the loop thread runs libevent: HTTP, timers, signals, the answers to
 *     requests once the writer is done with them, and the alert sinks. It
 *     reads through its own read-only connection (rd).
 *   - the writer thread owns the writable store (auditd/writer.h).
 *   - the alerts thread runs the detectors over what was appended, on a
 *     read-only connection of its own, and queues the alerts they raise
 *     for the writer's next group commit.
 *   - the reader thread runs searches and consent lookups on a read-only
 *     connection of its own (the writer machinery with call jobs only).
 *   - an audit thread exists while a scheduled audit runs, with its own
 *     read-only connection; it hands the findings to the writer.
 * Fields are the loop thread's unless marked otherwise.
 */
#ifndef AUDITD_SERVE_H
#define AUDITD_SERVE_H

#include "auditd/alerts/alerts.h"
#include "auditd/cli.h"
#include "auditd/metrics.h"
#include "auditd/tokens.h"
#include "auditd/writer.h"
#include "policies/gate.h"
#include "policies/policy.h"

#include <pthread.h>
#include <stdint.h>

struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;
struct ssl_ctx_st;
struct http_stream;

/* Settings read from the config at start and on SIGHUP. */
struct serve_settings {
	int64_t rate; /* requests per second per token; 0: no limit */
	int64_t burst;
	size_t max_body;
	int64_t timeout_s;
	size_t chunk; /* entries per chunk of GET /v1/entries */
	int metrics_auth;
	int64_t unsub_max_age_us;
	int64_t unsub_repeat_us; /* unsubscribe.repeat_window */
	size_t max_line, max_report_bytes, max_report_rows;
	int64_t checkpoint_interval_s, audit_interval_s;
	int64_t alerts_drain_us; /* alerts.drain_timeout */
	char zone[64];        /* "timezone" */
	char ingest_zone[64]; /* "ingest.zone" */
	int64_t ingest_year;
};

struct rate_bucket {
	int64_t token_id;
	double tokens;
	int64_t last_us;
};

struct daemon {
	struct cli *cli;
	struct config *cfg;
	struct serve_settings s;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct ssl_ctx_st *ssl;
	struct writer *writer;
	struct evidence_store *rd;
	/* A thread with its own read-only connection for the slow reads
	 * (search, consent lookups): the writer machinery, call jobs only. */
	struct writer *reader;
	struct token_checker *tokens;
	struct policy_set *set;
	struct gate *gate;
	char policy_error[512];
	struct metrics *metrics;
	struct alert_sinks *sinks;
	struct rate_bucket *buckets;
	size_t nbuckets;
	unsigned char *unsub_secret;
	size_t unsub_secret_len;
	char unsub_error[512];
	int draining;
	size_t inflight;  /* requests waiting for the writer */
	size_t unflushed; /* answers handed to evhttp, not yet sent */
	int final_done;   /* "stop" and the final checkpoint are in */
	int64_t final_at_us;
	int sinks_draining;           /* stopping: waiting for the sinks (alerts.drain_timeout) */
	int64_t sinks_failed_at_stop; /* the webhook's failed count when that began */
	int exit_code;
	int git_held; /* a libgit2 reference held for the daemon's life (cmd_serve) */
	struct http_stream *streams; /* GET /v1/entries being sent */
	int64_t started_us;
	struct event *ev_sig[4], *ev_checkpoint, *ev_audit, *ev_drain;
	/* the audit thread */
	pthread_t audit_thread;
	int audit_running;
	/* The alerts thread: the detectors on a read-only connection of their
	 * own, fed after each commit; what they raise goes to the writer. */
	struct writer *alerter;
	pthread_mutex_t feed_mu;
	int64_t feed_want; /* under feed_mu: feed up to this seq */
	int feed_queued;   /* under feed_mu: a feed job is queued */
	/* alerts thread only: the detectors and what they emitted */
	struct alerts *alerts;
	int64_t alerts_fed; /* the last seq fed to the detectors */
	struct pending_alert *pending;
	char alerts_zone[64], alerts_hours[64];
	json_t *alerts_made; /* loop thread: what the detectors were made from (start_alerts) */
	struct delivery_service *delivery; /* auditd/delivery/http_campaigns.c */
	/* SIGTERM: delivery_service_quiesce() on a thread of its own, then
	 * ev_quiesced on the loop carries the shutdown on. */
	pthread_t quiesce_thread;
	int quiesce_started;
	struct event *ev_quiesced;
	int smtp_fd; /* smtp.listen, bound before privileges drop; -1 when off or handed over */
};

/* ---- http.c ---- */

/* Create the HTTP server and bind config "listen" (before dropping
 * privileges); TLS when d->ssl is set. */
int http_start(struct daemon *d);
/* Apply d->s (body cap, timeouts) to the server. */
void http_apply_settings(struct daemon *d);
/* Stop accepting connections (SIGTERM). */
void http_stop_accepting(struct daemon *d);
/* The bearer token of req, for a role in need (a mask), as every route
 * checks it: 401, 403 or 429 (the per-token rate limit) answered here and
 * counted in the metrics under route, then -1; else 0 and the token in
 * *out (may be NULL). For routes served outside http.c (/v1/campaigns). */
int http_authorize(struct daemon *d, struct evhttp_request *req, const char *route, int need,
                   struct token_info *out);
/* Cut every /v1/entries stream still being sent (shutdown). */
void http_abort_streams(struct daemon *d);
void http_free(struct daemon *d);

/* ---- serve.c, for http.c ---- */

/* Queue a system entry {"event": event, ...fields} (fields borrowed).
 * done (may be NULL) runs on the loop when it is durable, with ctx. */
int serve_system_entry(struct daemon *d, const char *event, json_t *fields,
                       void (*done)(struct writer_job *j), void *ctx);

/* Ask the writer for a checkpoint now. done (may be NULL) runs on the
 * loop afterwards with j->ctx = ctx and j->arg the struct
 * evidence_checkpoint made; it must not free j. */
int serve_checkpoint_now(struct daemon *d, void (*done)(struct writer_job *j), void *ctx);

#endif
