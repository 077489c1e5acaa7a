/*
 * tests/unit/test_dsn.c - the DSN and ARF adapter (auditd/ingest/dsn.h).
 *
 * The samples of tests/data/dsn (one a real Postfix bounce) and
 * tests/data/arf are read and compared record by record; small messages
 * written inline cover the edge cases of the status part: several
 * recipients, folded lines and CRLF, a missing Final-Recipient, a
 * multipart/report that is not a DSN, garbage, mailboxes. Tests run from
 * the repository root.
 */
#include "tests/unit/ingest_capture.h"

#include "auditd/ingest/dsn.h"
#include "lib/buf.h"

#define DSN_HEAD                                                                                   \
	"Date: Fri, 06 Mar 2026 10:00:00 +0000\n"                                                  \
	"From: MAILER-DAEMON@mta.test\n"                                                           \
	"Message-ID: <n1@mta.test>\n"                                                              \
	"MIME-Version: 1.0\n"                                                                      \
	"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n"          \
	"--B\nContent-Type: text/plain\n\nbounced\n\n"                                             \
	"--B\nContent-Type: message/delivery-status\n\n"
#define DSN_TAIL                                                                                   \
	"\n--B\nContent-Type: text/rfc822-headers\n\n"                                             \
	"Message-ID: <orig-1@sender.test>\nX-Akashi-Campaign: c1\nTo: x@y.test\n\n--B--\n"

static void run(struct capture *cap, const char *text, int arf)
{
	struct ingest_sink sink;
	struct ingest_options opt;

	memset(&opt, 0, sizeof(opt));
	capture_init(cap, &sink);
	assert_int_equal(ingest_dsn_mem(text, strlen(text), arf, &opt, &sink), 0);
}

static void run_file(struct capture *cap, const char *path, int arf)
{
	struct ingest_sink sink;
	struct ingest_options opt;

	memset(&opt, 0, sizeof(opt));
	opt.name = path;
	capture_init(cap, &sink);
	assert_int_equal(ingest_dsn_path(path, arf, &opt, &sink), 0);
}

static void test_dsn__real_postfix_bounce(void **state)
{
	struct capture cap;

	(void)state;
	run_file(&cap, "tests/data/dsn/postfix-bounce.eml", 0);
	capture_expect(
	        &cap,
	        "{\"records\":["
	        "{\"kind\":\"send\",\"time\":\"2026-11-22T12:15:19Z\",\"source\":\"dsn:mx1.akashi."
	        "test\","
	        "\"event_id\":\"20261122121519.3018FA76830@mx1.akashi.test!nobody1@error.test\","
	        "\"where\":\"tests/data/dsn/postfix-bounce.eml: recipient 1\","
	        "\"body\":{\"campaign\":\"spring-1\",\"dsn\":\"5.1.1\","
	        "\"message_id\":\"dsn-probe-1@sender.test\",\"orig_to\":\"nobody1@error.test\","
	        "\"rcpt\":\"nobody1@error.test\",\"reply\":\"mailbox unavailable (akashi test)\","
	        "\"status\":\"bounced\"}},"
	        "{\"kind\":\"send\",\"time\":\"2026-11-22T12:15:19Z\",\"source\":\"dsn:mx1.akashi."
	        "test\","
	        "\"event_id\":\"20261122121519.3018FA76830@mx1.akashi.test!gone1@bounce.test\","
	        "\"where\":\"tests/data/dsn/postfix-bounce.eml: recipient 2\","
	        "\"body\":{\"campaign\":\"spring-1\",\"dsn\":\"5.3.0\","
	        "\"message_id\":\"dsn-probe-1@sender.test\",\"orig_to\":\"gone1@bounce.test\","
	        "\"rcpt\":\"gone1@bounce.test\",\"relay\":\"127.0.0.1\","
	        "\"reply\":\"500 5.3.0 Error: command failed\",\"status\":\"bounced\"}}]}");
	capture_free(&cap);
}

static void test_dsn__delayed_is_deferred_4xx_failed_is_expired_delivered_skipped(void **state)
{
	struct capture cap;
	json_t *recs;

	(void)state;
	run_file(&cap, "tests/data/dsn/delayed-and-4xx.eml", 0);
	recs = json_object_get(cap.doc, "records");
	assert_int_equal(json_array_size(recs), 2);
	assert_string_equal(json_string_value(json_object_get(
	                            json_object_get(json_array_get(recs, 0), "body"), "status")),
	                    "deferred");
	/* The folded Diagnostic-Code reads as one line. */
	assert_string_equal(json_string_value(json_object_get(
	                            json_object_get(json_array_get(recs, 0), "body"), "reply")),
	                    "451 4.4.1 greylisted, try again later");
	assert_string_equal(json_string_value(json_object_get(
	                            json_object_get(json_array_get(recs, 1), "body"), "status")),
	                    "expired");
	assert_int_equal(json_array_size(json_object_get(cap.doc, "rejects")), 0);
	assert_int_equal(json_array_size(json_object_get(cap.doc, "skips")), 1);
	capture_free(&cap);
}

