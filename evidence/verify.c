/*
 * evidence/verify.c - recompute the whole log and compare it with
 * everything the store has recorded about it.
 *
 * One pass over the entries in seq order recomputes every leaf hash from
 * the stored bytes, the chain, and the Merkle frontier; every stored tree
 * node, the head, and every checkpoint (root, chain, signature, and its
 * entry) are compared against the recomputation as the pass reaches them.
 * The first disagreement ends the pass with AK_ETAMPERED and a message that
 * names the seq and what is wrong, so an edit made behind akashi's back with
 * the sqlite3 shell is located, not just noticed.
 */
#include "evidence/evidence_int.h"

#include "lib/b64.h"
#include "lib/error.h"
#include "lib/jcs.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vkey {
	unsigned char id[4];
	unsigned char pub[32];
};

struct vstate {
	struct evidence_store *st;
	struct evidence_checkpoint *cps;
	size_t ncps, cpi;
	struct vkey *keys;
	size_t nkeys;
	/* stored tree nodes by level: nodes[l][i], have[l][i] */
	unsigned char (*nodes[64])[EVIDENCE_HASH_LEN];
	unsigned char *have[64];
	int64_t nnodes[64];
	struct ak_jdoc *doc;
};

static void vstate_free(struct vstate *v)
{
	size_t i;

	for (i = 0; i < v->ncps; i++)
		evidence_checkpoint_clear(&v->cps[i]);
	free(v->cps);
	free(v->keys);
	for (i = 0; i < 64; i++) {
		free(v->nodes[i]);
		free(v->have[i]);
	}
	ak_jdoc_free(v->doc);
}

static int collect_cp(void *ctx, const struct evidence_checkpoint *cp)
{
	struct vstate *v = ctx;
	struct evidence_checkpoint *n = realloc(v->cps, (v->ncps + 1) * sizeof(*n));

	if (n == NULL)
		return ak_error_oom();
	v->cps = n;
	v->cps[v->ncps] = *cp;
	v->cps[v->ncps].note = strdup(cp->note);
	if (v->cps[v->ncps].note == NULL)
		return ak_error_oom();
	v->ncps++;
	/* A checkpoint is appended as an entry in the transaction that signs
	 * it, right after the entries it covers. */
	if (cp->entry_seq != cp->size + 1)
		return ak_error_code(
		        AK_ETAMPERED,
		        "checkpoint of size %lld: its row names seq %lld as its entry, "
		        "not %lld",
		        (long long)cp->size, (long long)cp->entry_seq, (long long)cp->size + 1);
	return 0;
}

static int load_keys(struct vstate *v)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(v->st->db, "SELECT key_hash, pubkey FROM keys", -1, &s, NULL) !=
	    SQLITE_OK)
		return evidence_sqlerr(v->st, "reading keys");
	while (sqlite3_step(s) == SQLITE_ROW) {
		struct vkey *n;

		if (sqlite3_column_bytes(s, 0) != 4 || sqlite3_column_bytes(s, 1) != 32) {
			rc = ak_error_code(AK_ETAMPERED, "a stored public key is damaged");
			break;
		}
		n = realloc(v->keys, (v->nkeys + 1) * sizeof(*n));
		if (n == NULL) {
			rc = ak_error_oom();
			break;
		}
		v->keys = n;
		memcpy(v->keys[v->nkeys].id, sqlite3_column_blob(s, 0), 4);
		memcpy(v->keys[v->nkeys].pub, sqlite3_column_blob(s, 1), 32);
		v->nkeys++;
	}
	sqlite3_finalize(s);
	/* A store has the one key `akashi init` made (there is no rotation):
	 * a key added to the table would let checkpoints signed elsewhere
	 * verify. */
	if (rc == 0 && v->nkeys != 1)
		rc = ak_error_code(
		        AK_ETAMPERED,
		        "the database records %zu signing keys, where a store has the one "
		        "its init made (added or removed behind akashi's back?)",
		        v->nkeys);
	/* The key file, when we hold it, must be among the registered keys:
	 * a public key swapped in the database would otherwise make forged
	 * checkpoints verify. */
	if (rc == 0 && v->st->have_pub) {
		size_t i;

		for (i = 0; i < v->nkeys; i++)
			if (memcmp(v->keys[i].pub, v->st->pub, 32) == 0)
				break;
		if (i == v->nkeys)
			rc = ak_error_code(AK_ETAMPERED, "the store's key file is not among the "
							 "public keys recorded in the database");
	}
	return rc;
}

