/* filterctl subcommands that talk to filterd over its control socket:
 * status, reload, confirm, rollback, hbi-clear; and apply through the daemon. */
#include "filterctl.h"
#include "jsonutil.h"
#include "label.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"

const char *ctl_socket_path(void)
{
	static char path[108];
	const char *e = getenv("FILTERD_SOCKET");
	struct config c;
	struct diags d = {0};

	if (e && *e)
		return e;
	if (path[0])
		return path;
	config_defaults(&c);
	config_load(&c, FILTERD_CONF, true, &d);
	snprintf(path, sizeof(path), "%s", c.socket);
	config_free(&c);
	diags_clear(&d);
	return path;
}

bool ctl_reachable(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ctl_socket_path());
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

int ctl_call(json_t *req, json_t **ans, unsigned timeout_s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *txt = json_dumps(req, JSON_COMPACT);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd = -1, ret = -1;

	*ans = NULL;
	if (!txt)
		goto out;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ctl_socket_path());
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0 && (errno == EACCES || errno == EPERM)) {
			/* the socket's mode and group decide who may connect at all,
			 * the roles what a caller may do once connected */
			fprintf(stderr, "filterctl: permission denied on filterd's socket %s: connecting needs "
				"its group (filterd's socket_group) as well as a role\n", sa.sun_path);
			ret = -2;
		} else {
			fprintf(stderr, "filterctl: cannot reach filterd at %s: %s\n", sa.sun_path, strerror(errno));
		}
		goto out;
	}
	size_t l = strlen(txt);
	txt[l] = '\n';
	int send_err = 0;
	for (size_t off = 0; off < l + 1;) {
		ssize_t w = send(fd, txt + off, l + 1 - off, MSG_NOSIGNAL);
		if (w < 0 && (errno == EPIPE || errno == ECONNRESET)) {
			/* filterd answered and closed before reading us ("too many
			 * clients"): its answer is still there to read */
			send_err = errno;
			break;
		}
		if (w < 0) {
			fprintf(stderr, "filterctl: sending to filterd: %s\n", strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, (int)timeout_s * 1000) <= 0) {
			fprintf(stderr, "filterctl: filterd did not answer within %u s\n", timeout_s);
			goto out;
		}
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			char *nb = realloc(buf, cap);
			if (!nb)
				goto out;
			buf = nb;
		}
		ssize_t r = recv(fd, buf + len, cap - len, 0);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	if (send_err && len == 0) {
		fprintf(stderr, "filterctl: sending to filterd: %s\n", strerror(send_err));
		goto out;
	}
	json_error_t je;
	/* JSON_ALLOW_NUL: a NUL in an audit record (a crash leaves zeros) is a
	 * string's \u0000, which must not make the whole answer unreadable */
	*ans = json_loadb(buf ? buf : "", len, JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL, &je);
	if (!*ans) {
		fprintf(stderr, "filterctl: filterd's answer is not JSON\n");
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(txt);
	free(buf);
	return ret;
}

int ctl_request(const char *op, json_t *extra, unsigned timeout_s, json_t **ans)
{
	json_t *req = json_pack("{s:s}", "op", op);
	int rc;

	*ans = NULL;
	if (extra)
		json_object_update(req, extra);
	json_decref(extra);
	rc = ctl_call(req, ans, timeout_s);
	json_decref(req);
	if (rc < 0)
		return rc == -2 ? EXIT_DENIED : EXIT_DAEMON;
	bool ok = json_is_true(json_object_get(*ans, "ok"));
	if (!ok || !ctl_raw_answer)
		text_tree(*ans);
	if (ok)
		return EXIT_OK;
	const char *e = json_string_value(json_object_get(*ans, "error"));
	const char *diag = json_string_value(json_object_get(*ans, "diagnostics"));
	if (diag && *diag) {
		/* the diagnostics, then what happened, as `filterctl check` says it
		 * (not the first diagnostic a second time) */
		size_t nerr = 0;

		for (const char *q = diag; (q = strstr(q, ": error: ")); q++)
			nerr++;
		fputs(diag, stderr);
		if (nerr == 0 && e)	/* warnings only: the reason is elsewhere (the
					 * hbi or isolation latch, rollback protection) */
			fprintf(stderr, "filterctl: %s\n", e);
		else
			fprintf(stderr, "filterctl: rejected by filterd (%zu error%s); the rules in force "
				"are unchanged\n", nerr, nerr == 1 ? "" : "s");
	} else {
		fprintf(stderr, "filterctl: %s\n", e ? e : "failed");
	}
	rc = json_object_get(*ans, "need_role") ? EXIT_DENIED :
	     e && strstr(e, "kernel refused") ? EXIT_KERNEL : EXIT_POLICY;
	json_decref(*ans);
	*ans = NULL;
	return rc;
}

