/*
 * tests/fuzz/fuzz_http.c - libFuzzer target for the request parsing the
 * daemon does itself (auditd/http_parse.h) and for unsubscribe tokens
 * (auditd/unsubscribe.h), the parts of a request that reach akashi code.
 *
 * An input is three parts split at the first two newlines: a header value
 * (Content-Type, or Authorization), a query string, and a body. Every
 * parser runs on them and what each promises is checked: decoded values
 * are NUL-free and within their buffer, a decoded value re-encoded decodes
 * to itself, a token that checks re-makes to the same text, and the
 * gate body either fails or gives the three required fields.
 */
#include "auditd/http_parse.h"
#include "auditd/unsubscribe.h"
#include "lib/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char secret[] = "fuzz-secret-fuzz-secret-fuzz-secret!";

static void split(const char *d, size_t n, const char **part, size_t *len)
{
	size_t i, k = 0, start = 0;

	for (i = 0; i < n && k < 2; i++)
		if (d[i] == '\n') {
			part[k] = d + start;
			len[k++] = i - start;
			start = i + 1;
		}
	for (; k < 2; k++) {
		part[k] = d + n;
		len[k] = 0;
	}
	part[2] = d + start;
	len[2] = n - start;
}

/* Percent-encode every byte, decode again: must give the same bytes. */
static void pct_round_trip(const char *v, size_t n)
{
	char *enc = malloc(3 * n + 1), *dec = malloc(n + 1);
	static const char hex[] = "0123456789ABCDEF";
	size_t i, m;

	if (enc == NULL || dec == NULL)
		abort();
	for (i = 0; i < n; i++) {
		enc[3 * i] = '%';
		enc[3 * i + 1] = hex[(unsigned char)v[i] >> 4];
		enc[3 * i + 2] = hex[(unsigned char)v[i] & 15];
	}
	if (http_pct_decode(enc, 3 * n, 0, dec, n + 1, &m) != 0 || m != n || memcmp(dec, v, n))
		abort();
	free(enc);
	free(dec);
}

static void query(const char *q, size_t n)
{
	static const char *const names[] = {"t", "kind", "since", "limit", "q", "List-Unsubscribe",
	                                    "a", ""};
	char out[64];
	size_t i, m;
	int rc;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		rc = http_query_get(q, n, names[i], out, sizeof(out), &m);
		if (rc == 0) {
			if (m >= sizeof(out) || out[m] != '\0' || memchr(out, '\0', m))
				abort();
			pct_round_trip(out, m);
		} else if (rc != AK_ENOTFOUND && rc != AK_EINVALID) {
			abort();
		}
	}
}

static void token(const char *t, size_t n)
{
	struct unsub_token ut;
	struct ak_buf again = AK_BUF_INIT(0);

	if (unsub_token_check(t, n, secret, sizeof(secret) - 1, 1800000000LL * 1000000, 0, &ut) !=
	    0)
		return;
	/* Only a token made with the secret gets here: one text per token. */
	if (unsub_token_make(&again, secret, sizeof(secret) - 1, ut.subject, ut.list, ut.campaign,
	                     ut.issued_us) != 0 ||
	    again.len != n || memcmp(again.data, t, n) != 0)
		abort();
	ak_buf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *part[3];
	size_t len[3];
	char *hdr, *body;
	struct gate_request rq;
	json_t *holder = NULL;
	const char *tok;
	size_t tlen;

	split((const char *)data, size, part, len);
	/* Header values reach us NUL-terminated (evhttp). */
	hdr = strndup(part[0], len[0]);
	body = malloc(len[2] + 1);
	if (hdr == NULL || body == NULL)
		abort();
	memcpy(body, part[2], len[2]);
	body[len[2]] = '\0';
	query(part[1], len[1]);
	query(body, len[2]);
	token(part[1], len[1]);
	http_one_click(hdr, body, len[2]);
	http_one_click(NULL, body, len[2]);
	if (http_bearer(hdr, &tok, &tlen) == 0 &&
	    (tlen == 0 || tok < hdr || tok + tlen > hdr + strlen(hdr)))
		abort();
	if (http_gate_request(body, len[2], &rq, &holder) == 0 &&
	    (rq.rcpt == NULL || rq.list == NULL || rq.stream == NULL))
		abort();
	json_decref(holder);
	free(hdr);
	free(body);
	return 0;
}
