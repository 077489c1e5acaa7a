/*
 * auditd/ingest/dmarc.c - find the DMARC reports in an input and hand them
 * to the sink (the adapter's contract is in dmarc.h).
 *
 * An input is a stream of bytes (struct dmarc_in). report() looks at its
 * first bytes and either parses it as a report (dmarc_xml.c) or opens the
 * container it is and calls itself on what is inside: gzip through
 * libarchive's gzip filter, zip through libarchive's zip reader, e-mail and
 * mbox through GMime. Each report found ends as one record, one reject, or
 * (a message of a mailbox that carries no report) one skip, and the adapter
 * goes on with the next; only the sink asking to stop, memory running out
 * or the input becoming unreadable ends it early.
 *
 * Decompressed bytes flow from the container to expat in 64 KiB chunks; a
 * zip or a MIME message is opened where it lies (memory, or the file by its
 * path) and copied into a buffer bounded by max_bytes only when it comes
 * out of another container.
 *
 * The same walk finds the messages of an input for the adapters whose
 * records arrive as mail (DSN, ARF: auditd/ingest/mail.h): with a mail
 * reader in the context, each message goes to the reader instead of being
 * searched for a report, zip is not a container, and input that is neither
 * mail nor a mailbox is rejected instead of being parsed as XML.
 *
 * SECURITY: every input is hostile until parsed. Nothing here opens a file
 * named by the input: archive member names are checked (absolute paths and
 * ".." refuse the archive) and quoted, with control bytes replaced, only in
 * messages. Decompressed output is counted against max_bytes as it is read
 * (a bomb stops at the limit): all of it that comes out of one file, or
 * one message of a mailbox, together, whatever the archives inside
 * archives, so that members and nesting levels do not each get a budget.
 * An encoded MIME part larger than max_bytes is not decoded, and archive
 * members, MIME parts and container nesting are counted against the
 * limits of dmarc.h.
 */
#include "auditd/ingest/dmarc.h"
#include "auditd/ingest/dmarc_int.h"
#include "auditd/ingest/mail.h"

#include "lib/buf.h"
#include "lib/error.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 65536

struct dmarc_ctx {
	const struct ingest_options *opt;
	const struct ingest_sink *sink;
	size_t max_bytes;
	size_t unpacked;       /* decompressed so far from this file or mailbox message */
	struct dmarc_xml *xml; /* NULL when mail is set */
	const struct ingest_mail_reader *mail; /* every message goes here, or NULL */
	struct ak_buf scratch; /* source and event_id of a record */
	int fatal;             /* a code that ends the whole input, or 0 */
	char fatal_msg[512];
};

static int report(struct dmarc_ctx *c, const char *where, struct dmarc_in *in, int depth,
                  int in_mailbox);

/* Remember the first error that must end the whole input, as
 * "WHERE: message"; returns code. */
static int set_fatal(struct dmarc_ctx *c, const char *where, int code)
{
	if (c->fatal == 0) {
		c->fatal = code;
		snprintf(c->fatal_msg, sizeof(c->fatal_msg), "%s: %s", where, ak_error_last());
	}
	return code;
}

/* Hand a reason to the sink; the message is the current error when reason
 * is NULL. It is copied first: the sink may set errors of its own. */
static int reject(struct dmarc_ctx *c, const char *where, const char *reason)
{
	char msg[1024];
	int rc;

	snprintf(msg, sizeof(msg), "%s", reason ? reason : ak_error_last());
	rc = c->sink->reject(c->sink->ctx, where, msg, NULL, 0);
	if (rc < 0)
		return set_fatal(c, where, rc);
	return 0;
}

/* A failure of one report: rejected, unless it ends everything. */
static int failed(struct dmarc_ctx *c, const char *where, int rc)
{
	if (rc == AK_ENOMEM || c->fatal)
		return set_fatal(c, where, rc);
	return reject(c, where, NULL);
}

/* An archive member name fit to quote in a message: at most 200 bytes,
 * control bytes replaced. */
