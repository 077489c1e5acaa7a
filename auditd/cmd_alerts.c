/*
 * auditd/cmd_alerts.c - `akashi alerts replay`: run the alert detectors
 * over a period of history and print what would have fired, for tuning
 * alerts.json. Read-only: nothing is appended, no sink is called.
 *
 * The entries of the period are fed kind by kind (admin, send, dmarc), each
 * in event-time order; no rule looks across kinds except through derived
 * state, so the order between kinds does not change what fires. Alerts are
 * printed sorted by event time, one JSON line each (the body of the alert
 * entry the daemon would append), then one summary line per rule:
 *   {"summary":{"alerts":N,"enabled":true,"rule":"...","suppressed":M}}
 * Entries before --from are not seen, so a window or history (the volume
 * spike's 7 days) starts empty at --from.
 */
#include "auditd/alerts/alerts.h"
#include "auditd/cli.h"
#include "auditd/config.h"
#include "policies/policy.h"

#include "lib/error.h"
#include "lib/log.h"
#include "lib/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct printed {
	int64_t time_us;
	char *line;
	size_t len;
};

struct replay {
	struct alerts *alerts;
	struct printed *out;
	size_t n, cap;
	struct ak_buf buf;
};

static int keep(void *ctx, const struct alert_out *a)
{
	struct replay *r = ctx;
	int rc;

	ak_buf_reset(&r->buf);
	if ((rc = alerts_body(&r->buf, a)) != 0)
		return rc;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct printed *p = realloc(r->out, cap * sizeof(*p));

		if (p == NULL)
			return ak_error_oom();
		r->out = p;
		r->cap = cap;
	}
	r->out[r->n].time_us = a->time_us;
	if ((r->out[r->n].line = malloc(r->buf.len)) == NULL)
		return ak_error_oom();
	memcpy(r->out[r->n].line, r->buf.data, r->buf.len);
	r->out[r->n++].len = r->buf.len;
	return 0;
}

static int feed(void *ctx, const struct evidence_entry *e)
{
	struct replay *r = ctx;

	return alerts_feed(r->alerts, e);
}

/* By time; at one time by the bytes, so the output is the same every run. */
static int cmp_printed(const void *x, const void *y)
{
	const struct printed *a = x, *b = y;
	size_t n = a->len < b->len ? a->len : b->len;
	int c;

	if (a->time_us != b->time_us)
		return a->time_us < b->time_us ? -1 : 1;
	c = memcmp(a->line, b->line, n);
	return c ? c : (a->len > b->len) - (a->len < b->len);
}

static int print_summary(const struct alerts *a)
{
	json_t *stats = json_object(), *v;
	const char *rule;
	int rc = 0;

	if (stats == NULL)
		return ak_error_oom();
	alerts_stats(a, stats);
	json_object_foreach(stats, rule, v)
	{
		printf("{\"summary\":{\"alerts\":%lld,\"enabled\":%s,\"rule\":\"%s\","
		       "\"suppressed\":%lld}}\n",
		       (long long)json_integer_value(json_object_get(v, "alerts")),
		       json_is_true(json_object_get(v, "enabled")) ? "true" : "false", rule,
		       (long long)json_integer_value(json_object_get(v, "suppressed")));
	}
	json_decref(stats);
	return rc;
}

static int load_rules(const char *path, json_t **out)
{
	json_error_t err;

	if ((*out = json_load_file(path, JSON_REJECT_DUPLICATES, &err)) == NULL)
		return ak_error_code(AK_EINVALID, "%s:%d:%d: %s", path, err.line, err.column,
		                     err.text);
	if (alerts_check_rules(*out) != 0) {
		ak_error_prefix("%s", path);
		return AK_EINVALID;
	}
	return 0;
}

