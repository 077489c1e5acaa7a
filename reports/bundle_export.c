/*
 * reports/bundle_export.c - write an evidence bundle (see reports/bundle.h
 * and docs/EVIDENCE-FORMAT.md, "Evidence bundles").
 *
 * The order of work is what makes the bundle trustworthy and the export
 * safe to interrupt:
 *
 *   1. a fresh checkpoint, so every entry selected is under a signed root;
 *   2. entries.jsonl and proofs.json streamed from the store into unlinked
 *      temporary files (memory stays flat however many entries; a crash
 *      leaves nothing behind), each proof checked against the checkpoint's
 *      root before it is written, so akashi never hands out a bundle its own
 *      verifier would refuse;
 *   3. the small files, the manifest over all of them;
 *   4. the archive, written to a temporary name next to the output and
 *      fsync'ed;
 *   5. the "export" system entry, with the archive's SHA-256, appended to
 *      the log (so the log shows every export ever made); only then
 *   6. the archive linked into place under its final name (never replacing
 *      a file) and the temporary name removed.
 */
#include "reports/bundle_int.h"

#include "lib/b64.h"
#include "lib/buf.h"
#include "lib/error.h"
#include "lib/jcs.h"
#include "lib/timefmt.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define POLICIES_MAX ((size_t)256 << 20)

/* One file of the bundle: small ones in memory, large ones spooled. */
struct member {
	char *name; /* inside the top directory */
	struct ak_buf mem;
	FILE *spool; /* an unlinked temporary file, or NULL */
	EVP_MD_CTX *md;
	uint64_t size;
	unsigned char sha[32];
};

struct kind_count {
	char kind[EVIDENCE_KIND_MAX + 1];
	int64_t n;
};

struct old_checkpoint {
	int64_t size;
	unsigned char root[32];
};

struct exporter {
	struct evidence_store *st;
	const struct bundle_opts *o;
	struct bundle_criteria crit;
	char dir[PATH_MAX];  /* of the output */
	char base[NAME_MAX]; /* output file name */
	char top[NAME_MAX];  /* top directory inside the archive */
	int zip;
	struct member *m;
	size_t nm;
	size_t entries, proofs; /* indexes into m */
	struct evidence_checkpoint cp;
	struct evidence_hasher *h;
	struct kind_count *kinds;
	size_t nkinds;
	int64_t count, last_seq;
	int range;
	struct bundle_range_check *check;
	struct old_checkpoint *olds;
	size_t nolds;
	int any_proof; /* an element was written to the current proofs.json array */
	struct ak_buf line;
	char commit[128];
	int64_t now_us;
};

struct bundle_policies {
	struct exporter *x;
	size_t total;
};

static int sha_oom(void)
{
	return ak_error_set("OpenSSL: SHA-256 failed");
}

/* ---- members ---- */

static int member_new(struct exporter *x, const char *name, struct member **out)
{
	struct member *m;
	size_t i;

	for (i = 0; i < x->nm; i++)
		if (strcmp(x->m[i].name, name) == 0)
			return ak_error_code(AK_EINVALID, "%s: added twice to the bundle", name);
	m = realloc(x->m, (x->nm + 1) * sizeof(*m));
	if (m == NULL)
		return ak_error_oom();
	x->m = m;
	m = &x->m[x->nm];
	memset(m, 0, sizeof(*m));
	ak_buf_init(&m->mem, POLICIES_MAX);
	if ((m->name = strdup(name)) == NULL)
		return ak_error_oom();
	x->nm++;
	*out = m;
	return 0;
}

static int member_mem(struct exporter *x, const char *name, const void *data, size_t len)
{
	struct member *m;
	int rc;

	if ((rc = member_new(x, name, &m)) != 0)
		return rc;
	/* ak_buf keeps a NUL after the data; an empty file still gets one. */
	if ((rc = ak_buf_append(&m->mem, data, len)) != 0)
		return rc;
	m->size = len;
	return 0;
}

/* A member spooled to an unlinked file in the output's directory. */
static int member_spool(struct exporter *x, const char *name, size_t *index)
{
	char path[PATH_MAX];
	struct member *m;
	int fd, rc;

	if ((rc = member_new(x, name, &m)) != 0)
		return rc;
	*index = x->nm - 1;
	snprintf(path, sizeof(path), "%s/.%s.spool-XXXXXX", x->dir, x->base);
	fd = mkstemp(path);
	if (fd < 0)
		return ak_error_set("cannot create a temporary file in %s: %s", x->dir,
				    strerror(errno));
	unlink(path);
	m->spool = fdopen(fd, "w+");
	if (m->spool == NULL) {
		close(fd);
		return ak_error_oom();
	}
	m->md = EVP_MD_CTX_new();
	if (m->md == NULL || EVP_DigestInit_ex(m->md, EVP_sha256(), NULL) != 1)
		return sha_oom();
	return 0;
}

