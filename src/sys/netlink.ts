// A small rtnetlink client for the attach paths that have no BPF link (XDP through
// IFLA_XDP, clsact qdiscs and cls_bpf filters): messages with (nested) attributes,
// request / acknowledgement matched by sequence number, dumps, and errors as
// SyscallErrors named after the request ('netlink RTM_SETLINK') carrying the kernel's
// extended-ack text. One socket per request, as libbpf does: nothing stays open.
import { Errno, SyscallError } from './errors.js';
import { FdOwner } from './fd.js';
import { AF_NETLINK, SOCK_RAW, SOL_SOCKET, bind, recv, send, setsockopt, socket } from './socket.js';

/** The rtnetlink protocol. */
export const NETLINK_ROUTE = 0;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const SO_RCVTIMEO = 20;
const MSG_TRUNC = 0x20;

/** nlmsghdr flags. */
export const NlmF = {
  Request: 0x1,
  Multi: 0x2,
  Ack: 0x4,
  Echo: 0x8,
  /** GET */
  Dump: 0x300,
  /** NEW */
  Replace: 0x100,
  Excl: 0x200,
  Create: 0x400,
  Append: 0x800,
  /** NLMSG_ERROR: the request's payload was left out; extended-ack TLVs follow. */
  Capped: 0x100,
  AckTlvs: 0x200,
} as const;

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLMSGERR_ATTR_MSG = 1;
/** Flag of a netlink attribute that holds attributes. */
export const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;

/** rtnetlink message types tsbpf sends (and receives back). */
export const Rtm = {
  NewLink: 16,
  DelLink: 17,
  GetLink: 18,
  SetLink: 19,
  NewQdisc: 36,
  DelQdisc: 37,
  GetQdisc: 38,
  NewTfilter: 44,
  DelTfilter: 45,
  GetTfilter: 46,
  NewRoute: 24,
  DelRoute: 25,
  GetRoute: 26,
} as const;

const rtmNames: Record<number, string> = {};
for (const [name, value] of Object.entries(Rtm)) rtmNames[value] = `RTM_${name.toUpperCase()}`;

/** 'RTM_SETLINK' for 19. */
export function rtmName(type: number): string {
  return rtmNames[type] ?? `netlink message ${type}`;
}

const align4 = (n: number) => (n + 3) & ~3;

/** Builds one netlink message: header, a fixed family struct, then attributes. */
export class NlMessage {
  readonly type: number;
  readonly flags: number;
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #len = 16;

  constructor(type: number, flags: number) {
    this.type = type;
    this.flags = flags | NlmF.Request;
  }

