/*
 * tests/unit/test_delivery.c - the delivery engine's pure parts: template
 * merging and its header safety, RFC 2047, SMTP reply and EHLO reading,
 * the back-off schedule, and DKIM signatures (checked byte for byte
 * against libopendkim's).
 */
#include "tests/unit/unit.h"

#include "auditd/delivery/delivery_int.h"
#include "lib/b64.h"
#include "lib/error.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libopendkim 2.11 leaks its key handle for every Ed25519 signature
 * (dkim_free() releases only the RSA one); the reference signer is used
 * here on purpose, so its leak is not ours. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:dkim_privkey_load\nleak:libopendkim.so\n";
}

/* Whole stacks, so the suppression above can see libopendkim's frame
 * under OpenSSL's allocation. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}

/* ---- helpers ---- */

static struct delivery_template *tpl(const char *text)
{
	struct delivery_template *t = NULL;

	assert_int_equal(delivery_template_parse(&t, text, strlen(text)), 0);
	return t;
}

/* Render t for one recipient with values (one per template field). */
static char *render(const struct delivery_template *t, const char *const *values, size_t n,
                    const char *unsub)
{
	struct ak_buf out = AK_BUF_INIT(0), scratch = AK_BUF_INIT(0);
	struct delivery_render r = {0};
	char *s;

	r.rcpt = "alice@example.org";
	r.from = "news@example.com";
	r.message_id = "<1.abc@example.com>";
	r.list_unsubscribe = unsub;
	r.date_us = INT64_C(1795338436) * 1000000;
	r.values = values;
	r.nfields = n;
	assert_int_equal(delivery_render(&out, &scratch, t, &r), 0);
	ak_buf_free(&scratch);
	s = ak_buf_detach(&out, NULL);
	return s;
}

/* Decode "=?UTF-8?B?...?=" words of a header value and concatenate. */
static void decode_words(const char *v, char *out, size_t cap)
{
	size_t o = 0;
	const char *p = v;

	while ((p = strstr(p, "=?UTF-8?B?")) != NULL) {
		const char *e = strstr(p + 10, "?=");
		unsigned char buf[256];
		int n;

		assert_non_null(e);
		n = ak_b64_decode(buf, sizeof(buf), p + 10, (size_t)(e - p - 10));
		assert_true(n >= 0);
		assert_true(o + (size_t)n < cap);
		memcpy(out + o, buf, (size_t)n);
		o += (size_t)n;
		p = e + 2;
	}
	out[o] = '\0';
}

/* The value of header name in msg (first occurrence, folds kept). */
static char *header(const char *msg, const char *name)
{
	size_t nl = strlen(name);
	const char *p = msg;

	while (*p && !(p[0] == '\r' && p[1] == '\n')) {
		const char *e = p;

		while (*e && !(e[0] == '\r' && e[1] == '\n' && e[2] != ' ' && e[2] != '\t'))
			e++;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':')
			return strndup(p + nl + 2, (size_t)(e - p - nl - 2));
		p = *e ? e + 2 : e;
	}
	return NULL;
}

/* ---- templates ---- */

static void test_delivery__merge_refuses_line_breaks_in_header_values(void **state)
{
	struct delivery_template *t = tpl("Subject: Hi {{name}}\n\nDear {{name}}, {{note}}\n");

	(void)state;
	assert_int_equal(delivery_template_nfields(t), 2);
	assert_string_equal(delivery_template_field(t, 0), "name");
	assert_int_equal(delivery_value_check(t, 0, "Bob\r\nBcc: x@evil.test", 21), AK_EINVALID);
	assert_non_null(strstr(ak_error_last(), "column 'name'"));
	assert_int_equal(delivery_value_check(t, 0, "Bob\nBcc: x", 10), AK_EINVALID);
	assert_int_equal(delivery_value_check(t, 0, "Bob", 3), 0);
	/* A field used only in the body may hold line breaks. */
	assert_int_equal(delivery_value_check(t, 1, "line one\nline two", 17), 0);
	delivery_template_free(t);
}

static void test_delivery__address_header_values_cannot_add_recipients(void **state)
{
	struct delivery_template *t = tpl("To: {{name}} <{{email}}>\nSubject: {{name}}\n\nx\n");

	(void)state;
	assert_int_equal(delivery_value_check(t, 0, "Eve, <boss@example.com>", 23), AK_EINVALID);
	assert_int_equal(delivery_value_check(t, 0, "Eve <boss@example.com>", 22), AK_EINVALID);
	assert_int_equal(delivery_value_check(t, 0, "Eve;", 4), AK_EINVALID);
	assert_int_equal(delivery_value_check(t, 0, "Eve \"the\" Boss", 14), AK_EINVALID);
	assert_int_equal(delivery_value_check(t, 0, "山田 太郎", strlen("山田 太郎")), 0);
	assert_int_equal(delivery_value_check(t, 1, "alice@example.org", 17), 0);
	delivery_template_free(t);
}

