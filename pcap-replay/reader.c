/* reader — the capture's packets, read (by the block reader or libpcap, below)
 * in a thread of their own.
 *
 * Reading a capture (libpcap: fread, copy into its buffer) costs about as much
 * as judging a packet whose verdict the flow memo knows, so on a machine with
 * more than one CPU a reader thread runs pcap_next_ex ahead of the replay and
 * hands packets over in batches (BATCH_PACKETS packets or BATCH_BYTES bytes,
 * NBATCHES in flight).  The ring's fill count is an atomic; a side that finds
 * the ring full (the reader) or empty (the replay) spins for up to SPIN_NS
 * before it sleeps on the condition variable: a batch takes ~0.2 ms, and a
 * futex sleep and wake-up cost both CPUs more than that wait (perf: a tenth
 * of the samples sat in the scheduler when each wait slept).
 * The replay consumes them in capture order, exactly as it would consume
 * pcap_next_ex; everything else stays single-threaded.  With one CPU, or with
 * --single-thread, reader_next reads in the replay's thread.
 *
 * Classic pcap files (not pcapng) are read in blocks: pread(2) of CHUNK bytes
 * into the batch's own buffer and the records parsed where they lie, with no
 * copy on the way (stdio's fread copies each packet from its buffer into
 * libpcap's, two calls a packet; the bare libpcap loop spends most of its time
 * there).  libpcap still opens the file and says what it is (link type,
 * snapshot length, byte order, time stamp precision); the block reader takes
 * only what libpcap would return unchanged: the standard 16-byte record
 * header of version 2.4, a record no longer than the snapshot length, whole.
 * At the first record that is anything else (longer than the snapshot, cut by
 * the end of the file, a read error) libpcap takes over at that record's
 * offset (fseeko on its FILE) and says what it says about it: the two read
 * the same packets with the same headers and the same errors, which
 * test_reader checks on every capture of ../shared and on cut and crafted
 * files, and fuzz_reader on whatever the fuzzer makes.  pread, not mmap: a
 * file cut short while it is read gives a short read, not SIGBUS. */
#include "reader.h"
#include "swapio.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#define NBATCHES 4
#define BATCH_PACKETS 1024
#define BATCH_BYTES (1u << 20)
/* stdio's default buffer is 4 KiB: one read(2) per 4 KiB of capture.  64 KiB
 * (still well inside L2) takes a quarter off libpcap's reading time
 * (bench/replay.sh prints the bare loop with either buffer). */
#define READ_BUFFER (64u << 10)
/* The block reader reads this much at a time (the batch's buffer is
 * BATCH_BYTES).  A record longer than MAX_BLOCK_RECORD goes to libpcap: it is
 * libpcap's MAXIMUM_SNAPLEN, the least of its per-link-type maxima
 * (max_snaplen_for_dlt), above which it refuses a record whatever the file's
 * snapshot length says; and at most half a buffer, so that a chunk always
 * fits after a record's bytes. */
#define CHUNK (64u << 10)
#define MAX_BLOCK_RECORD 262144u
_Static_assert(MAX_BLOCK_RECORD + 16 + CHUNK <= BATCH_BYTES, "a record and a chunk fit a buffer");
#ifndef SPIN_NS
#define SPIN_NS 200000
#endif

struct batch {
	size_t n, used;
	struct pcap_pkthdr hdr[BATCH_PACKETS];
	size_t off[BATCH_PACKETS];
	uint64_t hint[BATCH_PACKETS];	/* what prep returned */
	uint8_t *area;			/* BATCH_PACKETS * area_size */
	uint8_t *data;
	size_t cap;
	bool last;			/* the stream ends after this batch */
	int rc;				/* with last: 0 end of file, -1 read error */
	char err[PCAP_ERRBUF_SIZE + 64];
};

/* The block reader's state: buf[0, have) holds the file's bytes from offset
 * base on; the next record starts at buf[pos]. */
struct blk {
	int fd;				/* libpcap's FILE's descriptor (pread only) */
	bool swapped, nsec, eof;
	uint32_t snap;			/* pcap_snapshot */
	uint64_t records;		/* read (for the stats) */
	uint8_t *buf;
	size_t cap, have, pos;
	off_t base;
};

/* The fields each thread writes are on cache lines of their own: a line
 * written by one CPU and read by the other moves between them at each write
 * (the replay's per-packet pos next to the reader's per-packet frame cost
 * more than the spinning). */
