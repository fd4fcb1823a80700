/* test_reader — pcap-replay's capture reader (pcap-replay/reader.c) returns
 * exactly what libpcap returns.
 *
 * A classic pcap file's records are read by the reader's own block reader
 * until the first record libpcap must read (longer than the snapshot, cut by
 * the end of the file, ...), libpcap from there on.  Each case reads a file
 * with libpcap alone (pcap_open_offline + pcap_next_ex: the reference) and
 * through the reader, with and without its reader thread, and with
 * READER_LIBPCAP, and compares every packet (time stamp, lengths, bytes), the
 * frame number prep sees, the end (0, or -1 and libpcap's very message), and
 * how many records the block reader took: a case that silently fell back to
 * libpcap would compare libpcap with itself. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <pcap/pcap.h>

#include "../../pcap-replay/reader.h"

/* one packet as read: its header and a hash of its bytes */
struct rec {
	long sec, usec;
	uint32_t caplen, len;
	uint64_t hash, frame;
	int64_t dlt;		/* the packet's link type */
};

struct run {
	struct rec *r;
	size_t n, cap;
	int end;		/* 0 end of file, -1 error */
	char err[PCAP_ERRBUF_SIZE + 64];
	uint64_t block_records;
};

static uint64_t fnv(const uint8_t *d, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * 1099511628211ull;
	return h;
}

static void add(struct run *run, const struct pcap_pkthdr *h, const uint8_t *d, uint64_t frame,
		int dlt)
{
	if (run->n == run->cap) {
		run->cap = run->cap ? run->cap * 2 : 64;
		run->r = realloc(run->r, run->cap * sizeof(*run->r));
		assert_non_null(run->r);
	}
	run->r[run->n++] = (struct rec){ h->ts.tv_sec, h->ts.tv_usec, h->caplen, h->len,
					 fnv(d, h->caplen), frame, dlt };
}

/* libpcap alone */
static void read_libpcap(const char *path, struct run *run)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	pcap_t *pc = pcap_open_offline(path, err);
	int rc;

	memset(run, 0, sizeof(*run));
	assert_non_null(pc);
	while ((rc = pcap_next_ex(pc, &h, &d)) == 1)
		add(run, h, d, run->n + 1, pcap_datalink(pc));
	run->end = rc == PCAP_ERROR ? -1 : 0;
	if (rc == PCAP_ERROR)
		snprintf(run->err, sizeof(run->err), "%s", pcap_geterr(pc));
	pcap_close(pc);
}

/* prep records the frame number and link type it was given, in the area */
static uint64_t prep(void *arg, const struct pcap_pkthdr *h, const uint8_t *data, int dlt, uint64_t frame,
		     void *area)
{
	memcpy(area, &frame, sizeof(frame));
	memcpy((uint8_t *)area + 8, &dlt, sizeof(dlt));
	return frame;
}

static struct reader_stats last_stats;	/* read_reader's */

static void read_reader(const char *path, unsigned flags, struct run *run)
{
	struct reader_stats st;
	struct pcap_pkthdr h;
	const uint8_t *d;
	struct reader *rd;
	void *area;
	int rc;

	memset(run, 0, sizeof(*run));
	assert_int_equal(reader_open(&rd, path, flags, 64, prep, NULL, run->err, sizeof(run->err)), 0);
	while ((rc = reader_next(rd, &h, &d, &area)) == 1) {
		uint64_t frame;
		int dlt;

		memcpy(&frame, area, sizeof(frame));
		memcpy(&dlt, (uint8_t *)area + 8, sizeof(dlt));
		add(run, &h, d, frame, dlt);
	}
	run->end = rc;
	if (rc < 0)
		snprintf(run->err, sizeof(run->err), "%s", reader_error(rd));
	reader_close(rd, &st);
	run->block_records = st.block_records;
	last_stats = st;
}

static bool same(const struct run *a, const struct run *b, const char *what, const char *path)
{
	size_t i;

	for (i = 0; i < a->n && i < b->n; i++)
		if (memcmp(&a->r[i], &b->r[i], sizeof(a->r[i])) != 0)
			break;
	if (i == a->n && a->n == b->n && a->end == b->end && strcmp(a->err, b->err) == 0)
		return true;
	print_error("%s: %s differs from libpcap: %zu and %zu packets, first difference at "
		    "packet %zu; end %d \"%s\" vs %d \"%s\"\n",
		    path, what, b->n, a->n, i + 1, b->end, b->err, a->end, a->err);
	if (i < a->n && i < b->n)
		print_error("  libpcap: %ld.%06ld caplen %u len %u; %s: %ld.%06ld caplen %u len %u\n",
			    a->r[i].sec, a->r[i].usec, a->r[i].caplen, a->r[i].len, what,
			    b->r[i].sec, b->r[i].usec, b->r[i].caplen, b->r[i].len);
	return false;
}

/* Reads path every way; returns the records the block reader took (the same
 * with and without the thread). */
static uint64_t check_file(const char *path)
{
	static const struct { unsigned flags; const char *what; } ways[] = {
		{ 0, "the reader (threaded)" },
		{ READER_SINGLE_THREAD, "the reader (single thread)" },
		{ READER_LIBPCAP, "the reader with READER_LIBPCAP" },
	};
	struct run ref, run;
	uint64_t blocks = 0;
	bool ok = true;

	read_libpcap(path, &ref);
	for (size_t i = 0; i < sizeof(ways) / sizeof(ways[0]); i++) {
		read_reader(path, ways[i].flags, &run);
		ok &= same(&ref, &run, ways[i].what, path);
		if (ways[i].flags & READER_LIBPCAP)
			ok &= run.block_records == 0;
		else if (i == 0)
			blocks = run.block_records;
		else if (run.block_records != blocks) {
			print_error("%s: %llu records in blocks threaded, %llu without\n", path,
				    (unsigned long long)blocks, (unsigned long long)run.block_records);
			ok = false;
		}
		free(run.r);
	}
	free(ref.r);
	assert_true(ok);
	return blocks;
}

