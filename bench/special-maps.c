// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * The C side of bench/special-maps.ts: the element operations of the fd-valued
 * maps and the local storages, as raw bpf(2) calls made the way libbpf makes them.
 * Prints {"case": [ns per op of each round], ...}.
 *
 *   special-maps -n iters -r rounds
 */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/btf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define offsetofend(T, f) (offsetof(T, f) + sizeof(((T *)0)->f))
#define ELEM_ATTR_SZ offsetofend(union bpf_attr, flags)

static void die(const char *what) {
  fprintf(stderr, "special-maps: %s: %s\n", what, strerror(errno));
  exit(1);
}

static long sys_bpf(int cmd, union bpf_attr *attr, unsigned size) { return syscall(__NR_bpf, cmd, attr, size); }

static int map_create(unsigned type, unsigned key_size, unsigned value_size, unsigned max_entries, unsigned flags, int btf_fd) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.map_type = type;
  attr.key_size = key_size;
  attr.value_size = value_size;
  attr.max_entries = max_entries;
  attr.map_flags = flags;
  if (btf_fd > 0) {
    attr.btf_fd = (unsigned)btf_fd;
    attr.btf_key_type_id = 1;
    attr.btf_value_type_id = 3;
  }
  int fd = (int)sys_bpf(BPF_MAP_CREATE, &attr, (unsigned)offsetofend(union bpf_attr, map_extra));
  if (fd < 0) die("BPF_MAP_CREATE");
  return fd;
}

/* BTF: int (1), unsigned char (2), unsigned char[8] (3): what a local storage map needs. */
static int storage_btf(void) {
  struct {
    struct btf_header hdr;
    struct { struct btf_type t; uint32_t enc; } i32, u8;
    struct { struct btf_type t; struct btf_array a; } arr;
    char strings[20];
  } __attribute__((packed)) b;
  memset(&b, 0, sizeof b);
  b.hdr.magic = BTF_MAGIC;
  b.hdr.version = BTF_VERSION;
  b.hdr.hdr_len = sizeof b.hdr;
  b.hdr.type_off = 0;
  b.hdr.type_len = sizeof b.i32 + sizeof b.u8 + sizeof b.arr;
  b.hdr.str_off = b.hdr.type_len;
  b.hdr.str_len = sizeof b.strings;
  memcpy(b.strings, "\0int\0unsigned char", 19);
  b.i32.t.name_off = 1;
  b.i32.t.info = BTF_KIND_INT << 24;
  b.i32.t.size = 4;
  b.i32.enc = (BTF_INT_SIGNED << 24) | 32;
  b.u8.t.name_off = 5;
  b.u8.t.info = BTF_KIND_INT << 24;
  b.u8.t.size = 1;
  b.u8.enc = 8;
  b.arr.t.info = BTF_KIND_ARRAY << 24;
  b.arr.a.type = 2;
  b.arr.a.index_type = 1;
  b.arr.a.nelems = 8;
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.btf = (uint64_t)(uintptr_t)&b;
  attr.btf_size = sizeof b;
  int fd = (int)sys_bpf(BPF_BTF_LOAD, &attr, (unsigned)offsetofend(union bpf_attr, btf_log_level));
  if (fd < 0) die("BPF_BTF_LOAD");
  return fd;
}

/* A tc program: r0 = 0; exit. */
static int prog_load(void) {
  struct bpf_insn insns[2] = {{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0}, {.code = BPF_JMP | BPF_EXIT}};
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_SCHED_CLS;
  attr.insns = (uint64_t)(uintptr_t)insns;
  attr.insn_cnt = 2;
  attr.license = (uint64_t)(uintptr_t) "GPL";
  int fd = (int)sys_bpf(BPF_PROG_LOAD, &attr, (unsigned)sizeof attr);
  if (fd < 0) die("BPF_PROG_LOAD");
  return fd;
}

static inline int elem(int cmd, int fd, const void *key, void *value, uint64_t flags) {
  union bpf_attr attr;
  memset(&attr, 0, ELEM_ATTR_SZ);
  attr.map_fd = (unsigned)fd;
  attr.key = (uint64_t)(uintptr_t)key;
  attr.value = (uint64_t)(uintptr_t)value;
  attr.flags = flags;
  return (int)sys_bpf(cmd, &attr, ELEM_ATTR_SZ);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  int iters = 100000, rounds = 3, opt;
  while ((opt = getopt(argc, argv, "n:r:")) != -1) {
    if (opt == 'n') iters = atoi(optarg);
    else if (opt == 'r') rounds = atoi(optarg);
    else return 2;
  }
  int btf = storage_btf();
  int sk = map_create(BPF_MAP_TYPE_SK_STORAGE, 4, 8, 0, BPF_F_NO_PREALLOC, btf);
  int sock = socket(AF_INET, SOCK_DGRAM, 0);
  uint64_t v = 41;
  if (elem(BPF_MAP_UPDATE_ELEM, sk, &sock, &v, 0)) die("sk storage update");
  int dev = map_create(BPF_MAP_TYPE_DEVMAP, 4, 8, 4, 0, 0);
  uint32_t zero = 0;
  struct { uint32_t ifindex; int32_t fd; } dv = {1, -1};
  if (elem(BPF_MAP_UPDATE_ELEM, dev, &zero, &dv, 0)) die("devmap update");
  int jumps = map_create(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0, 0);
  int prog = prog_load();
  printf("{");
  const char *names[] = {"sk_storage_get", "devmap_get", "prog_array_set_remove"};
  for (int c = 0; c < 3; c++) {
    printf("%s\"%s\":[", c ? "," : "", names[c]);
    for (int r = -1; r < rounds; r++) {
      double t0 = now_ns();
      for (int i = 0; i < iters; i++) {
        if (c == 0) {
          if (elem(BPF_MAP_LOOKUP_ELEM, sk, &sock, &v, 0)) die("lookup");
        } else if (c == 1) {
          if (elem(BPF_MAP_LOOKUP_ELEM, dev, &zero, &dv, 0)) die("lookup");
        } else {
          uint32_t pfd = (uint32_t)prog;
          if (elem(BPF_MAP_UPDATE_ELEM, jumps, &zero, &pfd, 0)) die("update");
          if (elem(BPF_MAP_DELETE_ELEM, jumps, &zero, NULL, 0)) die("delete");
        }
      }
      double ns = (now_ns() - t0) / iters;
      if (r >= 0) printf("%s%.1f", r ? "," : "", ns); /* round -1: warm-up */
    }
    printf("]");
  }
  printf("}\n");
  return 0;
}
