// An AF_XDP socket that receives (Documentation/networking/af_xdp.rst): an XDP program
// redirects frames to it through an XskMap (bpf_redirect_map), and the kernel copies
// each into a frame of the UMEM, a memory area this socket registers, then tells user
// space where through the RX ring. User space hands empty frames to the kernel through
// the fill ring. Both rings are single-producer single-consumer rings of u32 indexes
// shared with the kernel (mapped at XDP_PGOFF_RX_RING and XDP_UMEM_PGOFF_FILL_RING):
//
//   fill ring  user space produces u64 UMEM addresses, the kernel consumes them
//   RX ring    the kernel produces struct xdp_desc {u64 addr; u32 len; u32 options},
//              user space consumes them
//
// The other side's index is read with Atomics.load (acquire), ours published with
// Atomics.store (release) only after the descriptors or the frame bytes it covers are
// written or read; the indexes run freely and wrap at 2^32. Each received frame is
// copied out of the UMEM and its frame put straight back on the fill ring, so every
// frame is always either the kernel's or in flight on the RX ring: the fill ring (at
// least frameCount entries) never runs out of room. The UMEM is anonymous memory the
// addon mapped: JS never passes the kernel an address.
import { XdpSocketError } from '../errors.js';
import { describeValue } from '../describe.js';
import { FdOwner } from '../sys/fd.js';
import { kernel, type Watch } from '../sys/native.js';
import { Errno, SyscallError } from '../sys/errors.js';
import { bind, getsockopt, setsockopt } from '../sys/socket.js';

const AF_XDP = 44;
const SOCK_RAW = 3;
const SOL_XDP = 283;
const XDP_MMAP_OFFSETS = 1;
const XDP_RX_RING = 2;
const XDP_UMEM_FILL_RING = 5;
const XDP_UMEM_COMPLETION_RING = 6;
const XDP_STATISTICS = 7;
const XDP_OPTIONS = 8;
const XDP_OPTIONS_ZEROCOPY = 1;
const XDP_COPY = 1 << 1;
const XDP_ZEROCOPY = 1 << 2;
const XDP_PGOFF_RX_RING = 0;
const XDP_UMEM_PGOFF_FILL_RING = 0x100000000;
const PROT_READ_WRITE = 3;
const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;
const MAP_POPULATE = 0x8000;
/** sizeof(struct xdp_desc) and of a fill ring entry (u64). */
const RX_DESC = 16;
const FILL_DESC = 8;
const MAX_RING = 1 << 20;

/** Options of an AF_XDP socket (4.18+): queue, UMEM frame count and size, ring size, copy or zero-copy mode. */
export interface XdpSocketOptions {
  /** The receive queue to bind to (default 0). An XDP program redirects a frame only to a socket bound to the queue it arrived on. */
  queue?: number;
  /** Frames in the UMEM (default 64): how many received frames the kernel can hold before user space takes them. */
  frameCount?: number;
  /**
   * Bytes per frame: a power of two from 2048 to the page size (default 4096). The kernel
   * keeps XDP_PACKET_HEADROOM (256 bytes) of each: longer frames than frameSize - 256 are
   * dropped (counted in statistics().rxDropped).
   */
  frameSize?: number;
  /** Entries of the fill and RX rings: a power of two, at least frameCount (default: frameCount rounded up to one). */
  ringSize?: number;
  /**
   * 'copy' (default): the kernel copies frames into the UMEM, on any driver. 'zerocopy':
   * the driver receives straight into the UMEM; XdpSocketError 'NotSupported' where it cannot.
   */
  mode?: 'copy' | 'zerocopy';
}

/** The kernel's counters of an AF_XDP socket (struct xdp_statistics). */
export interface XdpSocketStatistics {
  /** Frames dropped for other reasons (one longer than a frame, ...). */
  rxDropped: bigint;
  /** RX descriptors the kernel found invalid. */
  rxInvalidDescs: bigint;
  txInvalidDescs: bigint;
  /** Frames dropped because the RX ring was full. */
  rxRingFull: bigint;
  /** Times the kernel found the fill ring empty (no frame to receive into). */
  rxFillRingEmptyDescs: bigint;
  txRingEmptyDescs: bigint;
}

/** One ring: its mapping and, as u32 views, its producer and consumer indexes and descriptors. */
interface Ring {
  mapping: ArrayBuffer;
  producer: Uint32Array;
  consumer: Uint32Array;
  descs: Uint32Array;
  mask: number;
}

const invalid = (why: string) => new XdpSocketError('InvalidArgument', why);

function powerOfTwo(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max || (value & (value - 1)) !== 0) {
    throw invalid(`${what} must be a power of two from ${min} to ${max}, got ${describeValue(value)}`);
  }
  return value;
}

