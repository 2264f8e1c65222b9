#!/usr/bin/env python3
"""JSON outputs of two runs of bench/ab/adjust_cases.sh, compared: per case, how many numbers
differ and by how much (relative), and every other difference (keys, lengths, strings).
Text outputs are compared whole, but for the "computed in" line. Usage: json_diff.py DIR_A DIR_B"""
import json, sys, os, re
a_dir, b_dir = sys.argv[1], sys.argv[2]
skip = {"elapsed_ms", "elapsed_s"}
def walk(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b): out.append(("keys", path, sorted(set(a) ^ set(b))))
        for k in a:
            if k in b and k not in skip: walk(a[k], b[k], path + "." + k, out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b): out.append(("len", path, len(a), len(b))); return
        for i, (x, y) in enumerate(zip(a, b)): walk(x, y, f"{path}[{i}]", out)
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if a != b:
            rel = abs(a - b) / max(abs(a), abs(b), 1e-300)
            out.append(("num", path, a, b, rel))
    elif a != b:
        out.append(("val", path, str(a)[:120], str(b)[:120]))
tot_max = 0
for f in sorted(os.listdir(a_dir), key=lambda s: (len(s), s)):
    if not f.endswith(".out"): continue
    A = open(os.path.join(a_dir, f)).read(); B = open(os.path.join(b_dir, f)).read()
    rcA = open(os.path.join(a_dir, f[:-4] + ".rc")).read(); rcB = open(os.path.join(b_dir, f[:-4] + ".rc")).read()
    try:
        ja, jb = json.loads(A), json.loads(B)
    except Exception:
        strip = lambda s: re.sub(r"computed in [0-9.]+ ms", "", s)
        same = strip(A) == strip(B)
        print(f"{f}: text {'identical' if same else 'DIFFERS'} rc {rcA.strip()}/{rcB.strip()}")
        continue
    out = []; walk(ja, jb, "", out)
    nums = [o for o in out if o[0] == "num"]; other = [o for o in out if o[0] != "num"]
    mx = max((o[4] for o in nums), default=0.0); tot_max = max(tot_max, mx)
    worst = max(nums, key=lambda o: o[4]) if nums else None
    print(f"{f}: rc {rcA.strip()}/{rcB.strip()} {len(nums)} numbers differ, max rel {mx:.2e} {worst[1] if worst else ''}; {len(other)} other diffs")
    for o in other[:8]: print("   ", o)
print(f"max relative difference over all JSON numbers: {tot_max:.3e}")
