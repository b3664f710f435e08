// The raw layer ('tsbpf/sys'): one function per bpf command, the native seam, errno
// helpers. Fault injection (replaceKernel) is in 'tsbpf/testing', possibleCpus in 'tsbpf'.
export * from './bpf.js';
export { Attr, cString, readCString, ptrWords } from './attr.js';
export { SyscallError, Errno, errnoCode } from './errors.js';
export { kernel } from './native.js';
export type { Kernel, Watch } from './native.js';
export { FdOwner } from './fd.js';
export type { Scratch } from './scratch.js';
export type { MapCreateFields } from './abi/attr.js';
export * from './link.js';
export * from './socket.js';
export * from './perf.js';
/** A small rtnetlink client (XDP through IFLA_XDP, clsact qdiscs, cls_bpf filters), one socket per request. */
export * as netlink from './netlink.js';
export * from './pidfd.js';
