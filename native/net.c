/* Sockets for the attach paths: netlink (XDP and tc without links), socket options
 * (SO_ATTACH_BPF and friends) and interface names. Each call passes JS buffers with
 * their own lengths, so the kernel never reads or writes past them; socket options
 * are the ones in the table below only. */
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common.h"

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *usage) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  if (argc < want) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return -1;
  }
  return 0;
}

/* socket(domain, type, protocol) -> fd | -errno (always SOCK_CLOEXEC) */
static napi_value js_socket(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int64_t domain, type, proto;
  if (get_args(env, info, 3, argv, "socket(domain, type, protocol)")) return NULL;
  if (!arg_int64(env, argv[0], 0, 64, &domain, "domain")) return NULL;
  if (!arg_int64(env, argv[1], 0, INT32_MAX, &type, "type")) return NULL;
  if (!arg_int64(env, argv[2], 0, INT32_MAX, &proto, "protocol")) return NULL;
  int fd = socket((int)domain, (int)type | SOCK_CLOEXEC, (int)proto);
  if (fd >= 0) fds_forget(fd);
  return make_int(env, fd < 0 ? -errno : fd);
}

/* bind(fd, sockaddr) -> 0 | -errno */
static napi_value js_bind(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t fd;
  void *addr;
  size_t len;
  if (get_args(env, info, 2, argv, "bind(fd, sockaddr)")) return NULL;
  if (!arg_int64(env, argv[0], 0, INT32_MAX, &fd, "fd")) return NULL;
  if (!arg_bytes(env, argv[1], &addr, &len, "sockaddr")) return NULL;
  if (addr == NULL || len > 128) THROW_RANGE(env, "sockaddr must be 1..128 bytes");
  return make_int(env, bind((int)fd, addr, (socklen_t)len) == 0 ? 0 : -errno);
}

/* send(fd, buffer, flags) -> bytes sent | -errno */
static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int64_t fd, flags;
  void *buf;
  size_t len;
  if (get_args(env, info, 3, argv, "send(fd, buffer, flags)")) return NULL;
  if (!arg_int64(env, argv[0], 0, INT32_MAX, &fd, "fd")) return NULL;
  if (!arg_bytes(env, argv[1], &buf, &len, "buffer")) return NULL;
  if (!arg_int64(env, argv[2], 0, INT32_MAX, &flags, "flags")) return NULL;
  ssize_t r = send((int)fd, buf, len, (int)flags | MSG_NOSIGNAL);
  return make_int(env, r < 0 ? -errno : r);
}

/* recv(fd, buffer, flags) -> bytes received (may exceed the buffer with MSG_TRUNC) | -errno */
static napi_value js_recv(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int64_t fd, flags;
  void *buf;
  size_t len;
  if (get_args(env, info, 3, argv, "recv(fd, buffer, flags)")) return NULL;
  if (!arg_int64(env, argv[0], 0, INT32_MAX, &fd, "fd")) return NULL;
  if (!arg_bytes(env, argv[1], &buf, &len, "buffer")) return NULL;
  if (!arg_int64(env, argv[2], 0, INT32_MAX, &flags, "flags")) return NULL;
  ssize_t r = recv((int)fd, buf, len, (int)flags);
  return make_int(env, r < 0 ? -errno : r);
}

/* The socket options tsbpf uses, with the size of their value. Others may carry user
 * pointers the kernel follows (TCP_ZEROCOPY_RECEIVE, SO_ATTACH_FILTER's sock_fprog,
 * PACKET_RX_RING, ...). */
enum { SET = 1, GET = 2 };
static const struct { int level, name; uint8_t size, dir; } sockopts[] = {
  {1 /* SOL_SOCKET */, 27 /* SO_DETACH_BPF */, 4, SET},
  {1, 50 /* SO_ATTACH_BPF: a program fd */, 4, SET},
  {1, 52 /* SO_ATTACH_REUSEPORT_EBPF */, 4, SET},
  {1, 68 /* SO_DETACH_REUSEPORT_BPF */, 4, SET},
  {1, 20 /* SO_RCVTIMEO_OLD: struct __kernel_old_timeval */, 16, SET | GET},
  {1, 57 /* SO_COOKIE: u64 */, 8, GET},
  {1, 15 /* SO_REUSEPORT: the sockets SkReuseport picks from (Node 20's dgram cannot set it) */, 4, SET | GET},
  {270 /* SOL_NETLINK */, 10 /* NETLINK_CAP_ACK */, 4, SET | GET},
  {270, 11 /* NETLINK_EXT_ACK */, 4, SET | GET},
  /* AF_XDP (SOL_XDP): ring sizes, and what the kernel reports. XDP_UMEM_REG carries a
   * user address: native/xsk.c. */
  {283, 1 /* XDP_MMAP_OFFSETS: struct xdp_mmap_offsets */, 128, GET},
  {283, 2 /* XDP_RX_RING */, 4, SET},
  {283, 3 /* XDP_TX_RING */, 4, SET},
  {283, 5 /* XDP_UMEM_FILL_RING */, 4, SET},
  {283, 6 /* XDP_UMEM_COMPLETION_RING */, 4, SET},
  {283, 7 /* XDP_STATISTICS: struct xdp_statistics */, 48, GET},
  {283, 8 /* XDP_OPTIONS: struct xdp_options */, 4, GET},
};

