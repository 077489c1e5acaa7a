/*
 * tests/fuzz/fuzz_native.c - native JSON Lines through the ingest
 * pipeline's first phase: line splitting, strict JSON, the top-level
 * members, and every kind's body rules and normalisation. Nothing is
 * appended (no store); the spool goes to /tmp.
 */
#include "auditd/ingest/pipeline.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_pipeline_opts po = {0};
	struct ingest_options o = {0};
	struct ingest_pipeline *p = NULL;
	struct ingest_counts c;
	FILE *in = fmemopen((void *)data, size, "rb");

	if (in == NULL)
		return 0;
	po.spool_dir = "/tmp";
	po.skip_invalid = 1;
	o.name = "fuzz";
	o.max_line = 65536;
	if (ingest_pipeline_new(&p, NULL, &po) == 0) {
		ingest_native(in, &o, p);
		ingest_pipeline_counts(p, &c);
		/* every line is accounted for exactly once */
		if (c.records + c.rejected > size + 1)
			abort();
		ingest_pipeline_free(p);
	}
	fclose(in);
	return 0;
}
