/*
 * auditd/serve.c - `akashi serve`: the daemon (see serve.h for its
 * threads and docs/OPERATIONS.md for running it).
 *
 * Start: read the config, open the store (writable, for the writer),
 * read the keys (signing key, unsubscribe secret, TLS key), bind the
 * listening sockets (HTTP, and the SMTP gateway's when smtp.listen is
 * set), open the loop's read-only connection, drop to the
 * configured user, load the policies, start the writer and record a
 * `system` "start" entry. Then libevent runs until SIGTERM.
 *
 * Scheduler (timers on the loop): a checkpoint every checkpoint.interval
 * when the log grew (evidence_checkpoint() decides); the audit of the
 * current quarter every audit.interval on a thread of its own, its
 * findings recorded by the writer. Entries are never purged (retention is
 * a floor the daemon reports, GET /v1/consent).
 *
 * SIGHUP: reload the config file and the policies, recorded as `system`
 * entries. SIGTERM/SIGINT: stop accepting, let every request already
 * received be answered, record "stop", sign a final checkpoint, exit 0.
 *
 * SECURITY: this is where privileges are dropped: after binding and
 * after reading every key, before any thread starts or any request is
 * read. Key files stay root's; the database files are handed to the
 * user (they must stay writable to it). A daemon started as root
 * without `user` warns that it keeps root.
 */
#include "auditd/serve.h"

#include "auditd/delivery/delivery.h"
#include "auditd/delivery/smtp_server.h"
#include "auditd/ingest/kinds.h"

#include "auditd/records.h"
#include "auditd/unsubscribe.h"
#include "lib/ascii.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "policies/audit.h"
#include "policies/repo.h"

#include <errno.h>
#include <event2/event.h>
#include <git2.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <grp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SOURCE         "akashi:serve"
#define DRAIN_FLUSH_US 2000000

static void load_settings(struct serve_settings *s, const struct config *c)
{
	memset(s, 0, sizeof(*s));
	s->rate = config_int(c, "api.rate");
	s->burst = config_int(c, "api.burst");
	s->max_body = (size_t)(config_int(c, "api.max_body") > 0 ? config_int(c, "api.max_body")
	                                                         : 16 << 20);
	s->timeout_s = config_seconds(c, "api.timeout");
	s->chunk = (size_t)(config_int(c, "api.max_entries_chunk") > 0
	                            ? config_int(c, "api.max_entries_chunk")
	                            : 2000);
	s->metrics_auth = config_bool(c, "metrics.auth");
	s->unsub_max_age_us = config_seconds(c, "unsubscribe.max_age") * 1000000;
	s->unsub_repeat_us = config_seconds(c, "unsubscribe.repeat_window") * 1000000;
	s->max_line = (size_t)config_int(c, "ingest.max_line");
	s->max_report_bytes = (size_t)config_int(c, "ingest.max_report_bytes");
	s->max_report_rows = (size_t)config_int(c, "ingest.max_report_rows");
	s->checkpoint_interval_s = config_seconds(c, "checkpoint.interval");
	s->audit_interval_s = config_seconds(c, "audit.interval");
	s->alerts_drain_us = config_seconds(c, "alerts.drain_timeout") * 1000000;
	/* Quarters and calendars in the configured zone, else UTC (as
	 * akashi audit and akashi report do). */
	snprintf(s->zone, sizeof(s->zone), "%s",
		 *config_get(c, "timezone") ? config_get(c, "timezone") : "UTC");
	snprintf(s->ingest_zone, sizeof(s->ingest_zone), "%s", config_get(c, "ingest.zone"));
	s->ingest_year = config_int(c, "ingest.year");
}

static void writer_opts_of(const struct config *c, struct writer_opts *o)
{
	o->max_batch =
	        (size_t)(config_int(c, "writer.max_batch") > 0 ? config_int(c, "writer.max_batch")
	                                                       : 20000);
	o->max_wait_us = config_int(c, "writer.max_wait_us");
	o->max_queue =
	        (size_t)(config_int(c, "writer.max_queue") > 0 ? config_int(c, "writer.max_queue")
	                                                       : 500000);
}

static int check_config(const struct config *c)
{
	size_t i;

	/* Enumerations and zones are checked as the configuration is read
	 * (auditd/config.c); business hours belong to the alert detectors,
	 * which would otherwise not run at all. */
	if (*config_get(c, "business_hours") &&
	    alerts_check_hours(config_get(c, "business_hours")) != 0) {
		ak_error_prefix("business_hours");
		return AK_EINVALID;
	}
	if (config_seconds(c, "unsubscribe.max_age") < 60 * 86400)
		return ak_error_code(AK_EINVALID,
		                     "unsubscribe.max_age: links must work for at least 60 days "
		                     "(RFC 8058 practice; the message.unsubscribe_headers policy)");
	if ((*config_get(c, "tls.cert") == '\0') != (*config_get(c, "tls.key") == '\0'))
		return ak_error_code(AK_EINVALID, "tls.cert and tls.key go together");
	for (i = 0; i < 2; i++) {
		const char *k = i ? "alerts.email_from" : "alerts.email", *v = config_get(c, k);
		int lower;

		if (*v && (v[0] == '"' || !ingest_is_email(v, strlen(v), &lower)))
			return ak_error_code(AK_EINVALID, "%s: '%.200s' is not an e-mail address",
			                     k, v);
	}
	/* Alerts are mailed through the delivery engine: a configuration
	 * that keeps it off would drop them without a word. */
	if (*config_get(c, "alerts.email") && !*config_get(c, "dkim.key"))
		return ak_error_code(AK_EINVALID,
		                     "alerts.email is mailed through the delivery engine, which "
		                     "this configuration keeps off: set dkim.domain, "
		                     "dkim.selector and dkim.key (and relay, or delivery to "
		                     "MX), or unset alerts.email");
	return 0;
}

static void apply_log_level(const struct config *c)
{
	const char *lv = config_get(c, "log.level");

	ak_log_set_level(strcmp(lv, "error") == 0     ? AK_LOG_ERR
	                 : strcmp(lv, "warning") == 0 ? AK_LOG_WARN
	                 : strcmp(lv, "debug") == 0   ? AK_LOG_DEBUG
	                                              : AK_LOG_INFO);
}

/* ---- system entries and writer calls ---- */

int serve_system_entry(struct daemon *d, const char *event, json_t *fields,
                       void (*done)(struct writer_job *j), void *ctx)
{
	struct writer_job *j = writer_job_new(WRITER_APPEND);
	int rc;

	if (j == NULL)
		return ak_error_oom();
	if ((rc = record_system(&j->batch, SOURCE, event, fields)) != 0) {
		writer_job_free(j);
		return rc;
	}
	j->done = done;
	j->ctx = ctx;
	j->always = 1;
	if ((rc = writer_submit(d->writer, j)) != 0)
		writer_job_free(j);
	return rc;
}

static void log_job_failure(struct writer_job *j)
{
	if (j->rc != 0)
		ak_log(AK_LOG_ERR, "%s", j->error);
	writer_job_free(j);
}

/* A system entry whose outcome only matters to the log. */
static void system_entry(struct daemon *d, const char *event, json_t *fields)
{
	if (serve_system_entry(d, event, fields, log_job_failure, NULL) != 0)
		ak_log(AK_LOG_ERR, "recording '%s': %s", event, ak_error_last());
}

