/*
 * policies/repo.c - the policy repository (see policies/repo.h): policy
 * files read from a git commit with libgit2, their history, and the
 * repository `akashi init` makes of the shipped set.
 *
 * Nothing here looks at a work tree: a ref is resolved to a commit, and
 * every byte comes from the blobs of that commit's tree, so what is checked
 * or enforced is exactly what the commit id names. The repository that
 * policy_repo_init() makes is bare for the same reason: people edit a clone
 * and push, and akashi reads commits.
 *
 * Every public call brackets its work with git_libgit2_init() and
 * git_libgit2_shutdown() (which count), so callers need not know libgit2.
 *
 * SECURITY: a policy repository is outside input: names and bytes of files
 * come from whoever can push. Only blobs at the top of the tree are read,
 * each bounded by POLICY_FILE_MAX; symbolic links are refused, not
 * followed; file names are escaped before they appear in a message.
 */
#include "policies/repo.h"

#include "lib/error.h"
#include "policies/policy_default.h"
#include "policies/policy_int.h"

#include <dirent.h>
#include <errno.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALERTS_FILE "alerts.json"

/* ---- libgit2 plumbing ---- */

/* The libgit2 error as ours, with context. */
static int git_fail(int code, const char *what)
{
	const git_error *e = git_error_last();

	return ak_error_code(code, "%s: %s", what, e && e->message ? e->message : "libgit2 failed");
}

static int open_repo(git_repository **out, const char *path)
{
	int rc;

	*out = NULL;
	rc = git_repository_open_ext(out, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	if (rc == GIT_ENOTFOUND)
		return ak_error_code(AK_ENOTFOUND, "%s: not a git repository", path);
	if (rc < 0)
		return git_fail(AK_ERROR, path);
	return 0;
}

/* The commit ref names: any revision libgit2 parses (HEAD, a branch, a
 * tag, refs/..., a full or abbreviated id, main~2). */
static int resolve(git_commit **out, git_repository *repo, const char *path, const char *ref)
{
	git_object *obj = NULL;
	int rc;

	*out = NULL;
	rc = git_revparse_single(&obj, repo, ref);
	if (rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC || rc == GIT_EUNBORNBRANCH)
		return ak_error_code(AK_ENOTFOUND, "%s: no commit '%s'%s", path, ref,
		                     git_repository_head_unborn(repo) == 1 ? " (no commits yet)"
		                                                           : "");
	if (rc == GIT_EAMBIGUOUS)
		return ak_error_code(AK_ENOTFOUND, "%s: '%s' is ambiguous", path, ref);
	if (rc < 0)
		return git_fail(AK_ERROR, path);
	rc = git_object_peel((git_object **)out, obj, GIT_OBJECT_COMMIT);
	git_object_free(obj);
	if (rc < 0)
		return ak_error_code(AK_EINVALID, "%s: '%s' does not name a commit", path, ref);
	return 0;
}

/* Open repo_path and resolve ref (NULL: HEAD). */
static int open_commit(git_repository **repo, git_commit **commit, const char *repo_path,
                       const char *ref)
{
	int rc;

	*commit = NULL;
	if ((rc = open_repo(repo, repo_path)) != 0)
		return rc;
	return resolve(commit, *repo, repo_path, ref ? ref : "HEAD");
}

static int is_json_name(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && strcmp(name + n - 5, ".json") == 0;
}

/* ---- errors of a commit, collected and ordered ---- */

struct lint_item {
	size_t file_index; /* tree order; (size_t)-1 for the commit itself */
	size_t seq;        /* order found, to keep the sort stable */
	int line, column;
	char *file, *message;
};

struct errlist {
	struct lint_item *v;
	size_t n, cap;
	size_t file_index; /* of the file being checked */
};

static int errlist_add(struct errlist *l, const char *file, int line, int column, const char *msg)
{
	struct lint_item *it;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct lint_item *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return ak_error_oom();
		l->v = v;
		l->cap = cap;
	}
	it = &l->v[l->n];
	it->file_index = l->file_index;
	it->seq = l->n;
	it->line = line;
	it->column = column;
	it->file = strdup(file);
	it->message = strdup(msg);
	if (it->file == NULL || it->message == NULL) {
		free(it->file);
		free(it->message);
		return ak_error_oom();
	}
	l->n++;
	return 0;
}

