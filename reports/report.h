/*
 * reports/report.h - the quarterly compliance report: one JSON document
 * with everything the report shows, and its two renderings for people
 * (a self-contained HTML file, printable on A4) and for spreadsheets (the
 * exceptions table as CSV).
 *
 * report_build() reads a period of the log and an audit of that period
 * (policies/audit.h) into the document; docs/REPORTS.md is its schema,
 * with an example. The renderers read nothing but the document, so the
 * JSON format is the report: what the HTML or CSV says, the JSON says too.
 *
 * The report is bound to a checkpoint: every scan stops at the
 * checkpoint's size, so a reader holding the signed note knows exactly
 * which entries the figures rest on, and every exception cites the seqs of
 * the entries that show it.
 *
 * No floating-point numbers anywhere in the document: ratios are decimal
 * strings ("0.9950"), as in the evidence format.
 *
 * Ownership: the document from report_build() is a new jansson reference
 * the caller releases with json_decref(). Everything in struct
 * report_request is borrowed for the duration of the call. Renderers
 * append to the caller's buffer.
 */
#ifndef REPORTS_REPORT_H
#define REPORTS_REPORT_H

#include "evidence/evidence.h"
#include "lib/buf.h"
#include "policies/audit.h"
#include "policies/policy.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The format name written into every document ("format"). */
#define REPORT_FORMAT "akashi-report/1"

/* A policy is amber, not red, while at least this share of its population
 * passed (parts per million) and no exception is critical. */
#define REPORT_AMBER_MIN_PPM 990000

struct report_request {
	struct audit_period period; /* the period reported on */
	const char *zone;           /* IANA zone of the period and its weeks; NULL: UTC */
	const struct policy_set *set;
	/* When the audit of the period at the set's commit is not on record,
	 * or entries it should have seen came after it: 1 runs it and records
	 * it (findings and its system entry), 0 runs it in memory only. */
	int record;
	const char *command; /* the command that makes this report again */
	const char *made_by; /* who asked for it (OS user or token name) */
	int64_t made_us;     /* 0: now */
	/* At most this many exceptions are listed (all are counted); 0: 100000. */
	size_t max_exceptions;
};

/* Gather the report for req from st into *out (a new reference).
 *
 * The report is bound to a checkpoint: with req->record, one is made
 * first (and another after the audit's record, if the audit had to run);
 * without, the latest is used (AK_ENOTFOUND when there is none). The
 * audit of the period is read from the log when its system entry at this
 * commit is there, no consent, send, admin or DMARC entry of the period
 * came after what it read, and the findings on record are its own; else
 * it is run. The previous period's figures
 * come from its recorded audit at this commit, else from running it in
 * memory.
 *
 * Needs a writable store when req->record is set. Errors: AK_EINVALID for
 * an impossible request, or what reading or appending gives. */
int report_build(struct evidence_store *st, const struct report_request *req, json_t **out);

/* The previous period of p: the quarter before a quarter, else a range of
 * the same length just before it. */
int report_previous_period(const struct audit_period *p, const char *zone,
                           struct audit_period *out);

/* One HTML5 file: inline CSS and SVG, no script, nothing fetched; every
 * value from the document is escaped. AK_EINVALID for a document that is
 * not a report of this format. */
int report_render_html(const json_t *doc, struct ak_buf *out);

/* The exceptions table as CSV: RFC 4180, CRLF, UTF-8 with a byte-order
 * mark, and any cell a spreadsheet would run as a formula (starting with
 * = + - @ tab or CR) defused with a leading apostrophe. */
int report_render_csv(const json_t *doc, struct ak_buf *out);

/* Append s to out with the five HTML-significant characters (& < > " ')
 * written as character references, and C0 controls other than tab, LF and
 * CR as U+FFFD, so the result is safe in element content and in quoted
 * attribute values. */
int report_html_escape(struct ak_buf *out, const char *s);

/* Write data to path atomically: a temporary file in the same directory,
 * written, flushed and fsynced, then renamed over path, and the directory
 * fsynced. sha256 (optional) receives the digest of the bytes. */
int report_write_file(const char *path, const void *data, size_t len, unsigned char sha256[32]);

#endif
