//! One key encoding: a party that built its set with `Items::from_raw` and
//! one that used one-column `Items::push_columns` find the plaintext
//! intersection, whichever of them is the receiver and by either
//! construction (before, the column form was length-prefixed and such a
//! pair silently found nothing).

mod common;

use common::{check, sets};
use indomain_net::memory::pair;
use indomain_psi::{Construction, Items, Job, Mode, session};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn raw(keys: &[String]) -> Items {
    Items::from_raw(keys)
}

fn columns(keys: &[String]) -> Items {
    let mut items = Items::new();
    keys.iter().for_each(|k| items.push_columns(&[k]));
    items
}

#[test]
fn raw_and_one_column_sets_intersect_in_both_roles() {
    let (x, y, values) = sets(11, 30, 20, 25);
    type Build = fn(&[String]) -> Items;
    let builds: [(Build, Build); 2] = [(columns, raw), (raw, columns)];
    for construction in [Construction::Ecdh, Construction::Rr22] {
        let job = Job::new(Mode::Intersection).with_construction(construction);
        for (receiver_items, sender_items) in builds {
            let (rx, sy) = (receiver_items(&x), sender_items(&y));
            let (mut a, mut b) = pair("receiver", "sender");
            let (r, s) = std::thread::scope(|t| {
                let r = t.spawn(|| {
                    let rng = &mut StdRng::seed_from_u64(1);
                    session::receiver(&mut a, &job, &rx, rng, &mut |_| {})
                });
                let s = t.spawn(|| {
                    let rng = &mut StdRng::seed_from_u64(2);
                    session::sender(&mut b, &job, &sy, None, rng, &mut |_| {})
                });
                (r.join().unwrap(), s.join().unwrap())
            });
            let (r, s) = (r.unwrap(), s.unwrap());
            assert_eq!(r.intersection_size, Some(25), "{construction}");
            check(&job, &x, &y, &values, &r, &s);
        }
    }
}