static void quote_name(char *out, size_t cap, const char *name)
{
	size_t i, max = cap - 4 < 200 ? cap - 4 : 200;

	for (i = 0; name[i] != '\0' && i < max; i++)
		out[i] = ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) ? '?' : name[i];
	if (name[i] != '\0') {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/*
 * The XML report at the end of every container: parse, then one record.
 */
static int xml_report(struct dmarc_ctx *c, const char *where, struct dmarc_in *in)
{
	struct dmarc_report r;
	struct ingest_record rec;
	size_t org_len;
	int rc;

	rc = dmarc_xml_parse(c->xml, in, &r);
	if (rc != 0)
		return failed(c, where, rc);

	/* scratch holds "dmarc:ORG" NUL "ORG!REPORT_ID" NUL. */
	org_len = strlen(r.org_name);
	ak_buf_reset(&c->scratch);
	if ((rc = ak_buf_puts(&c->scratch, "dmarc:")) != 0 ||
	    (rc = ak_buf_append(&c->scratch, r.org_name, org_len + 1)) != 0 ||
	    (rc = ak_buf_append(&c->scratch, r.org_name, org_len)) != 0 ||
	    (rc = ak_buf_putc(&c->scratch, '!')) != 0 ||
	    (rc = ak_buf_puts(&c->scratch, r.report_id)) != 0)
		return set_fatal(c, where, rc);

	memset(&rec, 0, sizeof(rec));
	rec.kind = "dmarc";
	rec.time_us = r.begin_us;
	rec.source = c->opt->source ? c->opt->source : c->scratch.data;
	rec.body_json = r.body;
	rec.body_json_len = r.body_len;
	rec.event_id = c->scratch.data + 6 + org_len + 1;
	rec.where = where;
	rc = c->sink->record(c->sink->ctx, &rec);
	if (rc < 0)
		return set_fatal(c, where, rc);
	return 0;
}

/*
 * gzip: libarchive's gzip filter with the "raw" format, which stacks a
 * filter per gzip layer and stops quietly at bytes after the last stream.
 */
struct gzip_src {
	struct dmarc_ctx *c;
	struct dmarc_in *parent;
	struct archive *a;
	unsigned char buf[CHUNK];
};

/* Count n decompressed bytes against the input's max_bytes. */
static int unpacked(struct dmarc_ctx *c, size_t n, const char *what, const char *name)
{
	c->unpacked += n;
	if (c->unpacked <= c->max_bytes)
		return 0;
	return ak_error_code(AK_ETOOBIG,
	                     "%s%s%s%s: decompressed data exceeds %zu bytes (max_bytes)", what,
	                     name ? " '" : "", name ? name : "", name ? "'" : "", c->max_bytes);
}

static la_ssize_t gzip_pull(struct archive *a, void *ud, const void **out)
{
	struct gzip_src *g = ud;
	ssize_t n = dmarc_in_read(g->parent, g->buf, sizeof(g->buf));

	if (n < 0) {
		archive_set_error(a, EIO, "%s", ak_error_last());
		return -1;
	}
	*out = g->buf;
	return n;
}

static ssize_t gzip_read(struct dmarc_in *in, void *dst, size_t cap)
{
	struct gzip_src *g = in->ctx;
	la_ssize_t n = archive_read_data(g->a, dst, cap);

	if (n < 0)
		return ak_error_code(AK_EINVALID, "gzip: %s", archive_error_string(g->a));
	if (unpacked(g->c, (size_t)n, "gzip", NULL) != 0)
		return AK_ETOOBIG;
	return n;
}

static int gzip_report(struct dmarc_ctx *c, const char *where, struct dmarc_in *in, int depth,
                       int in_mailbox)
{
	struct gzip_src *g = calloc(1, sizeof(*g));
	struct archive_entry *e;
	struct dmarc_in child;
	int rc = 0, r;

	if (g == NULL || (g->a = archive_read_new()) == NULL) {
		rc = set_fatal(c, where, ak_error_oom());
		goto done;
	}
	g->parent = in;
	g->c = c;
	archive_read_support_filter_gzip(g->a);
	archive_read_support_format_raw(g->a);
	if (in->mem != NULL)
		r = archive_read_open_memory(g->a, in->mem + in->mem_pos,
		                             in->mem_len - in->mem_pos);
	else
		r = archive_read_open(g->a, g, NULL, gzip_pull, NULL);
	if (r == ARCHIVE_OK)
		r = archive_read_next_header(g->a, &e);
	if (r == ARCHIVE_EOF) {
		rc = reject(c, where, "gzip: no data inside");
		goto done;
	}
	if (r != ARCHIVE_OK) {
		ak_error_code(AK_EINVALID, "gzip: %s", archive_error_string(g->a));
		rc = failed(c, where, AK_EINVALID);
		goto done;
	}
	/* Too short or damaged for the filter to recognise: the raw format
	 * would hand back the same bytes, and we would loop. */
	if (archive_filter_code(g->a, 0) != ARCHIVE_FILTER_GZIP) {
		rc = reject(c, where, "gzip: damaged or truncated gzip header");
		goto done;
	}
	dmarc_in_init_fn(&child, gzip_read, g);
	rc = report(c, where, &child, depth + 1, in_mailbox);
done:
	if (g && g->a)
		archive_read_free(g->a);
	free(g);
	return rc;
}

/*
 * Containers that need the whole input at hand: memory as it is, a file by
 * its path, else a copy bounded by max_bytes.
 */
struct whole {
	const unsigned char *mem;
	size_t len;
	const char *path;
	struct ak_buf copy;
};

static int whole_get(struct dmarc_ctx *c, struct dmarc_in *in, struct whole *w, const char *what)
{
	int rc;

	memset(w, 0, sizeof(*w));
	ak_buf_init(&w->copy, c->max_bytes);
	if (in->mem != NULL) {
		w->mem = in->mem + in->mem_pos;
		w->len = in->mem_len - in->mem_pos;
		return 0;
	}
	if (in->path != NULL) {
		w->path = in->path;
		return 0;
	}
	rc = dmarc_in_slurp(in, &w->copy);
	if (rc == AK_ETOOBIG)
		return ak_error_code(rc, "%s: larger than %zu bytes (max_bytes)", what,
		                     c->max_bytes);
	w->mem = (const unsigned char *)w->copy.data;
	w->len = w->copy.len;
	return rc;
}

/*
 * zip: every member named *.xml, else the first member. A first pass over
 * the central directory checks every name and picks the members; a second
 * reads them.
 */
struct zip_src {
	struct dmarc_ctx *c;
	struct archive *a;
	char name[256];
};

static ssize_t zip_read(struct dmarc_in *in, void *dst, size_t cap)
{
	struct zip_src *z = in->ctx;
	la_ssize_t n = archive_read_data(z->a, dst, cap);

	if (n < 0)
		return ak_error_code(AK_EINVALID, "zip member '%s': %s", z->name,
		                     archive_error_string(z->a));
	if (unpacked(z->c, (size_t)n, "zip member", z->name) != 0)
		return AK_ETOOBIG;
	return n;
}

static int zip_open(struct archive **out, const struct whole *w)
{
	struct archive *a = archive_read_new();
	int r;

	*out = a;
	if (a == NULL)
		return ak_error_oom();
	archive_read_support_format_zip(a);
	if (w->path != NULL)
		r = archive_read_open_filename(a, w->path, CHUNK);
	else
		r = archive_read_open_memory(a, w->mem, w->len);
	if (r != ARCHIVE_OK)
		return ak_error_code(AK_EINVALID, "zip: %s", archive_error_string(a));
	return 0;
}

/* Why a member name could escape the archive ("/x", "C:x", "a/../../x",
 * with '/' or '\\'), or NULL when it cannot. */
static const char *unsafe_member_name(const char *name)
{
	const char *p = name;

	if (name[0] == '/' || name[0] == '\\')
		return "absolute path";
	if (((name[0] | 0x20) >= 'a' && (name[0] | 0x20) <= 'z') && name[1] == ':')
		return "path with a drive letter";
	while (*p) {
		size_t n = strcspn(p, "/\\");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return "'..' in the path";
		p += n;
		if (*p)
			p++;
	}
	return NULL;
}

static int zip_report(struct dmarc_ctx *c, const char *where, struct dmarc_in *in, int depth,
                      int in_mailbox)
{
	struct archive *a = NULL;
	struct archive_entry *e;
	struct whole w;
	struct zip_src z;
	struct ak_buf sub = AK_BUF_INIT(0);
	unsigned char take[DMARC_MAX_MEMBERS];
	int n = 0, ntake = 0, first = -1, i, r, rc;

	memset(take, 0, sizeof(take));
	rc = whole_get(c, in, &w, "zip");
	if (rc != 0) {
		rc = failed(c, where, rc);
		goto done;
	}
	if ((rc = zip_open(&a, &w)) != 0) {
		rc = failed(c, where, rc);
		goto done;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e), *why;
		char q[256];

		if (name == NULL)
			name = "";
		if (n == DMARC_MAX_MEMBERS) {
			ak_error_code(AK_ETOOBIG, "zip: more than %d members: archive refused",
			              DMARC_MAX_MEMBERS);
			rc = failed(c, where, AK_ETOOBIG);
			goto done;
		}
		if ((why = unsafe_member_name(name)) != NULL) {
			quote_name(q, sizeof(q), name);
			ak_error_code(AK_EINVALID, "zip member '%s': %s: archive refused", q, why);
			rc = failed(c, where, AK_EINVALID);
			goto done;
		}
		if (archive_entry_filetype(e) == AE_IFREG || archive_entry_filetype(e) == 0) {
			if (first < 0)
				first = n;
			if (ends_with(name, ".xml"))
				take[n] = 1, ntake++;
		}
		n++;
		archive_read_data_skip(a);
	}
	if (r != ARCHIVE_EOF) {
		ak_error_code(AK_EINVALID, "zip: %s", archive_error_string(a));
		rc = failed(c, where, AK_EINVALID);
		goto done;
	}
	if (first < 0) {
		rc = reject(c, where, "zip: no file inside");
		goto done;
	}
	if (ntake == 0)
		take[first] = 1, ntake = 1;

	archive_read_free(a);
	if ((rc = zip_open(&a, &w)) != 0) {
		rc = failed(c, where, rc);
		goto done;
	}
	for (i = 0; i < n && archive_read_next_header(a, &e) == ARCHIVE_OK; i++) {
		struct dmarc_in child;
		const char *name = archive_entry_pathname(e);

		if (!take[i])
			continue;
		memset(&z, 0, sizeof(z));
		z.a = a;
		z.c = c;
		quote_name(z.name, sizeof(z.name), name ? name : "");
		dmarc_in_init_fn(&child, zip_read, &z);
		/* Several reports in one zip: each says which member it is. */
		ak_buf_reset(&sub);
		if (ntake > 1 && ak_buf_printf(&sub, "%s: %s", where, z.name) != 0) {
			rc = set_fatal(c, where, AK_ENOMEM);
			goto done;
		}
		rc = report(c, ntake > 1 ? sub.data : where, &child, depth + 1, in_mailbox);
		if (rc != 0)
			goto done;
	}
	rc = 0;
done:
	if (a != NULL)
		archive_read_free(a);
	ak_buf_free(&w.copy);
	ak_buf_free(&sub);
	return rc;
}

