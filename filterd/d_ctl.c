/* filterd: the control socket.  One JSON request per connection, one JSON
 * answer (protocol in man/filterd.8).  Every request is authorised from the
 * peer's credentials (SO_PEERCRED) against the configured roles; every request
 * that changes or tries to change state, and every refusal, is written to the
 * audit log. */
#include "daemon.h"
#include "d_req.h"
#include "observe.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define CTL_MAX_REQUEST (8u << 20)	/* a policy of 4 MiB, JSON-escaped */
#define CTL_MAX_CLIENTS 64
#define CTL_TIMEOUT_S 10

struct client {
	int fd;
	char *buf;
	size_t len, cap;
	time_t deadline;
	struct actor who;
};

static struct client clients[CTL_MAX_CLIENTS];

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
	unlink(d->cfg.socket);
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
	if (d->cfg.socket_group[0]) {
		struct group *g = getgrnam(d->cfg.socket_group);
		if (!g || chown(d->cfg.socket, 0, g->gr_gid) < 0)
			dlog("event=warning what=socket-group group=%s error=\"%s\"", d->cfg.socket_group,
			     g ? strerror(errno) : "no such group");
	}
	chmod(d->cfg.socket, d->cfg.socket_mode);
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

static enum role role_of(struct daemon *d, const struct actor *a)
{
	gid_t groups[256];
	int ng = 256;
	struct passwd *pw;

	if (a->uid == 0)
		return ROLE_OWNER;
	pw = getpwuid(a->uid);
	if (pw && getgrouplist(pw->pw_name, a->gid, groups, &ng) < 0)
		ng = 0;
	if (!pw) {
		groups[0] = a->gid;
		ng = 1;
	}
	for (int r = ROLE_OWNER; r >= ROLE_READER; r--) {
		const char *list = d->cfg.roles[r];
		if (list_has(list, "user", a->user[0] ? a->user : NULL, a->uid))
			return (enum role)r;
		for (int i = 0; i < ng; i++) {
			struct group *g = getgrgid(groups[i]);
			if (list_has(list, "group", g ? g->gr_name : NULL, groups[i]))
				return (enum role)r;
		}
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
		json_object_set_new(j, "detail", json_string(detail));
	if (pol && pol->text) {
		json_object_set_new(j, "policy", json_string(pol->name ? pol->name : ""));
		json_object_set_new(j, "policy_sha256", json_string(pol->sha256));
		json_object_set_new(j, "workspace", json_string(pol->workspace));
		json_object_set_new(j, "tags_change_number", json_integer(pol->tags_change));
	}
	json_object_set_new(j, "duration_ms", json_real(ms));
	line = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!line)
		return;
	mkdir_parent(d->cfg.audit_log);
	audit_rotate(d, strlen(line) + 1);
	fd = open(d->cfg.audit_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		dlog("event=audit-write-failed file=%s error=\"%s\" record=%s", d->cfg.audit_log,
		     strerror(errno), line);
	} else {
		size_t l = strlen(line);
		line[l] = '\n';
		if (write(fd, line, l + 1) != (ssize_t)(l + 1) || fsync(fd) < 0)
			dlog("event=audit-write-failed file=%s error=\"%s\"", d->cfg.audit_log, strerror(errno));
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
	json_object_set_new(s, "fail_mode", json_string(d->cfg.fail_mode == FAIL_CLOSED ? "closed" : "open"));
	json_object_set_new(s, "ownership", json_string(!d->ownership_probed ? "unknown" :
			    d->ownership_active ? ((d->table_flags & 0x4) ? "owner,persist" : "owner") :
			    "none (drift detection and repair)"));
	json_object_set_new(s, "policy_file", json_string(d->cfg.policy));
	json_object_set_new(s, "tags_file", json_string(d->cfg.tags));
	if (d->tags)
		json_object_set_new(s, "tags_loaded_change_number", json_integer(d->tags->change_number));
	if (d->cur.text) {
		gmtime_r(&d->cur.at, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_set_new(s, "workspace", json_string(d->cur.workspace));
		json_object_set_new(s, "policy", json_string(d->cur.name ? d->cur.name : ""));
		json_object_set_new(s, "policy_sha256", json_string(d->cur.sha256));
		json_object_set_new(s, "tags_change_number", json_integer(d->cur.tags_change));
		json_object_set_new(s, "applied_at", json_string(ts));
		json_object_set_new(s, "applied_by", json_string(d->cur.by));
		json_object_set_new(s, "hbi_workspace", json_boolean(d->cur.hbi));
		json_object_set_new(s, "hbi_locked", json_boolean(hbi_is_locked(d, d->cur.workspace)));
	}
	if (d->current) {
		json_object_set_new(s, "rules", json_integer((json_int_t)d->current->nrules));
		json_object_set_new(s, "sets", json_integer((json_int_t)d->current->nsets));
		json_object_set_new(s, "elements", json_integer((json_int_t)d->current->nelements));
	}
	if (d->pending) {
		gmtime_r(&d->pending_deadline, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_set_new(s, "pending_confirmation",
				    json_pack("{s:s,s:I,s:s}", "until", ts, "seconds_left",
					      (json_int_t)(d->pending_deadline - time(NULL)), "by", d->pending_by));
	} else {
		json_object_set_new(s, "pending_confirmation", json_null());
	}
	json_object_set_new(s, "previous_policy_sha256",
			    d->have_prev ? json_string(d->prev.sha256) : json_null());
	json_object_set_new(s, "counters", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:f}",
		"applies", (json_int_t)d->n_applies, "rejections", (json_int_t)d->n_rejects,
		"rollbacks", (json_int_t)d->n_rollbacks, "incremental_updates", (json_int_t)d->n_incremental,
		"drift_events", (json_int_t)d->n_drift, "refusals", (json_int_t)d->n_refused,
		"last_apply_ms", d->last_apply_ms));
	json_object_set_new(s, "fqdn", fqdn_status_json(d));
	return s;
}

static json_t *apply_answer(const struct apply_res *r, int rc)
{
	json_t *a = json_pack("{s:b}", "ok", rc == 0);

	if (rc != 0) {
		json_object_set_new(a, "error", json_string(r->error));
		if (r->diagnostics)
			json_object_set_new(a, "diagnostics", json_string(r->diagnostics));
		return a;
	}
	json_object_set_new(a, "mode", json_string(r->unchanged ? "unchanged" :
			    r->incremental ? "incremental" : "full"));
	json_object_set_new(a, "rules", json_integer((json_int_t)r->nrules));
	json_object_set_new(a, "sets", json_integer((json_int_t)r->nsets));
	json_object_set_new(a, "elements", json_integer((json_int_t)r->nelements));
	json_object_set_new(a, "elements_added", json_integer((json_int_t)r->nadd));
	json_object_set_new(a, "elements_deleted", json_integer((json_int_t)r->ndel));
	json_object_set_new(a, "ms", json_real(r->ms));
	return a;
}

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
	have = role_of(d, &c->who);
	if (have < need) {
		char msg[256];
		snprintf(msg, sizeof(msg), "permission denied: '%s'%s needs the %s role; %s has %s", op,
			 force ? " --force" : "", role_names[need],
			 c->who.user[0] ? c->who.user : "this user",
			 have == ROLE_NONE ? "no role" : role_names[have]);
		/* every refusal is audited, reads included */
		audit_write(d, &c->who, op, "refused", msg, NULL, 0);
		dlog("event=refused op=%s uid=%u user=%s need=%s", op, (unsigned)c->who.uid,
		     c->who.user, role_names[need]);
		return json_pack("{s:b,s:s,s:s}", "ok", 0, "error", msg, "need_role", role_names[need]);
	}
	if (q.arg_error)
		return json_pack("{s:b,s:s}", "ok", 0, "error", q.arg_error);