static void test_delivery__non_ascii_headers_are_rfc2047_encoded(void **state)
{
	struct delivery_template *t =
	        tpl("From: ニュース <news@example.com>\nTo: {{name}} <{{email}}>\n"
	            "Subject: {{name}}様へのお知らせ: "
	            "新しいサービスを開始しました。ぜひご覧ください\n\n"
	            "本文\n");
	const char *vals[] = {"山田 太郎", "alice@example.org"};
	char *msg = render(t, vals, 2, NULL), *subj, *to, *from, dec[512];
	const char *p;

	(void)state;
	subj = header(msg, "Subject");
	to = header(msg, "To");
	from = header(msg, "From");
	assert_non_null(subj);
	decode_words(subj, dec, sizeof(dec));
	assert_string_equal(
	        dec, "山田 太郎様へのお知らせ: 新しいサービスを開始しました。ぜひご覧ください");
	/* Only the display name is encoded; the address stays as it is. */
	assert_non_null(strstr(to, "?= <alice@example.org>"));
	decode_words(to, dec, sizeof(dec));
	assert_string_equal(dec, "山田 太郎");
	decode_words(from, dec, sizeof(dec));
	assert_string_equal(dec, "ニュース");
	/* Every header line holding encoded-words is at most 76 characters,
	 * and the whole header is 7-bit. */
	for (p = msg; *p && !(p[0] == '\r' && p[1] == '\n');) {
		const char *e = strstr(p, "\r\n");

		assert_non_null(e);
		if (memmem(p, (size_t)(e - p), "=?UTF-8?B?", 10))
			assert_true(e - p <= 76);
		for (; p < e; p++)
			assert_true((unsigned char)*p < 0x80);
		p = e + 2;
	}
	free(subj);
	free(to);
	free(from);
	free(msg);
	delivery_template_free(t);
}

static void test_delivery__rfc2047_splits_between_characters(void **state)
{
	struct ak_buf out = AK_BUF_INIT(0);
	const char *s = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほ"
	                "まみむめもやゆよらりるれろわをん";
	const char *p;
	int words = 0;

	(void)state;
	assert_int_equal(ak_buf_puts(&out, "Subject: "), 0);
	assert_int_equal(delivery_rfc2047(&out, s, strlen(s)), 0);
	/* Each word decodes to whole characters by itself. */
	for (p = out.data; (p = strstr(p, "=?UTF-8?B?")) != NULL; words++) {
		const char *e = strstr(p + 10, "?=");
		unsigned char buf[128];
		int n = ak_b64_decode(buf, sizeof(buf), p + 10, (size_t)(e - p - 10));

		assert_true(n > 0 && n % 3 == 0); /* kana are three bytes each */
		assert_true(e + 2 - p <= 75);
		p = e + 2;
	}
	assert_true(words > 2);
	ak_buf_reset(&out);
	assert_int_equal(delivery_rfc2047(&out, "\xff\xfe", 2), AK_EINVALID);
	assert_int_equal(delivery_rfc2047(&out, "\xe3\x81", 2), AK_EINVALID); /* cut short */
	ak_buf_free(&out);
}

/* A Cc of forty mailboxes, some with Japanese names: folded between
 * mailboxes, no line over 78 characters unless one mailbox is longer, and
 * the same mailboxes when unfolded (it was one line of 1,600 bytes, and
 * the fuzzer found lines past SMTP's 998). */
static void test_delivery__long_address_lists_are_folded(void **state)
{
	struct ak_buf tx = AK_BUF_INIT(0);
	struct delivery_template *t;
	char *m, *cc, *end, *line;
	size_t i, n = 0;

	(void)state;
	assert_int_equal(ak_buf_puts(&tx, "To: <a@example.org>\nCc: "), 0);
	for (i = 0; i < 40; i++)
		assert_int_equal(ak_buf_printf(&tx, "%s%s <member%zu@example.org>", i ? ", " : "",
		                               i % 3 ? "Member" : "山田 太郎", i),
		                 0);
	assert_int_equal(ak_buf_puts(&tx, "\nSubject: x\n\nbody\n"), 0);
	assert_int_equal(ak_buf_putc(&tx, '\0'), 0);
	t = tpl(tx.data);
	m = render(t, NULL, 0, NULL);
	cc = strstr(m, "\r\nCc: ");
	assert_non_null(cc);
	end = strstr(cc + 2, "\r\nSubject:");
	assert_non_null(end);
	for (line = cc + 2; line < end; n++) {
		char *e = strstr(line, "\r\n");

		assert_true(e - line <= 78);
		line = e + 2;
		assert_true(line >= end || *line == ' ');
	}
	assert_true(n > 10);
	for (i = 0; i < 40; i++) {
		char want[40];

		snprintf(want, sizeof(want), "<member%zu@example.org>", i);
		assert_non_null(strstr(cc, want));
	}
	free(m);
	delivery_template_free(t);
	ak_buf_free(&tx);
}

