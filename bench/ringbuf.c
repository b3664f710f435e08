/* bench/ringbuf.c: the C baseline of bench/ringbuf.ts, with libbpf (1.1.2 here).
 *
 * Records come from bpf/ringbuf.o's `produce` (a syscall program run with
 * BPF_PROG_TEST_RUN: `count` records of `size` bytes, bpf_ringbuf_output into rb).
 *
 *   ringbuf OBJ consume SIZE COUNT ROUNDS   fill the ring with as many records as fit
 *        (9/10 of it) by test runs, then time ring_buffer__consume alone; again until
 *        COUNT records (so that a round lasts long enough to time)
 *   ringbuf OBJ pc SIZE COUNT ROUNDS        one thread: a test run of BATCH records,
 *        then ring_buffer__consume, until COUNT records; timed as a whole
 *   ringbuf OBJ xcpu SIZE COUNT ROUNDS      a producer process (fork, the loop of
 *        `produce` below) writes COUNT records in test runs of BATCH; this process waits
 *        in ring_buffer__poll and consumes; timed from the first record to the last
 *   ringbuf produce PROG_ID MAP_ID SIZE COUNT   the producer loop alone, on a program
 *        and ring opened by id (bench/ringbuf.ts's two-CPU case runs it as its producer)
 *
 * The producer loop is paced by the consumer: before each test run it waits (spinning)
 * until the ring has room for the whole batch, reading consumer_pos from its own
 * read-only mapping of the ring. So no record is dropped and the two-CPU figure is how
 * fast records go through producer, wakeup and consumer together: the slower of the
 * producer and the consumer sets it. Each run asks for one wakeup, on its last record
 * (WAKE_LAST): with the kernel's default, a consumer that keeps up is woken for every
 * record and the wakeups slow the producer, so the faster consumer measured slower.
 *
 * Prints one JSON object: {"ns": [ns per record, one per round], "cpu": [the consumer
 * process's CPU time per record (xcpu)], "drops": [records the program could not write
 * (ring full), one per round], "records": consumed per round}.
 * The ring is 4 MiB; before the rounds, twice its size in records is produced and
 * consumed, so that every page of the mapping has been touched (no page faults timed). The callback reads each record's first u32 (as the JS side does).
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RING_SIZE (4u << 20)
#define BATCH 64u
#define FILL_CHUNK 65536u
#define MAX_ROUNDS 64
/* bpf/ringbuf.c: one wakeup a test run, on its last record */
#define WAKE_LAST (1u << 31)

struct produce_args {
	uint32_t count, size, seq, discard_every, ring, flags, written, failed;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t sum, seen, first_ns, last_ns;

static int on_sample(void *ctx, void *data, size_t len)
{
	(void)ctx;
	(void)len;
	sum += *(uint32_t *)data;
	seen++;
	return 0;
}

static uint64_t expected;

/* The clock is read at the first record and at the last expected one only. */
static int on_sample_timed(void *ctx, void *data, size_t len)
{
	on_sample(ctx, data, len);
	if (!first_ns)
		first_ns = now_ns();
	else if (seen == expected)
		last_ns = now_ns();
	return 0;
}

/* One test run of `count` records; the records the ring refused. */
static uint32_t produce(int prog_fd, uint32_t size, uint32_t count, uint32_t flags)
{
	struct produce_args a = {.count = count, .size = size, .flags = flags};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &a, .ctx_size_in = sizeof(a));
	if (bpf_prog_test_run_opts(prog_fd, &opts)) {
		perror("bpf_prog_test_run_opts");
		exit(1);
	}
	return a.failed;
}

/* The producer of the two-CPU case: COUNT records in test runs of BATCH, each run when
 * the ring has room for all of it (the ring's positions mapped read-only). */
