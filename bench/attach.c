/* bench/attach.c: the C baseline of bench/attach.ts.
 *
 * Raw system calls, no libbpf. Loads the same instructions as tsbpf's programs in
 * bpf/attach_introspect.o (xdp_pass: r0 = 2; exit; tc_pass: r0 = 0; exit;
 * tp_getppid: r0 = 0; exit) and times:
 *
 *   xdp_testrun  BPF_PROG_TEST_RUN of xdp_pass, a 64-byte packet, repeat = -n (1e6):
 *                the value is the kernel's own duration (ns per run), not wall time
 *   xdp_attach   per cycle: BPF_LINK_CREATE(xdp_pass, ifindex, BPF_XDP,
 *                XDP_FLAGS_SKB_MODE), BPF_LINK_DETACH, close(link)
 *   tcx_attach   per cycle: if_nametoindex(ifname), BPF_LINK_CREATE(tc_pass, ifindex,
 *                BPF_TCX_INGRESS = 46), BPF_LINK_DETACH, close(link)
 *   tp_attach    per cycle: perf_event_open(PERF_TYPE_TRACEPOINT, config = the id of
 *                syscalls/sys_enter_getppid, pid -1, cpu 0, PERF_FLAG_FD_CLOEXEC) as
 *                libbpf does, BPF_LINK_CREATE(tp_getppid, perf fd, BPF_PERF_EVENT),
 *                BPF_LINK_DETACH (EOPNOTSUPP for perf links: ignored), close(link),
 *                close(perf fd)
 *
 * What tsbpf's FdLink.detach() does (LINK_DETACH, then close) is what the cycles do.
 *
 * On the 6.18 test VM each cycle takes tens of milliseconds, nearly all of it inside
 * the kernel (strace -T): XDP and TCX LINK_CREATE / LINK_DETACH 3-20 ms each, the
 * tracepoint's close(link) 13-40 ms and close(perf fd) 40-60 ms (static keys switched
 * on and off, RCU grace periods). Keeping another program attached by the same
 * mechanism meanwhile did not make the cycles cheaper, so the bench does not.
 *
 * Usage: attach -i IFNAME [-c case,...] [-n iters] [-r rounds] [-w warmup] [-T tracing_dir]
 *   -n  repeat for xdp_testrun (default 1000000)
 *   -N  cycles per round for the attach cases (default 20)
 * Prints one JSON object: { "tags": { prog: tag }, "errors": { case: "..." },
 *                           case: [value per round, ...] } (ns per cycle, or per run).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/perf_event.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 64
/* enum bpf_attach_type, Linux 6.6+ (Debian 12's <linux/bpf.h> is 6.1's) */
#define TCX_INGRESS 46

static long sys_bpf(int cmd, union bpf_attr *attr, unsigned size) {
  return syscall(__NR_bpf, cmd, attr, size);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int load(int type, int expected_attach, int32_t ret, const char *name) {
  struct bpf_insn insns[2] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = ret},
      {.code = BPF_JMP | BPF_EXIT},
  };
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.prog_type = type;
  a.insns = (uint64_t)(uintptr_t)insns;
  a.insn_cnt = 2;
  a.license = (uint64_t)(uintptr_t) "GPL";
  a.expected_attach_type = expected_attach;
  strncpy(a.prog_name, name, sizeof a.prog_name - 1);
  int fd = (int)sys_bpf(BPF_PROG_LOAD, &a, sizeof a);
  if (fd < 0) {
    fprintf(stderr, "attach: BPF_PROG_LOAD %s: %s\n", name, strerror(errno));
    exit(1);
  }
  return fd;
}

static void tag_of(int fd, char out[17]) {
  struct bpf_prog_info info;
  memset(&info, 0, sizeof info);
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.info.bpf_fd = fd;
  a.info.info_len = sizeof info;
  a.info.info = (uint64_t)(uintptr_t)&info;
  out[0] = 0;
  if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a, sizeof a.info) != 0) return;
  for (int i = 0; i < 8; i++) sprintf(out + 2 * i, "%02x", info.tag[i]);
}

