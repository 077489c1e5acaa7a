/*
 * auditd/delivery/smtp_server.c - the SMTP submission gateway (see
 * smtp_server.h; docs/OPERATIONS.md "The SMTP gateway").
 *
 * One session per connection, a state machine on the gateway's event
 * loop. Input is taken a line at a time from the connection's buffer, so
 * a pipelining client (RFC 2920) may send MAIL, every RCPT and DATA at
 * once: each command is answered in turn, and while a message is being
 * queued by the engine the session reads nothing more until it has
 * answered. The parsing itself is smtp_proto.c (pure, fuzzed).
 *
 *   220 greeting -> EHLO -> [STARTTLS -> EHLO] -> AUTH PLAIN -> MAIL ->
 *   RCPT... (each gated: 250, or 550 with the policies' reasons) -> DATA
 *   -> the message -> engine: refusals recorded, message queued on disk
 *   -> 250 "queued as smtp:<id>", or 451 when the engine could not
 *
 * The gate asked at RCPT is the delivery engine's rule with no campaign
 * (the X-Akashi-Campaign header comes with DATA): consent, opt-out,
 * suppression and the unsubscribe headers decide there, and the engine
 * asks again with the campaign and its size (send.mass_approval) before
 * the first attempt. Refused recipients are recorded `blocked` when their
 * transaction ends (with the message's campaign and Message-ID when it
 * got that far), through the engine, as the engine records its own.
 *
 * SECURITY: clients are anyone who can reach smtp.listen until AUTH, then
 * holders of an ingest token. Before AUTH a client can only greet, start
 * TLS and authenticate; AUTH travels only under TLS when TLS is configured
 * (538 otherwise), and without TLS only from loopback. Input buffered
 * before STARTTLS is thrown away, so nothing sent in clear is read as if
 * it came under TLS (CVE-2011-0411). Every line, message, recipient list
 * and error count is bounded (smtp.max_message_size, smtp.max_recipients,
 * 10 errors); an idle client is cut after smtp.idle_timeout. The gateway
 * holds no key and no writable connection: it reads the store, and hands
 * what it accepted to the engine.
 */
#include "auditd/delivery/smtp_server.h"

#include "auditd/delivery/delivery_int.h"
#include "auditd/tokens.h"
#include "lib/b64.h"
#include "lib/error.h"
#include "lib/hostport.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "policies/gate.h"
#include "policies/repo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LINE_BUF        4096 /* longest line looked at; longer ones are refused whole */
#define MAX_ERRORS      10
#define DRAIN_S         10
#define POLICY_RELOAD_S 10
#define READ_HIGH_WATER (256 * 1024)

struct session;

/* A transaction's outcome on its way to the engine and back. */
struct pending {
	struct pending *next;
	struct smtp_server *srv;
	struct session *s; /* NULL once the session is gone, or for refusals only */
	char *campaign, *stream, *list, *from, *owner, *peer, *message_id;
	char *data;
	size_t len;
	char **rcpts;
	size_t nrcpts;
	struct delivery_refusal *refused;
	size_t nrefused;
	int rc;
	char error[300];
	char qid[40];
};

struct session {
	struct session *prev, *next;
	struct smtp_server *srv;
	struct bufferevent *bev;
	evutil_socket_t fd;
	char peer[64];
	int loopback;
	int tls, starttls; /* under TLS; STARTTLS answered, switch once the 220 is out */
	int greeted, esmtp;
	int authed, auth_wait; /* AUTH done; 334 sent, its response awaited */
	char token[TOKEN_NAME_MAX + 1];
	int64_t token_id;
	char stream[16], list[201];
	int mail;
	char from[256];
	char **rcpts;
	size_t nrcpts;
	struct delivery_refusal *refused;
	size_t nrefused;
	int data;
	int data_crlf; /* in DATA: the last line ended with CRLF (see smtpd_data_line) */
	unsigned data_flags;
	struct ak_buf msg;
	int discard; /* in the middle of a line too long to read: drop to its end */
	struct pending *busy;
	int errors;
	int closing;
};

struct smtp_server {
	struct smtp_server_conf c;
	char store_dir[4200], repo[4200], ref[256], hostname[256], id_domain[256];
	struct event_base *base;
	struct evconnlistener *lev;
	struct event *ev_stop, *ev_done, *ev_policies, *ev_deadline;
	struct evidence_store *rd;
	struct token_checker *tokens;
	struct policy_set *set;
	struct gate *gate;
	struct session *sessions;
	size_t nsessions;
	int draining;
	pthread_t thread;
	int running;
	pthread_mutex_t mu;
	struct pending *done; /* under mu: answered by the engine */
};

/* ---- binding ---- */

