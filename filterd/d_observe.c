/* filterd: the reader's control ops that look at what is in force —
 *   metrics  the Prometheus text (d_metrics.c)
 *   show     the policy in force and the table's rules with their origin,
 *            nft text and counters
 *   verify   the live table against a fresh compile of the policy in force
 *            (every difference, rules/verify.h), then the captures of
 *            cfg.verify_captures replayed through the DUMPED table by
 *            pcap-replay with their expectation files
 *   audit    the audit log read back (it is root's: readers get it here)
 * and the one-second observe tick (drop log summary, metrics textfile). */
#include "observe.h"
#include "jsonutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter.h>

#include "dump.h"
#include "policy.h"
#include "ruleinfo.h"
#include "strbuf.h"
#include "verify.h"

#define REPLAY_TIMEOUT_S 120
#define REPLAY_OUTPUT_MAX (256u << 10)
#define AUDIT_ANSWER_MAX (6u << 20)

static int nflog_fd = -1;
static unsigned metrics_age;

static bool verify_event(struct daemon *d, int fd);
static void verify_sweep(struct daemon *d);
static void verify_clean_stale(struct daemon *d);

/* ---- lifecycle ----------------------------------------------------------- */

void observe_start(struct daemon *d)
{
	struct epoll_event ev = { .events = EPOLLIN };

	d->metrics_fd = -1;
	nflog_fd = droplog_open(d);
	if (nflog_fd >= 0) {
		ev.data.fd = nflog_fd;
		epoll_ctl(d->epfd, EPOLL_CTL_ADD, nflog_fd, &ev);
	}
	d->metrics_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->metrics_fd >= 0) {
		struct itimerspec tick = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
		timerfd_settime(d->metrics_fd, 0, &tick, NULL);
		ev.data.fd = d->metrics_fd;
		epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->metrics_fd, &ev);
	}
	metrics_age = UINT_MAX / 2;	/* first textfile at the first tick */
	verify_clean_stale(d);
	if (d->cfg.metrics_file && d->cfg.metrics_file[0])
		dlog("event=metrics-file file=%s interval=%us", d->cfg.metrics_file, d->cfg.metrics_interval);
}

bool observe_event(struct daemon *d, int fd)
{
	if (fd < 0)
		return false;
	if (fd == nflog_fd) {
		droplog_read(d);
		return true;
	}
	if (verify_event(d, fd))
		return true;
	if (fd == d->metrics_fd) {
		uint64_t x;
		if (read(fd, &x, sizeof(x)) != sizeof(x))
			return true;
		droplog_tick(d);
		verify_sweep(d);
		metrics_age += (unsigned)x;
		unsigned every = d->cfg.metrics_interval ? d->cfg.metrics_interval : 1;
		if (d->cfg.metrics_file && d->cfg.metrics_file[0] && metrics_age >= every) {
			metrics_age = 0;
			metrics_write_textfile(d);
		}
		return true;
	}
	return false;
}

void observe_stop(struct daemon *d)
{
	droplog_close();
	nflog_fd = -1;
	if (d->metrics_fd >= 0)
		close(d->metrics_fd);
	d->metrics_fd = -1;
}

/* ---- audit log ------------------------------------------------------------ */

void audit_rotate(struct daemon *d, size_t incoming)
{
	struct stat st;
	char old[4096];

	if (!d->cfg.audit_log_max || stat(d->cfg.audit_log, &st) < 0 ||
	    (size_t)st.st_size + incoming <= d->cfg.audit_log_max)
		return;
	snprintf(old, sizeof(old), "%s.1", d->cfg.audit_log);
	if (rename(d->cfg.audit_log, old) < 0) {
		/* once an hour at most: every record would repeat it */
		static time_t warned;
		time_t now = time(NULL);

		if (!warned || now - warned >= 3600) {
			warned = now;
			dlog("event=warning what=audit-rotate file=%s error=\"%s\" note=\"the log grows past audit_log_max; said once an hour\"",
			     d->cfg.audit_log, strerror(errno));
		}
	} else {
		dlog("event=audit-rotated file=%s to=%s size=%lld", d->cfg.audit_log, old, (long long)st.st_size);
	}
}

/* "2024-05-06T07:08:09.123Z" -> Unix time; -1 when it is not that. */
static time_t audit_time(const char *ts)
{
	struct tm tm = {0};
	const char *end = ts ? strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	return end ? timegm(&tm) : (time_t)-1;
}

/* Unix time of an audit record (a JSON line); -1 when it has none.  filterd
 * writes "time" first, which is read without parsing the line. */