function interfaceIndex(iface: unknown): number {
  if (typeof iface === 'number') {
    if (Number.isInteger(iface) && iface > 0 && iface <= 0xffffffff) return iface;
  } else if (typeof iface === 'string') {
    const index = iface.length > 0 && iface.length < 16 && !iface.includes('\0') ? kernel.ifNameToIndex(iface) : 0;
    if (index > 0) return index;
    throw invalid(`no network interface named ${describeValue(iface)}`);
  }
  throw invalid(`expected an interface index or name, got ${describeValue(iface)}`);
}

function syscallFailed(err: unknown, what: string): XdpSocketError {
  if (!(err instanceof SyscallError)) throw err;
  return new XdpSocketError('SyscallError', `${what}: ${err.message}`, { cause: err });
}

/** A mapping made by kernel.mmap, or its SyscallError. */
function mapped(result: ArrayBuffer | number, what: string): ArrayBuffer {
  if (typeof result === 'number') throw syscallFailed(new SyscallError('mmap', -result), what);
  return result;
}

/**
 * An AF_XDP socket bound to one queue of one interface in copy mode (or zero-copy), with
 * its own UMEM, that receives the frames an XDP program redirects to it through an
 * XskMap: `xsks.set(queue, socket.fd)`, and in the program
 * `bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS)`.
 *
 * @example
 * ```ts
 * using xsk = XdpSocket.create('eth0', { queue: 0 });
 * xsks.set(0, xsk.fd);
 * await xsk.readable();
 * for (const frame of xsk.receive()) console.log(frame.length);
 * ```
 */
export class XdpSocket extends FdOwner {
  /** The interface index bound to. */
  readonly ifindex: number;
  /** The receive queue bound to. */
  readonly queue: number;
  /** Bytes per UMEM frame (the longest frame received is 256 bytes shorter: XDP_PACKET_HEADROOM). */
  readonly frameSize: number;
  /** Frames in the UMEM. */
  readonly frameCount: number;
  /** True when the driver receives into the UMEM directly (XDP_OPTIONS_ZEROCOPY). */
  readonly zeroCopy: boolean;
  #umem: ArrayBuffer | undefined;
  #umemBytes: Uint8Array | undefined;
  #fill: Ring | undefined;
  #rx: Ring | undefined;
  #fillProducer = 0;
  #rxConsumer = 0;
  #watch: Watch | undefined;
  #wakers: (() => void)[] = [];

  /**
   * Creates the socket and its UMEM, sets up the fill and RX rings, hands every frame to
   * the fill ring and binds to (interface, queue). XdpSocketError 'NotSupported' when the
   * kernel has no AF_XDP, or zero-copy was asked of a driver without it.
   */
  static create(iface: number | string, options: XdpSocketOptions = {}): XdpSocket {
    if (typeof options !== 'object' || options === null) throw invalid(`expected an options object, got ${describeValue(options)}`);
    const ifindex = interfaceIndex(iface);
    const queue = options.queue ?? 0;
    if (typeof queue !== 'number' || !Number.isInteger(queue) || queue < 0 || queue > 0xffffffff) throw invalid(`queue must be a u32, got ${describeValue(queue)}`);
    const frameSize = powerOfTwo(options.frameSize ?? 4096, 'frameSize', 2048, 65536);
    const frameCount = options.frameCount ?? 64;
    if (typeof frameCount !== 'number' || !Number.isInteger(frameCount) || frameCount < 1 || frameCount > MAX_RING || frameCount * frameSize > 2 ** 31) {
      throw invalid(`frameCount must be an integer from 1 to ${MAX_RING}, with frameCount * frameSize at most 2 GiB, got ${describeValue(frameCount)}`);
    }
    const ringSize = powerOfTwo(options.ringSize ?? 2 ** Math.ceil(Math.log2(frameCount)), 'ringSize', 1, MAX_RING);
    if (ringSize < frameCount) throw invalid(`ringSize (${ringSize}) must be at least frameCount (${frameCount})`);
    const mode = options.mode ?? 'copy';
    if (mode !== 'copy' && mode !== 'zerocopy') throw invalid(`mode must be 'copy' or 'zerocopy', got ${describeValue(mode)}`);

    const fd = kernel.socket(AF_XDP, SOCK_RAW, 0);
    if (fd === -Errno.EAFNOSUPPORT) throw new XdpSocketError('NotSupported', 'this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS)', { feature: 'AF_XDP' });
    if (fd < 0) throw syscallFailed(new SyscallError('socket(AF_XDP)', -fd), 'AF_XDP socket');
    const sock = new XdpSocket(fd, ifindex, queue, frameSize, frameCount);
    try {
      sock.#setUp(ringSize, mode);
    } catch (err) {
      sock.close();
      throw err;
    }
    return sock;
  }

