/*
 * evidence/store.c - creating and opening a store: the directory, the
 * SQLite schema, the Ed25519 key, and the small helpers every other file of
 * evidence/ uses (statements, transactions, the head row).
 *
 * A store directory holds
 *   akashi.db   SQLite in WAL mode, synchronous=FULL: a commit is durable
 *               when it returns;
 *   key.pem     the Ed25519 signing key (PKCS#8), mode 0600.
 * The schema version is recorded in meta(format); opening a store of
 * another format is refused rather than guessed at.
 */
#include "evidence/evidence_int.h"

#include "lib/error.h"
#include "lib/log.h"
#include "lib/timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORMAT "akashi-evidence-1"
#define BUSY_TIMEOUT_MS 60000

static const char schema[] =
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
        "CREATE TABLE keys(key_hash BLOB PRIMARY KEY, name TEXT NOT NULL,"
        " pubkey BLOB NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID;"
        /* leaf before bytes: proofs read leaves without touching the
         * overflow pages of large entries. */
        "CREATE TABLE entries(seq INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
        " time INTEGER NOT NULL, leaf BLOB NOT NULL, bytes BLOB NOT NULL);"
        "CREATE TABLE tree(level INTEGER NOT NULL, idx INTEGER NOT NULL,"
        " hash BLOB NOT NULL, PRIMARY KEY(level, idx)) WITHOUT ROWID;"
        "CREATE TABLE head(id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL,"
        " chain BLOB NOT NULL, frontier BLOB NOT NULL, received INTEGER NOT NULL);"
        "INSERT INTO head VALUES(1, 0, zeroblob(32), x'', 0);"
        "CREATE TABLE checkpoints(size INTEGER PRIMARY KEY, root BLOB NOT NULL,"
        " chain BLOB NOT NULL, made INTEGER NOT NULL, note TEXT NOT NULL,"
        " entry_seq INTEGER NOT NULL);"
        /* Dedupe keys start with the event time, so keys of a time-ordered
         * input land at the end of the b-tree instead of all over it. seq is
         * the entry the key was made for: NULL in a store written before it
         * was kept (dedupe_upgrade()). */
        "CREATE TABLE dedupe(key BLOB PRIMARY KEY, seq INTEGER) WITHOUT ROWID;"
        /* The rare second record under a key (evidence_dedupe_confirm()). */
        "CREATE TABLE dedupe_more(key BLOB NOT NULL, seq INTEGER NOT NULL,"
        " PRIMARY KEY(key, seq)) WITHOUT ROWID;"
        "CREATE TABLE catalog(kind TEXT NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL,"
        " PRIMARY KEY(kind, time, seq)) WITHOUT ROWID;"
        "CREATE INDEX catalog_time ON catalog(time, seq);"
        "CREATE VIRTUAL TABLE fts USING fts5(text, content='', tokenize='trigram');"
        "CREATE TABLE derived(name TEXT PRIMARY KEY, upto INTEGER NOT NULL) WITHOUT ROWID;"
        "INSERT INTO derived VALUES('fts', 0);"
        "INSERT INTO derived VALUES('catalog', 0);";

int evidence_sqlerr(struct evidence_store *st, const char *what)
{
	int code = sqlite3_errcode(st->db);

	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		return ak_error_code(AK_EBUSY, "%s: the store is busy (another writer held "
					       "the lock for %d s)",
				     what, BUSY_TIMEOUT_MS / 1000);
	if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
		return ak_error_code(AK_ETAMPERED, "%s: the database file is damaged: %s", what,
				     sqlite3_errmsg(st->db));
	return ak_error_set("%s: %s", what, sqlite3_errmsg(st->db));
}

int evidence_stmt(struct evidence_store *st, sqlite3_stmt **slot, const char *sql)
{
	if (*slot) {
		sqlite3_reset(*slot);
		sqlite3_clear_bindings(*slot);
		return 0;
	}
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) !=
	    SQLITE_OK)
		return evidence_sqlerr(st, "preparing a statement");
	return 0;
}

int evidence_exec(struct evidence_store *st, const char *sql)
{
	char *msg = NULL;
	int rc;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	rc = sqlite3_errcode(st->db) == SQLITE_BUSY ? AK_EBUSY : AK_ERROR;
	ak_error_code(rc, "%s", msg ? msg : sqlite3_errmsg(st->db));
	sqlite3_free(msg);
	return rc;
}

