/*
 * reports/bundle_select.c - which entries a legal export or search picks.
 *
 * A selection names a subject (an e-mail address), a campaign, an account,
 * a full-text query, an event-time window and/or a seq range, optionally
 * of one kind; every criterion given must hold. Candidates come from the
 * cheapest source that can find them all: the full-text index for a text
 * criterion, else a scan of the log (by seq, or by the (kind, time)
 * catalog). A text candidate is then checked against the parsed body, so
 * "taro@example.jp" picks the entries about that subject (consent.subject,
 * send.rcpt, send.orig_to) and not an alert that happens to mention it.
 */
#include "reports/bundle_int.h"

#include "lib/ascii.h"
#include "lib/buf.h"
#include "lib/error.h"
#include "lib/jcs.h"
#include "lib/timefmt.h"

#include <string.h>

/* The trigram index finds substrings of three characters or more; a
 * shorter term is looked for by scanning. */
#define TRIGRAM 3

static int parse_time(const char *opt, const char *s, int64_t *out)
{
	char buf[AK_TIME_MAX];
	size_t n = strlen(s);

	/* A bare date is that day's midnight UTC. */
	if (n == 10 && s[4] == '-' && s[7] == '-') {
		snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
		s = buf;
		n = strlen(buf);
	}
	if (ak_time_parse(s, n, out) != 0) {
		ak_error_prefix("--%s '%s'", opt, s);
		return AK_EINVALID;
	}
	return 0;
}

static int parse_seq(const char *s, int64_t *lo, int64_t *hi)
{
	int64_t v[2] = {0, 0};
	int i = 0;
	const char *p = s;

	for (;;) {
		const char *start = p;

		while (*p >= '0' && *p <= '9') {
			if (v[i] > (INT64_MAX - 9) / 10)
				goto bad;
			v[i] = v[i] * 10 + (*p++ - '0');
		}
		if (p == start)
			goto bad;
		if (i == 0 && *p == '-') {
			p++;
			i = 1;
			continue;
		}
		if (*p != '\0' || i != 1)
			goto bad;
		break;
	}
	if (v[0] < 1 || v[1] < v[0])
		goto bad;
	*lo = v[0];
	*hi = v[1];
	return 0;
bad:
	return ak_error_code(AK_EINVALID,
			     "--seq '%s': expected A-B, two seqs from 1 with A <= B (\"1-500\")", s);
}