/* ---- crafted files ---- */

struct craft {
	bool be;		/* big-endian file */
	bool nsec;
	uint16_t major, minor;
	uint32_t snaplen, dlt;
};

static void w32(FILE *f, const struct craft *c, uint32_t v)
{
	uint8_t b[4];

	if (c->be) {
		b[0] = (uint8_t)(v >> 24), b[1] = (uint8_t)(v >> 16), b[2] = (uint8_t)(v >> 8), b[3] = (uint8_t)v;
	} else {
		b[3] = (uint8_t)(v >> 24), b[2] = (uint8_t)(v >> 16), b[1] = (uint8_t)(v >> 8), b[0] = (uint8_t)v;
	}
	fwrite(b, 1, 4, f);
}

static void w16(FILE *f, const struct craft *c, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(c->be ? v >> 8 : v), (uint8_t)(c->be ? v : v >> 8) };

	fwrite(b, 1, 2, f);
}

static FILE *craft_open(const char *path, const struct craft *c)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	w32(f, c, c->nsec ? 0xa1b23c4d : 0xa1b2c3d4);
	w16(f, c, c->major);
	w16(f, c, c->minor);
	w32(f, c, 0);
	w32(f, c, 0);
	w32(f, c, c->snaplen);
	w32(f, c, c->dlt);
	return f;
}

static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 33);
}

/* one record: caplen bytes stored (the header may say otherwise: hcaplen) */
static void craft_rec(FILE *f, const struct craft *c, uint32_t sec, uint32_t frac, uint32_t hcaplen,
		      uint32_t len, uint32_t stored, uint64_t *seed)
{
	w32(f, c, sec);
	w32(f, c, frac);
	w32(f, c, hcaplen);
	w32(f, c, len);
	for (uint32_t i = 0; i < stored; i++)
		fputc((int)(rnd(seed) & 0xff), f);
}

static char dir[] = "/tmp/test_reader.XXXXXX";

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Many records (more than a batch, over many read chunks), of every size up
 * to a few KiB and a few of 60 KiB, time stamps of every sign and size:
 * both byte orders, micro- and nanosecond files.  All in blocks. */
static void test_plain_files(void **state)
{
	for (int be = 0; be < 2; be++) {
		for (int nsec = 0; nsec < 2; nsec++) {
			struct craft c = { be, nsec, 2, 4, 262144, DLT_EN10MB };
			char path[256];
			uint64_t seed = 42 + (uint64_t)(be * 2 + nsec);
			FILE *f;
			const unsigned n = 5000;

			snprintf(path, sizeof(path), "%s/plain-%d-%d.pcap", dir, be, nsec);
			f = craft_open(path, &c);
			for (unsigned i = 0; i < n; i++) {
				uint32_t len = i % 97 == 0 ? 60000 + rnd(&seed) % 5000
							   : rnd(&seed) % 3000;
				uint32_t sec = i % 7 == 0 ? rnd(&seed) << 1 | (rnd(&seed) & 1) :
					       1700000000u + i;
				uint32_t frac = i % 11 == 0 ? rnd(&seed) << 1 | (rnd(&seed) & 1) :
						rnd(&seed) % (nsec ? 1000000000u : 1000000u);

				craft_rec(f, &c, sec, frac, len, len + (i % 3 ? 0 : 100), len, &seed);
			}
			fclose(f);
			assert_int_equal(check_file(path), n);
		}
	}
}

/* A record longer than the snapshot: libpcap keeps the snapshot's bytes and
 * skips the rest; the block reader hands that record over and libpcap reads
 * it and all after it. */
static void test_longer_than_snapshot(void **state)
{
	struct craft c = { false, false, 2, 4, 200, DLT_EN10MB };
	char path[256];
	uint64_t seed = 7;
	FILE *f;

	snprintf(path, sizeof(path), "%s/oversnap.pcap", dir);
	f = craft_open(path, &c);
	for (unsigned i = 0; i < 40; i++) {
		uint32_t len = i == 25 || i == 30 ? 300 : 150;

		craft_rec(f, &c, 1700000000u + i, i, len, len, len, &seed);
	}
	fclose(f);
	assert_int_equal(check_file(path), 25);
}

/* A record longer than libpcap takes for the link type (262144 for
 * Ethernet, the snapshot larger still): libpcap's error, after the packets
 * before it. */
static void test_longer_than_maximum(void **state)
{
	struct craft c = { true, false, 2, 4, 0x7fffffff, DLT_EN10MB };
	char path[256];
	uint64_t seed = 9;
	FILE *f;

	snprintf(path, sizeof(path), "%s/overmax.pcap", dir);
	f = craft_open(path, &c);
	for (unsigned i = 0; i < 10; i++)
		craft_rec(f, &c, 1700000000u + i, i, 100, 100, 100, &seed);
	craft_rec(f, &c, 1700000010u, 0, 300000, 300000, 300000, &seed);
	craft_rec(f, &c, 1700000011u, 0, 100, 100, 100, &seed);
	fclose(f);
	assert_int_equal(check_file(path), 10);
}

/* A file cut at every length: the header cut, the data cut, exactly at a
 * record's end.  libpcap's "truncated dump file" messages, word for word. */
