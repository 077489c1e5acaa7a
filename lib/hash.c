/*
 * lib/hash.c - see hash.h.
 */
#include "lib/hash.h"

/* Eight bytes as a little-endian number on every host, so that the
 * hash, and the dedupe keys made with it, do not depend on the machine
 * (the compiler makes it one load where that is what it is). */
static uint64_t le64(const unsigned char *b)
{
	return (uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 | (uint64_t)b[3] << 24 |
	       (uint64_t)b[4] << 32 | (uint64_t)b[5] << 40 | (uint64_t)b[6] << 48 |
	       (uint64_t)b[7] << 56;
}

uint64_t ak_hash64(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *s = p;
	uint64_t h = seed;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		h = (h ^ le64(s + i)) * UINT64_C(0x9e3779b97f4a7c15);
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ s[i]) * UINT64_C(0x100000001b3);
	return h;
}
