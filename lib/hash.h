/*
 * lib/hash.h - a fast 64-bit hash of byte strings: FNV-1a, folded with a
 * multiply per eight bytes. For in-memory hash tables, and for the part of
 * a record's dedupe identity that stands for its body.
 *
 * Not cryptographic, and not keyed: where outside input could choose
 * collisions to slow a table down, use a keyed hash (lib/siphash.h).
 *
 * Its values are part of the store's dedupe keys (auditd/ingest/pipeline.c;
 * pinned by tests/e2e/dedupe.t): what it computes must never change. A
 * collision there does not drop a record: the store confirms such a
 * duplicate against the stored entry (evidence_record.dedupe_confirm).
 */
#ifndef AK_HASH_H
#define AK_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a's offset basis: the usual seed. */
#define AK_HASH_SEED UINT64_C(0xcbf29ce484222325)

/* The hash of p[0..n), starting from seed. */
uint64_t ak_hash64(const void *p, size_t n, uint64_t seed);

#endif
