/*
 * auditd/http_parse.h - the parsing of HTTP request parts that the daemon
 * does itself (libevent's evhttp parses the request line and headers):
 * query strings and form bodies (application/x-www-form-urlencoded), the
 * one-click unsubscribe body of RFC 8058 in the forms mail providers send
 * it, percent-encoded path segments, the bearer token of an Authorization
 * header, and the JSON body of POST /v1/gate.
 *
 * These are pure functions over bytes, so a fuzz target
 * (tests/fuzz/fuzz_http.c) drives them without a socket.
 *
 * Errors: AK_EINVALID with a message fit to show the client; AK_ENOTFOUND
 * for a parameter that is absent.
 */
#ifndef AUDITD_HTTP_PARSE_H
#define AUDITD_HTTP_PARSE_H

#include "policies/gate.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Percent-decode s[0..len) into out (cap bytes, NUL-terminated; *out_len
 * optional). With plus_space, '+' is a space (forms). Refuses a bad
 * escape, an encoded or raw NUL, and output longer than cap - 1. */
int http_pct_decode(const char *s, size_t len, int plus_space, char *out, size_t cap,
                    size_t *out_len);

/* The value of parameter name in a query string or urlencoded form
 * (name=value pairs joined by '&'), decoded into out. The first
 * occurrence counts; a name given without '=' has the empty value. */
int http_query_get(const char *query, size_t len, const char *name, char *out, size_t cap,
                   size_t *out_len);

/* Does this body say "List-Unsubscribe=One-Click" (RFC 8058)? Accepts the
 * urlencoded form (other fields may come with it, a trailing CRLF too)
 * and multipart/form-data with a part named List-Unsubscribe holding
 * One-Click (content_type gives the boundary; may be NULL). 1 yes, 0 no. */
int http_one_click(const char *content_type, const char *body, size_t len);

/* The token of "Authorization: Bearer <token>" (scheme case-insensitive)
 * as a pointer into header and its length; AK_ENOTFOUND when header is
 * NULL or not a bearer credential. */
int http_bearer(const char *header, const char **token, size_t *len);

/* A decimal integer in [min, max]. */
int http_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* The JSON body of POST /v1/gate:
 *   {"rcpt": "...", "list": "...", "stream": "marketing"|"transactional",
 *    "campaign": "...", "owner": "...", "campaign_size": N,
 *    "unsubscribe_headers": true|false}
 * rcpt, list and stream are required. The strings in out point into
 * *holder (a new reference the caller json_decref()s, also on error). */
int http_gate_request(const char *body, size_t len, struct gate_request *out, json_t **holder);

#endif
