/* mmap(fd, length, prot, flags, offset) -> ArrayBuffer | -errno
 * munmap(arrayBuffer) -> 0 | -errno
 *
 * The mapping is handed to JS as an external ArrayBuffer. munmap detaches it first,
 * so JS can never touch unmapped memory; a mapping JS forgets is unmapped when the
 * ArrayBuffer is collected. Only buffers made here can be unmapped: each carries a
 * record, found through a type-tagged wrapper, so a foreign ArrayBuffer is refused.
 *
 * mmapRing(fd, length, offset) -> ArrayBuffer | -errno
 * The part of an event ring that user space may only read, where the kernel writes its
 * records: a BPF ring buffer's producer page and data (from the second page, PROT_READ;
 * the kernel maps the data twice in a row so that a record that wraps is contiguous), a
 * user ring buffer's consumer page (the first, PROT_READ), a perf event's ring (from the
 * first page, read-write so that the kernel honours the tail user space publishes, but
 * its data pages fault on write). V8 has no read-only ArrayBuffer: this is the one
 * buffer the addon makes that JS must only read; a write faults, as a write through
 * libbpf's const pointer would. mmap's buffers never fault.
 *
 * An AF_XDP socket's rings (RX, TX, fill, completion) are mapped by mmap too: the
 * kernel backs the whole ring and checks the length, and user space writes its
 * producer and consumer indexes and descriptors there. Anonymous mappings are marked,
 * so that native/xsk.c registers only such memory as a UMEM. */
#include "abi.h"
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common.h"

struct mapping {
  void *addr;
  size_t len;
  bool unmapped;
  bool finalized;
  bool anonymous;
};

static const napi_type_tag mapping_tag = {0x74736270662d6d6dULL, 0x6170706564627566ULL};

static void mapping_release(struct mapping *m) {
  if (!m->unmapped) {
    munmap(m->addr, m->len);
    m->unmapped = true;
  }
}

/* Runs when the ArrayBuffer's backing store goes away (after GC). */
static void backing_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)data;
  struct mapping *m = hint;
  mapping_release(m);
  if (m->finalized) free(m); else m->finalized = true;
}

/* Runs when the wrapper link (napi_wrap) on the ArrayBuffer object goes away. */
static void wrap_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  struct mapping *m = data;
  if (m->finalized) free(m); else m->finalized = true;
}

/* Maps fd only if it is memory that cannot fault under JS: a BPF map (the kernel
 * checks the length against the map; programs, links and BTF have no mmap) or the
 * first page of a perf event's ring: the kernel maps its data pages read-only and a
 * write there raises SIGBUS, and V8 has no read-only ArrayBuffer. A file could SIGBUS
 * past its end. An arena created with BPF_F_SEGV_ON_FAULT faults by design: refused. The kind is asked of the kernel on a duplicate of fd, so
 * that the object mapped is the one checked even if fd is closed and its number reused
 * meanwhile; the exclusive lock keeps the duplicate's number from being taken for a
 * map fd that another thread is checking. MAP_FAILED with errno, or NULL with *why. */
/* True when fd is an AF_XDP socket. */
static bool fd_is_xsk(int fd) {
  int domain = 0;
  socklen_t len = sizeof domain;
  return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == 44 /* AF_XDP */;
}

