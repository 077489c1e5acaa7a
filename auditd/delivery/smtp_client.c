/*
 * auditd/delivery/smtp_client.c - the SMTP client: one libevent loop on
 * its own thread delivering jobs (one message, one recipient each) to
 * destinations (the relay, or each recipient domain's MX hosts).
 *
 * Per destination: up to `connections` connections, each reused for many
 * messages; jobs wait in the destination's queue and go to whichever
 * connection is idle, at most `rate` a second. A connection greets,
 * EHLOs, STARTTLS (required by default: a server that does not offer it,
 * or whose certificate does not verify, gets nothing), EHLOs again,
 * AUTH PLAIN when configured (only under TLS), and then runs
 * transactions: with PIPELINING, RSET (after a failed transaction)
 * + MAIL + RCPT + DATA go in one write and their replies are matched in
 * order; without it, one command per round trip. The message follows a
 * 354, dot-stuffed, and the reply to the final dot decides the outcome.
 *
 * Outcomes: 2xx after the dot: sent. 5xx to RCPT, DATA or the dot:
 * bounced. Everything else - 4xx, a 5xx to MAIL FROM or to the session
 * (greeting, EHLO, STARTTLS, AUTH: our problem or the server's, not the
 * recipient's, so no reason to suppress the address), a lost connection,
 * a timeout, TLS refused - is deferred with the reason, and the engine
 * retries it later. When connections to a destination keep failing before
 * they are usable, its waiting jobs are deferred with the same reason
 * instead of being tried forever.
 *
 * DNS lookups run on a second thread (resolve.c is blocking) and come
 * back to the loop through an event.
 *
 * SECURITY: everything read from a connection is outside input: reply
 * lines are bounded (SMTP_LINE_MAX, the connection is dropped beyond),
 * parsed by smtp_reply.c, and copied into jobs only as bounded printable
 * text. Bytes the server sends after its 220 to STARTTLS, before the
 * handshake, are a command-injection attempt (CVE-2011-0411) and end the
 * connection. Credentials are never sent without TLS. The client never
 * sends anything but commands built from the job's envelope (addresses
 * checked by the engine: no CR, LF, '<' or '>') and the message.
 */
#include "auditd/delivery/delivery_int.h"

#include "lib/b64.h"
#include "lib/error.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROUTE_TTL_S 300
#define IDLE_S      10
#define MAX_EXPECT  8

enum cstate { C_CONNECT, C_GREET, C_EHLO, C_STARTTLS, C_TLS, C_AUTH, C_IDLE, C_TXN, C_QUIT };
enum cmd { X_GREET, X_EHLO, X_STARTTLS, X_AUTH, X_RSET, X_MAIL, X_RCPT, X_DATA, X_DOT, X_QUIT };

static const char *const cmd_names[] = {"greeting",  "EHLO",    "STARTTLS", "AUTH",        "RSET",
                                        "MAIL FROM", "RCPT TO", "DATA",     "end of data", "QUIT"};

struct dest;

struct conn {
	struct conn *next;
	struct smtp_client *cl;
	struct dest *dest;
	struct bufferevent *bev;
	SSL *ssl;
	struct smtp_addr addr;
	char relay[300];
	enum cstate state;
	int ready_once; /* became usable at least once */
	unsigned caps;
	size_t size_limit;
	int tls, tls_verified;
	enum cmd expect[MAX_EXPECT];
	int nexp, hexp;
	struct smtp_reply reply;
	struct smtp_job *job;
	int failed; /* the transaction has failed already */
	int need_rset;
	int pending_cmds; /* without PIPELINING: commands of the transaction still to send */
	enum cmd next_cmds[4];
	int ncmd, icmd;
	struct event *idle;
	int ssl_in_bev; /* the TLS bufferevent owns ssl */
	int in_cb;      /* inside one of its callbacks: free at the end of it */
	int gone;
};

struct dest {
	struct dest *next;
	struct smtp_client *cl;
	char key[256];
	struct smtp_job *head, **tail;
	size_t npending;
	struct conn *conns;
	int nconn, nready;
	int resolving, resolved;
	int64_t resolved_at;
	struct smtp_route route;
	size_t next_addr;
	int fail_streak;
	double tokens;
	int64_t refill_us;
	struct event *rate_timer;
	int rate_armed;
};

struct rjob {
	struct rjob *next;
	struct dest *dest;
	char key[256];
	struct smtp_route route;
	int rc;
	char err[256];
};

struct smtp_client {
	struct smtp_client_conf conf;
	void (*done)(void *ctx, struct smtp_job *job);
	void *ctx;
	char helo[256];
	struct event_base *base;
	SSL_CTX *ssl;
	pthread_t thread, rthread;
	int started, rstarted;
	pthread_mutex_t mu;
	pthread_cond_t rcond;
	struct smtp_job *incoming;
	struct rjob *rq, *rdone;
	int stop;
	struct event *ev_in, *ev_resolved, *ev_stop;
	struct dest *dests;
};

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- jobs ---- */

