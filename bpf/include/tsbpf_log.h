/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * tsbpf_log.h: printf-style logging from BPF programs to user space.
 *
 *   #include "vmlinux.h"            (or <linux/bpf.h>, or tsbpf_types.h)
 *   #include <bpf/bpf_helpers.h>
 *   #include "tsbpf_log.h"
 *
 *   log_info("pid %d opened %s", pid, name);
 *   log_error, log_warn, log_info, log_debug, log_trace
 *
 * and in TypeScript `attachLogger(ebpf)` (console) or `attachLogger(ebpf, pino())`.
 *
 * Each call reserves one record in the ring buffer `tsbpf_log` (defined here),
 * copies the format (a string literal: its bytes become 64-bit immediates, no
 * copy in .rodata) and each argument tagged with its C type, and submits it.
 * User space formats the record: the program does no formatting. A record that
 * does not fit (the ring is full: user space is not reading, or is behind) is
 * dropped and the macro's value is -1 (0 when sent).
 *
 * Arguments, by C type (C11 _Generic, so the type decides, not the format):
 *   _Bool, char, short, int, enums, unsigned ...   32-bit integers (signed or not)
 *   long, long long and their unsigned              64-bit integers
 *   char arrays and char pointers                   strings, read with
 *       bpf_probe_read_kernel_str (kernel memory, the BPF stack, map values):
 *       at most TSBPF_LOG_STR_MAX - 1 bytes, cut there
 *   log_user_str(p)                                 a user-space string, read
 *       with bpf_probe_read_user_str (syscall arguments: filenames, ...)
 *   any other pointer                               its address (for %p, %x)
 * A struct or floating-point argument is a compile error. The format is
 * checked against the arguments as printf's is (-Wformat): `%d` given a long,
 * or a missing argument, is a warning (an error with -Werror).
 *
 * Conversions user space formats: %d %i %u %x %X %o %c %s %p %%, with the
 * length modifiers hh h l ll z j t (ignored: the argument's own width
 * decides), flags - 0 + space #, a width and a precision (also as *).
 * A string read that faults prints "(efault)".
 *
 * Helpers used: bpf_ringbuf_reserve/submit (5.8), bpf_probe_read_kernel_str
 * and bpf_probe_read_user_str (5.5) for strings. Every program type has the
 * ring buffer helpers. Tracing programs have the probe_read helpers; the
 * other types (XDP, tc, socket filters, cgroup, syscall, ...) get them from
 * the kernel's base set (bpf_base_func_proto, 5.8 on) only when loaded with
 * CAP_PERFMON or CAP_SYS_ADMIN. A program that logs no string needs only the
 * ring buffer helpers.
 *
 * Settings (#define before including):
 *   TSBPF_LOG_BUF_SIZE  the ring's size in bytes (power of two, page multiple;
 *                       default 64 KiB). EbpfLoader.setMaxEntries('tsbpf_log', n)
 *                       changes it at load time too.
 *   TSBPF_LOG_STR_MAX   bytes kept of a string argument, NUL included
 *                       (a multiple of 8; default 64)
 *   TSBPF_LOG_LEVEL     calls above this level compile to nothing
 *                       (TSBPF_LOG_LEVEL_ERROR ... _TRACE; default _TRACE)
 *
 * Record layout (native byte order; the ring pads each record to 8 bytes):
 *   struct tsbpf_log_header  (16 bytes)
 *   char fmt[fmt_size]       the format, fmt_len bytes, then a NUL and padding
 *   nargs times: struct tsbpf_log_arg (8 bytes), then `size` bytes of value:
 *     numbers: a 64-bit value (sign-extended from 32 bits for I32)
 *     strings: the bytes read (`len` of them with the NUL; len < 0: the
 *              helper's -errno)
 *
 * At most TSBPF_LOG_MAX_ARGS (12) arguments; a format of at most
 * TSBPF_LOG_FMT_MAX (512) bytes. Both are checked at compile time.
 */
#ifndef TSBPF_LOG_H
#define TSBPF_LOG_H

#include <bpf/bpf_helpers.h>

#define TSBPF_LOG_LEVEL_ERROR 1
#define TSBPF_LOG_LEVEL_WARN 2
#define TSBPF_LOG_LEVEL_INFO 3
#define TSBPF_LOG_LEVEL_DEBUG 4
#define TSBPF_LOG_LEVEL_TRACE 5

#ifndef TSBPF_LOG_BUF_SIZE
#define TSBPF_LOG_BUF_SIZE (64 * 1024)
#endif
#ifndef TSBPF_LOG_STR_MAX
#define TSBPF_LOG_STR_MAX 64
#endif
#ifndef TSBPF_LOG_LEVEL
#define TSBPF_LOG_LEVEL TSBPF_LOG_LEVEL_TRACE
#endif

#define TSBPF_LOG_VERSION 1
#define TSBPF_LOG_MAX_ARGS 12
#define TSBPF_LOG_FMT_MAX 512

_Static_assert(TSBPF_LOG_STR_MAX % 8 == 0 && TSBPF_LOG_STR_MAX >= 8 && TSBPF_LOG_STR_MAX <= 4096,
	       "TSBPF_LOG_STR_MAX must be a multiple of 8 from 8 to 4096");

/* Argument types (struct tsbpf_log_arg.type). */
enum tsbpf_log_arg_type {
	TSBPF_LOG_ARG_I32 = 1,
	TSBPF_LOG_ARG_U32 = 2,
	TSBPF_LOG_ARG_I64 = 3,
	TSBPF_LOG_ARG_U64 = 4,
	TSBPF_LOG_ARG_STR = 5,
	TSBPF_LOG_ARG_PTR = 6,
};

struct tsbpf_log_header {
	__u8 version;	/* TSBPF_LOG_VERSION */
	__u8 level;	/* TSBPF_LOG_LEVEL_ERROR (1) ... TSBPF_LOG_LEVEL_TRACE (5) */
	__u8 nargs;
	__u8 flags;	/* 0 */
	__u16 fmt_len;	/* bytes of the format without its NUL */
	__u16 fmt_size;	/* bytes the format takes in the record (a multiple of 8) */
	__u32 line;	/* __LINE__ of the call (clang: its last line) */
	__u32 reserved;
} __attribute__((aligned(8)));	/* the format after it is copied 8 bytes at a time */

struct tsbpf_log_arg {
	__u8 type;	/* enum tsbpf_log_arg_type */
	__u8 reserved;
	__u16 size;	/* bytes of value after this header (a multiple of 8) */
	__s32 len;	/* strings: bytes read, NUL included, or -errno; numbers: 0 */
} __attribute__((aligned(8)));

/* A user-space string argument: log_info("open %s", log_user_str(filename)). */
struct tsbpf_log_user_str {
	const void *ptr;
};
#define log_user_str(p) ((struct tsbpf_log_user_str){ (const void *)(p) })

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TSBPF_LOG_BUF_SIZE);
} tsbpf_log SEC(".maps");

