/* Fuzzes the offline replay pipeline: capture bytes -> libpcap -> pkt_decode
 * -> direction -> defrag -> conntrack -> the evaluator loaded from the example
 * policy compiled with the example tags -> flows, traces and reports, exactly
 * as pcap-replay runs it (linked with pcap-replay's objects but main.o).
 *
 * An input that starts like a pcap or pcapng file is that file.  Anything else
 * is a list of frames for the fuzzer to mutate freely: byte 0 picks the link
 * type, then frames of [2-byte big-endian length][bytes], 1 ms apart; they are
 * wrapped into a pcap file here. */
#include "fuzz.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../pcap-replay/replay.h"

static const int linktypes[] = {
	DLT_EN10MB, DLT_RAW, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP,
	DLT_IPV4, DLT_IPV6, 14, DLT_PPP,
};

struct wbuf {
	uint8_t *p;
	size_t len;
};

static void put(struct wbuf *w, const void *d, size_t n)
{
	memcpy(w->p + w->len, d, n);
	w->len += n;
}

static int is_capture(const uint8_t *d, size_t n)
{
	static const uint8_t magics[][4] = {
		{ 0xd4, 0xc3, 0xb2, 0xa1 }, { 0xa1, 0xb2, 0xc3, 0xd4 },
		{ 0x4d, 0x3c, 0xb2, 0xa1 }, { 0xa1, 0xb2, 0x3c, 0x4d },
		{ 0x0a, 0x0d, 0x0d, 0x0a },
	};

	for (size_t i = 0; n >= 4 && i < sizeof(magics) / sizeof(magics[0]); i++)
		if (memcmp(d, magics[i], 4) == 0)
			return 1;
	return 0;
}

/* frames -> a little-endian pcap file (room: 24 + 16 per frame + data) */
static size_t wrap_frames(const uint8_t *d, size_t n, uint8_t *out)
{
	struct wbuf w = { out, 0 };
	uint32_t hdr[6] = { 0xa1b2c3d4, 0x00040002, 0, 0, 262144, 0 };
	size_t off = 1;
	uint32_t usec = 0, sec = 1700000000;

	hdr[5] = (uint32_t)linktypes[d[0] % (sizeof(linktypes) / sizeof(linktypes[0]))];
	put(&w, hdr, sizeof(hdr));
	while (off + 2 <= n) {
		size_t l = (size_t)d[off] << 8 | d[off + 1];
		uint32_t rec[4];

		off += 2;
		if (l > n - off)
			l = n - off;
		usec += 1000;
		rec[0] = sec + usec / 1000000;
		rec[1] = usec % 1000000;
		rec[2] = (uint32_t)l;
		rec[3] = (uint32_t)l + (d[0] & 0x80 ? 100 : 0);	/* sometimes a short snaplen */
		put(&w, rec, sizeof(rec));
		put(&w, d + off, l);
		off += l;
	}
	return w.len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fuzz_env *env = fuzz_env_get(1);
	struct vm *vm;
	static int fd = -1;
	static char path[64];
	static FILE *devnull;
	struct replay_opts o = { .max_flows = 64 };
	struct trace_sel tr[2] = { { 0, 1 }, { 0, 3 } };
	struct replay r;
	struct report_ctx rc = { 0 };
	char *captures[1] = { path };
	uint8_t *file = NULL;
	size_t flen = size;

	char err[512];

	if (fd < 0) {
		if ((fd = memfd_create("fuzz-capture", MFD_CLOEXEC)) < 0)
			fuzz_die("memfd_create", strerror(errno));
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (!(devnull = fopen("/dev/null", "w")))
			fuzz_die("/dev/null", "cannot open");
	}
	if (size == 0)
		return 0;
	if (!is_capture(data, size)) {
		/* at most one 16-byte record header per 2 input bytes */
		file = malloc(24 + size * 9);
		if (!file)
			return 0;
		flen = wrap_frames(data, size, file);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, file ? file : data, flen, 0) != (ssize_t)flen)
		fuzz_die("memfd", strerror(errno));
	free(file);

	/* a fresh evaluator per input: run-time set elements (FQDN) and counters
	 * must not carry over from one capture to the next */
	if (!(vm = vm_load(env->comp->rs, err, sizeof(err))))
		fuzz_die("vm_load", err);
	o.captures = captures;
	o.ncaptures = 1;
	o.trace = tr;
	o.ntrace = 2;
	o.json = size & 1;
	o.verify_checksums = size & 2;	/* half the inputs: transport checksums verified */
	if (replay_init(&r, &o, env->comp->rs, vm) == 0) {
		r.trace_out = devnull;
		if (replay_infer_local(&r) == 0 && replay_run(&r) == 0) {
			rc.r = &r;
			rc.ruleset_desc = "fuzz";
			rc.coverage = true;
			if (o.json)
				report_json(&rc, devnull);
			else
				report_text(&rc, devnull);
		}
	}
	replay_free(&r);
	vm_free(vm);
	return 0;
}
