/*
 * tests/fuzz/fuzz_template.c - libFuzzer target for campaign templates
 * and merging (auditd/delivery/message.c).
 *
 * Input: a template, then a line "--values--", then one value per line
 * (used for the template's fields in order, cycling). Whenever the
 * template parses and every value passes delivery_value_check(), the
 * rendered message must: have a header block of 7-bit text with CRLF line
 * ends and no line over 998 bytes; have exactly the header fields the
 * template kept plus the engine's own (no value can start a header of its
 * own: header injection is the bug this hunts; only the MIME fields of a
 * body made 8-bit by a value may come and go); end in CRLF.
 */
#include "auditd/delivery/delivery_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXV 64

/* Does a header line start one of the MIME fields the engine adds when a
 * body is not 7-bit (which values may legitimately cause)? */
static int mime_field(const char *p, size_t len)
{
	static const char *const names[] = {"MIME-Version:", "Content-Type:",
					    "Content-Transfer-Encoding:", NULL};
	const char *const *n;

	for (n = names; *n; n++)
		if (len >= strlen(*n) && strncasecmp(p, *n, strlen(*n)) == 0)
			return 1;
	return 0;
}

/* Header fields (lines not starting with white space) before the body,
 * not counting the MIME fields. */
static size_t count_fields(const char *m, size_t len, size_t *body)
{
	size_t i = 0, n = 0;

	while (i < len) {
		const char *e = memmem(m + i, len - i, "\r\n", 2);
		size_t l;

		if (e == NULL)
			abort(); /* the header block must end in CRLF CRLF */
		l = (size_t)(e - (m + i));
		if (l == 0) {
			*body = i + 2;
			return n;
		}
		if (l > 998)
			abort();
		for (size_t k = i; k < i + l; k++)
			if ((unsigned char)m[k] >= 0x80 || m[k] == '\r' || m[k] == '\n' ||
			    m[k] == 0)
				abort();
		if (m[i] != ' ' && m[i] != '\t' && !mime_field(m + i, l))
			n++;
		i += l + 2;
	}
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *sep = memmem(in, size, "\n--values--\n", 12);
	size_t tlen = sep ? (size_t)(sep - in) : size, nv = 0, i, body = 0, fields;
	char *vals_copy = NULL;
	const char *vals[MAXV], *fv[256];
	struct delivery_template *t = NULL;
	struct ak_buf out = AK_BUF_INIT(1 << 22), scratch = AK_BUF_INIT(1 << 22);
	struct delivery_render r;

	if (delivery_template_parse(&t, in, tlen) != 0)
		return 0;
	if (sep) {
		size_t vlen = size - tlen - 12;
		char *p;

		vals_copy = malloc(vlen + 1);
		if (vals_copy == NULL)
			goto done;
		memcpy(vals_copy, sep + 12, vlen);
		vals_copy[vlen] = '\0';
		for (p = vals_copy; nv < MAXV;) {
			char *nl = strchr(p, '\n');

			vals[nv++] = p;
			if (nl == NULL)
				break;
			*nl = '\0';
			p = nl + 1;
		}
	}
	if (nv == 0)
		vals[nv++] = "";
	for (i = 0; i < delivery_template_nfields(t) && i < 256; i++) {
		fv[i] = vals[i % nv];
		if (delivery_value_check(t, i, fv[i], strlen(fv[i])) != 0)
			goto done;
	}
	if (delivery_template_nfields(t) > 256)
		goto done;
	memset(&r, 0, sizeof(r));
	r.rcpt = "rcpt@example.org";
	r.from = "from@example.com";
	r.message_id = "<1.nonce@example.com>";
	r.list_unsubscribe = (size & 1) ? "https://example.com/v1/unsubscribe?t=x" : NULL;
	r.date_us = 1;
	r.values = fv;
	r.nfields = delivery_template_nfields(t);
	if (delivery_render(&out, &scratch, t, &r) != 0)
		goto done;
	fields = count_fields(out.data, out.len, &body);
	(void)fields;
	if (out.len < 2 || out.data[out.len - 2] != '\r' || out.data[out.len - 1] != '\n') {
		if (out.len != body) /* an empty body is fine */
			abort();
	}
	/* The number of fields rendered does not depend on the values: render
	 * again with every value empty and compare. */
	{
		const char *empty[256];
		struct ak_buf again = AK_BUF_INIT(1 << 22);
		size_t b2 = 0;

		for (i = 0; i < r.nfields; i++)
			empty[i] = "";
		r.values = empty;
		if (delivery_render(&again, &scratch, t, &r) == 0 &&
		    count_fields(again.data, again.len, &b2) != fields)
			abort();
		ak_buf_free(&again);
	}
done:
	ak_buf_free(&out);
	ak_buf_free(&scratch);
	delivery_template_free(t);
	free(vals_copy);
	return 0;
}
