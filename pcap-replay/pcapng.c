/* pcapng — the direction of each packet of a pcapng file, from the
 * Enhanced Packet Blocks' epb_flags option, which libpcap does not expose.
 *
 * A second, independent walk over the file's blocks (pcapng spec,
 * draft-ietf-opsawg-pcapng): Section Header Block (byte-order magic, per
 * section), Interface Description Blocks (counted, per section), Enhanced
 * Packet Blocks (interface id, captured length, data padded to 32 bits, then
 * options: code 2 = epb_flags, 4 bytes, bits 0-1: 01 inbound, 10 outbound),
 * Simple Packet Blocks and obsolete Packet Blocks (packets, no direction).
 * The n-th packet block is the n-th packet libpcap returns.
 *
 * Every length is checked against the block and the block against the file
 * before anything is read; on any inconsistency the whole answer is dropped
 * (a warning says why) and the replay falls back to --local. */
#include "replay.h"
#include "reader.h"
#include "swapio.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 0x00000001u
#define BT_PB 0x00000002u	/* obsolete Packet Block */
#define BT_SPB 0x00000003u
#define BT_EPB 0x00000006u
#define BOM 0x1A2B3C4Du
/* larger than any block libpcap accepts (its largest snapshot, D-Bus's
 * 128 MiB, and a packet block's fields and options) */
#define MAX_BLOCK ((128u << 20) + (256u << 10))
#define OPT_EPB_FLAGS 2

/* The file is read in large chunks and walked in place (blocks are a few
 * hundred bytes: reading each through stdio copied every byte twice). */
#define CHUNK (1u << 20)

struct rd {
	int fd;
	bool swap;		/* the current section's byte order is not this host's */
	bool first;		/* no block read yet */
	bool as_libpcap;	/* the file's first block checked as libpcap checks it */
	uint8_t *buf;
	size_t cap, have, pos;	/* bytes in buf; the walk's position in them */
	size_t cur;		/* the length of the block returned last (at pos) */
	uint64_t off;		/* the file offset of buf[pos] */
	bool eof, err;
};

/* Makes need bytes from the position on available (fewer only at the end
 * of the file or on a read error); returns how many are. */
