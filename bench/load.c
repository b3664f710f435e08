/* bench/load.c: the C baseline of bench/load.ts: libbpf loading objects from memory.
 *
 * For each object on the command line: bpf_object__open_mem + bpf_object__load +
 * bpf_object__close, timed, from bytes read once before timing (tsbpf's side does
 * Ebpf.load(bytes) + close() on the same bytes). Built by bench/load.ts:
 *
 *   gcc -O2 -Wall -Wextra -o bench/out/load bench/load.c -lbpf -lelf -lz
 *
 * (Debian 12: apt-get install -y libbpf-dev libelf-dev zlib1g-dev, libbpf 1.1.2.)
 *
 * What libbpf 1.1 does per open+load+close, and how it differs from tsbpf:
 *  - open: ELF and BTF parse, maps and programs collected, relocations recorded; an
 *    anonymous mmap per global-data map (.data/.rodata/.bss/.kconfig).
 *  - load: kernel feature probes (once per process: results are cached in a static
 *    table), RLIMIT_MEMLOCK probe (once per process; 6.18 accounts to memcg, so no
 *    setrlimit), bpf_object__probe_loading (a 2-instruction socket filter loaded and
 *    closed on EVERY load: one extra, trivial verifier run tsbpf does not make), the
 *    vmlinux BTF (btf__load_vmlinux_btf: read and parse /sys/kernel/btf/vmlinux, freed
 *    at the end of the load) WHENEVER the object has CO-RE relocations, typed ksyms or
 *    programs that need an attach BTF id: libbpf 1.1 has no way to share a parsed
 *    vmlinux BTF between objects (btf_custom_path only names another file to parse).
 *    tsbpf parses the kernel BTF once per process (loadKernelBtf caches it), so in the
 *    steady state libbpf pays a vmlinux parse per load that tsbpf does not: -b times
 *    it, and each object reports how many times a load opened the vmlinux BTF file.
 *    Then: the object's BTF sanitised and uploaded, maps created (global data written,
 *    .rodata frozen, and each global-data map re-mmapped onto the map's memory),
 *    CO-RE with a per-object candidate cache (tsbpf: per Ebpf, the same scope), map and
 *    extern relocations, programs loaded (first without a verifier log, again with one
 *    on failure, as tsbpf), static map-in-map / prog-array slots filled.
 *  - close: every fd closed, memory freed.
 *
 * Usage: load [-r rounds] [-w warmup] [-b] [-1] [-o] [-c] [-d] [-n iters] obj [-n iters] obj ...
 *   -n N  iterations per timed round for the objects that follow (default 20)
 *   -r R  timed rounds per object (default 3)
 *   -w W  warm-up loads per object before its rounds (default 2)
 *   -b    also time btf__load_vmlinux_btf() + btf__free(), R rounds of N (the vmlinux
 *         parse libbpf repeats in every load of an object that needs it)
 *   -1    first load only: time ONE open+load+close of each object in this process,
 *         no warm-up (run it in a fresh process per object: the first load of a process
 *         includes libbpf's one-time feature probes)
 *   -o    open only: bpf_object__open_mem + bpf_object__close, no kernel (the parse
 *         figure to set beside ObjectSpec.parse); -n/-r/-w as above
 *   -c    check: one load of each object, report ok or libbpf's error messages
 *   -d    after the rounds, one more round of n loads with every bpf(2) call and close()
 *         timed ("diag": ns per load in total and by command, and calls per load);
 *         libbpf makes them through libc's syscall() and close(), defined here
 * Prints one JSON object: {"objects": {path: {"rounds": [ns per load, ...],
 *   "first": ns, "programs": p, "maps": m, "vmlinux_opens": k (per load)} or
 *   {"error": "..."}}, "vmlinux_btf_parse": [ns, ...]}.
 */
#define _GNU_SOURCE
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#define MAX_ROUNDS 64
#define VMLINUX "/sys/kernel/btf/vmlinux"

/* ---- counting and timing vmlinux BTF parses ----------------------------------------
 * libbpf 1.1 reads /sys/kernel/btf/vmlinux with stdio (btf__load_vmlinux_btf ->
 * btf__parse_raw -> btf_parse_raw: fopen, fread of the whole file, btf_new, which parses
 * and validates it, then fclose). libbpf.so imports fopen64 and fclose, which this
 * executable defines, so every vmlinux parse inside a load is counted, and timed from
 * fopen to fclose: the read and the parse, in the load itself (btf__free of it at the
 * end of the load is not included). */
static unsigned long vmlinux_opens;
static double vmlinux_ns;
static FILE *vmlinux_file;
static double vmlinux_t0;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

FILE *fopen64(const char *path, const char *mode) {
  static FILE *(*real)(const char *, const char *);
  if (!real) real = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen64");
  int vm = path && strcmp(path, VMLINUX) == 0;
  double t0 = vm ? now_ns() : 0;
  FILE *f = real(path, mode);
  if (vm && f) {
    vmlinux_opens++;
    vmlinux_file = f;
    vmlinux_t0 = t0;
  }
  return f;
}