static void test_cut_everywhere(void **state)
{
	struct craft c = { false, true, 2, 4, 65535, DLT_RAW };
	char path[256], cut[256];
	uint64_t seed = 11;
	uint8_t *buf;
	size_t size;
	FILE *f;
	unsigned blocks_seen = 0;

	snprintf(path, sizeof(path), "%s/whole.pcap", dir);
	snprintf(cut, sizeof(cut), "%s/cut.pcap", dir);
	f = craft_open(path, &c);
	for (unsigned i = 0; i < 12; i++)
		craft_rec(f, &c, 1700000000u + i, i * 1000u, i * 13, i * 13, i * 13, &seed);
	fclose(f);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = (size_t)ftell(f);
	rewind(f);
	buf = malloc(size);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, size, f), size);
	fclose(f);
	for (size_t n = 24; n <= size; n++) {
		f = fopen(cut, "wb");
		assert_non_null(f);
		fwrite(buf, 1, n, f);
		fclose(f);
		blocks_seen += check_file(cut) > 0;
	}
	free(buf);
	assert_true(blocks_seen > 0);
}

/* Files the block reader leaves to libpcap from the start: version 2.3
 * (whose lengths may be swapped) and byte-swapped link types with a
 * pseudo-header libpcap swaps (Linux USB; a cooked header's CAN ID, which
 * fuzz_reader found: tests/fuzz/regress/reader). */
static void test_left_to_libpcap(void **state)
{
	static const struct craft cs[] = {
		{ false, false, 2, 3, 65535, DLT_EN10MB },
		{ true, false, 2, 4, 65535, DLT_USB_LINUX_MMAPPED },
		{ true, true, 2, 4, 65535, DLT_LINUX_SLL },
	};

	for (size_t k = 0; k < sizeof(cs) / sizeof(cs[0]); k++) {
		char path[256];
		uint64_t seed = 13;
		FILE *f;

		snprintf(path, sizeof(path), "%s/libpcap-%zu.pcap", dir, k);
		f = craft_open(path, &cs[k]);
		for (unsigned i = 0; i < 20; i++)
			craft_rec(f, &cs[k], 1700000000u + i, i, 80 + i, 90 + i, 80 + i, &seed);
		fclose(f);
		assert_int_equal(check_file(path), 0);
	}
}

/* libpcap fixes up a Linux USB (memory-mapped) isochronous IN completion's
 * len whatever the file's byte order (pcap_post_process): such a file is
 * libpcap's alone (the review's reproduction, in tests/fuzz/regress/reader). */
static void test_usb_len_fixup(void **state)
{
	static const uint8_t rec[] = {
		/* record: ts 1.000002, caplen 80, len 80 */
		1, 0, 0, 0, 2, 0, 0, 0, 80, 0, 0, 0, 80, 0, 0, 0,
		/* usb header: id, 'C' (completion), ISO, endpoint 0x81 (IN), ... */
		1, 0, 0, 0, 0, 0, 0, 0, 0x43, 0, 0x81, 1, 1, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
		/* one iso descriptor: status 0, offset 0, len 100 */
		0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0,
	};
	struct craft c = { false, false, 2, 4, 65535, DLT_USB_LINUX_MMAPPED };
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/usb.pcap", dir);
	f = craft_open(path, &c);
	fwrite(rec, 1, sizeof(rec), f);
	fclose(f);
	assert_int_equal(check_file(path), 0);
}

/* A capture cut while it is read, below bytes the block reader has read
 * already: an error, not a clean end (libpcap, taking over past the new end,
 * would see one). */
static void test_cut_while_read(void **state)
{
	struct craft c = { false, false, 2, 4, 65535, DLT_EN10MB };
	struct pcap_pkthdr h;
	const uint8_t *d;
	struct reader *rd;
	char path[256], err[PCAP_ERRBUF_SIZE + 64];
	uint64_t seed = 17;
	unsigned n = 0;
	void *area;
	FILE *f;
	int rc;

	/* single thread: cut after 10 packets, inside the first 64 KiB chunk;
	 * threaded: after the first packet, inside the first batch the reader
	 * thread published (the ring of four holds ~4 MiB of the 20) */
	static const struct { unsigned flags, after, cut_records; } cases[] = {
		{ READER_SINGLE_THREAD, 10, 30 },
		{ 0, 1, 500 },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		off_t cut = 24 + (off_t)cases[k].cut_records * 1016 + 500;
		char want[160];

		snprintf(path, sizeof(path), "%s/shrinks.pcap", dir);
		f = craft_open(path, &c);
		for (unsigned i = 0; i < 20000; i++)
			craft_rec(f, &c, 1700000000u + i, i, 1000, 1000, 1000, &seed);
		fclose(f);
		n = 0;
		assert_int_equal(reader_open(&rd, path, cases[k].flags, 64, prep, NULL, err, sizeof(err)), 0);
		while ((rc = reader_next(rd, &h, &d, &area)) == 1)
			if (++n == cases[k].after)
				assert_int_equal(truncate(path, cut), 0);
		assert_int_equal(rc, -1);
		snprintf(want, sizeof(want), "the capture was cut while it was read: it is %lld bytes "
			 "long now", (long long)cut);
		if (!strstr(reader_error(rd), want))
			print_error("flags %u: \"%s\"\n", cases[k].flags, reader_error(rd));
		assert_non_null(strstr(reader_error(rd), want));
		assert_true(n >= cases[k].cut_records);
		reader_close(rd, NULL);
	}
}