/* The attr sizes tsbpf passes: LINK_CREATE 64 (new Attr(64)), LINK_DETACH 4, PROG_TEST_RUN 80. */
static int link_create(int prog, int target, int attach_type, int flags) {
  union bpf_attr a;
  memset(&a, 0, 64);
  a.link_create.prog_fd = prog;
  a.link_create.target_fd = target;
  a.link_create.attach_type = attach_type;
  a.link_create.flags = flags;
  return (int)sys_bpf(BPF_LINK_CREATE, &a, 64);
}

static void link_detach(int link) {
  union bpf_attr a;
  memset(&a, 0, 4);
  a.link_detach.link_fd = link;
  sys_bpf(BPF_LINK_DETACH, &a, 4);
}

static char err_buf[1024];
static int err_len;

static void note_error(const char *name, const char *what) {
  err_len += snprintf(err_buf + err_len, sizeof err_buf - err_len, "%s\"%s\": \"%s: %s\"", err_len ? ", " : "", name, what,
                      strerror(errno));
}

struct ctx {
  int xdp, tc, tp;
  int ifindex;
  const char *ifname;
  uint64_t tp_id;
};

/* One cycle of each attach case; 0 on success. */
static int xdp_cycle(struct ctx *c) {
  int l = link_create(c->xdp, c->ifindex, BPF_XDP, XDP_FLAGS_SKB_MODE);
  if (l < 0) return -1;
  link_detach(l);
  close(l);
  return 0;
}

static int tcx_cycle(struct ctx *c) {
  int ifindex = (int)if_nametoindex(c->ifname);
  if (ifindex == 0) return -1;
  int l = link_create(c->tc, ifindex, TCX_INGRESS, 0);
  if (l < 0) return -1;
  link_detach(l);
  close(l);
  return 0;
}

