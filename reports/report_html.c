/*
 * reports/report_html.c - the report as one HTML file a person reads on
 * screen or prints on A4: inline CSS, charts drawn here as inline SVG, no
 * script, no font, image or style fetched from anywhere (a Content
 * Security Policy in the file says so to the browser too).
 *
 * It reads nothing but the report document (docs/REPORTS.md), and trusts
 * nothing in it: a missing member renders as empty, never as a crash.
 *
 * SECURITY: most text in a report comes from entries - addresses, list and
 * campaign names, alert summaries, finding details - which whoever feeds
 * the log controls. Every such value goes out through text(), which
 * escapes & < > " ' (so it is inert in element content and in quoted
 * attributes, inside SVG too), and values are only ever placed in those
 * two contexts: never in a style, a URL, an event handler or a comment.
 * Markup written with raw()/rawf() holds only literals and numbers.
 *
 * Print: @page A4, a page break before each section, table headers that
 * repeat on each page, rows and charts that do not split.
 */
#include "reports/report.h"

#include "lib/error.h"
#include "reports/report_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_HTML_EXCEPTIONS 2000 /* rows printed; the CSV and JSON hold the rest */
#define MAX_LINES           8    /* domains drawn in the DMARC chart */
#define MAX_SERIES          6    /* alert rules stacked in the weekly chart */

struct html {
	struct ak_buf *out;
	int rc; /* the first error; once set, every write is skipped */
};

static void raw(struct html *h, const char *s)
{
	if (h->rc == 0)
		h->rc = ak_buf_puts(h->out, s);
}

static void rawf(struct html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rawf(struct html *h, const char *fmt, ...)
{
	va_list ap;

	if (h->rc != 0)
		return;
	va_start(ap, fmt);
	h->rc = ak_buf_vprintf(h->out, fmt, ap);
	va_end(ap);
}

int report_html_escape(struct ak_buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run = p;
	int rc = 0;

	for (; *p && rc == 0; p++) {
		const char *rep = NULL;

		switch (*p) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			if ((*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') || *p == 0x7f)
				rep = "\xEF\xBF\xBD"; /* U+FFFD: controls are not text */
		}
		if (rep == NULL)
			continue;
		if ((rc = ak_buf_append(out, run, (size_t)(p - run))) == 0)
			rc = ak_buf_puts(out, rep);
		run = p + 1;
	}
	if (rc == 0)
		rc = ak_buf_append(out, run, (size_t)(p - run));
	return rc;
}

static void text(struct html *h, const char *s)
{
	if (h->rc == 0 && s)
		h->rc = report_html_escape(h->out, s);
}

/* text, cut to at most max characters (not bytes) with an ellipsis */
static void text_cut(struct html *h, const char *s, size_t max)
{
	char buf[512];
	size_t i = 0, chars = 0;

	if (s == NULL)
		return;
	while (s[i] && chars < max && i < sizeof(buf) - 4) {
		size_t n = 1;

		while ((s[i + n] & 0xC0) == 0x80)
			n++;
		if (i + n >= sizeof(buf) - 4)
			break;
		i += n;
		chars++;
	}
	if (s[i] == '\0') {
		text(h, s);
		return;
	}
	memcpy(buf, s, i);
	memcpy(buf + i, "\xE2\x80\xA6", 4); /* … */
	text(h, buf);
}

/* 1234567 -> "1,234,567" */
static const char *num(char out[32], int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)(v < 0 ? -v : v)), i, j = 0;

	if (v < 0)
		out[j++] = '-';
	for (i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			out[j++] = ',';
		out[j++] = tmp[i];
	}
	out[j] = '\0';
	return out;
}

static void number(struct html *h, int64_t v)
{
	char b[32];

	raw(h, num(b, v));
}

/* "0.9950" -> "99.50 %"; "" or NULL -> "–" */
static void percent(struct html *h, const char *ratio)
{
	int64_t e4 = report_ratio_e4(ratio);

	if (e4 < 0)
		raw(h, "\xE2\x80\x93");
	else
		rawf(h, "%lld.%02lld&#8239;%%", (long long)(e4 / 100), (long long)(e4 % 100));
}

static const json_t *get(const json_t *o, const char *k)
{
	return json_object_get(o, k);
}

static const char *status_class(const char *s)
{
	return strcmp(s, "green") == 0 || strcmp(s, "amber") == 0 || strcmp(s, "red") == 0 ? s
	                                                                                   : "na";
}

static void chip(struct html *h, const char *status)
{
	rawf(h, "<span class=\"chip %s\">", status_class(status));
	text(h, strcmp(status_class(status), "na") == 0 ? "n/a" : status);
	raw(h, "</span>");
}

static void seq_list(struct html *h, const json_t *seqs, size_t max)
{
	size_t i;
	const json_t *v;

	raw(h, "<span class=\"seqs\">");
	json_array_foreach(seqs, i, v)
	{
		if (i == max) {
			rawf(h, " \xE2\x80\xA6 (%zu)", json_array_size(seqs));
			break;
		}
		rawf(h, "%s#%lld", i ? " " : "", (long long)json_integer_value(v));
	}
	if (json_array_size(seqs) == 0)
		raw(h, "\xE2\x80\x93");
	raw(h, "</span>");
}

/* ---- charts (inline SVG) ---- */

static const char *const palette[] = {"#2b6cb0", "#c05621", "#2f855a", "#b7791f",
                                      "#6b46c1", "#b83280", "#2c7a7b", "#718096"};

/* A round upper bound for an axis: 1, 2, 2.5 or 5 times a power of ten. */
static int64_t nice_max(int64_t v)
{
	int64_t p = 1;

	if (v <= 0)
		return 1;
	while (p * 10 <= v)
		p *= 10;
	if (v <= p)
		return p;
	if (v <= 2 * p)
		return 2 * p;
	if (p >= 10 && v * 2 <= 5 * p)
		return 5 * p / 2;
	if (v <= 5 * p)
		return 5 * p;
	return 10 * p;
}

/* "2026-W27" -> "W27" for an axis (the year is in the period). */
static const char *short_week(const char *label)
{
	const char *w = strstr(label, "-W");

	return w ? w + 1 : label;
}

/* Horizontal bars: one row per label. */
static void svg_hbars(struct html *h, const char *title, const char *const *labels,
                      const int64_t *values, size_t n, const char *color)
{
	const int W = 680, row = 22, lw = 210, vw = 80;
	int64_t max = 0;
	size_t i;
	char b[32];

	for (i = 0; i < n; i++)
		if (values[i] > max)
			max = values[i];
	rawf(h,
	     "<svg viewBox=\"0 0 %d %zu\" width=\"%d\" height=\"%zu\" role=\"img\" "
	     "aria-label=\"",
	     W, n * row + 8, W, n * row + 8);
	text(h, title);
	raw(h, "\">");
	for (i = 0; i < n; i++) {
		int y = (int)i * row + 4;
		int w = max ? (int)((values[i] * (W - lw - vw)) / max) : 0;

		rawf(h, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"11\">", lw - 8,
		     y + 15);
		text_cut(h, labels[i], 30);
		raw(h, "<title>");
		text(h, labels[i]);
		raw(h, "</title></text>");
		rawf(h, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>", lw,
		     y + 3, w > 0 ? w : 1, row - 8, color);
		rawf(h, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>", lw + w + 6, y + 15,
		     num(b, values[i]));
	}
	raw(h, "</svg>");
}

struct marker {
	double at; /* in column units: 2.0 is the left edge of column 2 */
	const char *label;
};

/* Columns over x labels, stacked by series (values[s * n + x]). col_colors
 * (optional) colours a single series per column. */
