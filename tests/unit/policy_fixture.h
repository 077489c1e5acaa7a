/*
 * tests/unit/policy_fixture.h - what the audit and gate tests share: a
 * store in a temp directory with the policy state attached, entries added
 * from JSON text, and policy sets built in memory from the control table's
 * defaults (the git-backed loader has its own tests).
 */
#ifndef AK_POLICY_FIXTURE_H
#define AK_POLICY_FIXTURE_H

#include "evidence/evidence.h"
#include "lib/buf.h"
#include "lib/jcs.h"
#include "lib/timefmt.h"
#include "policies/policy.h"
#include "policies/state.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fixture {
	char dir[256];
	struct evidence_store *st;
	struct policy_set set;
};

static inline int64_t T(const char *rfc3339)
{
	int64_t t = 0;

	if (ak_time_parse(rfc3339, strlen(rfc3339), &t) != 0) {
		fprintf(stderr, "bad time in test: %s\n", rfc3339);
		abort();
	}
	return t;
}

static inline int fixture_open(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/akashi-unit-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	strcat(f->dir, "/s");
	if (evidence_init(f->dir, "test.example/policy") != 0 ||
	    evidence_open(&f->st, f->dir, 0) != 0 || policy_state_attach(f->st) != 0)
		return -1;
	snprintf(f->set.commit, sizeof(f->set.commit), "%040d", 0);
	return 0;
}

static inline void fixture_close(struct fixture *f)
{
	char cmd[300];
	size_t i;

	evidence_close(f->st);
	for (i = 0; i < f->set.n; i++) {
		struct policy *p = &f->set.policies[i];

		free(p->id);
		free(p->title);
		free(p->control);
		free(p->severity);
		free(p->path);
		json_decref(p->params);
		json_decref(p->cites);
		json_decref(p->scope);
	}
	free(f->set.policies);
	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strlen(f->dir) - 2), f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
}

/* Add an entry; returns its seq (aborts on error: a broken fixture). */
static inline int64_t add(struct fixture *f, const char *kind, const char *time,
			  const char *body_json)
{
	struct ak_buf b = AK_BUF_INIT(0);
	struct evidence_record r = {0};
	int64_t seq = 0;

	if (ak_jcs_canonicalize(&b, body_json, strlen(body_json)) != 0) {
		fprintf(stderr, "bad body in test: %s\n", body_json);
		abort();
	}
	r.kind = kind;
	r.time_us = T(time);
	r.source = "test";
	r.source_len = 4;
	r.body = b.data;
	r.body_len = b.len;
	if (evidence_append(f->st, &r, 1, &seq, NULL) != 0) {
		fprintf(stderr, "append failed\n");
		abort();
	}
	ak_buf_free(&b);
	return seq;
}

/* Add a policy of control with the given params (JSON object text, may
 * be NULL) and scope (may be NULL); gate on or off. */
static inline struct policy *add_policy(struct fixture *f, const char *id, const char *control,
					int gate, const char *params, const char *scope)
{
	const struct policy_control_spec *spec = policy_control_find(control);
	const struct policy_param_spec *ps;
	json_t *given = params ? json_loads(params, 0, NULL) : json_object();
	struct policy *p;

	if (spec == NULL || given == NULL) {
		fprintf(stderr, "bad policy in test: %s\n", control);
		abort();
	}
	f->set.policies = realloc(f->set.policies, (f->set.n + 1) * sizeof(*f->set.policies));
	p = &f->set.policies[f->set.n++];
	memset(p, 0, sizeof(*p));
	p->id = strdup(id);
	p->title = strdup(id);
	p->control = strdup(control);
	p->spec = spec;
	p->gate = gate;
	p->severity = strdup("high");
	p->path = strdup(id);
	p->cites = json_array();
	p->scope = scope ? json_loads(scope, 0, NULL) : json_object();
	p->params = json_object();
	for (ps = spec->params; ps->name; ps++)
		json_object_set_new(p->params, ps->name, json_loads(ps->def, JSON_DECODE_ANY, NULL));
	json_object_update(p->params, given);
	json_decref(given);
	return p;
}

#endif
