/*
 * policies/state.c - the derived-state indexers (see state.h).
 *
 * The rules follow event time, not arrival: a late-arriving opt-in older
 * than an opt-out already indexed does not undo the opt-out. Ties in time
 * are broken by seq (the later entry wins), so replaying the log in seq
 * order, as reindex does, always gives the same rows.
 */
#include "policies/state.h"

#include "lib/error.h"
#include "lib/jcs.h"
#include "lib/timefmt.h"

#include <stdlib.h>
#include <string.h>

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS state.consent_state(subject TEXT NOT NULL, list TEXT NOT NULL,"
	" action TEXT NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL,"
	" optin_time INTEGER, optin_seq INTEGER, method TEXT, proof INTEGER,"
	" confirmed_inline INTEGER, exemption TEXT,"
	" confirm_time INTEGER, confirm_seq INTEGER, optout_time INTEGER, optout_seq INTEGER,"
	" PRIMARY KEY(subject, list)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS state.suppression(address TEXT NOT NULL, scope TEXT NOT NULL,"
	" reason TEXT NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL,"
	" PRIMARY KEY(address, scope)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS state.account_state(account TEXT PRIMARY KEY, first_seen INTEGER,"
	" created INTEGER, disabled INTEGER, password_changed INTEGER, password_seq INTEGER,"
	" reviewed INTEGER, reviewer TEXT, review_seq INTEGER, last_login INTEGER,"
	" last_login_ip TEXT, login_seq INTEGER, mfa INTEGER, mfa_time INTEGER) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS state.account_roles(account TEXT NOT NULL, role TEXT NOT NULL,"
	" since INTEGER NOT NULL, since_seq INTEGER NOT NULL, until INTEGER, until_seq INTEGER,"
	" PRIMARY KEY(account, role, since)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS state.login_addresses(account TEXT NOT NULL, ip TEXT NOT NULL,"
	" first INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(account, ip)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS state.approvals(campaign TEXT NOT NULL, actor TEXT NOT NULL,"
	" time INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(campaign, seq)) WITHOUT ROWID;";

static const char *const tables[] = {"consent_state",   "suppression", "account_state",
				     "account_roles",   "login_addresses", "approvals", NULL};

struct state {
	struct ak_jdoc *doc;
	sqlite3_stmt *st[32]; /* by Q_* below, prepared once */
};

enum {
	Q_CONSENT_GET,
	Q_CONSENT_PUT,
	Q_SUPP_GET,
	Q_SUPP_PUT,
	Q_SUPP_DEL,
	Q_ACCT_TOUCH,
	Q_ROLE_OPEN,
	Q_ROLE_GRANT,
	Q_ROLE_REVOKE,
	Q_LOGIN_ADDR,
	Q_APPROVAL,
	Q_ACCT_LOGIN,
	Q_ACCT_PASSWORD,
	Q_ACCT_REVIEW,
	Q_ACCT_DISABLED,
	Q_ACCT_MFA_ON,
	Q_ACCT_MFA_OFF,
	Q_ACCT_CREATED,
	Q_N
};

static const char *const sql[Q_N] = {
	[Q_CONSENT_GET] = "SELECT action, time, seq, optin_time, optin_seq, method, proof, "
			  "confirmed_inline, exemption, confirm_time, confirm_seq, optout_time, "
			  "optout_seq FROM consent_state WHERE subject = ?1 AND list = ?2",
	[Q_CONSENT_PUT] = "INSERT OR REPLACE INTO consent_state VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, "
			  "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
	[Q_SUPP_GET] = "SELECT time, seq FROM suppression WHERE address = ?1 AND scope = ?2",
	[Q_SUPP_PUT] = "INSERT OR REPLACE INTO suppression VALUES(?1, ?2, ?3, ?4, ?5)",
	[Q_SUPP_DEL] = "DELETE FROM suppression WHERE address = ?1 AND scope = ?2 AND "
		       "reason = 'opt_out' AND (time < ?3 OR (time = ?3 AND seq < ?4))",
	/* One statement per kind of account fact: the first-seen time is
	 * kept, the others move to the later event. */
	[Q_ACCT_TOUCH] =
		"INSERT INTO account_state(account, first_seen) VALUES(?1, ?2) "
		"ON CONFLICT(account) DO UPDATE SET first_seen = min(first_seen, ?2)",
	[Q_ROLE_OPEN] = "SELECT since FROM account_roles WHERE account = ?1 AND role = ?2 AND "
			"until IS NULL",
	[Q_ROLE_GRANT] = "INSERT OR IGNORE INTO account_roles VALUES(?1, ?2, ?3, ?4, NULL, NULL)",
	[Q_ROLE_REVOKE] = "UPDATE account_roles SET until = ?3, until_seq = ?4 WHERE account = ?1 "
			  "AND role = ?2 AND until IS NULL AND since <= ?3",
	[Q_LOGIN_ADDR] = "INSERT OR IGNORE INTO login_addresses VALUES(?1, ?2, ?3, ?4)",
	[Q_APPROVAL] = "INSERT OR IGNORE INTO approvals VALUES(?1, ?2, ?3, ?4)",
	/* An account fact moves to a later event only (?2 its time, ?3 text,
	 * ?4 seq), and the statement that records it also makes the account's
	 * row or moves its first-seen time (one statement per event, not two:
	 * the writer runs one for every login). SET expressions read the row
	 * as it was, so every column tests the fact's old time. */
#define ACCT_UPSERT(cols, vals) \
	"INSERT INTO account_state(account, first_seen, " cols ") VALUES(?1, ?2, " vals ") " \
	"ON CONFLICT(account) DO UPDATE SET first_seen = min(first_seen, ?2)"
#define IF_NEWER(fact, col, val) \
	", " col " = CASE WHEN " fact " IS NULL OR " fact " <= ?2 THEN " val " ELSE " col " END"
	[Q_ACCT_LOGIN] = ACCT_UPSERT("last_login, last_login_ip, login_seq", "?2, ?3, ?4")
		IF_NEWER("last_login", "last_login", "?2") IF_NEWER("last_login", "last_login_ip", "?3")
		IF_NEWER("last_login", "login_seq", "?4"),
	[Q_ACCT_PASSWORD] = ACCT_UPSERT("password_changed, password_seq", "?2, ?4")
		IF_NEWER("password_changed", "password_changed", "?2")
		IF_NEWER("password_changed", "password_seq", "?4"),
	[Q_ACCT_REVIEW] = ACCT_UPSERT("reviewed, reviewer, review_seq", "?2, ?3, ?4")
		IF_NEWER("reviewed", "reviewed", "?2") IF_NEWER("reviewed", "reviewer", "?3")
		IF_NEWER("reviewed", "review_seq", "?4"),
	[Q_ACCT_DISABLED] = ACCT_UPSERT("disabled", "?2") IF_NEWER("disabled", "disabled", "?2"),
	[Q_ACCT_MFA_ON] = ACCT_UPSERT("mfa_time, mfa", "?2, 1") IF_NEWER("mfa_time", "mfa_time", "?2")
		IF_NEWER("mfa_time", "mfa", "1"),
	[Q_ACCT_MFA_OFF] = ACCT_UPSERT("mfa_time, mfa", "?2, 0") IF_NEWER("mfa_time", "mfa_time", "?2")
		IF_NEWER("mfa_time", "mfa", "0"),
	/* The earliest creation counts. */
	[Q_ACCT_CREATED] = ACCT_UPSERT("created", "?2")
		", created = CASE WHEN created IS NULL OR created > ?2 THEN ?2 ELSE created END",
#undef IF_NEWER
#undef ACCT_UPSERT
};

_Static_assert(Q_N <= sizeof(((struct state *)0)->st) / sizeof(sqlite3_stmt *),
	       "struct state holds every statement");

static int stmt(sqlite3 *db, struct state *s, int q, sqlite3_stmt **out)
{
	if (s->st[q] == NULL &&
	    sqlite3_prepare_v3(db, sql[q], -1, SQLITE_PREPARE_PERSISTENT, &s->st[q], NULL) !=
		    SQLITE_OK)
		return ak_error_set("derived state: %s", sqlite3_errmsg(db));
	sqlite3_reset(s->st[q]);
	sqlite3_clear_bindings(s->st[q]);
	*out = s->st[q];
	return 0;
}

static int run(sqlite3 *db, sqlite3_stmt *q)
{
	int rc = sqlite3_step(q);

	sqlite3_reset(q);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return ak_error_set("derived state: %s", sqlite3_errmsg(db));
	return 0;
}

/* Run statement `which` of the shape (text, text, event time, event seq):
 * suppression lifts, approvals, login addresses, role changes. */
static int run_pair_event(sqlite3 *db, struct state *s, int which, const char *a, const char *b,
			  const struct evidence_entry *e)
{
	sqlite3_stmt *q;
	int rc;

	if ((rc = stmt(db, s, which, &q)) != 0)
		return rc;
	sqlite3_bind_text(q, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, b, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, e->time_us);
	sqlite3_bind_int64(q, 4, e->seq);
	return run(db, q);
}

static const char *sv(const struct ak_jv *obj, const char *key)
{
	const struct ak_jv *v = ak_jv_get(obj, key);

	return v && v->type == AK_JSTRING ? v->u.s.ptr : NULL;
}

int policy_failed_action(const struct ak_jv *body)
{
	const char *r = sv(body, "result");

	return r != NULL && strcmp(r, "failure") == 0;
}

int64_t policy_inline_confirmation(const struct ak_jv *body, int64_t optin_us)
{
	const struct ak_jv *proof = ak_jv_get(body, "proof");
	const char *at = sv(proof, "confirmed_at");
	int64_t t;

	if (at == NULL)
		at = sv(body, "confirmed_at");
	if (sv(proof, "confirmation_id") == NULL || at == NULL ||
	    ak_time_parse(at, strlen(at), &t) != 0) {
		ak_error_clear();
		return 0;
	}
	return t > optin_us ? t : optin_us;
}

/* (t1, s1) later than (t2, s2)? */
static int later(int64_t t1, int64_t s1, int64_t t2, int64_t s2)
{
	return t1 > t2 || (t1 == t2 && s1 > s2);
}

static void bind_opt_int(sqlite3_stmt *q, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(q, i, v);
	else
		sqlite3_bind_null(q, i);
}

static int consent_read(sqlite3_stmt *q, struct consent_now *c)
{
	memset(c, 0, sizeof(*c));
	if (sqlite3_step(q) != SQLITE_ROW)
		return 0;
	c->found = 1;
	snprintf(c->action, sizeof(c->action), "%s", (const char *)sqlite3_column_text(q, 0));
	c->time_us = sqlite3_column_int64(q, 1);
	c->seq = sqlite3_column_int64(q, 2);
	c->optin_time = sqlite3_column_int64(q, 3);
	c->optin_seq = sqlite3_column_int64(q, 4);
	if (sqlite3_column_text(q, 5))
		snprintf(c->method, sizeof(c->method), "%s", sqlite3_column_text(q, 5));
	c->proof = sqlite3_column_int(q, 6);
	c->confirmed_inline = sqlite3_column_int64(q, 7);
	if (sqlite3_column_text(q, 8))
		snprintf(c->exemption, sizeof(c->exemption), "%s", sqlite3_column_text(q, 8));
	c->confirm_time = sqlite3_column_int64(q, 9);
	c->confirm_seq = sqlite3_column_int64(q, 10);
	c->optout_time = sqlite3_column_int64(q, 11);
	c->optout_seq = sqlite3_column_int64(q, 12);
	return 1;
}

static int suppress(sqlite3 *db, struct state *s, const char *address, const char *scope,
		    const char *reason, int64_t t, int64_t seq)
{
	sqlite3_stmt *q;
	int rc;

	/* The earliest suppression of a kind stands: sends after it are the
	 * ones that break the rule. */
	if ((rc = stmt(db, s, Q_SUPP_GET, &q)) != 0)
		return rc;
	sqlite3_bind_text(q, 1, address, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, scope, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW && !later(sqlite3_column_int64(q, 0),
						    sqlite3_column_int64(q, 1), t, seq)) {
		sqlite3_reset(q);
		return 0;
	}
	sqlite3_reset(q);
	if ((rc = stmt(db, s, Q_SUPP_PUT, &q)) != 0)
		return rc;
	sqlite3_bind_text(q, 1, address, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, scope, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, t);
	sqlite3_bind_int64(q, 5, seq);
	return run(db, q);
}

static int index_consent(sqlite3 *db, struct state *s, const struct ak_jv *b,
			 const struct evidence_entry *e)
{
	const char *subject = sv(b, "subject"), *list = sv(b, "list"), *action = sv(b, "action");
	const struct ak_jv *proof = ak_jv_get(b, "proof");
	struct consent_now c;
	sqlite3_stmt *q;
	int rc;

	if (!subject || !list || !action)
		return 0; /* not a record the kind rules let in; nothing to index */
	if ((rc = stmt(db, s, Q_CONSENT_GET, &q)) != 0)
		return rc;
	sqlite3_bind_text(q, 1, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, list, -1, SQLITE_STATIC);
	consent_read(q, &c);
	sqlite3_reset(q);
	/* The state follows the latest opt-in or opt-out; a confirm only
	 * fills the confirm columns (see state.h). */
	if (!c.found ||
	    (strcmp(action, "confirm") != 0 &&
	     (strcmp(c.action, "confirm") == 0 || later(e->time_us, e->seq, c.time_us, c.seq)))) {
		snprintf(c.action, sizeof(c.action), "%s", action);
		c.time_us = e->time_us;
		c.seq = e->seq;
	}
	if (strcmp(action, "opt_in") == 0 && later(e->time_us, e->seq, c.optin_time, c.optin_seq)) {
		const char *m = sv(b, "method"), *ex = sv(b, "exemption");

		c.optin_time = e->time_us;
		c.optin_seq = e->seq;
		snprintf(c.method, sizeof(c.method), "%s", m ? m : "");
		snprintf(c.exemption, sizeof(c.exemption), "%s", ex ? ex : "");
		c.proof = proof && proof->type == AK_JOBJECT && proof->u.o.n > 0;
		c.confirmed_inline = c.proof ? policy_inline_confirmation(b, e->time_us) : 0;
	} else if (strcmp(action, "confirm") == 0 &&
		   later(e->time_us, e->seq, c.confirm_time, c.confirm_seq)) {
		c.confirm_time = e->time_us;
		c.confirm_seq = e->seq;
	} else if (strcmp(action, "opt_out") == 0 &&
		   later(e->time_us, e->seq, c.optout_time, c.optout_seq)) {
		c.optout_time = e->time_us;
		c.optout_seq = e->seq;
	}
	if ((rc = stmt(db, s, Q_CONSENT_PUT, &q)) != 0)
		return rc;
	sqlite3_bind_text(q, 1, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, list, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, c.action, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, c.time_us);
	sqlite3_bind_int64(q, 5, c.seq);
	bind_opt_int(q, 6, c.optin_time);
	bind_opt_int(q, 7, c.optin_seq);
	if (c.optin_seq)
		sqlite3_bind_text(q, 8, c.method, -1, SQLITE_STATIC);
	if (c.optin_seq)
		sqlite3_bind_int(q, 9, c.proof);
	if (c.optin_seq)
		bind_opt_int(q, 10, c.confirmed_inline);
	if (c.exemption[0])
		sqlite3_bind_text(q, 11, c.exemption, -1, SQLITE_STATIC);
	bind_opt_int(q, 12, c.confirm_time);
	bind_opt_int(q, 13, c.confirm_seq);
	bind_opt_int(q, 14, c.optout_time);
	bind_opt_int(q, 15, c.optout_seq);
	if ((rc = run(db, q)) != 0)
		return rc;
	/* The suppression list follows the latest action of the pair. */
	if (strcmp(action, "opt_out") == 0 && strcmp(c.action, "opt_out") == 0)
		return suppress(db, s, subject, list, "opt_out", e->time_us, e->seq);
	/* An opt-in lifts the pair's opt-out suppression, which exists only
	 * if an opt-out of the pair was ever indexed (c.optout_seq). */
	if (strcmp(action, "opt_in") == 0 && strcmp(c.action, "opt_in") == 0 && c.optout_seq)
		return run_pair_event(db, s, Q_SUPP_DEL, subject, list, e);
	return 0;
}

static int index_send(sqlite3 *db, struct state *s, const struct ak_jv *b,
		      const struct evidence_entry *e)
{
	const char *status = sv(b, "status"), *rcpt = sv(b, "rcpt");

	if (!status || !rcpt)
		return 0;
	if (strcmp(status, "bounced") == 0)
		return suppress(db, s, rcpt, "*", "hard_bounce", e->time_us, e->seq);
	if (strcmp(status, "complained") == 0)
		return suppress(db, s, rcpt, "*", "complaint", e->time_us, e->seq);
	return 0;
}

/* account_state: one of the Q_ACCT_* facts, from the event at t. */
static int account_set(sqlite3 *db, struct state *s, int which, const char *account, int64_t t,
		       const char *text, int64_t seq)
{
	sqlite3_stmt *q;
	int rc;

	if ((rc = stmt(db, s, which, &q)) != 0)
		return rc;
	sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, t);
	if (text && sqlite3_bind_parameter_count(q) >= 3)
		sqlite3_bind_text(q, 3, text, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(q) >= 4)
		sqlite3_bind_int64(q, 4, seq);
	return run(db, q);
}

