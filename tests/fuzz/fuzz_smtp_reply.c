/*
 * tests/fuzz/fuzz_smtp_reply.c - libFuzzer target for the SMTP reply
 * reader (auditd/delivery/smtp_reply.c): whatever a server sends.
 *
 * The input is split into lines as the client splits them (CRLF or LF);
 * each line longer than SMTP_LINE_MAX is dropped as the client drops the
 * connection. Checks what the reader promises: a complete reply has a code
 * from 200 to 599 and the same code on every line, text that is printable
 * ASCII and NUL-terminated within its buffer, an enhanced code of the
 * reply's class; EHLO and queue-id reading stay within their buffers.
 */
#include "auditd/delivery/delivery_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct smtp_reply *r)
{
	size_t i;
	char id[64];

	if (r->code < 200 || r->code > 599 || r->nlines < 1 || r->nlines > SMTP_REPLY_LINES_MAX)
		abort();
	if (r->text_len >= sizeof(r->text) || strlen(r->text) != r->text_len)
		abort();
	for (i = 0; i < r->text_len; i++)
		if (r->text[i] < 0x20 || r->text[i] >= 0x7f)
			abort();
	if (r->enhanced[0] && r->enhanced[0] - '0' != r->code / 100)
		abort();
	if (smtp_reply_queue_id(r, id, sizeof(id)) && (strlen(id) == 0 || strlen(id) >= sizeof(id)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct smtp_reply r;
	unsigned caps = 0;
	size_t limit = 0;

	smtp_reply_reset(&r);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		char line[SMTP_LINE_MAX + 1];
		int rc;

		if (len && p[len - 1] == '\r')
			len--;
		if (len <= SMTP_LINE_MAX) {
			memcpy(line, p, len);
			line[len] = '\0';
			if (len > 4)
				smtp_ehlo_line(&caps, &limit, line + 4, len - 4);
			rc = smtp_reply_line(&r, line, len);
			if (rc == 1)
				check(&r);
			if (rc != 0)
				smtp_reply_reset(&r);
		}
		p = nl ? nl + 1 : end;
	}
	(void)delivery_backoff((int)(size & 0xffff), (int64_t)size, (int64_t)size * 7, "x");
	return 0;
}
