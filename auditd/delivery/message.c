/*
 * auditd/delivery/message.c - campaign templates and the rendering of one
 * message per recipient.
 *
 * A template is a whole RFC 5322 message with {{field}} merge fields in its
 * header values and body, filled from the recipient's CSV columns. The
 * template is parsed once per campaign into literal and field segments;
 * rendering a message is then one pass that copies segments, so a message
 * costs no parsing at send time.
 *
 * SECURITY: recipient values come from a CSV file someone exported from
 * somewhere; templates from operators. A merged value may never end a
 * header line (CR, LF and NUL are refused), and in an address header
 * (From, To, Cc, Reply-To, Sender) it may not carry the characters that
 * would start another mailbox or group (<>,;:"\), so a name column cannot
 * add recipients (fuzz_template checks that no value changes the number of
 * header fields). Everything is built in bounded buffers.
 *
 * Header text that is not ASCII after merging is written as RFC 2047
 * encoded-words (UTF-8, B encoding): unstructured headers whole, address
 * headers only in their display names (an address itself must be ASCII:
 * akashi does not speak SMTPUTF8). A body that is not 7-bit clean or has
 * lines over 998 bytes, in a template that declares no
 * Content-Transfer-Encoding, is sent base64-encoded; a multipart (or
 * message/) one is not (RFC 2045 6.4): it is declared 8bit, and its parts
 * say how they are encoded.
 *
 * The headers the engine owns are taken out of the template: Message-ID,
 * Date, DKIM-Signature, Return-Path, Bcc, X-Akashi-*, and for marketing
 * mail List-Unsubscribe and List-Unsubscribe-Post.
 *
 * Notices (delivery_compose_notice) are the daemon's own short messages,
 * alerts mailed to alerts.email: written whole here from a subject and a
 * text, with the same header rules (no control character in a header
 * value, RFC 2047 for text that is not ASCII, base64 for a body that is
 * not 7-bit clean).
 */
#include "auditd/delivery/delivery_int.h"

#include "auditd/ingest/kinds.h"
#include "lib/b64.h"
#include "lib/error.h"
#include "lib/timefmt.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LINE_MAX_SMTP 998

struct seg {
	int field; /* index into t->fields, or -1 for literal text */
	const char *lit;
	size_t len;
};

struct text {
	struct seg *segs;
	size_t n;
};

enum hkind { H_PLAIN, H_ADDRESS, H_DROP, H_LIST_UNSUB };

struct theader {
	const char *name;
	size_t name_len;
	enum hkind kind;
	struct text value;
};

struct delivery_template {
	char *raw; /* normalised copy: LF line ends; literals point into it */
	size_t raw_len;
	struct theader *hdrs;
	size_t nhdrs;
	struct text body;
	char **fields;
	size_t nfields;
	unsigned char *in_header;  /* per field: used in some header value */
	unsigned char *in_address; /* per field: used in an address header */
	int has_from, has_to, has_mime, has_ctype, has_cte;
	int composite; /* Content-Type multipart/ or message/: never base64 */
};

static int name_is(const struct theader *h, const char *s)
{
	return h->name_len == strlen(s) && strncasecmp(h->name, s, h->name_len) == 0;
}

static int field_index(struct delivery_template *t, const char *name, size_t len)
{
	size_t i;
	char **nf;
	unsigned char *a, *b;

	for (i = 0; i < t->nfields; i++)
		if (strlen(t->fields[i]) == len && memcmp(t->fields[i], name, len) == 0)
			return (int)i;
	nf = realloc(t->fields, (t->nfields + 1) * sizeof(*nf));
	if (nf == NULL)
		return ak_error_oom();
	t->fields = nf;
	a = realloc(t->in_header, t->nfields + 1);
	if (a == NULL)
		return ak_error_oom();
	t->in_header = a;
	b = realloc(t->in_address, t->nfields + 1);
	if (b == NULL)
		return ak_error_oom();
	t->in_address = b;
	if ((t->fields[t->nfields] = strndup(name, len)) == NULL)
		return ak_error_oom();
	t->in_header[t->nfields] = 0;
	t->in_address[t->nfields] = 0;
	return (int)t->nfields++;
}

