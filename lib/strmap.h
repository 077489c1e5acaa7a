/*
 * lib/strmap.h - a map from byte strings to 64-bit values (an index, a
 * count, a time), for the in-memory passes over the log (audits, alert
 * windows). Keys are copied into the map's own arena; values start at 0.
 *
 * Ownership: the map owns its keys; pointers to values are valid until the
 * next insertion.
 */
#ifndef AK_STRMAP_H
#define AK_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct ak_strmap;

int ak_strmap_new(struct ak_strmap **out);
void ak_strmap_free(struct ak_strmap *m);

/* The value slot of key, inserting it (value 0) when absent; *inserted
 * (optional) says which. NULL with AK_ENOMEM set when out of memory. */
uint64_t *ak_strmap_put(struct ak_strmap *m, const void *key, size_t len, int *inserted);

/* The value slot of key, or NULL. */
uint64_t *ak_strmap_get(const struct ak_strmap *m, const void *key, size_t len);

/* The same lookups in two steps, for loops that look up many keys: hash
 * a key and ask the CPU to fetch its slot, do other work, then look up
 * with the hash (a cache hit by then). */
uint64_t ak_strmap_hash(const void *key, size_t len);
void ak_strmap_prefetch(const struct ak_strmap *m, uint64_t hash);
uint64_t *ak_strmap_get_hashed(const struct ak_strmap *m, const void *key, size_t len,
			       uint64_t hash);
/* A hint, never an answer: the value of the first slot whose hash is
 * hash, keys not compared (0 when none), its key fetched meanwhile; for
 * prefetching what values point at. */
uint64_t ak_strmap_peek(const struct ak_strmap *m, uint64_t hash);

size_t ak_strmap_count(const struct ak_strmap *m);

/* Call cb for every key (in no particular order); a non-zero return stops
 * and is returned. */
int ak_strmap_each(const struct ak_strmap *m,
		   int (*cb)(void *ctx, const char *key, size_t len, uint64_t *value), void *ctx);

#endif
