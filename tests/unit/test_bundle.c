/*
 * tests/unit/test_bundle.c - range proofs of evidence bundles against an
 * independent recomputation: for every (size, A, B) up to a size of 70 and
 * for boundary and random ranges of larger trees, the proof built from two
 * RFC 9162 audit paths must equal the outside-subtree hashes found by
 * walking a whole in-memory tree, and pushing the range's leaves through
 * the checker must give the tree's root. Any changed, missing, extra or
 * reordered leaf or proof hash must not. Then bundle_export() and
 * bundle_verify() on a small store: the policy hook's files arrive under
 * policies/, a bad hook fails the export and leaves nothing behind.
 */
#include "tests/unit/unit.h"

#include "reports/bundle_int.h"
#include "lib/error.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXN 5000

#define LEVELS 13 /* 2^12 < MAXN < 2^13 */

static struct evidence_hasher *H;
static unsigned char leaves[MAXN][32];
/* tiles[k][i]: MTH of the aligned complete subtree [i * 2^k, (i + 1) * 2^k),
 * so that the reference need not rehash whole trees again and again. */
static unsigned char tiles[LEVELS][MAXN][32];

static int setup(void **state)
{
	size_t i, k;

	(void)state;
	if (evidence_hasher_new(&H) != 0)
		return -1;
	for (i = 0; i < MAXN; i++) {
		unsigned char b[8];
		int j;

		for (j = 0; j < 8; j++)
			b[j] = (unsigned char)(i >> (8 * j));
		evidence_leaf_hash(H, b, sizeof(b), leaves[i]);
		memcpy(tiles[0][i], leaves[i], 32);
	}
	for (k = 1; k < LEVELS; k++)
		for (i = 0; (i + 1) << k <= MAXN; i++)
			evidence_node_hash(H, tiles[k - 1][2 * i], tiles[k - 1][2 * i + 1],
					   tiles[k][i]);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	evidence_hasher_free(H);
	return 0;
}

/* ---- the reference: plain recursion over the whole tree ---- */

static uint64_t ref_split(uint64_t n)
{
	uint64_t k = 1;

	while (2 * k < n)
		k *= 2;
	return k;
}

static void ref_mth(uint64_t lo, uint64_t hi, unsigned char out[32])
{
	unsigned char l[32], r[32];
	uint64_t k, n = hi - lo;
	int lv = 0;

	if ((n & (n - 1)) == 0 && lo % n == 0) {
		while ((UINT64_C(1) << lv) < n)
			lv++;
		memcpy(out, tiles[lv][lo / n], 32);
		return;
	}
	k = ref_split(n);
	ref_mth(lo, lo + k, l);
	ref_mth(lo + k, hi, r);
	evidence_node_hash(H, l, r, out);
}

/* RFC 9162 2.1.3.1 PATH(m, D[lo:hi]), leaf side first. */
static void ref_path(uint64_t m, uint64_t lo, uint64_t hi, unsigned char (*p)[32], size_t *n)
{
	uint64_t k;

	if (hi - lo <= 1)
		return;
	k = ref_split(hi - lo);
	if (m < k) {
		ref_path(m, lo, lo + k, p, n);
		ref_mth(lo + k, hi, p[(*n)++]);
	} else {
		ref_path(m - k, lo + k, hi, p, n);
		ref_mth(lo, lo + k, p[(*n)++]);
	}
}

/* The hashes of the subtrees outside [a, b), left to right. */
static void ref_range(uint64_t lo, uint64_t hi, uint64_t a, uint64_t b, unsigned char (*p)[32],
		      size_t *n)
{
	uint64_t k;

	if (hi <= a || lo >= b) {
		ref_mth(lo, hi, p[(*n)++]);
		return;
	}
	if (a <= lo && hi <= b)
		return;
	k = ref_split(hi - lo);
	ref_range(lo, lo + k, a, b, p, n);
	ref_range(lo + k, hi, a, b, p, n);
}