static time_t audit_line_time(const char *line)
{
	static const char pre[] = "{\"time\"";
	if (strncmp(line, pre, sizeof(pre) - 1) == 0) {
		const char *p = line + sizeof(pre) - 1;
		p += strspn(p, " \t");
		if (*p++ == ':') {
			p += strspn(p, " \t");
			if (*p == '"')
				return audit_time(p + 1);
		}
	}
	json_t *j = json_loads(line, 0, NULL);
	time_t t = audit_time(json_string_value(json_object_get(j, "time")));
	json_decref(j);
	return t;
}

/* Appends to *out, as JSON strings each followed by a comma, the newest whole
 * records of one file that fit in *budget bytes, in file order; *budget is
 * lowered by what they take.  Only the file's tail is read: the answer is the
 * newest records, and reading and parsing both whole files at every request
 * (16 MiB each by default, on the loop every client and timer waits on) let a
 * reader stall filterd for seconds. */
static void audit_tail(const char *path, time_t since, size_t *budget, struct strbuf *out,
		       bool *cut, bool *older)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
		goto out;
	if (!*budget) {		/* records left out whole */
		*cut = true;
		goto out;
	}
	/* one byte before the window tells whether its first line is whole */
	off_t start = st.st_size > (off_t)*budget ? st.st_size - (off_t)*budget - 1 : 0;
	bool first = true;	/* the window's first whole record not yet seen */
	size_t len = (size_t)(st.st_size - start), got = 0;
	if (!(buf = malloc(len + 1))) {
		out->oom = true;
		goto out;
	}
	while (got < len) {
		ssize_t r = pread(fd, buf + got, len - got, start + (off_t)got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	char *p = buf, *end = buf + got;
	if (start > 0) {	/* a partial first line (or the newline before the window) */
		char *nl = memchr(p, '\n', got);
		p = nl ? nl + 1 : end;
	}
	size_t used = 0;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)	/* a record being written, or cut short: not whole */
			break;
		*nl = '\0';
		size_t n = (size_t)(nl - p);
		time_t t = n && since > 0 ? audit_line_time(p) : (time_t)-1;
		/* records before the window are left out -- unless --since
		 * leaves them out anyway: the window's first is older than since
		 * (the log is in time order), and so is everything before it,
		 * the rotated file's too */
		if (first && n) {
			first = false;
			if (start > 0 && !(t != (time_t)-1 && t < since))
				*cut = true;
			if (t != (time_t)-1 && t < since)
				*older = true;
		}
		if (n && (t == (time_t)-1 || t >= since)) {
			sb_putn(out, "\"", 1);
			sb_put_json_body(out, p, n);
			sb_putn(out, "\",", 2);
			used += n;
		}
		p = nl + 1;
	}
	*budget -= used < *budget ? used : *budget;
	if (start > 0 && first)	/* no whole record in the window */
		*cut = true;
	if (start > 0 && !used)	/* a newest record larger than an answer: the older
				 * file's records are not the newest ones */
		*budget = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
}

/* The answer is written here rather than built as a jansson tree: jansson
 * took ~50 ns a byte making and dumping these strings, which for a 6 MiB
 * answer held the loop ~0.3 s.  reply() sends a "raw_answer" member as it is. */
static json_t *op_audit(struct daemon *d, json_t *req)
{
	json_t *since_j = json_object_get(req, "since");
	time_t since = 0;
	char old[4096];
	size_t budget = AUDIT_ANSWER_MAX, budget_old;
	struct strbuf cur = {0}, all = {0};
	bool cut = false;

	if (since_j && !json_is_integer(since_j))
		return json_pack("{s:b,s:s}", "ok", 0, "error", "audit: 'since' must be Unix seconds");
	if (since_j)
		since = (time_t)json_integer_value(since_j);
	/* the newest first (the current file, then the rotated one), kept in order */
	bool older = false;	/* the current file reached records before since */
	audit_tail(d->cfg.audit_log, since, &budget, &cur, &cut, &older);
	budget_old = budget;
	snprintf(old, sizeof(old), "%s.1", d->cfg.audit_log);
	sb_puts(&all, "{\"ok\":true,\"file\":\"");
	sb_put_json_body(&all, d->cfg.audit_log, strlen(d->cfg.audit_log));
	sb_puts(&all, "\",\"records\":[");
	if (!older)
		audit_tail(old, since, &budget_old, &all, &cut, &older);
	sb_putn(&all, sb_str(&cur), cur.n);
	if (all.n && all.s[all.n - 1] == ',')
		all.s[--all.n] = '\0';	/* the last record's comma */
	/* older records than the answer holds: said, not silently left out */
	sb_puts(&all, cut ? "],\"truncated\":true}" : "]}");
	bool oom = cur.oom || all.oom;
	sb_free(&cur);
	if (oom) {
		sb_free(&all);
		return json_pack("{s:b,s:s}", "ok", 0, "error", "audit: out of memory");
	}
	json_t *ans = json_object();
	json_object_set_new(ans, "raw_answer", json_stringn_nocheck(all.s, all.n));
	sb_free(&all);
	return ans;
}

