/*
 * tests/unit/test_jcs.c - strict JSON parsing and RFC 8785 canonical output
 * (lib/jcs.h).
 *
 * Canonical bytes are what outsiders hash to verify the evidence store, so
 * most tests state the exact output. check_canon() gets it three ways (a
 * reused document + ak_jcs_write, ak_jcs_canonicalize, and the jansson
 * writer on ak_jv_to_jansson's copy) and requires the same bytes from each.
 */
#include "tests/unit/unit.h"

#include "lib/buf.h"
#include "lib/error.h"
#include "lib/jcs.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Literal byte strings may hold NULs, so their length comes from sizeof. */
#define LIT(s) (s), (sizeof(s) - 1)

static void check_canon(const char *in, size_t in_len, const char *want, size_t want_len)
{
	struct ak_buf a = AK_BUF_INIT(0), b = AK_BUF_INIT(0), c = AK_BUF_INIT(0);
	struct ak_jdoc *doc = NULL;
	const struct ak_jv *v;
	json_t *j;
	int rc;

	assert_int_equal(ak_jdoc_new(&doc, 0), 0);
	rc = ak_json_parse(doc, in, in_len, &v);
	if (rc != 0)
		fail_msg("parse failed: %s", ak_error_last());
	assert_int_equal(ak_jcs_write(&a, v), 0);
	if (a.len != want_len || memcmp(a.data, want, want_len) != 0)
		fail_msg("got %s\nwant %.*s", a.data, (int)want_len, want);

	assert_int_equal(ak_jcs_canonicalize(&b, in, in_len), 0);
	assert_int_equal(b.len, want_len);
	assert_memory_equal(b.data, want, want_len);

	j = ak_jv_to_jansson(v);
	assert_non_null(j);
	assert_int_equal(ak_jcs_write_jansson(&c, j), 0);
	assert_int_equal(c.len, want_len);
	assert_memory_equal(c.data, want, want_len);

	json_decref(j);
	ak_jdoc_free(doc);
	ak_buf_free(&a);
	ak_buf_free(&b);
	ak_buf_free(&c);
}

#define CANON(in, want) check_canon(LIT(in), LIT(want))

/* The input is refused with code and exactly the message msg. */
static void check_fails(const char *in, size_t in_len, int code, const char *msg)
{
	struct ak_buf out = AK_BUF_INIT(0);
	int rc;

	rc = ak_jcs_canonicalize(&out, in, in_len);
	if (rc != code)
		fail_msg("rc %d, want %d (%s) for input %.*s", rc, code, ak_error_last(),
		         (int)in_len, in);
	if (msg != NULL && strcmp(ak_error_last(), msg) != 0)
		fail_msg("message '%s', want '%s'", ak_error_last(), msg);
	assert_int_equal(out.len, 0); /* nothing appended on failure */
	ak_buf_free(&out);
}

#define FAILS(in, msg) check_fails(LIT(in), AK_EINVALID, msg)

/* ---------------------------------------------------------------------- */

