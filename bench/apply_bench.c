/* apply_bench — what filterd does on a reload (compile + one netlink batch,
 * tags already loaded as in the daemon) against `nft -f` of the same ruleset
 * (the text `filterctl compile --format nft` prints), and an incremental
 * service-tag update against a full re-apply.  Run inside a scratch network
 * namespace (bench/run.sh does that).  Prints medians over N runs. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "compile.h"
#include "netlink.h"
#include "rsdiff.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), dcmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static struct compiled *compile_with(const char *policy, struct tagdb *db, bool text)
{
	struct compile_opts o;
	struct diags d = {0};
	struct policy *p = NULL;
	struct compiled *c = NULL;

	if (policy_parse_file(policy, &p, &d) < 0 || policy_resolve(p, db, &d) < 0 ||
	    (compile_opts_default(&o), o.no_text = !text, compile_policy(p, db, &o, &c, &d)) < 0) {
		diags_print(&d, stderr);
		c = NULL;
	}
	policy_free(p);
	diags_clear(&d);
	return c;
}

static double run_nft(const char *file)
{
	double t0 = now_ms();
	pid_t pid = fork();
	if (pid == 0) {
		execlp("nft", "nft", "-f", file, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "nft -f %s failed\n", file);
		exit(1);
	}
	return now_ms() - t0;
}

static void drop_table(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		execlp("nft", "nft", "delete", "table", "inet", FILTERD_TABLE, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
}

int main(int argc, char **argv)
{
	char err[512];
	struct nl_report rep;
	int n;

	if (argc < 5) {
		fprintf(stderr, "usage: apply_bench LABEL POLICY TAGS RUNS [TAGS_NEW]\n");
		return 2;
	}
	n = atoi(argv[4]);
	if (n < 1 || n > 1000)
		return 2;
	struct tagdb *db = tagdb_load(argv[3], err, sizeof(err));
	if (!db) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct compiled *c = compile_with(argv[2], db, true);
	if (!c)
		return 1;
	char tmp[] = "/tmp/apply_bench_XXXXXX";
	int fd = mkstemp(tmp);
	FILE *f = fdopen(fd, "w");
	fputs(c->nft, f);
	fclose(f);
	struct nl_conn *nl = nl_open(err, sizeof(err));
	if (!nl) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	double *a = calloc((size_t)n, sizeof(double)), *b = calloc((size_t)n, sizeof(double));
	/* FRESH=1: the table is removed (untimed) before every measured apply, so
	 * both tools measure a pure create instead of a replace. */
	bool fresh = getenv("FRESH") && strcmp(getenv("FRESH"), "1") == 0;
	for (int i = 0; i < n; i++) {
		if (fresh)
			drop_table();
		/* filterd's reload: compile (tags in memory) + one batch */
		double t0 = now_ms();
		struct compiled *x = compile_with(argv[2], db, false);
		if (!x || nl_apply_conn(nl, x->rs, 0, NL_FAULT_NONE, &rep) < 0) {
			fprintf(stderr, "apply failed: %s\n", rep.msg);
			return 1;
		}
		a[i] = now_ms() - t0;
		compiled_free(x);
		if (fresh)
			drop_table();
		b[i] = run_nft(tmp);
	}
	double ma = median(a, n), mb = median(b, n);
	printf("%-10s%s sets=%-5zu elements=%-7zu rules=%-5zu filterd(compile+apply) %8.1f ms   nft -f %8.1f ms   ratio %.2f\n",
	       argv[1], fresh ? " (create)" : "", c->nsets, c->nelements, c->nrules, ma, mb, ma / mb);

	if (argc > 5) {
		/* incremental update old->new tags vs a full apply of the new one */
		struct tagdb *db2 = tagdb_load(argv[5], err, sizeof(err));
		struct compiled *c2 = db2 ? compile_with(argv[2], db2, false) : NULL;
		struct rs_delta d;
		if (!c2 || ruleset_delta(c->rs, c2->rs, &d) < 0) {
			fprintf(stderr, "delta failed\n");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			if (nl_apply_conn(nl, c->rs, 0, NL_FAULT_NONE, &rep) < 0)
				return 1;
			double t0 = now_ms();
			if (nl_apply_delta(nl, &d, &rep) < 0) {
				fprintf(stderr, "delta apply failed: %s\n", rep.msg);
				return 1;
			}
			a[i] = now_ms() - t0;
			t0 = now_ms();
			if (nl_apply_conn(nl, c2->rs, 0, NL_FAULT_NONE, &rep) < 0)
				return 1;
			b[i] = now_ms() - t0;
		}
		ma = median(a, n);
		mb = median(b, n);
		printf("%-10s tags %ld->%ld: incremental (+%zu/-%zu elements) %7.2f ms   full re-apply %7.2f ms   %.1fx faster\n",
		       argv[1], db->change_number, db2->change_number, d.nadd, d.ndel, ma, mb, mb / ma);
		rs_delta_free(&d);
		compiled_free(c2);
		tagdb_free(db2);
	}
	unlink(tmp);
	free(a);
	free(b);
	nl_close(nl);
	compiled_free(c);
	tagdb_free(db);
	return 0;
}
