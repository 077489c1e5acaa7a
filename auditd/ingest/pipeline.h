/*
 * auditd/ingest/pipeline.h - one path from any input to the store.
 *
 * Every record, whichever adapter read it, goes through the same steps:
 * kind rules and normalisation (kinds.h), the canonical body (lib/jcs.h),
 * the dedupe identity, then the store. Ingest runs in two phases:
 *
 *   1. collect: adapters feed records; each is checked and written, in
 *      canonical form, to a spool file in the store directory (bounded
 *      memory whatever the input size). Rejects are counted, reported
 *      with their place and reason, and written to the rejects file.
 *   2. commit: unless something was rejected and skip_invalid is off (then
 *      nothing at all is appended), the spool is appended in batches of
 *      `batch` records, one transaction each. A crash in this phase leaves
 *      whole batches in the store; running the same ingest again appends
 *      only what is missing, because of the dedupe identity.
 *
 * The daemon uses phase 1 only, in memory: with opts.memory the records
 * are kept in a buffer instead of the spool file, and
 * ingest_pipeline_take() hands them over, checked and canonical, for its
 * writer to append (with the records of other requests, in one
 * transaction). Same rules, same canonical bytes, same dedupe identity.
 *
 * Dedupe identity of a record: kind, event time, and the source's own
 * event id when it has one (an adapter's event_id, or a body field
 * "event_id"); otherwise its source, a 64-bit hash of its canonical body
 * (FNV-1a folded by 8-byte words, pipeline.c: part of the format of the
 * dedupe table, not to be changed lightly), and how many
 * identical records (same time, source and body) came before it in the
 * same input (so ten identical failed logins in one second stay ten events,
 * and reading the same log twice still adds nothing). The count looks back
 * over at least the last 262,144 distinct records of the input. The hash
 * is fast, not cryptographic, so such a record is a duplicate only when
 * the entry stored under its key has the same source and body
 * (evidence_record.dedupe_confirm): a body made to collide with a later
 * record's cannot keep that record out of the log.
 */
#ifndef AUDITD_INGEST_PIPELINE_H
#define AUDITD_INGEST_PIPELINE_H

#include "auditd/ingest/ingest.h"
#include "evidence/evidence.h"
#include "lib/jcs.h"

#include <stdio.h>

struct ingest_counts {
	size_t records;    /* accepted in phase 1 */
	size_t appended;
	size_t duplicates;
	size_t rejected;
	size_t skipped;    /* input skipped on purpose (other programs' lines...) */
	int64_t first_seq, last_seq;
};

struct ingest_pipeline_opts {
	const char *kind;    /* records must be of this kind; NULL: any */
	int skip_invalid;    /* append the valid records even if some were rejected */
	FILE *rejects;       /* rejected input as JSON Lines, or NULL */
	FILE *errors;        /* where reject messages are printed (stderr), or NULL */
	size_t max_errors_shown;
	size_t batch;        /* records per append transaction */
	const char *spool_dir; /* where the spool file lives (the store dir) */
	/* Keep the records in memory (at most memory_max bytes of them; 0:
	 * 256 MiB) for ingest_pipeline_take() instead of a spool file; st
	 * may then be NULL and ingest_pipeline_commit() is not used. */
	int memory;
	size_t memory_max;
	/* Called for every reject besides errors/rejects (e.g. to tell an
	 * HTTP client which line is wrong); may be NULL. Return 0 to go on. */
	int (*on_reject)(void *ctx, const char *where, const char *reason);
	void *on_reject_ctx;
};

/* Records taken out of a memory pipeline: recs[i] point into data. */
struct ingest_batch {
	struct evidence_record *recs;
	size_t n;
	char *data;
	size_t len;
};

struct ingest_pipeline;

/* A pipeline appending to st (borrowed; it must outlive the pipeline). */
int ingest_pipeline_new(struct ingest_pipeline **out, struct evidence_store *st,
			const struct ingest_pipeline_opts *opts);
void ingest_pipeline_free(struct ingest_pipeline *p);

/* The sink adapters feed (borrowed from p). */
const struct ingest_sink *ingest_pipeline_sink(struct ingest_pipeline *p);

/* Start a new input (resets the count of identical records). */
void ingest_pipeline_next_input(struct ingest_pipeline *p);

/* Native JSON Lines: one object per line with "kind" (optional when the
 * pipeline has a kind), "time" (RFC 3339), "source" and "body". */
int ingest_native(FILE *in, const struct ingest_options *opt, struct ingest_pipeline *p);

/* Add one record from its parts (the body parsed). where names it. */
int ingest_pipeline_add(struct ingest_pipeline *p, const char *kind, int64_t time_us,
			const char *source, size_t source_len, const struct ak_jv *body,
			const char *event_id, const char *where);

/* Phase 2 (see above). out gets the counts of both phases. Returns
 * AK_EINVALID (nothing appended) when records were rejected and
 * skip_invalid is off. */
int ingest_pipeline_commit(struct ingest_pipeline *p, struct ingest_counts *out);

/* Phase 1's result of a memory pipeline: the records accepted, in input
 * order, moved into out (free it with ingest_batch_free()); the pipeline
 * is left empty for the next input. AK_EINVALID (out empty) when records
 * were rejected and skip_invalid is off, as ingest_pipeline_commit(). */
int ingest_pipeline_take(struct ingest_pipeline *p, struct ingest_batch *out);
void ingest_batch_free(struct ingest_batch *b);

/* The counts so far. */
void ingest_pipeline_counts(const struct ingest_pipeline *p, struct ingest_counts *out);

#endif
