//! Every bad-data class gives its coded diagnostic, on the right row and column.

use mgiv_data::{read, Diagnostic, ReadOptions, Severity};

const UNITS: &str = "# DV_UNIT=mmol/L\n# AMT_UNIT=g\n";

fn diags(body: &str) -> (bool, Vec<Diagnostic>) {
    let (ds, d) = read(&format!("{UNITS}{body}"), &ReadOptions::default());
    (ds.is_some(), d)
}

/// The dataset is refused and `code` is reported (on `row` and `col` where given).
fn expect(body: &str, code: &str, row: Option<usize>, col: Option<&str>) {
    let (ok, d) = diags(body);
    let hit = d.iter().find(|x| x.code == code).unwrap_or_else(|| {
        panic!("no {code} in {d:#?}");
    });
    if code.starts_with("E-") {
        assert!(!ok, "{code} should refuse the dataset");
        assert_eq!(hit.severity, Severity::Error);
    }
    assert_eq!(hit.row, row, "{hit}");
    assert_eq!(hit.column.as_deref(), col, "{hit}");
    assert!(!hit.expected.is_empty() || code.starts_with("I-"), "{hit}");
}

// line numbers: 1-2 are the unit declarations, 3 the header, data from 4
const HEAD: &str = "ID,TIME,EVID,MDV,AMT,RATE,ADDL,II,SS,DV\n";

#[test]
fn a_clean_dataset_has_no_errors_or_warnings() {
    let (ok, d) = diags(&format!(
        "{HEAD}1,0,0,0,.,0,0,0,0,0.8\n1,0,1,1,4,0,0,0,0,.\n1,2,0,0,.,0,0,0,0,1.6\n"
    ));
    assert!(ok);
    assert!(d.iter().all(|x| x.severity == Severity::Info), "{d:#?}");
    assert!(d
        .iter()
        .any(|x| x.code == "I-SUMMARY"
            && x.message.contains("1 individuals, 2 observations, 1 dose")));
}

#[test]
fn non_monotone_time_within_an_id() {
    expect(
        &format!("{HEAD}1,0,1,1,4,0,0,0,0,.\n1,5,0,0,.,0,0,0,0,1.2\n1,3,0,0,.,0,0,0,0,1.1\n"),
        "E-TIME-ORDER",
        Some(6),
        Some("TIME"),
    );
}

#[test]
fn dose_without_amt() {
    expect(
        &format!("{HEAD}1,0,1,1,.,0,0,0,0,.\n1,2,0,0,.,0,0,0,0,1.1\n"),
        "E-DOSE-AMT",
        Some(4),
        Some("AMT"),
    );
}

#[test]
fn negative_amount_and_negative_concentration() {
    expect(
        &format!("{HEAD}1,0,1,1,-4,0,0,0,0,.\n"),
        "E-AMT-NEGATIVE",
        Some(4),
        Some("AMT"),
    );
    expect(
        &format!("{HEAD}1,0,1,1,4,0,0,0,0,.\n1,2,0,0,.,0,0,0,0,-0.2\n"),
        "E-DV-NEGATIVE",
        Some(5),
        Some("DV"),
    );
}

#[test]
fn duplicated_rows() {
    expect(
        &format!("{HEAD}1,0,1,1,4,0,0,0,0,.\n1,2,0,0,.,0,0,0,0,1.1\n1,2,0,0,.,0,0,0,0,1.1\n"),
        "E-DUPLICATE-ROW",
        Some(6),
        None,
    );
    // an ignored text column (a comment) does not make two records different: what is read,
    // and written back by write_nonmem, is the same (found by the nonmem_dataset fuzz target)
    expect(
        "ID,TIME,EVID,MDV,AMT,DV,NOTE\n1,0,1,1,4,.,load\n1,2,0,0,.,1.1,first\n1,2,0,0,.,1.1,repeat\n",
        "E-DUPLICATE-ROW",
        Some(6),
        None,
    );
    // rows that differ only in a value their kind of record does not use (RATE on a sample) are
    // one record once read: a duplicate too (also found by the fuzz target)
    expect(
        "ID,TIME,EVID,MDV,AMT,RATE,DV\n1,0,1,1,4,0,.\n1,2,0,0,.,-2,1.1\n1,2,0,0,.,-1,1.1\n",
        "E-DUPLICATE-ROW",
        Some(6),
        None,
    );
    // a numeric column (a covariate) makes two records different
    let (ok, _) =
        diags("ID,TIME,EVID,MDV,AMT,DV,WT\n1,0,1,1,4,.,70\n1,2,0,0,.,1.1,70\n1,2,0,0,.,1.1,71\n");
    assert!(ok);
}

