/* reader — a capture's packets in order, read ahead by a thread (reader.c). */
#ifndef FILTERD_READER_H
#define FILTERD_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pcap/pcap.h>

struct reader;

/* Work done on each packet as it is read, in the reader thread when there is
 * one: fills area (area_size bytes, the packet's own) from the packet; data
 * stays valid as long as area does.  frame counts from 1.  Returns a hint for
 * the consumer's cache hints, kept apart in a dense array (reader_peek_hint:
 * a look far ahead reads one line for eight packets, not a packet's area).
 * dlt is the packet's link type (a pcapng file's interfaces may differ). */
typedef uint64_t (*reader_prep_fn)(void *arg, const struct pcap_pkthdr *h, const uint8_t *data,
				   int dlt, uint64_t frame, void *area);

#define READER_MAX_DLTS 4

/* reader_open's flags */
#define READER_SINGLE_THREAD 1u	/* no reader thread */
#define READER_LIBPCAP 2u	/* libpcap reads every packet (no block reader) */

/* Opens the capture (pcap or pcapng, via libpcap; a classic pcap file's
 * records are then read in blocks, see reader.c).  With more than one CPU
 * online and without READER_SINGLE_THREAD, a thread reads ahead from the
 * first reader_next on (so the caller may set up prep's argument after
 * opening).  0, or -1 with libpcap's message in err. */
int reader_open(struct reader **r, const char *path, unsigned flags, size_t area_size,
		reader_prep_fn prep, void *prep_arg, char *err, size_t errlen);
/* The link type of the file's first interface (a pcapng file's interfaces
 * may differ: reader_stats lists those of the packets read). */
int reader_datalink(const struct reader *r);
/* Work for the reader thread while it waits for the consumer (a full
 * ring): fn(arg) does one step of it and returns whether it did any; the
 * thread calls it again while the wait lasts and it returns true.  fn runs
 * alongside the consumer, so it may only touch what is made for that
 * (pcap-replay: faulting in the pages the replay will write next, region.h).
 * Set before the first reader_next; never called without a thread. */
typedef bool (*reader_idle_fn)(void *arg);
void reader_set_idle(struct reader *r, reader_idle_fn fn, void *arg);
/* Whether a thread reads ahead (decided when the reader is opened). */
bool reader_threaded(const struct reader *r);
/* A capture that is not a regular file — standard input ("-"), a pipe, a
 * process substitution, a device — can be read once only, but pcap-replay
 * reads a capture more than once (host-address inference, the pcapng
 * direction walk, --kernel-check).  Such a capture is copied into an unlinked
 * temporary file in $TMPDIR (else /tmp): 1 and *open_path ("/proc/self/fd/N",
 * the caller frees it) to open instead; 0 when path is a regular file or
 * cannot be opened (libpcap reports that); -1 with err when the copy fails. */
int reader_spool(const char *path, char **open_path, char *err, size_t errlen);
/* The next packet: 1 (h and data valid until the next call; either may be
 * NULL when the caller needs only the area), 0 at the end of the file, -1 on
 * a read error (reader_error says which; the packets before it were all
 * returned). */
int reader_next(struct reader *r, struct pcap_pkthdr *h, const uint8_t **data, void **area);
const char *reader_error(const struct reader *r);
/* The hint prep returned for the packet `ahead` packets after the one
 * reader_next returned last, or 0 when it has not been read yet. */
uint64_t reader_peek_hint(const struct reader *r, unsigned ahead);
/* How the reading went, for --stats: the reader thread's CPU time and how
 * often each side waited for the other (all 0 without a thread). */
struct reader_stats {
	bool threaded;
	double thread_cpu_s;
	uint64_t batches, reader_waits, consumer_waits;
	double reader_wait_s, consumer_wait_s;	/* wall time spent waiting */
	uint64_t idle_steps;		/* reader_set_idle's steps done while waiting */
	double idle_s;			/* ... their wall time (not in reader_wait_s) */
	uint64_t block_records;		/* records the block reader read (libpcap: the rest) */
	uint64_t ng_records;		/* records the pcapng reader read (below) */
	/* the link types of the packets read, in order of appearance; more:
	 * there were more than READER_MAX_DLTS */
	int dlts[READER_MAX_DLTS];
	unsigned ndlts;
	bool more_dlts;
};
/* Closes r; st (may be NULL) receives its stats, the thread joined. */
void reader_close(struct reader *r, struct reader_stats *st);

/* pcapng files libpcap refuses.  libpcap reads one link type and one
 * snapshot length a file, and one byte order: at the first interface or
 * section that differs it fails ("an interface has a type 1 different from
 * the type of the first interface").  The pcapng specification allows all
 * three (mergecap writes such files, dumpcap capturing on several
 * interfaces too); pcap-replay then reads the file itself (pcapng.c), each
 * packet with its own interface's link type, snapshot and time stamp
 * resolution and offset. */
struct ngrd;
int ngrd_open(struct ngrd **g, const char *path, char *err, size_t errlen);
/* 1 (*h and *data valid until the next call, *dlt the packet's link type),
 * 0 at the end of the file, -1 with ngrd_error. */
int ngrd_next(struct ngrd *g, struct pcap_pkthdr **h, const uint8_t **data, int *dlt);
const char *ngrd_error(const struct ngrd *g);
/* Whether a block read so far is one libpcap refuses a file for: an
 * interface whose link type or snapshot length differs from the file's
 * first interface's, a section of the other byte order. */
bool ngrd_diverged(const struct ngrd *g);
void ngrd_close(struct ngrd *g);

/* libpcap's packets of an open capture, and pcap-replay's pcapng reader's
 * from where libpcap refuses a pcapng file for its mixed interfaces (the
 * file is read again from its start, the packets already returned skipped;
 * libpcap's error stands unless the blocks where libpcap stopped hold such an
 * interface or section).
 * Every reader of a capture reads through it, so all see the same packets. */
struct capnext {
	pcap_t *pd;
	const char *path;
	struct ngrd *ng;
	uint64_t n;		/* packets returned */
	uint64_t ng_from;	/* of them, libpcap's (before the pcapng reader took over) */
	bool failed;		/* an error was returned: nothing more is read */
	int dlt;		/* the link type of the packet returned last */
	bool owns_pd;		/* capnext_open opened it: capnext_done closes it */
	char err[PCAP_ERRBUF_SIZE + 64];
};
/* Reads pd (the caller's, still open after capnext_done). */
void capnext_init(struct capnext *c, pcap_t *pd, const char *path);
/* Opens path with libpcap and reads it: 0, or -1 with libpcap's message in
 * err.  capnext_done closes it. */
int capnext_open(struct capnext *c, const char *path, char *err, size_t errlen);
/* As pcap_next_ex, but 1, 0 at the end, -1 with capnext_error. */
int capnext_next(struct capnext *c, struct pcap_pkthdr **h, const uint8_t **data);
const char *capnext_error(const struct capnext *c);
void capnext_done(struct capnext *c);

#endif
