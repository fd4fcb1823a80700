/* d_privs — what filterd keeps of its privileges once it is up.
 *
 * filterd needs CAP_NET_ADMIN (nftables, NFLOG, NFQUEUE over netlink) and
 * nothing else.  Two ways to run it without uid 0:
 *
 *   - started as the unprivileged user itself, with CAP_NET_ADMIN (and
 *     CAP_CHOWN, for the socket's group) as ambient capabilities: the
 *     systemd unit (User=filterd; systemd gives it its state, runtime and
 *     log directories);
 *   - started as root with `user = NAME` in filterd.conf: it becomes NAME
 *     before it touches any file (privs_become), keeping CAP_NET_ADMIN and,
 *     until the socket has its group, CAP_CHOWN; the bounding set is cut to
 *     CAP_NET_ADMIN while it still may.  Root never opens, creates or chowns
 *     a path NAME could have planted a link in (a review showed what a root
 *     that first wrote its state and then handed it over could be made to
 *     overwrite); NAME's directories are the operator's (or systemd's) to
 *     make, as for the unit.
 *
 * Either way, after the start-up apply, privs_drop() keeps CAP_NET_ADMIN alone
 * and names in the log each path filterd can no longer write and what that
 * breaks (root too: without CAP_DAC_OVERRIDE it cannot write other users'
 * directories). */
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cap-ng.h>
#include <linux/capability.h>

#include "privs.h"

int privs_resolve(const struct config *c, struct run_as *ra, char *err, size_t errlen)
{
	struct passwd *pw;

	memset(ra, 0, sizeof(*ra));
	if (!c->user[0])
		return 0;
	errno = 0;
	pw = getpwnam(c->user);
	if (!pw) {
		/* getpwnam(3): 0, ENOENT, ESRCH, EBADF or EPERM mean not found */
		bool none = errno == 0 || errno == ENOENT || errno == ESRCH || errno == EBADF ||
			    errno == EPERM;

		snprintf(err, errlen, "user %s: %s", c->user, none ? "no such user" : strerror(errno));
		return -1;
	}
	if (strlen(pw->pw_name) >= sizeof(ra->name)) {
		snprintf(err, errlen, "user %s: name too long", c->user);
		return -1;
	}
	snprintf(ra->name, sizeof(ra->name), "%s", pw->pw_name);
	ra->uid = pw->pw_uid;
	ra->gid = pw->pw_gid;
	if (geteuid() == ra->uid)
		return 0;	/* already that user (root: nothing to become) */
	if (geteuid() != 0) {
		snprintf(err, errlen, "user %s: started as uid %u, which cannot become uid %u "
			 "(start filterd as root, or as %s itself)", c->user, (unsigned)geteuid(),
			 (unsigned)ra->uid, ra->name);
		return -1;
	}
	ra->change = true;
	return 0;
}

/* path and every directory above it only root can change (a directory
 * writable by others only with the sticky bit): else the user filterd
 * becomes could rewrite the configuration the next start reads as root. */