/*
 * E-mail: GMime parses the message; the report is the first part that is
 * gzip, zip or XML by content type or by file name.
 */
static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_start(void)
{
	g_mime_init();
}

static int is_report_part(GMimeObject *obj)
{
	static const char *const subtypes[] = {
	        "gzip", "x-gzip", "gzip-compressed",  "x-gzip-compressed",
	        "zip",  "x-zip",  "x-zip-compressed", "zip-compressed",
	        "xml",  NULL,
	};
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	const char *sub = ct ? g_mime_content_type_get_media_subtype(ct) : NULL;
	const char *file = g_mime_part_get_filename(GMIME_PART(obj));
	int i;

	for (i = 0; sub != NULL && subtypes[i] != NULL; i++)
		if (strcasecmp(sub, subtypes[i]) == 0)
			return 1;
	return file != NULL && (ends_with(file, ".xml") || ends_with(file, ".gz") ||
	                        ends_with(file, ".gzip") || ends_with(file, ".zip"));
}

/* Depth-first, in order; *parts counts what was looked at. */
static GMimePart *find_report_part(GMimeObject *obj, int depth, int *parts)
{
	if (obj == NULL || ++*parts > DMARC_MAX_PARTS || depth > DMARC_MAX_NESTING)
		return NULL;
	if (GMIME_IS_MULTIPART(obj)) {
		int i, n = g_mime_multipart_get_count(GMIME_MULTIPART(obj));

		for (i = 0; i < n && *parts <= DMARC_MAX_PARTS; i++) {
			GMimePart *p =
			        find_report_part(g_mime_multipart_get_part(GMIME_MULTIPART(obj), i),
			                         depth + 1, parts);

			if (p != NULL)
				return p;
		}
		return NULL;
	}
	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));

		return m ? find_report_part(g_mime_message_get_mime_part(m), depth + 1, parts)
		         : NULL;
	}
	if (GMIME_IS_PART(obj) && is_report_part(obj))
		return GMIME_PART(obj);
	return NULL;
}

