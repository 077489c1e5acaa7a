/*
 * lib/timefmt.c - RFC 3339 instants (see lib/timefmt.h).
 *
 * Civil-date arithmetic uses the days-from-civil algorithm published by
 * Howard Hinnant (public domain), which is exact over the whole proleptic
 * Gregorian calendar and needs no tables.
 */
#include "lib/timefmt.h"

#include "lib/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, yy;
	unsigned doe, yoe, doy, mp, dd, mm;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	yy = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	dd = doy - (153 * mp + 2) / 5 + 1;
	mm = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yy + (mm <= 2));
	*m = (int)mm;
	*d = (int)dd;
}

int ak_time_days_in_month(int year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	if (month < 1 || month > 12)
		return 0;
	return days[month - 1] + (month == 2 && leap);
}

int64_t ak_time_from_civil(int year, int month, int day, int hour, int min, int sec)
{
	return days_from_civil(year, (unsigned)month, (unsigned)day) * 86400 + hour * 3600 +
	       min * 60 + sec;
}

void ak_time_to_civil(int64_t us, int *year, int *month, int *day, int *hour, int *min, int *sec,
		      int *wday)
{
	int64_t s = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
	int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
	int64_t rem = s - days * 86400;
	int y, m, d;

	civil_from_days(days, &y, &m, &d);
	if (year)
		*year = y;
	if (month)
		*month = m;
	if (day)
		*day = d;
	if (hour)
		*hour = (int)(rem / 3600);
	if (min)
		*min = (int)(rem / 60 % 60);
	if (sec)
		*sec = (int)(rem % 60);
	if (wday)
		*wday = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
}

static int digits(const char *s, size_t n, int *out)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int ak_time_parse(const char *s, size_t len, int64_t *out_us)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	int64_t frac = 0, t;
	size_t i = 19, nfrac = 0;

	if (len < 20)
		return ak_error_code(AK_EINVALID, "not an RFC 3339 date-time (too short)");
	if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
	    digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
	    s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
		return ak_error_code(AK_EINVALID,
				     "not an RFC 3339 date-time (expected YYYY-MM-DDTHH:MM:SS)");
	if (mo < 1 || mo > 12 || d < 1 || d > ak_time_days_in_month(y, mo))
		return ak_error_code(AK_EINVALID, "no such date %.10s", s);
	if (h > 23 || mi > 59)
		return ak_error_code(AK_EINVALID, "no such time of day %.8s", s + 11);
	if (sec > 59)
		return ak_error_code(AK_EINVALID, "leap seconds are not supported");
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (nfrac < 6)
				frac = frac * 10 + (s[i] - '0');
			nfrac++;
			i++;
		}
		if (nfrac == 0 || nfrac > 9)
			return ak_error_code(AK_EINVALID,
					     "fractional seconds need 1 to 9 digits");
		while (nfrac < 6) {
			frac *= 10;
			nfrac++;
		}
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '+' ? 1 : -1;
		if (len - i < 6 || digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
		    digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return ak_error_code(AK_EINVALID, "bad UTC offset (expected +HH:MM)");
		i += 6;
	} else {
		return ak_error_code(AK_EINVALID, "missing time zone (Z or +HH:MM)");
	}
	if (i != len)
		return ak_error_code(AK_EINVALID, "trailing characters after the date-time");
	t = ak_time_from_civil(y, mo, d, h, mi, sec) - sign * (oh * 3600 + om * 60);
	t = t * 1000000 + frac;
	if (t < AK_TIME_MIN_US || t > AK_TIME_MAX_US)
		return ak_error_code(AK_EINVALID, "date-time outside years 0000-9999 in UTC");
	*out_us = t;
	return 0;
}

static char *put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

int ak_time_format(char out[AK_TIME_MAX], int64_t us, enum ak_time_frac frac)
{
	int y, mo, d, h, mi, s, i;
	int64_t f;
	char *p = out;

	if (us < AK_TIME_MIN_US || us > AK_TIME_MAX_US)
		return ak_error_code(AK_EINVALID, "instant outside years 0000-9999");
	ak_time_to_civil(us, &y, &mo, &d, &h, &mi, &s, NULL);
	f = us % 1000000;
	if (f < 0)
		f += 1000000;
	/* By hand: this runs once per entry on the ingest path. */
	p = put2(p, y / 100);
	p = put2(p, y % 100);
	*p++ = '-';
	p = put2(p, mo);
	*p++ = '-';
	p = put2(p, d);
	*p++ = 'T';
	p = put2(p, h);
	*p++ = ':';
	p = put2(p, mi);
	*p++ = ':';
	p = put2(p, s);
	if (frac == AK_TIME_MICRO || (frac == AK_TIME_AUTO && f != 0)) {
		*p++ = '.';
		for (i = 5; i >= 0; i--) {
			p[i] = (char)('0' + f % 10);
			f /= 10;
		}
		p += 6;
	}
	*p++ = 'Z';
	*p = '\0';
	return (int)(p - out);
}