  #room(n: number): number {
    const at = this.#len;
    const need = at + align4(n);
    if (need > this.#buf.length) {
      const bigger = new Uint8Array(Math.max(need, this.#buf.length * 2));
      bigger.set(this.#buf);
      this.#buf = bigger;
      this.#view = new DataView(bigger.buffer);
    }
    this.#len = need;
    return at;
  }

  /** Appends raw bytes (the family header: ifinfomsg, tcmsg), padded to 4. */
  bytes(b: Uint8Array): this {
    this.#buf.set(b, this.#room(b.length));
    return this;
  }

  /** An attribute holding `payload`. */
  attr(type: number, payload: Uint8Array): this {
    const at = this.#room(4 + payload.length);
    this.#view.setUint16(at, 4 + payload.length, true);
    this.#view.setUint16(at + 2, type, true);
    this.#buf.set(payload, at + 4);
    return this;
  }

  /** Appends a u32 attribute. */
  u32(type: number, value: number): this {
    const at = this.#room(8);
    this.#view.setUint16(at, 8, true);
    this.#view.setUint16(at + 2, type, true);
    this.#view.setUint32(at + 4, value >>> 0, true);
    return this;
  }

  /** Appends an s32 attribute. */
  s32(type: number, value: number): this {
    return this.u32(type, value | 0);
  }

  /** A NUL-terminated string attribute. */
  str(type: number, value: string): this {
    const s = new TextEncoder().encode(value);
    const b = new Uint8Array(s.length + 1);
    b.set(s);
    return this.attr(type, b);
  }

  /** A nested attribute whose members `fill` appends. */
  nest(type: number, fill: (m: this) => void): this {
    const at = this.#room(4);
    fill(this);
    this.#view.setUint16(at, this.#len - at, true);
    this.#view.setUint16(at + 2, type | NLA_F_NESTED, true);
    return this;
  }

  /** The finished message with sequence number `seq`. */
  encode(seq: number): Uint8Array {
    this.#view.setUint32(0, this.#len, true);
    this.#view.setUint16(4, this.type, true);
    this.#view.setUint16(6, this.flags, true);
    this.#view.setUint32(8, seq, true);
    this.#view.setUint32(12, 0, true);
    return this.#buf.subarray(0, this.#len);
  }
}

/** A message the kernel sent back (not an error or an ack). */
export interface NlReply {
  type: number;
  flags: number;
  /** Everything after nlmsghdr: the family struct, then attributes. */
  payload: Uint8Array;
}

/** The attributes in `b` from `offset` on, by type (nested flag stripped; the last one of a type wins). */
export function parseAttrs(b: Uint8Array, offset = 0): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let at = offset;
  while (at + 4 <= b.length) {
    const len = v.getUint16(at, true);
    if (len < 4 || at + len > b.length) break;
    out.set(v.getUint16(at + 2, true) & NLA_TYPE_MASK, b.subarray(at + 4, at + len));
    at += align4(len);
  }
  return out;
}

/** A u32 netlink attribute's value. */
export function attrU32(a: Uint8Array | undefined): number | undefined {
  return a && a.length >= 4 ? new DataView(a.buffer, a.byteOffset, 4).getUint32(0, true) : undefined;
}

/** A string netlink attribute's value, without its NUL. */
export function attrStr(a: Uint8Array | undefined): string | undefined {
  if (!a) return undefined;
  const end = a.indexOf(0);
  return new TextDecoder().decode(end < 0 ? a : a.subarray(0, end));
}

let nextSeq = (Date.now() & 0xffff) << 12;

/** A NETLINK_ROUTE socket (or another netlink protocol): the single owner of its fd. */
export class NetlinkSocket extends FdOwner {
  readonly #rx = new Uint8Array(64 * 1024);

  private constructor(fd: number) {
    super(fd);
  }

  protected closedError(): Error {
    return new SyscallError('netlink', Errno.EBADF, 'the netlink socket is closed');
  }

  /**
   * Opens and binds a socket. Replies wait at most `timeoutMs` (SO_RCVTIMEO) so a lost
   * reply cannot hang the process; the kernel is asked for extended-ack messages and
   * for acks without a copy of the request.
   */
  static open(protocol = NETLINK_ROUTE, timeoutMs = 5000): NetlinkSocket {
    const s = new NetlinkSocket(socket(AF_NETLINK, SOCK_RAW, protocol));
    try {
      const tv = new DataView(new ArrayBuffer(16));
      tv.setBigInt64(0, BigInt(Math.floor(timeoutMs / 1000)), true);
      tv.setBigInt64(8, BigInt((timeoutMs % 1000) * 1000), true);
      setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, new Uint8Array(tv.buffer), 'setsockopt SO_RCVTIMEO');
      // Both are best effort (2.6.x/4.12+): without them errors lose their text.
      for (const opt of [NETLINK_EXT_ACK, NETLINK_CAP_ACK]) {
        try {
          setsockopt(s.fd, SOL_NETLINK, opt, 1);
        } catch {
          // an older kernel: plain errno only
        }
      }
      const sa = new Uint8Array(12); // sockaddr_nl: family, pad, pid 0 (the kernel picks), groups 0
      new DataView(sa.buffer).setUint16(0, AF_NETLINK, true);
      bind(s.fd, sa);
    } catch (err) {
      s.close();
      throw err;
    }
    return s;
  }