static void test_delivery__engine_headers_replace_the_templates(void **state)
{
	struct delivery_template *t =
	        tpl("Message-ID: <old@example.com>\nDate: Mon, 1 Jan 2001 00:00:00 +0000\n"
	            "X-Akashi-Campaign: spring\nBcc: hidden@example.com\nFrom: news@example.com\n"
	            "List-Unsubscribe: <mailto:old@example.com>\nSubject: s\n\nbody\n");
	char *m = render(t, NULL, 0, "https://akashi.example/v1/unsubscribe?t=TOKEN"), *v;

	(void)state;
	assert_null(strstr(m, "old@example.com"));
	assert_null(strstr(m, "X-Akashi"));
	assert_null(strstr(m, "hidden@"));
	assert_non_null(strstr(m, "Message-ID: <1.abc@example.com>\r\n"));
	assert_non_null(strstr(m, "Date: Sun, 22 Nov 2026 09:07:16 +0000\r\n"));
	v = header(m, "List-Unsubscribe");
	assert_string_equal(v, "<https://akashi.example/v1/unsubscribe?t=TOKEN>");
	free(v);
	v = header(m, "List-Unsubscribe-Post");
	assert_string_equal(v, "List-Unsubscribe=One-Click");
	free(v);
	/* No From / To in a template: the envelope's. */
	free(m);
	delivery_template_free(t);
	t = tpl("Subject: s\n\nbody");
	m = render(t, NULL, 0, NULL);
	assert_non_null(strstr(m, "From: <news@example.com>\r\nTo: <alice@example.org>\r\n"));
	assert_null(strstr(m, "List-Unsubscribe"));
	/* The body ends in CRLF. */
	assert_string_equal(m + strlen(m) - 6, "body\r\n");
	free(m);
	delivery_template_free(t);
}

static void test_delivery__eight_bit_body_goes_base64(void **state)
{
	struct delivery_template *t = tpl("Subject: s\n\nこんにちは {{name}}\n");
	const char *vals[] = {"太郎"};
	char *m = render(t, vals, 1, NULL), *body, dec[128];
	int n;

	(void)state;
	assert_non_null(strstr(m, "Content-Transfer-Encoding: base64\r\n"));
	assert_non_null(strstr(m, "Content-Type: text/plain; charset=UTF-8\r\n"));
	body = strstr(m, "\r\n\r\n") + 4;
	n = ak_b64_decode(dec, sizeof(dec) - 1, body, strlen(body) - 2);
	assert_true(n > 0);
	dec[n] = '\0';
	assert_string_equal(dec, "こんにちは 太郎\r\n");
	free(m);
	delivery_template_free(t);
	/* A template that declares its encoding is left alone. */
	t = tpl("Subject: s\nContent-Transfer-Encoding: 8bit\n\nこんにちは\n");
	m = render(t, NULL, 0, NULL);
	assert_non_null(strstr(m, "\r\n\r\nこんにちは\r\n"));
	free(m);
	delivery_template_free(t);
}

/* A multipart template with 8-bit parts keeps its MIME structure: base64
 * at the top would hide the boundaries (RFC 2045 6.4 forbids it). */
static void test_delivery__eight_bit_multipart_is_not_base64(void **state)
{
	struct delivery_template *t =
	        tpl("Subject: s\nMIME-Version: 1.0\n"
	            "Content-Type: multipart/alternative; boundary=\"B\"\n\n"
	            "--B\nContent-Type: text/plain; charset=UTF-8\n"
	            "Content-Transfer-Encoding: 8bit\n\nこんにちは {{name}}\n--B--\n");
	const char *vals[] = {"太郎"};
	char *m = render(t, vals, 1, NULL);

	(void)state;
	assert_null(strstr(m, "base64"));
	assert_non_null(strstr(m, "Content-Transfer-Encoding: 8bit\r\n\r\n--B\r\n"));
	assert_non_null(strstr(m, "\r\n\r\nこんにちは 太郎\r\n--B--\r\n"));
	free(m);
	delivery_template_free(t);
}

static void test_delivery__template_errors_name_the_place(void **state)
{
	struct delivery_template *t = NULL;

	(void)state;
	assert_int_equal(delivery_template_parse(&t, "Subject: {{name\n\nx", 18), AK_EINVALID);
	assert_non_null(strstr(ak_error_last(), "header 'Subject'"));
	assert_int_equal(delivery_template_parse(&t, "Subject: x\n\n{{ }}", 17), AK_EINVALID);
	assert_non_null(strstr(ak_error_last(), "body"));
	assert_int_equal(delivery_template_parse(&t, "no colon here\n\nx", 16), AK_EINVALID);
	assert_non_null(strstr(ak_error_last(), "line 1"));
	assert_int_equal(delivery_template_parse(&t, "\nbody only", 10), AK_EINVALID);
	assert_int_equal(delivery_template_parse(&t, "Subject: a\0b\n\nx", 15), AK_EINVALID);
	/* Folded headers are unfolded; CRLF and LF both work. */
	t = tpl("Subject: one\r\n two {{x}}\r\n\r\nbody\r\n");
	assert_int_equal(delivery_template_nfields(t), 1);
	delivery_template_free(t);
}

