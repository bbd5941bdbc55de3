/* Progress on stderr. The live line is redrawn in place (\r, erase to end of line) and kept
 * shorter than a terminal line so it never wraps. */
#include "progress.h"

#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void progress_init(struct progress *p, struct dcv_ctx *ctx, const char *what, int hosts)
{
	const char *no_color = getenv("NO_COLOR"), *term = getenv("TERM");
	bool tty = isatty(STDERR_FILENO);

	memset(p, 0, sizeof(*p));
	p->what = what;
	if (hosts < 2)
		return;
	p->line = tty && !ctx->quiet && !(term && strcmp(term, "dumb") == 0);
	p->plain = !tty && !ctx->quiet;
	p->color = ctx->color_when == CLI_COLOR_ALWAYS ||
		   (ctx->color_when == CLI_COLOR_AUTO && p->line && !(no_color && *no_color));
}

static void draw(struct progress *p)
{
	fprintf(stderr, "\r\033[K%s", p->text);
	fflush(stderr);
	p->shown = true;
}

void progress_update(struct progress *p, int done, int total, int failed, int batch, int n_batches,
		     const char *host, bool host_failed)
{
	char where[48] = "";

	if (n_batches && batch)
		snprintf(where, sizeof(where), ", batch %d/%d", batch, n_batches);
	else if (n_batches)
		snprintf(where, sizeof(where), ", gateway first");
	if (p->plain && host) {
		fprintf(stderr, "%s: %s %s (%d/%d hosts done, %d failed%s)\n", p->what, host,
			host_failed ? "failed" : "done", done, total, failed, where);
		fflush(stderr);
	}
	if (!p->line)
		return;
	snprintf(p->text, sizeof(p->text), "%s: %d/%d hosts done, %s%d failed%s%s", p->what, done, total,
		 p->color && failed ? "\033[31m" : "", failed, p->color && failed ? "\033[0m" : "", where);
	draw(p);
}

void progress_hide(struct progress *p)
{
	if (p->shown)
		fputs("\r\033[K", stderr);
}

void progress_show(struct progress *p)
{
	if (p->shown)
		draw(p);
}

void progress_end(struct progress *p)
{
	progress_hide(p);
	fflush(stderr);
	p->shown = false;
}
