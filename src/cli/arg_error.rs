//! Why a party command's arguments were refused ([`ArgError`]): the one
//! error type of the command-line checks that `aggregate`, `train`, `bin`
//! and `predict` share (the party list, --timeout, DP flags, edges), each
//! naming the flag and what it expects.

use indomain_net::NetError;

/// Why the command line of a party command was refused before anything
/// ran.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArgError {
    /// A `--party` entry is not NAME=sha256:<hex>@HOST:PORT.
    #[error("--party {entry:?}: expected NAME=sha256:<64 hex digits>@HOST:PORT")]
    PartyForm {
        /// The entry as given.
        entry: String,
    },
    /// A `--party` entry's certificate part does not parse.
    #[error("--party {entry:?}: {source}")]
    PartyPeer {
        /// The entry as given.
        entry: String,
        /// Why the NAME=sha256:<hex> part is refused.
        source: NetError,
    },
    /// A `--party` entry's address does not resolve.
    #[error("--party {entry:?}: {addr:?} is not a HOST:PORT address")]
    PartyAddr {
        /// The entry as given.
        entry: String,
        /// Its address part.
        addr: String,
    },
    /// A party named by another flag is not in the --party list.
    #[error("{}{name} is not in the --party list ({})", role.map(|r| format!("{r} ")).unwrap_or_default(), listed.join(", "))]
    NotListed {
        /// Which party it should be (`the dealer`), if the flag says.
        role: Option<&'static str>,
        /// The name given.
        name: String,
        /// The names in the --party list.
        listed: Vec<String>,
    },
    /// --timeout is not a positive number of seconds.
    #[error("--timeout: give a positive number of seconds")]
    Timeout,
    /// The progress display could not be set up.
    #[error("the progress display: {0}")]
    Progress(#[from] indicatif::style::TemplateError),
    /// A flag's value is out of its range or malformed.
    #[error("{flag} {value}: {expected}")]
    Value {
        /// The flag.
        flag: &'static str,
        /// The value as given.
        value: String,
        /// What the flag takes.
        expected: &'static str,
    },
    /// A flag was given another number of values than it takes.
    #[error("{flag} takes {expected}, not {given} values")]
    Count {
        /// The flag.
        flag: &'static str,
        /// What it takes (`two bounds LO,HI`).
        expected: &'static str,
        /// How many values were given.
        given: usize,
    },
    /// Flags that do not go together, or one that needs another (the
    /// message says which to add or drop).
    #[error("{0}")]
    Combination(&'static str),
    /// A tree model without --dealer is scored by two parties only.
    #[error(
        "without --dealer, a tree model is scored by exactly two parties (two-party \
         correlations), not {parties}; give --dealer NAME (and list it in --party)"
    )]
    TwoParties {
        /// How many parties were listed.
        parties: usize,
    },
    /// The statistics parameters the flags make are refused.
    #[error(transparent)]
    Aggregate(#[from] indomain_aggregate::AggregateError),
    /// The learning parameters the flags make are refused.
    #[error(transparent)]
    Learn(#[from] indomain_learn::LearnError),
}

/// The position of `name` in `listed`, or [`ArgError::NotListed`].
pub fn position(
    listed: &[String],
    name: &str,
    role: Option<&'static str>,
) -> Result<usize, ArgError> {
    listed
        .iter()
        .position(|n| n == name)
        .ok_or_else(|| ArgError::NotListed {
            role,
            name: name.to_string(),
            listed: listed.to_vec(),
        })
}
