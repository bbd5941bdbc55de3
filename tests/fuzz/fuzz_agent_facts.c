/* fuzz_agent_facts - what an agent sends back for its facts script (dcv_agent_facts_parse):
 * unit lines, dcv.conf and its [connectivity] keys, the listener, the session list. */
#include "fuzz.h"

#include "../../lib/facts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dcv_agent_facts f;
	char *text = fuzz_str(data, size);

	dcv_agent_facts_parse(text, &f);
	FUZZ_ASSERT(memchr(f.os, '\0', sizeof(f.os)) && memchr(f.listener, '\0', sizeof(f.listener)));
	FUZZ_ASSERT(memchr(f.web_url_path, '\0', sizeof(f.web_url_path)));
	FUZZ_ASSERT(memchr(f.sessions_err, '\0', sizeof(f.sessions_err)));
	/* the sessions are either read or explained, never both */
	FUZZ_ASSERT(f.sessions_ok == (f.sessions_err[0] == '\0'));
	FUZZ_ASSERT(!f.sessions_ok || f.sessions_rc == 0);
	FUZZ_ASSERT(f.sessions_ok || f.sessions.n == 0);
	FUZZ_ASSERT(f.conf_exists || f.web_port == 0);
	dcv_agent_facts_release(&f);
	free(text);
	return 0;
}