int cmd_alerts(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS,
	                                     {"from", required_argument, NULL, 'f'},
	                                     {"to", required_argument, NULL, 't'},
	                                     {"rules", required_argument, NULL, 'r'},
	                                     {NULL, 0, NULL, 0}};
	static const char *const kinds[] = {"admin", "send", "dmarc"};
	const char *from = NULL, *to = NULL, *rules_path = NULL;
	struct evidence_store *st = NULL;
	struct replay r = {0};
	json_t *rules = NULL;
	struct policy_set *set = NULL;
	struct alerts_settings settings = {0};
	struct alerts_config acfg;
	int64_t from_us, to_us;
	size_t i;
	int c, rc = 0, exit_code = CLI_FAIL;

	ak_buf_init(&r.buf, 1 << 20);
	while ((c = cli_getopt(cli, "alerts", argc, argv, "", opts)) != -1) {
		if (c == 'f')
			from = optarg;
		else if (c == 't')
			to = optarg;
		else if (c == 'r')
			rules_path = optarg;
		else
			return CLI_USAGE;
	}
	if (optind >= argc || strcmp(argv[optind], "replay") != 0)
		return cli_usage("alerts", "expected the subcommand 'replay'");
	if (optind + 1 != argc)
		return cli_usage("alerts", "unexpected argument '%s'", argv[optind + 1]);
	if (from == NULL || to == NULL)
		return cli_usage("alerts", "replay needs --from and --to");
	if (ak_time_parse(from, strlen(from), &from_us) != 0)
		return cli_usage("alerts", "--from '%s': %s", from, ak_error_last());
	if (ak_time_parse(to, strlen(to), &to_us) != 0)
		return cli_usage("alerts", "--to '%s': %s", to, ak_error_last());
	if (from_us >= to_us)
		return cli_usage("alerts", "--from must be before --to");
	if (rules_path && (rc = load_rules(rules_path, &rules)) != 0)
		goto done;
	/* The daemon's rules and settings: alerts.json of the policies in
	 * force (unless --rules), their privileged roles, own domains and
	 * mass-send threshold, the configured time zone and business hours.
	 * Without policies that load, as the daemon: the defaults, said. */
	if (cli_load_policies(cli, NULL, &set) != 0) {
		ak_log(AK_LOG_WARN, "alerts replay: no policies (%s): %s", ak_error_last(),
		       rules ? "--rules, without privileged roles, domains or threshold"
		             : "the default rules");
		ak_error_clear();
		set = NULL;
	}
	if ((rc = alerts_settings_of(&settings,
	                             rules ? rules
	                             : set ? set->alerts
	                                   : NULL,
	                             config_get(cli->config, "timezone"),
	                             config_get(cli->config, "business_hours"), set)) != 0)
		goto done;
	alerts_settings_config(&settings, &acfg);
	if ((rc = cli_open_store(cli, EVIDENCE_READONLY, &st)) != 0 ||
	    (rc = alerts_new(&r.alerts, settings.rules, &acfg, evidence_db(st), keep, &r)) != 0)
		goto done;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct evidence_filter f = {0};

		f.kind = kinds[i];
		f.since_us = from_us;
		f.has_since = 1;
		f.until_us = to_us;
		f.has_until = 1;
		f.by_time = 1;
		if ((rc = evidence_scan(st, &f, feed, &r)) != 0)
			goto done;
	}
	if (r.n) /* r.out is NULL when nothing fired: qsort's pointer may not be */
		qsort(r.out, r.n, sizeof(*r.out), cmp_printed);
	for (i = 0; i < r.n; i++) {
		fwrite(r.out[i].line, 1, r.out[i].len, stdout);
		putchar('\n');
	}
	print_summary(r.alerts);
	exit_code = fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
done:
	if (rc != 0)
		exit_code = cli_error("alerts", rc);
	for (i = 0; i < r.n; i++)
		free(r.out[i].line);
	free(r.out);
	ak_buf_free(&r.buf);
	alerts_free(r.alerts);
	evidence_close(st);
	json_decref(rules);
	alerts_settings_free(&settings);
	policy_set_free(set);
	return exit_code;
}