int evidence_begin(struct evidence_store *st)
{
	if (st->readonly)
		return ak_error_set("the store is open read-only");
	/* IMMEDIATE takes the write lock now, so the head we read next cannot
	 * change under us. */
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return evidence_sqlerr(st, "starting a transaction");
	return 0;
}

int evidence_commit(struct evidence_store *st)
{
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		int rc = evidence_sqlerr(st, "commit");

		evidence_rollback(st);
		return rc;
	}
	return 0;
}

void evidence_rollback(struct evidence_store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int evidence_head_get(struct evidence_store *st, struct evidence_head *head)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = evidence_stmt(st, &st->st_head_get,
				"SELECT size, chain, frontier, received FROM head WHERE id = 1")) != 0)
		return rc;
	s = st->st_head_get;
	if (sqlite3_step(s) != SQLITE_ROW) {
		rc = sqlite3_errcode(st->db) == SQLITE_DONE || sqlite3_errcode(st->db) == SQLITE_OK
			     ? ak_error_code(AK_ETAMPERED, "the head row of the store is missing")
			     : evidence_sqlerr(st, "reading the head");
		sqlite3_reset(s);
		return rc;
	}
	head->size = sqlite3_column_int64(s, 0);
	if (sqlite3_column_bytes(s, 1) != EVIDENCE_HASH_LEN) {
		sqlite3_reset(s);
		return ak_error_code(AK_ETAMPERED, "the stored chain hash is not 32 bytes");
	}
	memcpy(head->chain, sqlite3_column_blob(s, 1), EVIDENCE_HASH_LEN);
	rc = evidence_frontier_load(&head->frontier, head->size, sqlite3_column_blob(s, 2),
				    (size_t)sqlite3_column_bytes(s, 2));
	head->received_us = sqlite3_column_int64(s, 3);
	sqlite3_reset(s);
	return rc;
}

int evidence_head_put(struct evidence_store *st, const struct evidence_head *head)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = evidence_stmt(st, &st->st_head_put,
				"UPDATE head SET size = ?, chain = ?, frontier = ?, received = ? "
				"WHERE id = 1")) != 0)
		return rc;
	s = st->st_head_put;
	sqlite3_bind_int64(s, 1, head->size);
	sqlite3_bind_blob(s, 2, head->chain, EVIDENCE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, head->frontier.hash,
			  head->frontier.n * EVIDENCE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, head->received_us);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : evidence_sqlerr(st, "writing the head");
	sqlite3_reset(s);
	/* The registered indexers ran on every entry up to here. */
	return rc != 0 ? rc : evidence_mark_indexed(st, head->size);
}

static int valid_origin(const char *o)
{
	size_t i, n = strlen(o);

	if (n == 0 || n > EVIDENCE_ORIGIN_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (o[i] <= ' ' || o[i] > '~' || o[i] == '+')
			return 0;
	return 1;
}

static char *path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static int raw_public_key(EVP_PKEY *key, unsigned char pub[32])
{
	size_t len = 32;

	if (EVP_PKEY_get_raw_public_key(key, pub, &len) != 1 || len != 32)
		return ak_error_set("OpenSSL: cannot read the Ed25519 public key");
	return 0;
}

/* Write the private key to path with mode 0600, refusing to replace a file. */
static int write_key(const char *path, EVP_PKEY *key)
{
	int fd, rc = 0;
	FILE *f;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return ak_error_code(errno == EEXIST ? AK_EEXISTS : AK_ERROR, "%s: %s", path,
				     strerror(errno));
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		return ak_error_set("%s: %s", path, strerror(errno));
	}
	if (PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1)
		rc = ak_error_set("%s: cannot write the key", path);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = ak_error_set("%s: %s", path, strerror(errno));
	if (fclose(f) != 0 && rc == 0)
		rc = ak_error_set("%s: %s", path, strerror(errno));
	return rc;
}

static int load_key(const char *path, EVP_PKEY **out)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *key;
	struct stat sb;

	if (f == NULL)
		return ak_error_code(errno == ENOENT ? AK_ENOTFOUND : AK_ERROR,
				     "%s: %s", path, strerror(errno));
	if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & 077) != 0) {
		fclose(f);
		return ak_error_set("%s: the signing key is readable by others (mode %03o); "
				    "chmod 600 it",
				    path, (unsigned)(sb.st_mode & 0777));
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(key);
		return ak_error_set("%s: not an Ed25519 private key", path);
	}
	*out = key;
	return 0;
}