/* Build from paths, compare with the reference, check the root. */
static void one(uint64_t size, uint64_t a, uint64_t b)
{
	unsigned char pa[64][32], pb[64][32], want[BUNDLE_RANGE_MAX][32], got[BUNDLE_RANGE_MAX][32];
	unsigned char root[32], mth[32];
	size_t na = 0, nb = 0, nw = 0, ng = 0;
	struct bundle_range_check *c = malloc(sizeof(*c));
	uint64_t i;

	assert_non_null(c);
	ref_path(a, 0, size, pa, &na);
	ref_path(b - 1, 0, size, pb, &nb);
	ref_range(0, size, a, b, want, &nw);
	assert_int_equal(bundle_range_from_paths(size, a, b, (const unsigned char(*)[32])pa, na,
						 (const unsigned char(*)[32])pb, nb, got, &ng),
			 0);
	if (ng != nw || memcmp(got, want, nw * 32) != 0)
		fail_msg("size %llu range [%llu, %llu): proof differs from the reference",
			 (unsigned long long)size, (unsigned long long)a, (unsigned long long)b);
	assert_int_equal(bundle_range_proof_len(size, a, b), nw);
	assert_int_equal(bundle_range_check_init(c, H, size, a, b, (const unsigned char(*)[32])got,
						 ng),
			 0);
	for (i = a; i < b; i++)
		assert_int_equal(bundle_range_check_push(c, leaves[i]), 0);
	assert_int_equal(bundle_range_check_root(c, root), 0);
	ref_mth(0, size, mth);
	if (memcmp(root, mth, 32) != 0)
		fail_msg("size %llu range [%llu, %llu): root differs", (unsigned long long)size,
			 (unsigned long long)a, (unsigned long long)b);
	free(c);
}

static void test_bundle__range_proof_every_range_up_to_70(void **state)
{
	uint64_t n, a, b;

	(void)state;
	for (n = 1; n <= 70; n++)
		for (a = 0; a < n; a++)
			for (b = a + 1; b <= n; b++)
				one(n, a, b);
}

static void test_bundle__range_proof_boundaries_of_large_trees(void **state)
{
	static const uint64_t sizes[] = {255, 256, 257, 1023, 1024, 1025, 4095, 4096, 4097, MAXN};
	size_t i;
	uint64_t n, j;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		n = sizes[i];
		one(n, 0, n);           /* everything: no proof hashes */
		one(n, 0, 1);           /* first leaf only */
		one(n, n - 1, n);       /* last leaf only */
		one(n, 1, n);           /* all but the first */
		one(n, 0, n - 1);       /* all but the last */
		for (j = 1; j < n; j *= 2) { /* around powers of two */
			one(n, j - 1, j + 1 <= n ? j + 1 : n);
			one(n, 0, j);
			one(n, j, n);
		}
	}
}

static void test_bundle__range_proof_random_ranges(void **state)
{
	uint64_t s = 88172645463325252ULL;
	int t;

	(void)state;
	for (t = 0; t < 300; t++) {
		uint64_t n, a, b;

		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		n = 1 + s % MAXN;
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		a = s % n;
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		b = a + 1 + s % (n - a);
		one(n, a, b);
	}
}

/* Root of [a, b) of size with one leaf or proof hash changed. */
static int root_with(uint64_t size, uint64_t a, uint64_t b, uint64_t bad_leaf, size_t bad_proof,
		     unsigned char root[32])
{
	unsigned char p[BUNDLE_RANGE_MAX][32], x[32];
	size_t n = 0;
	struct bundle_range_check *c = malloc(sizeof(*c));
	uint64_t i;
	int rc;

	ref_range(0, size, a, b, p, &n);
	if (bad_proof < n)
		p[bad_proof][5] ^= 1;
	rc = bundle_range_check_init(c, H, size, a, b, (const unsigned char(*)[32])p, n);
	for (i = a; rc == 0 && i < b; i++) {
		memcpy(x, leaves[i], 32);
		if (i == bad_leaf)
			x[0] ^= 0x80;
		rc = bundle_range_check_push(c, x);
	}
	if (rc == 0)
		rc = bundle_range_check_root(c, root);
	free(c);
	return rc;
}

static void test_bundle__range_proof_refuses_changes(void **state)
{
	unsigned char root[32], mth[32];
	uint64_t n = 1000, a = 100, b = 700, i;
	size_t k, np = bundle_range_proof_len(n, a, b);

	(void)state;
	ref_mth(0, n, mth);
	assert_int_equal(root_with(n, a, b, UINT64_MAX, SIZE_MAX, root), 0);
	assert_memory_equal(root, mth, 32);
	for (i = a; i < b; i += 37) {
		assert_int_equal(root_with(n, a, b, i, SIZE_MAX, root), 0);
		assert_memory_not_equal(root, mth, 32);
	}
	assert_true(np > 0);
	for (k = 0; k < np; k++) {
		assert_int_equal(root_with(n, a, b, UINT64_MAX, k, root), 0);
		assert_memory_not_equal(root, mth, 32);
	}
}