static int spool_write(struct member *m, const void *data, size_t len)
{
	if (fwrite(data, 1, len, m->spool) != len)
		return ak_error_set("writing a temporary file: %s", strerror(errno));
	if (EVP_DigestUpdate(m->md, data, len) != 1)
		return sha_oom();
	m->size += len;
	return 0;
}

static int spool_puts(struct member *m, const char *s)
{
	return spool_write(m, s, strlen(s));
}

static int spool_done(struct member *m)
{
	if (fflush(m->spool) != 0 || ferror(m->spool))
		return ak_error_set("writing a temporary file: %s", strerror(errno));
	if (EVP_DigestFinal_ex(m->md, m->sha, NULL) != 1)
		return sha_oom();
	rewind(m->spool);
	return 0;
}

static int hash_mem(struct member *m)
{
	if (EVP_Digest(m->mem.data ? m->mem.data : "", m->size, m->sha, NULL, EVP_sha256(),
		       NULL) != 1)
		return sha_oom();
	return 0;
}

static void members_free(struct exporter *x)
{
	size_t i;

	for (i = 0; i < x->nm; i++) {
		free(x->m[i].name);
		ak_buf_free(&x->m[i].mem);
		if (x->m[i].spool)
			fclose(x->m[i].spool);
		EVP_MD_CTX_free(x->m[i].md);
	}
	free(x->m);
	x->m = NULL;
	x->nm = 0;
}

/* ---- the policy hook's sink ---- */

int bundle_policies_add(struct bundle_policies *p, const char *path, const void *data, size_t len)
{
	char name[BUNDLE_NAME_MAX + 16];

	if (!bundle_safe_path(path) || strcmp(path, "COMMIT") == 0 ||
	    strlen(path) + 9 > BUNDLE_NAME_MAX)
		return ak_error_code(AK_EINVALID, "policy file name '%s' is not allowed in a bundle",
				     path);
	if (len > POLICIES_MAX - p->total)
		return ak_error_code(AK_ETOOBIG, "policy files exceed %zu bytes", POLICIES_MAX);
	p->total += len;
	snprintf(name, sizeof(name), "policies/%s", path);
	return member_mem(p->x, name, data, len);
}

int bundle_policies_commit(struct bundle_policies *p, const char *commit)
{
	size_t n = strlen(commit), i;

	if (n == 0 || n >= sizeof(p->x->commit))
		return ak_error_code(AK_EINVALID, "policy commit id '%s' is not allowed", commit);
	for (i = 0; i < n; i++)
		if (!((commit[i] >= '0' && commit[i] <= '9') || (commit[i] >= 'a' && commit[i] <= 'f')))
			return ak_error_code(AK_EINVALID, "policy commit id '%s' is not hex", commit);
	memcpy(p->x->commit, commit, n + 1);
	return 0;
}

/* ---- proofs.json, written as the format's fixed layout ---- */

static int put_path(struct ak_buf *b, const unsigned char (*path)[32], size_t n)
{
	char h[AK_B64_LEN(32) + 1];
	size_t i;
	int rc = ak_buf_puts(b, "[");

	for (i = 0; rc == 0 && i < n; i++) {
		ak_b64_encode(h, path[i], 32);
		rc = ak_buf_printf(b, "%s\"%s\"", i ? "," : "", h);
	}
	return rc ? rc : ak_buf_puts(b, "]");
}

/* One element of the current array: "elem" first, then ",\nelem". */
static int proof_element(struct exporter *x)
{
	struct member *p = &x->m[x->proofs];
	int rc;

	if (x->any_proof && (rc = spool_puts(p, ",\n")) != 0)
		return rc;
	x->any_proof = 1;
	return spool_write(p, x->line.data, x->line.len);
}

static int close_array(struct exporter *x, const char *after)
{
	struct member *p = &x->m[x->proofs];
	int rc;

	if (x->any_proof && (rc = spool_puts(p, "\n")) != 0)
		return rc;
	x->any_proof = 0;
	return spool_puts(p, after);
}

static int count_kind(struct exporter *x, const char *kind)
{
	struct kind_count *k;
	size_t i;

	for (i = 0; i < x->nkinds; i++)
		if (strcmp(x->kinds[i].kind, kind) == 0) {
			x->kinds[i].n++;
			return 0;
		}
	k = realloc(x->kinds, (x->nkinds + 1) * sizeof(*k));
	if (k == NULL)
		return ak_error_oom();
	x->kinds = k;
	snprintf(k[x->nkinds].kind, sizeof(k[x->nkinds].kind), "%s", kind);
	k[x->nkinds++].n = 1;
	return 0;
}

