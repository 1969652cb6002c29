//! The neighbourhood graph of a round.
//!
//! With k = n − 1 every client neighbours every other (SecAgg). Otherwise
//! clients are placed on a ring in the order of a random permutation drawn
//! from a public seed, and each neighbours the k/2 clients on either side
//! (a Harary graph with random labels, as in SecAgg+). The server draws the
//! seed after the keys are in; every client derives the same graph from it.

use indomain_core::prg::{Prg, Seed};

/// The neighbourhood graph of `n` clients with `k` neighbours each.
#[derive(Debug, Clone)]
pub struct Graph {
    k: usize,
    /// Client at each ring position.
    order: Vec<usize>,
    /// Ring position of each client.
    position: Vec<usize>,
}

impl Graph {
    /// The graph fixed by `seed` (ignored for the complete graph).
    pub fn new(n: usize, k: usize, seed: &Seed) -> Self {
        let mut order: Vec<usize> = (0..n).collect();
        if k < n.saturating_sub(1) {
            let mut stream = vec![0u64; n];
            Prg::new(seed).fill(&mut stream);
            // Fisher–Yates; the modulo bias is below n/2^64.
            for i in (1..n).rev() {
                let j = (stream[i] % (i as u64 + 1)) as usize;
                order.swap(i, j);
            }
        }
        let mut position = vec![0; n];
        for (p, &c) in order.iter().enumerate() {
            position[c] = p;
        }
        Self { k, order, position }
    }

    /// The neighbours of client `u`, in increasing id order.
    pub fn neighbours(&self, u: usize) -> Vec<usize> {
        let n = self.order.len();
        let mut out: Vec<usize> = if self.k >= n.saturating_sub(1) {
            (0..n).filter(|&v| v != u).collect()
        } else {
            let p = self.position[u];
            (1..=self.k / 2)
                .flat_map(|d| [self.order[(p + d) % n], self.order[(p + n - d) % n]])
                .collect()
        };
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The clients within two hops of `u` (neighbours and their
    /// neighbours), `u` excluded, in increasing id order.
    pub fn two_hop(&self, u: usize) -> Vec<usize> {
        let n = self.order.len();
        let mut out: Vec<usize> = if self.k >= n.saturating_sub(1) || 2 * self.k >= n - 1 {
            (0..n).filter(|&v| v != u).collect()
        } else {
            let p = self.position[u];
            (1..=self.k)
                .flat_map(|d| [self.order[(p + d) % n], self.order[(p + n - d) % n]])
                .collect()
        };
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether `u` and `v` are neighbours.
    pub fn adjacent(&self, u: usize, v: usize) -> bool {
        let n = self.order.len();
        if u == v || u >= n || v >= n {
            return false;
        }
        if self.k >= n - 1 {
            return true;
        }
        let d = (self.position[u] + n - self.position[v]) % n;
        d.min(n - d) <= self.k / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nb_of(g: &Graph, u: usize) -> Vec<usize> {
        g.neighbours(u)
            .into_iter()
            .flat_map(|w| g.neighbours(w).into_iter().chain([w]))
            .filter(|&v| v != u)
            .collect()
    }

    #[test]
    fn graph_is_k_regular_and_symmetric() {
        let g = Graph::new(100, 14, &Seed([3; 16]));
        for u in 0..100 {
            let nb = g.neighbours(u);
            assert_eq!(nb.len(), 14);
            for &v in &nb {
                assert!(g.adjacent(u, v) && g.adjacent(v, u));
                assert!(g.neighbours(v).contains(&u));
            }
        }
        let other = Graph::new(100, 14, &Seed([4; 16]));
        assert_ne!(g.neighbours(0), other.neighbours(0));
        for u in [0, 57] {
            let mut two: Vec<usize> = nb_of(&g, u);
            two.sort_unstable();
            two.dedup();
            assert_eq!(g.two_hop(u), two);
        }
        let complete = Graph::new(5, 4, &Seed([0; 16]));
        assert_eq!(complete.neighbours(2), vec![0, 1, 3, 4]);
    }
}