/* The value size of (level, name) in direction dir; 0 (and a RangeError) when not allowed. */
static size_t sockopt_size(napi_env env, int64_t level, int64_t name, int dir) {
  for (size_t i = 0; i < sizeof sockopts / sizeof sockopts[0]; i++)
    if (sockopts[i].level == level && sockopts[i].name == name && (sockopts[i].dir & dir)) return sockopts[i].size;
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "this socket option is not supported by the addon");
  return 0;
}

/* setsockopt(fd, level, name, value): value is an int (passed as a 4-byte int) or a
 * buffer of at least the option's size. -> 0 | -errno */
static napi_value js_setsockopt(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int64_t fd, level, name, ival;
  napi_valuetype t;
  if (get_args(env, info, 4, argv, "setsockopt(fd, level, name, value)")) return NULL;
  if (!arg_int64(env, argv[0], 0, INT32_MAX, &fd, "fd")) return NULL;
  if (!arg_int64(env, argv[1], 0, INT32_MAX, &level, "level")) return NULL;
  if (!arg_int64(env, argv[2], 0, INT32_MAX, &name, "name")) return NULL;
  size_t size = sockopt_size(env, level, name, SET);
  if (!size) return NULL;
  napi_typeof(env, argv[3], &t);
  int r;
  if (t == napi_number) {
    if (size != sizeof(int)) THROW_TYPE(env, "this socket option takes a buffer");
    if (!arg_int64(env, argv[3], INT32_MIN, INT32_MAX, &ival, "value")) return NULL;
    int v = (int)ival;
    r = setsockopt((int)fd, (int)level, (int)name, &v, sizeof v);
  } else {
    void *buf;
    size_t len;
    if (!arg_bytes(env, argv[3], &buf, &len, "value")) return NULL;
    if (buf == NULL || len < size) THROW_RANGE(env, "value is shorter than the socket option");
    r = setsockopt((int)fd, (int)level, (int)name, buf, (socklen_t)size);
  }
  return make_int(env, r == 0 ? 0 : -errno);
}

/* getsockopt(fd, level, name, buffer): buffer of at least the option's size. -> length written | -errno */
static napi_value js_getsockopt(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int64_t fd, level, name;
  void *buf;
  size_t len;
  if (get_args(env, info, 4, argv, "getsockopt(fd, level, name, buffer)")) return NULL;
  if (!arg_int64(env, argv[0], 0, INT32_MAX, &fd, "fd")) return NULL;
  if (!arg_int64(env, argv[1], 0, INT32_MAX, &level, "level")) return NULL;
  if (!arg_int64(env, argv[2], 0, INT32_MAX, &name, "name")) return NULL;
  size_t size = sockopt_size(env, level, name, GET);
  if (!size) return NULL;
  if (!arg_bytes(env, argv[3], &buf, &len, "buffer")) return NULL;
  if (buf == NULL || len < size) THROW_RANGE(env, "buffer is shorter than the socket option");
  socklen_t sl = (socklen_t)size;
  int r = getsockopt((int)fd, (int)level, (int)name, buf, &sl);
  return make_int(env, r == 0 ? (int64_t)sl : -errno);
}

/* ifNameToIndex(name) -> ifindex | 0 when there is no such interface */
static napi_value js_if_nametoindex(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char name[IF_NAMESIZE + 1];
  size_t len;
  napi_valuetype t;
  if (get_args(env, info, 1, argv, "ifNameToIndex(name)")) return NULL;
  napi_typeof(env, argv[0], &t);
  if (t != napi_string) THROW_TYPE(env, "name must be a string");
  napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len);
  if (len >= IF_NAMESIZE) return make_int(env, 0); /* too long to name an interface */
  return make_int(env, if_nametoindex(name));
}

/* ifIndexToName(index) -> name | undefined */
static napi_value js_if_indextoname(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  int64_t index;
  char name[IF_NAMESIZE];
  if (get_args(env, info, 1, argv, "ifIndexToName(index)")) return NULL;
  if (!arg_int64(env, argv[0], 0, UINT32_MAX, &index, "index")) return NULL;
  if (if_indextoname((unsigned)index, name) == NULL) {
    napi_get_undefined(env, &result);
    return result;
  }
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &result);
  return result;
}

napi_value net_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"socket", NULL, js_socket, NULL, NULL, NULL, napi_enumerable, NULL},
    {"bind", NULL, js_bind, NULL, NULL, NULL, napi_enumerable, NULL},
    {"send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
    {"recv", NULL, js_recv, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setsockopt", NULL, js_setsockopt, NULL, NULL, NULL, napi_enumerable, NULL},
    {"getsockopt", NULL, js_getsockopt, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ifNameToIndex", NULL, js_if_nametoindex, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ifIndexToName", NULL, js_if_indextoname, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}
