/* bench/perfbuf.c: the C baseline of bench/perfbuf.ts, with libbpf's perf buffer.
 *
 * Loads bpf/perf_output.o with libbpf, opens a perf buffer on its `events` map
 * (perf_buffer__new: one BPF-output perf event and ring per CPU), and per round:
 * sets config {size, count}, makes the records with PROG_TEST_RUN of emit_xdp
 * (repeat n / count, count = min(n, 256) records per run, all on the CPU the run is
 * on), then times perf_buffer__consume alone, whose sample callback reads the record's
 * first u32 (the sequence number) into a sum, as the JavaScript side does.
 *
 * Usage: perfbuf OBJECT -s record_bytes -n records -p pages_per_cpu -r rounds
 *   Prints one JSON object: {"ns": [ns per record, one per round], "records": [...],
 *   "lost": total lost samples, "sum": checksum}.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t sum, seen, lost;

static void on_sample(void *ctx, int cpu, void *data, uint32_t size) {
  (void)ctx; (void)cpu; (void)size;
  uint32_t seq;
  memcpy(&seq, data, 4);
  sum += seq;
  seen++;
}

static void on_lost(void *ctx, int cpu, unsigned long long n) {
  (void)ctx; (void)cpu;
  lost += n;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
  int size = 16, n = 25600, pages = 256, rounds = 5, opt;
  if (argc < 2) { fprintf(stderr, "usage: perfbuf OBJECT -s bytes -n records -p pages -r rounds\n"); return 2; }
  const char *path = argv[1];
  optind = 2;
  while ((opt = getopt(argc, argv, "s:n:p:r:")) != -1) {
    switch (opt) {
      case 's': size = atoi(optarg); break;
      case 'n': n = atoi(optarg); break;
      case 'p': pages = atoi(optarg); break;
      case 'r': rounds = atoi(optarg); break;
      default: return 2;
    }
  }
  libbpf_set_print(NULL);
  struct bpf_object *obj = bpf_object__open_file(path, NULL);
  if (!obj || bpf_object__load(obj)) { fprintf(stderr, "cannot load %s\n", path); return 1; }
  int events = bpf_object__find_map_fd_by_name(obj, "events");
  int config = bpf_object__find_map_fd_by_name(obj, "config");
  struct bpf_program *prog = bpf_object__find_program_by_name(obj, "emit_xdp");
  if (events < 0 || config < 0 || !prog) { fprintf(stderr, "object lacks events/config/emit_xdp\n"); return 1; }
  struct perf_buffer *pb = perf_buffer__new(events, (size_t)pages, on_sample, on_lost, NULL, NULL);
  if (!pb) { perror("perf_buffer__new"); return 1; }
  int count = n < 256 ? n : 256;
  uint32_t cfg[4] = {(uint32_t)size, (uint32_t)count, 0, 0}, zero = 0;
  if (bpf_map_update_elem(config, &zero, cfg, 0)) { perror("config"); return 1; }
  uint8_t pkt[64] = {0};
  LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = pkt, .data_size_in = sizeof pkt, .repeat = (uint32_t)(n / count));
  printf("{\"ns\": [");
  uint64_t *records = calloc((size_t)rounds, sizeof *records);
  for (int r = 0; r < rounds; r++) {
    if (bpf_prog_test_run_opts(bpf_program__fd(prog), &run)) { perror("test run"); return 1; }
    uint64_t before = seen;
    uint64_t t0 = now_ns();
    perf_buffer__consume(pb);
    uint64_t t1 = now_ns();
    records[r] = seen - before;
    printf("%s%.3f", r ? ", " : "", records[r] ? (double)(t1 - t0) / (double)records[r] : 0.0);
  }
  printf("], \"records\": [");
  for (int r = 0; r < rounds; r++) printf("%s%llu", r ? ", " : "", (unsigned long long)records[r]);
  printf("], \"lost\": %llu, \"sum\": %llu}\n", (unsigned long long)lost, (unsigned long long)sum);
  perf_buffer__free(pb);
  bpf_object__close(obj);
  return 0;
}
