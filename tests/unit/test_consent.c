/*
 * tests/unit/test_consent.c - the consent CSV adapter: each file under
 * tests/data/consent/ against its .expected.json (records and rejects,
 * exactly), and the options and sink behaviour that files cannot show.
 */
#include "tests/unit/ingest_capture.h"

#include "auditd/ingest/consent.h"

#include <stdio.h>
#include <string.h>

/* Run the adapter over tests/data/consent/NAME.csv and compare with
 * NAME.expected.json. */
static void golden(const char *name)
{
	char path[256], expected[256];
	struct ingest_options opt;
	struct ingest_sink sink;
	struct capture cap;
	FILE *in;

	snprintf(path, sizeof(path), "tests/data/consent/%s.csv", name);
	snprintf(expected, sizeof(expected), "tests/data/consent/%s.expected.json", name);
	in = fopen(path, "rb");
	assert_non_null(in);
	memset(&opt, 0, sizeof(opt));
	opt.name = path;
	capture_init(&cap, &sink);
	assert_int_equal(ingest_consent_csv(in, &opt, &sink), 0);
	fclose(in);
	capture_check_golden(&cap, expected);
	capture_free(&cap);
}

/* Run the adapter over text with the given options; returns its code. */
static int run_text(const char *text, struct ingest_options *opt, struct capture *cap)
{
	struct ingest_sink sink;
	FILE *in;
	int rc;

	in = fmemopen((void *)text, strlen(text), "r");
	assert_non_null(in);
	capture_init(cap, &sink);
	rc = ingest_consent_csv(in, opt, &sink);
	fclose(in);
	return rc;
}

#define GOLDEN(name)                                                                              \
	static void test_consent__##name(void **state)                                            \
	{                                                                                         \
		(void)state;                                                                      \
		golden(#name);                                                                    \
	}

/* Body fields, nested proof, time offsets, event_id, empty cells left out. */
GOLDEN(basic)
/* BOM, CRLF, id column, quoted commas and CRLF in a form URL, Japanese lists. */
GOLDEN(bom_crlf)
/* Bad rows among good ones: every problem rejected, the good rows kept. */
GOLDEN(bad_rows)
/* A row in Shift_JIS among UTF-8 rows. */
GOLDEN(shift_jis_row)
/* Names outside the contract are kept as body fields. */
GOLDEN(unknown_columns)
/* An unterminated quote swallows the rest of the input. */
GOLDEN(unterminated)
/* A header and no rows: nothing, and no complaint. */
GOLDEN(header_only)
/* Headers that refuse the whole file. */
GOLDEN(empty)
GOLDEN(bad_header_repeat)
GOLDEN(bad_header_empty)
GOLDEN(bad_header_path)
GOLDEN(bad_header_space)
GOLDEN(bad_header_nested)
GOLDEN(bad_header_no_time)
GOLDEN(bad_header_two_ids)
GOLDEN(bad_header_quote)

static void test_consent__source_option_and_stdin_name(void **state)
{
	struct ingest_options opt;
	struct capture cap;
	const char *text = "subject,list,action,method,time\n"
			   "a@example.com,news,opt_in,form,2026-11-01T10:00:00Z\n";

	(void)state;
	memset(&opt, 0, sizeof(opt));
	opt.name = "-";
	assert_int_equal(run_text(text, &opt, &cap), 0);
	capture_expect(&cap, "{\"records\":[{\"kind\":\"consent\","
			     "\"time\":\"2026-11-01T10:00:00Z\","
			     "\"source\":\"csv:stdin\",\"where\":\"-:2\",\"body\":{\"subject\":"
			     "\"a@example.com\",\"list\":\"news\",\"action\":\"opt_in\","
			     "\"method\":\"form\"}}]}");
	capture_free(&cap);

	opt.name = "/var/spool/akashi/in/crm-2026-11.csv";
	opt.source = "api:crm";
	assert_int_equal(run_text(text, &opt, &cap), 0);
	capture_expect(&cap, "{\"records\":[{\"kind\":\"consent\","
			     "\"time\":\"2026-11-01T10:00:00Z\","
			     "\"source\":\"api:crm\",\"where\":"
			     "\"/var/spool/akashi/in/crm-2026-11.csv:2\",\"body\":{\"subject\":"
			     "\"a@example.com\",\"list\":\"news\",\"action\":\"opt_in\","
			     "\"method\":\"form\"}}]}");
	capture_free(&cap);

	opt.source = NULL;
	assert_int_equal(run_text(text, &opt, &cap), 0);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(cap.doc, "records"), 0),
				    "source")),
			    "csv:crm-2026-11.csv");
	capture_free(&cap);
}

