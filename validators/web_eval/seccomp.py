"""The seccomp profile of the browser container.

Decisions:
- Chromium keeps its own sandbox: renderers (where the PR's pages run) live in their own user, PID and
  network namespaces under Chromium's seccomp-bpf filter, so escaping needs two exploits, not one. That
  sandbox needs `clone`/`unshare` with namespace flags and `chroot`, which Docker's default profile refuses
  to a container without CAP_SYS_ADMIN; this profile allows them.
- It is otherwise a deny-list of the kernel interfaces a browser never needs and that unprivileged user
  namespaces make reachable (mounts and new mount API, BPF, io_uring, userfaultfd, keyrings, perf), plus the
  host-wide knobs (modules, kexec, clocks, swap, reboot, accounting, I/O ports). Denied calls fail with EPERM.
- Only the engine's native architecture is listed: 32-bit and x32 system calls are refused outright.
- Names a kernel or architecture does not know are skipped by the runtime (e.g. `vm86` on x86-64).
"""

from __future__ import annotations

import json

DENIED = [
    # kernel modules, kexec, reboot, swap, accounting, quotas, obsolete interfaces
    "init_module", "finit_module", "delete_module", "create_module", "query_module", "get_kernel_syms",
    "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd",
    "nfsservctl", "syslog", "lookup_dcookie", "_sysctl", "sysfs", "uselib", "ustat", "vhangup",
    # clocks
    "settimeofday", "stime", "clock_settime", "clock_settime64", "adjtimex", "clock_adjtime",
    "clock_adjtime64",
    # I/O ports, vm86
    "ioperm", "iopl", "vm86", "vm86old",
    # keyrings (not namespaced)
    "add_key", "keyctl", "request_key",
    # mounts, the new mount API, file handles, namespaces joined from outside
    "mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
    "open_tree", "mount_setattr", "open_by_handle_at", "name_to_handle_at", "setns",
    # wide kernel attack surface a browser does not use
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "fanotify_init", "kcmp", "pidfd_getfd",
    # NUMA policy of other processes
    "mbind", "set_mempolicy", "get_mempolicy", "migrate_pages", "move_pages",
]

_ARCH = {"x86_64": "SCMP_ARCH_X86_64", "amd64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64",
         "arm64": "SCMP_ARCH_AARCH64"}


def profile(machine: str) -> dict[str, object]:
    """`machine`: the Docker engine's architecture (`docker info`: x86_64, aarch64); unknown: no list."""
    arch = _ARCH.get(machine.lower())
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        **({"architectures": [arch]} if arch else {}),
        "syscalls": [{"names": DENIED, "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    }


def security_opt(machine: str) -> str:
    """The `--security-opt` value (the Engine API takes the profile itself, not a file name)."""
    return "seccomp=" + json.dumps(profile(machine), separators=(",", ":"))