static int write_entry(struct exporter *x, const struct evidence_entry *e)
{
	struct member *m = &x->m[x->entries];
	int rc;

	if (e->seq <= x->last_seq || e->seq > x->cp.size)
		return ak_error_set("seq %lld came out of order", (long long)e->seq);
	x->last_seq = e->seq;
	x->count++;
	if ((rc = spool_write(m, e->bytes, e->len)) != 0 || (rc = spool_puts(m, "\n")) != 0)
		return rc;
	return count_kind(x, e->kind);
}

/* A range export: every entry of [A, B], in order, into the range check. */
static int on_range_entry(void *ctx, const struct evidence_entry *e)
{
	struct exporter *x = ctx;
	unsigned char leaf[32];
	int rc;

	if (e->seq != x->crit.seq_lo + x->count)
		return ak_error_code(AK_ETAMPERED, "seq %lld is missing from the log (run akashi verify)",
				     (long long)(x->crit.seq_lo + x->count));
	if ((rc = write_entry(x, e)) != 0 ||
	    (rc = evidence_leaf_hash(x->h, e->bytes, e->len, leaf)) != 0)
		return rc;
	return bundle_range_check_push(x->check, leaf);
}

/* A selection: each entry with its inclusion proof, checked first. */
static int on_selected_entry(void *ctx, const struct evidence_entry *e)
{
	struct exporter *x = ctx;
	unsigned char leaf[32], mine[32], (*path)[32] = NULL;
	size_t n = 0;
	int rc;

	if ((rc = evidence_prove_inclusion(x->st, e->seq, x->cp.size, leaf, &path, &n)) != 0)
		goto done;
	if ((rc = evidence_leaf_hash(x->h, e->bytes, e->len, mine)) != 0)
		goto done;
	if (memcmp(mine, leaf, 32) != 0 ||
	    evidence_verify_inclusion(x->h, (uint64_t)e->seq - 1, (uint64_t)x->cp.size, mine,
				      (const unsigned char(*)[32])path, n, x->cp.root) != 0) {
		rc = ak_error_code(AK_ETAMPERED,
				   "seq %lld does not prove against the checkpoint (run akashi verify)",
				   (long long)e->seq);
		goto done;
	}
	ak_buf_reset(&x->line);
	if ((rc = ak_buf_puts(&x->line, "{\"path\":")) != 0 ||
	    (rc = put_path(&x->line, (const unsigned char(*)[32])path, n)) != 0 ||
	    (rc = ak_buf_printf(&x->line, ",\"seq\":%lld}", (long long)e->seq)) != 0 ||
	    (rc = write_entry(x, e)) != 0 || (rc = proof_element(x)) != 0)
		goto done;
done:
	free(path);
	return rc;
}