static void test_jcs__rfc8785_sorting_example(void **state)
{
	(void)state;
	/* RFC 8785 section 3.2.3: U+FB33 sorts after the emoji in UTF-16. */
	CANON("{\n  \"\\u20ac\": \"Euro Sign\",\n  \"\\r\": \"Carriage Return\",\n"
	      "  \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\",\n  \"1\": \"One\",\n"
	      "  \"\\ud83d\\ude00\": \"Emoji: Grinning Face\",\n  \"\\u0080\": \"Control\",\n"
	      "  \"\\u00f6\": \"Latin Small Letter O With Diaeresis\"\n}",
	      "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
	      "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\","
	      "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
	      "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

static void test_jcs__rfc8785_example_without_numbers(void **state)
{
	(void)state;
	/* RFC 8785 section 3.2.2's example, its "numbers" member left out. */
	CANON("{\n  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
	      "  \"literals\": [null, true, false]\n}",
	      "{\"literals\":[null,true,false],\"string\":\"\xe2\x82\xac$\\u000f\\nA'"
	      "B\\\"\\\\\\\\\\\"/\"}");
}

static void test_jcs__sorts_by_utf16_not_code_points(void **state)
{
	(void)state;
	/* U+E000 < U+1F600 as code points, but U+1F600 is D83D DE00 in
	 * UTF-16, which sorts first. */
	CANON("{\"\\ue000\":1,\"\\ud83d\\ude00\":2}",
	      "{\"\xf0\x9f\x98\x80\":2,\"\xee\x80\x80\":1}");
	CANON("{\"\xee\x80\x80\":1,\"\xf0\x9f\x98\x80\":2}",
	      "{\"\xf0\x9f\x98\x80\":2,\"\xee\x80\x80\":1}");
	/* Below U+E000 code point order holds: U+D7FF < U+10000. */
	CANON("{\"\xf0\x90\x80\x80\":1,\"\xed\x9f\xbf\":2}",
	      "{\"\xed\x9f\xbf\":2,\"\xf0\x90\x80\x80\":1}");
	/* The same names, longer than the 8-byte sort prefix. */
	CANON("{\"abcdefgh\xee\x80\x80\":1,\"abcdefgh\xf0\x9f\x98\x80\":2}",
	      "{\"abcdefgh\xf0\x9f\x98\x80\":2,\"abcdefgh\xee\x80\x80\":1}");
	CANON("{\"abc\xee\x80\x80z\":1,\"abc\xf0\x9f\x98\x80\":2}",
	      "{\"abc\xf0\x9f\x98\x80\":2,\"abc\xee\x80\x80z\":1}");
}

static void test_jcs__sorts_keys_at_every_level(void **state)
{
	(void)state;
	CANON("{\"b\":{\"z\":1,\"y\":[{\"d\":1,\"c\":2}],\"x\":{}},\"a\":[],\"ab\":0,\"B\":1,\"\":"
	      "2}",
	      "{\"\":2,\"B\":1,\"a\":[],\"ab\":0,\"b\":{\"x\":{},\"y\":[{\"c\":2,\"d\":1}],\"z\":1}"
	      "}");
	/* Prefix order: a shorter name sorts first, also with NUL in it. */
	CANON("{\"a\\u0000\":1,\"a\":2,\"a\\u0000\\u0000\":3,\"a\\u0001\":4}",
	      "{\"a\":2,\"a\\u0000\":1,\"a\\u0000\\u0000\":3,\"a\\u0001\":4}");
}

static void test_jcs__sorts_large_objects(void **state)
{
	char in[4096], want[4096];
	size_t o = 0, w = 0;
	int i;

	(void)state;
	/* 100 members in reverse order: past the insertion-sort size. */
	o += (size_t)snprintf(in + o, sizeof(in) - o, "{");
	for (i = 99; i >= 0; i--)
		o += (size_t)snprintf(in + o, sizeof(in) - o, "\"k%02d\":%d%s", i, i,
		                      i ? "," : "}");
	w += (size_t)snprintf(want + w, sizeof(want) - w, "{");
	for (i = 0; i < 100; i++)
		w += (size_t)snprintf(want + w, sizeof(want) - w, "\"k%02d\":%d%s", i, i,
		                      i < 99 ? "," : "}");
	check_canon(in, o, want, w);

	/* Interleaved, so merges take from both sides. */
	o = (size_t)snprintf(in, sizeof(in), "{");
	for (i = 0; i < 50; i++)
		o += (size_t)snprintf(in + o, sizeof(in) - o, "\"k%02d\":%d,\"k%02d\":%d%s", 99 - i,
		                      99 - i, i, i, i < 49 ? "," : "}");
	check_canon(in, o, want, w);
}

static void test_jcs__escapes_control_characters(void **state)
{
	static const char *const want[32] = {
	        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006",
	        "\\u0007", "\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",
	        "\\u000e", "\\u000f", "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014",
	        "\\u0015", "\\u0016", "\\u0017", "\\u0018", "\\u0019", "\\u001a", "\\u001b",
	        "\\u001c", "\\u001d", "\\u001e", "\\u001f",
	};
	char in[32], out[32];
	int c, n, m;

	(void)state;
	for (c = 0; c < 32; c++) {
		/* Upper-case hex in, lower-case hex out. */
		n = snprintf(in, sizeof(in), "\"\\u%04X\"", c);
		m = snprintf(out, sizeof(out), "\"%s\"", want[c]);
		check_canon(in, (size_t)n, out, (size_t)m);
	}
	CANON("\"\\b\\t\\n\\f\\r\"", "\"\\b\\t\\n\\f\\r\"");
}

static void test_jcs__escapes_only_quote_and_backslash_among_printables(void **state)
{
	(void)state;
	CANON("\"\\\"\"", "\"\\\"\"");
	CANON("\"\\\\\"", "\"\\\\\"");
	CANON("\"\\/\"", "\"/\"");
	CANON("\"/\"", "\"/\"");
	CANON("\"\\u007f\x7f\"", "\"\x7f\x7f\"");
	CANON("\"\\u2028\\u2029\xe2\x80\xa8\"", "\"\xe2\x80\xa8\xe2\x80\xa9\xe2\x80\xa8\"");
	CANON("\"<\\u003e&'\"", "\"<>&'\"");
	/* Long strings take the word-at-a-time paths: escapes at each offset. */
	CANON("\"0123456789abcdef\\\"0123456789\\n\\\\\"",
	      "\"0123456789abcdef\\\"0123456789\\n\\\\\"");
	CANON("\"01234567\\u0001\"", "\"01234567\\u0001\"");
	CANON("\"0123456\\u001f\"", "\"0123456\\u001f\"");
	CANON("\"\\u001f0123456\"", "\"\\u001f0123456\"");
	CANON("\"a \\\"b\"", "\"a \\\"b\"");
}

static void test_jcs__keeps_japanese_text_unescaped(void **state)
{
	(void)state;
	CANON("{\"件名\":\"ご注文ありがとうございます\",\"宛先\":\"山田太郎\"}",
	      "{\"件名\":\"ご注文ありがとうございます\",\"宛先\":\"山田太郎\"}");
	/* Escaped in, UTF-8 out. */
	CANON("\"\\u65e5\\u672C\\u8a9e\"", "\"日本語\"");
}

static void test_jcs__decodes_surrogate_pairs(void **state)
{
	(void)state;
	CANON("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"");
	CANON("\"\\uD83D\\uDE00\"", "\"\xf0\x9f\x98\x80\"");
	CANON("\"\\udbff\\udfff\"", "\"\xf4\x8f\xbf\xbf\"");
	CANON("\"\\ud800\\udc00\"", "\"\xf0\x90\x80\x80\"");
	CANON("\"x\\ud83d\\ude00y\"", "\"x\xf0\x9f\x98\x80y\"");
}

static void test_jcs__rejects_unpaired_surrogates(void **state)
{
	(void)state;
	FAILS("\"\\ud800\"", "column 2: unpaired surrogate \\ud800");
	FAILS("\"\\udc00\"", "column 2: unpaired surrogate \\udc00");
	FAILS("\"\\udc00\\ud800\"", "column 2: unpaired surrogate \\udc00");
	FAILS("\"ab\\uDBFFx\"", "column 4: unpaired surrogate \\udbff");
	FAILS("\"\\ud800\\u0041\"", "column 2: unpaired surrogate \\ud800");
	FAILS("\"\\ud800\\ud800\"", "column 2: unpaired surrogate \\ud800");
	FAILS("\"\\ud800\\n\"", "column 2: unpaired surrogate \\ud800");
	FAILS("{\"x\":\"\\ud800\"}", "column 7: unpaired surrogate \\ud800");
	FAILS("[\"\\ud800", "column 3: unpaired surrogate \\ud800");
}

static void test_jcs__rejects_invalid_utf8(void **state)
{
	(void)state;
	FAILS("\"\xc0\x80\"", "column 2: invalid UTF-8 (byte 0xC0)");         /* overlong NUL */
	FAILS("\"\xc1\xbf\"", "column 2: invalid UTF-8 (byte 0xC1)");         /* overlong */
	FAILS("\"\xe0\x80\xaf\"", "column 2: invalid UTF-8 (byte 0xE0)");     /* overlong '/' */
	FAILS("\"\xf0\x80\x80\xaf\"", "column 2: invalid UTF-8 (byte 0xF0)"); /* overlong */
	FAILS("\"\xed\xa0\x80\"", "column 2: invalid UTF-8 (byte 0xED)");     /* U+D800 */
	FAILS("\"\xed\xbf\xbf\"", "column 2: invalid UTF-8 (byte 0xED)");     /* U+DFFF */
	FAILS("\"\xf4\x90\x80\x80\"", "column 2: invalid UTF-8 (byte 0xF4)"); /* U+110000 */
	FAILS("\"\xf5\x80\x80\x80\"", "column 2: invalid UTF-8 (byte 0xF5)");
	FAILS("\"\xff\"", "column 2: invalid UTF-8 (byte 0xFF)");
	FAILS("\"ab\x80\"", "column 4: invalid UTF-8 (byte 0x80)");   /* lone continuation */
	FAILS("\"\xe3\x81\"", "column 2: invalid UTF-8 (byte 0xE3)"); /* truncated */
	FAILS("\"\xe3\"", "column 2: invalid UTF-8 (byte 0xE3)");
	FAILS("\"\xf0\x9f\x98\"", "column 2: invalid UTF-8 (byte 0xF0)");
	FAILS("\"\xc3", "column 2: invalid UTF-8 (byte 0xC3)"); /* cut by the end of input */
	FAILS("\"\xe3\x81\x82\xe3\x81", "column 5: invalid UTF-8 (byte 0xE3)");
	FAILS("{\"\xc3\x28\":1}", "column 3: invalid UTF-8 (byte 0xC3)"); /* in a name */
	/* Outside strings, any byte >= 0x80 is just unexpected. */
	FAILS("\xef\xbb\xbf{}", "column 1: unexpected byte 0xEF"); /* no BOM */
	/* The edges of what is valid. */
	CANON("\"\xf4\x8f\xbf\xbf\xef\xbf\xbf\xed\x9f\xbf\xee\x80\x80\xc2\x80\xdf\xbf\"",
	      "\"\xf4\x8f\xbf\xbf\xef\xbf\xbf\xed\x9f\xbf\xee\x80\x80\xc2\x80\xdf\xbf\"");
}

static void test_jcs__rejects_raw_control_characters_in_strings(void **state)
{
	(void)state;
	FAILS("\"a\x01\"", "column 3: control character U+0001 in string (escape it)");
	FAILS("\"\t\"", "column 2: control character U+0009 in string (escape it)");
	FAILS("\"\n\"", "column 2: control character U+000A in string (escape it)");
	FAILS("\"ab\0\"", "column 4: control character U+0000 in string (escape it)");
	FAILS("{\"k\x1f\":1}", "column 4: control character U+001F in string (escape it)");
}

static void test_jcs__rejects_floats(void **state)
{
	static const char *const floats[] = {
	        "1.0",
	        "1e3",
	        "1E+3",
	        "-0.5",
	        "0.0",
	        "1e-3",
	        "0e0",
	        "1E3",
	        "123.456",
	        "-1.0e10",
	        "9007199254740993.0",
	        "1.",
	};
	char in[64];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(floats) / sizeof(floats[0]); i++) {
		check_fails(floats[i], strlen(floats[i]), AK_EINVALID,
		            "column 1: floating-point number not allowed (write it as a string)");
		n = snprintf(in, sizeof(in), "{\"n\":[%s]}", floats[i]);
		check_fails(in, (size_t)n, AK_EINVALID,
		            "column 7: floating-point number not allowed (write it as a string)");
	}
}

static void test_jcs__accepts_the_safe_integer_range(void **state)
{
	(void)state;
	CANON("9007199254740991", "9007199254740991");
	CANON("-9007199254740991", "-9007199254740991");
	CANON("[0,1,-1,42,1000000,-1000000]", "[0,1,-1,42,1000000,-1000000]");
	CANON("{\"n\":-0}", "{\"n\":0}");
	CANON("-0", "0");
	CANON("[ -0 , 0 ]", "[0,0]");
}

static void test_jcs__rejects_integers_beyond_the_safe_range(void **state)
{
	char big[1100];

	(void)state;
	FAILS("9007199254740992", "column 1: integer out of range (beyond \u00b1(2^53-1))");
	FAILS("-9007199254740992", "column 1: integer out of range (beyond \u00b1(2^53-1))");
	FAILS("[1,18446744073709551616]", "column 4: integer out of range (beyond \u00b1(2^53-1))");
	FAILS("99999999999999999999", "column 1: integer out of range (beyond \u00b1(2^53-1))");
	FAILS("10000000000000000", "column 1: integer out of range (beyond \u00b1(2^53-1))");
	/* A thousand digits: no overflow on the way (UBSan would abort). */
	memset(big, '9', sizeof(big));
	big[0] = '-';
	check_fails(big, sizeof(big), AK_EINVALID,
	            "column 1: integer out of range (beyond \u00b1(2^53-1))");
}

static void test_jcs__rejects_malformed_numbers(void **state)
{
	(void)state;
	FAILS("01", "column 1: leading zeros not allowed");
	FAILS("-01", "column 1: leading zeros not allowed");
	FAILS("[00]", "column 2: leading zeros not allowed");
	FAILS("-", "column 2: unexpected end of input");
	FAILS("-x", "column 2: expected a digit after '-'");
	FAILS("+1", "column 1: unexpected character '+'");
	FAILS(".5", "column 1: unexpected character '.'");
	FAILS("0x10", "column 2: trailing data after the value");
	FAILS("[1a]", "column 3: expected ',' or ']'");
}

static void test_jcs__rejects_duplicate_keys(void **state)
{
	char in[2048];
	size_t o;
	int i;

	(void)state;
	FAILS("{\"a\":1,\"a\":2}", "column 8: duplicate key 'a'");
	/* Equal only once unescaped. */
	FAILS("{\"a\":1,\"\\u0061\":2}", "column 8: duplicate key 'a'");
	FAILS("{\"\\u0061\":1,\"a\":2}", "column 13: duplicate key 'a'");
	FAILS("{\"x\":{\"b\":1,\"c\":2,\"b\":3}}", "column 19: duplicate key 'b'");
	FAILS("{\"\xe6\x97\xa5\":1,\"\\u65e5\":2}", "column 10: duplicate key '\xe6\x97\xa5'");
	FAILS("{\"\":1,\"\":2}", "column 7: duplicate key ''");
	/* Past the insertion-sort size too. */
	o = (size_t)snprintf(in, sizeof(in), "{");
	for (i = 0; i < 40; i++)
		o += (size_t)snprintf(in + o, sizeof(in) - o, "\"k%d\":%d,", (i * 7) % 40, i);
	o += (size_t)snprintf(in + o, sizeof(in) - o, "\"k13\":0}");
	check_fails(in, o, AK_EINVALID, NULL);
	assert_non_null(strstr(ak_error_last(), "duplicate key 'k13'"));
	/* The same name in different objects is fine. */
	CANON("{\"a\":{\"a\":1},\"b\":{\"a\":2}}", "{\"a\":{\"a\":1},\"b\":{\"a\":2}}");
}

static void test_jcs__quotes_names_safely_in_messages(void **state)
{
	char in[1024];
	const char *msg;
	size_t i;
	int n;

	(void)state;
	/* Escape, DEL and a C1 control stay out of the message. */
	FAILS("{\"\\u001b[31m\\u007f\\u009b'\\\\\":1,\"\\u001b[31m\\u007f\\u009b'\\\\\":2}",
	      "column 32: duplicate key '\\u001b[31m\\u007f\\u009b\\'\\\\'");
	/* A long name is cut. */
	n = snprintf(in, sizeof(in), "{\"%0300d\":1,\"%0300d\":2}", 7, 7);
	check_fails(in, (size_t)n, AK_EINVALID, NULL);
	msg = ak_error_last();
	assert_true(strlen(msg) < 120);
	assert_non_null(strstr(msg, "...'"));
	for (i = 0; msg[i]; i++)
		assert_true((unsigned char)msg[i] >= 0x20 && msg[i] != 0x7f);
}

static void test_jcs__limits_nesting_to_64(void **state)
{
	char in[200];
	int i;

	(void)state;
	for (i = 0; i < 64; i++) {
		in[i] = '[';
		in[64 + i] = ']';
	}
	check_canon(in, 128, in, 128);
	for (i = 0; i < 65; i++) {
		in[i] = '[';
		in[65 + i] = ']';
	}
	check_fails(in, 130, AK_EINVALID, "column 65: nesting deeper than 64");
	/* Objects count the same. */
	memset(in, 0, sizeof(in));
	for (i = 0; i < 32; i++)
		memcpy(in + 6 * i, "{\"a\":[", 6);
	memcpy(in + 192, "{}", 2);
	check_fails(in, 194, AK_EINVALID, "column 193: nesting deeper than 64");
	/* A deep input that is also cut short fails on the depth first. */
	memset(in, '[', sizeof(in));
	check_fails(in, sizeof(in), AK_EINVALID, "column 65: nesting deeper than 64");
}

static void test_jcs__ignores_white_space_variants(void **state)
{
	static const char *const variants[] = {
	        "{\"b\":[1,2,{\"c\":null}],\"a\":true}",
	        " { \"b\" : [ 1 , 2 , { \"c\" : null } ] , \"a\" : true } ",
	        "\n{\r\n\t\"b\":\n[1,\t2,{\"c\"\n:null}]\r,\"a\":true}\n\n",
	        "{\"a\":true,\"b\":[1,2,{\"c\":null}]}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
		check_canon(variants[i], strlen(variants[i]),
		            LIT("{\"a\":true,\"b\":[1,2,{\"c\":null}]}"));
	/* Only the four JSON white space characters. */
	FAILS("\f1", "column 1: unexpected byte 0x0C");
	FAILS("1\v", "column 2: trailing data after the value");
	FAILS("[1,\xc2\xa0"
	      "2]",
	      "column 4: unexpected byte 0xC2");
}

static void test_jcs__rejects_trailing_data(void **state)
{
	(void)state;
	FAILS("{} x", "column 4: trailing data after the value");
	FAILS("1 2", "column 3: trailing data after the value");
	FAILS("[]]", "column 3: trailing data after the value");
	FAILS("nulll", "column 5: trailing data after the value");
	FAILS("{}\0", "column 3: trailing data after the value");
	FAILS("\"a\"\"b\"", "column 4: trailing data after the value");
}

static void test_jcs__rejects_empty_and_truncated_input(void **state)
{
	struct ak_jdoc *doc = NULL;
	const struct ak_jv *v = (const struct ak_jv *)1;

	(void)state;
	FAILS("", "column 1: unexpected end of input");
	FAILS("   \n", "column 5: unexpected end of input");
	FAILS("[1,2", "column 5: unexpected end of input");
	FAILS("{\"a\":", "column 6: unexpected end of input");
	FAILS("{\"a\"", "column 5: unexpected end of input");
	FAILS("{\"a", "column 4: unexpected end of input (unterminated string)");
	FAILS("\"abc\\", "column 6: unexpected end of input");
	FAILS("\"\\u12", "column 6: unexpected end of input");
	FAILS("tru", "column 4: unexpected end of input");
	FAILS("{", "column 2: unexpected end of input");
	assert_int_equal(ak_jdoc_new(&doc, 0), 0);
	assert_int_equal(ak_json_parse(doc, NULL, 0, &v), AK_EINVALID);
	assert_null(v);
	ak_jdoc_free(doc);
}

static void test_jcs__reports_columns_and_reasons(void **state)
{
	(void)state;
	FAILS("{\"a\":1,}", "column 8: expected a string key");
	FAILS("{,}", "column 2: expected a string key or '}'");
	FAILS("{\"a\" 1}", "column 6: expected ':'");
	FAILS("{\"a\":1 \"b\":2}", "column 8: expected ',' or '}'");
	FAILS("[1 2]", "column 4: expected ',' or ']'");
	FAILS("[1,]", "column 4: unexpected character ']'");
	FAILS("{a:1}", "column 2: expected a string key or '}'");
	FAILS("{\"a\":1.5}", "column 6: floating-point number not allowed (write it as a string)");
	FAILS("[true,trux]", "column 7: invalid literal (expected 'true')");
	FAILS("[nul]", "column 2: invalid literal (expected 'null')");
	FAILS("\"\\x\"", "column 2: invalid escape '\\x'");
	FAILS("\"\\u12G4\"", "column 2: invalid \\u escape (expected 4 hex digits)");
	FAILS("\"\\\x01\"", "column 2: invalid escape (byte 0x01 after '\\')");
	FAILS("'a'", "column 1: unexpected character '''");
	FAILS("\x01", "column 1: unexpected byte 0x01");
	/* Columns count bytes, so multi-byte characters before count fully. */
	FAILS("[\"日本\",1.5]",
	      "column 11: floating-point number not allowed (write it as a string)");
}

static void test_jcs__records_where_values_and_names_are(void **state)
{
	/* Offsets survive the sort: "b" comes first in the text, last in members. */
	static const char in[] = " {\"b\": [1, \"日本\"],\n  \"a\" :\ttrue}";
	struct ak_jdoc *doc = NULL;
	const struct ak_jv *v, *b;

	(void)state;
	assert_int_equal(ak_jdoc_new(&doc, 0), 0);
	assert_int_equal(ak_json_parse(doc, LIT(in), &v), 0);
	assert_int_equal(v->offset, 1);
	assert_int_equal(v->u.o.n, 2);
	assert_string_equal(v->u.o.members[0].key, "a");
	assert_int_equal(v->u.o.members[0].key_offset, 24);
	assert_int_equal(v->u.o.members[0].value->offset, 30);
	assert_string_equal(v->u.o.members[1].key, "b");
	assert_int_equal(v->u.o.members[1].key_offset, 2);
	b = v->u.o.members[1].value;
	assert_int_equal(b->offset, 7);
	assert_int_equal(b->u.a.items[0]->offset, 8);
	assert_int_equal(b->u.a.items[1]->offset, 11);
	assert_memory_equal(in + b->u.a.items[1]->offset, "\"日本\"", 8);
	ak_jdoc_free(doc);
}

static void test_jcs__same_input_gives_same_bytes(void **state)
{
	static const char in[] =
	        "{\"z\":[3,2,1],\"\xe3\x81\x82\":\"\\u3042\",\"a\":{\"y\":1,\"x\":2}}";
	struct ak_buf first = AK_BUF_INIT(0), again = AK_BUF_INIT(0);
	struct ak_jdoc *doc = NULL;
	const struct ak_jv *v;
	int i;

	(void)state;
	assert_int_equal(ak_jdoc_new(&doc, 0), 0);
	assert_int_equal(ak_jcs_canonicalize(&first, LIT(in)), 0);
	for (i = 0; i < 100; i++) {
		ak_buf_reset(&again);
		assert_int_equal(ak_json_parse(doc, LIT(in), &v), 0);
		assert_int_equal(ak_jcs_write(&again, v), 0);
		assert_int_equal(again.len, first.len);
		assert_memory_equal(again.data, first.data, first.len);
	}
	/* Canonical output is a fixed point. */
	ak_buf_reset(&again);
	assert_int_equal(ak_jcs_canonicalize(&again, first.data, first.len), 0);
	assert_string_equal(again.data, first.data);
	ak_jdoc_free(doc);
	ak_buf_free(&first);
	ak_buf_free(&again);
}

static void test_jcs__appends_to_the_output(void **state)
{
	struct ak_buf out = AK_BUF_INIT(0);

	(void)state;
	assert_int_equal(ak_buf_puts(&out, "x="), 0);
	assert_int_equal(ak_jcs_canonicalize(&out, LIT("{\"b\":1,\"a\":2}")), 0);
	assert_int_equal(ak_jcs_canonicalize(&out, LIT("[1.5]")), AK_EINVALID);
	assert_string_equal(out.data, "x={\"a\":2,\"b\":1}");
	ak_buf_free(&out);
}

static void test_jcs__jansson_writer_matches_parser(void **state)
{
	static const char *const inputs[] = {
	        "{\"kind\":\"send\",\"body\":{\"rcpt\":\"u@example.org\",\"n\":-9007199254740991}}",
	        "[null,true,false,0,\"\\u0000\\u001f\\\"\\\\/\",{},[]]",
	        "{\"\\ufb33\":1,\"\\ud83d\\ude00\":2,\"\\u20ac\":3,\"\\u0080\":4,\"1\":5,\"\\r\":"
	        "6}",
	        "{\"件名\":\"テスト\",\"ab\":\"x\\u0000y\",\"a\":1}",
	        "\"plain\"",
	        "9007199254740991",
	};
	struct ak_buf a = AK_BUF_INIT(0), b = AK_BUF_INIT(0);
	json_error_t err;
	json_t *j;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		ak_buf_reset(&a);
		ak_buf_reset(&b);
		assert_int_equal(ak_jcs_canonicalize(&a, inputs[i], strlen(inputs[i])), 0);
		/* jansson's own parse of the same text, sorted by us. */
		j = json_loadb(inputs[i], strlen(inputs[i]), JSON_DECODE_ANY | JSON_ALLOW_NUL,
		               &err);
		assert_non_null(j);
		assert_int_equal(ak_jcs_write_jansson(&b, j), 0);
		json_decref(j);
		if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
			fail_msg("parser: %s\njansson: %s", a.data, b.data);
	}
	ak_buf_free(&a);
	ak_buf_free(&b);
}

static void test_jcs__jansson_writer_names_the_path_of_bad_values(void **state)
{
	struct ak_buf out = AK_BUF_INIT(0);
	json_t *j, *rows;
	int i;

	(void)state;
	rows = json_array();
	for (i = 0; i < 5; i++)
		json_array_append_new(rows, json_pack("{s:i}", "count", i));
	json_object_set_new(json_array_get(rows, 3), "count", json_real(1.5));
	j = json_pack("{s:o}", "rows", rows);
	assert_int_equal(ak_buf_puts(&out, "keep"), 0);
	assert_int_equal(ak_jcs_write_jansson(&out, j), AK_EINVALID);
	assert_string_equal(
	        ak_error_last(),
	        "rows[3].count: floating-point number not allowed (write it as a string)");
	assert_string_equal(out.data, "keep"); /* nothing half-written */
	json_decref(j);

	j = json_real(0.0);
	assert_int_equal(ak_jcs_write_jansson(&out, j), AK_EINVALID);
	assert_string_equal(
	        ak_error_last(),
	        "top-level value: floating-point number not allowed (write it as a string)");
	json_decref(j);

	j = json_pack("{s:{s:I}}", "a b", "n", (json_int_t)9007199254740992LL);
	assert_int_equal(ak_jcs_write_jansson(&out, j), AK_EINVALID);
	assert_string_equal(ak_error_last(),
	                    "[\"a b\"].n: integer out of range (beyond \u00b1(2^53-1))");
	json_decref(j);

	j = json_pack("[I]", (json_int_t)-9007199254740992LL);
	assert_int_equal(ak_jcs_write_jansson(&out, j), AK_EINVALID);
	json_decref(j);

	j = json_object();
	json_object_set_new(j, "s", json_stringn_nocheck("\xed\xa0\x80", 3));
	assert_int_equal(ak_jcs_write_jansson(&out, j), AK_EINVALID);
	assert_string_equal(ak_error_last(), "s: string is not valid UTF-8");
	json_decref(j);

	j = json_object();
	json_object_set_new_nocheck(j, "\xc0\x80", json_null());
	assert_int_equal(ak_jcs_write_jansson(&out, j), AK_EINVALID);
	assert_string_equal(ak_error_last(), "[\"\\xc0\\x80\"]: member name is not valid UTF-8");
	json_decref(j);
	assert_string_equal(out.data, "keep");
	ak_buf_free(&out);
}

static void test_jcs__jansson_writer_limits_nesting(void **state)
{
	struct ak_buf out = AK_BUF_INIT(0);
	json_t *root = json_array(), *cur = root, *next;
	int i;

	(void)state;
	for (i = 1; i < 64; i++) {
		next = json_array();
		json_array_append_new(cur, next);
		cur = next;
	}
	assert_int_equal(ak_jcs_write_jansson(&out, root), 0);
	assert_int_equal(out.len, 128);
	json_array_append_new(cur, json_array());
	assert_int_equal(ak_jcs_write_jansson(&out, root), AK_EINVALID);
	assert_non_null(strstr(ak_error_last(), "nesting deeper than 64"));
	json_decref(root);
	ak_buf_free(&out);
}

static void test_jcs__converts_to_jansson(void **state)
{
	struct ak_jdoc *doc = NULL;
	const struct ak_jv *v;
	json_t *j;

	(void)state;
	assert_int_equal(ak_jdoc_new(&doc, 0), 0);
	assert_int_equal(
	        ak_json_parse(doc, LIT("{\"n\":-5,\"s\":\"a\\u0000b\",\"l\":[true,null]}"), &v), 0);
	j = ak_jv_to_jansson(v);
	assert_non_null(j);
	assert_true(json_is_object(j));
	assert_int_equal(json_integer_value(json_object_get(j, "n")), -5);
	assert_int_equal(json_string_length(json_object_get(j, "s")), 3);
	assert_memory_equal(json_string_value(json_object_get(j, "s")), "a\0b", 3);
	assert_true(json_is_true(json_array_get(json_object_get(j, "l"), 0)));
	assert_true(json_is_null(json_array_get(json_object_get(j, "l"), 1)));
	json_decref(j);
	ak_jdoc_free(doc);
}

static void test_jcs__looks_up_members(void **state)
{
	struct ak_jdoc *doc = NULL;
	const struct ak_jv *v, *m;
	char in[4096], key[16];
	size_t o;
	int i;

	(void)state;
	assert_int_equal(ak_jdoc_new(&doc, 0), 0);
	assert_int_equal(
	        ak_json_parse(doc,
	                      LIT("{\"\xef\xac\xb3\":1,\"\xf0\x9f\x98\x80\":2,\"b\":{\"c\":\"d\"},"
	                          "\"a\":null,\"\":5}"),
	                      &v),
	        0);
	assert_int_equal(v->u.o.n, 5);
	m = ak_jv_get(v, "\xf0\x9f\x98\x80");
	assert_non_null(m);
	assert_int_equal(m->u.i, 2);
	m = ak_jv_get(v, "\xef\xac\xb3");
	assert_non_null(m);
	assert_int_equal(m->u.i, 1);
	assert_int_equal(ak_jv_get(v, "")->u.i, 5);
	assert_int_equal(ak_jv_get(v, "a")->type, AK_JNULL);
	assert_string_equal(ak_jv_get(ak_jv_get(v, "b"), "c")->u.s.ptr, "d");
	assert_null(ak_jv_get(v, "c"));
	assert_null(ak_jv_get(v, "aa"));
	assert_null(ak_jv_get(ak_jv_get(v, "a"), "x")); /* not an object */
	assert_null(ak_jv_get(NULL, "x"));

	o = (size_t)snprintf(in, sizeof(in), "{");
	for (i = 0; i < 200; i++)
		o += (size_t)snprintf(in + o, sizeof(in) - o, "\"key%d\":%d%s", (i * 37) % 200,
		                      (i * 37) % 200, i < 199 ? "," : "}");
	assert_int_equal(ak_json_parse(doc, in, o, &v), 0);
	for (i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "key%d", i);
		m = ak_jv_get(v, key);
		assert_non_null(m);
		assert_int_equal(m->u.i, i);
	}
	assert_null(ak_jv_get(v, "key200"));
	ak_jdoc_free(doc);
}

static void test_jcs__names_types(void **state)
{
	struct ak_jdoc *doc = NULL;
	const struct ak_jv *v;

	(void)state;
	assert_int_equal(ak_jdoc_new(&doc, 0), 0);
	assert_int_equal(ak_json_parse(doc, LIT("[null,true,false,1,\"s\",[],{}]"), &v), 0);
	assert_string_equal(ak_jv_type_name(v), "array");
	assert_string_equal(ak_jv_type_name(v->u.a.items[0]), "null");
	assert_string_equal(ak_jv_type_name(v->u.a.items[1]), "boolean");
	assert_string_equal(ak_jv_type_name(v->u.a.items[2]), "boolean");
	assert_string_equal(ak_jv_type_name(v->u.a.items[3]), "integer");
	assert_string_equal(ak_jv_type_name(v->u.a.items[4]), "string");
	assert_string_equal(ak_jv_type_name(v->u.a.items[5]), "array");
	assert_string_equal(ak_jv_type_name(v->u.a.items[6]), "object");
	ak_jdoc_free(doc);
}

static void test_jcs__compares_keys_by_utf16(void **state)
{
	(void)state;
	assert_true(ak_jcs_keycmp(LIT("a"), LIT("b")) < 0);
	assert_true(ak_jcs_keycmp(LIT("b"), LIT("a")) > 0);
	assert_true(ak_jcs_keycmp(LIT("a"), LIT("ab")) < 0);
	assert_true(ak_jcs_keycmp(LIT(""), LIT("a")) < 0);
	assert_int_equal(ak_jcs_keycmp(LIT("same"), LIT("same")), 0);
	assert_true(ak_jcs_keycmp(LIT("\xc2\x80"), LIT("\xe2\x82\xac")) < 0);
	assert_true(ak_jcs_keycmp(LIT("\xee\x80\x80"), LIT("\xf0\x9f\x98\x80")) > 0);
	assert_true(ak_jcs_keycmp(LIT("\xf0\x9f\x98\x80"), LIT("\xef\xbf\xbf")) < 0);
	assert_true(ak_jcs_keycmp(LIT("\xed\x9f\xbf"), LIT("\xf0\x90\x80\x80")) < 0);
	assert_true(ak_jcs_keycmp(LIT("\xf0\x90\x80\x80"), LIT("\xf4\x8f\xbf\xbf")) < 0);
	assert_true(ak_jcs_keycmp(LIT("x\xf0\x90\x80\x80"), LIT("x\xee\x80\x80")) < 0);
}

static void test_jcs__writes_strings(void **state)
{
	struct ak_buf out = AK_BUF_INIT(0);

	(void)state;
	assert_int_equal(ak_jcs_write_string(&out, LIT("a\"\\\x1f\x7f\n/日")), 0);
	assert_string_equal(out.data, "\"a\\\"\\\\\\u001f\x7f\\n/日\"");
	ak_buf_reset(&out);
	assert_int_equal(ak_jcs_write_string(&out, LIT("a\0b")), 0);
	assert_memory_equal(out.data, "\"a\\u0000b\"", 10);
	ak_buf_reset(&out);
	assert_int_equal(ak_jcs_write_string(&out, LIT("")), 0);
	assert_string_equal(out.data, "\"\"");
	ak_buf_reset(&out);
	assert_int_equal(ak_jcs_write_string(&out, LIT("ok\xed\xa0\x80")), AK_EINVALID);
	assert_int_equal(ak_jcs_write_string(&out, LIT("\xf4\x90\x80\x80")), AK_EINVALID);
	assert_int_equal(out.len, 0);
	ak_buf_free(&out);
}

static void test_jcs__keeps_nul_in_strings(void **state)
{
	struct ak_jdoc *doc = NULL;
	const struct ak_jv *v;

	(void)state;
	CANON("{\"k\\u0000\":\"\\u0000x\"}", "{\"k\\u0000\":\"\\u0000x\"}");
	assert_int_equal(ak_jdoc_new(&doc, 0), 0);
	assert_int_equal(ak_json_parse(doc, LIT("{\"k\\u0000\":\"\\u0000x\"}"), &v), 0);
	assert_int_equal(v->u.o.members[0].key_len, 2);
	assert_memory_equal(v->u.o.members[0].key, "k\0", 3);
	assert_int_equal(v->u.o.members[0].value->u.s.len, 2);
	assert_memory_equal(v->u.o.members[0].value->u.s.ptr, "\0x\0", 3);
	ak_jdoc_free(doc);
}

/* A document of n-dependent size and shape, and its canonical form. */
static void make_doc(int n, struct ak_buf *in, struct ak_buf *want)
{
	int i, items = n % 37;

	ak_buf_reset(in);
	ak_buf_reset(want);
	assert_int_equal(
	        ak_buf_printf(in, "{\"seq\":%d,\"name\":\"item-%d-\\u65e5\",\"list\":[", n, n), 0);
	assert_int_equal(ak_buf_printf(want, "{\"%s\":%s,\"list\":[", n % 2 ? "flag" : "fill",
	                               n % 2 ? "true" : "null"),
	                 0);
	for (i = 0; i < items; i++) {
		assert_int_equal(ak_buf_printf(in, "%s{\"v\":%d,\"s\":\"%0*d\"}", i ? "," : "",
		                               n - i, i % 20, i),
		                 0);
		assert_int_equal(ak_buf_printf(want, "%s{\"s\":\"%0*d\",\"v\":%d}", i ? "," : "",
		                               i % 20, i, n - i),
		                 0);
	}
	assert_int_equal(
	        ak_buf_printf(in, "],\"%s\":%s}", n % 2 ? "flag" : "fill", n % 2 ? "true" : "null"),
	        0);
	assert_int_equal(ak_buf_printf(want, "],\"name\":\"item-%d-日\",\"seq\":%d}", n, n), 0);
}

static void test_jcs__reuses_one_document_for_many_parses(void **state)
{
	struct ak_buf in = AK_BUF_INIT(0), want = AK_BUF_INIT(0), out = AK_BUF_INIT(0);
	struct ak_jdoc *doc = NULL;
	const struct ak_jv *v;
	int n;

	(void)state;
	assert_int_equal(ak_jdoc_new(&doc, 0), 0);
	for (n = 0; n < 10000; n++) {
		make_doc(n, &in, &want);
		assert_int_equal(ak_json_parse(doc, in.data, in.len, &v), 0);
		assert_int_equal(ak_jv_get(v, "seq")->u.i, n);
		ak_buf_reset(&out);
		assert_int_equal(ak_jcs_write(&out, v), 0);
		if (out.len != want.len || memcmp(out.data, want.data, out.len) != 0)
			fail_msg("doc %d:\n got %s\nwant %s", n, out.data, want.data);
		/* A failed parse in between leaves the document usable. */
		if (n % 1000 == 0)
			assert_int_equal(ak_json_parse(doc, LIT("[1,2,{\"a\":1.5}]"), &v),
			                 AK_EINVALID);
	}
	ak_jdoc_free(doc);
	ak_buf_free(&in);
	ak_buf_free(&want);
	ak_buf_free(&out);
}

static void test_jcs__refuses_documents_beyond_max_bytes(void **state)
{
	struct ak_buf in = AK_BUF_INIT(0), out = AK_BUF_INIT(0);
	struct ak_jdoc *doc = NULL;
	const struct ak_jv *v;
	int i;

	(void)state;
	assert_int_equal(ak_buf_puts(&in, "["), 0);
	for (i = 0; i < 2000; i++)
		assert_int_equal(ak_buf_printf(&in, "%s\"string number %d\"", i ? "," : "", i), 0);
	assert_int_equal(ak_buf_puts(&in, "]"), 0);

	assert_int_equal(ak_jdoc_new(&doc, 4096), 0);
	assert_int_equal(ak_json_parse(doc, in.data, in.len, &v), AK_ETOOBIG);
	assert_non_null(strstr(ak_error_last(), "more than 4096 bytes"));
	/* Small documents still parse in it afterwards. */
	assert_int_equal(ak_json_parse(doc, LIT("{\"b\":[1],\"a\":\"x\"}"), &v), 0);
	assert_int_equal(ak_jcs_write(&out, v), 0);
	assert_string_equal(out.data, "{\"a\":\"x\",\"b\":[1]}");
	ak_jdoc_free(doc);

	assert_int_equal(ak_jdoc_new(&doc, 64), 0);
	assert_int_equal(ak_json_parse(doc, LIT("[[[[[[[[1]]]]]]]]"), &v), AK_ETOOBIG);
	ak_jdoc_free(doc);

	/* A large limit takes the same input fine. */
	assert_int_equal(ak_jdoc_new(&doc, 1 << 20), 0);
	assert_int_equal(ak_json_parse(doc, in.data, in.len, &v), 0);
	assert_int_equal(v->u.a.n, 2000);
	assert_string_equal(v->u.a.items[1999]->u.s.ptr, "string number 1999");
	ak_jdoc_free(doc);
	ak_buf_free(&in);
	ak_buf_free(&out);
}

static void test_jcs__respects_the_output_limit(void **state)
{
	struct ak_buf out = AK_BUF_INIT(16);
	struct ak_jdoc *doc = NULL;
	const struct ak_jv *v;

	(void)state;
	assert_int_equal(ak_jdoc_new(&doc, 0), 0);
	assert_int_equal(ak_json_parse(doc, LIT("{\"abc\":\"0123456789\"}"), &v), 0);
	assert_int_equal(ak_buf_puts(&out, "ab"), 0);
	assert_int_equal(ak_jcs_write(&out, v), AK_ETOOBIG);
	assert_string_equal(out.data, "ab");
	assert_int_equal(ak_json_parse(doc, LIT("{\"a\":\"012345\"}"), &v), 0);
	assert_int_equal(ak_jcs_write(&out, v), 0); /* exactly 16 bytes */
	assert_string_equal(out.data, "ab{\"a\":\"012345\"}");
	ak_jdoc_free(doc);
	ak_buf_free(&out);
}

static void test_jcs__canonicalizes_large_input(void **state)
{
	struct ak_buf in = AK_BUF_INIT(0), want = AK_BUF_INIT(0), out = AK_BUF_INIT(0);
	int i;

	(void)state;
	/* Far past the first arena chunk and slot array: 5000 members. */
	assert_int_equal(ak_buf_puts(&in, "{"), 0);
	assert_int_equal(ak_buf_puts(&want, "{"), 0);
	for (i = 0; i < 5000; i++) {
		assert_int_equal(ak_buf_printf(&in, "%s\"m%05d\":[%d,\"x\"]", i ? "," : "",
		                               4999 - i, 4999 - i),
		                 0);
		assert_int_equal(ak_buf_printf(&want, "%s\"m%05d\":[%d,\"x\"]", i ? "," : "", i, i),
		                 0);
	}
	assert_int_equal(ak_buf_puts(&in, "}"), 0);
	assert_int_equal(ak_buf_puts(&want, "}"), 0);
	check_canon(in.data, in.len, want.data, want.len);
	assert_int_equal(ak_jcs_canonicalize(&out, in.data, in.len), 0);
	assert_string_equal(out.data, want.data);
	ak_buf_free(&in);
	ak_buf_free(&want);
	ak_buf_free(&out);
}

static void test_jcs__parses_literals_and_empty_containers(void **state)
{
	(void)state;
	CANON("true", "true");
	CANON("false", "false");
	CANON("null", "null");
	CANON(" [ ] ", "[]");
	CANON(" { } ", "{}");
	CANON("\"\"", "\"\"");
	CANON("[[],{},[[]],{\"a\":{}}]", "[[],{},[[]],{\"a\":{}}]");
}

/* ak_jcs_fields must find what the full parser finds, for every value
 * type and for strings of every length around its short-string loop, with
 * escapes (quotes among them) at every position. */
static void check_fields(const char *obj)
{
	static const char *const keys[] = {"a", "b", "body", "c", "kind", "zz"};
	struct ak_buf canon = AK_BUF_INIT(0), want = AK_BUF_INIT(0);
	struct ak_jspan sp[6];
	struct ak_jdoc *doc = NULL;
	const struct ak_jv *root, *v;
	size_t i;

	assert_int_equal(ak_jcs_canonicalize(&canon, obj, strlen(obj)), 0);
	assert_int_equal(ak_jcs_fields(canon.data, canon.len, keys, 6, sp), 0);
	assert_int_equal(ak_jdoc_new(&doc, 0), 0);
	assert_int_equal(ak_json_parse(doc, canon.data, canon.len, &root), 0);
	for (i = 0; i < 6; i++) {
		v = ak_jv_get(root, keys[i]);
		if (v == NULL) {
			assert_int_equal(sp[i].type, -1);
			continue;
		}
		assert_int_equal(sp[i].type, v->type);
		want.len = 0;
		assert_int_equal(ak_jcs_write(&want, v), 0);
		if (sp[i].type == AK_JSTRING) {
			/* the span is the content between the quotes */
			assert_int_equal(sp[i].len + 2, want.len);
			assert_memory_equal(sp[i].ptr, want.data + 1, sp[i].len);
			assert_int_equal(sp[i].escaped, memchr(sp[i].ptr, '\\', sp[i].len) != NULL);
		} else {
			assert_int_equal(sp[i].len, want.len);
			assert_memory_equal(sp[i].ptr, want.data, want.len);
		}
	}
	ak_jdoc_free(doc);
	ak_buf_free(&canon);
	ak_buf_free(&want);
}

static void test_jcs__reads_fields_without_a_document(void **state)
{
	static const char *const esc[] = {"\\\"", "\\\\", "\\n", "\\u0001", "é"};
	char s[128], obj[512];
	size_t n, at, e;

	(void)state;
	check_fields("{}");
	check_fields("{\"zz\":1}");
	check_fields("{\"a\":{\"kind\":\"x\",\"q\":[1,{\"b\":\"}\"}]},\"b\":[\"]\",2],\"c\":true,"
		     "\"kind\":null,\"x\":false,\"zz\":-12}");
	for (n = 0; n <= 60; n++)
		for (at = 0; at <= n; at++)
			for (e = 0; e < sizeof(esc) / sizeof(esc[0]); e++) {
				memset(s, 'x', n);
				s[n] = '\0';
				snprintf(obj, sizeof(obj),
					 "{\"body\":{\"b\":\"%.*s%s%s\"},\"c\":\"%.*s%s%s\",\"kind\":\"%s\"}",
					 (int)at, s, esc[e], s + at, (int)at, s, esc[e], s + at, s);
				check_fields(obj);
			}
	/* not a canonical object */
	{
		static const char *const k[] = {"a"};
		struct ak_jspan sp[1];

		assert_int_equal(ak_jcs_fields("[1]", 3, k, 1, sp), AK_EINVALID);
		assert_int_equal(ak_jcs_fields("{\"a\":\"xx}", 9, k, 1, sp), AK_EINVALID);
		assert_int_equal(ak_jcs_fields("{\"a\":\"x\\\"}", 10, k, 1, sp), AK_EINVALID);
	}
}

/* Outside text made fit for JSON: bad bytes and NUL become U+FFFD, the
 * cut falls between characters, and valid text passes as it is. */
static void test_jcs__utf8_clean_keeps_text_and_replaces_bad_bytes(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(ak_utf8_clean(out, sizeof(out), "caf\xc3\xa9", 5), 5);
	assert_string_equal(out, "caf\xc3\xa9");
	assert_int_equal(ak_utf8_clean(out, sizeof(out), "caf\xe9!", 5), 7);
	assert_string_equal(out, "caf\xef\xbf\xbd!");
	assert_int_equal(ak_utf8_clean(out, sizeof(out), "a\0b", 3), 5);
	assert_memory_equal(out, "a\xef\xbf\xbd\x62", 6); /* "b" */
	/* an overlong form and a surrogate are not UTF-8 either */
	assert_int_equal(ak_utf8_clean(out, sizeof(out), "\xc0\xaf\xed\xa0\x80", 5), 15);
	/* 5 bytes of room: "ab" and then a 3-byte character would pass it */
	assert_int_equal(ak_utf8_clean(out, 6, "ab\xe3\x81\x82\xe3\x81\x82", 8), 5);
	assert_string_equal(out, "ab\xe3\x81\x82");
	assert_int_equal(ak_utf8_clean(out, 1, "abc", 3), 0);
	assert_string_equal(out, "");
	assert_int_equal(ak_utf8_valid_prefix("ab\xe3\x81\x82\xff", 6), 5);
	assert_int_equal(ak_utf8_valid_prefix("ab\xe3\x81", 4), 2);
}

static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jcs__rfc8785_sorting_example),
        cmocka_unit_test(test_jcs__rfc8785_example_without_numbers),
        cmocka_unit_test(test_jcs__sorts_by_utf16_not_code_points),
        cmocka_unit_test(test_jcs__sorts_keys_at_every_level),
        cmocka_unit_test(test_jcs__sorts_large_objects),
        cmocka_unit_test(test_jcs__escapes_control_characters),
        cmocka_unit_test(test_jcs__escapes_only_quote_and_backslash_among_printables),
        cmocka_unit_test(test_jcs__keeps_japanese_text_unescaped),
        cmocka_unit_test(test_jcs__decodes_surrogate_pairs),
        cmocka_unit_test(test_jcs__rejects_unpaired_surrogates),
        cmocka_unit_test(test_jcs__rejects_invalid_utf8),
        cmocka_unit_test(test_jcs__rejects_raw_control_characters_in_strings),
        cmocka_unit_test(test_jcs__rejects_floats),
        cmocka_unit_test(test_jcs__accepts_the_safe_integer_range),
        cmocka_unit_test(test_jcs__rejects_integers_beyond_the_safe_range),
        cmocka_unit_test(test_jcs__rejects_malformed_numbers),
        cmocka_unit_test(test_jcs__rejects_duplicate_keys),
        cmocka_unit_test(test_jcs__quotes_names_safely_in_messages),
        cmocka_unit_test(test_jcs__limits_nesting_to_64),
        cmocka_unit_test(test_jcs__ignores_white_space_variants),
        cmocka_unit_test(test_jcs__rejects_trailing_data),
        cmocka_unit_test(test_jcs__rejects_empty_and_truncated_input),
        cmocka_unit_test(test_jcs__reports_columns_and_reasons),
        cmocka_unit_test(test_jcs__records_where_values_and_names_are),
        cmocka_unit_test(test_jcs__same_input_gives_same_bytes),
        cmocka_unit_test(test_jcs__appends_to_the_output),
        cmocka_unit_test(test_jcs__jansson_writer_matches_parser),
        cmocka_unit_test(test_jcs__jansson_writer_names_the_path_of_bad_values),
        cmocka_unit_test(test_jcs__jansson_writer_limits_nesting),
        cmocka_unit_test(test_jcs__converts_to_jansson),
        cmocka_unit_test(test_jcs__looks_up_members),
        cmocka_unit_test(test_jcs__names_types),
        cmocka_unit_test(test_jcs__compares_keys_by_utf16),
        cmocka_unit_test(test_jcs__writes_strings),
        cmocka_unit_test(test_jcs__keeps_nul_in_strings),
        cmocka_unit_test(test_jcs__reuses_one_document_for_many_parses),
        cmocka_unit_test(test_jcs__refuses_documents_beyond_max_bytes),
        cmocka_unit_test(test_jcs__respects_the_output_limit),
        cmocka_unit_test(test_jcs__canonicalizes_large_input),
        cmocka_unit_test(test_jcs__parses_literals_and_empty_containers),
        cmocka_unit_test(test_jcs__reads_fields_without_a_document),
        cmocka_unit_test(test_jcs__utf8_clean_keeps_text_and_replaces_bad_bytes),
};

AK_UNIT_MAIN(tests)