static uint64_t produce_loop(int prog_fd, int map_fd, uint32_t size, uint64_t count)
{
	long page = sysconf(_SC_PAGESIZE);
	volatile uint64_t *cons = mmap(NULL, page, PROT_READ, MAP_SHARED, map_fd, 0);
	volatile uint64_t *prod = mmap(NULL, page, PROT_READ, MAP_SHARED, map_fd, page);
	if (cons == MAP_FAILED || prod == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	uint64_t drops = 0;
	for (uint64_t done = 0; done < count; done += BATCH) {
		uint32_t n = count - done < BATCH ? (uint32_t)(count - done) : BATCH;
		uint64_t need = (uint64_t)n * ((size + 15) & ~7u);
		while (__atomic_load_n(prod, __ATOMIC_ACQUIRE) - __atomic_load_n(cons, __ATOMIC_ACQUIRE) + need > RING_SIZE)
			__builtin_ia32_pause();
		drops += produce(prog_fd, size, n, WAKE_LAST);
	}
	munmap((void *)cons, page);
	munmap((void *)prod, page);
	return drops;
}

static double cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

int main(int argc, char **argv)
{
	struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
	setrlimit(RLIMIT_MEMLOCK, &rl);
	if (argc == 6 && !strcmp(argv[1], "produce")) {
		int fd = bpf_prog_get_fd_by_id(atoi(argv[2]));
		int map_fd = bpf_map_get_fd_by_id(atoi(argv[3]));
		if (fd < 0 || map_fd < 0) {
			perror("bpf_prog_get_fd_by_id");
			return 1;
		}
		uint64_t drops = produce_loop(fd, map_fd, atoi(argv[4]), strtoull(argv[5], NULL, 10));
		printf("{\"drops\":%llu}\n", (unsigned long long)drops);
		return 0;
	}
	if (argc != 6) {
		fprintf(stderr, "usage: ringbuf OBJ consume|pc|xcpu SIZE COUNT ROUNDS | ringbuf produce PROG_ID MAP_ID SIZE COUNT\n");
		return 2;
	}
	const char *mode = argv[2];
	uint32_t size = atoi(argv[3]);
	uint64_t count = strtoull(argv[4], NULL, 10);
	int rounds = atoi(argv[5]);
	if (rounds < 1 || rounds > MAX_ROUNDS || !count || !size || size > 4096)
		return 2;

	libbpf_set_print(NULL);
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		perror("bpf_object__open_file");
		return 1;
	}
	struct bpf_map *map = bpf_object__find_map_by_name(obj, "rb");
	bpf_map__set_max_entries(map, RING_SIZE);
	if (bpf_object__load(obj)) {
		perror("bpf_object__load");
		return 1;
	}
	int prog_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "produce"));
	int xcpu = !strcmp(mode, "xcpu");
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(map), xcpu ? on_sample_timed : on_sample, NULL, NULL);
	if (!rb) {
		perror("ring_buffer__new");
		return 1;
	}

	uint64_t warm = 2ull * RING_SIZE / ((size + 15) & ~7u);
	for (uint64_t done = 0; done < warm; done += FILL_CHUNK / 4) {
		produce(prog_fd, size, FILL_CHUNK / 4, 0);
		ring_buffer__consume(rb);
	}
	sum = 0;

	double ns[MAX_ROUNDS], cpu[MAX_ROUNDS];
	uint64_t drops[MAX_ROUNDS], records[MAX_ROUNDS];
	for (int r = 0; r < rounds; r++) {
		drops[r] = 0;
		seen = 0;
		cpu[r] = 0;
		if (!strcmp(mode, "consume")) {
			uint64_t fit = RING_SIZE / ((size + 15) & ~7u) * 9 / 10, timed = 0;
			for (uint64_t done = 0; done < count; done += fit) {
				uint64_t n = count - done < fit ? count - done : fit;
				for (uint64_t d = 0; d < n; d += FILL_CHUNK)
					drops[r] += produce(prog_fd, size, n - d < FILL_CHUNK ? (uint32_t)(n - d) : FILL_CHUNK, 0);
				uint64_t t0 = now_ns();
				ring_buffer__consume(rb);
				timed += now_ns() - t0;
			}
			ns[r] = (double)timed / (double)seen;
		} else if (!strcmp(mode, "pc")) {
			uint64_t t0 = now_ns();
			for (uint64_t done = 0; done < count; done += BATCH) {
				drops[r] += produce(prog_fd, size, count - done < BATCH ? (uint32_t)(count - done) : BATCH, 0);
				ring_buffer__consume(rb);
			}
			ns[r] = (double)(now_ns() - t0) / (double)seen;
		} else if (xcpu) {
			first_ns = last_ns = 0;
			expected = count;
			int pipefd[2];
			if (pipe(pipefd))
				return 1;
			double cpu0 = cpu_ns();
			pid_t pid = fork();
			if (pid == 0) {
				uint64_t d = produce_loop(prog_fd, bpf_map__fd(map), size, count);
				if (write(pipefd[1], &d, sizeof(d)) != sizeof(d))
					_exit(1);
				_exit(0);
			}
			close(pipefd[1]);
			int status;
			while (waitpid(pid, &status, WNOHANG) == 0)
				ring_buffer__poll(rb, 10);
			ring_buffer__consume(rb);
			cpu[r] = (cpu_ns() - cpu0) / (double)seen;
			uint64_t d = 0;
			if (read(pipefd[0], &d, sizeof(d)) != sizeof(d))
				return 1;
			close(pipefd[0]);
			drops[r] = d;
			ns[r] = last_ns ? (double)(last_ns - first_ns) / (double)(seen - 1) : -1;
		} else {
			return 2;
		}
		records[r] = seen;
	}
	printf("{\"ns\":[");
	for (int r = 0; r < rounds; r++)
		printf("%s%.3f", r ? "," : "", ns[r]);
	printf("],\"cpu\":[");
	for (int r = 0; r < rounds; r++)
		printf("%s%.3f", r ? "," : "", cpu[r]);
	printf("],\"drops\":[");
	for (int r = 0; r < rounds; r++)
		printf("%s%llu", r ? "," : "", (unsigned long long)drops[r]);
	printf("],\"records\":[");
	for (int r = 0; r < rounds; r++)
		printf("%s%llu", r ? "," : "", (unsigned long long)records[r]);
	printf("],\"sum\":%llu}\n", (unsigned long long)sum);
	ring_buffer__free(rb);
	bpf_object__close(obj);
	return 0;
}
