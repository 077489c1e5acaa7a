/*
 * auditd/http.c - the daemon's HTTP API (docs/API.md): routing, bearer
 * token authentication and roles, per-token rate limits, and the routes.
 *
 * Every route answers on the loop thread. Reads go to the loop's own
 * read-only connection (d->rd); nothing here writes to the store except
 * through the writer: POST /v1/ingest and POST /v1/unsubscribe check and
 * canonicalise their records here (the ingest pipeline in memory), queue
 * them, and answer from the writer's done callback, i.e. only once they
 * are durable. GET /v1/entries streams in chunks, one chunk per write
 * completion, so a million entries never block the loop.
 *
 * SECURITY: this file takes requests from the network. evhttp parses the
 * request line and headers and caps the body (api.max_body, 413 above);
 * everything else is parsed by http_parse.c (fuzzed) or by the ingest
 * pipeline, which bounds every record. Every route but /healthz and the
 * one-click unsubscribe needs a valid bearer token of the right role, and
 * tokens are rate limited. The unsubscribe route trusts nothing but the
 * HMAC of its token (auditd/unsubscribe.c), never unsubscribes on GET,
 * escapes everything it echoes into HTML, and cannot be used to flood the
 * log: a POST within unsubscribe.repeat_window of the opt-out in force
 * appends nothing (see h_unsub_post). SQL is only ever run with bound
 * parameters; full-text queries go through evidence_search(), which
 * turns FTS5 syntax errors into 400s. Error messages name what is wrong
 * with the request, never paths or internals of the host.
 */
#include "auditd/serve.h"

#include "auditd/http_parse.h"
#include "auditd/ingest/kinds.h"
#include "auditd/records.h"
#include "auditd/unsubscribe.h"
#include "lib/b64.h"
#include "lib/ascii.h"
#include "lib/error.h"
#include "lib/hostport.h"
#include "lib/jcs.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "policies/state.h"

#include <assert.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REJECTS_SHOWN 20
/* The User-Agent kept in a one-click opt-out's proof, bytes. */
#define UA_MAX            256
#define SCAN_WINDOW       20000
#define PARAM_MAX         1024

/* A request being handled. */
struct hctx {
	struct daemon *d;
	struct evhttp_request *req;
	const char *route;
	int64_t t0;
	struct token_info tok;
	int authed;
	const char *path;  /* raw (percent-encoded) path */
	const char *query; /* raw query string, or "" */
	char ip[64];
};

/* ---- replies ---- */

static void count(struct hctx *c, int code)
{
	char labels[96];

	snprintf(labels, sizeof(labels), "route=\"%s\",code=\"%d\"", c->route, code);
	metrics_add(c->d->metrics, M_HTTP_REQUESTS, labels, 1);
}

static const char *reason_of(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 202:
		return "Accepted";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Payload Too Large";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "";
	}
}

/*
 * Answers handed to evhttp and not sent yet: d->unflushed, which shutdown
 * waits on (a little). evhttp says an answer left through the request's
 * on-complete callback, but never when the client went away first: a
 * write that fails frees the connection and its request without that
 * callback, and a client that closed while its request waited (a GET:
 * evhttp keeps reading to see the close) leaves the request without a
 * connection, which evhttp_send_reply() then just frees. So an answer is
 * counted only when its request still has a connection, and is settled
 * by whichever comes first: the on-complete callback, or the
 * connection's close callback (evhttp_connection_free calls it before it
 * frees the request). While an answer is counted it owns the connection's
 * close callback; GET /v1/entries takes it only for a stream, whose
 * answer is not counted.
 */
struct unflushed {
	struct daemon *d;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
};

static void unflushed_settle(struct unflushed *u)
{
	evhttp_connection_set_closecb(u->evcon, NULL, NULL);
	evhttp_request_set_on_complete_cb(u->req, NULL, NULL);
	if (u->d->unflushed)
		u->d->unflushed--;
	free(u);
}

static void reply_flushed(struct evhttp_request *req, void *arg)
{
	(void)req;
	unflushed_settle(arg);
}

static void reply_dropped(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	unflushed_settle(arg);
}

static void reply_buf(struct hctx *c, int code, const char *type, const void *data, size_t len)
{
	struct evbuffer *b = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
	struct evhttp_connection *evcon = evhttp_request_get_connection(c->req);
	struct unflushed *u = evcon ? malloc(sizeof(*u)) : NULL;

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if (c->d->draining)
		evhttp_add_header(h, "Connection", "close");
	if (b)
		evbuffer_add(b, data, len);
	count(c, code);
	/* Shutdown waits (a little) for answers to leave; one whose client
	 * is gone (no connection) is freed by evhttp_send_reply at once. */
	if (u) {
		u->d = c->d;
		u->req = c->req;
		u->evcon = evcon;
		evhttp_request_set_on_complete_cb(c->req, reply_flushed, u);
		evhttp_connection_set_closecb(evcon, reply_dropped, u);
		c->d->unflushed++;
	}
	evhttp_send_reply(c->req, code, reason_of(code), b);
	if (b)
		evbuffer_free(b);
}

/* Reply with j (a reference is stolen). */
static void reply_json(struct hctx *c, int code, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	if (text == NULL) {
		static const char oom[] = "{\"error\":\"out of memory\"}\n";

		reply_buf(c, 500, "application/json", oom, sizeof(oom) - 1);
	} else {
		size_t n = strlen(text);

		text[n] = '\n';
		reply_buf(c, code, "application/json", text, n + 1);
		text[n] = '\0';
	}
	free(text);
	json_decref(j);
}

static void reply_error(struct hctx *c, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void reply_error(struct hctx *c, int code, const char *fmt, ...)
{
	char raw[1024], msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* Messages quote the request's bytes; JSON takes only UTF-8. */
	ak_utf8_clean(msg, sizeof(msg), raw, strlen(raw));
	if (code == 401)
		evhttp_add_header(evhttp_request_get_output_headers(c->req), "WWW-Authenticate",
		                  "Bearer realm=\"akashi\"");
	if (code == 429 || code == 503)
		evhttp_add_header(evhttp_request_get_output_headers(c->req), "Retry-After", "1");
	reply_json(c, code, json_pack("{s:s}", "error", msg));
}

/* 500 for our own failures, 503 for a busy store, 400 for bad input. */
static int code_of(int rc)
{
	return rc == AK_EINVALID || rc == AK_ETOOBIG ? 400
	       : rc == AK_EBUSY                      ? 503
	       : rc == AK_ENOTFOUND                  ? 404
	                                             : 500;
}

/* ---- parameters ---- */

/* Query parameter name into out; 0, AK_ENOTFOUND, or AK_EINVALID (with
 * the 400 already sent). */
static int param(struct hctx *c, const char *name, char *out, size_t cap)
{
	int rc = http_query_get(c->query, strlen(c->query), name, out, cap, NULL);

	if (rc == AK_EINVALID)
		reply_error(c, 400, "%s", ak_error_last());
	return rc;
}

/* Integer parameter with a default; -1 after a 400 was sent. */
static int param_int(struct hctx *c, const char *name, int64_t min, int64_t max, int64_t def,
                     int64_t *out)
{
	char v[32];
	int rc = param(c, name, v, sizeof(v));

	*out = def;
	if (rc == AK_ENOTFOUND)
		return 0;
	if (rc != 0)
		return -1;
	if (http_int(v, min, max, out) != 0) {
		reply_error(c, 400, "parameter '%s': %s", name, ak_error_last());
		return -1;
	}
	return 0;
}

/* Time parameter (RFC 3339); *has says whether it was given. */
static int param_time(struct hctx *c, const char *name, int64_t *out, int *has)
{
	char v[64];
	int rc = param(c, name, v, sizeof(v));

	*has = 0;
	if (rc == AK_ENOTFOUND)
		return 0;
	if (rc != 0)
		return -1;
	if (ak_time_parse(v, strlen(v), out) != 0) {
		reply_error(c, 400, "parameter '%s': %s", name, ak_error_last());
		return -1;
	}
	*has = 1;
	return 0;
}

static const char *header(struct hctx *c, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(c->req), name);
}

/* The request body, contiguous (NUL-terminated copy not made). */
static const char *body_of(struct hctx *c, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);

	*len = evbuffer_get_length(in);
	return *len ? (const char *)evbuffer_pullup(in, -1) : "";
}

/* ---- authentication, roles, rate limits ---- */

