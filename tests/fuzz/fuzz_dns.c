/*
 * tests/fuzz/fuzz_dns.c - libFuzzer target for the DNS answers the
 * delivery engine reads (auditd/delivery/resolve.c): whatever a resolver,
 * or someone spoofing one, sends back for an MX, A or AAAA query.
 *
 * The bytes are one answer in wire format. Checks what the readers
 * promise: at most cap MX hosts, each a NUL-terminated name within its
 * buffer with a 16-bit preference; at most 20 addresses, each an IPv4 or
 * IPv6 socket address of the right length with the asked-for port and
 * the host's name.
 */
#include "auditd/delivery/delivery_int.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_mx mx[10];
	struct smtp_route r;
	int n, i;
	size_t k;

	if (size > 65535)
		return 0; /* a DNS message is at most 64 KiB */
	n = smtp_mx_answer(data, (int)size, mx, 10);
	if (n > 10)
		abort();
	for (i = 0; i < n; i++)
		if (mx[i].pref < 0 || mx[i].pref > 65535 ||
		    memchr(mx[i].host, '\0', sizeof(mx[i].host)) == NULL)
			abort();

	memset(&r, 0, sizeof(r));
	if (smtp_addr_answer(data, (int)size, "mx.example", 2525, &r) != 0)
		abort(); /* only out of memory fails */
	if (smtp_addr_answer(data, (int)size, "mx.example", 2525, &r) != 0 || r.naddrs > 20)
		abort(); /* twice: the cap holds across answers */
	for (k = 0; k < r.naddrs; k++) {
		const struct smtp_addr *a = &r.addrs[k];

		if (strcmp(a->host, "mx.example") != 0)
			abort();
		if (a->sa.ss_family == AF_INET) {
			if (a->salen != sizeof(struct sockaddr_in) ||
			    ntohs(((const struct sockaddr_in *)&a->sa)->sin_port) != 2525)
				abort();
		} else if (a->sa.ss_family == AF_INET6) {
			if (a->salen != sizeof(struct sockaddr_in6) ||
			    ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port) != 2525)
				abort();
		} else {
			abort();
		}
	}
	smtp_route_clear(&r);
	return 0;
}
