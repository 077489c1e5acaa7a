/*
 * auditd/cli.c - shared plumbing of the subcommands (see auditd/cli.h).
 */
#include "auditd/cli.h"

#include "lib/error.h"
#include "lib/timefmt.h"
#include "policies/audit.h"
#include "policies/repo.h"
#include "policies/state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_common_option(struct cli *cli, int opt, const char *arg)
{
	const char **n;

	switch (opt) {
	case CLI_OPT_STORE:
		cli->store_opt = arg;
		return 1;
	case CLI_OPT_CONFIG:
		cli->config_path = arg;
		return 1;
	case CLI_OPT_SET:
		n = realloc(cli->sets, (cli->nsets + 1) * sizeof(*n));
		if (n == NULL)
			return ak_error_oom();
		cli->sets = n;
		cli->sets[cli->nsets++] = arg;
		return 1;
	default:
		return 0;
	}
}

/* --config, then the --set options in order, over what c holds. */
static int apply_overrides(struct cli *cli, struct config *c)
{
	size_t i;
	int rc;

	if (cli->config_path && (rc = config_load_file(c, cli->config_path)) != 0)
		return rc;
	for (i = 0; i < cli->nsets; i++)
		if ((rc = config_set(c, cli->sets[i])) != 0)
			return rc;
	return 0;
}

/* <store>/akashi.conf, the settings a store keeps for itself (akashi init
 * --policies writes one). It ranks above the defaults and below --config
 * and --set; the store is only known once those are read, so the config is
 * built again in that order when the file exists. */
static int load_store_config(struct cli *cli)
{
	char path[sizeof(cli->store_dir) + sizeof(CLI_STORE_CONFIG) + 1];
	struct config *c = NULL;
	struct stat st;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", cli->store_dir, CLI_STORE_CONFIG);
	if (stat(path, &st) != 0)
		return errno == ENOENT || errno == ENOTDIR ? 0
							   : ak_error_set("%s: %s", path, strerror(errno));
	if ((rc = config_new(&c)) != 0 || (rc = config_load_file(c, path)) != 0)
		goto fail;
	if (*config_get(c, "store")) {
		rc = ak_error_code(AK_EINVALID, "%s: a store's own configuration cannot set 'store'",
				   path);
		goto fail;
	}
	if ((rc = apply_overrides(cli, c)) != 0)
		goto fail;
	config_free(cli->config);
	cli->config = c;
	return 0;
fail:
	config_free(c);
	return rc;
}

int cli_configure(struct cli *cli)
{
	const char *env, *home, *xdg;
	int rc;

	if (cli->configured)
		return 0;
	if (cli->config == NULL && (rc = config_new(&cli->config)) != 0)
		return rc;
	if ((rc = apply_overrides(cli, cli->config)) != 0)
		return rc;
	env = getenv("AKASHI_STORE");
	if (cli->store_opt)
		snprintf(cli->store_dir, sizeof(cli->store_dir), "%s", cli->store_opt);
	else if (env && *env)
		snprintf(cli->store_dir, sizeof(cli->store_dir), "%s", env);
	else if (*config_get(cli->config, "store"))
		snprintf(cli->store_dir, sizeof(cli->store_dir), "%s",
			 config_get(cli->config, "store"));
	else if (geteuid() == 0)
		snprintf(cli->store_dir, sizeof(cli->store_dir), "/var/lib/akashi");
	else if ((xdg = getenv("XDG_DATA_HOME")) && *xdg)
		snprintf(cli->store_dir, sizeof(cli->store_dir), "%s/akashi", xdg);
	else if ((home = getenv("HOME")) && *home)
		snprintf(cli->store_dir, sizeof(cli->store_dir), "%s/.local/share/akashi", home);
	else
		return ak_error_code(AK_EINVALID, "no store given: use --store DIR or AKASHI_STORE");
	if ((rc = load_store_config(cli)) != 0)
		return rc;
	cli->configured = 1;
	return 0;
}

int cli_config_reload(struct cli *cli, struct config **out)
{
	char path[sizeof(cli->store_dir) + sizeof(CLI_STORE_CONFIG) + 1];
	struct config *c = NULL;
	struct stat st;
	int rc;

	*out = NULL;
	if ((rc = config_new(&c)) != 0)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", cli->store_dir, CLI_STORE_CONFIG);
	if (stat(path, &st) == 0 && (rc = config_load_file(c, path)) != 0)
		goto fail;
	if ((rc = apply_overrides(cli, c)) != 0)
		goto fail;
	*out = c;
	return 0;
fail:
	config_free(c);
	return rc;
}

