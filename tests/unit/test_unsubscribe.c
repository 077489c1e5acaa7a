/*
 * tests/unit/test_unsubscribe.c - one-click unsubscribe tokens
 * (auditd/unsubscribe.h): the round trip, the exact byte layout, every
 * kind of tampering refused, expiry and clock skew, and the secret file.
 */
#include "tests/unit/unit.h"

#include "auditd/unsubscribe.h"
#include "lib/b64.h"
#include "lib/error.h"

#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char secret[] = "0123456789abcdef0123456789abcdef";
#define SECRET_LEN (sizeof(secret) - 1)
#define T0         ((int64_t)1780000000 * 1000000) /* 2026-05-28 */
#define DAY        ((int64_t)86400 * 1000000)

static char *make(const char *subject, const char *list, const char *campaign, int64_t issued)
{
	struct ak_buf b = AK_BUF_INIT(0);

	assert_int_equal(unsub_token_make(&b, secret, SECRET_LEN, subject, list, campaign, issued),
	                 0);
	return ak_buf_detach(&b, NULL);
}

static int check(const char *tok, int64_t now, int64_t max_age, struct unsub_token *out)
{
	return unsub_token_check(tok, strlen(tok), secret, SECRET_LEN, now, max_age, out);
}

static void test_unsubscribe__round_trip(void **state)
{
	struct unsub_token t;
	char *tok = make("bob@example.com", "newsletter", "spring-sale", T0);

	(void)state;
	assert_int_equal(check(tok, T0 + DAY, 90 * DAY, &t), 0);
	assert_string_equal(t.subject, "bob@example.com");
	assert_string_equal(t.list, "newsletter");
	assert_string_equal(t.campaign, "spring-sale");
	assert_int_equal(t.issued_us, T0);
	assert_int_equal(strlen(t.id), 32);
	free(tok);
}

static void test_unsubscribe__empty_campaign_and_long_fields(void **state)
{
	char longs[256];
	struct unsub_token t;
	char *tok;

	(void)state;
	memset(longs, 'x', 255);
	longs[255] = '\0';
	tok = make(longs, longs, "", T0);
	assert_int_equal(check(tok, T0, 0, &t), 0);
	assert_string_equal(t.subject, longs);
	assert_string_equal(t.campaign, "");
	free(tok);
	/* 256 bytes do not fit the one-byte length. */
	{
		char toolong[257];
		struct ak_buf b = AK_BUF_INIT(0);

		memset(toolong, 'y', 256);
		toolong[256] = '\0';
		assert_int_equal(unsub_token_make(&b, secret, SECRET_LEN, toolong, "l", "", T0),
		                 AK_EINVALID);
		assert_int_equal(unsub_token_make(&b, secret, SECRET_LEN, "", "l", "", T0),
		                 AK_EINVALID);
		ak_buf_free(&b);
	}
}

/* The layout of unsubscribe.h, byte for byte: the delivery engine and
 * outside tools may make tokens without this code. */
static void test_unsubscribe__layout_is_the_documented_one(void **state)
{
	unsigned char want[128], mac[32];
	unsigned int maclen = 0;
	char text[200];
	size_t n = 0;
	uint64_t secs = (uint64_t)(T0 / 1000000);
	char *tok = make("a@b.c", "L", "C", T0);
	int i;

	(void)state;
	want[n++] = 0x01;
	for (i = 7; i >= 0; i--)
		want[n++] = (unsigned char)(secs >> (8 * i));
	want[n++] = 5;
	memcpy(want + n, "a@b.c", 5);
	n += 5;
	want[n++] = 1;
	want[n++] = 'L';
	want[n++] = 1;
	want[n++] = 'C';
	HMAC(EVP_sha256(), secret, (int)SECRET_LEN, want, n, mac, &maclen);
	memcpy(want + n, mac, 16);
	n += 16;
	ak_b64url_encode(text, want, n);
	assert_string_equal(tok, text);
	free(tok);
}

static void test_unsubscribe__every_flipped_bit_is_refused(void **state)
{
	char *tok = make("bob@example.com", "newsletter", "c", T0);
	unsigned char raw[300];
	char text[400];
	struct unsub_token t;
	int n = ak_b64url_decode(raw, sizeof(raw), tok, strlen(tok)), i, bit;

	(void)state;
	assert_true(n > 0);
	for (i = 0; i < n; i++)
		for (bit = 0; bit < 8; bit++) {
			raw[i] ^= (unsigned char)(1 << bit);
			ak_b64url_encode(text, raw, (size_t)n);
			assert_int_equal(check(text, T0, 0, &t), AK_EINVALID);
			raw[i] ^= (unsigned char)(1 << bit);
		}
	free(tok);
}

static void test_unsubscribe__truncated_extended_and_garbled_are_refused(void **state)
{
	char *tok = make("bob@example.com", "newsletter", "c", T0);
	size_t len = strlen(tok), k;
	struct unsub_token t;
	char buf[400];

	(void)state;
	for (k = 0; k < len; k++)
		assert_int_equal(unsub_token_check(tok, k, secret, SECRET_LEN, T0, 0, &t),
		                 AK_EINVALID);
	snprintf(buf, sizeof(buf), "%sA", tok);
	assert_int_equal(check(buf, T0, 0, &t), AK_EINVALID);
	snprintf(buf, sizeof(buf), "%sAAAA", tok);
	assert_int_equal(check(buf, T0, 0, &t), AK_EINVALID);
	snprintf(buf, sizeof(buf), "%s=", tok);
	assert_int_equal(check(buf, T0, 0, &t), AK_EINVALID);
	snprintf(buf, sizeof(buf), "%s", tok);
	buf[3] = '+'; /* standard base64, not base64url */
	assert_int_equal(check(buf, T0, 0, &t), AK_EINVALID);
	assert_int_equal(check("", T0, 0, &t), AK_EINVALID);
	free(tok);
}

