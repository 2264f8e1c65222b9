//! `mgiv neuro`: front end for the mgiv-neuro spiking-network engine (being built; see issue 5).
use clap::Args;

#[derive(Debug, Args)]
pub struct NeuroArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

pub fn run(args: NeuroArgs) -> anyhow::Result<()> {
    anyhow::bail!(
        "`mgiv neuro` is not available in this build (arguments: {:?})",
        args.rest
    )
}
