/* bpf(cmd, attr, ptrMask, ...buffers) -> result | -errno
 *
 * attr is the encoded union bpf_attr (at most 256 bytes). Pointer fields cannot be
 * written from JS (JS has no addresses, and a forged one could make the kernel write
 * anywhere), so JS names them instead: bit i of ptrMask says the 8-byte word i of
 * attr is a pointer, and the k-th set bit takes the address of the k-th buffer
 * argument (null/undefined gives NULL). The call works on a private copy of attr and
 * copies the kernel's output back, leaving the pointer words as JS wrote them. */
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common.h"

#define ATTR_MAX 256
#define MAX_BUFS 8

static napi_value js_bpf(napi_env env, napi_callback_info info) {
  size_t argc = 3 + MAX_BUFS;
  napi_value argv[3 + MAX_BUFS];
  int32_t cmd;
  uint32_t mask = 0;
  void *attr_js;
  size_t attr_len;
  uint64_t attr[ATTR_MAX / 8];

  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) THROW_TYPE(env, "bpf(cmd, attr, ptrMask?, ...buffers)");
  if (napi_get_value_int32(env, argv[0], &cmd) != napi_ok) THROW_TYPE(env, "cmd must be a number");
  if (cmd < 0 || cmd > 255) THROW_RANGE(env, "cmd out of range");
  if (!arg_bytes(env, argv[1], &attr_js, &attr_len, "attr")) return NULL;
  if (attr_len > ATTR_MAX) THROW_RANGE(env, "attr is longer than 256 bytes");
  if (argc >= 3 && napi_get_value_uint32(env, argv[2], &mask) != napi_ok) {
    napi_valuetype t;
    napi_typeof(env, argv[2], &t);
    if (t != napi_undefined) THROW_TYPE(env, "ptrMask must be a number");
    mask = 0;
  }
  memset(attr, 0, sizeof attr);
  if (attr_len) memcpy(attr, attr_js, attr_len);

  size_t next = 3;
  for (uint32_t word = 0; word < 32 && (mask >> word); word++) {
    if (!(mask & (1u << word))) continue;
    if ((word + 1) * 8 > attr_len) THROW_RANGE(env, "ptrMask names a word beyond attr");
    if (next >= 3 + MAX_BUFS) THROW_RANGE(env, "too many pointer words");
    void *p = NULL;
    if (next < argc) {
      size_t len;
      napi_typedarray_type type;
      napi_value ab;
      size_t offset;
      /* Fast path for the usual Uint8Array; anything else goes through arg_bytes. */
      if (napi_get_typedarray_info(env, argv[next], &type, &len, &p, &ab, &offset) == napi_ok && type == napi_uint8_array) {
        if (len == 0) p = NULL;
      } else {
        napi_valuetype t;
        napi_typeof(env, argv[next], &t);
        if (t != napi_undefined && t != napi_null) {
          if (!arg_bytes(env, argv[next], &p, &len, "pointer buffer")) return NULL;
          if (len == 0) p = NULL;
        } else {
          p = NULL;
        }
      }
    }
    attr[word] = (uint64_t)(uintptr_t)p;
    next++;
  }

  long r = syscall(__NR_bpf, cmd, attr, (unsigned int)attr_len);
  int err = r < 0 ? errno : 0;

  /* Copy back what the kernel may have written (counts, ids, retval, ...). */
  if (attr_len) {
    uint8_t *dst = attr_js;
    for (size_t word = 0; word * 8 < attr_len; word++) {
      if (word < 32 && (mask & (1u << word))) continue;
      size_t n = attr_len - word * 8 < 8 ? attr_len - word * 8 : 8;
      memcpy(dst + word * 8, (uint8_t *)attr + word * 8, n);
    }
  }
  return make_int(env, r < 0 ? -err : r);
}

napi_value bpf_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"bpf", NULL, js_bpf, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, 1, props));
  return exports;
}
