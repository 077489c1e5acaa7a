/*
 * auditd/alerts/sinks.c - where alerts go besides the log: a webhook,
 * syslog and e-mail, on the daemon's libevent loop.
 *
 * Each sink has its own bounded queue of alert entries (copied on send), so
 * a slow webhook does not hold syslog back; a full queue drops its oldest
 * waiting alert and counts it. The alert is an entry in the log either way:
 * a sink is a notification, not the record.
 *
 * Webhook: one POST at a time, in order. The body is the alert entry's
 * canonical JSON, signed as X-Akashi-Signature: sha256=<hex HMAC-SHA256 of
 * the body under webhook_secret>. A connection failure, a timeout (10 s),
 * 408, 429 or 5xx is tried again after backoff_ms, doubled each time up to
 * 5 minutes, until max_attempts tries were made; then the alert is given up
 * and counted as failed. Any other status is final (2xx sent, else failed).
 * When the daemon stops it calls alert_sinks_flush_now(): from then on
 * nothing waits for back-off, and each alert gets one more try (a retry
 * that was waiting goes at once; a try in flight gets one retry); what
 * fails then is given up. The daemon waits for alert_sinks_pending() to
 * reach 0 up to alerts.drain_timeout, and says how many were left.
 *
 * Syslog: RFC 5424, facility authpriv (10: security messages that may name
 * accounts and addresses, which Debian's rsyslog keeps in the root:adm
 * auth.log), severity critical->2 crit, high->3 err, medium->4 warning,
 * low->5 notice, info->6 info; APP-NAME akashi, MSGID the rule, no
 * structured data, MSG a UTF-8 BOM and the entry's JSON. udp and unix send
 * one message per datagram; tcp frames with octet counting (RFC 6587
 * 3.4.1) and reconnects with back-off, keeping the queue meanwhile.
 *
 * E-mail: each alert becomes a short mail to alerts.email from
 * alerts.email_from: Subject "[akashi] SEVERITY RULE KEY", a text naming
 * the rule, severity, key, times, the alert's seq and the `akashi log`
 * command that shows it, then the entry's canonical JSON. The sink only
 * writes the subject and text; the mailer the daemon passes in (serve.c)
 * hands them to the delivery engine, which writes the message, gates it
 * (a suppressed address is recorded `blocked`), signs, sends, retries and
 * records it like any send. "sent" counts mails the mailer accepted.
 * Without a mailer (the engine is off) alerts.email is refused, never
 * silently not sent.
 *
 * SECURITY: what leaves here is the alert entry the daemon wrote; its key
 * and summary quote outside input (account names, addresses), so every
 * control character of theirs becomes '?' in a mail's subject and text
 * (no header injection), and the engine refuses any that got through; nothing
 * from the network is parsed except an HTTP status line and headers, by
 * libevent, bounded by its limits (response bodies are ignored and capped).
 * Webhook TLS verifies the peer and its name (or IP) against the system
 * store or ca_file. The HMAC key is held only here and in the config.
 */
#include "auditd/alerts/alerts_int.h"

#include "lib/b64.h"
#include "lib/error.h"
#include "lib/hostport.h"
#include "lib/log.h"
#include "lib/timefmt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define WEBHOOK_TIMEOUT_S  10
#define BACKOFF_MAX_MS     (5 * 60 * 1000)
#define TCP_BACKOFF_MAX_MS (60 * 1000)
#define TCP_OUTPUT_MAX     (1 << 20)

struct item {
	char *data;
	size_t len;
	int sev;
	char rule[48];
};

/* A ring of waiting items. */
struct queue {
	struct item *v;
	size_t cap, head, n;
};

struct counts {
	uint64_t sent, failed, dropped, retries;
};

struct alert_sinks;

struct webhook {
	struct alert_sinks *s;
	char *host, *path;
	int port, https;
	char *secret;
	SSL_CTX *ssl;
	struct evhttp_connection *conn; /* of the try in flight, or the last one */
	struct event *timer;            /* the next try, or the next alert */
	struct item cur;                /* the alert being delivered (data NULL: none) */
	int in_flight;
	unsigned attempt;
	int tried_finally; /* cur had its try after alert_sinks_flush_now() */
	struct queue q;
	struct counts c;
};

enum { SYSLOG_UDP, SYSLOG_TCP, SYSLOG_UNIX };

struct syslog_sink {
	struct alert_sinks *s;
	int type;
	int fd;                /* udp, unix */
	struct sockaddr_un un; /* unix */
	char *host;            /* tcp */
	int port;
	struct bufferevent *bev;
	int connected;
	unsigned backoff_ms;
	struct event *timer; /* reconnect */
	char hostname[256];
	struct queue q;
	struct counts c;
};

