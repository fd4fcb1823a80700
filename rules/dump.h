/* dump — a table as the kernel has it, in and out of a struct ruleset.
 *
 * ruleset_from_kernel() dumps one table from the current network namespace
 * over netlink (GETTABLE, GETCHAIN, GETSET, GETSETELEM per set, GETRULE);
 * ruleset_save()/ruleset_load_file() keep such a ruleset (or a compiled one)
 * in a file so that a host's real state can be replayed in CI.
 *
 * File format ("saved dump", version 1):
 *   "filterd-ruleset 1\n"
 *   then records, each a 32-bit big-endian length followed by that many bytes:
 *   one netlink message (struct nlmsghdr + struct nfgenmsg + attributes) as
 *   nftnl_*_nlmsg_build_payload() builds it — the NEWTABLE first, then
 *   NEWCHAIN (base chains first), NEWSET, NEWSETELEM (per set, in chunks of
 *   < 64 KiB of elements), NEWRULE in rule order;
 *   then a trailer: a zero length and the FNV-1a 64 (big endian) of every
 *   byte before it — corrupted or truncated files are refused before any
 *   message is parsed.  The netlink messages are the
 *   same bytes the kernel accepts and sends, parsed back with
 *   nftnl_*_nlmsg_parse().
 *
 * Error convention: NULL / -1 with a message in err (never printed here). */
#ifndef FILTERD_DUMP_H
#define FILTERD_DUMP_H

#include <stddef.h>
#include <stdint.h>

#include "ruleset.h"

#define RULESET_FILE_MAGIC "filterd-ruleset 1\n"

/* Dumps table `table` of `family` (NFPROTO_INET, ...) from the current network
 * namespace.  NULL with "table inet filterd: no such table" etc. */
struct ruleset *ruleset_from_kernel(const char *table, uint32_t family, char *err,
				    size_t errlen);

/* Writes rs to path (through path.tmp + rename).  0, or -1 with a message. */
int ruleset_save(const struct ruleset *rs, const char *path, char *err, size_t errlen);
/* Serialises rs into a malloc'ed buffer (*buf, *len).  0, or -1. */
int ruleset_save_buf(const struct ruleset *rs, void **buf, size_t *len, char *err,
		     size_t errlen);

/* Reads a saved dump.  NULL with "path: record 3: ..." on any malformation. */
struct ruleset *ruleset_load_file(const char *path, char *err, size_t errlen);
/* Same from memory; name prefixes the messages. */
struct ruleset *ruleset_load_buf(const void *buf, size_t len, const char *name,
				 char *err, size_t errlen);

#endif
