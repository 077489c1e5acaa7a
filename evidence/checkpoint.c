/*
 * evidence/checkpoint.c - signed checkpoints (C2SP tlog-checkpoint on a
 * C2SP signed note) and their entries.
 *
 * A note reads
 *
 *   example.com/akashi\n          origin
 *   1234\n                         tree size, decimal
 *   <base64 Merkle root>\n
 *   chain <base64 chain hash>\n    extension line
 *   \n
 *   — example.com/akashi <base64(key id || Ed25519 signature)>\n
 *
 * The signature covers the note body: everything before the blank line,
 * its final newline included. key id = the first four bytes of
 * SHA-256(origin || "\n" || 0x01 || public key). An outsider checks it with
 * `openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in body -sigfile sig`.
 *
 * Making a checkpoint and appending its "checkpoint" entry happen in one
 * transaction, so the entry always sits at seq size + 1 and a later
 * checkpoint covers it.
 */
#include "evidence/evidence_int.h"

#include "lib/b64.h"
#include "lib/error.h"
#include "lib/jcs.h"
#include "lib/timefmt.h"

#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EM_DASH "\xe2\x80\x94"

int evidence_key_hash(const char *name, const unsigned char pub[32],
		      unsigned char out[EVIDENCE_HASH_LEN])
{
	static const unsigned char sep[2] = {'\n', 0x01};
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = 0;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, name, strlen(name)) != 1 || EVP_DigestUpdate(ctx, sep, 2) != 1 ||
	    EVP_DigestUpdate(ctx, pub, 32) != 1 || EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		rc = ak_error_set("OpenSSL: SHA-256 failed");
	EVP_MD_CTX_free(ctx);
	return rc;
}

int evidence_pubkey_from_pem(const char *pem, size_t len, unsigned char out[32])
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	size_t n = 32;
	int rc = 0;

	if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(key, out, &n) != 1 || n != 32)
		rc = ak_error_code(AK_EINVALID, "not a PEM Ed25519 public key");
	EVP_PKEY_free(key);
	BIO_free(bio);
	return rc;
}

/* Next line of text[*pos..len) without its '\n'; 0 if there is no
 * complete line. */
static int next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *n)
{
	const char *nl;

	if (*pos >= len)
		return 0;
	nl = memchr(text + *pos, '\n', len - *pos);
	if (nl == NULL)
		return 0;
	*line = text + *pos;
	*n = (size_t)(nl - *line);
	*pos = (size_t)(nl - text) + 1;
	return 1;
}

static int decode_hash(const char *s, size_t n, unsigned char out[EVIDENCE_HASH_LEN])
{
	unsigned char tmp[EVIDENCE_HASH_LEN + 3];
	int k = ak_b64_decode(tmp, sizeof(tmp), s, n);

	if (k != EVIDENCE_HASH_LEN)
		return -1;
	memcpy(out, tmp, EVIDENCE_HASH_LEN);
	return 0;
}

int evidence_note_parse(const char *text, size_t len, struct evidence_note *out)
{
	const char *line;
	size_t pos = 0, n, i, olen;
	unsigned char sig[4 + 64 + 3];
	int k;

	memset(out, 0, sizeof(*out));
	if (!next_line(text, len, &pos, &line, &n) || n == 0 || n > EVIDENCE_ORIGIN_MAX)
		return ak_error_code(AK_EINVALID, "checkpoint line 1: missing origin");
	memcpy(out->origin, line, n);
	out->origin[n] = '\0';
	olen = n;
	if (!next_line(text, len, &pos, &line, &n) || n == 0 || n > 19)
		return ak_error_code(AK_EINVALID, "checkpoint line 2: missing tree size");
	if (n > 1 && line[0] == '0')
		return ak_error_code(AK_EINVALID, "checkpoint line 2: tree size has leading zeros");
	for (i = 0; i < n; i++) {
		if (line[i] < '0' || line[i] > '9')
			return ak_error_code(AK_EINVALID, "checkpoint line 2: not a decimal size");
		out->size = out->size * 10 + (uint64_t)(line[i] - '0');
	}
	if (!next_line(text, len, &pos, &line, &n) || decode_hash(line, n, out->root) != 0)
		return ak_error_code(AK_EINVALID,
				     "checkpoint line 3: not a base64 SHA-256 root hash");
	if (!next_line(text, len, &pos, &line, &n) || n < 6 || memcmp(line, "chain ", 6) != 0 ||
	    decode_hash(line + 6, n - 6, out->chain) != 0)
		return ak_error_code(AK_EINVALID,
				     "checkpoint line 4: expected 'chain <base64 hash>'");
	out->body_len = pos;
	if (!next_line(text, len, &pos, &line, &n) || n != 0)
		return ak_error_code(AK_EINVALID,
				     "checkpoint line 5: expected the blank line before signatures");
	if (!next_line(text, len, &pos, &line, &n) || n < 4 + olen + 1 ||
	    memcmp(line, EM_DASH " ", 4) != 0 || memcmp(line + 4, out->origin, olen) != 0 ||
	    line[4 + olen] != ' ')
		return ak_error_code(AK_EINVALID,
				     "checkpoint line 6: expected '\u2014 %s <signature>'",
				     out->origin);
	k = ak_b64_decode(sig, sizeof(sig), line + 5 + olen, n - 5 - olen);
	if (k != 4 + 64)
		return ak_error_code(AK_EINVALID,
				     "checkpoint line 6: signature is not base64 of 68 bytes");
	memcpy(out->key_id, sig, 4);
	memcpy(out->sig, sig + 4, 64);
	if (pos != len)
		return ak_error_code(AK_EINVALID, "checkpoint: text after the signature line");
	return 0;
}