	if (strcmp(op, "status") == 0)
		return json_pack("{s:b,s:o}", "ok", 1, "status", status_json(d));

	if (strcmp(op, "reload") == 0 || strcmp(op, "apply") == 0) {
		struct apply_req rq = { .who = &c->who, .force_tags = force };
		if (strcmp(op, "apply") == 0) {
			rq.text = q.policy_text;
			rq.len = q.policy_len;
			rq.name = q.policy_name;
			rq.write_policy = true;
			rq.confirm_within = q.confirm_within;
			if (d->pending && !rq.confirm_within)
				d->pending = false;	/* a plain apply supersedes a pending one */
		}
		rc = daemon_apply(d, &rq, &res);
		audit_write(d, &c->who, op, rc == 0 ? (res.unchanged ? "unchanged" : "applied") : "rejected",
			    rc == 0 ? (rq.confirm_within ? "pending confirmation" : "") : res.error,
			    rc == 0 ? &d->cur : NULL, res.ms);
		json_t *a = apply_answer(&res, rc);
		if (rc == 0 && rq.confirm_within)
			json_object_set_new(a, "confirm_within", json_integer(rq.confirm_within));
		apply_res_free(&res);
		return a;
	}
	if (strcmp(op, "confirm") == 0) {
		if (!d->pending) {
			audit_write(d, &c->who, op, "rejected", "nothing to confirm", NULL, 0);
			return json_pack("{s:b,s:s}", "ok", 0, "error", "nothing to confirm");
		}
		d->pending = false;
		daemon_save_state(d);
		dlog("event=confirmed sha256=%.16s by=%s", d->cur.sha256, c->who.user);
		audit_write(d, &c->who, op, "confirmed", "", &d->cur, 0);
		return json_pack("{s:b}", "ok", 1);
	}
	if (strcmp(op, "rollback") == 0) {
		rc = daemon_rollback(d, &c->who, "requested", &res);
		audit_write(d, &c->who, op, rc == 0 ? "rolled back" : "rejected", rc == 0 ? "" : res.error,
			    rc == 0 ? &d->cur : NULL, res.ms);
		json_t *a = apply_answer(&res, rc);
		apply_res_free(&res);
		return a;
	}
	if (strcmp(op, "roles") == 0)
		return json_pack("{s:b,s:{s:s,s:s,s:s}}", "ok", 1, "roles", "reader", d->cfg.roles[0],
				 "contributor", d->cfg.roles[1], "owner", d->cfg.roles[2]);
	if (strcmp(op, "set-roles") == 0) {
		char detail[512];
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
		snprintf(detail, sizeof(detail), "reader=\"%s\" contributor=\"%s\" owner=\"%s\"%s",
			 d->cfg.roles[0], d->cfg.roles[1], d->cfg.roles[2],
			 rc == 0 ? "" : " (in force, but not saved: the state directory is not writable)");
		audit_write(d, &c->who, op, "changed", detail, NULL, 0);
		dlog("event=roles-changed by=%s %s", c->who.user, detail);
		return json_pack("{s:b,s:{s:s,s:s,s:s},s:b}", "ok", 1, "roles", "reader", d->cfg.roles[0],
				 "contributor", d->cfg.roles[1], "owner", d->cfg.roles[2], "saved", rc == 0);
	}
	if (strcmp(op, "hbi-clear") == 0) {
		const char *ws = q.workspace;
		rc = hbi_clear(d, ws);
		audit_write(d, &c->who, op, rc == 0 ? "cleared" : "failed", ws, NULL, 0);
		dlog("event=hbi-cleared workspace=%s by=%s", ws, c->who.user);
		return rc == 0 ? json_pack("{s:b}", "ok", 1) :
		       json_pack("{s:b,s:s}", "ok", 0, "error", strerror(errno));
	}
	json_t *oa = observe_handle(d, &c->who, op, req);
	if (oa)
		return oa;
	return json_pack("{s:b,s:s}", "ok", 0, "error", "unknown op");
}

