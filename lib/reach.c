/* The outcome of a run over several hosts (design §4). */
#include "reach.h"

#include "err.h"

void dcv_reach_add(struct dcv_reach *r, int rc)
{
	r->targets++;
	r->unreachable += dcv_err_is_transport(rc) != 0;
	r->failed += rc != DCV_OK;
}

void dcv_reach_add_failed(struct dcv_reach *r)
{
	r->targets++;
	r->failed++;
}

enum dcv_outcome dcv_reach_outcome(const struct dcv_reach *r)
{
	if (r->targets > 0 && r->unreachable == r->targets)
		return DCV_OUTCOME_UNREACHABLE;
	return r->failed ? DCV_OUTCOME_FAILED : DCV_OUTCOME_OK;
}
