/*
 * auditd/ingest/consent.h - consent records (opt-in, confirm, opt-out) from
 * CSV exports of CRMs and sign-up tools.
 *
 * The first row is a header naming, per column, where a cell goes:
 *
 *   time          the event time, RFC 3339 with any offset (required column,
 *                 and a row without it is rejected); not part of the body
 *   event_id, id  the source's own id of the event (at most one of the two);
 *                 not part of the body
 *   source        who reported the row (its entry's source); an empty cell
 *                 leaves the default below; not part of the body
 *   anything else a body field; a dotted name ("proof.ip") is a member of a
 *                 nested object ({"proof":{"ip":...}})
 *
 * so a typical export reads
 *
 *   subject,list,action,method,time,proof.ip,proof.form_url
 *   a@example.jp,news,opt_in,form,2026-11-21T08:00:00+09:00,192.0.2.1,https://...
 *
 * Every cell is a JSON string; an empty cell leaves its field out (and an
 * object whose fields are all empty is left out too). Names outside the
 * consent body's contract are kept: checking the body is the pipeline's
 * job, one check whatever the door (auditd/ingest/ingest.h).
 *
 * Each record: kind "consent", source from the row's source cell, else
 * opt->source, else "csv:" + the input's base name ("csv:stdin" for "-"), event_id from the event_id/id column,
 * where "NAME:LINE" with the physical line the row starts on.
 *
 * Rejects, each naming "NAME:LINE":
 *   - a bad header (an empty, repeated or malformed name, a name inside
 *     another column's object, no "time" column, or a header the CSV reader
 *     refuses) rejects the whole file: "header: ..."; no row is read;
 *   - an empty input: "header: missing (the input is empty)";
 *   - a row the CSV reader refuses (bad quoting, invalid UTF-8, too long):
 *     "row N: <reason>"; reading goes on with the next row, except after an
 *     unterminated quote, which runs to the end of the input;
 *   - a row with another number of cells than the header:
 *     "row 17: 5 cells, the header has 6";
 *   - a row whose time is empty or not RFC 3339: "row N: column 'time': ...".
 * Rows are numbered from 1 after the header; blank lines are not rows.
 *
 * opt->max_line bounds each cell and each row's cells together (bytes after
 * unquoting); opt->max_line 0 means lib/csv.h's defaults.
 *
 * Returns 0 when the input was read to its end or refused as a whole (the
 * reject says why), or a negative code for a read error, out of memory, or
 * a sink that asked to stop (see ingest.h).
 */
#ifndef AUDITD_INGEST_CONSENT_H
#define AUDITD_INGEST_CONSENT_H

#include "auditd/ingest/ingest.h"

#include <stdio.h>

int ingest_consent_csv(FILE *in, const struct ingest_options *opt,
		       const struct ingest_sink *sink);

#endif