static void test_delivery__date_is_rfc5322(void **state)
{
	char d[40];

	(void)state;
	delivery_date(d, 0);
	assert_string_equal(d, "Thu, 1 Jan 1970 00:00:00 +0000");
	delivery_date(d, INT64_C(1795338436) * 1000000);
	assert_string_equal(d, "Sun, 22 Nov 2026 09:07:16 +0000");
}

static void test_delivery__notice_is_a_whole_message(void **state)
{
	struct ak_buf out = AK_BUF_INIT(0);
	struct delivery_notice n = {0};
	const char *text = "line one\nline two\n";

	(void)state;
	n.from = "akashi@example.com";
	n.to = "SOC@example.com";
	n.subject = "[akashi] high login.bruteforce_user alice";
	n.text = text;
	n.text_len = strlen(text);
	n.message_id = "<akashi-alert-9.ab@example.com>";
	n.date_us = INT64_C(1795338436) * 1000000;
	assert_int_equal(delivery_compose_notice(&out, &n), 0);
	assert_int_equal(ak_buf_putc(&out, '\0'), 0);
	assert_string_equal(out.data, "From: akashi <akashi@example.com>\r\n"
	                              "To: <SOC@example.com>\r\n"
	                              "Date: Sun, 22 Nov 2026 09:07:16 +0000\r\n"
	                              "Message-ID: <akashi-alert-9.ab@example.com>\r\n"
	                              "Subject: [akashi] high login.bruteforce_user alice\r\n"
	                              "Auto-Submitted: auto-generated\r\n"
	                              "MIME-Version: 1.0\r\n"
	                              "Content-Type: text/plain; charset=UTF-8\r\n"
	                              "Content-Transfer-Encoding: 7bit\r\n"
	                              "\r\n"
	                              "line one\r\nline two\r\n");
	ak_buf_free(&out);
}

static void test_delivery__notice_encodes_and_refuses(void **state)
{
	struct ak_buf out = AK_BUF_INIT(0);
	struct delivery_notice n = {0};
	const char *text = "田中\n";

	(void)state;
	n.from = "akashi@example.com";
	n.to = "soc@example.com";
	n.subject = "[akashi] high login.bruteforce_user 田中";
	n.text = text;
	n.text_len = strlen(text);
	n.message_id = "<a.b@example.com>";
	assert_int_equal(delivery_compose_notice(&out, &n), 0);
	assert_int_equal(ak_buf_putc(&out, '\0'), 0);
	assert_non_null(strstr(out.data, "Subject: =?UTF-8?B?"));
	assert_non_null(
	        strstr(out.data, "Content-Transfer-Encoding: base64\r\n\r\n55Sw5LitDQo=\r\n"));
	/* Nothing that could end a header line or add a mailbox gets in. */
	ak_buf_reset(&out);
	n.subject = "alert\r\nBcc: evil@example.com";
	assert_int_equal(delivery_compose_notice(&out, &n), AK_EINVALID);
	n.subject = "alert\x01";
	assert_int_equal(delivery_compose_notice(&out, &n), AK_EINVALID);
	n.subject = "ok";
	n.to = "soc@example.com>, evil@example.com";
	assert_int_equal(delivery_compose_notice(&out, &n), AK_EINVALID);
	n.to = "soc@example.com\r\nBcc: x@example.com";
	assert_int_equal(delivery_compose_notice(&out, &n), AK_EINVALID);
	n.to = "soc@example.com";
	n.message_id = "<a\r\nX: y@example.com>";
	assert_int_equal(delivery_compose_notice(&out, &n), AK_EINVALID);
	n.message_id = "<a.b@example.com>";
	n.text = "a\rb";
	n.text_len = 3;
	assert_int_equal(delivery_compose_notice(&out, &n), AK_EINVALID);
	ak_buf_free(&out);
}

/* ---- SMTP replies ---- */

static int feed(struct smtp_reply *r, const char *line)
{
	return smtp_reply_line(r, line, strlen(line));
}

static void test_smtp__reply_lines_make_one_reply(void **state)
{
	struct smtp_reply r;

	(void)state;
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "250-mx.example.org Hello"), 0);
	assert_int_equal(feed(&r, "250-PIPELINING"), 0);
	assert_int_equal(feed(&r, "250 STARTTLS"), 1);
	assert_int_equal(r.code, 250);
	assert_int_equal(r.nlines, 3);
	assert_string_equal(r.text, "mx.example.org Hello PIPELINING STARTTLS");
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "550 5.1.1 <x@y>: Recipient address rejected"), 1);
	assert_int_equal(r.code, 550);
	assert_string_equal(r.enhanced, "5.1.1");
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "250"), 1); /* a bare code is a reply */
	assert_string_equal(r.enhanced, "");
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "451 4.7.1 x"), 1);
	assert_string_equal(r.enhanced, "4.7.1");
	smtp_reply_reset(&r);
	/* A class that does not match the code is no enhanced code. */
	assert_int_equal(feed(&r, "451 5.7.1 x"), 1);
	assert_string_equal(r.enhanced, "");
}

