#include "servicetags.h"
#include "zalloc.h"
#include "fsutil.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* A tags file above this size is refused: the real file is ~4 MiB, and a
 * million prefixes take ~35 MiB; 64 MiB bounds the parser's memory (jansson
 * holds the whole tree: about 10x the file) on a pool host. */
#define TAGDB_MAX_BYTES (64u << 20)

static void tag_free(struct service_tag *t)
{
	free(t->name);
	free(t->region);
	free(t->system_service);
	pset_free(&t->v4);
	pset_free(&t->v6);
}

void tagdb_free(struct tagdb *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->n; i++)
		tag_free(&db->tags[i]);
	free(db->tags);
	free(db->path);
	free(db->cloud);
	free(db);
}

static int tag_cmp(const void *a, const void *b)
{
	return strcasecmp(((const struct service_tag *)a)->name,
			  ((const struct service_tag *)b)->name);
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static long jnum(json_t *o, const char *key, int *ok)
{
	json_t *v = json_object_get(o, key);
	if (json_is_integer(v))
		return (long)json_integer_value(v);
	*ok = 0;
	return 0;
}

static struct tagdb *tagdb_from_json(const char *name, json_t *root, char *err, size_t errlen)
{
	struct tagdb *db = calloc(1, sizeof(*db));
	json_t *values, *val;
	size_t idx;
	int ok = 1;

	if (!db)
		goto oom;
	db->path = strdup(name);
	if (!db->path)
		goto oom;
	if (!json_is_object(root)) {
		snprintf(err, errlen, "%s: top level is not a JSON object", name);
		goto fail;
	}
	db->change_number = jnum(root, "changeNumber", &ok);
	if (!ok) {
		snprintf(err, errlen, "%s: missing integer 'changeNumber' at top level", name);
		goto fail;
	}
	db->cloud = strdup(jstr(root, "cloud") ? jstr(root, "cloud") : "");
	values = json_object_get(root, "values");
	if (!json_is_array(values)) {
		snprintf(err, errlen, "%s: missing array 'values' at top level", name);
		goto fail;
	}
	db->tags = calloc(json_array_size(values) + 1, sizeof(*db->tags));
	if (!db->tags || !db->cloud)
		goto oom;
	json_array_foreach(values, idx, val) {
		struct service_tag *t = &db->tags[db->n];
		const char *tname = json_is_object(val) ? jstr(val, "name") : NULL;
		json_t *props = json_is_object(val) ? json_object_get(val, "properties") : NULL;
		json_t *pfx, *p;
		size_t k;

		if (!tname || !*tname || !json_is_object(props)) {
			snprintf(err, errlen, "%s: values[%zu]: needs 'name' and 'properties'", name, idx);
			goto fail;
		}
		pset_init(&t->v4, AF_INET);
		pset_init(&t->v6, AF_INET6);
		t->name = strdup(tname);
		t->region = strdup(jstr(props, "region") ? jstr(props, "region") : "");
		t->system_service = strdup(jstr(props, "systemService") ? jstr(props, "systemService") : "");
		db->n++;
		if (!t->name || !t->region || !t->system_service)
			goto oom;
		ok = 1;
		t->change_number = jnum(props, "changeNumber", &ok);
		pfx = json_object_get(props, "addressPrefixes");
		if (!json_is_array(pfx)) {
			snprintf(err, errlen, "%s: tag %s: 'addressPrefixes' is not an array", name, tname);
			goto fail;
		}
		json_array_foreach(pfx, k, p) {
			struct prefix pr;
			char perr[128];
			if (!json_is_string(p) ||
			    prefix_parse(json_string_value(p), &pr, NULL, perr, sizeof(perr)) < 0) {
				snprintf(err, errlen, "%s: tag %s: addressPrefixes[%zu]: %s", name, tname, k,
					 json_is_string(p) ? perr : "not a string");
				goto fail;
			}
			if (pset_add_prefix(pr.family == AF_INET ? &t->v4 : &t->v6, &pr) < 0)
				goto oom;
			t->nprefixes++;
		}
		db->total_prefixes += t->nprefixes;
		pset_normalize(&t->v4);
		pset_normalize(&t->v6);
	}
	qsort(db->tags, db->n, sizeof(*db->tags), tag_cmp);
	for (size_t i = 1; i < db->n; i++)
		if (strcasecmp(db->tags[i - 1].name, db->tags[i].name) == 0) {
			snprintf(err, errlen, "%s: tag '%s' appears twice", name, db->tags[i].name);
			goto fail;
		}
	return db;
oom:
	snprintf(err, errlen, "%s: out of memory", name);
fail:
	tagdb_free(db);
	return NULL;
}

/* The parse tree of a tags file is ~10x the file: a few hundred thousand
 * small objects (a string a prefix), each malloc'd by jansson and freed again
 * a moment later — a third of pcap-replay's set-up time.  While a tags file
 * is parsed, jansson allocates from an arena instead (json_set_alloc_funcs):
 * large blocks carved in order, free() does nothing, and the whole arena goes
 * when the tree is no longer needed (tagdb_from_json copies what it keeps).
 * jansson's allocator is process-wide: the callers parse tags where no other
 * thread uses jansson (filterd's single-threaded loop, filterctl, pcap-replay
 * and the benches before or beside threads that do not). */
#define ARENA_BLOCK (4u << 20)

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	_Alignas(16) unsigned char d[];
};

