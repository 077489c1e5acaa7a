/*
 * tests/fuzz/fuzz_ocsf.c - libFuzzer target for the OCSF admin adapter.
 * Feeds the bytes through fmemopen() (so both JSON Lines and arrays are
 * reached, by the first byte) and checks what every record must be
 * whatever the input: kind "admin", a time within RFC 3339's years, a body
 * with only the native admin fields, a non-empty actor, a known action,
 * details.ocsf with integer class_uid and activity_id, and no real number
 * anywhere; every reject has a place and a reason that is valid UTF-8.
 */
#include "auditd/ingest/ocsf.h"
#include "lib/error.h"
#include "lib/timefmt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int has_real(const json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;

	if (json_is_real(v))
		return 1;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, item)
			if (has_real(item))
				return 1;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, item)
			if (has_real(item))
				return 1;
	}
	return 0;
}

static int known(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

static int on_record(void *ctx, const struct ingest_record *rec)
{
	static const char *const fields[] = {"actor",  "action",  "target", "role",
					     "ip",     "result",  "details", NULL};
	static const char *const actions[] = {
		"login_success",  "login_failure",   "logout",          "account_create",
		"account_enable", "password_change", "account_disable", "account_delete",
		"role_grant",     "role_revoke",     "account_lock",    "mfa_enable",
		"mfa_disable",    "other",           NULL,
	};
	const char *key;
	json_t *v, *ocsf;

	(void)ctx;
	if (strcmp(rec->kind, "admin") != 0 || !json_is_object(rec->body) ||
	    rec->body_json != NULL || rec->where == NULL || rec->source == NULL ||
	    rec->time_us < AK_TIME_MIN_US || rec->time_us > AK_TIME_MAX_US || has_real(rec->body))
		abort();
	json_object_foreach(rec->body, key, v)
		if (!known(key, fields))
			abort();
	v = json_object_get(rec->body, "actor");
	if (!json_is_string(v) || json_string_length(v) == 0)
		abort();
	v = json_object_get(rec->body, "action");
	if (!json_is_string(v) || !known(json_string_value(v), actions))
		abort();
	ocsf = json_object_get(json_object_get(rec->body, "details"), "ocsf");
	if (!json_is_integer(json_object_get(ocsf, "class_uid")) ||
	    !json_is_integer(json_object_get(ocsf, "activity_id")))
		abort();
	return 0;
}

static int on_reject(void *ctx, const char *where, const char *reason, const char *raw,
		     size_t raw_len)
{
	json_t *check;

	(void)ctx;
	(void)raw;
	(void)raw_len;
	if (where == NULL || reason == NULL || reason[0] == '\0')
		abort();
	check = json_string(reason); /* NULL when not UTF-8 */
	if (check == NULL)
		abort();
	json_decref(check);
	return 0;
}

static void on_skip(void *ctx, const char *where, const char *why)
{
	(void)ctx;
	(void)where;
	(void)why;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_sink sink = {on_record, on_reject, on_skip, NULL};
	struct ingest_options opt;
	FILE *in;
	int rc;

	if (size == 0)
		return 0; /* fmemopen() refuses an empty buffer */
	in = fmemopen((void *)data, size, "r");
	if (in == NULL)
		return 0;
	memset(&opt, 0, sizeof(opt));
	opt.name = "fuzz.jsonl";
	opt.max_line = 4096;
	opt.max_bytes = 65536;
	rc = ingest_admin_ocsf(in, &opt, &sink);
	if (rc != 0 && (rc != AK_ETOOBIG || strstr(ak_error_last(), "fuzz.jsonl") == NULL))
		abort(); /* only an array over max_bytes may fail the input */
	fclose(in);
	return 0;
}
