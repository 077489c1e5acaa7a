/*
 * tests/unit/test_merkle.c - the hashes and proof algorithms of the
 * evidence format against RFC 6962 / RFC 9162 reference values, and the
 * store's proofs against an independent in-memory tree for every size up
 * to a few hundred, with every altered proof refused.
 */
#include "tests/unit/unit.h"

#include "evidence/evidence.h"
#include "evidence/evidence_int.h"
#include "lib/b64.h"
#include "lib/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Certificate Transparency reference leaves and roots (RFC 6962
 * test data used by every CT implementation). */
static const char *ref_leaves[] = {"",       "00",       "10",       "2021",
				   "3031",   "40414243", "5051525354555657",
				   "606162636465666768696a6b6c6d6e6f"};
static const char *ref_roots[] = {
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static struct evidence_hasher *H;
static unsigned char L[8][32];

static void hex(unsigned char *out, size_t n, const char *s)
{
	assert_int_equal(ak_hex_decode(out, n, s, strlen(s)), 0);
}

static int setup(void **state)
{
	size_t i;

	(void)state;
	if (evidence_hasher_new(&H) != 0)
		return -1;
	for (i = 0; i < 8; i++) {
		unsigned char raw[16];
		size_t n = strlen(ref_leaves[i]) / 2;

		hex(raw, n, ref_leaves[i]);
		evidence_leaf_hash(H, raw, n, L[i]);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	evidence_hasher_free(H);
	return 0;
}

static void test_merkle__reference_roots_for_sizes_0_to_8(void **state)
{
	unsigned char want[32], got[32];
	size_t n;

	(void)state;
	for (n = 0; n <= 8; n++) {
		hex(want, 32, ref_roots[n]);
		assert_int_equal(evidence_mth(H, (const unsigned char(*)[32])L, n, got), 0);
		assert_memory_equal(got, want, 32);
	}
}

static void test_merkle__reference_inclusion_proofs(void **state)
{
	/* leaf 0 and leaf 5 of the 8-leaf tree (CT reference vectors) */
	static const char *p0[] = {
		"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"};
	static const char *p5[] = {
		"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
		"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"};
	unsigned char path[3][32], root[32];
	int i;

	(void)state;
	hex(root, 32, ref_roots[8]);
	for (i = 0; i < 3; i++)
		hex(path[i], 32, p0[i]);
	assert_int_equal(evidence_verify_inclusion(H, 0, 8, L[0], (const unsigned char(*)[32])path,
						   3, root),
			 0);
	for (i = 0; i < 3; i++)
		hex(path[i], 32, p5[i]);
	assert_int_equal(evidence_verify_inclusion(H, 5, 8, L[5], (const unsigned char(*)[32])path,
						   3, root),
			 0);
	/* the same proof for another leaf fails */
	assert_int_equal(evidence_verify_inclusion(H, 4, 8, L[4], (const unsigned char(*)[32])path,
						   3, root),
			 AK_ETAMPERED);
}

/* An independent tree: every node of the 7-leaf example of RFC 6962 2.1.3
 * named as the RFC names it, and the proofs the RFC lists. */
static void test_merkle__rfc6962_seven_leaf_example(void **state)
{
	unsigned char a[32], b[32], c[32], d[32], e[32], f[32], g[32], h[32], i_[32], j[32],
		k[32], l[32], root7[32], root3[32], root4[32], root6[32];
	unsigned char p[4][32];

	(void)state;
	memcpy(a, L[0], 32), memcpy(b, L[1], 32), memcpy(c, L[2], 32), memcpy(d, L[3], 32);
	memcpy(e, L[4], 32), memcpy(f, L[5], 32), memcpy(j, L[6], 32);
	evidence_node_hash(H, a, b, g);
	evidence_node_hash(H, c, d, h);
	evidence_node_hash(H, e, f, i_);
	evidence_node_hash(H, g, h, k);
	evidence_node_hash(H, i_, j, l);
	evidence_node_hash(H, k, l, root7);
	evidence_mth(H, (const unsigned char(*)[32])L, 3, root3);
	evidence_mth(H, (const unsigned char(*)[32])L, 4, root4);
	evidence_mth(H, (const unsigned char(*)[32])L, 6, root6);
	/* inclusion: d0 -> [b, h, l]; d3 -> [c, g, l]; d4 -> [f, j, k]; d6 -> [i, k] */
	memcpy(p[0], b, 32), memcpy(p[1], h, 32), memcpy(p[2], l, 32);
	assert_int_equal(evidence_verify_inclusion(H, 0, 7, a, (const unsigned char(*)[32])p, 3,
						   root7),
			 0);
	memcpy(p[0], c, 32), memcpy(p[1], g, 32), memcpy(p[2], l, 32);
	assert_int_equal(evidence_verify_inclusion(H, 3, 7, d, (const unsigned char(*)[32])p, 3,
						   root7),
			 0);
	memcpy(p[0], f, 32), memcpy(p[1], j, 32), memcpy(p[2], k, 32);
	assert_int_equal(evidence_verify_inclusion(H, 4, 7, e, (const unsigned char(*)[32])p, 3,
						   root7),
			 0);
	memcpy(p[0], i_, 32), memcpy(p[1], k, 32);
	assert_int_equal(evidence_verify_inclusion(H, 6, 7, j, (const unsigned char(*)[32])p, 2,
						   root7),
			 0);
	/* consistency: PROOF(3, D[7]) = [c, d, g, l]; PROOF(4) = [l]; PROOF(6) = [i, j, k] */
	memcpy(p[0], c, 32), memcpy(p[1], d, 32), memcpy(p[2], g, 32), memcpy(p[3], l, 32);
	assert_int_equal(evidence_verify_consistency(H, 3, 7, root3, root7,
						     (const unsigned char(*)[32])p, 4),
			 0);
	memcpy(p[0], l, 32);
	assert_int_equal(evidence_verify_consistency(H, 4, 7, root4, root7,
						     (const unsigned char(*)[32])p, 1),
			 0);
	memcpy(p[0], i_, 32), memcpy(p[1], j, 32), memcpy(p[2], k, 32);
	assert_int_equal(evidence_verify_consistency(H, 6, 7, root6, root7,
						     (const unsigned char(*)[32])p, 3),
			 0);
	/* wrong old root */
	assert_int_equal(evidence_verify_consistency(H, 6, 7, root4, root7,
						     (const unsigned char(*)[32])p, 3),
			 AK_ETAMPERED);
}

static void test_merkle__impossible_arguments_are_refused(void **state)
{
	unsigned char root[32] = {0};

	(void)state;
	assert_int_equal(evidence_verify_inclusion(H, 8, 8, L[0], NULL, 0, root), AK_EINVALID);
	assert_int_equal(evidence_verify_consistency(H, 5, 3, root, root, NULL, 0), AK_EINVALID);
	/* a non-empty proof between equal sizes */
	assert_int_equal(evidence_verify_consistency(H, 3, 3, root, root,
						     (const unsigned char(*)[32])L, 1),
			 AK_ETAMPERED);
	/* an empty proof between different non-zero sizes */
	assert_int_equal(evidence_verify_consistency(H, 3, 4, root, root, NULL, 0), AK_ETAMPERED);
}

/* ---- the store's proofs, every size up to N ---- */

#define N 300

static char dir[256];
static struct evidence_store *st;
static unsigned char leaves[N][32];

static int store_setup(void **state)
{
	struct evidence_record r[N];
	char bodies[N][64];
	struct ak_buf b = AK_BUF_INIT(0);
	int i;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/akashi-test-merkle-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	strcat(dir, "/s");
	if (evidence_init(dir, "test.example/merkle") != 0 || evidence_open(&st, dir, 0) != 0)
		return -1;
	memset(r, 0, sizeof(r));
	for (i = 0; i < N; i++) {
		snprintf(bodies[i], sizeof(bodies[i]), "{\"n\":%d}", i);
		r[i].kind = "system";
		r[i].time_us = (int64_t)(1700000000 + i) * 1000000;
		r[i].source = "test";
		r[i].source_len = 4;
		r[i].body = bodies[i];
		r[i].body_len = strlen(bodies[i]);
	}
	/* in uneven batches, so tree nodes complete across batch ends */
	if (evidence_append(st, r, 7, NULL, NULL) != 0 ||
	    evidence_append(st, r + 7, 250, NULL, NULL) != 0 ||
	    evidence_append(st, r + 257, N - 257, NULL, NULL) != 0)
		return -1;
	for (i = 0; i < N; i++) {
		ak_buf_reset(&b);
		if (evidence_get(st, i + 1, &b) != 0)
			return -1;
		evidence_leaf_hash(H, b.data, b.len, leaves[i]);
	}
	ak_buf_free(&b);
	return 0;
}

static int store_teardown(void **state)
{
	char cmd[300];

	(void)state;
	evidence_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strlen(dir) - 2), dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_merkle__store_roots_match_independent_tree(void **state)
{
	unsigned char want[32], got[32];
	int n;

	(void)state;
	for (n = 0; n <= N; n++) {
		evidence_mth(H, (const unsigned char(*)[32])leaves, (size_t)n, want);
		assert_int_equal(evidence_root(st, n, got), 0);
		assert_memory_equal(got, want, 32);
	}
}

static void test_merkle__every_inclusion_proof_verifies_and_every_alteration_fails(void **state)
{
	unsigned char(*path)[32], leaf[32], root[32];
	size_t len, k;
	int size, m;

	(void)state;
	for (size = 1; size <= N; size += (size < 40 ? 1 : 13)) {
		evidence_mth(H, (const unsigned char(*)[32])leaves, (size_t)size, root);
		for (m = 1; m <= size; m++) {
			assert_int_equal(evidence_prove_inclusion(st, m, size, leaf, &path, &len), 0);
			assert_memory_equal(leaf, leaves[m - 1], 32);
			assert_int_equal(evidence_verify_inclusion(H, (uint64_t)m - 1, (uint64_t)size,
								   leaf,
								   (const unsigned char(*)[32])path,
								   len, root),
					 0);
			/* flip one bit of each path element in turn */
			for (k = 0; k < len; k++) {
				path[k][k % 32] ^= 1;
				assert_int_equal(evidence_verify_inclusion(
							 H, (uint64_t)m - 1, (uint64_t)size, leaf,
							 (const unsigned char(*)[32])path, len, root),
						 AK_ETAMPERED);
				path[k][k % 32] ^= 1;
			}
			/* a truncated path, and a wrong index */
			if (len)
				assert_int_not_equal(evidence_verify_inclusion(
							     H, (uint64_t)m - 1, (uint64_t)size, leaf,
							     (const unsigned char(*)[32])path, len - 1,
							     root),
						     0);
			if (size > 1)
				assert_int_not_equal(evidence_verify_inclusion(
							     H, (uint64_t)(m % size), (uint64_t)size,
							     leaf, (const unsigned char(*)[32])path,
							     len, root),
						     0);
			free(path);
		}
	}
}

static void test_merkle__every_consistency_proof_verifies_and_every_alteration_fails(void **state)
{
	unsigned char(*path)[32], r1[32], r2[32];
	size_t len, k;
	int a, b;

	(void)state;
	for (b = 1; b <= N; b += (b < 40 ? 1 : 17)) {
		evidence_mth(H, (const unsigned char(*)[32])leaves, (size_t)b, r2);
		for (a = 1; a <= b; a++) {
			evidence_mth(H, (const unsigned char(*)[32])leaves, (size_t)a, r1);
			assert_int_equal(evidence_prove_consistency(st, a, b, &path, &len), 0);
			assert_int_equal(evidence_verify_consistency(H, (uint64_t)a, (uint64_t)b, r1,
								     r2,
								     (const unsigned char(*)[32])path,
								     len),
					 0);
			for (k = 0; k < len; k++) {
				path[k][0] ^= 0x80;
				assert_int_equal(evidence_verify_consistency(
							 H, (uint64_t)a, (uint64_t)b, r1, r2,
							 (const unsigned char(*)[32])path, len),
						 AK_ETAMPERED);
				path[k][0] ^= 0x80;
			}
			if (a < b)
				assert_int_not_equal(evidence_verify_consistency(
							     H, (uint64_t)a, (uint64_t)b, r2, r1,
							     (const unsigned char(*)[32])path, len),
						     0);
			free(path);
		}
	}
}

static void test_merkle__proof_beyond_the_log_is_refused(void **state)
{
	unsigned char(*path)[32] = NULL, leaf[32];
	size_t len;

	(void)state;
	assert_int_equal(evidence_prove_inclusion(st, N + 1, N + 1, leaf, &path, &len), AK_EINVALID);
	assert_int_equal(evidence_prove_inclusion(st, 5, 4, leaf, &path, &len), AK_EINVALID);
	assert_int_equal(evidence_prove_consistency(st, 10, 5, &path, &len), AK_EINVALID);
}

/* verify reads "received" from the entry bytes to check that it never goes
 * back along seq: it is found in its place, in its form, or not at all. */
static void test_merkle__received_is_read_from_entry_bytes(void **state)
{
	static const char ok[] = "{\"body\":{\"received\":\"x\"},\"kind\":\"send\","
	                         "\"received\":\"2026-11-22T07:26:17.123456Z\",\"seq\":42,"
	                         "\"source\":\"s\",\"time\":\"2026-11-21T23:00:00Z\"}";
	static const char short_form[] = "{\"body\":{},\"kind\":\"send\","
	                                 "\"received\":\"2026-11-22T07:26:17Z\",\"seq\":42,"
	                                 "\"source\":\"s\",\"time\":\"2026-11-21T23:00:00Z\"}";
	const char *r;

	(void)state;
	assert_int_equal(evidence_entry_seq(ok, sizeof(ok) - 1, &r), 42);
	assert_non_null(r);
	assert_memory_equal(r, "2026-11-22T07:26:17.123456Z", 27);
	assert_int_equal(evidence_entry_seq(short_form, sizeof(short_form) - 1, &r), 42);
	assert_null(r);
	assert_int_equal(evidence_entry_seq("{}", 2, &r), -1);
	assert_null(r);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
	        cmocka_unit_test(test_merkle__reference_roots_for_sizes_0_to_8),
	        cmocka_unit_test(test_merkle__reference_inclusion_proofs),
	        cmocka_unit_test(test_merkle__rfc6962_seven_leaf_example),
	        cmocka_unit_test(test_merkle__impossible_arguments_are_refused),
	        cmocka_unit_test(test_merkle__received_is_read_from_entry_bytes),
	        cmocka_unit_test_setup_teardown(test_merkle__store_roots_match_independent_tree,
	                                        store_setup, store_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_merkle__every_inclusion_proof_verifies_and_every_alteration_fails,
	                store_setup, store_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_merkle__every_consistency_proof_verifies_and_every_alteration_fails,
	                store_setup, store_teardown),
	        cmocka_unit_test_setup_teardown(test_merkle__proof_beyond_the_log_is_refused,
	                                        store_setup, store_teardown),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(pure, setup, teardown);
}