/* ---- compile the policy in force afresh ----------------------------------- */

static struct compiled *compile_current(struct daemon *d, bool text, char *err, size_t errlen)
{
	struct diags dg = {0};
	struct policy *pol = NULL;
	struct compiled *comp = NULL;
	struct compile_opts co;

	if (!d->cur.text || !d->tags) {
		snprintf(err, errlen, "no policy in force");
		return NULL;
	}
	if (policy_parse_buffer(d->cur.name ? d->cur.name : "policy", d->cur.text, d->cur.len, &pol, &dg) < 0 ||
	    policy_resolve(pol, d->tags, &dg) < 0)
		goto fail;
	compile_opts_default(&co);
	co.table = d->cfg.table;
	co.log_group = d->cfg.log_group;
	co.log_rate = d->cfg.log_rate;
	co.log_burst = d->cfg.log_burst;
	co.no_text = !text;
	fqdn_compile_opts(d, &co);	/* as d_apply compiled it: the DNS queue rule */
	if (compile_policy(pol, d->tags, &co, &comp, &dg) < 0)
		goto fail;
	policy_free(pol);
	diags_clear(&dg);
	return comp;
fail: {
	char *first = diags_first_error(&dg);
	snprintf(err, errlen, "the policy in force does not compile now: %s", first ? first : "error");
	free(first);
	policy_free(pol);
	diags_clear(&dg);
	return NULL;
}
}

/* ---- show ----------------------------------------------------------------- */

struct nft_line {
	char chain[64];
	size_t index;		/* within the chain */
	char *text;
};

/* The compiler's nft script, one entry per rule line (comment cut off). */
static struct nft_line *nft_lines(const char *script, size_t *n)
{
	struct nft_line *v = NULL;
	size_t m = 0, cap = 0, idx = 0;
	char chain[64] = "";
	const char *p = script;

	*n = 0;
	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > 7 && strncmp(p, "\tchain ", 7) == 0) {
			const char *s = p + 7, *e = memchr(s, ' ', len - 7);
			snprintf(chain, sizeof(chain), "%.*s", (int)(e ? e - s : 0), s);
			idx = 0;
		} else if (chain[0] && len > 2 && p[0] == '\t' && p[1] == '\t' && strncmp(p + 2, "type ", 5) != 0) {
			const char *c = NULL;
			for (const char *q = p; q + 10 <= p + len; q++)
				if (strncmp(q, " comment \"", 10) == 0)
					c = q;
			if (c) {
				if (m == cap) {
					cap = cap ? cap * 2 : 64;
					struct nft_line *nv = realloc(v, cap * sizeof(*nv));
					if (!nv)
						break;
					v = nv;
				}
				snprintf(v[m].chain, sizeof(v[m].chain), "%s", chain);
				v[m].index = idx++;
				v[m].text = strndup(p + 2, (size_t)(c - p - 2));
				m++;
			}
		} else if (len >= 2 && p[0] == '\t' && p[1] == '}') {
			chain[0] = '\0';
		}
		p = eol ? eol + 1 : NULL;
	}
	*n = m;
	return v;
}

static json_t *policy_json(struct daemon *d)
{
	char ts[32];
	struct tm tm;

	if (!d->cur.text)
		return json_null();
	gmtime_r(&d->cur.at, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:b}", "workspace", d->cur.workspace, "sha256",
			 d->cur.sha256, "name", d->cur.name ? d->cur.name : "", "tags_change_number",
			 (json_int_t)d->cur.tags_change, "applied_at", ts, "applied_by", d->cur.by,
			 "hbi_workspace", d->cur.hbi);
}