static int collect(void *ctx, const struct policy_lint_error *e)
{
	return errlist_add(ctx, e->file, e->line, e->column, e->message);
}

static void errlist_free(struct errlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].file);
		free(l->v[i].message);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* File order, then position; an error of a whole file after those with a
 * position. */
static int item_cmp(const void *a, const void *b)
{
	const struct lint_item *x = a, *y = b;
	long lx = x->line ? x->line : (long)1 << 40, ly = y->line ? y->line : (long)1 << 40;

	if (x->file_index != y->file_index)
		return x->file_index < y->file_index ? -1 : 1;
	if (lx != ly)
		return lx < ly ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* "FILE:LINE:COLUMN: message", leaving out what is unknown. */
static void format_item(char *out, size_t size, const struct lint_item *it)
{
	if (*it->file == '\0')
		snprintf(out, size, "%s", it->message);
	else if (it->line == 0)
		snprintf(out, size, "%s: %s", it->file, it->message);
	else
		snprintf(out, size, "%s:%d:%d: %s", it->file, it->line, it->column, it->message);
}

/* ---- checking a commit ---- */

/* An id and where it is, to report duplicates. */
struct seen_id {
	char *id, *file;
	size_t file_index;
	int line, column;
};

struct checker {
	git_repository *repo;
	struct errlist errs;
	struct seen_id *ids;
	size_t nids;
	size_t npolicies;       /* files checked as policies, valid or not */
	struct policy_set *set; /* filled when not NULL */
};

static int add_policy(struct policy_set *set, struct policy_checked *c)
{
	struct policy *p = realloc(set->policies, (set->n + 1) * sizeof(*p));

	if (p == NULL)
		return ak_error_oom();
	set->policies = p;
	if (json_array_append(set->root, c->values) != 0)
		return ak_error_oom();
	/* The strings move into the set; params, cites and scope stay in
	 * c->values, which set->root now holds too. */
	p[set->n++] = c->policy;
	memset(&c->policy, 0, sizeof(c->policy));
	return 0;
}

static int note_id(struct checker *ck, const char *file, const struct policy_checked *c)
{
	struct seen_id *s;

	if (c->id == NULL)
		return 0;
	s = realloc(ck->ids, (ck->nids + 1) * sizeof(*s));
	if (s == NULL)
		return ak_error_oom();
	ck->ids = s;
	s = &s[ck->nids];
	s->id = strdup(c->id);
	s->file = strdup(file);
	s->file_index = ck->errs.file_index;
	s->line = c->id_line;
	s->column = c->id_column;
	if (s->id == NULL || s->file == NULL) {
		free(s->id);
		free(s->file);
		return ak_error_oom();
	}
	ck->nids++;
	return 0;
}

/* An error in every file whose id another file has too, naming the
 * others: no order between the files makes one of them "the" duplicate. */
static int report_duplicates(struct checker *ck)
{
	const struct seen_id *a, *b;
	char msg[1024];
	size_t i, j, o;
	int n, rc;

	for (i = 0; i < ck->nids; i++) {
		a = &ck->ids[i];
		o = 0;
		for (j = 0; j < ck->nids; j++) {
			b = &ck->ids[j];
			if (j == i || strcmp(a->id, b->id) != 0)
				continue;
			if (o == 0)
				n = snprintf(msg, sizeof(msg),
				             "id: duplicate id '%s' (also in %s:%d:%d", a->id,
				             b->file, b->line, b->column);
			else
				n = snprintf(msg + o, sizeof(msg) - o, ", %s:%d:%d", b->file,
				             b->line, b->column);
			if (n < 0 || (size_t)n >= sizeof(msg) - o - 1)
				break; /* keep room for the ')' */
			o += (size_t)n;
		}
		if (o == 0)
			continue;
		snprintf(msg + o, sizeof(msg) - o, ")");
		ck->errs.file_index = a->file_index;
		if ((rc = errlist_add(&ck->errs, a->file, a->line, a->column, msg)) != 0)
			return rc;
	}
	return 0;
}

static int check_entry(struct checker *ck, const git_tree_entry *e)
{
	struct policy_checked c;
	const char *name = git_tree_entry_name(e);
	char file[POLICY_SHOWN_SIZE];
	git_blob *blob = NULL;
	const char *data;
	size_t len;
	int rc;

	policy_shown(file, name, strlen(name));
	if (strcmp(name, ALERTS_FILE) != 0)
		ck->npolicies++;
	if (git_tree_entry_filemode(e) == GIT_FILEMODE_LINK)
		return errlist_add(&ck->errs, file, 0, 0,
		                   "a symbolic link (policy files must be regular files)");
	if (git_blob_lookup(&blob, ck->repo, git_tree_entry_id(e)) < 0)
		return git_fail(AK_ERROR, file);
	len = (size_t)git_blob_rawsize(blob);
	data = git_blob_rawcontent(blob);
	if (data == NULL)
		data = "";
	if (len > POLICY_FILE_MAX) {
		git_blob_free(blob);
		return errlist_add(&ck->errs, file, 0, 0, "larger than 1 MiB");
	}
	if (strcmp(name, ALERTS_FILE) == 0) {
		rc = policy_alerts_check(file, data, len, collect, &ck->errs,
		                         ck->set ? &ck->set->alerts : NULL);
	} else {
		rc = policy_file_check(file, data, len, collect, &ck->errs, &c);
		if (rc == 0 || rc == AK_EINVALID) {
			int rc2 = note_id(ck, file, &c);

			/* The policy keeps the real name, messages the shown one. */
			if (rc2 == 0 && rc == 0 && ck->set) {
				free(c.policy.path);
				c.policy.path = strdup(name);
				rc2 = c.policy.path ? add_policy(ck->set, &c) : ak_error_oom();
			}
			if (rc2 != 0)
				rc = rc2;
		}
		policy_checked_clear(&c);
	}
	git_blob_free(blob);
	return rc == AK_EINVALID ? 0 : rc;
}

/* Check every policy file of commit into ck->errs (sorted), and fill
 * ck->set when there is one. 0 when the check ran, whatever it found. */
static int check_commit(struct checker *ck, git_commit *commit)
{
	git_tree *tree = NULL;
	const git_tree_entry *e;
	size_t i, n;
	int rc = 0;

	if (git_commit_tree(&tree, commit) < 0)
		return git_fail(AK_ERROR, "reading the commit's tree");
	n = git_tree_entrycount(tree);
	for (i = 0; i < n && rc == 0; i++) {
		e = git_tree_entry_byindex(tree, i);
		/* Directories and submodules are not policy files. */
		if (!is_json_name(git_tree_entry_name(e)) ||
		    git_tree_entry_type(e) != GIT_OBJECT_BLOB)
			continue;
		ck->errs.file_index = i;
		rc = check_entry(ck, e);
	}
	if (rc == 0)
		rc = report_duplicates(ck);
	if (rc == 0 && ck->npolicies == 0) {
		ck->errs.file_index = (size_t)-1;
		rc = errlist_add(&ck->errs, "", 0, 0,
		                 "no policy files (*.json at the top of the tree)");
	}
	if (rc == 0 && ck->errs.n > 1)
		qsort(ck->errs.v, ck->errs.n, sizeof(*ck->errs.v), item_cmp);
	git_tree_free(tree);
	return rc;
}

static void checker_free(struct checker *ck)
{
	size_t i;

	errlist_free(&ck->errs);
	for (i = 0; i < ck->nids; i++) {
		free(ck->ids[i].id);
		free(ck->ids[i].file);
	}
	free(ck->ids);
}

/* ---- loading and linting ---- */

void policy_set_free(struct policy_set *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++) {
		struct policy *p = &set->policies[i];

		free(p->id);
		free(p->title);
		free(p->control);
		free(p->severity);
		free(p->path);
	}
	free(set->policies);
	free(set->ref);
	json_decref(set->alerts);
	json_decref(set->root);
	free(set);
}

