/*
 * evidence/appender.c - pipelined appending (see evidence.h): the caller's
 * thread prepares batch k+1 while a writer thread commits batch k.
 *
 * A prepared batch carries the head it was prepared against (base) and the
 * head it leads to (after). The writer takes the write lock, reads the
 * head, and if it is still `base` inserts the prepared rows as they are;
 * the dedupe key of every record is inserted first, and a key already
 * present (a duplicate, or a collision that evidence_dedupe_confirm()
 * tells apart) sends the batch down the ordinary path, as does a
 * head moved by another writer. Either way the batch is one transaction and
 * the log is exactly what evidence_append() would have made of it; the
 * ordinary path then tells the preparing side the real head so the batches
 * after it are prepared right again.
 */
#include "evidence/evidence_int.h"

#include "lib/error.h"
#include "lib/timefmt.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct pbatch {
	size_t n, cap;
	struct evidence_record *recs;
	size_t *roff; /* offset of each record's copy in data */
	struct ak_buf data;
	/* prepared */
	int prepared;
	struct ak_buf bytes;
	size_t *eoff;
	unsigned char (*leaf)[EVIDENCE_HASH_LEN];
	unsigned char (*dkey)[EVIDENCE_DKEY_LEN];
	struct evidence_node *nodes;
	size_t nnodes, nodes_cap;
	struct evidence_head base, after;
};

struct evidence_appender {
	struct evidence_store *st;
	struct evidence_walcopy *wc; /* NULL: SQLite's own checkpoints */
	size_t batch;
	struct evidence_hasher *h;
	struct evidence_head tip;
	struct pbatch b[2];
	int cur;
	pthread_t thr;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pbatch *pending;
	int busy, stop;
	int err;
	char errmsg[2048];
	int resync;
	struct evidence_head real;
	struct evidence_append_result total;
};

static void pbatch_free(struct pbatch *b)
{
	free(b->recs);
	free(b->roff);
	ak_buf_free(&b->data);
	ak_buf_free(&b->bytes);
	free(b->eoff);
	free(b->leaf);
	free(b->dkey);
	free(b->nodes);
}

static int pbatch_init(struct pbatch *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->cap = cap;
	b->recs = calloc(cap, sizeof(*b->recs));
	b->roff = calloc(cap, sizeof(*b->roff));
	b->eoff = calloc(cap + 1, sizeof(*b->eoff));
	b->leaf = calloc(cap, sizeof(*b->leaf));
	b->dkey = calloc(cap, sizeof(*b->dkey));
	ak_buf_init(&b->data, (size_t)1 << 31);
	ak_buf_init(&b->bytes, (size_t)1 << 31);
	if (!b->recs || !b->roff || !b->eoff || !b->leaf || !b->dkey)
		return ak_error_oom();
	return 0;
}

/* Point the records' fields into data, which may have moved while it grew. */
static void fix_pointers(struct pbatch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		struct evidence_record *r = &b->recs[i];
		char *base = b->data.data + b->roff[i];
		size_t kl = strlen(base);

		r->kind = base;
		r->source = base + kl + 1;
		r->body = r->source + r->source_len;
		if (r->dedupe)
			r->dedupe = r->body + r->body_len;
	}
}

static int prepare(struct evidence_appender *a, struct pbatch *b)
{
	char received[AK_TIME_MAX], tm[AK_TIME_MAX];
	int received_len, tm_len = 0, ndone, rc;
	int64_t last_time = INT64_MIN;
	struct evidence_node done[64];
	size_t i, k;

	fix_pointers(b);
	b->base = a->tip;
	b->nnodes = 0;
	ak_buf_reset(&b->bytes);
	if ((received_len = evidence_received_now(&a->tip, received)) < 0)
		return received_len;
	for (i = 0; i < b->n; i++) {
		const struct evidence_record *r = &b->recs[i];

		if ((rc = evidence_check_record(r, i)) != 0)
			return rc;
		if (r->time_us != last_time) {
			if ((tm_len = ak_time_format(tm, r->time_us, AK_TIME_AUTO)) < 0)
				return tm_len;
			last_time = r->time_us;
		}
		if (r->dedupe && (rc = evidence_dedupe_key(a->h, r, b->dkey[i])) != 0)
			return rc;
		b->eoff[i] = b->bytes.len;
		if ((rc = evidence_assemble(&b->bytes, r, a->tip.size + 1, received,
					    (size_t)received_len, tm, (size_t)tm_len)) != 0)
			return rc;
		if ((rc = evidence_leaf_hash(a->h, b->bytes.data + b->eoff[i],
					     b->bytes.len - b->eoff[i], b->leaf[i])) != 0 ||
		    (rc = evidence_chain_hash(a->h, a->tip.chain, b->leaf[i], a->tip.chain)) != 0 ||
		    (rc = evidence_frontier_push(a->h, &a->tip.frontier, b->leaf[i], done, &ndone)) !=
			    0)
			return rc;
		for (k = 0; k < (size_t)ndone; k++) {
			if (b->nnodes == b->nodes_cap) {
				size_t cap = b->nodes_cap ? b->nodes_cap * 2 : 16;
				void *p = realloc(b->nodes, cap * sizeof(*b->nodes));

				if (p == NULL)
					return ak_error_oom();
				b->nodes = p;
				b->nodes_cap = cap;
			}
			b->nodes[b->nnodes++] = done[k];
		}
		a->tip.size++;
	}
	b->eoff[b->n] = b->bytes.len;
	b->after = a->tip;
	b->prepared = 1;
	return 0;
}

