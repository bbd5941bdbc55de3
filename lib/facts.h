/* facts.h - what a host's state is, read in one round trip (design §3): one script builder and
 * one parser per host role, returning typed state. check judges facts; deploy plans from them. */
#ifndef DCV_FACTS_H
#define DCV_FACTS_H

#include <stdbool.h>

#include "buf.h"
#include "maint.h"
#include "service.h"
#include "session.h"

struct dcv_err;
struct dcv_host;
struct dcv_inventory;
struct dcv_proxy_env;
struct dcv_proxy_kind;
struct dcv_ssh;

#define DCV_FACTS_MAX_UNITS 8

/* What [maintenance] manages on a host (lib/maint.h), read whether it is on or off. */
struct dcv_maint_facts {
	bool logrotate_bin;       /* logrotate is installed */
	bool lr_exists;
	struct dcv_buf lr;        /* dcvctl's logrotate file for the host's logs */
	struct dcv_buf lr_others; /* the host's other logrotate files, each after "### PATH" */
	char lr_dirs[DCV_MAINT_MAX_LOGS][160]; /* "OWNER GROUP MODE" of each log's directory */
	bool health_exists[3];    /* gateway: the health script, service and timer */
	struct dcv_buf health[3];
};

/* The gateway, as seen for one proxy kind. */
struct dcv_gw_facts {
	char os[32];              /* os-release ID ("amzn", "ubuntu", "unknown") */
	bool crypto_policies;     /* /etc/crypto-policies exists */
	bool has_binary;          /* the kind's binary is installed */
	int n_units;              /* the kind's unit first, then the units it must stop */
	const char *unit_names[DCV_FACTS_MAX_UNITS];
	struct dcv_unit_state units[DCV_FACTS_MAX_UNITS];
	bool config_exists;
	struct dcv_buf config;    /* the kind's managed file */
	int validate_rc;          /* exit status of the kind's validate command, -1 not run */
	struct dcv_buf validate_out;
	struct dcv_buf ss;        /* `ss -Htlnp` for the listen port */
	char listener[64];        /* the process holding the listen port, "" when none */
	struct dcv_buf cert_pem;  /* the gateway's certificate, empty when unreadable */
	bool key_readable;
	int key_match;            /* 1 matches, 0 does not, -1 unknown (no openssl) */
	bool derived_exists[4];   /* per kind->derived[] */
	bool derived_current[4];  /* a cert+key file equal to cert + key */
	char *stats_user;         /* a DCV_DERIVE_SECRET file "user:password", split; */
	char *stats_password;     /* both NULL when the file is absent or malformed */
	bool status_ok;           /* the kind's status command answered */
	struct dcv_buf status;
	struct dcv_buf crons;     /* root's crontab, /etc/crontab and /etc/cron.d */
	struct dcv_maint_facts maint;
};

/* The script that prints a gateway's facts for kind `k` (inventory values quoted); with
 * `validate`, the kind's validate command runs too (check and lint judge it; deploy validates
 * inside its file transaction instead). */
void dcv_gw_facts_script(const struct dcv_host *gw, const struct dcv_proxy_kind *k, bool validate,
			 struct dcv_buf *s);
/* Parse that script's output; false when it is not facts output at all. */
bool dcv_gw_facts_parse(const char *out, const struct dcv_proxy_kind *k, struct dcv_gw_facts *f);
/* Run the script on the gateway (with sudo) and parse it. */
int dcv_gw_facts_read(struct dcv_ssh *c, const struct dcv_host *gw, const struct dcv_proxy_kind *k,
		      bool validate, struct dcv_gw_facts *f, struct dcv_err *err);
void dcv_gw_facts_release(struct dcv_gw_facts *f);

/* The renderer's env from the facts: host facts and the kept secrets, borrowed from `f`. */
void dcv_gw_facts_env(const struct dcv_gw_facts *f, struct dcv_proxy_env *env);

/* The health files in the order of dcv_maint_facts.health. */
extern const char *const dcv_health_files[3];

/* The state of `unit` among the facts' units, NULL when it was not asked for. */
const struct dcv_unit_state *dcv_gw_facts_unit(const struct dcv_gw_facts *f, const char *unit);
bool dcv_unit_is_active(const struct dcv_unit_state *u);
bool dcv_unit_is_enabled(const struct dcv_unit_state *u);

/* An agent (a DCV server), as check judges it and deploy plans from it. */
struct dcv_agent_facts {
	char os[32];                   /* os-release ID ("amzn", "ubuntu", "unknown") */
	struct dcv_unit_state dcvserver;
	struct dcv_unit_state sm_agent; /* dcv-session-manager-agent */
	bool conf_exists;
	struct dcv_buf conf;           /* /etc/dcv/dcv.conf as it is */
	int web_port;                  /* [connectivity] web-port in it, 0 when unset */
	char web_url_path[256];        /* [connectivity] web-url-path, "" when unset */
	struct dcv_buf ss;             /* `ss -Htlnp` for the agent's port */
	char listener[64];             /* the process holding the agent's port, "" when none */
	int sessions_rc;               /* exit status of `dcv list-sessions --json`, -1 not run */
	struct dcv_buf sessions_out;   /* its output (stderr included) */
	bool sessions_ok;              /* exit 0 and the output parsed into `sessions` */
	struct dcv_sessions sessions;
	char sessions_err[256];        /* why not sessions_ok, "" when it is */
	struct dcv_buf log;            /* the tail of /var/log/dcv/server.log */
	struct dcv_maint_facts maint;
};

