/* region — memory that grows at one end, in an address range reserved once,
 * whose pages another thread can fault in before they are used (region.c).
 *
 * pcap-replay's replay thread writes a new conntrack entry and a new flow row
 * for each connection.  Those pages are fresh: the first write to each takes a
 * page fault, and on the virtual machines pcap-replay is measured on a fault
 * costs ~11 us (the host backs the page at that moment), about a quarter of
 * the replay thread's time on a capture of short connections.  A region is
 * reserved at once (MAP_NORESERVE: address space, no memory), handed out from
 * its start, and never moves (no realloc copy); region_prefault, called by the
 * reader thread while it waits for the replay, faults the next pages in ahead
 * of use (MADV_POPULATE_WRITE: a fraction of a fault's cost a page, and off
 * the replay's CPU), and region_take faults in, in one call, whatever of what
 * it hands out no prefault got to.
 *
 * One thread takes (region_take); any thread may prefault.  The reserved size
 * is a bound: region_take returns NULL beyond it, and the caller falls back to
 * malloc.  Where the reservation fails (strict overcommit may refuse it) the
 * region is empty and every take returns NULL. */
#ifndef FILTERD_REGION_H
#define FILTERD_REGION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REGION_MAX ((size_t)16 << 30)

struct region {
	uint8_t *base;			/* NULL: no reservation */
	size_t size;			/* bytes reserved (a multiple of the page size) */
	_Atomic size_t used;		/* bytes taken (written by the taking thread only) */
	_Atomic size_t ready;		/* bytes below which every page has been faulted in */
	_Atomic uint64_t prefaulted;	/* bytes region_prefault faulted in (not region_take) */
};

/* Reserves size bytes (rounded up to pages, at most REGION_MAX); false (and
 * an empty region) when size is 0, more than a quarter of RLIMIT_AS (ulimit
 * -v), or the kernel refuses.  Under AddressSanitizer the region stays
 * empty, so each caller's malloc path keeps its checks. */
bool region_init(struct region *g, size_t size);
/* The next n bytes (n rounded up to 64, the start 64-byte aligned), zeroed by
 * the kernel; NULL when they do not fit.  Their pages that no prefault got to
 * are faulted in at once, in one call (MADV_POPULATE_WRITE). */
void *region_take(struct region *g, size_t n);
/* Faults in up to step bytes past what is ready, if that is less than ahead
 * bytes past what has been taken; returns the bytes faulted in (0: nothing
 * to do, or the kernel cannot populate). */
size_t region_prefault(struct region *g, size_t ahead, size_t step);
/* The bytes region_prefault faulted in so far. */
static inline uint64_t region_prefaulted(const struct region *g)
{
	return atomic_load_explicit(&g->prefaulted, memory_order_relaxed);
}
/* Unmaps the region (every pointer into it becomes invalid). */
void region_fini(struct region *g);

#endif
