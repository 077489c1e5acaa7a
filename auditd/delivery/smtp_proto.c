/*
 * auditd/delivery/smtp_proto.c - what the SMTP gateway (smtp_server.c)
 * reads from its clients, as pure functions over bytes: command lines
 * (RFC 5321 4.1), AUTH PLAIN responses (RFC 4954, RFC 4616), the lines of
 * DATA (dot-unstuffing, RFC 5321 4.5.2), and the header of a submitted
 * message (the X-Akashi-* headers, Message-ID, Date).
 *
 * No socket, no state beyond the arguments: tests/fuzz/fuzz_smtpd.c feeds
 * them whatever a client could send, and the server only decides what to
 * answer.
 *
 * SECURITY: every input comes from a network client, authenticated or not.
 * Lines are bounded by the caller (SMTPD_CMD_MAX, SMTPD_TEXT_MAX); what is
 * copied out goes into fixed buffers with their size checked, and a
 * message grows only in the caller's bounded ak_buf. An address is taken
 * only when ingest_is_email() accepts it (no quoted local parts, no
 * source routes), so nothing that reaches the queue or the log can carry
 * CR, LF or a second address.
 */
#include "auditd/delivery/delivery_int.h"

#include "auditd/ingest/kinds.h"
#include "lib/b64.h"
#include "lib/ascii.h"
#include "lib/error.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	enum smtpd_verb verb;
} verbs[] = {
        {"EHLO", SMTPD_EHLO},        {"HELO", SMTPD_HELO},        {"MAIL", SMTPD_MAIL},
        {"RCPT", SMTPD_RCPT},        {"DATA", SMTPD_DATA},        {"RSET", SMTPD_RSET},
        {"NOOP", SMTPD_NOOP},        {"QUIT", SMTPD_QUIT},        {"STARTTLS", SMTPD_STARTTLS},
        {"AUTH", SMTPD_AUTH},        {"VRFY", SMTPD_NOT_OFFERED}, {"EXPN", SMTPD_NOT_OFFERED},
        {"HELP", SMTPD_NOT_OFFERED}, {"BDAT", SMTPD_NOT_OFFERED}, {"ETRN", SMTPD_NOT_OFFERED},
        {"TURN", SMTPD_NOT_OFFERED},
};

