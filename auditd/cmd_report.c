/*
 * auditd/cmd_report.c - `akashi report`: the quarterly compliance report
 * (reports/report.h) as HTML, JSON or CSV, written atomically, and the
 * making of it recorded as a `system` entry (who, when, the period, the
 * format, the file and the SHA-256 of its bytes), so the log shows every
 * report handed out and a reader can check a copy against it.
 *
 * The audit of the period runs (and is recorded) when it has not run at
 * the policy commit in force, or when entries of the period came after
 * it; the report is bound to a checkpoint made for it.
 */
#include "auditd/cli.h"

#include "lib/b64.h"
#include "lib/error.h"
#include "lib/jcs.h"
#include "lib/timefmt.h"
#include "policies/policy.h"
#include "reports/report.h"

#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Who is making the report: the OS user. */
static void os_user(char *out, size_t cap)
{
	struct passwd *pw = getpwuid(geteuid());
	const char *env = getenv("USER");

	if (pw && pw->pw_name && *pw->pw_name)
		snprintf(out, cap, "%s", pw->pw_name);
	else if (env && *env)
		snprintf(out, cap, "%s", env);
	else
		snprintf(out, cap, "uid %ld", (long)geteuid());
}

/* Append s to b as one shell word (single quotes when it needs any). */
static int shell_word(struct ak_buf *b, const char *s)
{
	const char *p;
	int rc;

	if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	                    "_-./:=@+,%") == strlen(s))
		return ak_buf_printf(b, " %s", s);
	if ((rc = ak_buf_puts(b, " '")) != 0)
		return rc;
	for (p = s; *p && rc == 0; p++)
		rc = *p == '\'' ? ak_buf_puts(b, "'\\''") : ak_buf_putc(b, *p);
	return rc ? rc : ak_buf_putc(b, '\'');
}

/* path made absolute through its directory (the file may not exist yet);
 * as given when that fails. */
static void absolute(const char *path, char *out, size_t cap)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (path[0] == '/') {
		snprintf(out, cap, "%s", path);
		return;
	}
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	if (realpath(dir, real) != NULL)
		snprintf(out, cap, "%s/%s", real, slash ? slash + 1 : path);
	else
		snprintf(out, cap, "%s", path);
}

/* The command that makes this report again: the store and the output as
 * absolute paths, the policy commit pinned, the zone spelled out. */
static int regenerate_command(struct ak_buf *b, const struct cli *cli, const char *zone,
                              const char *quarter, const char *from, const char *to,
                              const char *commit, const char *format, const char *abs_out)
{
	char abs_store[PATH_MAX];
	int rc;

	if (realpath(cli->store_dir, abs_store) == NULL)
		snprintf(abs_store, sizeof(abs_store), "%s", cli->store_dir);
	if ((rc = ak_buf_puts(b, "akashi")) != 0 || (rc = ak_buf_puts(b, " --store")) != 0 ||
	    (rc = shell_word(b, abs_store)) != 0)
		return rc;
	if (*zone) {
		char set[128];

		snprintf(set, sizeof(set), "timezone=%s", zone);
		if ((rc = ak_buf_puts(b, " --set")) != 0 || (rc = shell_word(b, set)) != 0)
			return rc;
	}
	if ((rc = ak_buf_puts(b, " report")) != 0)
		return rc;
	if (quarter)
		rc = ak_buf_puts(b, " --quarter") || shell_word(b, quarter);
	else
		rc = ak_buf_puts(b, " --from") || shell_word(b, from) || ak_buf_puts(b, " --to") ||
		     shell_word(b, to);
	if (rc == 0)
		rc = ak_buf_printf(b, " --ref %s --format %s -o", commit, format) ||
		     shell_word(b, abs_out);
	return rc ? ak_error_oom() : 0;
}

/* The report's own entry. */
static int record_report(struct evidence_store *st, const json_t *doc, const char *user,
                         const char *format, const char *path, size_t len,
                         const unsigned char sha[32], int64_t *seq)
{
	struct ak_buf body = AK_BUF_INIT(0);
	char hex[65];
	json_t *b;
	int rc;

	ak_hex_encode(hex, sha, 32);
	b = json_pack("{s:s,s:s,s:O,s:s,s:s,s:s,s:I,s:s,s:I,s:s}", "event", "report", "by", user,
	              "period", json_object_get(doc, "period"), "format", format, "file", path,
	              "sha256", hex, "bytes", (json_int_t)len, "policy_commit",
	              json_string_value(json_object_get(json_object_get(doc, "attestation"),
	                                                "policy_commit")),
	              "checkpoint_size",
	              json_integer_value(json_object_get(
	                      json_object_get(json_object_get(doc, "attestation"), "checkpoint"),
	                      "size")),
	              "made", json_string_value(json_object_get(doc, "made")));
	if (b == NULL)
		return ak_error_oom();
	rc = ak_jcs_write_jansson(&body, b);
	json_decref(b);
	if (rc == 0)
		rc = evidence_append_now(st, "system", "akashi:report", body.data, body.len, seq);
	ak_buf_free(&body);
	return rc;
}