/* CRLF line ends, folded fields, three recipients, a per-message block. */
static void test_dsn__several_recipients_crlf_and_folding(void **state)
{
	static const char *const lf =
	        DSN_HEAD "Reporting-MTA: dns;\n  mta.test\n\n"
	                 "Final-Recipient: rfc822; <A@Example.TEST>\n"
	                 "Action: failed\nStatus: 5.1.1\n\n"
	                 "Final-Recipient:\n\trfc822; b@example.test\n"
	                 "Action: failed\nStatus: 5.7.1 (policy)\n"
	                 "Diagnostic-Code: smtp; 550 5.7.1 rejected\n   by policy\n"
	                 "Remote-MTA: dns; mx.example.test\n\n"
	                 "Final-Recipient: rfc822; c@example.test\nAction: delayed\nStatus: "
	                 "4.0.0\n" DSN_TAIL;
	struct ak_buf crlf = AK_BUF_INIT(0);
	struct capture cap;
	const char *p;

	(void)state;
	for (p = lf; *p; p++)
		assert_int_equal(*p == '\n' ? ak_buf_puts(&crlf, "\r\n") : ak_buf_putc(&crlf, *p),
		                 0);
	run(&cap, crlf.data, 0);
	capture_expect(
	        &cap,
	        "{\"records\":["
	        "{\"kind\":\"send\",\"time\":\"2026-03-06T10:00:00Z\",\"source\":\"dsn:mta.test\","
	        "\"event_id\":\"n1@mta.test!a@example.test\",\"where\":\"-: recipient 1\","
	        "\"body\":{\"campaign\":\"c1\",\"dsn\":\"5.1.1\",\"message_id\":\"orig-1@sender."
	        "test\","
	        "\"rcpt\":\"a@example.test\",\"status\":\"bounced\"}},"
	        "{\"kind\":\"send\",\"time\":\"2026-03-06T10:00:00Z\",\"source\":\"dsn:mta.test\","
	        "\"event_id\":\"n1@mta.test!b@example.test\",\"where\":\"-: recipient 2\","
	        "\"body\":{\"campaign\":\"c1\",\"dsn\":\"5.7.1\",\"message_id\":\"orig-1@sender."
	        "test\","
	        "\"rcpt\":\"b@example.test\",\"relay\":\"mx.example.test\","
	        "\"reply\":\"550 5.7.1 rejected by policy\",\"status\":\"bounced\"}},"
	        "{\"kind\":\"send\",\"time\":\"2026-03-06T10:00:00Z\",\"source\":\"dsn:mta.test\","
	        "\"event_id\":\"n1@mta.test!c@example.test\",\"where\":\"-: recipient 3\","
	        "\"body\":{\"campaign\":\"c1\",\"dsn\":\"4.0.0\",\"message_id\":\"orig-1@sender."
	        "test\","
	        "\"rcpt\":\"c@example.test\",\"status\":\"deferred\"}}]}");
	ak_buf_free(&crlf);
	capture_free(&cap);
}

