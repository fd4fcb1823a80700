#!/usr/bin/env python3
"""Crafted saved dumps (rules/dump.h format) aimed at libnftnl's parsers:
each one exits, aborts or reads out of bounds inside libnftnl unless the loader
checks the attributes first (rules/dump.c check_message).

  craft_dump.py DIR           writes the crafted files, sealed (magic, records,
                              trailer with the right checksum), into DIR
"""
import os
import struct
import sys

MAGIC = b"filterd-ruleset 1\n"
NFPROTO_INET = 1
SUBSYS = 10 << 8
NEWTABLE, NEWCHAIN, NEWRULE, NEWSET, NEWSETELEM = 0, 3, 6, 9, 12


def attr(t, payload, nested=False):
    n = 4 + len(payload)
    return struct.pack("=HH", n, t | (0x8000 if nested else 0)) + payload + b"\0" * ((4 - n % 4) % 4)


def s(t, text):
    return attr(t, text.encode() + b"\0")


def u32(t, v):
    return attr(t, struct.pack(">I", v))


def msg(mtype, attrs):
    body = struct.pack("=BBH", NFPROTO_INET, 0, 0) + b"".join(attrs)
    return struct.pack("=IHHII", 16 + len(body), SUBSYS | mtype, 0, 1, 0) + body


def seal(msgs):
    f = MAGIC + b"".join(struct.pack(">I", len(m)) + m for m in msgs) + b"\0\0\0\0"
    h = 0xCBF29CE484222325
    for c in f:
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f + struct.pack(">Q", h)


TABLE = msg(NEWTABLE, [s(1, "filterd"), u32(2, 0)])
CHAIN = msg(NEWCHAIN, [s(1, "filterd"), s(3, "input")])
SET = msg(NEWSET, [s(1, "filterd"), s(2, "s4"), u32(3, 1), u32(4, 7), u32(5, 4)])


def rule(exprs):
    return msg(NEWRULE, [s(1, "filterd"), s(2, "input"), attr(4, b"".join(exprs), True)])


def elem(e):
    return attr(1, b"".join(e), True)      # NFTA_LIST_ELEM


CASES = {
    # NFTA_TABLE_FLAGS of 2 bytes: libnftnl's table callback calls abi_breakage() -> exit(1)
    "table-flags-short.frs": [msg(NEWTABLE, [s(1, "filterd"), attr(2, b"\0\1")])],
    # a table name without its NUL: strdup() reads past the attribute
    "table-name-unterminated.frs": [msg(NEWTABLE, [attr(1, b"filterdX"), u32(2, 0)])],
    # an expression without NFTA_EXPR_NAME: nftnl_expr_alloc(NULL) -> strcmp(NULL)
    "expr-without-name.frs": [TABLE, CHAIN, rule([elem([attr(2, u32(1, 1), True)])])],
    # an expression libnftnl knows but the evaluator does not (fib)
    "expr-unsupported.frs": [TABLE, CHAIN, rule([elem([s(1, "fib"), attr(2, u32(1, 1), True)])])],
    # cmp data with a 200-byte value (NFT_DATA_VALUE_MAXLEN is 64)
    "cmp-value-too-long.frs": [TABLE, CHAIN, rule([elem([s(1, "cmp"), attr(2, u32(1, 1) + u32(2, 0) +
                                                 attr(3, attr(1, b"\xff" * 200), True), True)])])],
    # a set element attribute numbered 15: above NFTA_SET_ELEM_MAX (11), below
    # NFTA_SET_MAX, which is what libnftnl 1.2.4 checks -> written past its table
    "setelem-attr-15.frs": [TABLE, SET, msg(NEWSETELEM, [s(1, "filterd"), s(2, "s4"),
                            attr(3, elem([attr(1, attr(1, b"\x0a\0\0\1"), True), u32(15, 1)]), True)])],
    # rule user data whose TLV length runs past the attribute
    "rule-udata-overrun.frs": [TABLE, CHAIN, msg(NEWRULE, [s(1, "filterd"), s(2, "input"),
                               attr(7, b"\x00\xf0abc")])],
    # 17 concatenated fields (the kernel allows 16)
    "set-concat-17.frs": [TABLE, msg(NEWSET, [s(1, "filterd"), s(2, "c"), u32(5, 68),
                          attr(9, attr(2, b"".join(elem([u32(1, 4)]) for _ in range(17)), True), True)])],
}

if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, msgs in CASES.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(seal(msgs))
