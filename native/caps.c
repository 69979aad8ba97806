/*
 * Capabilities, without libcap: prctl for securebits, the bounding and ambient sets, capset(2)
 * (version 3, two 32-bit words) for the rest. Order matters: securebits and the bounding set
 * need CAP_SETPCAP, the id switch needs CAP_SETUID/CAP_SETGID, so capset to zero comes last.
 */
#include "caps.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "die.h"


static void lock_and_bound(void)
{
	/* Root of the user namespace would regain a full set on exec without NOROOT. */
	unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
			     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED;
#ifdef SECBIT_NO_CAP_AMBIENT_RAISE
	bits |= SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
#endif
	if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) != 0)
		die_errno("caps", "PR_SET_SECUREBITS");
	for (unsigned long cap = 0;; cap++) {
		int has = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (has < 0 && errno == EINVAL)
			break; /* past the kernel's last capability */
		if (has < 0)
			die_errno("caps", "PR_CAPBSET_READ %lu", cap);
		if (has && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
			die_errno("caps", "PR_CAPBSET_DROP %lu", cap);
	}
}

void caps_drop(int switch_ids, uid_t uid, gid_t gid)
{
	struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof data);
	if (syscall(SYS_capget, &header, data) != 0)
		die_errno("caps", "capget");
	/* Unprivileged without a user namespace (the ns=none fallback) there is nothing to drop
	 * but also no CAP_SETPCAP to lock securebits or shrink the bounding set with; under
	 * no_new_privs such a process can never gain a capability, so those two steps go. */
	if (data[CAP_TO_INDEX(CAP_SETPCAP)].effective & CAP_TO_MASK(CAP_SETPCAP))
		lock_and_bound();
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
		die_errno("caps", "PR_CAP_AMBIENT_CLEAR_ALL");
	if (switch_ids) {
		if (setgroups(0, NULL) != 0)
			die_errno("caps", "setgroups(0)");
		if (setresgid(gid, gid, gid) != 0)
			die_errno("caps", "setresgid(%u)", (unsigned)gid);
		if (setresuid(uid, uid, uid) != 0)
			die_errno("caps", "setresuid(%u)", (unsigned)uid);
	}
	memset(data, 0, sizeof data);
	if (syscall(SYS_capset, &header, data) != 0)
		die_errno("caps", "capset(0)");
}
