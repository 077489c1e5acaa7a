/*
 * tests/unit/test_hostport.c - lib/hostport: the forms of a HOST:PORT
 * setting, with and without a default port, and what is refused.
 */
#include "tests/unit/unit.h"

#include "lib/hostport.h"

static void test_hostport__reads_every_form(void **state)
{
	char host[32];
	int port;

	(void)state;
	assert_int_equal(ak_hostport_split("127.0.0.1:8025", host, sizeof(host), -1, &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8025);
	assert_int_equal(ak_hostport_split("[::1]:587", host, sizeof(host), -1, &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 587);
	assert_int_equal(ak_hostport_split("mail.example.jp", host, sizeof(host), 25, &port), 0);
	assert_string_equal(host, "mail.example.jp");
	assert_int_equal(port, 25);
	assert_int_equal(ak_hostport_split("[2001:db8::25]", host, sizeof(host), 25, &port), 0);
	assert_string_equal(host, "2001:db8::25");
	assert_int_equal(port, 25);
	assert_int_equal(ak_hostport_split("2001:db8::25", host, sizeof(host), 25, &port), 0);
	assert_string_equal(host, "2001:db8::25");
	assert_int_equal(ak_hostport_split("localhost:0", host, sizeof(host), -1, &port), 0);
	assert_int_equal(port, 0);
}

static void test_hostport__refuses_what_is_not_an_address(void **state)
{
	char host[8];
	int port = -7;

	(void)state;
	assert_int_equal(ak_hostport_split("localhost", host, sizeof(host), -1, &port), -1);
	assert_int_equal(ak_hostport_split("h:", host, sizeof(host), 25, &port), -1);
	assert_int_equal(ak_hostport_split(":25", host, sizeof(host), 25, &port), -1);
	assert_int_equal(ak_hostport_split("h:65536", host, sizeof(host), -1, &port), -1);
	assert_int_equal(ak_hostport_split("h:25x", host, sizeof(host), -1, &port), -1);
	assert_int_equal(ak_hostport_split("h:-1", host, sizeof(host), -1, &port), -1);
	assert_int_equal(ak_hostport_split("[::1", host, sizeof(host), 25, &port), -1);
	assert_int_equal(ak_hostport_split("[::1]x", host, sizeof(host), 25, &port), -1);
	assert_int_equal(ak_hostport_split("[]:25", host, sizeof(host), -1, &port), -1);
	assert_int_equal(ak_hostport_split("::1:8025", host, sizeof(host), -1, &port), -1);
	assert_int_equal(ak_hostport_split("longerthan8:25", host, sizeof(host), -1, &port), -1);
	assert_int_equal(port, -7); /* untouched on failure */
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_hostport__reads_every_form),
	cmocka_unit_test(test_hostport__refuses_what_is_not_an_address),
};

AK_UNIT_MAIN(tests)
