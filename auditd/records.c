/*
 * auditd/records.c - records made by akashi itself, through the ingest
 * pipeline (see records.h).
 */
#include "auditd/records.h"

#include "lib/error.h"
#include "lib/timefmt.h"

#include <stdio.h>
#include <string.h>

struct first_reject {
	char msg[512];
};

static int keep_reject(void *ctx, const char *where, const char *reason)
{
	struct first_reject *r = ctx;

	(void)where;
	if (r->msg[0] == '\0')
		snprintf(r->msg, sizeof(r->msg), "%s", reason);
	return 0;
}

int record_build(struct ingest_batch *out, const char *kind, const char *source, json_t *body,
                 int64_t time_us)
{
	struct ingest_pipeline_opts po = {0};
	struct ingest_pipeline *p = NULL;
	struct ingest_record rec = {0};
	struct ingest_counts counts;
	struct first_reject rej = {{0}};
	const struct ingest_sink *sink;
	int rc;

	memset(out, 0, sizeof(*out));
	po.kind = kind;
	po.memory = 1;
	po.memory_max = (size_t)16 << 20;
	po.on_reject = keep_reject;
	po.on_reject_ctx = &rej;
	if ((rc = ingest_pipeline_new(&p, NULL, &po)) != 0)
		return rc;
	sink = ingest_pipeline_sink(p);
	rec.kind = kind;
	rec.time_us = time_us ? time_us : ak_time_now();
	rec.source = source;
	rec.body = body;
	rec.where = kind;
	if ((rc = sink->record(sink->ctx, &rec)) != 0)
		goto done;
	ingest_pipeline_counts(p, &counts);
	if (counts.rejected) {
		rc = ak_error_code(AK_EINVALID, "%s entry: %s", kind, rej.msg);
		goto done;
	}
	rc = ingest_pipeline_take(p, out);
done:
	ingest_pipeline_free(p);
	return rc;
}

int record_system(struct ingest_batch *out, const char *source, const char *event, json_t *fields)
{
	json_t *body = json_object();
	int rc;

	if (body == NULL)
		return ak_error_oom();
	if ((fields && json_object_update(body, fields) != 0) ||
	    json_object_set_new(body, "event", json_string(event)) != 0) {
		json_decref(body);
		return ak_error_oom();
	}
	rc = record_build(out, "system", source, body, 0);
	json_decref(body);
	return rc;
}

int record_system_append(struct evidence_store *st, const char *source, const char *event,
                         json_t *fields)
{
	struct ingest_batch b;
	int rc;

	if ((rc = record_system(&b, source, event, fields)) != 0)
		return rc;
	rc = evidence_append(st, b.recs, b.n, NULL, NULL);
	ingest_batch_free(&b);
	return rc;
}