static void *map_object(int fd, size_t len, int prot, int flags, off_t off, bool ring, const char **why) {
  fds_lock(FD_LOCK_EXCLUSIVE);
  void *addr = MAP_FAILED;
  int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) {
    fds_unlock(FD_LOCK_EXCLUSIVE);
    return MAP_FAILED;
  }
  fds_forget(dup);
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  uint8_t info[24]; /* struct bpf_map_info: map_flags @20 */
  if (bpf_obj_info(dup, info, sizeof info) == 0) {
    uint32_t map_flags, type;
    memcpy(&map_flags, info + 20, 4);
    memcpy(&type, info + MAP_INFO_TYPE_OFF, 4);
    if (map_flags & (1u << 17)) *why = "an arena with BPF_F_SEGV_ON_FAULT cannot be mapped into JS";
    else if (ring && type == MAP_TYPE_RINGBUF) {
      if ((size_t)off != page) *why = "a ring buffer's read-only part starts at its second page";
      prot = PROT_READ;
    } else if (ring && type == MAP_TYPE_USER_RINGBUF) {
      if (off != 0 || len != page) *why = "a user ring buffer's read-only part is its first page";
      prot = PROT_READ;
    } else if (ring) {
      *why = "fd must be a ring buffer, user ring buffer or perf event";
    }
  } else if (fd_is_xsk(dup)) {
    /* XDP_PGOFF_RX_RING, XDP_PGOFF_TX_RING, XDP_UMEM_PGOFF_FILL_RING, XDP_UMEM_PGOFF_COMPLETION_RING */
    if (ring) *why = "fd must be a ring buffer, user ring buffer or perf event";
    else if (off != 0 && off != 0x80000000LL && off != 0x100000000LL && off != 0x180000000LL)
      *why = "an AF_XDP socket's rings are at XDP_PGOFF_RX_RING, XDP_PGOFF_TX_RING, XDP_UMEM_PGOFF_FILL_RING and XDP_UMEM_PGOFF_COMPLETION_RING";
    /* A private copy of the ring would not be the ring the kernel reads. */
    else if (!(flags & MAP_SHARED) || (flags & MAP_PRIVATE)) *why = "an AF_XDP socket's rings are mapped MAP_SHARED";
  } else if (!fd_is_perf_event(dup)) {
    *why = ring ? "fd must be a ring buffer, user ring buffer or perf event" : "fd must be a BPF map or perf event";
  } else if (off != 0) {
    *why = "a perf event's ring is mapped from its first page (no aux area)";
  } else if (!ring && len > page) {
    *why = "a perf event's ring data is read-only to user space (a write raises SIGBUS): mmap maps its first page only, mmapRing the whole ring";
  }
  if (!*why) addr = mmap(NULL, len, prot, flags, dup, off);
  int err = errno;
  close(dup);
  fds_unlock(FD_LOCK_EXCLUSIVE);
  errno = err;
  return addr;
}

static napi_value make_mapping(napi_env env, void *addr, size_t len, bool anonymous);

static napi_value js_mmap(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int64_t fd, len, prot, flags, off;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) THROW_TYPE(env, "mmap(fd, length, prot, flags, offset)");
  if (!arg_int64(env, argv[0], -1, INT32_MAX, &fd, "fd")) return NULL;
  if (!arg_int64(env, argv[1], 1, (int64_t)1 << 40, &len, "length")) return NULL;
  if (!arg_int64(env, argv[2], 0, PROT_READ | PROT_WRITE, &prot, "prot")) return NULL;
  if (!arg_int64(env, argv[3], 0, INT32_MAX, &flags, "flags")) return NULL;
  if (!arg_int64(env, argv[4], 0, (int64_t)1 << 46, &off, "offset")) return NULL;
  /* V8 has no read-only ArrayBuffer: a page JS cannot write (or read) would fault. */
  if (prot != (PROT_READ | PROT_WRITE)) THROW_RANGE(env, "prot must be PROT_READ | PROT_WRITE");
  /* Only plain mappings: MAP_FIXED could replace live memory. */
  if (flags & ~(MAP_SHARED | MAP_PRIVATE | MAP_POPULATE | MAP_NORESERVE | MAP_ANONYMOUS))
    THROW_RANGE(env, "unsupported mmap flags");
  long page = sysconf(_SC_PAGESIZE);
  if (off % page) THROW_RANGE(env, "offset must be a multiple of the page size");
  void *addr;
  if (flags & MAP_ANONYMOUS) {
    if (fd != -1) THROW_RANGE(env, "MAP_ANONYMOUS takes fd -1");
    addr = mmap(NULL, (size_t)len, (int)prot, (int)flags, -1, (off_t)off);
  } else {
    if (fd < 0) THROW_RANGE(env, "fd must be a BPF map or perf event");
    const char *why = NULL;
    addr = map_object((int)fd, (size_t)len, (int)prot, (int)flags, (off_t)off, false, &why);
    if (why) THROW_RANGE(env, why);
  }
  if (addr == MAP_FAILED) return make_int(env, -errno);
  return make_mapping(env, addr, (size_t)len, (flags & MAP_ANONYMOUS) != 0);
}

