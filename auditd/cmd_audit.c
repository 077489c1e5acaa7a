/*
 * auditd/cmd_audit.c - `akashi audit` and `akashi gate`: the policy engine
 * from the command line. Both read the policies from a commit of the
 * policy repository (policies/repo.h) and name that commit in what they
 * print and record.
 */
#include "auditd/cli.h"

#include "lib/b64.h"
#include "lib/error.h"
#include "lib/jcs.h"
#include "lib/timefmt.h"
#include "policies/audit.h"
#include "policies/gate.h"
#include "policies/repo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The policy load is part of the record. */
static int record_policy_load(struct evidence_store *st, const struct policy_set *set,
			      const char *why)
{
	struct ak_buf body = AK_BUF_INIT(0);
	json_t *ids = json_array(), *b;
	size_t i;
	int rc;

	for (i = 0; i < set->n; i++)
		json_array_append_new(ids, json_string(set->policies[i].id));
	b = json_pack("{s:s,s:s,s:s,s:o}", "event", "policy_load", "policy_commit", set->commit,
		      "by", why, "policies", ids);
	if (b == NULL)
		return ak_error_oom();
	rc = ak_jcs_write_jansson(&body, b);
	json_decref(b);
	if (rc == 0)
		rc = evidence_append_now(st, "system", "akashi", body.data, body.len, NULL);
	ak_buf_free(&body);
	return rc;
}

static void print_table(const struct audit_result *r)
{
	char from[AK_TIME_MAX], to[AK_TIME_MAX];
	size_t i;

	ak_time_format(from, r->period.from_us, AK_TIME_AUTO);
	ak_time_format(to, r->period.to_us, AK_TIME_AUTO);
	printf("audit %s%s%s .. %s at policy commit %.12s, log size %lld\n\n",
	       r->period.label[0] ? r->period.label : "", r->period.label[0] ? ": " : "", from, to,
	       r->policy_commit, (long long)r->checkpoint_size);
	printf("%-28s %-30s %12s %10s %9s\n", "policy", "control", "population", "exceptions",
	       "pass rate");
	for (i = 0; i < r->npolicies; i++) {
		const struct audit_policy_result *pr = &r->policies[i];
		char rate[16];
		int64_t ok = pr->population - pr->affected;

		if (pr->population)
			snprintf(rate, sizeof(rate), "%.2f%%",
				 100.0 * (double)(ok < 0 ? 0 : ok) / (double)pr->population);
		else
			snprintf(rate, sizeof(rate), "n/a");
		printf("%-28s %-30s %12lld %10zu %9s%s\n", pr->policy->id, pr->policy->control,
		       (long long)pr->population, pr->nexceptions, rate,
		       pr->not_assessed ? " (some not assessed)" : "");
	}
}

int cmd_audit(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS,
					     {"quarter", required_argument, NULL, 'q'},
					     {"from", required_argument, NULL, 'f'},
					     {"to", required_argument, NULL, 't'},
					     {"json", no_argument, NULL, 'j'},
					     {"ref", required_argument, NULL, 'r'},
					     {"no-record", no_argument, NULL, 'n'},
					     {NULL, 0, NULL, 0}};
	const char *quarter = NULL, *from = NULL, *to = NULL, *ref = NULL;
	struct evidence_store *st = NULL;
	struct policy_set *set = NULL;
	struct audit_result *r = NULL;
	struct audit_period period = {0};
	struct evidence_checkpoint cp = {0};
	int c, rc, json = 0, record = 1, created;
	size_t appended = 0;

	while ((c = cli_getopt(cli, "audit", argc, argv, "", opts)) != -1) {
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
		case 'j':
			json = 1;
			break;
		case 'r':
			ref = optarg;
			break;
		case 'n':
			record = 0;
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage("audit", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_configure(cli)) != 0)
		return cli_error("audit", rc);
	if ((rc = cli_period(cli, "audit", quarter, from, to, &period)) != CLI_OK)
		return rc;
	if ((rc = cli_open_store(cli, record ? 0 : EVIDENCE_READONLY, &st)) != 0 ||
	    (rc = cli_load_policies(cli, ref, &set)) != 0)
		goto done;
	/* Scans by kind and time go through the catalog: bring it up to
	 * date (seconds, even after an ingest --no-index). Then bind the
	 * audit to a checkpoint of the log as it stands. */
	if (record && ((rc = evidence_catalog_catchup(st)) != 0 ||
		       (rc = record_policy_load(st, set, "audit")) != 0 ||
		       (rc = evidence_checkpoint(st, &cp, &created)) != 0))
		goto done;
	if ((rc = audit_run(st, set, &period, &r)) != 0)
		goto done;
	if (record && (rc = audit_record(st, r, &appended)) != 0)
		goto done;
	if (json) {
		json_t *j = audit_result_json(r);
		char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;

		if (text == NULL) {
			json_decref(j);
			rc = ak_error_oom();
			goto done;
		}
		printf("%s\n", text);
		free(text);
		json_decref(j);
	} else {
		print_table(r);
		if (record)
			printf("\n%zu finding%s appended (findings already recorded at this commit "
			       "are not repeated)\n",
			       appended, appended == 1 ? "" : "s");
	}
