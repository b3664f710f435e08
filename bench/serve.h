/* bench/serve.h: the serving mode of the C baselines (-S REQ,RESP).
 *
 * The TypeScript side runs the C rounds between its own, finely interleaved, so it
 * keeps one C process and asks it for each round over two FIFOs: a request line
 * "CASE N" runs the case N times (after setup, with the same warm state as the
 * previous round) and the reply line is "WALL_NS CPU_NS UNITS": wall time
 * (CLOCK_MONOTONIC), CPU time of the process (CLOCK_PROCESS_CPUTIME_ID: user +
 * system, this process has one thread) and how many units (operations, elements)
 * the round did, 0 for an unknown case. The FIFOs are opened before setup, so that a
 * failing setup shows as end of file on the other side instead of a hang. */
#ifndef TSBPF_BENCH_SERVE_H
#define TSBPF_BENCH_SERVE_H
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Runs case `name` `n` times; returns the units done (0: no such case). */
typedef uint64_t (*serve_run)(const char *name, uint64_t n);

static FILE *serve_in, *serve_out;

static uint64_t serve_clock(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Opens the FIFOs named by "REQ,RESP" (the request side first, as the peer does). */
static int serve_open(const char *paths) {
  char req[512];
  const char *comma = strchr(paths, ',');
  if (!comma || (size_t)(comma - paths) >= sizeof req) return -1;
  memcpy(req, paths, (size_t)(comma - paths));
  req[comma - paths] = 0;
  serve_in = fopen(req, "r");
  if (!serve_in) return -1;
  serve_out = fopen(comma + 1, "w");
  return serve_out ? 0 : -1;
}

/* Answers requests until end of file. */
static int serve_loop(serve_run run) {
  char line[256], name[128];
  unsigned long long n;
  while (fgets(line, sizeof line, serve_in)) {
    if (sscanf(line, "%127s %llu", name, &n) != 2) {
      fprintf(serve_out, "0 0 0\n");
      fflush(serve_out);
      continue;
    }
    uint64_t w0 = serve_clock(CLOCK_MONOTONIC), c0 = serve_clock(CLOCK_PROCESS_CPUTIME_ID);
    uint64_t units = run(name, n);
    uint64_t c1 = serve_clock(CLOCK_PROCESS_CPUTIME_ID), w1 = serve_clock(CLOCK_MONOTONIC);
    fprintf(serve_out, "%llu %llu %llu\n", (unsigned long long)(w1 - w0), (unsigned long long)(c1 - c0), (unsigned long long)units);
    fflush(serve_out);
  }
  return 0;
}
#endif
