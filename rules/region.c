/* region — see region.h. */
#include "region.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#if defined(__SANITIZE_ADDRESS__)
#define REGION_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REGION_OFF 1
#endif
#endif

static size_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

bool region_init(struct region *g, size_t size)
{
	size_t ps = page_size();
	void *p;

	memset(g, 0, sizeof(*g));
#ifdef REGION_OFF
	(void)size;
	(void)ps;
	(void)p;
	return false;
#else
	struct rlimit rl;

	if (!size || size > SIZE_MAX - ps)
		return false;
	size = (size + ps - 1) & ~(ps - 1);
	/* address space only, but a process under ulimit -v has little of it:
	 * a region leaves it three quarters (the caller's malloc path takes
	 * the rest); and none is larger than REGION_MAX */
	if (size > REGION_MAX)
		size = REGION_MAX;
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    size > rl.rlim_cur / 4)
		return false;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED)
		return false;
	g->base = p;
	g->size = size;
	return true;
#endif
}

/* Claims [ready, end) (end rounded up to a page) and faults it in, in one
 * call; returns the bytes faulted in, 0 when everything below end was ready
 * or claimed by another thread.  Where the kernel cannot populate (older
 * than 5.14: EINVAL; memory short: ENOMEM) nothing more is faulted in ahead:
 * the pages fault in as they are written. */
static size_t populate_to(struct region *g, size_t end)
{
	size_t ps = page_size();
	size_t r = atomic_load(&g->ready);

	end = (end + ps - 1) & ~(ps - 1);
	if (end > g->size)
		end = g->size;
	do {
		if (r >= end)
			return 0;
	} while (!atomic_compare_exchange_weak(&g->ready, &r, end));
	if (madvise(g->base + r, end - r, MADV_POPULATE_WRITE) < 0) {
		atomic_store(&g->ready, g->size);
		return 0;
	}
	return end - r;
}

void *region_take(struct region *g, size_t n)
{
	size_t u = atomic_load_explicit(&g->used, memory_order_relaxed);

	if (!g->base || n > SIZE_MAX - 63)
		return NULL;
	n = (n + 63) & ~(size_t)63;
	if (n > g->size - u)
		return NULL;
	atomic_store_explicit(&g->used, u + n, memory_order_relaxed);
	/* what no prefault got to is about to be written: one call costs a
	 * fraction of a fault a page */
	(void)populate_to(g, u + n);
	return g->base + u;
}

size_t region_prefault(struct region *g, size_t ahead, size_t step)
{
	size_t r, u, want, got;

	if (!g->base || !step)
		return 0;
	r = atomic_load_explicit(&g->ready, memory_order_relaxed);
	u = atomic_load_explicit(&g->used, memory_order_relaxed);
	want = ahead > g->size - u ? g->size : u + ahead;
	if (r >= want)
		return 0;
	got = populate_to(g, step > want - r ? want : r + step);
	atomic_fetch_add_explicit(&g->prefaulted, got, memory_order_relaxed);
	return got;
}

void region_fini(struct region *g)
{
	if (g->base)
		munmap(g->base, g->size);
	memset(g, 0, sizeof(*g));
}
