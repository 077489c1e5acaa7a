/*
 * bench/gen_quarter.c - a quarter (2026 Q3) of realistic native JSON
 * Lines for the audit, gate and report benchmarks: SENDS marketing sends
 * in campaigns of 100,000 to a pool of subjects, CONSENT consent records
 * (double opt-ins with their confirmations, some single opt-ins without
 * proof, opt-outs), ADMIN admin events (logins, password changes, role
 * grants, reviews, approvals). Events come in time order per kind; the
 * same arguments give the same file.
 * usage: gen_quarter SENDS CONSENT ADMIN > quarter.jsonl
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t s = 0x5DEECE66DULL;

static uint64_t rnd(void)
{
	s ^= s >> 12;
	s ^= s << 25;
	s ^= s >> 27;
	return s * 0x2545F4914F6CDD1DULL;
}

static void ts(char *out, long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

#define Q3 1782864000LL /* 2026-07-01T00:00:00Z */
#define QLEN (92LL * 86400)

int main(int argc, char **argv)
{
	long long sends = argc > 1 ? atoll(argv[1]) : 10000000, consent = argc > 2 ? atoll(argv[2]) : 1000000,
		  admin = argc > 3 ? atoll(argv[3]) : 100000, i;
	long long subjects = consent / 2 > 1 ? consent / 2 : 1;
	char t[32];

	/* Consent: two records per subject (opt-in, then confirm or opt-out)
	 * from 200 days before the quarter to its middle. */
	for (i = 0; i < consent; i++) {
		long long subj = i / 2, when = Q3 - 200LL * 86400 + (i * (246LL * 86400)) / consent;
		int k = (int)(subj % 100);

		ts(t, when);
		if (i % 2 == 0) {
			if (k < 95)
				printf("{\"kind\":\"consent\",\"time\":\"%s\",\"source\":\"api:crm\",\"body\":"
				       "{\"subject\":\"user%lld@example.org\",\"list\":\"newsletter\","
				       "\"action\":\"opt_in\",\"method\":\"double_opt_in\",\"proof\":{\"ip\":"
				       "\"198.51.100.%d\",\"form_url\":\"https://www.example.com/signup\"}}}\n",
				       t, subj, 1 + k);
			else
				printf("{\"kind\":\"consent\",\"time\":\"%s\",\"source\":\"csv:import\","
				       "\"body\":{\"subject\":\"user%lld@example.org\",\"list\":\"newsletter\","
				       "\"action\":\"opt_in\",\"method\":\"single_opt_in\"}}\n",
				       t, subj);
		} else if (k < 97) {
			printf("{\"kind\":\"consent\",\"time\":\"%s\",\"source\":\"api:crm\",\"body\":"
			       "{\"subject\":\"user%lld@example.org\",\"list\":\"newsletter\",\"action\":"
			       "\"confirm\",\"method\":\"double_opt_in\"}}\n",
			       t, subj);
		} else {
			printf("{\"kind\":\"consent\",\"time\":\"%s\",\"source\":\"web:unsubscribe\","
			       "\"body\":{\"subject\":\"user%lld@example.org\",\"list\":\"newsletter\","
			       "\"action\":\"opt_out\",\"method\":\"one_click\"}}\n",
			       t, subj);
		}
	}
	/* Sends: campaigns of 100,000, spread over the quarter. */
	for (i = 0; i < sends; i++) {
		long long camp = i / 100000, subj = (long long)(rnd() % (uint64_t)(subjects * 11 / 10));

		ts(t, Q3 + (i * QLEN) / sends);
		printf("{\"kind\":\"send\",\"time\":\"%s\",\"source\":\"mta:out\",\"body\":{\"campaign\":"
		       "\"q3-%04lld\",\"list\":\"newsletter\",\"stream\":\"marketing\",\"owner\":\"olga\","
		       "\"from\":\"news@example.com\",\"rcpt\":\"user%lld@example.org\",\"status\":\"%s\","
		       "\"message_id\":\"%lld@mail.example.com\"}}\n",
		       t, camp, subj, i % 500 == 7 ? "bounced" : "sent", i);
	}
	/* Admin: logins mostly, some changes, an approval per campaign. */
	for (i = 0; i < admin; i++) {
		int k = (int)(rnd() % 100);
		int who = (int)(rnd() % 200);

		ts(t, Q3 - 30LL * 86400 + (i * (QLEN + 30LL * 86400)) / admin);
		if (k < 85)
			printf("{\"kind\":\"admin\",\"time\":\"%s\",\"source\":\"sso\",\"body\":{\"actor\":"
			       "\"staff%d\",\"action\":\"%s\",\"ip\":\"192.0.2.%d\"}}\n",
			       t, who, k < 80 ? "login_success" : "login_failure", 1 + who % 250);
		else if (k < 92)
			printf("{\"kind\":\"admin\",\"time\":\"%s\",\"source\":\"sso\",\"body\":{\"actor\":"
			       "\"staff%d\",\"action\":\"password_change\",\"target\":\"staff%d\"}}\n",
			       t, who, who);
		else if (k < 95)
			printf("{\"kind\":\"admin\",\"time\":\"%s\",\"source\":\"iam\",\"body\":{\"actor\":"
			       "\"root\",\"action\":\"role_grant\",\"target\":\"staff%d\",\"role\":\"admin\"}}\n",
			       t, who);
		else if (k < 99)
			printf("{\"kind\":\"admin\",\"time\":\"%s\",\"source\":\"iam\",\"body\":{\"actor\":"
			       "\"auditor\",\"action\":\"access_review\",\"target\":\"staff%d\"}}\n",
			       t, who);
		else
			printf("{\"kind\":\"admin\",\"time\":\"%s\",\"source\":\"console\",\"body\":{\"actor\":"
			       "\"pat\",\"action\":\"approval\",\"campaign\":\"q3-%04lld\"}}\n",
			       t, (long long)(rnd() % (uint64_t)(sends / 100000 + 1)));
	}
	return 0;
}
