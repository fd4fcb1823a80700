/* dns_asked — see dns_asked.h.
 *
 * The queries live in one array of DNS_ASKED_MAX slots, allocated at the
 * first query: a hash of (endpoints, ID) chains them for the answer's lookup,
 * and a list in the order they were asked gives the oldest for expiry and
 * eviction.  Links are slot numbers + 1 (0: none). */
#include "dns_asked.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define NBUCKETS 8192u

struct asked {
	uint32_t hnext;			/* hash chain */
	uint32_t older, newer;		/* the order of asking */
	int64_t t;
	uint32_t h;
	int family;
	uint8_t proto;
	uint8_t client[16], server[16];
	uint16_t cport, sport, id, qtype, qclass;
	char qname[DNS_NAMEBUF];
};

struct dns_asked {
	struct asked *v;		/* DNS_ASKED_MAX slots, or NULL */
	uint32_t *bucket;		/* NBUCKETS heads */
	uint32_t oldest, newest, free;	/* free: list through hnext */
	struct dns_asked_stats st;
};

struct dns_asked *dns_asked_new(void)
{
	return calloc(1, sizeof(struct dns_asked));
}

void dns_asked_free(struct dns_asked *a)
{
	if (!a)
		return;
	free(a->v);
	free(a->bucket);
	free(a);
}

static uint32_t key_hash(int family, const uint8_t *client, uint16_t cport,
			 const uint8_t *server, uint16_t sport, uint16_t id)
{
	size_t n = family == AF_INET ? 4 : 16;
	uint32_t h = 2166136261u ^ (uint32_t)family;

	for (size_t i = 0; i < n; i++)
		h = (h ^ client[i]) * 16777619u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ server[i]) * 16777619u;
	h = (h ^ cport) * 16777619u;
	h = (h ^ sport) * 16777619u;
	h = (h ^ id) * 16777619u;
	return h ^ h >> 15;
}

static void unlink_slot(struct dns_asked *a, uint32_t i)
{
	struct asked *q = &a->v[i - 1];
	uint32_t *pp = &a->bucket[q->h % NBUCKETS];

	while (*pp && *pp != i)
		pp = &a->v[*pp - 1].hnext;
	if (*pp)
		*pp = q->hnext;
	if (q->older)
		a->v[q->older - 1].newer = q->newer;
	else
		a->oldest = q->newer;
	if (q->newer)
		a->v[q->newer - 1].older = q->older;
	else
		a->newest = q->older;
	q->hnext = a->free;
	a->free = i;
	a->st.pending--;
}

/* Forgets the queries asked more than the timeout before now. */
static void prune(struct dns_asked *a, int64_t now_us)
{
	while (a->oldest && now_us - a->v[a->oldest - 1].t > DNS_ASKED_TIMEOUT_US)
		unlink_slot(a, a->oldest);
}

static bool is_query_shape(const struct dns_msg *m)
{
	return m->opcode == 0 && m->qdcount == 1 && m->qname[0];
}

int dns_asked_query(struct dns_asked *a, const struct dns_ends *e, const struct dns_msg *m,
		    int64_t now_us)
{
	size_t n = e->family == AF_INET ? 4 : 16;
	struct asked *q;
	uint32_t i;

	if (m->qr || !is_query_shape(m))
		return 0;
	if (!a->v) {
		a->v = calloc(DNS_ASKED_MAX, sizeof(*a->v));
		a->bucket = calloc(NBUCKETS, sizeof(*a->bucket));
		if (!a->v || !a->bucket) {
			free(a->v);
			free(a->bucket);
			a->v = NULL;
			a->bucket = NULL;
			errno = ENOMEM;
			return -1;
		}
		for (i = DNS_ASKED_MAX; i > 0; i--) {
			a->v[i - 1].hnext = a->free;
			a->free = i;
		}
	}
	prune(a, now_us);
	if (!a->free) {
		unlink_slot(a, a->oldest);
		a->st.evicted++;
	}
	i = a->free;
	q = &a->v[i - 1];
	a->free = q->hnext;
	memset(q, 0, sizeof(*q));
	q->t = now_us;
	q->family = e->family;
	q->proto = e->proto;
	memcpy(q->client, e->src, n);
	memcpy(q->server, e->dst, n);
	q->cport = e->sport;
	q->sport = e->dport;
	q->id = m->id;
	q->qtype = m->qtype;
	q->qclass = m->qclass;
	memcpy(q->qname, m->qname, sizeof(q->qname));
	q->h = key_hash(e->family, q->client, q->cport, q->server, q->sport, q->id);
	q->hnext = a->bucket[q->h % NBUCKETS];
	a->bucket[q->h % NBUCKETS] = i;
	q->older = a->newest;
	if (a->newest)
		a->v[a->newest - 1].newer = i;
	else
		a->oldest = i;
	a->newest = i;
	a->st.queries++;
	a->st.pending++;
	return 1;
}

bool dns_asked_answer(struct dns_asked *a, const struct dns_ends *e, const struct dns_msg *m,
		      int64_t now_us)
{
	size_t n = e->family == AF_INET ? 4 : 16;
	uint32_t h;

	if (a->v)
		prune(a, now_us);
	if (!a->v || !m->qr || !is_query_shape(m)) {
		a->st.unasked++;
		return false;
	}
	/* the answer's destination is the client, its source the resolver */
	h = key_hash(e->family, e->dst, e->dport, e->src, e->sport, m->id);
	for (uint32_t i = a->bucket[h % NBUCKETS]; i; i = a->v[i - 1].hnext) {
		const struct asked *q = &a->v[i - 1];

		if (q->h == h && q->family == e->family && q->proto == e->proto && q->id == m->id &&
		    q->cport == e->dport && q->sport == e->sport &&
		    memcmp(q->client, e->dst, n) == 0 && memcmp(q->server, e->src, n) == 0 &&
		    q->qtype == m->qtype && q->qclass == m->qclass &&
		    strcasecmp(q->qname, m->qname) == 0) {
			unlink_slot(a, i);
			a->st.matched++;
			return true;
		}
	}
	a->st.unasked++;
	return false;
}

void dns_asked_get_stats(const struct dns_asked *a, struct dns_asked_stats *st)
{
	*st = a->st;
}
