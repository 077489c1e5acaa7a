/*
 * tests/unit/test_csv.c - lib/csv: RFC 4180 reading (quoting, line ends,
 * BOM, line numbers, every refusal and the recovery after it, limits) and
 * writing (when it quotes, round trips).
 */
#include "tests/unit/unit.h"

#include "lib/csv.h"
#include "lib/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A reader over the bytes text[0..len) (len 0: strlen). */
struct fixture {
	FILE *in;
	struct ak_csv_reader r;
	char *copy;
};

static void open_text(struct fixture *f, const char *text, size_t len,
		      const struct ak_csv_limits *lim)
{
	if (len == 0)
		len = strlen(text);
	f->copy = malloc(len + 1);
	assert_non_null(f->copy);
	memcpy(f->copy, text, len);
	f->in = len ? fmemopen(f->copy, len, "r") : fopen("/dev/null", "r");
	assert_non_null(f->in);
	assert_int_equal(ak_csv_init(&f->r, f->in, lim), 0);
}

static void close_text(struct fixture *f)
{
	ak_csv_free(&f->r);
	fclose(f->in);
	free(f->copy);
}

/* Read one record and compare it with the expected fields (NULL-ended). */
static void expect_record(struct fixture *f, unsigned long line, const char *const *want)
{
	const struct ak_csv_field *fields;
	size_t n, i, nwant = 0;

	while (want[nwant] != NULL)
		nwant++;
	assert_int_equal(ak_csv_next(&f->r, &fields, &n), 1);
	assert_int_equal(n, nwant);
	assert_int_equal(f->r.line, line);
	for (i = 0; i < n; i++) {
		assert_int_equal(fields[i].len, strlen(want[i]));
		assert_memory_equal(fields[i].ptr, want[i], fields[i].len);
		assert_int_equal(fields[i].ptr[fields[i].len], '\0');
	}
}

static void expect_end(struct fixture *f)
{
	const struct ak_csv_field *fields;
	size_t n;

	assert_int_equal(ak_csv_next(&f->r, &fields, &n), 0);
	assert_int_equal(ak_csv_next(&f->r, &fields, &n), 0);
}

static void expect_refusal(struct fixture *f, int code, const char *message)
{
	const struct ak_csv_field *fields;
	size_t n;

	assert_int_equal(ak_csv_next(&f->r, &fields, &n), code);
	assert_string_equal(ak_error_last(), message);
}

#define REC(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_csv__simple_records(void **state)
{
	struct fixture f;

	(void)state;
	open_text(&f, "a,b,c\n1,2,3\n", 0, NULL);
	expect_record(&f, 1, REC("a", "b", "c"));
	assert_int_equal(f.r.record, 1);
	expect_record(&f, 2, REC("1", "2", "3"));
	assert_int_equal(f.r.record, 2);
	assert_int_equal(f.r.had_bom, 0);
	expect_end(&f);
	close_text(&f);
}

static void test_csv__crlf_lf_and_missing_last_line_end(void **state)
{
	struct fixture f;

	(void)state;
	open_text(&f, "a,b\r\nc,d\ne,f", 0, NULL);
	expect_record(&f, 1, REC("a", "b"));
	expect_record(&f, 2, REC("c", "d"));
	expect_record(&f, 3, REC("e", "f"));
	expect_end(&f);
	close_text(&f);
}

static void test_csv__empty_fields(void **state)
{
	struct fixture f;

	(void)state;
	open_text(&f, ",\na,,b,\n\"\"\n,,", 0, NULL);
	expect_record(&f, 1, REC("", ""));
	expect_record(&f, 2, REC("a", "", "b", ""));
	expect_record(&f, 3, REC(""));
	expect_record(&f, 4, REC("", "", ""));
	expect_end(&f);
	close_text(&f);
}

static void test_csv__quoted_commas_and_doubled_quotes(void **state)
{
	struct fixture f;

	(void)state;
	open_text(&f, "\"a,b\",\"say \"\"hi\"\"\",\"\"\"\"\r\n", 0, NULL);
	expect_record(&f, 1, REC("a,b", "say \"hi\"", "\""));
	expect_end(&f);
	close_text(&f);
}

