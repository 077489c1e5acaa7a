/*
 * auditd/ingest/dsn.c - DSN (RFC 3464) and ARF (RFC 5965) messages as
 * `send` records (the contract is in dsn.h).
 *
 * The messages come from the shared mail walker (mail.h). For each one the
 * status part (message/delivery-status or message/feedback-report) is
 * found among the MIME parts, decoded, and read by fields_parse(): lines
 * of "Name: value", folded lines joined, blocks separated by empty lines
 * (per-message fields, then one block per recipient). The returned
 * message (message/rfc822 or text/rfc822-headers) gives the original
 * Message-ID, X-Akashi-Campaign and, for ARF, To; its headers are parsed
 * by GMime as a message of their own.
 *
 * SECURITY: the input is mail from anyone. Parts are decoded only when
 * their encoded size is at most DSN_MAX_PART_BYTES (decoding never makes
 * them longer), fields are counted against DSN_MAX_FIELDS, and every value
 * that becomes part of a record is checked (addresses by
 * ingest_is_email(), text for UTF-8 by jansson) before use.
 */
#include "auditd/ingest/dsn.h"
#include "auditd/ingest/dmarc.h"
#include "auditd/ingest/kinds.h"
#include "auditd/ingest/mail.h"

#include "lib/ascii.h"
#include "lib/buf.h"
#include "lib/error.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- fields: "Name: value" lines in blocks ---- */

struct field {
	int block;
	size_t name, value; /* offsets of NUL-terminated strings in text */
};

struct fields {
	struct ak_buf text;
	struct field *f;
	size_t n, cap;
	int nblocks;
};

static void fields_free(struct fields *fs)
{
	ak_buf_free(&fs->text);
	free(fs->f);
	memset(fs, 0, sizeof(*fs));
}

static int is_blank(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t')
			return 0;
	return 1;
}

/* Append p[0..n) trimmed, after a space when to_last (a folded line). */
static int put_value(struct fields *fs, const char *p, size_t n, int to_last)
{
	int rc;

	while (n > 0 && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (to_last) {
		ak_buf_truncate(&fs->text, fs->text.len - 1); /* its NUL */
		if (n > 0 && fs->text.len > fs->f[fs->n - 1].value &&
		    (rc = ak_buf_putc(&fs->text, ' ')) != 0)
			return rc;
	}
	if ((rc = ak_buf_append(&fs->text, p, n)) != 0 || (rc = ak_buf_putc(&fs->text, '\0')) != 0)
		return rc;
	return 0;
}

/* Parse text (not NUL-terminated) into fs. Lines that are neither a field
 * nor a continuation are ignored. 0, AK_ETOOBIG (too many fields) or
 * AK_ENOMEM. */
static int fields_parse(struct fields *fs, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	int block = 0, in_block = 0, last = 0, rc;

	memset(fs, 0, sizeof(*fs));
	ak_buf_init(&fs->text, DSN_MAX_PART_BYTES * 2);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *colon;
		size_t n;

		if (le > p && le[-1] == '\r')
			le--;
		n = (size_t)(le - p);
		if (is_blank(p, n)) {
			if (in_block)
				block++;
			in_block = last = 0;
		} else if (p[0] == ' ' || p[0] == '\t') {
			if (last && (rc = put_value(fs, p, n, 1)) != 0)
				return rc;
		} else if ((colon = memchr(p, ':', n)) != NULL && colon > p) {
			const char *ne = colon;
			size_t i;

			while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
				ne--;
			for (i = 0; p + i < ne && (unsigned char)p[i] > ' ' && p[i] != 0x7f; i++)
				;
			last = 0;
			if (p + i == ne && i <= 76) {
				if (fs->n == DSN_MAX_FIELDS)
					return AK_ETOOBIG;
				if (fs->n == fs->cap) {
					size_t cap = fs->cap ? fs->cap * 2 : 32;
					struct field *nf = realloc(fs->f, cap * sizeof(*nf));

					if (nf == NULL)
						return AK_ENOMEM;
					fs->f = nf;
					fs->cap = cap;
				}
				fs->f[fs->n].block = block;
				fs->f[fs->n].name = fs->text.len;
				if ((rc = put_value(fs, p, i, 0)) != 0)
					return rc;
				fs->f[fs->n].value = fs->text.len;
				fs->n++;
				if ((rc = put_value(fs, colon + 1, (size_t)(le - colon - 1), 0)) !=
				    0)
					return rc;
				in_block = last = 1;
			}
		} else {
			last = 0;
		}
		p = nl ? nl + 1 : end;
	}
	fs->nblocks = block + in_block;
	return 0;
}

