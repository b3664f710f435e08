/* perf_event_open(attr, pid, cpu, groupFd, flags, name?) -> fd | -errno
 *
 * name: for the kprobe and uprobe PMUs, the function or path string that config1
 * points to (the kernel only reads it); when given, its address replaces config1. */
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common.h"

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
  if (!arg_int64(env, argv[4], 0, UINT32_MAX, &flags, "flags")) return NULL;
  memset(attr, 0, sizeof attr);
  memcpy(attr, attr_js, attr_len);
  if (argc >= 6) {
    napi_valuetype t;
    napi_typeof(env, argv[5], &t);
    if (t != napi_undefined && t != napi_null) {
      void *name;
      size_t name_len;
      if (!arg_bytes(env, argv[5], &name, &name_len, "name")) return NULL;
      if (name == NULL || memchr(name, 0, name_len) == NULL) THROW_RANGE(env, "name must be NUL-terminated");
      if (attr_len < 64) THROW_RANGE(env, "attr too short for config1");
      uint64_t p = (uint64_t)(uintptr_t)name;
      memcpy(attr + 56, &p, 8); /* config1 */
    }
  }
  uint32_t size = (uint32_t)attr_len;
  memcpy(attr + 4, &size, 4); /* perf_event_attr.size sits at offset 4 */
  long r = syscall(__NR_perf_event_open, attr, (int)pid, (int)cpu, (int)group, (unsigned long)flags);
  if (r >= 0) map_meta_forget((int)r);
  return make_int(env, r < 0 ? -errno : r);
}

napi_value perf_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"perf_event_open", NULL, js_perf_event_open, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, 1, props));
  return exports;
}
