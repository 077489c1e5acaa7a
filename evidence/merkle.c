/*
 * evidence/merkle.c - the hashes of the evidence format and the proof
 * verification algorithms of RFC 9162 section 2.1, as pure functions.
 *
 * Everything here works on hashes only, so the same code checks proofs
 * inside the store (evidence_verify) and in an exported bundle with no store
 * at all (reports/bundle verification).
 */
/* SHA256_Init/Update/Final are deprecated in OpenSSL 3.0 in favour of
 * EVP, but remain its documented API and run the same SHA-NI/AVX code;
 * EVP's per-message dispatch and provider context (a malloc, a cleanse
 * and a free each time) nearly double the cost of a 65-byte node hash. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "evidence/evidence_int.h"

#include "lib/error.h"

#include <stdlib.h>
#include <string.h>

int evidence_hasher_new(struct evidence_hasher **out)
{
	struct evidence_hasher *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return ak_error_oom();
	*out = h;
	return 0;
}

void evidence_hasher_free(struct evidence_hasher *h)
{
	free(h);
}

int evidence_hash3(struct evidence_hasher *h, const void *a, size_t alen, const void *b,
		   size_t blen, const void *c, size_t clen, unsigned char out[EVIDENCE_HASH_LEN])
{
	if (SHA256_Init(&h->c) != 1 || (alen && SHA256_Update(&h->c, a, alen) != 1) ||
	    (blen && SHA256_Update(&h->c, b, blen) != 1) ||
	    (clen && SHA256_Update(&h->c, c, clen) != 1) || SHA256_Final(out, &h->c) != 1)
		return ak_error_set("OpenSSL: SHA-256 failed");
	return 0;
}

int evidence_leaf_hash(struct evidence_hasher *h, const void *data, size_t len,
		       unsigned char out[EVIDENCE_HASH_LEN])
{
	static const unsigned char zero = 0x00;

	return evidence_hash3(h, &zero, 1, data, len, NULL, 0, out);
}

int evidence_node_hash(struct evidence_hasher *h, const unsigned char left[EVIDENCE_HASH_LEN],
		       const unsigned char right[EVIDENCE_HASH_LEN],
		       unsigned char out[EVIDENCE_HASH_LEN])
{
	static const unsigned char one = 0x01;

	return evidence_hash3(h, &one, 1, left, EVIDENCE_HASH_LEN, right, EVIDENCE_HASH_LEN, out);
}

int evidence_chain_hash(struct evidence_hasher *h, const unsigned char prev[EVIDENCE_HASH_LEN],
			const unsigned char leaf[EVIDENCE_HASH_LEN],
			unsigned char out[EVIDENCE_HASH_LEN])
{
	return evidence_hash3(h, prev, EVIDENCE_HASH_LEN, leaf, EVIDENCE_HASH_LEN, NULL, 0, out);
}

/* Largest power of two strictly below n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
	uint64_t k = 1;

	while (k << 1 < n)
		k <<= 1;
	return k;
}

int evidence_mth(struct evidence_hasher *h, const unsigned char (*leaves)[EVIDENCE_HASH_LEN],
		 size_t n, unsigned char out[EVIDENCE_HASH_LEN])
{
	unsigned char l[EVIDENCE_HASH_LEN], r[EVIDENCE_HASH_LEN];
	size_t k;
	int rc;

	if (n == 0)
		return evidence_hash3(h, NULL, 0, NULL, 0, NULL, 0, out);
	if (n == 1) {
		memcpy(out, leaves[0], EVIDENCE_HASH_LEN);
		return 0;
	}
	k = (size_t)split_point(n);
	if ((rc = evidence_mth(h, leaves, k, l)) != 0 ||
	    (rc = evidence_mth(h, leaves + k, n - k, r)) != 0)
		return rc;
	return evidence_node_hash(h, l, r, out);
}

/* One step of the verification loops of RFC 9162 sections 2.1.3.2 and
 * 2.1.4.2: fold the path hash p into sr (and into fr, when not NULL, where
 * p is a left sibling), moving the node numbers fn and sn up. */
