//! `mgiv`: the command-line front end. It parses, calls the library crates, and prints; all
//! science lives in the libraries (see ARCHITECTURE.md).

mod calibrate_cmd;
mod common;
mod models_cmd;
mod neuro_cmd;
mod plot;
mod simulate_cmd;
mod validate_cmd;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "mgiv",
    version,
    about = "Intravenous magnesium from the bag to the brain: published PK models, CSF transfer, effects, safety",
    long_about = "mgiv predicts what an IV magnesium regimen does to serum (and CSF) magnesium with published, cited models, \
and says how strong the evidence is. Start with `mgiv simulate` (a documented example) or `mgiv simulate --help`."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
enum Command {
    /// Predict the total serum Mg curve for a patient and a regimen
    Simulate(simulate_cmd::SimulateArgs),
    /// List the built-in PK models with their citations and evidence
    Models(models_cmd::ModelsArgs),
    /// Re-run the calibration of mgiv's non-pregnant adult model
    Calibrate(calibrate_cmd::CalibrateArgs),
    /// Run the public validation cases (predicted against observed)
    Validate(validate_cmd::ValidateArgs),
    /// Spiking networks and plasticity driven by magnesium
    Neuro(neuro_cmd::NeuroArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Simulate(a) => simulate_cmd::run(a),
        Command::Models(a) => models_cmd::run(a),
        Command::Calibrate(a) => calibrate_cmd::run(a),
        Command::Validate(a) => validate_cmd::run(a),
        Command::Neuro(a) => neuro_cmd::run(a),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}
