/* Entry point: joins the per-concern files and the small fd/rlimit calls. */
#define _GNU_SOURCE /* setns, CLONE_NEWNET */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common.h"

bool arg_int64(napi_env env, napi_value v, int64_t min, int64_t max, int64_t *out, const char *what) {
  napi_valuetype t;
  double d;
  char msg[160];
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    snprintf(msg, sizeof msg, "%s must be a number", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return false;
  }
  napi_get_value_double(env, v, &d);
  /* NaN fails both comparisons; the cast below is only done on integral values in range. */
  if (!(d >= (double)min && d <= (double)max) || d != (double)(int64_t)d) {
    snprintf(msg, sizeof msg, "%s must be an integer in [%lld, %lld]", what, (long long)min, (long long)max);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

/* Reads an integer argument in [min, max]: one N-API call on the good path; arg_int64
 * makes the error otherwise. */
bool arg_small(napi_env env, napi_value v, int64_t min, int64_t max, int64_t *out, const char *what) {
  double d;
  if (napi_get_value_double(env, v, &d) == napi_ok && d >= (double)min && d <= (double)max && d == (double)(int64_t)d) {
    *out = (int64_t)d;
    return true;
  }
  return arg_int64(env, v, min, max, out, what);
}

bool arg_bytes(napi_env env, napi_value v, void **data, size_t *len, const char *what) {
  napi_typedarray_type type;
  size_t length, offset;
  napi_value ab;
  char msg[160];
  /* Fast path: one call that fails with napi_invalid_arg for anything but a TypedArray. */
  if (napi_get_typedarray_info(env, v, &type, &length, data, &ab, &offset) == napi_ok) {
    size_t elem;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: elem = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
      default: elem = 1;
    }
    *len = length * elem;
    /* A detached buffer reports a NULL pointer and zero length; treat it as empty. */
    if (*data == NULL) *len = 0;
    return true;
  }
  bool is = false;
  if (napi_is_dataview(env, v, &is) == napi_ok && is &&
      napi_get_dataview_info(env, v, len, data, &ab, &offset) == napi_ok) {
    if (*data == NULL) *len = 0;
    return true;
  }
  snprintf(msg, sizeof msg, "%s must be a TypedArray or DataView", what);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return false;
}

napi_value make_int(napi_env env, int64_t v) {
  napi_value r;
  /* int32 becomes a V8 small integer directly; most results (fds, -errno, 0) are. */
  if (v >= INT32_MIN && v <= INT32_MAX) napi_create_int32(env, (int32_t)v, &r);
  else napi_create_int64(env, v, &r);
  return r;
}

char *cstr_copy(const void *buf, size_t len) {
  const char *nul = buf ? memchr(buf, 0, len) : NULL;
  if (!nul) {
    errno = EINVAL;
    return NULL;
  }
  size_t n = (size_t)(nul - (const char *)buf) + 1;
  char *copy = malloc(n);
  if (copy) memcpy(copy, buf, n);
  return copy;
}

/* The ioctl requests tsbpf makes, with what their argument is. A number is never
 * passed where the kernel expects a pointer, and a buffer is always long enough. */
enum ioctl_arg { ARG_INT, ARG_BUF, ARG_CSTR };
static const struct { uint32_t request; enum ioctl_arg arg; uint32_t size; } ioctls[] = {
  {0x2400, ARG_INT, 0},     /* PERF_EVENT_IOC_ENABLE */
  {0x2401, ARG_INT, 0},     /* PERF_EVENT_IOC_DISABLE */
  {0x2402, ARG_INT, 0},     /* PERF_EVENT_IOC_REFRESH */
  {0x2403, ARG_INT, 0},     /* PERF_EVENT_IOC_RESET */
  {0x40082404, ARG_BUF, 8}, /* PERF_EVENT_IOC_PERIOD: reads a u64 */
  {0x2405, ARG_INT, 0},     /* PERF_EVENT_IOC_SET_OUTPUT: an fd */
  {0x40082406, ARG_CSTR, 0},/* PERF_EVENT_IOC_SET_FILTER: reads a string */
  {0x80082407, ARG_BUF, 8}, /* PERF_EVENT_IOC_ID: writes a u64 */
  {0x40042408, ARG_INT, 0}, /* PERF_EVENT_IOC_SET_BPF: a program fd */
  {0x40042409, ARG_INT, 0}, /* PERF_EVENT_IOC_PAUSE_OUTPUT */
};

/* ioctl(fd, request, arg?) -> result | -errno, for the requests in the table above. */
static napi_value js_ioctl(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int64_t fd, req, iarg = 0;
  napi_valuetype t = napi_undefined;
  void *ptr = NULL;
  size_t len = 0;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) THROW_TYPE(env, "ioctl(fd, request, arg?)");
  if (!arg_int64(env, argv[0], 0, INT32_MAX, &fd, "fd")) return NULL;
  if (!arg_int64(env, argv[1], 0, UINT32_MAX, &req, "request")) return NULL;
  int kind = -1;
  uint32_t size = 0;
  for (size_t i = 0; i < sizeof ioctls / sizeof ioctls[0]; i++) {
    if (ioctls[i].request == (uint32_t)req) {
      kind = ioctls[i].arg;
      size = ioctls[i].size;
    }
  }
  if (kind < 0) THROW_RANGE(env, "ioctl request not supported by the addon");
  if (argc >= 3) napi_typeof(env, argv[2], &t);
  long r;
  if (kind == ARG_INT) {
    if (t != napi_undefined && t != napi_number) THROW_TYPE(env, "this ioctl takes an integer argument");
    if (t == napi_number && !arg_int64(env, argv[2], INT32_MIN, INT32_MAX, &iarg, "arg")) return NULL;
    r = ioctl((int)fd, (unsigned long)req, (unsigned long)(long)iarg);
  } else {
    if (t == napi_undefined || t == napi_null || t == napi_number) THROW_TYPE(env, "this ioctl takes a buffer argument");
    if (!arg_bytes(env, argv[2], &ptr, &len, "arg")) return NULL;
    if (ptr == NULL || len < size) THROW_RANGE(env, "ioctl buffer is shorter than the request reads or writes");
    if (kind == ARG_CSTR) {
      char *s = cstr_copy(ptr, len);
      if (!s && errno == ENOMEM) return make_int(env, -ENOMEM);
      if (!s) THROW_RANGE(env, "ioctl string is not NUL-terminated");
      r = ioctl((int)fd, (unsigned long)req, s);
      int err = errno;
      free(s);
      errno = err;
    } else {
      r = ioctl((int)fd, (unsigned long)req, ptr);
    }
  }
  return make_int(env, r < 0 ? -errno : r);
}

