//! `mgiv`: the command-line front end. It parses, calls the library crates, and prints; all
//! science lives in the libraries (see ARCHITECTURE.md).

mod adjust_cmd;
mod brain_cmd;
mod calibrate_cmd;
mod check_cmd;
mod common;
mod export_cmd;
mod fit_cmd;
mod indications_cmd;
mod models_cmd;
mod neuro_cmd;
mod output;
mod plan_cmd;
mod plot;
mod protocols_cmd;
#[cfg(feature = "server")]
mod serve_cmd;
mod simulate_cmd;
mod trial_cmd;
mod validate_cmd;
mod vpc_cmd;

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
    /// Print only the result: no notes ("plot written to ...", the clinical context on stderr)
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Clock time of hour 0 (HH:MM, 24-hour), e.g. 08:30: plot time axes show clock time
    #[arg(long, global = true, value_name = "HH:MM", value_parser = plot::parse_clock)]
    start: Option<u32>,
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
    /// A bedside plan: protocol, pump settings, predicted levels, alerts with sources, monitoring
    Plan(plan_cmd::PlanArgs),
    /// List the built-in protocols (indication, regimen, target, source)
    Protocols(protocols_cmd::ProtocolsArgs),
    /// List the built-in indications (target, thresholds, course, model, population, protocols)
    Indications(indications_cmd::IndicationsArgs),
    /// Serum → CSF magnesium and the four claimed brain effects, with evidence grades
    Brain(brain_cmd::BrainArgs),
    /// Spiking networks and plasticity driven by magnesium
    Neuro(neuro_cmd::NeuroArgs),
    /// Virtual-population trial: target attainment and toxicity risk across regimens
    Trial(trial_cmd::TrialArgs),
    /// Bayesian dose adjustment from measured levels (TDM)
    Adjust(adjust_cmd::AdjustArgs),
    /// Clinical web service: JSON API, pages, accounts, audit (see docs/SERVER.md)
    #[cfg(feature = "server")]
    Serve(serve_cmd::ServeArgs),
    /// Accounts of the web service: `mgiv user add NAME --role ROLE --team T --password-stdin`
    #[cfg(feature = "server")]
    User(serve_cmd::UserArgs),
    /// The web service's audit log: `mgiv audit verify --db URL`
    #[cfg(feature = "server")]
    Audit(serve_cmd::AuditArgs),
    /// The web service's database as JSON (users without password hashes)
    #[cfg(feature = "server")]
    #[command(name = "export-db")]
    ExportDb(serve_cmd::ExportArgs),
    /// A consistent copy of the web service's SQLite database
    #[cfg(feature = "server")]
    Backup(serve_cmd::BackupArgs),
    /// Check a NONMEM-format (or Pmetrics / Monolix) dataset: coded diagnostics, exit 2 on errors
    Check(check_cmd::CheckArgs),
    /// Fit a population model to a NONMEM-format dataset (FOCE-I)
    Fit(fit_cmd::FitArgs),
    /// Prediction-corrected visual predictive check of a (fitted) model against a dataset
    Vpc(vpc_cmd::VpcArgs),
    /// Export an estimation model (NONMEM control stream)
    Export(export_cmd::ExportArgs),
}

fn main() {
    // `mgiv ... | head` should end quietly, as other Unix tools do, not panic on a closed pipe
    #[cfg(unix)]
    // SAFETY: restoring the default SIGPIPE disposition before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    output::set_quiet(cli.quiet);
    plot::set_clock_start(cli.start);
    let result = match cli.command {
        Command::Simulate(a) => simulate_cmd::run(a),
        Command::Models(a) => models_cmd::run(a),
        Command::Calibrate(a) => calibrate_cmd::run(a),
        Command::Validate(a) => validate_cmd::run(a),
        Command::Plan(a) => plan_cmd::run(a),
        Command::Protocols(a) => protocols_cmd::run(a),
        Command::Indications(a) => indications_cmd::run(a),
        Command::Brain(a) => brain_cmd::run(a),
        Command::Neuro(a) => neuro_cmd::run(a),
        Command::Trial(a) => trial_cmd::run(a),
        Command::Adjust(a) => adjust_cmd::run(a),
        #[cfg(feature = "server")]
        Command::Serve(a) => serve_cmd::serve(a),
        #[cfg(feature = "server")]
        Command::User(a) => serve_cmd::user(a),
        #[cfg(feature = "server")]
        Command::Audit(a) => serve_cmd::audit(a),
        #[cfg(feature = "server")]
        Command::ExportDb(a) => serve_cmd::export(a),
        #[cfg(feature = "server")]
        Command::Backup(a) => serve_cmd::backup(a),
        Command::Check(a) => check_cmd::run(a),
        Command::Fit(a) => fit_cmd::run(a),
        Command::Vpc(a) => vpc_cmd::run(a),
        Command::Export(a) => export_cmd::run(a),
    };
    if let Err(e) = result {
        eprintln!("error: {}", output::error_text(&e));
        std::process::exit(2);
    }
}
