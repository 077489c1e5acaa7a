/*
 * auditd/tokens.h - API bearer tokens: created by `akashi token create`,
 * checked by the daemon on every request.
 *
 * A token is "akt_" followed by the base64url of 32 random bytes. It is
 * printed once, when it is made; the store keeps only its SHA-256 (of the
 * whole token text) in the table api_tokens of the store's database, with
 * a name, a role, the creation time and, once revoked, the revocation time.
 * The table is the daemon's, not evidence: creating and revoking a token
 * are recorded as `system` entries by the command that does it.
 *
 * Roles: ingest (POST /v1/ingest), read (queries, gate, metrics), export
 * (bulk reads of the log), admin (everything; its use for export-like
 * actions is recorded). docs/API.md lists what each route needs.
 *
 * Threads: a struct token_checker holds a prepared statement on one
 * connection: one thread.
 */
#ifndef AUDITD_TOKENS_H
#define AUDITD_TOKENS_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define TOKEN_PREFIX   "akt_"
#define TOKEN_TEXT_MAX 64 /* "akt_" + 43 base64url characters, with room */
#define TOKEN_NAME_MAX 128

enum token_role { TOKEN_INGEST = 1, TOKEN_READ = 2, TOKEN_EXPORT = 4, TOKEN_ADMIN = 8 };

/* "ingest" -> TOKEN_INGEST...; 0 for anything else. */
int token_role_parse(const char *s);
const char *token_role_name(int role);

/* Does a token of role have what need asks for? admin implies all. */
int token_role_allows(int role, int need);

/* SHA-256 of the token text. */
int token_hash(const char *token, size_t len, unsigned char out[32]);

/* Create the table if it is missing (needs a writable connection). */
int token_setup(sqlite3 *db);

struct token_info {
	int64_t id;
	char name[TOKEN_NAME_MAX + 1];
	int role;
	int64_t created_us;
	int64_t revoked_us; /* 0 while valid */
};

/* Make a new token of role named name (NULL: "token-<id>"). text gets the
 * token ("akt_..."; TOKEN_TEXT_MAX bytes), shown to no one else ever again.
 * AK_EEXISTS when a valid token of that name exists. */
int token_create(sqlite3 *db, int role, const char *name, char text[TOKEN_TEXT_MAX],
                 struct token_info *out);

/* Every token, valid and revoked, by id. */
int token_list(sqlite3 *db, int (*cb)(void *ctx, const struct token_info *t), void *ctx);

/* Revoke the token with this id (decimal) or name. AK_ENOTFOUND when no
 * valid token matches. out (optional) gets the token revoked. */
int token_revoke(sqlite3 *db, const char *id_or_name, struct token_info *out);

struct token_checker;

int token_checker_new(struct token_checker **out, sqlite3 *db);
void token_checker_free(struct token_checker *c);

/* Look a presented token up: 0 and *out for a valid one; AK_ENOTFOUND for
 * an unknown or revoked token, or text that is not a token at all. */
int token_check(struct token_checker *c, const char *text, size_t len, struct token_info *out);

/* The same for a token checked before, by its id: a session that
 * authenticated once (the SMTP gateway's) asks again before each use, so
 * that a revocation ends it. */
int token_check_id(struct token_checker *c, int64_t id, struct token_info *out);

#endif
