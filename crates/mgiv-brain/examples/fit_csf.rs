//! Print a fresh CSF fit as TOML (same as `mgiv brain fit-csf`).
fn main() {
    match mgiv_brain::fit::fit_csf().and_then(|f| f.to_toml()) {
        Ok(t) => print!("{t}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
