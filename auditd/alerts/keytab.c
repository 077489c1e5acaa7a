/*
 * auditd/alerts/keytab.c - the bounded table of per-key detector state
 * (see alerts_int.h).
 *
 * A chained hash table plus a doubly linked list in use order. The keys
 * come from outside (account names, addresses, campaign names), so buckets
 * are chosen with SipHash under a random key: nobody can line up keys in
 * one chain. Eviction follows use order, never hash order, so the same
 * input always keeps and drops the same keys.
 */
#include "auditd/alerts/alerts_int.h"

#include "lib/error.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = ROTL(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = ROTL(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = ROTL(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = ROTL(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = ROTL(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = ROTL(v2, 32);                                                                 \
	} while (0)

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t alerts_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + (len & ~(size_t)7);
	uint64_t v0 = k0 ^ UINT64_C(0x736f6d6570736575), v1 = k1 ^ UINT64_C(0x646f72616e646f6d);
	uint64_t v2 = k0 ^ UINT64_C(0x6c7967656e657261), v3 = k1 ^ UINT64_C(0x7465646279746573);
	uint64_t m, last = (uint64_t)len << 56;
	size_t i;

	for (; p < end; p += 8) {
		m = le64(p);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (i = 0; i < (len & 7); i++)
		last |= (uint64_t)p[i] << (8 * i);
	v3 ^= last;
	SIPROUND;
	SIPROUND;
	v0 ^= last;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

void alerts_random_key(uint64_t *k0, uint64_t *k1)
{
	uint64_t k[2];

	if (getrandom(k, sizeof(k), GRND_NONBLOCK) != (ssize_t)sizeof(k)) {
		/* Only bucket spread depends on it, never a result. */
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		k[0] = (uint64_t)ts.tv_nsec * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)(uintptr_t)k;
		k[1] = (uint64_t)ts.tv_sec * UINT64_C(0xbf58476d1ce4e5b9);
	}
	*k0 = k[0];
	*k1 = k[1];
}

int keytab_init(struct keytab *t, size_t max_keys, size_t max_cost, int64_t idle_us,
                void (*free_data)(void *))
{
	memset(t, 0, sizeof(*t));
	t->nb = 64;
	if ((t->b = calloc(t->nb, sizeof(*t->b))) == NULL)
		return ak_error_oom();
	t->max_keys = max_keys;
	t->max_cost = max_cost;
	t->idle_us = idle_us;
	t->free_data = free_data;
	alerts_random_key(&t->k0, &t->k1);
	return 0;
}

static void unlink_use(struct keytab *t, struct keyslot *s)
{
	if (s->older)
		s->older->newer = s->newer;
	else
		t->oldest = s->newer;
	if (s->newer)
		s->newer->older = s->older;
	else
		t->newest = s->older;
	s->older = s->newer = NULL;
}

static void push_newest(struct keytab *t, struct keyslot *s)
{
	s->older = t->newest;
	s->newer = NULL;
	if (t->newest)
		t->newest->newer = s;
	else
		t->oldest = s;
	t->newest = s;
}

static void drop(struct keytab *t, struct keyslot *s)
{
	struct keyslot **pp = &t->b[s->hash & (t->nb - 1)];

	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
	unlink_use(t, s);
	t->cost -= s->cost;
	t->n--;
	if (t->free_data && s->data)
		t->free_data(s->data);
	free(s);
}

void keytab_clear(struct keytab *t)
{
	while (t->oldest)
		drop(t, t->oldest);
	free(t->b);
	memset(t, 0, sizeof(*t));
}

static struct keyslot *find(const struct keytab *t, uint64_t h, const char *key, size_t klen)
{
	struct keyslot *s;

	for (s = t->b[h & (t->nb - 1)]; s; s = s->hnext)
		if (s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0)
			return s;
	return NULL;
}

struct keyslot *keytab_find(const struct keytab *t, const char *key, size_t klen)
{
	if (t->b == NULL)
		return NULL;
	return find(t, alerts_siphash(t->k0, t->k1, key, klen), key, klen);
}

static void grow(struct keytab *t)
{
	size_t nb = t->nb * 2, i;
	struct keyslot **b = calloc(nb, sizeof(*b));

	if (b == NULL)
		return; /* longer chains, still correct */
	for (i = 0; i < t->nb; i++) {
		struct keyslot *s = t->b[i], *next;

		for (; s; s = next) {
			next = s->hnext;
			s->hnext = b[s->hash & (nb - 1)];
			b[s->hash & (nb - 1)] = s;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

struct keyslot *keytab_touch(struct keytab *t, const char *key, size_t klen, int64_t now_us)
{
	uint64_t h = alerts_siphash(t->k0, t->k1, key, klen);
	int64_t horizon = now_us > INT64_MIN + t->idle_us ? now_us - t->idle_us : INT64_MIN;
	struct keyslot *s;

	while (t->oldest && t->oldest->last_us < horizon)
		drop(t, t->oldest);
	if ((s = find(t, h, key, klen)) != NULL) {
		unlink_use(t, s);
		push_newest(t, s);
		if (now_us > s->last_us)
			s->last_us = now_us;
		return s;
	}
	while (t->n >= t->max_keys && t->oldest) {
		drop(t, t->oldest);
		t->evicted++;
	}
	if ((s = calloc(1, sizeof(*s) + klen + 1)) == NULL) {
		ak_error_oom();
		return NULL;
	}
	s->hash = h;
	s->last_us = now_us;
	s->klen = klen;
	memcpy(s->key, key, klen);
	s->hnext = t->b[h & (t->nb - 1)];
	t->b[h & (t->nb - 1)] = s;
	push_newest(t, s);
	t->n++;
	if (t->n > t->nb && t->nb < ((size_t)1 << 24))
		grow(t);
	return s;
}

void keytab_charge(struct keytab *t, struct keyslot *s, size_t cost)
{
	t->cost = t->cost - s->cost + cost;
	s->cost = cost;
	while (t->cost > t->max_cost && t->oldest && t->oldest != s) {
		drop(t, t->oldest);
		t->evicted++;
	}
	/* Only s left: its detector caps what one key may hold. */
}
