/*
 * evidence/index.c - reading the log back, and the derived state the store
 * owns: the (kind, time) catalog and the full-text index.
 *
 * Both derived tables are filled behind the appends by evidence_catchup(),
 * not inside them: indexing text costs several times what appending does
 * (research/baselines.md), and ingest must stay fast. The catalog, a copy
 * of three columns, also catches up on its own
 * (evidence_catalog_catchup()), in seconds where the text takes minutes. Readers never miss an
 * entry because of the lag: a scan uses the catalog for the entries it
 * covers and reads the rest from the log itself; a search first catches up.
 * evidence_reindex() throws all derived state away (including that of the
 * registered indexers) and rebuilds it from the entries, which is also the
 * proof that it is derived.
 */
#include "evidence/evidence_int.h"

#include "lib/error.h"
#include "lib/jcs.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CATCHUP_BATCH 5000
#define CATALOG_BATCH 200000

static void walk_strings(const struct ak_jv *v, struct ak_buf *out, int *rc)
{
	size_t i;

	if (*rc != 0)
		return;
	switch (v->type) {
	case AK_JSTRING:
		if (v->u.s.len) {
			*rc = ak_buf_append(out, v->u.s.ptr, v->u.s.len);
			if (*rc == 0)
				*rc = ak_buf_putc(out, '\n');
		}
		break;
	case AK_JARRAY:
		for (i = 0; i < v->u.a.n; i++)
			walk_strings(v->u.a.items[i], out, rc);
		break;
	case AK_JOBJECT:
		for (i = 0; i < v->u.o.n; i++)
			walk_strings(v->u.o.members[i].value, out, rc);
		break;
	default:
		break;
	}
}

/* Kind, source and the string values of the body: what people search for
 * (addresses, campaign names, message ids, Japanese text), not the keys. */
static int fts_text(struct ak_jdoc *doc, const char *bytes, size_t len, struct ak_buf *out)
{
	const struct ak_jv *root, *v;
	int rc;

	ak_buf_reset(out);
	if ((rc = ak_json_parse(doc, bytes, len, &root)) != 0)
		return rc;
	if ((v = ak_jv_get(root, "kind")) != NULL)
		walk_strings(v, out, &rc);
	if ((v = ak_jv_get(root, "source")) != NULL)
		walk_strings(v, out, &rc);
	if ((v = ak_jv_get(root, "body")) != NULL)
		walk_strings(v, out, &rc);
	return rc;
}

int evidence_fts_text(const char *bytes, size_t len, struct ak_buf *out)
{
	struct ak_jdoc *doc;
	int rc;

	if ((rc = ak_jdoc_new(&doc, 0)) != 0)
		return rc;
	rc = fts_text(doc, bytes, len, out);
	ak_jdoc_free(doc);
	return rc;
}

/* How far a derived table has caught up. Stores made before the catalog
 * had a row of its own kept it in step with the full-text index. */
static int get_upto(struct evidence_store *st, const char *name, int64_t *upto)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(st->db,
			       "SELECT coalesce((SELECT upto FROM derived WHERE name = ?1),"
			       " (SELECT upto FROM derived WHERE name = 'fts'), 0)",
			       -1, &s, NULL) != SQLITE_OK)
		return evidence_sqlerr(st, "reading index state");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	*upto = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_finalize(s);
	return 0;
}

/* The catalog is a copy of three columns: SQLite fills it with one
 * statement per batch, far faster than the full-text index; a slice of
 * catch-up (evidence_catchup) takes CATALOG_PER_FTS catalog entries for
 * each entry of the index. */
#define CATALOG_PER_FTS 20

