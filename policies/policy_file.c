/*
 * policies/policy_file.c - checking one policy file and turning it into a
 * struct policy (the format is in policies/policy.h, the calls in
 * policies/policy_int.h).
 *
 * A file is parsed by lib/jcs's strict parser (no floating-point numbers,
 * no duplicate keys, valid UTF-8 only), which records the byte offset of
 * every value and member name; the checks of meaning here turn those
 * offsets into LINE:COLUMN for their messages. Every problem is reported,
 * not only the first, so that `akashi policy lint` shows a file's errors
 * at once. The controls, their parameters, types and defaults come from
 * the table in policies/controls.c and nowhere else.
 *
 * SECURITY: the bytes come from a git commit that anyone with push access
 * wrote. Their size is bounded by the caller (POLICY_FILE_MAX) and the
 * parser's arena limit, the parser is fuzzed, and everything of the file
 * quoted in a message goes through policy_shown(), so messages never carry
 * raw control characters to a terminal or log.
 */
#include "policies/policy_int.h"

#include "lib/error.h"
#include "lib/jcs.h"
#include "lib/timefmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_POS    ((size_t)-1)
#define SHOWN_MAX 200 /* bytes; room for a long file name */

static const char *const policy_keys[] = {"id",   "title",    "control", "params", "cites",
                                          "gate", "severity", "scope",   NULL};

/* ---- messages and positions ---- */

void policy_position(const char *text, size_t len, size_t offset, int *line, int *column)
{
	size_t i;
	int l = 1, c = 1;

	if (offset > len)
		offset = len;
	for (i = 0; i < offset; i++) {
		if (text[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80) {
			c++; /* a character starts here (continuation bytes do not count) */
		}
	}
	*line = l;
	*column = c;
}

/* Length of the well-formed UTF-8 sequence at s[0] >= 0x80, or 0. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
	unsigned lo = 0x80, hi = 0xBF;
	size_t n, i;

	if (s[0] < 0xC2 || s[0] > 0xF4)
		return 0;
	n = s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : 4;
	if (s[0] == 0xE0)
		lo = 0xA0;
	else if (s[0] == 0xED)
		hi = 0x9F;
	else if (s[0] == 0xF0)
		lo = 0x90;
	else if (s[0] == 0xF4)
		hi = 0x8F;
	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

const char *policy_shown(char out[POLICY_SHOWN_SIZE], const char *str, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str, *e = s + len;
	size_t o = 0, n;

	while (s < e) {
		unsigned cp = *s;

		if (o >= SHOWN_MAX) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		n = 1;
		if (*s >= 0x80) {
			n = utf8_len(s, (size_t)(e - s));
			if (n == 0) {
				out[o++] = '\\';
				out[o++] = 'x';
				out[o++] = hex[*s >> 4];
				out[o++] = hex[*s & 15];
				s++;
				continue;
			}
			cp = n == 2   ? (s[0] & 0x1Fu) << 6 | (s[1] & 0x3Fu)
			     : n == 3 ? (s[0] & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu)
			              : 0x10000; /* above the BMP: nothing to escape */
		}
		/* C0, DEL, C1, and the line and bidi controls that could
		 * rearrange what a terminal shows. */
		if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || (cp >= 0x2028 && cp <= 0x202E) ||
		    (cp >= 0x2066 && cp <= 0x2069)) {
			out[o++] = '\\';
			out[o++] = 'u';
			out[o++] = hex[cp >> 12 & 15];
			out[o++] = hex[cp >> 8 & 15];
			out[o++] = hex[cp >> 4 & 15];
			out[o++] = hex[cp & 15];
		} else if (cp == '\'' || cp == '\\') {
			out[o++] = '\\';
			out[o++] = (char)cp;
		} else {
			memcpy(out + o, s, n);
			o += n;
		}
		s += n;
	}
	out[o] = '\0';
	return out;
}

/* A check of one file in progress. */
struct check {
	const char *path;
	const char *text;
	size_t len;
	policy_error_cb cb;
	void *ctx;
	int nerrors;
	int dropped; /* beyond POLICY_FILE_MAX_ERRORS */
	int stop;    /* cb's nonzero return: report nothing more */
};

