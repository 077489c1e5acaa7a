/*
 * tests/unit/unit.h - what every cmocka unit test includes.
 *
 * AK_UNIT_MAIN(tests) runs the group with TAP output so tests/run can count
 * results. Test names say the behaviour: test_jcs__rejects_floats.
 */
#ifndef AK_UNIT_H
#define AK_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define AK_UNIT_MAIN(tests)                                                                       \
	int main(void)                                                                            \
	{                                                                                         \
		cmocka_set_message_output(CM_OUTPUT_TAP);                                         \
		return cmocka_run_group_tests(tests, NULL, NULL);                                 \
	}

#endif