static void svg_columns(struct html *h, const char *title, const char *const *xlabels, size_t n,
                        const char *const *series, const char *const *colors, size_t nseries,
                        const int64_t *values, const char *const *col_colors,
                        const struct marker *mark)
{
	const int W = 680, H = 220, L = 62, R = 10, T = nseries > 1 ? 30 : 14, B = 34;
	const int pw = W - L - R, ph = H - T - B;
	int64_t max = 0, top;
	size_t x, s;
	char b[32];
	int i, steps;

	for (x = 0; x < n; x++) {
		int64_t t = 0;

		for (s = 0; s < nseries; s++)
			t += values[s * n + x];
		if (t > max)
			max = t;
	}
	top = nice_max(max);
	/* grid steps that are whole numbers: 4 or 5 of them, or one per unit */
	steps = top % 4 == 0 ? 4 : top % 5 == 0 ? 5 : (int)top;
	rawf(h, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"",
	     W, H, W, H);
	text(h, title);
	raw(h, "\">");
	for (i = 0; i <= steps; i++) {
		int y = T + ph - ph * i / steps;

		rawf(h, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#d5dae1\"/>", L,
		     W - R, y, y);
		rawf(h,
		     "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"10\" "
		     "fill=\"#5a6472\">%s</text>",
		     L - 6, y + 4, num(b, top * i / steps));
	}
	for (x = 0; x < n; x++) {
		double cw = (double)pw / (double)(n ? n : 1);
		int bx = L + (int)(cw * (double)x + cw * 0.15), bw = (int)(cw * 0.7);
		int64_t acc = 0;

		for (s = 0; s < nseries; s++) {
			int64_t v = values[s * n + x];
			int y0 = T + ph - (int)(acc * ph / top), y1;

			acc += v;
			y1 = T + ph - (int)(acc * ph / top);
			if (v == 0)
				continue;
			rawf(h, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\">",
			     bx, y1, bw > 1 ? bw : 1, y0 - y1 > 0 ? y0 - y1 : 1,
			     col_colors ? col_colors[x] : colors[s]);
			raw(h, "<title>");
			text(h, xlabels[x]);
			raw(h, ": ");
			if (nseries > 1) {
				text(h, series[s]);
				raw(h, " ");
			}
			raw(h, num(b, v));
			raw(h, "</title></rect>");
		}
		rawf(h,
		     "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\" "
		     "fill=\"#1a202c\">",
		     bx + bw / 2, H - B + 14);
		text_cut(h, xlabels[x], 12);
		raw(h, "</text>");
	}
	rawf(h, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#5a6472\"/>", L, W - R,
	     T + ph, T + ph);
	if (nseries > 1)
		for (s = 0; s < nseries; s++) {
			int lx = L + (int)s * (pw / (int)(nseries < 6 ? nseries : 6));

			rawf(h, "<rect x=\"%d\" y=\"6\" width=\"10\" height=\"10\" fill=\"%s\"/>",
			     lx, colors[s]);
			rawf(h, "<text x=\"%d\" y=\"15\" font-size=\"10\">", lx + 14);
			text_cut(h, series[s], 18);
			raw(h, "</text>");
		}
	if (mark) {
		double cw = (double)pw / (double)(n ? n : 1);
		int mx = L + (int)(cw * mark->at);

		rawf(h,
		     "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#b3261e\" "
		     "stroke-width=\"2\" stroke-dasharray=\"6 3\"/>",
		     mx, mx, T - 4, T + ph);
		rawf(h,
		     "<text x=\"%d\" y=\"%d\" font-size=\"10\" fill=\"#b3261e\" "
		     "font-weight=\"bold\">",
		     mx + 4, T + 6);
		text(h, mark->label);
		raw(h, "</text>");
	}
	raw(h, "</svg>");
}

/* Lines of ratios (values in e4, -1 for no data) over x labels, with
 * horizontal threshold lines. */
static void svg_lines(struct html *h, const char *title, const char *const *xlabels, size_t n,
                      const char *const *series, size_t nseries, const int64_t *values,
                      int64_t warn_e4, int64_t fail_e4)
{
	const int W = 680, H = 220, L = 56, R = 10, T = 30, B = 34;
	const int pw = W - L - R, ph = H - T - B;
	int64_t lo, min = 10000;
	size_t x, s;
	int i;

	for (s = 0; s < nseries * n; s++)
		if (values[s] >= 0 && values[s] < min)
			min = values[s];
	if (fail_e4 < min)
		min = fail_e4;
	/* the highest of 96, 92, 80, 60 or 0 % below every point, so that the
	 * four grid steps are whole percentages */
	{
		static const int64_t floors[] = {9600, 9200, 8000, 6000, 0};
		size_t f;

		for (f = 0; f < 4 && floors[f] > min - 50; f++)
			;
		lo = floors[f];
	}
	rawf(h, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"",
	     W, H, W, H);
	text(h, title);
	raw(h, "\">");
#define YOF(v) (T + ph - (int)(((v)-lo) * ph / (10000 - lo)))
	for (i = 0; i <= 4; i++) {
		int64_t v = lo + (10000 - lo) * i / 4;

		rawf(h, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#d5dae1\"/>", L,
		     W - R, YOF(v), YOF(v));
		rawf(h,
		     "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"10\" "
		     "fill=\"#5a6472\">%lld&#8239;%%</text>",
		     L - 6, YOF(v) + 4, (long long)(v / 100));
	}
	rawf(h,
	     "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#b7791f\" "
	     "stroke-dasharray=\"5 3\"/><text x=\"%d\" y=\"%d\" font-size=\"9\" "
	     "fill=\"#8a5a00\" text-anchor=\"end\">warn %lld.%02lld&#8239;%%</text>",
	     L, W - R, YOF(warn_e4), YOF(warn_e4), W - R - 2, YOF(warn_e4) - 3,
	     (long long)(warn_e4 / 100), (long long)(warn_e4 % 100));
	rawf(h,
	     "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#b3261e\" "
	     "stroke-dasharray=\"5 3\"/><text x=\"%d\" y=\"%d\" font-size=\"9\" "
	     "fill=\"#b3261e\" text-anchor=\"end\">fail %lld.%02lld&#8239;%%</text>",
	     L, W - R, YOF(fail_e4), YOF(fail_e4), W - R - 2, YOF(fail_e4) + 11,
	     (long long)(fail_e4 / 100), (long long)(fail_e4 % 100));
	for (s = 0; s < nseries; s++) {
		const char *c = palette[s % 8];
		int pen = 0;

		raw(h, "<path fill=\"none\" stroke-width=\"2\" stroke=\"");
		raw(h, c);
		raw(h, "\" d=\"");
		for (x = 0; x < n; x++) {
			int64_t v = values[s * n + x];
			int px = L + (int)((double)pw * ((double)x + 0.5) / (double)n);

			if (v < 0) {
				pen = 0;
				continue;
			}
			rawf(h, "%c%d %d ", pen ? 'L' : 'M', px, YOF(v));
			pen = 1;
		}
		raw(h, "\"/>");
		for (x = 0; x < n; x++) {
			int64_t v = values[s * n + x];
			int px = L + (int)((double)pw * ((double)x + 0.5) / (double)n);

			if (v < 0)
				continue;
			rawf(h, "<circle cx=\"%d\" cy=\"%d\" r=\"3\" fill=\"%s\"><title>", px,
			     YOF(v), c);
			text(h, series[s]);
			raw(h, " ");
			text(h, xlabels[x]);
			rawf(h, ": %lld.%02lld %%</title></circle>", (long long)(v / 100),
			     (long long)(v % 100));
		}
		rawf(h, "<rect x=\"%d\" y=\"6\" width=\"10\" height=\"10\" fill=\"%s\"/>",
		     L + (int)s * (pw / 4), c);
		rawf(h, "<text x=\"%d\" y=\"15\" font-size=\"10\">", L + (int)s * (pw / 4) + 14);
		text_cut(h, series[s], 24);
		raw(h, "</text>");
	}
	for (x = 0; x < n; x++)
		if (n <= 16 || x % 2 == 0) {
			rawf(h, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\">",
			     L + (int)((double)pw * ((double)x + 0.5) / (double)n), H - B + 14);
			text_cut(h, xlabels[x], 12);
			raw(h, "</text>");
		}
#undef YOF
	raw(h, "</svg>");
}

/* ---- the page ---- */

