/*
 * lib/hostport.h - the one reading of "HOST:PORT" settings (listen,
 * smtp.listen, relay, alerts.syslog): "host:port", "[v6]:port", and,
 * where a default port is given, "host", "[v6]" or a bare IPv6 literal.
 */
#ifndef AK_HOSTPORT_H
#define AK_HOSTPORT_H

#include <stddef.h>

/* Split s into host (brackets removed, NUL-terminated, at most cap - 1
 * bytes) and *port (0 to 65535, digits only). Without a port, *port is
 * default_port when that is >= 0; an address with more than one colon and
 * no brackets is a bare IPv6 literal (use [v6]:port to give it a port).
 * 0, or -1 when s does not have that form. */
int ak_hostport_split(const char *s, char *host, size_t cap, int default_port, int *port);

#endif
