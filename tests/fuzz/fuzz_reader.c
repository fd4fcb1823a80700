/* Fuzzes pcap-replay's capture reader (pcap-replay/reader.c) against libpcap:
 * whatever the file, reading it through the reader (its block reader, with
 * and without the reader thread) must give the very packets, headers and
 * end (error message included) that libpcap alone gives.  A difference
 * aborts.
 *
 * An input that starts like a pcap file is that file; anything else gets a
 * file header chosen by its first byte (byte order, micro or nanoseconds,
 * version 2.4 or 2.3, snapshot length, link type) and is the records.
 *
 * An input that starts like a pcapng file is that file.  There the reader
 * must give libpcap's packets, end included, except where libpcap refuses
 * the file for interfaces of different link types, snapshot lengths or
 * byte orders: from there pcap-replay's own pcapng reader reads on.  Where
 * the reader differs from libpcap, it must give exactly what that pcapng
 * reader alone gives (end and message included), which must begin with
 * libpcap's packets.  The pcapng reader alone must give libpcap's packets
 * and clean end for every file libpcap reads to its end (of the link types
 * libpcap changes no record of). */
#include "fuzz.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../pcap-replay/reader.h"

struct out {
	uint8_t *p;
	size_t len, cap;
	int end;
	char err[PCAP_ERRBUF_SIZE + 64];
};

/* what was read, as bytes: header fields and data, packet after packet */
static void put(struct out *o, const void *d, size_t n)
{
	if (o->len + n > o->cap) {
		o->cap = (o->len + n) * 2;
		o->p = realloc(o->p, o->cap);
		if (!o->p)
			fuzz_die("out", "out of memory");
	}
	memcpy(o->p + o->len, d, n);
	o->len += n;
}

static void put_pkt(struct out *o, const struct pcap_pkthdr *h, const uint8_t *d)
{
	long f[4] = { (long)h->ts.tv_sec, (long)h->ts.tv_usec, (long)h->caplen, (long)h->len };

	put(o, f, sizeof(f));
	put(o, d, h->caplen);
}

static uint64_t prep(void *arg, const struct pcap_pkthdr *h, const uint8_t *data, int dlt, uint64_t frame,
		     void *area)
{
	memcpy(area, &frame, sizeof(frame));
	return frame;
}

static void via_reader(const char *path, unsigned flags, struct out *o)
{
	struct pcap_pkthdr h;
	const uint8_t *d;
	struct reader *rd;
	uint64_t n = 0;
	void *area;
	int rc;

	if (reader_open(&rd, path, flags, 16, prep, NULL, o->err, sizeof(o->err)) < 0) {
		o->end = -2;
		return;
	}
	while ((rc = reader_next(rd, &h, &d, &area)) == 1) {
		uint64_t frame;

		memcpy(&frame, area, sizeof(frame));
		if (frame != ++n)
			fuzz_die("reader", "prep saw the wrong frame number");
		put_pkt(o, &h, d);
	}
	o->end = rc;
	if (rc < 0)
		snprintf(o->err, sizeof(o->err), "%s", reader_error(rd));
	reader_close(rd, NULL);
}

static int ref_dlt;	/* via_libpcap's file's link type, and byte order */
static bool ref_swapped;

static void via_libpcap(const char *path, struct out *o)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	pcap_t *pc = pcap_open_offline(path, err);
	int rc;

	if (!pc) {
		o->end = -2;
		snprintf(o->err, sizeof(o->err), "%s", err);
		return;
	}
	ref_dlt = pcap_datalink(pc);
	ref_swapped = pcap_is_swapped(pc) == 1;
	while ((rc = pcap_next_ex(pc, &h, &d)) == 1)
		put_pkt(o, h, d);
	o->end = rc == PCAP_ERROR ? -1 : 0;
	if (rc == PCAP_ERROR)
		snprintf(o->err, sizeof(o->err), "%s", pcap_geterr(pc));
	pcap_close(pc);
}

static void via_ngrd(const char *path, struct out *o)
{
	struct pcap_pkthdr *h;
	const uint8_t *d;
	struct ngrd *g;
	int rc, dlt;

	if (ngrd_open(&g, path, o->err, sizeof(o->err)) < 0) {
		o->end = -2;
		return;
	}
	while ((rc = ngrd_next(g, &h, &d, &dlt)) == 1)
		put_pkt(o, h, d);
	o->end = rc;
	if (rc < 0)
		snprintf(o->err, sizeof(o->err), "%s", ngrd_error(g));
	ngrd_close(g);
}

static bool same_out(const struct out *a, const struct out *b)
{
	return a->end == b->end && a->len == b->len && (!a->len || memcmp(a->p, b->p, a->len) == 0) &&
	       strcmp(a->err, b->err) == 0;
}

static int is_pcap(const uint8_t *d, size_t n)
{
	static const uint8_t magics[][4] = {
		{ 0xd4, 0xc3, 0xb2, 0xa1 }, { 0xa1, 0xb2, 0xc3, 0xd4 },
		{ 0x4d, 0x3c, 0xb2, 0xa1 }, { 0xa1, 0xb2, 0x3c, 0x4d },
	};

	for (size_t i = 0; n >= 4 && i < sizeof(magics) / sizeof(magics[0]); i++)
		if (memcmp(d, magics[i], 4) == 0)
			return 1;
	return 0;
}

