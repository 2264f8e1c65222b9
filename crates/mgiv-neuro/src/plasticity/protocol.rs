//! Stimulation protocols: spike times of the presynaptic and postsynaptic neuron, and the
//! standard published protocols (STDP pairing, 100 Hz tetanus, theta burst) with their sources in
//! `data/neuro/stimulation-protocols.toml` ([`standard_protocols`]).
use crate::error::{check_range, NeuroError, Result};
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// Pre- and postsynaptic spike times (ms, sorted) and the protocol duration used by the readouts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Protocol {
    pub name: String,
    pub pre_ms: Vec<f64>,
    pub post_ms: Vec<f64>,
    /// Duration of the stimulation (ms): pairs/f for pairing, pulses/f for a tetanus, bursts/f for theta burst.
    pub duration_ms: f64,
}

/// Largest number of presynaptic events a protocol may have.
pub const MAX_EVENTS: usize = 1_000_000;

fn check_count(field: &'static str, n: u32) -> Result<u32> {
    if n == 0 || n as usize > MAX_EVENTS {
        return Err(NeuroError::InvalidParameter {
            field,
            value: n.to_string(),
            allowed: "1..=1000000",
        });
    }
    Ok(n)
}

impl Protocol {
    /// STDP pairing: `pairs` pre spikes at `hz`, each with a post spike `dt_ms` later
    /// (Δt = t_post − t_pre; negative = post before pre). Times are shifted so the first spike is at 0.
    pub fn pairing(dt_ms: f64, pairs: u32, hz: f64) -> Result<Self> {
        check_range(
            "dt_ms",
            dt_ms,
            -1000.0,
            1000.0,
            "-1000..1000 ms (t_post - t_pre)",
        )?;
        check_count("pairs", pairs)?;
        check_range("hz", hz, 1e-3, 200.0, "0.001..200 Hz")?;
        let period = 1000.0 / hz;
        if dt_ms.abs() >= period {
            return Err(NeuroError::InvalidParameter {
                field: "dt_ms",
                value: format!("{dt_ms}"),
                allowed: "|dt_ms| smaller than the pairing period 1000/hz",
            });
        }
        let shift = (-dt_ms).max(0.0);
        let pre: Vec<f64> = (0..pairs).map(|k| shift + k as f64 * period).collect();
        let post: Vec<f64> = pre.iter().map(|t| t + dt_ms).collect();
        Ok(Protocol {
            name: format!("pairing dt={dt_ms} ms, {pairs} pairs at {hz} Hz"),
            pre_ms: pre,
            post_ms: post,
            duration_ms: pairs as f64 * period,
        })
    }

    /// Presynaptic tetanus: `pulses` at `hz` (100 Hz × 100 pulses = the classic 1-s tetanus),
    /// no postsynaptic spikes imposed.
    pub fn tetanus(hz: f64, pulses: u32) -> Result<Self> {
        check_range("hz", hz, 1e-3, 1000.0, "0.001..1000 Hz")?;
        check_count("pulses", pulses)?;
        let period = 1000.0 / hz;
        Ok(Protocol {
            name: format!("tetanus {pulses} pulses at {hz} Hz"),
            pre_ms: (0..pulses).map(|k| k as f64 * period).collect(),
            post_ms: Vec::new(),
            duration_ms: pulses as f64 * period,
        })
    }

    /// Theta-burst stimulation: `bursts` bursts at `burst_hz` (5 Hz), each `spikes_per_burst`
    /// presynaptic spikes at `intra_hz` (4 at 100 Hz); no postsynaptic spikes imposed.
    pub fn theta_burst(
        bursts: u32,
        spikes_per_burst: u32,
        intra_hz: f64,
        burst_hz: f64,
    ) -> Result<Self> {
        check_count("bursts", bursts)?;
        check_count("spikes_per_burst", spikes_per_burst)?;
        check_range("intra_hz", intra_hz, 1.0, 1000.0, "1..1000 Hz")?;
        check_range("burst_hz", burst_hz, 1e-3, 100.0, "0.001..100 Hz")?;
        let bp = 1000.0 / burst_hz;
        let ip = 1000.0 / intra_hz;
        if (spikes_per_burst as f64 - 1.0) * ip >= bp {
            return Err(NeuroError::InvalidParameter {
                field: "spikes_per_burst",
                value: spikes_per_burst.to_string(),
                allowed: "a burst shorter than the burst period",
            });
        }
        let mut pre = Vec::with_capacity((bursts * spikes_per_burst) as usize);
        for b in 0..bursts {
            for s in 0..spikes_per_burst {
                pre.push(b as f64 * bp + s as f64 * ip);
            }
        }
        Ok(Protocol {
            name: format!("theta burst {bursts} x {spikes_per_burst} at {intra_hz} Hz, bursts at {burst_hz} Hz"),
            pre_ms: pre,
            post_ms: Vec::new(),
            duration_ms: bursts as f64 * bp,
        })
    }

    /// End of the last event (ms).
    pub fn last_event_ms(&self) -> f64 {
        let a = self.pre_ms.last().copied().unwrap_or(0.0);
        let b = self.post_ms.last().copied().unwrap_or(0.0);
        a.max(b)
    }
}

/// The standard published protocols with their sources (`data/neuro/stimulation-protocols.toml`).
pub const STIMULATION_PROTOCOLS_FILE: &str =
    include_str!("../../../../data/neuro/stimulation-protocols.toml");

/// Standard STDP pairing (Bi & Poo 1998): `pairs` pre spikes at `hz`, each with a post spike
/// `dt_ms` later.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct PairingDefaults {
    /// t_post − t_pre (ms)
    pub dt_ms: f64,
    pub pairs: u32,
    pub hz: f64,
    pub source: String,
}

