/* csum — Internet checksum and CRC32c (see csum.h). */
#include "csum.h"

#include <pthread.h>

uint64_t csum_add(uint64_t sum, const uint8_t *d, size_t n)
{
	size_t i = 0;

	/* four words at a time into the 64-bit sum (no carry is lost: each
	 * step adds at most 2^18) */
	for (; i + 8 <= n; i += 8)
		sum += (uint64_t)((unsigned)d[i] << 8 | d[i + 1]) +
		       (uint64_t)((unsigned)d[i + 2] << 8 | d[i + 3]) +
		       (uint64_t)((unsigned)d[i + 4] << 8 | d[i + 5]) +
		       (uint64_t)((unsigned)d[i + 6] << 8 | d[i + 7]);
	for (; i + 2 <= n; i += 2)
		sum += (uint64_t)((unsigned)d[i] << 8 | d[i + 1]);
	if (i < n)
		sum += (uint64_t)d[i] << 8;
	return sum;
}

uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The reflected Castagnoli polynomial 0x1EDC6F41, a table built once. */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t crc32c(uint32_t crc, const uint8_t *d, size_t n)
{
	pthread_once(&crc_once, crc_init);
	for (size_t i = 0; i < n; i++)
		crc = crc_table[(crc ^ d[i]) & 0xff] ^ (crc >> 8);
	return crc;
}