static const char css[] =
        "@page{size:A4;margin:14mm 13mm 15mm}"
        ":root{--ink:#1a202c;--muted:#5a6472;--rule:#d5dae1;--accent:#1f4e79;"
        "--green:#1e7b34;--amber:#9a5b00;--red:#b3261e;--na:#6b7280}"
        "*{box-sizing:border-box}"
        "html{-webkit-print-color-adjust:exact;print-color-adjust:exact}"
        "body{margin:0;background:#eef1f4;color:var(--ink);font:10pt/1.5 \"Noto Sans CJK JP\","
        "\"Noto Sans JP\",\"IPAexGothic\",\"IPAPGothic\",\"Hiragino Sans\",\"Hiragino Kaku Gothic "
        "ProN\",\"Yu Gothic\",\"YuGothic\",\"Meiryo\",sans-serif}"
        "main{max-width:210mm;margin:0 auto;background:#fff;padding:12mm 13mm}"
        "h1{font-size:19pt;line-height:1.25;margin:0 0 1mm;color:var(--accent)}"
        "h2{font-size:14pt;color:var(--accent);border-bottom:2px solid var(--accent);"
        "padding-bottom:1mm;margin:0 0 3mm;break-after:avoid}"
        "h3{font-size:11pt;margin:5mm 0 1.5mm;break-after:avoid}"
        "p{margin:1.5mm 0}"
        ".sub{font-size:11pt;color:var(--muted);margin:0 0 4mm}"
        "table{width:100%;border-collapse:collapse;font-size:8.8pt;margin:1.5mm 0 4mm}"
        "th,td{border-bottom:1px solid var(--rule);padding:1.1mm 1.4mm;text-align:left;"
        "vertical-align:top;overflow-wrap:anywhere}"
        "th{background:#f1f4f8;font-weight:700}"
        "thead{display:table-header-group}tr{break-inside:avoid}"
        ".n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
        "table.exc{table-layout:fixed;font-size:8.2pt}table.summary td{padding:1.4mm}"
        ".c1{width:6%}.c2{width:21%}.c3{width:12%}.c4{width:41%}.c5{width:12%}.c6{width:8%}"
        ".chip{white-space:nowrap;display:inline-block;min-width:11mm;text-align:center;padding:0 "
        "1.6mm;"
        "border-radius:1.6mm;color:#fff;font-size:8pt;font-weight:700;text-transform:uppercase}"
        ".chip.green{background:var(--green)}.chip.amber{background:var(--amber)}"
        ".chip.red{background:var(--red)}.chip.na{background:var(--na)}"
        ".kpis{display:flex;flex-wrap:wrap;gap:2.5mm;margin:2mm 0 4mm}"
        ".kpi{flex:1 1 30mm;border:1px solid var(--rule);border-radius:1.6mm;padding:1.6mm 2.5mm}"
        ".kpi b{display:block;font-size:14pt;line-height:1.3}"
        ".kpi span{color:var(--muted);font-size:8.3pt}"
        "figure{margin:2mm 0 4mm;break-inside:avoid}"
        "figcaption{font-size:8.3pt;color:var(--muted)}"
        "svg{max-width:100%;height:auto;display:block}"
        "svg text{font-family:inherit}"
        ".muted{color:var(--muted)}.small{font-size:8.3pt}"
        ".up{color:var(--green)}.down{color:var(--red)}"
        "pre,code,.seqs{font-family:\"DejaVu Sans Mono\",\"Menlo\",\"Consolas\","
        "\"Noto Sans Mono CJK JP\",monospace;font-size:8pt}"
        "pre{white-space:pre-wrap;word-break:break-all;background:#f6f8fa;"
        "border:1px solid var(--rule);padding:2mm 3mm;margin:1.5mm 0 3mm}"
        "nav{font-size:8.8pt;margin:0 0 3mm}nav ol{display:inline;margin:0;padding:0}"
        "nav li{display:inline;margin-right:3mm}"
        ".cols{display:grid;grid-template-columns:1fr 1fr;gap:0 6mm}"
        ".note{border-left:3px solid var(--accent);padding:1mm 3mm;background:#f6f8fa}"
        "@media screen{main{margin:16px auto;box-shadow:0 1px 4px rgba(0,0,0,.15)}"
        "section{border-top:1px solid var(--rule);margin-top:9mm;padding-top:5mm}}"
        "@media print{body{background:#fff}main{max-width:none;margin:0;padding:0}"
        "section{break-before:page}section.first{break-before:auto}}";

static void kpi(struct html *h, const char *label, int64_t v)
{
	raw(h, "<div class=\"kpi\"><b>");
	number(h, v);
	raw(h, "</b><span>");
	text(h, label);
	raw(h, "</span></div>");
}

static void cover(struct html *h, const json_t *doc)
{
	const json_t *period = get(doc, "period"), *att = get(doc, "attestation"),
	             *cp = get(att, "checkpoint"), *sc = get(get(doc, "summary"), "status_counts");

	raw(h, "<header><h1>");
	text(h, rj_str(doc, "title", "Quarterly compliance report"));
	if (*rj_str(period, "quarter", "")) {
		raw(h, " \xE2\x80\x94 ");
		text(h, rj_str(period, "quarter", ""));
	}
	raw(h, "</h1><p class=\"sub\">");
	text(h, rj_str(period, "from", ""));
	raw(h, " \xE2\x86\x92 ");
	text(h, rj_str(period, "to", ""));
	raw(h, " (end exclusive; period boundaries and weeks in ");
	text(h, rj_str(period, "zone", "UTC"));
	raw(h, ")</p><table class=\"small\"><tbody><tr><th>Log</th><td>");
	text(h, rj_str(doc, "origin", ""));
	raw(h, "</td><th>Made</th><td>");
	text(h, rj_str(doc, "made", ""));
	if (*rj_str(doc, "made_by", "")) {
		raw(h, " by ");
		text(h, rj_str(doc, "made_by", ""));
	}
	raw(h, "</td></tr><tr><th>Policy commit</th><td><code>");
	text(h, rj_str(att, "policy_commit", ""));
	raw(h, "</code></td><th>Bound to checkpoint</th><td>size ");
	number(h, rj_int(cp, "size", 0));
	raw(h, ", root <code>");
	text_cut(h, rj_str(cp, "root", ""), 16);
	raw(h, "</code></td></tr></tbody></table>");
	raw(h, "<div class=\"kpis\">");
	kpi(h, "policies green", rj_int(sc, "green", 0));
	kpi(h, "policies amber", rj_int(sc, "amber", 0));
	kpi(h, "policies red", rj_int(sc, "red", 0));
	kpi(h, "exceptions", rj_int(get(doc, "exceptions"), "total", 0));
	raw(h, "</div>");
	raw(h, "<nav><b>Contents:</b> <ol><li><a href=\"#summary\">Summary</a></li>"
	       "<li><a href=\"#consent\">Consent</a></li><li><a href=\"#sends\">Sends</a></li>"
	       "<li><a href=\"#access\">Access</a></li><li><a href=\"#dmarc\">DMARC</a></li>"
	       "<li><a href=\"#alerts\">Alerts</a></li>"
	       "<li><a href=\"#exceptions\">Exceptions</a></li>"
	       "<li><a href=\"#attestation\">Attestation</a></li></ol></nav></header>");
}

