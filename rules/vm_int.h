/* vm internals shared by vm.c, vm_set.c and the expression files (expr_*.c).
 *
 * Registers mirror struct nft_regs: 20 32-bit words, words 0..3 being the
 * verdict register (NFT_REG_VERDICT), NFT_REG_1..4 the 16-byte registers at
 * words 4, 8, 12, 16 and NFT_REG32_00..15 words 4..19.  The verdict itself is
 * kept apart (code + chain index) instead of overlaying words 0..3. */
#ifndef FILTERD_VM_INT_H
#define FILTERD_VM_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "packet.h"
#include "ruleset.h"
#include "set_lookup.h"
#include "vm.h"

#define VM_REG_WORDS	20	/* sizeof(struct nft_regs.data) / 4 */
#define VM_JUMP_STACK	16	/* NFT_JUMP_STACK_SIZE */

struct vm_regs {
	int32_t code;		/* regs->verdict.code */
	int32_t chain;		/* regs->verdict.chain, as a chain index */
	uint32_t data[VM_REG_WORDS];
};

struct vm;
struct vm_rule;

/* Per-packet execution context handed to expression evaluators. */
struct vm_exec {
	struct vm *vm;
	struct pkt *p;
	size_t end;		/* offset in p->data where skb->len ends */
	size_t cap_end;		/* offset where the captured bytes end (<= end) */
	struct vm_rule *rule;	/* rule being evaluated */
	struct vm_verdict *out;	/* reject/log details are recorded here */
	bool inner_done;	/* inner header offset computed (NFT_PKTINFO_INNER) */
	bool inner_ok;
	size_t inner_off;
	/* recording a flow memo (vm_memo.c): what the evaluation read and did */
	struct vm_outcome *rec;	/* NULL: not recording */
	unsigned rec_keys;	/* VM_MEMO_KEY_* of what was read */
	/* the rule index (vm_index.c): masks of the groups looked up so far
	 * (bit g of ix_known); ix_mask is not cleared between packets */
	uint64_t ix_known;
	uint64_t ix_mask[64];	/* VM_IX_GROUPS */
};

/* What an expression's run depends on, for the flow memo (vm.h, vm_eval_memo):
 * an expression type's memo() returns 0 when, for this packet, it reads only
 * registers, constants or fields that every packet of one direction of one
 * conntrack entry shares at one hook (the tuple, the interfaces), and changes
 * nothing but what the memo replays (rule and element counters); else the
 * VM_MEMO_KEY_* bits of the conntrack fields its result depends on, which the
 * memo then keeps and compares; or VM_MEMO_NEVER.  A type without memo()
 * (limit, queue, xt targets, ...) is VM_MEMO_NEVER. */
#define VM_MEMO_KEY_STATUS	0x1u	/* ct status */
#define VM_MEMO_KEY_MARK	0x2u	/* ct mark */
#define VM_MEMO_KEY_TUPLE	0x4u	/* addresses, ports, ICMP type/code/id: the
					 * outcome is this conntrack entry's alone;
					 * without it, any entry's with the same
					 * protocols, hook and ctinfo (vm_memo.c) */
#define VM_MEMO_KEY_EXACT	0x8u	/* with TUPLE: a tuple field was read in a way
					 * its class (vm_class.c) does not capture:
					 * not for the class memo */
#define VM_MEMO_NEVER		0x80u
#define VM_MEMO_PER_PACKET	0x40u	/* memo(priv, NULL): "depends on the packet" */
/* ct state and ct direction come from ctinfo, which every memo compares. */

/* An effect the memo replays: a uint64_t to increment (rule matched, element
 * hits), a rule's counter (packets + 1, bytes + the packet's length), a run
 * of rules of one chain reached (evaluated + 1 each), or a limit reached
 * (n: it broke the rule) — a condition as much as an effect: a memo hit
 * first asks every limit of the path whether it would answer the same for
 * this packet at its time, and takes the tokens only when all do (else the
 * bytecode runs).  The kind is in the pointer's low bits. */