struct cp_call {
	struct daemon *d;
	struct evidence_checkpoint cp;
	int created;
	void (*done)(struct writer_job *j);
	void *ctx;
};

static int checkpoint_call(struct evidence_store *st, void *arg)
{
	struct cp_call *c = arg;

	evidence_checkpoint_clear(&c->cp);
	return evidence_checkpoint(st, &c->cp, &c->created);
}

static void checkpoint_done(struct writer_job *j)
{
	struct cp_call *c = j->arg;

	if (j->rc == 0) {
		metrics_set(c->d->metrics, M_CHECKPOINT_SIZE, NULL, (double)c->cp.size);
		metrics_set(c->d->metrics, M_CHECKPOINT_TIME, NULL, (double)c->cp.made_us / 1e6);
		if (c->created) {
			metrics_add(c->d->metrics, M_CHECKPOINTS, NULL, 1);
			ak_log(AK_LOG_DEBUG, "checkpoint at size %lld", (long long)c->cp.size);
		}
	} else {
		ak_log(AK_LOG_ERR, "checkpoint: %s", j->error);
	}
	if (c->done) {
		/* The callback sees the checkpoint; the job stays ours. */
		j->ctx = c->ctx;
		j->arg = &c->cp;
		c->done(j);
	}
	evidence_checkpoint_clear(&c->cp);
	free(c);
	writer_job_free(j);
}

int serve_checkpoint_now(struct daemon *d, void (*done)(struct writer_job *j), void *ctx)
{
	struct writer_job *j = writer_job_new(WRITER_CALL);
	struct cp_call *c = calloc(1, sizeof(*c));
	int rc;

	if (j == NULL || c == NULL) {
		free(c);
		writer_job_free(j);
		return ak_error_oom();
	}
	c->d = d;
	c->done = done;
	c->ctx = ctx;
	j->call = checkpoint_call;
	j->arg = c;
	j->done = checkpoint_done;
	if ((rc = writer_submit(d->writer, j)) != 0) {
		free(c);
		writer_job_free(j);
	}
	return rc;
}

/* ---- alerts (writer thread) ---- */

struct pending_alert {
	struct pending_alert *next;
	char rule[64], severity[16];
	char *body; /* alerts_body(): the entry's body, canonical */
	size_t len;
	int64_t time_us;
};

static void pending_free(struct pending_alert *p)
{
	free(p->body);
	free(p);
}

static int on_alert(void *ctx, const struct alert_out *a)
{
	struct daemon *d = ctx;
	struct pending_alert *p = calloc(1, sizeof(*p)), **tail;
	struct ak_buf b = AK_BUF_INIT(0);
	int rc;

	if (p == NULL)
		return ak_error_oom();
	if ((rc = alerts_body(&b, a)) != 0) {
		ak_buf_free(&b);
		free(p);
		return rc;
	}
	snprintf(p->rule, sizeof(p->rule), "%s", a->rule ? a->rule : "unknown");
	snprintf(p->severity, sizeof(p->severity), "%s", a->severity ? a->severity : "medium");
	p->body = ak_buf_detach(&b, &p->len);
	p->time_us = a->time_us;
	for (tail = &d->pending; *tail; tail = &(*tail)->next)
		;
	*tail = p;
	return 0;
}

struct alert_note {
	struct daemon *d;
	char rule[64], severity[16];
};

/* Loop thread: an alert entry is durable; hand it to the sinks. */
static void alert_done(struct writer_job *j)
{
	struct alert_note *n = j->ctx;
	struct daemon *d = n->d;
	struct ak_buf entry = AK_BUF_INIT(0);
	char labels[128], r[64], s[32];

	if (j->rc != 0) {
		ak_log(AK_LOG_ERR, "alert %s: %s", n->rule, j->error);
	} else if (j->appended) {
		metrics_label(r, sizeof(r), n->rule);
		metrics_label(s, sizeof(s), n->severity);
		snprintf(labels, sizeof(labels), "rule=\"%s\",severity=\"%s\"", r, s);
		metrics_add(d->metrics, M_ALERTS, labels, 1);
		/* The sinks get the entry itself, as hashed. */
		if (evidence_get(d->rd, j->last_seq, &entry) != 0)
			ak_log(AK_LOG_ERR, "alert %s: %s", n->rule, ak_error_last());
		else if (d->sinks && alert_sinks_send(d->sinks, entry.data, entry.len, n->rule,
		                                      n->severity) != 0)
			ak_log(AK_LOG_WARN, "alert sinks: %s", ak_error_last());
	}
	ak_buf_free(&entry);
	free(n);
	writer_job_free(j);
}

/* The writer stopped before an alert could go in (shutdown). */
static void alert_done_dropped(struct writer_job *j)
{
	struct alert_note *n = j->ctx;

	ak_log(AK_LOG_WARN, "alert %s not recorded: the daemon is stopping", n ? n->rule : "?");
	free(n);
	writer_job_free(j);
}

/* Queue what the detectors emitted as `alert` entries (through the ingest
 * pipeline, like every record) ahead of the waiting requests: they go in
 * the next group commit, never in a commit of their own. */
static void queue_alerts(struct daemon *d)
{
	struct writer_job *first = NULL, **tail = &first;

	while (d->pending) {
		struct pending_alert *p = d->pending;
		struct writer_job *j = writer_job_new(WRITER_APPEND);
		struct alert_note *n = calloc(1, sizeof(*n));
		json_t *body = json_loadb(p->body, p->len, 0, NULL);
		int rc;

		d->pending = p->next;
		rc = j && n && body ? record_build(&j->batch, "alert", "akashi:alerts", body,
		                                   p->time_us ? p->time_us : ak_time_now())
		                    : ak_error_oom();
		if (rc != 0) {
			ak_log(AK_LOG_ERR, "alert %s: %s", p->rule, ak_error_last());
			free(n);
			writer_job_free(j);
		} else {
			n->d = d;
			snprintf(n->rule, sizeof(n->rule), "%s", p->rule);
			snprintf(n->severity, sizeof(n->severity), "%s", p->severity);
			j->ctx = n;
			j->done = alert_done;
			j->always = 1;
			*tail = j;
			tail = &j->next;
		}
		json_decref(body);
		pending_free(p);
	}
	/* Ahead of the queue, in the order they were raised. */
	if (first && writer_submit_next(d->writer, first) != 0) {
		while (first) {
			struct writer_job *j = first;

			first = j->next;
			alert_done_dropped(j);
		}
	}
}

static int feed_row(void *ctx, const struct evidence_entry *e)
{
	struct daemon *d = ctx;

	d->alerts_fed = e->seq;
	if (alerts_feed(d->alerts, e) != 0)
		ak_log(AK_LOG_WARN, "alert detectors, seq %lld: %s", (long long)e->seq,
		       ak_error_last());
	return 0;
}

/* Entries fed to the detectors in one scan: their alerts go to the
 * writer after each slice, not only at the end of a long catch-up. */
#define FEED_SLICE 20000

/* One slice: (alerts_fed, upto]. */
static void feed_slice(struct daemon *d, struct evidence_store *st, int64_t upto)
{
	struct evidence_filter f = {0};

	if (upto <= d->alerts_fed)
		return;
	if (d->alerts == NULL) {
		d->alerts_fed = upto;
		return;
	}
	f.from_seq = d->alerts_fed + 1;
	f.to_seq = upto;
	if (evidence_scan(st, &f, feed_row, d) != 0) {
		ak_log(AK_LOG_ERR, "feeding the alert detectors: %s", ak_error_last());
		d->alerts_fed = upto; /* do not stall on a bad stretch */
	}
	queue_alerts(d);
}