int smtp_server_bind(const char *addr, int *fd)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], port[16];
	int one = 1, rc, s = -1, pn;

	*fd = -1;
	if (ak_hostport_split(addr, host, sizeof(host), -1, &pn) != 0)
		return ak_error_code(AK_EINVALID,
		                     "smtp.listen '%s': expected HOST:PORT or [V6]:PORT", addr);
	snprintf(port, sizeof(port), "%d", pn);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(*host ? host : NULL, port, &hints, &res)) != 0)
		return ak_error_code(AK_EINVALID, "smtp.listen '%s': %s", addr, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		           ai->ai_protocol);
		if (s < 0)
			continue;
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, ai->ai_addr, ai->ai_addrlen) == 0 && listen(s, 128) == 0)
			break;
		close(s);
		s = -1;
	}
	freeaddrinfo(res);
	if (s < 0)
		return ak_error_set("smtp.listen %s: cannot bind (in use, or not allowed)", addr);
	*fd = s;
	return 0;
}

/* ---- replies ---- */

static void reply(struct session *s, int code, const char *enh, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void reply(struct session *s, int code, const char *enh, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	char text[600];
	size_t i;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* What goes back may quote the client or a policy: one line of
	 * printable text. */
	for (i = 0; text[i]; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			text[i] = ' ';
	if (enh && *enh)
		evbuffer_add_printf(out, "%d %s %s\r\n", code, enh, text);
	else
		evbuffer_add_printf(out, "%d %s\r\n", code, text);
}

/* Reply, then close once it is out. */
static void reply_close(struct session *s, int code, const char *enh, const char *why)
{
	reply(s, code, enh, "%s", why);
	s->closing = 1;
	bufferevent_disable(s->bev, EV_READ);
}

static int error(struct session *s)
{
	if (++s->errors < MAX_ERRORS)
		return 0;
	reply_close(s, 421, "4.7.0", "too many errors; closing the connection");
	return -1;
}

/* ---- transactions ---- */

static void pending_free(struct pending *p)
{
	size_t i;

	free(p->campaign);
	free(p->stream);
	free(p->list);
	free(p->from);
	free(p->owner);
	free(p->peer);
	free(p->message_id);
	free(p->data);
	for (i = 0; i < p->nrcpts; i++)
		free(p->rcpts[i]);
	free(p->rcpts);
	free(p->refused);
	free(p);
}

/* On the engine's thread: record and queue, then hand the answer back. */
static void pending_task(struct delivery *eng, void *arg)
{
	struct pending *p = arg;
	struct smtp_server *srv = p->srv;
	struct delivery_raw m;

	memset(&m, 0, sizeof(m));
	m.campaign = p->campaign;
	m.stream = p->stream;
	m.list = p->list;
	m.from = p->from;
	m.owner = p->owner;
	m.via = "smtp";
	m.peer = p->peer;
	m.message_id = p->message_id ? p->message_id : "";
	m.data = p->data;
	m.len = p->len;
	m.rcpts = (const char *const *)p->rcpts;
	m.nrcpts = p->nrcpts;
	m.refused = p->refused;
	m.nrefused = p->nrefused;
	p->rc = delivery_submit_raw(eng, &m, p->qid);
	if (p->rc)
		snprintf(p->error, sizeof(p->error), "%s", ak_error_last());
	pthread_mutex_lock(&srv->mu);
	p->next = srv->done;
	srv->done = p;
	pthread_mutex_unlock(&srv->mu);
	event_active(srv->ev_done, 0, 0);
}

/* "smtp-<token>-<UTC date>": the campaign of messages that name none. */
static void default_campaign(const struct session *s, char *out, size_t cap)
{
	int y, mo, d, h, mi, sec, wd;
	size_t i, n;

	ak_time_to_civil(ak_time_now(), &y, &mo, &d, &h, &mi, &sec, &wd);
	n = (size_t)snprintf(out, cap, "smtp-%.128s-%04d-%02d-%02d", s->token, y, mo, d);
	for (i = 5; i < n && i < cap; i++)
		if (!((out[i] >= 'a' && out[i] <= 'z') || (out[i] >= 'A' && out[i] <= 'Z') ||
		      (out[i] >= '0' && out[i] <= '9') || strchr("._-:", out[i])))
			out[i] = '-';
}

/* A pending of the session's transaction; its recipients and refusals
 * move into it. NULL when out of memory. */
static struct pending *pending_new(struct session *s, const char *campaign, const char *mid)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->srv = s->srv;
	p->campaign = strdup(campaign);
	p->stream = strdup(s->stream);
	p->list = strdup(s->list);
	p->from = strdup(s->from);
	p->owner = strdup(s->token);
	p->peer = strdup(s->peer);
	p->message_id = strdup(mid ? mid : "");
	if (!p->campaign || !p->stream || !p->list || !p->from || !p->owner || !p->peer ||
	    !p->message_id) {
		pending_free(p);
		return NULL;
	}
	p->rcpts = s->rcpts;
	p->nrcpts = s->nrcpts;
	p->refused = s->refused;
	p->nrefused = s->nrefused;
	s->rcpts = NULL;
	s->nrcpts = 0;
	s->refused = NULL;
	s->nrefused = 0;
	return p;
}

static int post(struct smtp_server *srv, struct pending *p)
{
	if (srv->c.engine == NULL)
		return ak_error_set("the delivery engine is gone");
	if (delivery_post(srv->c.engine, pending_task, p) != 0)
		return -1;
	return 0;
}

/* End the transaction: the refusals still held are recorded (nothing
 * waits for that), the recipients forgotten. */
static void reset_tx(struct session *s, const char *campaign, const char *mid)
{
	size_t i;

	if (s->nrefused) {
		char def[256];
		struct pending *p;

		if (campaign == NULL) {
			default_campaign(s, def, sizeof(def));
			campaign = def;
		}
		p = pending_new(s, campaign, mid);
		if (p == NULL || post(s->srv, p) != 0) {
			ak_log(AK_LOG_ERR, "smtp: %s: refusals not recorded: %s", s->peer,
			       p ? ak_error_last() : "out of memory");
			if (p)
				pending_free(p);
		}
	}
	for (i = 0; i < s->nrcpts; i++)
		free(s->rcpts[i]);
	free(s->rcpts);
	free(s->refused);
	s->rcpts = NULL;
	s->refused = NULL;
	s->nrcpts = s->nrefused = 0;
	s->mail = 0;
	s->data = 0;
	s->data_flags = 0;
	s->from[0] = '\0';
	ak_buf_free(&s->msg);
	ak_buf_init(&s->msg, s->srv->c.max_message_size + 64);
}

/* ---- sessions ---- */

static void maybe_exit(struct smtp_server *srv)
{
	if (srv->draining && srv->nsessions == 0)
		event_base_loopexit(srv->base, NULL);
}

static void session_free(struct session *s)
{
	struct smtp_server *srv = s->srv;

	reset_tx(s, NULL, NULL);
	if (s->busy)
		s->busy->s = NULL; /* its answer goes nowhere */
	ak_buf_free(&s->msg);
	if (s->bev)
		bufferevent_free(s->bev); /* and the socket with it */
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	srv->nsessions--;
	free(s);
	maybe_exit(srv);
}

static void process(struct session *s);
static void read_cb(struct bufferevent *bev, void *arg);
static void write_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);

