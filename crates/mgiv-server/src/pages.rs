//! Server-rendered pages (plain HTML, every value escaped; the stylesheet is compiled in; no
//! script, nothing fetched from the internet): sign-in, ward list, patient page, printable report.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde_json::{json, Value};

use crate::db::{Patient, Record};
use crate::error::ApiError;
use crate::routes::Session;
use crate::service::{self, AcceptIn, AdjustIn, LevelIn, OrderIn, PatientIn};
use crate::util::esc;
use crate::AppState;

pub const STYLE_CSS: &str = include_str!("../assets/style.css");

pub async fn style_css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLE_CSS,
    )
        .into_response()
}

fn layout(title: &str, s: Option<&Session>, body: &str) -> Html<String> {
    let nav = match s {
        Some(s) => format!(
            "<nav><a href=\"/\">Ward list</a> <span class=\"who\">{} ({}, team {})</span> <form method=\"post\" action=\"/logout\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button>Sign out</button></form></nav>",
            esc(&s.user.username), esc(&s.user.role), esc(&s.user.team), esc(&s.csrf)
        ),
        None => String::new(),
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} · mgiv</title><link rel=\"stylesheet\" href=\"/assets/style.css\"></head><body><header><strong>mgiv</strong> · IV magnesium {nav}</header><main>{body}</main><footer>mgiv {} · every clinical answer comes from the mgiv libraries and names its model, source and evidence · check every order against your local protocol</footer></body></html>",
        esc(title), env!("CARGO_PKG_VERSION")
    ))
}

pub fn error_page(e: &ApiError) -> String {
    layout("Error", None, &format!(
        "<h1>{}</h1><p class=\"error\" data-field=\"{}\">{}</p><p>Allowed: {}</p><p><a href=\"/\">Ward list</a></p>",
        e.status.as_u16(), esc(&e.field), esc(&e.message), esc(&e.allowed)
    )).0
}

fn err_response(e: ApiError, s: &Session) -> Response {
    let status = e.status;
    let mut body = format!("<h1>Not done</h1><p class=\"error\" data-field=\"{}\"><strong>{}</strong>: {}</p><p>Allowed: {}</p>",
        esc(&e.field), esc(&e.field), esc(&e.message), esc(&e.allowed));
    if let Some(alerts) = e.extra.as_ref().and_then(|x| x.get("alerts")) {
        body.push_str(&alerts_html(alerts));
    }
    body.push_str("<p><a href=\"/\">Ward list</a></p>");
    (status, layout("Not done", Some(s), &body)).into_response()
}

// ------------------------------------------------------------------ sign-in

fn login_html(msg: Option<&str>) -> Html<String> {
    layout("Sign in", None, &format!(
        "<h1>Sign in</h1>{}<form method=\"post\" action=\"/login\" class=\"card narrow\"><label>User name <input name=\"username\" autocomplete=\"username\" required></label><label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label><button type=\"submit\">Sign in</button></form><p class=\"muted\">Accounts are made by an administrator: <code>mgiv user add NAME --role pharmacist --team TEAM --password-stdin</code></p>",
        msg.map(|m| format!("<p class=\"error\">{}</p>", esc(m))).unwrap_or_default()
    ))
}

pub async fn login_page() -> Html<String> {
    login_html(None)
}

/// The sign-in form has no session to bind a CSRF token to; a cross-site form post is refused by
/// its Origin header instead (browsers send it on POST).
pub fn same_origin(h: &axum::http::HeaderMap) -> bool {
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
    match (h.get(header::ORIGIN).and_then(|v| v.to_str().ok()), host) {
        (None, _) => true,
        (Some(o), Some(host)) => o.split_once("://").map(|x| x.1) == Some(host),
        (Some(_), None) => false,
    }
}

pub async fn login_form(
    State(st): State<AppState>,
    h: axum::http::HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if !same_origin(&h) {
        let msg = "sign-in refused: the form was posted from another site";
        return (StatusCode::FORBIDDEN, login_html(Some(msg))).into_response();
    }
    let u = f.get("username").map(String::as_str).unwrap_or("");
    let p = f.get("password").map(String::as_str).unwrap_or("");
    match crate::api::sign_in(&st, u, p).await {
        Ok((cookie, _, _)) => ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response(),
        Err(e) => (e.status, login_html(Some(&e.message))).into_response(),
    }
}

