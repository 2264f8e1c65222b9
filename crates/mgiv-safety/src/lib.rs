//! mgiv-safety: protocols and safety rules (being built).