int64_t ak_time_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* "+HH:MM" / "-HH:MM" / "UTC" / "Z" as a fixed offset; 1 if it is one. */
static int fixed_offset(const char *zone, int *out)
{
	int h, m;

	if (strcmp(zone, "UTC") == 0 || strcmp(zone, "Z") == 0 || strcmp(zone, "Etc/UTC") == 0) {
		*out = 0;
		return 1;
	}
	if ((zone[0] == '+' || zone[0] == '-') && strlen(zone) == 6 && zone[3] == ':' &&
	    digits(zone + 1, 2, &h) == 0 && digits(zone + 4, 2, &m) == 0 && h < 24 && m < 60) {
		*out = (zone[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
		return 1;
	}
	return 0;
}

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
/* The zone TZ is set to now (under tz_lock), and the process's own TZ as
 * it was before the first switch. Switching costs a parse of the zone
 * file, so TZ is left on the last zone used and switched only when a call
 * wants another one. */
static char cur_zone[256];
static int have_orig;
static char *orig_tz; /* NULL: TZ was unset */

/* Point TZ at zone (NULL or "local": the process's own). *ok says whether
 * the zone exists. The caller holds tz_lock. */
static void use_tz(const char *zone, int *ok)
{
	char path[512];
	const char *want;
	FILE *f;

	if (!have_orig) {
		const char *o = getenv("TZ");

		orig_tz = o ? strdup(o) : NULL;
		snprintf(cur_zone, sizeof(cur_zone), "%s", o ? o : "");
		have_orig = 1;
	}
	if (zone == NULL || strcmp(zone, "local") == 0) {
		*ok = 1;
		want = orig_tz ? orig_tz : "";
	} else {
		/* tzset() silently falls back to UTC for an unknown name: check
		 * the database file exists first so a typo is an error, not UTC. */
		snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", zone);
		*ok = strstr(zone, "..") == NULL && strlen(zone) < sizeof(cur_zone) &&
		      (f = fopen(path, "rb")) != NULL;
		if (*ok)
			fclose(f);
		if (!*ok)
			return;
		want = zone;
	}
	if (strcmp(cur_zone, want) == 0)
		return;
	if (*want)
		setenv("TZ", want, 1);
	else
		unsetenv("TZ");
	tzset();
	snprintf(cur_zone, sizeof(cur_zone), "%s", want);
}

/* The zone's UTC offset at instant t (seconds); the caller holds tz_lock
 * with TZ on the zone. */
static int offset_at(int64_t t, int *out)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL)
		return -1;
	*out = (int)tm.tm_gmtoff;
	return 0;
}

int ak_time_local(const char *zone, int year, int month, int day, int hour, int min, int sec,
		  int64_t *out_us)
{
	int off, ok, rc = 0, i, o;
	int64_t want = ak_time_from_civil(year, month, day, hour, min, sec), best = INT64_MAX;

	if (zone != NULL && fixed_offset(zone, &off)) {
		*out_us = (want - off) * 1000000;
		return 0;
	}
	pthread_mutex_lock(&tz_lock);
	use_tz(zone, &ok);
	if (!ok) {
		rc = ak_error_code(AK_EINVALID, "unknown time zone '%s'", zone);
		goto done;
	}
	/* Offsets change at most once a day or so: the offsets a day before
	 * and a day after are the only candidates. A candidate is right when
	 * the zone really has that offset at it; none right means the time
	 * was skipped (DST gap); two right means it came twice, and the
	 * earlier wins. (mktime() does this by a search that costs hundreds
	 * of conversions per call.) */
	for (i = -1; i <= 1; i += 2) {
		int64_t t;

		if (offset_at(want + i * 86400, &o) != 0)
			continue;
		t = want - o;
		if (offset_at(t, &off) == 0 && off == o && t < best)
			best = t;
	}
	if (best == INT64_MAX) {
		rc = ak_error_code(AK_EINVALID, "%04d-%02d-%02d %02d:%02d does not exist in zone '%s'",
				   year, month, day, hour, min, zone ? zone : "local");
		goto done;
	}
	*out_us = best * 1000000;
done:
	pthread_mutex_unlock(&tz_lock);
	return rc;
}

int ak_time_zone_offset(const char *zone, int64_t us, int *out_seconds)
{
	int off, ok, rc = 0;
	struct tm tm;
	time_t t = (time_t)(us / 1000000);

	if (zone != NULL && fixed_offset(zone, &off)) {
		*out_seconds = off;
		return 0;
	}
	pthread_mutex_lock(&tz_lock);
	use_tz(zone, &ok);
	if (!ok) {
		rc = ak_error_code(AK_EINVALID, "unknown time zone '%s'", zone);
	} else if (localtime_r(&t, &tm) == NULL) {
		rc = ak_error_code(AK_EINVALID, "cannot convert time in zone '%s'", zone);
	} else {
		*out_seconds = (int)tm.tm_gmtoff;
	}
	pthread_mutex_unlock(&tz_lock);
	return rc;
}
