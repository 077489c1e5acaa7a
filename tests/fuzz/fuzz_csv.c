/*
 * tests/fuzz/fuzz_csv.c - libFuzzer target for lib/csv.
 *
 * Reads the input as CSV with small limits (so the limit paths are hit
 * often), and checks what the reader promises: record numbers that go up
 * by one per call, fields within the limits, NUL-terminated and free of
 * NUL, and that every accepted record survives a round trip through the
 * writer and a second reader unchanged.
 */
#include "lib/csv.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct ak_csv_limits lim = {256, 1024, 32};

/* Write the record, read it back, compare; abort() on any difference. */
static void round_trip(const struct ak_csv_field *fields, size_t n)
{
	struct ak_buf out = AK_BUF_INIT(0);
	struct ak_csv_reader r;
	const struct ak_csv_field *back;
	size_t m, i;
	FILE *in;

	if (ak_csv_write_record(&out, fields, n) != 0)
		abort();
	in = fmemopen(out.data, out.len, "r");
	if (in == NULL)
		abort();
	if (ak_csv_init(&r, in, NULL) != 0 || ak_csv_next(&r, &back, &m) != 1 || m != n)
		abort();
	for (i = 0; i < n; i++)
		if (back[i].len != fields[i].len ||
		    memcmp(back[i].ptr, fields[i].ptr, back[i].len) != 0)
			abort();
	if (ak_csv_next(&r, &back, &m) != 0)
		abort();
	ak_csv_free(&r);
	fclose(in);
	ak_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ak_csv_reader r;
	const struct ak_csv_field *fields;
	size_t n, i, total;
	unsigned long last = 0;
	FILE *in;
	int rc;

	if (size == 0)
		return 0; /* fmemopen() refuses an empty buffer */
	in = fmemopen((void *)data, size, "r");
	if (in == NULL)
		return 0;
	if (ak_csv_init(&r, in, &lim) != 0)
		abort();
	while ((rc = ak_csv_next(&r, &fields, &n)) != 0) {
		/* Record numbers only go up, and every call makes progress. */
		if (r.record != last + 1)
			abort();
		last = r.record;
		if (rc < 0)
			continue; /* refused records are skipped; the input ends the loop */
		if (n == 0 || n > lim.max_fields)
			abort();
		for (i = 0, total = 0; i < n; i++) {
			if (fields[i].len > lim.max_field || fields[i].ptr[fields[i].len] != '\0' ||
			    memchr(fields[i].ptr, '\0', fields[i].len) != NULL)
				abort();
			total += fields[i].len;
		}
		if (total > lim.max_record)
			abort();
		round_trip(fields, n);
	}
	ak_csv_free(&r);
	fclose(in);
	return 0;
}
