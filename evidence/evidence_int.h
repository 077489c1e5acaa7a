/*
 * evidence/evidence_int.h - what the files of evidence/ share and nobody
 * else sees: the store struct, the tree frontier, statement helpers.
 */
#ifndef EVIDENCE_INT_H
#define EVIDENCE_INT_H

#include "evidence/evidence.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

/* Tree nodes are stored for complete subtrees of 2^TILE_LEVEL leaves and
 * above; below that a proof rehashes at most 2^TILE_LEVEL leaf hashes. */
#define EVIDENCE_TILE_LEVEL 8
#define EVIDENCE_TILE ((int64_t)1 << EVIDENCE_TILE_LEVEL)

/* SHA-256 for the many short messages of the format (leaves, nodes, the
 * chain, dedupe keys): OpenSSL's SHA256_* functions, the same code as its
 * EVP digest without the dispatch and context allocation per message,
 * 1.8x as fast for a node's 65 bytes (evidence/merkle.c). */
struct evidence_hasher {
	SHA256_CTX c;
};

/* SHA-256 of a[0..alen) b[0..blen) c[0..clen) (any may be empty). */
int evidence_hash3(struct evidence_hasher *h, const void *a, size_t alen, const void *b,
		   size_t blen, const void *c, size_t clen, unsigned char out[EVIDENCE_HASH_LEN]);

/* The right edge of the tree: the roots of the complete subtrees that make
 * up the first size leaves, largest first (one per set bit of size). */
struct evidence_frontier {
	int64_t size;
	int n;
	unsigned char hash[64][EVIDENCE_HASH_LEN];
};

/* A node completed while pushing a leaf (level >= 1). */
struct evidence_node {
	int level;
	int64_t index;
	unsigned char hash[EVIDENCE_HASH_LEN];
};

/* Push one leaf; completed nodes of level >= EVIDENCE_TILE_LEVEL are
 * written to done[] (room for 64), their count to *ndone. */
int evidence_frontier_push(struct evidence_hasher *h, struct evidence_frontier *f,
			   const unsigned char leaf[EVIDENCE_HASH_LEN], struct evidence_node *done,
			   int *ndone);
/* The Merkle root of the frontier's size. */
int evidence_frontier_root(struct evidence_hasher *h, const struct evidence_frontier *f,
			   unsigned char out[EVIDENCE_HASH_LEN]);
/* Serialise / load (n * 32 bytes; n must match popcount(size)). */
int evidence_frontier_load(struct evidence_frontier *f, int64_t size, const void *blob,
			   size_t len);

struct evidence_indexer_slot {
	struct evidence_indexer ix;
};

struct evidence_store {
	sqlite3 *db;
	char *dir;
	char origin[EVIDENCE_ORIGIN_MAX + 1];
	int readonly;
	char no_state[512]; /* why state.db is not attached (read-only), or "" */
	EVP_PKEY *key;        /* private key; NULL when read-only */
	unsigned char pub[32];
	int have_pub;
	struct evidence_hasher *h;
	struct evidence_indexer *ix;
	size_t nix;
	struct ak_buf scratch; /* entry assembly */
	/* cached statements (prepared on first use) */
	sqlite3_stmt *st_insert, *st_dedupe, *st_tree, *st_head_get, *st_head_put;
	sqlite3_stmt *st_dedupe_seqs, *st_dedupe_more, *st_entry_get; /* confirming duplicates */
	sqlite3_stmt *st_leaves, *st_node; /* proofs */
	sqlite3_stmt *st_indexed;          /* state.indexed upto, by indexer name */
};

/* Prepare sql once into *slot. */
int evidence_stmt(struct evidence_store *st, sqlite3_stmt **slot, const char *sql);
/* Run sql without results; the SQLite message on failure. */
int evidence_exec(struct evidence_store *st, const char *sql);
/* Set the error from the connection's last SQLite error, with context. */
int evidence_sqlerr(struct evidence_store *st, const char *what);

/* The head row inside a transaction. */
struct evidence_head {
	int64_t size;
	unsigned char chain[EVIDENCE_HASH_LEN];
	struct evidence_frontier frontier;
	int64_t received_us;
};
int evidence_head_get(struct evidence_store *st, struct evidence_head *head);
int evidence_head_put(struct evidence_store *st, const struct evidence_head *head);

