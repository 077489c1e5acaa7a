/*
 * auditd/cmd_store.c - the commands that work on the evidence store itself:
 * init (its policy repository is auditd/cmd_policy.c's), log, checkpoint(s),
 * key, prove, verify, search, reindex, config.
 */
#include "auditd/cli.h"

#include "auditd/unsubscribe.h"

#include "lib/b64.h"
#include "lib/error.h"
#include "lib/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct option common_only[] = {CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};

/* Commands without options of their own. */
static int no_options(struct cli *cli, const char *name, int argc, char **argv)
{
	int c = cli_getopt(cli, name, argc, argv, "", common_only);

	if (c != -1)
		return c == '?' ? CLI_USAGE : cli_usage(name, "unexpected option");
	if (optind != argc)
		return cli_usage(name, "unexpected argument '%s'", argv[optind]);
	return 0;
}

int cmd_init(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS,
					     {"origin", required_argument, NULL, 'o'},
					     {"policies", required_argument, NULL, 'p'},
					     {NULL, 0, NULL, 0}};
	const char *origin = NULL, *policies = NULL;
	struct evidence_store *st = NULL;
	unsigned char pub[32], kh[EVIDENCE_HASH_LEN];
	char hex[9], repo[4096], secret[4200];
	int c, rc;

	while ((c = cli_getopt(cli, "init", argc, argv, "", opts)) != -1) {
		if (c == 'o')
			origin = optarg;
		else if (c == 'p')
			policies = optarg;
		else
			return CLI_USAGE;
	}
	if (optind != argc)
		return cli_usage("init", "unexpected argument '%s'", argv[optind]);
	/* A policy repository that does not load makes no store. */
	if ((rc = cli_configure(cli)) != 0 ||
	    (policies && (rc = cli_policies_check(policies, repo, sizeof(repo))) != 0) ||
	    (rc = evidence_init(cli->store_dir, origin)) != 0 ||
	    (rc = evidence_open(&st, cli->store_dir, 0)) != 0 ||
	    (rc = evidence_public_key(st, NULL, pub)) != 0 ||
	    (rc = evidence_key_hash(evidence_origin(st), pub, kh)) != 0) {
		evidence_close(st);
		return cli_error("init", rc);
	}
	ak_hex_encode(hex, kh, 4);
	/* The secret that keys one-click unsubscribe links (the daemon
	 * and the delivery engine share it). */
	snprintf(secret, sizeof(secret), "%s/%s", cli->store_dir, UNSUB_SECRET_FILE);
	if ((rc = unsub_secret_create(secret)) != 0 && rc != AK_EEXISTS) {
		evidence_close(st);
		return cli_error("init", rc);
	}
	printf("created store %s\norigin %s\nkey id %s (%s/%s, mode 0600)\n"
	       "unsubscribe secret %s (mode 0600)\n",
	       cli->store_dir, evidence_origin(st), hex, cli->store_dir, EVIDENCE_KEY_FILE, secret);
	evidence_close(st);
	if ((rc = cli_policies_setup(cli, policies ? repo : NULL)) != 0)
		return cli_error("init", rc);
	return CLI_OK;
}

static int print_entry(void *ctx, const struct evidence_entry *e)
{
	(void)ctx;
	if (fwrite(e->bytes, 1, e->len, stdout) != e->len || putchar('\n') == EOF)
		return ak_error_set("writing to standard output failed");
	return 0;
}

static int parse_time_arg(const char *what, const char *s, int64_t *out)
{
	if (ak_time_parse(s, strlen(s), out) != 0) {
		ak_error_prefix("%s '%s'", what, s);
		return AK_EINVALID;
	}
	return 0;
}