struct reader {
	/* set before the thread starts, then only read */
	pcap_t *pd;
	char *path;
	int dlt;			/* the file's (its first interface's) */
	char *iobuf;			/* the FILE's buffer (READ_BUFFER bytes), freed after pcap_close */
	bool threaded;
	uint8_t *sbuf;			/* unthreaded: the block reader's buffer */
	size_t area_size;
	reader_prep_fn prep;
	void *prep_arg;
	reader_idle_fn idle;		/* the thread's work while the ring is full */
	void *idle_arg;
	uint8_t *area;			/* unthreaded: the current packet's */
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* threaded: batches are filled (at tail, by the thread) and consumed (at
	 * head) in ring order; nfull counts the published ones, the one being
	 * consumed included.  A side that waits too long sleeps on cv, having
	 * counted itself in sleepers; the other side wakes it after changing
	 * nfull or stop (both sequentially consistent: either the sleeper sees
	 * the change before it sleeps or the waker sees the sleeper). */
	struct batch b[NBATCHES];
	/* shared, written once a batch */
	_Alignas(64) atomic_uint nfull;
	atomic_bool stop;		/* the consumer is done: the thread ends */
	atomic_int sleepers;
	/* the reader thread's (the replay's when unthreaded); thread_cpu_s is
	 * set as it ends */
	_Alignas(64) uint64_t frame;	/* frames read */
	struct capnext cn;		/* libpcap's packets, or the pcapng reader's */
	int last_dlt;			/* the link type noted last */
	int dlts[READER_MAX_DLTS];	/* the link types of the packets read */
	unsigned ndlts;
	bool more_dlts;
	bool blocks;			/* the block reader reads (until libpcap takes over) */
	bool failed;			/* unthreaded: the hand-over failed, nothing more is read */
	off_t seen_end;			/* the end of the bytes the block reader read, at hand-over */
	struct blk blk;
	unsigned tail;
	uint64_t batches, reader_waits, reader_wait_ns;
	uint64_t idle_steps, idle_ns;	/* idle's work (not in reader_wait_ns) */
	double thread_cpu_s;
	/* the replay's */
	_Alignas(64) unsigned head;
	bool consuming;			/* b[head] is being consumed */
	bool ended;
	size_t pos;
	uint64_t consumer_waits, consumer_wait_ns;
	char err[PCAP_ERRBUF_SIZE + 64];
};

static bool ring_full(struct reader *r)
{
	return atomic_load(&r->nfull) == NBATCHES && !atomic_load(&r->stop);
}