static void test_bundle__range_proof_refuses_missing_or_extra_leaves(void **state)
{
	unsigned char p[BUNDLE_RANGE_MAX][32], root[32], mth[32];
	struct bundle_range_check *c = malloc(sizeof(*c));
	size_t n = 0;
	uint64_t i;

	(void)state;
	ref_range(0, 300, 10, 20, p, &n);
	/* One hash short or one too many: refused before any leaf. */
	assert_int_equal(bundle_range_check_init(c, H, 300, 10, 20, (const unsigned char(*)[32])p,
						 n - 1),
			 AK_EINVALID);
	assert_int_equal(bundle_range_check_init(c, H, 300, 10, 20, (const unsigned char(*)[32])p,
						 n + 1),
			 AK_EINVALID);
	/* A leaf missing. */
	assert_int_equal(bundle_range_check_init(c, H, 300, 10, 20, (const unsigned char(*)[32])p,
						 n),
			 0);
	for (i = 10; i < 19; i++)
		assert_int_equal(bundle_range_check_push(c, leaves[i]), 0);
	assert_int_equal(bundle_range_check_root(c, root), AK_EINVALID);
	/* One leaf too many. */
	assert_int_equal(bundle_range_check_push(c, leaves[19]), 0);
	assert_int_equal(bundle_range_check_push(c, leaves[20]), AK_EINVALID);
	/* Two leaves swapped. */
	assert_int_equal(bundle_range_check_init(c, H, 300, 10, 20, (const unsigned char(*)[32])p,
						 n),
			 0);
	for (i = 10; i < 20; i++)
		assert_int_equal(bundle_range_check_push(c, leaves[i == 12 ? 13 : i == 13 ? 12 : i]),
				 0);
	assert_int_equal(bundle_range_check_root(c, root), 0);
	ref_mth(0, 300, mth);
	assert_memory_not_equal(root, mth, 32);
	/* Leaves [0, 1) shifted by one: the same count, the wrong leaves. */
	n = 0;
	ref_range(0, 300, 0, 1, p, &n);
	assert_int_equal(bundle_range_check_init(c, H, 300, 0, 1, (const unsigned char(*)[32])p,
						 n),
			 0);
	assert_int_equal(bundle_range_check_push(c, leaves[1]), 0);
	assert_int_equal(bundle_range_check_root(c, root), 0);
	assert_memory_not_equal(root, mth, 32);
	free(c);
}

static void test_bundle__range_from_paths_refuses_bad_paths(void **state)
{
	unsigned char pa[64][32], pb[64][32], out[BUNDLE_RANGE_MAX][32];
	size_t na = 0, nb = 0, n;

	(void)state;
	ref_path(3, 0, 100, pa, &na);
	ref_path(50, 0, 100, pb, &nb);
	assert_int_equal(bundle_range_from_paths(100, 3, 51, (const unsigned char(*)[32])pa, na,
						 (const unsigned char(*)[32])pb, nb, out, &n),
			 0);
	assert_int_equal(bundle_range_from_paths(100, 3, 51, (const unsigned char(*)[32])pa,
						 na - 1, (const unsigned char(*)[32])pb, nb, out,
						 &n),
			 AK_EINVALID);
	assert_int_equal(bundle_range_from_paths(100, 3, 51, (const unsigned char(*)[32])pa, na,
						 (const unsigned char(*)[32])pb, nb + 1, out, &n),
			 AK_EINVALID);
	assert_int_equal(bundle_range_from_paths(100, 51, 51, (const unsigned char(*)[32])pa, na,
						 (const unsigned char(*)[32])pb, nb, out, &n),
			 AK_EINVALID);
	assert_int_equal(bundle_range_from_paths(100, 3, 101, (const unsigned char(*)[32])pa, na,
						 (const unsigned char(*)[32])pb, nb, out, &n),
			 AK_EINVALID);
}