/* The limits tsbpf sets: RLIMIT_MEMLOCK, which charged BPF maps before 5.11. Others
 * could stop the process (RLIMIT_CPU, RLIMIT_NOFILE 0, RLIMIT_AS, ...). */
static const int settable_rlimits[] = {RLIMIT_MEMLOCK};

/* setrlimit(resource, cur, max): cur/max are numbers or -1 for RLIM_INFINITY. -> 0 | -errno */
static napi_value js_setrlimit(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int64_t res, cur, max;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) THROW_TYPE(env, "setrlimit(resource, cur, max)");
  if (!arg_int64(env, argv[0], 0, 64, &res, "resource")) return NULL;
  bool settable = false;
  for (size_t i = 0; i < sizeof settable_rlimits / sizeof settable_rlimits[0]; i++) settable |= settable_rlimits[i] == res;
  if (!settable) THROW_RANGE(env, "setrlimit: only RLIMIT_MEMLOCK");
  if (!arg_int64(env, argv[1], -1, INT64_MAX / 2, &cur, "cur")) return NULL;
  if (!arg_int64(env, argv[2], -1, INT64_MAX / 2, &max, "max")) return NULL;
  struct rlimit rl = {
    .rlim_cur = cur < 0 ? RLIM_INFINITY : (rlim_t)cur,
    .rlim_max = max < 0 ? RLIM_INFINITY : (rlim_t)max,
  };
  return make_int(env, setrlimit((int)res, &rl) == 0 ? 0 : -errno);
}