static int refuse(struct smtpd_cmd *c, int code, const char *enh, const char *why)
{
	c->code = code;
	snprintf(c->enh, sizeof(c->enh), "%s", enh);
	snprintf(c->why, sizeof(c->why), "%s", why);
	return AK_EINVALID;
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* "<addr>" at p (RFC 5321 4.1.2 Path, without source routes): the address
 * lower-cased into c->addr, "" for "<>". *end is past the ">". */
static int path(struct smtpd_cmd *c, const char *p, const char *lim, const char **end)
{
	const char *gt;
	size_t n, i;
	int lower;

	if (p >= lim || *p != '<')
		return refuse(c, 501, "5.5.4", "syntax: the address goes in angle brackets");
	gt = memchr(p, '>', (size_t)(lim - p));
	if (gt == NULL)
		return refuse(c, 501, "5.5.4", "syntax: no closing angle bracket");
	n = (size_t)(gt - p - 1);
	*end = gt + 1;
	if (n == 0) {
		c->addr[0] = '\0';
		return 0;
	}
	if (p[1] == '@')
		return refuse(c, 501, "5.5.4", "source routes are not accepted");
	if (n >= sizeof(c->addr) || p[1] == '"' || !ingest_is_email(p + 1, n, &lower))
		return refuse(c, 501, "5.1.3", "not an e-mail address akashi can send to");
	for (i = 0; i < n; i++)
		c->addr[i] = ak_ascii_lower(p[1 + i]);
	c->addr[n] = '\0';
	return 0;
}

/* MAIL parameters (RFC 5321 4.1.2 Mail-parameters): SIZE and BODY are
 * understood, AUTH= is accepted and ignored, anything else is 555. */
static int mail_params(struct smtpd_cmd *c, const char *p, const char *lim)
{
	while (p < lim) {
		const char *start, *eq;
		size_t n, kl;

		while (p < lim && is_space(*p))
			p++;
		if (p == lim)
			break;
		start = p;
		while (p < lim && !is_space(*p))
			p++;
		n = (size_t)(p - start);
		eq = memchr(start, '=', n);
		kl = eq ? (size_t)(eq - start) : n;
		if (kl == 4 && strncasecmp(start, "SIZE", 4) == 0 && eq) {
			const char *v = eq + 1;
			int64_t size = 0;

			if (v == p)
				return refuse(c, 501, "5.5.4", "SIZE= needs a number");
			for (; v < p; v++) {
				if (*v < '0' || *v > '9' || size > INT64_C(1) << 50)
					return refuse(c, 501, "5.5.4", "SIZE= needs a number");
				size = size * 10 + (*v - '0');
			}
			c->size = size;
		} else if (kl == 4 && strncasecmp(start, "BODY", 4) == 0 && eq) {
			size_t vl = n - kl - 1;

			if (vl == 8 && strncasecmp(eq + 1, "8BITMIME", 8) == 0)
				c->body_8bit = 1;
			else if (!(vl == 4 && strncasecmp(eq + 1, "7BIT", 4) == 0))
				return refuse(c, 501, "5.5.4", "BODY= is 7BIT or 8BITMIME");
		} else if (!(kl == 4 && strncasecmp(start, "AUTH", 4) == 0 && eq)) {
			return refuse(c, 555, "5.5.4", "unknown MAIL parameter");
		}
	}
	return 0;
}

int smtpd_parse(const char *line, size_t len, struct smtpd_cmd *c)
{
	const char *lim = line + len, *p = line, *rest;
	size_t vl, i;
	int rc;

	memset(c, 0, sizeof(*c));
	c->size = -1;
	c->verb = SMTPD_UNKNOWN;
	if (len > SMTPD_CMD_MAX)
		return refuse(c, 500, "5.5.6", "line too long");
	if (memchr(line, '\0', len) != NULL)
		return refuse(c, 500, "5.5.2", "NUL in a command");
	while (p < lim && *p != ' ')
		p++;
	vl = (size_t)(p - line);
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strlen(verbs[i].name) == vl && strncasecmp(verbs[i].name, line, vl) == 0)
			c->verb = verbs[i].verb;
	if (c->verb == SMTPD_UNKNOWN)
		return refuse(c, 500, "5.5.2", "command not recognized");
	if (p < lim)
		p++;
	c->arg = p;
	c->arg_len = (size_t)(lim - p);
	/* Trailing spaces are common in the wild and mean nothing. */
	while (c->arg_len && is_space(c->arg[c->arg_len - 1]))
		c->arg_len--;
	switch (c->verb) {
	case SMTPD_EHLO:
	case SMTPD_HELO:
		if (c->arg_len == 0)
			return refuse(c, 501, "5.5.4", "a domain or address literal is required");
		for (i = 0; i < c->arg_len; i++)
			if ((unsigned char)c->arg[i] <= ' ' || (unsigned char)c->arg[i] >= 0x7f)
				return refuse(c, 501, "5.5.4",
				              "the name has a character it may not have");
		return 0;
	case SMTPD_MAIL:
	case SMTPD_RCPT: {
		const char *want = c->verb == SMTPD_MAIL ? "FROM:" : "TO:";
		size_t wl = strlen(want);

		if (c->arg_len < wl || strncasecmp(c->arg, want, wl) != 0)
			return refuse(c, 501, "5.5.4",
			              c->verb == SMTPD_MAIL ? "syntax: MAIL FROM:<address>"
			                                    : "syntax: RCPT TO:<address>");
		p = c->arg + wl;
		lim = c->arg + c->arg_len;
		/* RFC 5321 has no space after the colon; many clients send one. */
		while (p < lim && is_space(*p))
			p++;
		if ((rc = path(c, p, lim, &rest)) != 0)
			return rc;
		if (rest < lim && !is_space(*rest))
			return refuse(c, 501, "5.5.4",
			              "syntax: a space goes between the address and "
			              "its parameters");
		if (c->verb == SMTPD_RCPT) {
			while (rest < lim && is_space(*rest))
				rest++;
			if (rest < lim)
				return refuse(c, 555, "5.5.4", "RCPT parameters are not supported");
			if (c->addr[0] == '\0')
				return refuse(c, 501, "5.1.3", "a recipient address is required");
			return 0;
		}
		return mail_params(c, rest, lim);
	}
	case SMTPD_AUTH:
		if (c->arg_len == 0)
			return refuse(c, 501, "5.5.4", "syntax: AUTH PLAIN [initial-response]");
		return 0;
	case SMTPD_DATA:
	case SMTPD_RSET:
	case SMTPD_QUIT:
	case SMTPD_STARTTLS:
		if (c->arg_len != 0)
			return refuse(c, 501, "5.5.4", "this command takes no argument");
		return 0;
	default: /* NOOP takes and ignores a string; the others are not offered */
		return 0;
	}
}