/* The fast path inside the transaction: 1 if it applied, 0 if the batch
 * must take the ordinary path (nothing was written that is kept), <0. */
static int commit_prepared(struct evidence_store *st, struct pbatch *b,
			   struct evidence_append_result *res)
{
	size_t i;
	int rc;

	if ((rc = evidence_prepare_statements(st)) != 0)
		return rc;
	for (i = 0; i < b->n; i++) {
		if (!b->recs[i].dedupe)
			continue;
		if ((rc = evidence_insert_dedupe(st, b->dkey[i], b->base.size + 1 + (int64_t)i)) <=
		    0)
			return rc;
	}
	for (i = 0; i < b->n; i++) {
		struct evidence_entry e;

		e.seq = b->base.size + 1 + (int64_t)i;
		e.kind = b->recs[i].kind;
		e.time_us = b->recs[i].time_us;
		e.bytes = b->bytes.data + b->eoff[i];
		e.len = b->eoff[i + 1] - b->eoff[i];
		e.body = e.bytes + 8;
		e.body_len = b->recs[i].body_len;
		e.parsed = NULL;
		if ((rc = evidence_insert_entry(st, &e, b->leaf[i])) != 0)
			return rc;
	}
	if ((rc = evidence_insert_nodes(st, b->nodes, b->nnodes)) != 0 ||
	    (rc = evidence_head_put(st, &b->after)) != 0)
		return rc;
	res->appended = b->n;
	res->duplicates = 0;
	res->first_seq = b->n ? b->base.size + 1 : 0;
	res->last_seq = b->n ? b->after.size : 0;
	res->size = b->after.size;
	return 1;
}

static int same_head(const struct evidence_head *x, const struct evidence_head *y)
{
	return x->size == y->size && memcmp(x->chain, y->chain, EVIDENCE_HASH_LEN) == 0;
}

static int commit_batch(struct evidence_appender *a, struct pbatch *b,
			struct evidence_append_result *res, int *resynced)
{
	struct evidence_store *st = a->st;
	struct evidence_head head;
	int rc;

	*resynced = 0;
	memset(res, 0, sizeof(*res));
	if ((rc = evidence_begin(st)) != 0)
		return rc;
	if ((rc = evidence_head_get(st, &head)) != 0)
		goto fail;
	if (b->prepared && same_head(&head, &b->base)) {
		rc = commit_prepared(st, b, res);
		if (rc < 0)
			goto fail;
		if (rc == 1)
			return evidence_commit(st);
		/* A duplicate: start the transaction over on the ordinary path. */
		evidence_rollback(st);
		if ((rc = evidence_begin(st)) != 0)
			return rc;
		if ((rc = evidence_head_get(st, &head)) != 0)
			goto fail;
	}
	fix_pointers(b);
	if ((rc = evidence_append_locked(st, &head, b->recs, b->n, NULL, res)) != 0)
		goto fail;
	if ((rc = evidence_commit(st)) != 0)
		return rc;
	a->real = head;
	*resynced = 1;
	return 0;
fail:
	evidence_rollback(st);
	return rc;
}

static void *writer(void *arg)
{
	struct evidence_appender *a = arg;

	for (;;) {
		struct evidence_append_result res;
		struct pbatch *b;
		int rc, resynced;

		pthread_mutex_lock(&a->mu);
		while (a->pending == NULL && !a->stop)
			pthread_cond_wait(&a->cv, &a->mu);
		if (a->pending == NULL) {
			pthread_mutex_unlock(&a->mu);
			break;
		}
		b = a->pending;
		a->pending = NULL;
		a->busy = 1;
		pthread_mutex_unlock(&a->mu);

		evidence_walcopy_enter(a->wc);
		rc = a->err ? 0 : commit_batch(a, b, &res, &resynced);
		evidence_walcopy_leave(a->wc);

		pthread_mutex_lock(&a->mu);
		if (rc != 0 && a->err == 0) {
			a->err = rc;
			snprintf(a->errmsg, sizeof(a->errmsg), "%s", ak_error_last());
		} else if (rc == 0 && a->err == 0) {
			a->total.appended += res.appended;
			a->total.duplicates += res.duplicates;
			if (res.first_seq && a->total.first_seq == 0)
				a->total.first_seq = res.first_seq;
			if (res.last_seq)
				a->total.last_seq = res.last_seq;
			a->total.size = res.size ? res.size : a->total.size;
			if (resynced)
				a->resync = 1;
		}
		a->busy = 0;
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->mu);
	}
	return NULL;
}

