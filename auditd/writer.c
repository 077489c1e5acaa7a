/*
 * auditd/writer.c - group commit on one thread (see writer.h).
 *
 * Two lists under one mutex: `in` (jobs the loop submitted) and `out`
 * (jobs done, for the loop). The writer sleeps on a condition variable
 * while `in` is empty, then takes a group: consecutive append jobs up to
 * max_batch records, or one call job. Group commit comes mostly for free:
 * while one commit waits for its fsync, the requests that arrive queue up
 * and go together in the next one. max_wait_us adds a deliberate wait for
 * light loads where that is worth a little latency. WAL pages are copied
 * into the database file by a thread of their own (evidence_walcopy_*),
 * not inside this thread's commits.
 *
 * Durability: a job reaches `out`, and so its answer, only after
 * evidence_append() returned, i.e. after COMMIT with synchronous=FULL.
 */
#include "auditd/writer.h"

#include "lib/error.h"
#include "lib/log.h"
#include "lib/timefmt.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct writer {
	struct evidence_store *st;
	struct evidence_walcopy *wc; /* WAL pages copied off this thread; NULL: in commits */
	struct metrics *m;
	struct writer_hooks hooks;
	struct event *wake; /* on the loop: runs done callbacks */
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct writer_opts o;
	struct writer_job *in, *in_tail, *out, *out_tail;
	size_t in_records;
	int stop, stopped;
	/* writer thread only */
	struct evidence_record *recs;
	int64_t *seqs;
	size_t cap;
	int64_t last_idle_us;
	int64_t hook_first, hook_last; /* appended by the group being run */
};

struct writer_job *writer_job_new(enum writer_job_type type)
{
	struct writer_job *j = calloc(1, sizeof(*j));

	if (j)
		j->type = type;
	return j;
}

void writer_job_free(struct writer_job *j)
{
	if (j == NULL)
		return;
	ingest_batch_free(&j->batch);
	free(j);
}

static void set_error(struct writer_job *j, int rc)
{
	j->rc = rc;
	snprintf(j->error, sizeof(j->error), "%s", *ak_error_last() ? ak_error_last() : "failed");
}

/* ---- the loop side ---- */

static void run_done(struct writer_job *list)
{
	while (list) {
		struct writer_job *next = list->next;

		list->next = NULL;
		if (list->done)
			list->done(list);
		else
			writer_job_free(list);
		list = next;
	}
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct writer *w = arg;
	struct writer_job *list;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->mu);
	list = w->out;
	w->out = w->out_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	run_done(list);
}

