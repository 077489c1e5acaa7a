/*
 * auditd/ingest/pipeline.c - see pipeline.h.
 *
 * SECURITY: everything here handles outside input after an adapter read
 * it. Records are bounded (the adapters' line and size limits, the spool
 * record header checks), rejects are written as JSON with invalid UTF-8
 * carried in base64, and nothing reaches the store before phase 2.
 */
#include "auditd/ingest/pipeline.h"

#include "auditd/ingest/kinds.h"
#include "lib/b64.h"
#include "lib/error.h"
#include "lib/hash.h"
#include "lib/lines.h"
#include "lib/timefmt.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SOURCE_MAX 256
#define SPOOL_BUF ((size_t)1 << 20)
#define BIG_DOC_CAP ((size_t)64 << 20) /* ak_jdoc_new()'s default cap */
#define BIG_BODY ((size_t)4 << 20)

/* Identical-record counter (see pipeline.h): how many records with the
 * same time, source and body came before in this input. Keys mix the time
 * in, so out-of-order inputs count right too. Bounded: two generations of
 * OCC_MAX distinct records each; when the newer fills up it becomes the
 * older and the older is dropped, so identical records at most OCC_MAX
 * distinct records apart are always told apart, and only ones farther
 * apart than that may be taken as one (deterministically, so re-reading
 * the same input still adds nothing). */
#define OCC_MAX ((size_t)1 << 18)

struct occ_table {
	uint64_t *keys; /* 0: empty */
	uint32_t *counts;
	size_t cap, used;
};

struct occ {
	struct occ_table cur, prev;
};

struct ingest_pipeline {
	struct evidence_store *st;
	struct ingest_pipeline_opts o;
	struct ingest_sink sink;
	struct ak_jdoc *doc;
	struct ak_buf body, material, tmp, record;
	FILE *spool;
	char *spool_buf;
	struct ak_buf mem; /* memory mode: the records, laid out as in the spool */
	struct ingest_counts counts;
	size_t shown;
	struct occ occ;
};

/* The slot of key in t (or the empty slot where it would go). */
static size_t occ_find(const struct occ_table *t, uint64_t key)
{
	size_t i;

	for (i = key & (t->cap - 1); t->keys[i] && t->keys[i] != key; i = (i + 1) & (t->cap - 1))
		;
	return i;
}

static int occ_grow(struct occ_table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64, j;
	struct occ_table n = {calloc(cap, sizeof(uint64_t)), calloc(cap, sizeof(uint32_t)), cap,
			      t->used};

	if (n.keys == NULL || n.counts == NULL) {
		free(n.keys);
		free(n.counts);
		return ak_error_oom();
	}
	for (j = 0; j < t->cap; j++)
		if (t->keys[j]) {
			size_t i = occ_find(&n, t->keys[j]);

			n.keys[i] = t->keys[j];
			n.counts[i] = t->counts[j];
		}
	free(t->keys);
	free(t->counts);
	*t = n;
	return 0;
}

static void occ_clear(struct occ_table *t)
{
	if (t->used)
		memset(t->keys, 0, t->cap * sizeof(*t->keys));
	t->used = 0;
}

static int occ_next(struct occ *o, uint64_t key, uint32_t *out)
{
	struct occ_table *t = &o->cur;
	size_t i = 0, j;
	int rc;

	if (key == 0)
		key = 1; /* 0 marks an empty slot */
	if (t->cap && t->keys[i = occ_find(t, key)] == key) {
		*out = ++t->counts[i];
		return 0;
	}
	/* i is where key goes, unless the table is renewed or grown. */
	if (t->used >= OCC_MAX) {
		struct occ_table old = o->prev;

		o->prev = o->cur;
		o->cur = old;
		occ_clear(t);
		i = t->cap ? occ_find(t, key) : 0;
	}
	if (t->used * 2 >= t->cap) {
		if ((rc = occ_grow(t)) != 0)
			return rc;
		i = occ_find(t, key);
	}
	/* Seen in the older generation: carry its count on. */
	*out = 0;
	if (o->prev.cap && o->prev.keys[j = occ_find(&o->prev, key)] == key)
		*out = o->prev.counts[j] + 1;
	t->keys[i] = key;
	t->counts[i] = *out;
	t->used++;
	return 0;
}

void ingest_pipeline_next_input(struct ingest_pipeline *p)
{
	occ_clear(&p->occ.cur);
	occ_clear(&p->occ.prev);
}

/* ---- rejects ---- */

static int is_utf8(const char *s, size_t n)
{
	struct ak_buf b = AK_BUF_INIT(0);
	int ok = ak_jcs_write_string(&b, s, n) == 0;

	ak_buf_free(&b);
	return ok;
}

