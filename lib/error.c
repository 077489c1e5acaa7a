/*
 * lib/error.c - the thread-local error message behind lib/error.h.
 * Messages are truncated, never overflowed, at AK_ERROR_MAX bytes.
 */
#include "lib/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define AK_ERROR_MAX 2048

static _Thread_local char msg[AK_ERROR_MAX];

static void vset(const char *fmt, va_list ap)
{
	vsnprintf(msg, sizeof(msg), fmt, ap);
}

int ak_error_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(fmt, ap);
	va_end(ap);
	return AK_ERROR;
}

int ak_error_code(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(fmt, ap);
	va_end(ap);
	return code;
}

void ak_error_prefix(const char *fmt, ...)
{
	char old[AK_ERROR_MAX];
	size_t n;
	va_list ap;

	memcpy(old, msg, sizeof(old));
	va_start(ap, fmt);
	vset(fmt, ap);
	va_end(ap);
	n = strlen(msg);
	if (old[0] != '\0' && n + 3 < sizeof(msg)) {
		size_t k = strlen(old), room = sizeof(msg) - n - 3;

		memcpy(msg + n, ": ", 2);
		if (k > room)
			k = room; /* truncated, never overflowed */
		memcpy(msg + n + 2, old, k);
		msg[n + 2 + k] = '\0';
	}
}

const char *ak_error_last(void)
{
	return msg;
}

void ak_error_clear(void)
{
	msg[0] = '\0';
}

int ak_error_oom(void)
{
	snprintf(msg, sizeof(msg), "out of memory");
	return AK_ENOMEM;
}