pub async fn logout_form(State(st): State<AppState>, Extension(s): Extension<Session>) -> Response {
    let _ = st.db.delete_session(&s.token_sha256).await;
    (
        [(header::SET_COOKIE, crate::api::session_cookie(&st, "", 0))],
        Redirect::to("/login"),
    )
        .into_response()
}

// ------------------------------------------------------------------ ward list and admission

fn indication_options() -> String {
    let mut o = String::from("<option value=\"\">(from the patient)</option>");
    if let Ok(list) = mgiv_safety::indication::indications() {
        for i in list {
            o.push_str(&format!("<option value=\"{0}\">{0}</option>", esc(&i.id)));
        }
    }
    o
}

pub async fn ward(State(st): State<AppState>, Extension(s): Extension<Session>) -> Response {
    let patients = match st.db.list_patients(&s.user.team).await {
        Ok(p) => p,
        Err(e) => return err_response(e.into(), &s),
    };
    let mut rows = String::new();
    for p in &patients {
        let d = &p.details;
        let g = |k: &str| {
            d.get(k)
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    v => v.to_string(),
                })
                .unwrap_or_default()
        };
        rows.push_str(&format!(
            "<tr><td><a href=\"/patients/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.id), esc(&g("name")), esc(&g("mrn")), esc(&g("indication")), esc(&g("weight_kg")), esc(&p.created_at)
        ));
    }
    let body = format!(
        "<h1>Ward list · team {}</h1><table class=\"list\"><thead><tr><th>Patient</th><th>MRN</th><th>Indication</th><th>Weight (kg)</th><th>Admitted</th></tr></thead><tbody>{}</tbody></table>\
         <h2>Admit a patient</h2><form method=\"post\" action=\"/patients\" class=\"card grid\" id=\"admit\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label>Name <input name=\"name\" required></label><label>MRN <input name=\"mrn\"></label>\
         <label>Weight (kg) <input name=\"weight_kg\" inputmode=\"decimal\"></label><label>Height (cm) <input name=\"height_cm\" inputmode=\"decimal\"></label>\
         <label>Age (years) <input name=\"age_y\" inputmode=\"decimal\"></label><label>Sex <select name=\"sex\"><option value=\"\">–</option><option value=\"f\">female</option><option value=\"m\">male</option></select></label>\
         <label>Serum creatinine (mg/dL) <input name=\"creatinine_mg_dl\" inputmode=\"decimal\"></label><label>Baseline serum Mg, with unit <input name=\"baseline\" placeholder=\"0.8 mmol/L\"></label>\
         <label><input type=\"checkbox\" name=\"pregnant\" value=\"on\"> Pregnant</label><label><input type=\"checkbox\" name=\"pre_eclampsia\" value=\"on\"> Pre-eclampsia</label>\
         <label>Indication <select name=\"indication\">{}</select></label><label>Conditions (comma-separated) <input name=\"conditions\" placeholder=\"renal-failure\"></label>\
         <label>Medications (comma-separated) <input name=\"medications\" placeholder=\"nifedipine\"></label><button type=\"submit\">Admit</button></form>",
        esc(&s.user.team), if rows.is_empty() { "<tr><td colspan=\"5\">No patients yet.</td></tr>".into() } else { rows }, esc(&s.csrf), indication_options()
    );
    layout("Ward list", Some(&s), &body).into_response()
}

fn form_num(f: &HashMap<String, String>, k: &str) -> Result<Option<f64>, ApiError> {
    match f.get(k).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(t) => t
            .parse::<f64>()
            .map(Some)
            .map_err(|_| crate::db::invalid(k, t, "a number").into()),
    }
}

fn form_str(f: &HashMap<String, String>, k: &str) -> Option<String> {
    f.get(k)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn patient_from_form(f: &HashMap<String, String>) -> Result<PatientIn, ApiError> {
    Ok(PatientIn {
        name: form_str(f, "name").unwrap_or_default(),
        mrn: form_str(f, "mrn"),
        weight_kg: form_num(f, "weight_kg")?,
        height_cm: form_num(f, "height_cm")?,
        age_y: form_num(f, "age_y")?,
        sex: form_str(f, "sex"),
        creatinine_mg_dl: form_num(f, "creatinine_mg_dl")?,
        pregnant: f.contains_key("pregnant"),
        pre_eclampsia: f.contains_key("pre_eclampsia"),
        baseline: form_str(f, "baseline"),
        indication: form_str(f, "indication"),
        conditions: form_str(f, "conditions"),
        medications: form_str(f, "medications"),
    })
}

pub async fn admit_form(
    State(st): State<AppState>,
    Extension(s): Extension<Session>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let r = async {
        let p = patient_from_form(&f)?;
        service::admit(&st.db, &s.user, p).await
    }
    .await;
    match r {
        Ok(p) => Redirect::to(&format!("/patients/{}", p.id)).into_response(),
        Err(e) => err_response(e, &s),
    }
}

// ------------------------------------------------------------------ patient page

fn num(v: &Value, k: &str, digits: usize) -> String {
    v.get(k)
        .and_then(Value::as_f64)
        .map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "–".into())
}