static void set_timeouts(struct session *s)
{
	struct timeval tv = {s->srv->c.idle_timeout_s > 0 ? s->srv->c.idle_timeout_s : 300, 0};

	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_setwatermark(s->bev, EV_READ, 0, READ_HIGH_WATER);
	bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
}

/* The 220 to STARTTLS is out: the same connection, now under TLS. The
 * TLS bufferevent gets a descriptor of its own (dup), so the plain one
 * may close its descriptor whenever libevent finalizes it. */
static void start_tls(struct session *s)
{
	SSL *ssl = SSL_new((SSL_CTX *)s->srv->c.ssl);
	struct bufferevent *tb = NULL;
	int fd = ssl ? dup(s->fd) : -1;

	s->starttls = 0;
	if (fd >= 0)
		tb = bufferevent_openssl_socket_new(
		        s->srv->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		if (fd >= 0)
			close(fd);
		if (ssl)
			SSL_free(ssl);
		ak_log(AK_LOG_WARN, "smtp: %s: cannot start TLS", s->peer);
		session_free(s);
		return;
	}
	bufferevent_free(s->bev);
	s->fd = fd;
	s->bev = tb;
	s->tls = 1;
	/* RFC 3207 4.2: everything known before TLS is forgotten. */
	s->greeted = s->esmtp = 0;
	s->authed = s->auth_wait = 0;
	set_timeouts(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	if (s->closing)
		session_free(s);
	else if (s->starttls)
		start_tls(s);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (what == BEV_EVENT_CONNECTED)
		return; /* the TLS handshake is done */
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) && !s->closing) {
		if (s->busy) {
			/* The wait is ours, not the client's. */
			bufferevent_enable(s->bev, EV_READ);
			return;
		}
		reply_close(s, 421, "4.4.2", "idle for too long; closing the connection");
		return;
	}
	/* EOF, an error, a TLS failure, or a client that does not read. */
	session_free(s);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	process(arg);
}

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
	struct smtp_server *srv = arg;
	struct session *s = calloc(1, sizeof(*s));

	(void)lev;
	(void)salen;
	if (s == NULL) {
		close(fd);
		return;
	}
	s->srv = srv;
	s->fd = fd;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, s->peer, sizeof(s->peer));
		s->loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, s->peer, sizeof(s->peer));
		s->loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	ak_buf_init(&s->msg, srv->c.max_message_size + 64);
	s->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		close(fd);
		free(s);
		return;
	}
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;
	set_timeouts(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	reply(s, 220, NULL, "%s ESMTP akashi: mail is gated and recorded", srv->hostname);
}

/* ---- commands ---- */

static void ehlo(struct session *s, const struct smtpd_cmd *c)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	struct smtp_server *srv = s->srv;
	int auth = srv->c.ssl ? s->tls : s->loopback;

	reset_tx(s, NULL, NULL);
	s->greeted = 1;
	s->esmtp = c->verb == SMTPD_EHLO;
	if (!s->esmtp) {
		reply(s, 250, NULL, "%s", srv->hostname);
		return;
	}
	evbuffer_add_printf(out, "250-%s greets %.*s\r\n", srv->hostname, (int)c->arg_len, c->arg);
	evbuffer_add_printf(out, "250-PIPELINING\r\n250-SIZE %zu\r\n250-8BITMIME\r\n",
	                    srv->c.max_message_size);
	if (srv->c.ssl && !s->tls)
		evbuffer_add_printf(out, "250-STARTTLS\r\n");
	if (auth && !s->authed)
		evbuffer_add_printf(out, "250-AUTH PLAIN\r\n");
	evbuffer_add_printf(out, "250 ENHANCEDSTATUSCODES\r\n");
}

