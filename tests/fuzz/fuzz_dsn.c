/*
 * tests/fuzz/fuzz_dsn.c - libFuzzer target for the DSN and ARF adapter:
 * the first byte picks the format (odd: ARF, even: DSN), the rest goes
 * through ingest_dsn_mem() (container sniffing, gzip, mbox, MIME, the
 * status-part field parser) with a low size limit.
 *
 * Besides the sanitizers, the oracle is the adapter's contract: every
 * record is a send body with a rcpt and one of the statuses the adapter
 * makes, and every record, reject or skip names where it came from.
 */
#include "auditd/ingest/dsn.h"
#include "auditd/ingest/kinds.h"
#include "lib/jcs.h"
#include "tests/fuzz/fuzz.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_record(void *ctx, const struct ingest_record *rec)
{
	const char *status, *rcpt;

	(void)ctx;
	FUZZ_ASSERT(rec->where != NULL && rec->source != NULL && rec->body != NULL &&
		    strcmp(rec->kind, "send") == 0);
	status = json_string_value(json_object_get(rec->body, "status"));
	rcpt = json_string_value(json_object_get(rec->body, "rcpt"));
	FUZZ_ASSERT(status != NULL && rcpt != NULL && strchr(rcpt, '@') != NULL);
	FUZZ_ASSERT(!strcmp(status, "bounced") || !strcmp(status, "deferred") ||
		    !strcmp(status, "expired") || !strcmp(status, "complained"));
	/* What the adapter hands on passes the send kind's rules as the
	 * pipeline applies them: no adapter output is ever a reject there. */
	{
		struct ak_buf text = AK_BUF_INIT(0);
		struct ak_jdoc *doc = NULL;
		const struct ak_jv *body;
		json_t *fixed = NULL;
		const char *id = NULL;

		FUZZ_ASSERT(ak_jcs_write_jansson(&text, rec->body) == 0 && ak_jdoc_new(&doc, 0) == 0 &&
			    ak_json_parse(doc, text.data, text.len, &body) == 0 &&
			    ingest_kind_check("send", body, &fixed, &id) == 0);
		json_decref(fixed);
		ak_jdoc_free(doc);
		ak_buf_free(&text);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_sink sink = {on_record, fuzz_on_reject, fuzz_on_skip, NULL};
	struct ingest_options opt;

	if (size == 0)
		return 0;
	memset(&opt, 0, sizeof(opt));
	opt.name = "fuzz";
	opt.max_bytes = 1 << 20;
	ingest_dsn_mem(data + 1, size - 1, data[0] & 1, &opt, &sink);
	return 0;
}
