//! Stimulation protocols: spike times of the presynaptic and postsynaptic neuron.
use crate::error::{check_range, NeuroError, Result};
use serde::Serialize;

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
