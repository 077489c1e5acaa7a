/*
 * lib/csv.h - RFC 4180 comma-separated values: a bounded reader and a writer.
 *
 * Consent exports from CRMs, recipient lists and report exports are CSV.
 * The reader takes RFC 4180 as written plus what real exporters produce:
 *
 *   - records end with CRLF or a bare LF; the last record may lack one;
 *   - a field in double quotes may hold commas, CR, LF and quotes written
 *     as "" (so one record may span several physical lines);
 *   - a UTF-8 byte-order mark at the very start is dropped (had_bom says so);
 *   - an empty physical line between records is no record at all (a record
 *     of one empty field is written "" by the writer, so nothing is lost).
 *
 * Every field must be valid UTF-8 without NUL bytes, so a field can be used
 * as a C string and put into JSON as is.
 *
 * Memory is bounded by the limits whatever the input: a field or record
 * over its limit is reported and skipped, never buffered whole.
 *
 * Errors. ak_csv_next() returns a negative code for a record it refuses,
 * with ak_error_set() "record N (line L): reason" and the bare reason in
 * r->reason (for callers that name the place their own way), r->record and
 * r->line naming the refused record:
 *
 *   AK_EINVALID  a quote inside an unquoted field, characters after a
 *                closing quote, a CR outside quotes not followed by LF,
 *                invalid UTF-8, a NUL byte;
 *   AK_ETOOBIG   a field, record or field count over its limit;
 *   AK_ENOMEM    out of memory while holding the record;
 *   AK_EINVALID  a quoted field still open at the end of the input;
 *   AK_ERROR     a read error of the stream.
 *
 * After all but the last two the reader has already skipped to the end of
 * the refused record, found by the normal quoting rules (a stray quote
 * counts as a plain character), and the next call reads the following
 * record. An unterminated quote has swallowed everything after it, so
 * there is no following record to find: the next call returns 0 (end).
 * After a read error every further call fails again.
 *
 * The writer quotes a field only when it must be (comma, quote, CR, LF) or
 * when a spreadsheet would otherwise lose something (leading or trailing
 * space or tab). It writes bytes as given and does not defuse spreadsheet
 * formulas (=, +, -, @): an export meant for spreadsheets must do that
 * itself.
 *
 * Ownership: fields returned by ak_csv_next() are borrowed from the reader
 * and valid until the next call or ak_csv_free(). The FILE is borrowed.
 */
#ifndef AK_CSV_H
#define AK_CSV_H

#include "lib/buf.h"

#include <stddef.h>
#include <stdio.h>

/* Defaults for a limit given as 0. */
#define AK_CSV_DEFAULT_MAX_FIELD  ((size_t)1 << 20)
#define AK_CSV_DEFAULT_MAX_RECORD ((size_t)4 << 20)
#define AK_CSV_DEFAULT_MAX_FIELDS ((size_t)4096)

struct ak_csv_limits {
	size_t max_field;  /* bytes in one field, after unquoting */
	size_t max_record; /* bytes of one record's fields together (unquoted),
			    * and of its raw text */
	size_t max_fields; /* fields in one record */
};

/* One field: len bytes at ptr, followed by a NUL (not counted). */
struct ak_csv_field {
	const char *ptr;
	size_t len;
};

struct ak_csv_reader {
	/* Public, read-only. */
	unsigned long record; /* 1-based number of the last record read, refused ones included */
	unsigned long line;   /* physical line (1-based) where that record started */
	int had_bom;          /* the input began with a UTF-8 byte-order mark */
	char reason[160];     /* why the last record was refused, without the place */

	/* Private. */
	FILE *in;
	struct ak_csv_limits lim;
	char *rbuf;                  /* read-ahead block */
	size_t rpos, rlen;
	int started, eof, dead;      /* dead: no further record can be found */
	unsigned long cur_line;      /* physical line of the next byte */
	struct ak_buf data;          /* field bytes, each followed by a NUL */
	struct ak_buf raw;           /* the record as written in the input */
	int raw_lost;                /* raw exceeded its limit */
	size_t *spans;               /* offset and length in data of each field, in pairs */
	struct ak_csv_field *fields; /* what ak_csv_next() hands out */
	size_t nfields, cap_fields;
};

/* Start reading in with the given limits (NULL: defaults). 0 or AK_ENOMEM. */
int ak_csv_init(struct ak_csv_reader *r, FILE *in, const struct ak_csv_limits *limits);

/* Read the next record: 1 with *fields / *n set (at least one field),
 * 0 at the end of the input, or a negative code as described above. */
int ak_csv_next(struct ak_csv_reader *r, const struct ak_csv_field **fields, size_t *n);

/* The last record (read or refused) as it stood in the input, without its
 * line end; NULL when it was longer than max_record bytes or there is
 * none. Borrowed like the fields. */
const char *ak_csv_raw(const struct ak_csv_reader *r, size_t *len);

void ak_csv_free(struct ak_csv_reader *r);

/* Append one field to out, quoted when needed. 0, AK_ETOOBIG or AK_ENOMEM. */
int ak_csv_write_field(struct ak_buf *out, const char *s, size_t len);

/* Append a record of n fields (n >= 1) separated by commas and ended with
 * CRLF. A record of a single empty field is written as "" so that it does
 * not read back as an empty line. 0, AK_ETOOBIG or AK_ENOMEM. */
int ak_csv_write_record(struct ak_buf *out, const struct ak_csv_field *fields, size_t n);

#endif
