/*
 * policies/state.h - derived state over the log that controls and gates
 * read: consent per (subject, list), the suppression list, accounts and
 * their roles, campaign approvals.
 *
 * These are indexes, not evidence: policy_state_attach() registers
 * indexers with the store, which keeps them in the same transaction as
 * each append and rebuilds them from the entries on `akashi reindex` (the
 * rebuild gives the same rows: tests compare them). Every row carries the
 * seq of the entry it rests on, so a decision read from here can cite its
 * evidence.
 *
 * Tables (in the store's state.db, the schema "state": evidence.h):
 *   consent_state(subject, list, ...)   latest action by event time; the
 *                                       latest opt-in, confirm and opt-out
 *   suppression(address, scope, ...)    scope '*' for hard bounces and
 *                                       complaints, the list for opt-outs
 *   account_state(account, ...)         created, disabled, password change,
 *                                       review, last login and address, MFA
 *   account_roles(account, role, since, until)
 *   login_addresses(account, ip, first)
 *   approvals(campaign, actor, time, seq)
 */
#ifndef POLICIES_STATE_H
#define POLICIES_STATE_H

#include "evidence/evidence.h"

#include <stdint.h>

struct ak_jv;

/* When an opt-in's body says it was confirmed (proof.confirmation_id, and
 * confirmed_at in the proof or the body, RFC 3339): that time in
 * microseconds, never before the opt-in itself (optin_us); 0 when it says
 * nothing usable. The gate and the audit count the confirmation only from
 * then on, as they would a confirm entry. */
int64_t policy_inline_confirmation(const struct ak_jv *body, int64_t optin_us);

/* Does an admin entry's body say the action failed ("result": "failure")?
 * Such an action changed nothing: no approval, no new password, no grant,
 * no review. */
int policy_failed_action(const struct ak_jv *body);

/* Register the indexers with st (tables created if st is writable). */
int policy_state_attach(struct evidence_store *st);

struct consent_now {
	int found;
	/* The pair's state: its latest opt_in or opt_out by event time. A
	 * confirm completes an opt-in and never subscribes anyone again after
	 * an opt-out; "confirm" shows only while the pair has nothing else. */
	char action[16];
	int64_t time_us, seq;
	int64_t optin_time, optin_seq;   /* latest opt-in (0 when none) */
	char method[48];
	int proof;            /* the opt-in carried proof fields */
	int64_t confirmed_inline; /* the opt-in's own confirmed_at (with a
	                           * confirmation_id), microseconds, or 0 */
	char exemption[48];   /* a flagged exemption, or "" */
	int64_t confirm_time, confirm_seq;
	int64_t optout_time, optout_seq;
};

/* The consent state of (subject, list) now. */
int policy_state_consent(sqlite3 *db, const char *subject, const char *list,
			 struct consent_now *out);

/* Is subject opted out of list at `at` (event time, microseconds)? The
 * gate's rule (policies/gate.c): the pair's latest opt-in or opt-out by
 * event time is an opt-out, and it is no later than `at`; a confirm
 * after an opt-out changes nothing. *out is 1 or 0; *seq and *since_us
 * (either may be NULL) the opt-out's seq and event time, or 0. */
int policy_state_opted_out(sqlite3 *db, const char *subject, const char *list, int64_t at, int *out,
                           int64_t *seq, int64_t *since_us);

struct suppression_now {
	int found;
	char reason[16];      /* hard_bounce, complaint, opt_out */
	char scope[128];      /* "*" or the list */
	int64_t time_us, seq;
};

/* Is address suppressed for list (a global suppression, or an opt-out of
 * that list)? The earliest applicable row. */
int policy_state_suppressed(sqlite3 *db, const char *address, const char *list,
			    struct suppression_now *out);

/* Every list subject has consent state for, in list order: cb gets the
 * list and its state (borrowed). A non-zero return from cb stops and is
 * returned. */
int policy_state_consent_each(sqlite3 *db, const char *subject,
			      int (*cb)(void *ctx, const char *list, const struct consent_now *c),
			      void *ctx);

/* Every suppression row of address (global '*' and per-list), oldest first. */
int policy_state_suppression_each(sqlite3 *db, const char *address,
				  int (*cb)(void *ctx, const struct suppression_now *s), void *ctx);

/* Approvals of campaign by someone other than owner (owner may be NULL:
 * any approver) before before_us: the first such, seq 0 when none. */
int policy_state_approval(sqlite3 *db, const char *campaign, const char *owner, int64_t before_us,
			  int64_t *seq, char *actor, size_t actor_cap);

#endif