static int rate_ok(struct daemon *d, int64_t id)
{
	struct rate_bucket *b = NULL, *nb;
	int64_t now = ak_time_now();
	size_t i;

	if (d->s.rate <= 0)
		return 1;
	for (i = 0; i < d->nbuckets; i++)
		if (d->buckets[i].token_id == id) {
			b = &d->buckets[i];
			break;
		}
	if (b == NULL) {
		/* Tokens are few; past a thousand, start over (generous). */
		if (d->nbuckets >= 1024)
			d->nbuckets = 0;
		if ((nb = realloc(d->buckets, (d->nbuckets + 1) * sizeof(*nb))) == NULL)
			return 1;
		d->buckets = nb;
		b = &d->buckets[d->nbuckets++];
		b->token_id = id;
		b->tokens = (double)(d->s.burst > 0 ? d->s.burst : 1);
		b->last_us = now;
	}
	b->tokens += (double)(now - b->last_us) / 1e6 * (double)d->s.rate;
	if (b->tokens > (double)(d->s.burst > 0 ? d->s.burst : 1))
		b->tokens = (double)(d->s.burst > 0 ? d->s.burst : 1);
	b->last_us = now;
	if (b->tokens < 1.0)
		return 0;
	b->tokens -= 1.0;
	return 1;
}

/* Authenticate and authorise for need (a mask of roles). 0 to go on;
 * -1 when an error was sent. */
static int authorize(struct hctx *c, int need)
{
	const char *tok;
	size_t len;
	int rc;

	if (http_bearer(header(c, "Authorization"), &tok, &len) != 0) {
		metrics_add(c->d->metrics, M_AUTH_FAILURES, "reason=\"missing\"", 1);
		reply_error(c, 401, "a bearer token is required (Authorization: Bearer akt_...)");
		return -1;
	}
	rc = token_check(c->d->tokens, tok, len, &c->tok);
	if (rc == AK_ENOTFOUND) {
		metrics_add(c->d->metrics, M_AUTH_FAILURES, "reason=\"invalid\"", 1);
		reply_error(c, 401, "the token is not valid");
		return -1;
	}
	if (rc != 0) {
		ak_log(AK_LOG_ERR, "token lookup: %s", ak_error_last());
		reply_error(c, 500, "token lookup failed");
		return -1;
	}
	c->authed = 1;
	if (!token_role_allows(c->tok.role, need)) {
		metrics_add(c->d->metrics, M_AUTH_FAILURES, "reason=\"role\"", 1);
		reply_error(c, 403, "a token of role %s may not use this route",
		            token_role_name(c->tok.role));
		return -1;
	}
	if (!rate_ok(c->d, c->tok.id)) {
		char labels[48];

		snprintf(labels, sizeof(labels), "token=\"%lld\"", (long long)c->tok.id);
		metrics_add(c->d->metrics, M_RATE_LIMITED, labels, 1);
		reply_error(c, 429, "rate limit of %lld requests per second exceeded",
		            (long long)c->d->s.rate);
		return -1;
	}
	return 0;
}

int http_authorize(struct daemon *d, struct evhttp_request *req, const char *route, int need,
                   struct token_info *out)
{
	struct hctx c;

	memset(&c, 0, sizeof(c));
	c.d = d;
	c.req = req;
	c.route = route;
	c.t0 = ak_time_now();
	if (authorize(&c, need) != 0)
		return -1;
	if (out)
		*out = c.tok;
	return 0;
}

/* A pending request, waiting for the writer. */
struct waiting {
	struct daemon *d;
	struct hctx c;
	size_t rejected;
	json_t *rejects;
	int html; /* unsubscribe: answer with a page */
	char *subject, *list;
	int64_t at_us;     /* unsubscribe: the click's time */
	int64_t in_force;  /* unsubscribe: writer thread: the opt-out that made this one a repeat */
};

static struct waiting *waiting_new(struct hctx *c)
{
	struct waiting *w = calloc(1, sizeof(*w));

	if (w) {
		w->d = c->d;
		w->c = *c;
		c->d->inflight++;
	}
	return w;
}

static void waiting_free(struct waiting *w)
{
	if (w == NULL)
		return;
	w->d->inflight--;
	json_decref(w->rejects);
	free(w->subject);
	free(w->list);
	free(w);
}

/* ---- GET /healthz ---- */

static void h_healthz(struct hctx *c, const char *rest)
{
	(void)rest;
	if (c->d->draining) {
		reply_error(c, 503, "shutting down");
		return;
	}
	reply_json(c, 200, json_pack("{s:s,s:s}", "status", "ok", "version", AKASHI_VERSION));
}

/* ---- GET /metrics ---- */

static void h_metrics(struct hctx *c, const char *rest)
{
	struct ak_buf b = AK_BUF_INIT(0);
	json_t *st;
	const char *sink, *res;
	json_t *v, *counts;
	char labels[160], s1[64], s2[64];

	(void)rest;
	if (c->d->s.metrics_auth && authorize(c, TOKEN_READ | TOKEN_EXPORT) != 0)
		return;
	metrics_set(c->d->metrics, M_WRITER_QUEUE, NULL, (double)writer_queued(c->d->writer));
	/* Sink figures come as JSON from the sinks: fold them in. */
	st = json_object();
	if (c->d->sinks && st)
		alert_sinks_stats(c->d->sinks, st);
	json_object_foreach(st, sink, counts)
	{
		if (json_is_integer(counts)) {
			metrics_label(s1, sizeof(s1), sink);
			snprintf(labels, sizeof(labels), "sink=\"none\",result=\"%s\"", s1);
			metrics_set(c->d->metrics, M_ALERT_SINK, labels,
			            (double)json_integer_value(counts));
			continue;
		}
		json_object_foreach(counts, res, v)
		{
			if (!json_is_integer(v))
				continue;
			metrics_label(s1, sizeof(s1), sink);
			metrics_label(s2, sizeof(s2), res);
			snprintf(labels, sizeof(labels), "sink=\"%s\",result=\"%s\"", s1, s2);
			metrics_set(c->d->metrics, M_ALERT_SINK, labels,
			            (double)json_integer_value(v));
		}
	}
	json_decref(st);
	if (metrics_render(c->d->metrics, &b, ak_time_now()) != 0) {
		ak_buf_free(&b);
		reply_error(c, 500, "rendering metrics failed");
		return;
	}
	reply_buf(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "", b.len);
	ak_buf_free(&b);
}

/* ---- POST /v1/ingest[/{kind}] ---- */

static int keep_reject(void *ctx, const char *where, const char *reason)
{
	struct waiting *w = ctx;
	char cw[512], cr[1024];

	w->rejected++;
	if (json_array_size(w->rejects) >= MAX_REJECTS_SHOWN)
		return 0;
	/* A reason may quote the record, cut in the middle of a character. */
	ak_utf8_clean(cw, sizeof(cw), where, strlen(where));
	ak_utf8_clean(cr, sizeof(cr), reason, strlen(reason));
	json_array_append_new(w->rejects, json_pack("{s:s,s:s}", "where", cw, "reason", cr));
	return 0;
}

static void ingest_done(struct writer_job *j)
{
	struct waiting *w = j->ctx;
	struct hctx *c = &w->c;

	if (j->rc != 0) {
		ak_log(AK_LOG_ERR, "ingest: %s", j->error);
		reply_error(
		        c, j->rc == AK_EBUSY ? 503 : 500, "the records could not be appended: %s",
		        j->rc == AK_EBUSY ? "the store is busy" : "internal error (see the log)");
	} else {
		json_t *r = json_pack("{s:I,s:I,s:I,s:I}", "appended", (json_int_t)j->appended,
		                      "duplicates", (json_int_t)j->duplicates, "rejected",
		                      (json_int_t)w->rejected, "last_seq", (json_int_t)j->last_seq);

		if (r && w->rejected)
			json_object_set(r, "rejects", w->rejects);
		reply_json(c, 200, r);
	}
	metrics_observe(w->d->metrics, M_INGEST_SECONDS, (double)(ak_time_now() - c->t0) / 1e6);
	writer_job_free(j);
	waiting_free(w);
}

/* Kinds an ingest token may send; the daemon's own kinds (system,
 * finding, alert) need admin. */
static int kind_allowed(int role, const char *kind)
{
	if (role == TOKEN_ADMIN)
		return 1;
	return strcmp(kind, "send") == 0 || strcmp(kind, "consent") == 0 ||
	       strcmp(kind, "admin") == 0 || strcmp(kind, "dmarc") == 0;
}

