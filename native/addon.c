/*
 * agentos-node.node: the socket calls Node has no API for, exported to JS.
 *
 *   peerCredentials(fd) -> { pid, uid, gid }   getsockopt(SO_PEERCRED)
 *   socketPair()        -> [fd0, fd1]          socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)
 *   closeFd(fd)         -> undefined           close(2)
 *   setDumpable(on)     -> undefined           prctl(PR_SET_DUMPABLE)
 *   setParentDeathSignal(signo) -> ppid        prctl(PR_SET_PDEATHSIG), then getppid()
 *
 * A failed syscall throws an Error whose code is the errno name ("EBADF") and whose message
 * names the step and the object ("getsockopt(SO_PEERCRED) on fd 12: Bad file descriptor"),
 * with `syscall` set as Node's own system errors do. peerCredentials also throws ENOTCONN for a
 * socket that has no peer credentials (TCP, unconnected). src/sandbox/PeerCredentials.ts is the
 * only caller.
 *
 * setDumpable(false) keeps every other process of the kernel's uid (an agent that shares it,
 * without a user namespace) from opening the kernel's /proc/<pid>/mem, environ or fd.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "napi.h"

/* On a failed Node-API call: make sure an exception is pending, then return NULL to JS. */
#define NAPI_CALL(env, call)                                                                   \
    do {                                                                                       \
        if ((call) != napi_ok) {                                                               \
            addon_throw_internal((env), #call);                                                \
            return NULL;                                                                       \
        }                                                                                      \
    } while (0)

static void addon_throw_internal(napi_env env, const char *what)
{
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
        return;
    char msg[256];
    snprintf(msg, sizeof msg, "agentos-node: %s failed", what);
    napi_throw_error(env, "ERR_AGENTOS_NATIVE", msg);
}

/*
 * The errno names of the errors these three syscalls document (and ENOTCONN, see
 * addon_peer_credentials), so the code is the same on every libc; anything else falls back to
 * glibc's strerrorname_np (2.32+).
 */
static const char *addon_errno_name(int err)
{
    switch (err) {
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EBADF: return "EBADF";
    case EDQUOT: return "EDQUOT";
    case EFAULT: return "EFAULT";
    case EINTR: return "EINTR";
    case EINVAL: return "EINVAL";
    case EIO: return "EIO";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOBUFS: return "ENOBUFS";
    case ENOMEM: return "ENOMEM";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case ENOSPC: return "ENOSPC";
    case ENOTCONN: return "ENOTCONN";
    case ENOTSOCK: return "ENOTSOCK";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    default: break;
    }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    const char *name = strerrorname_np(err);
    if (name != NULL)
        return name;
#endif
    return "UNKNOWN";
}

/* Throws Error(`${step}: ${strerror(err)}`) with code = errno name and syscall = syscall. */
static napi_value addon_throw_errno(napi_env env, int err, const char *syscall, const char *step)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %s", step, strerror(err));
    napi_value code, message, error, name;
    NAPI_CALL(env, napi_create_string_utf8(env, addon_errno_name(err), NAPI_AUTO_LENGTH, &code));
    NAPI_CALL(env, napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message));
    NAPI_CALL(env, napi_create_error(env, code, message, &error));
    NAPI_CALL(env, napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &name));
    NAPI_CALL(env, napi_set_named_property(env, error, "syscall", name));
    NAPI_CALL(env, napi_throw(env, error));
    return NULL;
}

/*
 * Reads argument 0 as a file descriptor. Checked here rather than trusted from JS: NaN, 3.5 or
 * -1 would otherwise truncate to a real fd (0, 3) and act on the wrong file.
 */
static bool addon_fd_arg(napi_env env, napi_callback_info info, const char *fn, int *fd)
{
    size_t argc = 1;
    napi_value argv[1];
    char msg[128];
    double value;
    if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
        addon_throw_internal(env, "napi_get_cb_info");
        return false;
    }
    if (argc < 1 || napi_get_value_double(env, argv[0], &value) != napi_ok) {
        snprintf(msg, sizeof msg, "%s: fd must be a number", fn);
        napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
        return false;
    }
    if (!(value >= 0 && value <= INT_MAX && value == (double)(int)value)) {
        snprintf(msg, sizeof msg, "%s: fd must be an integer from 0 to %d, got %g", fn, INT_MAX,
                 value);
        napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
        return false;
    }
    *fd = (int)value;
    return true;
}

