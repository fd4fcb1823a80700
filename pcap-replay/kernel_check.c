/* kernel_check — pcap-replay --kernel-check: the same frames through the
 * evaluator and through a real kernel, compared packet by packet.
 *
 * Two scratch network namespaces, PREFIX-host (the pool host) and PREFIX-peer,
 * joined by one veth pair (eth0 on both sides, MTU 65535).  The host gets
 * this capture's local addresses, a default route through a gateway with a
 * permanent neighbour entry (10.255.255.254, fe80::ff) so that nothing waits
 * for ARP/ND, rp_filter and redirects off, and nf_conntrack_checksum as the
 * evaluator has it: 0, or 1 with --verify-checksums (see conntrack.h; frames
 * sent from the peer through AF_PACKET reach the host's prerouting as
 * CHECKSUM_NONE, which is what the evaluator mirrors).  The ruleset is applied there with
 * nl_apply(), dumped back with ruleset_from_kernel() and the EVALUATOR LOADS
 * THAT DUMP, so rule handles name the same rules on both sides.
 *
 * Each frame is then played, in capture order:
 *   inbound   sent from the peer's eth0 through an AF_PACKET socket, with the
 *             Ethernet header rewritten to the veth MACs (multicast and
 *             broadcast destinations get the matching group MAC).  VLAN tags
 *             are STRIPPED: the host has no VLAN interface, and the ruleset
 *             sees iifname "eth0" as pcap-replay assumes for every frame;
 *   outbound  sent inside the host through a raw socket (IPv4 IP_HDRINCL,
 *   loopback  IPv6 IPPROTO_RAW = IPV6_HDRINCL) carrying a mark, so that it
 *             traverses LOCAL_OUT (and, to a local address, lo and INPUT).
 * Frames the capture cut short are padded with zeros to their IP length
 * (with --verify-checksums an inbound one then gets a right transport
 * checksum: the evaluator took the cut one for right);
 * pcap-replay then reports them "incomplete" whenever a rule or conntrack
 * needed the missing bytes, and those packets are undecidable offline.
 *
 * A helper table "kcheck" in the host sets nftrace (netdev ingress, priority
 * -500; inet output -500 for marked packets), records where the packet got
 * (inet prerouting / input / output at -150: after nf_defrag and conntrack,
 * before the filter at 0) and its conntrack state (one rule per state), and
 * drops everything the host's own stack emits (RST, ICMP errors, echo
 * replies, ND, MLD): those packets are not in the capture and must not touch
 * conntrack.  The peer drops whatever it receives.  After each frame a
 * sentinel frame (ethertype 0x88b5, dropped at ingress) is sent; its trace
 * closes the packet's events (one CPU: the backlog keeps the order).
 *
 * Comparison per frame: the rules that matched (chain, handle, verdict, jump
 * target) and the policy, in order, the conntrack state at the hook, whether
 * the hook was reached at all, and for a packet with a conntrack entry its
 * time left, its SEEN_REPLY and ASSURED bits and (TCP, SCTP) the tracker's
 * own state (SYN_SENT, COOKIE_WAIT, ...), which the host's table gives for
 * the entry's tuple over ctnetlink (when it lists the entry: one refused by
 * the ruleset was never confirmed).  Undecidable offline, reported per
 * packet: pcap-replay marked it incomplete; the capture cut an IP header;
 * the kernel's routing dropped a packet between conntrack and the input hook
 * (martian source, multicast group not joined: host state no capture shows);
 * the raw socket refused to send it (e.g. EINVAL on a header it rewrites). */
#include "replay.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <libmnl/libmnl.h>
#include <libnftnl/trace.h>
#include <pcap/pcap.h>

#include "dump.h"
#include "netlink.h"

#define KC_MTU		65535	/* the veth pair's MTU: ETH_MAX_MTU */
#define KC_MTU_STR	"65535"

#define KC_MARK		0x4b434b21u	/* "KCK!": packets we inject on output */
#define KC_SENTINEL	0x88b5		/* IEEE local experimental ethertype */
#define KC_TABLE	"kcheck"
#define KC_MAX_EV	64
#define KC_WAIT_MS	3000

static const uint8_t host_mac[6] = { 0x02, 0x6b, 0x63, 0, 0, 0x01 };
static const uint8_t peer_mac[6] = { 0x02, 0x6b, 0x63, 0, 0, 0x02 };

/* One step of a path: a rule that matched, or a base chain's policy. */
struct kc_ev {
	bool policy;
	char chain[48];
	uint64_t handle;
	int verdict;
	char target[48];
};

struct kc_path {
	struct kc_ev ev[KC_MAX_EV];
	unsigned n;
	bool overflow;
};

/* the conntrack status bits compared (CONFIRMED differs by design: the
 * evaluator's record is taken before the confirmation) */
#define KC_STATUS_BITS (IPS_SEEN_REPLY | IPS_ASSURED)

/* What the evaluator did with one frame. */
struct kc_rec {
	unsigned capture;
	uint64_t frame;
	enum replay_pkt_kind kind;
	enum flow_dir dir;
	bool incomplete;
	bool truncated;		/* the capture lacks bytes of the IP packet */
	const char *why;
	int verdict;
	uint32_t ct_state;	/* bits as nft_ct reads them (judged only) */
	uint8_t l4proto;	/* judged, when the transport was located; else 0 */
	/* its conntrack entry after conntrack saw it: the original tuple, the
	 * protocol state (TCP, SCTP; else ""), the time left */
	bool has_entry;
	char pstate[24];
	struct ct_tuple ptuple;
	int64_t pto_ms;		/* with has_entry: the entry's time left, ms */
	uint32_t pstatus;	/* with has_entry: its IPS_SEEN_REPLY | IPS_ASSURED bits */
	double cap_s;		/* capture time since the run's first packet */
	char desc[160];
	struct kc_path path;
};

/* What the kernel did with it. */
struct kc_kern {
	bool sent;		/* the injection syscall succeeded (EPERM counts: a drop) */
	int send_errno;
	bool ingress, pre, in, out0, out;
	char ct_in[32], ct_out[32];	/* matched ct rules at input / output */
	struct kc_path path;
	char pstate[24];	/* the entry's protocol state in the host's table, or "" */
	int64_t pto_s;		/* its time left (CTA_TIMEOUT), s; -1: not listed */
	uint32_t pstatus;	/* its status (CTA_STATUS) bits as pstatus above */
};

struct kc {
	const struct replay_opts *o;
	FILE *out;			/* its report lines */
	const char *prefix;
	bool verbose;
	char host[64], peer[64];
	int orig_ns, host_ns, peer_ns;
	int host_ifindex, peer_ifindex;
	struct mnl_socket *nl;
	int raw4, raw6, raw4b, raw6b, pkt;
	struct mnl_socket *ctnl;	/* ctnetlink in the host: tracker states */
	uint32_t ctseq;
	const struct ct_table *ctt;	/* the evaluator's conntrack table */
	bool have_t0;
	struct timeval t0;		/* the first packet's capture time */
	struct timespec run0;		/* when the kernel's run began */
	bool ct_noted;			/* said once that they cannot be compared */
	bool timing;			/* --kernel-check-timing */
	struct kc_rec *recs;
	size_t nrecs, rcap;
	struct kc_path cur;	/* evaluator events of the current frame */
	const struct ruleset *krs;	/* the dump of the kernel's table */
	struct ruleset *kcrs;		/* the dump of the helper table (handles) */
	uint64_t *limited;		/* handles of rules with a limit expression */
	size_t nlimited;
	uint64_t limit_only;		/* agreed once rate-limited rules were left out */
	uint64_t ahead;			/* disagreed when the capture's clock was ahead of
					 * the kernel's by over a second (not --timing) */
	char err[1024];
};

/* ---- namespaces ----------------------------------------------------------- */

/* The names, for the signal handler: it only unmounts and unlinks. */
static char g_ns_path[2][128];
static volatile sig_atomic_t g_ns_live;

static void ns_remove_all(void)
{
	for (int i = 0; i < 2; i++) {
		if (!g_ns_path[i][0])
			continue;
		umount2(g_ns_path[i], MNT_DETACH);
		unlink(g_ns_path[i]);
	}
	g_ns_live = 0;
}

