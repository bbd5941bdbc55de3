/* err.h - error codes and the error record every fallible lib function fills. */
#ifndef DCV_ERR_H
#define DCV_ERR_H

#include <stddef.h>

enum {
	DCV_OK = 0,
	DCV_E_USAGE = -1,    /* bad argument to a lib call */
	DCV_E_CONFIG = -2,   /* inventory error (file:line: ...) */
	DCV_E_CONNECT = -3,  /* TCP connect, handshake or timeout while connecting */
	DCV_E_AUTH = -4,     /* authentication refused */
	DCV_E_HOSTKEY = -5,  /* host key unknown (strict) or changed */
	DCV_E_LOST = -6,     /* connection lost during an operation */
	DCV_E_TIMEOUT = -7,  /* command-timeout expired */
	DCV_E_IO = -8,       /* local I/O */
	DCV_E_REMOTE = -9,   /* the remote side refused (sudo wants a password, ...) */
	DCV_E_INTERNAL = -10,
};

struct dcv_err {
	int code;
	char msg[512];
};

#define DCV_ERR_INIT { 0, "" }

/* Record code and a printf-style message; returns code so callers can `return dcv_err_set(...)`. */
int dcv_err_set(struct dcv_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prepend context ("gateway: ") to the message already recorded. */
void dcv_err_prefix(struct dcv_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void dcv_err_clear(struct dcv_err *err);
/* True for the codes that mean "could not reach or operate on the host" (design §4 exit 4). */
int dcv_err_is_transport(int code);

#endif
