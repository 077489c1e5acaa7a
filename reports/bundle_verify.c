/*
 * reports/bundle_verify.c - check an evidence bundle offline (see
 * reports/bundle.h and docs/EVIDENCE-FORMAT.md, "Evidence bundles").
 *
 * Two passes over the archive. The first reads every member once: it
 * checks each header (name, type, size), hashes every file for the
 * manifest and keeps the small ones (checkpoints, key, custody, manifest)
 * in memory. The second opens the archive twice more, one reader on
 * entries.jsonl and one on proofs.json, and walks both line by line in
 * step: each entry with its inclusion proof, or the whole run of entries
 * through the range check. Memory stays bounded by the limits whatever
 * the bundle holds, and member order inside the archive does not matter.
 *
 * Every problem is reported (up to a point) rather than the first only,
 * and each names the file, line, seq or proof at fault, so that a
 * reader learns whether an entry was changed, removed or added, a proof
 * or signature is wrong, or a file is missing, unexpected or altered.
 *
 * SECURITY: the archive is untrusted input, possibly crafted. It is read
 * with libarchive into memory only; nothing is ever written to disk, so
 * no path from the archive is ever followed. Member names must be plain
 * relative paths under one top directory, made of [A-Za-z0-9._-]
 * components (no '/' at the start, no "..", no hidden names); links,
 * devices, FIFOs, unexpected and repeated names are refused. The bytes
 * read are bounded in total, per small file and per line, so a
 * compression bomb costs at most the limits. Every number and hash read
 * from a member is range-checked before use, and the JSON parser is the
 * strict bounded one of lib/jcs.h. Only the first few dozen problems are
 * formatted, so a hostile bundle cannot flood the output.
 */
#include "reports/bundle_int.h"

#include "lib/b64.h"
#include "lib/buf.h"
#include "lib/error.h"
#include "lib/jcs.h"

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPORT_MAX 40
#define KINDS_MAX 64
#define PROOF_LINE_MAX ((size_t)64 << 10)
#define CHUNK 65536

/* A member of the archive as the first pass found it. */
struct file {
	char *rel; /* inside the top directory */
	enum bundle_member kind;
	uint64_t size;
	uint64_t cp_size; /* checkpoints/N */
	unsigned char sha[32];
	struct ak_buf data; /* small known files only */
	size_t order;       /* position in the archive */
	int listed;         /* named in MANIFEST.sha256 */
	int changed;        /* its hash differs from the manifest */
	/* checkpoints/N, once parsed */
	int cp_ok, cp_proven;
	unsigned char cp_root[32];
};

struct kind_count {
	char kind[EVIDENCE_KIND_MAX + 1];
	int64_t n;
};

struct verifier {
	const struct bundle_source *src;
	struct bundle_limits lim;
	bundle_problem_cb cb;
	void *ctx;
	struct bundle_verify_result *res;
	int64_t reported;
	char top[NAME_MAX + 1];
	struct file *f;
	size_t nf;
	uint64_t total;
	struct evidence_hasher *h;
	unsigned char pub[32];
	int have_pub;
	struct evidence_note note;
	int have_root; /* the checkpoint parsed: note.root and note.size are usable */
	struct ak_jdoc *doc_e, *doc_p;
	struct ak_buf scratch;
	struct kind_count kinds[KINDS_MAX];
	size_t nkinds;
	int too_many_kinds;
	int64_t range_first, range_last;
};

