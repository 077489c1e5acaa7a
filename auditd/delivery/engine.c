/*
 * auditd/delivery/engine.c - the delivery engine (see delivery.h): loading
 * campaigns into the queue, and running the queue.
 *
 * Threads. delivery_run() runs the control loop on the caller's thread:
 * it is the only one that touches the queue database, the gate's
 * connection and the sink. Signer threads render and sign messages; the
 * SMTP client's thread delivers them and hands each job back.
 *
 *   control:  take due rows -> gate -> append entries (queued | blocked)
 *             -> queue: INFLIGHT, attempts + 1 -> signers
 *   signers:  render -> DKIM -> SMTP client
 *   SMTP:     deliver -> done list
 *   control:  done list -> append entries (sent | deferred | bounced |
 *             expired) -> queue: final state or next_at
 *
 * Each step's entries are appended (durable) before the queue records the
 * step, and the queue records the seq it has caught up to (ev_mark) in the
 * same transaction. After a crash, reconcile() reads the send entries
 * after ev_mark and applies them to the queue, so the queue never lags the
 * log: a message whose `sent` entry exists is SENT, whatever the queue
 * said. Messages still INFLIGHT were handed to SMTP and have no outcome:
 * they are retried, their attempt number counting on (the entry of the
 * retry says attempt 2). A message may thus reach a recipient twice when
 * the crash fell between the server's 250 and the append of `sent` - the
 * one window no SMTP client can close - but never without an entry, and
 * never again after one.
 *
 * Memory is bounded by max_inflight messages (each rendered only when a
 * signer takes it) plus one batch of rows, whatever the campaign's size.
 */
#include "auditd/delivery/delivery_int.h"

#include "auditd/ingest/kinds.h"
#include "auditd/unsubscribe.h"
#include "lib/b64.h"
#include "lib/ascii.h"
#include "lib/csv.h"
#include "lib/error.h"
#include "lib/jcs.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "policies/gate.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define SOURCE "akashi:delivery"

/* After delivery_stop(), how long messages on the wire may take to finish. */
#define DRAIN_US (10 * INT64_C(1000000))

struct camp {
	struct camp *next;
	struct dq_campaign c;
	struct delivery_template *t; /* NULL for a gateway message (c.raw) */
	int *colmap;                 /* per template field: its column */
	char domain[256];
	int marketing;
	const char *name; /* the campaign the entries name: c.label or c.id */
};

struct msg {
	struct smtp_job job; /* first: a job pointer is a msg pointer */
	struct camp *camp;
	int64_t idx, created;
	int attempt;
	char rcpt[256];
	char message_id[320];
	char unsub_url[1024];
	char *fields;
	size_t fields_len;
	json_t *gate; /* the decision that let this attempt go, for its outcome's record */
};

static void msg_free(struct msg *m);

struct task {
	struct task *next;
	void (*fn)(struct delivery *d, void *arg);
	void *arg;
};

struct delivery {
	struct delivery_options o;
	struct delivery_sink sink;
	const struct policy_set *set;
	sqlite3 *gate_db;
	struct gate *gate;
	json_t *allow_json; /* the decision every allowed message records, for allow_commit */
	char allow_commit[41];
	struct dqueue *q;
	struct dkim_key *key, *edkey;
	struct smtp_client *smtp;
	struct camp *camps;
	int64_t gc_at; /* when finished gateway messages were last removed */

	pthread_t *signers;
	int nsigners;
	pthread_mutex_t mu;
	pthread_cond_t cv_work, cv_done;
	struct msg **work; /* ring of messages waiting for a signer */
	size_t work_head, work_n, work_cap;
	struct smtp_job *done;
	struct task *tasks, **tasks_tail;
	int quit_signers;
	int inflight;
	volatile sig_atomic_t stop;
};

void delivery_options_default(struct delivery_options *o)
{
	memset(o, 0, sizeof(*o));
	o->tls = DELIVERY_TLS_REQUIRED;
	o->mx_port = 25;
	o->max_age_s = 5 * 86400;
	o->retry_min_s = 300;
	o->retry_max_s = 4 * 3600;
	o->connections = 8;
	o->max_inflight = 512;
	o->timeout_s = 120;
	o->batch = 256;
	o->gate_cache_kib = GATE_CACHE_KIB;
}

/* ---- the sink over a store ---- */

static int store_append(void *ctx, const struct evidence_record *recs, size_t n, int64_t *last)
{
	struct evidence_append_result r;
	int rc = evidence_append(ctx, recs, n, NULL, &r);

	if (rc == 0)
		*last = r.last_seq;
	return rc;
}

static int store_scan(void *ctx, int64_t from_seq, evidence_entry_cb cb, void *cb_ctx)
{
	struct evidence_filter f = {0};

	f.kind = "send";
	f.from_seq = from_seq;
	return evidence_scan(ctx, &f, cb, cb_ctx);
}

void delivery_sink_store(struct delivery_sink *out, struct evidence_store *st)
{
	out->append = store_append;
	out->scan = store_scan;
	out->ctx = st;
}

/* ---- campaigns in memory ---- */

static void camp_free(struct camp *c)
{
	dq_campaign_clear(&c->c);
	delivery_template_free(c->t);
	free(c->colmap);
	free(c);
}

static int column_of(char *const *cols, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(cols[i], name) == 0)
			return (int)i;
	return -1;
}

/* The campaign's template parsed and its fields mapped to columns. */
static int camp_prepare(struct camp *k, const struct delivery_options *o)
{
	size_t i, nf;
	const char *at;
	int rc;

	k->name = k->c.raw ? k->c.label : k->c.id;
	k->marketing = strcmp(k->c.stream, "marketing") == 0;
	at = strrchr(k->c.sender, '@');
	snprintf(k->domain, sizeof(k->domain), "%s",
	         o->dkim_domain && *o->dkim_domain ? o->dkim_domain
	         : at                              ? at + 1
	                                           : "localhost");
	if (k->c.raw)
		return 0; /* the message is sent as it is */
	if ((rc = delivery_template_parse(&k->t, k->c.template_data, k->c.template_len)) != 0)
		return rc;
	nf = delivery_template_nfields(k->t);
	if ((k->colmap = calloc(nf + 1, sizeof(int))) == NULL)
		return ak_error_oom();
	for (i = 0; i < nf; i++) {
		k->colmap[i] =
		        column_of(k->c.columns, k->c.ncolumns, delivery_template_field(k->t, i));
		if (k->colmap[i] < 0)
			return ak_error_code(AK_EINVALID,
			                     "the template uses {{%s}} but the recipients have no "
			                     "column '%s'",
			                     delivery_template_field(k->t, i),
			                     delivery_template_field(k->t, i));
	}
	return 0;
}

static struct camp *camp_get(struct delivery *d, const char *id)
{
	struct camp *k;

	for (k = d->camps; k; k = k->next)
		if (strcmp(k->c.id, id) == 0)
			return k;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	if (dq_campaign_get(d->q, id, &k->c) != 0 || camp_prepare(k, &d->o) != 0) {
		camp_free(k);
		return NULL;
	}
	k->next = d->camps;
	d->camps = k;
	return k;
}

static void message_id(char *out, size_t cap, const struct camp *k, int64_t idx)
{
	if (k->c.raw)
		snprintf(out, cap, "%s", k->c.message_id);
	else
		snprintf(out, cap, "<%lld.%s@%s>", (long long)idx, k->c.nonce, k->domain);
}

