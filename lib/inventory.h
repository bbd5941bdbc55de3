/* inventory.h - dcvctl.conf (design §5): parse, validate, resolve jumps. */
#ifndef DCV_INVENTORY_H
#define DCV_INVENTORY_H

#include <stdbool.h>
#include <stdio.h>

#include "rollout.h"

struct dcv_err;

enum dcv_role {
	DCV_ROLE_BASTION,
	DCV_ROLE_GATEWAY,
	DCV_ROLE_AGENT,
	DCV_ROLE_JUMP, /* implicit host from `jump = user@host:port` */
};

enum dcv_hostkey_policy {
	DCV_HOSTKEY_UNSET = -1,
	DCV_HOSTKEY_STRICT,
	DCV_HOSTKEY_ACCEPT_NEW,
	DCV_HOSTKEY_OFF,
};

enum dcv_proxy {
	DCV_PROXY_NGINX,
	DCV_PROXY_HAPROXY,
	DCV_PROXY_CONNECTION_GATEWAY,
};

#define DCV_MAX_IDENTITIES 16
#define DCV_MAX_NAMES 16

/* The [ssh] keys; every field starts unset (-1 / NULL / 0 identities) so a host's own
 * values win over the defaults and the defaults over built-in values (OpenSSH readconf). */
struct dcv_sshcfg {
	char *identity[DCV_MAX_IDENTITIES];
	int n_identity;
	char *known_hosts;
	int host_key_policy;
	long connect_timeout_ms;
	long command_timeout_ms;
	long parallel;
	int sudo;
};

struct dcv_host {
	char *name;
	enum dcv_role role;
	int line; /* line of the section header, 0 for implicit hosts */
	char *address;
	char *ssh_host; /* where SSH connects (default: address) */
	int ssh_port;   /* default 22 */
	char *user;
	char *jump_spec;         /* as written */
	struct dcv_host *jump;   /* resolved, NULL when direct */
	struct dcv_sshcfg ssh;   /* resolved: host values over [ssh] over built-in defaults */

	/* gateway */
	enum dcv_proxy proxy;
	int listen;
	char *cert;
	char *key;

	/* agent */
	int port;
	char *web_url_path;
	char *authentication; /* NULL: not managed */
	char *session;
	char *session_type;
	char *session_owner;
	char *session_name; /* NULL: no name */
	int session_line;   /* line of its `session` key, 0 when defaulted */
	bool backup;
};

struct dcv_inventory {
	char *path;
	/* [endpoint] */
	char *url;
	char *connect_to;
	char *ca_file;
	char *names[DCV_MAX_NAMES];
	int n_names;
	char *proxy;
	/* [ssh] as written, before defaults are filled */
	struct dcv_sshcfg ssh;
	/* hosts in file order; implicit jump hosts appended */
	struct dcv_host **hosts;
	int n_hosts;
	/* [broker] */
	char *broker_host;
	char *broker_name; /* DNS name of the resolver for [resolver] url (never an IP) */
	int resolver_port;
	bool tls_client_auth;
	/* [aws]: the AWS side of the path, through the operator's aws CLI (NULL: unset) */
	bool aws;               /* the section is there: check runs the aws.* rows */
	char *aws_region;
	char *aws_profile;
	char *aws_vpc_endpoint_id;
	char *aws_target_group_arn;
	char *aws_security_group_ids; /* space-separated */
	/* [maintenance]: what deploy installs to keep the hosts serving (on by default) */
	bool logrotate;            /* /etc/logrotate.d/dcvctl-<kind> for the proxy's and DCV's logs */
	bool health_restart;       /* the dcvctl-health timer on the gateway */
	int restart_limit;         /* proxy restarts it may make per hour */
	long health_interval_ms;   /* how often it probes */
	/* [check] */
	int cert_warn_days;
	long hold_ms;
	int http_expect[16];
	int n_http_expect;
	/* [deploy]: a rolling deploy's batch size and failure budget (unset: n < 0) */
	struct dcv_amount deploy_serial;
	struct dcv_amount deploy_max_fail;
};

/* Parse `path`; `home` expands a leading `~/` in path values. On error returns DCV_E_CONFIG
 * (or DCV_E_IO when the file cannot be read) with "FILE:LINE: message" in err. */
int dcv_inventory_load(const char *path, const char *home, struct dcv_inventory **out,
		       struct dcv_err *err);
/* Same from a stream; `name` is used in messages. */
int dcv_inventory_parse(FILE *f, const char *name, const char *home,
			struct dcv_inventory **out, struct dcv_err *err);
void dcv_inventory_free(struct dcv_inventory *inv);

struct dcv_host *dcv_inventory_host(const struct dcv_inventory *inv, const char *name);
struct dcv_host *dcv_inventory_gateway(const struct dcv_inventory *inv);
/* Suggest the nearest host name for an unknown one (NULL when nothing is close). */
const char *dcv_inventory_suggest_host(const struct dcv_inventory *inv, const char *name);

const char *dcv_role_name(enum dcv_role r);
const char *dcv_proxy_name(enum dcv_proxy p);
const char *dcv_hostkey_policy_name(int p);

/* Every key the inventory knows, for completions and documentation checks. */
extern const char *const dcv_inventory_sections[];

#endif
