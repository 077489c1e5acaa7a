/*
 * reports/bundle_files.c - the names a bundle may hold, and the two files
 * every bundle carries as they are: VERIFY.md and verify.py.
 *
 * Those two live in reports/ as ordinary files, so verify.py can be read,
 * run and tested like any script; the assembler's .incbin puts their bytes
 * into the binary (the Makefile names them as prerequisites of this
 * object, since the compiler's dependency list cannot see them).
 */
#include "reports/bundle_int.h"

#include <string.h>

/* NUL-terminated copies; the lengths exclude the NUL. */
__asm__(".pushsection .rodata\n"
	".balign 16\n"
	".globl bundle_verify_md_start\n"
	"bundle_verify_md_start:\n"
	".incbin \"reports/VERIFY.md\"\n"
	".globl bundle_verify_md_end\n"
	"bundle_verify_md_end:\n"
	".byte 0\n"
	".balign 16\n"
	".globl bundle_verify_py_start\n"
	"bundle_verify_py_start:\n"
	".incbin \"reports/verify.py\"\n"
	".globl bundle_verify_py_end\n"
	"bundle_verify_py_end:\n"
	".byte 0\n"
	".popsection\n");

extern const char bundle_verify_md_start[], bundle_verify_md_end[];
extern const char bundle_verify_py_start[], bundle_verify_py_end[];

const char *bundle_text_verify_md(size_t *len)
{
	*len = (size_t)(bundle_verify_md_end - bundle_verify_md_start);
	return bundle_verify_md_start;
}

const char *bundle_text_verify_py(size_t *len)
{
	*len = (size_t)(bundle_verify_py_end - bundle_verify_py_start);
	return bundle_verify_py_start;
}

static int safe_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

int bundle_safe_path(const char *p)
{
	size_t n = strlen(p), i;
	int start = 1;

	if (n == 0 || n > BUNDLE_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		if (p[i] == '/') {
			if (start)
				return 0; /* empty component, or a leading '/' */
			start = 1;
			continue;
		}
		if (!safe_char(p[i]) || (start && p[i] == '.'))
			return 0; /* ".", "..", hidden files */
		start = 0;
	}
	return !start; /* no trailing '/' */
}

enum bundle_member bundle_member_of(const char *rel, uint64_t *size)
{
	static const struct {
		const char *name;
		enum bundle_member m;
	} fixed[] = {
		{"entries.jsonl", BUNDLE_M_ENTRIES},     {"proofs.json", BUNDLE_M_PROOFS},
		{"checkpoint", BUNDLE_M_CHECKPOINT},     {"pubkey.pem", BUNDLE_M_PUBKEY},
		{"custody.json", BUNDLE_M_CUSTODY},      {"MANIFEST.sha256", BUNDLE_M_MANIFEST},
		{"VERIFY.md", BUNDLE_M_VERIFY_MD},       {"verify.py", BUNDLE_M_VERIFY_PY},
	};
	size_t i;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strcmp(rel, fixed[i].name) == 0)
			return fixed[i].m;
	if (strncmp(rel, "checkpoints/", 12) == 0) {
		const char *d = rel + 12;
		uint64_t v = 0;

		/* A decimal size without leading zeros, below 2^63. */
		if (d[0] < '1' || d[0] > '9' || strlen(d) > 18)
			return BUNDLE_M_UNKNOWN;
		for (; *d; d++) {
			if (*d < '0' || *d > '9')
				return BUNDLE_M_UNKNOWN;
			v = v * 10 + (uint64_t)(*d - '0');
		}
		*size = v;
		return BUNDLE_M_OLD_CHECKPOINT;
	}
	if (strncmp(rel, "policies/", 9) == 0 && bundle_safe_path(rel + 9))
		return BUNDLE_M_POLICY;
	return BUNDLE_M_UNKNOWN;
}
