// Calls the kernel answers with "try again" for a reason that has passed by the time
// the call is made again. Only where the kernel documents it and a second call is the
// same request: BPF_PROG_LOAD's EAGAIN (the verifier stopped for a pending signal, as
// libbpf retries it), EINTR of BPF_PROG_TEST_RUN (a signal during the repeat loop),
// perf_event_open (waiting for the task's exec lock) and netlink send/recv (a signal
// while blocked; SO_RCVTIMEO sockets are not restarted by SA_RESTART). A close(2) that
// reports EINTR is never retried: Linux has released the descriptor already.

/** Calls in all (the first and the retries) before the failure is reported. */
export const ATTEMPTS = 5;

/** Makes `call` (-errno on failure) again while it fails with `errno`, at most ATTEMPTS calls in all. */
export function retrying(errno: number, call: () => number): number {
  let r = call();
  for (let n = 1; n < ATTEMPTS && r === -errno; n++) r = call();
  return r;
}