/* The value of the first field called name in block (-1: any block), or
 * NULL. *from (may be NULL) starts the search and gets the next index. */
static const char *fields_next(const struct fields *fs, int block, const char *name, size_t *from)
{
	size_t i;

	for (i = from ? *from : 0; i < fs->n; i++) {
		if ((block >= 0 && fs->f[i].block != block) ||
		    strcasecmp(fs->text.data + fs->f[i].name, name) != 0)
			continue;
		if (from)
			*from = i + 1;
		return fs->text.data + fs->f[i].value;
	}
	return NULL;
}

static const char *fget(const struct fields *fs, int block, const char *name)
{
	return fields_next(fs, block, name, NULL);
}

/* ---- values ---- */

/* "type; value" -> value (trimmed); *type_out gets "type" when there is
 * one (an atom before the ';'), else "". Both point into buf. */
static const char *untyped(const char *v, char *buf, size_t cap, const char **type_out)
{
	const char *semi = strchr(v, ';');
	size_t i, n;

	*type_out = "";
	if (semi != NULL) {
		for (i = 0;
		     v + i < semi && (v[i] == '-' || v[i] == '.' || (v[i] >= '0' && v[i] <= '9') ||
		                      ((v[i] | 0x20) >= 'a' && (v[i] | 0x20) <= 'z'));
		     i++)
			;
		while (v + i < semi && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (v + i == semi && i > 0 && i < cap / 4) {
			n = (size_t)(semi - v);
			while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			memcpy(buf, v, n);
			buf[n] = '\0';
			*type_out = buf;
			buf += n + 1;
			cap -= n + 1;
			v = semi + 1;
		}
	}
	while (*v == ' ' || *v == '\t')
		v++;
	n = strlen(v);
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, v, n);
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	return buf;
}

/* An address from a field value ("rfc822; <A@B>", "a@b"): lower-cased into
 * out. 0, or AK_EINVALID with the reason set. */
static int address(const char *field, const char *v, char *out, size_t cap)
{
	char buf[600];
	const char *type, *a = untyped(v, buf, sizeof(buf), &type);
	size_t n = strlen(a), i;
	int lower;

	if (type[0] != '\0' && strcasecmp(type, "rfc822") != 0 && strcasecmp(type, "utf-8") != 0)
		return ak_error_code(AK_EINVALID, "%s: address type '%.40s' is not rfc822", field,
		                     type);
	if (n >= 2 && a[0] == '<' && a[n - 1] == '>')
		a++, n -= 2;
	if (n == 0 || n >= cap || !ingest_is_email(a, n, &lower))
		return ak_error_code(AK_EINVALID, "%s: '%.80s' is not an e-mail address", field, v);
	for (i = 0; i < n; i++)
		out[i] = ak_ascii_lower(a[i]);
	out[n] = '\0';
	return 0;
}

/* An RFC 3463 status code "c.s.d" (class 2, 4 or 5) at the start of v,
 * copied to out; 0 or AK_EINVALID. */
static int status_code(const char *v, char *out, size_t cap)
{
	const char *p = v;
	int part, digits;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '2' && *p != '4' && *p != '5')
		return AK_EINVALID;
	v = p++;
	for (part = 1; part < 3; part++) {
		if (*p++ != '.')
			return AK_EINVALID;
		for (digits = 0; *p >= '0' && *p <= '9'; p++)
			digits++;
		if (digits < 1 || digits > 3)
			return AK_EINVALID;
	}
	if (*p != '\0' && *p != ' ' && *p != '\t' && *p != '(')
		return AK_EINVALID;
	if ((size_t)(p - v) >= cap)
		return AK_EINVALID;
	memcpy(out, v, (size_t)(p - v));
	out[p - v] = '\0';
	return 0;
}