static void job_finish(struct smtp_client *cl, struct smtp_job *j, enum smtp_outcome o,
                       const char *relay, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static void job_finish(struct smtp_client *cl, struct smtp_job *j, enum smtp_outcome o,
                       const char *relay, const char *fmt, ...)
{
	va_list ap;
	size_t i;

	j->outcome = o;
	va_start(ap, fmt);
	vsnprintf(j->reply, sizeof(j->reply), fmt, ap);
	va_end(ap);
	for (i = 0; j->reply[i]; i++)
		if ((unsigned char)j->reply[i] < 0x20 || (unsigned char)j->reply[i] >= 0x7f)
			j->reply[i] = '?';
	if (relay && !j->relay[0])
		snprintf(j->relay, sizeof(j->relay), "%s", relay);
	/* A leading "4.x.x " or "5.x.x " in our own texts is their DSN. */
	if (!j->dsn[0] && (j->reply[0] == '4' || j->reply[0] == '5' || j->reply[0] == '2') &&
	    j->reply[1] == '.') {
		for (i = 0; j->reply[i] && j->reply[i] != ' ' && i < sizeof(j->dsn) - 1; i++)
			j->dsn[i] = j->reply[i];
		j->dsn[i] = '\0';
	}
	j->next = NULL;
	cl->done(cl->ctx, j);
}

/* The job's outcome is the reply in hand. The job is finished, so it
 * leaves the connection at once: replies still due to pipelined commands,
 * a 421 or a dropped connection after it must not finish it again. */
static void finish_with_reply(struct conn *c, struct smtp_job *j, enum smtp_outcome o)
{
	snprintf(j->dsn, sizeof(j->dsn), "%s", c->reply.enhanced);
	c->job = NULL;
	job_finish(c->cl, j, o, c->relay, "%d %s", c->reply.code, c->reply.text);
}

static void dest_fail_all(struct dest *d, enum smtp_outcome o, const char *why)
{
	struct smtp_job *j;

	while ((j = d->head) != NULL) {
		d->head = j->next;
		d->npending--;
		job_finish(d->cl, j, o, NULL, "%s", why);
	}
	d->tail = &d->head;
}

/* ---- connections ---- */

static void dest_kick(struct dest *d);

static void conn_free(struct conn *c)
{
	struct conn **pp;
	struct dest *d = c->dest;

	for (pp = &d->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	d->nconn--;
	if (c->state == C_IDLE || c->state == C_TXN)
		d->nready--;
	if (c->idle)
		event_free(c->idle);
	c->idle = NULL;
	if (c->bev)
		bufferevent_free(c->bev); /* the TLS one frees its SSL (BEV_OPT_CLOSE_ON_FREE) */
	if (c->ssl && !c->ssl_in_bev)
		SSL_free(c->ssl);
	c->bev = NULL;
	c->ssl = NULL;
	c->gone = 1;
	if (!c->in_cb)
		free(c);
}

static const char *state_name(const struct conn *c)
{
	static const char *const n[] = {"connecting",     "reading the greeting", "after EHLO",
	                                "after STARTTLS", "in the TLS handshake", "after AUTH",
	                                "idle",           "in a transaction",     "at QUIT"};
	return n[c->state];
}

/* The connection cannot go on: the job in hand is deferred with why, and
 * if this destination has no usable connection left and connections keep
 * failing, so is everything waiting for it. */
static void conn_fail(struct conn *c, enum smtp_outcome o, const char *why)
{
	struct dest *d = c->dest;
	struct smtp_client *cl = c->cl;
	struct smtp_job *j = c->job;
	int never_ready = !c->ready_once;

	c->job = NULL;
	if (j)
		job_finish(c->cl, j, o, c->relay, "%s", why);
	conn_free(c);
	if (never_ready) {
		d->fail_streak++;
		if (d->nready == 0 &&
		    ((size_t)d->fail_streak >= (d->route.naddrs ? d->route.naddrs : 1) ||
		     d->nconn == 0))
			dest_fail_all(d, o, why);
	}
	if (!cl->stop)
		dest_kick(d);
}

static void expect(struct conn *c, enum cmd x)
{
	assert(c->nexp < MAX_EXPECT);
	c->expect[(c->hexp + c->nexp++) % MAX_EXPECT] = x;
}

static int send_line(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int send_line(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
	va_end(ap);
	return rc < 0 ? -1 : 0;
}

static void conn_ready(struct conn *c);

static void idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd, (void)what;
	if (c->state != C_IDLE)
		return;
	c->dest->nready--;
	c->state = C_QUIT;
	send_line(c, "QUIT\r\n");
	expect(c, X_QUIT);
}

static void send_cmd(struct conn *c, enum cmd x)
{
	struct smtp_job *j = c->job;

	switch (x) {
	case X_RSET:
		send_line(c, "RSET\r\n");
		break;
	case X_MAIL:
		send_line(c, "MAIL FROM:<%s>%s\r\n", j->from,
		          j->eightbit && (c->caps & SMTP_CAP_8BITMIME) ? " BODY=8BITMIME" : "");
		break;
	case X_RCPT:
		send_line(c, "RCPT TO:<%s>\r\n", j->rcpt);
		break;
	case X_DATA:
		send_line(c, "DATA\r\n");
		break;
	default:
		assert(0);
	}
	expect(c, x);
}

/* Start the transaction of job j on idle connection c. */
static void conn_start(struct conn *c, struct smtp_job *j)
{
	int i;

	c->job = j;
	c->state = C_TXN;
	c->failed = 0;
	snprintf(j->relay, sizeof(j->relay), "%s", c->relay);
	if (c->tls && c->ssl) {
		snprintf(j->tls_version, sizeof(j->tls_version), "%s", SSL_get_version(c->ssl));
		snprintf(j->tls_cipher, sizeof(j->tls_cipher), "%s", SSL_get_cipher_name(c->ssl));
		j->tls_verified = c->tls_verified;
	}
	c->ncmd = c->icmd = 0;
	if (c->need_rset)
		c->next_cmds[c->ncmd++] = X_RSET;
	c->next_cmds[c->ncmd++] = X_MAIL;
	c->next_cmds[c->ncmd++] = X_RCPT;
	c->next_cmds[c->ncmd++] = X_DATA;
	c->need_rset = 0;
	if (c->idle)
		event_del(c->idle);
	if (c->caps & SMTP_CAP_PIPELINING) {
		for (i = 0; i < c->ncmd; i++)
			send_cmd(c, c->next_cmds[i]);
		c->icmd = c->ncmd;
	} else
		send_cmd(c, c->next_cmds[c->icmd++]);
}

/* Write the message, dot-stuffed, then the final dot. */
static void send_data(struct conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const char *p = c->job->data, *end = p + c->job->len, *q;

	if (p < end && *p == '.')
		evbuffer_add(out, ".", 1);
	while ((q = memmem(p, (size_t)(end - p), "\r\n.", 3)) != NULL) {
		evbuffer_add(out, p, (size_t)(q - p) + 3);
		evbuffer_add(out, ".", 1);
		p = q + 3;
	}
	evbuffer_add(out, p, (size_t)(end - p));
	if (c->job->len < 2 || memcmp(end - 2, "\r\n", 2) != 0)
		evbuffer_add(out, "\r\n", 2);
	evbuffer_add(out, ".\r\n", 3);
	expect(c, X_DOT);
}

static void start_tls(struct conn *c);

static void after_ehlo(struct conn *c)
{
	const struct smtp_client_conf *f = &c->cl->conf;
	char why[400];

	if (!c->tls && f->tls != DELIVERY_TLS_OFF && (c->caps & SMTP_CAP_STARTTLS)) {
		c->state = C_STARTTLS;
		send_line(c, "STARTTLS\r\n");
		expect(c, X_STARTTLS);
		return;
	}
	if (!c->tls && f->tls == DELIVERY_TLS_REQUIRED) {
		snprintf(why, sizeof(why),
		         "4.7.0 TLS required (smtp.tls = required) but %s did not offer STARTTLS; "
		         "not sent in clear",
		         c->relay);
		conn_fail(c, SMTP_DEFERRED, why);
		return;
	}
	if (f->user && *f->user) {
		char plain[600], b64[AK_B64_LEN(600) + 1];
		size_t ul = strlen(f->user), pl = f->password ? strlen(f->password) : 0;

		if (!c->tls) {
			conn_fail(c, SMTP_DEFERRED,
			          "4.7.0 AUTH is configured but the session is not encrypted; "
			          "credentials are never sent in clear");
			return;
		}
		if (!(c->caps & SMTP_CAP_AUTH_PLAIN) || ul + pl + 2 > sizeof(plain)) {
			snprintf(why, sizeof(why), "4.7.0 %s does not offer AUTH PLAIN", c->relay);
			conn_fail(c, SMTP_DEFERRED, why);
			return;
		}
		plain[0] = '\0';
		memcpy(plain + 1, f->user, ul);
		plain[1 + ul] = '\0';
		memcpy(plain + 2 + ul, f->password ? f->password : "", pl);
		ak_b64_encode(b64, plain, ul + pl + 2);
		explicit_bzero(plain, sizeof(plain));
		c->state = C_AUTH;
		send_line(c, "AUTH PLAIN %s\r\n", b64);
		explicit_bzero(b64, sizeof(b64));
		expect(c, X_AUTH);
		return;
	}
	conn_ready(c);
}

static void conn_ready(struct conn *c)
{
	struct dest *d = c->dest;

	if (c->state != C_IDLE && c->state != C_TXN)
		d->nready++;
	c->state = C_IDLE;
	c->ready_once = 1;
	d->fail_streak = 0;
	dest_kick(d);
	if (c->state == C_IDLE && c->idle) {
		struct timeval tv = {IDLE_S, 0};

		event_add(c->idle, &tv);
	}
}

/* The transaction is over (job finished one way or another). */
static void txn_over(struct conn *c)
{
	c->job = NULL;
	conn_ready(c);
}

static void on_reply(struct conn *c)
{
	struct smtp_reply *r = &c->reply;
	struct smtp_job *j = c->job;
	enum cmd x;
	char why[700];
	int cls = r->code / 100;

	if (c->nexp == 0) {
		conn_fail(c, SMTP_DEFERRED, "4.5.0 the server sent a reply nobody asked for");
		return;
	}
	x = c->expect[c->hexp];
	c->hexp = (c->hexp + 1) % MAX_EXPECT;
	c->nexp--;
	if (r->code == 421 && x != X_QUIT) {
		snprintf(why, sizeof(why), "%d %s (from %s, %s)", r->code, r->text, c->relay,
		         cmd_names[x]);
		conn_fail(c, SMTP_DEFERRED, why);
		return;
	}
	switch (x) {
	case X_GREET:
		if (cls != 2) {
			snprintf(why, sizeof(why), "%d %s (greeting of %s)", r->code, r->text,
			         c->relay);
			conn_fail(c, SMTP_DEFERRED, why);
			return;
		}
		c->state = C_EHLO;
		send_line(c, "EHLO %s\r\n", c->cl->helo);
		expect(c, X_EHLO);
		return;
	case X_EHLO:
		if (cls != 2) {
			snprintf(why, sizeof(why), "%d %s (EHLO to %s)", r->code, r->text,
			         c->relay);
			conn_fail(c, SMTP_DEFERRED, why);
			return;
		}
		after_ehlo(c);
		return;
	case X_STARTTLS:
		if (cls == 2) {
			if (evbuffer_get_length(bufferevent_get_input(c->bev)) != 0) {
				conn_fail(c, SMTP_DEFERRED,
				          "4.7.0 the server sent data after its STARTTLS reply "
				          "(command injection?); connection dropped");
				return;
			}
			start_tls(c);
			return;
		}
		if (c->cl->conf.tls == DELIVERY_TLS_REQUIRED) {
			snprintf(why, sizeof(why), "4.7.0 STARTTLS refused by %s: %d %s", c->relay,
			         r->code, r->text);
			conn_fail(c, SMTP_DEFERRED, why);
			return;
		}
		c->caps &= ~(unsigned)SMTP_CAP_STARTTLS;
		after_ehlo(c);
		return;
	case X_AUTH:
		if (r->code != 235) {
			snprintf(why, sizeof(why), "%d %s (AUTH at %s)", r->code, r->text,
			         c->relay);
			conn_fail(c, SMTP_DEFERRED, why);
			return;
		}
		conn_ready(c);
		return;
	case X_QUIT:
		conn_free(c);
		return;
	case X_RSET:
		break;
	case X_MAIL:
	case X_RCPT:
		if (cls != 2 && !c->failed) {
			c->failed = 1;
			c->need_rset = 1;
			/* A refused sender says nothing about the recipient. */
			finish_with_reply(c, j,
			                  x == X_RCPT && cls == 5 ? SMTP_BOUNCED : SMTP_DEFERRED);
		}
		break;
	case X_DATA:
		if (r->code == 354) {
			if (c->failed) {
				/* No recipient took it, yet the server wants data:
				 * sending even an empty message could deliver it. */
				conn_fail(c, SMTP_DEFERRED,
				          "4.5.0 354 after a refused command; connection dropped");
				return;
			}
			send_data(c);
			return;
		}
		if (!c->failed) {
			c->failed = 1;
			finish_with_reply(c, j, cls == 5 ? SMTP_BOUNCED : SMTP_DEFERRED);
		}
		c->need_rset = 1;
		txn_over(c);
		return;
	case X_DOT:
		smtp_reply_queue_id(r, j->queue_id, sizeof(j->queue_id));
		finish_with_reply(c, j,
		                  cls == 2   ? SMTP_SENT
		                  : cls == 5 ? SMTP_BOUNCED
		                             : SMTP_DEFERRED);
		txn_over(c);
		return;
	}
	/* Without PIPELINING the next command goes only now, and only while
	 * the transaction stands. */
	if (c->state == C_TXN && !(c->caps & SMTP_CAP_PIPELINING)) {
		if (c->failed) {
			txn_over(c);
			return;
		}
		if (c->icmd < c->ncmd)
			send_cmd(c, c->next_cmds[c->icmd++]);
	} else if (c->state == C_TXN && c->failed && c->nexp == 0)
		txn_over(c);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char line[SMTP_LINE_MAX + 1];

	c->in_cb++;
	while (!c->gone) {
		struct evbuffer_ptr eol;
		size_t eol_len = 0, len;
		int rc;

		eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
		if (eol.pos < 0 || (size_t)eol.pos > SMTP_LINE_MAX) {
			if (eol.pos >= 0 || evbuffer_get_length(in) > SMTP_LINE_MAX)
				conn_fail(c, SMTP_DEFERRED,
				          "4.5.0 the server sent a line longer than 2048 bytes");
			break;
		}
		len = (size_t)eol.pos;
		evbuffer_remove(in, line, len);
		evbuffer_drain(in, eol_len);
		line[len] = '\0';
		/* Capabilities, from the lines after the first of an EHLO reply. */
		if (c->nexp && c->expect[c->hexp] == X_EHLO && c->reply.nlines > 0 && len > 4)
			smtp_ehlo_line(&c->caps, &c->size_limit, line + 4, len - 4);
		if (c->nexp && c->expect[c->hexp] == X_EHLO && c->reply.nlines == 0)
			c->caps = 0;
		rc = smtp_reply_line(&c->reply, line, len);
		if (rc < 0) {
			char why[300];

			snprintf(why, sizeof(why), "4.5.0 %s: %s", c->relay, ak_error_last());
			conn_fail(c, SMTP_DEFERRED, why);
			break;
		}
		/* The last line of an EHLO reply names a capability too. */
		if (rc == 1 && c->nexp && c->expect[c->hexp] == X_EHLO && c->reply.nlines > 1 &&
		    len > 4)
			smtp_ehlo_line(&c->caps, &c->size_limit, line + 4, len - 4);
		if (rc == 1) {
			on_reply(c);
			smtp_reply_reset(&c->reply);
			/* on_reply may have closed c, or moved it onto TLS
			 * (whose bytes come through the new bufferevent). */
			if (c->gone || c->bev != bev)
				break;
		}
	}
	if (--c->in_cb == 0 && c->gone)
		free(c);
}

static void conn_event(struct conn *c, struct bufferevent *bev, short what);

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	c->in_cb++;
	conn_event(c, bev, what);
	if (--c->in_cb == 0 && c->gone)
		free(c);
}

static void conn_event(struct conn *c, struct bufferevent *bev, short what)
{
	char why[500];

	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == C_CONNECT) {
			c->state = C_GREET;
			expect(c, X_GREET);
			return;
		}
		if (c->state == C_TLS) {
			long v = SSL_get_verify_result(c->ssl);
			X509 *peer = SSL_get1_peer_certificate(c->ssl);

			c->tls = 1;
			c->tls_verified = peer != NULL && v == X509_V_OK;
			X509_free(peer);
			if (c->cl->conf.tls == DELIVERY_TLS_REQUIRED && !c->tls_verified) {
				snprintf(why, sizeof(why),
				         "4.7.5 the TLS certificate of %s did not verify: %s",
				         c->relay,
				         peer ? X509_verify_cert_error_string(v)
				              : "no certificate");
				conn_fail(c, SMTP_DEFERRED, why);
				return;
			}
			c->state = C_EHLO;
			send_line(c, "EHLO %s\r\n", c->cl->helo);
			expect(c, X_EHLO);
			return;
		}
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		snprintf(why, sizeof(why), "4.4.2 %s: timed out %s", c->relay, state_name(c));
	else if (c->state == C_TLS || c->ssl) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		char es[256] = "connection closed";

		if (e)
			ERR_error_string_n(e, es, sizeof(es));
		snprintf(why, sizeof(why), "4.7.5 %s: TLS failed %s: %s", c->relay, state_name(c),
		         es);
	} else if (c->state == C_CONNECT)
		snprintf(why, sizeof(why), "4.4.1 connect to %s: %s", c->relay,
		         evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	else
		snprintf(why, sizeof(why), "4.4.2 lost connection with %s %s", c->relay,
		         state_name(c));
	if (c->state == C_QUIT) {
		conn_free(c);
		return;
	}
	conn_fail(c, SMTP_DEFERRED, why);
}

