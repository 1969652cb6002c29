//! Every DP budget charge the log records, job by job (issue #22): what
//! each job reserved on which accounts in which month, and whether it was
//! spent, refunded or is still held. The [`crate::dp_ledger::Ledger`] keeps
//! only the sums it decides with; this list is for the operator's console,
//! to say which jobs spent a budget.

use crate::dp_ledger::{Account, LedgerEvent, Month};
use std::collections::HashMap;

/// Where a job's reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendState {
    /// Reserved by a job that has not ended (counts as spent).
    Reserved,
    /// Spent: the job released its result, or may have.
    Spent,
    /// Refunded: the job failed before anything noisy was opened.
    Refunded,
}

impl SpendState {
    /// `reserved`, `spent` or `refunded`.
    pub fn name(self) -> &'static str {
        match self {
            SpendState::Reserved => "reserved",
            SpendState::Spent => "spent",
            SpendState::Refunded => "refunded",
        }
    }
}

/// One job's charge.
#[derive(Debug, Clone, PartialEq)]
pub struct Spend {
    /// The job, `proposer/id`.
    pub job: String,
    /// The accounts charged (one per receiver).
    pub accounts: Vec<Account>,
    /// The month charged.
    pub month: Month,
    /// ρ per account.
    pub rho: f64,
    /// Where it stands.
    pub state: SpendState,
    /// When the reservation was recorded (Unix milliseconds).
    pub time_ms: u64,
}

/// Every charge, in log order.
#[derive(Debug, Clone, Default)]
pub struct Spends {
    list: Vec<Spend>,
    at: HashMap<String, usize>,
}

impl Spends {
    /// Folds in a budget change recorded at `time_ms`.
    pub fn apply(&mut self, change: &LedgerEvent, time_ms: u64) {
        match change {
            LedgerEvent::Reserved {
                job,
                accounts,
                month,
                rho,
            } => {
                self.at.insert(job.clone(), self.list.len());
                self.list.push(Spend {
                    job: job.clone(),
                    accounts: accounts.clone(),
                    month: *month,
                    rho: *rho,
                    state: SpendState::Reserved,
                    time_ms,
                });
            }
            LedgerEvent::Released { job } => self.settle(job, SpendState::Spent),
            LedgerEvent::Refunded { job } => self.settle(job, SpendState::Refunded),
        }
    }

    fn settle(&mut self, job: &str, state: SpendState) {
        if let Some(&i) = self.at.get(job) {
            self.list[i].state = state;
        }
    }

    /// Every charge, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Spend> {
        self.list.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_follow_their_reservation_to_its_end() {
        let account = Account {
            dataset: "people".into(),
            receiver: "alpha".into(),
        };
        let month = Month {
            year: 2026,
            month: 12,
        };
        let mut s = Spends::default();
        for (job, rho) in [("a/1", 0.1), ("a/2", 0.2), ("a/3", 0.3)] {
            let change = LedgerEvent::Reserved {
                job: job.into(),
                accounts: vec![account.clone()],
                month,
                rho,
            };
            s.apply(&change, 7);
        }
        s.apply(&LedgerEvent::Released { job: "a/1".into() }, 8);
        s.apply(&LedgerEvent::Refunded { job: "a/2".into() }, 9);
        let states: Vec<_> = s.iter().map(|x| (x.job.as_str(), x.state)).collect();
        assert_eq!(
            states,
            [
                ("a/1", SpendState::Spent),
                ("a/2", SpendState::Refunded),
                ("a/3", SpendState::Reserved)
            ]
        );
        assert_eq!(s.iter().nth(1).unwrap().rho, 0.2);
    }
}
