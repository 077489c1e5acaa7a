/*
 * auditd/ingest/kinds.c - per-kind body rules (see kinds.h).
 *
 * Each kind lists its known fields: a body with a field the kind does not
 * know is refused, so a misspelt CSV header or JSON key ("campain") is an
 * error at the door instead of a silently missing fact in an audit.
 * Nested objects (proof, details, gate, rows) are open: their members are
 * the source's own detail.
 */
#include "auditd/ingest/kinds.h"

#include "lib/ascii.h"
#include "lib/error.h"
#include "lib/timefmt.h"

#include <arpa/inet.h>
#include <string.h>

const char *const ingest_kinds[] = {"send",    "consent", "admin",  "dmarc",
                                    "finding", "alert",   "system", NULL};

int ingest_kind_known(const char *kind)
{
	const char *const *k;

	for (k = ingest_kinds; *k; k++)
		if (strcmp(*k, kind) == 0)
			return 1;
	return 0;
}

int ingest_is_email(const char *s, size_t len, int *needs_lower)
{
	const char *at, *end = s + len, *p = s;

	*needs_lower = 0;
	if (len < 3 || len > 254)
		return 0;
	if (*p == '"') {
		/* A quoted local part (RFC 5321 4.1.2): any printable character,
		 * quotes and backslashes escaped. MTAs log such addresses. */
		for (p++; p < end && *p != '"'; p++) {
			if ((unsigned char)*p < ' ' || *p == 0x7f)
				return 0;
			if (*p == '\\' && ++p == end)
				return 0;
			/* Lower-cased like the rest (EVIDENCE-FORMAT.md: "e-mail,
			 * lower case"), as the maillog adapter does: one mailbox,
			 * one spelling, whatever other letters it has. */
			if (*p >= 'A' && *p <= 'Z')
				*needs_lower = 1;
		}
		if (p == end || p + 1 == end || p[1] != '@')
			return 0;
		at = p + 1;
	} else {
		for (; p < end && *p != '@'; p++) {
			unsigned char c = (unsigned char)*p;

			if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '(' || c == ')' ||
			    c == ',' || c == ';' || c == '"' || c == '\\' || c == '[' || c == ']' ||
			    c == ':')
				return 0;
			if (c >= 'A' && c <= 'Z')
				*needs_lower = 1;
		}
		if (p == end || p == s)
			return 0;
		at = p;
	}
	if (at - s > 64 + 2 || at + 1 == end)
		return 0;
	/* The domain: dot-separated non-empty labels, or an address literal. */
	for (p = at + 1; p < end; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= ' ' || c == 0x7f || c == '@' || c == '<' || c == '>' || c == '"' ||
		    c == '\\' || c == ',' || c == ';' || c == '(' || c == ')')
			return 0;
		if (c >= 'A' && c <= 'Z')
			*needs_lower = 1;
	}
	if (at[1] == '.' || end[-1] == '.' || memmem(at, (size_t)(end - at), "..", 2))
		return 0;
	return 1;
}

/* ---- a tiny rule checker over ak_jv ---- */

struct check {
	const struct ak_jv *body;
	json_t *fixed; /* lazily made copy when something must change */
	int rc;
};

static const struct ak_jv *field(struct check *c, const char *name)
{
	return ak_jv_get(c->body, name);
}

static int fail(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct check *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (c->rc)
		return c->rc;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->rc = ak_error_code(AK_EINVALID, "%s", msg);
	return c->rc;
}

static json_t *fixed(struct check *c)
{
	if (c->fixed == NULL)
		c->fixed = ak_jv_to_jansson(c->body);
	if (c->fixed == NULL && c->rc == 0)
		c->rc = ak_error_oom();
	return c->fixed;
}

