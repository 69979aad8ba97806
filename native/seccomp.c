/*
 * The seccomp filter, as raw classic BPF, built into one array per launch. Layout: check the
 * architecture (anything but the one this launcher was built for is killed: a 32-bit syscall
 * on x86_64 has other numbers), refuse x32 numbers, then one `JEQ nr; RET errno` pair per
 * denied syscall (short jumps only, so the program is easy to check), then one block per
 * argument check (clone flags, personality, ioctl request, socket family, mmap flags,
 * utimensat's path), each ending in its own returns, then ALLOW. A block's first jump skips the
 * whole block when the number does not match.
 */
#include "seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "die.h"

#if defined(__x86_64__)
#define ARCH_NATIVE AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH_NATIVE AUDIT_ARCH_AARCH64
#else
#error "agentos-launch: seccomp profile defined for x86_64 and aarch64 only"
#endif

#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif
/* Numbers newer than some build machines' headers (the same on x86_64 and aarch64). */
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#define __NR_io_uring_enter 426
#define __NR_io_uring_register 427
#endif
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif
#ifndef __NR_setxattrat
#define __NR_setxattrat 463
#endif
#ifndef __NR_removexattrat
#define __NR_removexattrat 466
#endif
#ifndef __NR_memfd_secret
#define __NR_memfd_secret 447
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + (i) * sizeof(__u64))
#define ARG_HI(i) (offsetof(struct seccomp_data, args) + (i) * sizeof(__u64) + sizeof(__u32))
#else
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + (i) * sizeof(__u64) + sizeof(__u32))
#define ARG_HI(i) (offsetof(struct seccomp_data, args) + (i) * sizeof(__u64))
#endif

#define ERRNO(e) (SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))
#define CLONE_NEW_ANY (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

struct program {
	struct sock_filter insn[320];
	unsigned n;
};

static void emit(struct program *p, struct sock_filter insn)
{
	if (p->n == sizeof p->insn / sizeof *p->insn) {
		errno = E2BIG;
		die_errno("seccomp", "filter longer than %zu instructions", sizeof p->insn / sizeof *p->insn);
	}
	p->insn[p->n++] = insn;
}

#define STMT(code, k) emit(p, (struct sock_filter)BPF_STMT((code), (k)))
#define JUMP(code, k, jt, jf) emit(p, (struct sock_filter)BPF_JUMP((code), (k), (jt), (jf)))
#define RET(v) STMT(BPF_RET | BPF_K, (v))
#define LOAD_NR() STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define LOAD(off) STMT(BPF_LD | BPF_W | BPF_ABS, (off))

static void deny(struct program *p, unsigned nr, int err)
{
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1);
	RET(ERRNO(err));
}

/* socket(family, …) or socketpair(family, …): ALLOW for the families listed, EPERM otherwise. */
static void families(struct program *p, unsigned nr, const unsigned *allowed, unsigned count)
{
	/* [JEQ nr][LD arg0][JEQ f]*count [RET EPERM][RET ALLOW] */
	unsigned len = 2 + count + 2;
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, (unsigned char)(len - 1));
	LOAD(ARG_LO(0));
	for (unsigned i = 0; i < count; i++)
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, allowed[i], (unsigned char)(count - i), 0);
	RET(ERRNO(EPERM));
	RET(SECCOMP_RET_ALLOW);
}

void seccomp_install(const struct seccomp_policy *policy)
{
	struct program prog_, *p = &prog_;
	p->n = 0;
	LOAD(offsetof(struct seccomp_data, arch));
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_NATIVE, 1, 0);
	RET(SECCOMP_RET_KILL_PROCESS);
	LOAD_NR();
#ifdef __x86_64__
	/* x32 shares AUDIT_ARCH_X86_64 but not the numbers. */
	JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);
	RET(ERRNO(EPERM));
