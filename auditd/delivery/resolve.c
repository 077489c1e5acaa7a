/*
 * auditd/delivery/resolve.c - where mail for a domain goes: the relay's
 * addresses, or the domain's MX hosts by preference, falling back to its
 * own A/AAAA records when it has no MX (RFC 5321 5.1); hosts of equal
 * preference are tried in random order. A null MX (RFC 7505) or a domain
 * that does not exist is a permanent failure; a DNS server that does not
 * answer is a temporary one.
 *
 * Blocking by design: it runs on the SMTP client's resolver thread, never
 * on the event loop. Lookups use glibc's res_nquery with a private
 * resolver state (so dns_server can point tests at their own server).
 *
 * SECURITY: DNS answers are outside input. They are read with the
 * resolver's own bounds-checked parser (ns_initparse/ns_parserr,
 * dn_expand); at most MAX_MX hosts and MAX_ADDRS addresses are kept.
 */
#include "auditd/delivery/delivery_int.h"

#include "lib/error.h"
#include "lib/hostport.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MX    10
#define MAX_ADDRS 20

void smtp_route_clear(struct smtp_route *r)
{
	free(r->addrs);
	memset(r, 0, sizeof(*r));
}

static int add_addr(struct smtp_route *r, const char *host, const struct sockaddr *sa,
                    socklen_t len)
{
	struct smtp_addr *a;

	if (r->naddrs >= MAX_ADDRS)
		return 0;
	a = realloc(r->addrs, (r->naddrs + 1) * sizeof(*a));
	if (a == NULL)
		return ak_error_oom();
	r->addrs = a;
	a = &r->addrs[r->naddrs++];
	memset(a, 0, sizeof(*a));
	snprintf(a->host, sizeof(a->host), "%s", host);
	memcpy(&a->sa, sa, len);
	a->salen = len;
	return 0;
}

static int set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	return 0;
}

static int resolve_relay(const char *relay, struct smtp_route *out)
{
	char host[256], port[16];
	struct addrinfo hints, *res = NULL, *ai;
	int rc = 0, e, pn;

	if (ak_hostport_split(relay, host, sizeof(host), 25, &pn) != 0 || pn == 0)
		return ak_error_code(AK_EINVALID, "relay '%s': expected host, host:port or [host]:port",
		                     relay);
	snprintf(port, sizeof(port), "%d", pn);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		out->status = SMTP_DEFERRED;
		snprintf(out->why, sizeof(out->why), "4.4.3 cannot resolve relay %s: %s", host,
		         gai_strerror(e));
		return 0;
	}
	for (ai = res; ai && rc == 0; ai = ai->ai_next)
		rc = add_addr(out, host, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(res);
	return rc;
}

/* The answer's length, or -1 with *herr (h_errno's codes). The resolver
 * may give the length of an answer larger than ans, of which only the
 * first cap bytes are there: no more is read. */
static int query(res_state rs, const char *name, int type, unsigned char *ans, int cap, int *herr)
{
	int n = res_nquery(rs, name, ns_c_in, type, ans, cap);

	*herr = n < 0 ? rs->res_h_errno : 0;
	return n > cap ? cap : n;
}

int smtp_addr_answer(const unsigned char *ans, int len, const char *host, int port,
                     struct smtp_route *out)
{
	ns_msg m;
	int i, rc = 0;

	if (len < 0 || ns_initparse(ans, len, &m) != 0)
		return 0;
	for (i = 0; i < ns_msg_count(m, ns_s_an) && rc == 0; i++) {
		ns_rr rr;
		struct sockaddr_storage ss;

		if (ns_parserr(&m, ns_s_an, i, &rr) != 0)
			break;
		memset(&ss, 0, sizeof(ss));
		if (ns_rr_type(rr) == ns_t_a && ns_rr_rdlen(rr) == 4) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, ns_rr_rdata(rr), 4);
			set_port(&ss, port);
			rc = add_addr(out, host, (struct sockaddr *)&ss, sizeof(*sin));
		} else if (ns_rr_type(rr) == ns_t_aaaa && ns_rr_rdlen(rr) == 16) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

			sin6->sin6_family = AF_INET6;
			memcpy(&sin6->sin6_addr, ns_rr_rdata(rr), 16);
			set_port(&ss, port);
			rc = add_addr(out, host, (struct sockaddr *)&ss, sizeof(*sin6));
		}
	}
	return rc;
}

/* The A and AAAA addresses of host, added to out. */
static int host_addrs(res_state rs, const char *host, int port, struct smtp_route *out)
{
	static const int types[] = {ns_t_a, ns_t_aaaa};
	unsigned char ans[4096];
	size_t t;
	int rc = 0;

	for (t = 0; t < 2 && rc == 0; t++) {
		int herr, n = query(rs, host, types[t], ans, sizeof(ans), &herr);

		if (n >= 0)
			rc = smtp_addr_answer(ans, n, host, port, out);
	}
	return rc;
}

