/*
 * evidence/append.c - appending entries: seq, received, canonical bytes,
 * leaf, chain, Merkle frontier, stored tree nodes, dedupe keys, and the
 * registered indexers, all in one transaction per batch.
 *
 * The hot path of every ingest runs through evidence_append_locked(), so it
 * avoids per-entry allocation and formatting: the entry is assembled into
 * one reused buffer from pieces (the body is already canonical; kind,
 * received, seq, source and time are written directly), and statements are
 * prepared once per store.
 */
#include "evidence/evidence_int.h"

#include "lib/error.h"
#include "lib/jcs.h"
#include "lib/timefmt.h"

#include <string.h>

static int valid_kind(const char *k)
{
	size_t i;

	if (k == NULL || k[0] < 'a' || k[0] > 'z')
		return 0;
	for (i = 1; k[i]; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return 0;
	return i <= EVIDENCE_KIND_MAX;
}

/* Decimal digits of v (v >= 0) into out; returns the length. */
static size_t put_int(char *out, int64_t v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

/* The dedupe key: event time (big-endian, sign bit flipped so the b-tree
 * orders by time), then 8 bytes of SHA-256 over kind and material. Two
 * different records collide only with the same kind, the same microsecond
 * and a 64-bit hash collision. */
int evidence_dedupe_key(struct evidence_hasher *h, const struct evidence_record *r,
			unsigned char key[EVIDENCE_DKEY_LEN])
{
	static const unsigned char zero = 0;
	unsigned char d[EVIDENCE_HASH_LEN];
	uint64_t t = (uint64_t)r->time_us ^ ((uint64_t)1 << 63);
	int i, rc;

	if ((rc = evidence_hash3(h, r->kind, strlen(r->kind), &zero, 1, r->dedupe, r->dedupe_len,
				 d)) != 0)
		return rc;
	for (i = 0; i < 8; i++)
		key[i] = (unsigned char)(t >> (56 - 8 * i));
	memcpy(key + 8, d, EVIDENCE_DKEY_LEN - 8);
	return 0;
}

int evidence_check_record(const struct evidence_record *r, size_t i)
{
	if (!valid_kind(r->kind))
		return ak_error_code(AK_EINVALID,
				     "record %zu: kind '%s' is not [a-z][a-z0-9_]* of at most %d bytes",
				     i + 1, r->kind ? r->kind : "", EVIDENCE_KIND_MAX);
	if (r->body_len < 2 || r->body[0] != '{' || r->body[r->body_len - 1] != '}')
		return ak_error_code(AK_EINVALID, "record %zu: body is not a JSON object", i + 1);
	return 0;
}

/* Assemble the canonical entry into b. Keys in RFC 8785 order: body,
 * kind, received, seq, source, time. */
int evidence_assemble(struct ak_buf *b, const struct evidence_record *r, int64_t seq,
		      const char *received, size_t received_len, const char *tm, size_t tm_len)
{
	char num[24];
	size_t n;
	int rc;

	if ((rc = ak_buf_append(b, "{\"body\":", 8)) != 0 ||
	    (rc = ak_buf_append(b, r->body, r->body_len)) != 0 ||
	    (rc = ak_buf_append(b, ",\"kind\":\"", 9)) != 0 ||
	    (rc = ak_buf_puts(b, r->kind)) != 0 ||
	    (rc = ak_buf_append(b, "\",\"received\":\"", 14)) != 0 ||
	    (rc = ak_buf_append(b, received, received_len)) != 0 ||
	    (rc = ak_buf_append(b, "\",\"seq\":", 8)) != 0)
		return rc;
	n = put_int(num, seq);
	if ((rc = ak_buf_append(b, num, n)) != 0 ||
	    (rc = ak_buf_append(b, ",\"source\":", 10)) != 0)
		return rc;
	if ((rc = ak_jcs_write_string(b, r->source, r->source_len)) != 0) {
		ak_error_prefix("source");
		return rc;
	}
	if ((rc = ak_buf_append(b, ",\"time\":\"", 9)) != 0 ||
	    (rc = ak_buf_append(b, tm, tm_len)) != 0 || (rc = ak_buf_append(b, "\"}", 2)) != 0)
		return rc;
	return 0;
}

int evidence_prepare_statements(struct evidence_store *st)
{
	int rc;

	if ((rc = evidence_stmt(st, &st->st_insert,
	                        "INSERT INTO entries(seq, kind, time, leaf, bytes) "
	                        "VALUES(?, ?, ?, ?, ?)")) != 0 ||
	    (rc = evidence_stmt(st, &st->st_dedupe,
	                        "INSERT OR IGNORE INTO dedupe(key, seq) VALUES(?, ?)")) != 0 ||
	    (rc = evidence_stmt(st, &st->st_tree,
	                        "INSERT INTO tree(level, idx, hash) VALUES(?, ?, ?)")) != 0)
		return rc;
	return 0;
}

int evidence_insert_dedupe(struct evidence_store *st, const unsigned char key[EVIDENCE_DKEY_LEN],
                           int64_t seq)
{
	int rc;

	sqlite3_bind_blob(st->st_dedupe, 1, key, EVIDENCE_DKEY_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st->st_dedupe, 2, seq);
	rc = sqlite3_step(st->st_dedupe) == SQLITE_DONE ? (sqlite3_changes(st->db) ? 1 : 0)
							: evidence_sqlerr(st, "dedupe");
	sqlite3_reset(st->st_dedupe);
	return rc;
}

/* Is the entry at seq r: the same kind, time, body and source? 1 if so, 0
 * if not (or if there is no such entry), <0 on error. The entry ends with
 * ,"source":<string>,"time":"<tm>"} and a quote inside a JSON string is
 * escaped, so comparing that tail compares the source. */
static int stored_same(struct evidence_store *st, int64_t seq, const struct evidence_record *r,
                       const char *tm, size_t tm_len)
{
	sqlite3_stmt *q;
	const char *bytes, *body;
	size_t len, body_len;
	int rc, same = 0;

	if ((rc = evidence_stmt(st, &st->st_entry_get,
	                        "SELECT kind, time, bytes FROM entries WHERE seq = ?")) != 0)
		return rc;
	q = st->st_entry_get;
	sqlite3_bind_int64(q, 1, seq);
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		rc = rc == SQLITE_DONE ? 0 : evidence_sqlerr(st, "reading an entry");
		sqlite3_reset(q);
		return rc;
	}
	bytes = (const char *)sqlite3_column_blob(q, 2);
	len = (size_t)sqlite3_column_bytes(q, 2);
	ak_buf_reset(&st->scratch);
	if (strcmp((const char *)sqlite3_column_text(q, 0), r->kind) == 0 &&
	    sqlite3_column_int64(q, 1) == r->time_us && bytes &&
	    evidence_entry_body(bytes, len, &body, &body_len) == 0 && body_len == r->body_len &&
	    memcmp(body, r->body, body_len) == 0) {
		struct ak_buf *t = &st->scratch;

		if ((rc = ak_buf_puts(t, ",\"source\":")) != 0 ||
		    (rc = ak_jcs_write_string(t, r->source, r->source_len)) != 0 ||
		    (rc = ak_buf_puts(t, ",\"time\":\"")) != 0 ||
		    (rc = ak_buf_append(t, tm, tm_len)) != 0 || (rc = ak_buf_puts(t, "\"}")) != 0) {
			sqlite3_reset(q);
			return rc;
		}
		same = len >= t->len && memcmp(bytes + len - t->len, t->data, t->len) == 0;
	}
	sqlite3_reset(q);
	return same;
}

int evidence_dedupe_confirm(struct evidence_store *st, const unsigned char key[EVIDENCE_DKEY_LEN],
                            const struct evidence_record *r, int64_t seq, const char *tm,
                            size_t tm_len)
{
	sqlite3_stmt *q;
	int rc, found = 0;

	if (!r->dedupe_confirm)
		return 1;
	if ((rc = evidence_stmt(st, &st->st_dedupe_seqs,
	                        "SELECT seq FROM dedupe WHERE key = ?1 UNION ALL "
	                        "SELECT seq FROM dedupe_more WHERE key = ?1")) != 0)
		return rc;
	q = st->st_dedupe_seqs;
	sqlite3_bind_blob(q, 1, key, EVIDENCE_DKEY_LEN, SQLITE_STATIC);
	while (!found && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		/* A key kept before seqs were (dedupe_upgrade()) cannot be
		 * confirmed: a duplicate, as it always was. */
		if (sqlite3_column_type(q, 0) == SQLITE_NULL)
			found = 1;
		else if ((found = stored_same(st, sqlite3_column_int64(q, 0), r, tm, tm_len)) < 0)
			break;
	}
	if (found < 0 || (!found && rc != SQLITE_DONE)) {
		rc = found < 0 ? found : evidence_sqlerr(st, "dedupe");
		sqlite3_reset(q);
		return rc;
	}
	sqlite3_reset(q);
	if (found)
		return 1;
	if ((rc = evidence_stmt(st, &st->st_dedupe_more,
	                        "INSERT INTO dedupe_more(key, seq) VALUES(?, ?)")) != 0)
		return rc;
	q = st->st_dedupe_more;
	sqlite3_bind_blob(q, 1, key, EVIDENCE_DKEY_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, seq);
	rc = sqlite3_step(q) == SQLITE_DONE ? 0 : evidence_sqlerr(st, "dedupe");
	sqlite3_reset(q);
	return rc;
}

int evidence_insert_nodes(struct evidence_store *st, const struct evidence_node *nodes, size_t n)
{
	size_t k;
	int rc;

	for (k = 0; k < n; k++) {
		sqlite3_bind_int(st->st_tree, 1, nodes[k].level);
		sqlite3_bind_int64(st->st_tree, 2, nodes[k].index);
		sqlite3_bind_blob(st->st_tree, 3, nodes[k].hash, EVIDENCE_HASH_LEN, SQLITE_STATIC);
		rc = sqlite3_step(st->st_tree) == SQLITE_DONE
			     ? 0
			     : evidence_sqlerr(st, "storing a tree node");
		sqlite3_reset(st->st_tree);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int wants(const struct evidence_indexer *ix, const char *kind)
{
	const char *const *k;

	if (ix->kinds == NULL)
		return 1;
	for (k = ix->kinds; *k; k++)
		if (strcmp(*k, kind) == 0)
			return 1;
	return 0;
}

int evidence_insert_entry(struct evidence_store *st, const struct evidence_entry *e,
			  const unsigned char leaf[EVIDENCE_HASH_LEN])
{
	size_t j;
	int rc;

	sqlite3_bind_int64(st->st_insert, 1, e->seq);
	sqlite3_bind_text(st->st_insert, 2, e->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st->st_insert, 3, e->time_us);
	sqlite3_bind_blob(st->st_insert, 4, leaf, EVIDENCE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st->st_insert, 5, e->bytes, (int)e->len, SQLITE_STATIC);
	rc = sqlite3_step(st->st_insert) == SQLITE_DONE ? 0
							: evidence_sqlerr(st, "appending an entry");
	sqlite3_reset(st->st_insert);
	if (rc != 0)
		return rc;
	for (j = 0; j < st->nix; j++) {
		if (!wants(&st->ix[j], e->kind))
			continue;
		if ((rc = st->ix[j].index(st->db, e, st->ix[j].ctx)) != 0) {
			ak_error_prefix("indexer %s, seq %lld", st->ix[j].name, (long long)e->seq);
			return rc;
		}
	}
	return 0;
}

int evidence_received_now(struct evidence_head *head, char out[AK_TIME_MAX])
{
	int64_t now = ak_time_now();

	/* received never goes backwards along seq, even if the clock does. */
	if (now < head->received_us)
		now = head->received_us;
	head->received_us = now;
	return ak_time_format(out, now, AK_TIME_MICRO);
}

int evidence_append_locked(struct evidence_store *st, struct evidence_head *head,
			   const struct evidence_record *recs, size_t n, int64_t *seqs,
			   struct evidence_append_result *out)
{
	char received[AK_TIME_MAX], tm[AK_TIME_MAX];
	int received_len, tm_len = 0;
	int64_t last_time = INT64_MIN;
	struct evidence_node nodes[64];
	struct evidence_append_result res = {0};
	size_t i;
	int rc, ndone;

	if ((rc = evidence_prepare_statements(st)) != 0)
		return rc;
	if ((received_len = evidence_received_now(head, received)) < 0)
		return received_len;
	for (i = 0; i < n; i++) {
		const struct evidence_record *r = &recs[i];
		unsigned char leaf[EVIDENCE_HASH_LEN], dkey[EVIDENCE_DKEY_LEN];
		struct evidence_entry e;
		int64_t seq = head->size + 1;

		if (seqs)
			seqs[i] = 0;
		if ((rc = evidence_check_record(r, i)) != 0)
			return rc;
		if (r->time_us != last_time) {
			tm_len = ak_time_format(tm, r->time_us, AK_TIME_AUTO);
			if (tm_len < 0)
				return tm_len;
			last_time = r->time_us;
		}
		/* Before the dedupe key: a record left out leaves no trace. */
		if (r->wanted) {
			if ((rc = r->wanted(r->wanted_arg, st->db)) < 0)
				return rc;
			if (rc == 0) {
				res.duplicates++;
				continue;
			}
		}
		if (r->dedupe) {
			if ((rc = evidence_dedupe_key(st->h, r, dkey)) != 0 ||
			    (rc = evidence_insert_dedupe(st, dkey, seq)) < 0)
				return rc;
			/* The key was there: a duplicate, if confirmed. */
			if (rc == 0 && (rc = evidence_dedupe_confirm(st, dkey, r, seq, tm,
			                                             (size_t)tm_len)) != 0) {
				if (rc < 0)
					return rc;
				res.duplicates++;
				continue;
			}
		}
		ak_buf_reset(&st->scratch);
		if ((rc = evidence_assemble(&st->scratch, r, seq, received, (size_t)received_len, tm,
					    (size_t)tm_len)) != 0) {
			ak_error_prefix("record %zu", i + 1);
			return rc;
		}
		if ((rc = evidence_leaf_hash(st->h, st->scratch.data, st->scratch.len, leaf)) != 0 ||
		    (rc = evidence_chain_hash(st->h, head->chain, leaf, head->chain)) != 0 ||
		    (rc = evidence_frontier_push(st->h, &head->frontier, leaf, nodes, &ndone)) != 0 ||
		    (rc = evidence_insert_nodes(st, nodes, (size_t)ndone)) != 0)
			return rc;
		e.seq = seq;
		e.kind = r->kind;
		e.time_us = r->time_us;
		e.bytes = st->scratch.data;
		e.len = st->scratch.len;
		e.body = st->scratch.data + 8;
		e.body_len = r->body_len;
		e.parsed = r->parsed;
		if ((rc = evidence_insert_entry(st, &e, leaf)) != 0)
			return rc;
		head->size = seq;
		if (seqs)
			seqs[i] = seq;
		if (res.first_seq == 0)
			res.first_seq = seq;
		res.last_seq = seq;
		res.appended++;
	}
	res.size = head->size;
	if ((rc = evidence_head_put(st, head)) != 0)
		return rc;
	if (out)
		*out = res;
	return 0;
}

int evidence_append(struct evidence_store *st, const struct evidence_record *recs, size_t n,
		    int64_t *seqs, struct evidence_append_result *out)
{
	struct evidence_head head;
	int rc;

	if ((rc = evidence_begin(st)) != 0)
		return rc;
	if ((rc = evidence_head_get(st, &head)) != 0 ||
	    (rc = evidence_append_locked(st, &head, recs, n, seqs, out)) != 0) {
		evidence_rollback(st);
		return rc;
	}
	return evidence_commit(st);
}

/* Last occurrence of needle in hay (both lengths known). */
/* The last occurrence of needle, which starts with a byte that is rare in
 * the haystack's tail (a comma): memrchr jumps between candidates. */
static const char *memrmem(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	const char *p;
	size_t n;

	if (nlen > hlen)
		return NULL;
	for (n = hlen - nlen + 1; (p = memrchr(hay, needle[0], n)) != NULL; n = (size_t)(p - hay))
		if (memcmp(p, needle, nlen) == 0)
			return p;
	return NULL;
}

/* In canonical entry bytes the top-level members after the body are kind,
 * received, seq, source and time. Their values are strings and an integer,
 * and inside a JSON string a quote is always escaped, so the byte sequences
 * ,"kind":" and ,"seq": cannot occur after the body except as these
 * members: the last occurrence is the one we want. */
int evidence_entry_body(const char *bytes, size_t len, const char **body, size_t *body_len)
{
	const char *k;

	if (len < 9 || memcmp(bytes, "{\"body\":", 8) != 0)
		return ak_error_code(AK_EINVALID, "entry does not start with its body");
	k = memrmem(bytes, len, ",\"kind\":\"", 9);
	if (k == NULL || k < bytes + 9)
		return ak_error_code(AK_EINVALID, "entry has no kind after its body");
	*body = bytes + 8;
	*body_len = (size_t)(k - (bytes + 8));
	return 0;
}

#define RECEIVED_LEN 27 /* AK_TIME_MICRO: YYYY-MM-DDTHH:MM:SS.ffffffZ */

int64_t evidence_entry_seq(const char *bytes, size_t len, const char **received)
{
	static const char rkey[] = ",\"received\":\"";
	const size_t rn = sizeof(rkey) - 1 + RECEIVED_LEN + 1;
	const char *at = memrmem(bytes, len, ",\"seq\":", 7), *p, *end = bytes + len;
	int64_t v = 0;
	int digits = 0;

	if (received)
		*received = NULL;
	if (at == NULL)
		return -1;
	/* received sorts right before seq: found by the same search. */
	if (received && (size_t)(at - bytes) >= rn &&
	    memcmp(at - rn, rkey, sizeof(rkey) - 1) == 0 && at[-1] == '"')
		*received = at - 1 - RECEIVED_LEN;
	for (p = at + 7; p < end && *p >= '0' && *p <= '9' && digits < 18; p++, digits++)
		v = v * 10 + (*p - '0');
	if (digits == 0 || p == end || *p != ',')
		return -1;
	return v;
}

int evidence_append_now(struct evidence_store *st, const char *kind, const char *source,
			const char *body, size_t len, int64_t *seq)
{
	struct evidence_record rec = {0};

	rec.kind = kind;
	rec.time_us = ak_time_now();
	rec.source = source;
	rec.source_len = strlen(source);
	rec.body = body;
	rec.body_len = len;
	return evidence_append(st, &rec, 1, seq, NULL);
}
