/*
 * auditd/delivery/queue.c - the persistent delivery queue (schema in
 * delivery_int.h).
 *
 * One row per recipient of a campaign; the message itself is never
 * stored, only what renders it (the campaign's template, the row's CSV
 * values), so a million-recipient campaign is a few hundred bytes a row
 * on disk and nothing in memory. A message from the SMTP gateway is its
 * own campaign row (the message as the template, a submissions row saying
 * whose it is), removed with its rows once they are final (dq_raw_gc).
 * Rows move NEW -> READY -> INFLIGHT -> SENT | BOUNCED | DEFERRED (->
 * READY again when due) | EXPIRED, or NEW/DEFERRED -> BLOCKED when the
 * gate denies.
 *
 * The runner lock (flock on "<queue>.lock") makes one process the queue's
 * runner at a time; the kernel drops it when that process dies, however
 * it dies.
 */
#include "auditd/delivery/delivery_int.h"

#include "lib/error.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

enum {
	S_ADD,
	S_SET,
	S_DUE,
	S_DUE_ALL,
	S_NEW,
	S_NEW_ALL,
	S_GET,
	S_MARK_GET,
	S_MARK_SET,
	S_CAMPAIGN_ADD,
	S_SUBMISSION_ADD,
	S_SUBMITTED_ADD,
	S_DAY_ADD,
	S_N
};

static const char *const sql[S_N] = {
        [S_ADD] = "INSERT OR IGNORE INTO messages(campaign, idx, rcpt, fields, state, attempts, "
                  "next_at, created) VALUES (?1, ?2, ?3, ?4, 0, 0, 0, ?5)",
        [S_SET] = "UPDATE messages SET state = ?3, attempts = CASE WHEN ?4 < 0 THEN attempts ELSE "
                  "?4 END, next_at = CASE WHEN ?5 < 0 THEN next_at ELSE ?5 END, last = "
                  "coalesce(?6, last) WHERE campaign = ?1 AND idx = ?2",
        /* INDEXED BY: without it SQLite walks the campaign's whole primary
         * key past every message already sent, at every take (quadratic in
         * the campaign's size). */
        [S_DUE] = "SELECT campaign, idx, rcpt, fields, state, attempts, next_at, created FROM "
                  "messages INDEXED BY messages_work WHERE state IN (1, 3) AND next_at <= ?1 "
                  "AND campaign = ?2 LIMIT ?3",
        [S_DUE_ALL] = "SELECT campaign, idx, rcpt, fields, state, attempts, next_at, created FROM "
                      "messages WHERE state IN (1, 3) AND next_at <= ?1 LIMIT ?3",
        [S_NEW] = "SELECT campaign, idx, rcpt, fields, state, attempts, next_at, created FROM "
                  "messages INDEXED BY messages_work WHERE state = 0 AND campaign = ?2 "
                  "ORDER BY idx LIMIT ?3",
        [S_NEW_ALL] = "SELECT campaign, idx, rcpt, fields, state, attempts, next_at, created FROM "
                      "messages INDEXED BY messages_work WHERE state = 0 "
                      "ORDER BY campaign, idx LIMIT ?3",
        [S_GET] = "SELECT state, attempts FROM messages WHERE campaign = ?1 AND idx = ?2",
        [S_MARK_GET] = "SELECT value FROM meta WHERE key = 'ev_mark'",
        [S_CAMPAIGN_ADD] = "INSERT INTO campaigns(id, stream, list, sender, owner, nonce, "
                           "template, columns, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                           "?8, ?9)",
        [S_SUBMISSION_ADD] = "INSERT INTO submissions(id, campaign, message_id, via, peer) "
                             "VALUES (?1, ?2, ?3, ?4, ?5)",
        [S_SUBMITTED_ADD] = "INSERT INTO submitted(campaign, recipients) VALUES (?1, ?2) ON "
                            "CONFLICT(campaign) DO UPDATE SET recipients = recipients + "
                            "excluded.recipients",
        [S_DAY_ADD] = "INSERT INTO submitted_day(owner, day, recipients) VALUES (?1, ?2, ?3) ON "
                      "CONFLICT(owner, day) DO UPDATE SET recipients = recipients + "
                      "excluded.recipients",
        [S_MARK_SET] = "INSERT INTO meta(key, value) VALUES ('ev_mark', ?1) ON CONFLICT(key) DO "
                       "UPDATE SET value = excluded.value",
};