fn alerts_html(alerts: &Value) -> String {
    let Some(list) = alerts.as_array() else {
        return String::new();
    };
    if list.is_empty() {
        return "<p class=\"ok\">No alerts.</p>".into();
    }
    let mut h = String::from("<ul class=\"alerts\">");
    for a in list {
        let sev = a.get("severity").and_then(Value::as_str).unwrap_or("info");
        h.push_str(&format!(
            "<li class=\"sev-{}\"><span class=\"sev\">{}</span> <strong>{}</strong> <code>{}</code><br>{}<br><small>Source: {}</small></li>",
            esc(sev), esc(&sev.to_uppercase()), esc(a.get("title").and_then(Value::as_str).unwrap_or("")),
            esc(a.get("code").and_then(Value::as_str).unwrap_or("")), esc(a.get("message").and_then(Value::as_str).unwrap_or("")),
            esc(a.get("source").and_then(Value::as_str).unwrap_or(""))
        ));
    }
    h + "</ul>"
}

fn pump_html(plan: &Value) -> String {
    let mut h = String::from("<table class=\"pump\"><thead><tr><th>Phase</th><th>Role</th><th>As written</th><th>Start (h)</th><th>End (h)</th><th>Dose (g)</th><th>Rate (g/h)</th><th>Rate (mmol/h)</th><th>Pump (mL/h)</th><th>Volume (mL)</th></tr></thead><tbody>");
    for p in plan
        .get("phases")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"pump-rate\">{}</td><td>{}</td></tr>",
            esc(&p["phase"].to_string()), esc(p["role"].as_str().unwrap_or("")), esc(p["written"].as_str().unwrap_or("")),
            num(&p, "start_h", 2), num(&p, "end_h", 2), num(&p, "dose_g", 2), num(&p, "rate_g_per_h", 2), num(&p, "rate_mmol_per_h", 2),
            num(&p, "pump_ml_per_h", 1), num(&p, "volume_ml", 1)
        ));
    }
    h.push_str("</tbody></table>");
    if let Some(b) = plan.get("bag_source").and_then(Value::as_str) {
        h.push_str(&format!("<p class=\"muted\">Bag: {}</p>", esc(b)));
    }
    h
}

