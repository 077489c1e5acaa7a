/*
 * auditd/delivery/dkim.c - DKIM signatures (RFC 6376), RSA-SHA256 and
 * Ed25519-SHA256 (RFC 8463), relaxed/relaxed canonicalization.
 *
 * Two signers produce the same bytes. The default one canonicalizes and
 * hashes here and signs with OpenSSL using a key parsed once at start:
 * libopendkim parses the PEM private key again for every message
 * (dkim_privkey_load(), about 1 ms with OpenSSL 3, and the RSA setup that
 * follows), which holds it near 300 signatures a second per core where
 * the delivery engine needs thousands (and libopendkim 2.11 leaks its key
 * handle for each Ed25519 signature). `dkim.engine = libopendkim` signs
 * through libopendkim instead; the unit tests sign the same messages
 * with both and require byte-identical signatures (RSA PKCS#1 v1.5 and
 * Ed25519 are deterministic), so the fast path is checked against the
 * reference implementation on every test run.
 *
 * Headers signed: those of dkim_signed_headers present in the message, each
 * instance, in the order they appear; then the names of
 * dkim_oversigned_headers once more, so that a header added later in
 * transit breaks the signature (RFC 6376 section 8.15).
 *
 * Thread safety: a dkim_key is read-only after loading and may be shared;
 * a dkim_signer holds per-thread contexts.
 */
#include "auditd/delivery/delivery_int.h"

#include "lib/ascii.h"
#include "lib/b64.h"
#include "lib/error.h"

#include <opendkim/dkim.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const dkim_signed_headers[] = {"from",
                                           "sender",
                                           "reply-to",
                                           "subject",
                                           "date",
                                           "message-id",
                                           "to",
                                           "cc",
                                           "mime-version",
                                           "content-type",
                                           "content-transfer-encoding",
                                           "in-reply-to",
                                           "references",
                                           "list-id",
                                           "list-unsubscribe",
                                           "list-unsubscribe-post",
                                           "feedback-id",
                                           NULL};

/* Besides what identifies the message and its unsubscribe link, the fields
 * a replayed or relayed copy could gain to change what a reader sees or
 * where replies go (another Reply-To, a Cc, a Content-Type that hides the
 * signed body). */
const char *const dkim_oversigned_headers[] = {"from",
                                               "sender",
                                               "reply-to",
                                               "subject",
                                               "to",
                                               "cc",
                                               "date",
                                               "message-id",
                                               "mime-version",
                                               "content-type",
                                               "content-transfer-encoding",
                                               "list-unsubscribe",
                                               "list-unsubscribe-post",
                                               NULL};

struct dkim_key {
	EVP_PKEY *pkey;
	int ed25519;
	char *pem;
	size_t pem_len;
};

static int ssl_error(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return ak_error_set("%s: %s", what, e ? buf : "failed");
}

