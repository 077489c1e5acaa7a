/*
 * auditd/ingest/ocsf.c - the OCSF admin adapter (see ocsf.h for the
 * mapping).
 *
 * JSON Lines are read with lib/lines (one bounded line at a time) and each
 * line parsed on its own, so a bad line costs one reject. An array input
 * is read whole (bounded by max_bytes) and its elements parsed one after
 * the other with JSON_DISABLE_EOF_CHECK, which says how many bytes each
 * took: that gives every element its own line number and its own reject
 * without a DOM of the whole array.
 *
 * Numbers. Entries hold no floating-point numbers, and this adapter
 * REJECTS them rather than stringifying: the numbers it copies (class_uid,
 * activity_id, type_uid, category_uid, status_id, time) must be JSON
 * integers within +-(2^53-1), and an event with a real there (3002.0,
 * 1.7e12) is rejected naming the field. Text fields (names, uids, ip,
 * policy name, status_detail, metadata.uid) take a string, or an integer
 * written in decimal (numeric uids are common); a real there is rejected
 * too. Nothing else of an event is copied, so no real can reach a body.
 *
 * SECURITY: the input is outside data (exports of identity providers,
 * SIEM pipelines, or anyone with ingest rights). It may be any bytes, any
 * JSON of any shape and nesting, huge, or crafted to look like another
 * account's activity. This code bounds each line by max_line and an array
 * input by max_bytes, lets jansson (which checks UTF-8 and nesting) parse
 * it, copies only the fields named above after checking their types,
 * and passes records and rejects to the sink. It decides nothing about
 * whether the actor is who the event says: the source names the producer.
 */
#include "auditd/ingest/ocsf.h"

#include "lib/buf.h"
#include "lib/error.h"
#include "lib/jcs.h"
#include "lib/lines.h"
#include "lib/timefmt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define OCSF_DEFAULT_MAX_LINE ((size_t)1 << 20)
#define SAFE_INT_MAX          INT64_C(9007199254740991) /* 2^53 - 1 */
#define JSON_FLAGS            (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

enum {
	CLASS_ACCOUNT_CHANGE = 3001,
	CLASS_AUTHENTICATION = 3002,
};

/* OCSF Account Change activity_id -> admin action. */
static const char *const account_change_action[] = {
	[1] = "account_create",  [2] = "account_enable",  [3] = "password_change",
	[4] = "password_change", [5] = "account_disable", [6] = "account_delete",
	[7] = "role_grant",      [8] = "role_revoke",     [9] = "account_lock",
	[10] = "mfa_enable",     [11] = "mfa_disable",
};

struct ocsf_reader {
	const struct ingest_options *opt;
	const struct ingest_sink *sink;
	const char *name;       /* the input's name in messages */
	unsigned long event_no; /* 1-based element of an array input; 0 for JSON Lines */
	struct ak_buf where;    /* "NAME:LINE" of the event at hand */
	struct ak_buf reason;   /* why it is rejected */
	struct ak_buf source;   /* its record's source */
};

