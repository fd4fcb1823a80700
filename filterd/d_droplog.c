/* filterd: the drop log.  The compiled drop rules log to NFLOG group
 * cfg.log_group with the prefix "filterd <category>:<dir>:<name> "; filterd
 * binds that group (nfnetlink_log, copy mode packet) and turns every packet
 * into one line
 *   event=drop direction=in proto=tcp src=203.0.113.10:40000 dst=10.0.1.4:22 rule=user:DenySsh
 * at most cfg.drop_log_rate lines a second, the rest counted and summed up in
 * one "event=drop-suppressed suppressed=N" line per second.  With
 * cfg.drop_pcap the packets also go to a pcap file (LINKTYPE_LINUX_SLL: the
 * IP packet as the hook saw it behind a cooked header that says its direction
 * -- PACKET_OUTGOING at the output hook, else the packet type the link
 * layer gave it -- so pcap-replay needs no --local to judge it), rotated to
 * PATH.1 before it would pass cfg.drop_pcap_max bytes. */
#include "observe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <pcap/pcap.h>

#include "packet.h"

#define DROPLOG_COPY_RANGE 512u		/* headers and then some; the wire length is kept */
#define DROPLOG_TIMEOUT_CS 10u		/* kernel flushes its batch every 0.1 s */
#define DROPLOG_QTHRESH 32u
#define DROPLOG_MAX_RULES 4096
#define PCAP_RECORD_HDR 16u
#define PCAP_FILE_HDR 24u

struct rule_count {
	char *comment;
	uint64_t packets;
};

static struct {
	struct mnl_socket *nl;
	int fd;
	uint16_t group;
	struct droplog_stats st;
	time_t window;			/* second of the rate window */
	unsigned in_window;		/* lines logged in it */
	uint64_t held;			/* suppressed in it, not yet summed up */
	pcap_t *dead;
	pcap_dumper_t *dump;
	char *pcap_path;
	size_t pcap_max;
	struct rule_count *rules;
	size_t nrules;
} dl = { .fd = -1 };

const struct droplog_stats *droplog_stats(void)
{
	return &dl.st;
}

void droplog_foreach_rule(droplog_rule_cb cb, void *data)
{
	for (size_t i = 0; i < dl.nrules; i++)
		cb(dl.rules[i].comment, dl.rules[i].packets, data);
}

static void count_rule(const char *comment)
{
	for (size_t i = 0; i < dl.nrules; i++)
		if (strcmp(dl.rules[i].comment, comment) == 0) {
			dl.rules[i].packets++;
			return;
		}
	if (dl.nrules >= DROPLOG_MAX_RULES)
		return;
	struct rule_count *nv = realloc(dl.rules, (dl.nrules + 1) * sizeof(*nv));
	if (!nv)
		return;
	dl.rules = nv;
	dl.rules[dl.nrules].comment = strdup(comment);
	if (!dl.rules[dl.nrules].comment)
		return;
	dl.rules[dl.nrules++].packets = 1;
}

/* ---- pcap ---------------------------------------------------------------- */

/* libpcap opens by name (fopen "ab+"), following links; so it is given
 * the file already opened here without following one, by its descriptor's
 * /proc name -- the same file, whatever the path names by then (a review:
 * a link swapped in between made root create and fill a file elsewhere). */
static pcap_dumper_t *dump_open_fd(int fd)
{
	char proc[64];
	pcap_dumper_t *p;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	p = pcap_dump_open_append(dl.dead, proc);
	close(fd);
	return p;
}