int policy_load(struct policy_set **out, const char *repo_path, const char *ref)
{
	struct checker ck = {0};
	struct policy_set *set = NULL;
	git_repository *repo = NULL;
	git_commit *commit = NULL;
	char first[1024];
	int rc;

	*out = NULL;
	git_libgit2_init();
	if ((rc = open_commit(&repo, &commit, repo_path, ref)) != 0)
		goto done;
	if ((set = calloc(1, sizeof(*set))) == NULL || (set->root = json_array()) == NULL ||
	    (set->ref = strdup(ref ? ref : "HEAD")) == NULL) {
		rc = ak_error_oom();
		goto done;
	}
	git_oid_tostr(set->commit, sizeof(set->commit), git_commit_id(commit));
	ck.repo = repo;
	ck.set = set;
	if ((rc = check_commit(&ck, commit)) != 0)
		goto done;
	if (ck.errs.n > 0) {
		format_item(first, sizeof(first), &ck.errs.v[0]);
		if (ck.errs.n == 1)
			rc = ak_error_code(AK_EINVALID, "%s", first);
		else
			rc = ak_error_code(AK_EINVALID, "%s (and %zu more; see akashi policy lint)",
			                   first, ck.errs.n - 1);
		goto done;
	}
	*out = set;
	set = NULL;
done:
	policy_set_free(set);
	checker_free(&ck);
	git_commit_free(commit);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

int policy_lint(const char *repo_path, const char *ref,
                int (*cb)(void *ctx, const struct policy_lint_error *e), void *ctx, size_t *nerrors)
{
	struct checker ck = {0};
	struct policy_lint_error e;
	git_repository *repo = NULL;
	git_commit *commit = NULL;
	size_t i;
	int rc;

	if (nerrors)
		*nerrors = 0;
	git_libgit2_init();
	if ((rc = open_commit(&repo, &commit, repo_path, ref)) != 0)
		goto done;
	ck.repo = repo;
	if ((rc = check_commit(&ck, commit)) != 0)
		goto done;
	if (nerrors)
		*nerrors = ck.errs.n;
	for (i = 0; i < ck.errs.n && rc == 0; i++) {
		e.file = ck.errs.v[i].file;
		e.line = ck.errs.v[i].line;
		e.column = ck.errs.v[i].column;
		e.message = ck.errs.v[i].message;
		rc = cb ? cb(ctx, &e) : 0;
	}
done:
	checker_free(&ck);
	git_commit_free(commit);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

int policy_resolve(const char *repo_path, const char *ref, char out[41])
{
	git_repository *repo = NULL;
	git_commit *commit = NULL;
	int rc;

	git_libgit2_init();
	if ((rc = open_commit(&repo, &commit, repo_path, ref)) == 0)
		git_oid_tostr(out, 41, git_commit_id(commit));
	git_commit_free(commit);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

int policy_files(const char *repo_path, const char *commit_ref,
                 int (*cb)(void *ctx, const char *path, const void *data, size_t len), void *ctx)
{
	git_repository *repo = NULL;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_blob *blob;
	const git_tree_entry *e;
	size_t i, n;
	int rc;

	git_libgit2_init();
	if ((rc = open_commit(&repo, &commit, repo_path, commit_ref)) != 0)
		goto done;
	if (git_commit_tree(&tree, commit) < 0) {
		rc = git_fail(AK_ERROR, "reading the commit's tree");
		goto done;
	}
	n = git_tree_entrycount(tree);
	for (i = 0; i < n && rc == 0; i++) {
		e = git_tree_entry_byindex(tree, i);
		if (!is_json_name(git_tree_entry_name(e)) ||
		    git_tree_entry_type(e) != GIT_OBJECT_BLOB ||
		    git_tree_entry_filemode(e) == GIT_FILEMODE_LINK)
			continue;
		if (git_blob_lookup(&blob, repo, git_tree_entry_id(e)) < 0) {
			rc = git_fail(AK_ERROR, git_tree_entry_name(e));
			break;
		}
		rc = cb(ctx, git_tree_entry_name(e), git_blob_rawcontent(blob),
		        (size_t)git_blob_rawsize(blob));
		git_blob_free(blob);
	}
done:
	git_tree_free(tree);
	git_commit_free(commit);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

/* ---- history ---- */

struct changes {
	struct policy_change *v;
	size_t n, cap;
};

static void changes_clear(struct changes *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		free((char *)c->v[i].file);
		free((char *)c->v[i].id);
	}
	c->n = 0;
}

/* The id in the blob oid, or NULL. */
static char *blob_id(git_repository *repo, const git_oid *oid)
{
	git_blob *blob = NULL;
	char *id = NULL;

	if (git_blob_lookup(&blob, repo, oid) == 0 &&
	    (size_t)git_blob_rawsize(blob) <= POLICY_FILE_MAX)
		id = policy_file_id(git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
	git_blob_free(blob);
	return id;
}

/* The policy files commit changed against its first parent (all of them
 * for a root commit), in path order. */
static int commit_changes(git_repository *repo, git_commit *commit, struct changes *out)
{
	git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
	git_commit *parent = NULL;
	git_tree *old_tree = NULL, *new_tree = NULL;
	git_diff *diff = NULL;
	const git_diff_delta *d;
	struct policy_change *ch;
	const char *path;
	size_t i, n;
	int rc = 0;

	if (git_commit_tree(&new_tree, commit) < 0 ||
	    (git_commit_parentcount(commit) > 0 && (git_commit_parent(&parent, commit, 0) < 0 ||
	                                            git_commit_tree(&old_tree, parent) < 0)) ||
	    git_diff_tree_to_tree(&diff, repo, old_tree, new_tree, &opts) < 0) {
		rc = git_fail(AK_ERROR, "comparing a commit with its parent");
		goto done;
	}
	n = git_diff_num_deltas(diff);
	for (i = 0; i < n; i++) {
		char status;

		d = git_diff_get_delta(diff, i);
		switch (d->status) {
		case GIT_DELTA_ADDED:
			status = 'A';
			break;
		case GIT_DELTA_DELETED:
			status = 'D';
			break;
		case GIT_DELTA_MODIFIED:
		case GIT_DELTA_TYPECHANGE:
			status = 'M';
			break;
		default:
			continue;
		}
		path = status == 'D' ? d->old_file.path : d->new_file.path;
		if (strchr(path, '/') != NULL || !is_json_name(path))
			continue;
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 8;

			if ((ch = realloc(out->v, cap * sizeof(*ch))) == NULL) {
				rc = ak_error_oom();
				goto done;
			}
			out->v = ch;
			out->cap = cap;
		}
		ch = &out->v[out->n];
		ch->status = status;
		ch->id = NULL;
		if ((ch->file = strdup(path)) == NULL) {
			rc = ak_error_oom();
			goto done;
		}
		out->n++;
		if (strcmp(path, ALERTS_FILE) != 0)
			ch->id = blob_id(repo, status == 'D' ? &d->old_file.id : &d->new_file.id);
	}
done:
	git_diff_free(diff);
	git_tree_free(old_tree);
	git_tree_free(new_tree);
	git_commit_free(parent);
	return rc;
}

int policy_history(const char *repo_path, const char *ref,
                   int (*cb)(void *ctx, const struct policy_commit_info *c), void *ctx)
{
	struct changes changes = {0};
	struct policy_commit_info info;
	git_repository *repo = NULL;
	git_commit *start = NULL, *c = NULL;
	git_revwalk *walk = NULL;
	const git_signature *author;
	git_oid oid;
	int rc, got;

	git_libgit2_init();
	if ((rc = open_commit(&repo, &start, repo_path, ref)) != 0)
		goto done;
	if (git_revwalk_new(&walk, repo) < 0 ||
	    git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME) < 0 ||
	    git_revwalk_push(walk, git_commit_id(start)) < 0) {
		rc = git_fail(AK_ERROR, repo_path);
		goto done;
	}
	while ((got = git_revwalk_next(&oid, walk)) == 0) {
		if (git_commit_lookup(&c, repo, &oid) < 0) {
			rc = git_fail(AK_ERROR, repo_path);
			break;
		}
		if ((rc = commit_changes(repo, c, &changes)) != 0)
			break;
		author = git_commit_author(c);
		git_oid_tostr(info.commit, sizeof(info.commit), &oid);
		info.author = author->name ? author->name : "";
		info.email = author->email ? author->email : "";
		info.time_us = (int64_t)author->when.time * 1000000;
		info.summary = git_commit_summary(c) ? git_commit_summary(c) : "";
		info.changes = changes.v;
		info.nchanges = changes.n;
		rc = cb(ctx, &info);
		changes_clear(&changes);
		git_commit_free(c);
		c = NULL;
		if (rc != 0)
			break;
	}
	if (rc == 0 && got != GIT_ITEROVER)
		rc = git_fail(AK_ERROR, repo_path);
done:
	changes_clear(&changes);
	free(changes.v);
	git_commit_free(c);
	git_revwalk_free(walk);
	git_commit_free(start);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

/* ---- a new repository of the shipped set ---- */

/* Whether dir is missing or an empty directory. */
static int missing_or_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int empty = 1;

	if (d == NULL)
		return errno == ENOENT;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

/* The shipped files must pass the same check as any commit; a failure is
 * a bug in policies/default/ that the unit tests catch first. */
static int check_defaults(void)
{
	const struct policy_default_file *f;
	struct errlist errs = {0};
	char first[1024];
	int rc = 0;

	for (f = policy_default_files; f->name && rc == 0; f++) {
		if (strcmp(f->name, ALERTS_FILE) == 0)
			rc = policy_alerts_check(f->name, (const char *)f->data, f->len, collect,
			                         &errs, NULL);
		else
			rc = policy_file_check(f->name, (const char *)f->data, f->len, collect,
			                       &errs, NULL);
	}
	if (errs.n > 0) {
		format_item(first, sizeof(first), &errs.v[0]);
		rc = ak_error_set("the shipped policy %s", first);
	}
	errlist_free(&errs);
	return rc;
}

int policy_repo_init(const char *dir)
{
	git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
	const struct policy_default_file *f;
	git_repository *repo = NULL;
	git_treebuilder *tb = NULL;
	git_tree *tree = NULL;
	git_signature *sig = NULL;
	git_oid oid;
	int rc;

	git_libgit2_init();
	if (git_repository_open_ext(&repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) == 0) {
		rc = ak_error_code(AK_EEXISTS, "%s is already a git repository", dir);
		goto done;
	}
	if (!missing_or_empty(dir)) {
		rc = ak_error_code(AK_EEXISTS, "%s exists and is not an empty directory", dir);
		goto done;
	}
	if ((rc = check_defaults()) != 0)
		goto done;
	opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH |
	             GIT_REPOSITORY_INIT_NO_REINIT;
	opts.initial_head = "main";
	opts.description = "akashi policies: edit a clone, push, and akashi reads the commit";
	if (git_repository_init_ext(&repo, dir, &opts) < 0 ||
	    git_treebuilder_new(&tb, repo, NULL) < 0) {
		rc = git_fail(AK_ERROR, dir);
		goto done;
	}
	for (f = policy_default_files; f->name; f++)
		if (git_blob_create_from_buffer(&oid, repo, f->data, f->len) < 0 ||
		    git_treebuilder_insert(NULL, tb, f->name, &oid, GIT_FILEMODE_BLOB) < 0) {
			rc = git_fail(AK_ERROR, f->name);
			goto done;
		}
	if (git_treebuilder_write(&oid, tb) < 0 || git_tree_lookup(&tree, repo, &oid) < 0 ||
	    git_signature_now(&sig, "akashi", "akashi@localhost") < 0 ||
	    git_commit_create(&oid, repo, "HEAD", sig, sig, NULL,
	                      "The shipped default policies\n\nMade by akashi init.\n", tree, 0,
	                      NULL) < 0) {
		rc = git_fail(AK_ERROR, dir);
		goto done;
	}
done:
	git_signature_free(sig);
	git_tree_free(tree);
	git_treebuilder_free(tb);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}