/* Feed the detectors every entry after the last one fed, up to upto, in
 * seq order, in slices (alerts thread). */
static void feed_alerts(struct daemon *d, struct evidence_store *st, int64_t upto)
{
	while (d->alerts_fed < upto)
		feed_slice(d, st,
		           upto < d->alerts_fed + FEED_SLICE ? upto : d->alerts_fed + FEED_SLICE);
}

/* The alerts thread's job: catch up with what was asked for, in slices,
 * until nothing more is asked (then a later commit queues a new job). */
static int feed_call(struct evidence_store *st, void *arg)
{
	struct daemon *d = arg;

	for (;;) {
		int64_t want;

		pthread_mutex_lock(&d->feed_mu);
		want = d->feed_want;
		if (want <= d->alerts_fed) {
			d->feed_queued = 0;
			pthread_mutex_unlock(&d->feed_mu);
			return 0;
		}
		pthread_mutex_unlock(&d->feed_mu);
		feed_alerts(d, st, want);
	}
}

/* Ask the alerts thread to feed up to upto (any thread). One job at a
 * time is queued; it takes whatever was asked meanwhile. */
static void request_feed(struct daemon *d, int64_t upto)
{
	struct writer_job *j;
	int submit = 0;

	pthread_mutex_lock(&d->feed_mu);
	if (upto > d->feed_want)
		d->feed_want = upto;
	if (!d->feed_queued && d->alerter) {
		d->feed_queued = 1;
		submit = 1;
	}
	pthread_mutex_unlock(&d->feed_mu);
	if (!submit)
		return;
	if ((j = writer_job_new(WRITER_CALL)) != NULL) {
		j->call = feed_call;
		j->arg = d;
		if (writer_submit(d->alerter, j) == 0)
			return;
		writer_job_free(j);
	}
	pthread_mutex_lock(&d->feed_mu);
	d->feed_queued = 0;
	pthread_mutex_unlock(&d->feed_mu);
}

/* Writer thread, after a commit: the detectors run on their own thread
 * (their derived-state lookups cost as much as the append itself). */
static void on_committed(void *ctx, struct evidence_store *st, int64_t first, int64_t last)
{
	(void)st;
	(void)first;
	request_feed(ctx, last);
}

static int on_idle(void *ctx, struct evidence_store *st, int busy)
{
	struct daemon *d = ctx;
	int64_t upto = 0, size = 0;

	/* The full-text index and catalog follow in slices: short ones
	 * while requests keep coming (commits wait behind them). */
	if (evidence_catchup(st, busy ? 500 : 5000, &upto) != 0) {
		ak_log(AK_LOG_WARN, "search index catch-up: %s", ak_error_last());
		return 0;
	}
	if (evidence_size(st, &size) != 0)
		return 0;
	metrics_set(d->metrics, M_INDEX_LAG, NULL, (double)(size - upto));
	metrics_set(d->metrics, M_LOG_SIZE, NULL, (double)size);
	/* Entries other processes appended reach the detectors too. */
	request_feed(d, size);
	return upto < size;
}

struct alerts_setup {
	struct daemon *d;
	struct alerts_settings s; /* the rules: owned until handed to the writer-side state */
};

static json_t *current_rules; /* alerts thread only: keeps the rules of d->alerts alive */

static int alerts_setup_call(struct evidence_store *st, void *arg)
{
	struct alerts_setup *a = arg;
	struct daemon *d = a->d;
	struct alerts_config cfg;
	struct alerts *nw = NULL;
	int rc;

	snprintf(d->alerts_zone, sizeof(d->alerts_zone), "%s", a->s.zone);
	snprintf(d->alerts_hours, sizeof(d->alerts_hours), "%s", a->s.hours);
	alerts_settings_config(&a->s, &cfg);
	rc = alerts_new(&nw, a->s.rules, &cfg, evidence_db(st), on_alert, d);
	if (rc != 0)
		return rc;
	/* The first detectors start at the log's end: history is for
	 * `akashi alerts replay`. */
	if (d->alerts == NULL && evidence_size(st, &d->alerts_fed) != 0)
		d->alerts_fed = 0;
	alerts_free(d->alerts);
	json_decref(current_rules);
	d->alerts = nw;
	current_rules = a->s.rules;
	a->s.rules = NULL;
	return 0;
}

static void alerts_setup_free(struct alerts_setup *a)
{
	alerts_settings_free(&a->s);
	free(a);
}

static void alerts_setup_done(struct writer_job *j)
{
	struct alerts_setup *a = j->arg;

	if (j->rc != 0) {
		ak_log(AK_LOG_WARN, "alert detectors not running: %s", j->error);
		json_decref(a->d->alerts_made); /* not made: the next SIGHUP tries again */
		a->d->alerts_made = NULL;
	}
	alerts_setup_free(a);
	writer_job_free(j);
}

static void start_alerts(struct daemon *d)
{
	struct writer_job *j = writer_job_new(WRITER_CALL);
	struct alerts_setup *a = calloc(1, sizeof(*a));
	json_t *made;

	/* A private copy of the rules: the writer thread keeps it, the loop
	 * may free its policy set meanwhile. */
	if (j == NULL || a == NULL ||
	    alerts_settings_of(&a->s, d->set ? d->set->alerts : NULL,
	                       config_get(d->cfg, "timezone"), config_get(d->cfg, "business_hours"),
	                       d->set) != 0) {
		free(a);
		writer_job_free(j);
		ak_log(AK_LOG_ERR, "alert detectors: out of memory");
		return;
	}
	a->d = d;
	/* Detectors made from the same rules and settings are kept as they
	 * are: a SIGHUP that changes nothing of theirs must not empty their
	 * windows and suppression (a second alert for one incident, or an
	 * incident half counted before the reload and half after). */
	made = alerts_settings_json(&a->s);
	if (made && d->alerts_made && json_equal(made, d->alerts_made)) {
		json_decref(made);
		alerts_setup_free(a);
		writer_job_free(j);
		return;
	}
	json_decref(d->alerts_made);
	d->alerts_made = made;
	j->call = alerts_setup_call;
	j->arg = a;
	j->done = alerts_setup_done;
	if (writer_submit(d->alerter, j) != 0) {
		alerts_setup_free(a);
		writer_job_free(j);
	}
}

/* Loop thread: one alert mail to the delivery engine, as a transactional
 * message of the day's campaign "alerts-YYYY-MM-DD" (UTC; named like the
 * gateway's campaigns of the day, so no campaign grows for ever) on the
 * list "alerts". The engine gates it again and records the outcome; the
 * gate is asked here first only to say in the log why an alert address
 * is refused (one that bounced is suppressed: the engine records the
 * mail `blocked`, which is right, but people should hear of it). */
