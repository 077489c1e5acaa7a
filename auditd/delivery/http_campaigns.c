/*
 * auditd/delivery/http_campaigns.c - the delivery engine inside `akashi
 * serve`, and its routes:
 *
 *   POST /v1/campaigns        (role ingest) a campaign: a JSON object
 *        {"campaign", "stream", "list", "from", "owner" (optional),
 *         "template" (the message, text), "recipients" (CSV, text),
 *         "skip_invalid" (optional, false)}
 *        -> 202 {"campaign", "recipients", "queued", "duplicates",
 *                "invalid", "resumed"} once it is in the queue;
 *           400 with "error" and "rejects" [{line, reason}] when rows are
 *           refused; 409 when the id is taken by another campaign.
 *   GET  /v1/campaigns?id=ID  (role read or ingest) counts by status.
 *
 * The engine runs on its own thread (delivery_run, forever) with a
 * read-only connection of its own for the gate and for recovery, and
 * appends its entries through the daemon's writer: each batch is a call
 * job that appends on the writer thread and wakes the engine when it is
 * durable, so the engine never waits for the event loop (and can finish
 * recording what was on the wire while the daemon stops). A submission
 * runs on the engine's thread too (delivery_post), because the queue is
 * the engine's; its answer comes back to the loop through an event.
 *
 * The engine loads the policies itself and looks for a new commit every
 * POLICY_RELOAD_S seconds (the daemon's own set changes on SIGHUP, on the
 * loop thread; the engine's gate is on its own thread).
 *
 * Registered by serve.c: delivery_service_start() after the routes exist,
 * delivery_service_stop() after the loop ends and before the writer
 * stops. Without DKIM settings the engine stays off and the route says
 * why (503).
 *
 * Notices (delivery_service_notify) are the daemon's own mail, the alerts
 * mailed to alerts.email: composed on the loop, queued on the engine's
 * thread as a gateway message is (delivery_submit_raw, transactional, the
 * submission "via" naming where it came from), so they are gated, signed,
 * retried and recorded like any send, and survive a restart in the queue.
 *
 * The SMTP gateway (smtp_server.h; smtp.listen, bound by serve.c before
 * privileges drop) starts with the engine and feeds it. It stops first
 * (its last transactions still reach a running engine) and is freed
 * last (tasks the engine runs while it stops may answer it).
 *
 * SECURITY: the body comes from an API client with an ingest token: it is
 * bounded by api.max_body, parsed by jansson, and everything in it goes
 * through delivery_submit()'s checks (addresses, header-safe values,
 * campaign ids of [A-Za-z0-9._:-]); the files it becomes are written
 * under <store>/spool with mode 0600 and removed after loading.
 */
#include "auditd/delivery/delivery.h"
#include "auditd/delivery/smtp_server.h"

#include "auditd/http_parse.h"
#include "auditd/serve.h"
#include "lib/b64.h"
#include "lib/error.h"
#include "lib/log.h"
#include "policies/gate.h"
#include "policies/repo.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_REJECTS     20
#define POLICY_RELOAD_S 10

struct submission {
	struct submission *next;
	struct delivery_service *svc;
	struct evhttp_request *req;
	char *id, *stream, *list, *from, *owner;
	char tpl_path[4300], csv_path[4300];
	int skip_invalid;
	json_t *rejects;
	int rc;
	char error[512];
	struct delivery_load load;
};

struct delivery_service {
	struct daemon *d;
	struct delivery_options o;
	struct delivery_owned own;
	struct evidence_store *rd;
	struct policy_set *set;
	struct delivery *eng;
	pthread_t thread;
	int running;
	char error[512];
	char spool[4200];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct submission *answers;
	struct event *ev_answers;
	struct event *ev_policies;
	char repo[4200];
	int reload_posted; /* a reload task is waiting (loop thread reads, engine clears) */
	struct smtp_server *smtp; /* the gateway (smtp.listen), or NULL */
};

/* ---- the sink: through the writer ---- */

struct append_call {
	struct delivery_service *svc;
	const struct evidence_record *recs;
	size_t n;
	int64_t last;
	int rc, done;
	char error[512];
};

