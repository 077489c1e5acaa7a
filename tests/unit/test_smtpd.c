/*
 * tests/unit/test_smtpd.c - the SMTP gateway's reading of client input
 * (auditd/delivery/smtp_proto.c): commands, AUTH PLAIN, DATA lines, the
 * submitted message's header. The sessions themselves are tested end to
 * end (tests/e2e/smtp_gateway.t).
 */
#include "unit.h"

#include "auditd/delivery/delivery_int.h"
#include "lib/error.h"

#include <string.h>

static int parse(const char *line, struct smtpd_cmd *c)
{
	return smtpd_parse(line, strlen(line), c);
}

static void test_smtpd__mail_and_rcpt_take_lower_case_addresses(void **state)
{
	struct smtpd_cmd c;

	(void)state;
	assert_int_equal(parse("mail from:<News@Example.COM> SIZE=1234 BODY=8BITMIME", &c), 0);
	assert_int_equal(c.verb, SMTPD_MAIL);
	assert_string_equal(c.addr, "news@example.com");
	assert_int_equal(c.size, 1234);
	assert_int_equal(c.body_8bit, 1);
	assert_int_equal(parse("RCPT TO: <Ann@OK.test>  ", &c), 0);
	assert_string_equal(c.addr, "ann@ok.test");
	assert_int_equal(parse("MAIL FROM:<>", &c), 0);
	assert_string_equal(c.addr, "");
}

static void test_smtpd__bad_commands_get_5xx_replies(void **state)
{
	struct smtpd_cmd c;

	(void)state;
	assert_int_equal(parse("FROB", &c), AK_EINVALID);
	assert_int_equal(c.code, 500);
	assert_int_equal(parse("RCPT TO:ann@ok.test", &c), AK_EINVALID);
	assert_int_equal(c.code, 501);
	assert_int_equal(parse("RCPT TO:<>", &c), AK_EINVALID);
	assert_int_equal(parse("RCPT TO:<@relay.example:ann@ok.test>", &c), AK_EINVALID);
	assert_int_equal(parse("RCPT TO:<\"a b\"@ok.test>", &c), AK_EINVALID);
	assert_int_equal(parse("RCPT TO:<ann@ok.test> NOTIFY=NEVER", &c), AK_EINVALID);
	assert_int_equal(c.code, 555);
	assert_int_equal(parse("MAIL FROM:<a@ok.test> FOO=1", &c), AK_EINVALID);
	assert_int_equal(c.code, 555);
	assert_int_equal(parse("DATA now", &c), AK_EINVALID);
	assert_int_equal(parse("VRFY ann", &c), 0);
	assert_int_equal(c.verb, SMTPD_NOT_OFFERED);
}

static void test_smtpd__auth_plain_names_stream_and_list(void **state)
{
	char user[256], pass[128], stream[16], list[201];
	/* "\0transactional/orders\0akt_x" */
	const char *b64 = "AHRyYW5zYWN0aW9uYWwvb3JkZXJzAGFrdF94";

	(void)state;
	assert_int_equal(smtpd_auth_plain(b64, strlen(b64), user, sizeof(user), pass, sizeof(pass)),
	                 0);
	assert_string_equal(user, "transactional/orders");
	assert_string_equal(pass, "akt_x");
	assert_int_equal(smtpd_auth_user(user, stream, sizeof(stream), list, sizeof(list)), 0);
	assert_string_equal(stream, "transactional");
	assert_string_equal(list, "orders");
	assert_int_equal(smtpd_auth_user("news", stream, sizeof(stream), list, sizeof(list)), 0);
	assert_string_equal(stream, "marketing");
	assert_string_equal(list, "news");
	assert_int_equal(smtpd_auth_user("bulk/news", stream, sizeof(stream), list, sizeof(list)),
	                 AK_EINVALID);
	assert_int_equal(smtpd_auth_user("marketing/", stream, sizeof(stream), list, sizeof(list)),
	                 AK_EINVALID);
	assert_int_equal(
	        smtpd_auth_plain("bm8gbnVscw==", 12, user, sizeof(user), pass, sizeof(pass)),
	        AK_EINVALID);
}

static void test_smtpd__data_lines_are_unstuffed_and_bounded(void **state)
{
	struct ak_buf b = AK_BUF_INIT(0);
	unsigned flags = 0;
	char long_line[1200];

	(void)state;
	assert_int_equal(smtpd_data_line(&b, "..dot", 5, 1, 100, &flags), 0);
	assert_int_equal(smtpd_data_line(&b, "x", 1, 1, 100, &flags), 0);
	assert_int_equal(smtpd_data_line(&b, ".", 1, 1, 100, &flags), 1);
	assert_string_equal(b.data, ".dot\r\nx\r\n");
	memset(long_line, 'a', sizeof(long_line));
	assert_int_equal(smtpd_data_line(&b, long_line, sizeof(long_line), 1, 1 << 20, &flags), 0);
	assert_true(flags & SMTPD_DATA_LONG_LINE);
	flags = 0;
	assert_int_equal(smtpd_data_line(&b, long_line, 900, 1, 100, &flags), 0);
	assert_true(flags & SMTPD_DATA_TOO_BIG);
	ak_buf_free(&b);
}