static int mail_alert(void *ctx, const struct alert_mail *m)
{
	struct daemon *d = ctx;
	struct delivery_notice n;
	struct gate_request gq;
	struct gate_decision gd;
	char campaign[32], rcpt[256];
	int y, mo, dd;
	size_t i;

	ak_time_to_civil(ak_time_now(), &y, &mo, &dd, NULL, NULL, NULL, NULL);
	snprintf(campaign, sizeof(campaign), "alerts-%04d-%02d-%02d", y, mo, dd);
	/* The gate looks addresses up as the log keeps them: lower case. */
	for (i = 0; m->to[i] && i + 1 < sizeof(rcpt); i++)
		rcpt[i] = ak_ascii_lower(m->to[i]);
	rcpt[i] = '\0';
	memset(&gq, 0, sizeof(gq));
	gq.rcpt = rcpt;
	gq.list = "alerts";
	gq.stream = "transactional";
	gq.campaign = campaign;
	gq.owner = "akashi";
	gq.campaign_size = 1;
	gq.unsubscribe_headers = -1;
	if (d->gate && gate_check(d->gate, &gq, &gd) == 0 && !gd.allow)
		ak_log(AK_LOG_WARN,
		       "alerts.email: the gate refuses %s (%s: %s); the %s alert of seq %lld is "
		       "recorded as a blocked send, not mailed",
		       m->to, gd.nreasons ? gd.reasons[0].policy : "?",
		       gd.nreasons ? gd.reasons[0].detail : "", m->rule, (long long)m->seq);
	memset(&n, 0, sizeof(n));
	n.from = m->from;
	n.to = m->to;
	n.subject = m->subject;
	n.text = m->text;
	n.text_len = m->text_len;
	n.message_id = m->message_id;
	return delivery_service_notify(d, &n, campaign, "alerts", "alerts");
}

/* alerts.email_from, or akashi@ the domain the engine signs for (so the
 * mail passes DMARC alignment), or the EHLO name, or the host name. */
static void alert_sender(const struct config *c, char *out, size_t cap)
{
	char host[256] = "localhost";

	if (*config_get(c, "alerts.email_from")) {
		snprintf(out, cap, "%s", config_get(c, "alerts.email_from"));
		return;
	}
	if (*config_get(c, "dkim.domain"))
		snprintf(host, sizeof(host), "%s", config_get(c, "dkim.domain"));
	else if (*config_get(c, "smtp.helo"))
		snprintf(host, sizeof(host), "%s", config_get(c, "smtp.helo"));
	else if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
		snprintf(host, sizeof(host), "localhost");
	snprintf(out, cap, "akashi@%s", host);
}

/* Make the sinks of the configuration. When configured sinks cannot be
 * made (an alerts.syslog that is no address, say), the running ones stay
 * and this says why: the caller decides (start refuses to serve). */
static int start_sinks(struct daemon *d)
{
	struct alert_sinks_config sc = {0};
	struct alert_sinks *s = NULL;
	char from[320];
	int rc;

#define STR_OR_NULL(k) (*config_get(d->cfg, k) ? config_get(d->cfg, k) : NULL)
	sc.webhook_url = STR_OR_NULL("alerts.webhook");
	sc.webhook_secret = STR_OR_NULL("alerts.webhook_secret");
	sc.syslog = STR_OR_NULL("alerts.syslog");
	sc.email = STR_OR_NULL("alerts.email");
	alert_sender(d->cfg, from, sizeof(from));
	sc.email_from = from;
	sc.mail = mail_alert;
	sc.mail_ctx = d;
	sc.min_severity = STR_OR_NULL("alerts.min_severity");
	sc.ca_file = STR_OR_NULL("alerts.ca_file");
#undef STR_OR_NULL
	if (sc.email && delivery_service_off(d))
		rc = ak_error_code(AK_EINVALID,
		                   "alerts.email is mailed through the delivery engine, which is "
		                   "off: %s",
		                   delivery_service_off(d));
	else
		rc = alert_sinks_new(&s, d->base, &sc);
	if (rc != 0) {
		ak_log(AK_LOG_ERR, "alert sinks: %s%s", ak_error_last(),
		       d->sinks ? "; the running ones stay" : "");
		return rc;
	}
	alert_sinks_free(d->sinks);
	d->sinks = s;
	return 0;
}

/* ---- policies ---- */

static void policy_repo(struct daemon *d, char *out, size_t cap)
{
	const char *r = config_get(d->cfg, "policies.repo");

	if (*r)
		snprintf(out, cap, "%s", r);
	else
		snprintf(out, cap, "%s/policies", d->cli->store_dir);
}

/* Load the policies in force (start, SIGHUP); recorded either way. */
static void load_policies(struct daemon *d)
{
	char repo[4200];
	const char *ref = config_get(d->cfg, "policies.ref");
	struct policy_set *set = NULL;
	struct gate *g = NULL;
	json_t *fields;
	int rc;

	policy_repo(d, repo, sizeof(repo));
	rc = policy_load(&set, repo, ref);
	/* A commit that lint refuses is not loaded, alerts.json included: its
	 * detectors could not start, and the daemon would run with none. */
	if (rc == 0 && set->alerts && (rc = alerts_check_rules(set->alerts)) != 0) {
		ak_error_prefix("alerts.json");
		policy_set_free(set);
	} else if (rc == 0 && (rc = gate_new(&g, evidence_db(d->rd), set)) != 0) {
		policy_set_free(set);
	}
	if (rc != 0) {
		snprintf(d->policy_error, sizeof(d->policy_error), "%s", ak_error_last());
		ak_log(AK_LOG_WARN, "policies from %s at %s: %s%s", repo, ref, d->policy_error,
		       d->set ? " (keeping the policies loaded before)" : "");
		fields = json_pack("{s:s,s:s,s:s,s:s}", "repo", repo, "ref", ref, "result",
		                   "failed", "error", d->policy_error);
		system_entry(d, "policy_load", fields);
		json_decref(fields);
		return;
	}
	gate_free(d->gate);
	policy_set_free(d->set);
	d->gate = g;
	d->set = set;
	d->policy_error[0] = '\0';
	ak_log(AK_LOG_INFO, "policies: %zu from %s at %s (commit %s)", set->n, repo, ref,
	       set->commit);
	fields = json_pack("{s:s,s:s,s:s,s:s,s:I}", "repo", repo, "ref", ref, "result", "loaded",
	                   "commit", set->commit, "policies", (json_int_t)set->n);
	system_entry(d, "policy_load", fields);
	json_decref(fields);
}

/* ---- the audit ---- */

struct audit_task {
	struct daemon *d;
	char dir[4096], repo[4200], ref[256], zone[64];
	struct policy_set *set;
	struct audit_result *res[2];
	int nres;
	int rc;
	char error[512];
	json_t *load; /* the policy_load system entry's fields */
	size_t findings;
};

/* "2026Q3" of an instant in zone. */
static void quarter_of(int64_t us, const char *zone, int back, char *out, size_t cap)
{
	int off = 0, year, month, q;

	if (ak_time_zone_offset(zone, us, &off) != 0)
		off = 0;
	ak_time_to_civil(us + (int64_t)off * 1000000, &year, &month, NULL, NULL, NULL, NULL, NULL);
	q = (month - 1) / 3 - back;
	if (q < 0) {
		q += 4;
		year--;
	}
	snprintf(out, cap, "%04dQ%d", year, q + 1);
}

static int audit_record_call(struct evidence_store *st, void *arg)
{
	struct audit_task *t = arg;
	struct ingest_batch b;
	size_t n, i;
	int rc;

	if (t->load && record_system(&b, SOURCE, "policy_load", t->load) == 0) {
		evidence_append(st, b.recs, b.n, NULL, NULL);
		ingest_batch_free(&b);
	}
	for (i = 0; i < (size_t)t->nres; i++) {
		if ((rc = audit_record(st, t->res[i], &n)) != 0)
			return rc;
		t->findings += n;
	}
	return 0;
}

