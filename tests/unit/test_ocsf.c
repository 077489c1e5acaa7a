/*
 * tests/unit/test_ocsf.c - the OCSF admin adapter: each file under
 * tests/data/ocsf/ against its .expected.json (records and rejects,
 * exactly), and the options, limits and odd starts of an input.
 */
#include "tests/unit/ingest_capture.h"

#include "auditd/ingest/ocsf.h"

#include <stdio.h>
#include <string.h>

/* Run the adapter over tests/data/ocsf/FILE and compare with
 * tests/data/ocsf/STEM.expected.json. */
static void golden(const char *file)
{
	char path[256], expected[256];
	struct ingest_options opt;
	struct ingest_sink sink;
	struct capture cap;
	const char *dot = strrchr(file, '.');
	FILE *in;

	snprintf(path, sizeof(path), "tests/data/ocsf/%s", file);
	snprintf(expected, sizeof(expected), "tests/data/ocsf/%.*s.expected.json",
		 (int)(dot - file), file);
	in = fopen(path, "rb");
	assert_non_null(in);
	memset(&opt, 0, sizeof(opt));
	opt.name = file;
	capture_init(&cap, &sink);
	assert_int_equal(ingest_admin_ocsf(in, &opt, &sink), 0);
	fclose(in);
	capture_check_golden(&cap, expected);
	capture_free(&cap);
}

/* Run the adapter over len bytes of text; returns its code. */
static int run_bytes(const char *text, size_t len, struct ingest_options *opt,
		     struct capture *cap)
{
	struct ingest_sink sink;
	FILE *in;
	int rc;

	in = len ? fmemopen((void *)text, len, "r") : fopen("/dev/null", "r");
	assert_non_null(in);
	capture_init(cap, &sink);
	rc = ingest_admin_ocsf(in, opt, &sink);
	fclose(in);
	return rc;
}

#define GOLDEN(name, file)                                                                        \
	static void test_ocsf__##name(void **state)                                               \
	{                                                                                         \
		(void)state;                                                                      \
		golden(file);                                                                     \
	}

/* 3002: logon success/failure, logoff, numeric uid, unknown status, other
 * activity, no metadata, blank line. */
GOLDEN(authentication_mapping, "authentication.jsonl")
/* 3001: every activity 1-11, unknown 0 and 99, no actor, actor by uid. */
GOLDEN(account_change_mapping, "account_change.jsonl")
/* 3005, 3006, 3003, 6003: action other, ids kept, actor/target found. */
GOLDEN(other_classes_are_kept, "other_classes.jsonl")
/* Every kind of bad line, among good ones, with its line and field. */
GOLDEN(bad_lines_are_rejected_with_line_and_field, "bad_lines.jsonl")
GOLDEN(invalid_utf8_line_is_rejected, "bad_utf8.jsonl")
/* BOM, CRLF, blank CRLF line, Japanese name. */
GOLDEN(bom_and_crlf, "bom_crlf.jsonl")
GOLDEN(blank_input, "blank.jsonl")
/* Arrays: element lines, a non-object and a bad element kept apart. */
GOLDEN(array_elements_have_their_lines, "array.json")
GOLDEN(array_on_one_line, "array_one_line.json")
GOLDEN(array_empty, "array_empty.json")
GOLDEN(array_syntax_error_ends_the_input, "array_broken.json")
GOLDEN(array_data_after_the_end, "array_trailing.json")
GOLDEN(array_missing_comma, "array_missing_comma.json")
GOLDEN(array_not_closed, "array_unclosed.json")

static const char logon[] = "{\"class_uid\":3002,\"activity_id\":1,\"status_id\":1,"
			    "\"time\":1795219200000,\"user\":{\"name\":\"a\"},"
			    "\"metadata\":{\"product\":{\"name\":\"Okta\"}}}\n";

