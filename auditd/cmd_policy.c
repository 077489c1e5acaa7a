/*
 * auditd/cmd_policy.c - `akashi policy lint|show|history`, and the policy
 * side of `akashi init`.
 *
 * The policy repository is the config key policies.repo (empty: the
 * repository `akashi init` made in <store>/policies) at policies.ref
 * (HEAD); `akashi init --policies REPO` records REPO in <store>/akashi.conf.
 * Everything is read from a commit (policies/repo.h); each command names
 * the commit it read.
 */
#include "auditd/cli.h"

#include "lib/error.h"
#include "lib/jcs.h"
#include "lib/timefmt.h"
#include "policies/repo.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define POLICIES_DIR "policies"

/* Text from a repository (a name, a commit message, a cite) with control
 * characters shown as \xNN, so it cannot drive the terminal. */
static void put_text(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7F)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

/* The configured policy repository into buf. */
static const char *configured_repo(struct cli *cli, char *buf, size_t size)
{
	const char *r = config_get(cli->config, "policies.repo");

	if (*r)
		snprintf(buf, size, "%s", r);
	else
		snprintf(buf, size, "%s/%s", cli->store_dir, POLICIES_DIR);
	return buf;
}

/* ---- akashi init ---- */

int cli_policies_check(const char *repo, char *abs, size_t size)
{
	struct policy_set *set = NULL;
	char real[PATH_MAX];
	int rc;

	if (realpath(repo, real) == NULL)
		return ak_error_code(AK_ENOTFOUND, "--policies %s: %s", repo, strerror(errno));
	/* akashi.conf holds one "key = value" per line, trimmed. */
	if (strchr(real, '\n') || strchr(real, '\r') || real[strlen(real) - 1] == ' ' ||
	    real[strlen(real) - 1] == '\t')
		return ak_error_code(AK_EINVALID,
		                     "--policies %s: a path with a line break or trailing blank "
		                     "cannot be recorded",
		                     repo);
	if ((rc = policy_load(&set, real, "HEAD")) != 0) {
		ak_error_prefix("--policies %s", repo);
		return rc;
	}
	policy_set_free(set);
	if ((size_t)snprintf(abs, size, "%s", real) >= size)
		return ak_error_code(AK_EINVALID, "--policies %s: path too long", repo);
	return 0;
}

/* Write <store>/akashi.conf recording repo: a temporary file, flushed,
 * renamed into place. */
static int record_repo(struct cli *cli, const char *repo)
{
	char path[sizeof(cli->store_dir) + 32], tmp[sizeof(path) + 8];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", cli->store_dir, CLI_STORE_CONFIG);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL)
		return ak_error_set("%s: %s", tmp, strerror(errno));
	ok = fprintf(f,
	             "# Settings of this store, read by every akashi command that uses it\n"
	             "# (--config and --set override them). Written by akashi init.\n"
	             "policies.repo = %s\n",
	             repo) > 0;
	ok = fflush(f) == 0 && ok;
	ok = fsync(fileno(f)) == 0 && ok;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		int e = errno;

		unlink(tmp);
		return ak_error_set("%s: %s", path, strerror(e));
	}
	return 0;
}

int cli_policies_setup(struct cli *cli, const char *abs)
{
	struct policy_set *set = NULL;
	char repo[sizeof(cli->store_dir) + 16];
	int rc;

	if (abs) {
		if ((rc = record_repo(cli, abs)) != 0)
			return rc;
		snprintf(repo, sizeof(repo), "%s", abs);
	} else {
		snprintf(repo, sizeof(repo), "%s/%s", cli->store_dir, POLICIES_DIR);
		if ((rc = policy_repo_init(repo)) != 0)
			return rc;
	}
	if ((rc = policy_load(&set, repo, "HEAD")) != 0)
		return rc;
	printf("policies %s at %s (%zu policies%s)\n", repo, set->commit, set->n,
	       abs ? ", recorded in " CLI_STORE_CONFIG : "");
	policy_set_free(set);
	return 0;
}

/* ---- akashi policy lint ---- */

static int print_lint_error(void *ctx, const struct policy_lint_error *e)
{
	const char *commit = ctx;

	if (*e->file == '\0')
		printf("%.12s: %s\n", commit, e->message);
	else if (e->line == 0)
		printf("%s: %s\n", e->file, e->message);
	else
		printf("%s:%d:%d: %s\n", e->file, e->line, e->column, e->message);
	return 0;
}