static void audit_task_free(struct audit_task *t)
{
	int i;

	for (i = 0; i < t->nres; i++)
		audit_result_free(t->res[i]);
	policy_set_free(t->set);
	json_decref(t->load);
	free(t);
}

static void audit_done(struct writer_job *j)
{
	struct audit_task *t = j->arg;
	struct daemon *d = t->d;

	pthread_join(d->audit_thread, NULL);
	d->audit_running = 0;
	if (t->rc != 0 || j->rc != 0) {
		ak_log(AK_LOG_ERR, "audit: %s", t->rc ? t->error : j->error);
		metrics_add(d->metrics, M_AUDITS, "result=\"failed\"", 1);
	} else {
		ak_log(AK_LOG_INFO, "audit: %zu new findings", t->findings);
		metrics_add(d->metrics, M_AUDITS, "result=\"ok\"", 1);
	}
	audit_task_free(t);
	writer_job_free(j);
}

static void *audit_main(void *arg)
{
	struct audit_task *t = arg;
	struct evidence_store *ro = NULL;
	struct writer_job *j = NULL;
	int64_t now = ak_time_now();
	sigset_t all;
	int back;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	t->rc = policy_load(&t->set, t->repo, t->ref);
	if (t->rc == 0)
		t->load = json_pack("{s:s,s:s,s:s,s:s,s:s}", "repo", t->repo, "ref", t->ref,
		                    "result", "loaded", "commit", t->set->commit, "for", "audit");
	else
		t->load = json_pack("{s:s,s:s,s:s,s:s,s:s}", "repo", t->repo, "ref", t->ref,
		                    "result", "failed", "error", ak_error_last(), "for", "audit");
	if (t->rc == 0)
		t->rc = evidence_open(&ro, t->dir, EVIDENCE_READONLY);
	/* The current quarter; in the first two weeks of a quarter also the
	 * one before, for reports that arrive late. */
	for (back = 0; t->rc == 0 && back < 2; back++) {
		struct audit_period p;
		char label[16];

		quarter_of(now - (back ? 14 * 86400 * INT64_C(1000000) : 0), t->zone, 0, label,
		           sizeof(label));
		if (back && t->nres && strcmp(label, t->res[0]->period.label) == 0)
			break;
		if ((t->rc = audit_quarter(label, t->zone, &p)) == 0)
			t->rc = audit_run(ro, t->set, &p, &t->res[t->nres]);
		if (t->rc == 0)
			t->nres++;
	}
	if (t->rc != 0)
		snprintf(t->error, sizeof(t->error), "%s", ak_error_last());
	evidence_close(ro);
	/* The writer records what was found (and the policy load) and the
	 * loop joins this thread in audit_done(). */
	if ((j = writer_job_new(WRITER_CALL)) != NULL) {
		j->call = t->rc == 0 ? audit_record_call : NULL;
		j->arg = t;
		j->done = audit_done;
		if (t->rc != 0 && t->load) {
			/* Still record that a load failed. */
			j->call = audit_record_call;
			t->nres = 0;
		}
		/* Nothing goes in after "stop" and the final checkpoint. */
		if (!__atomic_load_n(&t->d->draining, __ATOMIC_ACQUIRE) &&
		    writer_submit(t->d->writer, j) == 0)
			return NULL;
		writer_job_free(j);
	}
	/* The writer is stopping: the loop joins us at exit. */
	audit_task_free(t);
	return NULL;
}

static void start_audit(struct daemon *d)
{
	struct audit_task *t;
	int rc;

	if (d->audit_running || d->draining)
		return;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return;
	t->d = d;
	snprintf(t->dir, sizeof(t->dir), "%s", d->cli->store_dir);
	policy_repo(d, t->repo, sizeof(t->repo));
	snprintf(t->ref, sizeof(t->ref), "%s", config_get(d->cfg, "policies.ref"));
	snprintf(t->zone, sizeof(t->zone), "%s", d->s.zone);
	if ((rc = pthread_create(&d->audit_thread, NULL, audit_main, t)) != 0) {
		ak_log(AK_LOG_ERR, "audit: cannot start a thread: %s", strerror(rc));
		free(t);
		return;
	}
	pthread_setname_np(d->audit_thread, "akashi-audit");
	d->audit_running = 1;
}

/* ---- timers ---- */

static void on_checkpoint_timer(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	if (!d->draining && serve_checkpoint_now(d, NULL, NULL) != 0)
		ak_log(AK_LOG_WARN, "checkpoint: %s", ak_error_last());
}

static void on_audit_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	start_audit(arg);
}

static void set_timer(struct daemon *d, struct event **ev, int64_t seconds,
                      void (*cb)(evutil_socket_t, short, void *))
{
	struct timeval tv;

	if (*ev) {
		event_free(*ev);
		*ev = NULL;
	}
	if (seconds <= 0)
		return;
	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = 0;
	*ev = event_new(d->base, -1, EV_PERSIST, cb, d);
	if (*ev)
		event_add(*ev, &tv);
}

/* ---- SIGHUP ---- */

static int load_config(struct cli *cli, struct config **out)
{
	int rc = cli_config_reload(cli, out);

	if (rc == 0 && (rc = check_config(*out)) != 0) {
		config_free(*out);
		*out = NULL;
	}
	return rc;
}

struct diff {
	const struct config *old;
	json_t *changed;
};

static int diff_key(void *ctx, const char *key, const char *value, int is_set, const char *help)
{
	struct diff *df = ctx;

	(void)is_set;
	(void)help;
	if (strcmp(config_get(df->old, key), value) != 0)
		json_array_append_new(df->changed, json_string(key));
	return 0;
}

static void reload(struct daemon *d)
{
	struct config *c = NULL;
	struct diff df;
	json_t *fields;
	size_t i;
	static const char *const restart_keys[] = {
	        "listen",  "tls.cert",    "tls.key", "user", "store", "unsubscribe.secret",
	        "smtp.listen", NULL};

	ak_log(AK_LOG_INFO, "SIGHUP: reloading the configuration and the policies");
	if (load_config(d->cli, &c) != 0) {
		ak_log(AK_LOG_ERR, "reload: %s (keeping the running configuration)",
		       ak_error_last());
		fields = json_pack("{s:s,s:s}", "result", "failed", "error", ak_error_last());
		system_entry(d, "reload", fields);
		json_decref(fields);
		return;
	}
	df.old = d->cfg;
	df.changed = json_array();
	config_each(c, diff_key, &df);
	for (i = 0; restart_keys[i]; i++)
		if (strcmp(config_get(c, restart_keys[i]), config_get(d->cfg, restart_keys[i])) !=
		    0)
			ak_log(AK_LOG_WARN, "reload: %s changed; it takes effect at the next start",
			       restart_keys[i]);
	config_free(d->cfg);
	d->cfg = c;
	d->cli->config = c;
	load_settings(&d->s, c);
	apply_log_level(c);
	{
		struct writer_opts wo;

		writer_opts_of(c, &wo);
		writer_set_opts(d->writer, &wo);
	}
	http_apply_settings(d);
	d->nbuckets = 0;
	set_timer(d, &d->ev_checkpoint, d->s.checkpoint_interval_s, on_checkpoint_timer);
	set_timer(d, &d->ev_audit, d->s.audit_interval_s, on_audit_timer);
	fields = json_pack("{s:s,s:O}", "result", "reloaded", "changed", df.changed);
	system_entry(d, "reload", fields);
	json_decref(fields);
	/* The sinks are made anew only when their settings changed: making
	 * them drops the alerts still waiting in them (a webhook retrying). */
	for (i = 0; i < json_array_size(df.changed); i++)
		if (strncmp(json_string_value(json_array_get(df.changed, i)), "alerts.", 7) == 0)
			break;
	if (i < json_array_size(df.changed))
		(void)start_sinks(d); /* on failure the running sinks stay, said in the log */
	json_decref(df.changed);
	load_policies(d);
	start_alerts(d);
}

