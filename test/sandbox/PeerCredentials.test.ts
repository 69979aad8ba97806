/**
 * PeerCredentials against real sockets and a real child process: SO_PEERCRED must name the
 * process that connected, socketPair must give two working, close-on-exec ends, and failures
 * must carry the errno name as `code`.
 */
import { afterEach, describe, expect, it } from "vitest"
import { spawn, type ChildProcess } from "node:child_process"
import { once } from "node:events"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as PeerCredentials from "../../src/sandbox/PeerCredentials.ts"
import * as Cleanups from "../support/cleanups.ts"

const self = { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() }

// Every resource a test opens is registered here and released in afterEach, pass or fail.
const cleanups = Cleanups.perTest()

const tempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agentos-peercred-"))
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

const listen = async (socketPath: string): Promise<net.Server> => {
  const server = net.createServer()
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
  server.listen(socketPath)
  await once(server, "listening")
  return server
}

const track = <S extends net.Socket>(socket: S): S => {
  cleanups.push(() => void socket.destroy())
  return socket
}

const errorOf = (f: () => unknown): NodeJS.ErrnoException => {
  try {
    f()
  } catch (error) {
    return error as NodeJS.ErrnoException
  }
  throw new Error("expected a throw")
}

// A socket-shaped object whose handle holds `fd`, to reach the addon with fds net never gives.
const fakeSocket = (fd: number): net.Socket => ({ _handle: { fd } }) as unknown as net.Socket

describe("PeerCredentials", () => {
  it("names this process as the peer of an in-process Unix socket client", async () => {
    const socketPath = path.join(tempDir(), "kernel.sock")
    const server = await listen(socketPath)
    const accepted = once(server, "connection")
    const client = track(net.connect(socketPath))
    await once(client, "connect")
    const [serverSide] = (await accepted) as [net.Socket]
    track(serverSide)

    expect(PeerCredentials.peerCredentials(serverSide)).toEqual(self)
    expect(PeerCredentials.peerCredentials(client)).toEqual(self)
  })

  it("names a child process that connects as the peer, by its pid", async () => {
    const socketPath = path.join(tempDir(), "kernel.sock")
    const server = await listen(socketPath)
    const accepted = once(server, "connection")
    const script = `
      const s = require("node:net").connect(process.env.AGENTOS_TEST_SOCKET)
      s.on("close", () => process.exit(0))
      s.on("error", () => process.exit(1))
    `
    const child: ChildProcess = spawn(process.execPath, ["-e", script], {
      env: { ...process.env, AGENTOS_TEST_SOCKET: socketPath },
      stdio: "ignore"
    })
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, "exit")
        child.kill("SIGKILL")
        await exited
      }
    })
    const [serverSide] = (await accepted) as [net.Socket]
    track(serverSide)

    expect(child.pid).toBeGreaterThan(0)
    expect(child.pid).not.toBe(process.pid)
    expect(PeerCredentials.peerCredentials(serverSide)).toEqual({ ...self, pid: child.pid })
  })

  it("socketPair gives two connected close-on-exec fds that carry bytes both ways", async () => {
    const [fd0, fd1] = PeerCredentials.socketPair()
    let owned = [fd0, fd1]
    cleanups.push(() => owned.forEach((fd) => PeerCredentials.closeFd(fd)))

    for (const fd of [fd0, fd1]) {
      // fdinfo's flags are octal; O_CLOEXEC is 02000000 on every Linux architecture but alpha/parisc/sparc.
      const flags = /^flags:\s*([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1]
      expect(parseInt(flags ?? "0", 8) & 0o2000000).not.toBe(0)
    }

    const a = new net.Socket({ fd: fd0, readable: true, writable: true })
    const b = new net.Socket({ fd: fd1, readable: true, writable: true })
    owned = [] // the sockets own the fds now and close them on destroy
    track(a)
    track(b)

    expect(PeerCredentials.peerCredentials(a)).toEqual(self)
    expect(PeerCredentials.peerCredentials(b)).toEqual(self)

    const atB = once(b, "data")
    a.write("ping")
    expect(String((await atB)[0])).toBe("ping")
    const atA = once(a, "data")
    b.write("pong")
    expect(String((await atA)[0])).toBe("pong")
  })

  it("closeFd closes a raw fd, and a second close fails with EBADF", () => {
    const [fd0, fd1] = PeerCredentials.socketPair()
    PeerCredentials.closeFd(fd0)
    PeerCredentials.closeFd(fd1)
    const error = errorOf(() => PeerCredentials.closeFd(fd1))
    expect(error.code).toBe("EBADF")
    expect(error.syscall).toBe("close")
    expect(error.message).toBe(`close(fd ${fd1}): Bad file descriptor`)
  })

  it("fails with the errno name as code and a message naming the step", () => {
    const badFd = 2 ** 30 // above any fd table, so never open
    const bad = errorOf(() => PeerCredentials.peerCredentials(fakeSocket(badFd)))
    expect(bad).toBeInstanceOf(Error)
    expect(bad.code).toBe("EBADF")
    expect(bad.syscall).toBe("getsockopt")
    expect(bad.message).toBe(`getsockopt(SO_PEERCRED) on fd ${badFd}: Bad file descriptor`)

    const fileFd = fs.openSync(process.execPath, "r")
    cleanups.push(() => fs.closeSync(fileFd))
    expect(errorOf(() => PeerCredentials.peerCredentials(fakeSocket(fileFd))).code).toBe("ENOTSOCK")

    expect(errorOf(() => PeerCredentials.closeFd(badFd)).code).toBe("EBADF")
    expect(errorOf(() => PeerCredentials.closeFd(-1)).code).toBe("ERR_OUT_OF_RANGE")
    expect(errorOf(() => PeerCredentials.closeFd(Number.NaN)).code).toBe("ERR_OUT_OF_RANGE")
  })

  it("refuses a socket with no fd (EBADF) and one with no peer credentials, TCP (ENOTCONN)", async () => {
    const unconnected = new net.Socket()
    const noFd = errorOf(() => PeerCredentials.peerCredentials(unconnected))
    expect(noFd.code).toBe("EBADF")
    expect(noFd.message).toMatch(/no file descriptor/)

    const server = net.createServer()
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    server.listen(0, "127.0.0.1")
    await once(server, "listening")
    const { port } = server.address() as net.AddressInfo
    const accepted = once(server, "connection")
    const client = track(net.connect(port, "127.0.0.1"))
    await once(client, "connect")
    const [serverSide] = (await accepted) as [net.Socket]
    track(serverSide)
    expect(errorOf(() => PeerCredentials.peerCredentials(serverSide)).code).toBe("ENOTCONN")
  })
})
