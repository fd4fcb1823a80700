/* Fuzzes the saved-dump loader: netlink messages -> ruleset_load_buf (which
 * hands them to libnftnl's nftnl_*_nlmsg_parse) and, when it loads, vm_load,
 * a save round trip and a few packets through the evaluator.
 *
 * The file's checksum would stop almost every mutation at the door, so the
 * harness feeds the records: an input starting with the magic line is a
 * whole saved file (the raw input is tried as it is first, then its records are
 * re-sealed with a correct trailer); any other input is the records alone. */
#include "fuzz.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/if_packet.h>
#include <pcap/dlt.h>

#include "dump.h"
#include "vm.h"

static uint64_t fnv64(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* One TCP SYN (and its answer) through every hook the ruleset may have. */
static void eval_some(struct vm *vm)
{
	static const char *pairs[][2] = {
		{ "203.0.113.7", "10.0.0.4" }, { "10.0.0.4", "198.51.100.9" },
		{ "2001:db8::7", "fd00:10::4" },
	};
	static const int hooks[] = { NF_INET_LOCAL_IN, NF_INET_LOCAL_OUT, NF_INET_FORWARD };

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		uint8_t b[80] = { 0 };
		bool v6 = strchr(pairs[i][0], ':') != NULL;
		size_t hl = v6 ? 40 : 20, tot = hl + 20;
		uint8_t *th = b + hl;
		struct pkt p;
		struct vm_verdict v;

		if (v6) {
			b[0] = 0x60;
			b[5] = 20;
			b[6] = IPPROTO_TCP;
			b[7] = 64;
			inet_pton(AF_INET6, pairs[i][0], b + 8);
			inet_pton(AF_INET6, pairs[i][1], b + 24);
		} else {
			b[0] = 0x45;
			b[3] = (uint8_t)tot;
			b[8] = 64;
			b[9] = IPPROTO_TCP;
			inet_pton(AF_INET, pairs[i][0], b + 12);
			inet_pton(AF_INET, pairs[i][1], b + 16);
		}
		th[0] = 0x9c; th[1] = 0x40;	/* 40000 */
		th[2] = 0x01; th[3] = 0xbb;	/* 443 */
		th[12] = 0x50;
		th[13] = 0x02;
		for (size_t h = 0; h < sizeof(hooks) / sizeof(hooks[0]); h++) {
			if (pkt_decode(&p, DLT_RAW, b, tot, tot) < 0)
				continue;
			p.hook = hooks[h];
			p.iifname = "eth0";
			p.oifname = "eth0";
			p.iif = p.oif = 2;
			p.ct_present = true;
			p.ctinfo = h == 1 ? IP_CT_ESTABLISHED : IP_CT_NEW;
			p.ct_state = NF_CT_STATE_BIT(p.ctinfo);
			vm_eval(vm, &p, &v);
		}
	}
}

static void try_load(const uint8_t *buf, size_t len)
{
	char err[1024];
	struct ruleset *rs = ruleset_load_buf(buf, len, "fuzz.frs", err, sizeof(err));
	struct vm *vm;
	void *out = NULL;
	size_t olen = 0;

	if (!rs)
		return;
	if ((vm = vm_load(rs, err, sizeof(err)))) {
		eval_some(vm);
		vm_free(vm);
	}
	if (ruleset_save_buf(rs, &out, &olen, err, sizeof(err)) == 0)
		free(out);
	ruleset_free(rs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t magic = strlen(RULESET_FILE_MAGIC);
	const uint8_t *rec = data;
	size_t nrec = size;
	uint8_t *file;
	size_t len = 0;
	uint64_t h;

	if (size >= magic && memcmp(data, RULESET_FILE_MAGIC, magic) == 0) {
		try_load(data, size);
		rec += magic;
		nrec -= magic;
		/* drop a trailer (zero length + checksum) */
		if (nrec >= 12 && memcmp(rec + nrec - 12, "\0\0\0\0", 4) == 0)
			nrec -= 12;
	}
	file = malloc(magic + nrec + 12);
	if (!file)
		return 0;
	memcpy(file, RULESET_FILE_MAGIC, magic);
	len = magic;
	memcpy(file + len, rec, nrec);
	len += nrec;
	memset(file + len, 0, 4);
	len += 4;
	h = fnv64(file, len);
	for (int i = 0; i < 8; i++)
		file[len++] = (uint8_t)(h >> (56 - 8 * i));
	try_load(file, len);
	free(file);
	return 0;
}
