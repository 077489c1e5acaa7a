/*
 * lib/buf.h - the one growable byte buffer, with a hard maximum size.
 *
 * Everything that holds outside input (a JSON line, an SMTP line, an HTTP
 * body, XML text, a CSV field) goes through struct ak_buf, so every such
 * input is bounded by a limit the caller chose (curl's dynbuf, Postfix's
 * vstring). The contents are always NUL-terminated (the NUL is not counted in
 * len) so they can be handed to C string functions when they hold text.
 *
 * Ownership: the buffer owns data; ak_buf_free() releases it and leaves an
 * empty buffer; ak_buf_detach() hands data to the caller (free() it).
 */
#ifndef AK_BUF_H
#define AK_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct ak_buf {
	char *data;  /* NULL until the first append; NUL-terminated after */
	size_t len;  /* bytes used, not counting the terminating NUL */
	size_t cap;  /* bytes allocated */
	size_t max;  /* hard limit on len; 0 means AK_BUF_DEFAULT_MAX */
};

#define AK_BUF_DEFAULT_MAX ((size_t)64 << 20)
#define AK_BUF_INIT(limit) {NULL, 0, 0, (limit)}

/* Initialise an empty buffer that refuses to grow beyond max bytes. */
void ak_buf_init(struct ak_buf *b, size_t max);

/* Append n bytes. AK_ETOOBIG (with a message) past the limit, AK_ENOMEM. */
int ak_buf_append(struct ak_buf *b, const void *p, size_t n);
int ak_buf_puts(struct ak_buf *b, const char *s);
int ak_buf_putc(struct ak_buf *b, char c);
int ak_buf_printf(struct ak_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ak_buf_vprintf(struct ak_buf *b, const char *fmt, va_list ap);

/* Make room for n more bytes; returns a pointer to them (the caller then
 * calls ak_buf_commit(b, n) once they are written), or NULL with an error. */
char *ak_buf_reserve(struct ak_buf *b, size_t n);
void ak_buf_commit(struct ak_buf *b, size_t n);

/* Empty the buffer, keep its memory. */
void ak_buf_reset(struct ak_buf *b);

/* Drop the last n bytes (n <= len). */
void ak_buf_truncate(struct ak_buf *b, size_t len);

/* Release the memory; the buffer is empty (and reusable) afterwards. */
void ak_buf_free(struct ak_buf *b);

/* Take the data out (never NULL on success: an empty buffer gives ""); the
 * caller owns it and frees it with free(). The buffer is left empty. */
char *ak_buf_detach(struct ak_buf *b, size_t *len_out);

#endif
