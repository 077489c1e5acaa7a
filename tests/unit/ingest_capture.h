/*
 * tests/unit/ingest_capture.h - a sink for adapter tests that keeps
 * everything an adapter hands over, as JSON, so a test can compare it with
 * an expected document exactly:
 *
 *   {"records":[{"kind":..,"time":"2026-...Z","source":..,"event_id":..,
 *                "where":..,"body":{...}}, ...],
 *    "rejects":[{"where":..,"reason":..,"raw":..}, ...],
 *    "skips":[{"where":..,"why":..}, ...]}
 *
 * ("event_id" and "raw" only when the adapter gave them; times in RFC 3339
 * so expected files read like the entries they become). Bodies are deep
 * copies, so adapters may free theirs after record() returns, and are
 * checked to hold no real numbers (entries never do).
 *
 * Golden files: capture_check_golden() compares with PATH.expected.json;
 * with AK_UPDATE_GOLDEN=1 in the environment it writes that file instead
 * (review the diff before committing it).
 */
#ifndef TESTS_UNIT_INGEST_CAPTURE_H
#define TESTS_UNIT_INGEST_CAPTURE_H

#include "tests/unit/unit.h"

#include "auditd/ingest/ingest.h"
#include "lib/error.h"
#include "lib/timefmt.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct capture {
	json_t *doc;       /* {"records":[],"rejects":[],"skips":[]} */
	size_t stop_after; /* record() fails after this many records; 0: never */
	int stop_code;     /* ...returning this (0: AK_ERROR) */
	size_t nrecords;
};

static inline int capture_no_reals(const json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;

	if (json_is_real(v))
		return 0;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, item)
			if (!capture_no_reals(item))
				return 0;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, item)
			if (!capture_no_reals(item))
				return 0;
	}
	return 1;
}

static inline int capture_record(void *ctx, const struct ingest_record *rec)
{
	struct capture *cap = ctx;
	char t[AK_TIME_MAX];
	json_t *r;

	if (cap->stop_after && cap->nrecords >= cap->stop_after)
		return ak_error_code(cap->stop_code ? cap->stop_code : AK_ERROR, "sink: stop");
	cap->nrecords++;
	assert_non_null(rec->kind);
	assert_non_null(rec->source);
	assert_non_null(rec->where);
	assert_non_null(rec->body); /* these adapters build bodies, never body_json */
	assert_null(rec->body_json);
	assert_true(json_is_object(rec->body));
	assert_true(capture_no_reals(rec->body));
	assert_true(ak_time_format(t, rec->time_us, AK_TIME_AUTO) > 0);
	r = json_pack("{s:s, s:s, s:s, s:s, s:o}", "kind", rec->kind, "time", t, "source",
		      rec->source, "where", rec->where, "body", json_deep_copy(rec->body));
	assert_non_null(r);
	if (rec->event_id)
		json_object_set_new(r, "event_id", json_string(rec->event_id));
	json_array_append_new(json_object_get(cap->doc, "records"), r);
	return 0;
}

static inline int capture_reject(void *ctx, const char *where, const char *reason,
				 const char *raw, size_t raw_len)
{
	struct capture *cap = ctx;
	json_t *r = json_pack("{s:s, s:s}", "where", where, "reason", reason);

	assert_non_null(r);
	if (raw) {
		/* Raw text may be anything; JSON needs UTF-8, so show it as
		 * jansson would accept it or mark it. */
		json_t *s = json_stringn(raw, raw_len);

		json_object_set_new(r, "raw", s ? s : json_string("(not UTF-8)"));
	}
	json_array_append_new(json_object_get(cap->doc, "rejects"), r);
	return 0;
}

static inline void capture_skip(void *ctx, const char *where, const char *why)
{
	struct capture *cap = ctx;

	json_array_append_new(json_object_get(cap->doc, "skips"),
			      json_pack("{s:s, s:s}", "where", where, "why", why));
}

static inline void capture_init(struct capture *cap, struct ingest_sink *sink)
{
	memset(cap, 0, sizeof(*cap));
	cap->doc = json_pack("{s:[], s:[], s:[]}", "records", "rejects", "skips");
	assert_non_null(cap->doc);
	sink->record = capture_record;
	sink->reject = capture_reject;
	sink->skip = capture_skip;
	sink->ctx = cap;
}

static inline void capture_free(struct capture *cap)
{
	json_decref(cap->doc);
	cap->doc = NULL;
}

/* Compare the capture with the JSON text want (a whole document, or just
 * {"records":...} / {"rejects":...}: members left out of want must be
 * empty). Both are shown, sorted and indented, when they differ. */
static inline void capture_expect(const struct capture *cap, const char *want_text)
{
	json_error_t err;
	json_t *want = json_loads(want_text, JSON_REJECT_DUPLICATES, &err), *got;
	char *a, *b;

	if (want == NULL)
		fail_msg("expected JSON does not parse: line %d: %s", err.line, err.text);
	got = json_deep_copy(cap->doc);
	if (json_object_get(want, "records") == NULL)
		json_object_set_new(want, "records", json_array());
	if (json_object_get(want, "rejects") == NULL)
		json_object_set_new(want, "rejects", json_array());
	if (json_object_get(want, "skips") == NULL)
		json_object_set_new(want, "skips", json_array());
	a = json_dumps(want, JSON_SORT_KEYS | JSON_INDENT(1) | JSON_ENSURE_ASCII);
	b = json_dumps(got, JSON_SORT_KEYS | JSON_INDENT(1) | JSON_ENSURE_ASCII);
	if (!json_equal(want, got))
		assert_string_equal(b, a);
	free(a);
	free(b);
	json_decref(want);
	json_decref(got);
}

/* Read a whole (small) file into a NUL-terminated string; free() it. */
static inline char *capture_slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

/* Compare the capture with the file golden, or write it when
 * AK_UPDATE_GOLDEN is set. */
static inline void capture_check_golden(const struct capture *cap, const char *golden)
{
	const char *update = getenv("AK_UPDATE_GOLDEN");
	char *want;

	if (update && strcmp(update, "1") == 0) {
		assert_int_equal(json_dump_file(cap->doc, golden,
						JSON_SORT_KEYS | JSON_INDENT(2)),
				 0);
		return;
	}
	want = capture_slurp(golden);
	capture_expect(cap, want);
	free(want);
}

#endif