static int fold(struct evidence_hasher *h, uint64_t *fn, uint64_t *sn,
		const unsigned char p[EVIDENCE_HASH_LEN], unsigned char *fr,
		unsigned char sr[EVIDENCE_HASH_LEN])
{
	int rc;

	if ((*fn & 1) || *fn == *sn) {
		if ((fr && (rc = evidence_node_hash(h, p, fr, fr)) != 0) ||
		    (rc = evidence_node_hash(h, p, sr, sr)) != 0)
			return rc;
		if (!(*fn & 1))
			while (*fn != 0 && !(*fn & 1)) {
				*fn >>= 1;
				*sn >>= 1;
			}
	} else if ((rc = evidence_node_hash(h, sr, p, sr)) != 0) {
		return rc;
	}
	*fn >>= 1;
	*sn >>= 1;
	return 0;
}

int evidence_verify_inclusion(struct evidence_hasher *h, uint64_t index, uint64_t size,
			      const unsigned char leaf[EVIDENCE_HASH_LEN],
			      const unsigned char (*path)[EVIDENCE_HASH_LEN], size_t path_len,
			      const unsigned char root[EVIDENCE_HASH_LEN])
{
	unsigned char r[EVIDENCE_HASH_LEN];
	uint64_t fn, sn;
	size_t i;
	int rc;

	if (index >= size)
		return ak_error_code(AK_EINVALID, "leaf index %llu is not below tree size %llu",
				     (unsigned long long)index, (unsigned long long)size);
	fn = index;
	sn = size - 1;
	memcpy(r, leaf, EVIDENCE_HASH_LEN);
	for (i = 0; i < path_len; i++) {
		if (sn == 0)
			return ak_error_code(AK_ETAMPERED, "inclusion proof has %zu hashes, too many",
					     path_len);
		if ((rc = fold(h, &fn, &sn, path[i], NULL, r)) != 0)
			return rc;
	}
	if (sn != 0)
		return ak_error_code(AK_ETAMPERED, "inclusion proof has %zu hashes, too few",
				     path_len);
	if (memcmp(r, root, EVIDENCE_HASH_LEN) != 0)
		return ak_error_code(AK_ETAMPERED,
				     "inclusion proof does not lead to the root of size %llu",
				     (unsigned long long)size);
	return 0;
}

