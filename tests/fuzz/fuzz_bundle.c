/*
 * tests/fuzz/fuzz_bundle.c - libFuzzer target for the evidence bundle
 * reader: bundle_verify() on arbitrary bytes, which libarchive takes as a
 * zip or a (gzip-compressed) tar. Small limits keep every input fast.
 * Whatever the input, the verifier must return 0 (all holds) or
 * AK_ETAMPERED (problems found), or AK_ENOMEM; report at least one problem
 * exactly when it does not return 0; and never report an empty problem.
 * The seed corpus holds real bundles (zip and tar.gz, with inclusion and
 * range proofs) and damaged ones.
 */
#include "reports/bundle.h"
#include "lib/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	int64_t calls;
};

static void on_problem(void *ctx, const char *problem)
{
	struct seen *s = ctx;

	if (problem == NULL || problem[0] == '\0')
		abort();
	s->calls++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle_source src = {NULL, data, size};
	struct bundle_limits lim = {(uint64_t)4 << 20, 256, (size_t)1 << 20, (size_t)1 << 16};
	struct bundle_verify_result res;
	struct seen seen = {0};
	int rc;

	rc = bundle_verify(&src, &lim, on_problem, &seen, &res);
	if (rc == AK_ENOMEM)
		return 0;
	if (rc != 0 && rc != AK_ETAMPERED)
		abort();
	if ((rc == 0) != (res.problems == 0) || (rc == 0) != (seen.calls == 0))
		abort();
	if (seen.calls > res.problems + 1)
		abort();
	if (rc == 0 && (res.tree_size <= 0 || res.entries < 0 || res.files <= 0))
		abort();
	/* A bundle that verifies proves entries inside its tree. */
	if (rc == 0 && res.entries > 0 &&
	    (res.first_seq < 1 || res.last_seq < res.first_seq || res.last_seq > res.tree_size))
		abort();
	/* The same bytes always get the same verdict. */
	{
		struct bundle_verify_result again;
		struct seen seen2 = {0};
		int rc2 = bundle_verify(&src, &lim, on_problem, &seen2, &again);

		if (rc2 != AK_ENOMEM && (rc2 != rc || again.problems != res.problems ||
		                         again.entries != res.entries ||
		                         memcmp(again.root, res.root, sizeof(res.root)) != 0))
			abort();
	}
	return 0;
}
