/* filterd — keeps the workspace policy in force on a pool host.
 *
 * One event loop over epoll: signals (signalfd), file changes (inotify on the
 * directories of the policy and tags files, debounced), the control socket,
 * nftables change notifications (NFNLGRP_NFTABLES) and a one-second tick for
 * deadlines.  See man/filterd.8. */
#include "daemon.h"
#include "observe.h"
#include "privs.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <systemd/sd-daemon.h>

#include "version.h"

const char *log_quote(char *out, size_t n, const char *s)
{
	size_t o = 0;

	if (!n)
		return out;
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		char e[5];
		size_t l;

		if (ch == '\\' || ch == '"') {
			e[0] = '\\', e[1] = (char)ch, l = 2;
		} else if (ch == '\n' || ch == '\r' || ch == '\t') {
			e[0] = '\\', e[1] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't', l = 2;
		} else if (ch < 0x20 || ch == 0x7f) {
			snprintf(e, sizeof(e), "\\x%02x", ch);
			l = 4;
		} else {
			e[0] = (char)ch, l = 1;
		}
		if (o + l >= n)
			break;
		memcpy(out + o, e, l);
		o += l;
	}
	out[o] = '\0';
	return out;
}

void dlog(const char *fmt, ...)
{
	va_list ap;
	char line[8192];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* one event, one line, whatever a value held (values that come from a
	 * policy or a client are quoted with log_quote; this is the net) */
	for (char *q = line; *q; q++)
		if ((unsigned char)*q < 0x20 && *q != '\t')
			*q = ' ';
	/* journald stamps lines itself; elsewhere the time is ours to add */
	if (getenv("JOURNAL_STREAM")) {
		fprintf(stderr, "filterd: %s\n", line);
	} else {
		struct timespec ts;
		struct tm tm;
		char t[32];
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ filterd[%d]: %s\n", t, ts.tv_nsec / 1000000, (int)getpid(), line);
	}
	fflush(stderr);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: filterd [--config FILE] [--set KEY=VALUE]... [--policy FILE] [--tags FILE]\n"
		"               [--state-dir DIR] [--socket PATH] [--fail-mode closed|open]\n"
		"               [--ownership auto|on|off] [--check-config] [--version] [--help]\n"
		"Keeps the workspace network policy in force (see filterd(8)).\n");
}

static int add_fd(struct daemon *d, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void arm_ms(int fd, unsigned ms)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L },
	};
	if (!ms)
		its.it_value.tv_nsec = 1;
	timerfd_settime(fd, 0, &its, NULL);
}

/* What inotify watches: the directories of the policy and tags files (editors
 * write, rename and replace), and -- with dns_servers empty, when FQDN rules
 * take their resolvers from it -- /etc/resolv.conf: the file itself (a bind
 * mount or a write in place: the file's inode tells), its directory (replaced
 * by a rename), and where a symlink points (systemd-resolved, resolvconf).
 * A change of it recompiles the policy with the resolvers it names. */
#define RESOLV_CONF "/etc/resolv.conf"
#define N_DIR_WATCH 4

static struct dir_watch {
	int wd;
	char name[256];			/* the file's name in the directory */
	bool resolv;
	bool policy;			/* the policy file */
} dir_watch[N_DIR_WATCH];
static size_t n_dir_watch;
static int resolv_file_wd = -1;
static bool resolv_burst;		/* logged; the debounced reload ends it */
/* In this burst something besides the policy file was touched (the tags
 * file, resolv.conf).  When nothing was and the policy file still holds what
 * filterd last wrote or read (its own write after an apply, a rollback or a
 * confirmation), the debounced reload is skipped: reloading it raced the
 * next request (under ASan a late reload of an earlier write put the file's
 * older policy in force during a window the file could not take). */
static bool burst_other;

static int watch_dir_of(struct daemon *d, const char *path, bool resolv, bool policy)
{
	char a[4096], b[4096];
	const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ATTRIB;
	int wd;

	snprintf(a, sizeof(a), "%s", path);
	snprintf(b, sizeof(b), "%s", path);
	if ((wd = inotify_add_watch(d->inofd, dirname(a), mask)) < 0)
		return -1;
	if (n_dir_watch < N_DIR_WATCH) {
		struct dir_watch *w = &dir_watch[n_dir_watch++];

		w->wd = wd;
		w->resolv = resolv;
		w->policy = policy;
		snprintf(w->name, sizeof(w->name), "%s", basename(b));
	}
	return 0;
}