/* idx and nonce back out of a Message-ID this engine made. */
static int parse_message_id(const char *mid, int64_t *idx, char *nonce, size_t cap)
{
	const char *p = mid, *dot, *at;
	int64_t v = 0;

	if (*p++ != '<')
		return -1;
	for (; *p >= '0' && *p <= '9' && v < (INT64_C(1) << 50); p++)
		v = v * 10 + (*p - '0');
	if (*p != '.' || p == mid + 1)
		return -1;
	dot = p;
	at = strchr(dot, '@');
	if (at == NULL || (size_t)(at - dot - 1) >= cap || at == dot + 1)
		return -1;
	memcpy(nonce, dot + 1, (size_t)(at - dot - 1));
	nonce[at - dot - 1] = '\0';
	*idx = v;
	return 0;
}

/* ---- records ---- */

struct batch {
	struct evidence_record *r;
	size_t *off, *len;
	size_t n, cap;
	struct ak_buf bytes;
};

static void batch_reset(struct batch *b)
{
	b->n = 0;
	ak_buf_reset(&b->bytes);
}

static void batch_free(struct batch *b)
{
	free(b->r);
	free(b->off);
	free(b->len);
	ak_buf_free(&b->bytes);
}

/* Add a send entry whose body is o (reference stolen). */
static int batch_add(struct batch *b, json_t *o, int64_t time_us)
{
	size_t start = b->bytes.len;
	int rc;

	if (o == NULL)
		return ak_error_oom();
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		struct evidence_record *r = realloc(b->r, cap * sizeof(*r));
		size_t *off, *len;

		if (r == NULL) {
			json_decref(o);
			return ak_error_oom();
		}
		b->r = r;
		off = realloc(b->off, cap * sizeof(*off));
		if (off)
			b->off = off;
		len = off ? realloc(b->len, cap * sizeof(*len)) : NULL;
		if (len)
			b->len = len;
		if (off == NULL || len == NULL) {
			json_decref(o);
			return ak_error_oom();
		}
		b->cap = cap;
	}
	rc = ak_jcs_write_jansson(&b->bytes, o);
	json_decref(o);
	if (rc)
		return rc;
	memset(&b->r[b->n], 0, sizeof(b->r[b->n]));
	b->r[b->n].kind = "send";
	b->r[b->n].time_us = time_us;
	b->r[b->n].source = SOURCE;
	b->r[b->n].source_len = strlen(SOURCE);
	b->off[b->n] = start;
	b->len[b->n] = b->bytes.len - start;
	b->n++;
	return 0;
}

/* Append the batch through the sink; *last gets the last seq. */
static int batch_flush(struct delivery *d, struct batch *b, int64_t *last)
{
	size_t i;

	*last = 0;
	if (b->n == 0)
		return 0;
	for (i = 0; i < b->n; i++) {
		b->r[i].body = b->bytes.data + b->off[i];
		b->r[i].body_len = b->len[i];
	}
	return d->sink.append(d->sink.ctx, b->r, b->n, last);
}

/* The JSON of a decision (a new reference). A plain allow is the same
 * object for every message under one policy commit, made once. */
static json_t *decision_json(struct delivery *d, const struct gate_decision *gd)
{
	if (!gd->allow || gd->nreasons)
		return gate_decision_json(gd);
	if (d->allow_json == NULL || strcmp(d->allow_commit, gd->policy_commit) != 0) {
		json_decref(d->allow_json);
		d->allow_json = gate_decision_json(gd);
		snprintf(d->allow_commit, sizeof(d->allow_commit), "%s", gd->policy_commit);
	}
	return json_incref(d->allow_json);
}

int delivery_record(struct delivery *d, const char *kind, const char *source, json_t *body,
                    int64_t time_us)
{
	struct batch b = {0};
	int64_t last;
	int rc = batch_add(&b, body, time_us);

	if (rc == 0) {
		b.r[0].kind = kind;
		b.r[0].source = source;
		b.r[0].source_len = strlen(source);
		rc = batch_flush(d, &b, &last);
	}
	batch_free(&b);
	return rc;
}

/* What every send entry of a message says about where it comes from. */
struct send_ref {
	const char *message_id, *campaign, *list, *stream, *from, *owner;
	const char *via, *submission, *peer; /* gateway messages; NULL otherwise */
};

static json_t *send_body(const struct send_ref *r, const char *rcpt, const char *status)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "message_id", r->message_id,
	                      "campaign", r->campaign, "list", r->list, "stream", r->stream, "from",
	                      r->from, "rcpt", rcpt, "status", status);

	if (o && r->owner && *r->owner)
		json_object_set_new(o, "owner", json_string(r->owner));
	if (o && r->via) {
		json_t *sub = json_pack("{s:s}", "via", r->via);

		if (sub && r->submission)
			json_object_set_new(sub, "id", json_string(r->submission));
		if (sub && r->peer && *r->peer)
			json_object_set_new(sub, "peer", json_string(r->peer));
		json_object_set_new(o, "submission", sub);
	}
	return o;
}

static void camp_ref(const struct camp *k, const char *mid, struct send_ref *r)
{
	memset(r, 0, sizeof(*r));
	r->message_id = mid;
	r->campaign = k->name;
	r->list = k->c.list;
	r->stream = k->c.stream;
	r->from = k->c.sender;
	r->owner = k->c.owner;
	if (k->c.raw) {
		r->via = k->c.via;
		r->submission = k->c.id;
		r->peer = k->c.peer;
	}
}

static json_t *body_common(const struct camp *k, const char *rcpt, const char *mid,
                           const char *status)
{
	struct send_ref r;

	camp_ref(k, mid, &r);
	return send_body(&r, rcpt, status);
}

/* A `blocked` entry: the gate's decision and the campaign size it saw.
 * The engine's gate and the gateway's (at RCPT) are recorded alike. */
static json_t *blocked_body(const struct send_ref *r, const char *rcpt,
                            const struct gate_decision *gd, int64_t size)
{
	json_t *o = send_body(r, rcpt, "blocked");

	if (o) {
		json_object_set_new(o, "gate", gate_decision_json(gd));
		if (size >= 0)
			json_object_set_new(o, "campaign_size", json_integer(size));
	}
	return o;
}

static void time_text(char out[AK_TIME_MAX], int64_t us)
{
	ak_time_format(out, us, AK_TIME_SECONDS);
}

/* ---- unsubscribe links ---- */

/* Marketing mail gets a link only with an https base URL and a secret;
 * without one, the gate's message.unsubscribe_headers policy blocks it. */
static int can_unsubscribe(const struct delivery *d)
{
	return d->o.unsub_base_url && strncmp(d->o.unsub_base_url, "https://", 8) == 0 &&
	       d->o.unsub_secret && d->o.unsub_secret_len >= UNSUB_SECRET_MIN;
}

int delivery_can_unsubscribe(const struct delivery *d)
{
	return can_unsubscribe(d);
}

static int unsub_url(const struct delivery *d, const struct camp *k, const char *rcpt,
                     int64_t created, char *out, size_t cap)
{
	struct ak_buf tok = AK_BUF_INIT(4096);
	const char *base = d->o.unsub_base_url;
	size_t bl = strlen(base);
	int rc;

	while (bl && base[bl - 1] == '/')
		bl--;
	rc = unsub_token_make(&tok, d->o.unsub_secret, d->o.unsub_secret_len, rcpt, k->c.list,
	                      k->name, created);
	if (rc == 0 &&
	    (size_t)snprintf(out, cap, "%.*s/v1/unsubscribe?t=%s", (int)bl, base, tok.data) >= cap)
		rc = ak_error_code(AK_ETOOBIG, "the unsubscribe URL is too long");
	ak_buf_free(&tok);
	return rc;
}

