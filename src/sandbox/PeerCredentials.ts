/**
 * Who is on the other end of a Unix socket: the pid, uid and gid Linux recorded when the peer
 * connected (SO_PEERCRED), plus socketpair(2) for handing an agent an already-connected socket.
 * Node exposes neither, so both come from the small Node-API addon in native/ (addon.c), built
 * with `make -C native` and loaded lazily on first use.
 */
import type * as net from "node:net"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"

/** The credentials of a Unix socket's peer, as seen from our pid and user namespaces. @category models */
export type PeerCredentials = {
  readonly pid: number
  readonly uid: number
  readonly gid: number
}

type Addon = {
  readonly peerCredentials: (fd: number) => PeerCredentials
  readonly socketPair: () => [number, number]
  readonly closeFd: (fd: number) => void
  readonly setDumpable: (on: boolean) => void
  readonly setParentDeathSignal: (signo: number) => number
}

const addonPath = fileURLToPath(new URL("../../native/build/agentos-node.node", import.meta.url))

let addon: Addon | undefined

// Only a successful load is cached, so building the addon while the process runs fixes it.
const load = (): Addon => {
  if (addon !== undefined) return addon
  try {
    addon = createRequire(import.meta.url)(addonPath) as Addon
    return addon
  } catch (cause) {
    const missing = (cause as { code?: unknown }).code === "MODULE_NOT_FOUND"
    throw new Error(
      missing
        ? "native addon native/build/agentos-node.node is not built: run `make -C native`"
        : `native addon native/build/agentos-node.node failed to load (${String(cause)}): ` +
          "rebuild it with `make -C native clean && make -C native`",
      { cause }
    )
  }
}

/**
 * The credentials of `socket`'s peer, recorded by Linux at connect(2) or socketpair(2) time.
 *
 * **Gotchas**: on a socketpair both ends report the process that created the pair, not the
 * process the other end was later given to. A peer outside our pid namespace has pid 0.
 *
 * Fails with an Error whose `code` is `EBADF` when the socket has no fd (not yet connected or
 * destroyed), `ENOTCONN` when it has no peer credentials (TCP), or the getsockopt errno.
 * @category constructors
 */
export const peerCredentials = (socket: net.Socket): PeerCredentials => {
  // Node keeps the fd on its internal libuv handle; it is -1 only on Windows.
  const handle = (socket as unknown as { readonly _handle?: { readonly fd?: unknown } | null })._handle
  const fd = handle?.fd
  if (typeof fd !== "number" || fd < 0) {
    throw Object.assign(
      new Error("peerCredentials: the socket has no file descriptor (not connected, or destroyed)"),
      { code: "EBADF" }
    )
  }
  return load().peerCredentials(fd)
}

/** Two connected close-on-exec AF_UNIX stream sockets as raw fds; wrap with `new net.Socket({ fd })`. @category constructors */
export const socketPair = (): readonly [number, number] => load().socketPair()

/** Closes a raw fd that no net.Socket wraps; throws with the errno name as `code` (EBADF). @category lifecycle */
export const closeFd = (fd: number): void => load().closeFd(fd)

/**
 * PR_SET_DUMPABLE for this process: off, no other process of its uid may open its
 * /proc/<pid>/mem, environ or fd (an agent that shares the kernel's uid without a user
 * namespace could otherwise read and write the kernel's memory). @category lifecycle
 */
export const setDumpable = (on: boolean): void => load().setDumpable(on)

/**
 * PR_SET_PDEATHSIG: `signo` when this process's parent ends; returns the parent's pid as it is
 * once set (a parent already gone shows as another, so the caller can tell). @category lifecycle
 */
export const setParentDeathSignal = (signo: number): number => load().setParentDeathSignal(signo)