static int root_only(const char *path, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	struct stat st;
	char *slash;

	if (!realpath(path, buf)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (bool file = true;; file = false) {
		if (lstat(buf[0] ? buf : "/", &st) < 0) {
			snprintf(err, errlen, "%s: %s", buf[0] ? buf : "/", strerror(errno));
			return -1;
		}
		if (st.st_uid != 0 ||
		    ((st.st_mode & (S_IWGRP | S_IWOTH)) && (file || !(st.st_mode & S_ISVTX)))) {
			snprintf(err, errlen, "user = needs a configuration only root can change, and "
				 "%s is %s (owner uid %u, mode %04o): the user could rewrite %s for the "
				 "next start as root", buf[0] ? buf : "/", st.st_uid ? "not root's" :
				 "writable by others", (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
				 path);
			return -1;
		}
		if (!buf[0])
			return 0;
		slash = strrchr(buf, '/');
		if (!slash)
			return 0;
		*slash = '\0';	/* the parent; "" stands for / */
	}
}

int privs_become(const struct run_as *ra, const char *config, char *err, size_t errlen)
{
	if (!ra->change)
		return 0;
	if (config && root_only(config, err, errlen) < 0)
		return -1;
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_NET_ADMIN) < 0 ||
	    capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_CHOWN) < 0 ||
	    capng_update(CAPNG_ADD, CAPNG_BOUNDING_SET, CAP_NET_ADMIN) < 0) {
		snprintf(err, errlen, "libcap-ng refused the capability sets");
		return -1;
	}
	/* the bounding set while root may (CAP_SETPCAP), then the ids:
	 * capng_change_id() keeps the capabilities above across setresuid */
	if (capng_apply(CAPNG_SELECT_BOUNDS) < 0) {
		snprintf(err, errlen, "cannot cut the bounding set to CAP_NET_ADMIN");
		return -1;
	}
	if (capng_change_id((int)ra->uid, (int)ra->gid, CAPNG_INIT_SUPP_GRP) < 0 ||
	    getuid() != ra->uid || geteuid() != ra->uid || getgid() != ra->gid ||
	    getegid() != ra->gid) {
		snprintf(err, errlen, "cannot become %s (uid %u)", ra->name, (unsigned)ra->uid);
		return -1;
	}
	return 0;
}

int privs_check_state(const struct config *c, char *err, size_t errlen)
{
	DIR *dp;
	struct dirent *e;
	int dfd, ret = 0;

	/* readable: unwritable is only warned about (a read-only state
	 * directory is a supported set-up: the state is then not saved) */
	if (access(c->state_dir, R_OK | X_OK) < 0) {
		snprintf(err, errlen, "%s: %s (uid %u; a state directory left by a run as root "
			 "must be chowned to the user filterd runs as)", c->state_dir, strerror(errno),
			 (unsigned)geteuid());
		return -1;
	}
	dfd = open(c->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dp = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!dp) {
		if (dfd >= 0)
			close(dfd);
		snprintf(err, errlen, "%s: %s", c->state_dir, strerror(errno));
		return -1;
	}
	while (!ret && (e = readdir(dp))) {
		struct stat st;

		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (faccessat(dfd, e->d_name, R_OK, 0) < 0) {
			snprintf(err, errlen, "%s/%s: %s (uid %u; files a run as root left must be "
				 "chowned to the user filterd runs as)", c->state_dir, e->d_name,
				 strerror(errno), (unsigned)geteuid());
			ret = -1;
		}
	}
	closedir(dp);
	return ret;
}

void privs_drop_chown(void)
{
	capng_get_caps_process();
	if (!capng_have_capability(CAPNG_EFFECTIVE, CAP_CHOWN) &&
	    !capng_have_capability(CAPNG_PERMITTED, CAP_CHOWN))
		return;
	if (geteuid() == 0)
		return;		/* root keeps it until privs_drop (it has all of them) */
	capng_update(CAPNG_DROP, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_CHOWN);
	if (capng_apply(CAPNG_SELECT_CAPS) < 0)
		dlog("event=warning what=capabilities error=\"cannot drop CAP_CHOWN\"");
}

/* Keeps CAP_NET_ADMIN only.  Reducing the bounding set needs CAP_SETPCAP;
 * without it (a unit that already bounds the set, or privs_become, which
 * did) only effective and permitted are reduced.  *bounding_extra: how many
 * others the bounding set still holds. */
