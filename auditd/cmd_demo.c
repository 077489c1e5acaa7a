/*
 * auditd/cmd_demo.c - `akashi demo`: make a store under a directory of the
 * build, fill it from generated sample data of every kind through the same
 * ingest path as `akashi ingest`, sign a checkpoint, verify, search, and
 * say where everything is. The data is made by a fixed-seed generator, so
 * every run makes the same records (their received times differ).
 */
#include "auditd/cli.h"

#include "lib/error.h"
#include "lib/timefmt.h"

#define _XOPEN_SOURCE_EXTENDED 1
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static int pick(int n)
{
	return (int)(rnd() % (uint64_t)n);
}

/* Q3 2026: 2026-07-01 .. 2026-10-01, the demo's quarter. */
#define Q_START INT64_C(1782864000)
#define Q_LEN (INT64_C(92) * 86400)

static void ts(char out[AK_TIME_MAX], int64_t sec)
{
	ak_time_format(out, sec * 1000000, AK_TIME_SECONDS);
}

static const char *lists[] = {"newsletter", "ニュースレター", "product-updates"};
static const char *domains[] = {"example.com", "example.org", "example.jp", "mail.example.net"};
static const char *admins[] = {"alice", "bob", "carol", "dave", "erin", "tanaka", "suzuki"};

static void subject(char *out, size_t cap, int i)
{
	snprintf(out, cap, "user%04d@%s", i, domains[i % 4]);
}

static int write_consent(FILE *f, int n)
{
	char t[AK_TIME_MAX], t2[AK_TIME_MAX], s[64];
	int i;

	for (i = 0; i < n; i++) {
		int64_t when = Q_START - 30 * 86400 + pick((int)(Q_LEN / 2));
		const char *list = lists[i % 3];

		subject(s, sizeof(s), i);
		ts(t, when);
		if (i % 10 == 9) {
			/* single opt-in with nothing to show for it: flagged */
			fprintf(f, "{\"kind\":\"consent\",\"time\":\"%s\",\"source\":\"csv:signup\","
				   "\"body\":{\"subject\":\"%s\",\"list\":\"%s\",\"action\":\"opt_in\","
				   "\"method\":\"single_opt_in\"}}\n",
				t, s, list);
			continue;
		}
		fprintf(f, "{\"kind\":\"consent\",\"time\":\"%s\",\"source\":\"api:crm\",\"body\":"
			   "{\"subject\":\"%s\",\"list\":\"%s\",\"action\":\"opt_in\",\"method\":"
			   "\"double_opt_in\",\"proof\":{\"ip\":\"198.51.100.%d\",\"user_agent\":"
			   "\"Mozilla/5.0\",\"form_url\":\"https://www.example.com/signup\","
			   "\"form_hash\":\"sha256:%016llx\"}}}\n",
			t, s, list, 1 + i % 250, (unsigned long long)rnd());
		ts(t2, when + 60 + pick(3600));
		fprintf(f, "{\"kind\":\"consent\",\"time\":\"%s\",\"source\":\"api:crm\",\"body\":"
			   "{\"subject\":\"%s\",\"list\":\"%s\",\"action\":\"confirm\",\"method\":"
			   "\"double_opt_in\",\"proof\":{\"confirmation_id\":\"c-%d\"}}}\n",
			t2, s, list, i);
		if (i % 17 == 0) {
			ts(t2, when + 20 * 86400 + pick(30 * 86400));
			fprintf(f, "{\"kind\":\"consent\",\"time\":\"%s\",\"source\":\"web:unsubscribe\","
				   "\"body\":{\"subject\":\"%s\",\"list\":\"%s\",\"action\":"
				   "\"opt_out\",\"method\":\"one_click\"}}\n",
				t2, s, list);
		}
	}
	return ferror(f) ? -1 : 0;
}