/* tcpdump's regression suite's captures (../shared): the directory, or the
 * test is skipped */
static DIR *open_corpus(const char **d)
{
	static const char *dirs[] = { "../shared/data/pcaps/tcpdump",
				      "/work/shared/data/pcaps/tcpdump" };
	DIR *dp = NULL;

	for (size_t i = 0; i < 2 && !dp; i++)
		if ((dp = opendir(dirs[i])))
			*d = dirs[i];
	if (!dp) {
		print_message("SKIP: %s not found (no shared data in this checkout)\n", dirs[0]);
		skip();
	}
	return dp;
}

/* ---- pcapng files libpcap refuses (pcap-replay's pcapng reader) ---- */

/* a block being written, in its section's byte order */
struct ngb {
	bool be;
	uint8_t b[300 * 1024];
	size_t n;
};

static void nb8(struct ngb *k, const void *p, size_t n)
{
	assert_true(k->n + n <= sizeof(k->b));
	memcpy(k->b + k->n, p, n);
	k->n += n;
}

static void nb32(struct ngb *k, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	if (k->be)
		b[0] = (uint8_t)(v >> 24), b[1] = (uint8_t)(v >> 16), b[2] = (uint8_t)(v >> 8),
		b[3] = (uint8_t)v;
	nb8(k, b, 4);
}

static void nb16(struct ngb *k, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(k->be ? v >> 8 : v), (uint8_t)(k->be ? v : v >> 8) };

	nb8(k, b, 2);
}

static void nbpad(struct ngb *k)
{
	while (k->n % 4)
		k->b[k->n++] = 0;
}

/* writes the block: type, total length, body, total length */
static void nb_write(FILE *f, struct ngb *k, uint32_t type)
{
	struct ngb h = { .be = k->be };
	uint32_t total = (uint32_t)k->n + 12;

	nbpad(k);
	total = (uint32_t)k->n + 12;
	nb32(&h, type);
	nb32(&h, total);
	fwrite(h.b, 1, h.n, f);
	fwrite(k->b, 1, k->n, f);
	h.n = 0;
	nb32(&h, total);
	fwrite(h.b, 1, h.n, f);
	k->n = 0;
}

static void ng_shb(FILE *f, bool be)
{
	struct ngb k = { .be = be };

	nb32(&k, 0x1A2B3C4D);
	nb16(&k, 1);
	nb16(&k, 0);
	nb32(&k, 0xffffffff);	/* section length: unknown */
	nb32(&k, 0xffffffff);
	nb_write(f, &k, 0x0A0D0D0A);
}

/* tsresol 0: no if_tsresol option; tsoffset 0: no if_tsoffset */
static void ng_idb(FILE *f, bool be, uint16_t linktype, uint32_t snaplen, uint8_t tsresol,
		   int64_t tsoffset)
{
	struct ngb k = { .be = be };

	nb16(&k, linktype);
	nb16(&k, 0);
	nb32(&k, snaplen);
	if (tsresol) {
		nb16(&k, 9);
		nb16(&k, 1);
		nb8(&k, &tsresol, 1);
		nbpad(&k);
	}
	if (tsoffset) {
		uint64_t v = (uint64_t)tsoffset;

		nb16(&k, 14);
		nb16(&k, 8);
		nb32(&k, be ? (uint32_t)(v >> 32) : (uint32_t)v);
		nb32(&k, be ? (uint32_t)v : (uint32_t)(v >> 32));
	}
	nb16(&k, 0);
	nb16(&k, 0);
	nb_write(f, &k, 1);
}

/* an Enhanced Packet Block (obsolete: a Packet Block, 16-bit interface id) */
static void ng_epb(FILE *f, bool be, bool obsolete, uint32_t ifid, uint64_t ts,
		   const uint8_t *d, uint32_t caplen, uint32_t len)
{
	struct ngb k = { .be = be };

	if (obsolete) {
		nb16(&k, (uint16_t)ifid);
		nb16(&k, 0);
	} else {
		nb32(&k, ifid);
	}
	nb32(&k, (uint32_t)(ts >> 32));
	nb32(&k, (uint32_t)ts);
	nb32(&k, caplen);
	nb32(&k, len);
	nb8(&k, d, caplen);
	nb_write(f, &k, obsolete ? 2 : 6);
}

static void ng_spb(FILE *f, bool be, const uint8_t *d, uint32_t stored, uint32_t len)
{
	struct ngb k = { .be = be };

	nb32(&k, len);
	nb8(&k, d, stored);
	nb_write(f, &k, 3);
}

/* One packet as the pcapng reader must return it. */
struct want {
	long sec, usec;
	uint32_t caplen, len;
	const uint8_t *d;
	int dlt;
};

static void expect_run(const struct run *run, const struct want *w, size_t n, const char *what)
{
	if (run->n != n)
		print_error("%s: %zu packets, want %zu (end %d \"%s\")\n", what, run->n, n,
			    run->end, run->err);
	assert_int_equal(run->n, n);
	for (size_t i = 0; i < n; i++) {
		const struct rec *r = &run->r[i];

		if (r->sec != w[i].sec || r->usec != w[i].usec || r->caplen != w[i].caplen ||
		    r->len != w[i].len || r->dlt != w[i].dlt || r->frame != i + 1 ||
		    r->hash != fnv(w[i].d, w[i].caplen))
			print_error("%s: packet %zu: %ld.%06ld caplen %u len %u dlt %lld frame %llu; "
				    "want %ld.%06ld caplen %u len %u dlt %d\n", what, i + 1, r->sec,
				    r->usec, r->caplen, r->len, (long long)r->dlt,
				    (unsigned long long)r->frame, w[i].sec, w[i].usec, w[i].caplen,
				    w[i].len, w[i].dlt);
		assert_int_equal(r->sec, w[i].sec);
		assert_int_equal(r->usec, w[i].usec);
		assert_int_equal(r->caplen, w[i].caplen);
		assert_int_equal(r->len, w[i].len);
		assert_int_equal(r->dlt, w[i].dlt);
		assert_int_equal(r->frame, i + 1);
		assert_true(r->hash == fnv(w[i].d, w[i].caplen));
	}
}

