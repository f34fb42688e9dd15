// A small in-memory xenstored serving a domU over its store ring (C xenstored at c447b7308b:
// tools/xenstored/core.c, transaction.c, watch.c, domain.c; the wire format is
// xen/include/public/io/xs_wire.h, the protocol docs/misc/xenstore.txt).
//
// The ring (struct xenstore_domain_interface): req[1024] (guest -> xenstored), rsp[1024],
// then req_cons, req_prod, rsp_cons, rsp_prod, server_features, connection, error. Like
// xenconsoled, xenstored runs while the guest's vCPU does not (the host's runPeers hook):
// a notification only marks the connection; runDeferred() then reads what the guest
// produced (domain.c readchn: prod - cons > 1024 breaks the connection, error
// XENSTORE_ERROR_RINGIDX), processes whole messages (a header with len > 4096 breaks it,
// XENSTORE_ERROR_PROTO), writes replies as rsp[] has room (writechn) and notifies the guest
// after each chunk it consumed or produced.
//
// Messages: struct xsd_sockmsg {type, req_id, tx_id, len} and len payload bytes; a reply
// keeps req_id and tx_id; an error is XS_ERROR with the errno's name and a NUL
// (core.c send_error, xsd_errors). process_message: an unknown type is ENOSYS, a
// privileged-only type from a domU EACCES, a tx_id that names no open transaction ENOENT
// (WATCH and UNWATCH ignore it). Paths (canonicalize): [A-Za-z0-9-/_@] only, no "//", no
// trailing '/', relative ones under /local/domain/<domid>. Permissions (perm_for_conn):
// the owner (first entry's domid) may do anything, else the entry naming the domain, else
// the first entry's access; a missing node answers ENOENT if its nearest existing ancestor
// grants the access asked for, EACCES if not (errno_from_parents). Nodes a domU creates
// inherit their parent's permissions with the domU as owner (construct_node).
// Transactions (transaction.c): a transaction sees the store as it was when it first
// touched each node; its commit fails with EAGAIN (and the transaction ends) if any node
// it touched has changed since; ids per connection count from 1.
// Watches (watch.c): registering answers OK and then fires once; a change to a node fires
// the watches on it and on its ancestors, removing a node also those below it; the event's
// path is relative when the watch's was. Events of a transaction fire at its commit.
//
// The tree is what libxl writes for a PV domU (tools/libs/light/libxl_create.c
// libxl__domain_make, libxl_dom.c libxl__build_post, libxl_console.c) and what
// xen-init-dom0 writes for dom0, cut to the keys listed in storeTree below.
//
// Deliberate deviations: one connection (the domU; dom0's tools never write while it runs);
// no quotas; XS_DIRECTORY_PART, GET_FEATURE, watch depths and permissions of "@" paths are
// model errors; "@" special paths are accepted for watches and never fire; a transaction
// that looks at a node which does not exist conflicts if the node appears.

import type { PhysicalMemory } from '../../machine/memory.js';

