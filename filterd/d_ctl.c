/* filterd: the control socket.  One JSON request per connection, one JSON
 * answer (protocol in man/filterd.8).  Every request is authorised from the
 * peer's credentials (SO_PEERCRED) against the configured roles; every request
 * that changes or tries to change state, and every refusal, is written to the
 * audit log. */
#include "daemon.h"
#include "strbuf.h"
#include "jsonutil.h"
#include "d_req.h"
#include "observe.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define CTL_MAX_REQUEST (8u << 20)	/* a policy of 4 MiB, JSON-escaped */
/* Requests of peers who may not change anything (readers, and users with no
 * role, whose requests are refused) are small: a parsed JSON request costs
 * up to ~80 times its size, and no one without a role may make filterd hold
 * 650 MB to tell them "no" */
#define CTL_MAX_REQUEST_READ (64u << 10)
#define CTL_MAX_CLIENTS 64
#define CTL_TIMEOUT_S 10
/* The whole answer must be taken within this, however slowly a client reads:
 * answers are sent from a buffer as the socket takes them, never blocking the
 * loop (a reader reading 64 KiB every 1.5 s once held it for minutes). */
#define CTL_SEND_TIMEOUT_S 10

#define IDENT_CACHE 32
#define IDENT_TTL_S 30
#define IDENT_GROUPS 64

struct ident {
	bool used;
	uid_t uid;
	gid_t gid;
	time_t at;			/* mono_now() */
	char user[64];			/* "" when unknown or too long to hold whole */
	int ng;
	gid_t groups[IDENT_GROUPS];
	char gname[IDENT_GROUPS][64];	/* "" likewise: matched by gid alone */
};
struct client {
	int fd;
	char *buf;
	size_t len, cap, limit;
	char *out;			/* the answer, while it is being sent */
	size_t outlen, outoff;
	time_t deadline;		/* mono_now() */
	uint64_t id;			/* never reused: a deferred answer finds its client */
	bool waiting;			/* for a deferred answer (ctl_answer) */
	bool resolving;			/* for its identity (ident_ready): not read yet */
	time_t accepted;		/* mono_now() */
	struct actor who;
	struct ident ident;		/* its name and groups, as looked up */
};

static struct client clients[CTL_MAX_CLIENTS];
static uint64_t next_client_id = 1;
/* How long a client waits for a deferred answer: the verify job's limit and a margin. */
#define CTL_WAIT_TIMEOUT_S 560
static dev_t ctl_dev;		/* the socket file this daemon bound */
static ino_t ctl_ino;

static const char *role_names[] = { "reader", "contributor", "owner" };

static void mkdir_parent(const char *path)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(dir, 0755);
			*p = '/';
		}
	}
	mkdir(dir, 0755);
}

int ctl_open(struct daemon *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(d->cfg.socket) >= sizeof(sa.sun_path)) {
		dlog("event=error what=socket path=%s error=\"path too long\"", d->cfg.socket);
		return -1;
	}
	strcpy(sa.sun_path, d->cfg.socket);
	mkdir_parent(d->cfg.socket);
	/* A socket left by a filterd that died is removed; one another filterd
	 * still answers on is not taken over (the other daemon would be cut off
	 * from its operators), and a file that is not a socket is not deleted. */
	struct stat st;

	if (lstat(d->cfg.socket, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			dlog("event=error what=socket path=%s error=\"exists and is not a socket\"",
			     d->cfg.socket);
			return -1;
		}
		/* non-blocking: a daemon that is stopped with a full backlog
		 * (EAGAIN) is alive too, and must not hold this start-up in
		 * connect() where SIGTERM is already blocked */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd >= 0 && (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
				errno == EAGAIN || errno == EINPROGRESS)) {
			close(fd);
			dlog("event=error what=socket path=%s error=\"another filterd answers on this "
			     "socket\" note=\"stop it, or give this one another socket\"", d->cfg.socket);
			return -1;
		}
		if (fd >= 0)
			close(fd);
		unlink(d->cfg.socket);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* create with the final mode: no window where the socket is wider open */
	mode_t old = umask(0777 & ~d->cfg.socket_mode);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		umask(old);
		dlog("event=error what=socket path=%s error=\"%s\"", d->cfg.socket, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	/* The socket's directory may be writable by the user filterd runs as,
	 * who could swap the socket for a link between bind() and a chown by
	 * name (a review had a root-owned file given to socket_group so).  So
	 * the object at the path is opened without following a link, checked
	 * (a socket, one name: a hard link has two), and changed through that
	 * descriptor; the mode came from the umask, no chmod. */
	int pfd = open(d->cfg.socket, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (pfd < 0 || fstat(pfd, &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_nlink != 1 ||
	    st.st_uid != geteuid()) {
		dlog("event=error what=socket path=%s error=\"%s\"", d->cfg.socket,
		     pfd < 0 ? strerror(errno) : "replaced right after it was made (not our socket)");
		if (pfd >= 0)
			close(pfd);
		close(fd);
		return -1;
	}
	ctl_dev = st.st_dev;
	ctl_ino = st.st_ino;
	if (d->cfg.socket_group[0]) {
		struct group *g = getgrnam(d->cfg.socket_group);
		if (!g || fchownat(pfd, "", (uid_t)-1, g->gr_gid, AT_EMPTY_PATH) < 0)
			dlog("event=warning what=socket-group group=%s error=\"%s\"", d->cfg.socket_group,
			     g ? strerror(errno) : "no such group");
	}
	close(pfd);
	if (listen(fd, 32) < 0) {
		close(fd);
		return -1;
	}
	d->ctl_fd = fd;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		clients[i].fd = -1;
	return 0;
}

/* ---- roles ------------------------------------------------------------- */

static bool list_has(const char *list, const char *kind, const char *name, unsigned id)
{
	char *dup = strdup(list ? list : ""), *save = NULL, *tok;
	bool found = false;
	char num[32];

	snprintf(num, sizeof(num), "%u", id);
	for (tok = strtok_r(dup, ", \t", &save); tok && !found; tok = strtok_r(NULL, ", \t", &save)) {
		char *colon = strchr(tok, ':');
		if (!colon)
			continue;
		*colon = '\0';
		const char *v = colon + 1;
		if (strcmp(tok, kind) == 0 && name && strcmp(v, name) == 0)
			found = true;
		else if ((strcmp(kind, "user") == 0 && strcmp(tok, "uid") == 0 && strcmp(v, num) == 0) ||
			 (strcmp(kind, "group") == 0 && strcmp(tok, "gid") == 0 && strcmp(v, num) == 0))
			found = true;
	}
	free(dup);
	return found;
}

/* Who a uid is -- its name and groups -- asked of NSS (getpwuid_r,
 * getgrouplist, getgrgid_r) at most once every IDENT_TTL_S for a uid and
 * primary gid: a slow directory service (LDAP, sssd) is asked once, not on
 * every request.  A change of group membership takes up to IDENT_TTL_S, as
 * with nscd; the role lists are matched against the identity on every
 * request, so set-roles takes effect at once.
 *
 * The lookups run in a thread of their own, never in the loop: a client
 * whose identity is not cached waits, unread, until its lookup comes back
 * (an eventfd wakes the loop), while the loop goes on serving the others,
 * the confirmation timer and reloads.  uid 0 needs no lookup (its role is
 * owner whatever the lists say, its name is root), so root can always
 * confirm or roll back, even with the directory service down. */
static struct ident idents[IDENT_CACHE];
static unsigned long ident_lookups;	/* NSS lookups made (tests: FILTERD_DEBUG_IDENT) */

/* the lookup thread's queue: the loop adds (uid, gid) pairs to todo, the
 * thread moves each to done with its answer and writes the eventfd */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state;			/* 0 not started, 1 running, -1 could not start */
	int efd;
	struct { uid_t uid; gid_t gid; bool busy; } todo[CTL_MAX_CLIENTS];
	size_t ntodo;
	struct ident done[CTL_MAX_CLIENTS];
	size_t ndone;
} lk = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .efd = -1 };

