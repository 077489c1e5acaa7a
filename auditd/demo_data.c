/*
 * auditd/demo_data.c - the sample data of `akashi demo` (see demo_data.h).
 *
 * The story: a small Japanese online shop (example.jp) sends a weekly
 * newsletter (list "ニュースレター") and sale alerts through its Postfix
 * relay, order mail from its shop, and notices to all 10,240 customers.
 * Its staff log in through an identity provider. The quarter is 2026 Q3;
 * accounts and subscriptions go back to March so that the audit has a
 * history to look at.
 *
 * Each file is collected as lines keyed by time and written sorted, as the
 * real producers write them. Everything random comes from one xorshift
 * generator with a fixed seed, consumed in a fixed order, so the files are
 * the same on every run and every machine (times are computed in UTC and
 * printed in Japan's zone, which has no daylight saving time).
 *
 * Planted problems (what the audit and the alert replay must find):
 *   - hanako.yamada@example.ne.jp opts out on 3 Aug and still gets the
 *     newsletter of 5 Aug (consent-unsubscribe-deadline, consent-optin-proof);
 *   - taro.kimura@example.com gets a sale alert without any consent;
 *   - keiko.inoue@example.or.jp, imported from paper forms without proof,
 *     gets the newsletter (consent-optin-proof: no proof);
 *   - suzuki@example.jp holds admin and nobody reviewed the account in Q3;
 *   - sato@example.jp logs in with a password last changed in March;
 *   - tos-update-2026-08 goes to 10,240 customers through Postfix with no
 *     approval (privacy-notice-2026-09 went through akashi, approved by a
 *     second person);
 *   - 12 failed logins for tanaka@example.jp from one address, then a
 *     success from it (login.bruteforce_*, login.fail_then_success);
 *   - a CRM vendor sends as example.co.jp without DKIM or SPF alignment
 *     (dmarc-alignment fails for example.co.jp).
 */
#include "auditd/demo_data.h"

#include "lib/error.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Three real aggregate reports from tests/data/dmarc (see its README for
 * where each comes from), so the demo reads real-world XML, a zip and an
 * e-mail delivery from any directory. The Makefile names them as
 * prerequisites of this object. */
__asm__(".pushsection .rodata\n"
        ".balign 16\n"
        "demo_real_yahoo_start:\n"
        ".incbin \"tests/data/dmarc/yahoo.com!georgestarcher.com!1781740800!1781827199.xml\"\n"
        "demo_real_yahoo_end:\n"
        ".balign 16\n"
        "demo_real_google_start:\n"
        ".incbin \"tests/data/dmarc/google.com!example.com!1701129600!1701215999.xml.zip\"\n"
        "demo_real_google_end:\n"
        ".balign 16\n"
        "demo_real_mailru_start:\n"
        ".incbin \"tests/data/dmarc/mailru.eml\"\n"
        "demo_real_mailru_end:\n"
        ".popsection\n");

extern const char demo_real_yahoo_start[] __asm__("demo_real_yahoo_start");
extern const char demo_real_yahoo_end[] __asm__("demo_real_yahoo_end");
extern const char demo_real_google_start[] __asm__("demo_real_google_start");
extern const char demo_real_google_end[] __asm__("demo_real_google_end");
extern const char demo_real_mailru_start[] __asm__("demo_real_mailru_start");
extern const char demo_real_mailru_end[] __asm__("demo_real_mailru_end");

#define NCUST     10240 /* customers */
#define NSUB      900   /* the first NSUB customers may subscribe */
#define JST       (9 * 3600)
#define NEVER     INT64_MAX
#define OWN       "example.jp"
#define CORP      "example.co.jp"
#define NEWS      "ニュースレター"
#define SALE      "sale-alerts"
#define RELAY_IP  "203.0.113.25" /* mail1.example.jp, the Postfix relay */
#define AKASHI_IP "203.0.113.26" /* akashi's delivery engine */

#define P_OPTOUT     DEMO_EXPORT_SUBJECT
#define P_NOCONSENT  "taro.kimura@example.com"
#define P_NOPROOF    "keiko.inoue@example.or.jp"
#define P_UNREVIEWED "suzuki@example.jp"
#define P_STALEPW    "sato@example.jp"
#define P_TOS        "tos-update-2026-08"
#define P_PRIVACY    "privacy-notice-2026-09"
#define P_OWNER      "ito@example.jp"
#define P_APPROVER   "tanaka@example.jp"
#define P_ATTACKER   "203.0.113.66"
#define P_VENDOR     "198.51.100.23"

struct line {
	int64_t t;
	size_t ord;
	char *text;
};

struct lines {
	struct line *v;
	size_t n, cap;
	int oom;
};

struct cust {
	int64_t news_in, news_ok, news_out; /* opt-in, confirmed, opt-out (NEVER: none) */
	int64_t sale_in, sale_out;
	int64_t dead_at; /* hard-bounced at (NEVER: deliverable so far) */
	int dead;        /* the mailbox no longer exists */
};

struct gen {
	uint64_t rng;
	struct cust *c;
	struct lines log, csv, ocsf, native, delivery;
	uint64_t qn, mn, en, on; /* queue ids, message ids, CSV and OCSF event ids */
	char form_hash[3][72];
	const char *commit;
};