int cli_open_store(struct cli *cli, int flags, struct evidence_store **out)
{
	int rc;

	if ((rc = cli_configure(cli)) != 0)
		return rc;
	if ((rc = evidence_open(out, cli->store_dir, flags)) != 0)
		return rc;
	if ((rc = policy_state_attach(*out)) != 0) {
		evidence_close(*out);
		*out = NULL;
		return rc;
	}
	if (evidence_state_missing(*out))
		fprintf(stderr,
		        "akashi: warning: %s: consent, suppression and account state are missing "
		        "or stale until a writing command (e.g. 'akashi reindex') rebuilds %s "
		        "from the log\n",
		        evidence_state_missing(*out), EVIDENCE_STATE_FILE);
	return 0;
}

int cli_error(const char *name, int rc)
{
	const char *msg = ak_error_last();

	fprintf(stderr, "akashi: %s: %s\n", name, *msg ? msg : "failed");
	return rc == AK_EINVALID ? CLI_FAIL : CLI_FAIL;
}

int cli_usage(const char *name, const char *fmt, ...)
{
	const struct cli_command *c = cli_find(name);
	va_list ap;

	fprintf(stderr, "akashi: %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: akashi %s %s\n", name, c ? c->usage : "");
	return CLI_USAGE;
}

int cli_int(const char *what, const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max)
		return ak_error_code(AK_EINVALID, "%s: '%s' is not a whole number from %lld to %lld",
				     what, s, (long long)min, (long long)max);
	*out = v;
	return 0;
}

int cli_getopt(struct cli *cli, const char *name, int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	int c, rc;

	for (;;) {
		opterr = 0;
		c = getopt_long(argc, argv, shortopts, longopts, NULL);
		if (c == -1)
			return -1;
		if (c == '?' || c == ':') {
			if (optopt && c == ':')
				cli_usage(name, "option -%c needs a value", optopt);
			else if (optopt)
				cli_usage(name, "unknown option -%c", optopt);
			else
				cli_usage(name, "unknown option or missing value: %s",
					  argv[optind - 1]);
			return '?';
		}
		rc = cli_common_option(cli, c, optarg);
		if (rc < 0) {
			cli_error(name, rc);
			return '?';
		}
		if (rc == 0)
			return c;
	}
}

const char *cli_policy_repo(struct cli *cli, char *buf, size_t size)
{
	const char *r = config_get(cli->config, "policies.repo");

	if (*r)
		snprintf(buf, size, "%s", r);
	else
		snprintf(buf, size, "%s/policies", cli->store_dir);
	return buf;
}

const char *cli_policy_ref(struct cli *cli, const char *given)
{
	if (given && *given)
		return given;
	return *config_get(cli->config, "policies.ref") ? config_get(cli->config, "policies.ref")
							 : "HEAD";
}

int cli_load_policies(struct cli *cli, const char *ref, struct policy_set **out)
{
	char repo[sizeof(cli->store_dir) + 16];
	int rc;

	if ((rc = cli_configure(cli)) != 0)
		return rc;
	cli_policy_repo(cli, repo, sizeof(repo));
	ref = cli_policy_ref(cli, ref);
	if ((rc = policy_load(out, repo, ref)) != 0)
		ak_error_prefix("policies %s@%s", repo, ref);
	return rc;
}

int cli_period(struct cli *cli, const char *cmd, const char *quarter, const char *from,
	       const char *to, struct audit_period *out)
{
	const char *zone = config_get(cli->config, "timezone");

	if (!quarter == !(from || to) || !from != !to)
		return cli_usage(cmd, "give --quarter, or both --from and --to");
	if (quarter) {
		if (audit_quarter(quarter, *zone ? zone : "UTC", out) != 0)
			return cli_usage(cmd, "%s", ak_error_last());
	} else if (ak_time_parse(from, strlen(from), &out->from_us) != 0 ||
		   ak_time_parse(to, strlen(to), &out->to_us) != 0 || out->to_us <= out->from_us) {
		return cli_usage(cmd, "--from and --to must be RFC 3339 times, from before to");
	}
	return CLI_OK;
}
