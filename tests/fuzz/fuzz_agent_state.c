/* fuzz_agent_state - an agent's state as deploy reads it in one round trip (lib/plan.c), and the
 * plan made from it: the four steps in their order, a session decided after a restart exactly
 * when dcvserver restarts, and dcv.conf planned again on its own rendering left unchanged. */
#include "fuzz.h"

#include "../../lib/inventory.h"
#include "../../lib/plan.h"

static const char *const order[] = { "sm-agent", "dcv.conf", "dcvserver", "session" };

static void check_plan(const struct dcv_agent_state *st, const struct dcv_plan *p)
{
	FUZZ_ASSERT(p->n == 4);
	for (int i = 0; i < 4; i++) {
		FUZZ_ASSERT(strcmp(p->steps[i].name, order[i]) == 0);
		FUZZ_ASSERT(p->steps[i].detail && *p->steps[i].detail);
		FUZZ_ASSERT(!p->steps[i].change == !p->steps[i].reason);
		FUZZ_ASSERT(!p->steps[i].blocked || i == 3);
	}
	FUZZ_ASSERT(p->steps[3].after_restart == p->steps[2].change);
	FUZZ_ASSERT(p->steps[3].blocked == (!st->sessions_ok && !p->steps[2].change));
	FUZZ_ASSERT(!p->steps[1].change == !p->steps[1].diff);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dcv_host agent = { .name = "dcv1", .role = DCV_ROLE_AGENT, .port = 8443, .web_url_path = "/",
				  .session = "console", .session_type = "console", .session_owner = "ubuntu",
				  .session_name = "Ubuntu Desktop" };
	char *text = fuzz_str(data, size);
	struct dcv_agent_state st;
	struct dcv_plan p, again;

	if (dcv_agent_state_parse(text, &st)) {
		FUZZ_ASSERT(st.sessions_ok == !st.sessions_error[0]);
		dcv_plan_agent(&agent, &st, &p);
		check_plan(&st, &p);
		/* as if applied: the rendered dcv.conf is what the agent has */
		dcv_buf_reset(&st.conf);
		dcv_buf_adds(&st.conf, p.steps[1].after);
		st.conf_exists = true;
		dcv_plan_agent(&agent, &st, &again);
		check_plan(&st, &again);
		FUZZ_ASSERT(!again.steps[1].change);
		dcv_plan_release(&again);
		dcv_plan_release(&p);
		dcv_agent_state_release(&st);
	}
	free(text);
	return 0;
}