static int load_nodes(struct vstate *v, int64_t size)
{
	sqlite3_stmt *s = NULL;
	int l, rc = 0;

	for (l = EVIDENCE_TILE_LEVEL; l < 63; l++) {
		int64_t n = size >> l;

		v->nnodes[l] = n;
		if (n == 0)
			break;
		v->nodes[l] = malloc((size_t)n * EVIDENCE_HASH_LEN);
		v->have[l] = calloc((size_t)n, 1);
		if (v->nodes[l] == NULL || v->have[l] == NULL)
			return ak_error_oom();
	}
	if (sqlite3_prepare_v2(v->st->db, "SELECT level, idx, hash FROM tree", -1, &s, NULL) !=
	    SQLITE_OK)
		return evidence_sqlerr(v->st, "reading tree nodes");
	while (sqlite3_step(s) == SQLITE_ROW) {
		int level = sqlite3_column_int(s, 0);
		int64_t idx = sqlite3_column_int64(s, 1);

		if (level < EVIDENCE_TILE_LEVEL || level > 62 || idx < 0 ||
		    idx >= v->nnodes[level] || sqlite3_column_bytes(s, 2) != EVIDENCE_HASH_LEN) {
			rc = ak_error_code(AK_ETAMPERED,
					   "tree node level %d index %lld does not belong to a log "
					   "of %lld entries (inserted?)",
					   level, (long long)idx, (long long)size);
			break;
		}
		memcpy(v->nodes[level][idx], sqlite3_column_blob(s, 2), EVIDENCE_HASH_LEN);
		v->have[level][idx] = 1;
	}
	sqlite3_finalize(s);
	return rc;
}

static const unsigned char *key_for(struct vstate *v, const unsigned char id[4])
{
	size_t i;

	for (i = 0; i < v->nkeys; i++)
		if (memcmp(v->keys[i].id, id, 4) == 0)
			return v->keys[i].pub;
	return NULL;
}

/* The checkpoint cp against the recomputed root and chain at its size. */
static int check_checkpoint(struct vstate *v, const struct evidence_checkpoint *cp,
			    const unsigned char root[32], const unsigned char chain[32])
{
	struct evidence_note note;
	const unsigned char *pub;
	int rc;

	if (memcmp(cp->root, root, 32) != 0)
		return ak_error_code(AK_ETAMPERED,
				     "checkpoint of size %lld: the entries up to seq %lld no "
				     "longer hash to its Merkle root",
				     (long long)cp->size, (long long)cp->size);
	if (memcmp(cp->chain, chain, 32) != 0)
		return ak_error_code(AK_ETAMPERED,
				     "checkpoint of size %lld: the chain hash at seq %lld differs",
				     (long long)cp->size, (long long)cp->size);
	if ((rc = evidence_note_parse(cp->note, strlen(cp->note), &note)) != 0) {
		ak_error_prefix("checkpoint of size %lld", (long long)cp->size);
		return AK_ETAMPERED;
	}
	pub = key_for(v, note.key_id);
	if (pub == NULL)
		return ak_error_code(AK_ETAMPERED,
				     "checkpoint of size %lld: signed by a key the store does "
				     "not know",
				     (long long)cp->size);
	if ((rc = evidence_note_verify(cp->note, strlen(cp->note), pub, &note)) != 0) {
		ak_error_prefix("checkpoint of size %lld", (long long)cp->size);
		return AK_ETAMPERED;
	}
	if ((int64_t)note.size != cp->size || memcmp(note.root, root, 32) != 0 ||
	    memcmp(note.chain, chain, 32) != 0 || strcmp(note.origin, v->st->origin) != 0)
		return ak_error_code(AK_ETAMPERED,
				     "checkpoint of size %lld: the signed note says something "
				     "else than the checkpoint row",
				     (long long)cp->size);
	return 0;
}

