//! Regimen text → spec → events: never a panic; a parsed regimen round-trips through its
//! canonical text to the same events.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mgiv_core::regimen::RegimenSpec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = RegimenSpec::parse(text) {
        let canonical = spec.canonical();
        let again = RegimenSpec::parse(&canonical).expect("canonical text parses");
        assert_eq!(
            again.canonical(),
            canonical,
            "canonical text is a fixed point"
        );
        for w in [None, Some(0.5), Some(70.0), Some(400.0)] {
            let _ = spec.resolve(w);
        }
    }
});