static void test_unsubscribe__another_secret_is_refused(void **state)
{
	char *tok = make("bob@example.com", "newsletter", "c", T0);
	struct unsub_token t;
	static const char other[] = "fedcba9876543210fedcba9876543210";

	(void)state;
	assert_int_equal(unsub_token_check(tok, strlen(tok), other, sizeof(other) - 1, T0, 0, &t),
	                 AK_EINVALID);
	assert_string_equal(t.subject, ""); /* nothing leaks out of a refused token */
	free(tok);
}

/* A valid MAC over a wrong structure (made with the secret, as a
 * confused issuer might): still refused. */
static void test_unsubscribe__well_signed_but_malformed_is_refused(void **state)
{
	unsigned char p[64], mac[32];
	unsigned int maclen;
	char text[128];
	struct unsub_token t;
	size_t n = 0;

	(void)state;
	p[n++] = 0x01;
	memset(p + n, 0, 8);
	p[n + 7] = 1;
	n += 8;
	p[n++] = 40; /* subject length past the end */
	memcpy(p + n, "abc", 3);
	n += 3;
	HMAC(EVP_sha256(), secret, (int)SECRET_LEN, p, n, mac, &maclen);
	memcpy(p + n, mac, 16);
	ak_b64url_encode(text, p, n + 16);
	assert_int_equal(check(text, T0, 0, &t), AK_EINVALID);
	/* version 2 */
	n = 0;
	p[n++] = 0x02;
	memset(p + n, 0, 8);
	n += 8;
	p[n++] = 1, p[n++] = 'a', p[n++] = 1, p[n++] = 'b', p[n++] = 0;
	HMAC(EVP_sha256(), secret, (int)SECRET_LEN, p, n, mac, &maclen);
	memcpy(p + n, mac, 16);
	ak_b64url_encode(text, p, n + 16);
	assert_int_equal(check(text, T0, 0, &t), AK_EINVALID);
	assert_non_null(strstr(ak_error_last(), "version"));
	/* a NUL inside the subject */
	n = 0;
	p[n++] = 0x01;
	memset(p + n, 0, 8);
	n += 8;
	p[n++] = 3, p[n++] = 'a', p[n++] = 0, p[n++] = 'b';
	p[n++] = 1, p[n++] = 'l', p[n++] = 0;
	HMAC(EVP_sha256(), secret, (int)SECRET_LEN, p, n, mac, &maclen);
	memcpy(p + n, mac, 16);
	ak_b64url_encode(text, p, n + 16);
	assert_int_equal(check(text, T0, 0, &t), AK_EINVALID);
}

static void test_unsubscribe__expiry_and_clock_skew(void **state)
{
	char *tok = make("bob@example.com", "newsletter", "", T0);
	struct unsub_token t;

	(void)state;
	/* valid for the whole max age, and not a second longer */
	assert_int_equal(check(tok, T0 + 60 * DAY, 60 * DAY, &t), 0);
	assert_int_equal(check(tok, T0 + 60 * DAY + 1000000, 60 * DAY, &t), AK_EINVALID);
	assert_non_null(strstr(ak_error_last(), "expired"));
	/* max_age 0: no limit */
	assert_int_equal(check(tok, T0 + 3650 * DAY, 0, &t), 0);
	/* a minute of skew is tolerated; more is "issued in the future" */
	assert_int_equal(check(tok, T0 - 59 * 1000000, 60 * DAY, &t), 0);
	assert_int_equal(check(tok, T0 - 61 * 1000000, 60 * DAY, &t), AK_EINVALID);
	free(tok);
}

static void test_unsubscribe__secret_file(void **state)
{
	char dir[] = "/tmp/akashi-unit-XXXXXX", path[300];
	unsigned char *s = NULL;
	size_t len = 0;
	struct stat sb;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/unsubscribe.key", dir);
	assert_int_equal(unsub_secret_load(path, &s, &len), AK_ENOTFOUND);
	assert_int_equal(unsub_secret_create(path), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(unsub_secret_create(path), AK_EEXISTS);
	assert_int_equal(unsub_secret_load(path, &s, &len), 0);
	assert_int_equal(len, 32);
	unsub_secret_free(s, len);
	/* readable by others: refused */
	chmod(path, 0644);
	assert_int_equal(unsub_secret_load(path, &s, &len), AK_ERROR);
	unlink(path);
	/* too short */
	f = fopen(path, "w");
	fputs("short", f);
	fclose(f);
	chmod(path, 0600);
	assert_int_equal(unsub_secret_load(path, &s, &len), AK_ERROR);
	unlink(path);
	rmdir(dir);
}

static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unsubscribe__round_trip),
        cmocka_unit_test(test_unsubscribe__empty_campaign_and_long_fields),
        cmocka_unit_test(test_unsubscribe__layout_is_the_documented_one),
        cmocka_unit_test(test_unsubscribe__every_flipped_bit_is_refused),
        cmocka_unit_test(test_unsubscribe__truncated_extended_and_garbled_are_refused),
        cmocka_unit_test(test_unsubscribe__another_secret_is_refused),
        cmocka_unit_test(test_unsubscribe__well_signed_but_malformed_is_refused),
        cmocka_unit_test(test_unsubscribe__expiry_and_clock_skew),
        cmocka_unit_test(test_unsubscribe__secret_file),
};

AK_UNIT_MAIN(tests)