static int reject(void *ctx, const char *where, const char *reason, const char *raw,
		  size_t raw_len)
{
	struct ingest_pipeline *p = ctx;

	p->counts.rejected++;
	if (p->o.on_reject) {
		int rc = p->o.on_reject(p->o.on_reject_ctx, where, reason);

		if (rc != 0)
			return rc;
	}
	if (p->o.errors && p->shown < p->o.max_errors_shown) {
		fprintf(p->o.errors, "akashi: ingest: %s: %s\n", where, reason);
		p->shown++;
	}
	if (p->o.rejects) {
		struct ak_buf b = AK_BUF_INIT(0);
		int rc = 0;

		/* {"input":...,"reason":...,"where":...} in canonical key order. */
		if (raw && is_utf8(raw, raw_len)) {
			rc = ak_buf_puts(&b, "{\"input\":");
			if (rc == 0)
				rc = ak_jcs_write_string(&b, raw, raw_len);
		} else if (raw) {
			char *enc = malloc(AK_B64_LEN(raw_len) + 1);

			if (enc == NULL)
				rc = ak_error_oom();
			else {
				ak_b64_encode(enc, raw, raw_len);
				rc = ak_buf_printf(&b, "{\"input_base64\":\"%s\"", enc);
				free(enc);
			}
		} else {
			rc = ak_buf_puts(&b, "{\"input\":null");
		}
		if (rc == 0)
			rc = ak_buf_puts(&b, ",\"reason\":");
		if (rc == 0)
			rc = ak_jcs_write_string(&b, reason, strlen(reason));
		if (rc == 0)
			rc = ak_buf_puts(&b, ",\"where\":");
		if (rc == 0)
			rc = ak_jcs_write_string(&b, where, strlen(where));
		if (rc == 0)
			rc = ak_buf_puts(&b, "}\n");
		if (rc == 0 && fwrite(b.data, 1, b.len, p->o.rejects) != b.len)
			rc = ak_error_set("writing the rejects file: %s", strerror(errno));
		ak_buf_free(&b);
		return rc;
	}
	return 0;
}

static void skip(void *ctx, const char *where, const char *why)
{
	struct ingest_pipeline *p = ctx;

	(void)where;
	(void)why;
	p->counts.skipped++;
}

/* ---- spool ---- */

struct spool_hdr {
	uint32_t kind_len, source_len, body_len, dedupe_len;
	uint32_t confirm; /* evidence_record.dedupe_confirm */
	int64_t time_us;
};

static int spool_open(struct ingest_pipeline *p)
{
	const char *dir = p->o.spool_dir ? p->o.spool_dir : "/tmp";
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0) {
		char path[4096];

		/* Filesystems without O_TMPFILE: a named file, unlinked at once. */
		snprintf(path, sizeof(path), "%s/.ingest-spool-XXXXXX", dir);
		fd = mkstemp(path);
		if (fd >= 0)
			unlink(path);
	}
	if (fd < 0 || (p->spool = fdopen(fd, "w+")) == NULL) {
		if (fd >= 0)
			close(fd);
		return ak_error_set("cannot make a spool file in %s: %s", dir, strerror(errno));
	}
	/* A large buffer: a million records should be a few hundred system
	 * calls, not tens of thousands (glibc ignores the size unless we
	 * give the buffer ourselves). */
	p->spool_buf = malloc(SPOOL_BUF);
	if (p->spool_buf)
		setvbuf(p->spool, p->spool_buf, _IOFBF, SPOOL_BUF);
	return 0;
}

static int spool_write(struct ingest_pipeline *p, const char *kind, int64_t time_us,
                       const char *source, size_t source_len, const char *body, size_t body_len,
                       const char *dedupe, size_t dedupe_len, int confirm)
{
	struct spool_hdr h;
	struct ak_buf *r = &p->record;
	int rc;

	if (p->o.memory) {
		/* As in the spool, plus a NUL after the kind so the records
		 * can point into the buffer as they are. */
		h.kind_len = (uint32_t)strlen(kind);
		h.source_len = (uint32_t)source_len;
		h.body_len = (uint32_t)body_len;
		h.dedupe_len = (uint32_t)dedupe_len;
		h.confirm = (uint32_t)confirm;
		h.time_us = time_us;
		if ((rc = ak_buf_append(&p->mem, &h, sizeof(h))) != 0 ||
		    (rc = ak_buf_append(&p->mem, kind, h.kind_len + 1)) != 0 ||
		    (rc = ak_buf_append(&p->mem, source, source_len)) != 0 ||
		    (rc = ak_buf_append(&p->mem, body, body_len)) != 0 ||
		    (rc = ak_buf_append(&p->mem, dedupe, dedupe_len)) != 0)
			return rc;
		return 0;
	}
	h.kind_len = (uint32_t)strlen(kind);
	h.source_len = (uint32_t)source_len;
	h.body_len = (uint32_t)body_len;
	h.dedupe_len = (uint32_t)dedupe_len;
	h.confirm = (uint32_t)confirm;
	h.time_us = time_us;
	/* One write call per record into the stream's buffer. */
	ak_buf_reset(r);
	if ((rc = ak_buf_append(r, &h, sizeof(h))) != 0 ||
	    (rc = ak_buf_append(r, kind, h.kind_len)) != 0 ||
	    (rc = ak_buf_append(r, source, source_len)) != 0 ||
	    (rc = ak_buf_append(r, body, body_len)) != 0 ||
	    (rc = ak_buf_append(r, dedupe, dedupe_len)) != 0)
		return rc;
	if (fwrite(r->data, 1, r->len, p->spool) != r->len)
		return ak_error_set("writing the spool file: %s", strerror(errno));
	return 0;
}

/* ---- phase 1 ---- */

