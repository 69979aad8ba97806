/*
 * The seccomp filter, as raw classic BPF. Layout: check the architecture (anything but the
 * one this launcher was built for is killed: a 32-bit syscall on x86_64 has other numbers),
 * refuse x32 numbers, then one `JEQ nr; RET EPERM` pair per denied syscall (short jumps only,
 * so the program is easy to check), then the three argument checks (clone flags, personality,
 * ioctl request), each ending in its own return, then ALLOW.
 */
#include "seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
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

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + (i) * sizeof(__u64))
#else
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + (i) * sizeof(__u64) + sizeof(__u32))
#endif

#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define EPERM_ SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)
#define DENY(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), RET(EPERM_)

#define CLONE_NEW_ANY (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

void seccomp_install(void)
{
	struct sock_filter filter[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_NATIVE, 1, 0),
	    RET(SECCOMP_RET_KILL_PROCESS),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#ifdef __x86_64__
	    /* x32 shares AUDIT_ARCH_X86_64 but not the numbers. */
	    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
	    RET(EPERM_),
#endif
	    DENY(__NR_ptrace),
	    DENY(__NR_process_vm_readv),
	    DENY(__NR_process_vm_writev),
	    DENY(__NR_mount),
	    DENY(__NR_umount2),
#ifdef __NR_mount_setattr
	    DENY(__NR_mount_setattr),
#endif
#ifdef __NR_move_mount
	    DENY(__NR_move_mount),
	    DENY(__NR_open_tree),
	    DENY(__NR_fsopen),
	    DENY(__NR_fsconfig),
	    DENY(__NR_fsmount),
	    DENY(__NR_fspick),
#endif
	    DENY(__NR_pivot_root),
	    DENY(__NR_chroot),
	    DENY(__NR_kexec_load),
#ifdef __NR_kexec_file_load
	    DENY(__NR_kexec_file_load),
#endif
	    DENY(__NR_init_module),
	    DENY(__NR_finit_module),
	    DENY(__NR_delete_module),
	    DENY(__NR_bpf),
	    DENY(__NR_perf_event_open),
	    DENY(__NR_keyctl),
	    DENY(__NR_add_key),
	    DENY(__NR_request_key),
	    DENY(__NR_unshare),
	    DENY(__NR_setns),
	    DENY(__NR_userfaultfd),
	    DENY(__NR_acct),
	    DENY(__NR_swapon),
	    DENY(__NR_swapoff),
	    DENY(__NR_reboot),
	    DENY(__NR_settimeofday),
	    DENY(__NR_clock_settime),
	    DENY(__NR_clock_adjtime),
	    DENY(__NR_adjtimex),
	    DENY(__NR_syslog),
	    DENY(__NR_quotactl),
	    DENY(__NR_open_by_handle_at),
	    DENY(__NR_name_to_handle_at),
	    DENY(__NR_lookup_dcookie),
	    DENY(__NR_vhangup),
#ifdef __NR_iopl
	    DENY(__NR_iopl),
#endif
#ifdef __NR_ioperm
	    DENY(__NR_ioperm),
#endif
	    /* clone3's flags sit behind a pointer BPF cannot follow: ENOSYS makes libc use clone. */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
	    RET(SECCOMP_RET_ERRNO | ENOSYS),
	    /* clone: no CLONE_NEW* (all in the low 32 bits of the flags). */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 4),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0)),
	    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEW_ANY, 0, 1),
	    RET(EPERM_),
	    RET(SECCOMP_RET_ALLOW),
	    /* personality: only the query (0xffffffff) and PER_LINUX. */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_personality, 0, 5),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffu, 2, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0 /* PER_LINUX */, 1, 0),
	    RET(EPERM_),
	    RET(SECCOMP_RET_ALLOW),
	    /* ioctl: no TIOCSTI (typing into the terminal) or TIOCLINUX. */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 5),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, 1, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, 0, 1),
	    RET(EPERM_),
	    RET(SECCOMP_RET_ALLOW),
	    RET(SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = (unsigned short)(sizeof filter / sizeof *filter), .filter = filter};
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
		die_errno("seccomp", "PR_SET_SECCOMP");
}