/* Catalog at most max entries (0: all) in transactions of CATALOG_BATCH. */
static int catalog_catchup(struct evidence_store *st, int64_t max)
{
	sqlite3_stmt *ins = NULL, *up = NULL;
	int64_t from, size, done_n = 0;
	int rc = 0;

	if (st->readonly)
		return 0;
	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR REPLACE INTO catalog(kind, time, seq) "
			       "SELECT kind, time, seq FROM entries WHERE seq > ?1 AND seq <= ?2",
			       -1, &ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO derived VALUES('catalog', ?1)", -1,
			       &up, NULL) != SQLITE_OK) {
		rc = evidence_sqlerr(st, "cataloguing");
		goto done;
	}
	for (;;) {
		if ((rc = get_upto(st, "catalog", &from)) != 0 ||
		    (rc = evidence_size(st, &size)) != 0 || from >= size ||
		    (max && done_n >= max))
			break;
		if ((rc = evidence_begin(st)) != 0)
			break;
		/* Re-read under the write lock: another process may have
		 * caught up meanwhile. */
		if ((rc = get_upto(st, "catalog", &from)) == 0 &&
		    (rc = evidence_size(st, &size)) == 0 && from < size) {
			int64_t step = max && max - done_n < CATALOG_BATCH ? max - done_n : CATALOG_BATCH;
			int64_t to = size - from > step ? from + step : size;

			done_n += to - from;

			sqlite3_bind_int64(ins, 1, from);
			sqlite3_bind_int64(ins, 2, to);
			sqlite3_bind_int64(up, 1, to);
			if (sqlite3_step(ins) != SQLITE_DONE || sqlite3_step(up) != SQLITE_DONE)
				rc = evidence_sqlerr(st, "cataloguing");
			sqlite3_reset(ins);
			sqlite3_reset(up);
		}
		if (rc != 0) {
			evidence_rollback(st);
			break;
		}
		if ((rc = evidence_commit(st)) != 0)
			break;
	}
done:
	sqlite3_finalize(ins);
	sqlite3_finalize(up);
	return rc;
}

int evidence_catalog_catchup(struct evidence_store *st)
{
	return catalog_catchup(st, 0);
}