/* The "checkpoint" entry at seq must carry that checkpoint's note. */
static int check_cp_entry(struct vstate *v, const struct evidence_checkpoint *cp,
			  const char *bytes, size_t len)
{
	const struct ak_jv *root, *note, *size;
	const char *body;
	size_t blen;

	if (evidence_entry_body(bytes, len, &body, &blen) != 0 ||
	    ak_json_parse(v->doc, body, blen, &root) != 0 ||
	    (note = ak_jv_get(root, "note")) == NULL || note->type != AK_JSTRING ||
	    (size = ak_jv_get(root, "size")) == NULL || size->type != AK_JINT ||
	    size->u.i != cp->size || note->u.s.len != strlen(cp->note) ||
	    memcmp(note->u.s.ptr, cp->note, note->u.s.len) != 0)
		return ak_error_code(AK_ETAMPERED,
				     "seq %lld: not the entry of the checkpoint of size %lld",
				     (long long)cp->entry_seq, (long long)cp->size);
	return 0;
}

/* The largest seq stored (for sizing when the head cannot be trusted). */
static int64_t max_seq(struct evidence_store *st)
{
	sqlite3_stmt *s = NULL;
	int64_t n = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT max(seq) FROM entries", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n > 0 ? n : 0;
}

/*
 * The pass runs as two stages on two threads: a reader reads the rows and
 * checks what each entry shows on its own (its seq in place and in its
 * bytes, its leaf hash, a checkpoint's entry), handing seqs and leaf hashes
 * on in batches; the caller's thread follows the chain and the tree edge
 * and checks stored nodes and checkpoints. The first problem in seq order
 * is the one reported, whichever stage saw it.
 */
#define VBATCH 4096

struct vbatch {
	int64_t seq[VBATCH];
	unsigned char leaf[VBATCH][EVIDENCE_HASH_LEN];
	size_t n;
};

