#!/usr/bin/env python3
"""Writes a stress policy whose outbound rule names every tag of a tags file."""
import json, sys
d = json.load(open(sys.argv[1]))
names = [v["name"] for v in d["values"]]
print("version: 1\nworkspace: bench-alltags\nvirtual_network:\n  address_space: [10.0.0.0/16]")
print("security_rules:")
print("  - name: DenyAllTagsSsh\n    priority: 100\n    direction: inbound\n    access: deny\n    protocol: tcp\n    destination_ports: \"22\"")
print("    source: [" + ", ".join(json.dumps(n) for n in names) + "]")
print("managed_network:\n  isolation_mode: allow_only_approved_outbound\n  outbound_rules: []")
