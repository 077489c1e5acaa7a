/*
 * auditd/ingest/postfix.c - Postfix maillog adapter (see postfix.h for what
 * it accepts and what it produces).
 *
 * A line goes through three steps, none of which allocates once the tables
 * are warm: check that it is text (UTF-8, no NUL), cut the syslog prefix
 * (timestamp, host, program) without converting the time, then look at the
 * Postfix message. Lines that only feed the join (client=, message-id=,
 * from=, X-Akashi-* headers) update the state of their (host, queue id);
 * delivery lines become records. Times are converted to instants only for
 * records, and zone-less times through a small cache per civil minute, so
 * the time-zone database (slow, process-global) is asked once a minute of
 * log, not once a line.
 *
 * Per queue id the adapter keeps only the joined fields and, for expiry,
 * the recipients last seen deferred, all in one growable text block per
 * state. States come from a free list and live in an open-addressing table
 * and a least-recently-used list; both are bounded (postfix_limits) and
 * the oldest state is forgotten, with a skip() note, when a bound is hit.
 *
 * SECURITY: the input is a log whose lines carry text chosen by outsiders:
 * SMTP clients choose envelope addresses, HELO names and headers; remote
 * servers choose reply texts; anyone who can write to syslog can forge
 * whole lines (the store records what the log says, it cannot make the
 * log honest). The parser reads bytes only within the line, never trusts a
 * length it did not measure, and bounds all memory (line length, states,
 * remembered text). Fields are taken left to right in the order Postfix
 * writes them, and addresses are read with the quoting Postfix applies to
 * them (a quoted local-part may hold "> , status=sent"), so text inside an
 * address or a reply cannot pass for another field. A header value is cut
 * at the first " from NAME[ADDR]; from=<" (what Postfix appends); a value
 * that itself holds such text is cut there (its author only shortens the
 * value of its own message; Postfix already cut the header at 200 bytes).
 * Strings reach the body as UTF-8 (checked for the whole line first), so
 * a record is always valid JSON.
 */
#include "auditd/ingest/postfix.h"

#include "lib/ascii.h"
#include "lib/buf.h"
#include "lib/error.h"
#include "lib/hash.h"
#include "lib/lines.h"
#include "lib/timefmt.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PF_QID_MIN         5
#define PF_QID_MAX         32
#define PF_HOST_MAX        255
#define PF_MAX_HOSTS       65536
#define PF_STATE_MAX_BYTES ((uint32_t)1 << 20) /* text of one queue id */
#define PF_BLOB_KEEP       1024 /* a freed state keeps a block this small for reuse, */
#define PF_FREE_BLOBS      4096 /* on at most this many free states */
#define PF_BLOB_FIRST      256
#define PF_CHUNK_FIRST     32   /* states allocated at once: few for a small input, */
#define PF_CHUNK_MAX       4096 /* doubling up to this many for a busy log */
#define PF_TCACHE          256  /* civil minutes remembered (a power of two) */
#define PF_NONE            UINT32_MAX
#define US_PER_S           INT64_C(1000000)
#define US_PER_DAY         (INT64_C(86400) * US_PER_S)

enum pf_field { PF_MSGID, PF_FROM, PF_CLIENT, PF_CAMPAIGN, PF_LIST, PF_STREAM, PF_NFIELDS };

struct pf_span {
	uint32_t off, len; /* len PF_NONE: not known */
};

/* A recipient last seen deferred, stored in the state's block followed
 * by its rcpt and orig_to bytes. Copied in and out with memcpy: the block
 * gives no alignment. */
struct pf_pending {
	uint32_t next; /* offset of the next entry, PF_NONE at the end */
	uint32_t rcpt_len;
	uint32_t orig_len; /* PF_NONE: no orig_to */
	uint32_t alive;    /* 0 once delivered, bounced or expired */
};

struct pf_state {
	struct pf_state *newer, *older; /* LRU list; the free list uses older */
	uint64_t hash;
	uint32_t host;
	uint32_t qid_len;
	char qid[PF_QID_MAX];
	int64_t size; /* -1: not known */
	struct pf_span f[PF_NFIELDS];
	uint32_t pend_first, pend_last, npending;
	char *blob;
	uint32_t blen, bcap;
};

/* A table slot carries the hash so probing does not touch the states
 * (each a likely cache miss) until the hash matches. */
struct pf_slot {
	uint64_t hash;
	struct pf_state *s; /* NULL: empty */
};

struct pf_chunk {
	struct pf_chunk *next;
	size_t n;
	struct pf_state s[];
};

struct pf_host {
	char *name; /* NUL-terminated */
	uint32_t len;
	uint64_t hash;
};

struct pf_tcache {
	int64_t key; /* civil minute; 0: empty */
	int64_t base_us;
	int err;
};

/* One syslog line, cut into its parts (all borrowed from the line). */
struct pf_line {
	const char *ts;
	size_t ts_len;
	int year; /* 0: the line has none (RFC 3164) */
	int mon, day, hour, min, sec, usec;
	int has_off, off; /* off: seconds east of UTC */
	const char *host;
	size_t host_len;
	const char *prog; /* NULL: no program tag */
	size_t prog_len;
	const char *msg;
	size_t msg_len;
};

struct pf_delivery {
	const char *rcpt, *orig, *relay, *dsn, *reply;
	size_t rcpt_len, orig_len, relay_len, dsn_len, reply_len;
	int64_t delay_ms; /* -1: not known */
};

struct pf_ctx {
	const struct ingest_options *opt;
	const struct ingest_sink *sink;
	size_t max_ids, max_bytes;
	int64_t ref_us;
	int ref_year;

	struct pf_slot *slots; /* open addressing, linear probing */
	size_t mask, nlive;
	size_t bytes;      /* block bytes of live states */
	size_t free_blobs; /* free states that kept their block */
	struct pf_state *newest, *oldest, *free;
	struct pf_state *last; /* the state found last: a message's lines come in runs */
	struct pf_chunk *chunks;

	struct pf_host *hosts;
	size_t nhosts, hosts_cap;
	uint32_t *host_slots; /* index + 1; 0: empty */
	size_t host_mask;
	uint32_t last_host;

	struct pf_tcache tcache[PF_TCACHE];