static json_t *op_show(struct daemon *d)
{
	char err[512], comment[256], code[8192];
	struct nftnl_rule_list *rl = rules_from_kernel(d->cfg.table, NFPROTO_INET, err, sizeof(err));
	struct compiled *comp = NULL;
	struct nft_line *nl = NULL;
	size_t nnl = 0;
	json_t *a = json_pack("{s:b,s:o,s:s}", "ok", 1, "policy", policy_json(d), "table",
			      d->cfg.table);

	json_object_set_new(a, "fqdn", fqdn_status_json(d));	/* name -> addresses, expiry */

	if (!rl) {
		json_object_set_new(a, "table_error", jtext(err));
		return a;
	}
	if (d->cur.text) {
		char cerr[512];
		comp = compile_current(d, true, cerr, sizeof(cerr));
		if (comp && comp->nft)
			nl = nft_lines(comp->nft, &nnl);
	}
	json_t *rules = json_array();
	struct nftnl_rule_list_iter *it = nftnl_rule_list_iter_create(rl);
	struct nftnl_rule *r;
	char chain[64] = "";
	size_t pos = 0;
	while (it && (r = nftnl_rule_list_iter_next(it))) {
		const char *ch = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
		uint64_t pk = 0, by = 0;
		enum rule_category cat;
		char dir[16] = "", name[200] = "";
		if (strcmp(chain, ch) != 0) {
			snprintf(chain, sizeof(chain), "%s", ch);
			pos = 0;
		}
		rule_comment(r, comment, sizeof(comment));
		bool has_counter = rule_counter_get(r, &pk, &by);
		rule_bytecode_line(r, code, sizeof(code));
		json_t *jr = json_pack("{s:s,s:I,s:I,s:s,s:s,s:s}", "chain", ch, "position", (json_int_t)pos + 1,
				       "handle", (json_int_t)nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE),
				       "comment", comment, "action", rule_action_name(rule_action_of(r)),
				       "bytecode", code);
		if (rule_origin(r, &cat, dir, sizeof(dir), name, sizeof(name)) == 0) {
			json_object_set_new(jr, "category", jtext(category_name(cat)));
			json_object_set_new(jr, "direction", jtext(dir));
			json_object_set_new(jr, "rule", jtext(name));
		} else {
			json_object_set_new(jr, "category", jtext("unknown"));
		}
		const char *tgt = rule_target_chain(r);
		if (tgt[0])
			json_object_set_new(jr, "target", jtext(tgt));
		if (has_counter) {
			json_object_set_new(jr, "packets", json_integer((json_int_t)pk));
			json_object_set_new(jr, "bytes", json_integer((json_int_t)by));
		}
		for (size_t i = 0; i < nnl; i++)
			if (nl[i].index == pos && strcmp(nl[i].chain, ch) == 0) {
				json_object_set_new(jr, "nft", jtext(nl[i].text ? nl[i].text : ""));
				break;
			}
		json_array_append_new(rules, jr);
		pos++;
	}
	if (it)
		nftnl_rule_list_iter_destroy(it);
	json_object_set_new(a, "rules", rules);
	for (size_t i = 0; i < nnl; i++)
		free(nl[i].text);
	free(nl);
	compiled_free(comp);
	nftnl_rule_list_free(rl);
	return a;
}

/* ---- verify --------------------------------------------------------------- */

static void replay_binary(struct daemon *d, char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n;

	if (d->cfg.pcap_replay && d->cfg.pcap_replay[0]) {
		snprintf(buf, len, "%s", d->cfg.pcap_replay);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(buf, len, "%s/pcap-replay", dirname(self));
		if (access(buf, X_OK) == 0)
			return;
	}
	snprintf(buf, len, "pcap-replay");	/* from PATH */
}

/* Runs argv, its stdout and stderr into *out (capped).  Returns the exit
 * status, 128+signal, or -1 when it could not run (message in *out). */
static int run_capture(char *const argv[], char **out)
{
	int p[2];
	pid_t pid;
	char *buf = calloc(1, REPLAY_OUTPUT_MAX + 64);
	size_t len = 0;
	int status = 0;
	time_t deadline = mono_now() + REPLAY_TIMEOUT_S;

	*out = buf;
	if (!buf || pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		snprintf(buf, REPLAY_OUTPUT_MAX, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);	/* the daemon blocks them for signalfd */
		signal(SIGPIPE, SIG_DFL);
		/* dies with the verify job (which dies with filterd): a replay
		 * outlived a filterd killed with -9 */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(p[1], 1);
		dup2(p[1], 2);
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, 0);
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		int left = (int)(deadline - mono_now());
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		if (left <= 0 || poll(&pf, 1, left * 1000) <= 0) {
			kill(pid, SIGKILL);
			snprintf(buf + len, 64, "\n(killed after %d s)\n", REPLAY_TIMEOUT_S);
			len += strlen(buf + len);
			break;
		}
		char tmp[4096];
		ssize_t r = read(p[0], tmp, sizeof(tmp));
		if (r <= 0)
			break;
		size_t take = (size_t)r;
		if (len + take > REPLAY_OUTPUT_MAX)
			take = REPLAY_OUTPUT_MAX - len;
		memcpy(buf + len, tmp, take);
		len += take;
	}
	close(p[0]);
	buf[len] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* This host's addresses, "A,B,..." (getifaddrs; loopback left out: it is
 * local to pcap-replay anyway), or "" when none can be read. */