/* Every native line's kind must be allowed too: check after collection. */
static int batch_kinds_allowed(int role, const struct ingest_batch *b, const char **bad)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (!kind_allowed(role, b->recs[i].kind)) {
			*bad = b->recs[i].kind;
			return 0;
		}
	return 1;
}

static void h_ingest(struct hctx *c, const char *rest)
{
	struct daemon *d = c->d;
	char kind[EVIDENCE_KIND_MAX + 1] = "", format[32], source[260], skip[8], zone[64];
	const char *body, *bad = NULL;
	struct ingest_pipeline_opts po = {0};
	struct ingest_options o = {0};
	struct ingest_pipeline *p = NULL;
	struct ingest_counts counts;
	struct writer_job *j = NULL;
	struct waiting *w = NULL;
	cli_adapter_fn adapter;
	int has_format, has_source, skip_invalid = 0, rc;
	int64_t year;
	size_t len;
	FILE *in = NULL;

	if (authorize(c, TOKEN_INGEST) != 0)
		return;
	if (rest && *rest) {
		if (http_pct_decode(rest, strlen(rest), 0, kind, sizeof(kind), NULL) != 0 ||
		    !ingest_kind_known(kind)) {
			reply_error(c, 404,
			            "no such kind: POST /v1/ingest/{send|consent|admin|dmarc}");
			return;
		}
		if (!kind_allowed(c->tok.role, kind)) {
			metrics_add(d->metrics, M_AUTH_FAILURES, "reason=\"role\"", 1);
			reply_error(c, 403,
			            "%s entries are the daemon's own; an ingest token may not "
			            "send them",
			            kind);
			return;
		}
	}
	if ((rc = param(c, "format", format, sizeof(format))) == AK_EINVALID)
		return;
	has_format = rc == 0;
	if ((rc = param(c, "source", source, sizeof(source))) == AK_EINVALID)
		return;
	has_source = rc == 0;
	if ((rc = param(c, "skip_invalid", skip, sizeof(skip))) == AK_EINVALID)
		return;
	if (rc == 0)
		skip_invalid = strcmp(skip, "1") == 0 || strcmp(skip, "true") == 0 ||
		               strcmp(skip, "yes") == 0 || skip[0] == '\0';
	if ((rc = param(c, "zone", zone, sizeof(zone))) == AK_EINVALID)
		return;
	if (rc != 0)
		snprintf(zone, sizeof(zone), "%s", d->s.ingest_zone);
	if (param_int(c, "year", 0, 9999, d->s.ingest_year, &year) != 0)
		return;
	adapter = cli_ingest_adapter(kind[0] ? kind : NULL, has_format ? format : NULL);
	if (adapter == NULL) {
		reply_error(c, 400, "no format '%s' for %s", has_format ? format : "(default)",
		            kind[0] ? kind : "native entries");
		return;
	}
	if ((w = waiting_new(c)) == NULL || (w->rejects = json_array()) == NULL)
		goto oom;
	po.kind = kind[0] ? kind : NULL;
	po.skip_invalid = skip_invalid;
	po.memory = 1;
	po.memory_max = d->s.max_body * 4 + ((size_t)1 << 20);
	po.on_reject = keep_reject;
	po.on_reject_ctx = w;
	if ((rc = ingest_pipeline_new(&p, NULL, &po)) != 0)
		goto fail;
	body = body_of(c, &len);
	if (len) {
		char name[TOKEN_NAME_MAX + 8];

		snprintf(name, sizeof(name), "api:%s", c->tok.name);
		o.name = "body";
		/* Adapters name their records' source; an API client's
		 * records default to its token's name. */
		o.source = has_source ? source : name;
		o.year = (int)year;
		o.zone = zone[0] ? zone : NULL;
		o.ref_us = ak_time_now();
		o.max_line = d->s.max_line;
		o.max_bytes = d->s.max_report_bytes;
		o.max_records = d->s.max_report_rows;
		if ((in = fmemopen((void *)body, len, "r")) == NULL) {
			rc = ak_error_oom();
			goto fail;
		}
		ingest_pipeline_next_input(p);
		rc = adapter(in, "body", &o, p);
		fclose(in);
		if (rc != 0)
			goto fail;
	}
	ingest_pipeline_counts(p, &counts);
	if (counts.rejected && !skip_invalid) {
		json_t *r =
		        json_pack("{s:s,s:I,s:O}", "error",
		                  "invalid records: nothing was appended (fix them, or add "
		                  "?skip_invalid=true to append the valid ones)",
		                  "rejected", (json_int_t)counts.rejected, "rejects", w->rejects);

		reply_json(c, 400, r);
		goto done;
	}
	if ((j = writer_job_new(WRITER_APPEND)) == NULL)
		goto oom;
	if ((rc = ingest_pipeline_take(p, &j->batch)) != 0)
		goto fail;
	if (!batch_kinds_allowed(c->tok.role, &j->batch, &bad)) {
		metrics_add(d->metrics, M_AUTH_FAILURES, "reason=\"role\"", 1);
		reply_error(c, 403,
		            "%s entries are the daemon's own; an ingest token may not send them",
		            bad);
		goto done;
	}
	if (j->batch.n == 0) {
		/* Nothing to append: answer at once. */
		j->done = ingest_done;
		j->ctx = w;
		ingest_done(j);
		j = NULL;
		w = NULL;
		goto done;
	}
	j->done = ingest_done;
	j->ctx = w;
	if ((rc = writer_submit(d->writer, j)) != 0) {
		j->ctx = NULL;
		goto fail;
	}
	j = NULL;
	w = NULL;
	goto done;
oom:
	rc = ak_error_oom();
fail:
	if (rc == AK_EINVALID || rc == AK_ETOOBIG)
		reply_error(c, 400, "%s", ak_error_last());
	else if (rc == AK_EBUSY)
		reply_error(c, 503, "%s", ak_error_last());
	else {
		ak_log(AK_LOG_ERR, "ingest: %s", ak_error_last());
		reply_error(c, 500, "internal error (see the log)");
	}
done:
	writer_job_free(j);
	waiting_free(w);
	ingest_pipeline_free(p);
}

/* ---- GET /v1/entries ---- */

struct http_stream {
	struct daemon *d;
	struct hctx c;
	struct evhttp_connection *evcon;
	struct evidence_filter f; /* kind, since, until (seqs are ours) */
	char kind[EVIDENCE_KIND_MAX + 1];
	int64_t next_seq, end_seq, remaining; /* remaining < 0: no limit */
	size_t chunk, in_chunk;
	struct evbuffer *buf;
	struct event *ev;
	int closed, started;
	int pending; /* waiting for its export to be recorded (counts as in flight) */
	struct http_stream *next;
};

static void stream_unlink(struct http_stream *s)
{
	struct http_stream **pp;

	for (pp = &s->d->streams; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
}

static void stream_free(struct http_stream *s)
{
	stream_unlink(s);
	if (s->ev)
		event_free(s->ev);
	if (s->buf)
		evbuffer_free(s->buf);
	if (s->pending)
		s->d->inflight--;
	free(s);
}

static int stream_row(void *ctx, const struct evidence_entry *e)
{
	struct http_stream *s = ctx;

	s->next_seq = e->seq + 1;
	if ((s->f.kind && strcmp(e->kind, s->f.kind) != 0) ||
	    (s->f.has_since && e->time_us < s->f.since_us) ||
	    (s->f.has_until && e->time_us >= s->f.until_us))
		return 0;
	if (evbuffer_add(s->buf, e->bytes, e->len) != 0 || evbuffer_add(s->buf, "\n", 1) != 0)
		return ak_error_oom();
	s->in_chunk++;
	if (s->remaining > 0)
		s->remaining--;
	return s->remaining == 0 || s->in_chunk >= s->chunk ? 1 : 0;
}

static void stream_headers(struct http_stream *s)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(s->c.req);

	evhttp_add_header(h, "Content-Type", "application/x-ndjson");
	evhttp_add_header(h, "Cache-Control", "no-store");
}

static void stream_end(struct http_stream *s)
{
	if (s->evcon)
		evhttp_connection_set_closecb(s->evcon, NULL, NULL);
	count(&s->c, 200);
	if (s->started) {
		evhttp_send_reply_end(s->c.req);
	} else {
		/* Nothing in range (from_seq past the end, say): an empty
		 * answer, but an answer; ending a reply never started sends
		 * nothing and leaves the client waiting. */
		stream_headers(s);
		evhttp_send_reply(s->c.req, 200, "OK", NULL);
	}
	stream_free(s);
}

static void stream_step(struct http_stream *s);

