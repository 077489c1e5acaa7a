/*
 * lib/buf.c - growable byte buffer with a hard limit (see lib/buf.h).
 */
#include "lib/buf.h"

#include "lib/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ak_buf_init(struct ak_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

static size_t limit(const struct ak_buf *b)
{
	return b->max ? b->max : AK_BUF_DEFAULT_MAX;
}

/* Make room for n more bytes plus the NUL; 0, AK_ETOOBIG or AK_ENOMEM. */
static int grow(struct ak_buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > limit(b) || b->len > limit(b) - n)
		return ak_error_code(AK_ETOOBIG, "input exceeds the limit of %zu bytes", limit(b));
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		return ak_error_oom();
	b->data = p;
	b->cap = cap;
	return 0;
}

char *ak_buf_reserve(struct ak_buf *b, size_t n)
{
	if (grow(b, n) != 0)
		return NULL;
	return b->data + b->len;
}

void ak_buf_commit(struct ak_buf *b, size_t n)
{
	b->len += n;
	b->data[b->len] = '\0';
}

int ak_buf_append(struct ak_buf *b, const void *p, size_t n)
{
	int rc = grow(b, n);

	if (rc != 0)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	ak_buf_commit(b, n);
	return 0;
}

int ak_buf_puts(struct ak_buf *b, const char *s)
{
	return ak_buf_append(b, s, strlen(s));
}

int ak_buf_putc(struct ak_buf *b, char c)
{
	if (b->len + 1 < b->cap && b->len < limit(b)) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return 0;
	}
	return ak_buf_append(b, &c, 1);
}

int ak_buf_vprintf(struct ak_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n, rc;
	char *dst;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return ak_error_set("formatting failed");
	rc = grow(b, (size_t)n);
	if (rc != 0)
		return rc;
	dst = b->data + b->len;
	vsnprintf(dst, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int ak_buf_printf(struct ak_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = ak_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void ak_buf_reset(struct ak_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void ak_buf_truncate(struct ak_buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = '\0';
	}
}

void ak_buf_free(struct ak_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

char *ak_buf_detach(struct ak_buf *b, size_t *len_out)
{
	char *p;

	if (b->data == NULL && grow(b, 0) != 0)
		return NULL;
	p = b->data;
	if (len_out)
		*len_out = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
