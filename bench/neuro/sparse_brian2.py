"""Brian2 cpp_standalone run of mgiv's sparse benchmark network (issue 5), the same model as
`mgiv_neuro::network::sparse_benchmark_spec`: N_E + N_I conductance LIF neurons (Wang 2002 neuron
parameters), connection probability p without autapses, AMPA + NMDA (Jahr-Stevens Mg block) from
E, GABA-A from I, 0.5 ms delays, n_ext Poisson inputs per neuron (2400 Hz in total), forward Euler
dt 0.1 ms. Weights are Wang's totals divided by the expected in-degree.

NMDA "sat": Wang (2002) saturating gate per presynaptic neuron, postsynaptic conductance summed
over every NMDA synapse every step (Brian2 `(summed)` variable; no aggregation shortcut).
NMDA "lin": the same kinetics without saturation, summed on the postsynaptic side (0.2 x weight).

usage: python sparse_brian2.py --ne 800 --ni 200 --p 0.1 --seconds 1 --threads 1 --nmda sat
"""
import argparse
import builtins
import json
import time

import brian2
from brian2 import *  # noqa: F401,F403

ap = argparse.ArgumentParser()
ap.add_argument("--ne", type=int, default=800)
ap.add_argument("--ni", type=int, default=200)
ap.add_argument("--p", type=float, default=0.1)
ap.add_argument("--next", type=int, default=200)
ap.add_argument("--seconds", type=float, default=1.0)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--nmda", choices=["sat", "lin"], default="sat")
ap.add_argument("--mg", type=float, default=1.0)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--dir", default="/tmp/brian2_sparse")
args = ap.parse_args()

set_device("cpp_standalone", build_on_run=False)
prefs.devices.cpp_standalone.openmp_threads = args.threads
seed(args.seed)

NE, NI, p = args.ne, args.ni, args.p
kE = builtins.max(p * NE, 1.0)
kI = builtins.max(p * NI, 1.0)
El = -70.0 * mV
Vt = -50.0 * mV
Vr = -55.0 * mV
V_E = 0.0 * mV
V_I = -70.0 * mV
tau_AMPA = 2.0 * ms
tau_GABA = 5.0 * ms
tau_NMDA_rise = 2.0 * ms
tau_NMDA_decay = 100.0 * ms
alpha = 0.5 * kHz
Mg = args.mg
nmda_scale = 1.0 if args.nmda == "sat" else 0.2

common = """
dV/dt = (-gL*(V - El) - s_AMPA*(V - V_E) - g_NMDA*(V - V_E)/(1 + exp(-0.062*V/mV)*(Mg/3.57)) - s_GABA*(V - V_I))/Cm : volt (unless refractory)
ds_AMPA/dt = -s_AMPA/tau_AMPA : siemens
ds_GABA/dt = -s_GABA/tau_GABA : siemens
gL : siemens (constant)
Cm : farad (constant)
"""
if args.nmda == "sat":
    eqs = common + """
g_NMDA : siemens
ds_NMDA/dt = -s_NMDA/tau_NMDA_decay + alpha*x*(1 - s_NMDA) : 1
dx/dt = -x/tau_NMDA_rise : 1
"""
else:
    eqs = common + """
g_NMDA = s_lin : siemens
ds_lin/dt = -s_lin/tau_NMDA_decay + alpha*x_lin : siemens
dx_lin/dt = -x_lin/tau_NMDA_rise : siemens
"""

E = NeuronGroup(NE, eqs, threshold="V > Vt", reset="V = Vr", refractory=2 * ms, method="euler", name="E")
I = NeuronGroup(NI, eqs, threshold="V > Vt", reset="V = Vr", refractory=1 * ms, method="euler", name="I")
E.gL = 25 * nS
E.Cm = 500 * pF
I.gL = 20 * nS
I.Cm = 200 * pF
E.V = "-60*mV + 10*mV*rand()"
I.V = "-60*mV + 10*mV*rand()"

syns = []


def conn(pre, post, on_pre, name, model=""):
    s = Synapses(pre, post, model=model, on_pre=on_pre, delay=0.5 * ms, name=name)
    if pre is post:
        s.connect(condition="i != j", p=p)
    else:
        s.connect(p=p)
    syns.append(s)
    return s


conn(E, E, "s_AMPA_post += %r*nS" % (0.05 * 1600 / kE), "EE_AMPA")
conn(E, I, "s_AMPA_post += %r*nS" % (0.04 * 1600 / kE), "EI_AMPA")
conn(I, E, "s_GABA_post += %r*nS" % (1.3 * 400 / kI), "IE_GABA")
conn(I, I, "s_GABA_post += %r*nS" % (1.0 * 400 / kI), "II_GABA")
wEE = nmda_scale * 0.165 * 1600 / kE
wEI = nmda_scale * 0.13 * 1600 / kE
if args.nmda == "sat":
    # own gate: x += 1 after the delay (as Wang_2002.py), then a per-synapse summed conductance
    gate = Synapses(E, E, on_pre="x_pre += 1", delay=0.5 * ms, name="E_gate")
    gate.connect(j="i")
    for post, w, name in [(E, wEE, "EE_NMDA"), (I, wEI, "EI_NMDA")]:
        s = Synapses(E, post, model="g_NMDA_post = %r*nS*s_NMDA_pre : siemens (summed)" % w, name=name)
        if post is E:
            s.connect(condition="i != j", p=p)
        else:
            s.connect(p=p)
        syns.append(s)
else:
    conn(E, E, "x_lin_post += %r*nS" % wEE, "EE_NMDA")
    conn(E, I, "x_lin_post += %r*nS" % wEI, "EI_NMDA")

rate_ext = 2400 * Hz / args.next
PE = PoissonInput(E, "s_AMPA", args.next, rate_ext, 2.1 * nS)
PI = PoissonInput(I, "s_AMPA", args.next, rate_ext, 1.62 * nS)
SE = SpikeMonitor(E, record=False)
SI = SpikeMonitor(I, record=False)

# explicit network: the synapse objects live in a list, which Brian2's magic network does not see
net = Network(collect())
net.add(syns)
net.run(args.seconds * second)
t0 = time.time()
device.build(directory=args.dir, run=True)
total = time.time() - t0
print(json.dumps({
    "engine": "brian2", "version": brian2.__version__, "scenario": "sparse-%s" % args.nmda,
    "n_neurons": NE + NI, "n_synapses": int(sum(len(s) for s in syns)), "seconds": args.seconds,
    "threads": args.threads, "mg_mm": Mg, "run_s": device._last_run_time, "build_and_run_s": total,
    "rate_e_hz": SE.num_spikes / NE / args.seconds, "rate_i_hz": SI.num_spikes / NI / args.seconds,
}))