/* getpwuid_r/getgrgid_r with a buffer grown until the entry fits (a group
 * of thousands of members needs more than sysconf's hint) */
#define NSS_BUF_MAX (4u << 20)

static void ident_resolve(uid_t uid, gid_t gid, struct ident *e)
{
	gid_t groups[256];
	int ng = 256;
	size_t blen = 16384;
	char *buf = NULL;
	struct passwd pwd, *pw = NULL;
	int rc;

	memset(e, 0, sizeof(*e));
	e->used = true;
	e->uid = uid;
	e->gid = gid;
	for (;;) {
		char *nb = realloc(buf, blen);

		if (!nb)
			break;
		buf = nb;
		rc = getpwuid_r(uid, &pwd, buf, blen, &pw);
		if (rc != ERANGE || blen >= NSS_BUF_MAX)
			break;
		blen *= 2;
	}
	if (!buf)
		pw = NULL;
	/* a name too long to hold whole is not cut (a cut name could equal
	 * another user's): such a user is known by uid alone */
	if (pw && strlen(pw->pw_name) < sizeof(e->user))
		snprintf(e->user, sizeof(e->user), "%s", pw->pw_name);
	if (!pw || getgrouplist(pw->pw_name, gid, groups, &ng) < 0) {
		/* unknown user, or more groups than are held: the primary group
		 * only (fewer roles, never more) */
		groups[0] = gid;
		ng = 1;
	}
	for (int i = 0; i < ng && e->ng < IDENT_GROUPS; i++) {
		struct group grp, *g = NULL;

		for (;;) {
			rc = buf ? getgrgid_r(groups[i], &grp, buf, blen, &g) : ENOMEM;
			if (rc != ERANGE || blen >= NSS_BUF_MAX)
				break;
			char *nb = realloc(buf, blen * 2);
			if (!nb)
				break;
			buf = nb;
			blen *= 2;
		}
		e->groups[e->ng] = groups[i];
		if (rc == 0 && g && strlen(g->gr_name) < sizeof(e->gname[0]))
			snprintf(e->gname[e->ng], sizeof(e->gname[0]), "%s", g->gr_name);
		e->ng++;
	}
	free(buf);
}

static void *ident_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lk.mu);
	for (;;) {
		size_t k = 0;

		for (;;) {
			for (k = 0; k < lk.ntodo && lk.todo[k].busy; k++)
				;
			if (k < lk.ntodo)
				break;
			pthread_cond_wait(&lk.cv, &lk.mu);
		}
		uid_t uid = lk.todo[k].uid;
		gid_t gid = lk.todo[k].gid;
		struct ident e;

		/* it stays queued, busy, while it is asked: the loop does not
		 * queue it twice, and the other workers pass it by */
		lk.todo[k].busy = true;
		pthread_mutex_unlock(&lk.mu);
		ident_resolve(uid, gid, &e);
		pthread_mutex_lock(&lk.mu);
		for (k = 0; k < lk.ntodo; k++)
			if (lk.todo[k].busy && lk.todo[k].uid == uid && lk.todo[k].gid == gid)
				break;
		if (k < lk.ntodo) {
			memmove(&lk.todo[k], &lk.todo[k + 1], (lk.ntodo - k - 1) * sizeof(lk.todo[0]));
			lk.ntodo--;
		}
		if (lk.ndone < CTL_MAX_CLIENTS)
			lk.done[lk.ndone++] = e;
		uint64_t one = 1;
		if (write(lk.efd, &one, sizeof(one)) < 0) {
			/* the counter is full: the loop is woken already */
		}
	}
	return NULL;
}

/* The threads start at the first lookup, in the loop: after the privileges
 * were dropped (capng_apply changes the calling thread only; a thread made
 * before would keep them).  IDENT_WORKERS of them: one lookup that hangs
 * holds one worker, not every other user's. */
#define IDENT_WORKERS 4