int smtp_mx_answer(const unsigned char *ans, int len, struct smtp_mx *mx, size_t cap)
{
	ns_msg m;
	size_t nmx = 0;
	int n, j;

	if (len < 0 || ns_initparse(ans, len, &m) != 0)
		return -1;
	n = ns_msg_count(m, ns_s_an);
	for (j = 0; j < n && nmx < cap; j++) {
		ns_rr rr;

		if (ns_parserr(&m, ns_s_an, j, &rr) != 0)
			break;
		if (ns_rr_type(rr) != ns_t_mx || ns_rr_rdlen(rr) < 3)
			continue;
		mx[nmx].pref = ns_get16(ns_rr_rdata(rr));
		if (dn_expand(ns_msg_base(m), ns_msg_end(m), ns_rr_rdata(rr) + 2, mx[nmx].host,
		              sizeof(mx[nmx].host)) < 0)
			continue;
		nmx++;
	}
	return (int)nmx;
}

static int cmp_mx(const void *a, const void *b)
{
	const struct smtp_mx *x = a, *y = b;

	return x->pref - y->pref;
}

void smtp_mx_order(struct smtp_mx *mx, size_t n)
{
	size_t a, b, i;

	qsort(mx, n, sizeof(mx[0]), cmp_mx);

	for (a = 0; a < n; a = b) {
		for (b = a + 1; b < n && mx[b].pref == mx[a].pref; b++)
			;
		for (i = b - 1; i > a; i--) {
			size_t j = a + arc4random_uniform((uint32_t)(i - a + 1));
			struct smtp_mx t = mx[i];

			mx[i] = mx[j];
			mx[j] = t;
		}
	}
}

static int resolve_mx(const char *domain, int port, const char *dns_server, struct smtp_route *out)
{
	struct __res_state rs;
	unsigned char ans[8192];
	struct smtp_mx mx[MAX_MX];
	size_t nmx = 0, i;
	int herr, n, rc = 0;

	memset(&rs, 0, sizeof(rs));
	if (res_ninit(&rs) != 0) {
		out->status = SMTP_DEFERRED;
		snprintf(out->why, sizeof(out->why), "4.4.3 the resolver could not start");
		return 0;
	}
	if (dns_server && *dns_server) {
		char ip[64];
		int dport;

		if (ak_hostport_split(dns_server, ip, sizeof(ip), 53, &dport) != 0 || dport == 0) {
			res_nclose(&rs);
			return ak_error_code(AK_EINVALID, "dns server '%s': expected IP or IP:PORT",
			                     dns_server);
		}
		rs.nscount = 1;
		memset(&rs.nsaddr_list[0], 0, sizeof(rs.nsaddr_list[0]));
		rs.nsaddr_list[0].sin_family = AF_INET;
		rs.nsaddr_list[0].sin_port = htons((uint16_t)dport);
		if (inet_pton(AF_INET, ip, &rs.nsaddr_list[0].sin_addr) != 1) {
			res_nclose(&rs);
			return ak_error_code(AK_EINVALID, "dns server '%s': not an IPv4 address",
			                     dns_server);
		}
	}
	if ((n = query(&rs, domain, ns_t_mx, ans, sizeof(ans), &herr)) >= 0 &&
	    (n = smtp_mx_answer(ans, n, mx, MAX_MX)) < 0)
		herr = NO_RECOVERY; /* an answer that does not parse */
	if (n < 0) {
		if (herr == HOST_NOT_FOUND) {
			out->status = SMTP_BOUNCED;
			snprintf(out->why, sizeof(out->why), "5.1.2 the domain %s does not exist",
			         domain);
			goto done;
		}
		if (herr != NO_DATA) {
			out->status = SMTP_DEFERRED;
			snprintf(out->why, sizeof(out->why), "4.4.3 DNS lookup of MX %s failed",
			         domain);
			goto done;
		}
	} else {
		nmx = (size_t)n;
	}
	if (nmx == 1 && (mx[0].host[0] == '\0' || strcmp(mx[0].host, ".") == 0)) {
		out->status = SMTP_BOUNCED;
		snprintf(out->why, sizeof(out->why), "5.1.10 %s accepts no mail (null MX)", domain);
		goto done;
	}
	smtp_mx_order(mx, nmx);
	for (i = 0; i < nmx && rc == 0; i++)
		if (mx[i].host[0] != '\0' && strcmp(mx[i].host, ".") != 0) /* a stray null MX */
			rc = host_addrs(&rs, mx[i].host, port, out);
	if (nmx == 0 && rc == 0)
		rc = host_addrs(&rs, domain, port, out);
	if (rc == 0 && out->naddrs == 0) {
		out->status = SMTP_DEFERRED;
		snprintf(out->why, sizeof(out->why), "4.4.4 no address found for %s%s",
		         nmx ? "the MX hosts of " : "", domain);
	}
done:
	res_nclose(&rs);
	return rc;
}

int smtp_resolve(const char *relay, const char *domain, int port, const char *dns_server,
                 struct smtp_route *out)
{
	memset(out, 0, sizeof(*out));
	if (relay && *relay)
		return resolve_relay(relay, out);
	return resolve_mx(domain, port, dns_server, out);
}