static uint64_t rnd(struct gen *g)
{
	uint64_t x = g->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	g->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static int64_t pick(struct gen *g, int64_t n)
{
	return (int64_t)(rnd(g) % (uint64_t)n);
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's days_from_civil). */
static int64_t civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* 2026-m-d hh:mm:ss in Japan, as seconds since the epoch. */
static int64_t jst(int m, int d, int hh, int mm, int ss)
{
	return civil(2026, m, d) * 86400 + hh * 3600 + mm * 60 + ss - JST;
}

static void tm_jst(struct tm *tm, int64_t t)
{
	time_t l = (time_t)(t + JST);

	gmtime_r(&l, tm);
}

/* strftime of t in Japan into the array out (f a literal, so it is checked). */
#define FMT_JST(out, f, t)                                                                         \
	do {                                                                                       \
		struct tm tm_;                                                                     \
		tm_jst(&tm_, (t));                                                                 \
		strftime((out), sizeof(out), (f), &tm_);                                           \
	} while (0)

static void utc(char out[32], int64_t t)
{
	time_t l = (time_t)t;
	struct tm tm;

	gmtime_r(&l, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int weekday(int64_t t) /* in Japan: 0 Sunday .. 6 Saturday */
{
	return (int)(((t + JST) / 86400 + 4) % 7);
}

__attribute__((format(printf, 3, 4))) static void add(struct lines *l, int64_t t, const char *fmt,
                                                      ...)
{
	va_list ap;
	char *s;
	int n;

	if (l->oom)
		return;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		l->oom = 1;
		return;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		struct line *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL) {
			free(s);
			l->oom = 1;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].t = t;
	l->v[l->n].ord = l->n;
	l->v[l->n++].text = s;
}

static int cmp_line(const void *x, const void *y)
{
	const struct line *a = x, *b = y;

	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	return a->ord < b->ord ? -1 : a->ord > b->ord;
}

static void lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].text);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Write the lines sorted by time (a stable sort: ties keep their order). */
static int lines_write(struct lines *l, const char *path, const char *head)
{
	FILE *f;
	size_t i;
	int bad;

	if (l->oom) {
		lines_free(l);
		return ak_error_oom();
	}
	qsort(l->v, l->n, sizeof(*l->v), cmp_line);
	if ((f = fopen(path, "w")) == NULL) {
		lines_free(l);
		return ak_error_set("%s: %s", path, strerror(errno));
	}
	if (head)
		fputs(head, f);
	for (i = 0; i < l->n; i++) {
		fputs(l->v[i].text, f);
		fputc('\n', f);
	}
	bad = ferror(f);
	bad |= fclose(f) != 0;
	lines_free(l);
	return bad ? ak_error_set("%s: write failed", path) : 0;
}

/* ---- customers ---- */

static const char *const given[] = {"yui",  "haruto", "sakura", "ren",   "aoi",   "sota", "hina",
                                    "yuto", "mei",    "riku",   "akari", "kaito", "yuna", "minato",
                                    "rin",  "hayato", "koharu", "sora",  "mio",   "daiki"};
static const char *const family[] = {"sato",     "suzuki",   "takahashi", "tanaka",    "ito",
                                     "watanabe", "yamamoto", "nakamura",  "kobayashi", "kato",
                                     "yoshida",  "yamada",   "sasaki",    "yamaguchi", "matsumoto",
                                     "inoue",    "kimura",   "hayashi",   "shimizu",   "mori"};
static const char *const cdom[] = {"example.com", "example.net", "example.org", "example.ne.jp",
                                   "example.or.jp"};

static void cust_addr(char *out, size_t cap, int i)
{
	if (i / 400)
		snprintf(out, cap, "%s.%s%d@%s", given[i % 20], family[(i / 20) % 20], i / 400,
		         cdom[(i / 7) % 5]);
	else
		snprintf(out, cap, "%s.%s@%s", given[i % 20], family[(i / 20) % 20],
		         cdom[(i / 7) % 5]);
}

static const char *const agents[] = {
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Linux; Android 14; SH-53D) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Safari/605.1.15"};

static void client_ip(struct gen *g, char *out, size_t cap)
{
	if (pick(g, 4) == 0) {
		unsigned a = (unsigned)pick(g, 0xffff) + 1, b = (unsigned)pick(g, 0xffff) + 1;

		snprintf(out, cap, "2001:db8:%x::%x", a, b);
	} else
		snprintf(out, cap, "198.51.100.%d", (int)pick(g, 250) + 2);
}

/* One consent CSV row; NULL cells are empty. The user agents hold commas,
 * so that cell is quoted, with its quotes doubled as RFC 4180 says. */
static void csv_row(struct gen *g, int64_t t, const char *source, const char *subject,
                    const char *list, const char *action, const char *method, const char *ip,
                    const char *ua, const char *form_url, const char *form_hash, const char *cnf,
                    int64_t confirmed_at, const char *note)
{
	char when[40], cat[40] = "";

	FMT_JST(when, "%Y-%m-%dT%H:%M:%S+09:00", t);
	if (confirmed_at)
		FMT_JST(cat, "%Y-%m-%dT%H:%M:%S+09:00", confirmed_at);
	add(&g->csv, t, "%s,crm-%06llu,%s,%s,%s,%s,%s,%s,%s%s%s,%s,%s,%s,%s,%s", when,
	    (unsigned long long)++g->en, source, subject, list, action, method, ip ? ip : "",
	    ua ? "\"" : "", ua ? ua : "", ua ? "\"" : "", form_url ? form_url : "",
	    form_hash ? form_hash : "", cnf ? cnf : "", cat, note ? note : "");
}

/* A double opt-in: the form, then the click in the confirmation mail.
 * Returns the confirmation time (NEVER: the mail was never clicked). */
static int64_t double_opt_in(struct gen *g, int64_t t, const char *subject, const char *list,
                             int confirmed)
{
	char ip[48], cnf[24];
	const char *ua = agents[pick(g, 4)];
	int v = t < jst(8, 1, 0, 0, 0) ? 0 : 1;
	int64_t ok = t + 60 + pick(g, 5400);
	char url[80];

	client_ip(g, ip, sizeof(ip));
	snprintf(url, sizeof(url), "https://www.example.jp/newsletter/signup?v=%d", 7 + v);
	snprintf(cnf, sizeof(cnf), "cnf-%08llx", (unsigned long long)(rnd(g) >> 32));
	csv_row(g, t, "web:signup", subject, list, "opt_in", "double_opt_in", ip, ua, url,
	        g->form_hash[v], NULL, 0, NULL);
	if (!confirmed)
		return NEVER;
	csv_row(g, ok, "web:signup", subject, list, "confirm", "double_opt_in", ip, ua, NULL, NULL,
	        cnf, ok, NULL);
	return ok;
}

static void opt_out(struct gen *g, int64_t t, const char *subject, const char *list)
{
	char ip[48];

	client_ip(g, ip, sizeof(ip));
	if (pick(g, 3))
		csv_row(g, t, "web:unsubscribe", subject, list, "opt_out", "one_click", ip, NULL,
		        NULL, NULL, NULL, 0, NULL);
	else
		csv_row(g, t, "web:preferences", subject, list, "opt_out", "form", ip,
		        agents[pick(g, 4)], "https://www.example.jp/account/mail-preferences", NULL,
		        NULL, 0, NULL);
}

static void make_consent(struct gen *g)
{
	int64_t from = jst(3, 5, 0, 0, 0), q3 = jst(7, 1, 0, 0, 0), late = jst(9, 20, 0, 0, 0);
	int64_t end = jst(9, 29, 0, 0, 0);
	char s[96], ip[48];
	int i;

	for (i = 0; i < NCUST; i++) {
		struct cust *c = &g->c[i];

		c->news_in = c->news_ok = c->news_out = c->sale_in = c->sale_out = NEVER;
		c->dead_at = NEVER;
		/* A few mailboxes are gone. Not among those on both lists, so
		 * a gone mailbox is first mailed by one list and bounces there
		 * before anything else tries it. */
		c->dead = (i * 7919) % 263 == 5 && (i >= NSUB || i % 4 != 0);
	}
	for (i = 0; i < NSUB; i++) {
		struct cust *c = &g->c[i];

		cust_addr(s, sizeof(s), i);
		if (i % 3 != 2) {
			c->news_in = pick(g, 10) < 8 ? from + pick(g, q3 - from)
			                             : q3 + pick(g, late - q3);
			c->news_ok = double_opt_in(g, c->news_in, s, NEWS, pick(g, 50) != 0);
			if (pick(g, 25) == 0) {
				int64_t t = (c->news_ok == NEVER ? c->news_in : c->news_ok) +
				            7 * 86400 + pick(g, 60 * 86400);

				if (t < end) {
					c->news_out = t;
					opt_out(g, t, s, NEWS);
				}
			}
		}
		if (i % 4 == 0) {
			c->sale_in = from + pick(g, late - from);
			client_ip(g, ip, sizeof(ip));
			csv_row(g, c->sale_in, "shop:checkout", s, SALE, "opt_in", "single_opt_in",
			        ip, agents[pick(g, 4)], "https://shop.example.jp/checkout",
			        g->form_hash[2], NULL, 0, NULL);
			if (pick(g, 30) == 0) {
				c->sale_out = c->sale_in + 86400 + pick(g, 40 * 86400);
				if (c->sale_out < end)
					opt_out(g, c->sale_out, s, SALE);
				else
					c->sale_out = NEVER;
			}
		}
	}
	/* The planted subjects. */
	double_opt_in(g, jst(5, 12, 20, 3, 11), P_OPTOUT, NEWS, 1);
	csv_row(g, jst(8, 3, 21, 40, 12), "web:unsubscribe", P_OPTOUT, NEWS, "opt_out", "one_click",
	        "2001:db8:4ad0::1f", NULL, NULL, NULL, NULL, 0, NULL);
	/* Paper sign-ups from the shop counter, typed in without any proof. */
	csv_row(g, jst(9, 28, 11, 0, 0), "crm-import", P_NOPROOF, NEWS, "opt_in", "single_opt_in",
	        NULL, NULL, NULL, NULL, NULL, 0, "店頭の申込用紙から取り込み（2019年）");
	for (i = 0; i < 5; i++) {
		cust_addr(s, sizeof(s), 5000 + i * 37);
		csv_row(g, jst(9, 28, 11, 0, i + 1), "crm-import", s, SALE, "opt_in",
		        "single_opt_in", NULL, NULL, NULL, NULL, NULL, 0,
		        "店頭の申込用紙から取り込み（2019年）");
	}
}

/* ---- the Postfix maillog ---- */

enum fate { SENT, DEFERRED, BOUNCED };

struct msg {
	int64_t t;
	const char *client, *from, *campaign, *list, *stream;
	int size;
};

static void syslog_prefix(char out[40], int64_t t)
{
	struct tm tm;

	tm_jst(&tm, t);
	strftime(out, 40, "%b %e %H:%M:%S mail1", &tm);
}

static void mx_of(const char *rcpt, char *out, size_t cap)
{
	const char *d = strchr(rcpt, '@');
	unsigned h = 0;

	d = d ? d + 1 : rcpt;
	for (const char *p = d; *p; p++)
		h = h * 31 + (unsigned char)*p;
	snprintf(out, cap, "mx.%s[192.0.2.%u]:25", d, 100 + h % 100);
}

static void qid(struct gen *g, char out[16])
{
	uint64_t x = ++g->qn * 0x9E3779B97F4A7C15ULL;

	x ^= x >> 29;
	snprintf(out, 16, "%010llX", (unsigned long long)(x & 0xFFFFFFFFFFULL));
}

/* One message to n recipients, as Postfix logs it: submission, cleanup
 * (message-id and the X-Akashi-* headers that header_checks logs), qmgr,
 * one delivery line per recipient (a deferred one is retried 15 to 30
 * minutes later; a bounce makes a notice to the sender), then removal. */
static void pf_message(struct gen *g, const struct msg *m, char (*rcpt)[96], const enum fate *fate,
                       int n)
{
	char q[16], q2[16], pre[40], mx[160], helo[64];
	const char *hdr[3] = {"X-Akashi-Campaign", "X-Akashi-List", "X-Akashi-Stream"};
	const char *val[3] = {m->campaign, m->list, m->stream};
	int64_t t = m->t, last = m->t + 1, retry = 0;
	int i, k, cs;
	const char *at;

	qid(g, q);
	at = strchr(m->client, '[');
	snprintf(helo, sizeof(helo), "%.*s", at ? (int)(at - m->client) : 0, m->client);
	syslog_prefix(pre, t);
	add(&g->log, t, "%s postfix/smtpd[2101]: %s: client=%s", pre, q, m->client);
	add(&g->log, t, "%s postfix/cleanup[2102]: %s: message-id=<%llu.%06llu@%s>", pre, q,
	    (unsigned long long)t, (unsigned long long)++g->mn, OWN);
	for (k = 0; k < 3; k++)
		if (val[k])
			add(&g->log, t,
			    "%s postfix/cleanup[2102]: %s: info: header %s: %s from %s; from=<%s> "
			    "to=<%s> proto=ESMTP helo=<%s>",
			    pre, q, hdr[k], val[k], m->client, m->from, rcpt[0], helo);
	syslog_prefix(pre, t + 1);
	add(&g->log, t + 1,
	    "%s postfix/qmgr[1009]: %s: from=<%s>, size=%d, nrcpt=%d (queue active)", pre, q,
	    m->from, m->size, n);
	for (i = 0; i < n; i++) {
		int64_t d = t + 1 + i / 25;

		cs = 20 + (int)pick(g, 180);
		mx_of(rcpt[i], mx, sizeof(mx));
		syslog_prefix(pre, d);
		if (fate[i] == BOUNCED) {
			add(&g->log, d,
			    "%s postfix/smtp[%d]: %s: to=<%s>, relay=%s, delay=%d.%02d, "
			    "delays=0.01/0/0.%02d/0.%02d, dsn=5.1.1, status=bounced (host %.*s "
			    "said: "
			    "550 5.1.1 <%s>: Recipient address rejected: User unknown in virtual "
			    "mailbox table (in reply to RCPT TO command))",
			    pre, 2200 + i % 8, q, rcpt[i], mx, cs / 100, cs % 100, cs % 50, cs % 40,
			    (int)(strlen(mx) - 3), mx, rcpt[i]);
			qid(g, q2);
			add(&g->log, d,
			    "%s postfix/bounce[2120]: %s: sender non-delivery notification: %s",
			    pre, q, q2);
		} else if (fate[i] == DEFERRED) {
			int64_t r = d + 900 + pick(g, 900);

			add(&g->log, d,
			    "%s postfix/smtp[%d]: %s: to=<%s>, relay=%s, delay=%d.%02d, "
			    "delays=0.01/0/0.%02d/0.%02d, dsn=4.7.1, status=deferred (host %.*s "
			    "said: "
			    "451 4.7.1 Please try again later (in reply to RCPT TO command))",
			    pre, 2200 + i % 8, q, rcpt[i], mx, cs / 100, cs % 100, cs % 50, cs % 40,
			    (int)(strlen(mx) - 3), mx);
			syslog_prefix(pre, r);
			if (r > retry) {
				retry = r;
				add(&g->log, r,
				    "%s postfix/qmgr[1009]: %s: from=<%s>, size=%d, nrcpt=%d "
				    "(queue "
				    "active)",
				    pre, q, m->from, m->size, n);
			}
			qid(g, q2);
			add(&g->log, r,
			    "%s postfix/smtp[%d]: %s: to=<%s>, relay=%s, delay=%lld, "
			    "delays=%lld/0.01/0.21/0.34, dsn=2.0.0, status=sent (250 2.0.0 Ok: "
			    "queued "
			    "as %s)",
			    pre, 2200 + i % 8, q, rcpt[i], mx, (long long)(r - t),
			    (long long)(r - t), q2);
			d = r;
		} else {
			qid(g, q2);
			add(&g->log, d,
			    "%s postfix/smtp[%d]: %s: to=<%s>, relay=%s, delay=%d.%02d, "
			    "delays=0.01/0/0.%02d/0.%02d, dsn=2.0.0, status=sent (250 2.0.0 Ok: "
			    "queued "
			    "as %s)",
			    pre, 2200 + i % 8, q, rcpt[i], mx, cs / 100, cs % 100, cs % 50, cs % 40,
			    q2);
		}
		if (d > last)
			last = d;
	}
	syslog_prefix(pre, last);
	add(&g->log, last, "%s postfix/qmgr[1009]: %s: removed", pre, q);
}

/* The fate of a send to customer i at t: a vanished mailbox bounces the
 * first time and is suppressed from then on; 1 in 40 is deferred once. */
static enum fate fate_of(struct gen *g, struct cust *c, int64_t t)
{
	if (c && c->dead) {
		if (t < c->dead_at)
			c->dead_at = t;
		return BOUNCED;
	}
	return pick(g, 40) == 0 ? DEFERRED : SENT;
}

static int reachable(const struct cust *c, int64_t t)
{
	return c->dead_at > t;
}

/* Send one personal copy to one recipient. */
static void pf_one(struct gen *g, struct msg *m, const char *addr, struct cust *c)
{
	char r[1][96];
	enum fate f = fate_of(g, c, m->t);

	snprintf(r[0], sizeof(r[0]), "%s", addr);
	pf_message(g, m, r, &f, 1);
}

static void make_maillog(struct gen *g)
{
	static const char app[] = "mkt1.example.jp[10.1.0.21]",
	                  shop[] = "shop1.example.jp[10.1.0.31]",
	                  batch[] = "batch1.example.jp[10.1.0.40]";
	char camp[64], s[96];
	struct msg m;
	int w, i, k;

	/* The newsletter: Wednesdays at 10:00, one personal copy each. */
	for (w = 0; w < 14; w++) {
		int64_t t0 = jst(7, 1, 10, 0, 0) + (int64_t)w * 7 * 86400;

		FMT_JST(camp, "news-%Y-%m-%d", t0);
		m = (struct msg){t0, app, "news@" OWN, camp, NEWS, "marketing", 0};
		for (i = 0; i < NSUB; i++) {
			struct cust *c = &g->c[i];

			if (c->news_ok == NEVER || c->news_ok + 3600 > t0 || c->news_out <= t0 ||
			    !reachable(c, t0))
				continue;
			cust_addr(s, sizeof(s), i);
			m.t = t0 + i / 4;
			m.size = 48000 + (int)pick(g, 4000);
			pf_one(g, &m, s, c);
		}
		/* Planted: her opt-out of 3 Aug came after the send list of the
		 * 5 Aug issue was frozen; the issue went to her anyway. */
		if (t0 <= jst(8, 5, 23, 0, 0)) {
			m.t = t0 + NSUB / 4 + 1;
			pf_one(g, &m, P_OPTOUT, NULL);
		}
		/* Planted: imported without proof on 28 Sep, mailed on 30 Sep. */
		if (t0 >= jst(9, 29, 0, 0, 0)) {
			m.t = t0 + NSUB / 4 + 2;
			pf_one(g, &m, P_NOPROOF, NULL);
		}
	}
	/* Sale alerts: every other Friday at 12:00. */
	for (w = 0; w < 7; w++) {
		int64_t t0 = jst(7, 3, 12, 0, 0) + (int64_t)w * 14 * 86400;

		FMT_JST(camp, "sale-%Y-%m-%d", t0);
		m = (struct msg){t0, app, "sale@" OWN, camp, SALE, "marketing", 0};
		for (i = 0; i < NSUB; i++) {
			struct cust *c = &g->c[i];

			if (c->sale_in == NEVER || c->sale_in > t0 || c->sale_out <= t0 ||
			    !reachable(c, t0))
				continue;
			cust_addr(s, sizeof(s), i);
			m.t = t0 + i / 4;
			m.size = 31000 + (int)pick(g, 3000);
			pf_one(g, &m, s, c);
		}
		/* Planted: a business card typed into the send list by hand. */
		if (t0 >= jst(8, 14, 0, 0, 0) && t0 < jst(8, 15, 0, 0, 0)) {
			m.t = t0 + NSUB / 4 + 1;
			pf_one(g, &m, P_NOCONSENT, NULL);
		}
	}
	/* Order mail from the shop, all quarter. */
	for (k = 0; k < 1500; k++) {
		int64_t t = jst(7, 1, 0, 0, 0) + pick(g, 92 * 86400);
		int who = (int)pick(g, NCUST);

		if (g->c[who].dead) /* whoever orders has a working address */
			continue;
		cust_addr(s, sizeof(s), who);
		m = (struct msg){t,
		                 shop,
		                 "order@" OWN,
		                 "order-mail",
		                 NULL,
		                 "transactional",
		                 9000 + (int)pick(g, 2000)};
		pf_one(g, &m, s, &g->c[who]);
	}
	/* Planted: the new terms of service to every customer, 50 to a
	 * message, from a batch job that does not go through akashi's gate,
	 * and nobody approved it. */
	{
		int64_t t0 = jst(8, 18, 14, 0, 0);
		char(*r)[96] = calloc(50, sizeof(*r));
		enum fate f[50];
		int n = 0;

		if (r == NULL) {
			g->log.oom = 1;
			return;
		}
		m = (struct msg){t0,          batch,           "info@" OWN, P_TOS,
		                 "customers", "transactional", 22000};
		for (i = 0; i <= NCUST; i++) {
			if (n == 50 || (i == NCUST && n)) {
				pf_message(g, &m, r, f, n);
				m.t += 2;
				n = 0;
			}
			if (i == NCUST || !reachable(&g->c[i], m.t))
				continue;
			cust_addr(r[n], sizeof(r[n]), i);
			f[n] = fate_of(g, &g->c[i], m.t);
			n++;
		}
		free(r);
	}
}

/* ---- the identity provider (OCSF) and akashi's own records ---- */

struct staff {
	const char *name, *ip;
	int mfa;
	int64_t created;
};

static void ocsf_logon(struct gen *g, int64_t t_ms, const char *user, const char *ip, int ok,
                       int mfa)
{
	add(&g->ocsf, t_ms / 1000,
	    "{\"class_uid\":3002,\"class_name\":\"Authentication\",\"category_uid\":3,"
	    "\"activity_id\":1,\"activity_name\":\"Logon\",\"type_uid\":300201,\"severity_id\":%d,"
	    "\"status_id\":%d,\"status\":\"%s\",%s\"time\":%lld,\"metadata\":{\"version\":\"1.3."
	    "0\","
	    "\"product\":{\"name\":\"Okta\",\"vendor_name\":\"Okta\"},\"uid\":\"okta-%08llu\"},"
	    "\"user\":{\"name\":\"%s\",\"type\":\"User\",\"type_id\":1},\"src_endpoint\":{\"ip\":"
	    "\"%s\"},\"dst_endpoint\":{\"hostname\":\"example-jp.okta.com\"},\"service\":{\"name\":"
	    "\"akashi-console\"},\"is_mfa\":%s,\"auth_protocol\":\"OIDC\"}",
	    ok ? 1 : 3, ok ? 1 : 2, ok ? "Success" : "Failure",
	    ok ? "" : "\"status_detail\":\"INVALID_CREDENTIALS\",", (long long)t_ms,
	    (unsigned long long)++g->on, user, ip, mfa ? "true" : "false");
}

static void ocsf_change(struct gen *g, int64_t t, int activity, const char *actor, const char *user,
                        const char *role)
{
	static const char *const names[] = {"",
	                                    "Create",
	                                    "Enable",
	                                    "Password Change",
	                                    "Password Reset",
	                                    "Disable",
	                                    "Delete",
	                                    "Attach Policy",
	                                    "Detach Policy",
	                                    "Lock",
	                                    "MFA Factor Enable",
	                                    "MFA Factor Disable"};
	char pol[96] = "";

	if (role)
		snprintf(pol, sizeof(pol), ",\"policy\":{\"name\":\"%s\"}", role);
	add(&g->ocsf, t,
	    "{\"class_uid\":3001,\"class_name\":\"Account Change\",\"category_uid\":3,"
	    "\"activity_id\":%d,\"activity_name\":\"%s\",\"type_uid\":3001%02d,\"severity_id\":1,"
	    "\"status_id\":1,\"status\":\"Success\",\"time\":%lld000,\"metadata\":{\"version\":"
	    "\"1.3.0\",\"product\":{\"name\":\"Okta\",\"vendor_name\":\"Okta\"},\"uid\":"
	    "\"okta-%08llu\"},\"actor\":{\"user\":{\"name\":\"%s\",\"type\":\"Admin\",\"type_id\":"
	    "2}},"
	    "\"user\":{\"name\":\"%s\",\"type\":\"User\",\"type_id\":1}%s,\"src_endpoint\":{\"ip\":"
	    "\"192.0.2.10\"}}",
	    activity, names[activity], activity, (long long)t, (unsigned long long)++g->on, actor,
	    user, pol);
}

static void review(struct gen *g, int64_t t, const char *by, const char *who, const char *role,
                   const char *campaign)
{
	char when[32];

	utc(when, t);
	add(&g->native, t,
	    "{\"kind\":\"admin\",\"time\":\"%s\",\"source\":\"iam:access-review\",\"body\":{"
	    "\"action\":\"access_review\",\"actor\":\"%s\",\"target\":\"%s\",\"details\":{"
	    "\"campaign\":\"%s\",\"decision\":\"keep\",\"roles\":[\"%s\"]}}}",
	    when, by, who, campaign, role);
}

static void make_admin(struct gen *g)
{
	static struct staff st[] = {
	        {"alice@" OWN, "192.0.2.11", 1, 0},  {"bob@" OWN, "192.0.2.12", 1, 0},
	        {"tanaka@" OWN, "192.0.2.13", 1, 0}, {P_UNREVIEWED, "192.0.2.14", 1, 0},
	        {P_STALEPW, "192.0.2.15", 0, 0},     {"kato@" OWN, "192.0.2.16", 0, 0},
	        {P_OWNER, "192.0.2.17", 1, 0},       {"yamamoto@" OWN, "192.0.2.18", 1, 0}};
	static const char *const role[] = {"security_admin", "admin",   "marketing", "admin",
	                                   "support",        "support", "marketing", "support"};
	const int nst = (int)(sizeof(st) / sizeof(st[0]));
	char when[32];
	int64_t day, t;
	int i;

	/* The move to the identity provider on 2 March: accounts and roles. */
	for (i = 0; i < nst - 1; i++) {
		st[i].created = jst(3, 2, 10, 0, i);
		ocsf_change(g, st[i].created, 1, "okta-provisioning", st[i].name, NULL);
		if (st[i].mfa)
			ocsf_change(g, st[i].created + 60, 10, st[i].name, st[i].name, NULL);
	}
	ocsf_change(g, jst(3, 2, 10, 5, 0), 7, "okta-provisioning", st[0].name, role[0]);
	ocsf_change(g, jst(3, 2, 10, 5, 1), 7, "okta-provisioning", st[1].name, role[1]);
	ocsf_change(g, jst(5, 15, 14, 20, 0), 7, st[1].name, P_UNREVIEWED, "admin");
	ocsf_change(g, jst(7, 10, 11, 30, 0), 7, st[0].name, P_OWNER, "campaign_manager");
	/* A new colleague in September. */
	st[nst - 1].created = jst(9, 1, 9, 30, 0);
	ocsf_change(g, st[nst - 1].created, 1, st[1].name, st[nst - 1].name, NULL);
	ocsf_change(g, st[nst - 1].created + 600, 10, st[nst - 1].name, st[nst - 1].name, NULL);
	/* Password changes. Planted: sato's last one is in March. */
	ocsf_change(g, jst(3, 20, 17, 2, 0), 3, P_STALEPW, P_STALEPW, NULL);
	ocsf_change(g, jst(5, 28, 9, 41, 0), 3, "kato@" OWN, "kato@" OWN, NULL);
	ocsf_change(g, jst(8, 20, 9, 12, 0), 3, "kato@" OWN, "kato@" OWN, NULL);
	ocsf_change(g, jst(4, 15, 13, 0, 0), 3, st[0].name, st[0].name, NULL);
	ocsf_change(g, jst(6, 1, 10, 0, 0), 4, st[1].name, "tanaka@" OWN, NULL);
	/* Logins: weekdays, mornings, from each desk in the office. */
	for (day = civil(2026, 3, 3); day < civil(2026, 10, 1); day++) {
		t = day * 86400 - JST + 9 * 3600;
		if (weekday(t) == 0 || weekday(t) == 6)
			continue;
		for (i = 0; i < nst; i++) {
			int64_t at = (t + i * 300 + pick(g, 1500)) * 1000 + pick(g, 1000);

			if (st[i].created == 0 || at / 1000 < st[i].created + 3600)
				continue;
			if (pick(g, 30) == 0) /* a typo */
				ocsf_logon(g, at - 20000, st[i].name, st[i].ip, 0, 0);
			ocsf_logon(g, at, st[i].name, st[i].ip, 1, st[i].mfa);
		}
	}
	/* Planted: a password guesser at night, then a login that works. */
	t = jst(8, 10, 3, 12, 5);
	for (i = 0; i < 12; i++)
		ocsf_logon(g, (t + i * 7) * 1000 + 250, "tanaka@" OWN, P_ATTACKER, 0, 0);
	ocsf_logon(g, (t + 95) * 1000 + 500, "tanaka@" OWN, P_ATTACKER, 1, 1);

	/* Access reviews (no outside format: akashi's own records). Each
	 * quarter alice reviews everyone and bob reviews alice. Planted: the
	 * Q3 review skipped suzuki. */
	for (i = 0; i < nst - 1; i++) {
		const char *by = i == 0 ? st[1].name : st[0].name;

		review(g, jst(6, 10, 15, 0, i), by, st[i].name, role[i], "2026-Q2");
		if (strcmp(st[i].name, P_UNREVIEWED) != 0)
			review(g, jst(8, 20, 15, 0, i), by, st[i].name, role[i], "2026-Q3");
	}
	/* The second pair of eyes on the privacy notice. */
	t = jst(9, 14, 17, 5, 0);
	utc(when, t);
	add(&g->native, t,
	    "{\"kind\":\"admin\",\"time\":\"%s\",\"source\":\"console\",\"body\":{\"action\":"
	    "\"approval\",\"actor\":\"%s\",\"campaign\":\"%s\",\"target\":\"%s\",\"details\":{"
	    "\"recipients\":\"all customers\",\"ticket\":\"LEGAL-2026-031\"}}}",
	    when, P_APPROVER, P_PRIVACY, P_PRIVACY);
}

/* ---- the delivery engine's records ---- */

/* The privacy notice as `akashi send` records it (auditd/delivery/
 * engine.c): "queued", then "sent", each with the gate's decision. Owned by
 * ito, approved the day before by tanaka; addresses that bounced before
 * are left out of the recipient list. */
static void make_delivery(struct gen *g)
{
	int64_t t0 = jst(9, 15, 10, 0, 0);
	char s[96], q[32], r[32], mx[160];
	int i, n = 0, idx = 0;

	for (i = 0; i < NCUST; i++)
		n += reachable(&g->c[i], t0);
	for (i = 0; i < NCUST; i++) {
		int64_t tq, ts;

		if (!reachable(&g->c[i], t0))
			continue;
		tq = t0 + idx / 100;
		ts = tq + 1 + pick(g, 20);
		utc(q, tq);
		utc(r, ts);
		cust_addr(s, sizeof(s), i);
		mx_of(s, mx, sizeof(mx));
		add(&g->delivery, tq,
		    "{\"kind\":\"send\",\"time\":\"%s\",\"source\":\"akashi:delivery\",\"body\":{"
		    "\"campaign\":\"%s\",\"campaign_size\":%d,\"from\":\"info@%s\",\"gate\":{"
		    "\"decision\":\"allow\",\"policy_commit\":\"%s\",\"reasons\":[]},\"list\":"
		    "\"customers\",\"message_id\":\"<%d.5f3a9c1e2b7d4e60@%s>\",\"owner\":\"%s\","
		    "\"rcpt\":\"%s\",\"status\":\"queued\",\"stream\":\"transactional\"}}",
		    q, P_PRIVACY, n, OWN, g->commit, idx, OWN, P_OWNER, s);
		qid(g, q);
		add(&g->delivery, ts,
		    "{\"kind\":\"send\",\"time\":\"%s\",\"source\":\"akashi:delivery\",\"body\":{"
		    "\"attempt\":1,\"campaign\":\"%s\",\"delay_ms\":%lld,\"dsn\":\"2.0.0\","
		    "\"from\":\"info@%s\",\"gate\":{\"decision\":\"allow\",\"policy_commit\":"
		    "\"%s\",\"reasons\":[]},\"list\":\"customers\",\"message_id\":\"<%d.5f3a9c1e2b7d4e60@%s>"
		    "\","
		    "\"owner\":\"%s\",\"queue_id\":\"%s\",\"rcpt\":\"%s\",\"relay\":\"%s\","
		    "\"reply\":"
		    "\"250 2.0.0 Ok: queued as %s\",\"size\":18214,\"status\":\"sent\",\"stream\":"
		    "\"transactional\"}}",
		    r, P_PRIVACY, (long long)(ts - tq) * 1000 + 130, OWN, g->commit, idx, OWN,
		    P_OWNER, q, s, mx, q);
		idx++;
	}
}

/* ---- DMARC aggregate reports ---- */

struct row {
	const char *ip, *dkim, *spf, *dkim_domain, *spf_domain;
	int count;
};

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int bad;

	if (f == NULL)
		return ak_error_set("%s: %s", path, strerror(errno));
	bad = fwrite(data, 1, len, f) != len;
	bad |= fclose(f) != 0;
	return bad ? ak_error_set("%s: write failed", path) : 0;
}