/// The forecast as inline SVG: target band, toxic and emergency lines, the predicted curve and
/// the measured levels (mmol/L against hours from the order's start).
pub fn forecast_svg(f: &Value) -> String {
    let pts: Vec<(f64, f64)> = f["points"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|p| Some((p["time_h"].as_f64()?, p["serum_mmol_l"].as_f64()?)))
        .collect();
    let levels: Vec<(f64, f64, bool)> = f["levels"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|p| {
            Some((
                p["time_h"].as_f64()?,
                p["mmol_l"].as_f64()?,
                p["analyte"].as_str() == Some("ionised"),
            ))
        })
        .collect();
    let (tlo, thi) = (
        f["target_mmol_l"][0].as_f64().unwrap_or(0.0),
        f["target_mmol_l"][1].as_f64().unwrap_or(0.0),
    );
    let toxic = f["toxic_mmol_l"].as_f64().unwrap_or(0.0);
    let emerg = f["emergency_mmol_l"].as_f64().unwrap_or(0.0);
    let tmax = pts
        .iter()
        .map(|p| p.0)
        .chain(levels.iter().map(|l| l.0))
        .fold(1.0f64, f64::max);
    let ymax = pts
        .iter()
        .map(|p| p.1)
        .chain(levels.iter().map(|l| l.1))
        .chain([thi, toxic])
        .fold(0.5f64, f64::max)
        * 1.12;
    // plot geometry below (pixels, tick steps, headroom): layout, not science
    let (w, h, l, r, t, b) = (880.0, 360.0, 60.0, 20.0, 20.0, 44.0);
    let x = |v: f64| l + (w - l - r) * v / tmax;
    let y = |v: f64| h - b - (h - t - b) * v / ymax;
    let mut s = format!("<svg class=\"forecast\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"Predicted serum magnesium\" xmlns=\"http://www.w3.org/2000/svg\">");
    s.push_str(&format!("<rect x=\"{l}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#cfe8cf\"><title>target {tlo}–{thi} mmol/L</title></rect>", y(thi), w - l - r, (y(tlo) - y(thi)).max(0.0)));
    for (v, col, name) in [(toxic, "#d55e00", "toxic"), (emerg, "#8b0000", "emergency")] {
        if v > 0.0 && v < ymax {
            s.push_str(&format!("<line x1=\"{l}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{col}\" stroke-dasharray=\"6 4\" stroke-width=\"1.5\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"{col}\" font-size=\"12\" text-anchor=\"end\">{name} {v} mmol/L</text>", w - r, y(v), y(v), w - r - 4.0, y(v) - 4.0));
        }
    }
    // axes and ticks
    s.push_str(&format!("<line x1=\"{l}\" x2=\"{l}\" y1=\"{t}\" y2=\"{:.1}\" stroke=\"#333\"/><line x1=\"{l}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#333\"/>", h - b, w - r, h - b, h - b));
    let ystep = if ymax > 6.0 { 1.0 } else { 0.5 };
    let mut v = 0.0;
    while v <= ymax {
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{v:.1}</text>",
            l - 6.0,
            y(v) + 4.0
        ));
        v += ystep;
    }
    let xstep = [1.0, 2.0, 4.0, 6.0, 12.0, 24.0, 48.0]
        .into_iter()
        .find(|st| tmax / st <= 12.0)
        .unwrap_or(96.0);
    let mut v = 0.0;
    while v <= tmax + 1e-9 {
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{v}</text>",
            x(v),
            h - b + 16.0
        ));
        v += xstep;
    }
    s.push_str(&format!("<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\">hours from the order's start</text><text x=\"14\" y=\"{:.1}\" font-size=\"12\" transform=\"rotate(-90 14 {:.1})\" text-anchor=\"middle\">total serum Mg (mmol/L)</text>", (l + w - r) / 2.0, h - 6.0, (t + h - b) / 2.0, (t + h - b) / 2.0));
    let path: Vec<String> = pts
        .iter()
        .map(|&(a, c)| format!("{:.1},{:.1}", x(a), y(c)))
        .collect();
    s.push_str(&format!("<polyline fill=\"none\" stroke=\"#0072b2\" stroke-width=\"2\" points=\"{}\"><title>predicted (population model)</title></polyline>", path.join(" ")));
    for (a, c, ion) in levels {
        s.push_str(&format!("<circle class=\"level\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"5\" fill=\"{}\" stroke=\"#000\"><title>{} level {c:.2} mmol/L at {a:.2} h</title></circle>", x(a), y(c), if ion { "#fff" } else { "#000" }, if ion { "ionised" } else { "measured" }));
    }
    s.push_str("</svg>");
    s
}

fn levels_html(recs: &[Record]) -> String {
    let mut h = String::from("<table class=\"levels\"><thead><tr><th>Time (h)</th><th>As entered</th><th>mmol/L</th><th>Analyte</th><th>Source</th><th>By</th><th>Version</th></tr></thead><tbody>");
    for r in recs.iter().filter(|r| r.kind == "level") {
        let b = &r.body;
        h.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
            if r.superseded_by.is_some() { "superseded" } else { "current" },
            num(b, "time_h", 2), esc(&b["value"].to_string()), esc(b["unit"].as_str().unwrap_or("")), num(b, "mmol_l", 2),
            esc(b["analyte"].as_str().unwrap_or("")), esc(b["source"]["kind"].as_str().unwrap_or("")), esc(&r.created_by),
            esc(&r.id), r.superseded_by.as_ref().map(|s| format!(" (replaced by {})", esc(s))).unwrap_or_default()
        ));
    }
    h + "</tbody></table>"
}