static void on_chunk_sent(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	stream_step(arg);
}

static void on_stream_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	stream_step(arg);
}

static void on_stream_close(struct evhttp_connection *evcon, void *arg)
{
	struct http_stream *s = arg;

	(void)evcon;
	/* The connection is going away; finish outside its teardown. */
	s->closed = 1;
	s->evcon = NULL;
	event_active(s->ev, EV_TIMEOUT, 0);
}

static void stream_step(struct http_stream *s)
{
	struct evidence_filter win = {0};
	int rc;

	if (s->closed) {
		/* The client went away: the request is ours to free. */
		evhttp_send_reply_end(s->c.req);
		stream_free(s);
		return;
	}
	if (s->remaining == 0 || s->next_seq > s->end_seq) {
		stream_end(s);
		return;
	}
	s->in_chunk = 0;
	win.from_seq = s->next_seq;
	win.to_seq = s->next_seq + SCAN_WINDOW - 1 < s->end_seq ? s->next_seq + SCAN_WINDOW - 1
	                                                        : s->end_seq;
	rc = evidence_scan(s->d->rd, &win, stream_row, s);
	if (rc != 0) {
		ak_log(AK_LOG_ERR, "GET /v1/entries: %s", ak_error_last());
		/* Headers are gone: cutting the connection is the only way to
		 * tell the client the stream is incomplete. */
		if (s->evcon) {
			evhttp_connection_set_closecb(s->evcon, NULL, NULL);
			count(&s->c, 500);
			evhttp_connection_free(s->evcon);
		}
		stream_free(s);
		return;
	}
	if (s->in_chunk < s->chunk && s->remaining != 0)
		s->next_seq = win.to_seq + 1;
	if (!s->started) {
		stream_headers(s);
		evhttp_send_reply_start(s->c.req, 200, "OK");
		s->started = 1;
	}
	if (evbuffer_get_length(s->buf))
		evhttp_send_reply_chunk_with_cb(s->c.req, s->buf, on_chunk_sent, s);
	else
		event_active(s->ev, EV_TIMEOUT, 0); /* nothing matched here: go on, but yield */
}

static void entries_start(struct writer_job *j)
{
	struct http_stream *s = j->ctx;

	s->pending = 0;
	s->d->inflight--;
	if (j->rc != 0) {
		ak_log(AK_LOG_ERR, "recording an export: %s", j->error);
		reply_error(&s->c, 503, "the export could not be recorded; nothing was sent");
		stream_free(s);
	} else if (s->d->draining) {
		reply_error(&s->c, 503, "shutting down");
		stream_free(s);
	} else {
		s->evcon = evhttp_request_get_connection(s->c.req);
		if (s->evcon)
			evhttp_connection_set_closecb(s->evcon, on_stream_close, s);
		stream_step(s);
	}
	writer_job_free(j);
}

static void h_entries(struct hctx *c, const char *rest)
{
	struct daemon *d = c->d;
	struct http_stream *s = NULL;
	json_t *fields = NULL;
	char *request = NULL;
	size_t qlen = strlen(c->query);
	int64_t size = 0, from, limit;
	int rc;

	(void)rest;
	if (authorize(c, TOKEN_EXPORT) != 0)
		return;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		reply_error(c, 500, "out of memory");
		return;
	}
	s->d = d;
	s->c = *c;
	s->pending = 1;
	d->inflight++;
	rc = param(c, "kind", s->kind, sizeof(s->kind));
	if (rc == AK_EINVALID)
		goto fail_sent;
	if (rc == 0 && s->kind[0])
		s->f.kind = s->kind;
	if (param_time(c, "since", &s->f.since_us, &s->f.has_since) != 0 ||
	    param_time(c, "until", &s->f.until_us, &s->f.has_until) != 0 ||
	    param_int(c, "from_seq", 1, INT64_MAX, 1, &from) != 0 ||
	    param_int(c, "limit", 1, INT64_MAX, -1, &limit) != 0)
		goto fail_sent;
	if ((rc = evidence_size(d->rd, &size)) != 0) {
		reply_error(c, 500, "reading the log failed");
		goto fail_sent;
	}
	s->next_seq = from;
	s->end_seq = size; /* the log as it is now: the stream ends */
	s->remaining = limit;
	s->chunk = d->s.chunk ? d->s.chunk : 1000;
	s->buf = evbuffer_new();
	s->ev = event_new(d->base, -1, 0, on_stream_event, s);
	if (s->buf == NULL || s->ev == NULL) {
		reply_error(c, 500, "out of memory");
		goto fail_sent;
	}
	s->next = d->streams;
	d->streams = s;
	/* An export is recorded before a byte of it leaves. */
	/* The whole request, as valid UTF-8 (a bad byte takes three). */
	if ((request = malloc(qlen * 3 + 1)) != NULL) {
		ak_utf8_clean(request, qlen * 3 + 1, c->query, qlen);
		fields = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s}", "action", "export", "token_id",
		                   (json_int_t)c->tok.id, "token_name", c->tok.name, "role",
		                   token_role_name(c->tok.role), "request", request, "client_ip",
		                   c->ip);
		free(request);
	}
	if (fields == NULL || serve_system_entry(d, "token_use", fields, entries_start, s) != 0) {
		reply_error(c, 503, "the export could not be recorded; nothing was sent");
		goto fail_sent;
	}
	json_decref(fields);
	return;
fail_sent:
	json_decref(fields);
	stream_free(s);
}

/* ---- GET /v1/search ---- */

struct search_out {
	struct ak_buf b;
};

static int search_row(void *ctx, const struct evidence_entry *e)
{
	struct search_out *o = ctx;
	int rc = ak_buf_append(&o->b, e->bytes, e->len);

	return rc ? rc : ak_buf_putc(&o->b, '\n');
}

/* Searches run on the reader thread: a frequent trigram over a big log
 * may take a while, and the loop must not wait for it. */
struct search_job {
	struct waiting *w;
	char q[PARAM_MAX], kind[EVIDENCE_KIND_MAX + 1];
	int has_kind;
	int64_t limit;
	struct search_out o;
};

static int search_call(struct evidence_store *st, void *arg)
{
	struct search_job *s = arg;

	return evidence_search(st, s->q, s->has_kind ? s->kind : NULL, s->limit, search_row, &s->o);
}

static void search_done(struct writer_job *j)
{
	struct search_job *s = j->arg;
	struct hctx *c = &s->w->c;

	if (j->rc == AK_EINVALID)
		reply_error(c, 400, "parameter 'q': %s", j->error);
	else if (j->rc != 0) {
		ak_log(AK_LOG_ERR, "search: %s", j->error);
		reply_error(c, code_of(j->rc), "search failed");
	} else
		reply_buf(c, 200, "application/x-ndjson", s->o.b.data ? s->o.b.data : "",
		          s->o.b.len);
	ak_buf_free(&s->o.b);
	waiting_free(s->w);
	free(s);
	writer_job_free(j);
}

static void h_search(struct hctx *c, const char *rest)
{
	struct search_job *s = calloc(1, sizeof(*s));
	struct writer_job *j = NULL;
	int rc;

	(void)rest;
	if (s == NULL) {
		reply_error(c, 500, "out of memory");
		return;
	}
	ak_buf_init(&s->o.b, (size_t)256 << 20);
	if (authorize(c, TOKEN_READ | TOKEN_EXPORT) != 0)
		goto done;
	rc = param(c, "q", s->q, sizeof(s->q));
	if (rc == AK_ENOTFOUND || (rc == 0 && s->q[0] == '\0')) {
		reply_error(c, 400, "parameter 'q' missing");
		goto done;
	}
	if (rc != 0 || (rc = param(c, "kind", s->kind, sizeof(s->kind))) == AK_EINVALID)
		goto done;
	s->has_kind = rc == 0 && s->kind[0];
	if (param_int(c, "limit", 1, 10000, 100, &s->limit) != 0)
		goto done;
	if ((s->w = waiting_new(c)) == NULL || (j = writer_job_new(WRITER_CALL)) == NULL) {
		reply_error(c, 500, "out of memory");
		goto done;
	}
	j->call = search_call;
	j->arg = s;
	j->done = search_done;
	if (writer_submit(c->d->reader, j) == 0)
		return;
	reply_error(c, 503, "%s", ak_error_last());
done:
	writer_job_free(j);
	waiting_free(s->w);
	ak_buf_free(&s->o.b);
	free(s);
}

/* ---- GET /v1/checkpoint, POST /v1/checkpoint ---- */

