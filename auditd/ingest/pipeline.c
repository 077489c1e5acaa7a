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
#include "lib/lines.h"
#include "lib/timefmt.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
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
	const char *raw; /* the native line being added, for rejects */
	size_t raw_len;
};

static uint64_t hash64(const void *p, size_t n, uint64_t h)
{
	const unsigned char *s = p;
	size_t i;

	/* FNV-1a folded with a multiply per 8 bytes: only needs to separate
	 * records well; a collision costs nothing but a different counter. */
	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h;
}

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
	size_t i;
	int rc;

	if (key == 0)
		key = 1; /* 0 marks an empty slot */
	if (t->cap && t->keys[i = occ_find(t, key)] == key) {
		*out = ++t->counts[i];
		return 0;
	}
	if (t->used >= OCC_MAX) {
		struct occ_table old = o->prev;

		o->prev = o->cur;
		o->cur = old;
		occ_clear(t);
	}
	if (t->used * 2 >= t->cap && (rc = occ_grow(t)) != 0)
		return rc;
	/* Seen in the older generation: carry its count on. */
	*out = 0;
	if (o->prev.cap && o->prev.keys[i = occ_find(&o->prev, key)] == key)
		*out = o->prev.counts[i] + 1;
	i = occ_find(t, key);
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

	if (raw == NULL && p->raw) {
		raw = p->raw;
		raw_len = p->raw_len;
	}
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
		       const char *dedupe, size_t dedupe_len)
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

int ingest_pipeline_add(struct ingest_pipeline *p, const char *kind, int64_t time_us,
			const char *source, size_t source_len, const struct ak_jv *body,
			const char *event_id, const char *where)
{
	json_t *fixed = NULL;
	const char *body_id = NULL;
	char reason[1024];
	uint32_t occ = 0;
	int rc;

	if (p->o.kind && strcmp(kind, p->o.kind) != 0) {
		snprintf(reason, sizeof(reason), "kind '%.40s' where --kind %s was given", kind,
			 p->o.kind);
		return reject(p, where, reason, NULL, 0);
	}
	if (source_len == 0 || source_len > SOURCE_MAX) {
		snprintf(reason, sizeof(reason), "field 'source': must be 1 to %d bytes", SOURCE_MAX);
		return reject(p, where, reason, NULL, 0);
	}
	if (time_us < AK_TIME_MIN_US || time_us > AK_TIME_MAX_US)
		return reject(p, where, "field 'time': outside years 0000-9999", NULL, 0);
	rc = ingest_kind_check(kind, body, &fixed, &body_id);
	if (rc == AK_EINVALID) {
		snprintf(reason, sizeof(reason), "%s", ak_error_last());
		return reject(p, where, reason, NULL, 0);
	}
	if (rc != 0)
		return rc;
	ak_buf_reset(&p->body);
	rc = fixed ? ak_jcs_write_jansson(&p->body, fixed) : ak_jcs_write(&p->body, body);
	json_decref(fixed);
	if (rc != 0) {
		snprintf(reason, sizeof(reason), "body: %s", ak_error_last());
		return rc == AK_EINVALID ? reject(p, where, reason, NULL, 0) : rc;
	}
	ak_buf_reset(&p->tmp);
	if ((rc = ak_jcs_write_string(&p->tmp, source, source_len)) != 0) {
		snprintf(reason, sizeof(reason), "field 'source': %s", ak_error_last());
		return reject(p, where, reason, NULL, 0);
	}
	ak_buf_reset(&p->material);
	if (event_id == NULL)
		event_id = body_id;
	if (event_id) {
		rc = ak_buf_puts(&p->material, "id\n");
		if (rc == 0)
			rc = ak_buf_puts(&p->material, event_id);
	} else {
		/* The body enters the identity through a 64-bit hash (the store's
		 * dedupe key keeps 64 bits of the digest anyway), not as a copy. */
		uint64_t hb = hash64(p->body.data, p->body.len, 0xcbf29ce484222325ULL);
		uint64_t h = hash64(source, source_len, hb ^ (uint64_t)time_us);
		char hex[17];

		if ((rc = occ_next(&p->occ, h, &occ)) != 0)
			return rc;
		snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)hb);
		rc = ak_buf_puts(&p->material, "record\n");
		if (rc == 0)
			rc = ak_buf_append(&p->material, source, source_len);
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
	if ((rc = spool_write(p, kind, time_us, source, source_len, p->body.data, p->body.len,
			      p->material.data, p->material.len)) != 0)
		return rc;
	p->counts.records++;
	return 0;
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