fn recommendation_html(r: &Record, s: Option<&Session>, patient: &Patient) -> String {
    let b = &r.body;
    let adj = &b["adjustment"];
    let status = b["status"].as_str().unwrap_or("");
    let mut h = format!("<div class=\"rec card status-{}\"><p class=\"rec-summary\"><span class=\"badge\">{}</span> <strong>{}</strong></p>",
        esc(status), esc(&status.to_uppercase()), esc(b["summary"].as_str().unwrap_or("")));
    if status == "accepted" {
        h.push_str(&format!(
            "<p>Accepted by {} at {}</p>",
            esc(b["accepted_by"].as_str().unwrap_or("")),
            esc(b["accepted_at"].as_str().unwrap_or(""))
        ));
    }
    let fit = &adj["fit"];
    h.push_str(&format!("<p>Model: {} — {}. Decision at {} h, horizon {} h; target {}–{} mmol/L; keep P(level &gt; {} mmol/L) ≤ {}.</p>",
        esc(fit["model_id"].as_str().unwrap_or("")), esc(fit["model_citation"].as_str().unwrap_or("")),
        num(adj, "now_h", 1), num(fit, "settings_horizon_h", 0), num(&json!({"v": adj["target_mmol_l"][0]}), "v", 2),
        num(&json!({"v": adj["target_mmol_l"][1]}), "v", 2), num(adj, "toxic_mmol_l", 2), num(fit, "max_p_toxic", 2)));
    let d = &fit["decision"]["recommended"];
    if d.is_object() {
        h.push_str(&format!("<p>Recommended rate {} g/h (bolus {} g): expected time in target {:.0} %, P(toxic) {:.1} %, median at the horizon {} mmol/L.</p>",
            num(d, "rate_g_per_h", 2), num(d, "bolus_g", 2), 100.0 * d["time_in_target"].as_f64().unwrap_or(0.0),
            100.0 * d["p_above_toxic"].as_f64().unwrap_or(0.0), num(d, "p50_end_mmol_l", 2)));
    }
    if let Some(ex) = fit["explanation"].as_array() {
        h.push_str("<details open><summary>Reasoning</summary><ul class=\"reasoning\">");
        for e in ex {
            h.push_str(&format!("<li>{}</li>", esc(e.as_str().unwrap_or(""))));
        }
        h.push_str("</ul></details>");
    }
    h.push_str(&alerts_html(&adj["alerts"]));
    if let (Some(s), "proposed", None) = (s, status, &r.superseded_by) {
        h.push_str(&format!("<form method=\"post\" action=\"/patients/{}/recommendations/{}/accept\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"expected_version\" value=\"{}\"><button id=\"accept\" type=\"submit\">Accept recommendation</button></form>",
            esc(&patient.id), esc(&r.id), esc(&s.csrf), patient.version));
    }
    h + "</div>"
}

fn brain_html(b: &Value) -> String {
    let s = &b["summary"];
    let mut h = format!("<p>CSF total Mg peak {} mmol/L (90 % interval {}–{}) at {} h; rise {:.0} % of baseline. Model: {} — {}.</p>",
        num(&s["csf_total_peak"], "value", 3), num(&s["csf_total_peak"], "lo", 3), num(&s["csf_total_peak"], "hi", 3), num(&s["csf_total_peak"], "time_h", 1),
        100.0 * s["csf_rise_fraction"].as_f64().unwrap_or(0.0), esc(&b["csf_model"]["variant"].to_string()), esc(b["csf_model"]["source"].as_str().unwrap_or("")));
    h.push_str("<table class=\"claims\"><thead><tr><th>Claim</th><th>Evidence grade</th><th>This regimen</th></tr></thead><tbody>");
    for c in b["claims"].as_array().cloned().unwrap_or_default() {
        h.push_str(&format!(
            "<tr><td>{}</td><td class=\"grade\">{}</td><td>{}</td></tr>",
            esc(c["claim"].as_str().unwrap_or("")),
            esc(c["grade"].as_str().unwrap_or("")),
            esc(c["this_run"].as_str().unwrap_or(""))
        ));
    }
    h.push_str("</tbody></table>");
    if let Some(p) = b["plain_language"].as_str() {
        h.push_str(&format!("<p class=\"muted\">{}</p>", esc(p)));
    }
    h
}