static int bad(struct ocsf_reader *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Set the reason the event at hand is rejected; returns AK_EINVALID (or
 * AK_ENOMEM when even that fails). */
static int bad(struct ocsf_reader *c, const char *fmt, ...)
{
	va_list ap;
	int rc = 0;

	ak_buf_reset(&c->reason);
	if (c->event_no)
		rc = ak_buf_printf(&c->reason, "event %lu: ", c->event_no);
	if (rc == 0) {
		va_start(ap, fmt);
		rc = ak_buf_vprintf(&c->reason, fmt, ap);
		va_end(ap);
	}
	return rc != 0 ? AK_ENOMEM : AK_EINVALID;
}

/* A jansson error text for a reason: it quotes input bytes ("near ..."),
 * which need not be UTF-8 or printable, so anything that is not printable
 * ASCII becomes '?' unless the whole text is valid UTF-8. */
static int bad_json(struct ocsf_reader *c, const json_error_t *err, const char *tail)
{
	char text[JSON_ERROR_TEXT_LENGTH];
	json_t *check;
	size_t i, n = strnlen(err->text, sizeof(text) - 1);
	int utf8;

	memcpy(text, err->text, n);
	text[n] = '\0';
	check = json_stringn(text, n);
	utf8 = check != NULL;
	json_decref(check);
	for (i = 0; i < n; i++) {
		unsigned char b = (unsigned char)text[i];

		if (b < 0x20 || b == 0x7f || (b >= 0x80 && !utf8))
			text[i] = '?';
	}
	return bad(c, "JSON: %s (column %d)%s", text, err->column, tail);
}

/* The value at a dotted path of ev ("actor.user.name"), or NULL when it or
 * an object on the way is absent or null. AK_EINVALID when something on
 * the way is not an object. */
static int lookup(struct ocsf_reader *c, json_t *ev, const char *path, json_t **out)
{
	const char *p = path;
	json_t *v = ev;
	char key[32];

	*out = NULL;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		if (n >= sizeof(key))
			return ak_error_set("ocsf: path '%s' too long", path); /* our own bug */
		memcpy(key, p, n);
		key[n] = '\0';
		v = json_object_get(v, key);
		if (v == NULL || json_is_null(v))
			return 0;
		if (dot == NULL)
			break;
		if (!json_is_object(v))
			return bad(c, "%.*s: expected an object, got %s", (int)(dot - path), path,
				   ak_json_type_name(v));
		p = dot + 1;
	}
	*out = v;
	return 0;
}

/* An integer at path, within the safe range. *present says whether it was
 * there; a required one that is not is an error. */
static int get_int(struct ocsf_reader *c, json_t *ev, const char *path, int required,
		   int64_t *out, int *present)
{
	json_t *v;
	int rc = lookup(c, ev, path, &v);

	if (present)
		*present = 0;
	if (rc != 0)
		return rc;
	if (v == NULL)
		return required ? bad(c, "%s: missing", path) : 0;
	if (!json_is_integer(v))
		return bad(c, "%s: expected an integer, got %s", path, ak_json_type_name(v));
	*out = json_integer_value(v);
	if (*out > SAFE_INT_MAX || *out < -SAFE_INT_MAX)
		return bad(c, "%s: %" PRId64 " is outside the safe integer range", path, *out);
	if (present)
		*present = 1;
	return 0;
}

/* Text at path as a new JSON string reference: a non-empty string, or an
 * integer in decimal. *out is NULL when absent, null or "". */
static int get_text(struct ocsf_reader *c, json_t *ev, const char *path, json_t **out)
{
	json_t *v;
	int rc = lookup(c, ev, path, &v);

	*out = NULL;
	if (rc != 0 || v == NULL)
		return rc;
	if (json_is_string(v)) {
		if (json_string_length(v) > 0)
			*out = json_incref(v);
		return 0;
	}
	if (json_is_integer(v)) {
		*out = json_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return *out ? 0 : ak_error_oom();
	}
	return bad(c, "%s: expected a string, got %s", path, ak_json_type_name(v));
}

/* Who an OCSF user object at path is: its name, else its uid (a new
 * reference, or NULL when the object is absent or names nobody). */
static int identity(struct ocsf_reader *c, json_t *ev, const char *path, json_t **out)
{
	char sub[32];
	json_t *obj;
	int rc;

	*out = NULL;
	if ((rc = lookup(c, ev, path, &obj)) != 0 || obj == NULL)
		return rc;
	if (!json_is_object(obj))
		return bad(c, "%s: expected an object, got %s", path, ak_json_type_name(obj));
	snprintf(sub, sizeof(sub), "%s.name", path);
	if ((rc = get_text(c, ev, sub, out)) != 0 || *out != NULL)
		return rc;
	snprintf(sub, sizeof(sub), "%s.uid", path);
	return get_text(c, ev, sub, out);
}

/* Set key in obj to v (a new reference, stolen), skipping NULL. */
static int put(json_t *obj, const char *key, json_t *v)
{
	if (v == NULL)
		return 0;
	return json_object_set_new(obj, key, v) == 0 ? 0 : ak_error_oom();
}

/* The parts of a body gathered from an event, each a new reference. */
struct admin_fields {
	json_t *actor, *target, *role, *ip, *status_detail, *event_id, *product;
	const char *action;
	int mfa; /* -1 absent, else 0/1 */
	int reset;
};