static void test_smtp__bad_replies_are_refused(void **state)
{
	struct smtp_reply r;
	int i;

	(void)state;
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "25"), AK_EINVALID);
	assert_int_equal(feed(&r, "abc hello"), AK_EINVALID);
	assert_int_equal(feed(&r, "150 old"), AK_EINVALID);
	assert_int_equal(feed(&r, "650 new"), AK_EINVALID);
	assert_int_equal(feed(&r, "250xhello"), AK_EINVALID);
	assert_int_equal(feed(&r, "250-one"), 0);
	assert_int_equal(feed(&r, "550 two"), AK_EINVALID); /* code changed */
	smtp_reply_reset(&r);
	for (i = 0; i < SMTP_REPLY_LINES_MAX; i++)
		assert_int_equal(feed(&r, "250-more"), 0);
	assert_int_equal(feed(&r, "250-more"), AK_EINVALID);
	/* Text kept is bounded and printable. */
	smtp_reply_reset(&r);
	{
		char line[2048];

		memset(line, 'x', sizeof(line));
		memcpy(line, "250 \x01\xff", 6);
		line[sizeof(line) - 1] = '\0';
		assert_int_equal(feed(&r, line), 1);
		assert_true(strlen(r.text) < sizeof(r.text));
		assert_int_equal(r.text[0], '?');
		assert_int_equal(r.text[1], '?');
	}
}

static void test_smtp__ehlo_capabilities(void **state)
{
	unsigned caps = 0;
	size_t size = 0;

	(void)state;
	smtp_ehlo_line(&caps, &size, "PIPELINING", 10);
	smtp_ehlo_line(&caps, &size, "SIZE 10240000", 13);
	smtp_ehlo_line(&caps, &size, "starttls", 8);
	smtp_ehlo_line(&caps, &size, "AUTH LOGIN PLAIN", 16);
	smtp_ehlo_line(&caps, &size, "8BITMIME", 8);
	smtp_ehlo_line(&caps, &size, "PIPELININGX", 11); /* not PIPELINING */
	assert_int_equal(caps, SMTP_CAP_PIPELINING | SMTP_CAP_SIZE | SMTP_CAP_STARTTLS |
	                               SMTP_CAP_AUTH_PLAIN | SMTP_CAP_8BITMIME);
	assert_int_equal(size, 10240000);
	caps = 0;
	smtp_ehlo_line(&caps, &size, "AUTH=PLAIN", 10);
	assert_int_equal(caps, SMTP_CAP_AUTH_PLAIN);
	caps = 0;
	smtp_ehlo_line(&caps, &size, "AUTH CRAM-MD5 PLAINX", 20);
	assert_int_equal(caps, 0);
}

static void test_smtp__queue_id_from_final_reply(void **state)
{
	struct smtp_reply r;
	char id[64];

	(void)state;
	smtp_reply_reset(&r);
	feed(&r, "250 2.0.0 Ok: queued as 4Fq2x1Zk9Tz3");
	assert_int_equal(smtp_reply_queue_id(&r, id, sizeof(id)), 1);
	assert_string_equal(id, "4Fq2x1Zk9Tz3");
	smtp_reply_reset(&r);
	feed(&r, "250 OK id=1tEa9c-000Abc-2x");
	assert_int_equal(smtp_reply_queue_id(&r, id, sizeof(id)), 1);
	assert_string_equal(id, "1tEa9c-000Abc-2x");
	smtp_reply_reset(&r);
	feed(&r, "250 Message accepted");
	assert_int_equal(smtp_reply_queue_id(&r, id, sizeof(id)), 0);
	assert_string_equal(id, "");
}

/* ---- back-off ---- */

static void test_delivery__backoff_doubles_up_to_the_maximum(void **state)
{
	int64_t want[] = {300, 600, 1200, 2400, 4800, 9600, 14400, 14400, 14400};
	int i;

	(void)state;
	for (i = 0; i < 9; i++) {
		int64_t b = delivery_backoff(i + 1, 300, 14400, "<1.x@example.com>");

		/* At most 10 % more, never less. */
		assert_true(b >= want[i]);
		assert_true(b <= want[i] + want[i] / 10);
		/* The same message gets the same schedule. */
		assert_int_equal(b, delivery_backoff(i + 1, 300, 14400, "<1.x@example.com>"));
	}
	/* Different messages spread out. */
	assert_true(delivery_backoff(1, 300, 14400, "<1.x@example.com>") !=
	                    delivery_backoff(1, 300, 14400, "<2.x@example.com>") ||
	            delivery_backoff(1, 300, 14400, "<3.x@example.com>") !=
	                    delivery_backoff(1, 300, 14400, "<4.x@example.com>"));
	/* Huge attempt numbers do not overflow. */
	assert_true(delivery_backoff(1000000, 300, 14400, "x") <= 14400 + 1440);
	assert_true(delivery_backoff(0, 0, 0, NULL) >= 1);
}

/* ---- DKIM ---- */

static char keydir[64];