#[test]
fn unknown_and_missing_units() {
    let (ds, d) = read(
        &format!("# DV_UNIT=mg/L\n# AMT_UNIT=g\n{HEAD}1,0,0,0,.,0,0,0,0,19\n"),
        &ReadOptions::default(),
    );
    assert!(ds.is_none());
    let e = d.iter().find(|x| x.code == "E-UNIT-UNKNOWN").unwrap();
    assert_eq!((e.row, e.column.as_deref()), (Some(1), Some("DV")));
    assert!(e.message.contains("mg/L") && e.expected.contains("mmol/L"));
    let (ds, d) = read(
        &format!("{HEAD}1,0,1,1,4,0,0,0,0,.\n1,2,0,0,.,0,0,0,0,1.1\n"),
        &ReadOptions::default(),
    );
    assert!(ds.is_none());
    let codes: Vec<_> = d
        .iter()
        .filter(|x| x.code == "E-UNIT-MISSING")
        .map(|x| x.column.clone().unwrap())
        .collect();
    assert_eq!(codes, vec!["AMT".to_string(), "DV".to_string()]);
    // an option overrides a missing declaration
    let (ds, _) = read(
        &format!("{HEAD}1,0,1,1,4,0,0,0,0,.\n1,2,0,0,.,0,0,0,0,2.4\n"),
        &ReadOptions {
            dv_unit: Some("mg/dL".into()),
            amt_unit: Some("g MgCl2".into()),
            ..Default::default()
        },
    );
    let ds = ds.unwrap();
    let r = &ds.subjects[0].records;
    assert!((r[0].dose.unwrap().amount.mmol() - 4000.0 / 203.30).abs() < 1e-9);
}

#[test]
fn evid_mdv_contradictions_and_bad_evid() {
    expect(
        &format!("{HEAD}1,0,1,0,4,0,0,0,0,.\n"),
        "E-EVID-MDV",
        Some(4),
        Some("MDV"),
    );
    expect(
        &format!("{HEAD}1,0,5,1,4,0,0,0,0,.\n"),
        "E-EVID",
        Some(4),
        Some("EVID"),
    );
    expect(
        &format!("{HEAD}1,0,1,1,4,0,0,0,0,.\n1,2,0,0,.,0,0,0,0,.\n"),
        "E-DV-MISSING",
        Some(5),
        Some("DV"),
    );
}

#[test]
fn addl_ii_and_ss_rules() {
    expect(
        &format!("{HEAD}1,0,1,1,4,0,0,12,0,.\n"),
        "E-ADDL-II",
        Some(4),
        Some("ADDL"),
    );
    expect(
        &format!("{HEAD}1,0,1,1,4,0,3,0,0,.\n"),
        "E-ADDL-II",
        Some(4),
        Some("II"),
    );
    expect(
        &format!("{HEAD}1,0,1,1,4,0,0,0,1,.\n"),
        "E-SS",
        Some(4),
        Some("II"),
    );
    expect(
        &format!("{HEAD}1,0,1,1,4,0,0,12,4,.\n"),
        "E-SS",
        Some(4),
        Some("SS"),
    );
    // an ADDL that would imply more doses than mgiv expands
    expect(
        &format!("{HEAD}1,0,1,1,4,0,1000000,1,0,.\n"),
        "E-ADDL-II",
        Some(4),
        Some("ADDL"),
    );
    // ADDL on an observation
    expect(
        &format!("{HEAD}1,0,1,1,4,0,0,0,0,.\n1,2,0,0,.,0,2,0,0,1.1\n"),
        "E-ADDL-II",
        Some(5),
        Some("ADDL"),
    );
    // a steady-state infusion with AMT 0 and II 0 is fine
    let (ok, _) = diags(&format!(
        "{HEAD}1,0,1,1,0,2,0,0,1,.\n1,2,0,0,.,0,0,0,0,1.1\n"
    ));
    assert!(ok);
}

