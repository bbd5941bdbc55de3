/* proxy_gateway.h - the Amazon DCV Connection Gateway on the gateway (seed 004, design §3, §7):
 * dcv-connection-gateway.conf (TOML, reference/dcv.md §3) rendered from the inventory, and its
 * lint. Pure functions, no I/O.
 * The broker half (session-manager-broker.properties, its CA, mTLS credentials) is planned in
 * lib/plan.c from the broker's facts. */
#ifndef DCV_PROXY_GATEWAY_H
#define DCV_PROXY_GATEWAY_H

#include "buf.h"
#include "lint.h"
#include "proxy.h"

struct dcv_err;
struct dcv_inventory;

#define DCV_GATEWAY_CONF "/etc/dcv-connection-gateway/dcv-connection-gateway.conf"
/* The broker's CA (/var/lib/dcvsmbroker/security/dcvsmbroker_ca.pem on the broker, §5.1),
 * copied to the gateway for [resolver] ca-file. */
#define DCV_GATEWAY_BROKER_CA "/etc/dcv-connection-gateway/dcvsmbroker_ca.pem"
/* The client certificate and key gen-gateway-certificates.sh makes (§5.1), copied here. */
#define DCV_GATEWAY_CLIENT_CERT "/etc/dcv-connection-gateway/dcv_gateway_cert.pem"
#define DCV_GATEWAY_CLIENT_KEY "/etc/dcv-connection-gateway/dcv_gateway_key.pem"
/* nice-dcv-web-viewer's files: the gateway ships no web client (§3). */
#define DCV_GATEWAY_WEB_ROOT "/usr/share/dcv/www"
/* The TCP health check for the NLB target group: the docs' NLB example port (§3.1). */
#define DCV_GATEWAY_HEALTH_PORT 8989

/* The DNS name the gateway reaches the resolver by: [broker] name, else the broker host's
 * address when that is a name. *name points into `inv`. DCV_E_CONFIG when only an IP is known
 * (the gateway refuses one, §3.1) or there is no broker host; the message says what to set. */
int dcv_gateway_resolver_name(const struct dcv_inventory *inv, const char **name, struct dcv_err *err);

/* dcv-connection-gateway.conf, appended to `out`; deterministic. `dcv_ca_file` is the CA on the
 * gateway that signed the agents' certificates, NULL for DCV's own self-signed ones (then
 * [dcv] tls-strict = false). Fails like dcv_gateway_resolver_name, leaving `out` untouched. */
int dcv_render_gateway(const struct dcv_inventory *inv, const char *dcv_ca_file, struct dcv_buf *out,
		       struct dcv_err *err);

/* Findings on a dcv-connection-gateway.conf (reference §3.1): gateway.syntax,
 * gateway.unknown-section, gateway.unknown-key (nearest valid name), gateway.duplicate-key,
 * gateway.deprecated-key, gateway.web-listen-endpoints, gateway.resolver-url,
 * gateway.resolver-ip, gateway.resolver-ca-file, gateway.cert-pair, gateway.web-resources-ip,
 * gateway.no-web-resources, gateway.tcp-idle-timeout. Appended in line order per rule. */
void dcv_lint_gateway(const char *text, const char *file, struct dcv_findings *out);

/* The string value of `key` in `[section]` of a dcv-connection-gateway.conf, as the gateway
 * reads it; NULL when unset or not a string. Caller frees. */
char *dcv_gateway_conf_get(const char *text, const char *section, const char *key);

/* The kind's table entry. Its `render` cannot fail,
 * so with no DNS name it writes the broker's address and the lint says so; deploy calls
 * dcv_render_gateway instead. */
extern const struct dcv_proxy_kind dcv_proxy_gateway;

#endif