/* A source name: "PREFIX:" + the printable, plain characters of name. */
static int make_source(struct ak_buf *out, const char *prefix, const char *name)
{
	size_t i, start;

	ak_buf_reset(out);
	if (ak_buf_puts(out, prefix) != 0)
		return AK_ENOMEM;
	start = out->len + 1;
	if (ak_buf_putc(out, ':') != 0)
		return AK_ENOMEM;
	for (i = 0; name && name[i] && i < 200; i++) {
		char ch = name[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr(".-_[]:", ch))
			if (ak_buf_putc(out, ak_ascii_lower(ch)) != 0)
				return AK_ENOMEM;
	}
	if (out->len == start)
		ak_buf_truncate(out, start - 1);
	return 0;
}

/* ---- MIME ---- */

static int type_is(GMimeObject *obj, const char *type, const char *sub)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);

	return ct && g_mime_content_type_is_type(ct, type, sub);
}

/* The first part (depth-first through multiparts, not into attached
 * messages) whose type is one of types[] ("type/sub" pairs); NULL. */
static GMimeObject *find_part(GMimeObject *obj, const char *const *types, int depth, int *parts)
{
	int i, n;

	if (obj == NULL || ++*parts > DMARC_MAX_PARTS || depth > DMARC_MAX_NESTING)
		return NULL;
	for (i = 0; types[i] != NULL; i += 2)
		if (type_is(obj, types[i], types[i + 1]))
			return obj;
	if (!GMIME_IS_MULTIPART(obj))
		return NULL;
	n = g_mime_multipart_get_count(GMIME_MULTIPART(obj));
	for (i = 0; i < n; i++) {
		GMimeObject *p = find_part(g_mime_multipart_get_part(GMIME_MULTIPART(obj), i),
		                           types, depth + 1, parts);

		if (p != NULL)
			return p;
	}
	return NULL;
}

/* The decoded content of a leaf part, in a new memory stream (*out, unref
 * it); 0, or AK_EINVALID / AK_ETOOBIG with the reason set. */
static int part_content(GMimeObject *obj, GMimeStream **out, const unsigned char **data,
                        size_t *len)
{
	GMimeDataWrapper *content;
	GByteArray *bytes;
	gint64 encoded;

	*out = NULL;
	if (!GMIME_IS_PART(obj) || (content = g_mime_part_get_content(GMIME_PART(obj))) == NULL ||
	    g_mime_data_wrapper_get_stream(content) == NULL) {
		*data = (const unsigned char *)"";
		*len = 0;
		return 0;
	}
	encoded = g_mime_stream_length(g_mime_data_wrapper_get_stream(content));
	if (encoded < 0 || (guint64)encoded > DSN_MAX_PART_BYTES)
		return ak_error_code(AK_ETOOBIG, "a report part larger than %zu bytes",
		                     DSN_MAX_PART_BYTES);
	*out = g_mime_stream_mem_new();
	if (g_mime_data_wrapper_write_to_stream(content, *out) < 0)
		return ak_error_code(AK_EINVALID, "a report part cannot be decoded");
	bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(*out));
	/* An empty GByteArray has no data pointer at all. */
	*data = bytes->len ? bytes->data : (const unsigned char *)"";
	*len = bytes->len;
	return 0;
}

/* What the returned message tells: its headers as a message (*out, unref
 * it), or NULL when the report has none. */
static GMimeMessage *returned_message(GMimeMessage *msg)
{
	static const char *const types[] = {"message", "rfc822",         "message",
	                                    "global",  "text",           "rfc822-headers",
	                                    "message", "global-headers", NULL};
	GMimeObject *part;
	GMimeStream *mem = NULL, *view;
	GMimeParser *parser;
	GMimeMessage *m = NULL;
	const unsigned char *data;
	size_t len;
	int parts = 0;

	part = find_part(g_mime_message_get_mime_part(msg), types, 0, &parts);
	if (part == NULL)
		return NULL;
	if (GMIME_IS_MESSAGE_PART(part)) {
		m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(part));
		if (m != NULL)
			g_object_ref(m);
		return m;
	}
	if (part_content(part, &mem, &data, &len) != 0 || len == 0) {
		if (mem)
			g_object_unref(mem);
		return NULL;
	}
	view = g_mime_stream_mem_new_with_buffer((const char *)data, len);
	parser = g_mime_parser_new_with_stream(view);
	m = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(view);
	g_object_unref(mem);
	return m;
}