/* The script that prints agent `a`'s facts (inventory values quoted). */
void dcv_agent_facts_script(const struct dcv_host *a, struct dcv_buf *s);
/* Parse that script's output; false when it is not facts output at all. `f` is always
 * initialised (release it either way). */
bool dcv_agent_facts_parse(const char *out, struct dcv_agent_facts *f);
/* Run the script on the agent (with sudo) and parse it; `f` is filled only on DCV_OK. */
int dcv_agent_facts_read(struct dcv_ssh *c, const struct dcv_host *a, struct dcv_agent_facts *f,
			 struct dcv_err *err);
void dcv_agent_facts_release(struct dcv_agent_facts *f);

/* ==================================================================== broker (seed 004)
 * The Session Manager broker as the Connection Gateway's Session Resolver (reference/dcv.md
 * §5.1, §5.3), read on the [broker] host (default: the gateway) in one round trip, and the
 * copies of its CA and client credentials the gateway holds. deploy plans from them; check
 * judges them. */

#define DCV_BROKER_CA "/var/lib/dcvsmbroker/security/dcvsmbroker_ca.pem"
#define DCV_BROKER_GEN_CERTS "/usr/share/dcv-session-manager-broker/bin/gen-gateway-certificates.sh"
/* The folder the docs name for gen-gateway-certificates.sh's output (§5.1); the folder the
 * script really prints wins, and later runs find it through the trust-store-file property. */
#define DCV_BROKER_CREDS "/etc/dcv-session-manager-broker/resolver-creds"
#define DCV_BROKER_CLIENT_CERT_NAME "dcv_gateway_cert.pem"
#define DCV_BROKER_CLIENT_KEY_NAME "dcv_gateway_key.pem"

struct dcv_broker_facts {
	char os[32];                 /* os-release ID */
	bool has_binary;             /* dcv-session-manager-broker is installed */
	bool has_gen_certs;          /* gen-gateway-certificates.sh is there */
	struct dcv_unit_state broker; /* dcv-session-manager-broker */
	bool props_exists;
	struct dcv_buf props;        /* session-manager-broker.properties; holds the trust-store
				      * password: wiped on release, never shown */
	char props_stat[96];         /* "OWNER GROUP MODE" of the properties file, "" when absent */
	struct dcv_buf ca_pem;       /* the broker's CA (DCV_BROKER_CA), empty when absent */
	struct dcv_buf ss;           /* `ss -Htlnp` for the resolver port */
	char listener[64];           /* the process holding the resolver port, "" when none */
	char creds_dir[256];         /* where the client credentials are looked for: the folder of
				      * the trust-store-file property, else DCV_BROKER_CREDS */
	bool trust_store_exists;     /* the trust-store-file property names an existing file */
	struct dcv_buf client_cert;  /* creds_dir/dcv_gateway_cert.pem, empty when absent */
	struct dcv_buf client_key;   /* creds_dir/dcv_gateway_key.pem (secret: wiped on release) */
	bool mappings_ok;            /* describe-server-dns-mappings answered */
	struct dcv_buf mappings;     /* its output (JSON list, reference §5.3) */
};

/* The host the broker runs on: [broker] host, else the gateway; NULL when neither exists. */
const struct dcv_host *dcv_broker_host(const struct dcv_inventory *inv);
/* The script that prints the broker's facts (values quoted). Without `secrets` (check judges, it
 * deploys nothing) the properties come as the lines of the keys check judges only and the client
 * key is not read: the trust store's password and the key never leave the broker. */
void dcv_broker_facts_script(const struct dcv_inventory *inv, bool secrets, struct dcv_buf *s);
/* Parse that output; false when it is not facts output. `f` is always initialised. */
bool dcv_broker_facts_parse(const char *out, struct dcv_broker_facts *f);
/* Run the script on the broker host `b` (with sudo) and parse it; `f` filled only on DCV_OK. */
int dcv_broker_facts_read(struct dcv_ssh *c, const struct dcv_host *b, const struct dcv_inventory *inv,
			  bool secrets, struct dcv_broker_facts *f, struct dcv_err *err);
void dcv_broker_facts_release(struct dcv_broker_facts *f);

/* The gateway's copies of the broker's files (lib/proxy_gateway.h paths). */
struct dcv_gw_resolver_facts {
	bool ca_exists, cert_exists, key_exists;
	struct dcv_buf ca, cert;
	struct dcv_buf key;          /* secret: wiped on release */
	char key_mode[8];            /* octal mode of the key copy, "" when absent */
};

void dcv_gw_resolver_facts_script(struct dcv_buf *s);
bool dcv_gw_resolver_facts_parse(const char *out, struct dcv_gw_resolver_facts *f);
int dcv_gw_resolver_facts_read(struct dcv_ssh *c, const struct dcv_host *gw, struct dcv_gw_resolver_facts *f,
			       struct dcv_err *err);
void dcv_gw_resolver_facts_release(struct dcv_gw_resolver_facts *f);
/* ==================================================================== end broker */

#endif