static void host_addresses(char *buf, size_t len)
{
	struct ifaddrs *ifa, *i;
	size_t off = 0;

	buf[0] = '\0';
	if (getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i; i = i->ifa_next) {
		char a[INET6_ADDRSTRLEN];
		const void *p;
		int fam = i->ifa_addr ? i->ifa_addr->sa_family : AF_UNSPEC;

		if (fam == AF_INET)
			p = &((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		else if (fam == AF_INET6)
			p = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		else
			continue;
		if ((i->ifa_flags & IFF_LOOPBACK) || !inet_ntop(fam, p, a, sizeof(a)))
			continue;
		if (off + strlen(a) + 2 >= len)
			break;
		off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "", a);
	}
	freeifaddrs(ifa);
}

/* The dump a job's child saved for its replays (verify_captures names it by
 * the child's pid): the child removes it, but not when it is killed. */
static void job_dump_path(const struct daemon *d, pid_t pid, char *buf, size_t len)
{
	snprintf(buf, len, "%s/verify-%d.ruleset", d->cfg.state_dir, (int)pid);
}

static json_t *verify_captures(struct daemon *d, struct ruleset *live, bool *failed)
{
	char local[8192];

	host_addresses(local, sizeof(local));
	json_t *out = json_array();
	char dump[4096], bin[PATH_MAX], err[512];
	char *list = strdup(d->cfg.verify_captures ? d->cfg.verify_captures : ""), *save = NULL, *tok;
	bool saved = false;

	job_dump_path(d, getpid(), dump, sizeof(dump));
	replay_binary(d, bin, sizeof(bin));
	for (tok = list ? strtok_r(list, ",", &save) : NULL; tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (!*tok)
			continue;
		char *colon = strrchr(tok, ':');
		json_t *jc = json_object();
		json_array_append_new(out, jc);
		if (!colon) {
			json_object_set_new(jc, "capture", jtext(tok));
			json_object_set_new(jc, "status", jtext("error"));
			json_object_set_new(jc, "output", jtext("verify_captures: expected CAPTURE:EXPECTATIONS"));
			*failed = true;
			continue;
		}
		*colon = '\0';
		json_object_set_new(jc, "capture", jtext(tok));
		json_object_set_new(jc, "expect", jtext(colon + 1));
		if (!saved && ruleset_save(live, dump, err, sizeof(err)) < 0) {
			json_object_set_new(jc, "status", jtext("error"));
			json_object_set_new(jc, "output", jtext(err));
			*failed = true;
			continue;
		}
		saved = true;
		/* the host's own addresses: a capture of this host's traffic
		 * (its drop log) has its direction from them, not guessed */
		char *argv[12] = { bin, "--ruleset", dump, "--tags", d->cfg.tags, "--expect", colon + 1 };
		int na = 7;

		if (local[0]) {
			argv[na++] = "--local";
			argv[na++] = local;
		}
		argv[na++] = tok;
		argv[na] = NULL;
		char *output = NULL;
		int rc = run_capture(argv, &output);
		json_object_set_new(jc, "exit", json_integer(rc));
		json_object_set_new(jc, "status", jtext(rc == 0 ? "pass" : rc == 1 ? "fail" : "error"));
		json_object_set_new(jc, "output", jtext(output ? output : ""));
		free(output);
		if (rc != 0)
			*failed = true;
	}
	if (saved)
		unlink(dump);
	free(list);
	return out;
}

/* One verify job at a time.  The table comparison is quick and done in the
 * loop; the replays (up to REPLAY_TIMEOUT_S each) run in a child forked for
 * them, which writes their JSON array to a pipe the loop reads: every other
 * request is answered meanwhile.  A verify asked for while one runs waits for
 * that one's answer (no second job: readers cannot multiply the work). */
/* 540 s (filterctl waits 600 s); FILTERD_VERIFY_TIMEOUT_S shortens it for the tests */
static int verify_timeout(void)
{
	static int t;

	if (!t) {
		const char *e = getenv("FILTERD_VERIFY_TIMEOUT_S");
		int v = e ? atoi(e) : 0;

		t = v > 0 && v < 540 ? v : 540;
	}
	return t;
}
#define VERIFY_TIMEOUT_S verify_timeout()
#define VERIFY_RESULT_MAX (8u << 20)
#define VERIFY_WAITERS 64

static struct {
	pid_t pid;
	int fd;				/* the result pipe; -1: no job */
	char *buf;
	size_t len, cap;
	json_t *answer;			/* the comparison's part of the answer */
	bool failed;			/* the comparison found differences */
	time_t started, deadline;	/* mono_now() */
	uint64_t waiters[VERIFY_WAITERS];
	size_t nwaiters;
	uint64_t gen;			/* d->gen when it compared */
	uint64_t next[VERIFY_WAITERS];	/* asked after the policy or table changed */
	size_t nnext;
} job = { .fd = -1 };

static size_t captures_configured(const struct daemon *d)
{
	size_t n = 0;
	const char *p = d->cfg.verify_captures;

	for (; p && *p; p++)
		if (*p != ',' && *p != ' ' && (p == d->cfg.verify_captures || p[-1] == ',' || p[-1] == ' '))
			n++;
	return n;
}

/* The child: no descriptor of the daemon's but the pipe (a replay must not
 * hold the control socket or the netlink sockets), signals as a fresh
 * process has them, its own process group (a timeout kills the replay too),
 * and it dies with the daemon. */
static void verify_child(struct daemon *d, struct ruleset *live, int wfd)
{
	sigset_t none;
	bool failed = false;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (wfd > 3)
		close_range(3, (unsigned)wfd - 1, 0);
	close_range((unsigned)wfd + 1, ~0U, 0);
	json_t *caps = verify_captures(d, live, &failed);
	char *txt = caps ? json_dumps(caps, JSON_COMPACT) : NULL;
	size_t len = txt ? strlen(txt) : 0, off = 0;

	while (off < len) {
		ssize_t w = write(wfd, txt + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(3);
		off += (size_t)w;
	}
	_exit(txt ? 0 : 2);
}

/* The whole answer: the comparison's part with the captures' results, or
 * with why they have none (the job failed, timed out, filterd is stopping). */
static json_t *answer_finish(json_t *a, json_t *caps, bool failed, const char *caps_error,
			     size_t waiting)
{
	json_object_set_new(a, "captures", caps ? caps : json_array());
	if (caps_error)
		json_object_set_new(a, "captures_error", jtext(caps_error));
	failed = failed || caps_error;
	json_object_set_new(a, "clean", json_boolean(!failed));
	dlog("event=verify differences=%zu captures=%zu result=%s waiting=%zu%s%s%s",
	     json_array_size(json_object_get(a, "differences")), json_array_size(caps),
	     failed ? "failed" : "clean", waiting, caps_error ? " error=\"" : "",
	     caps_error ? caps_error : "", caps_error ? "\"" : "");
	return a;
}

static json_t *job_start(struct daemon *d, const uint64_t *who, size_t nwho, bool direct);

static void job_answer(struct daemon *d, json_t *caps, bool caps_failed, const char *caps_error)
{
	json_t *a = answer_finish(job.answer, caps, job.failed || caps_failed, caps_error,
				  job.nwaiters);

	job.answer = NULL;
	for (size_t i = 0; i < job.nwaiters; i++)
		ctl_answer(d, job.waiters[i], json_incref(a));
	json_decref(a);
	job.nwaiters = 0;
	if (job.nnext && !d->quit) {	/* those who asked after a change: a job of their own */
		uint64_t who[VERIFY_WAITERS];
		size_t n = job.nnext;

		memcpy(who, job.next, n * sizeof(*who));
		job.nnext = 0;
		job_start(d, who, n, false);
	}
}

/* Ends the job with why its captures have no results. */
static void job_fail(struct daemon *d, const char *why)
{
	job_answer(d, NULL, true, why);
}

static void job_reap(struct daemon *d)
{
	int status = 0;
	char dump[4096];

	if (job.fd >= 0) {
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, job.fd, NULL);
		close(job.fd);
		job.fd = -1;
	}
	if (job.pid > 0) {
		while (waitpid(job.pid, &status, 0) < 0 && errno == EINTR)
			;
		job_dump_path(d, job.pid, dump, sizeof(dump));
		unlink(dump);
	}
	job.pid = 0;
	free(job.buf);
	job.buf = NULL;
	job.len = job.cap = 0;
	(void)status;
}

static void job_read(struct daemon *d)
{
	for (;;) {
		if (job.cap - job.len < 4096) {
			size_t nc = job.cap ? job.cap * 2 : 65536;
			char *nb = nc <= VERIFY_RESULT_MAX ? realloc(job.buf, nc + 1) : NULL;
			if (!nb) {
				kill(-job.pid, SIGKILL);
				job_reap(d);
				job_fail(d, "the replays' report is too large");
				return;
			}
			job.buf = nb;
			job.cap = nc;
		}
		ssize_t r = read(job.fd, job.buf + job.len, job.cap - job.len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r > 0) {
			job.len += (size_t)r;
			continue;
		}
		break;				/* end of file: the child is done */
	}
	json_error_t je;
	json_t *caps = json_loadb(job.buf, job.len, 0, &je);
	pid_t pid = job.pid;

	job_reap(d);
	if (!json_is_array(caps)) {
		json_decref(caps);
		dlog("event=error what=verify-job pid=%d error=\"no report from the replays\"", (int)pid);
		job_fail(d, "the replay job ended without a report");
		return;
	}
	bool failed = false;
	size_t i;
	json_t *c;

	json_array_foreach(caps, i, c)
		if (strcmp(json_string_value(json_object_get(c, "status")) ?: "", "pass") != 0)
			failed = true;
	job_answer(d, caps, failed, NULL);
}

/* An answer to clients who are waiting already (ctl_answer), or, when
 * direct, to the one asking now (returned; NULL for the others). */
static json_t *answer_now(struct daemon *d, json_t *a, const uint64_t *who, size_t n, bool direct)
{
	if (direct)
		return a;
	for (size_t i = 0; i < n; i++)
		ctl_answer(d, who[i], json_incref(a));
	json_decref(a);
	return NULL;
}

/* Compares the live table with a fresh compile, then replays the captures
 * in a child for the clients who; direct: who[0] is the one asking now. */
static json_t *job_start(struct daemon *d, const uint64_t *who, size_t nwho, bool direct)
{
	char err[512];
	struct compiled *want;
	struct ruleset *live;
	struct rs_diffs diffs = {0};

	want = compile_current(d, false, err, sizeof(err));
	if (!want)
		return answer_now(d, json_pack("{s:b,s:s}", "ok", 0, "error", err), who, nwho, direct);
	live = ruleset_from_kernel(d->cfg.table, NFPROTO_INET, err, sizeof(err));
	if (!live) {
		compiled_free(want);
		return answer_now(d, json_pack("{s:b,s:s,s:b}", "ok", 1, "clean", 0, "error", err),
				  who, nwho, direct);
	}
	long n = ruleset_compare(want->rs, live, &diffs);
	json_t *jd = json_array();
	for (size_t i = 0; i < diffs.n; i++)
		json_array_append_new(jd, jtext(diffs.v[i]));
	if (n < 0)
		json_array_append_new(jd, jtext("out of memory: the list is incomplete"));
	json_t *a = json_pack("{s:b,s:o,s:o,s:I,s:I,s:I}", "ok", 1,
			       "policy", policy_json(d), "differences", jd,
			       "rules", (json_int_t)ruleset_count_rules(live),
			       "sets", (json_int_t)ruleset_count_named_sets(live),
			       "elements", (json_int_t)ruleset_count_elements(live));
	rs_diffs_free(&diffs);
	compiled_free(want);
	if (!captures_configured(d)) {
		ruleset_free(live);
		return answer_now(d, answer_finish(a, json_array(), n != 0, NULL, nwho), who, nwho,
				  direct);
	}
	int p[2] = { -1, -1 };
	/* only the loop's end is non-blocking: the child writes its report
	 * whole, however large (with O_NONBLOCK on both ends a report over the
	 * pipe's 64 KiB met EAGAIN and the child gave up) */
	pid_t pid = pipe2(p, O_CLOEXEC) < 0 || fcntl(p[0], F_SETFL, O_NONBLOCK) < 0 ? -1 : fork();

	if (pid == 0) {
		close(p[0]);
		verify_child(d, live, p[1]);
	}
	ruleset_free(live);
	if (pid < 0) {
		char why[160];

		snprintf(why, sizeof(why), "cannot start the replays: %s", strerror(errno));
		if (p[0] >= 0) {
			close(p[0]);
			close(p[1]);
		}
		return answer_now(d, answer_finish(a, NULL, true, why, nwho), who, nwho, direct);
	}
	close(p[1]);
	job.answer = a;
	job.failed = n != 0;
	memcpy(job.waiters, who, nwho * sizeof(*who));
	job.nwaiters = nwho;
	job.gen = d->gen;
	job.pid = pid;
	job.fd = p[0];
	job.started = mono_now();
	job.deadline = job.started + VERIFY_TIMEOUT_S;
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = job.fd };
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, job.fd, &ev);
	dlog("event=verify-started pid=%d captures=%zu waiting=%zu", (int)pid, captures_configured(d),
	     nwho);
	return NULL;
}

