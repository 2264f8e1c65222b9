//! A NONMEM control stream for an estimation model: the same structure, parameterisation,
//! initial estimates and bounds, FOCE-I ($ESTIMATION METHOD=1 INTERACTION) and a $COVARIANCE step,
//! so a pharmacometrician can run the fit in NONMEM on the same NONMEM-format dataset
//! (`write_nonmem` of mgiv-data, units declared in its header). Amounts are in mmol, volumes in
//! L, concentrations in mmol/L. Residual SDs are θs with $SIGMA 1 FIX, so they read as in mgiv.

use crate::spec::{BaselineMode, Effect, ErrorModel, EstimationModel, RelationForm, BASE, PARAMS};
use mgiv_core::model::ResidualScale;

const NM: [&str; 5] = ["CL", "V1", "Q", "V2", "BASE"];

fn bound(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else if v < 0.0 {
        "-INF".into()
    } else {
        "INF".into()
    }
}

/// The control stream text; `data_file` is named in $DATA.
pub fn control_stream(m: &EstimationModel, data_file: &str) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "$PROBLEM {} (exported by mgiv from model {})\n",
        m.name, m.id
    ));
    s.push_str(&format!("; source: {}\n", m.source));
    s.push_str(&format!("$INPUT {}\n", input_columns(m).join(" ")));
    s.push_str(&format!(
        "$DATA {data_file} IGNORE=@ ; skips the header; delete mgiv's '# DV_UNIT=...' lines or start them with @\n"
    ));
    s.push_str(if m.two_cmt {
        "$SUBROUTINES ADVAN3 TRANS4\n"
    } else {
        "$SUBROUTINES ADVAN1 TRANS2\n"
    });
    s.push_str(&pk_block(m));
    let (prop, add) = residual_thetas(m);
    s.push_str(&error_block(m, prop, add));
    s.push_str(&theta_block(m, prop, add));
    s.push_str(&omega_block(m));
    if !m.iov_params.is_empty() {
        let names: Vec<String> = m
            .iov_params
            .iter()
            .zip(&m.iov_init)
            .map(|(&i, w)| format!("{} (ω² {w})", NM[i]))
            .collect();
        s.push_str(&format!(
            "; NOT WRITTEN: [estimation.iov] on {}: add one $OMEGA BLOCK(1) (then BLOCK(1) SAME) per occasion and IF(OCC.EQ.n) KAPPA = ETA(..) in $PK\n",
            names.join(", ")
        ));
    }
    s.push_str("$SIGMA 1 FIX\n");
    s.push_str("$ESTIMATION METHOD=1 INTERACTION MAXEVAL=9999 PRINT=5 NOABORT\n");
    s.push_str("$COVARIANCE\n");
    s.push_str("$TABLE ID TIME DV PRED IPRED CWRES NPDE NOPRINT ONEHEADER FILE=sdtab\n");
    s
}

