/* csum — the two transport checksums conntrack verifies on received packets
 * when nf_conntrack_checksum is 1: the Internet checksum (RFC 1071, TCP, UDP,
 * UDP-Lite, ICMP, ICMPv6) and CRC32c (RFC 3309, SCTP).
 *
 * The Internet checksum is kept as an unfolded sum of 16-bit big-endian words
 * (a byte order of its own: RFC 1071 shows the folded result does not depend
 * on it); csum_fold() reduces it to 16 bits.  A packet whose checksum field
 * is right sums, with its pseudo header, to 0xffff. */
#ifndef FILTERD_CSUM_H
#define FILTERD_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* sum + the bytes d[0..n) as 16-bit big-endian words (an odd last byte is
 * the high byte of a word padded with zero).  Sums of 2^47 bytes and more
 * would overflow: a packet is at most 256 KiB. */
uint64_t csum_add(uint64_t sum, const uint8_t *d, size_t n);

/* The ones' complement sum folded to 16 bits, not complemented (0xffff for a
 * right checksum; 0 only for a sum of zero words). */
uint16_t csum_fold(uint64_t sum);

/* CRC32c (Castagnoli, reflected, as the kernel's crc32c()): crc is the running
 * value, ~0u to start; the SCTP checksum is ~crc32c(~0u, packet with its
 * checksum field zero), stored least significant byte first. */
uint32_t crc32c(uint32_t crc, const uint8_t *d, size_t n);

#endif