/* Index entries (upto, upto + max] in the open transaction. */
static int index_range(struct evidence_store *st, struct ak_jdoc *doc, int64_t from, int64_t max,
		       int64_t *reached)
{
	sqlite3_stmt *sel = NULL, *fts = NULL, *up = NULL;
	struct ak_buf text = AK_BUF_INIT(0);
	int64_t last = from;
	int rc = 0, step;

	if (sqlite3_prepare_v2(st->db,
			       "SELECT seq, bytes FROM entries WHERE seq > ? "
			       "ORDER BY seq LIMIT ?",
			       -1, &sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, "INSERT INTO fts(rowid, text) VALUES(?, ?)", -1, &fts,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, "UPDATE derived SET upto = ? WHERE name = 'fts'", -1, &up,
			       NULL) != SQLITE_OK) {
		rc = evidence_sqlerr(st, "indexing");
		goto done;
	}
	sqlite3_bind_int64(sel, 1, from);
	sqlite3_bind_int64(sel, 2, max);
	while ((step = sqlite3_step(sel)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(sel, 0);

		if ((rc = fts_text(doc, sqlite3_column_blob(sel, 1),
				   (size_t)sqlite3_column_bytes(sel, 1), &text)) != 0) {
			ak_error_prefix("indexing seq %lld", (long long)seq);
			goto done;
		}
		sqlite3_bind_int64(fts, 1, seq);
		sqlite3_bind_text(fts, 2, text.data ? text.data : "", (int)text.len, SQLITE_STATIC);
		if (sqlite3_step(fts) != SQLITE_DONE) {
			rc = evidence_sqlerr(st, "indexing");
			goto done;
		}
		sqlite3_reset(fts);
		last = seq;
	}
	if (step != SQLITE_DONE) {
		rc = evidence_sqlerr(st, "indexing");
		goto done;
	}
	sqlite3_bind_int64(up, 1, last);
	if (sqlite3_step(up) != SQLITE_DONE)
		rc = evidence_sqlerr(st, "indexing");
	*reached = last;
done:
	sqlite3_finalize(sel);
	sqlite3_finalize(fts);
	sqlite3_finalize(up);
	ak_buf_free(&text);
	return rc;
}

int evidence_catchup(struct evidence_store *st, int64_t max, int64_t *upto)
{
	struct ak_jdoc *doc = NULL;
	int64_t from, size, reached = 0, done_n = 0;
	int rc;

	if ((rc = catalog_catchup(st, max * CATALOG_PER_FTS)) != 0 ||
	    (rc = ak_jdoc_new(&doc, 0)) != 0)
		return rc;
	for (;;) {
		int64_t step = CATCHUP_BATCH;

		if ((rc = get_upto(st, "fts", &from)) != 0 || (rc = evidence_size(st, &size)) != 0)
			break;
		if (from >= size || (max && done_n >= max))
			break;
		if (max && max - done_n < step)
			step = max - done_n;
		if ((rc = evidence_begin(st)) != 0)
			break;
		/* Re-read under the write lock: another process may have
		 * caught up meanwhile. */
		if ((rc = get_upto(st, "fts", &from)) != 0 ||
		    (rc = index_range(st, doc, from, step, &reached)) != 0) {
			evidence_rollback(st);
			break;
		}
		if ((rc = evidence_commit(st)) != 0)
			break;
		if (reached == from)
			break;
		done_n += reached - from;
	}
	if (rc == 0 && upto)
		rc = get_upto(st, "fts", upto);
	ak_jdoc_free(doc);
	return rc;
}

struct scan_row {
	evidence_entry_cb cb;
	void *ctx;
};

/* Read the current row of s into e (pointers into SQLite's memory, valid
 * until the next step). */
static int row_entry(sqlite3_stmt *s, struct evidence_entry *e)
{
	e->seq = sqlite3_column_int64(s, 0);
	e->kind = (const char *)sqlite3_column_text(s, 1);
	e->time_us = sqlite3_column_int64(s, 2);
	e->bytes = sqlite3_column_blob(s, 3);
	e->len = (size_t)sqlite3_column_bytes(s, 3);
	e->parsed = NULL;
	if (e->kind == NULL || e->bytes == NULL ||
	    evidence_entry_body(e->bytes, e->len, &e->body, &e->body_len) != 0)
		return ak_error_code(AK_ETAMPERED,
				     "seq %lld: stored entry is damaged (run akashi verify)",
				     (long long)e->seq);
	return 0;
}

static int emit_serial(struct evidence_store *st, sqlite3_stmt *s, evidence_entry_cb cb, void *ctx,
		       int *stopped)
{
	int step, rc;

	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		struct evidence_entry e;

		if ((rc = row_entry(s, &e)) != 0)
			return rc;
		rc = cb(ctx, &e);
		if (rc > 0) {
			*stopped = 1;
			return 0;
		}
		if (rc < 0)
			return rc;
	}
	if (step != SQLITE_DONE)
		return evidence_sqlerr(st, "reading entries");
	return 0;
}

/* Pipelined scans: a reader thread steps the query and copies rows into
 * batches while the caller's thread runs the callbacks on the batch
 * before. On two cores a long scan takes the longer of the two halves
 * instead of their sum. */
#define PIPE_BATCHES 4
#define PIPE_ROWS 512
#define PIPE_BYTES (512 * 1024)

struct pipe_batch {
	struct ak_buf data;
	struct evidence_entry rows[PIPE_ROWS]; /* offsets into data until handed over */
	size_t n;
};

struct pipe {
	struct evidence_store *st;
	sqlite3_stmt *s;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pipe_batch b[PIPE_BATCHES];
	size_t filled, next_fill, next_take; /* batches ready; ring positions */
	int stop, done, rc;
	char errmsg[512];
};

/* Fill b from the query; 1 when the query has no more rows. */
static int pipe_fill(struct pipe *p, struct pipe_batch *b, int *rc)
{
	int step;

	b->n = 0;
	ak_buf_reset(&b->data);
	while (b->n < PIPE_ROWS && b->data.len < PIPE_BYTES) {
		struct evidence_entry e, *o = &b->rows[b->n];
		size_t kl;

		if ((step = sqlite3_step(p->s)) != SQLITE_ROW) {
			if (step != SQLITE_DONE)
				*rc = evidence_sqlerr(p->st, "reading entries");
			return 1;
		}
		if ((*rc = row_entry(p->s, &e)) != 0)
			return 1;
		kl = strlen(e.kind) + 1;
		*o = e;
		/* Offsets now; pointers once the buffer stops moving. */
		o->kind = (const char *)(uintptr_t)b->data.len;
		o->bytes = (const char *)(uintptr_t)(b->data.len + kl);
		o->body = (const char *)(uintptr_t)(b->data.len + kl + (size_t)(e.body - e.bytes));
		if ((*rc = ak_buf_append(&b->data, e.kind, kl)) != 0 ||
		    (*rc = ak_buf_append(&b->data, e.bytes, e.len)) != 0)
			return 1;
		b->n++;
	}
	return 0;
}