/* ---- writing one argument (inlined: the offsets are constants) ---- */

static __always_inline void __tsbpf_log_int(void *slot, __u8 type, __u64 v)
{
	struct tsbpf_log_arg *a = slot;

	a->type = type;
	a->reserved = 0;
	a->size = 8;
	a->len = 0;
	*(__u64 *)(a + 1) = v;
}

static __always_inline void __tsbpf_log_i32(void *slot, __s32 v) { __tsbpf_log_int(slot, TSBPF_LOG_ARG_I32, (__u64)(__s64)v); }
static __always_inline void __tsbpf_log_u32(void *slot, __u32 v) { __tsbpf_log_int(slot, TSBPF_LOG_ARG_U32, v); }
static __always_inline void __tsbpf_log_i64(void *slot, __s64 v) { __tsbpf_log_int(slot, TSBPF_LOG_ARG_I64, (__u64)v); }
static __always_inline void __tsbpf_log_u64(void *slot, __u64 v) { __tsbpf_log_int(slot, TSBPF_LOG_ARG_U64, v); }
static __always_inline void __tsbpf_log_ptr(void *slot, const void *p) { __tsbpf_log_int(slot, TSBPF_LOG_ARG_PTR, (__u64)(unsigned long)p); }

static __always_inline void __tsbpf_log_kstr(void *slot, const void *s)
{
	struct tsbpf_log_arg *a = slot;

	a->type = TSBPF_LOG_ARG_STR;
	a->reserved = 0;
	a->size = TSBPF_LOG_STR_MAX;
	a->len = bpf_probe_read_kernel_str(a + 1, TSBPF_LOG_STR_MAX, s);
}

