/* dnsmap.h - the broker's server -> DNS name mappings (reference/dcv.md §5.3): without one the
 * broker knows an agent's sessions but answers the resolver with 404. Pure functions. */
#ifndef DCV_DNSMAP_H
#define DCV_DNSMAP_H

struct dcv_buf;
struct dcv_host;

/* The mappings file for register-server-dns-mappings, appended to `out`: every mapping of
 * `current` (the JSON list describe-server-dns-mappings prints; NULL, "" or unreadable: none)
 * kept, plus {"ServerIdType": "Ip", "ServerId": ADDRESS, "DnsNames": {"InternalDnsName":
 * ADDRESS}} for each of the n agents no "Ip" mapping names yet (the address the agent reports
 * to the broker is its inventory address). Returns how many were added: 0 means nothing to
 * register, and `out` is then left untouched. */
/* Where deploy leaves that file on the broker host for the broker CLI to read. */
#define DCV_DNSMAP_FILE "/etc/dcv-session-manager-broker/dcvctl-dns-mappings.json"

int dcv_dnsmap_merge(const char *current, const struct dcv_host *const *agents, int n, struct dcv_buf *out);

#endif
