#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->policy = strdup("/etc/filterd/policy.yaml");
	c->tags = strdup("/etc/filterd/servicetags.json");
	c->state_dir = strdup("/var/lib/filterd");
	c->socket = strdup("/run/filterd/filterd.sock");
	c->socket_mode = 0660;
	c->socket_group = strdup("");
	c->user = strdup("");
	c->table = strdup("filterd");
	c->fail_mode = FAIL_CLOSED;
	c->ownership = OWN_AUTO;
	c->debounce_ms = 200;
	c->log_group = 1;
	c->log_rate = 10;
	c->log_burst = 20;
	c->roles[0] = strdup("");
	c->roles[1] = strdup("");
	c->roles[2] = strdup("");
	c->audit_log = strdup("/var/log/filterd/audit.log");
	c->metrics_file = strdup("");
	c->metrics_interval = 15;
	c->drop_pcap = strdup("");
	c->drop_pcap_max = 16u << 20;
	c->drop_log_rate = 10;
	c->verify_captures = strdup("");
	c->repair = true;
	c->audit_log_max = 16u << 20;
	c->pcap_replay = strdup("");
	c->dns_servers = strdup("");
	c->fqdn_ttl_min = 30;
	c->fqdn_ttl_max = 3600;
	c->fqdn_max_addresses = 256;
	c->dns_queue = 53;
}

void config_free(struct config *c)
{
	free(c->path);
	free(c->policy);
	free(c->tags);
	free(c->state_dir);
	free(c->socket);
	free(c->socket_group);
	free(c->user);
	free(c->table);
	for (int i = 0; i < 3; i++)
		free(c->roles[i]);
	free(c->audit_log);
	free(c->metrics_file);
	free(c->drop_pcap);
	free(c->verify_captures);
	free(c->pcap_replay);
	free(c->dns_servers);
	memset(c, 0, sizeof(*c));
}

static int set_str(char **dst, const char *v)
{
	char *n = strdup(v);
	if (!n)
		return -1;
	free(*dst);
	*dst = n;
	return 0;
}

static int parse_uint(const char *v, unsigned long max, unsigned long *out, int base)
{
	char *end;
	errno = 0;
	unsigned long x = strtoul(v, &end, base);
	if (!*v || *end || errno || x > max || *v == '-')
		return -1;
	*out = x;
	return 0;
}

bool roles_valid(const char *list)
{
	const char *p = list;

	while (*p) {
		while (*p == ',' || *p == ' ')
			p++;
		if (!*p)
			break;
		const char *colon = strchr(p, ':');
		size_t kl = colon ? (size_t)(colon - p) : 0;
		bool numeric = (kl == 3 && (!strncmp(p, "uid", 3) || !strncmp(p, "gid", 3)));
		if (!numeric && !(kl == 4 && !strncmp(p, "user", 4)) &&
		    !(kl == 5 && !strncmp(p, "group", 5)))
			return false;
		const char *v = colon + 1;
		size_t n = 0;
		while (v[n] && v[n] != ',' && v[n] != ' ') {
			unsigned char ch = (unsigned char)v[n];
			/* '@' and '$': directory users (alice@corp.example) and
			 * machine accounts (HOST$) */
			if (!(isalnum(ch) || ch == '_' || ch == '-' || ch == '.' || ch == '@' || ch == '$'))
				return false;
			if (numeric && !isdigit(ch))
				return false;
			n++;
		}
		if (n == 0 || n > 63)	/* filterd keeps a caller's names in 64 bytes */
			return false;
		p = v + n;
	}
	return strlen(list) <= 4096;
}

static void copy_bad(char *bad, size_t badlen, const char *s, size_t n)
{
	if (bad && badlen)
		snprintf(bad, badlen, "%.*s", (int)n, s);
}

