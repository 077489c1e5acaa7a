/*
 * tests/unit/test_ascii.c - lib/ascii: only A to Z fold, whatever the
 * locale; UTF-8 bytes and everything else stay as they are.
 */
#include "tests/unit/unit.h"

#include "lib/ascii.h"

#include <locale.h>
#include <string.h>

static void test_ascii__only_a_to_z_fold(void **state)
{
	int c;

	(void)state;
	for (c = -128; c < 128; c++) {
		char want = c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : (char)c;

		assert_int_equal(ak_ascii_lower((char)c), want);
	}
}

static void test_ascii__strings_fold_in_place(void **state)
{
	char s[] = "Hanako.YAMADA@Example.NE.JP \xc3\x84\xc3\xa4 [ZZ]";

	(void)state;
	/* A locale with other ideas about case changes nothing. */
	setlocale(LC_CTYPE, "C.UTF-8");
	assert_ptr_equal(ak_ascii_lower_str(s), s);
	assert_string_equal(s, "hanako.yamada@example.ne.jp \xc3\x84\xc3\xa4 [zz]");
	assert_null(ak_ascii_lower_str(NULL));
	setlocale(LC_CTYPE, "C");
}

static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii__only_a_to_z_fold),
        cmocka_unit_test(test_ascii__strings_fold_in_place),
};

AK_UNIT_MAIN(tests)