static int keep_net_admin(int *bounding_extra)
{
	*bounding_extra = 0;
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
			 CAP_NET_ADMIN) < 0)
		return -1;
	if (capng_apply(CAPNG_SELECT_BOTH) < 0 && capng_apply(CAPNG_SELECT_CAPS) < 0)
		return -1;
	capng_get_caps_process();
	for (unsigned cap = 0; cap <= CAP_LAST_CAP; cap++) {
		if (cap == CAP_NET_ADMIN)
			continue;
		if (capng_have_capability(CAPNG_EFFECTIVE, cap) ||
		    capng_have_capability(CAPNG_PERMITTED, cap))
			return -1;
		if (capng_have_capability(CAPNG_BOUNDING_SET, cap))
			(*bounding_extra)++;
	}
	return capng_have_capability(CAPNG_EFFECTIVE, CAP_NET_ADMIN) ? 0 : -1;
}

/* The directory of path (path itself for a directory): must be writable. */
static void check_dir(const char *what, const char *path, bool is_dir, const char *fails)
{
	char buf[PATH_MAX];
	char *slash;

	if (!path[0] || snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return;
	if (!is_dir) {
		slash = strrchr(buf, '/');
		if (!slash)
			snprintf(buf, sizeof(buf), ".");
		else if (slash == buf)
			buf[1] = '\0';
		else
			*slash = '\0';
	}
	if (access(buf, W_OK | X_OK) < 0)
		dlog("event=warning what=privileges %s=%s dir=%s uid=%u error=\"%s\" note=\"%s\"", what,
		     path, buf, (unsigned)geteuid(), strerror(errno), fails);
}

static void check_file(const char *what, const char *path, int mode, const char *fails)
{
	if (path[0] && access(path, mode) < 0 && errno != ENOENT)
		dlog("event=warning what=privileges %s=%s uid=%u error=\"%s\" note=\"%s\"", what, path,
		     (unsigned)geteuid(), strerror(errno), fails);
}

int privs_drop(struct daemon *d, const struct run_as *ra)
{
	const struct config *c = &d->cfg;
	int bextra = 0;

	if (keep_net_admin(&bextra) < 0) {
		dlog("event=error what=capabilities uid=%u error=\"cannot drop capabilities\"",
		     (unsigned)geteuid());
		return -1;
	}
	{
		struct passwd *pw = ra->name[0] ? NULL : getpwuid(geteuid());

		snprintf(d->runs_as, sizeof(d->runs_as), "%s (uid %u), cap_net_admin",
			 ra->name[0] ? ra->name : pw ? pw->pw_name : "?", (unsigned)geteuid());
	}
	if (ra->change || geteuid() != 0)
		dlog("event=user user=%s uid=%u gid=%u note=\"%s\"",
		     ra->name[0] ? ra->name : "(as started)", (unsigned)geteuid(), (unsigned)getegid(),
		     ra->change ? "became this user before touching any file" : "started as this user");
	if (bextra)
		dlog("event=capabilities kept=cap_net_admin bounding_set=\"%d others left (no CAP_SETPCAP to reduce it; the systemd unit bounds it)\"",
		     bextra);
	else
		dlog("event=capabilities kept=cap_net_admin bounding_set=cap_net_admin");
	/* what filterd may not be able to do any more (root as well: it has
	 * no CAP_DAC_OVERRIDE now, and access() checks what it has) */
	check_dir("state_dir", c->state_dir, true,
		  "the state (policy in force, rollback, hbi latch, roles) cannot be saved");
	check_dir("policy", c->policy, false,
		  "filterctl apply and rollback put a policy in force but cannot store it in the policy file");
	check_file("policy", c->policy, R_OK, "the policy file cannot be read: reloads fail");
	check_file("tags", c->tags, R_OK, "the tags file cannot be read: reloads fail");
	check_file("audit_log", c->audit_log, W_OK, "audit records cannot be written");
	check_dir("audit_log", c->audit_log, false,
		  "the audit log cannot be created or rotated");
	check_dir("drop_pcap", c->drop_pcap, false, "the drop capture cannot be rotated");
	check_dir("metrics_file", c->metrics_file, false, "the metrics file cannot be written");
	check_dir("socket", c->socket, false, "the control socket is not removed at exit");
	return 0;
}
