/*
 * lib/hostport.c - "HOST:PORT" settings (see lib/hostport.h).
 */
#include "lib/hostport.h"

#include <string.h>

int ak_hostport_split(const char *s, char *host, size_t cap, int default_port, int *port)
{
	const char *h = s, *p = NULL;
	size_t n;
	long v = 0;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			return -1;
		h = s + 1;
		n = (size_t)(end - h);
		if (end[1] == ':')
			p = end + 2;
	} else {
		const char *colon = strchr(s, ':');

		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			n = (size_t)(colon - s);
			p = colon + 1;
		} else {
			n = strlen(s); /* a name, an IPv4 address or a bare IPv6 literal */
		}
	}
	if (n == 0 || n >= cap)
		return -1;
	if (p == NULL) {
		if (default_port < 0)
			return -1;
		v = default_port;
	} else {
		if (*p == '\0' || strspn(p, "0123456789") != strlen(p) || strlen(p) > 5)
			return -1;
		for (; *p; p++)
			v = v * 10 + (*p - '0');
		if (v > 65535)
			return -1;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	*port = (int)v;
	return 0;
}
