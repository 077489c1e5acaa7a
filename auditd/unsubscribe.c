/*
 * auditd/unsubscribe.c - one-click unsubscribe tokens (see unsubscribe.h
 * for the format).
 *
 * A token names the (subject, list, campaign) it speaks for and when it was
 * issued; a truncated HMAC-SHA256 under the daemon's secret makes it
 * unforgeable. Nothing in it is secret: whoever holds the link may
 * unsubscribe that address from that list, which is what RFC 8058 asks
 * for, and no more.
 *
 * SECURITY: unsub_token_check() parses text straight from the network
 * (the t= parameter of POST /v1/unsubscribe). It bounds the length before
 * decoding, decodes into a fixed buffer, checks the MAC in constant time
 * before trusting any field, and refuses NUL bytes in the strings (the
 * caller handles them as C strings). It allocates nothing.
 */
#include "auditd/unsubscribe.h"

#include "lib/b64.h"
#include "lib/error.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VERSION   0x01
#define MAC_LEN   16
#define FIELD_MAX 255
/* version, issued, three length-prefixed strings, MAC */
#define PAYLOAD_MAX   (1 + 8 + 3 * (1 + FIELD_MAX) + MAC_LEN)
#define CLOCK_SKEW_US ((int64_t)60 * 1000000)

static int mac(const void *secret, size_t secret_len, const unsigned char *data, size_t n,
               unsigned char out[MAC_LEN])
{
	unsigned char full[EVP_MAX_MD_SIZE];
	unsigned int full_len = 0;

	if (secret_len == 0 || secret_len > INT32_MAX)
		return ak_error_code(AK_EINVALID, "unsubscribe: no secret");
	if (HMAC(EVP_sha256(), secret, (int)secret_len, data, n, full, &full_len) == NULL ||
	    full_len < MAC_LEN)
		return ak_error_set("unsubscribe: OpenSSL HMAC-SHA256 failed");
	memcpy(out, full, MAC_LEN);
	OPENSSL_cleanse(full, sizeof(full));
	return 0;
}

static int put_field(unsigned char *p, size_t *n, const char *what, const char *s)
{
	size_t len = s ? strlen(s) : 0;

	if (len > FIELD_MAX)
		return ak_error_code(AK_EINVALID, "unsubscribe: %s longer than %d bytes", what,
		                     FIELD_MAX);
	p[(*n)++] = (unsigned char)len;
	memcpy(p + *n, s ? s : "", len);
	*n += len;
	return 0;
}

int unsub_token_make(struct ak_buf *out, const void *secret, size_t secret_len, const char *subject,
                     const char *list, const char *campaign, int64_t issued_us)
{
	unsigned char p[PAYLOAD_MAX];
	char text[AK_B64URL_LEN(PAYLOAD_MAX) + 1];
	uint64_t secs;
	size_t n = 0, len;
	int i, rc;

	if (subject == NULL || *subject == '\0' || list == NULL || *list == '\0')
		return ak_error_code(AK_EINVALID,
		                     "unsubscribe: a token needs a subject and a list");
	if (issued_us < 0)
		return ak_error_code(AK_EINVALID, "unsubscribe: issue time before 1970");
	secs = (uint64_t)(issued_us / 1000000);
	p[n++] = VERSION;
	for (i = 7; i >= 0; i--)
		p[n++] = (unsigned char)(secs >> (8 * i));
	if ((rc = put_field(p, &n, "subject", subject)) != 0 ||
	    (rc = put_field(p, &n, "list", list)) != 0 ||
	    (rc = put_field(p, &n, "campaign", campaign)) != 0 ||
	    (rc = mac(secret, secret_len, p, n, p + n)) != 0)
		return rc;
	n += MAC_LEN;
	len = ak_b64url_encode(text, p, n);
	return ak_buf_append(out, text, len);
}

/* Read one length-prefixed field into dst (NUL-terminated). */
static int get_field(const unsigned char *p, size_t n, size_t *pos, char *dst, size_t cap,
                     const char *what)
{
	size_t len;

	if (*pos >= n)
		return ak_error_code(AK_EINVALID, "unsubscribe token: truncated before %s", what);
	len = p[(*pos)++];
	if (len > n - *pos || len >= cap)
		return ak_error_code(AK_EINVALID, "unsubscribe token: %s runs past the end", what);
	if (memchr(p + *pos, '\0', len))
		return ak_error_code(AK_EINVALID, "unsubscribe token: NUL byte in %s", what);
	memcpy(dst, p + *pos, len);
	dst[len] = '\0';
	*pos += len;
	return 0;
}

