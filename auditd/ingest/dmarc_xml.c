/*
 * auditd/ingest/dmarc_xml.c - one DMARC aggregate report, XML in, the
 * canonical JSON body of its "dmarc" record out (the body is described in
 * dmarc.h).
 *
 * expat reads the document as a stream; a small state machine follows the
 * few element paths a report has (feedback / report_metadata / date_range,
 * policy_published, record / row / policy_evaluated / reason, identifiers,
 * auth_results / dkim, spf) and collects the text of the leaves it knows
 * into two arenas: one for the report's metadata and policy, one for the
 * record being read. Every other element is skipped with a counter, so the
 * per-element work is a name lookup in a table of at most ten names.
 *
 * When a </record> closes, its row is written at once as canonical JSON to
 * the body buffer and the record arena is emptied: memory does not grow
 * with the number of rows beyond the body text itself. The members of the
 * body object that sort before "rows" (begin ... report_id) are only known
 * for sure at the end, since nothing forces a reporter to put its metadata
 * first; they are written then, in front of the rows, with one memmove.
 * Member names are constants, so their canonical (RFC 8785) order is fixed
 * in the code below (the tests check the result against lib/jcs); strings
 * are written by lib/jcs, the project's one canonical writer.
 *
 * SECURITY: the document is outside input. Entity declarations and
 * external DTDs are refused when expat reports them, before any entity is
 * used (no billion laughs, no XXE; expat never fetches anything because no
 * external entity handler is installed). Text is bounded by max_bytes,
 * rows by max_records, lists by DMARC_MAX_LIST, element nesting by
 * DMARC_MAX_XML_DEPTH. Numbers are checked before they are used.
 */
#include "auditd/ingest/dmarc.h"
#include "auditd/ingest/dmarc_int.h"

#include "lib/ascii.h"
#include "lib/error.h"
#include "lib/jcs.h"
#include "lib/timefmt.h"

#include <errno.h>
#include <expat.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

/* Bytes handed to expat at a time. */
#define XML_CHUNK 65536

/* The largest value of <count>, and of seconds in <begin>/<end>. */
#define SAFE_INT_MAX INT64_C(9007199254740991)
#define MAX_EPOCH    INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

/* A piece of text kept in an arena. */
struct text {
	size_t off, len;
	int set;
};

/* A list of items of `width` texts each (<reason>s, auth <dkim>s ...). */
struct list {
	struct text *t;
	size_t n, cap;
	unsigned width;
};

enum state {
	ST_TOP,
	ST_FEEDBACK,
	ST_META,
	ST_RANGE,
	ST_POLICY,
	ST_RECORD,
	ST_ROW,
	ST_EVAL,
	ST_REASON,
	ST_IDENT,
	ST_AUTH,
	ST_ADKIM,
	ST_ASPF,
	ST_LEAF,
};

/* Texts of the report as a whole (report_metadata, policy_published). */
enum meta_field {
	M_ORG_NAME,
	M_EMAIL,
	M_EXTRA,
	M_REPORT_ID,
	M_BEGIN,
	M_END,
	M_VERSION,
	M_ERROR, /* not a slot: one more item of the errors list */
	P_DOMAIN,
	P_ADKIM,
	P_ASPF,
	P_P,
	P_SP,
	P_PCT,
	P_NP,
	P_FO,
	P_TESTING,
	P_DISCOVERY,
	META_N,
};

/* Texts of one record. */
enum row_field {
	R_SOURCE_IP,
	R_COUNT,
	R_DISPOSITION,
	R_DKIM,
	R_SPF,
	R_HEADER_FROM,
	R_ENV_FROM,
	R_ENV_TO,
	ROW_N,
};

/* Texts of one item of a list. */
enum { RS_TYPE, RS_COMMENT, REASON_W };
enum { AD_DOMAIN, AD_SELECTOR, AD_RESULT, AD_HUMAN, ADKIM_W };
enum { AS_DOMAIN, AS_SCOPE, AS_RESULT, ASPF_W };

/* Leaves whose text must be a number, checked when they close (so the
 * line in a message is theirs without asking expat for every line). */
enum check { CHECK_NONE, CHECK_COUNT, CHECK_BEGIN, CHECK_END, CHECK_PCT };

/* A known child element: the state it opens, or ST_LEAF, the text it fills
 * (a meta_field, row_field or item index, by the parent's state) and its
 * check. */
