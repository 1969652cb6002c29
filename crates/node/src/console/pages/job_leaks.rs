//! A job's leak profile: what each party learns from it, from the job's
//! plan ([`crate::plan::JobPlan::receives`] and [`crate::plan::JobPlan::leaks`])
//! — the outputs each receives, and beyond them the dealer, counts opened
//! to a decider, contribution re-runs, DP noise and the sizes every party
//! sees. For a job of an earlier run of the node (the audit log keeps the
//! spec's hash, not the spec) only the declared outputs are shown, which
//! the plan checked to be exactly what each party receives.

use super::layout::t;
use crate::jobspec::{JobSpec, Param, Protocol};
use crate::plan::{Correlations, LeakProfile};
use crate::state::JobHistory;
use maud::{Markup, html};

/// What one party learns beyond its outputs.
fn beyond(profile: &LeakProfile, party: &str, label_holder: Option<&str>) -> Vec<String> {
    let mut learns = Vec::new();
    match &profile.correlations {
        Correlations::Dealer(d) if d == party => learns.push(
            "the dealer: holds no data and deals every correlated mask; colluding with a data party it would learn the others' inputs".to_string(),
        ),
        _ => {}
    }
    if profile.counts_opened_to.as_deref() == Some(party) {
        learns.push(
            "every group's count, opened to it as the decider of small-group suppression"
                .to_string(),
        );
    }
    if profile.contribution {
        if label_holder == Some(party) {
            learns.push(
                "the held-out scores of the leave-one-out models (the contribution report)"
                    .to_string(),
            );
        } else {
            learns.push("its own weights in each leave-one-out model it takes part in".to_string());
        }
    }
    learns
}

/// What every party learns: the job's public sizes and its DP setting.
fn common(profile: &LeakProfile, spec_params: &[(String, String)]) -> Vec<String> {
    let mut all = vec!["the spec: parties, the columns each reads by name, parameters, outputs and their receivers; the outcome".to_string()];
    match &profile.correlations {
        Correlations::Dealer(d) => {
            all.push(format!("correlated randomness from a dealer: {}", t(d)))
        }
        Correlations::TwoParty => all.push(
            "correlated randomness generated between the two computing parties, no third party"
                .to_string(),
        ),
        Correlations::None => {}
    }
    if profile.categories > 0 {
        all.push(format!(
            "{} categories of the group-by column",
            profile.categories
        ));
    }
    if profile.bins > 0 {
        all.push(format!(
            "{} bins per histogram column (the tails included)",
            profile.bins
        ));
    }
    if profile.epochs > 0 {
        all.push(format!("{} training epochs", profile.epochs));
    }
    if profile.peer_items > 0 {
        all.push(format!(
            "a peer brings at most {} items",
            profile.peer_items
        ));
    }
    if let Some(rho) = profile.dp_rho {
        let params: Vec<String> = spec_params
            .iter()
            .filter(|(k, _)| k.starts_with("dp_"))
            .map(|(k, v)| format!("{} = {}", t(k), t(v)))
            .collect();
        all.push(format!(
            "the released values carry differential-privacy noise: ρ = {rho:.6} (zCDP){}{}; a receiver learns only the noisy values",
            if params.is_empty() { "" } else { ", " },
            params.join(", ")
        ));
    }
    all
}

/// The leak profile of a job whose spec this node holds.
pub fn of_spec(spec: &JobSpec, me: &str) -> Markup {
    let plan = match spec.plan() {
        Ok(p) => p,
        Err(e) => {
            return html! { section #leaks { h2 { "What each party learns" } p.error { "The job's plan cannot be built: " (t(&e.to_string())) } } };
        }
    };
    let receives = plan.receives();
    let profile = plan.leaks();
    // A training job names its label holder (the plan required it).
    let label_holder = match spec.parameters.get("label_holder") {
        Some(Param::Text(name)) if spec.protocol == Protocol::Train => Some(name.as_str()),
        _ => None,
    };
    let params: Vec<(String, String)> = spec
        .parameters
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    html! {
        section #leaks {
            h2 { "What each party learns" }
            p.hint { "From the job's plan: the outputs each party receives, and what the protocol, run as planned, lets it learn beyond them. The policy rules on these (see the overview)." }
            table {
                thead { tr { th { "Party" } th { "Receives" } th { "Learns beyond its outputs" } } }
                tbody {
                    @for (i, p) in spec.parties.iter().enumerate() {
                        tr data-party=(t(&p.name)) {
                            td { (t(&p.name)) @if p.name == me { " (this node)" } }
                            td.receives { @let r = receives.get(i).cloned().unwrap_or_default(); @if r.is_empty() { "nothing" } @else { (r.into_iter().collect::<Vec<_>>().join(", ")) } }
                            td.beyond { @let b = beyond(&profile, &p.name, label_holder); @if b.is_empty() { "nothing" } @else { ul { @for x in b { li { (x) } } } } }
                        }
                    }
                }
            }
            h3 { "Every party" }
            ul #leaks-common { @for x in common(&profile, &params) { li { (x) } } }
        }
    }
}

/// What is known of a job of an earlier run: its declared outputs.
pub fn of_history(h: &JobHistory) -> Markup {
    html! {
        section #leaks {
            h2 { "What each party learns" }
            p.hint { "This node ran the job before its last restart: the audit log keeps the spec's hash, not the spec, so only the declared outputs are shown (the plan checked, before any party accepted, that they are exactly what each party receives)." }
            table {
                thead { tr { th { "Party" } th { "Receives" } } }
                tbody {
                    @for p in &h.parties {
                        @let r: Vec<&str> = h.outputs.iter().filter(|o| &o.receiver == p).map(|o| o.name.as_str()).collect();
                        tr data-party=(t(p)) { td { (t(p)) } td.receives { @if r.is_empty() { "nothing" } @else { (t(&r.join(", "))) } } }
                    }
                }
            }
        }
    }
}
