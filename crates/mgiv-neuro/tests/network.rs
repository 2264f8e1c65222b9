//! General engine: closed-form checks, connectivity statistics, delays, AdEx adaptation,
//! reproducibility across thread counts, bad input.
use mgiv_neuro::network::*;
use mgiv_neuro::MgDrive;

fn lif() -> LifParams {
    LifParams {
        c_m_pf: 500.0,
        g_l_ns: 25.0,
        e_l_mv: -70.0,
        v_th_mv: -50.0,
        v_reset_mv: -55.0,
        t_ref_ms: 2.0,
    }
}

fn single(model: NeuronModel, trains: Vec<SpikeTrainSpec>) -> NetworkSpec {
    NetworkSpec {
        dt_ms: 0.1,
        populations: vec![PopulationSpec {
            name: "n".into(),
            n: 1,
            model,
            v_init_mv: (-70.0, -70.0),
        }],
        projections: vec![],
        poisson: vec![],
        poisson_groups: vec![],
        spike_trains: trains,
        synapses: SynapseKinetics::default(),
    }
}

#[test]
fn ampa_epsp_area_matches_closed_form() {
    // small conductance pulse at rest: ∫ΔV dt ≈ (E_exc − E_L)·w·τ_AMPA / g_L  (linear response;
    // Euler's discrete decay sums to exactly w·τ)
    let w = 0.01;
    let spec = single(
        NeuronModel::Lif(lif()),
        vec![SpikeTrainSpec {
            target: 0,
            neuron: 0,
            receptor: Receptor::Ampa,
            times_ms: vec![1.0],
            weight_ns: w,
        }],
    );
    let mut net = Network::build(spec, 1, 1).unwrap();
    let mut area = 0.0;
    for _ in 0..3000 {
        net.run(0.0001, &MgDrive::Fixed(1.0), 0.0, false).unwrap();
        area += (net.neuron_state(0).unwrap().v_mv + 70.0) * 0.1;
    }
    let want = 70.0 * w * 2.0 / 25.0;
    assert!(((area - want) / want).abs() < 0.01, "{area} vs {want}");
}

#[test]
fn delay_is_exact_in_steps() {
    // A fires from a huge input at t = 1 ms; B receives AMPA after exactly 2.0 ms
    let mut spec = single(
        NeuronModel::Lif(lif()),
        vec![SpikeTrainSpec {
            target: 0,
            neuron: 0,
            receptor: Receptor::Ampa,
            times_ms: vec![1.0],
            weight_ns: 500.0,
        }],
    );
    spec.populations.push(PopulationSpec {
        name: "B".into(),
        n: 1,
        model: NeuronModel::Lif(lif()),
        v_init_mv: (-70.0, -70.0),
    });
    spec.projections.push(ProjectionSpec {
        pre: 0,
        post: 1,
        receptor: Receptor::Ampa,
        connectivity: Connectivity::OneToOne,
        weight_ns: 1.0,
        delay_ms: (2.0, 2.0),
    });
    let mut net = Network::build(spec, 1, 1).unwrap();
    let mut spike_step = None;
    let mut arrive_step = None;
    for step in 0..100 {
        let r = net.run(0.0001, &MgDrive::Fixed(1.0), 0.0, true).unwrap();
        if spike_step.is_none() && r.spikes_per_population[0] > 0 {
            spike_step = Some(step);
        }
        if arrive_step.is_none() && net.neuron_state(1).unwrap().g_ampa_ns > 0.5 {
            arrive_step = Some(step);
        }
    }
    assert_eq!(arrive_step.unwrap() - spike_step.unwrap(), 20);
}

#[test]
fn random_connectivity_has_binomial_count() {
    let spec = sparse_benchmark_spec(800, 200, 0.1, 200, NmdaModel::Saturating);
    let net = Network::build(spec, 3, 1).unwrap();
    // E->E, E->I AMPA and NMDA (4 x 800 x N_post ...) and I->all, without autapses
    let pairs = 2.0 * (800.0 * 799.0 + 800.0 * 200.0) + 200.0 * 800.0 + 200.0 * 199.0;
    let mean = 0.1 * pairs;
    let sd = (pairs * 0.1 * 0.9f64).sqrt();
    assert!(
        ((net.n_synapses() as f64) - mean).abs() < 5.0 * sd,
        "{} vs {mean}",
        net.n_synapses()
    );
}