/* The range proof line, from the audit paths of the first and last seq. */
static int range_proof(struct exporter *x)
{
	unsigned char la[32], lb[32], (*pa)[32] = NULL, (*pb)[32] = NULL;
	unsigned char hashes[BUNDLE_RANGE_MAX][32];
	uint64_t first = (uint64_t)x->crit.seq_lo - 1, end = (uint64_t)x->crit.seq_hi;
	size_t na = 0, nb = 0, n = 0;
	int rc;

	if (x->crit.seq_hi > x->cp.size) {
		rc = ak_error_code(AK_EINVALID, "--seq %s: the log has %lld entries",
				   x->o->sel.seq, (long long)x->cp.size);
		goto done;
	}
	if ((rc = evidence_prove_inclusion(x->st, x->crit.seq_lo, x->cp.size, la, &pa, &na)) != 0 ||
	    (rc = evidence_prove_inclusion(x->st, x->crit.seq_hi, x->cp.size, lb, &pb, &nb)) != 0 ||
	    (rc = bundle_range_from_paths((uint64_t)x->cp.size, first, end,
					  (const unsigned char(*)[32])pa, na,
					  (const unsigned char(*)[32])pb, nb, hashes, &n)) != 0)
		goto done;
	if ((x->check = malloc(sizeof(*x->check))) == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	if ((rc = bundle_range_check_init(x->check, x->h, (uint64_t)x->cp.size, first, end,
					  (const unsigned char(*)[32])hashes, n)) != 0)
		goto done;
	ak_buf_reset(&x->line);
	if ((rc = ak_buf_printf(&x->line, "\"range\":{\"first\":%lld,\"hashes\":",
				(long long)x->crit.seq_lo)) != 0 ||
	    (rc = put_path(&x->line, (const unsigned char(*)[32])hashes, n)) != 0 ||
	    (rc = ak_buf_printf(&x->line, ",\"last\":%lld},\n", (long long)x->crit.seq_hi)) != 0)
		goto done;
	rc = spool_write(&x->m[x->proofs], x->line.data, x->line.len);
done:
	free(pa);
	free(pb);
	return rc;
}

static int on_checkpoint(void *ctx, const struct evidence_checkpoint *cp)
{
	struct exporter *x = ctx;
	struct old_checkpoint *o;
	char name[64];
	int rc;

	if (cp->size >= x->cp.size || cp->size == 0)
		return 0;
	o = realloc(x->olds, (x->nolds + 1) * sizeof(*o));
	if (o == NULL)
		return ak_error_oom();
	x->olds = o;
	o[x->nolds].size = cp->size;
	memcpy(o[x->nolds].root, cp->root, 32);
	x->nolds++;
	snprintf(name, sizeof(name), "checkpoints/%lld", (long long)cp->size);
	if ((rc = member_mem(x, name, cp->note, strlen(cp->note))) != 0)
		return rc;
	return 0;
}

static int consistency_proofs(struct exporter *x)
{
	unsigned char(*path)[32] = NULL;
	size_t i, n;
	int rc = 0;

	for (i = 0; rc == 0 && i < x->nolds; i++) {
		if ((rc = evidence_prove_consistency(x->st, x->olds[i].size, x->cp.size, &path,
						     &n)) != 0)
			break;
		if (evidence_verify_consistency(x->h, (uint64_t)x->olds[i].size,
						(uint64_t)x->cp.size, x->olds[i].root, x->cp.root,
						(const unsigned char(*)[32])path, n) != 0)
			rc = ak_error_code(AK_ETAMPERED,
					   "checkpoint of size %lld is not consistent with the "
					   "current one (run akashi verify)",
					   (long long)x->olds[i].size);
		ak_buf_reset(&x->line);
		if (rc == 0 && (rc = ak_buf_printf(&x->line, "{\"old_size\":%lld,\"path\":",
						   (long long)x->olds[i].size)) == 0 &&
		    (rc = put_path(&x->line, (const unsigned char(*)[32])path, n)) == 0 &&
		    (rc = ak_buf_puts(&x->line, "}")) == 0)
			rc = proof_element(x);
		free(path);
		path = NULL;
	}
	return rc;
}

static int entries_and_proofs(struct exporter *x)
{
	struct member *p;
	unsigned char root[32];
	int rc;

	if ((rc = member_spool(x, "proofs.json", &x->proofs)) != 0 ||
	    (rc = member_spool(x, "entries.jsonl", &x->entries)) != 0)
		return rc;
	p = &x->m[x->proofs];
	if ((rc = ak_buf_printf(&x->line, "{\"tree_size\":%lld,\n", (long long)x->cp.size)) != 0 ||
	    (rc = spool_write(p, x->line.data, x->line.len)) != 0)
		return rc;
	if (x->range && (rc = range_proof(x)) != 0)
		return rc;
	if ((rc = spool_puts(&x->m[x->proofs], "\"entries\":[\n")) != 0)
		return rc;
	if (x->range) {
		struct evidence_filter f = {0};

		f.from_seq = x->crit.seq_lo;
		f.to_seq = x->crit.seq_hi;
		if ((rc = evidence_scan(x->st, &f, on_range_entry, x)) != 0)
			return rc;
		if ((rc = bundle_range_check_root(x->check, root)) != 0 ||
		    memcmp(root, x->cp.root, 32) != 0)
			return ak_error_code(AK_ETAMPERED,
					     "seqs %s do not lead to the checkpoint's root (run akashi "
					     "verify)",
					     x->o->sel.seq);
	} else if ((rc = bundle_select(x->st, &x->o->sel, x->cp.size, on_selected_entry, x)) !=
		   0) {
		return rc;
	}
	if ((rc = close_array(x, "],\n\"consistency\":[\n")) != 0 ||
	    (rc = consistency_proofs(x)) != 0 || (rc = close_array(x, "]}\n")) != 0)
		return rc;
	if ((rc = spool_done(&x->m[x->entries])) != 0 || (rc = spool_done(&x->m[x->proofs])) != 0)
		return rc;
	return 0;
}

/* ---- custody.json and the export entry ---- */

static int who(const struct exporter *x, json_t **out)
{
	struct passwd *pw;
	char host[256] = "";

	gethostname(host, sizeof(host) - 1);
	if (x->o->who)
		*out = json_pack("{s:s, s:s}", "token", x->o->who, "host", host);
	else if ((pw = getpwuid(geteuid())) != NULL)
		*out = json_pack("{s:s, s:I, s:s}", "user", pw->pw_name, "uid",
				 (json_int_t)geteuid(), "host", host);
	else
		*out = json_pack("{s:I, s:s}", "uid", (json_int_t)geteuid(), "host", host);
	if (*out == NULL)
		return ak_error_code(AK_EINVALID, "the exporter's name is not valid UTF-8");
	return 0;
}

/* Every selection option as given. */
static int selection(const struct exporter *x, json_t **out)
{
	const struct bundle_selection *s = &x->o->sel;
	const char *names[] = {"subject", "campaign", "account", "query",
			       "from",    "to",       "seq",     "kind"};
	const char *vals[] = {s->subject, s->campaign, s->account, s->query,
			      s->from,    s->to,       s->seq,     s->kind};
	json_t *o = json_object();
	size_t i;

	for (i = 0; o && i < sizeof(names) / sizeof(names[0]); i++) {
		if (vals[i] == NULL)
			continue;
		if (json_object_set_new(o, names[i], json_string(vals[i])) != 0) {
			json_decref(o);
			return ak_error_code(AK_EINVALID, "--%s is not valid UTF-8", names[i]);
		}
	}
	if (o == NULL)
		return ak_error_oom();
	*out = o;
	return 0;
}

static json_t *counts(const struct exporter *x)
{
	json_t *by = json_object();
	size_t i;

	for (i = 0; by && i < x->nkinds; i++)
		json_object_set_new(by, x->kinds[i].kind, json_integer(x->kinds[i].n));
	return json_pack("{s:I, s:o}", "entries", (json_int_t)x->count, "by_kind", by);
}

static json_t *b64_json(const unsigned char h[32])
{
	char s[AK_B64_LEN(32) + 1];

	ak_b64_encode(s, h, 32);
	return json_string(s);
}

static int custody(struct exporter *x)
{
	json_t *root = NULL, *sel = NULL, *by = NULL, *olds = NULL, *argv = NULL, *how;
	char when[AK_TIME_MAX], *text = NULL;
	size_t i;
	int rc;

	if ((rc = who(x, &by)) != 0 || (rc = selection(x, &sel)) != 0)
		goto done;
	olds = json_array();
	for (i = 0; olds && i < x->nolds; i++) {
		char file[64];

		snprintf(file, sizeof(file), "checkpoints/%lld", (long long)x->olds[i].size);
		json_array_append_new(olds, json_pack("{s:I, s:o, s:s}", "size",
						      (json_int_t)x->olds[i].size, "root",
						      b64_json(x->olds[i].root), "file", file));
	}
	if (x->o->argv) {
		argv = json_array();
		for (i = 0; argv && x->o->argv[i]; i++)
			if (json_array_append_new(argv, json_string(x->o->argv[i])) != 0) {
				rc = ak_error_code(AK_EINVALID, "the command line is not valid UTF-8");
				goto done;
			}
	} else {
		argv = json_null();
	}
	how = x->range ? json_pack("{s:I, s:I}", "first", (json_int_t)x->crit.seq_lo, "last",
				   (json_int_t)x->crit.seq_hi)
		       : json_null();
	ak_time_format(when, x->now_us, AK_TIME_AUTO);
	root = json_pack(
		"{s:s, s:s, s:o, s:s, s:s, s:{s:o, s:o, s:s, s:o}, s:o, "
		"s:{s:s, s:I, s:o, s:o, s:s}, s:o, s:{s:o}, s:s}",
		"format", BUNDLE_FORMAT, "tool", x->o->tool ? x->o->tool : "akashi", "exported_by",
		by, "exported_at", when, "reason", x->o->reason, "selection", "options", sel,
		"command", argv, "proof", x->range ? "range" : "inclusion", "range", how, "counts",
		counts(x), "checkpoint", "origin",
		evidence_origin(x->st), "size", (json_int_t)x->cp.size, "root", b64_json(x->cp.root),
		"chain", b64_json(x->cp.chain), "file", "checkpoint", "earlier_checkpoints", olds,
		"policies", "commit", x->commit[0] ? json_string(x->commit) : json_null(),
		"export_entry",
		"akashi appended a system entry (event \"export\", with this archive's SHA-256) to "
		"the log after writing this bundle: it is covered by the next checkpoint, not by "
		"this bundle's");
	by = sel = olds = argv = NULL; /* stolen by json_pack, even when it fails */
	if (root == NULL) {
		rc = ak_error_code(AK_EINVALID, "--reason is not valid UTF-8");
		goto done;
	}
	text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (text == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	if ((rc = member_mem(x, "custody.json", text, strlen(text))) == 0)
		rc = ak_buf_putc(&x->m[x->nm - 1].mem, '\n');
	if (rc == 0)
		x->m[x->nm - 1].size++;
done:
	free(text);
	json_decref(root);
	json_decref(by);
	json_decref(sel);
	json_decref(olds);
	json_decref(argv);
	return rc;
}

static int export_entry(struct exporter *x, const unsigned char sha[32], int64_t *seq)
{
	struct ak_buf body = AK_BUF_INIT(0);
	json_t *o = NULL, *by = NULL, *sel = NULL;
	char hex[65];
	int rc;

	ak_hex_encode(hex, sha, 32);
	if ((rc = who(x, &by)) != 0 || (rc = selection(x, &sel)) != 0)
		goto done;
	o = json_pack("{s:s, s:s, s:o, s:o, s:{s:s, s:s, s:s}, s:{s:I, s:o}, s:o}", "event",
		      "export", "reason", x->o->reason, "selection", sel, "counts", counts(x),
		      "bundle", "file", x->base, "format", x->zip ? "zip" : "tar.gz", "sha256", hex,
		      "checkpoint", "size", (json_int_t)x->cp.size, "root", b64_json(x->cp.root),
		      "who", by);
	by = sel = NULL;
	if (o == NULL) {
		rc = ak_error_code(AK_EINVALID, "export record is not valid UTF-8");
		goto done;
	}
	if ((rc = ak_jcs_write_jansson(&body, o)) != 0)
		goto done;
	rc = evidence_append_now(x->st, "system", "akashi", body.data, body.len, seq);
done:
	json_decref(o);
	json_decref(by);
	json_decref(sel);
	ak_buf_free(&body);
	return rc;
}

/* ---- the manifest and the archive ---- */

static int cmp_member(const void *a, const void *b)
{
	return strcmp(((const struct member *)a)->name, ((const struct member *)b)->name);
}

static int manifest(struct exporter *x)
{
	struct ak_buf b = AK_BUF_INIT(0);
	char hex[65];
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < x->nm; i++) {
		if (x->m[i].spool == NULL && (rc = hash_mem(&x->m[i])) != 0)
			break;
		ak_hex_encode(hex, x->m[i].sha, 32);
		rc = ak_buf_printf(&b, "%s  %s\n", hex, x->m[i].name);
	}
	if (rc == 0)
		rc = member_mem(x, "MANIFEST.sha256", b.data, b.len);
	ak_buf_free(&b);
	return rc;
}

struct sink {
	int fd;
	EVP_MD_CTX *md;
	int err;
};

static la_ssize_t sink_write(struct archive *a, void *ctx, const void *buf, size_t n)
{
	struct sink *s = ctx;
	const char *p = buf;
	size_t left = n;

	while (left > 0) {
		ssize_t w = write(s->fd, p, left);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			s->err = errno ? errno : EIO;
			archive_set_error(a, s->err, "%s", strerror(s->err));
			return -1;
		}
		p += w;
		left -= (size_t)w;
	}
	if (EVP_DigestUpdate(s->md, buf, n) != 1) {
		archive_set_error(a, ENOMEM, "SHA-256 failed");
		return -1;
	}
	return (la_ssize_t)n;
}