/// $INPUT: mgiv's NONMEM columns, the covariate columns, BSL for a per-subject baseline.
fn input_columns(m: &EstimationModel) -> Vec<String> {
    let mut cols = vec![
        "ID", "TIME", "EVID", "MDV", "CMT", "AMT", "RATE", "ADDL", "II", "SS", "DV", "CENS",
        "LLOQ", "OCC",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    for r in &m.relations {
        if !cols.contains(&r.column) {
            cols.push(r.column.clone());
        }
    }
    if m.baseline == BaselineMode::PerSubject {
        cols.push("BSL".into());
    }
    cols
}

/// $PK: typical values with their covariate factors, individual values with their η.
fn pk_block(m: &EstimationModel) -> String {
    let mut s = String::from("$PK\n");
    // θ numbering: the model's thetas in order, then the residual SDs
    let theta_no = |i: usize| i + 1;
    for (p, name) in NM.iter().enumerate() {
        let Some(ti) = m.param_theta[p] else { continue };
        let mut expr = format!("THETA({})", theta_no(ti));
        for r in m.relations.iter().filter(|r| r.param == p) {
            let e = match r.effect {
                Effect::Theta(k) => format!("THETA({})", theta_no(k)),
                Effect::Fixed(v) => format!("{v}"),
            };
            expr.push_str(&match r.form {
                RelationForm::Power => format!(" * ({}/{})**{e}", r.column, r.reference),
                RelationForm::Linear => format!(" * (1 + {e}*({}/{} - 1))", r.column, r.reference),
            });
        }
        if p == BASE && m.baseline == BaselineMode::PerSubject {
            s.push_str(&format!("  TV{name} = {expr}\n  IF (BSL.GT.0) TV{name} = BSL ; mean pre-dose DV of the subject (mmol/L)\n"));
        } else {
            s.push_str(&format!("  TV{name} = {expr}\n"));
        }
        match m.eta_params.iter().position(|&q| q == p) {
            Some(k) => s.push_str(&format!("  {name} = TV{name} * EXP(ETA({}))\n", k + 1)),
            None => s.push_str(&format!("  {name} = TV{name}\n")),
        }
    }
    if m.two_cmt {
        s.push_str("  S1 = V1\n");
    } else {
        s.push_str("  V = V1\n  S1 = V1\n");
    }
    s
}

/// The θ numbers of the proportional and additive residual SDs (after the model's θ).
fn residual_thetas(m: &EstimationModel) -> (Option<usize>, Option<usize>) {
    let nt = m.thetas.len();
    match m.error_model {
        ErrorModel::Additive => (None, Some(nt + 1)),
        ErrorModel::Proportional => (Some(nt + 1), None),
        ErrorModel::Combined => (Some(nt + 1), Some(nt + 2)),
    }
}

/// $ERROR: IPRED above the baseline, the residual SD W as θ, Y = IPRED + W·EPS(1).
fn error_block(m: &EstimationModel, prop: Option<usize>, add: Option<usize>) -> String {
    let mut s = String::from("$ERROR\n  IPRED = F + BASE  ; mmol/L: amount (mmol) / V1 (L) above the endogenous baseline\n");
    s.push_str(match m.residual_on {
        ResidualScale::Total => "  X = IPRED\n",
        ResidualScale::ChangeFromBaseline => {
            "  X = IPRED - BASE  ; residual error on the change from baseline\n"
        }
    });
    let w = match (prop, add) {
        (Some(p), Some(a)) => format!("SQRT((THETA({p})*X)**2 + THETA({a})**2)"),
        (Some(p), None) => format!("THETA({p})*ABS(X)"),
        (None, Some(a)) => format!("THETA({a})"),
        (None, None) => "1".into(),
    };
    s.push_str(&format!("  W = {w}\n  IF (W.LT.1E-12) W = 1E-12\n  Y = IPRED + W*EPS(1)\n  IRES = DV - IPRED\n  IWRES = IRES / W\n"));
    s
}

/// $THETA: the model's θ with bounds, then the residual SDs.
fn theta_block(m: &EstimationModel, prop: Option<usize>, add: Option<usize>) -> String {
    let mut s = String::from("$THETA\n");
    for t in &m.thetas {
        let fix = if t.fixed { " FIX" } else { "" };
        s.push_str(&format!(
            "  ({}, {}, {}){fix}  ; {}\n",
            bound(t.lower),
            t.init,
            bound(t.upper),
            t.name
        ));
    }
    if prop.is_some() {
        s.push_str(&format!(
            "  (0, {})  ; proportional residual SD\n",
            m.sigma_prop_init
        ));
    }
    if add.is_some() {
        s.push_str(&format!(
            "  (0, {})  ; additive residual SD (mmol/L)\n",
            m.sigma_add_init
        ));
    }
    s
}

/// $OMEGA: diagonal, or BLOCK(k) with the lower triangle; nothing without η.
fn omega_block(m: &EstimationModel) -> String {
    let mut s = String::new();
    let k = m.n_eta();
    if k == 0 {
        return s;
    }
    if m.omega_block {
        s.push_str(&format!("$OMEGA BLOCK({k})\n"));
        for i in 0..k {
            let row: Vec<String> = (0..=i)
                .map(|j| format!("{}", m.omega_init[i * k + j]))
                .collect();
            s.push_str(&format!(
                "  {}  ; {}\n",
                row.join(" "),
                PARAMS[m.eta_params[i]]
            ));
        }
    } else {
        s.push_str("$OMEGA\n");
        for i in 0..k {
            s.push_str(&format!(
                "  {}  ; {}\n",
                m.omega_init[i * k + i],
                PARAMS[m.eta_params[i]]
            ));
        }
    }
    s
}
