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

#include "lib/b64.h"
#include "lib/error.h"
#include "lib/siphash.h"

#include <stdlib.h>
#include <string.h>

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
	ak_siphash_key(&t->k0, &t->k1);
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

/* A key longer than ALERT_KEY_MAX is kept as its first bytes and a second,
 * independent hash of the whole: memory per key stays bounded and distinct
 * long keys stay distinct. */
static const char *short_key(const struct keytab *t, const char *key, size_t *klen,
                             char buf[ALERT_KEY_MAX + 1])
{
	uint64_t h2;

	if (*klen <= ALERT_KEY_MAX)
		return key;
	h2 = ak_siphash(t->k1, t->k0, key, *klen);
	memcpy(buf, key, ALERT_KEY_MAX - 17);
	buf[ALERT_KEY_MAX - 17] = '#';
	ak_hex_encode(buf + ALERT_KEY_MAX - 16, &h2, 8); /* 16 digits and a NUL */
	*klen = ALERT_KEY_MAX;
	return buf;
}

struct keyslot *keytab_find(const struct keytab *t, const char *key, size_t klen)
{
	char buf[ALERT_KEY_MAX + 1];

	if (t->b == NULL)
		return NULL;
	key = short_key(t, key, &klen, buf);
	return find(t, ak_siphash(t->k0, t->k1, key, klen), key, klen);
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
	char buf[ALERT_KEY_MAX + 1];
	const char *k = short_key(t, key, &klen, buf);
	uint64_t h = ak_siphash(t->k0, t->k1, k, klen);
	int64_t horizon = now_us > INT64_MIN + t->idle_us ? now_us - t->idle_us : INT64_MIN;
	struct keyslot *s;

	while (t->oldest && t->oldest->last_us < horizon)
		drop(t, t->oldest);
	if ((s = find(t, h, k, klen)) != NULL) {
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
	memcpy(s->key, k, klen);
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