/* getrlimit(resource) -> [cur, max] (-1 for infinity) | -errno */
static napi_value js_getrlimit(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], arr;
  int64_t res;
  struct rlimit rl;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) THROW_TYPE(env, "getrlimit(resource)");
  if (!arg_int64(env, argv[0], 0, 64, &res, "resource")) return NULL;
  if (getrlimit((int)res, &rl) != 0) return make_int(env, -errno);
  CHECK_NAPI(env, napi_create_array_with_length(env, 2, &arr));
  napi_set_element(env, arr, 0, make_int(env, rl.rlim_cur == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_cur));
  napi_set_element(env, arr, 1, make_int(env, rl.rlim_max == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_max));
  return arr;
}

/* possibleCpus() -> the count the addon sizes per-CPU values with (0 when unknown); the
 * library's only reading of /sys/devices/system/cpu/possible. */
static napi_value js_possible_cpus(napi_env env, napi_callback_info info) {
  (void)info;
  return make_int(env, possible_cpus());
}

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same number on every architecture (5.3) */
#endif

/* pidfdOpen(pid, flags) -> a pidfd (always close-on-exec) | -errno. Flags go to the
 * kernel as they are: it refuses the ones it does not know. */
static napi_value js_pidfd_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int64_t pid, flags;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) THROW_TYPE(env, "pidfdOpen(pid, flags)");
  if (!arg_int64(env, argv[0], INT32_MIN, INT32_MAX, &pid, "pid")) return NULL;
  if (!arg_int64(env, argv[1], 0, UINT32_MAX, &flags, "flags")) return NULL;
  long fd = syscall(SYS_pidfd_open, (int)pid, (unsigned int)flags);
  if (fd < 0) return make_int(env, -errno);
  fds_forget((int)fd);
  return make_int(env, fd);
}

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

/* setnsNet(fd) -> 0 | -errno: moves the calling thread into the network namespace `fd`
 * names. Only a network namespace file is taken (nsfs, CLONE_NEWNET): never a pidfd,
 * which setns would read as every namespace of that process. */
static napi_value js_setns_net(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t fd;
  struct statfs fs;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) THROW_TYPE(env, "setnsNet(fd)");
  if (!arg_int64(env, argv[0], INT32_MIN, INT32_MAX, &fd, "fd")) return NULL;
  if (fd < 0) return make_int(env, -EBADF);
  if (fstatfs((int)fd, &fs) < 0) return make_int(env, -errno);
  if ((unsigned long)fs.f_type != NSFS_MAGIC) return make_int(env, -EINVAL);
  if (setns((int)fd, CLONE_NEWNET) < 0) return make_int(env, -errno);
  return make_int(env, 0);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"ioctl", NULL, js_ioctl, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setrlimit", NULL, js_setrlimit, NULL, NULL, NULL, napi_enumerable, NULL},
    {"getrlimit", NULL, js_getrlimit, NULL, NULL, NULL, napi_enumerable, NULL},
    {"possibleCpus", NULL, js_possible_cpus, NULL, NULL, NULL, napi_enumerable, NULL},
    {"pidfdOpen", NULL, js_pidfd_open, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setnsNet", NULL, js_setns_net, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  if (!bpf_init(env, exports) || !mmap_init(env, exports) || !perf_init(env, exports) ||
      !net_init(env, exports) || !poll_init(env, exports) || !xsk_init(env, exports) || !fast_init(env, exports))
    return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
