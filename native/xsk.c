/* xskUmemReg(fd, umem, chunkSize, headroom, flags) -> 0 | -errno
 *
 * AF_XDP's XDP_UMEM_REG: the kernel pins the pages of a user address range and writes
 * received frames there. JS never names an address: the range is the whole of an
 * anonymous mapping the addon made (mmap with MAP_ANONYMOUS) and still holds. Once
 * registered, the pages stay pinned until the socket is released, so unmapping the
 * buffer early frees nothing the kernel still writes. flags: XDP_UMEM_UNALIGNED_CHUNK_FLAG
 * and XDP_UMEM_TX_SW_CSUM only (both change how UMEM contents are read, never what is
 * addressed); tx_metadata_len is 0. The other socket options of AF_XDP are in the
 * table of native/net.c; its rings are mapped by mmap. */
#include <string.h>
#include <sys/socket.h>
#include "common.h"

struct umem_reg { /* struct xdp_umem_reg */
  uint64_t addr;
  uint64_t len;
  uint32_t chunk_size;
  uint32_t headroom;
  uint32_t flags;
  uint32_t tx_metadata_len;
};

static napi_value js_xsk_umem_reg(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int64_t fd, chunk, headroom, flags;
  void *addr;
  size_t len;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) THROW_TYPE(env, "xskUmemReg(fd, umem, chunkSize, headroom, flags)");
  if (!arg_int64(env, argv[0], 0, INT32_MAX, &fd, "fd")) return NULL;
  if (!anonymous_mapping(env, argv[1], &addr, &len)) return NULL;
  if (!arg_int64(env, argv[2], 0, UINT32_MAX, &chunk, "chunkSize")) return NULL;
  if (!arg_int64(env, argv[3], 0, UINT32_MAX, &headroom, "headroom")) return NULL;
  if (!arg_int64(env, argv[4], 0, 3, &flags, "flags")) return NULL;
  struct umem_reg mr;
  memset(&mr, 0, sizeof mr);
  mr.addr = (uint64_t)(uintptr_t)addr;
  mr.len = len;
  mr.chunk_size = (uint32_t)chunk;
  mr.headroom = (uint32_t)headroom;
  mr.flags = (uint32_t)flags;
  int r = setsockopt((int)fd, 283 /* SOL_XDP */, 4 /* XDP_UMEM_REG */, &mr, sizeof mr);
  return make_int(env, r == 0 ? 0 : -errno);
}

napi_value xsk_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"xskUmemReg", NULL, js_xsk_umem_reg, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}