  private constructor(fd: number, ifindex: number, queue: number, frameSize: number, frameCount: number) {
    super(fd);
    this.ifindex = ifindex;
    this.queue = queue;
    this.frameSize = frameSize;
    this.frameCount = frameCount;
    this.zeroCopy = false;
  }

  #setUp(ringSize: number, mode: 'copy' | 'zerocopy'): void {
    const fd = this.fd;
    const step = <T>(what: string, call: () => T): T => {
      try {
        return call();
      } catch (err) {
        throw syscallFailed(err, what);
      }
    };
    this.#umem = mapped(kernel.mmap(-1, this.frameCount * this.frameSize, PROT_READ_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0), 'UMEM');
    this.#umemBytes = new Uint8Array(this.#umem);
    step('XDP_UMEM_REG', () => {
      const r = kernel.xskUmemReg(fd, this.#umem!, this.frameSize, 0, 0);
      if (r < 0) throw new SyscallError('setsockopt(XDP_UMEM_REG)', -r);
    });
    step('XDP_UMEM_FILL_RING', () => setsockopt(fd, SOL_XDP, XDP_UMEM_FILL_RING, ringSize, 'setsockopt(XDP_UMEM_FILL_RING)'));
    // The kernel binds only with both UMEM rings; this socket never transmits, so the completion ring stays unmapped.
    step('XDP_UMEM_COMPLETION_RING', () => setsockopt(fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, 1, 'setsockopt(XDP_UMEM_COMPLETION_RING)'));
    step('XDP_RX_RING', () => setsockopt(fd, SOL_XDP, XDP_RX_RING, ringSize, 'setsockopt(XDP_RX_RING)'));

    // struct xdp_mmap_offsets: rx, tx, fr, cr, each {producer, consumer, desc, flags} (u64).
    const offsets = new Uint8Array(128);
    step('XDP_MMAP_OFFSETS', () => getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, offsets));
    const dv = new DataView(offsets.buffer);
    const ringAt = (base: number, pgoff: number, descSize: number, what: string): Ring => {
      const producer = Number(dv.getBigUint64(base, true));
      const consumer = Number(dv.getBigUint64(base + 8, true));
      const desc = Number(dv.getBigUint64(base + 16, true));
      const mapping = mapped(kernel.mmap(fd, desc + ringSize * descSize, PROT_READ_WRITE, MAP_SHARED | MAP_POPULATE, pgoff), what);
      return {
        mapping,
        producer: new Uint32Array(mapping, producer, 1),
        consumer: new Uint32Array(mapping, consumer, 1),
        descs: new Uint32Array(mapping, desc, (ringSize * descSize) / 4),
        mask: ringSize - 1,
      };
    };
    this.#rx = ringAt(0, XDP_PGOFF_RX_RING, RX_DESC, 'RX ring');
    this.#fill = ringAt(64, XDP_UMEM_PGOFF_FILL_RING, FILL_DESC, 'fill ring');

    // Every frame to the kernel before binding, so the first frame already has room.
    const fill = this.#fill;
    let prod = Atomics.load(fill.producer, 0);
    for (let i = 0; i < this.frameCount; i++, prod = (prod + 1) >>> 0) {
      const slot = (prod & fill.mask) * 2;
      fill.descs[slot] = i * this.frameSize;
      fill.descs[slot + 1] = 0;
    }
    Atomics.store(fill.producer, 0, prod);
    this.#fillProducer = prod;
    this.#rxConsumer = Atomics.load(this.#rx.consumer, 0);

