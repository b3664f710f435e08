// Feature probes against the real kernel: the answers must match what this machine's
// configuration (/proc/config.gz) and policy allow, and each probe runs once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import {
  AttachType,
  clearFeatureCache,
  isHelperSupported,
  isLinkTypeSupported,
  isMapTypeSupported,
  isProgramTypeSupported,
  LinkType,
  MapError,
  MapType,
  ProgramError,
  ProgramType,
  SyscallError,
} from '../src/index.js';
import { replaceKernel } from '../src/sys/native.js';
import { bpfCalls, fdCount } from './helpers.js';

// Taken before any test runs: the last test checks that every fd opened here was closed.
const fdsAtStart = fdCount();

const config = gunzipSync(readFileSync('/proc/config.gz')).toString();
const enabled = (name: string) => new RegExp(`^${name}=[ym]`, 'm').test(config);

test('program types: what loads here, what the kernel lacks, what it refuses', () => {
  for (const t of [ProgramType.SocketFilter, ProgramType.Kprobe, ProgramType.SchedCls, ProgramType.Xdp, ProgramType.Tracepoint,
    ProgramType.CgroupSkb, ProgramType.CgroupSockAddr, ProgramType.CgroupSockopt, ProgramType.SkLookup, ProgramType.Syscall,
    ProgramType.RawTracepoint, ProgramType.FlowDissector, ProgramType.StructOps, ProgramType.Netfilter]) {
    assert.equal(isProgramTypeSupported(t), true, `program type ${t}`);
  }
  assert.equal(isProgramTypeSupported(ProgramType.LircMode2), enabled('CONFIG_BPF_LIRC_MODE2'));
  assert.equal(isProgramTypeSupported(ProgramType.Unspec), false);
  assert.equal(isProgramTypeSupported(9999), false, 'a type from the future');
  // This kernel refuses fentry, lsm and freplace with EPERM before verification, but loads iterators.
  assert.equal(isProgramTypeSupported(ProgramType.Tracing), false);
  assert.equal(isProgramTypeSupported(ProgramType.Tracing, AttachType.TraceFentry), false);
  assert.equal(isProgramTypeSupported(ProgramType.Tracing, AttachType.TraceIter), true);
  assert.equal(isProgramTypeSupported(ProgramType.Lsm), false);
  assert.equal(isProgramTypeSupported(ProgramType.Ext), false);
});

test('map types: every type of this kernel', () => {
  for (const [name, type] of Object.entries(MapType)) {
    assert.equal(isMapTypeSupported(type), type !== MapType.Unspec, name);
  }
  assert.equal(isMapTypeSupported(9999), false);
});

test('helpers: allowed, unknown and forbidden for the program type', () => {
  const BPF_FUNC_map_lookup_elem = 1, BPF_FUNC_get_current_pid_tgid = 14, BPF_FUNC_redirect = 23;
  assert.equal(isHelperSupported(ProgramType.Xdp, BPF_FUNC_map_lookup_elem), true);
  assert.equal(isHelperSupported(ProgramType.Kprobe, BPF_FUNC_get_current_pid_tgid), true);
  assert.equal(isHelperSupported(ProgramType.SchedCls, BPF_FUNC_redirect), true);
  assert.equal(isHelperSupported(ProgramType.SocketFilter, BPF_FUNC_redirect), false, 'socket filters may not redirect');
  assert.equal(isHelperSupported(ProgramType.SocketFilter, 100000), false, 'no such helper');
  assert.equal(isHelperSupported(ProgramType.Lsm, BPF_FUNC_map_lookup_elem), false, 'the program type itself is refused');
});

test('link types', () => {
  const expected: Record<string, boolean> = {
    Unspec: false,
    RawTracepoint: true,
    Tracing: false, // fentry/fexit cannot load here
    Cgroup: true,
    Iter: true,
    Netns: true,
    Xdp: true,
    PerfEvent: true,
    KprobeMulti: enabled('CONFIG_FPROBE') && enabled('CONFIG_KPROBES'),
    StructOps: true,
    Netfilter: enabled('CONFIG_NETFILTER_BPF_LINK'),
    Tcx: true,
    UprobeMulti: enabled('CONFIG_UPROBES'),
    Netkit: enabled('CONFIG_NETKIT'),
    Sockmap: true,
  };
  for (const [name, type] of Object.entries(LinkType)) assert.equal(isLinkTypeSupported(type), expected[name], name);
});

test('answers are cached: a second question makes no system call', () => {
  isProgramTypeSupported(ProgramType.Xdp);
  isLinkTypeSupported(LinkType.Tcx);
  assert.deepEqual(bpfCalls(() => {
    isProgramTypeSupported(ProgramType.Xdp);
    isMapTypeSupported(MapType.Hash);
    isLinkTypeSupported(LinkType.Tcx);
  }), []);
});

test('an error that says nothing about the kernel is thrown, not taken for "unsupported"', (t) => {
  clearFeatureCache();
  t.after(() => clearFeatureCache());
  const restore = replaceKernel({ bpf: () => -14 /* EFAULT */ });
  try {
    // Typed as the probe's kind, the kernel's failure as its cause.
    assert.throws(() => isMapTypeSupported(MapType.Hash), (e: unknown) => e instanceof MapError && e.code === 'EFAULT' && e.cause instanceof SyscallError);
    assert.throws(() => isProgramTypeSupported(ProgramType.Xdp), (e: unknown) => e instanceof ProgramError && e.code === 'EFAULT' && e.cause instanceof SyscallError);
  } finally {
    restore();
  }
  const restore2 = replaceKernel({ bpf: () => -22 /* EINVAL */ });
  try {
    assert.equal(isMapTypeSupported(MapType.Hash), false);
  } finally {
    restore2();
  }
  clearFeatureCache();
  assert.equal(isMapTypeSupported(MapType.Hash), true);
});

test('no file descriptor leaked by this file', () => {
  assert.equal(fdCount(), fdsAtStart);
});
