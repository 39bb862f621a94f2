#!/usr/bin/env python3
"""Splits an ncu CSV (one gpu__time_duration.sum row per kernel, in launch order) into decode
tokens and prints each token's GPU kernel time by kernel family.

A decode token is everything launched after one sampling kernel up to and including the
next (the sampler is the last launch of a token: `sample_kernel`, or `candidates_kernel` +
`select_kernel`). Used to tell GPU time from host launch time: compare the kernel sum per
token with bench_model's wall-clock ms/token of the same run shape.

    ncu --clock-control none --cache-control none --csv --print-units base \
        --metrics gpu__time_duration.sum -c N bench_model ... > ncu.csv
    python3 native/tools/ncu_decode_split.py ncu.csv
"""
import csv
import re
import sys
from collections import defaultdict

FAMILIES = [
    ("matvec", r"matvec"),
    ("attention", r"attention|attn|merge"),
    ("kv_store", r"kv_store|store"),
    ("add+rmsnorm", r"add_rms_norm"),
    ("rmsnorm", r"rms_norm"),
    ("rope", r"rope"),
    ("add/swiglu", r"binary_kernel"),
    ("sample", r"sample|candidates_kernel|select_kernel"),
    ("embed", r"embed"),
]


def family(name):
    for fam, pat in FAMILIES:
        if re.search(pat, name):
            return fam
    return "other"


def main(path):
    rows = []
    with open(path, newline="") as f:
        lines = [l for l in f if l.startswith('"')]  # ncu's own messages are not CSV
    for r in csv.DictReader(lines):
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        v = float(r["Metric Value"].replace(",", ""))
        unit = r.get("Metric Unit", "nsecond")
        ns = v * {"nsecond": 1, "usecond": 1e3, "msecond": 1e6, "second": 1e9}.get(unit, 1)
        rows.append((r["Kernel Name"], ns))
    ends = [i for i, (n, _) in enumerate(rows) if re.search(r"select_kernel|sample_kernel", n)]
    print(f"{len(rows)} kernels, {len(ends)} sampling launches")
    tokens = [rows[a + 1 : b + 1] for a, b in zip(ends, ends[1:])]
    for t, ks in enumerate(tokens):
        by = defaultdict(lambda: [0, 0.0])
        for n, ns in ks:
            by[family(n)][0] += 1
            by[family(n)][1] += ns
        total = sum(ns for _, ns in ks) / 1e3
        parts = ", ".join(f"{k} {c}x {v / 1e3:.0f}" for k, (c, v) in sorted(by.items(), key=lambda kv: -kv[1][1]))
        print(f"decode token {t + 1}: {len(ks)} kernels, {total:.0f} us GPU ({parts})")
    others = defaultdict(lambda: [0, 0.0])
    if tokens:
        for n, ns in tokens[-1]:
            if family(n) == "other":
                others[n[:60]][0] += 1
                others[n[:60]][1] += ns
        for n, (c, v) in others.items():
            print(f"  other in the last token: {n} {c}x {v / 1e3:.1f} us")


if __name__ == "__main__":
    main(sys.argv[1])
