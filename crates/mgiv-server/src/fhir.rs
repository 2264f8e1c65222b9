//! FHIR R4: import a serum magnesium Observation as a level (unit converted with mgiv-core's
//! units), and the patient's levels as a searchset Bundle. Refusals are OperationOutcomes.
//!
//! LOINC codes accepted (docs/SERVER.md gives the sources):
//! * 19123-9 Magnesium [Mass/volume] in Serum or Plasma: total, mg/dL
//! * 2601-3 Magnesium [Moles/volume] in Serum or Plasma: total, mmol/L (mEq/L also read)
//! * 2600-5 Magnesium.ionized [Moles/volume]: ionised, mmol/L
//! * 73573-8 Magnesium.ionized [Moles/volume] adjusted to pH 7.4 in Blood: ionised, mmol/L
//!
//! Ionised levels are stored and shown but not fitted: the TDM models total serum Mg.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::routes::Session;
use crate::service::{current, current_order, level_body};
use crate::util::{parse_rfc3339_ms, rfc3339_of_ms};
use crate::AppState;

pub const LOINC: &str = "http://loinc.org";
pub const UCUM: &str = "http://unitsofmeasure.org";

/// (code, analyte, property, the units that property allows, display)
pub const CODES: [(&str, &str, &str, &[&str], &str); 4] = [
    (
        "19123-9",
        "total",
        "mass/volume",
        &["mg/dL"],
        "Magnesium [Mass/volume] in Serum or Plasma",
    ),
    (
        "2601-3",
        "total",
        "moles/volume",
        &["mmol/L", "meq/L"],
        "Magnesium [Moles/volume] in Serum or Plasma",
    ),
    (
        "2600-5",
        "ionised",
        "moles/volume",
        &["mmol/L"],
        "Magnesium.ionized [Moles/volume]",
    ),
    (
        "73573-8",
        "ionised",
        "moles/volume",
        &["mmol/L"],
        "Magnesium.ionized [Moles/volume] adjusted to pH 7.4 in Blood",
    ),
];

/// A FHIR OperationOutcome with one error issue.
pub fn outcome(status: StatusCode, code: &str, expression: &str, diagnostics: &str) -> Response {
    let v = json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics, "expression": [expression]}]
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/fhir+json")],
        v.to_string(),
    )
        .into_response()
}

fn oo(e: ApiError) -> Response {
    let code = match e.status {
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::CONFLICT => "conflict",
        s if s.is_server_error() => "exception",
        _ => "invalid",
    };
    let f = if e.field.is_empty() {
        "Observation".to_string()
    } else {
        format!("Observation.{}", e.field)
    };
    outcome(
        e.status,
        code,
        &f,
        &format!("{} (allowed: {})", e.message, e.allowed),
    )
}

/// What an Observation says, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedObservation {
    pub patient_id: String,
    pub loinc: String,
    pub analyte: String,
    pub value: f64,
    pub unit: String,
    pub effective_ms: i64,
}

fn bad(field: &str, msg: impl Into<String>) -> FhirError {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        format!("Observation.{field}"),
        msg.into(),
    )
}

type FhirError = (StatusCode, &'static str, String, String);
type LoincCode = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static str,
);

/// Check an Observation: its type, status, code, subject, time and quantity.
pub fn parse_observation(v: &Value) -> Result<ParsedObservation, FhirError> {
    if v.get("resourceType").and_then(Value::as_str) != Some("Observation") {
        return Err(bad(
            "resourceType",
            format!(
                "resourceType {} is not Observation",
                v.get("resourceType").unwrap_or(&Value::Null)
            ),
        ));
    }
    let status = v.get("status").and_then(Value::as_str).unwrap_or("");
    if !["final", "amended", "corrected"].contains(&status) {
        return Err(bad(
            "status",
            format!("status '{status}': only final, amended or corrected results are stored"),
        ));
    }
    let (code, analyte, property, units, _) = loinc_code(v)?;
    let reference = v
        .pointer("/subject/reference")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(pid) = reference
        .strip_prefix("Patient/")
        .filter(|s| !s.is_empty() && s.len() <= 64)
    else {
        return Err(bad(
            "subject",
            format!("subject.reference '{reference}': expected Patient/<id> of an mgiv patient"),
        ));
    };
    let when = v
        .get("effectiveDateTime")
        .and_then(Value::as_str)
        .or_else(|| v.pointer("/effectivePeriod/start").and_then(Value::as_str))
        .or_else(|| v.get("effectiveInstant").and_then(Value::as_str));
    let Some(effective_ms) = when.and_then(parse_rfc3339_ms) else {
        return Err(bad(
            "effectiveDateTime",
            format!("{when:?}: the sampling time is needed, as a date-time with a zone"),
        ));
    };
    let (value, unit) = quantity(v, code, property, units)?;
    Ok(ParsedObservation {
        patient_id: pid.to_string(),
        loinc: code.to_string(),
        analyte: analyte.to_string(),
        value,
        unit: unit.to_string(),
        effective_ms,
    })
}