/* Write v in decimal and a NUL at dst (room for 21 bytes). */
static void put_decimal(char *dst, unsigned long v)
{
	char tmp[21];
	size_t n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	while (n)
		*dst++ = tmp[--n];
	*dst = '\0';
}

/* What checking a record needs of its own (one per thread). */
struct checker {
	const char *want_kind; /* --kind, or NULL */
	struct ak_buf body, tmp;
};

/* A record checked and canonical; body points into the checker's buffer. */
struct checked {
	const char *kind;
	int64_t time_us;
	const char *source;
	size_t source_len;
	const char *body;
	size_t body_len;
	const char *id; /* the source's event id, or NULL */
	uint64_t body_hash; /* ak_hash64 of body: its part of the dedupe identity */
};

/* The kind rules and canonical form of one record: 0 (out set),
 * AK_EINVALID with the reason in reason[] (a reject), or another code. */
static int check_record(struct checker *k, const char *kind, int64_t time_us, const char *source,
			size_t source_len, const struct ak_jv *body, const char *event_id,
			struct checked *out, char *reason, size_t rsize)
{
	json_t *fixed = NULL;
	const char *body_id = NULL;
	int rc;

	if (k->want_kind && strcmp(kind, k->want_kind) != 0) {
		snprintf(reason, rsize, "kind '%.40s' where --kind %s was given", kind, k->want_kind);
		return AK_EINVALID;
	}
	if (source_len == 0 || source_len > SOURCE_MAX) {
		snprintf(reason, rsize, "field 'source': must be 1 to %d bytes", SOURCE_MAX);
		return AK_EINVALID;
	}
	if (time_us < AK_TIME_MIN_US || time_us > AK_TIME_MAX_US) {
		snprintf(reason, rsize, "field 'time': outside years 0000-9999");
		return AK_EINVALID;
	}
	rc = ingest_kind_check(kind, body, &fixed, &body_id);
	if (rc == AK_EINVALID) {
		snprintf(reason, rsize, "%s", ak_error_last());
		return AK_EINVALID;
	}
	if (rc != 0)
		return rc;
	ak_buf_reset(&k->body);
	rc = fixed ? ak_jcs_write_jansson(&k->body, fixed) : ak_jcs_write(&k->body, body);
	json_decref(fixed);
	if (rc != 0) {
		snprintf(reason, rsize, "body: %s", ak_error_last());
		return rc;
	}
	ak_buf_reset(&k->tmp);
	if ((rc = ak_jcs_write_string(&k->tmp, source, source_len)) != 0) {
		snprintf(reason, rsize, "field 'source': %s", ak_error_last());
		return AK_EINVALID;
	}
	out->kind = kind;
	out->time_us = time_us;
	out->source = source;
	out->source_len = source_len;
	out->body = k->body.data;
	out->body_len = k->body.len;
	out->id = event_id ? event_id : body_id;
	/* Here, not where records are taken in order: the checking threads
	 * share this work. */
	out->body_hash = out->id ? 0 : ak_hash64(out->body, out->body_len, AK_HASH_SEED);
	return 0;
}

/* Its dedupe identity, then into the spool (this thread only: the
 * identical-record counter follows the input's order). */
static int emit_record(struct ingest_pipeline *p, const struct checked *r)
{
	uint32_t occ = 0;
	int rc;

	ak_buf_reset(&p->material);
	if (r->id) {
		rc = ak_buf_puts(&p->material, "id\n");
		if (rc == 0)
			rc = ak_buf_puts(&p->material, r->id);
	} else {
		/* The body enters the identity through a 64-bit hash (the store's
		 * dedupe key keeps 64 bits of the digest anyway), not as a copy. */
		static const char digits[] = "0123456789abcdef";
		uint64_t hb = r->body_hash;
		uint64_t h = ak_hash64(r->source, r->source_len, hb ^ (uint64_t)r->time_us);
		char hex[16];
		int d;

		if ((rc = occ_next(&p->occ, h, &occ)) != 0)
			return rc;
		for (d = 15; d >= 0; d--, hb >>= 4)
			hex[d] = digits[hb & 15];
		rc = ak_buf_puts(&p->material, "record\n");
		if (rc == 0)
			rc = ak_buf_append(&p->material, r->source, r->source_len);
		if (rc == 0)
			rc = ak_buf_putc(&p->material, '\n');
		if (rc == 0)
			rc = ak_buf_append(&p->material, hex, 16);
		if (rc == 0) {
			char num[22];

			num[0] = '\n';
			put_decimal(num + 1, occ);
			rc = ak_buf_puts(&p->material, num);
		}
	}
	if (rc != 0)
		return rc;
	/* An identity that stands for the body through a 64-bit hash is
	 * confirmed against the stored entry before a record counts as a
	 * duplicate: a body made to collide cannot hide a later record. */
	if ((rc = spool_write(p, r->kind, r->time_us, r->source, r->source_len, r->body,
	                      r->body_len, p->material.data, p->material.len, r->id == NULL)) != 0)
		return rc;
	p->counts.records++;
	return 0;
}

