//! Job-spec texts for the plan tests, written once: the `[[parties]]` and
//! `[[outputs]]` tables a spec ends with, parsing as `job submit` does,
//! and line edits.

use crate::error::NodeError;
use crate::jobspec::JobSpec;
use std::path::Path;

/// One `[[parties]]` table: a party with its dataset and columns, or one
/// that reads no data (a dealer or a server).
pub(crate) struct Party<'a> {
    name: &'a str,
    data: Option<(&'a str, &'a [&'a str])>,
}

/// A party that reads `columns` of `dataset`.
pub(crate) fn data<'a>(name: &'a str, dataset: &'a str, columns: &'a [&'a str]) -> Party<'a> {
    Party {
        name,
        data: Some((dataset, columns)),
    }
}

/// A party that reads no data.
pub(crate) fn bare(name: &str) -> Party<'_> {
    Party { name, data: None }
}

/// The text of a spec: `head` (the protocol line and the `[parameters]`
/// table), then a `[[parties]]` table a party and an `[[outputs]]` table a
/// (name, receiver), each after a blank line.
pub(crate) fn spec_text(head: &str, parties: &[Party], outputs: &[(&str, &str)]) -> String {
    let mut text = head.to_string();
    for party in parties {
        text.push_str(&format!("\n[[parties]]\nname = \"{}\"\n", party.name));
        if let Some((dataset, columns)) = party.data {
            let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
            text.push_str(&format!(
                "dataset = \"{dataset}\"\ncolumns = [{}]\n",
                quoted.join(", ")
            ));
        }
    }
    for (name, receiver) in outputs {
        text.push_str(&format!(
            "\n[[outputs]]\nname = \"{name}\"\nreceiver = \"{receiver}\"\n"
        ));
    }
    text
}

/// Parses `text` as the file `job.toml`.
pub(crate) fn parse(text: &str) -> Result<JobSpec, NodeError> {
    JobSpec::from_toml(Path::new("job.toml"), text, None)
}
