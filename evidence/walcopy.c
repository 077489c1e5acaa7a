/*
 * evidence/walcopy.c - see evidence.h: WAL pages copied into the database
 * files (the log's and state.db) on a thread of its own, instead of inside
 * the writer's commits.
 *
 * SQLite's automatic checkpoint runs in the commit that crosses its
 * threshold: the writer stops appending while it reads the log back and
 * writes the database file, a fifth of a busy writer's time. Here a
 * second connection does passive checkpoints every 50 ms, which copy
 * pages while the writer goes on committing. Passive checkpoints never
 * let the log start over while commits keep coming, though, so past a
 * bound the writer is held between two transactions (enter() waits)
 * while the rest is copied and the log is reset: a busy handler polling
 * for the gaps between commits would miss them for seconds.
 */
#include "evidence/evidence_int.h"

#include "lib/error.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_NS (50 * 1000 * 1000)
#define RESTART_BYTES ((int64_t)64 << 20)

struct evidence_walcopy {
	struct evidence_store *st;
	sqlite3 *db;
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	int inside; /* the writer is between enter() and leave() */
	int hold;   /* the log is being reset: enter() waits */
	int64_t page[2]; /* page sizes of main and state (fixed once made) */
};

static const char *const schemas[] = {"main", "state"};

/* The log's and state.db's write-ahead logs, each copied as far as it can
 * be without waiting: the larger of their sizes in bytes. */
static int64_t copy_both(struct evidence_walcopy *c, int mode)
{
	int64_t most = 0;
	size_t i;

	for (i = 0; i < sizeof(schemas) / sizeof(*schemas); i++) {
		int frames = 0;

		if (sqlite3_wal_checkpoint_v2(c->db, schemas[i], mode, &frames, NULL) != SQLITE_OK &&
		    mode != SQLITE_CHECKPOINT_PASSIVE)
			return -1;
		if (frames * c->page[i] > most)
			most = frames * c->page[i];
	}
	return most;
}

static void *copier(void *arg)
{
	struct evidence_walcopy *c = arg;
	int64_t bytes, bound = RESTART_BYTES;

	pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += TICK_NS;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		while (!c->stop && pthread_cond_timedwait(&c->cv, &c->mu, &ts) != ETIMEDOUT)
			;
		if (c->stop)
			break;
		pthread_mutex_unlock(&c->mu);
		bytes = copy_both(c, SQLITE_CHECKPOINT_PASSIVE);
		pthread_mutex_lock(&c->mu);
		if (bytes <= bound)
			continue;
		c->hold = 1;
		while (c->inside && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		pthread_mutex_unlock(&c->mu);
		/* A reader in another process holding an old snapshot makes the
		 * restart give up after a second: the bound then doubles, so such
		 * a reader costs the writer a pause per doubling of the log, not
		 * one every round. */
		if (copy_both(c, SQLITE_CHECKPOINT_RESTART) >= 0)
			bound = RESTART_BYTES;
		else
			bound = bytes * 2;
		pthread_mutex_lock(&c->mu);
		c->hold = 0;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int evidence_walcopy_start(struct evidence_walcopy **out, struct evidence_store *st)
{
	struct evidence_walcopy *c;
	size_t i;
	int rc;

	*out = NULL;
	if (st->readonly)
		return 0; /* it writes nothing: no log to copy */
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return ak_error_oom();
	c->st = st;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	/* A connection checkpoints nothing until it has opened the WAL: the
	 * journal_mode pragma makes it read the database once. */
	if (sqlite3_open_v2(sqlite3_db_filename(st->db, "main"), &c->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(c->db, 1000) != SQLITE_OK) {
		rc = ak_error_set("WAL copier: %s", c->db ? sqlite3_errmsg(c->db) : "out of memory");
		goto fail;
	}
	if ((rc = evidence_attach_state(c->db, st->dir, 0, NULL, 0)) != 0) {
		ak_error_prefix("WAL copier");
		goto fail;
	}
	for (i = 0; i < sizeof(schemas) / sizeof(*schemas); i++) {
		sqlite3_stmt *q = NULL;
		char sql[64];

		snprintf(sql, sizeof(sql), "PRAGMA %s.page_size", schemas[i]);
		if (sqlite3_prepare_v2(c->db, sql, -1, &q, NULL) == SQLITE_OK &&
		    sqlite3_step(q) == SQLITE_ROW)
			c->page[i] = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	}
	if ((rc = pthread_create(&c->thr, NULL, copier, c)) != 0) {
		rc = ak_error_set("WAL copier: cannot start its thread: %s", strerror(rc));
		goto fail;
	}
	pthread_setname_np(c->thr, "akashi-walcopy");
	/* Only now: if anything above failed, the commits go on copying. */
	sqlite3_exec(st->db, "PRAGMA wal_autocheckpoint=0", NULL, NULL, NULL);
	*out = c;
	return 0;
fail:
	sqlite3_close_v2(c->db);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
	return rc;
}

void evidence_walcopy_enter(struct evidence_walcopy *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	while (c->hold)
		pthread_cond_wait(&c->cv, &c->mu);
	c->inside = 1;
	pthread_mutex_unlock(&c->mu);
}

void evidence_walcopy_leave(struct evidence_walcopy *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->inside = 0;
	if (c->hold) /* the copier waits for this transaction to end */
		pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

void evidence_walcopy_stop(struct evidence_walcopy *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thr, NULL);
	sqlite3_close_v2(c->db);
	sqlite3_exec(c->st->db, "PRAGMA wal_autocheckpoint=1000", NULL, NULL, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
