/* vm — userspace evaluator of nftables bytecode.
 *
 * Loaded from the libnftnl objects of a struct ruleset (compiled, dumped from a
 * kernel, or read from a saved dump), so what it judges is the bytecode the
 * kernel runs.  Semantics follow net/netfilter/nf_tables_core.c (nft_do_chain)
 * and the nft_*.c expressions one by one; whatever it cannot evaluate exactly
 * makes vm_load() fail with a message naming it — it never guesses.
 *
 * Error convention: vm_load() returns NULL and writes a message into err;
 * vm_eval() returns 0, or -1 with errno set (EINVAL: bad arguments).
 *
 * The vm keeps pointers into the ruleset (rules, set elements, names): the
 * ruleset must outlive the vm.  A vm is not thread-safe (counters, limit
 * buckets and coverage flags are updated by vm_eval). */
#ifndef FILTERD_VM_H
#define FILTERD_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet.h"
#include "ruleset.h"

struct vm;

/* What one packet got at one hook. */
struct vm_verdict {
	int verdict;		/* NF_ACCEPT or NF_DROP */
	bool no_chain;		/* no base chain on this hook/family: netfilter accepts */
	bool policy;		/* decided by a base chain's policy (rule == NULL) */
	const char *chain;	/* chain of the deciding rule, or base chain of the policy */
	const struct nftnl_rule *rule;	/* deciding rule, NULL for a policy */
	int rule_index;		/* 0-based index of rule in chain; -1 for a policy */
	unsigned nchains;	/* base chains evaluated (all accept, or up to the drop) */
	bool rejected;		/* the drop came from a reject expression */
	uint32_t reject_type;	/* NFT_REJECT_* when rejected */
	uint8_t reject_code;
	bool incomplete;	/* a load needed bytes the capture does not hold: it
				 * broke here where the kernel may have matched */
	unsigned nlogged;	/* log expressions executed for this packet */
	const char *log_prefix;	/* prefix of the last one (may be NULL) */
	/* A queue expression decided (expr_queue.c).  The only queue rule
	 * filterd compiles sends DNS answers from the configured resolvers to
	 * filterd, which learns from them and then accepts them; offline the
	 * verdict is therefore NF_ACCEPT with queued set, and the caller (the
	 * replayer) learns from the packet. */
	bool queued;
	uint16_t queue_num;
};

/* A flow memo: the outcome of one evaluation and what it depended on, so that
 * the next packet of the same conntrack tuple, direction and hook — which
 * the evaluation could not tell apart from this one — gets the same outcome
 * without running the bytecode again.  Only evaluations that read nothing
 * but the conntrack tuple's fields (addresses, l4 protocol, ports, ICMP
 * type/code/id), the hook's interfaces, ctinfo (ct state, ct direction) and,
 * kept as keys, ct status and ct mark are memoised, and only for packets with
 * conntrack that are neither RELATED nor cut short; an expression that reads
 * anything else (length, TTL, TCP flags, meta mark, a set with run-time
 * elements) or keeps state (limit) makes the evaluation not memoisable.  The
 * effects on rule and element counters are replayed, so statistics and
 * coverage are those of a full evaluation (vm_memo.c).
 *
 * The caller keeps one memo per conntrack entry and direction (the tuple in
 * the packet's own orientation determines every field a memoised outcome may
 * depend on; pcap-replay keeps them in the entry itself, ct_entry_ext) and
 * passes the packet's.  Outcomes are interned by the vm (many flows share
 * one), so a memo is small. */
struct vm_outcome;
struct vm_memo {
	const struct vm_outcome *o;	/* NULL: empty */
	uint32_t status, mark, iif, oif;
	int32_t hook;
	uint8_t ctinfo;
};

/* vm_eval, using m (the memo of p's conntrack entry and direction) when p
 * matches what the memoised evaluation depended on (returns 1: the memo
 * decided), else evaluating and recording into m when the evaluation is
 * memoisable, or emptying m (returns 0).  Without conntrack (p->ct), with a
 * trace callback set, or for RELATED or malformed/truncated packets it is
 * vm_eval.  -1 with errno as vm_eval. */
int vm_eval_memo(struct vm *vm, struct pkt *p, struct vm_verdict *out, struct vm_memo *m);
/* Distinct outcomes memoised so far (at most VM_MEMO_OUTCOMES_MAX). */
size_t vm_memo_outcomes(const struct vm *vm);
#define VM_MEMO_OUTCOMES_MAX 65536

enum vm_trace_type {
	VM_TRACE_RULE,		/* a rule was evaluated (matched or not) */
	VM_TRACE_RETURN,	/* end of a regular chain: back to the caller */
	VM_TRACE_POLICY,	/* end of a base chain: its policy applies */
};