static struct arena_block *arena_head;

static void *arena_malloc(size_t n)
{
	struct arena_block *b = arena_head;

	n = (n + 15) & ~(size_t)15;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;

		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		/* fresh pages, all about to be written: one call faults them
		 * in, not a fault each (zalloc.h) */
		prefault(b, sizeof(*b) + cap);
		b->cap = cap;
		b->used = 0;
		b->next = arena_head;
		arena_head = b;
	}
	b->used += n;
	return b->d + b->used - n;
}

static void arena_free(void *p)
{
	(void)p;
}

static void arena_release(void)
{
	while (arena_head) {
		struct arena_block *b = arena_head;

		arena_head = b->next;
		free(b);
	}
}

struct tagdb *tagdb_load_buffer(const char *name, const char *buf, size_t len,
				char *err, size_t errlen)
{
	json_malloc_t saved_malloc;
	json_free_t saved_free;
	json_error_t je;
	json_t *root;
	struct tagdb *db = NULL;

	if (len > TAGDB_MAX_BYTES) {
		snprintf(err, errlen, "%s: file is %zu bytes, larger than the limit of %u bytes (64 MiB)", name,
			 len, TAGDB_MAX_BYTES);
		return NULL;
	}
	json_get_alloc_funcs(&saved_malloc, &saved_free);
	json_set_alloc_funcs(arena_malloc, arena_free);
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		snprintf(err, errlen, "%s:%d:%d: invalid JSON: %s", name, je.line, je.column > 0 ? je.column : 1, je.text);
	else
		db = tagdb_from_json(name, root, err, errlen);
	/* the tree lives in the arena: no json_decref walk */
	json_set_alloc_funcs(saved_malloc, saved_free);
	arena_release();
	return db;
}

static struct tagdb *load_stream(FILE *f, const char *path, char **raw, size_t *rawlen,
				 char *err, size_t errlen);

struct tagdb *tagdb_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	return load_stream(f, path, NULL, NULL, err, errlen);
}

struct tagdb *tagdb_load_raw(const char *path, char **raw, size_t *rawlen, char *err,
			     size_t errlen)
{
	int fd = open_regular(path);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "rb");

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, fd < 0 && errno == EINVAL ? "not a regular file" :
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	return load_stream(f, path, raw, rawlen, err, errlen);
}