int cmd_report(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS,
	                                     {"quarter", required_argument, NULL, 'q'},
	                                     {"from", required_argument, NULL, 'f'},
	                                     {"to", required_argument, NULL, 't'},
	                                     {"format", required_argument, NULL, 'F'},
	                                     {"output", required_argument, NULL, 'o'},
	                                     {"ref", required_argument, NULL, 'r'},
	                                     {NULL, 0, NULL, 0}};
	const char *quarter = NULL, *from = NULL, *to = NULL, *format = NULL, *out = NULL,
	           *ref = NULL, *zone;
	struct evidence_store *st = NULL;
	struct policy_set *set = NULL;
	struct report_request rq;
	struct ak_buf bytes = AK_BUF_INIT(0), cmd = AK_BUF_INIT(0);
	unsigned char sha[32];
	char user[256], hex[65], abs_out[PATH_MAX + 256];
	json_t *doc = NULL;
	int64_t seq = 0;
	int c, rc;

	memset(&rq, 0, sizeof(rq));
	while ((c = cli_getopt(cli, "report", argc, argv, "o:", opts)) != -1) {
		switch (c) {
		case 'q':
			quarter = optarg;
			break;
		case 'f':
			from = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 'F':
			format = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'r':
			ref = optarg;
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage("report", "unexpected argument '%s'", argv[optind]);
	if (format == NULL ||
	    (strcmp(format, "html") && strcmp(format, "json") && strcmp(format, "csv")))
		return cli_usage("report", "--format is html, json or csv");
	if (out == NULL || *out == '\0')
		return cli_usage("report", "-o FILE is needed");
	if ((rc = cli_configure(cli)) != 0)
		return cli_error("report", rc);
	/* Period boundaries and weeks in the configured zone, else UTC. */
	zone = config_get(cli->config, "timezone");
	if ((rc = cli_period(cli, "report", quarter, from, to, &rq.period)) != CLI_OK)
		return rc;
	if ((rc = cli_open_store(cli, 0, &st)) != 0 ||
	    (rc = cli_load_policies(cli, ref, &set)) != 0 ||
	    (rc = evidence_catalog_catchup(st)) != 0)
		goto done;
	os_user(user, sizeof(user));
	absolute(out, abs_out, sizeof(abs_out));
	if ((rc = regenerate_command(&cmd, cli, zone, quarter, from, to, set->commit, format,
	                             abs_out)) != 0)
		goto done;
	rq.zone = *zone ? zone : "UTC";
	rq.set = set;
	rq.record = 1;
	rq.command = cmd.data;
	rq.made_by = user;
	if ((rc = report_build(st, &rq, &doc)) != 0)
		goto done;
	if (strcmp(format, "html") == 0) {
		rc = report_render_html(doc, &bytes);
	} else if (strcmp(format, "csv") == 0) {
		rc = report_render_csv(doc, &bytes);
	} else {
		char *text = json_dumps(doc, JSON_INDENT(2));

		if (text == NULL || ak_buf_puts(&bytes, text) != 0 ||
		    ak_buf_putc(&bytes, '\n') != 0)
			rc = ak_error_oom();
		free(text);
	}
	if (rc != 0 || (rc = report_write_file(out, bytes.data, bytes.len, sha)) != 0 ||
	    (rc = record_report(st, doc, user, format, abs_out, bytes.len, sha, &seq)) != 0)
		goto done;
	ak_hex_encode(hex, sha, 32);
	{
		const json_t *att = json_object_get(doc, "attestation"),
		             *au = json_object_get(att, "audit");

		printf("%s: %zu bytes, sha256 %s\n", out, bytes.len, hex);
		printf("period %s .. %s (%s), policy commit %.12s, bound to checkpoint size %lld\n",
		       json_string_value(json_object_get(json_object_get(doc, "period"), "from")),
		       json_string_value(json_object_get(json_object_get(doc, "period"), "to")),
		       rq.zone, set->commit,
		       (long long)json_integer_value(
		               json_object_get(json_object_get(att, "checkpoint"), "size")));
		if (json_is_true(json_object_get(au, "ran")))
			printf("audit run for this report: %lld new findings recorded\n",
			       (long long)json_integer_value(
			               json_object_get(au, "findings_appended")));
		else
			printf("audit already current at this commit (entry %lld): not run again\n",
			       (long long)json_integer_value(json_object_get(au, "system_seq")));
		printf("recorded as entry %lld\n", (long long)seq);
	}
done:
	json_decref(doc);
	ak_buf_free(&bytes);
	ak_buf_free(&cmd);
	policy_set_free(set);
	evidence_close(st);
	return rc ? cli_error("report", rc) : CLI_OK;
}
