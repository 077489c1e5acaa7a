/*
 * policies/policy_default.h - the shipped default policy set, embedded in
 * the binary at build time so that `akashi init` needs no source tree.
 *
 * The Makefile runs policies/policy_embed.sh over the files of
 * policies/default/ to generate the table (build/gen/policy_default.c); nothing else writes
 * it. Iterate until the entry whose name is NULL:
 *
 *     for (f = policy_default_files; f->name; f++) use(f->name, f->data, f->len);
 */
#ifndef POLICIES_POLICY_DEFAULT_H
#define POLICIES_POLICY_DEFAULT_H

#include <stddef.h>

struct policy_default_file {
	const char *name;          /* "consent-optin-proof.json" */
	const unsigned char *data; /* the file's bytes (not NUL-terminated) */
	size_t len;
};

extern const struct policy_default_file policy_default_files[];

#endif
