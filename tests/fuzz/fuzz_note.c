/*
 * tests/fuzz/fuzz_note.c - signed checkpoint notes as they arrive in
 * evidence bundles: parsing and signature checking of arbitrary text must
 * never crash, and anything that parses must hold its stated limits.
 */
#include "evidence/evidence.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char pub[32] = {1, 2, 3};
	struct evidence_note n;

	if (evidence_note_parse((const char *)data, size, &n) == 0) {
		if (strlen(n.origin) == 0 || n.body_len > size)
			abort();
	}
	evidence_note_verify((const char *)data, size, pub, &n);
	return 0;
}