static void test_csv__quoted_field_spans_lines(void **state)
{
	struct fixture f;
	const char *raw;
	size_t len;

	(void)state;
	open_text(&f, "id,note\r\n1,\"line one\r\nline two\nline three\"\r\n2,x\r\n", 0, NULL);
	expect_record(&f, 1, REC("id", "note"));
	expect_record(&f, 2, REC("1", "line one\r\nline two\nline three"));
	raw = ak_csv_raw(&f.r, &len);
	assert_non_null(raw);
	assert_int_equal(len, strlen("1,\"line one\r\nline two\nline three\""));
	assert_memory_equal(raw, "1,\"line one\r\nline two\nline three\"", len);
	expect_record(&f, 5, REC("2", "x"));
	assert_int_equal(f.r.record, 3);
	expect_end(&f);
	close_text(&f);
}

static void test_csv__bom_dropped_and_remembered(void **state)
{
	struct fixture f;

	(void)state;
	open_text(&f, "\xef\xbb\xbfsubject,list\nx,\xef\xbb\xbfy\n", 0, NULL);
	/* Only the mark at the very start is dropped; U+FEFF later is text. */
	expect_record(&f, 1, REC("subject", "list"));
	assert_int_equal(f.r.had_bom, 1);
	expect_record(&f, 2, REC("x", "\xef\xbb\xbfy"));
	expect_end(&f);
	close_text(&f);
}

static void test_csv__bom_alone_is_an_empty_input(void **state)
{
	struct fixture f;

	(void)state;
	open_text(&f, "\xef\xbb\xbf", 0, NULL);
	expect_end(&f);
	assert_int_equal(f.r.had_bom, 1);
	close_text(&f);
}

static void test_csv__empty_input(void **state)
{
	struct fixture f;

	(void)state;
	open_text(&f, "", 0, NULL);
	expect_end(&f);
	close_text(&f);
}

static void test_csv__empty_lines_are_no_records(void **state)
{
	struct fixture f;

	(void)state;
	open_text(&f, "\n\r\na\n\n\r\nb\n\n", 0, NULL);
	expect_record(&f, 3, REC("a"));
	assert_int_equal(f.r.record, 1);
	expect_record(&f, 6, REC("b"));
	assert_int_equal(f.r.record, 2);
	expect_end(&f);
	close_text(&f);
}

static void test_csv__white_space_is_data(void **state)
{
	struct fixture f;

	(void)state;
	open_text(&f, " a , b\t\n", 0, NULL);
	expect_record(&f, 1, REC(" a ", " b\t"));
	expect_end(&f);
	close_text(&f);
}

static void test_csv__japanese_text(void **state)
{
	struct fixture f;

	(void)state;
	open_text(&f, "list\n\xe3\x83\x8b\xe3\x83\xa5\xe3\x83\xbc\xe3\x82\xb9\xe3\x83\xac\xe3\x82"
		      "\xbf\xe3\x83\xbc,\"\xe6\x9d\xb1\xe4\xba\xac, \xe6\x97\xa5\xe6\x9c\xac\"\n",
		  0, NULL);
	expect_record(&f, 1, REC("list"));
	expect_record(&f, 2,
		      REC("\xe3\x83\x8b\xe3\x83\xa5\xe3\x83\xbc\xe3\x82\xb9\xe3\x83\xac\xe3\x82"
			  "\xbf\xe3\x83\xbc",
			  "\xe6\x9d\xb1\xe4\xba\xac, \xe6\x97\xa5\xe6\x9c\xac"));
	expect_end(&f);
	close_text(&f);
}

static void test_csv__unterminated_quote_ends_the_input(void **state)
{
	struct fixture f;

	(void)state;
	open_text(&f, "a,b\n1,\"open\n2,x\n3,y\n", 0, NULL);
	expect_record(&f, 1, REC("a", "b"));
	expect_refusal(&f, AK_EINVALID,
		       "record 2 (line 2): field 2: quoted field opened on line 2 is not closed "
		       "at the end of the input");
	assert_string_equal(f.r.reason, "field 2: quoted field opened on line 2 is not closed "
					"at the end of the input");
	assert_int_equal(f.r.line, 2);
	expect_end(&f);
	close_text(&f);
}

