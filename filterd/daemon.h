/* filterd — the pool-host service.  One event loop (epoll): signalfd, inotify on
 * the policy and tags files, timerfds (debounce, confirm deadline, metrics), a
 * netlink socket on NFNLGRP_NFTABLES (drift), and the control socket. */
#ifndef FILTERD_DAEMON_H
#define FILTERD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "compile.h"
#include "config.h"
#include "netlink.h"
#include "servicetags.h"

enum role { ROLE_NONE = -1, ROLE_READER = 0, ROLE_CONTRIBUTOR = 1, ROLE_OWNER = 2 };

/* Who asked: from SO_PEERCRED, or the daemon itself. */
struct actor {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	char user[64];
	const char *via;	/* "socket", "inotify", "signal", "timer", "startup" */
};

struct applied {
	char *text;		/* the policy as applied */
	size_t len;
	char *name;		/* where it came from (path) */
	char sha256[65];
	char workspace[64];
	bool hbi;
	int isolation;		/* enum isolation; -1 unknown (a state file from before) */
	long tags_change;
	time_t at;
	char by[96];
};

struct daemon {
	struct config cfg;
	int epfd, sigfd, inofd, debounce_fd, confirm_fd, metrics_fd;
	int ctl_fd, mon_fd;
	struct nl_conn *nl;
	struct mnl_socket *mon;
	uint32_t table_flags;		/* NFT_TABLE_F_* in use */
	bool ownership_active;		/* the kernel enforces our ownership */
	bool ownership_probed;
	char runs_as[96];		/* "NAME (uid N), CAPS" once privileges are dropped */

	struct tagdb *tags;
	char *tags_raw;			/* the bytes of tags just loaded: kept in state_dir
					 * (tags.json) once an apply with them succeeds */
	size_t tags_raw_len;
	char tags_sig[128];		/* identity of the loaded tags file */
	struct compiled *current;	/* what the kernel holds */
	struct applied cur, prev;	/* current and previous applied policies */
	bool have_prev;

	/* pending confirmation of a safe apply */
	bool pending;
	char policy_file_sha[65];	/* sha256 of what cfg.policy held when filterd
					 * last wrote or read it ("" unknown): an
					 * inotify event with the file still so is
					 * filterd's own write, not a change */
	bool policy_file_stale;	/* a window's policy not written to cfg.policy
				 * (its record could not be saved): written
				 * when the window ends with it in force */
	time_t pending_deadline;	/* on mono_now()'s clock: a step of the wall
					 * clock (NTP at boot) neither ends a window
					 * early nor holds it open; state.json keeps
					 * the wall-clock time it stands for */
	char pending_by[96];
	char pending_sha256[65];	/* the policy waiting (state.json keeps all three) */

	/* counters for status/metrics */
	uint64_t n_applies, n_rejects, n_rollbacks, n_incremental, n_drift, n_refused;
	double last_apply_ms;
	size_t last_delta_add, last_delta_del;

	struct fqdn_state *fqdn;	/* d_fqdn.c: FQDN rules at run time */
	uint64_t gen;			/* changes whenever what is in force or the table
					 * may have changed (apply, repair, drift) */

	bool quit;
	int exit_code;
};

/* Seconds on CLOCK_BOOTTIME: every deadline and rate window in the daemon is
 * on it (a suspended host's time counts; wall-clock steps do not).  Times shown
 * or stored are wall-clock times computed from what is left. */
static inline time_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec;
}
/* The pending window's seconds left (may be <= 0) and its end as a wall-clock time. */
static inline long long pending_left(const struct daemon *d)
{
	return (long long)(d->pending_deadline - mono_now());
}
static inline time_t pending_until_wall(const struct daemon *d)
{
	return time(NULL) + (time_t)pending_left(d);
}

