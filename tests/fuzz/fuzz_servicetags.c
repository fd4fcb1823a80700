/* Fuzzes the service-tag loader: bytes -> tagdb_load_buffer, then the lookups
 * the policy resolver makes (exact, case-insensitive, suggestion). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct tagdb *db = tagdb_load_buffer("fuzz.json", (const char *)data, size, err,
					     sizeof(err));

	if (!db)
		return 0;
	for (size_t i = 0; i < db->n && i < 4; i++)
		(void)tagdb_find(db, db->tags[i].name);
	(void)tagdb_find(db, "storage.eastus");
	(void)tagdb_suggest(db, "Storage.EastU");
	tagdb_free(db);
	return 0;
}
