/* filterd: validating, applying (whole or incremental), rolling back, and the
 * state directory (what was applied, by whom, the hbi one-way latch). */
#include "daemon.h"
#include "jsonutil.h"
#include "fsutil.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <linux/netfilter.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <linux/netfilter/nf_tables.h>
#include <openssl/evp.h>

#include "dump.h"
#include "fqdn.h"
#include "policy.h"
#include "rsdiff.h"
#include "verify.h"
#include "strbuf.h"

#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST 0x4	/* Linux >= 6.9; Debian 12's headers predate it */
#endif

#define POLICY_MAX_BYTES (4u << 20)

static void sha256_hex(const void *buf, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (!EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL))
		return;
	for (unsigned i = 0; i < mdlen && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	/* a FIFO put in the policy's place is not opened: the open would
	 * block the loop until a writer came (open_regular) */
	int fd = open_regular(path);
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, errno == EINVAL ? "not a regular file" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || (size_t)st.st_size > POLICY_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than the 4 MiB limit", path);
		close(fd);
		return -1;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

/* Writes a file atomically: tmp, fsync, rename, fsync of the directory. */
static int write_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
	char tmp[4096];
	int fd, ret = -1;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open_fresh(tmp, mode);
	if (fd < 0)
		return -1;
	const char *p = buf;
	size_t left = len;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) < 0)
		goto out;
	close(fd);
	fd = -1;
	if (rename(tmp, path) < 0)
		goto out;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		int dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ret < 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
	}
	return ret;
}

static void applied_free(struct applied *a)
{
	free(a->text);
	free(a->name);
	memset(a, 0, sizeof(*a));
}

void apply_res_free(struct apply_res *r)
{
	free(r->diagnostics);
	r->diagnostics = NULL;
}

/* Tags file identity: reloaded only when it changed on disk.  A new file
 * replaces d->tags for the apply; the one before is handed back in *prev
 * (with its signature) for the caller to restore when the apply is
 * rejected -- a refused file (older changeNumber, a tag a policy needs
 * missing) once stayed loaded: verify compiled against it, and a rollback
 * applied the previous policy with it. */
static int ensure_tags(struct daemon *d, char *err, size_t errlen, struct tagdb **prev,
		       char *prev_sig, size_t sig_len)
{
	struct stat st;
	char sig[128];

	if (stat(d->cfg.tags, &st) < 0) {
		snprintf(err, errlen, "%s: %s", d->cfg.tags, strerror(errno));
		return -1;
	}
	snprintf(sig, sizeof(sig), "%lu:%lu:%lld:%ld.%09ld", (unsigned long)st.st_dev,
		 (unsigned long)st.st_ino, (long long)st.st_size, (long)st.st_mtim.tv_sec,
		 st.st_mtim.tv_nsec);
	if (d->tags && strcmp(sig, d->tags_sig) == 0)
		return 0;
	char *raw = NULL;
	size_t rawlen = 0;
	struct tagdb *t = tagdb_load_raw(d->cfg.tags, &raw, &rawlen, err, errlen);
	if (!t)
		return -1;
	free(d->tags_raw);
	d->tags_raw = raw;
	d->tags_raw_len = rawlen;
	if (d->tags)
		dlog("event=tags-loaded file=%s change_number=%ld->%ld tags=%zu prefixes=%zu",
		     d->cfg.tags, d->tags->change_number, t->change_number, t->n, t->total_prefixes);
	else
		dlog("event=tags-loaded file=%s change_number=%ld tags=%zu prefixes=%zu",
		     d->cfg.tags, t->change_number, t->n, t->total_prefixes);
	*prev = d->tags;
	snprintf(prev_sig, sig_len, "%s", d->tags_sig);
	d->tags = t;
	snprintf(d->tags_sig, sizeof(d->tags_sig), "%s", sig);
	return 0;
}

static char *diags_text(const struct diags *dg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return NULL;
	diags_print(dg, m);
	fclose(m);
	return buf;
}

/* notes: false leaves the notes out (an unchanged reload: the fqdn rules'
 * "the sets start empty" was logged on every one, while the sets kept their
 * learned addresses) */
static void log_diags(const struct diags *dg, bool notes)
{
	for (size_t i = 0; i < dg->n; i++) {
		const struct diag *g = &dg->v[i];
		char f[1024], m[2048];

		if (!notes && g->sev == DIAG_NOTE)
			continue;
		/* the message quotes the policy's own text: escaped */
		dlog("event=diagnostic severity=%s file=\"%s\" line=%d col=%d msg=\"%s\"",
		     g->sev == DIAG_ERROR ? "error" : g->sev == DIAG_WARNING ? "warning" : "note",
		     log_quote(f, sizeof(f), g->file ? g->file : "-"), g->line, g->col,
		     log_quote(m, sizeof(m), g->msg));
	}
}

/* ---- hbi latch --------------------------------------------------------- */

char *state_path(struct daemon *d, const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", d->cfg.state_dir, name) < 0)
		return NULL;
	return p;
}

static json_t *load_json(struct daemon *d, const char *name)
{
	char *p = state_path(d, name);
	json_error_t je;
	json_t *j = p ? json_load_file(p, 0, &je) : NULL;

	free(p);
	return j;
}

/* A state file that is there but cannot be read as a JSON object (cut
 * short, emptied, garbage, unreadable): *bad, logged (once a file while it
 * stays bad).  A latch file in that state is taken as set, at its
 * strictest: a damaged hbi.json or isolation.json read as "nothing latched"
 * let a lower policy in (a review's finding). */
static json_t *load_state_json(struct daemon *d, const char *name, bool *bad, bool *warned,
				const char *note)
{
	char *p = state_path(d, name);
	json_error_t je;
	json_t *j = NULL;
	struct stat st;

	*bad = false;
	if (!p) {
		*bad = true;
		return NULL;
	}
	j = json_load_file(p, 0, &je);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
		snprintf(je.text, sizeof(je.text), "not a JSON object");
	}
	if (!j && (stat(p, &st) == 0 || errno != ENOENT))
		*bad = true;
	if (*bad && !*warned)
		dlog("event=state-unreadable file=%s error=\"%s\" note=\"%s\"", p, je.text, note);
	*warned = *bad;
	free(p);
	return j;
}

static bool hbi_warned, iso_warned;
#define LATCH_NOTE "the latch is taken as the policy in force sets it, until an owner repairs or clears it"
#define HBI_UNREADABLE "(hbi.json unreadable)"

