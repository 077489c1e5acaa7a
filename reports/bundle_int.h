/*
 * reports/bundle_int.h - what the files of the bundle module share: the
 * range proof, the names a bundle may hold, the embedded VERIFY.md and
 * verify.py.
 */
#ifndef REPORTS_BUNDLE_INT_H
#define REPORTS_BUNDLE_INT_H

#include "reports/bundle.h"

#include <stddef.h>
#include <stdint.h>

#define BUNDLE_FORMAT "akashi-bundle-1"

/* ---- range proofs (docs/EVIDENCE-FORMAT.md, "Range proofs") ----
 *
 * For the leaves [first, end) of a tree of size leaves, walk the MTH
 * recursion of RFC 9162 section 2.1.1 from the root: a subtree entirely
 * outside the range is one hash taken from the proof, a subtree entirely
 * inside is the MTH of its own leaves, anything else splits as MTH does.
 * The proof is the outside subtrees' hashes in the order the recursion
 * meets them, which is left to right. There are at most two per level. */
#define BUNDLE_RANGE_MAX 128

/* The range proof from the RFC 9162 audit paths of the first leaf
 * (pa, leaf index first) and the last (pb, leaf index end - 1) in the same
 * tree: the left siblings of the first path, top down, then the right
 * siblings of the last path, bottom up. AK_EINVALID when the arguments or
 * path lengths do not fit the tree. */
int bundle_range_from_paths(uint64_t size, uint64_t first, uint64_t end,
			    const unsigned char (*pa)[EVIDENCE_HASH_LEN], size_t na,
			    const unsigned char (*pb)[EVIDENCE_HASH_LEN], size_t nb,
			    unsigned char out[BUNDLE_RANGE_MAX][EVIDENCE_HASH_LEN], size_t *nout);

/* Recompute a root from a range proof and the range's leaf hashes pushed
 * one by one in order, in O(log size) memory. */
struct bundle_range_check {
	struct evidence_hasher *h; /* borrowed */
	uint64_t size, first, end;
	unsigned char proof[BUNDLE_RANGE_MAX][EVIDENCE_HASH_LEN];
	size_t nproof;
	/* The subtrees inside the range, left to right, and their hashes once
	 * all their leaves are in. */
	struct {
		uint64_t lo, hi;
		unsigned char hash[EVIDENCE_HASH_LEN];
	} inner[BUNDLE_RANGE_MAX];
	size_t ninner, cur;
	uint64_t pushed;   /* leaves pushed so far */
	uint64_t in_cur;   /* of them, in the current inner subtree */
	unsigned char stack[64][EVIDENCE_HASH_LEN]; /* complete subtrees of the current one */
	int depth;
};

/* AK_EINVALID when the proof does not have the number of hashes the
 * range needs (the message says how many). */
int bundle_range_check_init(struct bundle_range_check *c, struct evidence_hasher *h,
			    uint64_t size, uint64_t first, uint64_t end,
			    const unsigned char (*proof)[EVIDENCE_HASH_LEN], size_t nproof);
/* AK_EINVALID for a leaf beyond the range. */
int bundle_range_check_push(struct bundle_range_check *c,
			    const unsigned char leaf[EVIDENCE_HASH_LEN]);
/* The root; AK_EINVALID when leaves are missing. */
int bundle_range_check_root(struct bundle_range_check *c, unsigned char root[EVIDENCE_HASH_LEN]);

/* The number of hashes a range proof for [first, end) of size has. */
size_t bundle_range_proof_len(uint64_t size, uint64_t first, uint64_t end);

/* ---- selections, parsed ---- */

struct bundle_criteria {
	const struct bundle_selection *sel; /* borrowed */
	int has_from, has_to, has_seq;
	int64_t from_us, to_us;   /* event time [from, to) */
	int64_t seq_lo, seq_hi;   /* seqs [lo, hi] */
};

/* Check and parse sel: AK_EINVALID naming the option at fault. */
int bundle_criteria_parse(struct bundle_criteria *c, const struct bundle_selection *sel);

/* ---- names inside a bundle ---- */

enum bundle_member {
	BUNDLE_M_UNKNOWN,
	BUNDLE_M_ENTRIES,
	BUNDLE_M_PROOFS,
	BUNDLE_M_CHECKPOINT,
	BUNDLE_M_PUBKEY,
	BUNDLE_M_CUSTODY,
	BUNDLE_M_MANIFEST,
	BUNDLE_M_VERIFY_MD,
	BUNDLE_M_VERIFY_PY,
	BUNDLE_M_OLD_CHECKPOINT, /* checkpoints/<size> */
	BUNDLE_M_POLICY,         /* policies/... */
};

#define BUNDLE_NAME_MAX 240

/* What a path inside the top directory is. *size gets N for
 * checkpoints/N. */
enum bundle_member bundle_member_of(const char *rel, uint64_t *size);

/* A safe path: '/'-separated components of [A-Za-z0-9._-], none empty or
 * starting with '.', at most BUNDLE_NAME_MAX bytes. */
int bundle_safe_path(const char *p);

/* ---- embedded files (reports/VERIFY.md and reports/verify.py) ---- */

const char *bundle_text_verify_md(size_t *len);
const char *bundle_text_verify_py(size_t *len);

#endif