	unsigned long lineno, where_lineno;
	struct ak_buf where;
	size_t where_prefix;
	struct ak_buf scratch; /* lower-cased strings, event ids, notes */
	struct ak_buf source;
	json_t *body; /* reused while the sink keeps no reference (see body_str) */
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static int starts(const char *p, size_t n, const char *lit, size_t litlen)
{
	return n >= litlen && memcmp(p, lit, litlen) == 0;
}
#define STARTS(p, n, lit) starts((p), (n), (lit), sizeof(lit) - 1)

static int eq_nocase(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i;

	if (alen != blen)
		return 0;
	for (i = 0; i < alen; i++)
		if (ak_ascii_lower(a[i]) != ak_ascii_lower(b[i]))
			return 0;
	return 1;
}
#define EQ_NOCASE(a, alen, lit) eq_nocase((a), (alen), (lit), sizeof(lit) - 1)

/* n fixed digits at p, or -1. */
static int fixed_digits(const char *p, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* ------------------------------------------------------------------ */
/* Text check: a syslog line is UTF-8 text without NUL bytes.          */

/* NULL when s[0..n) is valid UTF-8 without NUL, else the reason. Eight
 * ASCII bytes at a time: maillogs are almost all ASCII. */
static const char *check_text(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	const uint64_t hi = UINT64_C(0x8080808080808080), lo = UINT64_C(0x0101010101010101);

	while (p < end) {
		unsigned c, need, i;
		uint32_t cp;

		if (end - p >= 8) {
			uint64_t v;

			memcpy(&v, p, 8);
			if (((v | ((v - lo) & ~v)) & hi) == 0) {
				p += 8;
				continue;
			}
		}
		c = *p;
		if (c == 0)
			return "NUL byte in line";
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, cp = c & 0x07;
		else
			return "invalid UTF-8";
		if ((size_t)(end - p) <= need)
			return "invalid UTF-8";
		for (i = 1; i <= need; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return "invalid UTF-8";
			cp = cp << 6 | (p[i] & 0x3f);
		}
		/* Overlong forms, UTF-16 surrogates, beyond U+10FFFF. */
		if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return "invalid UTF-8";
		p += need + 1;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The syslog prefix                                                   */

/* 1-12, or 0. Every line has a month: no library call for it. */
static int month_of(const char *p)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int i;

	for (i = 0; i < 12; i++)
		if (p[0] == names[3 * i] && p[1] == names[3 * i + 1] && p[2] == names[3 * i + 2])
			return i + 1;
	return 0;
}

/* ".ddd" after seconds: up to 9 digits, kept to the microsecond. */
static const char *fraction(const char *p, const char *end, int *usec)
{
	int v = 0, n = 0;

	*usec = 0;
	if (p >= end || *p != '.')
		return p;
	p++;
	while (p < end && is_digit(*p) && n < 9) {
		if (n < 6)
			v = v * 10 + (*p - '0');
		n++;
		p++;
	}
	if (n == 0)
		return NULL;
	for (; n < 6; n++)
		v *= 10;
	*usec = v;
	return p;
}

/* "hh:mm:ss" at p. */
static int clock_time(const char *p, struct pf_line *l)
{
	if (p[2] != ':' || p[5] != ':')
		return -1;
	l->hour = fixed_digits(p, 2);
	l->min = fixed_digits(p + 3, 2);
	l->sec = fixed_digits(p + 6, 2);
	if (l->hour < 0 || l->hour > 23 || l->min < 0 || l->min > 59 || l->sec < 0 || l->sec > 59)
		return -1;
	return 0;
}

/* "Mmm dd hh:mm:ss[.f]" (day may be " d"). Returns the end or NULL. */
static const char *bsd_time(const char *p, const char *end, struct pf_line *l)
{
	if (end - p < 15 || p[3] != ' ' || p[6] != ' ')
		return NULL;
	l->mon = month_of(p);
	if (l->mon == 0)
		return NULL;
	if (p[4] == ' ')
		l->day = fixed_digits(p + 5, 1);
	else
		l->day = fixed_digits(p + 4, 2);
	if (l->day < 1 || l->day > 31 || clock_time(p + 7, l) != 0)
		return NULL;
	l->year = 0;
	l->has_off = 0;
	return fraction(p + 15, end, &l->usec);
}

/* "YYYY-MM-DDThh:mm:ss[.f][Z|+hh:mm|+hhmm]". Returns the end or NULL. */
static const char *iso_time(const char *p, const char *end, struct pf_line *l)
{
	int oh, om;

	if (end - p < 19 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != 't'))
		return NULL;
	l->year = fixed_digits(p, 4);
	l->mon = fixed_digits(p + 5, 2);
	l->day = fixed_digits(p + 8, 2);
	if (l->year < 1 || l->mon < 1 || l->mon > 12 || l->day < 1 ||
	    l->day > ak_time_days_in_month(l->year, l->mon) || clock_time(p + 11, l) != 0)
		return NULL;
	p = fraction(p + 19, end, &l->usec);
	if (p == NULL)
		return NULL;
	l->has_off = 0;
	l->off = 0;
	if (p < end && (*p == 'Z' || *p == 'z')) {
		l->has_off = 1;
		return p + 1;
	}
	if (p < end && (*p == '+' || *p == '-')) {
		int colon = end - p >= 6 && p[3] == ':';

		if (end - p < 5 + colon)
			return NULL;
		oh = fixed_digits(p + 1, 2);
		om = fixed_digits(p + 3 + colon, 2);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return NULL;
		l->has_off = 1;
		l->off = (*p == '-' ? -1 : 1) * (oh * 3600 + om * 60);
		return p + 5 + colon;
	}
	return p;
}

/* The next space-delimited token from *p; NULL when there is none. */
static const char *token(const char **p, const char *end, size_t *len)
{
	const char *s = *p, *e;

	if (s >= end || *s == ' ')
		return NULL;
	e = memchr(s, ' ', (size_t)(end - s));
	if (e == NULL)
		e = end;
	*len = (size_t)(e - s);
	*p = e < end ? e + 1 : e;
	return s;
}

/* RFC 3164 tag "prog[pid]: msg" or "prog: msg". Leaves prog NULL when the
 * rest is not a tag (rsyslog's "-- MARK --", "last message repeated"). */
static void bsd_tag(const char *p, const char *end, struct pf_line *l)
{
	const char *s = p;

	l->prog = NULL;
	while (p < end && *p != ' ' && *p != '[' && *p != ':')
		p++;
	if (p == s || p >= end)
		return;
	l->prog = s;
	l->prog_len = (size_t)(p - s);
	if (*p == '[') {
		p = memchr(p, ']', (size_t)(end - p));
		if (p == NULL) {
			l->prog = NULL;
			return;
		}
		p++;
	}
	if (p >= end || *p != ':') {
		l->prog = NULL;
		return;
	}
	p++;
	if (p < end && *p == ' ')
		p++;
	l->msg = p;
	l->msg_len = (size_t)(end - p);
}

/* RFC 5424 after the timestamp: HOST APP PROCID MSGID SD [MSG]. */
static const char *rfc5424_rest(const char *p, const char *end, struct pf_line *l)
{
	size_t n;

	l->host = token(&p, end, &l->host_len);
	if (l->host == NULL)
		return "RFC 5424 line without a host";
	if ((l->prog = token(&p, end, &l->prog_len)) == NULL || token(&p, end, &n) == NULL ||
	    token(&p, end, &n) == NULL)
		return "RFC 5424 line without APP-NAME, PROCID and MSGID";
	if (l->prog_len == 1 && *l->prog == '-')
		l->prog = NULL;
	/* STRUCTURED-DATA: "-" or "[...]..." with \] escapes inside. */
	if (p < end && *p == '-') {
		p++;
	} else {
		while (p < end && *p == '[') {
			p++;
			while (p < end && *p != ']') {
				if (*p == '\\' && p + 1 < end)
					p++;
				p++;
			}
			if (p >= end)
				return "RFC 5424 structured data not closed";
			p++;
		}
	}
	if (p < end) {
		if (*p != ' ')
			return "RFC 5424 structured data not followed by a space";
		p++;
	}
	if (end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	l->msg = p;
	l->msg_len = (size_t)(end - p);
	return NULL;
}

/* Cut a line into timestamp, host, program and message. NULL, or the
 * reason why this cannot be a syslog line. */
static const char *parse_prefix(const char *s, size_t n, struct pf_line *l)
{
	const char *p = s, *end = s + n, *t;
	int rfc5424 = 0;

	if (p < end && *p == '<') {
		int pri = 0, digits = 0;

		for (p++; p < end && is_digit(*p) && digits < 3; p++, digits++)
			pri = pri * 10 + (*p - '0');
		if (digits == 0 || p >= end || *p != '>' || pri > 191)
			return "not a syslog line (bad <PRI>)";
		p++;
		if (end - p >= 2 && p[0] == '1' && p[1] == ' ') {
			rfc5424 = 1;
			p += 2;
		}
	}
	l->ts = p;
	if (p < end && is_digit(*p))
		t = iso_time(p, end, l);
	else if (!rfc5424)
		t = bsd_time(p, end, l);
	else if (p < end && *p == '-')
		return "RFC 5424 line without a timestamp";
	else
		t = NULL;
	if (t == NULL)
		return "not a syslog line (no timestamp)";
	l->ts_len = (size_t)(t - p);
	if (t >= end || *t != ' ')
		return "not a syslog line (nothing after the timestamp)";
	p = t + 1;
	if (rfc5424)
		return rfc5424_rest(p, end, l);
	/* RFC 3164 pads a one-digit day but never the host; tolerate extra
	 * spaces some relays put after the timestamp. */
	while (p < end && *p == ' ')
		p++;
	l->host = token(&p, end, &l->host_len);
	if (l->host == NULL)
		return "not a syslog line (no host)";
	bsd_tag(p, end, l);
	return NULL;
}

/* A Postfix program: the tag is NAME/DAEMON with DAEMON a Postfix program
 * (NAME is the syslog_name: "postfix", "postfix-out", "postfix/submission"). */
static int is_postfix(const char *prog, size_t len)
{
	/* The busiest first. */
	/* clang-format off */
	static const struct {
		const char *name;
		size_t len;
	} daemons[] = {
#define D(s) {s, sizeof(s) - 1}
		D("smtpd"), D("cleanup"), D("qmgr"), D("smtp"), D("local"), D("virtual"),
		D("lmtp"), D("pipe"), D("error"), D("discard"), D("bounce"), D("pickup"),
		D("anvil"), D("master"), D("postscreen"), D("dnsblog"), D("tlsproxy"),
		D("scache"), D("trivial-rewrite"), D("proxymap"), D("verify"), D("flush"),
		D("showq"), D("oqmgr"), D("spawn"), D("postlogd"), D("postsuper"),
		D("postqueue"), D("postdrop"), D("sendmail"), D("postfix-script"), D("qmqpd"),
		D("tlsmgr"), D("postmap"), D("postalias"), D("postmulti"), D("postlog"),
		D("postconf"), D("postkick"), D("postcat"),
	};
#undef D
	/* clang-format on */
	const char *slash = NULL, *d;
	size_t i, dlen;

	for (i = len; i > 0; i--) {
		if (prog[i - 1] == '/') {
			slash = prog + i - 1;
			break;
		}
	}
	if (slash == NULL || slash == prog)
		return 0;
	d = slash + 1;
	dlen = len - (size_t)(d - prog);
	for (i = 0; i < sizeof(daemons) / sizeof(daemons[0]); i++)
		if (daemons[i].len == dlen && memcmp(daemons[i].name, d, dlen) == 0)
			return 1;
	return 0;
}

/* Length of the queue id that starts msg ("1EA02A72163: ..."), or 0.
 * Short ids are upper-case hex, long ids mix cases and digits; both hold
 * a digit or an upper-case letter, which tells them from "warning:". */
static size_t queue_id(const char *msg, size_t n)
{
	size_t i;
	int caps = 0;

	for (i = 0; i < n && i <= PF_QID_MAX; i++) {
		char c = msg[i];

		if (is_digit(c) || (c >= 'A' && c <= 'Z'))
			caps = 1;
		else if (!is_lower(c))
			break;
	}
	if (i < PF_QID_MIN || i > PF_QID_MAX || !caps || i + 1 >= n || msg[i] != ':' ||
	    msg[i + 1] != ' ')
		return 0;
	if (i == 7 && memcmp(msg, "NOQUEUE", 7) == 0)
		return 0;
	return i;
}

/* ------------------------------------------------------------------ */
/* Where, skip, reject                                                 */

static const char *where(struct pf_ctx *c)
{
	char digits[24];
	size_t n = 0;
	unsigned long v = c->lineno;

	if (c->where_lineno == c->lineno && c->where.len > c->where_prefix)
		return c->where.data;
	do {
		digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < sizeof(digits));
	ak_buf_truncate(&c->where, c->where_prefix);
	/* Cannot fail: the buffer already grew to hold every line number. */
	if (ak_buf_append(&c->where, digits + sizeof(digits) - n, n) != 0)
		return "?";
	c->where_lineno = c->lineno;
	return c->where.data;
}

static int skip(struct pf_ctx *c, const char *why)
{
	if (c->sink->skip)
		c->sink->skip(c->sink->ctx, where(c), why);
	return 0;
}

static int reject(struct pf_ctx *c, const char *why, const char *raw, size_t raw_len)
{
	int rc;

	if (c->sink->reject == NULL)
		return 0;
	rc = c->sink->reject(c->sink->ctx, where(c), why, raw, raw_len);
	return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------------ */
/* Times                                                               */

/* Instant of a civil minute in the configured zone, cached. */
static int local_minute(struct pf_ctx *c, int year, int mon, int day, int hour, int min,
                        int64_t *out)
{
	int64_t key = ((((int64_t)year * 13 + mon) * 32 + day) * 24 + hour) * 60 + min + 1;
	struct pf_tcache *e = &c->tcache[((uint64_t)key * UINT64_C(0x9E3779B97F4A7C15)) >> 56];
	int64_t us = 0;
	int rc = 0;

	if (e->key == key) {
		if (e->err == 0) {
			*out = e->base_us;
			return 0;
		}
	} else {
		if (day > ak_time_days_in_month(year, mon))
			rc = AK_EINVALID;
		else
			rc = ak_time_local(c->opt->zone, year, mon, day, hour, min, 0, &us);
		e->key = key;
		e->err = rc;
		e->base_us = us;
		if (rc == 0) {
			*out = us;
			return 0;
		}
	}
	if (day > ak_time_days_in_month(year, mon))
		return ak_error_code(AK_EINVALID, "no such date %04d-%02d-%02d", year, mon, day);
	return ak_error_code(AK_EINVALID, "%04d-%02d-%02d %02d:%02d does not exist in time zone %s",
	                     year, mon, day, hour, min, c->opt->zone ? c->opt->zone : "(local)");
}

/* The instant of a line (see postfix.h for the year and zone rule). */
static int line_time(struct pf_ctx *c, const struct pf_line *l, int64_t *out)
{
	int64_t base, within = l->sec * US_PER_S + l->usec;
	int rc;

	if (l->has_off) {
		*out = ak_time_from_civil(l->year, l->mon, l->day, l->hour, l->min, l->sec) *
		               US_PER_S -
		       l->off * US_PER_S + l->usec;
		return 0;
	}
	if (l->year) {
		rc = local_minute(c, l->year, l->mon, l->day, l->hour, l->min, &base);
	} else if (c->opt->year) {
		rc = local_minute(c, c->opt->year, l->mon, l->day, l->hour, l->min, &base);
	} else {
		int y = c->ref_year;

		/* A date the reference year lacks (Feb 29) is from the year
		 * before; so is a line more than a day after the reference
		 * time, even when its time does not exist in the reference year
		 * (a DST change there skips it): the year before is asked then,
		 * and only a time it lacks too is an error. */
		if (l->day > ak_time_days_in_month(y, l->mon))
			y--;
		rc = local_minute(c, y, l->mon, l->day, l->hour, l->min, &base);
		if (y == c->ref_year &&
		    (rc == 0 ? base + within
		             : ak_time_from_civil(y, l->mon, l->day, l->hour, l->min, l->sec) *
		                       US_PER_S) > c->ref_us + US_PER_DAY) {
			ak_error_clear();
			rc = local_minute(c, y - 1, l->mon, l->day, l->hour, l->min, &base);
		}
	}
	if (rc != 0)
		return rc;
	*out = base + within;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Hosts                                                               */

/* Index of host (interned), or -1 when there are too many hosts, or
 * AK_ENOMEM. */
static int64_t host_index(struct pf_ctx *c, const char *name, size_t len)
{
	uint64_t h;
	size_t i;
	struct pf_host *last;

	if (c->nhosts > 0) {
		last = &c->hosts[c->last_host];
		if (last->len == len && memcmp(last->name, name, len) == 0)
			return c->last_host;
	}
	if (len > PF_HOST_MAX)
		return -1;
	h = ak_hash64(name, len, AK_HASH_SEED);
	for (i = h & c->host_mask; c->host_slots && c->host_slots[i]; i = (i + 1) & c->host_mask) {
		struct pf_host *e = &c->hosts[c->host_slots[i] - 1];

		if (e->hash == h && e->len == len && memcmp(e->name, name, len) == 0) {
			c->last_host = c->host_slots[i] - 1;
			return c->last_host;
		}
	}
	if (c->nhosts >= PF_MAX_HOSTS)
		return -1;
	if (c->nhosts == c->hosts_cap) {
		size_t ncap = c->hosts_cap ? c->hosts_cap * 2 : 16, nslots = ncap * 2, j;
		struct pf_host *nh = realloc(c->hosts, ncap * sizeof(*nh));
		uint32_t *ns;

		if (nh == NULL)
			return ak_error_oom();
		c->hosts = nh;
		c->hosts_cap = ncap;
		ns = calloc(nslots, sizeof(*ns));
		if (ns == NULL)
			return ak_error_oom();
		for (j = 0; j < c->nhosts; j++) {
			size_t k = c->hosts[j].hash & (nslots - 1);

			while (ns[k])
				k = (k + 1) & (nslots - 1);
			ns[k] = (uint32_t)j + 1;
		}
		free(c->host_slots);
		c->host_slots = ns;
		c->host_mask = nslots - 1;
	}
	{
		struct pf_host *e = &c->hosts[c->nhosts];

		e->name = malloc(len + 1);
		if (e->name == NULL)
			return ak_error_oom();
		memcpy(e->name, name, len);
		e->name[len] = '\0';
		e->len = (uint32_t)len;
		e->hash = h;
		for (i = h & c->host_mask; c->host_slots[i]; i = (i + 1) & c->host_mask)
			;
		c->host_slots[i] = (uint32_t)c->nhosts + 1;
		c->last_host = (uint32_t)c->nhosts;
		return (int64_t)c->nhosts++;
	}
}

/* ------------------------------------------------------------------ */
/* Queue id states                                                     */

static uint64_t state_hash(uint32_t host, const char *qid, size_t len)
{
	uint64_t h =
	        ak_hash64(qid, len, AK_HASH_SEED ^ ((uint64_t)host * UINT64_C(0x9E3779B97F4A7C15)));

	/* Fold the high bits down: the table indexes with the low bits. */
	h ^= h >> 29;
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	return h ^ (h >> 32);
}

static struct pf_state *state_find(struct pf_ctx *c, uint32_t host, const char *qid, size_t len,
                                   uint64_t h)
{
	size_t i;

	if (c->last && c->last->hash == h && c->last->host == host && c->last->qid_len == len &&
	    memcmp(c->last->qid, qid, len) == 0)
		return c->last;
	if (c->slots == NULL)
		return NULL;
	for (i = h & c->mask; c->slots[i].s; i = (i + 1) & c->mask) {
		struct pf_state *s = c->slots[i].s;

		if (c->slots[i].hash == h && s->host == host && s->qid_len == len &&
		    memcmp(s->qid, qid, len) == 0)
			return c->last = s;
	}
	return NULL;
}

static void lru_unlink(struct pf_ctx *c, struct pf_state *s)
{
	if (s->newer)
		s->newer->older = s->older;
	else
		c->newest = s->older;
	if (s->older)
		s->older->newer = s->newer;
	else
		c->oldest = s->newer;
	s->newer = s->older = NULL;
}

static void lru_push(struct pf_ctx *c, struct pf_state *s)
{
	s->newer = NULL;
	s->older = c->newest;
	if (c->newest)
		c->newest->newer = s;
	c->newest = s;
	if (c->oldest == NULL)
		c->oldest = s;
}

static void state_touch(struct pf_ctx *c, struct pf_state *s)
{
	if (c->newest != s) {
		lru_unlink(c, s);
		lru_push(c, s);
	}
}

/* Forget a state: out of the table (backward-shift deletion keeps the
 * probe sequences of linear probing intact without tombstones) and onto
 * the free list. */
static void state_release(struct pf_ctx *c, struct pf_state *s)
{
	size_t i = s->hash & c->mask, j;

	while (c->slots[i].s != s)
		i = (i + 1) & c->mask;
	c->slots[i].s = NULL;
	for (j = (i + 1) & c->mask; c->slots[j].s; j = (j + 1) & c->mask) {
		size_t home = c->slots[j].hash & c->mask;

		/* Move slots[j] back into the hole unless its home lies
		 * cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			c->slots[i] = c->slots[j];
			c->slots[j].s = NULL;
			i = j;
		}
	}
	lru_unlink(c, s);
	if (c->last == s)
		c->last = NULL;
	c->nlive--;
	c->bytes -= s->bcap;
	if (s->bcap > PF_BLOB_KEEP || c->free_blobs >= PF_FREE_BLOBS) {
		free(s->blob);
		s->blob = NULL;
		s->bcap = 0;
	} else if (s->blob) {
		c->free_blobs++;
	}
	s->older = c->free;
	c->free = s;
}

/* Forget the least recently used state (not keep), with a note. */
static int evict_oldest(struct pf_ctx *c, const struct pf_state *keep)
{
	struct pf_state *s = c->oldest;

	if (s == keep)
		s = s->newer;
	if (s == NULL)
		return -1;
	ak_buf_reset(&c->scratch);
	if (ak_buf_printf(&c->scratch,
	                  "queue id %s/%.*s forgotten: over %zu live queue ids or %zu bytes of "
	                  "state; its later records lack the joined fields",
	                  c->hosts[s->host].name, (int)s->qid_len, s->qid, c->max_ids,
	                  c->max_bytes) == 0 &&
	    c->sink->skip)
		c->sink->skip(c->sink->ctx, where(c), c->scratch.data);
	state_release(c, s);
	return 0;
}

static int table_grow(struct pf_ctx *c)
{
	size_t n = c->slots ? (c->mask + 1) * 2 : 1024, i;
	struct pf_slot *ns = calloc(n, sizeof(*ns));

	if (ns == NULL)
		return ak_error_oom();
	if (c->slots) {
		for (i = 0; i <= c->mask; i++) {
			size_t k;

			if (c->slots[i].s == NULL)
				continue;
			for (k = c->slots[i].hash & (n - 1); ns[k].s; k = (k + 1) & (n - 1))
				;
			ns[k] = c->slots[i];
		}
		free(c->slots);
	}
	c->slots = ns;
	c->mask = n - 1;
	return 0;
}

/* The state of (host, qid), made when there is none. 0, or AK_ENOMEM. */
static int state_get(struct pf_ctx *c, uint32_t host, const char *qid, size_t len,
                     struct pf_state **out)
{
	uint64_t h = state_hash(host, qid, len);
	struct pf_state *s = state_find(c, host, qid, len, h);
	size_t i;
	int rc;

	if (s) {
		state_touch(c, s);
		*out = s;
		return 0;
	}
	while (c->nlive >= c->max_ids && evict_oldest(c, NULL) == 0)
		;
	if (c->slots == NULL || (c->nlive + 1) * 2 > c->mask + 1) {
		rc = table_grow(c);
		if (rc != 0)
			return rc;
	}
	if (c->free == NULL) {
		size_t n = c->chunks ? c->chunks->n * 2 : PF_CHUNK_FIRST;
		struct pf_chunk *ch;

		if (n > PF_CHUNK_MAX)
			n = PF_CHUNK_MAX;
		ch = calloc(1, sizeof(*ch) + n * sizeof(ch->s[0]));
		if (ch == NULL)
			return ak_error_oom();
		ch->n = n;
		ch->next = c->chunks;
		c->chunks = ch;
		for (i = n; i > 0; i--) {
			ch->s[i - 1].older = c->free;
			c->free = &ch->s[i - 1];
		}
	}
	s = c->free;
	c->free = s->older;
	if (s->blob)
		c->free_blobs--;
	c->bytes += s->bcap;
	s->hash = h;
	s->host = host;
	s->qid_len = (uint32_t)len;
	memcpy(s->qid, qid, len);
	s->size = -1;
	for (i = 0; i < PF_NFIELDS; i++)
		s->f[i].len = PF_NONE;
	s->pend_first = s->pend_last = PF_NONE;
	s->npending = 0;
	s->blen = 0;
	for (i = h & c->mask; c->slots[i].s; i = (i + 1) & c->mask)
		;
	c->slots[i].hash = h;
	c->slots[i].s = s;
	c->nlive++;
	lru_push(c, s);
	*out = s;
	return 0;
}

/* Room for n more bytes in a state's block. 0; 1 when the limits do not
 * allow it (the caller drops the value); AK_ENOMEM. */
static int blob_reserve(struct pf_ctx *c, struct pf_state *s, size_t n)
{
	size_t need = (size_t)s->blen + n, ncap;
	char *nb;

	if (need <= s->bcap)
		return 0;
	if (need > PF_STATE_MAX_BYTES)
		return 1;
	ncap = s->bcap ? s->bcap : PF_BLOB_FIRST;
	while (ncap < need)
		ncap *= 2;
	if (ncap > PF_STATE_MAX_BYTES)
		ncap = PF_STATE_MAX_BYTES;
	while (c->bytes + (ncap - s->bcap) > c->max_bytes)
		if (evict_oldest(c, s) != 0)
			return 1;
	nb = realloc(s->blob, ncap);
	if (nb == NULL)
		return ak_error_oom();
	c->bytes += ncap - s->bcap;
	s->blob = nb;
	s->bcap = (uint32_t)ncap;
	return 0;
}

/* The bytes of a known field. An empty value ("from=<>" for the null
 * sender) may be the state's only one, with no block allocated. */
static const char *span_ptr(const struct pf_state *s, const struct pf_span *sp)
{
	return sp->len == 0 ? "" : s->blob + sp->off;
}

static int span_eq(const struct pf_state *s, const struct pf_span *sp, const char *v, size_t n)
{
	return sp->len != PF_NONE && sp->len == n && memcmp(span_ptr(s, sp), v, n) == 0;
}

/* Remember a field. Values are appended (a changed value leaves the old
 * bytes behind; Postfix repeats the same values, so this stays small). */
static int state_set(struct pf_ctx *c, struct pf_state *s, enum pf_field f, const char *v, size_t n)
{
	int rc;

	if (span_eq(s, &s->f[f], v, n))
		return 0;
	rc = blob_reserve(c, s, n);
	if (rc != 0)
		return rc < 0 ? rc : skip(c, "field not remembered: queue id over its state limit");
	if (n > 0)
		memcpy(s->blob + s->blen, v, n);
	s->f[f].off = s->blen;
	s->f[f].len = (uint32_t)n;
	s->blen += (uint32_t)n;
	return 0;
}

/* The pending entry for (rcpt, orig) or PF_NONE. */
static uint32_t pending_find(const struct pf_state *s, const char *rcpt, size_t rlen,
                             const char *orig, size_t olen)
{
	uint32_t off = s->pend_first;
	struct pf_pending e;

	while (off != PF_NONE) {
		memcpy(&e, s->blob + off, sizeof(e));
		if (e.alive && e.rcpt_len == rlen &&
		    memcmp(s->blob + off + sizeof(e), rcpt, rlen) == 0 &&
		    (orig ? e.orig_len == olen &&
		                     memcmp(s->blob + off + sizeof(e) + rlen, orig, olen) == 0
		          : e.orig_len == PF_NONE))
			return off;
		off = e.next;
	}
	return PF_NONE;
}

static int pending_add(struct pf_ctx *c, struct pf_state *s, const struct pf_delivery *d)
{
	struct pf_pending e;
	size_t olen = d->orig ? d->orig_len : 0;
	uint32_t off;
	int rc;

	if (pending_find(s, d->rcpt, d->rcpt_len, d->orig, d->orig_len) != PF_NONE)
		return 0;
	rc = blob_reserve(c, s, sizeof(e) + d->rcpt_len + olen);
	if (rc != 0)
		return rc < 0 ? rc
		              : skip(c, "deferred recipient not remembered: queue id over its "
		                        "state limit (no expired record for it)");
	off = s->blen;
	e.next = PF_NONE;
	e.rcpt_len = (uint32_t)d->rcpt_len;
	e.orig_len = d->orig ? (uint32_t)d->orig_len : PF_NONE;
	e.alive = 1;
	memcpy(s->blob + off, &e, sizeof(e));
	memcpy(s->blob + off + sizeof(e), d->rcpt, d->rcpt_len);
	if (olen)
		memcpy(s->blob + off + sizeof(e) + d->rcpt_len, d->orig, olen);
	s->blen += (uint32_t)(sizeof(e) + d->rcpt_len + olen);
	if (s->pend_last != PF_NONE) {
		struct pf_pending last;

		memcpy(&last, s->blob + s->pend_last, sizeof(last));
		last.next = off;
		memcpy(s->blob + s->pend_last, &last, sizeof(last));
	} else {
		s->pend_first = off;
	}
	s->pend_last = off;
	s->npending++;
	return 0;
}

static void pending_kill(struct pf_state *s, uint32_t off)
{
	struct pf_pending e;

	memcpy(&e, s->blob + off, sizeof(e));
	e.alive = 0;
	memcpy(s->blob + off, &e, sizeof(e));
	s->npending--;
}

/* ------------------------------------------------------------------ */
/* Records                                                             */

/*
 * Bodies are built with jansson, whose every value is a malloc. To keep
 * the adapter near a million lines a second, one body object is reused
 * from record to record whenever the sink kept no reference to it
 * (refcount back to 1 after record()): each member is then updated in
 * place, which costs nothing when the value did not change (host, relay,
 * dsn, reply, stream, ... mostly repeat) and one allocation when it did.
 * A member the sink holds a reference to is replaced, never changed, so a
 * sink can never see a value it kept change under it. Members this record
 * does not have are deleted.
 */
static int body_str(json_t *o, const char *key, const char *v, size_t n)
{
	json_t *old = json_object_get(o, key), *j;

	if (old && old->refcount == 1 && json_is_string(old)) {
		if (json_string_length(old) == n && memcmp(json_string_value(old), v, n) == 0)
			return 0;
		return json_string_setn_nocheck(old, v, n) == 0 ? 0 : ak_error_oom();
	}
	j = json_stringn_nocheck(v, n);
	if (j == NULL || json_object_set_new_nocheck(o, key, j) != 0)
		return ak_error_oom();
	return 0;
}

static int body_lower(struct pf_ctx *c, json_t *o, const char *key, const char *v, size_t n)
{
	char *p;
	size_t i;

	ak_buf_reset(&c->scratch);
	p = ak_buf_reserve(&c->scratch, n + 1);
	if (p == NULL)
		return ak_error_oom();
	for (i = 0; i < n; i++)
		p[i] = ak_ascii_lower(v[i]);
	return body_str(o, key, p, n);
}

static int body_int(json_t *o, const char *key, int64_t v)
{
	json_t *old = json_object_get(o, key), *j;

	if (old && old->refcount == 1 && json_is_integer(old))
		return json_integer_set(old, v) == 0 ? 0 : ak_error_oom();
	j = json_integer(v);
	if (j == NULL || json_object_set_new_nocheck(o, key, j) != 0)
		return ak_error_oom();
	return 0;
}

/* A string member when known (v != NULL), else none. */
static int body_opt(json_t *o, const char *key, const char *v, size_t n)
{
	if (v == NULL) {
		json_object_del(o, key);
		return 0;
	}
	return body_str(o, key, v, n);
}

static int body_field(json_t *o, const char *key, const struct pf_state *s, enum pf_field f)
{
	if (s == NULL || s->f[f].len == PF_NONE)
		return body_opt(o, key, NULL, 0);
	return body_str(o, key, span_ptr(s, &s->f[f]), s->f[f].len);
}

static int append_lower(struct ak_buf *b, const char *v, size_t n)
{
	char *p = ak_buf_reserve(b, n);
	size_t i;

	if (p == NULL)
		return AK_ENOMEM;
	for (i = 0; i < n; i++)
		p[i] = ak_ascii_lower(v[i]);
	ak_buf_commit(b, n);
	return 0;
}

/* One "send" record for a recipient of the line's queue id. */
static int emit(struct pf_ctx *c, const struct pf_line *l, const struct pf_state *s, uint32_t host,
                const char *qid, size_t qid_len, const char *status, size_t status_len,
                const struct pf_delivery *d)
{
	const struct pf_host *hp = &c->hosts[host];
	struct ingest_record rec;
	json_t *body = NULL;
	char *event_id = NULL;
	int rc;

	memset(&rec, 0, sizeof(rec));
	rc = line_time(c, l, &rec.time_us);
	if (rc != 0) {
		rc = reject(c, ak_error_last(), NULL, 0);
		goto done;
	}
	if (c->body == NULL || c->body->refcount != 1) {
		json_decref(c->body); /* the sink holds it now */
		c->body = json_object();
		if (c->body == NULL) {
			rc = ak_error_oom();
			goto done;
		}
	}
	body = c->body;
	if ((rc = body_lower(c, body, "rcpt", d->rcpt, d->rcpt_len)) != 0 ||
	    (rc = body_str(body, "status", status, status_len)) != 0 ||
	    (rc = body_str(body, "queue_id", qid, qid_len)) != 0 ||
	    (rc = body_str(body, "host", hp->name, hp->len)) != 0 ||
	    (rc = body_field(body, "message_id", s, PF_MSGID)) != 0 ||
	    (rc = body_field(body, "client", s, PF_CLIENT)) != 0 ||
	    (rc = body_field(body, "campaign", s, PF_CAMPAIGN)) != 0 ||
	    (rc = body_field(body, "list", s, PF_LIST)) != 0 ||
	    (rc = body_field(body, "stream", s, PF_STREAM)) != 0 ||
	    (rc = body_opt(body, "relay", d->relay, d->relay_len)) != 0 ||
	    (rc = body_opt(body, "dsn", d->dsn, d->dsn_len)) != 0 ||
	    (rc = body_opt(body, "reply", d->reply, d->reply_len)) != 0)
		goto done;
	if (s && s->f[PF_FROM].len != PF_NONE)
		rc = body_lower(c, body, "from", span_ptr(s, &s->f[PF_FROM]), s->f[PF_FROM].len);
	else
		json_object_del(body, "from");
	if (rc == 0 && d->orig)
		rc = body_lower(c, body, "orig_to", d->orig, d->orig_len);
	else
		json_object_del(body, "orig_to");
	if (rc == 0 && s && s->size >= 0)
		rc = body_int(body, "size", s->size);
	else
		json_object_del(body, "size");
	if (rc == 0 && d->delay_ms >= 0)
		rc = body_int(body, "delay_ms", d->delay_ms);
	else
		json_object_del(body, "delay_ms");
	if (rc != 0)
		goto done;

	/* HOST|QID|STATUS|TIMESTAMP|RCPT[|ORIG_TO]: the recipient last, as
	 * it is the only part that may hold a '|'. */
	ak_buf_reset(&c->scratch);
	if (ak_buf_append(&c->scratch, hp->name, hp->len) != 0 ||
	    ak_buf_putc(&c->scratch, '|') != 0 || ak_buf_append(&c->scratch, qid, qid_len) != 0 ||
	    ak_buf_putc(&c->scratch, '|') != 0 ||
	    ak_buf_append(&c->scratch, status, status_len) != 0 ||
	    ak_buf_putc(&c->scratch, '|') != 0 ||
	    ak_buf_append(&c->scratch, l->ts, l->ts_len) != 0 ||
	    ak_buf_putc(&c->scratch, '|') != 0 ||
	    append_lower(&c->scratch, d->rcpt, d->rcpt_len) != 0 ||
	    (d->orig && (ak_buf_putc(&c->scratch, '|') != 0 ||
	                 append_lower(&c->scratch, d->orig, d->orig_len) != 0))) {
		rc = ak_error_oom();
		goto done;
	}
	event_id = c->scratch.data;

	if (c->opt->source) {
		rec.source = c->opt->source;
	} else {
		ak_buf_reset(&c->source);
		if (ak_buf_puts(&c->source, "postfix:") != 0 ||
		    ak_buf_append(&c->source, hp->name, hp->len) != 0) {
			rc = ak_error_oom();
			goto done;
		}
		rec.source = c->source.data;
	}
	rec.kind = "send";
	rec.body = body;
	rec.event_id = event_id;
	rec.where = where(c);
	rc = c->sink->record(c->sink->ctx, &rec);
	if (rc > 0)
		rc = 0;
done:
	return rc;
}

/* ------------------------------------------------------------------ */
/* Postfix messages                                                    */

/* An address in angle brackets as Postfix logs it: "<a@b>", "<>", or
 * '<"quoted local part"@b>' whose quotes may hold '>' (backslash escapes
 * inside). On success *p is past the '>'. */
static int angle_addr(const char **p, const char *end, const char **addr, size_t *len)
{
	const char *s = *p, *q;

	if (s >= end || *s != '<')
		return -1;
	q = ++s;
	if (q < end && *q == '"') {
		for (q++; q < end && *q != '"'; q++)
			if (*q == '\\' && q + 1 < end)
				q++;
		if (q >= end)
			return -1;
		q++;
	}
	q = memchr(q, '>', (size_t)(end - q));
	if (q == NULL)
		return -1;
	*addr = s;
	*len = (size_t)(q - s);
	*p = q + 1;
	return 0;
}

/* "12.34" seconds as milliseconds (extra digits truncated), or -1. */
static int64_t delay_ms(const char *v, size_t n)
{
	int64_t secs = 0, ms = 0;
	size_t i = 0;
	int nd = 0;

	for (; i < n && is_digit(v[i]); i++, nd++) {
		if (nd >= 12)
			return -1;
		secs = secs * 10 + (v[i] - '0');
	}
	if (i < n && v[i] == '.') {
		int nf = 0;

		for (i++; i < n && is_digit(v[i]); i++, nf++)
			if (nf < 3)
				ms += (v[i] - '0') * (nf == 0 ? 100 : nf == 1 ? 10 : 1);
		nd += nf;
	}
	if (i != n || nd == 0)
		return -1;
	return secs * 1000 + ms;
}

static int valid_dsn(const char *v, size_t n)
{
	size_t i, dots = 0;

	if (n < 5 || !is_digit(v[0]))
		return 0;
	for (i = 0; i < n; i++) {
		if (v[i] == '.') {
			if (i + 1 >= n || !is_digit(v[i + 1]))
				return 0;
			dots++;
		} else if (!is_digit(v[i])) {
			return 0;
		}
	}
	return dots == 2;
}

static int known_host(struct pf_ctx *c, const struct pf_line *l, uint32_t *host)
{
	int64_t h = host_index(c, l->host, l->host_len);

	if (h < 0) {
		if (h < -1)
			return (int)h;
		skip(c, "host name too long, or too many distinct hosts");
		return 1;
	}
	*host = (uint32_t)h;
	return 0;
}

/* "to=<R>, [orig_to=<O>, ]relay=..., delay=..., delays=..., dsn=...,
 * status=S (reply)" from any delivery agent (and qmgr's own deferrals). */
static int on_delivery(struct pf_ctx *c, const struct pf_line *l, const char *qid, size_t qlen,
                       const char *p, const char *end)
{
	struct pf_delivery d;
	const char *status = NULL;
	size_t status_len = 0;
	struct pf_state *s;
	uint32_t host = 0;
	int rc;

	memset(&d, 0, sizeof(d));
	d.delay_ms = -1;
	p += 3;
	if (angle_addr(&p, end, &d.rcpt, &d.rcpt_len) != 0)
		return skip(c, "Postfix delivery line with a malformed to=<address>");
	while (end - p >= 2 && p[0] == ',' && p[1] == ' ') {
		const char *key = p + 2, *v, *ve;
		size_t klen;

		for (p = key; p < end && (is_lower(*p) || *p == '_'); p++)
			;
		if (p >= end || *p != '=')
			break;
		klen = (size_t)(p - key);
		v = ++p;
		if (klen == 6 && memcmp(key, "status", 6) == 0) {
			while (p < end && is_lower(*p))
				p++;
			status = v;
			status_len = (size_t)(p - v);
			if (end - p >= 2 && p[0] == ' ' && p[1] == '(') {
				d.reply = p + 2;
				d.reply_len = (size_t)(end - d.reply);
				if (d.reply_len > 0 && d.reply[d.reply_len - 1] == ')')
					d.reply_len--;
				p = end;
			}
			break;
		}
		if (klen == 7 && memcmp(key, "orig_to", 7) == 0) {
			if (angle_addr(&p, end, &d.orig, &d.orig_len) != 0)
				return skip(c, "Postfix delivery line with a malformed orig_to");
			continue;
		}
		/* Postfix's own values (relay, delay, delays, dsn, conn_use)
		 * hold no ", ". */
		for (ve = p; ve < end && !(ve[0] == ',' && ve + 1 < end && ve[1] == ' '); ve++)
			;
		if (klen == 5 && memcmp(key, "relay", 5) == 0) {
			d.relay = v;
			d.relay_len = (size_t)(ve - v);
		} else if (klen == 5 && memcmp(key, "delay", 5) == 0) {
			d.delay_ms = delay_ms(v, (size_t)(ve - v));
		} else if (klen == 3 && memcmp(key, "dsn", 3) == 0 &&
		           valid_dsn(v, (size_t)(ve - v))) {
			d.dsn = v;
			d.dsn_len = (size_t)(ve - v);
		}
		p = ve;
	}
	if (status == NULL || p != end)
		return skip(c, "Postfix delivery line without a status= at its end");
	if (!((status_len == 4 && memcmp(status, "sent", 4) == 0) ||
	      (status_len == 8 && memcmp(status, "deferred", 8) == 0) ||
	      (status_len == 7 && memcmp(status, "bounced", 7) == 0)))
		return skip(c,
		            "Postfix delivery status not recorded (not sent, deferred or bounced)");

	if ((rc = known_host(c, l, &host)) != 0)
		return rc < 0 ? rc : 0;
	s = state_find(c, host, qid, qlen, state_hash(host, qid, qlen));
	if (status[0] == 'd') {
		/* Remember it for a later "expired": make a state if the log
		 * started after this message's first lines. */
		if ((rc = state_get(c, host, qid, qlen, &s)) != 0 ||
		    (rc = pending_add(c, s, &d)) != 0)
			return rc;
	} else if (s) {
		uint32_t off = pending_find(s, d.rcpt, d.rcpt_len, d.orig, d.orig_len);

		state_touch(c, s);
		if (off != PF_NONE)
			pending_kill(s, off);
	}
	return emit(c, l, s, host, qid, qlen, status, status_len, &d);
}

/* qmgr: "from=<S>, size=N, nrcpt=N (queue active)" or
 * "from=<S>, status=expired, returned to sender". */
static int on_qmgr_from(struct pf_ctx *c, const struct pf_line *l, const char *qid, size_t qlen,
                        const char *p, const char *end)
{
	const char *from;
	size_t from_len;
	struct pf_state *s;
	uint32_t host = 0, off;
	int rc;

	p += 5;
	if (angle_addr(&p, end, &from, &from_len) != 0)
		return skip(c, "Postfix from= line with a malformed address");
	if (STARTS(p, (size_t)(end - p), ", size=")) {
		int64_t size = 0;
		int nd = 0;

		for (p += 7; p < end && is_digit(*p) && nd < 15; p++, nd++)
			size = size * 10 + (*p - '0');
		if (nd == 0 || (p < end && *p != ','))
			return skip(c, "Postfix from= line with a malformed size=");
		if ((rc = known_host(c, l, &host)) != 0)
			return rc < 0 ? rc : 0;
		if ((rc = state_get(c, host, qid, qlen, &s)) != 0)
			return rc;
		s->size = size;
		return state_set(c, s, PF_FROM, from, from_len);
	}
	if (!STARTS(p, (size_t)(end - p), ", status=expired"))
		return skip(c, "Postfix from= line of unknown shape");
	if ((rc = known_host(c, l, &host)) != 0)
		return rc < 0 ? rc : 0;
	s = state_find(c, host, qid, qlen, state_hash(host, qid, qlen));
	if (s == NULL || s->npending == 0)
		return skip(c, "expired message without recipients known to be deferred");
	state_touch(c, s);
	/* The sender as logged here is the message's; keep it if qmgr's
	 * first from= line came before the log did. */
	if ((rc = state_set(c, s, PF_FROM, from, from_len)) != 0)
		return rc;
	for (off = s->pend_first; off != PF_NONE;) {
		struct pf_pending e;
		struct pf_delivery d;

		memcpy(&e, s->blob + off, sizeof(e));
		if (e.alive) {
			memset(&d, 0, sizeof(d));
			d.delay_ms = -1;
			d.rcpt = s->blob + off + sizeof(e);
			d.rcpt_len = e.rcpt_len;
			if (e.orig_len != PF_NONE) {
				d.orig = d.rcpt + e.rcpt_len;
				d.orig_len = e.orig_len;
			}
			pending_kill(s, off);
			rc = emit(c, l, s, host, qid, qlen, "expired", 7, &d);
			if (rc != 0)
				return rc;
		}
		off = e.next;
	}
	return 0;
}

/* A single-valued field of a queue id: message-id=, client=. */
static int on_field(struct pf_ctx *c, const struct pf_line *l, const char *qid, size_t qlen,
                    enum pf_field f, const char *v, const char *ve)
{
	struct pf_state *s;
	uint32_t host = 0;
	int rc;

	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;
	if (f == PF_MSGID && ve - v >= 2 && v[0] == '<' && ve[-1] == '>')
		v++, ve--;
	if (ve == v)
		return skip(c, "Postfix line with an empty value");
	if ((rc = known_host(c, l, &host)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = state_get(c, host, qid, qlen, &s)) != 0)
		return rc;
	return state_set(c, s, f, v, (size_t)(ve - v));
}

/* cleanup: "info: header NAME: VALUE from CLIENT; from=<S> to=<R> ...",
 * the header_checks INFO action; NAME X-Akashi-Campaign/-List/-Stream. */
static int on_header(struct pf_ctx *c, const struct pf_line *l, const char *qid, size_t qlen,
                     const char *p, const char *end)
{
	const char *name = p + 13, *colon, *v, *q;
	enum pf_field f;

	colon = memchr(name, ':', (size_t)(end - name));
	if (colon == NULL)
		return skip(c, "Postfix header line without a header name");
	if (EQ_NOCASE(name, (size_t)(colon - name), "X-Akashi-Campaign"))
		f = PF_CAMPAIGN;
	else if (EQ_NOCASE(name, (size_t)(colon - name), "X-Akashi-List"))
		f = PF_LIST;
	else if (EQ_NOCASE(name, (size_t)(colon - name), "X-Akashi-Stream"))
		f = PF_STREAM;
	else
		return skip(c, "Postfix header line for a header akashi does not record");
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	/* The value ends where Postfix appended " from CLIENT; from=<",
	 * CLIENT being "name[addr]" (or "local" for mail it picked up),
	 * without spaces; " to=<" or the end may come instead of from=. */
	for (q = v; (q = memchr(q, ' ', (size_t)(end - q))) != NULL; q++) {
		const char *cl, *ce;
		size_t rest;

		if (!STARTS(q, (size_t)(end - q), " from "))
			continue;
		cl = q + 6;
		for (ce = cl; ce < end && *ce != ' ' && *ce != ';'; ce++)
			;
		if (ce == cl || ce >= end || *ce != ';')
			continue;
		if (!(ce[-1] == ']' && memchr(cl, '[', (size_t)(ce - cl)) != NULL) &&
		    !(ce - cl == 5 && memcmp(cl, "local", 5) == 0))
			continue;
		rest = (size_t)(end - ce - 1);
		if (rest == 0 || STARTS(ce + 1, rest, " from=<") || STARTS(ce + 1, rest, " to=<"))
			break;
	}
	if (q == NULL)
		return skip(c, "Postfix header line without the client part");
	if (v > q)
		q = v; /* an empty value */
	return on_field(c, l, qid, qlen, f, v, q);
}

static int on_removed(struct pf_ctx *c, const struct pf_line *l, const char *qid, size_t qlen)
{
	struct pf_state *s;
	uint32_t host = 0;
	int rc;

	if ((rc = known_host(c, l, &host)) != 0)
		return rc < 0 ? rc : 0;
	s = state_find(c, host, qid, qlen, state_hash(host, qid, qlen));
	if (s)
		state_release(c, s);
	return 0;
}

static int on_postfix(struct pf_ctx *c, const struct pf_line *l)
{
	const char *m = l->msg, *end = l->msg + l->msg_len, *p;
	size_t qlen = queue_id(m, l->msg_len), n;

	if (qlen == 0)
		return skip(c, "Postfix line without a queue id");
	p = m + qlen + 2;
	n = (size_t)(end - p);
	if (STARTS(p, n, "to=<"))
		return on_delivery(c, l, m, qlen, p, end);
	if (STARTS(p, n, "from=<"))
		return on_qmgr_from(c, l, m, qlen, p, end);
	if (STARTS(p, n, "message-id="))
		return on_field(c, l, m, qlen, PF_MSGID, p + 11, end);
	if (STARTS(p, n, "client=")) {
		const char *v = p + 7, *ve = v;

		while (ve < end && !(ve[0] == ',' && ve + 1 < end && ve[1] == ' '))
			ve++;
		return on_field(c, l, m, qlen, PF_CLIENT, v, ve);
	}
	if (STARTS(p, n, "info: header "))
		return on_header(c, l, m, qlen, p, end);
	if (n == 7 && memcmp(p, "removed", 7) == 0)
		return on_removed(c, l, m, qlen);
	return skip(c, "Postfix line that is not part of a delivery record");
}

static int on_line(struct pf_ctx *c, const char *line, size_t len)
{
	struct pf_line l;
	const char *why;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return skip(c, "empty line");
	why = check_text(line, len);
	if (why == NULL)
		why = parse_prefix(line, len, &l);
	if (why != NULL)
		return reject(c, why, line, len);
	if (l.prog == NULL)
		return skip(c, "syslog line without a program name");
	if (!is_postfix(l.prog, l.prog_len))
		return skip(c, "not a Postfix program");
	return on_postfix(c, &l);
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */

static int ctx_init(struct pf_ctx *c, const struct ingest_options *opt,
                    const struct ingest_sink *sink, const struct postfix_limits *lim)
{
	int off, rc;
	const char *name = opt->name ? opt->name : "-";

	memset(c, 0, sizeof(*c));
	c->opt = opt;
	c->sink = sink;
	c->max_ids = lim && lim->max_queue_ids ? lim->max_queue_ids : POSTFIX_DEFAULT_MAX_QUEUE_IDS;
	c->max_bytes = lim && lim->max_state_bytes ? lim->max_state_bytes
	                                           : POSTFIX_DEFAULT_MAX_STATE_BYTES;
	ak_buf_init(&c->where, 0);
	ak_buf_init(&c->scratch, 0);
	ak_buf_init(&c->source, 0);
	c->ref_us = opt->ref_us ? opt->ref_us : ak_time_now();
	rc = ak_time_zone_offset(opt->zone, c->ref_us, &off);
	if (rc != 0)
		return rc;
	ak_time_to_civil(c->ref_us + off * US_PER_S, &c->ref_year, NULL, NULL, NULL, NULL, NULL,
	                 NULL);
	if (ak_buf_puts(&c->where, name) != 0 || ak_buf_putc(&c->where, ':') != 0)
		return ak_error_oom();
	c->where_prefix = c->where.len;
	return 0;
}

static void ctx_free(struct pf_ctx *c)
{
	struct pf_chunk *ch, *next;
	size_t i;

	for (ch = c->chunks; ch; ch = next) {
		next = ch->next;
		for (i = 0; i < ch->n; i++)
			free(ch->s[i].blob);
		free(ch);
	}
	for (i = 0; i < c->nhosts; i++)
		free(c->hosts[i].name);
	free(c->hosts);
	free(c->host_slots);
	free(c->slots);
	ak_buf_free(&c->where);
	ak_buf_free(&c->scratch);
	ak_buf_free(&c->source);
	json_decref(c->body);
}

int ingest_postfix_limited(FILE *in, const struct ingest_options *opt,
                           const struct ingest_sink *sink, const struct postfix_limits *limits)
{
	struct pf_ctx c;
	struct ak_lines rd;
	size_t max_line = opt->max_line ? opt->max_line : POSTFIX_DEFAULT_MAX_LINE;
	const char *line;
	size_t len;
	int rc;

	memset(&rd, 0, sizeof(rd));
	rc = ctx_init(&c, opt, sink, limits);
	if (rc != 0)
		goto done;
	rc = ak_lines_init(&rd, in, max_line);
	if (rc != 0)
		goto done;
	for (;;) {
		rc = ak_lines_next(&rd, &line, &len);
		if (rc == 0)
			break;
		c.lineno = rd.lineno;
		if (rc == AK_ETOOBIG) {
			char why[64];

			snprintf(why, sizeof(why), "line longer than %zu bytes", max_line);
			rc = reject(&c, why, NULL, 0);
		} else if (rc < 0) {
			ak_error_prefix("%s", opt->name ? opt->name : "-");
		} else {
			rc = on_line(&c, line, len);
		}
		if (rc < 0)
			goto done;
	}
	rc = 0;
done:
	ak_lines_free(&rd);
	ctx_free(&c);
	return rc;
}

int ingest_postfix(FILE *in, const struct ingest_options *opt, const struct ingest_sink *sink)
{
	return ingest_postfix_limited(in, opt, sink, NULL);
}
