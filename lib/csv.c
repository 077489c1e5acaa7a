/*
 * lib/csv.c - RFC 4180 reader and writer (see lib/csv.h).
 *
 * The reader is a four-state machine fed one byte at a time from a 64 KiB
 * read-ahead block: at the start of a field, inside an unquoted field,
 * inside a quoted field, and just after a quote inside a quoted field
 * (which is either the first half of "" or the closing quote). Field bytes
 * go to one buffer per record, each field followed by a NUL, so handing
 * out a record costs no allocation once the buffers have grown.
 *
 * When a record is refused the machine keeps running in a discarding mode
 * until the record's end, so the next record is found by the same quoting
 * rules that would have applied had the record been good.
 *
 * SECURITY: the input is outside data (CSV files uploaded or exported by
 * other systems). It may be arbitrarily long, have endless fields or an
 * unterminated quote, hold any bytes (NUL, invalid UTF-8, bare CR), and
 * have any number of fields. This code may only: hold at most max_record
 * bytes of fields plus max_record bytes of raw text and max_fields spans,
 * refuse what is malformed with a reason, and return. It never trusts a
 * length from the input and never writes outside its buffers.
 */
#include "lib/csv.h"

#include "lib/error.h"
#include "lib/jcs.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RBUF 65536

/* getb()/peekb() results besides a byte. */
#define CSV_EOF  (-1)
#define CSV_RERR (-2)

enum state {
	FIELD_START, /* nothing of the current field read yet */
	UNQUOTED,    /* inside a field that did not start with a quote */
	QUOTED,      /* inside a quoted field */
	QUOTE_SEEN,  /* a quote inside a quoted field: "" or the end */
};

static size_t or_default(size_t v, size_t def)
{
	return v ? v : def;
}

int ak_csv_init(struct ak_csv_reader *r, FILE *in, const struct ak_csv_limits *limits)
{
	size_t data_max;

	memset(r, 0, sizeof(*r));
	r->in = in;
	r->lim.max_field = or_default(limits ? limits->max_field : 0, AK_CSV_DEFAULT_MAX_FIELD);
	r->lim.max_record =
		or_default(limits ? limits->max_record : 0, AK_CSV_DEFAULT_MAX_RECORD);
	r->lim.max_fields =
		or_default(limits ? limits->max_fields : 0, AK_CSV_DEFAULT_MAX_FIELDS);
	r->cur_line = 1;
	/* The record limit is checked here, byte by byte, with a reason that
	 * names the record; the buffer's own limit only has to stay out of
	 * the way (field bytes plus one NUL per field). */
	data_max = r->lim.max_record;
	if (data_max > SIZE_MAX - r->lim.max_fields - 1)
		data_max = SIZE_MAX;
	else
		data_max += r->lim.max_fields + 1;
	ak_buf_init(&r->data, data_max);
	ak_buf_init(&r->raw, r->lim.max_record);
	r->rbuf = malloc(RBUF);
	return r->rbuf ? 0 : ak_error_oom();
}

void ak_csv_free(struct ak_csv_reader *r)
{
	free(r->rbuf);
	r->rbuf = NULL;
	ak_buf_free(&r->data);
	ak_buf_free(&r->raw);
	free(r->spans);
	r->spans = NULL;
	free(r->fields);
	r->fields = NULL;
	r->cap_fields = 0;
	r->nfields = 0;
}

/* Make sure a byte is available: 1, 0 at the end, CSV_RERR. */
static int fill(struct ak_csv_reader *r)
{
	if (r->rpos < r->rlen)
		return 1;
	if (r->eof)
		return 0;
	r->rpos = 0;
	r->rlen = fread(r->rbuf, 1, RBUF, r->in);
	if (r->rlen == 0) {
		if (ferror(r->in)) {
			snprintf(r->reason, sizeof(r->reason), "read error: %s", strerror(errno));
			return CSV_RERR;
		}
		r->eof = 1;
		return 0;
	}
	return 1;
}

static int peekb(struct ak_csv_reader *r)
{
	int rc = fill(r);

	if (rc <= 0)
		return rc == 0 ? CSV_EOF : CSV_RERR;
	return (unsigned char)r->rbuf[r->rpos];
}

/* Consume one byte; it also goes to the raw text while that fits. */
static int getb(struct ak_csv_reader *r)
{
	int c = peekb(r);

	if (c < 0)
		return c;
	r->rpos++;
	if (c == '\n')
		r->cur_line++;
	if (!r->raw_lost) {
		/* Checked before appending so that losing the raw text (which
		 * is only a convenience) sets no error message. */
		if (r->raw.len >= r->lim.max_record || ak_buf_putc(&r->raw, (char)c) != 0)
			r->raw_lost = 1;
	}
	return c;
}

/* The state of the record being read, kept apart from the reader so that
 * every call starts from a clean slate. */
struct rec {
	int err;            /* first error code of this record, 0 while good */
	size_t field_start; /* offset in data where the current field began */
	size_t bytes;       /* field bytes of the record so far */
};