struct child {
	const char *name;
	unsigned char state;
	unsigned char field;
	unsigned char check;
};

#define END_OF_CHILDREN                                                                            \
	{                                                                                          \
		NULL, 0, 0, 0                                                                      \
	}

static const struct child top_children[] = {{"feedback", ST_FEEDBACK, 0}, END_OF_CHILDREN};
static const struct child feedback_children[] = {
        {"record", ST_RECORD, 0},
        {"report_metadata", ST_META, 0},
        {"policy_published", ST_POLICY, 0},
        {"version", ST_LEAF, M_VERSION},
        END_OF_CHILDREN,
};
static const struct child meta_children[] = {
        {"org_name", ST_LEAF, M_ORG_NAME},
        {"email", ST_LEAF, M_EMAIL},
        {"extra_contact_info", ST_LEAF, M_EXTRA},
        {"report_id", ST_LEAF, M_REPORT_ID},
        {"date_range", ST_RANGE, 0},
        {"error", ST_LEAF, M_ERROR},
        END_OF_CHILDREN,
};
static const struct child range_children[] = {
        {"begin", ST_LEAF, M_BEGIN, CHECK_BEGIN},
        {"end", ST_LEAF, M_END, CHECK_END},
        END_OF_CHILDREN,
};
static const struct child policy_children[] = {
        {"domain", ST_LEAF, P_DOMAIN},
        {"p", ST_LEAF, P_P},
        {"sp", ST_LEAF, P_SP},
        {"adkim", ST_LEAF, P_ADKIM},
        {"aspf", ST_LEAF, P_ASPF},
        {"pct", ST_LEAF, P_PCT, CHECK_PCT},
        {"np", ST_LEAF, P_NP},
        {"fo", ST_LEAF, P_FO},
        {"testing", ST_LEAF, P_TESTING},
        {"discovery_method", ST_LEAF, P_DISCOVERY},
        END_OF_CHILDREN,
};
static const struct child record_children[] = {
        {"row", ST_ROW, 0},
        {"identifiers", ST_IDENT, 0},
        {"auth_results", ST_AUTH, 0},
        END_OF_CHILDREN,
};
static const struct child row_children[] = {
        {"source_ip", ST_LEAF, R_SOURCE_IP},
        {"count", ST_LEAF, R_COUNT, CHECK_COUNT},
        {"policy_evaluated", ST_EVAL, 0},
        END_OF_CHILDREN,
};
static const struct child eval_children[] = {
        {"disposition", ST_LEAF, R_DISPOSITION},
        {"dkim", ST_LEAF, R_DKIM},
        {"spf", ST_LEAF, R_SPF},
        {"reason", ST_REASON, 0},
        END_OF_CHILDREN,
};
static const struct child reason_children[] = {
        {"type", ST_LEAF, RS_TYPE},
        {"comment", ST_LEAF, RS_COMMENT},
        END_OF_CHILDREN,
};
static const struct child ident_children[] = {
        {"header_from", ST_LEAF, R_HEADER_FROM},
        {"envelope_from", ST_LEAF, R_ENV_FROM},
        {"envelope_to", ST_LEAF, R_ENV_TO},
        END_OF_CHILDREN,
};
static const struct child auth_children[] = {
        {"dkim", ST_ADKIM, 0},
        {"spf", ST_ASPF, 0},
        END_OF_CHILDREN,
};
static const struct child adkim_children[] = {
        {"domain", ST_LEAF, AD_DOMAIN},
        {"result", ST_LEAF, AD_RESULT},
        {"selector", ST_LEAF, AD_SELECTOR},
        {"human_result", ST_LEAF, AD_HUMAN},
        END_OF_CHILDREN,
};
static const struct child aspf_children[] = {
        {"domain", ST_LEAF, AS_DOMAIN},
        {"result", ST_LEAF, AS_RESULT},
        {"scope", ST_LEAF, AS_SCOPE},
        END_OF_CHILDREN,
};

/* Indexed by enum state; a leaf has no children we know. */
static const struct child *const children[] = {
        top_children,    feedback_children,
        meta_children,   range_children,
        policy_children, record_children,
        row_children,    eval_children,
        reason_children, ident_children,
        auth_children,   adkim_children,
        aspf_children,   NULL,
};

struct dmarc_xml {
	XML_Parser p;
	size_t max_bytes, max_records;
	int err; /* the code of a handler that stopped the parser */

