//! Warnings that reach a user: a stable code a program can act on, the message a person reads,
//! and the source the rule or number behind it comes from. Every library returns these instead of
//! bare strings, so that front ends filter and route warnings by code, never by their wording.

use serde::{Deserialize, Serialize};

/// One warning: `code` is stable (upper-case words joined by '-'), `message` is for people,
/// `source` names the model, data file or publication the warning rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub code: String,
    pub message: String,
    pub source: String,
}

impl Warning {
    pub fn new(code: &str, message: impl Into<String>, source: impl Into<String>) -> Self {
        Warning {
            code: code.to_string(),
            message: message.into(),
            source: source.into(),
        }
    }

    /// True for a warning with this code.
    pub fn is(&self, code: &str) -> bool {
        self.code == code
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_serialises_with_code_message_and_source() {
        let w = Warning::new("SIM-OPEN-INFUSION", "an infusion has no end", "mgiv");
        let json = serde_json::to_value(&w).unwrap();
        assert_eq!(json["code"], "SIM-OPEN-INFUSION");
        assert_eq!(json["message"], "an infusion has no end");
        assert_eq!(json["source"], "mgiv");
        assert_eq!(w.to_string(), "an infusion has no end");
        let back: Warning = serde_json::from_value(json).unwrap();
        assert_eq!(back, w);
        assert!(w.is("SIM-OPEN-INFUSION") && !w.is("SIM"));
    }
}
