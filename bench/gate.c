/*
 * bench/gate.c - gate decisions per second on a store, over COUNT random
 * recipients of the quarter's subject pool, next to (in the same run) the
 * SQLite point lookups of the same keys the gate's answer rests on
 * (consent of (rcpt, list), the suppression row of rcpt).
 * Prints: decisions/s in batches, lookups/s, allowed, decisions/s alone.
 * Subjects are those of bench/gen_quarter.c: u%07ld at one of four domains,
 * on one of three lists.
 * usage: gate STORE SUBJECTS [COUNT]
 */
#include "bench/args.h"
#include "evidence/evidence.h"
#include "policies/gate.h"
#include "policies/repo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *lists[] = {"newsletter", "ニュースレター", "product-updates"};
static const char *domains[] = {"example.com", "example.jp", "example.org", "example.net"};

struct key {
	char rcpt[32];
	const char *list;
};

/* COUNT random recipients of the pool and their lists, made before any
 * timing starts: the loops below time lookups, not snprintf. */
static struct key *keys_new(long n, long subjects)
{
	struct key *k = malloc((size_t)n * sizeof(*k));
	long j;

	if (k == NULL)
		return NULL;
	srand(7);
	for (j = 0; j < n; j++) {
		long i = (long)(rand() % subjects);

		snprintf(k[j].rcpt, sizeof(k[j].rcpt), "u%07ld@%s", i, domains[i % 4]);
		k[j].list = lists[i % 3];
	}
	return k;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct evidence_store *st;
	struct policy_set *set;
	struct gate *g;
	char repo[4096];
	struct key *k;
	long subjects, n, i, allowed = 0;
	double t0, t1, tg, tl;
	sqlite3_stmt *c, *s;

	if (argc < 3) {
		fprintf(stderr, "usage: gate STORE SUBJECTS [COUNT]\n");
		return 2;
	}
	subjects = (long)bench_arg(argv[2], "SUBJECTS", 1, 1000000000);
	n = argc > 3 ? (long)bench_arg(argv[3], "COUNT", 1, 1000000000) : 1000000;
	snprintf(repo, sizeof(repo), "%s/policies", argv[1]);
	if (evidence_open(&st, argv[1], EVIDENCE_READONLY) != 0 ||
	    policy_load(&set, repo, "HEAD") != 0) {
		fprintf(stderr, "cannot open %s\n", argv[1]);
		return 1;
	}
	/* The page cache the delivery engine gives its gate (akashi send). */
	gate_cache_at_least(evidence_db(st), GATE_CACHE_KIB);
	if (gate_new(&g, evidence_db(st), set) != 0) {
		fprintf(stderr, "cannot open %s\n", argv[1]);
		return 1;
	}
	if ((k = keys_new(n, subjects)) == NULL) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	/* Each check on its own (its lookups in one read transaction)... */
	t0 = now();
	for (i = 0; i < n; i++) {
		struct gate_request rq = {k[i].rcpt, k[i].list, "marketing", NULL, NULL, -1, 1, 0};
		struct gate_decision d;

		if (gate_check(g, &rq, &d) != 0)
			return 1;
		allowed += d.allow;
	}
	t1 = now() - t0;
	/* ...and in batches of 500 on one snapshot, as the delivery engine
	 * asks about a campaign's recipients. */
	t0 = now();
	for (i = 0; i < n; i++) {
		struct gate_request rq = {k[i].rcpt, k[i].list, "marketing", NULL, NULL, -1, 1, 0};
		struct gate_decision d;

		if (i % 500 == 0 && (gate_end(g), gate_begin(g)) != 0)
			return 1;
		if (gate_check(g, &rq, &d) != 0)
			return 1;
	}
	gate_end(g);
	tg = now() - t0;
	sqlite3_prepare_v2(evidence_db(st),
			   "SELECT action, time, seq, optin_seq, method, proof FROM consent_state "
			   "WHERE subject = ? AND list = ?",
			   -1, &c, NULL);
	sqlite3_prepare_v2(evidence_db(st),
			   "SELECT reason, time FROM suppression WHERE address = ? AND scope = '*'", -1,
			   &s, NULL);
	t0 = now();
	for (i = 0; i < n; i++) {
		sqlite3_bind_text(c, 1, k[i].rcpt, -1, SQLITE_STATIC);
		sqlite3_bind_text(c, 2, k[i].list, -1, SQLITE_STATIC);
		sqlite3_step(c);
		sqlite3_reset(c);
		sqlite3_bind_text(s, 1, k[i].rcpt, -1, SQLITE_STATIC);
		sqlite3_step(s);
		sqlite3_reset(s);
	}
	tl = now() - t0;
	printf("%.0f %.0f %ld %.0f\n", n / tg, n / tl, allowed, n / t1);
	sqlite3_finalize(c);
	sqlite3_finalize(s);
	free(k);
	gate_free(g);
	policy_set_free(set);
	evidence_close(st);
	return 0;
}
