/* zalloc — zeroed memory for hash tables that are probed before they are
 * written.
 *
 * calloc hands a large block over as fresh anonymous pages without touching
 * them.  A probe that reads such a page first maps the kernel's shared zero
 * page; the insert that later writes it takes a copy-on-write fault, and
 * replacing a present page table entry flushes the TLB of every CPU the
 * process runs on (an IPI to pcap-replay's reader thread each time: perf
 * showed do_wp_page -> flush_tlb_mm_range under the conntrack lookup).
 * zalloc asks the kernel to fault the block's pages in writable at once
 * (MADV_POPULATE_WRITE, Linux 5.14; older kernels refuse it and the pages
 * fault on first use as before). */
#ifndef FILTERD_ZALLOC_H
#define FILTERD_ZALLOC_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Faults in the whole pages of [p, p + bytes) writable, in one call (on the
 * virtual machines pcap-replay is measured on, 0.5 us a page against ~11 us a
 * page for faults taken one by one: bench/pagefault).  Only for memory the
 * caller is about to write: the pages are then resident. */
static inline void prefault(void *p, size_t bytes)
{
	uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
	uintptr_t e = ((uintptr_t)p + bytes) & ~(uintptr_t)4095;

	if (e > a)
		(void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
}

static inline void *zalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	size_t bytes = n * size;

	if (p && bytes >= (64u << 10))
		prefault(p, bytes);
	return p;
}

#endif