/* byte 0 -> a file header (24 bytes into hdr) */
static void make_header(uint8_t sel, uint8_t *hdr)
{
	static const uint32_t snaps[] = { 0, 64, 1500, 65535, 262144, 0x7fffffff, 96, 200000 };
	/* (bit 0: byte order, 1: nanoseconds, 2-4: snapshot, 5-7: link type) */
	static const uint32_t dlts[] = { DLT_EN10MB, DLT_RAW, DLT_LINUX_SLL, DLT_NULL,
					 DLT_LINUX_SLL2, 228 /* IPV4 */, DLT_LOOP, 220 /* USB_LINUX_MMAPPED */ };
	bool be = sel & 1, nsec = sel & 2, v23 = (sel & 0x1c) == 0x1c;
	uint32_t f[6] = { nsec ? 0xa1b23c4d : 0xa1b2c3d4, 0, 0, 0, snaps[(sel >> 2) & 7],
			  dlts[sel >> 5] };
	uint16_t ver[2] = { 2, v23 ? 3 : 4 };

	for (int i = 0; i < 6; i++) {
		uint32_t v = be ? __builtin_bswap32(f[i]) : f[i];

		memcpy(hdr + 4 * i, &v, 4);
	}
	for (int i = 0; i < 2; i++) {
		uint16_t v = be ? __builtin_bswap16(ver[i]) : ver[i];

		memcpy(hdr + 4 + 2 * i, &v, 2);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	static const unsigned flags[] = { 0, READER_SINGLE_THREAD };
	struct out ref = { 0 };
	uint8_t hdr[24];

	if (fd < 0) {
		if ((fd = memfd_create("fuzz-reader", MFD_CLOEXEC)) < 0)
			fuzz_die("memfd_create", strerror(errno));
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (size == 0)
		return 0;
	if (ftruncate(fd, 0) < 0)
		fuzz_die("memfd", strerror(errno));
	bool ng = size >= 4 && memcmp(data, "\x0a\x0d\x0d\x0a", 4) == 0;

	if (ng || is_pcap(data, size)) {
		if (pwrite(fd, data, size, 0) != (ssize_t)size)
			fuzz_die("memfd", strerror(errno));
	} else {
		make_header(data[0], hdr);
		if (pwrite(fd, hdr, 24, 0) != 24 ||
		    pwrite(fd, data + 1, size - 1, 24) != (ssize_t)(size - 1))
			fuzz_die("memfd", strerror(errno));
	}
	struct out ngo = { 0 };

	via_libpcap(path, &ref);
	if (ng)
		via_ngrd(path, &ngo);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct out o = { 0 };

		via_reader(path, flags[i], &o);
		if (ng && ref.end == -1 && !same_out(&o, &ref)) {
			/* taken over: the pcapng reader's, which begins with libpcap's */
			if (!same_out(&o, &ngo) || ngo.len < ref.len ||
			    (ref.len && memcmp(ngo.p, ref.p, ref.len))) {
				fprintf(stderr, "fuzz_reader: flags %u: taken over: %zu bytes, end %d "
					"\"%s\"; the pcapng reader alone: %zu bytes, end %d \"%s\"; "
					"libpcap: %zu bytes, \"%s\"\n", flags[i], o.len, o.end, o.err,
					ngo.len, ngo.end, ngo.err, ref.len, ref.err);
				abort();
			}
		} else if (!same_out(&o, &ref)) {
			size_t at = 0;

			while (at < o.len && at < ref.len && o.p[at] == ref.p[at])
				at++;
			fprintf(stderr, "fuzz_reader: flags %u: %zu bytes read, end %d \"%s\"; "
				"libpcap: %zu bytes, end %d \"%s\"; first difference at byte %zu\n",
				flags[i], o.len, o.end, o.err, ref.len, ref.end, ref.err, at);
			abort();
		}
		free(o.p);
	}
	if (ng) {
		struct out o = ngo;
		bool plain = ref_dlt == DLT_EN10MB || ref_dlt == DLT_RAW || ref_dlt == DLT_NULL ||
			     ref_dlt == DLT_LOOP || ref_dlt == 228 || ref_dlt == 229 ||
			     ((ref_dlt == DLT_LINUX_SLL || ref_dlt == DLT_LINUX_SLL2) && !ref_swapped);

		/* (a byte-swapped cooked capture's CAN ID libpcap swaps: not compared) */
		if (ref.end == 0 && plain &&
		    (o.end != 0 || o.len != ref.len || (o.len && memcmp(o.p, ref.p, o.len)))) {
			size_t at = 0;

			while (at < o.len && at < ref.len && o.p[at] == ref.p[at])
				at++;
			fprintf(stderr, "fuzz_reader: the pcapng reader: %zu bytes read, end %d "
				"\"%s\"; libpcap: %zu bytes, clean end; first difference at byte %zu\n",
				o.len, o.end, o.err, ref.len, at);
			abort();
		}
		free(o.p);
	}
	free(ref.p);
	return 0;
}
