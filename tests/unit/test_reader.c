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
#include <cmocka.h>
#include <pcap/pcap.h>

#include "../../pcap-replay/reader.h"

/* one packet as read: its header and a hash of its bytes */
struct rec {
	long sec, usec;
	uint32_t caplen, len;
	uint64_t hash, frame;
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

static void add(struct run *run, const struct pcap_pkthdr *h, const uint8_t *d, uint64_t frame)
{
	if (run->n == run->cap) {
		run->cap = run->cap ? run->cap * 2 : 64;
		run->r = realloc(run->r, run->cap * sizeof(*run->r));
		assert_non_null(run->r);
	}
	run->r[run->n++] = (struct rec){ h->ts.tv_sec, h->ts.tv_usec, h->caplen, h->len,
					 fnv(d, h->caplen), frame };
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
		add(run, h, d, run->n + 1);
	run->end = rc == PCAP_ERROR ? -1 : 0;
	if (rc == PCAP_ERROR)
		snprintf(run->err, sizeof(run->err), "%s", pcap_geterr(pc));
	pcap_close(pc);
}

/* prep records the frame number it was given, in the area */
static uint64_t prep(void *arg, const struct pcap_pkthdr *h, const uint8_t *data, uint64_t frame,
		     void *area)
{
	memcpy(area, &frame, sizeof(frame));
	return frame;
}

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

		memcpy(&frame, area, sizeof(frame));
		add(run, &h, d, frame);
	}
	run->end = rc;
	if (rc < 0)
		snprintf(run->err, sizeof(run->err), "%s", reader_error(rd));
	reader_close(rd, &st);
	run->block_records = st.block_records;
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

/* Every capture of tcpdump's regression suite (../shared), pcap and pcapng. */
static void test_tcpdump_corpus(void **state)
{
	const char *dirs[] = { "../shared/data/pcaps/tcpdump", "/work/shared/data/pcaps/tcpdump" };
	unsigned files = 0, in_blocks = 0;
	struct dirent *de;
	const char *d = NULL;
	DIR *dp = NULL;

	for (size_t i = 0; i < 2 && !dp; i++)
		if ((dp = opendir(dirs[i])))
			d = dirs[i];
	if (!dp) {
		print_message("SKIP: %s not found (no shared data in this checkout)\n", dirs[0]);
		skip();
	}
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
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
