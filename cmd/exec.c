/* dcvctl exec HOST -- CMD [ARG...]: like kubectl exec, every argument arrives literally. */
#include "cli.h"

#include "../lib/buf.h"
#include "../lib/inventory.h"
#include "../lib/ssh.h"
#include "../lib/util.h"

#include <unistd.h>

struct vars {
	bool stdin_, sudo;
	long timeout_ms;
};

static const struct dcv_opt opts[] = {
	CLI_BOOL(struct vars, stdin_, 'i', "stdin", "pass dcvctl's standard input to the command"),
	CLI_BOOL(struct vars, sudo, 's', "sudo", "run the command as root with sudo -n"),
	CLI_DURATION(struct vars, timeout_ms, 't', "timeout", "DUR", 0,
		     "give up after DUR (default: the host's command-timeout)"),
	CLI_END,
};

static void stream(void *user, int is_stderr, const char *data, size_t len)
{
	(void)user;
	FILE *f = is_stderr ? stderr : stdout;
	fwrite(data, 1, len, f);
	fflush(f);
}

static int run(struct dcv_ctx *ctx, int argc, char **argv)
{
	struct dcv_inventory *inv;
	struct cli_args a;
	struct dcv_host *h;
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_ssh_exec req = DCV_SSH_EXEC_INIT;
	struct dcv_ssh_result res;
	struct dcv_ssh_pool *pool;
	struct dcv_ssh *c;
	struct dcv_buf cmd = DCV_BUF_INIT;
	struct vars v = { .timeout_ms = req.timeout_ms };
	int rc = cli_parse(&dcv_cmd_exec, argc, argv, &a, &v);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if (a.n_pos != 1 || !a.has_rest || a.n_rest == 0) {
		return usage_error(&dcv_cmd_exec, a.n_pos == 0 ? "missing HOST" :
					   a.n_pos > 1 ? "put the command after '--'" : "missing '-- CMD'");
	}
	if ((rc = ctx_inventory(ctx, &inv)) != EXIT_OK || !(h = ctx_host(ctx, a.pos[0]))) {
		return rc ? rc : EXIT_USAGE;
	}
	dcv_shquote_argv(&cmd, (const char *const *)a.rest, a.n_rest);
	req.cmd = cmd.data;
	req.timeout_ms = v.timeout_ms;
	req.sudo = v.sudo;
	req.in_fd = v.stdin_ ? STDIN_FILENO : -1;
	req.output = stream;
	req.capture = req.sudo; /* only to recognise sudo's password prompt */

	dcv_ssh_result_init(&res);
	pool = ctx_pool(ctx);
	rc = dcv_ssh_connect(pool, h, &c, &err);
	if (rc == DCV_OK)
		rc = dcv_ssh_run(c, &req, &res, &err);
	if (rc != DCV_OK) {
		out_error("%s: %s", h->name, err.msg);
		rc = EXIT_EXEC_TRANSPORT;
	} else {
		rc = res.status;
	}
	dcv_ssh_result_release(&res);
	dcv_ssh_pool_free(pool);
	dcv_buf_release(&cmd);
	return rc;
}

const struct dcv_cmd dcv_cmd_exec = {
	.name = "exec",
	.summary = "run a command on a host, arguments passed literally, output streamed",
	.usage = "exec [-i] [--sudo] [--timeout DUR] HOST -- CMD [ARG...]",
	.help = "Each argument after '--' reaches the remote command as one word, exactly as given:\n"
		"no remote word splitting or expansion (use 'sh -c ...' for shell features).\n"
		"Exits with the remote command's status, or 255 when dcvctl could not run it\n"
		"(connect, authentication, host key, lost connection, timeout).\n",
	.opts = opts,
	.max_args = CLI_ARGS_MANY,
	.run = run,
};
