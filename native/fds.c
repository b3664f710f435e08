/* What the addon knows about descriptors, learnt from the kernel only (never from
 * /proc, which a mount namespace may lack), and the lock that keeps that knowledge
 * true while a call relies on it.
 *
 * Map key and value sizes are cached per fd number. The cache is one process-wide
 * table shared by every thread that loads the addon (worker_threads): fixed chunks
 * of atomic entries, installed once and never moved, so lookups take no lock of
 * their own. What keeps an entry true is fd_lock:
 *  - a call whose buffer lengths come from the cache (or whose info layout comes
 *    from the fd's kind) holds it shared from the check to the end of the syscall;
 *  - a call that can make a new map (or link, or BTF) fd holds it exclusively across
 *    the syscall and forgets the entry of the number it returns before releasing it.
 * So while a checked call runs, no new map can appear at its fd number, whoever
 * closed the old one (this addon, or JS behind its back with fs.closeSync). A fd that
 * is not a map makes the kernel refuse a map command before it copies anything, so
 * an entry that outlives its map is harmless until a new map takes the number, and
 * that happens only under the exclusive lock. close() therefore needs no lock: it
 * forgets the entry, which at worst costs one more OBJ_GET_INFO_BY_FD. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common.h"
#include "abi.h"

/* Writers first: a steady stream of map operations in other threads cannot starve a
 * map creation. Nobody takes it recursively. */
static pthread_rwlock_t fd_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

void fds_lock(enum fd_lock_mode mode) {
  if (mode == FD_LOCK_SHARED) pthread_rwlock_rdlock(&fd_lock);
  else if (mode == FD_LOCK_EXCLUSIVE) pthread_rwlock_wrlock(&fd_lock);
}

void fds_unlock(enum fd_lock_mode mode) {
  if (mode != FD_LOCK_NONE) pthread_rwlock_unlock(&fd_lock);
}

/* ---- the size cache -----------------------------------------------------------------
 * An entry: bit 63 known, bit 62 per-CPU, bits 32..61 value_size, bits 0..31 key_size.
 * Numbers at or above CACHED_FDS, and value sizes that do not fit, are learnt on every
 * call instead. */
#define CHUNK_BITS 12
#define CHUNK_LEN (1u << CHUNK_BITS)
#define CHUNKS 256
#define CACHED_FDS (CHUNKS * CHUNK_LEN)
#define KNOWN (1ull << 63)
#define PERCPU (1ull << 62)
#define VALUE_MAX ((1ull << 30) - 1)

static _Atomic(_Atomic uint64_t *) chunks[CHUNKS];

HOT static _Atomic uint64_t *entry(int fd, bool create) {
  if (fd < 0 || (unsigned)fd >= CACHED_FDS) return NULL;
  _Atomic(_Atomic uint64_t *) *slot = &chunks[(unsigned)fd >> CHUNK_BITS];
  _Atomic uint64_t *chunk = atomic_load_explicit(slot, memory_order_acquire);
  if (!chunk && create) {
    _Atomic uint64_t *fresh = calloc(CHUNK_LEN, sizeof *fresh);
    if (!fresh) return NULL; /* stays uncached: learnt on every call */
    _Atomic uint64_t *expected = NULL;
    if (atomic_compare_exchange_strong_explicit(slot, &expected, fresh, memory_order_acq_rel, memory_order_acquire)) {
      chunk = fresh;
    } else {
      free(fresh);
      chunk = expected;
    }
  }
  return chunk ? &chunk[(unsigned)fd & (CHUNK_LEN - 1)] : NULL;
}

void fds_forget(int fd) {
  _Atomic uint64_t *e = entry(fd, false);
  if (e) atomic_store_explicit(e, 0, memory_order_relaxed);
}

/* Map types whose values user space reads and writes as one 8-aligned slot per
 * possible CPU: PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE. */
static const uint32_t percpu_types[] = {MAP_TYPE_PERCPU_HASH, MAP_TYPE_PERCPU_ARRAY, MAP_TYPE_LRU_PERCPU_HASH,
                                         MAP_TYPE_PERCPU_CGROUP_STORAGE};

