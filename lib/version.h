/* version.h - versions of the libraries dcvctl runs on. */
#ifndef DCV_LIBVERSION_H
#define DCV_LIBVERSION_H

const char *dcv_libssh_version(void);

#endif
