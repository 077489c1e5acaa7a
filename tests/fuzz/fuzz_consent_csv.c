/*
 * tests/fuzz/fuzz_consent_csv.c - libFuzzer target for the consent CSV
 * adapter. Feeds the bytes through fmemopen() and checks what every record
 * must be whatever the input: kind "consent", a time within RFC 3339's
 * years, a body that is an object of strings and objects only (cells are
 * never numbers), a place for every record and reject.
 */
#include "auditd/ingest/consent.h"
#include "lib/error.h"
#include "lib/timefmt.h"
#include "tests/fuzz/fuzz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int only_strings_and_objects(const json_t *v)
{
	const char *key;
	json_t *item;

	if (json_is_string(v))
		return 1;
	if (!json_is_object(v) || json_object_size(v) == 0)
		return 0; /* an object of empty cells is left out, never {} */
	json_object_foreach((json_t *)v, key, item)
		if (!only_strings_and_objects(item))
			return 0;
	return 1;
}

static int on_record(void *ctx, const struct ingest_record *rec)
{
	(void)ctx;
	if (strcmp(rec->kind, "consent") != 0 || rec->body == NULL || rec->body_json != NULL ||
	    rec->where == NULL || rec->source == NULL || rec->time_us < AK_TIME_MIN_US ||
	    rec->time_us > AK_TIME_MAX_US)
		abort();
	if (json_object_size(rec->body) > 0 && !only_strings_and_objects(rec->body))
		abort();
	if (json_object_get(rec->body, "time") != NULL)
		abort(); /* the time column goes to the record, not the body */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_sink sink = {on_record, fuzz_on_reject, fuzz_on_skip, NULL};
	struct ingest_options opt;
	FILE *in;

	if (size == 0)
		return 0; /* fmemopen() refuses an empty buffer */
	in = fmemopen((void *)data, size, "r");
	if (in == NULL)
		return 0;
	memset(&opt, 0, sizeof(opt));
	opt.name = "fuzz.csv";
	opt.max_line = 512;
	if (ingest_consent_csv(in, &opt, &sink) != 0 && strstr(ak_error_last(), "fuzz.csv") == NULL)
		abort(); /* a failure names the input */
	fclose(in);
	return 0;
}