static bool ident_thread(struct daemon *d)
{
	pthread_t t;
	pthread_attr_t at;
	sigset_t all, old;
	int rc = 0, started = 0;

	if (lk.state)
		return lk.state > 0;
	lk.state = -1;
	lk.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (lk.efd < 0) {
		dlog("event=error what=ident-thread error=\"%s\" note=\"user and group lookups run in the loop\"",
		     strerror(errno));
		return false;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lk.efd };
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, lk.efd, &ev) < 0) {
		dlog("event=error what=ident-thread error=\"%s\" note=\"user and group lookups run in the loop\"",
		     strerror(errno));
		close(lk.efd);
		lk.efd = -1;
		return false;
	}
	/* signals stay the loop's (signalfd): the thread blocks them all */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	for (int i = 0; i < IDENT_WORKERS; i++)
		if ((rc = pthread_create(&t, &at, ident_main, NULL)) == 0)
			started++;
	pthread_attr_destroy(&at);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (started == 0) {
		dlog("event=error what=ident-thread error=\"%s\" note=\"user and group lookups run in the loop\"",
		     strerror(rc));
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, lk.efd, NULL);
		close(lk.efd);
		lk.efd = -1;
		return false;
	}
	lk.state = 1;
	return true;
}

static struct ident *ident_cached(uid_t uid, gid_t gid)
{
	time_t now = mono_now();

	for (int i = 0; i < IDENT_CACHE; i++) {
		struct ident *x = &idents[i];

		if (x->used && x->uid == uid && x->gid == gid && now - x->at < IDENT_TTL_S)
			return x;
	}
	return NULL;
}

/* Puts e in the cache (its time is now) in place of an older answer for
 * the same pair, else of the oldest entry. */
static struct ident *ident_store(const struct ident *e)
{
	struct ident *slot = NULL, *oldest = &idents[0];

	for (int i = 0; i < IDENT_CACHE && !slot; i++) {
		struct ident *x = &idents[i];

		if (x->used && x->uid == e->uid && x->gid == e->gid)
			slot = x;
		else if (!x->used || (oldest->used && x->at < oldest->at))
			oldest = x;
	}
	if (!slot)
		slot = oldest;
	*slot = *e;
	slot->at = mono_now();
	ident_lookups++;
	if (getenv("FILTERD_DEBUG_IDENT"))
		dlog("event=ident-lookup uid=%u lookups=%lu", (unsigned)e->uid, ident_lookups);
	return slot;
}

/* The identity of (uid, gid) when it is known now; NULL when its lookup was
 * queued (the client waits for ident_ready).  Without a lookup thread, asked
 * in the loop as before. */
static const struct ident *ident_get(struct daemon *d, uid_t uid, gid_t gid)
{
	const struct ident *id = ident_cached(uid, gid);
	bool queued = false;

	if (id)
		return id;
	if (!ident_thread(d)) {
		struct ident e;

		ident_resolve(uid, gid, &e);
		return ident_store(&e);
	}
	pthread_mutex_lock(&lk.mu);
	for (size_t i = 0; i < lk.ntodo && !queued; i++)
		queued = lk.todo[i].uid == uid && lk.todo[i].gid == gid;
	for (size_t i = 0; i < lk.ndone && !queued; i++)
		queued = lk.done[i].uid == uid && lk.done[i].gid == gid;
	if (!queued && lk.ntodo < CTL_MAX_CLIENTS) {
		lk.todo[lk.ntodo].uid = uid;
		lk.todo[lk.ntodo].gid = gid;
		lk.todo[lk.ntodo].busy = false;
		lk.ntodo++;
		pthread_cond_signal(&lk.cv);
	}
	pthread_mutex_unlock(&lk.mu);
	return NULL;
}

/* A client that goes while its lookup waits: its pair leaves the queue
 * unless another client waits for it too or a worker is asking already. */
static void ident_forget(const struct client *c)
{
	for (int j = 0; j < CTL_MAX_CLIENTS; j++)
		if (&clients[j] != c && clients[j].fd >= 0 && clients[j].resolving &&
		    clients[j].who.uid == c->who.uid && clients[j].who.gid == c->who.gid)
			return;
	pthread_mutex_lock(&lk.mu);
	for (size_t k = 0; k < lk.ntodo; k++)
		if (!lk.todo[k].busy && lk.todo[k].uid == c->who.uid && lk.todo[k].gid == c->who.gid) {
			memmove(&lk.todo[k], &lk.todo[k + 1], (lk.ntodo - k - 1) * sizeof(lk.todo[0]));
			lk.ntodo--;
			break;
		}
	pthread_mutex_unlock(&lk.mu);
}

static enum role role_of(struct daemon *d, const struct client *c)
{
	const struct actor *a = &c->who;
	const struct ident *id = &c->ident;

	if (a->uid == 0)
		return ROLE_OWNER;
	for (int r = ROLE_OWNER; r >= ROLE_READER; r--) {
		const char *list = d->cfg.roles[r];
		if (list_has(list, "user", a->user[0] ? a->user : NULL, a->uid))
			return (enum role)r;
		for (int i = 0; i < id->ng; i++)
			if (list_has(list, "group", id->gname[i][0] ? id->gname[i] : NULL,
				     id->groups[i]))
				return (enum role)r;
	}
	return ROLE_NONE;
}

/* ---- audit ------------------------------------------------------------- */