static int policy_lint_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
	struct policy_set *set = NULL;
	char buf[sizeof(cli->store_dir) + 16], commit[41], *arg = NULL, *at;
	const char *repo = NULL, *ref = NULL;
	struct stat st;
	size_t n = 0;
	int c, rc;

	if ((c = cli_getopt(cli, "policy", argc, argv, "", opts)) != -1)
		return CLI_USAGE;
	if (argc - optind > 1)
		return cli_usage("policy", "lint takes at most one REPO[@REF]");
	/* REPO[@REF]: a path that exists is all REPO (it may hold '@');
	 * else the part after the last '@' is the ref. */
	if (optind < argc) {
		if ((arg = strdup(argv[optind])) == NULL)
			return cli_error("policy", ak_error_oom());
		repo = arg;
		if (stat(arg, &st) != 0 && (at = strrchr(arg, '@')) != NULL) {
			*at = '\0';
			ref = at[1] ? at + 1 : NULL;
			if (*arg == '\0')
				repo = NULL;
		}
	}
	if (repo == NULL) {
		if ((rc = cli_configure(cli)) != 0)
			goto fail;
		repo = configured_repo(cli, buf, sizeof(buf));
		if (ref == NULL)
			ref = config_get(cli->config, "policies.ref");
	}
	if (ref == NULL)
		ref = "HEAD";
	/* One commit for both calls, whatever the ref does meanwhile. */
	if ((rc = policy_resolve(repo, ref, commit)) != 0 ||
	    (rc = policy_lint(repo, commit, print_lint_error, commit, &n)) != 0)
		goto fail;
	if (n > 0) {
		printf("%zu error%s\n", n, n == 1 ? "" : "s");
		free(arg);
		return CLI_FAIL;
	}
	if ((rc = policy_load(&set, repo, commit)) != 0)
		goto fail;
	printf("ok: %zu policies at %s\n", set->n, commit);
	policy_set_free(set);
	free(arg);
	return CLI_OK;
fail:
	free(arg);
	return cli_error("policy", rc);
}

/* ---- akashi policy show ---- */

