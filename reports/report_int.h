/*
 * reports/report_int.h - what the files of the report module share: small
 * readers of the document (the renderers trust nothing in it to be
 * present or of the right type), and the decimal strings ratios are
 * written as.
 */
#ifndef REPORTS_REPORT_INT_H
#define REPORTS_REPORT_INT_H

#include "lib/buf.h"

#include <jansson.h>
#include <stdint.h>

/* The string at key of o, or def when absent or not a string. */
static inline const char *rj_str(const json_t *o, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : def;
}

/* The integer at key of o, or def. */
static inline int64_t rj_int(const json_t *o, const char *key, int64_t def)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

/* A ratio string ("0.9950", "1", "0.98") in parts per ten thousand (9950),
 * or -1 when s is not one. */
int64_t report_ratio_e4(const char *s);

#endif