static int index_admin(sqlite3 *db, struct state *s, const struct ak_jv *b,
		       const struct evidence_entry *e)
{
	const char *actor = sv(b, "actor"), *action = sv(b, "action"), *target = sv(b, "target");
	const char *role = sv(b, "role"), *ip = sv(b, "ip");
	const char *account;
	sqlite3_stmt *q;
	int rc, login;

	if (!actor || !action)
		return 0;
	login = strncmp(action, "login", 5) == 0 || strcmp(action, "logout") == 0;
	/* An action that failed (a rejected approval, a refused password)
	 * changed nothing; a login says how it went in its action. */
	if (!login && policy_failed_action(b))
		return 0;
	account = !login && target ? target : actor;
	if (strcmp(action, "approval") == 0) {
		const char *campaign = sv(b, "campaign");

		if (campaign == NULL)
			campaign = target;
		if (campaign == NULL)
			return 0;
		return run_pair_event(db, s, Q_APPROVAL, campaign, actor, e);
	}
	if (strcmp(action, "login_success") == 0) {
		if ((rc = account_set(db, s, Q_ACCT_LOGIN, account, e->time_us, ip, e->seq)) != 0)
			return rc;
		return ip ? run_pair_event(db, s, Q_LOGIN_ADDR, account, ip, e) : 0;
	}
	if (strcmp(action, "password_change") == 0)
		return account_set(db, s, Q_ACCT_PASSWORD, account, e->time_us, NULL, e->seq);
	if (strcmp(action, "access_review") == 0)
		return account_set(db, s, Q_ACCT_REVIEW, account, e->time_us, actor, e->seq);
	if (strcmp(action, "account_create") == 0)
		return account_set(db, s, Q_ACCT_CREATED, account, e->time_us, NULL, e->seq);
	if (strcmp(action, "account_disable") == 0 || strcmp(action, "account_delete") == 0)
		return account_set(db, s, Q_ACCT_DISABLED, account, e->time_us, NULL, e->seq);
	if (strcmp(action, "mfa_enable") == 0 || strcmp(action, "mfa_disable") == 0)
		return account_set(db, s, action[4] == 'e' ? Q_ACCT_MFA_ON : Q_ACCT_MFA_OFF, account,
				   e->time_us, NULL, e->seq);
	/* Any other event only makes the account known (first seen). */
	if ((rc = stmt(db, s, Q_ACCT_TOUCH, &q)) != 0)
		return rc;
	sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, e->time_us);
	if ((rc = run(db, q)) != 0)
		return rc;
	if ((strcmp(action, "role_grant") == 0 || strcmp(action, "role_revoke") == 0) && role) {
		int grant = strcmp(action, "role_grant") == 0;

		if (grant) {
			/* Already holding it: the earlier grant stands. */
			if ((rc = stmt(db, s, Q_ROLE_OPEN, &q)) != 0)
				return rc;
			sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
			sqlite3_bind_text(q, 2, role, -1, SQLITE_STATIC);
			if (sqlite3_step(q) == SQLITE_ROW) {
				sqlite3_reset(q);
				return 0;
			}
			sqlite3_reset(q);
		}
		return run_pair_event(db, s, grant ? Q_ROLE_GRANT : Q_ROLE_REVOKE, account, role, e);
	}
	return 0;
}

