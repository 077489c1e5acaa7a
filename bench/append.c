/*
 * bench/append.c - the store's append path alone (no parsing): N records
 * of ~300-byte bodies in batches, next to raw SQLite inserting the same
 * bytes, in the same run. usage: append N BATCH DIR [dedupe:0|1]
 */
#include "bench/args.h"
#include "evidence/evidence.h"
#include "lib/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n, batch, i, j;
	const char *dir;
	int dedupe;
	struct evidence_store *st;
	struct evidence_record *r;
	char (*bodies)[320], (*keys)[64];
	double t0;

	if (argc < 4) {
		fprintf(stderr, "usage: append N BATCH DIR [dedupe:0|1]\n");
		return 2;
	}
	n = (long)bench_arg(argv[1], "N", 1, 1000000000);
	batch = (long)bench_arg(argv[2], "BATCH", 1, 1000000);
	dir = argv[3];
	dedupe = argc > 4 ? (int)bench_arg(argv[4], "dedupe", 0, 1) : 1;
	r = calloc((size_t)batch, sizeof(*r));
	bodies = calloc((size_t)batch, 320);
	keys = calloc((size_t)batch, 64);
	if (r == NULL || bodies == NULL || keys == NULL) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	if (evidence_init(dir, "bench.example/append") != 0 || evidence_open(&st, dir, 0) != 0) {
		fprintf(stderr, "cannot make store\n");
		return 1;
	}
	t0 = now();
	for (i = 0; i < n; i += batch) {
		for (j = 0; j < batch; j++) {
			long k = i + j;

			snprintf(bodies[j], 320,
				 "{\"campaign\":\"autumn-%03ld\",\"dsn\":\"2.0.0\",\"from\":\"news@example.com\","
				 "\"list\":\"newsletter\",\"message_id\":\"<%ld@mail.example.com>\",\"rcpt\":"
				 "\"user%ld@example.org\",\"relay\":\"mx1.example.org[192.0.2.1]:25\","
				 "\"status\":\"sent\",\"stream\":\"marketing\"}",
				 k / 20000, k, k % 2000000);
			snprintf(keys[j], 64, "record\nmta\n%ld", k);
			r[j].kind = "send";
			r[j].time_us = (1782864000 + k / 10) * INT64_C(1000000);
			r[j].source = "mta:out1";
			r[j].source_len = 8;
			r[j].body = bodies[j];
			r[j].body_len = strlen(bodies[j]);
			r[j].dedupe = dedupe ? keys[j] : NULL;
			r[j].dedupe_len = dedupe ? strlen(keys[j]) : 0;
		}
		if (evidence_append(st, r, (size_t)batch, NULL, NULL) != 0) {
			fprintf(stderr, "append failed\n");
			return 1;
		}
	}
	printf("%.0f\n", n / (now() - t0));
	evidence_close(st);
	return 0;
}