/* (Re)arms the watch of resolv.conf's inode: after a rename over it, the
 * name is another inode. */
static void watch_resolv_file(struct daemon *d)
{
	resolv_file_wd = inotify_add_watch(d->inofd, RESOLV_CONF, IN_CLOSE_WRITE | IN_MODIFY |
					   IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
}

static int watch_dirs(struct daemon *d)
{
	if (watch_dir_of(d, d->cfg.policy, false, true) < 0 ||
	    watch_dir_of(d, d->cfg.tags, false, false) < 0) {
		dlog("event=error what=inotify error=\"%s\"", strerror(errno));
		return -1;
	}
	if (!d->cfg.dns_servers || !d->cfg.dns_servers[0]) {
		char real[PATH_MAX];

		watch_resolv_file(d);
		if (watch_dir_of(d, RESOLV_CONF, true, false) < 0)
			dlog("event=warning what=inotify file=%s error=\"%s\" note=\"a change of the "
			     "resolvers is applied at the next reload\"", RESOLV_CONF, strerror(errno));
		if (realpath(RESOLV_CONF, real) && strcmp(real, RESOLV_CONF) != 0)
			watch_dir_of(d, real, true, false);
	}
	return 0;
}

static void on_inotify(struct daemon *d)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false, resolv = false;

	for (;;) {
		ssize_t n = read(d->inofd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->wd == resolv_file_wd && resolv_file_wd >= 0 && !(ev->mask & IN_IGNORED))
				resolv = true;
			for (size_t i = 0; ev->len && i < n_dir_watch; i++)
				if (dir_watch[i].wd == ev->wd && strcmp(ev->name, dir_watch[i].name) == 0) {
					if (dir_watch[i].resolv)
						resolv = true;
					else
						hit = true;
					if (!dir_watch[i].policy)
						burst_other = true;
				}
			p += sizeof(*ev) + ev->len;
		}
	}
	if (resolv) {
		burst_other = true;
		watch_resolv_file(d);		/* replaced: watch the new file */
		if (!resolv_burst)		/* one line a burst of writes */
			dlog("event=resolv-conf-changed file=%s action=reload", RESOLV_CONF);
		resolv_burst = true;
		hit = true;
	}
	/* Editors write, rename and touch in bursts: wait for the burst to end. */
	if (hit)
		arm_ms(d->debounce_fd, d->cfg.debounce_ms);
}

static void reload(struct daemon *d, const char *via)
{
	struct actor who = { .uid = geteuid(), .via = via };
	struct apply_res res;

	snprintf(who.user, sizeof(who.user), "filterd");
	sd_notify(0, "RELOADING=1");
	int rc = daemon_apply(d, &(struct apply_req){ .who = &who }, &res);
	if (!res.unchanged || rc != 0)
		audit_write(d, &who, "reload", rc == 0 ? "applied" : "rejected",
			    rc == 0 ? via : res.error, rc == 0 ? &d->cur : NULL, res.ms);
	apply_res_free(&res);
	sd_notifyf(0, "READY=1\nSTATUS=%s", d->cur.text ? "policy in force" : "no policy in force");
}

