/*
 * auditd/tokens.c - API bearer tokens (see tokens.h).
 *
 * SECURITY: token_check() takes the Authorization header of any request.
 * It checks the shape before hashing, looks the SHA-256 up with a bound
 * parameter (never SQL text), and keeps no copy of the token. The table
 * holds hashes only: a copy of the database grants no API access. Tokens
 * carry 256 random bits, so a plain hash (no salt, no stretching) is
 * enough: there is nothing to guess.
 */
#include "auditd/tokens.h"

#include "lib/b64.h"
#include "lib/error.h"
#include "lib/timefmt.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RANDOM_BYTES 32

static const struct {
	const char *name;
	int role;
} roles[] = {{"ingest", TOKEN_INGEST},
             {"read", TOKEN_READ},
             {"export", TOKEN_EXPORT},
             {"admin", TOKEN_ADMIN}};

int token_role_parse(const char *s)
{
	size_t i;

	for (i = 0; s && i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcmp(s, roles[i].name) == 0)
			return roles[i].role;
	return 0;
}

const char *token_role_name(int role)
{
	size_t i;

	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (roles[i].role == role)
			return roles[i].name;
	return "none";
}

int token_role_allows(int role, int need)
{
	return role == TOKEN_ADMIN || (role & need) != 0;
}

int token_hash(const char *token, size_t len, unsigned char out[32])
{
	unsigned int n = 0;

	if (EVP_Digest(token, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return ak_error_set("OpenSSL: SHA-256 failed");
	return 0;
}

static int sqlerr(sqlite3 *db, const char *what)
{
	int code = sqlite3_errcode(db);

	return ak_error_code(code == SQLITE_BUSY || code == SQLITE_LOCKED ? AK_EBUSY : AK_ERROR,
	                     "api tokens: %s: %s", what, sqlite3_errmsg(db));
}

int token_setup(sqlite3 *db)
{
	static const char sql[] =
	        "CREATE TABLE IF NOT EXISTS api_tokens(id INTEGER PRIMARY KEY,"
	        " hash BLOB NOT NULL UNIQUE, name TEXT NOT NULL, role TEXT NOT NULL,"
	        " created INTEGER NOT NULL, revoked INTEGER)";

	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sqlerr(db, "creating the table");
	return 0;
}

static void row_info(sqlite3_stmt *s, struct token_info *t)
{
	const unsigned char *name = sqlite3_column_text(s, 1);

	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(s, 0);
	snprintf(t->name, sizeof(t->name), "%s", name ? (const char *)name : "");
	t->role = token_role_parse((const char *)sqlite3_column_text(s, 2));
	t->created_us = sqlite3_column_int64(s, 3);
	t->revoked_us = sqlite3_column_int64(s, 4);
}

/* A name is printable, without spaces, and not all digits: `akashi token
 * revoke 3` must not be able to mean token 3 and a token named "3". */
static int valid_name(const char *s)
{
	size_t i, digits = 0;

	for (i = 0; s[i]; i++) {
		if ((unsigned char)s[i] < 0x21 || s[i] == 0x7f)
			return 0;
		digits += s[i] >= '0' && s[i] <= '9';
	}
	return i > 0 && i <= TOKEN_NAME_MAX && digits < i;
}

int token_create(sqlite3 *db, int role, const char *name, char text[TOKEN_TEXT_MAX],
                 struct token_info *out)
{
	unsigned char raw[RANDOM_BYTES], hash[32];
	sqlite3_stmt *s = NULL;
	int rc = 0;

	if (token_role_parse(token_role_name(role)) != role)
		return ak_error_code(AK_EINVALID, "unknown role");
	if (name && !valid_name(name))
		return ak_error_code(AK_EINVALID,
		                     "token name: 1 to %d printable characters, no spaces, "
		                     "not all digits",
		                     TOKEN_NAME_MAX);
	if ((rc = token_setup(db)) != 0)
		return rc;
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return ak_error_set("OpenSSL: no random bytes for a token");
	memcpy(text, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
	ak_b64url_encode(text + sizeof(TOKEN_PREFIX) - 1, raw, sizeof(raw));
	if ((rc = token_hash(text, strlen(text), hash)) != 0)
		goto done;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		rc = sqlerr(db, "begin");
		goto done;
	}
	if (name) {
		if (sqlite3_prepare_v2(
		            db, "SELECT 1 FROM api_tokens WHERE name = ? AND revoked IS NULL", -1,
		            &s, NULL) != SQLITE_OK) {
			rc = sqlerr(db, "checking the name");
			goto done;
		}
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW) {
			rc = ak_error_code(AK_EEXISTS,
			                   "a valid token named '%s' exists; revoke it "
			                   "first or choose another name",
			                   name);
			goto done;
		}
		sqlite3_finalize(s);
		s = NULL;
	}
	if (sqlite3_prepare_v2(db,
	                       "INSERT INTO api_tokens(hash, name, role, created)"
	                       " VALUES(?, coalesce(?, 'token-' || (SELECT coalesce(max(id), 0) + 1"
	                       " FROM api_tokens)), ?, ?)"
	                       " RETURNING id, name, role, created, revoked",
	                       -1, &s, NULL) != SQLITE_OK) {
		rc = sqlerr(db, "preparing the insert");
		goto done;
	}
	sqlite3_bind_blob(s, 1, hash, sizeof(hash), SQLITE_STATIC);
	if (name)
		sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, token_role_name(role), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, ak_time_now());
	if (sqlite3_step(s) != SQLITE_ROW) {
		rc = sqlerr(db, "storing the token");
		goto done;
	}
	if (out)
		row_info(s, out);
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = sqlerr(db, "commit");
done:
	sqlite3_finalize(s);
	if (rc != 0) {
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		memset(text, 0, TOKEN_TEXT_MAX);
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

int token_list(sqlite3 *db, int (*cb)(void *ctx, const struct token_info *t), void *ctx)
{
	sqlite3_stmt *s = NULL;
	struct token_info t;
	int rc = 0, step;

	if (sqlite3_prepare_v2(
	            db, "SELECT id, name, role, created, revoked FROM api_tokens ORDER BY id", -1,
	            &s, NULL) != SQLITE_OK) {
		/* No table yet: no tokens. */
		if (strstr(sqlite3_errmsg(db), "no such table"))
			return 0;
		return sqlerr(db, "listing");
	}
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		row_info(s, &t);
		if ((rc = cb(ctx, &t)) != 0)
			goto done;
	}
	if (step != SQLITE_DONE)
		rc = sqlerr(db, "listing");
done:
	sqlite3_finalize(s);
	return rc;
}

int token_revoke(sqlite3 *db, const char *id_or_name, struct token_info *out)
{
	sqlite3_stmt *s = NULL;
	char *end;
	long long id;
	int rc = 0;

	if ((rc = token_setup(db)) != 0)
		return rc;
	id = strtoll(id_or_name, &end, 10);
	if (*end != '\0' || end == id_or_name)
		id = -1;
	/* A store may hold a token named "3" from before such names were
	 * refused: then "3" names two tokens, and revoking both would leave
	 * one revocation unrecorded. */
	if (id >= 0) {
		if (sqlite3_prepare_v2(db,
		                       "SELECT count(*) FROM api_tokens WHERE revoked IS NULL AND"
		                       " (name = ? OR id = ?)",
		                       -1, &s, NULL) != SQLITE_OK)
			return sqlerr(db, "revoking");
		sqlite3_bind_text(s, 1, id_or_name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, id);
		rc = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 0) > 1;
		sqlite3_finalize(s);
		s = NULL;
		if (rc)
			return ak_error_code(AK_EINVALID,
			                     "'%s' is the id of one valid token and the name of "
			                     "another: revoke by the other's id",
			                     id_or_name);
	}
	if (sqlite3_prepare_v2(db,
	                       "UPDATE api_tokens SET revoked = ? WHERE revoked IS NULL AND"
	                       " (name = ? OR id = ?)"
	                       " RETURNING id, name, role, created, revoked",
	                       -1, &s, NULL) != SQLITE_OK)
		return sqlerr(db, "revoking");
	sqlite3_bind_int64(s, 1, ak_time_now());
	sqlite3_bind_text(s, 2, id_or_name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, id);
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		if (out)
			row_info(s, out);
		/* Run the statement to its end so the update is complete. */
		while (sqlite3_step(s) == SQLITE_ROW)
			;
		break;
	case SQLITE_DONE:
		rc = ak_error_code(AK_ENOTFOUND, "no valid token with id or name '%s'", id_or_name);
		break;
	default:
		rc = sqlerr(db, "revoking");
	}
	sqlite3_finalize(s);
	return rc;
}

