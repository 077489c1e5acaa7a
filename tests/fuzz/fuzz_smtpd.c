/*
 * tests/fuzz/fuzz_smtpd.c - libFuzzer target for what SMTP gateway clients
 * send (auditd/delivery/smtp_proto.c): command lines, AUTH PLAIN responses
 * and their user names, DATA lines, and the message they make.
 *
 * The input is a session: split into lines as the gateway splits them (LF,
 * an optional CR before it). Each line is parsed as a command; the
 * argument of an AUTH line is decoded as a PLAIN response; every line also
 * goes through the DATA reader, and what it gathered is then read as a
 * submitted message. Checks what the gateway relies on: a refused command
 * carries a 5xx reply of one line; a list name taken from a user has no
 * control character; an address taken has no byte
 * that could end a line or start another address; a prepared message has
 * no X-Akashi-* field left, a Message-ID of the shape <left@right> and a
 * valid campaign id; nothing grows past its bound.
 */
#include "auditd/delivery/delivery_int.h"
#include "tests/fuzz/fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, size_t cap)
{
	size_t i, n = strnlen(s, cap);

	FUZZ_ASSERT(n != cap);
	for (i = 0; i < n; i++)
		FUZZ_ASSERT(s[i] != '\r' && s[i] != '\n');
}

static void check_cmd(int rc, const struct smtpd_cmd *c)
{
	size_t i;

	if (rc != 0) {
		FUZZ_ASSERT(c->code == 500 || c->code == 501 || c->code == 555);
		check_text(c->why, sizeof(c->why));
		check_text(c->enh, sizeof(c->enh));
		return;
	}
	check_text(c->addr, sizeof(c->addr));
	for (i = 0; c->addr[i]; i++)
		FUZZ_ASSERT((unsigned char)c->addr[i] > ' ' && !strchr("<>,;\"\\", c->addr[i]) &&
			    !(c->addr[i] >= 'A' && c->addr[i] <= 'Z'));
	FUZZ_ASSERT(c->verb != SMTPD_RCPT || c->addr[0] != '\0');
}

static void check_message(const struct ak_buf *out, const struct smtpd_msg_out *r)
{
	const char *p = out->data, *end = out->data + out->len;

	FUZZ_ASSERT(delivery_campaign_id_valid(r->campaign));
	FUZZ_ASSERT(r->message_id[0] == '<' && strchr(r->message_id, '@') != NULL &&
		    r->message_id[strlen(r->message_id) - 1] == '>');
	/* Header fields up to the first empty line: none of akashi's left. */
	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (*p == '\r' || *p == '\n')
			break;
		FUZZ_ASSERT((size_t)(end - p) < 9 || strncasecmp(p, "X-Akashi-", 9) != 0);
		p = nl ? nl + 1 : end;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct ak_buf msg = AK_BUF_INIT(1 << 20), out = AK_BUF_INIT(1 << 20);
	unsigned flags = 0;
	int ended = 0, crlf = 1;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		struct smtpd_cmd c;
		int rc, ends_crlf;

		ends_crlf = nl && len && p[len - 1] == '\r';
		if (ends_crlf)
			len--;
		rc = smtpd_parse(p, len, &c);
		check_cmd(rc, &c);
		if (rc == 0 && c.verb == SMTPD_AUTH) {
			char user[256], pass[128], stream[16], list[201];
			const char *sp = memchr(c.arg, ' ', c.arg_len);

			if (sp && smtpd_auth_plain(sp + 1, c.arg_len - (size_t)(sp + 1 - c.arg),
			                           user, sizeof(user), pass, sizeof(pass)) == 0) {
				/* The user may hold any byte but NUL; the list it
				 * names may not hold a control character. */
				if (smtpd_auth_user(user, stream, sizeof(stream), list,
				                    sizeof(list)) == 0) {
					size_t i;

					FUZZ_ASSERT(strchr(list, '/') == NULL && list[0] != '\0');
					for (i = 0; list[i]; i++)
						FUZZ_ASSERT((unsigned char)list[i] >= 0x20);
				}
			}
		}
		if (!ended && smtpd_data_line(&msg, p, len, crlf && ends_crlf, 65536, &flags) == 1)
			ended = 1;
		/* What is appended is whole lines, each with its CRLF, and no NUL. */
		FUZZ_ASSERT(flags || (!memchr(msg.data ? msg.data : "", '\0', msg.len) &&
		                      (msg.len == 0 || msg.data[msg.len - 1] == '\n')));
		crlf = ends_crlf;
		FUZZ_ASSERT(msg.len <= 65536);
		p = nl ? nl + 1 : end;
	}
	{
		struct smtpd_msg_in in = {0};
		struct smtpd_msg_out r;

		in.list = "news";
		in.campaign = "smtp-fuzz-2026-01-01";
		in.id_local = "0123456789abcdef";
		in.id_domain = "example.com";
		in.marketing = (int)(size & 1);
		in.now_us = 1767225600000000;
		if (smtpd_message(&out, msg.data ? msg.data : "", msg.len, &in, &r) == 0)
			check_message(&out, &r);
		else
			FUZZ_ASSERT(r.code == 554 || r.code == 552);
	}
	ak_buf_free(&msg);
	ak_buf_free(&out);
	return 0;
}
