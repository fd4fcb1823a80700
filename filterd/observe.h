/* filterd: what the daemon tells about itself and the traffic it filters.
 *
 *   d_droplog.c  the NFLOG group of the drop rules: a rate-limited log line per
 *                denied packet, and a size-capped, rotated pcap of them
 *   d_metrics.c  Prometheus text (control op "metrics", node_exporter textfile)
 *   d_observe.c  control ops "show", "verify", "audit"; audit log rotation
 *
 * Everything here runs in the daemon's one thread; state is file-static. */
#ifndef FILTERD_OBSERVE_H
#define FILTERD_OBSERVE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon.h"

/* Called once at startup, before capabilities are dropped: binds the NFLOG
 * group, opens the drop pcap, arms the one-second observe tick (metrics_fd),
 * and adds its fds to the epoll set.  Failures are logged, never fatal. */
void observe_start(struct daemon *d);
/* Handles fd if it is one of ours (NFLOG socket, observe tick); false if not. */
bool observe_event(struct daemon *d, int fd);
void observe_stop(struct daemon *d);

/* Answers a reader's control op ("metrics", "show", "verify", "audit"), or
 * returns NULL when op is not one of these -- or, with *deferred set, when
 * the answer comes later through ctl_answer(d, client, ...) (a verify whose
 * captures are being replayed). */
json_t *observe_handle(struct daemon *d, const struct actor *who, uint64_t client,
		       const char *op, json_t *req, bool *deferred);
/* The verify job running ({pid, seconds, waiting}), or JSON null. */
json_t *verify_status_json(void);
/* Ends a running verify job (its waiters get an error answer). */
void verify_stop(struct daemon *d);

/* Rotates the audit log to PATH.1 when writing `incoming` more bytes would
 * take it past cfg.audit_log_max (0: never). */
void audit_rotate(struct daemon *d, size_t incoming);

/* d_droplog.c */
struct droplog_stats {
	bool active;			/* the NFLOG group is bound */
	uint64_t received;		/* packets from the kernel */
	uint64_t logged, suppressed;	/* log lines written / held back by drop_log_rate */
	uint64_t lost;			/* ENOBUFS: the socket overflowed */
	uint64_t pcap_packets, pcap_rotations;
	uint64_t pcap_bytes;		/* size of the current pcap file */
};
int droplog_open(struct daemon *d);	/* returns the fd, or -1 */
void droplog_read(struct daemon *d);
void droplog_tick(struct daemon *d);	/* flushes the "suppressed N" summary */
void droplog_close(void);
const struct droplog_stats *droplog_stats(void);
/* Per policy rule ("<category>:<dir>:<name>") packets seen on the NFLOG group. */
typedef void (*droplog_rule_cb)(const char *comment, uint64_t packets, void *data);
void droplog_foreach_rule(droplog_rule_cb cb, void *data);

/* d_metrics.c */
/* The whole exposition (Prometheus text format 0.0.4); malloc'd, NULL on ENOMEM. */
char *metrics_text(struct daemon *d);
/* Writes cfg.metrics_file atomically (tmp + rename).  0, or -1 (logged). */
int metrics_write_textfile(struct daemon *d);

#endif
