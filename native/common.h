/* Shared helpers of the tsbpf addon. The addon is deliberately dumb: it checks the
 * type and range of every argument (no JS value may crash the process) and makes
 * the system call; all encoding and policy live in src/sys/. Failures of the
 * system call come back as -errno, never as exceptions, so the hot path stays cheap;
 * misuse of the addon itself (wrong argument types) throws TypeError/RangeError. */
#ifndef TSBPF_COMMON_H
#define TSBPF_COMMON_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <node_api.h>
#include <unistd.h>

#define CHECK_NAPI(env, call)                                   \
  do {                                                          \
    if ((call) != napi_ok) {                                    \
      napi_throw_error((env), "ERR_TSBPF_NATIVE", #call " failed"); \
      return NULL;                                              \
    }                                                           \
  } while (0)

/* Throws and returns NULL from the calling function. */
#define THROW_TYPE(env, msg) \
  do { napi_throw_type_error((env), "ERR_INVALID_ARG_TYPE", (msg)); return NULL; } while (0)
#define THROW_RANGE(env, msg) \
  do { napi_throw_range_error((env), "ERR_OUT_OF_RANGE", (msg)); return NULL; } while (0)

/* Reads a JS number that must be an integer in [min, max]. */
bool arg_int64(napi_env env, napi_value v, int64_t min, int64_t max, int64_t *out, const char *what);
/* arg_int64 with one N-API call on the good path (the hot path's integers). */
bool arg_small(napi_env env, napi_value v, int64_t min, int64_t max, int64_t *out, const char *what);
/* Reads a TypedArray or DataView: data pointer (after byte offset) and byte length. */
bool arg_bytes(napi_env env, napi_value v, void **data, size_t *len, const char *what);
napi_value make_int(napi_env env, int64_t v);

/* The per-call path of bpfElem and close (native/fast.cc, bpf.c, fds.c) is marked hot:
 * the compiler puts it in .text.hot, so its functions share a page or two. Where the
 * kernel flushes the TLB on every system call (page-table isolation without PCID, as
 * on the test VM), each page user space touches per call costs a page walk after the
 * call returns. */
#define HOT __attribute__((hot))

/* A system call made in line: 0.. or -errno, no errno and no libc page touched (see
 * HOT). x86-64 only; elsewhere libc's syscall(). */
static inline long raw_syscall3(long nr, long a, long b, long c) {
#if defined(__x86_64__)
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
#else
  long r = syscall(nr, a, b, c);
  return r < 0 ? -errno : r;
#endif
}

/* What native/fds.c knows about descriptors, and the lock that keeps it true. */
enum fd_lock_mode { FD_LOCK_NONE, FD_LOCK_SHARED, FD_LOCK_EXCLUSIVE };
HOT void fds_lock(enum fd_lock_mode mode);
HOT void fds_unlock(enum fd_lock_mode mode);
/* Forget what was learnt about fd: it was closed or handed out anew. */
HOT void fds_forget(int fd);
struct map_sizes {
  uint32_t key_size;
  uint32_t value_size;
  bool percpu;
};
/* The key and value sizes of the map at fd (cached; call with the lock held shared
 * or exclusively). 0, or -errno when the kernel has no BPF object at fd. */
HOT int map_sizes(int fd, struct map_sizes *out);
/* BPF_OBJ_GET_INFO_BY_FD into a zeroed private buffer. 0 | -errno */
int bpf_obj_info(int fd, void *info, uint32_t len);
/* Possible CPUs as the kernel counts them for per-CPU values; 0 when unknown. */
int possible_cpus(void);
/* True when fd_is_prog can answer on this kernel (5.10+). */
bool prog_kind_known(void);
bool fd_is_prog(int fd);
bool fd_is_perf_event(int fd);
/* A private NUL-terminated copy of the string at the start of buf (len bytes), for the
 * kernel to read: JS memory can change under the kernel (a SharedArrayBuffer written
 * by another thread) and lose its NUL. NULL when buf holds no NUL; NULL with errno
 * ENOMEM when out of memory. free() it. */
char *cstr_copy(const void *buf, size_t len);

/* An element command over io (native/bpf.c): NULL with *result, or why it was refused. */
HOT const char *bpf_elem_call(int cmd, uint8_t *io, size_t io_len, uint32_t attr_len, uint32_t mask, int32_t *result);
/* The memory of an ArrayBuffer that mmap made with MAP_ANONYMOUS and that is still
 * mapped (not detached): true, or false with a TypeError/RangeError thrown. */
bool anonymous_mapping(napi_env env, napi_value v, void **addr, size_t *len);
napi_value xsk_init(napi_env env, napi_value exports);
napi_value fast_init(napi_env env, napi_value exports);
napi_value bpf_init(napi_env env, napi_value exports);
napi_value mmap_init(napi_env env, napi_value exports);
napi_value perf_init(napi_env env, napi_value exports);
napi_value net_init(napi_env env, napi_value exports);
napi_value poll_init(napi_env env, napi_value exports);

#endif