static int pcap_open_file(void)
{
	char err[PCAP_ERRBUF_SIZE];
	struct stat st;
	/* Created here with the final mode: dropped packets are traffic data. */
	int fd = open(dl.pcap_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0) {
		dlog("event=warning what=drop-pcap file=%s error=\"%s\"", dl.pcap_path, strerror(errno));
		return -1;
	}
	dl.dump = dump_open_fd(fd);
	if (!dl.dump) {
		/* not a raw-IP pcap of ours: keep it aside, start afresh */
		snprintf(err, sizeof(err), "%s", pcap_geterr(dl.dead));
		char old[4096];
		snprintf(old, sizeof(old), "%s.1", dl.pcap_path);
		dlog("event=warning what=drop-pcap file=%s error=\"%s\" action=\"moved to %s\"", dl.pcap_path,
		     err, old);
		if (rename(dl.pcap_path, old) < 0 ||
		    (fd = open(dl.pcap_path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
			return -1;
		dl.dump = dump_open_fd(fd);
		if (!dl.dump)
			return -1;
	}
	pcap_dump_flush(dl.dump);
	dl.st.pcap_bytes = fstat(fileno(pcap_dump_file(dl.dump)), &st) == 0 ? (uint64_t)st.st_size :
			   PCAP_FILE_HDR;
	return 0;
}

static void pcap_rotate(void)
{
	char old[4096];

	pcap_dump_close(dl.dump);
	dl.dump = NULL;
	snprintf(old, sizeof(old), "%s.1", dl.pcap_path);
	if (rename(dl.pcap_path, old) < 0)
		dlog("event=warning what=drop-pcap-rotate file=%s error=\"%s\"", dl.pcap_path, strerror(errno));
	else
		unlink(dl.pcap_path);
	dl.st.pcap_rotations++;
	/* one line per 10 s with a count: a drop flood into a small
	 * drop_pcap_max rotated (and logged) thousands of times a second */
	{
		static time_t last;
		static unsigned long quiet;
		time_t now = mono_now();

		if (!last || now - last >= 10) {
			dlog("event=drop-pcap-rotated file=%s to=%s rotations=%llu rotated_since_last_line=%lu",
			     dl.pcap_path, old, (unsigned long long)dl.st.pcap_rotations, quiet);
			last = now;
			quiet = 0;
		} else {
			quiet++;
		}
	}
	pcap_open_file();
}

/* The link layer of a logged packet, as NFLOG reports it. */
struct linkinfo {
	uint32_t iif, oif;
	int hwtype;			/* NFULA_HWTYPE, -1 when absent */
	const uint8_t *hwhdr;		/* NFULA_HWHEADER (the MAC header), or NULL */
	size_t hwlen;
};

#define SLL_HDR 16
#define ARPHRD_NONE_ 0xfffe
#define ARPHRD_LOOPBACK_ 772

/* lo is ifindex 1 in every namespace (LOOPBACK_IFINDEX); no name lookup
 * (three system calls) per logged packet */
static bool is_lo(uint32_t ifindex)
{
	return ifindex == 1;
}

/* The packet type an incoming packet had: from its Ethernet destination when
 * NFLOG gave the MAC header (as eth_type_trans set it), else from its IP
 * destination (the limited broadcast, multicast). */
static uint16_t in_pkttype(const struct linkinfo *li, const uint8_t *ip, size_t len)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	if (li->hwtype == 1 /* ARPHRD_ETHER */ && li->hwhdr && li->hwlen >= 14)
		return !memcmp(li->hwhdr, bcast, 6) ? PACKET_BROADCAST
		       : li->hwhdr[0] & 1 ? PACKET_MULTICAST : PACKET_HOST;
	if (len >= 20 && ip[0] >> 4 == 4)
		return !memcmp(ip + 16, bcast, 4) ? PACKET_BROADCAST
		       : (ip[16] & 0xf0) == 0xe0 ? PACKET_MULTICAST : PACKET_HOST;
	if (len >= 40 && ip[0] >> 4 == 6 && ip[24] == 0xff)
		return PACKET_MULTICAST;
	return PACKET_HOST;
}

/* The cooked (SLL) header: packet type, device type, source link-layer
 * address (incoming Ethernet), protocol. */
static void sll_header(uint8_t *h, const struct linkinfo *li, const uint8_t *ip, size_t len)
{
	bool out = li->oif && !li->iif;
	uint32_t dev = out ? li->oif : li->iif;
	/* forwarded (both devices): neither to nor from this host -- written
	 * as PACKET_OTHERHOST, which pcap-replay counts as transit (judged as
	 * input, a forward drop came out "allowed") */
	uint16_t pkttype = out ? PACKET_OUTGOING : li->oif ? PACKET_OTHERHOST
						 : in_pkttype(li, ip, len);
	uint16_t hatype = is_lo(dev) ? ARPHRD_LOOPBACK_ : li->hwtype >= 0 ? (uint16_t)li->hwtype
									    : ARPHRD_NONE_;
	uint16_t proto = len && ip[0] >> 4 == 6 ? 0x86dd : 0x0800;

	memset(h, 0, SLL_HDR);
	h[0] = (uint8_t)(pkttype >> 8), h[1] = (uint8_t)pkttype;
	h[2] = (uint8_t)(hatype >> 8), h[3] = (uint8_t)hatype;
	if (!out && li->hwtype == 1 && li->hwhdr && li->hwlen >= 14) {
		h[5] = 6;
		memcpy(h + 6, li->hwhdr + 6, 6);
	}
	h[14] = (uint8_t)(proto >> 8), h[15] = (uint8_t)proto;
}

static void pcap_write(const struct timeval *ts, const struct linkinfo *li, const uint8_t *data,
		       size_t caplen, size_t wirelen)
{
	static uint8_t rec[SLL_HDR + 65536];
	struct pcap_pkthdr h = { .ts = *ts };

	if (!dl.dump)
		return;
	if (caplen > sizeof(rec) - SLL_HDR)
		caplen = sizeof(rec) - SLL_HDR;
	sll_header(rec, li, data, caplen);
	memcpy(rec + SLL_HDR, data, caplen);
	caplen += SLL_HDR;
	h.caplen = (bpf_u_int32)caplen;
	h.len = (bpf_u_int32)(wirelen + SLL_HDR);
	if (dl.st.pcap_bytes + PCAP_RECORD_HDR + caplen > dl.pcap_max && dl.st.pcap_bytes > PCAP_FILE_HDR) {
		pcap_rotate();
		if (!dl.dump)
			return;
	}
	pcap_dump((u_char *)dl.dump, &h, rec);
	pcap_dump_flush(dl.dump);
	dl.st.pcap_bytes += PCAP_RECORD_HDR + caplen;
	dl.st.pcap_packets++;
}

/* ---- NFLOG ---------------------------------------------------------------- */

static struct nlmsghdr *cfg_msg(char *buf, uint16_t group, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;

	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(group);
	return nlh;
}

static int cfg_send(struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	uint32_t portid = mnl_socket_get_portid(dl.nl);

	if (mnl_socket_sendto(dl.nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	ssize_t n = mnl_socket_recvfrom(dl.nl, buf, sizeof(buf));
	if (n < 0)
		return -1;
	return mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, NULL, NULL) < 0 ? -1 : 0;
}

int droplog_open(struct daemon *d)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	uint32_t seq = (uint32_t)time(NULL);
	const char *step = "socket";

	dl.group = d->cfg.log_group;
	dl.window = mono_now();
	if (d->cfg.drop_pcap && d->cfg.drop_pcap[0]) {
		dl.pcap_path = strdup(d->cfg.drop_pcap);
		dl.pcap_max = d->cfg.drop_pcap_max;
		dl.dead = pcap_open_dead(DLT_LINUX_SLL, SLL_HDR + 65535);
		if (!dl.pcap_path || !dl.dead || pcap_open_file() < 0)
			dlog("event=warning what=drop-pcap file=%s note=\"dropped packets are not captured\"",
			     d->cfg.drop_pcap);
		else
			dlog("event=drop-pcap file=%s max_bytes=%zu", dl.pcap_path, dl.pcap_max);
	}
	dl.nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!dl.nl || mnl_socket_bind(dl.nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	step = "bind";
	nlh = cfg_msg(buf, dl.group, ++seq);
	struct nfulnl_msg_config_cmd cmd = { .command = NFULNL_CFG_CMD_BIND };
	mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof(cmd), &cmd);
	if (cfg_send(nlh) < 0)
		goto fail;
	step = "mode";
	nlh = cfg_msg(buf, dl.group, ++seq);
	struct nfulnl_msg_config_mode mode = {
		.copy_range = htonl(DROPLOG_COPY_RANGE), .copy_mode = NFULNL_COPY_PACKET,
	};
	mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof(mode), &mode);
	mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(DROPLOG_TIMEOUT_CS));
	mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(DROPLOG_QTHRESH));
	if (cfg_send(nlh) < 0)
		goto fail;
	int big = 4 << 20;
	setsockopt(mnl_socket_get_fd(dl.nl), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	dl.fd = mnl_socket_get_fd(dl.nl);
	fcntl(dl.fd, F_SETFL, fcntl(dl.fd, F_GETFL) | O_NONBLOCK);
	dl.st.active = true;
	dlog("event=drop-log group=%u rate=%u/s", dl.group, d->cfg.drop_log_rate);
	return dl.fd;
fail:
	dlog("event=warning what=drop-log group=%u step=%s error=\"%s\" note=\"%s\"", dl.group, step,
	     strerror(errno), errno == EBUSY ? "another program (ulogd?) has bound this NFLOG group" :
	     "denied packets are counted but not logged");
	if (dl.nl)
		mnl_socket_close(dl.nl);
	dl.nl = NULL;
	return -1;
}