static inline void vm_memo_effect(struct vm_exec *x, uintptr_t what);
static inline void vm_memo_reached(struct vm_exec *x, struct vm_rule **rule);
#define VM_EFFECT_INC		0x0u	/* uint64_t * */
#define VM_EFFECT_COUNTER	0x1u	/* struct vm_rule * */
#define VM_EFFECT_RUN		0x2u	/* struct vm_rule **, n rules */
#define VM_EFFECT_LIMIT		0x3u	/* a limit's priv, n = 1: it broke */
#define VM_EFFECT_KIND		0x3u
/* expr_limit.c: would the limit break for p now (state unchanged)?  And the
 * same with its tokens taken (what its eval does). */
bool vm_limit_peek(const void *priv, const struct pkt *p);
bool vm_limit_take(void *priv, const struct pkt *p);
struct vm_expr;
/* For the rule guard: is e "meta KEY -> dreg" (a load), or "cmp eq sreg, one
 * byte"?  (expr_meta.c, expr_cmp.c) */
bool vm_meta_load(const struct vm_expr *e, uint32_t *key, int *dreg);
bool vm_cmp_eq_byte(const struct vm_expr *e, int *sreg, uint8_t *val);
/* For the rule index (vm_index.c): is e "cmp eq sreg, data" (any length), a
 * payload load, a lookup in a set that only answers membership (no data, not
 * inverted, no run-time elements)?  (expr_cmp.c, expr_payload.c, expr_lookup.c) */
bool vm_cmp_eq(const struct vm_expr *e, int *sreg, const uint8_t **data, uint32_t *len);
bool vm_payload_field(const struct vm_expr *e, uint32_t *base, uint32_t *offset,
		      uint32_t *len, int *dreg);
struct vm_set;
bool vm_lookup_plain(const struct vm_expr *e, int *sreg, const struct vm_set **set);
/* Any lookup (maps and inverted ones too): its key register and set. */
bool vm_lookup_any(const struct vm_expr *e, int *sreg, const struct vm_set **set);
/* cmp / range operands (vm_class.c). */
bool vm_cmp_any(const struct vm_expr *e, int *sreg, uint32_t *op, const uint8_t **data,
		uint32_t *len);
bool vm_range_any(const struct vm_expr *e, int *sreg, const uint8_t **from, const uint8_t **to,
		  uint32_t *len);
/* A bitwise mask-and-xor: operands, mask and xor (len bytes each). */
bool vm_bitwise_bool(const struct vm_expr *e, int *sreg, int *dreg, uint32_t *len,
		     const uint8_t **mask, const uint8_t **xor);
/* The tuple field kinds a payload load is a prefix of, for the class memo
 * (vm_class.c): VM_CLASS_* bits; payload_memo reports reads of the tuple by a
 * load whose kind is not set as VM_MEMO_KEY_EXACT. */
#define VM_CLASS_A4	0x1u	/* IPv4 source or destination address */
#define VM_CLASS_A6	0x2u	/* IPv6 source or destination address */
#define VM_CLASS_PORT	0x4u	/* source or destination port (tcp, udp, udplite, sctp, dccp) */
unsigned vm_payload_class_kind(const struct vm_expr *e);
void vm_payload_set_classable(struct vm_expr *e, unsigned kinds);
/* vm_class.c: builds vm->cls after the load (nothing when the ruleset does
 * not allow it); the classes of p's tuple fields (false: p has none). */
int vm_class_build(struct vm *vm);
bool vm_class_key(const struct vm *vm, const struct pkt *p, uint32_t key[4]);
void vm_class_free(struct vm *vm);

/* memo() of the types that read registers and constants only */
unsigned vm_memo_pure(const void *priv, const struct pkt *p);

/* Load context: where we are, for error messages, and what we can resolve. */
struct vm_load {
	struct vm *vm;
	const char *chain;	/* chain name of the rule being loaded */
	int rule_index;
	int chain_idx;		/* index of that chain, -1 outside rules */
	const char *expr;	/* expression name being loaded */
	char *err;
	size_t errlen;
	/* register words written by the rule's earlier expressions, and by the
	 * one being loaded (vm_reg_load/_store; vm_index.c needs to know that
	 * no rule reads a register it did not write itself) */
	uint32_t rule_words, expr_words;
	uint32_t expr_rwords;	/* ... and read by the one being loaded */
};