static int ar_error(struct archive *a, const char *what)
{
	return ak_error_set("%s: %s", what,
			    archive_error_string(a) ? archive_error_string(a) : "libarchive failed");
}

static int write_member(struct archive *a, struct exporter *x, struct member *m,
			struct archive_entry *e, char *buf, size_t cap)
{
	char path[NAME_MAX + BUNDLE_NAME_MAX + 2];

	snprintf(path, sizeof(path), "%s/%s", x->top, m->name);
	archive_entry_clear(e);
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)m->size);
	archive_entry_set_mtime(e, (time_t)(x->now_us / 1000000), 0);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		return ar_error(a, m->name);
	if (m->spool == NULL) {
		if (m->size > 0 && archive_write_data(a, m->mem.data, m->size) != (la_ssize_t)m->size)
			return ar_error(a, m->name);
	} else {
		uint64_t left = m->size;

		while (left > 0) {
			size_t n = fread(buf, 1, left < cap ? (size_t)left : cap, m->spool);

			if (n == 0)
				return ak_error_set("%s: reading the temporary file back failed",
						    m->name);
			if (archive_write_data(a, buf, n) != (la_ssize_t)n)
				return ar_error(a, m->name);
			left -= n;
		}
	}
	if (archive_write_finish_entry(a) != ARCHIVE_OK)
		return ar_error(a, m->name);
	return 0;
}

