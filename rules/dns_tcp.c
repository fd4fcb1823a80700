/* dns_tcp — DNS messages out of a resolver's TCP streams (see dns_tcp.h). */
#include "dns_tcp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04

struct stream {
	bool used;
	bool lost;		/* a gap, or begun unseen: nothing is learned on it */
	uint64_t nmsg;		/* messages passed on */
	int family;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t next;		/* the sequence number of the next byte expected */
	uint8_t *buf;		/* bytes of an unfinished message */
	size_t have, cap;
	int64_t last;
};

struct dns_tcp {
	struct stream s[DNS_TCP_MAX_STREAMS];
	size_t n;
	struct dns_tcp_stats st;
};

static uint16_t rd16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

struct dns_tcp *dns_tcp_new(void)
{
	return calloc(1, sizeof(struct dns_tcp));
}

static void drop(struct dns_tcp *t, struct stream *s)
{
	free(s->buf);
	memset(s, 0, sizeof(*s));
	t->n--;
}

void dns_tcp_free(struct dns_tcp *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < DNS_TCP_MAX_STREAMS; i++)
		free(t->s[i].buf);
	free(t);
}

static bool same(const struct stream *s, const struct dns_tcp_seg *g, uint16_t sport,
		 uint16_t dport)
{
	size_t al = g->family == AF_INET6 ? 16 : 4;

	return s->used && s->family == g->family && s->sport == sport && s->dport == dport &&
	       memcmp(s->src, g->src, al) == 0 && memcmp(s->dst, g->dst, al) == 0;
}

/* A free slot for a new stream: idle streams expire first, then the least
 * recently used one gives way. */
static struct stream *slot_new(struct dns_tcp *t, const struct dns_tcp_seg *g, uint16_t sport,
			       uint16_t dport, int64_t now)
{
	struct stream *s = NULL, *oldest = NULL;
	size_t al = g->family == AF_INET6 ? 16 : 4;

	for (size_t i = 0; i < DNS_TCP_MAX_STREAMS; i++) {
		struct stream *c = &t->s[i];

		if (c->used && now - c->last > DNS_TCP_IDLE_US) {
			drop(t, c);
			t->st.expired++;
		}
		if (!c->used) {
			if (!s)
				s = c;
		} else if (!oldest || c->last < oldest->last) {
			oldest = c;
		}
	}
	if (!s) {
		s = oldest;
		drop(t, s);
		t->st.evicted++;
	}
	s->used = true;
	s->family = g->family;
	memcpy(s->src, g->src, al);
	memcpy(s->dst, g->dst, al);
	s->sport = sport;
	s->dport = dport;
	s->last = now;
	t->n++;
	t->st.streams++;
	return s;
}

static int keep(struct stream *s, const uint8_t *d, size_t n)
{
	if (!n)
		return 0;
	if (s->have + n > DNS_TCP_MAX_BUFFER) {
		errno = EMSGSIZE;
		return -1;
	}
	if (s->have + n > s->cap) {
		size_t c = s->cap ? s->cap : 4096;
		uint8_t *nb;

		while (c < s->have + n)
			c *= 2;
		nb = realloc(s->buf, c);
		if (!nb)
			return -1;
		s->buf = nb;
		s->cap = c;
	}
	memcpy(s->buf + s->have, d, n);
	s->have += n;
	return 0;
}

static void give_up(struct dns_tcp *t, struct stream *s)
{
	s->lost = true;
	free(s->buf);
	s->buf = NULL;
	s->have = s->cap = 0;
	t->st.gaps++;
}

/* Whole messages at d (n bytes): passed on; *used says how many bytes they
 * took. */
static int messages(struct dns_tcp *t, struct stream *s, const uint8_t *d, size_t n,
		    size_t *used, dns_tcp_msg_fn fn, void *arg)
{
	size_t pos = 0;
	int k = 0;

	while (n - pos >= 2 && n - pos - 2 >= rd16(d + pos)) {
		size_t len = rd16(d + pos);

		(void)fn(d + pos + 2, len, arg);
		t->st.messages++;
		k++;
		pos += 2 + len;
		s->nmsg++;
	}
	*used = pos;
	return k;
}

/* New in-order bytes of s: the messages they complete. */
static int consume(struct dns_tcp *t, struct stream *s, const uint8_t *d, size_t n,
		   dns_tcp_msg_fn fn, void *arg)
{
	size_t used;
	int k;

	if (!s->have) {		/* at a message boundary: straight from the segment */
		k = messages(t, s, d, n, &used, fn, arg);
		if (s->lost)
			return k;
		return keep(s, d + used, n - used) < 0 ? -1 : k;
	}
	if (keep(s, d, n) < 0)
		return -1;
	k = messages(t, s, s->buf, s->have, &used, fn, arg);
	if (s->lost)
		return k;
	memmove(s->buf, s->buf + used, s->have - used);
	s->have -= used;
	return k;
}

int dns_tcp_feed(struct dns_tcp *t, const struct dns_tcp_seg *g, int64_t now,
		 dns_tcp_msg_fn fn, void *arg)
{
	const uint8_t *th = g->tcp;
	uint16_t sport, dport;
	uint32_t seq;
	uint8_t flags;
	size_t doff, n;
	const uint8_t *d;
	struct stream *s = NULL;
	int k = 0;

	if (!th || g->len < 20)
		return 0;
	doff = (size_t)(th[12] >> 4) * 4;
	if (doff < 20 || doff > g->len)
		return 0;
	t->st.segments++;
	sport = rd16(th);
	dport = rd16(th + 2);
	seq = rd32(th + 4);
	flags = th[13];
	d = th + doff;
	n = g->len - doff;
	for (size_t i = 0; i < DNS_TCP_MAX_STREAMS && !s; i++)
		if (same(&t->s[i], g, sport, dport))
			s = &t->s[i];
	if (flags & F_RST) {
		if (s)
			drop(t, s);
		return 0;
	}
	if (flags & F_SYN) {
		/* the resolver's SYN/ACK: a new stream whose data begins after it */
		if (s)
			drop(t, s);
		s = slot_new(t, g, sport, dport, now);
		s->next = seq + 1;
		seq++;
	} else if (!s) {
		if (!n)
			return 0;
		/* a stream whose SYN/ACK was not seen -- open before filterd
		 * looked, or one whose slot gave way to newer streams -- has no
		 * known message boundary: nothing is learned on it.  Taking a
		 * segment's start for one let a client that stalled its reads
		 * and evicted its stream with 64 connections have filterd read
		 * a forged message out of record data its own zone served. */
		s = slot_new(t, g, sport, dport, now);
		s->next = seq;
		give_up(t, s);
		t->st.unseen++;
	}
	s->last = now;
	if (!s->lost && n) {
		int32_t ahead = (int32_t)(seq - s->next);

		if (ahead > 0) {
			/* bytes before this one never came by: the boundaries
			 * after them are unknown */
			give_up(t, s);
		} else if ((size_t)-(int64_t)ahead < n) {	/* new bytes (past a resent head) */
			size_t skip = (size_t)-(int64_t)ahead;

			s->next += (uint32_t)(n - skip);
			k = consume(t, s, d + skip, n - skip, fn, arg);
			if (k < 0) {
				drop(t, s);
				return -1;
			}
		}
	}
	if (flags & F_FIN)
		drop(t, s);
	return k;
}

void dns_tcp_get_stats(const struct dns_tcp *t, struct dns_tcp_stats *st)
{
	*st = t->st;
}

size_t dns_tcp_streams(const struct dns_tcp *t)
{
	return t->n;
}
