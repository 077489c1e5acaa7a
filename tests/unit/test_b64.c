/*
 * tests/unit/test_b64.c - lib/b64: the RFC 4648 section 10 vectors in both
 * alphabets, round trips of every length and byte value, and the strict
 * decoders refusing what is not canonical.
 */
#include "tests/unit/unit.h"

#include "lib/b64.h"
#include "lib/error.h"

#include <string.h>

static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const b64[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
static const char *const b64url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};

static void test_b64__rfc4648_vectors(void **state)
{
	char out[64];
	unsigned char back[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		size_t n = strlen(plain[i]);

		assert_int_equal(ak_b64_encode(out, plain[i], n), strlen(b64[i]));
		assert_string_equal(out, b64[i]);
		assert_int_equal(ak_b64url_encode(out, plain[i], n), strlen(b64url[i]));
		assert_string_equal(out, b64url[i]);
		assert_int_equal(ak_b64_decode(back, sizeof(back), b64[i], strlen(b64[i])), (int)n);
		assert_memory_equal(back, plain[i], n);
		assert_int_equal(ak_b64url_decode(back, sizeof(back), b64url[i], strlen(b64url[i])),
				 (int)n);
		assert_memory_equal(back, plain[i], n);
	}
}

static void test_b64__round_trips_every_length_and_byte(void **state)
{
	unsigned char in[300], back[300];
	char out[512];
	size_t n, i;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(255 - i);
	for (n = 0; n <= sizeof(in); n++) {
		size_t len = ak_b64_encode(out, in, n);

		assert_int_equal(len, (n + 2) / 3 * 4);
		assert_int_equal(ak_b64_decode(back, sizeof(back), out, len), (int)n);
		assert_memory_equal(back, in, n);
		len = ak_b64url_encode(out, in, n);
		assert_int_equal(len, AK_B64URL_LEN(n));
		assert_null(strpbrk(out, "+/="));
		assert_int_equal(ak_b64url_decode(back, sizeof(back), out, len), (int)n);
		assert_memory_equal(back, in, n);
	}
}

static void test_b64__refuses_what_is_not_canonical(void **state)
{
	unsigned char back[16];

	(void)state;
	assert_int_equal(ak_b64_decode(back, sizeof(back), "Zh==", 4), AK_EINVALID);
	assert_int_equal(ak_b64_decode(back, sizeof(back), "Zm9", 3), AK_EINVALID);
	assert_int_equal(ak_b64_decode(back, sizeof(back), "Zm-v", 4), AK_EINVALID);
	assert_int_equal(ak_b64_decode(back, sizeof(back), "Zg==Zg==", 8), AK_EINVALID);
	assert_int_equal(ak_b64_decode(back, 2, "Zm9v", 4), AK_EINVALID);
	assert_int_equal(ak_b64url_decode(back, sizeof(back), "Zh", 2), AK_EINVALID);
	assert_int_equal(ak_b64url_decode(back, sizeof(back), "Zm9v/", 5), AK_EINVALID);
	assert_int_equal(ak_b64url_decode(back, sizeof(back), "Zg==", 4), AK_EINVALID);
	assert_int_equal(ak_hex_value('a'), 10);
	assert_int_equal(ak_hex_value('F'), 15);
	assert_int_equal(ak_hex_value('g'), -1);
	assert_int_equal(ak_hex_decode(back, 2, "00fF", 4), 0);
	assert_int_equal(back[1], 0xff);
	assert_int_equal(ak_hex_decode(back, 2, "00fg", 4), AK_EINVALID);
}

static void test_b64__random_hex_is_hex_and_fresh(void **state)
{
	char a[129], b[129];

	(void)state;
	assert_int_equal(ak_random_hex(a, 64), 0);
	assert_int_equal(strlen(a), 128);
	assert_int_equal(strspn(a, "0123456789abcdef"), 128);
	assert_int_equal(ak_random_hex(b, 64), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(ak_random_hex(a, 65), AK_ERROR);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_b64__rfc4648_vectors),
	cmocka_unit_test(test_b64__round_trips_every_length_and_byte),
	cmocka_unit_test(test_b64__refuses_what_is_not_canonical),
	cmocka_unit_test(test_b64__random_hex_is_hex_and_fresh),
};

AK_UNIT_MAIN(tests)
