/* bench/batch.c: the C baseline of bench/batch.ts.
 *
 * The same raw bpf(2) system calls as tsbpf on maps of the same shape:
 *
 *   batch_lookup   HASH(u32 -> u64, N entries)  a walk of the whole map with
 *                                               BPF_MAP_LOOKUP_BATCH, B elements a call
 *                                               (ns per element)
 *   key_by_key     HASH(u32 -> u64, N entries)  a walk with BPF_MAP_GET_NEXT_KEY and
 *                                               BPF_MAP_LOOKUP_ELEM per key (ns per element)
 *   mmap_read      ARRAY(u32 -> u32, 4096, BPF_F_MMAPABLE) mapped: a volatile read
 *                                               through a pointer (ns per access)
 *   mmap_write     the same, a volatile write (ns per access)
 *   mmap_read64    ARRAY(u32 -> u64, 4096, BPF_F_MMAPABLE): 64-bit reads
 *
 * Usage: batch [-n entries] [-b batch] [-r rounds] [-a accesses] [-S REQ,RESP]
 *   Prints one JSON object: case -> [ns per element or access, one per round].
 *   -S serves rounds over two FIFOs instead (bench/serve.h): "case n" runs n walks
 *   (batch_lookup, key_by_key; units: elements) or n accesses (mmap_*).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"

#define MAX_ROUNDS 64
#define NSLOTS 4096u

static long sys_bpf(int cmd, union bpf_attr *attr, unsigned size) { return syscall(__NR_bpf, cmd, attr, size); }

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int map_create(uint32_t type, uint32_t key, uint32_t value, uint32_t max, uint32_t flags) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_type = type;
  a.key_size = key;
  a.value_size = value;
  a.max_entries = max;
  a.map_flags = flags;
  int fd = (int)sys_bpf(BPF_MAP_CREATE, &a, sizeof a);
  if (fd < 0) {
    perror("BPF_MAP_CREATE");
    exit(1);
  }
  return fd;
}

static uint32_t *keys_buf;
static uint64_t *values_buf;

/* One walk of the map by batches; returns the elements seen. */
static uint32_t walk_batch(int fd, uint32_t batch) {
  uint32_t cursor = 0, total = 0;
  int first = 1;
  for (;;) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.batch.in_batch = first ? 0 : (uint64_t)(uintptr_t)&cursor;
    a.batch.out_batch = (uint64_t)(uintptr_t)&cursor;
    a.batch.keys = (uint64_t)(uintptr_t)keys_buf;
    a.batch.values = (uint64_t)(uintptr_t)values_buf;
    a.batch.count = batch;
    a.batch.map_fd = (uint32_t)fd;
    long r = sys_bpf(BPF_MAP_LOOKUP_BATCH, &a, offsetof(union bpf_attr, batch) + sizeof a.batch);
    total += a.batch.count;
    first = 0;
    if (r < 0 && errno == ENOENT) return total;
    if (r < 0) {
      perror("BPF_MAP_LOOKUP_BATCH");
      exit(1);
    }
  }
}

static uint32_t walk_keys(int fd) {
  uint32_t key = 0, next = 0, total = 0;
  uint64_t value;
  void *prev = NULL;
  for (;;) {
    union bpf_attr a;
    memset(&a, 0, 32);
    a.map_fd = (uint32_t)fd;
    a.key = (uint64_t)(uintptr_t)prev;
    a.next_key = (uint64_t)(uintptr_t)&next;
    if (sys_bpf(BPF_MAP_GET_NEXT_KEY, &a, 32) < 0) return total;
    key = next;
    prev = &key;
    memset(&a, 0, 32);
    a.map_fd = (uint32_t)fd;
    a.key = (uint64_t)(uintptr_t)&key;
    a.value = (uint64_t)(uintptr_t)&value;
    if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &a, 32) == 0) total++;
  }
}

static int hash_fd;
static uint32_t batch_size;
static volatile uint32_t *m32;
static volatile uint64_t *m64;
static volatile uint64_t sink;

static uint64_t serve_case(const char *name, uint64_t n) {
  uint64_t units = 0, sum = 0;
  if (strcmp(name, "batch_lookup") == 0) {
    for (uint64_t i = 0; i < n; i++) units += walk_batch(hash_fd, batch_size);
  } else if (strcmp(name, "key_by_key") == 0) {
    for (uint64_t i = 0; i < n; i++) units += walk_keys(hash_fd);
  } else if (strcmp(name, "mmap_read") == 0) {
    for (uint64_t i = 0; i < n; i++) sum += m32[i & (NSLOTS - 1)];
    units = n;
  } else if (strcmp(name, "mmap_write") == 0) {
    for (uint64_t i = 0; i < n; i++) m32[i & (NSLOTS - 1)] = (uint32_t)i;
    units = n;
  } else if (strcmp(name, "mmap_read64") == 0) {
    for (uint64_t i = 0; i < n; i++) sum += m64[i & (NSLOTS - 1)];
    units = n;
  }
  sink = sum;
  return units;
}