/* nftables notifications about our table from anybody but us. */
static void on_monitor(struct daemon *d)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	bool foreign = false;

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(d->mon, buf, sizeof(buf));
		if (n < 0 && errno == ENOBUFS) {
			/* the kernel dropped events while we were busy: one
			 * of them may have been a change to our table, so
			 * the table is checked as if it was (a review hid a
			 * rule behind a flood of another table's events) */
			static time_t said;	/* a line a minute at most */
			time_t now = mono_now();

			if (!said || now - said >= 60) {
				said = now;
				dlog("event=warning what=monitor error=\"%s\" note=\"events were lost; the table is checked whole (said once a minute)\"",
				     strerror(errno));
			}
			foreign = true;
			continue;
		}
		if (n <= 0)
			break;
		int len = (int)n;
		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);
			if (type == NFT_MSG_NEWGEN || nlh->nlmsg_pid == nl_portid(d->nl))
				continue;
			const struct nlattr *a;
			mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
				if (mnl_attr_get_type(a) == 1 && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0 &&
				    strcmp(mnl_attr_get_str(a), d->cfg.table) == 0)
					foreign = true;
			}
		}
	}
	if (!foreign || !d->current)
		return;
	char why[512];
	const char *diff = daemon_check_drift(d, why, sizeof(why));
	if (!diff)
		return;
	d->n_drift++;
	d->gen++;
	dlog("event=drift table=inet %s difference=\"%s\" ownership=%s action=%s", d->cfg.table, diff,
	     d->ownership_active ? "active" : "none", d->cfg.repair ? "repair" : "none (repair=off)");
	struct actor who = { .uid = geteuid(), .via = "drift-repair" };
	snprintf(who.user, sizeof(who.user), "filterd");
	audit_write(d, &who, "drift", "detected", diff, &d->cur, 0);
	if (!d->cfg.repair)
		return;		/* only logged: `filterctl verify` lists the differences */
	/* Put back exactly what should be there, as a whole-table replace. */
	struct apply_res res;
	int rc = daemon_repair(d, &res);
	audit_write(d, &who, "repair", rc == 0 ? "applied" : "failed", rc == 0 ? "" : res.error,
		    &d->cur, res.ms);
	apply_res_free(&res);
}

static void on_tick(struct daemon *d)
{
	uint64_t x;
	if (read(d->confirm_fd, &x, sizeof(x)) < 0) {
		/* nothing */
	}
	ctl_event(d, -1, 0);	/* client deadlines */
	if (d->pending && pending_left(d) <= 0)
		daemon_confirm_timeout(d, "timer", "not confirmed in time", NULL);
}

/* A start whose policy or tags file is refused and that finds no table in
 * the kernel (after a reboot: a persistent table outlives filterd, not the
 * kernel) puts the last policy and tags in force back -- state_dir's
 * current.yaml and tags.json -- rather than leave the host unfiltered until
 * someone fixes the files.  The files stay as they are; the next reload
 * reads them again.  0 when it applied them. */
static int startup_fallback(struct daemon *d, const struct actor *boot, bool table_found)
{
	char *tags_path = NULL, *saved_tags = d->cfg.tags, *text;
	struct apply_res res;
	struct stat st;
	int rc;

	if (!d->cur.text || !(tags_path = state_path(d, STATE_TAGS)))
		return -1;
	if (stat(tags_path, &st) < 0 || !(text = strdup(d->cur.text))) {
		free(tags_path);
		return -1;
	}
	d->cfg.tags = tags_path;
	rc = daemon_apply(d, &(struct apply_req){ .who = boot, .startup = true, .text = text,
					       .len = strlen(text), .name = "state: last in force" },
			  &res);
	d->cfg.tags = saved_tags;
	d->tags_sig[0] = '\0';		/* the configured file is read again next time */
	if (rc == 0)
		dlog("event=fallback-applied sha256=%.16s tags_change_number=%ld note=\"the policy or tags file was refused %s: the last policy and tags in force (state_dir) are in force again%s; fix the files and reload\"",
		     d->cur.sha256, d->tags ? d->tags->change_number : -1L,
		     table_found ? "at start" : "and the kernel held no table",
		     table_found ? ", in place of the table found, owned and watched again" : "");
	else
		dlog("event=fallback-failed error=\"%s\"", res.error);
	audit_write(d, boot, "startup-fallback", rc == 0 ? "applied" : "rejected", res.error,
		    rc == 0 ? &d->cur : NULL, res.ms);
	apply_res_free(&res);
	free(text);
	free(tags_path);
	return rc;
}

