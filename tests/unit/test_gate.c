/*
 * tests/unit/test_gate.c - the send gate asks the same questions as the
 * audit about one prospective send, from derived state only.
 */
#include "tests/unit/unit.h"

#include "lib/error.h"
#include "policies/gate.h"
#include "tests/unit/policy_fixture.h"

static struct fixture F;

static int setup(void **state)
{
	(void)state;
	if (fixture_open(&F) != 0)
		return -1;
	add_policy(&F, "optin", "consent.optin_proof", 1, NULL, NULL);
	add_policy(&F, "unsub", "consent.unsubscribe_deadline", 1, NULL, NULL);
	add_policy(&F, "supp", "send.suppression", 1, NULL, NULL);
	add_policy(&F, "mass", "send.mass_approval", 1, "{\"threshold\":100}", NULL);
	add_policy(&F, "headers", "message.unsubscribe_headers", 1, NULL, NULL);
	add_policy(&F, "review", "access.review", 0, NULL, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fixture_close(&F);
	return 0;
}

static struct gate_decision ask_day(const char *rcpt, const char *list, const char *stream,
                                    const char *campaign, int64_t size, const char *owner,
                                    int headers, int64_t day_size)
{
	struct gate *g;
	struct gate_request rq = {.rcpt = rcpt,
	                          .list = list,
	                          .stream = stream,
	                          .campaign = campaign,
	                          .owner = owner,
	                          .campaign_size = size,
	                          .unsubscribe_headers = headers,
	                          .now_us = T("2026-08-01T00:00:00Z"),
	                          .owner_day_size = day_size};
	struct gate_decision d;

	assert_int_equal(gate_new(&g, evidence_db(F.st), &F.set), 0);
	assert_int_equal(gate_check(g, &rq, &d), 0);
	gate_free(g);
	return d;
}

static struct gate_decision ask(const char *rcpt, const char *list, const char *stream,
                                const char *campaign, int64_t size, const char *owner, int headers)
{
	return ask_day(rcpt, list, stream, campaign, size, owner, headers, 0);
}

static int denied_by(const struct gate_decision *d, const char *policy)
{
	size_t i;

	for (i = 0; i < d->nreasons; i++)
		if (strcmp(d->reasons[i].policy, policy) == 0)
			return 1;
	return 0;
}

static void test_gate__consent_and_opt_out(void **state)
{
	struct gate_decision d;
	int64_t out;

	(void)state;
	d = ask("new@example.com", "news", "marketing", NULL, -1, NULL, 1);
	assert_false(d.allow);
	assert_true(denied_by(&d, "optin"));
	assert_string_equal(d.policy_commit, F.set.commit);
	add(&F, "consent", "2026-07-01T00:00:00Z",
	    "{\"subject\":\"new@example.com\",\"list\":\"news\",\"action\":\"opt_in\","
	    "\"method\":\"double_opt_in\",\"proof\":{\"ip\":\"192.0.2.1\"}}");
	d = ask("new@example.com", "news", "marketing", NULL, -1, NULL, 1);
	assert_false(d.allow); /* not confirmed yet */
	add(&F, "consent", "2026-07-01T00:05:00Z",
	    "{\"subject\":\"new@example.com\",\"list\":\"news\",\"action\":\"confirm\","
	    "\"method\":\"double_opt_in\"}");
	d = ask("new@example.com", "news", "marketing", NULL, -1, NULL, 1);
	assert_true(d.allow);
	assert_int_equal(d.nreasons, 0);
	/* another list is another consent */
	d = ask("new@example.com", "offers", "marketing", NULL, -1, NULL, 1);
	assert_false(d.allow);
	/* transactional mail needs no consent */
	d = ask("new@example.com", "offers", "transactional", NULL, -1, NULL, -1);
	assert_true(d.allow);
	out = add(&F, "consent", "2026-07-20T00:00:00Z",
		  "{\"subject\":\"new@example.com\",\"list\":\"news\",\"action\":\"opt_out\","
		  "\"method\":\"one_click\"}");
	d = ask("new@example.com", "news", "marketing", NULL, -1, NULL, 1);
	assert_false(d.allow);
	assert_true(denied_by(&d, "unsub"));
	assert_int_equal(d.reasons[0].ref, out);
	/* an older opt-in arriving late does not undo the opt-out */
	add(&F, "consent", "2026-07-10T00:00:00Z",
	    "{\"subject\":\"new@example.com\",\"list\":\"news\",\"action\":\"opt_in\","
	    "\"method\":\"form\",\"proof\":{\"ip\":\"192.0.2.1\"}}");
	d = ask("new@example.com", "news", "marketing", NULL, -1, NULL, 1);
	assert_false(d.allow);
	/* a newer one does */
	add(&F, "consent", "2026-07-25T00:00:00Z",
	    "{\"subject\":\"new@example.com\",\"list\":\"news\",\"action\":\"opt_in\","
	    "\"method\":\"form\",\"proof\":{\"ip\":\"192.0.2.1\"}}");
	d = ask("new@example.com", "news", "marketing", NULL, -1, NULL, 1);
	assert_true(d.allow);
}

static void test_gate__bounce_suppresses(void **state)
{
	struct gate_decision d;

	(void)state;
	add(&F, "send", "2026-07-01T00:00:00Z",
	    "{\"rcpt\":\"bad@example.com\",\"status\":\"bounced\",\"dsn\":\"5.1.1\"}");
	d = ask("bad@example.com", "news", "transactional", NULL, -1, NULL, -1);
	assert_false(d.allow);
	assert_true(denied_by(&d, "supp"));
	d = ask("good@example.com", "news", "transactional", NULL, -1, NULL, -1);
	assert_true(d.allow);
}

/* Consent and suppression read together (marketing), and the suppression
 * alone when the consent controls do not apply (transactional); a bounce
 * that comes after the send time does not count. */
static void test_gate__consent_and_bounce_together(void **state)
{
	struct gate_decision d;

	(void)state;
	add(&F, "consent", "2026-07-01T00:00:00Z",
	    "{\"subject\":\"both@example.com\",\"list\":\"news\",\"action\":\"opt_in\","
	    "\"method\":\"form\",\"proof\":{\"ip\":\"192.0.2.1\"}}");
	d = ask("both@example.com", "news", "marketing", NULL, -1, NULL, 1);
	assert_true(d.allow);
	add(&F, "send", "2026-07-15T00:00:00Z",
	    "{\"rcpt\":\"both@example.com\",\"status\":\"bounced\",\"dsn\":\"5.1.1\"}");
	d = ask("both@example.com", "news", "marketing", NULL, -1, NULL, 1);
	assert_false(d.allow);
	assert_int_equal(d.nreasons, 1);
	assert_true(denied_by(&d, "supp"));
	add(&F, "consent", "2026-07-20T00:00:00Z",
	    "{\"subject\":\"both@example.com\",\"list\":\"news\",\"action\":\"opt_out\","
	    "\"method\":\"one_click\"}");
	d = ask("both@example.com", "news", "marketing", NULL, -1, NULL, 1);
	assert_true(denied_by(&d, "supp"));
	assert_true(denied_by(&d, "optin"));
	assert_true(denied_by(&d, "unsub"));
	d = ask("both@example.com", "news", "transactional", NULL, -1, NULL, -1);
	assert_int_equal(d.nreasons, 1);
	assert_true(denied_by(&d, "supp"));
	/* the gate's clock is 2026-08-01: a later bounce is not yet known */
	add(&F, "send", "2026-09-01T00:00:00Z",
	    "{\"rcpt\":\"later@example.com\",\"status\":\"bounced\",\"dsn\":\"5.1.1\"}");
	d = ask("later@example.com", "news", "transactional", NULL, -1, NULL, -1);
	assert_true(d.allow);
}

/* Checks between gate_begin and gate_end read one snapshot: an opt-out
 * appended meanwhile is seen from the next batch on. */
static void test_gate__a_batch_reads_one_snapshot(void **state)
{
	struct gate_request rq = {"snap@example.com", "news", "marketing", NULL, NULL, -1, 1,
				  T("2026-08-01T00:00:00Z")};
	struct gate_decision d;
	struct fixture other = F; /* the same store through another connection */
	struct gate *g;

	(void)state;
	add(&F, "consent", "2026-07-01T00:00:00Z",
	    "{\"subject\":\"snap@example.com\",\"list\":\"news\",\"action\":\"opt_in\","
	    "\"method\":\"form\",\"proof\":{\"ip\":\"192.0.2.1\"}}");
	assert_int_equal(gate_new(&g, evidence_db(F.st), &F.set), 0);
	assert_int_equal(gate_begin(g), 0);
	assert_int_equal(gate_check(g, &rq, &d), 0);
	assert_true(d.allow);
	/* another process's append */
	assert_int_equal(evidence_open(&other.st, F.dir, 0), 0);
	assert_int_equal(policy_state_attach(other.st), 0);
	add(&other, "consent", "2026-07-20T00:00:00Z",
	    "{\"subject\":\"snap@example.com\",\"list\":\"news\",\"action\":\"opt_out\","
	    "\"method\":\"one_click\"}");
	evidence_close(other.st);
	assert_int_equal(gate_check(g, &rq, &d), 0);
	assert_true(d.allow);
	gate_end(g);
	assert_int_equal(gate_begin(g), 0);
	assert_int_equal(gate_check(g, &rq, &d), 0);
	assert_false(d.allow);
	assert_true(denied_by(&d, "unsub"));
	gate_end(g);
	gate_free(g);
}

static void test_gate__mass_send_needs_another_approver(void **state)
{
	struct gate_decision d;

	(void)state;
	d = ask("x@example.com", "news", "transactional", "big", 101, "olga", -1);
	assert_false(d.allow);
	assert_true(denied_by(&d, "mass"));
	d = ask("x@example.com", "news", "transactional", "big", 100, "olga", -1);
	assert_true(d.allow);
	add(&F, "admin", "2026-07-01T00:00:00Z",
	    "{\"actor\":\"olga\",\"action\":\"approval\",\"campaign\":\"big\"}");
	d = ask("x@example.com", "news", "transactional", "big", 101, "olga", -1);
	assert_false(d.allow);
	add(&F, "admin", "2026-07-02T00:00:00Z",
	    "{\"actor\":\"pat\",\"action\":\"approval\",\"campaign\":\"big\"}");
	d = ask("x@example.com", "news", "transactional", "big", 101, "olga", -1);
	assert_true(d.allow);
}

/* A gateway tool names its own campaigns: its day counts as well. */
static void test_gate__mass_send_counts_the_owners_day(void **state)
{
	struct gate_decision d;

	(void)state;
	d = ask_day("x@example.com", "news", "transactional", "tiny-1", 1, "tool", -1, 100);
	assert_true(d.allow);
	d = ask_day("x@example.com", "news", "transactional", "tiny-2", 1, "tool", -1, 101);
	assert_false(d.allow);
	assert_true(denied_by(&d, "mass"));
	assert_non_null(strstr(d.reasons[0].detail, "tool handed in 101 recipients today"));
	add(&F, "admin", "2026-07-03T00:00:00Z",
	    "{\"actor\":\"pat\",\"action\":\"approval\",\"campaign\":\"tiny-2\"}");
	d = ask_day("x@example.com", "news", "transactional", "tiny-2", 1, "tool", -1, 101);
	assert_true(d.allow);
}

static void test_gate__marketing_needs_unsubscribe_headers(void **state)
{
	struct gate_decision d;
	json_t *j;

	(void)state;
	add(&F, "consent", "2026-07-01T00:00:00Z",
	    "{\"subject\":\"h@example.com\",\"list\":\"news\",\"action\":\"opt_in\","
	    "\"method\":\"form\",\"proof\":{\"ip\":\"192.0.2.1\"}}");
	d = ask("h@example.com", "news", "marketing", NULL, -1, NULL, 0);
	assert_false(d.allow);
	assert_true(denied_by(&d, "headers"));
	j = gate_decision_json(&d);
	assert_string_equal(json_string_value(json_object_get(j, "decision")), "deny");
	assert_int_equal(json_array_size(json_object_get(j, "reasons")), 1);
	json_decref(j);
	d = ask("h@example.com", "news", "marketing", NULL, -1, NULL, 1);
	assert_true(d.allow);
}

static void test_gate__request_must_name_rcpt_list_stream(void **state)
{
	struct gate *g;
	struct gate_request rq = {NULL, "news", "marketing", NULL, NULL, -1, -1, 0};
	struct gate_decision d;

	(void)state;
	assert_int_equal(gate_new(&g, evidence_db(F.st), &F.set), 0);
	assert_int_equal(gate_check(g, &rq, &d), AK_EINVALID);
	gate_free(g);
}

/* A record that only counts while the pair is not opted out (the
 * daemon's one-click opt-out): wanted() reads the state inside the
 * append transaction. */
static int not_opted_out(void *arg, sqlite3 *db)
{
	int out = 0;

	(void)arg;
	if (policy_state_opted_out(db, "rep@example.com", "news", T("2026-08-01T00:00:00Z"), &out,
	                           NULL, NULL) != 0)
		return -1;
	return !out;
}

static struct evidence_record opt_out_rec(struct ak_buf *b, const char *time)
{
	static const char body[] = "{\"action\":\"opt_out\",\"list\":\"news\","
	                           "\"method\":\"one_click\",\"subject\":\"rep@example.com\"}";
	struct evidence_record r = {0};

	ak_buf_reset(b);
	assert_int_equal(ak_buf_append(b, body, sizeof(body) - 1), 0);
	r.kind = "consent";
	r.time_us = T(time);
	r.source = "test";
	r.source_len = 4;
	r.body = b->data;
	r.body_len = b->len;
	r.wanted = not_opted_out;
	return r;
}

static void test_gate__repeat_opt_out_is_left_out_inside_the_transaction(void **state)
{
	struct ak_buf b1 = AK_BUF_INIT(0), b2 = AK_BUF_INIT(0), b3 = AK_BUF_INIT(0);
	struct evidence_append_result res;
	struct evidence_record r[2];
	int64_t seqs[2], seq, since, size0, size1;
	int out;

	(void)state;
	add(&F, "consent", "2026-07-01T00:00:00Z",
	    "{\"subject\":\"rep@example.com\",\"list\":\"news\",\"action\":\"opt_in\","
	    "\"method\":\"single_opt_in\",\"proof\":{\"ip\":\"192.0.2.1\"}}");
	assert_int_equal(evidence_size(F.st, &size0), 0);
	/* Two in one batch: the second sees the first through the indexers. */
	r[0] = opt_out_rec(&b1, "2026-07-10T00:00:00Z");
	r[1] = opt_out_rec(&b2, "2026-07-10T00:00:01Z");
	assert_int_equal(evidence_append(F.st, r, 2, seqs, &res), 0);
	assert_int_equal(res.appended, 1);
	assert_int_equal(res.duplicates, 1);
	assert_true(seqs[0] > 0);
	assert_int_equal(seqs[1], 0);
	assert_int_equal(evidence_size(F.st, &size1), 0);
	assert_int_equal(size1, size0 + 1);
	assert_int_equal(policy_state_opted_out(evidence_db(F.st), "rep@example.com", "news",
	                                        T("2026-08-01T00:00:00Z"), &out, &seq, &since),
	                 0);
	assert_true(out);
	assert_int_equal(seq, seqs[0]);
	assert_int_equal(since, T("2026-07-10T00:00:00Z"));
	/* Not opted out of another list, nor before the opt-out. */
	assert_int_equal(policy_state_opted_out(evidence_db(F.st), "rep@example.com", "offers",
	                                        T("2026-08-01T00:00:00Z"), &out, &seq, NULL),
	                 0);
	assert_false(out);
	assert_int_equal(policy_state_opted_out(evidence_db(F.st), "rep@example.com", "news",
	                                        T("2026-07-09T00:00:00Z"), &out, NULL, NULL),
	                 0);
	assert_false(out);
	/* A confirm does not subscribe again: still left out. */
	add(&F, "consent", "2026-07-11T00:00:00Z",
	    "{\"subject\":\"rep@example.com\",\"list\":\"news\",\"action\":\"confirm\","
	    "\"method\":\"double_opt_in\"}");
	r[0] = opt_out_rec(&b1, "2026-07-12T00:00:00Z");
	assert_int_equal(evidence_append(F.st, r, 1, seqs, &res), 0);
	assert_int_equal(res.appended, 0);
	/* A later opt-in does: the next opt-out is recorded. */
	add(&F, "consent", "2026-07-20T00:00:00Z",
	    "{\"subject\":\"rep@example.com\",\"list\":\"news\",\"action\":\"opt_in\","
	    "\"method\":\"single_opt_in\",\"proof\":{\"ip\":\"192.0.2.1\"}}");
	r[0] = opt_out_rec(&b3, "2026-07-21T00:00:00Z");
	assert_int_equal(evidence_append(F.st, r, 1, seqs, &res), 0);
	assert_int_equal(res.appended, 1);
	assert_true(seqs[0] > 0);
	ak_buf_free(&b1);
	ak_buf_free(&b2);
	ak_buf_free(&b3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_gate__consent_and_opt_out, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_gate__bounce_suppresses, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_gate__consent_and_bounce_together, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_gate__a_batch_reads_one_snapshot, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_gate__mass_send_needs_another_approver, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_gate__mass_send_counts_the_owners_day, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_gate__marketing_needs_unsubscribe_headers,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_gate__request_must_name_rcpt_list_stream,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_gate__repeat_opt_out_is_left_out_inside_the_transaction, setup,
	                teardown),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