fn demographics_html(p: &Patient) -> String {
    let d = &p.details;
    let g = |k: &str| match d.get(k) {
        Some(Value::String(s)) => esc(s),
        Some(Value::Null) | None => "–".into(),
        Some(v) => esc(&v.to_string()),
    };
    format!("<table class=\"demo\"><tr><th>Name</th><td>{}</td><th>MRN</th><td>{}</td><th>Weight</th><td>{} kg</td><th>Height</th><td>{} cm</td></tr>\
        <tr><th>Age</th><td>{} y</td><th>Sex</th><td>{}</td><th>Creatinine</th><td>{} mg/dL</td><th>Baseline Mg</th><td>{}</td></tr>\
        <tr><th>Pregnant</th><td>{}</td><th>Pre-eclampsia</th><td>{}</td><th>Indication</th><td>{}</td><th>Version</th><td class=\"version\">{}</td></tr>\
        <tr><th>Conditions</th><td colspan=\"3\">{}</td><th>Medications</th><td colspan=\"3\">{}</td></tr></table>",
        g("name"), g("mrn"), g("weight_kg"), g("height_cm"), g("age_y"), g("sex"), g("creatinine_mg_dl"), g("baseline"),
        g("pregnant"), g("pre_eclampsia"), g("indication"), p.version, g("conditions"), g("medications"))
}

struct View {
    patient: Patient,
    recs: Vec<Record>,
    order: Option<Record>,
    forecast: Option<Value>,
    forecast_err: Option<String>,
    brain: Option<Value>,
}

async fn view(st: &AppState, s: &Session, id: &str) -> Result<View, ApiError> {
    let patient = st.db.patient(id, &s.user.team).await?;
    let recs = st.db.records(&patient.id).await?;
    let order = service::current_order(&recs).cloned();
    let (mut forecast, mut forecast_err, mut brain) = (None, None, None);
    if let Some(o) = &order {
        match service::forecast(&st.db, &patient).await {
            Ok(f) => forecast = Some(f),
            Err(e) => forecast_err = Some(e.message),
        }
        let (pi, body) = (service::patient_in(&patient)?, o.body.clone());
        brain = tokio::task::spawn_blocking(move || service::brain_summary(&pi, &body).ok())
            .await
            .ok()
            .flatten();
    }
    Ok(View {
        patient,
        recs,
        order,
        forecast,
        forecast_err,
        brain,
    })
}

fn order_section(v: &View) -> String {
    match &v.order {
        None => "<p>No order yet.</p>".into(),
        Some(o) => {
            let plan = &o.body["plan"];
            let mut h = format!("<p class=\"order-text\"><strong>{}</strong> for {} · started {} · entered by {} <span class=\"muted\">({})</span></p>",
                esc(o.body["regimen"].as_str().unwrap_or("")), esc(o.body["indication"].as_str().unwrap_or("")),
                esc(o.body["start"].as_str().unwrap_or("")), esc(&o.created_by), esc(&o.id));
            if let Some(r) = o.body["stop_override"].as_str() {
                h.push_str(&format!(
                    "<p class=\"stop-banner\">STOP alert overridden: {}</p>",
                    esc(r)
                ));
            }
            h.push_str("<h3>Pump settings</h3>");
            h.push_str(&pump_html(plan));
            h.push_str("<h3>Alerts</h3>");
            h.push_str(&alerts_html(&plan["alerts"]));
            h
        }
    }
}

fn forecast_section(v: &View) -> String {
    match (&v.forecast, &v.forecast_err) {
        (Some(f), _) => format!("{}<p class=\"muted\">Model: {} — {}. Green band: target {}–{} mmol/L ({}). Dashed: toxic {} mmol/L ({}), emergency {} mmol/L. Dots: measured levels.</p>",
            forecast_svg(f), esc(f["model"]["id"].as_str().unwrap_or("")), esc(f["model"]["citation"].as_str().unwrap_or("")),
            f["target_mmol_l"][0], f["target_mmol_l"][1], esc(f["target_source"].as_str().unwrap_or("")), f["toxic_mmol_l"],
            esc(f["toxic_source"].as_str().unwrap_or("")), f["emergency_mmol_l"]),
        (None, Some(e)) => format!("<p class=\"error\">{}</p>", esc(e)),
        _ => "<p>No forecast without an order.</p>".into(),
    }
}

