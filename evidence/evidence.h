/*
 * evidence/evidence.h - the evidence store.
 *
 * An append-only log of entries. Each entry is one canonical JSON object
 * (RFC 8785; lib/jcs.h):
 *
 *   {"body":{...},"kind":"consent","received":"2026-11-22T07:26:17.123456Z",
 *    "seq":42,"source":"api:crm","time":"2026-11-21T23:00:00Z"}
 *
 * stored and handed out byte for byte. seq starts at 1 and has no gaps.
 * Over the entries the store keeps
 *   - leaf hashes        L(n) = SHA-256(0x00 || entry bytes)
 *   - the Merkle tree    of RFC 9162 section 2.1.1 over L(1..N)
 *   - the chain hash     C(0) = 32 zero bytes, C(n) = SHA-256(C(n-1) || L(n))
 *   - checkpoints        C2SP signed notes (origin, size, root, "chain" line)
 *                        signed with the store's Ed25519 key; each one is
 *                        also appended as an entry of kind "checkpoint".
 * docs/EVIDENCE-FORMAT.md states the format for outside verifiers.
 *
 * The store knows nothing of mail or policies: a body is opaque canonical
 * JSON to it. Higher layers keep derived state (consent, suppression,
 * accounts) in their own tables through indexers that the store calls
 * inside each append transaction and replays on reindex. Those tables live
 * in a second database file, state.db, attached to every connection as the
 * schema "state" (indexers create their tables as state.NAME; queries may
 * leave the schema out). It has 8 KiB pages and no fsync of its own: a
 * batch touches state rows scattered over the whole table, one page each,
 * which in the log's 16 KiB pages made most of every commit's writes
 * (4 KiB pages write less still but slow the gate's lookups by a third);
 * and state can always be rebuilt from the log. Each indexer's row in
 * state.indexed says up to which seq its tables reflect the log; it
 * commits with them (SQLite commits the log's file first, then state.db,
 * in the same transaction). A writable open replays
 * whatever the log holds beyond it (a commit cut off between the two
 * files, a power loss, an append by a program that registered no
 * indexer), and rebuilds the whole state when state.db is missing (or
 * damaged: it is moved aside to state.db.damaged). A read-only open that
 * cannot attach state.db attaches none: queries of derived state then
 * fail ("no such table"), reading the log does not.
 * The store itself owns a full-text index and a (kind, time) catalog; both
 * are rebuilt from the entries and may lag behind appends (see
 * evidence_catchup()).
 *
 * Concurrency: one struct evidence_store is one SQLite connection, for one
 * thread at a time. Several processes and connections may append at once;
 * appends serialise on SQLite's write lock (WAL mode) and each batch is one
 * transaction: all of it is in the log, or none of it.
 *
 * Errors: 0 on success, a negative AK_* code (lib/error.h) with a message.
 * Memory: what comes back through an out parameter belongs to the caller
 * and is freed as the function's comment says; pointers in callback
 * structures are borrowed for the duration of the callback.
 */
#ifndef EVIDENCE_H
#define EVIDENCE_H

#include "lib/buf.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define EVIDENCE_HASH_LEN 32
#define EVIDENCE_KIND_MAX 32
#define EVIDENCE_ORIGIN_MAX 255

/* Names of files in a store directory. */
#define EVIDENCE_DB_FILE "akashi.db"
#define EVIDENCE_STATE_FILE "state.db" /* derived state: may be deleted, is rebuilt */
#define EVIDENCE_KEY_FILE "key.pem"

struct evidence_store;

/* ---- hashing (pure functions, also used by offline verifiers) ---- */

struct evidence_hasher; /* a reusable SHA-256 context */

int evidence_hasher_new(struct evidence_hasher **out);
void evidence_hasher_free(struct evidence_hasher *h);

/* SHA-256(0x00 || data) */
int evidence_leaf_hash(struct evidence_hasher *h, const void *data, size_t len,
		       unsigned char out[EVIDENCE_HASH_LEN]);
/* SHA-256(0x01 || left || right) */
int evidence_node_hash(struct evidence_hasher *h, const unsigned char left[EVIDENCE_HASH_LEN],
		       const unsigned char right[EVIDENCE_HASH_LEN],
		       unsigned char out[EVIDENCE_HASH_LEN]);
