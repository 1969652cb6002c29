//! Every party of a protocol in one process: a thread a party, linked by
//! in-memory channels ([`indomain_net::memory`]). This is how researchers
//! try a protocol and how the examples and tests run; each party still
//! learns only what the protocol gives it, since the threads share nothing
//! but their channels.

use crate::Error;
use indomain_net::PartySet;
use indomain_net::memory::mesh;

/// Runs `party(i, links)` for every party `i` of `names` on its own thread,
/// with a full mesh of in-memory channels, and returns the results in the
/// order of `names`. The first error (by party order) is returned; a party
/// that panics gives [`Error::Panicked`].
///
/// ```
/// use indomain::net::Channel;
///
/// // Party 0 sends its rank to party 1, which echoes it doubled.
/// let got = indomain::local::run(&["a", "b"], |me, mut links| -> Result<u8, indomain::Error> {
///     if me == 0 {
///         links.channel(1)?.send(&[21])?;
///         Ok(links.channel(1)?.recv()?[0])
///     } else {
///         let x = links.channel(0)?.recv()?[0];
///         links.channel(0)?.send(&[2 * x])?;
///         Ok(x)
///     }
/// })?;
/// assert_eq!(got, [42, 21]);
/// # Ok::<(), indomain::Error>(())
/// ```
pub fn run<T, E, F>(names: &[&str], party: F) -> Result<Vec<T>, Error>
where
    T: Send,
    E: Into<Error> + Send,
    F: Fn(usize, PartySet) -> Result<T, E> + Sync,
{
    let sets = mesh(names);
    let party = &party;
    let results: Vec<Result<T, Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = sets
            .into_iter()
            .enumerate()
            .map(|(i, links)| s.spawn(move || party(i, links).map_err(Into::into)))
            .collect();
        handles
            .into_iter()
            .zip(names)
            .map(|(h, name)| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::Panicked {
                        party: name.to_string(),
                    })
                })
            })
            .collect()
    });
    results.into_iter().collect()
}