static void problem(struct verifier *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct verifier *v, const char *fmt, ...)
{
	char msg[1024], *p;
	va_list ap;

	v->res->problems++;
	if (v->reported >= REPORT_MAX)
		return;
	v->reported++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Library messages may quote archive bytes: no control characters
	 * reach a terminal. */
	for (p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	v->cb(v->ctx, msg);
}

/* A name from the archive, printable whatever it holds. */
static const char *shown(const char *s, char *buf, size_t cap)
{
	size_t i;

	for (i = 0; s[i] && i + 4 < cap; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (s[i] && i >= 3)
		memcpy(buf + i - 3, "...", 3);
	buf[i] = '\0';
	return buf;
}

static struct file *find(struct verifier *v, enum bundle_member kind)
{
	size_t i;

	for (i = 0; i < v->nf; i++)
		if (v->f[i].kind == kind)
			return &v->f[i];
	return NULL;
}

static int cmp_file(const void *a, const void *b)
{
	const struct file *x = a, *y = b;
	int c = strcmp(x->rel, y->rel);

	return c ? c : (x->order > y->order) - (x->order < y->order);
}

static int cmp_key(const void *key, const void *b)
{
	return strcmp(key, ((const struct file *)b)->rel);
}

/* After pass one the files are sorted by name: a binary search, so a
 * bundle of many members costs O(n log n), not O(n^2). */
static struct file *find_rel(struct verifier *v, const char *rel)
{
	return v->nf ? bsearch(rel, v->f, v->nf, sizeof(*v->f), cmp_key) : NULL;
}

/* ---- opening the archive ---- */

static int ar_open(const struct bundle_source *src, struct archive **out)
{
	struct archive *a = archive_read_new();
	int r;

	*out = NULL;
	if (a == NULL)
		return ak_error_oom();
	archive_read_support_filter_gzip(a);
	archive_read_support_format_zip(a);
	archive_read_support_format_tar(a);
	if (src->path)
		r = archive_read_open_filename(a, src->path, CHUNK);
	else
		r = archive_read_open_memory(a, src->data, src->len);
	if (r != ARCHIVE_OK) {
		ak_error_set("%s", archive_error_string(a) ? archive_error_string(a)
							     : "not a zip or tar.gz archive");
		archive_read_free(a);
		return AK_EINVALID;
	}
	*out = a;
	return 0;
}

/* The header's path inside the top directory, or NULL (with a problem
 * reported) when the name is not a plain path under it. Sets the top
 * directory from the first member. dir: the entry is a directory, whose
 * name may end in '/'. */
static const char *relative(struct verifier *v, const char *name, int dir, char *buf, size_t cap)
{
	char shown_name[128];
	const char *slash;
	size_t n, top;

	if (name == NULL) {
		problem(v, "archive member without a usable name");
		return NULL;
	}
	n = strlen(name);
	if (n + 1 > cap) {
		problem(v, "%s: name too long", shown(name, shown_name, sizeof(shown_name)));
		return NULL;
	}
	memcpy(buf, name, n + 1);
	if (dir && n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	if (!bundle_safe_path(buf)) {
		problem(v, "%s: unsafe name in the archive (absolute, '..', hidden or unusual "
			   "characters); refused",
			shown(name, shown_name, sizeof(shown_name)));
		return NULL;
	}
	slash = strchr(buf, '/');
	top = slash ? (size_t)(slash - buf) : n;
	if (slash == NULL && !dir) {
		problem(v, "%s: not inside the bundle's directory",
			shown(name, shown_name, sizeof(shown_name)));
		return NULL;
	}
	if (v->top[0] == '\0' && top < sizeof(v->top)) {
		memcpy(v->top, buf, top);
		v->top[top] = '\0';
	}
	if (top != strlen(v->top) || memcmp(buf, v->top, top) != 0) {
		problem(v, "%s: outside the bundle's directory '%s/'",
			shown(name, shown_name, sizeof(shown_name)), v->top);
		return NULL;
	}
	return slash ? slash + 1 : "";
}

static int keeps_data(enum bundle_member k)
{
	return k == BUNDLE_M_CHECKPOINT || k == BUNDLE_M_PUBKEY || k == BUNDLE_M_CUSTODY ||
	       k == BUNDLE_M_MANIFEST || k == BUNDLE_M_OLD_CHECKPOINT;
}

/* Read one member's data: hash it, keep it when asked. 0, or <0 when the
 * archive cannot be read any further. */
static int read_member(struct verifier *v, struct archive *a, struct file *f, char *buf)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint64_t max = f->kind == BUNDLE_M_ENTRIES || f->kind == BUNDLE_M_PROOFS
			       ? v->lim.max_total
			       : v->lim.max_file;
	int rc = 0, over = 0;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return ak_error_oom();
	}
	ak_buf_init(&f->data, max + 1 > max ? (size_t)max + 1 : (size_t)max);
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, CHUNK);

		if (n == 0)
			break;
		if (n < 0) {
			problem(v, "%s: cannot be read: %s", f->rel,
				archive_error_string(a) ? archive_error_string(a) : "damaged archive");
			rc = AK_EINVALID;
			break;
		}
		f->size += (uint64_t)n;
		v->total += (uint64_t)n;
		if (v->total > v->lim.max_total) {
			problem(v, "the archive holds more than %llu bytes; refused",
				(unsigned long long)v->lim.max_total);
			rc = AK_ETOOBIG;
			break;
		}
		if (f->size > max) {
			over = 1;
			continue;
		}
		if (EVP_DigestUpdate(md, buf, (size_t)n) != 1 ||
		    (keeps_data(f->kind) && ak_buf_append(&f->data, buf, (size_t)n) != 0)) {
			rc = ak_error_oom();
			break;
		}
	}
	if (over && rc == 0)
		problem(v, "%s: larger than %llu bytes; refused", f->rel, (unsigned long long)max);
	if (EVP_DigestFinal_ex(md, f->sha, NULL) != 1 && rc == 0)
		rc = ak_error_oom();
	EVP_MD_CTX_free(md);
	return rc;
}

static int add_file(struct verifier *v, const char *rel, enum bundle_member kind,
		    uint64_t cp_size, struct file **out)
{
	struct file *f = realloc(v->f, (v->nf + 1) * sizeof(*f));

	if (f == NULL)
		return ak_error_oom();
	v->f = f;
	f = &v->f[v->nf];
	memset(f, 0, sizeof(*f));
	if ((f->rel = strdup(rel)) == NULL)
		return ak_error_oom();
	f->kind = kind;
	f->cp_size = cp_size;
	f->order = v->nf;
	v->nf++;
	*out = f;
	return 0;
}

/* Pass one: every header and every byte. Returns <0 only when the check
 * cannot go on (out of memory); an unreadable archive is a problem. */
