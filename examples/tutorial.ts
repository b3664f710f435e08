// The README's five-minute tutorial, word for word below this comment (the README imports
// from 'tsbpf'; test/tutorial.test.ts checks the two agree and runs this file):
//   node dist/examples/tutorial.js bpf/tutorial.o
import { Ebpf, HashMap, TracePoint, cstring, u64 } from '../src/index.js';

const ebpf = Ebpf.load(process.argv[2] ?? 'opens.bpf.o');
try {
  // SEC("tracepoint/syscalls/sys_enter_openat") names the target: attach() needs no arguments.
  const link = ebpf.program('count_openat', TracePoint).attach();
  try {
    // The map's key is char[16], its value __u64: a HashMap<string, bigint>.
    const opens = ebpf.map('opens', HashMap, cstring(16), u64);
    const show = () => {
      const top = [...opens].sort(([, a], [, b]) => Number(b - a)).slice(0, 5);
      console.log(top.map(([comm, n]) => `${comm.padEnd(16)} ${n}`).join('\n') + '\n');
    };
    console.log('Counting openat(2) calls per command. Ctrl-C to stop.');
    const timer = setInterval(show, 1000);
    await new Promise((resolve) => process.once('SIGINT', resolve));
    clearInterval(timer);
    show();
  } finally {
    link.close(); // detaches the program
  }
} finally {
  ebpf.close(); // unloads the program, frees the map
  console.log('Detached, bye.');
}