static const char *write_key(const char *name, const char *alg, int bits)
{
	static char path[2][128];
	static int which;
	EVP_PKEY *k = bits ? EVP_PKEY_Q_keygen(NULL, NULL, alg, (size_t)bits)
	                   : EVP_PKEY_Q_keygen(NULL, NULL, alg);
	char *p = path[which++ % 2];
	FILE *f;

	assert_non_null(k);
	snprintf(p, 128, "%s/%s", keydir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	EVP_PKEY_free(k);
	return p;
}

/* The b= value of the i-th DKIM-Signature in sigs, white space removed. */
static void b_value(const char *sigs, int i, char *out, size_t cap)
{
	const char *p = sigs, *b;
	size_t o = 0;

	while (i-- > 0)
		p = strstr(p + 1, "DKIM-Signature:");
	b = strstr(strstr(p, "; b=") ? strstr(p, "; b=") : strstr(p, ";\r\n\tb="), "b=") + 2;
	for (; *b && !(b[0] == '\r' && b[1] == '\n' && b[2] != ' ' && b[2] != '\t'); b++)
		if (*b != ' ' && *b != '\t' && *b != '\r' && *b != '\n' && o + 1 < cap)
			out[o++] = *b;
	out[o] = '\0';
}

static void test_dkim__signatures_match_libopendkim(void **state)
{
	static const char *msgs[] = {
	        "From: News <news@example.com>\r\nTo: alice@example.org\r\nSubject: Hello\r\n"
	        "Date: Sun, 22 Nov 2026 09:07:16 +0000\r\nMessage-ID: <1.abc@example.com>\r\n\r\n"
	        "Hello  there \t \r\n\r\nsecond paragraph\r\n\r\n\r\n",
	        /* Folded and oddly spaced headers, a header signed twice, no body. */
	        "From:news@example.com\r\nTo: a@example.org,\r\n\t b@example.org\r\n"
	        "Subject:   spaced    out   \r\nTo: c@example.org\r\nX-Other: not signed\r\n"
	        "List-Unsubscribe: <https://x.example/v1/unsubscribe?t=abc>\r\n"
	        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\n",
	};
	struct dkim_key *rsa = NULL, *ed = NULL;
	struct dkim_signer *own = NULL, *ref = NULL;
	struct dkim_signer_conf c = {0};
	size_t i;

	(void)state;
	snprintf(keydir, sizeof(keydir), "/tmp/akashi-dkim-XXXXXX");
	assert_non_null(mkdtemp(keydir));
	assert_int_equal(dkim_key_load(&rsa, write_key("rsa.pem", "RSA", 2048)), 0);
	assert_int_equal(dkim_key_load(&ed, write_key("ed.pem", "ED25519", 0)), 0);
	assert_true(dkim_key_is_ed25519(ed));
	c.domain = "example.com";
	c.selector = "rsa1";
	c.key = rsa;
	c.ed_selector = "ed1";
	c.ed_key = ed;
	assert_int_equal(dkim_signer_new(&own, &c), 0);
	c.use_libopendkim = 1;
	assert_int_equal(dkim_signer_new(&ref, &c), 0);
	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct ak_buf a = AK_BUF_INIT(0), b = AK_BUF_INIT(0);
		char ba[1024], bb[1024];
		int k;

		assert_int_equal(dkim_signer_sign(own, &a, msgs[i], strlen(msgs[i]), 1795338436),
		                 0);
		if (dkim_signer_sign(ref, &b, msgs[i], strlen(msgs[i]), 1795338436) != 0)
			fail_msg("libopendkim: %s", ak_error_last());
		for (k = 0; k < 2; k++) {
			b_value(a.data, k, ba, sizeof(ba));
			b_value(b.data, k, bb, sizeof(bb));
			if (strcmp(ba, bb) != 0)
				fprintf(stderr, "# ours:\n%s# libopendkim:\n%s", a.data, b.data);
			assert_string_equal(ba, bb);
		}
		assert_non_null(strstr(a.data, "a=ed25519-sha256"));
		ak_buf_free(&a);
		ak_buf_free(&b);
	}
	dkim_signer_free(own);
	dkim_signer_free(ref);
	dkim_key_free(rsa);
	dkim_key_free(ed);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", keydir);
		assert_int_equal(system(cmd), 0);
	}
}