static int writer_error(struct evidence_appender *a)
{
	return ak_error_code(a->err, "%s", a->errmsg);
}

/* Prepare the current batch and hand it to the writer. */
static int flush(struct evidence_appender *a)
{
	struct pbatch *b = &a->b[a->cur];
	int rc;

	if (b->n == 0)
		return 0;
	pthread_mutex_lock(&a->mu);
	/* A batch took the ordinary path, so the head differs from what we
	 * prepared against, and so does the batch in flight: let it land,
	 * then start again from the real head. */
	while (a->resync && !a->err) {
		while ((a->pending || a->busy) && !a->err)
			pthread_cond_wait(&a->cv, &a->mu);
		a->tip = a->real;
		a->resync = 0;
		if (a->pending == NULL && !a->busy)
			break;
	}
	pthread_mutex_unlock(&a->mu);
	rc = prepare(a, b);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&a->mu);
	while ((a->pending || a->busy) && !a->err)
		pthread_cond_wait(&a->cv, &a->mu);
	if (a->err) {
		pthread_mutex_unlock(&a->mu);
		return writer_error(a);
	}
	/* The writer is idle: the other buffer is free again. */
	a->pending = b;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	a->cur ^= 1;
	a->b[a->cur].n = 0;
	a->b[a->cur].prepared = 0;
	ak_buf_reset(&a->b[a->cur].data);
	return 0;
}

int evidence_appender_new(struct evidence_appender **out, struct evidence_store *st, size_t batch)
{
	struct evidence_appender *a = calloc(1, sizeof(*a));
	int rc;

	if (a == NULL)
		return ak_error_oom();
	a->st = st;
	a->batch = batch ? batch : 1000;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	if ((rc = pbatch_init(&a->b[0], a->batch)) != 0 ||
	    (rc = pbatch_init(&a->b[1], a->batch)) != 0 || (rc = evidence_hasher_new(&a->h)) != 0 ||
	    (rc = evidence_head_get(st, &a->tip)) != 0) {
		evidence_appender_free(a);
		return rc;
	}
	/* Without a copier (no second connection), commits copy the log
	 * themselves as usual. */
	if (evidence_walcopy_start(&a->wc, st) != 0)
		a->wc = NULL;
	if (pthread_create(&a->thr, NULL, writer, a) != 0) {
		evidence_appender_free(a);
		return ak_error_set("cannot start the writer thread");
	}
	a->started = 1;
	*out = a;
	return 0;
}

int evidence_appender_add(struct evidence_appender *a, const struct evidence_record *r)
{
	struct pbatch *b = &a->b[a->cur];
	size_t kl = strlen(r->kind ? r->kind : "");
	int rc;

	if (a->err)
		return writer_error(a);
	/* Its hashes are made before its transaction: nothing may depend on
	 * what the transaction finds. */
	if (r->wanted)
		return ak_error_code(AK_EINVALID,
		                     "a record with a condition goes through evidence_append()");
	b->roff[b->n] = b->data.len;
	if ((rc = ak_buf_append(&b->data, r->kind ? r->kind : "", kl + 1)) != 0 ||
	    (rc = ak_buf_append(&b->data, r->source, r->source_len)) != 0 ||
	    (rc = ak_buf_append(&b->data, r->body, r->body_len)) != 0 ||
	    (r->dedupe && (rc = ak_buf_append(&b->data, r->dedupe, r->dedupe_len)) != 0))
		return rc;
	b->recs[b->n] = *r;
	b->recs[b->n].parsed = NULL;
	b->recs[b->n].dedupe = r->dedupe ? "" : NULL; /* fixed up in fix_pointers() */
	b->n++;
	if (b->n == a->batch)
		return flush(a);
	return 0;
}

int evidence_appender_finish(struct evidence_appender *a, struct evidence_append_result *out)
{
	int rc = flush(a);

	pthread_mutex_lock(&a->mu);
	while ((a->pending || a->busy) && !a->err)
		pthread_cond_wait(&a->cv, &a->mu);
	a->stop = 1;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thr, NULL);
	a->started = 0;
	evidence_walcopy_stop(a->wc);
	a->wc = NULL;
	if (out)
		*out = a->total;
	if (a->err)
		return writer_error(a);
	return rc;
}

void evidence_appender_free(struct evidence_appender *a)
{
	if (a == NULL)
		return;
	if (a->started) {
		pthread_mutex_lock(&a->mu);
		a->stop = 1;
		a->pending = NULL;
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->thr, NULL);
	}
	evidence_walcopy_stop(a->wc);
	pbatch_free(&a->b[0]);
	pbatch_free(&a->b[1]);
	evidence_hasher_free(a->h);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a);
}