static __always_inline void __tsbpf_log_ustr(void *slot, struct tsbpf_log_user_str s)
{
	struct tsbpf_log_arg *a = slot;

	a->type = TSBPF_LOG_ARG_STR;
	a->reserved = 0;
	a->size = TSBPF_LOG_STR_MAX;
	a->len = bpf_probe_read_user_str(a + 1, TSBPF_LOG_STR_MAX, s.ptr);
}

#define __TSBPF_LOG_PUT_FN(x) _Generic((x),					\
	_Bool: __tsbpf_log_u32,							\
	char: __tsbpf_log_i32,							\
	signed char: __tsbpf_log_i32,						\
	unsigned char: __tsbpf_log_u32,						\
	short: __tsbpf_log_i32,							\
	unsigned short: __tsbpf_log_u32,					\
	int: __tsbpf_log_i32,							\
	unsigned int: __tsbpf_log_u32,						\
	long: __tsbpf_log_i64,							\
	unsigned long: __tsbpf_log_u64,						\
	long long: __tsbpf_log_i64,						\
	unsigned long long: __tsbpf_log_u64,					\
	char *: __tsbpf_log_kstr,						\
	const char *: __tsbpf_log_kstr,						\
	signed char *: __tsbpf_log_kstr,					\
	const signed char *: __tsbpf_log_kstr,					\
	unsigned char *: __tsbpf_log_kstr,					\
	const unsigned char *: __tsbpf_log_kstr,				\
	struct tsbpf_log_user_str: __tsbpf_log_ustr,				\
	default: __tsbpf_log_ptr)

#define __TSBPF_LOG_STR_SLOT (8 + TSBPF_LOG_STR_MAX)
#define __TSBPF_LOG_SLOT(x) _Generic((x),					\
	char *: __TSBPF_LOG_STR_SLOT,						\
	const char *: __TSBPF_LOG_STR_SLOT,					\
	signed char *: __TSBPF_LOG_STR_SLOT,					\
	const signed char *: __TSBPF_LOG_STR_SLOT,				\
	unsigned char *: __TSBPF_LOG_STR_SLOT,					\
	const unsigned char *: __TSBPF_LOG_STR_SLOT,				\
	struct tsbpf_log_user_str: __TSBPF_LOG_STR_SLOT,			\
	default: 16)

/* What printf's format check sees: a user-space string is a char pointer. */
#define __TSBPF_LOG_CHECKED(x) _Generic((x),					\
	struct tsbpf_log_user_str: (const char *)0,				\
	default: (x))

static __always_inline __attribute__((format(printf, 1, 2))) void __tsbpf_log_check(const char *fmt, ...) {}

/* ---- argument lists: count, and apply a macro to each ---- */

