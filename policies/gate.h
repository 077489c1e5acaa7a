/*
 * policies/gate.h - "may this message be sent to this recipient now?"
 *
 * The gate asks every gating policy of a set about one prospective send,
 * using the derived state (policies/state.h) only: a few indexed lookups,
 * no scan of the log. It is the same rule as the audit's control, asked
 * about a send that has not happened yet; its answer names the policies
 * that deny and the entries (seqs) their reasons rest on, and carries the
 * policy commit. Callers that send (the delivery engine) record the
 * decision in the send entry.
 *
 * A struct gate holds prepared statements on one connection: one thread.
 */
#ifndef POLICIES_GATE_H
#define POLICIES_GATE_H

#include "policies/policy.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

struct gate_request {
	const char *rcpt;      /* lower-case address */
	const char *list;
	const char *stream;    /* "marketing" or "transactional" */
	const char *campaign;  /* may be NULL */
	const char *owner;     /* the campaign's owner, may be NULL */
	int64_t campaign_size; /* recipients, or -1 when unknown */
	int unsubscribe_headers; /* 1 List-Unsubscribe (https) + -Post present, 0 absent,
				  * -1 unknown */
	int64_t now_us;        /* 0: now */
	/* Recipients the owner handed in on this UTC day under any campaign
	 * (the SMTP gateway, where a tool names its own campaigns), or 0: when
	 * larger, the mass-send rule counts it as the campaign's size. */
	int64_t owner_day_size;
};

#define GATE_MAX_REASONS 12

struct gate_reason {
	char policy[64];
	char control[40];
	char detail[256];
	int64_t ref; /* the seq the reason rests on, 0 when none */
};

struct gate_decision {
	int allow;
	size_t nreasons;
	struct gate_reason reasons[GATE_MAX_REASONS];
	char policy_commit[41];
};

struct gate;

/* A gate over db with the policies of set (both borrowed). Raises db's
 * page cache to 64 MiB when it is smaller (the consent state it reads
 * should stay in memory). */
int gate_new(struct gate **out, sqlite3 *db, const struct policy_set *set);
void gate_free(struct gate *g);

/* Give db a page cache of at least kib KiB (never shrinking it), so that
 * the consent and suppression state of a large store stays in memory
 * across many decisions (GATE_CACHE_KIB suits a store of millions of
 * subjects) instead of being read from the file at each miss. gate_new()
 * leaves the cache alone: memory is the caller's choice. */
#define GATE_CACHE_KIB 65536
void gate_cache_at_least(sqlite3 *db, int kib);

/* Decide. AK_EINVALID for a request missing rcpt, list or stream. The
 * lookups of one check read one snapshot of the derived state. */
int gate_check(struct gate *g, const struct gate_request *req, struct gate_decision *out);

/* Checks between gate_begin and gate_end (a batch of a campaign's
 * recipients, say) all read one snapshot, taken once: faster, and the
 * batch's decisions agree with each other; what is appended meanwhile
 * (an opt-out) is seen from the next batch on. Keep batches short: the
 * snapshot holds back WAL checkpoints. gate_begin does nothing inside the
 * caller's own transaction. */
int gate_begin(struct gate *g);
void gate_end(struct gate *g);

/* {"decision":"allow"|"deny","reasons":[{"policy":...,"detail":...,"ref":N}],
 *  "policy_commit":"..."} (a new reference). */
json_t *gate_decision_json(const struct gate_decision *d);

#endif
