/*
 * lib/lines.c - bounded line reader (see lib/lines.h). Reads in 64 KiB
 * blocks and splits with memchr, so NUL bytes survive and long inputs cost
 * no per-byte calls.
 */
#include "lib/lines.h"

#include "lib/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RBUF 65536

int ak_lines_init(struct ak_lines *r, FILE *in, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->in = in;
	ak_buf_init(&r->line, max);
	r->rbuf = malloc(RBUF);
	return r->rbuf ? 0 : ak_error_oom();
}

int ak_lines_next(struct ak_lines *r, const char **out, size_t *len)
{
	int too_long = 0, any = 0;

	if (r->eof)
		return 0;
	ak_buf_reset(&r->line);
	for (;;) {
		char *start, *nl;
		size_t n;

		if (r->rpos == r->rlen) {
			r->rpos = 0;
			r->rlen = fread(r->rbuf, 1, RBUF, r->in);
			if (r->rlen == 0) {
				if (ferror(r->in))
					return ak_error_set("read error: %s", strerror(errno));
				r->eof = 1;
				if (!any)
					return 0;
				break;
			}
		}
		any = 1;
		start = r->rbuf + r->rpos;
		nl = memchr(start, '\n', r->rlen - r->rpos);
		n = nl ? (size_t)(nl - start) : r->rlen - r->rpos;
		if (!too_long && ak_buf_append(&r->line, start, n) != 0)
			too_long = 1;
		r->rpos += n + (nl != NULL);
		if (nl)
			break;
	}
	r->lineno++;
	if (r->lineno == 1 && r->line.len >= 3 && memcmp(r->line.data, "\xef\xbb\xbf", 3) == 0) {
		r->had_bom = 1;
		memmove(r->line.data, r->line.data + 3, r->line.len - 2);
		r->line.len -= 3;
	}
	if (too_long)
		return ak_error_code(AK_ETOOBIG, "line %lu is longer than %zu bytes", r->lineno,
				     r->line.max ? r->line.max : AK_BUF_DEFAULT_MAX);
	*out = r->line.data ? r->line.data : "";
	*len = r->line.len;
	return 1;
}

void ak_lines_free(struct ak_lines *r)
{
	ak_buf_free(&r->line);
	free(r->rbuf);
	r->rbuf = NULL;
}