static int simple(const char *op, json_t *extra)
{
	json_t *ans;
	int rc = ctl_request(op, extra, 120, &ans);

	if (rc != EXIT_OK)
		return rc;
	const char *mode = json_string_value(json_object_get(ans, "mode"));
	if (mode)
		printf("%s: %s (%lld rules, %lld sets, %lld elements; +%lld/-%lld elements) in %.1f ms\n",
		       op, mode, json_integer_value(json_object_get(ans, "rules")),
		       json_integer_value(json_object_get(ans, "sets")),
		       json_integer_value(json_object_get(ans, "elements")),
		       json_integer_value(json_object_get(ans, "elements_added")),
		       json_integer_value(json_object_get(ans, "elements_deleted")),
		       json_real_value(json_object_get(ans, "ms")));
	else
		printf("%s: ok\n", op);
	json_decref(ans);
	return rc;
}

static bool no_args(int argc, char **argv, const char *usage)
{
	if (argc > 1 && strcmp(argv[1], "--force") != 0) {
		fprintf(stderr, "usage: filterctl %s\n", usage);
		return false;
	}
	return true;
}

int cmd_reload(int argc, char **argv)
{
	bool force = argc > 1 && strcmp(argv[1], "--force") == 0;
	if (!no_args(argc, argv, "reload [--force]"))
		return EXIT_USAGE;
	return simple("reload", force ? json_pack("{s:b}", "force", 1) : NULL);
}

int cmd_confirm(int argc, char **argv)
{
	if (!no_args(argc, argv, "confirm"))
		return EXIT_USAGE;
	return simple("confirm", NULL);
}

int cmd_rollback(int argc, char **argv)
{
	if (!no_args(argc, argv, "rollback"))
		return EXIT_USAGE;
	return simple("rollback", NULL);
}

int cmd_hbi_clear(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: filterctl hbi-clear WORKSPACE\n");
		return EXIT_USAGE;
	}
	return simple("hbi-clear", json_pack("{s:s}", "workspace", argv[1]));
}

/* The FQDN block of status, for people: one line a set, one a name. */
static void print_fqdn(json_t *fq)
{
	json_t *v, *x;
	size_t i, j;
	const char *k;

	char q[32] = "(not bound)";

	if (json_is_integer(json_object_get(fq, "queue")))
		snprintf(q, sizeof(q), "%lld", (long long)json_integer_value(json_object_get(fq, "queue")));
	printf("%-26s queue %s, resolvers", "fqdn", q);
	json_array_foreach(json_object_get(fq, "resolvers"), i, v)
		printf("%s %s", i ? "," : "", json_string_value(v));
	if (!json_array_size(json_object_get(fq, "resolvers")))
		printf(" none");
	printf("\n");
	json_array_foreach(json_object_get(fq, "sets"), i, v) {
		json_t *addrs = json_object_get(v, "addresses");
		long long soonest = -1;

		json_array_foreach(addrs, j, x) {
			long long e = json_integer_value(json_object_get(x, "expires_in"));
			if (soonest < 0 || e < soonest)
				soonest = e;
		}
		printf("  set %-30s %-28s %zu address%s", json_string_value(json_object_get(v, "set")),
		       json_string_value(json_object_get(v, "fqdn")), json_array_size(addrs),
		       json_array_size(addrs) == 1 ? "" : "es");
		json_array_foreach(addrs, j, x) {
			if (j == 4) {
				printf(" ...");
				break;
			}
			printf("%s%s", j ? ", " : ": ", json_string_value(json_object_get(x, "address")));
		}
		if (soonest >= 0)
			printf(" (next expiry in %lld s)", soonest);
		if (json_integer_value(json_object_get(v, "capped")))
			printf(" [capped %lld]", (long long)json_integer_value(json_object_get(v, "capped")));
		printf("\n");
	}
	json_array_foreach(json_object_get(fq, "resolved_names"), i, v) {
		const char *err = json_string_value(json_object_get(v, "last_error"));

		printf("  name %-29s asked %lld time%s, next in %lld s%s%s\n",
		       json_string_value(json_object_get(v, "name")),
		       (long long)json_integer_value(json_object_get(v, "resolves")),
		       json_integer_value(json_object_get(v, "resolves")) == 1 ? "" : "s",
		       (long long)json_integer_value(json_object_get(v, "next_resolve_in")),
		       err && *err ? "; last error: " : "", err ? err : "");
	}
	printf("  counters");
	json_object_foreach(json_object_get(fq, "counters"), k, v)
		printf(" %s=%lld", k, (long long)json_integer_value(v));
	printf("\n");
}