struct vreader {
	struct vstate *v;
	sqlite3_stmt *s;
	int64_t head_size;
	struct evidence_hasher *h;
	struct ak_jdoc *doc;
	struct vbatch b[3];
	int fill, take, count;  /* ring of batches: next to fill, next to take, how many full */
	int done, stop;
	int rc;                 /* the reader's problem, if any */
	int64_t bad;
	size_t ncp; /* checkpoint rows whose entries were read */
	char msg[1024];
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* Tampering found at seq bad: the reader's problem, said as fmt. */
static void reader_tampered(struct vreader *r, int64_t bad, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void reader_tampered(struct vreader *r, int64_t bad, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	r->rc = AK_ETAMPERED;
	r->bad = bad;
}

static int reader_fail(struct vreader *r, int rc, int64_t bad)
{
	r->rc = rc;
	r->bad = bad;
	snprintf(r->msg, sizeof(r->msg), "%s", ak_error_last());
	return rc;
}

/* Hand the batch being filled to the checker; wait for room. 0, or 1 if
 * the checker asked to stop. */
static int reader_put(struct vreader *r)
{
	int stop;

	pthread_mutex_lock(&r->mu);
	r->count++;
	r->fill = (r->fill + 1) % 3;
	pthread_cond_broadcast(&r->cv);
	while (r->count == 3 && !r->stop)
		pthread_cond_wait(&r->cv, &r->mu);
	r->b[r->fill].n = 0;
	stop = r->stop;
	pthread_mutex_unlock(&r->mu);
	return stop;
}

static void *reader_main(void *arg)
{
	struct vreader *r = arg;
	struct vstate *v = r->v;
	size_t ncp = 0;
	int64_t expect = 1;
	char received[28] = "";
	int step;

	while ((step = sqlite3_step(r->s)) == SQLITE_ROW) {
		struct vbatch *b = &r->b[r->fill];
		const char *bytes = sqlite3_column_blob(r->s, 2);
		size_t len = (size_t)sqlite3_column_bytes(r->s, 2);
		int64_t seq = sqlite3_column_int64(r->s, 0), stored = -1;
		const char *kind = (const char *)sqlite3_column_text(r->s, 3), *rcv = NULL;

		if (seq != expect) {
			if (seq < expect)
				reader_tampered(r, seq, "seq %lld: out of order", (long long)seq);
			else
				reader_tampered(
				        r, expect,
				        "seq %lld: missing (the next entry stored is seq %lld; "
				        "deleted?)",
				        (long long)expect, (long long)seq);
			break;
		}
		if (seq > r->head_size) {
			reader_tampered(
			        r, seq,
			        "seq %lld: beyond the %lld entries the head records (inserted "
			        "behind akashi's back?)",
			        (long long)seq, (long long)r->head_size);
			break;
		}
		if (bytes == NULL || (stored = evidence_entry_seq(bytes, len, &rcv)) != seq) {
			reader_tampered(
			        r, seq,
			        "seq %lld: the stored entry carries seq %lld (rows moved or "
			        "renumbered?)",
			        (long long)seq, (long long)(bytes ? stored : -1));
			break;
		}
		if (evidence_leaf_hash(r->h, bytes, len, b->leaf[b->n]) != 0) {
			reader_fail(r, AK_ERROR, 0);
			break;
		}
		if (sqlite3_column_bytes(r->s, 1) != 32 ||
		    memcmp(b->leaf[b->n], sqlite3_column_blob(r->s, 1), 32) != 0) {
			reader_tampered(
			        r, seq,
			        "seq %lld: the entry's bytes do not match its stored leaf hash "
			        "(edited?)",
			        (long long)seq);
			break;
		}
		/* received never goes back along seq (EVIDENCE-FORMAT.md). */
		if (rcv == NULL || memcmp(rcv, received, 27) < 0) {
			reader_tampered(r, seq,
			                rcv ? "seq %lld: received %.27s is earlier than the entry "
			                      "before it (%.27s)"
			                    : "seq %lld: no received time in its place",
			                (long long)seq, rcv ? rcv : "", received);
			break;
		}
		memcpy(received, rcv, 27);
		/* Every checkpoint entry has its row and the reverse: the signed
		 * history stays whole (a row deleted would leave the entries it
		 * covered unchecked against its signature). */
		if (kind && strcmp(kind, "checkpoint") == 0 &&
		    !(ncp < v->ncps && v->cps[ncp].entry_seq == seq)) {
			reader_tampered(r, seq,
			                "seq %lld: a checkpoint entry whose checkpoint row is gone "
			                "(deleted?)",
			                (long long)seq);
			break;
		}
		if (ncp < v->ncps && v->cps[ncp].entry_seq == seq) {
			struct ak_jdoc *keep = v->doc;
			int rc;

			v->doc = r->doc;
			rc = check_cp_entry(v, &v->cps[ncp], bytes, len);
			v->doc = keep;
			if (rc != 0) {
				reader_fail(r, rc, seq);
				break;
			}
			ncp++;
		}
		b->seq[b->n++] = seq;
		expect = seq + 1;
		if (b->n == VBATCH && reader_put(r))
			break;
	}
	r->ncp = ncp;
	if (step != SQLITE_ROW && step != SQLITE_DONE && r->rc == 0) {
		evidence_sqlerr(v->st, "reading the log");
		reader_fail(r, sqlite3_errcode(sqlite3_db_handle(r->s)) == SQLITE_CORRUPT ? AK_ETAMPERED
										  : AK_ERROR,
			    0);
	}
	pthread_mutex_lock(&r->mu);
	if (r->b[r->fill].n) {
		r->count++;
		r->fill = (r->fill + 1) % 3;
	}
	r->done = 1;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* The next full batch, or NULL at the end. */
static struct vbatch *checker_take(struct vreader *r)
{
	struct vbatch *b = NULL;

	pthread_mutex_lock(&r->mu);
	while (r->count == 0 && !r->done)
		pthread_cond_wait(&r->cv, &r->mu);
	if (r->count)
		b = &r->b[r->take];
	pthread_mutex_unlock(&r->mu);
	return b;
}

static void checker_release(struct vreader *r)
{
	pthread_mutex_lock(&r->mu);
	r->take = (r->take + 1) % 3;
	r->count--;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

int evidence_verify(struct evidence_store *st, struct evidence_verify_result *out,
		    void (*progress)(void *ctx, int64_t seq, int64_t size), void *ctx)
{
	struct vstate v;
	struct vreader r;
	struct evidence_head head;
	struct evidence_frontier f = {0};
	struct evidence_node done[64];
	struct evidence_verify_result res = {0};
	unsigned char chain[32] = {0}, root[32];
	pthread_t thr;
	int started = 0;
	int64_t bad = 0, last = 0;
	char head_problem[1024] = "";
	int rc = 0, k, ndone;
	size_t i;

	memset(&v, 0, sizeof(v));
	memset(&r, 0, sizeof(r));
	v.st = st;
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	/* A read transaction: one consistent snapshot even while others append. */
	if (sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return evidence_sqlerr(st, "reading the log");
	if (evidence_head_get(st, &head) != 0) {
		/* A damaged head is reported after the entries and checkpoints
		 * have had their say: they locate the problem better. */
		snprintf(head_problem, sizeof(head_problem), "the head row is damaged: %s",
			 ak_error_last());
		memset(&head, 0, sizeof(head));
		head.size = INT64_MAX;
	} else if (head.size > 2 * max_seq(st) + 1024) {
		/* Far more than stored: not a truncated tail but a damaged head,
		 * and no size to make room for its tree by. */
		snprintf(head_problem, sizeof(head_problem),
		         "the head records %lld entries, where %lld are stored",
		         (long long)head.size, (long long)max_seq(st));
		head.size = INT64_MAX;
	}
	if ((rc = ak_jdoc_new(&v.doc, 0)) != 0 || (rc = ak_jdoc_new(&r.doc, 0)) != 0 ||
	    (rc = evidence_hasher_new(&r.h)) != 0 ||
	    (rc = evidence_checkpoint_list(st, collect_cp, &v)) != 0 || (rc = load_keys(&v)) != 0 ||
	    (rc = load_nodes(&v, head_problem[0] ? max_seq(st) : head.size)) != 0)
		goto done;
	if (sqlite3_prepare_v2(st->db, "SELECT seq, leaf, bytes, kind FROM entries ORDER BY seq",
	                       -1, &r.s, NULL) != SQLITE_OK) {
		rc = evidence_sqlerr(st, "reading the log");
		goto done;
	}
	/* A checkpoint of the empty log (made before the first append). */
	while (v.cpi < v.ncps && v.cps[v.cpi].size == 0) {
		if ((rc = evidence_frontier_root(st->h, &f, root)) != 0 ||
		    (rc = check_checkpoint(&v, &v.cps[v.cpi], root, chain)) != 0)
			goto done;
		res.checkpoints++;
		v.cpi++;
	}
	r.v = &v;
	r.head_size = head.size;
	if (pthread_create(&thr, NULL, reader_main, &r) != 0) {
		rc = ak_error_set("cannot start the reader thread");
		goto done;
	}
	started = 1;
	for (;;) {
		struct vbatch *b = checker_take(&r);

		if (b == NULL)
			break;
		for (i = 0; i < b->n && rc == 0; i++) {
			int64_t seq = b->seq[i];

			if ((rc = evidence_chain_hash(st->h, chain, b->leaf[i], chain)) != 0 ||
			    (rc = evidence_frontier_push(st->h, &f, b->leaf[i], done, &ndone)) != 0)
				break;
			for (k = 0; k < ndone; k++) {
				int l = done[k].level;
				int64_t ix = done[k].index;

				if (!v.have[l][ix] || memcmp(v.nodes[l][ix], done[k].hash, 32) != 0) {
					int64_t first = ix << l;

					bad = first + 1;
					rc = ak_error_code(
						AK_ETAMPERED,
						"seq %lld-%lld: %s (edited entries with recomputed "
						"leaf hashes?)",
						(long long)first + 1, (long long)(first + (1 << l)),
						v.have[l][ix] ? "the entries no longer hash to the stored "
								"tree node"
							      : "the stored tree node is missing");
					break;
				}
			}
			while (rc == 0 && v.cpi < v.ncps && v.cps[v.cpi].size == seq) {
				if ((rc = evidence_frontier_root(st->h, &f, root)) != 0)
					break;
				if ((rc = check_checkpoint(&v, &v.cps[v.cpi], root, chain)) != 0) {
					bad = seq;
					break;
				}
				res.checkpoints++;
				v.cpi++;
			}
			res.entries++;
			last = seq;
			if (progress && (seq & 0xffff) == 0)
				progress(ctx, seq, head.size);
		}
		checker_release(&r);
		if (rc != 0)
			break;
	}
	if (rc != 0) {
		pthread_mutex_lock(&r.mu);
		r.stop = 1;
		pthread_cond_broadcast(&r.cv);
		pthread_mutex_unlock(&r.mu);
	}
	pthread_join(thr, NULL);
	started = 0;
	if (rc != 0)
		goto done; /* the checker's problem comes first in seq order */
	if (r.rc != 0) {
		rc = ak_error_code(r.rc, "%s", r.msg);
		bad = r.bad;
		goto done;
	}
	(void)last;
	if (!head_problem[0] && res.entries != head.size) {
		bad = res.entries + 1;
		rc = ak_error_code(AK_ETAMPERED,
				   "seq %lld: missing; the log ends at seq %lld but the head "
				   "records %lld entries (truncated?)",
				   (long long)bad, (long long)res.entries, (long long)head.size);
		goto done;
	}
	if (v.cpi == v.ncps && r.ncp < v.ncps) {
		bad = v.cps[r.ncp].entry_seq;
		rc = ak_error_code(
		        AK_ETAMPERED,
		        "checkpoint of size %lld: its entry, seq %lld, is not a checkpoint "
		        "entry of the log",
		        (long long)v.cps[r.ncp].size, (long long)v.cps[r.ncp].entry_seq);
		goto done;
	}
	if (v.cpi < v.ncps) {
		bad = res.entries + 1;
		rc = ak_error_code(AK_ETAMPERED,
				   "checkpoint of size %lld covers entries the log no longer has "
				   "(it ends at seq %lld)",
				   (long long)v.cps[v.cpi].size, (long long)res.entries);
		goto done;
	}
	if (head_problem[0]) {
		rc = ak_error_code(AK_ETAMPERED, "%s", head_problem);
		goto done;
	}
	if (memcmp(chain, head.chain, 32) != 0 || f.n != head.frontier.n ||
	    memcmp(f.hash, head.frontier.hash, (size_t)f.n * 32) != 0) {
		rc = ak_error_code(AK_ETAMPERED,
				   "the head's chain or tree edge does not match the entries");
		goto done;
	}
	if ((rc = evidence_frontier_root(st->h, &f, res.root)) != 0)
		goto done;
	memcpy(res.chain, chain, 32);
	if (progress)
		progress(ctx, head.size, head.size);
done:
	if (started) {
		pthread_mutex_lock(&r.mu);
		r.stop = 1;
		pthread_cond_broadcast(&r.cv);
		pthread_mutex_unlock(&r.mu);
		pthread_join(thr, NULL);
	}
	sqlite3_finalize(r.s);
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	evidence_hasher_free(r.h);
	ak_jdoc_free(r.doc);
	pthread_mutex_destroy(&r.mu);
	pthread_cond_destroy(&r.cv);
	vstate_free(&v);
	res.first_bad_seq = bad;
	if (out)
		*out = res;
	return rc;
}
