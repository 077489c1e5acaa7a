/*
 * reports/report_csv.c - the exceptions table of a report as CSV, for
 * spreadsheets: RFC 4180 records (lib/csv.h), CRLF, UTF-8 with a byte-order
 * mark so that spreadsheet applications read Japanese text as UTF-8.
 *
 * SECURITY: cells carry text from entries (addresses, campaign names,
 * details quoting them), which anyone who can feed the log controls. A
 * spreadsheet runs a cell that starts with = + - @ (and, in some, a tab or
 * CR before them) as a formula, so such a cell gets a leading apostrophe:
 * the spreadsheet shows the text, and the apostrophe says it was defused.
 */
#include "reports/report.h"

#include "lib/csv.h"
#include "lib/error.h"
#include "reports/report_int.h"

#include <stdio.h>
#include <string.h>

static const char *const header[] = {"policy_id",    "control",       "severity",
                                     "subject_type", "subject",       "time",
                                     "detail",       "evidence_seqs", "finding_seq"};
#define NCOLS (sizeof(header) / sizeof(header[0]))

static int needs_defusing(const char *s)
{
	return s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' ||
	       s[0] == '\r';
}

/* Put s into cell (its own buffer), defused when it must be. */
static int cell(struct ak_buf *b, struct ak_csv_field *f, const char *s)
{
	int rc;

	ak_buf_reset(b);
	if ((needs_defusing(s) && (rc = ak_buf_putc(b, '\'')) != 0) ||
	    (rc = ak_buf_puts(b, s)) != 0)
		return rc;
	f->ptr = b->data ? b->data : "";
	f->len = b->len;
	return 0;
}

int report_render_csv(const json_t *doc, struct ak_buf *out)
{
	const json_t *rows = json_object_get(json_object_get(doc, "exceptions"), "rows"), *r;
	struct ak_buf cells[NCOLS], seqs = AK_BUF_INIT(0);
	struct ak_csv_field f[NCOLS];
	size_t i, k;
	int rc;

	if (strcmp(rj_str(doc, "format", ""), REPORT_FORMAT) != 0 || !json_is_array(rows))
		return ak_error_code(AK_EINVALID, "not a report document (%s)", REPORT_FORMAT);
	for (k = 0; k < NCOLS; k++)
		ak_buf_init(&cells[k], 0);
	if ((rc = ak_buf_puts(out, "\xEF\xBB\xBF")) != 0)
		goto done;
	for (k = 0; k < NCOLS; k++) {
		f[k].ptr = header[k];
		f[k].len = strlen(header[k]);
	}
	if ((rc = ak_csv_write_record(out, f, NCOLS)) != 0)
		goto done;
	json_array_foreach(rows, i, r)
	{
		const json_t *refs = json_object_get(r, "refs"), *v;
		char fseq[24] = "";
		size_t j;

		ak_buf_reset(&seqs);
		json_array_foreach(refs, j,
		                   v) if ((rc = ak_buf_printf(&seqs, "%s%lld", j ? " " : "",
		                                              (long long)json_integer_value(v))) !=
		                          0) goto done;
		if (json_is_integer(json_object_get(r, "finding_seq")))
			snprintf(fseq, sizeof(fseq), "%lld",
			         (long long)rj_int(r, "finding_seq", 0));
		if ((rc = cell(&cells[0], &f[0], rj_str(r, "policy_id", ""))) != 0 ||
		    (rc = cell(&cells[1], &f[1], rj_str(r, "control", ""))) != 0 ||
		    (rc = cell(&cells[2], &f[2], rj_str(r, "severity", ""))) != 0 ||
		    (rc = cell(&cells[3], &f[3], rj_str(r, "what", ""))) != 0 ||
		    (rc = cell(&cells[4], &f[4], rj_str(r, "who", ""))) != 0 ||
		    (rc = cell(&cells[5], &f[5], rj_str(r, "time", ""))) != 0 ||
		    (rc = cell(&cells[6], &f[6], rj_str(r, "detail", ""))) != 0 ||
		    (rc = cell(&cells[7], &f[7], seqs.data ? seqs.data : "")) != 0 ||
		    (rc = cell(&cells[8], &f[8], fseq)) != 0 ||
		    (rc = ak_csv_write_record(out, f, NCOLS)) != 0)
			goto done;
	}
done:
	for (k = 0; k < NCOLS; k++)
		ak_buf_free(&cells[k]);
	ak_buf_free(&seqs);
	return rc;
}
