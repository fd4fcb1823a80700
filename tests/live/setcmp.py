#!/usr/bin/env python3
"""setcmp.py TAGS.json TAG FAMILY(4|6) < `nft -j list set ...`

Compares the addresses of a kernel set (nft JSON listing on stdin) with the
prefixes of service tag TAG in TAGS.json: prints "equal N" (N = number of kernel
elements) and exits 0 when both cover exactly the same addresses, else prints
the differences and exits 1."""
import ipaddress
import json
import sys


def nets_of(elem):
    if isinstance(elem, dict) and "elem" in elem:
        elem = elem["elem"]["val"]
    if isinstance(elem, str):
        return [ipaddress.ip_network(elem)]
    if "prefix" in elem:
        p = elem["prefix"]
        return [ipaddress.ip_network("%s/%d" % (p["addr"], p["len"]), strict=False)]
    if "range" in elem:
        a, b = (ipaddress.ip_address(x) for x in elem["range"])
        return list(ipaddress.summarize_address_range(a, b))
    raise ValueError("unknown element %r" % (elem,))


def main():
    tags_file, tag, fam = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(tags_file) as f:
        tags = json.load(f)
    want = None
    for v in tags["values"]:
        if v["name"].lower() == tag.lower():
            want = [ipaddress.ip_network(p, strict=False) for p in v["properties"]["addressPrefixes"]]
    if want is None:
        print("tag %s not in %s" % (tag, tags_file))
        return 1
    want = [n for n in want if n.version == fam]
    listing = json.load(sys.stdin)
    elems = []
    for obj in listing.get("nftables", []):
        if "set" in obj:
            elems = obj["set"].get("elem", [])
    got = []
    for e in elems:
        got.extend(nets_of(e))
    w = list(ipaddress.collapse_addresses(want))
    g = list(ipaddress.collapse_addresses(got))
    if w == g:
        print("equal %d" % len(elems))
        return 0 if elems or not want else 1
    ws, gs = set(w), set(g)
    print("tag %s v%d: %d prefixes (%d collapsed), kernel set %d elements (%d collapsed)"
          % (tag, fam, len(want), len(w), len(elems), len(g)))
    for n in sorted(ws - gs)[:10]:
        print("  only in the tags file: %s" % n)
    for n in sorted(gs - ws)[:10]:
        print("  only in the kernel set: %s" % n)
    return 1


if __name__ == "__main__":
    sys.exit(main())
