//! The structure of a trained forest, as every party of a job knows it:
//! which party splits each node, on which of its features and bins, and
//! where the leaves are. Leaf weights and thresholds in feature units are
//! kept apart: the first at the label holder, the second at each split's
//! owner.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The public shape of one binned feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureShape {
    /// All bins, the missing-value bin included.
    pub bins: u16,
    /// Whether the last bin holds missing values.
    pub missing: bool,
}

impl FeatureShape {
    /// Value bins (without the missing-value bin).
    pub fn value_bins(&self) -> u16 {
        self.bins - self.missing as u16
    }
}

/// A split of one feature: value bins up to `bin` go left, the others
/// right; the missing-value bin goes left if `missing_left`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Threshold {
    /// The feature, by its position among its owner's features.
    pub feature: usize,
    /// The last value bin that goes left.
    pub bin: u16,
    /// Where rows in the missing-value bin go.
    pub missing_left: bool,
}

impl Threshold {
    /// Whether a row in bin `bin` of a feature shaped `shape` goes left.
    pub fn goes_left(&self, bin: u16, shape: FeatureShape) -> bool {
        if shape.missing && bin == shape.value_bins() {
            self.missing_left
        } else {
            bin <= self.bin
        }
    }
}

/// A node of a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Node {
    /// A split by the party of rank `party` (the label holder is rank 0,
    /// then the feature holders in set order).
    Split {
        /// The owner's rank.
        party: usize,
        /// The feature and bins.
        threshold: Threshold,
        /// The left child's node id.
        left: usize,
        /// The right child's node id.
        right: usize,
    },
    /// A leaf; leaves are numbered in node order from 0.
    Leaf {
        /// The leaf's number.
        leaf: usize,
    },
}

/// One tree: node 0 is the root, nodes numbered level by level in the
/// order they were created.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    /// The nodes.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// Number of leaves.
    pub fn leaves(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n, Node::Leaf { .. }))
            .count()
    }

    /// The leaf a row reaches, given a way to decide each split.
    pub fn leaf_of(&self, mut goes_left: impl FnMut(usize, &Threshold) -> bool) -> usize {
        let mut at = 0;
        loop {
            match self.nodes[at] {
                Node::Leaf { leaf } => return leaf,
                Node::Split {
                    party,
                    threshold,
                    left,
                    right,
                } => {
                    at = if goes_left(party, &threshold) {
                        left
                    } else {
                        right
                    }
                }
            }
        }
    }

    /// Checks that node ids point forward and leaves are numbered in
    /// order (what a model file must satisfy before it is used).
    pub fn check(&self) -> Result<(), TreeShapeError> {
        let mut next_leaf = 0;
        for (id, node) in self.nodes.iter().enumerate() {
            match *node {
                Node::Leaf { leaf } => {
                    if leaf != next_leaf {
                        return Err(TreeShapeError::LeafOrder {
                            node: id,
                            leaf,
                            expected: next_leaf,
                        });
                    }
                    next_leaf += 1;
                }
                Node::Split { left, right, .. } => {
                    if left <= id
                        || right <= id
                        || left >= self.nodes.len()
                        || right >= self.nodes.len()
                    {
                        return Err(TreeShapeError::ChildOrder {
                            node: id,
                            left,
                            right,
                        });
                    }
                }
            }
        }
        if self.nodes.is_empty() {
            return Err(TreeShapeError::Empty);
        }
        Ok(())
    }
}

/// Why a tree's node list is unusable ([`Tree::check`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TreeShapeError {
    /// A leaf does not carry the next leaf number in node order.
    #[error("node {node}: leaf {leaf}, expected {expected}")]
    LeafOrder {
        /// The node's id.
        node: usize,
        /// The leaf number it carries.
        leaf: usize,
        /// The number it should carry.
        expected: usize,
    },
    /// A split's children do not point forward to nodes of the tree.
    #[error("node {node}: children {left}, {right} out of order")]
    ChildOrder {
        /// The split's node id.
        node: usize,
        /// Its left child's id.
        left: usize,
        /// Its right child's id.
        right: usize,
    },
    /// The tree has no nodes at all.
    #[error("a tree without nodes")]
    Empty,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_the_node_at_fault() {
        let split = |left, right| Node::Split {
            party: 0,
            threshold: Threshold {
                feature: 0,
                bin: 0,
                missing_left: false,
            },
            left,
            right,
        };
        let leaf = |leaf| Node::Leaf { leaf };
        let ok = Tree {
            nodes: vec![split(1, 2), leaf(0), leaf(1)],
        };
        assert_eq!(ok.check(), Ok(()));
        let cases = [
            (
                vec![split(1, 2), leaf(1), leaf(0)],
                "node 1: leaf 1, expected 0",
            ),
            (
                vec![split(0, 2), leaf(0), leaf(1)],
                "node 0: children 0, 2 out of order",
            ),
            (
                vec![split(1, 3), leaf(0), leaf(1)],
                "node 0: children 1, 3 out of order",
            ),
            (vec![], "a tree without nodes"),
        ];
        for (nodes, want) in cases {
            assert_eq!(Tree { nodes }.check().unwrap_err().to_string(), want);
        }
    }
}
