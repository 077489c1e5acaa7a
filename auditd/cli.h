/*
 * auditd/cli.h - what every subcommand of the akashi command shares: the
 * global options (--store, --config, --set), opening the store with the
 * indexers of the higher layers registered, and reporting errors.
 *
 * Exit codes: 0 success, 1 failure (an error, or evidence that does not
 * verify), 2 usage error.
 */
#ifndef AUDITD_CLI_H
#define AUDITD_CLI_H

#include "auditd/config.h"
#include "evidence/evidence.h"

#include <getopt.h>
#include <stdio.h>

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

struct cli {
	const char *store_opt;   /* --store */
	const char *config_path; /* --config */
	const char **sets;       /* --set, in order */
	size_t nsets;
	struct config *config;   /* after cli_configure() */
	char store_dir[4096];    /* resolved by cli_configure() */
	int configured;
};

struct cli_command {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
	const char *summary;
	const char *usage; /* options and arguments, after "akashi NAME " */
};

/* Long options every command accepts; put CLI_COMMON_OPTIONS first in a
 * command's struct option array and pass unknown option codes to
 * cli_common_option(). */
#define CLI_OPT_STORE 0x1001
#define CLI_OPT_SET 0x1002
#define CLI_OPT_CONFIG 0x1003
#define CLI_COMMON_OPTIONS                                                                        \
	{"store", required_argument, NULL, CLI_OPT_STORE},                                        \
		{"set", required_argument, NULL, CLI_OPT_SET},                                    \
		{"config", required_argument, NULL, CLI_OPT_CONFIG}

/* Handle a common option; 1 if it was one, 0 if not, <0 on error. */
int cli_common_option(struct cli *cli, int opt, const char *arg);

/* The store's own settings, in the config format, read when present. */
#define CLI_STORE_CONFIG "akashi.conf"

/* Load --config, apply --set, resolve the store directory: --store, else
 * $AKASHI_STORE, else the config key "store", else /var/lib/akashi for
 * root and ${XDG_DATA_HOME:-~/.local/share}/akashi for other users. Then,
 * when <store>/akashi.conf exists, build the config again from the
 * defaults, that file, --config and --set, in that order (the later wins). */
int cli_configure(struct cli *cli);

/* The configuration read again in the same order (<store>/akashi.conf,
 * --config, --set), for the daemon's SIGHUP; the store stays the one
 * cli_configure() resolved. config_free() *out. */
int cli_config_reload(struct cli *cli, struct config **out);

/* cli_configure(), then open the store with every indexer registered. */
int cli_open_store(struct cli *cli, int flags, struct evidence_store **out);

/* Print "akashi: NAME: <message>" (the thread's error) and give the exit
 * code for rc: CLI_FAIL, or CLI_USAGE for AK_EINVALID from arguments. */
int cli_error(const char *name, int rc);

/* Print "akashi: NAME: <fmt...>" and the command's usage line; CLI_USAGE. */
int cli_usage(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse a decimal integer argument in [min, max]; AK_EINVALID. */
int cli_int(const char *what, const char *s, int64_t min, int64_t max, int64_t *out);

/* getopt_long wrapper that starts from argv[1], reports unknown options
 * by name, and hands common options to cli_common_option(). Returns the
 * option code, -1 at the end, '?' after printing a usage error. */
int cli_getopt(struct cli *cli, const char *name, int argc, char **argv, const char *shortopts,
	       const struct option *longopts);

/* The adapter `akashi ingest` uses for records of kind (NULL: native
 * lines of any kind) in format (NULL: the kind's default), or NULL when
 * there is none: the daemon's POST /v1/ingest reads bodies with the same
 * adapters (auditd/cmd_ingest.c holds the table). */
struct ingest_options;
struct ingest_pipeline;
typedef int (*cli_adapter_fn)(FILE *in, const char *path, const struct ingest_options *opt,
			      struct ingest_pipeline *p);
cli_adapter_fn cli_ingest_adapter(const char *kind, const char *format);
/* Print every kind's input formats, one kind a line, the default first
 * (for `akashi ingest --help`). */
void cli_ingest_formats(FILE *out);
/* The policy repository in force (config policies.repo, else
 * <store>/policies) into buf; returns buf. After cli_configure(). */
const char *cli_policy_repo(struct cli *cli, char *buf, size_t size);
/* The ref in force: given (a --ref option) when not NULL, else the config
 * key policies.ref, else "HEAD". */
const char *cli_policy_ref(struct cli *cli, const char *given);
/* The policies in force (cli_policy_repo() at cli_policy_ref(ref)), read
 * from git. Free with policy_set_free(). */
struct policy_set;
int cli_load_policies(struct cli *cli, const char *ref, struct policy_set **out);

/* The period of command cmd from its options: --quarter Q (in the
 * configured time zone, else UTC), or --from and --to (RFC 3339, from
 * before to). Call after cli_configure(). CLI_OK, or the exit code of the
 * usage error it printed. */
struct audit_period;
int cli_period(struct cli *cli, const char *cmd, const char *quarter, const char *from,
	       const char *to, struct audit_period *out);

/* The subcommand table (auditd/main.c). */
const struct cli_command *cli_find(const char *name);

/* Subcommands, one file or a few each. */
int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_ingest(struct cli *cli, int argc, char **argv);
int cmd_log(struct cli *cli, int argc, char **argv);
int cmd_checkpoint(struct cli *cli, int argc, char **argv);
int cmd_checkpoints(struct cli *cli, int argc, char **argv);
int cmd_key(struct cli *cli, int argc, char **argv);
int cmd_prove(struct cli *cli, int argc, char **argv);
int cmd_verify(struct cli *cli, int argc, char **argv);
int cmd_search(struct cli *cli, int argc, char **argv);
int cmd_reindex(struct cli *cli, int argc, char **argv);
int cmd_demo(struct cli *cli, int argc, char **argv);
int cmd_config(struct cli *cli, int argc, char **argv);
int cmd_serve(struct cli *cli, int argc, char **argv);
int cmd_token(struct cli *cli, int argc, char **argv);
int cmd_unsubscribe(struct cli *cli, int argc, char **argv);
int cmd_audit(struct cli *cli, int argc, char **argv);
int cmd_gate(struct cli *cli, int argc, char **argv);
int cmd_policy(struct cli *cli, int argc, char **argv);
int cmd_report(struct cli *cli, int argc, char **argv);
int cmd_send(struct cli *cli, int argc, char **argv);
int cmd_campaign(struct cli *cli, int argc, char **argv);

/* The policy side of `akashi init` (auditd/cmd_policy.c). Before the store
 * is made: check that repo (given with --policies) loads at HEAD, and put
 * its absolute path in abs. After: make <store>/policies from the shipped
 * set when abs is NULL, else record abs in <store>/akashi.conf. */
int cli_policies_check(const char *repo, char *abs, size_t size);
int cli_policies_setup(struct cli *cli, const char *abs);
int cmd_export(struct cli *cli, int argc, char **argv);
int cmd_verify_bundle(struct cli *cli, int argc, char **argv);

/* Open the store for writing and run bundle_export() with o, recording
 * argv (the command as typed) in the bundle; prints what was done. For
 * `akashi export` and `akashi search --export`. */
struct bundle_opts;
int cli_export(struct cli *cli, const char *name, int argc, char **argv, struct bundle_opts *o);
int cmd_alerts(struct cli *cli, int argc, char **argv);

#endif