/* ---- records ---- */

struct dsn_ctx {
	const struct ingest_options *opt;
	const struct ingest_sink *sink;
	int arf;
	struct ak_buf where, source, event_id;
};

static int reject(struct dsn_ctx *c, const char *where, const char *reason)
{
	char msg[1024];

	snprintf(msg, sizeof(msg), "%s", reason ? reason : ak_error_last());
	return c->sink->reject(c->sink->ctx, where, msg, NULL, 0);
}

/* Set key to the string v (skipped when v is NULL or empty). 0, or
 * AK_EINVALID when v is not UTF-8. */
static int put(json_t *body, const char *key, const char *v)
{
	json_t *j;

	if (v == NULL || v[0] == '\0')
		return 0;
	j = json_string(v);
	if (j == NULL)
		return ak_error_code(AK_EINVALID, "%s: not valid UTF-8", key);
	return json_object_set_new(body, key, j) == 0 ? 0 : ak_error_oom();
}

struct notice {
	int64_t time_us;
	const char *message_id; /* the notification's own, or NULL */
	const char *orig_id;    /* the returned message's, or NULL */
	const char *campaign;
};

static int emit_body(struct dsn_ctx *c, const char *where, const struct notice *nt, json_t *body,
                     const char *rcpt)
{
	struct ingest_record rec;
	int rc;

	if ((rc = put(body, "message_id", nt->orig_id)) != 0 ||
	    (rc = put(body, "campaign", nt->campaign)) != 0)
		return rc == AK_EINVALID ? reject(c, where, NULL) : rc;
	memset(&rec, 0, sizeof(rec));
	rec.kind = "send";
	rec.time_us = nt->time_us;
	rec.source = c->opt->source ? c->opt->source : c->source.data;
	rec.body = body;
	rec.where = where;
	if (nt->message_id != NULL) {
		ak_buf_reset(&c->event_id);
		if (ak_buf_printf(&c->event_id, "%s!%s", nt->message_id, rcpt) != 0)
			return ak_error_oom();
		rec.event_id = c->event_id.data;
	}
	return c->sink->record(c->sink->ctx, &rec);
}

/* Hand on the record whose body was built with rc (AK_EINVALID: a field
 * it cannot hold, so the notice is rejected), and free the body. */
static int emit(struct dsn_ctx *c, const char *where, const struct notice *nt, json_t *body,
                const char *rcpt, int rc)
{
	if (rc == AK_EINVALID)
		rc = reject(c, where, NULL);
	else if (rc == 0)
		rc = emit_body(c, where, nt, body, rcpt);
	json_decref(body);
	return rc;
}

/* The time of a notification: its Date, else Arrival-Date; 0 or
 * AK_EINVALID. */
static int notice_time(GMimeMessage *msg, const char *arrival, int64_t *out)
{
	GDateTime *dt = g_mime_message_get_date(msg);

	if (dt != NULL) {
		*out = (int64_t)g_date_time_to_unix(dt) * 1000000;
		return 0;
	}
	if (arrival != NULL && (dt = g_mime_utils_header_decode_date(arrival)) != NULL) {
		*out = (int64_t)g_date_time_to_unix(dt) * 1000000;
		g_date_time_unref(dt);
		return 0;
	}
	return ak_error_code(AK_EINVALID, "no usable Date or Arrival-Date");
}

static const char *header(GMimeMessage *m, const char *name)
{
	return m ? g_mime_object_get_header(GMIME_OBJECT(m), name) : NULL;
}

