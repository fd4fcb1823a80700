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
#define MAX_BLOCK (64u << 20)	/* larger than any block libpcap accepts */
#define OPT_EPB_FLAGS 2

/* The file is read in large chunks and walked in place (blocks are a few
 * hundred bytes: reading each through stdio copied every byte twice). */
#define CHUNK (1u << 20)

struct rd {
	int fd;
	bool swap;
	uint8_t *buf;
	size_t cap, have, pos;	/* bytes in buf; the walk's position in them */
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

int pcapng_directions(const char *path, uint8_t **dirs_out, size_t *n_out, size_t *nknown_out,
		      char *warn, size_t warnlen)
{
	struct rd r = { .fd = -1 };
	uint8_t *dirs = NULL;
	size_t n = 0, cap = 0, nknown = 0;
	uint64_t nifaces = 0, off = 0;
	bool first = true;
	int rc = -1;

	*dirs_out = NULL;
	*n_out = 0;
	*nknown_out = 0;
	warn[0] = '\0';
	r.fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (r.fd < 0)
		return 0;	/* libpcap reports unreadable files */
	{
		struct stat st;

		/* a pipe or a device would be read by this walk instead of libpcap */
		if (fstat(r.fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(r.fd);
			return 0;
		}
	}
	for (;;) {
		size_t got = fill(&r, 8);
		const uint8_t *hdr = r.buf + r.pos, *b;
		uint32_t type, len, body, trail;

		if (r.err) {
			snprintf(warn, warnlen, "cannot read the file at offset %llu",
				 (unsigned long long)off);
			goto out;
		}
		if (got == 0 && !first)
			break;		/* clean end of file */
		if (got < 8) {
			if (first)
				goto not_pcapng;
			snprintf(warn, warnlen, "truncated block header at offset %llu",
				 (unsigned long long)off);
			goto out;
		}
		memcpy(&type, hdr, 4);	/* the SHB type reads the same in both orders */
		if (type == BT_SHB) {
			uint32_t bom;

			if (fill(&r, 12) != 12) {
				if (first)
					goto not_pcapng;
				snprintf(warn, warnlen, "truncated section header at offset %llu",
					 (unsigned long long)off);
				goto out;
			}
			hdr = r.buf + r.pos;
			memcpy(&bom, hdr + 8, 4);
			if (bom == BOM)
				r.swap = false;
			else if (__builtin_bswap32(bom) == BOM)
				r.swap = true;
			else if (first)
				goto not_pcapng;
			else {
				snprintf(warn, warnlen, "bad byte-order magic at offset %llu",
					 (unsigned long long)off);
				goto out;
			}
			nifaces = 0;
			len = get32(&r, hdr + 4);
			if (len < 28 || len % 4 || len > MAX_BLOCK) {
				snprintf(warn, warnlen, "section header at offset %llu has length %u",
					 (unsigned long long)off, len);
				goto out;
			}
			body = len - 16;	/* after type, length, magic; before the trailer */
		} else {
			if (first)
				goto not_pcapng;
			type = get32(&r, hdr);
			len = get32(&r, hdr + 4);
			if (len < 12 || len % 4 || len > MAX_BLOCK) {
				snprintf(warn, warnlen, "block 0x%08x at offset %llu has length %u",
					 type, (unsigned long long)off, len);
				goto out;
			}
			body = len - 12;	/* after type and length; before the trailer */
		}
		first = false;
		if (fill(&r, len) != len) {
			if (r.err)
				snprintf(warn, warnlen, "cannot read the file at offset %llu",
					 (unsigned long long)off);
			else
				snprintf(warn, warnlen, "block 0x%08x at offset %llu runs past the "
					 "end of the file", type, (unsigned long long)off);
			goto out;
		}
		/* b: the body, after the fields read above */
		b = r.buf + r.pos + (type == BT_SHB ? 12 : 8);
		trail = get32(&r, b + body);
		if (trail != len) {
			snprintf(warn, warnlen, "block 0x%08x at offset %llu: trailing length %u, "
				 "leading %u", type, (unsigned long long)off, trail, len);
			goto out;
		}
		if (type == BT_IDB) {
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
		r.pos += len;
		off += len;
	}
	if (nknown) {
		*dirs_out = dirs;
		*n_out = n;
		*nknown_out = nknown;
		dirs = NULL;
	}
	rc = 0;
	goto out;
not_pcapng:
	rc = 0;
out:
	close(r.fd);
	free(r.buf);
	free(dirs);
	return rc;
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
