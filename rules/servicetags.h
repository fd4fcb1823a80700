/* servicetags — Azure ServiceTags_Public_*.json loaded with jansson.
 *
 * Names are looked up case-insensitively and kept as the file spells them.
 * Prefixes of each tag are split by family and normalised (struct pset). */
#ifndef FILTERD_SERVICETAGS_H
#define FILTERD_SERVICETAGS_H

#include "prefix.h"

struct service_tag {
	char *name;		/* as the file spells it, e.g. "Storage.EastUS" */
	char *region;		/* may be "" */
	char *system_service;	/* may be "" */
	long change_number;
	size_t nprefixes;	/* as listed in the file, before merging */
	struct pset v4, v6;	/* normalised */
};

struct tagdb {
	char *path;
	char *cloud;
	long change_number;
	struct service_tag *tags;	/* sorted by case-folded name */
	size_t n;
	size_t total_prefixes;
};

/* Loads a tags file.  On error returns NULL and writes "path: reason" into err
 * (the reason names the JSON line/column for syntax errors and the tag for bad
 * prefixes); nothing is half-loaded. */
struct tagdb *tagdb_load(const char *path, char *err, size_t errlen);
/* tagdb_load, and (when raw) the file's bytes as read, for the caller to keep
 * (free) -- the very text the database came from.  A regular file only (the
 * daemon's: a FIFO in its place would block its loop in open). */
struct tagdb *tagdb_load_raw(const char *path, char **raw, size_t *rawlen, char *err,
			     size_t errlen);
/* Same from memory; name is used in messages. */
struct tagdb *tagdb_load_buffer(const char *name, const char *buf, size_t len,
				char *err, size_t errlen);
void tagdb_free(struct tagdb *db);
const struct service_tag *tagdb_find(const struct tagdb *db, const char *name);
/* The regional tag BASE.<region>: by its name, or -- Azure names some
 * families' regional tags by another spelling of the region (Storage.FranceCentral
 * and AzureCloud.centralfrance are both properties.region "centralfrance") --
 * the tag BASE.* whose properties.region is that of the tags named *.<region>.
 * NULL when the file has none. */
const struct service_tag *tagdb_find_regional(const struct tagdb *db, const char *base,
					      const char *region);
/* Whether region names a region of the file: a tag named *.<region> has a
 * properties.region, or a tag has it as properties.region. */
bool tagdb_has_region(const struct tagdb *db, const char *region);
/* The known name closest to name (edit distance, case-insensitive), or NULL when
 * nothing is reasonably close. */
const char *tagdb_suggest(const struct tagdb *db, const char *name);

/* Case-insensitive Damerau-free Levenshtein distance, shared by suggestions. */
size_t edit_distance_ci(const char *a, const char *b);

#endif