/* A short description of a message's top content type for messages. */
static void describe_type(GMimeMessage *msg, char *out, size_t cap)
{
	GMimeObject *top = g_mime_message_get_mime_part(msg);
	GMimeContentType *ct = top ? g_mime_object_get_content_type(top) : NULL;
	const char *rt = ct ? g_mime_content_type_get_parameter(ct, "report-type") : NULL;

	if (ct == NULL) {
		snprintf(out, cap, "no MIME content");
		return;
	}
	snprintf(out, cap, "%.40s/%.40s%s%.40s", g_mime_content_type_get_media_type(ct),
	         g_mime_content_type_get_media_subtype(ct), rt ? "; report-type=" : "",
	         rt ? rt : "");
}

/* One per-recipient block of a DSN. */
static int dsn_recipient(struct dsn_ctx *c, const char *where, const struct fields *fs, int b,
                         const struct notice *nt)
{
	const char *final = fget(fs, b, "Final-Recipient"), *action = fget(fs, b, "Action");
	const char *st = fget(fs, b, "Status"), *diag = fget(fs, b, "Diagnostic-Code");
	const char *remote = fget(fs, b, "Remote-MTA"), *orig = fget(fs, b, "Original-Recipient");
	const char *status, *type;
	char rcpt[256], orig_to[256], code[16], buf[2048], buf2[600];
	json_t *body = NULL;
	int rc;

	if (final == NULL)
		return reject(c, where, "no Final-Recipient");
	if ((rc = address("Final-Recipient", final, rcpt, sizeof(rcpt))) != 0)
		return reject(c, where, NULL);
	if (action == NULL)
		return reject(c, where, "no Action");
	if (st == NULL)
		return reject(c, where, "no Status");
	if (status_code(st, code, sizeof(code)) != 0) {
		ak_error_code(AK_EINVALID,
		              "Status: '%.40s' is not a status code (class.subject.detail)", st);
		return reject(c, where, NULL);
	}
	if (strncasecmp(action, "failed", 6) == 0 && (action[6] == '\0' || action[6] == ' ')) {
		if (code[0] == '2') {
			ak_error_code(AK_EINVALID, "Action failed with a success Status %s", code);
			return reject(c, where, NULL);
		}
		status = code[0] == '5' ? "bounced" : "expired";
	} else if (strncasecmp(action, "delayed", 7) == 0) {
		status = "deferred";
	} else if (strncasecmp(action, "delivered", 9) == 0 ||
	           strncasecmp(action, "relayed", 7) == 0 ||
	           strncasecmp(action, "expanded", 8) == 0) {
		snprintf(buf, sizeof(buf), "Action %.20s: not a failure", action);
		c->sink->skip(c->sink->ctx, where, buf);
		return 0;
	} else {
		ak_error_code(AK_EINVALID,
		              "Action: '%.40s' is not failed, delayed, delivered, relayed "
		              "or expanded",
		              action);
		return reject(c, where, NULL);
	}
	body = json_object();
	if (body == NULL)
		return ak_error_oom();
	rc = put(body, "rcpt", rcpt);
	if (rc == 0)
		rc = put(body, "status", status);
	if (rc == 0)
		rc = put(body, "dsn", code);
	if (rc == 0 && diag)
		rc = put(body, "reply", untyped(diag, buf, sizeof(buf), &type));
	if (rc == 0 && remote)
		rc = put(body, "relay", untyped(remote, buf2, sizeof(buf2), &type));
	if (rc == 0 && orig && address("Original-Recipient", orig, orig_to, sizeof(orig_to)) == 0)
		rc = put(body, "orig_to", orig_to);
	return emit(c, where, nt, body, rcpt, rc);
}

static int dsn_message(struct dsn_ctx *c, const char *where, GMimeMessage *msg,
                       const struct fields *fs, struct notice *nt)
{
	int b, first, rc = 0, n = 0;
	const char *mta;
	char buf[600];
	const char *type;

	/* Per-message fields first, unless a broken MTA left them out. */
	first = fget(fs, 0, "Final-Recipient") || fget(fs, 0, "Action") ? 0 : 1;
	mta = fget(fs, 0, "Reporting-MTA");
	if (make_source(&c->source, "dsn", mta ? untyped(mta, buf, sizeof(buf), &type) : NULL) != 0)
		return ak_error_oom();
	if (notice_time(msg, fget(fs, 0, "Arrival-Date"), &nt->time_us) != 0)
		return reject(c, where, NULL);
	if (fs->nblocks <= first)
		return reject(c, where,
		              "no per-recipient fields (Final-Recipient, Action, Status)");
	for (b = first; b < fs->nblocks && rc == 0; b++) {
		const char *w = where;

		if (fs->nblocks - first > 1) {
			ak_buf_reset(&c->where);
			if (ak_buf_printf(&c->where, "%s: recipient %d", where, ++n) != 0)
				return ak_error_oom();
			w = c->where.data;
		}
		rc = dsn_recipient(c, w, fs, b, nt);
	}
	return rc;
}