/* The data ends only at a "." between two CRLFs: after a bare LF, or
 * before one, a lone "." is text, so "<LF>.<LF>" can never end a message
 * that a receiver further on would read as two (SMTP smuggling). A CR
 * outside a CRLF, or a NUL, refuses the message. */
static void test_smtpd__data_ends_only_at_crlf_dot_crlf(void **state)
{
	static const char *const bad[] = {"hello\r.\rMAIL FROM:<ceo@example.com>",
	                                  "Message-ID: <a@b>\0x", "x\r"};
	static const size_t len[] = {35, 19, 2};
	struct ak_buf b = AK_BUF_INIT(0);
	unsigned flags = 0;
	size_t i;

	(void)state;
	assert_int_equal(smtpd_data_line(&b, ".", 1, 0, 1 << 20, &flags), 0);
	assert_int_equal(smtpd_data_line(&b, "MAIL FROM:<ceo@example.com>", 27, 0, 1 << 20, &flags),
	                 0);
	assert_int_equal(smtpd_data_line(&b, ".", 1, 1, 1 << 20, &flags), 1);
	assert_string_equal(b.data, ".\r\nMAIL FROM:<ceo@example.com>\r\n");
	assert_int_equal(flags, 0);
	ak_buf_free(&b);
	for (i = 0; i < 3; i++) {
		ak_buf_init(&b, 0);
		flags = 0;
		assert_int_equal(smtpd_data_line(&b, bad[i], len[i], 1, 1 << 20, &flags), 0);
		assert_true(flags & SMTPD_DATA_BARE);
		assert_int_equal(b.len, 0);
		/* and the final dot still ends the data */
		assert_int_equal(smtpd_data_line(&b, ".", 1, 1, 1 << 20, &flags), 1);
		ak_buf_free(&b);
	}
}

static const struct smtpd_msg_in msg_in = {"news", "smtp-tool-2026-05-01",   "0a1b", "example.com",
                                           1,      INT64_C(1777593600000000)};

static void test_smtpd__message_loses_akashi_headers_and_keeps_its_id(void **state)
{
	const char *m = "From: <news@example.com>\r\n"
	                "X-Akashi-Campaign: spring-1\r\n"
	                "X-Akashi-List:\r\n news\r\n"
	                "Message-ID: <m1@tool.example>\r\n"
	                "List-Unsubscribe: <https://tool.example/u>\r\n"
	                "Bcc: boss@example.com\r\n"
	                "\r\n"
	                "X-Akashi-Campaign: in the body stays\r\n";
	struct ak_buf out = AK_BUF_INIT(0);
	struct smtpd_msg_out r;

	(void)state;
	assert_int_equal(smtpd_message(&out, m, strlen(m), &msg_in, &r), 0);
	assert_string_equal(r.campaign, "spring-1");
	assert_string_equal(r.message_id, "<m1@tool.example>");
	assert_string_equal(out.data, "From: <news@example.com>\r\n"
	                              "Message-ID: <m1@tool.example>\r\n"
	                              "Date: Fri, 1 May 2026 00:00:00 +0000\r\n"
	                              "\r\n"
	                              "X-Akashi-Campaign: in the body stays\r\n");
	ak_buf_free(&out);
}

static void test_smtpd__message_of_another_list_is_refused(void **state)
{
	const char *m = "X-Akashi-List: other\r\nSubject: x\r\n\r\nbody\r\n";
	const char *noid = "Subject: x\r\n\r\nbody\r\n";
	struct ak_buf out = AK_BUF_INIT(0);
	struct smtpd_msg_out r;

	(void)state;
	assert_int_equal(smtpd_message(&out, m, strlen(m), &msg_in, &r), AK_EINVALID);
	assert_int_equal(r.code, 554);
	assert_string_equal(r.enh, "5.7.1");
	assert_int_equal(smtpd_message(&out, noid, strlen(noid), &msg_in, &r), 0);
	assert_string_equal(r.campaign, "smtp-tool-2026-05-01");
	assert_string_equal(r.message_id, "<0a1b@example.com>");
	ak_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_smtpd__mail_and_rcpt_take_lower_case_addresses),
	        cmocka_unit_test(test_smtpd__bad_commands_get_5xx_replies),
	        cmocka_unit_test(test_smtpd__auth_plain_names_stream_and_list),
	        cmocka_unit_test(test_smtpd__data_lines_are_unstuffed_and_bounded),
	        cmocka_unit_test(test_smtpd__data_ends_only_at_crlf_dot_crlf),
	        cmocka_unit_test(test_smtpd__message_loses_akashi_headers_and_keeps_its_id),
	        cmocka_unit_test(test_smtpd__message_of_another_list_is_refused),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