int writer_submit(struct writer *w, struct writer_job *j)
{
	int rc = 0;

	j->next = NULL;
	j->queued_us = ak_time_now();
	pthread_mutex_lock(&w->mu);
	if (w->stop)
		rc = ak_error_set("the writer is stopping");
	else if (j->type == WRITER_APPEND && !j->always && w->in_records > 0 &&
	         w->in_records + j->batch.n > w->o.max_queue)
		rc = ak_error_code(AK_EBUSY, "the writer has %zu records queued; try again",
		                   w->in_records);
	if (rc == 0) {
		if (w->in_tail)
			w->in_tail->next = j;
		else
			w->in = j;
		w->in_tail = j;
		if (j->type == WRITER_APPEND)
			w->in_records += j->batch.n;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

void writer_post(struct writer *w, struct writer_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&w->mu);
	if (w->out_tail)
		w->out_tail->next = j;
	else
		w->out = j;
	w->out_tail = j;
	pthread_mutex_unlock(&w->mu);
	event_active(w->wake, EV_READ, 0);
}

int writer_submit_next(struct writer *w, struct writer_job *j)
{
	struct writer_job *last = j;
	int64_t now = ak_time_now();

	pthread_mutex_lock(&w->mu);
	if (w->stop) {
		pthread_mutex_unlock(&w->mu);
		return ak_error_set("the writer is stopping");
	}
	for (;; last = last->next) {
		last->queued_us = now;
		if (last->type == WRITER_APPEND)
			w->in_records += last->batch.n;
		if (last->next == NULL)
			break;
	}
	last->next = w->in;
	w->in = j;
	if (w->in_tail == NULL)
		w->in_tail = last;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

void writer_set_opts(struct writer *w, const struct writer_opts *o)
{
	pthread_mutex_lock(&w->mu);
	w->o = *o;
	if (w->o.max_batch == 0)
		w->o.max_batch = 1;
	pthread_mutex_unlock(&w->mu);
}

size_t writer_queued(struct writer *w)
{
	size_t n;

	pthread_mutex_lock(&w->mu);
	n = w->in_records;
	pthread_mutex_unlock(&w->mu);
	return n;
}

/* ---- the writer thread ---- */

static int reserve(struct writer *w, size_t n)
{
	struct evidence_record *r;
	int64_t *s;
	size_t cap = w->cap ? w->cap : 1024;

	if (n <= w->cap)
		return 0;
	while (cap < n)
		cap *= 2;
	if ((r = realloc(w->recs, cap * sizeof(*r))) == NULL)
		return ak_error_oom();
	w->recs = r;
	if ((s = realloc(w->seqs, cap * sizeof(*s))) == NULL)
		return ak_error_oom();
	w->seqs = s;
	w->cap = cap;
	return 0;
}

/* Count appended and duplicate records by kind into the metrics. */
static void count_kinds(struct writer *w, const struct evidence_record *r, const int64_t *seqs,
                        size_t n)
{
	struct {
		const char *kind;
		uint64_t appended, dups;
	} k[16];
	size_t nk = 0, i, j;
	char labels[64];

	for (i = 0; i < n; i++) {
		for (j = 0; j < nk && strcmp(k[j].kind, r[i].kind) != 0; j++)
			;
		if (j == nk) {
			if (nk == 16) {
				j = 15; /* folded; kinds are few */
			} else {
				k[nk].kind = r[i].kind;
				k[nk].appended = k[nk].dups = 0;
				nk++;
			}
		}
		if (seqs[i])
			k[j].appended++;
		else
			k[j].dups++;
	}
	for (j = 0; j < nk; j++) {
		snprintf(labels, sizeof(labels), "kind=\"%s\"", k[j].kind);
		if (k[j].appended)
			metrics_add(w->m, M_ENTRIES_APPENDED, labels, k[j].appended);
		if (k[j].dups)
			metrics_add(w->m, M_DUPLICATES, labels, k[j].dups);
	}
}

/* Append the records of jobs [first, end) in one transaction and fill in
 * each job's counts. */
static int commit_group(struct writer *w, struct writer_job *first, struct writer_job *end)
{
	struct evidence_append_result res = {0};
	struct writer_job *j;
	size_t n = 0, off = 0, njobs = 0;
	int64_t t0;
	int rc;

	for (j = first; j != end; j = j->next)
		n += j->batch.n, njobs++;
	if ((rc = reserve(w, n)) != 0)
		return rc;
	for (j = first; j != end; j = j->next) {
		memcpy(w->recs + off, j->batch.recs, j->batch.n * sizeof(*w->recs));
		off += j->batch.n;
	}
	t0 = ak_time_now();
	if ((rc = evidence_append(w->st, w->recs, n, w->seqs, &res)) != 0)
		return rc;
	if (w->m) {
		metrics_observe(w->m, M_COMMIT_SECONDS, (double)(ak_time_now() - t0) / 1e6);
		metrics_observe(w->m, M_BATCH_ENTRIES, (double)n);
		metrics_observe(w->m, M_BATCH_REQUESTS, (double)njobs);
		metrics_set(w->m, M_LOG_SIZE, NULL, (double)res.size);
		count_kinds(w, w->recs, w->seqs, n);
	}
	off = 0;
	for (j = first; j != end; j = j->next) {
		size_t i;

		j->appended = j->duplicates = 0;
		j->first_seq = j->last_seq = 0;
		for (i = 0; i < j->batch.n; i++) {
			int64_t s = w->seqs[off + i];

			if (s == 0) {
				j->duplicates++;
				continue;
			}
			j->appended++;
			if (j->first_seq == 0)
				j->first_seq = s;
			j->last_seq = s;
		}
		j->size = res.size;
		off += j->batch.n;
	}
	if (res.appended) {
		if (w->hook_first == 0)
			w->hook_first = res.first_seq;
		w->hook_last = res.last_seq;
	}
	return 0;
}

/* Move [first, end) to `out` and wake the loop. */
static void finish(struct writer *w, struct writer_job *first, struct writer_job *end)
{
	struct writer_job *j, *next;

	for (j = first; j != end; j = next) {
		next = j->next;
		if (j->type == WRITER_APPEND) {
			pthread_mutex_lock(&w->mu);
			w->in_records -= j->batch.n;
			pthread_mutex_unlock(&w->mu);
		}
		writer_post(w, j);
	}
}

/* Take the next group off `in` (the lock is held): [*first, *end). */
static void take_group(struct writer *w, struct writer_job **first, struct writer_job **end)
{
	struct writer_job *j = w->in;
	size_t n = 0;

	*first = j;
	if (j->type != WRITER_APPEND) {
		w->in = j->next;
	} else {
		while (j && j->type == WRITER_APPEND &&
		       (n == 0 || n + j->batch.n <= w->o.max_batch)) {
			n += j->batch.n;
			j = j->next;
		}
		w->in = j;
	}
	if (w->in == NULL)
		w->in_tail = NULL;
	*end = w->in;
}

/* Wait until the queued append records reach max_batch or max_wait_us
 * passed since the first was queued (the lock is held). */
static void gather(struct writer *w)
{
	struct timespec ts;
	int64_t deadline;

	if (w->o.max_wait_us <= 0 || w->in == NULL || w->in->type != WRITER_APPEND)
		return;
	deadline = w->in->queued_us + w->o.max_wait_us;
	while (!w->stop && w->in_records < w->o.max_batch) {
		int64_t now = ak_time_now();

		if (now >= deadline)
			break;
		ts.tv_sec = deadline / 1000000;
		ts.tv_nsec = (long)(deadline % 1000000) * 1000;
		if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT)
			break;
	}
}

static void run_group(struct writer *w, struct writer_job *first, struct writer_job *end)
{
	struct writer_job *j;
	int rc;

	if (first->type == WRITER_CALL) {
		first->rc = first->call ? first->call(w->st, first->arg) : 0;
		if (first->rc != 0)
			set_error(first, first->rc);
		finish(w, first, end);
		return;
	}
	if (first->type == WRITER_NOTE) {
		finish(w, first, end);
		return;
	}
	rc = commit_group(w, first, end);
	if (rc != 0 && first->next != end) {
		/* One bad request must not fail the others: again, one by one. */
		ak_log(AK_LOG_WARN, "group commit failed (%s); retrying its requests one by one",
		       ak_error_last());
		for (j = first; j != end; j = j->next) {
			struct writer_job *next = j->next;

			j->rc = commit_group(w, j, next);
			if (j->rc != 0)
				set_error(j, j->rc);
		}
	} else if (rc != 0) {
		set_error(first, rc);
	}
	finish(w, first, end);
	/* The answers are on their way; now whatever follows a commit
	 * (alert detectors) without delaying them. */
	if (w->hook_first && w->hooks.committed)
		w->hooks.committed(w->hooks.ctx, w->st, w->hook_first, w->hook_last);
	w->hook_first = w->hook_last = 0;
}

/* Background work waits until no job came for IDLE_AFTER_US; under a
 * load that never pauses it still gets a short slice every BUSY_EVERY_US. */
#define IDLE_AFTER_US 200000
#define BUSY_EVERY_US 3000000

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	int64_t last_job = ak_time_now();
	int more = w->hooks.idle != NULL;
	sigset_t all;

	/* Signals are the loop's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct writer_job *first, *end;
		int64_t now = ak_time_now();

		if (w->in == NULL) {
			struct timespec ts;
			int64_t until;

			if (w->stop)
				break;
			if (w->hooks.idle && now - last_job >= IDLE_AFTER_US &&
			    (more || now - w->last_idle_us >= 1000000)) {
				pthread_mutex_unlock(&w->mu);
				evidence_walcopy_enter(w->wc);
				more = w->hooks.idle(w->hooks.ctx, w->st, 0);
				evidence_walcopy_leave(w->wc);
				w->last_idle_us = ak_time_now();
				pthread_mutex_lock(&w->mu);
				continue;
			}
			/* Sleep until a job comes, or until background work is
			 * due (soon when there is more of it, else in a second). */
			until = now - last_job < IDLE_AFTER_US ? last_job + IDLE_AFTER_US
			                                       : now + (more ? 0 : 1000000);
			if (until > now) {
				ts.tv_sec = until / 1000000;
				ts.tv_nsec = (long)(until % 1000000) * 1000;
				pthread_cond_timedwait(&w->cv, &w->mu, &ts);
			}
			continue;
		}
		gather(w);
		take_group(w, &first, &end);
		pthread_mutex_unlock(&w->mu);
		evidence_walcopy_enter(w->wc);
		run_group(w, first, end);
		last_job = ak_time_now();
		if (w->hooks.idle && last_job - w->last_idle_us >= BUSY_EVERY_US) {
			more = w->hooks.idle(w->hooks.ctx, w->st, 1);
			w->last_idle_us = ak_time_now();
		}
		evidence_walcopy_leave(w->wc);
		pthread_mutex_lock(&w->mu);
	}
	w->stopped = 1;
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int writer_new(struct writer **out, struct evidence_store *st, struct event_base *base,
               struct metrics *m, const struct writer_opts *o, const struct writer_hooks *hooks)
{
	struct writer *w = calloc(1, sizeof(*w));
	int rc;