/* E-mail: each alert written as a short mail and handed to the mailer. */
struct email_sink {
	struct alert_sinks *s;
	char *to, *from;
	const char *domain; /* of from, for Message-IDs */
	alert_mail_fn fn;
	void *ctx;
	struct queue q;
	struct counts c;
};

struct alert_sinks {
	struct event_base *base;
	struct evdns_base *dns;
	pthread_mutex_t lock; /* queues and counts: send() may run on another thread */
	struct event *wake;
	int min_sev;
	size_t queue_max;
	unsigned max_attempts, backoff_ms;
	int final; /* alert_sinks_flush_now() was called: no more back-off (loop thread) */
	uint64_t below_min;
	struct webhook *wh;
	struct syslog_sink *sl;
	struct email_sink *em;
};

/* ---- queues ---- */

static void item_clear(struct item *it)
{
	free(it->data);
	memset(it, 0, sizeof(*it));
}

/* Add a copy; when full, the oldest waiting item goes (1 is returned). */
static int queue_push(struct queue *q, size_t max, const struct item *it, int *dropped)
{
	struct item copy = *it;

	*dropped = 0;
	if (q->v == NULL && (q->v = calloc(max, sizeof(*q->v))) == NULL)
		return ak_error_oom();
	q->cap = max;
	if ((copy.data = malloc(it->len)) == NULL)
		return ak_error_oom();
	memcpy(copy.data, it->data, it->len);
	if (q->n == q->cap) {
		item_clear(&q->v[q->head]);
		q->head = (q->head + 1) % q->cap;
		q->n--;
		*dropped = 1;
	}
	q->v[(q->head + q->n) % q->cap] = copy;
	q->n++;
	return 0;
}

static int queue_pop(struct queue *q, struct item *out)
{
	if (q->n == 0)
		return 0;
	*out = q->v[q->head];
	memset(&q->v[q->head], 0, sizeof(*out));
	q->head = (q->head + 1) % q->cap;
	q->n--;
	return 1;
}

/* queue_pop() under the lock (alert_sinks_send() may run on another
 * thread). */
static int take(struct alert_sinks *s, struct queue *q, struct item *out)
{
	int have;

	pthread_mutex_lock(&s->lock);
	have = queue_pop(q, out);
	pthread_mutex_unlock(&s->lock);
	return have;
}

static void queue_free(struct queue *q)
{
	struct item it;

	while (queue_pop(q, &it))
		item_clear(&it);
	free(q->v);
	memset(q, 0, sizeof(*q));
}

static int severity_index(const char *s)
{
	int i;

	for (i = 0; s && alert_severities[i]; i++)
		if (strcmp(alert_severities[i], s) == 0)
			return i;
	return -1;
}

/* ---- webhook ---- */

static void webhook_next(evutil_socket_t fd, short what, void *arg);

static void webhook_schedule(struct webhook *w, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(w->timer, &tv);
}

/* Called with the result of one try. */
static void webhook_done(struct evhttp_request *req, void *arg)
{
	struct webhook *w = arg;
	struct alert_sinks *s = w->s;
	int code = req ? evhttp_request_get_response_code(req) : 0;
	int retry = code == 0 || code == 408 || code == 429 || code >= 500;

	/* Stopping: each alert gets one try after the drain began, at once. */
	if (s->final && w->tried_finally)
		retry = 0;

	w->in_flight = 0;
	pthread_mutex_lock(&s->lock);
	if (code >= 200 && code < 300) {
		w->c.sent++;
		item_clear(&w->cur);
	} else if (retry && w->attempt + 1 < s->max_attempts) {
		unsigned ms = s->backoff_ms;
		unsigned k;

		for (k = 0; k < w->attempt && ms < BACKOFF_MAX_MS; k++)
			ms *= 2;
		if (ms > BACKOFF_MAX_MS)
			ms = BACKOFF_MAX_MS;
		w->attempt++;
		w->c.retries++;
		pthread_mutex_unlock(&s->lock);
		webhook_schedule(w, s->final ? 0 : ms);
		return;
	} else {
		w->c.failed++;
		if (code)
			ak_log(AK_LOG_WARN,
			       "alerts: webhook: %s alert not delivered after %u tries (HTTP %d)",
			       w->cur.rule, w->attempt + 1, code);
		else
			ak_log(AK_LOG_WARN,
			       "alerts: webhook: %s alert not delivered after %u tries (no answer)",
			       w->cur.rule, w->attempt + 1);
		item_clear(&w->cur);
	}
	pthread_mutex_unlock(&s->lock);
	/* Never free the connection inside its own callback: the timer does. */
	webhook_schedule(w, 0);
}

static void sign(const struct webhook *w, const struct item *it, char *hex)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	HMAC(EVP_sha256(), w->secret, (int)strlen(w->secret), (const unsigned char *)it->data,
	     it->len, mac, &n);
	ak_hex_encode(hex, mac, n);
}