static int pass_one(struct verifier *v)
{
	struct archive *a = NULL;
	struct archive_entry *e;
	char *buf = malloc(CHUNK), name[BUNDLE_NAME_MAX + NAME_MAX + 8], sn[128];
	uint64_t members = 0;
	size_t i, n;
	int rc = 0, r;

	if (buf == NULL)
		return ak_error_oom();
	if (ar_open(v->src, &a) != 0) {
		problem(v, "not a readable zip or tar.gz archive: %s", ak_error_last());
		free(buf);
		return 0;
	}
	while ((r = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
		const char *raw, *rel;
		enum bundle_member kind;
		uint64_t cp_size = 0;
		struct file *f = NULL;
		mode_t type;

		if (r < ARCHIVE_WARN) {
			problem(v, "the archive is damaged or not a zip or tar.gz: %s",
				archive_error_string(a) ? archive_error_string(a) : "unreadable");
			break;
		}
		if (++members > v->lim.max_members) {
			problem(v, "the archive has more than %llu members; refused",
				(unsigned long long)v->lim.max_members);
			break;
		}
		raw = archive_entry_pathname(e);
		type = archive_entry_filetype(e);
		rel = relative(v, raw, type == AE_IFDIR, name, sizeof(name));
		if (rel == NULL)
			continue;
		if (archive_entry_hardlink(e) != NULL || type == AE_IFLNK) {
			problem(v, "%s: a link inside the archive; refused", shown(raw, sn, sizeof(sn)));
			continue;
		}
		if (type == AE_IFDIR) {
			if (rel[0] != '\0' && strcmp(rel, "checkpoints") != 0 &&
			    strcmp(rel, "policies") != 0 && strncmp(rel, "policies/", 9) != 0)
				problem(v, "%s/: unexpected directory", shown(rel, sn, sizeof(sn)));
			continue;
		}
		if (type != AE_IFREG) {
			problem(v, "%s: not a regular file (device, FIFO or socket); refused",
				shown(raw, sn, sizeof(sn)));
			continue;
		}
		kind = bundle_member_of(rel, &cp_size);
		if (kind == BUNDLE_M_UNKNOWN) {
			problem(v, "%s: unexpected file in the bundle", rel);
			continue;
		}
		if ((rc = add_file(v, rel, kind, cp_size, &f)) != 0)
			break;
		if ((rc = read_member(v, a, f, buf)) != 0) {
			rc = rc == AK_ENOMEM ? rc : 0;
			break;
		}
	}
	archive_read_free(a);
	free(buf);
	if (rc != 0)
		return rc;
	/* Sort by name; of a name that appears twice only the first copy in
	 * the archive counts (the one pass two finds). */
	if (v->nf > 1)
		qsort(v->f, v->nf, sizeof(*v->f), cmp_file);
	for (i = 0, n = 0; i < v->nf; i++) {
		if (n > 0 && strcmp(v->f[n - 1].rel, v->f[i].rel) == 0) {
			problem(v, "%s: appears twice in the archive", v->f[i].rel);
			free(v->f[i].rel);
			ak_buf_free(&v->f[i].data);
			continue;
		}
		v->f[n++] = v->f[i];
	}
	v->nf = n;
	v->res->files = (int64_t)n;
	return 0;
}

/* ---- the manifest ---- */

static void check_manifest(struct verifier *v)
{
	struct file *m = find(v, BUNDLE_M_MANIFEST), *f;
	const char *p, *end, *nl;
	unsigned char want[32];
	char name[BUNDLE_NAME_MAX + 1];
	size_t i, lineno = 0;

	if (m == NULL)
		return;
	p = m->data.data ? m->data.data : "";
	end = p + m->data.len;
	for (; p < end; p = nl + 1) {
		size_t n;

		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) {
			problem(v, "MANIFEST.sha256 line %zu: no newline at the end", lineno);
			break;
		}
		n = (size_t)(nl - p);
		/* "<64 hex>  <name>" (sha256sum's text mode) or " *<name>". */
		if (n < 67 || n - 66 > BUNDLE_NAME_MAX || ak_hex_decode(want, 32, p, 64) != 0 ||
		    p[64] != ' ' || (p[65] != ' ' && p[65] != '*')) {
			problem(v, "MANIFEST.sha256 line %zu: not '<sha256>  <file>'", lineno);
			continue;
		}
		memcpy(name, p + 66, n - 66);
		name[n - 66] = '\0';
		f = strlen(name) == n - 66 ? find_rel(v, name) : NULL;
		if (strcmp(name, "MANIFEST.sha256") == 0) {
			problem(v, "MANIFEST.sha256 line %zu: lists itself", lineno);
		} else if (f == NULL) {
			char sn[128];

			problem(v, "'%s': listed in MANIFEST.sha256 but missing from the bundle",
				shown(name, sn, sizeof(sn)));
		} else if (f->listed) {
			problem(v, "MANIFEST.sha256 line %zu: %s listed twice", lineno, name);
		} else {
			f->listed = 1;
			if (memcmp(f->sha, want, 32) != 0) {
				f->changed = 1;
				problem(v, "%s: changed (its SHA-256 differs from MANIFEST.sha256 "
					   "line %zu: the file or that line was altered)",
					f->rel, lineno);
			}
		}
	}
	for (i = 0; i < v->nf; i++)
		if (!v->f[i].listed && v->f[i].kind != BUNDLE_M_MANIFEST)
			problem(v, "%s: not listed in MANIFEST.sha256 (added?)", v->f[i].rel);
}

/* ---- checkpoints ---- */

static void check_checkpoints(struct verifier *v)
{
	struct file *pk = find(v, BUNDLE_M_PUBKEY), *cp = find(v, BUNDLE_M_CHECKPOINT);
	struct evidence_note n;
	size_t i;

	if (pk && evidence_pubkey_from_pem(pk->data.data ? pk->data.data : "", pk->data.len,
					   v->pub) == 0)
		v->have_pub = 1;
	else if (pk)
		problem(v, "pubkey.pem: not a PEM Ed25519 public key");
	if (cp == NULL)
		return;
	if (evidence_note_parse(cp->data.data ? cp->data.data : "", cp->data.len, &v->note) != 0) {
		problem(v, "checkpoint: %s", ak_error_last());
		return;
	}
	v->have_root = 1;
	v->res->tree_size = (int64_t)v->note.size;
	memcpy(v->res->root, v->note.root, 32);
	memcpy(v->res->key_id, v->note.key_id, 4);
	snprintf(v->res->origin, sizeof(v->res->origin), "%s", v->note.origin);
	if (v->note.size == 0 || v->note.size > (uint64_t)INT64_MAX) {
		problem(v, "checkpoint: tree size %llu is out of range",
			(unsigned long long)v->note.size);
		v->have_root = 0;
	}
	if (v->have_pub && evidence_note_verify(cp->data.data, cp->data.len, v->pub, &n) != 0)
		problem(v, "checkpoint: signature does not verify with pubkey.pem: %s",
			ak_error_last());
	for (i = 0; i < v->nf; i++) {
		struct file *f = &v->f[i];

		if (f->kind != BUNDLE_M_OLD_CHECKPOINT)
			continue;
		if (evidence_note_parse(f->data.data ? f->data.data : "", f->data.len, &n) != 0) {
			problem(v, "%s: %s", f->rel, ak_error_last());
			continue;
		}
		if (strcmp(n.origin, v->note.origin) != 0 || n.size != f->cp_size ||
		    n.size >= v->note.size) {
			problem(v, "%s: names log '%s' size %llu; expected log '%s', size %llu, "
				   "smaller than the checkpoint's %llu",
				f->rel, n.origin, (unsigned long long)n.size, v->note.origin,
				(unsigned long long)f->cp_size, (unsigned long long)v->note.size);
			continue;
		}
		if (v->have_pub && evidence_note_verify(f->data.data, f->data.len, v->pub, &n) != 0) {
			problem(v, "%s: signature does not verify with pubkey.pem: %s", f->rel,
				ak_error_last());
			continue;
		}
		f->cp_ok = 1;
		memcpy(f->cp_root, n.root, 32);
	}
}