static void admin_fields_free(struct admin_fields *a)
{
	json_decref(a->actor);
	json_decref(a->target);
	json_decref(a->role);
	json_decref(a->ip);
	json_decref(a->status_detail);
	json_decref(a->event_id);
	json_decref(a->product);
}

/* Who did what to whom, by class (see ocsf.h). */
static int map_class(struct ocsf_reader *c, json_t *ev, int64_t class_uid, int64_t activity_id,
		     int has_status, int64_t status_id, struct admin_fields *a)
{
	json_t *user;
	int rc;

	if (class_uid == CLASS_AUTHENTICATION || class_uid == CLASS_ACCOUNT_CHANGE) {
		const char *cls = class_uid == CLASS_AUTHENTICATION ? "3002 Authentication"
								    : "3001 Account Change";
		json_t *who;

		if ((rc = lookup(c, ev, "user", &user)) != 0)
			return rc;
		if (user == NULL)
			return bad(c, "user: missing (class %s requires it)", cls);
		if ((rc = identity(c, ev, "user", &who)) != 0)
			return rc;
		if (who == NULL)
			return bad(c, "user: has neither name nor uid");
		if (class_uid == CLASS_AUTHENTICATION) {
			a->actor = who;
			if (activity_id == 1 && has_status && status_id == 1)
				a->action = "login_success";
			else if (activity_id == 1 && has_status && status_id == 2)
				a->action = "login_failure";
			else if (activity_id == 2)
				a->action = "logout";
			return 0;
		}
		a->target = who;
		if ((rc = identity(c, ev, "actor.user", &a->actor)) != 0)
			return rc;
		if (a->actor == NULL)
			a->actor = json_incref(a->target); /* a change made by the account itself */
		if (activity_id >= 1 && activity_id <= 11)
			a->action = account_change_action[activity_id];
		a->reset = activity_id == 4;
		if (activity_id == 7 || activity_id == 8)
			return get_text(c, ev, "policy.name", &a->role);
		return 0;
	}
	/* Other classes: keep who we can tell, the action stays "other". */
	if ((rc = identity(c, ev, "actor.user", &a->actor)) != 0 ||
	    (rc = identity(c, ev, "user", &a->target)) != 0)
		return rc;
	if (a->actor == NULL) {
		a->actor = a->target;
		a->target = NULL;
	}
	if (a->actor == NULL)
		return bad(c, "no actor: neither actor.user nor user has a name or uid");
	return 0;
}

static int reject(struct ocsf_reader *c, const char *raw, size_t raw_len)
{
	return c->sink->reject(c->sink->ctx, c->where.data, c->reason.data, raw, raw_len);
}