static int write_send(FILE *f, int n, int subjects)
{
	static const char *status[] = {"sent", "sent", "sent", "sent", "sent", "sent",
				       "sent", "deferred", "bounced", "sent"};
	char t[AK_TIME_MAX], s[64];
	int i;

	for (i = 0; i < n; i++) {
		int who = pick(subjects), camp = i / 250;
		int marketing = camp % 4 != 3;

		subject(s, sizeof(s), who);
		ts(t, Q_START + (int64_t)camp * 7 * 86400 + pick(86400));
		fprintf(f, "{\"kind\":\"send\",\"time\":\"%s\",\"source\":\"mta:out1\",\"body\":"
			   "{\"message_id\":\"<%d.%d@mail.example.com>\",\"campaign\":\"%s-%02d\","
			   "\"list\":\"%s\",\"stream\":\"%s\",\"from\":\"news@example.com\","
			   "\"rcpt\":\"%s\",\"status\":\"%s\",\"dsn\":\"%s\",\"relay\":"
			   "\"mx.%s[203.0.113.%d]:25\"}}\n",
			t, camp, i, marketing ? "autumn-sale" : "receipts", camp, lists[who % 3],
			marketing ? "marketing" : "transactional", s, status[i % 10],
			status[i % 10][0] == 'b' ? "5.1.1" : status[i % 10][0] == 'd' ? "4.2.0" : "2.0.0",
			domains[who % 4], 1 + pick(250));
	}
	return ferror(f) ? -1 : 0;
}

static int write_admin(FILE *f, int n)
{
	char t[AK_TIME_MAX];
	int i;

	for (i = 0; i < n; i++) {
		const char *who = admins[pick(7)];
		int64_t when = Q_START + pick((int)Q_LEN);
		int k = pick(20);

		ts(t, when);
		if (k < 12)
			fprintf(f, "{\"kind\":\"admin\",\"time\":\"%s\",\"source\":\"sso:okta\","
				   "\"body\":{\"actor\":\"%s\",\"action\":\"%s\",\"ip\":\"192.0.2.%d\","
				   "\"result\":\"%s\"}}\n",
				t, who, k < 10 ? "login_success" : "login_failure", 1 + pick(20),
				k < 10 ? "success" : "failure");
		else if (k < 14)
			fprintf(f, "{\"kind\":\"admin\",\"time\":\"%s\",\"source\":\"sso:okta\","
				   "\"body\":{\"actor\":\"%s\",\"action\":\"password_change\","
				   "\"target\":\"%s\"}}\n",
				t, who, who);
		else if (k < 16)
			fprintf(f, "{\"kind\":\"admin\",\"time\":\"%s\",\"source\":\"iam\",\"body\":"
				   "{\"actor\":\"alice\",\"action\":\"access_review\",\"target\":\"%s\","
				   "\"role\":\"admin\",\"details\":{\"decision\":\"keep\"}}}\n",
				t, who);
		else if (k < 17)
			fprintf(f, "{\"kind\":\"admin\",\"time\":\"%s\",\"source\":\"iam\",\"body\":"
				   "{\"actor\":\"alice\",\"action\":\"role_grant\",\"target\":\"%s\","
				   "\"role\":\"admin\"}}\n",
				t, who);
		else
			fprintf(f, "{\"kind\":\"admin\",\"time\":\"%s\",\"source\":\"console\","
				   "\"body\":{\"actor\":\"%s\",\"action\":\"approval\",\"campaign\":"
				   "\"autumn-sale-%02d\",\"target\":\"autumn-sale-%02d\"}}\n",
				t, who, i % 12, i % 12);
	}
	/* a burst of failures from one address: what brute force looks like */
	for (i = 0; i < 12; i++) {
		ts(t, Q_START + 40 * 86400 + 3 * 3600 + i * 7);
		fprintf(f, "{\"kind\":\"admin\",\"time\":\"%s\",\"source\":\"sso:okta\",\"body\":"
			   "{\"actor\":\"tanaka\",\"action\":\"login_failure\",\"ip\":"
			   "\"203.0.113.66\",\"result\":\"failure\"}}\n",
			t);
	}
	return ferror(f) ? -1 : 0;
}

