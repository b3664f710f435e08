/* bench/maps.c: the C baseline of bench/maps.ts.
 *
 * Makes the same raw bpf(2) system calls as tsbpf for each case, with the same attr
 * sizes (tsbpf passes 32 bytes for element commands, 12 for BPF_MAP_GET_FD_BY_ID,
 * 56 for batch commands), on maps of the same shape, with the same keys and values:
 *
 *   array_get      ARRAY(u32 -> u32, 1024)   BPF_MAP_LOOKUP_ELEM, key i % 1024
 *   array_set      ARRAY(u32 -> u32, 1024)   BPF_MAP_UPDATE_ELEM, key i % 1024, value i
 *   hash_get       HASH(u32 -> u64, 1024)    BPF_MAP_LOOKUP_ELEM, key i % 1024 (all present)
 *   hash_set       HASH(u32 -> u64, 1024)    BPF_MAP_UPDATE_ELEM, key i % 1024, value vals[i % 1024]
 *   hash_delete    HASH(u32 -> u64, 1024)    BPF_MAP_DELETE_ELEM key i % 1024 (16-byte attr, as tsbpf),
 *                                            then BPF_MAP_UPDATE_ELEM of it back
 *   elem_einval    the bpf_einval calls, for tsbpf's element path (kernel.bpfElem)
 *   raw_get        the array_get calls, for tsbpf's MapData.lookup (bytes in, a copy out)
 *   raw_set        the hash_set calls, for tsbpf's MapData.update (bytes)
 *   aom_get        ARRAY_OF_MAPS(16)         BPF_MAP_LOOKUP_ELEM slot i % 4 -> id,
 *                                            BPF_MAP_GET_FD_BY_ID(id), close(fd)
 *   aom_get_id     ARRAY_OF_MAPS(16)         BPF_MAP_LOOKUP_ELEM slot i % 4
 *   aom_set        ARRAY_OF_MAPS(16)         BPF_MAP_UPDATE_ELEM slot i % 4, value inner[i % 8]'s fd
 *   aom_set_many4  ARRAY_OF_MAPS(16)         one BPF_MAP_UPDATE_BATCH of slots 0..3
 *   aom_set4       ARRAY_OF_MAPS(16)         four BPF_MAP_UPDATE_ELEM of slots 0..3
 *   bpf_einval     ARRAY(u32 -> u32, 1024)   BPF_MAP_LOOKUP_ELEM with an unknown flag (bit 62):
 *                                            the kernel answers EINVAL before it looks at the
 *                                            map. The floor of one element call, for comparing
 *                                            call overheads; not a tsbpf operation.
 *
 * Inner maps are ARRAY(u32 -> u32, 4). Updates of a map of maps wait for an RCU grace
 * period in the kernel (maybe_wait_bpf_programs), once per command: a batch of 4 waits
 * once, 4 single updates wait 4 times.
 *
 * Usage: maps [-c case,case,...] [-n lookup_iters] [-s set_iters] [-r rounds]
 *             [-w warmup_divisor] [-a] [-t]
 *   Prints one JSON object: case -> ns/op, the best of `rounds` timed rounds, each
 *   after a warm-up of iters/warmup_divisor operations (at least 1).
 *   -a  prints every round instead: case -> [ns/op, ...]
 *   -p  times rounds in CPU time of the thread (CLOCK_THREAD_CPUTIME_ID), not wall time
 *   -S REQ,RESP  serves rounds over two FIFOs instead (bench/serve.h): "case n" runs
 *       n operations of the case (n of its iterations for the map-in-map updates)
 *   -t  prints, instead of timings, the system calls of one operation of each case:
 *       case -> ["MAP_LOOKUP_ELEM/32", ...] (command/attr size, or "close"). Each
 *       case runs one untraced operation, then access("/nonexistent/tsbpf-bench-marker/<case>"),
 *       the traced operation, and access(".../end"), so that strace can cut its log by case.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"

#define offsetofend(TYPE, FIELD) (offsetof(TYPE, FIELD) + sizeof(((TYPE *)0)->FIELD))

/* The attr sizes tsbpf passes (src/sys/bpf.ts: new Attr(32), Attr(12), Attr(56)). */
#define ELEM_ATTR_SZ offsetofend(union bpf_attr, flags)          /* 32 */
#define BYID_ATTR_SZ offsetofend(union bpf_attr, open_flags)     /* 12 */
#define BATCH_ATTR_SZ offsetofend(union bpf_attr, batch)         /* 56 */