int evidence_note_verify(const char *text, size_t len, const unsigned char pub[32],
			 struct evidence_note *out)
{
	unsigned char kh[EVIDENCE_HASH_LEN];
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *ctx = NULL;
	int rc;

	if ((rc = evidence_note_parse(text, len, out)) != 0)
		return rc;
	if ((rc = evidence_key_hash(out->origin, pub, kh)) != 0)
		return rc;
	if (memcmp(kh, out->key_id, 4) != 0)
		return ak_error_code(AK_ETAMPERED, "signed by another key (the key id differs)");
	key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	ctx = EVP_MD_CTX_new();
	if (key == NULL || ctx == NULL || EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) != 1) {
		rc = ak_error_set("OpenSSL: cannot set up Ed25519 verification");
	} else if (EVP_DigestVerify(ctx, out->sig, 64, (const unsigned char *)text,
				    out->body_len) != 1) {
		rc = ak_error_code(AK_ETAMPERED, "the signature does not verify");
	}
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	return rc;
}

void evidence_checkpoint_clear(struct evidence_checkpoint *cp)
{
	free(cp->note);
	memset(cp, 0, sizeof(*cp));
}

static int row_to_checkpoint(sqlite3_stmt *s, struct evidence_checkpoint *cp)
{
	memset(cp, 0, sizeof(*cp));
	cp->size = sqlite3_column_int64(s, 0);
	if (sqlite3_column_bytes(s, 1) != EVIDENCE_HASH_LEN ||
	    sqlite3_column_bytes(s, 2) != EVIDENCE_HASH_LEN)
		return ak_error_code(AK_ETAMPERED, "checkpoint %lld: stored hashes are damaged",
				     (long long)cp->size);
	memcpy(cp->root, sqlite3_column_blob(s, 1), EVIDENCE_HASH_LEN);
	memcpy(cp->chain, sqlite3_column_blob(s, 2), EVIDENCE_HASH_LEN);
	cp->made_us = sqlite3_column_int64(s, 3);
	cp->note = strdup((const char *)sqlite3_column_text(s, 4) ?
				  (const char *)sqlite3_column_text(s, 4) : "");
	cp->entry_seq = sqlite3_column_int64(s, 5);
	return cp->note ? 0 : ak_error_oom();
}

#define CP_COLUMNS "size, root, chain, made, note, entry_seq"

static int query_one(struct evidence_store *st, const char *sql, int64_t arg, int has_arg,
		     struct evidence_checkpoint *out)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return evidence_sqlerr(st, "reading checkpoints");
	if (has_arg)
		sqlite3_bind_int64(s, 1, arg);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = row_to_checkpoint(s, out);
	else if (rc == SQLITE_DONE)
		rc = ak_error_code(AK_ENOTFOUND, "no checkpoint%s", has_arg ? " of that size" : "");
	else
		rc = evidence_sqlerr(st, "reading checkpoints");
	sqlite3_finalize(s);
	return rc;
}

int evidence_checkpoint_latest(struct evidence_store *st, struct evidence_checkpoint *out)
{
	return query_one(st, "SELECT " CP_COLUMNS " FROM checkpoints ORDER BY size DESC LIMIT 1", 0,
			 0, out);
}

int evidence_checkpoint_get(struct evidence_store *st, int64_t size,
			    struct evidence_checkpoint *out)
{
	return query_one(st, "SELECT " CP_COLUMNS " FROM checkpoints WHERE size = ?", size, 1, out);
}

int evidence_checkpoint_list(struct evidence_store *st,
			     int (*cb)(void *ctx, const struct evidence_checkpoint *cp), void *ctx)
{
	sqlite3_stmt *s = NULL;
	struct evidence_checkpoint cp;
	int rc = 0, step;

	if (sqlite3_prepare_v2(st->db, "SELECT " CP_COLUMNS " FROM checkpoints ORDER BY size", -1,
			       &s, NULL) != SQLITE_OK)
		return evidence_sqlerr(st, "reading checkpoints");
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if ((rc = row_to_checkpoint(s, &cp)) != 0)
			break;
		rc = cb(ctx, &cp);
		evidence_checkpoint_clear(&cp);
		if (rc != 0)
			break;
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = evidence_sqlerr(st, "reading checkpoints");
	sqlite3_finalize(s);
	return rc;
}