/* The register words [w, w + len rounded up to words), as a mask. */
uint32_t vm_reg_words(int w, uint32_t len);

/* One expression type: the analogue of libnftnl's struct expr_ops and of the
 * kernel's struct nft_expr_ops.  attr_allowed/attr_required are bit masks of
 * NFTNL_EXPR_* attribute types, checked by vm.c before load() runs; attr_names
 * (indexed by type - NFTNL_EXPR_BASE) names them in messages. */
struct vm_expr_ops {
	const char *name;
	size_t priv_size;
	uint32_t attr_allowed;
	uint32_t attr_required;
	const char *const *attr_names;
	size_t nattr_names;
	int (*load)(struct vm_load *ld, const struct nftnl_expr *e, void *priv);
	void (*eval)(void *priv, struct vm_regs *regs, struct vm_exec *x);
	void (*reset)(void *priv);	/* optional: back to the loaded state */
	/* optional, see above; called with p == NULL once at load, and per
	 * packet only if that returned VM_MEMO_PER_PACKET */
	unsigned (*memo)(const void *priv, const struct pkt *p);
	void (*free)(void *priv);	/* optional */
};

#define VM_ATTR(a)	(1u << (a))

struct vm_expr {
	/* ops->eval, kept here: one load less an expression in run_base_chain */
	void (*eval)(void *priv, struct vm_regs *regs, struct vm_exec *x);
	void *priv;
	unsigned memo;		/* ops->memo(priv, NULL) at load, VM_MEMO_PER_PACKET: ask per packet */
	const struct vm_expr_ops *ops;
	uint32_t rwords, wwords;	/* register words it reads, writes (vm_class.c) */
};

struct vm_chain;

/* A rule that begins "meta nfproto|l4proto -> R; cmp eq R, byte" (what nft
 * emits for "ip saddr ...", "tcp dport ...") has the pair done inline, with
 * the same register write and the same break (vm.c run_base_chain): in a
 * chain of alternating IPv4/IPv6 rules half the rules end there. */
enum vm_guard { VM_GUARD_NONE, VM_GUARD_NFPROTO, VM_GUARD_L4PROTO };

struct vm_rule {
	const struct nftnl_rule *r;
	struct vm_chain *chain;
	int index;
	struct vm_expr *exprs;
	unsigned nexprs;
	uint8_t guard;		/* enum vm_guard */
	uint8_t guard_val;
	int guard_reg;
	/* the rule index (vm_index.c): group (-1: none), the rule's bit in the
	 * group's masks, the first expression after the guard (the payload);
	 * ix_saved keeps the group while the index is switched off */
	int16_t ix_group, ix_saved;
	uint8_t ix_bit, ix_first;
	uint64_t evaluated, matched;
	bool has_counter;
	uint64_t packets, bytes;
};

struct vm_chain {
	const char *name;
	const struct nftnl_chain *c;
	bool base;
	uint32_t hook;
	int32_t prio;
	int policy;		/* NF_ACCEPT / NF_DROP */
	struct vm_rule **rules;
	unsigned nrules;
	unsigned cap;
};

/* A set element as the evaluator sees it. */
struct vm_elem {
	const struct nftnl_set_elem *e;
	uint64_t hits;
	int32_t vcode;		/* verdict maps */
	int32_t vchain;		/* chain index for jump/goto, else -1 */
	bool ignored;		/* dumped run-time element of an FQDN set (vm_fqdn.c) */
};

enum vm_set_kind { VM_SET_EXACT, VM_SET_INTERVAL, VM_SET_RANGES };

