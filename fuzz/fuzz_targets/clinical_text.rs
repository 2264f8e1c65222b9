//! The small clinical parsers: measured levels, bags, conditions, medications, concentration
//! units, unit inference: never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = mgiv_pop::tdm::parse_levels(text);
    let _ = mgiv_safety::bag::parse_bag(text);
    let _ = mgiv_safety::names::parse_conditions(text);
    let _ = mgiv_safety::names::parse_medications(text);
    let _ = mgiv_core::units::ConcUnit::parse(text);
    let _ = mgiv_core::units::AmountUnit::parse(text);
    let _ = mgiv_safety::protocol::find_protocol(text);
    let _ = mgiv_safety::indication::find_indication(text);
    if let Ok(v) = text.trim().parse::<f64>() {
        let _ = mgiv_core::units::ConcUnit::infer("level", v, (0.3, 10.0));
    }
});
