//! Regimen JSON and TOML readers and the any-format entry point: never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mgiv_core::regimen::RegimenSpec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for r in [
        RegimenSpec::from_json(text),
        RegimenSpec::from_toml(text),
        RegimenSpec::parse_any(text),
    ] {
        if let Ok(spec) = r {
            let _ = spec.resolve(Some(70.0));
            let _ = RegimenSpec::from_json(&spec.to_json());
        }
    }
});