/* ---- reading a member line by line (pass two) ---- */

struct lines {
	struct verifier *v;
	struct archive *a;
	const char *rel;
	uint64_t limit; /* bytes pass one saw */
	uint64_t read;
	char *buf;
	size_t pos, len;
	int eof, failed;
	struct ak_buf line;
	uint64_t lineno;
};

static int lines_open(struct verifier *v, struct lines *r, const struct file *f, size_t max)
{
	struct archive_entry *e;
	char name[BUNDLE_NAME_MAX + NAME_MAX + 8];
	int rc;

	memset(r, 0, sizeof(*r));
	r->v = v;
	r->rel = f->rel;
	r->limit = f->size;
	ak_buf_init(&r->line, max);
	if ((r->buf = malloc(CHUNK)) == NULL)
		return ak_error_oom();
	if ((rc = ar_open(v->src, &r->a)) != 0)
		return rc;
	snprintf(name, sizeof(name), "%s/%s", v->top, f->rel);
	while (archive_read_next_header(r->a, &e) == ARCHIVE_OK)
		if (archive_entry_filetype(e) == AE_IFREG && archive_entry_hardlink(e) == NULL &&
		    archive_entry_pathname(e) &&
		    strcmp(archive_entry_pathname(e), name) == 0)
			return 0;
	return ak_error_code(AK_EINVALID, "%s: not found again in the archive", f->rel);
}

static void lines_close(struct lines *r)
{
	if (r->a)
		archive_read_free(r->a);
	free(r->buf);
	ak_buf_free(&r->line);
	memset(r, 0, sizeof(*r));
}

/* The next line without its newline: 1, or 0 at the end (also after a
 * failure, which was reported). *nl says whether a newline ended it. */
static int lines_next(struct lines *r, const char **line, size_t *len, int *nl)
{
	if (r->failed || (r->eof && r->pos == r->len))
		return 0;
	ak_buf_reset(&r->line);
	for (;;) {
		char *start, *end;
		size_t n;

		if (r->pos == r->len) {
			la_ssize_t got;

			if (r->eof)
				break;
			got = archive_read_data(r->a, r->buf, CHUNK);
			if (got < 0 || r->read + (uint64_t)(got > 0 ? got : 0) > r->limit) {
				problem(r->v, "%s: cannot be read again: %s", r->rel,
					got < 0 && archive_error_string(r->a)
						? archive_error_string(r->a)
						: "the archive changed");
				r->failed = 1;
				return 0;
			}
			r->read += (uint64_t)got;
			r->pos = 0;
			r->len = (size_t)got;
			if (got == 0) {
				r->eof = 1;
				break;
			}
		}
		start = r->buf + r->pos;
		end = memchr(start, '\n', r->len - r->pos);
		n = end ? (size_t)(end - start) : r->len - r->pos;
		if (ak_buf_append(&r->line, start, n) != 0) {
			problem(r->v, "%s line %llu: longer than %zu bytes; not read further",
				r->rel, (unsigned long long)r->lineno + 1, r->line.max);
			r->failed = 1;
			return 0;
		}
		r->pos += n + (end != NULL);
		if (end) {
			*nl = 1;
			goto out;
		}
	}
	if (r->line.len == 0)
		return 0;
	*nl = 0;
out:
	r->lineno++;
	*line = r->line.data ? r->line.data : "";
	*len = r->line.len;
	return 1;
}

/* ---- proofs.json ---- */

enum proofs_state { P_START, P_ENTRIES, P_BETWEEN, P_CONSISTENCY, P_END, P_BROKEN };

struct proofs {
	struct lines r;
	enum proofs_state state;
	int more;     /* the last element ended with ',' */
	size_t count; /* elements read in the current array */
	uint64_t tree_size;
	int has_range;
	unsigned char range_hashes[BUNDLE_RANGE_MAX][32];
	size_t nrange;
};

static void proofs_broken(struct verifier *v, struct proofs *p, const char *why)
{
	problem(v, "proofs.json line %llu: %s (see docs/EVIDENCE-FORMAT.md, \"proofs.json\")",
		(unsigned long long)p->r.lineno, why);
	p->state = P_BROKEN;
}

static int expect_line(struct verifier *v, struct proofs *p, const char *want)
{
	const char *line;
	size_t len;
	int nl;

	if (lines_next(&p->r, &line, &len, &nl) != 1 || !nl || len != strlen(want) ||
	    memcmp(line, want, len) != 0) {
		char why[96];

		snprintf(why, sizeof(why), "expected the line %s", want);
		proofs_broken(v, p, why);
		return -1;
	}
	return 0;
}

/* An array of 32-byte base64 hashes, at most cap of them. */
static int hashes_of(const struct ak_jv *a, unsigned char (*out)[32], size_t cap, size_t *n)
{
	unsigned char tmp[35];
	size_t i;

	if (a == NULL || a->type != AK_JARRAY || a->u.a.n > cap)
		return -1;
	for (i = 0; i < a->u.a.n; i++) {
		const struct ak_jv *s = a->u.a.items[i];

		if (s->type != AK_JSTRING || ak_b64_decode(tmp, sizeof(tmp), s->u.s.ptr, s->u.s.len) != 32)
			return -1;
		memcpy(out[i], tmp, 32);
	}
	*n = a->u.a.n;
	return 0;
}

static int64_t int_of(const struct ak_jv *x)
{
	return x && x->type == AK_JINT && x->u.i >= 1 ? x->u.i : -1;
}