int evidence_verify_consistency(struct evidence_hasher *h, uint64_t old_size, uint64_t new_size,
				const unsigned char old_root[EVIDENCE_HASH_LEN],
				const unsigned char new_root[EVIDENCE_HASH_LEN],
				const unsigned char (*path)[EVIDENCE_HASH_LEN], size_t path_len)
{
	unsigned char fr[EVIDENCE_HASH_LEN], sr[EVIDENCE_HASH_LEN];
	uint64_t fn, sn;
	size_t i = 0;
	int rc;

	if (old_size > new_size)
		return ak_error_code(AK_EINVALID, "old size %llu is larger than new size %llu",
				     (unsigned long long)old_size, (unsigned long long)new_size);
	if (old_size == new_size) {
		if (path_len != 0)
			return ak_error_code(AK_ETAMPERED,
					     "consistency proof between equal sizes must be empty");
		if (memcmp(old_root, new_root, EVIDENCE_HASH_LEN) != 0)
			return ak_error_code(AK_ETAMPERED, "equal sizes but different roots");
		return 0;
	}
	if (old_size == 0) {
		/* Every tree extends the empty one; RFC 9162 proves nothing here. */
		if (path_len != 0)
			return ak_error_code(AK_ETAMPERED,
					     "consistency proof from size 0 must be empty");
		return 0;
	}
	if (path_len == 0)
		return ak_error_code(AK_ETAMPERED, "consistency proof is empty");
	/* Step 2: if old_size is a power of two, the old root is the first
	 * node of the path. */
	fn = old_size - 1;
	sn = new_size - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	if ((old_size & (old_size - 1)) == 0) {
		memcpy(fr, old_root, EVIDENCE_HASH_LEN);
	} else {
		memcpy(fr, path[0], EVIDENCE_HASH_LEN);
		i = 1;
	}
	memcpy(sr, fr, EVIDENCE_HASH_LEN);
	for (; i < path_len; i++) {
		if (sn == 0)
			return ak_error_code(AK_ETAMPERED,
					     "consistency proof has %zu hashes, too many", path_len);
		if ((rc = fold(h, &fn, &sn, path[i], fr, sr)) != 0)
			return rc;
	}
	if (sn != 0)
		return ak_error_code(AK_ETAMPERED, "consistency proof has %zu hashes, too few",
				     path_len);
	if (memcmp(fr, old_root, EVIDENCE_HASH_LEN) != 0)
		return ak_error_code(AK_ETAMPERED,
				     "consistency proof does not lead to the old root (size %llu)",
				     (unsigned long long)old_size);
	if (memcmp(sr, new_root, EVIDENCE_HASH_LEN) != 0)
		return ak_error_code(AK_ETAMPERED,
				     "consistency proof does not lead to the new root (size %llu)",
				     (unsigned long long)new_size);
	return 0;
}

int evidence_frontier_push(struct evidence_hasher *h, struct evidence_frontier *f,
			   const unsigned char leaf[EVIDENCE_HASH_LEN], struct evidence_node *done,
			   int *ndone)
{
	unsigned char acc[EVIDENCE_HASH_LEN];
	int64_t size = f->size;
	int level = 0, rc;

	*ndone = 0;
	memcpy(acc, leaf, EVIDENCE_HASH_LEN);
	/* Each trailing one bit of the old size is a complete subtree of that
	 * level which the new leaf's subtree now completes a pair with. */
	while (size & 1) {
		if ((rc = evidence_node_hash(h, f->hash[f->n - 1], acc, acc)) != 0)
			return rc;
		f->n--;
		level++;
		size >>= 1;
		if (level >= EVIDENCE_TILE_LEVEL) {
			done[*ndone].level = level;
			done[*ndone].index = ((f->size + 1) >> level) - 1;
			memcpy(done[*ndone].hash, acc, EVIDENCE_HASH_LEN);
			(*ndone)++;
		}
	}
	memcpy(f->hash[f->n++], acc, EVIDENCE_HASH_LEN);
	f->size++;
	return 0;
}

int evidence_frontier_root(struct evidence_hasher *h, const struct evidence_frontier *f,
			   unsigned char out[EVIDENCE_HASH_LEN])
{
	unsigned char acc[EVIDENCE_HASH_LEN];
	int i, rc;

	if (f->n == 0)
		return evidence_hash3(h, NULL, 0, NULL, 0, NULL, 0, out);
	memcpy(acc, f->hash[f->n - 1], EVIDENCE_HASH_LEN);
	for (i = f->n - 2; i >= 0; i--)
		if ((rc = evidence_node_hash(h, f->hash[i], acc, acc)) != 0)
			return rc;
	memcpy(out, acc, EVIDENCE_HASH_LEN);
	return 0;
}

int evidence_frontier_load(struct evidence_frontier *f, int64_t size, const void *blob,
			   size_t len)
{
	int n = __builtin_popcountll((unsigned long long)size);

	if (size < 0 || len != (size_t)n * EVIDENCE_HASH_LEN)
		return ak_error_code(AK_ETAMPERED,
				     "stored tree frontier does not fit a tree of %lld entries",
				     (long long)size);
	f->size = size;
	f->n = n;
	if (len)
		memcpy(f->hash, blob, len);
	return 0;
}
