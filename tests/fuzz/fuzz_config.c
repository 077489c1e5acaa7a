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
	char path[64], *arg;
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
	(void)config_set(c, arg);
	free(arg);
	config_each(c, each, c);
	/* The typed views of values the checks let through. */
	(void)config_int(c, "ingest.batch");
	(void)config_seconds(c, "unsubscribe.max_age");
	(void)config_bool(c, "log.syslog");
	config_free(c);
	return 0;
}