#define __TSBPF_LOG_NTH(_0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, N, ...) N
#define __TSBPF_LOG_NARG(...) __TSBPF_LOG_NTH(_, ##__VA_ARGS__, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define __TSBPF_LOG_CAT_(a, b) a##b
#define __TSBPF_LOG_CAT(a, b) __TSBPF_LOG_CAT_(a, b)
#define __TSBPF_LOG_EACH(m, ...) __TSBPF_LOG_CAT(__TSBPF_LOG_EACH_, __TSBPF_LOG_NARG(__VA_ARGS__))(m, ##__VA_ARGS__)
#define __TSBPF_LOG_EACH_0(m)
#define __TSBPF_LOG_EACH_1(m, a) m(a)
#define __TSBPF_LOG_EACH_2(m, a, ...) m(a) __TSBPF_LOG_EACH_1(m, __VA_ARGS__)
#define __TSBPF_LOG_EACH_3(m, a, ...) m(a) __TSBPF_LOG_EACH_2(m, __VA_ARGS__)
#define __TSBPF_LOG_EACH_4(m, a, ...) m(a) __TSBPF_LOG_EACH_3(m, __VA_ARGS__)
#define __TSBPF_LOG_EACH_5(m, a, ...) m(a) __TSBPF_LOG_EACH_4(m, __VA_ARGS__)
#define __TSBPF_LOG_EACH_6(m, a, ...) m(a) __TSBPF_LOG_EACH_5(m, __VA_ARGS__)
#define __TSBPF_LOG_EACH_7(m, a, ...) m(a) __TSBPF_LOG_EACH_6(m, __VA_ARGS__)
#define __TSBPF_LOG_EACH_8(m, a, ...) m(a) __TSBPF_LOG_EACH_7(m, __VA_ARGS__)
#define __TSBPF_LOG_EACH_9(m, a, ...) m(a) __TSBPF_LOG_EACH_8(m, __VA_ARGS__)
#define __TSBPF_LOG_EACH_10(m, a, ...) m(a) __TSBPF_LOG_EACH_9(m, __VA_ARGS__)
#define __TSBPF_LOG_EACH_11(m, a, ...) m(a) __TSBPF_LOG_EACH_10(m, __VA_ARGS__)
#define __TSBPF_LOG_EACH_12(m, a, ...) m(a) __TSBPF_LOG_EACH_11(m, __VA_ARGS__)
/* 13 to 16 arguments: only the count, for the static assertion's message. */
#define __TSBPF_LOG_EACH_13(m, ...)
#define __TSBPF_LOG_EACH_14(m, ...)
#define __TSBPF_LOG_EACH_15(m, ...)
#define __TSBPF_LOG_EACH_16(m, ...)

#define __TSBPF_LOG_PLUS_SLOT(x) + __TSBPF_LOG_SLOT(x)
#define __TSBPF_LOG_WRITE(x)								\
	__TSBPF_LOG_PUT_FN(x)((char *)__tsbpf_rec + __tsbpf_off, x);		\
	__tsbpf_off += __TSBPF_LOG_SLOT(x);
#define __TSBPF_LOG_COMMA_CHECKED(x) , __TSBPF_LOG_CHECKED(x)

/*
 * The format copied as 64-bit immediates: each word's bytes are read from the
 * literal at constant indices, which the compiler folds, so no copy of the
 * format is left in .rodata. Words past the format's size are not written;
 * 64 words hold TSBPF_LOG_FMT_MAX (512) bytes.
 */
#define __TSBPF_LOG_CH(s, n) ((__u64)(unsigned char)((n) < sizeof(s) ? (s)[(n) < sizeof(s) ? (n) : 0] : 0))
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define __TSBPF_LOG_SH(k) (8 * (k))
#else
#define __TSBPF_LOG_SH(k) (56 - 8 * (k))
#endif
#define __TSBPF_LOG_WORD(to, s, i)							\
	if (8 * (i) < sizeof(s))							\
		(to)[i] = __TSBPF_LOG_CH(s, 8 * (i)) << __TSBPF_LOG_SH(0) |		\
			  __TSBPF_LOG_CH(s, 8 * (i) + 1) << __TSBPF_LOG_SH(1) |		\
			  __TSBPF_LOG_CH(s, 8 * (i) + 2) << __TSBPF_LOG_SH(2) |		\
			  __TSBPF_LOG_CH(s, 8 * (i) + 3) << __TSBPF_LOG_SH(3) |		\
			  __TSBPF_LOG_CH(s, 8 * (i) + 4) << __TSBPF_LOG_SH(4) |		\
			  __TSBPF_LOG_CH(s, 8 * (i) + 5) << __TSBPF_LOG_SH(5) |		\
			  __TSBPF_LOG_CH(s, 8 * (i) + 6) << __TSBPF_LOG_SH(6) |		\
			  __TSBPF_LOG_CH(s, 8 * (i) + 7) << __TSBPF_LOG_SH(7);
