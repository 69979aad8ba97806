"""AgentOSClient against a scripted kernel on the other end of a socketpair: ids and replies out
of order, pushes and chunks, timeouts and late replies, broken connections, many threads, where
it connects (fd or path), and the op and args each method sends."""
from __future__ import annotations

import os
import random
import socket
import threading
import time
import unittest
from typing import Any, Callable, Dict, List, Optional

import support  # noqa: F401  (puts agents/python on the path)
from agentos import (
    AgentOSClient,
    AgentOSConnectionError,
    AgentOSError,
    Op,
    cbor_decode,
    encode_frame,
)

Request = Dict[str, Any]


class FakeKernel:
    """The kernel's end of a socketpair; each request goes to `handler` on the kernel's thread."""

    def __init__(self, handler: Optional[Callable[["FakeKernel", Request], None]] = None) -> None:
        self.sock, agent_end = socket.socketpair()
        self.agent_fd = agent_end.detach()
        self.handler = handler or FakeKernel.echo
        self.requests: List[Request] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    @staticmethod
    def echo(kernel: "FakeKernel", request: Request) -> None:
        if request["op"] == Op.HELLO:
            kernel.reply(request, {"agent": {"name": "fake", "kind": "agent"}, "kernel": {"id": "k0"}, "limits": {"maxFrame": 4096, "maxInFlight": 8}})
        else:
            kernel.reply(request, request.get("args"))

    def run(self) -> None:
        buf = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while len(buf) >= 4 and len(buf) >= 4 + int.from_bytes(buf[:4], "big"):
                n = int.from_bytes(buf[:4], "big")
                request = cbor_decode(buf[4:4 + n])
                buf = buf[4 + n:]
                with self.lock:
                    self.requests.append(request)
                self.handler(self, request)

    def send(self, message: Any) -> None:
        self.sock.sendall(encode_frame(message))

    def reply(self, request: Request, res: Any = None) -> None:
        self.send({"id": request["id"], "ok": True, "res": res} if res is not None else {"id": request["id"], "ok": True})

    def fail(self, request: Request, code: str, msg: str) -> None:
        self.send({"id": request["id"], "ok": False, "err": {"code": code, "msg": msg}})

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class ClientTest(unittest.TestCase):
    def kernel(self, handler: Optional[Callable[[FakeKernel, Request], None]] = None) -> FakeKernel:
        k = FakeKernel(handler)
        self.addCleanup(k.close)
        return k

    def client(self, k: FakeKernel, **options: Any) -> AgentOSClient:
        c = AgentOSClient(fd=k.agent_fd, **options)
        self.addCleanup(c.close)
        return c


class Replies(ClientTest):
    def test_replies_in_reverse_order_each_reach_their_caller(self) -> None:
        held: List[Request] = []

        def handler(k: FakeKernel, request: Request) -> None:
            held.append(request)
            if len(held) == 5:
                for r in reversed(held):
                    k.reply(r, {"echo": r["args"]})

        c = self.client(self.kernel(handler))
        ids = [c.submit(Op.NOOP, i) for i in range(5)]
        self.assertEqual(len(set(ids)), 5)
        self.assertEqual([c.collect(i) for i in ids], [{"echo": i} for i in range(5)])

    def test_an_error_reply_raises_with_the_kernels_code_message_and_op(self) -> None:
        c = self.client(self.kernel(lambda k, r: k.fail(r, "ENOSYS", "syscall TREE (0x30) is not implemented")))
        with self.assertRaises(AgentOSError) as caught:
            c.tree()
        self.assertEqual((caught.exception.code, caught.exception.op), ("ENOSYS", Op.TREE))
        self.assertEqual(str(caught.exception), "ENOSYS: syscall TREE (0x30) is not implemented")
        self.assertNotIsInstance(caught.exception, AgentOSConnectionError)

    def test_a_reply_split_into_single_bytes_is_put_back_together(self) -> None:
        def handler(k: FakeKernel, request: Request) -> None:
            for b in encode_frame({"id": request["id"], "ok": True, "res": "x" * 300}):
                k.sock.sendall(bytes([b]))

        c = self.client(self.kernel(handler))
        self.assertEqual(c.noop(), "x" * 300)

    def test_a_late_reply_after_a_timeout_is_dropped(self) -> None:
        first: List[Request] = []

        def handler(k: FakeKernel, request: Request) -> None:
            if not first:
                first.append(request)
                return
            k.reply(first[0], "late")
            k.reply(request, "on time")

        c = self.client(self.kernel(handler))
        start = time.monotonic()
        with self.assertRaises(AgentOSError) as caught:
            c.noop(1, timeout=0.2)
        self.assertGreaterEqual(time.monotonic() - start, 0.19)
        self.assertEqual(caught.exception.code, "ETIMEDOUT")
        self.assertIn("NOOP (0x00)", caught.exception.message)
        self.assertEqual(c.noop(2), "on time")
        self.assertEqual(c._replies, {})

    def test_many_threads_calling_at_once_each_get_their_own_answers(self) -> None:
        rng = random.Random(3)
        lock = threading.Lock()

        def handler(k: FakeKernel, request: Request) -> None:
            with lock:
                delay = rng.random() * 0.01
            threading.Timer(delay, lambda: k.reply(request, request["args"])).start()

        c = self.client(self.kernel(handler))
        errors: List[BaseException] = []

        def worker(n: int) -> None:
            try:
                for i in range(40):
                    value = {"thread": n, "i": i}
                    assert c.noop(value) == value
            except BaseException as e:  # noqa: BLE001 (reported below)
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])


