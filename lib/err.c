#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int dcv_err_set(struct dcv_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void dcv_err_prefix(struct dcv_err *err, const char *fmt, ...)
{
	char pre[256], old[sizeof(err->msg)];
	size_t pl;
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	pl = strlen(pre);
	memcpy(err->msg, pre, pl);
	memcpy(err->msg + pl, old, sizeof(err->msg) - pl - 1);
	err->msg[sizeof(err->msg) - 1] = '\0';
}

void dcv_err_clear(struct dcv_err *err)
{
	if (!err)
		return;
	err->code = DCV_OK;
	err->msg[0] = '\0';
}

int dcv_err_is_transport(int code)
{
	return code == DCV_E_CONNECT || code == DCV_E_AUTH || code == DCV_E_HOSTKEY ||
	       code == DCV_E_LOST;
}
