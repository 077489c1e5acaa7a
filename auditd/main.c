/*
 * auditd/main.c - the akashi command: subcommand dispatch.
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		printf("usage: akashi COMMAND [ARGS]\n");
		return argc < 2 ? 2 : 0;
	}
	fprintf(stderr, "akashi: unknown command '%s'\n", argv[1]);
	return 2;
}
