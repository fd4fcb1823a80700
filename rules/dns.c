#include "dns.h"
#include "fsutil.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#define DNS_HDR 12
#define DNS_MAX_PTRS 64		/* compression pointers in one name */
#define DNS_MAX_RR 65535

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads the name at *off.  On return *off is past the name as it is written
 * at that place (a pointer ends it).  Pointers must go strictly backwards from
 * the label that holds them: that alone makes loops impossible; DNS_MAX_PTRS
 * bounds the work as well. */
static int read_name(const uint8_t *buf, size_t len, size_t *off, char *out, char *err,
		     size_t errlen)
{
	size_t pos = *off, o = 0, wire = 0, end = 0;
	size_t limit = pos;	/* a pointer must point below this */
	unsigned ptrs = 0;
	bool jumped = false;

	out[0] = '\0';
	for (;;) {
		if (pos >= len)
			return fail(err, errlen, "name at offset %zu runs past the end of the message", *off);
		uint8_t l = buf[pos];
		if ((l & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return fail(err, errlen, "compression pointer at offset %zu is truncated", pos);
			size_t target = (size_t)(l & 0x3f) << 8 | buf[pos + 1];
			if (!jumped)
				end = pos + 2;
			if (target >= limit)
				return fail(err, errlen, "compression pointer at offset %zu does not point backwards (to %zu)",
					    pos, target);
			if (++ptrs > DNS_MAX_PTRS)
				return fail(err, errlen, "name at offset %zu has more than %d compression pointers",
					    *off, DNS_MAX_PTRS);
			jumped = true;
			limit = target;
			pos = target;
			continue;
		}
		if (l & 0xc0)
			return fail(err, errlen, "label type 0x%02x at offset %zu is not supported", l & 0xc0, pos);
		if (l == 0) {
			if (!jumped)
				end = pos + 1;
			break;
		}
		wire += (size_t)l + 1;
		if (wire + 1 > 255)
			return fail(err, errlen, "name at offset %zu is longer than 255 bytes", *off);
		if (pos + 1 + l > len)
			return fail(err, errlen, "label at offset %zu runs past the end of the message", pos);
		if (o)
			out[o++] = '.';
		for (size_t i = 0; i < l; i++) {
			unsigned char c = (unsigned char)tolower(buf[pos + 1 + i]);
			if (isalnum(c) || c == '-' || c == '_') {
				out[o++] = (char)c;
			} else {
				o += (size_t)snprintf(out + o, DNS_NAMEBUF - o, "\\%03u", c);
			}
		}
		out[o] = '\0';
		pos += 1 + (size_t)l;
	}
	*off = end;
	return 0;
}

void dns_msg_free(struct dns_msg *m)
{
	free(m->an);
	memset(m, 0, sizeof(*m));
}

int dns_msg_parse(struct dns_msg *m, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	size_t off = DNS_HDR, cap = 0;
	char owner[DNS_NAMEBUF];

	memset(m, 0, sizeof(*m));
	if (!buf || len < DNS_HDR)
		return fail(err, errlen, "message of %zu bytes is shorter than a DNS header", len);
	m->id = rd16(buf);
	m->qr = buf[2] & 0x80;
	m->opcode = (buf[2] >> 3) & 0x0f;
	m->tc = buf[2] & 0x02;
	m->rcode = buf[3] & 0x0f;
	m->qdcount = rd16(buf + 4);
	m->ancount = rd16(buf + 6);
	for (unsigned i = 0; i < m->qdcount; i++) {
		if (read_name(buf, len, &off, owner, err, errlen) < 0)
			goto bad;
		if (off + 4 > len) {
			fail(err, errlen, "question %u is truncated", i + 1);
			goto bad;
		}
		if (i == 0) {
			memcpy(m->qname, owner, sizeof(m->qname));
			m->qtype = rd16(buf + off);
			m->qclass = rd16(buf + off + 2);
		}
		off += 4;
	}
	for (unsigned i = 0; i < m->ancount; i++) {
		struct dns_rr rr;
		if (read_name(buf, len, &off, rr.owner, err, errlen) < 0)
			goto bad;
		if (off + 10 > len) {
			fail(err, errlen, "answer record %u is truncated", i + 1);
			goto bad;
		}
		rr.type = rd16(buf + off);
		rr.rclass = rd16(buf + off + 2);
		rr.ttl = rd32(buf + off + 4);
		/* RFC 2181 8: a TTL with the top bit set counts as zero */
		if (rr.ttl & 0x80000000u)
			rr.ttl = 0;
		size_t rdlen = rd16(buf + off + 8);
		off += 10;
		if (off + rdlen > len) {
			fail(err, errlen, "answer record %u: rdata of %zu bytes runs past the end", i + 1, rdlen);
			goto bad;
		}
		size_t rdend = off + rdlen;
		bool keep = false;
		rr.target[0] = '\0';
		if (rr.rclass == DNS_C_IN && rr.type == DNS_T_A) {
			if (rdlen != 4) {
				fail(err, errlen, "answer record %u: A record with %zu bytes of rdata", i + 1, rdlen);
				goto bad;
			}
			memcpy(rr.addr, buf + off, 4);
			keep = true;
		} else if (rr.rclass == DNS_C_IN && rr.type == DNS_T_AAAA) {
			if (rdlen != 16) {
				fail(err, errlen, "answer record %u: AAAA record with %zu bytes of rdata", i + 1, rdlen);
				goto bad;
			}
			memcpy(rr.addr, buf + off, 16);
			keep = true;
		} else if (rr.rclass == DNS_C_IN && rr.type == DNS_T_CNAME) {
			size_t t = off;
			/* the target may be compressed, but must end inside the rdata */
			if (read_name(buf, rdend, &t, rr.target, err, errlen) < 0)
				goto bad;
			if (t != rdend) {
				fail(err, errlen, "answer record %u: CNAME rdata has %zu stray bytes", i + 1, rdend - t);
				goto bad;
			}
			keep = true;
		}
		off = rdend;
		if (!keep)
			continue;
		if (m->nan == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct dns_rr *nv = realloc(m->an, nc * sizeof(*nv));
			if (!nv) {
				fail(err, errlen, "out of memory");
				goto bad;
			}
			m->an = nv;
			cap = nc;
		}
		m->an[m->nan++] = rr;
	}
	return 0;
bad:
	dns_msg_free(m);
	return -1;
}

size_t dns_msg_walk(const struct dns_msg *m, dns_addr_fn fn, void *arg)
{
	const char *chain[DNS_MAX_CHAIN + 1];
	uint32_t ttl[DNS_MAX_CHAIN + 1];	/* smallest TTL to reach chain[i] */
	size_t n = 1, reported = 0;

	if (!m->qr || m->opcode != 0 || m->rcode != 0 || m->qdcount != 1 ||
	    m->qclass != DNS_C_IN)
		return 0;
	chain[0] = m->qname;
	ttl[0] = UINT32_MAX;
	/* Follow CNAMEs from the question; a name seen before ends the chain. */
	while (n <= DNS_MAX_CHAIN) {
		const struct dns_rr *next = NULL;
		for (size_t i = 0; i < m->nan && !next; i++)
			if (m->an[i].type == DNS_T_CNAME && strcmp(m->an[i].owner, chain[n - 1]) == 0)
				next = &m->an[i];
		if (!next)
			break;
		bool seen = false;
		for (size_t k = 0; k < n; k++)
			if (strcmp(chain[k], next->target) == 0)
				seen = true;
		if (seen)
			break;
		chain[n] = next->target;
		ttl[n] = next->ttl < ttl[n - 1] ? next->ttl : ttl[n - 1];
		n++;
	}
	for (size_t i = 0; i < m->nan; i++) {
		const struct dns_rr *rr = &m->an[i];
		if (rr->type != DNS_T_A && rr->type != DNS_T_AAAA)
			continue;
		for (size_t k = 0; k < n; k++) {
			if (strcmp(rr->owner, chain[k]) != 0)
				continue;
			uint32_t t = rr->ttl < ttl[k] ? rr->ttl : ttl[k];
			if (fn)
				fn(chain, k + 1, rr->type == DNS_T_A ? AF_INET : AF_INET6, rr->addr, t, arg);
			reported++;
			break;
		}
	}
	return reported;
}

static size_t name_len(const char *s)
{
	size_t n = strlen(s);
	return n && s[n - 1] == '.' ? n - 1 : n;
}

bool dns_name_match(const char *pattern, const char *name)
{
	size_t pl = name_len(pattern), nl = name_len(name);

	if (pl >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		const char *suffix = pattern + 1;	/* ".blob.core.windows.net" */
		size_t sl = pl - 1;
		if (nl <= sl)
			return false;
		return strncasecmp(name + nl - sl, suffix, sl) == 0;
	}
	return pl == nl && strncasecmp(pattern, name, pl) == 0;
}

int dns_resolv_conf(const char *path, int *fam, uint8_t (*addr)[16], size_t max)
{
	/* a regular file only: filterd reads it in its loop */
	int fd = open_regular(path);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "r");
	char line[512];
	int n = 0;

	if (!f) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char kw[32], val[256];
		if (sscanf(line, "%31s %255s", kw, val) != 2 || strcmp(kw, "nameserver") != 0)
			continue;
		char *pct = strchr(val, '%');
		if (pct)
			*pct = '\0';
		if ((size_t)n >= max)
			break;
		memset(addr[n], 0, 16);
		if (inet_pton(AF_INET, val, addr[n]) == 1)
			fam[n++] = AF_INET;
		else if (inet_pton(AF_INET6, val, addr[n]) == 1)
			fam[n++] = AF_INET6;
	}
	fclose(f);
	return n;
}
