/* swapio — 16- and 32-bit fields of a capture file in its own byte order
 * (swap: the file's order is not this host's), for the readers that parse
 * capture files themselves (reader.c's block reader, pcapng.c's walk). */
#ifndef FILTERD_SWAPIO_H
#define FILTERD_SWAPIO_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t swapio32(bool swap, const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

static inline uint16_t swapio16(bool swap, const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return swap ? __builtin_bswap16(v) : v;
}

#endif
