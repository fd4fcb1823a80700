/* filterd: metrics in the Prometheus text exposition format (0.0.4), for the
 * control op "metrics" and for node_exporter's textfile collector
 * (cfg.metrics_file, rewritten every cfg.metrics_interval seconds through a
 * temporary file and rename, so the collector never reads half a file).
 *
 * Per-rule packets and bytes are the kernel's rule counters, read with a
 * rules-only dump of the table at each scrape, and summed per (policy rule,
 * category, direction, chain, action): one policy rule compiles to several
 * kernel rules (per family; a drop to the rate-limited "logged" rule and the
 * "dropped" rule). */
#include "observe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter.h>

#include "fsutil.h"
#include "ruleinfo.h"
#include "strbuf.h"

/* Label value escaping of the text format: backslash, double quote, newline. */
static void put_label(struct strbuf *sb, const char *name, const char *v, bool first)
{
	sb_printf(sb, "%s%s=\"", first ? "" : ",", name);
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == '\\')
			sb_puts(sb, "\\\\");
		else if (*p == '"')
			sb_puts(sb, "\\\"");
		else if (*p == '\n')
			sb_puts(sb, "\\n");
		else
			sb_printf(sb, "%c", *p);
	}
	sb_puts(sb, "\"");
}

static void head(struct strbuf *sb, const char *name, const char *type, const char *help)
{
	sb_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void plain(struct strbuf *sb, const char *name, const char *type, const char *help, double v)
{
	head(sb, name, type, help);
	sb_printf(sb, "%s %.15g\n", name, v);
}

/* ---- per-rule aggregation ----------------------------------------------- */

struct agg {
	char rule[200], category[32], direction[16], chain[64], action[16];
	uint64_t packets, bytes;
};

struct aggs {
	struct agg *v;
	size_t n, cap;
};

static struct agg *agg_get(struct aggs *a, const char *rule, const char *cat, const char *dir,
			   const char *chain, const char *action)
{
	for (size_t i = 0; i < a->n; i++) {
		struct agg *x = &a->v[i];
		if (!strcmp(x->rule, rule) && !strcmp(x->category, cat) && !strcmp(x->direction, dir) &&
		    !strcmp(x->chain, chain) && !strcmp(x->action, action))
			return x;
	}
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 64;
		struct agg *nv = realloc(a->v, nc * sizeof(*nv));
		if (!nv)
			return NULL;
		a->v = nv;
		a->cap = nc;
	}
	struct agg *x = &a->v[a->n++];
	memset(x, 0, sizeof(*x));
	snprintf(x->rule, sizeof(x->rule), "%s", rule);
	snprintf(x->category, sizeof(x->category), "%s", cat);
	snprintf(x->direction, sizeof(x->direction), "%s", dir);
	snprintf(x->chain, sizeof(x->chain), "%s", chain);
	snprintf(x->action, sizeof(x->action), "%s", action);
	return x;
}

