/* privs — the user filterd runs as and the capability it keeps (d_privs.c). */
#ifndef FILTERD_PRIVS_H
#define FILTERD_PRIVS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct config;
struct daemon;

struct run_as {
	bool change;		/* started as root: become uid/gid (privs_become) */
	uid_t uid;
	gid_t gid;
	char name[64];		/* "" when cfg.user is empty */
};

/* cfg.user resolved (before anything is applied, so that a wrong name stops
 * the start at once): 0, or -1 with err (no such user; started as a user
 * other than root and other than that one). */
int privs_resolve(const struct config *c, struct run_as *ra, char *err, size_t errlen);
/* Started as root with cfg.user (ra->change): becomes that user now, before
 * any file is touched, keeping CAP_NET_ADMIN and CAP_CHOWN (the socket's
 * group), the bounding set cut to CAP_NET_ADMIN.  config (the file it was
 * read from, or NULL) and the directories above it must be root's alone.
 * 0, or -1 with err. */
int privs_become(const struct run_as *ra, const char *config, char *err, size_t errlen);
/* The state directory and every file in it readable by this process (else
 * the hbi latch and the roles set at run time would be taken for absent;
 * unwritable is only warned about, privs_drop): 0, or -1 with err naming
 * the first that is not. */
int privs_check_state(const struct config *c, char *err, size_t errlen);
/* Once the socket has its group: CAP_CHOWN goes (a no-op when not held). */
void privs_drop_chown(void);
/* After the start-up apply: keeps CAP_NET_ADMIN only, logs event=user and
 * event=capabilities, and warns about each path it cannot write.  0, or -1
 * when the capabilities cannot be reduced (logged). */
int privs_drop(struct daemon *d, const struct run_as *ra);

#endif
