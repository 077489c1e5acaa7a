/*
 * auditd/ingest/consent.c - the consent CSV adapter (see consent.h).
 *
 * The header is read once into a column plan: each column either carries
 * the time, the event id, or a body field with its path already split.
 * The plan is checked as a whole before any row is read, so that two
 * columns can never aim at the same place in a body (a repeated name, or
 * "proof" next to "proof.ip"); building a row's body then cannot fail on
 * the input, only on memory.
 *
 * SECURITY: the input is a file from another system, possibly edited by
 * hand or crafted. It may hold anything lib/csv.c accepts or refuses, any
 * header, any number of rows. This code reads it through lib/csv (bounded
 * by opt->max_line per field and per row), copies cells into JSON strings
 * (never interprets them except the time), and hands records and rejects
 * to the sink. Memory is the header plan plus one row.
 */
#include "auditd/ingest/consent.h"

#include "lib/buf.h"
#include "lib/csv.h"
#include "lib/error.h"
#include "lib/timefmt.h"

#include <stdlib.h>
#include <string.h>

enum column_role {
	COLUMN_BODY,     /* a body field at path */
	COLUMN_TIME,     /* the record's time */
	COLUMN_EVENT_ID, /* the record's event_id */
	COLUMN_SOURCE,   /* the record's source, when the cell is not empty */
};

struct column {
	enum column_role role;
	char *name;     /* as in the header (owned) */
	char **path;    /* the name split at '.', for body columns (owned) */
	size_t depth;   /* segments in path */
};

struct plan {
	struct column *cols;
	size_t n;
};

/* Everything one call of ingest_consent_csv() works with. */
struct consent_reader {
	const struct ingest_options *opt;
	const struct ingest_sink *sink;
	const char *name;      /* the input's name in messages */
	struct ak_csv_reader csv;
	struct plan plan;
	struct ak_buf source;  /* the records' source */
	struct ak_buf where;   /* "NAME:LINE" of the row at hand */
	struct ak_buf reason;  /* why the row at hand is rejected */
};

static void plan_free(struct plan *p)
{
	size_t i, j;

	for (i = 0; i < p->n; i++) {
		free(p->cols[i].name);
		for (j = 0; j < p->cols[i].depth; j++)
			free(p->cols[i].path[j]);
		free(p->cols[i].path);
	}
	free(p->cols);
	p->cols = NULL;
	p->n = 0;
}

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* Whether s is one or more names of [A-Za-z0-9_-] joined by single dots.
 * Restricting names to these keeps every body key printable, unambiguous
 * in a dotted path, and free of white space a spreadsheet may have added. */
static int is_field_path(const char *s, size_t len)
{
	size_t i, seg = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (seg == 0)
				return 0;
			seg = 0;
		} else if (is_name_char(s[i])) {
			seg++;
		} else {
			return 0;
		}
	}
	return seg > 0;
}

static int split_path(struct column *col)
{
	const char *p = col->name, *dot;
	size_t n = 1, i;

	for (dot = p; (dot = strchr(dot, '.')) != NULL; dot++)
		n++;
	col->path = calloc(n, sizeof(*col->path));
	if (col->path == NULL)
		return ak_error_oom();
	for (i = 0; i < n; i++) {
		dot = strchr(p, '.');
		col->path[i] = strndup(p, dot ? (size_t)(dot - p) : strlen(p));
		if (col->path[i] == NULL)
			return ak_error_oom();
		col->depth = i + 1;
		p = dot ? dot + 1 : p;
	}
	return 0;
}

/* Quote a header name for a message: at most 64 bytes of it (cut at a
 * character boundary), control characters as '?', so that a hostile
 * header cannot flood or break the line a person reads. */