int dkim_key_load(struct dkim_key **out, const char *path)
{
	struct dkim_key *k = calloc(1, sizeof(*k));
	FILE *f = NULL;
	BIO *bio = NULL;
	char buf[16384];
	size_t n;
	int rc = 0;

	if (k == NULL)
		return ak_error_oom();
	if ((f = fopen(path, "rb")) == NULL) {
		rc = ak_error_set("%s: %s", path, strerror(errno));
		goto done;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	if (ferror(f) || n == sizeof(buf) - 1) {
		rc = ak_error_code(AK_EINVALID, "%s: unreadable or too large for a key", path);
		goto done;
	}
	buf[n] = '\0';
	if ((k->pem = strndup(buf, n)) == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	k->pem_len = n;
	bio = BIO_new_mem_buf(buf, (int)n);
	if (bio == NULL || (k->pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
		rc = ssl_error(path);
		goto done;
	}
	if (EVP_PKEY_get_base_id(k->pkey) == EVP_PKEY_ED25519)
		k->ed25519 = 1;
	else if (EVP_PKEY_get_base_id(k->pkey) != EVP_PKEY_RSA) {
		rc = ak_error_code(AK_EINVALID, "%s: not an RSA or Ed25519 private key", path);
		goto done;
	} else if (EVP_PKEY_get_bits(k->pkey) < 1024) {
		rc = ak_error_code(AK_EINVALID,
		                   "%s: an RSA key of %d bits (DKIM needs 1024 or more; "
		                   "use 2048)",
		                   path, EVP_PKEY_get_bits(k->pkey));
		goto done;
	}
done:
	explicit_bzero(buf, sizeof(buf));
	BIO_free(bio);
	if (f)
		fclose(f);
	if (rc) {
		dkim_key_free(k);
		return rc;
	}
	*out = k;
	return 0;
}

void dkim_key_free(struct dkim_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	if (k->pem)
		explicit_bzero(k->pem, k->pem_len);
	free(k->pem);
	free(k);
}

int dkim_key_is_ed25519(const struct dkim_key *k)
{
	return k->ed25519;
}

int dkim_key_txt(const struct dkim_key *k, struct ak_buf *out)
{
	unsigned char raw[600], *p = raw;
	char b64[AK_B64_LEN(600) + 1];
	size_t n = sizeof(raw);
	int len;

	if (k->ed25519) {
		if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &n) != 1)
			return ssl_error("Ed25519 public key");
		ak_b64_encode(b64, raw, n);
		return ak_buf_printf(out, "v=DKIM1; k=ed25519; p=%s", b64);
	}
	len = i2d_PUBKEY(k->pkey, NULL);
	if (len <= 0 || (size_t)len > sizeof(raw) || i2d_PUBKEY(k->pkey, &p) != len)
		return ssl_error("RSA public key");
	ak_b64_encode(b64, raw, (size_t)len);
	return ak_buf_printf(out, "v=DKIM1; k=rsa; p=%s", b64);
}

/* ---- the signer ---- */

struct sig {
	const char *selector;
	const struct dkim_key *key;
	EVP_PKEY_CTX *pctx; /* RSA: initialised once, reused */
	EVP_MD_CTX *mctx;   /* Ed25519 */
};

struct hdr {
	const char *p; /* the field, name to end of value (folds included) */
	size_t len;
	size_t name_len;
	int used;
};

struct dkim_signer {
	const char *domain;
	struct sig sigs[2];
	int nsigs;
	int use_libopendkim;
	DKIM_LIB *lib;
	EVP_MD_CTX *hash;
	EVP_MD *sha256;
	struct ak_buf canon; /* scratch: canonical header data */
	struct ak_buf line;  /* scratch: the signature header */
	struct hdr *h;       /* scratch: the message's header fields */
	size_t hcap;
};

void dkim_signer_free(struct dkim_signer *s)
{
	int i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nsigs; i++) {
		EVP_PKEY_CTX_free(s->sigs[i].pctx);
		EVP_MD_CTX_free(s->sigs[i].mctx);
	}
	if (s->lib)
		dkim_close(s->lib);
	EVP_MD_CTX_free(s->hash);
	EVP_MD_free(s->sha256);
	ak_buf_free(&s->canon);
	ak_buf_free(&s->line);
	free(s->h);
	free(s);
}