int ingest_pipeline_add(struct ingest_pipeline *p, const char *kind, int64_t time_us,
			const char *source, size_t source_len, const struct ak_jv *body,
			const char *event_id, const char *where)
{
	struct checker k = {p->o.kind, p->body, p->tmp};
	struct checked r;
	char reason[1024];
	int rc;

	rc = check_record(&k, kind, time_us, source, source_len, body, event_id, &r, reason,
			  sizeof(reason));
	/* The buffers may have grown: keep them for the next record. */
	p->body = k.body;
	p->tmp = k.tmp;
	if (rc == AK_EINVALID)
		return reject(p, where, reason, NULL, 0);
	if (rc != 0)
		return rc;
	return emit_record(p, &r);
}

/* An adapter's record: canonicalise its body, parse it once, add it. */
static int sink_record(void *ctx, const struct ingest_record *rec)
{
	struct ingest_pipeline *p = ctx;
	const struct ak_jv *body;
	struct ak_jdoc *big = NULL;
	const char *text;
	size_t len;
	char reason[1024];
	int rc;

	if (rec->body) {
		ak_buf_reset(&p->tmp);
		if ((rc = ak_jcs_write_jansson(&p->tmp, rec->body)) != 0) {
			if (rc != AK_EINVALID)
				return rc;
			snprintf(reason, sizeof(reason), "body: %s", ak_error_last());
			return reject(p, rec->where, reason, NULL, 0);
		}
		text = p->tmp.data;
		len = p->tmp.len;
	} else {
		text = rec->body_json;
		len = rec->body_json_len;
	}
	/* A large body (a DMARC report of many rows) gets a document of its
	 * own, freed right after, so the memory it needed is not kept for
	 * the rest of the input. Its cap grows with the text (a parsed value
	 * takes about five times its text): the adapter has already bounded
	 * the input (max_bytes, max_records), and a report the adapter took
	 * must not fail here for want of memory. */
	if (len > BIG_BODY && (rc = ak_jdoc_new(&big, len > BIG_DOC_CAP / 8 ? len * 8 : 0)) != 0)
		return rc;
	if ((rc = ak_json_parse(big ? big : p->doc, text, len, &body)) != 0) {
		ak_jdoc_free(big);
		if (rc != AK_EINVALID)
			return rc;
		snprintf(reason, sizeof(reason), "body: %s", ak_error_last());
		return reject(p, rec->where, reason, NULL, 0);
	}
	rc = ingest_pipeline_add(p, rec->kind, rec->time_us, rec->source, strlen(rec->source), body,
				 rec->event_id, rec->where);
	ak_jdoc_free(big);
	if (len > BIG_BODY) {
		ak_buf_free(&p->tmp);
		ak_buf_free(&p->body);
		ak_buf_free(&p->material);
		ak_buf_free(&p->record);
	}
	return rc;
}