static const unsigned reader_ways[] = { 0, READER_SINGLE_THREAD, READER_LIBPCAP };

/* A file of two sections (little-, then big-endian) whose interfaces have
 * three link types, three snapshot lengths and three time stamp resolutions
 * (micro, nano with an offset, 2^-20), with every kind of packet block and a
 * block of an unknown type.  libpcap returns its first packet and then
 * refuses the second interface; the reader returns every packet, each with
 * its interface's link type, threaded or not.  Each expected value is
 * written out here, not read back from libpcap. */
static void test_pcapng_mixed(void **state)
{
	char path[256];
	uint8_t eth[60], raw[200], sll[40], pb[72];
	FILE *f;
	struct run ref, run;
	uint64_t seed = 7;

	for (size_t i = 0; i < sizeof(eth); i++)
		eth[i] = (uint8_t)rnd(&seed);
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)rnd(&seed);
	for (size_t i = 0; i < sizeof(sll); i++)
		sll[i] = (uint8_t)rnd(&seed);
	for (size_t i = 0; i < sizeof(pb); i++)
		pb[i] = (uint8_t)rnd(&seed);
	snprintf(path, sizeof(path), "%s/mixed.pcapng", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	ng_shb(f, false);
	ng_idb(f, false, 1, 65535, 0, 0);			/* if 0: EN10MB, micro */
	ng_epb(f, false, false, 0, 1700000000ull * 1000000 + 123456, eth, 60, 60);
	ng_idb(f, false, 101, 128, 9, 1000);			/* if 1: RAW, nano, +1000 s */
	{
		struct ngb k = { .be = false };			/* an unknown block: skipped */

		nb32(&k, 0xdeadbeef);
		nb_write(f, &k, 0x00000BAD);
	}
	ng_epb(f, false, false, 1, 5ull * 1000000000 + 987654321, raw, 100, 1500);
	ng_spb(f, false, eth, 60, 60);				/* on if 0 */
	ng_epb(f, false, true, 1, 7ull * 1000000000 + 999, pb, 72, 72);
	ng_shb(f, true);					/* big-endian from here */
	ng_idb(f, true, 113, 0, 0x94, 0);			/* if 0: LINUX_SLL, 2^-20 */
	ng_epb(f, true, false, 0, (3ull << 20) | (1u << 19), sll, 40, 40);
	fclose(f);

	read_libpcap(path, &ref);
	assert_int_equal(ref.n, 1);
	assert_int_equal(ref.end, -1);
	assert_string_equal(ref.err, "an interface has a type 101 different from the type of "
			    "the first interface");
	free(ref.r);

	const struct want w[] = {
		{ 1700000000, 123456, 60, 60, eth, DLT_EN10MB },
		{ 1005, 987654, 100, 1500, raw, DLT_RAW },	/* ns -> us, truncated */
		{ 0, 0, 60, 60, eth, DLT_EN10MB },		/* a simple block: no time */
		{ 1007, 0, 72, 72, pb, DLT_RAW },
		{ 3, 500000, 40, 40, sll, DLT_LINUX_SLL },
	};
	for (size_t i = 0; i < sizeof(reader_ways) / sizeof(reader_ways[0]); i++) {
		read_reader(path, reader_ways[i], &run);
		assert_int_equal(run.end, 0);
		expect_run(&run, w, 5, "mixed.pcapng");
		assert_int_equal(last_stats.ng_records, 4);
		assert_int_equal(last_stats.ndlts, 3);
		assert_int_equal(last_stats.dlts[0], DLT_EN10MB);
		assert_int_equal(last_stats.dlts[1], DLT_RAW);
		assert_int_equal(last_stats.dlts[2], DLT_LINUX_SLL);
		assert_false(last_stats.more_dlts);
		free(run.r);
	}
}

/* What the pcapng reader refuses, after the packets before it: a packet on
 * an interface its section does not describe (a new section forgets the
 * last one's), a captured length over its interface's snapshot length, and
 * a cut file. */
