"""Brian2 cpp_standalone run of the Wang (2002) decision network, for the mgiv benchmark.

Upstream model: brian-team/brian2 examples/frompapers/Wang_2002.py (Klaus Wimmer & Marcel Stimberg),
unchanged except (as described in mgiv's brain.md §8.3): cpp_standalone with build_on_run=False,
OpenMP thread count, seed, the Mg concentration C as a parameter, a SpikeMonitor on the inhibitory
group, no plotting. Prints one JSON line with the run time (device._last_run_time: the simulation
loop only, excluding code generation and compilation) and the network statistics.

usage: python wang2002_brian2.py --mg 1.0 --seconds 4 --seed 1 --threads 1 --dir /tmp/b2_wang
"""
import argparse
import json
import time

import brian2
from brian2 import *  # noqa: F401,F403

ap = argparse.ArgumentParser()
ap.add_argument("--mg", type=float, default=1.0)
ap.add_argument("--seconds", type=float, default=4.0)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--dir", default="/tmp/brian2_wang2002")
args = ap.parse_args()

set_device("cpp_standalone", build_on_run=False)
prefs.devices.cpp_standalone.openmp_threads = args.threads
seed(args.seed)

coh = 12.8
sigma = 4.0 * Hz
mu0 = 40.0 * Hz
mu1 = 40.0 * Hz
stim_interval = 50.0 * ms
stim_on = 1000 * ms
stim_off = 3000 * ms
runtime = args.seconds * second

N_ext = 1000
rate_ext_E = 2400 * Hz / N_ext
rate_ext_I = 2400 * Hz / N_ext

N = 2000
f_inh = 0.2
NE = int(N * (1.0 - f_inh))
NI = int(N * f_inh)
fE = 0.15
subN = int(fE * NE)

El = -70.0 * mV
Vt = -50.0 * mV
Vr = -55.0 * mV
CmE = 0.5 * nF
CmI = 0.2 * nF
gLeakE = 25.0 * nS
gLeakI = 20.0 * nS
refE = 2.0 * ms
refI = 1.0 * ms

V_E = 0.0 * mV
V_I = -70.0 * mV
tau_AMPA = 2.0 * ms
tau_NMDA_rise = 2.0 * ms
tau_NMDA_decay = 100.0 * ms
tau_GABA = 5.0 * ms
alpha = 0.5 * kHz
C = args.mg * mmole

gextE = 2.1 * nS
gextI = 1.62 * nS
gEEA = 0.05 * nS / NE * 1600
gEIA = 0.04 * nS / NE * 1600
gEEN = 0.165 * nS / NE * 1600
gEIN = 0.13 * nS / NE * 1600
gIE = 1.3 * nS / NI * 400
gII = 1.0 * nS / NI * 400

Jp = 1.7
Jm = 1.0 - fE * (Jp - 1.0) / (1.0 - fE)

eqsE = """
   label : integer (constant)
   dV/dt = (- gLeakE * (V - El) - I_AMPA - I_NMDA - I_GABA - I_AMPA_ext + I_input) / CmE : volt (unless refractory)
   I_AMPA = s_AMPA * (V - V_E) : amp
   ds_AMPA / dt = - s_AMPA / tau_AMPA : siemens
   I_NMDA = gEEN * s_NMDA_tot * (V - V_E) / ( 1 + exp(-0.062 * V/mvolt) * (C/mmole / 3.57) ) : amp
   s_NMDA_tot : 1
   I_GABA = s_GABA * (V - V_I) : amp
   ds_GABA / dt = - s_GABA / tau_GABA : siemens
   I_AMPA_ext = s_AMPA_ext * (V - V_E) : amp
   ds_AMPA_ext / dt = - s_AMPA_ext / tau_AMPA : siemens
   I_input : amp
   ds_NMDA / dt = - s_NMDA / tau_NMDA_decay + alpha * x * (1 - s_NMDA) : 1
   dx / dt = - x / tau_NMDA_rise : 1
"""

eqsI = """
   dV/dt = (- gLeakI * (V - El) - I_AMPA - I_NMDA - I_GABA - I_AMPA_ext) / CmI : volt (unless refractory)
   I_AMPA = s_AMPA * (V - V_E) : amp
   ds_AMPA / dt = - s_AMPA / tau_AMPA : siemens
   I_NMDA = gEIN * s_NMDA_tot * (V - V_E) / ( 1 + exp(-0.062 * V/mvolt) * (C/mmole / 3.57) ): amp
   s_NMDA_tot : 1
   I_GABA = s_GABA * (V - V_I) : amp
   ds_GABA / dt = - s_GABA / tau_GABA : siemens
   I_AMPA_ext = s_AMPA_ext * (V - V_E) : amp
   ds_AMPA_ext / dt = - s_AMPA_ext / tau_AMPA : siemens
"""

popE = NeuronGroup(NE, model=eqsE, threshold="V > Vt", reset="V = Vr", refractory=refE, method="euler", name="popE")
popI = NeuronGroup(NI, model=eqsI, threshold="V > Vt", reset="V = Vr", refractory=refI, method="euler", name="popI")
popE1 = popE[:subN]
popE2 = popE[subN:2 * subN]
popE3 = popE[2 * subN:]
popE1.label = 0
popE2.label = 1
popE3.label = 2