static const char schema[] =
        "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);"
        "CREATE TABLE IF NOT EXISTS campaigns(id TEXT PRIMARY KEY, stream TEXT NOT NULL, "
        "list TEXT NOT NULL, sender TEXT NOT NULL, owner TEXT, template BLOB NOT NULL, "
        "columns TEXT NOT NULL, nonce TEXT NOT NULL, created INTEGER NOT NULL, "
        "loaded INTEGER NOT NULL DEFAULT 0, size INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE IF NOT EXISTS messages(campaign TEXT NOT NULL, idx INTEGER NOT NULL, "
        "rcpt TEXT NOT NULL, fields BLOB NOT NULL, state INTEGER NOT NULL, "
        "attempts INTEGER NOT NULL, next_at INTEGER NOT NULL, created INTEGER NOT NULL, "
        "last TEXT, PRIMARY KEY(campaign, idx)) WITHOUT ROWID;"
        "CREATE UNIQUE INDEX IF NOT EXISTS messages_rcpt ON messages(campaign, rcpt);"
        "CREATE INDEX IF NOT EXISTS messages_due ON messages(state, next_at);"
        /* The next messages of a state in campaign order (dq_take). */
        "CREATE INDEX IF NOT EXISTS messages_work ON messages(state, campaign, idx);"
        /* Gateway messages (delivery_submit_raw): the campaigns row holds the
         * message as its template; this says whose it is. */
        "CREATE TABLE IF NOT EXISTS submissions(id TEXT PRIMARY KEY, campaign TEXT NOT NULL, "
        "message_id TEXT NOT NULL, via TEXT NOT NULL, peer TEXT);"
        /* A gateway campaign's submissions, for its status. */
        "CREATE INDEX IF NOT EXISTS submissions_campaign ON submissions(campaign);"
        /* Recipients handed in per campaign id through the gateway, ever: the
         * size the mass-approval gate sees. */
        "CREATE TABLE IF NOT EXISTS submitted(campaign TEXT PRIMARY KEY, "
        "recipients INTEGER NOT NULL);"
        /* ... and per owner (the token) and UTC day (days since the epoch),
         * whatever the campaign ids: a tool that names a new campaign for
         * each message still makes one mass send. */
        "CREATE TABLE IF NOT EXISTS submitted_day(owner TEXT NOT NULL, day INTEGER NOT NULL, "
        "recipients INTEGER NOT NULL, PRIMARY KEY(owner, day)) WITHOUT ROWID;"
        /* What became of the messages of finished submissions, per campaign
         * name and final state, kept when dq_raw_gc() removes them. */
        "CREATE TABLE IF NOT EXISTS gateway_done(campaign TEXT NOT NULL, state INTEGER NOT "
        "NULL, n INTEGER NOT NULL, PRIMARY KEY(campaign, state)) WITHOUT ROWID;";

struct dqueue {
	sqlite3 *db;
	sqlite3_stmt *st[S_N];
	int lock_fd;
};

static int dberr(struct dqueue *q, const char *what)
{
	return ak_error_set("queue: %s: %s", what, sqlite3_errmsg(q->db));
}

int dq_open(struct dqueue **out, const char *path, int lock)
{
	struct dqueue *q = calloc(1, sizeof(*q));
	char *err = NULL;
	int i, rc = 0;

	if (q == NULL)
		return ak_error_oom();
	q->lock_fd = -1;
	if (lock) {
		char lp[4200];

		snprintf(lp, sizeof(lp), "%s.lock", path);
		q->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (q->lock_fd < 0) {
			rc = ak_error_set("%s: %s", lp, strerror(errno));
			goto done;
		}
		if (flock(q->lock_fd, LOCK_EX | LOCK_NB) != 0) {
			rc = ak_error_code(AK_EBUSY,
			                   "the delivery queue %s is being run by another process "
			                   "(akashi send or akashi serve)",
			                   path);
			goto done;
		}
	}
	if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		rc = ak_error_set("%s: %s", path, q->db ? sqlite3_errmsg(q->db) : "cannot open");
		goto done;
	}
	sqlite3_busy_timeout(q->db, 10000);
	if (sqlite3_exec(q->db,
	                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
	                 "PRAGMA foreign_keys=OFF;",
	                 NULL, NULL, &err) != SQLITE_OK ||
	    sqlite3_exec(q->db, schema, NULL, NULL, &err) != SQLITE_OK) {
		rc = ak_error_set("%s: %s", path, err ? err : "cannot set up");
		sqlite3_free(err);
		goto done;
	}
	for (i = 0; i < S_N; i++) {
		if (!*sql[i])
			continue;
		if (sqlite3_prepare_v3(q->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->st[i],
		                       NULL) != SQLITE_OK) {
			rc = dberr(q, "prepare");
			goto done;
		}
	}