    // struct sockaddr_xdp {u16 family; u16 flags; u32 ifindex; u32 queue_id; u32 shared_umem_fd}
    const addr = new DataView(new ArrayBuffer(16));
    addr.setUint16(0, AF_XDP, true);
    addr.setUint16(2, mode === 'copy' ? XDP_COPY : XDP_ZEROCOPY, true);
    addr.setUint32(4, this.ifindex, true);
    addr.setUint32(8, this.queue, true);
    try {
      bind(fd, new Uint8Array(addr.buffer));
    } catch (err) {
      if (mode === 'zerocopy' && err instanceof SyscallError && (err.errno === Errno.EOPNOTSUPP || err.errno === Errno.ENOTSUP)) {
        throw new XdpSocketError('NotSupported', `interface ${this.ifindex} cannot receive into a UMEM directly (zero-copy): ${err.message}`, { feature: 'AF_XDP zero-copy', cause: err });
      }
      throw syscallFailed(err, `bind to interface ${this.ifindex} queue ${this.queue}`);
    }
    const opts = new Uint8Array(4);
    step('XDP_OPTIONS', () => getsockopt(fd, SOL_XDP, XDP_OPTIONS, opts));
    (this as { zeroCopy: boolean }).zeroCopy = (new DataView(opts.buffer).getUint32(0, true) & XDP_OPTIONS_ZEROCOPY) !== 0;
  }

  protected closedError(): Error {
    return new XdpSocketError('Closed', 'the AF_XDP socket is closed');
  }

  #rings(): { rx: Ring; fill: Ring; umem: Uint8Array } {
    if (this.closed || !this.#rx || !this.#fill || !this.#umemBytes) throw this.closedError();
    return { rx: this.#rx, fill: this.#fill, umem: this.#umemBytes };
  }

  /** Frames waiting in the RX ring. */
  get pending(): number {
    const { rx } = this.#rings();
    return (Atomics.load(rx.producer, 0) - this.#rxConsumer) >>> 0;
  }

  /**
   * The frames received so far (at most `max`), each copied out of the UMEM, whose frames
   * go back to the kernel at once. Never waits: an empty array when none came.
   */
  receive(max = Infinity): Uint8Array[] {
    if (typeof max !== 'number' || !(max >= 0)) throw invalid(`max must be a non-negative number, got ${describeValue(max)}`);
    const { rx, fill, umem } = this.#rings();
    const cons = this.#rxConsumer;
    const n = Math.min((Atomics.load(rx.producer, 0) - cons) >>> 0, Math.floor(max));
    const frames: Uint8Array[] = new Array(n);
    let prod = this.#fillProducer;
    for (let i = 0; i < n; i++) {
      const slot = ((cons + i) & rx.mask) * 4;
      const addr = rx.descs[slot]! + rx.descs[slot + 1]! * 2 ** 32;
      const len = rx.descs[slot + 2]!;
      frames[i] = umem.slice(addr, addr + len);
      const f = ((prod + i) & fill.mask) * 2;
      fill.descs[f] = addr - (addr % this.frameSize);
      fill.descs[f + 1] = 0;
    }
    if (n > 0) {
      prod = (prod + n) >>> 0;
      this.#fillProducer = prod;
      this.#rxConsumer = (cons + n) >>> 0;
      // The bytes are copied: the frames may be refilled and the descriptors reused.
      Atomics.store(fill.producer, 0, prod);
      Atomics.store(rx.consumer, 0, this.#rxConsumer);
    }
    return frames;
  }

  /**
   * Resolves when a frame waits in the RX ring (at once if one does), through the event
   * loop's readiness of the socket; rejects with the signal's reason when it aborts. Close
   * resolves it (receive then throws Closed).
   */
  readable(signal?: AbortSignal): Promise<void> {
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid(`XdpSocket.readable signal must be an AbortSignal, got ${describeValue(signal)}`);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.pending > 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#wakers = this.#wakers.filter((w) => w !== wake);
        if (this.#wakers.length === 0) this.#unwatch();
        reject(signal!.reason);
      };
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#wakers.push(wake);
      if (!this.#watch) {
        const w = kernel.watch(this.fd, () => this.#wakeAll());
        if (typeof w === 'number') {
          this.#wakers.pop();
          signal?.removeEventListener('abort', onAbort);
          reject(syscallFailed(new SyscallError('watch', -w), 'readable'));
          return;
        }
        this.#watch = w;
      }
    });
  }

  #wakeAll(): void {
    const wakers = this.#wakers;
    this.#wakers = [];
    this.#unwatch();
    for (const wake of wakers) wake();
  }

  #unwatch(): void {
    if (this.#watch) kernel.unwatch(this.#watch);
    this.#watch = undefined;
  }

  /** The kernel's counters (XDP_STATISTICS). */
  statistics(): XdpSocketStatistics {
    const buffer = new Uint8Array(48);
    try {
      getsockopt(this.fd, SOL_XDP, XDP_STATISTICS, buffer);
    } catch (err) {
      throw syscallFailed(err, 'XDP_STATISTICS');
    }
    const dv = new DataView(buffer.buffer);
    const at = (i: number) => dv.getBigUint64(i * 8, true);
    return { rxDropped: at(0), rxInvalidDescs: at(1), txInvalidDescs: at(2), rxRingFull: at(3), rxFillRingEmptyDescs: at(4), txRingEmptyDescs: at(5) };
  }

  /**
   * Unmaps the rings and the UMEM and closes the socket; the kernel then releases it and
   * takes it out of every XskMap. Calling it again does nothing.
   */
  override close(): void {
    this.#wakeAll();
    // The rings' mappings hold the socket open: unmapped first, so that closing the fd releases it.
    for (const mapping of [this.#rx?.mapping, this.#fill?.mapping, this.#umem]) if (mapping) kernel.munmap(mapping);
    this.#rx = this.#fill = undefined;
    this.#umem = this.#umemBytes = undefined;
    super.close();
  }
}