bool hbi_is_locked(struct daemon *d, const char *workspace)
{
	bool bad;
	json_t *j = load_state_json(d, "hbi.json", &bad, &hbi_warned, LATCH_NOTE), *v;
	size_t i;
	bool found = bad && d->cur.text && d->cur.hbi;

	json_array_foreach(json_object_get(j, "workspaces"), i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), workspace) == 0)
			found = true;
	json_decref(j);
	return found;
}

/* A workspace latched on this host (into out) -- workspace itself when it
 * is, else the first -- or NULL when none is. */
static const char *hbi_latched(struct daemon *d, const char *workspace, char *out, size_t n)
{
	bool bad;
	json_t *j = load_state_json(d, "hbi.json", &bad, &hbi_warned, LATCH_NOTE), *v;
	const char *found = NULL;
	size_t i;

	if (bad) {
		/* taken as what is in force: an hbi policy in force stays; a
		 * start-up (a reboot) is not refused the policy last in force
		 * (refusing every policy left the host unfiltered, a review's
		 * finding) */
		if (!d->cur.text || !d->cur.hbi)
			return NULL;
		snprintf(out, n, "%s", HBI_UNREADABLE);
		return out;
	}
	json_array_foreach(json_object_get(j, "workspaces"), i, v) {
		if (!json_is_string(v))
			continue;
		if (!found || strcmp(json_string_value(v), workspace) == 0) {
			snprintf(out, n, "%s", json_string_value(v));
			found = out;
		}
	}
	json_decref(j);
	return found;
}

static int save_json(struct daemon *d, const char *name, json_t *j);

/* ---- isolation latch ---------------------------------------------------- */

/* enum isolation by its policy name; -1 for anything else (NULL too) */
static int iso_from_name(const char *m)
{
	for (int i = ISO_DISABLED; m && i <= ISO_ALLOW_ONLY_APPROVED; i++)
		if (strcmp(m, isolation_name((enum isolation)i)) == 0)
			return i;
	return -1;
}

/* Azure's managed network cannot lower its isolation: approved-only cannot go
 * back to internet outbound, and isolation cannot be disabled once enabled.
 * The host keeps the strictest mode a policy stayed in force with in
 * isolation.json; a policy with a lower one is refused unless an owner
 * forces it, which sets the latch to that mode.  -1: nothing latched. */
static int iso_latched(struct daemon *d, char *ws, size_t n)
{
	bool bad;
	json_t *j = load_state_json(d, "isolation.json", &bad, &iso_warned, LATCH_NOTE);
	const char *m = json_string_value(json_object_get(j, "isolation_mode"));
	int r = iso_from_name(m);

	if (bad || (j && r < 0)) {
		/* damaged, or a mode this version does not know: the mode in
		 * force (state.json's at start-up) -- never lower, and never a
		 * refusal of the policy last in force, which left a rebooted
		 * host unfiltered (a review's finding) */
		snprintf(ws, n, "(isolation.json unreadable)");
		json_decref(j);
		return d->cur.text ? d->cur.isolation : -1;
	}
	snprintf(ws, n, "%s", json_string_value(json_object_get(j, "workspace")) ?: "");
	json_decref(j);
	return r;
}

const char *isolation_latched(struct daemon *d)
{
	char ws[256];
	int r = iso_latched(d, ws, sizeof(ws));

	return r < 0 ? NULL : isolation_name((enum isolation)r);
}

/* Raises the latch to iso (lower: an owner's --force, sets it to iso). */
static int iso_lock(struct daemon *d, int iso, const char *ws, bool lower)
{
	char cur[256];
	int r = iso_latched(d, cur, sizeof(cur)), ret = 0;
	json_t *j;

	if (iso < 0 || iso == r || (iso < r && !lower))
		return 0;
	j = json_pack("{s:s,s:s}", "isolation_mode", isolation_name((enum isolation)iso),
		      "workspace", ws);
	if (!j || save_json(d, "isolation.json", j) < 0) {
		int e = errno;
		dlog("event=state-write-failed what=isolation-latch error=\"%s\"", strerror(e));
		errno = e;
		ret = -1;
	} else {
		dlog("event=isolation-latched isolation_mode=%s workspace=\"%s\"%s",
		     isolation_name((enum isolation)iso), ws, iso < r ? " forced=lower" : "");
	}
	json_decref(j);
	return ret;
}

/* Writes j (borrowed) as state_dir/name, atomically, mode 0600. */
static int save_json(struct daemon *d, const char *name, json_t *j)
{
	char *txt = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	char *p = state_path(d, name);
	int ret = -1;

	if (txt && p) {
		size_t l = strlen(txt);
		txt[l] = '\n';
		ret = write_atomic(p, txt, l + 1, 0600);
	}
	free(txt);
	free(p);
	return ret;
}

static int hbi_write(struct daemon *d, json_t *list)
{
	json_t *root = json_pack("{s:O}", "workspaces", list);
	int ret = save_json(d, "hbi.json", root);

	json_decref(root);
	return ret;
}

static int hbi_lock(struct daemon *d, const char *workspace)
{
	json_t *j = load_json(d, "hbi.json");
	json_t *list = json_object_get(j, "workspaces");
	int ret;

	/* (a damaged hbi.json is locked for every workspace: not rewritten
	 * with this one alone, which would unlatch the others) */
	if (hbi_is_locked(d, workspace)) {
		json_decref(j);
		return 0;
	}
	list = json_is_array(list) ? json_incref(list) : json_array();
	json_array_append_new(list, jtext(workspace));
	ret = hbi_write(d, list);
	json_decref(list);
	json_decref(j);
	return ret;
}

int hbi_clear(struct daemon *d, const char *workspace, struct strbuf *latched)
{
	bool bad;
	json_t *j = load_state_json(d, "hbi.json", &bad, &hbi_warned, LATCH_NOTE), *v, *out = json_array();
	size_t i;
	int ret;

	if (bad)	/* the other workspaces' latches cannot be read back */
		dlog("event=hbi-latch-reset file=%s/hbi.json workspace=\"%s\" note=\"the file could not be read: every workspace's hbi latch is cleared, not only this one's\"",
		     d->cfg.state_dir, workspace);

	bool found = false;
	json_array_foreach(json_object_get(j, "workspaces"), i, v) {
		if (!json_is_string(v))
			continue;
		if (strcmp(json_string_value(v), workspace) != 0) {
			json_array_append(out, v);
			if (latched)
				sb_printf(latched, "%s%s", latched->n ? ", " : "", json_string_value(v));
		} else {
			found = true;
		}
	}
	/* a name that is not latched (a typo) clears nothing: said so, not "ok" */
	if (!found && !bad) {
		json_decref(out);
		json_decref(j);
		return 1;
	}
	ret = hbi_write(d, out);
	json_decref(out);
	json_decref(j);
	return ret;
}

