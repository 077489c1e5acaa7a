/*
 * bench/prove.c - inclusion proofs on a store: time per proof over random
 * seqs (in-process: opening the store is not counted), and as the
 * baseline, in the same run, one SQLite point lookup of an entry by seq.
 * usage: prove STORE [COUNT]
 */
#include "bench/args.h"
#include "evidence/evidence.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct evidence_store *st;
	int n = argc > 2 ? (int)bench_arg(argv[2], "COUNT", 1, 100000000) : 1000, i;
	double *t = calloc((size_t)n, sizeof(*t)), t0, sum = 0, look = 0;
	int64_t size;
	unsigned char(*path)[EVIDENCE_HASH_LEN], leaf[32];
	size_t len;
	sqlite3_stmt *s;

	if (evidence_open(&st, argv[1], EVIDENCE_READONLY) != 0 || evidence_size(st, &size) != 0) {
		fprintf(stderr, "cannot open %s\n", argv[1]);
		return 1;
	}
	srand(42);
	for (i = 0; i < n; i++) {
		int64_t seq = 1 + (int64_t)((double)rand() / RAND_MAX * (double)(size - 1));

		t0 = now();
		if (evidence_prove_inclusion(st, seq, size, leaf, &path, &len) != 0) {
			fprintf(stderr, "prove %lld failed\n", (long long)seq);
			return 1;
		}
		t[i] = (now() - t0) * 1000;
		sum += t[i];
		free(path);
	}
	sqlite3_prepare_v2(evidence_db(st), "SELECT bytes FROM entries WHERE seq = ?", -1, &s, NULL);
	for (i = 0; i < n; i++) {
		sqlite3_bind_int64(s, 1, 1 + rand() % size);
		t0 = now();
		sqlite3_step(s);
		look += now() - t0;
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	qsort(t, (size_t)n, sizeof(*t), cmp);
	printf("%.3f %.3f %.3f %.4f\n", sum / n, t[n / 2], t[n * 99 / 100], look * 1000 / n);
	evidence_close(st);
	free(t);
	return 0;
}