static void test_dsn__missing_final_recipient_rejects_that_block_only(void **state)
{
	struct capture cap;

	(void)state;
	run(&cap,
	    DSN_HEAD
	    "Reporting-MTA: dns; mta.test\n\n"
	    "Original-Recipient: rfc822; lost@example.test\nAction: failed\nStatus: 5.1.1\n\n"
	    "Final-Recipient: rfc822; x400; not-an-address\nAction: failed\nStatus: 5.1.1\n\n"
	    "Final-Recipient: rfc822; ok@example.test\nAction: failed\nStatus: 5.1.1\n\n"
	    "Final-Recipient: rfc822; odd@example.test\nAction: bounced\nStatus: 5.1.1\n\n"
	    "Final-Recipient: rfc822; odd2@example.test\nAction: failed\nStatus: 5.1\n\n"
	    "Final-Recipient: rfc822; odd3@example.test\nAction: failed\n" DSN_TAIL,
	    0);
	assert_int_equal(json_array_size(json_object_get(cap.doc, "records")), 1);
	capture_expect(
	        &cap,
	        "{\"records\":[{\"kind\":\"send\",\"time\":\"2026-03-06T10:00:00Z\","
	        "\"source\":\"dsn:mta.test\",\"event_id\":\"n1@mta.test!ok@example.test\","
	        "\"where\":\"-: recipient 3\",\"body\":{\"campaign\":\"c1\",\"dsn\":\"5.1.1\","
	        "\"message_id\":\"orig-1@sender.test\",\"rcpt\":\"ok@example.test\","
	        "\"status\":\"bounced\"}}],"
	        "\"rejects\":["
	        "{\"where\":\"-: recipient 1\",\"reason\":\"no Final-Recipient\"},"
	        "{\"where\":\"-: recipient 2\",\"reason\":\"Final-Recipient: 'rfc822; x400; "
	        "not-an-address' is not an e-mail address\"},"
	        "{\"where\":\"-: recipient 4\",\"reason\":\"Action: 'bounced' is not failed, "
	        "delayed, "
	        "delivered, relayed or expanded\"},"
	        "{\"where\":\"-: recipient 5\",\"reason\":\"Status: '5.1' is not a status code "
	        "(class.subject.detail)\"},"
	        "{\"where\":\"-: recipient 6\",\"reason\":\"no Status\"}]}");
	capture_free(&cap);
}

static void test_dsn__feedback_report_is_not_a_dsn(void **state)
{
	struct capture cap;
	char *text = capture_slurp("tests/data/arf/abuse-rfc822.eml");

	(void)state;
	run(&cap, text, 0);
	capture_expect(&cap, "{\"rejects\":[{\"where\":\"-\",\"reason\":\"not a delivery status "
	                     "notification (no message/delivery-status part; Content-Type "
	                     "multipart/report; report-type=feedback-report)\"}]}");
	capture_free(&cap);
	free(text);
}

static void test_dsn__garbage_and_plain_mail_are_rejected(void **state)
{
	struct capture cap;

	(void)state;
	run(&cap, "\x01\x02garbage\xff", 0);
	capture_expect(&cap, "{\"rejects\":[{\"where\":\"-\",\"reason\":\"not an e-mail message "
	                     "or mailbox\"}]}");
	capture_free(&cap);
	run(&cap, "Subject: hello\n\nnot a report\n", 0);
	capture_expect(&cap, "{\"rejects\":[{\"where\":\"-\",\"reason\":\"not a delivery status "
	                     "notification (no message/delivery-status part; Content-Type "
	                     "text/plain)\"}]}");
	capture_free(&cap);
	/* A DSN without a date: the event has no time. */
	run(&cap,
	    "From: x@y.test\nContent-Type: multipart/report; boundary=B\n\n"
	    "--B\nContent-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; m\n\nFinal-Recipient: rfc822; a@b.test\nAction: failed\n"
	    "Status: 5.0.0\n\n--B--\n",
	    0);
	capture_expect(&cap, "{\"rejects\":[{\"where\":\"-\",\"reason\":\"no usable Date or "
	                     "Arrival-Date\"}]}");
	capture_free(&cap);
	/* Only per-message fields. */
	run(&cap, DSN_HEAD "Reporting-MTA: dns; mta.test\n" DSN_TAIL, 0);
	capture_expect(&cap, "{\"rejects\":[{\"where\":\"-\",\"reason\":\"no per-recipient fields "
	                     "(Final-Recipient, Action, Status)\"}]}");
	capture_free(&cap);
}

/* An mbox: every message counts, a non-DSN one (an auto-reply in the
 * bounce mailbox) is skipped, by number; a lone one is rejected (above). */
static void test_dsn__mbox_messages_are_numbered(void **state)
{
	struct capture cap;

	(void)state;
	run(&cap,
	    "From MAILER-DAEMON Fri Mar  6 10:00:00 2026\n" DSN_HEAD
	    "Final-Recipient: rfc822; a@example.test\nAction: failed\nStatus: 5.1.1\n" DSN_TAIL
	    "\nFrom someone Fri Mar  6 10:00:01 2026\nSubject: hi\n\nhello\n",
	    0);
	capture_expect(
	        &cap,
	        "{\"records\":[{\"kind\":\"send\",\"time\":\"2026-03-06T10:00:00Z\","
	        "\"source\":\"dsn\",\"event_id\":\"n1@mta.test!a@example.test\","
	        "\"where\":\"-: message 1\",\"body\":{\"campaign\":\"c1\",\"dsn\":\"5.1.1\","
	        "\"message_id\":\"orig-1@sender.test\",\"rcpt\":\"a@example.test\","
	        "\"status\":\"bounced\"}}],"
	        "\"skips\":[{\"where\":\"-: message 2\",\"why\":\"not a delivery status "
	        "notification (no message/delivery-status part; Content-Type text/plain)\"}]}");
	capture_free(&cap);
}