static void test_pcapng_mixed_errors(void **state)
{
	static const struct {
		const char *name;
		int kind;
		const char *err;
	} cases[] = {
		{ "unknown interface", 0, "a packet arrived on interface 2, but there's no "
		  "Interface Description Block for that interface" },
		{ "interface of the last section", 1, "a packet arrived on interface 1, but "
		  "there's no Interface Description Block for that interface" },
		{ "over the snapshot", 2, "invalid packet capture length 129, bigger than "
		  "snaplen of 128" },
		{ "cut", 3, "runs past the end of the file" },
	};
	uint8_t d[200] = { 0 };

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char path[256];
		struct run run;
		FILE *f;

		snprintf(path, sizeof(path), "%s/err%zu.pcapng", dir, c);
		f = fopen(path, "wb");
		assert_non_null(f);
		ng_shb(f, false);
		ng_idb(f, false, 1, 65535, 0, 0);
		ng_epb(f, false, false, 0, 1, d, 60, 60);
		ng_idb(f, false, 101, 128, 0, 0);		/* libpcap stops here */
		ng_epb(f, false, false, 1, 2, d, 20, 20);
		if (cases[c].kind == 0)
			ng_epb(f, false, false, 2, 3, d, 20, 20);
		if (cases[c].kind == 1) {
			ng_shb(f, false);
			ng_idb(f, false, 1, 65535, 0, 0);
			ng_epb(f, false, false, 1, 3, d, 20, 20);
		}
		if (cases[c].kind == 2)
			ng_epb(f, false, false, 1, 3, d, 129, 129);
		if (cases[c].kind == 3)
			ng_epb(f, false, false, 1, 3, d, 20, 20);
		fclose(f);
		if (cases[c].kind == 3) {
			struct stat st;

			assert_int_equal(stat(path, &st), 0);
			assert_int_equal(truncate(path, st.st_size - 8), 0);
		}
		for (size_t i = 0; i < sizeof(reader_ways) / sizeof(reader_ways[0]); i++) {
			read_reader(path, reader_ways[i], &run);
			if (run.n != 2 || run.end != -1 || !strstr(run.err, cases[c].err))
				print_error("%s: %zu packets, end %d \"%s\"\n", cases[c].name,
					    run.n, run.end, run.err);
			assert_int_equal(run.n, 2);
			assert_int_equal(run.end, -1);
			assert_non_null(strstr(run.err, cases[c].err));
			free(run.r);
		}
	}
}

/* The pcapng reader alone: its packets and end, as a run */
static void read_ngrd(const char *path, struct run *run)
{
	char err[PCAP_ERRBUF_SIZE + 64];
	struct pcap_pkthdr *h;
	const uint8_t *data;
	struct ngrd *g;
	int rc, dlt;

	memset(run, 0, sizeof(*run));
	assert_int_equal(ngrd_open(&g, path, err, sizeof(err)), 0);
	while ((rc = ngrd_next(g, &h, &data, &dlt)) == 1)
		add(run, h, data, run->n + 1, dlt);
	run->end = rc;
	if (rc < 0)
		snprintf(run->err, sizeof(run->err), "%s", ngrd_error(g));
	ngrd_close(g);
}

/* Where libpcap stops, and whether the reader takes over: files whose first
 * part libpcap reads (so the reader passes over libpcap's packets), then
 * what libpcap refuses.  Taken over, the reader gives what the pcapng reader
 * alone gives (which begins with libpcap's packets), each packet with its
 * link type; not taken over, libpcap's packets and very message. */
static void test_pcapng_take_over(void **state)
{
	static const struct {
		const char *name;
		int kind;
		const char *libpcap_err;	/* its message begins so */
		size_t want_n;			/* the reader's packets; 0: libpcap's */
		int dlts[3];
	} cases[] = {
		/* a second capture appended in the other byte order (cat a b):
		 * libpcap reads the new section header's length in the old one */
		{ "appended big-endian file", 0, "pcapng block size ", 3,
		  { DLT_EN10MB, DLT_EN10MB, DLT_EN10MB } },
		{ "snapshot lengths", 1, "an interface has a snapshot length 128 different", 3,
		  { DLT_EN10MB, DLT_EN10MB, DLT_EN10MB } },
		/* USBPCAP's largest snapshot is 1 MiB, not 262,144 */
		{ "USBPCAP then Ethernet", 2, "an interface has a type 1 different", 3,
		  { DLT_USBPCAP, DLT_USBPCAP, DLT_EN10MB } },
		/* file numbers that are not DLT_ numbers (101 RAW, 100 ATM) */
		{ "ATM then Ethernet", 3, "an interface has a type 1 different", 3,
		  { DLT_ATM_RFC1483, DLT_ATM_RFC1483, DLT_EN10MB } },
		/* libpcap compares the file's number 101 with DLT_RAW (12) */
		{ "two raw interfaces", 4, "an interface has a type 101 different", 3,
		  { DLT_RAW, DLT_RAW, DLT_RAW } },
		/* not a difference of interfaces: libpcap's message stands (a
		 * block over libpcap's 16 MiB is fine by the pcapng reader, but
		 * that alone is no reason to take over) */
		{ "trailer mismatch", 5, "block total length in header", 0, { 0 } },
		{ "block over 16 MiB", 6, "pcapng block size ", 0, { 0 } },
	};
	static uint8_t d[300000];

	for (size_t i = 0; i < sizeof(d); i++)
		d[i] = (uint8_t)(i * 7);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char path[256];
		struct run ref, ngr, run;
		int k = cases[c].kind;
		FILE *f;

		snprintf(path, sizeof(path), "%s/over%zu.pcapng", dir, c);
		f = fopen(path, "wb");
		assert_non_null(f);
		ng_shb(f, false);
		ng_idb(f, false, k == 2 ? 249 : k == 3 ? 100 : k == 4 ? 101 : 1,
		       k == 2 ? 0 : 65535, 0, 0);
		ng_epb(f, false, false, 0, 1, d, k == 2 ? 300000 : 60, k == 2 ? 300000 : 60);
		ng_epb(f, false, false, 0, 2, d + 1, 60, 60);	/* libpcap returns two */
		if (k == 0) {
			ng_shb(f, true);
			ng_idb(f, true, 1, 65535, 0, 0);
		} else if (k == 1) {
			ng_idb(f, false, 1, 128, 0, 0);
		} else if (k == 2 || k == 3) {
			ng_idb(f, false, 1, 65535, 0, 0);
		} else if (k == 4) {
			ng_idb(f, false, 101, 65535, 0, 0);
		} else if (k == 5) {
			struct ngb b = { .be = false };

			nb32(&b, 0);
			nb_write(f, &b, 0xBAD);
			fseek(f, -4, SEEK_CUR);	/* its trailer says 4 more */
			nb32(&b, 20);
			fwrite(b.b, 1, 4, f);
		} else if (k == 6) {
			static uint8_t big[(16u << 20) + 64];
			struct ngb b = { .be = false };

			nb32(&b, 0xBAD);
			nb32(&b, (uint32_t)sizeof(big) + 12);
			fwrite(b.b, 1, b.n, f);
			fwrite(big, 1, sizeof(big), f);
			b.n = 0;
			nb32(&b, (uint32_t)sizeof(big) + 12);
			fwrite(b.b, 1, b.n, f);
			ng_epb(f, false, false, 0, 3, d + 2, 40, 40);	/* no difference */
		}
		if (k <= 4)
			ng_epb(f, k == 0, false, k == 0 ? 0 : 1, 3, d + 2, 40, 40);
		fclose(f);

		read_libpcap(path, &ref);
		if (ref.end != -1 || ref.n != 2 ||
		    strncmp(ref.err, cases[c].libpcap_err, strlen(cases[c].libpcap_err)) != 0)
			print_error("%s: libpcap: %zu packets, end %d \"%s\"\n", cases[c].name, ref.n,
				    ref.end, ref.err);
		assert_int_equal(ref.n, 2);
		assert_int_equal(ref.end, -1);
		assert_true(strncmp(ref.err, cases[c].libpcap_err,
				    strlen(cases[c].libpcap_err)) == 0);
		read_ngrd(path, &ngr);
		for (size_t i = 0; i < sizeof(reader_ways) / sizeof(reader_ways[0]); i++) {
			const struct run *want = cases[c].want_n ? &ngr : &ref;

			read_reader(path, reader_ways[i], &run);
			assert_true(same(want, &run, cases[c].name, path));
			if (cases[c].want_n) {
				assert_int_equal(run.n, cases[c].want_n);
				assert_int_equal(run.end, 0);
				/* libpcap's packets first */
				assert_memory_equal(run.r, ref.r, 2 * sizeof(*ref.r));
				for (size_t j = 0; j < run.n; j++)
					assert_int_equal(run.r[j].dlt, cases[c].dlts[j]);
				assert_int_equal(last_stats.ng_records, cases[c].want_n - 2);
			} else {
				assert_int_equal(last_stats.ng_records, 0);
			}
			free(run.r);
		}
		free(ref.r);
		free(ngr.r);
	}
}