done:
	evidence_checkpoint_clear(&cp);
	audit_result_free(r);
	policy_set_free(set);
	evidence_close(st);
	return rc ? cli_error("audit", rc) : CLI_OK;
}

int cmd_gate(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS,
					     {"rcpt", required_argument, NULL, 'r'},
					     {"list", required_argument, NULL, 'l'},
					     {"stream", required_argument, NULL, 's'},
					     {"campaign", required_argument, NULL, 'c'},
					     {"campaign-size", required_argument, NULL, 'n'},
					     {"owner", required_argument, NULL, 'o'},
					     {"headers", required_argument, NULL, 'H'},
					     {"ref", required_argument, NULL, 'R'},
					     {NULL, 0, NULL, 0}};
	struct gate_request rq = {0};
	struct gate_decision d;
	struct evidence_store *st = NULL;
	struct policy_set *set = NULL;
	struct gate *g = NULL;
	const char *ref = NULL;
	char *text;
	json_t *j;
	int c, rc;

	rq.campaign_size = -1;
	rq.unsubscribe_headers = -1;
	while ((c = cli_getopt(cli, "gate", argc, argv, "", opts)) != -1) {
		switch (c) {
		case 'r':
			rq.rcpt = optarg;
			break;
		case 'l':
			rq.list = optarg;
			break;
		case 's':
			rq.stream = optarg;
			break;
		case 'c':
			rq.campaign = optarg;
			break;
		case 'n':
			if (cli_int("--campaign-size", optarg, 0, INT64_MAX, &rq.campaign_size) != 0)
				return cli_usage("gate", "%s", ak_error_last());
			break;
		case 'o':
			rq.owner = optarg;
			break;
		case 'H':
			if (strcmp(optarg, "yes") && strcmp(optarg, "no"))
				return cli_usage("gate", "--headers takes yes or no");
			rq.unsubscribe_headers = strcmp(optarg, "yes") == 0;
			break;
		case 'R':
			ref = optarg;
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage("gate", "unexpected argument '%s'", argv[optind]);
	if (!rq.rcpt || !rq.list || !rq.stream)
		return cli_usage("gate", "--rcpt, --list and --stream are needed");
	if (strcmp(rq.stream, "marketing") && strcmp(rq.stream, "transactional"))
		return cli_usage("gate", "--stream is marketing or transactional");
	if ((rc = cli_open_store(cli, EVIDENCE_READONLY, &st)) != 0 ||
	    (rc = cli_load_policies(cli, ref, &set)) != 0 ||
	    (rc = gate_new(&g, evidence_db(st), set)) != 0 || (rc = gate_check(g, &rq, &d)) != 0)
		goto done;
	j = gate_decision_json(&d);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (text)
		printf("%s\n", text);
	free(text);
	json_decref(j);
done:
	gate_free(g);
	policy_set_free(set);
	evidence_close(st);
	if (rc)
		return cli_error("gate", rc);
	/* Like test(1): 0 when the send may go, 1 when it may not. */
	return d.allow ? CLI_OK : CLI_FAIL;
}