/* ---- state ------------------------------------------------------------- */

/* Test hook for tests/live/t_daemon.sh: with FILTERD_FAULT=kill-between-writes
 * filterd kills itself (SIGKILL, as a power cut would) between the state
 * record and the policy file of an apply that writes both, whichever goes
 * first: a restart must find no unconfirmed policy in force without its
 * window, and no rolled-back one in the file. */
static void state_fault_point(const char *point)
{
	const char *f = getenv("FILTERD_FAULT");

	if (f && strcmp(f, point) == 0)
		raise(SIGKILL);
}

static json_t *applied_json(const struct applied *a)
{
	char ts[32];
	struct tm tm;

	gmtime_r(&a->at, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *j = json_pack("{s:s,s:s,s:s,s:b,s:I,s:s,s:s}", "name", a->name ? a->name : "",
			      "sha256", a->sha256, "workspace", a->workspace, "hbi", a->hbi,
			      "tags_change_number", (json_int_t)a->tags_change, "applied_at", ts,
			      "applied_by", a->by);

	if (j && a->isolation >= 0)
		json_object_set_new(j, "isolation_mode", json_string(isolation_name(a->isolation)));
	return j;
}

int daemon_save_state(struct daemon *d)
{
	json_t *root = json_object();
	char *pc = NULL, *pp = NULL;
	int ret = -1;

	if (!root)
		return -1;
	if (d->cur.text)
		json_object_set_new(root, "current", applied_json(&d->cur));
	if (d->have_prev)
		json_object_set_new(root, "previous", applied_json(&d->prev));
	json_object_set_new(root, "pending_until", json_integer(d->pending ? pending_until_wall(d) : 0));
	if (d->pending) {
		long long left = pending_left(d);

		json_object_set_new(root, "pending_left_s", json_integer(left > 0 ? left : 0));
		json_object_set_new(root, "pending_sha256", jtext(d->pending_sha256));
		json_object_set_new(root, "pending_by", jtext(d->pending_by));
	}
	pc = state_path(d, "current.yaml");
	pp = state_path(d, "previous.yaml");
	if (!pc || !pp)
		goto out;
	if (d->cur.text && write_atomic(pc, d->cur.text, d->cur.len, 0600) < 0)
		goto out;
	if (d->have_prev && write_atomic(pp, d->prev.text, d->prev.len, 0600) < 0)
		goto out;
	/* state.json last: it names texts that are already on disk */
	ret = save_json(d, "state.json", root);
out:
	if (ret < 0)
		dlog("event=state-write-failed dir=%s error=\"%s\" note=\"the kernel holds what was applied; only the state record was not written\"",
		     d->cfg.state_dir, strerror(errno));
	free(pc);
	free(pp);
	json_decref(root);
	return ret;
}

static void applied_from_json(struct daemon *d, json_t *j, const char *file, struct applied *a)
{
	char *p = state_path(d, file), err[256];
	struct tm tm = {0};

	if (!json_is_object(j) || !p) {
		free(p);
		return;
	}
	if (read_file(p, &a->text, &a->len, err, sizeof(err)) < 0) {
		dlog("event=state-unreadable file=%s error=\"%s\" note=\"%s\"", p, err,
		     strcmp(file, "previous.yaml") == 0 ?
		     "no rollback target, no confirmation window is resumed" :
		     "the policy file is applied as it is");
		free(p);
		return;
	}
	/* the text must be the one state.json names: an emptied or damaged
	 * previous.yaml was restored as the rollback target, and every
	 * rollback then failed blaming the policy file (a review's finding) */
	char sha[65];
	const char *want = json_string_value(json_object_get(j, "sha256"));

	sha256_hex(a->text, a->len, sha);
	if (!want || strcmp(sha, want) != 0) {
		dlog("event=state-unreadable file=%s error=\"its sha256 %.16s is not the %.16s state.json records\" note=\"%s\"",
		     p, sha, want ? want : "-", strcmp(file, "previous.yaml") == 0 ?
		     "no rollback target, no confirmation window is resumed" :
		     "the policy file is applied as it is");
		free(p);
		free(a->text);
		a->text = NULL;
		a->len = 0;
		return;
	}
	free(p);
	a->name = strdup(json_string_value(json_object_get(j, "name")) ?: "");
	snprintf(a->sha256, sizeof(a->sha256), "%s", want);
	snprintf(a->workspace, sizeof(a->workspace), "%s",
		 json_string_value(json_object_get(j, "workspace")) ?: "");
	a->hbi = json_is_true(json_object_get(j, "hbi"));
	a->isolation = iso_from_name(json_string_value(json_object_get(j, "isolation_mode")));
	a->tags_change = (long)json_integer_value(json_object_get(j, "tags_change_number"));
	snprintf(a->by, sizeof(a->by), "%s", json_string_value(json_object_get(j, "applied_by")) ?: "");
	const char *ts = json_string_value(json_object_get(j, "applied_at"));
	if (ts && strptime(ts, "%Y-%m-%dT%H:%M:%SZ", &tm))
		a->at = timegm(&tm);
}

/* Temporaries write_atomic left behind when filterd was killed mid-write
 * (NAME.tmp.PID; a tags copy is megabytes, on what may be a small state
 * filesystem): removed at start when their process is gone. */
void daemon_sweep_temporaries(struct daemon *d)
{
	static const char *const names[] = { "state.json", "current.yaml", "previous.yaml",
					     STATE_TAGS, "hbi.json", "isolation.json", "roles.json" };
	const size_t n = sizeof(names) / sizeof(*names);

	for (size_t i = 0; i <= n; i++) {
		char *base = i < n ? state_path(d, names[i]) : strdup(d->cfg.policy);
		char *pat = NULL;
		glob_t g;

		if (!base || asprintf(&pat, "%s.tmp.*", base) < 0) {
			free(base);
			continue;
		}
		if (glob(pat, GLOB_NOSORT, NULL, &g) == 0) {
			for (size_t k = 0; k < g.gl_pathc; k++) {
				const char *f = g.gl_pathv[k], *pid = f + strlen(base) + 5;
				char *end;
				long v = strtol(pid, &end, 10);
				struct stat st;

				if (*end || v <= 0 || v == (long)getpid() ||
				    (kill((pid_t)v, 0) == 0 || errno != ESRCH) ||
				    lstat(f, &st) < 0 || !S_ISREG(st.st_mode))
					continue;
				if (unlink(f) == 0)
					dlog("event=stale-temporary-removed file=%s", f);
			}
			globfree(&g);
		}
		free(pat);
		free(base);
	}
}

int daemon_load_state(struct daemon *d)
{
	static bool warned;
	bool bad;
	json_t *j = load_state_json(d, "state.json", &bad, &warned,
				    "no confirmation window nor rollback target is resumed; the policy file is applied");

	if (!j)
		return 0;
	applied_from_json(d, json_object_get(j, "current"), "current.yaml", &d->cur);
	applied_from_json(d, json_object_get(j, "previous"), "previous.yaml", &d->prev);
	d->have_prev = d->prev.text != NULL;
	/* a confirmation window open when filterd stopped: in force again
	 * for the startup apply (no hbi latch, the previous policy kept as the
	 * rollback target); daemon_resume_pending decides after it */
	json_int_t until = json_integer_value(json_object_get(j, "pending_until"));
	const char *psha = json_string_value(json_object_get(j, "pending_sha256"));

	if (until > 0 && psha && d->have_prev) {
		json_int_t len = json_integer_value(json_object_get(j, "pending_left_s"));
		time_t left = (time_t)until - time(NULL);

		/* what was left of it, on this boot's clock -- never more than
		 * the window was long (at most 86400 s): a wall clock stepped
		 * back while filterd was down stretched a 60 s window to years */
		if (len <= 0 || len > 86400)
			len = 86400;
		if (left > (time_t)len)
			left = (time_t)len;
		d->pending = true;
		d->pending_deadline = mono_now() + left;
		snprintf(d->pending_sha256, sizeof(d->pending_sha256), "%s", psha);
		snprintf(d->pending_by, sizeof(d->pending_by), "%s",
			 json_string_value(json_object_get(j, "pending_by")) ?: "?");
	}
	json_decref(j);
	return 0;
}

/* ---- apply ------------------------------------------------------------- */

static void actor_name(const struct actor *who, char *buf, size_t len)
{
	if (!who)
		snprintf(buf, len, "filterd");
	else if (who->user[0])
		snprintf(buf, len, "%s(uid=%u) via %s", who->user, (unsigned)who->uid, who->via);
	else
		snprintf(buf, len, "uid=%u via %s", (unsigned)who->uid, who->via);
}

static uint32_t wanted_flags(struct daemon *d)
{
	if (d->cfg.ownership == OWN_OFF)
		return 0;
	return NFT_TABLE_F_OWNER | (d->cfg.fail_mode == FAIL_CLOSED ? NFT_TABLE_F_PERSIST : 0);
}

/* Full replace; falls back to an unowned table when the kernel does not know the
 * ownership flags (ownership=auto on kernels before 6.9). */
static int full_apply(struct daemon *d, const struct ruleset *rs, struct nl_report *rep)
{
	if (!d->ownership_probed)
		d->table_flags = wanted_flags(d);
	if (nl_apply_conn(d->nl, rs, d->table_flags, NL_FAULT_NONE, rep) == 0) {
		d->ownership_probed = true;
		d->ownership_active = (d->table_flags & NFT_TABLE_F_OWNER) != 0;
		return 0;
	}
	bool flag_refused = strstr(rep->failed_what, "(new)") &&
			    (rep->error == EOPNOTSUPP || rep->error == EINVAL);
	if (d->table_flags && flag_refused && d->cfg.ownership == OWN_AUTO) {
		dlog("event=ownership-unsupported error=\"%s\" fallback=\"unowned table, drift repaired from netlink events\"",
		     rep->msg);
		d->table_flags = 0;
		d->ownership_probed = true;
		d->ownership_active = false;
		if (nl_apply_conn(d->nl, rs, 0, NL_FAULT_NONE, rep) == 0)
			return 0;
	}
	return -1;
}

static void set_error(struct apply_res *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Adds to the apply's warning (several can happen in one apply: each is said). */
static void add_warning(struct apply_res *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_warning(struct apply_res *res, const char *fmt, ...)
{
	size_t n = strlen(res->state_warning);
	va_list ap;

	if (n && n + 2 < sizeof(res->state_warning)) {
		memcpy(res->state_warning + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(res->state_warning + n, sizeof(res->state_warning) - n, fmt, ap);
	va_end(ap);
}
static void set_error(struct apply_res *res, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(res->error)) {
		/* cut on a character boundary: a cut UTF-8 sequence made the
		 * answer's and the audit record's JSON string fail, and the reason
		 * was lost */
		size_t e = strlen(res->error), i = e;

		while (i > 0 && ((unsigned char)res->error[i - 1] & 0xc0) == 0x80)
			i--;
		if (i > 0) {
			unsigned char lead = (unsigned char)res->error[i - 1];
			size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;

			if (e - (i - 1) < need)
				res->error[i - 1] = '\0';
		}
	}
}

bool daemon_policy_file_unchanged(struct daemon *d)
{
	char err[256], sha[65];
	char *buf = NULL;
	size_t len = 0;

	if (!d->policy_file_sha[0] || read_file(d->cfg.policy, &buf, &len, err, sizeof(err)) < 0)
		return false;
	sha256_hex(buf, len, sha);
	free(buf);
	return strcmp(sha, d->policy_file_sha) == 0;
}

/* The applied policy as cfg.policy (what a restart or a reload applies); a
 * failure is logged and said in the apply's answer. */
static void write_policy_file(struct daemon *d, const char *text, size_t len, struct apply_res *res)
{
	d->policy_file_sha[0] = '\0';
	if (write_atomic(d->cfg.policy, text, len, 0644) < 0) {
		int e = errno;

		dlog("event=policy-write-failed file=%s error=\"%s\" note=\"applied policy is in force; the file on disk is older\"",
		     d->cfg.policy, strerror(e));
		add_warning(res, "the policy file %s could not be written (%s): a restart or reload applies "
			    "what it holds", d->cfg.policy, strerror(e));
		return;
	}
	sha256_hex(text, len, d->policy_file_sha);
	d->policy_file_stale = false;
}

int daemon_apply(struct daemon *d, const struct apply_req *rq, struct apply_res *res)
{
	struct timespec t0, t1;
	char err[1024], by[96], sha[65];
	char *filebuf = NULL;
	const char *text = rq->text, *name = rq->name;
	size_t len = rq->len;
	struct diags dg = {0};
	struct policy *pol = NULL;
	struct compiled *comp = NULL;
	struct compile_opts co;
	struct nl_report rep;
	struct rs_delta delta = {0};
	int ret = -1;
	struct tagdb *prev_tags = NULL;	/* the tags before this apply loaded a new file */
	char prev_sig[128] = "";

	memset(res, 0, sizeof(*res));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	actor_name(rq->who, by, sizeof(by));
	if (!text) {
		if (read_file(d->cfg.policy, &filebuf, &len, err, sizeof(err)) < 0) {
			set_error(res, "%s", err);
			goto rejected;
		}
		text = filebuf;
		name = d->cfg.policy;
		sha256_hex(text, len, d->policy_file_sha);
	}
	if (len > POLICY_MAX_BYTES) {
		set_error(res, "%s: policy is %zu bytes, larger than the 4 MiB limit", name, len);
		goto rejected;
	}
	sha256_hex(text, len, sha);
	if (ensure_tags(d, err, sizeof(err), &prev_tags, prev_sig, sizeof(prev_sig)) < 0) {
		set_error(res, "%s", err);
		goto rejected;
	}
	if (policy_load(name, text, len, d->tags, &pol, &dg) < 0) {
		char *first = diags_first_error(&dg);
		set_error(res, "%s", first ? first : "policy rejected");
		free(first);
		goto rejected;
	}
	/* the latch holds the host, whatever workspace the next policy names
	 * (a review turned hbi off by renaming the workspace) */
	char latched[256];

	if (!pol->hbi_workspace && hbi_latched(d, pol->workspace, latched, sizeof(latched))) {
		if (strcmp(latched, HBI_UNREADABLE) == 0)
			set_error(res, "%s: %s/hbi.json cannot be read: the hbi latch is taken as set, and "
				  "a policy without hbi_workspace is refused until an owner repairs the file or "
				  "clears it (filterctl hbi-clear WORKSPACE)", name, d->cfg.state_dir);
		else if (strcmp(latched, pol->workspace) == 0)
			set_error(res, "%s: workspace '%s' was applied with hbi_workspace: true on this host; "
				  "a policy without it is refused (hbi cannot be turned off; state in %s/hbi.json)",
				  name, pol->workspace, d->cfg.state_dir);
		else
			set_error(res, "%s: this host was applied with hbi_workspace: true for workspace '%s'; "
				  "a policy without it is refused, whatever its workspace ('%s'); an owner "
				  "can lift the latch first (filterctl hbi-clear %s; state in %s/hbi.json)",
				  name, latched, pol->workspace, latched, d->cfg.state_dir);
		d->n_refused++;
		goto rejected;
	}
	char iws[256];
	int il = iso_latched(d, iws, sizeof(iws));

	if (il > (int)pol->isolation && !rq->force_latch) {
		set_error(res, "%s: isolation_mode %s is lower than %s, which this host was applied "
			  "with (workspace '%s'); Azure's managed network cannot lower its isolation, "
			  "nor does filterd unless an owner forces it (--force; state in %s/isolation.json)",
			  name, isolation_name(pol->isolation), isolation_name((enum isolation)il), iws,
			  d->cfg.state_dir);
		d->n_refused++;
		goto rejected;
	}
	if (d->cur.text && d->tags->change_number < d->cur.tags_change && !rq->force_tags) {
		set_error(res, "%s: changeNumber %ld is older than the applied %ld (rollback protection); "
			  "an owner can force it", d->cfg.tags, d->tags->change_number, d->cur.tags_change);
		d->n_refused++;
		goto rejected;
	}
	compile_opts_default(&co);
	co.table = d->cfg.table;
	co.log_group = d->cfg.log_group;
	co.log_rate = d->cfg.log_rate;
	co.log_burst = d->cfg.log_burst;
	co.no_text = true;
	fqdn_compile_opts(d, &co);
	if (compile_policy(pol, d->tags, &co, &comp, &dg) < 0) {
		char *first = diags_first_error(&dg);
		set_error(res, "%s", first ? first : "compile failed");
		free(first);
		goto rejected;
	}
	res->nrules = comp->nrules;
	res->nsets = comp->nsets;
	res->nelements = comp->nelements;

	if (d->current && ruleset_delta(d->current->rs, comp->rs, &delta) == 0) {
		if (delta.n == 0) {
			res->unchanged = true;
		} else if (nl_apply_delta(d->nl, &delta, &rep) < 0) {
			set_error(res, "%s", rep.msg);
			goto kernel_refused;
		} else {
			res->incremental = true;
			res->nadd = delta.nadd;
			res->ndel = delta.ndel;
			d->n_incremental++;
		}
	} else if (full_apply(d, comp->rs, &rep) < 0) {
		set_error(res, "%s", rep.msg);
		goto kernel_refused;
	}
	res->applied = !res->unchanged;

	/* remember what is in force */
	if (res->unchanged && d->cur.text && strcmp(d->cur.sha256, sha) == 0) {
		/* The same text again (typically our own write of the policy file
		 * after an apply or rollback, coming back through inotify): keep who
		 * applied it, when, and from where. */
		d->cur.tags_change = d->tags->change_number;
		goto remembered;
	}
	if (rq->rolls_back_unconfirmed) {
		/* a rollback of the unconfirmed policy: it is no rollback
		 * target, and the policy it goes back to is in force now (one
		 * state record: a crash between two left the rejected policy
		 * as the target, a review's finding) */
		applied_free(&d->cur);
		applied_free(&d->prev);
		d->have_prev = false;
	} else if (d->cur.text && strcmp(d->cur.sha256, sha) != 0 && d->pending && d->have_prev) {
		/* the policy in force was never confirmed: the rollback target
		 * stays the last confirmed one (a reload or a plain apply in the
		 * window used to make the unconfirmed policy the target) */
		applied_free(&d->cur);
	} else if (d->cur.text && strcmp(d->cur.sha256, sha) != 0) {
		applied_free(&d->prev);
		d->prev = d->cur;
		d->have_prev = true;
		memset(&d->cur, 0, sizeof(d->cur));
	} else {
		applied_free(&d->cur);
	}
	d->cur.text = malloc(len + 1);
	if (d->cur.text) {
		memcpy(d->cur.text, text, len);
		d->cur.text[len] = '\0';
	}
	d->cur.len = len;
	d->cur.name = strdup(name);
	memcpy(d->cur.sha256, sha, sizeof(sha));
	snprintf(d->cur.workspace, sizeof(d->cur.workspace), "%s", pol->workspace);
	d->cur.hbi = pol->hbi_workspace;
	d->cur.isolation = (int)pol->isolation;
	d->cur.tags_change = d->tags->change_number;
	d->cur.at = time(NULL);
	snprintf(d->cur.by, sizeof(d->cur.by), "%s", by);
remembered:
	d->gen++;
	compiled_free(d->current);
	d->current = comp;
	comp = NULL;
	fqdn_policy_applied(d);
	/* a window needs something to roll back to, and something to guard:
	 * not a first policy (its rollback failed every second, each failure
	 * audited, forever) and not the policy already in force (the window
	 * would have rolled it back to an older one) */
	if (rq->confirm_within && !res->unchanged && d->have_prev) {
		d->pending = true;
		d->pending_deadline = mono_now() + rq->confirm_within;
		snprintf(d->pending_by, sizeof(d->pending_by), "%s", by);
		res->window = true;
	} else if (rq->confirm_within && !d->pending) {
		res->no_window = res->unchanged ? "the policy is already in force" :
				 "no previous policy to roll back to";
		dlog("event=no-confirm-window policy=\"%s\" reason=\"%s\"", name, res->no_window);
	}
	/* an hbi policy latches once it stays: applied without a confirmation
	 * window -- asked for or not (a first hbi policy applied with
	 * --confirm-within got no window and no latch) -- or confirmed (a
	 * pending one latched at once, and its own rollback was then refused) */
	if (pol->hbi_workspace && !d->pending && hbi_lock(d, pol->workspace) < 0) {
		int e = errno;

		dlog("event=state-write-failed what=hbi-latch error=\"%s\"", strerror(e));
		add_warning(res, "the hbi latch could not be recorded in %s/hbi.json (%s): a policy without "
			 "hbi_workspace would not be refused", d->cfg.state_dir, strerror(e));
	}
	/* the isolation latch likewise; an owner's --force lowers it at once */
	if ((!d->pending || rq->force_latch) &&
	    iso_lock(d, (int)pol->isolation, pol->workspace, rq->force_latch) < 0)
		add_warning(res, "the isolation latch could not be recorded in %s/isolation.json (%s): a lower "
			 "isolation_mode would not be refused", d->cfg.state_dir, strerror(errno));
	if (d->pending && !rq->startup)
		/* whatever is in force during a window is unconfirmed (a reload
		 * in the window too): what a restart must resume or roll back.
		 * Not the start-up apply: a policy file edited while filterd was
		 * down is no unconfirmed policy (it was, and was rolled back) */
		snprintf(d->pending_sha256, sizeof(d->pending_sha256), "%s", d->cur.sha256);
	/* The tags in force kept beside the policy in force (a start whose
	 * files are refused and that finds no table falls back to both,
	 * filterd.c) -- before state.json, which names their changeNumber (a
	 * crash between them left a record the fallback then refused). */
	if (d->tags_raw) {
		char *tp = state_path(d, STATE_TAGS);

		/* (not onto itself: the fallback read it from there) */
		if (!tp || (strcmp(tp, d->cfg.tags) != 0 &&
			    write_atomic(tp, d->tags_raw, d->tags_raw_len, 0600) < 0))
			dlog("event=state-write-failed what=tags error=\"%s\"", strerror(errno));
		free(tp);
	}
	/* What a client applied becomes the policy file, whatever name it gave
	 * (a client naming its policy as the configured path used to skip the
	 * write: the file kept the old policy and the next reload reverted).
	 * The file is what a restart applies, so the order matters: in a
	 * window the record that the policy is unconfirmed goes first (a crash
	 * between the two used to leave it in force, unconfirmed, with no
	 * window: a review's finding), and when that record cannot be written
	 * the file keeps the previous policy (a restart rolls back); otherwise
	 * (a rollback too) the file goes first, so that no record says a
	 * rolled-back policy is gone while the file still holds it. */
	bool state_ok;
	int state_err = 0;

	if (d->pending) {
		state_ok = daemon_save_state(d) == 0;
		state_err = errno;
		if (rq->write_policy)
			state_fault_point("kill-between-writes");
		if (rq->write_policy && !state_ok) {
			dlog("event=policy-write-skipped file=%s note=\"the confirmation window could not be recorded: the file keeps the previous policy, which a restart applies; a confirmation writes it\"",
			     d->cfg.policy);
			d->policy_file_stale = true;
		} else if (rq->write_policy) {
			write_policy_file(d, text, len, res);
		}
	} else {
		if (rq->write_policy) {
			write_policy_file(d, text, len, res);
			state_fault_point("kill-between-writes");
		}
		state_ok = daemon_save_state(d) == 0;
		state_err = errno;
	}
	if (!state_ok)
		add_warning(res, "the state could not be recorded in %s (%s)%s", d->cfg.state_dir, strerror(state_err),
			    d->pending ? ": a restart rolls back to the previous policy" : "");
	d->n_applies += res->applied;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	res->ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (res->applied)
		d->last_apply_ms = res->ms;
	if (res->unchanged)
		dlog("event=unchanged policy=\"%s\" sha256=%.16s tags_change_number=%ld by=\"%s\"",
		     name, sha, d->tags->change_number, by);
	else if (res->incremental)
		dlog("event=applied mode=incremental policy=\"%s\" sha256=%.16s tags_change_number=%ld elements_added=%zu elements_deleted=%zu sets_changed=%zu ms=%.1f by=\"%s\"",
		     name, sha, d->tags->change_number, res->nadd, res->ndel, delta.n, res->ms, by);
	else
		dlog("event=applied mode=full policy=\"%s\" sha256=%.16s workspace=%s tags_change_number=%ld rules=%zu sets=%zu elements=%zu ownership=%s ms=%.1f by=\"%s\"%s",
		     name, sha, pol->workspace, d->tags->change_number, res->nrules, res->nsets,
		     res->nelements, d->ownership_active ? (d->table_flags & NFT_TABLE_F_PERSIST ?
		     "owner,persist" : "owner") : "none", res->ms, by,
		     res->window ? " pending=confirm" : "");
	log_diags(&dg, !res->unchanged);
	ret = 0;
	goto out;

kernel_refused:
	{
		char qn[1024], qe[2048];

		dlog("event=kernel-refused policy=\"%s\" error=\"%s\" by=\"%s\"",
		     log_quote(qn, sizeof(qn), name ? name : "-"),
		     log_quote(qe, sizeof(qe), res->error), by);
	}
	d->n_rejects++;
	goto out;
rejected:
	res->diagnostics = diags_text(&dg);
	log_diags(&dg, true);
	{
		char qn[1024], qe[2048];

		dlog("event=rejected policy=\"%s\" error=\"%s\" by=\"%s\" note=\"the rules in force are unchanged\"",
		     log_quote(qn, sizeof(qn), name ? name : "-"),
		     log_quote(qe, sizeof(qe), res->error), by);
	}
	d->n_rejects++;
out:
	clock_gettime(CLOCK_MONOTONIC, &t1);
	res->ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	rs_delta_free(&delta);
	compiled_free(comp);
	policy_free(pol);
	diags_clear(&dg);
	free(filebuf);
	if (d->tags_raw) {
		free(d->tags_raw);
		d->tags_raw = NULL;
	}
	if (prev_tags && ret != 0) {
		/* refused: the tags in force stay what the loop compiles with */
		dlog("event=tags-not-taken file=%s change_number=%ld kept_change_number=%ld "
		     "note=\"the apply that loaded it was refused\"", d->cfg.tags,
		     d->tags->change_number, prev_tags->change_number);
		tagdb_free(d->tags);
		d->tags = prev_tags;
		snprintf(d->tags_sig, sizeof(d->tags_sig), "%s", prev_sig);
	} else {
		tagdb_free(prev_tags);
	}
	return ret;
}

void daemon_pending_drop(struct daemon *d)
{
	/* (a window superseded, dropped at start-up, or with nothing to roll
	 * back to ends whatever the record says: it must not come back and
	 * roll back a policy applied since because its end was not saved) */
	if (daemon_pending_end(d) < 0)
		d->pending = false;
}

int daemon_pending_end(struct daemon *d)
{
	int e;

	/* The policy file first (when the window's policy never reached it),
	 * then the record that the window is over, then the latches: a crash
	 * in between finds the window still recorded, or the policy in force
	 * confirmed, whose next start-up apply latches it.  A failure before
	 * the record leaves the window as it was (a confirmation is refused;
	 * the latches are not touched, which let a refused confirmation latch
	 * hbi and then refuse its own rollback forever: a review's finding). */
	if (d->policy_file_stale && d->cur.text) {
		d->policy_file_sha[0] = '\0';
		if (write_atomic(d->cfg.policy, d->cur.text, d->cur.len, 0644) < 0) {
			e = errno;
			dlog("event=policy-write-failed file=%s error=\"%s\"", d->cfg.policy, strerror(e));
			errno = e;
			return -1;
		}
		sha256_hex(d->cur.text, d->cur.len, d->policy_file_sha);
		d->policy_file_stale = false;
	}
	d->pending = false;
	if (daemon_save_state(d) < 0) {
		e = errno;
		d->pending = true;
		errno = e;
		return -1;
	}
	if (d->cur.text && d->cur.hbi && hbi_lock(d, d->cur.workspace) < 0)
		dlog("event=state-write-failed what=hbi-latch error=\"%s\"", strerror(errno));
	if (d->cur.text)
		iso_lock(d, d->cur.isolation, d->cur.workspace, false);
	return 0;
}

void daemon_confirm_timeout(struct daemon *d, const char *via, const char *why,
			    const char *note)
{
	struct actor who = { .uid = geteuid(), .via = via };
	struct apply_res res;

	snprintf(who.user, sizeof(who.user), "filterd");
	dlog("event=confirm-timeout by=\"%s\" action=rollback%s%s%s", d->pending_by,
	     note ? " note=\"" : "", note ? note : "", note ? "\"" : "");
	int rc = daemon_rollback(d, &who, why, &res);
	audit_write(d, &who, "rollback", rc == 0 ? "rolled back" : "failed",
		    rc == 0 ? why : res.error, rc == 0 ? &d->cur : NULL, res.ms);
	apply_res_free(&res);
}

void daemon_resume_pending(struct daemon *d)
{
	if (!d->pending)
		return;
	if (!d->cur.text || strcmp(d->cur.sha256, d->pending_sha256) != 0) {
		dlog("event=pending-dropped sha256=%.16s by=\"%s\" note=\"the policy file held "
		     "another policy at startup: it is in force, the unconfirmed one is not\"",
		     d->pending_sha256, d->pending_by);
		daemon_pending_drop(d);
		return;
	}
	if (pending_left(d) > 0) {
		dlog("event=pending-resumed sha256=%.16s by=\"%s\" seconds_left=%lld",
		     d->pending_sha256, d->pending_by, pending_left(d));
		return;
	}
	daemon_confirm_timeout(d, "startup", "not confirmed in time (the window ended while "
			       "filterd was stopped)", "the window ended while filterd was not running");
}

int daemon_repair(struct daemon *d, struct apply_res *res)
{
	struct nl_report rep;

	memset(res, 0, sizeof(*res));
	if (!d->current) {
		set_error(res, "no policy in force");
		return -1;
	}
	/* the ruleset in force, as sent: not a recompile of the policy file
	 * (which may have been edited since, or fail against newer tags --
	 * a failed repair used to leave no ruleset in force in memory, and
	 * drift went unwatched) */
	if (full_apply(d, d->current->rs, &rep) < 0) {
		set_error(res, "%s", rep.msg);
		return -1;
	}
	d->gen++;
	res->applied = true;
	res->ms = rep.ms;
	res->nrules = d->current->nrules;
	res->nsets = d->current->nsets;
	res->nelements = d->current->nelements;
	fqdn_policy_applied(d);		/* the learned addresses back into the new sets */
	return 0;
}

#define ROLLBACK_RETRY_S 30

int daemon_rollback(struct daemon *d, const struct actor *who, const char *why,
		    struct apply_res *res)
{
	if (!d->have_prev) {
		memset(res, 0, sizeof(*res));
		set_error(res, "no previous policy to roll back to");
		if (d->pending) {
			/* nothing to go back to: the window ends, the policy stays
			 * (not a failed rollback every second) */
			dlog("event=pending-ended reason=\"no previous policy to roll back to\" "
			     "sha256=%.16s note=\"the policy in force stays\"", d->cur.sha256);
			daemon_pending_drop(d);
		}
		return -1;
	}
	/* Apply a copy: daemon_apply moves cur into prev. */
	char *text = malloc(d->prev.len + 1);
	char *name = strdup(d->prev.name ? d->prev.name : d->cfg.policy);
	if (!text || !name) {
		free(text);
		free(name);
		memset(res, 0, sizeof(*res));
		set_error(res, "out of memory");
		return -1;
	}
	memcpy(text, d->prev.text, d->prev.len + 1);
	/* The policy file must hold what is in force, whatever name it came
	 * from (write_policy: daemon_apply writes it, before the state). */
	bool was_pending = d->pending;
	struct apply_req rq = {
		.text = text, .len = d->prev.len, .name = name, .who = who,
		.write_policy = true, .force_tags = true, .rolls_back_unconfirmed = was_pending,
	};

	d->pending = false;
	int ret = daemon_apply(d, &rq, res);
	if (ret == 0) {
		d->n_rollbacks++;
		dlog("event=rolled-back reason=\"%s\" to_sha256=%.16s", why, d->cur.sha256);
	} else if (was_pending) {
		/* the unconfirmed policy is still in force: the window stays open
		 * and the rollback is tried again (a tags file that lost a tag the
		 * previous policy names, say) -- not silently ended */
		d->pending = true;
		d->pending_deadline = mono_now() + ROLLBACK_RETRY_S;
		daemon_save_state(d);
		char qe[1024];
		dlog("event=rollback-failed reason=\"%s\" error=\"%s\" retry_in_s=%d note=\"the "
		     "unconfirmed policy is still in force\"", why, log_quote(qe, sizeof(qe), res->error),
		     ROLLBACK_RETRY_S);
	}
	free(text);
	free(name);
	return ret;
}

static int elem_keys_equal(struct nftnl_set *a, struct nftnl_set *b);

const char *daemon_check_drift(struct daemon *d, char *buf, size_t len)
{
	char err[512];
	struct ruleset *live;
	const char *why;

	if (!d->current)
		return NULL;
	live = ruleset_from_kernel(d->cfg.table, NFPROTO_INET, err, sizeof(err));
	if (!live) {
		snprintf(buf, len, "table inet %s cannot be read: %s", d->cfg.table, err);
		return buf;
	}
	why = ruleset_shape_diff(d->current->rs, live, buf, len);
	if (!why) {
		struct nftnl_set_list_iter *it = nftnl_set_list_iter_create(d->current->rs->sets);
		struct nftnl_set *s;
		while (!why && it && (s = nftnl_set_list_iter_next(it))) {
			const char *n = nftnl_set_get_str(s, NFTNL_SET_NAME);
			struct nftnl_set *l = ruleset_find_set(live, n);
			char fq[256];
			/* FQDN sets hold what filterd learned at run time */
			if (l && fqdn_of_set(s, fq, sizeof(fq)))
				continue;
			if (!l || !elem_keys_equal(s, l)) {
				snprintf(buf, len, "elements of set %s differ", n);
				why = buf;
			}
		}
		if (it)
			nftnl_set_list_iter_destroy(it);
	}
	if (why) {
		/* rsdiff also sees handles and counters, which a dump always has:
		 * name the real difference, or find none (verify.h) */
		struct rs_diffs df = {0};
		long n = ruleset_compare(d->current->rs, live, &df);
		if (n == 0) {
			why = NULL;
		} else if (n > 0 && df.n) {
			snprintf(buf, len, "%s%s", df.v[0], n > 1 ? " (and more: filterctl verify lists them)" : "");
			why = buf;
		}
		rs_diffs_free(&df);
	}
	ruleset_free(live);
	return why;
}

struct keylist {
	char **k;
	size_t n, cap;
};

static int keycb(struct nftnl_set_elem *e, void *data)
{
	struct keylist *kl = data;
	uint32_t len = 0, fl = 0;
	const uint8_t *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
	char buf[160];
	size_t o = 0;

	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS))
		fl = nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END;
	for (uint32_t i = 0; k && i < len && i < 64; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%02x", k[i]);
	snprintf(buf + o, sizeof(buf) - o, "/%u", fl);
	if (kl->n == kl->cap) {
		size_t nc = kl->cap ? kl->cap * 2 : 64;
		char **nk = realloc(kl->k, nc * sizeof(*nk));
		if (!nk)
			return -1;
		kl->k = nk;
		kl->cap = nc;
	}
	kl->k[kl->n++] = strdup(buf);
	return 0;
}

static int strp_cmp(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	return strcmp(x ? x : "", y ? y : "");
}

static int elem_keys_equal(struct nftnl_set *a, struct nftnl_set *b)
{
	struct keylist ka = {0}, kb = {0};
	int eq;

	nftnl_set_elem_foreach(a, keycb, &ka);
	nftnl_set_elem_foreach(b, keycb, &kb);
	if (ka.n)
		qsort(ka.k, ka.n, sizeof(char *), strp_cmp);
	if (kb.n)
		qsort(kb.k, kb.n, sizeof(char *), strp_cmp);
	eq = ka.n == kb.n;
	for (size_t i = 0; eq && i < ka.n; i++)
		eq = strp_cmp(&ka.k[i], &kb.k[i]) == 0;
	for (size_t i = 0; i < ka.n; i++)
		free(ka.k[i]);
	for (size_t i = 0; i < kb.n; i++)
		free(kb.k[i]);
	free(ka.k);
	free(kb.k);
	return eq;
}

/* ---- roles changed at run time (filterctl roles set) ------------------ */

int roles_save(struct daemon *d)
{
	json_t *j = json_pack("{s:s,s:s,s:s}", "reader", d->cfg.roles[0], "contributor",
			      d->cfg.roles[1], "owner", d->cfg.roles[2]);
	int ret = save_json(d, "roles.json", j);

	json_decref(j);
	return ret;
}

/* roles.json in the state directory, written by set-roles, overrides the
 * role.* keys of the configuration file. */
void roles_load(struct daemon *d)
{
	static const char *names[3] = { "reader", "contributor", "owner" };
	static bool warned;
	bool bad;
	json_t *j = load_state_json(d, "roles.json", &bad, &warned,
				    "no user has a role but root until root sets the roles again (filterctl roles set)");

	if (bad) {
		/* A damaged roles.json is no reason to hand back the rights of
		 * the configuration file that an owner took away (it did, a
		 * review's finding, owners included): nobody but root has one. */
		for (int i = 0; i < 3; i++) {
			free(d->cfg.roles[i]);
			d->cfg.roles[i] = strdup("");
		}
		return;
	}
	if (!j)
		return;
	for (int i = 0; i < 3; i++) {
		const char *v = json_string_value(json_object_get(j, names[i]));
		char *n = v ? strdup(v) : NULL;
		if (n) {
			free(d->cfg.roles[i]);
			d->cfg.roles[i] = n;
		}
	}
	dlog("event=roles-loaded source=%s/roles.json reader=\"%s\" contributor=\"%s\" owner=\"%s\"",
	     d->cfg.state_dir, d->cfg.roles[0], d->cfg.roles[1], d->cfg.roles[2]);
	json_decref(j);
}
