use indomain::prelude::*;
use indomain::psi::{Construction, Items, Job, Mode};

fn main() -> Result<(), Error> {
    // A bank's and a tax bureau's customer ids; they share id-200..id-299.
    let bank: Vec<String> = (0..300).map(|i| format!("id-{i}")).collect();
    let bureau: Vec<String> = (200..500).map(|i| format!("id-{i}")).collect();
    let keys = [Items::from_raw(&bank), Items::from_raw(&bureau)];
    // An intersection runs RR22 (VOLE and OKVS) by default, as on the
    // command line; the result goes to the receiver only.
    let job = Job::new(Mode::Intersection);
    assert_eq!(job.construction, Construction::Rr22);
    let out = local::run(&["bank", "bureau"], |me, mut links| {
        let ch = links.channel(1 - me)?;
        let rng = &mut indomain::rand::rng();
        Ok::<_, Error>(match me {
            0 => job.receive(ch, &keys[0], rng)?,
            _ => job.send(ch, &keys[1], None, rng)?,
        })
    })?;
    // The bank learns which of its rows the bureau has too: the plaintext
    // intersection.
    let matched = out[0]
        .matched
        .as_deref()
        .ok_or("the bank learns the rows")?;
    let mut shared: Vec<&str> = matched.iter().map(|&r| bank[r].as_str()).collect();
    shared.sort_unstable();
    let mut plain: Vec<&str> = bank
        .iter()
        .filter(|k| bureau.contains(k))
        .map(String::as_str)
        .collect();
    plain.sort_unstable();
    assert_eq!(shared, plain);
    // The bureau learns the bank's set size and no row.
    assert_eq!(
        (out[1].matched.as_ref(), out[1].peer_items),
        (None, bank.len())
    );
    Ok(())
}