static void *pipe_reader(void *arg)
{
	struct pipe *p = arg;
	int last = 0, rc = 0;

	while (!last) {
		struct pipe_batch *b;
		size_t i;

		pthread_mutex_lock(&p->mu);
		while (p->filled == PIPE_BATCHES && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		b = &p->b[p->next_fill];
		pthread_mutex_unlock(&p->mu);

		last = pipe_fill(p, b, &rc);
		for (i = 0; i < b->n; i++) {
			struct evidence_entry *o = &b->rows[i];

			o->kind = b->data.data + (uintptr_t)o->kind;
			o->bytes = b->data.data + (uintptr_t)o->bytes;
			o->body = b->data.data + (uintptr_t)o->body;
		}

		pthread_mutex_lock(&p->mu);
		p->next_fill = (p->next_fill + 1) % PIPE_BATCHES;
		p->filled++;
		if (last) {
			p->done = 1;
			p->rc = rc;
			if (rc != 0)
				snprintf(p->errmsg, sizeof(p->errmsg), "%s", ak_error_last());
		}
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

static int emit_pipelined(struct evidence_store *st, sqlite3_stmt *s, evidence_entry_cb cb,
			  void *ctx, int *stopped)
{
	struct pipe p;
	pthread_t thr;
	size_t i;
	int rc = 0, end = 0;

	memset(&p, 0, sizeof(p));
	p.st = st;
	p.s = s;
	for (i = 0; i < PIPE_BATCHES; i++)
		p.b[i].data = (struct ak_buf)AK_BUF_INIT(0);
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	if (pthread_create(&thr, NULL, pipe_reader, &p) != 0) {
		pthread_mutex_destroy(&p.mu);
		pthread_cond_destroy(&p.cv);
		return emit_serial(st, s, cb, ctx, stopped);
	}
	while (!end && rc == 0) {
		struct pipe_batch *b;

		pthread_mutex_lock(&p.mu);
		while (p.filled == 0)
			pthread_cond_wait(&p.cv, &p.mu);
		b = &p.b[p.next_take];
		/* The batch that carries the end is the last one filled. */
		end = p.done && p.filled == 1;
		pthread_mutex_unlock(&p.mu);

		for (i = 0; i < b->n && rc == 0; i++)
			rc = cb(ctx, &b->rows[i]);

		pthread_mutex_lock(&p.mu);
		p.next_take = (p.next_take + 1) % PIPE_BATCHES;
		p.filled--;
		pthread_cond_broadcast(&p.cv);
		pthread_mutex_unlock(&p.mu);
	}
	pthread_mutex_lock(&p.mu);
	p.stop = 1;
	pthread_cond_broadcast(&p.cv);
	pthread_mutex_unlock(&p.mu);
	pthread_join(thr, NULL);
	if (rc > 0) {
		*stopped = 1;
		rc = 0;
	} else if (rc == 0 && p.rc != 0) {
		rc = ak_error_code(p.rc, "%s", p.errmsg);
	}
	for (i = 0; i < PIPE_BATCHES; i++)
		ak_buf_free(&p.b[i].data);
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.cv);
	return rc;
}

static int emit_rows(struct evidence_store *st, sqlite3_stmt *s, const struct evidence_filter *f,
		     evidence_entry_cb cb, void *ctx, int *stopped)
{
	if (f->pipelined)
		return emit_pipelined(st, s, cb, ctx, stopped);
	return emit_serial(st, s, cb, ctx, stopped);
}

static void bind_filter(sqlite3_stmt *s, const struct evidence_filter *f, int64_t lo,
			int64_t hi)
{
	int i = 1;

	sqlite3_bind_int64(s, i++, lo);
	sqlite3_bind_int64(s, i++, hi);
	if (f->kind)
		sqlite3_bind_text(s, i++, f->kind, -1, SQLITE_STATIC);
	if (f->has_since)
		sqlite3_bind_int64(s, i++, f->since_us);
	if (f->has_until)
		sqlite3_bind_int64(s, i++, f->until_us);
}

/* When the catalogued entries matching f within (lo, hi] make up at least a
 * quarter of the stretch of the log between the first and the last of
 * them, *out gets a statement reading that stretch in seq order (SQLite
 * skips the rest by their kind and time columns); else NULL. */
static int dense_range(struct evidence_store *st, const struct evidence_filter *f,
		       const char *where, int64_t lo, int64_t hi, sqlite3_stmt **out)
{
	char sql[512];
	sqlite3_stmt *s = NULL;
	int64_t n = 0, first = 0, last = 0;

	*out = NULL;
	snprintf(sql, sizeof(sql),
		 "SELECT count(*), min(c.seq), max(c.seq) FROM catalog c "
		 "WHERE c.seq > ? AND c.seq <= ?%s",
		 where);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return evidence_sqlerr(st, "reading entries");
	bind_filter(s, f, lo, hi);
	if (sqlite3_step(s) == SQLITE_ROW) {
		n = sqlite3_column_int64(s, 0);
		first = sqlite3_column_int64(s, 1);
		last = sqlite3_column_int64(s, 2);
	}
	sqlite3_finalize(s);
	if (n == 0 || n * 4 < last - first + 1)
		return 0;
	snprintf(sql, sizeof(sql),
		 "SELECT c.seq, c.kind, c.time, c.bytes FROM entries c "
		 "WHERE c.seq > ? AND c.seq <= ?%s ORDER BY c.seq",
		 where);
	if (sqlite3_prepare_v2(st->db, sql, -1, out, NULL) != SQLITE_OK)
		return evidence_sqlerr(st, "reading entries");
	bind_filter(*out, f, first - 1, last);
	return 0;
}

int evidence_scan(struct evidence_store *st, const struct evidence_filter *f, evidence_entry_cb cb,
		  void *ctx)
{
	struct evidence_filter all = {0};
	char sql[512], where[256];
	sqlite3_stmt *s = NULL;
	int64_t lo, hi, upto = 0, size;
	int rc, stopped = 0;

	if (f == NULL)
		f = &all;
	if ((rc = evidence_size(st, &size)) != 0)
		return rc;
	lo = f->from_seq > 0 ? f->from_seq - 1 : 0;
	hi = f->to_seq > 0 && f->to_seq < size ? f->to_seq : size;
	snprintf(where, sizeof(where), "%s%s%s", f->kind ? " AND c.kind = ?" : "",
		 f->has_since ? " AND c.time >= ?" : "", f->has_until ? " AND c.time < ?" : "");
	/* A read transaction keeps both halves on one snapshot. */
	if (sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return evidence_sqlerr(st, "reading entries");
	if (f->kind || f->has_since || f->has_until) {
		if ((rc = get_upto(st, "catalog", &upto)) != 0)
			goto done;
		if (upto > lo && !f->by_time &&
		    (rc = dense_range(st, f, where, lo, upto < hi ? upto : hi, &s)) != 0)
			goto done;
		/* When the matches fill most of a stretch of the log (a
		 * quarter's sends), dense_range reads it in order, cheaper than
		 * looking each one up; else the catalog finds the rows. */
		if (s == NULL && upto > lo) {
			snprintf(sql, sizeof(sql),
				 "SELECT e.seq, e.kind, e.time, e.bytes FROM catalog c "
				 "JOIN entries e ON e.seq = c.seq "
				 "WHERE c.seq > ? AND c.seq <= ?%s%s",
				 where, f->by_time ? "" : " ORDER BY c.seq");
			if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
				rc = evidence_sqlerr(st, "reading entries");
				goto done;
			}
			bind_filter(s, f, lo, upto < hi ? upto : hi);
		}
		if (s != NULL) {
			rc = emit_rows(st, s, f, cb, ctx, &stopped);
			sqlite3_finalize(s);
			s = NULL;
			if (rc != 0 || stopped)
				goto done;
			lo = upto > lo ? upto : lo;
		}
	}
	if (lo < hi) {
		/* The rest straight from the log. */
		snprintf(where, sizeof(where), "%s%s%s", f->kind ? " AND c.kind = ?" : "",
			 f->has_since ? " AND c.time >= ?" : "",
			 f->has_until ? " AND c.time < ?" : "");
		snprintf(sql, sizeof(sql),
			 "SELECT c.seq, c.kind, c.time, c.bytes FROM entries c "
			 "WHERE c.seq > ? AND c.seq <= ?%s ORDER BY c.seq",
			 where);
		if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
			rc = evidence_sqlerr(st, "reading entries");
			goto done;
		}
		bind_filter(s, f, lo, hi);
		rc = emit_rows(st, s, f, cb, ctx, &stopped);
	}
done:
	sqlite3_finalize(s);
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

int evidence_get(struct evidence_store *st, int64_t seq, struct ak_buf *out)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT bytes FROM entries WHERE seq = ?", -1, &s, NULL) !=
	    SQLITE_OK)
		return evidence_sqlerr(st, "reading an entry");
	sqlite3_bind_int64(s, 1, seq);
	if (sqlite3_step(s) == SQLITE_ROW)
		rc = ak_buf_append(out, sqlite3_column_blob(s, 0),
				   (size_t)sqlite3_column_bytes(s, 0));
	else
		rc = ak_error_code(AK_ENOTFOUND, "no entry with seq %lld", (long long)seq);
	sqlite3_finalize(s);
	return rc;
}