/* Parse text as a canonical JSON object with exactly these members. */
static const struct ak_jv *canonical(struct verifier *v, const char *text, size_t len,
				     const char *a, const char *b, const char *c)
{
	const struct ak_jv *o;
	size_t want = c ? 3 : 2;

	if (ak_json_parse(v->doc_p, text, len, &o) != 0 || o->type != AK_JOBJECT ||
	    o->u.o.n != want || !ak_jv_get(o, a) || !ak_jv_get(o, b) || (c && !ak_jv_get(o, c)))
		return NULL;
	ak_buf_reset(&v->scratch);
	if (ak_jcs_write(&v->scratch, o) != 0 || v->scratch.len != len ||
	    memcmp(v->scratch.data, text, len) != 0)
		return NULL;
	return o;
}

/* Header: tree size, the range proof if any, the start of "entries". */
static void proofs_start(struct verifier *v, struct proofs *p)
{
	static const char head[] = "{\"tree_size\":", range[] = "\"range\":";
	const struct ak_jv *o;
	const char *line;
	size_t len, i;
	int nl;

	if (lines_next(&p->r, &line, &len, &nl) != 1 || !nl || len < sizeof(head) + 1 ||
	    memcmp(line, head, sizeof(head) - 1) != 0 || line[len - 1] != ',' ||
	    line[sizeof(head) - 1] == '0' || len - sizeof(head) > 19) {
		proofs_broken(v, p, "expected {\"tree_size\":N,");
		return;
	}
	for (i = sizeof(head) - 1; i < len - 1; i++) {
		if (line[i] < '0' || line[i] > '9') {
			proofs_broken(v, p, "expected {\"tree_size\":N,");
			return;
		}
		p->tree_size = p->tree_size * 10 + (uint64_t)(line[i] - '0');
	}
	if (lines_next(&p->r, &line, &len, &nl) != 1 || !nl) {
		proofs_broken(v, p, "ends too early");
		return;
	}
	if (len > sizeof(range) && memcmp(line, range, sizeof(range) - 1) == 0 &&
	    line[len - 1] == ',') {
		int64_t first, last;

		o = canonical(v, line + sizeof(range) - 1, len - sizeof(range), "first", "hashes",
			      "last");
		first = int_of(o ? ak_jv_get(o, "first") : NULL);
		last = int_of(o ? ak_jv_get(o, "last") : NULL);
		if (o == NULL || first < 1 || last < first ||
		    hashes_of(ak_jv_get(o, "hashes"), p->range_hashes, BUNDLE_RANGE_MAX,
			      &p->nrange) != 0) {
			proofs_broken(v, p, "the range proof is not {\"first\":A,\"hashes\":[...],"
					    "\"last\":B} with A <= B");
			return;
		}
		p->has_range = 1;
		v->range_first = first;
		v->range_last = last;
		if (lines_next(&p->r, &line, &len, &nl) != 1 || !nl) {
			proofs_broken(v, p, "ends too early");
			return;
		}
	}
	if (len != 11 || memcmp(line, "\"entries\":[", 11) != 0) {
		proofs_broken(v, p, "expected the line \"entries\":[");
		return;
	}
	p->state = P_ENTRIES;
}

/* The next element of the current array: 1 with *o set, 0 at its end
 * (the closing line read), -1 when the file is broken (reported). a, b:
 * the two members an element has. */
static int proofs_next(struct verifier *v, struct proofs *p, const char *a, const char *b,
		       const struct ak_jv **o)
{
	const char *line, *close = p->state == P_ENTRIES ? "]," : "]}";
	size_t len;
	int nl, comma;

	if (p->state != P_ENTRIES && p->state != P_CONSISTENCY)
		return -1;
	if (lines_next(&p->r, &line, &len, &nl) != 1 || !nl) {
		proofs_broken(v, p, "ends too early");
		return -1;
	}
	if (len == 2 && memcmp(line, close, 2) == 0) {
		if (p->more) {
			proofs_broken(v, p, "a comma after the last element");
			return -1;
		}
		p->state = p->state == P_ENTRIES ? P_BETWEEN : P_END;
		return 0;
	}
	if (p->count > 0 && !p->more) {
		proofs_broken(v, p, "an element after the last one (no comma before it)");
		return -1;
	}
	comma = len > 0 && line[len - 1] == ',';
	*o = canonical(v, line, len - (size_t)comma, a, b, NULL);
	if (*o == NULL) {
		proofs_broken(v, p, "not a proof object in canonical form");
		return -1;
	}
	p->more = comma;
	p->count++;
	return 1;
}

/* ---- entries ---- */

static int count_kind(struct verifier *v, const char *kind, size_t n)
{
	size_t i;

	for (i = 0; i < v->nkinds; i++)
		if (strlen(v->kinds[i].kind) == n && memcmp(v->kinds[i].kind, kind, n) == 0) {
			v->kinds[i].n++;
			return 0;
		}
	if (v->nkinds == KINDS_MAX) {
		v->too_many_kinds = 1;
		return 0;
	}
	memcpy(v->kinds[v->nkinds].kind, kind, n);
	v->kinds[v->nkinds].kind[n] = '\0';
	v->kinds[v->nkinds++].n = 1;
	return 0;
}

/* Parse one line of entries.jsonl: its seq and leaf hash. 0, or -1 when it
 * is not an entry (reported). */
static int entry_of(struct verifier *v, struct lines *r, const char *line, size_t len, int nl,
		    int64_t *seq, unsigned char leaf[32])
{
	const struct ak_jv *o, *kind;

	if (!nl)
		problem(v, "entries.jsonl line %llu: no newline at the end",
			(unsigned long long)r->lineno);
	if (ak_json_parse(v->doc_e, line, len, &o) != 0 || o->type != AK_JOBJECT ||
	    (*seq = int_of(ak_jv_get(o, "seq"))) < 1 || (kind = ak_jv_get(o, "kind")) == NULL ||
	    kind->type != AK_JSTRING || kind->u.s.len == 0 ||
	    kind->u.s.len > EVIDENCE_KIND_MAX) {
		problem(v, "entries.jsonl line %llu: not an entry (a JSON object with seq and kind); "
			   "changed or added?",
			(unsigned long long)r->lineno);
		return -1;
	}
	v->res->entries++;
	if (v->res->first_seq == 0)
		v->res->first_seq = *seq;
	v->res->last_seq = *seq;
	count_kind(v, kind->u.s.ptr, kind->u.s.len);
	return evidence_leaf_hash(v->h, line, len, leaf) == 0 ? 0 : -1;
}