static int push(struct text *x, int field, const char *lit, size_t len)
{
	struct seg *s;

	if (field < 0 && len == 0)
		return 0;
	s = realloc(x->segs, (x->n + 1) * sizeof(*s));
	if (s == NULL)
		return ak_error_oom();
	x->segs = s;
	s[x->n].field = field;
	s[x->n].lit = lit;
	s[x->n].len = len;
	x->n++;
	return 0;
}

static int fieldchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

/* Split s[0..len) into literal and {{field}} segments. where names the
 * place for errors ("header 'Subject'", "body"). */
static int compile(struct delivery_template *t, struct text *x, const char *s, size_t len,
                   const char *where, int in_header, int in_address)
{
	size_t i = 0, start = 0;
	int rc, f;

	while (i + 1 < len) {
		size_t a, b;

		if (s[i] != '{' || s[i + 1] != '{') {
			i++;
			continue;
		}
		a = i + 2;
		while (a < len && (s[a] == ' ' || s[a] == '\t'))
			a++;
		for (b = a; b < len && fieldchar(s[b]); b++)
			;
		if (b == a)
			return ak_error_code(AK_EINVALID,
			                     "%s: '{{' must start a merge field like {{name}}",
			                     where);
		{
			size_t c = b;

			while (c < len && (s[c] == ' ' || s[c] == '\t'))
				c++;
			if (c + 1 >= len || s[c] != '}' || s[c + 1] != '}')
				return ak_error_code(AK_EINVALID,
				                     "%s: merge field {{%.*s has no closing '}}'",
				                     where, (int)(b - a > 40 ? 40 : b - a), s + a);
			if ((rc = push(x, -1, s + start, i - start)) != 0)
				return rc;
			if ((f = field_index(t, s + a, b - a)) < 0)
				return f;
			if (in_header)
				t->in_header[f] = 1;
			if (in_address)
				t->in_address[f] = 1;
			if ((rc = push(x, f, NULL, 0)) != 0)
				return rc;
			i = start = c + 2;
		}
	}
	return push(x, -1, s + start, len - start);
}

void delivery_template_free(struct delivery_template *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nhdrs; i++)
		free(t->hdrs[i].value.segs);
	free(t->hdrs);
	free(t->body.segs);
	for (i = 0; i < t->nfields; i++)
		free(t->fields[i]);
	free(t->fields);
	free(t->in_header);
	free(t->in_address);
	free(t->raw);
	free(t);
}

static enum hkind kind_of(const char *name, size_t len)
{
	static const char *const drop[] = {"message-id",  "date", "dkim-signature",
	                                   "return-path", "bcc",  NULL};
	static const char *const addr[] = {"from", "to", "cc", "reply-to", "sender", NULL};
	const char *const *p;

	if (len >= 9 && strncasecmp(name, "x-akashi-", 9) == 0)
		return H_DROP;
	for (p = drop; *p; p++)
		if (strlen(*p) == len && strncasecmp(name, *p, len) == 0)
			return H_DROP;
	for (p = addr; *p; p++)
		if (strlen(*p) == len && strncasecmp(name, *p, len) == 0)
			return H_ADDRESS;
	if ((len == 16 && strncasecmp(name, "list-unsubscribe", 16) == 0) ||
	    (len == 21 && strncasecmp(name, "list-unsubscribe-post", 21) == 0))
		return H_LIST_UNSUB;
	return H_PLAIN;
}

