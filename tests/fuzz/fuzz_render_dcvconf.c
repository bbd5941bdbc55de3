/* fuzz_render_dcvconf - the dcv.conf merge on whatever an agent already has: the managed keys
 * applied to arbitrary text, and applied again to its own output, which must change nothing
 * (deploy relies on it to report "unchanged"); and an INI reader (inih) finds the managed
 * values in the output. The first byte picks bypass and the agent's managed values. */
#include "fuzz.h"

#include <ctype.h>
#include <ini.h>

#include "../../lib/inventory.h"
#include "../../lib/render.h"
#include "../../lib/session.h"

struct seen {
	const char *port, *path, *auth, *create, *owner; /* owner: NULL when none is wanted */
	int port_ok, path_ok, create_ok, auth_ok, owner_ok;
};

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct seen *s = user;

	/* the last value counts, as in the INI readers that allow a key twice */
	if (strcmp(section, "connectivity") == 0 && strcmp(name, "web-port") == 0)
		s->port_ok = strcmp(value, s->port) == 0;
	else if (strcmp(section, "connectivity") == 0 && strcmp(name, "web-url-path") == 0)
		s->path_ok = strcmp(value, s->path) == 0;
	else if (strcmp(section, "session-management") == 0 && strcmp(name, "create-session") == 0)
		s->create_ok = strcmp(value, s->create) == 0;
	else if (strcmp(section, "session-management/automatic-console-session") == 0 && strcmp(name, "owner") == 0)
		s->owner_ok = s->owner && strcmp(value, s->owner) == 0;
	else if (strcmp(section, "security") == 0 && strcmp(name, "authentication") == 0)
		s->auth_ok = s->auth && strcmp(value, s->auth) == 0;
	return 1;
}

/* Only for text an INI reader and render.c read alike: no line continued by indentation and
 * no key ending at ':' (inih), no CR, and no blank inside a section's brackets: render.c trims "[ connectivity ]" to
 * connectivity where inih (and GLib's key files) keep the blanks. That disagreement is
 * reported, not settled here. */
static bool plain_ini(const char *s)
{
	for (const char *p = s; *p; p++) {
		bool bol = p == s || p[-1] == '\n';
		if (*p == '\r' || (bol && isspace((unsigned char)*p)))
			return false;
		/* inih also splits a key at ':' (GLib's key files only at '=') */
		if (bol && strcspn(p, ":\n") < strcspn(p, "=\n"))
			return false;
		if (bol && *p == '[')
			for (const char *q = p + 1; *q && *q != ']' && *q != '\n'; q++)
				if (isspace((unsigned char)*q))
					return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dcv_host agent = { .name = "dcv1", .role = DCV_ROLE_AGENT };
	struct dcv_buf once = DCV_BUF_INIT, twice = DCV_BUF_INIT;
	char *existing;
	bool bypass;

	if (size < 1)
		return 0;
	bypass = data[0] & 1;
	agent.port = data[0] & 2 ? 8443 : 443;
	agent.web_url_path = data[0] & 4 ? "/" : "/dcv path/";
	agent.authentication = data[0] & 8 ? "system" : data[0] & 16 ? "none" : NULL;
	/* the inventory's defaults (a console session dcvserver makes itself), or a virtual one */
	agent.session = data[0] & 32 ? "desk" : "console";
	agent.session_type = data[0] & 64 ? "virtual" : "console";
	agent.session_owner = "ubuntu";
	existing = fuzz_str(data + 1, size - 1);

	dcv_render_dcvconf(existing, &agent, bypass, &once);
	dcv_render_dcvconf(dcv_buf_str(&once), &agent, bypass, &twice);
	if (strcmp(dcv_buf_str(&once), dcv_buf_str(&twice)) != 0) {
		fprintf(stderr, "--- once\n%s\n--- twice\n%s\n", dcv_buf_str(&once), dcv_buf_str(&twice));
		FUZZ_ASSERT(!"rendering its own output changed it");
	}
	if (plain_ini(existing)) {
		char port[16];
		bool automatic = dcv_session_automatic(&agent);
		struct seen seen = { port, data[0] & 4 ? "\"/\"" : "\"/dcv path/\"",
				     agent.authentication ? (data[0] & 8 ? "\"system\"" : "\"none\"") : NULL,
				     automatic ? "true" : "false", automatic ? "\"ubuntu\"" : NULL };
		snprintf(port, sizeof(port), "%d", agent.port);
		if (ini_parse_string(dcv_buf_str(&once), handler, &seen) == 0 &&
		    !(seen.port_ok && seen.path_ok && seen.create_ok && (!agent.authentication || seen.auth_ok) &&
		      (!automatic || seen.owner_ok))) {
			fprintf(stderr, "--- rendered\n%s\n--- port %d path %d create %d auth %d owner %d\n", dcv_buf_str(&once),
				seen.port_ok, seen.path_ok, seen.create_ok, seen.auth_ok, seen.owner_ok);
			FUZZ_ASSERT(!"an INI reader does not see the managed values");
		}
	}
	dcv_buf_release(&once);
	dcv_buf_release(&twice);
	free(existing);
	return 0;
}