int cmd_log(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{"kind", required_argument, NULL, 'k'},
		{"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 't'},
		{"since", required_argument, NULL, 's'},
		{"until", required_argument, NULL, 'u'},
		{NULL, 0, NULL, 0}};
	struct evidence_filter f = {0};
	struct evidence_store *st = NULL;
	int c, rc = 0;

	while ((c = cli_getopt(cli, "log", argc, argv, "", opts)) != -1) {
		switch (c) {
		case 'k':
			f.kind = optarg;
			break;
		case 'f':
			rc = cli_int("--from", optarg, 1, INT64_MAX, &f.from_seq);
			break;
		case 't':
			rc = cli_int("--to", optarg, 1, INT64_MAX, &f.to_seq);
			break;
		case 's':
			rc = parse_time_arg("--since", optarg, &f.since_us);
			f.has_since = 1;
			break;
		case 'u':
			rc = parse_time_arg("--until", optarg, &f.until_us);
			f.has_until = 1;
			break;
		default:
			return CLI_USAGE;
		}
		if (rc != 0)
			return cli_usage("log", "%s", ak_error_last());
	}
	if (optind != argc)
		return cli_usage("log", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_open_store(cli, EVIDENCE_READONLY, &st)) != 0 ||
	    (rc = evidence_scan(st, &f, print_entry, NULL)) != 0) {
		evidence_close(st);
		return cli_error("log", rc);
	}
	evidence_close(st);
	return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

int cmd_checkpoint(struct cli *cli, int argc, char **argv)
{
	struct evidence_store *st = NULL;
	struct evidence_checkpoint cp = {0};
	int rc, created;

	if ((rc = no_options(cli, "checkpoint", argc, argv)) != 0)
		return rc;
	if ((rc = cli_open_store(cli, 0, &st)) != 0 ||
	    (rc = evidence_checkpoint(st, &cp, &created)) != 0) {
		evidence_close(st);
		return cli_error("checkpoint", rc);
	}
	fputs(cp.note, stdout);
	if (!created && isatty(STDERR_FILENO))
		fprintf(stderr, "akashi: checkpoint: log unchanged since this checkpoint\n");
	evidence_checkpoint_clear(&cp);
	evidence_close(st);
	return CLI_OK;
}

static int print_cp(void *ctx, const struct evidence_checkpoint *cp)
{
	char made[AK_TIME_MAX], root[AK_B64_LEN(32) + 1];
	int json = *(int *)ctx;

	ak_time_format(made, cp->made_us, AK_TIME_SECONDS);
	ak_b64_encode(root, cp->root, 32);
	if (json)
		printf("{\"entry_seq\":%lld,\"made\":\"%s\",\"root\":\"%s\",\"size\":%lld}\n",
		       (long long)cp->entry_seq, made, root, (long long)cp->size);
	else
		printf("%12lld  %s  %s  entry %lld\n", (long long)cp->size, made, root,
		       (long long)cp->entry_seq);
	return 0;
}

int cmd_checkpoints(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS,
					     {"json", no_argument, NULL, 'j'},
					     {NULL, 0, NULL, 0}};
	struct evidence_store *st = NULL;
	int c, rc, json = 0;

	while ((c = cli_getopt(cli, "checkpoints", argc, argv, "", opts)) != -1) {
		if (c == 'j')
			json = 1;
		else
			return CLI_USAGE;
	}
	if (optind != argc)
		return cli_usage("checkpoints", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_open_store(cli, EVIDENCE_READONLY, &st)) != 0)
		return cli_error("checkpoints", rc);
	if (!json)
		printf("%12s  %-20s  %-44s  %s\n", "size", "made", "root", "its entry");
	rc = evidence_checkpoint_list(st, print_cp, &json);
	evidence_close(st);
	return rc ? cli_error("checkpoints", rc) : CLI_OK;
}

int cmd_key(struct cli *cli, int argc, char **argv)
{
	struct evidence_store *st = NULL;
	struct ak_buf pem = AK_BUF_INIT(0);
	int rc;

	if ((rc = no_options(cli, "key", argc, argv)) != 0)
		return rc;
	if ((rc = cli_open_store(cli, EVIDENCE_READONLY, &st)) != 0 ||
	    (rc = evidence_public_key(st, &pem, NULL)) != 0) {
		evidence_close(st);
		return cli_error("key", rc);
	}
	fwrite(pem.data, 1, pem.len, stdout);
	ak_buf_free(&pem);
	evidence_close(st);
	return CLI_OK;
}

