/*
 * policies/policy_int.h - what the files of the policy module share: the
 * check of one policy file's bytes (policy_file.c), which the repository
 * code (repo.c) runs on every file of a commit and the fuzz target
 * (tests/fuzz/fuzz_policy.c) runs on anything.
 */
#ifndef POLICIES_POLICY_INT_H
#define POLICIES_POLICY_INT_H

#include "policies/repo.h"

#include <jansson.h>
#include <stddef.h>

/* The largest policy file (or alerts.json) read from a commit. */
#define POLICY_FILE_MAX ((size_t)1 << 20)
/* Errors reported per file; one more message counts the rest. */
#define POLICY_FILE_MAX_ERRORS 100
/* Longest policy id. */
#define POLICY_ID_MAX 100
/* Room for a string quoted in a message by policy_shown(). */
#define POLICY_SHOWN_SIZE 512

typedef int (*policy_error_cb)(void *ctx, const struct policy_lint_error *e);

/* What checking one file gives besides its errors. */
struct policy_checked {
	/* Filled only when the file has no error. Its strings are owned;
	 * params, cites and scope are borrowed from `values`. */
	struct policy policy;
	json_t *values; /* {"params": ..., "cites": ..., "scope": ...} */
	/* The id and where it is, whenever it is well-formed, even in a file
	 * with other errors (to find duplicates across files). */
	char *id;
	int id_line, id_column;
};

/*
 * Check the bytes of one policy file; path names it in the errors and
 * becomes policy.path. Every
 * error goes to cb (in the order found, not by position; at most
 * POLICY_FILE_MAX_ERRORS and one message counting the rest). out may be
 * NULL; else it is filled as described above and cleared with
 * policy_checked_clear() whatever the result.
 *
 * 0 when the file is a valid policy, AK_EINVALID when errors were
 * reported, AK_ENOMEM, or the nonzero value cb returned to stop.
 */
int policy_file_check(const char *path, const char *text, size_t len, policy_error_cb cb, void *ctx,
                      struct policy_checked *out);
void policy_checked_clear(struct policy_checked *c);

/* Check alerts.json: strict JSON whose top is an object. *out (may be NULL)
 * gets a new reference to it when valid. Results as policy_file_check(). */
int policy_alerts_check(const char *path, const char *text, size_t len, policy_error_cb cb,
                        void *ctx, json_t **out);

/* The id in a policy file's text when it has a well-formed one, else NULL
 * (also when out of memory). The caller frees it. */
char *policy_file_id(const char *text, size_t len);

/* Line and column of a byte offset in text, both 1-based; columns count
 * characters (UTF-8 sequences), not bytes. An offset past the end is the
 * end. */
void policy_position(const char *text, size_t len, size_t offset, int *line, int *column);

/* s[0..len) made safe to print inside quotes: control characters, quotes
 * and backslashes escaped, invalid UTF-8 as \xNN, cut short with "..." past
 * about 200 bytes. Returns out. */
const char *policy_shown(char out[POLICY_SHOWN_SIZE], const char *s, size_t len);

#endif
