//! The cited data files under `data/neuro/` that hold mgiv-neuro's published parameters (issue 14,
//! "one source of truth": no published number in Rust code outside tests).
//!
//! | file | read by |
//! |---|---|
//! | `mg-block.toml` | [`crate::mg_block`] (NMDA Mg-block presets) |
//! | `wang-2002.toml` | [`crate::wang2002::WangParams`], and through it the engine defaults ([`crate::network::SynapseKinetics`]) and the sparse benchmark |
//! | `network-presets.toml` | [`crate::network`] (AdEx Brette–Gerstner 2005, the sparse benchmark's own choices) |
//! | `graupner-brunel-2012.toml` | [`crate::plasticity::gb`] (nine parameter sets, Mg coupling) |
//! | `shouval-2002.toml` | [`crate::plasticity::shouval`] |
//! | `stimulation-protocols.toml` | [`crate::plasticity::protocol::standard_protocols`] (standard pairing, tetanus, theta burst) |
//!
//! Every table that holds a number carries a `source` (paper, table or figure, and the code the
//! value was read from), or `source = "mgiv choice: …"` where the value is mgiv's own. Each file is
//! compiled into the crate (`include_str!`) and parsed once; the tests of the module that reads it
//! parse it, pin its key published values and check that every table is cited, so a parse failure
//! at run time is a build defect, not bad input.
use serde::de::DeserializeOwned;

/// Parse a data file compiled into the crate (`path` names it in the message).
pub(crate) fn parse<T: DeserializeOwned>(path: &str, text: &str) -> T {
    toml::from_str(text).unwrap_or_else(|e| panic!("{path} is valid (tested): {e}"))
}

/// Assert that every table of `text` that holds a number directly also holds a non-empty
/// `source` string (tables inside arrays of tables included).
#[cfg(test)]
pub(crate) fn assert_every_table_cited(path: &str, text: &str) {
    fn walk(file: &str, at: &str, t: &toml::Table, tables: &mut usize) {
        if t.values().any(|v| v.is_float() || v.is_integer()) {
            *tables += 1;
            let source = t.get("source").and_then(|s| s.as_str()).unwrap_or("");
            assert!(
                source.trim().len() > 10,
                "{file}: table `{at}` holds numbers but no source"
            );
        }
        for (k, v) in t {
            match v {
                toml::Value::Table(sub) => walk(file, &format!("{at}.{k}"), sub, tables),
                toml::Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(sub) = item.as_table() {
                            walk(file, &format!("{at}.{k}[{i}]"), sub, tables);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let t: toml::Table = parse(path, text);
    let mut tables = 0;
    walk(path, "", &t, &mut tables);
    assert!(tables > 0, "{path}: no table holds a number");
}

#[cfg(test)]
mod tests {
    /// The checker itself: a table with a number and no source is caught, a cited one passes.
    #[test]
    fn uncited_table_is_caught() {
        super::assert_every_table_cited("ok", "[a]\nsource = \"Someone 2002 Table 1\"\nx = 1.5\n");
        let r = std::panic::catch_unwind(|| {
            super::assert_every_table_cited(
                "bad",
                "[a]\nsource = \"Someone 2002 Table 1\"\nx = 1.5\n[b]\ny = 2\n",
            )
        });
        assert!(r.is_err());
    }

    #[test]
    fn mg_block_file_is_cited() {
        super::assert_every_table_cited("data/neuro/mg-block.toml", crate::mg_block::MG_BLOCK_FILE);
    }
}
