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
