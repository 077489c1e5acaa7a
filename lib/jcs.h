/*
 * lib/jcs.h - strict JSON parsing and RFC 8785 (JCS) canonical serialization.
 *
 * Evidence entries are stored and hashed as canonical JSON: UTF-8, no
 * insignificant white space, object members sorted by the UTF-16 code units
 * of their names, strings with the minimal escapes of RFC 8785 section
 * 3.2.2.2. akashi allows no floating-point numbers at all, so every number is
 * an integer within the I-JSON safe range, -(2^53-1) .. 2^53-1, and is
 * written in plain decimal (RFC 8785's ES6 rule for such integers).
 *
 * The parser is strict RFC 8259 with akashi's extra rules, each an error
 * with the 1-based byte column and a reason:
 *   - a number with a fraction or exponent ("floating-point number not
 *     allowed"), or an integer outside the safe range;
 *   - a duplicate object member name;
 *   - invalid UTF-8 (overlong forms, UTF-8-encoded surrogates, > U+10FFFF),
 *     a lone or misordered \u surrogate escape, a raw control character
 *     (< 0x20) inside a string;
 *   - nesting deeper than AK_JSON_MAX_DEPTH;
 *   - anything but white space after the value.
 * "-0" is accepted and is the integer 0.
 *
 * Parsed values live in a document's arena; a document is reused from one
 * parse to the next (each parse resets it), which keeps the hot ingest path
 * free of per-value malloc.
 *
 * Ownership: ak_jdoc_new() returns a document the caller frees with
 * ak_jdoc_free(). Every struct ak_jv reachable from a parse is borrowed from
 * the document and valid until the next parse with, or free of, that
 * document. Functions writing to a struct ak_buf append to it.
 */
#ifndef AK_JCS_H
#define AK_JCS_H

#include "lib/buf.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define AK_JSON_MAX_DEPTH 64
#define AK_JSON_SAFE_INT_MAX INT64_C(9007199254740991) /* 2^53 - 1 */

enum ak_jtype {
	AK_JNULL,
	AK_JFALSE,
	AK_JTRUE,
	AK_JINT,
	AK_JSTRING,
	AK_JARRAY,
	AK_JOBJECT,
};

struct ak_jv;

struct ak_jmember {
	const char *key; /* decoded UTF-8, NUL-terminated (may contain NUL) */
	size_t key_len;
	struct ak_jv *value;
	size_t key_offset; /* where the name's opening quote is (see ak_jv.offset) */
};

struct ak_jv {
	enum ak_jtype type;
	/* Byte offset of the value's first byte in the text it was parsed
	 * from, 0-based, so that a caller checking meaning rather than syntax
	 * (policies/) can say where a value is. Values built by other means
	 * than ak_json_parse() leave it 0. */
	size_t offset;
	union {
		int64_t i; /* AK_JINT */
		struct {   /* AK_JSTRING: decoded UTF-8, NUL-terminated (may contain NUL) */
			const char *ptr;
			size_t len;
		} s;
		struct { /* AK_JARRAY */
			struct ak_jv **items;
			size_t n;
		} a;
		struct { /* AK_JOBJECT: members in canonical (RFC 8785) order */
			struct ak_jmember *members;
			size_t n;
		} o;
	} u;
};

struct ak_jdoc;

/* A new, empty document whose arena may grow to max_bytes (0: 64 MiB).
 * 0 or AK_ENOMEM. The caller frees it with ak_jdoc_free(). */
int ak_jdoc_new(struct ak_jdoc **out, size_t max_bytes);
void ak_jdoc_free(struct ak_jdoc *doc);

/* Parse exactly one JSON value from text[0..len) (white space around it is
 * allowed) into doc, discarding whatever doc held before. On success *out is
 * the root value (borrowed from doc). AK_EINVALID with a message of the form
 * "column N: reason", AK_ETOOBIG when the arena limit is reached, AK_ENOMEM. */
int ak_json_parse(struct ak_jdoc *doc, const char *text, size_t len, const struct ak_jv **out);

/* The member named key (NUL-terminated UTF-8) of an object, or NULL when v
 * is not an object or has no such member. Borrowed. Binary search. */
const struct ak_jv *ak_jv_get(const struct ak_jv *v, const char *key);

/* "null", "boolean", "integer", "string", "array" or "object". */
const char *ak_jv_type_name(const struct ak_jv *v);

/* Append the canonical form of v to out. 0, AK_ETOOBIG or AK_ENOMEM. */
int ak_jcs_write(struct ak_buf *out, const struct ak_jv *v);

/* Append s[0..len) as a canonical JSON string literal, quotes included.
 * AK_EINVALID when s is not valid UTF-8 (no surrogates, <= U+10FFFF). */
int ak_jcs_write_string(struct ak_buf *out, const char *s, size_t len);

/* Append the canonical form of a jansson value. AK_EINVALID (with the JSON
 * path of the offending value, e.g. "rows[3].count") for a real number, an
 * integer outside the safe range, or a string that is not valid UTF-8. */
int ak_jcs_write_jansson(struct ak_buf *out, const json_t *v);

/* What a jansson value is, for messages: "an object", "a string",
 * "a floating-point number", "null", ... (static strings). */
const char *ak_json_type_name(const json_t *v);

/* Parse text and append its canonical form: ak_json_parse + ak_jcs_write
 * with a private document. Same errors as ak_json_parse(). */
int ak_jcs_canonicalize(struct ak_buf *out, const char *text, size_t len);

/* A new jansson value equal to v (a new reference the caller owns), or NULL
 * when out of memory. */
json_t *ak_jv_to_jansson(const struct ak_jv *v);

/* Compare two UTF-8 strings by their UTF-16 code units (RFC 8785 member
 * order): <0, 0, >0. Both must be valid UTF-8. */
int ak_jcs_keycmp(const char *a, size_t alen, const char *b, size_t blen);

/* ---- UTF-8 ---- */

/* The offset of the first byte of s[0..len) that is not part of
 * well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF), or len when all of it is. */
size_t ak_utf8_valid_prefix(const char *s, size_t len);

/* s[0..len) as well-formed UTF-8 in out (cap >= 1 bytes, NUL-terminated):
 * each byte that is not part of a well-formed sequence, and each NUL,
 * becomes U+FFFD; what does not fit in cap - 1 bytes is left out, at a
 * character boundary. For outside text echoed in answers and records.
 * Returns the length written. */
size_t ak_utf8_clean(char *out, size_t cap, const char *s, size_t len);

/* ---- reading fields of canonical text without a document ---- */

struct ak_jspan {
	const char *ptr; /* the value's text; for a string, its content without the quotes */
	size_t len;
	int type;        /* AK_JSTRING, AK_JOBJECT, AK_JARRAY, AK_JINT, ... ; -1: absent */
	int escaped;     /* a string with backslash escapes: ptr is not the decoded text */
};

/* Find the members keys[0..n) (ASCII names, sorted) among the
 * top-level members of the canonical JSON object text[0..len) in one pass,
 * without building a document. out[i] gets each one's value span (type -1
 * when absent). For the hot loops over stored entries, whose bodies are
 * canonical by construction; AK_EINVALID when the text is not an object
 * of that form. */
int ak_jcs_fields(const char *text, size_t len, const char *const *keys, size_t n,
		  struct ak_jspan *out);

#endif
