/*
 * auditd/metrics.c - see metrics.h.
 *
 * Series live in one small table per family (a label text and a value),
 * searched linearly: families have a handful of series each (kinds,
 * routes, rules), and the number is capped so a misbehaving caller cannot
 * grow memory without bound (series past the cap are folded into
 * "other").
 */
#include "auditd/metrics.h"

#include "lib/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERIES_MAX 256
#define LABELS_MAX 160

enum mtype { COUNTER, GAUGE, HISTOGRAM };

static const double latency_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,    1,     2.5,  5,     10};
static const double size_buckets[] = {1, 10, 100, 1000, 10000, 100000};
static const double request_buckets[] = {1, 2, 5, 10, 20, 50, 100, 200};

static const struct family {
	const char *name;
	enum mtype type;
	const char *help;
	const double *buckets;
	size_t nbuckets;
} families[M_NMETRICS] = {
        [M_ENTRIES_APPENDED] = {"akashi_entries_appended_total", COUNTER,
                                "Entries appended by this process, by kind.", NULL, 0},
        [M_DUPLICATES] = {"akashi_entries_duplicate_total", COUNTER,
                          "Records not appended because the log already held them, by kind.", NULL,
                          0},
        [M_HTTP_REQUESTS] = {"akashi_http_requests_total", COUNTER,
                             "HTTP requests answered, by route and status code.", NULL, 0},
        [M_ALERTS] = {"akashi_alerts_total", COUNTER, "Alerts raised, by rule and severity.", NULL,
                      0},
        [M_GATE_DECISIONS] = {"akashi_gate_decisions_total", COUNTER,
                              "Gate decisions answered by POST /v1/gate.", NULL, 0},
        [M_UNSUBSCRIBES] = {"akashi_unsubscribe_requests_total", COUNTER,
                            "One-click unsubscribe requests, by result.", NULL, 0},
        [M_RATE_LIMITED] = {"akashi_rate_limited_total", COUNTER,
                            "Requests refused with 429, by token id.", NULL, 0},
        [M_AUTH_FAILURES] = {"akashi_auth_failures_total", COUNTER,
                             "Requests refused with 401 or 403, by reason.", NULL, 0},
        [M_CHECKPOINTS] = {"akashi_checkpoints_total", COUNTER,
                           "Checkpoints signed by this process.", NULL, 0},
        [M_AUDITS] = {"akashi_audits_total", COUNTER, "Scheduled audits run, by result.", NULL, 0},
        [M_ALERT_SINK] = {"akashi_alert_sink_total", COUNTER,
                          "Alert deliveries by sink and result.", NULL, 0},
        [M_LOG_SIZE] = {"akashi_log_entries", GAUGE, "Entries in the log (the tree size).", NULL,
                        0},
        [M_CHECKPOINT_SIZE] = {"akashi_checkpoint_size", GAUGE,
                               "Tree size of the latest checkpoint.", NULL, 0},
        [M_CHECKPOINT_TIME] = {"akashi_checkpoint_timestamp_seconds", GAUGE,
                               "When the latest checkpoint was signed (Unix time).", NULL, 0},
        [M_WRITER_QUEUE] = {"akashi_writer_queue_entries", GAUGE,
                            "Validated records waiting for the writer.", NULL, 0},
        [M_INDEX_LAG] = {"akashi_search_index_lag_entries", GAUGE,
                         "Entries the full-text index has yet to catch up with.", NULL, 0},
        [M_START_TIME] = {"akashi_start_time_seconds", GAUGE,
                          "When this process started (Unix time).", NULL, 0},
        [M_INGEST_SECONDS] = {"akashi_ingest_request_seconds", HISTOGRAM,
                              "POST /v1/ingest: from the request read to the answer sent after "
                              "the commit.",
                              latency_buckets, sizeof(latency_buckets) / sizeof(double)},
        [M_COMMIT_SECONDS] = {"akashi_commit_seconds", HISTOGRAM,
                              "Time of one group commit (append and fsync).", latency_buckets,
                              sizeof(latency_buckets) / sizeof(double)},
        [M_BATCH_ENTRIES] = {"akashi_commit_batch_entries", HISTOGRAM, "Records per group commit.",
                             size_buckets, sizeof(size_buckets) / sizeof(double)},
        [M_BATCH_REQUESTS] = {"akashi_commit_batch_requests", HISTOGRAM,
                              "Requests per group commit.", request_buckets,
                              sizeof(request_buckets) / sizeof(double)},
};

struct series {
	char labels[LABELS_MAX];
	double value;
};

struct hist {
	uint64_t counts[16]; /* per bucket (not cumulative), last one +Inf */
	uint64_t n;
	double sum;
};

struct metrics {
	pthread_mutex_t mu;
	struct series *s[M_NMETRICS];
	size_t n[M_NMETRICS];
	struct hist h[M_NMETRICS];
};

int metrics_new(struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return ak_error_oom();
	pthread_mutex_init(&m->mu, NULL);
	*out = m;
	return 0;
}