static void test_ocsf__source_option_wins_over_product(void **state)
{
	struct ingest_options opt;
	struct capture cap;

	(void)state;
	memset(&opt, 0, sizeof(opt));
	opt.name = "-";
	opt.source = "siem:splunk";
	assert_int_equal(run_bytes(logon, strlen(logon), &opt, &cap), 0);
	capture_expect(&cap, "{\"records\":[{\"kind\":\"admin\",\"time\":\"2026-11-21T00:00:00Z\","
			     "\"source\":\"siem:splunk\",\"where\":\"-:1\",\"body\":{"
			     "\"actor\":\"a\",\"action\":\"login_success\",\"result\":\"success\","
			     "\"details\":{\"ocsf\":{\"class_uid\":3002,\"activity_id\":1,"
			     "\"status_id\":1}}}}]}");
	capture_free(&cap);
}

static void test_ocsf__empty_input_is_nothing(void **state)
{
	struct ingest_options opt;
	struct capture cap;

	(void)state;
	memset(&opt, 0, sizeof(opt));
	opt.name = "empty.jsonl";
	assert_int_equal(run_bytes("", 0, &opt, &cap), 0);
	capture_expect(&cap, "{}");
	capture_free(&cap);
}

static void test_ocsf__broken_byte_order_mark_is_rejected(void **state)
{
	static const char *const inputs[] = {"\xef", "\xef\xbb", "\xef\n", "\xef\xbb{}\n"};
	static const char *const raws[] = {NULL, NULL, "", "{}"};
	struct ingest_options opt;
	struct capture cap;
	size_t i;

	(void)state;
	memset(&opt, 0, sizeof(opt));
	opt.name = "x";
	for (i = 0; i < 4; i++) {
		json_t *rej;

		assert_int_equal(run_bytes(inputs[i], strlen(inputs[i]), &opt, &cap), 0);
		assert_int_equal(json_array_size(json_object_get(cap.doc, "records")), 0);
		assert_int_equal(json_array_size(json_object_get(cap.doc, "rejects")), 1);
		rej = json_array_get(json_object_get(cap.doc, "rejects"), 0);
		assert_string_equal(json_string_value(json_object_get(rej, "where")), "x:1");
		assert_string_equal(json_string_value(json_object_get(rej, "reason")),
				    "JSON: invalid bytes at the start of the input");
		if (raws[i])
			assert_string_equal(json_string_value(json_object_get(rej, "raw")),
					    raws[i]);
		else
			assert_null(json_object_get(rej, "raw"));
		capture_free(&cap);
	}
}

static void test_ocsf__long_line_is_rejected_and_reading_goes_on(void **state)
{
	struct ingest_options opt;
	struct capture cap;
	char text[1024];
	int n;

	(void)state;
	n = snprintf(text, sizeof(text), "%s{\"class_uid\":3002,\"padding\":\"%0200d\"}\n%s", logon,
		     0, logon);
	memset(&opt, 0, sizeof(opt));
	opt.name = "l.jsonl";
	opt.max_line = 150;
	assert_int_equal(run_bytes(text, (size_t)n, &opt, &cap), 0);
	assert_int_equal(json_array_size(json_object_get(cap.doc, "records")), 2);
	capture_expect(&cap, "{\"records\":[{\"kind\":\"admin\",\"time\":\"2026-11-21T00:00:00Z\","
			     "\"source\":\"ocsf:Okta\",\"where\":\"l.jsonl:1\",\"body\":{"
			     "\"actor\":\"a\",\"action\":\"login_success\",\"result\":\"success\","
			     "\"details\":{\"ocsf\":{\"class_uid\":3002,\"activity_id\":1,"
			     "\"status_id\":1}}}},"
			     "{\"kind\":\"admin\",\"time\":\"2026-11-21T00:00:00Z\","
			     "\"source\":\"ocsf:Okta\",\"where\":\"l.jsonl:3\",\"body\":{"
			     "\"actor\":\"a\",\"action\":\"login_success\",\"result\":\"success\","
			     "\"details\":{\"ocsf\":{\"class_uid\":3002,\"activity_id\":1,"
			     "\"status_id\":1}}}}],"
			     "\"rejects\":[{\"where\":\"l.jsonl:2\","
			     "\"reason\":\"longer than 150 bytes\"}]}");
	capture_free(&cap);
}

