/* Fuzzes the DNS answer parser that decides which addresses FQDN rules open:
 * bytes -> dns_msg_parse -> dns_msg_walk (CNAME chains, compression), and the
 * name matching against a wildcard and an exact pattern. */
#include "fuzz.h"

#include "dns.h"

static void on_addr(const char *const *chain, size_t n, int family, const uint8_t *addr,
		    uint32_t ttl, void *arg)
{
	size_t *count = arg;

	(void)addr;
	(void)ttl;
	/* the chain must be well formed whatever the input */
	if (n == 0 || n > DNS_MAX_CHAIN + 1 || (family != 2 && family != 10))
		abort();
	for (size_t i = 0; i < n; i++)
		if (!chain[i] || strlen(chain[i]) >= DNS_NAMEBUF)
			abort();
	dns_name_match("*.blob.core.windows.net", chain[n - 1]);
	dns_name_match("pypi.org", chain[0]);
	(*count)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_msg m;
	char err[256];
	size_t count = 0;

	if (dns_msg_parse(&m, data, size, err, sizeof(err)) == 0) {
		size_t n = dns_msg_walk(&m, on_addr, &count);
		if (n != count)
			abort();
		dns_msg_free(&m);
	}
	return 0;
}