/* SHA-256(prev || leaf) */
int evidence_chain_hash(struct evidence_hasher *h, const unsigned char prev[EVIDENCE_HASH_LEN],
			const unsigned char leaf[EVIDENCE_HASH_LEN],
			unsigned char out[EVIDENCE_HASH_LEN]);

/* The Merkle tree hash of n leaf hashes (RFC 9162 MTH; n = 0 gives
 * SHA-256 of the empty string). */
int evidence_mth(struct evidence_hasher *h, const unsigned char (*leaves)[EVIDENCE_HASH_LEN],
		 size_t n, unsigned char out[EVIDENCE_HASH_LEN]);

/* RFC 9162 section 2.1.3.2: does path prove leaf index (0-based) in a tree
 * of size with this root? 0 if it does, AK_ETAMPERED if not (message says
 * why), AK_EINVALID for impossible arguments. */
int evidence_verify_inclusion(struct evidence_hasher *h, uint64_t index, uint64_t size,
			      const unsigned char leaf[EVIDENCE_HASH_LEN],
			      const unsigned char (*path)[EVIDENCE_HASH_LEN], size_t path_len,
			      const unsigned char root[EVIDENCE_HASH_LEN]);

/* RFC 9162 section 2.1.4.2: does path prove the tree of old_size with
 * old_root is a prefix of the tree of new_size with new_root? */
int evidence_verify_consistency(struct evidence_hasher *h, uint64_t old_size, uint64_t new_size,
				const unsigned char old_root[EVIDENCE_HASH_LEN],
				const unsigned char new_root[EVIDENCE_HASH_LEN],
				const unsigned char (*path)[EVIDENCE_HASH_LEN], size_t path_len);

/* ---- checkpoints as text (pure) ---- */

struct evidence_note {
	char origin[EVIDENCE_ORIGIN_MAX + 1];
	uint64_t size;
	unsigned char root[EVIDENCE_HASH_LEN];
	unsigned char chain[EVIDENCE_HASH_LEN];
	unsigned char key_id[4];   /* first four bytes of the key hash */
	unsigned char sig[64];     /* Ed25519 signature over the note body */
	size_t body_len;           /* bytes of the note signed: up to the blank line */
};

/* Parse a signed note (as made by evidence_checkpoint()). AK_EINVALID with
 * the line at fault. */
int evidence_note_parse(const char *text, size_t len, struct evidence_note *out);

/* Verify a signed note against a raw 32-byte Ed25519 public key: key hash
 * and signature. 0, or AK_ETAMPERED saying what does not match. */
int evidence_note_verify(const char *text, size_t len, const unsigned char pub[32],
			 struct evidence_note *out);

/* The key hash of RFC C2SP signed-note for an Ed25519 key:
 * SHA-256(name || "\n" || 0x01 || pub). */
int evidence_key_hash(const char *name, const unsigned char pub[32],
		      unsigned char out[EVIDENCE_HASH_LEN]);

/* Read a PEM SubjectPublicKeyInfo holding an Ed25519 key into 32 raw bytes. */
int evidence_pubkey_from_pem(const char *pem, size_t len, unsigned char out[32]);

/* ---- opening and creating ---- */

/* Create a store in dir (created if missing, mode 0700): the database and a
 * new Ed25519 key (key.pem, mode 0600). origin names the log in checkpoints
 * (printable ASCII, no spaces or '+'; NULL: host name + "/akashi").
 * AK_EEXISTS when dir already holds a store (nothing is changed then). */
int evidence_init(const char *dir, const char *origin);

enum evidence_open_flags {
	EVIDENCE_READONLY = 1, /* no writes; the key is not loaded */
};

/* Open an existing store. AK_ENOTFOUND when dir holds none. Close with
 * evidence_close(). */
int evidence_open(struct evidence_store **out, const char *dir, int flags);
void evidence_close(struct evidence_store *st);

const char *evidence_origin(const struct evidence_store *st); /* borrowed */
const char *evidence_dir(const struct evidence_store *st);    /* borrowed */
/* NULL when state.db is attached. Otherwise (only on a read-only open of
 * a store whose state.db is missing or damaged) why, borrowed: derived
 * state cannot be read then, the log can. */
const char *evidence_state_missing(const struct evidence_store *st);