static void test_csv__quote_inside_unquoted_field_skips_the_record(void **state)
{
	struct fixture f;
	const char *raw;
	size_t len;

	(void)state;
	open_text(&f, "a,b\n1,ab\"c\n2,x\n", 0, NULL);
	expect_record(&f, 1, REC("a", "b"));
	expect_refusal(&f, AK_EINVALID,
		       "record 2 (line 2): field 2: quote inside an unquoted field");
	raw = ak_csv_raw(&f.r, &len);
	assert_non_null(raw);
	assert_int_equal(len, 6);
	assert_memory_equal(raw, "1,ab\"c", 6);
	expect_record(&f, 3, REC("2", "x"));
	assert_int_equal(f.r.record, 3);
	expect_end(&f);
	close_text(&f);
}

static void test_csv__characters_after_closing_quote_skip_the_record(void **state)
{
	struct fixture f;

	(void)state;
	/* The refused record still holds a quoted field with a newline: the
	 * reader keeps following the quoting to find where the record ends. */
	open_text(&f, "\"a\"b,\"two\nlines\"\nnext,ok\n", 0, NULL);
	expect_refusal(&f, AK_EINVALID,
		       "record 1 (line 1): field 1: characters after the closing quote");
	expect_record(&f, 3, REC("next", "ok"));
	expect_end(&f);
	close_text(&f);
}

static void test_csv__bare_cr_is_refused(void **state)
{
	struct fixture f;

	(void)state;
	open_text(&f, "a\rb,c\nd,e\n", 0, NULL);
	expect_refusal(&f, AK_EINVALID,
		       "record 1 (line 1): field 1: carriage return outside quotes not followed "
		       "by a line feed");
	expect_record(&f, 2, REC("d", "e"));
	expect_end(&f);
	close_text(&f);
}

static void test_csv__cr_inside_quotes_is_data(void **state)
{
	struct fixture f;

	(void)state;
	open_text(&f, "\"a\rb\"\n", 0, NULL);
	expect_record(&f, 1, REC("a\rb"));
	expect_end(&f);
	close_text(&f);
}

static void test_csv__invalid_utf8_is_refused(void **state)
{
	static const char *const bad[] = {
		"\xff",             /* never valid */
		"ab\xc0\xaf",       /* overlong '/' */
		"\xe0\x80\xaf",     /* overlong, three bytes */
		"\xed\xa0\x80",     /* UTF-8-encoded surrogate U+D800 */
		"\xf4\x90\x80\x80", /* above U+10FFFF */
		"\xe3\x81",         /* truncated */
		"\x80",             /* lone continuation byte */
	};
	static const size_t at[] = {1, 3, 1, 1, 1, 1, 1};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fixture f;
		char text[64], msg[128];

		snprintf(text, sizeof(text), "ok,%s\nnext\n", bad[i]);
		snprintf(msg, sizeof(msg), "record 1 (line 1): field 2: invalid UTF-8 at byte %zu",
			 at[i]);
		open_text(&f, text, 0, NULL);
		expect_refusal(&f, AK_EINVALID, msg);
		expect_record(&f, 2, REC("next"));
		expect_end(&f);
		close_text(&f);
	}
}

static void test_csv__valid_utf8_edges_pass(void **state)
{
	struct fixture f;

	(void)state;
	/* U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF */
	open_text(&f,
		  "\xc2\x80,\xdf\xbf,\xe0\xa0\x80,\xed\x9f\xbf,\xee\x80\x80,\xef\xbf\xbf,"
		  "\xf0\x90\x80\x80,\xf4\x8f\xbf\xbf\n",
		  0, NULL);
	expect_record(&f, 1,
		      REC("\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
			  "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf"));
	expect_end(&f);
	close_text(&f);
}

