//! The differential-privacy budget a node keeps for what it releases: per
//! (dataset, receiver of the release) and calendar month (UTC), a policy
//! budget (ε, δ) converted to zCDP's ρ, from which each released job
//! spends its ρ (zCDP composes by adding ρ, so the month's releases to one
//! receiver are together (ε, δ)-DP at most).
//!
//! Pure logic, no I/O: the node (`daemon/budget.rs`) reserves before any
//! data is read, releases or refunds as the job ends, writes each
//! [`LedgerEvent`] to its audit log, and rebuilds the ledger at start by
//! [`Ledger::apply`]ing the logged events in order.
//!
//! - [`Ledger::reserve`] refuses a job whose ρ alone exceeds the monthly
//!   budget ([`Refusal::ExceedsBudget`]) and one that the month's remaining
//!   budget cannot pay for ([`Refusal::Exhausted`], naming what remains);
//!   a reservation counts against the budget at once, so concurrent jobs
//!   cannot overspend together;
//! - [`Ledger::release`] keeps the reservation as spent (the result went
//!   out); [`Ledger::refund`] returns it (the job failed before release);
//! - a reservation neither released nor refunded when the node stopped
//!   stays spent after [`Ledger::settle_open`]: whether the result went out
//!   is not known, so the budget assumes it did.

use crate::time::utc_year_month;
use indomain_aggregate::dp::accounting::{epsilon_for, rho_for};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// A policy's budget: (ε, δ) per calendar month, for one dataset and one
/// receiver.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MonthlyBudget {
    /// ε of a month's releases together.
    pub epsilon: f64,
    /// δ of a month's releases together.
    pub delta: f64,
}

impl MonthlyBudget {
    /// A budget with ε > 0 finite and δ in (0, 1).
    pub fn new(epsilon: f64, delta: f64) -> Result<Self, LedgerError> {
        if !(epsilon.is_finite() && epsilon > 0.0 && delta > 0.0 && delta < 1.0) {
            return Err(LedgerError::BadBudget { epsilon, delta });
        }
        Ok(MonthlyBudget { epsilon, delta })
    }

    /// The month's ρ.
    pub fn rho(&self) -> f64 {
        rho_for(self.epsilon, self.delta)
    }
}

/// A calendar month, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Month {
    /// The year.
    pub year: i64,
    /// The month, 1–12.
    pub month: u8,
}

impl Month {
    /// The month of a Unix time in seconds.
    pub fn of_unix_secs(secs: u64) -> Month {
        let (year, month) = utc_year_month(secs);
        Month { year, month }
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{:02}", self.year, self.month)
    }
}

/// Whose budget: a dataset of this node and a receiver of its releases.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Account {
    /// The dataset.
    pub dataset: String,
    /// The receiver (a peer's name, or this node's).
    pub receiver: String,
}

/// What remains of a month's budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Remaining {
    /// ρ left (never below 0).
    pub rho: f64,
    /// The ε that ρ gives at the budget's δ.
    pub epsilon: f64,
}

/// One change to the ledger, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LedgerEvent {
    /// A job reserved `rho` on each account, in `month`.
    Reserved {
        /// The job.
        job: String,
        /// The accounts (one per receiver).
        accounts: Vec<Account>,
        /// The month charged.
        month: Month,
        /// ρ per account.
        rho: f64,
    },
    /// The job released its result: its reservation is spent.
    Released {
        /// The job.
        job: String,
    },
    /// The job failed before release: its reservation is returned.
    Refunded {
        /// The job.
        job: String,
    },
}

impl LedgerEvent {
    /// The job the change is about.
    pub fn job(&self) -> &str {
        match self {
            LedgerEvent::Reserved { job, .. }
            | LedgerEvent::Released { job }
            | LedgerEvent::Refunded { job } => job,
        }
    }
}

/// Why a job may not spend.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The job alone asks more than a whole month's budget.
    #[error(
        "the job's release (ρ = {rho:.6}) alone exceeds the monthly DP budget of {account} (ε = {budget_epsilon}, δ = {budget_delta}: ρ = {budget_rho:.6})"
    )]
    ExceedsBudget {
        /// The account.
        account: String,
        /// The job's ρ.
        rho: f64,
        /// The month's ρ.
        budget_rho: f64,
        /// The budget's ε.
        budget_epsilon: f64,
        /// The budget's δ.
        budget_delta: f64,
    },
    /// What remains of the month cannot pay for the job.
    #[error(
        "the DP budget of {account} for {month} is exhausted for this job: it asks ρ = {rho:.6}, {remaining_rho:.6} remains (ε = {remaining_epsilon:.4} at δ = {delta})"
    )]
    Exhausted {
        /// The account.
        account: String,
        /// The month.
        month: Month,
        /// The job's ρ.
        rho: f64,
        /// ρ remaining.
        remaining_rho: f64,
        /// The ε remaining at the budget's δ.
        remaining_epsilon: f64,
        /// The budget's δ.
        delta: f64,
    },
    /// A job of that id holds a reservation already.
    #[error("job {job} has already reserved its DP budget")]
    Duplicate {
        /// The job.
        job: String,
    },
}

