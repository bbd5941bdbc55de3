/* check.h - the checklist of design §6: every check really runs on its host, hosts in
 * parallel over one SSH connection each; then the diagnosis of the first broken hop. */
#ifndef DCV_CHECK_H
#define DCV_CHECK_H

#include <stdbool.h>

struct dcv_err;
struct dcv_inventory;
struct dcv_report;
struct dcv_ssh_pool;

struct dcv_check_opts {
	const char *only;  /* comma-separated IDs or prefixes, NULL: all */
	const char *skip;
	long hold_ms;      /* > 0 adds endpoint.hold */
	long hold_interval_ms;
	long probe_timeout_ms; /* HTTP/TLS/WS probes (default 10 s) */
};

/* Fill `rep` with every selected check and the diagnosis. Failures are results; returns
 * DCV_E_CONFIG only when the inventory lacks what the checklist needs. */
int dcv_check_run(const struct dcv_inventory *inv, struct dcv_ssh_pool *pool,
		  const struct dcv_check_opts *o, struct dcv_report *rep, struct dcv_err *err);

#endif