static napi_value js_mmap_ring(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int64_t fd, len, off;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) THROW_TYPE(env, "mmapRing(fd, length, offset)");
  if (!arg_int64(env, argv[0], 0, INT32_MAX, &fd, "fd")) return NULL;
  if (!arg_int64(env, argv[1], 1, (int64_t)1 << 40, &len, "length")) return NULL;
  if (!arg_int64(env, argv[2], 0, (int64_t)1 << 46, &off, "offset")) return NULL;
  if (off % sysconf(_SC_PAGESIZE)) THROW_RANGE(env, "offset must be a multiple of the page size");
  const char *why = NULL;
  void *addr = map_object((int)fd, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, (off_t)off, true, &why);
  if (why) THROW_RANGE(env, why);
  if (addr == MAP_FAILED) return make_int(env, -errno);
  return make_mapping(env, addr, (size_t)len, false);
}

static napi_value make_mapping(napi_env env, void *addr, size_t len, bool anonymous) {
  napi_value ab;
  struct mapping *m = calloc(1, sizeof *m);
  if (!m) { munmap(addr, (size_t)len); return make_int(env, -ENOMEM); }
  m->addr = addr;
  m->len = (size_t)len;
  m->anonymous = anonymous;
  if (napi_create_external_arraybuffer(env, addr, (size_t)len, backing_finalize, m, &ab) != napi_ok) {
    /* Longer than an ArrayBuffer may be in this Node (4 GiB in Node 20): an argument
     * out of range, whatever the engine threw. */
    napi_value pending;
    bool is_pending = false;
    if (napi_is_exception_pending(env, &is_pending) == napi_ok && is_pending) napi_get_and_clear_last_exception(env, &pending);
    munmap(addr, (size_t)len);
    free(m);
    THROW_RANGE(env, "length is more than an ArrayBuffer can hold");
  }
  if (napi_type_tag_object(env, ab, &mapping_tag) != napi_ok ||
      napi_wrap(env, ab, m, wrap_finalize, NULL, NULL) != napi_ok) {
    /* The backing finalizer still owns the mapping and will unmap it. */
    m->finalized = true;
    napi_throw_error(env, "ERR_TSBPF_NATIVE", "cannot tag mapping");
    return NULL;
  }
  return ab;
}

static napi_value js_munmap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool ok = false;
  void *data;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) THROW_TYPE(env, "munmap(arrayBuffer)");
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  if (t != napi_object || napi_check_object_type_tag(env, argv[0], &mapping_tag, &ok) != napi_ok || !ok)
    THROW_TYPE(env, "munmap takes an ArrayBuffer returned by mmap");
  if (napi_unwrap(env, argv[0], &data) != napi_ok) THROW_TYPE(env, "not a mapping");
  struct mapping *m = data;
  if (m->unmapped) return make_int(env, 0); /* idempotent */
  if (napi_detach_arraybuffer(env, argv[0]) != napi_ok) {
    napi_throw_error(env, "ERR_TSBPF_NATIVE", "cannot detach the mapping's ArrayBuffer");
    return NULL;
  }
  /* Detaching may already have run the backing finalizer, which unmaps. */
  int r = 0;
  if (!m->unmapped) {
    r = munmap(m->addr, m->len) == 0 ? 0 : -errno;
    m->unmapped = true;
  }
  return make_int(env, r);
}

bool anonymous_mapping(napi_env env, napi_value v, void **addr, size_t *len) {
  napi_valuetype t;
  bool ok = false, detached = true;
  void *data;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_object || napi_check_object_type_tag(env, v, &mapping_tag, &ok) != napi_ok || !ok ||
      napi_unwrap(env, v, &data) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected an ArrayBuffer returned by mmap");
    return false;
  }
  struct mapping *m = data;
  /* The buffer's own view of its memory: a detached (unmapped or transferred) buffer has none. */
  if (m->unmapped || napi_is_detached_arraybuffer(env, v, &detached) != napi_ok || detached ||
      napi_get_arraybuffer_info(env, v, addr, len) != napi_ok || *addr != m->addr) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "the mapping is unmapped");
    return false;
  }
  if (!m->anonymous) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "expected an anonymous mapping (MAP_ANONYMOUS)");
    return false;
  }
  return true;
}

napi_value mmap_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"mmap", NULL, js_mmap, NULL, NULL, NULL, napi_enumerable, NULL},
    {"munmap", NULL, js_munmap, NULL, NULL, NULL, napi_enumerable, NULL},
    {"mmapRing", NULL, js_mmap_ring, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}