/** struct xenstore_domain_interface offsets (xs_wire.h). */
export const XS_RING = { req: 0, rsp: 0x400, size: 1024, reqCons: 0x800, reqProd: 0x804, rspCons: 0x808, rspProd: 0x80c, serverFeatures: 0x810, connection: 0x814, error: 0x818 } as const;
/** enum xsd_sockmsg_type. */
export const enum Xs {
  CONTROL = 0, DIRECTORY = 1, READ = 2, GET_PERMS = 3, WATCH = 4, UNWATCH = 5, TRANSACTION_START = 6,
  TRANSACTION_END = 7, INTRODUCE = 8, RELEASE = 9, GET_DOMAIN_PATH = 10, WRITE = 11, MKDIR = 12, RM = 13,
  SET_PERMS = 14, WATCH_EVENT = 15, ERROR = 16, IS_DOMAIN_INTRODUCED = 17, RESUME = 18, SET_TARGET = 19,
  RESET_WATCHES = 21, DIRECTORY_PART = 22, GET_FEATURE = 23, SET_FEATURE = 24, GET_QUOTA = 25, SET_QUOTA = 26,
}
/** XS_TYPE_COUNT at c447b7308b. */
const XS_TYPE_COUNT = 27;
/** The privileged-only types (wire_funcs' XS_FLAG_PRIV). */
const PRIVILEGED = [Xs.CONTROL, Xs.INTRODUCE, Xs.RELEASE, Xs.IS_DOMAIN_INTRODUCED, Xs.RESUME, Xs.SET_TARGET, Xs.SET_FEATURE, Xs.GET_QUOTA, Xs.SET_QUOTA];
const NOT_MODELLED = [Xs.DIRECTORY_PART, Xs.GET_FEATURE];
const HEADER = 16;
/** XENSTORE_PAYLOAD_MAX. */
const PAYLOAD_MAX = 4096;
/** XENSTORE_ABS_PATH_MAX. */
const ABS_PATH_MAX = 3072;
/** XENSTORE_ERROR_RINGIDX, XENSTORE_ERROR_PROTO. */
const ERROR_RINGIDX = 2, ERROR_PROTO = 3;
/** XENSTORE_SERVER_FEATURE_ERROR | _WATCHDEPTH | _DOMID_ANY (domain.c XENSTORE_FEATURES). */
const SERVER_FEATURES = 0xe;
/** Open transactions a domain may hold (quota_max_transaction's default). */
const MAX_TRANSACTIONS = 10;
const PERM_READ = 1, PERM_WRITE = 2, PERM_OWNER = 4;
const PERM_LETTER: Record<string, number> = { n: 0, r: PERM_READ, w: PERM_WRITE, b: PERM_READ | PERM_WRITE };

/** One node: its value (bytes as latin1), children in creation order, permissions
 *  ([0] = owner and everyone's default), and the generation of its last change. */
export interface XsNode {
  value: string;
  children: string[];
  perms: Array<{ id: number; perm: number }>;
  gen: number;
}

interface Watch { path: string; token: string; abs: string }
/** An open transaction: the nodes as it sees them, the generation of each when it first
 *  looked (-1: absent), what it changed, and the watch firings held for its commit. */
interface Transaction {
  id: number;
  nodes: Record<string, XsNode | null>;
  seen: Record<string, number>;
  written: string[];
  fired: Firing[];
}

/** One fire_watches call: the changed node, the nodes a removal took, and the permissions
 *  the watcher's read access is judged by (the removed node's, or the old ones of a node
 *  whose permissions changed; null: the node's as it is when the watches fire). */
interface Firing { path: string; gone: string[]; perms: XsNode['perms'] | null }

/** Everything xenstored keeps for this domain, captured with the machine. */
export interface XenstoreState {
  nodes: Record<string, XsNode>;
  generation: number;
  watches: Watch[];
  transactions: Transaction[];
  nextTransaction: number;
  /** An event arrived on xenstored's port. */
  notified: boolean;
  /** Request bytes read from req[] and not yet a whole message; replies not yet in rsp[]. */
  input: number[];
  output: number[];
  /** ignore_connection: the domain broke the protocol; nothing more is served. */
  broken: boolean;
}

/** What xenstored reaches. */
export interface StorePeerHost {
  readonly mem: PhysicalMemory;
  /** Machine address of the ring page. */
  readonly ringAddress: number;
  /** Raise the guest's store port. */
  notifyGuest(): void;
  /** A point this xenstored does not model: the run ends with a model error. */
  modelError(what: string): never;
}

/** What the toolstack's keys for the domain say. */
export interface DomainKeys { domid: number; name: string; memKiB: number; storeMfn: number; storePort: number; consoleMfn: number; consolePort: number }

class XsError extends Error {
  constructor(readonly errno: string) { super(errno); }
}