#define __TSBPF_LOG_COPY_FMT(to, s) do {						\
	__TSBPF_LOG_WORD(to, s, 0) \
	__TSBPF_LOG_WORD(to, s, 1) \
	__TSBPF_LOG_WORD(to, s, 2) \
	__TSBPF_LOG_WORD(to, s, 3) \
	__TSBPF_LOG_WORD(to, s, 4) \
	__TSBPF_LOG_WORD(to, s, 5) \
	__TSBPF_LOG_WORD(to, s, 6) \
	__TSBPF_LOG_WORD(to, s, 7) \
	__TSBPF_LOG_WORD(to, s, 8) \
	__TSBPF_LOG_WORD(to, s, 9) \
	__TSBPF_LOG_WORD(to, s, 10) \
	__TSBPF_LOG_WORD(to, s, 11) \
	__TSBPF_LOG_WORD(to, s, 12) \
	__TSBPF_LOG_WORD(to, s, 13) \
	__TSBPF_LOG_WORD(to, s, 14) \
	__TSBPF_LOG_WORD(to, s, 15) \
	__TSBPF_LOG_WORD(to, s, 16) \
	__TSBPF_LOG_WORD(to, s, 17) \
	__TSBPF_LOG_WORD(to, s, 18) \
	__TSBPF_LOG_WORD(to, s, 19) \
	__TSBPF_LOG_WORD(to, s, 20) \
	__TSBPF_LOG_WORD(to, s, 21) \
	__TSBPF_LOG_WORD(to, s, 22) \
	__TSBPF_LOG_WORD(to, s, 23) \
	__TSBPF_LOG_WORD(to, s, 24) \
	__TSBPF_LOG_WORD(to, s, 25) \
	__TSBPF_LOG_WORD(to, s, 26) \
	__TSBPF_LOG_WORD(to, s, 27) \
	__TSBPF_LOG_WORD(to, s, 28) \
	__TSBPF_LOG_WORD(to, s, 29) \
	__TSBPF_LOG_WORD(to, s, 30) \
	__TSBPF_LOG_WORD(to, s, 31) \
	__TSBPF_LOG_WORD(to, s, 32) \
	__TSBPF_LOG_WORD(to, s, 33) \
	__TSBPF_LOG_WORD(to, s, 34) \
	__TSBPF_LOG_WORD(to, s, 35) \
	__TSBPF_LOG_WORD(to, s, 36) \
	__TSBPF_LOG_WORD(to, s, 37) \
	__TSBPF_LOG_WORD(to, s, 38) \
	__TSBPF_LOG_WORD(to, s, 39) \
	__TSBPF_LOG_WORD(to, s, 40) \
	__TSBPF_LOG_WORD(to, s, 41) \
	__TSBPF_LOG_WORD(to, s, 42) \
	__TSBPF_LOG_WORD(to, s, 43) \
	__TSBPF_LOG_WORD(to, s, 44) \
	__TSBPF_LOG_WORD(to, s, 45) \
	__TSBPF_LOG_WORD(to, s, 46) \
	__TSBPF_LOG_WORD(to, s, 47) \
	__TSBPF_LOG_WORD(to, s, 48) \
	__TSBPF_LOG_WORD(to, s, 49) \
	__TSBPF_LOG_WORD(to, s, 50) \
	__TSBPF_LOG_WORD(to, s, 51) \
	__TSBPF_LOG_WORD(to, s, 52) \
	__TSBPF_LOG_WORD(to, s, 53) \
	__TSBPF_LOG_WORD(to, s, 54) \
	__TSBPF_LOG_WORD(to, s, 55) \
	__TSBPF_LOG_WORD(to, s, 56) \
	__TSBPF_LOG_WORD(to, s, 57) \
	__TSBPF_LOG_WORD(to, s, 58) \
	__TSBPF_LOG_WORD(to, s, 59) \
	__TSBPF_LOG_WORD(to, s, 60) \
	__TSBPF_LOG_WORD(to, s, 61) \
	__TSBPF_LOG_WORD(to, s, 62) \
	__TSBPF_LOG_WORD(to, s, 63) \
} while (0);