static bool ring_empty(struct reader *r)
{
	return atomic_load(&r->nfull) == 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Waits while busy(r): spinning first, then asleep; adds the time to *ns.
 * With idle, the reader thread first does the idle work, a step at a time,
 * while the wait lasts and there is some (its time is counted apart). */
static void wait_while(struct reader *r, bool (*busy)(struct reader *), uint64_t *ns, bool idle)
{
	uint64_t t0 = now_ns(), w = 0;

	idle = idle && r->idle;
	for (unsigned i = 1; busy(r); i++) {
		if (idle) {
			uint64_t a = now_ns(), b;

			idle = r->idle(r->idle_arg);
			b = now_ns();
			if (idle) {
				r->idle_steps++;
				r->idle_ns += b - a;
				w += a - t0;
				t0 = b;	/* the spin starts again after the work */
				continue;
			}
		}
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
		if (i % 64 == 0 && now_ns() - t0 > SPIN_NS) {
			pthread_mutex_lock(&r->mu);
			atomic_fetch_add(&r->sleepers, 1);
			while (busy(r))
				pthread_cond_wait(&r->cv, &r->mu);
			atomic_fetch_sub(&r->sleepers, 1);
			pthread_mutex_unlock(&r->mu);
			break;
		}
	}
	*ns += w + now_ns() - t0;
}

/* After a change of nfull or stop: wakes the other side if it sleeps. */
static void wake(struct reader *r)
{
	if (atomic_load(&r->sleepers)) {
		pthread_mutex_lock(&r->mu);
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
	}
}

/* The next batch to fill, once the consumer has released it; NULL: stop. */
static struct batch *acquire(struct reader *r)
{
	struct batch *b = NULL;

	if (ring_full(r)) {
		r->reader_waits++;
		wait_while(r, ring_full, &r->reader_wait_ns, true);
	}
	if (!atomic_load(&r->stop))
		b = &r->b[r->tail];
	if (b) {
		b->n = b->used = 0;
		b->last = false;
		b->rc = 0;
		b->err[0] = '\0';
	}
	return b;
}

static void publish(struct reader *r)
{
	r->batches++;
	r->tail = (r->tail + 1) % NBATCHES;
	atomic_fetch_add(&r->nfull, 1);
	wake(r);
}

/* ---- libpcap, and the pcapng reader where libpcap gives up ---- */

void capnext_init(struct capnext *c, pcap_t *pd, const char *path)
{
	memset(c, 0, sizeof(*c));
	c->pd = pd;
	c->path = path;
	c->dlt = pcap_datalink(pd);
}

/* libpcap stopped reading a file: if the file is pcapng and what
 * stopped it is an interface or section that differs from the file's first
 * (libpcap's message may be another: it reads a section header of the
 * other byte order in the first one's, and then sees a block of absurd
 * length), the pcapng reader reads the file from its start, passes over the
 * packets libpcap returned and reads on.  It takes over only when it finds
 * such a block among those between libpcap's last packet and the next one;
 * otherwise libpcap's message stands.  1: taken over, the packet in *h,
 * *data; 0 / -1: the end / an error, taken over; -2: not taken over. */
static int ng_take_over(struct capnext *c, struct pcap_pkthdr **h, const uint8_t **data)
{
	char err[PCAP_ERRBUF_SIZE + 64];
	int rc;

	if (!c->path || strcmp(c->path, "-") == 0 ||
	    ngrd_open(&c->ng, c->path, err, sizeof(err)) < 0)
		return -2;
	for (uint64_t i = 0; i < c->n; i++)
		if (ngrd_next(c->ng, h, data, &c->dlt) != 1 || ngrd_diverged(c->ng))
			goto not_over;
	rc = ngrd_next(c->ng, h, data, &c->dlt);
	if (!ngrd_diverged(c->ng))
		goto not_over;
	c->ng_from = c->n;
	return rc;
not_over:
	ngrd_close(c->ng);
	c->ng = NULL;
	c->dlt = pcap_datalink(c->pd);
	return -2;
}

int capnext_next(struct capnext *c, struct pcap_pkthdr **h, const uint8_t **data)
{
	int rc;

	if (c->failed)
		return -1;
	if (!c->ng) {
		const char *msg;

		rc = pcap_next_ex(c->pd, h, data);
		if (rc == 1) {
			c->n++;
			return 1;
		}
		if (rc != PCAP_ERROR)
			return 0;
		msg = pcap_geterr(c->pd);
		rc = ng_take_over(c, h, data);
		if (rc == -2) {
			snprintf(c->err, sizeof(c->err), "%s", msg);
			c->failed = true;
			return -1;
		}
	} else {
		rc = ngrd_next(c->ng, h, data, &c->dlt);
	}
	if (rc == 1)
		c->n++;
	else if (rc < 0) {
		snprintf(c->err, sizeof(c->err), "%s", ngrd_error(c->ng));
		c->failed = true;
	}
	return rc;
}

const char *capnext_error(const struct capnext *c)
{
	return c->err;
}

int capnext_open(struct capnext *c, const char *path, char *err, size_t errlen)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *pd = pcap_open_offline(path, errbuf);

	if (!pd) {
		snprintf(err, errlen, "%s", errbuf[0] ? errbuf : "unknown error");
		return -1;
	}
	capnext_init(c, pd, path);
	c->owns_pd = true;
	return 0;
}

void capnext_done(struct capnext *c)
{
	ngrd_close(c->ng);
	c->ng = NULL;
	if (c->owns_pd)
		pcap_close(c->pd);
	c->pd = NULL;
}

/* The link types of the packets read, for the stats (a pcapng file's
 * interfaces may differ). */
static inline void note_dlt(struct reader *r, int dlt)
{
	if (__builtin_expect(dlt == r->last_dlt, 1))
		return;
	r->last_dlt = dlt;
	for (unsigned i = 0; i < r->ndlts; i++)
		if (r->dlts[i] == dlt)
			return;
	if (r->ndlts < READER_MAX_DLTS)
		r->dlts[r->ndlts++] = dlt;
	else
		r->more_dlts = true;
}

/* Copies one packet into b and prepares it; false when it does not fit.  The
 * batch's fields are read once: the stores below could alias them. */
