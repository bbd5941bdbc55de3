/* proxy.h - the proxy kinds a gateway can run (design §3): one table entry per kind, in its own
 * lib/proxy_<kind>.c. deploy, check, config, cert and lint reach a kind only through this
 * table; nothing else branches on the kind. */
#ifndef DCV_PROXY_H
#define DCV_PROXY_H

#include <stdbool.h>

#include "buf.h"
#include "checks.h"
#include "inventory.h"
#include "lint.h"

/* What a renderer or linter needs beyond the inventory: facts read on the gateway and secrets
 * kept there. Secrets never leave dcvctl's memory except into the rendered file itself. */
struct dcv_proxy_env {
	bool crypto_policies;       /* /etc/crypto-policies exists (RHEL family) */
	const char *stats_user;     /* NULL until the gateway has them */
	const char *stats_password;
	const char *trust_store_pass; /* connection-gateway with mTLS: the broker's trust-store
				       * password (gen-gateway-certificates.sh), NULL otherwise */
	const char *crons;          /* the gateway's crontabs, for rules about health crons */
};

/* One backend server as the proxy itself sees it (gateway.proxy.backends). */
struct dcv_backend_state {
	char name[64];     /* the server's name in the config: the agent's inventory name */
	bool up;
	char status[32];   /* the proxy's word: UP, DOWN, MAINT, ... */
	char detail[256];  /* the proxy's last check result, e.g. "L4CON: Connection refused" */
};

/* A file deploy derives on the gateway itself, so its content (a private key) never travels. */
enum dcv_derive {
	DCV_DERIVE_CERT_KEY,  /* the gateway's cert followed by its key, as HAProxy's `crt` reads */
	DCV_DERIVE_SECRET,    /* "user:password", generated once, kept across deploys */
};

struct dcv_proxy_derived {
	const char *step;   /* deploy step name: "pem", "stats-secret" */
	const char *path;
	enum dcv_derive how;
};

/* A log a service writes: a file, or (when the file is absent or there is none) the unit's
 * journal. Arrays of them end with { NULL, NULL }. */
struct dcv_log_source {
	const char *file; /* NULL: the journal only */
	const char *unit; /* NULL: the file only */
};

/* A log file the kind writes, as /etc/logrotate.d/dcvctl-<kind> rotates it (lib/maint.h). */
struct dcv_rotated_log {
	const char *path;       /* a file or a glob */
	const char *create_rpm; /* logrotate `create` arguments on yum/dnf hosts ("0640 nginx root");
				 * NULL: the writer makes the file again itself (syslog) */
	const char *create_deb; /* the same on apt hosts */
	const char *postrotate; /* has the writer reopen the file; NULL: copytruncate */
};

struct dcv_proxy_kind {
	enum dcv_proxy id;
	const char *name;         /* as the inventory writes it */
	bool bypass;              /* the runbook's bypass: the Session Manager is stopped */
	const char *unit;         /* systemd unit */
	const char *binary;       /* present when the package is installed */
	const char *package_rpm;  /* yum/dnf package */
	const char *package_deb;  /* apt package */
	const char *config;       /* the file dcvctl renders */
	const char *validate;     /* checks the whole service configuration; exit 0 when valid */
	const char *reload;       /* reloads a running service, leaves a stopped one stopped */
	const char *cert_reload;  /* has a running service re-read its certificate, when that is
				   * lighter than `reload`; NULL: `reload` */
	const char *process;      /* its name in `ss -tlnp` */
	const char *const *stop;  /* units that must be stopped and disabled for it to own the port */
	const char *dump;         /* prints the configuration the service really loads */
	const struct dcv_rotated_log *logrotate; /* what [maintenance] logrotate rotates, or NULL */
	int n_logrotate;
	const struct dcv_proxy_derived *derived; /* files built on the gateway before the config */
	int n_derived;
	const struct dcv_log_source *logs; /* what `dcvctl logs` reads on the gateway */
	const enum dcv_check_key *checks; /* registry entries this kind adds beyond the common
					   * gateway rows, ended by DCV_CK_COUNT */
	const char *status;       /* prints the proxy's view of its backends, or NULL */
	/* Parse `status` output into *out (malloc'd, *n rows); false when it cannot be read. */
	bool (*backends)(const char *status, struct dcv_backend_state **out, int *n);
	/* The managed configuration, appended to `out`. */
	void (*render)(const struct dcv_inventory *inv, const struct dcv_proxy_env *env,
		       struct dcv_buf *out);
	/* Lint `text` (the output of `dump`, or a file). */
	void (*lint)(const char *text, const char *file, const struct dcv_proxy_env *env,
		     struct dcv_findings *out);
};

/* The kind an inventory value names; NULL for a kind this dcvctl cannot deploy yet. */
const struct dcv_proxy_kind *dcv_proxy_kind(enum dcv_proxy id);
/* By name ("nginx"), NULL when unknown. */
const struct dcv_proxy_kind *dcv_proxy_kind_named(const char *name);
/* Every kind that can be rendered, in a stable order; NULL-terminated. */
extern const struct dcv_proxy_kind *const dcv_proxy_kinds[];

extern const struct dcv_proxy_kind dcv_proxy_nginx;
extern const struct dcv_proxy_kind dcv_proxy_haproxy;

/* Units that hold the listen port or stand in for the bypass in bypass modes. */
#define DCV_UNIT_GATEWAY "dcv-connection-gateway"
#define DCV_UNIT_BROKER "dcv-session-manager-broker"
#define DCV_UNIT_SM_AGENT "dcv-session-manager-agent"

/* Does the inventory's gateway run a bypass kind (no gateway: the runbook's bypass)? */
bool dcv_proxy_bypass(const struct dcv_inventory *inv);

/* Replace every occurrence of the env's secrets in `b` with "<redacted>" before it is shown. */
void dcv_proxy_redact(const struct dcv_proxy_env *env, struct dcv_buf *b);

#endif