static void summary(struct html *h, const json_t *doc)
{
	const json_t *s = get(doc, "summary"), *rules = get(doc, "status_rules"), *p;
	const json_t *prev = get(doc, "previous_period");
	size_t i;

	raw(h, "<section id=\"summary\" class=\"first\"><h2>Summary</h2>");
	raw(h, "<p>Each policy in force, evaluated over the period: the population it judged, "
	       "the exceptions it found, the share of the population without one, and the "
	       "change against ");
	text(h, *rj_str(prev, "quarter", "") ? rj_str(prev, "quarter", "") : "the previous period");
	raw(h, " (");
	text(h, strcmp(rj_str(s, "previous_source", ""), "recorded") == 0
	                ? "from the audit recorded for it at the same policy commit"
	                : "evaluated now at the same policy commit");
	raw(h, ").</p><table class=\"summary\"><thead><tr><th>Policy</th><th class=\"n\">"
	       "Population</th><th class=\"n\">Exceptions</th><th class=\"n\">Pass rate</th>"
	       "<th class=\"n\">vs previous</th><th>Status</th></tr></thead><tbody>");
	json_array_foreach(get(s, "policies"), i, p)
	{
		const json_t *ch = get(p, "change");
		const char *pts = rj_str(ch, "pass_rate_points", NULL);

		raw(h, "<tr><td><b>");
		text(h, rj_str(p, "id", ""));
		raw(h, "</b>");
		if (strcmp(rj_str(p, "title", ""), rj_str(p, "id", ""))) {
			raw(h, "<br>");
			text(h, rj_str(p, "title", ""));
		}
		raw(h, "<br><span class=\"small muted\"><code>");
		text(h, rj_str(p, "control", ""));
		raw(h, "</code>");
		if (json_array_size(get(p, "cites"))) {
			const json_t *c;
			size_t j;

			raw(h, " \xC2\xB7 ");
			json_array_foreach(get(p, "cites"), j, c)
			{
				if (j)
					raw(h, "; ");
				text(h, json_string_value(c));
			}
		}
		raw(h, "</span></td><td class=\"n\">");
		number(h, rj_int(p, "population", 0));
		raw(h, "</td><td class=\"n\">");
		number(h, rj_int(p, "exceptions", 0));
		raw(h, "</td><td class=\"n\">");
		percent(h, rj_str(p, "pass_rate", NULL));
		raw(h, "</td><td class=\"n\">");
		if (json_is_object(get(p, "previous")) &&
		    rj_int(get(p, "previous"), "population", 0) == 0) {
			raw(h, "<span class=\"muted\">none before</span>");
		} else if (pts) {
			rawf(h, "<span class=\"%s\">", pts[0] == '-' ? "down" : "up");
			raw(h, pts[0] == '-'          ? "\xE2\x96\xBC "
			       : strcmp(pts, "+0.00") ? "\xE2\x96\xB2 "
			                              : "");
			text(h, pts);
			raw(h, "&#8239;pp</span>");
		} else if (json_is_object(ch)) {
			rawf(h, "%+lld exc.", (long long)rj_int(ch, "exceptions", 0));
		} else {
			raw(h, "\xE2\x80\x93");
		}
		raw(h, "</td><td>");
		chip(h, rj_str(p, "status", "n/a"));
		raw(h, "</td></tr>");
	}
	raw(h, "</tbody></table><h3>Status rules</h3><table class=\"small\"><tbody>");
	{
		static const char *const st[] = {"green", "amber", "red", "n/a"};

		for (i = 0; i < 4; i++) {
			raw(h, "<tr><td>");
			chip(h, st[i]);
			raw(h, "</td><td>");
			text(h, rj_str(rules, st[i], ""));
			raw(h, "</td></tr>");
		}
	}
	raw(h, "</tbody></table><p class=\"small muted\">Pass rate: members of the population "
	       "without an exception, divided by the population, rounded down. Controls judged per "
	       "send can find more exceptions than members; the rate then stops at 0.</p>"
	       "</section>");
}

static void counts_table(struct html *h, const char *what, const json_t *counts)
{
	const char *k;
	const json_t *v;

	raw(h, "<table><thead><tr><th>");
	text(h, what);
	raw(h, "</th><th class=\"n\">Count</th></tr></thead><tbody>");
	json_object_foreach((json_t *)counts, k, v)
	{
		raw(h, "<tr><td>");
		text(h, k);
		raw(h, "</td><td class=\"n\">");
		number(h, json_integer_value(v));
		raw(h, "</td></tr>");
	}
	if (json_object_size(counts) == 0)
		raw(h, "<tr><td colspan=\"2\" class=\"muted\">none in this period</td></tr>");
	raw(h, "</tbody></table>");
}

static const char *const honor_labels[] = {"at once",
                                           "\xE2\x89\xA4 1 h",
                                           "1 h \xE2\x80\x93 1 d",
                                           "1 \xE2\x80\x93 2 d",
                                           "2 \xE2\x80\x93 10 d",
                                           "10 \xE2\x80\x93 30 d",
                                           "> 30 d"};

/* 1299932 -> "15 d 1 h"; two units at most, the larger first. */
static void duration_text(char *out, size_t cap, int64_t s)
{
	static const struct {
		int64_t secs;
		const char *name;
	} u[] = {{86400, "d"}, {3600, "h"}, {60, "min"}, {1, "s"}};
	size_t i;

	if (s <= 0) {
		snprintf(out, cap, "0 s");
		return;
	}
	for (i = 0; i < 3 && s < u[i].secs; i++)
		;
	if (i < 3 && s % u[i].secs >= u[i + 1].secs)
		snprintf(out, cap, "%lld %s %lld %s", (long long)(s / u[i].secs), u[i].name,
		         (long long)(s % u[i].secs / u[i + 1].secs), u[i + 1].name);
	else
		snprintf(out, cap, "%lld %s", (long long)(s / u[i].secs), u[i].name);
}

static void honor_chart(struct html *h, const json_t *ht)
{
	const json_t *hist = get(ht, "histogram");
	int64_t values[7] = {0}, edges[7] = {0}, dl = rj_int(ht, "deadline_seconds", -1);
	const char *colors[7];
	char label[64], d[32];
	struct marker m;
	size_t n = json_array_size(hist), i;

	if (n != 7)
		return;
	for (i = 0; i < 7; i++) {
		values[i] = rj_int(json_array_get(hist, i), "count", 0);
		edges[i] = rj_int(json_array_get(hist, i), "upto_seconds", -1);
	}
	/* the deadline on the time axis: at the edge it equals, or inside
	 * the bin that holds it, proportionally */
	m.at = 7;
	for (i = 0; i < 6; i++)
		if (dl <= edges[i]) {
			double lo = i ? (double)edges[i - 1] : 0;

			m.at = (double)i + (dl == edges[i] || i == 0
			                            ? 1.0
			                            : ((double)dl - lo) / ((double)edges[i] - lo));
			break;
		}
	for (i = 0; i < 7; i++)
		colors[i] = (double)i + 1 <= m.at ? "#2b6cb0"
		            : (double)i >= m.at   ? "#b3261e"
		                                  : "#b7791f";
	duration_text(d, sizeof(d), dl);
	snprintf(label, sizeof(label), "deadline %s", d);
	m.label = label;
	raw(h, "<figure>");
	svg_columns(h, "Honour time of opt-outs", honor_labels, 7, NULL, colors, 1, values, colors,
	            dl >= 0 ? &m : NULL);
	raw(h, "<figcaption>Honour time: from an opt-out to the last send to that address and "
	       "list after it (0 when nothing was sent after it). Blue: within the deadline; red: "
	       "after it; the dashed line is the deadline of the policy ");
	text(h, rj_str(ht, "policy_id", ""));
	raw(h, " for an opt-out at the start of the period.</figcaption></figure>");
}

static void consent(struct html *h, const json_t *doc)
{
	const json_t *c = get(doc, "consent"), *np = get(c, "opt_ins_without_proof"),
	             *ht = get(c, "honor_time");

	raw(h, "<section id=\"consent\"><h2>Consent</h2><div class=\"kpis\">");
	kpi(h, "opt-ins", rj_int(c, "opt_ins", 0));
	kpi(h, "confirmations", rj_int(c, "confirmations", 0));
	kpi(h, "opt-ins without proof", rj_int(np, "count", 0));
	kpi(h, "opt-outs", rj_int(c, "opt_outs", 0));
	raw(h, "</div><h3>Honour time of opt-outs</h3>");
	if (json_is_object(ht)) {
		char d[32];

		raw(h, "<p>");
		number(h, rj_int(ht, "opt_outs", 0));
		raw(h, " opt-outs whose deadline fell in the period; ");
		number(h, rj_int(ht, "late", 0));
		raw(h, " honoured after it. Median ");
		duration_text(d, sizeof(d), rj_int(ht, "p50", 0));
		text(h, d);
		raw(h, ", 95th percentile ");
		duration_text(d, sizeof(d), rj_int(ht, "p95", 0));
		text(h, d);
		raw(h, ", longest ");
		duration_text(d, sizeof(d), rj_int(ht, "max", 0));
		text(h, d);
		raw(h, ".</p>");
		honor_chart(h, ht);
	} else {
		raw(h,
		    "<p class=\"muted\">No consent.unsubscribe_deadline policy is in force.</p>");
	}
	raw(h,
	    "<h3>By list</h3><table><thead><tr><th>List</th><th class=\"n\">Opt-ins</th>"
	    "<th class=\"n\">Confirmations</th><th class=\"n\">Opt-outs</th></tr></thead><tbody>");
	{
		const json_t *l;
		size_t i;

		json_array_foreach(get(c, "by_list"), i, l)
		{
			raw(h, "<tr><td>");
			text(h, rj_str(l, "list", ""));
			raw(h, "</td><td class=\"n\">");
			number(h, rj_int(l, "opt_ins", 0));
			raw(h, "</td><td class=\"n\">");
			number(h, rj_int(l, "confirmations", 0));
			raw(h, "</td><td class=\"n\">");
			number(h, rj_int(l, "opt_outs", 0));
			raw(h, "</td></tr>");
		}
		if (json_array_size(get(c, "by_list")) == 0)
			raw(h, "<tr><td colspan=\"4\" class=\"muted\">no consent records in this "
			       "period</td></tr>");
	}
	raw(h, "</tbody></table><div class=\"cols\"><div>");
	counts_table(h, "Opt-in method", get(c, "opt_ins_by_method"));
	raw(h, "</div><div>");
	counts_table(h, "Opt-out method", get(c, "opt_outs_by_method"));
	raw(h, "</div><div>");
	counts_table(h, "Flagged exemption", get(c, "exempt_opt_ins"));
	raw(h, "</div><div><h3>Opt-ins without proof</h3><p>");
	number(h, rj_int(np, "count", 0));
	raw(h, " opt-ins in the period carry no proof (no IP address, user agent, form or "
	       "confirmation) and no flagged exemption. Entries: ");
	seq_list(h, get(np, "seqs"), 20);
	raw(h, "</p></div></div>");
	raw(h, "</section>");
}