/// Standard presynaptic tetanus (Bliss & Collingridge 1993): `pulses` at `hz`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TetanusDefaults {
    pub hz: f64,
    pub pulses: u32,
    pub source: String,
}

/// Standard theta-burst stimulation (Larson, Wong & Lynch 1986): `bursts` bursts at `burst_hz`,
/// each `spikes_per_burst` spikes at `intra_hz`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ThetaBurstDefaults {
    pub bursts: u32,
    pub spikes_per_burst: u32,
    pub intra_hz: f64,
    pub burst_hz: f64,
    pub source: String,
}

/// The three standard protocols of `data/neuro/stimulation-protocols.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct StandardProtocols {
    pub pairing: PairingDefaults,
    pub tetanus: TetanusDefaults,
    pub theta_burst: ThetaBurstDefaults,
}

/// The standard protocols, parsed once (a test parses the file, so a failure here is a build
/// defect).
pub fn standard_protocols() -> &'static StandardProtocols {
    static F: LazyLock<StandardProtocols> = LazyLock::new(|| {
        crate::data_file::parse(
            "data/neuro/stimulation-protocols.toml",
            STIMULATION_PROTOCOLS_FILE,
        )
    });
    &F
}

impl StandardProtocols {
    /// The standard pairing (its pair count and frequency) at `dt_ms` = t_post − t_pre.
    pub fn pairing_at(&self, dt_ms: f64) -> Result<Protocol> {
        Protocol::pairing(dt_ms, self.pairing.pairs, self.pairing.hz)
    }

    /// The standard pairing at its standard Δt.
    pub fn pairing(&self) -> Result<Protocol> {
        self.pairing_at(self.pairing.dt_ms)
    }

    /// The standard tetanus.
    pub fn tetanus(&self) -> Result<Protocol> {
        Protocol::tetanus(self.tetanus.hz, self.tetanus.pulses)
    }

    /// The standard theta burst.
    pub fn theta_burst(&self) -> Result<Protocol> {
        let t = &self.theta_burst;
        Protocol::theta_burst(t.bursts, t.spikes_per_burst, t.intra_hz, t.burst_hz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairing_times() {
        let p = Protocol::pairing(-10.0, 3, 1.0).unwrap();
        assert_eq!(p.pre_ms, vec![10.0, 1010.0, 2010.0]);
        assert_eq!(p.post_ms, vec![0.0, 1000.0, 2000.0]);
        assert_eq!(p.duration_ms, 3000.0);
        assert!(Protocol::pairing(10.0, 0, 1.0)
            .unwrap_err()
            .to_string()
            .contains("pairs"));
        assert!(Protocol::pairing(600.0, 3, 2.0)
            .unwrap_err()
            .to_string()
            .contains("dt_ms"));
        assert!(Protocol::pairing(1.0, 3, -2.0)
            .unwrap_err()
            .to_string()
            .contains("hz"));
    }

    /// The data file parses, cites every table and holds the published protocols: pairing
    /// +10 ms, 60 pairs at 1 Hz (Bi & Poo 1998; brain.md §10 case 9); tetanus 100 pulses at
    /// 100 Hz = 1 s (Bliss & Collingridge 1993); theta burst 10 bursts of 4 spikes at 100 Hz,
    /// bursts at 5 Hz (Larson, Wong & Lynch 1986).
    #[test]
    fn data_file_holds_the_published_protocols() {
        crate::data_file::assert_every_table_cited(
            "data/neuro/stimulation-protocols.toml",
            STIMULATION_PROTOCOLS_FILE,
        );
        let s = standard_protocols();
        let (p, t, b) = (&s.pairing, &s.tetanus, &s.theta_burst);
        assert_eq!((p.dt_ms, p.pairs, p.hz), (10.0, 60, 1.0));
        assert_eq!((t.hz, t.pulses), (100.0, 100));
        assert_eq!(
            (b.bursts, b.spikes_per_burst, b.intra_hz, b.burst_hz),
            (10, 4, 100.0, 5.0)
        );
        assert!(p.source.contains("Bi GQ & Poo MM 1998"));
        assert!(t.source.contains("Bliss TVP & Collingridge GL 1993"));
        assert!(b.source.contains("Larson J, Wong D & Lynch G 1986"));

        let pairing = s.pairing().unwrap();
        assert_eq!(pairing, Protocol::pairing(10.0, 60, 1.0).unwrap());
        assert_eq!(pairing.name, "pairing dt=10 ms, 60 pairs at 1 Hz");
        assert_eq!(pairing.duration_ms, 60_000.0);
        let minus = s.pairing_at(-10.0).unwrap();
        assert_eq!(minus, Protocol::pairing(-10.0, 60, 1.0).unwrap());
        let tetanus = s.tetanus().unwrap();
        assert_eq!(tetanus.name, "tetanus 100 pulses at 100 Hz");
        assert_eq!((tetanus.pre_ms.len(), tetanus.duration_ms), (100, 1000.0));
        let tbs = s.theta_burst().unwrap();
        assert_eq!(tbs.name, "theta burst 10 x 4 at 100 Hz, bursts at 5 Hz");
        assert_eq!((tbs.pre_ms.len(), tbs.duration_ms), (40, 2000.0));
        assert_eq!(&tbs.pre_ms[..5], &[0.0, 10.0, 20.0, 30.0, 200.0]);
    }

    #[test]
    fn theta_burst_times() {
        let p = Protocol::theta_burst(2, 4, 100.0, 5.0).unwrap();
        assert_eq!(
            p.pre_ms,
            vec![0.0, 10.0, 20.0, 30.0, 200.0, 210.0, 220.0, 230.0]
        );
        assert_eq!(p.duration_ms, 400.0);
        assert!(Protocol::theta_burst(2, 40, 100.0, 5.0).is_err());
    }
}
