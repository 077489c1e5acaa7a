/*
 * auditd/http_parse.c - query strings, form bodies, bearer tokens and the
 * gate's JSON body (see http_parse.h).
 *
 * SECURITY: every function here reads bytes from the network. Each one
 * is bounded by the length it is given (none relies on a NUL), writes
 * only within the capacity it is given, and refuses rather than repairs:
 * a bad escape, an embedded NUL, or a value too long for its buffer is
 * an error, never a truncation that could make two different requests
 * mean the same thing.
 */
#include "auditd/http_parse.h"

#include "auditd/ingest/kinds.h"
#include "lib/ascii.h"
#include "lib/b64.h"
#include "lib/error.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int http_pct_decode(const char *s, size_t len, int plus_space, char *out, size_t cap,
                    size_t *out_len)
{
	size_t i, o = 0;

	if (cap == 0)
		return ak_error_code(AK_EINVALID, "no room");
	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return ak_error_code(AK_EINVALID, "truncated %%-escape");
			hi = ak_hex_value((unsigned char)s[i + 1]);
			lo = ak_hex_value((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return ak_error_code(AK_EINVALID, "bad %%-escape");
			c = hi << 4 | lo;
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		}
		if (c == 0)
			return ak_error_code(AK_EINVALID, "NUL byte in a parameter");
		if (o + 1 >= cap)
			return ak_error_code(AK_EINVALID, "parameter longer than %zu bytes",
			                     cap - 1);
		out[o++] = (char)c;
	}
	out[o] = '\0';
	if (out_len)
		*out_len = o;
	return 0;
}

int http_query_get(const char *query, size_t len, const char *name, char *out, size_t cap,
                   size_t *out_len)
{
	size_t nlen = strlen(name), i = 0;

	while (query && i < len) {
		const char *pair = query + i, *amp = memchr(pair, '&', len - i), *eq;
		size_t plen = amp ? (size_t)(amp - pair) : len - i;
		char key[128];
		size_t klen, dlen;

		i += plen + 1;
		eq = memchr(pair, '=', plen);
		klen = eq ? (size_t)(eq - pair) : plen;
		/* Names are compared decoded, so "List%2DUnsubscribe" is the
		 * same name as "List-Unsubscribe". */
		if (klen == 0 || http_pct_decode(pair, klen, 1, key, sizeof(key), &dlen) != 0 ||
		    dlen != nlen || memcmp(key, name, nlen) != 0)
			continue;
		if (eq == NULL) {
			if (cap == 0)
				return ak_error_code(AK_EINVALID, "no room");
			out[0] = '\0';
			if (out_len)
				*out_len = 0;
			return 0;
		}
		if (http_pct_decode(eq + 1, plen - klen - 1, 1, out, cap, out_len) != 0) {
			ak_error_prefix("parameter '%s'", name);
			return AK_EINVALID;
		}
		return 0;
	}
	return ak_error_code(AK_ENOTFOUND, "parameter '%s' missing", name);
}

/* Skip optional white space. */
static size_t ows(const char *s, size_t i, size_t len)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

static int is_one_click_value(const char *v, size_t len)
{
	while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
		len--;
	return len == 9 && memcmp(v, "One-Click", 9) == 0;
}

/* The boundary parameter of a multipart content type, into out. */
static int boundary_of(const char *ct, char *out, size_t cap)
{
	const char *p = ct;
	size_t n = 0;

	while ((p = strchr(p, ';')) != NULL) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "boundary=", 9) != 0)
			continue;
		p += 9;
		if (*p == '"') {
			p++;
			while (p[n] && p[n] != '"')
				n++;
		} else {
			while (p[n] && p[n] != ';' && p[n] != ' ' && p[n] != '\t')
				n++;
		}
		/* RFC 2046: 1 to 70 characters. */
		if (n == 0 || n > 70 || n >= cap)
			return -1;
		memcpy(out, p, n);
		out[n] = '\0';
		return 0;
	}
	return -1;
}

static const char *find(const char *h, size_t hlen, const char *n, size_t nlen)
{
	return nlen <= hlen ? memmem(h, hlen, n, nlen) : NULL;
}

/* multipart/form-data: is there a part named List-Unsubscribe holding
 * One-Click? Parts are delimited by CRLF "--" boundary. */
static int multipart_one_click(const char *ct, const char *body, size_t len)
{
	char b[80], delim[84];
	size_t dlen, pos;
	const char *p;

	if (boundary_of(ct, b, sizeof(b)) != 0)
		return 0;
	dlen = (size_t)snprintf(delim, sizeof(delim), "--%s", b);
	p = find(body, len, delim, dlen);
	while (p) {
		const char *part, *hdr_end, *next, *name;
		size_t hlen;

		pos = (size_t)(p - body) + dlen;
		if (len - pos >= 2 && memcmp(body + pos, "--", 2) == 0)
			return 0; /* the closing delimiter */
		part = body + pos;
		next = find(part, len - pos, delim, dlen);
		hdr_end = find(part, (size_t)((next ? next : body + len) - part), "\r\n\r\n", 4);
		if (hdr_end == NULL)
			return 0;
		hlen = (size_t)(hdr_end - part);
		name = find(part, hlen, "name=\"List-Unsubscribe\"", 23);
		if (name) {
			const char *v = hdr_end + 4;
			size_t vlen = (size_t)((next ? next : body + len) - v);

			return is_one_click_value(v, vlen);
		}
		p = next;
	}
	return 0;
}