/* SQLite's memory statistics take one process-wide mutex on every
 * allocation and free, which the daemon's writer, reader, alerts and WAL
 * copier threads then contend for (HTTP ingest ran 6-20% faster without
 * them). akashi reads none of those statistics. This must precede SQLite's
 * initialisation; where something else initialised it first the call
 * fails harmlessly and the statistics stay on. */
static void sqlite_setup(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* One ATTACH of path as "state" (set up for writing unless readonly): 0,
 * or SQLite's result code with the error set and nothing attached. */
static int try_attach(sqlite3 *db, const char *path, int readonly)
{
	char *q;
	int rc;

	/* ATTACH opens with the connection's flags, which do not create
	 * files; an empty file is an empty database. */
	if (!readonly) {
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0) {
			ak_error_set("%s: %s", path, strerror(errno));
			return SQLITE_CANTOPEN;
		}
		close(fd);
	}
	/* page_size counts only while the file is empty: a new state.db. */
	q = sqlite3_mprintf("ATTACH %Q AS state;%s", path,
			    readonly ? ""
				     : "PRAGMA state.page_size=8192; PRAGMA state.journal_mode=WAL;"
				       "PRAGMA state.synchronous=NORMAL;"
				       "CREATE TABLE IF NOT EXISTS state.indexed(name TEXT PRIMARY KEY,"
				       " upto INTEGER NOT NULL) WITHOUT ROWID;");
	if (q == NULL) {
		ak_error_oom();
		return SQLITE_NOMEM;
	}
	if (sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK) {
		sqlite3_free(q);
		return 0;
	}
	sqlite3_free(q);
	rc = sqlite3_errcode(db);
	ak_error_set("%s: %s", path, sqlite3_errmsg(db));
	if (sqlite3_db_filename(db, "state") != NULL)
		sqlite3_exec(db, "DETACH state", NULL, NULL, NULL);
	return rc ? rc : SQLITE_ERROR;
}

int evidence_attach_state(sqlite3 *db, const char *dir, int readonly, char *why, size_t cap)
{
	char *path = path_join(dir, EVIDENCE_STATE_FILE);
	int rc;

	if (why && cap)
		why[0] = '\0';
	if (path == NULL)
		return ak_error_oom();
	if (readonly && access(path, F_OK) != 0) {
		if (why)
			snprintf(why, cap, "%s: no such file", path);
		free(path);
		return 0;
	}
	rc = try_attach(db, path, readonly);
	if (rc != 0 && readonly) {
		/* The log is readable without it (log, verify, prove): go on. */
		if (why)
			snprintf(why, cap, "%s", ak_error_last());
		rc = 0;
	} else if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT) {
		/* Derived state only: keep the damaged file aside for a look
		 * and start a new one, which the indexers rebuild from the
		 * log when they are registered. */
		static const char *const sides[] = {"", "-wal", "-shm"};
		char from[4200], to[4300];
		size_t i;

		ak_log(AK_LOG_WARN, "%s; moved aside to %s.damaged, rebuilding it from the log",
		       ak_error_last(), path);
		for (i = 0; i < sizeof(sides) / sizeof(*sides); i++) {
			snprintf(from, sizeof(from), "%s%s", path, sides[i]);
			snprintf(to, sizeof(to), "%s.damaged%s", path, sides[i]);
			if (rename(from, to) != 0 && errno != ENOENT) {
				rc = ak_error_set("%s: cannot move it aside: %s", from,
						  strerror(errno));
				free(path);
				return rc;
			}
		}
		rc = try_attach(db, path, readonly);
	}
	free(path);
	return rc ? AK_ERROR : 0;
}

static int open_db(struct evidence_store *st, const char *dir, const char *path, int create)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	int flags = st->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;

	pthread_once(&once, sqlite_setup);

	if (create)
		flags |= SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(path, &st->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		return ak_error_code(st->db ? AK_ERROR : AK_ENOMEM, "%s: %s", path,
				     st->db ? sqlite3_errmsg(st->db) : "out of memory");
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(st->db, 0);
	if (!st->readonly &&
	    evidence_exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;") != 0) {
		ak_error_prefix("%s", path);
		return AK_ERROR;
	}
	return evidence_attach_state(st->db, dir, st->readonly, st->no_state,
				     sizeof(st->no_state));
}