static struct bufferevent *tls_bev(struct webhook *w)
{
	struct alert_sinks *s = w->s;
	unsigned char addr[16];
	struct bufferevent *bev;
	SSL *ssl = SSL_new(w->ssl);

	if (ssl == NULL)
		return NULL;
	if (inet_pton(AF_INET, w->host, addr) == 1 || inet_pton(AF_INET6, w->host, addr) == 1) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), w->host);
	} else {
		SSL_set_tlsext_host_name(ssl, w->host);
		SSL_set1_host(ssl, w->host);
	}
	bev = bufferevent_openssl_socket_new(s->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
	                                     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL)
		SSL_free(ssl);
	else
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* One try of w->cur. */
static void webhook_try(struct webhook *w)
{
	struct alert_sinks *s = w->s;
	struct evhttp_request *req = NULL;
	struct evkeyvalq *h;
	struct bufferevent *bev = NULL;
	char hex[2 * EVP_MAX_MD_SIZE + 1], sig[2 * EVP_MAX_MD_SIZE + 16], host[300];

	if (w->conn) {
		evhttp_connection_free(w->conn);
		w->conn = NULL;
	}
	if (s->final)
		w->tried_finally = 1;
	if (w->https && (bev = tls_bev(w)) == NULL)
		goto failed;
	w->conn = evhttp_connection_base_bufferevent_new(s->base, s->dns, bev, w->host,
	                                                 (unsigned short)w->port);
	if (w->conn == NULL) {
		if (bev)
			bufferevent_free(bev);
		goto failed;
	}
	evhttp_connection_set_timeout(w->conn, WEBHOOK_TIMEOUT_S);
	evhttp_connection_set_retries(w->conn, 0);
	if ((req = evhttp_request_new(webhook_done, w)) == NULL)
		goto failed;
	h = evhttp_request_get_output_headers(req);
	sign(w, &w->cur, hex);
	snprintf(sig, sizeof(sig), "sha256=%s", hex);
	if (w->port == (w->https ? 443 : 80))
		snprintf(host, sizeof(host), strchr(w->host, ':') ? "[%s]" : "%s", w->host);
	else
		snprintf(host, sizeof(host), strchr(w->host, ':') ? "[%s]:%d" : "%s:%d", w->host,
		         w->port);
	if (evhttp_add_header(h, "Host", host) != 0 ||
	    evhttp_add_header(h, "Content-Type", "application/json") != 0 ||
	    evhttp_add_header(h, "User-Agent", "akashi") != 0 ||
	    evhttp_add_header(h, "X-Akashi-Signature", sig) != 0 ||
	    evhttp_add_header(h, "Connection", "close") != 0 ||
	    evbuffer_add(evhttp_request_get_output_buffer(req), w->cur.data, w->cur.len) != 0) {
		evhttp_request_free(req);
		goto failed;
	}
	w->in_flight = 1;
	/* A refused connection comes back through webhook_done; only an
	 * internal failure returns -1 without it. */
	if (evhttp_make_request(w->conn, req, EVHTTP_REQ_POST, w->path) != 0 && w->in_flight)
		goto failed;
	return;
failed:
	/* Out of memory or the like: the same path as a refused connection. */
	w->in_flight = 1;
	webhook_done(NULL, w);
}

static void webhook_next(evutil_socket_t fd, short what, void *arg)
{
	struct webhook *w = arg;
	struct alert_sinks *s = w->s;

	(void)fd;
	(void)what;
	if (w->in_flight)
		return;
	if (w->cur.data == NULL) {
		if (!take(s, &w->q, &w->cur)) {
			if (w->conn) {
				evhttp_connection_free(w->conn);
				w->conn = NULL;
			}
			return;
		}
		w->attempt = 0;
		w->tried_finally = 0;
	}
	webhook_try(w);
}

static int webhook_new(struct alert_sinks *s, const struct alert_sinks_config *cfg,
                       struct webhook **out)
{
	struct evhttp_uri *uri = evhttp_uri_parse(cfg->webhook_url);
	struct webhook *w = calloc(1, sizeof(*w));
	const char *scheme = NULL, *host = NULL, *path, *query;
	size_t n;
	int rc = 0;

