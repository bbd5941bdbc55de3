/* plan.h - what deploy will do on one host, decided from the inventory and the host's facts
 * alone (design §3, §7): no connection, no clock, no randomness. `deploy --dry-run` prints the
 * plan; apply runs it step by step with the file transactions, the rollback and the lock. */
#ifndef DCV_PLAN_H
#define DCV_PLAN_H

#include <stdbool.h>

#include "buf.h"
#include "facts.h"
#include "properties.h"
#include "proxy.h"
#include "service.h"
#include "session.h"

struct dcv_host;
struct dcv_inventory;

enum dcv_plan_op {
	DCV_OP_PACKAGE, /* install the kind's package with `cmd` */
	DCV_OP_REQUIRE, /* a precondition deploy cannot make true itself (cert and key) */
	DCV_OP_SECRET,  /* write the generated secret `after` to `target` (mode 600), once */
	DCV_OP_DERIVE,  /* build `target` on the host from its cert + key (mode 600) */
	DCV_OP_FILE,    /* write `after` to `target` through the transaction: validate, reload */
	DCV_OP_STOP,    /* stop `stop[]`, then disable `disable[]` */
	DCV_OP_SERVICE, /* start `target` unless active (`verb`), enable it unless enabled */
	DCV_OP_LISTEN,  /* confirm process `target` holds the port: apply always runs it */
	DCV_OP_RESTART, /* start or restart `target` (`verb`), then enable it when `enable` */
	DCV_OP_SESSION, /* the session ensure rule of lib/session.h */
	DCV_OP_UNIT,    /* start (`verb`) and enable (`enable`) unit `target`; nothing to roll back */
	DCV_OP_REMOVE,  /* stop `stop[]`, disable `disable[]`, remove `remove[]`, then `reload` */
	DCV_OP_GENCERTS, /* broker: run gen-gateway-certificates.sh (`cmd`) once; deploy parses the
			  * folder and trust-store password it prints, then plans the broker again */
	DCV_OP_PORT,    /* confirm something listens on `port` within a bounded wait */
};

struct dcv_plan_step {
	enum dcv_plan_op op;
	const char *name;     /* the step deploy reports: "config", "legacy", "dcvserver" (static) */
	bool change;          /* applying it changes the host */
	bool blocked;         /* it cannot be done: `detail` says why and what to do; the host stops */
	bool restart;         /* the change reloads or restarts a service */
	char *target;         /* the path or unit it acts on */
	char *before, *after; /* file contents or unit states ("active enabled"); NULL when not a file
			       * or state step. A SECRET step's `after` is the secret. */
	char *reason;         /* why it changes; NULL when it does not */
	char *detail;         /* the line deploy reports when it does not apply the step */
	char *diff;           /* FILE steps that change: the unified diff, secrets redacted */
	char *cmd;            /* PACKAGE: the install command */
	const char *validate, *reload; /* FILE: the kind's own constant commands, or NULL */
	char *check, *apply;  /* FILE: validate and reload commands made for this step (`validate`
			       * and `reload` point to them) */
	const char *mode;     /* FILE: octal mode of a new file, NULL: 644 */
	char *remove[3];      /* REMOVE: the files */
	int n_remove;
	const char *stop[DCV_FACTS_MAX_UNITS], *disable[DCV_FACTS_MAX_UNITS]; /* STOP */
	int n_stop, n_disable;
	const char *verb;     /* SERVICE, RESTART: "start", "restart" or NULL */
	bool enable;          /* SERVICE, RESTART */
	enum dcv_session_action session; /* SESSION */
	bool after_restart;   /* SESSION: dcvserver restarts first, so the rule runs again after it */
	bool await;           /* SESSION after a restart: dcvserver creates the automatic console
			       * session itself; wait for it (bounded) instead of creating it */
	bool secret_file;     /* FILE: the content is a private key: no diff, never shown */
	int port;             /* PORT */
};

/* One host's ordered steps. Borrows the inventory and the facts it was made from. */
struct dcv_plan {
	const struct dcv_host *host;
	struct dcv_plan_step *steps;
	int n;
	struct dcv_proxy_env env; /* gateway: what the render used, to redact and to rebuild */
	char *secret;             /* a generated "user:password" the env points into, or NULL */
};


/* The gateway's plan for kind `k`, its maintenance ([maintenance]) last. `new_secret` ("user:password") is what a DCV_DERIVE_SECRET
 * file gets when the facts hold none; the caller makes it up, so the plan stays pure. */
void dcv_plan_gateway(const struct dcv_inventory *inv, const struct dcv_host *gw,
		      const struct dcv_proxy_kind *k, const struct dcv_gw_facts *f, const char *new_secret,
		      struct dcv_plan *p);
/* An agent's plan. The bypass: Session Manager agent off; connection-gateway: on (it reports
 * the sessions the broker resolves). Then dcv.conf merged for the mode (lib/render.h),
 * dcvserver restarted only when dcv.conf changes (or started when stopped), the session
 * ensured, DCV's logs rotated as [maintenance] says. */
void dcv_plan_agent(const struct dcv_inventory *inv, const struct dcv_host *h, const struct dcv_agent_facts *st,
		    struct dcv_plan *p);
/* ------------------------------------------------------------ connection-gateway (seed 004) */

/* What the gateway's plan needs from the broker in connection-gateway mode. */
struct dcv_plan_resolver {
	const struct dcv_host *broker_host;         /* where the broker runs (dcv_broker_host) */
	const struct dcv_broker_facts *broker;      /* the [broker] host's facts */
	const struct dcv_gw_resolver_facts *copies; /* the gateway's copies of the broker's files */
	bool broker_pending; /* a dry run: the broker's plan still (re)starts it or generates the
			      * client credentials, so what is missing now will be there */
};

/* The gateway in connection-gateway mode: as dcv_plan_gateway, plus the broker's CA (and with
 * [broker] tls-client-auth its client certificate and key, mode 600) copied before the
 * configuration, which is rendered by dcv_render_gateway and linted (the gateway has no
 * configuration test: its lint errors block the step). */
void dcv_plan_gateway_resolver(const struct dcv_inventory *inv, const struct dcv_host *gw,
			       const struct dcv_proxy_kind *k, const struct dcv_gw_facts *f,
			       const struct dcv_plan_resolver *r, struct dcv_plan *p);

/* The broker's half on host `b` (design §4 `broker enable-gateway`): installed, with [broker]
 * tls-client-auth gen-gateway-certificates.sh run once (credentials found: kept), the gateway
 * connector keys merged into session-manager-broker.properties, the broker restarted only when
 * that file changes (started when stopped), its resolver port listening. `mtls` is the trust
 * store the script just made (its password), or NULL: then the properties' own is kept. The
 * trust-store password reaches p->env.trust_store_pass, so every diff is redacted. */
void dcv_plan_broker(const struct dcv_inventory *inv, const struct dcv_host *b, const struct dcv_broker_facts *bf,
		     const struct dcv_broker_mtls *mtls, struct dcv_plan *p);

/* What gen-gateway-certificates.sh printed: its folder and the trust-store password (the docs
 * say it prints both, the wording is unconfirmed, reference §5.1, §8): the lines that mention
 * "folder"/"directory" and "password", the text after their last ": ". Caller frees both;
 * false when either is missing. */
bool dcv_plan_parse_gencerts(const char *out, char **folder, char **password);

/* The step named `name`, NULL when the plan has none. */
const struct dcv_plan_step *dcv_plan_find(const struct dcv_plan *p, const char *name);
/* Secrets are wiped before they are freed. */
void dcv_plan_release(struct dcv_plan *p);


#endif