done:
	if (rc) {
		dq_close(q);
		return rc;
	}
	*out = q;
	return 0;
}

void dq_close(struct dqueue *q)
{
	int i;

	if (q == NULL)
		return;
	for (i = 0; i < S_N; i++)
		sqlite3_finalize(q->st[i]);
	sqlite3_close(q->db);
	if (q->lock_fd >= 0)
		close(q->lock_fd);
	free(q);
}

sqlite3 *dq_db(struct dqueue *q)
{
	return q->db;
}

int dq_begin(struct dqueue *q)
{
	if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return dberr(q, "begin");
	return 0;
}

int dq_commit(struct dqueue *q)
{
	if (sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		int rc = dberr(q, "commit");

		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	return 0;
}

void dq_rollback(struct dqueue *q)
{
	if (!sqlite3_get_autocommit(q->db))
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
}

int dq_mark_get(struct dqueue *q, int64_t *out)
{
	sqlite3_stmt *s = q->st[S_MARK_GET];
	int step;

	*out = 0;
	sqlite3_reset(s);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : dberr(q, "mark");
}

int dq_mark_set(struct dqueue *q, int64_t seq)
{
	sqlite3_stmt *s = q->st[S_MARK_SET];
	int step;

	sqlite3_reset(s);
	sqlite3_bind_int64(s, 1, seq);
	step = sqlite3_step(s);
	sqlite3_reset(s);
	return step == SQLITE_DONE ? 0 : dberr(q, "mark");
}

void dq_campaign_clear(struct dq_campaign *c)
{
	size_t i;

	free(c->id);
	free(c->stream);
	free(c->list);
	free(c->sender);
	free(c->owner);
	free(c->nonce);
	free(c->template_data);
	free(c->label);
	free(c->message_id);
	free(c->via);
	free(c->peer);
	for (i = 0; c->columns && i < c->ncolumns; i++)
		free(c->columns[i]);
	free(c->columns);
	memset(c, 0, sizeof(*c));
}

static char *col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? strdup((const char *)t) : NULL;
}

#define DAY_US INT64_C(86400000000)

/* The UTC day of t, in days since the epoch. */
static int64_t day_of(int64_t t)
{
	return t >= 0 ? t / DAY_US : -((-t - 1) / DAY_US) - 1;
}

/* The submission behind a gateway campaign, if c is one, the size of the
 * campaign it names, and (for the SMTP gateway's) its owner's recipients
 * of the day. */
static int raw_get(struct dqueue *q, struct dq_campaign *c)
{
	sqlite3_stmt *s = NULL;
	int rc = 0, step;

	if (sqlite3_prepare_v2(
	            q->db,
	            "SELECT s.campaign, s.message_id, s.via, s.peer, coalesce(n.recipients, "
	            "0), coalesce((SELECT recipients FROM submitted_day WHERE owner = ?2 AND "
	            "day = ?3), 0) FROM submissions s LEFT JOIN submitted n ON n.campaign = "
	            "s.campaign WHERE s.id = ?1",
	            -1, &s, NULL) != SQLITE_OK)
		return dberr(q, "submission");
	sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, c->owner ? c->owner : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, day_of(c->created));
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		c->raw = 1;
		c->label = col_dup(s, 0);
		c->message_id = col_dup(s, 1);
		c->via = col_dup(s, 2);
		c->peer = col_dup(s, 3);
		c->size = sqlite3_column_int64(s, 4);
		c->day_size = sqlite3_column_int64(s, 5);
		if (!c->label || !c->message_id || !c->via)
			rc = ak_error_oom();
	} else if (step != SQLITE_DONE)
		rc = dberr(q, "submission");
	sqlite3_finalize(s);
	return rc;
}