int http_one_click(const char *content_type, const char *body, size_t len)
{
	char v[32];
	size_t vlen;

	if (body == NULL)
		return 0;
	if (content_type && strncasecmp(content_type, "multipart/form-data", 19) == 0)
		return multipart_one_click(content_type, body, len);
	/* A trailing line end is common from hand-written clients. */
	while (len && (body[len - 1] == '\n' || body[len - 1] == '\r'))
		len--;
	if (http_query_get(body, len, "List-Unsubscribe", v, sizeof(v), &vlen) != 0)
		return 0;
	return is_one_click_value(v, vlen);
}

int http_bearer(const char *header, const char **token, size_t *len)
{
	size_t i, n, end;

	if (header == NULL)
		return ak_error_code(AK_ENOTFOUND, "no Authorization header");
	n = strlen(header);
	i = ows(header, 0, n);
	if (n - i < 7 || strncasecmp(header + i, "bearer", 6) != 0 ||
	    (header[i + 6] != ' ' && header[i + 6] != '\t'))
		return ak_error_code(AK_ENOTFOUND, "Authorization is not a bearer token");
	i = ows(header, i + 6, n);
	end = i;
	while (end < n && header[end] != ' ' && header[end] != '\t')
		end++;
	if (end == i || ows(header, end, n) != n)
		return ak_error_code(AK_ENOTFOUND, "Authorization is not a bearer token");
	*token = header + i;
	*len = end - i;
	return 0;
}

int http_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return ak_error_code(AK_EINVALID, "'%.40s' is not a whole number", s ? s : "");
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return ak_error_code(AK_EINVALID, "'%.40s' is not a whole number from %lld to %lld",
		                     s, (long long)min, (long long)max);
	*out = v;
	return 0;
}

static int want_string(json_t *root, const char *name, int required, const char **out)
{
	json_t *v = json_object_get(root, name);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return ak_error_code(AK_EINVALID, "field '%s': missing", name);
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 1024 ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return ak_error_code(AK_EINVALID, "field '%s': must be a non-empty string", name);
	*out = json_string_value(v);
	return 0;
}

int http_gate_request(const char *body, size_t len, struct gate_request *out, json_t **holder)
{
	static const char *const known[] = {"rcpt",
	                                    "list",
	                                    "stream",
	                                    "campaign",
	                                    "owner",
	                                    "campaign_size",
	                                    "unsubscribe_headers",
	                                    NULL};
	json_error_t jerr;
	json_t *root, *v;
	const char *key, *rcpt;
	int needs_lower = 0, rc;
	char *lower = NULL;
	size_t i;

	memset(out, 0, sizeof(*out));
	*holder = NULL;
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return ak_error_code(AK_EINVALID, "body: not JSON: line %d column %d: %s",
		                     jerr.line, jerr.column, jerr.text);
	*holder = root;
	if (!json_is_object(root))
		return ak_error_code(AK_EINVALID, "body: must be a JSON object");
	json_object_foreach(root, key, v)
	{
		for (i = 0; known[i]; i++)
			if (strcmp(known[i], key) == 0)
				break;
		if (known[i] == NULL)
			return ak_error_code(AK_EINVALID, "field '%.60s': unknown", key);
	}
	if ((rc = want_string(root, "rcpt", 1, &rcpt)) != 0 ||
	    (rc = want_string(root, "list", 1, &out->list)) != 0 ||
	    (rc = want_string(root, "stream", 1, &out->stream)) != 0 ||
	    (rc = want_string(root, "campaign", 0, &out->campaign)) != 0 ||
	    (rc = want_string(root, "owner", 0, &out->owner)) != 0)
		return rc;
	if (strcmp(out->stream, "marketing") != 0 && strcmp(out->stream, "transactional") != 0)
		return ak_error_code(AK_EINVALID,
		                     "field 'stream': must be \"marketing\" or \"transactional\"");
	if (!ingest_is_email(rcpt, strlen(rcpt), &needs_lower))
		return ak_error_code(AK_EINVALID, "field 'rcpt': not an e-mail address");
	if (needs_lower) {
		/* Keep the lower-cased copy alive in the holder. */
		if ((lower = strdup(rcpt)) == NULL)
			return ak_error_oom();
		rc = json_object_set_new(root, "rcpt", json_string(ak_ascii_lower_str(lower)));
		free(lower);
		if (rc != 0)
			return ak_error_oom();
		rcpt = json_string_value(json_object_get(root, "rcpt"));
	}
	out->rcpt = rcpt;
	out->campaign_size = -1;
	v = json_object_get(root, "campaign_size");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return ak_error_code(AK_EINVALID,
			                     "field 'campaign_size': must be a whole number >= 0");
		out->campaign_size = json_integer_value(v);
	}
	out->unsubscribe_headers = -1;
	v = json_object_get(root, "unsubscribe_headers");
	if (v && !json_is_null(v)) {
		if (!json_is_boolean(v))
			return ak_error_code(AK_EINVALID,
			                     "field 'unsubscribe_headers': must be true or false");
		out->unsubscribe_headers = json_is_true(v);
	}
	return 0;
}