static int is_ip(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static void start_tls(struct conn *c)
{
	struct bufferevent *tls;
	char why[300];

	c->state = C_TLS;
	c->ssl = SSL_new(c->cl->ssl);
	if (c->ssl == NULL)
		goto fail;
	if (is_ip(c->addr.host)) {
		X509_VERIFY_PARAM *p = SSL_get0_param(c->ssl);

		if (X509_VERIFY_PARAM_set1_ip_asc(p, c->addr.host) != 1)
			goto fail;
	} else if (SSL_set_tlsext_host_name(c->ssl, c->addr.host) != 1 ||
	           SSL_set1_host(c->ssl, c->addr.host) != 1)
		goto fail;
	tls = bufferevent_openssl_filter_new(c->cl->base, c->bev, c->ssl,
	                                     BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL)
		goto fail;
	c->bev = tls;
	c->ssl_in_bev = 1;
	{
		struct timeval tv = {c->cl->conf.timeout_s, 0};

		bufferevent_set_timeouts(tls, &tv, &tv);
	}
	bufferevent_setcb(tls, read_cb, NULL, event_cb, c);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	return;
fail:
	snprintf(why, sizeof(why), "4.7.5 cannot start TLS with %s", c->relay);
	conn_fail(c, SMTP_DEFERRED, why);
}

static void addr_text(const struct smtp_addr *a, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (a->sa.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)&a->sa;

		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		port = ntohs(s->sin_port);
	} else if (a->sa.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&a->sa;

		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		port = ntohs(s->sin6_port);
	}
	snprintf(out, cap, "%s[%s]:%d", a->host, ip, port);
}

