/*
 * bench/cold-load: libbpf's side of bench/cold.ts, a whole short-lived process.
 *
 *   cold-load OBJ        open (bpf_object__open_file), load, close; exit 0, or print
 *                        libbpf's messages on stderr and exit 1. Quiet on success: what
 *                        a minimal tool built on libbpf does before its first line.
 *   cold-load -s OBJ     the same, built with -DSPLIT: prints one JSON object with the
 *                        time of each step from main(), the time spent inside bpf(2)
 *                        (libbpf calls it through libc's syscall(), defined here) and
 *                        reading and parsing vmlinux BTF (fopen64 to fclose).
 *   cold-load -t CMD...  the timer: runs CMD (fork, execvp) and waits for it; writes
 *                        {"ns": wall, "cpu": user + system of CMD (wait4), "status": s}
 *                        to fd 3 (the caller's extra pipe). CMD keeps stdout and stderr.
 *                        The clock starts just before fork and stops when wait4
 *                        returns: the command's whole life, without the caller's spawn
 *                        machinery (Node's spawnSync adds pipes and its own bookkeeping).
 * Built with -DNO_LIBBPF (no libbpf headers on the machine) it is the timer alone.
 */
#define _GNU_SOURCE
#ifndef NO_LIBBPF
#include <bpf/libbpf.h>
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef SPLIT
#include <dlfcn.h>
#endif

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---- the timer ------------------------------------------------------------------ */

static int run_timed(char **argv) {
  double t0 = now_ns();
  pid_t pid = fork();
  if (pid < 0) {
    perror("cold-load: fork");
    return 1;
  }
  if (pid == 0) {
    close(3);
    execvp(argv[0], argv);
    fprintf(stderr, "cold-load: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) {
    perror("cold-load: wait4");
    return 1;
  }
  double t1 = now_ns();
  double cpu = (double)ru.ru_utime.tv_sec * 1e9 + (double)ru.ru_utime.tv_usec * 1e3 + (double)ru.ru_stime.tv_sec * 1e9 +
               (double)ru.ru_stime.tv_usec * 1e3;
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  dprintf(3, "{\"ns\":%.0f,\"cpu\":%.0f,\"status\":%d}\n", t1 - t0, cpu, code);
  return 0;
}

#ifndef NO_LIBBPF
/* ---- libbpf's messages: kept, shown only when the load fails ---------------------- */

static char msgs[16384];
static size_t msgs_len;

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap) {
  if (level == LIBBPF_DEBUG) return 0;
  int n = vsnprintf(msgs + msgs_len, sizeof msgs - msgs_len, fmt, ap);
  if (n > 0) msgs_len += (size_t)n < sizeof msgs - msgs_len ? (size_t)n : sizeof msgs - msgs_len - 1;
  return n;
}

/* ---- time inside bpf(2), for -s ---------------------------------------------------- */

#ifdef SPLIT
/* libbpf reads /sys/kernel/btf/vmlinux with stdio (btf__parse_raw: fopen, fread, parse,
 * fclose): fopen64 to fclose of that file is its read and parse. */
static double vmlinux_ns, vmlinux_t0;
static FILE *vmlinux_file;

FILE *fopen64(const char *path, const char *mode) {
  static FILE *(*real)(const char *, const char *);
  if (!real) real = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen64");
  double t0 = now_ns();
  FILE *f = real(path, mode);
  if (f && path && strcmp(path, "/sys/kernel/btf/vmlinux") == 0) {
    vmlinux_file = f;
    vmlinux_t0 = t0;
  }
  return f;
}

int fclose(FILE *f) {
  static int (*real)(FILE *);
  if (!real) real = (int (*)(FILE *))dlsym(RTLD_NEXT, "fclose");
  if (f && f == vmlinux_file) {
    vmlinux_file = NULL;
    int r = real(f);
    vmlinux_ns += now_ns() - vmlinux_t0;
    return r;
  }
  return real(f);
}

static double bpf_ns;
static unsigned long bpf_calls;

long syscall(long number, ...) {
  static long (*real)(long, ...);
  if (!real) real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
  va_list ap;
  va_start(ap, number);
  long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
  long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
  va_end(ap);
  if (number != __NR_bpf) return real(number, a1, a2, a3, a4, a5, a6);
  double t0 = now_ns();
  long r = real(number, a1, a2, a3, a4, a5, a6);
  int e = errno;
  bpf_ns += now_ns() - t0;
  bpf_calls++;
  errno = e;
  return r;
}
#endif

static int load_object(int argc, char **argv);
#endif

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "-t") == 0) return run_timed(argv + 2);
#ifdef NO_LIBBPF
  fprintf(stderr, "usage: cold-load -t CMD [ARG...] (built without libbpf)\n");
  return 2;
#else
  return load_object(argc, argv);
#endif
}

#ifndef NO_LIBBPF
static int load_object(int argc, char **argv) {
  int split = argc == 3 && strcmp(argv[1], "-s") == 0;
  if (argc != 2 && !split) {
    fprintf(stderr, "usage: cold-load OBJ | cold-load -s OBJ | cold-load -t CMD [ARG...]\n");
    return 2;
  }
  const char *path = argv[argc - 1];
  double t0 = now_ns();
  libbpf_set_print(print_fn);
  struct bpf_object *obj = bpf_object__open_file(path, NULL);
  if (!obj) {
    int e = errno;
    fprintf(stderr, "cold-load: bpf_object__open_file(%s): %s\n%s", path, strerror(e), msgs);
    return 1;
  }
  double t1 = now_ns();
  int err = bpf_object__load(obj);
  double t2 = now_ns();
  if (err) {
    fprintf(stderr, "cold-load: bpf_object__load(%s): %s\n%s", path, strerror(-err), msgs);
    bpf_object__close(obj);
    return 1;
  }
  bpf_object__close(obj);
  double t3 = now_ns();
  if (split) {
#ifdef SPLIT
    printf("{\"open\":%.0f,\"load\":%.0f,\"close\":%.0f,\"bpf\":%.0f,\"bpf_calls\":%lu,\"vmlinux\":%.0f}\n", t1 - t0, t2 - t1, t3 - t2, bpf_ns,
           bpf_calls, vmlinux_ns);
#else
    (void)t0, (void)t1, (void)t2, (void)t3;
    fprintf(stderr, "cold-load: -s needs the -DSPLIT build\n");
    return 2;
#endif
  }
  return 0;
}
#endif