static int call_append(struct evidence_store *st, void *arg)
{
	struct append_call *a = arg;
	struct evidence_append_result r;
	int rc = evidence_append(st, a->recs, a->n, NULL, &r);

	pthread_mutex_lock(&a->svc->mu);
	a->rc = rc;
	a->last = rc == 0 ? r.last_seq : 0;
	if (rc)
		snprintf(a->error, sizeof(a->error), "%s", ak_error_last());
	a->done = 1;
	pthread_cond_broadcast(&a->svc->cv);
	pthread_mutex_unlock(&a->svc->mu);
	return rc;
}

static int sink_append(void *ctx, const struct evidence_record *recs, size_t n, int64_t *last)
{
	struct delivery_service *svc = ctx;
	struct append_call a = {0};
	struct writer_job *j = writer_job_new(WRITER_CALL);
	int rc;

	if (j == NULL)
		return ak_error_oom();
	a.svc = svc;
	a.recs = recs;
	a.n = n;
	j->call = call_append;
	j->arg = &a;
	j->always = 1;
	if ((rc = writer_submit(svc->d->writer, j)) != 0) {
		writer_job_free(j);
		return rc;
	}
	pthread_mutex_lock(&svc->mu);
	while (!a.done)
		pthread_cond_wait(&svc->cv, &svc->mu);
	pthread_mutex_unlock(&svc->mu);
	if (a.rc)
		return ak_error_code(a.rc, "%s", a.error);
	*last = a.last;
	return 0;
}

static int sink_scan(void *ctx, int64_t from_seq, evidence_entry_cb cb, void *cb_ctx)
{
	struct delivery_service *svc = ctx;
	struct evidence_filter f = {0};

	f.kind = "send";
	f.from_seq = from_seq;
	return evidence_scan(svc->rd, &f, cb, cb_ctx);
}

/* ---- the engine's thread ---- */

static void *engine_main(void *arg)
{
	struct delivery_service *svc = arg;

	if (delivery_run(svc->eng, NULL, DELIVERY_FOREVER, NULL) != 0)
		ak_log(AK_LOG_ERR, "delivery: %s", ak_error_last());
	return NULL;
}

static void keep_reject(void *ctx, unsigned long line, const char *why)
{
	struct submission *s = ctx;

	if (json_array_size(s->rejects) < MAX_REJECTS)
		json_array_append_new(s->rejects, json_pack("{s:I,s:s}", "line", (json_int_t)line,
		                                            "reason", why));
}

/* On the engine's thread: put the campaign into the queue. */
static void submit_task(struct delivery *eng, void *arg)
{
	struct submission *s = arg;
	struct delivery_service *svc = s->svc;
	struct delivery_campaign c = {0};
	char *tpl = NULL;
	size_t tpl_len = 0;

	s->rc = delivery_slurp(s->tpl_path, 16 << 20, &tpl, &tpl_len);
	if (s->rc == 0) {
		c.id = s->id;
		c.stream = s->stream;
		c.list = s->list;
		c.from = s->from;
		c.owner = s->owner;
		c.template_data = tpl;
		c.template_len = tpl_len;
		c.recipients = s->csv_path;
		c.skip_invalid = s->skip_invalid;
		c.reject = keep_reject;
		c.reject_ctx = s;
		s->rc = delivery_submit(eng, &c, &s->load);
	}
	if (s->rc)
		snprintf(s->error, sizeof(s->error), "%s", ak_error_last());
	free(tpl);
	unlink(s->tpl_path);
	unlink(s->csv_path);
	pthread_mutex_lock(&svc->mu);
	s->next = svc->answers;
	svc->answers = s;
	pthread_mutex_unlock(&svc->mu);
	event_active(svc->ev_answers, 0, 0);
}

/* On the engine's thread: the policies in force again; a new commit
 * replaces the gate's set from the next message on. */
static void reload_task(struct delivery *eng, void *arg)
{
	struct delivery_service *svc = arg;
	struct policy_set *set = NULL;

	__atomic_store_n(&svc->reload_posted, 0, __ATOMIC_RELEASE);
	if (policy_load(&set, svc->repo, config_get(svc->d->cfg, "policies.ref")) != 0) {
		ak_log(AK_LOG_WARN, "delivery: policies %s: %s (the gate keeps commit %.12s)",
		       svc->repo, ak_error_last(), svc->set->commit);
		return;
	}
	if (strcmp(set->commit, svc->set->commit) == 0 || delivery_set_policies(eng, set) != 0) {
		policy_set_free(set);
		return;
	}
	ak_log(AK_LOG_INFO, "delivery: the gate now uses policy commit %.12s", set->commit);
	policy_set_free(svc->set);
	svc->set = set;
}

