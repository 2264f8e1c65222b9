//! SBML Level 3 Version 2 (core) of one individual's magnesium model with its dosing as events,
//! for simulators such as libroadrunner or COPASI.
//!
//! - Compartments `central` (V1) and `peripheral` (V2) hold total Mg (species `Mg_central`,
//!   `Mg_peripheral`, concentrations in mmol/L, both starting at the baseline); an IM dose enters
//!   `Mg_depot` (an amount, in a 1 L `depot` compartment) absorbed at ka with bioavailability F.
//! - The endogenous baseline is a zero-order input CL·baseline into the central compartment, so
//!   the undosed model stays at the baseline: the same curve as mgiv's "baseline + superposed
//!   doses" (linear models).
//! - Reactions: `endogenous_input` (CL·B), `elimination` (CL·C1), `distribution` (Q·(C1 − C2)),
//!   `infusion` (the parameter `infusion_rate_mmol_h`), `absorption` (ka·A_depot).
//! - Doses: one event per distinct dose time (boluses raise C1 by D/V1 or the depot by F·D;
//!   infusions change `infusion_rate_mmol_h` at their start and end); what happens at time 0 is
//!   in the initial values. `serum_mmol_l` (assignment rule) is C1, the total serum level.
//!
//! Units: time h, amounts mmol, volumes L. Nonlinear (renal-threshold) models are refused.

use mgiv_core::model::{IndividualParams, Peripheral};
use mgiv_core::regimen::{DoseEvent, Route};
use mgiv_core::solver::modal::{Kind, Schedule};
use mgiv_core::MgivError;

