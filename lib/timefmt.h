/*
 * lib/timefmt.h - instants as int64 microseconds since 1970-01-01T00:00:00Z,
 * parsed from and formatted as RFC 3339.
 *
 * The canonical text form of an instant in akashi is UTC with a 'Z':
 * "2026-11-21T23:00:00Z" when the instant falls on a whole second, else
 * exactly six fractional digits, "2026-11-21T23:00:00.120000Z". Two texts
 * that name the same instant ("...T08:00:00+09:00" and "...T23:00:00Z" the
 * day before) therefore normalise to the same bytes.
 *
 * Conversions are pure arithmetic on the proleptic Gregorian calendar (no
 * TZ environment, no locale), except ak_time_local() which needs the
 * time-zone database and says so.
 */
#ifndef AK_TIMEFMT_H
#define AK_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Room for the longest formatted instant plus NUL. */
#define AK_TIME_MAX 40

/* Valid instants: years 0000 to 9999 (RFC 3339's range). */
#define AK_TIME_MIN_US (INT64_C(-62167219200) * 1000000)
#define AK_TIME_MAX_US (INT64_C(253402300799) * 1000000 + 999999)

enum ak_time_frac {
	AK_TIME_AUTO,  /* no fraction on a whole second, else 6 digits */
	AK_TIME_MICRO, /* always 6 fractional digits */
	AK_TIME_SECONDS, /* never a fraction (truncates) */
};

/* Parse an RFC 3339 date-time ("2026-11-21T23:00:00Z", "...+09:00",
 * "...T23:00:00.5Z"; 't' and 'z' accepted in lower case). Up to 9 fractional
 * digits; digits past the sixth are dropped (microsecond precision). No
 * leap seconds. 0 or AK_EINVALID with the reason. */
int ak_time_parse(const char *s, size_t len, int64_t *out_us);

/* Format an instant into out (AK_TIME_MAX bytes). Returns the length, or
 * AK_EINVALID when the instant is outside years 0000-9999. */
int ak_time_format(char out[AK_TIME_MAX], int64_t us, enum ak_time_frac frac);

/* Seconds since the epoch of a civil date-time read as UTC. Out-of-range
 * fields are the caller's to check (month 1-12, day 1-31...). */
int64_t ak_time_from_civil(int year, int month, int day, int hour, int min, int sec);

/* Break an instant into its UTC civil fields (any may be NULL). wday: 0 = Sunday. */
void ak_time_to_civil(int64_t us, int *year, int *month, int *day, int *hour, int *min, int *sec,
		      int *wday);

/* Days in a month of a year (proleptic Gregorian). */
int ak_time_days_in_month(int year, int month);

/* The current time (CLOCK_REALTIME) in microseconds. */
int64_t ak_time_now(void);

/* Convert a civil date-time in the named IANA zone ("Asia/Tokyo", "UTC",
 * a fixed "+09:00", or NULL / "local" for the process's own zone) to an
 * instant. Uses the system time-zone database;
 * serialised by a mutex because it sets TZ (and leaves it on the last zone
 * used, so a process that calls this should not rely on TZ itself). For a local time
 * that occurs twice (DST fall-back) the earlier instant is chosen.
 * 0, or AK_EINVALID for an unknown zone or a time that does not exist. */
int ak_time_local(const char *zone, int year, int month, int day, int hour, int min, int sec,
		  int64_t *out_us);

/* The offset from UTC, in seconds, of the named zone at an instant. */
int ak_time_zone_offset(const char *zone, int64_t us, int *out_seconds);

#endif