static void test_bundle__member_names(void **state)
{
	uint64_t size = 0;

	(void)state;
	assert_int_equal(bundle_member_of("entries.jsonl", &size), BUNDLE_M_ENTRIES);
	assert_int_equal(bundle_member_of("checkpoints/42", &size), BUNDLE_M_OLD_CHECKPOINT);
	assert_int_equal(size, 42);
	assert_int_equal(bundle_member_of("checkpoints/042", &size), BUNDLE_M_UNKNOWN);
	assert_int_equal(bundle_member_of("checkpoints/0", &size), BUNDLE_M_UNKNOWN);
	assert_int_equal(bundle_member_of("checkpoints/x", &size), BUNDLE_M_UNKNOWN);
	assert_int_equal(bundle_member_of("policies/default/consent.json", &size),
			 BUNDLE_M_POLICY);
	assert_int_equal(bundle_member_of("policies/../x", &size), BUNDLE_M_UNKNOWN);
	assert_int_equal(bundle_member_of("policies/.git/config", &size), BUNDLE_M_UNKNOWN);
	assert_int_equal(bundle_member_of("extra.txt", &size), BUNDLE_M_UNKNOWN);
	assert_true(bundle_safe_path("a/b.c"));
	assert_false(bundle_safe_path("/a"));
	assert_false(bundle_safe_path("a//b"));
	assert_false(bundle_safe_path("a/"));
	assert_false(bundle_safe_path(".."));
	assert_false(bundle_safe_path("a\\b"));
	assert_false(bundle_safe_path(""));
}

/* ---- export and verify through the API ---- */

static char sdir[64];
static struct evidence_store *st;

static void problem_count(void *ctx, const char *problem)
{
	(void)problem;
	(*(int *)ctx)++;
}

static int store_setup(void **state)
{
	struct evidence_record r[40];
	char bodies[40][96];
	int i;

	if (setup(state) != 0)
		return -1;
	snprintf(sdir, sizeof(sdir), "/tmp/akashi-test-bundle-XXXXXX");
	if (mkdtemp(sdir) == NULL)
		return -1;
	snprintf(sdir + strlen(sdir), sizeof(sdir) - strlen(sdir), "/s");
	if (evidence_init(sdir, "test.example/bundle") != 0 || evidence_open(&st, sdir, 0) != 0)
		return -1;
	memset(r, 0, sizeof(r));
	for (i = 0; i < 40; i++) {
		snprintf(bodies[i], sizeof(bodies[i]),
			 "{\"campaign\":\"c%d\",\"rcpt\":\"user%d@example.org\",\"status\":\"sent\"}",
			 i % 3, i);
		r[i].kind = "send";
		r[i].time_us = (int64_t)(1782864000 + i) * 1000000;
		r[i].source = "mta";
		r[i].source_len = 3;
		r[i].body = bodies[i];
		r[i].body_len = strlen(bodies[i]);
	}
	return evidence_append(st, r, 40, NULL, NULL);
}

static int store_teardown(void **state)
{
	char cmd[128];

	evidence_close(st);
	st = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strlen(sdir) - 2), sdir);
	if (system(cmd) != 0)
		return -1;
	return teardown(state);
}

static int add_policies(void *ctx, struct bundle_policies *out)
{
	static const char consent[] = "{\"control\":\"consent.optin_proof\"}\n";
	int rc;

	(void)ctx;
	if ((rc = bundle_policies_add(out, "default/consent.json", consent,
				      sizeof(consent) - 1)) != 0)
		return rc;
	return bundle_policies_commit(out, "0123456789abcdef0123456789abcdef01234567");
}

static int bad_policies(void *ctx, struct bundle_policies *out)
{
	(void)ctx;
	return bundle_policies_add(out, "../escape.json", "{}", 2);
}

/* Files in the store's parent directory other than the store itself. */
static int leftovers(void)
{
	char parent[64];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(parent, sizeof(parent), "%.*s", (int)(strlen(sdir) - 2), sdir);
	d = opendir(parent);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    strcmp(de->d_name, "s") != 0 && strcmp(de->d_name, "ok.zip") != 0)
			n++;
	closedir(d);
	return n;
}