#[test]
fn fixed_in_degree_is_exact() {
    let mut spec = sparse_benchmark_spec(100, 25, 0.1, 10, NmdaModel::Linear);
    for p in spec.projections.iter_mut() {
        p.connectivity = Connectivity::FixedInDegree {
            k: 7,
            autapses: false,
        };
    }
    let net = Network::build(spec, 1, 2).unwrap();
    // every projection gives each of its postsynaptic neurons exactly k = 7 synapses
    let per_post: usize = [100, 25, 100, 25, 100, 25].iter().sum();
    assert_eq!(net.n_synapses(), 7 * per_post as u64);
}

#[test]
fn adex_shows_spike_frequency_adaptation() {
    let times: Vec<f64> = (0..2000).map(|k| 1.0 + k as f64 * 0.5).collect();
    let spec = single(
        NeuronModel::AdEx(AdExParams::brette_gerstner_2005()),
        vec![SpikeTrainSpec {
            target: 0,
            neuron: 0,
            receptor: Receptor::Ampa,
            times_ms: times,
            weight_ns: 8.0,
        }],
    );
    let mut net = Network::build(spec, 1, 1).unwrap();
    let r = net.run(1.0, &MgDrive::Fixed(1.0), 0.0, true).unwrap();
    let t: Vec<f64> = r.spikes.iter().map(|s| s.0).collect();
    assert!(t.len() >= 4, "{} spikes", t.len());
    let first = t[1] - t[0];
    let last = t[t.len() - 1] - t[t.len() - 2];
    assert!(last > 1.5 * first, "ISI first {first} last {last}");
    assert!(net.neuron_state(0).unwrap().w_pa > 0.0);
}

#[test]
fn sparse_network_identical_on_any_thread_count() {
    let run = |threads| {
        let mut net = Network::build(
            sparse_benchmark_spec(400, 100, 0.1, 200, NmdaModel::Saturating),
            5,
            threads,
        )
        .unwrap();
        net.run(0.15, &MgDrive::Fixed(1.0), 0.0, true).unwrap()
    };
    let a = run(1);
    let b = run(3);
    assert!(!a.spikes.is_empty());
    assert_eq!(a.spikes, b.spikes);
    let mut net = Network::build(
        sparse_benchmark_spec(400, 100, 0.1, 200, NmdaModel::Linear),
        5,
        2,
    )
    .unwrap();
    let c = net.run(0.1, &MgDrive::Fixed(1.0), 0.0, true).unwrap();
    let mut net = Network::build(
        sparse_benchmark_spec(400, 100, 0.1, 200, NmdaModel::Linear),
        5,
        1,
    )
    .unwrap();
    let d = net.run(0.1, &MgDrive::Fixed(1.0), 0.0, true).unwrap();
    assert_eq!(c.spikes, d.spikes);
}

#[test]
fn more_magnesium_lowers_sparse_network_rates() {
    let rate = |mg| {
        let mut net = Network::build(
            sparse_benchmark_spec(400, 100, 0.1, 200, NmdaModel::Saturating),
            2,
            1,
        )
        .unwrap();
        net.run(0.3, &MgDrive::Fixed(mg), 0.0, false)
            .unwrap()
            .rates_hz[0]
    };
    assert!(rate(2.0) < rate(1.0));
}

#[test]
fn bad_network_input() {
    let mut s = sparse_benchmark_spec(10, 10, 0.1, 10, NmdaModel::Linear);
    s.projections[0].connectivity = Connectivity::Random {
        p: 1.5,
        autapses: false,
    };
    assert!(Network::build(s, 1, 1)
        .err()
        .unwrap()
        .to_string()
        .contains("connection_probability"));
    let mut s = sparse_benchmark_spec(10, 10, 0.1, 10, NmdaModel::Linear);
    s.projections[0].delay_ms = (0.01, 0.01);
    assert!(Network::build(s, 1, 1)
        .err()
        .unwrap()
        .to_string()
        .contains("delay_ms"));
    let mut s = sparse_benchmark_spec(10, 10, 0.1, 10, NmdaModel::Linear);
    s.projections[0].post = 7;
    assert!(Network::build(s, 1, 1)
        .err()
        .unwrap()
        .to_string()
        .contains("missing population"));
    let s = sparse_benchmark_spec(10, 10, 0.1, 10, NmdaModel::Linear);
    assert!(Network::build(s.clone(), 1, 0)
        .err()
        .unwrap()
        .to_string()
        .contains("threads"));
    let mut net = Network::build(s, 1, 1).unwrap();
    assert!(net
        .run(0.01, &MgDrive::Fixed(-1.0), 0.0, false)
        .unwrap_err()
        .to_string()
        .contains("mg_mm"));
}