static void print_path(const unsigned char (*path)[EVIDENCE_HASH_LEN], size_t n)
{
	char b[AK_B64_LEN(32) + 1];
	size_t i;

	printf("\"path\":[");
	for (i = 0; i < n; i++) {
		ak_b64_encode(b, path[i], 32);
		printf("%s\"%s\"", i ? "," : "", b);
	}
	printf("]");
}

int cmd_prove(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS,
					     {"size", required_argument, NULL, 'n'},
					     {"consistency", no_argument, NULL, 'c'},
					     {NULL, 0, NULL, 0}};
	struct evidence_store *st = NULL;
	unsigned char(*path)[EVIDENCE_HASH_LEN] = NULL, leaf[32];
	char b[AK_B64_LEN(32) + 1];
	int64_t size = 0, seq = 0, old_size = 0, cur;
	size_t n = 0;
	int c, rc = 0, consistency = 0, have_size = 0;

	while ((c = cli_getopt(cli, "prove", argc, argv, "", opts)) != -1) {
		if (c == 'n') {
			if ((rc = cli_int("--size", optarg, 0, INT64_MAX, &size)) != 0)
				return cli_usage("prove", "%s", ak_error_last());
			have_size = 1;
		} else if (c == 'c') {
			consistency = 1;
		} else {
			return CLI_USAGE;
		}
	}
	if (consistency) {
		if (argc - optind != 2 || have_size)
			return cli_usage("prove", "--consistency takes OLD NEW");
		if (cli_int("OLD", argv[optind], 0, INT64_MAX, &old_size) != 0 ||
		    cli_int("NEW", argv[optind + 1], 0, INT64_MAX, &size) != 0)
			return cli_usage("prove", "%s", ak_error_last());
	} else {
		if (argc - optind != 1)
			return cli_usage("prove", "give one SEQ");
		if (cli_int("SEQ", argv[optind], 1, INT64_MAX, &seq) != 0)
			return cli_usage("prove", "%s", ak_error_last());
	}
	if ((rc = cli_open_store(cli, EVIDENCE_READONLY, &st)) != 0)
		goto fail;
	if (!consistency && !have_size) {
		/* Against the latest checkpoint that covers seq, so the proof can
		 * be checked against a signed root; else the current size. */
		struct evidence_checkpoint cp;

		if ((rc = evidence_size(st, &cur)) != 0)
			goto fail;
		size = cur;
		if (evidence_checkpoint_latest(st, &cp) == 0) {
			if (cp.size >= seq)
				size = cp.size;
			evidence_checkpoint_clear(&cp);
		}
	}
	if (consistency) {
		if ((rc = evidence_prove_consistency(st, old_size, size, &path, &n)) != 0)
			goto fail;
		printf("{\"new_size\":%lld,\"old_size\":%lld,", (long long)size,
		       (long long)old_size);
		print_path((const unsigned char(*)[32])path, n);
		printf("}\n");
	} else {
		if ((rc = evidence_prove_inclusion(st, seq, size, leaf, &path, &n)) != 0)
			goto fail;
		ak_b64_encode(b, leaf, 32);
		printf("{\"leaf_hash\":\"%s\",", b);
		print_path((const unsigned char(*)[32])path, n);
		printf(",\"seq\":%lld,\"tree_size\":%lld}\n", (long long)seq, (long long)size);
	}
	free(path);
	evidence_close(st);
	return CLI_OK;
fail:
	free(path);
	evidence_close(st);
	return cli_error("prove", rc);
}

static void verify_progress(void *ctx, int64_t seq, int64_t size)
{
	(void)ctx;
	fprintf(stderr, "\rakashi: verify: %lld / %lld", (long long)seq, (long long)size);
	if (seq == size)
		fputc('\n', stderr);
}