static int arf_one(struct dsn_ctx *c, const char *where, const char *rcpt, const char *ftype,
                   const char *source_ip, const struct notice *nt)
{
	json_t *body = json_object();
	int rc;

	if (body == NULL)
		return ak_error_oom();
	rc = put(body, "rcpt", rcpt);
	if (rc == 0)
		rc = put(body, "status", "complained");
	if (rc == 0)
		rc = put(body, "feedback_type", ftype);
	if (rc == 0)
		rc = put(body, "source_ip", source_ip);
	return emit(c, where, nt, body, rcpt, rc);
}

static int arf_message(struct dsn_ctx *c, const char *where, GMimeMessage *msg,
                       const struct fields *fs, GMimeMessage *orig, struct notice *nt)
{
	const char *ftype = fget(fs, -1, "Feedback-Type"), *v;
	const char *ip = fget(fs, -1, "Source-IP");
	InternetAddressList *from = g_mime_message_get_from(msg);
	char ft[32], rcpt[256], why[128], buf[600], tbuf[600];
	const char *type;
	size_t from_i = 0;
	int rc = 0, n = 0;

	if (ftype == NULL)
		return reject(c, where, "no Feedback-Type");
	snprintf(ft, sizeof(ft), "%s", untyped(ftype, buf, sizeof(buf), &type));
	ak_ascii_lower_str(ft);
	if (strcmp(ft, "abuse") != 0 && strcmp(ft, "fraud") != 0) {
		snprintf(why, sizeof(why), "Feedback-Type %.30s: not a complaint", ft);
		c->sink->skip(c->sink->ctx, where, why);
		return 0;
	}
	buf[0] = '\0';
	if (from && internet_address_list_length(from) > 0) {
		InternetAddress *a = internet_address_list_get_address(from, 0);
		const char *addr =
		        INTERNET_ADDRESS_IS_MAILBOX(a)
		                ? internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a))
		                : NULL;
		const char *at = addr ? strrchr(addr, '@') : NULL;

		if (at)
			snprintf(buf, sizeof(buf), "%s", at + 1);
	}
	if (make_source(&c->source, "arf", buf) != 0)
		return ak_error_oom();
	if (notice_time(msg, fget(fs, -1, "Arrival-Date"), &nt->time_us) != 0)
		return reject(c, where, NULL);
	if (ip)
		ip = untyped(ip, tbuf, sizeof(tbuf), &type);

	while (rc == 0 && (v = fields_next(fs, -1, "Original-Rcpt-To", &from_i)) != NULL) {
		n++;
		if (address("Original-Rcpt-To", v, rcpt, sizeof(rcpt)) != 0)
			rc = reject(c, where, NULL);
		else
			rc = arf_one(c, where, rcpt, ft, ip, nt);
	}
	if (n == 0 && orig != NULL) {
		InternetAddressList *to = g_mime_message_get_addresses(orig, GMIME_ADDRESS_TYPE_TO);
		int k, len = to ? internet_address_list_length(to) : 0;

		for (k = 0; k < len && rc == 0; k++) {
			InternetAddress *a = internet_address_list_get_address(to, k);
			const char *addr;

			if (!INTERNET_ADDRESS_IS_MAILBOX(a))
				continue;
			addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
			n++;
			if (addr == NULL || address("To", addr, rcpt, sizeof(rcpt)) != 0)
				rc = reject(c, where, addr ? NULL : "To: an empty address");
			else
				rc = arf_one(c, where, rcpt, ft, ip, nt);
		}
	}
	if (n == 0 && rc == 0)
		rc = reject(c, where, "no Original-Rcpt-To, and no To in the returned message");
	return rc;
}