static void client_close(struct daemon *d, struct client *c)
{
	if (c->fd >= 0) {
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void reply(struct client *c, json_t *ans)
{
	char *txt = json_dumps(ans, JSON_COMPACT);
	json_decref(ans);
	if (!txt)
		return;
	size_t l = strlen(txt), off = 0;
	txt[l] = '\n';
	/* The socket is non-blocking; give a slow reader a short grace. */
	int flags = fcntl(c->fd, F_GETFL);
	fcntl(c->fd, F_SETFL, flags & ~O_NONBLOCK);
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (off < l + 1) {
		ssize_t w = send(c->fd, txt + off, l + 1 - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(txt);
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
			dlog("event=client-refused uid=%u reason=per-user-limit limit=%d", (unsigned)cr.uid,
			     CTL_MAX_PER_UID);
			refuse(fd, "too many connections from this user");
			continue;
		}
		if (cr.uid != 0 && nfree <= CTL_ROOT_RESERVE) {
			refuse(fd, "too many clients");
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->deadline = time(NULL) + CTL_TIMEOUT_S;
		c->who.via = "socket";
		c->who.uid = cr.uid;
		c->who.gid = cr.gid;
		c->who.pid = cr.pid;
		struct passwd *pw = getpwuid(c->who.uid);
		snprintf(c->who.user, sizeof(c->who.user), "%s", pw ? pw->pw_name : "");
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
		epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
	}
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
		time_t now = time(NULL);
		for (int i = 0; i < CTL_MAX_CLIENTS; i++)
			if (clients[i].fd >= 0 && now > clients[i].deadline) {
				dlog("event=client-timeout uid=%u", (unsigned)clients[i].who.uid);
				client_close(d, &clients[i]);
			}
		return;
	}
	if (!(c = client_of(fd)))
		return;
	for (;;) {
		if (c->len == c->cap) {
			if (c->cap >= CTL_MAX_REQUEST) {
				reply(c, json_pack("{s:b,s:s}", "ok", 0, "error", "request larger than 8 MiB"));
				dlog("event=client-oversized uid=%u", (unsigned)c->who.uid);
				client_close(d, c);
				return;
			}
			size_t nc = c->cap ? c->cap * 2 : 65536;
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
			reply(c, ans);
			client_close(d, c);
			return;
		}
	}
	(void)events;
}

void ctl_close_all(struct daemon *d)
{
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		client_close(d, &clients[i]);
	if (d->ctl_fd >= 0) {
		close(d->ctl_fd);
		unlink(d->cfg.socket);
		d->ctl_fd = -1;
	}
}
