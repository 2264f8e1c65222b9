//! `mgiv models`: the built-in PK models with citations.

use anyhow::Result;
use clap::Args;
use mgiv_core::model::builtin_models;

#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Print JSON (the full model files) instead of text
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: ModelsArgs) -> Result<()> {
    let models = builtin_models()?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&models)?);
        return Ok(());
    }
    for m in &models {
        let p = &m.parameters;
        println!("{}  —  {}", m.id, m.name);
        println!("  source:     {}", m.citation);
        println!("  population: {}", m.population);
        println!("  evidence:   {}", m.evidence);
        let mut params = format!("CL {} L/h, V1 {} L", p.cl_l_h, p.v1_l);
        if let (Some(q), Some(v2)) = (p.q_l_h, p.v2_l) {
            params.push_str(&format!(", Q {q} L/h, V2 {v2} L"));
        }
        if let (Some(ka), Some(f)) = (p.ka_h, p.f_im) {
            params.push_str(&format!(", IM ka {ka} 1/h F {f}"));
        }
        println!(
            "  typical:    {params}; baseline {} mmol/L ({})",
            m.baseline.mmol_l, m.baseline.source
        );
        println!("  values from: {}", m.parameter_sources);
        println!();
    }
    println!("Default choice: pre-eclampsia → du-2019; pregnant without pre-eclampsia → brookfield-2016; otherwise → mgiv-adult-2026.");
    Ok(())
}
