/* service.h - systemd units on a host, through systemctl. */
#ifndef DCV_SERVICE_H
#define DCV_SERVICE_H

#include "buf.h"

struct dcv_err;
struct dcv_host;
struct dcv_ssh;

struct dcv_unit_state {
	char active[24];  /* active, inactive, failed, activating, unknown */
	char enabled[24]; /* enabled, disabled, static, not-found, unknown */
};

/* Run `systemctl ACTION UNIT...` (action NULL: only read the state) with sudo when the host
 * says so, then read every unit's state in the same round trip. A failed action is a result:
 * its message goes to `failure` (empty on success). *states is malloc'd (dcv_units_free). */
int dcv_service_apply(struct dcv_ssh *c, const struct dcv_host *h, const char *action,
		      const char *const *units, int n, struct dcv_unit_state **states,
		      struct dcv_buf *failure, struct dcv_err *err);
void dcv_units_free(struct dcv_unit_state *s, int n);

#endif