static void starttls(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);

	if (s->srv->c.ssl == NULL) {
		reply(s, 502, "5.5.1", "STARTTLS is not offered here (no tls.cert)");
		error(s);
		return;
	}
	if (s->tls) {
		reply(s, 503, "5.5.1", "TLS is already on");
		error(s);
		return;
	}
	/* Whatever came after the command came in clear: it is not read. */
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_disable(s->bev, EV_READ);
	reset_tx(s, NULL, NULL);
	s->starttls = 1;
	reply(s, 220, "2.0.0", "ready to start TLS");
}

/* The response to AUTH PLAIN: base64 of "\0user\0token". */
/* ---- failed logins ----
 *
 * A refused AUTH is an `admin` login_failure entry (actor "smtp:USER", the
 * client's address), recorded through the engine like everything else the
 * gateway does, so the alert rules see SMTP password guessing as they see
 * any other (login.bruteforce_src, login.bruteforce_user). */

struct auth_failure {
	char actor[300];
	char ip[64];
	char reason[160];
	int64_t time_us;
};

static void auth_failure_task(struct delivery *eng, void *arg)
{
	struct auth_failure *f = arg;
	json_t *b = json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:s}}", "actor", f->actor, "action",
	                      "login_failure", "ip", f->ip, "result", "failure", "reason",
	                      f->reason, "details", "via", "smtp");

	if (b == NULL || delivery_record(eng, "admin", "akashi:smtp", b, f->time_us) != 0)
		ak_log(AK_LOG_ERR, "smtp: %s: a failed login not recorded: %s", f->ip,
		       b ? ak_error_last() : "out of memory");
	free(f);
}

static void record_auth_failure(struct session *s, const char *user, const char *reason)
{
	struct auth_failure *f = calloc(1, sizeof(*f));
	size_t i;

	if (f == NULL)
		return;
	snprintf(f->actor, sizeof(f->actor), "smtp:%s", user);
	/* The user name is the client's: printable ASCII only in the log. */
	for (i = 0; f->actor[i]; i++)
		if ((unsigned char)f->actor[i] < 0x21 || (unsigned char)f->actor[i] > 0x7e)
			f->actor[i] = '?';
	snprintf(f->ip, sizeof(f->ip), "%s", s->peer[0] ? s->peer : "0.0.0.0");
	snprintf(f->reason, sizeof(f->reason), "%s", reason);
	f->time_us = ak_time_now();
	if (delivery_post(s->srv->c.engine, auth_failure_task, f) != 0)
		free(f);
}

static void auth_check(struct session *s, const char *b64, size_t len)
{
	char user[256], pass[TOKEN_TEXT_MAX + 64], stream[16], list[201];
	struct token_info t;

	s->auth_wait = 0;
	if (len == 1 && b64[0] == '*') {
		reply(s, 501, "5.0.0", "authentication cancelled");
		error(s);
		return;
	}
	if (smtpd_auth_plain(b64, len, user, sizeof(user), pass, sizeof(pass)) != 0) {
		reply(s, 501, "5.5.2", "%s", ak_error_last());
		error(s);
		return;
	}
	if (smtpd_auth_user(user, stream, sizeof(stream), list, sizeof(list)) != 0) {
		record_auth_failure(s, user, "not a list the gateway knows");
		reply(s, 535, "5.7.8", "%s", ak_error_last());
		error(s);
		goto done;
	}
	if (token_check(s->srv->tokens, pass, strlen(pass), &t) != 0) {
		ak_log(AK_LOG_WARN, "smtp: %s: AUTH refused: not a valid token", s->peer);
		record_auth_failure(s, user, "not a valid token");
		reply(s, 535, "5.7.8", "authentication credentials invalid");
		error(s);
		goto done;
	}
	if (!token_role_allows(t.role, TOKEN_INGEST)) {
		ak_log(AK_LOG_WARN, "smtp: %s: AUTH refused: token %s has role %s", s->peer, t.name,
		       token_role_name(t.role));
		record_auth_failure(s, user, "the token may not send mail");
		reply(s, 535, "5.7.8",
		      "authentication credentials invalid (the token's role may "
		      "not send mail: an ingest token is needed)");
		error(s);
		goto done;
	}
	s->authed = 1;
	s->token_id = t.id;
	snprintf(s->token, sizeof(s->token), "%s", t.name);
	snprintf(s->stream, sizeof(s->stream), "%s", stream);
	snprintf(s->list, sizeof(s->list), "%s", list);
	reply(s, 235, "2.7.0", "authenticated: %s mail to list '%s'", stream, list);
done:
	OPENSSL_cleanse(pass, sizeof(pass));
}

