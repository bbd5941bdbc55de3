/* properties.h - Java .properties files, as the Session Manager broker reads
 * session-manager-broker.properties (reference/dcv.md §5.1): the keys dcvctl manages merged into
 * the operator's file, everything else kept. Pure functions. */
#ifndef DCV_PROPERTIES_H
#define DCV_PROPERTIES_H

#include <stdbool.h>

struct dcv_buf;
struct dcv_inventory;

#define DCV_BROKER_PROPERTIES "/etc/dcv-session-manager-broker/session-manager-broker.properties"

struct dcv_property {
	const char *key;
	const char *value; /* NULL removes the key */
};

/* `existing` (NULL reads as "") with each key of `set` given its value, appended to `out`: the
 * first logical line of a key is rewritten in place (its separator and spacing kept; left as is
 * when the value already matches) and its repeats dropped, since the last one would win; a new
 * key goes after a commented-out line of the same key, else at the end. Comments (# !), blank
 * lines, foreign keys and continuation lines of foreign keys stay byte for byte. Applying it to
 * its own output changes nothing. */
void dcv_properties_merge(const char *existing, const struct dcv_property *set, int n, struct dcv_buf *out);

/* The value of `key` in `text` as the broker reads it (escapes undone, continuation lines joined;
 * the last occurrence wins), or NULL. Caller frees. */
char *dcv_properties_get(const char *text, const char *key);

/* What the trust store of gen-gateway-certificates.sh adds (reference §5.1); the password never
 * leaves the broker's properties file. */
struct dcv_broker_mtls {
	const char *trust_store_file;
	const char *trust_store_pass;
};

/* session-manager-broker.properties with the gateway connector on (reference §5.1, seed 004):
 * enable-gateway = true, gateway-to-broker-connector-https-port = the inventory's resolver-port,
 * gateway-to-broker-connector-bind-host = 0.0.0.0, and enable-tls-client-auth-gateway = true with
 * the trust store keys when `mtls` is set, false otherwise. Merged into `existing`. */
void dcv_render_broker_properties(const char *existing, const struct dcv_inventory *inv,
				  const struct dcv_broker_mtls *mtls, struct dcv_buf *out);

#endif
