/*
 * tests/fuzz/fuzz_dmarc.c - libFuzzer target for the DMARC adapter: any
 * bytes through ingest_dmarc_mem() (container sniffing, gzip, zip, MIME,
 * mbox, XML) with low limits, so bombs and long inputs stay fast.
 *
 * Besides the sanitizers, the oracle is the adapter's contract: every
 * record's body is canonical JSON (lib/jcs gives back the same bytes) with
 * a report_id and rows, and every record or reject names where it came
 * from.
 */
#include "auditd/ingest/dmarc.h"
#include "lib/buf.h"
#include "lib/jcs.h"
#include "tests/fuzz/fuzz.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_record(void *ctx, const struct ingest_record *rec)
{
	struct ak_buf canon = AK_BUF_INIT(0);
	json_error_t err;
	json_t *body;

	(void)ctx;
	if (rec->where == NULL || rec->body_json == NULL || rec->event_id == NULL)
		abort();
	if (ak_jcs_canonicalize(&canon, rec->body_json, rec->body_json_len) != 0 ||
	    canon.len != rec->body_json_len || memcmp(canon.data, rec->body_json, canon.len) != 0)
		abort();
	ak_buf_free(&canon);
	body = json_loadb(rec->body_json, rec->body_json_len, JSON_REJECT_DUPLICATES, &err);
	if (body == NULL || json_object_get(body, "report_id") == NULL ||
	    !json_is_array(json_object_get(body, "rows")))
		abort();
	json_decref(body);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_sink sink = {on_record, fuzz_on_reject, fuzz_on_skip, NULL};
	struct ingest_options opt;

	memset(&opt, 0, sizeof(opt));
	opt.name = "fuzz";
	opt.max_bytes = 1 << 20;
	opt.max_records = 1000;
	ingest_dmarc_mem(data, size, &opt, &sink);
	return 0;
}