/* A gzip file of one member, as a report's attachment arrives; no time
 * in the header, so the file is the same on every run. */
static int write_gzip(const char *path, const char *name, const void *data, size_t len)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	int rc = 0;

	if (a == NULL || e == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	if (archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_format_raw(a) != ARCHIVE_OK ||
	    archive_write_set_options(a, "gzip:!timestamp") != ARCHIVE_OK ||
	    archive_write_open_filename(a, path) != ARCHIVE_OK ||
	    archive_write_header(a, e) != ARCHIVE_OK ||
	    archive_write_data(a, data, len) != (la_ssize_t)len ||
	    archive_write_close(a) != ARCHIVE_OK)
		rc = ak_error_set("%s: %s", path, archive_error_string(a));
done:
	archive_entry_free(e);
	archive_write_free(a);
	return rc;
}

static int dmarc_report(struct gen *g, struct demo_data *d, const char *dir, const char *org,
                        const char *email, const char *domain, const char *p, int64_t begin,
                        const struct row *rows, int nrows, int gz)
{
	char name[256], path[DEMO_PATH_MAX], *xml = NULL;
	size_t len = 0;
	FILE *m;
	int i, rc;

	if (d->ndmarc == DEMO_DMARC_MAX)
		return ak_error_set("too many DMARC reports");
	if ((m = open_memstream(&xml, &len)) == NULL)
		return ak_error_oom();
	fprintf(m,
	        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<feedback>\n  <report_metadata>\n"
	        "    <org_name>%s</org_name>\n    <email>%s</email>\n"
	        "    <report_id>%llu</report_id>\n    <date_range>\n      <begin>%lld</begin>\n"
	        "      <end>%lld</end>\n    </date_range>\n  </report_metadata>\n"
	        "  <policy_published>\n    <domain>%s</domain>\n    <adkim>r</adkim>\n"
	        "    <aspf>r</aspf>\n    <p>%s</p>\n    <sp>%s</sp>\n    <pct>100</pct>\n"
	        "  </policy_published>\n",
	        org, email, (unsigned long long)(rnd(g) >> 1), (long long)begin,
	        (long long)begin + 86399, domain, p, p);
	for (i = 0; i < nrows; i++)
		fprintf(m,
		        "  <record>\n    <row>\n      <source_ip>%s</source_ip>\n"
		        "      <count>%d</count>\n      <policy_evaluated>\n"
		        "        <disposition>%s</disposition>\n        <dkim>%s</dkim>\n"
		        "        <spf>%s</spf>\n      </policy_evaluated>\n    </row>\n"
		        "    <identifiers>\n      <header_from>%s</header_from>\n    "
		        "</identifiers>\n"
		        "    <auth_results>\n      <dkim>\n        <domain>%s</domain>\n"
		        "        <result>%s</result>\n      </dkim>\n      <spf>\n"
		        "        <domain>%s</domain>\n        <result>%s</result>\n      </spf>\n"
		        "    </auth_results>\n  </record>\n",
		        rows[i].ip, rows[i].count,
		        strcmp(rows[i].dkim, "pass") && strcmp(rows[i].spf, "pass") ? p : "none",
		        rows[i].dkim, rows[i].spf, domain, rows[i].dkim_domain, rows[i].dkim,
		        rows[i].spf_domain, rows[i].spf);
	fputs("</feedback>\n", m);
	if (fclose(m) != 0) {
		free(xml);
		return ak_error_oom();
	}
	snprintf(name, sizeof(name), "%s!%s!%lld!%lld.xml", strchr(email, '@') + 1, domain,
	         (long long)begin, (long long)begin + 86399);
	snprintf(path, sizeof(path), "%s/%s%s", dir, name, gz ? ".gz" : "");
	rc = gz ? write_gzip(path, name, xml, len) : write_file(path, xml, len);
	free(xml);
	if (rc == 0)
		snprintf(d->dmarc[d->ndmarc++], DEMO_PATH_MAX, "%s", path);
	return rc;
}