int ingest_pipeline_new(struct ingest_pipeline **out, struct evidence_store *st,
			const struct ingest_pipeline_opts *opts)
{
	struct ingest_pipeline *p = calloc(1, sizeof(*p));
	int rc;

	if (p == NULL)
		return ak_error_oom();
	p->st = st;
	p->o = *opts;
	if (p->o.batch == 0)
		p->o.batch = 1000;
	p->sink.record = sink_record;
	p->sink.reject = reject;
	p->sink.skip = skip;
	p->sink.ctx = p;
	ak_buf_init(&p->body, (size_t)256 << 20);
	ak_buf_init(&p->material, (size_t)256 << 20);
	ak_buf_init(&p->tmp, (size_t)256 << 20);
	ak_buf_init(&p->record, (size_t)1 << 30);
	ak_buf_init(&p->mem, p->o.memory_max ? p->o.memory_max : (size_t)256 << 20);
	if ((rc = ak_jdoc_new(&p->doc, 0)) != 0 || (!p->o.memory && (rc = spool_open(p)) != 0)) {
		ingest_pipeline_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void ingest_pipeline_free(struct ingest_pipeline *p)
{
	if (p == NULL)
		return;
	if (p->spool)
		fclose(p->spool);
	free(p->spool_buf);
	ak_jdoc_free(p->doc);
	ak_buf_free(&p->body);
	ak_buf_free(&p->material);
	ak_buf_free(&p->tmp);
	ak_buf_free(&p->record);
	ak_buf_free(&p->mem);
	free(p->occ.cur.keys);
	free(p->occ.cur.counts);
	free(p->occ.prev.keys);
	free(p->occ.prev.counts);
	free(p);
}

const struct ingest_sink *ingest_pipeline_sink(struct ingest_pipeline *p)
{
	return &p->sink;
}

void ingest_pipeline_counts(const struct ingest_pipeline *p, struct ingest_counts *out)
{
	*out = p->counts;
}

/* ---- native JSON Lines ---- */

/* A native line's fields, then check_record(): 0 (out set, pointing
 * into doc and k), AK_EINVALID with the reason (a reject of the line), or
 * another code. */
static int check_native(struct checker *k, struct ak_jdoc *doc, const char *line, size_t len,
			struct checked *out, char *reason, size_t rsize)
{
	const struct ak_jv *root, *kind, *tm, *src, *body;
	int64_t t;
	size_t i;
	int rc;

#define REFUSE(...) return (snprintf(reason, rsize, __VA_ARGS__), AK_EINVALID)
	if ((rc = ak_json_parse(doc, line, len, &root)) != 0) {
		if (rc != AK_EINVALID)
			return rc;
		REFUSE("not valid JSON: %s", ak_error_last());
	}
	if (root->type != AK_JOBJECT)
		REFUSE("not a JSON object");
	for (i = 0; i < root->u.o.n; i++) {
		const char *key = root->u.o.members[i].key;

		if (strcmp(key, "kind") && strcmp(key, "time") && strcmp(key, "source") &&
		    strcmp(key, "body")) {
			if (strcmp(key, "seq") == 0 || strcmp(key, "received") == 0)
				REFUSE("field '%s': assigned by the store, not given", key);
			REFUSE("field '%.60s': unknown (a line has kind, time, source and body)",
			       key);
		}
	}
	kind = ak_jv_get(root, "kind");
	tm = ak_jv_get(root, "time");
	src = ak_jv_get(root, "source");
	body = ak_jv_get(root, "body");
	if (kind == NULL && k->want_kind == NULL)
		REFUSE("field 'kind': missing");
	if (kind && kind->type != AK_JSTRING)
		REFUSE("field 'kind': must be a string");
	if (tm == NULL)
		REFUSE("field 'time': missing");
	if (tm->type != AK_JSTRING)
		REFUSE("field 'time': must be an RFC 3339 string");
	if (ak_time_parse(tm->u.s.ptr, tm->u.s.len, &t) != 0)
		REFUSE("field 'time': %s", ak_error_last());
	if (src == NULL)
		REFUSE("field 'source': missing");
	if (src->type != AK_JSTRING)
		REFUSE("field 'source': must be a string");
	if (body == NULL)
		REFUSE("field 'body': missing");
	if (body->type != AK_JOBJECT)
		REFUSE("field 'body': must be an object");
	if (kind && !ingest_kind_known(kind->u.s.ptr) && strcmp(kind->u.s.ptr, "checkpoint") != 0)
		REFUSE("field 'kind': unknown kind '%.40s'", kind->u.s.ptr);
#undef REFUSE
	return check_record(k, kind ? kind->u.s.ptr : k->want_kind, t, src->u.s.ptr, src->u.s.len,
			    body, NULL, out, reason, rsize);
}

/* One native line, on this thread: rejects carry the raw line. */
static int native_line(struct ingest_pipeline *p, const char *line, size_t len,
		       const char *where)
{
	struct checker k = {p->o.kind, p->body, p->tmp};
	struct checked r;
	char reason[1024];
	int rc;

	rc = check_native(&k, p->doc, line, len, &r, reason, sizeof(reason));
	p->body = k.body;
	p->tmp = k.tmp;
	if (rc == AK_EINVALID)
		return reject(p, where, reason, line, len);
	if (rc != 0)
		return rc;
	return emit_record(p, &r);
}

static int blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

/* ---- native JSON Lines on two threads ----
 *
 * A large native input spends most of its collect phase parsing and
 * canonicalising lines, which need nothing from each other. This thread
 * reads lines into chunks; PAR_WORKERS threads check them (check_native,
 * each with its own parser and buffers) into results; this thread then
 * takes the results in input order and does what depends on the order:
 * the identical-record counter, the spool, rejects and their messages.
 * Same records, same bytes, same rejects, in the same order as one line
 * at a time (native_line). */
#define PAR_WORKERS 2
#define PAR_SLOTS 4
#define PAR_LINES 2048
#define PAR_BYTES ((size_t)32 << 20) /* a chunk's lines: at most this, plus one */

struct pline {
	size_t off, len;     /* the line in chunk->in (a too-long line: its reason) */
	unsigned long lineno;
	int toobig;
};

/* A line's result in chunk->out: this header, then kind, source, body,
 * id and reason bytes. */
struct pres {
	int32_t rc;
	int32_t id_len; /* -1: no event id */
	uint32_t kind_len, source_len, body_len, reason_len;
	int64_t time_us;
	uint64_t body_hash;
};

struct pchunk {
	int state; /* 0 free, 1 to check, 2 being checked, 3 checked */
	int cut;   /* memory ran out while checking: lines [n, ...) have no result */
	uint64_t seq;
	size_t n;
	struct pline lines[PAR_LINES];
	size_t roff[PAR_LINES];
	struct ak_buf in, out;
};

struct par {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	int stop;
	struct pchunk slot[PAR_SLOTS];
	const char *want_kind;
};

static int put_result(struct ak_buf *out, int rc, const struct checked *r, const char *reason)
{
	struct pres h;
	int e;

	memset(&h, 0, sizeof(h));
	h.rc = rc;
	h.id_len = -1;
	if (rc == 0) {
		h.kind_len = (uint32_t)strlen(r->kind);
		h.source_len = (uint32_t)r->source_len;
		h.body_len = (uint32_t)r->body_len;
		h.time_us = r->time_us;
		h.body_hash = r->body_hash;
		if (r->id)
			h.id_len = (int32_t)strlen(r->id);
	} else {
		h.reason_len = (uint32_t)strlen(reason);
	}
	if ((e = ak_buf_append(out, &h, sizeof(h))) != 0)
		return e;
	if (rc == 0 &&
	    ((e = ak_buf_append(out, r->kind, h.kind_len)) != 0 ||
	     (e = ak_buf_append(out, r->source, h.source_len)) != 0 ||
	     (e = ak_buf_append(out, r->body, h.body_len)) != 0 ||
	     (r->id && (e = ak_buf_append(out, r->id, (size_t)h.id_len)) != 0)))
		return e;
	if (rc != 0 && (e = ak_buf_append(out, reason, h.reason_len)) != 0)
		return e;
	return 0;
}

static void check_chunk(struct pchunk *c, struct checker *k, struct ak_jdoc *doc)
{
	char reason[1024];
	size_t i;

	ak_buf_reset(&c->out);
	for (i = 0; i < c->n; i++) {
		const struct pline *l = &c->lines[i];
		struct checked r;
		int rc;

		c->roff[i] = c->out.len;
		if (l->toobig) {
			rc = AK_EINVALID;
			snprintf(reason, sizeof(reason), "%.*s", (int)l->len, c->in.data + l->off);
		} else {
			rc = check_native(k, doc, c->in.data + l->off, l->len, &r, reason,
					  sizeof(reason));
			if (rc != 0 && rc != AK_EINVALID)
				snprintf(reason, sizeof(reason), "%s", ak_error_last());
		}
		if (put_result(&c->out, rc, &r, reason) != 0) {
			c->n = i;
			c->cut = 1;
			break;
		}
		if (rc != 0 && rc != AK_EINVALID) {
			c->n = i + 1;
			break;
		}
	}
}

static void *par_worker(void *arg)
{
	struct par *par = arg;
	struct checker k = {par->want_kind, AK_BUF_INIT((size_t)256 << 20),
			    AK_BUF_INIT((size_t)256 << 20)};
	struct ak_jdoc *doc = NULL;
	int ok = ak_jdoc_new(&doc, 0) == 0;

	pthread_mutex_lock(&par->mu);
	for (;;) {
		struct pchunk *c = NULL;
		int i;

		for (i = 0; i < PAR_SLOTS; i++)
			if (par->slot[i].state == 1 && (c == NULL || par->slot[i].seq < c->seq))
				c = &par->slot[i];
		if (c == NULL) {
			if (par->stop)
				break;
			pthread_cond_wait(&par->work, &par->mu);
			continue;
		}
		c->state = 2;
		pthread_mutex_unlock(&par->mu);
		if (ok) {
			check_chunk(c, &k, doc);
		} else {
			c->n = 0; /* no parser: nothing of it can be checked */
			c->cut = 1;
		}
		pthread_mutex_lock(&par->mu);
		c->state = 3;
		pthread_cond_broadcast(&par->done);
	}
	pthread_mutex_unlock(&par->mu);
	ak_jdoc_free(doc);
	ak_buf_free(&k.body);
	ak_buf_free(&k.tmp);
	return NULL;
}

/* Take a checked chunk's results, in order, on this thread. */
static int emit_chunk(struct ingest_pipeline *p, struct pchunk *c, char *where, size_t plen)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < c->n && rc == 0; i++) {
		const struct pline *l = &c->lines[i];
		const char *d = c->out.data + c->roff[i];
		struct pres h;
		struct checked r;

		memcpy(&h, d, sizeof(h));
		d += sizeof(h);
		put_decimal(where + plen, l->lineno);
		if (h.rc == AK_EINVALID) {
			char reason[1100];

			snprintf(reason, sizeof(reason), "%.*s", (int)h.reason_len, d);
			rc = reject(p, where, reason, l->toobig ? NULL : c->in.data + l->off,
				    l->toobig ? 0 : l->len);
			continue;
		}
		if (h.rc != 0) {
			rc = ak_error_code(h.rc, "%.*s", (int)h.reason_len, d);
			break;
		}
		/* The kind is NUL-terminated for the spool: copy it out. */
		{
			char kind[64];

			if (h.kind_len >= sizeof(kind)) {
				rc = ak_error_set("ingest: a kind of %u bytes", h.kind_len);
				break;
			}
			snprintf(kind, sizeof(kind), "%.*s", (int)h.kind_len, d);
			d += h.kind_len;
			r.kind = kind;
			r.time_us = h.time_us;
			r.body_hash = h.body_hash;
			r.source = d;
			r.source_len = h.source_len;
			d += h.source_len;
			r.body = d;
			r.body_len = h.body_len;
			d += h.body_len;
			r.id = NULL;
			if (h.id_len >= 0) {
				ak_buf_reset(&p->tmp);
				if ((rc = ak_buf_append(&p->tmp, d, (size_t)h.id_len)) != 0 ||
				    (rc = ak_buf_putc(&p->tmp, '\0')) != 0)
					break;
				r.id = p->tmp.data;
			}
			rc = emit_record(p, &r);
		}
	}
	if (rc == 0 && c->cut)
		rc = ak_error_oom();
	return rc;
}

