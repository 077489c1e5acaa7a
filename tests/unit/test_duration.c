/*
 * tests/unit/test_duration.c - the value types of policies/controls.c:
 * durations (parse, add on a calendar, format) and ratios.
 *
 * Instants are written and compared as RFC 3339 text so that each case
 * reads as the calendar fact it checks ("Friday + 1 business day is
 * Monday").
 */
#include "tests/unit/unit.h"

#include "lib/error.h"
#include "lib/timefmt.h"
#include "policies/policy.h"

#include <stdio.h>
#include <string.h>

static int64_t at(const char *s)
{
	int64_t us = 0;

	if (ak_time_parse(s, strlen(s), &us) != 0)
		fail_msg("bad instant in the test: %s (%s)", s, ak_error_last());
	return us;
}

/* t + d (d as text) on the calendar zone/holidays, as UTC text. */
static const char *plus(const char *t, const char *d, const char *zone, const char *const *holidays)
{
	static char out[AK_TIME_MAX];
	struct policy_calendar cal = {zone, holidays};
	struct policy_duration dur;
	int64_t us;

	if (policy_duration_parse(d, &dur) != 0)
		fail_msg("duration %s: %s", d, ak_error_last());
	if (policy_duration_add(at(t), &dur, &cal, &us) != 0)
		fail_msg("%s + %s: %s", t, d, ak_error_last());
	ak_time_format(out, us, AK_TIME_AUTO);
	return out;
}

static void parses(const char *s, int64_t n, enum policy_unit unit)
{
	struct policy_duration d = {-1, POLICY_YEARS};

	if (policy_duration_parse(s, &d) != 0)
		fail_msg("'%s' refused: %s", s, ak_error_last());
	assert_int_equal(d.n, n);
	assert_int_equal(d.unit, unit);
}

static void refuses(const char *s)
{
	struct policy_duration d;

	if (policy_duration_parse(s, &d) != AK_EINVALID)
		fail_msg("'%s' accepted as a duration", s);
	assert_non_null(strstr(ak_error_last(), "is not a duration"));
}

static void test_duration__parses_every_unit(void **state)
{
	(void)state;
	parses("45s", 45, POLICY_SECONDS);
	parses("30m", 30, POLICY_MINUTES);
	parses("2h", 2, POLICY_HOURS);
	parses("90d", 90, POLICY_DAYS);
	parses("2w", 2, POLICY_WEEKS);
	parses("1mo", 1, POLICY_MONTHS);
	parses("3y", 3, POLICY_YEARS);
	parses("10bd", 10, POLICY_BUSINESS_DAYS);
	parses("0", 0, POLICY_SECONDS);
	parses("0d", 0, POLICY_DAYS);
	parses("1000000d", 1000000, POLICY_DAYS);
}

static void test_duration__refuses_what_is_not_a_duration(void **state)
{
	(void)state;
	refuses("");
	refuses("d");
	refuses("90"); /* a unit is required but for "0" */
	refuses("-1d");
	refuses("+1d");
	refuses(" 1d");
	refuses("1 d");
	refuses("1d ");
	refuses("1.5d");
	refuses("1D");
	refuses("1dd");
	refuses("1x");
	refuses("1month");
	refuses("1000001d"); /* beyond the bound */
	refuses("99999999999999999999d");
}

static void test_duration__adds_fixed_units_as_elapsed_time(void **state)
{
	(void)state;
	assert_string_equal(plus("2026-03-07T12:00:00Z", "45s", NULL, NULL),
	                    "2026-03-07T12:00:45Z");
	assert_string_equal(plus("2026-03-07T12:00:00Z", "30m", NULL, NULL),
	                    "2026-03-07T12:30:00Z");
	assert_string_equal(plus("2026-03-07T23:00:00Z", "2h", NULL, NULL), "2026-03-08T01:00:00Z");
	assert_string_equal(plus("2026-12-31T00:00:00Z", "1d", NULL, NULL), "2027-01-01T00:00:00Z");
	assert_string_equal(plus("2026-03-07T12:00:00Z", "2w", NULL, NULL), "2026-03-21T12:00:00Z");
	assert_string_equal(plus("2026-03-07T12:00:00.250000Z", "0", NULL, NULL),
	                    "2026-03-07T12:00:00.250000Z");
}

