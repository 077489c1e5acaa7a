/*
 * tests/fuzz/fuzz_postfix.c - libFuzzer target for the Postfix maillog
 * adapter: the input bytes are a maillog. Small limits (line length, live
 * queue ids, state bytes) so eviction and long-line paths are reached with
 * small inputs; a zone with DST for inputs of odd length, so skipped and
 * repeated local times are reached, UTC (no time-zone database, faster)
 * for the others.
 *
 * Besides the sanitizers, it checks what the adapter promises: every body
 * is a JSON object of strings and integers only, serialisable (valid
 * UTF-8), and every time is an instant that can be formatted.
 */
#include "auditd/ingest/postfix.h"
#include "lib/timefmt.h"
#include "tests/fuzz/fuzz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_record(void *ctx, const struct ingest_record *r)
{
	const char *key;
	json_t *v;
	char *text;
	char t[AK_TIME_MAX];

	(void)ctx;
	if (!json_is_object(r->body) || r->event_id == NULL || r->where == NULL ||
	    r->source == NULL)
		abort();
	json_object_foreach(r->body, key, v)
	{
		if (!json_is_string(v) && !json_is_integer(v))
			abort();
	}
	text = json_dumps(r->body, JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL)
		abort();
	free(text);
	if (ak_time_format(t, r->time_us, AK_TIME_AUTO) <= 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_sink sink = {on_record, fuzz_on_reject, fuzz_on_skip, NULL};
	struct ingest_options opt = {0};
	struct postfix_limits lim = {8, 4096};
	FILE *f;

	if (size == 0)
		return 0; /* fmemopen refuses an empty buffer */
	f = fmemopen((void *)data, size, "rb");
	if (f == NULL)
		return 0;
	opt.name = "fuzz";
	opt.zone = size % 2 ? "America/New_York" : "UTC";
	opt.ref_us = INT64_C(1795392000) * 1000000; /* 2026-11-22T00:00:00Z */
	opt.max_line = 4096;
	ingest_postfix_limited(f, &opt, &sink, &lim);
	fclose(f);
	return 0;
}