static bool batch_add(struct reader *r, struct batch *b, const struct pcap_pkthdr *h,
		      const u_char *data)
{
	size_t n = b->n, used = b->used, len = h->caplen;
	uint8_t *dst;

	if (n == BATCH_PACKETS)
		return false;
	if (used + len > b->cap) {
		uint8_t *nd;

		if (n)			/* full */
			return false;
		/* one packet larger than a batch (used is 0): grow */
		nd = realloc(b->data, len);
		if (!nd)
			return false;
		b->data = nd;
		b->cap = len;
	}
	dst = b->data + used;
	b->hdr[n] = *h;
	b->off[n] = used;
	memcpy(dst, data, len);
	note_dlt(r, r->cn.dlt);
	b->hint[n] = r->prep ? r->prep(r->prep_arg, h, dst, r->cn.dlt, ++r->frame,
				       b->area + n * r->area_size) : 0;
	b->used = used + len;
	b->n = n + 1;
	return true;
}

static uint32_t blk_u32(const struct blk *s, const uint8_t *p)
{
	return swapio32(s->swapped, p);
}

static uint16_t blk_u16(const struct blk *s, const uint8_t *p)
{
	return swapio16(s->swapped, p);
}

/* The next record in s->buf: 1 (h, data), 0 when its bytes are not all read
 * yet (or, with eof and nothing left, the end), -1 when libpcap must read it
 * (longer than the snapshot or than the block reader takes). */
static int blk_record(struct blk *s, struct pcap_pkthdr *h, const uint8_t **data)
{
	size_t avail = s->have - s->pos;
	const uint8_t *p = s->buf + s->pos;
	uint32_t caplen;

	if (avail < 16)
		return 0;
	caplen = blk_u32(s, p + 8);
	if (caplen > s->snap || caplen > MAX_BLOCK_RECORD)
		return -1;
	if (avail - 16 < caplen)
		return 0;
	/* as libpcap converts them: its 32-bit fields are signed in the
	 * file's own byte order, and swapped ones come out unsigned */
	if (s->swapped) {
		h->ts.tv_sec = (time_t)blk_u32(s, p);
		h->ts.tv_usec = (suseconds_t)blk_u32(s, p + 4);
	} else {
		h->ts.tv_sec = (time_t)(int32_t)blk_u32(s, p);
		h->ts.tv_usec = (suseconds_t)(int32_t)blk_u32(s, p + 4);
	}
	if (s->nsec)
		h->ts.tv_usec /= 1000;
	h->caplen = caplen;
	h->len = blk_u32(s, p + 12);
	*data = p + 16;
	s->pos += 16 + (size_t)caplen;
	s->records++;
	return 1;
}

/* Reads up to CHUNK more bytes after buf[have] (there is room): false on a
 * read error (libpcap takes over and reports it).  At the end, s->eof. */
static bool blk_read_more(struct blk *s)
{
	size_t room = s->cap - s->have;
	ssize_t n;

	do
		n = pread(s->fd, s->buf + s->have, room < CHUNK ? room : CHUNK,
			  s->base + (off_t)s->have);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return false;
	s->eof = n == 0;
	s->have += (size_t)n;
	return true;
}

/* Moves the bytes not parsed yet to the start of buf (s->buf itself, or
 * another buffer) and reads more after them. */
static bool blk_refill(struct blk *s, uint8_t *buf, size_t cap)
{
	size_t left = s->have - s->pos;

	if (left)
		memmove(buf, s->buf + s->pos, left);
	s->base += (off_t)s->pos;
	s->buf = buf;
	s->cap = cap;
	s->have = left;
	s->pos = 0;
	return blk_read_more(s);
}

/* The next record, reading more as needed: 1 (h, data), 0 at the end, -1
 * when libpcap must take over at buf[pos] (a record the block reader does not
 * take, one the end of the file cuts, a read error), 2 when more bytes are
 * needed and there is no room after them while the caller's packets lie in
 * s->buf (!can_move): the caller moves on to another buffer (blk_refill). */
static int blk_get(struct blk *s, struct pcap_pkthdr *h, const uint8_t **data, bool can_move)
{
	for (;;) {
		int rc = blk_record(s, h, data);

		if (rc)
			return rc;
		if (s->eof)
			return s->pos < s->have ? -1 : 0;
		/* a chunk fits after the bytes left, or they move to the front
		 * (a record is at most half the buffer: a chunk fits then) */
		if (s->cap - s->have >= CHUNK) {
			if (!blk_read_more(s))
				return -1;
		} else if (!can_move) {
			return 2;
		} else if (!blk_refill(s, s->buf, s->cap)) {
			return -1;
		}
	}
}

/* From here on libpcap reads, from the record at buf[pos]; false (err
 * written) when it cannot seek there. */
