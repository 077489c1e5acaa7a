/*
 * tests/fuzz/fuzz_config.c - configuration files as operators write them
 * (and --set arguments): reading arbitrary text must never crash, and a
 * value that was accepted must read back through its typed view.
 */
#include "auditd/config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int each(void *ctx, const char *key, const char *value, int is_set, const char *help)
{
	const struct config *c = ctx;

	(void)is_set;
	(void)help;
	if (value == NULL || strcmp(config_get(c, key), value) != 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = NULL;
	char path[64], key[128], *arg, *eq, *before = NULL;
	int fd = memfd_create("config", 0);

	if (fd < 0 || config_new(&c) != 0)
		abort();
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	(void)config_load_file(c, path);
	close(fd);
	if ((arg = malloc(size + 1)) == NULL)
		abort();
	memcpy(arg, data, size);
	arg[size] = '\0';
	eq = strchr(arg, '=');
	if (eq && (size_t)(eq - arg) < sizeof(key)) {
		memcpy(key, arg, (size_t)(eq - arg));
		key[eq - arg] = '\0';
		before = config_get(c, key) ? strdup(config_get(c, key)) : NULL;
	}
	if (config_set(c, arg) == 0) {
		/* Taken: the key holds the value as given. */
		if (eq == NULL || (size_t)(eq - arg) >= sizeof(key) ||
		    strcmp(config_get(c, key), eq + 1) != 0)
			abort();
	} else if (before && strcmp(config_get(c, key), before) != 0) {
		abort(); /* refused: nothing changed */
	}
	free(before);
	free(arg);
	config_each(c, each, c);
	/* Whatever was let through is within the documented ranges. */
	if (config_int(c, "ingest.batch") < 0 || config_int(c, "ingest.batch") > 1000000 ||
	    config_int(c, "smtp.port") < 1 || config_int(c, "smtp.port") > 65535 ||
	    config_int(c, "api.rate") < 0 || config_seconds(c, "unsubscribe.max_age") < 0 ||
	    config_seconds(c, "unsubscribe.max_age") > INT32_MAX ||
	    config_seconds(c, "smtp.timeout") > INT32_MAX)
		abort();
	(void)config_bool(c, "log.syslog");
	config_free(c);
	return 0;
}
