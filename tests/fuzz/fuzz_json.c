/*
 * tests/fuzz/fuzz_json.c - libFuzzer target for lib/jcs.c.
 *
 * Any input must be parsed or refused without a crash, and what is
 * accepted must hold up four ways, each an abort() when it does not:
 *   - ak_jcs_canonicalize() agrees with parse + write on a reused document
 *     (same result code, same message, same bytes);
 *   - the canonical form is a fixed point: parsing and writing it again
 *     gives the same bytes;
 *   - members are in strictly increasing UTF-16 order (checked against a
 *     slow reference that really transcodes) and ak_jv_get() finds each;
 *     every value's offset points at its first byte, every name's at its
 *     opening quote;
 *   - the jansson writer gives the same bytes, from ak_jv_to_jansson's copy
 *     and from jansson's own parse of the input when jansson accepts it.
 * The documents are kept from one input to the next, so arena reuse is
 * fuzzed too. `make test` replays the seed corpus via tests/fuzz/replay.c.
 */
#include "lib/buf.h"
#include "lib/error.h"
#include "lib/jcs.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ak_jdoc *doc, *doc2;

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_json: %s (%s)\n", what, ak_error_last());
		abort();
	}
}

static int same(const struct ak_buf *a, const struct ak_buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* UTF-16 code units of a valid UTF-8 string, written to out (room for
 * len units is always enough); their count. */
static size_t to_utf16(const unsigned char *s, size_t len, uint16_t *out)
{
	size_t i = 0, n = 0;
	uint32_t cp;

	while (i < len) {
		if (s[i] < 0x80) {
			cp = s[i++];
		} else if (s[i] < 0xE0) {
			cp = (s[i] & 0x1Fu) << 6 | (s[i + 1] & 0x3Fu);
			i += 2;
		} else if (s[i] < 0xF0) {
			cp = (s[i] & 0x0Fu) << 12 | (s[i + 1] & 0x3Fu) << 6 | (s[i + 2] & 0x3Fu);
			i += 3;
		} else {
			cp = (s[i] & 0x07u) << 18 | (s[i + 1] & 0x3Fu) << 12 |
			     (s[i + 2] & 0x3Fu) << 6 | (s[i + 3] & 0x3Fu);
			i += 4;
		}
		if (cp >= 0x10000) {
			out[n++] = (uint16_t)(0xD800 + ((cp - 0x10000) >> 10));
			out[n++] = (uint16_t)(0xDC00 + ((cp - 0x10000) & 0x3FF));
		} else {
			out[n++] = (uint16_t)cp;
		}
	}
	return n;
}

/* The RFC 8785 order, done the slow and obvious way. */
static int reference_cmp(const struct ak_jmember *a, const struct ak_jmember *b)
{
	uint16_t *ua = malloc((a->key_len + 1) * sizeof(*ua));
	uint16_t *ub = malloc((b->key_len + 1) * sizeof(*ub));
	size_t na, nb, i;
	int c = 0;

	check(ua != NULL && ub != NULL, "out of memory");
	na = to_utf16((const unsigned char *)a->key, a->key_len, ua);
	nb = to_utf16((const unsigned char *)b->key, b->key_len, ub);
	for (i = 0; i < na && i < nb && c == 0; i++)
		c = ua[i] < ub[i] ? -1 : ua[i] > ub[i];
	if (c == 0)
		c = na < nb ? -1 : na > nb;
	free(ua);
	free(ub);
	return c;
}

/* The first byte a value of that type can start with, at its offset. */
static int starts_right(const struct ak_jv *v, const char *text, size_t len)
{
	char c;

	if (v->offset >= len)
		return 0;
	c = text[v->offset];
	switch (v->type) {
	case AK_JNULL:
		return c == 'n';
	case AK_JFALSE:
		return c == 'f';
	case AK_JTRUE:
		return c == 't';
	case AK_JINT:
		return c == '-' || (c >= '0' && c <= '9');
	case AK_JSTRING:
		return c == '"';
	case AK_JARRAY:
		return c == '[';
	case AK_JOBJECT:
		return c == '{';
	}
	return 0;
}

static void check_tree(const struct ak_jv *v, const char *text, size_t len)
{
	size_t i;

	check(starts_right(v, text, len), "offset does not point at the value");
	if (v->type == AK_JARRAY) {
		for (i = 0; i < v->u.a.n; i++)
			check_tree(v->u.a.items[i], text, len);
		return;
	}
	if (v->type != AK_JOBJECT)
		return;
	for (i = 0; i < v->u.o.n; i++) {
		const struct ak_jmember *m = &v->u.o.members[i];

		if (i > 0) {
			int c = ak_jcs_keycmp(m[-1].key, m[-1].key_len, m->key, m->key_len);

			check(c < 0, "members not in strictly increasing order");
			check(reference_cmp(&m[-1], m) < 0,
			      "member order differs from UTF-16 order");
		}
		check(m->key[m->key_len] == '\0', "name not NUL-terminated");
		check(m->key_offset < m->value->offset && text[m->key_offset] == '"',
		      "key_offset does not point at the name");
		if (strlen(m->key) == m->key_len)
			check(ak_jv_get(v, m->key) == m->value, "ak_jv_get misses a member");
		check_tree(m->value, text, len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct ak_buf c1 = AK_BUF_INIT(0), c2 = AK_BUF_INIT(0), c3 = AK_BUF_INIT(0),
	              c4 = AK_BUF_INIT(0);
	const struct ak_jv *v, *v2;
	char msg[2048];
	json_error_t jerr;
	json_t *j;
	size_t i;
	int rc, rc2;

	if (doc == NULL)
		check(ak_jdoc_new(&doc, 0) == 0 && ak_jdoc_new(&doc2, 0) == 0, "ak_jdoc_new");

	rc = ak_json_parse(doc, text, size, &v);
	snprintf(msg, sizeof(msg), "%s", ak_error_last());
	rc2 = ak_jcs_canonicalize(&c2, text, size);
	check(rc == rc2, "ak_jcs_canonicalize and ak_json_parse disagree");
	if (rc != 0) {
		check(strcmp(msg, ak_error_last()) == 0, "different messages for the same input");
		check(rc != AK_EINVALID || strncmp(msg, "column ", 7) == 0,
		      "message without column");
		check(c2.len == 0, "output appended on failure");
		goto done;
	}
	check(ak_jcs_write(&c1, v) == 0, "ak_jcs_write");
	check(same(&c1, &c2), "ak_jcs_canonicalize differs from parse + write");
	for (i = 0; i < c1.len; i++)
		check((unsigned char)c1.data[i] >= 0x20, "raw control character in output");
	check_tree(v, text, size);

	/* Fixed point. */
	check(ak_json_parse(doc2, c1.data, c1.len, &v2) == 0, "canonical output does not parse");
	check(ak_jcs_write(&c3, v2) == 0, "ak_jcs_write of canonical input");
	check(same(&c1, &c3), "canonical form is not a fixed point");

	/* Through jansson and back. */
	j = ak_jv_to_jansson(v);
	check(j != NULL, "ak_jv_to_jansson");
	check(ak_jcs_write_jansson(&c4, j) == 0, "ak_jcs_write_jansson of a parsed value");
	check(same(&c1, &c4), "jansson writer differs from the parser's");
	json_decref(j);

	/* jansson's own reading of the input, where it accepts it. */
	j = json_loadb(text, size, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES,
	               &jerr);
	if (j != NULL) {
		ak_buf_reset(&c4);
		check(ak_jcs_write_jansson(&c4, j) == 0, "ak_jcs_write_jansson of jansson's parse");
		check(same(&c1, &c4), "jansson's parse canonicalizes differently");
		json_decref(j);
	}
done:
	ak_buf_free(&c1);
	ak_buf_free(&c2);
	ak_buf_free(&c3);
	ak_buf_free(&c4);
	return 0;
}