static int valid_kind(const char *k)
{
	size_t i;

	if (k[0] < 'a' || k[0] > 'z' || strlen(k) > EVIDENCE_KIND_MAX)
		return 0;
	for (i = 1; k[i]; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return 0;
	return 1;
}

int bundle_criteria_parse(struct bundle_criteria *c, const struct bundle_selection *sel)
{
	static const char *const names[] = {"subject", "campaign", "account", "query"};
	const char *text[] = {sel->subject, sel->campaign, sel->account, sel->query};
	size_t i;
	int rc;

	memset(c, 0, sizeof(*c));
	c->sel = sel;
	for (i = 0; i < 4; i++)
		if (text[i] && text[i][0] == '\0')
			return ak_error_code(AK_EINVALID, "--%s is empty", names[i]);
	if (!sel->subject && !sel->campaign && !sel->account && !sel->query && !sel->from &&
	    !sel->to && !sel->seq)
		return ak_error_code(AK_EINVALID, "give a selection: --subject, --campaign, "
						  "--account, --query, --from/--to or --seq");
	if (sel->kind && !valid_kind(sel->kind))
		return ak_error_code(AK_EINVALID, "--kind '%s' is not a kind name", sel->kind);
	if (sel->from) {
		if ((rc = parse_time("from", sel->from, &c->from_us)) != 0)
			return rc;
		c->has_from = 1;
	}
	if (sel->to) {
		if ((rc = parse_time("to", sel->to, &c->to_us)) != 0)
			return rc;
		c->has_to = 1;
	}
	if (c->has_from && c->has_to && c->to_us <= c->from_us)
		return ak_error_code(AK_EINVALID, "--to must be later than --from");
	if (sel->seq) {
		if ((rc = parse_seq(sel->seq, &c->seq_lo, &c->seq_hi)) != 0)
			return rc;
		c->has_seq = 1;
	}
	return 0;
}

int bundle_selection_is_range(const struct bundle_selection *sel)
{
	return sel->seq && !sel->subject && !sel->campaign && !sel->account && !sel->query &&
	       !sel->from && !sel->to && !sel->kind;
}

/* ---- matching bodies ---- */

static int str_is(const struct ak_jv *v, const char *want, int any_case)
{
	size_t n = strlen(want), i;

	if (v == NULL || v->type != AK_JSTRING || v->u.s.len != n)
		return 0;
	if (!any_case)
		return memcmp(v->u.s.ptr, want, n) == 0;
	for (i = 0; i < n; i++)
		if (ak_ascii_lower(v->u.s.ptr[i]) != ak_ascii_lower(want[i]))
			return 0;
	return 1;
}

struct select_ctx {
	const struct bundle_criteria *c;
	int64_t max_seq;
	struct ak_jdoc *doc;
	evidence_entry_cb cb;
	void *ctx;
};

/* Does e meet every criterion? 1 yes, 0 no, <0 error. */
static int matches(struct select_ctx *s, const struct evidence_entry *e)
{
	const struct bundle_criteria *c = s->c;
	const struct bundle_selection *sel = c->sel;
	const struct ak_jv *body = NULL;
	int rc;

	if (c->has_seq && (e->seq < c->seq_lo || e->seq > c->seq_hi))
		return 0;
	if ((sel->kind && strcmp(e->kind, sel->kind) != 0) ||
	    (c->has_from && e->time_us < c->from_us) || (c->has_to && e->time_us >= c->to_us))
		return 0;
	if (!sel->subject && !sel->campaign && !sel->account)
		return 1;
	if ((rc = ak_json_parse(s->doc, e->body, e->body_len, &body)) != 0) {
		ak_error_prefix("seq %lld: stored body", (long long)e->seq);
		return AK_ETAMPERED;
	}
	if (sel->subject) {
		if (strcmp(e->kind, "consent") == 0) {
			if (!str_is(ak_jv_get(body, "subject"), sel->subject, 1))
				return 0;
		} else if (strcmp(e->kind, "send") == 0) {
			if (!str_is(ak_jv_get(body, "rcpt"), sel->subject, 1) &&
			    !str_is(ak_jv_get(body, "orig_to"), sel->subject, 1))
				return 0;
		} else {
			return 0;
		}
	}
	if (sel->campaign) {
		if (strcmp(e->kind, "send") == 0) {
			if (!str_is(ak_jv_get(body, "campaign"), sel->campaign, 0))
				return 0;
		} else if (strcmp(e->kind, "admin") == 0) {
			if (!str_is(ak_jv_get(body, "campaign"), sel->campaign, 0) &&
			    !str_is(ak_jv_get(ak_jv_get(body, "details"), "campaign"), sel->campaign,
				    0))
				return 0;
		} else {
			return 0;
		}
	}
	if (sel->account) {
		if (strcmp(e->kind, "admin") != 0 ||
		    (!str_is(ak_jv_get(body, "actor"), sel->account, 0) &&
		     !str_is(ak_jv_get(body, "target"), sel->account, 0)))
			return 0;
	}
	return 1;
}

static int on_candidate(void *ctx, const struct evidence_entry *e)
{
	struct select_ctx *s = ctx;
	int rc;

	if (s->max_seq > 0 && e->seq > s->max_seq)
		return 1; /* candidates come in seq order: nothing further can match */
	if (s->c->has_seq && e->seq > s->c->seq_hi)
		return 1;
	rc = matches(s, e);
	if (rc <= 0)
		return rc;
	return s->cb(s->ctx, e);
}

/* The term as one FTS5 phrase: "..." with quotes doubled. */
static int phrase(struct ak_buf *out, const char *term)
{
	int rc = ak_buf_putc(out, '"');

	for (; rc == 0 && *term; term++)
		rc = *term == '"' ? ak_buf_puts(out, "\"\"") : ak_buf_putc(out, *term);
	return rc ? rc : ak_buf_putc(out, '"');
}

int bundle_select(struct evidence_store *st, const struct bundle_selection *sel, int64_t max_seq,
		  evidence_entry_cb cb, void *ctx)
{
	struct bundle_criteria c;
	struct select_ctx s = {&c, max_seq, NULL, cb, ctx};
	struct ak_buf q = AK_BUF_INIT(65536);
	const char *term = NULL;
	int rc;

	if ((rc = bundle_criteria_parse(&c, sel)) != 0)
		return rc;
	if ((rc = ak_jdoc_new(&s.doc, 0)) != 0)
		return rc;
	/* The most selective text criterion the index can answer. */
	if (sel->subject && strlen(sel->subject) >= TRIGRAM)
		term = sel->subject;
	else if (sel->campaign && strlen(sel->campaign) >= TRIGRAM)
		term = sel->campaign;
	else if (sel->account && strlen(sel->account) >= TRIGRAM)
		term = sel->account;
	if (sel->query) {
		rc = evidence_search(st, sel->query, sel->kind, 0, on_candidate, &s);
		if (rc != 0)
			ak_error_prefix("--query");
	} else if (term) {
		if ((rc = phrase(&q, term)) == 0)
			rc = evidence_search(st, q.data, sel->kind, 0, on_candidate, &s);
	} else {
		struct evidence_filter f = {0};

		f.kind = sel->kind;
		if (c.has_seq) {
			f.from_seq = c.seq_lo;
			f.to_seq = c.seq_hi;
		}
		if (max_seq > 0 && (f.to_seq == 0 || f.to_seq > max_seq))
			f.to_seq = max_seq;
		f.since_us = c.from_us;
		f.has_since = c.has_from;
		f.until_us = c.to_us;
		f.has_until = c.has_to;
		rc = evidence_scan(st, &f, on_candidate, &s);
	}
	ak_buf_free(&q);
	ak_jdoc_free(s.doc);
	return rc;
}