int dq_campaign_get(struct dqueue *q, const char *id, struct dq_campaign *c)
{
	sqlite3_stmt *s = NULL;
	json_t *cols = NULL;
	int rc = 0, step;
	size_t i;

	memset(c, 0, sizeof(*c));
	if (sqlite3_prepare_v2(q->db,
	                       "SELECT id, stream, list, sender, owner, nonce, template, columns, "
	                       "created, loaded, size FROM campaigns WHERE id = ?1",
	                       -1, &s, NULL) != SQLITE_OK)
		return dberr(q, "campaign");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_DONE) {
		rc = ak_error_code(AK_ENOTFOUND, "no campaign '%s' in the queue", id);
		goto done;
	}
	if (step != SQLITE_ROW) {
		rc = dberr(q, "campaign");
		goto done;
	}
	c->id = col_dup(s, 0);
	c->stream = col_dup(s, 1);
	c->list = col_dup(s, 2);
	c->sender = col_dup(s, 3);
	c->owner = col_dup(s, 4);
	c->nonce = col_dup(s, 5);
	c->template_len = (size_t)sqlite3_column_bytes(s, 6);
	c->template_data = malloc(c->template_len + 1);
	if (c->template_data) {
		memcpy(c->template_data, sqlite3_column_blob(s, 6), c->template_len);
		c->template_data[c->template_len] = '\0';
	}
	cols = json_loads((const char *)sqlite3_column_text(s, 7), 0, NULL);
	c->created = sqlite3_column_int64(s, 8);
	c->loaded = sqlite3_column_int(s, 9);
	c->size = sqlite3_column_int64(s, 10);
	if (!c->id || !c->stream || !c->list || !c->sender || !c->nonce || !c->template_data ||
	    !json_is_array(cols)) {
		rc = ak_error_oom();
		goto done;
	}
	c->ncolumns = json_array_size(cols);
	if ((c->columns = calloc(c->ncolumns + 1, sizeof(char *))) == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	for (i = 0; i < c->ncolumns; i++)
		if ((c->columns[i] = strdup(json_string_value(json_array_get(cols, i))
		                                    ? json_string_value(json_array_get(cols, i))
		                                    : "")) == NULL) {
			rc = ak_error_oom();
			goto done;
		}
	sqlite3_finalize(s);
	s = NULL;
	rc = raw_get(q, c);
done:
	json_decref(cols);
	sqlite3_finalize(s);
	if (rc)
		dq_campaign_clear(c);
	return rc;
}

/* Run a statement of q->st with its bindings made; reset and cleared. */
static int step_done(struct dqueue *q, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : dberr(q, what);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

int dq_campaign_add(struct dqueue *q, const struct dq_campaign *c)
{
	sqlite3_stmt *s = q->st[S_CAMPAIGN_ADD];
	json_t *cols = json_array();
	char *cj = NULL;
	size_t i;
	int rc;

	for (i = 0; cols && i < c->ncolumns; i++)
		json_array_append_new(cols, json_string(c->columns[i]));
	if (cols == NULL || (cj = json_dumps(cols, JSON_COMPACT)) == NULL) {
		json_decref(cols);
		return ak_error_oom();
	}
	sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, c->stream, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, c->list, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, c->sender, -1, SQLITE_STATIC);
	if (c->owner)
		sqlite3_bind_text(s, 5, c->owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, c->nonce, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 7, c->template_data, (int)c->template_len, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, cj, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 9, c->created);
	rc = step_done(q, s, "add campaign");
	if (rc == 0 && c->raw) {
		s = q->st[S_SUBMISSION_ADD];
		sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, c->label, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, c->message_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, c->via, -1, SQLITE_STATIC);
		if (c->peer)
			sqlite3_bind_text(s, 5, c->peer, -1, SQLITE_STATIC);
		rc = step_done(q, s, "add submission");
	}
	if (rc == 0 && c->raw) {
		s = q->st[S_SUBMITTED_ADD];
		sqlite3_bind_text(s, 1, c->label, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, c->size);
		rc = step_done(q, s, "add submission");
	}
	/* The day of a gateway client, whose messages name their own campaigns;
	 * not the daemon's own mail (alerts), whatever their number. */
	if (rc == 0 && c->raw && strcmp(c->via, "smtp") == 0) {
		s = q->st[S_DAY_ADD];
		sqlite3_bind_text(s, 1, c->owner ? c->owner : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, day_of(c->created));
		sqlite3_bind_int64(s, 3, c->size);
		rc = step_done(q, s, "add submission");
	}
	free(cj);
	json_decref(cols);
	return rc;
}

