"""Summarise bench/neuro/run_all.sh results (JSON lines) as a Markdown table with speed ratios."""
import collections
import json
import statistics
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip().startswith("{")]
groups = collections.defaultdict(list)
for r in rows:
    key = (r["scenario"], r.get("n_neurons", 2000), r["threads"])
    groups[key, r["engine"]].append(r)

print("| scenario | neurons | threads | engine | runs | run time (s), mean [min-max] | E rate (Hz) | I rate (Hz) | Brian2 / mgiv (means; mins) |")
print("|---|---|---|---|---|---|---|---|---|")
keys = sorted({k for (k, _e) in groups})
for k in keys:
    b = groups.get((k, "brian2"), [])
    m = groups.get((k, "mgiv"), [])
    for eng, rs in (("brian2", b), ("mgiv", m)):
        if not rs:
            continue
        t = [float(r["run_s"]) for r in rs]
        e = statistics.mean(float(r["rate_e_hz"]) for r in rs)
        i = statistics.mean(float(r["rate_i_hz"]) for r in rs)
        ratio = ""
        if eng == "mgiv" and b:
            bt = [float(r["run_s"]) for r in b]
            ratio = "%.1fx; %.1fx" % (statistics.mean(bt) / statistics.mean(t), min(bt) / min(t))
        print("| %s | %s | %s | %s | %d | %.3f [%.3f-%.3f] | %.2f | %.2f | %s |" % (
            k[0], k[1], k[2], eng, len(rs), statistics.mean(t), min(t), max(t), e, i, ratio))

# mgiv with the per-step direct saturating-NMDA gather against Brian2's sparse-sat runs
b = groups.get((("sparse-sat", 1000, 1), "brian2"), [])
m = groups.get((("sparse-sat-direct", 1000, 1), "mgiv"), [])
if b and m:
    bt = [float(r["run_s"]) for r in b]
    mt = [float(r["run_s"]) for r in m]
    print()
    print("sparse-sat with the direct (per-step) NMDA gather in mgiv: Brian2 / mgiv = %.1fx (means), %.1fx (mins)" % (
        statistics.mean(bt) / statistics.mean(mt), min(bt) / min(mt)))

# further mgiv Wang variants against Brian2's Wang runs (per-synapse delivery; an earlier build)
for scen, what in (("wang2002-per-synapse", "with per-synapse AMPA/GABA delivery in mgiv"),
                   ("wang2002-base", "with the earlier mgiv build (MGIV_BIN_BASE)")):
    b = groups.get((("wang2002", 2000, 1), "brian2"), [])
    m = groups.get(((scen, 2000, 1), "mgiv"), [])
    if b and m:
        bt = [float(r["run_s"]) for r in b]
        mt = [float(r["run_s"]) for r in m]
        print()
        print("wang2002 %s: Brian2 / mgiv = %.1fx (means), %.1fx (mins)" % (
            what, statistics.mean(bt) / statistics.mean(mt), min(bt) / min(mt)))