/* ---- signers ---- */

struct signer_ctx {
	struct delivery *d;
	struct dkim_signer *dkim;
	struct ak_buf msg, scratch, sig;
};

static void push_done(struct delivery *d, struct smtp_job *j)
{
	pthread_mutex_lock(&d->mu);
	j->next = d->done;
	d->done = j;
	pthread_cond_signal(&d->cv_done);
	pthread_mutex_unlock(&d->mu);
}

static void smtp_done(void *ctx, struct smtp_job *j)
{
	push_done(ctx, j);
}

/* Render and sign m into m->job.data. */
static int prepare(struct signer_ctx *s, struct msg *m)
{
	struct camp *k = m->camp;
	const char *cols[4096];
	const char *vals[4096];
	struct delivery_render r;
	size_t ncol = 0, i, nf = k->t ? delivery_template_nfields(k->t) : 0;
	const char *p = m->fields, *end = m->fields + m->fields_len;
	int64_t now = ak_time_now();
	int rc;

	ak_buf_reset(&s->msg);
	ak_buf_reset(&s->sig);
	if (k->c.raw) {
		rc = delivery_compose_raw(&s->msg, k->c.template_data, k->c.template_len,
		                          m->unsub_url[0] ? m->unsub_url : NULL);
		goto sign;
	}
	while (p <= end && ncol < 4096) {
		cols[ncol++] = p;
		p += strlen(p) + 1;
	}
	for (i = 0; i < nf && i < 4096; i++)
		vals[i] = (size_t)k->colmap[i] < ncol ? cols[k->colmap[i]] : "";
	memset(&r, 0, sizeof(r));
	r.rcpt = m->rcpt;
	r.from = k->c.sender;
	r.message_id = m->message_id;
	r.list_unsubscribe = m->unsub_url[0] ? m->unsub_url : NULL;
	r.date_us = now;
	r.values = vals;
	r.nfields = nf;
	rc = delivery_render(&s->msg, &s->scratch, k->t, &r);
sign:
	if (rc != 0 ||
	    (rc = dkim_signer_sign(s->dkim, &s->sig, s->msg.data, s->msg.len, now / 1000000)) != 0)
		return rc;
	if ((m->job.data = malloc(s->sig.len + s->msg.len)) == NULL)
		return ak_error_oom();
	memcpy(m->job.data, s->sig.data, s->sig.len);
	memcpy(m->job.data + s->sig.len, s->msg.data, s->msg.len);
	m->job.len = s->sig.len + s->msg.len;
	for (i = 0; i < m->job.len; i++)
		if ((unsigned char)m->job.data[i] >= 0x80) {
			m->job.eightbit = 1;
			break;
		}
	return 0;
}

static void *signer_main(void *arg)
{
	struct signer_ctx *s = arg;
	struct delivery *d = s->d;

	for (;;) {
		struct msg *batch[32];
		struct smtp_job *ready = NULL;
		size_t n = 0, i;

		pthread_mutex_lock(&d->mu);
		while (d->work_n == 0 && !d->quit_signers)
			pthread_cond_wait(&d->cv_work, &d->mu);
		if (d->work_n == 0 && d->quit_signers) {
			pthread_mutex_unlock(&d->mu);
			break;
		}
		/* A few at a time: fewer wake-ups, and still both signers busy. */
		while (d->work_n && n < 8) {
			batch[n++] = d->work[d->work_head];
			d->work_head = (d->work_head + 1) % d->work_cap;
			d->work_n--;
		}
		pthread_mutex_unlock(&d->mu);
		for (i = 0; i < n; i++) {
			struct msg *m = batch[i];

			if (prepare(s, m) != 0) {
				snprintf(
				        m->job.reply, sizeof(m->job.reply),
				        "4.3.0 akashi could not render or sign the message: %.400s",
				        ak_error_last());
				m->job.outcome = SMTP_DEFERRED;
				push_done(d, &m->job);
				continue;
			}
			m->job.next = ready;
			ready = &m->job;
		}
		smtp_client_submit(d->smtp, ready);
	}
	dkim_signer_free(s->dkim);
	ak_buf_free(&s->msg);
	ak_buf_free(&s->scratch);
	ak_buf_free(&s->sig);
	free(s);
	return NULL;
}

static int start_workers(struct delivery *d)
{
	struct smtp_client_conf sc;
	struct dkim_signer_conf dc;
	int i, rc;

	if (d->smtp)
		return 0;
	memset(&sc, 0, sizeof(sc));
	sc.relay = d->o.relay && *d->o.relay ? d->o.relay : NULL;
	sc.mx_port = d->o.mx_port;
	sc.user = d->o.relay_user;
	sc.password = d->o.relay_password;
	sc.tls = d->o.tls;
	sc.ca_file = d->o.ca_file;
	sc.helo = d->o.helo;
	sc.dns_server = d->o.dns_server;
	sc.connections = d->o.connections;
	sc.rate = d->o.rate;
	sc.timeout_s = d->o.timeout_s;
	if ((rc = smtp_client_new(&d->smtp, &sc, smtp_done, d)) != 0)
		return rc;
	memset(&dc, 0, sizeof(dc));
	dc.domain = d->o.dkim_domain;
	dc.selector = d->o.dkim_selector;
	dc.key = d->key;
	dc.ed_selector = d->o.dkim_ed25519_selector;
	dc.ed_key = d->edkey;
	dc.use_libopendkim = d->o.dkim_libopendkim;
	d->nsigners = d->o.signers > 0 ? d->o.signers : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (d->nsigners < 1)
		d->nsigners = 1;
	if (d->nsigners > 64)
		d->nsigners = 64;
	if ((d->signers = calloc((size_t)d->nsigners, sizeof(pthread_t))) == NULL)
		return ak_error_oom();
	for (i = 0; i < d->nsigners; i++) {
		struct signer_ctx *s = calloc(1, sizeof(*s));

		if (s == NULL)
			return ak_error_oom();
		s->d = d;
		ak_buf_init(&s->msg, 32 << 20);
		ak_buf_init(&s->scratch, 32 << 20);
		ak_buf_init(&s->sig, 1 << 16);
		if ((rc = dkim_signer_new(&s->dkim, &dc)) != 0) {
			free(s);
			d->nsigners = i;
			return rc;
		}
		if (pthread_create(&d->signers[i], NULL, signer_main, s) != 0) {
			dkim_signer_free(s->dkim);
			free(s);
			d->nsigners = i;
			return ak_error_set("cannot start a signer thread");
		}
	}
	return 0;
}

static void stop_workers(struct delivery *d)
{
	int i;

	pthread_mutex_lock(&d->mu);
	d->quit_signers = 1;
	pthread_cond_broadcast(&d->cv_work);
	pthread_mutex_unlock(&d->mu);
	for (i = 0; i < d->nsigners; i++)
		pthread_join(d->signers[i], NULL);
	free(d->signers);
	d->signers = NULL;
	d->nsigners = 0;
	smtp_client_free(d->smtp); /* gives back what it held, deferred */
	d->smtp = NULL;
	d->quit_signers = 0;
}

/* ---- construction ---- */

