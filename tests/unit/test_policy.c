/*
 * tests/unit/test_policy.c - the policy repository (policies/repo.h) and
 * the check of a policy file (policies/policy_int.h).
 *
 * Each test makes real git repositories in a temporary directory with
 * libgit2, commits files with a fixed author and time, and reads them back
 * through the public calls. The lint cases state every message exactly,
 * with its FILE:LINE:COLUMN, so a change of wording or position shows here.
 */
#include "tests/unit/unit.h"

#include "lib/error.h"
#include "policies/policy_default.h"
#include "policies/policy_int.h"
#include "policies/repo.h"

#include <ftw.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------------- */
/* Fixtures: temporary directories and commits */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

struct fx {
	char dir[64];   /* the temporary directory */
	char repo[128]; /* dir/repo */
};

static void fx_new(struct fx *f)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/akashi-policy-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->repo, sizeof(f->repo), "%s/repo", f->dir);
}

static void fx_free(struct fx *f)
{
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void git_ok(int rc, const char *what)
{
	if (rc < 0) {
		const git_error *e = git_error_last();

		fail_msg("%s: %s", what, e ? e->message : "?");
	}
}

/* A new repository with a work tree at path. */
static void make_repo(const char *path)
{
	git_repository *r = NULL;
	git_repository_init_options o = GIT_REPOSITORY_INIT_OPTIONS_INIT;

	o.flags = GIT_REPOSITORY_INIT_MKPATH;
	o.initial_head = "main";
	git_libgit2_init();
	git_ok(git_repository_init_ext(&r, path, &o), "init");
	git_repository_free(r);
	git_libgit2_shutdown();
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/*
 * Commit on HEAD of the repository at path, by author at unix time `when`:
 * files is {name, text, name, text, ..., NULL}; a NULL text deletes the
 * file, a text "->TARGET" makes a symbolic link. The files are written to
 * the work tree too, as a person committing would have them. The commit id
 * goes to out (41 bytes) when not NULL.
 */
static void commit_as(const char *path, const char *author, int64_t when, const char *msg,
                      const char *const *files, char *out)
{
	git_repository *r = NULL;
	git_commit *parent = NULL;
	git_tree *base = NULL, *tree = NULL;
	git_treebuilder *tb = NULL;
	git_signature *sig = NULL;
	git_oid oid, head;
	char email[128], file[512];
	size_t i;

	git_libgit2_init();
	git_ok(git_repository_open(&r, path), "open");
	if (git_reference_name_to_id(&head, r, "HEAD") == 0) {
		git_ok(git_commit_lookup(&parent, r, &head), "parent");
		git_ok(git_commit_tree(&base, parent), "parent tree");
	}
	git_ok(git_treebuilder_new(&tb, r, base), "treebuilder");
	for (i = 0; files[i]; i += 2) {
		const char *name = files[i], *text = files[i + 1];

		snprintf(file, sizeof(file), "%s/%s", path, name);
		if (text == NULL) {
			git_ok(git_treebuilder_remove(tb, name), "remove");
			unlink(file);
		} else if (strncmp(text, "->", 2) == 0) {
			git_ok(git_blob_create_from_buffer(&oid, r, text + 2, strlen(text + 2)),
			       "blob");
			git_ok(git_treebuilder_insert(NULL, tb, name, &oid, GIT_FILEMODE_LINK),
			       "insert link");
		} else if (strchr(name, '/')) {
			/* One level of subdirectory: a tree holding the file. */
			git_treebuilder *sub = NULL;
			char dname[64];
			const char *slash = strchr(name, '/');

			snprintf(dname, sizeof(dname), "%.*s", (int)(slash - name), name);
			git_ok(git_treebuilder_new(&sub, r, NULL), "sub treebuilder");
			git_ok(git_blob_create_from_buffer(&oid, r, text, strlen(text)), "blob");
			git_ok(git_treebuilder_insert(NULL, sub, slash + 1, &oid,
			                              GIT_FILEMODE_BLOB),
			       "insert");
			git_ok(git_treebuilder_write(&oid, sub), "write sub");
			git_treebuilder_free(sub);
			git_ok(git_treebuilder_insert(NULL, tb, dname, &oid, GIT_FILEMODE_TREE),
			       "insert tree");
		} else {
			git_ok(git_blob_create_from_buffer(&oid, r, text, strlen(text)), "blob");
			git_ok(git_treebuilder_insert(NULL, tb, name, &oid, GIT_FILEMODE_BLOB),
			       "insert");
			if (!git_repository_is_bare(r))
				write_file(path, name, text);
		}
	}
	git_ok(git_treebuilder_write(&oid, tb), "write tree");
	git_ok(git_tree_lookup(&tree, r, &oid), "tree");
	snprintf(email, sizeof(email), "%s@example.com", author);
	git_ok(git_signature_new(&sig, author, email, when, 540), "signature");
	git_ok(git_commit_create(&oid, r, "HEAD", sig, sig, NULL, msg, tree, parent ? 1 : 0,
	                         (const git_commit **)&parent),
	       "commit");
	if (out)
		git_oid_tostr(out, 41, &oid);
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_free(base);
	git_treebuilder_free(tb);
	git_commit_free(parent);
	git_repository_free(r);
	git_libgit2_shutdown();
}

static void commit(const char *path, const char *msg, const char *const *files, char *out)
{
	commit_as(path, "alice", 1782000000, msg, files, out);
}

static const char MASS_5000[] = "{\"id\": \"mass\", \"title\": \"Big sends are approved\",\n"
                                " \"control\": \"send.mass_approval\", \"gate\": true,\n"
                                " \"params\": {\"threshold\": 5000}}\n";
static const char MASS_20000[] = "{\"id\": \"mass\", \"title\": \"Big sends are approved\",\n"
                                 " \"control\": \"send.mass_approval\", \"gate\": true,\n"
                                 " \"params\": {\"threshold\": 20000}}\n";
static const char DMARC[] = "{\"id\": \"dmarc\", \"title\": \"Aligned\","
                            " \"control\": \"dmarc.alignment\", \"severity\": \"low\"}\n";
static const char PASSWORDS[] = "{\"id\": \"passwords\", \"title\": \"Rotated\","
                                " \"control\": \"password.rotation\","
                                " \"params\": {\"profile\": \"nist-800-63b-4\"}}\n";

/* ---------------------------------------------------------------------- */
/* Collecting lint output */

struct lines {
	char *text[256];
	size_t n;
};

static int collect(void *ctx, const struct policy_lint_error *e)
{
	struct lines *l = ctx;
	char buf[2048];

	if (e->line)
		snprintf(buf, sizeof(buf), "%s:%d:%d: %s", e->file, e->line, e->column, e->message);
	else
		snprintf(buf, sizeof(buf), "%s: %s", e->file, e->message);
	assert_true(l->n < 256);
	l->text[l->n++] = strdup(buf);
	return 0;
}

static void lines_free(struct lines *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->text[i]);
	l->n = 0;
}

/* Lint ref of repo; the lines must be exactly want (NULL-terminated). */
static void lint_is(const char *repo, const char *ref, const char *const *want)
{
	struct lines got = {{0}, 0};
	size_t i, n = 99, nwant = 0;

	while (want[nwant])
		nwant++;
	assert_int_equal(policy_lint(repo, ref, collect, &got, &n), 0);
	for (i = 0; i < got.n || i < nwant; i++)
		if (i >= got.n || i >= nwant || strcmp(got.text[i], want[i]) != 0)
			fail_msg("error %zu:\n  got:  %s\n  want: %s", i,
			         i < got.n ? got.text[i] : "(none)",
			         i < nwant ? want[i] : "(none)");
	assert_int_equal(n, nwant);
	lines_free(&got);
}

/* By position: "p.json:L:C: ..." compared as numbers. */
static int by_position(const void *a, const void *b)
{
	const char *x = *(char *const *)a + strlen("p.json:"),
	           *y = *(char *const *)b + strlen("p.json:");
	long lx = strtol(x, NULL, 10), ly = strtol(y, NULL, 10);

	if (lx != ly)
		return lx < ly ? -1 : 1;
	lx = strtol(strchr(x, ':') + 1, NULL, 10);
	ly = strtol(strchr(y, ':') + 1, NULL, 10);
	return lx < ly ? -1 : lx > ly;
}

/* The errors of one file's text, checked without git, as "L:C: message"
 * in position order (the check reports them in the order it finds them). */
static void check_is(const char *text, const char *const *want)
{
	struct lines got = {{0}, 0};
	size_t i, nwant = 0;
	int rc;

	while (want[nwant])
		nwant++;
	rc = policy_file_check("p.json", text, strlen(text), collect, &got, NULL);
	assert_int_equal(rc, nwant ? AK_EINVALID : 0);
	qsort(got.text, got.n, sizeof(*got.text), by_position);
	for (i = 0; i < got.n || i < nwant; i++) {
		const char *g = i < got.n ? got.text[i] + strlen("p.json:") : "(none)";

		if (i >= nwant || strcmp(g, want[i]) != 0)
			fail_msg("in %s\nerror %zu:\n  got:  %s\n  want: %s", text, i, g,
			         i < nwant ? want[i] : "(none)");
	}
	lines_free(&got);
}

#define ERRORS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE        ((const char *const[]){NULL})
#define FILES(...)  ((const char *const[]){__VA_ARGS__, NULL})

/* ---------------------------------------------------------------------- */
/* Loading from refs */

static void test_policy__loads_each_ref_as_of_its_commit(void **state)
{
	struct policy_set *set = NULL;
	char c1[41], c2[41], abbrev[8];
	struct fx f;

	(void)state;
	fx_new(&f);
	make_repo(f.repo);
	commit(f.repo, "First", FILES("mass.json", MASS_5000, "dmarc.json", DMARC), c1);
	commit(f.repo, "Second",
	       FILES("mass.json", MASS_20000, "dmarc.json", NULL, "passwords.json", PASSWORDS), c2);

	assert_int_equal(policy_load(&set, f.repo, "HEAD"), 0);
	assert_string_equal(set->commit, c2);
	assert_string_equal(set->ref, "HEAD");
	assert_int_equal(set->n, 2);
	assert_int_equal(policy_param_int(policy_find(set, "mass"), "threshold"), 20000);
	assert_null(policy_find(set, "dmarc"));
	assert_string_equal(policy_param_string(policy_find(set, "passwords"), "profile"),
	                    "nist-800-63b-4");
	policy_set_free(set);

	/* The first commit by id, abbreviated id, and relative to HEAD. */
	snprintf(abbrev, sizeof(abbrev), "%.7s", c1);
	for (const char *const *ref = FILES(c1, abbrev, "HEAD~1", "main^"); *ref; ref++) {
		assert_int_equal(policy_load(&set, f.repo, *ref), 0);
		assert_string_equal(set->commit, c1);
		assert_string_equal(set->ref, *ref);
		assert_int_equal(set->n, 2);
		assert_int_equal(policy_param_int(policy_find(set, "mass"), "threshold"), 5000);
		assert_non_null(policy_find(set, "dmarc"));
		assert_null(policy_find(set, "passwords"));
		policy_set_free(set);
	}

	/* A branch and NULL (HEAD). */
	assert_int_equal(policy_load(&set, f.repo, "main"), 0);
	assert_string_equal(set->commit, c2);
	policy_set_free(set);
	assert_int_equal(policy_load(&set, f.repo, NULL), 0);
	assert_string_equal(set->commit, c2);
	policy_set_free(set);

	char out[41];
	assert_int_equal(policy_resolve(f.repo, "HEAD~1", out), 0);
	assert_string_equal(out, c1);
	fx_free(&f);
}

static void test_policy__loads_a_tag(void **state)
{
	struct policy_set *set = NULL;
	git_repository *r = NULL;
	git_object *target = NULL;
	git_signature *sig = NULL;
	git_oid oid;
	char c1[41];
	struct fx f;

	(void)state;
	fx_new(&f);
	make_repo(f.repo);
	commit(f.repo, "First", FILES("mass.json", MASS_5000), c1);
	/* An annotated tag peels to the commit. */
	git_libgit2_init();
	git_ok(git_repository_open(&r, f.repo), "open");
	git_ok(git_revparse_single(&target, r, "HEAD"), "HEAD");
	git_ok(git_signature_new(&sig, "alice", "alice@example.com", 1782000000, 0), "sig");
	git_ok(git_tag_create(&oid, r, "v1", target, sig, "Release 1", 0), "tag");
	git_signature_free(sig);
	git_object_free(target);
	git_repository_free(r);
	git_libgit2_shutdown();
	commit(f.repo, "Second", FILES("mass.json", MASS_20000), NULL);

	assert_int_equal(policy_load(&set, f.repo, "v1"), 0);
	assert_string_equal(set->commit, c1);
	assert_int_equal(policy_param_int(policy_find(set, "mass"), "threshold"), 5000);
	policy_set_free(set);
	assert_int_equal(policy_load(&set, f.repo, "refs/tags/v1"), 0);
	assert_string_equal(set->commit, c1);
	policy_set_free(set);
	fx_free(&f);
}

static void test_policy__fills_every_parameter_from_the_control_table(void **state)
{
	const struct policy_control_spec *c;
	const struct policy_param_spec *ps;
	struct policy_set *set = NULL;
	char text[512], name[128];
	const struct policy *p;
	struct fx f;

	(void)state;
	fx_new(&f);
	make_repo(f.repo);
	/* One policy per control, giving nothing but the required keys. */
	for (c = policy_controls; c->name; c++) {
		snprintf(name, sizeof(name), "p%d.json", (int)(c - policy_controls));
		snprintf(text, sizeof(text), "{\"id\":\"p%d\",\"title\":\"t\",\"control\":\"%s\"}",
		         (int)(c - policy_controls), c->name);
		commit(f.repo, "Add", FILES(name, text), NULL);
	}
	assert_int_equal(policy_load(&set, f.repo, "HEAD"), 0);
	for (c = policy_controls; c->name; c++) {
		snprintf(name, sizeof(name), "p%d", (int)(c - policy_controls));
		p = policy_find(set, name);
		assert_non_null(p);
		assert_ptr_equal(p->spec, c);
		assert_string_equal(p->control, c->name);
		assert_int_equal(p->gate, 0);
		assert_string_equal(p->severity, "medium");
		assert_int_equal(json_array_size(p->cites), 0);
		assert_true(json_is_object(p->scope) && json_object_size(p->scope) == 0);
		assert_int_equal(policy_scope_allows(p, "streams", "anything"), 1);
		for (ps = c->params; ps->name; ps++) {
			json_t *want = json_loads(ps->def, JSON_DECODE_ANY, NULL);

			assert_non_null(want);
			if (!json_equal(json_object_get(p->params, ps->name), want))
				fail_msg("%s.%s: not the default %s", c->name, ps->name, ps->def);
			json_decref(want);
		}
		assert_int_equal(json_object_size(p->params), ps - c->params);
	}
	policy_set_free(set);
	fx_free(&f);
}

/* Every default in the table passes the check of its own type when a
 * file gives it explicitly. */
static void test_policy__every_default_passes_its_own_check(void **state)
{
	const struct policy_control_spec *c;
	const struct policy_param_spec *ps;
	char text[1024];

	(void)state;
	for (c = policy_controls; c->name; c++)
		for (ps = c->params; ps->name; ps++) {
			snprintf(text, sizeof(text),
			         "{\"id\":\"x\",\"title\":\"t\",\"control\":\"%s\","
			         "\"params\":{\"%s\":%s}}",
			         c->name, ps->name, ps->def);
			check_is(text, NONE);
		}
}

static void test_policy__typed_parameters_read_back(void **state)
{
	static const char text[] =
	        "{\"id\":\"u\",\"title\":\"t\",\"control\":\"consent.unsubscribe_deadline\","
	        "\"params\":{\"profiles\":[\"jp\",\"gmail\"],\"holidays\":[\"2026-12-31\"]},"
	        "\"scope\":{\"lists\":[\"news\"]},\"cites\":[\"特定電子メール法 Art. 3(3)\"]}";
	static const char dmarc[] = "{\"id\":\"d\",\"title\":\"t\",\"control\":\"dmarc.alignment\","
	                            "\"params\":{\"warn_below\":\"0.99\"}}";
	struct policy_set *set = NULL;
	const struct policy *p;
	struct policy_duration d;
	struct fx f;

	(void)state;
	fx_new(&f);
	make_repo(f.repo);
	commit(f.repo, "Add", FILES("u.json", text, "d.json", dmarc), NULL);
	assert_int_equal(policy_load(&set, f.repo, "HEAD"), 0);
	p = policy_find(set, "u");
	assert_int_equal(policy_param_has(p, "profiles", "gmail"), 1);
	assert_int_equal(policy_param_has(p, "profiles", "casl"), 0);
	d = policy_param_duration(p, "jp_grace");
	assert_int_equal(d.n, 1);
	assert_int_equal(d.unit, POLICY_HOURS);
	d = policy_param_duration(p, "deadline"); /* "" is no duration */
	assert_int_equal(d.n, 0);
	assert_string_equal(policy_param_string(p, "timezone"), "Asia/Tokyo");
	assert_int_equal(json_array_size(policy_param_array(p, "holidays")), 1);
	assert_int_equal(policy_scope_allows(p, "lists", "news"), 1);
	assert_int_equal(policy_scope_allows(p, "lists", "other"), 0);
	assert_int_equal(policy_scope_allows(p, "streams", "marketing"), 1);
	assert_string_equal(json_string_value(json_array_get(p->cites, 0)),
	                    "特定電子メール法 Art. 3(3)");
	assert_string_equal(p->path, "u.json");
	p = policy_find(set, "d");
	assert_int_equal(policy_param_ratio_ppm(p, "warn_below"), 990000);
	assert_int_equal(policy_param_ratio_ppm(p, "fail_below"), 950000);
	assert_int_equal(policy_param_bool(p, "flag_p_none"), 1);
	assert_int_equal(policy_param_int(p, "top_sources"), 10);
	policy_set_free(set);
	fx_free(&f);
}

/* ---------------------------------------------------------------------- */
/* What lint reports, and where */

static void test_policy__reports_syntax_errors_where_they_are(void **state)
{
	(void)state;
	check_is("", ERRORS("1:1: unexpected end of input"));
	check_is("{\"id\": \"a\"\n \"title\": \"t\"}", ERRORS("2:2: expected ',' or '}'"));
	check_is("{\"id\": \"a\",\n  \"params\": {\"warn_below\": 0.98}}",
	         ERRORS("2:28: floating-point number not allowed (write it as a string)"));
	check_is("{\"id\": \"a\",\n \"id\": \"b\"}", ERRORS("2:2: duplicate key 'id'"));
	check_is("{\"id\": \"a\"} x", ERRORS("1:13: trailing data after the value"));
	/* Columns count characters: 日本 is two columns, not six. */
	check_is("{\"title\": \"日本\", \"x\": 1.5}",
	         ERRORS("1:22: floating-point number not allowed (write it as a string)"));
	check_is("{\"id\": \"a\",\r\n \"x\": 1e3}",
	         ERRORS("2:7: floating-point number not allowed (write it as a string)"));
}

static void test_policy__reports_the_keys_of_a_policy(void **state)
{
	(void)state;
	check_is("[1]", ERRORS("1:1: expected an object holding one policy, not an array"));
	check_is("  {}", ERRORS("1:3: missing key 'id'", "1:3: missing key 'title'",
	                        "1:3: missing key 'control'"));
	check_is("{\"id\":\"a\",\"title\":\"t\",\"control\":\"send.suppression\",\n"
	         "  \"gates\": true, \"Severity\": \"low\"}",
	         ERRORS("2:3: unknown key 'gates' (known: id, title, control, params, cites, "
	                "gate, severity, scope)",
	                "2:18: unknown key 'Severity' (known: id, title, control, params, cites, "
	                "gate, severity, scope)"));
	check_is("{\"id\": 7, \"title\": \"t\", \"control\": \"send.suppression\"}",
	         ERRORS("1:8: id: expected a string, not an integer"));
	check_is("{\"id\": \"Send_Suppression\", \"title\": \"t\", \"control\": "
	         "\"send.suppression\"}",
	         ERRORS("1:8: id: 'Send_Suppression' is not a policy id (lower-case letters, "
	                "digits and '-', starting with a letter or digit, at most 100 "
	                "characters)"));
	check_is("{\"id\": \"-a\", \"title\": \"t\", \"control\": \"send.suppression\"}",
	         ERRORS("1:8: id: '-a' is not a policy id (lower-case letters, digits and '-', "
	                "starting with a letter or digit, at most 100 characters)"));
	check_is("{\"id\": \"a\", \"title\": \"\", \"control\": \"send.suppression\"}",
	         ERRORS("1:22: title: must not be empty"));
	check_is("{\"id\": \"a\", \"title\": \"two\\nlines\", \"control\": \"send.suppression\"}",
	         ERRORS("1:22: title: must be one line without control characters"));
	check_is("{\"id\": \"a\", \"title\": \"t\", \"control\": \"send.mass\"}",
	         ERRORS("1:38: control: unknown control 'send.mass' (known: consent.optin_proof, "
	                "consent.unsubscribe_deadline, consent.proof_retention, access.review, "
	                "password.rotation, send.mass_approval, message.unsubscribe_headers, "
	                "dmarc.alignment, send.suppression)"));
	check_is("{\"id\": \"a\", \"title\": \"t\", \"control\": [\"send.suppression\"]}",
	         ERRORS("1:38: control: expected a string, not an array"));
	check_is("{\"id\": \"a\\u0000b\", \"title\": \"t\", \"control\": \"send.suppression\"}",
	         ERRORS("1:8: id: must not contain U+0000"));
}

static void test_policy__reports_gate_severity_cites_and_scope(void **state)
{
#define HEAD_ "{\"id\":\"a\",\"title\":\"t\",\"control\":\"access.review\",\n"
	(void)state;
	check_is(HEAD_ "\"gate\": true}",
	         ERRORS("2:9: gate: access.review cannot gate sends (it is checked by audits "
	                "only)"));
	check_is(HEAD_ "\"gate\": \"true\"}",
	         ERRORS("2:9: gate: expected true or false, not a string"));
	check_is(HEAD_ "\"gate\": false}", NONE);
	check_is(HEAD_ "\"severity\": \"urgent\"}",
	         ERRORS("2:13: severity: 'urgent' is not one of info, low, medium, high, "
	                "critical"));
	check_is(HEAD_ "\"cites\": \"GDPR\"}",
	         ERRORS("2:10: cites: expected an array of strings, not a string"));
	check_is(HEAD_ "\"cites\": [\"GDPR\", 7]}",
	         ERRORS("2:19: cites[1]: expected a string, not an integer"));
	check_is(HEAD_ "\"scope\": [\"marketing\"]}",
	         ERRORS("2:10: scope: expected an object, not an array"));
	check_is(HEAD_ "\"scope\": {\"teams\": [\"x\"], \"roles\": \"admin\",\n"
	               "  \"lists\": [\"news\", null]}}",
	         ERRORS("2:11: scope.teams: not a scope key (scope keys: streams, lists, domains, "
	                "roles)",
	                "2:36: scope.roles: expected an array of strings, not a string",
	                "3:21: scope.lists[1]: expected a string, not null"));
	check_is(HEAD_ "\"scope\": {\"roles\": [\"admin\"], \"domains\": [], \"streams\": [],"
	               " \"lists\": []}}",
	         NONE);
#undef HEAD_
}

static void test_policy__reports_each_parameter_type(void **state)
{
#define P_(control, params)                                                                        \
	"{\"id\":\"a\",\"title\":\"t\",\"control\":\"" control "\",\n\"params\": " params "}"
	(void)state;
	check_is(P_("send.mass_approval", "[]"),
	         ERRORS("2:11: params: expected an object, not an array"));
	check_is(P_("send.mass_approval", "{\"threshhold\": 10}"),
	         ERRORS("2:12: params.threshhold: not a parameter of send.mass_approval (its "
	                "parameters: threshold)"));
	/* integer >= 0 */
	check_is(P_("send.mass_approval", "{\"threshold\": \"10000\"}"),
	         ERRORS("2:25: params.threshold: expected an integer >= 0, not a string"));
	check_is(P_("send.mass_approval", "{\"threshold\": -1}"),
	         ERRORS("2:25: params.threshold: expected an integer >= 0, not -1"));
	check_is(P_("send.mass_approval", "{\"threshold\": 0}"), NONE);
	/* bool */
	check_is(P_("send.suppression", "{\"complaint\": 1}"),
	         ERRORS("2:25: params.complaint: expected true or false, not an integer"));
	/* duration, "" allowed only where it is the default */
	check_is(P_("password.rotation", "{\"max_age\": \"90 days\"}"),
	         ERRORS("2:23: params.max_age: '90 days' is not a duration (a whole number and "
	                "a unit: s, m, h, d, w, bd (business days), mo, y; e.g. \"90d\")"));
	check_is(P_("password.rotation", "{\"max_age\": \"\"}"),
	         ERRORS("2:23: params.max_age: '' is not a duration (a whole number and a unit: "
	                "s, m, h, d, w, bd (business days), mo, y; e.g. \"90d\")"));
	check_is(P_("password.rotation", "{\"max_age\": 90}"),
	         ERRORS("2:23: params.max_age: expected a string, not an integer"));
	check_is(P_("consent.unsubscribe_deadline", "{\"deadline\": \"\"}"), NONE);
	check_is(P_("consent.unsubscribe_deadline", "{\"deadline\": \"10bd\"}"), NONE);
	/* ratio */
	check_is(P_("dmarc.alignment", "{\"warn_below\": \"98%\"}"),
	         ERRORS("2:26: params.warn_below: '98%' is not a ratio from \"0\" to \"1\" "
	                "(e.g. \"0.98\")"));
	check_is(P_("dmarc.alignment", "{\"fail_below\": 1}"),
	         ERRORS("2:26: params.fail_below: expected a ratio as a string (e.g. \"0.98\"), "
	                "not an integer"));
	/* enum */
	check_is(P_("password.rotation", "{\"profile\": \"nist\"}"),
	         ERRORS("2:23: params.profile: 'nist' is not one of pci-dss-4, nist-800-63b-4, "
	                "off"));
	/* enums */
	check_is(P_("consent.unsubscribe_deadline", "{\"profiles\": [\"jp\", \"eu\"]}"),
	         ERRORS("2:31: params.profiles[1]: 'eu' is not one of jp, gmail, can-spam, "
	                "casl"));
	check_is(P_("consent.unsubscribe_deadline", "{\"profiles\": \"jp\"}"),
	         ERRORS("2:24: params.profiles: expected an array of strings, not a string"));
	/* strings */
	check_is(P_("dmarc.alignment", "{\"domains\": [\"example.com\", 5]}"),
	         ERRORS("2:39: params.domains[1]: expected a string, not an integer"));
	/* string */
	check_is(P_("consent.unsubscribe_deadline", "{\"timezone\": 9}"),
	         ERRORS("2:24: params.timezone: expected a string, not an integer"));
	/* dates */
	check_is(P_("consent.unsubscribe_deadline",
	            "{\"holidays\": [\"2026-12-31\", \"2026-02-29\", \"2026-1-1\", 20261231]}"),
	         ERRORS("2:39: params.holidays[1]: '2026-02-29' is not a date (YYYY-MM-DD)",
	                "2:53: params.holidays[2]: '2026-1-1' is not a date (YYYY-MM-DD)",
	                "2:65: params.holidays[3]: expected a string, not an integer"));
	check_is(P_("consent.unsubscribe_deadline", "{\"holidays\": {}}"),
	         ERRORS("2:24: params.holidays: expected an array of dates (\"YYYY-MM-DD\"), "
	                "not an object"));
	/* Parameters of an unknown control cannot be checked: only the control
	 * is reported. */
	check_is(P_("nope", "{\"x\": 1}"),
	         ERRORS("1:33: control: unknown control 'nope' (known: consent.optin_proof, "
	                "consent.unsubscribe_deadline, consent.proof_retention, access.review, "
	                "password.rotation, send.mass_approval, message.unsubscribe_headers, "
	                "dmarc.alignment, send.suppression)"));
#undef P_
}

static void test_policy__quotes_file_text_safely(void **state)
{
	(void)state;
	/* A control character in a key is escaped in the message. */
	check_is("{\"id\":\"a\",\"title\":\"t\",\"control\":\"send.suppression\","
	         "\"x\\u001b[31m\": 1}",
	         ERRORS("1:52: unknown key 'x\\u001b[31m' (known: id, title, control, params, "
	                "cites, gate, severity, scope)"));
}

static void test_policy__stops_after_a_hundred_errors_in_a_file(void **state)
{
	char text[4096];
	struct lines got = {{0}, 0};
	size_t o;
	int i;

	(void)state;
	o = (size_t)snprintf(text, sizeof(text),
	                     "{\"id\":\"a\",\"title\":\"t\",\"control\":\"dmarc.alignment\","
	                     "\"params\":{\"domains\":[");
	for (i = 0; i < 150; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%d", i ? "," : "", i);
	snprintf(text + o, sizeof(text) - o, "]}}");
	assert_int_equal(policy_file_check("p.json", text, strlen(text), collect, &got, NULL),
	                 AK_EINVALID);
	assert_int_equal(got.n, POLICY_FILE_MAX_ERRORS + 1);
	assert_string_equal(got.text[POLICY_FILE_MAX_ERRORS], "p.json: 50 more errors not shown");
	lines_free(&got);
}

/* Through git: files in tree order, errors by position within a file,
 * duplicate ids naming both places. */
static void test_policy__lints_a_commit_in_file_then_position_order(void **state)
{
	struct fx f;

	(void)state;
	fx_new(&f);
	make_repo(f.repo);
	commit(f.repo, "Good", FILES("mass.json", MASS_5000, "dmarc.json", DMARC), NULL);
	commit(f.repo, "Broken",
	       FILES("b.json",
	             "{\"id\": \"mass\",\n"
	             " \"title\": \"Copy\",\n"
	             " \"control\": \"send.mass_approval\",\n"
	             " \"params\": {\"threshold\": 1.5}}\n",
	             "a.json",
	             "{\"params\": {\"limit\": 1},\n"
	             " \"id\": \"dmarc\",\n"
	             " \"control\": \"send.mass_approval\",\n"
	             " \"title\": \"t\", \"gate\": 1}\n",
	             "z.json",
	             "{\"id\": \"mass\", \"title\": \"Again\", \"control\": "
	             "\"send.mass_approval\"}"),
	       NULL);
	lint_is(f.repo, "HEAD",
	        ERRORS("a.json:1:13: params.limit: not a parameter of send.mass_approval (its "
	               "parameters: threshold)",
	               "a.json:2:8: id: duplicate id 'dmarc' (also in dmarc.json:1:8)",
	               "a.json:4:24: gate: expected true or false, not an integer",
	               "b.json:4:26: floating-point number not allowed (write it as a string)",
	               "dmarc.json:1:8: id: duplicate id 'dmarc' (also in a.json:2:8)",
	               "mass.json:1:8: id: duplicate id 'mass' (also in z.json:1:8)",
	               "z.json:1:8: id: duplicate id 'mass' (also in mass.json:1:8)"));
	lint_is(f.repo, "HEAD~1", NONE);
	fx_free(&f);
}

static void test_policy__load_fails_with_the_first_error(void **state)
{
	struct policy_set *set = (struct policy_set *)1;
	struct fx f;

	(void)state;
	fx_new(&f);
	make_repo(f.repo);
	commit(f.repo, "Broken",
	       FILES("a.json", "{\"id\": \"a\", \"title\": \"t\", \"control\": \"x\"}", "b.json",
	             "{\"id\": \"a\"}"),
	       NULL);
	assert_int_equal(policy_load(&set, f.repo, "HEAD"), AK_EINVALID);
	assert_null(set);
	/* The first by position; "a" is in both files. */
	assert_string_equal(ak_error_last(),
	                    "a.json:1:8: id: duplicate id 'a' (also in b.json:1:8) "
	                    "(and 4 more; see akashi policy lint)");
	fx_free(&f);
}

static void test_policy__finds_duplicate_ids_across_files(void **state)
{
	struct policy_set *set = NULL;
	struct fx f;

	(void)state;
	fx_new(&f);
	make_repo(f.repo);
	commit(f.repo, "Two of a kind",
	       FILES("one.json", MASS_5000, "two.json", MASS_20000, "three.json", MASS_5000), NULL);
	/* Each file names the others (tree order: one, three, two). */
	lint_is(f.repo, "HEAD",
	        ERRORS("one.json:1:8: id: duplicate id 'mass' (also in three.json:1:8, "
	               "two.json:1:8)",
	               "three.json:1:8: id: duplicate id 'mass' (also in one.json:1:8, "
	               "two.json:1:8)",
	               "two.json:1:8: id: duplicate id 'mass' (also in one.json:1:8, "
	               "three.json:1:8)"));
	assert_int_equal(policy_load(&set, f.repo, "HEAD"), AK_EINVALID);
	assert_null(set);
	fx_free(&f);
}

/* ---------------------------------------------------------------------- */
/* The tree: alerts.json, what is ignored, what is refused */

static void test_policy__loads_alerts_json_as_it_is(void **state)
{
	static const char alerts[] =
	        "{\"rules\": [{\"id\": \"login.bruteforce_user\", \"threshold\": 10,"
	        " \"window\": \"10m\"}], \"sinks\": {\"syslog\": true}}";
	struct policy_set *set = NULL;
	json_t *want;
	struct fx f;

	(void)state;
	fx_new(&f);
	make_repo(f.repo);
	commit(f.repo, "Policies", FILES("mass.json", MASS_5000), NULL);
	assert_int_equal(policy_load(&set, f.repo, "HEAD"), 0);
	assert_null(set->alerts);
	policy_set_free(set);

	commit(f.repo, "Alerts", FILES("alerts.json", alerts), NULL);
	assert_int_equal(policy_load(&set, f.repo, "HEAD"), 0);
	assert_int_equal(set->n, 1); /* alerts.json is not a policy */
	want = json_loads(alerts, 0, NULL);
	assert_true(json_equal(set->alerts, want));
	json_decref(want);
	policy_set_free(set);

	commit(f.repo, "Broken alerts", FILES("alerts.json", "[{\"rules\": []}]"), NULL);
	lint_is(f.repo, "HEAD",
	        ERRORS("alerts.json:1:1: expected an object holding the alert rules, not an "
	               "array"));
	commit(f.repo, "Float in alerts", FILES("alerts.json", "{\"rate\":\n  0.3}"), NULL);
	lint_is(f.repo, "HEAD",
	        ERRORS("alerts.json:2:3: floating-point number not allowed (write it as a "
	               "string)"));
	fx_free(&f);
}

static void test_policy__ignores_subdirectories_and_other_files(void **state)
{
	struct policy_set *set = NULL;
	struct fx f;

	(void)state;
	fx_new(&f);
	make_repo(f.repo);
	commit(f.repo, "Mixed",
	       FILES("mass.json", MASS_5000, "README.md", "not json {", "drafts/x.json", "{broken",
	             "mass.json.orig", "{broken", ".json", "{broken"),
	       NULL);
	lint_is(f.repo, "HEAD", NONE);
	assert_int_equal(policy_load(&set, f.repo, "HEAD"), 0);
	assert_int_equal(set->n, 1);
	policy_set_free(set);
	fx_free(&f);
}

static void test_policy__refuses_symbolic_links_and_empty_commits(void **state)
{
	struct fx f;

	(void)state;
	fx_new(&f);
	make_repo(f.repo);
	commit(f.repo, "Only a readme", FILES("README.md", "policies go here"), NULL);
	lint_is(f.repo, "HEAD", ERRORS(": no policy files (*.json at the top of the tree)"));
	commit(f.repo, "A link", FILES("mass.json", MASS_5000, "link.json", "->/etc/passwd"), NULL);
	lint_is(f.repo, "HEAD",
	        ERRORS("link.json: a symbolic link (policy files must be regular files)"));
	fx_free(&f);
}

/* An edit in the work tree, staged or not, changes nothing until it is
 * committed. */
static void test_policy__reads_the_commit_never_the_work_tree(void **state)
{
	struct policy_set *set = NULL;
	git_repository *r = NULL;
	git_index *idx = NULL;
	char c1[41];
	struct fx f;

	(void)state;
	fx_new(&f);
	make_repo(f.repo);
	commit(f.repo, "Policies", FILES("mass.json", MASS_5000), c1);
	write_file(f.repo, "mass.json", MASS_20000);
	write_file(f.repo, "broken.json", "{\"id\": 1.5}");
	assert_int_equal(policy_load(&set, f.repo, "HEAD"), 0);
	assert_string_equal(set->commit, c1);
	assert_int_equal(set->n, 1);
	assert_int_equal(policy_param_int(policy_find(set, "mass"), "threshold"), 5000);
	policy_set_free(set);
	lint_is(f.repo, "HEAD", NONE);

	/* Staged in the index: still not read. */
	git_libgit2_init();
	git_ok(git_repository_open(&r, f.repo), "open");
	git_ok(git_repository_index(&idx, r), "index");
	git_ok(git_index_add_bypath(idx, "mass.json"), "add");
	git_ok(git_index_add_bypath(idx, "broken.json"), "add");
	git_ok(git_index_write(idx), "write index");
	git_index_free(idx);
	git_repository_free(r);
	git_libgit2_shutdown();
	assert_int_equal(policy_load(&set, f.repo, "HEAD"), 0);
	assert_int_equal(policy_param_int(policy_find(set, "mass"), "threshold"), 5000);
	policy_set_free(set);
	lint_is(f.repo, "HEAD", NONE);
	fx_free(&f);
}

/* A file name is quoted safely in messages, and kept as it is in the
 * loaded policy. */
static void test_policy__escapes_file_names_in_messages(void **state)
{
	struct policy_set *set = NULL;
	struct fx f;

	(void)state;
	fx_new(&f);
	make_repo(f.repo);
	commit(f.repo, "Odd name", FILES("tab\there.json", MASS_5000), NULL);
	assert_int_equal(policy_load(&set, f.repo, "HEAD"), 0);
	assert_string_equal(set->policies[0].path, "tab\there.json");
	policy_set_free(set);
	commit(f.repo, "Odd and broken", FILES("tab\there.json", "{\"id\": 1.5}"), NULL);
	lint_is(f.repo, "HEAD",
	        ERRORS("tab\\u0009here.json:1:8: floating-point number not allowed (write it as a "
	               "string)"));
	fx_free(&f);
}

/* ---------------------------------------------------------------------- */
/* Refs and repositories that are not there */

static void test_policy__refuses_a_ref_that_does_not_exist(void **state)
{
	struct policy_set *set = NULL;
	size_t n = 7;
	char out[41];
	struct fx f;

	(void)state;
	fx_new(&f);
	make_repo(f.repo);
	/* No commit at all yet. */
	assert_int_equal(policy_load(&set, f.repo, "HEAD"), AK_ENOTFOUND);
	assert_non_null(strstr(ak_error_last(), "no commit 'HEAD' (no commits yet)"));
	commit(f.repo, "Policies", FILES("mass.json", MASS_5000), NULL);
	assert_int_equal(policy_load(&set, f.repo, "release"), AK_ENOTFOUND);
	assert_null(set);
	assert_non_null(strstr(ak_error_last(), "no commit 'release'"));
	assert_int_equal(policy_load(&set, f.repo, "HEAD~5"), AK_ENOTFOUND);
	assert_int_equal(policy_load(&set, f.repo, "0123456789abcdef"), AK_ENOTFOUND);
	assert_int_equal(policy_lint(f.repo, "release", collect, NULL, &n), AK_ENOTFOUND);
	assert_int_equal(n, 0);
	assert_int_equal(policy_resolve(f.repo, "release", out), AK_ENOTFOUND);
	/* A revision that names a blob, not a commit. */
	assert_int_equal(policy_load(&set, f.repo, "HEAD:mass.json"), AK_EINVALID);
	assert_non_null(strstr(ak_error_last(), "does not name a commit"));
	fx_free(&f);
}

static int no_commit(void *ctx, const struct policy_commit_info *c)
{
	(void)ctx;
	(void)c;
	fail_msg("no commit expected");
	return 0;
}

static void test_policy__refuses_what_is_not_a_repository(void **state)
{
	struct policy_set *set = NULL;
	char sub[256];
	struct fx f;

	(void)state;
	fx_new(&f);
	assert_int_equal(policy_load(&set, f.dir, "HEAD"), AK_ENOTFOUND);
	assert_non_null(strstr(ak_error_last(), "not a git repository"));
	assert_int_equal(policy_load(&set, "/nonexistent/akashi", "HEAD"), AK_ENOTFOUND);
	assert_int_equal(policy_history(f.dir, "HEAD", no_commit, NULL), AK_ENOTFOUND);
	/* A directory inside a repository is not the repository: no search
	 * upwards. */
	make_repo(f.repo);
	commit(f.repo, "Policies", FILES("mass.json", MASS_5000), NULL);
	snprintf(sub, sizeof(sub), "%s/sub", f.repo);
	mkdir(sub, 0700);
	assert_int_equal(policy_load(&set, sub, "HEAD"), AK_ENOTFOUND);
	fx_free(&f);
}

/* ---------------------------------------------------------------------- */
/* History and files */

struct history {
	char text[4096];
	size_t o;
};

static int record(void *ctx, const struct policy_commit_info *c)
{
	struct history *h = ctx;
	size_t i;

	h->o += (size_t)snprintf(h->text + h->o, sizeof(h->text) - h->o, "%.7s|%s|%s|%lld|%s\n",
	                         c->commit, c->author, c->email, (long long)(c->time_us / 1000000),
	                         c->summary);
	for (i = 0; i < c->nchanges; i++)
		h->o += (size_t)snprintf(h->text + h->o, sizeof(h->text) - h->o, "  %c %s %s\n",
		                         c->changes[i].status, c->changes[i].file,
		                         c->changes[i].id ? c->changes[i].id : "-");
	return 0;
}

static int stop_after_one(void *ctx, const struct policy_commit_info *c)
{
	(void)c;
	++*(int *)ctx;
	return 42;
}

static void test_policy__history_lists_changes_with_ids(void **state)
{
	struct history h = {{0}, 0};
	char c1[41], c2[41], c3[41], c4[41], want[2048];
	int calls = 0;
	struct fx f;

	(void)state;
	fx_new(&f);
	make_repo(f.repo);
	commit_as(f.repo, "alice", 1782000000, "Start with two policies\n\nBody text.",
	          FILES("mass.json", MASS_5000, "dmarc.json", DMARC, "README.md", "hi"), c1);
	commit_as(f.repo, "bob", 1782000100, "Raise the threshold, drop dmarc, add passwords",
	          FILES("mass.json", MASS_20000, "dmarc.json", NULL, "passwords.json", PASSWORDS),
	          c2);
	commit_as(f.repo, "carol", 1782000200, "Docs only",
	          FILES("README.md", "hello", "drafts/x.json", "{}"), c3);
	commit_as(f.repo, "dave", 1782000300, "Alerts and a broken file",
	          FILES("alerts.json", "{}", "bad.json", "{\"id\": \"Bad\"}"), c4);
	assert_int_equal(policy_history(f.repo, "HEAD", record, &h), 0);
	snprintf(want, sizeof(want),
	         "%.7s|dave|dave@example.com|1782000300|Alerts and a broken file\n"
	         "  A alerts.json -\n"
	         "  A bad.json -\n"
	         "%.7s|carol|carol@example.com|1782000200|Docs only\n"
	         "%.7s|bob|bob@example.com|1782000100|Raise the threshold, drop dmarc, add "
	         "passwords\n"
	         "  D dmarc.json dmarc\n"
	         "  M mass.json mass\n"
	         "  A passwords.json passwords\n"
	         "%.7s|alice|alice@example.com|1782000000|Start with two policies\n"
	         "  A dmarc.json dmarc\n"
	         "  A mass.json mass\n",
	         c4, c3, c2, c1);
	assert_string_equal(h.text, want);

	/* From an older ref, and stopping when the callback says so. */
	memset(&h, 0, sizeof(h));
	assert_int_equal(policy_history(f.repo, "HEAD~2", record, &h), 0);
	assert_non_null(strstr(h.text, "|bob|"));
	assert_null(strstr(h.text, "|carol|"));
	assert_int_equal(policy_history(f.repo, "HEAD", stop_after_one, &calls), 42);
	assert_int_equal(calls, 1);
	assert_int_equal(policy_history(f.repo, "nope", record, &h), AK_ENOTFOUND);
	fx_free(&f);
}

struct files_seen {
	char names[512];
	size_t bytes;
};

static int see_file(void *ctx, const char *path, const void *data, size_t len)
{
	struct files_seen *s = ctx;

	(void)data;
	size_t n = strlen(s->names);

	snprintf(s->names + n, sizeof(s->names) - n, "%s ", path);
	s->bytes += len;
	return 0;
}

static void test_policy__files_gives_the_bytes_of_a_commit(void **state)
{
	struct files_seen seen = {{0}, 0};
	char c1[41];
	struct fx f;

	(void)state;
	fx_new(&f);
	make_repo(f.repo);
	commit(f.repo, "One", FILES("mass.json", MASS_5000, "alerts.json", "{}", "x.md", "x"), c1);
	commit(f.repo, "Two", FILES("dmarc.json", DMARC), NULL);
	assert_int_equal(policy_files(f.repo, c1, see_file, &seen), 0);
	assert_string_equal(seen.names, "alerts.json mass.json ");
	assert_int_equal(seen.bytes, 2 + strlen(MASS_5000));
	fx_free(&f);
}

/* ---------------------------------------------------------------------- */
/* The shipped set */

static void test_policy__shipped_set_has_one_valid_policy_per_control(void **state)
{
	const struct policy_default_file *df;
	const struct policy_control_spec *c;
	struct policy_checked pc;
	int seen[32] = {0};
	size_t n = 0;

	(void)state;
	for (df = policy_default_files; df->name; df++) {
		if (strcmp(df->name, "alerts.json") == 0)
			continue;
		assert_int_equal(policy_file_check(df->name, (const char *)df->data, df->len,
		                                   collect, &(struct lines){{0}, 0}, &pc),
		                 0);
		/* The file is named after its id. */
		assert_int_equal(strlen(df->name), strlen(pc.policy.id) + 5);
		assert_memory_equal(df->name, pc.policy.id, strlen(pc.policy.id));
		assert_true(json_array_size(pc.policy.cites) > 0);
		seen[pc.policy.spec - policy_controls]++;
		n++;
		policy_checked_clear(&pc);
	}
	for (c = policy_controls; c->name; c++)
		if (seen[c - policy_controls] != 1)
			fail_msg("%s: %d shipped policies", c->name, seen[c - policy_controls]);
	assert_int_equal(n, c - policy_controls);
}

static void test_policy__init_commits_the_shipped_set(void **state)
{
	struct history h = {{0}, 0};
	struct policy_set *set = NULL;
	const struct policy *p;
	char other[256];
	struct fx f;
	size_t i;

	(void)state;
	fx_new(&f);
	assert_int_equal(policy_repo_init(f.repo), 0);
	assert_int_equal(policy_load(&set, f.repo, "main"), 0);
	for (i = 0; policy_controls[i].name; i++)
		;
	assert_int_equal(set->n, i);
	/* The gates the design asks for. */
	p = policy_find(set, "consent-optin-proof");
	assert_non_null(p);
	assert_int_equal(p->gate, 1);
	p = policy_find(set, "consent-unsubscribe-deadline");
	assert_int_equal(p->gate, 1);
	assert_int_equal(policy_param_has(p, "profiles", "can-spam"), 1);
	assert_int_equal(policy_find(set, "send-mass-approval")->gate, 1);
	assert_int_equal(policy_param_int(policy_find(set, "send-mass-approval"), "threshold"),
	                 10000);
	assert_int_equal(policy_find(set, "message-unsubscribe-headers")->gate, 1);
	assert_int_equal(policy_find(set, "access-review")->gate, 0);
	policy_set_free(set);
	assert_int_equal(policy_history(f.repo, "HEAD", record, &h), 0);
	assert_non_null(strstr(h.text, "|akashi|akashi@localhost|"));
	assert_non_null(strstr(h.text, "The shipped default policies\n"));

	assert_int_equal(policy_repo_init(f.repo), AK_EEXISTS);
	snprintf(other, sizeof(other), "%s/other", f.dir);
	mkdir(other, 0700);
	write_file(other, "keep.txt", "mine");
	assert_int_equal(policy_repo_init(other), AK_EEXISTS);
	fx_free(&f);
}

/* docs/POLICIES.md has a section for every control, a row for each of its
 * parameters, and the placeholder for the audit semantics. */
static void test_policy__docs_describe_every_control_and_parameter(void **state)
{
	const struct policy_control_spec *c;
	const struct policy_param_spec *ps;
	char *doc, *sec, *end, want[160];
	FILE *f;
	long n;

	(void)state;
	f = fopen("docs/POLICIES.md", "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	doc = calloc(1, (size_t)n + 1);
	assert_non_null(doc);
	assert_int_equal(fread(doc, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	for (c = policy_controls; c->name; c++) {
		snprintf(want, sizeof(want), "\n### `%s`\n", c->name);
		if ((sec = strstr(doc, want)) == NULL)
			fail_msg("docs/POLICIES.md: no section for %s", c->name);
		sec += strlen(want);
		end = strstr(sec, "\n### ");
		if (end)
			*end = '\0';
		if (strstr(sec, c->can_gate ? "**Can gate" : "**Cannot gate") == NULL)
			fail_msg("docs/POLICIES.md: %s does not say whether it gates", c->name);
		for (ps = c->params; ps->name; ps++) {
			snprintf(want, sizeof(want), "\n| `%s` |", ps->name);
			if (strstr(sec, want) == NULL)
				fail_msg("docs/POLICIES.md: %s has no row for %s", c->name,
				         ps->name);
		}
		/* ...and says what the audit counts. */
		assert_non_null(strstr(sec, "**Population**"));
		assert_non_null(strstr(sec, "**Exception**"));
		if (end)
			*end = '\n';
	}
	free(doc);
}

static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy__loads_each_ref_as_of_its_commit),
        cmocka_unit_test(test_policy__loads_a_tag),
        cmocka_unit_test(test_policy__fills_every_parameter_from_the_control_table),
        cmocka_unit_test(test_policy__every_default_passes_its_own_check),
        cmocka_unit_test(test_policy__typed_parameters_read_back),
        cmocka_unit_test(test_policy__reports_syntax_errors_where_they_are),
        cmocka_unit_test(test_policy__reports_the_keys_of_a_policy),
        cmocka_unit_test(test_policy__reports_gate_severity_cites_and_scope),
        cmocka_unit_test(test_policy__reports_each_parameter_type),
        cmocka_unit_test(test_policy__quotes_file_text_safely),
        cmocka_unit_test(test_policy__stops_after_a_hundred_errors_in_a_file),
        cmocka_unit_test(test_policy__lints_a_commit_in_file_then_position_order),
        cmocka_unit_test(test_policy__load_fails_with_the_first_error),
        cmocka_unit_test(test_policy__finds_duplicate_ids_across_files),
        cmocka_unit_test(test_policy__loads_alerts_json_as_it_is),
        cmocka_unit_test(test_policy__ignores_subdirectories_and_other_files),
        cmocka_unit_test(test_policy__refuses_symbolic_links_and_empty_commits),
        cmocka_unit_test(test_policy__reads_the_commit_never_the_work_tree),
        cmocka_unit_test(test_policy__escapes_file_names_in_messages),
        cmocka_unit_test(test_policy__refuses_a_ref_that_does_not_exist),
        cmocka_unit_test(test_policy__refuses_what_is_not_a_repository),
        cmocka_unit_test(test_policy__history_lists_changes_with_ids),
        cmocka_unit_test(test_policy__files_gives_the_bytes_of_a_commit),
        cmocka_unit_test(test_policy__shipped_set_has_one_valid_policy_per_control),
        cmocka_unit_test(test_policy__init_commits_the_shipped_set),
        cmocka_unit_test(test_policy__docs_describe_every_control_and_parameter),
};

AK_UNIT_MAIN(tests)