class PushesAndChunks(ClientTest):
    def test_pushes_between_replies_go_to_the_handler(self) -> None:
        def handler(k: FakeKernel, request: Request) -> None:
            k.send({"ev": "agentos.agent.started", "data": {"name": "w"}})
            k.reply(request, "ok")

        seen: List[Dict[str, Any]] = []
        c = self.client(self.kernel(handler), on_push=seen.append)
        self.assertEqual(c.noop(), "ok")
        self.assertEqual(seen, [{"ev": "agentos.agent.started", "data": {"name": "w"}}])

    def test_without_a_handler_pushes_queue_and_next_push_reads_them(self) -> None:
        k = self.kernel()
        c = self.client(k)
        c.noop()
        k.send({"ev": "tick", "data": 1})
        self.assertEqual(c.next_push(timeout=2), {"ev": "tick", "data": 1})
        self.assertIsNone(c.next_push(timeout=0.05))

    def test_chunks_reach_on_chunk_before_the_reply(self) -> None:
        def handler(k: FakeKernel, request: Request) -> None:
            for part in ("Hel", "lo"):
                k.send({"id": request["id"], "more": {"delta": part}})
            k.reply(request, {"content": "Hello", "usage": {"inputTokens": 3, "outputTokens": 2}, "model": "offline"})

        parts: List[Any] = []
        c = self.client(self.kernel(handler))
        answer = c.think("hi", stream=True, on_chunk=parts.append)
        self.assertEqual(parts, [{"delta": "Hel"}, {"delta": "lo"}])
        self.assertEqual((answer["content"], answer["tokens"], answer["error"], answer["model"]), ("Hello", 5, None, "offline"))


class Think(ClientTest):
    def test_think_puts_a_kernel_error_in_error_instead_of_raising(self) -> None:
        c = self.client(self.kernel(lambda k, r: k.fail(r, "ENOSYS", "syscall THINK (0x01) is not implemented by this kernel yet")))
        answer = c.think("hi")
        self.assertEqual(answer["content"], "")
        self.assertEqual(answer["tokens"], 0)
        self.assertTrue(answer["error"].startswith("ENOSYS: syscall THINK"))

    def test_think_reads_total_tokens_when_given(self) -> None:
        c = self.client(self.kernel(lambda k, r: k.reply(r, {"content": "x", "usage": {"totalTokens": 9}, "model": "m"})))
        self.assertEqual(c.think(messages=[{"role": "user", "content": "hi"}])["tokens"], 9)