	/* Open elements we know; DMARC_MAX_XML_DEPTH bounds skip + depth. */
	unsigned char stack[16];
	unsigned depth;
	unsigned long skip; /* open elements inside one we ignore */

	/* The leaf whose text is being collected, its arena and check. */
	struct text *leaf;
	struct ak_buf *leaf_arena;
	enum check leaf_check;

	struct ak_buf meta_text;
	struct text meta[META_N];
	struct list errors;
	int64_t begin, end, pct; /* valid when their texts are set */

	struct ak_buf row_text;
	struct text row[ROW_N];
	int64_t count;
	struct list reasons, adkim, aspf;

	struct ak_buf body; /* the rows, then the whole body */
	struct ak_buf head; /* the members before "rows" */
	struct ak_buf ids;  /* org_name NUL report_id NUL, for the result */
	size_t rows;
};

/* Stop the parser with an error. The message is already set. */
static void stop(struct dmarc_xml *x, int code)
{
	x->err = code;
	XML_StopParser(x->p, XML_FALSE);
}

static unsigned long line_now(const struct dmarc_xml *x)
{
	return (unsigned long)XML_GetCurrentLineNumber(x->p);
}

/* A new, empty item at the end of l; NULL (with the parser stopped) past
 * DMARC_MAX_LIST items or out of memory. */
static struct text *list_push(struct dmarc_xml *x, struct list *l, const char *what)
{
	struct text *t;

	if (l->n >= DMARC_MAX_LIST) {
		ak_error_code(AK_ETOOBIG, "line %lu: more than %d <%s> elements", line_now(x),
		              DMARC_MAX_LIST, what);
		stop(x, AK_ETOOBIG);
		return NULL;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;

		t = realloc(l->t, cap * l->width * sizeof(*t));
		if (t == NULL) {
			stop(x, ak_error_oom());
			return NULL;
		}
		l->t = t;
		l->cap = cap;
	}
	t = l->t + l->n++ * l->width;
	memset(t, 0, l->width * sizeof(*t));
	return t;
}

static struct text *list_last(const struct list *l)
{
	return l->n ? l->t + (l->n - 1) * l->width : NULL;
}

static void record_start(struct dmarc_xml *x)
{
	if (x->rows >= x->max_records) {
		ak_error_code(AK_ETOOBIG, "line %lu: more than %zu <record> elements (max_records)",
		              line_now(x), x->max_records);
		stop(x, AK_ETOOBIG);
		return;
	}
	ak_buf_reset(&x->row_text);
	memset(x->row, 0, sizeof(x->row));
	x->reasons.n = x->adkim.n = x->aspf.n = 0;
}

/* Where the text of a leaf goes, by its parent's state; NULL when the
 * parser had to stop. */
static struct text *leaf_slot(struct dmarc_xml *x, enum state parent, unsigned field,
                              struct ak_buf **arena)
{
	switch (parent) {
	case ST_FEEDBACK:
	case ST_META:
	case ST_RANGE:
	case ST_POLICY:
		*arena = &x->meta_text;
		if (field == M_ERROR)
			return list_push(x, &x->errors, "error");
		return &x->meta[field];
	case ST_ROW:
	case ST_EVAL:
	case ST_IDENT:
		*arena = &x->row_text;
		return &x->row[field];
	case ST_REASON:
		*arena = &x->row_text;
		return list_last(&x->reasons) + field;
	case ST_ADKIM:
		*arena = &x->row_text;
		return list_last(&x->adkim) + field;
	case ST_ASPF:
		*arena = &x->row_text;
		return list_last(&x->aspf) + field;
	default:
		return NULL;
	}
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len);

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct dmarc_xml *x = ud;
	const struct child *c;
	const char *local;
	enum state parent;

	(void)atts;
	if (x->err)
		return;
	if (x->skip) {
		if (++x->skip + x->depth > DMARC_MAX_XML_DEPTH) {
			ak_error_code(AK_ETOOBIG, "line %lu: elements nested deeper than %d",
			              line_now(x), DMARC_MAX_XML_DEPTH);
			stop(x, AK_ETOOBIG);
		}
		return;
	}
	/* Namespaces are ignored: "ns1:feedback" is "feedback". */
	local = strrchr(name, ':');
	local = local ? local + 1 : name;
	parent = x->stack[x->depth - 1];
	c = children[parent];
	if (c != NULL)
		while (c->name != NULL && (c->name[0] != local[0] || strcmp(c->name, local) != 0))
			c++;
	if (c == NULL || c->name == NULL) {
		if (parent == ST_TOP) {
			ak_error_code(AK_EINVALID, "line %lu: root element <%s> is not <feedback>",
			              line_now(x), local);
			stop(x, AK_EINVALID);
			return;
		}
		x->skip = 1;
		return;
	}
	switch (c->state) {
	case ST_LEAF: {
		struct ak_buf *arena = NULL;
		struct text *t = leaf_slot(x, parent, c->field, &arena);

		if (t == NULL)
			return;
		t->off = arena->len;
		t->len = 0;
		t->set = 1; /* present, even if it stays empty */
		x->leaf = t;
		x->leaf_arena = arena;
		x->leaf_check = c->check;
		/* Text matters only inside a leaf: the white space between
		 * the other elements is not even reported. */
		XML_SetCharacterDataHandler(x->p, on_text);
		break;
	}
	case ST_RECORD:
		record_start(x);
		break;
	case ST_REASON:
		list_push(x, &x->reasons, "reason");
		break;
	case ST_ADKIM:
		list_push(x, &x->adkim, "dkim");
		break;
	case ST_ASPF:
		list_push(x, &x->aspf, "spf");
		break;
	default:
		break;
	}
	x->stack[x->depth++] = c->state;
}