static const char *str(struct check *c, const char *name, int required)
{
	const struct ak_jv *v = field(c, name);

	if (v == NULL) {
		if (required)
			fail(c, "field '%s': missing", name);
		return NULL;
	}
	if (v->type != AK_JSTRING) {
		fail(c, "field '%s': must be a string, not %s", name, ak_jv_type_name(v));
		return NULL;
	}
	if (required && v->u.s.len == 0) {
		fail(c, "field '%s': empty", name);
		return NULL;
	}
	if (memchr(v->u.s.ptr, '\0', v->u.s.len)) {
		fail(c, "field '%s': contains a NUL character", name);
		return NULL;
	}
	return v->u.s.ptr;
}

static void one_of(struct check *c, const char *name, int required, const char *const *allowed)
{
	const char *s = str(c, name, required);
	const char *const *a;
	char list[256] = "";

	if (s == NULL)
		return;
	for (a = allowed; *a; a++)
		if (strcmp(*a, s) == 0)
			return;
	for (a = allowed; *a; a++) {
		strncat(list, *a, sizeof(list) - strlen(list) - 1);
		if (a[1])
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
	}
	fail(c, "field '%s': '%.60s' is not one of: %s", name, s, list);
}

static void email(struct check *c, const char *name, int required, int allow_empty)
{
	const struct ak_jv *v;
	const char *s = str(c, name, required && !allow_empty);
	int lower;

	if (s == NULL)
		return;
	v = field(c, name);
	if (allow_empty && v->u.s.len == 0)
		return;
	if (!ingest_is_email(s, v->u.s.len, &lower)) {
		fail(c, "field '%s': '%.80s' is not an e-mail address", name, s);
		return;
	}
	if (lower) {
		char buf[256];
		size_t i;

		for (i = 0; i < v->u.s.len; i++)
			buf[i] = ak_ascii_lower(s[i]);
		buf[v->u.s.len] = '\0';
		if (fixed(c))
			json_object_set_new(c->fixed, name, json_stringn(buf, v->u.s.len));
	}
}

static void integer(struct check *c, const char *name, int required, int64_t min)
{
	const struct ak_jv *v = field(c, name);

	if (v == NULL) {
		if (required)
			fail(c, "field '%s': missing", name);
		return;
	}
	if (v->type != AK_JINT)
		fail(c, "field '%s': must be an integer, not %s", name, ak_jv_type_name(v));
	else if (v->u.i < min)
		fail(c, "field '%s': must be at least %lld", name, (long long)min);
}

static void object(struct check *c, const char *name, int required)
{
	const struct ak_jv *v = field(c, name);

	if (v == NULL) {
		if (required)
			fail(c, "field '%s': missing", name);
		return;
	}
	if (v->type != AK_JOBJECT)
		fail(c, "field '%s': must be an object, not %s", name, ak_jv_type_name(v));
}

static void time_str(struct check *c, const char *name, int required)
{
	const char *s = str(c, name, required);
	int64_t t;

	if (s && ak_time_parse(s, field(c, name)->u.s.len, &t) != 0)
		fail(c, "field '%s': %s", name, ak_error_last());
}

static void ip(struct check *c, const char *name)
{
	const char *s = str(c, name, 0);
	unsigned char addr[16];

	if (s && inet_pton(AF_INET, s, addr) != 1 && inet_pton(AF_INET6, s, addr) != 1)
		fail(c, "field '%s': '%.60s' is not an IP address", name, s);
}

static void refs(struct check *c, const char *name, int required)
{
	const struct ak_jv *v = field(c, name);
	size_t i;

	if (v == NULL) {
		if (required)
			fail(c, "field '%s': missing", name);
		return;
	}
	if (v->type != AK_JARRAY) {
		fail(c, "field '%s': must be an array of seqs", name);
		return;
	}
	for (i = 0; i < v->u.a.n; i++)
		if (v->u.a.items[i]->type != AK_JINT || v->u.a.items[i]->u.i < 1) {
			fail(c, "field '%s': item %zu is not a seq (a positive integer)", name, i);
			return;
		}
}

/* Both the body's members (canonical order: byte order for these ASCII
 * names) and known (kept sorted in this file) are sorted: one merge walk. */