static void sends(struct html *h, const json_t *doc)
{
	static const char *const series[] = {"sent", "bounced", "deferred", "blocked", "other"};
	static const char *const colors[] = {"#2b6cb0", "#c05621", "#b7791f", "#b3261e", "#718096"};
	const json_t *s = get(doc, "sends"), *weeks = get(s, "weeks"), *w, *mass,
	             *bl = get(s, "blocked"), *r;
	size_t n = json_array_size(weeks), i;
	const char **labels = NULL;
	int64_t *values = NULL;

	raw(h, "<section id=\"sends\"><h2>Sends</h2><div class=\"kpis\">");
	kpi(h, "send records", rj_int(s, "total", 0));
	kpi(h, "sent", rj_int(get(s, "by_status"), "sent", 0));
	kpi(h, "bounced", rj_int(get(s, "by_status"), "bounced", 0));
	kpi(h, "blocked by a gate", rj_int(bl, "total", 0));
	raw(h, "</div><h3>Volume per week</h3>");
	if (n && (labels = calloc(n, sizeof(*labels))) &&
	    (values = calloc(n * 5, sizeof(*values)))) {
		json_array_foreach(weeks, i, w)
		{
			labels[i] = short_week(rj_str(w, "week", ""));
			values[0 * n + i] = rj_int(w, "sent", 0);
			values[1 * n + i] = rj_int(w, "bounced", 0);
			values[2 * n + i] = rj_int(w, "deferred", 0);
			values[3 * n + i] = rj_int(w, "blocked", 0);
			values[4 * n + i] = rj_int(w, "total", 0) - values[i] - values[n + i] -
			                    values[2 * n + i] - values[3 * n + i];
		}
		raw(h, "<figure>");
		svg_columns(h, "Send records per ISO week, by status", labels, n, series, colors, 5,
		            values, NULL, NULL);
		raw(h, "<figcaption>Send records per ISO week, by status (other: queued, "
		       "complained, expired). The first and last week may be partial.</figcaption>"
		       "</figure>");
	}
	free(labels);
	free(values);
	raw(h, "<table><thead><tr><th>Week</th><th class=\"n\">Sent</th><th class=\"n\">Bounced"
	       "</th><th class=\"n\">Deferred</th><th class=\"n\">Blocked</th><th class=\"n\">"
	       "Total</th></tr></thead><tbody>");
	json_array_foreach(weeks, i, w)
	{
		raw(h, "<tr><td>");
		text(h, rj_str(w, "week", ""));
		raw(h, "</td><td class=\"n\">");
		number(h, rj_int(w, "sent", 0));
		raw(h, "</td><td class=\"n\">");
		number(h, rj_int(w, "bounced", 0));
		raw(h, "</td><td class=\"n\">");
		number(h, rj_int(w, "deferred", 0));
		raw(h, "</td><td class=\"n\">");
		number(h, rj_int(w, "blocked", 0));
		raw(h, "</td><td class=\"n\">");
		number(h, rj_int(w, "total", 0));
		raw(h, "</td></tr>");
	}
	raw(h, "</tbody></table>");
	mass = get(s, "mass_campaigns");
	raw(h, "<h3>Campaigns above the mass-send threshold</h3>");
	if (json_is_object(mass)) {
		const json_t *c;

		raw(h, "<p>Policy ");
		text(h, rj_str(mass, "policy_id", ""));
		raw(h, ": a campaign to more than ");
		number(h, rj_int(mass, "threshold", 0));
		raw(h,
		    " recipients needs the approval of someone other than its owner before its "
		    "first send.</p><table><thead><tr><th>Campaign</th><th class=\"n\">Recipients"
		    "</th><th>First send</th><th>Owner</th><th>Approval</th></tr></thead><tbody>");
		json_array_foreach(get(mass, "campaigns"), i, c)
		{
			const json_t *ap = get(c, "approval");

			raw(h, "<tr><td>");
			text(h, rj_str(c, "campaign", ""));
			raw(h, "</td><td class=\"n\">");
			if (!json_is_true(get(c, "recipients_exact")))
				raw(h, "\xE2\x89\xA5 ");
			number(h, rj_int(c, "recipients", 0));
			raw(h, "</td><td>");
			text(h, rj_str(c, "first_send", ""));
			rawf(h, " <span class=\"seqs\">#%lld</span></td><td>",
			     (long long)rj_int(c, "first_seq", 0));
			text(h, rj_str(c, "owner", ""));
			raw(h, "</td><td>");
			if (json_is_object(ap)) {
				text(h, rj_str(ap, "actor", ""));
				rawf(h, " <span class=\"seqs\">#%lld</span>",
				     (long long)rj_int(ap, "seq", 0));
			} else {
				chip(h, "red");
				raw(h, " none before the first send");
			}
			raw(h, "</td></tr>");
		}
		if (json_array_size(get(mass, "campaigns")) == 0)
			raw(h, "<tr><td colspan=\"5\" class=\"muted\">none this period</td></tr>");
		raw(h, "</tbody></table>");
	} else {
		raw(h, "<p class=\"muted\">No send.mass_approval policy is in force.</p>");
	}
	raw(h, "<h3>Sends blocked by a gate, by reason</h3>");
	{
		const char *labels2[16];
		int64_t values2[16];
		size_t k = 0;

		json_array_foreach(get(bl, "by_reason"), i, r)
		{
			if (k == 16)
				break;
			labels2[k] = rj_str(r, "reason", "");
			values2[k++] = rj_int(r, "count", 0);
		}
		if (k) {
			raw(h, "<figure>");
			svg_hbars(h, "Blocked sends by reason", labels2, values2, k, "#b3261e");
			raw(h, "</figure>");
		}
	}
	raw(h, "<table><thead><tr><th>Reason (policy)</th><th>Control</th><th class=\"n\">Count"
	       "</th><th>Entries</th></tr></thead><tbody>");
	json_array_foreach(get(bl, "by_reason"), i, r)
	{
		raw(h, "<tr><td>");
		text(h, rj_str(r, "reason", ""));
		raw(h, "</td><td><code>");
		text(h, rj_str(r, "control", ""));
		raw(h, "</code></td><td class=\"n\">");
		number(h, rj_int(r, "count", 0));
		raw(h, "</td><td>");
		seq_list(h, get(r, "seqs"), 10);
		raw(h, "</td></tr>");
	}
	if (json_array_size(get(bl, "by_reason")) == 0)
		raw(h, "<tr><td colspan=\"4\" class=\"muted\">no blocked sends</td></tr>");
	raw(h, "</tbody></table><p class=\"small muted\">A blocked send may give several reasons; "
	       "each is counted.</p></section>");
}

/* The reviews of the period grouped by the account reviewed (the rows come
 * sorted by account): how many, by whom, the latest, and their entries. A
 * review by the account itself is shown apart: it does not count. */
