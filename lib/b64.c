/*
 * lib/b64.c - base64 and hex (see lib/b64.h).
 */
#include "lib/b64.h"

#include "lib/error.h"

#include <openssl/rand.h>
#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The encoder of both alphabets; pad: end with '=' to a multiple of 4. */
static size_t encode(char *out, const void *in, size_t n, const char *abc, int pad)
{
	const unsigned char *p = in;
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = abc[v >> 18];
		out[o++] = abc[(v >> 12) & 63];
		out[o++] = abc[(v >> 6) & 63];
		out[o++] = abc[v & 63];
	}
	if (n > i) {
		v = (uint32_t)p[i] << 16 | (n - i == 2 ? (uint32_t)p[i + 1] << 8 : 0);
		out[o++] = abc[v >> 18];
		out[o++] = abc[(v >> 12) & 63];
		if (n - i == 2)
			out[o++] = abc[(v >> 6) & 63];
		else if (pad)
			out[o++] = '=';
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

size_t ak_b64_encode(char *out, const void *in, size_t n)
{
	return encode(out, in, n, alphabet, 1);
}

/* The value of a digit of abc, or -1. */
static int value(char c, const char *abc)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == abc[62])
		return 62;
	if (c == abc[63])
		return 63;
	return -1;
}

int ak_b64_decode(void *out, size_t cap, const char *in, size_t n)
{
	unsigned char *o = out;
	size_t i, len = 0;

	if (n % 4 != 0)
		return ak_error_code(AK_EINVALID, "base64 length is not a multiple of 4");
	for (i = 0; i < n; i += 4) {
		int a = value(in[i], alphabet), b = value(in[i + 1], alphabet);
		int c = in[i + 2] == '=' ? -2 : value(in[i + 2], alphabet);
		int d = in[i + 3] == '=' ? -2 : value(in[i + 3], alphabet);
		size_t k;
		uint32_t v;

		if (a < 0 || b < 0 || c == -1 || d == -1 || (c == -2 && d != -2) ||
		    ((c == -2 || d == -2) && i + 4 != n))
			return ak_error_code(AK_EINVALID, "not base64");
		k = c == -2 ? 1 : d == -2 ? 2 : 3;
		if (len + k > cap)
			return ak_error_code(AK_EINVALID, "base64 value too long");
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)(c < 0 ? 0 : c) << 6 |
		    (uint32_t)(d < 0 ? 0 : d);
		/* Non-canonical encodings (stray low bits) are refused. */
		if ((k == 1 && (v & 0xffff)) || (k == 2 && (v & 0xff)))
			return ak_error_code(AK_EINVALID, "not canonical base64");
		o[len++] = (unsigned char)(v >> 16);
		if (k > 1)
			o[len++] = (unsigned char)(v >> 8);
		if (k > 2)
			o[len++] = (unsigned char)v;
	}
	return (int)len;
}

size_t ak_b64url_encode(char *out, const void *in, size_t n)
{
	return encode(out, in, n, url_alphabet, 0);
}

int ak_b64url_decode(void *out, size_t cap, const char *in, size_t n)
{
	unsigned char *o = out;
	size_t i, len = 0;
	uint32_t v = 0;
	int bits = 0;

	if (n % 4 == 1)
		return ak_error_code(AK_EINVALID, "not base64url (impossible length)");
	for (i = 0; i < n; i++) {
		int d = value(in[i], url_alphabet);

		if (d < 0)
			return ak_error_code(AK_EINVALID, "not base64url");
		v = (v << 6 | (uint32_t)d) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (len >= cap)
				return ak_error_code(AK_EINVALID, "base64url value too long");
			o[len++] = (unsigned char)(v >> bits);
		}
	}
	/* The bits left over must be zero: one text per byte string. */
	if (bits && (v & ((1u << bits) - 1)))
		return ak_error_code(AK_EINVALID, "not canonical base64url");
	return (int)len;
}

void ak_hex_encode(char *out, const void *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = in;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int ak_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ak_hex_decode(void *out, size_t cap, const char *in, size_t n)
{
	unsigned char *o = out;
	size_t i;

	if (n != 2 * cap)
		return ak_error_code(AK_EINVALID, "expected %zu hex digits", 2 * cap);
	for (i = 0; i < cap; i++) {
		int a = ak_hex_value(in[2 * i]), b = ak_hex_value(in[2 * i + 1]);
		if (a < 0 || b < 0)
			return ak_error_code(AK_EINVALID, "not a hex digit");
		o[i] = (unsigned char)(a << 4 | b);
	}
	return 0;
}

int ak_random_hex(char *out, size_t n)
{
	unsigned char rnd[64];

	if (n > sizeof(rnd) || RAND_bytes(rnd, (int)n) != 1)
		return ak_error_set("no random bytes");
	ak_hex_encode(out, rnd, n);
	return 0;
}
