/*
 * tests/unit/test_tokens.c - API tokens (auditd/tokens.h): the stored
 * hash is SHA-256 of the token text and nothing else of it is kept,
 * lookups find valid tokens only, roles, revocation; and the request
 * parsing the daemon does itself (auditd/http_parse.h).
 */
#include "tests/unit/unit.h"

#include "auditd/http_parse.h"
#include "auditd/tokens.h"
#include "lib/b64.h"
#include "lib/error.h"

#include <openssl/sha.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

static sqlite3 *memdb(void)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(token_setup(db), 0);
	return db;
}

static void test_tokens__hash_is_sha256_of_the_text(void **state)
{
	unsigned char got[32], want[32];
	const char *t = "akt_abc";

	(void)state;
	assert_int_equal(token_hash(t, strlen(t), got), 0);
	SHA256((const unsigned char *)t, strlen(t), want);
	assert_memory_equal(got, want, 32);
}

static void test_tokens__only_the_hash_is_stored(void **state)
{
	sqlite3 *db = memdb();
	char text[TOKEN_TEXT_MAX];
	struct token_info t;
	unsigned char want[32];
	sqlite3_stmt *s;

	(void)state;
	assert_int_equal(token_create(db, TOKEN_INGEST, "crm", text, &t), 0);
	assert_int_equal(strncmp(text, "akt_", 4), 0);
	assert_int_equal(strlen(text), 4 + 43);
	token_hash(text, strlen(text), want);
	assert_int_equal(
	        sqlite3_prepare_v2(db, "SELECT hash, name, role FROM api_tokens", -1, &s, NULL),
	        SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_bytes(s, 0), 32);
	assert_memory_equal(sqlite3_column_blob(s, 0), want, 32);
	assert_string_equal((const char *)sqlite3_column_text(s, 1), "crm");
	assert_string_equal((const char *)sqlite3_column_text(s, 2), "ingest");
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static void test_tokens__check_finds_valid_tokens_only(void **state)
{
	sqlite3 *db = memdb();
	struct token_checker *c = NULL;
	char a[TOKEN_TEXT_MAX], b[TOKEN_TEXT_MAX], forged[TOKEN_TEXT_MAX];
	struct token_info t, info;

	(void)state;
	assert_int_equal(token_create(db, TOKEN_READ, NULL, a, &t), 0);
	assert_string_equal(t.name, "token-1");
	assert_int_equal(token_create(db, TOKEN_ADMIN, "ops", b, NULL), 0);
	assert_int_equal(token_checker_new(&c, db), 0);
	assert_int_equal(token_check(c, a, strlen(a), &info), 0);
	assert_int_equal(info.role, TOKEN_READ);
	assert_int_equal(token_check(c, b, strlen(b), &info), 0);
	assert_string_equal(info.name, "ops");
	/* one character changed: unknown */
	memcpy(forged, a, sizeof(forged));
	forged[10] = forged[10] == 'A' ? 'B' : 'A';
	assert_int_equal(token_check(c, forged, strlen(forged), &info), AK_ENOTFOUND);
	/* wrong shapes never reach the table */
	assert_int_equal(token_check(c, "", 0, &info), AK_ENOTFOUND);
	assert_int_equal(token_check(c, a, strlen(a) - 1, &info), AK_ENOTFOUND);
	assert_int_equal(token_check(c, "Bearer x", 8, &info), AK_ENOTFOUND);
	/* revoked: refused at once */
	assert_int_equal(token_revoke(db, "token-1", &info), 0);
	assert_int_equal(info.id, t.id);
	assert_int_equal(token_check(c, a, strlen(a), &info), AK_ENOTFOUND);
	assert_int_equal(token_revoke(db, "token-1", NULL), AK_ENOTFOUND);
	assert_int_equal(token_revoke(db, "2", NULL), 0); /* by id */
	assert_int_equal(token_check(c, b, strlen(b), &info), AK_ENOTFOUND);
	token_checker_free(c);
	sqlite3_close(db);
}

static void test_tokens__names_are_unique_among_valid_tokens(void **state)
{
	sqlite3 *db = memdb();
	char t[TOKEN_TEXT_MAX];

	(void)state;
	assert_int_equal(token_create(db, TOKEN_INGEST, "crm", t, NULL), 0);
	assert_int_equal(token_create(db, TOKEN_INGEST, "crm", t, NULL), AK_EEXISTS);
	assert_int_equal(token_revoke(db, "crm", NULL), 0);
	assert_int_equal(token_create(db, TOKEN_INGEST, "crm", t, NULL), 0);
	assert_int_equal(token_create(db, TOKEN_INGEST, "has space", t, NULL), AK_EINVALID);
	assert_int_equal(token_create(db, 3, "x", t, NULL), AK_EINVALID);
	sqlite3_close(db);
}

/* `akashi token revoke 3` revoked token 3 and a token named "3" too, and
 * recorded only one of them. */
static void test_tokens__revoke_never_takes_two_tokens(void **state)
{
	sqlite3 *db = memdb();
	char text[TOKEN_TEXT_MAX];
	struct token_info t;

	(void)state;
	assert_int_equal(token_create(db, TOKEN_READ, "42", text, NULL), AK_EINVALID);
	assert_int_equal(token_create(db, TOKEN_READ, "crm", text, &t), 0);
	assert_int_equal(token_create(db, TOKEN_ADMIN, "ops", text, NULL), 0);
	/* A store from before numeric names were refused. */
	assert_int_equal(sqlite3_exec(db, "UPDATE api_tokens SET name = '1' WHERE name = 'ops'",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_equal(token_revoke(db, "1", NULL), AK_EINVALID);
	assert_int_equal(token_revoke(db, "crm", NULL), 0);
	assert_int_equal(token_revoke(db, "1", &t), 0); /* now only the one named 1 */
	assert_string_equal(t.name, "1");
	sqlite3_close(db);
}

static void test_tokens__roles(void **state)
{
	(void)state;
	assert_int_equal(token_role_parse("ingest"), TOKEN_INGEST);
	assert_int_equal(token_role_parse("admin"), TOKEN_ADMIN);
	assert_int_equal(token_role_parse("root"), 0);
	assert_true(token_role_allows(TOKEN_ADMIN, TOKEN_EXPORT));
	assert_true(token_role_allows(TOKEN_READ, TOKEN_READ | TOKEN_EXPORT));
	assert_false(token_role_allows(TOKEN_INGEST, TOKEN_READ));
	assert_false(token_role_allows(TOKEN_READ, TOKEN_EXPORT));
	assert_false(token_role_allows(TOKEN_EXPORT, TOKEN_ADMIN));
}

static void test_http__query_parameters_decode_and_refuse(void **state)
{
	char v[16];
	size_t n;
	const char *q = "a=1&kind=send&x=%41%42+c&empty=&flag&t=%00";

	(void)state;
	assert_int_equal(http_query_get(q, strlen(q), "kind", v, sizeof(v), &n), 0);
	assert_string_equal(v, "send");
	assert_int_equal(http_query_get(q, strlen(q), "x", v, sizeof(v), &n), 0);
	assert_string_equal(v, "AB c");
	assert_int_equal(http_query_get(q, strlen(q), "empty", v, sizeof(v), &n), 0);
	assert_string_equal(v, "");
	assert_int_equal(http_query_get(q, strlen(q), "flag", v, sizeof(v), &n), 0);
	assert_int_equal(http_query_get(q, strlen(q), "nope", v, sizeof(v), &n), AK_ENOTFOUND);
	assert_int_equal(http_query_get(q, strlen(q), "t", v, sizeof(v), &n), AK_EINVALID);
	assert_int_equal(http_query_get("a=%4", 4, "a", v, sizeof(v), &n), AK_EINVALID);
	assert_int_equal(http_query_get("a=%zz", 5, "a", v, sizeof(v), &n), AK_EINVALID);
	assert_int_equal(http_query_get("a=0123456789abcdefg", 19, "a", v, sizeof(v), &n),
	                 AK_EINVALID);
	/* the first occurrence counts; names are compared decoded */
	assert_int_equal(http_query_get("%61=1&a=2", 9, "a", v, sizeof(v), &n), 0);
	assert_string_equal(v, "1");
}

static void test_http__one_click_bodies(void **state)
{
	const char *mp =
	        "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n"
	        "One-Click\r\n--XyZ--\r\n";

	(void)state;
	assert_true(http_one_click(NULL, "List-Unsubscribe=One-Click", 26));
	assert_true(http_one_click("application/x-www-form-urlencoded",
	                           "List-Unsubscribe=One-Click\r\n", 28));
	assert_true(http_one_click(NULL, "a=b&List-Unsubscribe=One-Click", 30));
	assert_true(http_one_click("multipart/form-data; boundary=XyZ", mp, strlen(mp)));
	assert_true(http_one_click("multipart/form-data; boundary=\"XyZ\"", mp, strlen(mp)));
	assert_false(http_one_click(NULL, "", 0));
	assert_false(http_one_click(NULL, "List-Unsubscribe=one-click", 26));
	assert_false(http_one_click(NULL, "List-Unsubscribe=", 17));
	assert_false(http_one_click(NULL, "Unsubscribe=One-Click", 21));
	assert_false(http_one_click("multipart/form-data; boundary=Other", mp, strlen(mp)));
	assert_false(http_one_click("multipart/form-data", mp, strlen(mp)));
}

static void test_http__bearer(void **state)
{
	const char *t;
	size_t n;

	(void)state;
	assert_int_equal(http_bearer("Bearer akt_x", &t, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(t, "akt_x", 5);
	assert_int_equal(http_bearer("  bearer   akt_y  ", &t, &n), 0);
	assert_memory_equal(t, "akt_y", 5);
	assert_int_equal(http_bearer(NULL, &t, &n), AK_ENOTFOUND);
	assert_int_equal(http_bearer("Basic dXNlcjpwYXNz", &t, &n), AK_ENOTFOUND);
	assert_int_equal(http_bearer("Bearer", &t, &n), AK_ENOTFOUND);
	assert_int_equal(http_bearer("Bearer a b", &t, &n), AK_ENOTFOUND);
	assert_int_equal(http_bearer("Bearerx akt", &t, &n), AK_ENOTFOUND);
}

static void test_http__gate_body(void **state)
{
	struct gate_request rq;
	json_t *h = NULL;
	const char *ok = "{\"rcpt\":\"Bob@Example.COM\",\"list\":\"news\",\"stream\":\"marketing\","
	                 "\"campaign_size\":12,\"unsubscribe_headers\":true}";

	(void)state;
	assert_int_equal(http_gate_request(ok, strlen(ok), &rq, &h), 0);
	assert_string_equal(rq.rcpt, "bob@example.com");
	assert_int_equal(rq.campaign_size, 12);
	assert_int_equal(rq.unsubscribe_headers, 1);
	assert_null(rq.campaign);
	json_decref(h);
#define BAD(text)                                                                                  \
	do {                                                                                       \
		assert_int_equal(http_gate_request(text, strlen(text), &rq, &h), AK_EINVALID);     \
		json_decref(h);                                                                    \
	} while (0)
	BAD("");
	BAD("[]");
	BAD("{\"rcpt\":\"a@b.c\",\"list\":\"n\"}");
	BAD("{\"rcpt\":\"a@b.c\",\"list\":\"n\",\"stream\":\"bulk\"}");
	BAD("{\"rcpt\":\"nope\",\"list\":\"n\",\"stream\":\"marketing\"}");
	BAD("{\"rcpt\":\"a@b.c\",\"list\":\"n\",\"stream\":\"marketing\",\"extra\":1}");
	BAD("{\"rcpt\":\"a@b.c\",\"rcpt\":\"d@e.f\",\"list\":\"n\",\"stream\":\"marketing\"}");
	BAD("{\"rcpt\":\"a@b.c\",\"list\":\"n\",\"stream\":\"marketing\",\"campaign_size\":-1}");
	BAD("{\"rcpt\":\"a@b.c\",\"list\":\"n\",\"stream\":\"marketing\",\"campaign_size\":1.5}");
	BAD("{\"rcpt\":\"a@b.c\",\"list\":\"n\",\"stream\":\"marketing\",\"unsubscribe_headers\":"
	    "1}");
	BAD("{\"rcpt\":\"a@b.c\",\"list\":\"\",\"stream\":\"marketing\"}");
	BAD("{\"rcpt\":\"a@b.c\",\"list\":\"n\",\"stream\":\"marketing\"} x");
#undef BAD
}

static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens__hash_is_sha256_of_the_text),
        cmocka_unit_test(test_tokens__only_the_hash_is_stored),
        cmocka_unit_test(test_tokens__check_finds_valid_tokens_only),
        cmocka_unit_test(test_tokens__names_are_unique_among_valid_tokens),
        cmocka_unit_test(test_tokens__revoke_never_takes_two_tokens),
        cmocka_unit_test(test_tokens__roles),
        cmocka_unit_test(test_http__query_parameters_decode_and_refuse),
        cmocka_unit_test(test_http__one_click_bodies),
        cmocka_unit_test(test_http__bearer),
        cmocka_unit_test(test_http__gate_body),
};

AK_UNIT_MAIN(tests)