static void store_free(struct evidence_store *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < st->nix; i++)
		if (st->ix[i].close)
			st->ix[i].close(st->ix[i].ctx);
	sqlite3_finalize(st->st_insert);
	sqlite3_finalize(st->st_dedupe);
	sqlite3_finalize(st->st_dedupe_seqs);
	sqlite3_finalize(st->st_dedupe_more);
	sqlite3_finalize(st->st_entry_get);
	sqlite3_finalize(st->st_tree);
	sqlite3_finalize(st->st_head_get);
	sqlite3_finalize(st->st_head_put);
	sqlite3_finalize(st->st_leaves);
	sqlite3_finalize(st->st_node);
	sqlite3_finalize(st->st_indexed);
	if (st->db)
		sqlite3_close_v2(st->db);
	EVP_PKEY_free(st->key);
	evidence_hasher_free(st->h);
	ak_buf_free(&st->scratch);
	free(st->ix);
	free(st->dir);
	free(st);
}

int evidence_init(const char *dir, const char *origin)
{
	char host[256], def_origin[EVIDENCE_ORIGIN_MAX + 1];
	char *dbpath = NULL, *keypath = NULL;
	struct evidence_store *st = NULL;
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *kctx = NULL;
	unsigned char pub[32], kh[EVIDENCE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	int rc = 0, made_key = 0;

	if (origin == NULL) {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[200] = '\0'; /* leaves room for "/akashi" within the origin limit */
		snprintf(def_origin, sizeof(def_origin), "%.200s/akashi", host);
		origin = def_origin;
	}
	if (!valid_origin(origin))
		return ak_error_code(AK_EINVALID,
				     "origin '%s': use printable ASCII without spaces or '+', "
				     "at most %d bytes",
				     origin, EVIDENCE_ORIGIN_MAX);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return ak_error_set("%s: %s", dir, strerror(errno));
	dbpath = path_join(dir, EVIDENCE_DB_FILE);
	keypath = path_join(dir, EVIDENCE_KEY_FILE);
	if (dbpath == NULL || keypath == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	if (access(dbpath, F_OK) == 0 || access(keypath, F_OK) == 0) {
		rc = ak_error_code(AK_EEXISTS, "%s already holds a store; refusing to overwrite it",
				   dir);
		goto done;
	}
	kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	if (kctx == NULL || EVP_PKEY_keygen_init(kctx) != 1 || EVP_PKEY_keygen(kctx, &key) != 1) {
		rc = ak_error_set("OpenSSL: cannot make an Ed25519 key");
		goto done;
	}
	if ((rc = raw_public_key(key, pub)) != 0 || (rc = evidence_key_hash(origin, pub, kh)) != 0)
		goto done;
	if ((rc = write_key(keypath, key)) != 0)
		goto done;
	made_key = 1;
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	if ((rc = open_db(st, dir, dbpath, 1)) != 0)
		goto done;
	/* Larger pages: an entry is a few hundred bytes and a batch writes a
	 * few hundred kilobytes, which 16 KiB pages do in a quarter of the
	 * write calls (each a system call on the commit path). Set before the
	 * first table exists; WAL mode keeps it. */
	if ((rc = evidence_exec(st, "PRAGMA journal_mode=DELETE; PRAGMA page_size=16384; "
				    "VACUUM; PRAGMA journal_mode=WAL")) != 0)
		goto done;
	/* One transaction: a crash leaves either no schema or all of it. */
	if ((rc = evidence_exec(st, "BEGIN")) != 0 || (rc = evidence_exec(st, schema)) != 0)
		goto done;
	if (sqlite3_prepare_v2(st->db, "INSERT INTO meta VALUES('format', ?), ('origin', ?),"
				       " ('created', ?)",
			       -1, &s, NULL) != SQLITE_OK) {
		rc = evidence_sqlerr(st, "init");
		goto done;
	}
	sqlite3_bind_text(s, 1, FORMAT, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, ak_time_now());
	if (sqlite3_step(s) != SQLITE_DONE) {
		rc = evidence_sqlerr(st, "init");
		goto done;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(st->db, "INSERT INTO keys VALUES(?, ?, ?, ?)", -1, &s, NULL) !=
	    SQLITE_OK) {
		rc = evidence_sqlerr(st, "init");
		goto done;
	}
	sqlite3_bind_blob(s, 1, kh, 4, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, origin, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, pub, 32, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, ak_time_now());
	if (sqlite3_step(s) != SQLITE_DONE) {
		rc = evidence_sqlerr(st, "init");
		goto done;
	}
	rc = evidence_exec(st, "COMMIT");
done:
	sqlite3_finalize(s);
	if (rc != 0 && st && st->db)
		evidence_rollback(st);
	store_free(st);
	if (rc != 0 && rc != AK_EEXISTS) {
		/* Leave nothing half-made behind. */
		if (dbpath) {
			static const char *const files[] = {EVIDENCE_DB_FILE, EVIDENCE_STATE_FILE, NULL};
			static const char *const sides[] = {"", "-wal", "-shm", NULL};
			char side[4200];
			int f, i;

			for (f = 0; files[f]; f++)
				for (i = 0; sides[i]; i++) {
					snprintf(side, sizeof(side), "%s/%s%s", dir, files[f],
						 sides[i]);
					unlink(side);
				}
		}
		if (made_key)
			unlink(keypath);
	}
	EVP_PKEY_CTX_free(kctx);
	EVP_PKEY_free(key);
	free(dbpath);
	free(keypath);
	return rc;
}

static int read_meta(struct evidence_store *st, const char *key, char *out, size_t cap)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = ?", -1, &s, NULL) !=
	    SQLITE_OK)
		return evidence_sqlerr(st, "reading meta");
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) == SQLITE_TEXT)
		snprintf(out, cap, "%s", (const char *)sqlite3_column_text(s, 0));
	else
		rc = ak_error_code(AK_ENOTFOUND, "meta '%s' missing", key);
	sqlite3_finalize(s);
	return rc;
}

