/*
 * bench/gen.c - N native JSON Lines making entries of about 300 bytes, a realistic
 * mix (80 % send, 10 % consent, 8 % admin, 2 % system) in time order, the
 * same for a given N and seed. usage: gen N [SEED] > file.jsonl
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

int main(int argc, char **argv)
{
	long n = argc > 1 ? (long)bench_arg(argv[1], "N", 0, 1000000000) : 1000000, i;
	long long t0 = 1782864000; /* 2026-07-01 */

	if (argc > 2)
		s ^= (uint64_t)bench_arg(argv[2], "SEED", 0, 0x7fffffffffffffffLL);
	for (i = 0; i < n; i++) {
		long long t = t0 + i / 10;
		int k = (int)(rnd() % 100);
		unsigned u = (unsigned)(rnd() % 2000000);
		char ts[32];
		time_t tt = (time_t)t;
		struct tm tm;

		gmtime_r(&tt, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (k < 80)
			printf("{\"kind\":\"send\",\"time\":\"%s\",\"source\":\"mta:out%d\",\"body\":{"
			       "\"message_id\":\"<%ld.%u@mail.example.com>\",\"campaign\":\"autumn-%03d\","
			       "\"stream\":\"marketing\",\"from\":\"news@example.com\",\"rcpt\":"
			       "\"user%u@example.org\",\"status\":\"sent\",\"dsn\":\"2.0.0\"}}\n",
			       ts, k % 4, i, u, (int)(i / 20000), u);
		else if (k < 90)
			printf("{\"kind\":\"consent\",\"time\":\"%s\",\"source\":\"api:crm\",\"body\":{"
			       "\"subject\":\"user%u@example.org\",\"list\":\"newsletter\",\"action\":"
			       "\"opt_in\",\"method\":\"double_opt_in\",\"proof\":{\"ip\":"
			       "\"198.51.100.%d\",\"form_url\":\"https://www.example.com/signup\"}}}\n",
			       ts, u, 1 + k);
		else if (k < 98)
			printf("{\"kind\":\"admin\",\"time\":\"%s\",\"source\":\"sso:okta\",\"body\":{"
			       "\"actor\":\"admin%u\",\"action\":\"%s\",\"ip\":\"203.0.113.%d\","
			       "\"result\":\"%s\",\"details\":{\"mfa\":true,\"agent\":\"console\"}}}\n",
			       ts, u % 50, k < 96 ? "login_success" : "login_failure", 1 + k,
			       k < 96 ? "success" : "failure");
		else
			printf("{\"kind\":\"system\",\"time\":\"%s\",\"source\":\"akashi\",\"body\":{"
			       "\"event\":\"heartbeat\",\"detail\":\"%ld entries so far, %u in queue, "
			       "all healthy\"}}\n",
			       ts, i, u);
	}
	return 0;
}
