/*
 * auditd/ingest/dsn.h - asynchronous bounces and complaints: delivery
 * status notifications (DSN, RFC 3464) and abuse feedback reports (ARF,
 * RFC 5965) as `send` records, so that they feed the suppression list
 * (policies/state.c) like the delivery engine's own bounces.
 *
 * Input: one message, an mbox, a Maildir folder, or any of them gzipped
 * (auditd/ingest/mail.h). Each message must be a DSN (a
 * message/delivery-status part, normally inside multipart/report;
 * report-type=delivery-status) or, for ARF, a feedback report (a
 * message/feedback-report part); any other message is rejected with where
 * ("FILE: message N") and why.
 *
 * DSN: one record per per-recipient block of the delivery-status part:
 *
 *   Action   Status   status of the record
 *   failed   5.x.x    bounced   (permanent: suppresses the address)
 *   failed   4.x.x    expired   (the reporting MTA gave up retrying a
 *                               temporary failure; RFC 3463 class 4 says
 *                               nothing permanent about the mailbox, so it
 *                               does not suppress)
 *   delayed  any      deferred
 *   delivered, relayed, expanded: skipped (counted, not an error)
 *
 *   body: rcpt (Final-Recipient, lower-cased), status, dsn (the Status
 *   code), reply (Diagnostic-Code without its type)?, relay (Remote-MTA
 *   without its type)?, orig_to (Original-Recipient)?, message_id (of the
 *   returned message, without <>)?, campaign (its X-Akashi-Campaign)?
 *   source: opt->source, else "dsn:" + Reporting-MTA (without its type),
 *   or "dsn" when there is none.
 *
 * ARF: one record per Original-Rcpt-To of the report (or, without any,
 * per address in the To of the returned message). Feedback-Type abuse or
 * fraud is a complaint; every other type (not-spam, virus, other, ...) is
 * skipped.
 *
 *   body: rcpt, status "complained", feedback_type, source_ip?,
 *   message_id?, campaign? (as above)
 *   source: opt->source, else "arf:" + the domain of the report's From,
 *   or "arf".
 *
 * Both: the event time is the notification's Date (else Arrival-Date),
 * in UTC; the event id (the dedupe key) is the notification's own
 * Message-ID + "!" + rcpt, so reading the same mailbox again adds nothing.
 * A per-recipient block that cannot be used (no Final-Recipient, an
 * address that is not one, an Action or Status that is not one) is
 * rejected on its own; the other recipients of the message still count.
 *
 * SECURITY: every byte comes from whoever can send us mail. Fields are
 * read by a bounded parser (DSN_MAX_FIELDS fields, DSN_MAX_PART_BYTES per
 * part); GMime parses MIME with the limits of mail.h.
 */
#ifndef AUDITD_INGEST_DSN_H
#define AUDITD_INGEST_DSN_H

#include "auditd/ingest/ingest.h"

#include <stddef.h>

#define DSN_MAX_FIELDS     4096              /* header fields in one status part */
#define DSN_MAX_PART_BYTES ((size_t)1 << 20) /* a status part or returned headers */

/* Read DSNs (arf 0) or feedback reports (arf 1) from the file or Maildir
 * at path, or from data in memory; opt->name names the input. Returns as
 * every adapter (ingest.h). */
int ingest_dsn_path(const char *path, int arf, const struct ingest_options *opt,
                    const struct ingest_sink *sink);
int ingest_dsn_mem(const void *data, size_t len, int arf, const struct ingest_options *opt,
                   const struct ingest_sink *sink);

#endif
