//! The blocked saturating-NMDA sum (`NmdaSum::Blocked`, the default) against the per-step direct
//! gather (`NmdaSum::Direct`): same spike trains and the same conductances, bit for bit, on the
//! sparse benchmark network, on several thread counts, across run() boundaries that split a
//! block, and with gate delays too short for a full 4-step block.
use mgiv_neuro::network::*;
use mgiv_neuro::MgDrive;

struct Trace {
    spikes: Vec<(f64, u32)>,
    states: Vec<NeuronState>,
}

fn run(
    spec: &NetworkSpec,
    seed: u64,
    threads: usize,
    how: NmdaSum,
    chunks_s: &[f64],
) -> (Trace, usize) {
    let mut net = Network::build(spec.clone(), seed, threads).unwrap();
    net.set_nmda_sum(how);
    assert_eq!(net.nmda_sum(), how);
    let mut spikes = Vec::new();
    for &c in chunks_s {
        // spike times are absolute (steps since build)
        let r = net.run(c, &MgDrive::Fixed(1.0), 0.0, true).unwrap();
        spikes.extend_from_slice(&r.spikes);
    }
    let states = (0..net.n_neurons())
        .map(|g| net.neuron_state(g).unwrap())
        .collect();
    (Trace { spikes, states }, net.nmda_block_steps())
}

/// Identical spikes; every state variable equal to 1e-12 relative (in fact bit-identical:
/// same operations in the same order).
fn assert_same(a: &Trace, b: &Trace, what: &str) {
    assert!(!a.spikes.is_empty(), "{what}: no spikes");
    assert_eq!(a.spikes.len(), b.spikes.len(), "{what}: spike counts");
    for (x, y) in a.spikes.iter().zip(&b.spikes) {
        assert!(
            x.1 == y.1 && (x.0 - y.0).abs() < 1e-9,
            "{what}: {x:?} vs {y:?}"
        );
    }
    let close = |p: f64, q: f64| (p - q).abs() <= 1e-12 * p.abs().max(q.abs()).max(1e-300);
    let mut max_g: f64 = 0.0;
    for (g, (s, t)) in a.states.iter().zip(&b.states).enumerate() {
        for (name, p, q) in [
            ("v", s.v_mv, t.v_mv),
            ("g_ampa", s.g_ampa_ns, t.g_ampa_ns),
            ("g_gaba", s.g_gaba_ns, t.g_gaba_ns),
            ("g_nmda", s.g_nmda_ns, t.g_nmda_ns),
        ] {
            assert!(close(p, q), "{what}: neuron {g} {name}: {p} vs {q}");
            assert_eq!(
                p.to_bits(),
                q.to_bits(),
                "{what}: neuron {g} {name} not bit-identical"
            );
        }
        max_g = max_g.max(s.g_nmda_ns);
    }
    assert!(
        max_g > 1.0,
        "{what}: NMDA conductance not exercised ({max_g} nS)"
    );
}

#[test]
fn blocked_nmda_sum_equals_direct_on_sparse_network() {
    let spec = sparse_benchmark_spec(800, 200, 0.1, 200, NmdaModel::Saturating);
    let (direct, _) = run(&spec, 3, 1, NmdaSum::Direct, &[0.2]);
    let (blocked, lanes) = run(&spec, 3, 1, NmdaSum::Blocked, &[0.2]);
    assert_eq!(lanes, NMDA_BLOCK, "0.5 ms gate delay allows full blocks");
    assert_same(&direct, &blocked, "200 ms, 1 thread");
    // run() boundaries inside a block (0.0013 s = 13 steps) and other thread counts
    let (split, _) = run(&spec, 3, 2, NmdaSum::Blocked, &[0.0013, 0.0571, 0.1416]);
    assert_same(&direct, &split, "200 ms in three runs, 2 threads");
    let (three, _) = run(&spec, 3, 3, NmdaSum::Blocked, &[0.2]);
    assert_same(&direct, &three, "200 ms, 3 threads");
}

#[test]
fn blocked_nmda_sum_equals_direct_with_short_gate_delays() {
    // NMDA gate delay of 1, 2 and 3 steps: blocks of 2, 3 and 4 steps
    for (delay_ms, lanes_expected) in [(0.1, 2), (0.2, 3), (0.3, 4)] {
        let mut spec = sparse_benchmark_spec(400, 100, 0.1, 200, NmdaModel::Saturating);
        for p in &mut spec.projections {
            p.delay_ms = (delay_ms, delay_ms);
        }
        let (direct, _) = run(&spec, 7, 1, NmdaSum::Direct, &[0.1]);
        let (blocked, lanes) = run(&spec, 7, 1, NmdaSum::Blocked, &[0.0437, 0.0563]);
        assert_eq!(lanes, lanes_expected);
        assert_same(&direct, &blocked, &format!("gate delay {delay_ms} ms"));
    }
}