/* The SQLite connection, for indexers and higher layers' own tables.
 * Borrowed; never close it. Do not touch the store's own tables
 * (meta, keys, entries, tree, head, checkpoints, dedupe, catalog, fts, derived). */
sqlite3 *evidence_db(struct evidence_store *st);

/* Number of entries (the tree size). */
int evidence_size(struct evidence_store *st, int64_t *out);

/* ---- appending ---- */

struct evidence_record {
	const char *kind;      /* [a-z][a-z0-9_]*, at most EVIDENCE_KIND_MAX bytes */
	int64_t time_us;       /* event time, microseconds since the epoch, UTC */
	const char *source;    /* UTF-8 */
	size_t source_len;
	const char *body;      /* a canonical JSON object (lib/jcs.h), not checked */
	size_t body_len;
	/* Identity for idempotent ingest: records of the same kind, time and
	 * dedupe material are one record; a second one is counted as a
	 * duplicate and not appended. NULL: never a duplicate. */
	const void *dedupe;
	size_t dedupe_len;
	/* Nonzero when the dedupe material stands for the source and body
	 * through a hash rather than being the source's own event id: such a
	 * record is a duplicate only if a stored entry under its key also has
	 * the same kind, time, source and body bytes. A different record that
	 * shares the key (a hash collision, chosen or not) is appended. */
	int dedupe_confirm;
	/* The body already parsed (a const struct ak_jv *), handed to
	 * indexers so they need not parse it again; may be NULL. */
	const void *parsed;
	/* A record that only counts if a fact is not in the log yet (a
	 * repeated opt-out, say): wanted(wanted_arg, db) is called inside
	 * the append transaction, after every earlier record of the batch
	 * is in and indexed, on the store's connection (read derived state
	 * there, write nothing). 1: append it; 0: leave it out, counted with
	 * the duplicates (seq 0); < 0: an error that fails the batch. NULL:
	 * always appended. The appender takes no such record. */
	int (*wanted)(void *wanted_arg, sqlite3 *db);
	void *wanted_arg;
};

struct evidence_append_result {
	size_t appended;
	size_t duplicates;
	int64_t first_seq; /* seqs given to this batch; 0 when none */
	int64_t last_seq;
	int64_t size;      /* the log's size after the batch */
};

/* Append n records in one transaction. seqs (optional, n slots) receives
 * each record's seq, or 0 for a duplicate. If any indexer fails the batch
 * is rolled back and nothing is appended. AK_EBUSY when the write lock
 * stays taken past the busy timeout. */
int evidence_append(struct evidence_store *st, const struct evidence_record *recs, size_t n,
		    int64_t *seqs, struct evidence_append_result *out);

/* Append one record of kind from source, its body the canonical JSON
 * body[0..len), timed now (the store's own records: audits, reports,
 * exports). seq (optional) receives its seq. As evidence_append(). */
int evidence_append_now(struct evidence_store *st, const char *kind, const char *source,
			const char *body, size_t len, int64_t *seq);

/* A stream of records appended in batches of `batch`, each batch one
 * transaction, with the next batch prepared (entries assembled, leaf,
 * chain and tree hashes, dedupe keys) on the caller's thread while a writer
 * thread commits the previous one: the CPU work hides behind the fsync of
 * each commit. Results are exactly those of evidence_append() batch by
 * batch (if another process appends meanwhile, or a record turns out to be
 * a duplicate, that batch is redone inside its transaction).
 *
 * While an appender exists its writer thread owns st: the caller must not
 * use st until evidence_appender_finish() has returned. Records are copied
 * on add; their parsed pointer is not passed on. */
struct evidence_appender;

int evidence_appender_new(struct evidence_appender **out, struct evidence_store *st,
			  size_t batch);
/* Add one record (copied). Returns the writer's error, if one happened. */
int evidence_appender_add(struct evidence_appender *a, const struct evidence_record *r);
/* Commit what is left, stop the writer, and sum up every batch. */
int evidence_appender_finish(struct evidence_appender *a, struct evidence_append_result *out);
/* Free (after finish, or to abandon: the batch being written completes,
 * nothing further is appended). */
void evidence_appender_free(struct evidence_appender *a);

