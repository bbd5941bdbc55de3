/* hostconf.h - the managed configuration of a host against what the inventory renders: drift
 * (`config diff`, deploy's plan) and lint (`config lint HOST`), for the gateway through its
 * proxy kind and for agents through dcv.conf. */
#ifndef DCV_HOSTCONF_H
#define DCV_HOSTCONF_H

#include "buf.h"
#include "lint.h"

struct dcv_err;
struct dcv_host;
struct dcv_inventory;
struct dcv_ssh;

/* Unified diff of the deployed managed file against the rendered one into `diff` (empty when
 * equal). Secrets kept on the host are redacted. */
int dcv_hostconf_diff(struct dcv_ssh *c, const struct dcv_inventory *inv, const struct dcv_host *h,
		      struct dcv_buf *diff, struct dcv_err *err);

/* Lint what the host's service really loads (the proxy's dump; dcv.conf), appending findings. */
int dcv_hostconf_lint(struct dcv_ssh *c, const struct dcv_inventory *inv, const struct dcv_host *h,
		      struct dcv_findings *out, struct dcv_err *err);

#endif
