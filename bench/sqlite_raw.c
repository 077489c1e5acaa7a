/*
 * bench/sqlite_raw.c - the baseline for bench/ingest: raw SQLite storing
 * the same entry bytes, one line each, into a plain table, in transactions
 * of BATCH rows, WAL mode, synchronous=FULL (durable like akashi), SQLite's
 * default page size. No parsing, hashing, dedupe or indexing: the floor
 * akashi's ingest is compared with.
 * usage: sqlite_raw FILE.jsonl DB BATCH   (prints rows per second)
 */
#include "bench/args.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
	FILE *f;
	sqlite3 *db;
	sqlite3_stmt *st;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long rows = 0, batch;
	struct timespec a, b;

	if (argc != 4) {
		fprintf(stderr, "usage: sqlite_raw FILE DB BATCH\n");
		return 2;
	}
	batch = (long)bench_arg(argv[3], "BATCH", 1, 1000000);
	f = fopen(argv[1], "r");
	if (f == NULL || sqlite3_open(argv[2], &db) != SQLITE_OK) {
		fprintf(stderr, "cannot open\n");
		return 1;
	}
	sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "CREATE TABLE t(b BLOB NOT NULL)", NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?)", -1, &st, NULL);
	clock_gettime(CLOCK_MONOTONIC, &a);
	while ((n = getline(&line, &cap, f)) > 0) {
		if (rows % batch == 0)
			sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		sqlite3_bind_blob(st, 1, line, (int)(n - (line[n - 1] == '\n')), SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			fprintf(stderr, "insert: %s\n", sqlite3_errmsg(db));
			return 1;
		}
		sqlite3_reset(st);
		if (++rows % batch == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			fprintf(stderr, "commit: %s\n", sqlite3_errmsg(db));
			return 1;
		}
	}
	if (rows % batch)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.0f\n", rows / ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9));
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(line);
	fclose(f);
	return 0;
}
