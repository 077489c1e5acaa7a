/*
 * lib/log.h - diagnostics for people: one line each, to stderr, or to
 * syslog once ak_log_open_syslog() was called (the daemon does).
 * Library code reports failures through lib/error.h, not here; this is for
 * progress and warnings that are not errors of the call at hand.
 */
#ifndef AK_LOG_H
#define AK_LOG_H

enum ak_log_level { AK_LOG_ERR, AK_LOG_WARN, AK_LOG_INFO, AK_LOG_DEBUG };

void ak_log(enum ak_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Messages above this level are dropped (default AK_LOG_INFO). */
void ak_log_set_level(enum ak_log_level level);

/* Send messages to syslog(3) with this ident instead of stderr. */
void ak_log_open_syslog(const char *ident);

#endif