static void policies_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delivery_service *svc = arg;

	(void)fd, (void)what;
	if (svc->eng && !__atomic_load_n(&svc->reload_posted, __ATOMIC_ACQUIRE) &&
	    delivery_post(svc->eng, reload_task, svc) == 0)
		__atomic_store_n(&svc->reload_posted, 1, __ATOMIC_RELEASE);
}

/* ---- HTTP ---- */

static void reply(struct evhttp_request *req, int code, json_t *body)
{
	struct evbuffer *b = evbuffer_new();
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	static const char *const reasons[] = {[2] = "Accepted", [0] = "OK"};

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "application/json");
	if (b && text) {
		evbuffer_add(b, text, strlen(text));
		evbuffer_add(b, "\n", 1);
	}
	evhttp_send_reply(req, code,
	                  code == 200   ? reasons[0]
	                  : code == 202 ? reasons[2]
	                                : "Error",
	                  b);
	if (b)
		evbuffer_free(b);
	free(text);
	json_decref(body);
}

static void reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply(req, code, json_pack("{s:s}", "error", msg));
}

static void submission_free(struct submission *s)
{
	free(s->id);
	free(s->stream);
	free(s->list);
	free(s->from);
	free(s->owner);
	json_decref(s->rejects);
	free(s);
}

/* On the loop: answer the submissions the engine is done with. */
static void answers_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delivery_service *svc = arg;
	struct submission *s, *list;

	(void)fd, (void)what;
	pthread_mutex_lock(&svc->mu);
	list = svc->answers;
	svc->answers = NULL;
	pthread_mutex_unlock(&svc->mu);
	while ((s = list) != NULL) {
		list = s->next;
		if (s->rc == 0)
			reply(s->req, 202,
			      json_pack("{s:s,s:I,s:I,s:I,s:I,s:b}", "campaign", s->id,
			                "recipients", (json_int_t)s->load.size, "queued",
			                (json_int_t)s->load.loaded, "duplicates",
			                (json_int_t)s->load.duplicates, "invalid",
			                (json_int_t)s->load.invalid, "resumed", s->load.resumed));
		else {
			json_t *o =
			        json_pack("{s:s,s:O}", "error", s->error, "rejects", s->rejects);

			reply(s->req,
			      s->rc == AK_EEXISTS    ? 409
			      : s->rc == AK_EINVALID ? 400
			                             : 500,
			      o);
		}
		svc->d->inflight--;
		submission_free(s);
	}
}

static int write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ssize_t w = 0;

	if (fd < 0)
		return ak_error_set("%s: %s", path, strerror(errno));
	while (len > 0 && (w = write(fd, data, len)) > 0)
		data += w, len -= (size_t)w;
	close(fd);
	return len == 0 ? 0 : ak_error_set("%s: write failed", path);
}

static char *jdup(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? strdup(v) : NULL;
}

static void post_campaign(struct delivery_service *svc, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct submission *s = NULL;
	json_t *body = NULL;
	json_error_t je;
	char tag[17];
	const char *tpl, *csv;

	if (http_authorize(svc->d, req, "campaigns", TOKEN_INGEST, NULL) != 0)
		return;
	if (svc->eng == NULL) {
		reply_error(req, 503, "delivery is off: %s", svc->error);
		return;
	}
	if (len > svc->d->s.max_body) {
		reply_error(req, 413, "the body is over api.max_body (%zu bytes)",
		            svc->d->s.max_body);
		return;
	}
	body = json_loadb((const char *)evbuffer_pullup(in, (ev_ssize_t)len), len, 0, &je);
	if (!json_is_object(body)) {
		reply_error(req, 400, "the body must be a JSON object: %s", je.text);
		goto done;
	}
	tpl = json_string_value(json_object_get(body, "template"));
	csv = json_string_value(json_object_get(body, "recipients"));
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->rejects = json_array()) == NULL) {
		reply_error(req, 500, "out of memory");
		goto done;
	}
	s->svc = svc;
	s->req = req;
	s->id = jdup(body, "campaign");
	s->stream = jdup(body, "stream");
	s->list = jdup(body, "list");
	s->from = jdup(body, "from");
	s->owner = jdup(body, "owner");
	s->skip_invalid = json_is_true(json_object_get(body, "skip_invalid"));
	if (!s->id || !s->stream || !s->list || !s->from || !tpl || !csv) {
		reply_error(req, 400,
		            "campaign, stream, list, from, template and recipients are "
		            "required (strings)");
		goto done;
	}
	if (ak_random_hex(tag, 8) != 0) {
		reply_error(req, 500, "no random bytes");
		goto done;
	}
	snprintf(s->tpl_path, sizeof(s->tpl_path), "%s/campaign-%s.eml", svc->spool, tag);
	snprintf(s->csv_path, sizeof(s->csv_path), "%s/campaign-%s.csv", svc->spool, tag);
	if (write_file(s->tpl_path, tpl, strlen(tpl)) != 0 ||
	    write_file(s->csv_path, csv, strlen(csv)) != 0) {
		unlink(s->tpl_path);
		unlink(s->csv_path);
		reply_error(req, 500, "%s", ak_error_last());
		goto done;
	}
	if (delivery_post(svc->eng, submit_task, s) != 0) {
		unlink(s->tpl_path);
		unlink(s->csv_path);
		reply_error(req, 500, "%s", ak_error_last());
		goto done;
	}
	svc->d->inflight++;
	s = NULL; /* the engine's, then answers_cb's */