/* Does the query use FTS5 query syntax, or is it plain text? */
static int uses_syntax(const char *q)
{
	static const char *const ops[] = {"AND", "OR", "NOT", "NEAR", NULL};
	const char *p = q;
	size_t i;

	if (strpbrk(q, "\"()*^:{}"))
		return 1;
	while (*p) {
		size_t n;

		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		for (i = 0; ops[i]; i++)
			if (n == strlen(ops[i]) && strncmp(p, ops[i], n) == 0)
				return 1;
		p += n;
	}
	return 0;
}

int evidence_search(struct evidence_store *st, const char *query, const char *kind, int64_t limit,
		    evidence_entry_cb cb, void *ctx)
{
	struct ak_buf phrase = AK_BUF_INIT(65536);
	sqlite3_stmt *s = NULL;
	const char *q = query;
	int rc, stopped = 0, syntax = uses_syntax(query);

	if (!st->readonly && (rc = evidence_catchup(st, 0, NULL)) != 0)
		return rc;
	if (!syntax) {
		/* Plain text (an address, an IP, Japanese words) is one phrase:
		 * found where it occurs as it is. */
		const char *c;

		rc = ak_buf_putc(&phrase, '"');
		for (c = query; rc == 0 && *c; c++)
			rc = *c == '"' ? ak_buf_puts(&phrase, "\"\"") : ak_buf_putc(&phrase, *c);
		if (rc == 0)
			rc = ak_buf_putc(&phrase, '"');
		if (rc != 0)
			return rc;
		q = phrase.data;
	}
	if (sqlite3_prepare_v2(st->db,
			       "SELECT e.seq, e.kind, e.time, e.bytes FROM fts "
			       "JOIN entries e ON e.seq = fts.rowid "
			       "WHERE fts MATCH ?1 AND (?2 IS NULL OR e.kind = ?2) "
			       "ORDER BY e.seq LIMIT ?3",
			       -1, &s, NULL) != SQLITE_OK) {
		ak_buf_free(&phrase);
		return evidence_sqlerr(st, "search");
	}
	sqlite3_bind_text(s, 1, q, -1, SQLITE_STATIC);
	if (kind)
		sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, limit > 0 ? limit : -1);
	rc = emit_serial(st, s, cb, ctx, &stopped);
	if (rc != 0 && sqlite3_errcode(st->db) == SQLITE_ERROR)
		rc = ak_error_code(AK_EINVALID,
				   "cannot understand the search '%s': with quotes, parentheses or "
				   "AND/OR/NOT it is read as a query (\"exact phrase\", word AND "
				   "word, prefix*), and this one is unbalanced or incomplete; plain "
				   "text without those is searched as it is",
				   query);
	sqlite3_finalize(s);
	ak_buf_free(&phrase);
	return rc;
}