/* One parsed event: a record, or a reject. 0 to go on, negative to stop. */
static int do_event(struct ocsf_reader *c, json_t *ev, const char *raw, size_t raw_len)
{
	static const char *const optional_ids[] = {"type_uid", "category_uid", "status_id"};
	struct admin_fields a = {NULL, NULL, NULL, NULL, NULL, NULL, NULL, "other", -1, 0};
	struct ingest_record rec;
	json_t *body = NULL, *details = NULL, *ids = NULL, *v;
	int64_t class_uid, activity_id, time_ms, status_id = 0, id;
	int has_status = 0, present, recorded = 0, rc;
	size_t i;

	if (!json_is_object(ev)) {
		rc = bad(c, "not an object but %s", ak_json_type_name(ev));
		goto done;
	}
	if ((rc = get_int(c, ev, "class_uid", 1, &class_uid, NULL)) != 0 ||
	    (rc = get_int(c, ev, "activity_id", 1, &activity_id, NULL)) != 0 ||
	    (rc = get_int(c, ev, "time", 1, &time_ms, NULL)) != 0)
		goto done;
	if (time_ms < AK_TIME_MIN_US / 1000 || time_ms > AK_TIME_MAX_US / 1000) {
		rc = bad(c, "time: %" PRId64 " ms since the epoch is outside years 0000-9999",
			 time_ms);
		goto done;
	}
	body = json_object();
	details = json_object();
	ids = json_object();
	if (body == NULL || details == NULL || ids == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	if ((rc = put(ids, "class_uid", json_integer(class_uid))) != 0 ||
	    (rc = put(ids, "activity_id", json_integer(activity_id))) != 0)
		goto done;
	for (i = 0; i < sizeof(optional_ids) / sizeof(optional_ids[0]); i++) {
		if ((rc = get_int(c, ev, optional_ids[i], 0, &id, &present)) != 0)
			goto done;
		if (present && (rc = put(ids, optional_ids[i], json_integer(id))) != 0)
			goto done;
		if (present && strcmp(optional_ids[i], "status_id") == 0) {
			has_status = 1;
			status_id = id;
		}
	}
	if ((rc = map_class(c, ev, class_uid, activity_id, has_status, status_id, &a)) != 0 ||
	    (rc = get_text(c, ev, "src_endpoint.ip", &a.ip)) != 0 ||
	    (rc = get_text(c, ev, "status_detail", &a.status_detail)) != 0 ||
	    (rc = get_text(c, ev, "metadata.uid", &a.event_id)) != 0 ||
	    (rc = get_text(c, ev, "metadata.product.name", &a.product)) != 0 ||
	    (rc = lookup(c, ev, "is_mfa", &v)) != 0)
		goto done;
	if (v != NULL && !json_is_boolean(v)) {
		rc = bad(c, "is_mfa: expected true or false, got %s", ak_json_type_name(v));
		goto done;
	}
	a.mfa = v == NULL ? -1 : json_is_true(v);

	/* Build the body; put() steals each reference, so clear ours. */
	rc = put(body, "actor", a.actor);
	a.actor = NULL;
	if (rc == 0)
		rc = put(body, "action", json_string(a.action));
	if (rc == 0)
		rc = put(body, "target", a.target);
	a.target = NULL;
	if (rc == 0)
		rc = put(body, "role", a.role);
	a.role = NULL;
	if (rc == 0)
		rc = put(body, "ip", a.ip);
	a.ip = NULL;
	if (rc == 0 && has_status && (status_id == 1 || status_id == 2))
		rc = put(body, "result", json_string(status_id == 1 ? "success" : "failure"));
	if (rc == 0 && a.mfa >= 0)
		rc = put(details, "mfa", json_boolean(a.mfa));
	if (rc == 0)
		rc = put(details, "status_detail", a.status_detail);
	a.status_detail = NULL;
	if (rc == 0 && a.reset)
		rc = put(details, "reset", json_true());
	if (rc == 0)
		rc = put(details, "ocsf", ids);
	ids = NULL;
	if (rc == 0)
		rc = put(body, "details", details);
	details = NULL;
	if (rc != 0)
		goto done;

	ak_buf_reset(&c->source);
	if (c->opt->source)
		rc = ak_buf_puts(&c->source, c->opt->source);
	else if (a.product)
		rc = ak_buf_printf(&c->source, "ocsf:%s", json_string_value(a.product));
	else
		rc = ak_buf_puts(&c->source, "ocsf");
	if (rc != 0)
		goto done;

	memset(&rec, 0, sizeof(rec));
	rec.kind = "admin";
	rec.time_us = time_ms * 1000;
	rec.source = c->source.data;
	rec.body = body;
	rec.event_id = a.event_id ? json_string_value(a.event_id) : NULL;
	rec.where = c->where.data;
	rc = c->sink->record(c->sink->ctx, &rec);
	recorded = 1; /* whatever the sink returns is not about this event */
done:
	if (rc == AK_EINVALID && !recorded)
		rc = reject(c, raw, raw_len);
	admin_fields_free(&a);
	json_decref(ids);
	json_decref(details);
	json_decref(body);
	return rc;
}

static int set_where(struct ocsf_reader *c, unsigned long line)
{
	ak_buf_reset(&c->where);
	ak_buf_reset(&c->reason);
	return ak_buf_printf(&c->where, "%s:%lu", c->name, line);
}

static int is_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* JSON Lines: one event per line. skipped is the number of lines read
 * before the stream position (blank lines looked at by the caller). */
static int read_lines(struct ocsf_reader *c, FILE *in, unsigned long skipped, int broken_start)
{
	struct ak_lines lines;
	size_t max = c->opt->max_line ? c->opt->max_line : OCSF_DEFAULT_MAX_LINE;
	const char *line;
	size_t len, i;
	int rc;

	if ((rc = ak_lines_init(&lines, in, max)) != 0)
		goto done;
	while ((rc = ak_lines_next(&lines, &line, &len)) != 0) {
		unsigned long lineno = skipped + lines.lineno;
		json_error_t err;
		json_t *ev;

		if (rc == AK_ETOOBIG) {
			if ((rc = set_where(c, lineno)) != 0 ||
			    (rc = bad(c, "longer than %zu bytes", max)) != AK_EINVALID ||
			    (rc = reject(c, NULL, 0)) != 0)
				goto done;
			continue;
		}
		if (rc < 0)
			goto done;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if ((rc = set_where(c, lineno)) != 0)
			goto done;
		if (broken_start && lines.lineno == 1) {
			/* Bytes of a broken byte-order mark were eaten before
			 * this line: whatever is left of it is not the line. */
			if ((rc = bad(c, "JSON: invalid bytes at the start of the input")) !=
				    AK_EINVALID ||
			    (rc = reject(c, line, len)) != 0)
				goto done;
			continue;
		}
		for (i = 0; i < len && is_space((unsigned char)line[i]); i++)
			;
		if (i == len)
			continue; /* a blank line */
		ev = json_loadb(line, len, JSON_FLAGS, &err);
		if (ev == NULL) {
			if ((rc = bad_json(c, &err, "")) == AK_EINVALID)
				rc = reject(c, line, len);
		} else {
			rc = do_event(c, ev, line, len);
			json_decref(ev);
		}
		if (rc != 0)
			goto done;
	}
done:
	ak_lines_free(&lines);
	return rc;
}

/* An array input held whole, and where its reader is. */
struct array_text {
	const char *text;
	size_t len;
	size_t pos;         /* next byte to look at */
	size_t counted;     /* newlines are counted up to here... */
	unsigned long line; /* ...and this is the line of text[counted] */
};

static void skip_space(struct array_text *t)
{
	while (t->pos < t->len && is_space((unsigned char)t->text[t->pos]))
		t->pos++;
}

/* The line of text[pos] (pos never goes back, so counting is linear). */
static unsigned long line_at(struct array_text *t)
{
	const char *p = t->text + t->counted, *end = t->text + t->pos;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		t->line++;
		p++;
	}
	t->counted = t->pos;
	return t->line;
}

