/* d_privs — what filterd keeps of its privileges once it is up.
 *
 * filterd needs CAP_NET_ADMIN (nftables, NFLOG, NFQUEUE over netlink) and
 * nothing else.  Two ways to run it without uid 0:
 *
 *   - started as the unprivileged user itself, with CAP_NET_ADMIN as an
 *     ambient capability (the systemd unit: User=filterd,
 *     AmbientCapabilities=CAP_NET_ADMIN CAP_CHOWN; systemd gives it its
 *     state, runtime and log directories);
 *   - started as root with `user = NAME` in filterd.conf: after the start-up
 *     apply it gives NAME the files it goes on writing (its state directory
 *     and what is in it, the audit log, the drop capture, the metrics file,
 *     the control socket; never a directory other than state_dir), then
 *     becomes NAME (its groups from the group database), keeping
 *     CAP_NET_ADMIN only, bounding set included when it may clear it.
 *
 * Either way it then checks that it can still write where it must and says in
 * the log what would fail where it cannot (a policy directory it cannot write:
 * `filterctl apply` puts the policy in force, but cannot store it). */
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
		snprintf(err, errlen, "user %s: %s", c->user, errno ? strerror(errno) : "no such user");
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

/* path, if it is a regular file (or a socket) that is not a symbolic link,
 * becomes ra's (group unchanged: the socket keeps socket_group). */
static void give_file(const struct run_as *ra, const char *path)
{
	struct stat st;

	if (!path[0] || lstat(path, &st) < 0)
		return;
	if (!S_ISREG(st.st_mode) && !S_ISSOCK(st.st_mode))
		return;
	if (st.st_uid != ra->uid && lchown(path, ra->uid, (gid_t)-1) < 0)
		dlog("event=warning what=privileges path=%s error=\"chown: %s\"", path, strerror(errno));
}

static void give_with_rotation(const struct run_as *ra, const char *path)
{
	char old[PATH_MAX];

	give_file(ra, path);
	if (path[0] && snprintf(old, sizeof(old), "%s.1", path) < (int)sizeof(old))
		give_file(ra, old);
}

/* The state directory is filterd's own (it made it 0700): it and the regular
 * files in it become ra's. */
static void give_state_dir(const struct run_as *ra, const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *dp;
	struct dirent *e;

	if (dfd < 0) {
		dlog("event=warning what=privileges path=%s error=\"%s\"", dir, strerror(errno));
		return;
	}
	if (fchown(dfd, ra->uid, ra->gid) < 0)
		dlog("event=warning what=privileges path=%s error=\"chown: %s\"", dir, strerror(errno));
	dp = fdopendir(dfd);
	if (!dp) {
		close(dfd);
		return;
	}
	while ((e = readdir(dp))) {
		struct stat st;

		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (fchownat(dfd, e->d_name, ra->uid, ra->gid, AT_SYMLINK_NOFOLLOW) < 0)
			dlog("event=warning what=privileges path=%s/%s error=\"chown: %s\"", dir,
			     e->d_name, strerror(errno));
	}
	closedir(dp);
}

/* Keeps CAP_NET_ADMIN only (as ra's user when ra->change).  Reducing the
 * bounding set needs CAP_SETPCAP; without it (a unit that already bounds the
 * set) only effective and permitted are reduced.  *bounding_extra: how many
 * others the bounding set still holds. */
static int keep_net_admin(const struct run_as *ra, int *bounding_extra)
{
	*bounding_extra = 0;
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
			 CAP_NET_ADMIN) < 0)
		return -1;
	if (ra->change) {
		/* the bounding set first (needs CAP_SETPCAP, which goes with
		 * root), then the ids: capng_change_id keeps the capabilities
		 * across setresuid and applies the set above */
		capng_apply(CAPNG_SELECT_BOUNDS);
		if (capng_change_id((int)ra->uid, (int)ra->gid, CAPNG_INIT_SUPP_GRP) < 0)
			return -1;
	} else if (capng_apply(CAPNG_SELECT_BOTH) < 0 && capng_apply(CAPNG_SELECT_CAPS) < 0) {
		return -1;
	}
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
	if (!capng_have_capability(CAPNG_EFFECTIVE, CAP_NET_ADMIN))
		return -1;
	if (ra->change && (getuid() != ra->uid || geteuid() != ra->uid || getgid() != ra->gid ||
			   getegid() != ra->gid))
		return -1;
	return 0;
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

	if (ra->change) {
		give_state_dir(ra, c->state_dir);
		give_with_rotation(ra, c->audit_log);
		give_with_rotation(ra, c->drop_pcap);
		give_file(ra, c->metrics_file);
		give_file(ra, c->socket);
	}
	if (keep_net_admin(ra, &bextra) < 0) {
		if (ra->change)
			dlog("event=error what=capabilities user=%s uid=%u error=\"cannot become this user with CAP_NET_ADMIN alone\"",
			     ra->name, (unsigned)geteuid());
		else
			dlog("event=warning what=capabilities uid=%u error=\"cannot drop capabilities\"",
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
		     ra->change ? "became this user after start-up" : "started as this user");
	if (bextra)
		dlog("event=capabilities kept=cap_net_admin bounding_set=\"%d others left (no CAP_SETPCAP to reduce it; the systemd unit bounds it)\"",
		     bextra);
	else
		dlog("event=capabilities kept=cap_net_admin bounding_set=cap_net_admin");
	if (geteuid() == 0)
		return 0;
	/* what a user other than root may not be able to do any more */
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