/* ---- SIGTERM ---- */

static void final_done(struct writer_job *j)
{
	struct daemon *d = j->ctx;

	if (j->rc != 0) {
		ak_log(AK_LOG_ERR, "stopping: %s", j->error);
		d->exit_code = CLI_FAIL;
	}
	free(j->arg);
	writer_job_free(j);
	d->final_done = 1;
}

struct final_call {
	struct daemon *d;
	int64_t size;
};

static int final_call(struct evidence_store *st, void *arg)
{
	struct final_call *f = arg;
	struct evidence_checkpoint cp = {0};
	json_t *fields = json_pack("{s:I}", "uptime_seconds",
	                           (json_int_t)((ak_time_now() - f->d->started_us) / 1000000));
	int created, rc;

	/* "stop" first, so the final checkpoint covers it. */
	rc = record_system_append(st, SOURCE, "stop", fields);
	json_decref(fields);
	if (rc == 0)
		rc = evidence_checkpoint(st, &cp, &created);
	if (rc == 0)
		f->size = cp.size;
	evidence_checkpoint_clear(&cp);
	return rc;
}

/* The webhook's failed count (given up), for what the drain reports. */
static int64_t webhook_failed(struct daemon *d)
{
	json_t *st = json_object();
	int64_t n = 0;

	if (st && d->sinks) {
		alert_sinks_stats(d->sinks, st);
		n = json_integer_value(json_object_get(json_object_get(st, "webhook"), "failed"));
	}
	json_decref(st);
	return n;
}

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	int64_t now = ak_time_now(), gave_up;
	size_t left;

	(void)fd;
	(void)what;
	/* Every request received before SIGTERM is answered first (the
	 * writer is FIFO and the final job went in last); then the answers
	 * get a moment to leave. */
	if (!d->final_done || d->inflight)
		return;
	if (d->final_at_us == 0) {
		d->final_at_us = now;
		/* The last alerts are with the sinks: a webhook retry waiting
		 * for its back-off gets one last try now, and the loop keeps
		 * running for them up to alerts.drain_timeout. */
		if (d->sinks && alert_sinks_pending(d->sinks)) {
			d->sinks_failed_at_stop = webhook_failed(d);
			alert_sinks_flush_now(d->sinks);
			d->sinks_draining = 1;
		}
	}
	if (d->sinks_draining) {
		left = alert_sinks_pending(d->sinks);
		if (left && now - d->final_at_us < d->s.alerts_drain_us)
			return;
		d->sinks_draining = 0;
		gave_up = webhook_failed(d) - d->sinks_failed_at_stop;
		if (left || gave_up > 0)
			ak_log(AK_LOG_WARN,
			       "stopping: %lld alert(s) not delivered by the sinks: %zu still "
			       "waiting "
			       "at alerts.drain_timeout (%llds), %lld given up; each is an alert "
			       "entry in the log",
			       (long long)left + (long long)gave_up, left,
			       (long long)(d->s.alerts_drain_us / 1000000), (long long)gave_up);
		else
			ak_log(AK_LOG_INFO, "stopping: the sinks delivered every alert");
		d->final_at_us = now; /* the answers' moment starts now */
	}
	if (d->unflushed && now - d->final_at_us < DRAIN_FLUSH_US)
		return;
	event_base_loopexit(d->base, NULL);
}

/* The last job of the writer: "stop" and the final checkpoint. */
static void final_submit(struct daemon *d)
{
	struct writer_job *j = writer_job_new(WRITER_CALL);
	struct final_call *f = calloc(1, sizeof(*f));

	if (j == NULL || f == NULL) {
		free(f);
		writer_job_free(j);
		d->final_done = 1;
		return;
	}
	f->d = d;
	j->call = final_call;
	j->arg = f;
	j->done = final_done;
	j->ctx = d;
	if (writer_submit(d->writer, j) != 0) {
		free(f);
		writer_job_free(j);
		d->final_done = 1;
	}
}

/* Alerts thread: feed the detectors to the end of the log as it stands;
 * what they raise goes to the writer ahead of anything queued there. */
static int feed_to_end_call(struct evidence_store *st, void *arg)
{
	struct daemon *d = arg;
	int64_t size = 0;

	if (d->alerts == NULL || evidence_size(st, &size) != 0)
		return 0;
	feed_alerts(d, st, size);
	return 0;
}

static void feed_to_end_done(struct writer_job *j)
{
	struct daemon *d = j->ctx;

	writer_job_free(j);
	final_submit(d);
}

static int drained_call(struct evidence_store *st, void *arg)
{
	(void)st;
	(void)arg;
	return 0;
}

/* The writer has committed every request received before SIGTERM: the
 * detectors see all of it, and their alerts go in, before "stop" and the
 * final checkpoint, which are to cover everything the daemon appends. */
static void drained_done(struct writer_job *j)
{
	struct daemon *d = j->ctx;
	struct writer_job *k = d->alerter ? writer_job_new(WRITER_CALL) : NULL;

	writer_job_free(j);
	if (k != NULL) {
		k->call = feed_to_end_call;
		k->arg = d;
		k->ctx = d;
		k->done = feed_to_end_done;
		if (writer_submit(d->alerter, k) == 0)
			return;
		writer_job_free(k);
	}
	final_submit(d);
}

/* Behind every request received: then the alerts, then the end. */
static void drain_writer(struct daemon *d)
{
	struct writer_job *j = writer_job_new(WRITER_CALL);

	if (j == NULL) {
		final_submit(d);
		return;
	}
	j->call = drained_call;
	j->ctx = d;
	j->done = drained_done;
	if (writer_submit(d->writer, j) != 0) {
		writer_job_free(j);
		final_submit(d);
	}
}

static void *quiesce_main(void *arg)
{
	struct daemon *d = arg;

	delivery_service_quiesce(d);
	event_active(d->ev_quiesced, 0, 0);
	return NULL;
}

static void on_quiesced(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	pthread_join(d->quiesce_thread, NULL);
	d->quiesce_started = 0;
	drain_writer(d);
}