/* Hand a filled chunk to the checking threads. */
static void par_hand(struct par *par, struct pchunk *c)
{
	pthread_mutex_lock(&par->mu);
	c->state = 1;
	pthread_cond_signal(&par->work);
	pthread_mutex_unlock(&par->mu);
}

/* Emit the oldest chunk handed out (waiting for its check) and free it. */
static int par_emit_oldest(struct ingest_pipeline *p, struct par *par, uint64_t *emit_seq,
			   char *where, size_t plen)
{
	struct pchunk *c = &par->slot[*emit_seq % PAR_SLOTS];
	int rc;

	pthread_mutex_lock(&par->mu);
	while (c->state != 3)
		pthread_cond_wait(&par->done, &par->mu);
	pthread_mutex_unlock(&par->mu);
	rc = emit_chunk(p, c, where, plen);
	c->n = 0;
	c->cut = 0;
	ak_buf_reset(&c->in);
	pthread_mutex_lock(&par->mu);
	c->state = 0;
	pthread_mutex_unlock(&par->mu);
	(*emit_seq)++;
	return rc;
}

static int native_parallel(struct ak_lines *r, const struct ingest_options *opt,
			   struct ingest_pipeline *p, char *where, size_t plen)
{
	struct par *par = calloc(1, sizeof(*par));
	pthread_t thr[PAR_WORKERS];
	uint64_t next_seq = 0, emit_seq = 0;
	struct pchunk *fill = NULL;
	const char *line;
	size_t len;
	int nthr = 0, rc = 0, got, i;

