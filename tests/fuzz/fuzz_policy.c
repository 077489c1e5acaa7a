/*
 * tests/fuzz/fuzz_policy.c - libFuzzer target for the check of one policy
 * file (policies/policy_file.c), without git: the bytes are checked as a
 * policy file and as alerts.json.
 *
 * Any input must be checked without a crash, and abort() marks each of
 * these not holding:
 *   - every error has a position inside the text (or none), and a message
 *     without raw control characters, at most POLICY_FILE_MAX_ERRORS + 1 of
 *     them; 0 is returned exactly when there is none;
 *   - a valid file gives a policy whose control exists, whose params hold
 *     every parameter of that control and nothing else, that gates only
 *     where the control can, with a known severity and a well-formed id
 *     that policy_file_id() finds too.
 * `make test` replays the seed corpus via tests/fuzz/replay.c.
 */
#include "lib/error.h"
#include "policies/policy_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_policy: %s\n", what);
		abort();
	}
}

struct seen {
	const char *text;
	size_t len;
	int n;
};

static int on_error(void *ctx, const struct policy_lint_error *e)
{
	struct seen *s = ctx;
	int line, column;
	const char *m;

	s->n++;
	check(strcmp(e->file, "f.json") == 0, "error names another file");
	check(e->line >= 0 && e->column >= 0 && (e->line == 0) == (e->column == 0), "bad position");
	if (e->line) {
		/* No error lies beyond the end of the text. */
		policy_position(s->text, s->len, s->len, &line, &column);
		check(e->line < line || (e->line == line && e->column <= column),
		      "position past the end");
	}
	check(*e->message != '\0', "empty message");
	for (m = e->message; *m; m++)
		check((unsigned char)*m >= 0x20 && *m != 0x7F, "control character in a message");
	return 0;
}

static void check_policy(const struct policy *p)
{
	const struct policy_param_spec *ps;
	const char *const *sev;
	size_t n = 0;

	check(p->spec != NULL && strcmp(p->spec->name, p->control) == 0, "control");
	check(p->id && *p->id && p->title && *p->title && p->path, "strings");
	check(!p->gate || p->spec->can_gate, "gates where the control cannot");
	for (sev = policy_severities; *sev && strcmp(*sev, p->severity) != 0; sev++)
		;
	check(*sev != NULL, "unknown severity");
	for (ps = p->spec->params; ps->name; ps++, n++)
		check(json_object_get(p->params, ps->name) != NULL, "a parameter is missing");
	check(json_object_size(p->params) == n, "params hold more than the control's");
	check(json_is_array(p->cites) && json_is_object(p->scope), "cites or scope");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct seen s = {text, size, 0};
	struct policy_checked c;
	json_t *alerts = NULL;
	char *id;
	int rc;

	if (size > POLICY_FILE_MAX)
		return 0; /* the repository refuses larger files before checking */
	rc = policy_file_check("f.json", text, size, on_error, &s, &c);
	check(rc == 0 || rc == AK_EINVALID || rc == AK_ENOMEM, "unexpected result");
	check((rc == 0) == (s.n == 0), "result and errors disagree");
	check(s.n <= POLICY_FILE_MAX_ERRORS + 1, "too many errors");
	id = policy_file_id(text, size);
	if (rc == 0) {
		check_policy(&c.policy);
		check(c.id && strcmp(c.id, c.policy.id) == 0, "id");
		check(id && strcmp(id, c.policy.id) == 0, "policy_file_id disagrees");
	}
	if (c.id)
		check(id && strcmp(id, c.id) == 0, "policy_file_id misses a well-formed id");
	free(id);
	policy_checked_clear(&c);

	s.n = 0;
	rc = policy_alerts_check("f.json", text, size, on_error, &s, &alerts);
	check((rc == 0) == (s.n == 0) && (rc == 0) == (alerts != NULL), "alerts result");
	check(alerts == NULL || json_is_object(alerts), "alerts not an object");
	json_decref(alerts);
	return 0;
}
