//! The differential-privacy budgets of this node's data (issue #22): per
//! rule with a `dp` budget, dataset and consumer (the receiver of the
//! releases), the month's budget, what is spent and what is left — the
//! same lines `indomain job budget` prints, from the ledger the node
//! rebuilds from its audit log — and every job that charged a budget,
//! with where its charge stands. Only this node's own ledger is shown.

use super::layout::{self, job_href, t, when};
use crate::console::Console;
use crate::console::http::Resp;
use crate::console::routes::Ctx;
use crate::control::{BudgetLine, Request, Response};
use crate::state::{JobKey, Spend, SpendState, Spends};
use indomain_aggregate::dp::accounting::epsilon_for;
use maud::{Markup, html};
use std::collections::BTreeMap;

/// The most charges listed (newest first).
const MAX_CHARGES: usize = 200;

/// ρ charged per (dataset, receiver, month) by jobs not refunded.
type Charged = BTreeMap<(String, String, String), f64>;

fn charged(spends: &Spends) -> Charged {
    let mut sums = Charged::new();
    for s in spends.iter().filter(|s| s.state != SpendState::Refunded) {
        for a in &s.accounts {
            let at = (a.dataset.clone(), a.receiver.clone(), s.month.to_string());
            *sums.entry(at).or_default() += s.rho;
        }
    }
    sums
}

fn line(l: &BudgetLine, charged: &Charged) -> Markup {
    // What the month's jobs charged (a budget lowered since may be
    // overspent: the ledger then leaves nothing, and the share exceeds 1).
    let at = (l.dataset.clone(), l.receiver.clone(), l.month.clone());
    let spent = charged
        .get(&at)
        .copied()
        .unwrap_or((l.rho - l.remaining_rho).max(0.0));
    let share = if l.rho > 0.0 { spent / l.rho } else { 1.0 };
    html! {
        tr data-dataset=(t(&l.dataset)) data-receiver=(t(&l.receiver)) {
            td { (t(&l.dataset)) }
            td { (t(&l.receiver)) }
            td { (t(&l.month)) }
            td { "ε = " (l.epsilon) ", δ = " (l.delta) br; span.hint { "ρ = " (format!("{:.6}", l.rho)) } }
            td.spent { "ρ = " (format!("{spent:.6}")) br; span.hint { "ε = " (format!("{:.4}", epsilon_for(spent, l.delta))) " at that δ" } }
            td.left { "ε = " (format!("{:.4}", l.remaining_epsilon)) br; span.hint { "ρ = " (format!("{:.6}", l.remaining_rho)) } }
            td { meter min="0" max="1" low="0.5" high="0.9" optimum="0" value=(format!("{share:.4}")) { (format!("{:.0} %", share * 100.0)) } " " (format!("{:.0} % spent", share * 100.0)) }
            td.rule { code { (t(&l.rule)) } }
        }
    }
}

fn charge(s: &Spend) -> Markup {
    let key = JobKey::parse(&s.job);
    html! {
        tr {
            td { @if let Some(k) = &key { a href=(job_href(k)) { (t(&s.job)) } } @else { (t(&s.job)) } }
            td { (s.month.to_string()) }
            td { @for a in &s.accounts { (t(&a.dataset)) " for " (t(&a.receiver)) br; } }
            td { (format!("{:.6}", s.rho)) }
            td { span class=(match s.state { SpendState::Refunded => "state off", SpendState::Spent => "state bad", SpendState::Reserved => "state open" }) { (s.state.name()) } }
            td { (when(s.time_ms)) }
        }
    }
}

/// `GET /budgets`.
pub fn page(console: &Console, ctx: &Ctx<'_>) -> Resp {
    let lines = match console.view().control(Request::Budget) {
        Response::Budget { budgets } => Ok(budgets),
        Response::Error { message } => Err(message),
        _ => Err("the node gave no budgets".to_string()),
    };
    let (mut charges, mut sums) = (Vec::new(), Charged::new());
    console.view().read_state(&mut |s| {
        charges = s.spends().iter().rev().take(MAX_CHARGES).cloned().collect();
        sums = charged(s.spends());
    });
    let body = html! {
        section #budgets {
            h2 { "This month, per dataset and consumer" }
            p.hint { "A rule with " code { "dp = { … }" } " gives each consumer (the receiver of a job's releases) a budget on each dataset it names, per calendar month (UTC). Each released DP job spends its ρ (zCDP; ε at the budget's δ shown beside it); a running job's reservation counts as spent, a job that failed before opening anything is refunded. The same lines as " code { "indomain job budget" } "." }
            @match &lines {
                Err(e) => p.error { (t(e)) },
                Ok(lines) if lines.is_empty() => p #no-budgets { "No rule of this node's policy sets a DP budget." },
                Ok(lines) => table {
                    thead { tr { th { "Dataset" } th { "Consumer" } th { "Month" } th { "Budget" } th { "Spent" } th { "Left" } th { "" } th { "Rule" } } }
                    tbody { @for l in lines { (line(l, &sums)) } }
                },
            }
        }
        section #charges {
            h2 { "Jobs that charged a budget" }
            @if charges.is_empty() { p { "None: no job has reserved DP budget here." } }
            @else {
                p.hint { "Newest first (at most " (MAX_CHARGES) "), from this node's audit log." }
                table {
                    thead { tr { th { "Job" } th { "Month" } th { "Accounts" } th { "ρ each" } th { "State" } th { "Reserved" } } }
                    tbody { @for s in &charges { (charge(s)) } }
                }
            }
        }
    };
    layout::page(console, ctx, "DP budgets", "/budgets", body)
}