static bool blk_hand_over(struct reader *r, char *err, size_t errlen)
{
	r->blocks = false;
	r->seen_end = r->blk.base + (off_t)r->blk.have;
	if (fseeko(pcap_file(r->pd), r->blk.base + (off_t)r->blk.pos, SEEK_SET) == 0)
		return true;
	snprintf(err, errlen, "cannot seek in the capture: %s", strerror(errno));
	return false;
}

/* At libpcap's end of the file after a hand-over: false (err written) when
 * the file now ends before bytes the block reader read, which a capture cut
 * while it was read leaves; libpcap would see a clean end there and the cut
 * record would go unsaid. */
static bool blk_end_ok(struct reader *r, char *err, size_t errlen)
{
	off_t at = r->seen_end ? ftello(pcap_file(r->pd)) : 0;
	struct stat st;

	if (!r->seen_end || at < 0 || at >= r->seen_end)
		return true;
	/* (libpcap's position is where it sought to when the file now ends
	 * before it: the size says where it ends) */
	if (fstat(r->blk.fd, &st) == 0 && st.st_size < at)
		at = st.st_size;
	snprintf(err, errlen, "the capture was cut while it was read: it is %lld bytes long now, "
		 "%lld had been read", (long long)at, (long long)r->seen_end);
	return false;
}

/* Whether the block reader can read this capture (see the top): libpcap has
 * opened it and read its header. */
static bool blk_usable(struct reader *r)
{
	FILE *f = pcap_file(r->pd);
	uint8_t hdr[24];
	uint32_t magic;
	struct stat st;
	int fd;

	if (!f || (fd = fileno(f)) < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
		return false;
	memcpy(&magic, hdr, 4);
	r->blk.swapped = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
	if (r->blk.swapped)
		magic = __builtin_bswap32(magic);
	if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d)
		return false;
	/* version 2.4: the record header libpcap reads as it is (2.3 and
	 * older may have caplen and len swapped) */
	if (blk_u16(&r->blk, hdr + 4) != 2 || blk_u16(&r->blk, hdr + 6) != 4 ||
	    r->blk.swapped != (pcap_is_swapped(r->pd) == 1) ||
	    pcap_get_tstamp_precision(r->pd) != PCAP_TSTAMP_PRECISION_MICRO ||
	    pcap_snapshot(r->pd) <= 0)
		return false;
	/* Only the link types pcap-replay decodes, of which libpcap changes no
	 * record after reading it: it fixes up some link types' records whatever
	 * the byte order (pcap_post_process: a Linux USB isochronous event's
	 * len, which the reader's review found), and swaps the pseudo-headers of
	 * byte-swapped files of others (swap_pseudo_headers: Linux USB, NFLOG,
	 * and the CAN ID after a cooked header, which fuzz_reader found). */
	switch (pcap_datalink(r->pd)) {
	case DLT_EN10MB: case DLT_RAW: case DLT_IPV4: case DLT_IPV6:
	case DLT_NULL: case DLT_LOOP:
		break;
	case DLT_LINUX_SLL: case DLT_LINUX_SLL2:
		if (!r->blk.swapped)
			break;
		return false;
	default:
		return false;
	}
	r->blk.nsec = magic == 0xa1b23c4d;
	r->blk.fd = fd;
	r->blk.snap = (uint32_t)pcap_snapshot(r->pd);
	r->blk.base = 24;
	return true;
}

/* The block reader in the reader thread: fills batches until the end (NULL:
 * published) or until libpcap must take over (the batch to go on with), or
 * NULL when the replay stopped.  The batch's packets lie in its buffer: the
 * bytes after them move only into the next batch's. */
static struct batch *read_blocks(struct reader *r, struct batch *b)
{
	struct blk *s = &r->blk;
	struct pcap_pkthdr h;
	const uint8_t *data;

	s->buf = b->data;
	s->cap = b->cap;
	for (;;) {
		/* (the bytes may move to the front while no packet is in the way) */
		int rc = blk_get(s, &h, &data, b->n == 0);

		if (rc == 1) {
			size_t n = b->n;

			b->hdr[n] = h;
			b->off[n] = (size_t)(data - b->data);
			note_dlt(r, r->dlt);
			b->hint[n] = r->prep ? r->prep(r->prep_arg, &h, data, r->dlt, ++r->frame,
						       b->area + n * r->area_size) : 0;
			b->n = n + 1;
			if (b->n < BATCH_PACKETS)
				continue;
		} else if (rc == 0) {
			b->last = true;
			publish(r);
			return NULL;
		} else if (rc < 0) {
			break;		/* libpcap reads (and judges) this record */
		}
		/* the batch is full, or its buffer: the rest goes to the next */
		publish(r);
		b = acquire(r);
		if (!b)
			return NULL;
		if (!blk_refill(s, b->data, b->cap))
			break;
	}
	b->used = s->pos;		/* libpcap's packets go after these */
	if (blk_hand_over(r, b->err, sizeof(b->err)))
		return b;
	b->last = true;
	b->rc = -1;
	publish(r);
	return NULL;
}