bool dns_servers_valid(const char *list, char *bad, size_t badlen)
{
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ", ");
		if (!n) {
			p++;
			continue;
		}
		char a[128], *port = NULL;
		unsigned char buf[16];
		bool ok = n < sizeof(a);
		if (ok) {
			memcpy(a, p, n);
			a[n] = '\0';
			/* IPv6 may carry a zone (fe80::1%eth0), IPv4 not */
			char *v6 = a, *e = NULL;
			if (a[0] == '[') {	/* [v6]:port */
				e = strchr(a, ']');
				ok = e && (e[1] == ':' || !e[1]);
				if (ok) {
					port = e[1] ? e + 2 : NULL;
					*e = '\0';
					v6 = a + 1;
				}
			}
			if (ok) {
				char six[128];
				snprintf(six, sizeof(six), "%s", v6);
				char *zone = strchr(six, '%');
				if (zone && zone[1])
					*zone = '\0';
				if (inet_pton(AF_INET6, six, buf) != 1) {
					char *colon = e ? NULL : strchr(a, ':');
					if (e)
						ok = false;
					else {
						if (colon) {
							*colon = '\0';
							port = colon + 1;
						}
						ok = inet_pton(AF_INET, a, buf) == 1;
					}
				}
			}
			unsigned long u;
			if (ok && port)
				ok = parse_uint(port, 65535, &u, 10) == 0 && u > 0;
		}
		if (!ok) {
			copy_bad(bad, badlen, p, n);
			return false;
		}
		p += n;
	}
	return true;
}

bool verify_captures_valid(const char *list, char *bad, size_t badlen)
{
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		const char *t = p;
		size_t tn = n;
		while (tn && *t == ' ')
			t++, tn--;
		while (tn && t[tn - 1] == ' ')
			tn--;
		if (tn) {
			const char *colon = memrchr(t, ':', tn);
			if (!colon || colon == t || colon == t + tn - 1) {
				copy_bad(bad, badlen, t, tn);
				return false;
			}
		}
		p += n + (p[n] == ',');
	}
	return true;
}

size_t roles_unknown(const char *list, char *out, size_t outlen)
{
	size_t count = 0, used = 0;

	if (outlen)
		out[0] = '\0';
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ", ");
		char name[80];
		bool unknown = false;
		if (n > 5 && n - 5 < sizeof(name) && !strncmp(p, "user:", 5)) {
			snprintf(name, sizeof(name), "%.*s", (int)(n - 5), p + 5);
			unknown = !getpwnam(name);
		} else if (n > 6 && n - 6 < sizeof(name) && !strncmp(p, "group:", 6)) {
			snprintf(name, sizeof(name), "%.*s", (int)(n - 6), p + 6);
			unknown = !getgrnam(name);
		}
		if (unknown) {
			int w = snprintf(out + used, outlen > used ? outlen - used : 0, "%s%.*s",
					 count ? ", " : "", (int)n, p);
			if (w > 0 && used + (size_t)w < outlen)
				used += (size_t)w;
			count++;
		}
		p += n ? n : 1;
	}
	return count;
}

struct key {
	const char *name;
	enum { K_STR, K_PATH, K_UINT, K_OCTAL, K_FAIL, K_OWN, K_SIZE, K_BOOL, K_ROLES, K_DNS, K_PAIRS } type;
	size_t off;
	unsigned long max;
	const char *help;
};