static void review_rows(struct html *h, const json_t *rows)
{
	size_t n = json_array_size(rows), i = 0, j, k;

	if (n == 0)
		raw(h, "<tr><td colspan=\"5\" class=\"muted\">none in this period</td></tr>");
	while (i < n) {
		const char *acct = rj_str(json_array_get(rows, i), "account", "");
		const json_t *latest = NULL;
		int64_t count = 0, self = 0;

		for (j = i;
		     j < n && strcmp(rj_str(json_array_get(rows, j), "account", ""), acct) == 0;
		     j++) {
			const json_t *r = json_array_get(rows, j);

			if (json_is_true(get(r, "self")))
				self++;
			else
				count++;
			if (latest == NULL ||
			    strcmp(rj_str(r, "time", ""), rj_str(latest, "time", "")) > 0)
				latest = r;
		}
		raw(h, "<tr><td>");
		text(h, acct);
		raw(h, "</td><td class=\"n\">");
		number(h, count);
		if (self)
			rawf(h, "<br><span class=\"down small\">+%lld by itself</span>",
			     (long long)self);
		raw(h, "</td><td>");
		/* distinct reviewers, in order of first appearance */
		for (k = i; k < j; k++) {
			const char *who = rj_str(json_array_get(rows, k), "reviewer", "");
			size_t m;

			for (m = i; m < k; m++)
				if (strcmp(rj_str(json_array_get(rows, m), "reviewer", ""), who) ==
				    0)
					break;
			if (m < k)
				continue;
			if (k > i)
				raw(h, ", ");
			text(h, who);
		}
		raw(h, "</td><td class=\"small\">");
		text(h, rj_str(latest, "time", ""));
		raw(h, "</td><td><span class=\"seqs\">");
		for (k = i; k < j && k < i + 8; k++)
			rawf(h, "%s#%lld", k > i ? " " : "",
			     (long long)rj_int(json_array_get(rows, k), "seq", 0));
		if (j - i > 8)
			rawf(h, " \xE2\x80\xA6 (%zu)", j - i);
		raw(h, "</span></td></tr>");
		i = j;
	}
}

static void access_section(struct html *h, const json_t *doc)
{
	static const char *const age_labels[] = {"< 30 d", "30 \xE2\x80\x93 59 d",
	                                         "60 \xE2\x80\x93 89 d", "90 \xE2\x80\x93 179 d",
	                                         "\xE2\x89\xA5 180 d"};
	const json_t *a = get(doc, "access"), *v, *pw = get(a, "passwords");
	size_t i;

	raw(h, "<section id=\"access\"><h2>Access</h2><div class=\"kpis\">");
	kpi(h, "privileged accounts", (int64_t)json_array_size(get(a, "privileged_accounts")));
	kpi(h, "reviews in the period", rj_int(get(a, "reviews"), "count", 0));
	kpi(h, "review gaps", (int64_t)json_array_size(get(a, "reviews_missing")));
	raw(h, "</div><h3>Privileged accounts</h3><p class=\"small muted\">Privileged roles: ");
	json_array_foreach(get(a, "privileged_roles"), i, v)
	{
		if (i)
			raw(h, ", ");
		text(h, json_string_value(v));
	}
	if (*rj_str(a, "review_interval", "")) {
		raw(h, ". Longest allowed time between two reviews: ");
		text(h, rj_str(a, "review_interval", ""));
	}
	raw(h, ".</p><table><thead><tr><th>Account</th><th>Roles</th><th>Last review by "
	       "someone else</th><th class=\"n\">Reviews in period</th><th>Status</th></tr>"
	       "</thead><tbody>");
	json_array_foreach(get(a, "privileged_accounts"), i, v)
	{
		const json_t *lr = get(v, "last_review"), *r;
		size_t j;

		raw(h, "<tr><td>");
		text(h, rj_str(v, "account", ""));
		if (json_is_true(get(v, "disabled")))
			raw(h, " <span class=\"small muted\">(disabled)</span>");
		raw(h, "</td><td>");
		json_array_foreach(get(v, "roles"), j, r)
		{
			if (j)
				raw(h, ", ");
			text(h, json_string_value(r));
		}
		raw(h, "</td><td>");
		if (json_is_object(lr)) {
			text(h, rj_str(lr, "time", ""));
			raw(h, " by ");
			text(h, rj_str(lr, "by", ""));
			rawf(h, " <span class=\"seqs\">#%lld</span>",
			     (long long)rj_int(lr, "seq", 0));
		} else {
			raw(h, "<span class=\"muted\">never</span>");
		}
		raw(h, "</td><td class=\"n\">");
		number(h, rj_int(v, "reviews_in_period", 0));
		raw(h, "</td><td>");
		chip(h, json_is_true(get(v, "review_missing")) ? "red" : "green");
		raw(h, "</td></tr>");
	}
	if (json_array_size(get(a, "privileged_accounts")) == 0)
		raw(h, "<tr><td colspan=\"5\" class=\"muted\">no privileged accounts</td></tr>");
	raw(h, "</tbody></table><h3>Reviews missing</h3><table><thead><tr><th>Account</th><th>"
	       "What is missing</th><th>Entries</th></tr></thead><tbody>");
	json_array_foreach(get(a, "reviews_missing"), i, v)
	{
		raw(h, "<tr><td>");
		text(h, rj_str(v, "account", ""));
		raw(h, "</td><td>");
		text(h, rj_str(v, "detail", ""));
		raw(h, "</td><td>");
		seq_list(h, get(v, "refs"), 6);
		raw(h, "</td></tr>");
	}
	if (json_array_size(get(a, "reviews_missing")) == 0)
		raw(h, "<tr><td colspan=\"3\" class=\"muted\">none</td></tr>");
	raw(h, "</tbody></table><h3>Reviews done</h3><p>");
	number(h, rj_int(get(a, "reviews"), "count", 0));
	raw(h, " access reviews in the period, by the account reviewed:</p><table><thead><tr><th>"
	       "Account</th><th class=\"n\">Reviews</th><th>Reviewers</th><th>Latest</th>"
	       "<th>Entries</th></tr></thead><tbody>");
	review_rows(h, get(get(a, "reviews"), "rows"));
	raw(h, "</tbody></table>");
	if (rj_int(get(a, "reviews"), "count", 0) >
	    (int64_t)json_array_size(get(get(a, "reviews"), "rows")))
		raw(h, "<p class=\"small muted\">The table covers the reviews the JSON report "
		       "lists; it counts them all.</p>");
	raw(h, "<h3>Password ages at the end of the period</h3>");
	{
		int64_t values[5];
		const json_t *hist = get(pw, "histogram");

		if (json_array_size(hist) == 5) {
			for (i = 0; i < 5; i++)
				values[i] = rj_int(json_array_get(hist, i), "count", 0);
			raw(h, "<figure>");
			svg_columns(h, "Password ages", age_labels, 5, NULL, palette, 1, values,
			            NULL, NULL);
			raw(h, "<figcaption>Accounts active in the period, by the age of their "
			       "password (since the last change, else since the account was "
			       "created or first seen)");
			if (*rj_str(pw, "max_age", "")) {
				raw(h, "; the policy's maximum age is ");
				text(h, rj_str(pw, "max_age", ""));
			}
			raw(h, ".</figcaption></figure>");
		}
	}
	raw(h, "<table><thead><tr><th>Account</th><th>Password since</th><th class=\"n\">Age (days)"
	       "</th><th>MFA</th><th>Status</th></tr></thead><tbody>");
	json_array_foreach(get(pw, "accounts"), i, v)
	{
		raw(h, "<tr><td>");
		text(h, rj_str(v, "account", ""));
		raw(h, "</td><td>");
		text(h, rj_str(v, "since", ""));
		if (!json_is_true(get(v, "changed")))
			raw(h, " <span class=\"small muted\">(never changed)</span>");
		rawf(h, " <span class=\"seqs\">#%lld</span></td><td class=\"n\">",
		     (long long)rj_int(v, "since_seq", 0));
		number(h, rj_int(v, "age_days", 0));
		raw(h,
		    json_is_true(get(v, "mfa")) ? "</td><td>yes</td><td>" : "</td><td>no</td><td>");
		chip(h, json_is_true(get(v, "exception")) ? "red" : "green");
		raw(h, "</td></tr>");
	}
	raw(h, "</tbody></table></section>");
}