	if (par == NULL)
		return ak_error_oom();
	pthread_mutex_init(&par->mu, NULL);
	pthread_cond_init(&par->work, NULL);
	pthread_cond_init(&par->done, NULL);
	par->want_kind = p->o.kind;
	for (i = 0; i < PAR_SLOTS; i++) {
		ak_buf_init(&par->slot[i].in, (size_t)1 << 30);
		ak_buf_init(&par->slot[i].out, (size_t)1 << 30);
	}
	for (i = 0; i < PAR_WORKERS; i++)
		if (pthread_create(&thr[nthr], NULL, par_worker, par) == 0)
			nthr++;
	if (nthr == 0)
		rc = ak_error_set("ingest: cannot start a thread to check lines");
	while (rc == 0 && (got = ak_lines_next(r, &line, &len)) != 0) {
		struct pline *l;

		if (got < 0 && got != AK_ETOOBIG) {
			rc = got;
			ak_error_prefix("%s", opt->name);
			break;
		}
		if (got != AK_ETOOBIG && blank(line, len))
			continue;
		if (fill == NULL) {
			/* The slot next in turn may still hold a chunk to emit:
			 * the oldest one, since slots go round in order. */
			while (rc == 0 && emit_seq + PAR_SLOTS <= next_seq)
				rc = par_emit_oldest(p, par, &emit_seq, where, plen);
			if (rc != 0)
				break;
			fill = &par->slot[next_seq % PAR_SLOTS];
			fill->seq = next_seq++;
		}
		l = &fill->lines[fill->n];
		l->lineno = r->lineno;
		l->toobig = got == AK_ETOOBIG;
		l->off = fill->in.len;
		if (l->toobig) {
			const char *why = ak_error_last();

			l->len = strlen(why);
			rc = ak_buf_append(&fill->in, why, l->len);
		} else {
			l->len = len;
			rc = ak_buf_append(&fill->in, line, len);
		}
		if (rc != 0)
			break;
		if (++fill->n == PAR_LINES || fill->in.len >= PAR_BYTES) {
			par_hand(par, fill);
			fill = NULL;
		}
	}
	if (fill && fill->n)
		par_hand(par, fill);
	/* The rest, in order; after an error, only let the workers finish. */
	while (rc == 0 && nthr > 0 && emit_seq < next_seq)
		rc = par_emit_oldest(p, par, &emit_seq, where, plen);
	pthread_mutex_lock(&par->mu);
	par->stop = 1;
	pthread_cond_broadcast(&par->work);
	pthread_mutex_unlock(&par->mu);
	for (i = 0; i < nthr; i++)
		pthread_join(thr[i], NULL);
	for (i = 0; i < PAR_SLOTS; i++) {
		ak_buf_free(&par->slot[i].in);
		ak_buf_free(&par->slot[i].out);
	}
	pthread_cond_destroy(&par->work);
	pthread_cond_destroy(&par->done);
	pthread_mutex_destroy(&par->mu);
	free(par);
	return rc;
}

int ingest_native(FILE *in, const struct ingest_options *opt, struct ingest_pipeline *p)
{
	struct ak_lines r;
	const char *line;
	size_t len, plen;
	char where[4200];
	int rc, got;

	if ((rc = ak_lines_init(&r, in, opt->max_line ? opt->max_line : (size_t)1 << 20)) != 0)
		return rc;
	ingest_pipeline_next_input(p);
	/* "NAME:" once, the line number per line (snprintf per line cost
	 * a tenth of this loop). */
	plen = (size_t)snprintf(where, sizeof(where) - 24, "%s:", opt->name);
	if (plen > sizeof(where) - 24)
		plen = sizeof(where) - 24;
	/* Files for the store are checked on two threads; the daemon's
	 * requests (memory mode) are small and on its loop already. */
	if (!p->o.memory) {
		rc = native_parallel(&r, opt, p, where, plen);
		ak_lines_free(&r);
		return rc;
	}
	while ((got = ak_lines_next(&r, &line, &len)) != 0) {
		put_decimal(where + plen, r.lineno);
		if (got == AK_ETOOBIG) {
			if ((rc = reject(p, where, ak_error_last(), NULL, 0)) != 0)
				break;
			continue;
		}
		if (got < 0) {
			rc = got;
			ak_error_prefix("%s", opt->name);
			break;
		}
		if (blank(line, len))
			continue;
		if ((rc = native_line(p, line, len, where)) != 0)
			break;
	}
	ak_lines_free(&r);
	return rc;
}
/* ---- memory mode ---- */