#define NKEYS 1024u
#define NSLOTS 4u
#define NINNER 8u
#define MAX_ROUNDS 64

/* ---- tracing: record the calls of one operation (-t) ---------------------------- */

static int tracing;
static char trace_buf[512];

static const char *cmd_name(int cmd) {
  switch (cmd) {
    case BPF_MAP_LOOKUP_ELEM: return "MAP_LOOKUP_ELEM";
    case BPF_MAP_UPDATE_ELEM: return "MAP_UPDATE_ELEM";
    case BPF_MAP_DELETE_ELEM: return "MAP_DELETE_ELEM";
    case BPF_MAP_GET_FD_BY_ID: return "MAP_GET_FD_BY_ID";
    case BPF_MAP_UPDATE_BATCH: return "MAP_UPDATE_BATCH";
    default: {
      static char buf[16];
      snprintf(buf, sizeof buf, "CMD_%d", cmd);
      return buf;
    }
  }
}

static void trace_add(const char *what, unsigned size) {
  size_t len = strlen(trace_buf);
  if (size) snprintf(trace_buf + len, sizeof trace_buf - len, "%s\"%s/%u\"", len ? "," : "", what, size);
  else snprintf(trace_buf + len, sizeof trace_buf - len, "%s\"%s\"", len ? "," : "", what);
}

/* ---- the system calls -------------------------------------------------------------- */

static inline long sys_bpf(int cmd, union bpf_attr *attr, unsigned size) {
  if (__builtin_expect(tracing, 0)) trace_add(cmd_name(cmd), size);
  return syscall(__NR_bpf, cmd, attr, size);
}

static inline int sys_close(int fd) {
  if (__builtin_expect(tracing, 0)) trace_add("close", 0);
  return close(fd);
}