static void test_dkim__trailing_empty_lines_do_not_change_the_body_hash(void **state)
{
	const char *a = "From: a@example.com\r\n\r\nbody \t\r\n";
	const char *b = "From: a@example.com\r\n\r\nbody\r\n\r\n\r\n";
	struct dkim_key *rsa = NULL;
	struct dkim_signer *s = NULL;
	struct dkim_signer_conf c = {0};
	struct ak_buf x = AK_BUF_INIT(0), y = AK_BUF_INIT(0);

	(void)state;
	snprintf(keydir, sizeof(keydir), "/tmp/akashi-dkim-XXXXXX");
	assert_non_null(mkdtemp(keydir));
	assert_int_equal(dkim_key_load(&rsa, write_key("rsa.pem", "RSA", 1024)), 0);
	c.domain = "example.com";
	c.selector = "s";
	c.key = rsa;
	assert_int_equal(dkim_signer_new(&s, &c), 0);
	assert_int_equal(dkim_signer_sign(s, &x, a, strlen(a), 1), 0);
	assert_int_equal(dkim_signer_sign(s, &y, b, strlen(b), 1), 0);
	assert_string_equal(strstr(x.data, "bh="), strstr(y.data, "bh="));
	/* A key too small for DKIM is refused. */
	{
		struct dkim_key *small = NULL;

		assert_int_equal(dkim_key_load(&small, write_key("small.pem", "RSA", 512)),
		                 AK_EINVALID);
	}
	/* The public key record. */
	ak_buf_reset(&x);
	assert_int_equal(dkim_key_txt(rsa, &x), 0);
	assert_memory_equal(x.data, "v=DKIM1; k=rsa; p=MIGf", 22);
	ak_buf_free(&x);
	ak_buf_free(&y);
	dkim_signer_free(s);
	dkim_key_free(rsa);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", keydir);
		assert_int_equal(system(cmd), 0);
	}
}

/* One question (example.com, class IN) and the answers that follow it;
 * names in answers may point back at offset 12, the question's name. */
static size_t dns_msg(unsigned char *m, int type, const unsigned char *an, size_t an_len, int count)
{
	static const unsigned char q[] = "\x12\x34\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00"
	                                 "\x07"
	                                 "example\x03"
	                                 "com";
	size_t n = sizeof(q); /* with its NUL: the root label */

	memcpy(m, q, n);
	m[7] = (unsigned char)count;
	m[n++] = 0;
	m[n++] = (unsigned char)type;
	m[n++] = 0;
	m[n++] = 1;
	memcpy(m + n, an, an_len);
	return n + an_len;
}

/* A message with n header fields (n - 1 Received and a From). */
static char *many_fields(size_t n)
{
	struct ak_buf b = AK_BUF_INIT(0);
	size_t i;

	for (i = 1; i < n; i++)
		assert_int_equal(ak_buf_printf(&b, "Received: from h%zu by relay.example\r\n", i),
		                 0);
	assert_int_equal(ak_buf_puts(&b, "From: <news@example.com>\r\n\r\nbody\r\n"), 0);
	return ak_buf_detach(&b, NULL);
}

/* The gateway answers 250 only for a message the signer can sign: one it
 * could not was deferred again and again until it expired. */
static void test_dkim__every_message_the_gateway_takes_can_be_signed(void **state)
{
	static const size_t counts[] = {300, 996, 997, 1500};
	static const struct smtpd_msg_in in = {"news", "c", "id", "example.com", 1, 0};
	struct dkim_key *rsa = NULL;
	struct dkim_signer *s = NULL;
	struct dkim_signer_conf c = {0};
	size_t i;

	(void)state;
	snprintf(keydir, sizeof(keydir), "/tmp/akashi-dkim-XXXXXX");
	assert_non_null(mkdtemp(keydir));
	assert_int_equal(dkim_key_load(&rsa, write_key("rsa.pem", "RSA", 1024)), 0);
	c.domain = "example.com";
	c.selector = "s";
	c.key = rsa;
	assert_int_equal(dkim_signer_new(&s, &c), 0);
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct ak_buf q = AK_BUF_INIT(0), sig = AK_BUF_INIT(0);
		struct smtpd_msg_out r;
		char *m = many_fields(counts[i]);
		int taken = smtpd_message(&q, m, strlen(m), &in, &r) == 0;

		if (taken)
			assert_int_equal(dkim_signer_sign(s, &sig, q.data, q.len, 1), 0);
		else
			assert_int_equal(r.code, 554);
		/* Hundreds of Received fields are a message like any other. */
		if (counts[i] == 300)
			assert_true(taken);
		if (counts[i] == 1500)
			assert_false(taken);
		free(m);
		ak_buf_free(&q);
		ak_buf_free(&sig);
	}
	dkim_signer_free(s);
	dkim_key_free(rsa);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", keydir);
		assert_int_equal(system(cmd), 0);
	}
}

