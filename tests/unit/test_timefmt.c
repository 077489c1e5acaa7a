/*
 * tests/unit/test_timefmt.c - instants: RFC 3339 parsing and the one
 * canonical text form, civil arithmetic at the edges of the calendar, and
 * local times in real zones across daylight-saving gaps and folds.
 */
#include "tests/unit/unit.h"

#include "lib/error.h"
#include "lib/timefmt.h"

#include <string.h>

static int64_t P(const char *s)
{
	int64_t t = 0;

	assert_int_equal(ak_time_parse(s, strlen(s), &t), 0);
	return t;
}

static const char *F(int64_t us, enum ak_time_frac f)
{
	static char out[AK_TIME_MAX];

	assert_true(ak_time_format(out, us, f) > 0);
	return out;
}

static void test_timefmt__offsets_normalise_to_one_form(void **state)
{
	(void)state;
	assert_string_equal(F(P("2026-07-01T09:00:00+09:00"), AK_TIME_AUTO), "2026-07-01T00:00:00Z");
	assert_string_equal(F(P("2026-06-30T20:00:00-04:00"), AK_TIME_AUTO), "2026-07-01T00:00:00Z");
	assert_string_equal(F(P("2026-07-01t00:00:00.5z"), AK_TIME_AUTO),
			    "2026-07-01T00:00:00.500000Z");
	assert_string_equal(F(P("2026-07-01T00:00:00.123456789Z"), AK_TIME_AUTO),
			    "2026-07-01T00:00:00.123456Z");
	assert_string_equal(F(P("2026-07-01T00:00:00Z"), AK_TIME_MICRO),
			    "2026-07-01T00:00:00.000000Z");
	assert_string_equal(F(P("2026-07-01T00:00:00.9Z"), AK_TIME_SECONDS), "2026-07-01T00:00:00Z");
}

static void test_timefmt__calendar_edges(void **state)
{
	(void)state;
	assert_string_equal(F(P("2024-02-29T23:59:59Z"), AK_TIME_AUTO), "2024-02-29T23:59:59Z");
	assert_string_equal(F(P("1969-12-31T23:59:59.999999Z"), AK_TIME_AUTO),
			    "1969-12-31T23:59:59.999999Z");
	assert_string_equal(F(P("0000-01-01T00:00:00Z"), AK_TIME_AUTO), "0000-01-01T00:00:00Z");
	assert_string_equal(F(P("9999-12-31T23:59:59Z"), AK_TIME_AUTO), "9999-12-31T23:59:59Z");
	assert_int_equal(ak_time_days_in_month(2100, 2), 28);
	assert_int_equal(ak_time_days_in_month(2000, 2), 29);
}

static void test_timefmt__bad_times_are_refused(void **state)
{
	static const char *bad[] = {"2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
				    "2026-07-01T24:00:00Z", "2026-07-01T00:00:60Z",
				    "2026-07-01T00:00:00",  "2026-07-01 00:00:00Z",
				    "2026-07-01T00:00:00.Z", "2026-07-01T00:00:00+9:00",
				    "2026-07-01T00:00:00Zx", "yesterday"};
	int64_t t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ak_time_parse(bad[i], strlen(bad[i]), &t), AK_EINVALID);
}

static void test_timefmt__local_times_in_real_zones(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(ak_time_local("Asia/Tokyo", 2026, 7, 1, 9, 0, 0, &t), 0);
	assert_string_equal(F(t, AK_TIME_AUTO), "2026-07-01T00:00:00Z");
	/* New York: 2026-03-08 02:30 does not exist (clocks go 02:00 -> 03:00) */
	assert_int_equal(ak_time_local("America/New_York", 2026, 3, 8, 2, 30, 0, &t), AK_EINVALID);
	assert_int_equal(ak_time_local("America/New_York", 2026, 3, 8, 3, 30, 0, &t), 0);
	assert_string_equal(F(t, AK_TIME_AUTO), "2026-03-08T07:30:00Z");
	assert_int_equal(ak_time_local("America/New_York", 2026, 3, 8, 1, 30, 0, &t), 0);
	assert_string_equal(F(t, AK_TIME_AUTO), "2026-03-08T06:30:00Z");
	/* 2026-11-01 01:30 happens twice: the earlier (EDT) is chosen */
	assert_int_equal(ak_time_local("America/New_York", 2026, 11, 1, 1, 30, 0, &t), 0);
	assert_string_equal(F(t, AK_TIME_AUTO), "2026-11-01T05:30:00Z");
	assert_int_equal(ak_time_local("America/New_York", 2026, 11, 1, 2, 30, 0, &t), 0);
	assert_string_equal(F(t, AK_TIME_AUTO), "2026-11-01T07:30:00Z");
	assert_int_equal(ak_time_local("+09:00", 2026, 1, 1, 0, 0, 0, &t), 0);
	assert_string_equal(F(t, AK_TIME_AUTO), "2025-12-31T15:00:00Z");
	assert_int_equal(ak_time_local("Mars/Olympus", 2026, 1, 1, 0, 0, 0, &t), AK_EINVALID);
	assert_int_equal(ak_time_local("../../etc/passwd", 2026, 1, 1, 0, 0, 0, &t), AK_EINVALID);
}

static void test_timefmt__zone_offsets(void **state)
{
	int off;

	(void)state;
	assert_int_equal(ak_time_zone_offset("Asia/Tokyo", P("2026-07-01T00:00:00Z"), &off), 0);
	assert_int_equal(off, 9 * 3600);
	assert_int_equal(ak_time_zone_offset("Europe/Berlin", P("2026-07-01T00:00:00Z"), &off), 0);
	assert_int_equal(off, 2 * 3600);
	assert_int_equal(ak_time_zone_offset("Europe/Berlin", P("2026-01-01T00:00:00Z"), &off), 0);
	assert_int_equal(off, 3600);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timefmt__offsets_normalise_to_one_form),
		cmocka_unit_test(test_timefmt__calendar_edges),
		cmocka_unit_test(test_timefmt__bad_times_are_refused),
		cmocka_unit_test(test_timefmt__local_times_in_real_zones),
		cmocka_unit_test(test_timefmt__zone_offsets),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
