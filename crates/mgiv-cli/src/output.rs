//! The output layer shared by every command: numbers rounded for reading, error messages printed
//! once, terminal tables that fit 100 columns without cutting words, and colour only where it
//! helps (a terminal, `NO_COLOR` unset).
//!
//! Machine-readable outputs (JSON, CSV, Parquet) keep full precision; only text is rounded here.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// `--quiet`: notes on stderr are not printed (errors and STOP messages still are).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// A note on stderr ("plot written to ..."), silent under `--quiet`.
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {
        if !$crate::output::quiet() {
            eprintln!($($arg)*);
        }
    };
}

/// `v` with 3 significant figures for reading (text only; JSON/CSV keep full precision).
pub use mgiv_core::units::fmt_sig3 as sig3;

/// Refuse an output file before any work is done when its folder does not exist, naming the
/// option, the path and the folder.
pub fn check_out_path(path: &std::path::Path, option: &str) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        anyhow::bail!(
            "invalid {option} '{}': the folder '{}' does not exist",
            path.display(),
            dir.display()
        );
    }
    if path.is_dir() {
        anyhow::bail!(
            "invalid {option} '{}': it is a folder (allowed: a file name)",
            path.display()
        );
    }
    Ok(())
}

/// An error and its causes, each said once: a cause whose text the message already contains
/// (a library error that wraps and prints its source) is not repeated.
pub fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let s = cause.to_string();
        if s.is_empty() || text.contains(&s) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&s);
    }
    text
}

/// Split `text` into lines of at most `width` characters at spaces; a single word longer than
/// `width` is kept whole on its own line (a word is never cut).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let needed = if line.is_empty() {
            word.chars().count()
        } else {
            line.chars().count() + 1 + word.chars().count()
        };
        if needed > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A plain-text table: each column has a width; a cell longer than its column wraps at spaces