static void auth(struct session *s, const struct smtpd_cmd *c)
{
	const char *sp = memchr(c->arg, ' ', c->arg_len);
	size_t ml = sp ? (size_t)(sp - c->arg) : c->arg_len;

	if (!s->greeted) {
		reply(s, 503, "5.5.1", "EHLO first");
		error(s);
		return;
	}
	if (s->authed || s->mail) {
		reply(s, 503, "5.5.1",
		      s->authed ? "already authenticated" : "not in a transaction");
		error(s);
		return;
	}
	if (s->srv->c.ssl && !s->tls) {
		/* RFC 4954 4: 538 when the mechanism needs encryption. */
		reply(s, 538, "5.7.11", "encryption required: STARTTLS first");
		error(s);
		return;
	}
	if (!s->srv->c.ssl && !s->loopback) {
		reply(s, 538, "5.7.11",
		      "AUTH without TLS only from loopback (set tls.cert and "
		      "tls.key)");
		error(s);
		return;
	}
	if (!(ml == 5 && strncasecmp(c->arg, "PLAIN", 5) == 0)) {
		reply(s, 504, "5.5.4", "only AUTH PLAIN");
		error(s);
		return;
	}
	if (sp == NULL) {
		s->auth_wait = 1;
		reply(s, 334, NULL, "%s", "");
		return;
	}
	auth_check(s, sp + 1, c->arg_len - ml - 1);
}

/* Is the token the session authenticated with still valid? A revocation
 * takes effect at the next transaction, as it does at the next HTTP
 * request: a tool that keeps its connection open must not go on sending
 * with a revoked token. */
static int token_still_valid(struct session *s)
{
	struct token_info t;
	int rc = token_check_id(s->srv->tokens, s->token_id, &t);

	if (rc == 0 && token_role_allows(t.role, TOKEN_INGEST))
		return 1;
	if (rc != 0 && rc != AK_ENOTFOUND) {
		ak_log(AK_LOG_ERR, "smtp: token lookup: %s", ak_error_last());
		return -1;
	}
	ak_log(AK_LOG_WARN, "smtp: %s: token %s was revoked; the session must AUTH again", s->peer,
	       s->token);
	s->authed = 0;
	return 0;
}

static void mail(struct session *s, const struct smtpd_cmd *c)
{
	int valid;

	if (s->srv->draining) {
		reply_close(s, 421, "4.3.2", "akashi is shutting down; try again later");
		return;
	}
	if (!s->greeted) {
		reply(s, 503, "5.5.1", "EHLO or HELO first");
		error(s);
	} else if (!s->authed) {
		reply(s, 530, "5.7.0", "authentication required (AUTH PLAIN with an ingest token)");
		error(s);
	} else if ((valid = token_still_valid(s)) < 0) {
		reply(s, 454, "4.7.0", "the token cannot be checked now; try again later");
	} else if (valid == 0) {
		reply(s, 535, "5.7.8",
		      "authentication credentials invalid (the token was revoked)");
		error(s);
	} else if (s->mail) {
		reply(s, 503, "5.5.1", "a transaction is already open (RSET first)");
		error(s);
	} else if (c->addr[0] == '\0') {
		reply(s, 501, "5.1.7", "a sender address is required");
		error(s);
	} else if (c->size > 0 && (size_t)c->size > s->srv->c.max_message_size) {
		reply(s, 552, "5.3.4",
		      "the message is bigger than smtp.max_message_size (%zu bytes)",
		      s->srv->c.max_message_size);
	} else {
		s->mail = 1;
		snprintf(s->from, sizeof(s->from), "%s", c->addr);
		reply(s, 250, "2.1.0", "sender ok");
	}
}

static void rcpt(struct session *s, const struct smtpd_cmd *c)
{
	struct smtp_server *srv = s->srv;
	struct gate_request gq;
	struct gate_decision gd;
	size_t i;

	if (!s->mail) {
		reply(s, 503, "5.5.1", "MAIL first");
		error(s);
		return;
	}
	for (i = 0; i < s->nrcpts; i++)
		if (strcmp(s->rcpts[i], c->addr) == 0) {
			reply(s, 250, "2.1.5", "recipient ok (already given)");
			return;
		}
	if (s->nrcpts + s->nrefused >= srv->c.max_recipients) {
		reply(s, 452, "4.5.3", "too many recipients (smtp.max_recipients is %zu)",
		      srv->c.max_recipients);
		return;
	}
	memset(&gq, 0, sizeof(gq));
	gq.rcpt = c->addr;
	gq.list = s->list;
	gq.stream = s->stream;
	gq.campaign = NULL; /* not known before DATA; the engine asks again with it */
	gq.owner = s->token;
	gq.campaign_size = -1;
	gq.unsubscribe_headers = strcmp(s->stream, "marketing") == 0
	                                 ? (delivery_can_unsubscribe(srv->c.engine) ? 1 : 0)
	                                 : -1;
	if (gate_check(srv->gate, &gq, &gd) != 0) {
		ak_log(AK_LOG_ERR, "smtp: gate: %s", ak_error_last());
		reply(s, 451, "4.3.0", "the gate could not decide; try again later");
		return;
	}
	if (!gd.allow) {
		struct delivery_refusal *r = realloc(s->refused, (s->nrefused + 1) * sizeof(*r));
		char why[500] = "";
		size_t n = 0;

		if (r == NULL) {
			reply(s, 451, "4.3.0", "out of memory");
			return;
		}
		s->refused = r;
		snprintf(r[s->nrefused].rcpt, sizeof(r[s->nrefused].rcpt), "%s", c->addr);
		r[s->nrefused].gd = gd;
		s->nrefused++;
		for (i = 0; i < gd.nreasons && n < sizeof(why); i++)
			n += (size_t)snprintf(why + n, sizeof(why) - n, "%s%s: %s", i ? "; " : "",
			                      gd.reasons[i].policy, gd.reasons[i].detail);
		reply(s, 550, "5.7.1", "%s", why[0] ? why : "refused by policy");
		return;
	}
	{
		char **r = realloc(s->rcpts, (s->nrcpts + 1) * sizeof(*r));

		if (r == NULL || (r[s->nrcpts] = strdup(c->addr)) == NULL) {
			if (r)
				s->rcpts = r;
			reply(s, 451, "4.3.0", "out of memory");
			return;
		}
		s->rcpts = r;
		s->nrcpts++;
	}
	reply(s, 250, "2.1.5", "recipient ok");
}