static int native_line(struct ingest_pipeline *p, const char *line, size_t len,
		       const char *where)
{
	const struct ak_jv *root, *kind, *tm, *src, *body;
	char reason[1024];
	int64_t t;
	size_t i;
	int rc;

	if ((rc = ak_json_parse(p->doc, line, len, &root)) != 0) {
		if (rc != AK_EINVALID)
			return rc;
		snprintf(reason, sizeof(reason), "not valid JSON: %s", ak_error_last());
		return reject(p, where, reason, line, len);
	}
	if (root->type != AK_JOBJECT)
		return reject(p, where, "not a JSON object", line, len);
	for (i = 0; i < root->u.o.n; i++) {
		const char *k = root->u.o.members[i].key;

		if (strcmp(k, "kind") && strcmp(k, "time") && strcmp(k, "source") &&
		    strcmp(k, "body")) {
			if (strcmp(k, "seq") == 0 || strcmp(k, "received") == 0)
				snprintf(reason, sizeof(reason),
					 "field '%s': assigned by the store, not given", k);
			else
				snprintf(reason, sizeof(reason),
					 "field '%.60s': unknown (a line has kind, time, source "
					 "and body)",
					 k);
			return reject(p, where, reason, line, len);
		}
	}
	kind = ak_jv_get(root, "kind");
	tm = ak_jv_get(root, "time");
	src = ak_jv_get(root, "source");
	body = ak_jv_get(root, "body");
	if (kind == NULL && p->o.kind == NULL)
		return reject(p, where, "field 'kind': missing", line, len);
	if (kind && kind->type != AK_JSTRING)
		return reject(p, where, "field 'kind': must be a string", line, len);
	if (tm == NULL)
		return reject(p, where, "field 'time': missing", line, len);
	if (tm->type != AK_JSTRING)
		return reject(p, where, "field 'time': must be an RFC 3339 string", line, len);
	if (ak_time_parse(tm->u.s.ptr, tm->u.s.len, &t) != 0) {
		snprintf(reason, sizeof(reason), "field 'time': %s", ak_error_last());
		return reject(p, where, reason, line, len);
	}
	if (src == NULL)
		return reject(p, where, "field 'source': missing", line, len);
	if (src->type != AK_JSTRING)
		return reject(p, where, "field 'source': must be a string", line, len);
	if (body == NULL)
		return reject(p, where, "field 'body': missing", line, len);
	if (body->type != AK_JOBJECT)
		return reject(p, where, "field 'body': must be an object", line, len);
	if (kind && !ingest_kind_known(kind->u.s.ptr) && strcmp(kind->u.s.ptr, "checkpoint") != 0) {
		snprintf(reason, sizeof(reason), "field 'kind': unknown kind '%.40s'",
			 kind->u.s.ptr);
		return reject(p, where, reason, line, len);
	}
	/* The raw line goes to the reject file if the body rules refuse it. */
	p->raw = line;
	p->raw_len = len;
	rc = ingest_pipeline_add(p, kind ? kind->u.s.ptr : p->o.kind, t, src->u.s.ptr,
				 src->u.s.len, body, NULL, where);
	p->raw = NULL;
	return rc;
}

static int blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
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
