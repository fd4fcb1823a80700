#!/usr/bin/env python3
"""Normalise nftables bytecode listings so that two of them can be compared.

Reads either `nft --debug=netlink -f FILE` output or `filterctl compile --format
bytecode` output and prints a canonical form: every named set with its elements,
then every rule (chain, expressions, userdata) in order, with anonymous set
lookups replaced by the anonymous set's element list.  Equal output means the
kernel receives the same objects."""
import re
import sys

def parse(text):
    sets = {}      # name -> elements line(s)
    anon = []      # anonymous sets, in order of appearance
    rules = []
    lines = text.splitlines()
    i = 0
    cur_set = None
    while i < len(lines):
        ln = lines[i]
        m = re.match(r'^(\S+) filterd (\d+)(?: size \d+)?$', ln)       # nft set header
        m2 = re.match(r'^set (\S+) flags (0x[0-9a-f]+) keylen (\d+)$', ln)  # ours
        if m or m2:
            name = (m or m2).group(1)
            flags = int(m.group(2), 16) if m else int(m2.group(2), 16)
            if m and flags == 0:         # nft's second line (elements follow)
                cur_set = name
            else:
                cur_set = name
                if name.startswith('__set'):
                    anon.append({'flags': flags, 'elems': []})
                else:
                    sets.setdefault(name, {'flags': flags, 'elems': []})
                    sets[name]['flags'] = flags
            i += 1
            continue
        if ln.startswith('\telement') and cur_set is not None:
            elems = re.findall(r'element ([0-9a-f ]+?)\s+: (\d+) \[end\]', ln)
            tgt = anon[-1] if cur_set.startswith('__set') else sets[cur_set]
            tgt['elems'].extend(elems)
            i += 1
            continue
        m = re.match(r'^inet filterd (\S+)', ln)
        if m:
            body = [m.group(1)]
            i += 1
            while i < len(lines) and (lines[i].startswith('  [') or lines[i].startswith('  userdata')):
                body.append(lines[i].strip())
                i += 1
            rules.append(body)
            continue
        i += 1
    return sets, anon, rules

def render(sets, anon, rules):
    out = []
    for name in sorted(sets):
        s = sets[name]
        out.append('set %s flags %d' % (name, s['flags']))
        out.append('  ' + ' '.join('%s/%s' % (k.replace(' ', ''), f) for k, f in s['elems']))
    ai = iter(anon)
    for body in rules:
        out.append('rule ' + body[0])
        for e in body[1:]:
            m = re.search(r'set (__set\S+)', e)
            if m:
                a = next(ai)
                e = e.replace(m.group(1), 'anon(flags=%d: %s)' % (
                    a['flags'], ' '.join('%s/%s' % (k.replace(' ', ''), f) for k, f in a['elems'])))
            out.append('  ' + e)
    return '\n'.join(out) + '\n'

if __name__ == '__main__':
    sys.stdout.write(render(*parse(open(sys.argv[1]).read())))