	*out = w;
	if (w == NULL)
		rc = ak_error_oom();
	else if (uri == NULL || (scheme = evhttp_uri_get_scheme(uri)) == NULL ||
	         (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) ||
	         (host = evhttp_uri_get_host(uri)) == NULL || !*host ||
	         evhttp_uri_get_userinfo(uri) != NULL)
		rc = ak_error_code(AK_EINVALID, "alerts.webhook: '%.200s' is not an http(s) URL",
		                   cfg->webhook_url);
	else if (cfg->webhook_secret == NULL || !*cfg->webhook_secret)
		rc = ak_error_code(AK_EINVALID, "alerts.webhook_secret must be set when "
		                                "alerts.webhook is (receivers check "
		                                "X-Akashi-Signature)");
	if (rc != 0)
		goto done;
	w->s = s;
	w->https = strcmp(scheme, "https") == 0;
	w->port = evhttp_uri_get_port(uri);
	if (w->port <= 0)
		w->port = w->https ? 443 : 80;
	path = evhttp_uri_get_path(uri);
	query = evhttp_uri_get_query(uri);
	n = strlen(path ? path : "") + strlen(query ? query : "") + 3;
	if ((w->host = strdup(host)) == NULL || (w->secret = strdup(cfg->webhook_secret)) == NULL ||
	    (w->path = malloc(n)) == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	snprintf(w->path, n, "%s%s%s", path && *path ? path : "/", query ? "?" : "",
	         query ? query : "");
	if ((w->timer = evtimer_new(s->base, webhook_next, w)) == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	if (w->https) {
		if ((w->ssl = SSL_CTX_new(TLS_client_method())) == NULL) {
			rc = ak_error_set("alerts.webhook: cannot set up TLS");
			goto done;
		}
		SSL_CTX_set_min_proto_version(w->ssl, TLS1_2_VERSION);
		SSL_CTX_set_verify(w->ssl, SSL_VERIFY_PEER, NULL);
		if (cfg->ca_file && *cfg->ca_file
		            ? SSL_CTX_load_verify_locations(w->ssl, cfg->ca_file, NULL) != 1
		            : SSL_CTX_set_default_verify_paths(w->ssl) != 1) {
			rc = ak_error_set("alerts.webhook: cannot read the CA certificates%s%s",
			                  cfg->ca_file ? " in " : "",
			                  cfg->ca_file ? cfg->ca_file : "");
			ERR_clear_error();
			goto done;
		}
	}
done:
	if (uri)
		evhttp_uri_free(uri);
	return rc;
}

static void webhook_free(struct webhook *w)
{
	if (w == NULL)
		return;
	if (w->conn)
		evhttp_connection_free(w->conn); /* cancels a request in flight */
	if (w->timer)
		event_free(w->timer);
	if (w->ssl)
		SSL_CTX_free(w->ssl);
	item_clear(&w->cur);
	queue_free(&w->q);
	free(w->host);
	free(w->path);
	if (w->secret)
		OPENSSL_cleanse(w->secret, strlen(w->secret));
	free(w->secret);
	free(w);
}

/* ---- syslog ---- */

static const int syslog_sev[] = {6, 5, 4, 3, 2}; /* info .. critical */
#define FACILITY_AUTHPRIV 10

/* The RFC 5424 message for it, into out. */
static int syslog_format(const struct syslog_sink *l, const struct item *it, struct ak_buf *out)
{
	char ts[AK_TIME_MAX], msgid[33];
	size_t i, n = 0;

	ak_time_format(ts, ak_time_now(), AK_TIME_MICRO);
	for (i = 0; it->rule[i] && n < 32; i++)
		if (it->rule[i] > 32 && it->rule[i] < 127)
			msgid[n++] = it->rule[i];
	msgid[n] = '\0';
	return ak_buf_printf(out, "<%d>1 %s %s akashi %ld %s - \xef\xbb\xbf",
	                     FACILITY_AUTHPRIV * 8 + syslog_sev[it->sev], ts, l->hostname,
	                     (long)getpid(), n ? msgid : "-") ||
	       ak_buf_append(out, it->data, it->len);
}

static void syslog_flush(struct syslog_sink *l);

static void tcp_connect(struct syslog_sink *l);

static void tcp_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tcp_connect(arg);
}

static void tcp_lost(struct syslog_sink *l)
{
	struct timeval tv;

	if (l->bev)
		bufferevent_free(l->bev);
	l->bev = NULL;
	l->connected = 0;
	l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : l->s->backoff_ms;
	if (l->backoff_ms > TCP_BACKOFF_MAX_MS)
		l->backoff_ms = TCP_BACKOFF_MAX_MS;
	tv.tv_sec = l->backoff_ms / 1000;
	tv.tv_usec = (l->backoff_ms % 1000) * 1000;
	evtimer_add(l->timer, &tv);
}

static void tcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct syslog_sink *l = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		l->connected = 1;
		l->backoff_ms = 0;
		syslog_flush(l);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		if (l->connected)
			ak_log(AK_LOG_WARN, "alerts: syslog: connection to %s:%d lost", l->host,
			       l->port);
		tcp_lost(l);
	}
}

static void tcp_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	/* A syslog server says nothing; whatever comes is dropped. */
	evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

static void tcp_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	syslog_flush(arg);
}

