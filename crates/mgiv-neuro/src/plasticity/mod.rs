//! plasticity
