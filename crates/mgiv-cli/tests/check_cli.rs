//! `mgiv check` from the command line.

mod common;
use common::mgiv;

fn corpus(name: &str) -> String {
    format!(
        "{}/../../data/nonmem-corpus/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn a_clean_corpus_file_exits_0_with_a_summary() {
    let out = mgiv()
        .args(["check", &corpus("bolus_addl.csv")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("I-SUMMARY"), "{text}");
    assert!(text.contains("0 error(s), 0 warning(s)"), "{text}");
}

#[test]
fn a_bad_dataset_exits_2_with_coded_rows_in_json() {
    let dir = std::env::temp_dir().join(format!("mgiv-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.csv");
    std::fs::write(
        &f,
        "ID,TIME,EVID,MDV,AMT,DV\n1,0,1,1,.,.\n1,5,0,0,.,1.2\n1,3,0,0,.,-1\n",
    )
    .unwrap();
    let out = mgiv()
        .args([
            "check",
            f.to_str().unwrap(),
            "--dv-unit",
            "mmol/L",
            "--amt-unit",
            "g",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let diags = v["diagnostics"].as_array().unwrap();
    let find = |code: &str| {
        diags
            .iter()
            .find(|d| d["code"] == code)
            .unwrap_or_else(|| panic!("no {code} in {v}"))
    };
    assert_eq!(find("E-DOSE-AMT")["row"], 2);
    assert_eq!(find("E-TIME-ORDER")["row"], 4);
    assert_eq!(find("E-DV-NEGATIVE")["column"], "DV");
    assert_eq!(find("E-DV-NEGATIVE")["severity"], "error");
    assert!(v["errors"].as_u64().unwrap() >= 3);
    // without the units the same file names the missing declarations
    let out = mgiv()
        .args(["check", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("E-UNIT-MISSING"));
}
