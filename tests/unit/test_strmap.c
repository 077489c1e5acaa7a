/*
 * tests/unit/test_strmap.c - lib/strmap: keys are bytes (NULs, prefixes of
 * each other), values start at 0 and survive growth, and the two-step
 * lookups (hash, prefetch, get_hashed, peek) agree with the plain ones;
 * lib/hash: ak_hash64 computes what it always did, on every host.
 */
#include "tests/unit/unit.h"

#include "lib/hash.h"
#include "lib/strmap.h"

#include <stdio.h>
#include <string.h>

static int count_each(void *ctx, const char *key, size_t len, uint64_t *value)
{
	size_t *n = ctx;

	(void)key;
	(void)len;
	(void)value;
	(*n)++;
	return 0;
}

static void test_strmap__puts_gets_and_grows(void **state)
{
	struct ak_strmap *m;
	char key[32];
	uint64_t *v;
	size_t i, n = 0;
	int ins;

	(void)state;
	assert_int_equal(ak_strmap_new(&m), 0);
	for (i = 0; i < 100000; i++) {
		int len = snprintf(key, sizeof(key), "k%zu", i);

		v = ak_strmap_put(m, key, (size_t)len, &ins);
		assert_non_null(v);
		assert_int_equal(ins, 1);
		assert_int_equal(*v, 0);
		*v = i + 1;
	}
	assert_int_equal(ak_strmap_count(m), 100000);
	for (i = 0; i < 100000; i++) {
		int len = snprintf(key, sizeof(key), "k%zu", i);
		uint64_t h = ak_strmap_hash(key, (size_t)len);

		v = ak_strmap_get(m, key, (size_t)len);
		assert_non_null(v);
		assert_int_equal(*v, i + 1);
		ak_strmap_prefetch(m, h);
		assert_ptr_equal(ak_strmap_get_hashed(m, key, (size_t)len, h), v);
		/* peek is a hint: with distinct 64-bit hashes it finds the value */
		assert_int_equal(ak_strmap_peek(m, h), i + 1);
		assert_ptr_equal(ak_strmap_put(m, key, (size_t)len, &ins), v);
		assert_int_equal(ins, 0);
	}
	assert_null(ak_strmap_get(m, "k100000", 7));
	assert_int_equal(ak_strmap_peek(m, ak_strmap_hash("absent", 6)), 0);
	assert_int_equal(ak_strmap_each(m, count_each, &n), 0);
	assert_int_equal(n, 100000);
	ak_strmap_free(m);
}

static void test_strmap__keys_are_bytes(void **state)
{
	struct ak_strmap *m;

	(void)state;
	assert_int_equal(ak_strmap_new(&m), 0);
	*ak_strmap_put(m, "a\0b", 3, NULL) = 1;
	*ak_strmap_put(m, "a", 1, NULL) = 2;
	*ak_strmap_put(m, "", 0, NULL) = 3;
	*ak_strmap_put(m, "a\x1f" "b", 3, NULL) = 4;
	assert_int_equal(*ak_strmap_get(m, "a\0b", 3), 1);
	assert_int_equal(*ak_strmap_get(m, "a", 1), 2);
	assert_int_equal(*ak_strmap_get(m, "", 0), 3);
	assert_int_equal(*ak_strmap_get(m, "a\x1f" "b", 3), 4);
	assert_null(ak_strmap_get(m, "a\0", 2));
	assert_int_equal(ak_strmap_count(m), 4);
	ak_strmap_free(m);
}

/* The body hash is part of every stored dedupe key (lib/hash.h): these
 * values were computed by the code that wrote the first stores. Lengths
 * 0, 1, 7, 8, 9 and 41 cover the byte loop, the word loop and both. */
static void test_hash__values_are_pinned(void **state)
{
	static const struct {
		const char *s;
		uint64_t h;
	} v[] = {
		{"", UINT64_C(0xcbf29ce484222325)},
		{"a", UINT64_C(0xaf63dc4c8601ec8c)},
		{"abcdefg", UINT64_C(0x406e475017aa7737)},
		{"abcdefgh", UINT64_C(0xcd0cf5aef2f8e7d0)},
		{"abcdefghi", UINT64_C(0x65ed3146dcf1bf5b)},
		{"{\"rcpt\":\"a@example.com\",\"status\":\"sent\"}", UINT64_C(0xbbc7e6f2e911cc7e)},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_true(ak_hash64(v[i].s, strlen(v[i].s), AK_HASH_SEED) == v[i].h);
	/* The seed is where it starts: another seed, another value. */
	assert_true(ak_hash64("a", 1, 1) != ak_hash64("a", 1, AK_HASH_SEED));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_strmap__puts_gets_and_grows),
	cmocka_unit_test(test_strmap__keys_are_bytes),
	cmocka_unit_test(test_hash__values_are_pinned),
};

AK_UNIT_MAIN(tests)