static void test_duration__months_clamp_to_the_last_day(void **state)
{
	(void)state;
	assert_string_equal(plus("2026-01-31T10:00:00Z", "1mo", NULL, NULL),
	                    "2026-02-28T10:00:00Z");
	assert_string_equal(plus("2028-01-31T10:00:00Z", "1mo", NULL, NULL),
	                    "2028-02-29T10:00:00Z"); /* leap year */
	assert_string_equal(plus("2026-03-31T10:00:00Z", "1mo", NULL, NULL),
	                    "2026-04-30T10:00:00Z");
	assert_string_equal(plus("2026-11-30T10:00:00Z", "3mo", NULL, NULL),
	                    "2027-02-28T10:00:00Z"); /* across the year */
	assert_string_equal(plus("2026-01-15T10:00:00Z", "12mo", NULL, NULL),
	                    "2027-01-15T10:00:00Z");
	assert_string_equal(plus("2028-02-29T10:00:00Z", "1y", NULL, NULL), "2029-02-28T10:00:00Z");
	assert_string_equal(plus("2026-07-01T00:00:00.5Z", "3y", NULL, NULL),
	                    "2029-07-01T00:00:00.500000Z"); /* the fraction is kept */
}

static void test_duration__months_count_in_the_calendar_zone(void **state)
{
	(void)state;
	/* 00:30 on Jan 31 in Tokyo is still Jan 30 in UTC: the month is
	 * Tokyo's, so the result is Feb 28 00:30 Tokyo time. */
	assert_string_equal(plus("2026-01-31T00:30:00+09:00", "1mo", "Asia/Tokyo", NULL),
	                    "2026-02-27T15:30:00Z");
	assert_string_equal(plus("2026-01-31T00:30:00+09:00", "1mo", NULL, NULL),
	                    "2026-02-28T15:30:00Z"); /* UTC: Jan 30 + 1mo */
}

static void test_duration__business_days_skip_weekends(void **state)
{
	(void)state;
	/* 2026-11-20 is a Friday. */
	assert_string_equal(plus("2026-11-20T10:00:00Z", "1bd", NULL, NULL),
	                    "2026-11-23T10:00:00Z");
	assert_string_equal(plus("2026-11-18T10:00:00Z", "2bd", NULL, NULL),
	                    "2026-11-20T10:00:00Z"); /* Wednesday: no weekend between */
	assert_string_equal(plus("2026-11-21T10:00:00Z", "1bd", NULL, NULL),
	                    "2026-11-23T10:00:00Z"); /* from a Saturday */
	assert_string_equal(plus("2026-11-20T10:00:00Z", "10bd", NULL, NULL),
	                    "2026-12-04T10:00:00Z"); /* CAN-SPAM's ten: two weekends */
	assert_string_equal(plus("2026-11-20T10:00:00Z", "0bd", NULL, NULL),
	                    "2026-11-20T10:00:00Z");
}

static void test_duration__business_days_skip_holidays(void **state)
{
	static const char *const holidays[] = {"2026-11-23", "2026-12-31", "2027-01-01", NULL};

	(void)state;
	assert_string_equal(plus("2026-11-20T10:00:00Z", "1bd", NULL, holidays),
	                    "2026-11-24T10:00:00Z"); /* weekend, then a holiday Monday */
	/* Thursday Dec 31 and Friday Jan 1 off, then the weekend. */
	assert_string_equal(plus("2026-12-30T09:00:00Z", "1bd", NULL, holidays),
	                    "2027-01-04T09:00:00Z");
}

static void test_duration__business_days_follow_the_zone(void **state)
{
	(void)state;
	/* Friday 08:00 in Tokyo is Thursday 23:00 UTC: the next business
	 * day in Tokyo is Monday, not Friday. */
	assert_string_equal(plus("2026-11-20T08:00:00+09:00", "1bd", "Asia/Tokyo", NULL),
	                    "2026-11-22T23:00:00Z");
	assert_string_equal(plus("2026-11-20T08:00:00+09:00", "1bd", NULL, NULL),
	                    "2026-11-20T23:00:00Z"); /* UTC: Thursday + 1 = Friday */
}