static void tcp_connect(struct syslog_sink *l)
{
	if (l->bev)
		return;
	l->bev = bufferevent_socket_new(l->s->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (l->bev == NULL) {
		tcp_lost(l);
		return;
	}
	bufferevent_setcb(l->bev, tcp_read, tcp_write, tcp_event, l);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect_hostname(l->bev, l->s->dns, AF_UNSPEC, l->host, l->port) !=
	    0)
		tcp_lost(l);
}

/* Send what waits, as far as the transport takes it now. */
static void syslog_flush(struct syslog_sink *l)
{
	struct alert_sinks *s = l->s;
	struct ak_buf msg = AK_BUF_INIT(1 << 20);
	struct item it;

	for (;;) {
		int ok = 0;

		if (l->type == SYSLOG_TCP &&
		    (!l->connected ||
		     evbuffer_get_length(bufferevent_get_output(l->bev)) > TCP_OUTPUT_MAX)) {
			if (!l->bev && !event_pending(l->timer, EV_TIMEOUT, NULL))
				tcp_connect(l);
			break;
		}
		if (!take(s, &l->q, &it))
			break;
		ak_buf_reset(&msg);
		if (syslog_format(l, &it, &msg) == 0) {
			if (l->type == SYSLOG_TCP) {
				ok = evbuffer_add_printf(bufferevent_get_output(l->bev), "%zu ",
				                         msg.len) > 0 &&
				     bufferevent_write(l->bev, msg.data, msg.len) == 0;
			} else {
				if (l->type == SYSLOG_UNIX && l->fd < 0) {
					l->fd = socket(AF_UNIX,
					               SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
					               0);
					if (l->fd >= 0 && connect(l->fd, (struct sockaddr *)&l->un,
					                          sizeof(l->un)) != 0) {
						close(l->fd);
						l->fd = -1;
					}
				}
				ok = l->fd >= 0 &&
				     send(l->fd, msg.data, msg.len, MSG_DONTWAIT | MSG_NOSIGNAL) ==
				             (ssize_t)msg.len;
				if (!ok && l->type == SYSLOG_UNIX && l->fd >= 0) {
					close(l->fd); /* the log daemon may have restarted */
					l->fd = -1;
				}
			}
		}
		pthread_mutex_lock(&s->lock);
		if (ok)
			l->c.sent++;
		else
			l->c.failed++;
		pthread_mutex_unlock(&s->lock);
		item_clear(&it);
	}
	ak_buf_free(&msg);
}

/* "udp:HOST:PORT", "tcp:HOST:PORT" (HOST may be [v6]), "unix:/dev/log". */
static int syslog_new(struct alert_sinks *s, const char *spec, struct syslog_sink **out)
{
	struct syslog_sink *l = calloc(1, sizeof(*l));
	const char *rest;
	char host[256], port[16];
	size_t i;
	int rc = 0;

	*out = l;
	if (l == NULL)
		return ak_error_oom();
	l->s = s;
	l->fd = -1;
	if (gethostname(l->hostname, sizeof(l->hostname) - 1) != 0 || !l->hostname[0])
		snprintf(l->hostname, sizeof(l->hostname), "-");
	for (i = 0; l->hostname[i]; i++)
		if (l->hostname[i] <= 32 || l->hostname[i] >= 127)
			l->hostname[i] = '-';
	if (strncmp(spec, "unix:", 5) == 0) {
		l->type = SYSLOG_UNIX;
		if (!spec[5] || strlen(spec + 5) >= sizeof(l->un.sun_path))
			goto bad;
		l->un.sun_family = AF_UNIX;
		memcpy(l->un.sun_path, spec + 5, strlen(spec + 5) + 1);
		return 0;
	}
	if (strncmp(spec, "udp:", 4) == 0)
		l->type = SYSLOG_UDP;
	else if (strncmp(spec, "tcp:", 4) == 0)
		l->type = SYSLOG_TCP;
	else
		goto bad;
	rest = spec + 4;
	if (ak_hostport_split(rest, host, sizeof(host), -1, &l->port) != 0 || l->port < 1)
		goto bad;
	snprintf(port, sizeof(port), "%d", l->port);
	if (l->type == SYSLOG_TCP) {
		if ((l->host = strdup(host)) == NULL)
			return ak_error_oom();
		if ((l->timer = evtimer_new(s->base, tcp_retry, l)) == NULL)
			return ak_error_oom();
		return 0;
	} else {
		/* Resolved once, here: sending must never wait for DNS. */
		struct addrinfo hints = {0}, *ai = NULL;
		int g;

		hints.ai_socktype = SOCK_DGRAM;
		if ((g = getaddrinfo(host, port, &hints, &ai)) != 0)
			return ak_error_code(AK_EINVALID, "alerts.syslog: %s: %s", host,
			                     gai_strerror(g));
		l->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (l->fd < 0 || connect(l->fd, ai->ai_addr, ai->ai_addrlen) != 0)
			rc = ak_error_set("alerts.syslog: %s: %s", spec, strerror(errno));
		freeaddrinfo(ai);
		return rc;
	}
bad:
	return ak_error_code(AK_EINVALID,
	                     "alerts.syslog: '%.200s' is not udp:HOST:PORT, tcp:HOST:PORT or "
	                     "unix:PATH",
	                     spec);
}

