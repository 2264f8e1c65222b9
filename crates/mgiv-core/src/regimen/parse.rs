//! Parser for regimens as clinicians write them.
//!
//! Accepted, case-insensitive (see docs/REGIMENS.md for the full grammar):
//! `4 g over 20 min, then 1 g/h for 24 h` · `6 g over 30 min then 2 g/h` ·
//! `10 mmol over 15 min, then 3 mmol/h for 12 h` · `64 mmol/day for 14 days` ·
//! `4 g IV over 15 min + 10 g IM, then 5 g IM every 4 h for 24 h` · `60 mg/kg over 15 min` ·
//! `1 g MgCl2 over 10 min` · `1 g IM q6h x 4` · `24 mg/kg/h for 5 h`.

use std::fmt;

use super::{Dur, Link, PhaseKind, PhaseSpec, Quantity, RegimenSpec, Route, TimeUnit};
use crate::units::{AmountUnit, Salt};

/// A regimen text that could not be read: where, what was found, and what would be accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub input: String,
    /// character offset of the offending word
    pub position: usize,
    pub word: String,
    pub message: String,
    pub expected: Vec<String>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = if self.word.is_empty() {
            "the end of the text".to_string()
        } else {
            format!("'{}'", self.word)
        };
        writeln!(
            f,
            "invalid regimen: {} at {} (character {})",
            self.message,
            shown,
            self.position + 1
        )?;
        writeln!(f, "  {}", self.input)?;
        let width = self.word.chars().count().max(1);
        writeln!(f, "  {}{}", " ".repeat(self.position), "^".repeat(width))?;
        write!(f, "accepted here: {}", self.expected.join(", "))
    }
}

impl std::error::Error for ParseError {}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Word(String),
    Comma,
    Plus,
    Slash,
    Semi,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    text: String,
    pos: usize,
}

fn tokenize(input: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let single = match c {
            ',' => Some(Tok::Comma),
            '+' => Some(Tok::Plus),
            '/' => Some(Tok::Slash),
            ';' => Some(Tok::Semi),
            '×' => Some(Tok::Word("x".into())),
            _ => None,
        };
        if let Some(t) = single {
            out.push(Token {
                tok: t,
                text: c.to_string(),
                pos: i,
            });
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            // an exponent ("3.33e15", as canonical text writes a huge or tiny number), only when
            // a digit follows, so a word after a number ("4each") is not taken for one
            if i < chars.len() && matches!(chars[i], 'e' | 'E') {
                let sign = usize::from(matches!(chars.get(i + 1), Some('+' | '-')));
                if chars.get(i + 1 + sign).is_some_and(|d| d.is_ascii_digit()) {
                    i += 1 + sign;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text: String = chars[start..i].iter().collect();
            let v: f64 = text.parse().map_err(|_| ParseError {
                input: input.to_string(),
                position: start,
                word: text.clone(),
                message: "not a number".into(),
                expected: vec!["a number such as 4, 0.5 or 1.25".into()],
            })?;
            out.push(Token {
                tok: Tok::Num(v),
                text,
                pos: start,
            });
            continue;
        }
        if c == '-'
            && chars
                .get(i + 1)
                .is_some_and(|d| d.is_ascii_digit() || *d == '.')
        {
            return Err(ParseError {
                input: input.to_string(),
                position: i,
                word: chars[i..]
                    .iter()
                    .take_while(|c| !c.is_whitespace())
                    .collect(),
                message: "negative amounts and times are not allowed".into(),
                expected: vec!["a positive number".into()],
            });
        }
        let start = i;
        while i < chars.len() {
            let d = chars[i];
            if d.is_whitespace() || matches!(d, ',' | '+' | '/' | ';' | '(' | ')' | '×') {
                break;
            }
            i += 1;
        }
        if i == start {
            // a lone bracket: skip it (clinicians write "(IV)")
            i += 1;
            continue;
        }
        let text: String = chars[start..i].iter().collect();
        out.push(Token {
            tok: Tok::Word(text.to_lowercase()),
            text,
            pos: start,
        });
    }
    Ok(out)
}

const AMOUNT_UNITS: &[&str] = &["g", "mg", "mmol", "mEq", "mg-elemental", "mg/kg", "mmol/kg"];
const TIME_UNITS: &[&str] = &["min", "h", "hr", "hour(s)", "day(s)"];
const SALTS: &[&str] = &[
    "MgSO4 (= MgSO4·7H2O, the default for g and mg)",
    "MgSO4-anhydrous",
    "MgCl2 (= MgCl2·6H2O)",
];

fn phase_clauses() -> Vec<String> {
    [
        "IV",
        "IM",
        "over <time>",
        "every <time> (or q4h)",
        "for <time>",
        "x <number of doses>",
        "starting at <time>",
        "then",
        "+",
        ",",
    ]
    .iter()
    .chain(SALTS.iter())
    .map(|s| s.to_string())
    .collect()
}

struct Parser<'a> {
    input: &'a str,
    toks: Vec<Token>,
    i: usize,
}

