/*
 * bench/gen_quarter.c - one realistic quarter (2026Q3) of native JSON Lines
 * for the audit, gate and report benchmarks: SENDS send records in weekly campaigns of
 * 50,000, about SENDS/10 consent records (double opt-in and confirmation
 * before the quarter, 2 % opt-outs during it, a few opt-ins without proof),
 * about SENDS/100 admin events (logins, password changes, role grants,
 * reviews, campaign approvals), DMARC aggregate reports per day, and
 * alerts. Sends to an address after its opt-out are blocked by the gate
 * (status blocked, gate.reasons[]), as are sends to an address after it
 * bounced hard (one in 300 does, once), except one in a thousand, which
 * the audit then finds. The same SENDS and seed give the same lines.
 *
 * Subject i is u%07ld@ one of four domains (i % 4) on one of three lists
 * (i % 3); there are SENDS / 21 + 1 of them (bench/gate.c draws from them).
 *
 * usage: gen_quarter SENDS [SEED] > file.jsonl
 */
#include "bench/args.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t s = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
	s ^= s >> 12;
	s ^= s << 25;
	s ^= s >> 27;
	return s * 0x2545F4914F6CDD1DULL;
}

static long pick(long n)
{
	return (long)(rnd() % (uint64_t)n);
}

#define Q_START 1782864000LL /* 2026-07-01T00:00:00Z */
#define Q_LEN   (92LL * 86400)