static void conn_open(struct dest *d)
{
	struct smtp_client *cl = d->cl;
	struct conn *c = calloc(1, sizeof(*c));
	struct timeval tv = {cl->conf.timeout_s, 0};

	if (c == NULL)
		return;
	c->cl = cl;
	c->dest = d;
	c->addr = d->route.addrs[d->next_addr++ % d->route.naddrs];
	addr_text(&c->addr, c->relay, sizeof(c->relay));
	c->state = C_CONNECT;
	c->next = d->conns;
	d->conns = c;
	d->nconn++;
	c->idle = evtimer_new(cl->base, idle_cb, c);
	c->bev = bufferevent_socket_new(cl->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL || c->idle == NULL) {
		conn_fail(c, SMTP_DEFERRED, "4.3.0 out of memory");
		return;
	}
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&c->addr.sa,
	                               (int)c->addr.salen) != 0) {
		char why[400];

		snprintf(why, sizeof(why), "4.4.1 connect to %s: %s", c->relay, strerror(errno));
		conn_fail(c, SMTP_DEFERRED, why);
	}
}

/* ---- destinations ---- */

static void rate_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dest *d = arg;

	(void)fd, (void)what;
	d->rate_armed = 0;
	dest_kick(d);
}

/* May another message start now under the rate limit? */
static int rate_ok(struct dest *d)
{
	int rate = d->cl->conf.rate;
	int64_t now;

	if (rate <= 0)
		return 1;
	now = now_us();
	d->tokens += (double)(now - d->refill_us) * rate / 1e6;
	d->refill_us = now;
	if (d->tokens > rate)
		d->tokens = rate;
	if (d->tokens >= 1) {
		d->tokens -= 1;
		return 1;
	}
	if (!d->rate_armed) {
		struct timeval tv = {0, (suseconds_t)(1000000 / rate)};

		if (tv.tv_usec >= 1000000)
			tv.tv_sec = tv.tv_usec / 1000000, tv.tv_usec %= 1000000;
		event_add(d->rate_timer, &tv);
		d->rate_armed = 1;
	}
	return 0;
}