/* Read the rest of in (an array input) into buf, at most max bytes. */
static int slurp(FILE *in, struct ak_buf *buf, size_t max)
{
	for (;;) {
		size_t room = max - buf->len, n = room < 65536 ? room : 65536, got;
		char *p;

		if (n == 0) {
			if (getc(in) == EOF)
				return 0;
			return ak_error_code(AK_ETOOBIG,
					     "a JSON array input larger than %zu bytes (JSON Lines "
					     "have no such limit)",
					     max);
		}
		if ((p = ak_buf_reserve(buf, n)) == NULL)
			return AK_ENOMEM;
		got = fread(p, 1, n, in);
		ak_buf_commit(buf, got);
		if (got < n)
			return ferror(in) ? ak_error_set("read error: %s", strerror(errno)) : 0;
	}
}

/* An array of events, read whole (bounded) and parsed one element at a
 * time. first_line is the line the '[' is on. */
static int read_array(struct ocsf_reader *c, FILE *in, unsigned long first_line)
{
	size_t max = c->opt->max_bytes ? c->opt->max_bytes : AK_BUF_DEFAULT_MAX;
	struct ak_buf buf = AK_BUF_INIT(max);
	struct array_text t;
	int rc;

	if ((rc = slurp(in, &buf, max)) != 0)
		goto done;
	t.text = buf.data;
	t.len = buf.len;
	t.pos = 1; /* after the '[' */
	t.counted = 0;
	t.line = first_line;
	skip_space(&t);
	if (t.pos < t.len && t.text[t.pos] == ']') {
		t.pos++;
		goto after;
	}
	for (;;) {
		json_error_t err;
		json_t *ev;

		c->event_no++;
		if ((rc = set_where(c, line_at(&t))) != 0)
			goto done;
		if (t.pos == t.len) {
			if ((rc = bad(c, "the input ends inside the array")) == AK_EINVALID)
				rc = reject(c, NULL, 0);
			goto done;
		}
		ev = json_loadb(t.text + t.pos, t.len - t.pos, JSON_FLAGS | JSON_DISABLE_EOF_CHECK,
				&err);
		if (ev == NULL) {
			/* Name the line of the error itself, not of the element. */
			if (err.line > 1 &&
			    (rc = set_where(c, t.line + (unsigned long)err.line - 1)) != 0)
				goto done;
			rc = bad_json(c, &err, "; the rest of the array cannot be read");
			if (rc == AK_EINVALID)
				rc = reject(c, NULL, 0);
			goto done;
		}
		rc = do_event(c, ev, t.text + t.pos, (size_t)err.position);
		json_decref(ev);
		if (rc != 0)
			goto done;
		t.pos += (size_t)err.position;
		skip_space(&t);
		if (t.pos < t.len && t.text[t.pos] == ',') {
			t.pos++;
			skip_space(&t);
			continue;
		}
		if (t.pos < t.len && t.text[t.pos] == ']') {
			t.pos++;
			break;
		}
		if ((rc = set_where(c, line_at(&t))) != 0)
			goto done;
		if (t.pos == t.len)
			rc = bad(c, "the input ends inside the array");
		else
			rc = bad(c, "expected ',' or ']' after the event");
		if (rc == AK_EINVALID)
			rc = reject(c, NULL, 0);
		goto done;
	}
after:
	skip_space(&t);
	if (t.pos < t.len) {
		c->event_no = 0;
		if ((rc = set_where(c, line_at(&t))) != 0)
			goto done;
		if ((rc = bad(c, "data after the end of the array")) == AK_EINVALID)
			rc = reject(c, t.text + t.pos, t.len - t.pos);
	}
done:
	ak_buf_free(&buf);
	return rc;
}