/* The set as one JSON object: {"commit", "ref", "repo", "policies": [...]}. */
static json_t *set_json(const struct policy_set *set, const char *repo)
{
	json_t *out = json_object(), *list = json_array(), *p;
	size_t i;

	if (out == NULL || list == NULL || json_object_set_new(out, "policies", list) != 0) {
		json_decref(out);
		return NULL;
	}
	if (json_object_set_new(out, "commit", json_string(set->commit)) != 0 ||
	    json_object_set_new(out, "ref", json_string(set->ref)) != 0 ||
	    json_object_set_new(out, "repo", json_string(repo)) != 0)
		goto fail;
	for (i = 0; i < set->n; i++) {
		const struct policy *pol = &set->policies[i];

		p = json_pack("{s:s, s:s, s:s, s:b, s:s, s:O, s:O, s:O, s:s}", "id", pol->id,
		              "title", pol->title, "control", pol->control, "gate", pol->gate,
		              "severity", pol->severity, "cites", pol->cites, "params", pol->params,
		              "scope", pol->scope, "file", pol->path);
		if (p == NULL || json_array_append_new(list, p) != 0)
			goto fail;
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

/* A JSON value as canonical text on standard output. */
static int put_json(const json_t *v)
{
	struct ak_buf b = AK_BUF_INIT(0);
	int rc = ak_jcs_write_jansson(&b, v);

	if (rc == 0)
		fwrite(b.data, 1, b.len, stdout);
	ak_buf_free(&b);
	return rc;
}

static int show_text(const struct policy_set *set, const char *repo)
{
	const char *key;
	json_t *v;
	size_t i, j;
	int rc = 0;

	printf("policies at %s (%s of ", set->commit, set->ref);
	put_text(repo);
	printf("), %zu in force\n", set->n);
	for (i = 0; i < set->n && rc == 0; i++) {
		const struct policy *p = &set->policies[i];

		printf("\n%s\n  title     ", p->id);
		put_text(p->title);
		printf("\n  control   %s\n  gate      %s\n  severity  %s\n  cites     ", p->control,
		       p->gate ? "yes" : "no", p->severity);
		json_array_foreach(p->cites, j, v)
		{
			printf("%s", j ? "; " : "");
			put_text(json_string_value(v));
		}
		printf("%s\n  scope     ", json_array_size(p->cites) ? "" : "-");
		if (json_object_size(p->scope) == 0)
			printf("everything");
		else
			rc = put_json(p->scope);
		printf("\n  params");
		j = 0;
		json_object_foreach(p->params, key, v)
		{
			printf("%s%s = ", j++ ? "            " : "    ", key);
			if ((rc = put_json(v)) != 0)
				break;
			printf("\n");
		}
		if (j == 0)
			printf("    -\n");
		printf("  file      ");
		put_text(p->path);
		printf("\n");
	}
	return rc;
}

/* --ref REF, or the configured ref; the configured repository. */
static int policy_target(struct cli *cli, const char *ref_opt, char *repo, size_t size,
                         const char **ref)
{
	int rc;

	if ((rc = cli_configure(cli)) != 0)
		return rc;
	configured_repo(cli, repo, size);
	*ref = ref_opt ? ref_opt : config_get(cli->config, "policies.ref");
	return 0;
}

static int policy_show_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS,
	                                     {"ref", required_argument, NULL, 'r'},
	                                     {"json", no_argument, NULL, 'j'},
	                                     {NULL, 0, NULL, 0}};
	struct policy_set *set = NULL;
	char repo[sizeof(cli->store_dir) + 16];
	const char *ref_opt = NULL, *ref;
	json_t *j = NULL;
	int c, rc, json = 0;

	while ((c = cli_getopt(cli, "policy", argc, argv, "", opts)) != -1) {
		if (c == 'r')
			ref_opt = optarg;
		else if (c == 'j')
			json = 1;
		else
			return CLI_USAGE;
	}
	if (optind != argc)
		return cli_usage("policy", "unexpected argument '%s'", argv[optind]);
	if ((rc = policy_target(cli, ref_opt, repo, sizeof(repo), &ref)) != 0 ||
	    (rc = policy_load(&set, repo, ref)) != 0)
		return cli_error("policy", rc);
	if (json) {
		if ((j = set_json(set, repo)) == NULL)
			rc = ak_error_oom();
		else if ((rc = put_json(j)) == 0)
			putchar('\n');
		json_decref(j);
	} else {
		rc = show_text(set, repo);
	}
	policy_set_free(set);
	if (rc != 0)
		return cli_error("policy", rc);
	return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

/* ---- akashi policy history ---- */

static int print_commit(void *ctx, const struct policy_commit_info *c)
{
	char when[AK_TIME_MAX];
	size_t i;

	(void)ctx;
	ak_time_format(when, c->time_us, AK_TIME_SECONDS);
	printf("commit %s\nAuthor: ", c->commit);
	put_text(c->author);
	printf(" <");
	put_text(c->email);
	printf(">\nDate:   %s\n\n    ", when);
	put_text(c->summary);
	printf("\n\n");
	for (i = 0; i < c->nchanges; i++) {
		printf("    %c  ", c->changes[i].status);
		put_text(c->changes[i].file);
		if (c->changes[i].id) {
			printf("  ");
			put_text(c->changes[i].id);
		}
		printf("\n");
	}
	if (c->nchanges == 0)
		printf("    (no policy files changed)\n");
	printf("\n");
	return ferror(stdout) ? ak_error_set("writing to standard output failed") : 0;
}

static int policy_history_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	        CLI_COMMON_OPTIONS, {"ref", required_argument, NULL, 'r'}, {NULL, 0, NULL, 0}};
	char repo[sizeof(cli->store_dir) + 16];
	const char *ref_opt = NULL, *ref;
	int c, rc;

	while ((c = cli_getopt(cli, "policy", argc, argv, "", opts)) != -1) {
		if (c == 'r')
			ref_opt = optarg;
		else
			return CLI_USAGE;
	}
	if (optind != argc)
		return cli_usage("policy", "unexpected argument '%s'", argv[optind]);
	if ((rc = policy_target(cli, ref_opt, repo, sizeof(repo), &ref)) != 0 ||
	    (rc = policy_history(repo, ref, print_commit, NULL)) != 0)
		return cli_error("policy", rc);
	return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

int cmd_policy(struct cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage("policy", "which one: lint, show or history?");
	if (strcmp(argv[1], "lint") == 0)
		return policy_lint_cmd(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return policy_show_cmd(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "history") == 0)
		return policy_history_cmd(cli, argc - 1, argv + 1);
	return cli_usage("policy", "'%s' is not a policy command (lint, show, history)", argv[1]);
}