static void die(const char *what) {
  fprintf(stderr, "maps: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int map_create(unsigned type, unsigned key_size, unsigned value_size, unsigned max_entries, int inner_fd) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.map_type = type;
  attr.key_size = key_size;
  attr.value_size = value_size;
  attr.max_entries = max_entries;
  attr.inner_map_fd = inner_fd > 0 ? (unsigned)inner_fd : 0;
  int fd = (int)syscall(__NR_bpf, BPF_MAP_CREATE, &attr, (unsigned)offsetofend(union bpf_attr, map_extra));
  if (fd < 0) die("BPF_MAP_CREATE");
  return fd;
}

/* Like libbpf's bpf_map_lookup_elem: fill the attr of the command, then the call. */
static inline int lookup(int fd, const void *key, void *value) {
  union bpf_attr attr;
  memset(&attr, 0, ELEM_ATTR_SZ);
  attr.map_fd = (unsigned)fd;
  attr.key = (uint64_t)(uintptr_t)key;
  attr.value = (uint64_t)(uintptr_t)value;
  attr.flags = 0;
  return (int)sys_bpf(BPF_MAP_LOOKUP_ELEM, &attr, ELEM_ATTR_SZ);
}

static inline int update(int fd, const void *key, const void *value) {
  union bpf_attr attr;
  memset(&attr, 0, ELEM_ATTR_SZ);
  attr.map_fd = (unsigned)fd;
  attr.key = (uint64_t)(uintptr_t)key;
  attr.value = (uint64_t)(uintptr_t)value;
  attr.flags = BPF_ANY;
  return (int)sys_bpf(BPF_MAP_UPDATE_ELEM, &attr, ELEM_ATTR_SZ);
}

/* tsbpf passes BPF_MAP_DELETE_ELEM map_fd and key only: the kernel wants the rest zero. */
#define DELETE_ATTR_SZ 16
static inline int delete_elem(int fd, const void *key) {
  union bpf_attr attr;
  memset(&attr, 0, DELETE_ATTR_SZ);
  attr.map_fd = (unsigned)fd;
  attr.key = (uint64_t)(uintptr_t)key;
  return (int)sys_bpf(BPF_MAP_DELETE_ELEM, &attr, DELETE_ATTR_SZ);
}

static inline int get_fd_by_id(uint32_t id) {
  union bpf_attr attr;
  memset(&attr, 0, BYID_ATTR_SZ);
  attr.map_id = id;
  attr.open_flags = 0;
  return (int)sys_bpf(BPF_MAP_GET_FD_BY_ID, &attr, BYID_ATTR_SZ);
}

static inline int update_batch(int fd, const void *keys, const void *values, uint32_t count) {
  union bpf_attr attr;
  memset(&attr, 0, BATCH_ATTR_SZ);
  attr.batch.keys = (uint64_t)(uintptr_t)keys;
  attr.batch.values = (uint64_t)(uintptr_t)values;
  attr.batch.count = count;
  attr.batch.map_fd = (unsigned)fd;
  attr.batch.elem_flags = 0;
  attr.batch.flags = 0;
  return (int)sys_bpf(BPF_MAP_UPDATE_BATCH, &attr, BATCH_ATTR_SZ);
}

/* ---- the maps ---------------------------------------------------------------------- */

static int array_fd, hash_fd, aom_fd;
static int inner_fd[NINNER];
static uint64_t hash_vals[NKEYS];
static volatile uint64_t sink;

static void setup(void) {
  array_fd = map_create(BPF_MAP_TYPE_ARRAY, 4, 4, NKEYS, 0);
  hash_fd = map_create(BPF_MAP_TYPE_HASH, 4, 8, NKEYS, 0);
  for (uint32_t k = 0; k < NKEYS; k++) {
    hash_vals[k] = ((uint64_t)k << 32) | (k * 2654435761u);
    if (update(hash_fd, &k, &hash_vals[k]) != 0) die("fill hash");
  }
  /* As tsbpf's MapData.create with an innerMap spec: create the template, create the
   * outer map, close the template. */
  int tmpl = map_create(BPF_MAP_TYPE_ARRAY, 4, 4, 4, 0);
  aom_fd = map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 16, tmpl);
  close(tmpl);
  for (unsigned i = 0; i < NINNER; i++) inner_fd[i] = map_create(BPF_MAP_TYPE_ARRAY, 4, 4, 4, 0);
  for (uint32_t s = 0; s < NSLOTS; s++) {
    uint32_t v = (uint32_t)inner_fd[s];
    if (update(aom_fd, &s, &v) != 0) die("fill array of maps");
  }
}

/* ---- the cases: each runs `n` operations ----------------------------------------- */

static void array_get(uint64_t n) {
  uint32_t key, value;
  uint64_t acc = 0;
  for (uint64_t i = 0; i < n; i++) {
    key = (uint32_t)i & (NKEYS - 1);
    if (lookup(array_fd, &key, &value) != 0) die("array lookup");
    acc += value;
  }
  sink = acc;
}

static void array_set(uint64_t n) {
  uint32_t key, value;
  for (uint64_t i = 0; i < n; i++) {
    key = (uint32_t)i & (NKEYS - 1);
    value = (uint32_t)i;
    if (update(array_fd, &key, &value) != 0) die("array update");
  }
}

static void hash_get(uint64_t n) {
  uint32_t key;
  uint64_t value, acc = 0;
  for (uint64_t i = 0; i < n; i++) {
    key = (uint32_t)i & (NKEYS - 1);
    if (lookup(hash_fd, &key, &value) != 0) die("hash lookup");
    acc += value;
  }
  sink = acc;
}

static void hash_set(uint64_t n) {
  uint32_t key;
  uint64_t value;
  for (uint64_t i = 0; i < n; i++) {
    key = (uint32_t)i & (NKEYS - 1);
    value = hash_vals[key];
    if (update(hash_fd, &key, &value) != 0) die("hash update");
  }
}

