/* pcaploop — the ceiling for pcap-replay's throughput: a bare libpcap read
 * loop over a capture (pcap_open_offline + pcap_next_ex), touching each
 * packet's first byte so the data is really read.
 *
 * With BUFSIZE, the file is opened with a stdio buffer of that many bytes
 * (pcap_fopen_offline), as pcap-replay's reader opens it (64 KiB).
 *
 *   pcaploop CAPTURE [BUFSIZE]   prints "packets N bytes B seconds S pps P" */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <pcap/pcap.h>

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
		fprintf(stderr, "usage: pcaploop CAPTURE [BUFSIZE]\n");
		return 2;
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
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("packets %llu bytes %llu seconds %.4f pps %.0f (x %llu)\n", n, bytes, s,
	       s > 0 ? (double)n / s : 0.0, x & 1);
	return 0;
}