void metrics_free(struct metrics *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < M_NMETRICS; i++)
		free(m->s[i]);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

/* The series of k with these labels, added when missing (under the lock). */
static struct series *series(struct metrics *m, enum metric k, const char *labels)
{
	size_t i;

	if (labels == NULL)
		labels = "";
	for (i = 0; i < m->n[k]; i++)
		if (strcmp(m->s[k][i].labels, labels) == 0)
			return &m->s[k][i];
	if (m->s[k] == NULL && (m->s[k] = calloc(SERIES_MAX, sizeof(struct series))) == NULL)
		return NULL;
	if (m->n[k] == SERIES_MAX - 1 || strlen(labels) >= LABELS_MAX) {
		/* The last slot collects everything past the cap. */
		struct series *o = &m->s[k][SERIES_MAX - 1];

		if (o->labels[0] == '\0')
			snprintf(o->labels, sizeof(o->labels), "overflow=\"true\"");
		return o;
	}
	snprintf(m->s[k][m->n[k]].labels, LABELS_MAX, "%s", labels);
	return &m->s[k][m->n[k]++];
}

void metrics_add(struct metrics *m, enum metric k, const char *labels, uint64_t n)
{
	struct series *s;

	pthread_mutex_lock(&m->mu);
	if ((s = series(m, k, labels)) != NULL)
		s->value += (double)n;
	pthread_mutex_unlock(&m->mu);
}

void metrics_set(struct metrics *m, enum metric k, const char *labels, double v)
{
	struct series *s;

	pthread_mutex_lock(&m->mu);
	if ((s = series(m, k, labels)) != NULL)
		s->value = v;
	pthread_mutex_unlock(&m->mu);
}

void metrics_observe(struct metrics *m, enum metric k, double v)
{
	const struct family *f = &families[k];
	size_t b;

	for (b = 0; b < f->nbuckets && v > f->buckets[b]; b++)
		;
	pthread_mutex_lock(&m->mu);
	m->h[k].counts[b]++;
	m->h[k].n++;
	m->h[k].sum += v;
	pthread_mutex_unlock(&m->mu);
}

void metrics_label(char *out, size_t cap, const char *value)
{
	size_t o = 0;

	for (; *value && o + 3 < cap; value++) {
		unsigned char c = (unsigned char)*value;

		if (c == '\\' || c == '"') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = (char)c;
		}
	}
	/* Cut inside a UTF-8 character: drop the part of it already copied. */
	if (((unsigned char)*value & 0xc0) == 0x80) {
		while (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
			o--;
		if (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0xc0)
			o--;
	}
	out[o] = '\0';
}

static int render_family(struct metrics *m, enum metric k, struct ak_buf *out, int64_t now_us)
{
	const struct family *f = &families[k];
	static const char *const tname[] = {"counter", "gauge", "histogram"};
	size_t i;
	int rc;

	if (f->type != HISTOGRAM && m->n[k] == 0 && k != M_CHECKPOINTS)
		return 0;
	if ((rc = ak_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
	                        tname[f->type])) != 0)
		return rc;
	if (f->type == HISTOGRAM) {
		const struct hist *h = &m->h[k];
		uint64_t cum = 0;
		char base[80];

		snprintf(base, sizeof(base), "%s", f->name);
		for (i = 0; i < f->nbuckets; i++) {
			cum += h->counts[i];
			if ((rc = ak_buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", base,
			                        f->buckets[i], (unsigned long long)cum)) != 0)
				return rc;
		}
		return ak_buf_printf(
		        out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", base,
		        (unsigned long long)h->n, base, h->sum, base, (unsigned long long)h->n);
	}
	if (m->n[k] == 0)
		return ak_buf_printf(out, "%s 0\n", f->name);
	for (i = 0; i < m->n[k]; i++) {
		const struct series *s = &m->s[k][i];

		if (s->labels[0])
			rc = ak_buf_printf(out, "%s{%s} %.17g\n", f->name, s->labels, s->value);
		else
			rc = ak_buf_printf(out, "%s %.17g\n", f->name, s->value);
		if (rc != 0)
			return rc;
	}
	if (k == M_CHECKPOINT_TIME && m->s[k][0].value > 0)
		rc = ak_buf_printf(out,
		                   "# HELP akashi_checkpoint_age_seconds Seconds since the latest "
		                   "checkpoint was signed.\n"
		                   "# TYPE akashi_checkpoint_age_seconds gauge\n"
		                   "akashi_checkpoint_age_seconds %.3f\n",
		                   (double)now_us / 1e6 - m->s[k][0].value);
	return rc;
}

int metrics_render(struct metrics *m, struct ak_buf *out, int64_t now_us)
{
	int k, rc = 0;

	pthread_mutex_lock(&m->mu);
	for (k = 0; k < M_NMETRICS && rc == 0; k++)
		rc = render_family(m, (enum metric)k, out, now_us);
	pthread_mutex_unlock(&m->mu);
	return rc;
}