static int exec_id(struct dqueue *q, const char *text, const char *id, int64_t v)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(q->db, text, -1, &s, NULL) != SQLITE_OK)
		return dberr(q, "campaign");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(q, "campaign");
	sqlite3_finalize(s);
	return rc;
}

int dq_campaign_loaded(struct dqueue *q, const char *id, int64_t size)
{
	return exec_id(q, "UPDATE campaigns SET loaded = 1, size = ?2 WHERE id = ?1", id, size);
}

int dq_campaign_delete(struct dqueue *q, const char *id)
{
	int rc = exec_id(q, "DELETE FROM messages WHERE campaign = ?1 AND ?2 = ?2", id, 0);

	return rc ? rc : exec_id(q, "DELETE FROM campaigns WHERE id = ?1 AND ?2 = ?2", id, 0);
}

int dq_raw_gc(struct dqueue *q, int64_t *n)
{
	static const char *const steps[] = {
	        "CREATE TEMP TABLE IF NOT EXISTS gc_done(id TEXT PRIMARY KEY)",
	        "DELETE FROM gc_done",
	        "INSERT INTO gc_done SELECT s.id FROM submissions s WHERE NOT EXISTS (SELECT 1 "
	        "FROM messages m WHERE m.campaign = s.id AND m.state IN (0, 1, 2, 3))",
	        /* campaign status goes on counting them */
	        "INSERT INTO gateway_done(campaign, state, n) SELECT s.campaign, m.state, count(*) "
	        "FROM messages m JOIN submissions s ON s.id = m.campaign WHERE m.campaign IN "
	        "(SELECT id FROM gc_done) GROUP BY s.campaign, m.state "
	        "ON CONFLICT(campaign, state) DO UPDATE SET n = n + excluded.n",
	        "DELETE FROM messages WHERE campaign IN (SELECT id FROM gc_done)",
	        "DELETE FROM campaigns WHERE id IN (SELECT id FROM gc_done)",
	        "DELETE FROM submissions WHERE id IN (SELECT id FROM gc_done)",
	        NULL};
	size_t i;
	int rc;

	*n = 0;
	if ((rc = dq_begin(q)) != 0)
		return rc;
	for (i = 0; steps[i]; i++) {
		if (sqlite3_exec(q->db, steps[i], NULL, NULL, NULL) != SQLITE_OK) {
			rc = dberr(q, "removing finished submissions");
			dq_rollback(q);
			return rc;
		}
		if (i == 2) /* the INSERT INTO gc_done */
			*n = sqlite3_changes(q->db);
	}
	return dq_commit(q);
}

int dq_find_rcpt(struct dqueue *q, const char *campaign, const char *rcpt, int64_t *idx)
{
	sqlite3_stmt *s = NULL;
	int step;

	if (sqlite3_prepare_v2(q->db, "SELECT idx FROM messages WHERE campaign = ?1 AND rcpt = ?2",
	                       -1, &s, NULL) != SQLITE_OK)
		return dberr(q, "find");
	sqlite3_bind_text(s, 1, campaign, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, rcpt, -1, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW)
		*idx = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (step == SQLITE_DONE)
		return ak_error_code(AK_ENOTFOUND, "no such message");
	return step == SQLITE_ROW ? 0 : dberr(q, "find");
}

int dq_durable(struct dqueue *q, int on)
{
	if (sqlite3_exec(q->db, on ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", NULL,
	                 NULL, NULL) != SQLITE_OK)
		return dberr(q, "synchronous");
	return 0;
}

int dq_campaigns_open(struct dqueue *q, int (*cb)(void *ctx, const char *id), void *ctx)
{
	sqlite3_stmt *s = NULL;
	int rc = 0, step;

	if (sqlite3_prepare_v2(q->db,
	                       "SELECT id FROM campaigns c WHERE EXISTS (SELECT 1 FROM messages m "
	                       "WHERE m.campaign = c.id AND m.state IN (0, 1, 2, 3))",
	                       -1, &s, NULL) != SQLITE_OK)
		return dberr(q, "campaigns");
	while ((step = sqlite3_step(s)) == SQLITE_ROW)
		if ((rc = cb(ctx, (const char *)sqlite3_column_text(s, 0))) != 0)
			break;
	if (rc == 0 && step != SQLITE_DONE)
		rc = dberr(q, "campaigns");
	sqlite3_finalize(s);
	return rc;
}