/// E (12) + I (4) all-to-all with autapses, every receptor, strong Poisson drive; the
/// connectivity of every projection set to `conn`.
fn small_all_to_all(conn: Connectivity, nmda: NmdaModel) -> NetworkSpec {
    let mut s = sparse_benchmark_spec(12, 4, 1.0, 100, nmda);
    for p in &mut s.projections {
        p.connectivity = conn;
    }
    for pi in &mut s.poisson {
        pi.rate_hz *= 3.0;
    }
    s
}

#[test]
fn aggregated_projection_equals_stored_all_to_all_synapses() {
    // Connectivity::Aggregate is the same model as AllToAll { autapses: true }: the same
    // conductances at every step (to rounding: the sums are taken in another order) and the
    // same spikes, for saturating and linear NMDA; and bit-identical on 1 and 3 threads
    for nmda in [NmdaModel::Saturating, NmdaModel::Linear] {
        let stored = small_all_to_all(Connectivity::AllToAll { autapses: true }, nmda);
        let agg = small_all_to_all(Connectivity::Aggregate, nmda);
        let mut a = Network::build(stored, 3, 1).unwrap();
        let mut b = Network::build(agg.clone(), 3, 1).unwrap();
        let mut c = Network::build(agg, 3, 3).unwrap();
        assert_eq!(a.n_synapses(), b.n_synapses());
        assert_eq!(b.n_synapses(), 2 * 16 * 12 + 16 * 4);
        let mg = MgDrive::Fixed(1.0);
        let (mut spikes, mut max_diff, mut max_g) = (0usize, 0.0f64, 0.0f64);
        for _ in 0..3000 {
            let ra = a.run_for_steps(1, &mg, 0.0, true).unwrap();
            let rb = b.run_for_steps(1, &mg, 0.0, true).unwrap();
            let rc = c.run_for_steps(1, &mg, 0.0, true).unwrap();
            assert_eq!(ra.spikes, rb.spikes);
            assert_eq!(rb.spikes, rc.spikes);
            spikes += rb.spikes.len();
            for g in 0..16 {
                let (x, y, z) = (
                    a.neuron_state(g).unwrap(),
                    b.neuron_state(g).unwrap(),
                    c.neuron_state(g).unwrap(),
                );
                assert_eq!(y, z, "threads change the state of neuron {g}");
                for (u, v) in [
                    (x.g_ampa_ns, y.g_ampa_ns),
                    (x.g_gaba_ns, y.g_gaba_ns),
                    (x.g_nmda_ns, y.g_nmda_ns),
                    (x.v_mv, y.v_mv),
                ] {
                    max_diff = max_diff.max((u - v).abs());
                }
                max_g = max_g.max(y.g_nmda_ns).max(y.g_gaba_ns);
            }
        }
        assert!(spikes > 50, "{nmda:?}: the network must fire ({spikes})");
        assert!(
            max_g > 1.0,
            "{nmda:?}: recurrent input must matter ({max_g} nS)"
        );
        assert!(max_diff < 1e-12, "{nmda:?}: {max_diff}");
    }
}

fn group_spec(n: usize, rate: RateSchedule) -> NetworkSpec {
    let mut s = single(NeuronModel::Lif(lif()), vec![]);
    s.populations[0].n = n;
    s.poisson_groups = vec![PoissonGroupSpec {
        target: 0,
        receptor: Receptor::Ampa,
        weight_ns: 0.01,
        rate,
    }];
    s
}