static void test_duration__calendar_units_keep_the_wall_clock_across_dst(void **state)
{
	(void)state;
	/* New York springs forward on 2026-03-08: noon stays noon. */
	assert_string_equal(plus("2026-03-06T12:00:00-05:00", "1bd", "America/New_York", NULL),
	                    "2026-03-09T16:00:00Z"); /* Monday 12:00 EDT */
	assert_string_equal(plus("2026-02-07T12:00:00-05:00", "1mo", "America/New_York", NULL),
	                    "2026-03-07T17:00:00Z"); /* still EST */
	assert_string_equal(plus("2026-03-07T12:00:00-05:00", "1mo", "America/New_York", NULL),
	                    "2026-04-07T16:00:00Z"); /* 12:00 EDT */
	/* Days are fixed 24 h: two days later is 13:00 EDT. */
	assert_string_equal(plus("2026-03-07T12:00:00-05:00", "2d", "America/New_York", NULL),
	                    "2026-03-09T17:00:00Z");
	/* 02:30 does not exist on 2026-03-08: the elapsed offset is kept. */
	assert_string_equal(plus("2026-02-08T02:30:00-05:00", "1mo", "America/New_York", NULL),
	                    "2026-03-08T07:30:00Z");
}

static void test_duration__refuses_an_unknown_zone(void **state)
{
	struct policy_calendar cal = {"Mars/Olympus_Mons", NULL};
	struct policy_duration d = {1, POLICY_MONTHS};
	int64_t out;

	(void)state;
	assert_int_equal(policy_duration_add(at("2026-01-01T00:00:00Z"), &d, &cal, &out),
	                 AK_EINVALID);
	/* Fixed units need no zone at all. */
	d.unit = POLICY_DAYS;
	assert_int_equal(policy_duration_add(at("2026-01-01T00:00:00Z"), &d, &cal, &out), 0);
}

static void formats(const char *s, const char *want)
{
	struct policy_duration d;
	char out[64];

	assert_int_equal(policy_duration_parse(s, &d), 0);
	assert_int_equal(policy_duration_format(&d, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void test_duration__formats_for_people(void **state)
{
	struct policy_duration d = {10, POLICY_BUSINESS_DAYS};
	char small[8];

	(void)state;
	formats("90d", "90 days");
	formats("1d", "1 day");
	formats("10bd", "10 business days");
	formats("1bd", "1 business day");
	formats("1mo", "1 month");
	formats("3y", "3 years");
	formats("2w", "2 weeks");
	formats("1h", "1 hour");
	formats("30m", "30 minutes");
	formats("0", "0 seconds");
	assert_int_not_equal(policy_duration_format(&d, small, sizeof(small)), 0);
}

static void ratio(const char *s, int64_t want)
{
	int64_t ppm = -1;

	if (policy_ratio_parse(s, &ppm) != 0)
		fail_msg("'%s' refused: %s", s, ak_error_last());
	assert_int_equal(ppm, want);
}

static void not_ratio(const char *s)
{
	int64_t ppm;

	if (policy_ratio_parse(s, &ppm) != AK_EINVALID)
		fail_msg("'%s' accepted as a ratio", s);
}

static void test_duration__ratios_are_parts_per_million(void **state)
{
	(void)state;
	ratio("0.98", 980000);
	ratio("0.95", 950000);
	ratio("0", 0);
	ratio("1", 1000000);
	ratio("1.0", 1000000);
	ratio("1.000000000", 1000000);
	ratio("0.000001", 1);
	ratio("0.0000019", 1); /* digits past the sixth are dropped */
	ratio("0.5", 500000);
	not_ratio("");
	not_ratio(".5");
	not_ratio("0.");
	not_ratio("-0.1");
	not_ratio("+0.1");
	not_ratio("1.01");
	not_ratio("1.0000001");
	not_ratio("2");
	not_ratio("0.5x");
	not_ratio("0,5");
	not_ratio("98%");
	not_ratio(" 0.5");
}

static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration__parses_every_unit),
        cmocka_unit_test(test_duration__refuses_what_is_not_a_duration),
        cmocka_unit_test(test_duration__adds_fixed_units_as_elapsed_time),
        cmocka_unit_test(test_duration__months_clamp_to_the_last_day),
        cmocka_unit_test(test_duration__months_count_in_the_calendar_zone),
        cmocka_unit_test(test_duration__business_days_skip_weekends),
        cmocka_unit_test(test_duration__business_days_skip_holidays),
        cmocka_unit_test(test_duration__business_days_follow_the_zone),
        cmocka_unit_test(test_duration__calendar_units_keep_the_wall_clock_across_dst),
        cmocka_unit_test(test_duration__refuses_an_unknown_zone),
        cmocka_unit_test(test_duration__formats_for_people),
        cmocka_unit_test(test_duration__ratios_are_parts_per_million),
};

AK_UNIT_MAIN(tests)