int smtpd_auth_plain(const char *b64, size_t len, char *user, size_t ucap, char *pass, size_t pcap)
{
	unsigned char raw[1024];
	const unsigned char *a, *b;
	size_t ul, pl;
	int n;

	if (len == 0 || len > AK_B64_LEN(sizeof(raw)))
		return ak_error_code(AK_EINVALID, "not an AUTH PLAIN response");
	if ((n = ak_b64_decode(raw, sizeof(raw), b64, len)) < 0)
		return ak_error_code(AK_EINVALID, "the AUTH PLAIN response is not base64");
	/* authzid NUL authcid NUL passwd (RFC 4616 2) */
	a = memchr(raw, '\0', (size_t)n);
	b = a ? memchr(a + 1, '\0', (size_t)(raw + n - (a + 1))) : NULL;
	if (a == NULL || b == NULL)
		return ak_error_code(AK_EINVALID, "the AUTH PLAIN response needs two NULs");
	ul = (size_t)(b - (a + 1));
	pl = (size_t)(raw + n - (b + 1));
	if (ul == 0 || ul >= ucap || pl == 0 || pl >= pcap || memchr(b + 1, '\0', pl))
		return ak_error_code(AK_EINVALID, "the AUTH PLAIN user or password is empty or "
		                                  "too long");
	memcpy(user, a + 1, ul);
	user[ul] = '\0';
	memcpy(pass, b + 1, pl);
	pass[pl] = '\0';
	return 0;
}

int smtpd_auth_user(const char *user, char *stream, size_t scap, char *list, size_t lcap)
{
	const char *slash = strchr(user, '/'), *l = user;
	size_t i, n;

	snprintf(stream, scap, "marketing");
	if (slash) {
		size_t sl = (size_t)(slash - user);

		if (sl == 13 && strncmp(user, "transactional", 13) == 0)
			snprintf(stream, scap, "transactional");
		else if (!(sl == 9 && strncmp(user, "marketing", 9) == 0))
			return ak_error_code(AK_EINVALID, "user: LIST, marketing/LIST or "
			                                  "transactional/LIST");
		l = slash + 1;
	}
	n = strlen(l);
	if (n == 0 || n > 200 || n >= lcap)
		return ak_error_code(AK_EINVALID, "user: a list name of 1 to 200 bytes");
	for (i = 0; i < n; i++)
		if ((unsigned char)l[i] < 0x20 || l[i] == 0x7f || l[i] == '/')
			return ak_error_code(AK_EINVALID, "user: the list name has a control "
			                                  "character or a slash");
	memcpy(list, l, n + 1);
	return 0;
}

