//! Data grades: the classification every dataset column carries, from
//! `public` (may be published) to `core` (the organisation's most protected
//! data). Policy names grades to say which columns a peer's job may touch.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A column's classification, ordered from least to most protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Grade {
    /// May be published.
    Public,
    /// For use inside the organisation and by authorised partners.
    Internal,
    /// Personal or commercially sensitive data.
    Sensitive,
    /// The organisation's most protected data.
    Core,
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Grade::Public => "public",
            Grade::Internal => "internal",
            Grade::Sensitive => "sensitive",
            Grade::Core => "core",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_are_ordered_and_named() {
        assert!(Grade::Public < Grade::Internal);
        assert!(Grade::Internal < Grade::Sensitive);
        assert!(Grade::Sensitive < Grade::Core);
        assert_eq!(Grade::Core.to_string(), "core");
    }
}