static void known_fields(struct check *c, const char *kind, const char *const *known)
{
	size_t i = 0;

	for (; i < c->body->u.o.n; i++) {
		const char *key = c->body->u.o.members[i].key;
		int cmp = 1;

		while (*known && (cmp = strcmp(*known, key)) < 0)
			known++;
		if (*known == NULL || cmp != 0) {
			fail(c,
			     "field '%.60s': not a field of %s entries (see "
			     "docs/EVIDENCE-FORMAT.md)",
			     key, kind);
			return;
		}
	}
}

/* ---- the kinds ---- */

static void check_send(struct check *c)
{
	static const char *const known[] = {
	        "attempt",  "campaign", "campaign_size", "client", "delay_ms",    "dsn",
	        "event_id", "feedback_type", "from",     "gate",          "host",   "list",
	        "message_id", "next_attempt", "orig_to",  "owner",    "queue_id",      "rcpt",
	        "reasons",  "relay",    "reply",    "size",     "source_ip", "status", "stream",
	        "tls",      "unsubscribe", NULL};
	static const char *const status[] = {"queued",  "sent",       "deferred", "bounced",
	                                     "blocked", "complained", "expired",  NULL};
	static const char *const stream[] = {"marketing", "transactional", NULL};
	const struct ak_jv *gate;

	known_fields(c, "send", known);
	email(c, "rcpt", 1, 0);
	one_of(c, "status", 1, status);
	one_of(c, "stream", 0, stream);
	email(c, "from", 0, 1);
	str(c, "message_id", 0);
	str(c, "campaign", 0);
	str(c, "list", 0);
	str(c, "dsn", 0);
	str(c, "relay", 0);
	str(c, "feedback_type", 0);
	str(c, "source_ip", 0);
	integer(c, "delay_ms", 0, 0);
	integer(c, "size", 0, 0);
	integer(c, "attempt", 0, 0);
	object(c, "gate", 0);
	gate = field(c, "gate");
	if (c->rc == 0 && gate) {
		const struct ak_jv *d = ak_jv_get(gate, "decision");

		if (d == NULL || d->type != AK_JSTRING ||
		    (strcmp(d->u.s.ptr, "allow") != 0 && strcmp(d->u.s.ptr, "deny") != 0))
			fail(c, "field 'gate': 'decision' must be \"allow\" or \"deny\"");
	}
}

static void check_consent(struct check *c)
{
	static const char *const known[] = {
	        "action", "campaign", "confirmed_at", "event_id", "exemption", "list",
	        "method", "note",     "proof",        "subject",  NULL};
	static const char *const action[] = {"opt_in", "confirm", "opt_out", NULL};
	static const char *const exemption[] = {"business_relationship", "address_notified",
	                                        "published_address", NULL};
	const struct ak_jv *act, *proof;

	known_fields(c, "consent", known);
	email(c, "subject", 1, 0);
	str(c, "list", 1);
	one_of(c, "action", 1, action);
	one_of(c, "exemption", 0, exemption);
	time_str(c, "confirmed_at", 0);
	act = field(c, "action");
	if (c->rc || act == NULL)
		return;
	if (strcmp(act->u.s.ptr, "opt_in") == 0)
		str(c, "method", 1);
	else
		str(c, "method", 0);
	proof = field(c, "proof");
	if (proof && !(proof->type == AK_JOBJECT ||
	               (proof->type == AK_JSTRING && strcmp(proof->u.s.ptr, "none") == 0))) {
		fail(c, "field 'proof': must be an object (or \"none\")");
		return;
	}
	/* An opt-in or confirmation with nothing to show for it is accepted,
	 * and flagged so consent.optin_proof finds it. */
	if (strcmp(act->u.s.ptr, "opt_out") != 0 &&
	    (proof == NULL || (proof->type == AK_JOBJECT && proof->u.o.n == 0)) && fixed(c))
		json_object_set_new(c->fixed, "proof", json_string("none"));
}