/* One message of the input (the mail reader's callback). */
static int one_message(void *ctx, const char *where, GMimeMessage *msg, int in_mailbox)
{
	static const char *const dsn_types[] = {"message", "delivery-status", "message",
	                                        "global-delivery-status", NULL};
	static const char *const arf_types[] = {"message", "feedback-report", NULL};
	struct dsn_ctx *c = ctx;
	struct fields fs;
	struct notice nt;
	GMimeMessage *orig = NULL;
	GMimeObject *part;
	GMimeStream *mem = NULL;
	const unsigned char *data;
	char why[200], what[140];
	size_t len;
	int parts = 0, rc;

	memset(&fs, 0, sizeof(fs));
	memset(&nt, 0, sizeof(nt));
	part = find_part(g_mime_message_get_mime_part(msg), c->arf ? arf_types : dsn_types, 0,
	                 &parts);
	if (part == NULL) {
		describe_type(msg, what, sizeof(what));
		snprintf(why, sizeof(why), "not %s (no %s part; Content-Type %s)",
		         c->arf ? "an ARF feedback report" : "a delivery status notification",
		         c->arf ? "message/feedback-report" : "message/delivery-status", what);
		/* Bounce and abuse mailboxes hold other mail too (auto-replies,
		 * complaints written by hand): skipped there, counted. */
		if (in_mailbox) {
			c->sink->skip(c->sink->ctx, where, why);
			rc = 0;
		} else {
			rc = reject(c, where, why);
		}
		goto done;
	}
	if ((rc = part_content(part, &mem, &data, &len)) != 0) {
		rc = reject(c, where, NULL);
		goto done;
	}
	rc = fields_parse(&fs, (const char *)data, len);
	if (rc == AK_ETOOBIG) {
		rc = reject(c, where, "the report part has too many fields");
		goto done;
	}
	if (rc != 0) {
		rc = ak_error_oom();
		goto done;
	}
	orig = returned_message(msg);
	nt.message_id = g_mime_message_get_message_id(msg);
	nt.orig_id = orig ? g_mime_message_get_message_id(orig) : NULL;
	nt.campaign = header(orig, "X-Akashi-Campaign");
	if (nt.campaign) {
		while (*nt.campaign == ' ' || *nt.campaign == '\t')
			nt.campaign++;
	}
	rc = c->arf ? arf_message(c, where, msg, &fs, orig, &nt)
	            : dsn_message(c, where, msg, &fs, &nt);
done:
	fields_free(&fs);
	if (orig)
		g_object_unref(orig);
	if (mem)
		g_object_unref(mem);
	return rc;
}

static void ctx_init(struct dsn_ctx *c, int arf, const struct ingest_options *opt,
                     const struct ingest_sink *sink, struct ingest_mail_reader *r)
{
	memset(c, 0, sizeof(*c));
	c->opt = opt;
	c->sink = sink;
	c->arf = arf;
	ak_buf_init(&c->where, 0);
	ak_buf_init(&c->source, 0);
	ak_buf_init(&c->event_id, 0);
	r->message = one_message;
	r->ctx = c;
}

static int ctx_finish(struct dsn_ctx *c, int rc)
{
	ak_buf_free(&c->where);
	ak_buf_free(&c->source);
	ak_buf_free(&c->event_id);
	return rc;
}

int ingest_dsn_path(const char *path, int arf, const struct ingest_options *opt,
                    const struct ingest_sink *sink)
{
	struct ingest_mail_reader r;
	struct dsn_ctx c;

	ctx_init(&c, arf, opt, sink, &r);
	return ctx_finish(&c, ingest_mail_path(path, opt, sink, &r));
}

int ingest_dsn_mem(const void *data, size_t len, int arf, const struct ingest_options *opt,
                   const struct ingest_sink *sink)
{
	struct ingest_mail_reader r;
	struct dsn_ctx c;

	ctx_init(&c, arf, opt, sink, &r);
	return ctx_finish(&c, ingest_mail_mem(data, len, opt, sink, &r));
}