static void dmarc(struct html *h, const json_t *doc)
{
	const json_t *d = get(doc, "dmarc"), *doms = get(d, "domains"), *weeks = get(doc, "weeks"),
	             *x;
	size_t nd = json_array_size(doms), nw = json_array_size(weeks), i, k;
	int64_t warn = report_ratio_e4(rj_str(d, "warn_below", "0.98")),
	        fail = report_ratio_e4(rj_str(d, "fail_below", "0.95"));

	raw(h, "<section id=\"dmarc\"><h2>DMARC</h2><p>Aligned pass share per own domain, from the "
	       "aggregate reports received in the period (a message passes when DKIM or SPF "
	       "passed aligned). Warning below ");
	percent(h, rj_str(d, "warn_below", ""));
	raw(h, ", failure below ");
	percent(h, rj_str(d, "fail_below", ""));
	raw(h, ".</p>");
	if (nd && nw) {
		size_t nl = nd < MAX_LINES ? nd : MAX_LINES;
		const char **names = calloc(nl, sizeof(*names)),
		           **labels = calloc(nw, sizeof(*labels));
		int64_t *values = calloc(nl * nw, sizeof(*values));

		if (names && labels && values) {
			for (k = 0; k < nw; k++)
				labels[k] =
				        short_week(rj_str(json_array_get(weeks, k), "week", ""));
			for (i = 0; i < nl; i++) {
				const json_t *dw = get(json_array_get(doms, i), "weeks");

				names[i] = rj_str(json_array_get(doms, i), "domain", "");
				for (k = 0; k < nw; k++) {
					const char *sh =
					        rj_str(json_array_get(dw, k), "pass_share", NULL);

					values[i * nw + k] = sh ? report_ratio_e4(sh) : -1;
				}
			}
			raw(h, "<figure>");
			svg_lines(h, "Aligned DMARC pass share per week", labels, nw, names, nl,
			          values, warn < 0 ? 9800 : warn, fail < 0 ? 9500 : fail);
			raw(h, "<figcaption>Aligned pass share per ISO week and domain");
			if (nd > nl)
				rawf(h, " (the first %zu domains; the table has all)", nl);
			raw(h, ".</figcaption></figure>");
		}
		free(names);
		free(labels);
		free(values);
	}
	raw(h, "<table><thead><tr><th>Domain</th><th class=\"n\">Reports</th><th class=\"n\">"
	       "Messages</th><th class=\"n\">Aligned pass</th><th class=\"n\">Share</th><th>"
	       "Status</th></tr></thead><tbody>");
	json_array_foreach(doms, i, x)
	{
		raw(h, "<tr><td>");
		text(h, rj_str(x, "domain", ""));
		if (json_is_true(get(x, "p_none")))
			raw(h, " <span class=\"small down\">(p=none published)</span>");
		raw(h, "</td><td class=\"n\">");
		number(h, rj_int(x, "reports", 0));
		raw(h, "</td><td class=\"n\">");
		number(h, rj_int(x, "messages", 0));
		raw(h, "</td><td class=\"n\">");
		number(h, rj_int(x, "aligned_pass", 0));
		raw(h, "</td><td class=\"n\">");
		percent(h, rj_str(x, "pass_share", NULL));
		raw(h, "</td><td>");
		chip(h, rj_str(x, "status", "n/a"));
		raw(h, "</td></tr>");
	}
	if (nd == 0)
		raw(h, "<tr><td colspan=\"6\" class=\"muted\">no DMARC reports in this "
		       "period</td></tr>");
	raw(h, "</tbody></table><h3>Top failing sources</h3><table><thead><tr><th>Domain</th><th>"
	       "Source address</th><th class=\"n\">Failing messages</th></tr></thead><tbody>");
	k = 0;
	json_array_foreach(doms, i, x)
	{
		const json_t *s;
		size_t j;

		json_array_foreach(get(x, "top_failing_sources"), j, s)
		{
			raw(h, "<tr><td>");
			text(h, rj_str(x, "domain", ""));
			raw(h, "</td><td><code>");
			text(h, rj_str(s, "source_ip", ""));
			raw(h, "</code></td><td class=\"n\">");
			number(h, rj_int(s, "messages", 0));
			raw(h, "</td></tr>");
			k++;
		}
	}
	if (k == 0)
		raw(h, "<tr><td colspan=\"3\" class=\"muted\">none</td></tr>");
	raw(h, "</tbody></table></section>");
}

static void alerts(struct html *h, const json_t *doc)
{
	const json_t *a = get(doc, "alerts"), *rules = get(a, "by_rule"),
	             *weeks = get(doc, "weeks"), *r;
	size_t nr = json_array_size(rules), nw = json_array_size(weeks), i, k;

	raw(h, "<section id=\"alerts\"><h2>Alerts</h2><div class=\"kpis\">");
	kpi(h, "alerts", rj_int(a, "total", 0));
	kpi(h, "rules that fired", (int64_t)nr);
	raw(h, "</div>");
	if (nr && nw) {
		size_t ns = nr < MAX_SERIES ? nr : MAX_SERIES;
		const char **names = calloc(ns, sizeof(*names)),
		           **labels = calloc(nw, sizeof(*labels));
		int64_t *values = calloc(ns * nw, sizeof(*values));

		if (names && labels && values) {
			for (k = 0; k < nw; k++)
				labels[k] =
				        short_week(rj_str(json_array_get(weeks, k), "week", ""));
			json_array_foreach(rules, i, r)
			{
				size_t s = i < ns - 1 || nr == ns ? i : ns - 1;

				names[s] = s == i ? rj_str(r, "rule", "") : "other rules";
				for (k = 0; k < nw; k++)
					values[s * nw + k] += json_integer_value(
					        json_array_get(get(r, "weeks"), k));
			}
			raw(h, "<figure>");
			svg_columns(h, "Alerts per ISO week, by rule", labels, nw, names, palette,
			            ns, values, NULL, NULL);
			raw(h, "<figcaption>Alerts per ISO week, by rule.</figcaption></figure>");
		}
		free(names);
		free(labels);
		free(values);
	}
	raw(h, "<table><thead><tr><th>Rule</th><th>Highest severity</th><th class=\"n\">Alerts"
	       "</th><th>Entries</th></tr></thead><tbody>");
	json_array_foreach(rules, i, r)
	{
		raw(h, "<tr><td>");
		text(h, rj_str(r, "rule", ""));
		raw(h, "</td><td>");
		text(h, rj_str(r, "severity", ""));
		raw(h, "</td><td class=\"n\">");
		number(h, rj_int(r, "count", 0));
		raw(h, "</td><td>");
		seq_list(h, get(r, "seqs"), 8);
		raw(h, "</td></tr>");
	}
	if (nr == 0)
		raw(h, "<tr><td colspan=\"4\" class=\"muted\">no alerts in this period</td></tr>");
	raw(h, "</tbody></table>");
	if (json_array_size(get(a, "latest"))) {
		raw(h, "<h3>Latest alerts</h3><table><thead><tr><th>Time</th><th>Rule</th><th>"
		       "Severity</th><th>Summary</th><th>Entry</th></tr></thead><tbody>");
		json_array_foreach(get(a, "latest"), i, r)
		{
			raw(h, "<tr><td>");
			text(h, rj_str(r, "time", ""));
			raw(h, "</td><td>");
			text(h, rj_str(r, "rule", ""));
			raw(h, "</td><td>");
			text(h, rj_str(r, "severity", ""));
			raw(h, "</td><td>");
			text(h, rj_str(r, "summary", ""));
			rawf(h, "</td><td class=\"seqs\">#%lld</td></tr>",
			     (long long)rj_int(r, "seq", 0));
		}
		raw(h, "</tbody></table>");
	}
	raw(h, "</section>");
}

/* "2026-07-01T00:05:42Z" -> "2026-07-01 00:05:42Z", which can wrap */
static void when(struct html *h, const char *t)
{
	char b[48];
	size_t i;

	snprintf(b, sizeof(b), "%s", t);
	for (i = 0; b[i]; i++)
		if (b[i] == 'T') {
			b[i] = ' ';
			break;
		}
	text(h, b);
}

