use indomain::aggregate::secagg::sim::{Dropout, simulate_round};
use indomain::aggregate::secagg::{DropCause, Params, RoundSpec, Step};
use indomain::aggregate::sum::RealEncoding;

fn main() -> Result<(), indomain::Error> {
    // Six clients' model updates; a server learns their sum only.
    let encoding = RealEncoding {
        frac_bits: 16,
        max_abs: 10.0,
    };
    let params = Params::from_spec(RoundSpec {
        clients: 6,
        len: 3,
        encoding,
    })?;
    let updates: Vec<Vec<f64>> = (0..6)
        .map(|c| vec![c as f64, 1.0, -0.5 * c as f64])
        .collect();
    // Client 1 vanishes before its masked update: it is left out of the
    // sum. Client 4 vanishes after sending it: its update is in the sum, and
    // the others' shares remove its masks.
    let mut plan = vec![Dropout::Never; 6];
    plan[1] = Dropout::BeforeMaskedInput;
    plan[4] = Dropout::BeforeUnmasking;
    let round = simulate_round(&params, &updates, &plan, Default::default())?;
    let out = &round.output;
    assert_eq!(out.survivors, [0, 2, 3, 4, 5]);
    let left_out = &out.left_out[0];
    assert_eq!((out.left_out.len(), left_out.client), (1, 1));
    assert_eq!(
        (left_out.step, left_out.cause),
        (Step::MaskedInputs, DropCause::Vanished)
    );
    assert_eq!(out.dropped_after_input[0].client, 4);
    // The sum is the plaintext sum of the survivors' updates.
    for (i, got) in out.sum.iter().enumerate() {
        let plain: f64 = out.survivors.iter().map(|&c| updates[c][i]).sum();
        assert!((got - plain).abs() < 1e-3, "{got} vs {plain}");
    }
    Ok(())
}