/* log.c-ish: one line per event, "filterd: event=NAME key=value ..." */
void dlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* s as the inside of a quoted log value: backslash, double quote and control
 * characters escaped (\\, \", \n, \r, \t, \xHH), so that text from a policy
 * or a client can neither end the value nor start a line; cut to fit n. */
const char *log_quote(char *out, size_t n, const char *s);

/* d_apply.c */
/* state_dir/name (malloc'ed), or NULL when memory is out. */
char *state_path(struct daemon *d, const char *name);
#define STATE_TAGS "tags.json"	/* the tags in force, beside current.yaml */
struct apply_req {
	const char *text;	/* policy text; NULL = read cfg.policy */
	size_t len;
	const char *name;	/* for diagnostics */
	unsigned confirm_within;	/* seconds; 0 = no confirmation */
	bool force_tags;	/* owner: accept an older tags changeNumber */
	bool force_latch;	/* owner's --force: a lower isolation_mode too */
	bool write_policy;	/* store the text as cfg.policy on success */
	bool rolls_back_unconfirmed;	/* a rollback of the policy of a window:
					 * it becomes no rollback target */
	bool startup;		/* the start-up apply: a window from state.json is
				 * judged after it (daemon_resume_pending), not
				 * taken over by what the policy file holds now */
	const struct actor *who;
};
struct apply_res {
	bool applied;		/* kernel changed */
	bool unchanged;		/* nothing to do */
	bool incremental;
	bool window;		/* a confirmation window opened (confirm_within) */
	const char *no_window;	/* why none opened although asked for, else NULL */
	char error[2048];	/* first error, "" on success */
	char state_warning[512];	/* applied, but a latch or the state record
					 * could not be written: what that means */
	char *diagnostics;	/* all diagnostics, malloc'd, may be NULL */
	size_t nadd, ndel, nrules, nsets, nelements;
	double ms;
};
int daemon_apply(struct daemon *d, const struct apply_req *rq, struct apply_res *res);
/* true when cfg.policy holds what filterd last wrote or read there (an
 * inotify event about it came from filterd's own write, or changed nothing) */
bool daemon_policy_file_unchanged(struct daemon *d);
void apply_res_free(struct apply_res *r);
int daemon_rollback(struct daemon *d, const struct actor *who, const char *why,
		    struct apply_res *res);
int daemon_load_state(struct daemon *d);
void daemon_sweep_temporaries(struct daemon *d);
int daemon_save_state(struct daemon *d);
bool hbi_is_locked(struct daemon *d, const char *workspace);
/* The isolation_mode latched on this host (isolation.json), or NULL. */
const char *isolation_latched(struct daemon *d);
/* After the startup apply: a confirmation window that was open when filterd
 * stopped is kept (its deadline as it was), ended by a rollback when it has
 * passed, or dropped when the policy file holds another policy now. */
void daemon_resume_pending(struct daemon *d);
/* The window ends with the policy in force kept (confirmed, or superseded by
 * a plain apply or the policy file at start-up): an hbi policy latches, the
 * state is saved. */
int daemon_pending_end(struct daemon *d);	/* -1: the policy file or the state not
						 * written; the window stays */
/* The window ends (superseded, dropped at start-up, nothing to roll back to),
 * recorded or not. */
void daemon_pending_drop(struct daemon *d);
/* The window ended unconfirmed: rolls back, logged and audited as done by
 * filterd (via "timer" or "startup"); why is the rollback's reason, note an
 * optional remark on the log line.  daemon_rollback ends the window, or
 * keeps it open for a retry when the rollback fails. */
void daemon_confirm_timeout(struct daemon *d, const char *via, const char *why,
			    const char *note);
/* Roles set at run time (op set-roles), kept in state_dir/roles.json. */
int roles_save(struct daemon *d);
void roles_load(struct daemon *d);
/* Lifts WORKSPACE's hbi latch: 0 done, 1 it is not latched (nothing written;
 * latched, when given, gets the names that are), -1 the file could not be
 * written (errno). */
struct strbuf;
int hbi_clear(struct daemon *d, const char *workspace, struct strbuf *latched);
/* Drift repair: the ruleset in force (d->current) sent again as a whole-table
 * replace, the learned FQDN addresses put back; d->current is kept either way. */
int daemon_repair(struct daemon *d, struct apply_res *res);
/* Checks the live table against d->current; returns NULL when equal, else a
 * description (static or into buf). */
const char *daemon_check_drift(struct daemon *d, char *buf, size_t len);

/* d_ctl.c */
int ctl_open(struct daemon *d);
void ctl_accept(struct daemon *d);
void ctl_event(struct daemon *d, int fd, uint32_t events);
/* true when fd is the user lookups' eventfd (answers taken, their clients read) */
bool ctl_ident_event(struct daemon *d, int fd);
void ctl_close_all(struct daemon *d);
/* A deferred answer for the client with this id (ans is taken; dropped when
 * the client is gone). */
struct json_t;
void ctl_answer(struct daemon *d, uint64_t id, struct json_t *ans);
void audit_write(struct daemon *d, const struct actor *who, const char *op,
		 const char *result, const char *detail, const struct applied *pol,
		 double ms);

/* d_fqdn.c — FQDN rules: c-ares resolution of exact names, DNS answers from
 * the configured resolvers learned through NFQUEUE (see the file's header). */
struct strbuf;
struct json_t;
/* Fills the resolver list and queue number of the compile options. */
void fqdn_compile_opts(struct daemon *d, struct compile_opts *co);
/* After every apply: re-reads the FQDN sets of d->current, restores learned
 * addresses, resolves new names. */
void fqdn_policy_applied(struct daemon *d);
/* Opens the queue and c-ares (once, after the epoll fd exists); failures are
 * logged and leave FQDN destinations closed. */
int fqdn_init(struct daemon *d);
/* true when fd belongs to the FQDN machinery (and was handled). */
bool fqdn_event(struct daemon *d, int fd, uint32_t events);
void fqdn_free(struct daemon *d);
/* "fqdn" of filterctl status: per set the name and the current addresses with
 * their expiry; null without FQDN rules.  New reference. */
struct json_t *fqdn_status_json(struct daemon *d);
/* Prometheus lines (filterd_fqdn_*), for d_metrics.c. */
void fqdn_metrics(struct daemon *d, struct strbuf *sb);

#endif
