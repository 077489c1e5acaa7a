/*
 * tests/fuzz/replay.c - run a libFuzzer target over its seed corpus without
 * libFuzzer, so `make test` exercises every fuzz target (under ASan+UBSan)
 * on every run. Prints TAP: one test per input file.
 *
 * usage: replay_fuzz_X [DIR|FILE]...   (default: tests/fuzz/corpus/fuzz_X)
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count;

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *data = NULL;
	long n;

	if (f == NULL)
		return -1;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return -1;
	}
	data = malloc((size_t)n + 1);
	if (data == NULL || fread(data, 1, (size_t)n, f) != (size_t)n) {
		free(data);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, (size_t)n);
	free(data);
	printf("ok %d - %s\n", ++count, path);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, i;
	int rc = 0;

	if (stat(path, &st) != 0)
		return 0; /* a target may have no corpus yet */
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char **nn;
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		nn = realloc(names, (n + 1) * sizeof(*names));
		if (nn == NULL)
			break;
		names = nn;
		len = strlen(path) + strlen(de->d_name) + 2;
		names[n] = malloc(len);
		if (names[n] == NULL)
			break;
		snprintf(names[n], len, "%s/%s", path, de->d_name);
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp);
	for (i = 0; i < n; i++) {
		if (run_path(names[i]) != 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	int i, rc = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		const char *base = strrchr(argv[0], '/');
		char dir[4096];

		base = base ? base + 1 : argv[0];
		if (strncmp(base, "replay_", 7) == 0)
			base += 7;
		snprintf(dir, sizeof(dir), "tests/fuzz/corpus/%s", base);
		rc = run_path(dir);
	}
	for (i = 1; i < argc; i++)
		if (run_path(argv[i]) != 0)
			rc = -1;
	if (rc != 0)
		printf("not ok %d - could not read every input\n", ++count);
	if (count == 0)
		printf("ok 1 - no corpus (nothing to replay)\n"), count = 1;
	printf("1..%d\n", count);
	return rc == 0 ? 0 : 1;
}