int bpf_obj_info(int fd, void *info, uint32_t len) {
  memset(info, 0, len);
  struct { uint32_t bpf_fd, info_len; uint64_t info; } attr = {(uint32_t)fd, len, (uint64_t)(uintptr_t)info};
  return syscall(__NR_bpf, OBJ_GET_INFO_BY_FD, &attr, sizeof attr) == 0 ? 0 : -errno;
}

int map_sizes(int fd, struct map_sizes *out) {
  _Atomic uint64_t *e = entry(fd, true);
  uint64_t v = e ? atomic_load_explicit(e, memory_order_relaxed) : 0;
  if (!(v & KNOWN)) {
    /* struct bpf_map_info: type, key_size, value_size. On a program, link or
     * BTF fd this reads other fields: harmless, as the kernel refuses map commands on
     * those before copying anything. */
    uint8_t info[MAP_INFO_VALUE_SIZE_OFF + 4];
    int err = bpf_obj_info(fd, info, sizeof info);
    if (err) return err;
    uint32_t type, key_size, value_size;
    memcpy(&type, info + MAP_INFO_TYPE_OFF, 4);
    memcpy(&key_size, info + MAP_INFO_KEY_SIZE_OFF, 4);
    memcpy(&value_size, info + MAP_INFO_VALUE_SIZE_OFF, 4);
    bool percpu = false;
    for (size_t i = 0; i < sizeof percpu_types / sizeof percpu_types[0]; i++) percpu |= percpu_types[i] == type;
    if (value_size > VALUE_MAX) {
      *out = (struct map_sizes){key_size, value_size, percpu};
      return 0;
    }
    v = KNOWN | (percpu ? PERCPU : 0) | ((uint64_t)value_size << 32) | key_size;
    if (e) atomic_store_explicit(e, v, memory_order_relaxed);
  }
  out->key_size = (uint32_t)v;
  out->value_size = (uint32_t)((v >> 32) & VALUE_MAX);
  out->percpu = (v & PERCPU) != 0;
  return 0;
}

/* ---- possible CPUs ----------------------------------------------------------------- */
static int cpus;
static pthread_once_t cpus_once = PTHREAD_ONCE_INIT;

/* "0-3,5": the highest number plus one, as the kernel's num_possible_cpus() counts. */
static void read_possible_cpus(void) {
  FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
  if (!f) return;
  int max = -1, lo, hi;
  char sep;
  while (fscanf(f, "%d", &lo) == 1) {
    hi = lo;
    if (fscanf(f, "%c", &sep) == 1 && sep == '-') {
      if (fscanf(f, "%d", &hi) != 1) { max = -1; break; }
      if (fscanf(f, "%c", &sep) != 1) sep = '\n';
    }
    if (hi > max) max = hi;
    if (sep != ',') break;
  }
  fclose(f);
  cpus = max + 1;
}

int possible_cpus(void) {
  pthread_once(&cpus_once, read_possible_cpus);
  return cpus;
}

/* ---- kinds of descriptor --------------------------------------------------------------
 * BPF_PROG_BIND_MAP looks the program up before the map: with map fd -1 it answers
 * EBADF for a program and EINVAL for anything else (5.10+; older kernels answer EINVAL
 * for the unknown command, which prog_kind_known() tells apart). Nothing is bound. */
static int bind_map(int prog_fd) {
  struct { uint32_t prog_fd, map_fd, flags; } attr = {(uint32_t)prog_fd, UINT32_MAX, 0};
  return syscall(__NR_bpf, 35 /* BPF_PROG_BIND_MAP */, &attr, sizeof attr) == 0 ? 0 : -errno;
}

static bool bind_map_works;
static pthread_once_t bind_map_once = PTHREAD_ONCE_INIT;
static void probe_bind_map(void) { bind_map_works = bind_map(-1) == -EBADF; }

bool prog_kind_known(void) {
  pthread_once(&bind_map_once, probe_bind_map);
  return bind_map_works;
}

bool fd_is_prog(int fd) {
  return fcntl(fd, F_GETFD) >= 0 && bind_map(fd) == -EBADF;
}

bool fd_is_perf_event(int fd) {
  uint64_t id;
  return ioctl(fd, 0x80082407 /* PERF_EVENT_IOC_ID */, &id) == 0;
}