static void test_csv__nul_byte_is_refused(void **state)
{
	struct fixture f;

	(void)state;
	open_text(&f, "a\0b\n\"c\0\"\nd\n", 11, NULL);
	expect_refusal(&f, AK_EINVALID, "record 1 (line 1): field 1: NUL byte");
	expect_refusal(&f, AK_EINVALID, "record 2 (line 2): field 1: NUL byte");
	expect_record(&f, 3, REC("d"));
	expect_end(&f);
	close_text(&f);
}

static void test_csv__field_over_limit_is_skipped_with_bounded_memory(void **state)
{
	struct ak_csv_limits lim = {8, 64, 16};
	struct fixture f;
	char *text;
	size_t n = 1000000;

	(void)state;
	text = malloc(n + 64);
	assert_non_null(text);
	memcpy(text, "ok,1\n\"", 6);
	memset(text + 6, 'x', n);
	memcpy(text + 6 + n, "\",2\nafter,3\n", 12);
	open_text(&f, text, n + 18, &lim);
	expect_record(&f, 1, REC("ok", "1"));
	expect_refusal(&f, AK_ETOOBIG, "record 2 (line 2): field 1 is longer than 8 bytes");
	assert_null(ak_csv_raw(&f.r, &(size_t){0}));
	assert_true(f.r.data.cap <= 256);
	assert_true(f.r.raw.cap <= 256);
	expect_record(&f, 3, REC("after", "3"));
	expect_end(&f);
	close_text(&f);
	free(text);
}

static void test_csv__record_over_limit_is_skipped(void **state)
{
	struct ak_csv_limits lim = {8, 10, 16};
	struct fixture f;

	(void)state;
	open_text(&f, "12345678,1234\nabc,def\n", 0, &lim);
	expect_refusal(&f, AK_ETOOBIG, "record 1 (line 1): record is longer than 10 bytes");
	expect_record(&f, 2, REC("abc", "def"));
	expect_end(&f);
	close_text(&f);
}

static void test_csv__too_many_fields_is_refused(void **state)
{
	struct ak_csv_limits lim = {0, 0, 3};
	struct fixture f;

	(void)state;
	open_text(&f, "a,b,c\na,b,c,d\ne\n", 0, &lim);
	expect_record(&f, 1, REC("a", "b", "c"));
	expect_refusal(&f, AK_ETOOBIG, "record 2 (line 2): more than 3 fields");
	expect_record(&f, 3, REC("e"));
	expect_end(&f);
	close_text(&f);
}

static void test_csv__crlf_split_across_read_blocks(void **state)
{
	struct fixture f;
	size_t block = 65536, i;
	char *text = malloc(block + 16);
	const struct ak_csv_field *fields;
	size_t n;

	(void)state;
	assert_non_null(text);
	/* The CR is the last byte of the first 64 KiB block, its LF the first
	 * of the next. */
	memset(text, 'a', block - 1);
	text[block - 1] = '\r';
	memcpy(text + block, "\nb\r\n", 4);
	open_text(&f, text, block + 4, NULL);
	assert_int_equal(ak_csv_next(&f.r, &fields, &n), 1);
	assert_int_equal(n, 1);
	assert_int_equal(fields[0].len, block - 1);
	expect_record(&f, 2, REC("b"));
	expect_end(&f);
	close_text(&f);
	for (i = 0; i < 2; i++) {
		/* Same with a quoted CRLF, and with a "" split over blocks. */
		memset(text, 'a', block);
		text[0] = '"';
		text[block - 1] = i == 0 ? '\r' : '"';
		memcpy(text + block, i == 0 ? "\n\"\n" : "\"\"\n", 3);
		open_text(&f, text, block + 3, NULL);
		assert_int_equal(ak_csv_next(&f.r, &fields, &n), 1);
		assert_int_equal(n, 1);
		/* block - 2 letters, then CR LF (kept: quoted) or one quote. */
		assert_int_equal(fields[0].len, i == 0 ? block : block - 1);
		assert_int_equal(fields[0].ptr[block - 3], 'a');
		assert_int_equal(fields[0].ptr[block - 2], i == 0 ? '\r' : '"');
		if (i == 0)
			assert_int_equal(fields[0].ptr[block - 1], '\n');
		expect_end(&f);
		close_text(&f);
	}
	free(text);
}

