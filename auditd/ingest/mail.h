/*
 * auditd/ingest/mail.h - every e-mail message of an input, for adapters
 * whose records arrive as mail (DSNs, ARF reports).
 *
 * The input is found the way the DMARC adapter finds its reports, by the
 * same code (the container walker of auditd/ingest/dmarc.c): decided from
 * its bytes, never from its name, an input is an mbox (starts with
 * "From "), one message (starts with a header line), either of them
 * gzip-compressed, or, for a path, a Maildir folder (cur/ and new/, in
 * file name order). Anything else is rejected as "not an e-mail message or
 * mailbox". GMime parses each message; the reader's message() gets it,
 * borrowed for the call, with where naming it: NAME for a lone message,
 * "NAME: message N" for the Nth message of an mbox or a Maildir, and
 * in_mailbox set for the latter (a mailbox holds other mail too: a message
 * that is not what the adapter reads is skipped there, as the DMARC
 * adapter does, where a lone one is rejected).
 *
 * message() hands records, rejects and skips to the sink itself and
 * returns 0 to go on, or a negative code (message set) to stop the input.
 *
 * Limits: opt->max_bytes (0: DMARC_DEFAULT_MAX_BYTES) bounds a lone message,
 * decompressed data and anything copied out of another container; an mbox
 * is read one message at a time.
 *
 * Returns as the DMARC adapter does (dmarc.h): 0 when the input was read to
 * its end, rejects included; a negative code when it could not be read,
 * memory ran out or message() or the sink asked to stop.
 */
#ifndef AUDITD_INGEST_MAIL_H
#define AUDITD_INGEST_MAIL_H

#include "auditd/ingest/ingest.h"

#include <gmime/gmime.h>
#include <stddef.h>

struct ingest_mail_reader {
	int (*message)(void *ctx, const char *where, GMimeMessage *msg, int in_mailbox);
	void *ctx;
};

/* The messages in the file or Maildir at path (opt->name names it in
 * messages; NULL: path). */
int ingest_mail_path(const char *path, const struct ingest_options *opt,
                     const struct ingest_sink *sink, const struct ingest_mail_reader *r);

/* The messages of an input in memory (data borrowed; NULL name: "-"). */
int ingest_mail_mem(const void *data, size_t len, const struct ingest_options *opt,
                    const struct ingest_sink *sink, const struct ingest_mail_reader *r);

#endif