/* Who is to blame for a proof that fails, as far as the manifest tells. */
static const char *blame(struct verifier *v)
{
	struct file *e = find(v, BUNDLE_M_ENTRIES), *p = find(v, BUNDLE_M_PROOFS);
	int ce = e && e->changed, cp = p && p->changed;

	if (ce && !cp)
		return "the entry was changed (entries.jsonl differs from MANIFEST.sha256)";
	if (cp && !ce)
		return "the proof was changed (proofs.json differs from MANIFEST.sha256)";
	return "the entry or its proof was changed";
}

static void check_range(struct verifier *v, struct proofs *p, struct lines *er)
{
	struct bundle_range_check *c = malloc(sizeof(*c));
	const struct ak_jv *o;
	unsigned char leaf[32], root[32];
	const char *line;
	size_t len;
	int64_t want = v->range_first, seq;
	int nl, broken = 0, usable = v->have_root;

	if (c == NULL) {
		problem(v, "out of memory");
		return;
	}
	if (proofs_next(v, p, "path", "seq", &o) != 0) {
		if (p->state != P_BROKEN)
			proofs_broken(v, p, "entry proofs in a range bundle");
		usable = 0;
	}
	if (usable && (uint64_t)v->range_last > v->note.size) {
		problem(v, "proofs.json: range %lld-%lld goes beyond the checkpoint's %llu entries",
			(long long)v->range_first, (long long)v->range_last,
			(unsigned long long)v->note.size);
		usable = 0;
	}
	if (usable && bundle_range_check_init(c, v->h, v->note.size, (uint64_t)v->range_first - 1,
					      (uint64_t)v->range_last,
					      (const unsigned char(*)[32])p->range_hashes,
					      p->nrange) != 0) {
		problem(v, "proofs.json: %s", ak_error_last());
		usable = 0;
	}
	while (lines_next(er, &line, &len, &nl) == 1) {
		if (entry_of(v, er, line, len, nl, &seq, leaf) != 0) {
			broken = 1;
			continue;
		}
		if (seq == want && want <= v->range_last) {
			if (usable && !broken && bundle_range_check_push(c, leaf) != 0)
				broken = 1;
			want++;
		} else if (seq < want || seq > v->range_last) {
			problem(v, "entry seq %lld (entries.jsonl line %llu): not part of the range "
				   "%lld-%lld here (added, repeated or out of order)",
				(long long)seq, (unsigned long long)er->lineno,
				(long long)v->range_first, (long long)v->range_last);
			broken = 1;
		} else {
			problem(v, "entries seq %lld-%lld: missing from entries.jsonl (removed?)",
				(long long)want, (long long)seq - 1);
			broken = 1;
			want = seq + 1;
		}
	}
	if (er->failed)
		broken = 1;
	if (want <= v->range_last) {
		problem(v, "entries seq %lld-%lld: missing from entries.jsonl (removed?)",
			(long long)want, (long long)v->range_last);
		broken = 1;
	}
	if (usable && !broken) {
		if (bundle_range_check_root(c, root) != 0 || memcmp(root, v->note.root, 32) != 0)
			problem(v, "entries seq %lld-%lld: with the range proof they do not lead to "
				   "the checkpoint's root: %s",
				(long long)v->range_first, (long long)v->range_last, blame(v));
	}
	free(c);
}

/* The next inclusion proof of a selection bundle. */
struct next_proof {
	int have; /* 0 when none is left */
	int64_t seq, prev;
	unsigned char path[64][32];
	size_t n;
};

static void next_proof(struct verifier *v, struct proofs *p, struct next_proof *x)
{
	const struct ak_jv *o;

	x->have = proofs_next(v, p, "path", "seq", &o) == 1;
	if (!x->have)
		return;
	x->seq = int_of(ak_jv_get(o, "seq"));
	if (x->seq <= x->prev || hashes_of(ak_jv_get(o, "path"), x->path, 64, &x->n) != 0) {
		proofs_broken(v, p, "an inclusion proof out of seq order or not "
				    "{\"path\":[...],\"seq\":S}");
		x->have = 0;
	}
	x->prev = x->seq;
}

static void check_selection(struct verifier *v, struct proofs *p, struct lines *er)
{
	struct next_proof *x = calloc(1, sizeof(*x));
	unsigned char leaf[32];
	const char *line;
	size_t len;
	int64_t prev = 0, seq;
	int nl;

	if (x == NULL) {
		problem(v, "out of memory");
		return;
	}
	next_proof(v, p, x);
	while (lines_next(er, &line, &len, &nl) == 1) {
		if (entry_of(v, er, line, len, nl, &seq, leaf) != 0)
			continue;
		if (seq <= prev) {
			problem(v, "entry seq %lld (entries.jsonl line %llu): repeated or out of order "
				   "(added?)",
				(long long)seq, (unsigned long long)er->lineno);
			continue;
		}
		prev = seq;
		while (x->have && x->seq < seq) {
			problem(v, "entry seq %lld: missing from entries.jsonl (removed? proofs.json "
				   "has its proof)",
				(long long)x->seq);
			next_proof(v, p, x);
		}
		if (!x->have || x->seq != seq) {
			/* A broken proofs.json was reported once already. */
			if (p->state != P_BROKEN)
				problem(v, "entry seq %lld (entries.jsonl line %llu): no inclusion "
					   "proof in proofs.json (added?)",
					(long long)seq, (unsigned long long)er->lineno);
			continue;
		}
		if (v->have_root &&
		    evidence_verify_inclusion(v->h, (uint64_t)seq - 1, v->note.size, leaf,
					      (const unsigned char(*)[32])x->path, x->n,
					      v->note.root) != 0)
			problem(v, "entry seq %lld: its inclusion proof does not lead to the "
				   "checkpoint's root: %s",
				(long long)seq, blame(v));
		next_proof(v, p, x);
	}
	while (x->have) {
		problem(v, "entry seq %lld: missing from entries.jsonl (removed? proofs.json has its "
			   "proof)",
			(long long)x->seq);
		next_proof(v, p, x);
	}
	free(x);
}