fn num(v: f64) -> String {
    // shortest decimal that reads back exactly (Display never uses an exponent)
    format!("{v}")
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The SBML document.
pub fn sbml(
    model_id: &str,
    model_name: &str,
    p: &IndividualParams,
    events: &[DoseEvent],
) -> Result<String, MgivError> {
    let ok = |v: f64| v.is_finite() && v > 0.0;
    if !(ok(p.cl_l_h) && ok(p.v1_l) && p.baseline_mmol_l.is_finite() && p.baseline_mmol_l >= 0.0) {
        return Err(mgiv_core::error::invalid(
            "parameters",
            format!(
                "CL {} L/h, V1 {} L, baseline {} mmol/L",
                p.cl_l_h, p.v1_l, p.baseline_mmol_l
            ),
            "CL > 0, V1 > 0, baseline >= 0",
        ));
    }
    let peripheral = p.peripheral;
    if let Some(pp) = peripheral.filter(|pp| !(ok(pp.q_l_h) && ok(pp.v2_l))) {
        return Err(mgiv_core::error::invalid(
            "parameters",
            format!("Q {} L/h, V2 {} L", pp.q_l_h, pp.v2_l),
            "Q > 0, V2 > 0 for a two-compartment model",
        ));
    }
    let has_im = events.iter().any(|e| {
        matches!(
            e,
            DoseEvent::Bolus {
                route: Route::Im,
                ..
            }
        )
    });
    let ka = p.ka_h.unwrap_or(0.0);
    let f_im = p.f_im.unwrap_or(1.0);
    if has_im && !ok(ka) {
        return Err(mgiv_core::error::invalid(
            "model",
            model_id,
            "a model with IM absorption (ka) for a regimen with IM doses",
        ));
    }
    let changes = net_changes(events)?;
    let (mut rate0, mut c1_0, mut depot0) = (0.0, p.baseline_mmol_l, 0.0);
    if let Some(c) = changes.first().filter(|c| c.0 == 0.0) {
        rate0 = c.1;
        c1_0 += c.2 / p.v1_l;
        depot0 = f_im * c.3;
    }
    let mut s = header(model_id, model_name);
    compartments_and_species(&mut s, p, peripheral, has_im, c1_0, depot0);
    parameters(&mut s, p, peripheral, has_im, (ka, f_im), rate0, c1_0);
    reactions(&mut s, peripheral.is_some(), has_im);
    dose_events(&mut s, &changes);
    s.push_str("  </model>\n</sbml>\n");
    Ok(s)
}

/// Net changes at each distinct time, sorted: (time h, Δ infusion rate mmol/h, IV bolus mmol,
/// IM mmol); a negative or non-finite time is refused.
fn net_changes(events: &[DoseEvent]) -> Result<Vec<(f64, f64, f64, f64)>, MgivError> {
    // core's schedule: the events' breakpoints in time order (at equal times, in event order)
    let mut changes: Vec<(f64, f64, f64, f64)> = Vec::new();
    for bp in Schedule::new(events).points() {
        let (dr, iv, im) = match bp.kind {
            Kind::IvBolus(a) => (0.0, a, 0.0),
            Kind::ImDose(a) => (0.0, 0.0, a),
            Kind::RateOn(r) => (r, 0.0, 0.0),
            Kind::RateOff(r) => (-r, 0.0, 0.0),
        };
        match changes.iter_mut().find(|c| c.0 == bp.t_h) {
            Some(c) => {
                c.1 += dr;
                c.2 += iv;
                c.3 += im;
            }
            None => changes.push((bp.t_h, dr, iv, im)),
        }
    }
    changes.sort_by(|a, b| a.0.total_cmp(&b.0));
    if let Some(c) = changes.iter().find(|c| !(c.0.is_finite() && c.0 >= 0.0)) {
        return Err(mgiv_core::error::invalid(
            "dose time",
            c.0,
            "finite and >= 0 h",
        ));
    }
    Ok(changes)
}

/// The XML declaration, the `<model>` element, notes and unit definitions.
fn header(model_id: &str, model_name: &str) -> String {
    let mut s = String::new();
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str("<sbml xmlns=\"http://www.sbml.org/sbml/level3/version2/core\" level=\"3\" version=\"2\">\n");
    let sid: String = model_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    s.push_str(&format!(
        "  <model id=\"mgiv_{sid}\" name=\"{}\" substanceUnits=\"mmol\" timeUnits=\"hour\" volumeUnits=\"litre\" extentUnits=\"mmol\">\n",
        xml_escape(model_name)
    ));
    s.push_str("    <notes><body xmlns=\"http://www.w3.org/1999/xhtml\"><p>Exported by mgiv (mgiv export --format sbml): one individual's total serum magnesium model with its regimen as events. Time h, amounts mmol, volumes L; serum_mmol_l is the total serum level.</p></body></notes>\n");
    s.push_str(
        r#"    <listOfUnitDefinitions>
      <unitDefinition id="hour"><listOfUnits><unit kind="second" exponent="1" scale="0" multiplier="3600"/></listOfUnits></unitDefinition>
      <unitDefinition id="mmol"><listOfUnits><unit kind="mole" exponent="1" scale="-3" multiplier="1"/></listOfUnits></unitDefinition>
      <unitDefinition id="per_hour"><listOfUnits><unit kind="second" exponent="-1" scale="0" multiplier="3600"/></listOfUnits></unitDefinition>
      <unitDefinition id="litre_per_hour"><listOfUnits><unit kind="litre" exponent="1" scale="0" multiplier="1"/><unit kind="second" exponent="-1" scale="0" multiplier="3600"/></listOfUnits></unitDefinition>
      <unitDefinition id="mmol_per_hour"><listOfUnits><unit kind="mole" exponent="1" scale="-3" multiplier="1"/><unit kind="second" exponent="-1" scale="0" multiplier="3600"/></listOfUnits></unitDefinition>
      <unitDefinition id="mmol_per_litre"><listOfUnits><unit kind="mole" exponent="1" scale="-3" multiplier="1"/><unit kind="litre" exponent="-1" scale="0" multiplier="1"/></listOfUnits></unitDefinition>
    </listOfUnitDefinitions>
"#,
    );
    s
}

/// Compartments (central, peripheral, depot) and their species with initial values.
fn compartments_and_species(
    s: &mut String,
    p: &IndividualParams,
    peripheral: Option<Peripheral>,
    has_im: bool,
    c1_0: f64,
    depot0: f64,
) {
    s.push_str("    <listOfCompartments>\n");
    s.push_str(&format!(
        "      <compartment id=\"central\" spatialDimensions=\"3\" size=\"{}\" units=\"litre\" constant=\"true\"/>\n",
        num(p.v1_l)
    ));
    if let Some(pp) = peripheral {
        s.push_str(&format!(
            "      <compartment id=\"peripheral\" spatialDimensions=\"3\" size=\"{}\" units=\"litre\" constant=\"true\"/>\n",
            num(pp.v2_l)
        ));
    }
    if has_im {
        s.push_str("      <compartment id=\"depot\" spatialDimensions=\"3\" size=\"1\" units=\"litre\" constant=\"true\"/>\n");
    }
    s.push_str("    </listOfCompartments>\n    <listOfSpecies>\n");
    s.push_str(&format!(
        "      <species id=\"Mg_central\" compartment=\"central\" initialConcentration=\"{}\" substanceUnits=\"mmol\" hasOnlySubstanceUnits=\"false\" boundaryCondition=\"false\" constant=\"false\"/>\n",
        num(c1_0)
    ));
    if peripheral.is_some() {
        s.push_str(&format!(
            "      <species id=\"Mg_peripheral\" compartment=\"peripheral\" initialConcentration=\"{}\" substanceUnits=\"mmol\" hasOnlySubstanceUnits=\"false\" boundaryCondition=\"false\" constant=\"false\"/>\n",
            num(p.baseline_mmol_l)
        ));
    }
    if has_im {
        s.push_str(&format!(
            "      <species id=\"Mg_depot\" compartment=\"depot\" initialAmount=\"{}\" substanceUnits=\"mmol\" hasOnlySubstanceUnits=\"true\" boundaryCondition=\"false\" constant=\"false\"/>\n",
            num(depot0)
        ));
    }
}

/// Parameters: CL, Q, baseline, ka and F (IM), the infusion rate and the serum level.
fn parameters(
    s: &mut String,
    p: &IndividualParams,
    peripheral: Option<Peripheral>,
    has_im: bool,
    (ka, f_im): (f64, f64),
    rate0: f64,
    c1_0: f64,
) {
    s.push_str("    </listOfSpecies>\n    <listOfParameters>\n");
    let par = |s: &mut String, id: &str, v: f64, units: &str, constant: bool| {
        s.push_str(&format!(
            "      <parameter id=\"{id}\" value=\"{}\" units=\"{units}\" constant=\"{constant}\"/>\n",
            num(v)
        ));
    };
    par(s, "CL_L_h", p.cl_l_h, "litre_per_hour", true);
    if let Some(pp) = peripheral {
        par(s, "Q_L_h", pp.q_l_h, "litre_per_hour", true);
    }
    par(
        s,
        "baseline_mmol_l",
        p.baseline_mmol_l,
        "mmol_per_litre",
        true,
    );
    if has_im {
        par(s, "ka_h", ka, "per_hour", true);
        par(s, "F_im", f_im, "dimensionless", true);
    }
    par(s, "infusion_rate_mmol_h", rate0, "mmol_per_hour", false);
    par(s, "serum_mmol_l", c1_0, "mmol_per_litre", false);
    s.push_str("    </listOfParameters>\n");
    s.push_str("    <listOfRules>\n      <assignmentRule variable=\"serum_mmol_l\"><math xmlns=\"http://www.w3.org/1998/Math/MathML\"><ci> Mg_central </ci></math></assignmentRule>\n    </listOfRules>\n");
}

/// Reactions: endogenous input, elimination, distribution, infusion, absorption.
fn reactions(s: &mut String, two: bool, has_im: bool) {
    s.push_str("    <listOfReactions>\n");
    let reaction = |s: &mut String,
                    id: &str,
                    reactant: Option<&str>,
                    product: Option<&str>,
                    modifiers: &[&str],
                    reversible: bool,
                    math: &str| {
        s.push_str(&format!(
            "      <reaction id=\"{id}\" reversible=\"{reversible}\">\n"
        ));
        if let Some(r) = reactant {
            s.push_str(&format!("        <listOfReactants><speciesReference species=\"{r}\" stoichiometry=\"1\" constant=\"true\"/></listOfReactants>\n"));
        }
        if let Some(pr) = product {
            s.push_str(&format!("        <listOfProducts><speciesReference species=\"{pr}\" stoichiometry=\"1\" constant=\"true\"/></listOfProducts>\n"));
        }
        if !modifiers.is_empty() {
            s.push_str("        <listOfModifiers>");
            for m in modifiers {
                s.push_str(&format!("<modifierSpeciesReference species=\"{m}\"/>"));
            }
            s.push_str("</listOfModifiers>\n");
        }
        s.push_str(&format!("        <kineticLaw><math xmlns=\"http://www.w3.org/1998/Math/MathML\">{math}</math></kineticLaw>\n      </reaction>\n"));
    };
    reaction(
        s,
        "endogenous_input",
        None,
        Some("Mg_central"),
        &[],
        false,
        "<apply><times/><ci> CL_L_h </ci><ci> baseline_mmol_l </ci></apply>",
    );
    reaction(
        s,
        "elimination",
        Some("Mg_central"),
        None,
        &[],
        false,
        "<apply><times/><ci> CL_L_h </ci><ci> Mg_central </ci></apply>",
    );
    if two {
        reaction(
            s,
            "distribution",
            Some("Mg_central"),
            Some("Mg_peripheral"),
            &[],
            true,
            "<apply><times/><ci> Q_L_h </ci><apply><minus/><ci> Mg_central </ci><ci> Mg_peripheral </ci></apply></apply>",
        );
    }
    reaction(
        s,
        "infusion",
        None,
        Some("Mg_central"),
        &[],
        false,
        "<ci> infusion_rate_mmol_h </ci>",
    );
    if has_im {
        reaction(
            s,
            "absorption",
            Some("Mg_depot"),
            Some("Mg_central"),
            &[],
            false,
            "<apply><times/><ci> ka_h </ci><ci> Mg_depot </ci></apply>",
        );
    }
    s.push_str("    </listOfReactions>\n");
}

/// One SBML event per later dosing time (the changes at time 0 are initial values).
fn dose_events(s: &mut String, changes: &[(f64, f64, f64, f64)]) {
    let later: Vec<_> = changes.iter().filter(|c| c.0 > 0.0).collect();
    if !later.is_empty() {
        s.push_str("    <listOfEvents>\n");
        for (i, (t, dr, iv, im)) in later.iter().enumerate() {
            s.push_str(&format!(
                "      <event id=\"dose_{}\" name=\"doses at {} h\" useValuesFromTriggerTime=\"true\">\n        <trigger initialValue=\"false\" persistent=\"true\"><math xmlns=\"http://www.w3.org/1998/Math/MathML\"><apply><geq/><csymbol encoding=\"text\" definitionURL=\"http://www.sbml.org/sbml/symbols/time\"> time </csymbol><cn> {} </cn></apply></math></trigger>\n        <listOfEventAssignments>\n",
                i + 1,
                num(*t),
                num(*t)
            ));
            if *dr != 0.0 {
                s.push_str(&format!("          <eventAssignment variable=\"infusion_rate_mmol_h\"><math xmlns=\"http://www.w3.org/1998/Math/MathML\"><apply><plus/><ci> infusion_rate_mmol_h </ci><cn> {} </cn></apply></math></eventAssignment>\n", num(*dr)));
            }
            if *iv != 0.0 {
                s.push_str(&format!("          <eventAssignment variable=\"Mg_central\"><math xmlns=\"http://www.w3.org/1998/Math/MathML\"><apply><plus/><ci> Mg_central </ci><apply><divide/><cn> {} </cn><ci> central </ci></apply></apply></math></eventAssignment>\n", num(*iv)));
            }
            if *im != 0.0 {
                s.push_str(&format!("          <eventAssignment variable=\"Mg_depot\"><math xmlns=\"http://www.w3.org/1998/Math/MathML\"><apply><plus/><ci> Mg_depot </ci><apply><times/><ci> F_im </ci><cn> {} </cn></apply></apply></math></eventAssignment>\n", num(*im)));
            }
            s.push_str("        </listOfEventAssignments>\n      </event>\n");
        }
        s.push_str("    </listOfEvents>\n");
    }
}
