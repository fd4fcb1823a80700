/* Fuzzes the expectation-file parser: bytes -> expect_parse_buffer with the
 * example tags and the example policy's address space (so tag:, vnet and
 * internet all resolve), then matches a few flows against what it accepted. */
#include "fuzz.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "expect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fuzz_env *fe = fuzz_env_get(1);
	static struct pset vnet4, vnet6;
	static int init;
	static FILE *devnull;
	struct expect_env env = { 0 };	/* every member: a new one is not garbage */
	struct expect *e = NULL;
	struct diags d = { 0 };

	if (!init) {
		pset_init(&vnet4, AF_INET);
		pset_init(&vnet6, AF_INET6);
		for (size_t i = 0; i < fe->pol->nvnet; i++)
			pset_add_prefix(fe->pol->vnet[i].family == AF_INET6 ? &vnet6 : &vnet4,
					&fe->pol->vnet[i]);
		pset_normalize(&vnet4);
		pset_normalize(&vnet6);
		if (!(devnull = fopen("/dev/null", "w")))
			fuzz_die("/dev/null", "cannot open");
		init = 1;
	}
	env.tags = fe->tags;
	env.vnet4 = &vnet4;
	env.vnet6 = &vnet6;
	env.region = fe->pol->region;	/* tag:NAME.region as pcap-replay resolves it */
	if (expect_parse_buffer("fuzz.expect", (const char *)data, size, &env, &e, &d) == 0) {
		struct expect_flow f = { .dir = EXPECT_IN, .family = AF_INET, .proto = IPPROTO_TCP,
					 .has_ports = true, .sport = 40000, .dport = 443 };

		inet_pton(AF_INET, "203.0.113.7", &f.src);
		inet_pton(AF_INET, "10.0.0.4", &f.dst);
		long i = expect_match(e, &f);
		if (i >= 0)
			expect_record(e, (size_t)i, true);
		f.dir = EXPECT_OUT;
		f.family = AF_INET6;
		f.proto = IPPROTO_UDP;
		inet_pton(AF_INET6, "fd00:10::4", &f.src);
		inet_pton(AF_INET6, "2001:db8::53", &f.dst);
		i = expect_match(e, &f);
		if (i >= 0)
			expect_record(e, (size_t)i, false);
		expect_free(e);
	}
	diags_print(&d, devnull);
	diags_clear(&d);
	return 0;
}
