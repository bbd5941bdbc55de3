/* dcvctl version */
#include "cli.h"

#include "../lib/version.h"

#include <json-c/json.h>

struct vars {
	bool json;
};

static const struct dcv_opt opts[] = {
	CLI_BOOL(struct vars, json, 0, "json", "print as JSON"),
	CLI_END,
};

static int run(struct dcv_ctx *ctx, int argc, char **argv)
{
	struct cli_args a;
	struct vars v = { 0 };
	int rc = cli_parse(&dcv_cmd_version, argc, argv, &a, &v);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if (ctx->json || v.json) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "version", json_object_new_string(DCV_VERSION));
		json_object_object_add(o, "libssh", json_object_new_string(dcv_libssh_version()));
		json_object_object_add(o, "json-c", json_object_new_string(json_c_version()));
		out_json(o);
	} else {
		printf("dcvctl %s (libssh %s, json-c %s)\n", DCV_VERSION, dcv_libssh_version(),
		       json_c_version());
	}
	return EXIT_OK;
}

const struct dcv_cmd dcv_cmd_version = {
	.name = "version",
	.summary = "print dcvctl's version and the libraries it runs on",
	.usage = "version [--json]",
	.opts = opts,
	.run = run,
};
