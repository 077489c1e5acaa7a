/*
 * bench/args.h - numeric arguments of the benchmark tools, read one way:
 * a whole decimal number within [min, max], or the tool stops with the
 * argument named (a typo must not become a benchmark of 0 entries).
 */
#ifndef BENCH_ARGS_H
#define BENCH_ARGS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static inline long long bench_arg(const char *s, const char *what, long long min, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "%s: '%s' is not a whole number from %lld to %lld\n", what, s, min,
			max);
		exit(2);
	}
	return v;
}

#endif