static void data(struct session *s)
{
	if (!s->mail) {
		reply(s, 503, "5.5.1", "MAIL first");
		error(s);
		return;
	}
	if (s->nrcpts == 0) {
		reply(s, 554, "5.5.1", "no valid recipients");
		reset_tx(s, NULL, NULL);
		return;
	}
	s->data = 1;
	s->data_flags = 0;
	s->data_crlf = 1; /* the data starts after DATA's line end */
	ak_buf_reset(&s->msg);
	reply(s, 354, NULL, "end data with <CR><LF>.<CR><LF>");
}

/* The final dot: check the message and hand it to the engine. */
static void end_data(struct session *s)
{
	struct smtp_server *srv = s->srv;
	struct smtpd_msg_in in;
	struct smtpd_msg_out res;
	struct ak_buf out = AK_BUF_INIT(0);
	char local[40], def[256];
	struct pending *p;

	s->data = 0;
	if (s->data_flags & SMTPD_DATA_TOO_BIG) {
		reply(s, 552, "5.3.4",
		      "the message is bigger than smtp.max_message_size (%zu bytes)",
		      srv->c.max_message_size);
		reset_tx(s, NULL, NULL);
		return;
	}
	if (s->data_flags & SMTPD_DATA_LONG_LINE) {
		reply(s, 554, "5.6.0",
		      "a line of the message is longer than 998 characters "
		      "(RFC 5322 2.1.1)");
		reset_tx(s, NULL, NULL);
		return;
	}
	if (s->data_flags & SMTPD_DATA_BARE) {
		reply(s, 554, "5.6.0",
		      "the message has a CR outside a CRLF line ending, or a NUL "
		      "(RFC 5321 2.3.8); not queued");
		reset_tx(s, NULL, NULL);
		return;
	}
	if (ak_random_hex(local, 12) != 0) {
		reply(s, 451, "4.3.0", "no random bytes");
		reset_tx(s, NULL, NULL);
		return;
	}
	default_campaign(s, def, sizeof(def));
	memset(&in, 0, sizeof(in));
	in.list = s->list;
	in.campaign = def;
	in.id_local = local;
	in.id_domain = srv->id_domain;
	in.marketing = strcmp(s->stream, "marketing") == 0;
	in.now_us = ak_time_now();
	ak_buf_init(&out, srv->c.max_message_size + 65536);
	if (smtpd_message(&out, s->msg.data ? s->msg.data : "", s->msg.len, &in, &res) != 0) {
		ak_log(AK_LOG_INFO, "smtp: %s: token %s: message refused: %s", s->peer, s->token,
		       res.why);
		reply(s, res.code, res.enh, "%s", res.why);
		reset_tx(s, res.campaign, res.message_id[0] ? res.message_id : NULL);
		ak_buf_free(&out);
		return;
	}
	p = pending_new(s, res.campaign, res.message_id);
	if (p == NULL) {
		reply(s, 451, "4.3.0", "out of memory");
		reset_tx(s, res.campaign, res.message_id);
		ak_buf_free(&out);
		return;
	}
	p->data = ak_buf_detach(&out, &p->len);
	p->s = s;
	if (post(srv, p) != 0) {
		reply(s, 451, "4.3.0", "the delivery engine cannot take it now");
		pending_free(p);
		reset_tx(s, NULL, NULL);
		return;
	}
	s->busy = p;
	reset_tx(s, NULL, NULL);
}

