//! `mgiv trial --format parquet`: with the `parquet` feature the file reads back equal to the CSV
//! output of the same seed; without it the error names the feature and the build command.

mod common;
use common::mgiv;

const BASE: [&str; 13] = [
    "trial",
    "--regimen",
    "zuspan",
    "--regimen",
    "6 g over 20 min, then 2 g/h for 24 h",
    "--n",
    "2000",
    "--seed",
    "11",
    "--at",
    "0.5,1,6,12,24",
    "--threads",
    "2",
];

#[cfg(feature = "parquet")]
#[test]
fn parquet_equals_the_csv_of_the_same_seed() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    let dir = std::env::temp_dir().join(format!("mgiv-trial-parquet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("trial.parquet");

    let out = mgiv()
        .args(BASE)
        .args(["--format", "csv"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let csv_rows: Vec<&str> = lines.collect();
    assert_eq!(csv_rows.len(), 2 * 5);

    let out = mgiv()
        .args(BASE)
        .args(["--format", "parquet", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());

    let reader = SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap();
    let meta = reader.metadata().file_metadata();
    assert_eq!(meta.num_rows(), csv_rows.len() as i64);
    let names: Vec<&str> = meta
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name())
        .collect();
    assert_eq!(names, header);
    assert!(names.contains(&"p_above_3_5"), "{names:?}");

    let kv = meta.key_value_metadata().expect("key-value metadata");
    let entry = kv
        .iter()
        .find(|k| k.key == "mgiv")
        .expect("an `mgiv` entry");
    let m: serde_json::Value = serde_json::from_str(entry.value.as_deref().unwrap()).unwrap();
    assert_eq!(m["model"]["id"], "du-2019");
    assert!(!m["model"]["citation"].as_str().unwrap().is_empty());
    assert_eq!(m["population"]["id"], "pre-eclampsia");
    assert_eq!(m["seed"], 11);
    assert_eq!(m["n"], 2000);
    assert_eq!(m["mgiv_version"], env!("CARGO_PKG_VERSION"));

    // Every cell, written the way the CSV writes it, equals the CSV (6 decimals; time as is).
    let rows = reader.get_row_iter(None).unwrap();
    let mut n = 0;
    for (row, csv_row) in rows.zip(&csv_rows) {
        let row = row.unwrap();
        let cells: Vec<String> = row
            .get_column_iter()
            .enumerate()
            .map(|(i, (_, f))| match f {
                Field::Str(s) => format!("\"{s}\""),
                Field::Double(x) if i == 1 => format!("{x}"),
                Field::Double(x) => format!("{x:.6}"),
                other => panic!("unexpected field {other:?}"),
            })
            .collect();
        assert_eq!(cells.join(","), *csv_row);
        n += 1;
    }
    assert_eq!(n, csv_rows.len());
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(feature = "parquet")]
#[test]
fn parquet_needs_out() {
    let out = mgiv()
        .args(BASE)
        .args(["--format", "parquet"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--out FILE") && err.contains("csv"), "{err}");
}

#[cfg(not(feature = "parquet"))]
#[test]
fn parquet_without_the_feature_names_the_build_command() {
    let file = std::env::temp_dir().join(format!("mgiv-no-parquet-{}.parquet", std::process::id()));
    let out = mgiv()
        .args(BASE)
        .args(["--format", "parquet", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!file.exists(), "no file may be written");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("feature `parquet`")
            && err.contains("cargo build --release -p mgiv-cli --features parquet"),
        "{err}"
    );
}