static void test_csv__raw_text_excludes_the_line_end(void **state)
{
	struct fixture f;
	const char *raw;
	size_t len;

	(void)state;
	open_text(&f, "\n\na,\"b\"\r\n", 0, NULL);
	assert_null(ak_csv_raw(&f.r, &len));
	expect_record(&f, 3, REC("a", "b"));
	raw = ak_csv_raw(&f.r, &len);
	assert_non_null(raw);
	assert_int_equal(len, 5);
	assert_memory_equal(raw, "a,\"b\"", 5);
	close_text(&f);
}

static void test_csv__write_field_quotes_only_when_needed(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"plain", "plain"},
		{"", ""},
		{"a,b", "\"a,b\""},
		{"say \"hi\"", "\"say \"\"hi\"\"\""},
		{"\"", "\"\"\"\""},
		{"two\nlines", "\"two\nlines\""},
		{"cr\r", "\"cr\r\""},
		{" lead", "\" lead\""},
		{"trail ", "\"trail \""},
		{"\ttab", "\"\ttab\""},
		{"in side", "in side"},
		{"\xef\xbb\xbf" "bom", "\"\xef\xbb\xbf" "bom\""},
		{"\xe6\x9d\xb1\xe4\xba\xac", "\xe6\x9d\xb1\xe4\xba\xac"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ak_buf out = AK_BUF_INIT(0);

		assert_int_equal(ak_csv_write_field(&out, cases[i].in, strlen(cases[i].in)), 0);
		assert_string_equal(out.data ? out.data : "", cases[i].out);
		ak_buf_free(&out);
	}
}

static void test_csv__write_record_ends_with_crlf(void **state)
{
	struct ak_buf out = AK_BUF_INIT(0);
	struct ak_csv_field rec[] = {{"a", 1}, {"", 0}, {"b,c", 3}};
	struct ak_csv_field empty[] = {{"", 0}};

	(void)state;
	assert_int_equal(ak_csv_write_record(&out, rec, 3), 0);
	assert_int_equal(ak_csv_write_record(&out, empty, 1), 0);
	assert_string_equal(out.data, "a,,\"b,c\"\r\n\"\"\r\n");
	ak_buf_free(&out);
}

static void test_csv__write_over_limit_leaves_buffer_unchanged(void **state)
{
	struct ak_buf out = AK_BUF_INIT(8);
	struct ak_csv_field rec[] = {{"abc", 3}, {"d\"e", 3}};

	(void)state;
	assert_int_equal(ak_buf_puts(&out, "xy"), 0);
	assert_int_equal(ak_csv_write_record(&out, rec, 2), AK_ETOOBIG);
	assert_string_equal(out.data, "xy");
	assert_int_equal(ak_csv_write_field(&out, "\"\"\"", 3), AK_ETOOBIG);
	assert_string_equal(out.data, "xy");
	ak_buf_free(&out);
}

