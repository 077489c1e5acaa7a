/*
 * bench/dmarc_bench.c - ingest one DMARC input with a sink that only
 * counts, and print the rate: what bench/dmarc.sh compares with xmllint.
 *
 * usage: dmarc_bench FILE   prints "records rows_bytes seconds"
 */
#include "auditd/ingest/dmarc.h"
#include "lib/error.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

struct tally {
	size_t records, body_bytes, rejects;
};

static int on_record(void *ctx, const struct ingest_record *rec)
{
	struct tally *t = ctx;

	t->records++;
	t->body_bytes += rec->body_json_len;
	return 0;
}

static int on_reject(void *ctx, const char *where, const char *reason, const char *raw, size_t n)
{
	struct tally *t = ctx;

	(void)raw, (void)n;
	t->rejects++;
	fprintf(stderr, "reject: %s: %s\n", where, reason);
	return 0;
}

static void on_skip(void *ctx, const char *where, const char *why)
{
	(void)ctx, (void)where, (void)why;
}

int main(int argc, char **argv)
{
	struct tally t = {0, 0, 0};
	struct ingest_sink sink = {on_record, on_reject, on_skip, &t};
	struct ingest_options opt;
	struct timespec a, b;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: dmarc_bench FILE\n");
		return 2;
	}
	memset(&opt, 0, sizeof(opt));
	clock_gettime(CLOCK_MONOTONIC, &a);
	rc = ingest_dmarc_path(argv[1], &opt, &sink);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (rc != 0 || t.rejects || t.records != 1) {
		fprintf(stderr, "dmarc_bench: rc %d: %s\n", rc, ak_error_last());
		return 1;
	}
	printf("%zu %zu %.3f\n", t.records, t.body_bytes,
	       (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