/// A ledger event that does not fit the ledger (a damaged or foreign log).
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// A release or refund for a job that holds no open reservation.
    #[error("job {job} holds no open DP reservation")]
    NoReservation {
        /// The job.
        job: String,
    },
    /// A reservation for a job that holds one already.
    #[error("job {job} reserved its DP budget twice")]
    Duplicate {
        /// The job.
        job: String,
    },
    /// A reservation with a ρ that is not a positive number.
    #[error("job {job} reserved ρ = {rho}, not a positive number")]
    BadRho {
        /// The job.
        job: String,
        /// The ρ.
        rho: f64,
    },
    /// A budget with ε ≤ 0, ε not finite, or δ outside (0, 1).
    #[error("DP budget ε = {epsilon}, δ = {delta}: give ε > 0 and δ in (0, 1)")]
    BadBudget {
        /// The ε.
        epsilon: f64,
        /// The δ.
        delta: f64,
    },
}

/// An open reservation.
#[derive(Debug, Clone, PartialEq)]
struct Open {
    accounts: Vec<Account>,
    month: Month,
    rho: f64,
}

/// ρ charged per (account, month), spent and reserved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    charged: BTreeMap<(Account, Month), f64>,
    open: BTreeMap<String, Open>,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// What remains of `budget` for `account` in `month` (reservations
    /// count as spent).
    pub fn remaining(&self, account: &Account, month: Month, budget: &MonthlyBudget) -> Remaining {
        let charged = self
            .charged
            .get(&(account.clone(), month))
            .copied()
            .unwrap_or(0.0);
        let rho = (budget.rho() - charged).max(0.0);
        Remaining {
            rho,
            epsilon: epsilon_for(rho, budget.delta),
        }
    }

    /// Reserves `rho` for `job` on every account (one per receiver) in
    /// `month`, all or none, under one `budget`. Returns the event to log.
    pub fn reserve(
        &mut self,
        job: &str,
        accounts: &[Account],
        month: Month,
        rho: f64,
        budget: &MonthlyBudget,
    ) -> Result<LedgerEvent, Refusal> {
        let each: Vec<(Account, MonthlyBudget)> =
            accounts.iter().map(|a| (a.clone(), *budget)).collect();
        self.reserve_each(job, &each, month, rho)
    }

    /// [`Ledger::reserve`] with each account under its own budget (a job
    /// of the node's own operator, whose receivers' budgets come from
    /// different rules). Returns the event to log.
    pub fn reserve_each(
        &mut self,
        job: &str,
        accounts: &[(Account, MonthlyBudget)],
        month: Month,
        rho: f64,
    ) -> Result<LedgerEvent, Refusal> {
        if self.open.contains_key(job) {
            return Err(Refusal::Duplicate {
                job: job.to_string(),
            });
        }
        for (account, budget) in accounts {
            let name = format!("dataset {} for {}", account.dataset, account.receiver);
            let budget_rho = budget.rho();
            if rho > budget_rho {
                return Err(Refusal::ExceedsBudget {
                    account: name,
                    rho,
                    budget_rho,
                    budget_epsilon: budget.epsilon,
                    budget_delta: budget.delta,
                });
            }
            let left = self.remaining(account, month, budget);
            if rho > left.rho {
                return Err(Refusal::Exhausted {
                    account: name,
                    month,
                    rho,
                    remaining_rho: left.rho,
                    remaining_epsilon: left.epsilon,
                    delta: budget.delta,
                });
            }
        }
        let accounts: Vec<Account> = accounts.iter().map(|(a, _)| a.clone()).collect();
        let event = LedgerEvent::Reserved {
            job: job.to_string(),
            accounts: accounts.clone(),
            month,
            rho,
        };
        self.charge(job, &accounts, month, rho);
        Ok(event)
    }

    /// The job released its result: its reservation stays spent.
    pub fn release(&mut self, job: &str) -> Result<LedgerEvent, LedgerError> {
        self.open
            .remove(job)
            .map(|_| LedgerEvent::Released {
                job: job.to_string(),
            })
            .ok_or_else(|| LedgerError::NoReservation {
                job: job.to_string(),
            })
    }

    /// The job failed before release: its reservation is returned.
    pub fn refund(&mut self, job: &str) -> Result<LedgerEvent, LedgerError> {
        let open = self
            .open
            .remove(job)
            .ok_or_else(|| LedgerError::NoReservation {
                job: job.to_string(),
            })?;
        for account in &open.accounts {
            if let Some(charged) = self.charged.get_mut(&(account.clone(), open.month)) {
                *charged = (*charged - open.rho).max(0.0);
            }
        }
        Ok(LedgerEvent::Refunded {
            job: job.to_string(),
        })
    }

    /// Replays a logged event (at start, in log order). Reservations are
    /// replayed without the budget check: the budget may have changed
    /// since, and what was reserved was reserved.
    pub fn apply(&mut self, event: &LedgerEvent) -> Result<(), LedgerError> {
        match event {
            LedgerEvent::Reserved {
                job,
                accounts,
                month,
                rho,
            } => {
                if self.open.contains_key(job) {
                    return Err(LedgerError::Duplicate { job: job.clone() });
                }
                if !(rho.is_finite() && *rho > 0.0) {
                    return Err(LedgerError::BadRho {
                        job: job.clone(),
                        rho: *rho,
                    });
                }
                self.charge(job, accounts, *month, *rho);
                Ok(())
            }
            LedgerEvent::Released { job } => self.release(job).map(drop),
            LedgerEvent::Refunded { job } => self.refund(job).map(drop),
        }
    }

    /// Whether `job` holds an open reservation.
    pub fn holds(&self, job: &str) -> bool {
        self.open.contains_key(job)
    }

    /// The jobs that hold an open reservation.
    pub fn open_jobs(&self) -> Vec<String> {
        self.open.keys().cloned().collect()
    }

    /// After a replay at start: reservations of jobs that neither released
    /// nor refunded (the node stopped meanwhile) stay spent. Returns those
    /// jobs, for the node to log as released.
    pub fn settle_open(&mut self) -> Vec<String> {
        std::mem::take(&mut self.open).into_keys().collect()
    }

    fn charge(&mut self, job: &str, accounts: &[Account], month: Month, rho: f64) {
        for account in accounts {
            *self.charged.entry((account.clone(), month)).or_default() += rho;
        }
        self.open.insert(
            job.to_string(),
            Open {
                accounts: accounts.to_vec(),
                month,
                rho,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(receiver: &str) -> Account {
        Account {
            dataset: "incomes".into(),
            receiver: receiver.into(),
        }
    }

    const DEC: Month = Month {
        year: 2026,
        month: 12,
    };

    #[test]
    fn months_are_utc_calendar_months() {
        // 2026-12-31T23:59:59Z and one second later.
        assert_eq!(Month::of_unix_secs(1_798_761_599), DEC);
        let jan = Month::of_unix_secs(1_798_761_600);
        assert_eq!((jan.year, jan.month), (2027, 1));
        assert_eq!(jan.to_string(), "2027-01");
        assert_eq!(Month::of_unix_secs(0).to_string(), "1970-01");
    }

    #[test]
    fn jobs_spend_until_the_month_is_exhausted_and_the_refusal_names_what_remains() {
        let budget = MonthlyBudget::new(1.0, 1e-6).unwrap();
        let total = budget.rho();
        let mut ledger = Ledger::new();
        let bank = [account("bank")];
        let job_rho = total * 0.4;
        ledger.reserve("j1", &bank, DEC, job_rho, &budget).unwrap();
        ledger.release("j1").unwrap();
        ledger.reserve("j2", &bank, DEC, job_rho, &budget).unwrap();
        ledger.release("j2").unwrap();
        let left = ledger.remaining(&bank[0], DEC, &budget);
        assert!((left.rho - 0.2 * total).abs() < 1e-12);
        assert!(left.epsilon > 0.0 && left.epsilon < 1.0);
        let refusal = ledger
            .reserve("j3", &bank, DEC, job_rho, &budget)
            .unwrap_err();
        let Refusal::Exhausted { remaining_rho, .. } = &refusal else {
            panic!("{refusal}")
        };
        assert!((remaining_rho - 0.2 * total).abs() < 1e-12);
        let text = refusal.to_string();
        assert!(
            text.contains("exhausted") && text.contains("remains (ε = "),
            "{text}"
        );
        // Another receiver and the next month have their own budgets.
        ledger
            .reserve("j4", &[account("tax")], DEC, job_rho, &budget)
            .unwrap();
        let jan = Month {
            year: 2027,
            month: 1,
        };
        ledger.reserve("j5", &bank, jan, job_rho, &budget).unwrap();
    }

    #[test]
    fn accounts_under_their_own_budgets_are_charged_all_or_none() {
        let wide = MonthlyBudget::new(4.0, 1e-6).unwrap();
        let narrow = MonthlyBudget::new(1.0, 1e-6).unwrap();
        let mut ledger = Ledger::new();
        let each = [(account("bank"), wide), (account("hub"), narrow)];
        let rho = narrow.rho() * 0.6;
        ledger.reserve_each("j1", &each, DEC, rho).unwrap();
        ledger.release("j1").unwrap();
        // The narrow account cannot pay again: nothing is charged anywhere.
        let refusal = ledger.reserve_each("j2", &each, DEC, rho).unwrap_err();
        assert!(
            refusal.to_string().contains("dataset incomes for hub"),
            "{refusal}"
        );
        let bank = ledger.remaining(&account("bank"), DEC, &wide);
        assert!((bank.rho - (wide.rho() - rho)).abs() < 1e-12);
        assert!(!ledger.holds("j2"));
    }

    #[test]
    fn a_job_larger_than_the_whole_budget_is_refused_as_such() {
        let budget = MonthlyBudget::new(1.0, 1e-6).unwrap();
        let mut ledger = Ledger::new();
        let refusal = ledger
            .reserve("big", &[account("bank")], DEC, budget.rho() * 1.01, &budget)
            .unwrap_err();
        assert!(
            matches!(refusal, Refusal::ExceedsBudget { .. }),
            "{refusal}"
        );
        assert!(refusal.to_string().contains("alone exceeds"));
        assert!(MonthlyBudget::new(0.0, 1e-6).is_err());
        assert!(MonthlyBudget::new(1.0, 1.0).is_err());
    }

    #[test]
    fn a_failed_job_is_refunded_and_a_released_one_is_not() {
        let budget = MonthlyBudget::new(5.0, 1e-6).unwrap();
        let mut ledger = Ledger::new();
        let both = [account("bank"), account("tax")];
        let full = ledger.remaining(&both[0], DEC, &budget);
        ledger.reserve("j1", &both, DEC, 0.1, &budget).unwrap();
        // Reserved counts at once, on every receiver.
        for a in &both {
            assert!((ledger.remaining(a, DEC, &budget).rho - (full.rho - 0.1)).abs() < 1e-12);
        }
        assert_eq!(
            ledger.refund("j1").unwrap(),
            LedgerEvent::Refunded { job: "j1".into() }
        );
        assert_eq!(ledger.remaining(&both[1], DEC, &budget), full);
        ledger.reserve("j2", &both, DEC, 0.1, &budget).unwrap();
        ledger.release("j2").unwrap();
        assert!(ledger.refund("j2").is_err());
        assert!(ledger.release("nope").is_err());
        assert!(ledger.remaining(&both[1], DEC, &budget).rho < full.rho);
        // All or none: one receiver's exhaustion reserves nothing.
        let tight = MonthlyBudget::new(0.5, 1e-6).unwrap();
        let mut ledger = Ledger::new();
        let most = tight.rho() * 0.9;
        ledger.reserve("a", &both[1..], DEC, most, &tight).unwrap();
        assert!(ledger.reserve("b", &both, DEC, most, &tight).is_err());
        assert_eq!(ledger.remaining(&both[0], DEC, &tight).rho, tight.rho());
        assert!(matches!(
            ledger.reserve("a", &both[..1], DEC, 0.01, &tight),
            Err(Refusal::Duplicate { .. })
        ));
    }

    #[test]
    fn replaying_the_logged_events_rebuilds_the_ledger_across_a_restart() {
        let budget = MonthlyBudget::new(1.0, 1e-6).unwrap();
        let bank = [account("bank")];
        let mut before = Ledger::new();
        let log = vec![
            before.reserve("j1", &bank, DEC, 0.005, &budget).unwrap(),
            before.release("j1").unwrap(),
            before.reserve("j2", &bank, DEC, 0.004, &budget).unwrap(),
            before.refund("j2").unwrap(),
            before.reserve("j3", &bank, DEC, 0.003, &budget).unwrap(),
        ];
        // The node stops while j3 runs.
        let mut after = Ledger::new();
        for event in &log {
            after.apply(event).unwrap();
        }
        assert_eq!(after, before);
        assert_eq!(after.settle_open(), vec!["j3".to_string()]);
        // j3 stays spent: whether its result went out is not known.
        let left = after.remaining(&bank[0], DEC, &budget);
        assert!((left.rho - (budget.rho() - 0.008)).abs() < 1e-12);
        // A damaged log is an error, not a silent change.
        let mut fresh = Ledger::new();
        assert!(
            fresh
                .apply(&LedgerEvent::Released { job: "x".into() })
                .is_err()
        );
        let bad = LedgerEvent::Reserved {
            job: "y".into(),
            accounts: bank.to_vec(),
            month: DEC,
            rho: f64::NAN,
        };
        assert!(fresh.apply(&bad).is_err());
    }
}