C_EE_AMPA = Synapses(popE, popE, "w : siemens", on_pre="s_AMPA += w", delay=0.5 * ms, method="euler", name="C_EE_AMPA")
C_EE_AMPA.connect()
C_EE_AMPA.w[:] = gEEA
C_EE_AMPA.w["label_pre == label_post and label_pre < 2"] = gEEA * Jp
C_EE_AMPA.w["label_pre != label_post and label_post < 2"] = gEEA * Jm

C_EI_AMPA = Synapses(popE, popI, on_pre="s_AMPA += gEIA", delay=0.5 * ms, method="euler", name="C_EI_AMPA")
C_EI_AMPA.connect()

C_EE_NMDA = Synapses(popE, popE, on_pre="x_pre += 1", delay=0.5 * ms, method="euler", name="C_EE_NMDA")
C_EE_NMDA.connect(j="i")

NMDA_sum_group = NeuronGroup(3, "s : 1", name="NMDA_sum_group")
NMDA_sum = Synapses(popE, NMDA_sum_group, "s_post = s_NMDA_pre : 1 (summed)", name="NMDA_sum")
NMDA_sum.connect(j="label_pre")

NMDA_set_total_E = Synapses(NMDA_sum_group, popE, """w : 1 (constant)
                               s_NMDA_tot_post = w*s_pre : 1 (summed)""", name="NMDA_set_total_E")
NMDA_set_total_E.connect()
NMDA_set_total_E.w = 1
NMDA_set_total_E.w["i == label_post and label_post < 2"] = Jp
NMDA_set_total_E.w["i != label_post and label_post < 2"] = Jm

NMDA_set_total_I = Synapses(NMDA_sum_group, popI, """s_NMDA_tot_post = s_pre : 1 (summed)""", name="NMDA_set_total_I")
NMDA_set_total_I.connect()

C_IE = Synapses(popI, popE, on_pre="s_GABA += gIE", delay=0.5 * ms, method="euler", name="C_IE")
C_IE.connect()
C_II = Synapses(popI, popI, on_pre="s_GABA += gII", delay=0.5 * ms, method="euler", name="C_II")
C_II.connect()

extinputE = PoissonInput(popE, "s_AMPA_ext", N_ext, rate_ext_E, gextE)
extinputI = PoissonInput(popI, "s_AMPA_ext", N_ext, rate_ext_I, gextI)

stiminputE1 = PoissonGroup(subN, rates=0 * Hz, name="stiminputE1")
stiminputE2 = PoissonGroup(subN, rates=0 * Hz, name="stiminputE2")
stiminputE1.run_regularly("rates = int(t > stim_on and t < stim_off) * (mu0 + coh / 100.0 * mu1 + sigma*randn())", dt=stim_interval)
stiminputE2.run_regularly("rates = int(t > stim_on and t < stim_off) * (mu0 - coh / 100.0 * mu1 + sigma*randn())", dt=stim_interval)
C_stimE1 = Synapses(stiminputE1, popE1, on_pre="s_AMPA_ext += gextE", name="C_stimE1")
C_stimE1.connect(j="i")
C_stimE2 = Synapses(stiminputE2, popE2, on_pre="s_AMPA_ext += gextE", name="C_stimE2")
C_stimE2.connect(j="i")

popE.s_NMDA_tot = tau_NMDA_decay * 10 * Hz * 0.2
popI.s_NMDA_tot = tau_NMDA_decay * 10 * Hz * 0.2
popE.V = Vt - 2 * mV
popI.V = Vt - 2 * mV

SME = SpikeMonitor(popE, record=True)
SMI = SpikeMonitor(popI, record=False)

run(runtime)
t0 = time.time()
device.build(directory=args.dir, run=True)
total = time.time() - t0

i = np.asarray(SME.i[:])
t = np.asarray(SME.t[:] / ms)
pop1 = int(np.sum(i < subN))
pop2 = int(np.sum((i >= subN) & (i < 2 * subN)))
late = (t >= stim_off / ms - 500) & (t < stim_off / ms)
late1 = float(np.sum(late & (i < subN))) / subN / 0.5
late2 = float(np.sum(late & (i >= subN) & (i < 2 * subN))) / subN / 0.5
winner = None
hi, lo = (0, 1) if late1 >= late2 else (1, 0)
lr = [late1, late2]
if args.seconds * 1000 >= stim_off / ms and lr[hi] >= 10 and lr[hi] >= 2 * lr[lo]:
    winner = hi
print(json.dumps({
    "engine": "brian2", "version": brian2.__version__, "scenario": "wang2002", "mg_mm": args.mg,
    "seconds": args.seconds, "seed": args.seed, "threads": args.threads,
    "run_s": device._last_run_time, "build_and_run_s": total,
    "rate_e_hz": SME.num_spikes / NE / args.seconds, "rate_i_hz": SMI.num_spikes / NI / args.seconds,
    "pop_spikes": [pop1, pop2], "late_stim_rate_hz": [late1, late2], "winner": winner,
}))