int fclose(FILE *f) {
  static int (*real)(FILE *);
  if (!real) real = (int (*)(FILE *))dlsym(RTLD_NEXT, "fclose");
  if (f && f == vmlinux_file) {
    vmlinux_ns += now_ns() - vmlinux_t0;
    vmlinux_file = NULL;
  }
  return real(f);
}

/* ---- time inside the system calls (-d) ---------------------------------------------
 * libbpf 1.1 makes its bpf(2) calls through libc's syscall() and closes fds with
 * close(); both are imported by libbpf.so and defined here, so with -d the time spent
 * in each bpf command and in close() is summed: the kernel's share of a load. */
#define NCMDS 64
static int timing;
static double cmd_ns[NCMDS + 1];
static unsigned long cmd_calls[NCMDS + 1]; /* [NCMDS]: close() */

long syscall(long number, ...) {
  static long (*real)(long, ...);
  if (!real) real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
  va_list ap;
  va_start(ap, number);
  long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
  long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
  va_end(ap);
  if (!timing || number != __NR_bpf) return real(number, a1, a2, a3, a4, a5, a6);
  double t0 = now_ns();
  long r = real(number, a1, a2, a3, a4, a5, a6);
  double t1 = now_ns();
  int e = errno;
  int cmd = a1 >= 0 && a1 < NCMDS ? (int)a1 : NCMDS - 1;
  cmd_ns[cmd] += t1 - t0;
  cmd_calls[cmd]++;
  errno = e;
  return r;
}

int close(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "close");
  if (!timing) return real(fd);
  double t0 = now_ns();
  int r = real(fd);
  int e = errno;
  cmd_ns[NCMDS] += now_ns() - t0;
  cmd_calls[NCMDS]++;
  errno = e;
  return r;
}

/* ---- libbpf's messages: kept (warnings and errors) for the error report ------------ */

static char msgs[8192];
static size_t msgs_len;

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[1024];
  int n = vsnprintf(line, sizeof line, fmt, ap);
  if (n < 0) return 0;
  size_t len = strlen(line);
  /* Keep the last bytes: verifier logs end with the reason. */
  if (len >= sizeof msgs) {
    memcpy(msgs, line + len - (sizeof msgs - 1), sizeof msgs - 1);
    msgs_len = sizeof msgs - 1;
  } else {
    if (msgs_len + len >= sizeof msgs) {
      size_t drop = msgs_len + len - (sizeof msgs - 1);
      memmove(msgs, msgs + drop, msgs_len - drop);
      msgs_len -= drop;
    }
    memcpy(msgs + msgs_len, line, len);
    msgs_len += len;
  }
  msgs[msgs_len] = 0;
  return n;
}

static void json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c == '\n') printf("\\n");
    else if (c == '\t') printf("\\t");
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

/* ---- one load ------------------------------------------------------------------------ */

struct object {
  const char *path;
  const char *name;
  void *buf;
  size_t size;
  int iters;
};

/* open+load+close (or open+close with open_only); 0 or -errno. Counts on success. */
static int load_once(const struct object *o, int open_only, int *programs, int *maps) {
  LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = o->name);
  struct bpf_object *obj = bpf_object__open_mem(o->buf, o->size, &opts);
  if (!obj) return -errno;
  if (!open_only) {
    int err = bpf_object__load(obj);
    if (err) {
      bpf_object__close(obj);
      return err;
    }
  }
  if (programs) {
    struct bpf_program *p;
    struct bpf_map *m;
    *programs = 0;
    *maps = 0;
    bpf_object__for_each_program(p, obj)(*programs)++;
    bpf_object__for_each_map(m, obj)(*maps)++;
  }
  bpf_object__close(obj);
  return 0;
}

static void *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (len == cap) buf = realloc(buf, cap *= 2);
    size_t n = fread(buf + len, 1, cap - len, f);
    if (n == 0) break;
    len += n;
  }
  fclose(f);
  *size = len;
  return buf;
}

static void print_rounds(const double *r, int n) {
  putchar('[');
  for (int i = 0; i < n; i++) printf("%s%.0f", i ? "," : "", r[i]);
  putchar(']');
}

/* "close", or the bpf command's number (bench/load.ts names them). */
static const char *cmd_name(int cmd) {
  static char buf[16];
  if (cmd == NCMDS) return "close";
  snprintf(buf, sizeof buf, "%d", cmd);
  return buf;
}