static void resolve_start(struct dest *d)
{
	struct rjob *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		dest_fail_all(d, SMTP_DEFERRED, "4.3.0 out of memory");
		return;
	}
	r->dest = d;
	snprintf(r->key, sizeof(r->key), "%s", d->key);
	d->resolving = 1;
	pthread_mutex_lock(&d->cl->mu);
	r->next = d->cl->rq;
	d->cl->rq = r;
	pthread_cond_signal(&d->cl->rcond);
	pthread_mutex_unlock(&d->cl->mu);
}

static void dest_kick(struct dest *d)
{
	struct smtp_client *cl = d->cl;
	struct conn *c;
	int connecting;

	if (cl->stop || d->head == NULL)
		return;
	for (c = d->conns; c && d->head; c = c->next)
		if (c->state == C_IDLE) {
			struct smtp_job *j;

			if (!rate_ok(d))
				return;
			j = d->head;
			d->head = j->next;
			if (d->head == NULL)
				d->tail = &d->head;
			d->npending--;
			j->next = NULL;
			conn_start(c, j);
		}
	if (d->head == NULL)
		return;
	if (!d->resolved || now_us() - d->resolved_at > (int64_t)ROUTE_TTL_S * 1000000) {
		if (!d->resolving)
			resolve_start(d);
		return;
	}
	if (d->route.status) {
		dest_fail_all(d, (enum smtp_outcome)d->route.status, d->route.why);
		return;
	}
	connecting = d->nconn - d->nready;
	while (d->nconn < cl->conf.connections && (size_t)connecting < d->npending) {
		conn_open(d);
		connecting++;
		if (d->head == NULL)
			break;
	}
}

