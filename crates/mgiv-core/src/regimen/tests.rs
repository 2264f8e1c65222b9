use super::*;

fn resolve(text: &str) -> Regimen {
    Regimen::from_text(text, Some(70.0)).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn infusions(r: &Regimen) -> Vec<(f64, Option<f64>, f64)> {
    r.events
        .iter()
        .filter_map(|e| match *e {
            DoseEvent::Infusion {
                start_h,
                end_h,
                rate_mmol_per_h,
                ..
            } => Some((start_h, end_h, rate_mmol_per_h)),
            _ => None,
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

const G: f64 = 1000.0 / 246.47; // mmol per g MgSO4·7H2O

#[test]
fn zuspan() {
    let r = resolve("4 g over 20 min, then 1 g/h for 24 h");
    let inf = infusions(&r);
    assert_eq!(inf.len(), 2);
    assert!(close(inf[0].0, 0.0) && close(inf[0].1.unwrap(), 1.0 / 3.0));
    assert!(close(inf[0].2, 4.0 * G * 3.0));
    assert!(close(inf[1].0, 1.0 / 3.0) && close(inf[1].1.unwrap(), 1.0 / 3.0 + 24.0));
    assert!(close(inf[1].2, G));
    assert!(close(r.amount_given_by_mmol(100.0), 28.0 * G));
    assert_eq!(
        r.canonical(),
        "4 g MgSO4·7H2O IV over 20 min, then 1 g/h MgSO4·7H2O IV for 24 h"
    );
}

#[test]
fn sibai_open_ended() {
    let r = resolve("6 g over 30 min then 2 g/h");
    let inf = infusions(&r);
    assert_eq!(inf[1].1, None);
    assert!(r.has_open_infusion());
    assert!(close(inf[1].0, 0.5));
}

#[test]
fn mmol_regimen_and_per_day() {
    let r = resolve("10 mmol over 15 min, then 3 mmol/h for 12 h");
    let inf = infusions(&r);
    assert!(close(inf[0].2, 40.0));
    assert!(close(inf[1].2, 3.0) && close(inf[1].1.unwrap(), 12.25));
    let r = resolve("64 mmol/day for 14 days");
    let inf = infusions(&r);
    assert!(close(inf[0].2, 64.0 / 24.0) && close(inf[0].1.unwrap(), 336.0));
    assert_eq!(r.canonical(), "64 mmol/day IV for 14 days");
    let r = resolve("65 mmol/24 h for 1 day");
    assert!(close(infusions(&r)[0].2, 65.0 / 24.0));
}

#[test]
fn pritchard() {
    let r = resolve("4 g IV over 15 min + 10 g IM, then 5 g IM every 4 h for 24 h");
    let im: Vec<(f64, f64)> = r
        .events
        .iter()
        .filter_map(|e| match *e {
            DoseEvent::Bolus {
                time_h,
                amount_mmol,
                route: Route::Im,
                ..
            } => Some((time_h, amount_mmol)),
            _ => None,
        })
        .collect();
    let times: Vec<f64> = im.iter().map(|x| x.0).collect();
    assert_eq!(times, vec![0.0, 4.0, 8.0, 12.0, 16.0, 20.0]);
    assert!(close(im[0].1, 10.0 * G) && close(im[1].1, 5.0 * G));
    // 14 g + 5 × 5 g = 39 g within the 24 h (USPI max 30–40 g/24 h)
    assert!(close(r.amount_given_by_mmol(23.9), 39.0 * G));
    assert!(r.has_im());
}

#[test]
fn per_kg_needs_weight() {
    let r = resolve("60 mg/kg over 15 min");
    assert!(close(infusions(&r)[0].2 * 0.25, 60.0 * 70.0 / 1000.0 * G));
    let e = Regimen::from_text("60 mg/kg over 15 min", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("weight"), "{e}");
    // Lu 2002: 120 mg/kg over 1 h then 24 mg/kg/h for 5 h
    let r = resolve("120 mg/kg over 1 h, then 24 mg/kg/h for 5 h");
    let inf = infusions(&r);
    assert!(close(inf[1].2 * 5.0, inf[0].2 * 1.0));
}

#[test]
fn other_salts() {
    let r = resolve("1 g MgCl2 over 10 min");
    assert!(close(infusions(&r)[0].2 / 6.0, 1000.0 / 203.30));
    assert_eq!(r.canonical(), "1 g MgCl2·6H2O IV over 10 min");
    let r = resolve("1 g MgSO4 anhydrous over 10 min");
    assert!(close(infusions(&r)[0].2 / 6.0, 1000.0 / 120.37));
    let r = resolve("2 g magnesium sulfate IV over 20 min");
    assert!(close(infusions(&r)[0].2 / 3.0, 2.0 * G));
    let r = resolve("100 mg-elemental over 1 h");
    assert!(close(infusions(&r)[0].2, 100.0 / 24.305));
    let r = resolve("8 mEq over 1 h");
    assert!(close(infusions(&r)[0].2, 4.0));
}

#[test]
fn repeated_forms() {
    let r = resolve("1 g IM q6h x 4");
    let t: Vec<f64> = r.events.iter().map(|e| e.start_h()).collect();
    assert_eq!(t, vec![0.0, 6.0, 12.0, 18.0]);
    let r = resolve("1 g IM every 6 h x4");
    assert_eq!(r.events.len(), 4);
    let r = resolve("2 g over 15 min every 15 min x 3");
    assert_eq!(infusions(&r).len(), 3);
    let r = resolve("6 g over 30 min, then 2 g IV every 2 h for 12 h");
    let t: Vec<f64> = r.events.iter().map(|e| e.start_h()).collect();
    assert_eq!(t, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
    let r = resolve("4 g over 20 min, then 2 g IV over 10 min starting at 6 h");
    assert!(close(r.events[1].start_h(), 6.0));
}

#[test]
fn canonical_round_trips() {
    for text in [
        "4 g over 20 min, then 1 g/h for 24 h",
        "6 g over 30 min then 2 g/h",
        "10 mmol over 15 min, then 3 mmol/h for 12 h",
        "64 mmol/day for 14 days",
        "4 g IV over 15 min + 10 g IM, then 5 g IM every 4 h for 24 h",
        "60 mg/kg over 15 min",
        "1 g MgCl2 over 10 min",
        "1 g MgSO4 anhydrous over 1 h",
        "1 g IM q6h x 4",
        "120 mg/kg over 1 h, then 24 mg/kg/h for 5 h",
        "2 g IV",
        "4 g over 20 min, then 2 g IV over 10 min starting at 6 h",
    ] {
        let spec = RegimenSpec::parse(text).unwrap();
        let canon = spec.canonical();
        let again = RegimenSpec::parse(&canon).unwrap_or_else(|e| panic!("{canon}: {e}"));
        assert_eq!(spec, again, "{text} -> {canon}");
        // and through JSON and TOML
        let json = spec.to_json();
        assert_eq!(RegimenSpec::from_json(&json).unwrap(), spec, "{json}");
        let toml_text = toml::to_string(&spec).unwrap();
        assert_eq!(
            RegimenSpec::from_toml(&toml_text).unwrap(),
            spec,
            "{toml_text}"
        );
        assert_eq!(RegimenSpec::parse_any(&json).unwrap(), spec);
    }
}

#[test]
fn parse_errors_point_at_the_word() {
    let e = RegimenSpec::parse("4 gr over 20 min")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'gr'") && e.contains("character 3") && e.contains("mmol"),
        "{e}"
    );
    let e = RegimenSpec::parse("4 g over 20 fortnights")
        .unwrap_err()
        .to_string();
    assert!(e.contains("fortnights") && e.contains("min"), "{e}");
    let e = RegimenSpec::parse("4 g over 20 min, then")
        .unwrap_err()
        .to_string();
    assert!(e.contains("end"), "{e}");
    let e = RegimenSpec::parse("4 g over 20 min banana")
        .unwrap_err()
        .to_string();
    assert!(e.contains("banana") && e.contains("then"), "{e}");
    let e = RegimenSpec::parse("-4 g").unwrap_err().to_string();
    assert!(e.contains("negative"), "{e}");
    let e = RegimenSpec::parse("").unwrap_err().to_string();
    assert!(e.contains("empty"), "{e}");
    let e = RegimenSpec::parse("10 mmol MgCl2 over 1 h")
        .unwrap_err()
        .to_string();
    assert!(e.contains("salt"), "{e}");
    let e = RegimenSpec::parse("1 g/h over 1 h")
        .unwrap_err()
        .to_string();
    assert!(e.contains("rate"), "{e}");
}

#[test]
fn bad_values_are_rejected_with_field_names() {
    let cases = [
        ("0 g over 20 min", "dose"),
        ("4 g over 0 min", "infusion time"),
        ("4 g IM over 10 min", "route"),
        ("5 g IM every 4 h", "every"),
        ("4 g over 20 min, then 1 g/h, then 2 g/h", "no end"),
        ("4000 g over 20 min", "dose"),
        ("40 g over 1 min", "rate"),
        ("4 g over 5 h every 4 h for 24 h", "interval"),
        ("1 g/h for 100 days", "duration"),
    ];
    for (text, want) in cases {
        let e = Regimen::from_text(text, Some(70.0))
            .err()
            .unwrap_or_else(|| panic!("{text} should fail"))
            .to_string();
        assert!(e.contains(want), "{text}: {e}");
    }
    let nan = r#"{"phases":[{"kind":"dose","dose":{"value":-1,"unit":"mmol"}}]}"#;
    assert!(RegimenSpec::from_json(nan).is_err());
}

proptest::proptest! {
    #[test]
    fn parser_never_panics(s in "\\PC{0,60}") {
        let _ = RegimenSpec::parse(&s);
    }

    #[test]
    fn generated_regimens_round_trip(
        load in 0.5f64..10.0, over_min in 5u32..60, rate in 0.25f64..4.0, hours in 1u32..72
    ) {
        let text = format!("{load:.2} g over {over_min} min, then {rate:.2} g/h for {hours} h");
        let spec = RegimenSpec::parse(&text).unwrap();
        let again = RegimenSpec::parse(&spec.canonical()).unwrap();
        proptest::prop_assert_eq!(&spec, &again);
        let r = spec.resolve(None).unwrap();
        let total = r.amount_given_by_mmol(1e6);
        let load_r: f64 = format!("{load:.2}").parse().unwrap();
        let rate_r: f64 = format!("{rate:.2}").parse().unwrap();
        let expect = (load_r + rate_r * hours as f64) * G;
        proptest::prop_assert!((total - expect).abs() < 1e-9 * expect);
    }
}

#[test]
fn documented_json_and_toml_examples_parse() {
    let json = include_str!("../../../../data/examples/zuspan.json");
    let spec = RegimenSpec::parse_any(json).unwrap();
    assert_eq!(
        spec,
        RegimenSpec::parse("4 g over 20 min, then 1 g/h for 24 h").unwrap()
    );
    let toml_text = include_str!("../../../../data/examples/pritchard.toml");
    let spec = RegimenSpec::from_toml(toml_text).unwrap();
    assert_eq!(
        spec,
        RegimenSpec::parse("4 g IV over 15 min + 10 g IM, then 5 g IM every 4 h for 24 h").unwrap()
    );
    // a bad unit in JSON names the field
    let bad = json.replace("\"g\"", "\"gr\"");
    let e = RegimenSpec::from_json(&bad).unwrap_err().to_string();
    assert!(e.contains("gr") && e.contains("mmol"), "{e}");
}

/// Windows [a, b) partition what was given: a bolus at a window edge belongs to the later window,
/// an infusion splits by overlap, and the windows of a partition add up to the total given.
#[test]
fn amount_in_window_partitions_the_amount_given() {
    let r = Regimen::from_text(
        "4 g over 20 min, then 1 g/h for 5 h, with 2 g at 2 h",
        Some(70.0),
    )
    .unwrap();
    let edges: Vec<f64> = (0..=12).map(|i| i as f64 * 0.5).collect();
    let mut sum = 0.0;
    for w in edges.windows(2) {
        sum += r
            .events
            .iter()
            .map(|e| e.amount_in_window_mmol(w[0], w[1]))
            .sum::<f64>();
    }
    let total = r.amount_given_by_mmol(6.0);
    assert!((sum - total).abs() < 1e-9, "{sum} vs {total}");
    // 4 g MgSO4·7H2O = 16.23 mmol; + 1 g/h × 5 h; + 2 g
    let g = crate::units::MgAmount::from_salt_g(crate::units::Salt::MgSo4Heptahydrate, 1.0).mmol();
    assert!((total - 11.0 * g).abs() < 1e-9, "{total}");
    // the 2 g bolus at 2 h falls in [2, 2.5), not in [1.5, 2)
    let bolus_in = |a: f64, b: f64| {
        r.events
            .iter()
            .filter(|e| matches!(e, DoseEvent::Bolus { .. }))
            .map(|e| e.amount_in_window_mmol(a, b))
            .sum::<f64>()
    };
    assert_eq!(bolus_in(1.5, 2.0), 0.0);
    assert!((bolus_in(2.0, 2.5) - 2.0 * g).abs() < 1e-12);
}

/// Found by fuzzing (regimen_text): an absurd interval parsed, and its canonical text
/// ("every 3.33e15 h") did not parse back. Text is now checked like JSON and TOML.
#[test]
fn an_out_of_range_interval_is_an_error_at_parse() {
    let e = RegimenSpec::parse("11 g q3333333333333336h x 2")
        .unwrap_err()
        .to_string();
    assert!(e.contains("interval") && e.contains("days"), "{e}");
    // in range, the canonical text is a fixed point
    let s = RegimenSpec::parse("11 g q6h x 2").unwrap();
    let c = s.canonical();
    assert_eq!(RegimenSpec::parse(&c).unwrap().canonical(), c);
}

/// Found by fuzzing (regimen_text): canonical text writes a huge or tiny number in scientific
/// notation ("3.33e29 g"), which did not parse back. Exponents now parse when a digit follows.
#[test]
fn canonical_scientific_notation_parses_back() {
    for text in [
        "333333333333333333333333333331 g q6h x 10",
        "0.00000000001 g over 10 min",
    ] {
        let s = RegimenSpec::parse(text).unwrap();
        let c = s.canonical();
        assert!(c.contains('e'), "{c}");
        assert_eq!(RegimenSpec::parse(&c).unwrap().canonical(), c);
    }
    let s = RegimenSpec::parse("2.5e0 g over 1.5E+1 min").unwrap();
    assert_eq!(
        s.canonical(),
        RegimenSpec::parse("2.5 g over 15 min").unwrap().canonical()
    );
}