static int message_report(struct dmarc_ctx *c, const char *where, GMimeMessage *msg, int depth,
                          int in_mailbox)
{
	GMimeStream *mem = NULL;
	GMimeDataWrapper *content;
	GByteArray *bytes;
	struct dmarc_in child;
	GMimePart *part;
	gint64 encoded;
	int parts = 0, rc = 0;

	if (c->mail != NULL) {
		rc = c->mail->message(c->mail->ctx, where, msg, in_mailbox);
		return rc < 0 ? set_fatal(c, where, rc) : 0;
	}
	part = find_report_part(g_mime_message_get_mime_part(msg), depth, &parts);
	if (part == NULL && parts > DMARC_MAX_PARTS) {
		ak_error_code(AK_ETOOBIG, "e-mail: more than %d MIME parts before a report",
		              DMARC_MAX_PARTS);
		rc = failed(c, where, AK_ETOOBIG);
		goto done;
	}
	if (part == NULL) {
		if (in_mailbox)
			c->sink->skip(c->sink->ctx, where,
			              "e-mail without a DMARC report (no gzip, zip or XML part)");
		else
			rc = reject(c, where,
			            "e-mail without a DMARC report (no gzip, zip or XML part)");
		goto done;
	}
	content = g_mime_part_get_content(part);
	if (content == NULL || g_mime_data_wrapper_get_stream(content) == NULL) {
		rc = reject(c, where, "e-mail: the report part is empty");
		goto done;
	}
	/* Decoding never makes base64, quoted-printable or uuencode longer. */
	encoded = g_mime_stream_length(g_mime_data_wrapper_get_stream(content));
	if (encoded < 0 || (guint64)encoded > c->max_bytes) {
		ak_error_code(AK_ETOOBIG, "e-mail: the report part exceeds %zu bytes (max_bytes)",
		              c->max_bytes);
		rc = failed(c, where, AK_ETOOBIG);
		goto done;
	}
	mem = g_mime_stream_mem_new();
	if (g_mime_data_wrapper_write_to_stream(content, mem) < 0) {
		rc = reject(c, where, "e-mail: the report part cannot be decoded");
		goto done;
	}
	bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	dmarc_in_init_mem(&child, bytes->data, bytes->len);
	rc = report(c, where, &child, depth + 1, in_mailbox);
done:
	if (mem != NULL)
		g_object_unref(mem);
	return rc;
}