static void command(struct session *s, const char *line, size_t len)
{
	struct smtpd_cmd c;

	if (s->auth_wait) {
		auth_check(s, line, len);
		return;
	}
	if (smtpd_parse(line, len, &c) != 0) {
		reply(s, c.code, c.enh, "%s", c.why);
		error(s);
		return;
	}
	switch (c.verb) {
	case SMTPD_EHLO:
	case SMTPD_HELO:
		ehlo(s, &c);
		break;
	case SMTPD_STARTTLS:
		starttls(s);
		break;
	case SMTPD_AUTH:
		auth(s, &c);
		break;
	case SMTPD_MAIL:
		mail(s, &c);
		break;
	case SMTPD_RCPT:
		rcpt(s, &c);
		break;
	case SMTPD_DATA:
		data(s);
		break;
	case SMTPD_RSET:
		reset_tx(s, NULL, NULL);
		reply(s, 250, "2.0.0", "reset");
		break;
	case SMTPD_NOOP:
		reply(s, 250, "2.0.0", "ok");
		break;
	case SMTPD_QUIT:
		reply_close(s, 221, "2.0.0", "bye");
		break;
	default:
		reply(s, 502, "5.5.1", "command not implemented");
		error(s);
	}
}

/* Take the lines in the input buffer, one at a time, while the session
 * may act on them. */
static void process(struct session *s)
{
	char line[LINE_BUF + 1];

	while (!s->busy && !s->closing && !s->starttls) {
		struct evbuffer *in = bufferevent_get_input(s->bev);
		struct evbuffer_ptr eol;
		size_t eol_len = 0, len;

		eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
		if (eol.pos < 0) {
			size_t have = evbuffer_get_length(in);

			if (have <= LINE_BUF)
				break;
			/* A line longer than anything we read: drop what there
			 * is of it, and the rest when its end comes. */
			evbuffer_drain(in, have);
			if (!s->discard) {
				s->discard = 1;
				if (s->data)
					s->data_flags |= SMTPD_DATA_LONG_LINE;
				else {
					reply(s, 500, "5.5.6", "line too long");
					if (error(s) != 0)
						break;
				}
			}
			break;
		}
		len = (size_t)eol.pos;
		if (s->discard || len > LINE_BUF) {
			evbuffer_drain(in, len + eol_len);
			s->data_crlf = eol_len == 2;
			if (!s->discard) {
				if (s->data)
					s->data_flags |= SMTPD_DATA_LONG_LINE;
				else {
					reply(s, 500, "5.5.6", "line too long");
					error(s);
				}
			}
			s->discard = 0;
			continue;
		}
		evbuffer_remove(in, line, len);
		evbuffer_drain(in, eol_len);
		line[len] = '\0';
		if (s->data) {
			int crlf = eol_len == 2 && s->data_crlf;

			s->data_crlf = eol_len == 2;
			if (smtpd_data_line(&s->msg, line, len, crlf, s->srv->c.max_message_size,
			                    &s->data_flags) == 1)
				end_data(s);
			continue;
		}
		command(s, line, len);
	}
	/* Stopping: a session between transactions is let go. */
	if (s->srv->draining && !s->busy && !s->closing && !s->starttls && !s->mail && !s->data)
		reply_close(s, 421, "4.3.2", "akashi is shutting down; try again later");
}

/* ---- answers from the engine ---- */

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_server *srv = arg;
	struct pending *list, *p;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&srv->mu);
	list = srv->done;
	srv->done = NULL;
	pthread_mutex_unlock(&srv->mu);
	while ((p = list) != NULL) {
		struct session *s = p->s;

		list = p->next;
		if (p->rc != 0)
			ak_log(AK_LOG_ERR, "smtp: campaign %s from %s: %s", p->campaign, p->peer,
			       p->error);
		else if (p->nrcpts)
			ak_log(AK_LOG_INFO,
			       "smtp: %s: token %s: %s queued as %s for %zu recipient(s) "
			       "(campaign %s, %zu refused)",
			       p->peer, p->owner, p->message_id, p->qid, p->nrcpts, p->campaign,
			       p->nrefused);
		if (s) {
			s->busy = NULL;
			if (p->rc == 0)
				reply(s, 250, "2.0.0", "queued as %s", p->qid);
			else
				reply(s, 451, "4.3.0", "not queued: %s", p->error);
			process(s);
		}
		pending_free(p);
	}
}

/* ---- policies, stop ---- */

static void policies_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_server *srv = arg;
	struct policy_set *set = NULL;
	struct gate *g = NULL;

	(void)fd;
	(void)what;
	if (policy_load(&set, srv->repo, srv->ref) != 0) {
		ak_log(AK_LOG_WARN, "smtp: policies %s: %s (the gate keeps commit %.12s)",
		       srv->repo, ak_error_last(), srv->set->commit);
		return;
	}
	if (strcmp(set->commit, srv->set->commit) == 0 ||
	    gate_new(&g, evidence_db(srv->rd), set) != 0) {
		policy_set_free(set);
		return;
	}
	gate_free(srv->gate);
	policy_set_free(srv->set);
	srv->gate = g;
	srv->set = set;
	ak_log(AK_LOG_INFO, "smtp: the gate now uses policy commit %.12s", set->commit);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_server *srv = arg;
	struct session *s, *next;

	(void)fd;
	(void)what;
	/* Whoever is left had DRAIN_S: a transaction not done by now is cut
	 * (its client gets no 250 and sends again), a last reply that did
	 * not leave is dropped. */
	for (s = srv->sessions; s; s = next) {
		next = s->next;
		session_free(s);
	}
	event_base_loopexit(srv->base, NULL);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_server *srv = arg;
	struct session *s, *next;
	struct timeval tv = {DRAIN_S, 0};

	(void)fd;
	(void)what;
	srv->draining = 1;
	if (srv->lev) {
		evconnlistener_free(srv->lev);
		srv->lev = NULL;
	}
	if (srv->ev_policies)
		event_del(srv->ev_policies);
	for (s = srv->sessions; s; s = next) {
		next = s->next;
		process(s);
	}
	if (srv->ev_deadline)
		event_add(srv->ev_deadline, &tv);
	maybe_exit(srv);
}