/* A verify asked for while one runs waits for that one's answer -- if the
 * table and policy are still those it compared (d->gen); else for a job
 * started after it (the joiner got the answer about a policy no longer in
 * force, "clean"). */
static json_t *verify_begin(struct daemon *d, uint64_t client)
{
	if (job.answer) {
		if (job.gen == d->gen && job.nwaiters < VERIFY_WAITERS) {
			job.waiters[job.nwaiters++] = client;
			return NULL;
		}
		if (job.gen != d->gen && job.nnext < VERIFY_WAITERS) {
			job.next[job.nnext++] = client;
			return NULL;
		}
		return json_pack("{s:b,s:s}", "ok", 0, "error", "too many verify requests waiting");
	}
	return job_start(d, &client, 1, true);
}

static bool verify_event(struct daemon *d, int fd)
{
	if (fd < 0 || fd != job.fd)
		return false;
	job_read(d);
	return true;
}

/* The observe tick's part: a job past its time is killed, its waiters told. */
static void verify_sweep(struct daemon *d)
{
	if (job.fd < 0 || mono_now() < job.deadline)
		return;
	kill(-job.pid, SIGKILL);
	job_reap(d);
	dlog("event=error what=verify-job error=\"killed after %d s\"", VERIFY_TIMEOUT_S);
	char msg[80];

	snprintf(msg, sizeof(msg), "the replays did not finish within %d s: killed", VERIFY_TIMEOUT_S);
	job_fail(d, msg);
}