static void ts(char out[32], long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *lists[] = {"newsletter", "ニュースレター", "product-updates"};
static const char *domains[] = {"example.com", "example.jp", "example.org", "example.net"};
static const char *admins[] = {"alice", "bob",    "carol",  "dave", "erin", "frank",
                               "grace", "tanaka", "suzuki", "sato", "ito",  "kato"};
#define NADMINS 12

int main(int argc, char **argv)
{
	long sends = argc > 1 ? (long)bench_arg(argv[1], "SENDS", 1, 1000000000) : 1000000;
	long subjects, i;
	long long *optout, *bounced;
	char t[32], t2[32];
	int *noproof;

	if (sends < 1) {
		fprintf(stderr, "usage: gen_quarter SENDS [SEED]\n");
		return 2;
	}
	subjects = sends / 21 + 1;
	if (argc > 2)
		s ^= (uint64_t)bench_arg(argv[2], "SEED", 0, 0x7fffffffffffffffLL);
	optout = calloc((size_t)subjects, sizeof(*optout));
	noproof = calloc((size_t)subjects, sizeof(*noproof));
	bounced = calloc((size_t)subjects, sizeof(*bounced));
	if (optout == NULL || noproof == NULL || bounced == NULL)
		return 1;
	/* consent: every subject opted in (double opt-in, confirmed) before
	 * the quarter; 1 in 2000 has no proof; 2 % opt out during it */
	for (i = 0; i < subjects; i++) {
		long long when = Q_START - 180 * 86400 + pick(170 * 86400);
		const char *list = lists[i % 3];

		ts(t, when);
		noproof[i] = pick(2000) == 0;
		if (noproof[i])
			printf("{\"kind\":\"consent\",\"time\":\"%s\",\"source\":\"csv:import\","
			       "\"body\":{\"subject\":\"u%07ld@%s\",\"list\":\"%s\",\"action\":"
			       "\"opt_in\",\"method\":\"import\"}}\n",
			       t, i, domains[i % 4], list);
		else
			printf("{\"kind\":\"consent\",\"time\":\"%s\",\"source\":\"api:crm\","
			       "\"body\":"
			       "{\"subject\":\"u%07ld@%s\",\"list\":\"%s\",\"action\":\"opt_in\","
			       "\"method\":\"double_opt_in\",\"proof\":{\"ip\":\"198.51.100.%ld\","
			       "\"user_agent\":\"Mozilla/5.0\",\"form_url\":"
			       "\"https://www.example.com/signup\"}}}\n",
			       t, i, domains[i % 4], list, 1 + i % 250);
		if (!noproof[i]) {
			ts(t2, when + 60 + pick(3600));
			printf("{\"kind\":\"consent\",\"time\":\"%s\",\"source\":\"api:crm\","
			       "\"body\":"
			       "{\"subject\":\"u%07ld@%s\",\"list\":\"%s\",\"action\":\"confirm\","
			       "\"method\":\"double_opt_in\",\"proof\":{\"confirmation_id\":\"c%"
			       "ld\"}}}"
			       "\n",
			       t2, i, domains[i % 4], list, i);
		}
		if (pick(50) == 0) {
			optout[i] = Q_START + pick(Q_LEN);
			ts(t2, optout[i]);
			printf("{\"kind\":\"consent\",\"time\":\"%s\",\"source\":\"web:"
			       "unsubscribe\","
			       "\"body\":{\"subject\":\"u%07ld@%s\",\"list\":\"%s\",\"action\":"
			       "\"opt_out\",\"method\":\"one_click\"}}\n",
			       t2, i, domains[i % 4], list);
		}
	}
	/* one address in 300 bounces hard once, at a time set in advance (so
	 * that later sends, in whatever order they are written, are blocked) */
	for (i = 0; i < subjects; i++)
		if (pick(300) == 0) {
			bounced[i] = Q_START + pick(Q_LEN);
			ts(t, bounced[i]);
			printf("{\"kind\":\"send\",\"time\":\"%s\",\"source\":\"mta:out0\","
			       "\"body\":{"
			       "\"message_id\":\"<b%ld@mail.example.com>\",\"campaign\":"
			       "\"receipts\","
			       "\"list\":\"%s\",\"stream\":\"transactional\",\"from\":"
			       "\"shop@example.com\",\"rcpt\":\"u%07ld@%s\",\"status\":\"bounced\","
			       "\"dsn\":\"5.1.1\"}}\n",
			       t, i, lists[i % 3], i, domains[i % 4]);
		}
	/* sends: campaigns of 50,000 recipients, one list each, spread over
	 * the quarter; each approved by a second person the day before,
	 * except every tenth */
	for (i = 0; i < sends; i++) {
		long camp = i / 50000, subj = pick(subjects / 3) * 3 + camp % 3;
		long long start = Q_START + (camp * 7 * 86400) % (Q_LEN - 2 * 86400);
		long long when = start + pick(86400);
		int k = (int)pick(1000);
		const char *status = k < 977 ? "sent" : "deferred";
		const char *policy = NULL, *control = NULL;

		if (subj >= subjects)
			subj = camp % 3;
		if (i % 50000 == 0 && camp % 10 != 9) {
			ts(t, start - 86400);
			printf("{\"kind\":\"admin\",\"time\":\"%s\",\"source\":\"console\","
			       "\"body\":"
			       "{\"actor\":\"%s\",\"action\":\"approval\",\"campaign\":\"c%05ld\","
			       "\"target\":\"c%05ld\"}}\n",
			       t, admins[1 + camp % (NADMINS - 1)], camp, camp);
		}
		ts(t, when);
		if (optout[subj] && optout[subj] < when) {
			policy = "consent-unsubscribe-deadline";
			control = "consent.unsubscribe_deadline";
		} else if (bounced[subj] && bounced[subj] < when) {
			policy = "send-suppression";
			control = "send.suppression";
		}
		if (policy && pick(1000) != 0) {
			printf("{\"kind\":\"send\",\"time\":\"%s\",\"source\":\"akashi:gate\","
			       "\"body\":"
			       "{\"message_id\":\"<%ld@mail.example.com>\",\"campaign\":\"c%05ld\","
			       "\"list\":\"%s\",\"stream\":\"marketing\",\"from\":\"news@example."
			       "com\","
			       "\"rcpt\":\"u%07ld@%s\",\"status\":\"blocked\",\"owner\":\"alice\","
			       "\"gate\":{\"decision\":\"deny\",\"policy_commit\":\"bench\","
			       "\"reasons\":[{\"policy\":\"%s\",\"control\":\"%s\",\"detail\":"
			       "\"refused by the gate\"}]}}}\n",
			       t, i, camp, lists[subj % 3], subj, domains[subj % 4], policy,
			       control);
			continue;
		}
		printf("{\"kind\":\"send\",\"time\":\"%s\",\"source\":\"mta:out%d\",\"body\":{"
		       "\"message_id\":\"<%ld@mail.example.com>\",\"campaign\":\"c%05ld\",\"list\":"
		       "\"%s\",\"stream\":\"marketing\",\"from\":\"news@example.com\",\"rcpt\":"
		       "\"u%07ld@%s\",\"status\":\"%s\",\"owner\":\"alice\",\"dsn\":\"%s\"}}\n",
		       t, k % 4, i, camp, lists[subj % 3], subj, domains[subj % 4], status,
		       status[0] == 's' ? "2.0.0" : "4.4.1");
	}
	/* admin: logins, password changes, reviews; admin roles granted long ago */
	for (i = 0; i < NADMINS; i++) {
		ts(t, Q_START - 400 * 86400 + i * 86400);
		printf("{\"kind\":\"admin\",\"time\":\"%s\",\"source\":\"iam\",\"body\":{\"actor\":"
		       "\"root\",\"action\":\"role_grant\",\"target\":\"%s\",\"role\":\"%s\"}}\n",
		       t, admins[i], i < 5 ? "admin" : "operator");
	}
	for (i = 0; i < sends / 100; i++) {
		long w = pick(NADMINS);
		const char *who = admins[w];
		int k = (int)pick(1000);

		ts(t, Q_START + pick(Q_LEN));
		if (k < 985)
			printf("{\"kind\":\"admin\",\"time\":\"%s\",\"source\":\"sso\",\"body\":{"
			       "\"actor\":\"%s\",\"action\":\"%s\",\"ip\":\"192.0.2.%ld\","
			       "\"result\":"
			       "\"%s\"}}\n",
			       t, who, k < 950 ? "login_success" : "login_failure", 1 + pick(50),
			       k < 950 ? "success" : "failure");
		else if (k < 995)
			printf("{\"kind\":\"admin\",\"time\":\"%s\",\"source\":\"sso\",\"body\":{"
			       "\"actor\":\"%s\",\"action\":\"password_change\",\"target\":\"%s\"}}"
			       "\n",
			       t, who, who);
		else
			printf("{\"kind\":\"admin\",\"time\":\"%s\",\"source\":\"iam\",\"body\":{"
			       "\"actor\":\"%s\",\"action\":\"access_review\",\"target\":\"%s\"}}"
			       "\n",
			       t, admins[(w + 1 + pick(NADMINS - 1)) % NADMINS], who);
	}
	/* DMARC: one report a day from each of four receivers, per domain */
	for (i = 0; i < 92 * 8; i++) {
		long long day = Q_START + (i / 8) * 86400;
		long pass = 20000 + pick(20000), fail = pick(i % 8 == 5 ? 2000 : 300);

		ts(t, day);
		ts(t2, day + 86399);
		printf("{\"kind\":\"dmarc\",\"time\":\"%s\",\"source\":\"dmarc\",\"body\":{"
		       "\"org_name\":\"receiver%ld.example\",\"report_id\":\"r%ld\",\"begin\":\"%"
		       "s\","
		       "\"end\":\"%s\",\"policy\":{\"domain\":\"%s\",\"p\":\"reject\"},\"rows\":["
		       "{\"source_ip\":\"203.0.113.10\",\"count\":%ld,\"dkim\":\"pass\",\"spf\":"
		       "\"pass\"},{\"source_ip\":\"198.51.100.%ld\",\"count\":%ld,\"dkim\":"
		       "\"fail\","
		       "\"spf\":\"fail\"}]}}\n",
		       t, i % 4, i, t, t2, domains[(i / 4) % 2], pass, 1 + pick(20), fail);
	}
	/* alerts */
	for (i = 0; i < 200; i++) {
		static const char *rules[] = {"login.bruteforce_src", "login.spray",
		                              "login.new_address", "send.mass"};

		ts(t, Q_START + pick(Q_LEN));
		printf("{\"kind\":\"alert\",\"time\":\"%s\",\"source\":\"akashi:alerts\",\"body\":{"
		       "\"rule\":\"%s\",\"severity\":\"%s\",\"summary\":\"alert "
		       "%ld\",\"refs\":[1]}}\n",
		       t, rules[i % 4], i % 4 == 0 ? "high" : "medium", i);
	}
	free(optout);
	free(noproof);
	free(bounced);
	return 0;
}