#define OFF(f) offsetof(struct config, f)
static const struct key keys[] = {
	{ "policy", K_PATH, OFF(policy), 0, "policy file" },
	{ "tags", K_PATH, OFF(tags), 0, "service tags file" },
	{ "state_dir", K_PATH, OFF(state_dir), 0, "state directory" },
	{ "socket", K_PATH, OFF(socket), 0, "control socket" },
	{ "socket_mode", K_OCTAL, OFF(socket_mode), 0777, "control socket permissions (octal)" },
	{ "socket_group", K_STR, OFF(socket_group), 0, "group of the control socket" },
	{ "table", K_STR, OFF(table), 0, "nftables table name" },
	{ "user", K_STR, OFF(user), 0, "user to run as after start-up (keeps CAP_NET_ADMIN)" },
	{ "fail_mode", K_FAIL, OFF(fail_mode), 0, "closed | open" },
	{ "ownership", K_OWN, OFF(ownership), 0, "auto | on | off" },
	{ "debounce_ms", K_UINT, OFF(debounce_ms), 60000, "wait for editors' write bursts" },
	{ "log_group", K_UINT, OFF(log_group), 65535, "NFLOG group of drop rules" },
	{ "log_rate", K_UINT, OFF(log_rate), 1000000, "logged drops per second per rule" },
	{ "log_burst", K_UINT, OFF(log_burst), 1000000, "burst of logged drops" },
	{ "role.reader", K_ROLES, OFF(roles[0]), 0, "users/groups with the reader role" },
	{ "role.contributor", K_ROLES, OFF(roles[1]), 0, "users/groups with the contributor role" },
	{ "role.owner", K_ROLES, OFF(roles[2]), 0, "users/groups with the owner role" },
	{ "audit_log", K_PATH, OFF(audit_log), 0, "audit log file" },
	{ "metrics_file", K_STR, OFF(metrics_file), 0, "node_exporter textfile (empty: off)" },
	{ "metrics_interval", K_UINT, OFF(metrics_interval), 86400, "seconds between textfile writes" },
	{ "drop_pcap", K_STR, OFF(drop_pcap), 0, "pcap file of dropped packets (empty: off)" },
	{ "drop_pcap_max", K_SIZE, OFF(drop_pcap_max), 0, "size cap of the drop pcap" },
	{ "drop_log_rate", K_UINT, OFF(drop_log_rate), 1000000, "drop log lines per second" },
	{ "verify_captures", K_PAIRS, OFF(verify_captures), 0, "capture:expectations pairs for verify" },
	{ "repair", K_BOOL, OFF(repair), 0, "on: repair drift; off: only log and audit it" },
	{ "audit_log_max", K_SIZE, OFF(audit_log_max), 1, "rotate the audit log past this size (0: never)" },
	{ "pcap_replay", K_STR, OFF(pcap_replay), 0, "pcap-replay binary used by verify" },
	{ "dns_servers", K_DNS, OFF(dns_servers), 0, "resolvers for FQDN rules, comma-separated (empty: /etc/resolv.conf)" },
	{ "fqdn_ttl_min", K_UINT, OFF(fqdn_ttl_min), 86400, "shortest FQDN element timeout (s)" },
	{ "fqdn_ttl_max", K_UINT, OFF(fqdn_ttl_max), 604800, "longest FQDN element timeout (s)" },
	{ "fqdn_max_addresses", K_UINT, OFF(fqdn_max_addresses), 65536, "addresses per FQDN set" },
	{ "dns_queue", K_UINT, OFF(dns_queue), 65535, "NFQUEUE number of DNS answers" },
};

