/*
 * auditd/ingest/dmarc_int.h - what the files of the DMARC adapter share:
 * the byte stream that containers hand to each other (dmarc_in.c), and the
 * streaming report parser (dmarc_xml.c) that turns one XML document into
 * one canonical body. dmarc.c finds the reports (containers, MIME, mbox,
 * Maildir) and talks to the sink.
 */
#ifndef AUDITD_INGEST_DMARC_INT_H
#define AUDITD_INGEST_DMARC_INT_H

#include "lib/buf.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Bytes the container sniffer looks at before deciding what an input is. */
#define DMARC_PEEK 512

/*
 * A byte stream: the whole input in memory, a file, or the data coming out
 * of a decompressor. Whoever reads it does not care which; a container that
 * needs random access (zip, MIME) asks for the input "whole" and gets the
 * memory or the path when there is one, else a bounded copy.
 */
struct dmarc_in {
	/* Read up to cap bytes into dst: the count, 0 at the end, or a
	 * negative code with the message set. */
	ssize_t (*read)(struct dmarc_in *in, void *dst, size_t cap);
	void *ctx;
	const unsigned char *mem; /* the whole stream when it is in memory */
	size_t mem_len, mem_pos;
	const char *path; /* the whole stream is this file */
	int fd;
	unsigned char peek[DMARC_PEEK]; /* bytes read ahead by dmarc_in_peek() */
	size_t peek_len, peek_pos;
	int eof;
	int io_error; /* a read of fd failed */
};

void dmarc_in_init_mem(struct dmarc_in *in, const void *data, size_t len);
/* fd is borrowed; path (borrowed) names the same file so that zip and
 * MIME readers may reopen it. */
void dmarc_in_init_fd(struct dmarc_in *in, int fd, const char *path);

/* A stream whose bytes come from read(in, ...), with ctx for it. */
void dmarc_in_init_fn(struct dmarc_in *in, ssize_t (*read)(struct dmarc_in *, void *, size_t),
                      void *ctx);

/* Read ahead until want (<= DMARC_PEEK) bytes or the end: *p and *n show
 * them without consuming them. 0 or a negative code. */
int dmarc_in_peek(struct dmarc_in *in, size_t want, const unsigned char **p, size_t *n);

/* Read like in->read, but from the read-ahead first. */
ssize_t dmarc_in_read(struct dmarc_in *in, void *dst, size_t cap);

/* Append the rest of the stream to out (whose limit bounds it). */
int dmarc_in_slurp(struct dmarc_in *in, struct ak_buf *out);

/*
 * The report parser. One struct dmarc_xml is reused for every report of an
 * input. dmarc_xml_parse() reads one XML document from in and, on success,
 * fills the result; the strings in it are borrowed from the parser and
 * valid until its next parse or free.
 */
struct dmarc_xml;

struct dmarc_report {
	const char *body; /* canonical JSON text, body_len bytes */
	size_t body_len;
	int64_t begin_us;
	const char *org_name; /* "" when the report has none */
	const char *report_id;
	size_t rows;
};

/* 0 or AK_ENOMEM. max_bytes bounds the body and every text kept while
 * parsing; max_records the rows. */
int dmarc_xml_new(struct dmarc_xml **out, size_t max_bytes, size_t max_records);
void dmarc_xml_free(struct dmarc_xml *x);

/* Parse one report. 0; AK_EINVALID with a reason ("line 12: <date_range>
 * <begin>: not an integer", expat's message, ...); AK_ETOOBIG when a limit
 * was reached; AK_ENOMEM; or the stream's own error code. */
int dmarc_xml_parse(struct dmarc_xml *x, struct dmarc_in *in, struct dmarc_report *out);

#endif
