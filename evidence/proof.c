/*
 * evidence/proof.c - Merkle roots and proofs from the store.
 *
 * The store keeps the hash of every complete subtree of 2^8 leaves and up
 * (table tree) and every leaf hash (entries.leaf). Any subtree hash a proof
 * needs is then either one stored node, or computed from at most 256 leaf
 * hashes read in one range query, or a split of the two. A proof on a
 * store of a million entries reads a few dozen rows and never rehashes the
 * log.
 */
#include "evidence/evidence_int.h"

#include "lib/error.h"

#include <stdlib.h>
#include <string.h>

static int is_pow2(int64_t n)
{
	return n > 0 && (n & (n - 1)) == 0;
}

static int64_t split_point(int64_t n)
{
	int64_t k = 1;

	while (k << 1 < n)
		k <<= 1;
	return k;
}

static int level_of(int64_t n)
{
	int l = 0;

	while (((int64_t)1 << l) < n)
		l++;
	return l;
}

/* MTH of the leaves (a, b] in seq terms, i.e. leaf indexes [a, b), read
 * from the entries table (b - a <= a few hundred). */
static int leaves_hash(struct evidence_store *st, int64_t a, int64_t b,
		       unsigned char out[EVIDENCE_HASH_LEN])
{
	unsigned char(*leaves)[EVIDENCE_HASH_LEN] = NULL;
	sqlite3_stmt *s = NULL;
	int64_t i = 0, n = b - a;
	int rc = 0;

	leaves = malloc((size_t)n * EVIDENCE_HASH_LEN);
	if (leaves == NULL)
		return ak_error_oom();
	/* Proofs ask for many small ranges: the statement is prepared once. */
	if ((rc = evidence_stmt(st, &st->st_leaves,
				"SELECT seq, leaf FROM entries WHERE seq > ? AND seq <= ? "
				"ORDER BY seq")) != 0)
		goto done;
	s = st->st_leaves;
	sqlite3_bind_int64(s, 1, a);
	sqlite3_bind_int64(s, 2, b);
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (i >= n || sqlite3_column_int64(s, 0) != a + i + 1 ||
		    sqlite3_column_bytes(s, 1) != EVIDENCE_HASH_LEN) {
			rc = ak_error_code(AK_ETAMPERED,
					   "entries %lld-%lld are not all present (run akashi verify)",
					   (long long)a + 1, (long long)b);
			goto done;
		}
		memcpy(leaves[i++], sqlite3_column_blob(s, 1), EVIDENCE_HASH_LEN);
	}
	if (i != n) {
		rc = ak_error_code(AK_ETAMPERED,
				   "entries %lld-%lld are not all present (run akashi verify)",
				   (long long)a + 1, (long long)b);
		goto done;
	}
	rc = evidence_mth(st->h, (const unsigned char(*)[EVIDENCE_HASH_LEN])leaves, (size_t)n, out);
done:
	if (s)
		sqlite3_reset(s);
	free(leaves);
	return rc;
}

static int stored_node(struct evidence_store *st, int level, int64_t idx,
		       unsigned char out[EVIDENCE_HASH_LEN])
{
	sqlite3_stmt *s;
	int rc = 0;

	if ((rc = evidence_stmt(st, &st->st_node,
				"SELECT hash FROM tree WHERE level = ? AND idx = ?")) != 0)
		return rc;
	s = st->st_node;
	sqlite3_bind_int(s, 1, level);
	sqlite3_bind_int64(s, 2, idx);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_bytes(s, 0) == EVIDENCE_HASH_LEN)
		memcpy(out, sqlite3_column_blob(s, 0), EVIDENCE_HASH_LEN);
	else
		rc = ak_error_code(AK_ETAMPERED,
				   "tree node level %d index %lld is missing (run akashi verify)",
				   level, (long long)idx);
	sqlite3_reset(s);
	return rc;
}

int evidence_subtree_hash(struct evidence_store *st, int64_t a, int64_t b,
			  unsigned char out[EVIDENCE_HASH_LEN])
{
	unsigned char l[EVIDENCE_HASH_LEN], r[EVIDENCE_HASH_LEN];
	int64_t n = b - a, k;
	int rc;

	if (n >= EVIDENCE_TILE && is_pow2(n) && a % n == 0)
		return stored_node(st, level_of(n), a / n, out);
	if (n <= EVIDENCE_TILE)
		return leaves_hash(st, a, b, out);
	k = split_point(n);
	if ((rc = evidence_subtree_hash(st, a, a + k, l)) != 0 ||
	    (rc = evidence_subtree_hash(st, a + k, b, r)) != 0)
		return rc;
	return evidence_node_hash(st->h, l, r, out);
}