/* One message, or every message of an mbox ("From " lines between them). */
static int mime_report(struct dmarc_ctx *c, const char *where, struct dmarc_in *in, int depth,
                       int mbox, int in_mailbox)
{
	GMimeStream *stream = NULL;
	GMimeParser *parser = NULL;
	struct ak_buf sub = AK_BUF_INIT(0);
	struct whole w;
	unsigned long n = 0;
	int rc;

	pthread_once(&gmime_once, gmime_start);
	rc = whole_get(c, in, &w, mbox ? "mbox" : "e-mail");
	if (rc != 0) {
		rc = failed(c, where, rc);
		goto done;
	}
	if (w.path != NULL) {
		int fd = open(w.path, O_RDONLY | O_CLOEXEC);
		struct stat st;

		if (fd < 0 || fstat(fd, &st) != 0) {
			rc = set_fatal(c, where, ak_error_set("%s", strerror(errno)));
			if (fd >= 0)
				close(fd);
			goto done;
		}
		/* GMime holds a message's headers and structure in memory; a
		 * mailbox is read one message at a time. */
		if (!mbox && (uint64_t)st.st_size > c->max_bytes) {
			close(fd);
			ak_error_code(AK_ETOOBIG, "e-mail: larger than %zu bytes (max_bytes)",
			              c->max_bytes);
			rc = failed(c, where, AK_ETOOBIG);
			goto done;
		}
		stream = g_mime_stream_fs_new(fd); /* owns fd */
	} else {
		stream = g_mime_stream_mem_new_with_buffer((const char *)w.mem, w.len);
	}
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, mbox ? GMIME_FORMAT_MBOX : GMIME_FORMAT_MESSAGE);
	while (!g_mime_parser_eos(parser)) {
		GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
		const char *mwhere = where;

		if (msg == NULL)
			break;
		n++;
		if (mbox) {
			ak_buf_reset(&sub);
			if (ak_buf_printf(&sub, "%s: message %lu", where, n) != 0) {
				g_object_unref(msg);
				rc = set_fatal(c, where, AK_ENOMEM);
				goto done;
			}
			mwhere = sub.data;
		}
		/* Each message of a mailbox file has a budget of its own; the
		 * messages of a mailbox that came out of an archive share the
		 * archive's (one small .gz of many copies of a bomb). */
		if (mbox && depth == 0)
			c->unpacked = 0;
		rc = message_report(c, mwhere, msg, depth, mbox || in_mailbox);
		g_object_unref(msg);
		if (rc != 0 || !mbox)
			goto done;
	}
	if (n == 0)
		rc = reject(c, where, mbox ? "mbox: no message inside" : "e-mail: not a message");