static int dedupe_has_seq(struct evidence_store *st, int *yes)
{
	sqlite3_stmt *s = NULL;

	*yes = 0;
	if (sqlite3_prepare_v2(
	            st->db, "SELECT count(*) FROM pragma_table_info('dedupe') WHERE name = 'seq'",
	            -1, &s, NULL) != SQLITE_OK)
		return evidence_sqlerr(st, "reading the dedupe table");
	if (sqlite3_step(s) == SQLITE_ROW)
		*yes = sqlite3_column_int(s, 0) > 0;
	sqlite3_finalize(s);
	return 0;
}

/* Stores written before duplicates were confirmed have dedupe(key)
 * alone: add the seq column (NULL for the keys already there, which stay
 * duplicates unconfirmed, as they were) and dedupe_more. Once, under the
 * write lock; a read-only open never appends and needs neither. */
static int dedupe_upgrade(struct evidence_store *st)
{
	int rc, yes;

	if ((rc = dedupe_has_seq(st, &yes)) != 0 || yes)
		return rc;
	if ((rc = evidence_begin(st)) != 0)
		return rc;
	/* Another process may have done it meanwhile. */
	if ((rc = dedupe_has_seq(st, &yes)) == 0 && !yes)
		rc = evidence_exec(st,
		                   "ALTER TABLE dedupe ADD COLUMN seq INTEGER;"
		                   "CREATE TABLE dedupe_more(key BLOB NOT NULL,"
		                   " seq INTEGER NOT NULL, PRIMARY KEY(key, seq)) WITHOUT ROWID;");
	if (rc != 0) {
		evidence_rollback(st);
		ak_error_prefix("upgrading the dedupe table");
		return rc;
	}
	return evidence_commit(st);
}

