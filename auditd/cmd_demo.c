/*
 * auditd/cmd_demo.c - `akashi demo`: the whole product on one quarter of
 * realistic data, in the order a newcomer would try it. It makes a store
 * under a directory of the build, writes sample inputs in the formats the
 * outside world produces (auditd/demo_data.c: a Postfix maillog, a consent
 * CSV, OCSF events, DMARC reports), ingests them through the adapters of
 * `akashi ingest`, and then runs, as typed, checkpoint, verify, search,
 * gate, audit, report, alerts replay, export and verify-bundle. Every step
 * is the command's own implementation called through run(), so the demo
 * shows exactly what a user would see. It ends with a summary of where
 * everything is.
 *
 * The data holds planted problems (demo_data.h lists them); the audit and
 * the alert replay find them, and tests/e2e/demo.t checks that they do.
 */
#include "auditd/cli.h"

#include "auditd/demo_data.h"
#include "lib/error.h"
#include "policies/policy.h"

#define _XOPEN_SOURCE_EXTENDED 1
#include <assert.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Print an argument as a shell would need it typed. */
static void shell_word(FILE *f, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++)
		if (!(*p >= 0x80 || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("@%+=:,./_-", *p)))
			break;
	if (*p == '\0' && *s) {
		fputs(s, f);
		return;
	}
	fputc('\'', f);
	for (p = (const unsigned char *)s; *p; p++)
		if (*p == '\'')
			fputs("'\\''", f);
		else
			fputc(*p, f);
	fputc('\'', f);
}

/* Run the subcommand argv[0] (argv NULL-terminated) as `akashi` would,
 * after printing it; shown, when not NULL, is printed instead of the
 * arguments (a glob for a long list of files). */
static int run(struct cli *cli, const char *shown, char **argv)
{
	const char *name = argv[0];
	const struct cli_command *c = cli_find(name);
	int argc = 0;

	assert(name && c);
	while (argv[argc])
		argc++;
	printf("\n$ akashi %s", name);
	if (shown)
		printf(" %s", shown);
	else
		for (int i = 1; i < argc; i++) {
			putchar(' ');
			shell_word(stdout, argv[i]);
		}
	printf("\n");
	fflush(stdout);
	optind = 1;
	return c->run(cli, argc, argv);
}

/* run(), keeping what the command prints in *out (malloc'd, NUL-ended)
 * as well as showing it. */
static int run_captured(struct cli *cli, char **argv, char **out)
{
	FILE *tmp = tmpfile();
	int saved, rc;
	long len;

	*out = NULL;
	if (tmp == NULL)
		return ak_error_set("a temporary file: %s", strerror(errno));
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	if (saved < 0 || dup2(fileno(tmp), STDOUT_FILENO) < 0) {
		fclose(tmp);
		return ak_error_set("redirecting the output: %s", strerror(errno));
	}
	rc = run(cli, NULL, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	len = ftell(tmp);
	if (len >= 0 && (*out = calloc(1, (size_t)len + 1)) != NULL) {
		rewind(tmp);
		if (fread(*out, 1, (size_t)len, tmp) != (size_t)len)
			(*out)[0] = '\0';
		fputs(*out, stdout);
	}
	fclose(tmp);
	return rc;
}

struct tally {
	const char *name[32];
	long long n[32];
	size_t count;
};

static void tally_add(struct tally *t, const char *name, long long n)
{
	size_t i;

	for (i = 0; i < t->count; i++)
		if (strcmp(t->name[i], name) == 0)
			break;
	if (i == t->count) {
		char *copy;

		if (i == sizeof(t->name) / sizeof(t->name[0]) || (copy = strdup(name)) == NULL)
			return;
		t->name[t->count] = copy;
		t->n[t->count++] = 0;
	}
	t->n[i] += n;
}

static void tally_free(struct tally *t)
{
	for (size_t i = 0; i < t->count; i++)
		free((char *)t->name[i]);
	t->count = 0;
}

struct store_counts {
	struct tally kinds, findings;
	long long total;
};

static int count_entry(void *ctx, const struct evidence_entry *e)
{
	struct store_counts *c = ctx;

	c->total++;
	tally_add(&c->kinds, e->kind, 1);
	if (strcmp(e->kind, "finding") == 0) {
		json_t *b = json_loadb(e->body, e->body_len, 0, NULL);
		const char *id = json_string_value(json_object_get(b, "policy_id"));

		tally_add(&c->findings, id ? id : "?", 1);
		json_decref(b);
	}
	return 0;
}

/* The alert replay's summary lines: {"summary":{"alerts":N,"rule":R,...}}. */
static void count_alerts(const char *text, struct tally *t)
{
	const char *p = text;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		json_t *j = json_loadb(p, len, 0, NULL), *s = json_object_get(j, "summary");
		json_int_t n = json_integer_value(json_object_get(s, "alerts"));
		const char *rule = json_string_value(json_object_get(s, "rule"));

		if (rule && n > 0)
			tally_add(t, rule, n);
		json_decref(j);
		p = nl ? nl + 1 : NULL;
	}
}

