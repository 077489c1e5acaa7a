/*
 * lib/ascii.c - see ascii.h.
 */
#include "lib/ascii.h"

#include <stddef.h>

char *ak_ascii_lower_str(char *s)
{
	char *p;

	for (p = s; p && *p; p++)
		*p = ak_ascii_lower(*p);
	return s;
}