static void check_consistency(struct verifier *v, struct proofs *p)
{
	const struct ak_jv *o;
	unsigned char path[64][32];
	int64_t prev = 0;
	size_t n, i;

	if (p->state == P_BETWEEN && expect_line(v, p, "\"consistency\":[") == 0) {
		p->state = P_CONSISTENCY;
		p->more = 0;
		p->count = 0;
	}
	while (p->state == P_CONSISTENCY && proofs_next(v, p, "old_size", "path", &o) == 1) {
		int64_t m = int_of(ak_jv_get(o, "old_size"));
		char rel[40];
		struct file *f;

		if (m <= prev || hashes_of(ak_jv_get(o, "path"), path, 64, &n) != 0) {
			proofs_broken(v, p, "a consistency proof out of order or not "
					    "{\"old_size\":M,\"path\":[...]}");
			break;
		}
		prev = m;
		snprintf(rel, sizeof(rel), "checkpoints/%lld", (long long)m);
		f = find_rel(v, rel);
		if (f == NULL) {
			problem(v, "proofs.json: a consistency proof from size %lld, but no %s", (long long)m,
				rel);
			continue;
		}
		f->cp_proven = -1; /* has a proof, whatever it shows */
		if (!f->cp_ok || !v->have_root)
			continue;
		if (evidence_verify_consistency(v->h, (uint64_t)m, v->note.size, f->cp_root,
						v->note.root, (const unsigned char(*)[32])path,
						n) != 0) {
			problem(v, "%s: the consistency proof to size %llu does not hold: %s", rel,
				(unsigned long long)v->note.size, ak_error_last());
			continue;
		}
		f->cp_proven = 1;
		v->res->checkpoints++;
	}
	if (p->state == P_END) {
		const char *line;
		size_t len;
		int nl;

		if (lines_next(&p->r, &line, &len, &nl) == 1)
			proofs_broken(v, p, "text after the end");
	} else if (p->state != P_BROKEN) {
		proofs_broken(v, p, "ends too early");
	}
	for (i = 0; i < v->nf; i++)
		if (v->f[i].kind == BUNDLE_M_OLD_CHECKPOINT && v->f[i].cp_proven == 0)
			problem(v, "%s: no consistency proof in proofs.json", v->f[i].rel);
}

/* Pass two: entries.jsonl against proofs.json. */
static int pass_two(struct verifier *v)
{
	struct file *ef = find(v, BUNDLE_M_ENTRIES), *pf = find(v, BUNDLE_M_PROOFS);
	struct proofs *p = calloc(1, sizeof(*p));
	struct lines er;
	int rc = 0;

	memset(&er, 0, sizeof(er));
	if (p == NULL)
		return ak_error_oom();
	if (ef == NULL)
		goto done;
	if ((rc = lines_open(v, &er, ef, v->lim.max_line)) != 0 ||
	    (pf && (rc = lines_open(v, &p->r, pf, PROOF_LINE_MAX)) != 0)) {
		problem(v, "%s", ak_error_last());
		rc = rc == AK_ENOMEM ? rc : 0;
		goto done;
	}
	if (pf) {
		proofs_start(v, p);
		if (p->state == P_ENTRIES && v->have_root && p->tree_size != v->note.size)
			problem(v, "proofs.json: tree size %llu, but the checkpoint's is %llu",
				(unsigned long long)p->tree_size, (unsigned long long)v->note.size);
	} else {
		p->state = P_BROKEN; /* missing, said so already: check the entries alone */
	}
	v->res->range = p->has_range;
	if (p->has_range)
		check_range(v, p, &er);
	else
		check_selection(v, p, &er);
	/* Whatever proofs.json did, every entry line was read (for counts). */
	{
		const char *line;
		size_t len;
		int64_t seq;
		unsigned char leaf[32];
		int nl;

		while (lines_next(&er, &line, &len, &nl) == 1)
			entry_of(v, &er, line, len, nl, &seq, leaf);
	}
	if (pf)
		check_consistency(v, p);
done:
	lines_close(&er);
	lines_close(&p->r);
	free(p);
	return rc;
}

/* ---- custody.json ---- */