	if (w == NULL)
		return ak_error_oom();
	w->st = st;
	w->m = m;
	if (hooks)
		w->hooks = *hooks;
	w->o = *o;
	if (w->o.max_batch == 0)
		w->o.max_batch = 1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->last_idle_us = ak_time_now();
	w->wake = event_new(base, -1, 0, on_wake, w);
	if (w->wake == NULL) {
		writer_free(w);
		return ak_error_oom();
	}
	/* Without a copier the commits copy the log themselves, as usual. */
	if (evidence_walcopy_start(&w->wc, st) != 0)
		ak_log(AK_LOG_WARN, "WAL pages will be copied inside commits: %s", ak_error_last());
	if ((rc = pthread_create(&w->thread, NULL, writer_main, w)) != 0) {
		writer_free(w);
		return ak_error_set("cannot start the writer thread: %s", strerror(rc));
	}
	pthread_setname_np(w->thread, o->name ? o->name : "akashi-writer");
	w->started = 1;
	*out = w;
	return 0;
}

void writer_stop(struct writer *w)
{
	struct writer_job *list;

	if (w == NULL || !w->started)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	w->started = 0;
	evidence_walcopy_stop(w->wc);
	w->wc = NULL;
	pthread_mutex_lock(&w->mu);
	list = w->out;
	w->out = w->out_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	run_done(list);
}

struct evidence_store *writer_store(struct writer *w)
{
	return w->st;
}

void writer_free(struct writer *w)
{
	if (w == NULL)
		return;
	writer_stop(w);
	evidence_walcopy_stop(w->wc); /* when the thread never started */
	if (w->wake)
		event_free(w->wake);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->recs);
	free(w->seqs);
	free(w);
}