static size_t fill(struct rd *r, size_t need)
{
	while (r->have - r->pos < need && !r->eof && !r->err) {
		ssize_t got;

		if (r->pos) {
			memmove(r->buf, r->buf + r->pos, r->have - r->pos);
			r->have -= r->pos;
			r->pos = 0;
		}
		if (r->cap < need || r->cap - r->have < CHUNK / 4) {
			size_t ncap = r->cap ? r->cap : CHUNK;
			uint8_t *nb;

			while (ncap < need || ncap - r->have < CHUNK / 4)
				ncap *= 2;
			nb = realloc(r->buf, ncap);
			if (!nb) {
				r->err = true;
				break;
			}
			r->buf = nb;
			r->cap = ncap;
		}
		got = read(r->fd, r->buf + r->have, r->cap - r->have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			r->err = true;
		else if (got == 0)
			r->eof = true;
		else
			r->have += (size_t)got;
	}
	return r->have - r->pos < need ? r->have - r->pos : need;
}

static uint32_t get32(const struct rd *r, const uint8_t *b)
{
	return swapio32(r->swap, b);
}

static uint16_t get16(const struct rd *r, const uint8_t *b)
{
	return swapio16(r->swap, b);
}

/* Direction bits of the options in [o, end); 0 when absent.  -1: options
 * that run past the block. */
static int epb_dir(const struct rd *r, const uint8_t *o, const uint8_t *end)
{
	int dir = 0;

	while (o < end) {
		uint16_t code, len;
		size_t padded;

		if (end - o < 4)
			return -1;
		code = get16(r, o);
		len = get16(r, o + 2);
		if (code == 0)		/* opt_endofopt */
			return dir;
		padded = ((size_t)len + 3) & ~(size_t)3;
		if ((size_t)(end - o - 4) < padded)
			return -1;
		if (code == OPT_EPB_FLAGS) {
			if (len != 4)
				return -1;
			switch (get32(r, o + 4) & 3) {
			case 1: dir = 1; break;	/* inbound */
			case 2: dir = 2; break;	/* outbound */
			default: dir = 0; break;
			}
		}
		o += 4 + padded;
	}
	return dir;
}

/* The next block of the file: 1 with its type and body (*b: after the fields
 * the walk reads itself — type and length, and for a Section Header Block its
 * byte-order magic; *body bytes, before the trailer), 0 at a clean end of the
 * file, -2 when the file is not pcapng (its first block), -1 with warn.  Every
 * length is checked against the block and the block against the file; a new
 * section's byte order is taken from its magic.  The bytes stay valid until
 * the next call. */
static int next_block(struct rd *r, uint32_t *type_out, const uint8_t **b_out,
		      uint32_t *body_out, char *warn, size_t warnlen)
{
	size_t got;
	const uint8_t *hdr;
	uint32_t type, len, body, trail;
	/* (libpcap checks neither the first section header's trailer nor
	 * whether its length is a multiple of 4) */
	bool lib_first = r->as_libpcap && r->first;

	r->pos += r->cur;	/* the block returned last */
	r->off += r->cur;
	r->cur = 0;
	got = fill(r, 8);
	hdr = r->buf + r->pos;
	if (r->err) {
		snprintf(warn, warnlen, "cannot read the file at offset %llu",
			 (unsigned long long)r->off);
		return -1;
	}
	if (got == 0 && !r->first)
		return 0;		/* clean end of file */
	if (got < 8) {
		if (r->first)
			return -2;
		snprintf(warn, warnlen, "truncated block header at offset %llu",
			 (unsigned long long)r->off);
		return -1;
	}
	memcpy(&type, hdr, 4);	/* the SHB type reads the same in both orders */
	if (type == BT_SHB) {
		uint32_t bom;

		if (fill(r, 12) != 12) {
			if (r->first)
				return -2;
			snprintf(warn, warnlen, "truncated section header at offset %llu",
				 (unsigned long long)r->off);
			return -1;
		}
		hdr = r->buf + r->pos;
		memcpy(&bom, hdr + 8, 4);
		if (bom == BOM)
			r->swap = false;
		else if (__builtin_bswap32(bom) == BOM)
			r->swap = true;
		else if (r->first)
			return -2;
		else {
			snprintf(warn, warnlen, "bad byte-order magic at offset %llu",
				 (unsigned long long)r->off);
			return -1;
		}
		len = get32(r, hdr + 4);
		if (len < 28 || (len % 4 && !lib_first) || len > MAX_BLOCK) {
			snprintf(warn, warnlen, "section header at offset %llu has length %u",
				 (unsigned long long)r->off, len);
			return -1;
		}
		body = len - 16;	/* after type, length, magic; before the trailer */
	} else {
		if (r->first)
			return -2;
		type = get32(r, hdr);
		len = get32(r, hdr + 4);
		if (len < 12 || len % 4 || len > MAX_BLOCK) {
			snprintf(warn, warnlen, "block 0x%08x at offset %llu has length %u",
				 type, (unsigned long long)r->off, len);
			return -1;
		}
		body = len - 12;	/* after type and length; before the trailer */
	}
	r->first = false;
	if (fill(r, len) != len) {
		if (r->err)
			snprintf(warn, warnlen, "cannot read the file at offset %llu",
				 (unsigned long long)r->off);
		else
			snprintf(warn, warnlen, "block 0x%08x at offset %llu runs past the "
				 "end of the file", type, (unsigned long long)r->off);
		return -1;
	}
	*b_out = r->buf + r->pos + (type == BT_SHB ? 12 : 8);
	trail = get32(r, *b_out + body);
	if (trail != len && !lib_first) {
		snprintf(warn, warnlen, "block 0x%08x at offset %llu: trailing length %u, "
			 "leading %u", type, (unsigned long long)r->off, trail, len);
		return -1;
	}
	r->cur = len;
	*type_out = type;
	*body_out = body;
	return 1;
}

/* Opens path for a walk: 0, or -1 when it cannot be opened or is not a
 * regular file (a pipe or a device would be read by the walk, not by its
 * reader). */
static int rd_open(struct rd *r, const char *path)
{
	struct stat st;

	memset(r, 0, sizeof(*r));
	r->first = true;
	r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (r->fd < 0)
		return -1;
	if (fstat(r->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(r->fd);
		r->fd = -1;
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static void rd_close(struct rd *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	r->fd = -1;
	r->buf = NULL;
}

int pcapng_directions(const char *path, uint8_t **dirs_out, size_t *n_out, size_t *nknown_out,
		      char *warn, size_t warnlen)
{
	struct rd r;
	uint8_t *dirs = NULL;
	size_t n = 0, cap = 0, nknown = 0;
	uint64_t nifaces = 0;
	int rc = -1, brc;
	uint32_t type, body;
	const uint8_t *b;

	*dirs_out = NULL;
	*n_out = 0;
	*nknown_out = 0;
	warn[0] = '\0';
	if (rd_open(&r, path) < 0)
		return 0;	/* libpcap reports unreadable files */
	while ((brc = next_block(&r, &type, &b, &body, warn, warnlen)) == 1) {
		uint64_t off = r.off;

		if (type == BT_SHB) {
			nifaces = 0;
		} else if (type == BT_IDB) {
			nifaces++;
		} else if (type == BT_EPB || type == BT_SPB || type == BT_PB) {
			int dir = 0;

			if (type == BT_EPB) {
				uint32_t ifid, caplen;
				size_t padded;

				if (body < 20) {
					snprintf(warn, warnlen, "packet block at offset %llu is too "
						 "short", (unsigned long long)off);
					goto out;
				}
				ifid = get32(&r, b);
				caplen = get32(&r, b + 12);
				padded = ((size_t)caplen + 3) & ~(size_t)3;
				if (ifid >= nifaces || padded > body - 20) {
					snprintf(warn, warnlen, "packet block at offset %llu: %s",
						 (unsigned long long)off, ifid >= nifaces ?
						 "unknown interface" : "captured length past the block");
					goto out;
				}
				dir = epb_dir(&r, b + 20 + padded, b + body);
				if (dir < 0) {
					snprintf(warn, warnlen, "packet block at offset %llu: options "
						 "run past the block", (unsigned long long)off);
					goto out;
				}
			}
			if (n == cap) {
				size_t ncap = cap ? 2 * cap : 4096;
				uint8_t *nd = realloc(dirs, ncap);

				if (!nd) {
					snprintf(warn, warnlen, "out of memory");
					goto out;
				}
				dirs = nd;
				cap = ncap;
			}
			dirs[n++] = (uint8_t)dir;
			if (dir)
				nknown++;
		}
	}
	if (brc == -1)
		goto out;
	if (brc == 0 && nknown) {
		*dirs_out = dirs;
		*n_out = n;
		*nknown_out = nknown;
		dirs = NULL;
	}
	rc = 0;
out:
	rd_close(&r);
	free(dirs);
	return rc;
}

/* ---- packets, for the files libpcap refuses ---------------------------- */

#define OPT_IF_TSRESOL 9
#define OPT_IF_TSOFFSET 14
/* The link type numbers in files that are not the DLT_ numbers libpcap
 * gives on Linux (libpcap's linktype_to_dlt); every other is the same. */
static int linktype_to_dlt(unsigned lt)
{
	switch (lt) {
	case 100: return DLT_ATM_RFC1483;
	case 101: return DLT_RAW;
	case 102: return DLT_SLIP_BSDOS;
	case 103: return DLT_PPP_BSDOS;
	case 106: return DLT_ATM_CLIP;
	default: return (int)lt;
	}
}

/* libpcap's snapshot length for a link type: 0, or more than its largest
 * (max_snaplen_for_dlt), is that largest */
static uint32_t adjust_snap(int dlt, uint32_t snap)
{
	uint32_t max = dlt == DLT_DBUS ? 128u << 20 :
		       dlt == DLT_EBHSCR ? 8u << 20 :
		       dlt == DLT_USBPCAP ? 1u << 20 : 262144u;

	return snap == 0 || snap > max ? max : snap;
}

struct ng_if {
	int dlt;
	uint32_t snap;		/* as libpcap adjusts it: 0 or too large is the maximum */
	uint64_t tsresol;	/* units a second */
	bool bin;		/* a power of 2 */
	int64_t tsoffset;	/* seconds */
};

struct ngrd {
	struct rd r;
	struct ng_if *ifs;
	size_t nifs, capifs;
	struct pcap_pkthdr h;
	/* what libpcap holds a whole file to: the first interface's link type
	 * and snapshot length, the first section's byte order */
	bool seen_idb, seen_shb, first_swap;
	int first_dlt;
	uint32_t first_snap;
	bool diverged;		/* a block libpcap refuses for differing from them */
	char err[PCAP_ERRBUF_SIZE + 64];
};

int ngrd_open(struct ngrd **out, const char *path, char *err, size_t errlen)
{
	struct ngrd *g = calloc(1, sizeof(*g));

	*out = NULL;
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (rd_open(&g->r, path) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(g);
		return -1;
	}
	g->r.as_libpcap = true;
	*out = g;
	return 0;
}

/* An Interface Description Block: link type, snapshot length and the time
 * stamp options (if_tsresol: 10^-n, or 2^-n with the top bit; if_tsoffset:
 * seconds), checked as libpcap checks them. */
static int ng_add_if(struct ngrd *g, const uint8_t *b, uint32_t body)
{
	struct rd *r = &g->r;
	struct ng_if f = { .tsresol = 1000000 };
	const uint8_t *o = b + 8, *end = b + body;
	bool saw_res = false, saw_off = false;
	uint32_t snap;
	unsigned lt;

	if (body < 8) {
		snprintf(g->err, sizeof(g->err), "interface description block at offset %llu is "
			 "too short", (unsigned long long)r->off);
		return -1;
	}
	lt = get16(r, b);
	f.dlt = linktype_to_dlt(lt);
	snap = get32(r, b + 4);
	f.snap = adjust_snap(f.dlt, snap);
	/* libpcap compares an interface's number in the file with the first
	 * interface's DLT_ number, and its snapshot length adjusted for that */
	if (!g->seen_idb) {
		g->seen_idb = true;
		g->first_dlt = f.dlt;
		g->first_snap = f.snap;
	} else if ((int)lt != g->first_dlt || adjust_snap(g->first_dlt, snap) != g->first_snap) {
		g->diverged = true;
	}
	while (o < end) {
		uint16_t code, len;
		size_t padded;

		if (end - o < 4 ||
		    (size_t)(end - o - 4) < (padded = ((size_t)get16(r, o + 2) + 3) & ~(size_t)3)) {
			snprintf(g->err, sizeof(g->err), "interface description block at offset "
				 "%llu: options run past the block", (unsigned long long)r->off);
			return -1;
		}
		code = get16(r, o);
		len = get16(r, o + 2);
		if (code == 0) {	/* opt_endofopt */
			if (len != 0) {
				snprintf(g->err, sizeof(g->err), "interface description block "
					 "at offset %llu: opt_endofopt has length %u",
					 (unsigned long long)r->off, len);
				return -1;
			}
			break;
		}
		if (code == OPT_IF_TSRESOL) {
			uint8_t v = o[4];

			if (len != 1 || saw_res || ((v & 0x80) ? (v & 0x7f) > 63 : v > 19)) {
				snprintf(g->err, sizeof(g->err), "interface description block at "
					 "offset %llu: bad if_tsresol option", (unsigned long long)r->off);
				return -1;
			}
			saw_res = true;
			if (v & 0x80) {
				f.bin = true;
				f.tsresol = (uint64_t)1 << (v & 0x7f);
			} else {
				f.tsresol = 1;
				for (unsigned i = 0; i < v; i++)
					f.tsresol *= 10;
			}
		} else if (code == OPT_IF_TSOFFSET) {
			uint64_t v;

			if (len != 8 || saw_off) {
				snprintf(g->err, sizeof(g->err), "interface description block at "
					 "offset %llu: bad if_tsoffset option", (unsigned long long)r->off);
				return -1;
			}
			saw_off = true;
			memcpy(&v, o + 4, 8);
			f.tsoffset = (int64_t)(r->swap ? __builtin_bswap64(v) : v);
		}
		o += 4 + padded;
	}
	if (g->nifs == g->capifs) {
		size_t ncap = g->capifs ? 2 * g->capifs : 8;
		struct ng_if *n = g->nifs >= (1u << 20) ? NULL : realloc(g->ifs, ncap * sizeof(*n));

		if (!n) {
			snprintf(g->err, sizeof(g->err), "too many interfaces (%zu)", g->nifs);
			return -1;
		}
		g->ifs = n;
		g->capifs = ncap;
	}
	g->ifs[g->nifs++] = f;
	return 0;
}

int ngrd_next(struct ngrd *g, struct pcap_pkthdr **h, const uint8_t **data, int *dlt)
{
	struct rd *r = &g->r;
	uint32_t type, body, ifid, caplen, len, hdrlen;
	uint64_t t = 0, sec, frac;
	const uint8_t *b;
	const struct ng_if *f;
	int rc;

	for (;;) {
		rc = next_block(r, &type, &b, &body, g->err, sizeof(g->err));
		if (rc == -2)
			snprintf(g->err, sizeof(g->err), "not a pcapng file");
		if (rc != 1)
			return rc == 0 ? 0 : -1;
		if (type == BT_SHB) {
			/* (libpcap skips, unread, any section header after the
			 * first before the first interface) */
			if (g->seen_idb && get16(r, b) != 1) {
				snprintf(g->err, sizeof(g->err), "section header at offset %llu: "
					 "unsupported pcapng version", (unsigned long long)r->off);
				return -1;
			}
			if (!g->seen_shb) {
				g->seen_shb = true;
				g->first_swap = r->swap;
			} else if (g->seen_idb && r->swap != g->first_swap) {
				g->diverged = true;
			}
			g->nifs = 0;	/* a section has interfaces of its own */
			continue;
		}
		if (type == BT_IDB) {
			if (ng_add_if(g, b, body) < 0)
				return -1;
			continue;
		}
		if (type == BT_EPB || type == BT_PB) {
			if (body < 20)
				goto short_block;
			ifid = type == BT_EPB ? get32(r, b) : get16(r, b);
			t = (uint64_t)get32(r, b + 4) << 32 | get32(r, b + 8);
			caplen = get32(r, b + 12);
			len = get32(r, b + 16);
			hdrlen = 20;
		} else if (type == BT_SPB) {
			if (body < 4)
				goto short_block;
			ifid = 0;
			len = get32(r, b);
			caplen = len;
			if (g->nifs && caplen > g->ifs[0].snap)
				caplen = g->ifs[0].snap;
			hdrlen = 4;
		} else {
			continue;	/* any other block */
		}
		break;
	}
	if (ifid >= g->nifs) {
		snprintf(g->err, sizeof(g->err), "a packet arrived on interface %u, but there's no "
			 "Interface Description Block for that interface", ifid);
		return -1;
	}
	f = &g->ifs[ifid];
	if (caplen > f->snap) {
		snprintf(g->err, sizeof(g->err), "invalid packet capture length %u, bigger than "
			 "snaplen of %u", caplen, f->snap);
		return -1;
	}
	if (caplen > body - hdrlen)
		goto short_block;
	sec = t / f->tsresol + (uint64_t)f->tsoffset;
	frac = t % f->tsresol;
	/* to microseconds, with libpcap's arithmetic (a file libpcap reads
	 * gets its very time stamps; for a binary resolution finer than 2^-44
	 * the product wraps there too) */
	if (f->tsresol == 1000000)
		;
	else if (f->bin)
		frac = frac * 1000000 / f->tsresol;
	else if (f->tsresol > 1000000)
		frac /= f->tsresol / 1000000;
	else
		frac *= 1000000 / f->tsresol;
	g->h.ts.tv_sec = (time_t)sec;
	g->h.ts.tv_usec = (suseconds_t)frac;
	g->h.caplen = caplen;
	g->h.len = len;
	*h = &g->h;
	*data = b + hdrlen;
	*dlt = f->dlt;
	return 1;
short_block:
	snprintf(g->err, sizeof(g->err), "packet block at offset %llu is too short",
		 (unsigned long long)r->off);
	return -1;
}

bool ngrd_diverged(const struct ngrd *g)
{
	return g->diverged;
}

const char *ngrd_error(const struct ngrd *g)
{
	return g->err;
}

void ngrd_close(struct ngrd *g)
{
	if (!g)
		return;
	rd_close(&g->r);
	free(g->ifs);
	free(g);
}

/* ---- the walk in a thread of its own ------------------------------------- */

struct walk_result {
	int rc;
	uint8_t *dirs;
	size_t n, nknown;
	char warn[256];
};

struct pcapng_walk {
	pthread_t thread;
	char *const *paths;
	size_t n;
	struct walk_result *res;
};

static void *walk_main(void *arg)
{
	struct pcapng_walk *w = arg;

	for (size_t i = 0; i < w->n; i++)
		w->res[i].rc = pcapng_directions(w->paths[i], &w->res[i].dirs, &w->res[i].n,
						 &w->res[i].nknown, w->res[i].warn,
						 sizeof(w->res[i].warn));
	return NULL;
}

struct pcapng_walk *pcapng_walk_start(char *const *paths, size_t n)
{
	struct pcapng_walk *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->paths = paths;
	w->n = n;
	w->res = calloc(n ? n : 1, sizeof(*w->res));
	if (!w->res || pthread_create(&w->thread, NULL, walk_main, w) != 0) {
		free(w->res);
		free(w);
		return NULL;
	}
	return w;
}

/* Joins the thread once: after that every result is there. */
static void walk_join(struct pcapng_walk *w)
{
	if (w->paths) {
		pthread_join(w->thread, NULL);
		w->paths = NULL;
	}
}

int pcapng_walk_take(struct pcapng_walk *w, size_t i, const char *path, uint8_t **dirs,
		     size_t *n, size_t *nknown, char *warn, size_t warnlen)
{
	if (!w || i >= w->n)
		return pcapng_directions(path, dirs, n, nknown, warn, warnlen);
	walk_join(w);
	*dirs = NULL;
	*n = *nknown = 0;
	snprintf(warn, warnlen, "%s", w->res[i].warn);
	if (w->res[i].dirs) {	/* a copy: a kernel check replays twice */
		*dirs = malloc(w->res[i].n);
		if (!*dirs) {
			snprintf(warn, warnlen, "out of memory");
			return -1;
		}
		memcpy(*dirs, w->res[i].dirs, w->res[i].n);
		*n = w->res[i].n;
		*nknown = w->res[i].nknown;
	}
	return w->res[i].rc;
}

void pcapng_walk_free(struct pcapng_walk *w)
{
	if (!w)
		return;
	walk_join(w);
	for (size_t i = 0; i < w->n; i++)
		free(w->res[i].dirs);
	free(w->res);
	free(w);
}