static napi_value addon_peer_credentials(napi_env env, napi_callback_info info)
{
    int fd;
    if (!addon_fd_arg(env, info, "peerCredentials", &fd))
        return NULL;

    /*
     * Linux records the credentials at connect(2) or socketpair(2) time, not at call time: the
     * pid is the process that connected (or created the pair), seen from our pid namespace.
     */
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        int err = errno;
        char step[64];
        snprintf(step, sizeof step, "getsockopt(SO_PEERCRED) on fd %d", fd);
        return addon_throw_errno(env, err, "getsockopt", step);
    }
    /*
     * A socket with no credentials recorded (TCP, or an AF_UNIX socket never connected) does not
     * fail: the kernel answers uid = gid = (uid_t)-1. Report that as ENOTCONN rather than hand
     * out uid 4294967295. pid 0 alone is real data: a peer outside our pid namespace.
     */
    if (cred.uid == (uid_t)-1 && cred.gid == (gid_t)-1) {
        char step[64];
        snprintf(step, sizeof step, "getsockopt(SO_PEERCRED) on fd %d", fd);
        return addon_throw_errno(env, ENOTCONN, "getsockopt", step);
    }

    napi_value result, pid, uid, gid;
    NAPI_CALL(env, napi_create_object(env, &result));
    NAPI_CALL(env, napi_create_int32(env, (int32_t)cred.pid, &pid));
    NAPI_CALL(env, napi_create_uint32(env, (uint32_t)cred.uid, &uid));
    NAPI_CALL(env, napi_create_uint32(env, (uint32_t)cred.gid, &gid));
    NAPI_CALL(env, napi_set_named_property(env, result, "pid", pid));
    NAPI_CALL(env, napi_set_named_property(env, result, "uid", uid));
    NAPI_CALL(env, napi_set_named_property(env, result, "gid", gid));
    return result;
}

/* Builds [fds[0], fds[1]]; on failure the caller still owns (and must close) both fds. */
static napi_value addon_fd_pair(napi_env env, const int fds[2])
{
    napi_value result, fd0, fd1;
    NAPI_CALL(env, napi_create_array_with_length(env, 2, &result));
    NAPI_CALL(env, napi_create_int32(env, fds[0], &fd0));
    NAPI_CALL(env, napi_create_int32(env, fds[1], &fd1));
    NAPI_CALL(env, napi_set_element(env, result, 0, fd0));
    NAPI_CALL(env, napi_set_element(env, result, 1, fd1));
    return result;
}

static napi_value addon_socket_pair(napi_env env, napi_callback_info info)
{
    (void)info;
    int fds[2];
    /*
     * SOCK_CLOEXEC so neither end leaks into a child spawned meanwhile; the end given to an
     * agent loses the flag when the spawn dup2()s it onto the agent's fd 3.
     */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
        return addon_throw_errno(env, errno, "socketpair",
                                 "socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)");
    napi_value result = addon_fd_pair(env, fds);
    if (result == NULL) {
        close(fds[0]);
        close(fds[1]);
    }
    return result;
}

static napi_value addon_close_fd(napi_env env, napi_callback_info info)
{
    int fd;
    if (!addon_fd_arg(env, info, "closeFd", &fd))
        return NULL;
    /*
     * On Linux the fd is released even when close fails with EINTR, so retrying could close an
     * fd another thread has just been given; EINTR therefore counts as success.
     */
    if (close(fd) != 0 && errno != EINTR) {
        int err = errno;
        char step[48];
        snprintf(step, sizeof step, "close(fd %d)", fd);
        return addon_throw_errno(env, err, "close", step);
    }
    napi_value undefined;
    NAPI_CALL(env, napi_get_undefined(env, &undefined));
    return undefined;
}

static napi_value addon_set_dumpable(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1];
    bool on = false;
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 1 || napi_get_value_bool(env, argv[0], &on) != napi_ok) {
        napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "setDumpable: expected a boolean");
        return NULL;
    }
    if (prctl(PR_SET_DUMPABLE, on ? 1 : 0, 0, 0, 0) != 0)
        return addon_throw_errno(env, errno, "prctl", "prctl(PR_SET_DUMPABLE)");
    napi_value undefined;
    NAPI_CALL(env, napi_get_undefined(env, &undefined));
    return undefined;
}

static napi_value addon_set_parent_death_signal(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1];
    int32_t signo = 0;
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 1 || napi_get_value_int32(env, argv[0], &signo) != napi_ok || signo < 0 || signo > 64) {
        napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "setParentDeathSignal: expected a signal number");
        return NULL;
    }
    if (prctl(PR_SET_PDEATHSIG, signo, 0, 0, 0) != 0)
        return addon_throw_errno(env, errno, "prctl", "prctl(PR_SET_PDEATHSIG)");
    /* Read after setting: a parent that died before the prctl shows as a new parent already. */
    napi_value ppid;
    NAPI_CALL(env, napi_create_int32(env, (int32_t)getppid(), &ppid));
    return ppid;
}

/* Node-API 8 (Node >= 12.22) has everything used here; the project needs Node 24 anyway. */
int32_t node_api_module_get_api_version_v1(void)
{
    return 8;
}

napi_value napi_register_module_v1(napi_env env, napi_value exports)
{
    static const struct {
        const char *name;
        napi_callback cb;
    } functions[] = {
        { "peerCredentials", addon_peer_credentials },
        { "socketPair", addon_socket_pair },
        { "closeFd", addon_close_fd },
        { "setDumpable", addon_set_dumpable },
        { "setParentDeathSignal", addon_set_parent_death_signal },
    };
    for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
        napi_value fn;
        NAPI_CALL(env, napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH,
                                            functions[i].cb, NULL, &fn));
        NAPI_CALL(env, napi_set_named_property(env, exports, functions[i].name, fn));
    }
    return exports;
}