/* WAL pages copied into the database files (akashi.db and state.db) on a
 * thread of its own, while one writer thread goes on committing on st
 * (SQLite would otherwise do it inside the commit that crosses its
 * threshold, holding the writer up). Past 64 MiB in either log, the
 * writer is held between two transactions while the logs are reset. The
 * writer calls enter() before each write transaction (or run of them) and
 * leave() after. While the
 * copier runs, st's own automatic checkpoints are off; stop() turns them
 * back on. start() fails (and changes nothing) when no second connection
 * can be made; on a read-only store it succeeds with *out NULL (there is
 * no log to copy). enter, leave and stop accept NULL. stop() frees c. */
struct evidence_walcopy;

int evidence_walcopy_start(struct evidence_walcopy **out, struct evidence_store *st);
void evidence_walcopy_enter(struct evidence_walcopy *c);
void evidence_walcopy_leave(struct evidence_walcopy *c);
void evidence_walcopy_stop(struct evidence_walcopy *c);

/* ---- reading ---- */

struct evidence_entry {
	int64_t seq;
	const char *kind;
	int64_t time_us;
	const char *bytes; /* the canonical entry, exactly as hashed */
	size_t len;
	const char *body;  /* the body object inside bytes */
	size_t body_len;
	const void *parsed; /* as in evidence_record, or NULL */
};

struct evidence_filter {
	const char *kind;   /* NULL: every kind */
	int64_t from_seq;   /* 0: from the start */
	int64_t to_seq;     /* 0: to the end (inclusive) */
	int64_t since_us;   /* event time >= since (when has_since) */
	int64_t until_us;   /* event time <  until (when has_until) */
	int has_since, has_until;
	/* Entries may come in event-time order (kind, time, seq) instead of
	 * seq order: spares sorting a large selection. */
	int by_time;
	/* A reader thread steps the query while cb runs on the caller's
	 * thread. Only for callbacks that do not use the store (its
	 * connection belongs to the reader for the scan). */
	int pipelined;
};

/* Call cb for every entry matching f, in seq order (or see by_time). cb returns 0 to go on,
 * 1 to stop early (evidence_scan then returns 0), negative to fail. */
typedef int (*evidence_entry_cb)(void *ctx, const struct evidence_entry *e);
int evidence_scan(struct evidence_store *st, const struct evidence_filter *f, evidence_entry_cb cb,
		  void *ctx);

/* The entry bytes of seq appended to out. AK_ENOTFOUND. */
int evidence_get(struct evidence_store *st, int64_t seq, struct ak_buf *out);

/* Locate the body inside canonical entry bytes. 0 or AK_EINVALID. */
int evidence_entry_body(const char *bytes, size_t len, const char **body, size_t *body_len);

/* ---- derived state ---- */

struct evidence_indexer {
	const char *name;
	/* Kinds this indexer wants (NULL-terminated), or NULL for all. */
	const char *const *kinds;
	/* Create tables (in the schema "state") if missing; called by
	 * evidence_add_indexer on a writable store. */
	int (*setup)(sqlite3 *db, void *ctx);
	/* Empty the tables before a rebuild. */
	int (*reset)(sqlite3 *db, void *ctx);
	/* Index one entry; called inside the append transaction, in seq order. */
	int (*index)(sqlite3 *db, const struct evidence_entry *e, void *ctx);
	/* Release ctx (called by evidence_close(); may be NULL). */
	void (*close)(void *ctx);
	void *ctx;
};

/* Register an indexer (the struct is copied; ctx stays the caller's). On
 * a writable store its tables are brought up to the log first: built from
 * the whole log when they are new or ahead of it, fed the entries they miss
 * when behind. */
int evidence_add_indexer(struct evidence_store *st, const struct evidence_indexer *ix);

/* Bring the catalog up to date, then the full-text index: at most max
 * entries of the index (0: all) in transactions of a few thousand, and
 * at most 20 * max of the catalog (its entries cost a twentieth). *upto
 * (optional) gets the seq the full-text index now covers. */
int evidence_catchup(struct evidence_store *st, int64_t max, int64_t *upto);

/* Bring the (kind, time) catalog alone up to date: a few seconds for
 * millions of entries, where the full-text index takes minutes. Scans by
 * kind or time use the catalog for what it covers. Nothing on a read-only
 * store. */
int evidence_catalog_catchup(struct evidence_store *st);

/* Drop and rebuild all derived state (full-text index, catalog, and every
 * registered indexer) from the entries. progress (optional) is called now
 * and then with the seq reached. */
