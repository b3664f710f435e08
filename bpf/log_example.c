// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * log_example.c: logging from BPF with tsbpf_log.h, for test/log.test.ts.
 *
 * Every program logs the same records (log_everything: every level, every
 * argument type and conversion), then one of its own:
 *
 *   log_socket      SEC("socket"), run with BPF_PROG_TEST_RUN:
 *                   info "socket len=%u" (the packet's length)
 *   log_xdp         SEC("xdp"), run with BPF_PROG_TEST_RUN:
 *                   info "xdp len=%d proto=%x" (length, bytes 12-13 of the frame)
 *   log_openat      SEC("tracepoint/syscalls/sys_enter_openat"), only for
 *                   calls of the process whose tgid is in .rodata target_tgid,
 *                   and only for files whose name starts with "/tmp/tsbpf-log-":
 *                   info "openat %s by %s (tgid %d)" with the filename read
 *                   from user memory (log_user_str), the task's comm and tgid;
 *                   log_everything first.
 *   log_flood       SEC("syscall"), ctx struct flood_args: logs "flood %u" `count`
 *                   times (at most 256; i = 0, 1, ...) and counts in `dropped` the calls that
 *                   returned -1 (the ring was full).
 *
 * The records of log_everything, formatted, are listed in the test.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>
#include "tsbpf_log.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile __u32 target_tgid = 0;

enum color { RED, GREEN, BLUE };

static __always_inline void log_everything(const char *kind)
{
	char word[8] = "stack";
	char long_name[100];
	void *ptr = (void *)0xdeadbeefUL;
	enum color c = BLUE;
	_Bool yes = 1;
	short sh = -3;
	unsigned char uc = 200;

	for (int i = 0; i < 99; i++)
		long_name[i] = 'a' + i % 26;
	long_name[99] = 0;

	log_error("%s: d=%d i=%i min=%d", kind, 42, -7, -2147483647 - 1);
	log_warn("u=%u x=%x X=%X neg=%x", 4294967295u, 0xbeefu, 0xbeefu, -1);
	log_info("ld=%ld lu=%lu lld=%lld llu=%llu lx=%lx", -1L, 18446744073709551615UL,
		 -9223372036854775807LL - 1, 18446744073709551615ULL, -1L);
	log_debug("s=%s arr=%s c=%c%c", "literal", word, 'o', 'k');
	log_trace("p=%p 100%% %#x %#o %o", ptr, 255, 8, 8);
	log_info("[%5d] [%-5d] [%05d] [%+d] [% d] [%8s] [%-8s] [%.3s] [%*d] [%-*d]",
		 42, 42, 42, 5, 5, "abc", "abc", "abcdef", 4, 7, 4, 7);
	log_info("enum=%u bool=%d short=%hd uchar=%hhu", c, yes, sh, uc);
	log_info("long=%s", long_name);
	log_info("twelve %d %d %d %d %d %d %d %d %d %d %d %d", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
	log_info("no arguments");
}

SEC("socket")
int log_socket(struct __sk_buff *skb)
{
	log_everything("socket");
	log_info("socket len=%u", skb->len);
	return 0;
}

SEC("xdp")
int log_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u16 proto = 0;

	if (data + 14 <= data_end)
		proto = *(__u16 *)(data + 12);
	log_everything("xdp");
	log_info("xdp len=%d proto=%x", (int)(data_end - data), proto);
	return XDP_PASS;
}

struct sys_enter_openat {
	__u64 common;
	__s64 syscall_nr;
	__u64 dfd;
	const char *filename;
	__u64 flags;
	__u64 mode;
};

SEC("tracepoint/syscalls/sys_enter_openat")
int log_openat(struct sys_enter_openat *ctx)
{
	static const char prefix[] = "/tmp/tsbpf-log-";
	char name[sizeof(prefix)];
	char comm[16];
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (tgid != target_tgid)
		return 0;
	if (bpf_probe_read_user_str(name, sizeof(name), ctx->filename) != sizeof(name))
		return 0;
	for (int i = 0; i < sizeof(prefix) - 1; i++)
		if (name[i] != prefix[i])
			return 0;
	bpf_get_current_comm(comm, sizeof(comm));
	log_everything("tracepoint");
	log_info("openat %s by %s (tgid %d)", log_user_str(ctx->filename), comm, tgid);
	return 0;
}

struct flood_args {
	__u32 count;
	__u32 dropped;
};

SEC("syscall")
int log_flood(struct flood_args *args)
{
	__u32 count = args->count;

	for (__u32 i = 0; i < count && i < 256; i++)
		if (log_info("flood %u", i) < 0)
			args->dropped++;
	return 0;
}