static void test_ocsf__array_over_max_bytes_fails_the_input(void **state)
{
	struct ingest_options opt;
	struct capture cap;
	FILE *in = fopen("tests/data/ocsf/array.json", "rb");
	struct ingest_sink sink;

	(void)state;
	assert_non_null(in);
	memset(&opt, 0, sizeof(opt));
	opt.name = "array.json";
	opt.max_bytes = 100;
	capture_init(&cap, &sink);
	assert_int_equal(ingest_admin_ocsf(in, &opt, &sink), AK_ETOOBIG);
	assert_string_equal(ak_error_last(), "array.json: a JSON array input larger than 100 "
					     "bytes (JSON Lines have no such limit)");
	capture_expect(&cap, "{}");
	capture_free(&cap);
	fclose(in);
}

static void test_ocsf__sink_stop_ends_reading_with_the_name(void **state)
{
	struct ingest_options opt;
	struct ingest_sink sink;
	struct capture cap;
	FILE *in = fopen("tests/data/ocsf/account_change.jsonl", "rb");

	(void)state;
	assert_non_null(in);
	memset(&opt, 0, sizeof(opt));
	opt.name = "account_change.jsonl";
	capture_init(&cap, &sink);
	cap.stop_after = 3;
	assert_int_equal(ingest_admin_ocsf(in, &opt, &sink), AK_ERROR);
	assert_string_equal(ak_error_last(), "account_change.jsonl: sink: stop");
	assert_int_equal(json_array_size(json_object_get(cap.doc, "records")), 3);
	fclose(in);
	capture_free(&cap);
}

static void test_ocsf__sink_code_is_not_taken_for_a_bad_event(void **state)
{
	struct ingest_options opt;
	struct ingest_sink sink;
	struct capture cap;
	FILE *in = fmemopen((void *)logon, strlen(logon), "r");

	(void)state;
	/* A sink that stops with AK_EINVALID (say, the pipeline's validation
	 * of a whole batch) stops the adapter; the event is not rejected. */
	assert_non_null(in);
	memset(&opt, 0, sizeof(opt));
	opt.name = "s";
	capture_init(&cap, &sink);
	cap.stop_after = 1;
	cap.nrecords = 1;
	cap.stop_code = AK_EINVALID;
	assert_int_equal(ingest_admin_ocsf(in, &opt, &sink), AK_EINVALID);
	assert_string_equal(ak_error_last(), "s: sink: stop");
	capture_expect(&cap, "{}");
	fclose(in);
	capture_free(&cap);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_ocsf__authentication_mapping),
	cmocka_unit_test(test_ocsf__account_change_mapping),
	cmocka_unit_test(test_ocsf__other_classes_are_kept),
	cmocka_unit_test(test_ocsf__bad_lines_are_rejected_with_line_and_field),
	cmocka_unit_test(test_ocsf__invalid_utf8_line_is_rejected),
	cmocka_unit_test(test_ocsf__bom_and_crlf),
	cmocka_unit_test(test_ocsf__blank_input),
	cmocka_unit_test(test_ocsf__array_elements_have_their_lines),
	cmocka_unit_test(test_ocsf__array_on_one_line),
	cmocka_unit_test(test_ocsf__array_empty),
	cmocka_unit_test(test_ocsf__array_syntax_error_ends_the_input),
	cmocka_unit_test(test_ocsf__array_data_after_the_end),
	cmocka_unit_test(test_ocsf__array_missing_comma),
	cmocka_unit_test(test_ocsf__array_not_closed),
	cmocka_unit_test(test_ocsf__source_option_wins_over_product),
	cmocka_unit_test(test_ocsf__empty_input_is_nothing),
	cmocka_unit_test(test_ocsf__broken_byte_order_mark_is_rejected),
	cmocka_unit_test(test_ocsf__long_line_is_rejected_and_reading_goes_on),
	cmocka_unit_test(test_ocsf__array_over_max_bytes_fails_the_input),
	cmocka_unit_test(test_ocsf__sink_stop_ends_reading_with_the_name),
	cmocka_unit_test(test_ocsf__sink_code_is_not_taken_for_a_bad_event),
};

AK_UNIT_MAIN(tests)
