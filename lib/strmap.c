/*
 * lib/strmap.c - open addressing with linear probing over 64-bit hashes;
 * keys live in chunks of an arena and are never moved, so the table can
 * grow without copying them.
 */
#include "lib/strmap.h"

#include "lib/error.h"
#include "lib/hash.h"

#include <stdlib.h>
#include <string.h>

struct slot {
	uint64_t hash;  /* 0: empty */
	const char *key;
	size_t len;
	uint64_t value;
};

struct chunk {
	struct chunk *next;
	size_t used, cap;
	char data[];
};

struct ak_strmap {
	struct slot *slots;
	size_t cap, count;
	struct chunk *chunks;
};

/* Never 0: an empty slot's hash. The final fold mixes high bits into the
 * low ones the table indexes with. */
static uint64_t hash(const void *p, size_t n)
{
	uint64_t h = ak_hash64(p, n, AK_HASH_SEED ^ n);

	h ^= h >> 29;
	return h ? h : 1;
}

int ak_strmap_new(struct ak_strmap **out)
{
	struct ak_strmap *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return ak_error_oom();
	m->cap = 64;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if (m->slots == NULL) {
		free(m);
		return ak_error_oom();
	}
	*out = m;
	return 0;
}

void ak_strmap_free(struct ak_strmap *m)
{
	struct chunk *c, *n;

	if (m == NULL)
		return;
	for (c = m->chunks; c; c = n) {
		n = c->next;
		free(c);
	}
	free(m->slots);
	free(m);
}

static const char *copy_key(struct ak_strmap *m, const void *key, size_t len)
{
	struct chunk *c = m->chunks;
	char *p;

	if (c == NULL || c->cap - c->used < len + 1) {
		size_t cap = len + 1 > 65536 ? len + 1 : 65536;

		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->next = m->chunks;
		c->used = 0;
		c->cap = cap;
		m->chunks = c;
	}
	p = c->data + c->used;
	memcpy(p, key, len);
	p[len] = '\0';
	c->used += len + 1;
	return p;
}

static int grow(struct ak_strmap *m)
{
	size_t cap = m->cap * 2, i;
	struct slot *s = calloc(cap, sizeof(*s));

	if (s == NULL)
		return ak_error_oom();
	for (i = 0; i < m->cap; i++) {
		size_t j;

		if (m->slots[i].hash == 0)
			continue;
		for (j = m->slots[i].hash & (cap - 1); s[j].hash; j = (j + 1) & (cap - 1))
			;
		s[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = s;
	m->cap = cap;
	return 0;
}

uint64_t ak_strmap_hash(const void *key, size_t len)
{
	return hash(key, len);
}

void ak_strmap_prefetch(const struct ak_strmap *m, uint64_t h)
{
	__builtin_prefetch(&m->slots[h & (m->cap - 1)]);
}

uint64_t ak_strmap_peek(const struct ak_strmap *m, uint64_t h)
{
	size_t i;

	for (i = h & (m->cap - 1); m->slots[i].hash; i = (i + 1) & (m->cap - 1))
		if (m->slots[i].hash == h) {
			__builtin_prefetch(m->slots[i].key);
			return m->slots[i].value;
		}
	return 0;
}

uint64_t *ak_strmap_get(const struct ak_strmap *m, const void *key, size_t len)
{
	return ak_strmap_get_hashed(m, key, len, hash(key, len));
}

uint64_t *ak_strmap_get_hashed(const struct ak_strmap *m, const void *key, size_t len, uint64_t h)
{
	size_t i;

	for (i = h & (m->cap - 1); m->slots[i].hash; i = (i + 1) & (m->cap - 1))
		if (m->slots[i].hash == h && m->slots[i].len == len &&
		    memcmp(m->slots[i].key, key, len) == 0)
			return &m->slots[i].value;
	return NULL;
}

uint64_t *ak_strmap_put(struct ak_strmap *m, const void *key, size_t len, int *inserted)
{
	uint64_t h, *v;
	size_t i;

	if ((v = ak_strmap_get(m, key, len)) != NULL) {
		if (inserted)
			*inserted = 0;
		return v;
	}
	if ((m->count + 1) * 2 > m->cap && grow(m) != 0)
		return NULL;
	h = hash(key, len);
	for (i = h & (m->cap - 1); m->slots[i].hash; i = (i + 1) & (m->cap - 1))
		;
	m->slots[i].key = copy_key(m, key, len);
	if (m->slots[i].key == NULL) {
		ak_error_oom();
		return NULL;
	}
	m->slots[i].hash = h;
	m->slots[i].len = len;
	m->slots[i].value = 0;
	m->count++;
	if (inserted)
		*inserted = 1;
	return &m->slots[i].value;
}

size_t ak_strmap_count(const struct ak_strmap *m)
{
	return m->count;
}

int ak_strmap_each(const struct ak_strmap *m,
		   int (*cb)(void *ctx, const char *key, size_t len, uint64_t *value), void *ctx)
{
	size_t i;
	int rc;

	for (i = 0; i < m->cap; i++)
		if (m->slots[i].hash && (rc = cb(ctx, m->slots[i].key, m->slots[i].len,
						 &m->slots[i].value)) != 0)
			return rc;
	return 0;
}