static void test_consent__sink_stop_ends_reading_with_the_name(void **state)
{
	struct ingest_options opt;
	struct ingest_sink sink;
	struct capture cap;
	FILE *in = fopen("tests/data/consent/basic.csv", "rb");

	(void)state;
	assert_non_null(in);
	memset(&opt, 0, sizeof(opt));
	opt.name = "basic.csv";
	capture_init(&cap, &sink);
	cap.stop_after = 2;
	assert_int_equal(ingest_consent_csv(in, &opt, &sink), AK_ERROR);
	assert_string_equal(ak_error_last(), "basic.csv: sink: stop");
	assert_int_equal(json_array_size(json_object_get(cap.doc, "records")), 2);
	fclose(in);
	capture_free(&cap);
}

static void test_consent__row_over_max_line_is_rejected_and_reading_goes_on(void **state)
{
	struct ingest_options opt;
	struct capture cap;
	const char *text = "subject,list,action,method,time\n"
			   "a@example.com,news,opt_in,form,2026-11-01T10:00:00Z\n"
			   "a-very-long-address-that-goes-on-and-on-and-on-and-on-and-on"
			   "@example.com,"
			   "news,opt_in,form,"
			   "2026-11-01T10:00:00Z\n"
			   "b@example.com,news,opt_in,form,2026-11-01T10:00:00Z\n";

	(void)state;
	memset(&opt, 0, sizeof(opt));
	opt.name = "x.csv";
	opt.max_line = 64;
	assert_int_equal(run_text(text, &opt, &cap), 0);
	capture_expect(&cap,
		       "{\"records\":["
		       "{\"kind\":\"consent\",\"time\":\"2026-11-01T10:00:00Z\",\"source\":"
		       "\"csv:x.csv\",\"where\":\"x.csv:2\",\"body\":{"
		       "\"subject\":\"a@example.com\","
		       "\"list\":\"news\",\"action\":\"opt_in\",\"method\":\"form\"}},"
		       "{\"kind\":\"consent\",\"time\":\"2026-11-01T10:00:00Z\",\"source\":"
		       "\"csv:x.csv\",\"where\":\"x.csv:4\",\"body\":{"
		       "\"subject\":\"b@example.com\","
		       "\"list\":\"news\",\"action\":\"opt_in\",\"method\":\"form\"}}],"
		       "\"rejects\":[{\"where\":\"x.csv:3\",\"reason\":"
		       "\"row 2: field 1 is longer than 64 bytes\"}]}");
	capture_free(&cap);
}

static void test_consent__long_hostile_header_name_is_shortened(void **state)
{
	struct ingest_options opt;
	struct capture cap;
	char text[400];

	(void)state;
	/* 100 Japanese characters (300 bytes) and a tab: the name is cut at a
	 * character boundary within 64 bytes and the tab is shown as '?'. */
	memcpy(text, "time,\"\t", 7);
	for (int i = 0; i < 100; i++)
		memcpy(text + 7 + 3 * i, "\xe3\x81\x82", 3);
	memcpy(text + 307, "\"\n", 3);
	memset(&opt, 0, sizeof(opt));
	opt.name = "h.csv";
	assert_int_equal(run_text(text, &opt, &cap), 0);
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(cap.doc, "rejects"), 0), "reason")),
		"header: column 2 '?\xe3\x81\x82\xe3\x81\x82\xe3\x81\x82\xe3\x81\x82\xe3\x81\x82"
		"\xe3\x81\x82\xe3\x81\x82\xe3\x81\x82\xe3\x81\x82\xe3\x81\x82\xe3\x81\x82\xe3\x81"
		"\x82\xe3\x81\x82\xe3\x81\x82\xe3\x81\x82\xe3\x81\x82\xe3\x81\x82\xe3\x81\x82\xe3"
		"\x81\x82\xe3\x81\x82\xe3\x81\x82...' is not a field name (names of letters, "
		"digits, '_' and '-', joined by '.')");
	capture_free(&cap);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_consent__basic),
	cmocka_unit_test(test_consent__bom_crlf),
	cmocka_unit_test(test_consent__bad_rows),
	cmocka_unit_test(test_consent__shift_jis_row),
	cmocka_unit_test(test_consent__unknown_columns),
	cmocka_unit_test(test_consent__unterminated),
	cmocka_unit_test(test_consent__header_only),
	cmocka_unit_test(test_consent__empty),
	cmocka_unit_test(test_consent__bad_header_repeat),
	cmocka_unit_test(test_consent__bad_header_empty),
	cmocka_unit_test(test_consent__bad_header_path),
	cmocka_unit_test(test_consent__bad_header_space),
	cmocka_unit_test(test_consent__bad_header_nested),
	cmocka_unit_test(test_consent__bad_header_no_time),
	cmocka_unit_test(test_consent__bad_header_two_ids),
	cmocka_unit_test(test_consent__bad_header_quote),
	cmocka_unit_test(test_consent__source_option_and_stdin_name),
	cmocka_unit_test(test_consent__sink_stop_ends_reading_with_the_name),
	cmocka_unit_test(test_consent__row_over_max_line_is_rejected_and_reading_goes_on),
	cmocka_unit_test(test_consent__long_hostile_header_name_is_shortened),
};

AK_UNIT_MAIN(tests)