done:
	if (s)
		submission_free(s);
	json_decref(body);
}

static void get_campaign(struct delivery_service *svc, struct evhttp_request *req)
{
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct delivery_counts k;
	char id[256];
	int rc;

	if (query == NULL ||
	    http_query_get(query, strlen(query), "id", id, sizeof(id), NULL) != 0) {
		reply_error(req, 400, "GET /v1/campaigns?id=CAMPAIGN");
		return;
	}
	rc = delivery_status(svc->own.queue, id, &k);
	if (rc == AK_ENOTFOUND)
		reply_error(req, 404, "%s", ak_error_last());
	else if (rc != 0)
		reply_error(req, 500, "%s", ak_error_last());
	else
		reply(req, 200,
		      json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "campaign", id,
		                "total", (json_int_t)k.total, "not_yet_attempted",
		                (json_int_t)(k.pending + k.queued + k.inflight), "sent",
		                (json_int_t)k.sent, "deferred", (json_int_t)k.deferred, "bounced",
		                (json_int_t)k.bounced, "blocked", (json_int_t)k.blocked, "expired",
		                (json_int_t)k.expired, "inflight", (json_int_t)k.inflight,
		                "settled", k.pending + k.queued + k.inflight == 0));
}

static void campaigns_cb(struct evhttp_request *req, void *arg)
{
	struct delivery_service *svc = arg;

	if (svc->d->draining) {
		reply_error(req, 503, "shutting down");
		return;
	}
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_POST:
		post_campaign(svc, req);
		break;
	case EVHTTP_REQ_GET:
		/* read, ingest (the campaign's sender) or admin may look. */
		if (http_authorize(svc->d, req, "campaigns", TOKEN_READ | TOKEN_INGEST, NULL) == 0)
			get_campaign(svc, req);
		break;
	default:
		reply_error(req, 405, "GET or POST");
	}
}

/* ---- notices (the daemon's own mail: alert e-mail) ---- */

struct notice_task {
	char *campaign, *list, *via, *from, *to, *message_id, *data;
	size_t len;
};

static void notice_task_free(struct notice_task *t)
{
	free(t->campaign);
	free(t->list);
	free(t->via);
	free(t->from);
	free(t->to);
	free(t->message_id);
	free(t->data);
	free(t);
}

/* On the engine's thread: into the queue, on disk, like a gateway
 * message; the engine gates, sends and records it from there. */
static void notice_task(struct delivery *eng, void *arg)
{
	struct notice_task *t = arg;
	struct delivery_raw m;
	const char *rcpts[1];

	memset(&m, 0, sizeof(m));
	rcpts[0] = t->to;
	m.campaign = t->campaign;
	m.stream = "transactional";
	m.list = t->list;
	m.from = t->from;
	m.owner = "akashi";
	m.via = t->via;
	m.message_id = t->message_id;
	m.data = t->data;
	m.len = t->len;
	m.rcpts = rcpts;
	m.nrcpts = 1;
	if (delivery_submit_raw(eng, &m, NULL) != 0)
		ak_log(AK_LOG_ERR, "delivery: %s %s to %s not queued: %s", t->via, t->message_id,
		       t->to, ak_error_last());
	notice_task_free(t);
}