int dq_max_idx(struct dqueue *q, const char *campaign, int64_t *out)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	*out = 0;
	if (sqlite3_prepare_v2(q->db, "SELECT max(idx) FROM messages WHERE campaign = ?1", -1, &s,
	                       NULL) != SQLITE_OK)
		return dberr(q, "max idx");
	sqlite3_bind_text(s, 1, campaign, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else
		rc = dberr(q, "max idx");
	sqlite3_finalize(s);
	return rc;
}

int dq_add(struct dqueue *q, const char *campaign, int64_t idx, const char *rcpt,
           const char *fields, size_t fields_len, int64_t created)
{
	sqlite3_stmt *s = q->st[S_ADD];
	int step;

	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, campaign, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, idx);
	sqlite3_bind_text(s, 3, rcpt, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, fields, (int)fields_len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, created);
	step = sqlite3_step(s);
	sqlite3_reset(s);
	if (step != SQLITE_DONE)
		return dberr(q, "add");
	return sqlite3_changes(q->db) ? 1 : 0;
}

void dq_msg_clear(struct dq_msg *m)
{
	free(m->fields);
	m->fields = NULL;
}

static int read_rows(struct dqueue *q, sqlite3_stmt *s, struct dq_msg *out, size_t max, size_t *n)
{
	int step = SQLITE_DONE;

	while (*n < max && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct dq_msg *m = &out[*n];
		const void *f = sqlite3_column_blob(s, 3);

		memset(m, 0, sizeof(*m));
		snprintf(m->campaign, sizeof(m->campaign), "%s", sqlite3_column_text(s, 0));
		m->idx = sqlite3_column_int64(s, 1);
		snprintf(m->rcpt, sizeof(m->rcpt), "%s", sqlite3_column_text(s, 2));
		m->fields_len = (size_t)sqlite3_column_bytes(s, 3);
		if ((m->fields = malloc(m->fields_len + 1)) == NULL) {
			sqlite3_reset(s);
			return ak_error_oom();
		}
		if (m->fields_len)
			memcpy(m->fields, f, m->fields_len);
		m->fields[m->fields_len] = '\0';
		m->state = sqlite3_column_int(s, 4);
		m->attempts = sqlite3_column_int(s, 5);
		m->next_at = sqlite3_column_int64(s, 6);
		m->created = sqlite3_column_int64(s, 7);
		(*n)++;
	}
	sqlite3_reset(s);
	if (*n < max && step != SQLITE_DONE)
		return dberr(q, "take");
	return 0;
}

int dq_take(struct dqueue *q, const char *campaign, int64_t now, size_t max, struct dq_msg *out,
            size_t *n)
{
	sqlite3_stmt *s;
	int rc;

	*n = 0;
	s = q->st[campaign ? S_DUE : S_DUE_ALL];
	sqlite3_reset(s);
	sqlite3_bind_int64(s, 1, now);
	if (campaign)
		sqlite3_bind_text(s, 2, campaign, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)max);
	if ((rc = read_rows(q, s, out, max, n)) != 0 || *n == max)
		return rc;
	s = q->st[campaign ? S_NEW : S_NEW_ALL];
	sqlite3_reset(s);
	if (campaign)
		sqlite3_bind_text(s, 2, campaign, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)(max - *n));
	return read_rows(q, s, out, max, n);
}

int dq_set(struct dqueue *q, const char *campaign, int64_t idx, int state, int attempts,
           int64_t next_at, const char *last)
{
	sqlite3_stmt *s = q->st[S_SET];
	int step;

	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, campaign, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, idx);
	sqlite3_bind_int(s, 3, state);
	sqlite3_bind_int(s, 4, attempts);
	sqlite3_bind_int64(s, 5, next_at);
	if (last)
		sqlite3_bind_text(s, 6, last, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 6);
	step = sqlite3_step(s);
	sqlite3_reset(s);
	return step == SQLITE_DONE ? 0 : dberr(q, "set");
}

int dq_get_state(struct dqueue *q, const char *campaign, int64_t idx, int *state, int *attempts)
{
	sqlite3_stmt *s = q->st[S_GET];
	int step;

	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, campaign, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, idx);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		*state = sqlite3_column_int(s, 0);
		*attempts = sqlite3_column_int(s, 1);
	}
	sqlite3_reset(s);
	if (step == SQLITE_DONE)
		return ak_error_code(AK_ENOTFOUND, "no such message");
	return step == SQLITE_ROW ? 0 : dberr(q, "get");
}

