/*
 * tests/fuzz/fuzz_native.c - native JSON Lines through the ingest
 * pipeline's first phase: line splitting, strict JSON, the top-level
 * members, and every kind's body rules and normalisation, in memory (no
 * store). Checked: each line is counted once; every record has a known
 * kind, a time in range, a source, and a body in canonical form; the same
 * input gives the same records byte for byte.
 */
#include "auditd/ingest/kinds.h"
#include "auditd/ingest/pipeline.h"
#include "lib/jcs.h"
#include "lib/timefmt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Phase 1 of a memory pipeline over the input; the records accepted. */
static int run(const uint8_t *data, size_t size, struct ingest_batch *b, struct ingest_counts *c)
{
	struct ingest_pipeline_opts po = {0};
	struct ingest_options o = {0};
	struct ingest_pipeline *p = NULL;
	FILE *in = fmemopen((void *)data, size, "rb");
	int rc = -1;

	memset(b, 0, sizeof(*b));
	if (in == NULL)
		return -1;
	po.memory = 1;
	po.skip_invalid = 1;
	o.name = "fuzz";
	o.max_line = 65536;
	if (ingest_pipeline_new(&p, NULL, &po) == 0) {
		ingest_native(in, &o, p);
		ingest_pipeline_counts(p, c);
		rc = ingest_pipeline_take(p, b);
		ingest_pipeline_free(p);
	}
	fclose(in);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_batch b, again;
	struct ingest_counts c, c2;
	struct ak_buf canon = AK_BUF_INIT(0);
	size_t i, lines = 1;

	if (size == 0 || run(data, size, &b, &c) != 0)
		return 0;
	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	/* Every line is a record, a reject or nothing (blank) — once. */
	if (b.n != c.records || c.records + c.rejected > lines)
		abort();
	for (i = 0; i < b.n; i++) {
		const struct evidence_record *r = &b.recs[i];

		/* A known kind, a time in range, a source, a body already in
		 * canonical form (what is hashed is what a verifier recomputes). */
		if (!ingest_kind_known(r->kind) || r->time_us < AK_TIME_MIN_US ||
		    r->time_us > AK_TIME_MAX_US || r->source_len == 0)
			abort();
		ak_buf_reset(&canon);
		if (ak_jcs_canonicalize(&canon, r->body, r->body_len) != 0 ||
		    canon.len != r->body_len || memcmp(canon.data, r->body, r->body_len) != 0)
			abort();
	}
	/* The same input gives the same records, byte for byte. */
	if (run(data, size, &again, &c2) == 0) {
		if (again.n != b.n || again.len != b.len || memcmp(again.data, b.data, b.len) != 0)
			abort();
		ingest_batch_free(&again);
	}
	ak_buf_free(&canon);
	ingest_batch_free(&b);
	return 0;
}