static void on_signal(int sig)
{
	if (g_ns_live)
		ns_remove_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Runs argv (no shell) in the current namespace; stdout to /dev/null, stderr
 * kept.  Returns the exit status, or -1. */
static int run(const char *const argv[], const char *input)
{
	int pfd[2] = { -1, -1 }, st;
	pid_t pid;

	if (input && pipe(pfd) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		if (input) {
			dup2(pfd[0], STDIN_FILENO);
			close(pfd[0]);
			close(pfd[1]);
		}
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "pcap-replay: --kernel-check: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (input) {
		size_t len = strlen(input), off = 0;

		close(pfd[0]);
		while (off < len) {
			ssize_t w = write(pfd[1], input + off, len - off);

			if (w <= 0)
				break;
			off += (size_t)w;
		}
		close(pfd[1]);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int runf(struct kc *k, const char *what, const char *const argv[])
{
	if (run(argv, NULL) != 0) {
		snprintf(k->err, sizeof(k->err), "setting up the namespaces: %s failed", what);
		return -1;
	}
	return 0;
}

static int write_sysctl(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -1 : 0;
}

static int enter(struct kc *k, int fd)
{
	if (setns(fd, CLONE_NEWNET) < 0) {
		snprintf(k->err, sizeof(k->err), "setns: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int open_ns(struct kc *k, const char *name)
{
	char path[160];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		snprintf(k->err, sizeof(k->err), "%s: %s", path, strerror(errno));
	return fd;
}

static void addr_text(int fam, const struct addr *a, unsigned len, char *buf, size_t blen)
{
	char t[INET6_ADDRSTRLEN];

	addr_format(fam, a, t, sizeof(t));
	snprintf(buf, blen, "%s/%u", t, len);
}

/* Splits [lo, hi] into CIDR blocks; returns how many were written (<= max). */
static size_t interval_prefixes(int fam, const struct interval *iv, struct prefix *out,
				size_t max)
{
	unsigned bits = fam == AF_INET ? 32 : 128, nb = bits / 8;
	struct addr lo = iv->lo;
	size_t n = 0;

	while (n < max && addr_cmp(fam, &lo, &iv->hi) <= 0) {
		unsigned len;
		struct addr top;

		for (len = 0; len <= bits; len++) {
			bool aligned = true;

			top = lo;
			for (unsigned b = len; b < bits; b++) {
				if (lo.b[b / 8] & (0x80 >> (b % 8)))
					aligned = false;
				top.b[b / 8] |= (uint8_t)(0x80 >> (b % 8));
			}
			if (aligned && addr_cmp(fam, &top, &iv->hi) <= 0)
				break;
		}
		out[n].family = fam;
		out[n].len = len;
		out[n].a = lo;
		n++;
		/* lo = top + 1, stop on wrap-around */
		int i;

		lo = top;
		for (i = (int)nb - 1; i >= 0; i--)
			if (++lo.b[i] != 0)
				break;
		if (i < 0)
			break;
	}
	return n;
}

/* Each local prefix: a host-length one as an address on eth0, a wider one as a
 * local route (every address in it is this host's, as --local says). */
static int add_locals(struct kc *k, const struct pset *s, int fam)
{
	unsigned maxlen = fam == AF_INET ? 32 : 128;

	for (size_t i = 0; i < s->n; i++) {
		struct prefix pf[256];
		size_t np = interval_prefixes(fam, &s->v[i], pf, sizeof(pf) / sizeof(pf[0]));

		for (size_t j = 0; j < np; j++) {
			char a[80];

			addr_text(fam, &pf[j].a, pf[j].len, a, sizeof(a));
			if (pf[j].len == maxlen) {
				const char *argv[] = { "ip", "-n", k->host, fam == AF_INET ? "-4" : "-6",
						       "addr", "add", a, "dev", "eth0",
						       fam == AF_INET6 ? "nodad" : NULL, NULL };
				if (runf(k, "ip addr add", argv) < 0)
					return -1;
			} else {
				const char *argv[] = { "ip", "-n", k->host, fam == AF_INET ? "-4" : "-6",
						       "route", "add", "local", a, "dev", "lo", NULL };
				if (runf(k, "ip route add local", argv) < 0)
					return -1;
			}
		}
	}
	return 0;
}

static const char kcheck_nft[] =
"table netdev " KC_TABLE " {\n"
"	chain ingress {\n"
"		type filter hook ingress device \"eth0\" priority -500;\n"
"		meta nftrace set 1 comment \"ingress\"\n"
"		ether type 0x88b5 drop comment \"sentinel\"\n"
"	}\n"
"}\n"
"table inet " KC_TABLE " {\n"
"	chain out0 {\n"
"		type filter hook output priority -500;\n"
"		meta mark 0x4b434b21 meta mark set 0 meta nftrace set 1 accept comment \"out0\"\n"
"		drop comment \"host-generated\"\n"
"	}\n"
"	chain pre {\n"
"		type filter hook prerouting priority -150;\n"
"		meta nftrace set 1 comment \"pre\"\n"
"	}\n"
"	chain in {\n"
"		type filter hook input priority -150;\n"
"		meta nftrace set 1 comment \"in\"\n"
"		ct state new comment \"ct:new\"\n"
"		ct state established comment \"ct:established\"\n"
"		ct state related comment \"ct:related\"\n"
"		ct state invalid comment \"ct:invalid\"\n"
"		ct state untracked comment \"ct:untracked\"\n"
"	}\n"
"	chain out {\n"
"		type filter hook output priority -150;\n"
"		meta nftrace set 1 comment \"out\"\n"
"		ct state new comment \"ct:new\"\n"
"		ct state established comment \"ct:established\"\n"
"		ct state related comment \"ct:related\"\n"
"		ct state invalid comment \"ct:invalid\"\n"
"		ct state untracked comment \"ct:untracked\"\n"
"	}\n"
"}\n";

static const char peer_nft[] =
"table netdev kcdrop {\n"
"	chain in { type filter hook ingress device \"eth0\" priority 0; policy drop; }\n"
"}\n";

static int setup_ns(struct kc *k, const struct pset *l4, const struct pset *l6)
{
	static const char *const host_sysctls[][2] = {
		{ "/proc/sys/net/ipv4/conf/all/rp_filter", "0" },
		{ "/proc/sys/net/ipv4/conf/default/rp_filter", "0" },
		{ "/proc/sys/net/ipv4/conf/all/accept_redirects", "0" },
		{ "/proc/sys/net/ipv4/conf/default/accept_redirects", "0" },
		{ "/proc/sys/net/ipv4/conf/all/forwarding", "0" },
		{ "/proc/sys/net/ipv6/conf/all/disable_ipv6", "0" },
		{ "/proc/sys/net/ipv6/conf/default/disable_ipv6", "0" },
		{ "/proc/sys/net/ipv6/conf/all/accept_dad", "0" },
		{ "/proc/sys/net/ipv6/conf/default/accept_dad", "0" },
		{ "/proc/sys/net/ipv6/conf/all/accept_ra", "0" },
		{ "/proc/sys/net/ipv6/conf/default/accept_ra", "0" },
		{ "/proc/sys/net/ipv6/conf/all/accept_redirects", "0" },
		{ "/proc/sys/net/ipv6/conf/default/accept_redirects", "0" },
		{ "/proc/sys/net/ipv6/conf/all/forwarding", "0" },
		{ "/proc/sys/net/ipv6/conf/default/router_solicitations", "0" },
	};
	char mac_h[32], mac_p[32];

	snprintf(k->host, sizeof(k->host), "%s-host", k->prefix);
	snprintf(k->peer, sizeof(k->peer), "%s-peer", k->prefix);
	{
		const char *a1[] = { "ip", "netns", "add", k->host, NULL };
		const char *a2[] = { "ip", "netns", "add", k->peer, NULL };

		/* only what was created here is ever removed */
		if (runf(k, "ip netns add (is the prefix already in use?)", a1) < 0)
			return -1;
		snprintf(g_ns_path[0], sizeof(g_ns_path[0]), "/run/netns/%s", k->host);
		g_ns_live = 1;
		if (runf(k, "ip netns add (is the prefix already in use?)", a2) < 0)
			return -1;
		snprintf(g_ns_path[1], sizeof(g_ns_path[1]), "/run/netns/%s", k->peer);
	}
	k->host_ns = open_ns(k, k->host);
	k->peer_ns = open_ns(k, k->peer);
	if (k->host_ns < 0 || k->peer_ns < 0)
		return -1;

	/* sysctls before the interfaces exist, so that "default" applies */
	if (enter(k, k->host_ns) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(host_sysctls) / sizeof(host_sysctls[0]); i++)
		write_sysctl(host_sysctls[i][0], host_sysctls[i][1]);
	if (enter(k, k->peer_ns) < 0)
		return -1;
	write_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	if (enter(k, k->orig_ns) < 0)
		return -1;

	snprintf(mac_h, sizeof(mac_h), "%02x:%02x:%02x:%02x:%02x:%02x", host_mac[0], host_mac[1],
		 host_mac[2], host_mac[3], host_mac[4], host_mac[5]);
	snprintf(mac_p, sizeof(mac_p), "%02x:%02x:%02x:%02x:%02x:%02x", peer_mac[0], peer_mac[1],
		 peer_mac[2], peer_mac[3], peer_mac[4], peer_mac[5]);
	{
		const char *veth[] = { "ip", "-n", k->host, "link", "add", "eth0", "mtu", KC_MTU_STR,
				       "address", mac_h, "type", "veth", "peer", "name", "eth0",
				       "netns", k->peer, "mtu", KC_MTU_STR, "address", mac_p, NULL };
		const char *lo_up[] = { "ip", "-n", k->host, "link", "set", "lo", "up", NULL };
		const char *plo_up[] = { "ip", "-n", k->peer, "link", "set", "lo", "up", NULL };

		if (runf(k, "ip link add veth", veth) < 0 || runf(k, "ip link set lo up", lo_up) < 0 ||
		    runf(k, "ip link set lo up", plo_up) < 0)
			return -1;
	}
	if (enter(k, k->host_ns) < 0)
		return -1;
	write_sysctl("/proc/sys/net/ipv4/conf/eth0/rp_filter", "0");
	write_sysctl("/proc/sys/net/ipv6/conf/eth0/accept_dad", "0");
	k->host_ifindex = (int)if_nametoindex("eth0");
	if (enter(k, k->peer_ns) < 0)
		return -1;
	k->peer_ifindex = (int)if_nametoindex("eth0");
	if (enter(k, k->orig_ns) < 0)
		return -1;
	if (!k->host_ifindex || !k->peer_ifindex) {
		snprintf(k->err, sizeof(k->err), "setting up the namespaces: no eth0");
		return -1;
	}
	if (add_locals(k, l4, AF_INET) < 0 || add_locals(k, l6, AF_INET6) < 0)
		return -1;
	{
		const char *up_h[] = { "ip", "-n", k->host, "link", "set", "eth0", "up", NULL };
		const char *up_p[] = { "ip", "-n", k->peer, "link", "set", "eth0", "up", NULL };
		const char *gw4[] = { "ip", "-n", k->host, "-4", "route", "add", "default", "via",
				      "10.255.255.254", "dev", "eth0", "onlink", NULL };
		const char *n4[] = { "ip", "-n", k->host, "-4", "neigh", "replace", "10.255.255.254",
				     "lladdr", mac_p, "dev", "eth0", "nud", "permanent", NULL };
		const char *gw6[] = { "ip", "-n", k->host, "-6", "route", "add", "default", "via",
				      "fe80::ff", "dev", "eth0", NULL };
		const char *n6[] = { "ip", "-n", k->host, "-6", "neigh", "replace", "fe80::ff",
				     "lladdr", mac_p, "dev", "eth0", "nud", "permanent", NULL };
		const char *mc4[] = { "ip", "-n", k->host, "-4", "route", "add", "224.0.0.0/4",
				      "dev", "eth0", NULL };
		const char *bc4[] = { "ip", "-n", k->host, "-4", "route", "add", "255.255.255.255/32",
				      "dev", "eth0", NULL };

		if (runf(k, "ip link set eth0 up", up_h) < 0 ||
		    runf(k, "ip link set eth0 up", up_p) < 0 ||
		    runf(k, "ip neigh (v4 gateway)", n4) < 0 ||
		    runf(k, "ip route (v4 default)", gw4) < 0 ||
		    runf(k, "ip neigh (v6 gateway)", n6) < 0 ||
		    runf(k, "ip route (v6 default)", gw6) < 0 ||
		    runf(k, "ip route (v4 multicast)", mc4) < 0 ||
		    runf(k, "ip route (v4 broadcast)", bc4) < 0)
			return -1;
	}
	{
		const char *nft[] = { "nft", "-f", "-", NULL };

		if (enter(k, k->peer_ns) < 0)
			return -1;
		if (run(nft, peer_nft) != 0) {
			snprintf(k->err, sizeof(k->err), "nft: cannot load the peer's drop table");
			return -1;
		}
		if (enter(k, k->host_ns) < 0)
			return -1;
		if (run(nft, kcheck_nft) != 0) {
			snprintf(k->err, sizeof(k->err), "nft: cannot load the helper table %s",
				 KC_TABLE);
			return -1;
		}
	}
	return 0;		/* left in the host namespace */
}

/* ---- sockets ---------------------------------------------------------------- */

static int open_sockets(struct kc *k)
{
	int one = 1, bufsz = 16 << 20;
	uint32_t mark = KC_MARK;
	unsigned grp = NFNLGRP_NFTRACE;
	struct sockaddr_ll sll;

	/* in the host */
	k->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!k->nl || mnl_socket_bind(k->nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_setsockopt(k->nl, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) < 0) {
		snprintf(k->err, sizeof(k->err), "nftrace socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(mnl_socket_get_fd(k->nl), SOL_SOCKET, SO_RCVBUFFORCE, &bufsz, sizeof(bufsz));
	k->raw4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	k->raw6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	k->raw4b = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	k->raw6b = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (k->raw4 < 0 || k->raw6 < 0 || k->raw4b < 0 || k->raw6b < 0) {
		snprintf(k->err, sizeof(k->err), "raw socket: %s", strerror(errno));
		return -1;
	}
	int fds[4] = { k->raw4, k->raw6, k->raw4b, k->raw6b };

	for (int i = 0; i < 4; i++) {
		if (setsockopt(fds[i], SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0) {
			snprintf(k->err, sizeof(k->err), "SO_MARK: %s", strerror(errno));
			return -1;
		}
	}
	setsockopt(k->raw4, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one));
	setsockopt(k->raw4b, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one));
	/* multicast and broadcast destinations leave through eth0 */
	setsockopt(k->raw4b, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
	setsockopt(k->raw4b, SOL_SOCKET, SO_BINDTODEVICE, "eth0", 5);
	setsockopt(k->raw6b, SOL_SOCKET, SO_BINDTODEVICE, "eth0", 5);

	/* in the peer */
	if (enter(k, k->peer_ns) < 0)
		return -1;
	k->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (k->pkt < 0) {
		snprintf(k->err, sizeof(k->err), "AF_PACKET socket: %s", strerror(errno));
		return -1;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = k->peer_ifindex;
	sll.sll_protocol = 0;
	if (bind(k->pkt, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		snprintf(k->err, sizeof(k->err), "AF_PACKET bind: %s", strerror(errno));
		return -1;
	}
	if (enter(k, k->host_ns) < 0)
		return -1;
	/* a netlink socket belongs to the namespace it is opened in: the
	 * host's conntrack table from here */
	k->ctnl = mnl_socket_open(NETLINK_NETFILTER);
	if (k->ctnl && mnl_socket_bind(k->ctnl, 0, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(k->ctnl);
		k->ctnl = NULL;
	}
	return 0;
}

/* Seconds from a to b (capture times), and since a monotonic instant. */
static double tv_secs(const struct timeval *a, const struct timeval *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_usec - a->tv_usec) / 1e6;
}

static double secs_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- evaluator side ----------------------------------------------------------- */

static uint64_t rule_handle(const struct nftnl_rule *r)
{
	return r && nftnl_rule_is_set(r, NFTNL_RULE_HANDLE) ?
	       nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE) : 0;
}

static void path_add(struct kc_path *p, bool policy, const char *chain, uint64_t handle,
		     int verdict, const char *target)
{
	struct kc_ev *e;

	if (p->n == KC_MAX_EV) {
		p->overflow = true;
		return;
	}
	e = &p->ev[p->n++];
	memset(e, 0, sizeof(*e));
	e->policy = policy;
	snprintf(e->chain, sizeof(e->chain), "%s", chain ? chain : "");
	e->handle = handle;
	e->verdict = verdict;
	if (target)
		snprintf(e->target, sizeof(e->target), "%s", target);
}

static void vm_trace_cb(const struct vm_trace_event *ev, void *arg)
{
	struct kc *k = arg;

	if (ev->type == VM_TRACE_RULE && ev->matched)
		path_add(&k->cur, false, ev->chain, rule_handle(ev->rule), ev->verdict, ev->target);
	else if (ev->type == VM_TRACE_POLICY)
		path_add(&k->cur, true, ev->chain, 0, ev->verdict, NULL);
}

static void describe_pkt(const struct pkt *p, char *buf, size_t len)
{
	const uint8_t *ip;
	char s[INET6_ADDRSTRLEN] = "?", d[INET6_ADDRSTRLEN] = "?";
	struct addr a;
	int fam;

	if (!p->data || (p->nfproto != NFPROTO_IPV4 && p->nfproto != NFPROTO_IPV6)) {
		snprintf(buf, len, "%s", p->why ? p->why : "not IP");
		return;
	}
	ip = p->data + p->nh_off;
	fam = p->nfproto == NFPROTO_IPV4 ? AF_INET : AF_INET6;
	if (p->nh_off + (fam == AF_INET ? 20u : 40u) > p->caplen) {
		snprintf(buf, len, "%s", p->why ? p->why : "short IP header");
		return;
	}
	memset(&a, 0, sizeof(a));
	memcpy(a.b, fam == AF_INET ? ip + 12 : ip + 8, family_bytes(fam));
	addr_format(fam, &a, s, sizeof(s));
	memcpy(a.b, fam == AF_INET ? ip + 16 : ip + 24, family_bytes(fam));
	addr_format(fam, &a, d, sizeof(d));
	if (p->tprot_set && !p->fragoff &&
	    (p->l4proto == IPPROTO_TCP || p->l4proto == IPPROTO_UDP) &&
	    p->th_off + 4 <= p->caplen) {
		const uint8_t *t = p->data + p->th_off;
		char fl[8] = "";

		if (p->l4proto == IPPROTO_TCP && p->th_off + 14 <= p->caplen) {
			static const char names[] = "FSRPAUEC";
			size_t n = 0;

			for (int i = 0; i < 8; i++)
				if (t[13] & (1 << i))
					fl[n++] = names[i];
			fl[n] = '\0';
		}
		snprintf(buf, len, "%s %s.%u > %s.%u%s%s%s", l4_name(p->l4proto), s,
			 (unsigned)(t[0] << 8 | t[1]), d, (unsigned)(t[2] << 8 | t[3]),
			 fl[0] ? " [" : "", fl, fl[0] ? "]" : "");
	} else if (p->tprot_set && !p->fragoff &&
		   (p->l4proto == IPPROTO_ICMP || p->l4proto == IPPROTO_ICMPV6) &&
		   p->th_off + 2 <= p->caplen) {
		snprintf(buf, len, "%s %s > %s type %u code %u", l4_name(p->l4proto), s, d,
			 p->data[p->th_off], p->data[p->th_off + 1]);
	} else {
		snprintf(buf, len, "%s %s > %s%s", p->tprot_set ? l4_name(p->l4proto) : "ip", s, d,
			 p->is_frag ? " (fragment)" : "");
	}
}

static void on_packet(const struct replay_pkt *rp, void *arg)
{
	struct kc *k = arg;
	struct kc_rec *r;

	if (k->nrecs == k->rcap) {
		size_t ncap = k->rcap ? 2 * k->rcap : 1024;
		struct kc_rec *nr = realloc(k->recs, ncap * sizeof(*nr));

		if (!nr) {
			snprintf(k->err, sizeof(k->err), "out of memory");
			return;
		}
		k->recs = nr;
		k->rcap = ncap;
	}
	r = &k->recs[k->nrecs++];
	memset(r, 0, sizeof(*r));
	r->capture = rp->capture;
	r->frame = rp->frame;
	r->kind = rp->kind;
	r->dir = rp->dir;
	r->incomplete = rp->incomplete;
	r->why = rp->why;
	r->truncated = rp->p->cls == PKT_TRUNCATED;
	if (!k->have_t0) {
		k->t0 = rp->p->ts;
		k->have_t0 = true;
	}
	r->cap_s = tv_secs(&k->t0, &rp->p->ts);
	if (rp->kind == RP_JUDGED) {
		r->verdict = rp->v->verdict;
		r->ct_state = rp->p->ct_state;
		r->l4proto = rp->p->tprot_set ? rp->p->l4proto : 0;
		if (rp->p->ct_present && rp->p->ct) {
			const char *ps = ct_entry_tcp_state(rp->p->ct);

			if (!ps)
				ps = ct_entry_sctp_state(rp->p->ct);
			if (ps)
				snprintf(r->pstate, sizeof(r->pstate), "%s", ps);
			r->has_entry = true;
			ct_entry_tuple(rp->p->ct, 0, &r->ptuple);	/* original */
			r->pto_ms = k->ctt ? (int64_t)ct_entry_expiration_ms(k->ctt, rp->p->ct) : -1;
			r->pstatus = ct_entry_status(rp->p->ct) & KC_STATUS_BITS;
		}
	}
	describe_pkt(rp->p, r->desc, sizeof(r->desc));
	r->path = k->cur;
	memset(&k->cur, 0, sizeof(k->cur));
}

/* ---- kernel side ------------------------------------------------------------ */

struct kc_read {
	struct kc *k;
	struct kc_kern *out;
	bool done;
	bool sentinel_seen;
	uint32_t sentinel_id;
};

static const char *kc_rule_comment(const struct kc *k, const char *chain, uint64_t handle,
				   char *buf, size_t len)
{
	struct nftnl_rule_list_iter *it;
	struct nftnl_rule *r;

	buf[0] = '\0';
	if (!k->kcrs)
		return buf;
	it = nftnl_rule_list_iter_create(k->kcrs->rules);
	if (!it)
		return buf;
	while ((r = nftnl_rule_list_iter_next(it))) {
		const char *c = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);

		if (rule_handle(r) == handle && c && strcmp(c, chain) == 0) {
			rule_comment(r, buf, len);
			break;
		}
	}
	nftnl_rule_list_iter_destroy(it);
	return buf;
}

static int trace_cb(const struct nlmsghdr *nlh, void *data)
{
	struct kc_read *rd = data;
	struct kc_kern *o = rd->out;
	struct nftnl_trace *t;
	const char *table, *chain;
	uint32_t type, fam;
	int verdict = NFT_CONTINUE;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_TRACE)
		return MNL_CB_OK;
	t = nftnl_trace_alloc();
	if (!t)
		return MNL_CB_ERROR;
	if (nftnl_trace_nlmsg_parse(nlh, t) < 0) {
		nftnl_trace_free(t);
		return MNL_CB_OK;
	}
	table = nftnl_trace_get_str(t, NFTNL_TRACE_TABLE);
	chain = nftnl_trace_get_str(t, NFTNL_TRACE_CHAIN);
	type = nftnl_trace_get_u32(t, NFTNL_TRACE_TYPE);
	fam = nftnl_trace_get_u32(t, NFTNL_TRACE_FAMILY);
	if (nftnl_trace_is_set(t, NFTNL_TRACE_VERDICT))
		verdict = (int)nftnl_trace_get_u32(t, NFTNL_TRACE_VERDICT);
	if (type == NFT_TRACETYPE_POLICY && nftnl_trace_is_set(t, NFTNL_TRACE_POLICY))
		verdict = (int)nftnl_trace_get_u32(t, NFTNL_TRACE_POLICY);
	if (verdict >= 0)
		verdict &= NF_VERDICT_MASK;
	if (!table || !chain)
		goto out;
	if (strcmp(table, KC_TABLE) == 0) {
		if (fam == NFPROTO_NETDEV) {
			/* the headers come with a packet's first event only: the
			 * sentinel is known by its id after that */
			uint32_t ll = 0, id = nftnl_trace_get_u32(t, NFTNL_TRACE_ID);
			const uint8_t *h = nftnl_trace_get_data(t, NFTNL_TRACE_LL_HEADER, &ll);

			if (h && ll >= 14 && (h[12] << 8 | h[13]) == KC_SENTINEL) {
				rd->sentinel_id = id;
				rd->sentinel_seen = true;
			}
			if (rd->sentinel_seen && id == rd->sentinel_id) {
				if (verdict == NF_DROP)
					rd->done = true;
			} else {
				o->ingress = true;
			}
		} else if (type == NFT_TRACETYPE_RULE) {
			char cm[64];

			kc_rule_comment(rd->k, chain, nftnl_trace_get_u64(t, NFTNL_TRACE_RULE_HANDLE),
					cm, sizeof(cm));
			if (strcmp(chain, "pre") == 0)
				o->pre = true;
			else if (strcmp(chain, "in") == 0)
				o->in = true;
			else if (strcmp(chain, "out0") == 0)
				o->out0 = true;
			else if (strcmp(chain, "out") == 0)
				o->out = true;
			if (strncmp(cm, "ct:", 3) == 0) {
				char *dst = strcmp(chain, "in") == 0 ? o->ct_in : o->ct_out;
				size_t l = strlen(dst);

				snprintf(dst + l, 32 - l, "%s%s", l ? "," : "", cm + 3);
			}
		}
	} else if (strcmp(table, rd->k->krs->table) == 0 && fam == NFPROTO_INET) {
		/* a queue rule (FQDN: DNS answers to filterd, bypass): nobody
		 * listens in the check, so the kernel accepts; the evaluator
		 * models filterd, which accepts once it has learned */
		if (type == NFT_TRACETYPE_RULE && (verdict & NF_VERDICT_MASK) == NF_QUEUE)
			verdict = NF_ACCEPT;
		/* the end of a chain: since the verdict mask patch (6.x),
		 * __nft_trace_verdict() no longer knows NFT_CONTINUE and
		 * reports it as a RULE event without a rule handle -- not a
		 * rule of the path (the evaluator's path has the policy or
		 * the caller's next rule, as the kernel's next event does) */
		if (type == NFT_TRACETYPE_RULE && verdict == NFT_CONTINUE &&
		    !nftnl_trace_is_set(t, NFTNL_TRACE_RULE_HANDLE))
			goto out;
		if (type == NFT_TRACETYPE_RULE)
			path_add(&o->path, false, chain,
				 nftnl_trace_get_u64(t, NFTNL_TRACE_RULE_HANDLE), verdict,
				 nftnl_trace_get_str(t, NFTNL_TRACE_JUMP_TARGET));
		else if (type == NFT_TRACETYPE_POLICY)
			path_add(&o->path, true, chain, 0, verdict, NULL);
	}
out:
	nftnl_trace_free(t);
	return MNL_CB_OK;
}

static int send_sentinel(struct kc *k)
{
	uint8_t f[64];

	memset(f, 0, sizeof(f));
	memcpy(f, host_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	f[12] = KC_SENTINEL >> 8;
	f[13] = KC_SENTINEL & 0xff;
	if (send(k->pkt, f, sizeof(f), 0) < 0) {
		snprintf(k->err, sizeof(k->err), "sending the sentinel frame: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Reads trace messages until the sentinel's; -1 on timeout or socket error. */
static int read_traces(struct kc *k, struct kc_kern *out)
{
	static char buf[1 << 17];
	struct kc_read rd = { .k = k, .out = out };
	int fd = mnl_socket_get_fd(k->nl);

	while (!rd.done) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int n = poll(&pfd, 1, KC_WAIT_MS);
		ssize_t len;

		if (n == 0) {
			snprintf(k->err, sizeof(k->err), "no nftrace event for %d ms (sentinel lost)",
				 KC_WAIT_MS);
			return -1;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(k->err, sizeof(k->err), "poll: %s", strerror(errno));
			return -1;
		}
		len = mnl_socket_recvfrom(k->nl, buf, sizeof(buf));
		if (len < 0) {
			snprintf(k->err, sizeof(k->err), "reading nftrace: %s%s", strerror(errno),
				 errno == ENOBUFS ? " (events were lost)" : "");
			return -1;
		}
		if (mnl_cb_run(buf, (size_t)len, 0, 0, trace_cb, &rd) < 0) {
			snprintf(k->err, sizeof(k->err), "parsing nftrace: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

static bool is_mcast4(const uint8_t *a) { return a[0] >= 224 && a[0] < 240; }
static bool is_bcast4(const uint8_t *a) { return a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255; }

/* The destination MAC for an inbound IP packet (group MACs for groups). */
static void dst_mac(const struct pkt *p, const uint8_t *ip, size_t iplen, uint8_t *mac)
{
	memcpy(mac, host_mac, 6);
	if (p->has_ll && p->linktype == DLT_EN10MB && p->ll_off + 6 <= p->caplen) {
		/* the capture's own destination decides the packet type (as the
		 * evaluator reads it): a unicast frame to 255.255.255.255 (a DHCP
		 * offer) is PACKET_HOST, not broadcast (a review's finding) */
		const uint8_t *m = p->data + p->ll_off;

		if (m[0] & 1)
			memcpy(mac, m, 6);
		return;
	}
	if (p->nfproto == NFPROTO_IPV4 && iplen >= 20) {
		const uint8_t *d = ip + 16;

		if (is_bcast4(d)) {
			memset(mac, 0xff, 6);
		} else if (is_mcast4(d)) {
			mac[0] = 0x01; mac[1] = 0x00; mac[2] = 0x5e;
			mac[3] = d[1] & 0x7f; mac[4] = d[2]; mac[5] = d[3];
		}
	} else if (p->nfproto == NFPROTO_IPV6 && iplen >= 40 && ip[24] == 0xff) {
		mac[0] = 0x33; mac[1] = 0x33;
		memcpy(mac + 2, ip + 36, 4);
	}
}

/* Injects one frame as the evaluator saw it; fills what the syscall said. */
static int inject(struct kc *k, const struct kc_rec *rec, const uint8_t *data, size_t caplen,
		  int dlt, size_t wirelen, struct kc_kern *kr)
{
	static uint8_t buf[14 + KC_MTU];
	struct pkt p;
	size_t iplen, have;
	const uint8_t *ip;

	pkt_decode(&p, dlt, data, caplen, wirelen);
	if (p.nfproto != NFPROTO_IPV4 && p.nfproto != NFPROTO_IPV6) {
		/* not IP: an Ethernet frame goes in as it is (tags stripped) */
		size_t off = 12;
		uint16_t type;

		if (dlt != DLT_EN10MB || caplen < 14)
			return 1;	/* nothing to play */
		type = (uint16_t)(data[12] << 8 | data[13]);
		while ((type == 0x8100 || type == 0x88a8 || type == 0x9100) && off + 6 <= caplen) {
			off += 4;
			type = (uint16_t)(data[off] << 8 | data[off + 1]);
		}
		if (caplen - off > 2 + KC_MTU) {	/* type + payload: not over the MTU */
			kr->send_errno = EMSGSIZE;
			return 0;
		}
		memcpy(buf, host_mac, 6);
		if (data[0] & 1)
			memcpy(buf, data, 6);
		memcpy(buf + 6, peer_mac, 6);
		memcpy(buf + 12, data + off, caplen - off);
		if (send(k->pkt, buf, 12 + caplen - off, 0) < 0)
			kr->send_errno = errno;
		else
			kr->sent = true;
		return 0;
	}
	ip = data + p.nh_off;
	have = caplen > p.nh_off ? caplen - p.nh_off : 0;
	iplen = p.len ? p.len : have;
	/* the veth link carries at most 65,535 bytes of IP (ETH_MAX_MTU): a
	 * larger packet (a BIG TCP jumbogram) cannot be played */
	if (iplen > KC_MTU) {
		kr->send_errno = EMSGSIZE;
		return 0;
	}

	if (rec->kind == RP_NOT_HOOKED || rec->kind == RP_TRANSIT || rec->dir == FLOW_IN) {
		memset(buf, 0, 14 + iplen);
		dst_mac(&p, ip, have, buf);
		memcpy(buf + 6, peer_mac, 6);
		buf[12] = (uint8_t)(p.l3proto >> 8);
		buf[13] = (uint8_t)p.l3proto;
		memcpy(buf + 14, ip, have < iplen ? have : iplen);
		/* checksums verified: the evaluator took a checksum the capture
		 * cut for right (and marked the packet undecidable); the padded
		 * packet gets one that is, so that both track it alike */
		if (have < iplen && k->o->verify_checksums && !p.is_frag)
			ct_checksum_fix(buf + 14, iplen, have, p.nfproto);
		if (send(k->pkt, buf, 14 + iplen, 0) < 0)
			kr->send_errno = errno;
		else
			kr->sent = true;
		return 0;
	}

	/* output (and loopback): from inside the host */
	memset(buf, 0, iplen);
	memcpy(buf, ip, have < iplen ? have : iplen);
	ssize_t n;

	if (p.nfproto == NFPROTO_IPV4) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		bool group;

		memcpy(&sin.sin_addr, buf + 16, 4);
		group = is_mcast4(buf + 16) || is_bcast4(buf + 16);
		n = sendto(group ? k->raw4b : k->raw4, buf, iplen, 0, (struct sockaddr *)&sin,
			   sizeof(sin));
	} else {
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
		bool scoped;

		memcpy(&sin6.sin6_addr, buf + 24, 16);
		scoped = buf[24] == 0xff || (buf[24] == 0xfe && (buf[25] & 0xc0) == 0x80);
		if (scoped)
			sin6.sin6_scope_id = (uint32_t)k->host_ifindex;
		n = sendto(scoped ? k->raw6b : k->raw6, buf, iplen, 0, (struct sockaddr *)&sin6,
			   sizeof(sin6));
	}
	if (n < 0 && errno != EPERM) {	/* EPERM: netfilter dropped it */
		kr->send_errno = errno;
	} else {
		kr->sent = true;
	}
	return 0;
}

/* What the host's conntrack table holds for the entry whose original tuple
 * is t, asked by tuple over ctnetlink (IPCTNL_MSG_CT_GET: one entry, whatever
 * the table's size): its protocol state into buf by the names
 * /proc/net/nf_conntrack prints (TCP, SCTP; else ""), its time left in
 * *timeout, its KC_STATUS_BITS in *status.  *timeout stays -1 when the table
 * has no such (confirmed) entry or cannot be asked. */
static const char *const kern_tcp_names[] = {
	"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT",
	"LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2",
};
static const char *const kern_sctp_names[] = {
	"NONE", "CLOSED", "COOKIE_WAIT", "COOKIE_ECHOED", "ESTABLISHED", "SHUTDOWN_SENT",
	"SHUTDOWN_RECD", "SHUTDOWN_ACK_SENT", "HEARTBEAT_SENT", "HEARTBEAT_ACKED",
};

struct kc_ct_get {
	char *buf;
	size_t len;
	int64_t *timeout;
	uint32_t *status;
};

static int ct_get_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct kc_ct_get *g = arg;
	const struct nlattr *a, *pi = NULL;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) == CTA_PROTOINFO)
			pi = a;
		else if (mnl_attr_get_type(a) == CTA_TIMEOUT &&
			 mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			*g->timeout = ntohl(mnl_attr_get_u32(a));
		else if (mnl_attr_get_type(a) == CTA_STATUS &&
			 mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			*g->status = ntohl(mnl_attr_get_u32(a)) & KC_STATUS_BITS;
	}
	if (!pi)
		return MNL_CB_OK;
	mnl_attr_for_each_nested(a, pi) {
		unsigned type = mnl_attr_get_type(a), want;
		const char *const *names;
		size_t nnames;
		const struct nlattr *b;

		if (type == CTA_PROTOINFO_TCP) {
			want = CTA_PROTOINFO_TCP_STATE;
			names = kern_tcp_names;
			nnames = sizeof(kern_tcp_names) / sizeof(kern_tcp_names[0]);
		} else if (type == CTA_PROTOINFO_SCTP) {
			want = CTA_PROTOINFO_SCTP_STATE;
			names = kern_sctp_names;
			nnames = sizeof(kern_sctp_names) / sizeof(kern_sctp_names[0]);
		} else {
			continue;
		}
		mnl_attr_for_each_nested(b, a) {
			if (mnl_attr_get_type(b) != want ||
			    mnl_attr_validate(b, MNL_TYPE_U8) < 0)
				continue;
			uint8_t st = mnl_attr_get_u8(b);

			if (st < nnames)
				snprintf(g->buf, g->len, "%s", names[st]);
			else
				snprintf(g->buf, g->len, "state %u", st);
		}
	}
	return MNL_CB_OK;
}

static void kernel_entry(struct kc *k, const struct ct_tuple *t, char *buf, size_t len,
			 int64_t *timeout, uint32_t *status)
{
	static char msg[8192];	/* a request; an entry and an ACK */
	struct kc_ct_get g = { buf, len, timeout, status };
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	struct nlattr *tup, *nest;
	bool v4 = t->nfproto == NFPROTO_IPV4;
	uint32_t seq = ++k->ctseq;
	ssize_t n;

	buf[0] = '\0';
	*timeout = -1;
	if (!k->ctnl) {
		if (!k->ct_noted)
			fprintf(stderr, "pcap-replay: note: --kernel-check cannot open ctnetlink in "
				"the scratch namespace: conntrack entries are not compared\n");
		k->ct_noted = true;
		return;
	}
	nlh = mnl_nlmsg_put_header(msg);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = v4 ? AF_INET : AF_INET6;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	tup = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
	nest = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	mnl_attr_put(nlh, v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, v4 ? 4 : 16, t->src);
	mnl_attr_put(nlh, v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, v4 ? 4 : 16, t->dst);
	mnl_attr_nest_end(nlh, nest);
	nest = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, t->proto);
	if (ct_tuple_has_ports(t->proto) || t->proto == IPPROTO_GRE) {
		/* (GRE's keys travel as ports, nf_ct_port_tuple_to_nlattr) */
		mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(t->sport));
		mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(t->dport));
	} else if (t->proto == IPPROTO_ICMP) {
		mnl_attr_put_u16(nlh, CTA_PROTO_ICMP_ID, htons(t->icmp_id));
		mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_TYPE, t->icmp_type);
		mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_CODE, t->icmp_code);
	} else if (t->proto == IPPROTO_ICMPV6) {
		mnl_attr_put_u16(nlh, CTA_PROTO_ICMPV6_ID, htons(t->icmp_id));
		mnl_attr_put_u8(nlh, CTA_PROTO_ICMPV6_TYPE, t->icmp_type);
		mnl_attr_put_u8(nlh, CTA_PROTO_ICMPV6_CODE, t->icmp_code);
	}
	mnl_attr_nest_end(nlh, nest);
	mnl_attr_nest_end(nlh, tup);
	if (mnl_socket_sendto(k->ctnl, nlh, nlh->nlmsg_len) < 0)
		return;
	/* the entry, then the ACK (or only an error: ENOENT) */
	while ((n = mnl_socket_recvfrom(k->ctnl, msg, sizeof(msg))) > 0) {
		int rc = mnl_cb_run(msg, (size_t)n, seq, mnl_socket_get_portid(k->ctnl),
				    ct_get_cb, &g);

		if (rc < 0 && errno == EPROTO)
			continue;	/* an earlier request's late answer */
		/* ENOENT: the table has no such entry, which happens */
		if (rc < 0 && errno != ENOENT && !k->ct_noted) {
			fprintf(stderr, "pcap-replay: note: --kernel-check: ctnetlink: %s: "
				"conntrack entries are not compared\n", strerror(errno));
			k->ct_noted = true;
		}
		if (rc <= MNL_CB_STOP)
			break;
	}
}

/* ---- comparison ------------------------------------------------------------- */

enum kc_outcome { KC_AGREE, KC_UNDECIDABLE, KC_DISAGREE };

static const char *ct_names(uint32_t st, char *buf, size_t len)
{
	static const struct { uint32_t bit; const char *n; } m[] = {
		{ CT_STATE_NEW, "new" }, { CT_STATE_ESTABLISHED, "established" },
		{ CT_STATE_RELATED, "related" }, { CT_STATE_INVALID, "invalid" },
		{ CT_STATE_UNTRACKED, "untracked" },
	};
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (st & m[i].bit)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "", m[i].n);
	return buf;
}

static bool ev_eq(const struct kc_ev *a, const struct kc_ev *b)
{
	return a->policy == b->policy && strcmp(a->chain, b->chain) == 0 &&
	       a->handle == b->handle && a->verdict == b->verdict &&
	       strcmp(a->target, b->target) == 0;
}

static bool is_limited(const struct kc *k, uint64_t handle)
{
	for (size_t i = 0; i < k->nlimited; i++)
		if (k->limited[i] == handle)
			return true;
	return false;
}

/* A rule with a `limit` matches or not depending on the time between packets:
 * capture time for the evaluator, wall-clock time for the kernel replay.
 * Such rules that only continue (the rate-limited log of a drop rule) are
 * left out of the comparison; one that decided makes the packet undecidable. */
static void path_unlimited(const struct kc *k, const struct kc_path *in, struct kc_path *out,
			   bool *limit_decided)
{
	memset(out, 0, sizeof(*out));
	out->overflow = in->overflow;
	for (unsigned i = 0; i < in->n; i++) {
		if (!in->ev[i].policy && is_limited(k, in->ev[i].handle)) {
			if (in->ev[i].verdict != NFT_CONTINUE)
				*limit_decided = true;
			continue;
		}
		out->ev[out->n++] = in->ev[i];
	}
}

static void collect_limited(struct kc *k)
{
	struct nftnl_rule_list_iter *it = nftnl_rule_list_iter_create(k->krs->rules);
	struct nftnl_rule *r;

	while (it && (r = nftnl_rule_list_iter_next(it))) {
		struct nftnl_expr_iter *ei = nftnl_expr_iter_create(r);
		struct nftnl_expr *e;
		bool lim = false;

		while (ei && (e = nftnl_expr_iter_next(ei))) {
			const char *n = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

			if (n && strcmp(n, "limit") == 0)
				lim = true;
		}
		if (ei)
			nftnl_expr_iter_destroy(ei);
		if (lim) {
			uint64_t *nl = realloc(k->limited, (k->nlimited + 1) * sizeof(*nl));

			if (!nl)
				break;
			k->limited = nl;
			k->limited[k->nlimited++] = rule_handle(r);
		}
	}
	if (it)
		nftnl_rule_list_iter_destroy(it);
}

static bool path_eq(const struct kc_path *a, const struct kc_path *b)
{
	if (a->n != b->n || a->overflow || b->overflow)
		return false;
	for (unsigned i = 0; i < a->n; i++)
		if (!ev_eq(&a->ev[i], &b->ev[i]))
			return false;
	return true;
}

static enum kc_outcome compare(struct kc *k, const struct kc_rec *r, const struct kc_kern *kr,
			       char *why, size_t len)
{
	char ct[64];

	why[0] = '\0';
	if (r->incomplete) {
		snprintf(why, len, "the capture lacks bytes a rule or conntrack needed");
		return KC_UNDECIDABLE;
	}
	if (!kr->sent && kr->send_errno == EMSGSIZE) {
		snprintf(why, len, "larger than the 65,535 bytes the kernel check's link carries");
		return KC_UNDECIDABLE;
	}
	if (!kr->sent && r->kind == RP_JUDGED && r->dir != FLOW_IN) {
		snprintf(why, len, "the raw socket refused to send it: %s", strerror(kr->send_errno));
		return KC_UNDECIDABLE;
	}
	if (!kr->sent) {
		snprintf(why, len, "could not inject it: %s", strerror(kr->send_errno));
		return KC_DISAGREE;
	}
	switch (r->kind) {
	case RP_NOT_HOOKED:
		if (r->truncated && !kr->pre) {
			snprintf(why, len, "the capture cut its IP header (%s)", r->why ? r->why : "");
			return KC_UNDECIDABLE;
		}
		if (kr->pre || kr->path.n) {
			snprintf(why, len, "pcap-replay: the hooks never see it (%s); the kernel "
				 "passed it to prerouting", r->why ? r->why : "");
			return KC_DISAGREE;
		}
		return KC_AGREE;
	case RP_TRANSIT:
		if (kr->in || kr->path.n) {
			snprintf(why, len, "pcap-replay: transit; the kernel delivered it locally");
			return KC_DISAGREE;
		}
		return KC_AGREE;
	case RP_FRAG_HELD:
	case RP_FRAG_DROPPED:
	case RP_CT_DROP:
		if (kr->pre || kr->in || kr->out || kr->path.n) {
			snprintf(why, len, "pcap-replay: %s; the kernel passed it on",
				 r->kind == RP_FRAG_HELD ? "fragment held for reassembly" :
				 r->kind == RP_FRAG_DROPPED ? "fragment dropped by defrag" :
				 "dropped by conntrack");
			return KC_DISAGREE;
		}
		return KC_AGREE;
	case RP_OPT_DROP:
		/* conntrack saw it at prerouting, then ip_rcv_options() */
		if (!kr->pre || kr->in || kr->path.n) {
			snprintf(why, len, "pcap-replay: %s after prerouting; the kernel %s",
				 r->why ? r->why : "IPv4 options", kr->pre ? "delivered it" :
				 "dropped it before prerouting");
			return KC_DISAGREE;
		}
		return KC_AGREE;
	case RP_JUDGED:
		break;
	}
	if (r->dir == FLOW_IN && !kr->in) {
		if (kr->pre) {
			snprintf(why, len, "the kernel's routing dropped it before the input hook "
				 "(martian address or multicast group: host state)");
			return KC_UNDECIDABLE;
		}
		snprintf(why, len, "the kernel dropped it before prerouting (ip_rcv, defrag or "
			 "conntrack)");
		return KC_DISAGREE;
	}
	if (r->dir != FLOW_IN && !kr->out) {
		snprintf(why, len, "the kernel dropped it in LOCAL_OUT before the filter (defrag "
			 "or conntrack)");
		return KC_DISAGREE;
	}
	ct_names(r->ct_state, ct, sizeof(ct));
	if (strcmp(ct, r->dir == FLOW_IN ? kr->ct_in : kr->ct_out) != 0) {
		snprintf(why, len, "conntrack state differs");
		return KC_DISAGREE;
	}
	/* the tracker's own state, where the host's table lists the entry (an
	 * unconfirmed one, refused by the ruleset, is not listed) */
	if (r->pstate[0] && kr->pstate[0] && strcmp(r->pstate, kr->pstate) != 0) {
		snprintf(why, len, "the %s tracker's state differs: %s here, %s in the kernel",
			 r->ptuple.proto == IPPROTO_SCTP ? "SCTP" : "TCP", r->pstate, kr->pstate);
		return KC_DISAGREE;
	}
	/* the entry's SEEN_REPLY and ASSURED bits */
	if (r->has_entry && kr->pto_s >= 0 && r->pstatus != kr->pstatus) {
		snprintf(why, len, "the entry's status differs: %s%s here, %s%s in the kernel",
			 r->pstatus & IPS_SEEN_REPLY ? "SEEN_REPLY " : "",
			 r->pstatus & IPS_ASSURED ? "ASSURED" : "-",
			 kr->pstatus & IPS_SEEN_REPLY ? "SEEN_REPLY " : "",
			 kr->pstatus & IPS_ASSURED ? "ASSURED" : "-");
		return KC_DISAGREE;
	}
	/* and its time left: the kernel counts it in wall-clock time since the
	 * entry's last refresh, the evaluator in capture time, and the kernel
	 * rounds down to seconds; both clocks have run at most as long as their
	 * whole run so far (with --kernel-check-timing they run together, but
	 * for the rounding and a late frame) */
	if (r->has_entry && r->pto_ms >= 0 && kr->pto_s >= 0) {
		double here = (double)r->pto_ms / 1000.0;
		/* (a capture whose clock runs backwards has cap_s < 0) */
		double slack = k->timing ? 2.5 : 1.5 + secs_since(&k->run0) + fabs(r->cap_s);

		if (here - (double)kr->pto_s > slack || (double)kr->pto_s - here > slack) {
			char pn[8];

			snprintf(why, len, "the %s entry's timeout differs: %.1f s left here, %lld s "
				 "in the kernel", l4_name_buf(r->ptuple.proto, pn), here,
				 (long long)kr->pto_s);
			return KC_DISAGREE;
		}
	}
	if (!path_eq(&r->path, &kr->path)) {
		struct kc_path a, b;
		bool decided = false;

		path_unlimited(k, &r->path, &a, &decided);
		path_unlimited(k, &kr->path, &b, &decided);
		if (path_eq(&a, &b)) {
			k->limit_only++;
			return KC_AGREE;
		}
		if (decided) {
			snprintf(why, len, "a rate-limited rule decided (capture time vs. the "
				 "replay's wall-clock time)");
			return KC_UNDECIDABLE;
		}
		snprintf(why, len, "rule path differs");
		return KC_DISAGREE;
	}
	return KC_AGREE;
}

static const char *verdict_text(int v)
{
	return vm_verdict_name(v);
}

static void ev_text(const struct kc *k, const struct kc_ev *e, char *buf, size_t len)
{
	char cm[128] = "";

	if (e->policy) {
		snprintf(buf, len, "%s: policy %s", e->chain, verdict_text(e->verdict));
		return;
	}
	if (k->krs) {
		struct nftnl_rule_list_iter *it = nftnl_rule_list_iter_create(k->krs->rules);
		struct nftnl_rule *r;

		while (it && (r = nftnl_rule_list_iter_next(it))) {
			if (rule_handle(r) == e->handle) {
				rule_comment(r, cm, sizeof(cm));
				break;
			}
		}
		if (it)
			nftnl_rule_list_iter_destroy(it);
	}
	snprintf(buf, len, "%s #%llu %s -> %s%s%s", e->chain, (unsigned long long)e->handle,
		 cm[0] ? cm : "(no comment)", verdict_text(e->verdict), e->target[0] ? " " : "",
		 e->target);
}

static const char *kind_text(const struct kc_rec *r)
{
	switch (r->kind) {
	case RP_NOT_HOOKED: return "not seen by the hooks";
	case RP_TRANSIT: return "transit (not judged)";
	case RP_FRAG_HELD: return "fragment held for reassembly";
	case RP_FRAG_DROPPED: return "fragment dropped by defrag";
	case RP_CT_DROP: return "dropped by conntrack";
	case RP_OPT_DROP: return "dropped after prerouting (IPv4 options, or a martian source)";
	case RP_JUDGED: break;
	}
	return r->dir == FLOW_IN ? "input" : r->dir == FLOW_OUT ? "output" : "loopback";
}

static void print_side_by_side(const struct kc *k, const struct kc_rec *r,
			       const struct kc_kern *kr, const char *why, FILE *f)
{
	char ct[64], l[200], rt[200];
	unsigned n = r->path.n > kr->path.n ? r->path.n : kr->path.n;

	fprintf(f, "DISAGREE capture %u frame %llu: %s: %s\n", r->capture,
		(unsigned long long)r->frame, r->desc, why);
	fprintf(f, "  %-62s | %s\n", "pcap-replay (evaluator)", "kernel (nftrace)");
	snprintf(l, sizeof(l), "hook: %s", kind_text(r));
	snprintf(rt, sizeof(rt), "reached:%s%s%s%s%s%s", kr->ingress ? " ingress" : "",
		 kr->out0 ? " output" : "", kr->pre ? " prerouting" : "", kr->out ? " output-filter" : "",
		 kr->in ? " input" : "", kr->sent ? "" : " (not sent)");
	fprintf(f, "  %-62s | %s\n", l, rt);
	snprintf(l, sizeof(l), "ct state: %s", r->kind == RP_JUDGED ?
		 ct_names(r->ct_state, ct, sizeof(ct)) : "-");
	snprintf(rt, sizeof(rt), "ct state: in %s, out %s", kr->ct_in[0] ? kr->ct_in : "-",
		 kr->ct_out[0] ? kr->ct_out : "-");
	fprintf(f, "  %-62s | %s\n", l, rt);
	for (unsigned i = 0; i < n; i++) {
		l[0] = rt[0] = '\0';
		if (i < r->path.n)
			ev_text(k, &r->path.ev[i], l, sizeof(l));
		if (i < kr->path.n)
			ev_text(k, &kr->path.ev[i], rt, sizeof(rt));
		fprintf(f, "  %-62s %c %s\n", l,
			i < r->path.n && i < kr->path.n && ev_eq(&r->path.ev[i], &kr->path.ev[i]) ?
			'|' : '*', rt);
	}
}

/* ---- the run ------------------------------------------------------------------ */

/* --kernel-check-timing: sleeps until `at` seconds after the kernel run's
 * start (earlier capture times, out of order, do not wait) */
static void kc_wait_until(const struct kc *k, double at)
{
	for (;;) {
		struct timespec d;
		double left = at - secs_since(&k->run0);

		if (left <= 0)
			return;
		d.tv_sec = (time_t)left;
		d.tv_nsec = (long)((left - (double)d.tv_sec) * 1e9);
		nanosleep(&d, NULL);
	}
}

static int kernel_run(struct kc *k, uint64_t *agree, uint64_t *undecidable,
		      uint64_t *disagree)
{
	size_t ri = 0;

	clock_gettime(CLOCK_MONOTONIC, &k->run0);
	for (size_t ci = 0; ci < k->o->ncaptures; ci++) {
		char errbuf[PCAP_ERRBUF_SIZE + 64];
		struct pcap_pkthdr *h;
		const u_char *data;
		uint64_t frame = 0;
		struct capnext cn;

		if (capnext_open(&cn, replay_open_path(k->o, ci), errbuf, sizeof(errbuf)) < 0) {
			snprintf(k->err, sizeof(k->err), "%s: %s", k->o->captures[ci], errbuf);
			return -1;
		}
		while (capnext_next(&cn, &h, &data) == 1) {
			struct kc_rec *r;
			struct kc_kern kr;
			char why[256];
			enum kc_outcome oc;

			frame++;
			if (ri >= k->nrecs || k->recs[ri].frame != frame ||
			    k->recs[ri].capture != ci + 1) {
				snprintf(k->err, sizeof(k->err), "internal: the evaluator's record "
					 "of capture %zu frame %llu is missing", ci + 1,
					 (unsigned long long)frame);
				capnext_done(&cn);
				return -1;
			}
			r = &k->recs[ri++];
			memset(&kr, 0, sizeof(kr));
			/* this frame's offset in the capture (the evaluator's
			 * record has it), on the wall clock */
			if (k->timing)
				kc_wait_until(k, r->cap_s);
			if (inject(k, r, data, h->caplen, cn.dlt, h->len, &kr) > 0) {
				(*undecidable)++;
				fprintf(k->out, "UNDECIDABLE capture %u frame %llu: %s: link type without "
				       "Ethernet framing, not IP: not replayed\n", r->capture,
				       (unsigned long long)r->frame, r->desc);
				continue;
			}
			if (send_sentinel(k) < 0 || read_traces(k, &kr) < 0) {
				capnext_done(&cn);
				return -1;
			}
			kr.pto_s = -1;
			if (r->has_entry)
				kernel_entry(k, &r->ptuple, kr.pstate, sizeof(kr.pstate), &kr.pto_s,
					     &kr.pstatus);
			oc = compare(k, r, &kr, why, sizeof(why));
			if (oc == KC_AGREE) {
				(*agree)++;
				if (k->verbose) {
					char ct[64] = "-", last[200] = "";

					if (r->kind == RP_JUDGED)
						ct_names(r->ct_state, ct, sizeof(ct));
					if (r->path.n)
						ev_text(k, &r->path.ev[r->path.n - 1], last, sizeof(last));
					char pst[64] = "";

					if (kr.pto_s >= 0)
						snprintf(pst, sizeof(pst), "%s%s %llds",
							 kr.pstate[0] ? " " : "", kr.pstate,
							 (long long)kr.pto_s);
					fprintf(k->out, "agree capture %u frame %llu: %s: %s, ct %s%s, %u rules%s%s\n",
					       r->capture, (unsigned long long)r->frame, r->desc,
					       kind_text(r), ct, pst, r->path.n, last[0] ? ": " : "",
					       last);
				}
			} else if (oc == KC_UNDECIDABLE) {
				(*undecidable)++;
				fprintf(k->out, "UNDECIDABLE capture %u frame %llu: %s: undecidable offline: %s\n",
				       r->capture, (unsigned long long)r->frame, r->desc, why);
			} else {
				(*disagree)++;
				/* played faster than captured: a gap the kernel did
				 * not wait may be the cause */
				if (!k->timing && r->cap_s > secs_since(&k->run0) + 1.0)
					k->ahead++;
				print_side_by_side(k, r, &kr, why, k->out);
			}
		}
		capnext_done(&cn);
	}
	return 0;
}

/* Frames whose capture says in or out (Linux cooked captures) make their
 * destination / source this host's address, whatever --local says: the
 * evaluator took the direction from the capture, and the kernel must then
 * have that address to deliver the packet locally. */
static int add_capture_locals(struct replay *r)
{
	for (size_t ci = 0; ci < r->o->ncaptures; ci++) {
		char errbuf[PCAP_ERRBUF_SIZE + 64];
		struct pcap_pkthdr *h;
		const u_char *data;
		struct capnext cn;

		if (capnext_open(&cn, replay_open_path(r->o, ci), errbuf, sizeof(errbuf)) < 0) {
			snprintf(r->err, sizeof(r->err), "%s: %s", r->o->captures[ci], errbuf);
			return -1;
		}
		while (capnext_next(&cn, &h, &data) == 1) {
			struct pkt p;
			struct prefix pf;
			const uint8_t *a;
			int fam;

			if (pkt_decode(&p, cn.dlt, data, h->caplen, h->len) < 0 || !p.pcap_dir ||
			    (p.pcap_dir == 1 && p.pkttype == PACKET_OTHERHOST))
				continue;
			fam = p.nfproto == NFPROTO_IPV4 ? AF_INET : AF_INET6;
			if (p.nh_off + (fam == AF_INET ? 20u : 40u) > p.caplen)
				continue;
			if (fam == AF_INET)
				a = data + p.nh_off + (p.pcap_dir == 1 ? 16 : 12);
			else
				a = data + p.nh_off + (p.pcap_dir == 1 ? 24 : 8);
			/* unicast only: not 0/8, loopback, multicast, broadcast */
			if (fam == AF_INET ? (a[0] == 0 || a[0] == 127 || a[0] >= 224) :
			    (a[0] == 0xff || (a[0] == 0 && a[15] <= 1 &&
					      !memcmp(a, (const uint8_t[15]){ 0 }, 15))))
				continue;
			memset(&pf, 0, sizeof(pf));
			pf.family = fam;
			pf.len = fam == AF_INET ? 32 : 128;
			memcpy(pf.a.b, a, family_bytes(fam));
			if (pset_add_prefix(fam == AF_INET ? &r->local4 : &r->local6, &pf) < 0) {
				capnext_done(&cn);
				snprintf(r->err, sizeof(r->err), "out of memory");
				return -1;
			}
		}
		capnext_done(&cn);
	}
	pset_normalize(&r->local4);
	pset_normalize(&r->local6);
	return 0;
}

int kernel_check(const struct replay_opts *o, const struct ruleset *rs,
		 struct kcheck_opts *ko)
{
	struct kc k = { .o = o, .verbose = ko->verbose, .timing = ko->timing,
			.out = ko->out ? ko->out : stdout,
			.orig_ns = -1, .host_ns = -1,
			.peer_ns = -1, .raw4 = -1, .raw6 = -1, .raw4b = -1, .raw6b = -1,
			.pkt = -1 };
	struct replay_opts o2 = *o;
	struct replay r0, r;
	bool r0_ready = false, r_ready = false;
	struct ruleset *dumped = NULL;
	struct vm *vm = NULL;
	struct nl_report rep;
	char capprob[1024] = "";	/* a capture not read whole, or unsupported */
	char prefix[64];
	uint64_t agree = 0, undec = 0, dis = 0;
	int rc = 2;
	cpu_set_t cpus, cpus0;
	bool have_cpus0 = false;

	if (geteuid() != 0) {
		fprintf(stderr, "pcap-replay: --kernel-check needs root (network namespaces, "
			"nftables, raw sockets)\n");
		return 2;
	}
	if (ko->prefix) {
		k.prefix = ko->prefix;
	} else {
		snprintf(prefix, sizeof(prefix), "kc%d", (int)getpid());
		k.prefix = prefix;
	}
	/* one CPU: the sentinel then follows the packet through the same backlog */
	CPU_ZERO(&cpus);
	if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0) {
		cpus0 = cpus;		/* given back at the end: a replay may follow */
		have_cpus0 = true;
		for (int c = 0; c < CPU_SETSIZE; c++) {
			if (CPU_ISSET(c, &cpus)) {
				CPU_ZERO(&cpus);
				CPU_SET(c, &cpus);
				sched_setaffinity(0, sizeof(cpus), &cpus);
				break;
			}
		}
	}

	/* this host's addresses: --local, or inferred as the replay does */
	if (replay_init(&r0, o, rs, NULL) < 0) {
		fprintf(stderr, "pcap-replay: %s\n", r0.err);
		goto out;
	}
	r0_ready = true;
	if (replay_infer_local(&r0) < 0) {
		fprintf(stderr, "pcap-replay: %s\n", r0.err);
		goto out;
	}
	if (r0.local_inferred)
		fprintf(stderr, "pcap-replay: note: host addresses %s\n", r0.local_note);
	if (add_capture_locals(&r0) < 0) {
		fprintf(stderr, "pcap-replay: %s\n", r0.err);
		goto out;
	}
	o2.local4 = r0.local4;
	o2.local6 = r0.local6;
	o2.have_local = true;
	o2.ntrace = 0;
	o2.json = false;

	k.orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (k.orig_ns < 0) {
		fprintf(stderr, "pcap-replay: /proc/self/ns/net: %s\n", strerror(errno));
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, on_signal);	/* `... | head` must not leave namespaces behind */
	signal(SIGQUIT, on_signal);
	if (setup_ns(&k, &r0.local4, &r0.local6) < 0)
		goto fail;

	/* the ruleset into the host, and back out with its handles */
	if (nl_apply(rs, 0, NL_FAULT_NONE, &rep) < 0) {
		snprintf(k.err, sizeof(k.err), "the kernel refused the ruleset: %.900s", rep.msg);
		goto fail;
	}
	/* as the evaluator's conntrack: 0, or 1 with --verify-checksums */
	write_sysctl("/proc/sys/net/netfilter/nf_conntrack_checksum",
		     o->verify_checksums ? "1" : "0");
	/* the timeouts the evaluator's conntrack uses, in the scratch host's
	 * own conntrack (per network namespace) */
	for (size_t i = 0; i < o->nct_timeouts; i++) {
		char path[128] = "?", val[32];

		snprintf(val, sizeof(val), "%lld", (long long)o->ct_timeouts[i].secs);
		if (ct_timeout_path(o->ct_timeouts[i].name, path, sizeof(path)) < 0 ||
		    write_sysctl(path, val) < 0) {
			snprintf(k.err, sizeof(k.err), "cannot set %s in the scratch namespace: %s "
				 "(this kernel has no such sysctl?)", path, strerror(errno));
			goto fail;
		}
	}
	dumped = ruleset_from_kernel(rs->table, NFPROTO_INET, k.err, sizeof(k.err));
	if (!dumped)
		goto fail;
	k.krs = dumped;
	collect_limited(&k);
	k.kcrs = ruleset_from_kernel(KC_TABLE, NFPROTO_INET, k.err, sizeof(k.err));
	if (!k.kcrs)
		goto fail;
	vm = vm_load(dumped, k.err, sizeof(k.err));
	if (!vm) {
		fprintf(stderr, "pcap-replay: the evaluator cannot load the kernel's dump: %s\n",
			k.err);
		goto out;
	}

	/* the evaluator's run */
	if (replay_init(&r, &o2, dumped, vm) < 0) {
		snprintf(k.err, sizeof(k.err), "%.900s", r.err);
		goto fail;
	}
	r_ready = true;
	r.on_packet = on_packet;
	r.on_packet_arg = &k;
	k.ctt = r.ct;
	vm_set_trace(vm, vm_trace_cb, &k);
	if (replay_run(&r) < 0) {
		snprintf(k.err, sizeof(k.err), "%.900s", r.err);
		goto fail;
	}
	vm_set_trace(vm, NULL, NULL);
	if (k.err[0])
		goto fail;
	/* what the run without --kernel-check fails on fails the check too (exit
	 * 2 after the agreement over what could be read): a capture not read to
	 * its end, or one whose link type nothing was judged of */
	for (size_t i = 0; i < r.ncaps && !capprob[0]; i++) {
		const struct capinfo *ci = &r.caps[i];

		if (ci->read_error) {
			snprintf(capprob, sizeof(capprob), "%.900s", ci->err);
		} else if (ci->packets && ci->unsupported == ci->packets) {
			char lt[128];

			snprintf(capprob, sizeof(capprob), "%s: link type %s is not supported: "
				 "none of its %llu packets was judged", ci->path,
				 capinfo_linktype(ci, lt, sizeof(lt)), (unsigned long long)ci->packets);
		}
	}

	/* the kernel's run */
	if (open_sockets(&k) < 0)
		goto fail;
	if (kernel_run(&k, &agree, &undec, &dis) < 0)
		goto fail;
	{
		uint64_t total = agree + undec + dis;

		fprintf(k.out, "agreement: %llu/%llu packets (%.2f%%), %llu undecidable offline, "
		       "%llu disagreement%s\n", (unsigned long long)agree,
		       (unsigned long long)total, total ? 100.0 * (double)agree / (double)total : 100.0,
		       (unsigned long long)undec, (unsigned long long)dis, dis == 1 ? "" : "s");
		if (k.limit_only)
			fprintf(k.out, "note: %llu packets agreed once rate-limited log rules were left out "
			       "(their limit runs on capture time here, on wall-clock time in the "
			       "kernel)\n", (unsigned long long)k.limit_only);
		if (o->verify_checksums) {
			struct ct_stats st;

			ct_table_stats(r.ct, &st);
			fprintf(k.out, "checksums verified: %llu bad (ct state invalid), %llu the capture cut\n",
			       (unsigned long long)st.bad_checksum,
			       (unsigned long long)st.checksum_cut);
		}
		if (k.ahead)
			fprintf(k.out, "note: %llu of the disagreements came after gaps in the capture that "
			       "the kernel, played as fast as it goes, did not wait: what depends "
			       "on them (UDP's stream rule after 2 s, expiry) meets the kernel only "
			       "with --kernel-check-timing\n", (unsigned long long)k.ahead);
	}
	rc = dis ? 1 : 0;
	ko->done = true;
	ko->agree = agree;
	ko->undecidable = undec;
	ko->disagree = dis;
	if (capprob[0]) {
		fprintf(stderr, "pcap-replay: --kernel-check: %s\n", capprob);
		rc = 2;
	}
	goto out;
fail:
	fprintf(stderr, "pcap-replay: --kernel-check: %s\n", k.err);
	rc = 2;
out:
	fflush(k.out);
	if (have_cpus0)
		sched_setaffinity(0, sizeof(cpus0), &cpus0);
	if (k.orig_ns >= 0)
		setns(k.orig_ns, CLONE_NEWNET);
	if (k.nl)
		mnl_socket_close(k.nl);
	int fds[] = { k.raw4, k.raw6, k.raw4b, k.raw6b, k.pkt, k.host_ns, k.peer_ns, k.orig_ns };

	if (k.ctnl)
		mnl_socket_close(k.ctnl);

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (g_ns_live)
		ns_remove_all();
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	if (r_ready)
		replay_free(&r);
	if (r0_ready)
		replay_free(&r0);
	vm_free(vm);
	ruleset_free(dumped);
	ruleset_free(k.kcrs);
	free(k.recs);
	free(k.limited);
	return rc;
}