void audit_write(struct daemon *d, const struct actor *who, const char *op,
		 const char *result, const char *detail, const struct applied *pol,
		 double ms)
{
	char ts[40];
	struct timespec now;
	struct tm tm;
	json_t *j;
	char *line;
	int fd;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + strlen(ts), sizeof(ts) - strlen(ts), ".%03ldZ", now.tv_nsec / 1000000);
	j = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s}", "time", ts,
		      "uid", (json_int_t)(who ? who->uid : 0),
		      "user", who && who->user[0] ? who->user : (who ? "?" : "filterd"),
		      "via", who ? who->via : "daemon", "op", op, "result", result);
	if (!j)
		return;
	if (detail && *detail)
		json_object_set_new(j, "detail", jtext(detail));
	if (pol && pol->text) {
		json_object_set_new(j, "policy", jtext(pol->name ? pol->name : ""));
		json_object_set_new(j, "policy_sha256", jtext(pol->sha256));
		json_object_set_new(j, "workspace", jtext(pol->workspace));
		json_object_set_new(j, "tags_change_number", json_integer(pol->tags_change));
	}
	json_object_set_new(j, "duration_ms", json_real(ms));
	line = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(j);
	if (!line)
		return;
	mkdir_parent(d->cfg.audit_log);
	audit_rotate(d, strlen(line) + 1);
	fd = open(d->cfg.audit_log, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		dlog("event=audit-write-failed file=%s error=\"%s\" record=%s", d->cfg.audit_log,
		     strerror(errno), line);
	} else {
		size_t l = strlen(line);
		struct stat st;
		off_t before = fstat(fd, &st) == 0 ? st.st_size : -1;
		ssize_t w;

		line[l] = '\n';
		w = write(fd, line, l + 1);
		if (w != (ssize_t)(l + 1)) {
			int e = w < 0 ? errno : ENOSPC;

			/* a record cut short (a full disk) is taken back: the next
			 * one used to be glued onto it, a line that is no JSON (a
			 * review's finding); the record goes to the log instead */
			if (w > 0 && before >= 0 && ftruncate(fd, before) < 0)
				e = errno;
			dlog("event=audit-write-failed file=%s error=\"%s\" record=%.*s", d->cfg.audit_log,
			     strerror(e), (int)l, line);
		} else if (fsync(fd) < 0) {
			dlog("event=audit-write-failed file=%s error=\"%s\"", d->cfg.audit_log, strerror(errno));
		}
		close(fd);
	}
	free(line);
}

/* ---- requests ---------------------------------------------------------- */

static json_t *status_json(struct daemon *d)
{
	char ts[32];
	struct tm tm;
	json_t *s = json_object();

	json_object_set_new(s, "table", json_sprintf("inet %s", d->cfg.table));
	json_object_set_new(s, "fail_mode", jtext(d->cfg.fail_mode == FAIL_CLOSED ? "closed" : "open"));
	json_object_set_new(s, "ownership", jtext(!d->ownership_probed ? "unknown" :
			    d->ownership_active ? ((d->table_flags & 0x4) ? "owner,persist" : "owner") :
			    "none (drift detection and repair)"));
	if (d->runs_as[0])
		json_object_set_new(s, "runs_as", jtext(d->runs_as));
	json_object_set_new(s, "policy_file", jtext(d->cfg.policy));
	json_object_set_new(s, "tags_file", jtext(d->cfg.tags));
	if (d->tags)
		json_object_set_new(s, "tags_loaded_change_number", json_integer(d->tags->change_number));
	if (d->cur.text) {
		gmtime_r(&d->cur.at, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_set_new(s, "workspace", jtext(d->cur.workspace));
		json_object_set_new(s, "policy", jtext(d->cur.name ? d->cur.name : ""));
		json_object_set_new(s, "policy_sha256", jtext(d->cur.sha256));
		json_object_set_new(s, "tags_change_number", json_integer(d->cur.tags_change));
		json_object_set_new(s, "applied_at", jtext(ts));
		json_object_set_new(s, "applied_by", jtext(d->cur.by));
		json_object_set_new(s, "hbi_workspace", json_boolean(d->cur.hbi));
		json_object_set_new(s, "hbi_locked", json_boolean(hbi_is_locked(d, d->cur.workspace)));
	}
	{
		const char *il = isolation_latched(d);

		json_object_set_new(s, "isolation_latched", il ? jtext(il) : json_null());
	}
	if (d->current) {
		json_object_set_new(s, "rules", json_integer((json_int_t)d->current->nrules));
		json_object_set_new(s, "sets", json_integer((json_int_t)d->current->nsets));
		json_object_set_new(s, "elements", json_integer((json_int_t)d->current->nelements));
	}
	if (d->pending) {
		time_t until = pending_until_wall(d);

		gmtime_r(&until, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_set_new(s, "pending_confirmation",
				    json_pack("{s:s,s:I,s:s}", "until", ts, "seconds_left",
					      (json_int_t)pending_left(d), "by", d->pending_by));
	} else {
		json_object_set_new(s, "pending_confirmation", json_null());
	}
	json_object_set_new(s, "verify_running", verify_status_json());
	json_object_set_new(s, "previous_policy_sha256",
			    d->have_prev ? jtext(d->prev.sha256) : json_null());
	json_object_set_new(s, "counters", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:f}",
		"applies", (json_int_t)d->n_applies, "rejections", (json_int_t)d->n_rejects,
		"rollbacks", (json_int_t)d->n_rollbacks, "incremental_updates", (json_int_t)d->n_incremental,
		"drift_events", (json_int_t)d->n_drift, "refusals", (json_int_t)d->n_refused,
		"last_apply_ms", d->last_apply_ms));
	json_object_set_new(s, "fqdn", fqdn_status_json(d));
	return s;
}

static json_t *apply_answer(struct daemon *d, const struct apply_res *r, int rc)
{
	json_t *a = json_pack("{s:b}", "ok", rc == 0);

	if (rc != 0) {
		json_object_set_new(a, "error", jtext(r->error));
		if (r->diagnostics)
			json_object_set_new(a, "diagnostics", jtext(r->diagnostics));
		return a;
	}
	json_object_set_new(a, "mode", jtext(r->unchanged ? "unchanged" :
			    r->incremental ? "incremental" : "full"));
	json_object_set_new(a, "rules", json_integer((json_int_t)r->nrules));
	json_object_set_new(a, "sets", json_integer((json_int_t)r->nsets));
	json_object_set_new(a, "elements", json_integer((json_int_t)r->nelements));
	json_object_set_new(a, "elements_added", json_integer((json_int_t)r->nadd));
	json_object_set_new(a, "elements_deleted", json_integer((json_int_t)r->ndel));
	json_object_set_new(a, "ms", json_real(r->ms));
	/* the policy now in force is hbi: inbound connections are judged on
	 * every packet (filterctl's note says so) */
	json_object_set_new(a, "hbi", json_boolean(d->cur.text && d->cur.hbi));
	return a;
}

/* Refusals are audited one by one up to REFUSAL_BUDGET per user a minute;
 * past that they are counted, and one record says how many (a user with no
 * role flooding refused requests once pushed every earlier record out of the
 * audit log's two generations). */