done:
	if (parser != NULL)
		g_object_unref(parser);
	if (stream != NULL)
		g_object_unref(stream);
	ak_buf_free(&w.copy);
	ak_buf_free(&sub);
	return rc;
}

/* A header field line ("Name: value", RFC 5322 field-name), as e-mail
 * starts. */
static int looks_like_header(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && p[i] > 0x20 && p[i] < 0x7f && p[i] != ':'; i++)
		;
	if (i == 0)
		return 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < n && p[i] == ':';
}

static int report(struct dmarc_ctx *c, const char *where, struct dmarc_in *in, int depth,
                  int in_mailbox)
{
	const unsigned char *p;
	size_t n;
	int rc;

	if (depth > DMARC_MAX_NESTING) {
		ak_error_code(AK_ETOOBIG, "containers nested deeper than %d", DMARC_MAX_NESTING);
		return failed(c, where, AK_ETOOBIG);
	}
	rc = dmarc_in_peek(in, DMARC_PEEK, &p, &n);
	if (rc != 0)
		return failed(c, where, rc);
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return gzip_report(c, where, in, depth, in_mailbox);
	if (n >= 4 && memcmp(p, "PK\003\004", 4) == 0 && c->mail == NULL)
		return zip_report(c, where, in, depth, in_mailbox);
	if (n >= 5 && memcmp(p, "From ", 5) == 0)
		return mime_report(c, where, in, depth, 1, in_mailbox);
	if (n > 0 && p[0] != '<' && looks_like_header(p, n))
		return mime_report(c, where, in, depth, 0, in_mailbox);
	if (c->mail != NULL)
		return reject(c, where, "not an e-mail message or mailbox");
	return xml_report(c, where, in);
}

static int ctx_init(struct dmarc_ctx *c, const struct ingest_options *opt,
                    const struct ingest_sink *sink, const struct ingest_mail_reader *mail)
{
	memset(c, 0, sizeof(*c));
	c->opt = opt;
	c->sink = sink;
	c->mail = mail;
	c->max_bytes = opt->max_bytes ? opt->max_bytes : DMARC_DEFAULT_MAX_BYTES;
	ak_buf_init(&c->scratch, 0);
	if (mail != NULL)
		return 0;
	return dmarc_xml_new(&c->xml, c->max_bytes,
	                     opt->max_records ? opt->max_records : DMARC_DEFAULT_MAX_RECORDS);
}

static int ctx_finish(struct dmarc_ctx *c, int rc)
{
	dmarc_xml_free(c->xml);
	ak_buf_free(&c->scratch);
	if (rc == 0 && c->fatal)
		rc = c->fatal;
	if (rc != 0 && c->fatal && c->fatal_msg[0])
		ak_error_set("%s", c->fatal_msg);
	return rc;
}

static int walk_mem(const void *data, size_t len, const struct ingest_options *opt,
                    const struct ingest_sink *sink, const struct ingest_mail_reader *mail)
{
	struct dmarc_ctx c;
	struct dmarc_in in;
	const char *name = opt->name ? opt->name : "-";
	int rc;

	rc = ctx_init(&c, opt, sink, mail);
	if (rc != 0)
		return ctx_finish(&c, rc);
	dmarc_in_init_mem(&in, data, len);
	rc = report(&c, name, &in, 0, 0);
	return ctx_finish(&c, rc);
}

/* A file of the Maildir, read like a lone input but numbered. */
static int one_file(struct dmarc_ctx *c, const char *path, const char *where, int in_mailbox)
{
	struct dmarc_in in;
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return set_fatal(c, where, ak_error_set("%s", strerror(errno)));
	if (fstat(fd, &st) != 0) {
		rc = set_fatal(c, where, ak_error_set("%s", strerror(errno)));
		close(fd);
		return rc;
	}
	/* A pipe or a device cannot be reopened by name for zip or MIME. */
	dmarc_in_init_fd(&in, fd, S_ISREG(st.st_mode) ? path : NULL);
	c->unpacked = 0;
	rc = report(c, where, &in, 0, in_mailbox);
	if (rc == 0 && in.io_error)
		rc = set_fatal(c, where, ak_error_code(AK_ERROR, "read error"));
	close(fd);
	return rc;
}