int dq_requeue_inflight(struct dqueue *q, const char *campaign, int64_t *n)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(q->db,
	                       "UPDATE messages SET state = 1, next_at = 0 WHERE state = 2 AND "
	                       "(?1 IS NULL OR campaign = ?1)",
	                       -1, &s, NULL) != SQLITE_OK)
		return dberr(q, "requeue");
	if (campaign)
		sqlite3_bind_text(s, 1, campaign, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(q, "requeue");
	*n = sqlite3_changes(q->db);
	sqlite3_finalize(s);
	return rc;
}

int dq_next_due(struct dqueue *q, const char *campaign, int64_t *out)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	*out = 0;
	if (sqlite3_prepare_v2(q->db,
	                       "SELECT min(next_at) FROM messages WHERE state IN (1, 3) AND "
	                       "(?1 IS NULL OR campaign = ?1)",
	                       -1, &s, NULL) != SQLITE_OK)
		return dberr(q, "next due");
	if (campaign)
		sqlite3_bind_text(s, 1, campaign, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else
		rc = dberr(q, "next due");
	sqlite3_finalize(s);
	return rc;
}

int dq_counts(struct dqueue *q, const char *campaign, int gateway, struct delivery_counts *out)
{
	sqlite3_stmt *s = NULL;
	int rc = 0, step;

	memset(out, 0, sizeof(*out));
	/* With gateway, a campaign is also every message submitted through
	 * the gateway under its name (each a campaign row of its own, named
	 * by its submission id), those still queued and those finished and
	 * removed (gateway_done). */
	if (sqlite3_prepare_v2(q->db,
	                       "SELECT state, count(*) FROM messages WHERE ?1 IS NULL OR campaign "
	                       "= ?1 OR (?2 AND campaign IN (SELECT id FROM submissions WHERE "
	                       "campaign = ?1)) GROUP BY state "
	                       "UNION ALL SELECT state, n FROM gateway_done WHERE ?2 AND "
	                       "campaign = ?1",
	                       -1, &s, NULL) != SQLITE_OK)
		return dberr(q, "counts");
	if (campaign)
		sqlite3_bind_text(s, 1, campaign, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, gateway);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t n = sqlite3_column_int64(s, 1);

		switch (sqlite3_column_int(s, 0)) {
		case DQ_NEW:
			out->pending += n;
			break;
		case DQ_READY:
			out->queued += n;
			break;
		case DQ_INFLIGHT:
			out->inflight += n;
			break;
		case DQ_DEFERRED:
			out->deferred += n;
			break;
		case DQ_SENT:
			out->sent += n;
			break;
		case DQ_BOUNCED:
			out->bounced += n;
			break;
		case DQ_BLOCKED:
			out->blocked += n;
			break;
		case DQ_EXPIRED:
			out->expired += n;
			break;
		}
		out->total += n;
	}
	if (step != SQLITE_DONE)
		rc = dberr(q, "counts");
	sqlite3_finalize(s);
	return rc;
}

/* Did messages come in through the gateway under this campaign name? */
static int gateway_campaign(struct dqueue *q, const char *name)
{
	sqlite3_stmt *s = NULL;
	int found;

	if (sqlite3_prepare_v2(q->db,
	                       "SELECT 1 FROM submissions WHERE campaign = ?1 UNION ALL "
	                       "SELECT 1 FROM gateway_done WHERE campaign = ?1 LIMIT 1",
	                       -1, &s, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return found;
}

int delivery_status(const char *queue_path, const char *campaign, struct delivery_counts *out)
{
	struct dqueue *q = NULL;
	struct dq_campaign c;
	int rc;

	if (access(queue_path, F_OK) != 0)
		return ak_error_code(AK_ENOTFOUND, "no delivery queue at %s", queue_path);
	if ((rc = dq_open(&q, queue_path, 0)) != 0)
		return rc;
	if (campaign && (rc = dq_campaign_get(q, campaign, &c)) == 0)
		dq_campaign_clear(&c);
	if (rc == AK_ENOTFOUND && gateway_campaign(q, campaign))
		rc = 0;
	if (rc == 0)
		rc = dq_counts(q, campaign, 1, out);
	dq_close(q);
	return rc;
}
