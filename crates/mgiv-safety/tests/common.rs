#![allow(dead_code)]
use mgiv_core::patient::{Creatinine, PatientInput, Sex};
use mgiv_safety::bag::parse_bag;
use mgiv_safety::names::{parse_conditions, parse_medications};
use mgiv_safety::plan::{plan, Plan, PlanInput};
use mgiv_safety::protocol::find_protocol;

pub fn pe() -> PatientInput {
    PatientInput {
        weight_kg: Some(70.0),
        creatinine: Some(Creatinine::MgPerDl(0.8)),
        pregnant: true,
        pre_eclampsia: true,
        ..Default::default()
    }
}

pub fn adult() -> PatientInput {
    PatientInput {
        weight_kg: Some(70.0),
        age_y: Some(50.0),
        sex: Some(Sex::Male),
        creatinine: Some(Creatinine::MgPerDl(0.9)),
        ..Default::default()
    }
}

/// A plan request in the CLI's terms.
#[derive(Default)]
pub struct Req<'a> {
    pub protocol: Option<&'a str>,
    pub regimen: Option<&'a str>,
    pub conditions: &'a str,
    pub medications: &'a str,
    pub bag: Option<&'a str>,
}

pub fn run(req: Req, patient: PatientInput) -> Plan {
    let input = PlanInput {
        protocol: req.protocol.map(|p| find_protocol(p).unwrap()),
        regimen_text: req.regimen.map(String::from),
        patient,
        conditions: parse_conditions(req.conditions).unwrap(),
        medications: parse_medications(req.medications).unwrap(),
        bag: req.bag.map(|b| parse_bag(b).unwrap()),
        ..Default::default()
    };
    plan(&input).unwrap()
}

pub fn proto(id: &str, patient: PatientInput) -> Plan {
    run(
        Req {
            protocol: Some(id),
            ..Default::default()
        },
        patient,
    )
}

pub fn text(regimen: &str, patient: PatientInput) -> Plan {
    run(
        Req {
            regimen: Some(regimen),
            ..Default::default()
        },
        patient,
    )
}

pub fn codes(p: &Plan) -> Vec<String> {
    p.alerts.iter().map(|a| a.code.clone()).collect()
}

pub fn has(p: &Plan, code: &str) -> bool {
    p.alerts.iter().any(|a| a.code == code)
}
