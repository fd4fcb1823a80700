#!/usr/bin/env python3
"""Strict checker of the Prometheus text exposition format (version 0.0.4),
for the metrics filterd writes (filterctl metrics, the node_exporter textfile).

  promcheck.py FILE|-                     exit 0 when valid, else 1 with one
                                          "line N: problem" per problem
  promcheck.py FILE|- --value 'NAME{k="v",...}'
                                          also prints the sum of the samples of
                                          NAME whose labels include the given ones

Checked: metric and label names; label value escapes (only \\\\ \\" \\n);
sample values (floats, NaN, +Inf, -Inf) and optional integer timestamps; one
HELP and one TYPE per family, TYPE before its samples, known types; families
not interleaved; no duplicate series or duplicate label names; counters named
*_total and never negative; no reserved "__" label names; a final newline.
"""
import math
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
SUFFIXES = ("_bucket", "_sum", "_count")


def parse_value(s):
    if s in ("NaN", "+Inf", "-Inf", "Inf"):
        return {"NaN": math.nan, "+Inf": math.inf, "Inf": math.inf, "-Inf": -math.inf}[s]
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", s):
        raise ValueError("bad sample value %r" % s)
    return float(s)


def parse_labels(s, pos):
    """s[pos] == '{'; returns (dict, index after '}')."""
    labels = {}
    i = pos + 1
    while True:
        while i < len(s) and s[i] == " ":
            i += 1
        if i < len(s) and s[i] == "}":
            return labels, i + 1
        m = LABEL.match(s, i)
        if not m:
            raise ValueError("bad label name at column %d" % (i + 1))
        name = m.group(0)
        if name.startswith("__"):
            raise ValueError("reserved label name %r" % name)
        if name in labels:
            raise ValueError("duplicate label %r" % name)
        i = m.end()
        if s[i:i + 2] != '="':
            raise ValueError("expected =\" after label %r" % name)
        i += 2
        val = []
        while True:
            if i >= len(s):
                raise ValueError("unterminated label value")
            c = s[i]
            if c == "\\":
                nxt = s[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    raise ValueError("bad escape \\%s in label value" % nxt)
                val.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                val.append(c)
                i += 1
        labels[name] = "".join(val)
        if i < len(s) and s[i] == ",":
            i += 1
            continue
        if i < len(s) and s[i] == "}":
            return labels, i + 1
        raise ValueError("expected , or } after label %r" % name)


def family_of(name, types):
    if name in types:
        return name
    for suf in SUFFIXES:
        if name.endswith(suf) and name[: -len(suf)] in types:
            return name[: -len(suf)]
    return name


def check(text):
    problems, samples = [], []
    helps, types, seen_series = {}, {}, set()
    done_families, current = set(), None
    if text and not text.endswith("\n"):
        problems.append("the text does not end with a newline")
    for n, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), 1):
        def bad(msg):
            problems.append("line %d: %s: %s" % (n, msg, line))
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                kind, name = parts[1], parts[2]
                if not NAME.fullmatch(name):
                    bad("bad metric name in %s" % kind)
                    continue
                if name in done_families:
                    bad("%s for %s after its samples ended" % (kind, name))
                if kind == "HELP":
                    if name in helps:
                        bad("second HELP for %s" % name)
                    if len(parts) < 4 or not parts[3].strip():
                        bad("empty HELP")
                    helps[name] = parts[3] if len(parts) > 3 else ""
                else:
                    if name in types:
                        bad("second TYPE for %s" % name)
                    t = parts[3] if len(parts) > 3 else ""
                    if t not in TYPES:
                        bad("unknown type %r" % t)
                    if any(s[0] == name for s in samples):
                        bad("TYPE for %s after its samples" % name)
                    types[name] = t
                    if t == "counter" and not name.endswith("_total"):
                        bad("counter %s is not named *_total" % name)
                if current and current != name:
                    done_families.add(current)
                current = name
            continue
        m = NAME.match(line)
        if not m:
            bad("bad metric name")
            continue
        name = m.group(0)
        i = m.end()
        labels = {}
        try:
            if i < len(line) and line[i] == "{":
                labels, i = parse_labels(line, i)
            if i >= len(line) or line[i] != " ":
                raise ValueError("expected a space before the value")
            rest = line[i + 1:].split(" ")
            if len(rest) not in (1, 2):
                raise ValueError("expected VALUE [TIMESTAMP]")
            value = parse_value(rest[0])
            if len(rest) == 2 and not re.fullmatch(r"-?\d+", rest[1]):
                raise ValueError("bad timestamp %r" % rest[1])
        except ValueError as e:
            bad(str(e))
            continue
        fam = family_of(name, types)
        if fam not in types:
            bad("sample of %s without a TYPE line" % name)
        if fam in done_families:
            bad("samples of %s are not together" % fam)
        if current and current != fam:
            done_families.add(current)
        current = fam
        if types.get(fam) == "counter" and not (value >= 0):
            bad("negative counter")
        key = (name, tuple(sorted(labels.items())))
        if key in seen_series:
            bad("duplicate series")
        seen_series.add(key)
        samples.append((name, labels, value))
    return problems, samples


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--value"):
        print(__doc__, file=sys.stderr)
        return 2
    text = sys.stdin.read() if argv[1] == "-" else open(argv[1], encoding="utf-8").read()
    problems, samples = check(text)
    for p in problems:
        print(p)
    if problems:
        return 1
    if len(argv) == 4:
        q = argv[3]
        m = NAME.match(q)
        want = {}
        if m.end() < len(q):
            want, end = parse_labels(q, m.end())
        total, found = 0.0, False
        for name, labels, value in samples:
            if name == m.group(0) and all(labels.get(k) == v for k, v in want.items()):
                total += value
                found = True
        if not found:
            print("no sample matches %s" % q)
            return 1
        print("%.15g" % total)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