static int write_dmarc(FILE *f, int n)
{
	static const char *orgs[] = {"google.com", "Yahoo", "Outlook.com", "Mail.Ru"};
	char b[AK_TIME_MAX], e[AK_TIME_MAX];
	int i;

	for (i = 0; i < n; i++) {
		int64_t day = Q_START + (int64_t)i * 4 * 86400;
		int pass = 900 + pick(100), fail = pick(30);

		ts(b, day);
		ts(e, day + 86399);
		fprintf(f, "{\"kind\":\"dmarc\",\"time\":\"%s\",\"source\":\"dmarc:%s\",\"body\":"
			   "{\"org_name\":\"%s\",\"email\":\"noreply-dmarc@%s\",\"report_id\":\"%d%06d\","
			   "\"begin\":\"%s\",\"end\":\"%s\",\"policy\":{\"domain\":\"example.com\","
			   "\"adkim\":\"r\",\"aspf\":\"r\",\"p\":\"quarantine\",\"pct\":100},\"rows\":["
			   "{\"source_ip\":\"203.0.113.10\",\"count\":%d,\"disposition\":\"none\","
			   "\"dkim\":\"pass\",\"spf\":\"pass\",\"header_from\":\"example.com\","
			   "\"auth\":{\"dkim\":[{\"domain\":\"example.com\",\"selector\":\"s1\","
			   "\"result\":\"pass\"}],\"spf\":[{\"domain\":\"example.com\",\"result\":"
			   "\"pass\"}]}},{\"source_ip\":\"198.51.100.77\",\"count\":%d,"
			   "\"disposition\":\"quarantine\",\"dkim\":\"fail\",\"spf\":\"fail\","
			   "\"header_from\":\"example.com\",\"auth\":{\"dkim\":[],\"spf\":[{\"domain\":"
			   "\"spoof.example\",\"result\":\"fail\"}]}}]}}\n",
			b, orgs[i % 4], orgs[i % 4], "example.net", i, pick(1000000), b, e, pass, fail);
	}
	return ferror(f) ? -1 : 0;
}

