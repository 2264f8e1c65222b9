//! `mgiv protocols` (being built; see the issue tracker).
use clap::Args;

#[derive(Debug, Args)]
pub struct ProtocolsArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

pub fn run(args: ProtocolsArgs) -> anyhow::Result<()> {
    anyhow::bail!(
        "`mgiv protocols` is not available in this build yet (arguments: {:?})",
        args.rest
    )
}