static int check_size(struct evidence_store *st, int64_t size)
{
	int64_t n;
	int rc;

	if ((rc = evidence_size(st, &n)) != 0)
		return rc;
	if (size < 0 || size > n)
		return ak_error_code(AK_EINVALID, "tree size %lld is beyond the log's %lld entries",
				     (long long)size, (long long)n);
	return 0;
}

int evidence_root(struct evidence_store *st, int64_t size, unsigned char out[EVIDENCE_HASH_LEN])
{
	int rc;

	if ((rc = check_size(st, size)) != 0)
		return rc;
	if (size == 0)
		return evidence_mth(st->h, NULL, 0, out);
	return evidence_subtree_hash(st, 0, size, out);
}

struct path {
	unsigned char (*h)[EVIDENCE_HASH_LEN];
	size_t n, cap;
};

static int path_add(struct path *p, const unsigned char h[EVIDENCE_HASH_LEN])
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 32;
		void *nh = realloc(p->h, cap * EVIDENCE_HASH_LEN);

		if (nh == NULL)
			return ak_error_oom();
		p->h = nh;
		p->cap = cap;
	}
	memcpy(p->h[p->n++], h, EVIDENCE_HASH_LEN);
	return 0;
}

/* RFC 9162 2.1.3.1: PATH(m, D[a:b]) with m relative to a. */
static int inclusion(struct evidence_store *st, int64_t m, int64_t a, int64_t b, struct path *p)
{
	unsigned char h[EVIDENCE_HASH_LEN];
	int64_t n = b - a, k;
	int rc;

	if (n <= 1)
		return 0;
	k = split_point(n);
	if (m < k) {
		if ((rc = inclusion(st, m, a, a + k, p)) != 0 ||
		    (rc = evidence_subtree_hash(st, a + k, b, h)) != 0)
			return rc;
	} else {
		if ((rc = inclusion(st, m - k, a + k, b, p)) != 0 ||
		    (rc = evidence_subtree_hash(st, a, a + k, h)) != 0)
			return rc;
	}
	return path_add(p, h);
}

int evidence_prove_inclusion(struct evidence_store *st, int64_t seq, int64_t size,
			     unsigned char leaf[EVIDENCE_HASH_LEN],
			     unsigned char (**path)[EVIDENCE_HASH_LEN], size_t *path_len)
{
	struct path p = {0};
	int rc;

	if ((rc = check_size(st, size)) != 0)
		return rc;
	if (seq < 1 || seq > size)
		return ak_error_code(AK_EINVALID, "seq %lld is not in a tree of %lld entries",
				     (long long)seq, (long long)size);
	if ((rc = leaves_hash(st, seq - 1, seq, leaf)) != 0 ||
	    (rc = inclusion(st, seq - 1, 0, size, &p)) != 0) {
		free(p.h);
		return rc;
	}
	*path = p.h;
	*path_len = p.n;
	return 0;
}

/* RFC 9162 2.1.4.1: SUBPROOF(m, D[a:b], flag). */
static int subproof(struct evidence_store *st, int64_t m, int64_t a, int64_t b, int complete,
		    struct path *p)
{
	unsigned char h[EVIDENCE_HASH_LEN];
	int64_t n = b - a, k;
	int rc;

	if (m == n) {
		if (complete)
			return 0;
		if ((rc = evidence_subtree_hash(st, a, b, h)) != 0)
			return rc;
		return path_add(p, h);
	}
	k = split_point(n);
	if (m <= k) {
		if ((rc = subproof(st, m, a, a + k, complete, p)) != 0 ||
		    (rc = evidence_subtree_hash(st, a + k, b, h)) != 0)
			return rc;
	} else {
		if ((rc = subproof(st, m - k, a + k, b, 0, p)) != 0 ||
		    (rc = evidence_subtree_hash(st, a, a + k, h)) != 0)
			return rc;
	}
	return path_add(p, h);
}

int evidence_prove_consistency(struct evidence_store *st, int64_t old_size, int64_t new_size,
			       unsigned char (**path)[EVIDENCE_HASH_LEN], size_t *path_len)
{
	struct path p = {0};
	int rc;

	if ((rc = check_size(st, new_size)) != 0)
		return rc;
	if (old_size < 0 || old_size > new_size)
		return ak_error_code(AK_EINVALID, "old size %lld is not between 0 and %lld",
				     (long long)old_size, (long long)new_size);
	if (old_size > 0 && old_size < new_size &&
	    (rc = subproof(st, old_size, 0, new_size, 1, &p)) != 0) {
		free(p.h);
		return rc;
	}
	*path = p.h;
	*path_len = p.n;
	return 0;
}