static int write_misc(FILE *f)
{
	char t[AK_TIME_MAX];

	ts(t, Q_START + 2 * 3600);
	fprintf(f, "{\"kind\":\"system\",\"time\":\"%s\",\"source\":\"akashi\",\"body\":{\"event\":"
		   "\"policy_load\",\"detail\":\"demo policies\"}}\n",
		t);
	ts(t, Q_START + 40 * 86400 + 3 * 3600 + 90);
	fprintf(f, "{\"kind\":\"alert\",\"time\":\"%s\",\"source\":\"akashi:alerts\",\"body\":"
		   "{\"rule\":\"login.bruteforce_src\",\"severity\":\"high\",\"summary\":"
		   "\"12 failed logins from 203.0.113.66 in 77 s\",\"refs\":[1],\"window\":"
		   "{\"from\":\"%s\",\"to\":\"%s\"}}}\n",
		t, t, t);
	ts(t, Q_START + Q_LEN - 3600);
	fprintf(f, "{\"kind\":\"finding\",\"time\":\"%s\",\"source\":\"akashi:audit\",\"body\":"
		   "{\"policy_id\":\"consent-optin-proof\",\"policy_commit\":\"demo\",\"period\":"
		   "{\"from\":\"2026-07-01T00:00:00Z\",\"to\":\"2026-10-01T00:00:00Z\"},"
		   "\"refs\":[2],\"detail\":\"demo finding: opt-in without proof\"}}\n",
		t);
	return ferror(f) ? -1 : 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int run(struct cli *cli, const char *name, int argc, char **argv)
{
	const struct cli_command *c = cli_find(name);

	optind = 1;
	printf("\n$ akashi %s", name);
	for (int i = 1; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");
	fflush(stdout);
	return c->run(cli, argc, argv);
}

int cmd_demo(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS,
					     {"dir", required_argument, NULL, 'd'},
					     {NULL, 0, NULL, 0}};
	const char *dir = "build/demo";
	char store[4096], samples[4096], path[4200], dbpath[4200], report[4200];
	static const char *files[] = {"consent", "send", "admin", "dmarc", "misc"};
	FILE *f;
	int c, rc, i;

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
	snprintf(report, sizeof(report), "%s/report-2026Q3.html", dir);
	snprintf(dbpath, sizeof(dbpath), "%s/%s", store, EVIDENCE_DB_FILE);
	/* Only ever remove a store this command made before. */
	if (access(dbpath, F_OK) == 0) {
		snprintf(path, sizeof(path), "%s/.demo", store);
		if (access(path, F_OK) != 0) {
			fprintf(stderr, "akashi: demo: %s holds a store the demo did not make; "
					"refusing to replace it\n",
				store);
			return CLI_FAIL;
		}
		nftw(store, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	if ((mkdir(dir, 0755) != 0 && errno != EEXIST) ||
	    (mkdir(samples, 0755) != 0 && errno != EEXIST)) {
		fprintf(stderr, "akashi: demo: %s: %s\n", dir, strerror(errno));
		return CLI_FAIL;
	}
	printf("akashi demo: generated sample data of every kind in %s/\n", samples);
	for (i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/%s.jsonl", samples, files[i]);
		f = fopen(path, "w");
		if (f == NULL) {
			fprintf(stderr, "akashi: demo: %s: %s\n", path, strerror(errno));
			return CLI_FAIL;
		}
		rc = i == 0 ? write_consent(f, 800)
		   : i == 1 ? write_send(f, 3000, 800)
		   : i == 2 ? write_admin(f, 600)
		   : i == 3 ? write_dmarc(f, 23)
			    : write_misc(f);
		if (fclose(f) != 0 || rc != 0) {
			fprintf(stderr, "akashi: demo: %s: write failed\n", path);
			return CLI_FAIL;
		}
	}
	cli->store_opt = store;
	cli->configured = 0;
	{
		char *a_init[] = {"init", "--origin", "demo.akashi.example/log", NULL};
		char p0[4200], p1[4200], p2[4200], p3[4200], p4[4200];
		char *a_ingest[] = {"ingest", p0, p1, p2, p3, p4, NULL};
		char *a_cp[] = {"checkpoint", NULL};
		char *a_verify[] = {"verify", NULL};
		char *a_search[] = {"search", "--limit", "3", "ニュースレター", NULL};
		char *a_search2[] = {"search", "--kind", "admin", "--limit", "2", "203.0.113.66", NULL};
		char *a_report[] = {"report", "--quarter", "2026Q3", "--format", "html", "-o", report,
				    NULL};

		snprintf(p0, sizeof(p0), "%s/consent.jsonl", samples);
		snprintf(p1, sizeof(p1), "%s/send.jsonl", samples);
		snprintf(p2, sizeof(p2), "%s/admin.jsonl", samples);
		snprintf(p3, sizeof(p3), "%s/dmarc.jsonl", samples);
		snprintf(p4, sizeof(p4), "%s/misc.jsonl", samples);
		if ((rc = run(cli, "init", 3, a_init)) != 0)
			return rc;
		snprintf(path, sizeof(path), "%s/.demo", store);
		f = fopen(path, "w");
		if (f)
			fclose(f);
		if ((rc = run(cli, "ingest", 6, a_ingest)) != 0 ||
		    (rc = run(cli, "checkpoint", 1, a_cp)) != 0 ||
		    (rc = run(cli, "verify", 1, a_verify)) != 0 ||
		    (rc = run(cli, "search", 4, a_search)) != 0 ||
		    (rc = run(cli, "search", 6, a_search2)) != 0 ||
		    (rc = run(cli, "report", 7, a_report)) != 0)
			return rc;
	}
	printf("\nakashi demo: done.\n"
	       "  store       %s  (akashi --store %s log | verify | checkpoints | prove SEQ)\n"
	       "  samples     %s/*.jsonl\n"
	       "  report      %s  (the quarterly report; docs/REPORTS.md)\n"
	       "  public key  akashi --store %s key\n"
	       "  the format  docs/EVIDENCE-FORMAT.md (check a checkpoint with openssl by hand)\n",
	       store, store, samples, report, store);
	return CLI_OK;
}