static int make_dmarc(struct gen *g, struct demo_data *d, const char *dir)
{
	static const struct {
		const char *name;
		const char *start, *end;
	} real[] = {
	        {"yahoo.com!georgestarcher.com!1781740800!1781827199.xml", demo_real_yahoo_start,
	         demo_real_yahoo_end},
	        {"google.com!example.com!1701129600!1701215999.xml.zip", demo_real_google_start,
	         demo_real_google_end},
	        {"mailru.eml", demo_real_mailru_start, demo_real_mailru_end},
	};
	char path[DEMO_PATH_MAX];
	size_t k;
	int w, rc;

	/* Google, weekly, for both domains. */
	for (w = 0; w < 13; w++) {
		int64_t b = civil(2026, 7, 1) * 86400 + (int64_t)w * 7 * 86400;
		int vendor = w >= 6 ? 60 + (int)pick(g, 35) : 0;
		struct row own[] = {
		        {RELAY_IP, "pass", "pass", OWN, OWN, 700 + (int)pick(g, 500)},
		        {AKASHI_IP, "pass", "pass", OWN, OWN, w == 10 ? 4100 : 0},
		        {"192.0.2.240", "pass", "fail", OWN, "lists.example.net",
		         3 + (int)pick(g, 9)},
		        {"198.51.100.201", "fail", "fail", "lists.example.org", "lists.example.org",
		         1 + (int)pick(g, 6)},
		};
		struct row corp[] = {
		        {"209.85.220.41", "pass", "pass", CORP, CORP, 150 + (int)pick(g, 100)},
		        /* Planted: a CRM vendor sending as example.co.jp, from 12 Aug,
		         * signing with its own domain. */
		        {P_VENDOR, "fail", "fail", "crm-vendor.example",
		         "bounce.crm-vendor.example", w == 8 ? 140 : vendor},
		};
		struct row use[4];
		int n = 0;

		if (w == 7) /* the terms-of-service notice week */
			own[0].count += 2400;
		for (k = 0; k < 4; k++)
			if (own[k].count)
				use[n++] = own[k];
		if ((rc = dmarc_report(g, d, dir, "google.com", "noreply-dmarc-support@google.com",
		                       OWN, "reject", b, use, n, 0)) != 0 ||
		    (rc = dmarc_report(g, d, dir, "google.com", "noreply-dmarc-support@google.com",
		                       CORP, "quarantine", b + 86400, corp, corp[1].count ? 2 : 1,
		                       0)) != 0)
			return rc;
	}
	/* Yahoo, monthly, for the shop's domain; August's arrived gzipped. */
	for (w = 0; w < 3; w++) {
		int64_t b = civil(2026, 7 + w, 15) * 86400;
		struct row own[] = {{RELAY_IP, "pass", "pass", OWN, OWN, 300 + (int)pick(g, 200)},
		                    {"192.0.2.240", "pass", "fail", OWN, "lists.example.net", 2}};

		if ((rc = dmarc_report(g, d, dir, "Yahoo", "dmarchelp@yahooinc.com", OWN, "reject",
		                       b, own, 2, w == 1)) != 0)
			return rc;
	}
	/* Three real reports from before the quarter, as they arrived. */
	for (k = 0; k < sizeof(real) / sizeof(real[0]); k++) {
		snprintf(path, sizeof(path), "%s/%s", dir, real[k].name);
		if ((rc = write_file(path, real[k].start, (size_t)(real[k].end - real[k].start))) !=
		    0)
			return rc;
		if (d->ndmarc == DEMO_DMARC_MAX)
			return ak_error_set("too many DMARC reports");
		snprintf(d->dmarc[d->ndmarc++], DEMO_PATH_MAX, "%s", path);
	}
	return 0;
}

