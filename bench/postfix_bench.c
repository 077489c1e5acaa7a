/*
 * bench/postfix_bench.c - throughput of the Postfix maillog adapter alone:
 * parse, join and build every record body (jansson), with a sink that only
 * counts. Built and run by bench/postfix-ingest.sh.
 *
 * usage: postfix_bench MAILLOG
 * prints "records N skips N rejects N seconds WALL cpu CPU": CPU is the
 * process's own CPU time, the figure to read on a shared, busy machine.
 */
#include "auditd/ingest/postfix.h"
#include "lib/error.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static unsigned long records, skips, rejects;

static int on_record(void *ctx, const struct ingest_record *r)
{
	(void)ctx;
	records += json_object_size(r->body) > 0;
	return 0;
}

static int on_reject(void *ctx, const char *where, const char *why, const char *raw, size_t len)
{
	(void)ctx, (void)where, (void)why, (void)raw, (void)len;
	rejects++;
	return 0;
}

static void on_skip(void *ctx, const char *where, const char *why)
{
	(void)ctx, (void)where, (void)why;
	skips++;
}

int main(int argc, char **argv)
{
	struct ingest_sink sink = {on_record, on_reject, on_skip, NULL};
	struct ingest_options opt;
	struct timespec t0, t1, c0, c1;
	FILE *f;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: postfix_bench MAILLOG\n");
		return 2;
	}
	f = fopen(argv[1], "rb");
	if (f == NULL) {
		perror(argv[1]);
		return 1;
	}
	memset(&opt, 0, sizeof(opt));
	opt.name = argv[1];
	opt.zone = "Asia/Tokyo";
	opt.year = 2026;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	rc = ingest_postfix(f, &opt, &sink);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fclose(f);
	if (rc != 0) {
		fprintf(stderr, "postfix_bench: %s\n", ak_error_last());
		return 1;
	}
	printf("records %lu skips %lu rejects %lu seconds %.3f cpu %.3f\n", records, skips, rejects,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9);
	return 0;
}