int unsub_token_check(const char *token, size_t len, const void *secret, size_t secret_len,
                      int64_t now_us, int64_t max_age_us, struct unsub_token *out)
{
	unsigned char p[PAYLOAD_MAX], want[MAC_LEN];
	uint64_t secs = 0;
	size_t pos = 0, body;
	int n, i, rc;

	memset(out, 0, sizeof(*out));
	if (token == NULL || len == 0)
		return ak_error_code(AK_EINVALID, "unsubscribe token: missing");
	if (len > AK_B64URL_LEN(PAYLOAD_MAX))
		return ak_error_code(AK_EINVALID, "unsubscribe token: too long");
	n = ak_b64url_decode(p, sizeof(p), token, len);
	if (n < 0)
		return ak_error_code(AK_EINVALID, "unsubscribe token: not base64url");
	if ((size_t)n < 1 + 8 + 3 + MAC_LEN)
		return ak_error_code(AK_EINVALID, "unsubscribe token: too short");
	/* The MAC first: nothing in an unauthenticated token is looked at. */
	body = (size_t)n - MAC_LEN;
	if ((rc = mac(secret, secret_len, p, body, want)) != 0)
		return rc;
	if (CRYPTO_memcmp(want, p + body, MAC_LEN) != 0)
		return ak_error_code(AK_EINVALID, "unsubscribe token: signature does not match");
	if (p[pos++] != VERSION)
		return ak_error_code(AK_EINVALID, "unsubscribe token: unknown version %u",
		                     (unsigned)p[0]);
	for (i = 0; i < 8; i++)
		secs = secs << 8 | p[pos++];
	if (secs > (uint64_t)(INT64_MAX / 1000000))
		return ak_error_code(AK_EINVALID, "unsubscribe token: issue time out of range");
	if ((rc = get_field(p, body, &pos, out->subject, sizeof(out->subject), "subject")) != 0 ||
	    (rc = get_field(p, body, &pos, out->list, sizeof(out->list), "list")) != 0 ||
	    (rc = get_field(p, body, &pos, out->campaign, sizeof(out->campaign), "campaign")) != 0)
		goto done;
	if (pos != body) {
		rc = ak_error_code(AK_EINVALID, "unsubscribe token: trailing bytes");
		goto done;
	}
	if (out->subject[0] == '\0' || out->list[0] == '\0') {
		rc = ak_error_code(AK_EINVALID, "unsubscribe token: empty subject or list");
		goto done;
	}
	out->issued_us = (int64_t)secs * 1000000;
	if (out->issued_us > now_us + CLOCK_SKEW_US) {
		rc = ak_error_code(AK_EINVALID, "unsubscribe token: issued in the future");
		goto done;
	}
	if (max_age_us > 0 && out->issued_us < now_us - max_age_us) {
		rc = ak_error_code(AK_EINVALID, "unsubscribe token: expired");
		goto done;
	}
	ak_hex_encode(out->id, p + body, MAC_LEN);
done:
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

int unsub_secret_load(const char *path, unsigned char **out, size_t *len)
{
	unsigned char *buf = NULL;
	struct stat sb;
	size_t n = 0;
	ssize_t got;
	int fd, rc = 0;

	*out = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return ak_error_code(errno == ENOENT ? AK_ENOTFOUND : AK_ERROR, "%s: %s", path,
		                     strerror(errno));
	if (fstat(fd, &sb) != 0) {
		rc = ak_error_set("%s: %s", path, strerror(errno));
		goto done;
	}
	if ((sb.st_mode & 077) != 0) {
		rc = ak_error_set("%s: the unsubscribe secret is readable by others (mode %03o); "
		                  "chmod 600 it",
		                  path, (unsigned)(sb.st_mode & 0777));
		goto done;
	}
	if ((buf = malloc(UNSUB_SECRET_MAX + 1)) == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	while (n <= UNSUB_SECRET_MAX && (got = read(fd, buf + n, UNSUB_SECRET_MAX + 1 - n)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			rc = ak_error_set("%s: %s", path, strerror(errno));
			goto done;
		}
		n += (size_t)got;
	}
	if (n < UNSUB_SECRET_MIN || n > UNSUB_SECRET_MAX) {
		rc = ak_error_set("%s: an unsubscribe secret is %d to %d bytes (this is %zu%s)",
		                  path, UNSUB_SECRET_MIN, UNSUB_SECRET_MAX, n,
		                  n > UNSUB_SECRET_MAX ? "+" : "");
		goto done;
	}
	*out = buf;
	*len = n;
	buf = NULL;
done:
	if (buf) {
		OPENSSL_cleanse(buf, UNSUB_SECRET_MAX + 1);
		free(buf);
	}
	close(fd);
	return rc;
}

void unsub_secret_free(unsigned char *secret, size_t len)
{
	if (secret == NULL)
		return;
	OPENSSL_cleanse(secret, len);
	free(secret);
}

int unsub_secret_create(const char *path)
{
	unsigned char s[UNSUB_SECRET_MIN];
	int fd, rc = 0;

	if (RAND_bytes(s, sizeof(s)) != 1)
		return ak_error_set("OpenSSL: no random bytes for the unsubscribe secret");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = ak_error_code(errno == EEXIST ? AK_EEXISTS : AK_ERROR, "%s: %s", path,
		                   strerror(errno));
		goto done;
	}
	if (write(fd, s, sizeof(s)) != (ssize_t)sizeof(s) || fsync(fd) != 0) {
		rc = ak_error_set("%s: %s", path, strerror(errno));
		unlink(path);
	}
	close(fd);
done:
	OPENSSL_cleanse(s, sizeof(s));
	return rc;
}
