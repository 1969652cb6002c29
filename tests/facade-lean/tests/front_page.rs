//! Every program of the facade's front page (`src/front/`, shown and run as
//! doctests in the facade's documentation), run again from this outside
//! crate with `default-features = false`. Each program checks its result
//! against the plaintext computation on the same data.

/// A module holding one front-page program and a test that runs its
/// `main`.
macro_rules! front_page {
    ($name:ident, $file:literal) => {
        mod $name {
            include!(concat!("../../../src/front/", $file));

            #[test]
            fn runs_and_matches_the_plaintext() -> Result<(), indomain::Error> {
                main()
            }
        }
    };
}

front_page!(psi, "psi.rs");
front_page!(secure_sum, "secure_sum.rs");
front_page!(statistics, "statistics.rs");
front_page!(dp, "dp.rs");
front_page!(secagg, "secagg.rs");
front_page!(vertical, "vertical.rs");
front_page!(trees, "trees.rs");
front_page!(dot, "dot.rs");

// Private verification needs the facade's `verify` feature (CI turns it on).
#[cfg(feature = "verify")]
front_page!(verification, "verification.rs");