static const char *dl_proto_name(uint8_t p, char *buf, size_t len)
{
	switch (p) {
	case 6: return "tcp";
	case 17: return "udp";
	case 1: return "icmp";
	case 58: return "icmpv6";
	case 50: return "esp";
	case 51: return "ah";
	case 132: return "sctp";
	case 47: return "gre";
	default: snprintf(buf, len, "%u", p); return buf;
	}
}

static void summary_flush(time_t now)
{
	if (now == dl.window)
		return;
	if (dl.held)
		dlog("event=drop-suppressed suppressed=%llu note=\"more than drop_log_rate lines in one second\"",
		     (unsigned long long)dl.held);
	dl.held = 0;
	dl.in_window = 0;
	dl.window = now;
}

void droplog_tick(struct daemon *d)
{
	(void)d;
	summary_flush(mono_now());
}

/* "filterd user:in:DenySsh " -> comment "user:in:DenySsh" */
static void prefix_comment(const char *prefix, char *out, size_t len)
{
	const char *p = prefix;
	if (strncmp(p, "filterd ", 8) == 0)
		p += 8;
	snprintf(out, len, "%s", p);
	size_t l = strlen(out);
	while (l && out[l - 1] == ' ')
		out[--l] = '\0';
}

static void fmt_endpoint(const struct pkt *p, bool dst, bool ports, char *buf, size_t len)
{
	const uint8_t *ip = p->data + p->nh_off;
	char a[INET6_ADDRSTRLEN];
	bool v6 = p->nfproto == NFPROTO_IPV6;

	inet_ntop(v6 ? AF_INET6 : AF_INET, v6 ? ip + (dst ? 24 : 8) : ip + (dst ? 16 : 12), a, sizeof(a));
	if (!ports) {
		snprintf(buf, len, "%s", a);
		return;
	}
	const uint8_t *th = p->data + p->th_off + (dst ? 2 : 0);
	unsigned port = (unsigned)(th[0] << 8 | th[1]);
	snprintf(buf, len, v6 ? "[%s]:%u" : "%s:%u", a, port);
}