static void h_checkpoint(struct hctx *c, const char *rest)
{
	struct evidence_checkpoint cp = {0};
	int64_t size;
	int rc;

	(void)rest;
	if (authorize(c, TOKEN_READ | TOKEN_EXPORT) != 0)
		return;
	if (param_int(c, "size", 1, INT64_MAX, 0, &size) != 0)
		return;
	rc = size ? evidence_checkpoint_get(c->d->rd, size, &cp)
	          : evidence_checkpoint_latest(c->d->rd, &cp);
	if (rc == AK_ENOTFOUND)
		reply_error(c, 404, size ? "no checkpoint of that size" : "no checkpoint yet");
	else if (rc != 0)
		reply_error(c, 500, "reading checkpoints failed");
	else {
		char n[24];

		snprintf(n, sizeof(n), "%lld", (long long)cp.size);
		evhttp_add_header(evhttp_request_get_output_headers(c->req), "X-Akashi-Tree-Size",
		                  n);
		reply_buf(c, 200, "text/plain; charset=utf-8", cp.note, strlen(cp.note));
	}
	evidence_checkpoint_clear(&cp);
}

static void checkpoint_made(struct writer_job *j)
{
	struct waiting *w = j->ctx;
	struct evidence_checkpoint *cp = j->arg;

	if (j->rc != 0) {
		ak_log(AK_LOG_ERR, "checkpoint: %s", j->error);
		reply_error(&w->c, code_of(j->rc), "the checkpoint could not be made");
	} else {
		reply_buf(&w->c, 200, "text/plain; charset=utf-8", cp->note, strlen(cp->note));
	}
	waiting_free(w);
}

static void h_checkpoint_make(struct hctx *c, const char *rest)
{
	struct waiting *w;

	(void)rest;
	if (authorize(c, TOKEN_ADMIN) != 0)
		return;
	if ((w = waiting_new(c)) == NULL) {
		reply_error(c, 500, "out of memory");
		return;
	}
	if (serve_checkpoint_now(c->d, checkpoint_made, w) != 0) {
		reply_error(c, 503, "%s", ak_error_last());
		waiting_free(w);
	}
}

/* ---- GET /v1/proof/{seq}, GET /v1/consistency ---- */

static json_t *b64(const unsigned char *h)
{
	char t[AK_B64_LEN(EVIDENCE_HASH_LEN) + 1];

	ak_b64_encode(t, h, EVIDENCE_HASH_LEN);
	return json_string(t);
}

static json_t *path_json(const unsigned char (*path)[EVIDENCE_HASH_LEN], size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < n; i++)
		json_array_append_new(a, b64(path[i]));
	return a;
}

static void h_proof(struct hctx *c, const char *rest)
{
	struct daemon *d = c->d;
	struct evidence_checkpoint cp = {0};
	unsigned char leaf[EVIDENCE_HASH_LEN], root[EVIDENCE_HASH_LEN];
	unsigned char(*path)[EVIDENCE_HASH_LEN] = NULL;
	struct ak_buf entry = AK_BUF_INIT(0);
	size_t n = 0;
	int64_t seq, size, logsize = 0;
	json_t *r;
	int rc;

	if (authorize(c, TOKEN_READ | TOKEN_EXPORT) != 0)
		return;
	if (http_int(rest, 1, INT64_MAX, &seq) != 0) {
		reply_error(c, 400, "GET /v1/proof/{seq}: %s", ak_error_last());
		return;
	}
	if (param_int(c, "size", 1, INT64_MAX, 0, &size) != 0)
		return;
	if ((rc = evidence_size(d->rd, &logsize)) != 0)
		goto fail;
	if (size == 0) {
		/* Against the latest checkpoint: a proof the client can check
		 * with a signed root. */
		rc = evidence_checkpoint_latest(d->rd, &cp);
		if (rc == AK_ENOTFOUND || (rc == 0 && cp.size < seq)) {
			reply_error(c, 404,
			            "entry %lld is not covered by a checkpoint yet (give ?size=N, "
			            "or wait for the next checkpoint)",
			            (long long)seq);
			goto done;
		}
		if (rc != 0)
			goto fail;
		size = cp.size;
	} else if (evidence_checkpoint_get(d->rd, size, &cp) != 0) {
		evidence_checkpoint_clear(&cp);
	}
	if (seq > logsize || size > logsize || seq > size) {
		reply_error(c, 404, "no entry %lld in a tree of size %lld (the log holds %lld)",
		            (long long)seq, (long long)size, (long long)logsize);
		goto done;
	}
	if ((rc = evidence_prove_inclusion(d->rd, seq, size, leaf, &path, &n)) != 0 ||
	    (rc = evidence_root(d->rd, size, root)) != 0 ||
	    (rc = evidence_get(d->rd, seq, &entry)) != 0)
		goto fail;
	r = json_pack("{s:I,s:I,s:I,s:o,s:o,s:o,s:s%}", "seq", (json_int_t)seq, "tree_size",
	              (json_int_t)size, "leaf_index", (json_int_t)(seq - 1), "leaf_hash", b64(leaf),
	              "path", path_json((const unsigned char(*)[EVIDENCE_HASH_LEN])path, n), "root",
	              b64(root), "entry", entry.data, entry.len);
	if (r && cp.note)
		json_object_set_new(r, "checkpoint", json_string(cp.note));
	reply_json(c, 200, r);
	goto done;
fail:
	ak_log(AK_LOG_ERR, "proof: %s", ak_error_last());
	reply_error(c, code_of(rc), "the proof could not be made");
done:
	free(path);
	ak_buf_free(&entry);
	evidence_checkpoint_clear(&cp);
}

static void h_consistency(struct hctx *c, const char *rest)
{
	unsigned char(*path)[EVIDENCE_HASH_LEN] = NULL;
	unsigned char r1[EVIDENCE_HASH_LEN], r2[EVIDENCE_HASH_LEN];
	int64_t old_size, new_size, logsize = 0;
	size_t n = 0;
	int rc;

	(void)rest;
	if (authorize(c, TOKEN_READ | TOKEN_EXPORT) != 0)
		return;
	if (param_int(c, "old", 1, INT64_MAX, 0, &old_size) != 0 ||
	    param_int(c, "new", 1, INT64_MAX, 0, &new_size) != 0)
		return;
	if ((rc = evidence_size(c->d->rd, &logsize)) != 0)
		goto fail;
	if (old_size == 0 || new_size == 0 || old_size > new_size || new_size > logsize) {
		reply_error(c, 400, "give old <= new <= %lld", (long long)logsize);
		return;
	}
	if ((rc = evidence_prove_consistency(c->d->rd, old_size, new_size, &path, &n)) != 0 ||
	    (rc = evidence_root(c->d->rd, old_size, r1)) != 0 ||
	    (rc = evidence_root(c->d->rd, new_size, r2)) != 0)
		goto fail;
	reply_json(c, 200,
	           json_pack("{s:I,s:I,s:o,s:o,s:o}", "old_size", (json_int_t)old_size, "new_size",
	                     (json_int_t)new_size, "old_root", b64(r1), "new_root", b64(r2), "path",
	                     path_json((const unsigned char(*)[EVIDENCE_HASH_LEN])path, n)));
	free(path);
	return;
fail:
	free(path);
	reply_error(c, code_of(rc), "the proof could not be made");
}

/* ---- GET /v1/consent/{subject} ---- */

static json_t *time_json(int64_t us)
{
	char t[AK_TIME_MAX];

	if (us == 0 || ak_time_format(t, us, AK_TIME_AUTO) < 0)
		return json_null();
	return json_string(t);
}

struct consent_out {
	json_t *lists;
	int64_t latest_us;
};

static int consent_list(void *ctx, const char *list, const struct consent_now *cn)
{
	struct consent_out *o = ctx;
	json_t *l = json_pack("{s:s,s:s,s:o,s:I}", "list", list, "state", cn->action, "time",
	                      time_json(cn->time_us), "seq", (json_int_t)cn->seq);

	if (l == NULL)
		return ak_error_oom();
	if (cn->optin_seq)
		json_object_set_new(l, "opt_in",
		                    json_pack("{s:o,s:I,s:s,s:b}", "time",
		                              time_json(cn->optin_time), "seq",
		                              (json_int_t)cn->optin_seq, "method", cn->method,
		                              "proof", cn->proof));
	if (cn->confirm_seq)
		json_object_set_new(l, "confirm",
		                    json_pack("{s:o,s:I}", "time", time_json(cn->confirm_time),
		                              "seq", (json_int_t)cn->confirm_seq));
	if (cn->optout_seq)
		json_object_set_new(l, "opt_out",
		                    json_pack("{s:o,s:I}", "time", time_json(cn->optout_time),
		                              "seq", (json_int_t)cn->optout_seq));
	if (cn->exemption[0])
		json_object_set_new(l, "exemption", json_string(cn->exemption));
	if (cn->time_us > o->latest_us)
		o->latest_us = cn->time_us;
	return json_array_append_new(o->lists, l) == 0 ? 0 : ak_error_oom();
}

