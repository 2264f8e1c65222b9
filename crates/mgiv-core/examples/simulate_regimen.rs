//! mgiv-core as a library: one patient, one regimen, one published model.
//!
//! `cargo run -p mgiv-core --example simulate_regimen` prints the total serum Mg (mmol/L) of a
//! 70 kg woman with pre-eclampsia on the Zuspan regimen, every 2 h for a day, with the model that
//! mgiv chooses for her and the source and evidence grade of that model.

use mgiv_core::patient::PatientInput;
use mgiv_core::regimen::Regimen;
use mgiv_core::simulate::{choose_model, simulate, uniform_times};
use mgiv_core::units::{MgConc, Salt};

fn main() -> Result<(), mgiv_core::error::MgivError> {
    // Every input is validated; a bad one is an `MgivError::Invalid` naming the field.
    let patient = PatientInput {
        weight_kg: Some(70.0),
        pregnant: true,
        pre_eclampsia: true,
        ..Default::default()
    }
    .validate()?;
    // Amounts in regimen text are grams of MgSO4·7H2O unless stated otherwise.
    let regimen = Regimen::from_text("4 g over 20 min, then 1 g/h for 24 h", Some(70.0))?;
    // No model id given: the default for this patient, with the reason.
    let model = choose_model(None, &patient)?;
    let times_h = uniform_times(24.0, 2.0)?;
    let sim = simulate(&model, &patient, &regimen, &times_h)?;

    println!("model: {} ({})", sim.model.id, sim.model.citation);
    println!("evidence: {}", sim.model.evidence);
    println!(
        "given by 24 h: {:.1} g of MgSO4·7H2O",
        mgiv_core::units::MgAmount::from_mmol(regimen.amount_given_by_mmol(24.0))
            .salt_g(Salt::MgSo4Heptahydrate)
    );
    println!("time h   serum Mg mmol/L   mg/dL");
    for (t, c) in sim.times_h.iter().zip(&sim.serum_mmol_l) {
        let conc = MgConc::from_mmol_l(*c);
        println!("{t:6.1}   {:15.3}   {:5.2}", conc.mmol_l(), conc.mg_dl());
    }
    for w in &sim.warnings {
        println!("warning: {w}");
    }
    Ok(())
}
