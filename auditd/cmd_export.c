/*
 * auditd/cmd_export.c - `akashi export` (records as an evidence bundle for
 * legal teams) and `akashi verify-bundle` (the offline check of one, no
 * store needed). `akashi search --export` ends here too. The work is in
 * reports/bundle.h; this file turns options into a struct bundle_opts and
 * results into a few lines of text.
 */
#include "auditd/cli.h"

#include "lib/b64.h"
#include "lib/error.h"
#include "policies/repo.h"
#include "reports/bundle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct policy_hook {
	char repo[4200];
	const char *ref;
};

static int add_policy_file(void *ctx, const char *path, const void *data, size_t len)
{
	return bundle_policies_add(ctx, path, data, len);
}

/* The bundle carries the policy files of the commit in force. */
static int add_policies(void *ctx, struct bundle_policies *out)
{
	struct policy_hook *h = ctx;
	char commit[41];
	int rc;

	if ((rc = policy_resolve(h->repo, h->ref, commit)) != 0 ||
	    (rc = policy_files(h->repo, commit, add_policy_file, out)) != 0 ||
	    (rc = bundle_policies_commit(out, commit)) != 0)
		ak_error_prefix("policies %s@%s", h->repo, h->ref);
	return rc;
}

int cli_export(struct cli *cli, const char *name, int argc, char **argv, struct bundle_opts *o)
{
	struct policy_hook hook;
	struct evidence_store *st = NULL;
	struct bundle_export_result res;
	const char **args = calloc((size_t)argc + 2, sizeof(*args));
	char hex[65], root[AK_B64_LEN(32) + 1];
	int i, rc;

	if (args == NULL)
		return cli_error(name, ak_error_oom());
	/* custody.json records the command as typed. */
	args[0] = "akashi";
	for (i = 0; i < argc; i++)
		args[i + 1] = argv[i];
	o->argv = args;
	o->tool = "akashi " AKASHI_VERSION;
	if ((rc = cli_open_store(cli, 0, &st)) != 0)
		goto fail;
	/* A store without a policy repository (made before there were any)
	 * says so in policies/README instead. */
	cli_policy_repo(cli, hook.repo, sizeof(hook.repo));
	hook.ref = cli_policy_ref(cli, NULL);
	if (access(hook.repo, F_OK) == 0) {
		o->policies = add_policies;
		o->policies_ctx = &hook;
	}
	if ((rc = bundle_export(st, o, &res)) != 0) {
	fail:
		free(args);
		evidence_close(st);
		return cli_error(name, rc);
	}
	ak_hex_encode(hex, res.sha256, 32);
	printf("exported %lld entr%s to %s (%s)\n", (long long)res.entries,
	       res.entries == 1 ? "y" : "ies", o->output,
	       res.range ? "range proof: complete" : "an inclusion proof each");
	ak_b64_encode(root, res.root, 32);
	printf("proven against checkpoint %s size %lld root %s; %lld earlier checkpoint%s proven "
	       "consistent\n",
	       evidence_origin(st), (long long)res.tree_size, root, (long long)res.checkpoints,
	       res.checkpoints == 1 ? "" : "s");
	printf("recorded as seq %lld (system entry \"export\")\n", (long long)res.export_seq);
	printf("%s  %s\n", hex, o->output);
	free(args);
	evidence_close(st);
	return CLI_OK;
}

int cmd_export(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS,
					     {"subject", required_argument, NULL, 'S'},
					     {"campaign", required_argument, NULL, 'C'},
					     {"account", required_argument, NULL, 'A'},
					     {"query", required_argument, NULL, 'Q'},
					     {"from", required_argument, NULL, 'f'},
					     {"to", required_argument, NULL, 't'},
					     {"seq", required_argument, NULL, 's'},
					     {"kind", required_argument, NULL, 'k'},
					     {"reason", required_argument, NULL, 'r'},
					     {"output", required_argument, NULL, 'o'},
					     {NULL, 0, NULL, 0}};
	struct bundle_opts o;
	int c;

	memset(&o, 0, sizeof(o));
	while ((c = cli_getopt(cli, "export", argc, argv, "o:", opts)) != -1) {
		switch (c) {
		case 'S':
			o.sel.subject = optarg;
			break;
		case 'C':
			o.sel.campaign = optarg;
			break;
		case 'A':
			o.sel.account = optarg;
			break;
		case 'Q':
			o.sel.query = optarg;
			break;
		case 'f':
			o.sel.from = optarg;
			break;
		case 't':
			o.sel.to = optarg;
			break;
		case 's':
			o.sel.seq = optarg;
			break;
		case 'k':
			o.sel.kind = optarg;
			break;
		case 'r':
			o.reason = optarg;
			break;
		case 'o':
			o.output = optarg;
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage("export", "unexpected argument '%s'", argv[optind]);
	if (o.output == NULL)
		return cli_usage("export", "-o FILE.zip|FILE.tar.gz is required");
	if (o.reason == NULL || o.reason[0] == '\0')
		return cli_usage("export", "--reason is required: say why this is exported");
	if (!o.sel.subject && !o.sel.campaign && !o.sel.account && !o.sel.query && !o.sel.from &&
	    !o.sel.to && !o.sel.seq)
		return cli_usage("export", "give a selection: --subject, --campaign, --account, "
					   "--query, --from/--to or --seq");
	return cli_export(cli, "export", argc, argv, &o);
}

static void print_problem(void *ctx, const char *problem)
{
	(void)ctx;
	printf("FAIL: %s\n", problem);
}

int cmd_verify_bundle(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
	struct bundle_source src = {0};
	struct bundle_verify_result res;
	char root[AK_B64_LEN(32) + 1], kid[9];
	int c, rc;

	while ((c = cli_getopt(cli, "verify-bundle", argc, argv, "", opts)) != -1)
		return CLI_USAGE;
	if (argc - optind != 1)
		return cli_usage("verify-bundle", "give one bundle FILE");
	src.path = argv[optind];
	rc = bundle_verify(&src, NULL, print_problem, NULL, &res);
	fflush(stdout);
	if (rc != 0) {
		if (rc == AK_ETAMPERED)
			fprintf(stderr, "akashi: verify-bundle: %s: %s; do not rely on this bundle\n",
				src.path, ak_error_last());
		else
			fprintf(stderr, "akashi: verify-bundle: %s: %s\n", src.path,
				ak_error_last());
		return CLI_FAIL;
	}
	ak_b64_encode(root, res.root, 32);
	ak_hex_encode(kid, res.key_id, 4);
	if (res.range)
		printf("ok: %s: entries seq %lld-%lld, all %lld of them",
		       src.path, (long long)res.first_seq, (long long)res.last_seq,
		       (long long)res.entries);
	else
		printf("ok: %s: %lld entr%s, each", src.path, (long long)res.entries,
		       res.entries == 1 ? "y" : "ies");
	printf(" proven against checkpoint %s size %lld root %s signed by key %s; %lld earlier "
	       "checkpoint%s consistent; %lld files match the manifest\n",
	       res.origin, (long long)res.tree_size, root, kid, (long long)res.checkpoints,
	       res.checkpoints == 1 ? "" : "s", (long long)res.files);
	return CLI_OK;
}