/* Time stamps of every resolution and offset, and section headers before
 * the first interface, which libpcap reads whole: the pcapng reader alone
 * gives libpcap's very time stamps and packets. */
static void test_pcapng_timestamps(void **state)
{
	static const struct {
		uint8_t tsresol;	/* 0: none (microseconds) */
		int64_t tsoffset;
	} ifs[] = {
		{ 0, 0 }, { 0x80 | 0, 0 } /* 2^0 */, { 3, 0 }, { 9, -7 }, { 19, 0 },
		{ 0, -1700000000 }, { 0x80 | 20, 5 }, { 0x80 | 44, 0 }, { 0x80 | 50, -3 },
		{ 0x80 | 63, 0 }, { 1, 0 },
	};
	static const uint64_t ts[] = { 0, 1, 999999, 1000000, 1700000000123456ull,
				       (uint64_t)1 << 40, ((uint64_t)1 << 63) - 1, (uint64_t)1 << 63,
				       ~(uint64_t)0, 0x123456789abcdefull };
	uint8_t d[64] = { 1, 2, 3 };

	for (size_t i = 0; i < sizeof(ifs) / sizeof(ifs[0]); i++) {
		char path[256];
		struct run ref, ngr;
		FILE *f;

		snprintf(path, sizeof(path), "%s/ts%zu.pcapng", dir, i);
		f = fopen(path, "wb");
		assert_non_null(f);
		ng_shb(f, i % 2);
		if (i == 3) {			/* a section header libpcap skips */
			struct ngb b = { .be = true };

			nb32(&b, 0x1A2B3C4D);
			nb16(&b, 2);		/* version 2.0: never looked at */
			nb16(&b, 0);
			nb32(&b, 0xffffffff);
			nb32(&b, 0xffffffff);
			nb_write(f, &b, 0x0A0D0D0A);
		}
		ng_idb(f, i % 2, 1, 65535, ifs[i].tsresol, ifs[i].tsoffset);
		for (size_t t = 0; t < sizeof(ts) / sizeof(ts[0]); t++)
			ng_epb(f, i % 2, t % 3 == 2, 0, ts[t], d, 60, 60);
		ng_spb(f, i % 2, d, 60, 60);
		fclose(f);
		read_libpcap(path, &ref);
		read_ngrd(path, &ngr);
		assert_int_equal(ref.end, 0);
		assert_int_equal(ref.n, sizeof(ts) / sizeof(ts[0]) + 1);
		assert_true(same(&ref, &ngr, "the pcapng reader", path));
		free(ref.r);
		free(ngr.r);
	}
}

/* The pcapng reader alone against libpcap on every pcapng capture of
 * tcpdump's suite (libpcap reads them all): the same packets, the same end. */