struct vm_set {
	const char *name;
	const struct nftnl_set *s;
	uint32_t flags, klen, dlen, dtype;
	bool map, vmap;
	enum vm_set_kind kind;
	struct vm_elem *elems;
	size_t nelems;
	uint8_t *data;		/* maps: nelems * dlen bytes, element order */
	int catchall;		/* element index, or -1 */
	struct exact_set *exact;
	struct interval_set *interval;
	struct range_set *ranges;
	int32_t *keymap;	/* exact/range position -> element index */
	uint8_t nfields, field_len[16];
	struct vm_dyn *dyn;	/* run-time elements (vm_dyn.c), NULL when none */
	bool fqdn;		/* an FQDN set (fqdn.h): dumped timed elements ignored */
	size_t nignored;	/* elements with ignored set */
};

struct vm_edge {
	int from, to;		/* chain indexes: a jump or goto from -> to */
};

struct vm {
	const struct ruleset *rs;
	uint32_t family;
	struct vm_chain *chains;
	size_t nchains;
	struct vm_rule *rules;		/* ruleset order */
	size_t nrules;
	struct vm_set *sets;
	size_t nsets;
	struct vm_chain **base;		/* base chains sorted by hook, priority */
	size_t nbase;
	struct vm_edge *edges;
	size_t nedges, edgecap;
	vm_trace_fn trace;
	void *trace_arg;
	int64_t dyn_now;	/* clock of run-time elements (vm_set_clock) */
	/* flow memo outcomes (vm_memo.c), interned: open addressing by hash */
	struct vm_outcome **outcomes;
	uint32_t *ohash;		/* outcomes[i]->hash, probed without reading the outcome */
	size_t noutcomes, outcap;
	struct vm_outcome *scratch;	/* the one being recorded */
	bool hits_pending;		/* some outcome's hits are not in the counters yet */
	struct vm_gmemo *gmemo;		/* VM_GMEMO slots: outcomes no tuple field decided */
	struct vm_classes *cls;		/* the tuple's classes (vm_class.c), NULL: none */
	struct vm_cmemo *cmemo;		/* VM_CMEMO slots: outcomes by classes */
	/* the rule index (vm_index.c) */
	bool regs_shared;		/* a rule reads a register it did not write */
	struct vm_ixgroup *ixg;
	size_t nixg;
};

/* The outcome of one evaluation as a memo replays it (vm_memo.c). */
struct vm_effect {
	uintptr_t what;		/* pointer | VM_EFFECT_* kind */
	uint64_t n;		/* VM_EFFECT_RUN: rules in the run */
};

struct vm_outcome {
	struct vm_verdict v;
	unsigned keys;		/* VM_MEMO_KEY_* the evaluation depended on, or NEVER */
	uint32_t hash;
	unsigned neffects;
	/* memo hits not yet applied to the counters (vm_memo_flush): a hit
	 * adds here, the counters get hits x effects when they are read */
	uint64_t hits, hit_bytes;
	bool limits;		/* an effect is a VM_EFFECT_LIMIT */
	struct vm_effect effect[];	/* VM_MEMO_EFFECTS while recording */
};
#define VM_MEMO_EFFECTS 32

static inline void vm_memo_effect(struct vm_exec *x, uintptr_t what)
{
	struct vm_outcome *o = x->rec;

	if (o->neffects < VM_MEMO_EFFECTS)
		o->effect[o->neffects++] = (struct vm_effect){ .what = what, .n = 1 };
	else
		x->rec_keys |= VM_MEMO_NEVER;
}

/* Rule *rule (an element of its chain's rules array) was reached: extends
 * the run the previous rule of the chain ended, or starts one. */
static inline void vm_memo_reached(struct vm_exec *x, struct vm_rule **rule)
{
	struct vm_outcome *o = x->rec;

	if (o->neffects) {
		struct vm_effect *last = &o->effect[o->neffects - 1];

		if (last->what == (((uintptr_t)rule - last->n * sizeof(*rule)) | VM_EFFECT_RUN)) {
			last->n++;
			return;
		}
	}
	vm_memo_effect(x, (uintptr_t)rule | VM_EFFECT_RUN);
}

