/* reach.h - the one rule behind exit 4 against exit 1 (design §4): a run that reached none of
 * the hosts it needed is "unreachable"; one that reached some and failed on others "failed". */
#ifndef DCV_REACH_H
#define DCV_REACH_H

#include <stdbool.h>

struct dcv_reach {
	int targets;     /* hosts (or other peers) the run needed */
	int unreachable; /* of those, could not be reached or operated on */
	int failed;      /* of those, reached but something failed (or unreachable) */
};

#define DCV_REACH_INIT { 0, 0, 0 }

enum dcv_outcome {
	DCV_OUTCOME_OK,          /* nothing failed */
	DCV_OUTCOME_FAILED,      /* something failed, or some targets were unreachable */
	DCV_OUTCOME_UNREACHABLE, /* not one target could be reached */
};

/* Count one target by the result of the work on it: DCV_OK, a transport error (dcv_err_is_transport:
 * unreachable, and failed) or any other error (failed). */
void dcv_reach_add(struct dcv_reach *r, int rc);
/* Count one target that answered but whose result is a failure (drift, a lint error, a failing
 * check): failed, not unreachable. */
void dcv_reach_add_failed(struct dcv_reach *r);
enum dcv_outcome dcv_reach_outcome(const struct dcv_reach *r);

#endif
