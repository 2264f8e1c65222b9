//! The NONMEM-format dataset reader (mgiv-data), in its three dialects and with declared units:
//! never a panic; a dataset is returned only without error diagnostics; its event segments and
//! predictions (1- and 2-compartment, with an IM depot) run without a panic; a dataset written
//! back by `write_nonmem` reads again (same compartment numbering), with the same subjects and
//! records.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mgiv_core::model::{IndividualParams, Peripheral};
use mgiv_core::solver::Modes;
use mgiv_data::{predict, read, write_nonmem, Dialect, EventOptions, ReadOptions, Severity};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let units = |o: ReadOptions| ReadOptions {
        dv_unit: Some("mmol/L".into()),
        amt_unit: Some("g".into()),
        ..o
    };
    let variants = [
        ReadOptions::default(),
        units(ReadOptions::default()),
        units(ReadOptions {
            dialect: Some(Dialect::Pmetrics),
            ..Default::default()
        }),
        units(ReadOptions {
            dialect: Some(Dialect::Monolix),
            ..Default::default()
        }),
        units(ReadOptions {
            depot_cmt: Some(1),
            central_cmt: Some(2),
            ..Default::default()
        }),
    ];
    let modes = [
        Modes::from_params(&IndividualParams {
            cl_l_h: 2.0,
            v1_l: 20.0,
            peripheral: Some(Peripheral {
                q_l_h: 3.0,
                v2_l: 30.0,
            }),
            ka_h: Some(1.0),
            f_im: Some(0.9),
            baseline_mmol_l: 0.8,
        })
        .expect("valid parameters"),
        Modes::from_params(&IndividualParams {
            cl_l_h: 5.0,
            v1_l: 15.0,
            peripheral: None,
            ka_h: None,
            f_im: None,
            baseline_mmol_l: 0.7,
        })
        .expect("valid parameters"),
    ];
    let opts = EventOptions {
        ss_history_h: 200.0,
        modelled: Default::default(),
    };
    for o in &variants {
        let (ds, diags) = read(text, o);
        let Some(ds) = ds else { continue };
        assert!(
            !diags.iter().any(|d| d.severity == Severity::Error),
            "a dataset was returned with errors: {diags:?}"
        );
        for s in &ds.subjects {
            if let Ok(segs) = s.segments(&opts) {
                for seg in &segs {
                    for m in &modes {
                        let _ = predict(m, seg);
                    }
                }
            }
        }
        let back = write_nonmem(&ds);
        // read back in NONMEM columns with the same compartment numbering (units are in its header)
        let again = ReadOptions {
            central_cmt: o.central_cmt,
            depot_cmt: o.depot_cmt,
            ..Default::default()
        };
        let (ds2, d2) = read(&back, &again);
        let ds2 = ds2.unwrap_or_else(|| panic!("written dataset does not read back: {d2:?}\n{back}"));
        assert_eq!(ds.subjects.len(), ds2.subjects.len());
        for (a, b) in ds.subjects.iter().zip(&ds2.subjects) {
            assert_eq!(a.id, b.id);
            assert_eq!(a.records.len(), b.records.len());
        }
    }
});