static void emit(struct check *ck, size_t offset, const char *msg)
{
	struct policy_lint_error e;
	int rc;

	e.file = ck->path;
	e.line = e.column = 0;
	e.message = msg;
	if (offset != NO_POS)
		policy_position(ck->text, ck->len, offset, &e.line, &e.column);
	if (ck->cb && (rc = ck->cb(ck->ctx, &e)) != 0)
		ck->stop = rc;
}

static void report(struct check *ck, size_t offset, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* One error at a byte offset of the text (NO_POS: the file as a whole). */
static void report(struct check *ck, size_t offset, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (ck->stop)
		return;
	if (ck->nerrors >= POLICY_FILE_MAX_ERRORS) {
		ck->dropped++;
		return;
	}
	ck->nerrors++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(ck, offset, msg);
}

static const char *a_type(const struct ak_jv *v)
{
	switch (v->type) {
	case AK_JNULL:
		return "null";
	case AK_JFALSE:
	case AK_JTRUE:
		return "a boolean";
	case AK_JINT:
		return "an integer";
	case AK_JSTRING:
		return "a string";
	case AK_JARRAY:
		return "an array";
	case AK_JOBJECT:
		return "an object";
	}
	return "a value";
}

/* "a, b, c" of a NULL-terminated list, cut to fit out. */
static const char *joined(char *out, size_t size, const char *const *list)
{
	size_t o = 0;
	int n;

	out[0] = '\0';
	for (; *list && o < size; list++) {
		n = snprintf(out + o, size - o, "%s%s", o ? ", " : "", *list);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	return out;
}

static int in_list(const char *const *list, const char *s, size_t len)
{
	for (; *list; list++)
		if (strlen(*list) == len && memcmp(*list, s, len) == 0)
			return 1;
	return 0;
}

/* ---- values ---- */

/* v is a string usable as a C string; else an error about it, 0. */
static int want_string(struct check *ck, const struct ak_jv *v, const char *path)
{
	if (v->type != AK_JSTRING) {
		report(ck, v->offset, "%s: expected a string, not %s", path, a_type(v));
		return 0;
	}
	if (memchr(v->u.s.ptr, '\0', v->u.s.len) != NULL) {
		report(ck, v->offset, "%s: must not contain U+0000", path);
		return 0;
	}
	return 1;
}

static int want_choice(struct check *ck, const struct ak_jv *v, const char *path,
                       const char *const *choices)
{
	char s[POLICY_SHOWN_SIZE], list[512];

	if (!want_string(ck, v, path))
		return 0;
	if (in_list(choices, v->u.s.ptr, v->u.s.len))
		return 1;
	report(ck, v->offset, "%s: '%s' is not one of %s", path,
	       policy_shown(s, v->u.s.ptr, v->u.s.len), joined(list, sizeof(list), choices));
	return 0;
}

static int is_date(const char *s, size_t len)
{
	static const char shape[] = "dddd-dd-dd";
	int y, m, d;
	size_t i;

	if (len != 10)
		return 0;
	for (i = 0; i < 10; i++)
		if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != '-')
			return 0;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	return m >= 1 && m <= 12 && d >= 1 && d <= ak_time_days_in_month(y, m);
}

/* An array whose items are strings (each one of choices when given, or a
 * date when dates is set). */
static void want_strings(struct check *ck, const struct ak_jv *v, const char *path,
                         const char *const *choices, int dates)
{
	char ipath[192], s[POLICY_SHOWN_SIZE];
	const struct ak_jv *item;
	size_t i;

	if (v->type != AK_JARRAY) {
		report(ck, v->offset, "%s: expected an array of %s, not %s", path,
		       dates ? "dates (\"YYYY-MM-DD\")" : "strings", a_type(v));
		return;
	}
	for (i = 0; i < v->u.a.n; i++) {
		item = v->u.a.items[i];
		snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		if (choices) {
			want_choice(ck, item, ipath, choices);
		} else if (want_string(ck, item, ipath) && dates &&
		           !is_date(item->u.s.ptr, item->u.s.len)) {
			report(ck, item->offset, "%s: '%s' is not a date (YYYY-MM-DD)", ipath,
			       policy_shown(s, item->u.s.ptr, item->u.s.len));
		}
	}
}

static void check_param(struct check *ck, const struct policy_param_spec *ps, const struct ak_jv *v)
{
	struct policy_duration d;
	char path[128], s[POLICY_SHOWN_SIZE];
	int64_t ppm;

	snprintf(path, sizeof(path), "params.%s", ps->name);
	switch (ps->type) {
	case POLICY_BOOL:
		if (v->type != AK_JTRUE && v->type != AK_JFALSE)
			report(ck, v->offset, "%s: expected true or false, not %s", path,
			       a_type(v));
		break;
	case POLICY_INT:
		if (v->type != AK_JINT)
			report(ck, v->offset, "%s: expected an integer >= 0, not %s", path,
			       a_type(v));
		else if (v->u.i < 0)
			report(ck, v->offset, "%s: expected an integer >= 0, not %lld", path,
			       (long long)v->u.i);
		break;
	case POLICY_DURATION:
		if (!want_string(ck, v, path))
			break;
		/* "" is allowed where it is the default: "not set". */
		if (v->u.s.len == 0 && strcmp(ps->def, "\"\"") == 0)
			break;
		if (policy_duration_parse(v->u.s.ptr, &d) != 0)
			report(ck, v->offset,
			       "%s: '%s' is not a duration (a whole number and a unit: s, m, h, d, "
			       "w, bd (business days), mo, y; e.g. \"90d\")",
			       path, policy_shown(s, v->u.s.ptr, v->u.s.len));
		break;
	case POLICY_RATIO:
		if (v->type != AK_JSTRING) {
			report(ck, v->offset,
			       "%s: expected a ratio as a string (e.g. \"0.98\"), not %s", path,
			       a_type(v));
			break;
		}
		if (!want_string(ck, v, path))
			break;
		if (policy_ratio_parse(v->u.s.ptr, &ppm) != 0)
			report(ck, v->offset,
			       "%s: '%s' is not a ratio from \"0\" to \"1\" (e.g. \"0.98\")", path,
			       policy_shown(s, v->u.s.ptr, v->u.s.len));
		break;
	case POLICY_ENUM:
		want_choice(ck, v, path, ps->choices);
		break;
	case POLICY_ZONE: {
		int off;

		/* Checked here, not at the first audit: a zone the system does
		 * not know would fail every audit of the commit. */
		if (want_string(ck, v, path) &&
		    (v->u.s.len == 0 || memchr(v->u.s.ptr, '\0', v->u.s.len) ||
		     ak_time_zone_offset(v->u.s.ptr, 0, &off) != 0)) {
			ak_error_clear();
			report(ck, v->offset,
			       "%s: '%s' is not a time zone this system knows (an IANA name such "
			       "as \"Asia/Tokyo\" or \"America/New_York\", or \"UTC\")",
			       path, policy_shown(s, v->u.s.ptr, v->u.s.len));
		}
		break;
	}
	case POLICY_STRINGS:
		want_strings(ck, v, path, NULL, 0);
		break;
	case POLICY_ENUMS:
		want_strings(ck, v, path, ps->choices, 0);
		break;
	case POLICY_DATES:
		want_strings(ck, v, path, NULL, 1);
		break;
	}
}

static const struct policy_param_spec *find_param(const struct policy_control_spec *spec,
                                                  const char *name, size_t len)
{
	const struct policy_param_spec *ps;

	for (ps = spec->params; ps->name; ps++)
		if (strlen(ps->name) == len && memcmp(ps->name, name, len) == 0)
			return ps;
	return NULL;
}

static const char *param_names(char *out, size_t size, const struct policy_control_spec *spec)
{
	const struct policy_param_spec *ps;
	size_t o = 0;
	int n;

	out[0] = '\0';
	for (ps = spec->params; ps->name && o < size; ps++) {
		n = snprintf(out + o, size - o, "%s%s", o ? ", " : "", ps->name);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	return out;
}

/* ---- the policy ---- */

/* The values of a policy file's keys, once checked. */
struct fields {
	const struct ak_jv *id, *title, *control, *params, *cites, *gate, *severity, *scope;
	const struct policy_control_spec *spec;
};

static int is_id(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > POLICY_ID_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0)))
			return 0;
	}
	return 1;
}

