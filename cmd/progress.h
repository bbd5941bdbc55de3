/* progress.h - long work over many hosts (deploy, check) as design §4 asks: one live status
 * line on stderr when it is a terminal, cleared at the end; otherwise one plain line per
 * finished host, unless -q. */
#ifndef DCV_PROGRESS_H
#define DCV_PROGRESS_H

#include <stdbool.h>

struct dcv_ctx;

struct progress {
	const char *what; /* "deploy", "check" */
	bool line;        /* live line on a terminal */
	bool plain;       /* a line per host */
	bool color;
	bool shown;       /* the live line is on the screen */
	char text[160];   /* the live line's last text, to redraw it */
};

/* Off for fewer than 2 hosts: one host is not a fleet, and its own output says enough. */
void progress_init(struct progress *p, struct dcv_ctx *ctx, const char *what, int hosts);
/* A host finished (`host` set) or a batch began (`host` NULL; batch 0 is the gateway; n_batches 0: no
 * batches). Callers serialise the calls. */
void progress_update(struct progress *p, int done, int total, int failed, int batch, int n_batches,
		     const char *host, bool host_failed);
/* Take the live line off the screen before other output, and put it back after. */
void progress_hide(struct progress *p);
void progress_show(struct progress *p);
/* Clear the live line for good. */
void progress_end(struct progress *p);

#endif
