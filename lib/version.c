#include "version.h"

#include <libssh/libssh.h>

const char *dcv_libssh_version(void)
{
	const char *v = ssh_version(0);
	return v ? v : "?";
}