static void hash_delete(uint64_t n) {
  uint32_t key;
  uint64_t value;
  for (uint64_t i = 0; i < n; i++) {
    key = (uint32_t)i & (NKEYS - 1);
    if (delete_elem(hash_fd, &key) != 0) die("hash delete");
    value = hash_vals[key];
    if (update(hash_fd, &key, &value) != 0) die("hash update");
  }
}

static void aom_get(uint64_t n) {
  uint32_t key, id;
  uint64_t acc = 0;
  for (uint64_t i = 0; i < n; i++) {
    key = (uint32_t)i & (NSLOTS - 1);
    if (lookup(aom_fd, &key, &id) != 0) die("array of maps lookup");
    int fd = get_fd_by_id(id);
    if (fd < 0) die("BPF_MAP_GET_FD_BY_ID");
    acc += (uint64_t)fd;
    sys_close(fd);
  }
  sink = acc;
}

static void aom_get_id(uint64_t n) {
  uint32_t key, id;
  uint64_t acc = 0;
  for (uint64_t i = 0; i < n; i++) {
    key = (uint32_t)i & (NSLOTS - 1);
    if (lookup(aom_fd, &key, &id) != 0) die("array of maps lookup");
    acc += id;
  }
  sink = acc;
}

static void aom_set(uint64_t n) {
  uint32_t key, value;
  for (uint64_t i = 0; i < n; i++) {
    key = (uint32_t)i & (NSLOTS - 1);
    value = (uint32_t)inner_fd[i & (NINNER - 1)];
    if (update(aom_fd, &key, &value) != 0) die("array of maps update");
  }
}

/* Iteration i stores inner maps 0..3 into slots 0..3 (even i) or 4..7 (odd i). */
static void aom_set_many4(uint64_t n) {
  uint32_t keys[NSLOTS], values[NSLOTS];
  for (uint64_t i = 0; i < n; i++) {
    unsigned base = (i & 1) * NSLOTS;
    for (uint32_t s = 0; s < NSLOTS; s++) {
      keys[s] = s;
      values[s] = (uint32_t)inner_fd[base + s];
    }
    if (update_batch(aom_fd, keys, values, NSLOTS) != 0) die("BPF_MAP_UPDATE_BATCH");
  }
}

static void aom_set4(uint64_t n) {
  uint32_t key, value;
  for (uint64_t i = 0; i < n; i++) {
    unsigned base = (i & 1) * NSLOTS;
    for (uint32_t s = 0; s < NSLOTS; s++) {
      key = s;
      value = (uint32_t)inner_fd[base + s];
      if (update(aom_fd, &key, &value) != 0) die("array of maps update");
    }
  }
}

/* BPF_MAP_LOOKUP_ELEM with a flag no kernel knows: EINVAL at the flags check,
 * before the map fd is looked at. */
#define EINVAL_FLAG (1ULL << 62)

static void bpf_einval(uint64_t n) {
  uint32_t key, value;
  for (uint64_t i = 0; i < n; i++) {
    key = (uint32_t)i & (NKEYS - 1);
    union bpf_attr attr;
    memset(&attr, 0, ELEM_ATTR_SZ);
    attr.map_fd = (unsigned)array_fd;
    attr.key = (uint64_t)(uintptr_t)&key;
    attr.value = (uint64_t)(uintptr_t)&value;
    attr.flags = EINVAL_FLAG;
    if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &attr, ELEM_ATTR_SZ) != -1 || errno != EINVAL) die("a lookup with flag bit 62 should fail with EINVAL");
  }
}

/* A system call strace shows with its path: where one case ends and the next begins. */
static void mark(const char *name) {
  char path[128];
  snprintf(path, sizeof path, "/nonexistent/tsbpf-bench-marker/%s", name);
  (void)access(path, F_OK);
}

struct bench_case {
  const char *name;
  void (*run)(uint64_t n);
  int slow; /* 1: a map-in-map update (RCU grace period): uses -s iterations */
};