static int write_archive(struct exporter *x, int fd, unsigned char sha[32])
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	struct sink s = {fd, EVP_MD_CTX_new(), 0};
	size_t cap = 1 << 20, i;
	char *buf = malloc(cap);
	int rc = 0;

	if (a == NULL || e == NULL || buf == NULL || s.md == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	if (EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) != 1) {
		rc = sha_oom();
		goto done;
	}
	if (x->zip) {
		if (archive_write_set_format_zip(a) != ARCHIVE_OK) {
			rc = ar_error(a, "zip");
			goto done;
		}
	} else if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
		   archive_write_add_filter_gzip(a) != ARCHIVE_OK) {
		rc = ar_error(a, "tar.gz");
		goto done;
	}
	/* No zero padding after the compressed stream. */
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open2(a, &s, NULL, sink_write, NULL, NULL) != ARCHIVE_OK) {
		rc = ar_error(a, x->base);
		goto done;
	}
	for (i = 0; rc == 0 && i < x->nm; i++)
		rc = write_member(a, x, &x->m[i], e, buf, cap);
	if (rc == 0 && archive_write_close(a) != ARCHIVE_OK)
		rc = ar_error(a, x->base);
	if (rc == 0 && EVP_DigestFinal_ex(s.md, sha, NULL) != 1)
		rc = sha_oom();
	if (rc == 0 && fsync(fd) != 0)
		rc = ak_error_set("%s: fsync: %s", x->base, strerror(errno));