int cmd_status(int argc, char **argv)
{
	bool as_json = argc > 1 && strcmp(argv[1], "--json") == 0;
	json_t *ans, *s;
	int rc = EXIT_OK;

	if (argc > 2 || (argc == 2 && !as_json)) {
		fprintf(stderr, "usage: filterctl status [--json]\n");
		return EXIT_USAGE;
	}
	ctl_raw_answer = as_json;
	rc = ctl_request("status", NULL, 30, &ans);
	if (rc != EXIT_OK)
		return rc;
	s = json_object_get(ans, "status");
	if (as_json) {
		char *t = json_dumps(s, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9) |
					JSON_ENSURE_ASCII);
		if (t)
			printf("%s\n", t);
		free(t);
	} else {
		const char *k;
		json_t *v;
		json_object_foreach(s, k, v) {
			if (strcmp(k, "fqdn") == 0 && json_is_object(v)) {
				print_fqdn(v);
			} else if (json_is_object(v)) {
				printf("%-26s", k);
				const char *k2;
				json_t *v2;
				json_object_foreach(v, k2, v2) {
					char *t = json_dumps(v2, JSON_ENCODE_ANY | JSON_REAL_PRECISION(9));
					printf(" %s=%s", k2, t ? t : "?");
					free(t);
				}
				printf("\n");
			} else if (json_is_string(v)) {
				printf("%-26s %s\n", k, json_string_value(v));
			} else {
				char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(9));
				printf("%-26s %s\n", k, t ? t : "?");
				free(t);
			}
		}
	}
	json_decref(ans);
	return rc;
}

