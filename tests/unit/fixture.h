/* fixture.h - reading tests/unit/fixtures/ from the unit tests (after cmocka.h). The tests run
 * from the repository root (make unit); SRCDIR points elsewhere. */
#ifndef DCV_TEST_FIXTURE_H
#define DCV_TEST_FIXTURE_H

#include <stdlib.h>

#include "../../lib/buf.h"
#include "../../lib/util.h"

static inline const char *srcdir(void)
{
	const char *s = getenv("SRCDIR");
	return s && *s ? s : ".";
}

/* The path of a fixture; the caller frees it. */
static inline char *fixture_path(const char *rel)
{
	return xasprintf("%s/tests/unit/fixtures/%s", srcdir(), rel);
}

/* A fixture's text; the caller frees it. Fails the test when it cannot be read. */
static inline char *fixture(const char *rel)
{
	struct dcv_buf b = DCV_BUF_INIT;
	char *path = fixture_path(rel);

	if (dcv_file_read(path, &b) != 0)
		fail_msg("cannot read '%s' (run from the repository root, set SRCDIR, or UPDATE_GOLDEN=1 for a golden file)",
			 path);
	free(path);
	return dcv_buf_detach(&b);
}

#endif