#[test]
fn scheduled_poisson_group_follows_its_schedule() {
    // rates redrawn every 50 ms, on for 100 < t < 600 ms: the redraw at t = 100 ms is not inside
    // the window, so events come from t = 150 ms to 600 ms (450 ms), mean 1000 × 40 Hz × 0.45 s =
    // 18000; sd = sqrt(18000 + 9000 neuron-windows × (4 Hz × 0.05 s)²) = 135.5
    let rate = RateSchedule {
        mean_hz: 40.0,
        sd_hz: 4.0,
        redraw_every_ms: 50.0,
        on_ms: 100.0,
        off_ms: 600.0,
    };
    let mut net = Network::build(group_spec(1000, rate), 4, 2).unwrap();
    let mg = MgDrive::Fixed(1.0);
    let before = net.run(0.15, &mg, 0.0, false).unwrap();
    assert_eq!(before.poisson_group_events, vec![0]);
    let on = net.run(0.45, &mg, 0.0, false).unwrap();
    let ev = on.poisson_group_events[0] as f64;
    assert!((ev - 18000.0).abs() < 4.0 * 135.5, "{ev} events");
    let after = net.run(0.4, &mg, 0.0, false).unwrap();
    assert_eq!(after.poisson_group_events, vec![0]);
    // a constant rate (sd 0, window always open after the first redraw at t = 0, which is not
    // inside it): 50 ms .. 1 s at 100 Hz on 200 generators = 19000 events, sd 137.8
    let rate = RateSchedule {
        mean_hz: 100.0,
        sd_hz: 0.0,
        redraw_every_ms: 50.0,
        on_ms: 0.0,
        off_ms: 1e6,
    };
    let mut net = Network::build(group_spec(200, rate), 9, 1).unwrap();
    let r = net.run(1.0, &mg, 0.0, false).unwrap();
    let ev = r.poisson_group_events[0] as f64;
    assert!((ev - 19000.0).abs() < 4.0 * 137.8, "{ev} events");
    // each event is a jump of weight_ns in the target's conductance: one neuron, one 10 kHz
    // generator (p = 1 per step) gives g = w Σ (1 − dt/τ)^k → w τ/dt at steady state
    let rate = RateSchedule {
        mean_hz: 10_000.0,
        sd_hz: 0.0,
        redraw_every_ms: 1e6,
        on_ms: -1.0,
        off_ms: 1e6,
    };
    let mut net = Network::build(group_spec(1, rate), 1, 1).unwrap();
    net.run(0.2, &mg, 0.0, false).unwrap();
    let g = net.neuron_state(0).unwrap().g_ampa_ns;
    assert!((g - 0.01 * 2.0 / 0.1).abs() < 1e-9, "{g}");
}

#[test]
fn bad_aggregate_and_group_input() {
    let mut s = small_all_to_all(Connectivity::Aggregate, NmdaModel::Linear);
    s.projections[0].delay_ms = (0.5, 1.0);
    let e = Network::build(s, 1, 1).err().unwrap().to_string();
    assert!(e.contains("delay_ms") && e.contains("aggregated"), "{e}");
    let rate = RateSchedule {
        mean_hz: 40.0,
        sd_hz: -1.0,
        redraw_every_ms: 50.0,
        on_ms: 0.0,
        off_ms: 10.0,
    };
    let e = Network::build(group_spec(2, rate), 1, 1).err().unwrap();
    assert!(e.to_string().contains("sd_hz"), "{e}");
    let mut s = group_spec(2, RateSchedule { sd_hz: 1.0, ..rate });
    s.poisson_groups[0].target = 3;
    assert!(Network::build(s, 1, 1)
        .err()
        .unwrap()
        .to_string()
        .contains("missing"));
    let s = group_spec(
        2,
        RateSchedule {
            sd_hz: 1.0,
            off_ms: -5.0,
            ..rate
        },
    );
    assert!(Network::build(s, 1, 1)
        .err()
        .unwrap()
        .to_string()
        .contains("off_ms"));
    let mut s = group_spec(2, RateSchedule { sd_hz: 1.0, ..rate });
    s.poisson_groups[0].receptor = Receptor::Nmda;
    assert!(Network::build(s, 1, 1)
        .err()
        .unwrap()
        .to_string()
        .contains("receptor"));
}