int smtpd_data_line(struct ak_buf *out, const char *line, size_t len, int crlf_around, size_t max,
                    unsigned *flags)
{
	if (len == 1 && line[0] == '.') {
		if (crlf_around)
			return 1;
	} else if (len && line[0] == '.') {
		line++, len--; /* RFC 5321 4.5.2: a leading dot was doubled by the client */
	}
	if (len > SMTPD_TEXT_MAX)
		*flags |= SMTPD_DATA_LONG_LINE;
	if (memchr(line, '\r', len) || memchr(line, '\0', len))
		*flags |= SMTPD_DATA_BARE;
	if (*flags)
		return 0;
	if (out->len + len + 2 > max) {
		*flags |= SMTPD_DATA_TOO_BIG;
		return 0;
	}
	if (ak_buf_append(out, line, len) != 0 || ak_buf_puts(out, "\r\n") != 0)
		*flags |= SMTPD_DATA_TOO_BIG;
	return 0;
}

/* ---- the header of a submitted message ---- */

static int msg_refuse(struct smtpd_msg_out *r, int code, const char *enh, const char *why)
{
	r->code = code;
	snprintf(r->enh, sizeof(r->enh), "%s", enh);
	snprintf(r->why, sizeof(r->why), "%s", why);
	return AK_EINVALID;
}

static int hname(const char *name, size_t nl, const char *s)
{
	return nl == strlen(s) && strncasecmp(name, s, nl) == 0;
}

/* The value of a header field (from after the colon to the end of its
 * last continuation line) unfolded and trimmed into out. 0, or -1 when it
 * does not fit. */