/* ---- all of it ---- */

static int mkdir_p(const char *dir)
{
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return ak_error_set("%s: %s", dir, strerror(errno));
	return 0;
}

int demo_data_write(const char *dir, const char *policy_commit, struct demo_data *out)
{
	static const char csv_head[] =
	        "time,event_id,source,subject,list,action,method,proof.ip,proof.user_agent,"
	        "proof.form_url,proof.form_hash,proof.confirmation_id,proof.confirmed_at,note\n";
	struct gen g;
	char dmarc_dir[DEMO_PATH_MAX];
	int i, k, rc;

	memset(out, 0, sizeof(*out));
	memset(&g, 0, sizeof(g));
	g.rng = 0x2545F4914F6CDD1DULL;
	g.commit = policy_commit;
	for (k = 0; k < 3; k++) {
		char *h = g.form_hash[k];

		memcpy(h, "sha256:", 7);
		for (i = 0; i < 4; i++)
			snprintf(h + 7 + i * 16, 17, "%016llx", (unsigned long long)rnd(&g));
	}
	snprintf(out->maillog, DEMO_PATH_MAX, "%s/maillog", dir);
	snprintf(out->consent, DEMO_PATH_MAX, "%s/consent.csv", dir);
	snprintf(out->ocsf, DEMO_PATH_MAX, "%s/okta-ocsf.jsonl", dir);
	snprintf(out->native, DEMO_PATH_MAX, "%s/reviews-approvals.jsonl", dir);
	snprintf(out->delivery, DEMO_PATH_MAX, "%s/akashi-delivery.jsonl", dir);
	snprintf(dmarc_dir, sizeof(dmarc_dir), "%s/dmarc", dir);
	if ((rc = mkdir_p(dir)) != 0 || (rc = mkdir_p(dmarc_dir)) != 0)
		return rc;
	if ((g.c = calloc(NCUST, sizeof(*g.c))) == NULL)
		return ak_error_oom();
	/* In this order: later steps read what earlier ones decided
	 * (subscriptions, then which mailboxes bounced). */
	make_consent(&g);
	make_maillog(&g);
	make_admin(&g);
	make_delivery(&g);
	for (i = 0; i < NCUST; i++) {
		const struct cust *c = &g.c[i];

		if (c->news_ok < jst(6, 1, 0, 0, 0) && c->news_out == NEVER && !c->dead &&
		    c->sale_in == NEVER) {
			cust_addr(out->allowed_subject, sizeof(out->allowed_subject), i);
			break;
		}
	}
	if ((rc = lines_write(&g.csv, out->consent, csv_head)) != 0 ||
	    (rc = lines_write(&g.log, out->maillog, NULL)) != 0 ||
	    (rc = lines_write(&g.ocsf, out->ocsf, NULL)) != 0 ||
	    (rc = lines_write(&g.native, out->native, NULL)) != 0 ||
	    (rc = lines_write(&g.delivery, out->delivery, NULL)) != 0 ||
	    (rc = make_dmarc(&g, out, dmarc_dir)) != 0)
		goto done;
	out->optout_subject = P_OPTOUT;
	out->noconsent_subject = P_NOCONSENT;
	out->noproof_subject = P_NOPROOF;
	out->unreviewed_account = P_UNREVIEWED;
	out->stale_password_account = P_STALEPW;
	out->unapproved_campaign = P_TOS;
	out->approved_campaign = P_PRIVACY;
	out->approved_owner = P_OWNER;
	out->approved_by = P_APPROVER;
	out->bruteforce_account = "tanaka@" OWN;
	out->bruteforce_ip = P_ATTACKER;
	out->failing_domain = CORP;
	out->failing_source = P_VENDOR;
	out->newsletter = NEWS;
done:
	lines_free(&g.csv);
	lines_free(&g.log);
	lines_free(&g.ocsf);
	lines_free(&g.native);
	lines_free(&g.delivery);
	free(g.c);
	return rc;
}