static struct dest *dest_get(struct smtp_client *cl, const char *rcpt)
{
	const char *at = strrchr(rcpt, '@');
	const char *key = (cl->conf.relay && *cl->conf.relay) ? "" : (at ? at + 1 : "");
	struct dest *d;

	for (d = cl->dests; d; d = d->next)
		if (strcasecmp(d->key, key) == 0)
			return d;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->cl = cl;
	snprintf(d->key, sizeof(d->key), "%s", key);
	d->tail = &d->head;
	d->rate_timer = evtimer_new(cl->base, rate_cb, d);
	d->refill_us = now_us();
	d->tokens = 1;
	d->next = cl->dests;
	cl->dests = d;
	return d;
}

/* ---- cross-thread plumbing ---- */

static void incoming_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *cl = arg;
	struct smtp_job *list, *j, *rev = NULL;

	(void)fd, (void)what;
	pthread_mutex_lock(&cl->mu);
	list = cl->incoming;
	cl->incoming = NULL;
	pthread_mutex_unlock(&cl->mu);
	/* The list came in reverse; keep submission order. */
	while ((j = list) != NULL) {
		list = j->next;
		j->next = rev;
		rev = j;
	}
	while ((j = rev) != NULL) {
		struct dest *d;

		rev = j->next;
		j->next = NULL;
		if ((d = dest_get(cl, j->rcpt)) == NULL) {
			job_finish(cl, j, SMTP_DEFERRED, NULL, "4.3.0 out of memory");
			continue;
		}
		*d->tail = j;
		d->tail = &j->next;
		d->npending++;
	}
	for (struct dest *d = cl->dests; d; d = d->next)
		dest_kick(d);
}

