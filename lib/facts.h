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

#endif