int delivery_template_parse(struct delivery_template **out, const char *data, size_t len)
{
	struct delivery_template *t = calloc(1, sizeof(*t));
	char *w, *p, *end, *body;
	size_t i, lineno = 1;
	int rc = 0;

	if (t == NULL)
		return ak_error_oom();
	/* Normalise line ends to LF: CRLF and a lone CR alike. */
	if ((t->raw = malloc(len + 1)) == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	for (i = 0, w = t->raw; i < len; i++) {
		if (data[i] == '\0') {
			rc = ak_error_code(AK_EINVALID, "the template holds a NUL byte");
			goto done;
		}
		if (data[i] == '\r') {
			*w++ = '\n';
			if (i + 1 < len && data[i + 1] == '\n')
				i++;
		} else
			*w++ = data[i];
	}
	*w = '\0';
	t->raw_len = (size_t)(w - t->raw);
	p = t->raw;
	end = t->raw + t->raw_len;
	/* Headers up to the first empty line. */
	while (p < end && *p != '\n') {
		char *eol = memchr(p, '\n', (size_t)(end - p)), *colon, *v;
		struct theader *h, *nh;
		char where[96];

		if (eol == NULL)
			eol = end;
		/* Unfold: continuation lines start with a space or tab. */
		while (eol < end && eol + 1 < end && (eol[1] == ' ' || eol[1] == '\t')) {
			*eol = ' ';
			eol = memchr(eol, '\n', (size_t)(end - eol));
			if (eol == NULL)
				eol = end;
		}
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL || colon == p) {
			rc = ak_error_code(
			        AK_EINVALID,
			        "template line %zu: expected 'Name: value' (a header) or "
			        "an empty line before the body",
			        lineno);
			goto done;
		}
		for (v = p; v < colon; v++)
			if ((unsigned char)*v <= ' ' || (unsigned char)*v >= 0x7f) {
				rc = ak_error_code(
				        AK_EINVALID, "template line %zu: bad header name '%.*s'",
				        lineno, (int)(colon - p > 40 ? 40 : colon - p), p);
				goto done;
			}
		/* The engine adds up to nine of its own; the signer takes
		 * no more than DELIVERY_MAX_HEADERS. */
		if (t->nhdrs + 10 > DELIVERY_MAX_HEADERS) {
			rc = ak_error_code(AK_EINVALID,
			                   "template line %zu: more than %d header fields", lineno,
			                   DELIVERY_MAX_HEADERS - 9);
			goto done;
		}
		nh = realloc(t->hdrs, (t->nhdrs + 1) * sizeof(*nh));
		if (nh == NULL) {
			rc = ak_error_oom();
			goto done;
		}
		t->hdrs = nh;
		h = &t->hdrs[t->nhdrs++];
		memset(h, 0, sizeof(*h));
		h->name = p;
		h->name_len = (size_t)(colon - p);
		h->kind = kind_of(p, h->name_len);
		v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		snprintf(where, sizeof(where), "header '%.*s'",
		         (int)(h->name_len > 60 ? 60 : h->name_len), h->name);
		if ((rc = compile(t, &h->value, v, (size_t)(eol - v), where, 1,
		                  h->kind == H_ADDRESS)) != 0)
			goto done;
		if (name_is(h, "from"))
			t->has_from = 1;
		else if (name_is(h, "to"))
			t->has_to = 1;
		else if (name_is(h, "mime-version"))
			t->has_mime = 1;
		else if (name_is(h, "content-type")) {
			t->has_ctype = 1;
			/* RFC 2045 6.4: a multipart or message entity is 7bit,
			 * 8bit or binary, never base64: its parts carry their
			 * own encodings. */
			t->composite = (eol - v >= 10 && strncasecmp(v, "multipart/", 10) == 0) ||
			               (eol - v >= 8 && strncasecmp(v, "message/", 8) == 0);
		} else if (name_is(h, "content-transfer-encoding"))
			t->has_cte = 1;
		lineno++;
		p = eol < end ? eol + 1 : end;
	}
	if (t->nhdrs == 0) {
		rc = ak_error_code(AK_EINVALID, "the template has no headers (it must be a whole "
		                                "message: headers, an empty line, the body)");
		goto done;
	}
	body = p < end ? p + 1 : end;
	rc = compile(t, &t->body, body, (size_t)(end - body), "body", 0, 0);
done:
	if (rc) {
		delivery_template_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

size_t delivery_template_nfields(const struct delivery_template *t)
{
	return t->nfields;
}

const char *delivery_template_field(const struct delivery_template *t, size_t i)
{
	return t->fields[i];
}

int delivery_value_check(const struct delivery_template *t, size_t field, const char *v, size_t len)
{
	size_t i;

	if (field >= t->nfields || !t->in_header[field])
		return 0;
	for (i = 0; i < len; i++) {
		char c = v[i];

		if (c == '\r' || c == '\n' || c == '\0')
			return ak_error_code(AK_EINVALID,
			                     "column '%s': a line break in a value merged into a "
			                     "header",
			                     t->fields[field]);
		if (t->in_address[field] && (c == '<' || c == '>' || c == ',' || c == ';' ||
		                             c == ':' || c == '"' || c == '\\'))
			return ak_error_code(AK_EINVALID,
			                     "column '%s': '%c' is not allowed in a value merged "
			                     "into an address header",
			                     t->fields[field], c);
	}
	return 0;
}

/* ---- RFC 2047 ---- */

/* Length of the UTF-8 sequence starting at s (1..4), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n > avail)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static size_t column(const struct ak_buf *out)
{
	size_t i = out->len;

	while (i > 0 && out->data[i - 1] != '\n')
		i--;
	return out->len - i;
}

int delivery_rfc2047(struct ak_buf *out, const char *s, size_t len)
{
	size_t i = 0;
	int rc, first = 1;

	while (i < len) {
		size_t col = column(out), room, take = 0;
		char b64[AK_B64_LEN(64) + 1];

		/* Each line holding an encoded-word stays within 76
		 * characters (RFC 2047 section 2): "=?UTF-8?B?" + "?=" is 12. */
		if (!first || col + 12 + 8 > 76) {
			if ((rc = ak_buf_puts(out, "\r\n ")) != 0)
				return rc;
			col = 1;
		}
		room = (76 - col - 12) / 4 * 3;
		if (room > 45)
			room = 45;
		while (i + take < len) {
			size_t n = utf8_len((const unsigned char *)s + i + take, len - i - take);

			if (n == 0)
				return ak_error_code(AK_EINVALID, "header text is not valid UTF-8");
			if (take + n > room)
				break;
			take += n;
		}
		ak_b64_encode(b64, s + i, take);
		if ((rc = ak_buf_printf(out, "=?UTF-8?B?%s?=", b64)) != 0)
			return rc;
		i += take;
		first = 0;
	}
	return 0;
}