int apply_via_daemon(const char *path, unsigned confirm_within, bool force)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;
	json_t *args, *ans;
	int rc;

	if (!f) {
		fprintf(stderr, "filterctl: %s: %s\n", path, strerror(errno));
		return EXIT_POLICY;
	}
	buf = malloc((4u << 20) + 2);
	if (buf)
		len = fread(buf, 1, (4u << 20) + 1, f);
	fclose(f);
	if (!buf || len > (4u << 20)) {
		fprintf(stderr, "filterctl: %s: larger than the 4 MiB limit\n", path);
		free(buf);
		return EXIT_POLICY;
	}
	/* the path is the policy's name in filterd's log and status: what
	 * filterd refuses there (label.h) is replaced, not sent */
	char name[LABEL_MAX + 1];
	size_t nl = 0;
	const unsigned char *q = (const unsigned char *)path;

	while (*q && nl < sizeof(name) - 1) {
		size_t bad = label_bad_char(q);

		name[nl++] = bad ? '?' : (char)*q;
		q += bad ? bad : 1;
	}
	if (*q) {		/* cut: not inside a UTF-8 character */
		while (nl > 0 && ((unsigned char)name[nl - 1] & 0xc0) == 0x80)
			nl--;
		if (nl > 0 && ((unsigned char)name[nl - 1] & 0xc0) == 0xc0)
			nl--;
	}
	name[nl] = '\0';
	args = json_pack("{s:s%,s:s,s:I,s:b}", "policy_text", buf, len, "policy_name", name,
			 "confirm_within", (json_int_t)confirm_within, "force", force);
	free(buf);
	if (!args) {
		fprintf(stderr, "filterctl: %s is not valid UTF-8 text\n", path);
		return EXIT_POLICY;
	}
	rc = ctl_request("apply", args, 120, &ans);
	if (rc != EXIT_OK)
		return rc;
	printf("applied %s through filterd: %s (%lld rules, %lld sets, %lld elements) in %.1f ms\n", path,
	       json_string_value(json_object_get(ans, "mode")),
	       json_integer_value(json_object_get(ans, "rules")),
	       json_integer_value(json_object_get(ans, "sets")),
	       json_integer_value(json_object_get(ans, "elements")),
	       json_real_value(json_object_get(ans, "ms")));
	printf("%s\n", apply_conn_note(json_is_true(json_object_get(ans, "hbi"))));
	if (json_is_string(json_object_get(ans, "warning")))
		fprintf(stderr, "filterctl: warning: %s\n", json_string_value(json_object_get(ans, "warning")));
	if (json_object_get(ans, "no_window"))
		printf("no confirmation window: %s\n", json_string_value(json_object_get(ans, "no_window")));
	else if (confirm_within)
		printf("confirm within %u s with 'filterctl confirm', or filterd rolls back to the previous policy\n",
		       confirm_within);
	json_decref(ans);
	return EXIT_OK;
}

/* A user: or group: name this host does not know grants nobody: said, not
 * refused (a directory service may know it later). */
static void warn_unknown_members(const char *list)
{
	char names[1024];

	if (roles_unknown(list, names, sizeof(names)))
		fprintf(stderr, "filterctl: warning: not known on this host, so granting nobody until "
			"they are: %s\n", names);
}

/* filterctl roles                       shows who has which role
 * filterctl roles set [--reader L] [--contributor L] [--owner L]   (owner) */
int cmd_roles(int argc, char **argv)
{
	static const char *names[3] = { "reader", "contributor", "owner" };
	bool set = argc >= 2 && strcmp(argv[1], "set") == 0;
	json_t *args = NULL, *ans;
	int rc;

	if (set) {
		args = json_object();
		for (int i = 2; i < argc; i++) {
			int k = -1;
			for (int r = 0; r < 3; r++)
				if (strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i] + 2, names[r]) == 0)
					k = r;
			if (k < 0 || i + 1 >= argc) {
				fprintf(stderr, "usage: filterctl roles set [--reader LIST] [--contributor LIST] [--owner LIST]\n"
						"LIST: user:NAME, group:NAME, uid:N, gid:N separated by commas (\"\" empties the role)\n");
				json_decref(args);
				return EXIT_USAGE;
			}
			json_object_set_new(args, names[k], jtext(argv[++i]));
			warn_unknown_members(argv[i]);
		}
		if (json_object_size(args) == 0) {
			fprintf(stderr, "usage: filterctl roles set [--reader LIST] [--contributor LIST] [--owner LIST]\n"
					"(give at least one list)\n");
			json_decref(args);
			return EXIT_USAGE;
		}
	} else if (argc != 1) {
		fprintf(stderr, "usage: filterctl roles [set [--reader LIST] [--contributor LIST] [--owner LIST]]\n");
		return EXIT_USAGE;
	}
	rc = ctl_request(set ? "set-roles" : "roles", args, 30, &ans);
	if (rc != EXIT_OK)
		return rc;
	json_t *r = json_object_get(ans, "roles");
	const char *own = json_string_value(json_object_get(r, "owner"));

	printf("owner        root%s%s\n", own && *own ? ", " : "", own ? own : "");
	printf("contributor  %s\n", json_string_value(json_object_get(r, "contributor")));
	printf("reader       %s\n", json_string_value(json_object_get(r, "reader")));
	if (json_object_get(ans, "saved") && !json_is_true(json_object_get(ans, "saved")))
		printf("warning: in force, but not saved (the state directory is not writable)\n");
	json_decref(ans);
	return EXIT_OK;
}
