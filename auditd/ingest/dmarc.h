/*
 * auditd/ingest/dmarc.h - the DMARC aggregate report ("rua") adapter.
 *
 * A DMARC report arrives as XML, usually gzip- or zip-compressed, usually
 * attached to an e-mail, sometimes many e-mails in an mbox or a Maildir.
 * This adapter finds every report in such an input and hands each one to
 * the sink as one record of kind "dmarc" (see auditd/ingest/ingest.h):
 *
 *   kind      "dmarc"
 *   time_us   the report's <date_range><begin>
 *   source    opt->source, or "dmarc:" + org_name ("" when there is none)
 *   event_id  org_name + "!" + report_id (the dedupe key)
 *   where     NAME, or "NAME: message N" for the Nth message of an mbox or
 *             a Maildir; "NAME: MEMBER" when a zip holds several reports
 *   body      given as body_json, canonical JSON (RFC 8785) text; "?" marks
 *             members present only when the report has the element:
 *
 *   {"begin","email"?,"end","errors"?[..],"extra_contact_info"?,"org_name"?,
 *    "policy":{"adkim"?,"aspf"?,"discovery_method"?,"domain","fo"?,"np"?,
 *              "p"?,"pct"?,"sp"?,"testing"?},
 *    "report_id",
 *    "rows":[{"auth":{"dkim":[{"domain"?,"human_result"?,"result"?,"selector"?}],
 *                     "spf":[{"domain"?,"result"?,"scope"?}]},
 *             "count","disposition"?,"dkim"?,"envelope_from"?,"envelope_to"?,
 *             "header_from"?,"reasons"?[{"comment"?,"type"?}],"source_ip"?,
 *             "spf"?}],
 *    "version"?}
 *
 * begin and end are RFC 3339 UTC strings; count and pct are integers; every
 * other value is the element's text with surrounding white space removed
 * (disposition, dkim and spf of policy_evaluated also lower-cased). A
 * missing element is left out, an empty one is "". Unknown elements are
 * ignored, and so are namespaces: <feedback>, <ns1:feedback> and <feedback
 * xmlns="urn:ietf:params:xml:ns:dmarc-2.0"> read the same. The XML may be
 * in UTF-8, UTF-16 or any single-byte charset iconv knows (windows-1252,
 * koi8-r, ...).
 *
 * What the input may be is decided from its bytes, never from its name:
 * gzip (1f 8b; gzip in gzip; bytes after the last stream are ignored), zip
 * (PK 03 04: every member named *.xml, else the first member), an mbox
 * (starts with "From "), an e-mail message (starts with a header line: the
 * first MIME part that is gzip, zip or XML by content type or file name),
 * else XML. Containers nest (an e-mail with a zip holding a gzip).
 *
 * A report that cannot be used (bad XML, a missing report_id, a limit
 * exceeded, ...) goes to the sink's reject() with where and a reason such
 * as "line 12: <date_range><begin>: not an integer"; the adapter then goes
 * on with the next report of the input. A message of an mbox or Maildir
 * that carries no report at all is skip()ped (mailboxes hold other mail);
 * a lone message without one is rejected.
 *
 * Limits (an option left 0 takes the default):
 *   opt->max_bytes    largest decompressed report, archive member, decoded
 *                     MIME part, lone e-mail message (an mbox is read one
 *                     message at a time) and canonical body:
 *                     DMARC_DEFAULT_MAX_BYTES
 *   opt->max_records  most <record>s in one report: DMARC_DEFAULT_MAX_RECORDS
 * and fixed ones below for archive members, MIME parts, container nesting
 * and XML element nesting.
 *
 * Returns: 0 when the input was read to its end (rejects included); a
 * negative code when the input itself could not be read (no such file, an
 * I/O error), memory ran out, or the sink's record() or reject() returned
 * a negative code, with ak_error_last() naming where.
 *
 * SECURITY: every byte comes from whoever can send us mail. Nothing from an
 * input names a file we open (archive member names are only checked and
 * quoted), XML entity declarations and external DTDs are refused before
 * they are used (no billion laughs, no XXE), every decompressed byte is
 * counted against max_bytes, and memory is bounded by the limits above:
 * rows are streamed into the canonical body as they are parsed, never kept
 * as a tree.
 */
#ifndef AUDITD_INGEST_DMARC_H
#define AUDITD_INGEST_DMARC_H

#include "auditd/ingest/ingest.h"

#include <stddef.h>

#define DMARC_DEFAULT_MAX_BYTES   ((size_t)256 << 20)
#define DMARC_DEFAULT_MAX_RECORDS ((size_t)1000000)
#define DMARC_MAX_MEMBERS         256   /* zip members looked at */
#define DMARC_MAX_PARTS           256   /* MIME parts looked at in one message */
#define DMARC_MAX_NESTING         8     /* containers inside containers */
#define DMARC_MAX_XML_DEPTH       256   /* XML elements inside elements */
#define DMARC_MAX_LIST            10000 /* <error>s, <reason>s, <dkim>s, <spf>s per list */

/* Ingest the reports in the file at path (any container above), or in
 * every message of the Maildir folder at path (its cur/ and new/, in file
 * name order). opt->name names the input in messages (NULL: path). */
int ingest_dmarc_path(const char *path, const struct ingest_options *opt,
                      const struct ingest_sink *sink);

/* The same for an input already in memory (an HTTP body, stdin read in
 * full). data is borrowed; opt->name NULL reads as "-". */
int ingest_dmarc_mem(const void *data, size_t len, const struct ingest_options *opt,
                     const struct ingest_sink *sink);

#endif
