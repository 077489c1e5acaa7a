/*
 * lib/lines.h - read a stream line by line with a hard limit on line length.
 *
 * Every line-oriented input (JSON Lines, syslog, CSV) is read through this,
 * so an endless line costs at most the limit in memory: the line is
 * reported as too long and skipped to the next newline. A final line
 * without a newline is returned as a line. CR before LF is kept (callers
 * that care strip it). A UTF-8 byte-order mark at the very start of the
 * stream is dropped and remembered in had_bom. NUL bytes inside a line are
 * kept (len counts them) for the line's parser to refuse.
 */
#ifndef AK_LINES_H
#define AK_LINES_H

#include "lib/buf.h"

#include <stdio.h>

struct ak_lines {
	FILE *in;         /* borrowed */
	struct ak_buf line;
	char *rbuf;       /* read-ahead buffer (owned) */
	size_t rpos, rlen;
	unsigned long lineno; /* number of the line last returned, 1-based */
	int had_bom;
	int eof;
};

/* Start reading in; lines longer than max bytes are refused. 0 or AK_ENOMEM. */
int ak_lines_init(struct ak_lines *r, FILE *in, size_t max);

/* Next line into *out / *len (borrowed, NUL-terminated, without the '\n';
 * valid until the next call). Returns 1 for a line, 0 at end of input,
 * AK_ETOOBIG for an over-long line (already skipped: the next call reads
 * the following line; lineno names the long one), AK_ERROR for a read
 * error (with a message). */
int ak_lines_next(struct ak_lines *r, const char **out, size_t *len);

void ak_lines_free(struct ak_lines *r);

#endif