#define __TSBPF_LOG_FMT_SIZE(fmt) ((sizeof(fmt) + 7) & ~7)

/* Logs at level `lvl` (TSBPF_LOG_LEVEL_*): 0 when sent, -1 when the ring is full. */
#define tsbpf_log(lvl, fmt, ...) ({							\
	int __tsbpf_ret = 0;								\
	_Static_assert(sizeof("" fmt "") <= TSBPF_LOG_FMT_MAX,			\
		       "tsbpf_log: the format is longer than TSBPF_LOG_FMT_MAX bytes");	\
	_Static_assert(__TSBPF_LOG_NARG(__VA_ARGS__) <= TSBPF_LOG_MAX_ARGS,		\
		       "tsbpf_log: at most TSBPF_LOG_MAX_ARGS (12) arguments");		\
	if (0)										\
		__tsbpf_log_check(fmt __TSBPF_LOG_EACH(__TSBPF_LOG_COMMA_CHECKED, ##__VA_ARGS__)); \
	if ((lvl) <= TSBPF_LOG_LEVEL) {						\
		struct tsbpf_log_header *__tsbpf_rec = bpf_ringbuf_reserve(&tsbpf_log,	\
			sizeof(struct tsbpf_log_header) + __TSBPF_LOG_FMT_SIZE(fmt)	\
			__TSBPF_LOG_EACH(__TSBPF_LOG_PLUS_SLOT, ##__VA_ARGS__), 0);	\
		if (__tsbpf_rec) {							\
			unsigned int __tsbpf_off = sizeof(struct tsbpf_log_header) +	\
						   __TSBPF_LOG_FMT_SIZE(fmt);		\
			__tsbpf_rec->version = TSBPF_LOG_VERSION;			\
			__tsbpf_rec->level = (lvl);					\
			__tsbpf_rec->nargs = __TSBPF_LOG_NARG(__VA_ARGS__);		\
			__tsbpf_rec->flags = 0;						\
			__tsbpf_rec->fmt_len = sizeof(fmt) - 1;				\
			__tsbpf_rec->fmt_size = __TSBPF_LOG_FMT_SIZE(fmt);		\
			__tsbpf_rec->line = __LINE__;					\
			__tsbpf_rec->reserved = 0;					\
			__TSBPF_LOG_COPY_FMT((__u64 *)(__tsbpf_rec + 1), fmt)	\
			__TSBPF_LOG_EACH(__TSBPF_LOG_WRITE, ##__VA_ARGS__)		\
			(void)__tsbpf_off;						\
			bpf_ringbuf_submit(__tsbpf_rec, 0);				\
		} else {								\
			__tsbpf_ret = -1;						\
		}									\
	}										\
	__tsbpf_ret;									\
})

#define log_error(fmt, ...) tsbpf_log(TSBPF_LOG_LEVEL_ERROR, fmt, ##__VA_ARGS__)
#define log_warn(fmt, ...) tsbpf_log(TSBPF_LOG_LEVEL_WARN, fmt, ##__VA_ARGS__)
#define log_info(fmt, ...) tsbpf_log(TSBPF_LOG_LEVEL_INFO, fmt, ##__VA_ARGS__)
#define log_debug(fmt, ...) tsbpf_log(TSBPF_LOG_LEVEL_DEBUG, fmt, ##__VA_ARGS__)
#define log_trace(fmt, ...) tsbpf_log(TSBPF_LOG_LEVEL_TRACE, fmt, ##__VA_ARGS__)

#endif /* TSBPF_LOG_H */