static int reset_indexers(struct evidence_store *st)
{
	size_t i;
	int rc;

	for (i = 0; i < st->nix; i++)
		if (st->ix[i].reset && (rc = st->ix[i].reset(st->db, st->ix[i].ctx)) != 0) {
			ak_error_prefix("indexer %s", st->ix[i].name);
			return rc;
		}
	return 0;
}

/* Feed the entries from seq `from` on, in seq order, to the indexers
 * ix[0..n) (inside the caller's transaction). */
int evidence_replay(struct evidence_store *st, const struct evidence_indexer *ix, size_t n,
		    int64_t from, void (*progress)(void *ctx, int64_t seq, int64_t size),
		    void *ctx)
{
	sqlite3_stmt *s = NULL;
	int64_t size;
	int rc = 0;

	if (n == 0)
		return 0;
	if ((rc = evidence_size(st, &size)) != 0)
		return rc;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT seq, kind, time, bytes FROM entries WHERE seq >= ? ORDER BY seq",
			       -1, &s, NULL) != SQLITE_OK)
		return evidence_sqlerr(st, "replaying the log");
	sqlite3_bind_int64(s, 1, from);
	while (sqlite3_step(s) == SQLITE_ROW) {
		struct evidence_entry e;
		size_t i;

		e.seq = sqlite3_column_int64(s, 0);
		e.kind = (const char *)sqlite3_column_text(s, 1);
		e.time_us = sqlite3_column_int64(s, 2);
		e.bytes = sqlite3_column_blob(s, 3);
		e.len = (size_t)sqlite3_column_bytes(s, 3);
		e.parsed = NULL;
		if (e.bytes == NULL || evidence_entry_body(e.bytes, e.len, &e.body, &e.body_len) != 0) {
			rc = ak_error_code(AK_ETAMPERED, "seq %lld: stored entry is damaged",
					   (long long)e.seq);
			break;
		}
		for (i = 0; i < n; i++) {
			const char *const *k = ix[i].kinds;

			if (k) {
				while (*k && strcmp(*k, e.kind) != 0)
					k++;
				if (*k == NULL)
					continue;
			}
			if ((rc = ix[i].index(st->db, &e, ix[i].ctx)) != 0) {
				ak_error_prefix("indexer %s, seq %lld", ix[i].name, (long long)e.seq);
				break;
			}
		}
		if (rc != 0)
			break;
		if (progress && (e.seq & 0xffff) == 0)
			progress(ctx, e.seq, size);
	}
	sqlite3_finalize(s);
	return rc;
}

