/*
 * auditd/ingest/dmarc_in.c - the byte stream DMARC containers pass to each
 * other (see dmarc_int.h): memory, a file descriptor, or whatever read
 * function a decompressor installs, with a small read-ahead so the
 * container of a stream can be told from its first bytes without losing
 * them.
 */
#include "auditd/ingest/dmarc_int.h"

#include "lib/error.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

static ssize_t mem_read(struct dmarc_in *in, void *dst, size_t cap)
{
	size_t n = in->mem_len - in->mem_pos;

	if (n > cap)
		n = cap;
	if (n > 0)
		memcpy(dst, in->mem + in->mem_pos, n);
	in->mem_pos += n;
	return (ssize_t)n;
}

static ssize_t fd_read(struct dmarc_in *in, void *dst, size_t cap)
{
	ssize_t n;

	do
		n = read(in->fd, dst, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		in->io_error = 1;
		return ak_error_set("read error: %s", strerror(errno));
	}
	return n;
}

void dmarc_in_init_mem(struct dmarc_in *in, const void *data, size_t len)
{
	memset(in, 0, sizeof(*in));
	in->read = mem_read;
	in->mem = data ? data : (const void *)""; /* empty: NULL is "not in memory" */
	in->mem_len = len;
	in->fd = -1;
}

void dmarc_in_init_fd(struct dmarc_in *in, int fd, const char *path)
{
	memset(in, 0, sizeof(*in));
	in->read = fd_read;
	in->fd = fd;
	in->path = path;
}

void dmarc_in_init_fn(struct dmarc_in *in, ssize_t (*read)(struct dmarc_in *, void *, size_t),
                      void *ctx)
{
	memset(in, 0, sizeof(*in));
	in->read = read;
	in->ctx = ctx;
	in->fd = -1;
}

int dmarc_in_peek(struct dmarc_in *in, size_t want, const unsigned char **p, size_t *n)
{
	assert(want <= sizeof(in->peek));
	if (in->mem != NULL) {
		/* No copy: the bytes are all there already. */
		*p = in->mem + in->mem_pos;
		*n = in->mem_len - in->mem_pos;
		return 0;
	}
	assert(in->peek_pos == 0);
	while (in->peek_len < want && !in->eof) {
		ssize_t r = in->read(in, in->peek + in->peek_len, want - in->peek_len);

		if (r < 0)
			return (int)r;
		if (r == 0)
			in->eof = 1;
		in->peek_len += (size_t)r;
	}
	*p = in->peek;
	*n = in->peek_len;
	return 0;
}

ssize_t dmarc_in_read(struct dmarc_in *in, void *dst, size_t cap)
{
	if (in->peek_pos < in->peek_len) {
		size_t n = in->peek_len - in->peek_pos;

		if (n > cap)
			n = cap;
		memcpy(dst, in->peek + in->peek_pos, n);
		in->peek_pos += n;
		return (ssize_t)n;
	}
	if (in->eof || cap == 0)
		return 0;
	return in->read(in, dst, cap);
}

int dmarc_in_slurp(struct dmarc_in *in, struct ak_buf *out)
{
	size_t max = out->max ? out->max : AK_BUF_DEFAULT_MAX;

	for (;;) {
		size_t room = max - out->len, want = room < 65536 ? room : 65536;
		char *dst;
		ssize_t n;

		if (want == 0) {
			/* Full: one byte more tells a stream that ends exactly
			 * at the limit from one that goes past it. */
			char c;

			n = dmarc_in_read(in, &c, 1);
			if (n <= 0)
				return (int)n;
			return ak_buf_append(out, &c, 1); /* fails: past the limit */
		}
		dst = ak_buf_reserve(out, want);
		if (dst == NULL)
			return AK_ENOMEM; /* within the limit: only memory can fail */
		n = dmarc_in_read(in, dst, want);
		if (n <= 0)
			return (int)n;
		ak_buf_commit(out, (size_t)n);
	}
}
