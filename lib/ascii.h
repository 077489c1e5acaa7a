/*
 * lib/ascii.h - ASCII case folding. The case-insensitive parts of mail
 * (domains, header field names, the addresses akashi keeps in lower case,
 * keywords such as a Feedback-Type) fold in ASCII only: tolower() would
 * follow the locale, and bytes above 127 are UTF-8 that stays as it is.
 */
#ifndef AK_ASCII_H
#define AK_ASCII_H

/* c in lower case if it is A to Z, else c. Inline: it runs per byte of
 * log lines, DKIM canonicalisation and addresses. */
static inline char ak_ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Fold s in place, up to its NUL; returns s (NULL stays NULL). */
char *ak_ascii_lower_str(char *s);

#endif
