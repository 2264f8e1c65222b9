//! Model, population, protocol and indication files (TOML): never a panic; a model that loads
//! individualises without a panic for a few patients.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mgiv_core::model::ModelSpec;
use mgiv_core::patient::{Creatinine, PatientInput};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = ModelSpec::from_toml(text) {
        for (w, scr) in [(70.0, 0.8), (40.0, 3.5), (150.0, 0.4)] {
            if let Ok(p) = (PatientInput {
                weight_kg: Some(w),
                creatinine: Some(Creatinine::MgPerDl(scr)),
                ..Default::default()
            })
            .validate()
            {
                let _ = m.individualise(&p);
            }
        }
    }
    let _ = mgiv_pop::population::PopulationSpec::from_toml(text);
    let _ = toml::from_str::<mgiv_safety::protocol::Protocol>(text);
    let _ = toml::from_str::<mgiv_safety::indication::Indication>(text);
});