static void print_tally(const char *label, const struct tally *t, const char *none)
{
	size_t i;

	if (t->count == 0)
		printf("  %-12s %s\n", label, none);
	for (i = 0; i < t->count; i++)
		printf("  %-12s %-30s %6lld\n", i ? "" : label, t->name[i], t->n[i]);
}

/* How to run this binary from here: "./build/akashi" after `make demo`,
 * the full path when it is elsewhere, "akashi" when that cannot be told. */
static void self_command(char *out, size_t cap)
{
	char exe[4096], cwd[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t c;

	snprintf(out, cap, "akashi");
	if (n <= 0)
		return;
	exe[n] = '\0';
	if (getcwd(cwd, sizeof(cwd)) != NULL && (c = strlen(cwd)) > 0 &&
	    strncmp(exe, cwd, c) == 0 && exe[c] == '/')
		snprintf(out, cap, "./%s", exe + c + 1);
	else
		snprintf(out, cap, "%s", exe);
}

int cmd_demo(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	        CLI_COMMON_OPTIONS, {"dir", required_argument, NULL, 'd'}, {NULL, 0, NULL, 0}};
	const char *dir = "build/demo";
	char store[4096], samples[4096], path[4200], dbpath[4200], html[4200], json[4200];
	char bundle[4200], top[4200], commit[41], ak[4200];
	char *alerts = NULL, *dmarc_argv[DEMO_DMARC_MAX + 4];
	struct demo_data d;
	struct policy_set *set = NULL;
	struct evidence_store *st = NULL;
	struct evidence_checkpoint cp = {0};
	struct store_counts counts = {0};
	struct tally alert_counts = {0};
	const char *p;
	FILE *f;
	size_t i;
	int c, rc;

	while ((c = cli_getopt(cli, "demo", argc, argv, "", opts)) != -1) {
		if (c == 'd')
			dir = optarg;
		else
			return CLI_USAGE;
	}
	if (optind != argc)
		return cli_usage("demo", "unexpected argument '%s'", argv[optind]);
	snprintf(store, sizeof(store), "%s/store", dir);
	snprintf(samples, sizeof(samples), "%s/samples", dir);
	snprintf(html, sizeof(html), "%s/report-2026Q3.html", dir);
	snprintf(json, sizeof(json), "%s/report-2026Q3.json", dir);
	snprintf(dbpath, sizeof(dbpath), "%s/%s", store, EVIDENCE_DB_FILE);
	/* The bundle is named after the subject, made safe as the archive's
	 * top directory will be (reports/bundle_export.c). */
	snprintf(top, sizeof(top), "bundle-%s", DEMO_EXPORT_SUBJECT);
	for (i = 0; top[i]; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_",
		            top[i]))
			top[i] = '_';
	snprintf(bundle, sizeof(bundle), "%s/%s.zip", dir, top);
	/* Only ever remove a store this command made before (and its samples
	 * and bundle: export never overwrites a file). */
	if (access(dbpath, F_OK) == 0) {
		snprintf(path, sizeof(path), "%s/.demo", store);
		if (access(path, F_OK) != 0) {
			fprintf(stderr,
			        "akashi: demo: %s holds a store the demo did not make; "
			        "refusing to replace it\n",
			        store);
			return CLI_FAIL;
		}
		nftw(store, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		nftw(samples, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		remove(bundle);
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "akashi: demo: %s: %s\n", dir, strerror(errno));
		return CLI_FAIL;
	}
	cli->store_opt = store;
	cli->configured = 0;
	printf("akashi demo: one quarter (2026 Q3) of a small shop's mail, consent, logins and\n"
	       "DMARC reports, in the formats they come in, checked against the shipped "
	       "policies.\n");
	{
		char *a[] = {"init", "--origin", "demo.akashi.example/log", NULL};

		if ((rc = run(cli, NULL, a)) != 0)
			return rc;
	}
	snprintf(path, sizeof(path), "%s/.demo", store);
	if ((f = fopen(path, "w")) != NULL)
		fclose(f);
	/* The delivery engine's records name the policy commit in force. */
	if ((rc = cli_load_policies(cli, NULL, &set)) != 0)
		return cli_error("demo", rc);
	snprintf(commit, sizeof(commit), "%s", set->commit);
	policy_set_free(set);
	if (demo_data_write(samples, commit, &d) != 0) {
		fprintf(stderr, "akashi: demo: %s\n", ak_error_last());
		return CLI_FAIL;
	}
	printf("\nSample inputs in %s/:\n"
	       "  maillog                  Postfix log (RFC 3164 syslog, Japan time, no year)\n"
	       "  consent.csv              CRM export: double opt-ins with confirmations, "
	       "checkout\n"
	       "                           opt-ins, opt-outs, a paper-form import without proof\n"
	       "  okta-ocsf.jsonl          identity provider events (OCSF 3002 logons, 3001 "
	       "changes)\n"
	       "  reviews-approvals.jsonl  access reviews and an approval (akashi JSON Lines)\n"
	       "  akashi-delivery.jsonl    a notice sent by akashi's delivery engine\n"
	       "  dmarc/                   %zu aggregate reports: generated for the shop's "
	       "domains\n"
	       "                           (XML, one .xml.gz) and 3 real ones (XML, zip, e-mail)\n"
	       "\nPlanted in them, for the audit and the alerts to find:\n"
	       "  - %s opted out on 3 Aug and got the newsletter on 5 Aug\n"
	       "  - %s got a sale alert without any consent\n"
	       "  - %s was imported without proof of consent, then mailed\n"
	       "  - %s holds admin and was not reviewed this quarter\n"
	       "  - %s's password was last changed in March\n"
	       "  - %s went to 10,240 customers with no approval\n"
	       "    (%s, owned by %s, was approved by %s)\n"
	       "  - 12 failed logins for %s from %s, then a success\n"
	       "  - %s sends as %s without DMARC alignment\n",
	       samples, d.ndmarc, d.optout_subject, d.noconsent_subject, d.noproof_subject,
	       d.unreviewed_account, d.stale_password_account, d.unapproved_campaign,
	       d.approved_campaign, d.approved_owner, d.approved_by, d.bruteforce_account,
	       d.bruteforce_ip, d.failing_source, d.failing_domain);
	{
		char *consent[] = {"ingest", "--kind",  "consent", "--format",
		                   "csv",    d.consent, NULL};
		char *admin[] = {"ingest", "--kind", "admin", "--format", "ocsf", d.ocsf, NULL};
		char *native[] = {"ingest", d.native, d.delivery, NULL};
		char *maillog[] = {"ingest",     "--kind",  "send", "--format",
		                   "postfix",    "--year",  "2026", "--zone",
		                   "Asia/Tokyo", d.maillog, NULL};
		char shown[4300];

		if ((rc = run(cli, NULL, consent)) != 0 || (rc = run(cli, NULL, admin)) != 0 ||
		    (rc = run(cli, NULL, native)) != 0 || (rc = run(cli, NULL, maillog)) != 0)
			return rc;
		dmarc_argv[0] = "ingest";
		dmarc_argv[1] = "--kind";
		dmarc_argv[2] = "dmarc";
		for (i = 0; i < d.ndmarc; i++)
			dmarc_argv[3 + i] = d.dmarc[i];
		dmarc_argv[3 + d.ndmarc] = NULL;
		snprintf(shown, sizeof(shown), "--kind dmarc %s/dmarc/*", samples);
		if ((rc = run(cli, shown, dmarc_argv)) != 0)
			return rc;
	}
	{
		char *cp_[] = {"checkpoint", NULL};
		char *verify[] = {"verify", NULL};
		char *search[] = {"search", "--limit", "3", "申込用紙", NULL};
		char *gate_ok[] = {
		        "gate",     "--rcpt",    d.allowed_subject, "--list", (char *)d.newsletter,
		        "--stream", "marketing", "--headers",       "yes",    NULL};
		char *gate_no[] = {"gate",
		                   "--rcpt",
		                   (char *)d.optout_subject,
		                   "--list",
		                   (char *)d.newsletter,
		                   "--stream",
		                   "marketing",
		                   "--headers",
		                   "yes",
		                   NULL};
		char *audit[] = {"audit", "--quarter", "2026Q3", NULL};
		char *rep_html[] = {"report", "--quarter", "2026Q3", "--format",
		                    "html",   "-o",        html,     NULL};
		char *rep_json[] = {"report", "--quarter", "2026Q3", "--format",
		                    "json",   "-o",        json,     NULL};
		char *replay[] = {"alerts", "replay",
		                  "--from", "2026-07-01T00:00:00Z",
		                  "--to",   "2026-10-01T00:00:00Z",
		                  NULL};

		if ((rc = run(cli, NULL, cp_)) != 0 || (rc = run(cli, NULL, verify)) != 0 ||
		    (rc = run(cli, NULL, search)) != 0)
			return rc;
		if ((rc = run(cli, NULL, gate_ok)) != 0) {
			fprintf(stderr, "akashi: demo: the gate refused a confirmed subscriber\n");
			return CLI_FAIL;
		}
		if ((rc = run(cli, NULL, gate_no)) != CLI_FAIL) {
			fprintf(stderr,
			        "akashi: demo: the gate let a send through after an opt-out\n");
			return CLI_FAIL;
		}
		printf("(exit 1: refused, for the reasons above)\n");
		if ((rc = run(cli, NULL, audit)) != 0 || (rc = run(cli, NULL, rep_html)) != 0 ||
		    (rc = run(cli, NULL, rep_json)) != 0)
			return rc;
		rc = run_captured(cli, replay, &alerts);
		if (rc != 0) {
			free(alerts);
			return rc;
		}
		count_alerts(alerts, &alert_counts);
		free(alerts);
	}
	{
		char *exp[] = {"export",
		               "--subject",
		               (char *)d.optout_subject,
		               "--reason",
		               "demo: legal hold request",
		               "-o",
		               bundle,
		               NULL};
		char *vb[] = {"verify-bundle", bundle, NULL};

		if ((rc = run(cli, NULL, exp)) != 0 || (rc = run(cli, NULL, vb)) != 0) {
			tally_free(&alert_counts);
			return rc;
		}
	}
	printf("\nAn outside expert checks the bundle without akashi (%s/VERIFY.md inside says\n"
	       "how, step by step):\n"
	       "  cd %s && unzip -o -q %s.zip && cd %s\n"
	       "  sha256sum -c MANIFEST.sha256          # every file as exported\n"
	       "  python3 verify.py                     # every entry proven in the signed log\n"
	       "  # the checkpoint's Ed25519 signature with openssl pkeyutl: VERIFY.md step 2\n",
	       top, dir, top, top);

	/* The summary, from the store itself. */
	if ((rc = cli_open_store(cli, EVIDENCE_READONLY, &st)) != 0 ||
	    (rc = evidence_scan(st, &(struct evidence_filter){0}, count_entry, &counts)) != 0 ||
	    (rc = evidence_checkpoint_latest(st, &cp)) != 0) {
		evidence_close(st);
		tally_free(&alert_counts);
		tally_free(&counts.kinds);
		tally_free(&counts.findings);
		return cli_error("demo", rc);
	}
	evidence_close(st);
	printf("\nakashi demo: done.\n\n");
	printf("  %-12s %s  (%lld entries)\n", "store", store, counts.total);
	print_tally("", &counts.kinds, "");
	printf("  %-12s size %lld, signed by demo.akashi.example/log\n", "checkpoint",
	       (long long)cp.size);
	print_tally("findings", &counts.findings, "none");
	print_tally("alerts", &alert_counts, "none would fire");
	printf("  %-12s %s\n  %-12s %s\n", "report", html, "", json);
	printf("  %-12s %s  (%s, verified)\n", "bundle", bundle, d.optout_subject);
	printf("  %-12s %s/\n", "samples", samples);
	p = store;
	self_command(ak, sizeof(ak));
	printf("\nExplore further:\n"
	       "  %s --store %s log --kind finding            # the findings, as recorded\n"
	       "  %s --store %s search --subject %s\n"
	       "  %s --store %s audit --quarter 2026Q3 --json --no-record\n"
	       "  %s --store %s policy show                   # the rules in force (git)\n"
	       "  %s --store %s checkpoints                   # signed tree heads\n"
	       "  %s --store %s prove 42                      # an inclusion proof\n"
	       "  %s --store %s key                           # the public key for auditors\n"
	       "  docs/EVIDENCE-FORMAT.md: check a checkpoint by hand with openssl\n",
	       ak, p, ak, p, d.optout_subject, ak, p, ak, p, ak, p, ak, p, ak, p);
	evidence_checkpoint_clear(&cp);
	tally_free(&alert_counts);
	tally_free(&counts.kinds);
	tally_free(&counts.findings);
	return CLI_OK;
}
