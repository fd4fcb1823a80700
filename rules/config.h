/* config — /etc/filterd/filterd.conf: "key = value" lines, '#' comments.
 * Every key can be overridden on the command line (filterd --set key=value).
 * Unknown keys and bad values are errors with file:line. */
#ifndef FILTERD_CONFIG_H
#define FILTERD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define FILTERD_CONF "/etc/filterd/filterd.conf"

enum fail_mode { FAIL_CLOSED, FAIL_OPEN };
enum ownership { OWN_AUTO, OWN_ON, OWN_OFF };

struct config {
	char *path;		/* file it came from, or NULL */
	char *policy;		/* policy file */
	char *tags;		/* service tags file */
	char *state_dir;
	char *socket;
	unsigned socket_mode;
	char *socket_group;	/* group owning the socket, "" = the daemon's own */
	char *user;		/* user filterd runs as after start-up, "" = stays as started */
	char *table;
	enum fail_mode fail_mode;
	enum ownership ownership;
	unsigned debounce_ms;
	uint16_t log_group;
	uint32_t log_rate, log_burst;
	char *roles[3];		/* reader, contributor, owner: "user:x,group:y" lists */
	char *audit_log;
	char *metrics_file;	/* node_exporter textfile, "" = off */
	unsigned metrics_interval;
	char *drop_pcap;	/* "" = off */
	size_t drop_pcap_max;
	unsigned drop_log_rate;	/* drop log lines per second */
	char *verify_captures;	/* "capture.pcap:expect.txt,..." */
	bool repair;		/* put back a table changed behind filterd's back */
	size_t audit_log_max;	/* rotate the audit log to .1 past this size, 0 = never */
	char *pcap_replay;	/* pcap-replay binary for verify, "" = beside filterd */
	/* FQDN rules (d_fqdn.c) */
	char *dns_servers;	/* "a,b": resolvers; "" = /etc/resolv.conf */
	unsigned fqdn_ttl_min, fqdn_ttl_max;	/* element timeout = TTL clamped */
	unsigned fqdn_max_addresses;	/* per FQDN set */
	unsigned dns_queue;	/* NFQUEUE number of DNS answers */
};

void config_defaults(struct config *c);
/* Reads a config file over the current values.  A missing file is not an error
 * when optional is true.  Returns 0 or -1 with diagnostics in d. */
int config_load(struct config *c, const char *path, bool optional, struct diags *d);
/* Applies one "key=value" (command line).  Returns 0 or -1 with a message. */
int config_set(struct config *c, const char *kv, char *err, size_t errlen);
void config_free(struct config *c);

/* Values checked as they are set (and by set-roles on the control socket):
 * a role list of user:NAME, group:NAME, uid:N and gid:N separated by commas
 * or spaces; resolvers as c-ares takes them (ADDR, IPV4:PORT, [IPV6]:PORT);
 * verify pairs CAPTURE:EXPECTATIONS separated by commas.  The _valid ones
 * that take bad copy the first bad item there. */
bool roles_valid(const char *list);
bool dns_servers_valid(const char *list, char *bad, size_t badlen);
bool verify_captures_valid(const char *list, char *bad, size_t badlen);
/* The user: and group: members of a role list this host does not know,
 * "user:x, group:y" into out; returns how many. */
size_t roles_unknown(const char *list, char *out, size_t outlen);

#endif