#define REFUSAL_BUDGET 10
#define REFUSAL_USERS 32
/* 60 s; FILTERD_REFUSAL_WINDOW_S shortens it for the tests */
static int refusal_window(void)
{
	static int w;

	if (!w) {
		const char *e = getenv("FILTERD_REFUSAL_WINDOW_S");

		w = e && atoi(e) > 0 && atoi(e) <= 3600 ? atoi(e) : 60;
	}
	return w;
}
#define REFUSAL_WINDOW_S refusal_window()

static struct refusals {
	uid_t uid;
	bool used;
	time_t start;
	unsigned n;
	unsigned long suppressed;
	struct actor who;
} refusals[REFUSAL_USERS];

static void refusals_flush(struct daemon *d, struct refusals *e)
{
	char msg[200];

	if (!e->suppressed)
		return;
	snprintf(msg, sizeof(msg), "%lu further refused, rejected or unchanged requests of this "
		 "user in %d s not recorded one by one (more than %d a minute)", e->suppressed,
		 REFUSAL_WINDOW_S, REFUSAL_BUDGET);
	audit_write(d, &e->who, "refused-summary", "refused", msg, NULL, 0);
	dlog("event=refusals-suppressed uid=%u count=%lu window_s=%d", (unsigned)e->uid,
	     e->suppressed, REFUSAL_WINDOW_S);
	e->suppressed = 0;
}

/* Whether this refusal is recorded one by one. */
static bool refusal_recorded(struct daemon *d, const struct actor *who)
{
	time_t now = mono_now();
	struct refusals *e = NULL, *oldest = &refusals[0];

	for (int i = 0; i < REFUSAL_USERS; i++) {
		if (refusals[i].used && refusals[i].uid == who->uid) {
			e = &refusals[i];
			break;
		}
		if (!refusals[i].used || refusals[i].start < oldest->start)
			oldest = &refusals[i];
	}
	if (!e) {
		e = oldest;
		if (e->used)
			refusals_flush(d, e);
		memset(e, 0, sizeof(*e));
		e->used = true;
		e->uid = who->uid;
		e->start = now;
	}
	if (now - e->start >= REFUSAL_WINDOW_S) {
		refusals_flush(d, e);
		e->start = now;
		e->n = 0;
	}
	e->who = *who;
	if (e->n < REFUSAL_BUDGET) {
		e->n++;
		return true;
	}
	e->suppressed++;
	return false;
}

/* An audit record of a request: one that changed nothing (rejected, or an
 * apply of the policy in force) counts against the user's budget of
 * refusals, so that a contributor cannot push the records that matter out
 * of the rotated log (a review did, with "confirm" and nothing pending);
 * root's are always written. */
static void audit_req(struct daemon *d, const struct actor *who, const char *op,
		      const char *result, const char *detail, const struct applied *pol, double ms)
{
	bool noop = strcmp(result, "rejected") == 0 || strcmp(result, "unchanged") == 0;

	if (noop && who->uid != 0 && !refusal_recorded(d, who))
		return;
	audit_write(d, who, op, result, detail, pol, ms);
}

/* The timer's part: summaries of windows that ended. */
static void refusals_sweep(struct daemon *d)
{
	time_t now = mono_now();

	for (int i = 0; i < REFUSAL_USERS; i++)
		if (refusals[i].used && refusals[i].suppressed &&
		    now - refusals[i].start >= REFUSAL_WINDOW_S)
			refusals_flush(d, &refusals[i]);
}

