/*
 * tests/unit/test_config.c - configuration values (auditd/config.c): a
 * value out of its key's range is an error naming the key, as a value of
 * the wrong type is.
 */
#include "tests/unit/unit.h"

#include "auditd/config.h"
#include "lib/error.h"

#include <string.h>

static void refused(struct config *c, const char *assignment, const char *key)
{
	assert_int_equal(config_set(c, assignment), AK_EINVALID);
	assert_non_null(strstr(ak_error_last(), key));
}

/* A negative batch made `akashi ingest` ask for 2^64 bytes, a port of
 * 70000 wrapped to 4464, a negative api.rate turned rate limiting off,
 * a duration past 2^31 s wrapped when made an int. */
static void test_config__integers_and_durations_are_range_checked(void **state)
{
	struct config *c = NULL;

	(void)state;
	assert_int_equal(config_new(&c), 0);
	refused(c, "ingest.batch=-1", "ingest.batch");
	refused(c, "smtp.port=70000", "smtp.port");
	refused(c, "smtp.port=0", "smtp.port");
	refused(c, "api.rate=-5", "api.rate");
	refused(c, "api.max_body=-1", "api.max_body");
	refused(c, "api.timeout=3000000000", "api.timeout");
	refused(c, "unsubscribe.max_age=106751991167301d", "unsubscribe.max_age");
	/* What was refused left the value as it was. */
	assert_int_equal(config_int(c, "smtp.port"), 25);
	assert_int_equal(config_set(c, "smtp.port=587"), 0);
	assert_int_equal(config_int(c, "smtp.port"), 587);
	assert_int_equal(config_set(c, "api.rate=0"), 0);
	assert_int_equal(config_set(c, "unsubscribe.max_age=3650d"), 0);
	assert_int_equal(config_seconds(c, "unsubscribe.max_age"), 3650 * 86400);
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_config__integers_and_durations_are_range_checked),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