int main(int argc, char **argv) {
  int rounds = 3, warmup = 2, iters = 20, vmlinux = 0, first = 0, open_only = 0, check = 0, diag = 0;
  struct object *objs = calloc((size_t)argc, sizeof *objs);
  int nobjs = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-n") && i + 1 < argc) iters = atoi(argv[++i]);
    else if (!strcmp(a, "-r") && i + 1 < argc) rounds = atoi(argv[++i]);
    else if (!strcmp(a, "-w") && i + 1 < argc) warmup = atoi(argv[++i]);
    else if (!strcmp(a, "-b")) vmlinux = 1;
    else if (!strcmp(a, "-1")) first = 1;
    else if (!strcmp(a, "-o")) open_only = 1;
    else if (!strcmp(a, "-c")) check = 1;
    else if (!strcmp(a, "-d")) diag = 1;
    else if (a[0] == '-') {
      fprintf(stderr, "usage: load [-r R] [-w W] [-b] [-1] [-o] [-c] [-d] [-n N] obj [-n N] obj ...\n");
      return 2;
    } else {
      objs[nobjs].path = a;
      objs[nobjs].iters = iters;
      const char *slash = strrchr(a, '/');
      objs[nobjs].name = slash ? slash + 1 : a;
      nobjs++;
    }
  }
  if (rounds < 1 || rounds > MAX_ROUNDS || iters < 1 || warmup < 0) {
    fprintf(stderr, "load: bad -n, -r or -w\n");
    return 2;
  }
  libbpf_set_print(print_fn);
  for (int i = 0; i < nobjs; i++) {
    objs[i].buf = read_file(objs[i].path, &objs[i].size);
    if (!objs[i].buf) {
      fprintf(stderr, "load: cannot read %s: %s\n", objs[i].path, strerror(errno));
      return 1;
    }
  }

  printf("{\"objects\":{");
  for (int i = 0; i < nobjs; i++) {
    struct object *o = &objs[i];
    int programs = 0, maps = 0;
    printf("%s", i ? "," : "");
    json_string(o->path);
    putchar(':');
    msgs_len = 0;
    msgs[0] = 0;
    unsigned long opens0 = vmlinux_opens;
    double vm0 = vmlinux_ns;
    double t0 = now_ns();
    int err = load_once(o, open_only, &programs, &maps);
    double t1 = now_ns();
    if (err) {
      printf("{\"error\":");
      char what[9000];
      snprintf(what, sizeof what, "%s (%s)%s%s", open_only ? "bpf_object__open_mem" : "bpf_object__open_mem/load", strerror(-err), msgs_len ? ": " : "", msgs);
      json_string(what);
      putchar('}');
      continue;
    }
    printf("{\"programs\":%d,\"maps\":%d,\"vmlinux_opens\":%lu,\"first\":%.0f,\"first_vmlinux\":%.0f", programs, maps,
           vmlinux_opens - opens0, t1 - t0, vmlinux_ns - vm0);
    if (!first && !check) {
      double r[MAX_ROUNDS], rv[MAX_ROUNDS];
      for (int w = 0; w < warmup; w++) load_once(o, open_only, NULL, NULL);
      for (int k = 0; k < rounds; k++) {
        double v = vmlinux_ns;
        double a = now_ns();
        for (int n = 0; n < o->iters; n++) {
          err = load_once(o, open_only, NULL, NULL);
          if (err) {
            fprintf(stderr, "load: %s failed in round %d: %s\n%s", o->path, k, strerror(-err), msgs);
            return 1;
          }
        }
        r[k] = (now_ns() - a) / o->iters;
        rv[k] = (vmlinux_ns - v) / o->iters;
      }
      printf(",\"iters\":%d,\"rounds\":", o->iters);
      print_rounds(r, rounds);
      printf(",\"vmlinux_ns\":");
      print_rounds(rv, rounds);
    }
    if (diag) {
      /* One more round with the system calls timed: ns and calls per load by command. */
      memset(cmd_ns, 0, sizeof cmd_ns);
      memset(cmd_calls, 0, sizeof cmd_calls);
      double v = vmlinux_ns;
      timing = 1;
      double a = now_ns();
      for (int n = 0; n < o->iters; n++) load_once(o, open_only, NULL, NULL);
      double total = (now_ns() - a) / o->iters;
      timing = 0;
      printf(",\"diag\":{\"total\":%.0f,\"vmlinux\":%.0f,\"calls\":{", total, (vmlinux_ns - v) / o->iters);
      int any = 0;
      for (int c = 0; c <= NCMDS; c++) {
        if (!cmd_calls[c]) continue;
        printf("%s\"%s\":[%.2f,%.0f]", any++ ? "," : "", cmd_name(c), (double)cmd_calls[c] / o->iters, cmd_ns[c] / o->iters);
      }
      printf("}}");
    }
    putchar('}');
  }
  putchar('}');

  if (vmlinux) {
    double r[MAX_ROUNDS];
    for (int w = 0; w < warmup; w++) btf__free(btf__load_vmlinux_btf());
    for (int k = 0; k < rounds; k++) {
      double a = now_ns();
      for (int n = 0; n < iters; n++) {
        struct btf *btf = btf__load_vmlinux_btf();
        if (!btf) {
          fprintf(stderr, "load: btf__load_vmlinux_btf: %s\n", strerror(errno));
          return 1;
        }
        btf__free(btf);
      }
      r[k] = (now_ns() - a) / iters;
    }
    printf(",\"vmlinux_btf_parse\":");
    print_rounds(r, rounds);
  }
  printf("}\n");
  return 0;
}