/* The answer to c's request; NULL when it comes later (c->waiting). */
static json_t *handle(struct daemon *d, struct client *c, json_t *req)
{
	struct ctl_request q;
	const char *op, *qerr;
	enum role have;
	struct apply_res res;
	int rc;

	if (ctl_request_check(req, &q, &qerr) < 0)
		return json_pack("{s:b,s:s}", "ok", 0, "error", qerr);
	op = q.op;
	enum role need = q.need;
	bool force = q.force;
	have = role_of(d, c);
	if (have < need) {
		char msg[256];
		snprintf(msg, sizeof(msg), "permission denied: '%s'%s needs the %s role; %s has %s", op,
			 force ? " --force" : "", role_names[need],
			 c->who.user[0] ? c->who.user : "this user",
			 have == ROLE_NONE ? "no role" : role_names[have]);
		/* every refusal is audited, reads included (past a user's
		 * budget, as a count) */
		if (refusal_recorded(d, &c->who)) {
			audit_write(d, &c->who, op, "refused", msg, NULL, 0);
			dlog("event=refused op=%s uid=%u user=%s need=%s", op, (unsigned)c->who.uid,
			     c->who.user, role_names[need]);
		}
		return json_pack("{s:b,s:s,s:s}", "ok", 0, "error", msg, "need_role", role_names[need]);
	}
	if (q.arg_error)
		return json_pack("{s:b,s:s}", "ok", 0, "error", q.arg_error);

	if (strcmp(op, "status") == 0)
		return json_pack("{s:b,s:o}", "ok", 1, "status", status_json(d));

	if (strcmp(op, "reload") == 0 || strcmp(op, "apply") == 0) {
		struct apply_req rq = { .who = &c->who, .force_tags = force, .force_latch = force };
		if (strcmp(op, "apply") == 0) {
			rq.text = q.policy_text;
			rq.len = q.policy_len;
			rq.name = q.policy_name;
			rq.write_policy = true;
			rq.confirm_within = q.confirm_within;
			if (d->pending && rq.confirm_within) {
				/* one window at a time: a second would make the first
				 * unconfirmed policy the rollback target */
				char msg[300];
				long long left = pending_left(d);

				snprintf(msg, sizeof(msg), "a policy applied by %s is waiting for "
					 "confirmation (%lld s left): confirm or roll it back first",
					 d->pending_by, left > 0 ? left : 0);
				audit_req(d, &c->who, op, "rejected", msg, NULL, 0);
				return json_pack("{s:b,s:s}", "ok", 0, "error", msg);
			}
		}
		bool was_pending = d->pending;

		rc = daemon_apply(d, &rq, &res);
		if (rc == 0 && was_pending && !rq.confirm_within && strcmp(op, "apply") == 0) {
			/* a plain apply supersedes the pending one -- once it is in
			 * force (a rejected one used to cancel the rollback) */
			daemon_pending_drop(d);
			dlog("event=pending-superseded by=%s", c->who.user);
		}
		audit_req(d, &c->who, op, rc == 0 ? (res.unchanged ? "unchanged" : "applied") : "rejected",
			    rc == 0 ? (res.window ? "pending confirmation" : "") : res.error,
			    rc == 0 ? &d->cur : NULL, res.ms);
		json_t *a = apply_answer(d, &res, rc);
		if (rc == 0 && res.state_warning[0])
			json_object_set_new(a, "warning", jtext(res.state_warning));
		if (rc == 0 && res.window)
			json_object_set_new(a, "confirm_within", json_integer(rq.confirm_within));
		else if (rc == 0 && res.no_window) {
			char why[160];

			snprintf(why, sizeof(why), "%s: nothing to confirm", res.no_window);
			json_object_set_new(a, "no_window", jtext(why));
		}
		apply_res_free(&res);
		return a;
	}
	if (strcmp(op, "confirm") == 0) {
		if (!d->pending) {
			audit_req(d, &c->who, op, "rejected", "nothing to confirm", NULL, 0);
			return json_pack("{s:b,s:s}", "ok", 0, "error", "nothing to confirm");
		}
		if (pending_left(d) <= 0) {
			/* the window has ended (the 1 s tick has not rolled
			 * back yet): too late, and the rollback is now */
			audit_write(d, &c->who, op, "rejected", "too late: the confirmation window has ended",
				    NULL, 0);
			daemon_confirm_timeout(d, "confirm", "not confirmed in time",
					       "a confirmation came after the window");
			return json_pack("{s:b,s:s}", "ok", 0, "error",
					 "too late: the confirmation window has ended; filterd rolled back "
					 "to the previous policy (filterctl status says what is in force)");
		}
		if (daemon_pending_end(d) < 0) {	/* an hbi policy latches once it is confirmed */
			/* answered ok, a restart then rolled the confirmed policy
			 * back (a review's finding): the window stays open */
			char msg[600];
			int e = errno;

			snprintf(msg, sizeof(msg), "the confirmation could not be recorded (the policy file "
				 "%s or the state in %s: %s): the window stays open (%lld s left); "
				 "make room and confirm again", d->cfg.policy, d->cfg.state_dir, strerror(e),
				 pending_left(d) > 0 ? pending_left(d) : 0);
			audit_write(d, &c->who, op, "failed", msg, NULL, 0);
			return json_pack("{s:b,s:s}", "ok", 0, "error", msg);
		}
		dlog("event=confirmed sha256=%.16s by=%s", d->cur.sha256, c->who.user);
		audit_write(d, &c->who, op, "confirmed", "", &d->cur, 0);
		return json_pack("{s:b}", "ok", 1);
	}
	if (strcmp(op, "rollback") == 0) {
		rc = daemon_rollback(d, &c->who, "requested", &res);
		audit_req(d, &c->who, op, rc == 0 ? "rolled back" : "rejected", rc == 0 ? "" : res.error,
			    rc == 0 ? &d->cur : NULL, res.ms);
		json_t *a = apply_answer(d, &res, rc);
		apply_res_free(&res);
		return a;
	}
	if (strcmp(op, "roles") == 0)
		return json_pack("{s:b,s:{s:s,s:s,s:s}}", "ok", 1, "roles", "reader", d->cfg.roles[0],
				 "contributor", d->cfg.roles[1], "owner", d->cfg.roles[2]);
	if (strcmp(op, "set-roles") == 0) {
		char *detail = NULL;
		for (int i = 0; i < 3; i++) {
			if (!q.roles[i])
				continue;
			char *n = strdup(q.roles[i]);
			if (!n)
				return json_pack("{s:b,s:s}", "ok", 0, "error", "out of memory");
			free(d->cfg.roles[i]);
			d->cfg.roles[i] = n;
		}
		rc = roles_save(d);
		/* whole lists, however long (a fixed buffer once cut the owner
		 * list off the record) */
		if (asprintf(&detail, "reader=\"%s\" contributor=\"%s\" owner=\"%s\"%s",
			     d->cfg.roles[0], d->cfg.roles[1], d->cfg.roles[2],
			     rc == 0 ? "" : " (in force, but not saved: the state directory is not "
			     "writable)") < 0)
			detail = NULL;
		audit_write(d, &c->who, op, "changed", detail ? detail : "(out of memory)", NULL, 0);
		dlog("event=roles-changed by=%s %s", c->who.user, detail ? detail : "");
		free(detail);
		return json_pack("{s:b,s:{s:s,s:s,s:s},s:b}", "ok", 1, "roles", "reader", d->cfg.roles[0],
				 "contributor", d->cfg.roles[1], "owner", d->cfg.roles[2], "saved", rc == 0);
	}
	if (strcmp(op, "hbi-clear") == 0) {
		const char *ws = q.workspace;
		struct strbuf latched = {0};
		rc = hbi_clear(d, ws, &latched);
		if (rc == 1) {
			char msg[1400];
			snprintf(msg, sizeof(msg), "workspace '%s' is not latched (latched: %s); nothing was changed",
				 ws, latched.n ? sb_str(&latched) : "none");
			sb_free(&latched);
			audit_req(d, &c->who, op, "rejected", msg, NULL, 0);
			return json_pack("{s:b,s:s}", "ok", 0, "error", msg);
		}
		sb_free(&latched);
		/* hbi_clear's errno, before the audit write and the log line
		 * change it (the answer said "File exists") */
		const char *why = rc == 0 ? "" : strerror(errno);
		char detail[1200];

		snprintf(detail, sizeof(detail), "%s%s%s", ws, rc == 0 ? "" : ": ", why);
		audit_write(d, &c->who, op, rc == 0 ? "cleared" : "failed", detail, NULL, 0);
		if (rc == 0)
			dlog("event=hbi-cleared workspace=\"%s\" by=%s", ws, c->who.user);
		else
			dlog("event=hbi-clear-failed workspace=\"%s\" by=%s error=\"%s\"", ws,
			     c->who.user, why);
		return rc == 0 ? json_pack("{s:b}", "ok", 1) :
		       json_pack("{s:b,s:s}", "ok", 0, "error", why);
	}
	bool deferred;
	json_t *oa = observe_handle(d, &c->who, c->id, op, req, &deferred);
	if (oa)
		return oa;
	if (deferred) {
		/* only a hang-up is heard from it now (more bytes would wake
		 * a level-triggered loop for nothing) */
		struct epoll_event ev = { .events = EPOLLRDHUP, .data.fd = c->fd };

		epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev);
		c->waiting = true;
		c->deadline = mono_now() + CTL_WAIT_TIMEOUT_S;
		return NULL;
	}
	return json_pack("{s:b,s:s}", "ok", 0, "error", "unknown op");
}

