/* pagefault — what a fresh page costs on this machine (docs/performance.md,
 * "New entries and flow rows faulted in by the reader thread"): N pages of a
 * fresh anonymous mapping written one byte each (a page fault each), against
 * the same number faulted in by one MADV_POPULATE_WRITE call; median of RUNS.
 *
 *   build/bench/pagefault [PAGES [RUNS]]      (default 14000 pages, 9 runs) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* seconds to fault n pages in: one write each, or populate */
static double one(size_t n, size_t ps, int populate)
{
	volatile char *p = mmap(NULL, n * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
	double t0, t1;

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	t0 = now();
	if (populate) {
		if (madvise((void *)p, n * ps, MADV_POPULATE_WRITE) < 0) {
			perror("madvise(MADV_POPULATE_WRITE)");
			exit(1);
		}
	} else {
		for (size_t i = 0; i < n; i++)
			p[i * ps] = 1;
	}
	t1 = now();
	munmap((void *)p, n * ps);
	return t1 - t0;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 14000;
	int runs = argc > 2 ? atoi(argv[2]) : 9;
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	double *w, *m;

	if (!n || runs < 1)
		return 2;
	w = calloc((size_t)runs, sizeof(*w));
	m = calloc((size_t)runs, sizeof(*m));
	if (!w || !m)
		return 1;
	for (int i = 0; i < runs; i++) {	/* alternating */
		w[i] = one(n, ps, 0);
		m[i] = one(n, ps, 1);
	}
	qsort(w, (size_t)runs, sizeof(*w), cmp);
	qsort(m, (size_t)runs, sizeof(*m), cmp);
	printf("%zu fresh pages, median of %d runs: written one by one %.1f ms (%.2f us a page), "
	       "MADV_POPULATE_WRITE %.1f ms (%.2f us a page)\n", n, runs, w[runs / 2] * 1e3,
	       w[runs / 2] * 1e6 / (double)n, m[runs / 2] * 1e3, m[runs / 2] * 1e6 / (double)n);
	free(w);
	free(m);
	return 0;
}