/* Build the note for the head and sign it. */
static int make_note(struct evidence_store *st, int64_t size, const unsigned char root[32],
		     const unsigned char chain[32], struct ak_buf *note)
{
	char r64[AK_B64_LEN(32) + 1], c64[AK_B64_LEN(32) + 1], s64[AK_B64_LEN(68) + 1];
	unsigned char kh[EVIDENCE_HASH_LEN], sig[68];
	int rc;

	ak_b64_encode(r64, root, 32);
	ak_b64_encode(c64, chain, 32);
	if ((rc = ak_buf_printf(note, "%s\n%lld\n%s\nchain %s\n", st->origin, (long long)size,
				r64, c64)) != 0)
		return rc;
	if ((rc = evidence_key_hash(st->origin, st->pub, kh)) != 0 ||
	    (rc = evidence_sign(st, note->data, note->len, sig + 4)) != 0)
		return rc;
	memcpy(sig, kh, 4);
	ak_b64_encode(s64, sig, 68);
	return ak_buf_printf(note, "\n" EM_DASH " %s %s\n", st->origin, s64);
}

int evidence_checkpoint(struct evidence_store *st, struct evidence_checkpoint *out, int *created)
{
	struct evidence_head head;
	struct evidence_checkpoint latest = {0};
	struct evidence_record rec;
	struct ak_buf note = AK_BUF_INIT(0), body = AK_BUF_INIT(0);
	unsigned char root[EVIDENCE_HASH_LEN];
	char r64[AK_B64_LEN(32) + 1], c64[AK_B64_LEN(32) + 1];
	sqlite3_stmt *s = NULL;
	int64_t made;
	int rc, have_latest;

	*created = 0;
	if ((rc = evidence_begin(st)) != 0)
		return rc;
	if ((rc = evidence_head_get(st, &head)) != 0)
		goto fail;
	rc = evidence_checkpoint_latest(st, &latest);
	if (rc != 0 && rc != AK_ENOTFOUND)
		goto fail;
	have_latest = rc == 0;
	/* Unchanged: nothing appended since, or only that checkpoint's entry. */
	if (have_latest && (latest.size == head.size || latest.entry_seq == head.size)) {
		evidence_rollback(st);
		*out = latest;
		return 0;
	}
	if ((rc = evidence_frontier_root(st->h, &head.frontier, root)) != 0 ||
	    (rc = make_note(st, head.size, root, head.chain, &note)) != 0)
		goto fail;
	made = ak_time_now();
	ak_b64_encode(r64, root, 32);
	ak_b64_encode(c64, head.chain, 32);
	/* The entry's body, canonical by construction: keys in order. */
	if ((rc = ak_buf_printf(&body, "{\"chain\":\"%s\",\"note\":", c64)) != 0 ||
	    (rc = ak_jcs_write_string(&body, note.data, note.len)) != 0 ||
	    (rc = ak_buf_printf(&body, ",\"origin\":")) != 0 ||
	    (rc = ak_jcs_write_string(&body, st->origin, strlen(st->origin))) != 0 ||
	    (rc = ak_buf_printf(&body, ",\"root\":\"%s\",\"size\":%lld}", r64,
				(long long)head.size)) != 0)
		goto fail;
	if (sqlite3_prepare_v2(st->db, "INSERT INTO checkpoints VALUES(?, ?, ?, ?, ?, ?)", -1, &s,
			       NULL) != SQLITE_OK) {
		rc = evidence_sqlerr(st, "storing a checkpoint");
		goto fail;
	}
	sqlite3_bind_int64(s, 1, head.size);
	sqlite3_bind_blob(s, 2, root, 32, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, head.chain, 32, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, made);
	sqlite3_bind_text(s, 5, note.data, (int)note.len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, head.size + 1);
	if (sqlite3_step(s) != SQLITE_DONE) {
		rc = evidence_sqlerr(st, "storing a checkpoint");
		goto fail;
	}
	memset(&rec, 0, sizeof(rec));
	rec.kind = "checkpoint";
	rec.time_us = made;
	rec.source = "akashi";
	rec.source_len = 6;
	rec.body = body.data;
	rec.body_len = body.len;
	out->size = head.size;
	memcpy(out->root, root, 32);
	memcpy(out->chain, head.chain, 32);
	if ((rc = evidence_append_locked(st, &head, &rec, 1, NULL, NULL)) != 0 ||
	    (rc = evidence_commit(st)) != 0)
		goto fail;
	out->made_us = made;
	out->entry_seq = out->size + 1;
	out->note = ak_buf_detach(&note, NULL);
	*created = 1;
	rc = out->note ? 0 : ak_error_oom();
	goto done;
fail:
	evidence_rollback(st);
done:
	sqlite3_finalize(s);
	evidence_checkpoint_clear(&latest);
	ak_buf_free(&note);
	ak_buf_free(&body);
	return rc;
}