int evidence_reindex(struct evidence_store *st, void (*progress)(void *ctx, int64_t seq, int64_t size),
		     void *ctx);

/* Full-text search (SQLite FTS5, trigram tokens: substrings of 3+
 * characters, any script) over the string values of every entry. Brings
 * the index up to date first when the store is writable. Results in seq
 * order, at most limit (0: no limit), optionally of one kind.
 * AK_EINVALID with a plain message for a query FTS5 cannot parse. */
int evidence_search(struct evidence_store *st, const char *query, const char *kind, int64_t limit,
		    evidence_entry_cb cb, void *ctx);

/* ---- proofs ---- */

/* The Merkle root of the first size entries (size <= evidence_size). */
int evidence_root(struct evidence_store *st, int64_t size, unsigned char out[EVIDENCE_HASH_LEN]);

/* Inclusion proof of entry seq in the tree of size entries (RFC 9162
 * 2.1.3.1 PATH order, leaf first). *path is malloc'd: free() it. */
int evidence_prove_inclusion(struct evidence_store *st, int64_t seq, int64_t size,
			     unsigned char leaf[EVIDENCE_HASH_LEN],
			     unsigned char (**path)[EVIDENCE_HASH_LEN], size_t *path_len);

/* Consistency proof between tree sizes old_size <= new_size (RFC 9162
 * 2.1.4.1). *path is malloc'd: free() it. */
int evidence_prove_consistency(struct evidence_store *st, int64_t old_size, int64_t new_size,
			       unsigned char (**path)[EVIDENCE_HASH_LEN], size_t *path_len);

/* ---- checkpoints ---- */

struct evidence_checkpoint {
	int64_t size;
	unsigned char root[EVIDENCE_HASH_LEN];
	unsigned char chain[EVIDENCE_HASH_LEN];
	int64_t made_us;
	int64_t entry_seq; /* the seq of its "checkpoint" entry */
	char *note;        /* the signed note text (malloc'd) */
};

void evidence_checkpoint_clear(struct evidence_checkpoint *cp);

/* Sign a checkpoint for the current size and append its entry, in one
 * transaction; or, when nothing but that checkpoint's own entry was
 * appended since the latest checkpoint, give the latest. *created says
 * which. Needs a writable store (the key). Clear out with
 * evidence_checkpoint_clear(). */
int evidence_checkpoint(struct evidence_store *st, struct evidence_checkpoint *out, int *created);

/* The latest checkpoint; AK_ENOTFOUND when none was made yet. */
int evidence_checkpoint_latest(struct evidence_store *st, struct evidence_checkpoint *out);

/* The checkpoint of exactly this size; AK_ENOTFOUND. */
int evidence_checkpoint_get(struct evidence_store *st, int64_t size,
			    struct evidence_checkpoint *out);

/* Every checkpoint, oldest first. The struct passed to cb is borrowed. */
int evidence_checkpoint_list(struct evidence_store *st,
			     int (*cb)(void *ctx, const struct evidence_checkpoint *cp), void *ctx);

/* The store's public key: PEM SubjectPublicKeyInfo appended to out, and/or
 * the raw 32 bytes (either may be NULL). */
int evidence_public_key(struct evidence_store *st, struct ak_buf *pem, unsigned char raw[32]);

/* ---- verification ---- */

struct evidence_verify_result {
	int64_t entries;      /* entries checked */
	int64_t checkpoints;  /* checkpoints whose root, chain and signature held */
	int64_t first_bad_seq; /* 0 when none is at fault, or the problem is not one entry's */
	unsigned char root[EVIDENCE_HASH_LEN];
	unsigned char chain[EVIDENCE_HASH_LEN];
};

/* Recompute everything from the stored entry bytes: every seq present once
 * and in order, each entry canonical and carrying its own seq, every leaf
 * hash, the chain, every stored tree node, the head, and the root, chain and
 * signature of every checkpoint. 0 when all holds; AK_ETAMPERED with a
 * message naming the first bad seq and what is wrong. progress as in
 * evidence_reindex(). */
int evidence_verify(struct evidence_store *st, struct evidence_verify_result *out,
		    void (*progress)(void *ctx, int64_t seq, int64_t size), void *ctx);

#endif