int cmd_verify(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS,
					     {"quiet", no_argument, NULL, 'q'},
					     {NULL, 0, NULL, 0}};
	struct evidence_store *st = NULL;
	struct evidence_verify_result res;
	unsigned char pub[32], kh[32];
	char root[AK_B64_LEN(32) + 1], chain[AK_B64_LEN(32) + 1], kid[65];
	int c, rc, quiet = 0;

	while ((c = cli_getopt(cli, "verify", argc, argv, "q", opts)) != -1) {
		if (c == 'q')
			quiet = 1;
		else
			return CLI_USAGE;
	}
	if (optind != argc)
		return cli_usage("verify", "unexpected argument '%s'", argv[optind]);
	/* Writable when we may (so the key file is checked against the
	 * database), read-only otherwise. */
	if ((rc = cli_open_store(cli, 0, &st)) != 0 &&
	    (rc = cli_open_store(cli, EVIDENCE_READONLY, &st)) != 0)
		return cli_error("verify", rc);
	rc = evidence_verify(st, &res, !quiet && isatty(STDERR_FILENO) ? verify_progress : NULL,
			     NULL);
	if (rc != 0) {
		if (!quiet && isatty(STDERR_FILENO))
			fputc('\n', stderr);
		evidence_close(st);
		return cli_error("verify", rc);
	}
	evidence_public_key(st, NULL, pub);
	evidence_key_hash(evidence_origin(st), pub, kh);
	ak_hex_encode(kid, kh, 32);
	ak_b64_encode(root, res.root, 32);
	ak_b64_encode(chain, res.chain, 32);
	printf("ok: %lld entries, %lld checkpoints verified; size %lld root %s chain %s; "
	       "key %s %.8s\n",
	       (long long)res.entries, (long long)res.checkpoints, (long long)res.entries, root,
	       chain, evidence_origin(st), kid);
	evidence_close(st);
	return CLI_OK;
}

int cmd_search(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS,
					     {"kind", required_argument, NULL, 'k'},
					     {"limit", required_argument, NULL, 'l'},
					     {NULL, 0, NULL, 0}};
	struct evidence_store *st = NULL;
	const char *kind = NULL;
	int64_t limit = 0;
	int c, rc;

	while ((c = cli_getopt(cli, "search", argc, argv, "", opts)) != -1) {
		if (c == 'k')
			kind = optarg;
		else if (c == 'l') {
			if (cli_int("--limit", optarg, 1, INT64_MAX, &limit) != 0)
				return cli_usage("search", "%s", ak_error_last());
		} else
			return CLI_USAGE;
	}
	if (argc - optind != 1)
		return cli_usage("search", "give one QUERY (quote it)");
	if ((rc = cli_open_store(cli, 0, &st)) != 0 &&
	    (rc = cli_open_store(cli, EVIDENCE_READONLY, &st)) != 0)
		return cli_error("search", rc);
	rc = evidence_search(st, argv[optind], kind, limit, print_entry, NULL);
	evidence_close(st);
	return rc ? cli_error("search", rc) : CLI_OK;
}

static void reindex_progress(void *ctx, int64_t seq, int64_t size)
{
	(void)ctx;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\rakashi: reindex: %lld / %lld%s", (long long)seq,
			(long long)size, seq == size ? "\n" : "");
}

int cmd_reindex(struct cli *cli, int argc, char **argv)
{
	struct evidence_store *st = NULL;
	int64_t size = 0;
	int rc;

	if ((rc = no_options(cli, "reindex", argc, argv)) != 0)
		return rc;
	if ((rc = cli_open_store(cli, 0, &st)) != 0 ||
	    (rc = evidence_reindex(st, reindex_progress, NULL)) != 0 ||
	    (rc = evidence_size(st, &size)) != 0) {
		evidence_close(st);
		return cli_error("reindex", rc);
	}
	printf("rebuilt derived state from %lld entries\n", (long long)size);
	evidence_close(st);
	return CLI_OK;
}

static int print_key(void *ctx, const char *key, const char *value, int is_set, const char *help)
{
	(void)ctx;
	printf("%-28s = %-20s %s# %s\n", key, value, is_set ? "(set) " : "", help);
	return 0;
}

int cmd_config(struct cli *cli, int argc, char **argv)
{
	int rc;

	if ((rc = no_options(cli, "config", argc, argv)) != 0)
		return rc;
	if ((rc = cli_configure(cli)) != 0)
		return cli_error("config", rc);
	printf("# store directory: %s\n", cli->store_dir);
	config_each(cli->config, print_key, NULL);
	return CLI_OK;
}
