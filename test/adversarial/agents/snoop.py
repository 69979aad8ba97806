"""An untrusted agent looking for what it must not reach. argv: the kernel's pid, its socket
path, and a secret file under the kernel user's home. Reports each attempt as allowed or
denied with its errno."""
import ctypes
import errno
import json
import os
import signal
import socket
import sys

kernel_pid, kernel_socket, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
home = os.path.dirname(os.path.dirname(secret))
result = {}


def attempt(name, action):
    try:
        value = action()
        result[name] = "allowed" if value is None else "allowed: %s" % str(value)[:80]
    except OSError as e:
        result[name] = "denied: %s" % errno.errorcode.get(e.errno, e.errno)


attempt("list /home", lambda: os.listdir("/home"))
attempt("list /root", lambda: os.listdir("/root"))
attempt("list home", lambda: os.listdir(home))
attempt("read secret", lambda: open(secret).read())
attempt("list ~/.ssh", lambda: os.listdir(os.path.dirname(secret)))


def connect_kernel():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(kernel_socket)
    finally:
        s.close()


attempt("connect kernel socket", connect_kernel)
attempt("read kernel mem", lambda: open("/proc/%d/mem" % kernel_pid, "rb").read(1))
attempt("read kernel environ", lambda: open("/proc/%d/environ" % kernel_pid, "rb").read(1))
attempt("signal kernel", lambda: os.kill(kernel_pid, 0))
attempt("netlink socket", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0).close())
attempt("packet socket", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close())
libc = ctypes.CDLL(None, use_errno=True)


def io_uring():
    params = ctypes.create_string_buffer(120)
    if libc.syscall(425, 8, params) < 0:
        raise OSError(ctypes.get_errno(), "io_uring_setup")


attempt("io_uring", io_uring)
print("REPORT " + json.dumps(result), flush=True)
