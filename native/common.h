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

/* Forget what native/bpf.c learnt about fd: it was closed or handed out anew. */
void map_meta_forget(int fd);
/* True when fd is an anon inode of this kind ("bpf-map", "[perf_event]"). */
bool fd_is_anon_inode(int fd, const char *kind);

napi_value bpf_init(napi_env env, napi_value exports);
napi_value mmap_init(napi_env env, napi_value exports);
napi_value perf_init(napi_env env, napi_value exports);
napi_value net_init(napi_env env, napi_value exports);

#endif