static void log_packet(struct daemon *d, uint8_t family, const char *prefix, const uint8_t *data,
		       size_t len, const struct linkinfo *li, const struct timeval *ts)
{
	uint32_t iif = li->iif, oif = li->oif;
	char comment[256], cat[64] = "?", dir[16] = "?", name[200] = "?";
	char src[80], dst[80], pbuf[8], extra[64] = "", ifs[64] = "";
	struct pkt p;

	dl.st.received++;
	prefix_comment(prefix ? prefix : "", comment, sizeof(comment));
	count_rule(comment);
	{
		char *c1 = strchr(comment, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c1 && c2) {
			snprintf(cat, sizeof(cat), "%.*s", (int)(c1 - comment), comment);
			snprintf(dir, sizeof(dir), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
			snprintf(name, sizeof(name), "%s", c2 + 1);
		}
	}
	bool ok = pkt_decode(&p, DLT_RAW, data, len, len) == 0;
	size_t wirelen = ok ? p.len : len;
	pcap_write(ts, li, data, len, wirelen < len ? len : wirelen);

	summary_flush(mono_now());
	if (dl.in_window >= d->cfg.drop_log_rate) {
		dl.held++;
		dl.st.suppressed++;
		return;
	}
	dl.in_window++;
	dl.st.logged++;
	if (!ok) {
		dlog("event=drop direction=%s family=%u rule=%s:%s note=\"%s\"", dir, family, cat, name,
		     p.why ? p.why : "undecodable packet");
		return;
	}
	bool ports = p.tprot_set && !p.fragoff && (p.l4proto == 6 || p.l4proto == 17 || p.l4proto == 132) &&
		     p.th_off + 4 <= p.nh_off + p.avail;
	fmt_endpoint(&p, false, ports, src, sizeof(src));
	fmt_endpoint(&p, true, ports, dst, sizeof(dst));
	if (p.tprot_set && !p.fragoff && (p.l4proto == 1 || p.l4proto == 58) && p.th_off + 2 <= p.nh_off + p.avail)
		snprintf(extra, sizeof(extra), " type=%u code=%u", p.data[p.th_off], p.data[p.th_off + 1]);
	if (p.fragoff)
		snprintf(extra, sizeof(extra), " fragment=%u", p.fragoff);
	char ifn[IF_NAMESIZE];
	if (iif && if_indextoname(iif, ifn))
		snprintf(ifs, sizeof(ifs), " iif=%s", ifn);
	if (oif && if_indextoname(oif, ifn))
		snprintf(ifs + strlen(ifs), sizeof(ifs) - strlen(ifs), " oif=%s", ifn);
	dlog("event=drop direction=%s proto=%s src=%s dst=%s%s rule=%s:%s len=%zu%s", dir,
	     dl_proto_name(p.l4proto, pbuf, sizeof(pbuf)), src, dst, extra, cat, name, wirelen, ifs);
}

struct pkt_attrs {
	const struct nlattr *tb[NFULA_MAX + 1];
};

static int attr_cb(const struct nlattr *a, void *data)
{
	struct pkt_attrs *pa = data;
	uint16_t t = mnl_attr_get_type(a);

	if (t > NFULA_MAX)
		return MNL_CB_OK;
	switch (t) {
	case NFULA_IFINDEX_INDEV:
	case NFULA_IFINDEX_OUTDEV:
		if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
			return MNL_CB_OK;
		break;
	case NFULA_HWTYPE:
	case NFULA_HWLEN:
		if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
			return MNL_CB_OK;
		break;
	case NFULA_TIMESTAMP:
		if (mnl_attr_validate2(a, MNL_TYPE_UNSPEC, sizeof(struct nfulnl_msg_packet_timestamp)) < 0)
			return MNL_CB_OK;
		break;
	case NFULA_PREFIX:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
			return MNL_CB_OK;
		break;
	default:
		break;
	}
	pa->tb[t] = a;
	return MNL_CB_OK;
}

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct daemon *d = data;
	struct pkt_attrs pa = {0};
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	struct timeval ts;

	if ((nlh->nlmsg_type & 0xff) != NFULNL_MSG_PACKET || (nlh->nlmsg_type >> 8) != NFNL_SUBSYS_ULOG)
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(*g), attr_cb, &pa) < 0)
		return MNL_CB_OK;
	if (!pa.tb[NFULA_PAYLOAD])
		return MNL_CB_OK;
	if (pa.tb[NFULA_TIMESTAMP]) {
		/* netlink attributes are 4-byte aligned, the struct's fields 8:
		 * copied out, not read in place (UBSan: misaligned access) */
		struct nfulnl_msg_packet_timestamp t;

		if (mnl_attr_get_payload_len(pa.tb[NFULA_TIMESTAMP]) < sizeof(t))
			return MNL_CB_OK;
		memcpy(&t, mnl_attr_get_payload(pa.tb[NFULA_TIMESTAMP]), sizeof(t));
		ts.tv_sec = (time_t)be64toh(t.sec);
		ts.tv_usec = (suseconds_t)be64toh(t.usec);
	} else {
		gettimeofday(&ts, NULL);
	}
	struct linkinfo li = {
		.iif = pa.tb[NFULA_IFINDEX_INDEV] ? ntohl(mnl_attr_get_u32(pa.tb[NFULA_IFINDEX_INDEV])) : 0,
		.oif = pa.tb[NFULA_IFINDEX_OUTDEV] ? ntohl(mnl_attr_get_u32(pa.tb[NFULA_IFINDEX_OUTDEV])) : 0,
		.hwtype = pa.tb[NFULA_HWTYPE] ? ntohs(mnl_attr_get_u16(pa.tb[NFULA_HWTYPE])) : -1,
	};
	if (pa.tb[NFULA_HWHEADER]) {
		/* the header's length is NFULA_HWLEN, within the attribute */
		size_t al = mnl_attr_get_payload_len(pa.tb[NFULA_HWHEADER]);
		size_t hl = pa.tb[NFULA_HWLEN] ? ntohs(mnl_attr_get_u16(pa.tb[NFULA_HWLEN])) : al;

		li.hwhdr = mnl_attr_get_payload(pa.tb[NFULA_HWHEADER]);
		li.hwlen = hl < al ? hl : al;
	}
	log_packet(d, g->nfgen_family,
		   pa.tb[NFULA_PREFIX] ? mnl_attr_get_str(pa.tb[NFULA_PREFIX]) : NULL,
		   mnl_attr_get_payload(pa.tb[NFULA_PAYLOAD]), mnl_attr_get_payload_len(pa.tb[NFULA_PAYLOAD]),
		   &li, &ts);
	return MNL_CB_OK;
}