static void syslog_free(struct syslog_sink *l)
{
	if (l == NULL)
		return;
	if (l->bev)
		bufferevent_free(l->bev);
	if (l->timer)
		event_free(l->timer);
	if (l->fd >= 0)
		close(l->fd);
	queue_free(&l->q);
	free(l->host);
	free(l);
}

/* ---- e-mail ---- */

#define SUBJECT_KEY_MAX 64

/* Append s to out with every control character (CR and LF above all: a
 * key or summary is whatever the logs said) as '?', cut to at most max
 * bytes on a UTF-8 character boundary, "..." marking the cut. */
static int put_clean(struct ak_buf *out, const char *s, size_t max)
{
	size_t n = (size_t)alerts_cut(s, max), i;
	int cut = s[n] != '\0', rc = 0;

	for (i = 0; i < n && rc == 0; i++)
		rc = ak_buf_putc(out, (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i]);
	if (rc == 0 && cut)
		rc = ak_buf_puts(out, "...");
	return rc;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : "";
}

/* The subject and the text of the mail for one alert entry. */
static int email_text(const struct item *it, json_t *e, struct ak_buf *subject, struct ak_buf *text)
{
	json_t *b = json_object_get(e, "body"), *refs = json_object_get(b, "refs");
	json_int_t seq = json_integer_value(json_object_get(e, "seq"));
	json_t *w = json_object_get(b, "window");
	size_t i, nrefs = json_array_size(refs);
	int rc;

	if ((rc = ak_buf_printf(subject, "[akashi] %s %s ", alert_severities[it->sev], it->rule)) ||
	    (rc = put_clean(subject, jstr(b, "key"), SUBJECT_KEY_MAX)))
		return rc;
	if ((rc = ak_buf_puts(text, "akashi raised an alert: ")) ||
	    (rc = put_clean(text, jstr(b, "summary"), 512)) ||
	    (rc = ak_buf_printf(text, "\n\n  rule       %s\n  severity   %s\n  key        ",
	                        it->rule, alert_severities[it->sev])) ||
	    (rc = put_clean(text, jstr(b, "key"), 512)) ||
	    (rc = ak_buf_printf(text,
	                        "\n  time       %s (of the event that completed it)\n"
	                        "  window     %s to %s\n"
	                        "  alert seq  %lld (recorded %s)\n"
	                        "  refs       ",
	                        jstr(e, "time"), jstr(w, "from"), jstr(w, "to"), (long long)seq,
	                        jstr(e, "received"))))
		return rc;
	for (i = 0; i < nrefs && rc == 0; i++)
		rc = ak_buf_printf(text, "%s%lld", i ? (i % 10 ? ", " : ",\n             ") : "",
		                   (long long)json_integer_value(json_array_get(refs, i)));
	if (rc == 0)
		rc = ak_buf_printf(text,
		                   "%s\n\nThe alert entry:\n\n  akashi log --from %lld --to %lld\n",
		                   nrefs ? " (the entries behind it)" : "(none)", (long long)seq,
		                   (long long)seq);
	if (rc == 0 && nrefs)
		rc = ak_buf_printf(
		        text, "\nThe entries behind it:\n\n  akashi log --from %lld --to %lld\n",
		        (long long)json_integer_value(json_array_get(refs, 0)),
		        (long long)json_integer_value(json_array_get(refs, nrefs - 1)));
	if (rc == 0)
		rc = ak_buf_puts(text,
		                 "\nThis mail is a notification; the record is the alert entry "
		                 "in the log.\nIts canonical JSON, as hashed there:\n\n");
	if (rc == 0)
		rc = ak_buf_append(text, it->data, it->len);
	if (rc == 0)
		rc = ak_buf_putc(text, '\n');
	return rc;
}

