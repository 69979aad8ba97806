/**
 * Where the kernel listens: `$AGENTOS_SOCKET`, else `$XDG_RUNTIME_DIR/agentos/kernel.sock`, else
 * `/tmp/agentos-<uid>/kernel.sock`. The directory is created 0700 when missing; an existing
 * default directory owned by someone else, or open to others, is refused (as ssh-agent and tmux
 * do), because whoever controls it controls who can reach the socket.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

/** The socket path for an environment and uid. @category constructors */
export const resolve = (env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? 0): string => {
  const explicit = env.AGENTOS_SOCKET
  if (explicit !== undefined && explicit !== "") return Path.resolve(explicit)
  const runtimeDir = env.XDG_RUNTIME_DIR
  if (runtimeDir !== undefined && runtimeDir !== "") return Path.join(runtimeDir, "agentos", "kernel.sock")
  return Path.join("/tmp", `agentos-${uid}`, "kernel.sock")
}

/**
 * Makes sure the socket's directory exists and is private. Returns an error message, or
 * undefined when the directory is fit to listen in.
 */
export const prepareDirectory = (socketPath: string, uid: number = process.getuid?.() ?? 0): string | undefined => {
  const dir = Path.dirname(socketPath)
  let stat: Fs.Stats
  try {
    stat = Fs.statSync(dir)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") return `checking socket directory ${dir}: ${errnoMessage(e)}`
    try {
      Fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
      // mkdir's mode is filtered by the umask; make the leaf exactly 0700.
      Fs.chmodSync(dir, 0o700)
      return undefined
    } catch (e2) {
      return `creating socket directory ${dir}: ${errnoMessage(e2)}`
    }
  }
  if (!stat.isDirectory()) return `socket directory ${dir} is not a directory`
  // Only the directories the kernel owns by convention are checked; a path the user chose
  // (AGENTOS_SOCKET) may live in a shared directory such as /tmp.
  if (Path.basename(dir) === "agentos" || Path.basename(dir) === `agentos-${uid}`) {
    if (stat.uid !== uid) return `socket directory ${dir} belongs to uid ${stat.uid}, not ${uid}; refusing to use it`
    if ((stat.mode & 0o077) !== 0) {
      return `socket directory ${dir} is open to other users (mode ${(stat.mode & 0o777).toString(8)}); expected 0700`
    }
  }
  return undefined
}

/** `EACCES: permission denied`, from a Node system error. */
export const errnoMessage = (e: unknown): string => {
  const err = e as NodeJS.ErrnoException
  if (typeof err?.code === "string") {
    const detail = (err.message ?? "").replace(/^[A-Z0-9_]+: /, "").replace(/,.*$/, "")
    return `${err.code}${detail === "" ? "" : `: ${detail}`}`
  }
  return String(e)
}