static void test_bundle__policy_hook_files_are_exported_and_verified(void **state)
{
	struct bundle_opts o;
	struct bundle_export_result res;
	struct bundle_verify_result vr;
	struct bundle_source src = {0};
	char out[96], cmd[1024];
	int problems = 0;

	(void)state;
	memset(&o, 0, sizeof(o));
	snprintf(out, sizeof(out), "%.*s/ok.zip", (int)(strlen(sdir) - 2), sdir);
	o.sel.campaign = "c1";
	o.reason = "unit test";
	o.output = out;
	o.who = "token:legal-1";
	o.policies = add_policies;
	assert_int_equal(bundle_export(st, &o, &res), 0);
	assert_int_equal(res.entries, 13); /* i % 3 == 1 for i < 40 */
	assert_false(res.range);
	assert_true(res.export_seq > 40);
	src.path = out;
	assert_int_equal(bundle_verify(&src, NULL, problem_count, &problems, &vr), 0);
	assert_int_equal(problems, 0);
	assert_int_equal(vr.entries, 13);
	snprintf(cmd, sizeof(cmd),
		 "unzip -p '%s' ok/policies/COMMIT | grep -qx 0123456789abcdef0123456789abcdef01234567 "
		 "&& unzip -p '%s' ok/policies/default/consent.json | grep -q optin_proof "
		 "&& unzip -p '%s' ok/custody.json | grep -q '\"token\": \"token:legal-1\"'",
		 out, out, out);
	assert_int_equal(system(cmd), 0);
	/* The same output again: refused, the first bundle kept. */
	assert_int_equal(bundle_export(st, &o, &res), AK_EEXISTS);
	assert_int_equal(leftovers(), 0);
}

static void test_bundle__a_failing_hook_leaves_nothing(void **state)
{
	struct bundle_opts o;
	struct bundle_export_result res;
	char out[96];
	int64_t before, after;

	(void)state;
	memset(&o, 0, sizeof(o));
	snprintf(out, sizeof(out), "%.*s/bad.tar.gz", (int)(strlen(sdir) - 2), sdir);
	o.sel.seq = "1-40";
	o.reason = "unit test";
	o.output = out;
	o.policies = bad_policies;
	assert_int_equal(evidence_size(st, &before), 0);
	assert_int_equal(bundle_export(st, &o, &res), AK_EINVALID);
	assert_non_null(strstr(ak_error_last(), "policies"));
	assert_int_equal(access(out, F_OK), -1);
	assert_int_equal(leftovers(), 0);
	/* No export was recorded (a checkpoint may have been made). */
	assert_int_equal(evidence_size(st, &after), 0);
	assert_true(after <= before + 1);
}

static void test_bundle__range_export_through_the_api(void **state)
{
	struct bundle_opts o;
	struct bundle_export_result res;
	struct bundle_verify_result vr;
	struct bundle_source src = {0};
	char out[96];
	int problems = 0;

	(void)state;
	memset(&o, 0, sizeof(o));
	snprintf(out, sizeof(out), "%.*s/r.tar.gz", (int)(strlen(sdir) - 2), sdir);
	o.sel.seq = "7-33";
	o.reason = "unit test";
	o.output = out;
	assert_int_equal(bundle_export(st, &o, &res), 0);
	assert_true(res.range);
	assert_int_equal(res.entries, 27);
	src.path = out;
	assert_int_equal(bundle_verify(&src, NULL, problem_count, &problems, &vr), 0);
	assert_true(vr.range);
	assert_int_equal(vr.first_seq, 7);
	assert_int_equal(vr.last_seq, 33);
	unlink(out);
	o.sel.seq = "30-99"; /* beyond the log */
	assert_int_equal(bundle_export(st, &o, &res), AK_EINVALID);
	assert_int_equal(access(out, F_OK), -1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
static const struct CMUnitTest tests[] = {
	T(test_bundle__range_proof_every_range_up_to_70),
	T(test_bundle__range_proof_boundaries_of_large_trees),
	T(test_bundle__range_proof_random_ranges),
	T(test_bundle__range_proof_refuses_changes),
	T(test_bundle__range_proof_refuses_missing_or_extra_leaves),
	T(test_bundle__range_from_paths_refuses_bad_paths),
	T(test_bundle__member_names),
	cmocka_unit_test_setup_teardown(test_bundle__policy_hook_files_are_exported_and_verified,
					store_setup, store_teardown),
	cmocka_unit_test_setup_teardown(test_bundle__a_failing_hook_leaves_nothing, store_setup,
					store_teardown),
	cmocka_unit_test_setup_teardown(test_bundle__range_export_through_the_api, store_setup,
					store_teardown),
};

AK_UNIT_MAIN(tests)
