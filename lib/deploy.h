/* deploy.h - the runbook as a plan of idempotent steps per host (design §7). */
#ifndef DCV_DEPLOY_H
#define DCV_DEPLOY_H

#include <pthread.h>
#include <stdbool.h>

#include "rollout.h"

struct dcv_err;
struct dcv_host;
struct dcv_inventory;
struct dcv_ssh;
struct dcv_ssh_pool;
struct dcv_txn;

enum dcv_step_status { DCV_STEP_OK, DCV_STEP_CHANGED, DCV_STEP_FAILED, DCV_STEP_SKIPPED };

struct dcv_step {
	char host[64];
	char name[32];
	enum dcv_step_status status;
	long ms;
	char *detail; /* one line: what happened or would happen */
	char *diff;   /* unified diff for file steps that change, else NULL */
	char *reason; /* why the plan changes this (lib/plan.h); NULL when it does not */
	int err_code; /* for failed steps: the lib error (DCV_E_LOST...) or 0 for a result */
	long started_ms; /* when the step began, from the start of the run */
	int batch;       /* agents: their batch, from 1; 0 for the gateway */
};

typedef void (*dcv_step_fn)(void *user, const struct dcv_step *step);

/* Where the run is, each time a host finishes or a batch begins (cmd/ draws progress from it). */
struct dcv_deploy_progress {
	int done, total;      /* hosts finished, hosts the run needs */
	int failed;           /* hosts finished with a failed step */
	int batch, n_batches; /* the batch under way from 1 (0: the gateway) and how many there are */
	const char *host;     /* the host that just finished; NULL when a batch begins */
	bool host_failed;
};

typedef void (*dcv_progress_fn)(void *user, const struct dcv_deploy_progress *p);

struct dcv_deploy_opts {
	bool dry_run;
	const char *only;  /* NULL, or a comma list of "gateway", "agents" and host names */
	const char *owner; /* who runs this, recorded with the remote lock */
	/* serial set: a rolling deploy, agents in batches (lib/rollout.h), each verified before the
	 * next, stopping once more than max_fail of them failed */
	struct dcv_amount serial, max_fail;
	dcv_step_fn on_step; /* called as each step ends (from several threads, serialised) */
	dcv_progress_fn on_progress; /* called as hosts finish (serialised with on_step), or NULL */
	void *user;
};

struct dcv_deploy_result;
/* Append a finished step to `res` (taking its strings) and count it; calls on_step, under the
 * result's lock. For deploy and for restore, which reports the same steps. */
void dcv_deploy_result_add(struct dcv_deploy_result *res, const struct dcv_step *s, dcv_step_fn on_step,
			   void *user);

struct dcv_deploy_result {
	struct dcv_step *steps;
	int n;
	int ok, changed, failed, skipped;
	int unreachable; /* hosts that could not be reached or whose connection was lost */
	int hosts;       /* hosts the run needed */
	int hosts_failed; /* of those, hosts with a failed step */
	/* rolling deploy */
	int batches, budget; /* batches planned; failed agents tolerated */
	bool stopped;        /* the budget was spent (or the gateway failed) before every batch ran */
	bool gateway_failed; /* rolling: so no agent was touched */
	char **untouched;    /* agents left as they were, in inventory order */
	int n_untouched;
	pthread_mutex_t lock;
};

/* Plan each host from its facts (lib/plan.h), then apply the plan, or with dry_run only report it. Returns DCV_E_CONFIG when the inventory cannot be
 * deployed (no gateway, unsupported proxy), DCV_E_USAGE for an unknown --only name; step failures are results. */
int dcv_deploy(const struct dcv_inventory *inv, struct dcv_ssh_pool *pool,
	       const struct dcv_deploy_opts *opts, struct dcv_deploy_result *res,
	       struct dcv_err *err);
/* The broker's half alone (`dcvctl broker enable-gateway`, design §4): on the [broker] host,
 * gen-gateway-certificates.sh once when [broker] tls-client-auth is on, the gateway connector
 * merged into session-manager-broker.properties, the broker restarted only on change, its
 * resolver port listening. Only dry_run, owner and the callbacks of `opts` apply. DCV_E_CONFIG
 * without a broker host. */
int dcv_deploy_broker(const struct dcv_inventory *inv, struct dcv_ssh_pool *pool, const struct dcv_deploy_opts *opts,
		      struct dcv_deploy_result *res, struct dcv_err *err);
void dcv_deploy_result_release(struct dcv_deploy_result *res);

/* One file put at a managed path outside a plan (restore): the content, and what it should be. */
struct dcv_put {
	const char *path;
	const char *content;
	size_t len;
	unsigned mode;          /* also for a file that exists: the recorded mode wins */
	const char *owner, *group; /* NULL: root */
	const char *validate, *apply; /* the kind's own constant commands, or NULL */
};

/* Put `put` in place through deploy's file transaction (lib/remote.h: temp file, backup, rename,
 * validate, apply), then give it its owner and mode. `txn` says what happened (release it);
 * DCV_E_REMOTE when the file is in place but its owner or mode could not be set. */
int dcv_deploy_put(struct dcv_ssh *c, const struct dcv_host *h, const struct dcv_put *put,
		   struct dcv_txn *txn, struct dcv_err *err);
/* Undo a put that was WRITTEN: its backup renamed back, or the file removed when it was new. */
int dcv_deploy_unput(struct dcv_ssh *c, const struct dcv_host *h, const char *path, const char *backup,
		     struct dcv_err *err);
const char *dcv_step_status_name(enum dcv_step_status s);

#endif