void droplog_read(struct daemon *d)
{
	static char buf[1 << 17];

	if (!dl.nl)
		return;
	for (int i = 0; i < 64; i++) {	/* bounded: the loop has other work too */
		ssize_t n = mnl_socket_recvfrom(dl.nl, buf, sizeof(buf));
		if (n < 0) {
			if (errno == ENOBUFS) {
				dl.st.lost++;
				if (dl.st.lost == 1 || dl.st.lost % 1000 == 0)
					dlog("event=warning what=drop-log error=\"%s\" lost=%llu", strerror(errno),
					     (unsigned long long)dl.st.lost);
				continue;
			}
			return;
		}
		mnl_cb_run(buf, (size_t)n, 0, 0, msg_cb, d);
	}
}

void droplog_close(void)
{
	if (dl.nl)
		mnl_socket_close(dl.nl);	/* the kernel unbinds the group with the socket */
	dl.nl = NULL;
	dl.fd = -1;
	if (dl.dump)
		pcap_dump_close(dl.dump);
	dl.dump = NULL;
	if (dl.dead)
		pcap_close(dl.dead);
	dl.dead = NULL;
	free(dl.pcap_path);
	dl.pcap_path = NULL;
	for (size_t i = 0; i < dl.nrules; i++)
		free(dl.rules[i].comment);
	free(dl.rules);
	dl.rules = NULL;
	dl.nrules = 0;
	dl.st.active = false;
}