static void client_close(struct daemon *d, struct client *c)
{
	if (c->fd >= 0 && c->resolving && lk.state > 0)
		ident_forget(c);
	if (c->fd >= 0) {
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	free(c->buf);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Sends what the socket takes now.  1: all sent, 0: more to send, -1: the
 * client is gone. */
static int send_more(struct client *c)
{
	while (c->outoff < c->outlen) {
		ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w <= 0)
			return -1;
		c->outoff += (size_t)w;
	}
	return 1;
}

/* Answers and closes the client -- at once when the socket takes the whole
 * answer, else from the loop as it drains (EPOLLOUT), within
 * CTL_SEND_TIMEOUT_S. */
static void reply(struct daemon *d, struct client *c, json_t *ans)
{
	/* an op that wrote its answer as JSON text itself (op_audit) */
	json_t *raw = json_object_get(ans, "raw_answer");
	char *txt = raw ? strndup(json_string_value(raw), json_string_length(raw)) :
			  json_dumps(ans, JSON_COMPACT | JSON_REAL_PRECISION(9));

	json_decref(ans);
	if (!txt) {
		client_close(d, c);
		return;
	}
	c->waiting = false;
	c->outlen = strlen(txt) + 1;
	txt[c->outlen - 1] = '\n';
	c->out = txt;
	c->outoff = 0;
	if (send_more(c) != 0) {
		client_close(d, c);
		return;
	}
	struct epoll_event ev = { .events = EPOLLOUT, .data.fd = c->fd };

	epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->deadline = mono_now() + CTL_SEND_TIMEOUT_S;
}

/* A local user must not be able to lock the operators out: at most
 * CTL_MAX_PER_UID connections per non-root user, and the last CTL_ROOT_RESERVE
 * slots are root's alone. */
#define CTL_MAX_PER_UID 8
#define CTL_ROOT_RESERVE 4

static void refuse(int fd, const char *why)
{
	char msg[160];
	int n = snprintf(msg, sizeof(msg), "{\"ok\":false,\"error\":\"%s\"}\n", why);

	if (send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* nothing more to tell it */
	}
	close(fd);
}

/* c's identity is known (id NULL: uid 0, no lookup): its name, the size
 * its request may have, and its first read. */
static void client_identified(struct daemon *d, struct client *c, const struct ident *id)
{
	if (c->resolving)		/* the time to send a request starts now */
		c->deadline = mono_now() + CTL_TIMEOUT_S;
	c->resolving = false;
	if (id) {
		c->ident = *id;
		snprintf(c->who.user, sizeof(c->who.user), "%s", id->user);
	}
	/* known before a byte is read: how large a request may be */
	c->limit = role_of(d, c) >= ROLE_CONTRIBUTOR ? CTL_MAX_REQUEST : CTL_MAX_REQUEST_READ;
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = c->fd };
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

void ctl_accept(struct daemon *d)
{
	for (;;) {
		int fd = accept4(d->ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct ucred cr = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
		socklen_t crl = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) < 0) {
			cr.uid = (uid_t)-1;
			cr.gid = (gid_t)-1;
		}
		struct client *c = NULL;
		int nfree = 0, same = 0;
		for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
			if (clients[i].fd < 0) {
				nfree++;
				if (!c)
					c = &clients[i];
			} else if (clients[i].who.uid == cr.uid) {
				same++;
			}
		}
		if (!c) {
			refuse(fd, "too many clients");
			continue;
		}
		if (cr.uid != 0 && same >= CTL_MAX_PER_UID) {
			/* one line per 10 s with a count: a user looping on
			 * connect() wrote 70,000 lines a second */
			static time_t last;
			static unsigned long quiet;
			time_t now = mono_now();

			if (now - last >= 10) {
				dlog("event=client-refused uid=%u reason=per-user-limit limit=%d "
				     "refused_since_last=%lu", (unsigned)cr.uid, CTL_MAX_PER_UID, quiet);
				last = now;
				quiet = 0;
			} else {
				quiet++;
			}
			refuse(fd, "too many connections from this user");
			continue;
		}
		if (cr.uid != 0 && nfree <= CTL_ROOT_RESERVE) {
			refuse(fd, "too many clients");
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->id = next_client_id++;
		c->accepted = mono_now();
		c->deadline = c->accepted + CTL_TIMEOUT_S;
		c->who.via = "socket";
		c->who.uid = cr.uid;
		c->who.gid = cr.gid;
		c->who.pid = cr.pid;
		if (cr.uid == 0) {
			snprintf(c->who.user, sizeof(c->who.user), "root");
			client_identified(d, c, NULL);
		} else {
			const struct ident *id = ident_get(d, cr.uid, cr.gid);

			if (id)
				client_identified(d, c, id);
			else
				c->resolving = true;	/* read once ident_ready has it */
		}
	}
}

/* The lookup thread answered: the answers go into the cache, and the
 * clients that waited for them are read. */
static void ctl_ident_ready(struct daemon *d)
{
	uint64_t x;
	static struct ident got[CTL_MAX_CLIENTS];	/* ~300 KB: not on the stack */
	size_t n;

	if (read(lk.efd, &x, sizeof(x)) < 0) {
		/* woken for nothing: EAGAIN */
	}
	pthread_mutex_lock(&lk.mu);
	n = lk.ndone;
	memcpy(got, lk.done, n * sizeof(got[0]));
	lk.ndone = 0;
	pthread_mutex_unlock(&lk.mu);
	for (size_t i = 0; i < n; i++) {
		const struct ident *id = ident_store(&got[i]);

		for (int j = 0; j < CTL_MAX_CLIENTS; j++) {
			struct client *c = &clients[j];

			if (c->fd >= 0 && c->resolving && c->who.uid == id->uid && c->who.gid == id->gid)
				client_identified(d, c, id);
		}
	}
	/* a client whose pair found the queue full, or whose answer found
	 * the answers full, asks again */
	for (int j = 0; j < CTL_MAX_CLIENTS; j++) {
		struct client *c = &clients[j];
		const struct ident *id;

		if (c->fd >= 0 && c->resolving && (id = ident_get(d, c->who.uid, c->who.gid)))
			client_identified(d, c, id);
	}
}