static void resolved_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *cl = arg;
	struct rjob *list, *r;

	(void)fd, (void)what;
	pthread_mutex_lock(&cl->mu);
	list = cl->rdone;
	cl->rdone = NULL;
	pthread_mutex_unlock(&cl->mu);
	while ((r = list) != NULL) {
		struct dest *d = r->dest;

		list = r->next;
		smtp_route_clear(&d->route);
		d->route = r->route;
		if (r->rc != 0) {
			d->route.status = SMTP_DEFERRED;
			snprintf(d->route.why, sizeof(d->route.why), "4.3.5 %s", r->err);
		}
		d->resolving = 0;
		d->resolved = 1;
		d->resolved_at = now_us();
		d->next_addr = 0;
		free(r);
		dest_kick(d);
	}
}

static void *resolver_main(void *arg)
{
	struct smtp_client *cl = arg;

	pthread_mutex_lock(&cl->mu);
	for (;;) {
		struct rjob *r;

		while (cl->rq == NULL && !cl->stop)
			pthread_cond_wait(&cl->rcond, &cl->mu);
		if (cl->stop)
			break;
		r = cl->rq;
		cl->rq = r->next;
		pthread_mutex_unlock(&cl->mu);
		r->rc = smtp_resolve(cl->conf.relay, r->key,
		                     cl->conf.mx_port ? cl->conf.mx_port : 25, cl->conf.dns_server,
		                     &r->route);
		if (r->rc != 0)
			snprintf(r->err, sizeof(r->err), "%s", ak_error_last());
		pthread_mutex_lock(&cl->mu);
		r->next = cl->rdone;
		cl->rdone = r;
		event_active(cl->ev_resolved, 0, 0);
	}
	pthread_mutex_unlock(&cl->mu);
	return NULL;
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *cl = arg;
	struct dest *d;

	(void)fd, (void)what;
	/* Give every job back, then leave the loop. */
	incoming_cb(-1, 0, cl);
	for (d = cl->dests; d; d = d->next) {
		while (d->conns) {
			struct conn *c = d->conns;
			struct smtp_job *j = c->job;

			c->job = NULL;
			if (j)
				job_finish(cl, j, SMTP_DEFERRED, c->relay,
				           "4.3.2 akashi stopped during delivery");
			conn_free(c);
		}
		dest_fail_all(d, SMTP_DEFERRED, "4.3.2 akashi stopped before delivery");
	}
	event_base_loopbreak(cl->base);
}