class Connection(ClientTest):
    def test_an_eproto_push_then_close_fails_the_waiting_call_with_its_reason(self) -> None:
        def handler(k: FakeKernel, request: Request) -> None:
            k.send({"ev": "error", "data": {"code": "EPROTO", "msg": "frame length 0"}})
            k.close()

        c = self.client(self.kernel(handler))
        with self.assertRaises(AgentOSConnectionError) as caught:
            c.noop()
        self.assertEqual(caught.exception.code, "EPROTO")
        self.assertIn("frame length 0", caught.exception.message)
        with self.assertRaises(AgentOSConnectionError):
            c.noop()
        self.assertFalse(c.connected)

    def test_an_invalid_frame_from_the_kernel_is_eproto(self) -> None:
        c = self.client(self.kernel(lambda k, r: k.sock.sendall(b"\x00\x00\x00\x00")))
        with self.assertRaises(AgentOSConnectionError) as caught:
            c.noop()
        self.assertEqual(caught.exception.code, "EPROTO")

    def test_a_frame_that_is_not_a_map_is_eproto(self) -> None:
        c = self.client(self.kernel(lambda k, r: k.sock.sendall(b"\x00\x00\x00\x01\x01")))
        with self.assertRaises(AgentOSConnectionError) as caught:
            c.noop()
        self.assertEqual(caught.exception.code, "EPROTO")

    def test_the_kernel_closing_is_econnreset(self) -> None:
        c = self.client(self.kernel(lambda k, r: k.close()))
        with self.assertRaises(AgentOSConnectionError) as caught:
            c.noop()
        self.assertEqual(caught.exception.code, "ECONNRESET")

    def test_a_call_after_close_is_enotconn(self) -> None:
        with AgentOSClient(fd=self.kernel().agent_fd) as c:
            self.assertEqual(c.info["agent"]["name"], "fake")
            self.assertEqual(c.max_frame, 4096)
        with self.assertRaises(AgentOSConnectionError) as caught:
            c.noop()
        self.assertEqual(caught.exception.code, "ENOTCONN")

    def test_agentos_fd_is_used_when_no_path_is_given(self) -> None:
        k = self.kernel()
        old = os.environ.get("AGENTOS_FD"), os.environ.get("AGENTOS_SOCKET")
        os.environ["AGENTOS_FD"] = str(k.agent_fd)
        os.environ["AGENTOS_SOCKET"] = "/nonexistent/must-not-be-used.sock"
        try:
            with self.assertRaises(AgentOSConnectionError) as caught:
                AgentOSClient("/nonexistent/explicit.sock").connect()
            self.assertEqual(caught.exception.code, "ENOENT")
            self.assertIn("/nonexistent/explicit.sock", caught.exception.message)
            with AgentOSClient() as c:
                self.assertEqual(c.noop("via fd"), "via fd")
        finally:
            for key, value in zip(("AGENTOS_FD", "AGENTOS_SOCKET"), old):
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def test_a_bad_inherited_fd_is_ebadf(self) -> None:
        with self.assertRaises(AgentOSConnectionError) as caught:
            AgentOSClient(fd=99999).connect()
        self.assertEqual(caught.exception.code, "EBADF")

    def test_a_path_with_nothing_listening_is_econnrefused(self) -> None:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "kernel.sock")
            s = socket.socket(socket.AF_UNIX)
            s.bind(path)
            s.close()
            with self.assertRaises(AgentOSConnectionError) as caught:
                AgentOSClient(path).connect()
            self.assertEqual(caught.exception.code, "ECONNREFUSED")


class Requests(ClientTest):
    def test_each_method_sends_its_op_and_args(self) -> None:
        k = self.kernel()
        c = self.client(k)
        c.hello("me")
        c.noop()
        c.noop(None)
        c.think("p", model="m", max_tokens=5)
        c.spawn("w", "/x/w.py", ["-v"], env={"A": "1"}, sandbox={"memory": "64M"}, caps=["SPAWN"], restart="transient")
        c.kill("w", "SIGKILL")
        c.list_agents()
        c.wait("w", timeout_ms=100)
        c.stat("w")
        c.send("w", {"task": 1}, nowait=True)
        c.send("w", 2)
        c.recv(timeout_ms=10)
        c.ack(7)
        c.log("info", "hi", {"n": 1})
        c.heartbeat()
        sent = [(r["op"], r["args"]) if "args" in r else (r["op"],) for r in k.requests]
        self.assertEqual(sent, [
            (Op.HELLO, {"version": 1, "name": "me"}),
            (Op.NOOP,),
            (Op.NOOP, None),
            (Op.THINK, {"prompt": "p", "model": "m", "maxTokens": 5}),
            (Op.SPAWN, {"name": "w", "run": "/x/w.py", "args": ["-v"], "env": {"A": "1"}, "sandbox": {"memory": "64M"},
                        "caps": ["SPAWN"], "restart": "transient"}),
            (Op.KILL, {"name": "w", "signal": "SIGKILL"}),
            (Op.LIST, {}),
            (Op.WAIT, {"name": "w", "timeoutMs": 100}),
            (Op.STAT, {"name": "w"}),
            (Op.SEND, {"to": "w", "payload": {"task": 1}, "nowait": True}),
            (Op.SEND, {"to": "w", "payload": 2}),
            (Op.RECV, {"timeoutMs": 10}),
            (Op.ACK, {"msgId": 7}),
            (Op.LOG, {"level": "info", "msg": "hi", "fields": {"n": 1}}),
            (Op.HEARTBEAT, {}),
        ])

    def test_ids_are_unique_positive_integers(self) -> None:
        k = self.kernel()
        c = self.client(k)
        for _ in range(20):
            c.noop()
        ids = [r["id"] for r in k.requests]
        self.assertEqual(len(set(ids)), 20)
        self.assertTrue(all(isinstance(i, int) and i > 0 for i in ids))

    def test_an_unencodable_request_is_einval_and_a_too_large_one_e2big(self) -> None:
        k = self.kernel()
        c = self.client(k, max_frame=100)
        with self.assertRaises(AgentOSError) as caught:
            c.noop(object())
        self.assertEqual(caught.exception.code, "EINVAL")
        with self.assertRaises(AgentOSError) as caught:
            c.noop(b"\x00" * 200)
        self.assertEqual(caught.exception.code, "E2BIG")
        self.assertEqual(c.noop("still fine"), "still fine")


if __name__ == "__main__":
    unittest.main()