static void read_batches(struct reader *r)
{
	struct batch *b = acquire(r);
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc = 0;

	if (b && r->blocks)
		b = read_blocks(r, b);
	/* one call of batch_add, which is then inlined into the loop */
	while (b && (rc = capnext_next(&r->cn, &h, &data)) == 1) {
		bool added;

		while (!(added = batch_add(r, b, h, data)) && b->n) {
			publish(r);	/* full: this packet starts the next one */
			b = acquire(r);
			if (!b)
				return;
		}
		if (!added) {		/* it does not fit an empty batch */
			snprintf(b->err, sizeof(b->err), "out of memory for a %u-byte packet",
				 h->caplen);
			rc = -1;
			break;
		}
	}
	if (!b)
		return;
	b->last = true;
	if (rc < 0) {
		b->rc = -1;
		if (!b->err[0])
			snprintf(b->err, sizeof(b->err), "%s", capnext_error(&r->cn));
	} else if (!blk_end_ok(r, b->err, sizeof(b->err))) {
		b->rc = -1;
	}
	publish(r);
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct timespec ts;

	read_batches(r);
	/* read by reader_close after the join */
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
		r->thread_cpu_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	return NULL;
}

static bool want_thread(bool single)
{
	return !single && sysconf(_SC_NPROCESSORS_ONLN) > 1;
}

int reader_open(struct reader **out, const char *path, unsigned flags, size_t area_size,
		reader_prep_fn prep, void *prep_arg, char *err, size_t errlen)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct reader *r = aligned_alloc(_Alignof(struct reader), sizeof(*r));

	*out = NULL;
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(r, 0, sizeof(*r));
	if (strcmp(path, "-") == 0) {
		r->pd = pcap_open_offline(path, errbuf);
	} else {
		/* as pcap_open_offline does, with a larger stdio buffer */
		FILE *f = fopen(path, "rb");

		if (!f) {
			snprintf(errbuf, sizeof(errbuf), "%s: %s", path, strerror(errno));
		} else {
			r->iobuf = malloc(READ_BUFFER);
			if (r->iobuf)
				setvbuf(f, r->iobuf, _IOFBF, READ_BUFFER);
			r->pd = pcap_fopen_offline(f, errbuf);
			if (!r->pd)
				fclose(f);
		}
	}
	if (!r->pd) {
		snprintf(err, errlen, "%s", errbuf[0] ? errbuf : "unknown error");
		free(r->iobuf);
		free(r);
		return -1;
	}
	/* One thread at a time reads the file (the reader thread, or the replay
	 * without one; the join orders them): stdio's own lock, taken twice a
	 * packet once the process has a second thread, only costs time. */
	if (pcap_file(r->pd))
		__fsetlocking(pcap_file(r->pd), FSETLOCKING_BYCALLER);
	r->dlt = pcap_datalink(r->pd);
	r->last_dlt = -1;
	r->path = strdup(path);
	capnext_init(&r->cn, r->pd, r->path);
	r->area_size = (area_size + 15) & ~(size_t)15;
	r->prep = prep;
	r->prep_arg = prep_arg;
	r->area = calloc(1, r->area_size ? r->area_size : 1);
	if (!r->area || !r->path) {
		snprintf(err, errlen, "out of memory");
		free(r->area);
		pcap_close(r->pd);
		free(r->iobuf);
		free(r->path);
		free(r);
		return -1;
	}
	r->blocks = !(flags & READER_LIBPCAP) && blk_usable(r);
	r->threaded = want_thread(flags & READER_SINGLE_THREAD);
	for (unsigned i = 0; r->threaded && i < NBATCHES; i++) {
		r->b[i].data = malloc(BATCH_BYTES);
		r->b[i].cap = BATCH_BYTES;
		/* on line boundaries: a 256-byte area is four lines, not five */
		r->b[i].area = aligned_alloc(64, (BATCH_PACKETS * r->area_size + 63) & ~(size_t)63);
		if (r->b[i].area)
			memset(r->b[i].area, 0, BATCH_PACKETS * r->area_size);
		if (!r->b[i].data || !r->b[i].area)
			r->threaded = false;
	}
	*out = r;
	return 0;
}

