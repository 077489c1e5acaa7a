/*
 * lib/b64.h - standard base64 (RFC 4648 section 4, with padding) and hex.
 * Checkpoints, proofs and bundles carry hashes in base64; hex is for people.
 */
#ifndef AK_B64_H
#define AK_B64_H

#include <stddef.h>

/* Length of the base64 text for n bytes, without NUL. */
#define AK_B64_LEN(n) ((((n) + 2) / 3) * 4)

/* Write the base64 of in[0..n) and a NUL to out (AK_B64_LEN(n) + 1 bytes).
 * Returns the text length. */
size_t ak_b64_encode(char *out, const void *in, size_t n);

/* Decode strict base64 (padding required, no white space) into out, which
 * has room for cap bytes. Returns the decoded length, or AK_EINVALID. */
int ak_b64_decode(void *out, size_t cap, const char *in, size_t n);

/* base64url (RFC 4648 section 5) without padding, as URLs carry it. */
#define AK_B64URL_LEN(n) (((n) * 4 + 2) / 3)

/* Write the base64url of in[0..n) and a NUL to out (AK_B64URL_LEN(n) + 1
 * bytes). Returns the text length. */
size_t ak_b64url_encode(char *out, const void *in, size_t n);

/* Decode strict unpadded base64url (no '=', no white space, no stray low
 * bits) into out, which has room for cap bytes. Returns the decoded length,
 * or AK_EINVALID. */
int ak_b64url_decode(void *out, size_t cap, const char *in, size_t n);

/* Write the lower-case hex of in[0..n) and a NUL to out (2n + 1 bytes). */
void ak_hex_encode(char *out, const void *in, size_t n);

/* n random bytes (at most 64, from OpenSSL's generator) as 2n lower-case
 * hex digits and a NUL in out: ids, nonces and tags. 0, or AK_ERROR when
 * no random bytes could be had. */
int ak_random_hex(char *out, size_t n);

/* The value of one hex digit (either case), or -1. */
int ak_hex_value(int c);

/* Decode exactly 2*cap hex digits into out; 0 or AK_EINVALID. */
int ak_hex_decode(void *out, size_t cap, const char *in, size_t n);

#endif