/* Does the canonical body hold "status":"bounced" or "status":"complained"
 * anywhere (a send that may suppress its recipient)? */
static int status_may_suppress(const char *body, size_t len)
{
	static const char key[] = "\"status\":\"";
	const char *p = body, *end = body + len;

	while ((p = memmem(p, (size_t)(end - p), key, sizeof(key) - 1)) != NULL) {
		size_t left;

		p += sizeof(key) - 1;
		left = (size_t)(end - p);
		if ((left >= 8 && memcmp(p, "bounced\"", 8) == 0) ||
		    (left >= 11 && memcmp(p, "complained\"", 11) == 0))
			return 1;
	}
	return 0;
}

static int state_index(sqlite3 *db, const struct evidence_entry *e, void *ctx)
{
	struct state *s = ctx;
	const struct ak_jv *body = e->parsed;
	int rc;

	/* Most sends change nothing here: skip them before parsing. One pass
	 * over the body for "status":" (nested objects may have one too). */
	if (strcmp(e->kind, "send") == 0 && !status_may_suppress(e->body, e->body_len))
		return 0;
	if (body == NULL) {
		if ((rc = ak_json_parse(s->doc, e->body, e->body_len, &body)) != 0) {
			ak_error_prefix("seq %lld", (long long)e->seq);
			return rc;
		}
	}
	if (body->type != AK_JOBJECT)
		return 0;
	if (strcmp(e->kind, "consent") == 0)
		return index_consent(db, s, body, e);
	if (strcmp(e->kind, "send") == 0)
		return index_send(db, s, body, e);
	if (strcmp(e->kind, "admin") == 0)
		return index_admin(db, s, body, e);
	return 0;
}