static void shutdown_start(struct daemon *d, const char *why)
{
	struct timeval tv = {0, 10000};

	if (d->draining)
		return;
	ak_log(AK_LOG_INFO, "%s: no new connections; finishing the requests received", why);
	__atomic_store_n(&d->draining, 1, __ATOMIC_RELEASE);
	http_stop_accepting(d);
	set_timer(d, &d->ev_checkpoint, 0, NULL);
	set_timer(d, &d->ev_audit, 0, NULL);
	/* First the delivery engine and the SMTP gateway finish what is on
	 * the wire, so that their outcomes (sent, deferred, blocked) are in
	 * the log before "stop" and under the final checkpoint; the loop
	 * keeps answering requests meanwhile. */
	if (d->delivery && (d->ev_quiesced = event_new(d->base, -1, 0, on_quiesced, d)) != NULL &&
	    pthread_create(&d->quiesce_thread, NULL, quiesce_main, d) == 0)
		d->quiesce_started = 1;
	else
		drain_writer(d);
	d->ev_drain = event_new(d->base, -1, EV_PERSIST, on_drain, d);
	if (d->ev_drain)
		event_add(d->ev_drain, &tv);
	else
		event_base_loopexit(d->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	if (sig == SIGHUP) {
		if (!d->draining)
			reload(d);
	} else {
		shutdown_start(d, sig == SIGINT ? "SIGINT" : "SIGTERM");
	}
}

/* ---- start ---- */

static int tls_setup(struct daemon *d)
{
	const char *cert = config_get(d->cfg, "tls.cert"), *key = config_get(d->cfg, "tls.key");
	SSL_CTX *ctx;

	if (*cert == '\0')
		return 0;
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		return ak_error_set("TLS: cannot make a context");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		char e[256];

		ERR_error_string_n(ERR_get_error(), e, sizeof(e));
		SSL_CTX_free(ctx);
		return ak_error_set("TLS: %s / %s: %s", cert, key, e);
	}
	d->ssl = (struct ssl_ctx_st *)ctx;
	return 0;
}

static int unsub_setup(struct daemon *d)
{
	char path[4200];
	const char *given = config_get(d->cfg, "unsubscribe.secret");
	int rc;

	if (*given)
		snprintf(path, sizeof(path), "%s", given);
	else
		snprintf(path, sizeof(path), "%s/%s", d->cli->store_dir, UNSUB_SECRET_FILE);
	rc = unsub_secret_load(path, &d->unsub_secret, &d->unsub_secret_len);
	if (rc == AK_ENOTFOUND && *given == '\0') {
		/* A store made before the secret existed: make it now. */
		if ((rc = unsub_secret_create(path)) == 0) {
			ak_log(AK_LOG_INFO, "made a new unsubscribe secret in %s", path);
			rc = unsub_secret_load(path, &d->unsub_secret, &d->unsub_secret_len);
		}
	}
	if (rc != 0) {
		snprintf(d->unsub_error, sizeof(d->unsub_error), "%s", ak_error_last());
		ak_log(AK_LOG_WARN, "one-click unsubscribe is off: %s", d->unsub_error);
		return 0;
	}
	return 0;
}

/* Hand the database files to the user the daemon runs as. */
static int chown_store(const char *dir, uid_t uid, gid_t gid)
{
	static const char *const files[] = {"",
	                                    "/" EVIDENCE_DB_FILE,
	                                    "/" EVIDENCE_DB_FILE "-wal",
	                                    "/" EVIDENCE_DB_FILE "-shm",
	                                    "/" EVIDENCE_STATE_FILE,
	                                    "/" EVIDENCE_STATE_FILE "-wal",
	                                    "/" EVIDENCE_STATE_FILE "-shm",
	                                    "/rejects",
	                                    NULL};
	char path[4200];
	size_t i;

	for (i = 0; files[i]; i++) {
		snprintf(path, sizeof(path), "%s%s", dir, files[i]);
		if (chown(path, uid, gid) != 0 && errno != ENOENT)
			return ak_error_set("%s: cannot hand it to the daemon's user: %s", path,
			                    strerror(errno));
	}
	return 0;
}

static int drop_privileges(struct daemon *d)
{
	const char *user = config_get(d->cfg, "user");
	struct passwd *pw;
	int rc;

	if (*user == '\0') {
		if (geteuid() == 0)
			ak_log(AK_LOG_WARN, "running as root: set 'user' to drop privileges after "
			                    "binding (docs/OPERATIONS.md)");
		return 0;
	}
	if ((pw = getpwnam(user)) == NULL)
		return ak_error_code(AK_EINVALID, "user '%s': no such user", user);
	if (geteuid() != 0) {
		if (geteuid() == pw->pw_uid)
			return 0;
		return ak_error_set("user '%s': only root can switch to it", user);
	}
	if (pw->pw_uid == 0)
		return 0;
	if ((rc = chown_store(d->cli->store_dir, pw->pw_uid, pw->pw_gid)) != 0)
		return rc;
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
		return ak_error_set("dropping to user '%s': %s", user, strerror(errno));
	if (setuid(0) == 0)
		return ak_error_set("dropping to user '%s': root could be regained", user);
	/* libgit2 looks for the user's git configuration under HOME: root's
	 * is out of reach now. */
	setenv("HOME", pw->pw_dir, 1);
	unsetenv("XDG_CONFIG_HOME");
	/* The policy repository is root's and the daemon now is not: libgit2
	 * would refuse it as "not owned by the current user". That check
	 * guards git from running a stranger's hooks and filters; libgit2
	 * runs neither, and the repository is the one the configuration
	 * names. The setting holds because the daemon keeps libgit2
	 * initialised for its whole life (cmd_serve); that also means its
	 * configuration search paths were found under root's HOME, so they
	 * are found again under the new one. */
	git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_GLOBAL, NULL);
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_XDG, NULL);
	ak_log(AK_LOG_INFO, "running as %s (uid %d)", user, (int)pw->pw_uid);
	return 0;
}

static void start_done(struct writer_job *j)
{
	struct daemon *d = j->ctx;

	if (j->rc != 0)
		ak_log(AK_LOG_ERR, "recording the start: %s", j->error);
	else
		ak_log(AK_LOG_INFO, "serving on %s%s (log size %lld)", config_get(d->cfg, "listen"),
		       d->ssl ? " with TLS" : "", (long long)j->size);
	writer_job_free(j);
}

static void seed_metrics(struct daemon *d)
{
	struct evidence_checkpoint cp = {0};
	int64_t size = 0;

	metrics_set(d->metrics, M_START_TIME, NULL, (double)d->started_us / 1e6);
	if (evidence_size(d->rd, &size) == 0)
		metrics_set(d->metrics, M_LOG_SIZE, NULL, (double)size);
	if (evidence_checkpoint_latest(d->rd, &cp) == 0) {
		metrics_set(d->metrics, M_CHECKPOINT_SIZE, NULL, (double)cp.size);
		metrics_set(d->metrics, M_CHECKPOINT_TIME, NULL, (double)cp.made_us / 1e6);
	}
	evidence_checkpoint_clear(&cp);
}

