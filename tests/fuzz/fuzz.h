/*
 * tests/fuzz/fuzz.h - what the fuzz targets share: FUZZ_ASSERT, the
 * oracle's check (a property that fails aborts, naming itself, so the
 * fuzzer keeps the input), and the sink callbacks every ingest adapter
 * must satisfy whatever it is fed: a reject names its place and a
 * non-empty reason, a skip names its place and why.
 */
#ifndef AK_FUZZ_H
#define AK_FUZZ_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_ASSERT(cond)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz property failed: %s\n", #cond); \
			abort();                                               \
		}                                                              \
	} while (0)

static inline int fuzz_on_reject(void *ctx, const char *where, const char *reason,
				 const char *raw, size_t len)
{
	(void)ctx, (void)raw, (void)len;
	FUZZ_ASSERT(where != NULL && reason != NULL && reason[0] != '\0');
	return 0;
}

static inline void fuzz_on_skip(void *ctx, const char *where, const char *why)
{
	(void)ctx;
	FUZZ_ASSERT(where != NULL && why != NULL);
}

#endif