static int setup_sig(struct sig *g)
{
	if (g->key->ed25519) {
		if ((g->mctx = EVP_MD_CTX_new()) == NULL)
			return ak_error_oom();
		return 0;
	}
	if ((g->pctx = EVP_PKEY_CTX_new(g->key->pkey, NULL)) == NULL ||
	    EVP_PKEY_sign_init(g->pctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(g->pctx, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(g->pctx, EVP_sha256()) <= 0)
		return ssl_error("RSA signing context");
	return 0;
}

int dkim_signer_new(struct dkim_signer **out, const struct dkim_signer_conf *c)
{
	struct dkim_signer *s = calloc(1, sizeof(*s));
	int rc = 0;

	if (s == NULL)
		return ak_error_oom();
	ak_buf_init(&s->canon, 1 << 20);
	ak_buf_init(&s->line, 1 << 16);
	s->domain = c->domain;
	s->use_libopendkim = c->use_libopendkim;
	if (c->key == NULL || c->domain == NULL || !*c->domain || c->selector == NULL ||
	    !*c->selector) {
		rc = ak_error_code(AK_EINVALID,
		                   "DKIM needs dkim.domain, dkim.selector and dkim.key");
		goto done;
	}
	s->sigs[s->nsigs].selector = c->selector;
	s->sigs[s->nsigs++].key = c->key;
	if (c->ed_key) {
		if (!c->ed_selector || !*c->ed_selector || !c->ed_key->ed25519) {
			rc = ak_error_code(AK_EINVALID, "dkim.ed25519_key needs an Ed25519 key and "
			                                "dkim.ed25519_selector");
			goto done;
		}
		s->sigs[s->nsigs].selector = c->ed_selector;
		s->sigs[s->nsigs++].key = c->ed_key;
	}
	if (s->use_libopendkim) {
		/* The lists go by pointer: libopendkim wants sizeof(char **). */
		if ((s->lib = dkim_init(NULL, NULL)) == NULL ||
		    dkim_options(s->lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS,
		                 (void *)dkim_signed_headers, sizeof(char **)) != DKIM_STAT_OK ||
		    dkim_options(s->lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS,
		                 (void *)dkim_oversigned_headers,
		                 sizeof(char **)) != DKIM_STAT_OK) {
			rc = ak_error_set("libopendkim: initialisation failed");
			goto done;
		}
	} else {
		int i;

		if ((s->hash = EVP_MD_CTX_new()) == NULL ||
		    (s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
			rc = ssl_error("SHA-256");
			goto done;
		}
		for (i = 0; i < s->nsigs; i++)
			if ((rc = setup_sig(&s->sigs[i])) != 0)
				goto done;
	}
done:
	if (rc) {
		dkim_signer_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static int wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Relaxed body canonicalization (RFC 6376 3.4.4) hashed as it goes:
 * runs of white space become one space, white space at line ends goes,
 * empty lines at the end go. Empty lines are held back until a non-empty
 * line shows they are not at the end. */
static int body_hash(struct dkim_signer *s, const char *b, size_t len, unsigned char out[32])
{
	size_t i = 0, pending_empty = 0;
	char tmp[4096];
	size_t t = 0;
	unsigned int n;

#define EMIT(c)                                                                                    \
	do {                                                                                       \
		if (t == sizeof(tmp)) {                                                            \
			EVP_DigestUpdate(s->hash, tmp, t);                                         \
			t = 0;                                                                     \
		}                                                                                  \
		tmp[t++] = (c);                                                                    \
	} while (0)

	if (EVP_DigestInit_ex(s->hash, s->sha256, NULL) != 1)
		return ssl_error("SHA-256");
	while (i < len) {
		size_t e = i, end;
		int space = 0;

		while (e < len && b[e] != '\n')
			e++;
		end = e;
		if (end > i && b[end - 1] == '\r')
			end--;
		while (end > i && wsp(b[end - 1]))
			end--;
		if (end == i) {
			pending_empty++;
		} else {
			for (; pending_empty; pending_empty--) {
				EMIT('\r');
				EMIT('\n');
			}
			for (; i < end; i++) {
				if (wsp(b[i])) {
					space = 1;
					continue;
				}
				if (space) {
					EMIT(' ');
					space = 0;
				}
				EMIT(b[i]);
			}
			EMIT('\r');
			EMIT('\n');
		}
		i = e < len ? e + 1 : e;
	}
#undef EMIT
	if (t)
		EVP_DigestUpdate(s->hash, tmp, t);
	if (EVP_DigestFinal_ex(s->hash, out, &n) != 1)
		return ssl_error("SHA-256");
	return 0;
}

/* Relaxed header canonicalization (RFC 6376 3.4.2) of one header field
 * (name ':' value, possibly folded, without the final CRLF), appended to
 * out; crlf adds the CRLF. */
static int canon_header(struct ak_buf *out, const char *h, size_t len, int crlf)
{
	const char *colon = memchr(h, ':', len);
	size_t i, nlen;
	char *p;
	int space = 0, started = 0;

	if (colon == NULL)
		return ak_error_code(AK_EINVALID, "DKIM: a header without ':'");
	nlen = (size_t)(colon - h);
	while (nlen && wsp(h[nlen - 1]))
		nlen--;
	if ((p = ak_buf_reserve(out, len + 3)) == NULL)
		return AK_ENOMEM;
	for (i = 0; i < nlen; i++)
		*p++ = ak_ascii_lower(h[i]);
	*p++ = ':';
	for (i = (size_t)(colon - h) + 1; i < len; i++) {
		char c = h[i];

		if (c == '\r' || c == '\n')
			continue;
		if (wsp(c)) {
			space = 1;
			continue;
		}
		if (space && started)
			*p++ = ' ';
		space = 0;
		started = 1;
		*p++ = c;
	}
	if (crlf) {
		*p++ = '\r';
		*p++ = '\n';
	}
	ak_buf_commit(out, (size_t)(p - (out->data + out->len)));
	return 0;
}

/* Split the header block of msg into s->h (up to DELIVERY_MAX_HEADERS
 * fields, which the gateway and the template parser enforce before a
 * message is queued); *body_off is where the body starts. */
static int split_headers(struct dkim_signer *s, const char *msg, size_t len, size_t *n,
                         size_t *body_off)
{
	size_t i = 0;
	struct hdr *h = s->h;

	*n = 0;
	while (i < len) {
		size_t start = i, e;
		const char *colon;

		if (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n') {
			*body_off = i + 2;
			return 0;
		}
		for (e = i;; e++) {
			if (e + 1 >= len)
				return ak_error_code(AK_EINVALID,
				                     "DKIM: the message has no body separator");
			if (msg[e] == '\r' && msg[e + 1] == '\n' &&
			    !(e + 2 < len && wsp(msg[e + 2])))
				break;
		}
		if (*n == DELIVERY_MAX_HEADERS)
			return ak_error_code(AK_EINVALID, "DKIM: more than %d header fields",
			                     DELIVERY_MAX_HEADERS);
		if (*n == s->hcap) {
			size_t cap = s->hcap ? s->hcap * 2 : 64;

			if ((h = realloc(s->h, cap * sizeof(*h))) == NULL)
				return ak_error_oom();
			s->h = h;
			s->hcap = cap;
		}
		colon = memchr(msg + start, ':', e - start);
		if (colon == NULL)
			return ak_error_code(AK_EINVALID, "DKIM: a header line without ':'");
		h[*n].p = msg + start;
		h[*n].len = e - start;
		h[*n].name_len = (size_t)(colon - (msg + start));
		h[*n].used = 0;
		(*n)++;
		i = e + 2;
	}
	return ak_error_code(AK_EINVALID, "DKIM: the message has no body separator");
}

static int in_list(const char *const *list, const char *name, size_t len)
{
	for (; *list; list++)
		if (strlen(*list) == len && strncasecmp(*list, name, len) == 0)
			return 1;
	return 0;
}

/* Append one name to the h= list in line, after a ':' unless it is the
 * first. The list stays on one line, as libopendkim (margin 0) writes it,
 * unless that line would pass SIG_LINE_MAX: a message with many signed
 * fields would otherwise get a line over the 998 of RFC 5322 2.1.1, which
 * servers refuse ("500 line too long") and the engine would record as a
 * bounce. FWS is allowed around the colons of h= (RFC 6376 3.5). */
#define SIG_LINE_MAX 900
static int put_hname(struct ak_buf *line, const char *name, size_t n, int first)
{
	const char *nl = line->len ? memrchr(line->data, '\n', line->len) : NULL;
	size_t col = line->len - (nl ? (size_t)(nl + 1 - line->data) : 0);
	int rc;

	if (!first && (rc = ak_buf_putc(line, ':')) != 0)
		return rc;
	if (col + 1 + n > SIG_LINE_MAX && (rc = ak_buf_puts(line, "\r\n\t")) != 0)
		return rc;
	return ak_buf_append(line, name, n);
}

/* Fold base64 text into the signature header: 64 characters a line. */
static int put_folded(struct ak_buf *out, const char *b64, size_t n)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i += 64) {
		if (i && (rc = ak_buf_puts(out, "\r\n\t ")) != 0)
			return rc;
		if ((rc = ak_buf_append(out, b64 + i, n - i < 64 ? n - i : 64)) != 0)
			return rc;
	}
	return 0;
}

static int sign_own(struct dkim_signer *s, struct ak_buf *out, const char *msg, size_t len,
                    int64_t t_s)
{
	struct hdr *h;
	unsigned char bh[32], hh[32], sigbytes[512];
	char bh64[AK_B64_LEN(32) + 1], sig64[AK_B64_LEN(512) + 1];
	size_t nh, body_off, i, j, siglen;
	unsigned int hl;
	int rc, k;

	if ((rc = split_headers(s, msg, len, &nh, &body_off)) != 0)
		return rc;
	h = s->h;
	if ((rc = body_hash(s, msg + body_off, len - body_off, bh)) != 0)
		return rc;
	ak_b64_encode(bh64, bh, 32);
	for (k = 0; k < s->nsigs; k++) {
		struct sig *g = &s->sigs[k];
		size_t hstart;

		ak_buf_reset(&s->canon);
		ak_buf_reset(&s->line);
		for (i = 0; i < nh; i++)
			h[i].used = 0;
		rc = ak_buf_printf(&s->line,
		                   "DKIM-Signature: v=1; a=%s; c=relaxed/relaxed; d=%s; s=%s;\r\n"
		                   "\tt=%lld; bh=%s;\r\n\th=",
		                   g->key->ed25519 ? "ed25519-sha256" : "rsa-sha256", s->domain,
		                   g->selector, (long long)t_s, bh64);
		hstart = s->line.len;
		/* Each signed header in message order; the instance it names
		 * is the last one not yet used (RFC 6376 5.4.2). */
		for (i = 0; rc == 0 && i < nh; i++) {
			if (!in_list(dkim_signed_headers, h[i].p, h[i].name_len))
				continue;
			for (j = nh; j-- > 0;)
				if (!h[j].used && h[j].name_len == h[i].name_len &&
				    strncasecmp(h[j].p, h[i].p, h[i].name_len) == 0)
					break;
			h[j].used = 1;
			rc = put_hname(&s->line, h[i].p, h[i].name_len, s->line.len == hstart);
			if (rc == 0)
				rc = canon_header(&s->canon, h[j].p, h[j].len, 1);
		}
		for (i = 0; rc == 0 && dkim_oversigned_headers[i]; i++) {
			/* An oversigned name adds nothing to the hash. Spelled
			 * as in the list (lower case), as libopendkim does. */
			rc = put_hname(&s->line, dkim_oversigned_headers[i],
			               strlen(dkim_oversigned_headers[i]), s->line.len == hstart);
		}
		if (rc == 0)
			rc = ak_buf_puts(&s->line, ";\r\n\tb=");
		if (rc == 0)
			rc = canon_header(&s->canon, s->line.data, s->line.len, 0);
		if (rc)
			return rc;
		if (EVP_DigestInit_ex(s->hash, s->sha256, NULL) != 1 ||
		    EVP_DigestUpdate(s->hash, s->canon.data, s->canon.len) != 1 ||
		    EVP_DigestFinal_ex(s->hash, hh, &hl) != 1)
			return ssl_error("SHA-256");
		siglen = sizeof(sigbytes);
		if (g->key->ed25519) {
			/* RFC 8463: Ed25519 over the SHA-256 of the header data. */
			if (EVP_DigestSignInit(g->mctx, NULL, NULL, NULL, g->key->pkey) != 1 ||
			    EVP_DigestSign(g->mctx, sigbytes, &siglen, hh, 32) != 1)
				return ssl_error("Ed25519 signature");
		} else if (EVP_PKEY_sign(g->pctx, sigbytes, &siglen, hh, 32) <= 0)
			return ssl_error("RSA signature");
		ak_b64_encode(sig64, sigbytes, siglen);
		if ((rc = put_folded(&s->line, sig64, strlen(sig64))) != 0 ||
		    (rc = ak_buf_puts(&s->line, "\r\n")) != 0 ||
		    (rc = ak_buf_append(out, s->line.data, s->line.len)) != 0)
			return rc;
	}
	return 0;
}

/* The same signature through libopendkim (see the top of the file). */
static int sign_libopendkim(struct dkim_signer *s, struct ak_buf *out, const char *msg, size_t len,
                            int64_t t_s)
{
	struct hdr *h;
	size_t nh, body_off, i;
	uint64_t fixed = (uint64_t)t_s;
	int rc, k;

	if ((rc = split_headers(s, msg, len, &nh, &body_off)) != 0)
		return rc;
	h = s->h;
	if (dkim_options(s->lib, DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME, &fixed, sizeof(fixed)) !=
	    DKIM_STAT_OK)
		return ak_error_set("libopendkim: cannot set the signature time");
	for (k = 0; k < s->nsigs; k++) {
		struct sig *g = &s->sigs[k];
		DKIM_STAT st;
		DKIM *d;
		unsigned char *sh = NULL;
		size_t shlen = 0;

		d = dkim_sign(
		        s->lib, (const unsigned char *)"akashi", NULL, (dkim_sigkey_t)g->key->pem,
		        (const unsigned char *)g->selector, (const unsigned char *)s->domain,
		        DKIM_CANON_RELAXED, DKIM_CANON_RELAXED,
		        g->key->ed25519 ? DKIM_SIGN_ED25519SHA256 : DKIM_SIGN_RSASHA256, -1, &st);
		if (d == NULL)
			return ak_error_set("libopendkim: dkim_sign: status %d", (int)st);
		/* Unfolded, so that its signed header reads as ours does (our
		 * folds fall where relaxed canonicalization undoes them). */
		(void)dkim_set_margin(d, 0);
		for (i = 0; i < nh && st == DKIM_STAT_OK; i++)
			st = dkim_header(d, (unsigned char *)h[i].p, h[i].len);
		if (st == DKIM_STAT_OK)
			st = dkim_eoh(d);
		if (st == DKIM_STAT_OK && len > body_off)
			st = dkim_body(d, (unsigned char *)msg + body_off, len - body_off);
		if (st == DKIM_STAT_OK)
			st = dkim_eom(d, NULL);
		if (st == DKIM_STAT_OK)
			st = dkim_getsighdr_d(d, strlen("DKIM-Signature: "), &sh, &shlen);
		if (st != DKIM_STAT_OK) {
			rc = ak_error_set("libopendkim: %s",
			                  dkim_geterror(d) ? dkim_geterror(d) : "signing failed");
			dkim_free(d);
			return rc;
		}
		rc = ak_buf_printf(out, "DKIM-Signature: %.*s\r\n", (int)shlen, (const char *)sh);
		dkim_free(d);
		if (rc)
			return rc;
	}
	return 0;
}

int dkim_signer_sign(struct dkim_signer *s, struct ak_buf *out, const char *msg, size_t len,
                     int64_t t_s)
{
	if (s->use_libopendkim) {
		size_t start = out->len, i;
		struct ak_buf fixed = AK_BUF_INIT(0);
		int rc = sign_libopendkim(s, out, msg, len, t_s);

		if (rc)
			return rc;
		/* libopendkim folds its header with bare LF: make them CRLF. */
		for (i = start; i < out->len && rc == 0; i++) {
			if (out->data[i] == '\n' && (i == start || out->data[i - 1] != '\r'))
				rc = ak_buf_putc(&fixed, '\r');
			if (rc == 0)
				rc = ak_buf_putc(&fixed, out->data[i]);
		}
		if (rc == 0) {
			ak_buf_truncate(out, start);
			rc = ak_buf_append(out, fixed.data ? fixed.data : "", fixed.len);
		}
		ak_buf_free(&fixed);
		return rc;
	}
	return sign_own(s, out, msg, len, t_s);
}