static int state_setup(sqlite3 *db, void *ctx)
{
	char *msg = NULL;

	(void)ctx;
	if (sqlite3_exec(db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = ak_error_set("derived state: %s", msg ? msg : sqlite3_errmsg(db));

		sqlite3_free(msg);
		return rc;
	}
	return 0;
}

static int state_reset(sqlite3 *db, void *ctx)
{
	const char *const *t;
	char q[128];

	(void)ctx;
	for (t = tables; *t; t++) {
		/* A store made before state.db kept these tables in the log's
		 * file, where unqualified names would find them first; its
		 * state.db is new, so it comes here, to be rebuilt. */
		snprintf(q, sizeof(q), "DROP TABLE IF EXISTS main.%s; DELETE FROM state.%s", *t, *t);
		if (sqlite3_exec(db, q, NULL, NULL, NULL) != SQLITE_OK)
			return ak_error_set("derived state: %s", sqlite3_errmsg(db));
	}
	return 0;
}

static void state_close(void *ctx)
{
	struct state *s = ctx;
	int i;

	for (i = 0; i < Q_N; i++)
		sqlite3_finalize(s->st[i]);
	ak_jdoc_free(s->doc);
	free(s);
}

int policy_state_attach(struct evidence_store *st)
{
	static const char *const kinds[] = {"consent", "send", "admin", NULL};
	struct evidence_indexer ix = {0};
	struct state *s = calloc(1, sizeof(*s));
	int rc;

	if (s == NULL)
		return ak_error_oom();
	if ((rc = ak_jdoc_new(&s->doc, 0)) != 0) {
		free(s);
		return rc;
	}
	/* The name carries the version of these rules: when what they
	 * derive changes, a new name makes every store rebuild its tables at
	 * its next writable open (v2: a confirm no longer re-subscribes after
	 * an opt-out; inline confirmations keep their time; failed admin
	 * actions change nothing). */
	ix.name = "policy state v2";
	ix.kinds = kinds;
	ix.setup = state_setup;
	ix.reset = state_reset;
	ix.index = state_index;
	ix.close = state_close;
	ix.ctx = s;
	if ((rc = evidence_add_indexer(st, &ix)) != 0)
		state_close(s);
	return rc;
}

/* ---- queries ---- */

int policy_state_consent(sqlite3 *db, const char *subject, const char *list,
			 struct consent_now *out)
{
	sqlite3_stmt *q = NULL;

	if (sqlite3_prepare_v2(db, sql[Q_CONSENT_GET], -1, &q, NULL) != SQLITE_OK)
		return ak_error_set("consent state: %s", sqlite3_errmsg(db));
	sqlite3_bind_text(q, 1, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, list, -1, SQLITE_STATIC);
	consent_read(q, out);
	sqlite3_finalize(q);
	return 0;
}

int policy_state_opted_out(sqlite3 *db, const char *subject, const char *list, int64_t at, int *out,
                           int64_t *seq, int64_t *since_us)
{
	struct consent_now c;
	int rc;

	*out = 0;
	if (seq)
		*seq = 0;
	if (since_us)
		*since_us = 0;
	if ((rc = policy_state_consent(db, subject, list, &c)) != 0)
		return rc;
	if (c.found && strcmp(c.action, "opt_out") == 0 && c.time_us <= at) {
		*out = 1;
		if (seq)
			*seq = c.optout_seq;
		if (since_us)
			*since_us = c.time_us;
	}
	return 0;
}

int policy_state_suppressed(sqlite3 *db, const char *address, const char *list,
			    struct suppression_now *out)
{
	sqlite3_stmt *q = NULL;

	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(db,
			       "SELECT reason, scope, time, seq FROM suppression WHERE address = ?1 "
			       "AND (scope = '*' OR scope = ?2) ORDER BY time, seq LIMIT 1",
			       -1, &q, NULL) != SQLITE_OK)
		return ak_error_set("suppression: %s", sqlite3_errmsg(db));
	sqlite3_bind_text(q, 1, address, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, list ? list : "", -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		out->found = 1;
		snprintf(out->reason, sizeof(out->reason), "%s", sqlite3_column_text(q, 0));
		snprintf(out->scope, sizeof(out->scope), "%s", sqlite3_column_text(q, 1));
		out->time_us = sqlite3_column_int64(q, 2);
		out->seq = sqlite3_column_int64(q, 3);
	}
	sqlite3_finalize(q);
	return 0;
}