static int open_monitor(struct daemon *d)
{
	d->mon = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!d->mon || mnl_socket_bind(d->mon, 1u << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0) {
		dlog("event=warning what=monitor error=\"%s\" note=\"drift is not detected\"", strerror(errno));
		if (d->mon)
			mnl_socket_close(d->mon);
		d->mon = NULL;
		return -1;
	}
	int big = 4 << 20;
	setsockopt(mnl_socket_get_fd(d->mon), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	d->mon_fd = mnl_socket_get_fd(d->mon);
	return add_fd(d, d->mon_fd);
}

/* What the daemon holds beyond its loop's parts, given back: at exit, and
 * when start-up fails after the configuration is read (leak checkers see the
 * exit of every run). */
static int release(struct daemon *d, int code)
{
	nl_close(d->nl);
	compiled_free(d->current);
	tagdb_free(d->tags);
	free(d->cur.text);
	free(d->cur.name);
	free(d->prev.text);
	free(d->prev.name);
	config_free(&d->cfg);
	int fds[] = { d->epfd, d->sigfd, d->inofd, d->debounce_fd, d->confirm_fd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(*fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return code;
}

/* Role members this host does not know grant nobody until they exist: fn
 * says so, once for each role list that names some (--check-config to
 * stderr, the start to the log). */
static void unknown_role_members(const struct config *c, void (*fn)(const char *key, const char *names))
{
	static const char *const role_keys[] = { "role.reader", "role.contributor", "role.owner" };

	for (int i = 0; i < 3; i++) {
		char names[1024];

		if (c->roles[i] && roles_unknown(c->roles[i], names, sizeof(names)))
			fn(role_keys[i], names);
	}
}

static void unknown_members_stderr(const char *key, const char *names)
{
	fprintf(stderr, "filterd: warning: %s: not known on this host, so granting nobody until "
		"they are: %s\n", key, names);
}

static void unknown_members_log(const char *key, const char *names)
{
	dlog("event=warning what=%s unknown=\"%s\" note=\"not known on this host: grants nobody until they are\"",
	     key, names);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "policy", required_argument, NULL, 'p' },
		{ "tags", required_argument, NULL, 't' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "socket", required_argument, NULL, 'k' },
		{ "fail-mode", required_argument, NULL, 'f' },
		{ "ownership", required_argument, NULL, 'o' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon dd = { .epfd = -1, .sigfd = -1, .inofd = -1, .debounce_fd = -1, .confirm_fd = -1,
			     .metrics_fd = -1, .ctl_fd = -1, .mon_fd = -1 }, *d = &dd;
	const char *conf = NULL;
	char **sets = calloc((size_t)argc + 1, sizeof(char *));
	size_t nsets = 0;
	bool check_only = false;
	struct diags dg = {0};
	char err[512];
	int c;

	if (!sets)
		return 1;
	while ((c = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
		const char *key = NULL;
		switch (c) {
		case 'c': conf = optarg; break;
		case 's': key = ""; break;
		case 'p': key = "policy"; break;
		case 't': key = "tags"; break;
		case 'S': key = "state_dir"; break;
		case 'k': key = "socket"; break;
		case 'f': key = "fail_mode"; break;
		case 'o': key = "ownership"; break;
		case 'C': check_only = true; break;
		case 'V': printf("filterd %s\n", FILTERD_VERSION); free(sets); return 0;
		case 'h': usage(stdout); free(sets); return 0;
		default: usage(stderr); free(sets); return 2;
		}
		if (key) {
			/* --set KEY=VALUE as given; --policy X as "policy=X" */
			char *kv = NULL;
			if (asprintf(&kv, "%s%s%s", key, *key ? "=" : "", optarg) < 0)
				return 1;
			sets[nsets++] = kv;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	config_defaults(&d->cfg);
	if (config_load(&d->cfg, conf ? conf : FILTERD_CONF, conf == NULL, &dg) < 0) {
		diags_print(&dg, stderr);
		return 2;
	}
	for (size_t i = 0; i < nsets; i++)
		if (config_set(&d->cfg, sets[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "filterd: --set %s: %s\n", sets[i], err);
			return 2;
		}
	for (size_t i = 0; i < nsets; i++)
		free(sets[i]);
	free(sets);
	diags_clear(&dg);
	if (check_only) {
		/* what the start would stop at: the user to become */
		struct run_as ra;
		if (privs_resolve(&d->cfg, &ra, err, sizeof(err)) < 0) {
			fprintf(stderr, "filterd: %s\n", err);
			config_free(&d->cfg);
			return 2;
		}
		unknown_role_members(&d->cfg, unknown_members_stderr);
		printf("policy=%s\ntags=%s\nstate_dir=%s\nsocket=%s\nfail_mode=%s\nownership=%s\n",
		       d->cfg.policy, d->cfg.tags, d->cfg.state_dir, d->cfg.socket,
		       d->cfg.fail_mode == FAIL_CLOSED ? "closed" : "open",
		       d->cfg.ownership == OWN_AUTO ? "auto" : d->cfg.ownership == OWN_ON ? "on" : "off");
		config_free(&d->cfg);
		return 0;
	}

	dlog("event=start version=%s config=%s policy=%s tags=%s state_dir=%s socket=%s fail_mode=%s",
	     FILTERD_VERSION, d->cfg.path ? d->cfg.path : "(defaults)", d->cfg.policy, d->cfg.tags,
	     d->cfg.state_dir, d->cfg.socket, d->cfg.fail_mode == FAIL_CLOSED ? "closed" : "open");
	unknown_role_members(&d->cfg, unknown_members_log);
	/* the user to become, before anything is applied: a wrong name stops here */
	struct run_as run_as;
	if (privs_resolve(&d->cfg, &run_as, err, sizeof(err)) < 0 ||
	    privs_become(&run_as, d->cfg.path, err, sizeof(err)) < 0) {
		dlog("event=error what=user error=\"%s\" note=\"nothing was applied; the rules in force are unchanged\"", err);
		return release(d, 1);
	}
	/* parents as needed (0755), the state directory itself private */
	for (char *q = d->cfg.state_dir + 1; (q = strchr(q, '/')); q++) {
		*q = '\0';
		mkdir(d->cfg.state_dir, 0755);
		*q = '/';
	}
	if (mkdir(d->cfg.state_dir, 0700) < 0 && errno != EEXIST) {
		dlog("event=error what=state_dir dir=%s error=\"%s\"", d->cfg.state_dir, strerror(errno));
		return release(d, 1);
	}
	/* a state the daemon cannot read would be taken for none: the hbi
	 * latch and roles set at run time silently gone (a review: a state
	 * directory a run as root left, then user = NAME) -- stop instead */
	if (privs_check_state(&d->cfg, err, sizeof(err)) < 0) {
		dlog("event=error what=state_dir dir=%s error=\"%s\" note=\"nothing was applied; the rules in force are unchanged\"",
		     d->cfg.state_dir, err);
		return release(d, 1);
	}
	daemon_sweep_temporaries(d);
	daemon_load_state(d);
	roles_load(d);

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	d->debounce_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->confirm_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->nl = nl_open(err, sizeof(err));
	if (d->epfd < 0 || d->sigfd < 0 || d->inofd < 0 || d->debounce_fd < 0 || d->confirm_fd < 0 || !d->nl) {
		dlog("event=error what=setup error=\"%s\"", d->nl ? strerror(errno) : err);
		return release(d, 1);
	}
	add_fd(d, d->sigfd);
	add_fd(d, d->inofd);
	add_fd(d, d->debounce_fd);
	add_fd(d, d->confirm_fd);
	struct itimerspec tick = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	timerfd_settime(d->confirm_fd, 0, &tick, NULL);
	if (ctl_open(d) < 0)
		return release(d, 1);
	privs_drop_chown();	/* the socket has its group: CAP_CHOWN's only use */
	add_fd(d, d->ctl_fd);
	open_monitor(d);
	observe_start(d);
	watch_dirs(d);
	fqdn_init(d);

	/* Startup: a valid policy replaces (and so adopts) whatever table is there;
	 * without one, the table found in the kernel stays in force. */
	struct actor boot = { .uid = geteuid(), .via = "startup" };
	struct apply_res res;
	snprintf(boot.user, sizeof(boot.user), "filterd");
	if (daemon_apply(d, &(struct apply_req){ .who = &boot, .startup = true }, &res) < 0) {
		/* The last policy and tags in force (state_dir) come back --
		 * also over a table found in the kernel (a restart while a file
		 * is broken): kept as it was, filterd neither owned nor watched
		 * it, and a foreign nft delete left the host unfiltered */
		struct nl_table_info info;
		bool found = nl_table_query(d->nl, d->cfg.table, NFPROTO_INET, &info) == 0 && info.exists;

		if (startup_fallback(d, &boot, found) == 0)
			;	/* the last policy and tags in force again (logged) */
		else if (found)
			dlog("event=kept-existing-table table=inet %s flags=0x%x note=\"no valid policy at startup and none kept in the state directory; the table found in the kernel stays in force, not owned nor watched by filterd\"",
			     d->cfg.table, info.flags);
		else
			dlog("event=no-policy-in-force note=\"no valid policy and no table: nothing is filtered until a valid policy is applied\"");
	}
	audit_write(d, &boot, "startup", res.error[0] ? "rejected" : "applied", res.error, &d->cur, res.ms);
	apply_res_free(&res);
	daemon_resume_pending(d);

	if (privs_drop(d, &run_as) < 0) {
		/* more than CAP_NET_ADMIN would stay: not a daemon to keep
		 * running (the table stays as fail_mode says) */
		dlog("event=error what=capabilities note=\"exiting: the capabilities could not be reduced to CAP_NET_ADMIN\"");
		return release(d, 1);
	}
	sd_notifyf(0, "READY=1\nSTATUS=%s\nMAINPID=%d", d->cur.text ? "policy in force" : "no policy in force",
		   (int)getpid());

	while (!d->quit) {
		struct epoll_event evs[32];
		int n = epoll_wait(d->epfd, evs, 32, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			dlog("event=error what=epoll error=\"%s\"", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == d->sigfd) {
				struct signalfd_siginfo si;
				while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGHUP) {
						dlog("event=signal signal=HUP action=reload");
						reload(d, "signal");
					} else {
						dlog("event=signal signal=%s action=exit", si.ssi_signo == SIGTERM ? "TERM" : "INT");
						d->quit = true;
					}
				}
			} else if (fd == d->inofd) {
				on_inotify(d);
			} else if (fd == d->debounce_fd) {
				uint64_t x;
				if (read(fd, &x, sizeof(x)) == sizeof(x)) {
					bool own = !burst_other && daemon_policy_file_unchanged(d);

					resolv_burst = false;
					burst_other = false;
					if (!own)
						reload(d, "inotify");
				}
			} else if (fd == d->confirm_fd) {
				on_tick(d);
			} else if (fd == d->ctl_fd) {
				ctl_accept(d);
			} else if (fd == d->mon_fd) {
				on_monitor(d);
			} else if (observe_event(d, fd)) {
				/* drop log, metrics tick */
			} else if (fqdn_event(d, fd, evs[i].events)) {
				/* DNS answers queued, c-ares sockets and timer */
			} else if (ctl_ident_event(d, fd)) {
				/* user and group lookups answered */
			} else {
				ctl_event(d, fd, evs[i].events);
			}
		}
	}

	sd_notify(0, "STOPPING=1");
	if (d->cfg.fail_mode == FAIL_OPEN && !d->ownership_active) {
		/* fail open without ownership: take the table away ourselves */
		struct ruleset *empty = ruleset_new(d->cfg.table, NFPROTO_INET);
		dlog("event=exit fail_mode=open action=\"delete table inet %s\"", d->cfg.table);
		if (empty) {
			char cmd_err[256];
			(void)cmd_err;
			struct nl_report rep;
			/* replace with an empty table, then nothing is filtered */
			nl_apply_conn(d->nl, empty, 0, NL_FAULT_NONE, &rep);
			ruleset_free(empty);
		}
	} else {
		dlog("event=exit fail_mode=%s table=\"%s\"", d->cfg.fail_mode == FAIL_CLOSED ? "closed" : "open",
		     d->cfg.fail_mode == FAIL_CLOSED ? "stays in force" : "removed by the kernel with its owner");
	}
	fqdn_free(d);
	verify_stop(d);		/* its waiters hear why before the socket closes */
	ctl_close_all(d);
	observe_stop(d);
	if (d->mon)
		mnl_socket_close(d->mon);
	return release(d, d->exit_code);
}