int cmd_serve(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	struct daemon d0 = {0}, *d = &d0;
	struct evidence_store *st = NULL, *rd2 = NULL, *rd3 = NULL;
	struct writer_opts wo;
	struct writer_hooks hooks = {0};
	json_t *fields;
	int c, rc = 0, sinks_rc;
	size_t i;

	while ((c = cli_getopt(cli, "serve", argc, argv, "", opts)) != -1)
		return CLI_USAGE;
	if (optind != argc)
		return cli_usage("serve", "unexpected argument '%s'", argv[optind]);
	d->cli = cli;
	d->smtp_fd = -1;
	d->started_us = ak_time_now();
	pthread_mutex_init(&d->feed_mu, NULL);
	d->exit_code = CLI_OK;
	if ((rc = cli_configure(cli)) != 0 || (rc = check_config(cli->config)) != 0)
		return cli_error("serve", rc);
	d->cfg = cli->config;
	load_settings(&d->s, d->cfg);
	apply_log_level(d->cfg);
	if (config_bool(d->cfg, "log.syslog"))
		ak_log_open_syslog("akashi");
	signal(SIGPIPE, SIG_IGN);
	/* Threads load policies at once (the audit, the engine, the SMTP
	 * gateway, SIGHUP); each load brackets itself with libgit2's counted
	 * init and shutdown, so one thread's shutdown to zero could tear down
	 * the global state another thread is using. One reference for the
	 * daemon's life keeps the count above zero. */
	git_libgit2_init();
	d->git_held = 1;
	if (evthread_use_pthreads() != 0 || (d->base = event_base_new()) == NULL) {
		rc = ak_error_set("libevent: cannot make an event loop");
		goto done;
	}
	if ((rc = metrics_new(&d->metrics)) != 0)
		goto done;
	/* Everything that needs privileges: the store and its key, the
	 * unsubscribe secret, the TLS key, the port. */
	if ((rc = cli_open_store(cli, 0, &st)) != 0 || (rc = token_setup(evidence_db(st))) != 0)
		goto done;
	/* The writer's page caches: the b-trees every append touches (dedupe,
	 * catalog, tree; derived state in state.db) stay in memory instead of
	 * being read back from the files at each commit. Bounded, so RSS
	 * stays flat. */
	sqlite3_exec(evidence_db(st), "PRAGMA cache_size=-16384; PRAGMA state.cache_size=-8192",
	             NULL, NULL, NULL);
	if ((rc = evidence_size(st, &(int64_t){0})) != 0 || (rc = unsub_setup(d)) != 0 ||
	    (rc = tls_setup(d)) != 0 || (rc = http_start(d)) != 0)
		goto done;
	/* The submission port (587) is a privileged one too. */
	if (*config_get(d->cfg, "smtp.listen") &&
	    (rc = smtp_server_bind(config_get(d->cfg, "smtp.listen"), &d->smtp_fd)) != 0)
		goto done;
	if ((rc = evidence_open(&d->rd, cli->store_dir, EVIDENCE_READONLY)) != 0 ||
	    (rc = evidence_open(&rd2, cli->store_dir, EVIDENCE_READONLY)) != 0 ||
	    (rc = evidence_open(&rd3, cli->store_dir, EVIDENCE_READONLY)) != 0 ||
	    (rc = token_checker_new(&d->tokens, evidence_db(d->rd))) != 0)
		goto done;
	if ((rc = drop_privileges(d)) != 0)
		goto done;
	seed_metrics(d);
	writer_opts_of(d->cfg, &wo);
	hooks.committed = on_committed;
	hooks.idle = on_idle;
	hooks.ctx = d;
	if ((rc = writer_new(&d->writer, st, d->base, d->metrics, &wo, &hooks)) != 0)
		goto done;
	st = NULL; /* the writer's now */
	wo.name = "akashi-reader";
	rc = writer_new(&d->reader, rd2, d->base, NULL, &wo, NULL);
	if (rc != 0)
		goto done;
	rd2 = NULL; /* the reader's */
	wo.name = "akashi-alerts";
	rc = writer_new(&d->alerter, rd3, d->base, NULL, &wo, NULL);
	wo.name = NULL;
	if (rc != 0)
		goto done;
	rd3 = NULL; /* the alerts thread's */
	fields = json_pack("{s:s,s:s,s:b,s:I,s:s}", "version", AKASHI_VERSION, "listen",
	                   config_get(d->cfg, "listen"), "tls", d->ssl != NULL, "pid",
	                   (json_int_t)getpid(), "user", config_get(d->cfg, "user"));
	rc = serve_system_entry(d, "start", fields, start_done, d);
	json_decref(fields);
	if (rc != 0)
		goto done;
	load_policies(d);
	/* The engine before the sinks: alerts.email is mailed through it. */
	delivery_service_start(d);
	sinks_rc = start_sinks(d);
	start_alerts(d);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		d->ev_sig[i] = evsignal_new(d->base, sigs[i], on_signal, d);
		if (d->ev_sig[i] == NULL || event_add(d->ev_sig[i], NULL) != 0) {
			rc = ak_error_set("libevent: cannot watch signals");
			goto done;
		}
	}
	set_timer(d, &d->ev_checkpoint, d->s.checkpoint_interval_s, on_checkpoint_timer);
	set_timer(d, &d->ev_audit, d->s.audit_interval_s, on_audit_timer);
	/* Sinks that could not be made (alert mail with no engine to mail it,
	 * say) would leave the security team without alerts and without a
	 * word: stop (recorded, like any stop) and exit 1. */
	if (sinks_rc != 0) {
		ak_log(AK_LOG_ERR, "refusing to serve without the alert sinks configured");
		d->exit_code = CLI_FAIL;
		shutdown_start(d, "alert sinks");
	}
	if (event_base_dispatch(d->base) < 0)
		rc = ak_error_set("libevent: the event loop failed");
done:
	if (rc != 0)
		cli_error("serve", rc);
	/* Delivery first, then the alerts thread: what they append or raise
	 * still goes to the writer. */
	if (d->quiesce_started)
		pthread_join(d->quiesce_thread, NULL);
	if (d->ev_quiesced)
		event_free(d->ev_quiesced);
	delivery_service_stop(d);
	if (d->smtp_fd >= 0)
		close(d->smtp_fd);
	if (d->alerter) {
		writer_stop(d->alerter);
		rd3 = writer_store(d->alerter);
	}
	if (d->writer) {
		writer_stop(d->writer);
		st = writer_store(d->writer);
	}
	if (d->reader) {
		writer_stop(d->reader);
		rd2 = writer_store(d->reader);
	}
	if (d->audit_running) {
		/* An audit still reading: it finds the writer stopped, frees
		 * what it has and ends. */
		pthread_join(d->audit_thread, NULL);
		d->audit_running = 0;
	}
	http_abort_streams(d);
	http_free(d);
	alert_sinks_free(d->sinks);
	writer_free(d->writer);
	writer_free(d->reader);
	evidence_close(rd2);
	writer_free(d->alerter);
	evidence_close(rd3);
	pthread_mutex_destroy(&d->feed_mu);
	alerts_free(d->alerts);
	json_decref(current_rules);
	current_rules = NULL;
	while (d->pending) {
		struct pending_alert *p = d->pending;

		d->pending = p->next;
		pending_free(p);
	}
	for (i = 0; i < sizeof(d->ev_sig) / sizeof(d->ev_sig[0]); i++)
		if (d->ev_sig[i])
			event_free(d->ev_sig[i]);
	if (d->ev_checkpoint)
		event_free(d->ev_checkpoint);
	if (d->ev_audit)
		event_free(d->ev_audit);
	if (d->ev_drain)
		event_free(d->ev_drain);
	gate_free(d->gate);
	policy_set_free(d->set);
	json_decref(d->alerts_made);
	token_checker_free(d->tokens);
	evidence_close(d->rd);
	evidence_close(st);
	unsub_secret_free(d->unsub_secret, d->unsub_secret_len);
	if (d->ssl)
		SSL_CTX_free((SSL_CTX *)d->ssl);
	metrics_free(d->metrics);
	if (d->base)
		event_base_free(d->base);
	libevent_global_shutdown();
	if (d->git_held)
		git_libgit2_shutdown();
	if (d->cfg != cli->config)
		config_free(d->cfg);
	if (rc != 0)
		return CLI_FAIL;
	return d->exit_code;
}