static int suppression_row(void *ctx, const struct suppression_now *s)
{
	json_t *a = ctx;

	return json_array_append_new(a, json_pack("{s:s,s:s,s:o,s:I}", "scope", s->scope, "reason",
	                                          s->reason, "time", time_json(s->time_us), "seq",
	                                          (json_int_t)s->seq)) == 0
	               ? 0
	               : ak_error_oom();
}

struct last_send {
	const char *rcpt;
	int64_t time_us, seq;
	struct ak_jdoc *doc;
};

static int last_send_row(void *ctx, const struct evidence_entry *e)
{
	struct last_send *ls = ctx;
	const struct ak_jv *root, *rcpt;

	/* The index matches substrings: keep sends to exactly this address. */
	if (ak_json_parse(ls->doc, e->body, e->body_len, &root) != 0)
		return 0;
	rcpt = ak_jv_get(root, "rcpt");
	if (rcpt && rcpt->type == AK_JSTRING && strcmp(rcpt->u.s.ptr, ls->rcpt) == 0 &&
	    e->time_us > ls->time_us) {
		ls->time_us = e->time_us;
		ls->seq = e->seq;
	}
	return 0;
}

/* GET /v1/consent/{subject}, computed on the reader thread; what it needs
 * of the loop's policy set is copied in first. */
struct consent_job {
	struct waiting *w;
	char subject[300];
	struct policy_duration after, org;
	char zone[64], policy[128];
	json_t *result;
};

/* The retention floor of docs/OPERATIONS.md "Retention": the earliest
 * time the subject's consent proof could be released. */
static json_t *retention_json(struct evidence_store *st, const struct consent_job *cj,
                              int64_t latest_consent_us)
{
	struct policy_calendar cal = {cj->zone, NULL};
	struct last_send ls = {cj->subject, 0, 0, NULL};
	char q[600];
	int64_t a = 0, b = 0, floor;
	size_t i, o = 0;
	json_t *r;

	/* The address as one FTS phrase: quotes doubled. */
	q[o++] = '"';
	for (i = 0; cj->subject[i] && o + 3 < sizeof(q); i++) {
		if (cj->subject[i] == '"')
			q[o++] = '"';
		q[o++] = cj->subject[i];
	}
	q[o++] = '"';
	q[o] = '\0';
	if (ak_jdoc_new(&ls.doc, 0) == 0) {
		if (evidence_search(st, q, "send", 0, last_send_row, &ls) != 0)
			ak_log(AK_LOG_WARN, "retention: %s", ak_error_last());
		ak_jdoc_free(ls.doc);
	}
	if (ls.time_us && policy_duration_add(ls.time_us, &cj->after, &cal, &a) != 0)
		a = 0;
	if (latest_consent_us && policy_duration_add(latest_consent_us, &cj->org, &cal, &b) != 0)
		b = 0;
	floor = a > b ? a : b;
	r = json_pack("{s:o,s:o,s:o,s:o,s:o,s:b}", "floor", time_json(floor), "last_send",
	              time_json(ls.time_us), "after_last_send_until", time_json(a),
	              "org_default_until", time_json(b), "policy",
	              cj->policy[0] ? json_string(cj->policy) : json_null(), "purged", 0);
	if (r && ls.seq)
		json_object_set_new(r, "last_send_seq", json_integer(ls.seq));
	return r;
}

static int consent_call(struct evidence_store *st, void *arg)
{
	struct consent_job *cj = arg;
	struct consent_out o = {json_array(), 0};
	json_t *supp = json_array();
	sqlite3 *db = evidence_db(st);
	int rc;

	if (o.lists == NULL || supp == NULL)
		rc = ak_error_oom();
	else if ((rc = policy_state_consent_each(db, cj->subject, consent_list, &o)) == 0 &&
	         (rc = policy_state_suppression_each(db, cj->subject, suppression_row, supp)) == 0)
		cj->result = json_pack("{s:s,s:O,s:O,s:o}", "subject", cj->subject, "lists",
		                       o.lists, "suppressed", supp, "retention",
		                       retention_json(st, cj, o.latest_us));
	json_decref(o.lists);
	json_decref(supp);
	return rc;
}

static void consent_done(struct writer_job *j)
{
	struct consent_job *cj = j->arg;
	struct hctx *c = &cj->w->c;

	if (j->rc != 0 || cj->result == NULL) {
		ak_log(AK_LOG_ERR, "consent: %s", j->rc ? j->error : "out of memory");
		reply_error(c, 500, "reading consent state failed");
		json_decref(cj->result);
	} else {
		reply_json(c, 200, cj->result);
	}
	waiting_free(cj->w);
	free(cj);
	writer_job_free(j);
}

static void h_consent(struct hctx *c, const char *rest)
{
	struct daemon *d = c->d;
	struct consent_job *cj = calloc(1, sizeof(*cj));
	struct writer_job *j = NULL;
	const struct policy *p;
	int needs_lower = 0;
	size_t len;

	if (cj == NULL) {
		reply_error(c, 500, "out of memory");
		return;
	}
	if (authorize(c, TOKEN_READ | TOKEN_EXPORT) != 0)
		goto done;
	if (http_pct_decode(rest, strlen(rest), 0, cj->subject, sizeof(cj->subject), &len) != 0 ||
	    !ingest_is_email(cj->subject, len, &needs_lower)) {
		reply_error(c, 400, "GET /v1/consent/{subject}: not an e-mail address");
		goto done;
	}
	ak_ascii_lower_str(cj->subject);
	/* consent.proof_retention's parameters, or the control's defaults. */
	cj->after = (struct policy_duration){1, POLICY_MONTHS};
	cj->org = (struct policy_duration){3, POLICY_YEARS};
	snprintf(cj->zone, sizeof(cj->zone), "%s", d->s.zone);
	if ((p = policy_find_control(d->set, "consent.proof_retention")) != NULL) {
		cj->after = policy_param_duration(p, "after_last_send");
		if (policy_param_bool(p, "order_active"))
			cj->after = (struct policy_duration){1, POLICY_YEARS};
		cj->org = policy_param_duration(p, "org_default");
		snprintf(cj->policy, sizeof(cj->policy), "%s", p->id);
	}
	if ((cj->w = waiting_new(c)) == NULL || (j = writer_job_new(WRITER_CALL)) == NULL) {
		reply_error(c, 500, "out of memory");
		goto done;
	}
	j->call = consent_call;
	j->arg = cj;
	j->done = consent_done;
	if (writer_submit(d->reader, j) == 0)
		return;
	reply_error(c, 503, "%s", ak_error_last());
done:
	writer_job_free(j);
	waiting_free(cj->w);
	free(cj);
}

/* ---- POST /v1/gate ---- */

static void h_gate(struct hctx *c, const char *rest)
{
	struct gate_request rq;
	struct gate_decision dec;
	json_t *holder = NULL, *r;
	const char *body;
	size_t len;
	int rc;

	(void)rest;
	if (authorize(c, TOKEN_READ | TOKEN_INGEST) != 0)
		return;
	if (c->d->gate == NULL) {
		reply_error(c, 503, "no policies are loaded: %s", c->d->policy_error);
		return;
	}
	body = body_of(c, &len);
	if (http_gate_request(body, len, &rq, &holder) != 0) {
		reply_error(c, 400, "%s", ak_error_last());
		json_decref(holder);
		return;
	}
	rc = gate_check(c->d->gate, &rq, &dec);
	if (rc != 0) {
		reply_error(c, code_of(rc), "%s",
		            rc == AK_EINVALID ? ak_error_last() : "the gate failed (see the log)");
		if (rc != AK_EINVALID)
			ak_log(AK_LOG_ERR, "gate: %s", ak_error_last());
	} else {
		metrics_add(c->d->metrics, M_GATE_DECISIONS,
		            dec.allow ? "decision=\"allow\"" : "decision=\"deny\"", 1);
		r = gate_decision_json(&dec);
		reply_json(c, 200, r);
	}
	json_decref(holder);
}