static void exceptions(struct html *h, const json_t *doc)
{
	const json_t *ex = get(doc, "exceptions"), *rows = get(ex, "rows"), *r;
	size_t n = json_array_size(rows), i,
	       shown = n < MAX_HTML_EXCEPTIONS ? n : MAX_HTML_EXCEPTIONS;
	const char *cur = NULL;

	raw(h, "<section id=\"exceptions\"><h2>Exceptions</h2><p>");
	number(h, rj_int(ex, "total", 0));
	raw(h, " exceptions, by policy. Each row cites the entries that show it (<span "
	       "class=\"seqs\">#seq</span>: provable against the checkpoint in the attestation "
	       "with <code>akashi prove SEQ</code>) and the finding entry the audit recorded for "
	       "it.</p>");
	if (rj_int(ex, "total", 0) > (int64_t)shown) {
		raw(h, "<p class=\"note\">This document lists the first ");
		number(h, (int64_t)shown);
		raw(h, "; the CSV and JSON formats of this report list ");
		number(h, (int64_t)n);
		raw(h, ".</p>");
	}
	for (i = 0; i < shown; i++) {
		r = json_array_get(rows, i);
		if (cur == NULL || strcmp(cur, rj_str(r, "policy_id", ""))) {
			if (cur)
				raw(h, "</tbody></table>");
			cur = rj_str(r, "policy_id", "");
			raw(h, "<h3>");
			text(h, cur);
			raw(h,
			    "</h3><table class=\"exc\"><colgroup><col class=\"c1\"><col "
			    "class=\"c2\">"
			    "<col class=\"c3\"><col class=\"c4\"><col class=\"c5\"><col "
			    "class=\"c6\">"
			    "</colgroup><thead><tr><th class=\"n\">#</th><th>Subject</th><th>When"
			    "</th><th>Detail</th><th>Evidence</th><th>Finding</th></tr></"
			    "thead><tbody>");
		}
		rawf(h, "<tr><td class=\"n\">%zu</td><td>", i + 1);
		text(h, rj_str(r, "who", ""));
		raw(h, "<br><span class=\"small muted\">");
		text(h, rj_str(r, "what", ""));
		if (*rj_str(r, "severity", "")) {
			raw(h, ", ");
			text(h, rj_str(r, "severity", ""));
		}
		raw(h, "</span></td><td>");
		when(h, rj_str(r, "time", ""));
		raw(h, "</td><td>");
		text(h, rj_str(r, "detail", ""));
		raw(h, "</td><td>");
		seq_list(h, get(r, "refs"), 12);
		raw(h, "</td><td class=\"seqs\">");
		if (json_is_integer(get(r, "finding_seq")))
			rawf(h, "#%lld", (long long)rj_int(r, "finding_seq", 0));
		else
			raw(h, "\xE2\x80\x93");
		raw(h, "</td></tr>");
	}
	if (cur)
		raw(h, "</tbody></table>");
	else
		raw(h, "<p class=\"muted\">No exceptions.</p>");
	raw(h, "</section>");
}

static void attestation(struct html *h, const json_t *doc)
{
	const json_t *a = get(doc, "attestation"), *cp = get(a, "checkpoint"),
	             *au = get(a, "audit");

	raw(h, "<section id=\"attestation\"><h2>Attestation</h2><p>This report was computed from "
	       "the first ");
	number(h, rj_int(cp, "size", 0));
	raw(h, " entries of the log <b>");
	text(h, rj_str(cp, "origin", ""));
	raw(h, "</b>, whose Merkle root is signed in the checkpoint below. Anyone holding the "
	       "checkpoint and the public key can check that the entries cited here are in that "
	       "log, unchanged.");
	if (rj_int(a, "entries_counted", 0) < rj_int(cp, "size", 0)) {
		raw(h, " Its counts cover the first ");
		number(h, rj_int(a, "entries_counted", 0));
		raw(h, " entries; those after them are the record of the audit run for this "
		       "report.");
	}
	raw(h, "</p><table><tbody><tr><th>Origin</th><td>");
	text(h, rj_str(cp, "origin", ""));
	raw(h, "</td></tr><tr><th>Tree size</th><td>");
	number(h, rj_int(cp, "size", 0));
	raw(h, "</td></tr><tr><th>Root hash (base64)</th><td><code>");
	text(h, rj_str(cp, "root", ""));
	raw(h, "</code></td></tr><tr><th>Root hash (hex)</th><td><code>");
	text(h, rj_str(cp, "root_hex", ""));
	raw(h, "</code></td></tr><tr><th>Key id</th><td><code>");
	text(h, rj_str(cp, "key_id", ""));
	raw(h, "</code></td></tr><tr><th>Checkpoint made</th><td>");
	text(h, rj_str(cp, "made", ""));
	rawf(h, " (its own entry: <span class=\"seqs\">#%lld</span>)</td></tr>",
	     (long long)rj_int(cp, "entry_seq", 0));
	raw(h, "<tr><th>Policy commit</th><td><code>");
	text(h, rj_str(a, "policy_commit", ""));
	raw(h, "</code></td></tr><tr><th>Audit</th><td>");
	if (json_is_true(get(au, "ran"))) {
		raw(h, "run for this report; ");
		number(h, rj_int(au, "findings_appended", 0));
		raw(h, " new findings appended");
	} else {
		raw(h, "already current at this policy commit (not run again)");
	}
	if (json_is_integer(get(au, "system_seq")))
		rawf(h, "; its record: <span class=\"seqs\">#%lld</span>",
		     (long long)rj_int(au, "system_seq", 0));
	raw(h, "</td></tr><tr><th>Report made</th><td>");
	text(h, rj_str(doc, "made", ""));
	if (*rj_str(doc, "made_by", "")) {
		raw(h, " by ");
		text(h, rj_str(doc, "made_by", ""));
	}
	raw(h, " with ");
	text(h, rj_str(doc, "tool", ""));
	raw(h, "</td></tr></tbody></table><h3>Signed checkpoint</h3><pre>");
	text(h, rj_str(cp, "note", ""));
	raw(h, "</pre><h3>Public key</h3><pre>");
	text(h, rj_str(a, "public_key", ""));
	raw(h, "</pre><h3>To make this report again</h3><pre>");
	text(h, rj_str(doc, "command", ""));
	raw(h, "</pre><h3>To check it</h3><ol class=\"small\">"
	       "<li><code>akashi verify</code> on the store recomputes every entry hash, the tree "
	       "and every checkpoint signature.</li>"
	       "<li>The signature in the checkpoint covers its text up to the blank line; "
	       "<code>openssl pkeyutl -verify -pubin -inkey key.pem -rawin</code> checks it "
	       "(docs/EVIDENCE-FORMAT.md shows the steps).</li>"
	       "<li><code>akashi prove SEQ --size ");
	rawf(h, "%lld", (long long)rj_int(cp, "size", 0));
	raw(h, "</code> proves any cited entry is in the tree whose root is above.</li>"
	       "<li>The JSON format of this report holds every figure shown here.</li></ol>"
	       "</section>");
}

int report_render_html(const json_t *doc, struct ak_buf *out)
{
	struct html h = {out, 0};
	const json_t *period = get(doc, "period");

	if (strcmp(rj_str(doc, "format", ""), REPORT_FORMAT) != 0)
		return ak_error_code(AK_EINVALID, "not a report document (%s)", REPORT_FORMAT);
	raw(&h, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	        "style-src 'unsafe-inline'\">\n"
	        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	        "<meta name=\"generator\" content=\"");
	text(&h, rj_str(doc, "tool", "akashi"));
	raw(&h, "\">\n<title>");
	text(&h, rj_str(doc, "title", "Quarterly compliance report"));
	raw(&h, " ");
	text(&h, *rj_str(period, "quarter", "") ? rj_str(period, "quarter", "")
	                                        : rj_str(period, "from", ""));
	raw(&h, " \xE2\x80\x94 ");
	text(&h, rj_str(doc, "origin", ""));
	raw(&h, "</title>\n<style>");
	raw(&h, css);
	raw(&h, "</style>\n</head>\n<body>\n<main>\n");
	cover(&h, doc);
	summary(&h, doc);
	consent(&h, doc);
	sends(&h, doc);
	access_section(&h, doc);
	dmarc(&h, doc);
	alerts(&h, doc);
	exceptions(&h, doc);
	attestation(&h, doc);
	raw(&h, "\n</main>\n</body>\n</html>\n");
	return h.rc;
}
