/*
 * auditd/ingest/ingest.h - the contract between input adapters and the
 * ingest pipeline.
 *
 * An adapter reads one outside format (Postfix maillog, consent CSV, OCSF,
 * DMARC aggregate reports, native JSON Lines) and hands each record it finds
 * to a sink as a struct ingest_record: the kind, the event time, the source,
 * a body built with jansson, and where the record came from. Records it
 * cannot use go to the sink's reject() with the place and the reason;
 * things it skips on purpose (other programs' syslog lines) go to skip().
 *
 * Adapters know nothing of the store: validation of the body against its
 * kind, normalisation, dedupe keys and appending are the pipeline's job
 * (auditd/ingest/pipeline.c), one path per kind whatever the door. An
 * adapter never stops at the first bad record: it rejects it and goes on,
 * so a caller can report every problem of an input at once.
 *
 * Errors: adapters return 0 when the input was read to its end (even with
 * rejects), or a negative code when reading itself failed (I/O error, a
 * limit of the whole input exceeded, the sink asked to stop) with
 * ak_error_set() naming the input.
 */
#ifndef AUDITD_INGEST_H
#define AUDITD_INGEST_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

struct ingest_record {
	const char *kind;     /* "send", "consent", "admin", "dmarc", ... */
	int64_t time_us;      /* event time, UTC microseconds since the epoch */
	const char *source;   /* producer of the record, e.g. "postfix:mx1", "csv:consent.csv" */
	json_t *body;         /* borrowed: the sink takes its own reference if it keeps it */
	/* Instead of body, an adapter whose records can be large (DMARC) may
	 * give the body as canonical JSON text (lib/jcs.h) it wrote itself,
	 * so no DOM of it is ever built. Exactly one of body / body_json. */
	const char *body_json;
	size_t body_json_len;
	const char *event_id; /* the source's own id for this event, or NULL (dedupe uses
			       * a hash of the normalised record instead) */
	const char *where;    /* "FILE:LINE", "FILE: report 3", ... for messages */
};

struct ingest_sink {
	/* A record. Return 0 to go on; a negative code stops the adapter
	 * (the message is already set). The sink copies what it keeps. */
	int (*record)(void *ctx, const struct ingest_record *rec);
	/* Input that is not a valid record: where (FILE:LINE), why, and the
	 * raw text when there is one (may be NULL). Return 0 to go on. */
	int (*reject)(void *ctx, const char *where, const char *reason, const char *raw,
		      size_t raw_len);
	/* Input skipped on purpose (not an error), counted by the pipeline. */
	void (*skip)(void *ctx, const char *where, const char *why);
	void *ctx;
};

struct ingest_options {
	const char *name;    /* the input's name in messages: a path, or "-" */
	const char *source;  /* --source, or NULL for the adapter's default */
	/* Syslog timestamps carry neither year nor zone. */
	int year;            /* 0: infer (see docs/OPERATIONS.md "Times in logs") */
	const char *zone;    /* IANA zone of zone-less times; NULL: the host's zone */
	int64_t ref_us;      /* reference instant for year inference: the input
			      * file's mtime, or now for a stream */
	size_t max_line;     /* longest line accepted (bytes) */
	size_t max_bytes;    /* largest decompressed report / archive member */
	size_t max_records;  /* most rows in one report */
};

#endif