static const struct bench_case cases[] = {
  {"array_get", array_get, 0},
  {"array_set", array_set, 0},
  {"hash_get", hash_get, 0},
  {"hash_set", hash_set, 0},
  {"hash_delete", hash_delete, 0},
  {"raw_get", array_get, 0},
  {"raw_set", hash_set, 0},
  {"aom_get", aom_get, 0},
  {"aom_get_id", aom_get_id, 0},
  {"aom_set", aom_set, 1},
  {"aom_set_many4", aom_set_many4, 1},
  {"aom_set4", aom_set4, 1},
  {"bpf_einval", bpf_einval, 0},
  {"elem_einval", bpf_einval, 0},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* -p: CPU time of this thread instead of wall time (on a loaded machine, time spent
 * waiting for a CPU is not the operation's). */
static int cpu_time;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(cpu_time ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t serve_case(const char *name, uint64_t n) {
  for (size_t c = 0; c < NCASES; c++) {
    if (strcmp(cases[c].name, name) == 0) {
      cases[c].run(n);
      return n;
    }
  }
  return 0;
}

static int selected(const char *list, const char *name) {
  if (!list) return 1;
  size_t len = strlen(name);
  for (const char *p = list; *p;) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n == len && strncmp(p, name, n) == 0) return 1;
    if (!end) break;
    p = end + 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *only = NULL;
  uint64_t lookup_iters = 500000, set_iters = 50;
  int rounds = 5, all_rounds = 0;
  uint64_t warm_div = 10;
  const char *serve_paths = NULL;
  int opt;
  while ((opt = getopt(argc, argv, "c:n:s:r:w:atpS:")) != -1) {
    switch (opt) {
      case 'S': serve_paths = optarg; break;
      case 'c': only = optarg; break;
      case 'n': lookup_iters = strtoull(optarg, NULL, 10); break;
      case 's': set_iters = strtoull(optarg, NULL, 10); break;
      case 'r': rounds = atoi(optarg); break;
      case 'w': warm_div = strtoull(optarg, NULL, 10); break;
      case 'a': all_rounds = 1; break;
      case 't': tracing = 1; break;
      case 'p': cpu_time = 1; break;
      default:
        fprintf(stderr, "usage: maps [-c case,...] [-n lookup_iters] [-s set_iters] [-r rounds] [-w warmup_divisor] [-a] [-t]\n");
        return 2;
    }
  }
  if (rounds < 1 || rounds > MAX_ROUNDS || lookup_iters == 0 || set_iters == 0 || warm_div == 0) {
    fprintf(stderr, "maps: bad arguments\n");
    return 2;
  }
  /* Map memory is charged to the memcg on 5.11+, to RLIMIT_MEMLOCK before. */
  struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
  setrlimit(RLIMIT_MEMLOCK, &rl);
  if (serve_paths) {
    if (serve_open(serve_paths) != 0) die("opening the FIFOs of -S");
    setup();
    return serve_loop(serve_case);
  }
  setup();

  printf("{");
  int first = 1;
  for (size_t c = 0; c < NCASES; c++) {
    const struct bench_case *bc = &cases[c];
    if (!selected(only, bc->name)) continue;
    printf("%s\"%s\":", first ? "" : ",", bc->name);
    first = 0;
    if (tracing) {
      bc->run(1); /* as bench/maps.ts does: the traced operation is not the first */
      trace_buf[0] = 0;
      mark(bc->name);
      bc->run(1);
      mark("end");
      printf("[%s]", trace_buf);
      continue;
    }
    uint64_t n = bc->slow ? set_iters : lookup_iters;
    uint64_t warm = n / warm_div ? n / warm_div : 1;
    bc->run(warm);
    double best = 0, r[MAX_ROUNDS];
    for (int k = 0; k < rounds; k++) {
      uint64_t t0 = now_ns();
      bc->run(n);
      uint64_t t1 = now_ns();
      r[k] = (double)(t1 - t0) / (double)n;
      if (k == 0 || r[k] < best) best = r[k];
    }
    if (all_rounds) {
      printf("[");
      for (int k = 0; k < rounds; k++) printf("%s%.1f", k ? "," : "", r[k]);
      printf("]");
    } else {
      printf("%.1f", best);
    }
  }
  printf("}\n");
  return 0;
}