static struct tagdb *load_stream(FILE *f, const char *path, char **raw, size_t *rawlen,
				 char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	struct tagdb *db = NULL;

	for (;;) {
		if (len == cap) {
			if (cap >= TAGDB_MAX_BYTES + 1) {
				snprintf(err, errlen, "%s: file is larger than the limit of %u bytes (64 MiB)",
					 path, TAGDB_MAX_BYTES);
				goto out;
			}
			cap = cap ? cap * 2 : 1 << 20;
			char *nb = realloc(buf, cap);
			if (!nb) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
			prefault(buf + len, cap - len);	/* read(2) writes it next */
		}
		size_t r = fread(buf + len, 1, cap - len, f);
		len += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
		goto out;
	}
	db = tagdb_load_buffer(path, buf, len, err, errlen);
	if (db && raw) {
		*raw = buf;
		*rawlen = len;
		buf = NULL;
	}
out:
	free(buf);
	fclose(f);
	return db;
}

const struct service_tag *tagdb_find(const struct tagdb *db, const char *name)
{
	size_t lo = 0, hi = db->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcasecmp(name, db->tags[mid].name);
		if (c == 0)
			return &db->tags[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* properties.region of the tags named *.<region> (the first that has one), or
 * region itself when a tag has it as properties.region; NULL: neither. */
static const char *region_key(const struct tagdb *db, const char *region)
{
	for (size_t i = 0; i < db->n; i++) {
		const char *dot = strchr(db->tags[i].name, '.');
		if (dot && !strcasecmp(dot + 1, region) && db->tags[i].region && db->tags[i].region[0])
			return db->tags[i].region;
	}
	for (size_t i = 0; i < db->n; i++)
		if (db->tags[i].region && !strcasecmp(db->tags[i].region, region))
			return db->tags[i].region;
	return NULL;
}

const struct service_tag *tagdb_find_regional(const struct tagdb *db, const char *base,
					      const char *region)
{
	char name[256];
	size_t bl = strlen(base);

	snprintf(name, sizeof(name), "%s.%s", base, region);
	const struct service_tag *t = tagdb_find(db, name);
	if (t)
		return t;
	const char *key = region_key(db, region);
	if (!key)
		return NULL;
	for (size_t i = 0; i < db->n; i++) {
		const struct service_tag *c = &db->tags[i];
		if (!strncasecmp(c->name, base, bl) && c->name[bl] == '.' && !strchr(c->name + bl + 1, '.') &&
		    c->region && !strcasecmp(c->region, key))
			return c;
	}
	return NULL;
}

bool tagdb_has_region(const struct tagdb *db, const char *region)
{
	/* a regional tag names it (with a properties.region), or a tag has it
	 * as properties.region: AzureFrontDoor.Frontend's "Frontend" is none */
	return region_key(db, region) != NULL;
}

size_t edit_distance_ci(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = calloc(lb + 1, sizeof(*row));
	size_t d;

	if (!row)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			size_t best = prev + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	d = row[lb];
	free(row);
	return d;
}

const char *tagdb_suggest(const struct tagdb *db, const char *name)
{
	const char *best = NULL;
	size_t bestd = (size_t)-1, len = strlen(name);

	size_t maxd = len / 3 > 2 ? len / 3 : 2;

	if (len > 256)
		return NULL;		/* no tag is named so */
	for (size_t i = 0; i < db->n; i++) {
		size_t tl = strlen(db->tags[i].name);

		/* the distance is at least the difference of the lengths */
		if ((tl > len ? tl - len : len - tl) > maxd || (tl > len ? tl - len : len - tl) >= bestd)
			continue;
		size_t d = edit_distance_ci(name, db->tags[i].name);
		if (d < bestd) {
			bestd = d;
			best = db->tags[i].name;
		}
	}
	/* Only suggest when the name is plausibly a typo: at most a third wrong. */
	if (best && bestd <= maxd)
		return best;
	return NULL;
}