/* ---- GET/POST /v1/unsubscribe ---- */

static void html_escape(struct ak_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			ak_buf_puts(b, "&amp;");
			break;
		case '<':
			ak_buf_puts(b, "&lt;");
			break;
		case '>':
			ak_buf_puts(b, "&gt;");
			break;
		case '"':
			ak_buf_puts(b, "&quot;");
			break;
		case '\'':
			ak_buf_puts(b, "&#39;");
			break;
		default:
			ak_buf_putc(b, *s);
		}
	}
}

static const char page_head[] =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta name=\"robots\" content=\"noindex\"><title>Unsubscribe</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:32em;margin:4em auto;padding:0 1em;"
        "color:#222}button{font-size:1.1em;padding:.6em 1.4em;cursor:pointer}"
        "p.small{color:#666;font-size:.9em}</style></head><body>\n";

static void reply_page(struct hctx *c, int code, const char *title, const char *text,
                       const char *subject, const char *list, const char *token)
{
	struct ak_buf b = AK_BUF_INIT(0);
	struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);

	ak_buf_puts(&b, page_head);
	ak_buf_puts(&b, "<h1>");
	html_escape(&b, title);
	ak_buf_puts(&b, "</h1>\n<p>");
	html_escape(&b, text);
	if (subject) {
		ak_buf_puts(&b, " <strong>");
		html_escape(&b, subject);
		ak_buf_puts(&b, "</strong> from <strong>");
		html_escape(&b, list);
		ak_buf_puts(&b, "</strong>.");
	}
	ak_buf_puts(&b, "</p>\n");
	if (token) {
		/* A relative action keeps whatever prefix a proxy adds. */
		ak_buf_puts(&b, "<form method=\"post\" action=\"?t=");
		html_escape(&b, token);
		ak_buf_puts(&b, "\"><input type=\"hidden\" name=\"List-Unsubscribe\" "
		                "value=\"One-Click\"><button type=\"submit\">Unsubscribe</button>"
		                "</form>\n<p class=\"small\">Nothing changes until you press the "
		                "button.</p>\n");
	}
	ak_buf_puts(&b, "</body></html>\n");
	evhttp_add_header(h, "Content-Security-Policy",
	                  "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
	                  "frame-ancestors 'none'");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	reply_buf(c, code, "text/html; charset=utf-8", b.data ? b.data : "", b.len);
	ak_buf_free(&b);
}

/* Check the t= token; on failure the error is sent (as a page if html). */
static int unsub_token(struct hctx *c, int html, char *tok, size_t cap, struct unsub_token *ut)
{
	struct daemon *d = c->d;
	int rc;

	if (d->unsub_secret == NULL) {
		metrics_add(d->metrics, M_UNSUBSCRIBES, "result=\"unavailable\"", 1);
		if (html)
			reply_page(
			        c, 503, "Unsubscribe unavailable",
			        "This service cannot take unsubscribe requests right now. Please "
			        "try again later.",
			        NULL, NULL, NULL);
		else
			reply_error(c, 503, "one-click unsubscribe is not configured");
		return -1;
	}
	rc = http_query_get(c->query, strlen(c->query), "t", tok, cap, NULL);
	if (rc == 0)
		rc = unsub_token_check(tok, strlen(tok), d->unsub_secret, d->unsub_secret_len,
		                       ak_time_now(), d->s.unsub_max_age_us, ut);
	if (rc != 0) {
		const char *why = rc == AK_ENOTFOUND ? "parameter 't' missing" : ak_error_last();

		metrics_add(d->metrics, M_UNSUBSCRIBES, "result=\"bad_token\"", 1);
		if (html)
			reply_page(c, 400, "This link does not work",
			           strstr(why, "expired") ? "This unsubscribe link has expired. "
			                                    "Please use the link in "
			                                    "a more recent message."
			                                  : "This unsubscribe link is not valid.",
			           NULL, NULL, NULL);
		else
			reply_error(c, 400, "%s", why);
		return -1;
	}
	return 0;
}

static int wants_html(struct hctx *c)
{
	const char *a = header(c, "Accept");

	return a && strstr(a, "text/html") != NULL;
}

static void h_unsub_page(struct hctx *c, const char *rest)
{
	char tok[1200];
	struct unsub_token ut;

	(void)rest;
	if (unsub_token(c, 1, tok, sizeof(tok), &ut) != 0)
		return;
	/* GET never unsubscribes: mail scanners follow links. */
	metrics_add(c->d->metrics, M_UNSUBSCRIBES, "result=\"page\"", 1);
	reply_page(c, 200, "Unsubscribe", "Unsubscribe", ut.subject, ut.list, tok);
}

/* The 200 of a POST: the opt-out in force is seq (recorded now, or
 * before). */
static void unsub_ok(struct hctx *c, int html, const char *subject, const char *list, int64_t seq)
{
	if (html)
		reply_page(c, 200, "You are unsubscribed", "We have unsubscribed", subject, list,
		           NULL);
	else
		reply_json(c, 200,
		           json_pack("{s:b,s:I}", "unsubscribed", 1, "seq", (json_int_t)seq));
}

/* Is a click at `at` a repeat: the pair opted out, by an opt-out less
 * than unsubscribe.repeat_window older than the click? Only such a
 * repeat is left out of the log. Not every click while opted out: a
 * re-subscription that reaches akashi late (an opt-in dated between the
 * opt-out and this click, ingested afterwards) would then leave the pair
 * subscribed with this click nowhere. So a link POSTed in a loop records
 * one opt-out per window, and only a re-subscription followed by a click
 * within the window of the opt-out, with the opt-in arriving after the
 * click, could go unrecorded. */
static int unsub_is_repeat(int opted_out, int64_t since, int64_t at, int64_t window)
{
	return opted_out && at - since < window;
}

/* Writer thread, inside the append transaction (evidence_record.wanted):
 * append the opt-out unless it is a repeat (unsub_is_repeat) by the
 * gate's rule, counting everything committed and everything ahead of it
 * in this transaction. A state that cannot be read means append: a
 * duplicate costs an entry, a lost opt-out costs much more. */
static int unsub_wanted(void *arg, sqlite3 *db)
{
	struct waiting *w = arg;
	int64_t since = 0;
	int out = 0;

	if (policy_state_opted_out(db, w->subject, w->list, w->at_us, &out, &w->in_force, &since) !=
	    0) {
		ak_error_clear();
		return 1;
	}
	return !unsub_is_repeat(out, since, w->at_us, w->d->s.unsub_repeat_us);
}

static void unsub_done(struct writer_job *j)
{
	struct waiting *w = j->ctx;

	if (j->rc != 0) {
		ak_log(AK_LOG_ERR, "unsubscribe: %s", j->error);
		metrics_add(w->d->metrics, M_UNSUBSCRIBES, "result=\"error\"", 1);
		if (w->html)
			reply_page(&w->c, 503, "Please try again",
			           "Your request could not be recorded. Please try again in a "
			           "moment.",
			           NULL, NULL, NULL);
		else
			reply_error(&w->c, 503, "the opt-out could not be recorded; try again");
	} else {
		/* Either way an opt-out of the pair is durable now. */
		metrics_add(w->d->metrics, M_UNSUBSCRIBES,
		            j->appended ? "result=\"ok\"" : "result=\"already\"", 1);
		unsub_ok(&w->c, w->html, w->subject, w->list,
		         j->appended ? j->last_seq : w->in_force);
	}
	writer_job_free(j);
	waiting_free(w);
}

/*
 * POST /v1/unsubscribe?t=TOKEN: record an opt-out, at most once per
 * unsubscribe.repeat_window while it is in force.
 *
 * Anyone holding a link may POST it any number of times (providers retry,
 * scanners replay, attackers loop), and the log keeps whatever goes in.
 * So a POST appends no opt_out while the pair's opt-out in force is less
 * than the window old (unsub_is_repeat): the writer asks the derived
 * state inside the append transaction (unsub_wanted), after everything
 * queued ahead, so neither an opt-out nor a re-subscription still waiting
 * for its commit is missed; a subject who opted in again after the
 * opt-out gets a new entry. A repeat is answered with the same 200,
 * citing the opt-out in force, and only once that one is durable: every
 * POST goes through the writer, where nothing still waiting for its
 * commit can be missed.
 */