int evidence_reindex(struct evidence_store *st, void (*progress)(void *ctx, int64_t seq, int64_t size),
		     void *ctx)
{
	int64_t size;
	int rc;

	/* The whole rebuild is one transaction: readers see the old derived
	 * state or the new, never a half-built one. The size under the write
	 * lock is the size rebuilt. */
	if ((rc = evidence_begin(st)) != 0)
		return rc;
	if ((rc = evidence_size(st, &size)) != 0 ||
	    (rc = evidence_exec(st, "DELETE FROM catalog; INSERT INTO fts(fts) VALUES('delete-all');"
				    "UPDATE derived SET upto = 0 WHERE name IN ('fts', 'catalog');")) != 0 ||
	    (rc = reset_indexers(st)) != 0 ||
	    (rc = evidence_replay(st, st->ix, st->nix, 1, progress, ctx)) != 0 ||
	    (rc = evidence_mark_indexed(st, size)) != 0) {
		evidence_rollback(st);
		return rc;
	}
	if ((rc = evidence_commit(st)) != 0)
		return rc;
	/* The store's own indexes catch up in their usual batches. */
	if ((rc = evidence_catchup(st, 0, NULL)) != 0)
		return rc;
	if (progress)
		progress(ctx, size, size);
	return 0;
}
