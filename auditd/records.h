/*
 * auditd/records.h - records the daemon and the commands make themselves
 * (system entries, alerts, one-click opt-outs), built through the same
 * ingest pipeline as every outside record: the same kind rules, the same
 * canonical bytes, the same dedupe identity.
 *
 * Ownership: body is borrowed; out is the caller's (ingest_batch_free()).
 */
#ifndef AUDITD_RECORDS_H
#define AUDITD_RECORDS_H

#include "auditd/ingest/pipeline.h"

#include <jansson.h>
#include <stdint.h>

/* One record of kind with body at time_us (0: now) from source, checked
 * and canonicalised into out (one record). AK_EINVALID with the rule it
 * breaks. */
int record_build(struct ingest_batch *out, const char *kind, const char *source, json_t *body,
                 int64_t time_us);

/* A system entry {"event": event, ...fields} (fields borrowed, may be
 * NULL; its members are copied into the body). */
int record_system(struct ingest_batch *out, const char *source, const char *event, json_t *fields);

/* Build a system entry and append it to st at once (for commands that
 * own a writable store; the daemon goes through its writer). */
int record_system_append(struct evidence_store *st, const char *source, const char *event,
                         json_t *fields);

#endif