pub async fn patient_page(
    State(st): State<AppState>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    let v = match view(&st, &s, &id).await {
        Ok(v) => v,
        Err(e) => return err_response(e, &s),
    };
    let p = &v.patient;
    let (pid, csrf, ver) = (esc(&p.id), esc(&s.csrf), p.version);
    let hidden = format!("<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"expected_version\" value=\"{ver}\">");
    let recs_html: String = service::current(&v.recs, "recommendation")
        .iter()
        .rev()
        .map(|r| recommendation_html(r, Some(&s), p))
        .collect();
    let body = format!(
        "<h1>{name}</h1><p><a href=\"/patients/{pid}/report\" id=\"report-link\">Printable report</a></p>\
         <section><h2>Patient</h2>{demo}</section>\
         <section><h2>Order</h2>{order}\
           <form method=\"post\" action=\"/patients/{pid}/orders\" class=\"card grid\" id=\"order-form\">{hidden}\
           <label>Regimen as written <input name=\"regimen\" required placeholder=\"4 g over 20 min, then 1 g/h for 24 h\"></label>\
           <label>Protocol <input name=\"protocol\" placeholder=\"zuspan\"></label><label>Indication <select name=\"indication\">{ind}</select></label>\
           <label>Bag <input name=\"bag\" placeholder=\"40 g in 1000 mL\"></label><label>Start (RFC 3339; empty: now) <input name=\"start\"></label>\
           <label>Reason to give despite a STOP alert <input name=\"override_stop_reason\"></label>{sup}<button type=\"submit\">{order_btn}</button></form></section>\
         <section><h2>Forecast</h2>{forecast}</section>\
         <section><h2>Measured levels</h2>{levels}\
           <form method=\"post\" action=\"/patients/{pid}/levels\" class=\"card grid\" id=\"level-form\">{hidden}\
           <label>Value <input name=\"value\" required inputmode=\"decimal\"></label>\
           <label>Unit <select name=\"unit\"><option>mmol/L</option><option>mg/dL</option><option>mEq/L</option></select></label>\
           <label>Time (h from the order's start, or RFC 3339) <input name=\"time\" required></label><button type=\"submit\">Add level</button></form></section>\
         <section><h2>TDM recommendation</h2>{recs}\
           <form method=\"post\" action=\"/patients/{pid}/adjust\" id=\"adjust-form\">{hidden}<button type=\"submit\">Run TDM on the current levels</button></form></section>\
         <section><h2>Brain effects (model predictions with evidence grades)</h2>{brain}</section>",
        name = esc(p.details["name"].as_str().unwrap_or("")), demo = demographics_html(p), order = order_section(&v),
        ind = indication_options(),
        sup = v.order.as_ref().map(|o| format!("<input type=\"hidden\" name=\"supersedes\" value=\"{}\">", esc(&o.id))).unwrap_or_default(),
        order_btn = if v.order.is_some() { "Replace the order" } else { "Enter order" },
        forecast = forecast_section(&v), levels = levels_html(&v.recs),
        recs = if recs_html.is_empty() { "<p>No recommendation yet.</p>".into() } else { recs_html },
        brain = v.brain.as_ref().map(brain_html).unwrap_or_else(|| "<p>No order yet.</p>".into()),
    );
    layout(
        p.details["name"].as_str().unwrap_or("Patient"),
        Some(&s),
        &body,
    )
    .into_response()
}

pub async fn report(
    State(st): State<AppState>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    let v = match view(&st, &s, &id).await {
        Ok(v) => v,
        Err(e) => return err_response(e, &s),
    };
    let p = &v.patient;
    let recs: Vec<&Record> = service::current(&v.recs, "recommendation");
    let rec_html: String = recs
        .iter()
        .rev()
        .map(|r| recommendation_html(r, None, p))
        .collect();
    let body = format!(
        "<article class=\"report\"><h1>Magnesium sulfate report — {name}</h1><p class=\"muted\">Printed {now} by {user} · patient {pid} version {ver}</p>\
         <h2>Patient</h2>{demo}<h2>Order</h2>{order}<h2>Forecast</h2>{forecast}<h2>Measured levels</h2>{levels}\
         <h2>TDM recommendation</h2>{recs}<h2>Brain effects</h2>{brain}\
         <p class=\"muted\">All predictions from mgiv {version}; models and sources named above. This report supports, and does not replace, clinical judgement.</p></article>",
        name = esc(p.details["name"].as_str().unwrap_or("")), now = esc(&crate::util::now_rfc3339()), user = esc(&s.user.username),
        pid = esc(&p.id), ver = p.version, demo = demographics_html(p), order = order_section(&v), forecast = forecast_section(&v),
        levels = levels_html(&v.recs), recs = if rec_html.is_empty() { "<p>None.</p>".into() } else { rec_html },
        brain = v.brain.as_ref().map(brain_html).unwrap_or_default(), version = env!("CARGO_PKG_VERSION"),
    );
    layout("Report", Some(&s), &body).into_response()
}

