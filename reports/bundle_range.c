/*
 * reports/bundle_range.c - range proofs: a contiguous run of entries
 * proven against a Merkle root with O(log N) hashes, such that the run is
 * also proven complete.
 *
 * The verifier walks the MTH recursion of RFC 9162 section 2.1.1. A
 * subtree outside the range [first, end) is taken from the proof; a
 * subtree inside is recomputed from the range's own leaves; a subtree
 * across an edge splits as MTH splits. Because every leaf of the range
 * feeds an inside subtree, the root only comes out right if every entry of
 * the range is there, in order, unchanged, and nothing else is: that is
 * the completeness proof a legal export of "seq A to B" needs.
 *
 * The outside subtrees are exactly the left siblings on the audit path of
 * the first leaf and the right siblings on the audit path of the last
 * leaf (an outside subtree's parent straddles an edge of the range, so its
 * sibling holds that edge's leaf). The exporter therefore builds the proof
 * from two ordinary inclusion proofs; nothing else of the tree is needed.
 *
 * Nothing here allocates: the recursion is at most 64 levels deep and
 * meets at most two outside and two inside subtrees per level.
 */
#include "reports/bundle_int.h"

#include "lib/error.h"

#include <string.h>

static uint64_t split_point(uint64_t n)
{
	uint64_t k = 1;

	while (k << 1 < n)
		k <<= 1;
	return k;
}

static int check_args(uint64_t size, uint64_t first, uint64_t end)
{
	if (first >= end || end > size)
		return ak_error_code(AK_EINVALID,
				     "range of leaves [%llu, %llu) does not fit a tree of %llu",
				     (unsigned long long)first, (unsigned long long)end,
				     (unsigned long long)size);
	return 0;
}

/* Count the outside subtrees of the recursion over [lo, hi); record the
 * inside ones when c is not NULL. */
static int plan(struct bundle_range_check *c, uint64_t first, uint64_t end, uint64_t lo,
		uint64_t hi, size_t *nout)
{
	uint64_t k;
	int rc;

	if (hi <= first || lo >= end) {
		(*nout)++;
		return 0;
	}
	if (first <= lo && hi <= end) {
		if (c != NULL) {
			if (c->ninner == BUNDLE_RANGE_MAX)
				return ak_error_set("range proof: too many subtrees");
			c->inner[c->ninner].lo = lo;
			c->inner[c->ninner].hi = hi;
			c->ninner++;
		}
		return 0;
	}
	k = split_point(hi - lo);
	if ((rc = plan(c, first, end, lo, lo + k, nout)) != 0)
		return rc;
	return plan(c, first, end, lo + k, hi, nout);
}

size_t bundle_range_proof_len(uint64_t size, uint64_t first, uint64_t end)
{
	size_t n = 0;

	if (check_args(size, first, end) != 0)
		return 0;
	plan(NULL, first, end, 0, size, &n);
	return n;
}

/* For each element of an audit path of leaf index in a tree of size,
 * whether it is a left sibling: the side rule of RFC 9162 2.1.3.2. */