static void test_csv__written_records_read_back_the_same(void **state)
{
	static const char *const values[] = {
		"", " ", "a", "a,b", "\"", "\"\"", "x\r\ny", "\n", "\r", " s ", "\xe2\x9c\x93", ",",
		"\xef\xbb\xbf", "\xef\xbb\xbfx",
	};
	size_t nv = sizeof(values) / sizeof(values[0]), i, j, n;
	struct ak_buf out = AK_BUF_INIT(0);
	struct ak_csv_field rec[3];
	const struct ak_csv_field *fields;
	struct ak_csv_reader r;
	FILE *in;

	(void)state;
	/* Every value alone and in every position of a three-field record. */
	for (i = 0; i < nv; i++) {
		rec[0] = (struct ak_csv_field){values[i], strlen(values[i])};
		assert_int_equal(ak_csv_write_record(&out, rec, 1), 0);
		for (j = 0; j < nv; j++) {
			rec[0] = (struct ak_csv_field){values[i], strlen(values[i])};
			rec[1] = (struct ak_csv_field){values[j], strlen(values[j])};
			rec[2] = (struct ak_csv_field){values[(i + j) % nv],
						       strlen(values[(i + j) % nv])};
			assert_int_equal(ak_csv_write_record(&out, rec, 3), 0);
		}
	}
	in = fmemopen(out.data, out.len, "r");
	assert_non_null(in);
	assert_int_equal(ak_csv_init(&r, in, NULL), 0);
	for (i = 0; i < nv; i++) {
		assert_int_equal(ak_csv_next(&r, &fields, &n), 1);
		assert_int_equal(n, 1);
		assert_int_equal(fields[0].len, strlen(values[i]));
		assert_memory_equal(fields[0].ptr, values[i], fields[0].len);
		for (j = 0; j < nv; j++) {
			const char *want[3] = {values[i], values[j], values[(i + j) % nv]};
			size_t k;

			assert_int_equal(ak_csv_next(&r, &fields, &n), 1);
			assert_int_equal(n, 3);
			for (k = 0; k < 3; k++) {
				assert_int_equal(fields[k].len, strlen(want[k]));
				assert_memory_equal(fields[k].ptr, want[k], fields[k].len);
			}
		}
	}
	assert_int_equal(ak_csv_next(&r, &fields, &n), 0);
	ak_csv_free(&r);
	fclose(in);
	ak_buf_free(&out);
}

static void test_csv__read_error_is_reported_every_time(void **state)
{
	struct ak_csv_reader r;
	const struct ak_csv_field *fields;
	size_t n;
	FILE *in = fopen("/", "r"); /* a directory: fread fails with EISDIR */

	(void)state;
	assert_non_null(in);
	assert_int_equal(ak_csv_init(&r, in, NULL), 0);
	assert_int_equal(ak_csv_next(&r, &fields, &n), AK_ERROR);
	assert_string_equal(ak_error_last(), "read error: Is a directory");
	assert_int_equal(ak_csv_next(&r, &fields, &n), AK_ERROR);
	ak_csv_free(&r);
	fclose(in);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_csv__simple_records),
	cmocka_unit_test(test_csv__crlf_lf_and_missing_last_line_end),
	cmocka_unit_test(test_csv__empty_fields),
	cmocka_unit_test(test_csv__quoted_commas_and_doubled_quotes),
	cmocka_unit_test(test_csv__quoted_field_spans_lines),
	cmocka_unit_test(test_csv__bom_dropped_and_remembered),
	cmocka_unit_test(test_csv__bom_alone_is_an_empty_input),
	cmocka_unit_test(test_csv__empty_input),
	cmocka_unit_test(test_csv__empty_lines_are_no_records),
	cmocka_unit_test(test_csv__white_space_is_data),
	cmocka_unit_test(test_csv__japanese_text),
	cmocka_unit_test(test_csv__unterminated_quote_ends_the_input),
	cmocka_unit_test(test_csv__quote_inside_unquoted_field_skips_the_record),
	cmocka_unit_test(test_csv__characters_after_closing_quote_skip_the_record),
	cmocka_unit_test(test_csv__bare_cr_is_refused),
	cmocka_unit_test(test_csv__cr_inside_quotes_is_data),
	cmocka_unit_test(test_csv__invalid_utf8_is_refused),
	cmocka_unit_test(test_csv__valid_utf8_edges_pass),
	cmocka_unit_test(test_csv__nul_byte_is_refused),
	cmocka_unit_test(test_csv__field_over_limit_is_skipped_with_bounded_memory),
	cmocka_unit_test(test_csv__record_over_limit_is_skipped),
	cmocka_unit_test(test_csv__too_many_fields_is_refused),
	cmocka_unit_test(test_csv__crlf_split_across_read_blocks),
	cmocka_unit_test(test_csv__raw_text_excludes_the_line_end),
	cmocka_unit_test(test_csv__write_field_quotes_only_when_needed),
	cmocka_unit_test(test_csv__write_record_ends_with_crlf),
	cmocka_unit_test(test_csv__write_over_limit_leaves_buffer_unchanged),
	cmocka_unit_test(test_csv__written_records_read_back_the_same),
	cmocka_unit_test(test_csv__read_error_is_reported_every_time),
};

AK_UNIT_MAIN(tests)