/* vm_eval, recording into rec when not NULL (vm_memo.c). */
int vm_eval_rec(struct vm *vm, struct pkt *p, struct vm_verdict *out, struct vm_outcome *rec);
void vm_memo_free(struct vm *vm);
/* Applies the outcomes' pending hits to the rule and element counters;
 * every reader of those counters calls it first.  drop: forget them. */
void vm_memo_flush(const struct vm *vm, bool drop);

/* Error helpers (return -1 so that callers can `return vm_err(...)`). */
int vm_err(struct vm_load *ld, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Register operand checks, as nft_parse_register_load/_store: returns the word
 * index of a data register able to hold len bytes, or -1 with a message. */
int vm_reg_load(struct vm_load *ld, uint32_t reg, uint32_t len, const char *what);
int vm_reg_store(struct vm_load *ld, uint32_t reg, uint32_t len, const char *what);

/* Resolution helpers for expressions. */
int vm_chain_index(const struct vm *vm, const char *name);
struct vm_set *vm_set_by_name(struct vm *vm, const char *name);
/* Validates a verdict (immediate / vmap element) and resolves its chain:
 * returns 0 and fills *chain (-1 when none), or -1 with a message. */
int vm_verdict_load(struct vm_load *ld, int32_t code, const char *chain_name,
		    int32_t *chain);

/* Records a jump/goto between chains for the load-time loop/depth check. */
int vm_add_edge(struct vm *vm, int from, int to);

/* Sets (vm_set.c). */
int vm_set_load(struct vm *vm, struct vm_set *vs, const struct nftnl_set *s,
		char *err, size_t errlen);
void vm_set_release(struct vm_set *vs);
/* Element index matching the key in registers starting at word `key`, or -1. */
int vm_set_find(const struct vm_set *vs, const uint32_t *key);

/* Run-time elements (vm_dyn.c): index of a live element matching key, or -1. */
long vm_dyn_find(const struct vm_dyn *d, const uint8_t *key, uint32_t klen);
void vm_dyn_free(struct vm_dyn *d);
/* vm_fqdn.c: is vs an FQDN set whose dumped timed elements are ignored? */
bool vm_set_is_fqdn(const struct nftnl_set *s, uint32_t flags);

/* The rule index (vm_index.c).  A rule that begins (after its guard) with
 * "payload FIELD -> R" and "lookup R in a membership set" or "cmp eq R, V" is
 * a member of its FIELD's group; one lookup of the packet's FIELD in the
 * group's merged step function tells which members' tests hold, and the
 * others are known to break there without running (vm.c run_base_chain). */
#define VM_IX_GROUPS 64
struct vm_ixgroup {
	uint32_t base, offset, len;	/* the payload field */
	unsigned nmembers;
	const struct vm_expr *payload;	/* a member's payload expression (its memo) */
	struct interval_set *iv;	/* FIELD -> segment (mask index), -1: none holds */
	uint64_t *mask;			/* segment -> members whose test holds */
};
int vm_index_build(struct vm *vm);
void vm_index_free(struct vm *vm);
void vm_index_fill(struct vm_exec *x, unsigned g);

/* May the rule's indexed test hold for x's packet?  false: the payload and the
 * test would break without side effects. */
static inline bool vm_index_may_match(struct vm_exec *x, const struct vm_rule *r)
{
	unsigned g = (unsigned)r->ix_group;

	if (!(x->ix_known >> g & 1))
		vm_index_fill(x, g);
	return x->ix_mask[g] >> r->ix_bit & 1;
}

/* Byte-level register access as nft_reg_store8/16 and loads. */
static inline uint8_t *vm_reg_bytes(struct vm_regs *r, int word)
{
	return (uint8_t *)&r->data[word];
}

extern const struct vm_expr_ops vm_expr_payload, vm_expr_cmp, vm_expr_bitwise,
	vm_expr_byteorder, vm_expr_range, vm_expr_lookup, vm_expr_meta, vm_expr_ct,
	vm_expr_immediate, vm_expr_counter, vm_expr_log, vm_expr_limit,
	vm_expr_reject, vm_expr_queue, vm_expr_target;

#endif