/* The reader thread starts with the first reader_next. */
static void start(struct reader *r)
{
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (pthread_create(&r->thread, NULL, reader_main, r) == 0) {
		r->started = true;
	} else {
		pthread_mutex_destroy(&r->mu);
		pthread_cond_destroy(&r->cv);
		r->threaded = false;
	}
}

static int spool_tmpfile(const char *dir)
{
	char tmpl[4096];
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	/* a file system without O_TMPFILE: a named file, unlinked at once */
	if (snprintf(tmpl, sizeof(tmpl), "%s/pcap-replay.XXXXXX", dir) >= (int)sizeof(tmpl)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd >= 0)
		unlink(tmpl);
	return fd;
}

int reader_spool(const char *path, char **open_path, char *err, size_t errlen)
{
	const char *dir = getenv("TMPDIR");
	bool is_stdin = strcmp(path, "-") == 0;
	int in = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	int out = -1, rc = -1, check;
	struct stat st;
	char *buf = NULL, name[64];

	*open_path = NULL;
	if (in < 0)
		return 0;
	if (fstat(in, &st) == 0 && S_ISREG(st.st_mode) && !is_stdin) {
		close(in);
		return 0;
	}
	if (!dir || !*dir)
		dir = "/tmp";
	out = spool_tmpfile(dir);
	if (out < 0) {
		snprintf(err, errlen, "%s: cannot make a temporary copy in %s: %s",
			 is_stdin ? "standard input" : path, dir, strerror(errno));
		goto done;
	}
	buf = malloc(1u << 20);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (;;) {
		ssize_t n = read(in, buf, 1u << 20);

		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: cannot read: %s",
				 is_stdin ? "standard input" : path, strerror(errno));
			goto done;
		}
		for (ssize_t w = 0; w < n;) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				snprintf(err, errlen, "%s: cannot copy into a temporary file in "
					 "%s: %s", is_stdin ? "standard input" : path, dir,
					 k < 0 ? strerror(errno) : "short write");
				goto done;
			}
			w += k;
		}
	}
	snprintf(name, sizeof(name), "/proc/self/fd/%d", out);
	check = open(name, O_RDONLY | O_CLOEXEC);
	if (check < 0) {
		snprintf(err, errlen, "%s: cannot reopen its temporary copy as %s: %s",
			 is_stdin ? "standard input" : path, name, strerror(errno));
		goto done;
	}
	close(check);
	*open_path = strdup(name);
	if (!*open_path) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	rc = 1;
	out = -1;		/* stays open: the copy lives as long as the process */
done:
	free(buf);
	if (out >= 0)
		close(out);
	if (!is_stdin)
		close(in);
	return rc;
}

int reader_datalink(const struct reader *r)
{
	return r->dlt;
}

/* The block reader without a thread: 1, 0 at the end, -1 when libpcap
 * takes over (now), -2 when it cannot (r->err says why). */
static int blk_next(struct reader *r, struct pcap_pkthdr *h, const uint8_t **data)
{
	struct blk *s = &r->blk;

	if (!s->buf) {
		r->sbuf = malloc(BATCH_BYTES);
		if (!r->sbuf)
			return blk_hand_over(r, r->err, sizeof(r->err)) ? -1 : -2;
		s->buf = r->sbuf;
		s->cap = BATCH_BYTES;
	}
	/* the packet returned last is done with: its bytes may go */
	int rc = blk_get(s, h, data, true);

	if (rc >= 0)
		return rc;
	return blk_hand_over(r, r->err, sizeof(r->err)) ? -1 : -2;
}

