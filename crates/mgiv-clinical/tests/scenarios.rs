//! The clinical scenario suite (data/scenarios/*.toml): every scenario gives its expected exit
//! code and alerts; every indication has a safe and an unsafe scenario; every whole-order,
//! context and measured-level rule is expected by some scenario.

use mgiv_clinical::scenario::{check, run, scenarios, Kind};
use mgiv_safety::indication::indications;

#[test]
fn every_scenario_gives_its_expected_answer() {
    let all = scenarios().unwrap();
    let mut failures = Vec::new();
    for s in &all {
        let o = run(s);
        let bad = check(s, &o);
        eprintln!(
            "{:<36} {:<22} {:<7} exit {} {}",
            s.id,
            s.covers,
            format!("{:?}", s.kind).to_lowercase(),
            o.exit,
            if bad.is_empty() {
                "PASS".to_string()
            } else {
                format!("FAIL: {}", bad.join("; "))
            }
        );
        if !bad.is_empty() {
            failures.push(format!("{}: {}", s.id, bad.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_indication_has_a_safe_and_an_unsafe_scenario() {
    let all = scenarios().unwrap();
    let mut ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
    ids.sort();
    for w in ids.windows(2) {
        assert_ne!(w[0], w[1], "scenario id {} is used twice", w[0]);
    }
    for ind in indications().unwrap() {
        for kind in [Kind::Safe, Kind::Unsafe] {
            assert!(
                all.iter().any(|s| s.covers == ind.id && s.kind == kind),
                "indication {} has no {:?} scenario",
                ind.id,
                kind
            );
        }
    }
    for s in &all {
        assert!(
            indications().unwrap().iter().any(|i| i.id == s.covers),
            "scenario {} covers unknown indication {}",
            s.id,
            s.covers
        );
    }
}

#[test]
fn every_order_context_and_level_rule_is_expected_by_a_scenario() {
    let all = scenarios().unwrap();
    let rules: toml::Value =
        toml::from_str(include_str!("../../../data/rules/order-and-context.toml")).unwrap();
    for r in rules["rules"].as_array().unwrap() {
        let code = r["code"].as_str().unwrap();
        assert!(
            all.iter()
                .any(|s| s.expect.alerts.iter().any(|a| a == code)),
            "rule {code} is expected by no scenario"
        );
    }
}
