/*
 * auditd/metrics.h - the daemon's counters, gauges and histograms, and
 * their rendering in the Prometheus text exposition format (version
 * 0.0.4) for GET /metrics.
 *
 * Families are fixed (enum metric below, with their help text in
 * metrics.c); a family's series are told apart by one label set, given
 * as its text ("kind=\"send\""), which the caller builds from values it
 * controls or has escaped with metrics_label(). docs/OPERATIONS.md lists
 * every family.
 *
 * Threads: every function may be called from any thread (one mutex; an
 * update is a few instructions under it).
 */
#ifndef AUDITD_METRICS_H
#define AUDITD_METRICS_H

#include "lib/buf.h"

#include <stddef.h>
#include <stdint.h>

enum metric {
	/* counters */
	M_ENTRIES_APPENDED, /* {kind} */
	M_DUPLICATES,       /* {kind} */
	M_HTTP_REQUESTS,    /* {route, code} */
	M_ALERTS,           /* {rule, severity} */
	M_GATE_DECISIONS,   /* {decision} */
	M_UNSUBSCRIBES,     /* {result} */
	M_RATE_LIMITED,     /* {token} */
	M_AUTH_FAILURES,    /* {reason} */
	M_CHECKPOINTS,      /* (none) */
	M_AUDITS,           /* {result} */
	M_ALERT_SINK,       /* {sink, result} */
	/* gauges */
	M_LOG_SIZE,
	M_CHECKPOINT_SIZE,
	M_CHECKPOINT_TIME, /* Unix seconds of the latest checkpoint */
	M_WRITER_QUEUE,    /* entries waiting for the writer */
	M_INDEX_LAG,       /* entries not yet in the full-text index */
	M_START_TIME,
	/* histograms */
	M_INGEST_SECONDS, /* request received -> answered, POST /v1/ingest */
	M_COMMIT_SECONDS, /* one group commit */
	M_BATCH_ENTRIES,  /* records per group commit */
	M_BATCH_REQUESTS, /* requests per group commit */
	M_NMETRICS
};

struct metrics;

int metrics_new(struct metrics **out);
void metrics_free(struct metrics *m);

/* Add n to the counter series labels (NULL or "": no labels). */
void metrics_add(struct metrics *m, enum metric k, const char *labels, uint64_t n);

/* Set a gauge (no labels, or the labels given). */
void metrics_set(struct metrics *m, enum metric k, const char *labels, double v);

/* Observe one value of a histogram. */
void metrics_observe(struct metrics *m, enum metric k, double v);

/* Escape a label value for the text format into out (cap bytes):
 * backslash, quote and newline. Truncates long values at a character
 * boundary, which is fine for a label. */
void metrics_label(char *out, size_t cap, const char *value);

/* Append every family (HELP, TYPE, series) to out. Gauges of time are
 * given as they were set; M_CHECKPOINT_TIME also yields
 * akashi_checkpoint_age_seconds computed at now_us. */
int metrics_render(struct metrics *m, struct ak_buf *out, int64_t now_us);

#endif