static int tp_cycle(struct ctx *c) {
  struct perf_event_attr pa;
  memset(&pa, 0, sizeof pa);
  pa.type = PERF_TYPE_TRACEPOINT;
  pa.size = sizeof pa;
  pa.config = c->tp_id;
  int pfd = (int)syscall(__NR_perf_event_open, &pa, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
  if (pfd < 0) return -1;
  int l = link_create(c->tp, pfd, BPF_PERF_EVENT, 0);
  if (l < 0) {
    int e = errno;
    close(pfd);
    errno = e;
    return -1;
  }
  link_detach(l);
  close(l);
  close(pfd);
  return 0;
}

static int test_run(int prog, uint32_t repeat, uint32_t *duration) {
  uint8_t pkt[64] = {0}, out[64 + 256];
  pkt[12] = 0x08;
  union bpf_attr a;
  memset(&a, 0, 80);
  a.test.prog_fd = prog;
  a.test.data_in = (uint64_t)(uintptr_t)pkt;
  a.test.data_size_in = sizeof pkt;
  a.test.data_out = (uint64_t)(uintptr_t)out;
  a.test.data_size_out = sizeof out;
  a.test.repeat = repeat;
  if (sys_bpf(BPF_PROG_TEST_RUN, &a, 80) != 0) return -1;
  *duration = a.test.duration;
  return a.test.retval == XDP_PASS ? 0 : -1;
}

static int wanted(const char *list, const char *name) {
  if (!list) return 1;
  size_t n = strlen(name);
  for (const char *p = list; (p = strstr(p, name)); p += n)
    if ((p == list || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) return 1;
  return 0;
}

int main(int argc, char **argv) {
  const char *only = NULL, *ifname = NULL, *tracing = "/sys/kernel/tracing";
  long repeat = 1000000, cycles = 20, rounds = 3, warmup = 2;
  int opt;
  while ((opt = getopt(argc, argv, "c:i:n:N:r:w:T:")) != -1) {
    switch (opt) {
      case 'c': only = optarg; break;
      case 'i': ifname = optarg; break;
      case 'n': repeat = atol(optarg); break;
      case 'N': cycles = atol(optarg); break;
      case 'r': rounds = atol(optarg); break;
      case 'w': warmup = atol(optarg); break;
      case 'T': tracing = optarg; break;
      default:
        fprintf(stderr, "usage: attach -i IFNAME [-c cases] [-n repeat] [-N cycles] [-r rounds] [-w warmup] [-T tracefs]\n");
        return 2;
    }
  }
  if (rounds < 1 || rounds > MAX_ROUNDS || repeat < 1 || cycles < 1) {
    fprintf(stderr, "attach: bad counts\n");
    return 2;
  }
  struct ctx c = {0};
  c.xdp = load(BPF_PROG_TYPE_XDP, BPF_XDP, XDP_PASS, "xdp_pass");
  c.tc = load(BPF_PROG_TYPE_SCHED_CLS, 0, 0, "tc_pass");
  c.tp = load(BPF_PROG_TYPE_TRACEPOINT, 0, 0, "tp_getppid");
  c.ifname = ifname;
  c.ifindex = ifname ? (int)if_nametoindex(ifname) : 0;
  char path[512];
  snprintf(path, sizeof path, "%s/events/syscalls/sys_enter_getppid/id", tracing);
  FILE *f = fopen(path, "r");
  if (f) {
    if (fscanf(f, "%lu", (unsigned long *)&c.tp_id) != 1) c.tp_id = 0;
    fclose(f);
  }

  char tags[3][17];
  tag_of(c.xdp, tags[0]);
  tag_of(c.tc, tags[1]);
  tag_of(c.tp, tags[2]);
  printf("{\"tags\": {\"xdp_pass\": \"%s\", \"tc_pass\": \"%s\", \"tp_getppid\": \"%s\"}", tags[0], tags[1], tags[2]);

  if (wanted(only, "xdp_testrun")) {
    double v[MAX_ROUNDS];
    uint32_t d = 0;
    int ok = test_run(c.xdp, (uint32_t)(repeat / 10 > 0 ? repeat / 10 : 1), &d) == 0;
    for (long r = 0; ok && r < rounds; r++) {
      ok = test_run(c.xdp, (uint32_t)repeat, &d) == 0;
      v[r] = d;
    }
    if (!ok) note_error("xdp_testrun", "BPF_PROG_TEST_RUN");
    else {
      printf(", \"xdp_testrun\": [");
      for (long r = 0; r < rounds; r++) printf("%s%.1f", r ? ", " : "", v[r]);
      printf("]");
    }
  }

  struct {
    const char *name;
    int (*cycle)(struct ctx *);
    int usable;
  } cases[] = {
      {"xdp_attach", xdp_cycle, c.ifindex > 0},
      {"tcx_attach", tcx_cycle, c.ifindex > 0},
      {"tp_attach", tp_cycle, c.tp_id > 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (!wanted(only, cases[i].name)) continue;
    if (!cases[i].usable) {
      errno = ENODEV;
      note_error(cases[i].name, c.tp_id == 0 && i == 2 ? path : "no interface (-i)");
      continue;
    }
    int ok = 1;
    for (long k = 0; ok && k < warmup; k++) ok = cases[i].cycle(&c) == 0;
    double v[MAX_ROUNDS];
    for (long r = 0; ok && r < rounds; r++) {
      double t0 = now_ns();
      for (long k = 0; ok && k < cycles; k++) ok = cases[i].cycle(&c) == 0;
      v[r] = (now_ns() - t0) / cycles;
    }
    if (!ok) {
      note_error(cases[i].name, "attach");
      continue;
    }
    printf(", \"%s\": [", cases[i].name);
    for (long r = 0; r < rounds; r++) printf("%s%.1f", r ? ", " : "", v[r]);
    printf("]");
  }
  printf(", \"errors\": {%s}}\n", err_buf);
  return 0;
}