int evidence_open(struct evidence_store **out, const char *dir, int flags)
{
	struct evidence_store *st = NULL;
	char *dbpath = NULL, *keypath = NULL;
	char format[64];
	int rc = 0;

	dbpath = path_join(dir, EVIDENCE_DB_FILE);
	keypath = path_join(dir, EVIDENCE_KEY_FILE);
	st = calloc(1, sizeof(*st));
	if (dbpath == NULL || keypath == NULL || st == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	st->readonly = (flags & EVIDENCE_READONLY) != 0;
	ak_buf_init(&st->scratch, (size_t)1 << 30);
	if ((st->dir = strdup(dir)) == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	if (access(dbpath, F_OK) != 0) {
		rc = ak_error_code(AK_ENOTFOUND,
				   "no store at %s (create one with 'akashi init', or point "
				   "--store / AKASHI_STORE at it)",
				   dir);
		goto done;
	}
	if ((rc = open_db(st, dir, dbpath, 0)) != 0)
		goto done;
	if ((rc = read_meta(st, "format", format, sizeof(format))) != 0) {
		ak_error_prefix("%s: not an akashi store", dbpath);
		goto done;
	}
	if (strcmp(format, FORMAT) != 0) {
		rc = ak_error_set("%s: store format '%s', this akashi reads '%s'", dbpath, format,
				  FORMAT);
		goto done;
	}
	if ((rc = read_meta(st, "origin", st->origin, sizeof(st->origin))) != 0)
		goto done;
	if ((rc = evidence_hasher_new(&st->h)) != 0)
		goto done;
	if (!st->readonly) {
		if ((rc = load_key(keypath, &st->key)) != 0 ||
		    (rc = raw_public_key(st->key, st->pub)) != 0)
			goto done;
		st->have_pub = 1;
		if ((rc = dedupe_upgrade(st)) != 0)
			goto done;
	}
	*out = st;
	st = NULL;
done:
	store_free(st);
	free(dbpath);
	free(keypath);
	return rc;
}

void evidence_close(struct evidence_store *st)
{
	store_free(st);
}

const char *evidence_origin(const struct evidence_store *st)
{
	return st->origin;
}

const char *evidence_dir(const struct evidence_store *st)
{
	return st->dir;
}

const char *evidence_state_missing(const struct evidence_store *st)
{
	return st->no_state[0] ? st->no_state : NULL;
}

sqlite3 *evidence_db(struct evidence_store *st)
{
	return st->db;
}

int evidence_size(struct evidence_store *st, int64_t *out)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT size FROM head WHERE id = 1", -1, &s, NULL) !=
	    SQLITE_OK)
		return evidence_sqlerr(st, "reading the size");
	if (sqlite3_step(s) == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else
		rc = ak_error_code(AK_ETAMPERED, "the head row of the store is missing");
	sqlite3_finalize(s);
	return rc;
}

/* How far ix's tables reflect the log: its row in state.indexed, -1 when
 * it has none (a new state.db, a store made by an older akashi, a new
 * kind of derived state). */
static int indexed_upto(struct evidence_store *st, const char *name, int64_t *upto)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT upto FROM state.indexed WHERE name = ?", -1, &s,
			       NULL) != SQLITE_OK)
		return evidence_sqlerr(st, "reading index state");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	*upto = -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*upto = sqlite3_column_int64(s, 0);
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : evidence_sqlerr(st, "reading index state");
	sqlite3_finalize(s);
	return rc;
}

/* A writable store meeting an indexer brings its tables up to the log:
 * from the whole log when they are new (or ahead of the log, which only a
 * state.db from elsewhere can be), else from where they stop. Derived
 * state is never partial. */
static int first_meeting(struct evidence_store *st, const struct evidence_indexer *ix)
{
	sqlite3_stmt *s = NULL;
	int64_t upto, size;
	int rc;

	if ((ix->setup && (rc = ix->setup(st->db, ix->ctx)) != 0) ||
	    (rc = indexed_upto(st, ix->name, &upto)) != 0 || (rc = evidence_size(st, &size)) != 0)
		return rc;
	if (upto == size)
		return 0;
	if ((rc = evidence_begin(st)) != 0)
		return rc;
	/* Under the write lock, look again: another process may have done it
	 * meanwhile, or appended. */
	if ((rc = indexed_upto(st, ix->name, &upto)) != 0 || (rc = evidence_size(st, &size)) != 0)
		goto fail;
	if (upto < 0 || upto > size) {
		/* main.derived marked indexers known before state.db existed. */
		if ((rc = evidence_exec(st, "DELETE FROM main.derived WHERE name NOT IN "
					    "('fts', 'catalog')")) != 0 ||
		    (ix->reset && (rc = ix->reset(st->db, ix->ctx)) != 0) ||
		    (rc = evidence_replay(st, ix, 1, 1, NULL, NULL)) != 0)
			goto fail;
	} else if (upto < size && (rc = evidence_replay(st, ix, 1, upto + 1, NULL, NULL)) != 0) {
		goto fail;
	}
	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO state.indexed VALUES(?, ?)", -1, &s,
			       NULL) != SQLITE_OK) {
		rc = evidence_sqlerr(st, "recording index state");
		goto fail;
	}
	sqlite3_bind_text(s, 1, ix->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, size);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : evidence_sqlerr(st, "recording index state");
	sqlite3_finalize(s);
	if (rc != 0)
		goto fail;
	return evidence_commit(st);
