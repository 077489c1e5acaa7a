/*
 * policies/repo.h - the policy repository: a git repository of policy
 * files (policies/policy.h), read from commits with libgit2, never from a
 * work tree.
 *
 * Layout of a policy repository: one policy per `*.json` file at the top
 * of the tree (subdirectories are ignored), plus an optional `alerts.json`
 * holding the alert rules of the daemon. The shipped set is
 * policies/default/ in the source tree, embedded in the binary;
 * `akashi init` commits it as the first commit of <store>/policies unless
 * `--policies REPO` names an existing repository.
 *
 * Refs: "HEAD", a branch ("main"), a tag, "refs/...", or a commit id (full
 * or abbreviated); policy_load() records the commit id it resolved to.
 *
 * Errors name the file and, where there is one, the line and column:
 * "consent-optin-proof.json:4:15: params.threshold: expected an integer".
 */
#ifndef POLICIES_REPO_H
#define POLICIES_REPO_H

#include "policies/policy.h"

#include <stddef.h>
#include <stdint.h>

/* Create a git repository at dir (created if missing; AK_EEXISTS if it is
 * already a repository) holding the shipped default policies as its first
 * commit on branch "main". */
int policy_repo_init(const char *dir);

/* The full hex id of the commit ref resolves to, into out. AK_ENOTFOUND
 * when repo is no repository or ref names no commit. So that a caller can
 * pin one commit for several calls (lint, then load) while the ref moves. */
int policy_resolve(const char *repo, const char *ref, char out[41]);

/* Load and validate the policies of the commit ref resolves to. On any
 * error in any file: AK_EINVALID with the first error (policy_lint gives
 * all of them). Free with policy_set_free(). */
int policy_load(struct policy_set **out, const char *repo, const char *ref);

struct policy_lint_error {
	const char *file;   /* path in the tree, or "" for the commit itself */
	int line, column;   /* 1-based; 0 when unknown */
	const char *message;
};

/* Check every policy file of ref; call cb for every error (in file order,
 * then position). *nerrors gets the count. 0 when the check ran (even with
 * errors), <0 when the repository or ref could not be read. */
int policy_lint(const char *repo, const char *ref,
		int (*cb)(void *ctx, const struct policy_lint_error *e), void *ctx,
		size_t *nerrors);

struct policy_change {
	char status;        /* 'A' added, 'M' modified, 'D' deleted */
	const char *file;
	const char *id;     /* the policy id in the file (new side; old side for D), or NULL */
};

struct policy_commit_info {
	char commit[41];
	const char *author;
	const char *email;
	int64_t time_us;
	const char *summary;
	const struct policy_change *changes; /* policy files changed against the parent */
	size_t nchanges;
};

/* Walk the history of ref, newest first, calling cb per commit. */
int policy_history(const char *repo, const char *ref,
		   int (*cb)(void *ctx, const struct policy_commit_info *c), void *ctx);

/* The files of the policy set at commit (for evidence bundles): cb gets
 * each path and its bytes. */
int policy_files(const char *repo, const char *commit,
		 int (*cb)(void *ctx, const char *path, const void *data, size_t len), void *ctx);

#endif
