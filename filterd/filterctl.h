/* filterctl — the operator's client.  One file per subcommand (cmd_*.c). */
#ifndef FILTERD_FILTERCTL_H
#define FILTERD_FILTERCTL_H

#include "compile.h"
#include "diag.h"
#include "policy.h"
#include "servicetags.h"

/* Exit codes (documented in filterctl(8)). */
enum {
	EXIT_OK = 0,
	EXIT_POLICY = 1,	/* policy or tags file rejected */
	EXIT_USAGE = 2,
	EXIT_KERNEL = 3,	/* the kernel refused the batch */
	EXIT_DAEMON = 4,	/* filterd cannot be reached */
	EXIT_DENIED = 5,	/* filterd refused: the caller lacks the role */
};

struct loaded {
	struct tagdb *tags;
	struct policy *policy;
	struct compiled *compiled;
	struct diags diags;
};

/* Parses the policy, loads the tags, resolves and (with do_compile) compiles.
 * Prints every diagnostic to stderr.  Returns EXIT_OK or EXIT_POLICY. */
int load_policy(const char *policy_path, const char *tags_path, bool do_compile,
		struct loaded *l);
void loaded_free(struct loaded *l);
/* Default tags file when --tags is not given. */
const char *default_tags_path(void);

int cmd_check(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_confirm(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_hbi_clear(int argc, char **argv);
int cmd_roles(int argc, char **argv);
int cmd_show(int argc, char **argv);		/* cmd_show.c */
int cmd_metrics(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_audit(int argc, char **argv);

/* Control socket client (cmd_daemon.c). */
#include <jansson.h>
const char *ctl_socket_path(void);
bool ctl_reachable(void);
/* 0, -1 (not reached; said), -2 (the socket refused the caller; said). */
int ctl_call(json_t *req, json_t **ans, unsigned timeout_s);
/* {"op": op} plus the members of extra (consumed) to filterd; on success *ans
 * is the answer (caller decrefs) and EXIT_OK is returned; otherwise the
 * diagnostics and error are printed and the exit code is returned
 * (EXIT_DAEMON, EXIT_DENIED, EXIT_KERNEL or EXIT_POLICY), *ans NULL. */
int ctl_request(const char *op, json_t *extra, unsigned timeout_s, json_t **ans);
/* filterctl_text.c: strings of an answer made inert for a terminal.
 * text_safe returns a malloc'd copy of s with control characters (C0 but
 * tab, and newline unless keep_newlines; DEL; C1) and the Unicode line
 * separators and bidi controls written as \xNN or \u{NNNN}.  text_tree does
 * that to every string of j in place, keeping the newlines of the members
 * that are several lines long (diagnostics, metrics, output).  ctl_request
 * does it to every answer unless ctl_raw_answer is set (by a command that
 * prints JSON, which jansson escapes, and prints it ASCII-only). */
char *text_safe(const char *s, bool keep_newlines);
char *text_safen(const char *s, size_t n, bool keep_newlines);	/* NULs in s shown as \x00 */
void text_tree(json_t *j);
extern bool ctl_raw_answer;
int apply_via_daemon(const char *path, unsigned confirm_within, bool force);

/* What an apply does to the connections under way (filterctl apply, with
 * and without --daemon): hbi is the applied policy's hbi_workspace. */
static inline const char *apply_conn_note(bool hbi)
{
	return hbi ? "note: existing connections are kept, except inbound ones: with hbi_workspace every "
		     "packet a remote end sends is judged by the rules in force, and a connection they "
		     "no longer allow stalls (its packets are dropped)" :
		     "note: existing connections are kept (rule changes affect new connections only)";
}

#endif