  /**
   * Sends `msg` and collects the replies: up to the acknowledgement for a request
   * (ask for one with NlmF.Ack), up to NLMSG_DONE for a dump. A negative
   * acknowledgement throws SyscallError('netlink RTM_...', errno, extended-ack text).
   */
  request(msg: NlMessage): NlReply[] {
    const call = `netlink ${rtmName(msg.type)}`;
    const seq = (nextSeq = (nextSeq + 1) >>> 0);
    send(this.fd, msg.encode(seq)); // the kernel carries the request out within send, or refuses it
    const dump = (msg.flags & NlmF.Dump) === NlmF.Dump && isGet(msg.type);
    const replies: NlReply[] = [];
    for (;;) {
      let n: number;
      try {
        n = recv(this.fd, this.#rx, MSG_TRUNC);
      } catch (err) {
        if (err instanceof SyscallError && (err.errno === Errno.EAGAIN || err.errno === Errno.EWOULDBLOCK)) {
          throw unanswered(new SyscallError(call, Errno.ETIMEDOUT, 'no reply from the kernel'));
        }
        throw err instanceof SyscallError ? unanswered(new SyscallError(call, err.errno, `receiving the reply: ${err.message}`)) : err;
      }
      if (n > this.#rx.length) throw unanswered(new SyscallError(call, Errno.EMSGSIZE, `a ${n}-byte reply does not fit the receive buffer`));
      const v = new DataView(this.#rx.buffer, 0, n);
      for (let at = 0; at + 16 <= n; ) {
        const len = v.getUint32(at, true);
        if (len < 16 || at + len > n) break;
        const type = v.getUint16(at + 4, true);
        const flags = v.getUint16(at + 6, true);
        const mine = v.getUint32(at + 8, true) === seq;
        const payload = this.#rx.slice(at + 16, at + len);
        at += align4(len);
        if (!mine) continue; // a late reply to an earlier, timed-out request
        if (type === NLMSG_ERROR) {
          const errno = -new DataView(payload.buffer).getInt32(0, true);
          if (errno === 0) return replies; // the ack
          throw new SyscallError(call, errno, extAckMessage(payload, flags));
        }
        if (type === NLMSG_DONE) {
          const errno = payload.length >= 4 ? -new DataView(payload.buffer).getInt32(0, true) : 0;
          if (errno > 0) throw new SyscallError(call, errno);
          return replies;
        }
        replies.push({ type, flags, payload });
        if (!dump && (msg.flags & NlmF.Ack) === 0) return replies;
      }
    }
  }
}

// Requests sent whose answer never came: the kernel may have carried them out.
const lost = new WeakSet<object>();

function unanswered(err: SyscallError): SyscallError {
  lost.add(err);
  return err;
}

/** True when `err` is the failure of a request whose answer was lost (the kernel may have done it). */
export function mayHaveHappened(err: unknown): boolean {
  return typeof err === 'object' && err !== null && lost.has(err);
}

/**
 * True when the kernel answered a request with one of `errnos` (a negative
 * acknowledgement), not when the request failed on this side (socket, send, a lost answer).
 */
export function refusedWith(err: unknown, ...errnos: number[]): boolean {
  return err instanceof SyscallError && err.call.startsWith('netlink ') && !lost.has(err) && errnos.includes(err.errno);
}

/**
 * Makes a request that changes something. When its answer is lost, `done` asks the
 * kernel whether the change is there: then the request counts as made; else (or when
 * asking fails too) its error is thrown. So a caller never reports a failure for
 * something the kernel did, nor success for something it did not.
 */
export function rtnetlinkChange(msg: NlMessage, done: () => boolean): NlReply[] {
  try {
    return rtnetlink(msg);
  } catch (err) {
    if (!mayHaveHappened(err)) throw err;
    let made = false;
    try {
      made = done();
    } catch {
      // the request's own error is the one to report
    }
    if (made) return [];
    throw err;
  }
}

function isGet(type: number): boolean {
  return type >= 16 && (type & 3) === 2; // RTM_GET* are 4n + 2
}

/** The NLMSGERR_ATTR_MSG text of an error message, if the kernel gave one. */
function extAckMessage(payload: Uint8Array, flags: number): string | undefined {
  if ((flags & NlmF.AckTlvs) === 0) return undefined;
  // struct nlmsgerr: error, then the request's header (and its payload unless capped).
  let at = 4 + 16;
  if ((flags & NlmF.Capped) === 0 && payload.length >= 8) at = 4 + new DataView(payload.buffer).getUint32(4, true);
  return attrStr(parseAttrs(payload, align4(at)).get(NLMSGERR_ATTR_MSG)) || undefined;
}

/** Opens a socket, makes one request, closes the socket. */
export function rtnetlink(msg: NlMessage): NlReply[] {
  const s = NetlinkSocket.open();
  try {
    return s.request(msg);
  } finally {
    s.close();
  }
}