static int ascii(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

/* Start a new line (folding white space) before text of len bytes that
 * would take the line past 78 characters, unless the line holds nothing
 * else yet; a space the text starts with then serves as the fold. */
static int fold_before(struct ak_buf *out, const char *text, size_t len)
{
	if (column(out) + len <= 78 || out->data[out->len - 1] == ' ')
		return 0;
	return ak_buf_puts(out, len && (*text == ' ' || *text == '\t') ? "\r\n" : "\r\n ");
}

/* Write an address header value: mailboxes separated by commas, folded
 * between mailboxes, the display names encoded when they are not ASCII. */
static int write_addresses(struct ak_buf *out, const char *v, size_t len)
{
	size_t i = 0;
	int rc;

	while (i < len) {
		size_t j = i, lt = (size_t)-1, gt = (size_t)-1;
		int quoted = 0;

		/* One mailbox: up to a comma outside quotes and angle brackets. */
		for (; j < len; j++) {
			char c = v[j];

			if (c == '"' && (j == 0 || v[j - 1] != '\\'))
				quoted = !quoted;
			else if (!quoted && c == '<' && lt == (size_t)-1)
				lt = j;
			else if (!quoted && c == '>' && lt != (size_t)-1)
				gt = j;
			else if (!quoted && c == ',' && (lt == (size_t)-1 || gt != (size_t)-1))
				break;
		}
		if (ascii(v + i, j - i)) {
			if ((rc = fold_before(out, v + i, j - i)) != 0 ||
			    (rc = ak_buf_append(out, v + i, j - i)) != 0)
				return rc;
		} else {
			size_t a = i, b = lt == (size_t)-1 ? j : lt;

			if (lt == (size_t)-1 || gt == (size_t)-1 || !ascii(v + lt, j - lt))
				return ak_error_code(AK_EINVALID,
				                     "the address in '%.*s' is not ASCII (SMTPUTF8 "
				                     "is not supported)",
				                     (int)(j - i > 80 ? 80 : j - i), v + i);
			while (a < b && (v[a] == ' ' || v[a] == '\t'))
				a++;
			while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
				b--;
			if (b - a >= 2 && v[a] == '"' && v[b - 1] == '"')
				a++, b--;
			if (i < a && v[i] == ' ' && (rc = ak_buf_putc(out, ' ')) != 0)
				return rc;
			if ((rc = delivery_rfc2047(out, v + a, b - a)) != 0 ||
			    (rc = ak_buf_putc(out, ' ')) != 0 ||
			    (rc = ak_buf_append(out, v + lt, j - lt)) != 0)
				return rc;
		}
		if (j < len && (rc = ak_buf_putc(out, ',')) != 0)
			return rc;
		i = j < len ? j + 1 : j;
	}
	return 0;
}

/* ---- rendering ---- */

static int expand(struct ak_buf *out, const struct text *x, const struct delivery_render *r)
{
	size_t i;
	int rc;

	for (i = 0; i < x->n; i++) {
		const struct seg *s = &x->segs[i];

		if (s->field < 0)
			rc = ak_buf_append(out, s->lit, s->len);
		else if ((size_t)s->field < r->nfields && r->values[s->field])
			rc = ak_buf_puts(out, r->values[s->field]);
		else
			rc = 0;
		if (rc)
			return rc;
	}
	return 0;
}

/* "Name: value" for a merged header value in v (held in scratch). */
static int write_header(struct ak_buf *out, const char *name, size_t name_len, int address,
                        const char *v, size_t len)
{
	size_t i, start = out->len;
	int rc;

	for (i = 0; i < len; i++)
		if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')
			return ak_error_code(AK_EINVALID,
			                     "header '%.*s': a line break in its value",
			                     (int)name_len, name);
	if ((rc = ak_buf_append(out, name, name_len)) != 0 || (rc = ak_buf_puts(out, ": ")) != 0)
		return rc;
	if (address)
		rc = write_addresses(out, v, len);
	else if (ascii(v, len))
		rc = ak_buf_append(out, v, len);
	else
		rc = delivery_rfc2047(out, v, len);
	if (rc)
		return rc;
	/* Folded or not, no line of it may pass what SMTP carries. */
	for (i = start; i < out->len;) {
		const char *nl = memchr(out->data + i, '\n', out->len - i);
		size_t end = nl ? (size_t)(nl - out->data) : out->len;

		if (end - i - (nl && end > i && out->data[end - 1] == '\r') > LINE_MAX_SMTP)
			return ak_error_code(AK_EINVALID,
			                     "header '%.*s' has a line longer than %d bytes",
			                     (int)name_len, name, LINE_MAX_SMTP);
		i = end + 1;
	}
	return ak_buf_puts(out, "\r\n");
}

/* RFC 5322 date-time in UTC: "Sun, 22 Nov 2026 08:58:05 +0000". */
int delivery_date(char out[40], int64_t us)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	int y, mo, d, h, mi, s, wd;

	ak_time_to_civil(us, &y, &mo, &d, &h, &mi, &s, &wd);
	return snprintf(out, 40, "%s, %d %s %04d %02d:%02d:%02d +0000", days[wd], d, months[mo - 1],
	                y, h, mi, s);
}