static void check_admin(struct check *c)
{
	static const char *const known[] = {"action",   "actor",  "campaign", "details",
	                                    "event_id", "ip",     "reason",   "result",
	                                    "role",     "target", NULL};
	static const char *const action[] = {"login_success",   "login_failure",  "logout",
	                                     "password_change", "role_grant",     "role_revoke",
	                                     "access_review",   "account_create", "account_enable",
	                                     "account_disable", "account_delete", "account_lock",
	                                     "mfa_enable",      "mfa_disable",    "approval",
	                                     "config_change",   "other",          NULL};
	static const char *const result[] = {"success", "failure", NULL};

	known_fields(c, "admin", known);
	str(c, "actor", 1);
	one_of(c, "action", 1, action);
	str(c, "target", 0);
	str(c, "role", 0);
	ip(c, "ip");
	one_of(c, "result", 0, result);
	object(c, "details", 0);
}

static void check_dmarc(struct check *c)
{
	const struct ak_jv *policy, *rows;
	size_t i;

	str(c, "org_name", 0);
	str(c, "report_id", 1);
	time_str(c, "begin", 1);
	time_str(c, "end", 1);
	object(c, "policy", 1);
	if (c->rc)
		return;
	policy = field(c, "policy");
	if (ak_jv_get(policy, "domain") == NULL ||
	    ak_jv_get(policy, "domain")->type != AK_JSTRING) {
		fail(c, "field 'policy': 'domain' missing or not a string");
		return;
	}
	rows = field(c, "rows");
	if (rows == NULL || rows->type != AK_JARRAY) {
		fail(c, "field 'rows': missing or not an array");
		return;
	}
	for (i = 0; i < rows->u.a.n; i++) {
		const struct ak_jv *r = rows->u.a.items[i], *n;

		n = ak_jv_get(r, "count");
		if (r->type != AK_JOBJECT || n == NULL || n->type != AK_JINT || n->u.i < 0) {
			fail(c, "field 'rows': row %zu has no non-negative integer 'count'", i);
			return;
		}
	}
}

static void check_finding(struct check *c)
{
	str(c, "policy_id", 1);
	str(c, "policy_commit", 1);
	object(c, "period", 1);
	refs(c, "refs", 1);
	str(c, "detail", 1);
}

static void check_alert(struct check *c)
{
	static const char *const severity[] = {"info", "low", "medium", "high", "critical", NULL};

	str(c, "rule", 1);
	one_of(c, "severity", 1, severity);
	str(c, "summary", 1);
	refs(c, "refs", 1);
	object(c, "window", 0);
}

static void check_system(struct check *c)
{
	str(c, "event", 1);
}

int ingest_kind_check(const char *kind, const struct ak_jv *body, json_t **fixed_out,
                      const char **event_id)
{
	struct check c = {body, NULL, 0};
	const struct ak_jv *id;

	*fixed_out = NULL;
	*event_id = NULL;
	if (body == NULL || body->type != AK_JOBJECT)
		return ak_error_code(AK_EINVALID, "field 'body': must be an object");
	if (strcmp(kind, "send") == 0)
		check_send(&c);
	else if (strcmp(kind, "consent") == 0)
		check_consent(&c);
	else if (strcmp(kind, "admin") == 0)
		check_admin(&c);
	else if (strcmp(kind, "dmarc") == 0)
		check_dmarc(&c);
	else if (strcmp(kind, "finding") == 0)
		check_finding(&c);
	else if (strcmp(kind, "alert") == 0)
		check_alert(&c);
	else if (strcmp(kind, "system") == 0)
		check_system(&c);
	else if (strcmp(kind, "checkpoint") == 0)
		return ak_error_code(AK_EINVALID,
		                     "kind 'checkpoint': checkpoint entries are written by the "
		                     "store itself ('akashi checkpoint')");
	else
		return ak_error_code(AK_EINVALID,
		                     "kind '%.40s': not one of send, consent, admin, "
		                     "dmarc, finding, alert, system",
		                     kind);
	if (c.rc) {
		json_decref(c.fixed);
		return c.rc;
	}
	id = ak_jv_get(body, "event_id");
	if (id && id->type == AK_JSTRING && id->u.s.len)
		*event_id = id->u.s.ptr;
	*fixed_out = c.fixed;
	return 0;
}
