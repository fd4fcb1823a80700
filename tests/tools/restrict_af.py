#!/usr/bin/env python3
"""restrict_af.py FAMILIES -- CMD [ARGS...]

Runs CMD with socket(2) refused (EAFNOSUPPORT) for every address family not in
FAMILIES (comma- or space-separated, named as in systemd's
RestrictAddressFamilies=, e.g. "AF_UNIX AF_NETLINK"), the way systemd confines
a unit: a seccomp filter (libseccomp, through ctypes) that the command and its
children inherit.  The tests use it to run filterd under its unit's address
families without systemd as PID 1.
"""
import ctypes
import errno
import os
import socket
import sys

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ = 4
AF_MAX = 46


def act_errno(e):
    return 0x00050000 | (e & 0xFFFF)


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def main(argv):
    if len(argv) < 4 or argv[2] != "--":
        sys.exit(__doc__)
    allowed = set()
    for name in argv[1].replace(",", " ").split():
        if not hasattr(socket, name):
            sys.exit("restrict_af.py: unknown address family %s" % name)
        allowed.add(int(getattr(socket, name)))
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    nr = lib.seccomp_syscall_resolve_name(b"socket")
    if not ctx or nr < 0:
        sys.exit("restrict_af.py: libseccomp set-up failed")
    for fam in range(AF_MAX):
        if fam in allowed:
            continue
        cmp = ArgCmp(0, SCMP_CMP_EQ, fam, 0)
        if lib.seccomp_rule_add_array(ctx, act_errno(errno.EAFNOSUPPORT), nr, 1,
                                      ctypes.byref(cmp)) != 0:
            sys.exit("restrict_af.py: seccomp_rule_add failed for family %d" % fam)
    if lib.seccomp_load(ctx) != 0:
        sys.exit("restrict_af.py: seccomp_load failed")
    os.execvp(argv[3], argv[3:])


if __name__ == "__main__":
    main(sys.argv)