static int needs_encoding(const char *s, size_t len)
{
	size_t i, line = 0;

	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return 1;
		if (s[i] == '\n')
			line = 0;
		else if (++line > LINE_MAX_SMTP)
			return 1;
	}
	return 0;
}

/* Append s with LF line ends as CRLF, ending with a CRLF. */
static int crlf(struct ak_buf *out, const char *s, size_t len)
{
	size_t i, start = 0;
	int rc;

	for (i = 0; i < len; i++)
		if (s[i] == '\n') {
			if ((rc = ak_buf_append(out, s + start, i - start)) != 0 ||
			    (rc = ak_buf_puts(out, "\r\n")) != 0)
				return rc;
			start = i + 1;
		}
	if ((rc = ak_buf_append(out, s + start, len - start)) != 0)
		return rc;
	if (len > 0 && s[len - 1] != '\n')
		return ak_buf_puts(out, "\r\n");
	return 0;
}

static int base64_body(struct ak_buf *out, const char *s, size_t len)
{
	char line[77];
	size_t i;
	int rc;

	for (i = 0; i < len; i += 57) {
		size_t n = len - i < 57 ? len - i : 57;

		ak_b64_encode(line, s + i, n);
		if ((rc = ak_buf_puts(out, line)) != 0 || (rc = ak_buf_puts(out, "\r\n")) != 0)
			return rc;
	}
	return 0;
}