#endif
	static const unsigned denied[] = {
	    __NR_ptrace, __NR_process_vm_readv, __NR_process_vm_writev, __NR_mount, __NR_umount2,
#ifdef __NR_mount_setattr
	    __NR_mount_setattr,
#endif
#ifdef __NR_move_mount
	    __NR_move_mount, __NR_open_tree, __NR_fsopen, __NR_fsconfig, __NR_fsmount, __NR_fspick,
#endif
	    __NR_pivot_root, __NR_chroot, __NR_kexec_load,
#ifdef __NR_kexec_file_load
	    __NR_kexec_file_load,
#endif
	    __NR_init_module, __NR_finit_module, __NR_delete_module, __NR_bpf, __NR_perf_event_open,
	    __NR_keyctl, __NR_add_key, __NR_request_key, __NR_unshare, __NR_setns, __NR_userfaultfd,
	    __NR_acct, __NR_swapon, __NR_swapoff, __NR_reboot, __NR_settimeofday, __NR_clock_settime,
	    __NR_clock_adjtime, __NR_adjtimex, __NR_syslog, __NR_quotactl, __NR_open_by_handle_at,
	    __NR_name_to_handle_at, __NR_lookup_dcookie, __NR_vhangup,
#ifdef __NR_iopl
	    __NR_iopl,
#endif
#ifdef __NR_ioperm
	    __NR_ioperm,
#endif
	};
	for (size_t i = 0; i < sizeof denied / sizeof *denied; i++)
		deny(p, denied[i], EPERM);
	/* clone3's flags sit behind a pointer BPF cannot follow: ENOSYS makes libc use clone.
	 * io_uring does its I/O where this filter never sees it; ENOSYS, never a kill: libuv and
	 * others probe it and fall back (moby#46762). */
	deny(p, __NR_clone3, ENOSYS);
	deny(p, __NR_io_uring_setup, ENOSYS);
	deny(p, __NR_io_uring_enter, ENOSYS);
	deny(p, __NR_io_uring_register, ENOSYS);
	if (policy->deny_uncounted_memory) {
		/* Pages a memfd or a SysV segment holds belong to no process: no rlimit and no Pss
		 * counts them. */
		deny(p, __NR_memfd_create, EPERM);
		deny(p, __NR_memfd_secret, EPERM);
		deny(p, __NR_shmget, EPERM);
	}
	if (policy->deny_host_objects) {
		/* Without an IPC namespace these are the host's queues, semaphores and segments. */
		static const unsigned sysv[] = {__NR_shmget, __NR_shmat, __NR_shmctl, __NR_msgget, __NR_msgsnd,
						__NR_msgrcv, __NR_msgctl, __NR_semget, __NR_semop, __NR_semtimedop,
						__NR_semctl};
		for (size_t i = 0; i < sizeof sysv / sizeof *sysv; i++)
			deny(p, sysv[i], EPERM);
		/* Landlock governs opening, making and removing files, not their metadata: the
		 * path-based calls are refused, the fd-based ones (fchmod, fchown, fsetxattr,
		 * futimens) work on what the agent could open. */
		static const unsigned metadata[] = {
#ifdef __NR_chmod
		    __NR_chmod, __NR_chown, __NR_lchown, __NR_utime, __NR_utimes, __NR_futimesat,
#endif
		    __NR_fchmodat, __NR_fchmodat2, __NR_fchownat, __NR_setxattr, __NR_lsetxattr,
		    __NR_removexattr, __NR_lremovexattr, __NR_setxattrat, __NR_removexattrat,
		};
		for (size_t i = 0; i < sizeof metadata / sizeof *metadata; i++)
			deny(p, metadata[i], EPERM);
		/* utimensat(fd, NULL, …) is futimens; with a path it is not. */
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_utimensat, 0, 6);
		LOAD(ARG_LO(1));
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2);
		LOAD(ARG_HI(1));
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
		RET(ERRNO(EPERM));
		RET(SECCOMP_RET_ALLOW);
	}
	/* clone: no CLONE_NEW* (all in the low 32 bits of the flags). */
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 4);
	LOAD(ARG_LO(0));
	JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEW_ANY, 0, 1);
	RET(ERRNO(EPERM));
	RET(SECCOMP_RET_ALLOW);
	/* personality: only the query (0xffffffff) and PER_LINUX. */
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_personality, 0, 5);
	LOAD(ARG_LO(0));
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffu, 2, 0);
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0 /* PER_LINUX */, 1, 0);
	RET(ERRNO(EPERM));
	RET(SECCOMP_RET_ALLOW);
	/* ioctl: no TIOCSTI (typing into the terminal) or TIOCLINUX. */
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 5);
	LOAD(ARG_LO(1));
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, 1, 0);
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, 0, 1);
	RET(ERRNO(EPERM));
	RET(SECCOMP_RET_ALLOW);
	/* Sockets of the families the agent needs; no netlink, packet, vsock, bluetooth, … */
	unsigned fams[3], count = 0;
	if (policy->unix_socket)
		fams[count++] = AF_UNIX;
	if (policy->inet) {
		fams[count++] = AF_INET;
		fams[count++] = AF_INET6;
	}
	families(p, __NR_socket, fams, count);
	static const unsigned unix_only[] = {AF_UNIX};
	families(p, __NR_socketpair, unix_only, 1);
	if (policy->deny_uncounted_memory) {
		/* mmap(…, MAP_SHARED|MAP_ANONYMOUS, …): shared anonymous memory, which RLIMIT_DATA
		 * does not count (MAP_SHARED_VALIDATE has the MAP_SHARED bit too). */
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 0, 5);
		LOAD(ARG_LO(3));
		JUMP(BPF_JMP | BPF_JSET | BPF_K, MAP_ANONYMOUS, 0, 2);
		JUMP(BPF_JMP | BPF_JSET | BPF_K, MAP_SHARED, 0, 1);
		RET(ERRNO(EPERM));
		RET(SECCOMP_RET_ALLOW);
	}
	RET(SECCOMP_RET_ALLOW);

	struct sock_fprog prog = {.len = (unsigned short)p->n, .filter = p->insn};
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
		die_errno("seccomp", "PR_SET_SECCOMP");
}