/// onto continuation lines. Columns are separated by two spaces, so with widths summing to
/// widths summing to 100 - 2 * (columns - 1) the table fits 100 columns.
pub fn table(headers: &[&str], widths: &[usize], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    let mut emit = |cells: &[String]| {
        let wrapped: Vec<Vec<String>> =
            cells.iter().zip(widths).map(|(c, &w)| wrap(c, w)).collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        for i in 0..height {
            let mut line = String::new();
            for (k, (col, &w)) in wrapped.iter().zip(widths).enumerate() {
                let cell = col.get(i).map(String::as_str).unwrap_or("");
                if k + 1 == widths.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    let pad = w.saturating_sub(cell.chars().count()) + 2;
                    line.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    };
    emit(&headers.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    for r in rows {
        emit(r);
    }
    out
}

/// A message from a library (which states levels in mmol/L) shown in the unit the user asked for:
/// every "X mmol/L" or "X-Y mmol/L" becomes "X' unit (X mmol/L)", so the asked unit comes first
/// and the original stays visible. Text only; nothing is converted when `unit` is mmol/L.
pub fn in_unit(text: &str, unit: mgiv_core::units::ConcUnit) -> String {
    use mgiv_core::units::{ConcUnit, MgConc};
    if unit == ConcUnit::MmolPerL {
        return text.to_string();
    }
    const TAG: &str = " mmol/L";
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(TAG) {
        let head = &rest[..i];
        // the number (or range) just before " mmol/L"
        let start = head
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_digit() || *c == '.' || *c == '-')
            .last()
            .map(|(k, _)| k)
            .unwrap_or(i);
        let number = head[start..].trim_start_matches('-');
        let start = i - number.len();
        let parts: Vec<Option<f64>> = number.split('-').map(|x| x.parse().ok()).collect();
        out.push_str(&rest[..start]);
        if !number.is_empty() && parts.iter().all(Option::is_some) && parts.len() <= 2 {
            let conv: Vec<String> = parts
                .iter()
                .map(|v| sig3(MgConc::from_mmol_l(v.unwrap_or(0.0)).in_unit(unit)))
                .collect();
            out.push_str(&format!(
                "{} {} ({number} mmol/L)",
                conv.join("-"),
                unit.symbol()
            ));
        } else {
            out.push_str(&rest[start..i + TAG.len()]);
        }
        rest = &rest[i + TAG.len()..];
    }
    out.push_str(rest);
    out
}

/// Colour the severity tags ("\[STOP\]", "\[WARNING\]", ...) of a text report for a terminal.
pub fn color_severities(text: &str) -> String {
    let mut t = text.to_string();
    for word in ["STOP", "WARNING", "CAUTION", "INFO"] {
        t = t.replace(&format!("[{word}]"), &format!("[{}]", severity(word, true)));
    }
    t
}

/// Whether to colour text written to stdout: a terminal, and `NO_COLOR` not set
/// (<https://no-color.org>).
pub fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// A severity word coloured for a terminal (STOP red, WARNING yellow, INFO cyan), plain otherwise.
pub fn severity(word: &str, color: bool) -> String {
    if !color {
        return word.to_string();
    }
    let code = match word.to_ascii_uppercase().as_str() {
        s if s.starts_with("STOP") => "1;31",
        s if s.starts_with("WARN") => "33",
        s if s.starts_with("CAUTION") => "35",
        _ => "36",
    };
    format!("\x1b[{code}m{word}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_significant_figures() {
        assert_eq!(sig3(1.9749022834807652), "1.97");
        assert_eq!(sig3(0.000001), "0.000001");
        assert_eq!(sig3(4.683), "4.68");
        assert_eq!(sig3(1234.5), "1230");
        assert_eq!(sig3(2.0), "2");
        assert_eq!(sig3(0.0), "0");
        assert_eq!(sig3(-0.0004), "-0.0004");
        assert_eq!(sig3(1e308), "1.00e308");
    }

    #[test]
    fn levels_in_the_asked_unit() {
        use mgiv_core::units::ConcUnit;
        assert_eq!(
            in_unit(
                "a level above 3.5 mmol/L; normal 0.75-1.05 mmol/L",
                ConcUnit::MgPerDl
            ),
            "a level above 8.51 mg/dL (3.5 mmol/L); normal 1.82-2.55 mg/dL (0.75-1.05 mmol/L)"
        );
        assert_eq!(in_unit("0.85 mmol/L", ConcUnit::MmolPerL), "0.85 mmol/L");
        assert_eq!(
            in_unit("in mmol/L only", ConcUnit::MgPerDl),
            "in mmol/L only"
        );
    }

    #[test]
    fn severities_are_coloured_only_when_asked() {
        assert_eq!(severity("STOP", false), "STOP");
        assert_eq!(severity("STOP", true), "\x1b[1;31mSTOP\x1b[0m");
        assert_eq!(
            color_severities("  [WARNING] X"),
            "  [\x1b[33mWARNING\x1b[0m] X"
        );
    }

    #[test]
    fn wrap_never_cuts_words() {
        let lines = wrap("Seizure prophylaxis in severe pre-eclampsia; eclampsia", 20);
        assert_eq!(
            lines,
            vec![
                "Seizure prophylaxis",
                "in severe",
                "pre-eclampsia;",
                "eclampsia"
            ]
        );
        assert_eq!(
            wrap("supercalifragilistic", 5),
            vec!["supercalifragilistic"]
        );
    }

    #[test]
    fn error_causes_are_not_repeated() {
        let inner = anyhow::anyhow!("bad word at 'q'");
        let e = inner.context("invalid regimen: bad word at 'q'");
        assert_eq!(error_text(&e), "invalid regimen: bad word at 'q'");
        let e2 = anyhow::anyhow!("no such folder").context("writing out/plan.html");
        assert_eq!(error_text(&e2), "writing out/plan.html: no such folder");
    }
}