static void h_unsub_post(struct hctx *c, const char *rest)
{
	struct daemon *d = c->d;
	char tok[1200], now_text[AK_TIME_MAX];
	struct unsub_token ut;
	struct waiting *w = NULL;
	struct writer_job *j = NULL;
	const char *body, *ua = header(c, "User-Agent");
	char ua_text[UA_MAX + 1];
	json_t *rec = NULL;
	size_t len;
	int64_t now = ak_time_now();
	int html = wants_html(c), rc;

	(void)rest;
	/* Proof, not a copy of anything a client sends: a client's own bytes
	 * (any, of any length up to the header limit) would become a
	 * permanent entry of the log with every click. */
	ak_utf8_clean(ua_text, sizeof(ua_text), ua ? ua : "", ua ? strlen(ua) : 0);
	if (unsub_token(c, html, tok, sizeof(tok), &ut) != 0)
		return;
	body = body_of(c, &len);
	if (!http_one_click(header(c, "Content-Type"), body, len)) {
		metrics_add(d->metrics, M_UNSUBSCRIBES, "result=\"bad_body\"", 1);
		reply_error(c, 400, "the body must be List-Unsubscribe=One-Click (RFC 8058)");
		return;
	}
	/* The state is keyed by the subject as the consent rules store it
	 * (auditd/ingest/kinds.c: ASCII lower case). */
	ak_ascii_lower_str(ut.subject);
	ak_time_format(now_text, now, AK_TIME_AUTO);
	rec = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s,s:o}}", "subject", ut.subject, "list",
	                ut.list, "action", "opt_out", "method", "one_click", "proof", "token_id",
	                ut.id, "client_ip", c->ip, "user_agent", ua_text, "time", now_text,
	                "token_issued", time_json(ut.issued_us));
	if (rec && ut.campaign[0])
		json_object_set_new(rec, "campaign", json_string(ut.campaign));
	if (rec == NULL || (w = waiting_new(c)) == NULL ||
	    (j = writer_job_new(WRITER_APPEND)) == NULL) {
		rc = ak_error_oom();
		goto fail;
	}
	w->html = html;
	w->subject = strdup(ut.subject);
	w->list = strdup(ut.list);
	w->at_us = now;
	if (w->subject == NULL || w->list == NULL) {
		rc = ak_error_oom();
		goto fail;
	}
	if ((rc = record_build(&j->batch, "consent", "http:unsubscribe", rec, now)) != 0)
		goto fail;
	assert(j->batch.n == 1);
	j->batch.recs[0].wanted = unsub_wanted;
	j->batch.recs[0].wanted_arg = w;
	j->done = unsub_done;
	j->ctx = w;
	if ((rc = writer_submit(d->writer, j)) != 0)
		goto fail;
	json_decref(rec);
	return;
fail:
	/* A subject the consent rules refuse (not an address) is the
	 * token's fault; anything else is ours. */
	metrics_add(d->metrics, M_UNSUBSCRIBES, "result=\"error\"", 1);
	if (rc == AK_EINVALID)
		reply_error(c, 400, "%s", ak_error_last());
	else
		reply_error(c, 503, "the opt-out could not be recorded; try again");
	writer_job_free(j);
	waiting_free(w);
	json_decref(rec);
}

/* ---- routing ---- */

static const struct route {
	enum evhttp_cmd_type method;
	const char *path; /* ends in '/': a prefix with a parameter after it */
	const char *name;
	void (*fn)(struct hctx *c, const char *rest);
} routes[] = {
        {EVHTTP_REQ_GET, "/healthz", "healthz", h_healthz},
        {EVHTTP_REQ_GET, "/metrics", "metrics", h_metrics},
        {EVHTTP_REQ_POST, "/v1/ingest", "ingest", h_ingest},
        {EVHTTP_REQ_POST, "/v1/ingest/", "ingest", h_ingest},
        {EVHTTP_REQ_GET, "/v1/entries", "entries", h_entries},
        {EVHTTP_REQ_GET, "/v1/search", "search", h_search},
        {EVHTTP_REQ_GET, "/v1/checkpoint", "checkpoint", h_checkpoint},
        {EVHTTP_REQ_POST, "/v1/checkpoint", "checkpoint", h_checkpoint_make},
        {EVHTTP_REQ_GET, "/v1/proof/", "proof", h_proof},
        {EVHTTP_REQ_GET, "/v1/consistency", "consistency", h_consistency},
        {EVHTTP_REQ_GET, "/v1/consent/", "consent", h_consent},
        {EVHTTP_REQ_POST, "/v1/gate", "gate", h_gate},
        {EVHTTP_REQ_GET, "/v1/unsubscribe", "unsubscribe", h_unsub_page},
        {EVHTTP_REQ_POST, "/v1/unsubscribe", "unsubscribe", h_unsub_post},
};

static void peer(struct evhttp_request *req, char *out, size_t cap)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	const char *addr = NULL;
	ev_uint16_t port = 0;

	if (evcon)
		evhttp_connection_get_peer(evcon, (char **)&addr, &port);
	snprintf(out, cap, "%s", addr ? addr : "");
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct daemon *d = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	struct hctx c = {0};
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	const struct route *r;
	int path_known = 0;
	size_t i;

	c.d = d;
	c.req = req;
	c.route = "other";
	c.t0 = ak_time_now();
	c.path = path ? path : "/";
	c.query = query ? query : "";
	peer(req, c.ip, sizeof(c.ip));
	if (d->draining) {
		reply_error(&c, 503, "shutting down");
		return;
	}
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		size_t n = strlen(routes[i].path);
		const char *rest;

		r = &routes[i];
		if (r->path[n - 1] == '/') {
			if (strncmp(c.path, r->path, n) != 0 || c.path[n] == '\0' ||
			    strchr(c.path + n, '/'))
				continue;
			rest = c.path + n;
		} else {
			if (strcmp(c.path, r->path) != 0)
				continue;
			rest = "";
		}
		path_known = 1;
		if (r->method != m)
			continue;
		c.route = r->name;
		r->fn(&c, rest);
		return;
	}
	if (path_known)
		reply_error(&c, 405, "method not allowed here");
	else
		reply_error(&c, 404, "no such route (see docs/API.md)");
}

/* ---- server ---- */

static struct bufferevent *tls_bev(struct event_base *base, void *arg)
{
	struct daemon *d = arg;
	SSL *ssl = SSL_new((SSL_CTX *)d->ssl);

	if (ssl == NULL)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                      BEV_OPT_CLOSE_ON_FREE);
}

void http_apply_settings(struct daemon *d)
{
	evhttp_set_max_body_size(d->http, (ev_ssize_t)d->s.max_body);
	evhttp_set_max_headers_size(d->http, 64 * 1024);
	evhttp_set_timeout(d->http, (int)(d->s.timeout_s > 0 ? d->s.timeout_s : 60));
}

int http_start(struct daemon *d)
{
	const char *listen = config_get(d->cfg, "listen");
	char host[256];
	int port;

	if (ak_hostport_split(listen, host, sizeof(host), -1, &port) != 0)
		return ak_error_code(AK_EINVALID, "listen '%s': expected HOST:PORT or [V6]:PORT",
		                     listen);
	if ((d->http = evhttp_new(d->base)) == NULL)
		return ak_error_oom();
	/* Methods we do not route get 405 from the router (501 for the
	 * ones evhttp does not know). */
	evhttp_set_allowed_methods(d->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
	                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
	                                            EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(d->http, on_request, d);
	if (d->ssl)
		evhttp_set_bevcb(d->http, tls_bev, d);
	http_apply_settings(d);
	d->bound = evhttp_bind_socket_with_handle(d->http, host, (ev_uint16_t)port);
	if (d->bound == NULL)
		return ak_error_set("listen %s: cannot bind (in use, or not allowed)", listen);
	return 0;
}

void http_stop_accepting(struct daemon *d)
{
	if (d->http && d->bound) {
		evhttp_del_accept_socket(d->http, d->bound);
		d->bound = NULL;
	}
}

void http_abort_streams(struct daemon *d)
{
	while (d->streams) {
		struct http_stream *s = d->streams;

		if (s->evcon) {
			/* Cut the connection, so the client cannot take a
			 * partial export for a whole one. */
			evhttp_connection_set_closecb(s->evcon, NULL, NULL);
			evhttp_connection_free(s->evcon);
		} else if (s->closed) {
			evhttp_send_reply_end(s->c.req);
		}
		stream_free(s);
	}
}

void http_free(struct daemon *d)
{
	if (d->http)
		evhttp_free(d->http);
	d->http = NULL;
	free(d->buckets);
	d->buckets = NULL;
}