static const char *shown(struct ak_buf *out, const char *s)
{
	size_t len = strlen(s), cut = len > 64 ? 64 : len, i;

	while (cut < len && cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
		cut--;
	ak_buf_reset(out);
	ak_buf_putc(out, '\'');
	for (i = 0; i < cut; i++)
		ak_buf_putc(out, (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i]);
	ak_buf_puts(out, cut < len ? "...'" : "'");
	return out->data ? out->data : "''"; /* "''" only when out of memory */
}

/* The relation of two column names that cannot both be in a header:
 * 1 the same, 2 b inside a ("proof" and "proof.ip"), 0 neither. */
static int names_clash(const char *a, const char *b)
{
	size_t la = strlen(a);

	if (strcmp(a, b) == 0)
		return 1;
	return strncmp(a, b, la) == 0 && b[la] == '.' ? 2 : 0;
}

/* Turn the header row into a plan. AK_EINVALID with the reason in
 * c->reason (for the reject), AK_ENOMEM with the error message. */
static int plan_header(struct consent_reader *c, const struct ak_csv_field *f, size_t n)
{
	struct plan *p = &c->plan;
	struct ak_buf a = AK_BUF_INIT(0), b = AK_BUF_INIT(0);
	size_t i, j, event_col = 0;
	int have_event = 0, have_time = 0, rc = 0;

	p->cols = calloc(n, sizeof(*p->cols));
	if (p->cols == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	for (i = 0; i < n; i++) {
		struct column *col = &p->cols[i];

		p->n = i + 1;
		col->name = strndup(f[i].ptr, f[i].len);
		if (col->name == NULL) {
			rc = ak_error_oom();
			goto done;
		}
		if (f[i].len == 0) {
			rc = ak_buf_printf(&c->reason, "header: column %zu has no name", i + 1);
			goto invalid;
		}
		if (!is_field_path(f[i].ptr, f[i].len)) {
			rc = ak_buf_printf(&c->reason,
					   "header: column %zu %s is not a field name (names of "
					   "letters, digits, '_' and '-', joined by '.')",
					   i + 1, shown(&a, col->name));
			goto invalid;
		}
		if (strcmp(col->name, "time") == 0) {
			col->role = COLUMN_TIME;
			have_time = 1;
		} else if (strcmp(col->name, "source") == 0) {
			col->role = COLUMN_SOURCE;
		} else if (strcmp(col->name, "event_id") != 0 &&
			   strcmp(col->name, "id") != 0) {
			col->role = COLUMN_BODY;
			if ((rc = split_path(col)) != 0)
				goto done;
		} else if (!have_event) {
			col->role = COLUMN_EVENT_ID;
			event_col = i;
			have_event = 1;
		} else {
			rc = ak_buf_printf(&c->reason,
					   "header: columns %zu %s and %zu %s both name the "
					   "event id",
					   event_col + 1, shown(&a, p->cols[event_col].name), i + 1,
					   shown(&b, col->name));
			goto invalid;
		}
	}
	/* Two columns aiming at the same place in a body would make one cell
	 * overwrite another, or a string and an object of the same name. */
	for (i = 0; i < n; i++) {
		for (j = 0; j < n; j++) {
			int clash = i == j ? 0 : names_clash(p->cols[i].name, p->cols[j].name);

			if (clash == 1 && i < j) {
				rc = ak_buf_printf(&c->reason,
						   "header: column %zu %s repeats column %zu",
						   j + 1, shown(&a, p->cols[j].name), i + 1);
				goto invalid;
			}
			if (clash == 2) {
				rc = ak_buf_printf(&c->reason,
						   "header: column %zu %s is inside column %zu %s",
						   j + 1, shown(&a, p->cols[j].name), i + 1,
						   shown(&b, p->cols[i].name));
				goto invalid;
			}
		}
	}
	if (!have_time) {
		rc = ak_buf_puts(&c->reason, "header: no 'time' column");
		goto invalid;
	}
	goto done;

invalid:
	if (rc == 0)
		rc = AK_EINVALID;
done:
	ak_buf_free(&a);
	ak_buf_free(&b);
	return rc;
}

/* Put a string at path into body, creating the objects on the way. The
 * plan guarantees every object on the way is one this function made. */
static int body_set(json_t *body, const struct column *col, const char *s, size_t len)
{
	json_t *obj = body, *v;
	size_t i;

	for (i = 0; i + 1 < col->depth; i++) {
		json_t *next = json_object_get(obj, col->path[i]);

		if (next == NULL) {
			next = json_object();
			if (next == NULL || json_object_set_new(obj, col->path[i], next) != 0)
				return ak_error_oom();
		}
		obj = next;
	}
	v = json_stringn(s, len); /* lib/csv only hands out valid UTF-8 */
	if (v == NULL || json_object_set_new(obj, col->path[col->depth - 1], v) != 0)
		return ak_error_oom();
	return 0;
}

static int reject(struct consent_reader *c)
{
	const char *raw;
	size_t raw_len = 0;

	raw = ak_csv_raw(&c->csv, &raw_len);
	return c->sink->reject(c->sink->ctx, c->where.data, c->reason.data, raw, raw_len);
}

/* One data row: a record, or a reject. 0 to go on, negative to stop. */
static int do_row(struct consent_reader *c, const struct ak_csv_field *f, size_t n)
{
	struct ingest_record rec;
	unsigned long row = c->csv.record - 1;
	const char *event_id = NULL, *source = c->source.data;
	json_t *body = NULL;
	int64_t time_us = 0;
	size_t i;
	int rc;

	if (n != c->plan.n) {
		rc = ak_buf_printf(&c->reason, "row %lu: %zu %s, the header has %zu", row, n,
				   n == 1 ? "cell" : "cells", c->plan.n);
		if (rc == 0)
			rc = reject(c);
		goto done;
	}
	body = json_object();
	if (body == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	for (i = 0; i < n; i++) {
		const struct column *col = &c->plan.cols[i];

		if (col->role == COLUMN_TIME) {
			if (f[i].len == 0) {
				rc = ak_buf_printf(&c->reason, "row %lu: column 'time' is empty",
						   row);
				if (rc == 0)
					rc = reject(c);
				goto done;
			}
			if (ak_time_parse(f[i].ptr, f[i].len, &time_us) != 0) {
				rc = ak_buf_printf(&c->reason, "row %lu: column 'time': %s", row,
						   ak_error_last());
				if (rc == 0)
					rc = reject(c);
				goto done;
			}
		} else if (f[i].len == 0) {
			continue; /* an empty cell leaves the field out */
		} else if (col->role == COLUMN_EVENT_ID) {
			event_id = f[i].ptr;
		} else if (col->role == COLUMN_SOURCE) {
			source = f[i].ptr;
		} else if ((rc = body_set(body, col, f[i].ptr, f[i].len)) != 0) {
			goto done;
		}
	}
	memset(&rec, 0, sizeof(rec));
	rec.kind = "consent";
	rec.time_us = time_us;
	rec.source = source;
	rec.body = body;
	rec.event_id = event_id;
	rec.where = c->where.data;
	rc = c->sink->record(c->sink->ctx, &rec);
done:
	json_decref(body);
	return rc;
}

/* "csv:" + the base name of the input, or --source. */
static int make_source(struct consent_reader *c)
{
	const char *base;

	if (c->opt->source != NULL)
		return ak_buf_puts(&c->source, c->opt->source);
	if (strcmp(c->name, "-") == 0)
		return ak_buf_puts(&c->source, "csv:stdin");
	base = strrchr(c->name, '/');
	return ak_buf_printf(&c->source, "csv:%s", base ? base + 1 : c->name);
}

int ingest_consent_csv(FILE *in, const struct ingest_options *opt, const struct ingest_sink *sink)
{
	struct consent_reader c;
	struct ak_csv_limits lim = {opt->max_line, opt->max_line, 0};
	const struct ak_csv_field *f;
	size_t n;
	int rc, rc2, csv_open = 0;

	memset(&c, 0, sizeof(c));
	c.opt = opt;
	c.sink = sink;
	c.name = opt->name ? opt->name : "-";
	ak_buf_init(&c.source, 0);
	ak_buf_init(&c.where, 0);
	ak_buf_init(&c.reason, 0);
	if ((rc = make_source(&c)) != 0 || (rc = ak_csv_init(&c.csv, in, &lim)) != 0)
		goto done;
	csv_open = 1;

	/* The header: any problem with it refuses the whole file, since no
	 * row can be read without knowing where its cells go. */
	rc = ak_csv_next(&c.csv, &f, &n);
	if (rc == 0) {
		rc = ak_buf_puts(&c.reason, "header: missing (the input is empty)");
		if (rc == 0)
			rc = sink->reject(sink->ctx, c.name, c.reason.data, NULL, 0);
		goto done;
	}
	if (rc < 0 && rc != AK_EINVALID && rc != AK_ETOOBIG)
		goto done; /* read error, out of memory */
	if ((rc2 = ak_buf_printf(&c.where, "%s:%lu", c.name, c.csv.line)) != 0) {
		rc = rc2;
		goto done;
	}
	if (rc < 0) {
		rc = ak_buf_printf(&c.reason, "header: %s", c.csv.reason);
		if (rc == 0)
			rc = reject(&c);
		goto done;
	}
	rc = plan_header(&c, f, n);
	if (rc == AK_EINVALID) {
		rc = reject(&c);
		goto done;
	}
	if (rc != 0)
		goto done;

	while ((rc = ak_csv_next(&c.csv, &f, &n)) != 0) {
		if (rc < 0 && rc != AK_EINVALID && rc != AK_ETOOBIG)
			goto done;
		ak_buf_reset(&c.where);
		ak_buf_reset(&c.reason);
		if ((rc2 = ak_buf_printf(&c.where, "%s:%lu", c.name, c.csv.line)) != 0) {
			rc = rc2;
			goto done;
		}
		if (rc < 0) {
			/* Refused by the CSV reader, which has already moved
			 * on to the next row (or to the end). */
			rc = ak_buf_printf(&c.reason, "row %lu: %s", c.csv.record - 1,
					   c.csv.reason);
			if (rc == 0)
				rc = reject(&c);
		} else {
			rc = do_row(&c, f, n);
		}
		if (rc != 0)
			goto done;
	}
	rc = 0;
done:
	if (rc < 0)
		ak_error_prefix("%s", c.name);
	if (csv_open)
		ak_csv_free(&c.csv);
	plan_free(&c.plan);
	ak_buf_free(&c.source);
	ak_buf_free(&c.where);
	ak_buf_free(&c.reason);
	return rc;
}