int policy_state_approval(sqlite3 *db, const char *campaign, const char *owner, int64_t before_us,
			  int64_t *seq, char *actor, size_t actor_cap)
{
	sqlite3_stmt *q = NULL;

	*seq = 0;
	if (actor_cap)
		actor[0] = '\0';
	if (sqlite3_prepare_v2(db,
			       "SELECT seq, actor FROM approvals WHERE campaign = ?1 AND time < ?2 "
			       "AND (?3 IS NULL OR actor <> ?3) ORDER BY time, seq LIMIT 1",
			       -1, &q, NULL) != SQLITE_OK)
		return ak_error_set("approvals: %s", sqlite3_errmsg(db));
	sqlite3_bind_text(q, 1, campaign, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, before_us);
	if (owner)
		sqlite3_bind_text(q, 3, owner, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		*seq = sqlite3_column_int64(q, 0);
		if (actor_cap)
			snprintf(actor, actor_cap, "%s", sqlite3_column_text(q, 1));
	}
	sqlite3_finalize(q);
	return 0;
}

int policy_state_consent_each(sqlite3 *db, const char *subject,
			      int (*cb)(void *ctx, const char *list, const struct consent_now *c),
			      void *ctx)
{
	sqlite3_stmt *q = NULL;
	struct consent_now c;
	char list[256];
	int rc = 0;

	if (sqlite3_prepare_v2(db,
			       "SELECT action, time, seq, optin_time, optin_seq, method, proof, "
			       "confirmed_inline, exemption, confirm_time, confirm_seq, optout_time, "
			       "optout_seq, list FROM consent_state WHERE subject = ?1 ORDER BY list",
			       -1, &q, NULL) != SQLITE_OK)
		return ak_error_set("consent state: %s", sqlite3_errmsg(db));
	sqlite3_bind_text(q, 1, subject, -1, SQLITE_STATIC);
	/* consent_read() steps to the next row each time. */
	while (rc == 0 && consent_read(q, &c)) {
		snprintf(list, sizeof(list), "%s", (const char *)sqlite3_column_text(q, 13));
		rc = cb(ctx, list, &c);
	}
	sqlite3_finalize(q);
	return rc;
}

int policy_state_suppression_each(sqlite3 *db, const char *address,
				  int (*cb)(void *ctx, const struct suppression_now *s), void *ctx)
{
	sqlite3_stmt *q = NULL;
	struct suppression_now s;
	int rc = 0;

	if (sqlite3_prepare_v2(db,
			       "SELECT reason, scope, time, seq FROM suppression WHERE address = ?1 "
			       "ORDER BY time, seq",
			       -1, &q, NULL) != SQLITE_OK)
		return ak_error_set("suppression: %s", sqlite3_errmsg(db));
	sqlite3_bind_text(q, 1, address, -1, SQLITE_STATIC);
	while (rc == 0 && sqlite3_step(q) == SQLITE_ROW) {
		memset(&s, 0, sizeof(s));
		s.found = 1;
		snprintf(s.reason, sizeof(s.reason), "%s", sqlite3_column_text(q, 0));
		snprintf(s.scope, sizeof(s.scope), "%s", sqlite3_column_text(q, 1));
		s.time_us = sqlite3_column_int64(q, 2);
		s.seq = sqlite3_column_int64(q, 3);
		rc = cb(ctx, &s);
	}
	sqlite3_finalize(q);
	return rc;
}
