/*
 * auditd/ingest/kinds.h - the rules of each entry kind's body: what every
 * record must hold, whatever door it came in by (native JSON Lines, an
 * adapter, the HTTP API, the daemon itself). One function per kind checks
 * a parsed body and, where the rules call for it, normalises it (e-mail
 * addresses lower-cased; an opt-in without proof flagged "proof":"none").
 *
 * The field names are the contract of docs/EVIDENCE-FORMAT.md.
 */
#ifndef AUDITD_INGEST_KINDS_H
#define AUDITD_INGEST_KINDS_H

#include "lib/jcs.h"

#include <jansson.h>

/* Whether kind may be ingested (checkpoint entries are the store's own). */
int ingest_kind_known(const char *kind);

/* The kinds, NULL-terminated, for messages and docs. */
extern const char *const ingest_kinds[];

/* Check body (an object) against the rules of kind. On success *fixed is
 * NULL when the body is fine as it is, or a new jansson object (the caller
 * owns it) holding the normalised body. *event_id (borrowed from body, or
 * NULL) is the source's own id of the event when the body carries one.
 * AK_EINVALID with "field 'x': reason". */
int ingest_kind_check(const char *kind, const struct ak_jv *body, json_t **fixed,
		      const char **event_id);

/* Is s[0..len) an e-mail address as akashi records them (lower case)?
 * Sets *needs_lower when it would be one after lower-casing. */
int ingest_is_email(const char *s, size_t len, int *needs_lower);

#endif