static void check_custody(struct verifier *v)
{
	struct file *f = find(v, BUNDLE_M_CUSTODY);
	json_t *c, *counts, *by, *cp, *olds, *x;
	json_error_t err;
	char root[AK_B64_LEN(32) + 1];
	const char *key;
	size_t i, nold = 0, n;

	if (f == NULL)
		return;
	c = json_loadb(f->data.data ? f->data.data : "", f->data.len, JSON_REJECT_DUPLICATES, &err);
	if (c == NULL || !json_is_object(c)) {
		problem(v, "custody.json: not a JSON object");
		json_decref(c);
		return;
	}
	if (!json_is_string(json_object_get(c, "format")) ||
	    strcmp(json_string_value(json_object_get(c, "format")), BUNDLE_FORMAT) != 0)
		problem(v, "custody.json: format is not \"%s\"", BUNDLE_FORMAT);
	counts = json_object_get(c, "counts");
	by = json_object_get(counts, "by_kind");
	if (!json_is_integer(json_object_get(counts, "entries")) ||
	    json_integer_value(json_object_get(counts, "entries")) != v->res->entries) {
		problem(v, "custody.json: counts.entries is not the %lld entries of entries.jsonl",
			(long long)v->res->entries);
	} else if (!json_is_object(by) || json_object_size(by) != v->nkinds || v->too_many_kinds) {
		problem(v, "custody.json: counts.by_kind does not match entries.jsonl");
	} else {
		for (i = 0; i < v->nkinds; i++) {
			x = json_object_get(by, v->kinds[i].kind);
			if (!json_is_integer(x) || json_integer_value(x) != v->kinds[i].n) {
				problem(v, "custody.json: counts.by_kind.%s is not the %lld entries of "
					   "that kind in entries.jsonl",
					v->kinds[i].kind, (long long)v->kinds[i].n);
				break;
			}
		}
	}
	cp = json_object_get(c, "checkpoint");
	if (v->have_root) {
		ak_b64_encode(root, v->note.root, 32);
		if (!json_is_integer(json_object_get(cp, "size")) ||
		    (uint64_t)json_integer_value(json_object_get(cp, "size")) != v->note.size ||
		    !json_is_string(json_object_get(cp, "root")) ||
		    strcmp(json_string_value(json_object_get(cp, "root")), root) != 0 ||
		    !json_is_string(json_object_get(cp, "origin")) ||
		    strcmp(json_string_value(json_object_get(cp, "origin")), v->note.origin) != 0)
			problem(v, "custody.json: checkpoint origin, size or root differ from the "
				   "checkpoint file");
	}
	x = json_object_get(c, "selection");
	key = json_string_value(json_object_get(x, "proof"));
	x = json_object_get(x, "range");
	if (key == NULL || strcmp(key, v->res->range ? "range" : "inclusion") != 0 ||
	    (v->res->range &&
	     (json_integer_value(json_object_get(x, "first")) != v->range_first ||
	      json_integer_value(json_object_get(x, "last")) != v->range_last)))
		problem(v, "custody.json: selection.proof and selection.range do not describe "
			   "proofs.json");
	olds = json_object_get(c, "earlier_checkpoints");
	for (i = 0; i < v->nf; i++)
		nold += v->f[i].kind == BUNDLE_M_OLD_CHECKPOINT;
	if (!json_is_array(olds) || json_array_size(olds) != nold) {
		problem(v, "custody.json: earlier_checkpoints does not list the %zu files of "
			   "checkpoints/",
			nold);
	} else {
		json_array_foreach(olds, n, x) {
			char rel[40];

			snprintf(rel, sizeof(rel), "checkpoints/%lld",
				 (long long)json_integer_value(json_object_get(x, "size")));
			if (find_rel(v, rel) == NULL) {
				problem(v, "custody.json: earlier_checkpoints names %s, which is not in "
					   "the bundle",
					rel);
				break;
			}
		}
	}
	json_decref(c);
}

/* ---- putting it together ---- */

static void required(struct verifier *v)
{
	static const struct {
		enum bundle_member m;
		const char *name;
	} need[] = {
		{BUNDLE_M_ENTRIES, "entries.jsonl"}, {BUNDLE_M_PROOFS, "proofs.json"},
		{BUNDLE_M_CHECKPOINT, "checkpoint"}, {BUNDLE_M_PUBKEY, "pubkey.pem"},
		{BUNDLE_M_CUSTODY, "custody.json"},  {BUNDLE_M_MANIFEST, "MANIFEST.sha256"},
		{BUNDLE_M_VERIFY_MD, "VERIFY.md"},   {BUNDLE_M_VERIFY_PY, "verify.py"},
		{BUNDLE_M_POLICY, "policies/"},
	};
	size_t i;

	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (find(v, need[i].m) == NULL)
			problem(v, "%s: missing from the bundle", need[i].name);
}

int bundle_verify(const struct bundle_source *src, const struct bundle_limits *limits,
		  bundle_problem_cb cb, void *ctx, struct bundle_verify_result *out)
{
	struct verifier v;
	size_t i;
	int rc;

	memset(&v, 0, sizeof(v));
	memset(out, 0, sizeof(*out));
	v.src = src;
	v.cb = cb;
	v.ctx = ctx;
	v.res = out;
	if (limits)
		v.lim = *limits;
	if (v.lim.max_total == 0)
		v.lim.max_total = BUNDLE_DEFAULT_MAX_TOTAL;
	if (v.lim.max_members == 0)
		v.lim.max_members = BUNDLE_DEFAULT_MAX_MEMBERS;
	if (v.lim.max_file == 0)
		v.lim.max_file = BUNDLE_DEFAULT_MAX_FILE;
	if (v.lim.max_line == 0)
		v.lim.max_line = BUNDLE_DEFAULT_MAX_LINE;
	ak_buf_init(&v.scratch, PROOF_LINE_MAX);
	if ((rc = evidence_hasher_new(&v.h)) != 0 || (rc = ak_jdoc_new(&v.doc_e, 0)) != 0 ||
	    (rc = ak_jdoc_new(&v.doc_p, PROOF_LINE_MAX * 8)) != 0)
		goto done;
	if ((rc = pass_one(&v)) != 0)
		goto done;
	if (v.nf > 0 || out->problems == 0) {
		required(&v);
		check_manifest(&v);
		check_checkpoints(&v);
		if ((rc = pass_two(&v)) != 0)
			goto done;
		check_custody(&v);
	}
	if (out->problems > v.reported) {
		char msg[96];

		snprintf(msg, sizeof(msg), "... and %lld more problems not shown",
			 (long long)(out->problems - v.reported));
		cb(ctx, msg);
	}
	rc = out->problems ? ak_error_code(AK_ETAMPERED, "%lld problem%s found",
					   (long long)out->problems, out->problems == 1 ? "" : "s")
			   : 0;
done:
	for (i = 0; i < v.nf; i++) {
		free(v.f[i].rel);
		ak_buf_free(&v.f[i].data);
	}
	free(v.f);
	evidence_hasher_free(v.h);
	ak_jdoc_free(v.doc_e);
	ak_jdoc_free(v.doc_p);
	ak_buf_free(&v.scratch);
	return rc;
}
