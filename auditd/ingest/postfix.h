/*
 * auditd/ingest/postfix.h - the Postfix maillog adapter: one "send" record
 * per recipient per delivery status, from the lines Postfix logs.
 *
 * Input: syslog lines, one a line, in any mix of
 *   - RFC 3164 / BSD:  "Nov 22 07:26:17 mx1 postfix/smtp[1234]: ..." (also with
 *     a leading "<PRI>"). Postfix's own maillog_file (postlogd, Postfix 3.4
 *     and later; checked on 3.7) writes exactly this shape, without PRI.
 *   - rsyslog / journal ISO: "2026-11-22T07:26:17.123456+09:00 mx1 postfix/smtp[1234]: ..."
 *     (offset as +HH:MM, +HHMM or Z; an ISO time without offset is local).
 *   - RFC 5424: "<22>1 2026-11-22T07:26:17.123456+09:00 mx1 postfix/smtp 1234 - - ..."
 * A Postfix line is one whose program name ends in "/DAEMON", DAEMON a
 * Postfix program (smtp, qmgr, cleanup, ...): "postfix/smtp",
 * "postfix-out/smtp" (multi-instance syslog_name), "postfix/submission/smtpd".
 *
 * Times: a time with an offset is exact. A time without one (RFC 3164, or
 * ISO without offset) is read in opt->zone (an IANA name such as
 * "Asia/Tokyo", or a fixed "+09:00"; NULL: the host's zone). A local time
 * that a DST change skips is rejected; one that occurs twice is the earlier
 * instant. RFC 3164 times have no year:
 *   - opt->year, when set, is the year of every such line;
 *   - else the year is that of opt->ref_us (the file's modification time,
 *     or now for a stream; 0 means now) in the zone above, minus one when
 *     that would put the line more than one day after opt->ref_us (a log
 *     spanning New Year read in January: its December lines belong to the
 *     previous year). A February 29 that does not exist in that year is
 *     taken from the year before; when neither has it, the line is rejected
 *     (if it records anything).
 *
 * Joining: Postfix logs one message in many lines that share a queue id.
 * The adapter keeps, per (host, queue id), what later records need:
 *   smtpd   "client=NAME[ADDR]"                      -> client
 *   cleanup "message-id=<ID>"                        -> message_id
 *   cleanup "info: header X-Akashi-Campaign: V ..."  -> campaign (header_checks
 *           INFO action; likewise X-Akashi-List -> list, X-Akashi-Stream -> stream)
 *   qmgr    "from=<ADDR>, size=N, nrcpt=N"           -> from, size
 * and forgets it at qmgr "removed" (queue ids are reused). At most
 * limits->max_queue_ids states and max_state_bytes of remembered text are
 * kept; beyond, the least recently used queue id is forgotten and a skip()
 * says so (its later records lack the joined fields).
 *
 * Records: every delivery line ("to=<R>, ..., status=sent|deferred|bounced
 * (reply)", whatever agent logged it: smtp, lmtp, local, virtual, pipe,
 * error, discard, qmgr) is one record, kind "send", time_us = the line's
 * time, source = opt->source or "postfix:HOST", where = "NAME:LINE". A qmgr
 * "status=expired, returned to sender" line gives one record of status
 * "expired" per recipient of that message last seen deferred.
 * event_id = "HOST|QUEUE_ID|STATUS|TIMESTAMP|RCPT" (TIMESTAMP = the line's
 * own timestamp text), plus "|ORIG_TO" when orig_to is logged: the same
 * line gives the same id on every ingest, so re-ingesting a file appends
 * nothing.
 *
 * Body (JSON; field names are a contract; fields not known are left out,
 * e.g. a log that starts mid-stream gives records without from/message_id):
 *   rcpt        recipient as logged, ASCII lower-cased
 *   status      "sent", "deferred", "bounced" or "expired"
 *   message_id  Message-ID without its enclosing angle brackets ("a@b" for
 *               "<a@b>"), so it joins with other records whichever form
 *               they hold; Postfix logs it as found in the header
 *   from        envelope sender, ASCII lower-cased; "" for the null sender
 *   dsn         "2.0.0"
 *   relay       "mx.example.com[192.0.2.1]:25", "none", "local", ...
 *   reply       the text in parentheses after the status
 *   queue_id    Postfix queue id
 *   host        the syslog host name
 *   orig_to     original recipient before aliasing, ASCII lower-cased
 *   delay_ms    delay= in integer milliseconds (no floats in entries)
 *   size        message size in bytes (integer)
 *   client      "NAME[ADDR]" of the SMTP client
 *   campaign, list, stream   from the X-Akashi-* headers, trimmed, as
 *               logged: Postfix logs at most 200 bytes of the header line
 *               (name included) and shows control characters as '?'
 *
 * Skipped (sink->skip, counted, not errors): other programs' lines, Postfix
 * lines that carry nothing for a record (connect, warnings, NOQUEUE
 * rejects, ...), Postfix lines of a shape not understood, statuses not
 * recorded (verify probes' "deliverable"). Rejected (sink->reject, with the
 * line number and the reason): lines that cannot be syslog lines (no
 * timestamp, no host, invalid UTF-8, NUL bytes), lines over opt->max_line
 * bytes (default 64 KiB), and delivery lines whose local time does not exist.
 *
 * Errors: 0 when the input was read to its end; AK_EINVALID for an unknown
 * opt->zone, AK_ENOMEM, AK_ERROR for a read error, or the sink's own
 * negative code when it asked to stop; ak_error_last() says why.
 */
#ifndef AUDITD_INGEST_POSTFIX_H
#define AUDITD_INGEST_POSTFIX_H

#include "auditd/ingest/ingest.h"

#include <stddef.h>
#include <stdio.h>

#define POSTFIX_DEFAULT_MAX_QUEUE_IDS   ((size_t)1000000)
#define POSTFIX_DEFAULT_MAX_STATE_BYTES ((size_t)256 << 20)
#define POSTFIX_DEFAULT_MAX_LINE        ((size_t)64 << 10)

struct postfix_limits {
	size_t max_queue_ids;   /* live (host, queue id) states; 0: the default */
	size_t max_state_bytes; /* text remembered over all states; 0: the default */
};

/* Read a maillog from in and hand its records to sink (see above). */
int ingest_postfix(FILE *in, const struct ingest_options *opt, const struct ingest_sink *sink);

/* The same with explicit memory limits (NULL: the defaults). */
int ingest_postfix_limited(FILE *in, const struct ingest_options *opt,
                           const struct ingest_sink *sink, const struct postfix_limits *limits);

#endif