void ingest_batch_free(struct ingest_batch *b)
{
	if (b == NULL)
		return;
	free(b->recs);
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int ingest_pipeline_take(struct ingest_pipeline *p, struct ingest_batch *out)
{
	struct ingest_batch b = {0};
	size_t off = 0, i = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!p->o.memory)
		return ak_error_set("ingest: the pipeline keeps its records in a spool file");
	if (p->counts.rejected && !p->o.skip_invalid)
		return ak_error_code(AK_EINVALID, "%zu record%s rejected: nothing was appended",
				     p->counts.rejected, p->counts.rejected == 1 ? "" : "s");
	if (p->counts.records &&
	    (b.recs = calloc(p->counts.records, sizeof(*b.recs))) == NULL)
		return ak_error_oom();
	b.data = ak_buf_detach(&p->mem, &b.len);
	if (b.data == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	while (off < b.len) {
		struct evidence_record *r;
		struct spool_hdr h;
		size_t need;

		memcpy(&h, b.data + off, sizeof(h));
		off += sizeof(h);
		need = (size_t)h.kind_len + 1 + h.source_len + h.body_len + h.dedupe_len;
		/* The buffer was written by this file: a mismatch is a bug. */
		assert(i < p->counts.records && need <= b.len - off);
		r = &b.recs[i++];
		r->kind = b.data + off;
		r->time_us = h.time_us;
		r->source = r->kind + h.kind_len + 1;
		r->source_len = h.source_len;
		r->body = r->source + h.source_len;
		r->body_len = h.body_len;
		r->dedupe = r->body + h.body_len;
		r->dedupe_len = h.dedupe_len;
		r->dedupe_confirm = (int)h.confirm;
		off += need;
	}
	b.n = i;
	ak_buf_init(&p->mem, p->o.memory_max ? p->o.memory_max : (size_t)256 << 20);
	ingest_pipeline_next_input(p);
	memset(&p->counts, 0, sizeof(p->counts));
	*out = b;
	memset(&b, 0, sizeof(b));
done:
	ingest_batch_free(&b);
	return rc;
}

/* ---- phase 2 ---- */

int ingest_pipeline_commit(struct ingest_pipeline *p, struct ingest_counts *out)
{
	struct evidence_appender *app = NULL;
	struct evidence_append_result res = {0};
	struct ak_buf rec = AK_BUF_INIT((size_t)1 << 30);
	struct spool_hdr h;
	int rc = 0;

	if (p->counts.rejected && !p->o.skip_invalid) {
		*out = p->counts;
		return ak_error_code(AK_EINVALID,
				     "%zu record%s rejected: nothing was appended (fix the input, "
				     "or use --skip-invalid to append the valid records)",
				     p->counts.rejected, p->counts.rejected == 1 ? "" : "s");
	}
	if (fflush(p->spool) != 0 || fseek(p->spool, 0, SEEK_SET) != 0)
		return ak_error_set("rewinding the spool file: %s", strerror(errno));
	if (p->counts.records == 0) {
		*out = p->counts;
		return 0;
	}
	if ((rc = evidence_appender_new(&app, p->st, p->o.batch)) != 0)
		return rc;
	while (fread(&h, sizeof(h), 1, p->spool) == 1) {
		struct evidence_record r;
		size_t total = (size_t)h.kind_len + 1 + h.source_len + h.body_len + h.dedupe_len;
		char *d;

		ak_buf_reset(&rec);
		if ((d = ak_buf_reserve(&rec, total)) == NULL) {
			rc = AK_ETOOBIG;
			goto done;
		}
		if (fread(d, 1, h.kind_len, p->spool) != h.kind_len ||
		    fread(d + h.kind_len + 1, 1, total - h.kind_len - 1, p->spool) !=
			    total - h.kind_len - 1) {
			rc = ak_error_set("the spool file is short");
			goto done;
		}
		d[h.kind_len] = '\0';
		memset(&r, 0, sizeof(r));
		r.kind = d;
		r.time_us = h.time_us;
		r.source = d + h.kind_len + 1;
		r.source_len = h.source_len;
		r.body = r.source + h.source_len;
		r.body_len = h.body_len;
		r.dedupe = r.body + h.body_len;
		r.dedupe_len = h.dedupe_len;
		r.dedupe_confirm = (int)h.confirm;
		if ((rc = evidence_appender_add(app, &r)) != 0)
			goto done;
	}
	if (ferror(p->spool)) {
		rc = ak_error_set("reading the spool file: %s", strerror(errno));
		goto done;
	}
done:
	{
		int frc = evidence_appender_finish(app, &res);

		if (rc == 0)
			rc = frc;
	}
	evidence_appender_free(app);
	p->counts.appended += res.appended;
	p->counts.duplicates += res.duplicates;
	p->counts.first_seq = res.first_seq;
	p->counts.last_seq = res.last_seq;
	*out = p->counts;
	ak_buf_free(&rec);
	return rc;
}