int main(int argc, char **argv) {
  uint32_t n = 100000, batch = 1024, rounds = 3;
  uint64_t accesses = 50000000;
  const char *serve_paths = NULL;
  int opt;
  while ((opt = getopt(argc, argv, "n:b:r:a:S:")) != -1) {
    switch (opt) {
      case 'S': serve_paths = optarg; break;
      case 'n': n = (uint32_t)atoi(optarg); break;
      case 'b': batch = (uint32_t)atoi(optarg); break;
      case 'r': rounds = (uint32_t)atoi(optarg); break;
      case 'a': accesses = (uint64_t)atoll(optarg); break;
      default: fprintf(stderr, "usage: batch [-n entries] [-b batch] [-r rounds] [-a accesses]\n"); return 2;
    }
  }
  if (rounds > MAX_ROUNDS) rounds = MAX_ROUNDS;
  if (serve_paths && serve_open(serve_paths) != 0) {
    perror("opening the FIFOs of -S");
    return 1;
  }
  keys_buf = calloc(batch, 4);
  values_buf = calloc(batch, 8);

  /* The same keys and values as the tsbpf side. */
  int hash = map_create(BPF_MAP_TYPE_HASH, 4, 8, n, 0);
  for (uint32_t k = 0; k < n; k++) {
    uint64_t v = ((uint64_t)k << 32) | (uint32_t)(k * 2654435761u);
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = (uint32_t)hash;
    a.key = (uint64_t)(uintptr_t)&k;
    a.value = (uint64_t)(uintptr_t)&v;
    if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a, 32) < 0) {
      perror("BPF_MAP_UPDATE_ELEM");
      return 1;
    }
  }
  int arr32 = map_create(BPF_MAP_TYPE_ARRAY, 4, 4, NSLOTS, BPF_F_MMAPABLE);
  int arr64 = map_create(BPF_MAP_TYPE_ARRAY, 4, 8, NSLOTS, BPF_F_MMAPABLE);
  m32 = mmap(NULL, NSLOTS * 4, PROT_READ | PROT_WRITE, MAP_SHARED, arr32, 0);
  m64 = mmap(NULL, NSLOTS * 8, PROT_READ | PROT_WRITE, MAP_SHARED, arr64, 0);
  if (m32 == MAP_FAILED || m64 == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  if (serve_paths) {
    hash_fd = hash;
    batch_size = batch;
    return serve_loop(serve_case);
  }

  double r_batch[MAX_ROUNDS], r_keys[MAX_ROUNDS], r_read[MAX_ROUNDS], r_write[MAX_ROUNDS], r_read64[MAX_ROUNDS];
  walk_batch(hash, batch); /* warm-up */
  walk_keys(hash);
  for (uint32_t r = 0; r < rounds; r++) {
    double t = now_ns();
    uint32_t seen = walk_batch(hash, batch);
    r_batch[r] = (now_ns() - t) / seen;
    if (seen != n) fprintf(stderr, "batch walk saw %u of %u\n", seen, n);
    t = now_ns();
    seen = walk_keys(hash);
    r_keys[r] = (now_ns() - t) / seen;

    uint64_t sum = 0;
    t = now_ns();
    for (uint64_t i = 0; i < accesses; i++) sum += m32[i & (NSLOTS - 1)];
    r_read[r] = (now_ns() - t) / accesses;
    t = now_ns();
    for (uint64_t i = 0; i < accesses; i++) m32[i & (NSLOTS - 1)] = (uint32_t)i;
    r_write[r] = (now_ns() - t) / accesses;
    t = now_ns();
    for (uint64_t i = 0; i < accesses; i++) sum += m64[i & (NSLOTS - 1)];
    r_read64[r] = (now_ns() - t) / accesses;
    if (sum == 42) fprintf(stderr, "!");
  }
  const char *names[] = {"batch_lookup", "key_by_key", "mmap_read", "mmap_write", "mmap_read64"};
  double *all[] = {r_batch, r_keys, r_read, r_write, r_read64};
  printf("{");
  for (int c = 0; c < 5; c++) {
    printf("%s\"%s\":[", c ? "," : "", names[c]);
    for (uint32_t r = 0; r < rounds; r++) printf("%s%.3f", r ? "," : "", all[c][r]);
    printf("]");
  }
  printf("}\n");
  return 0;
}