// ------------------------------------------------------------------ forms that change things

fn expected(f: &HashMap<String, String>) -> Option<i64> {
    f.get("expected_version")
        .and_then(|v| v.trim().parse().ok())
}

fn back(pid: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, format!("/patients/{pid}"))],
    )
        .into_response()
}

pub async fn order_form(
    State(st): State<AppState>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let r = async {
        let p = st.db.patient(&id, &s.user.team).await?;
        let o = OrderIn {
            regimen: form_str(&f, "regimen").unwrap_or_default(),
            indication: form_str(&f, "indication"),
            protocol: form_str(&f, "protocol"),
            bag: form_str(&f, "bag"),
            start: form_str(&f, "start"),
            override_stop_reason: form_str(&f, "override_stop_reason"),
            supersedes: form_str(&f, "supersedes"),
            expected_version: expected(&f),
        };
        service::order(&st.db, &s.user, &p, o).await
    }
    .await;
    match r {
        Ok(_) => back(&id),
        Err(e) => err_response(e, &s),
    }
}

pub async fn level_form(
    State(st): State<AppState>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let r = async {
        let p = st.db.patient(&id, &s.user.team).await?;
        let value = form_num(&f, "value")?
            .ok_or_else(|| crate::db::invalid("value", "empty", "a number"))?;
        let time = form_str(&f, "time")
            .ok_or_else(|| crate::db::invalid("time", "empty", "hours or a date-time"))?;
        let l = LevelIn {
            value,
            unit: form_str(&f, "unit").unwrap_or_default(),
            time: json!(time),
            supersedes: form_str(&f, "supersedes"),
            expected_version: expected(&f),
        };
        service::add_level(&st.db, &s.user, &p, l).await
    }
    .await;
    match r {
        Ok(_) => back(&id),
        Err(e) => err_response(e, &s),
    }
}

pub async fn adjust_form(
    State(st): State<AppState>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let r = async {
        let p = st.db.patient(&id, &s.user.team).await?;
        service::adjust(
            &st.db,
            &s.user,
            &p,
            AdjustIn {
                expected_version: expected(&f),
                ..Default::default()
            },
        )
        .await
    }
    .await;
    match r {
        Ok(_) => back(&id),
        Err(e) => err_response(e, &s),
    }
}

pub async fn accept_form(
    State(st): State<AppState>,
    Extension(s): Extension<Session>,
    Path((id, rid)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let r = async {
        let p = st.db.patient(&id, &s.user.team).await?;
        service::accept(
            &st.db,
            &s.user,
            &p,
            &rid,
            AcceptIn {
                expected_version: expected(&f),
                note: form_str(&f, "note"),
            },
        )
        .await
    }
    .await;
    match r {
        Ok(_) => back(&id),
        Err(e) => err_response(e, &s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_form_refuses_another_origin() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
    }

    #[test]
    fn forecast_svg_places_band_lines_and_levels() {
        let f = serde_json::json!({"points": [{"time_h": 0.0, "serum_mmol_l": 0.8}, {"time_h": 24.0, "serum_mmol_l": 2.0}],
            "levels": [{"time_h": 4.0, "mmol_l": 1.9, "analyte": "total"}, {"time_h": 5.0, "mmol_l": 0.9, "analyte": "ionised"}],
            "target_mmol_l": [2.0, 3.5], "toxic_mmol_l": 3.5, "emergency_mmol_l": 5.0});
        let s = forecast_svg(&f);
        assert_eq!(s.matches("<circle class=\"level\"").count(), 2);
        assert!(s.contains("toxic 3.5 mmol/L") && s.contains("target 2–3.5 mmol/L"));
        // the emergency line (5 mmol/L) is above the plotted range: not drawn
        assert!(!s.contains("emergency"));
        // y axis: 0 at the bottom (h - b = 316), ymax = 3.5 * 1.12 = 3.92; 3.5 mmol/L at 316 - 296 * 3.5 / 3.92 = 51.7
        assert!(s.contains("y1=\"51.7\""), "{s}");
    }
}