fail:
	evidence_rollback(st);
	return rc;
}

int evidence_mark_indexed(struct evidence_store *st, int64_t size)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < st->nix && rc == 0; i++) {
		if ((rc = evidence_stmt(st, &st->st_indexed,
					"UPDATE state.indexed SET upto = ? WHERE name = ?")) != 0)
			return rc;
		sqlite3_bind_int64(st->st_indexed, 1, size);
		sqlite3_bind_text(st->st_indexed, 2, st->ix[i].name, -1, SQLITE_STATIC);
		rc = sqlite3_step(st->st_indexed) == SQLITE_DONE
			     ? 0
			     : evidence_sqlerr(st, "recording index state");
		sqlite3_reset(st->st_indexed);
	}
	return rc;
}

int evidence_add_indexer(struct evidence_store *st, const struct evidence_indexer *ix)
{
	struct evidence_indexer *n;
	int rc;

	if (!st->readonly && (rc = first_meeting(st, ix)) != 0) {
		ak_error_prefix("indexer %s", ix->name);
		return rc;
	}
	/* A reader cannot rebuild: it says when the tables were never made by
	 * this indexer, under this name (a new state.db, or rules changed by
	 * an upgrade since the last writing command). */
	if (st->readonly && !st->no_state[0]) {
		int64_t upto;

		if (indexed_upto(st, ix->name, &upto) == 0 && upto < 0)
			snprintf(st->no_state, sizeof(st->no_state),
			         "%s has no tables made by the rules of '%s' (made by an older "
			         "akashi?)",
			         EVIDENCE_STATE_FILE, ix->name);
		ak_error_clear();
	}
	n = realloc(st->ix, (st->nix + 1) * sizeof(*n));
	if (n == NULL)
		return ak_error_oom();
	st->ix = n;
	st->ix[st->nix++] = *ix;
	return 0;
}

int evidence_sign(struct evidence_store *st, const void *msg, size_t len, unsigned char sig[64])
{
	EVP_MD_CTX *ctx;
	size_t siglen = 64;
	int rc = 0;

	if (st->key == NULL)
		return ak_error_set("the signing key is not loaded (store opened read-only)");
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, NULL, NULL, st->key) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, msg, len) != 1 || siglen != 64)
		rc = ak_error_set("OpenSSL: Ed25519 signing failed");
	EVP_MD_CTX_free(ctx);
	return rc;
}

int evidence_public_key(struct evidence_store *st, struct ak_buf *pem, unsigned char raw[32])
{
	unsigned char pub[32];
	sqlite3_stmt *s = NULL;
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	char *data;
	long n;
	int rc = 0;

	if (st->have_pub) {
		memcpy(pub, st->pub, 32);
	} else {
		/* Read-only: the newest registered key. */
		if (sqlite3_prepare_v2(st->db,
				       "SELECT pubkey FROM keys ORDER BY created DESC LIMIT 1", -1,
				       &s, NULL) != SQLITE_OK)
			return evidence_sqlerr(st, "reading the key");
		if (sqlite3_step(s) != SQLITE_ROW || sqlite3_column_bytes(s, 0) != 32) {
			sqlite3_finalize(s);
			return ak_error_code(AK_ETAMPERED, "the store's public key is missing");
		}
		memcpy(pub, sqlite3_column_blob(s, 0), 32);
		sqlite3_finalize(s);
	}
	if (raw)
		memcpy(raw, pub, 32);
	if (pem == NULL)
		return 0;
	key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	bio = BIO_new(BIO_s_mem());
	if (key == NULL || bio == NULL || PEM_write_bio_PUBKEY(bio, key) != 1) {
		rc = ak_error_set("OpenSSL: cannot write the public key");
		goto done;
	}
	n = BIO_get_mem_data(bio, &data);
	rc = ak_buf_append(pem, data, (size_t)n);
done:
	BIO_free(bio);
	EVP_PKEY_free(key);
	return rc;
}