#[test]
fn rate_and_dur_rules() {
    expect(
        &format!("{HEAD}1,0,1,1,4,-3,0,0,0,.\n"),
        "E-RATE",
        Some(4),
        Some("RATE"),
    );
    let (ds, d) = read(
        &format!("{UNITS}ID,TIME,EVID,MDV,AMT,RATE,DUR,DV\n1,0,1,1,4,2,2,.\n"),
        &ReadOptions::default(),
    );
    assert!(ds.is_none());
    assert!(d.iter().any(|x| x.code == "E-RATE-DUR" && x.row == Some(4)));
}

#[test]
fn numbers_fields_ids_and_columns() {
    expect(
        &format!("{HEAD}1,0,1,1,four,0,0,0,0,.\n"),
        "E-NUMBER",
        Some(4),
        Some("AMT"),
    );
    expect(
        &format!("{HEAD}1,0,1,1,4,0,0,0,.\n"),
        "E-FIELD-COUNT",
        Some(4),
        None,
    );
    expect(
        &format!("{HEAD}.,0,1,1,4,0,0,0,0,.\n"),
        "E-ID-MISSING",
        Some(4),
        Some("ID"),
    );
    expect(
        &format!("{HEAD}1,-1,1,1,4,0,0,0,0,.\n"),
        "E-TIME-NEGATIVE",
        Some(4),
        Some("TIME"),
    );
    expect("ID,DV\n1,0.8\n", "E-COLUMN-MISSING", Some(3), Some("TIME"));
    expect(
        "ID,TIME,DV,DV\n1,0,0.8,0.8\n",
        "E-COLUMN-DUPLICATE",
        Some(3),
        Some("DV"),
    );
    expect(
        &format!("{HEAD}1,08:00,1,1,4,0,0,0,0,.\n"),
        "E-DATE",
        Some(4),
        Some("TIME"),
    );
    expect("", "E-EMPTY", None, None);
}

#[test]
fn compartments_censoring_and_outputs() {
    expect(
        "ID,TIME,EVID,MDV,CMT,AMT,DV\n1,0,1,1,3,4,.\n",
        "E-CMT",
        Some(4),
        Some("CMT"),
    );
    expect(
        "ID,TIME,EVID,MDV,DV,CENS\n1,0,0,0,0.3,2\n",
        "E-CENS",
        Some(4),
        Some("CENS"),
    );
    expect(
        "ID,TIME,EVID,MDV,DV,DVID\n1,0,0,0,0.8,1\n1,1,0,0,5,2\n",
        "E-OUTPUT",
        None,
        Some("DVID"),
    );
}

#[test]
fn warnings_do_not_refuse_the_dataset() {
    let body = "ID,TIME,EVID,MDV,AMT,DV,LLOQ,WT\n\
                1,0,1,1,4,0.9,.,70\n\
                1,2,0,0,1,1.2,.,.\n\
                1,2,0,0,.,1.3,.,71\n\
                1,3,0,0,.,0.2,0.3,71\n\
                1,4,0,0,.,24,.,71\n\
                2,0,1,1,4,.,.,80\n\
                1,5,0,0,.,1.0,.,71\n";
    let (ok, d) = diags(body);
    assert!(ok, "{d:#?}");
    let has = |code: &str, row: usize| d.iter().any(|x| x.code == code && x.row == Some(row));
    assert!(has("W-DV-ON-DOSE", 4));
    assert!(has("W-AMT-ON-OBS", 5));
    assert!(has("W-COVARIATE-MISSING", 5));
    assert!(has("W-OBS-SAME-TIME", 6));
    assert!(has("W-BELOW-LLOQ", 7));
    assert!(has("W-DV-IMPLAUSIBLE", 8)); // 24 "mmol/L": a mg/L value?
    assert!(has("W-NO-OBS", 9));
    assert!(has("W-ID-NONCONTIGUOUS", 10));
    assert!(has("I-NO-BASELINE", 4));
    // every code used is documented in CODES
    for x in &d {
        assert!(mgiv_data::diag::CODES
            .iter()
            .any(|c| c.0 == x.code && c.1 == x.severity));
    }
}
