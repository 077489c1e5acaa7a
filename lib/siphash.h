/*
 * lib/siphash.h - SipHash-2-4, a keyed 64-bit hash, for in-memory tables
 * whose keys come from outside (account names, addresses, unsubscribe
 * tokens): under a random key nobody can choose keys that pile up in one
 * bucket. Not for anything stored: the key changes with every process.
 */
#ifndef AK_SIPHASH_H
#define AK_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* SipHash-2-4 of data under the 128-bit key (k0, k1). */
uint64_t ak_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len);

/* A random key (from getrandom; only bucket spread and hash collisions
 * depend on it, never a result). */
void ak_siphash_key(uint64_t *k0, uint64_t *k1);

#endif
