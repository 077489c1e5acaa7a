/*
 * auditd/delivery/smtp_reply.c - reading SMTP replies (RFC 5321 4.2) and
 * the EHLO extensions (RFC 1869) that the client acts on.
 *
 * SECURITY: every byte here comes from a remote SMTP server, which may be
 * hostile or broken. A line is at most SMTP_LINE_MAX bytes (the caller's
 * read buffer enforces it before calling in); a reply at most
 * SMTP_REPLY_LINES_MAX lines; the text kept is bounded and printable ASCII
 * only (anything else becomes '?'), because it ends up in evidence entries
 * and in people's terminals. Nothing here allocates.
 */
#include "auditd/delivery/delivery_int.h"

#include "lib/error.h"

#include <string.h>
#include <strings.h>

void smtp_reply_reset(struct smtp_reply *r)
{
	r->code = 0;
	r->enhanced[0] = '\0';
	r->text[0] = '\0';
	r->text_len = 0;
	r->nlines = 0;
}

static int digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Append printable text to the reply, lines joined by a space. */
static void keep(struct smtp_reply *r, const char *s, size_t len)
{
	size_t i;

	if (r->text_len && r->text_len + 1 < sizeof(r->text))
		r->text[r->text_len++] = ' ';
	for (i = 0; i < len && r->text_len + 1 < sizeof(r->text); i++) {
		unsigned char c = (unsigned char)s[i];

		r->text[r->text_len++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	r->text[r->text_len] = '\0';
}

/* "X.Y.Z " at the start of text, class X matching the reply code. */
static size_t enhanced(const char *s, size_t len, int code)
{
	size_t i = 0, n;
	int part;

	if (len < 5 || s[0] - '0' != code / 100 || s[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (n = 0; i < len && digit(s[i]) && n < 3; i++, n++)
			;
		if (n == 0)
			return 0;
		if (part == 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && s[i] != ' ')
		return 0;
	return i;
}

int smtp_reply_line(struct smtp_reply *r, const char *line, size_t len)
{
	int code;
	size_t e;

	if (len < 3 || !digit(line[0]) || !digit(line[1]) || !digit(line[2]) || line[0] < '2' ||
	    line[0] > '5' || (len > 3 && line[3] != ' ' && line[3] != '-'))
		return ak_error_code(AK_EINVALID, "malformed SMTP reply line: '%.*s'",
		                     (int)(len > 60 ? 60 : len), line);
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->nlines > 0 && code != r->code)
		return ak_error_code(AK_EINVALID, "SMTP reply changes its code from %d to %d",
		                     r->code, code);
	if (r->nlines >= SMTP_REPLY_LINES_MAX)
		return ak_error_code(AK_EINVALID, "SMTP reply of more than %d lines",
		                     SMTP_REPLY_LINES_MAX);
	r->code = code;
	line += 3, len -= 3;
	{
		int last = (len == 0 || line[0] == ' ');

		if (len)
			line++, len--;
		if (r->nlines == 0 && (e = enhanced(line, len, code)) != 0) {
			memcpy(r->enhanced, line, e);
			r->enhanced[e] = '\0';
		}
		keep(r, line, len);
		r->nlines++;
		return last ? 1 : 0;
	}
}

/* The keyword of an EHLO line, case-insensitively. */
static int kw(const char *s, size_t len, const char *word, const char **rest, size_t *rest_len)
{
	size_t n = strlen(word);

	if (len < n || strncasecmp(s, word, n) != 0 || (len > n && s[n] != ' ' && s[n] != '='))
		return 0;
	*rest = s + n;
	*rest_len = len - n;
	return 1;
}

void smtp_ehlo_line(unsigned *caps, size_t *size_limit, const char *s, size_t len)
{
	const char *rest;
	size_t rl, i;

	if (kw(s, len, "PIPELINING", &rest, &rl))
		*caps |= SMTP_CAP_PIPELINING;
	else if (kw(s, len, "STARTTLS", &rest, &rl))
		*caps |= SMTP_CAP_STARTTLS;
	else if (kw(s, len, "8BITMIME", &rest, &rl))
		*caps |= SMTP_CAP_8BITMIME;
	else if (kw(s, len, "ENHANCEDSTATUSCODES", &rest, &rl))
		*caps |= SMTP_CAP_ENHANCED;
	else if (kw(s, len, "SIZE", &rest, &rl)) {
		size_t v = 0;

		*caps |= SMTP_CAP_SIZE;
		for (i = 0; i < rl && rest[i] == ' '; i++)
			;
		for (; i < rl && digit(rest[i]) && v < ((size_t)1 << 40); i++)
			v = v * 10 + (size_t)(rest[i] - '0');
		*size_limit = v;
	} else if (kw(s, len, "AUTH", &rest, &rl)) {
		/* "AUTH LOGIN PLAIN", or the old "AUTH=PLAIN". */
		for (i = 0; i < rl;) {
			size_t j;

			while (i < rl && (rest[i] == ' ' || rest[i] == '='))
				i++;
			for (j = i; j < rl && rest[j] != ' '; j++)
				;
			if (j - i == 5 && strncasecmp(rest + i, "PLAIN", 5) == 0)
				*caps |= SMTP_CAP_AUTH_PLAIN;
			i = j;
		}
	}
}

int smtp_reply_queue_id(const struct smtp_reply *r, char *out, size_t cap)
{
	static const char *const marks[] = {"queued as ", "id=", "queued on ", NULL};
	const char *const *m;
	const char *p = NULL;
	size_t n = 0;

	out[0] = '\0';
	for (m = marks; *m && p == NULL; m++) {
		const char *hit = strcasestr(r->text, *m);

		if (hit)
			p = hit + strlen(*m);
	}
	if (p == NULL)
		return 0;
	while ((p[n] >= '0' && p[n] <= '9') || (p[n] >= 'A' && p[n] <= 'Z') ||
	       (p[n] >= 'a' && p[n] <= 'z') || p[n] == '.' || p[n] == '-' || p[n] == '_')
		n++;
	if (n == 0 || n >= cap)
		return 0;
	memcpy(out, p, n);
	out[n] = '\0';
	return 1;
}

int64_t delivery_backoff(int attempt, int64_t min_s, int64_t max_s, const char *seed)
{
	int64_t d = min_s > 0 ? min_s : 1;
	uint32_t h = 2166136261u;
	const char *p;
	int i;

	if (max_s < d)
		max_s = d;
	for (i = 1; i < attempt && d < max_s; i++)
		d = d > max_s / 2 ? max_s : d * 2;
	if (d > max_s)
		d = max_s;
	/* Up to 10 % more, the same for the same message (FNV-1a of the
	 * seed), so retries of a whole campaign spread out instead of
	 * arriving at a destination in one wave. */
	for (p = seed ? seed : ""; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return d + (int64_t)((uint64_t)d * (h % 1000) / 10000);
}
