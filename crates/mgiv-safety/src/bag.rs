//! Bags and syringes as written on the label: "40 g in 1000 mL", "8 g/100 mL", "4 g in 100 mL",
//! "20 g MgCl2 in 500 mL", "1 L", "50 %", "8 % premix".

use mgiv_core::units::{Bag, MgAmount, Salt};

use crate::error::{invalid, SafetyError};

const ALLOWED: &str = "a bag as '<amount> g [salt] in <volume> mL' (e.g. '40 g in 1000 mL', '8 g/100 mL', '20 g MgCl2 in 0.5 L', '80 mmol in 1 L') or a strength '<n> %' (e.g. '50 %')";

fn salt_of(words: &str) -> Option<Salt> {
    let w = words.trim().to_lowercase();
    let w = w
        .trim_end_matches("premix")
        .trim_end_matches("solution")
        .trim();
    match w {
        "" | "mgso4" | "magnesium sulfate" | "magnesium sulphate" | "mgso4·7h2o" | "mgso4.7h2o" => {
            Some(Salt::MgSo4Heptahydrate)
        }
        "mgcl2" | "magnesium chloride" | "mgcl2·6h2o" | "mgcl2.6h2o" => {
            Some(Salt::MgCl2Hexahydrate)
        }
        "mgso4-anhydrous" | "anhydrous" | "mgso4 anhydrous" => Some(Salt::MgSo4Anhydrous),
        _ => None,
    }
}

/// Split "40g" / "40 g MgCl2" into the number and the rest.
fn number_and_rest(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let v: f64 = s[..end].parse().ok()?;
    Some((v, s[end..].trim()))
}

/// Parse a bag description.
pub fn parse_bag(text: &str) -> Result<Bag, SafetyError> {
    let bad = || invalid("bag", format!("'{text}'"), ALLOWED);
    let t = text.trim();
    if let Some(pos) = t.find('%') {
        let (v, rest) = number_and_rest(&t[..pos]).ok_or_else(bad)?;
        if !rest.is_empty() {
            return Err(bad());
        }
        let salt = salt_of(&t[pos + 1..]).ok_or_else(bad)?;
        if !(v.is_finite() && v > 0.0 && v <= 100.0) {
            return Err(invalid(
                "bag strength",
                format!("{v} %"),
                "a w/v percentage above 0 and at most 100 %",
            ));
        }
        return Ok(Bag::new(salt, v, 100.0)?);
    }
    // ASCII lowercase keeps byte offsets (full Unicode lowercasing can change lengths: İ → i̇)
    let lower = t.to_ascii_lowercase();
    let (left, right) = if let Some(i) = lower.find(" in ") {
        (&t[..i], &t[i + 4..])
    } else if let Some(i) = lower.find('/') {
        (&t[..i], &t[i + 1..])
    } else {
        return Err(bad());
    };
    let (amount, rest) = number_and_rest(left).ok_or_else(bad)?;
    let rest_l = rest.to_lowercase();
    let (unit, salt_words) = rest_l.split_once(' ').unwrap_or((rest_l.as_str(), ""));
    let salt = salt_of(salt_words).ok_or_else(bad)?;
    let salt_g = match unit {
        "g" => amount,
        "mg" => amount / 1000.0,
        "mmol" if salt_words.is_empty() => {
            MgAmount::from_mmol(amount).salt_g(Salt::MgSo4Heptahydrate)
        }
        "meq" if salt_words.is_empty() => {
            MgAmount::from_meq(amount).salt_g(Salt::MgSo4Heptahydrate)
        }
        _ => return Err(bad()),
    };
    let (vol, vunit) = number_and_rest(right).ok_or_else(bad)?;
    let volume_ml = match vunit.to_lowercase().as_str() {
        "ml" => vol,
        "l" => vol * 1000.0,
        _ => return Err(bad()),
    };
    Ok(Bag::new(salt, salt_g, volume_ml)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mgiv_core::units::MgRate;

    #[test]
    fn pump_rates_from_named_bags() {
        let b = parse_bag("40 g in 1000 mL").unwrap();
        let two_g_h = MgRate::per_hour(MgAmount::from_salt_g(Salt::MgSo4Heptahydrate, 2.0));
        assert!((b.pump_ml_per_h(two_g_h) - 50.0).abs() < 1e-9);
        let b = parse_bag("8 g/100 mL").unwrap();
        let one = MgRate::per_hour(MgAmount::from_salt_g(Salt::MgSo4Heptahydrate, 1.0));
        assert!((b.pump_ml_per_h(one) - 12.5).abs() < 1e-9);
        let b = parse_bag("40g in 1 L").unwrap();
        assert_eq!(b.volume_ml, 1000.0);
        let b = parse_bag("50 %").unwrap();
        assert!((b.strength().mmol_per_ml() - 2.03).abs() < 0.005);
        let b = parse_bag("20 g MgCl2 in 500 mL").unwrap();
        assert_eq!(b.salt, Salt::MgCl2Hexahydrate);
        let b = parse_bag("80 mmol in 1 L").unwrap();
        assert!((b.salt_g - 19.72).abs() < 0.01);
        assert!(parse_bag("8 % premix").is_ok());
    }

    #[test]
    fn the_separator_is_found_whatever_its_case() {
        // the separator found case-insensitively: " IN " and " in " alike
        let a = parse_bag("4 g IN 100 mL").unwrap();
        let b = parse_bag("4 g in 100 mL").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn bad_bags_name_the_field() {
        for t in [
            "",
            "40 g",
            "forty g in 1 L",
            "40 g in 1000 cc",
            "40 kg in 1 L",
            "0 g in 100 mL",
            // found by fuzzing (clinical_text): 'İ' lowercases to 3 bytes, and the separator's
            // byte offset in the lowercased text was used on the original: a slice panic
            "İ /",
            "İİ in 100 mL",
            "4 g İ/100 mL",
        ] {
            let e = parse_bag(t).unwrap_err().to_string();
            assert!(e.contains("bag"), "{t}: {e}");
        }
    }
}