/* Splits "<category>:<dir>:<name>"; anything else is "unknown". */
static void split_comment(const char *c, char *cat, size_t catl, char *dir, size_t dirl, char *name,
			  size_t namel)
{
	const char *c1 = strchr(c, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

	if (!c1 || !c2) {
		snprintf(cat, catl, "unknown");
		snprintf(dir, dirl, "%s", "");
		snprintf(name, namel, "%s", c);
		return;
	}
	snprintf(cat, catl, "%.*s", (int)(c1 - c), c);
	snprintf(dir, dirl, "%.*s", (int)(c2 - c1 - 1), c1 + 1);
	snprintf(name, namel, "%s", c2 + 1);
}

static void rule_metrics(struct daemon *d, struct strbuf *sb)
{
	char err[512], comment[256], cat[32], dir[16], name[200];
	struct nftnl_rule_list *rl = rules_from_kernel(d->cfg.table, NFPROTO_INET, err, sizeof(err));
	struct aggs a = {0};

	head(sb, "filterd_table_readable", "gauge",
	     "1 when the rule counters could be read from the kernel's table, 0 otherwise.");
	sb_printf(sb, "filterd_table_readable %d\n", rl ? 1 : 0);
	if (!rl)
		return;
	struct nftnl_rule_list_iter *it = nftnl_rule_list_iter_create(rl);
	struct nftnl_rule *r;
	while (it && (r = nftnl_rule_list_iter_next(it))) {
		uint64_t pk, by;
		if (!rule_counter_get(r, &pk, &by))
			continue;
		rule_comment(r, comment, sizeof(comment));
		split_comment(comment, cat, sizeof(cat), dir, sizeof(dir), name, sizeof(name));
		struct agg *x = agg_get(&a, name, cat, dir, nftnl_rule_get_str(r, NFTNL_RULE_CHAIN),
					rule_action_name(rule_action_of(r)));
		if (x) {
			x->packets += pk;
			x->bytes += by;
		}
	}
	if (it)
		nftnl_rule_list_iter_destroy(it);
	nftnl_rule_list_free(rl);

	static const char *const what[2] = { "packets", "bytes" };
	for (int w = 0; w < 2; w++) {
		char mname[64];
		snprintf(mname, sizeof(mname), "filterd_rule_%s_total", what[w]);
		head(sb, mname, "counter", w == 0 ?
		     "Packets matched by the table's rules, per policy rule; action logged = the rate-limited logging rule of a drop, dropped = the drop itself." :
		     "Bytes matched by the table's rules, per policy rule (see filterd_rule_packets_total).");
		for (size_t i = 0; i < a.n; i++) {
			sb_printf(sb, "%s{", mname);
			put_label(sb, "rule", a.v[i].rule, true);
			put_label(sb, "category", a.v[i].category, false);
			put_label(sb, "direction", a.v[i].direction, false);
			put_label(sb, "chain", a.v[i].chain, false);
			put_label(sb, "action", a.v[i].action, false);
			sb_printf(sb, "} %llu\n", (unsigned long long)(w == 0 ? a.v[i].packets : a.v[i].bytes));
		}
	}
	/* drops per policy rule: the "dropped" rules, over every chain */
	struct aggs dr = {0};
	for (size_t i = 0; i < a.n; i++) {
		if (strcmp(a.v[i].action, "dropped") != 0)
			continue;
		struct agg *x = agg_get(&dr, a.v[i].rule, a.v[i].category, a.v[i].direction, "", "");
		if (x)
			x->packets += a.v[i].packets;
	}
	head(sb, "filterd_drops_total", "counter", "Packets dropped, per policy rule (kernel rule counters).");
	for (size_t i = 0; i < dr.n; i++) {
		sb_puts(sb, "filterd_drops_total{");
		put_label(sb, "rule", dr.v[i].rule, true);
		put_label(sb, "category", dr.v[i].category, false);
		put_label(sb, "direction", dr.v[i].direction, false);
		sb_printf(sb, "} %llu\n", (unsigned long long)dr.v[i].packets);
	}
	free(dr.v);
	free(a.v);
}

struct dl_emit {
	struct strbuf *sb;
};

static void dl_rule(const char *comment, uint64_t packets, void *data)
{
	struct dl_emit *e = data;
	char cat[32], dir[16], name[200];

	split_comment(comment, cat, sizeof(cat), dir, sizeof(dir), name, sizeof(name));
	sb_puts(e->sb, "filterd_drop_log_packets_total{");
	put_label(e->sb, "rule", name, true);
	put_label(e->sb, "category", cat, false);
	put_label(e->sb, "direction", dir, false);
	sb_printf(e->sb, "} %llu\n", (unsigned long long)packets);
}

static int count_elem(struct nftnl_set_elem *e, void *data)
{
	(void)e;
	(*(uint64_t *)data)++;
	return 0;
}

char *metrics_text(struct daemon *d)
{
	struct strbuf sb = {0};
	const struct droplog_stats *st = droplog_stats();

	plain(&sb, "filterd_applies_total", "counter", "Policies applied to the kernel (full or incremental).",
	      (double)d->n_applies);
	plain(&sb, "filterd_apply_rejections_total", "counter",
	      "Policies rejected (parse, compile, refusal or kernel error); the rules in force stayed.",
	      (double)d->n_rejects);
	plain(&sb, "filterd_rollbacks_total", "counter", "Rollbacks to the previous policy.", (double)d->n_rollbacks);
	plain(&sb, "filterd_incremental_updates_total", "counter",
	      "Applies sent as set element changes only (service tag refreshes).", (double)d->n_incremental);
	plain(&sb, "filterd_drift_events_total", "counter",
	      "Changes to the table made behind filterd's back.", (double)d->n_drift);
	plain(&sb, "filterd_refusals_total", "counter",
	      "Policies refused by a guard (hbi latch, older service tags).", (double)d->n_refused);
	plain(&sb, "filterd_last_apply_duration_seconds", "gauge", "Duration of the last apply.",
	      d->last_apply_ms / 1000.0);
	plain(&sb, "filterd_pending_confirmation", "gauge",
	      "1 while an apply waits for 'filterctl confirm' (else rolled back).", d->pending ? 1 : 0);
	if (d->pending)
		plain(&sb, "filterd_pending_confirmation_deadline_seconds", "gauge",
		      "When the pending apply is rolled back unless confirmed (Unix time).",
		      (double)pending_until_wall(d));
	plain(&sb, "filterd_ownership_active", "gauge",
	      "1 when the kernel enforces filterd's ownership of the table.", d->ownership_active ? 1 : 0);
	plain(&sb, "filterd_policy_in_force", "gauge", "1 when a policy applied by filterd is in force.",
	      d->cur.text ? 1 : 0);
	if (d->cur.text) {
		head(&sb, "filterd_policy_info", "gauge", "The policy in force (value always 1).");
		sb_puts(&sb, "filterd_policy_info{");
		put_label(&sb, "workspace", d->cur.workspace, true);
		put_label(&sb, "sha256", d->cur.sha256, false);
		put_label(&sb, "policy", d->cur.name, false);
		put_label(&sb, "applied_by", d->cur.by, false);
		sb_puts(&sb, "} 1\n");
		plain(&sb, "filterd_policy_applied_timestamp_seconds", "gauge",
		      "When the policy in force was applied (Unix time).", (double)d->cur.at);
		plain(&sb, "filterd_tags_change_number", "gauge",
		      "changeNumber of the service tags the policy in force was compiled with.",
		      (double)d->cur.tags_change);
		plain(&sb, "filterd_hbi_workspace", "gauge", "1 when the policy in force has hbi_workspace set.",
		      d->cur.hbi ? 1 : 0);
		plain(&sb, "filterd_hbi_locked", "gauge",
		      "1 when this host refuses a policy without hbi_workspace for the workspace in force.",
		      hbi_is_locked(d, d->cur.workspace) ? 1 : 0);
	}
	if (d->tags)
		plain(&sb, "filterd_tags_loaded_change_number", "gauge",
		      "changeNumber of the service tags file loaded.", (double)d->tags->change_number);
	if (d->current) {
		plain(&sb, "filterd_rules", "gauge", "Rules in the compiled table.", (double)d->current->nrules);
		head(&sb, "filterd_set_elements", "gauge",
		     "Elements per set of the compiled table (an interval counts its start and end markers).");
		struct nftnl_set_list_iter *it = nftnl_set_list_iter_create(d->current->rs->sets);
		struct nftnl_set *s;
		while (it && (s = nftnl_set_list_iter_next(it))) {
			uint64_t n = 0;
			nftnl_set_elem_foreach(s, count_elem, &n);
			sb_puts(&sb, "filterd_set_elements{");
			put_label(&sb, "set", nftnl_set_get_str(s, NFTNL_SET_NAME), true);
			sb_printf(&sb, "} %llu\n", (unsigned long long)n);
		}
		if (it)
			nftnl_set_list_iter_destroy(it);
	}
	rule_metrics(d, &sb);
	fqdn_metrics(d, &sb);	/* FQDN sets: addresses, next expiry, answers, errors */

	plain(&sb, "filterd_drop_log_active", "gauge", "1 when filterd reads the NFLOG group of the drop rules.",
	      st->active ? 1 : 0);
	plain(&sb, "filterd_drop_log_received_total", "counter", "Denied packets received on the NFLOG group.",
	      (double)st->received);
	plain(&sb, "filterd_drop_log_lines_total", "counter", "Drop log lines written.", (double)st->logged);
	plain(&sb, "filterd_drop_log_suppressed_total", "counter",
	      "Drop log lines held back by drop_log_rate.", (double)st->suppressed);
	plain(&sb, "filterd_drop_log_lost_total", "counter",
	      "Times the NFLOG socket overflowed (packets lost to the log, still dropped).", (double)st->lost);
	head(&sb, "filterd_drop_log_packets_total", "counter", "Denied packets received on the NFLOG group, per policy rule.");
	struct dl_emit e = { &sb };
	droplog_foreach_rule(dl_rule, &e);
	plain(&sb, "filterd_drop_pcap_packets_total", "counter", "Denied packets written to the drop pcap.",
	      (double)st->pcap_packets);
	plain(&sb, "filterd_drop_pcap_rotations_total", "counter", "Rotations of the drop pcap.",
	      (double)st->pcap_rotations);
	plain(&sb, "filterd_drop_pcap_bytes", "gauge", "Size of the current drop pcap.", (double)st->pcap_bytes);
	if (sb.oom) {
		sb_free(&sb);
		return NULL;
	}
	return sb_take(&sb);
}

int metrics_write_textfile(struct daemon *d)
{
	char tmp[4096];
	char *txt;
	int fd, ret = -1;

	if (!d->cfg.metrics_file || !d->cfg.metrics_file[0])
		return 0;
	txt = metrics_text(d);
	if (!txt)
		return -1;
	/* node_exporter reads *.prom only: a ".tmp" suffix is never half-read */
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", d->cfg.metrics_file, (int)getpid());
	fd = open_fresh(tmp, 0644);
	if (fd >= 0) {
		size_t len = strlen(txt), off = 0;
		while (off < len) {
			ssize_t w = write(fd, txt + off, len - off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			off += (size_t)w;
		}
		if (off == len && close(fd) == 0) {
			fd = -1;
			if (rename(tmp, d->cfg.metrics_file) == 0)
				ret = 0;
		}
		if (fd >= 0)
			close(fd);
	}
	if (ret < 0) {
		static time_t last_warned;
		time_t now = mono_now();
		if (now - last_warned >= 300) {	/* a broken path must not flood the log */
			dlog("event=warning what=metrics-file file=%s error=\"%s\"", d->cfg.metrics_file,
			     strerror(errno));
			last_warned = now;
		}
		unlink(tmp);
	}
	free(txt);
	return ret;
}