/* The body text s[0..len) with CRLF line ends; with encode, as base64 of
 * that canonical form (RFC 2045 6.8). */
static int put_body(struct ak_buf *out, const char *s, size_t len, int encode)
{
	struct ak_buf canon = AK_BUF_INIT(0);
	int rc;

	if (!encode)
		return crlf(out, s, len);
	rc = crlf(&canon, s, len);
	if (rc == 0)
		rc = base64_body(out, canon.data ? canon.data : "", canon.len);
	ak_buf_free(&canon);
	return rc;
}

int delivery_render_headers(struct ak_buf *out, struct ak_buf *scratch,
                            const struct delivery_template *t, const struct delivery_render *r)
{
	size_t i;
	int rc;

	for (i = 0; i < t->nhdrs; i++) {
		const struct theader *h = &t->hdrs[i];

		if (h->kind == H_DROP || (h->kind == H_LIST_UNSUB && r->list_unsubscribe))
			continue;
		ak_buf_reset(scratch);
		if ((rc = expand(scratch, &h->value, r)) != 0 ||
		    (rc = write_header(out, h->name, h->name_len, h->kind == H_ADDRESS,
		                       scratch->data ? scratch->data : "", scratch->len)) != 0)
			return rc;
	}
	return 0;
}

int delivery_render(struct ak_buf *out, struct ak_buf *scratch, const struct delivery_template *t,
                    const struct delivery_render *r)
{
	char date[40];
	int rc, encode_body;

	if ((rc = delivery_render_headers(out, scratch, t, r)) != 0)
		return rc;
	if (!t->has_from && (rc = ak_buf_printf(out, "From: <%s>\r\n", r->from)) != 0)
		return rc;
	if (!t->has_to && (rc = ak_buf_printf(out, "To: <%s>\r\n", r->rcpt)) != 0)
		return rc;
	delivery_date(date, r->date_us);
	if ((rc = ak_buf_printf(out, "Date: %s\r\nMessage-ID: %s\r\n", date, r->message_id)) != 0)
		return rc;
	if (r->list_unsubscribe &&
	    (rc = ak_buf_printf(out,
	                        "List-Unsubscribe: <%s>\r\n"
	                        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
	                        r->list_unsubscribe)) != 0)
		return rc;
	ak_buf_reset(scratch);
	if ((rc = expand(scratch, &t->body, r)) != 0)
		return rc;
	encode_body = !t->has_cte && !t->composite &&
	              needs_encoding(scratch->data ? scratch->data : "", scratch->len);
	if (!t->has_cte && t->composite && !ascii(scratch->data, scratch->len) &&
	    (rc = ak_buf_puts(out, "Content-Transfer-Encoding: 8bit\r\n")) != 0)
		return rc;
	if (encode_body) {
		if (!t->has_mime && (rc = ak_buf_puts(out, "MIME-Version: 1.0\r\n")) != 0)
			return rc;
		if (!t->has_ctype &&
		    (rc = ak_buf_puts(out, "Content-Type: text/plain; charset=UTF-8\r\n")) != 0)
			return rc;
		if ((rc = ak_buf_puts(out, "Content-Transfer-Encoding: base64\r\n")) != 0)
			return rc;
	}
	if ((rc = ak_buf_puts(out, "\r\n")) != 0)
		return rc;
	return put_body(out, scratch->data ? scratch->data : "", scratch->len, encode_body);
}

