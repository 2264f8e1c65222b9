//! Prints GB analytic vs simulated readouts and Shouval changes for a few pairings.
//! `cargo run --release -p mgiv-neuro --example plasticity_check`
use mgiv_neuro::plasticity::gb::{analytic, gb_sets, simulate, GbMg, GbParams};
use mgiv_neuro::plasticity::shouval::{self, ShouvalParams};
use mgiv_neuro::plasticity::Protocol;
use mgiv_neuro::MgBlock;

fn main() {
    let dp = GbParams::by_name("gb-dp").unwrap();
    for dt in [-50.0, -10.0, 0.0, 10.0, 20.0, 50.0] {
        let pr = Protocol::pairing(dt, 60, 1.0).unwrap();
        let mg = GbMg::new(1.0).unwrap();
        let a = analytic(&dp, &pr, &mg);
        let t = std::time::Instant::now();
        let s = simulate(&dp, &pr, &mg, 2000, 1, 0.5).unwrap();
        println!(
            "DP dt={dt:6.1} analytic {:.4} (up {:.3} down {:.3}) sim {:.4} (up {:.3} down {:.3}) {:.2}s",
            a.synaptic_change, a.p_up, a.p_down, s.synaptic_change, s.p_up, s.p_down, t.elapsed().as_secs_f64()
        );
    }
    for set in gb_sets() {
        let pr = Protocol::pairing(10.0, 60, 1.0).unwrap();
        let a = analytic(set, &pr, &GbMg::new(1.0).unwrap());
        let s = simulate(set, &pr, &GbMg::new(1.0).unwrap(), 2000, 2, 0.5).unwrap();
        println!(
            "{:24} dt=+10 analytic {:.4} sim {:.4}",
            set.name, a.synaptic_change, s.synaptic_change
        );
    }
    for mg in [0.8, 1.0, 1.2, 1.5, 2.0] {
        let pr = Protocol::pairing(10.0, 60, 1.0).unwrap();
        let a = analytic(&dp, &pr, &GbMg::new(mg).unwrap());
        let sp =
            shouval::simulate(&ShouvalParams::pairing(), &pr, &MgBlock::default(), mg).unwrap();
        let tet = Protocol::tetanus(100.0, 100).unwrap();
        let st = shouval::simulate(&ShouvalParams::rate(), &tet, &MgBlock::default(), mg).unwrap();
        let at = analytic(&dp, &tet, &GbMg::new(mg).unwrap());
        let tbs = Protocol::theta_burst(10, 4, 100.0, 5.0).unwrap();
        let stb = shouval::simulate(&ShouvalParams::rate(), &tbs, &MgBlock::default(), mg).unwrap();
        println!(
            "mg {mg}: GB-DP pair+10 {:.4} | Shouval pair+10 {:.4} (peak Ca {:.3}) | tetanus GB {:.4} Shouval {:.4} (peak {:.3}) | TBS Shouval {:.4}",
            a.synaptic_change, sp.synaptic_change, sp.ca_peak_um, at.synaptic_change, st.synaptic_change, st.ca_peak_um, stb.synaptic_change
        );
    }
    for dt in [-50.0, -20.0, -10.0, 10.0, 20.0, 50.0] {
        let pr = Protocol::pairing(dt, 60, 1.0).unwrap();
        let sp =
            shouval::simulate(&ShouvalParams::pairing(), &pr, &MgBlock::default(), 1.0).unwrap();
        println!(
            "Shouval dt {dt}: {:.4} peak {:.3}",
            sp.synaptic_change, sp.ca_peak_um
        );
    }
}