/* Hand what waits to the mailer (it queues; it does not send). */
static void email_flush(struct email_sink *m)
{
	struct alert_sinks *s = m->s;
	struct ak_buf subject = AK_BUF_INIT(4096), text = AK_BUF_INIT(1 << 20);
	struct item it;

	for (;;) {
		struct alert_mail am;
		json_t *e;
		char hex[17], mid[300];
		int rc;

		if (!take(s, &m->q, &it))
			break;
		ak_buf_reset(&subject);
		ak_buf_reset(&text);
		memset(&am, 0, sizeof(am));
		e = json_loadb(it.data, it.len, 0, NULL);
		if (!json_is_object(e))
			rc = ak_error_code(AK_EINVALID, "the alert entry is not a JSON object");
		else if ((rc = email_text(&it, e, &subject, &text)) == 0 &&
		         (rc = ak_random_hex(hex, 8)) == 0) {
			am.seq = (int64_t)json_integer_value(json_object_get(e, "seq"));
			snprintf(mid, sizeof(mid), "<akashi-alert-%lld.%s@%s>", (long long)am.seq,
			         hex, m->domain);
			am.from = m->from;
			am.to = m->to;
			am.subject = subject.data;
			am.text = text.data;
			am.text_len = text.len;
			am.message_id = mid;
			am.rule = it.rule;
			rc = m->fn(m->ctx, &am);
		}
		if (rc != 0)
			ak_log(AK_LOG_WARN,
			       "alerts: email: %s alert (seq %lld) not mailed to %s: %s", it.rule,
			       (long long)am.seq, m->to, ak_error_last());
		json_decref(e);
		pthread_mutex_lock(&s->lock);
		if (rc == 0)
			m->c.sent++;
		else
			m->c.failed++;
		pthread_mutex_unlock(&s->lock);
		item_clear(&it);
	}
	ak_buf_free(&subject);
	ak_buf_free(&text);
}

/* Fit to stand alone in a header: one '@', no space, control character
 * or mailbox punctuation. The mailer checks it fully. */
static int plain_address(const char *a)
{
	const char *at = a ? strchr(a, '@') : NULL;
	size_t i;

	if (at == NULL || at == a || !at[1] || strchr(at + 1, '@') || strlen(a) > 254)
		return 0;
	for (i = 0; a[i]; i++)
		if ((unsigned char)a[i] <= ' ' || (unsigned char)a[i] >= 0x7f ||
		    strchr("<>()[],;:\"\\", a[i]))
			return 0;
	return 1;
}

static int email_new(struct alert_sinks *s, const struct alert_sinks_config *cfg,
                     struct email_sink **out)
{
	struct email_sink *m;

	*out = NULL;
	if (cfg->mail == NULL)
		return ak_error_code(AK_EINVALID,
		                     "alerts.email needs the delivery engine, which is off: "
		                     "alerts are not mailed (unset alerts.email, or see why the "
		                     "engine is off)");
	if (!plain_address(cfg->email))
		return ak_error_code(AK_EINVALID, "alerts.email: '%.200s' is not an e-mail address",
		                     cfg->email);
	if (!plain_address(cfg->email_from))
		return ak_error_code(AK_EINVALID,
		                     "alerts.email_from: '%.200s' is not an e-mail address",
		                     cfg->email_from ? cfg->email_from : "");
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return ak_error_oom();
	*out = m;
	m->s = s;
	m->fn = cfg->mail;
	m->ctx = cfg->mail_ctx;
	if ((m->to = strdup(cfg->email)) == NULL || (m->from = strdup(cfg->email_from)) == NULL)
		return ak_error_oom();
	m->domain = strchr(m->from, '@') + 1;
	return 0;
}

static void email_free(struct email_sink *m)
{
	if (m == NULL)
		return;
	queue_free(&m->q);
	free(m->to);
	free(m->from);
	free(m);
}

/* ---- the sinks together ---- */

static void wake(evutil_socket_t fd, short what, void *arg)
{
	struct alert_sinks *s = arg;

	(void)fd;
	(void)what;
	if (s->wh && !s->wh->in_flight && s->wh->cur.data == NULL)
		webhook_next(-1, 0, s->wh);
	if (s->sl)
		syslog_flush(s->sl);
	if (s->em)
		email_flush(s->em);
}

