/*
 * auditd/unsubscribe.h - one-click unsubscribe tokens (RFC 8058).
 *
 * The delivery engine puts a token in each marketing message's
 * List-Unsubscribe URL (https://.../v1/unsubscribe?t=TOKEN); the daemon
 * takes a POST of "List-Unsubscribe=One-Click" to that URL without any
 * other authentication, checks the token and appends an opt_out consent
 * entry, unless it repeats an opt-out of the pair less than
 * unsubscribe.repeat_window old (h_unsub_post in auditd/http.c). The token is the (subject, list,
 * campaign) it speaks for and when it was issued, with an HMAC-SHA256 under the daemon's secret: it
 * cannot be forged or altered, and it carries no secret itself.
 *
 * Format: base64url without padding of
 *   0x01 || issued (8 bytes, big-endian Unix seconds) ||
 *   len(subject) (1 byte) || subject || len(list) || list ||
 *   len(campaign) || campaign || HMAC-SHA256(secret, everything before)[0:16]
 * The token id (for the opt-out's proof) is the hex of the 16 MAC bytes.
 */
#ifndef AUDITD_UNSUBSCRIBE_H
#define AUDITD_UNSUBSCRIBE_H

#include "lib/buf.h"

#include <stddef.h>
#include <stdint.h>

struct unsub_token {
	char subject[256];
	char list[256];
	char campaign[256];
	int64_t issued_us;
	char id[33]; /* hex of the MAC */
};

/* Append a token for (subject, list, campaign) issued at issued_us. Each
 * string at most 255 bytes. */
int unsub_token_make(struct ak_buf *out, const void *secret, size_t secret_len, const char *subject,
                     const char *list, const char *campaign, int64_t issued_us);

/* Check a token: well-formed, MAC right, issued no later than now (plus a
 * minute of clock skew) and no earlier than now - max_age (max_age 0: no
 * limit). AK_EINVALID with the reason otherwise. */
int unsub_token_check(const char *token, size_t len, const void *secret, size_t secret_len,
                      int64_t now_us, int64_t max_age_us, struct unsub_token *out);

/* ---- the secret ---- */

#define UNSUB_SECRET_MIN  32
#define UNSUB_SECRET_MAX  4096
#define UNSUB_SECRET_FILE "unsubscribe.key" /* in the store directory by default */

/* Read the secret from path: UNSUB_SECRET_MIN to UNSUB_SECRET_MAX bytes,
 * not readable by group or others. *out is malloc'd; release it with
 * unsub_secret_free(), which wipes it. */
int unsub_secret_load(const char *path, unsigned char **out, size_t *len);
void unsub_secret_free(unsigned char *secret, size_t len);

/* Write a new secret of 32 random bytes to path, mode 0600. AK_EEXISTS
 * when path exists (it is never overwritten). */
int unsub_secret_create(const char *path);

#endif
