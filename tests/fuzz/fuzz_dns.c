/* Fuzzes the DNS answer parser that decides which addresses FQDN rules open:
 * bytes -> dns_msg_parse -> dns_msg_walk (CNAME chains, compression), and the
 * name matching against a wildcard and an exact pattern.  The same bytes then
 * go through dns_tcp as a resolver's TCP stream holding them twice (length
 * prefixed), cut into segments whose sizes the bytes choose, every third one
 * sent again overlapping the next: both messages must come out whole and
 * unchanged, in order.  Last, a parsed message goes through dns_asked as a
 * query the host sent and as the answer to it: the answer must match exactly
 * when the query was recorded, once, the name matched without regard to
 * case, and never with another ID. */
#include "fuzz.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <ctype.h>

#include "dns.h"
#include "dns_asked.h"
#include "dns_tcp.h"

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

struct tcp_check {
	const uint8_t *want;
	size_t len;
	int n;
};

static bool on_msg(const uint8_t *msg, size_t len, void *arg)
{
	struct tcp_check *c = arg;

	if (len != c->len || (len && memcmp(msg, c->want, len) != 0))
		abort();
	c->n++;
	return true;
}

static void feed(struct dns_tcp *t, uint8_t flags, uint32_t seq, const uint8_t *d, size_t n,
		 int64_t now, struct tcp_check *c)
{
	static uint8_t seg[20 + 512];
	static const uint8_t src[4] = { 10, 0, 1, 53 }, dst[4] = { 10, 0, 1, 4 };
	struct dns_tcp_seg g = { .family = AF_INET, .src = src, .dst = dst, .tcp = seg,
				 .len = 20 + n };

	memset(seg, 0, 20);
	seg[1] = 53;
	seg[2] = 0x9c;
	seg[4] = (uint8_t)(seq >> 24);
	seg[5] = (uint8_t)(seq >> 16);
	seg[6] = (uint8_t)(seq >> 8);
	seg[7] = (uint8_t)seq;
	seg[12] = 0x50;
	seg[13] = flags;
	if (n)
		memcpy(seg + 20, d, n);
	if (dns_tcp_feed(t, &g, now, on_msg, c) < 0)
		abort();
}

static void tcp_stream(const uint8_t *data, size_t size)
{
	static uint8_t stream[2 * (2 + 65535)];
	struct tcp_check c = { .want = data, .len = size };
	struct dns_tcp *t;
	size_t total = 0, pos = 0, k = 0, prev = 0, prevn = 0;
	uint32_t isn = size ? (uint32_t)data[0] << 24 | 0xfffff0u : 7;

	if (size > 65535)
		return;
	for (int i = 0; i < 2; i++) {
		stream[total++] = (uint8_t)(size >> 8);
		stream[total++] = (uint8_t)size;
		memcpy(stream + total, data, size);
		total += size;
	}
	t = dns_tcp_new();
	if (!t)
		return;
	feed(t, 0x12, isn, NULL, 0, 0, &c);	/* SYN/ACK */
	while (pos < total) {
		size_t n = 1 + (size ? data[k % size] : 0) % 200;

		if (n > total - pos)
			n = total - pos;
		if (k % 3 == 2 && prevn)	/* the previous one again, and more */
			feed(t, 0x10, isn + 1 + (uint32_t)prev, stream + prev, pos - prev + n / 2,
			     (int64_t)k, &c);
		prev = pos;
		prevn = n;
		feed(t, 0x10, isn + 1 + (uint32_t)pos, stream + pos, n, (int64_t)k, &c);
		pos += n;
		k++;
	}
	if (c.n != 2 || dns_tcp_streams(t) != 1)
		abort();
	feed(t, 0x11, isn + 1 + (uint32_t)total, NULL, 0, (int64_t)k, &c);	/* FIN */
	if (dns_tcp_streams(t) != 0)
		abort();
	dns_tcp_free(t);
}

static void asked_roundtrip(const struct dns_msg *m)
{
	static const uint8_t host[4] = { 10, 0, 1, 4 }, resolver[4] = { 10, 0, 1, 53 };
	const struct dns_ends qe = { AF_INET, host, resolver, 40000, 53, IPPROTO_UDP };
	const struct dns_ends ae = { AF_INET, resolver, host, 53, 40000, IPPROTO_UDP };
	struct dns_asked *a = dns_asked_new();
	struct dns_msg q = *m, ans = *m;
	struct dns_asked_stats st;
	int rec;

	if (!a)
		return;
	q.qr = false;
	ans.qr = true;
	rec = dns_asked_query(a, &qe, &q, 1000);
	if (rec < 0) {
		dns_asked_free(a);
		return;
	}
	if (dns_asked_answer(a, &ae, &q, 1001))	/* no answer: QR clear */
		abort();
	ans.id = (uint16_t)(m->id + 1);
	if (dns_asked_answer(a, &ae, &ans, 1002))	/* another ID */
		abort();
	ans.id = m->id;
	for (char *c = ans.qname; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	if (dns_asked_answer(a, &ae, &ans, 1003) != (rec == 1))
		abort();
	if (dns_asked_answer(a, &ae, &ans, 1004))	/* one query, one answer */
		abort();
	dns_asked_get_stats(a, &st);
	if (st.queries != (uint64_t)rec || st.matched != (uint64_t)rec || st.pending != 0)
		abort();
	dns_asked_free(a);
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
		asked_roundtrip(&m);
		dns_msg_free(&m);
	}
	tcp_stream(data, size);
	return 0;
}