static int name_cmp(const void *a, const void *b)
{
	const char *x = strrchr(*(char *const *)a, '/'), *y = strrchr(*(char *const *)b, '/');

	return strcmp(x, y);
}

/* Every message in cur/ and new/, in file name order (Maildir names start
 * with the delivery time). */
static int maildir(struct dmarc_ctx *c, const char *path, const char *name)
{
	static const char *const subdirs[] = {"cur", "new"};
	char **files = NULL;
	size_t nfiles = 0, cap = 0, i;
	struct ak_buf where = AK_BUF_INIT(0), dir = AK_BUF_INIT(0);
	int found = 0, rc = 0, k;

	for (k = 0; k < 2; k++) {
		struct dirent *de;
		DIR *d;

		ak_buf_reset(&dir);
		if ((rc = ak_buf_printf(&dir, "%s/%s", path, subdirs[k])) != 0)
			goto done;
		d = opendir(dir.data);
		if (d == NULL)
			continue;
		found = 1;
		while ((de = readdir(d)) != NULL) {
			struct ak_buf f = AK_BUF_INIT(0);
			struct stat st;

			if (de->d_name[0] == '.')
				continue;
			if (ak_buf_printf(&f, "%s/%s", dir.data, de->d_name) != 0 ||
			    stat(f.data, &st) != 0 || !S_ISREG(st.st_mode)) {
				ak_buf_free(&f);
				continue;
			}
			if (nfiles == cap) {
				char **nf = realloc(files, (cap ? cap * 2 : 16) * sizeof(*files));

				if (nf == NULL) {
					ak_buf_free(&f);
					closedir(d);
					rc = ak_error_oom();
					goto done;
				}
				files = nf;
				cap = cap ? cap * 2 : 16;
			}
			files[nfiles++] = ak_buf_detach(&f, NULL);
		}
		closedir(d);
	}
	if (!found) {
		rc = ak_error_code(AK_EINVALID,
		                   "%s: a directory but not a Maildir (no cur/ or new/)", name);
		goto done;
	}
	qsort(files, nfiles, sizeof(*files), name_cmp);
	for (i = 0; i < nfiles; i++) {
		ak_buf_reset(&where);
		if ((rc = ak_buf_printf(&where, "%s: message %zu", name, i + 1)) != 0)
			goto done;
		rc = one_file(c, files[i], where.data, 1);
		if (rc != 0)
			goto done;
	}
done:
	for (i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	ak_buf_free(&where);
	ak_buf_free(&dir);
	return rc;
}

static int walk_path(const char *path, const struct ingest_options *opt,
                     const struct ingest_sink *sink, const struct ingest_mail_reader *mail)
{
	struct dmarc_ctx c;
	struct stat st;
	const char *name = opt->name ? opt->name : path;
	int rc;

	rc = ctx_init(&c, opt, sink, mail);
	if (rc != 0)
		return ctx_finish(&c, rc);
	if (stat(path, &st) != 0)
		rc = ak_error_set("%s: %s", name, strerror(errno));
	else if (S_ISDIR(st.st_mode))
		rc = maildir(&c, path, name);
	else
		rc = one_file(&c, path, name, 0);
	return ctx_finish(&c, rc);
}

int ingest_dmarc_path(const char *path, const struct ingest_options *opt,
                      const struct ingest_sink *sink)
{
	return walk_path(path, opt, sink, NULL);
}

int ingest_dmarc_mem(const void *data, size_t len, const struct ingest_options *opt,
                     const struct ingest_sink *sink)
{
	return walk_mem(data, len, opt, sink, NULL);
}

int ingest_mail_path(const char *path, const struct ingest_options *opt,
                     const struct ingest_sink *sink, const struct ingest_mail_reader *r)
{
	return walk_path(path, opt, sink, r);
}

int ingest_mail_mem(const void *data, size_t len, const struct ingest_options *opt,
                    const struct ingest_sink *sink, const struct ingest_mail_reader *r)
{
	return walk_mem(data, len, opt, sink, r);
}
