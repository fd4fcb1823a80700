/* pcaploop — the ceiling for pcap-replay's throughput: a bare libpcap read
 * loop over a capture (pcap_open_offline + pcap_next_ex), touching each
 * packet's first byte so the data is really read.
 *
 * With BUFSIZE, the file is opened with a stdio buffer of that many bytes
 * (pcap_fopen_offline).  With "blocks", a classic pcap file is read the way
 * pcap-replay's block reader reads it (pcap-replay/reader.c): pread(2) of
 * 64 KiB at a time into a 1 MiB buffer, records parsed where they lie (no
 * checks beyond the lengths: a bench, not a reader).
 *
 *   pcaploop CAPTURE [BUFSIZE|blocks]   prints "packets N bytes B seconds S pps P" */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pcap/pcap.h>

/* the block loop: packets, bytes and the sum of first bytes; -1 on error */
static int blocks(const char *path, unsigned long long *n, unsigned long long *bytes,
		  unsigned long long *x)
{
	const size_t cap = 1u << 20, chunk = 64u << 10;
	uint8_t *buf = malloc(cap);
	size_t have = 0, pos = 0;
	off_t base = 24;		/* the file header */
	int fd = open(path, O_RDONLY);

	uint32_t magic = 0;

	if (fd < 0 || !buf || pread(fd, &magic, 4, 0) != 4 ||
	    (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d)) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return -1;	/* only this host's byte order: a bench, not a reader */
	}
	for (;;) {
		uint32_t cl;
		ssize_t k;

		if (have - pos >= 16) {
			memcpy(&cl, buf + pos + 8, 4);
			if (cl > cap / 2) {
				free(buf);
				close(fd);
				return -1;	/* (not a plain little-endian pcap) */
			}
			if (have - pos - 16 >= cl) {
				(*n)++;
				*bytes += cl;
				if (cl)
					*x += buf[pos + 16];
				pos += 16 + cl;
				continue;
			}
		}
		if (cap - have < chunk) {
			memmove(buf, buf + pos, have - pos);
			base += (off_t)pos;
			have -= pos;
			pos = 0;
		}
		k = pread(fd, buf + have, chunk, base + (off_t)have);
		if (k < 0) {
			free(buf);
			close(fd);
			return -1;
		}
		if (k == 0)
			break;
		have += (size_t)k;
	}
	free(buf);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	unsigned long long n = 0, bytes = 0, x = 0;
	struct timespec t0, t1;
	pcap_t *pd;
	double s;
	int rc;

	size_t bs = 0;
	char *iobuf = NULL;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: pcaploop CAPTURE [BUFSIZE|blocks]\n");
		return 2;
	}
	if (argc == 3 && strcmp(argv[2], "blocks") == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (blocks(argv[1], &n, &bytes, &x) < 0) {
			fprintf(stderr, "pcaploop: %s: cannot read it in blocks\n", argv[1]);
			return 2;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		goto done;
	}
	if (argc == 3)
		bs = strtoul(argv[2], NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (bs) {
		FILE *f = fopen(argv[1], "rb");

		iobuf = malloc(bs);
		if (!f || !iobuf) {
			perror(argv[1]);
			return 2;
		}
		setvbuf(f, iobuf, _IOFBF, bs);
		pd = pcap_fopen_offline(f, errbuf);
	} else {
		pd = pcap_open_offline(argv[1], errbuf);
	}
	if (!pd) {
		fprintf(stderr, "pcaploop: %s\n", errbuf);
		return 2;
	}
	while ((rc = pcap_next_ex(pd, &h, &data)) == 1) {
		n++;
		bytes += h->caplen;
		if (h->caplen)
			x += data[0];
	}
	if (rc == PCAP_ERROR) {
		fprintf(stderr, "pcaploop: %s\n", pcap_geterr(pd));
		return 2;
	}
	pcap_close(pd);
	free(iobuf);
	clock_gettime(CLOCK_MONOTONIC, &t1);
done:
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("packets %llu bytes %llu seconds %.4f pps %.0f (x %llu)\n", n, bytes, s,
	       s > 0 ? (double)n / s : 0.0, x & 1);
	return 0;
}