fn time_unit(w: &str) -> Option<TimeUnit> {
    match w {
        "min" | "mins" | "minute" | "minutes" | "m" => Some(TimeUnit::Min),
        "h" | "hr" | "hrs" | "hour" | "hours" | "hourly" => Some(TimeUnit::H),
        "d" | "day" | "days" | "daily" => Some(TimeUnit::Day),
        _ => None,
    }
}

fn salt_word(w: &str) -> Option<Salt> {
    match w {
        "mgso4" | "mgso4·7h2o" | "mgso4.7h2o" | "mgso4-7h2o" | "heptahydrate" | "sulfate"
        | "sulphate" => Some(Salt::MgSo4Heptahydrate),
        "mgso4-anhydrous" | "anhydrous" => Some(Salt::MgSo4Anhydrous),
        "mgcl2" | "mgcl2·6h2o" | "mgcl2.6h2o" | "mgcl2-6h2o" | "chloride" | "hexahydrate" => {
            Some(Salt::MgCl2Hexahydrate)
        }
        _ => None,
    }
}

fn route_word(w: &str) -> Option<Route> {
    match w {
        "iv" | "intravenous" | "intravenously" | "io" | "push" => Some(Route::Iv),
        "im" | "intramuscular" | "intramuscularly" => Some(Route::Im),
        _ => None,
    }
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }
    fn peek_word(&self) -> Option<&str> {
        match self.peek() {
            Some(Token {
                tok: Tok::Word(w), ..
            }) => Some(w.as_str()),
            _ => None,
        }
    }
    fn peek_word_at(&self, k: usize) -> Option<&str> {
        match self.toks.get(self.i + k) {
            Some(Token {
                tok: Tok::Word(w), ..
            }) => Some(w.as_str()),
            _ => None,
        }
    }
    fn err(&self, message: impl Into<String>, expected: Vec<String>) -> ParseError {
        let (position, word) = match self.peek() {
            Some(t) => (t.pos, t.text.clone()),
            None => (self.input.chars().count(), String::new()),
        };
        ParseError {
            input: self.input.to_string(),
            position,
            word,
            message: message.into(),
            expected,
        }
    }

    fn number(&mut self, what: &str) -> Result<f64, ParseError> {
        match self.peek() {
            Some(Token {
                tok: Tok::Num(v), ..
            }) => {
                let v = *v;
                self.i += 1;
                Ok(v)
            }
            _ => Err(self.err(
                format!("expected a number ({what})"),
                vec!["a positive number such as 4, 0.5 or 20".into()],
            )),
        }
    }

    fn duration(&mut self, what: &str) -> Result<Dur, ParseError> {
        let value = self.number(what)?;
        match self.peek_word().and_then(time_unit) {
            Some(unit) => {
                self.i += 1;
                Ok(Dur { value, unit })
            }
            None => Err(self.err(
                format!("expected a time unit after {value} ({what})"),
                TIME_UNITS.iter().map(|s| s.to_string()).collect(),
            )),
        }
    }

    /// `NUMBER unit [salt] [/kg] [/time]`
    fn quantity(&mut self) -> Result<(Quantity, Option<TimeUnit>), ParseError> {
        let value = match self.peek() {
            Some(Token {
                tok: Tok::Num(v), ..
            }) => *v,
            _ => {
                return Err(self.err(
                    "expected a dose (a number and a unit, e.g. '4 g' or '1 g/h')",
                    vec!["<number> <unit>".into()],
                ))
            }
        };
        self.i += 1;
        let unit_word = self.peek_word().map(|s| s.to_string());
        let mut unit = match unit_word.as_deref() {
            Some("g" | "gm" | "gram" | "grams") => AmountUnit::GramsSalt(Salt::MgSo4Heptahydrate),
            Some("mg") => AmountUnit::MilligramsSalt(Salt::MgSo4Heptahydrate),
            Some("mg-elemental") => AmountUnit::MgElemental,
            Some("mmol") => AmountUnit::Mmol,
            Some("meq") => AmountUnit::Meq,
            _ => {
                return Err(self.err(
                    format!("expected an amount unit after {value}"),
                    AMOUNT_UNITS.iter().map(|s| s.to_string()).collect(),
                ))
            }
        };
        self.i += 1;
        // "mg elemental" / "mg Mg"
        if unit == AmountUnit::MilligramsSalt(Salt::MgSo4Heptahydrate)
            && matches!(self.peek_word(), Some("elemental") | Some("mg2+"))
        {
            unit = AmountUnit::MgElemental;
            self.i += 1;
        }
        let mut per_kg = false;
        let mut per = None;
        // salt may come right after the unit ("1 g MgCl2 over ...")
        self.maybe_salt(&mut unit)?;
        while matches!(self.peek().map(|t| &t.tok), Some(Tok::Slash))
            || self.peek_word() == Some("per")
        {
            self.i += 1;
            let w = self.peek_word().map(|s| s.to_string());
            match w.as_deref() {
                Some("kg") if !per_kg && per.is_none() => {
                    per_kg = true;
                    self.i += 1;
                }
                Some(t) if time_unit(t).is_some() && per.is_none() => {
                    per = time_unit(t);
                    self.i += 1;
                }
                _ => {
                    // "mmol/24 h" = per day
                    if let Some(Token {
                        tok: Tok::Num(n), ..
                    }) = self.peek()
                    {
                        if (*n - 24.0).abs() < 1e-12
                            && self.peek_word_at(1).and_then(time_unit) == Some(TimeUnit::H)
                            && per.is_none()
                        {
                            self.i += 2;
                            per = Some(TimeUnit::Day);
                            continue;
                        }
                    }
                    return Err(self.err(
                        "expected 'kg' or a time unit after '/'",
                        vec![
                            "kg".into(),
                            "min".into(),
                            "h".into(),
                            "day".into(),
                            "24 h".into(),
                        ],
                    ));
                }
            }
        }
        self.maybe_salt(&mut unit)?;
        Ok((
            Quantity {
                value,
                unit,
                per_kg,
            },
            per,
        ))
    }

    fn maybe_salt(&mut self, unit: &mut AmountUnit) -> Result<(), ParseError> {
        // "magnesium sulfate", "magnesium chloride"
        if self.peek_word() == Some("magnesium") {
            if let Some(s) = self.peek_word_at(1).and_then(salt_word) {
                self.i += 2;
                return self.set_salt(unit, s, 2);
            }
        }
        if let Some(s) = self.peek_word().and_then(salt_word) {
            self.i += 1;
            // "MgSO4 anhydrous"
            let s = if s == Salt::MgSo4Heptahydrate && self.peek_word() == Some("anhydrous") {
                self.i += 1;
                Salt::MgSo4Anhydrous
            } else {
                s
            };
            return self.set_salt(unit, s, 1);
        }
        Ok(())
    }

    fn set_salt(&mut self, unit: &mut AmountUnit, s: Salt, back: usize) -> Result<(), ParseError> {
        match unit {
            AmountUnit::GramsSalt(_) => *unit = AmountUnit::GramsSalt(s),
            AmountUnit::MilligramsSalt(_) => *unit = AmountUnit::MilligramsSalt(s),
            _ => {
                self.i -= back;
                return Err(self.err(
                    "a salt can only follow an amount in g or mg (mmol and mEq are of magnesium itself)",
                    vec!["g <salt>".into(), "mg <salt>".into()],
                ));
            }
        }
        Ok(())
    }

    fn phase(&mut self, link: Link) -> Result<PhaseSpec, ParseError> {
        let (dose, per) = self.quantity()?;
        let mut route: Option<Route> = None;
        let mut over = None;
        let mut every = None;
        let mut count = None;
        let mut for_ = None;
        let mut at = None;
        while let Some(w) = self.peek_word().map(|s| s.to_string()) {
            if let Some(r) = route_word(&w) {
                if route.is_some_and(|x| x != r) {
                    return Err(self.err(
                        "two different routes in one dose",
                        vec!["IV".into(), "IM".into()],
                    ));
                }
                route = Some(r);
                self.i += 1;
                continue;
            }
            match w.as_str() {
                "over" | "in" if over.is_none() => {
                    self.i += 1;
                    over = Some(self.duration("infusion time after 'over'")?);
                }
                "every" | "q" if every.is_none() => {
                    self.i += 1;
                    every = Some(self.duration("dosing interval after 'every'")?);
                }
                "for" if for_.is_none() => {
                    self.i += 1;
                    for_ = Some(self.duration("duration after 'for'")?);
                }
                "x" | "times" if count.is_none() => {
                    self.i += 1;
                    let n = self.number("number of doses after 'x'")?;
                    if n.fract() != 0.0 || n < 1.0 {
                        self.i -= 1;
                        return Err(self.err(
                            "the number of doses must be a whole number",
                            vec!["1, 2, 3, ...".into()],
                        ));
                    }
                    count = Some(n as u32);
                    if matches!(self.peek_word(), Some("doses" | "dose")) {
                        self.i += 1;
                    }
                }
                "starting" | "from" | "at" if at.is_none() => {
                    self.i += 1;
                    if self.peek_word() == Some("at") {
                        self.i += 1;
                    }
                    at = Some(self.duration("start time after 'at'")?);
                }
                "bolus" | "load" | "loading" | "dose" | "slowly" | "slow" | "continuous"
                | "infusion" => {
                    self.i += 1;
                }
                _ => {
                    // q4h / q6h written as one word, x4 as one word
                    if let Some(rest) = w.strip_prefix('q') {
                        if let Some(d) = compact_interval(rest) {
                            if every.is_none() {
                                self.i += 1;
                                every = Some(d);
                                continue;
                            }
                        }
                    }
                    if let Some(rest) = w.strip_prefix('x') {
                        if let Ok(n) = rest.parse::<u32>() {
                            if count.is_none() && n >= 1 {
                                self.i += 1;
                                count = Some(n);
                                continue;
                            }
                        }
                    }
                    break;
                }
            }
        }
        let kind = match per {
            Some(per) => {
                if over.is_some() || every.is_some() || count.is_some() {
                    return Err(self.err_at_phase(
                        "a rate (amount per time) takes 'for <time>', not 'over', 'every' or 'x'",
                    ));
                }
                if route == Some(Route::Im) {
                    return Err(self.err_at_phase("a continuous infusion cannot be IM"));
                }
                PhaseKind::Rate { dose, per, for_ }
            }
            None => PhaseKind::Dose {
                dose,
                route: route.unwrap_or(Route::Iv),
                over,
                every,
                count,
                for_,
            },
        };
        Ok(PhaseSpec { link, kind, at })
    }

    fn err_at_phase(&self, msg: &str) -> ParseError {
        let mut e = self.err(msg, phase_clauses());
        if self.i > 0 {
            let t = &self.toks[self.i - 1];
            e.position = t.pos;
            e.word = t.text.clone();
        }
        e
    }

    /// Separator between phases; returns None at the end of input.
    fn separator(&mut self) -> Result<Option<Link>, ParseError> {
        let mut link = None;
        loop {
            match self.peek().map(|t| t.tok.clone()) {
                None => {
                    return if link.is_some() {
                        Err(self.err(
                            "the regimen ends after a separator",
                            vec!["<another dose or rate>".into()],
                        ))
                    } else {
                        Ok(None)
                    };
                }
                Some(Tok::Comma) | Some(Tok::Semi) => {
                    self.i += 1;
                    link.get_or_insert(Link::Then);
                }
                Some(Tok::Plus) => {
                    self.i += 1;
                    link = Some(Link::With);
                }
                Some(Tok::Word(w)) => match w.as_str() {
                    "then" => {
                        self.i += 1;
                        if link != Some(Link::With) {
                            link = Some(Link::Then);
                        }
                    }
                    "and" | "plus" | "with" => {
                        self.i += 1;
                        if self.peek_word() == Some("then") {
                            continue;
                        }
                        link = Some(Link::With);
                    }
                    "followed" => {
                        self.i += 1;
                        if self.peek_word() == Some("by") {
                            self.i += 1;
                        }
                        link = Some(Link::Then);
                    }
                    _ => {
                        return match link {
                            Some(l) => Ok(Some(l)),
                            None => Err(self.err("unexpected word", phase_clauses())),
                        }
                    }
                },
                Some(Tok::Num(_)) => {
                    return match link {
                        Some(l) => Ok(Some(l)),
                        None => Err(self.err(
                            "a new dose must be joined to the previous one",
                            vec!["then".into(), "+".into(), ",".into()],
                        )),
                    }
                }
                Some(Tok::Slash) => {
                    return Err(self.err("unexpected '/'", phase_clauses()));
                }
            }
        }
    }
}

fn compact_interval(rest: &str) -> Option<Dur> {
    // "4h", "6h", "30min", "1d"
    let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = rest.split_at(split);
    let value: f64 = num.parse().ok()?;
    let unit = time_unit(unit)?;
    (value > 0.0).then_some(Dur { value, unit })
}

/// Parse clinician regimen text into a [`RegimenSpec`] (values are checked by `validate`).
pub fn parse_regimen(input: &str) -> Result<RegimenSpec, ParseError> {
    let toks = tokenize(input)?;
    let mut p = Parser { input, toks, i: 0 };
    if p.toks.is_empty() {
        return Err(p.err(
            "the regimen is empty",
            vec!["<number> <unit>, e.g. '4 g over 20 min, then 1 g/h'".into()],
        ));
    }
    let mut phases = vec![p.phase(Link::Then)?];
    while let Some(link) = p.separator()? {
        phases.push(p.phase(link)?);
    }
    let spec = RegimenSpec { phases };
    Ok(spec)
}
