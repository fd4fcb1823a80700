/* test_region — rules/region.c: memory taken from one end of a reserved
 * range, whose pages another thread faults in ahead of use.
 *
 * What pcap-replay relies on: takes are contiguous, 64-byte aligned and
 * zeroed, and stop at the reserved size (the caller then falls back to
 * malloc), their pages faulted in at once; region_prefault faults pages in (mincore(2) shows them resident)
 * no further than `ahead` past what was taken, a step at a time, and never
 * changes a byte the taking thread wrote — also while that thread writes
 * concurrently. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "../../rules/region.h"

static size_t pagesz(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* pages of [p, p + n) resident in memory */
static size_t resident(const void *p, size_t n)
{
	size_t ps = pagesz(), np = (n + ps - 1) / ps, c = 0;
	unsigned char *v = calloc(np, 1);

	assert_non_null(v);
	assert_int_equal(mincore((void *)p, np * ps, v), 0);
	for (size_t i = 0; i < np; i++)
		c += v[i] & 1;
	free(v);
	return c;
}

#if defined(__SANITIZE_ADDRESS__)
#define NO_REGION 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_REGION 1
#endif
#endif

static void test_take(void **state)
{
	struct region g;
	uint8_t *a, *b, *c;

	(void)state;
#ifdef NO_REGION
	/* under AddressSanitizer the region stays empty: every caller
	 * takes its malloc path, which ASan checks */
	assert_false(region_init(&g, 1 << 20));
	assert_null(region_take(&g, 64));
	assert_int_equal(region_prefault(&g, 1 << 20, 65536), 0);
	region_fini(&g);
	skip();
#endif
	assert_true(region_init(&g, 3 * pagesz() - 100));
	assert_int_equal(g.size, 3 * pagesz());	/* rounded up to pages */
	a = region_take(&g, 100);
	/* faulted in by the take, before anything is written */
	assert_int_equal(resident(g.base, g.size), 1);
	b = region_take(&g, 64);
	c = region_take(&g, 1);
	assert_non_null(a);
	assert_ptr_equal(a, g.base);
	assert_int_equal((uintptr_t)a % 64, 0);
	assert_ptr_equal(b, a + 128);		/* 100 rounded up to 64 */
	assert_ptr_equal(c, b + 64);
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(a[i], 0);
	/* what is left, exactly; then nothing */
	assert_null(region_take(&g, g.size - 256 + 1));
	assert_non_null(region_take(&g, g.size - 256));
	assert_null(region_take(&g, 1));
	assert_null(region_take(&g, SIZE_MAX));
	region_fini(&g);
	assert_null(g.base);

	/* nothing reserved: nothing to take or fault in */
	assert_false(region_init(&g, 0));
	assert_null(region_take(&g, 1));
	assert_int_equal(region_prefault(&g, 1 << 20, 65536), 0);
	region_fini(&g);
}

static void test_prefault(void **state)
{
	struct region g;
	size_t ps = pagesz(), got, total = 0;
	uint8_t *a;

	(void)state;
#ifdef NO_REGION
	skip();
#endif
	assert_true(region_init(&g, 64 * ps));
	assert_int_equal(resident(g.base, g.size), 0);
	/* the taking thread wrote these bytes before any prefault */
	a = region_take(&g, 3 * ps / 2);
	assert_int_equal(resident(g.base, g.size), 2);	/* (the take's) */
	assert_int_equal(atomic_load(&g.ready), 2 * ps);
	assert_int_equal(atomic_load(&g.prefaulted), 0);
	memset(a, 0xa5, 3 * ps / 2);
	/* ahead of 8 pages past the 1.5 taken (the end rounded up to a page),
	 * in steps of 3 pages */
	got = region_prefault(&g, 8 * ps, 3 * ps);
	assert_int_equal(got, 3 * ps);		/* pages 2-4 */
	total += got;
	while ((got = region_prefault(&g, 8 * ps, 3 * ps)) > 0) {
		assert_true(got <= 3 * ps);
		total += got;
	}
	assert_int_equal(atomic_load(&g.ready), 10 * ps);	/* 9.5 pages, rounded up */
	assert_int_equal(atomic_load(&g.prefaulted), total);
	assert_int_equal(resident(g.base, g.size), 10);
	/* the written bytes are kept, the faulted-in pages are zero */
	for (size_t i = 0; i < 3 * ps / 2; i++)
		assert_int_equal(a[i], 0xa5);
	for (size_t i = 3 * ps / 2; i < 10 * ps; i++)
		assert_int_equal(g.base[i], 0);
	/* taking more moves the mark; it never passes the reserved size */
	assert_non_null(region_take(&g, 40 * ps));
	while (region_prefault(&g, 1000 * ps, 7 * ps) > 0)
		;
	assert_int_equal(atomic_load(&g.ready), 64 * ps);
	assert_int_equal(resident(g.base, g.size), 64);
	assert_int_equal(region_prefault(&g, 1000 * ps, 7 * ps), 0);
	region_fini(&g);
}

struct racer {
	struct region *g;
	atomic_bool stop;
	size_t faulted;
};

static void *prefaulter(void *arg)
{
	struct racer *x = arg;

	while (!atomic_load(&x->stop))
		x->faulted += region_prefault(x->g, 256 << 10, 16 << 10);
	return NULL;
}

/* pcap-replay's case: the reader thread faults pages in while the replay
 * takes and writes; no byte written is lost or changed. */
static void test_concurrent(void **state)
{
	struct region g;
	struct racer x = { .g = &g };
	pthread_t th;
	const size_t rec = 200, n = 40000;	/* ~7.6 MiB */
	uint8_t *first = NULL, *p;

	(void)state;
#ifdef NO_REGION
	skip();
#endif
	assert_true(region_init(&g, n * 256));
	assert_int_equal(pthread_create(&th, NULL, prefaulter, &x), 0);
	for (size_t i = 0; i < n; i++) {
		p = region_take(&g, rec);
		assert_non_null(p);
		if (!first)
			first = p;
		assert_ptr_equal(p, first + i * 256);	/* 200 rounded up to 256 */
		for (size_t j = 0; j < rec; j++)
			p[j] = (uint8_t)(i * 7 + j);
	}
	atomic_store(&x.stop, true);
	pthread_join(th, NULL);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < rec; j++)
			assert_int_equal(first[i * 256 + j], (uint8_t)(i * 7 + j));
	assert_int_equal(atomic_load(&g.prefaulted), x.faulted);
	assert_true(atomic_load(&g.ready) <= g.size);
	region_fini(&g);
}


/* The reservation is bounded: REGION_MAX at most, and under ulimit -v a
 * quarter of the limit (then none: the caller's malloc path takes over). */
static void test_limits(void **state)
{
	struct region g;
	pid_t pid;
	int st;

	(void)state;
#ifdef NO_REGION
	skip();
#endif
	assert_true(region_init(&g, REGION_MAX * 4));
	assert_int_equal(g.size, REGION_MAX);
	region_fini(&g);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { (rlim_t)1 << 32, (rlim_t)1 << 32 };	/* 4 GiB */

		if (setrlimit(RLIMIT_AS, &rl) != 0)
			_exit(10);
		if (region_init(&g, (size_t)1 << 31))		/* 2 GiB: refused */
			_exit(11);
		if (g.base || region_take(&g, 64))
			_exit(12);
		if (!region_init(&g, (size_t)1 << 29))		/* 512 MiB */
			_exit(13);
		region_fini(&g);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_take),
		cmocka_unit_test(test_prefault),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
