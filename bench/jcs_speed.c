/*
 * bench/jcs_speed.c - how many typical JSON Lines records per second one
 * core parses and canonicalizes, next to jansson's json_loads on the same
 * line in the same run (the baseline this module exists to beat).
 *
 * usage: jcs_speed [SECONDS_PER_CASE]   (built with -O2 by bench/jcs_speed.sh)
 */
#include "lib/buf.h"
#include "lib/error.h"
#include "lib/jcs.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char line[] =
        "{\"kind\":\"send\",\"time\":\"2026-11-21T23:00:00Z\",\"source\":\"api:crm\",\"body\":"
        "{\"message_id\":\"<abc123@example.com>\",\"campaign\":\"c-2026-11\",\"stream\":"
        "\"marketing\",\"from\":\"news@example.com\",\"rcpt\":\"user123@example.org\",\"status\":"
        "\"sent\",\"dsn\":\"2.0.0\",\"relay\":\"mx.example.org[192.0.2.1]:25\",\"gate\":"
        "{\"decision\":\"allow\",\"reasons\":[]}}}";

/* CPU time of this thread: on a shared machine, time spent waiting for a
 * core is not the code's. */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Calls per second of fn: the best of several rounds lasting about
 * `seconds` in all, so a burst of interference does not count. */
static double rate(int (*fn)(void *), void *ctx, double seconds)
{
	double best = 0, t0, t, end = now() + seconds;
	long n = 1000, i;

	do {
		t0 = now();
		for (i = 0; i < n; i++)
			if (fn(ctx) != 0) {
				fprintf(stderr, "failed: %s\n", ak_error_last());
				exit(1);
			}
		t = now() - t0;
		if (t > 0 && (double)n / t > best)
			best = (double)n / t;
		if (t < 0.05)
			n *= 2; /* rounds long enough to time */
	} while (now() < end);
	return best;
}

struct reuse {
	struct ak_jdoc *doc;
	struct ak_buf out;
};

static int parse_write(void *ctx)
{
	struct reuse *r = ctx;
	const struct ak_jv *v;
	int rc;

	ak_buf_reset(&r->out);
	rc = ak_json_parse(r->doc, line, sizeof(line) - 1, &v);
	return rc ? rc : ak_jcs_write(&r->out, v);
}

static int canonicalize(void *ctx)
{
	struct reuse *r = ctx;

	ak_buf_reset(&r->out);
	return ak_jcs_canonicalize(&r->out, line, sizeof(line) - 1);
}

static int jansson_loads(void *ctx)
{
	json_error_t err;
	json_t *j = json_loadb(line, sizeof(line) - 1, 0, &err);

	(void)ctx;
	if (j == NULL)
		return -1;
	json_decref(j);
	return 0;
}

static int jansson_loads_canon(void *ctx)
{
	struct reuse *r = ctx;
	json_error_t err;
	json_t *j = json_loadb(line, sizeof(line) - 1, 0, &err);
	int rc;

	if (j == NULL)
		return -1;
	ak_buf_reset(&r->out);
	rc = ak_jcs_write_jansson(&r->out, j);
	json_decref(j);
	return rc;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	struct reuse r;

	if (ak_jdoc_new(&r.doc, 0) != 0)
		return 1;
	ak_buf_init(&r.out, 0);
	if (parse_write(&r) != 0)
		return 1;
	printf("line: %zu bytes\ncanonical: %s\n", sizeof(line) - 1, r.out.data);
	printf("ak_json_parse + ak_jcs_write (reused doc): %10.0f /s\n",
	       rate(parse_write, &r, secs));
	printf("ak_jcs_canonicalize:                       %10.0f /s\n",
	       rate(canonicalize, &r, secs));
	printf("jansson json_loadb (baseline):             %10.0f /s\n",
	       rate(jansson_loads, &r, secs));
	printf("json_loadb + ak_jcs_write_jansson:         %10.0f /s\n",
	       rate(jansson_loads_canon, &r, secs));
	ak_buf_free(&r.out);
	ak_jdoc_free(r.doc);
	return 0;
}