done:
	if (a)
		archive_write_free(a);
	archive_entry_free(e);
	EVP_MD_CTX_free(s.md);
	free(buf);
	return rc;
}

/* ---- putting it together ---- */

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && strcmp(s + n - k, suffix) == 0;
}

/* Output directory, file name, archive type and the top directory. */
static int output_names(struct exporter *x, const char *out)
{
	const char *slash = strrchr(out, '/');
	size_t n, i;

	if (ends_with(out, ".zip"))
		x->zip = 1;
	else if (!ends_with(out, ".tar.gz"))
		return ak_error_code(AK_EINVALID, "-o %s: the name must end in .zip or .tar.gz",
				     out);
	if (slash == NULL)
		snprintf(x->dir, sizeof(x->dir), ".");
	else if (slash == out)
		snprintf(x->dir, sizeof(x->dir), "/");
	else if ((size_t)(slash - out) >= sizeof(x->dir))
		return ak_error_code(AK_EINVALID, "-o: path too long");
	else
		snprintf(x->dir, sizeof(x->dir), "%.*s", (int)(slash - out), out);
	if (strlen(slash ? slash + 1 : out) >= sizeof(x->base) - 32)
		return ak_error_code(AK_EINVALID, "-o: file name too long");
	snprintf(x->base, sizeof(x->base), "%s", slash ? slash + 1 : out);
	/* The top directory is the name without its extension, made safe. */
	n = strlen(x->base) - (x->zip ? 4 : 7);
	for (i = 0; i < n && i < 100; i++) {
		char c = x->base[i];

		x->top[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
					    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
					    (c == '.' && i > 0)
				    ? c
				    : '_';
	}
	x->top[i] = '\0';
	if (i == 0)
		snprintf(x->top, sizeof(x->top), "bundle");
	return 0;
}

static void exporter_free(struct exporter *x)
{
	members_free(x);
	evidence_checkpoint_clear(&x->cp);
	evidence_hasher_free(x->h);
	free(x->kinds);
	free(x->check);
	free(x->olds);
	ak_buf_free(&x->line);
}

static int no_policies(struct exporter *x)
{
	static const char text[] =
		"No policy repository was configured when this bundle was exported,\n"
		"so no policy files or policy commit are included.\n";

	return member_mem(x, "policies/README", text, sizeof(text) - 1);
}

int bundle_export(struct evidence_store *st, const struct bundle_opts *opts,
		  struct bundle_export_result *out)
{
	struct exporter x;
	struct bundle_policies pol;
	struct ak_buf pem = AK_BUF_INIT(0);
	char tmp[PATH_MAX] = "";
	const char *text;
	size_t len;
	int fd = -1, rc, created;
	int64_t seq = 0;
	unsigned char sha[32];

	memset(&x, 0, sizeof(x));
	memset(out, 0, sizeof(*out));
	x.st = st;
	x.o = opts;
	ak_buf_init(&x.line, 1 << 20);
	if (opts->reason == NULL || opts->reason[0] == '\0') {
		rc = ak_error_code(AK_EINVALID, "--reason is required: say why this is exported");
		goto done;
	}
	if (opts->output == NULL) {
		rc = ak_error_code(AK_EINVALID, "-o FILE.zip|FILE.tar.gz is required");
		goto done;
	}
	if ((rc = bundle_criteria_parse(&x.crit, &opts->sel)) != 0 ||
	    (rc = output_names(&x, opts->output)) != 0)
		goto done;
	if (access(opts->output, F_OK) == 0) {
		rc = ak_error_code(AK_EEXISTS, "%s exists; refusing to overwrite it", opts->output);
		goto done;
	}
	x.range = bundle_selection_is_range(&opts->sel);
	x.now_us = ak_time_now();
	if ((rc = evidence_hasher_new(&x.h)) != 0 ||
	    (rc = evidence_checkpoint(st, &x.cp, &created)) != 0)
		goto done;
	if (x.cp.size == 0) {
		rc = ak_error_code(AK_EINVALID, "the log is empty: nothing to export");
		goto done;
	}
	/* The files in the order an archive lister shows them. */
	text = bundle_text_verify_md(&len);
	if ((rc = member_mem(&x, "VERIFY.md", text, len)) != 0)
		goto done;
	text = bundle_text_verify_py(&len);
	if ((rc = member_mem(&x, "verify.py", text, len)) != 0 ||
	    (rc = member_mem(&x, "checkpoint", x.cp.note, strlen(x.cp.note))) != 0 ||
	    (rc = evidence_public_key(st, &pem, NULL)) != 0 ||
	    (rc = member_mem(&x, "pubkey.pem", pem.data, pem.len)) != 0 ||
	    (rc = evidence_checkpoint_list(st, on_checkpoint, &x)) != 0)
		goto done;
	pol.x = &x;
	pol.total = 0;
	if (opts->policies) {
		if ((rc = opts->policies(opts->policies_ctx, &pol)) != 0) {
			ak_error_prefix("policies");
			goto done;
		}
		if (x.commit[0] &&
		    (rc = member_mem(&x, "policies/COMMIT", x.commit, strlen(x.commit))) != 0)
			goto done;
	} else if ((rc = no_policies(&x)) != 0) {
		goto done;
	}
	if ((rc = entries_and_proofs(&x)) != 0 || (rc = custody(&x)) != 0)
		goto done;
	/* Manifest lines in name order, then the archive in that order too. */
	qsort(x.m, x.nm, sizeof(*x.m), cmp_member);
	for (len = 0; len < x.nm; len++) {
		if (strcmp(x.m[len].name, "entries.jsonl") == 0)
			x.entries = len;
		if (strcmp(x.m[len].name, "proofs.json") == 0)
			x.proofs = len;
	}
	if ((rc = manifest(&x)) != 0 || (rc = hash_mem(&x.m[x.nm - 1])) != 0)
		goto done;
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp-XXXXXX", x.dir, x.base);
	if ((fd = mkstemp(tmp)) < 0) {
		rc = ak_error_set("cannot create a temporary file in %s: %s", x.dir,
				  strerror(errno));
		tmp[0] = '\0';
		goto done;
	}
	if ((rc = write_archive(&x, fd, sha)) != 0)
		goto done;
	if (close(fd) != 0) {
		fd = -1;
		rc = ak_error_set("%s: %s", tmp, strerror(errno));
		goto done;
	}
	fd = -1;
	/* The log records the export before anyone can have the file. */
	if ((rc = export_entry(&x, sha, &seq)) != 0) {
		ak_error_prefix("recording the export in the log");
		goto done;
	}
	/* Never replace a file: renameat2 without replacement where the file
	 * system has it, else a hard link. */
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, opts->output, RENAME_NOREPLACE) != 0) {
		if (link(tmp, opts->output) != 0) {
			rc = ak_error_set("the export is recorded as seq %lld, but %s cannot be "
					  "created: %s",
					  (long long)seq, opts->output, strerror(errno));
			goto done;
		}
		unlink(tmp);
	}
	tmp[0] = '\0';
	if ((fd = open(x.dir, O_RDONLY | O_DIRECTORY)) >= 0) {
		fsync(fd);
		close(fd);
		fd = -1;
	}
	out->entries = x.count;
	out->tree_size = x.cp.size;
	out->checkpoints = (int64_t)x.nolds;
	out->export_seq = seq;
	out->range = x.range;
	memcpy(out->root, x.cp.root, 32);
	memcpy(out->sha256, sha, 32);
done:
	if (fd >= 0)
		close(fd);
	if (tmp[0])
		unlink(tmp);
	ak_buf_free(&pem);
	exporter_free(&x);
	return rc;
}