int reader_next(struct reader *r, struct pcap_pkthdr *h, const uint8_t **data, void **area)
{
	if (r->threaded && !r->started)
		start(r);
	/* (failed is on the reader thread's lines, which it writes at each
	 * packet: the threaded replay never reads it) */
	if (!r->threaded && r->failed)
		return -1;
	if (!r->threaded && r->blocks) {
		struct pcap_pkthdr bh;
		const uint8_t *bd;
		int rc = blk_next(r, &bh, &bd);

		if (rc == 1) {
			note_dlt(r, r->dlt);
			if (r->prep)
				r->prep(r->prep_arg, &bh, bd, r->dlt, ++r->frame, r->area);
			if (h)
				*h = bh;
			if (data)
				*data = bd;
			*area = r->area;
			return 1;
		}
		if (rc == -2)
			r->failed = true;
		if (rc != -1)
			return rc == 0 ? 0 : -1;
	}
	if (!r->threaded) {
		struct pcap_pkthdr *ph;
		const u_char *d;
		int rc = capnext_next(&r->cn, &ph, &d);

		if (rc == 1) {
			if (h)
				*h = *ph;
			if (data)
				*data = d;
			note_dlt(r, r->cn.dlt);
			if (r->prep)
				r->prep(r->prep_arg, ph, d, r->cn.dlt, ++r->frame, r->area);
			*area = r->area;
			return 1;
		}
		if (rc < 0) {
			snprintf(r->err, sizeof(r->err), "%s", capnext_error(&r->cn));
			return -1;
		}
		if (!blk_end_ok(r, r->err, sizeof(r->err))) {
			r->failed = true;
			return -1;
		}
		return 0;
	}
	for (;;) {
		struct batch *b = &r->b[r->head];

		if (r->ended)
			return r->err[0] ? -1 : 0;
		if (r->consuming && r->pos < b->n) {
			/* (lines the reader's CPU wrote: read only when asked for) */
			if (h)
				*h = b->hdr[r->pos];
			if (data)
				*data = b->data + b->off[r->pos];
			*area = b->area + r->pos * r->area_size;
			/* a packet a few ahead: the reader thread wrote it from
			 * another CPU's cache */
			if (r->pos + 4 < b->n) {
				const uint8_t *a = b->area + (r->pos + 4) * r->area_size;

				for (size_t o = 0; o < r->area_size; o += 64)
					__builtin_prefetch(a + o);
			}
			/* the hints reader_peek_hint reads 12 ahead: their line
			 * (eight hints) on its way well before */
			if (!(r->pos & 7) && r->pos + 32 < b->n)
				__builtin_prefetch(&b->hint[r->pos + 32]);
			r->pos++;
			return 1;
		}
		if (r->consuming) {		/* done with it: back to the reader */
			if (b->last) {
				r->ended = true;
				if (b->rc < 0)
					snprintf(r->err, sizeof(r->err), "%s", b->err);
			}
			r->consuming = false;
			r->head = (r->head + 1) % NBATCHES;
			atomic_fetch_sub(&r->nfull, 1);
			wake(r);
			if (r->ended)
				continue;
		}
		if (ring_empty(r)) {
			r->consumer_waits++;
			wait_while(r, ring_empty, &r->consumer_wait_ns, false);
		}
		r->consuming = true;
		r->pos = 0;
	}
}

uint64_t reader_peek_hint(const struct reader *r, unsigned ahead)
{
	const struct batch *b = &r->b[r->head];
	size_t i = r->pos - 1 + ahead;

	if (!r->threaded || !r->consuming || !r->pos || i >= b->n)
		return 0;
	return b->hint[i];
}

bool reader_threaded(const struct reader *r)
{
	return r->threaded;
}

void reader_set_idle(struct reader *r, reader_idle_fn fn, void *arg)
{
	r->idle = fn;
	r->idle_arg = arg;
}

const char *reader_error(const struct reader *r)
{
	return r->err;
}

void reader_close(struct reader *r, struct reader_stats *st)
{
	if (st)
		memset(st, 0, sizeof(*st));
	if (!r)
		return;
	if (r->started) {
		atomic_store(&r->stop, true);
		wake(r);
		pthread_join(r->thread, NULL);
		pthread_mutex_destroy(&r->mu);
		pthread_cond_destroy(&r->cv);
		if (st)
			*st = (struct reader_stats){
				.threaded = true, .thread_cpu_s = r->thread_cpu_s,
				.batches = r->batches, .reader_waits = r->reader_waits,
				.consumer_waits = r->consumer_waits,
				.reader_wait_s = (double)r->reader_wait_ns / 1e9,
				.idle_steps = r->idle_steps,
				.idle_s = (double)r->idle_ns / 1e9,
				.consumer_wait_s = (double)r->consumer_wait_ns / 1e9,
			};
	}
	if (st) {		/* (the thread has ended) */
		st->block_records = r->blk.records;
		st->ng_records = r->cn.ng ? r->cn.n - r->cn.ng_from : 0;
		memcpy(st->dlts, r->dlts, sizeof(st->dlts));
		st->ndlts = r->ndlts;
		st->more_dlts = r->more_dlts;
	}
	capnext_done(&r->cn);
	for (unsigned i = 0; i < NBATCHES; i++) {
		free(r->b[i].data);
		free(r->b[i].area);
	}
	free(r->area);
	free(r->sbuf);
	pcap_close(r->pd);		/* closes the FILE */
	free(r->iobuf);
	free(r->path);
	free(r);
}
