/*
 * auditd/writer.h - the daemon's one writer: a thread that owns the
 * writable store and commits queued requests together (group commit).
 *
 * The event loop validates and canonicalises a request's records (the
 * ingest pipeline, in memory) and submits them as one job. The writer
 * takes every append job queued (up to max_batch records, waiting up to
 * max_wait_us for more when the queue is short), appends all their
 * records in one transaction with evidence_append() (synchronous=FULL:
 * durable when it returns), and hands each job back to the loop with its
 * own counts. Only then does the loop answer the request. A request is
 * all or nothing: if a group fails, its jobs are retried one by one so one
 * bad job cannot fail the others.
 *
 * Other work that needs the writable store (checkpoints, recording an
 * audit, system entries) is a call job, run alone in queue order.
 *
 * Threads: writer_new/submit/stop/free are for the loop thread; a job's
 * call and the hooks run on the writer thread; a job's done callback runs
 * on the loop thread (from the event woken by the writer, or from
 * writer_stop()).
 */
#ifndef AUDITD_WRITER_H
#define AUDITD_WRITER_H

#include "auditd/ingest/pipeline.h"
#include "auditd/metrics.h"
#include "evidence/evidence.h"

#include <stddef.h>
#include <stdint.h>

struct event_base;

enum writer_job_type { WRITER_APPEND, WRITER_CALL, WRITER_NOTE };

struct writer_job {
	enum writer_job_type type;
	/* WRITER_APPEND: the records; the job owns them. */
	struct ingest_batch batch;
	size_t appended, duplicates;
	int64_t first_seq, last_seq, size;
	/* WRITER_CALL: run on the writer thread with the writable store. */
	int (*call)(struct evidence_store *st, void *arg);
	void *arg;
	/* The outcome: 0 or an AK_* code with its message. */
	int rc;
	char error[512];
	/* Runs on the loop thread when the job is done; it owns the job then
	 * (writer_job_free() it). NULL: the writer frees it. */
	void (*done)(struct writer_job *j);
	void *ctx;
	/* The daemon's own entries: never refused for a full queue. */
	int always;
	int64_t queued_us;
	struct writer_job *next;
};

/* A zeroed job (calloc); NULL when out of memory. */
struct writer_job *writer_job_new(enum writer_job_type type);
void writer_job_free(struct writer_job *j);

struct writer_opts {
	size_t max_batch;    /* records per group commit */
	int64_t max_wait_us; /* wait this long for more after the first job */
	size_t max_queue;    /* records queued before submit says AK_EBUSY */
};

/* Called on the writer thread. */
struct writer_hooks {
	/* After a commit that appended entries first..last (inclusive). */
	void (*committed)(void *ctx, struct evidence_store *st, int64_t first, int64_t last);
	/* Background work in small slices: when no job came for a while
	 * (busy 0), and every few seconds under load (busy 1: keep the slice
	 * short, commits wait behind it). Return 1 if there is more. */
	int (*idle)(void *ctx, struct evidence_store *st, int busy);
	void *ctx;
};

struct writer;

/* Start the writer thread on st (which it owns from now on until
 * writer_free). base: the loop to wake for done callbacks. m may be NULL. */
int writer_new(struct writer **out, struct evidence_store *st, struct event_base *base,
               struct metrics *m, const struct writer_opts *o, const struct writer_hooks *hooks);

/* Queue a job. AK_EBUSY (job not taken) when max_queue records are
 * waiting and j is an append job; AK_ERROR after writer_stop(). */
int writer_submit(struct writer *w, struct writer_job *j);

/* From the writer thread (a hook or a call): hand a finished job straight
 * to the loop's done callbacks (e.g. an alert entry for the sinks). */
void writer_post(struct writer *w, struct writer_job *j);

/* Change batching at run time (SIGHUP). */
void writer_set_opts(struct writer *w, const struct writer_opts *o);

/* Records waiting. */
size_t writer_queued(struct writer *w);

/* Finish every queued job, stop the thread, and run the remaining done
 * callbacks on this thread. The store is free for the caller afterwards
 * (writer_store()). */
void writer_stop(struct writer *w);
struct evidence_store *writer_store(struct writer *w);
void writer_free(struct writer *w);

#endif