const char *delivery_service_off(const struct daemon *d)
{
	const struct delivery_service *svc = d->delivery;

	if (svc == NULL)
		return "not started";
	return svc->eng ? NULL : svc->error;
}

int delivery_service_notify(struct daemon *d, const struct delivery_notice *n, const char *campaign,
                            const char *list, const char *via)
{
	struct delivery_service *svc = d->delivery;
	struct ak_buf msg = AK_BUF_INIT(4 << 20);
	struct notice_task *t = NULL;
	int rc;

	if (delivery_service_off(d))
		return ak_error_set("delivery is off: %s", delivery_service_off(d));
	if (!campaign || !delivery_campaign_id_valid(campaign))
		return ak_error_code(AK_EINVALID, "campaign id: 1 to 200 of A-Z a-z 0-9 . _ - :");
	if ((rc = delivery_compose_notice(&msg, n)) != 0)
		goto done;
	if ((t = calloc(1, sizeof(*t))) == NULL || (t->campaign = strdup(campaign)) == NULL ||
	    (t->list = strdup(list)) == NULL || (t->via = strdup(via)) == NULL ||
	    (t->from = strdup(n->from)) == NULL || (t->to = strdup(n->to)) == NULL ||
	    (t->message_id = strdup(n->message_id)) == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	t->data = ak_buf_detach(&msg, &t->len);
	if (t->data == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	if ((rc = delivery_post(svc->eng, notice_task, t)) != 0)
		goto done;
	t = NULL; /* the engine's */
done:
	if (t)
		notice_task_free(t);
	ak_buf_free(&msg);
	return rc;
}

/* ---- start and stop ---- */

/* The gateway over the running engine; it takes d->smtp_fd. A gateway
 * that cannot start is logged, and the daemon goes on without it. */
static void smtp_start(struct delivery_service *svc)
{
	struct daemon *d = svc->d;
	struct smtp_server_conf c;
	char host[256] = "localhost";
	const char *helo = config_get(d->cfg, "smtp.helo");

	if (*helo)
		snprintf(host, sizeof(host), "%s", helo);
	else if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "localhost");
	memset(&c, 0, sizeof(c));
	c.fd = d->smtp_fd;
	d->smtp_fd = -1; /* the gateway's, whatever happens */
	c.store_dir = d->cli->store_dir;
	c.policy_repo = svc->repo;
	c.policy_ref = config_get(d->cfg, "policies.ref");
	c.ssl = d->ssl;
	c.engine = svc->eng;
	c.hostname = host;
	c.id_domain = config_get(d->cfg, "dkim.domain");
	c.max_message_size = (size_t)(config_int(d->cfg, "smtp.max_message_size") > 0
	                                      ? config_int(d->cfg, "smtp.max_message_size")
	                                      : 10 << 20);
	c.max_recipients = (size_t)(config_int(d->cfg, "smtp.max_recipients") > 0
	                                    ? config_int(d->cfg, "smtp.max_recipients")
	                                    : 1000);
	c.idle_timeout_s = (int)config_seconds(d->cfg, "smtp.idle_timeout");
	if (smtp_server_start(&svc->smtp, &c) != 0) {
		ak_log(AK_LOG_ERR, "smtp.listen: the SMTP gateway is off: %s", ak_error_last());
		return;
	}
	ak_log(AK_LOG_INFO, "smtp: the gateway listens on %s%s", config_get(d->cfg, "smtp.listen"),
	       d->ssl ? " (STARTTLS; AUTH under TLS only)"
	              : " without TLS (AUTH from loopback only: set tls.cert and tls.key)");
}

int delivery_service_start(struct daemon *d)
{
	struct delivery_service *svc = calloc(1, sizeof(*svc));
	struct delivery_sink sink;
	const struct config *cfg = d->cfg;
	char *repo;
	int rc;

	if (svc == NULL)
		return ak_error_oom();
	repo = svc->repo;
	d->delivery = svc;
	svc->d = d;
	pthread_mutex_init(&svc->mu, NULL);
	pthread_cond_init(&svc->cv, NULL);
	if ((svc->ev_answers = event_new(d->base, -1, 0, answers_cb, svc)) == NULL)
		return ak_error_set("libevent: cannot make an event");
	evhttp_set_cb(d->http, "/v1/campaigns", campaigns_cb, svc);
	if (!*config_get(cfg, "dkim.key")) {
		snprintf(svc->error, sizeof(svc->error),
		         "not configured (dkim.domain, dkim.selector and dkim.key)");
		if (d->smtp_fd >= 0) {
			ak_log(AK_LOG_WARN, "smtp.listen: the SMTP gateway is off: delivery is %s",
			       svc->error);
			close(d->smtp_fd);
			d->smtp_fd = -1;
		}
		return 0;
	}
	snprintf(svc->spool, sizeof(svc->spool), "%s/spool", d->cli->store_dir);
	if (mkdir(svc->spool, 0700) != 0 && errno != EEXIST) {
		rc = ak_error_set("%s: %s", svc->spool, strerror(errno));
		goto fail;
	}
	if (*config_get(cfg, "policies.repo"))
		snprintf(repo, sizeof(svc->repo), "%s", config_get(cfg, "policies.repo"));
	else
		snprintf(repo, sizeof(svc->repo), "%s/policies", d->cli->store_dir);
	if ((rc = delivery_options_from_config(cfg, d->cli->store_dir, &svc->o, &svc->own)) != 0 ||
	    (rc = evidence_open(&svc->rd, d->cli->store_dir, EVIDENCE_READONLY)) != 0 ||
	    (rc = policy_load(&svc->set, repo, config_get(cfg, "policies.ref"))) != 0)
		goto fail;
	/* Inside the daemon the gate's cache is held to a quarter of what
	 * `akashi send` gives it: the daemon's whole RSS stays under 100 MB
	 * with a store of ten million entries (docs/OPERATIONS.md). */
	svc->o.gate_cache_kib = GATE_CACHE_KIB / 4;
	sink.append = sink_append;
	sink.scan = sink_scan;
	sink.ctx = svc;
	if ((rc = delivery_new(&svc->eng, &svc->o, &sink, evidence_db(svc->rd), svc->set)) != 0)
		goto fail;
	if (pthread_create(&svc->thread, NULL, engine_main, svc) != 0) {
		rc = ak_error_set("cannot start the delivery thread");
		goto fail;
	}
	svc->running = 1;
	/* The gate follows the policy repository: a new commit on the ref is
	 * in force within POLICY_RELOAD_S, without a restart. */
	if ((svc->ev_policies = event_new(d->base, -1, EV_PERSIST, policies_cb, svc)) != NULL) {
		struct timeval tv = {POLICY_RELOAD_S, 0};

		event_add(svc->ev_policies, &tv);
	}
	ak_log(AK_LOG_INFO, "delivery: running the queue %s", svc->own.queue);
	if (d->smtp_fd >= 0)
		smtp_start(svc);
	return 0;
fail:
	snprintf(svc->error, sizeof(svc->error), "%s", ak_error_last());
	ak_log(AK_LOG_WARN, "delivery is off: %s", svc->error);
	delivery_free(svc->eng);
	svc->eng = NULL;
	if (d->smtp_fd >= 0) {
		ak_log(AK_LOG_WARN, "smtp.listen: the SMTP gateway is off with delivery");
		close(d->smtp_fd);
		d->smtp_fd = -1;
	}
	return 0;
}

void delivery_service_quiesce(struct daemon *d)
{
	struct delivery_service *svc = d->delivery;

	if (svc == NULL)
		return;
	smtp_server_drain(svc->smtp);
	if (svc->running) {
		delivery_stop(svc->eng);
		pthread_join(svc->thread, NULL);
		svc->running = 0;
	}
}

void delivery_service_stop(struct daemon *d)
{
	struct delivery_service *svc = d->delivery;

	if (svc == NULL)
		return;
	delivery_service_quiesce(d);
	delivery_free(svc->eng); /* runs tasks still posted: their answers go nowhere */
	smtp_server_free(svc->smtp);
	answers_cb(-1, 0, svc);
	if (svc->ev_answers)
		event_free(svc->ev_answers);
	if (svc->ev_policies)
		event_free(svc->ev_policies);
	policy_set_free(svc->set);
	evidence_close(svc->rd);
	delivery_owned_free(&svc->own);
	pthread_cond_destroy(&svc->cv);
	pthread_mutex_destroy(&svc->mu);
	free(svc);
	d->delivery = NULL;
}