/// The Observation's serum magnesium LOINC code (one of `CODES`), else "not-supported".
fn loinc_code(v: &Value) -> Result<LoincCode, FhirError> {
    let codings = v
        .pointer("/code/coding")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let found = codings.iter().find_map(|c| {
        let sys = c.get("system").and_then(Value::as_str)?;
        let code = c.get("code").and_then(Value::as_str)?;
        (sys == LOINC)
            .then(|| CODES.iter().find(|x| x.0 == code))
            .flatten()
    });
    if let Some(c) = found {
        return Ok(*c);
    }
    let seen: Vec<String> = codings
        .iter()
        .map(|c| {
            format!(
                "{}|{}",
                c.get("system").and_then(Value::as_str).unwrap_or("?"),
                c.get("code").and_then(Value::as_str).unwrap_or("?")
            )
        })
        .collect();
    Err((
        StatusCode::UNPROCESSABLE_ENTITY,
        "not-supported",
        "Observation.code".into(),
        format!(
            "not a serum magnesium observation (codes {}): accepted LOINC codes are {}",
            seen.join(", "),
            CODES
                .iter()
                .map(|c| format!("{} {}", c.0, c.4))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    ))
}

/// valueQuantity: its value and a UCUM unit that the LOINC code's property allows.
fn quantity(
    v: &Value,
    code: &str,
    property: &str,
    units: &'static [&'static str],
) -> Result<(f64, &'static str), FhirError> {
    let q = v.get("valueQuantity").ok_or_else(|| {
        bad(
            "valueQuantity",
            "a valueQuantity with value and unit is needed",
        )
    })?;
    let value = q
        .get("value")
        .and_then(Value::as_f64)
        .ok_or_else(|| bad("valueQuantity.value", "a number is needed"))?;
    let ucum = q
        .get("code")
        .and_then(Value::as_str)
        .or_else(|| q.get("unit").and_then(Value::as_str))
        .unwrap_or("");
    if let Some(sys) = q.get("system").and_then(Value::as_str) {
        if sys != UCUM {
            return Err(bad(
                "valueQuantity.system",
                format!("unit system '{sys}': expected {UCUM}"),
            ));
        }
    }
    let Some(unit) = units.iter().find(|u| u.eq_ignore_ascii_case(ucum.trim())) else {
        return Err(bad(
            "valueQuantity.code",
            format!(
                "unit '{ucum}' does not fit LOINC {code} ({property}): allowed {}",
                units.join(", ")
            ),
        ));
    };
    Ok((value, unit))
}