static void *loop_main(void *arg)
{
	struct smtp_client *cl = arg;

	event_base_loop(cl->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

void smtp_client_submit(struct smtp_client *cl, struct smtp_job *jobs)
{
	struct smtp_job *j;

	if (jobs == NULL)
		return;
	pthread_mutex_lock(&cl->mu);
	while ((j = jobs) != NULL) {
		jobs = j->next;
		j->next = cl->incoming;
		cl->incoming = j;
	}
	event_active(cl->ev_in, 0, 0);
	pthread_mutex_unlock(&cl->mu);
}

int smtp_client_new(struct smtp_client **out, const struct smtp_client_conf *conf,
                    void (*done)(void *ctx, struct smtp_job *job), void *ctx)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct smtp_client *cl = calloc(1, sizeof(*cl));
	int rc = 0;

	if (cl == NULL)
		return ak_error_oom();
	pthread_once(&once, (void (*)(void))evthread_use_pthreads);
	cl->conf = *conf;
	if (cl->conf.connections < 1)
		cl->conf.connections = 1;
	if (cl->conf.timeout_s < 1)
		cl->conf.timeout_s = 120;
	cl->done = done;
	cl->ctx = ctx;
	pthread_mutex_init(&cl->mu, NULL);
	pthread_cond_init(&cl->rcond, NULL);
	if (conf->helo && *conf->helo)
		snprintf(cl->helo, sizeof(cl->helo), "%s", conf->helo);
	else if (gethostname(cl->helo, sizeof(cl->helo) - 1) != 0 || !strchr(cl->helo, '.'))
		snprintf(cl->helo, sizeof(cl->helo), "localhost.localdomain");
	cl->ssl = SSL_CTX_new(TLS_client_method());
	if (cl->ssl == NULL) {
		rc = ak_error_set("TLS: cannot make a context");
		goto done;
	}
	SSL_CTX_set_min_proto_version(cl->ssl, TLS1_2_VERSION);
	/* Verified after the handshake (event_cb), so a failure has a reason
	 * in the record and opportunistic TLS can go on without it. */
	SSL_CTX_set_verify(cl->ssl, SSL_VERIFY_NONE, NULL);
	if (conf->ca_file && *conf->ca_file) {
		if (SSL_CTX_load_verify_locations(cl->ssl, conf->ca_file, NULL) != 1) {
			rc = ak_error_set("tls.ca_file %s: cannot load", conf->ca_file);
			goto done;
		}
	} else if (SSL_CTX_set_default_verify_paths(cl->ssl) != 1) {
		rc = ak_error_set("TLS: cannot load the system CA store");
		goto done;
	}
	if ((cl->base = event_base_new()) == NULL ||
	    (cl->ev_in = event_new(cl->base, -1, 0, incoming_cb, cl)) == NULL ||
	    (cl->ev_resolved = event_new(cl->base, -1, 0, resolved_cb, cl)) == NULL ||
	    (cl->ev_stop = event_new(cl->base, -1, 0, stop_cb, cl)) == NULL) {
		rc = ak_error_set("libevent: cannot set up the loop");
		goto done;
	}
	if (pthread_create(&cl->rthread, NULL, resolver_main, cl) != 0) {
		rc = ak_error_set("cannot start the resolver thread");
		goto done;
	}
	cl->rstarted = 1;
	if (pthread_create(&cl->thread, NULL, loop_main, cl) != 0) {
		rc = ak_error_set("cannot start the SMTP thread");
		goto done;
	}
	cl->started = 1;
done:
	if (rc) {
		smtp_client_free(cl);
		return rc;
	}
	*out = cl;
	return 0;
}

void smtp_client_free(struct smtp_client *cl)
{
	struct dest *d;

	if (cl == NULL)
		return;
	if (cl->started) {
		event_active(cl->ev_stop, 0, 0);
		pthread_join(cl->thread, NULL);
	}
	pthread_mutex_lock(&cl->mu);
	cl->stop = 1;
	pthread_cond_broadcast(&cl->rcond);
	pthread_mutex_unlock(&cl->mu);
	if (cl->rstarted)
		pthread_join(cl->rthread, NULL);
	while (cl->rq) {
		struct rjob *r = cl->rq;

		cl->rq = r->next;
		free(r);
	}
	while (cl->rdone) {
		struct rjob *r = cl->rdone;

		cl->rdone = r->next;
		smtp_route_clear(&r->route);
		free(r);
	}
	while ((d = cl->dests) != NULL) {
		cl->dests = d->next;
		while (d->conns)
			conn_free(d->conns);
		if (d->rate_timer)
			event_free(d->rate_timer);
		smtp_route_clear(&d->route);
		free(d);
	}
	if (cl->ev_in)
		event_free(cl->ev_in);
	if (cl->ev_resolved)
		event_free(cl->ev_resolved);
	if (cl->ev_stop)
		event_free(cl->ev_stop);
	if (cl->base)
		event_base_free(cl->base);
	SSL_CTX_free(cl->ssl);
	pthread_cond_destroy(&cl->rcond);
	pthread_mutex_destroy(&cl->mu);
	free(cl);
}