static void refuse(struct ak_csv_reader *r, struct rec *k, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Mark the record refused with the first reason found; later problems of
 * the same record are consequences and are not reported. */
static void refuse(struct ak_csv_reader *r, struct rec *k, int code, const char *fmt, ...)
{
	va_list ap;

	if (k->err)
		return;
	k->err = code;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

/* Append a byte to the current field, within the limits. */
static void add(struct ak_csv_reader *r, struct rec *k, int c)
{
	if (k->err)
		return;
	if (c == 0) {
		refuse(r, k, AK_EINVALID, "field %zu: NUL byte", r->nfields + 1);
		return;
	}
	if (r->data.len - k->field_start >= r->lim.max_field) {
		refuse(r, k, AK_ETOOBIG, "field %zu is longer than %zu bytes", r->nfields + 1,
		       r->lim.max_field);
		return;
	}
	if (k->bytes >= r->lim.max_record) {
		refuse(r, k, AK_ETOOBIG, "record is longer than %zu bytes", r->lim.max_record);
		return;
	}
	if (ak_buf_putc(&r->data, (char)c) != 0) {
		refuse(r, k, AK_ENOMEM, "out of memory");
		return;
	}
	k->bytes++;
}

/* Close the current field: check it, NUL-terminate it, record its span. */
static void end_field(struct ak_csv_reader *r, struct rec *k)
{
	size_t len, bad;

	if (k->err)
		return;
	len = r->data.len - k->field_start;
	/* An empty field of an empty buffer: no bytes, and no pointer to offset. */
	bad = len ? ak_utf8_valid_prefix(r->data.data + k->field_start, len) : 0;
	if (bad < len) {
		refuse(r, k, AK_EINVALID, "field %zu: invalid UTF-8 at byte %zu", r->nfields + 1,
		       bad + 1);
		return;
	}
	if (r->nfields >= r->lim.max_fields) {
		refuse(r, k, AK_ETOOBIG, "more than %zu fields", r->lim.max_fields);
		return;
	}
	if (r->nfields == r->cap_fields) {
		size_t cap = r->cap_fields ? r->cap_fields * 2 : 16;
		size_t *spans;
		struct ak_csv_field *fields;

		if (cap > r->lim.max_fields)
			cap = r->lim.max_fields;
		spans = realloc(r->spans, cap * 2 * sizeof(*spans));
		if (spans == NULL) {
			refuse(r, k, AK_ENOMEM, "out of memory");
			return;
		}
		r->spans = spans;
		fields = realloc(r->fields, cap * sizeof(*fields));
		if (fields == NULL) {
			refuse(r, k, AK_ENOMEM, "out of memory");
			return;
		}
		r->fields = fields;
		r->cap_fields = cap;
	}
	if (ak_buf_putc(&r->data, '\0') != 0) {
		refuse(r, k, AK_ENOMEM, "out of memory");
		return;
	}
	r->spans[2 * r->nfields] = k->field_start;
	r->spans[2 * r->nfields + 1] = len;
	r->nfields++;
	k->field_start = r->data.len;
}

/* At the very start of the input: drop a UTF-8 byte-order mark. */
static int skip_bom(struct ak_csv_reader *r)
{
	int rc = fill(r);

	if (rc < 0)
		return rc;
	/* fread() returns a short count only at the end or on error, so
	 * three bytes are here unless the whole input is shorter. */
	if (r->rlen - r->rpos >= 3 && memcmp(r->rbuf + r->rpos, "\xef\xbb\xbf", 3) == 0) {
		r->rpos += 3;
		r->had_bom = 1;
	}
	return 0;
}

int ak_csv_next(struct ak_csv_reader *r, const struct ak_csv_field **fields, size_t *n)
{
	struct rec k = {0, 0, 0};
	enum state st = FIELD_START;
	unsigned long quote_line = 0;
	int any = 0; /* a byte of the record has been read */
	int c;
	size_t i;

	if (r->dead < 0)
		return ak_error_set("%s", r->reason);
	if (r->dead)
		return 0;
	if (!r->started) {
		r->started = 1;
		if (skip_bom(r) < 0) {
			r->dead = -1;
			return ak_error_set("%s", r->reason);
		}
	}
	ak_buf_reset(&r->data);
	ak_buf_reset(&r->raw);
	r->raw_lost = 0;
	r->nfields = 0;
	r->reason[0] = '\0';

	for (;;) {
		unsigned long line_before = r->cur_line;

		c = getb(r);
		if (c == CSV_RERR) {
			r->dead = -1;
			return ak_error_set("%s", r->reason);
		}
		if (!any) {
			if (c == CSV_EOF) {
				r->dead = 1;
				return 0;
			}
			if (c == '\n' || (c == '\r' && peekb(r) == '\n')) {
				/* An empty line between records: no record. */
				if (c == '\r')
					getb(r);
				ak_buf_reset(&r->raw);
				continue;
			}
			any = 1;
			r->record++;
			r->line = line_before;
		}
		if (c == '\r' && st != QUOTED) {
			/* Only CRLF ends a line outside quotes; a lone CR is
			 * neither text (RFC 4180 TEXTDATA) nor a line end we
			 * can tell from a typo. */
			if (peekb(r) == '\n') {
				getb(r);
				c = '\n';
			} else {
				refuse(r, &k, AK_EINVALID,
				       "field %zu: carriage return outside quotes not followed "
				       "by a line feed",
				       r->nfields + 1);
				st = UNQUOTED;
				continue;
			}
		}
		switch (st) {
		case FIELD_START:
			if (c == '"') {
				quote_line = line_before;
				st = QUOTED;
				continue;
			}
			if (c == ',') {
				end_field(r, &k);
				continue;
			}
			if (c == '\n' || c == CSV_EOF)
				goto record_end;
			add(r, &k, c);
			st = UNQUOTED;
			continue;
		case UNQUOTED:
			if (c == ',') {
				end_field(r, &k);
				st = FIELD_START;
				continue;
			}
			if (c == '\n' || c == CSV_EOF)
				goto record_end;
			if (c == '"')
				refuse(r, &k, AK_EINVALID,
				       "field %zu: quote inside an unquoted field", r->nfields + 1);
			add(r, &k, c);
			continue;
		case QUOTED:
			if (c == CSV_EOF) {
				r->dead = 1;
				/* This explains the record better than anything before. */
				k.err = 0;
				refuse(r, &k, AK_EINVALID,
				       "field %zu: quoted field opened on line %lu is not closed "
				       "at the end of the input",
				       r->nfields + 1, quote_line);
				goto record_end;
			}
			if (c == '"')
				st = QUOTE_SEEN;
			else
				add(r, &k, c);
			continue;
		case QUOTE_SEEN:
			if (c == '"') {
				add(r, &k, '"');
				st = QUOTED;
				continue;
			}
			if (c == ',') {
				end_field(r, &k);
				st = FIELD_START;
				continue;
			}
			if (c == '\n' || c == CSV_EOF)
				goto record_end;
			refuse(r, &k, AK_EINVALID, "field %zu: characters after the closing quote",
			       r->nfields + 1);
			st = UNQUOTED;
			continue;
		}
	}

record_end:
	if (!r->raw_lost) {
		/* The line end that closed the record is not part of it. */
		if (c == '\n' && r->raw.len && r->raw.data[r->raw.len - 1] == '\n') {
			ak_buf_truncate(&r->raw, r->raw.len - 1);
			if (r->raw.len && r->raw.data[r->raw.len - 1] == '\r')
				ak_buf_truncate(&r->raw, r->raw.len - 1);
		}
	}
	end_field(r, &k);
	if (k.err)
		return ak_error_code(k.err, "record %lu (line %lu): %s", r->record, r->line,
				     r->reason);
	for (i = 0; i < r->nfields; i++) {
		r->fields[i].ptr = r->data.data + r->spans[2 * i];
		r->fields[i].len = r->spans[2 * i + 1];
	}
	*fields = r->fields;
	*n = r->nfields;
	return 1;
}

const char *ak_csv_raw(const struct ak_csv_reader *r, size_t *len)
{
	if (r->raw_lost || r->record == 0)
		return NULL;
	*len = r->raw.len;
	return r->raw.data ? r->raw.data : "";
}

/* Whether a field must be quoted to read back as the same bytes (or, for
 * white space at either end, to survive spreadsheets that trim). A field
 * starting with U+FEFF is quoted too: first in a file, it would read back
 * as a byte-order mark and be dropped. */
static int needs_quotes(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	if (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t')
		return 1;
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		return 1;
	for (i = 0; i < len; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			return 1;
	return 0;
}

static int write_field(struct ak_buf *out, const char *s, size_t len)
{
	const char *end = s + len, *q;
	int rc;

	if (!needs_quotes(s, len))
		return ak_buf_append(out, s, len);
	if ((rc = ak_buf_putc(out, '"')) != 0)
		return rc;
	while ((q = memchr(s, '"', (size_t)(end - s))) != NULL) {
		/* Up to and including the quote, then the quote again. */
		if ((rc = ak_buf_append(out, s, (size_t)(q - s) + 1)) != 0 ||
		    (rc = ak_buf_putc(out, '"')) != 0)
			return rc;
		s = q + 1;
	}
	if ((rc = ak_buf_append(out, s, (size_t)(end - s))) != 0)
		return rc;
	return ak_buf_putc(out, '"');
}

int ak_csv_write_field(struct ak_buf *out, const char *s, size_t len)
{
	size_t was = out->len;
	int rc = write_field(out, s, len);

	if (rc != 0)
		ak_buf_truncate(out, was); /* nothing half-written */
	return rc;
}

int ak_csv_write_record(struct ak_buf *out, const struct ak_csv_field *fields, size_t n)
{
	size_t was = out->len, i;
	int rc = 0;

	if (n == 1 && fields[0].len == 0) {
		rc = ak_buf_append(out, "\"\"", 2);
		goto done;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (i > 0)
			rc = ak_buf_putc(out, ',');
		if (rc == 0)
			rc = write_field(out, fields[i].ptr, fields[i].len);
	}
done:
	if (rc == 0)
		rc = ak_buf_append(out, "\r\n", 2);
	if (rc != 0)
		ak_buf_truncate(out, was);
	return rc;
}