static void test_pcapng_reader_corpus(void **state)
{
	unsigned files = 0, packets = 0;
	struct dirent *de;
	const char *d;
	DIR *dp = open_corpus(&d);

	while ((de = readdir(dp))) {
		char path[4096];
		struct run ref, run;

		if (de->d_name[0] == '.' || !strstr(de->d_name, ".pcapng"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", d, de->d_name);
		read_libpcap(path, &ref);
		read_ngrd(path, &run);
		/* libpcap ends each of them cleanly: compare all of it */
		assert_int_equal(ref.end, 0);
		assert_true(same(&ref, &run, "the pcapng reader", path));
		files++;
		packets += (unsigned)ref.n;
		free(ref.r);
		free(run.r);
	}
	closedir(dp);
	print_message("%u pcapng captures (%u packets) read alike\n", files, packets);
	assert_true(files >= 20);
}

/* Every capture of tcpdump's regression suite (../shared), pcap and pcapng. */
static void test_tcpdump_corpus(void **state)
{
	unsigned files = 0, in_blocks = 0;
	struct dirent *de;
	const char *d;
	DIR *dp = open_corpus(&d);

	while ((de = readdir(dp))) {
		char path[4096], err[PCAP_ERRBUF_SIZE];
		pcap_t *pc;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", d, de->d_name);
		pc = pcap_open_offline(path, err);
		if (!pc)
			continue;	/* libpcap refuses the file: so does the reader */
		pcap_close(pc);
		files++;
		in_blocks += check_file(path) > 0;
	}
	closedir(dp);
	print_message("%u captures read alike, %u of them (partly) in blocks\n", files, in_blocks);
	assert_true(files > 300);
	assert_true(in_blocks > 200);
}


/* ---- the reader thread's idle work ---- */

struct idle_ctx {
	pthread_t consumer;
	atomic_uint calls, other_thread;
	unsigned work;		/* steps that do something */
};

static bool idle_fn(void *arg)
{
	struct idle_ctx *x = arg;
	unsigned c = atomic_fetch_add(&x->calls, 1);

	if (!pthread_equal(pthread_self(), x->consumer))
		atomic_fetch_add(&x->other_thread, 1);
	usleep(100);
	return c < x->work;
}

/* reader_set_idle: while the ring is full, the reader thread does the idle
 * work step by step (each step counted in the stats, apart from the wait),
 * stops asking once a step finds nothing to do, and still hands over every
 * packet as libpcap reads it; without a thread it is never called. */
static void test_idle_work(void **state)
{
	struct craft c = { false, false, 2, 4, 262144, DLT_EN10MB };
	char path[256];
	uint64_t seed = 7;
	const unsigned n = 20000;
	struct run ref;
	FILE *f;

	snprintf(path, sizeof(path), "%s/idle.pcap", dir);
	f = craft_open(path, &c);
	for (unsigned i = 0; i < n; i++)
		craft_rec(f, &c, 1700000000u + i, 0, 60 + i % 200, 60 + i % 200, 60 + i % 200, &seed);
	fclose(f);
	read_libpcap(path, &ref);
	assert_int_equal(ref.n, n);
	for (int threaded = 1; threaded >= 0; threaded--) {
		struct idle_ctx x = { .consumer = pthread_self(), .work = 25 };
		struct run run = { 0 };
		struct reader_stats st;
		struct pcap_pkthdr h;
		const uint8_t *d;
		struct reader *rd;
		void *area;
		int rc;

		assert_int_equal(reader_open(&rd, path, threaded ? 0 : READER_SINGLE_THREAD, 64, prep,
					     NULL, run.err, sizeof(run.err)), 0);
		if (threaded && !reader_threaded(rd)) {
			reader_close(rd, NULL);
			print_message("one CPU online: the threaded half is skipped\n");
			continue;
		}
		assert_int_equal(reader_threaded(rd), threaded);
		reader_set_idle(rd, idle_fn, &x);
		while ((rc = reader_next(rd, &h, &d, &area)) == 1) {
			uint64_t frame;
			int dlt;

			memcpy(&frame, area, sizeof(frame));
			memcpy(&dlt, (uint8_t *)area + 8, sizeof(dlt));
			add(&run, &h, d, frame, dlt);
			/* a slow consumer: the ring fills up */
			if (run.n % 512 == 0)
				usleep(2000);
		}
		run.end = rc;
		reader_close(rd, &st);
		assert_true(same(&ref, &run, threaded ? "threaded, idle work" : "single thread", path));
		free(run.r);
		if (!threaded) {
			assert_int_equal(atomic_load(&x.calls), 0);
			assert_int_equal(st.idle_steps, 0);
			continue;
		}
		/* every step that did work counted, one that did not ended
		 * the asking for that wait; all in the reader thread */
		assert_true(st.reader_waits > 0);
		assert_int_equal(st.idle_steps, x.work);
		assert_true(atomic_load(&x.calls) > x.work);
		assert_true(atomic_load(&x.calls) <= x.work + st.reader_waits);
		assert_int_equal(atomic_load(&x.other_thread), atomic_load(&x.calls));
		assert_true(st.idle_s >= x.work * 100e-6);
	}
	free(ref.r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_files),
		cmocka_unit_test(test_longer_than_snapshot),
		cmocka_unit_test(test_longer_than_maximum),
		cmocka_unit_test(test_cut_everywhere),
		cmocka_unit_test(test_left_to_libpcap),
		cmocka_unit_test(test_usb_len_fixup),
		cmocka_unit_test(test_cut_while_read),
		cmocka_unit_test(test_tcpdump_corpus),
		cmocka_unit_test(test_pcapng_mixed),
		cmocka_unit_test(test_pcapng_mixed_errors),
		cmocka_unit_test(test_pcapng_take_over),
		cmocka_unit_test(test_pcapng_timestamps),
		cmocka_unit_test(test_pcapng_reader_corpus),
		cmocka_unit_test(test_idle_work),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
