/* rollout.h - a rolling deploy's batches and failure budget (design §7, Ansible's `serial` and
 * `max_fail_percentage`): a pure function of the agents and the two amounts. */
#ifndef DCV_ROLLOUT_H
#define DCV_ROLLOUT_H

#include <stdbool.h>

/* A number of hosts or a percentage of them, as the operator wrote it. n < 0: unset. */
struct dcv_amount {
	int n;
	bool percent;
};

#define DCV_AMOUNT_UNSET { -1, false }

/* "N" (1..100000) or "P%" (1..100): a batch size. */
bool dcv_amount_parse_serial(const char *s, struct dcv_amount *out);
/* "P%" or "P" (0..100): always a percentage, as max_fail_percentage is. */
bool dcv_amount_parse_percent(const char *s, struct dcv_amount *out);
/* "2" or "25%", for messages and the resume command; buf of at least 16 bytes. */
const char *dcv_amount_str(const struct dcv_amount *a, char *buf, unsigned len);

/* Which batch each agent goes in, and how many failed agents the rollout tolerates. */
struct dcv_rollout {
	int *batch;    /* per agent, from 0; owned */
	int n_batches;
	int size;      /* agents per batch */
	int budget;    /* failed agents allowed; one more stops the rollout before the next batch */
};

/* Primaries first, in input order, `serial` at a time (a percentage of all n agents, rounded
 * down, at least 1; unset: all at once), then the backups the same way, so a backup never shares
 * a batch with the primaries it stands in for. The budget is max_fail percent of n rounded down
 * (unset: 0). Release with dcv_rollout_release. */
void dcv_rollout_plan(const bool *backup, int n, const struct dcv_amount *serial,
		      const struct dcv_amount *max_fail, struct dcv_rollout *out);
void dcv_rollout_release(struct dcv_rollout *r);

#endif