static void *server_main(void *arg)
{
	struct smtp_server *srv = arg;

	event_base_loop(srv->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* ---- start, drain, free ---- */

int smtp_server_start(struct smtp_server **out, const struct smtp_server_conf *c)
{
	struct smtp_server *srv = calloc(1, sizeof(*srv));
	struct timeval tv = {POLICY_RELOAD_S, 0};
	int rc = 0;

	*out = NULL;
	if (srv == NULL) {
		close(c->fd);
		return ak_error_oom();
	}
	srv->c = *c;
	pthread_mutex_init(&srv->mu, NULL);
	snprintf(srv->store_dir, sizeof(srv->store_dir), "%s", c->store_dir);
	snprintf(srv->repo, sizeof(srv->repo), "%s", c->policy_repo);
	snprintf(srv->ref, sizeof(srv->ref), "%s", c->policy_ref ? c->policy_ref : "HEAD");
	snprintf(srv->hostname, sizeof(srv->hostname), "%s", c->hostname);
	snprintf(srv->id_domain, sizeof(srv->id_domain), "%s",
	         c->id_domain && *c->id_domain ? c->id_domain : c->hostname);
	srv->c.store_dir = srv->store_dir;
	srv->c.policy_repo = srv->repo;
	srv->c.policy_ref = srv->ref;
	srv->c.hostname = srv->hostname;
	srv->c.id_domain = srv->id_domain;
	if (srv->c.max_message_size < 1024)
		srv->c.max_message_size = 1024;
	if (srv->c.max_recipients < 1)
		srv->c.max_recipients = 1;
	if ((srv->base = event_base_new()) == NULL) {
		close(c->fd);
		rc = ak_error_set("smtp: libevent: cannot make an event loop");
		goto done;
	}
	srv->lev = evconnlistener_new(srv->base, accept_cb, srv,
	                              LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, c->fd);
	if (srv->lev == NULL) {
		close(c->fd);
		rc = ak_error_set("smtp: cannot listen");
		goto done;
	}
	if ((rc = evidence_open(&srv->rd, srv->store_dir, EVIDENCE_READONLY)) != 0 ||
	    (rc = token_checker_new(&srv->tokens, evidence_db(srv->rd))) != 0 ||
	    (rc = policy_load(&srv->set, srv->repo, srv->ref)) != 0 ||
	    (rc = gate_new(&srv->gate, evidence_db(srv->rd), srv->set)) != 0)
		goto done;
	srv->ev_stop = event_new(srv->base, -1, 0, stop_cb, srv);
	srv->ev_done = event_new(srv->base, -1, 0, done_cb, srv);
	srv->ev_deadline = event_new(srv->base, -1, 0, deadline_cb, srv);
	srv->ev_policies = event_new(srv->base, -1, EV_PERSIST, policies_cb, srv);
	if (!srv->ev_stop || !srv->ev_done || !srv->ev_deadline || !srv->ev_policies) {
		rc = ak_error_set("smtp: libevent: cannot make an event");
		goto done;
	}
	event_add(srv->ev_policies, &tv);
	if (pthread_create(&srv->thread, NULL, server_main, srv) != 0) {
		rc = ak_error_set("smtp: cannot start the gateway's thread");
		goto done;
	}
	srv->running = 1;
done:
	if (rc != 0) {
		smtp_server_free(srv);
		return rc;
	}
	*out = srv;
	return 0;
}

void smtp_server_drain(struct smtp_server *srv)
{
	if (srv == NULL || !srv->running)
		return;
	event_active(srv->ev_stop, 0, 0);
	pthread_join(srv->thread, NULL);
	srv->running = 0;
}

void smtp_server_free(struct smtp_server *srv)
{
	if (srv == NULL)
		return;
	smtp_server_drain(srv);
	/* The engine is gone: sessions still here (none after a drain) record
	 * nothing more. Then the answers that came after the loop stopped. */
	srv->c.engine = NULL;
	while (srv->sessions)
		session_free(srv->sessions);
	if (srv->ev_done)
		done_cb(-1, 0, srv);
	if (srv->lev)
		evconnlistener_free(srv->lev);
	if (srv->ev_stop)
		event_free(srv->ev_stop);
	if (srv->ev_done)
		event_free(srv->ev_done);
	if (srv->ev_deadline)
		event_free(srv->ev_deadline);
	if (srv->ev_policies)
		event_free(srv->ev_policies);
	gate_free(srv->gate);
	policy_set_free(srv->set);
	token_checker_free(srv->tokens);
	evidence_close(srv->rd);
	if (srv->base)
		event_base_free(srv->base);
	pthread_mutex_destroy(&srv->mu);
	free(srv);
}