/* One trace event; pointers are valid during the callback only. */
struct vm_trace_event {
	enum vm_trace_type type;
	const char *chain;
	const struct nftnl_rule *rule;	/* NULL for RETURN / POLICY */
	int rule_index;			/* -1 for RETURN / POLICY */
	bool matched;			/* rule: all expressions ran without NFT_BREAK */
	int verdict;	/* NF_ACCEPT, NF_DROP, NFT_CONTINUE, NFT_JUMP, NFT_GOTO, NFT_RETURN */
	const char *target;		/* jump/goto target chain, else NULL */
};

typedef void (*vm_trace_fn)(const struct vm_trace_event *ev, void *arg);

/* Builds the evaluator.  Returns NULL with a message in err (e.g. "rule 12 in
 * chain input: expression 'fib' is not supported") when anything in the ruleset
 * cannot be evaluated exactly, or on out-of-memory. */
struct vm *vm_load(const struct ruleset *rs, char *err, size_t errlen);
void vm_free(struct vm *vm);

/* Evaluates every base chain of the table registered on p->hook for p->nfproto,
 * in priority order (netfilter: an accept passes the packet to the next chain, a
 * drop ends it).  p must be decoded (nh_off, th_off, tprot_set, fragoff, len,
 * ...) and carry hook context and conntrack state.  p->mark may be changed by
 * "meta mark set".  Returns 0, or -1 with errno = EINVAL. */
int vm_eval(struct vm *vm, struct pkt *p, struct vm_verdict *out);

/* The rule index (vm_index.c), on after vm_load when the ruleset allows it:
 * off, every rule's expressions run one by one (the same verdicts, counters
 * and trace; slower).  vm_rule_index_groups: how many groups, and in *members
 * (may be NULL) how many rules they index. */
void vm_set_rule_index(struct vm *vm, bool on);
size_t vm_rule_index_groups(const struct vm *vm, size_t *members);

/* Per-rule trace callback (NULL to disable), as `nft monitor trace` would show. */
void vm_set_trace(struct vm *vm, vm_trace_fn fn, void *arg);

/* Renders a verdict code ("accept", "drop", "continue", "jump", ...). */
const char *vm_verdict_name(int code);

/* Statistics and coverage, indexed in ruleset order (rule i = i-th rule of the
 * ruleset's rule list; set i = i-th set; element j = j-th element of the set as
 * iterated by libnftnl). */
struct vm_rule_stats {
	const struct nftnl_rule *rule;
	const char *chain;
	int index;		/* in chain */
	uint64_t evaluated;	/* times the rule was reached */
	uint64_t matched;	/* times all its expressions ran without break */
	bool has_counter;
	uint64_t packets, bytes;	/* counter expression(s) */
};

size_t vm_rule_count(const struct vm *vm);
int vm_rule_stats(const struct vm *vm, size_t i, struct vm_rule_stats *out);
/* Stats of one rule found by pointer; -1 (errno ENOENT) if not in the vm. */
int vm_rule_stats_of(const struct vm *vm, const struct nftnl_rule *r,
		     struct vm_rule_stats *out);

size_t vm_set_count(const struct vm *vm);
const char *vm_set_name(const struct vm *vm, size_t i);
size_t vm_set_nelems(const struct vm *vm, size_t i);
/* Times element j of set i was hit by a lookup (interval sets: the start
 * element); 0 for end markers. */
uint64_t vm_set_elem_hits(const struct vm *vm, size_t i, size_t j);
const struct nftnl_set_elem *vm_set_elem(const struct vm *vm, size_t i, size_t j);
/* Bytes of memory used by the lookup structure of set i (for the docs/bench). */
size_t vm_set_memory(const struct vm *vm, size_t i);

/* Zeroes counters, coverage and limit buckets (as a fresh load would). */
void vm_reset(struct vm *vm);

/* Run-time elements (vm_dyn.c): what filterd adds to its timeout sets (FQDN
 * addresses learned from DNS), replayed on capture time.  The clock is the
 * caller's (microseconds, e.g. the capture timestamp of the packet about to be
 * evaluated); an element matches while clock < expires_at.
 *
 * vm_set_add_elem adds key (len = the set's key length) to the named set, or
 * moves the expiry of an element added before (as the kernel's element update
 * does).  Only sets with the timeout flag that are neither maps nor interval
 * sets take run-time elements.  Returns 0, or -1 with errno: ENOENT (no such
 * set), EINVAL (wrong set kind or key length), ENOMEM. */
int vm_set_add_elem(struct vm *vm, const char *set, const void *key, size_t len,
		    int64_t expires_at);
void vm_set_clock(struct vm *vm, int64_t now);
/* Run-time elements of the named set alive at the current clock. */
size_t vm_set_dyn_live(const struct vm *vm, const char *set);

/* FQDN sets (vm_fqdn.c): the timed elements a dump from a live filterd holds
 * in them are ignored by the load (offline, the capture's DNS answers fill
 * the sets); timed elements of other sets still fail it.  Number of elements
 * of set i ignored, and whether element j of set i is one of them. */
size_t vm_set_ignored(const struct vm *vm, size_t i);
bool vm_set_elem_ignored(const struct vm *vm, size_t i, size_t j);

#endif