static void check_id(struct check *ck, const struct ak_jv *v, struct policy_checked *out)
{
	char s[POLICY_SHOWN_SIZE];

	if (!want_string(ck, v, "id"))
		return;
	if (!is_id(v->u.s.ptr, v->u.s.len)) {
		report(ck, v->offset,
		       "id: '%s' is not a policy id (lower-case letters, digits and '-', "
		       "starting with a letter or digit, at most %d characters)",
		       policy_shown(s, v->u.s.ptr, v->u.s.len), POLICY_ID_MAX);
		return;
	}
	if (out && (out->id = strndup(v->u.s.ptr, v->u.s.len)) != NULL)
		policy_position(ck->text, ck->len, v->offset, &out->id_line, &out->id_column);
}

static void check_title(struct check *ck, const struct ak_jv *v)
{
	size_t i;

	if (!want_string(ck, v, "title"))
		return;
	if (v->u.s.len == 0) {
		report(ck, v->offset, "title: must not be empty");
		return;
	}
	for (i = 0; i < v->u.s.len; i++)
		if ((unsigned char)v->u.s.ptr[i] < 0x20 || v->u.s.ptr[i] == 0x7F) {
			report(ck, v->offset, "title: must be one line without control characters");
			return;
		}
}

static const struct policy_control_spec *check_control(struct check *ck, const struct ak_jv *v)
{
	const struct policy_control_spec *spec;
	char s[POLICY_SHOWN_SIZE], known[512];
	size_t o = 0;
	int n;

	if (!want_string(ck, v, "control"))
		return NULL;
	if ((spec = policy_control_find(v->u.s.ptr)) != NULL)
		return spec;
	known[0] = '\0';
	for (spec = policy_controls; spec->name && o < sizeof(known); spec++) {
		n = snprintf(known + o, sizeof(known) - o, "%s%s", o ? ", " : "", spec->name);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	report(ck, v->offset, "control: unknown control '%s' (known: %s)",
	       policy_shown(s, v->u.s.ptr, v->u.s.len), known);
	return NULL;
}

static void check_params(struct check *ck, const struct ak_jv *v,
                         const struct policy_control_spec *spec)
{
	const struct policy_param_spec *ps;
	char s[POLICY_SHOWN_SIZE], names[512];
	size_t i;

	if (v->type != AK_JOBJECT) {
		report(ck, v->offset, "params: expected an object, not %s", a_type(v));
		return;
	}
	if (spec == NULL)
		return; /* an unknown control was reported; its parameters cannot be checked */
	for (i = 0; i < v->u.o.n; i++) {
		const struct ak_jmember *m = &v->u.o.members[i];

		ps = find_param(spec, m->key, m->key_len);
		if (ps == NULL)
			report(ck, m->key_offset,
			       "params.%s: not a parameter of %s (its parameters: %s)",
			       policy_shown(s, m->key, m->key_len), spec->name,
			       param_names(names, sizeof(names), spec));
		else
			check_param(ck, ps, m->value);
	}
}

static void check_scope(struct check *ck, const struct ak_jv *v)
{
	char s[POLICY_SHOWN_SIZE], path[POLICY_SHOWN_SIZE + 8], keys[256];
	size_t i;

	if (v->type != AK_JOBJECT) {
		report(ck, v->offset, "scope: expected an object, not %s", a_type(v));
		return;
	}
	for (i = 0; i < v->u.o.n; i++) {
		const struct ak_jmember *m = &v->u.o.members[i];

		snprintf(path, sizeof(path), "scope.%s", policy_shown(s, m->key, m->key_len));
		if (!in_list(policy_scope_keys, m->key, m->key_len))
			report(ck, m->key_offset, "%s: not a scope key (scope keys: %s)", path,
			       joined(keys, sizeof(keys), policy_scope_keys));
		else
			want_strings(ck, m->value, path, NULL, 0);
	}
}

static void check_fields(struct check *ck, const struct ak_jv *root, struct fields *f,
                         struct policy_checked *out)
{
	char s[POLICY_SHOWN_SIZE], keys[256];
	size_t i;

	if (root->type != AK_JOBJECT) {
		report(ck, root->offset, "expected an object holding one policy, not %s",
		       a_type(root));
		return;
	}
	for (i = 0; i < root->u.o.n; i++) {
		const struct ak_jmember *m = &root->u.o.members[i];

		if (!in_list(policy_keys, m->key, m->key_len))
			report(ck, m->key_offset, "unknown key '%s' (known: %s)",
			       policy_shown(s, m->key, m->key_len),
			       joined(keys, sizeof(keys), policy_keys));
	}
	f->id = ak_jv_get(root, "id");
	f->title = ak_jv_get(root, "title");
	f->control = ak_jv_get(root, "control");
	f->params = ak_jv_get(root, "params");
	f->cites = ak_jv_get(root, "cites");
	f->gate = ak_jv_get(root, "gate");
	f->severity = ak_jv_get(root, "severity");
	f->scope = ak_jv_get(root, "scope");

	if (f->id == NULL)
		report(ck, root->offset, "missing key 'id'");
	else
		check_id(ck, f->id, out);
	if (f->title == NULL)
		report(ck, root->offset, "missing key 'title'");
	else
		check_title(ck, f->title);
	if (f->control == NULL)
		report(ck, root->offset, "missing key 'control'");
	else
		f->spec = check_control(ck, f->control);
	if (f->params)
		check_params(ck, f->params, f->spec);
	if (f->cites)
		want_strings(ck, f->cites, "cites", NULL, 0);
	if (f->gate) {
		if (f->gate->type != AK_JTRUE && f->gate->type != AK_JFALSE)
			report(ck, f->gate->offset, "gate: expected true or false, not %s",
			       a_type(f->gate));
		else if (f->gate->type == AK_JTRUE && f->spec && !f->spec->can_gate)
			report(ck, f->gate->offset,
			       "gate: %s cannot gate sends (it is checked by audits only)",
			       f->spec->name);
	}
	if (f->severity)
		want_choice(ck, f->severity, "severity", policy_severities);
	if (f->scope)
		check_scope(ck, f->scope);
}

static int set_new(json_t *obj, const char *key, json_t *v)
{
	return v == NULL || json_object_set_new(obj, key, v) != 0 ? ak_error_oom() : 0;
}

/* Fill out->policy from checked fields; defaults come from the control
 * table's JSON text. */
static int build(const char *path, const struct fields *f, struct policy_checked *out)
{
	struct policy *p = &out->policy;
	const struct policy_param_spec *ps;
	const struct ak_jv *given;
	json_error_t jerr;
	json_t *params, *v;
	int rc;

	if ((out->values = json_object()) == NULL || (params = json_object()) == NULL ||
	    (rc = set_new(out->values, "params", params)) != 0)
		return ak_error_oom();
	for (ps = f->spec->params; ps->name; ps++) {
		given = f->params ? ak_jv_get(f->params, ps->name) : NULL;
		if (given)
			v = ak_jv_to_jansson(given);
		else if ((v = json_loads(ps->def, JSON_DECODE_ANY, &jerr)) == NULL)
			return ak_error_set("%s.%s: the default %s does not load: %s",
			                    f->spec->name, ps->name, ps->def, jerr.text);
		if ((rc = set_new(params, ps->name, v)) != 0)
			return rc;
	}
	if ((rc = set_new(out->values, "cites",
	                  f->cites ? ak_jv_to_jansson(f->cites) : json_array())) != 0 ||
	    (rc = set_new(out->values, "scope",
	                  f->scope ? ak_jv_to_jansson(f->scope) : json_object())) != 0)
		return rc;
	p->spec = f->spec;
	p->params = params;
	p->cites = json_object_get(out->values, "cites");
	p->scope = json_object_get(out->values, "scope");
	p->gate = f->gate && f->gate->type == AK_JTRUE;
	p->id = strndup(f->id->u.s.ptr, f->id->u.s.len);
	p->title = strndup(f->title->u.s.ptr, f->title->u.s.len);
	p->control = strdup(f->spec->name);
	p->severity = f->severity ? strndup(f->severity->u.s.ptr, f->severity->u.s.len)
	                          : strdup("medium");
	p->path = strdup(path);
	if (!p->id || !p->title || !p->control || !p->severity || !p->path)
		return ak_error_oom();
	return 0;
}

/* Parse ck's text, reporting a syntax error with its position.
 * 0, AK_EINVALID (reported) or another code (not reported). */
static int parse(struct check *ck, struct ak_jdoc **doc, const struct ak_jv **root)
{
	char msg[512];
	const char *m, *reason;
	size_t col = 0;
	int rc;

	if ((rc = ak_jdoc_new(doc, 0)) != 0)
		return rc;
	rc = ak_json_parse(*doc, ck->text, ck->len, root);
	if (rc != AK_EINVALID && rc != AK_ETOOBIG)
		return rc;
	/* lib/jcs.h promises "column N: reason", N a 1-based byte offset. */
	snprintf(msg, sizeof(msg), "%s", ak_error_last());
	m = msg;
	reason = m;
	if (strncmp(m, "column ", 7) == 0) {
		for (m += 7; *m >= '0' && *m <= '9' && col < ck->len + 1; m++)
			col = col * 10 + (size_t)(*m - '0');
		if (strncmp(m, ": ", 2) == 0)
			reason = m + 2;
		else
			col = 0;
	}
	report(ck, col ? col - 1 : NO_POS, "%s", reason);
	return AK_EINVALID;
}

/* The result of a check, after saying how many errors were not shown. */
static int finish(struct check *ck, int rc)
{
	char msg[128];

	if (ck->dropped && !ck->stop) {
		snprintf(msg, sizeof(msg), "%d more error%s not shown", ck->dropped,
		         ck->dropped == 1 ? "" : "s");
		emit(ck, NO_POS, msg);
	}
	if (ck->stop)
		return ck->stop;
	if (rc == 0 && ck->nerrors)
		return AK_EINVALID;
	return rc;
}

int policy_file_check(const char *path, const char *text, size_t len, policy_error_cb cb, void *ctx,
                      struct policy_checked *out)
{
	struct check ck = {path, text, len, cb, ctx, 0, 0, 0};
	struct ak_jdoc *doc = NULL;
	const struct ak_jv *root;
	struct fields f = {0};
	int rc;

	if (out)
		memset(out, 0, sizeof(*out));
	if ((rc = parse(&ck, &doc, &root)) == 0) {
		check_fields(&ck, root, &f, out);
		if (ck.nerrors == 0 && !ck.stop && out)
			rc = build(path, &f, out);
	}
	ak_jdoc_free(doc);
	return finish(&ck, rc);
}

void policy_checked_clear(struct policy_checked *c)
{
	struct policy *p = &c->policy;

	free(p->id);
	free(p->title);
	free(p->control);
	free(p->severity);
	free(p->path);
	json_decref(c->values);
	free(c->id);
	memset(c, 0, sizeof(*c));
}

int policy_alerts_check(const char *path, const char *text, size_t len, policy_error_cb cb,
                        void *ctx, json_t **out)
{
	struct check ck = {path, text, len, cb, ctx, 0, 0, 0};
	struct ak_jdoc *doc = NULL;
	const struct ak_jv *root;
	int rc;

	if (out)
		*out = NULL;
	if ((rc = parse(&ck, &doc, &root)) == 0) {
		if (root->type != AK_JOBJECT)
			report(&ck, root->offset,
			       "expected an object holding the alert rules, not %s", a_type(root));
		else if (out && (*out = ak_jv_to_jansson(root)) == NULL)
			rc = ak_error_oom();
	}
	ak_jdoc_free(doc);
	return finish(&ck, rc);
}

char *policy_file_id(const char *text, size_t len)
{
	struct ak_jdoc *doc = NULL;
	const struct ak_jv *root, *id;
	char *out = NULL;

	if (ak_jdoc_new(&doc, 0) != 0)
		return NULL;
	if (ak_json_parse(doc, text, len, &root) == 0 && (id = ak_jv_get(root, "id")) != NULL &&
	    id->type == AK_JSTRING && is_id(id->u.s.ptr, id->u.s.len))
		out = strndup(id->u.s.ptr, id->u.s.len);
	ak_jdoc_free(doc);
	return out;
}