#define EVIDENCE_DKEY_LEN 16

/* Pieces of the append path, shared by evidence_append() and the
 * pipelined appender (appender.c). */
int evidence_check_record(const struct evidence_record *r, size_t i);
int evidence_dedupe_key(struct evidence_hasher *h, const struct evidence_record *r,
			unsigned char key[EVIDENCE_DKEY_LEN]);
int evidence_assemble(struct ak_buf *b, const struct evidence_record *r, int64_t seq,
		      const char *received, size_t received_len, const char *tm, size_t tm_len);
/* Set head->received_us to now (never earlier than before) and format it. */
int evidence_received_now(struct evidence_head *head, char out[40]);
int evidence_prepare_statements(struct evidence_store *st);
/* 1 if the key was new (now kept for the entry seq), 0 if it was
 * already there, <0 on error. */
int evidence_insert_dedupe(struct evidence_store *st, const unsigned char key[EVIDENCE_DKEY_LEN],
                           int64_t seq);
/* r's key was already there: 1 if r is a duplicate, 0 if it is not (a
 * record with dedupe_confirm whose key no stored entry like it has; the
 * key is then also kept for seq, the entry r will be), <0 on error. tm is
 * r's time as entries spell it. */
int evidence_dedupe_confirm(struct evidence_store *st, const unsigned char key[EVIDENCE_DKEY_LEN],
                            const struct evidence_record *r, int64_t seq, const char *tm,
                            size_t tm_len);
int evidence_insert_nodes(struct evidence_store *st, const struct evidence_node *nodes, size_t n);
/* Insert the entry row and run the indexers on it. */
int evidence_insert_entry(struct evidence_store *st, const struct evidence_entry *e,
			  const unsigned char leaf[EVIDENCE_HASH_LEN]);

/* Append inside an open transaction (the caller holds the write lock). */
int evidence_append_locked(struct evidence_store *st, struct evidence_head *head,
			   const struct evidence_record *recs, size_t n, int64_t *seqs,
			   struct evidence_append_result *out);

/* Transactions. */
int evidence_begin(struct evidence_store *st);
int evidence_commit(struct evidence_store *st);
void evidence_rollback(struct evidence_store *st);

/* Feed the entries from seq `from` on to the indexers ix[0..n) (inside a
 * transaction). */
int evidence_replay(struct evidence_store *st, const struct evidence_indexer *ix, size_t n,
		    int64_t from, void (*progress)(void *ctx, int64_t seq, int64_t size),
		    void *ctx);

/* Attach dir's state.db to db as the schema "state" (see evidence.h):
 * made if missing and set up for writing unless readonly. A file that is
 * not a database (or damaged) is moved aside to state.db.damaged and a new
 * one made, unless readonly. A read-only connection that cannot attach it
 * (missing, damaged) attaches nothing and says why in why (may be NULL). */
int evidence_attach_state(sqlite3 *db, const char *dir, int readonly, char *why, size_t cap);

/* Record that every registered indexer's tables reflect the log up to
 * size (inside the append transaction, with the head). */
int evidence_mark_indexed(struct evidence_store *st, int64_t size);

/* Hash of a complete subtree [a, b) computed from stored nodes and leaves. */
int evidence_subtree_hash(struct evidence_store *st, int64_t a, int64_t b,
			  unsigned char out[EVIDENCE_HASH_LEN]);

/* Sign msg with the store's key (Ed25519). */
int evidence_sign(struct evidence_store *st, const void *msg, size_t len, unsigned char sig[64]);

/* Extract the top-level seq of canonical entry bytes; -1 if not found.
 * received (optional) gets a pointer to the 27 characters of the
 * "received" member (YYYY-MM-DDTHH:MM:SS.ffffffZ, which sort as they come
 * in time), or NULL when it is not right before "seq" in that form. */
int64_t evidence_entry_seq(const char *bytes, size_t len, const char **received);

/* Text of an entry for the full-text index: its kind, source and every
 * string value of its body, space-separated. */
int evidence_fts_text(const char *bytes, size_t len, struct ak_buf *out);

#endif