/* Append without a call into lib/buf.c while there is room: rows are
 * written in many small pieces. */
static inline int buf_add(struct ak_buf *b, const void *s, size_t n)
{
	if (n < b->cap - b->len && b->len + n <= b->max) {
		memcpy(b->data + b->len, s, n);
		b->len += n;
		b->data[b->len] = '\0';
		return 0;
	}
	return ak_buf_append(b, s, n);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct dmarc_xml *x = ud;
	int rc;

	if (x->leaf == NULL || x->skip || x->err)
		return;
	rc = buf_add(x->leaf_arena, s, (size_t)len);
	if (rc != 0) {
		ak_error_prefix("line %lu: text", line_now(x));
		stop(x, rc);
	}
}

static int is_xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Parse a non-negative decimal integer <= max; -1 when it is not one. */
static int64_t parse_uint(const char *s, size_t n, int64_t max)
{
	int64_t v = 0;
	size_t i;

	if (n == 0 || n > 19)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* Strip the leaf's text, give the arena back what was cut at its end,
 * and check the numbers. */
static void leaf_end(struct dmarc_xml *x)
{
	struct text *t = x->leaf;
	const char *s = x->leaf_arena->data;
	size_t a = t->off, b = x->leaf_arena->len;
	int64_t v;

	while (a < b && is_xml_space(s[a]))
		a++;
	while (b > a && is_xml_space(s[b - 1]))
		b--;
	t->off = a;
	t->len = b - a;
	ak_buf_truncate(x->leaf_arena, b);
	x->leaf = NULL;
	XML_SetCharacterDataHandler(x->p, NULL);
	switch (x->leaf_check) {
	case CHECK_NONE:
		return;
	case CHECK_COUNT:
		x->count = v = parse_uint(s + a, b - a, SAFE_INT_MAX);
		if (v < 0) {
			ak_error_code(AK_EINVALID,
			              "line %lu: <row><count>: not a non-negative integer up to "
			              "2^53-1",
			              line_now(x));
			stop(x, AK_EINVALID);
		}
		return;
	case CHECK_BEGIN:
	case CHECK_END:
		v = parse_uint(s + a, b - a, MAX_EPOCH);
		*(x->leaf_check == CHECK_BEGIN ? &x->begin : &x->end) = v;
		if (v < 0) {
			ak_error_code(
			        AK_EINVALID,
			        "line %lu: <date_range><%s>: not an integer number of seconds "
			        "(0 to 253402300799)",
			        line_now(x), x->leaf_check == CHECK_BEGIN ? "begin" : "end");
			stop(x, AK_EINVALID);
		}
		return;
	case CHECK_PCT:
		/* An empty <pct/> says nothing; anything else must be a number. */
		x->pct = v = b > a ? parse_uint(s + a, b - a, SAFE_INT_MAX) : -1;
		if (v < 0 && b > a) {
			ak_error_code(AK_EINVALID,
			              "line %lu: <policy_published><pct>: not an integer",
			              line_now(x));
			stop(x, AK_EINVALID);
		}
		return;
	}
}

/*
 * Writing the body. Appends keep the first error and ignore the rest, so
 * the writers read as the JSON they produce; the caller checks w->rc.
 */
struct writer {
	struct ak_buf *b;
	int rc;
};

static void put(struct writer *w, const char *s, size_t n)
{
	if (w->rc == 0)
		w->rc = buf_add(w->b, s, n);
}

#define PUT(w, lit) put((w), (lit), sizeof(lit) - 1)

static void put_str(struct writer *w, const struct ak_buf *arena, const struct text *t)
{
	if (w->rc == 0)
		w->rc = ak_jcs_write_string(w->b, arena->data + t->off, t->len);
}

/* v >= 0: counts and pct, never negative here. */
static void put_int(struct writer *w, int64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do
		tmp[--i] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	put(w, tmp + i, sizeof(tmp) - i);
}

/* One optional string member: `,"key":"text"`, without the comma for the
 * first member of an object, which *first tracks. key_colon is the quoted
 * name and its colon, made by MEMBER() at compile time. */
static void member(struct writer *w, int *first, const char *key_colon, size_t n,
                   const struct ak_buf *arena, const struct text *t)
{
	if (!t->set)
		return;
	if (!*first)
		PUT(w, ",");
	*first = 0;
	put(w, key_colon, n);
	put_str(w, arena, t);
}

#define MEMBER(w, first, key, arena, t)                                                            \
	member((w), (first), "\"" key "\":", sizeof("\"" key "\":") - 1, (arena), (t))

static void lower(struct ak_buf *arena, const struct text *t)
{
	char *s = arena->data + t->off;
	size_t i;

	for (i = 0; i < t->len; i++)
		s[i] = ak_ascii_lower(s[i]);
}

/* </record>: check the row and write it to the body. */
static void record_end(struct dmarc_xml *x)
{
	struct writer w = {&x->body, 0};
	const struct ak_buf *a = &x->row_text;
	const struct text *r = x->row;
	size_t i;
	int first;

	if (!r[R_COUNT].set) {
		ak_error_code(AK_EINVALID, "line %lu: <record> without <row><count>", line_now(x));
		stop(x, AK_EINVALID);
		return;
	}
	lower(&x->row_text, &r[R_DISPOSITION]);
	lower(&x->row_text, &r[R_DKIM]);
	lower(&x->row_text, &r[R_SPF]);

	/* Members in canonical order: auth, count, disposition, dkim,
	 * envelope_from, envelope_to, header_from, reasons, source_ip, spf. */
	if (x->rows)
		PUT(&w, ",");
	PUT(&w, "{\"auth\":{\"dkim\":[");
	for (i = 0; i < x->adkim.n; i++) {
		const struct text *t = x->adkim.t + i * ADKIM_W;

		if (i)
			PUT(&w, ",");
		PUT(&w, "{");
		first = 1;
		MEMBER(&w, &first, "domain", a, &t[AD_DOMAIN]);
		MEMBER(&w, &first, "human_result", a, &t[AD_HUMAN]);
		MEMBER(&w, &first, "result", a, &t[AD_RESULT]);
		MEMBER(&w, &first, "selector", a, &t[AD_SELECTOR]);
		PUT(&w, "}");
	}
	PUT(&w, "],\"spf\":[");
	for (i = 0; i < x->aspf.n; i++) {
		const struct text *t = x->aspf.t + i * ASPF_W;

		if (i)
			PUT(&w, ",");
		PUT(&w, "{");
		first = 1;
		MEMBER(&w, &first, "domain", a, &t[AS_DOMAIN]);
		MEMBER(&w, &first, "result", a, &t[AS_RESULT]);
		MEMBER(&w, &first, "scope", a, &t[AS_SCOPE]);
		PUT(&w, "}");
	}
	PUT(&w, "]},\"count\":");
	put_int(&w, x->count);
	first = 0;
	MEMBER(&w, &first, "disposition", a, &r[R_DISPOSITION]);
	MEMBER(&w, &first, "dkim", a, &r[R_DKIM]);
	MEMBER(&w, &first, "envelope_from", a, &r[R_ENV_FROM]);
	MEMBER(&w, &first, "envelope_to", a, &r[R_ENV_TO]);
	MEMBER(&w, &first, "header_from", a, &r[R_HEADER_FROM]);
	if (x->reasons.n) {
		PUT(&w, ",\"reasons\":[");
		for (i = 0; i < x->reasons.n; i++) {
			const struct text *t = x->reasons.t + i * REASON_W;

			if (i)
				PUT(&w, ",");
			PUT(&w, "{");
			first = 1;
			MEMBER(&w, &first, "comment", a, &t[RS_COMMENT]);
			MEMBER(&w, &first, "type", a, &t[RS_TYPE]);
			PUT(&w, "}");
		}
		PUT(&w, "]");
	}
	first = 0;
	MEMBER(&w, &first, "source_ip", a, &r[R_SOURCE_IP]);
	MEMBER(&w, &first, "spf", a, &r[R_SPF]);
	PUT(&w, "}");
	if (w.rc == AK_ETOOBIG)
		ak_error_code(AK_ETOOBIG, "line %lu: the body exceeds %zu bytes (max_bytes)",
		              line_now(x), x->max_bytes);
	if (w.rc != 0) {
		stop(x, w.rc);
		return;
	}
	x->rows++;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct dmarc_xml *x = ud;

	(void)name;
	if (x->err)
		return;
	if (x->skip) {
		x->skip--;
		return;
	}
	switch (x->stack[--x->depth]) {
	case ST_LEAF:
		leaf_end(x);
		break;
	case ST_RECORD:
		record_end(x);
		break;
	default:
		break;
	}
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len, const XML_Char *base,
                                   const XML_Char *system_id, const XML_Char *public_id,
                                   const XML_Char *notation)
{
	struct dmarc_xml *x = ud;

	(void)value, (void)value_len, (void)base, (void)public_id, (void)notation;
	ak_error_code(AK_EINVALID,
	              "line %lu: DOCTYPE declares %s entity '%s'%s: entity declarations are "
	              "refused (billion laughs, XXE)",
	              line_now(x), is_param ? "parameter" : "general", name,
	              system_id ? " (external)" : "");
	stop(x, AK_EINVALID);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *system_id,
                               const XML_Char *public_id, int has_internal_subset)
{
	struct dmarc_xml *x = ud;

	(void)name, (void)has_internal_subset;
	if (system_id == NULL && public_id == NULL)
		return;
	ak_error_code(AK_EINVALID, "line %lu: DOCTYPE names an external DTD: refused (XXE)",
	              line_now(x));
	stop(x, AK_EINVALID);
}

/*
 * expat knows UTF-8, UTF-16, ISO-8859-1 and US-ASCII. Reporters also
 * declare single-byte charsets such as windows-1252 (AOL) or koi8-r: iconv
 * gives the code point of each of their 256 bytes, which is all expat needs
 * (a byte iconv cannot convert is not well-formed). Multi-byte charsets
 * stay unknown and the report is refused with expat's message.
 */
static int XMLCALL on_unknown_encoding(void *data, const XML_Char *name, XML_Encoding *info)
{
	iconv_t cd;
	int i, ok = 1;

	(void)data;
	cd = iconv_open("UTF-32LE", name);
	if (cd == (iconv_t)-1)
		return XML_STATUS_ERROR;
	for (i = 0; i < 256 && ok; i++) {
		char in = (char)i, *inp = &in;
		unsigned char out[8];
		char *outp = (char *)out;
		size_t inleft = 1, outleft = sizeof(out);

		iconv(cd, NULL, NULL, NULL, NULL);
		if (iconv(cd, &inp, &inleft, &outp, &outleft) == (size_t)-1) {
			/* EINVAL: the byte starts a sequence, so the charset is
			 * not single-byte; EILSEQ: the byte means nothing. */
			ok = errno != EINVAL;
			info->map[i] = -1;
		} else if (sizeof(out) - outleft == 4) {
			info->map[i] = out[0] | out[1] << 8 | out[2] << 16 | out[3] << 24;
		} else {
			ok = 0;
		}
	}
	iconv_close(cd);
	/* expat needs ASCII where markup is; a charset that moves it is not
	 * one expat can read through a table. */
	for (i = 0; i < 128 && ok; i++)
		ok = info->map[i] == i;
	if (!ok)
		return XML_STATUS_ERROR;
	info->data = NULL;
	info->convert = NULL;
	info->release = NULL;
	return XML_STATUS_OK;
}

int dmarc_xml_new(struct dmarc_xml **out, size_t max_bytes, size_t max_records)
{
	struct dmarc_xml *x = calloc(1, sizeof(*x));
	int rc = AK_ENOMEM;

	*out = NULL;
	if (x == NULL)
		goto done;
	x->p = XML_ParserCreate(NULL);
	if (x->p == NULL)
		goto done;
	x->max_bytes = max_bytes;
	x->max_records = max_records;
	ak_buf_init(&x->meta_text, max_bytes);
	ak_buf_init(&x->row_text, max_bytes);
	ak_buf_init(&x->body, max_bytes);
	ak_buf_init(&x->head, max_bytes);
	ak_buf_init(&x->ids, max_bytes);
	x->errors.width = 1;
	x->reasons.width = REASON_W;
	x->adkim.width = ADKIM_W;
	x->aspf.width = ASPF_W;
	*out = x;
	x = NULL;
	rc = 0;
done:
	dmarc_xml_free(x);
	return rc == 0 ? 0 : ak_error_oom();
}

void dmarc_xml_free(struct dmarc_xml *x)
{
	if (x == NULL)
		return;
	if (x->p)
		XML_ParserFree(x->p);
	ak_buf_free(&x->meta_text);
	ak_buf_free(&x->row_text);
	ak_buf_free(&x->body);
	ak_buf_free(&x->head);
	ak_buf_free(&x->ids);
	free(x->errors.t);
	free(x->reasons.t);
	free(x->adkim.t);
	free(x->aspf.t);
	free(x);
}

static void reset(struct dmarc_xml *x)
{
	XML_ParserReset(x->p, NULL);
	XML_SetUserData(x->p, x);
	XML_SetElementHandler(x->p, on_start, on_end);
	XML_SetEntityDeclHandler(x->p, on_entity_decl);
	XML_SetStartDoctypeDeclHandler(x->p, on_doctype);
	XML_SetUnknownEncodingHandler(x->p, on_unknown_encoding, NULL);
	XML_SetParamEntityParsing(x->p, XML_PARAM_ENTITY_PARSING_NEVER);
	x->err = 0;
	x->depth = 1;
	x->stack[0] = ST_TOP;
	x->skip = 0;
	x->leaf = NULL;
	x->rows = 0;
	ak_buf_reset(&x->meta_text);
	ak_buf_reset(&x->row_text);
	ak_buf_reset(&x->body);
	ak_buf_reset(&x->head);
	ak_buf_reset(&x->ids);
	memset(x->meta, 0, sizeof(x->meta));
	x->errors.n = 0;
	/* A big report's buffers are not kept for the next, small one. */
	if (x->body.cap > ((size_t)4 << 20)) {
		ak_buf_free(&x->body);
		ak_buf_free(&x->row_text);
	}
}

static void put_time(struct writer *w, int64_t seconds)
{
	char tmp[AK_TIME_MAX];
	int n = ak_time_format(tmp, seconds * 1000000, AK_TIME_SECONDS);

	PUT(w, "\"");
	if (n > 0)
		put(w, tmp, (size_t)n);
	PUT(w, "\"");
}

/* After the document: check the report, put the members that come before
 * "rows" in front of the rows, and those after behind them. */
static int finish(struct dmarc_xml *x, struct dmarc_report *out)
{
	const struct ak_buf *a = &x->meta_text;
	const struct text *m = x->meta;
	struct writer w = {&x->head, 0};
	size_t i;
	int first;
	char *dst;

	if (!m[M_REPORT_ID].set || m[M_REPORT_ID].len == 0)
		return ak_error_code(AK_EINVALID, "<report_metadata><report_id> is %s",
		                     m[M_REPORT_ID].set ? "empty" : "missing");
	if (!m[M_BEGIN].set || !m[M_END].set)
		return ak_error_code(AK_EINVALID, "<date_range><%s> is missing",
		                     m[M_BEGIN].set ? "end" : "begin");
	if (!m[P_DOMAIN].set || m[P_DOMAIN].len == 0)
		return ak_error_code(AK_EINVALID, "<policy_published><domain> is %s",
		                     m[P_DOMAIN].set ? "empty" : "missing");

	/* begin, email, end, errors, extra_contact_info, org_name, policy,
	 * report_id, rows, version: RFC 8785 order. */
	PUT(&w, "{\"begin\":");
	put_time(&w, x->begin);
	first = 0;
	MEMBER(&w, &first, "email", a, &m[M_EMAIL]);
	PUT(&w, ",\"end\":");
	put_time(&w, x->end);
	if (x->errors.n) {
		PUT(&w, ",\"errors\":[");
		for (i = 0; i < x->errors.n; i++) {
			if (i)
				PUT(&w, ",");
			put_str(&w, a, &x->errors.t[i]);
		}
		PUT(&w, "]");
	}
	MEMBER(&w, &first, "extra_contact_info", a, &m[M_EXTRA]);
	MEMBER(&w, &first, "org_name", a, &m[M_ORG_NAME]);
	PUT(&w, ",\"policy\":{");
	first = 1;
	MEMBER(&w, &first, "adkim", a, &m[P_ADKIM]);
	MEMBER(&w, &first, "aspf", a, &m[P_ASPF]);
	MEMBER(&w, &first, "discovery_method", a, &m[P_DISCOVERY]);
	MEMBER(&w, &first, "domain", a, &m[P_DOMAIN]);
	MEMBER(&w, &first, "fo", a, &m[P_FO]);
	MEMBER(&w, &first, "np", a, &m[P_NP]);
	MEMBER(&w, &first, "p", a, &m[P_P]);
	if (m[P_PCT].set && x->pct >= 0) {
		PUT(&w, ",\"pct\":");
		put_int(&w, x->pct);
	}
	MEMBER(&w, &first, "sp", a, &m[P_SP]);
	MEMBER(&w, &first, "testing", a, &m[P_TESTING]);
	PUT(&w, "}");
	MEMBER(&w, &first, "report_id", a, &m[M_REPORT_ID]);
	PUT(&w, ",\"rows\":[");
	if (w.rc != 0)
		return w.rc;

	/* The head goes in front of the rows already in the body. */
	dst = ak_buf_reserve(&x->body, x->head.len);
	if (dst == NULL)
		return x->body.len + x->head.len > x->max_bytes
		               ? ak_error_code(AK_ETOOBIG, "the body exceeds %zu bytes (max_bytes)",
		                               x->max_bytes)
		               : AK_ENOMEM;
	memmove(x->body.data + x->head.len, x->body.data, x->body.len);
	memcpy(x->body.data, x->head.data, x->head.len);
	ak_buf_commit(&x->body, x->head.len);

	w.b = &x->body;
	PUT(&w, "]");
	MEMBER(&w, &first, "version", a, &m[M_VERSION]);
	PUT(&w, "}");

	/* NUL-terminated copies of the two names the record needs. */
	w.b = &x->ids;
	if (m[M_ORG_NAME].set)
		put(&w, a->data + m[M_ORG_NAME].off, m[M_ORG_NAME].len);
	put(&w, "", 1);
	put(&w, a->data + m[M_REPORT_ID].off, m[M_REPORT_ID].len);
	if (w.rc != 0)
		return w.rc;
	out->body = x->body.data;
	out->body_len = x->body.len;
	out->begin_us = x->begin * 1000000;
	out->org_name = x->ids.data;
	out->report_id = x->ids.data + strlen(x->ids.data) + 1;
	out->rows = x->rows;
	return 0;
}

int dmarc_xml_parse(struct dmarc_xml *x, struct dmarc_in *in, struct dmarc_report *out)
{
	size_t total = 0;
	int rc = 0;

	reset(x);
	for (;;) {
		void *buf = XML_GetBuffer(x->p, XML_CHUNK);
		ssize_t n;

		if (buf == NULL) {
			rc = ak_error_oom();
			goto done;
		}
		n = dmarc_in_read(in, buf, XML_CHUNK);
		if (n < 0) {
			rc = (int)n;
			goto done;
		}
		total += (size_t)n;
		if (total > x->max_bytes) {
			rc = ak_error_code(AK_ETOOBIG, "report exceeds %zu bytes (max_bytes)",
			                   x->max_bytes);
			goto done;
		}
		if (total == 0) {
			rc = ak_error_code(AK_EINVALID, "empty input: no XML document");
			goto done;
		}
		if (XML_ParseBuffer(x->p, (int)n, n == 0) != XML_STATUS_OK) {
			if (x->err) {
				rc = x->err;
			} else {
				enum XML_Error e = XML_GetErrorCode(x->p);

				rc = ak_error_code(
				        AK_EINVALID, "line %lu, column %lu: XML error: %s",
				        (unsigned long)XML_GetCurrentLineNumber(x->p),
				        (unsigned long)XML_GetCurrentColumnNumber(x->p) + 1,
				        XML_ErrorString(e));
			}
			goto done;
		}
		if (n == 0)
			break;
	}
	rc = finish(x, out);
done:
	return rc;
}