const latin1 = (b: Uint8Array | number[]) => String.fromCharCode(...b);
const bytesOf = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** The initial tree. Perms: [n0] dom0-only, [n0, r<id>] the domain may read (libxl's roperm),
 *  [n<id>] owned by the domain (rwperm). */
export function storeTree(k: DomainKeys): Record<string, XsNode> {
  const nodes: Record<string, XsNode> = {};
  const dom0Only = [{ id: 0, perm: 0 }];
  const ro = [{ id: 0, perm: 0 }, { id: k.domid, perm: PERM_READ }];
  const rw = [{ id: k.domid, perm: 0 }];
  const uuid = '00000000-0000-0000-0000-000000000001';
  const d = `/local/domain/${k.domid}`;
  const add = (path: string, value: string, perms: XsNode['perms']) => {
    nodes[path] = { value, children: [], perms: perms.map((p) => ({ ...p })), gen: 0 };
    if (path === '/') return;
    const parent = path.slice(0, path.lastIndexOf('/')) || '/';
    nodes[parent].children.push(path.slice(path.lastIndexOf('/') + 1));
  };
  add('/', '', dom0Only);
  add('/local', '', dom0Only);
  add('/local/domain', '', dom0Only);
  // xen-init-dom0.
  add('/local/domain/0', '', dom0Only);
  add('/local/domain/0/domid', '0', dom0Only);
  add('/local/domain/0/name', 'Domain-0', dom0Only);
  // libxl__domain_make.
  add('/vm', '', dom0Only);
  add(`/vm/${uuid}`, '', ro);
  add(`/vm/${uuid}/uuid`, uuid, ro);
  add(`/vm/${uuid}/name`, k.name, ro);
  add(d, '', ro);
  add(`${d}/vm`, `/vm/${uuid}`, ro);
  add(`${d}/name`, k.name, ro);
  add(`${d}/cpu`, '', ro);
  add(`${d}/cpu/0`, '', ro);
  add(`${d}/cpu/0/availability`, 'online', ro);
  add(`${d}/memory`, '', ro);
  add(`${d}/memory/static-max`, String(k.memKiB), ro);
  add(`${d}/memory/target`, String(k.memKiB), ro);
  add(`${d}/control`, '', ro);
  add(`${d}/control/shutdown`, '', rw);
  add(`${d}/control/feature-poweroff`, '', rw);
  add(`${d}/control/feature-reboot`, '', rw);
  add(`${d}/control/feature-suspend`, '', rw);
  add(`${d}/control/sysrq`, '', rw);
  add(`${d}/control/platform-feature-multiprocessor-suspend`, '1', ro);
  add(`${d}/control/platform-feature-xs_reset_watches`, '1', ro);
  for (const dir of ['data', 'drivers', 'feature', 'attr', 'error', 'device']) add(`${d}/${dir}`, '', rw);
  // libxl__build_post.
  add(`${d}/domid`, String(k.domid), ro);
  add(`${d}/store`, '', ro);
  add(`${d}/store/port`, String(k.storePort), ro);
  add(`${d}/store/ring-ref`, String(k.storeMfn), ro);
  // libxl_console.c: the primary console's frontend.
  add(`${d}/console`, '', ro);
  add(`${d}/console/backend-id`, '0', ro);
  add(`${d}/console/limit`, '1048576', ro);
  add(`${d}/console/type`, 'xenconsoled', ro);
  add(`${d}/console/output`, 'pty', ro);
  add(`${d}/console/tty`, '', ro);
  add(`${d}/console/port`, String(k.consolePort), ro);
  add(`${d}/console/ring-ref`, String(k.consoleMfn), ro);
  return nodes;
}

export function newXenstoreState(keys: DomainKeys): XenstoreState {
  return { nodes: storeTree(keys), generation: 0, watches: [], transactions: [], nextTransaction: 1, notified: false, input: [], output: [], broken: false };
}

export class Xenstored {
  /** The watch events one message caused, sent after its reply (never kept between messages). */
  private readonly pendingEvents: Array<{ w: Watch; path: string }> = [];

  constructor(private readonly host: StorePeerHost, public state: XenstoreState, private readonly domid: number) {}

  /** The domain's server_features, written when xenstored introduces the domain. */
  introduce(): void {
    this.host.mem.writeU32(this.host.ringAddress + XS_RING.serverFeatures, SERVER_FEATURES);
  }

  /** The guest sent on the store channel. */
  notify(): void {
    this.state.notified = true;
  }

  /** Work xenstored would have done while the vCPU did not run; true if it did any. */
  runDeferred(): boolean {
    const s = this.state;
    if (s.broken || (!s.notified && s.output.length === 0)) return false;
    s.notified = false;
    let did = false;
    for (;;) {
      const read = this.readChannel();
      if (read < 0) return true;
      let progress = read > 0;
      while (this.processOne()) progress = true;
      if (s.broken) return true;
      progress = this.writeChannel() || progress;
      if (!progress) return did;
      did = true;
    }
  }

  // ------------------------------------------------------------ the ring (domain.c)

  /** readchn: everything req[] holds; -1 when the indices are corrupt (the connection breaks). */
  private readChannel(): number {
    const mem = this.host.mem, ring = this.host.ringAddress;
    let cons = mem.readU32(ring + XS_RING.reqCons);
    const prod = mem.readU32(ring + XS_RING.reqProd);
    const n = (prod - cons) >>> 0;
    if (n > XS_RING.size) { this.breakConnection(ERROR_RINGIDX); return -1; }
    for (let k = 0; k < n; k++) {
      this.state.input.push(mem.bytes[ring + XS_RING.req + (cons & (XS_RING.size - 1))]);
      cons = (cons + 1) >>> 0;
    }
    if (n === 0) return 0;
    mem.writeU32(ring + XS_RING.reqCons, cons);
    this.host.notifyGuest();
    return n;
  }

  /** writechn: as much of the pending replies as rsp[] has room for. */
  private writeChannel(): boolean {
    const s = this.state, mem = this.host.mem, ring = this.host.ringAddress;
    const cons = mem.readU32(ring + XS_RING.rspCons);
    let prod = mem.readU32(ring + XS_RING.rspProd);
    const used = (prod - cons) >>> 0;
    if (used > XS_RING.size) { this.breakConnection(ERROR_RINGIDX); return false; }
    const n = Math.min(XS_RING.size - used, s.output.length);
    if (n === 0) return false;
    for (const b of s.output.splice(0, n)) {
      mem.write(ring + XS_RING.rsp + (prod & (XS_RING.size - 1)), Uint8Array.of(b));
      prod = (prod + 1) >>> 0;
    }
    mem.writeU32(ring + XS_RING.rspProd, prod);
    this.host.notifyGuest();
    return true;
  }

  private breakConnection(error: number): void {
    this.state.broken = true;
    this.host.mem.writeU32(this.host.ringAddress + XS_RING.error, error);
  }

  /** One whole message from the input, if there is one. */
  private processOne(): boolean {
    const s = this.state;
    if (s.input.length < HEADER) return false;
    const h = new DataView(Uint8Array.from(s.input.slice(0, HEADER)).buffer);
    const type = h.getUint32(0, true), reqId = h.getUint32(4, true), txId = h.getUint32(8, true), len = h.getUint32(12, true);
    if (len > PAYLOAD_MAX) { this.breakConnection(ERROR_PROTO); return false; }
    if (s.input.length < HEADER + len) return false;
    const payload = Uint8Array.from(s.input.splice(0, HEADER + len).slice(HEADER));
    const reply = (t: number, body: Uint8Array) => this.send(t, reqId, txId, body);
    try {
      reply(type, this.handle(type, txId, payload));
    } catch (e) {
      if (!(e instanceof XsError)) throw e;
      reply(Xs.ERROR, bytesOf(e.errno + '\0'));
    }
    this.flushEvents();
    return true;
  }

  private send(type: number, reqId: number, txId: number, body: Uint8Array): void {
    const h = new DataView(new ArrayBuffer(HEADER));
    h.setUint32(0, type, true);
    h.setUint32(4, reqId, true);
    h.setUint32(8, txId, true);
    h.setUint32(12, body.length, true);
    this.state.output.push(...new Uint8Array(h.buffer), ...body);
  }

  // ------------------------------------------------------------ messages (core.c)

  private handle(type: number, txId: number, p: Uint8Array): Uint8Array {
    if (type >= XS_TYPE_COUNT || type === 20 || type === Xs.WATCH_EVENT || type === Xs.ERROR) throw new XsError('ENOSYS');
    if (PRIVILEGED.includes(type)) throw new XsError('EACCES');
    if (NOT_MODELLED.includes(type)) {
      this.host.modelError(`Xen model: xenstore message type ${type} is not modelled`);
    }
    const notid = type === Xs.WATCH || type === Xs.UNWATCH;
    const tx = notid || txId === 0 ? null : this.state.transactions.find((t) => t.id === txId) ?? null;
    if (!notid && txId !== 0 && tx === null) throw new XsError('ENOENT');
    const ok = bytesOf('OK\0');
    switch (type) {
      case Xs.READ: return bytesOf(this.get(tx, this.path(oneArg(p)), PERM_READ).value);
      case Xs.DIRECTORY: return bytesOf(this.get(tx, this.path(oneArg(p)), PERM_READ).children.map((c) => c + '\0').join(''));
      case Xs.GET_PERMS: return bytesOf(this.get(tx, this.path(oneArg(p), true), PERM_READ).perms.map(permString).join(''));
      case Xs.WRITE: {
        const nul = p.indexOf(0);
        if (nul < 0) throw new XsError('EINVAL');
        this.write(tx, this.path(latin1(p.subarray(0, nul))), latin1(p.subarray(nul + 1)));
        return ok;
      }
      case Xs.MKDIR: {
        const path = this.path(oneArg(p));
        if (this.lookup(tx, path, PERM_WRITE) === null) this.write(tx, path, '');
        return ok;
      }
      case Xs.RM: this.remove(tx, this.path(oneArg(p))); return ok;
      case Xs.SET_PERMS: this.setPerms(tx, p); return ok;
      case Xs.WATCH: return this.watch(p);
      case Xs.UNWATCH: {
        const [path, token] = strings(p, 2);
        const abs = this.path(path, true);
        const at = this.state.watches.findIndex((w) => w.abs === abs && w.token === token);
        if (at < 0) throw new XsError('ENOENT');
        this.state.watches.splice(at, 1);
        return ok;
      }
      case Xs.TRANSACTION_START: {
        if (tx !== null) throw new XsError('EBUSY');
        if (this.state.transactions.length >= MAX_TRANSACTIONS) throw new XsError('ENOSPC');
        const id = this.state.nextTransaction++;
        this.state.transactions.push({ id, nodes: {}, seen: {}, written: [], fired: [] });
        return bytesOf(`${id}\0`);
      }
      case Xs.TRANSACTION_END: {
        const arg = oneArg(p);
        if (tx === null) throw new XsError('ENOENT');
        if (arg !== 'T' && arg !== 'F') throw new XsError('EINVAL');
        this.state.transactions = this.state.transactions.filter((t) => t !== tx);
        if (arg === 'T') this.commit(tx);
        return ok;
      }
      case Xs.GET_DOMAIN_PATH: {
        const id = oneArg(p);
        if (!/^[0-9]+$/.test(id)) throw new XsError('EINVAL');
        return bytesOf(`/local/domain/${Number(id)}\0`);
      }
      case Xs.RESET_WATCHES:
        this.state.watches = [];
        this.state.transactions = [];
        return ok;
      default: throw new XsError('ENOSYS');
    }
  }

  /** canonicalize and is_valid_nodename. */
  private path(name: string, allowSpecial = false): string {
    if (name.startsWith('@')) {
      if (!allowSpecial) throw new XsError('EINVAL');
      return name;
    }
    const abs = name.startsWith('/') ? name : `/local/domain/${this.domid}/${name}`;
    if (!/^[A-Za-z0-9\-/_@]*$/.test(abs) || abs.includes('//') || (abs.length > 1 && abs.endsWith('/')) || abs.length > ABS_PATH_MAX) {
      throw new XsError('EINVAL');
    }
    return abs;
  }

  // ------------------------------------------------------------ the tree and its views

  /** The node at `path` as `tx` sees it (recording a transaction's first look), or null. */
  private peek(tx: Transaction | null, path: string): XsNode | null {
    const main = this.state.nodes[path] ?? null;
    if (tx === null) return main;
    if (!(path in tx.nodes)) {
      tx.seen[path] = main === null ? -1 : main.gen;
      tx.nodes[path] = main === null ? null : structuredClone(main);
    }
    return tx.nodes[path];
  }

  private put(tx: Transaction | null, path: string, node: XsNode | null): void {
    if (tx === null) {
      if (node === null) delete this.state.nodes[path];
      else this.state.nodes[path] = { ...node, gen: ++this.state.generation };
      return;
    }
    this.peek(tx, path);
    tx.nodes[path] = node;
    if (!tx.written.includes(path)) tx.written.push(path);
  }

  /** perm_for_conn. */
  private access(node: Pick<XsNode, 'perms'>): number {
    if (node.perms[0].id === this.domid) return PERM_READ | PERM_WRITE | PERM_OWNER;
    const entry = node.perms.slice(1).find((e) => e.id === this.domid);
    return (entry ?? node.perms[0]).perm;
  }

  /** get_node: the node if the domain has `perm` on it; null if it does not exist and the
   *  nearest ancestor grants `perm` (ENOENT to the caller); EACCES otherwise. */
  private lookup(tx: Transaction | null, path: string, perm: number): XsNode | null {
    const node = this.peek(tx, path);
    if (node !== null && (this.access(node) & perm) === perm) return node;
    let up = path;
    let parent: XsNode | null = null;
    while (parent === null && up !== '/') {
      up = up.slice(0, up.lastIndexOf('/')) || '/';
      parent = this.peek(tx, up);
    }
    if (node !== null || parent === null || (this.access(parent) & perm) !== perm) throw new XsError('EACCES');
    return null;
  }

  private get(tx: Transaction | null, path: string, perm: number): XsNode {
    if (path.startsWith('@')) return { value: '', children: [], perms: [{ id: 0, perm: 0 }], gen: 0 };
    const node = this.lookup(tx, path, perm);
    if (node === null) throw new XsError('ENOENT');
    return node;
  }

  /** do_write: an existing node's value, or the node and its missing parents (construct_node). */
  private write(tx: Transaction | null, path: string, value: string): void {
    const node = this.lookup(tx, path, PERM_WRITE);
    if (node !== null) {
      this.put(tx, path, { ...node, value });
    } else {
      let up = path;
      const missing: string[] = [];
      while (this.peek(tx, up) === null) {
        missing.unshift(up);
        up = up.slice(0, up.lastIndexOf('/')) || '/';
      }
      for (const at of missing) {
        const parentPath = at.slice(0, at.lastIndexOf('/')) || '/';
        const parent = this.peek(tx, parentPath)!;
        const perms = parent.perms.map((e) => ({ ...e }));
        perms[0].id = this.domid;
        this.put(tx, parentPath, { ...parent, children: [...parent.children, at.slice(at.lastIndexOf('/') + 1)] });
        this.put(tx, at, { value: at === path ? value : '', children: [], perms, gen: 0 });
      }
    }
    this.fire(tx, { path, gone: [], perms: null });
  }

  /** do_rm: the node and everything below it; a missing node with an existing parent is OK. */
  private remove(tx: Transaction | null, path: string): void {
    const node = this.lookup(tx, path, PERM_WRITE);
    const parentPath = path.slice(0, path.lastIndexOf('/')) || '/';
    if (node === null) {
      if (this.peek(tx, parentPath) === null) throw new XsError('ENOENT');
      return;
    }
    if (path === '/') throw new XsError('EINVAL');
    const gone: string[] = [];
    const walk = (at: string, n: XsNode) => {
      for (const c of n.children) walk(`${at}/${c}`, this.peek(tx, `${at}/${c}`)!);
      gone.push(at);
    };
    walk(path, node);
    for (const at of gone) this.put(tx, at, null);
    const parent = this.peek(tx, parentPath)!;
    this.put(tx, parentPath, { ...parent, children: parent.children.filter((c) => c !== path.slice(path.lastIndexOf('/') + 1)) });
    this.fire(tx, { path, gone, perms: node.perms });
  }

  /** do_set_perms: the owner may set them, not hand the node to another domain (EPERM). */
  private setPerms(tx: Transaction | null, p: Uint8Array): void {
    const all = latin1(p).split('\0');
    if (all.at(-1) !== '') throw new XsError('EINVAL');
    const [name, ...given] = all.slice(0, -1);
    if (given.length < 1) throw new XsError('EINVAL');
    const perms = given.map((s) => {
      const perm = PERM_LETTER[s[0]];
      if (perm === undefined || !/^[0-9]+$/.test(s.slice(1))) throw new XsError('EINVAL');
      return { id: Number(s.slice(1)), perm };
    });
    const path = this.path(name, true);
    if (path.startsWith('@')) this.host.modelError('Xen model: xenstore permissions of special paths are not modelled');
    const node = this.get(tx, path, PERM_WRITE | PERM_OWNER);
    if (perms[0].id !== node.perms[0].id) throw new XsError('EPERM');
    this.put(tx, path, { ...node, perms });
    this.fire(tx, { path, gone: [], perms: node.perms });
  }

  /** do_watch: "path\0token\0"; a third string is a depth (XENSTORE_SERVER_FEATURE_WATCHDEPTH). */
  private watch(p: Uint8Array): Uint8Array {
    if (countStrings(p) === 3) this.host.modelError('Xen model: xenstore watches with a depth are not modelled');
    const [path, token] = strings(p, 2);
    const abs = this.path(path, true);
    if (this.state.watches.some((w) => w.abs === abs && w.token === token)) throw new XsError('EEXIST');
    const w = { path, token, abs };
    this.state.watches.push(w);
    this.pendingEvents.push({ w, path: abs });
    return bytesOf('OK\0');
  }

  /** transaction_commit: EAGAIN if a node it looked at has changed since it did. */
  private commit(tx: Transaction): void {
    for (const [path, gen] of Object.entries(tx.seen)) {
      const now = this.state.nodes[path];
      if ((now === undefined ? -1 : now.gen) !== gen) throw new XsError('EAGAIN');
    }
    for (const path of tx.written) this.put(null, path, tx.nodes[path]);
    for (const f of tx.fired) this.fire(null, f);
  }

  // ------------------------------------------------------------ watches (watch.c)

  /** fire_watches: the watches at or above the changed node, and for a removal those on the
   *  nodes it took; held until its commit in a transaction. Only if the domain may read the
   *  node or its parent (watch_permitted). */
  private fire(tx: Transaction | null, f: Firing): void {
    if (tx !== null) { tx.fired.push(f); return; }
    const parent = this.state.nodes[f.path.slice(0, f.path.lastIndexOf('/')) || '/'];
    const perms = f.perms ?? this.state.nodes[f.path]?.perms;
    const readable = (perms !== undefined && (this.access({ perms }) & PERM_READ) !== 0) ||
      (parent !== undefined && (this.access(parent) & PERM_READ) !== 0);
    if (!readable) return;
    for (const w of this.state.watches) {
      if (w.abs.startsWith('@')) continue;
      const hit = f.path === w.abs || f.path.startsWith(w.abs === '/' ? '/' : w.abs + '/') ? f.path : f.gone.includes(w.abs) ? w.abs : null;
      if (hit !== null) this.pendingEvents.push({ w, path: hit });
    }
  }

  /** The events a message caused, after its reply (send_event: req_id 0, tx_id 0). */
  private flushEvents(): void {
    const prefix = `/local/domain/${this.domid}/`;
    for (const { w, path } of this.pendingEvents.splice(0)) {
      const shown = w.path.startsWith('/') || w.path.startsWith('@') ? path : path.slice(prefix.length);
      this.send(Xs.WATCH_EVENT, 0, 0, bytesOf(`${shown}\0${w.token}\0`));
    }
  }
}

/** onearg: exactly one NUL, at the end. */
function oneArg(p: Uint8Array): string {
  if (p.length === 0 || p.indexOf(0) !== p.length - 1) throw new XsError('EINVAL');
  return latin1(p.subarray(0, -1));
}

/** get_strings's count: the NUL-terminated strings, and an unterminated last one. */
function countStrings(p: Uint8Array): number {
  let n = 0;
  for (let k = 0; k < p.length; k++) if (p[k] === 0 || k === p.length - 1) n++;
  return n;
}

/** Exactly `n` strings (do_watch, do_unwatch: n_pars != 2 is EINVAL). */
function strings(p: Uint8Array, n: number): string[] {
  if (countStrings(p) !== n) throw new XsError('EINVAL');
  return latin1(p).split('\0').slice(0, n);
}

function permString(e: { id: number; perm: number }): string {
  const letter = Object.keys(PERM_LETTER).find((k) => PERM_LETTER[k] === e.perm)!;
  return `${letter}${e.id}\0`;
}