pub async fn import(
    State(st): State<AppState>,
    Extension(s): Extension<Session>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let ct = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !(ct.starts_with("application/fhir+json") || ct.starts_with("application/json")) {
        return outcome(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-supported",
            "Observation",
            &format!("content type '{ct}': send application/fhir+json"),
        );
    }
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return outcome(
                StatusCode::BAD_REQUEST,
                "structure",
                "Observation",
                &format!("not JSON: {e}"),
            )
        }
    };
    let o = match parse_observation(&v) {
        Ok(o) => o,
        Err((st, code, expr, msg)) => return outcome(st, code, &expr, &msg),
    };
    let patient = match st.db.patient(&o.patient_id, &s.user.team).await {
        Ok(p) => p,
        Err(e) => return oo(e.into()),
    };
    let recs = match st.db.records(&patient.id).await {
        Ok(r) => r,
        Err(e) => return oo(e.into()),
    };
    let Some(start) = current_order(&recs)
        .and_then(|r| r.body.get("start_unix_ms"))
        .and_then(Value::as_i64)
    else {
        return outcome(
            StatusCode::UNPROCESSABLE_ENTITY,
            "business-rule",
            "Observation.subject",
            "the patient has no current order: the level's time is counted from the order's start",
        );
    };
    // ms per hour; at most 90 days
    let t = (o.effective_ms - start) as f64 / 3.6e6;
    if !(0.0..=2160.0).contains(&t) {
        return outcome(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "Observation.effectiveDateTime",
            &format!(
                "sampled {t:.2} h from the order's start ({}): allowed 0 to 2160 h",
                rfc3339_of_ms(start)
            ),
        );
    }
    let mut b = match level_body(
        o.value,
        &o.unit,
        t,
        json!({"kind": "fhir", "loinc": o.loinc, "id": v.get("id"), "effective": rfc3339_of_ms(o.effective_ms)}),
    ) {
        Ok(b) => b,
        Err(e) => return oo(e),
    };
    b["analyte"] = json!(o.analyte);
    let detail = json!({"loinc": o.loinc, "value": o.value, "unit": o.unit, "mmol_l": b["mmol_l"], "time_h": t});
    match st
        .db
        .append_record(
            &patient,
            "level",
            b,
            None,
            None,
            &s.user.username,
            "level.add-fhir",
            detail,
        )
        .await
    {
        Ok(r) => {
            let mut out = v.clone();
            out["id"] = json!(r.id);
            (
                StatusCode::CREATED,
                [(header::CONTENT_TYPE, "application/fhir+json")],
                out.to_string(),
            )
                .into_response()
        }
        Err(e) => oo(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct BundleQuery {
    pub patient: Option<String>,
}

/// The patient's current levels as Observations (mmol/L, UCUM) in a searchset Bundle.
pub async fn bundle(
    State(st): State<AppState>,
    Extension(s): Extension<Session>,
    Query(q): Query<BundleQuery>,
) -> Response {
    let Some(pid) = q.patient.filter(|p| !p.is_empty()) else {
        return outcome(
            StatusCode::BAD_REQUEST,
            "required",
            "patient",
            "the search parameter patient=<id> is required",
        );
    };
    let patient = match st.db.patient(&pid, &s.user.team).await {
        Ok(p) => p,
        Err(e) => return oo(e.into()),
    };
    let recs = match st.db.records(&patient.id).await {
        Ok(r) => r,
        Err(e) => return oo(e.into()),
    };
    let start = current_order(&recs)
        .and_then(|r| r.body.get("start_unix_ms"))
        .and_then(Value::as_i64);
    let entries: Vec<Value> = current(&recs, "level").iter().map(|r| {
        let ionised = r.body.get("analyte").and_then(Value::as_str) == Some("ionised");
        let loinc = r.body.pointer("/source/loinc").and_then(Value::as_str).unwrap_or(if ionised { "2600-5" } else { "2601-3" });
        let loinc = if loinc == "19123-9" { "2601-3" } else { loinc };
        let display = CODES.iter().find(|c| c.0 == loinc).map(|c| c.4).unwrap_or("");
        let t = r.body.get("time_h").and_then(Value::as_f64).unwrap_or(0.0);
        let mut o = json!({
            "resourceType": "Observation", "id": r.id, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}]},
            "subject": {"reference": format!("Patient/{}", patient.id)},
            "valueQuantity": {"value": r.body["mmol_l"], "unit": "mmol/L", "system": UCUM, "code": "mmol/L"},
        });
        if let Some(s0) = r.body.pointer("/source/effective").and_then(Value::as_str).map(str::to_string)
            .or_else(|| start.map(|s0| rfc3339_of_ms(s0 + (t * 3.6e6).round() as i64))) {
            o["effectiveDateTime"] = json!(s0);
        }
        json!({"fullUrl": format!("Observation/{}", r.id), "resource": o})
    }).collect();
    Json(json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(code: &str, value: f64, unit: &str) -> Value {
        json!({"resourceType": "Observation", "status": "final",
               "code": {"coding": [{"system": LOINC, "code": code}]},
               "subject": {"reference": "Patient/abc"}, "effectiveDateTime": "2026-11-30T10:00:00Z",
               "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}})
    }

    #[test]
    fn accepts_the_magnesium_codes_with_fitting_units() {
        let o = parse_observation(&obs("19123-9", 4.8, "mg/dL")).unwrap();
        assert_eq!(
            (o.analyte.as_str(), o.unit.as_str(), o.patient_id.as_str()),
            ("total", "mg/dL", "abc")
        );
        assert_eq!(
            o.effective_ms,
            parse_rfc3339_ms("2026-11-30T10:00:00Z").unwrap()
        );
        assert_eq!(
            parse_observation(&obs("2601-3", 2.0, "mmol/L"))
                .unwrap()
                .analyte,
            "total"
        );
        assert_eq!(
            parse_observation(&obs("2600-5", 0.9, "mmol/L"))
                .unwrap()
                .analyte,
            "ionised"
        );
    }

    #[test]
    fn refuses_foreign_codes_and_wrong_units() {
        // 2951-2 is serum sodium
        let e = parse_observation(&obs("2951-2", 140.0, "mmol/L")).unwrap_err();
        assert_eq!((e.1, e.2.as_str()), ("not-supported", "Observation.code"));
        // a mass code with a molar unit
        let e = parse_observation(&obs("19123-9", 2.0, "mmol/L")).unwrap_err();
        assert_eq!(e.2, "Observation.valueQuantity.code");
        let mut v = obs("2601-3", 2.0, "mmol/L");
        v["status"] = json!("preliminary");
        assert_eq!(parse_observation(&v).unwrap_err().2, "Observation.status");
        v = obs("2601-3", 2.0, "mmol/L");
        v["resourceType"] = json!("Patient");
        assert_eq!(
            parse_observation(&v).unwrap_err().2,
            "Observation.resourceType"
        );
        v = obs("2601-3", 2.0, "mmol/L");
        v["effectiveDateTime"] = json!("2026-11-30");
        assert_eq!(
            parse_observation(&v).unwrap_err().2,
            "Observation.effectiveDateTime"
        );
    }
}
