/*
 * auditd/main.c - the akashi command: global options and subcommand
 * dispatch (the git/vault convention: one binary, `akashi serve` is the
 * daemon). Each subcommand lives in auditd/cmd_*.c.
 */
#include "auditd/cli.h"

#include "lib/error.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_command commands[] = {
	{"init", cmd_init, "create a store, its signing key and its policy repository",
	 "[--origin NAME] [--policies REPO]"},
	{"ingest", cmd_ingest, "append records from files or standard input",
	 "[--kind KIND] [--format FORMAT] [--source NAME] [--skip-invalid] [--rejects FILE] "
	 "[--year Y] [--zone ZONE] [--no-index] FILE...|-"},
	{"log", cmd_log, "print entries as JSON Lines, byte for byte as hashed",
	 "[--kind K] [--from SEQ] [--to SEQ] [--since TIME] [--until TIME]"},
	{"checkpoint", cmd_checkpoint, "sign a checkpoint of the current log and print it", ""},
	{"checkpoints", cmd_checkpoints, "list the stored checkpoints", "[--json]"},
	{"key", cmd_key, "print the public key (PEM)", ""},
	{"prove", cmd_prove, "print an inclusion or consistency proof",
	 "SEQ [--size N] | --consistency OLD NEW"},
	{"verify", cmd_verify, "recompute and check the whole log", "[--quiet]"},
	{"search", cmd_search, "full-text search over entries",
	 "[QUERY] [--subject EMAIL] [--since TIME] [--until TIME] [--kind K] [--limit N] "
	 "[--export FILE.zip|FILE.tar.gz --reason TEXT]"},
	{"reindex", cmd_reindex, "rebuild all derived state from the entries", ""},
	{"demo", cmd_demo, "build a demo store from generated sample data", "[--dir DIR]"},
	{"config", cmd_config, "show every configuration key and its value", ""},
	{"audit", cmd_audit, "evaluate every policy over a period and record the findings",
	 "(--quarter 2026Q3 | --from TIME --to TIME) [--json] [--ref REF] [--no-record]"},
	{"gate", cmd_gate, "may this message go to this recipient now? (exit 0 yes, 1 no)",
	 "--rcpt ADDR --list L --stream marketing|transactional [--campaign C] "
	 "[--campaign-size N] [--owner NAME] [--headers yes|no] [--ref REF]"},
	{"report", cmd_report, "the quarterly compliance report as HTML, JSON or CSV",
	 "(--quarter 2026Q3 | --from TIME --to TIME) --format html|json|csv -o FILE [--ref REF]"},
	{"send", cmd_send, "send a campaign: gate, sign, deliver and record every message",
	 "--campaign ID --stream marketing|transactional --list L --from ADDR --template FILE.eml "
	 "--recipients FILE.csv [--owner NAME] [--skip-invalid] [--via URL --token T]"},
	{"campaign", cmd_campaign, "a campaign's counts by status",
	 "status ID [--wait] [--via URL --token T]"},
	{"policy", cmd_policy, "check, show and trace the policies in force (read from git)",
	 "lint [REPO[@REF]] | show [--ref REF] [--json] | history [--ref REF]"},
	{"export", cmd_export, "export entries as an evidence bundle for an outside expert",
	 "(--subject EMAIL | --campaign ID | --account NAME | --query FTS | --from TIME --to TIME | "
	 "--seq A-B) [--kind K] --reason TEXT -o FILE.zip|FILE.tar.gz"},
	{"verify-bundle", cmd_verify_bundle, "check an evidence bundle offline, without a store",
	 "FILE"},
	{"token", cmd_token, "create, list or revoke API tokens of the daemon",
	 "create --role ingest|read|export|admin [--name NAME] | list [--json] | revoke ID|NAME"},
	{"unsubscribe-token", cmd_unsubscribe, "make a one-click unsubscribe token (RFC 8058)",
	 "--subject ADDRESS --list LIST [--campaign C] [--issued TIME] [--url BASE]"},
	{"serve", cmd_serve, "run the daemon: HTTP API, group commit, scheduler, alerts",
	 "[--config FILE] [--set KEY=VALUE]..."},
	{"alerts", cmd_alerts, "run the alert rules over history and print what would fire",
	 "replay --from TIME --to TIME [--rules FILE]"},
};

const struct cli_command *cli_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void help(FILE *out)
{
	size_t i;

	fprintf(out, "usage: akashi [--store DIR] [--config FILE] [--set KEY=VALUE]... COMMAND "
		     "[ARGS]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nThe store is --store DIR, else $AKASHI_STORE, else /var/lib/akashi (root)\n"
		     "or ~/.local/share/akashi. 'akashi COMMAND --help' shows a command's usage.\n");
}

int main(int argc, char **argv)
{
	struct cli cli = {0};
	const struct cli_command *cmd;
	int i = 1, rc;

	setlocale(LC_CTYPE, "C.UTF-8");
	/* Global options before the command (akashi --store DIR log). */
	while (i < argc && argv[i][0] == '-') {
		const char *a = argv[i];
		int opt = strcmp(a, "--store") == 0	 ? CLI_OPT_STORE
			  : strcmp(a, "--set") == 0	 ? CLI_OPT_SET
			  : strcmp(a, "--config") == 0 ? CLI_OPT_CONFIG
						       : 0;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			help(stdout);
			return CLI_OK;
		}
		if (strcmp(a, "--version") == 0) {
			printf("akashi %s\n", AKASHI_VERSION);
			return CLI_OK;
		}
		if (opt == 0 || i + 1 >= argc) {
			fprintf(stderr, "akashi: %s: unknown option or missing value\n", a);
			help(stderr);
			return CLI_USAGE;
		}
		if ((rc = cli_common_option(&cli, opt, argv[i + 1])) < 0)
			return cli_error("akashi", rc);
		i += 2;
	}
	if (i >= argc) {
		help(stderr);
		return CLI_USAGE;
	}
	cmd = cli_find(argv[i]);
	if (cmd == NULL) {
		fprintf(stderr, "akashi: '%s' is not a command\n", argv[i]);
		help(stderr);
		return CLI_USAGE;
	}
	if (argc - i == 2 && (strcmp(argv[i + 1], "--help") == 0 || strcmp(argv[i + 1], "-h") == 0)) {
		printf("usage: akashi %s %s\n%s\n", cmd->name, cmd->usage, cmd->summary);
		if (cmd->run == cmd_ingest)
			cli_ingest_formats(stdout);
		return CLI_OK;
	}
	optind = 1;
	rc = cmd->run(&cli, argc - i, argv + i);
	free(cli.sets);
	config_free(cli.config);
	return rc;
}