static int set_key(struct config *c, const char *k, const char *v, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		const struct key *kk = &keys[i];
		unsigned long u;
		if (strcmp(k, kk->name) != 0)
			continue;
		void *field = (char *)c + kk->off;
		switch (kk->type) {
		case K_PATH:
			if (v[0] != '/') {
				snprintf(err, errlen, "%s must be an absolute path, not '%s'", k, v);
				return -1;
			}
			/* fall through */
		case K_ROLES:
		case K_DNS:
		case K_PAIRS: {
			char bad[160];
			if (kk->type == K_ROLES && !roles_valid(v)) {
				snprintf(err, errlen, "%s must list user:NAME, group:NAME, uid:N or gid:N "
					 "separated by commas, not '%s'", k, v);
				return -1;
			}
			if (kk->type == K_DNS && !dns_servers_valid(v, bad, sizeof(bad))) {
				snprintf(err, errlen, "%s: '%s' is not an address (ADDRESS, IPV4:PORT or "
					 "[IPV6]:PORT, separated by commas)", k, bad);
				return -1;
			}
			if (kk->type == K_PAIRS && !verify_captures_valid(v, bad, sizeof(bad))) {
				snprintf(err, errlen, "%s: '%s' is not CAPTURE:EXPECTATIONS (pairs separated "
					 "by commas)", k, bad);
				return -1;
			}
		}
			/* fall through */
		case K_STR:
			if (set_str(field, v) < 0) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			return 0;
		case K_UINT:
		case K_OCTAL:
			if (parse_uint(v, kk->max, &u, kk->type == K_OCTAL ? 8 : 10) < 0) {
				snprintf(err, errlen, kk->type == K_OCTAL ? "%s must be an octal number up to %lo, not '%s'" :
					 "%s must be a number up to %lu, not '%s'", k, kk->max, v);
				return -1;
			}
			if (kk->off == OFF(log_group))
				c->log_group = (uint16_t)u;
			else if (kk->off == OFF(log_rate) || kk->off == OFF(log_burst))
				*(uint32_t *)field = (uint32_t)u;
			else
				*(unsigned *)field = (unsigned)u;
			return 0;
		case K_SIZE:
			/* max 1: 0 switches the feature off */
			if (parse_uint(v, (unsigned long)1 << 40, &u, 10) < 0 || (u < 4096 && !(u == 0 && kk->max))) {
				snprintf(err, errlen, "%s must be a byte count of at least 4096%s, not '%s'", k,
					 kk->max ? " (or 0)" : "", v);
				return -1;
			}
			*(size_t *)field = u;
			return 0;
		case K_BOOL:
			if (strcmp(v, "on") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "true") == 0)
				*(bool *)field = true;
			else if (strcmp(v, "off") == 0 || strcmp(v, "no") == 0 || strcmp(v, "false") == 0)
				*(bool *)field = false;
			else {
				snprintf(err, errlen, "%s must be on or off, not '%s'", k, v);
				return -1;
			}
			return 0;
		case K_FAIL:
			if (strcmp(v, "closed") == 0)
				c->fail_mode = FAIL_CLOSED;
			else if (strcmp(v, "open") == 0)
				c->fail_mode = FAIL_OPEN;
			else {
				snprintf(err, errlen, "fail_mode must be 'closed' or 'open', not '%s'", v);
				return -1;
			}
			return 0;
		case K_OWN:
			if (strcmp(v, "auto") == 0)
				c->ownership = OWN_AUTO;
			else if (strcmp(v, "on") == 0)
				c->ownership = OWN_ON;
			else if (strcmp(v, "off") == 0)
				c->ownership = OWN_OFF;
			else {
				snprintf(err, errlen, "ownership must be auto, on or off, not '%s'", v);
				return -1;
			}
			return 0;
		}
	}
	snprintf(err, errlen, "unknown key '%s'", k);
	return -1;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int config_set(struct config *c, const char *kv, char *err, size_t errlen)
{
	char *dup = strdup(kv), *eq;
	int ret;

	if (!dup) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	eq = strchr(dup, '=');
	if (!eq) {
		snprintf(err, errlen, "'%s' is not key=value", kv);
		free(dup);
		return -1;
	}
	*eq = '\0';
	ret = set_key(c, trim(dup), trim(eq + 1), err, errlen);
	free(dup);
	return ret;
}

int config_load(struct config *c, const char *path, bool optional, struct diags *d)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int lineno = 0;
	size_t errors = d->errors;

	if (!f) {
		if (optional && errno == ENOENT)
			return 0;
		diags_add(d, DIAG_ERROR, path, 0, 0, "%s", strerror(errno));
		return -1;
	}
	set_str(&c->path, path);
	while (fgets(line, sizeof(line), f)) {
		char err[512];
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			diags_add(d, DIAG_ERROR, path, lineno, 1, "line is longer than %zu bytes", sizeof(line) - 2);
			int ch;
			while ((ch = fgetc(f)) != EOF && ch != '\n')
				;
			continue;
		}
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			diags_add(d, DIAG_ERROR, path, lineno, 1, "expected 'key = value'");
			continue;
		}
		*eq = '\0';
		char *k = trim(s), *v = trim(eq + 1);
		if (set_key(c, k, v, err, sizeof(err)) < 0)
			/* an unknown key points at the key, a bad value at the value */
			diags_add(d, DIAG_ERROR, path, lineno,
				  (int)((strncmp(err, "unknown key", 11) == 0 ? k : v) - line) + 1,
				  "%s", err);
	}
	fclose(f);
	return d->errors > errors ? -1 : 0;
}
