/*
 * auditd/pending_stubs.c - TEMPORARY: stand-ins for the alert detectors
 * and sinks (auditd/alerts/alerts.h) until their branch is merged into the
 * daemon's. Each one fails or does nothing, saying so; delete this file
 * in the merge that brings the real ones.
 */
#include "auditd/alerts/alerts.h"
#include "lib/error.h"

#include <stdlib.h>

int alerts_new(struct alerts **out, const json_t *rules, const struct alerts_config *cfg,
               sqlite3 *db, alerts_emit_fn emit, void *ctx)
{
	(void)rules, (void)cfg, (void)db, (void)emit, (void)ctx;
	*out = NULL;
	return ak_error_set("alert detectors are not built into this akashi yet");
}

void alerts_free(struct alerts *a)
{
	(void)a;
}

int alerts_feed(struct alerts *a, const struct evidence_entry *e)
{
	(void)a, (void)e;
	return 0;
}

int alert_sinks_new(struct alert_sinks **out, struct event_base *base,
                    const struct alert_sinks_config *cfg)
{
	(void)base, (void)cfg;
	*out = NULL;
	return ak_error_set("alert sinks are not built into this akashi yet");
}

int alert_sinks_send(struct alert_sinks *s, const char *entry, size_t len, const char *rule,
                     const char *severity)
{
	(void)s, (void)entry, (void)len, (void)rule, (void)severity;
	return 0;
}

void alert_sinks_stats(const struct alert_sinks *s, json_t *into)
{
	(void)s, (void)into;
}

void alert_sinks_free(struct alert_sinks *s)
{
	(void)s;
}