static void test_smtp__dns_answers_are_read(void **state)
{
	/* MX 20 mx2.<pointer to example.com>, then MX 10 mx1.example.com */
	static const unsigned char mx_an[] = "\xc0\x0c\x00\x0f\x00\x01\x00\x00\x01\x2c\x00\x08"
	                                     "\x00\x14\x03"
	                                     "mx2\xc0\x0c"
	                                     "\xc0\x0c\x00\x0f\x00\x01\x00\x00\x01\x2c\x00\x13"
	                                     "\x00\x0a\x03"
	                                     "mx1\x07"
	                                     "example\x03"
	                                     "com";
	static const unsigned char null_an[] = "\xc0\x0c\x00\x0f\x00\x01\x00\x00\x01\x2c\x00\x03"
	                                       "\x00\x00";
	static const unsigned char a_an[] = "\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04"
	                                    "\xc0\x00\x02\x01"
	                                    "\xc0\x0c\x00\x1c\x00\x01\x00\x00\x01\x2c\x00\x10"
	                                    "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00"
	                                    "\x00\x00\x00\x01";
	unsigned char m[512];
	struct smtp_mx mx[10];
	struct smtp_route r;
	size_t n;

	(void)state;
	/* sizeof with the string's NUL: the last name's root label */
	n = dns_msg(m, 15, mx_an, sizeof(mx_an), 2);
	assert_int_equal(smtp_mx_answer(m, (int)n, mx, 10), 2);
	assert_int_equal(mx[0].pref, 20);
	assert_string_equal(mx[0].host, "mx2.example.com");
	assert_int_equal(mx[1].pref, 10);
	assert_string_equal(mx[1].host, "mx1.example.com");
	assert_int_equal(smtp_mx_answer(m, (int)n, mx, 1), 1);       /* the cap */
	assert_int_equal(smtp_mx_answer(m, (int)n - 4, mx, 10), -1); /* cut short */

	n = dns_msg(m, 15, null_an, sizeof(null_an), 1);
	assert_int_equal(smtp_mx_answer(m, (int)n, mx, 10), 1);
	assert_int_equal(mx[0].pref, 0);
	assert_true(strcmp(mx[0].host, ".") == 0 || mx[0].host[0] == '\0');

	memset(&r, 0, sizeof(r));
	n = dns_msg(m, 1, a_an, sizeof(a_an) - 1, 2);
	assert_int_equal(smtp_addr_answer(m, (int)n, "mx1.example.com", 2525, &r), 0);
	assert_int_equal(r.naddrs, 2);
	assert_int_equal(r.addrs[0].sa.ss_family, AF_INET);
	assert_int_equal(r.addrs[1].sa.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in *)&r.addrs[0].sa)->sin_port), 2525);
	assert_string_equal(r.addrs[1].host, "mx1.example.com");
	assert_int_equal(smtp_addr_answer(m, 11, "x", 25, &r), 0); /* no header: nothing */
	assert_int_equal(r.naddrs, 2);
	smtp_route_clear(&r);
}

static void test_smtp__equal_mx_preferences_take_turns(void **state)
{
	static const int prefs[] = {20, 10, 10, 30, 10};
	struct smtp_mx mx[5];
	int first[3] = {0}, run, i;

	(void)state;
	for (run = 0; run < 300; run++) {
		int seen = 0;

		for (i = 0; i < 5; i++) {
			mx[i].pref = prefs[i];
			snprintf(mx[i].host, sizeof(mx[i].host), "mx%d", i);
		}
		smtp_mx_order(mx, 5);
		for (i = 0; i < 5; i++) {
			assert_int_equal(mx[i].pref, i < 3 ? 10 : i == 3 ? 20 : 30);
			seen |= 1 << (mx[i].host[2] - '0');
		}
		assert_int_equal(seen, 31); /* each host once */
		assert_string_equal(mx[3].host, "mx0");
		assert_string_equal(mx[4].host, "mx3");
		first[mx[0].host[2] == '1' ? 0 : mx[0].host[2] == '2' ? 1 : 2]++;
	}
	/* Each of the three preference-10 hosts comes first now and then (a
	 * third of the time each; none under 50 of 300 by chance: < 1e-9). */
	for (i = 0; i < 3; i++)
		assert_true(first[i] >= 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_delivery__merge_refuses_line_breaks_in_header_values),
	        cmocka_unit_test(test_delivery__address_header_values_cannot_add_recipients),
	        cmocka_unit_test(test_delivery__non_ascii_headers_are_rfc2047_encoded),
	        cmocka_unit_test(test_delivery__rfc2047_splits_between_characters),
	        cmocka_unit_test(test_delivery__long_address_lists_are_folded),
	        cmocka_unit_test(test_delivery__engine_headers_replace_the_templates),
	        cmocka_unit_test(test_delivery__eight_bit_body_goes_base64),
	        cmocka_unit_test(test_delivery__eight_bit_multipart_is_not_base64),
	        cmocka_unit_test(test_delivery__template_errors_name_the_place),
	        cmocka_unit_test(test_delivery__date_is_rfc5322),
	        cmocka_unit_test(test_delivery__notice_is_a_whole_message),
	        cmocka_unit_test(test_delivery__notice_encodes_and_refuses),
	        cmocka_unit_test(test_smtp__reply_lines_make_one_reply),
	        cmocka_unit_test(test_smtp__bad_replies_are_refused),
	        cmocka_unit_test(test_smtp__ehlo_capabilities),
	        cmocka_unit_test(test_smtp__queue_id_from_final_reply),
	        cmocka_unit_test(test_delivery__backoff_doubles_up_to_the_maximum),
	        cmocka_unit_test(test_dkim__signatures_match_libopendkim),
	        cmocka_unit_test(test_dkim__trailing_empty_lines_do_not_change_the_body_hash),
	        cmocka_unit_test(test_dkim__every_message_the_gateway_takes_can_be_signed),
	        cmocka_unit_test(test_smtp__dns_answers_are_read),
	        cmocka_unit_test(test_smtp__equal_mx_preferences_take_turns),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
