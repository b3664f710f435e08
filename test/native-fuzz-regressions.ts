// Inputs the native fuzzer once failed on, replayed first by test/native-fuzz.test.ts.
//
// seeds: batches (seed, calls) that crashed the addon before its ABI rules were fixed
// (found with this generator against that addon: `npm run fuzz:native -- --addon
// old.node`); each count runs just past the crashing call. The generator is
// deterministic, so a seed replays the same calls as long as test/native-fuzz.ts's
// generator is unchanged; the argument lists of the defects found are also kept as
// named tests in test/native-abi.test.ts (perf ring data pages, a 16 GiB mmap,
// sigtrap, setrlimit, attr_len cuts, nested info bounds, sizes without /proc).
export interface FuzzRegression {
  seed: number;
  calls: number;
  /** What the addon did wrong with it. */
  found: string;
}

// Against the addon before its rules were fixed (batch seeds 500..511): every batch died.
// "after it returned": the call returned and what followed died (its damage showed later).
export const seeds: FuzzRegression[] = [
  { seed: 500, calls: 356, found: "SIGABRT at ioctl(...) (after it returned)" },
  { seed: 501, calls: 568, found: "SIGBUS at mmap(...) (after it returned)" },
  { seed: 502, calls: 13, found: "SIGTRAP at bpf(...) (after it returned)" },
  { seed: 503, calls: 695, found: "SIGABRT at bpfIo(...) (after it returned)" },
  { seed: 504, calls: 405, found: "SIGBUS at mmap(...) (after it returned)" },
  { seed: 505, calls: 312, found: "SIGBUS at bpf(...)" },
  { seed: 506, calls: 1942, found: "SIGABRT at setrlimit(...) (after it returned)" },
  { seed: 507, calls: 2000, found: "SIGSEGV at bpf(...) (after it returned)" },
  { seed: 508, calls: 150, found: "SIGXCPU at setrlimit(...)" },
  { seed: 509, calls: 305, found: "SIGKILL at mmap(...) (after it returned)" },
  { seed: 510, calls: 508, found: "SIGSEGV at bpfIo(...) (after it returned)" },
  { seed: 511, calls: 61, found: "SIGABRT at mmap(...) (after it returned)" },
];