int delivery_new(struct delivery **out, const struct delivery_options *o,
                 const struct delivery_sink *sink, sqlite3 *gate_db, const struct policy_set *set)
{
	struct delivery *d = calloc(1, sizeof(*d));
	int rc = 0;

	if (d == NULL)
		return ak_error_oom();
	d->o = *o;
	d->sink = *sink;
	d->set = set;
	d->gate_db = gate_db;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv_work, NULL);
	pthread_cond_init(&d->cv_done, NULL);
	d->tasks_tail = &d->tasks;
	if (d->o.batch < 1)
		d->o.batch = 256;
	if (d->o.max_inflight < 1)
		d->o.max_inflight = 1;
	d->work_cap = (size_t)d->o.max_inflight + 1;
	if ((d->work = calloc(d->work_cap, sizeof(*d->work))) == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	if (o->queue_path == NULL) {
		rc = ak_error_code(AK_EINVALID, "no queue path");
		goto done;
	}
	if (o->dkim_key == NULL || !*o->dkim_key || !o->dkim_domain || !*o->dkim_domain ||
	    !o->dkim_selector || !*o->dkim_selector) {
		rc = ak_error_code(AK_EINVALID, "every message is DKIM-signed: set dkim.domain, "
		                                "dkim.selector and dkim.key");
		goto done;
	}
	if ((rc = dkim_key_load(&d->key, o->dkim_key)) != 0)
		goto done;
	if (o->dkim_ed25519_key && *o->dkim_ed25519_key &&
	    (rc = dkim_key_load(&d->edkey, o->dkim_ed25519_key)) != 0)
		goto done;
	gate_cache_at_least(gate_db, o->gate_cache_kib);
	if ((rc = gate_new(&d->gate, gate_db, set)) != 0)
		goto done;
	rc = dq_open(&d->q, o->queue_path, 1);
done:
	if (rc) {
		delivery_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

static void run_tasks(struct delivery *d);

void delivery_free(struct delivery *d)
{
	if (d == NULL)
		return;
	if (d->smtp)
		stop_workers(d);
	while (d->done) {
		struct msg *m = (struct msg *)d->done;

		d->done = d->done->next;
		msg_free(m);
	}
	run_tasks(d); /* whoever posted them waits for them */
	while (d->camps) {
		struct camp *k = d->camps;

		d->camps = k->next;
		camp_free(k);
	}
	gate_free(d->gate);
	json_decref(d->allow_json);
	dq_close(d->q);
	dkim_key_free(d->key);
	dkim_key_free(d->edkey);
	free(d->work);
	pthread_cond_destroy(&d->cv_work);
	pthread_cond_destroy(&d->cv_done);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

void delivery_stop(struct delivery *d)
{
	d->stop = 1;
}

int delivery_set_policies(struct delivery *d, const struct policy_set *set)
{
	struct gate *g = NULL;
	int rc;

	if ((rc = gate_new(&g, d->gate_db, set)) != 0)
		return rc;
	gate_free(d->gate);
	d->gate = g;
	d->set = set;
	return 0;
}

int delivery_post(struct delivery *d, void (*fn)(struct delivery *d, void *arg), void *arg)
{
	struct task *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return ak_error_oom();
	t->fn = fn;
	t->arg = arg;
	pthread_mutex_lock(&d->mu);
	*d->tasks_tail = t;
	d->tasks_tail = &t->next;
	pthread_cond_signal(&d->cv_done);
	pthread_mutex_unlock(&d->mu);
	return 0;
}

/* Run the tasks posted so far, on the control thread. */
static void run_tasks(struct delivery *d)
{
	struct task *t;

	pthread_mutex_lock(&d->mu);
	t = d->tasks;
	d->tasks = NULL;
	d->tasks_tail = &d->tasks;
	pthread_mutex_unlock(&d->mu);
	while (t) {
		struct task *next = t->next;

		t->fn(d, t->arg);
		free(t);
		t = next;
	}
}

/* ---- loading a campaign ---- */

struct loader {
	struct delivery *d;
	const struct delivery_campaign *c;
	struct delivery_template *t;
	char **cols;
	size_t ncols;
	int email;
	int *colmap;
	struct ak_buf fields;
	char rcpt[256];
	const char **vals;          /* per template field: its value in the row */
	struct ak_buf hdr, scratch; /* the row's header fields, rendered */
};

/* Check one CSV record; fills l->rcpt and l->fields. AK_EINVALID with why. */
static int check_row(struct loader *l, const struct ak_csv_field *f, size_t n)
{
	size_t i, nf = delivery_template_nfields(l->t);
	int lower, rc;

	if (n != l->ncols)
		return ak_error_code(AK_EINVALID, "%zu fields where the header has %zu", n,
		                     l->ncols);
	if (!ingest_is_email(f[l->email].ptr, f[l->email].len, &lower) ||
	    f[l->email].len >= sizeof(l->rcpt) || f[l->email].ptr[0] == '"')
		return ak_error_code(AK_EINVALID,
		                     "column 'email': '%.80s' is not an e-mail address",
		                     f[l->email].ptr);
	for (i = 0; i <= f[l->email].len; i++)
		l->rcpt[i] = ak_ascii_lower(f[l->email].ptr[i]);
	for (i = 0; i < nf; i++) {
		if ((rc = delivery_value_check(l->t, i, f[l->colmap[i]].ptr,
		                               f[l->colmap[i]].len)) != 0)
			return rc;
		l->vals[i] = f[l->colmap[i]].ptr;
	}
	/* The header fields as they will go out (a long display name list
	 * may not fit a line): refused now, not deferred at every attempt. */
	{
		struct delivery_render r = {0};

		r.rcpt = l->rcpt;
		r.from = l->c->from;
		r.message_id = "<>";
		r.values = l->vals;
		r.nfields = nf;
		ak_buf_reset(&l->hdr);
		if ((rc = delivery_render_headers(&l->hdr, &l->scratch, l->t, &r)) != 0)
			return rc;
	}
	ak_buf_reset(&l->fields);
	for (i = 0; i < n; i++)
		if ((rc = ak_buf_append(&l->fields, f[i].ptr, f[i].len + (i + 1 < n))) != 0)
			return rc;
	return 0;
}

/* Where the email column and each template field are. */
static int map_columns(struct loader *l)
{
	size_t i, nf = delivery_template_nfields(l->t);

	if ((l->email = column_of(l->cols, l->ncols, "email")) < 0)
		return ak_error_code(AK_EINVALID, "%s: no 'email' column", l->c->recipients);
	if ((l->colmap = calloc(nf + 1, sizeof(int))) == NULL ||
	    (l->vals = calloc(nf + 1, sizeof(*l->vals))) == NULL)
		return ak_error_oom();
	for (i = 0; i < nf; i++)
		if ((l->colmap[i] =
		             column_of(l->cols, l->ncols, delivery_template_field(l->t, i))) < 0)
			return ak_error_code(AK_EINVALID,
			                     "the template uses {{%s}} but %s has no such column",
			                     delivery_template_field(l->t, i), l->c->recipients);
	return 0;
}

/* Pass over the recipients: insert (when insert) rows after skip. */
static int load_pass(struct loader *l, int insert, int64_t skip, struct delivery_load *out,
                     int64_t created)
{
	struct ak_csv_reader r;
	const struct ak_csv_field *f;
	size_t n, i;
	int64_t idx = 0, in_txn = 0;
	FILE *in = fopen(l->c->recipients, "rb");
	int rc = 0, got;

	if (in == NULL)
		return ak_error_set("%s: %s", l->c->recipients, strerror(errno));
	if ((rc = ak_csv_init(&r, in, NULL)) != 0) {
		fclose(in);
		return rc;
	}
	got = ak_csv_next(&r, &f, &n);
	if (got <= 0) {
		rc = got < 0 ? got : ak_error_code(AK_EINVALID, "no header line");
		ak_error_prefix("%s", l->c->recipients);
		goto done;
	}
	if (l->cols == NULL) {
		if ((l->cols = calloc(n + 1, sizeof(char *))) == NULL) {
			rc = ak_error_oom();
			goto done;
		}
		for (i = 0; i < n; i++)
			if ((l->cols[i] = strdup(f[i].ptr)) == NULL) {
				rc = ak_error_oom();
				goto done;
			}
		l->ncols = n;
		if ((rc = map_columns(l)) != 0)
			goto done;
	}
	while ((got = ak_csv_next(&r, &f, &n)) != 0) {
		idx++;
		if (got < 0) {
			if (!insert) {
				out->invalid++;
				if (l->c->reject)
					l->c->reject(l->c->reject_ctx, r.line, r.reason);
			}
			if (got == AK_ERROR) {
				rc = got;
				goto done;
			}
			continue;
		}
		rc = check_row(l, f, n);
		if (rc == AK_ENOMEM || rc == AK_ETOOBIG)
			goto done;
		if (rc != 0) {
			if (!insert) {
				out->invalid++;
				if (l->c->reject)
					l->c->reject(l->c->reject_ctx, r.line, ak_error_last());
			}
			rc = 0;
			continue;
		}
		if (!insert || idx <= skip)
			continue;
		if (in_txn == 0 && (rc = dq_begin(l->d->q)) != 0)
			goto done;
		rc = dq_add(l->d->q, l->c->id, idx, l->rcpt, l->fields.data ? l->fields.data : "",
		            l->fields.len, created);
		if (rc < 0)
			goto done;
		if (rc == 1)
			out->loaded++;
		else
			out->duplicates++;
		rc = 0;
		if (++in_txn == 5000) {
			if ((rc = dq_commit(l->d->q)) != 0)
				goto done;
			in_txn = 0;
		}
	}
	if (in_txn && (rc = dq_commit(l->d->q)) != 0)
		goto done;
	in_txn = 0;
done:
	if (in_txn)
		dq_rollback(l->d->q);
	ak_csv_free(&r);
	fclose(in);
	return rc;
}

int delivery_campaign_id_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 200)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._-:", s[i])))
			return 0;
	return 1;
}

int delivery_submit(struct delivery *d, const struct delivery_campaign *c,
                    struct delivery_load *out)
{
	struct loader l;
	struct dq_campaign have, add;
	char nonce[17], from[256];
	size_t i;
	int64_t max_idx = 0, created = ak_time_now();
	int rc, lower;

	memset(out, 0, sizeof(*out));
	memset(&l, 0, sizeof(l));
	memset(&have, 0, sizeof(have));
	l.d = d;
	l.c = c;
	ak_buf_init(&l.fields, 8 << 20);
	ak_buf_init(&l.hdr, 8 << 20);
	ak_buf_init(&l.scratch, 8 << 20);
	if (!c->id || !delivery_campaign_id_valid(c->id)) {
		rc = ak_error_code(AK_EINVALID, "campaign id: 1 to 200 of A-Z a-z 0-9 . _ - :");
		goto done;
	}
	if (!c->stream || (strcmp(c->stream, "marketing") && strcmp(c->stream, "transactional"))) {
		rc = ak_error_code(AK_EINVALID, "stream: marketing or transactional");
		goto done;
	}
	if (!c->list || !*c->list || strlen(c->list) > 200) {
		rc = ak_error_code(AK_EINVALID, "a list name (1 to 200 bytes) is required");
		goto done;
	}
	if (!c->from || strlen(c->from) >= sizeof(from) ||
	    !ingest_is_email(c->from, strlen(c->from), &lower) || c->from[0] == '"') {
		rc = ak_error_code(AK_EINVALID, "from: '%s' is not an e-mail address",
		                   c->from ? c->from : "");
		goto done;
	}
	for (i = 0; i <= strlen(c->from); i++)
		from[i] = ak_ascii_lower(c->from[i]);
	if ((rc = delivery_template_parse(&l.t, c->template_data, c->template_len)) != 0) {
		ak_error_prefix("template");
		goto done;
	}
	rc = dq_campaign_get(d->q, c->id, &have);
	if (rc == 0) {
		if (have.template_len != c->template_len ||
		    memcmp(have.template_data, c->template_data, c->template_len) != 0 ||
		    strcmp(have.stream, c->stream) || strcmp(have.list, c->list) ||
		    strcmp(have.sender, from)) {
			rc = ak_error_code(AK_EEXISTS,
			                   "campaign '%s' is already in the queue with another "
			                   "template, stream, list or sender",
			                   c->id);
			goto done;
		}
		out->resumed = 1;
		created = have.created;
		if (have.loaded) {
			out->size = have.size;
			goto done;
		}
	} else if (rc != AK_ENOTFOUND)
		goto done;
	rc = 0;
	/* First pass: every row valid (or skip_invalid), before anything is
	 * queued. */
	if ((rc = load_pass(&l, 0, 0, out, created)) != 0)
		goto done;
	if (out->invalid && !c->skip_invalid) {
		rc = ak_error_code(AK_EINVALID,
		                   "%lld recipient row(s) refused; nothing queued (fix them, or "
		                   "--skip-invalid)",
		                   (long long)out->invalid);
		goto done;
	}
	if (have.id == NULL) {
		memset(&add, 0, sizeof(add));
		if ((rc = ak_random_hex(nonce, 8)) != 0)
			goto done;
		add.id = (char *)c->id;
		add.stream = (char *)c->stream;
		add.list = (char *)c->list;
		add.sender = from;
		add.owner = (char *)c->owner;
		add.nonce = nonce;
		add.template_data = (char *)c->template_data;
		add.template_len = c->template_len;
		add.columns = l.cols;
		add.ncolumns = l.ncols;
		add.created = created;
		if ((rc = dq_campaign_add(d->q, &add)) != 0)
			goto done;
	} else if ((rc = dq_max_idx(d->q, c->id, &max_idx)) != 0)
		goto done;
	if ((rc = load_pass(&l, 1, max_idx, out, created)) != 0)
		goto done;
	{
		struct delivery_counts k;

		if ((rc = dq_counts(d->q, c->id, 0, &k)) != 0 ||
		    (rc = dq_campaign_loaded(d->q, c->id, k.total)) != 0)
			goto done;
		out->size = k.total;
	}
done:
	if (l.cols) {
		for (i = 0; i < l.ncols; i++)
			free(l.cols[i]);
		free(l.cols);
	}
	free(l.colmap);
	free(l.vals);
	delivery_template_free(l.t);
	ak_buf_free(&l.fields);
	ak_buf_free(&l.hdr);
	ak_buf_free(&l.scratch);
	dq_campaign_clear(&have);
	return rc;
}

/* ---- messages handed in whole (the gateway) ---- */

static int lower_email(const char *s, char *out, size_t cap)
{
	size_t i, n = s ? strlen(s) : 0;
	int lower;

	if (n == 0 || n >= cap || s[0] == '"' || !ingest_is_email(s, n, &lower))
		return -1;
	for (i = 0; i <= n; i++)
		out[i] = ak_ascii_lower(s[i]);
	return 0;
}

/* The refusals as `blocked` entries, durable when this returns. */
static int record_refusals(struct delivery *d, const struct delivery_raw *m)
{
	struct batch b;
	struct send_ref ref;
	int64_t now = ak_time_now(), last = 0;
	size_t i;
	int rc = 0;

	if (m->nrefused == 0)
		return 0;
	memset(&b, 0, sizeof(b));
	ak_buf_init(&b.bytes, 256 << 20);
	memset(&ref, 0, sizeof(ref));
	ref.message_id = m->message_id ? m->message_id : "";
	ref.campaign = m->campaign;
	ref.list = m->list;
	ref.stream = m->stream;
	ref.from = m->from;
	ref.owner = m->owner;
	ref.via = m->via ? m->via : "smtp";
	ref.peer = m->peer;
	for (i = 0; i < m->nrefused && rc == 0; i++)
		rc = batch_add(&b, blocked_body(&ref, m->refused[i].rcpt, &m->refused[i].gd, -1),
		               now);
	if (rc == 0)
		rc = batch_flush(d, &b, &last);
	batch_free(&b);
	return rc;
}

int delivery_submit_raw(struct delivery *d, const struct delivery_raw *m, char qid[40])
{
	struct dq_campaign add;
	char nonce[17], id[40], from[256], rcpt[256];
	int64_t now = ak_time_now();
	size_t i;
	int rc, in_txn = 0;

	if (qid)
		qid[0] = '\0';
	if (!m->campaign || !delivery_campaign_id_valid(m->campaign))
		return ak_error_code(AK_EINVALID, "campaign id: 1 to 200 of A-Z a-z 0-9 . _ - :");
	if (!m->stream || (strcmp(m->stream, "marketing") && strcmp(m->stream, "transactional")))
		return ak_error_code(AK_EINVALID, "stream: marketing or transactional");
	if (!m->list || !*m->list || strlen(m->list) > 200)
		return ak_error_code(AK_EINVALID, "a list name (1 to 200 bytes) is required");
	if (lower_email(m->from, from, sizeof(from)) != 0)
		return ak_error_code(AK_EINVALID, "from: '%s' is not an e-mail address",
		                     m->from ? m->from : "");
	if ((rc = record_refusals(d, m)) != 0 || m->nrcpts == 0)
		return rc;
	if (!m->message_id || !*m->message_id || !m->data || m->len == 0)
		return ak_error_code(AK_EINVALID, "a message and its Message-ID are required");
	if ((rc = ak_random_hex(nonce, 8)) != 0)
		return rc;
	snprintf(id, sizeof(id), "smtp:%s", nonce);
	memset(&add, 0, sizeof(add));
	add.id = id;
	add.stream = (char *)m->stream;
	add.list = (char *)m->list;
	add.sender = from;
	add.owner = (char *)m->owner;
	add.nonce = nonce;
	add.template_data = (char *)m->data;
	add.template_len = m->len;
	add.created = now;
	add.size = (int64_t)m->nrcpts;
	add.raw = 1;
	add.label = (char *)m->campaign;
	add.message_id = (char *)m->message_id;
	add.via = (char *)(m->via ? m->via : "smtp");
	add.peer = (char *)m->peer;
	/* The gateway's 250 says akashi has the message: this transaction
	 * goes to disk before it returns, power loss or not. */
	if ((rc = dq_durable(d->q, 1)) != 0)
		return rc;
	if ((rc = dq_begin(d->q)) != 0)
		goto done;
	in_txn = 1;
	if ((rc = dq_campaign_add(d->q, &add)) != 0)
		goto done;
	for (i = 0; i < m->nrcpts; i++) {
		if (lower_email(m->rcpts[i], rcpt, sizeof(rcpt)) != 0) {
			rc = ak_error_code(AK_EINVALID, "'%.80s' is not an e-mail address",
			                   m->rcpts[i]);
			goto done;
		}
		if ((rc = dq_add(d->q, id, (int64_t)i + 1, rcpt, "", 0, now)) < 0)
			goto done;
	}
	if ((rc = dq_campaign_loaded(d->q, id, (int64_t)m->nrcpts)) != 0)
		goto done;
	in_txn = 0;
	if ((rc = dq_commit(d->q)) != 0)
		goto done;
	if (qid)
		snprintf(qid, 40, "%s", id);
done:
	if (in_txn)
		dq_rollback(d->q);
	if (dq_durable(d->q, 0) != 0 && rc == 0)
		rc = AK_ERROR;
	return rc;
}

/* Forget gateway messages that are done with: their queue rows, and the
 * campaigns held in memory for them. Only between steps with nothing in
 * flight (a message in flight points at its campaign). */
static void raw_gc(struct delivery *d)
{
	struct camp **pk = &d->camps;
	int64_t n = 0, now = ak_time_now();

	if (d->inflight != 0 || now - d->gc_at < 1000000)
		return;
	d->gc_at = now;
	if (dq_raw_gc(d->q, &n) != 0)
		ak_log(AK_LOG_WARN, "delivery: %s", ak_error_last());
	while (*pk) {
		struct camp *k = *pk;

		if (k->c.raw) {
			*pk = k->next;
			camp_free(k);
		} else
			pk = &k->next;
	}
}

/* ---- reconciling the queue with the log ---- */

struct recon {
	struct delivery *d;
	struct ak_jdoc *doc;
	int64_t last;
	int64_t applied;
	int rc;
};

static const char *jstr(const struct ak_jv *o, const char *k)
{
	const struct ak_jv *v = ak_jv_get(o, k);

	return v && v->type == AK_JSTRING ? v->u.s.ptr : NULL;
}

static int recon_entry(void *ctx, const struct evidence_entry *e)
{
	struct recon *r = ctx;
	const struct ak_jv *b, *att, *sub;
	const char *camp, *mid, *status, *rcpt;
	char nonce[64];
	int64_t idx;
	struct camp *k;
	int state, attempts, cur, cur_att, rc;

	r->last = e->seq;
	if (ak_json_parse(r->doc, e->body, e->body_len, &b) != 0)
		return 0;
	camp = jstr(b, "campaign");
	mid = jstr(b, "message_id");
	status = jstr(b, "status");
	rcpt = jstr(b, "rcpt");
	att = ak_jv_get(b, "attempt");
	attempts = att && att->type == AK_JINT ? (int)att->u.i : -1;
	sub = ak_jv_get(b, "submission");
	if (sub && sub->type == AK_JOBJECT) {
		/* A gateway message: its queue entry is the submission, its
		 * row the recipient's (a refusal at RCPT has no id). */
		camp = jstr(sub, "id");
		if (!camp || !status || !rcpt || (k = camp_get(r->d, camp)) == NULL || !k->c.raw ||
		    dq_find_rcpt(r->d->q, camp, rcpt, &idx) != 0)
			return 0;
	} else {
		if (!camp || !mid || !status ||
		    parse_message_id(mid, &idx, nonce, sizeof(nonce)) != 0)
			return 0;
		if ((k = camp_get(r->d, camp)) == NULL || strcmp(k->c.nonce, nonce) != 0)
			return 0;
	}
	if (dq_get_state(r->d->q, camp, idx, &cur, &cur_att) != 0)
		return 0;
	if (strcmp(status, "queued") == 0)
		state = DQ_READY;
	else if (strcmp(status, "sent") == 0)
		state = DQ_SENT;
	else if (strcmp(status, "bounced") == 0)
		state = DQ_BOUNCED;
	else if (strcmp(status, "blocked") == 0)
		state = DQ_BLOCKED;
	else if (strcmp(status, "expired") == 0)
		state = DQ_EXPIRED;
	else if (strcmp(status, "deferred") == 0)
		state = DQ_DEFERRED;
	else
		return 0;
	/* A `queued` entry only moves a message out of NEW. */
	if (state == DQ_READY && cur != DQ_NEW)
		return 0;
	rc = dq_set(r->d->q, camp, idx, state, attempts >= 0 && attempts > cur_att ? attempts : -1,
	            state == DQ_DEFERRED
	                    ? e->time_us + delivery_backoff(attempts > 0 ? attempts : 1,
	                                                    r->d->o.retry_min_s,
	                                                    r->d->o.retry_max_s, mid) *
	                                           1000000
	                    : -1,
	            NULL);
	if (rc)
		return rc;
	r->applied++;
	return 0;
}

static int reconcile(struct delivery *d, const char *campaign)
{
	struct recon r;
	int64_t mark, requeued = 0;
	int rc;

	memset(&r, 0, sizeof(r));
	r.d = d;
	if ((rc = dq_mark_get(d->q, &mark)) != 0 || (rc = ak_jdoc_new(&r.doc, 0)) != 0)
		return rc;
	r.last = mark;
	if ((rc = dq_begin(d->q)) != 0)
		goto done;
	rc = d->sink.scan(d->sink.ctx, mark + 1, recon_entry, &r);
	if (rc == 0 && r.last > mark)
		rc = dq_mark_set(d->q, r.last);
	if (rc == 0)
		rc = dq_requeue_inflight(d->q, campaign, &requeued);
	if (rc == 0)
		rc = dq_commit(d->q);
	else
		dq_rollback(d->q);
	if (rc == 0 && (r.applied || requeued))
		ak_log(AK_LOG_INFO,
		       "delivery: recovered: %lld entries applied to the queue, %lld messages that "
		       "were in flight will be retried",
		       (long long)r.applied, (long long)requeued);
done:
	ak_jdoc_free(r.doc);
	return rc;
}

/* ---- the control loop ---- */

static void msg_free(struct msg *m)
{
	free(m->job.data);
	free(m->fields);
	json_decref(m->gate);
	free(m);
}

/* Outcomes of finished jobs: entries, then the queue. */
static int record_outcomes(struct delivery *d, struct smtp_job *list, struct batch *b)
{
	struct smtp_job *j;
	int64_t now = ak_time_now(), last = 0;
	int rc = 0, n = 0;

	batch_reset(b);
	for (j = list; j && rc == 0; j = j->next) {
		struct msg *m = (struct msg *)j;
		const char *status;
		json_t *o;
		char t[AK_TIME_MAX];

		switch (j->outcome) {
		case SMTP_SENT:
			status = "sent";
			break;
		case SMTP_BOUNCED:
			status = "bounced";
			break;
		default:
			status = now - m->created >= d->o.max_age_s * 1000000 ? "expired"
			                                                      : "deferred";
		}
		o = body_common(m->camp, m->rcpt, m->message_id, status);
		if (o == NULL) {
			rc = ak_error_oom();
			break;
		}
		json_object_set_new(o, "attempt", json_integer(m->attempt));
		/* Each outcome says which decision let the attempt go, so a
		 * `sent` entry alone shows it went through the gate (the audit's
		 * message.unsubscribe_headers judges sends by it). */
		if (m->gate)
			json_object_set(o, "gate", m->gate);
		json_object_set_new(o, "reply", json_string(j->reply));
		if (j->dsn[0])
			json_object_set_new(o, "dsn", json_string(j->dsn));
		if (j->relay[0])
			json_object_set_new(o, "relay", json_string(j->relay));
		json_object_set_new(o, "delay_ms", json_integer((now - m->created) / 1000));
		if (j->outcome == SMTP_SENT) {
			if (j->queue_id[0])
				json_object_set_new(o, "queue_id", json_string(j->queue_id));
			json_object_set_new(o, "size", json_integer((json_int_t)j->len));
			if (m->unsub_url[0])
				json_object_set_new(o, "unsubscribe",
				                    json_pack("{s:s,s:b}", "url", m->unsub_url,
				                              "one_click", 1));
		}
		if (j->tls_version[0])
			json_object_set_new(o, "tls",
			                    json_pack("{s:s,s:s,s:b}", "version", j->tls_version,
			                              "cipher", j->tls_cipher, "verified",
			                              j->tls_verified));
		if (strcmp(status, "deferred") == 0) {
			int64_t next = now + delivery_backoff(m->attempt, d->o.retry_min_s,
			                                      d->o.retry_max_s, m->message_id) *
			                             1000000;

			time_text(t, next);
			json_object_set_new(o, "next_attempt", json_string(t));
		}
		rc = batch_add(b, o, now);
		n++;
	}
	if (rc == 0)
		rc = batch_flush(d, b, &last);
	if (rc == 0)
		rc = dq_begin(d->q);
	for (j = list; j && rc == 0; j = j->next) {
		struct msg *m = (struct msg *)j;
		int state;
		int64_t next = -1;

		if (j->outcome == SMTP_SENT)
			state = DQ_SENT;
		else if (j->outcome == SMTP_BOUNCED)
			state = DQ_BOUNCED;
		else if (now - m->created >= d->o.max_age_s * 1000000)
			state = DQ_EXPIRED;
		else {
			state = DQ_DEFERRED;
			next = now + delivery_backoff(m->attempt, d->o.retry_min_s,
			                              d->o.retry_max_s, m->message_id) *
			                     1000000;
		}
		rc = dq_set(d->q, m->camp->c.id, m->idx, state, -1, next, j->reply);
	}
	if (rc == 0 && last)
		rc = dq_mark_set(d->q, last);
	if (rc == 0)
		rc = dq_commit(d->q);
	else
		dq_rollback(d->q);
	while ((j = list) != NULL) {
		list = j->next;
		msg_free((struct msg *)j);
		d->inflight--;
	}
	(void)n;
	return rc;
}

/* Gate, record and hand over up to max due messages. *taken says how many
 * rows were looked at. */
static int dispatch(struct delivery *d, const char *campaign, size_t max, struct batch *b,
                    size_t *taken)
{
	struct dq_msg *rows = calloc(max, sizeof(*rows));
	struct msg **go = calloc(max, sizeof(*go));
	int *fate = calloc(max, sizeof(int));
	size_t n = 0, i, ngo = 0;
	int64_t now = ak_time_now(), last = 0;
	int rc = 0;

	*taken = 0;
	if (rows == NULL || go == NULL || fate == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	if ((rc = dq_take(d->q, campaign, now, max, rows, &n)) != 0 || n == 0)
		goto done;
	*taken = n;
	batch_reset(b);
	for (i = 0; i < n && rc == 0; i++) {
		struct dq_msg *r = &rows[i];
		struct camp *k = camp_get(d, r->campaign);
		struct gate_request gq;
		struct gate_decision gd;
		char mid[320], url[1024] = "";
		json_t *o;

		if (k == NULL) {
			rc = ak_error_set("campaign '%s': %s", r->campaign, ak_error_last());
			break;
		}
		message_id(mid, sizeof(mid), k, r->idx);
		if (r->state == DQ_DEFERRED && now - r->created >= d->o.max_age_s * 1000000) {
			o = body_common(k, r->rcpt, mid, "expired");
			if (o) {
				json_object_set_new(o, "attempt", json_integer(r->attempts));
				json_object_set_new(
				        o, "reply",
				        json_string("4.4.7 queue.max_age passed while deferred"));
			}
			fate[i] = DQ_EXPIRED;
			rc = batch_add(b, o, now);
			continue;
		}
		if (k->marketing && can_unsubscribe(d) &&
		    (rc = unsub_url(d, k, r->rcpt, r->created, url, sizeof(url))) != 0)
			break;
		memset(&gq, 0, sizeof(gq));
		gq.rcpt = r->rcpt;
		gq.list = k->c.list;
		gq.stream = k->c.stream;
		gq.campaign = k->name;
		gq.owner = k->c.owner;
		gq.campaign_size = k->c.size;
		gq.owner_day_size = k->c.raw ? k->c.day_size : 0;
		gq.unsubscribe_headers = k->marketing ? (url[0] ? 1 : 0) : -1;
		gq.now_us = now;
		if ((rc = gate_check(d->gate, &gq, &gd)) != 0)
			break;
		if (!gd.allow) {
			struct send_ref ref;

			camp_ref(k, mid, &ref);
			o = blocked_body(&ref, r->rcpt, &gd, k->c.size);
			fate[i] = DQ_BLOCKED;
			rc = batch_add(b, o, now);
			continue;
		}
		if (r->state == DQ_NEW) {
			o = body_common(k, r->rcpt, mid, "queued");
			if (o) {
				json_object_set_new(o, "gate", decision_json(d, &gd));
				json_object_set_new(o, "campaign_size", json_integer(k->c.size));
				if (url[0])
					json_object_set_new(
					        o, "unsubscribe",
					        json_pack("{s:s,s:b}", "url", url, "one_click", 1));
			}
			if ((rc = batch_add(b, o, now)) != 0)
				break;
		}
		fate[i] = DQ_INFLIGHT;
		{
			struct msg *m = calloc(1, sizeof(*m));

			if (m == NULL) {
				rc = ak_error_oom();
				break;
			}
			m->camp = k;
			m->idx = r->idx;
			m->created = r->created;
			m->attempt = r->attempts + 1;
			snprintf(m->rcpt, sizeof(m->rcpt), "%s", r->rcpt);
			snprintf(m->message_id, sizeof(m->message_id), "%s", mid);
			snprintf(m->unsub_url, sizeof(m->unsub_url), "%s", url);
			m->fields = r->fields;
			m->fields_len = r->fields_len;
			r->fields = NULL;
			m->gate = decision_json(d, &gd);
			m->job.owner = m;
			m->job.from = k->c.sender;
			m->job.rcpt = m->rcpt;
			go[ngo++] = m;
		}
	}
	if (rc == 0)
		rc = batch_flush(d, b, &last);
	if (rc == 0)
		rc = dq_begin(d->q);
	for (i = 0, ngo = 0; i < n && rc == 0; i++) {
		struct dq_msg *r = &rows[i];

		if (fate[i] == DQ_INFLIGHT) {
			rc = dq_set(d->q, r->campaign, r->idx, DQ_INFLIGHT, go[ngo]->attempt, -1,
			            NULL);
			ngo++;
		} else
			rc = dq_set(d->q, r->campaign, r->idx, fate[i], -1, -1, NULL);
	}
	if (rc == 0 && last)
		rc = dq_mark_set(d->q, last);
	if (rc == 0)
		rc = dq_commit(d->q);
	else
		dq_rollback(d->q);
	if (rc == 0 && ngo) {
		pthread_mutex_lock(&d->mu);
		for (i = 0; i < ngo; i++) {
			d->work[(d->work_head + d->work_n) % d->work_cap] = go[i];
			d->work_n++;
			go[i] = NULL;
		}
		d->inflight += (int)ngo;
		pthread_cond_broadcast(&d->cv_work);
		pthread_mutex_unlock(&d->mu);
	}
done:
	for (i = 0; go && i < max; i++)
		if (go[i])
			msg_free(go[i]);
	for (i = 0; rows && i < n; i++)
		dq_msg_clear(&rows[i]);
	free(rows);
	free(go);
	free(fate);
	return rc;
}

int delivery_run(struct delivery *d, const char *campaign, enum delivery_run_mode mode,
                 struct delivery_counts *counts)
{
	struct batch b;
	int64_t stop_at = 0;
	int rc;

	memset(&b, 0, sizeof(b));
	ak_buf_init(&b.bytes, 256 << 20);
	if (campaign && camp_get(d, campaign) == NULL) {
		rc = ak_error_last()[0] ? AK_ERROR : ak_error_code(AK_ENOTFOUND, "no campaign");
		return rc;
	}
	if ((rc = reconcile(d, campaign)) != 0 || (rc = start_workers(d)) != 0)
		goto done;
	for (;;) {
		struct smtp_job *finished;
		size_t taken = 1;

		run_tasks(d);
		pthread_mutex_lock(&d->mu);
		finished = d->done;
		d->done = NULL;
		pthread_mutex_unlock(&d->mu);
		if (finished && (rc = record_outcomes(d, finished, &b)) != 0)
			goto done;
		if (d->stop) {
			/* Nothing new goes out; what is on the wire gets a few
			 * seconds to finish, so that its outcome is recorded. */
			if (stop_at == 0)
				stop_at = ak_time_now() + DRAIN_US;
			if (d->inflight == 0 || ak_time_now() >= stop_at)
				break;
		}
		while (!d->stop && d->inflight < d->o.max_inflight && taken > 0) {
			size_t room = (size_t)(d->o.max_inflight - d->inflight);

			if (room > (size_t)d->o.batch)
				room = (size_t)d->o.batch;
			if ((rc = dispatch(d, campaign, room, &b, &taken)) != 0)
				goto done;
		}
		pthread_mutex_lock(&d->mu);
		if (d->done == NULL && d->tasks == NULL) {
			int64_t next = 0, now = ak_time_now(), wait_us = 200000;
			struct timespec ts;

			if (d->inflight == 0 && !d->stop) {
				pthread_mutex_unlock(&d->mu);
				raw_gc(d);
				if (mode == DELIVERY_UNTIL_SETTLED)
					break;
				if ((rc = dq_next_due(d->q, campaign, &next)) != 0)
					goto done;
				if (next > now && next - now < 1000000)
					wait_us = next - now;
				else if (next == 0 || next > now)
					wait_us = 1000000;
				pthread_mutex_lock(&d->mu);
			}
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += (long)(wait_us % 1000000) * 1000;
			ts.tv_sec += (time_t)(wait_us / 1000000) + ts.tv_nsec / 1000000000;
			ts.tv_nsec %= 1000000000;
			if (d->done == NULL && d->tasks == NULL)
				pthread_cond_timedwait(&d->cv_done, &d->mu, &ts);
		}
		pthread_mutex_unlock(&d->mu);
	}
done:
	/* Stop the workers; whatever they give back is recorded deferred. */
	if (d->smtp) {
		stop_workers(d);
		pthread_mutex_lock(&d->mu);
		while (d->work_n) {
			struct msg *m = d->work[d->work_head];

			d->work_head = (d->work_head + 1) % d->work_cap;
			d->work_n--;
			m->job.outcome = SMTP_DEFERRED;
			snprintf(m->job.reply, sizeof(m->job.reply),
			         "4.3.2 akashi stopped before delivery");
			m->job.next = d->done;
			d->done = &m->job;
		}
		pthread_mutex_unlock(&d->mu);
		if (d->done) {
			int rc2 = record_outcomes(d, d->done, &b);

			d->done = NULL;
			if (rc == 0)
				rc = rc2;
		}
	}
	if (rc == 0 && counts)
		rc = dq_counts(d->q, campaign, 0, counts);
	batch_free(&b);
	return rc;
}