int alert_sinks_new(struct alert_sinks **out, struct event_base *base,
                    const struct alert_sinks_config *cfg)
{
	struct alert_sinks *s = calloc(1, sizeof(*s));
	int rc = 0;

	*out = NULL;
	if (s == NULL)
		return ak_error_oom();
	pthread_mutex_init(&s->lock, NULL);
	s->base = base;
	s->queue_max = cfg->queue_max ? cfg->queue_max : 1024;
	s->max_attempts = cfg->max_attempts ? cfg->max_attempts : 8;
	s->backoff_ms = cfg->backoff_ms ? cfg->backoff_ms : 1000;
	s->min_sev = severity_index(cfg->min_severity ? cfg->min_severity : "low");
	if (s->min_sev < 0) {
		rc = ak_error_code(AK_EINVALID,
		                   "alerts.min_severity: '%.40s' is not one of info, low, medium, "
		                   "high, critical",
		                   cfg->min_severity);
		goto done;
	}
	if ((s->wake = event_new(base, -1, 0, wake, s)) == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	if (((cfg->webhook_url && *cfg->webhook_url) ||
	     (cfg->syslog && strncmp(cfg->syslog, "tcp:", 4) == 0)) &&
	    (s->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL &&
	    (s->dns = evdns_base_new(base, 0)) == NULL) {
		rc = ak_error_set("alerts: cannot set up the DNS resolver");
		goto done;
	}
	if (cfg->webhook_url && *cfg->webhook_url && (rc = webhook_new(s, cfg, &s->wh)) != 0)
		goto done;
	if (cfg->syslog && *cfg->syslog && (rc = syslog_new(s, cfg->syslog, &s->sl)) != 0)
		goto done;
	if (cfg->email && *cfg->email && (rc = email_new(s, cfg, &s->em)) != 0)
		goto done;
	*out = s;
	s = NULL;
done:
	alert_sinks_free(s);
	return rc;
}

/* Count a drop; say so in the log the first time and every 1000th. */
static void dropped_one(const char *sink, struct counts *c)
{
	if (c->dropped++ % 1000 == 0)
		ak_log(AK_LOG_WARN,
		       "alerts: %s: queue full, oldest waiting alert dropped (%llu so far; each is "
		       "in the log as an entry)",
		       sink, (unsigned long long)c->dropped);
}

int alert_sinks_send(struct alert_sinks *s, const char *entry, size_t len, const char *rule,
                     const char *severity)
{
	struct item it = {0};
	int dropped, rc = 0;

	it.sev = severity_index(severity);
	if (it.sev < 0)
		return ak_error_code(AK_EINVALID, "alert severity '%.20s' is not known",
		                     severity ? severity : "");
	it.data = (char *)entry;
	it.len = len;
	snprintf(it.rule, sizeof(it.rule), "%s", rule ? rule : "");
	pthread_mutex_lock(&s->lock);
	if (it.sev < s->min_sev) {
		s->below_min++;
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	if (s->wh && (rc = queue_push(&s->wh->q, s->queue_max, &it, &dropped)) == 0 && dropped)
		dropped_one("webhook", &s->wh->c);
	if (rc == 0 && s->sl && (rc = queue_push(&s->sl->q, s->queue_max, &it, &dropped)) == 0 &&
	    dropped)
		dropped_one("syslog", &s->sl->c);
	if (rc == 0 && s->em && (rc = queue_push(&s->em->q, s->queue_max, &it, &dropped)) == 0 &&
	    dropped)
		dropped_one("email", &s->em->c);
	pthread_mutex_unlock(&s->lock);
	if (s->wh || s->sl || s->em)
		event_active(s->wake, EV_TIMEOUT, 0);
	return rc;
}

size_t alert_sinks_pending(const struct alert_sinks *s)
{
	struct alert_sinks *m = (struct alert_sinks *)s; /* the lock only */
	size_t n = 0;

	pthread_mutex_lock(&m->lock);
	if (s->wh)
		n += s->wh->q.n + (s->wh->cur.data != NULL);
	if (s->em)
		n += s->em->q.n;
	pthread_mutex_unlock(&m->lock);
	return n;
}

void alert_sinks_flush_now(struct alert_sinks *s)
{
	s->final = 1;
	if (s->wh && !s->wh->in_flight) {
		/* A retry waiting for its back-off goes now; so does the next
		 * alert in the queue. */
		evtimer_del(s->wh->timer);
		webhook_schedule(s->wh, 0);
	}
	if (s->sl)
		syslog_flush(s->sl);
	if (s->em)
		email_flush(s->em);
}

static json_t *counts_json(const struct counts *c, size_t waiting)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I}", "sent", (json_int_t)c->sent, "failed",
	                 (json_int_t)c->failed, "dropped", (json_int_t)c->dropped, "retries",
	                 (json_int_t)c->retries, "queued", (json_int_t)waiting);
}

void alert_sinks_stats(const struct alert_sinks *s, json_t *into)
{
	struct alert_sinks *m = (struct alert_sinks *)s; /* the lock only */

	pthread_mutex_lock(&m->lock);
	if (s->wh)
		json_object_set_new(into, "webhook",
		                    counts_json(&s->wh->c, s->wh->q.n + (s->wh->cur.data != NULL)));
	if (s->sl)
		json_object_set_new(into, "syslog", counts_json(&s->sl->c, s->sl->q.n));
	if (s->em)
		json_object_set_new(into, "email", counts_json(&s->em->c, s->em->q.n));
	json_object_set_new(into, "below_min_severity", json_integer((json_int_t)s->below_min));
	pthread_mutex_unlock(&m->lock);
}

void alert_sinks_free(struct alert_sinks *s)
{
	if (s == NULL)
		return;
	webhook_free(s->wh);
	syslog_free(s->sl);
	email_free(s->em);
	if (s->wake)
		event_free(s->wake);
	if (s->dns)
		evdns_base_free(s->dns, 0);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
