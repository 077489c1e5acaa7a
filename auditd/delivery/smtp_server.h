/*
 * auditd/delivery/smtp_server.h - the SMTP submission gateway of `akashi
 * serve` (config smtp.listen; docs/OPERATIONS.md "The SMTP gateway").
 *
 * Existing mail tools relay through akashi: ESMTP with STARTTLS, AUTH
 * PLAIN with an `ingest` token (the user names the stream and list),
 * every RCPT gated, the message handed to the delivery engine whole
 * (delivery_submit_raw) and answered 250 once it is in the queue on disk.
 *
 * Threads: the gateway runs its own event loop on a thread of its own,
 * with its own read-only connection to the store for the gate and the
 * token checks. Accepted messages and refusals go to the engine's thread
 * (delivery_post); their answers come back through an event.
 *
 * Life cycle, driven by http_campaigns.c: smtp_server_bind() before
 * privileges are dropped, smtp_server_start() once the engine runs,
 * smtp_server_drain() before the engine stops, smtp_server_free() after
 * the engine is freed (the tasks it still ran may answer the gateway).
 */
#ifndef AUDITD_DELIVERY_SMTP_SERVER_H
#define AUDITD_DELIVERY_SMTP_SERVER_H

#include <stddef.h>

struct delivery;
struct ssl_ctx_st;
struct smtp_server;

/* Bind and listen on addr ("host:port", "[v6]:port"). *fd gets the
 * socket, the caller's until handed to smtp_server_start(). AK_EINVALID
 * for an address that does not parse, AK_ERROR when it cannot be bound. */
int smtp_server_bind(const char *addr, int *fd);

struct smtp_server_conf {
	int fd;                  /* from smtp_server_bind(): the gateway's, even on failure */
	const char *store_dir;   /* the store: gate and tokens read it */
	const char *policy_repo; /* the policies the gate applies (re-read every 10 s) */
	const char *policy_ref;
	struct ssl_ctx_st *ssl;  /* tls.cert/tls.key, or NULL: no STARTTLS; borrowed */
	struct delivery *engine; /* where messages go (delivery_post); borrowed */
	const char *hostname;    /* in the greeting and the EHLO reply */
	const char *id_domain;   /* right side of Message-IDs made here */
	size_t max_message_size; /* 552 above */
	size_t max_recipients;   /* per transaction; 452 above */
	int idle_timeout_s;      /* 421 and close after this long silent */
};

/* Start the gateway's thread. Strings are copied; ssl and engine must
 * outlive the gateway. It reloads policies on its own thread while others
 * do too, so the caller keeps libgit2 initialised meanwhile (akashi serve
 * holds a reference for its life). Errors: AK_* with the message (the fd
 * is closed). */
int smtp_server_start(struct smtp_server **out, const struct smtp_server_conf *c);

/* Stop accepting; sessions between transactions get 421 at once, those in
 * one may finish it (up to 10 s) and then get 421; the thread is joined.
 * Call while the engine still runs. */
void smtp_server_drain(struct smtp_server *s);

/* Free the gateway, after smtp_server_drain() and after the engine is
 * freed (so no task of the engine's still refers to it). NULL is fine. */
void smtp_server_free(struct smtp_server *s);

#endif