struct token_checker {
	sqlite3 *db;
	sqlite3_stmt *get;
	sqlite3_stmt *get_id;
};

int token_checker_new(struct token_checker **out, sqlite3 *db)
{
	struct token_checker *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return ak_error_oom();
	c->db = db;
	if (sqlite3_prepare_v3(db,
	                       "SELECT id, name, role, created, revoked FROM api_tokens"
	                       " WHERE hash = ?",
	                       -1, SQLITE_PREPARE_PERSISTENT, &c->get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db,
	                       "SELECT id, name, role, created, revoked FROM api_tokens"
	                       " WHERE id = ?",
	                       -1, SQLITE_PREPARE_PERSISTENT, &c->get_id, NULL) != SQLITE_OK) {
		int rc = sqlerr(db, "preparing the lookup");

		sqlite3_finalize(c->get);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void token_checker_free(struct token_checker *c)
{
	if (c == NULL)
		return;
	sqlite3_finalize(c->get);
	sqlite3_finalize(c->get_id);
	free(c);
}

/* Step q (its key bound): the token's row, or why there is none. */
static int lookup(struct token_checker *c, sqlite3_stmt *q, struct token_info *out)
{
	int rc, step = sqlite3_step(q);

	if (step == SQLITE_ROW) {
		row_info(q, out);
		rc = out->revoked_us ? ak_error_code(AK_ENOTFOUND, "token revoked") : 0;
	} else if (step == SQLITE_DONE) {
		rc = ak_error_code(AK_ENOTFOUND, "unknown token");
	} else {
		rc = sqlerr(c->db, "lookup");
	}
	sqlite3_reset(q);
	return rc;
}

int token_check(struct token_checker *c, const char *text, size_t len, struct token_info *out)
{
	unsigned char hash[32], raw[RANDOM_BYTES + 3];
	size_t plen = sizeof(TOKEN_PREFIX) - 1;
	int rc;

	/* Only things shaped like our tokens are hashed and looked up. */
	if (len != plen + AK_B64URL_LEN(RANDOM_BYTES) || memcmp(text, TOKEN_PREFIX, plen) != 0 ||
	    ak_b64url_decode(raw, sizeof(raw), text + plen, len - plen) != RANDOM_BYTES)
		return ak_error_code(AK_ENOTFOUND, "not an akashi API token");
	if ((rc = token_hash(text, len, hash)) != 0)
		return rc;
	sqlite3_reset(c->get);
	sqlite3_bind_blob(c->get, 1, hash, sizeof(hash), SQLITE_TRANSIENT);
	return lookup(c, c->get, out);
}

int token_check_id(struct token_checker *c, int64_t id, struct token_info *out)
{
	sqlite3_reset(c->get_id);
	sqlite3_bind_int64(c->get_id, 1, id);
	return lookup(c, c->get_id, out);
}