static int path_sides(uint64_t index, uint64_t size, size_t len, unsigned char *left)
{
	uint64_t fn = index, sn = size - 1;
	size_t i;

	for (i = 0; i < len; i++) {
		if (sn == 0)
			return ak_error_code(AK_EINVALID, "audit path of leaf %llu is too long",
					     (unsigned long long)index);
		left[i] = (fn & 1) || fn == sn;
		if (left[i])
			while (fn != 0 && !(fn & 1)) {
				fn >>= 1;
				sn >>= 1;
			}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return ak_error_code(AK_EINVALID, "audit path of leaf %llu is too short",
				     (unsigned long long)index);
	return 0;
}

int bundle_range_from_paths(uint64_t size, uint64_t first, uint64_t end,
			    const unsigned char (*pa)[EVIDENCE_HASH_LEN], size_t na,
			    const unsigned char (*pb)[EVIDENCE_HASH_LEN], size_t nb,
			    unsigned char out[BUNDLE_RANGE_MAX][EVIDENCE_HASH_LEN], size_t *nout)
{
	unsigned char la[64], lb[64];
	size_t i, n = 0;
	int rc;

	*nout = 0;
	if ((rc = check_args(size, first, end)) != 0)
		return rc;
	if (na > 64 || nb > 64)
		return ak_error_code(AK_EINVALID, "audit path longer than 64 hashes");
	if ((rc = path_sides(first, size, na, la)) != 0 ||
	    (rc = path_sides(end - 1, size, nb, lb)) != 0)
		return rc;
	/* Left of the range: the first leaf's left siblings, root side first. */
	for (i = na; i-- > 0;)
		if (la[i])
			memcpy(out[n++], pa[i], EVIDENCE_HASH_LEN);
	/* Right of it: the last leaf's right siblings, leaf side first. */
	for (i = 0; i < nb; i++)
		if (!lb[i])
			memcpy(out[n++], pb[i], EVIDENCE_HASH_LEN);
	if (n != bundle_range_proof_len(size, first, end))
		return ak_error_code(AK_EINVALID, "audit paths do not make a range proof");
	*nout = n;
	return 0;
}

int bundle_range_check_init(struct bundle_range_check *c, struct evidence_hasher *h,
			    uint64_t size, uint64_t first, uint64_t end,
			    const unsigned char (*proof)[EVIDENCE_HASH_LEN], size_t nproof)
{
	size_t want = 0;
	int rc;

	memset(c, 0, sizeof(*c));
	c->h = h;
	c->size = size;
	c->first = first;
	c->end = end;
	if ((rc = check_args(size, first, end)) != 0 ||
	    (rc = plan(c, first, end, 0, size, &want)) != 0)
		return rc;
	if (nproof != want)
		return ak_error_code(AK_EINVALID,
				     "the range proof has %zu hashes; seqs %llu-%llu in a tree of "
				     "%llu need %zu",
				     nproof, (unsigned long long)first + 1, (unsigned long long)end,
				     (unsigned long long)size, want);
	memcpy(c->proof, proof, nproof * EVIDENCE_HASH_LEN);
	c->nproof = nproof;
	return 0;
}

int bundle_range_check_push(struct bundle_range_check *c,
			    const unsigned char leaf[EVIDENCE_HASH_LEN])
{
	unsigned char h[EVIDENCE_HASH_LEN], t[EVIDENCE_HASH_LEN];
	uint64_t x = c->in_cur;
	int rc, i;

	if (c->cur >= c->ninner)
		return ak_error_code(AK_EINVALID, "more leaves than the range holds");
	/* Binary increment of the current subtree's complete parts. */
	memcpy(h, leaf, EVIDENCE_HASH_LEN);
	while (x & 1) {
		if ((rc = evidence_node_hash(c->h, c->stack[--c->depth], h, t)) != 0)
			return rc;
		memcpy(h, t, EVIDENCE_HASH_LEN);
		x >>= 1;
	}
	memcpy(c->stack[c->depth++], h, EVIDENCE_HASH_LEN);
	c->in_cur++;
	c->pushed++;
	if (c->in_cur < c->inner[c->cur].hi - c->inner[c->cur].lo)
		return 0;
	/* The subtree is complete: fold its parts, smallest (rightmost) first,
	 * which is MTH's split at the largest power of two. */
	memcpy(h, c->stack[c->depth - 1], EVIDENCE_HASH_LEN);
	for (i = c->depth - 2; i >= 0; i--) {
		if ((rc = evidence_node_hash(c->h, c->stack[i], h, t)) != 0)
			return rc;
		memcpy(h, t, EVIDENCE_HASH_LEN);
	}
	memcpy(c->inner[c->cur].hash, h, EVIDENCE_HASH_LEN);
	c->cur++;
	c->in_cur = 0;
	c->depth = 0;
	return 0;
}

static int root_of(struct bundle_range_check *c, uint64_t lo, uint64_t hi, size_t *pi,
		   size_t *ii, unsigned char out[EVIDENCE_HASH_LEN])
{
	unsigned char l[EVIDENCE_HASH_LEN], r[EVIDENCE_HASH_LEN];
	uint64_t k;
	int rc;

	if (hi <= c->first || lo >= c->end) {
		memcpy(out, c->proof[(*pi)++], EVIDENCE_HASH_LEN);
		return 0;
	}
	if (c->first <= lo && hi <= c->end) {
		memcpy(out, c->inner[(*ii)++].hash, EVIDENCE_HASH_LEN);
		return 0;
	}
	k = split_point(hi - lo);
	if ((rc = root_of(c, lo, lo + k, pi, ii, l)) != 0 ||
	    (rc = root_of(c, lo + k, hi, pi, ii, r)) != 0)
		return rc;
	return evidence_node_hash(c->h, l, r, out);
}

int bundle_range_check_root(struct bundle_range_check *c, unsigned char root[EVIDENCE_HASH_LEN])
{
	size_t pi = 0, ii = 0;

	if (c->cur != c->ninner)
		return ak_error_code(AK_EINVALID, "the range has %llu leaves; only %llu came",
				     (unsigned long long)(c->end - c->first),
				     (unsigned long long)c->pushed);
	return root_of(c, 0, c->size, &pi, &ii, root);
}