static void test_arf__abuse_with_the_whole_original(void **state)
{
	struct capture cap;

	(void)state;
	run_file(&cap, "tests/data/arf/abuse-rfc822.eml", 1);
	capture_expect(&cap,
	               "{\"records\":[{\"kind\":\"send\",\"time\":\"2026-03-03T00:14:02Z\","
	               "\"source\":\"arf:feedback.mailbox-provider.test\","
	               "\"event_id\":\"fbl-20260303-0001@feedback.mailbox-provider.test!"
	               "hanako@mailbox-provider.test\","
	               "\"where\":\"tests/data/arf/abuse-rfc822.eml\","
	               "\"body\":{\"campaign\":\"spring-2026\",\"feedback_type\":\"abuse\","
	               "\"message_id\":\"spring-2026-0042@sender.test\","
	               "\"rcpt\":\"hanako@mailbox-provider.test\",\"source_ip\":\"192.0.2.25\","
	               "\"status\":\"complained\"}}]}");
	capture_free(&cap);
}

static void test_arf__headers_only_recipient_from_to(void **state)
{
	struct capture cap;
	json_t *body;

	(void)state;
	run_file(&cap, "tests/data/arf/abuse-headers.eml", 1);
	assert_int_equal(json_array_size(json_object_get(cap.doc, "records")), 1);
	body = json_object_get(json_array_get(json_object_get(cap.doc, "records"), 0), "body");
	assert_string_equal(json_string_value(json_object_get(body, "rcpt")),
	                    "jiro@other-isp.test");
	assert_string_equal(json_string_value(json_object_get(body, "campaign")), "autumn-2026");
	assert_string_equal(json_string_value(json_object_get(body, "message_id")),
	                    "autumn-7@sender.test");
	capture_free(&cap);
}

static void test_arf__not_spam_is_skipped_and_a_dsn_is_not_arf(void **state)
{
	struct capture cap;

	(void)state;
	run_file(&cap, "tests/data/arf/not-spam.eml", 1);
	capture_expect(&cap, "{\"skips\":[{\"where\":\"tests/data/arf/not-spam.eml\","
	                     "\"why\":\"Feedback-Type not-spam: not a complaint\"}]}");
	capture_free(&cap);
	run_file(&cap, "tests/data/dsn/postfix-bounce.eml", 1);
	capture_expect(&cap,
	               "{\"rejects\":[{\"where\":\"tests/data/dsn/postfix-bounce.eml\","
	               "\"reason\":\"not an ARF feedback report (no message/feedback-report "
	               "part; Content-Type multipart/report; report-type=delivery-status)\"}]}");
	capture_free(&cap);
}

static void test_arf__no_recipient_anywhere_is_rejected(void **state)
{
	struct capture cap;

	(void)state;
	run(&cap,
	    "Date: Fri, 06 Mar 2026 10:00:00 +0000\nFrom: f@isp.test\n"
	    "Content-Type: multipart/report; report-type=feedback-report; boundary=B\n\n"
	    "--B\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n\n--B--\n",
	    1);
	capture_expect(&cap, "{\"rejects\":[{\"where\":\"-\",\"reason\":\"no Original-Rcpt-To, "
	                     "and no To in the returned message\"}]}");
	capture_free(&cap);
}

static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dsn__real_postfix_bounce),
        cmocka_unit_test(test_dsn__delayed_is_deferred_4xx_failed_is_expired_delivered_skipped),
        cmocka_unit_test(test_dsn__several_recipients_crlf_and_folding),
        cmocka_unit_test(test_dsn__missing_final_recipient_rejects_that_block_only),
        cmocka_unit_test(test_dsn__feedback_report_is_not_a_dsn),
        cmocka_unit_test(test_dsn__garbage_and_plain_mail_are_rejected),
        cmocka_unit_test(test_dsn__mbox_messages_are_numbered),
        cmocka_unit_test(test_arf__abuse_with_the_whole_original),
        cmocka_unit_test(test_arf__headers_only_recipient_from_to),
        cmocka_unit_test(test_arf__not_spam_is_skipped_and_a_dsn_is_not_arf),
        cmocka_unit_test(test_arf__no_recipient_anywhere_is_rejected),
};

AK_UNIT_MAIN(tests)