/* A client that waited IDENT_SLOW_S for its lookup (a directory service
 * that hangs) is known by its uid and primary gid alone: only uid: and gid:
 * role entries match it -- fewer rights, never more.  Not cached: the
 * lookup's answer, when it comes, serves the next request. */
#define IDENT_SLOW_S 5

static void ident_give_up(struct daemon *d, struct client *c)
{
	struct ident e = { .used = true, .uid = c->who.uid, .gid = c->who.gid, .ng = 1 };

	e.groups[0] = c->who.gid;
	dlog("event=ident-slow uid=%u gid=%u waited_s=%d note=\"user and group lookup unanswered: "
	     "known by uid and gid alone (uid: and gid: role entries only)\"",
	     (unsigned)c->who.uid, (unsigned)c->who.gid, IDENT_SLOW_S);
	client_identified(d, c, &e);
}


bool ctl_ident_event(struct daemon *d, int fd)
{
	if (lk.efd < 0 || fd != lk.efd)
		return false;
	ctl_ident_ready(d);
	return true;
}

void ctl_answer(struct daemon *d, uint64_t id, json_t *ans)
{
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (clients[i].fd >= 0 && clients[i].id == id && clients[i].waiting) {
			reply(d, &clients[i], ans);
			return;
		}
	json_decref(ans);		/* it hung up, or timed out */
}

static struct client *client_of(int fd)
{
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (clients[i].fd == fd)
			return &clients[i];
	return NULL;
}

void ctl_event(struct daemon *d, int fd, uint32_t events)
{
	struct client *c;

	if (fd < 0) {
		/* The timer sweep (fd == -1) closes clients past their deadline.
		 * (Not through client_of(): free slots have fd == -1 too.) */
		time_t now = mono_now();
		refusals_sweep(d);
		for (int i = 0; i < CTL_MAX_CLIENTS; i++)
			if (clients[i].fd >= 0 && clients[i].resolving &&
			    now - clients[i].accepted >= IDENT_SLOW_S)
				ident_give_up(d, &clients[i]);
		for (int i = 0; i < CTL_MAX_CLIENTS; i++)
			if (clients[i].fd >= 0 && now > clients[i].deadline) {
				dlog("event=client-timeout uid=%u while=%s", (unsigned)clients[i].who.uid,
				     clients[i].out ? "sending-answer" :
				     clients[i].waiting ? "waiting-for-answer" :
				     clients[i].resolving ? "looking-up-user" : "reading-request");
				client_close(d, &clients[i]);
			}
		return;
	}
	if (!(c = client_of(fd)))
		return;
	if (c->out) {			/* an answer being sent */
		if (send_more(c) != 0)
			client_close(d, c);
		return;
	}
	if (c->waiting) {
		/* hung up before its answer came -- or only shut its sending
		 * side (socat does, once the request is sent): that one still
		 * reads, so it keeps waiting, heard from again only on HUP */
		if (events & (EPOLLHUP | EPOLLERR)) {
			client_close(d, c);
		} else {
			struct epoll_event ev = { .events = 0, .data.fd = c->fd };

			epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev);
		}
		return;
	}
	for (;;) {
		if (c->len == c->cap) {
			if (c->cap >= c->limit) {
				dlog("event=client-oversized uid=%u limit=%zu", (unsigned)c->who.uid,
				     c->limit);
				reply(d, c, json_pack("{s:b,s:s}", "ok", 0, "error",
						      c->limit == CTL_MAX_REQUEST ?
						      "request larger than 8 MiB" :
						      "request larger than 64 KiB (the limit for "
						      "users who may not change the policy)"));
				return;
			}
			size_t nc = c->cap ? c->cap * 2 : 65536;
			if (nc > c->limit)
				nc = c->limit;
			char *nb = realloc(c->buf, nc + 1);
			if (!nb) {
				client_close(d, c);
				return;
			}
			c->buf = nb;
			c->cap = nc;
		}
		ssize_t r = recv(fd, c->buf + c->len, c->cap - c->len, 0);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r == 0 && c->len && !memchr(c->buf, '\n', c->len)) {
			/* the writer half-closed after a request without its
			 * newline: told, not dropped without a word */
			reply(d, c, json_pack("{s:b,s:s}", "ok", 0, "error",
					      "request ended without a newline (one JSON object "
					      "per line)"));
			return;
		}
		if (r <= 0) {
			client_close(d, c);
			return;
		}
		c->len += (size_t)r;
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl) {
			json_error_t je;
			json_t *req = json_loadb(c->buf, (size_t)(nl - c->buf), 0, &je);
			json_t *ans = req ? handle(d, c, req) :
				      json_pack("{s:b,s:s}", "ok", 0, "error", "request is not JSON");
			json_decref(req);
			if (ans || !c->waiting)
				reply(d, c, ans ? ans : json_pack("{s:b,s:s}", "ok", 0, "error",
								  "out of memory"));
			return;
		}
	}
	(void)events;
}

void ctl_close_all(struct daemon *d)
{
	for (int i = 0; i < REFUSAL_USERS; i++)	/* counted refusals get their record */
		if (refusals[i].used)
			refusals_flush(d, &refusals[i]);
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		client_close(d, &clients[i]);
	if (d->ctl_fd >= 0) {
		struct stat st;

		close(d->ctl_fd);
		/* only our own socket: not one another daemon bound since */
		if (stat(d->cfg.socket, &st) == 0 && st.st_dev == ctl_dev && st.st_ino == ctl_ino)
			unlink(d->cfg.socket);
		d->ctl_fd = -1;
	}
}
