/*
 * auditd/config.h - configuration: a file of "key = value" lines plus
 * --set KEY=VALUE overrides, as `git -c` does, for every command.
 *
 * Keys are known in advance (config.c holds the table with each key's
 * default and type); an unknown key or a value of the wrong type is an
 * error naming the file and line, or the --set argument. docs/OPERATIONS.md
 * lists every key.
 *
 * Ownership: strings returned by config_get() are borrowed from the config
 * and live until config_free().
 */
#ifndef AUDITD_CONFIG_H
#define AUDITD_CONFIG_H

#include <stdint.h>

struct config;

/* A config holding every key's default. config_free() it. */
int config_new(struct config **out);
void config_free(struct config *c);

/* Read a file ("key = value" lines, '#' comments, blank lines). Later
 * values override earlier ones. AK_EINVALID naming FILE:LINE. */
int config_load_file(struct config *c, const char *path);

/* Apply "KEY=VALUE". AK_EINVALID naming the argument. */
int config_set(struct config *c, const char *assignment);

/* The value of key (never NULL for a known key: "" when empty). */
const char *config_get(const struct config *c, const char *key);

/* Typed views; the value was checked when it was set. */
int64_t config_int(const struct config *c, const char *key);
/* A duration ("60s", "5m", "2h", "3d", or plain seconds) in seconds. */
int64_t config_seconds(const struct config *c, const char *key);
int config_bool(const struct config *c, const char *key);

/* Call cb for every key with its value and whether it was set (not the
 * default), in table order: for `akashi config`. */
int config_each(const struct config *c,
		int (*cb)(void *ctx, const char *key, const char *value, int is_set,
			  const char *help),
		void *ctx);

#endif