/* At start-up: the dumps of verify jobs a filterd killed with -9 left. */
static void verify_clean_stale(struct daemon *d)
{
	DIR *dir = opendir(d->cfg.state_dir);
	struct dirent *e;
	char path[4096];

	if (!dir)
		return;
	while ((e = readdir(dir))) {
		size_t n = strlen(e->d_name);

		if (strncmp(e->d_name, "verify-", 7) == 0 && n > 15 &&
		    strcmp(e->d_name + n - 8, ".ruleset") == 0) {
			snprintf(path, sizeof(path), "%s/%s", d->cfg.state_dir, e->d_name);
			unlink(path);
		}
	}
	closedir(dir);
}

json_t *verify_status_json(void)
{
	if (job.fd < 0)
		return json_null();
	return json_pack("{s:i,s:I,s:I}", "pid", (int)job.pid,
			 "seconds", (json_int_t)(mono_now() - job.started),
			 "waiting", (json_int_t)(job.nwaiters + job.nnext));
}

void verify_stop(struct daemon *d)
{
	if (job.fd < 0)
		return;
	kill(-job.pid, SIGKILL);
	job_reap(d);
	for (size_t i = 0; i < job.nnext; i++)	/* (d->quit: no job of their own) */
		ctl_answer(d, job.next[i], json_pack("{s:b,s:s}", "ok", 0, "error", "filterd is stopping"));
	job.nnext = 0;
	job_fail(d, "filterd is stopping");
}

/* ---- dispatch -------------------------------------------------------------- */

json_t *observe_handle(struct daemon *d, const struct actor *who, uint64_t client,
		       const char *op, json_t *req, bool *deferred)
{
	(void)who;
	*deferred = false;
	if (strcmp(op, "metrics") == 0) {
		char *t = metrics_text(d);
		if (!t)
			return json_pack("{s:b,s:s}", "ok", 0, "error", "out of memory");
		json_t *a = json_pack("{s:b,s:s,s:s}", "ok", 1, "content_type",
				      "text/plain; version=0.0.4", "metrics", t);
		free(t);
		return a;
	}
	if (strcmp(op, "show") == 0)
		return op_show(d);
	if (strcmp(op, "verify") == 0) {
		json_t *a = verify_begin(d, client);

		*deferred = a == NULL;
		return a;
	}
	if (strcmp(op, "audit") == 0)
		return op_audit(d, req);
	return NULL;
}
