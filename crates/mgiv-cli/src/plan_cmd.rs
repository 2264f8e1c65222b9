//! `mgiv plan` (being built; see the issue tracker).
use clap::Args;

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

pub fn run(args: PlanArgs) -> anyhow::Result<()> {
    anyhow::bail!(
        "`mgiv plan` is not available in this build yet (arguments: {:?})",
        args.rest
    )
}