static int unfold(const char *v, size_t vl, char *out, size_t cap)
{
	size_t i, n = 0;

	for (i = 0; i < vl; i++) {
		char ch = v[i];

		if (ch == '\r' || ch == '\n')
			continue;
		if (ch == '\t')
			ch = ' ';
		if (ch == ' ' && (n == 0 || out[n - 1] == ' '))
			continue;
		if (n + 1 >= cap)
			return -1;
		out[n++] = ch;
	}
	while (n && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	return 0;
}

/* A Message-ID as RFC 5322 3.6.4 shapes it, loosely: "<left@right>", no
 * white space or control characters, at most cap - 1 bytes. */
static int message_id_ok(const char *s)
{
	size_t n = strlen(s), i;
	const char *at;

	if (n < 5 || s[0] != '<' || s[n - 1] != '>')
		return 0;
	at = memchr(s, '@', n);
	if (at == NULL || at == s + 1 || at == s + n - 2)
		return 0;
	for (i = 1; i + 1 < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f || s[i] == '<' ||
		    s[i] == '>')
			return 0;
	return 1;
}

int smtpd_message(struct ak_buf *out, const char *data, size_t len, const struct smtpd_msg_in *in,
                  struct smtpd_msg_out *r)
{
	const char *p = data, *lim = data + len;
	int have_date = 0, have_mid = 0, rc;
	size_t nfields = 0;
	char val[400];

	memset(r, 0, sizeof(r[0]));
	snprintf(r->campaign, sizeof(r->campaign), "%s", in->campaign);
	ak_buf_reset(out);
	/* One header field per pass: its first line and its continuations. */
	while (p < lim) {
		const char *start = p, *colon = NULL, *end;
		size_t nl, i;
		int keep = 1;

		if ((lim - p >= 2 && p[0] == '\r' && p[1] == '\n') || p[0] == '\n')
			break; /* the empty line before the body */
		for (end = p; end < lim;) {
			const char *e = memchr(end, '\n', (size_t)(lim - end));

			end = e ? e + 1 : lim;
			if (end >= lim || (*end != ' ' && *end != '\t'))
				break;
		}
		for (i = 0; start + i < end && start[i] != ':'; i++)
			if ((unsigned char)start[i] <= ' ' || (unsigned char)start[i] >= 0x7f)
				break;
		if (start + i < end && start[i] == ':' && i > 0)
			colon = start + i;
		if (colon == NULL)
			return msg_refuse(
			        r, 554, "5.6.0",
			        "the message header has a line that is not a header field "
			        "(RFC 5322 2.2)");
		/* Room for the Message-ID, Date and List-Unsubscribe(-Post)
		 * akashi may add: the signer takes no more. */
		if (++nfields > DELIVERY_MAX_HEADERS - 4)
			return msg_refuse(r, 554, "5.6.0",
			                  "the message has too many header fields");
		nl = (size_t)(colon - start);
		if (unfold(colon + 1, (size_t)(end - colon - 1), val, sizeof(val)) != 0 &&
		    (hname(start, nl, "X-Akashi-Campaign") || hname(start, nl, "X-Akashi-List") ||
		     hname(start, nl, "Message-ID")))
			return msg_refuse(r, 554, "5.6.0",
			                  "a header field akashi reads is too long");
		if (hname(start, nl, "X-Akashi-List")) {
			if (strcmp(val, in->list) != 0) {
				char why[sizeof(r->why)];

				snprintf(
				        why, sizeof(why),
				        "X-Akashi-List '%.60s' is not the list this login sends to "
				        "('%.60s'); nothing queued",
				        val, in->list);
				return msg_refuse(r, 554, "5.7.1", why);
			}
		} else if (hname(start, nl, "X-Akashi-Campaign")) {
			if (!delivery_campaign_id_valid(val))
				return msg_refuse(
				        r, 554, "5.6.0",
				        "X-Akashi-Campaign: 1 to 200 of A-Z a-z 0-9 . _ - :");
			if (r->have_campaign && strcmp(val, r->campaign) != 0)
				return msg_refuse(r, 554, "5.6.0",
				                  "two X-Akashi-Campaign fields that disagree");
			snprintf(r->campaign, sizeof(r->campaign), "%s", val);
			r->have_campaign = 1;
		} else if (hname(start, nl, "Message-ID")) {
			if (have_mid++)
				return msg_refuse(r, 554, "5.6.0",
				                  "more than one Message-ID field");
			if (!message_id_ok(val) || strlen(val) >= sizeof(r->message_id))
				return msg_refuse(r, 554, "5.6.0",
				                  "the Message-ID is not of the form <left@right>");
			snprintf(r->message_id, sizeof(r->message_id), "%s", val);
		} else if (hname(start, nl, "Date")) {
			have_date = 1;
		}
		/* X-Akashi-* are instructions to akashi, not for the recipient;
		 * Bcc and Return-Path are never transmitted (RFC 5322 3.6.3,
		 * RFC 5321 4.4); for marketing mail the one-click link is the
		 * engine's, tied to the consent record. */
		if ((nl >= 9 && strncasecmp(start, "X-Akashi-", 9) == 0) ||
		    hname(start, nl, "Bcc") || hname(start, nl, "Return-Path") ||
		    (in->marketing && (hname(start, nl, "List-Unsubscribe") ||
		                       hname(start, nl, "List-Unsubscribe-Post"))))
			keep = 0;
		if (keep && (rc = ak_buf_append(out, start, (size_t)(end - start))) != 0)
			return msg_refuse(r, 552, "5.3.4", "the message is too big");
		if (keep && (end == lim || end[-1] != '\n') && ak_buf_puts(out, "\r\n") != 0)
			return msg_refuse(r, 552, "5.3.4", "the message is too big");
		p = end;
	}
	if (!have_mid) {
		snprintf(r->message_id, sizeof(r->message_id), "<%.100s@%.200s>", in->id_local,
		         in->id_domain);
		if (ak_buf_printf(out, "Message-ID: %s\r\n", r->message_id) != 0)
			return msg_refuse(r, 552, "5.3.4", "the message is too big");
	}
	if (!have_date) {
		char date[40];

		delivery_date(date, in->now_us);
		if (ak_buf_printf(out, "Date: %s\r\n", date) != 0)
			return msg_refuse(r, 552, "5.3.4", "the message is too big");
	}
	/* The empty line and the body, as received (CRLF from smtpd_data_line). */
	if (p < lim) {
		if (ak_buf_append(out, p, (size_t)(lim - p)) != 0)
			return msg_refuse(r, 552, "5.3.4", "the message is too big");
	} else if (ak_buf_puts(out, "\r\n") != 0) {
		return msg_refuse(r, 552, "5.3.4", "the message is too big");
	}
	return 0;
}
