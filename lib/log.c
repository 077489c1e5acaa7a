/*
 * lib/log.c - see lib/log.h.
 */
#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

static enum ak_log_level max_level = AK_LOG_INFO;
static int use_syslog;

void ak_log_set_level(enum ak_log_level level)
{
	max_level = level;
}

void ak_log_open_syslog(const char *ident)
{
	openlog(ident, LOG_PID, LOG_DAEMON);
	use_syslog = 1;
}

void ak_log(enum ak_log_level level, const char *fmt, ...)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	static const char *name[] = {"error", "warning", "info", "debug"};
	char line[2048];
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (use_syslog)
		syslog(prio[level], "%s", line);
	else
		fprintf(stderr, "akashi: %s: %s\n", name[level], line);
}
