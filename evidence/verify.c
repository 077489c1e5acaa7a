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

int evidence_verify(struct evidence_store *st, struct evidence_verify_result *out,
		    void (*progress)(void *ctx, int64_t seq, int64_t size), void *ctx)
{
	struct vstate v;
	struct evidence_head head;
	struct evidence_frontier f = {0};
	struct evidence_node done[64];
	struct evidence_verify_result res = {0};
	unsigned char chain[32] = {0}, leaf[32], root[32];
	sqlite3_stmt *s = NULL;
	int64_t expect = 1, seq, bad = 0;
	size_t ncp_entries = 0;
	char head_problem[1024] = "";
	int rc = 0, step, k, ndone;

	memset(&v, 0, sizeof(v));
	v.st = st;
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
	}
	if ((rc = ak_jdoc_new(&v.doc, 0)) != 0 ||
	    (rc = evidence_checkpoint_list(st, collect_cp, &v)) != 0 || (rc = load_keys(&v)) != 0 ||
	    (rc = load_nodes(&v, head_problem[0] ? max_seq(st) : head.size)) != 0)
		goto done;
	if (sqlite3_prepare_v2(st->db, "SELECT seq, leaf, bytes FROM entries ORDER BY seq", -1, &s,
			       NULL) != SQLITE_OK) {
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
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *bytes = sqlite3_column_blob(s, 2);
		size_t len = (size_t)sqlite3_column_bytes(s, 2);

		seq = sqlite3_column_int64(s, 0);
		if (seq != expect) {
			bad = seq < expect ? seq : expect;
			rc = seq < expect ? ak_error_code(AK_ETAMPERED, "seq %lld: out of order",
							  (long long)seq)
					  : ak_error_code(AK_ETAMPERED,
							  "seq %lld: missing (the next entry "
							  "stored is seq %lld; deleted?)",
							  (long long)expect, (long long)seq);
			goto done;
		}
		if (seq > head.size) {
			bad = seq;
			rc = ak_error_code(AK_ETAMPERED,
					   "seq %lld: beyond the %lld entries the head records "
					   "(inserted behind akashi's back?)",
					   (long long)seq, (long long)head.size);
			goto done;
		}
		if (bytes == NULL || evidence_entry_seq(bytes, len) != seq) {
			bad = seq;
			rc = ak_error_code(AK_ETAMPERED,
					   "seq %lld: the stored entry carries seq %lld (rows moved "
					   "or renumbered?)",
					   (long long)seq,
					   (long long)(bytes ? evidence_entry_seq(bytes, len) : -1));
			goto done;
		}
		if ((rc = evidence_leaf_hash(st->h, bytes, len, leaf)) != 0)
			goto done;
		if (sqlite3_column_bytes(s, 1) != 32 ||
		    memcmp(leaf, sqlite3_column_blob(s, 1), 32) != 0) {
			bad = seq;
			rc = ak_error_code(AK_ETAMPERED,
					   "seq %lld: the entry's bytes do not match its stored "
					   "leaf hash (edited?)",
					   (long long)seq);
			goto done;
		}
		if ((rc = evidence_chain_hash(st->h, chain, leaf, chain)) != 0 ||
		    (rc = evidence_frontier_push(st->h, &f, leaf, done, &ndone)) != 0)
			goto done;
		for (k = 0; k < ndone; k++) {
			int l = done[k].level;
			int64_t i = done[k].index;

			if (!v.have[l][i] || memcmp(v.nodes[l][i], done[k].hash, 32) != 0) {
				int64_t first = i << l;

				bad = first + 1;
				rc = ak_error_code(AK_ETAMPERED,
						   "seq %lld-%lld: %s (edited entries with "
						   "recomputed leaf hashes?)",
						   (long long)first + 1, (long long)(first + (1 << l)),
						   v.have[l][i] ? "the entries no longer hash to the "
								  "stored tree node"
								: "the stored tree node is missing");
				goto done;
			}
		}
		while (v.cpi < v.ncps && v.cps[v.cpi].size == seq) {
			if ((rc = evidence_frontier_root(st->h, &f, root)) != 0)
				goto done;
			if ((rc = check_checkpoint(&v, &v.cps[v.cpi], root, chain)) != 0) {
				bad = seq;
				goto done;
			}
			res.checkpoints++;
			v.cpi++;
		}
		/* Checkpoint entries follow their checkpoint directly. */
		if (ncp_entries < v.ncps && v.cps[ncp_entries].entry_seq == seq) {
			if ((rc = check_cp_entry(&v, &v.cps[ncp_entries], bytes, len)) != 0) {
				bad = seq;
				goto done;
			}
			ncp_entries++;
		}
		res.entries++;
		expect = seq + 1;
		if (progress && (seq & 0xffff) == 0)
			progress(ctx, seq, head.size);
	}
	if (step != SQLITE_DONE) {
		rc = evidence_sqlerr(st, "reading the log");
		goto done;
	}
	if (!head_problem[0] && res.entries != head.size) {
		bad = res.entries + 1;
		rc = ak_error_code(AK_ETAMPERED,
				   "seq %lld: missing; the log ends at seq %lld but the head "
				   "records %lld entries (truncated?)",
				   (long long)bad, (long long)res.entries, (long long)head.size);
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
	sqlite3_finalize(s);
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	vstate_free(&v);
	res.first_bad_seq = bad;
	if (out)
		*out = res;
	return rc;
}
