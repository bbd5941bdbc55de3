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

/* Append a shell command printing the state of every unit in one systemctl call, as lines
 * "unit.INDEX.Key=Value" (INDEX into `units`). The names are dcvctl's own constants. */
void dcv_units_show_script(struct dcv_buf *s, const char *const *units, int n);
/* Fill st[0..n) from the output of that command (other lines are ignored); units it does not
 * mention stay "unknown" / "not-found". */
void dcv_units_parse(const char *output, struct dcv_unit_state *st, int n);

#endif
