/* perf_event_open(attr, pid, cpu, groupFd, flags, name?) -> fd | -errno
 *
 * name: for the kprobe and uprobe PMUs, the function or path string that config1
 * points to (the kernel only reads it); when given, the address of a private copy of
 * it becomes config1.
 *
 * struct perf_event_attr can make the kernel touch the process in ways no buffer
 * length bounds: sigtrap (a signal that kills the process), config1 and bp_addr
 * (addresses), sample_regs/stack_user, aux areas. Only the fields in the table below
 * may be nonzero, each with the bits tsbpf sets (src/sys/perf.ts: counting and
 * sampling software, hardware, tracepoint and probe events); every other byte of attr
 * must be zero. */
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common.h"

/* disabled, inherit, exclude_user, exclude_kernel, exclude_hv, freq, watermark (wakeup_events
 * is then wakeup_watermark, in bytes: perf buffers) */
#define PERF_FLAGS ((1ull << 0) | (1ull << 1) | (1ull << 4) | (1ull << 5) | (1ull << 6) | (1ull << 10) | (1ull << 14))
#define CONFIG1 56
#define PERF_TYPE_MAX 6 /* the first dynamic PMU type (kprobe, uprobe, ...) */

static const struct { uint16_t off, size; uint64_t bits; } perf_fields[] = {
  {0, 4, UINT32_MAX},  /* type */
  {4, 4, UINT32_MAX},  /* size: the addon sets it */
  {8, 8, UINT64_MAX},  /* config */
  {16, 8, UINT64_MAX}, /* sample_period / sample_freq */
  {24, 8, UINT64_MAX}, /* sample_type */
  {40, 8, PERF_FLAGS}, /* the flag bits */
  {48, 4, UINT32_MAX}, /* wakeup_events / wakeup_watermark */
  {64, 8, UINT64_MAX}, /* config2: probe_offset, or kprobe_addr (a kernel address the kernel checks) */
};

/* PERF_FLAG_FD_NO_GROUP, _FD_OUTPUT, _PID_CGROUP, _FD_CLOEXEC */
#define OPEN_FLAGS 0xf

/* NULL when attr (len bytes, zero-padded to a multiple of 8) holds only what the table allows. */
static const char *check_attr(const uint8_t *attr, size_t len) {
  for (size_t off = 0; off < len; off += 8) {
    uint64_t word;
    memcpy(&word, attr + off, 8);
    if (!word) continue;
    for (size_t i = 0; i < sizeof perf_fields / sizeof perf_fields[0]; i++) {
      if (perf_fields[i].off / 8 != off / 8) continue;
      uint64_t field = perf_fields[i].size == 8 ? word : (word >> (8 * (perf_fields[i].off % 8))) & UINT32_MAX;
      uint64_t mask = perf_fields[i].size == 8 ? UINT64_MAX : (uint64_t)UINT32_MAX << (8 * (perf_fields[i].off % 8));
      if (field & ~perf_fields[i].bits) return "perf_event_attr sets bits the addon does not allow (sigtrap, ...)";
      word &= ~mask;
    }
    if (word) return "perf_event_attr sets a field the addon does not allow (config1, bp_addr, sig_data, ...)";
  }
  return NULL;
}

static napi_value js_perf_event_open(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  void *attr_js;
  size_t attr_len;
  int64_t pid, cpu, group, flags;
  /* struct perf_event_attr is 136 bytes in 6.x; the kernel reads attr->size bytes,
   * so we hand it our own zero-padded copy whose size field we control. */
  uint8_t attr[512];

  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) THROW_TYPE(env, "perf_event_open(attr, pid, cpu, groupFd, flags)");
  if (!arg_bytes(env, argv[0], &attr_js, &attr_len, "attr")) return NULL;
  if (attr_len < 8 || attr_len > sizeof attr) THROW_RANGE(env, "attr must be 8..512 bytes");
  if (!arg_int64(env, argv[1], -1, INT32_MAX, &pid, "pid")) return NULL;
  if (!arg_int64(env, argv[2], -1, INT32_MAX, &cpu, "cpu")) return NULL;
  if (!arg_int64(env, argv[3], -1, INT32_MAX, &group, "groupFd")) return NULL;
  if (!arg_int64(env, argv[4], 0, OPEN_FLAGS, &flags, "flags")) return NULL;
  memset(attr, 0, sizeof attr);
  memcpy(attr, attr_js, attr_len);
  const char *why = check_attr(attr, attr_len);
  if (why) THROW_RANGE(env, why);
  char *name = NULL;
  if (argc >= 6) {
    napi_valuetype t;
    napi_typeof(env, argv[5], &t);
    if (t != napi_undefined && t != napi_null) {
      void *buf;
      size_t buf_len;
      uint32_t type;
      memcpy(&type, attr, 4);
      if (!arg_bytes(env, argv[5], &buf, &buf_len, "name")) return NULL;
      if (type < PERF_TYPE_MAX) THROW_RANGE(env, "name is for the kprobe and uprobe PMUs only");
      if (attr_len < CONFIG1 + 8) THROW_RANGE(env, "attr too short for config1");
      name = cstr_copy(buf, buf_len);
      if (!name && errno == ENOMEM) return make_int(env, -ENOMEM);
      if (!name) THROW_RANGE(env, "name must be NUL-terminated");
      uint64_t p = (uint64_t)(uintptr_t)name;
      memcpy(attr + CONFIG1, &p, 8);
    }
  }
  uint32_t size = (uint32_t)attr_len;
  memcpy(attr + 4, &size, 4); /* perf_event_attr.size sits at offset 4 */
  long r = syscall(__NR_perf_event_open, attr, (int)pid, (int)cpu, (int)group, (unsigned long)flags);
  int err = errno;
  free(name);
  if (r >= 0) fds_forget((int)r);
  return make_int(env, r < 0 ? -err : r);
}

napi_value perf_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"perf_event_open", NULL, js_perf_event_open, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, 1, props));
  return exports;
}