int ingest_admin_ocsf(FILE *in, const struct ingest_options *opt, const struct ingest_sink *sink)
{
	struct ocsf_reader c;
	unsigned long skipped = 0;
	int ch, broken_start = 0, rc;

	memset(&c, 0, sizeof(c));
	c.opt = opt;
	c.sink = sink;
	c.name = opt->name ? opt->name : "-";
	ak_buf_init(&c.where, 0);
	ak_buf_init(&c.reason, 0);
	ak_buf_init(&c.source, 0);

	/* Find the first byte that is not white space, to tell an array from
	 * JSON Lines, without reading further: the stream then goes, with
	 * that byte pushed back, to the reader of its form. */
	ch = getc(in);
	if (ch == 0xef) {
		int b2 = getc(in), b3 = b2 == 0xbb ? getc(in) : b2;

		if (b2 == 0xbb && b3 == 0xbf) {
			ch = getc(in);
		} else {
			/* Not a byte-order mark: invalid UTF-8, which the
			 * first line will be rejected for. */
			broken_start = 1;
			ch = b3;
		}
	}
	while (!broken_start && ch != EOF && is_space(ch)) {
		skipped += ch == '\n';
		ch = getc(in);
	}
	if (ch == EOF && ferror(in)) {
		rc = ak_error_set("read error: %s", strerror(errno));
		goto done;
	}
	if (ch == EOF && broken_start) {
		/* Nothing but the broken mark: still not to be passed over. */
		if ((rc = set_where(&c, 1)) == 0 &&
		    (rc = bad(&c, "JSON: invalid bytes at the start of the input")) == AK_EINVALID)
			rc = reject(&c, NULL, 0);
		goto done;
	}
	if (ch == EOF) {
		rc = 0; /* an empty input, or only white space */
		goto done;
	}
	if (ungetc(ch, in) == EOF) {
		rc = ak_error_set("cannot push back a byte");
		goto done;
	}
	if (ch == '[' && !broken_start)
		rc = read_array(&c, in, skipped + 1);
	else
		rc = read_lines(&c, in, skipped, broken_start);
done:
	if (rc < 0)
		ak_error_prefix("%s", c.name);
	ak_buf_free(&c.where);
	ak_buf_free(&c.reason);
	ak_buf_free(&c.source);
	return rc;
}