int delivery_compose_raw(struct ak_buf *out, const char *msg, size_t len,
                         const char *list_unsubscribe)
{
	size_t hlen;
	int rc;

	/* The header ends at the first empty line (CRLF CRLF, or a message
	 * that starts with one). */
	if (len >= 2 && msg[0] == '\r' && msg[1] == '\n') {
		hlen = 0;
	} else {
		const char *e = NULL, *p = msg;

		while ((size_t)(p - msg) + 4 <= len &&
		       (e = memchr(p, '\r', len - (size_t)(p - msg) - 3)) != NULL) {
			if (memcmp(e, "\r\n\r\n", 4) == 0)
				break;
			p = e + 1;
			e = NULL;
		}
		hlen = e ? (size_t)(e - msg) + 2 : len;
	}
	if ((rc = ak_buf_append(out, msg, hlen)) != 0)
		return rc;
	if (list_unsubscribe &&
	    (rc = ak_buf_printf(out,
	                        "List-Unsubscribe: <%s>\r\n"
	                        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
	                        list_unsubscribe)) != 0)
		return rc;
	return ak_buf_append(out, msg + hlen, len - hlen);
}

/* ---- notices (the daemon's own mail: alerts) ---- */

/* An address fit to stand alone in a header and an envelope: ASCII, no
 * quoted local part, nothing that could end a line or start another
 * mailbox. */
static int notice_address(const char *field, const char *a)
{
	int lower;

	if (a == NULL || a[0] == '"' || !ascii(a, strlen(a)) ||
	    !ingest_is_email(a, strlen(a), &lower))
		return ak_error_code(AK_EINVALID, "%s: '%.100s' is not an e-mail address", field,
		                     a ? a : "");
	return 0;
}

int delivery_compose_notice(struct ak_buf *out, const struct delivery_notice *n)
{
	const char *subject = n->subject ? n->subject : "";
	const char *text = n->text ? n->text : "";
	size_t i, slen = strlen(subject), mlen = n->message_id ? strlen(n->message_id) : 0;
	char date[40];
	int rc, encode;

	if ((rc = notice_address("from", n->from)) != 0 || (rc = notice_address("to", n->to)) != 0)
		return rc;
	/* Header text is the caller's to clean; anything that could end
	 * the header line or hide in it is refused, not passed on. */
	for (i = 0; i < slen; i++)
		if ((unsigned char)subject[i] < 0x20 || subject[i] == 0x7f)
			return ak_error_code(AK_EINVALID, "subject: control character 0x%02x",
			                     (unsigned)(unsigned char)subject[i]);
	if (mlen < 5 || mlen > 250 || n->message_id[0] != '<' || n->message_id[mlen - 1] != '>' ||
	    strchr(n->message_id, '@') == NULL)
		return ak_error_code(AK_EINVALID, "message_id: '%.100s' is not <...@...>",
		                     n->message_id ? n->message_id : "");
	for (i = 0; i < mlen; i++)
		if ((unsigned char)n->message_id[i] <= 0x20 ||
		    (unsigned char)n->message_id[i] >= 0x7f)
			return ak_error_code(AK_EINVALID, "message_id: not printable ASCII");
	for (i = 0; i < n->text_len; i++)
		if (text[i] == '\r' || text[i] == '\0')
			return ak_error_code(AK_EINVALID, "text: a CR or a NUL (lines end in LF)");
	delivery_date(date, n->date_us ? n->date_us : ak_time_now());
	if ((rc = ak_buf_printf(out,
	                        "From: akashi <%s>\r\nTo: <%s>\r\nDate: %s\r\nMessage-ID: %s\r\n",
	                        n->from, n->to, date, n->message_id)) != 0 ||
	    (rc = write_header(out, "Subject", 7, 0, subject, slen)) != 0)
		return rc;
	/* RFC 3834: no vacation replies to a machine's notice. */
	encode = needs_encoding(text, n->text_len);
	if ((rc = ak_buf_printf(out,
	                        "Auto-Submitted: auto-generated\r\n"
	                        "MIME-Version: 1.0\r\n"
	                        "Content-Type: text/plain; charset=UTF-8\r\n"
	                        "Content-Transfer-Encoding: %s\r\n\r\n",
	                        encode ? "base64" : "7bit")) != 0)
		return rc;
	return put_body(out, text, n->text_len, encode);
}
