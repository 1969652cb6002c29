//! A whole binning job and a scorecard's training job, each party in its
//! own thread over in-memory channels: PSI alignment, split, binning, WOE,
//! the scorecard in each mode, and its checks against the plaintext; a
//! binning file from another job is refused; with two parties and no
//! dealer (two-party correlations) binning, the scorecard and its scoring
//! equal the dealer's, the files naming `two-party`.

mod harness;

use harness::run;
use indomain_learn::align::Roles;
use indomain_learn::binning::{BinParams, Column, RawTable};
use indomain_learn::model::{JobParty, PartyRole};
use indomain_learn::scorecard::Scale;
use indomain_learn::scorecard::model::{ScorecardFile, ScorecardJob};
use indomain_learn::scorecard::pipeline::{self as card, ScorecardRun};
use indomain_learn::woe::file::{BinningFile, BinningJob};
use indomain_learn::woe::kernel::MpcKernel;
use indomain_learn::woe::pipeline::{self as binning, BinningRun};
use indomain_learn::woe::protocol::Settings;
use indomain_learn::woe::{Mode, bin_counts, woe_iv};
use indomain_learn::{LearnError, TrainParams};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The bank (labels, two features) and the tax bureau (two features, one
/// with missing values, one categorical), on overlapping ids.
fn tables(rows: usize, seed: u64) -> (RawTable, RawTable) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut bank = RawTable {
        source: "bank.csv".into(),
        ids: Vec::new(),
        lines: Vec::new(),
        feature_names: vec!["age".into(), "balance".into()],
        columns: Vec::new(),
        y: Some(Vec::new()),
    };
    let mut tax = RawTable {
        source: "tax.csv".into(),
        ids: Vec::new(),
        lines: Vec::new(),
        feature_names: vec!["income".into(), "sector".into()],
        columns: Vec::new(),
        y: None,
    };
    let (mut age, mut balance, mut income, mut sector) = (vec![], vec![], vec![], vec![]);
    for i in 0..rows {
        let a: f64 = rng.random_range(18.0..70.0);
        let b: f64 = rng.random_range(0.0..10.0);
        let inc: f64 = rng.random_range(1.0..100.0);
        let sec = ["farm", "trade", "tech"][rng.random_range(0..3)];
        let z = -1.0 - (a - 44.0) / 15.0 + (b - 5.0) / 4.0 - (inc - 50.0) / 30.0
            + if sec == "tech" { -0.5 } else { 0.3 };
        let y = (rng.random::<f64>() < 1.0 / (1.0 + (-z).exp())) as u8 as f64;
        if i % 10 != 0 {
            bank.ids.push(format!("c{i}"));
            bank.lines.push(i as u64 + 2);
            age.push(a);
            balance.push(b);
            bank.y.as_mut().unwrap().push(y);
        }
        if i % 7 != 0 {
            tax.ids.push(format!("c{i}"));
            tax.lines.push(i as u64 + 2);
            income.push(if i % 13 == 0 { f64::NAN } else { inc });
            sector.push(Some(sec));
        }
    }
    bank.columns = vec![Column::Numeric(age), Column::Numeric(balance)];
    tax.columns = vec![Column::Numeric(income), Column::categorical(&sector)];
    (bank, tax)
}

/// p0 (labels), p1 (features) and, with `dealer`, p2 dealing; without,
/// the two generate the correlations themselves.
fn parties(dealer: bool) -> Vec<JobParty> {
    let n = 2 + usize::from(dealer);
    ["p0", "p1", "p2"][..n]
        .iter()
        .zip([PartyRole::Label, PartyRole::Feature, PartyRole::Dealer])
        .map(|(n, role)| JobParty {
            name: n.to_string(),
            role,
        })
        .collect()
}

/// The roles of [`parties`].
fn roles(dealer: bool) -> Roles {
    Roles::new(2 + usize::from(dealer), 0, dealer.then_some(2)).unwrap()
}

fn bin(bank: &RawTable, tax: &RawTable, settings: Settings) -> Vec<Option<BinningFile>> {
    bin_with(bank, tax, settings, true)
}

fn bin_with(
    bank: &RawTable,
    tax: &RawTable,
    settings: Settings,
    dealer: bool,
) -> Vec<Option<BinningFile>> {
    let params = BinParams::default();
    let job = BinningJob {
        parties: parties(dealer),
        id_column: "id".into(),
        test_fraction: 0.25,
        seed: 3,
        method: params.method,
        min_share: params.min_share,
        max_categories: params.max_categories,
        settings,
        nonce: String::new(),
    };
    let roles = roles(dealer);
    let (out, _) = run(2 + usize::from(dealer), |set| {
        let me = set.me();
        let table = [Some(bank), Some(tax), None][me];
        let r = BinningRun {
            job: job.clone(),
            roles: roles.clone(),
            min_rows: 10,
            edges: Vec::new(),
        };
        binning::run(
            set,
            &r,
            Ok(table),
            &mut MpcKernel::default(),
            &mut rand::rng(),
            &mut |_| {},
        )
        .unwrap()
        .file
    });
    out
}

fn card_job(min_iv: f64, dealer: bool) -> ScorecardJob {
    ScorecardJob {
        binning_hash: String::new(),
        mode: Mode::Default,
        parties: parties(dealer),
        id_column: "id".into(),
        test_fraction: 0.0,
        seed: 0,
        min_iv,
        scale: Scale::default(),
        params: TrainParams::gradient_descent(30, 1.0),
        nonce: String::new(),
    }
}

fn train(
    bank: &RawTable,
    tax: &RawTable,
    files: &[Option<BinningFile>],
    min_iv: f64,
) -> Vec<Result<Option<ScorecardFile>, LearnError>> {
    let dealer = files.len() == 3;
    let roles = roles(dealer);
    let (out, _) = run(files.len(), |set| {
        let me = set.me();
        let table = [Some(bank), Some(tax), None][me];
        let r = ScorecardRun {
            job: card_job(min_iv, dealer),
            roles: roles.clone(),
            min_rows: 10,
        };
        let file = files[me].as_ref().map(|f| (f, "binning.json"));
        card::run(set, &r, file, Ok(table), &mut rand::rng()).map(|f| f.file)
    });
    out
}

#[test]
fn binning_then_scorecard_in_every_mode() {
    let (bank, tax) = tables(2400, 4);
    for mode in [Mode::Default, Mode::Strict, Mode::OwnerTransform] {
        let files = bin(
            &bank,
            &tax,
            Settings {
                mode,
                ..Settings::default()
            },
        );
        let (lead, owner) = (files[0].clone().unwrap(), files[1].clone().unwrap());
        assert!(files[2].is_none());
        assert_eq!(lead.job_hash, owner.job_hash);
        assert_eq!(
            lead.rows.train + lead.rows.test,
            owner.rows.train + owner.rows.test
        );
        // The label holder's own WOE equals the plaintext of its counts.
        for f in &lead.features {
            let w = woe_iv(f.events.as_ref().unwrap(), f.non_events.as_ref().unwrap());
            assert_eq!(f.woe.as_ref(), Some(&w.woe));
        }
        assert_eq!(
            owner.features.iter().all(|f| f.woe.is_some()),
            mode == Mode::OwnerTransform
        );
        assert!(owner.features.iter().all(|f| f.events.is_none()));
        assert_eq!(lead.woe_shares.is_some(), mode == Mode::Strict);
        // IV report: all four features at the label holder, two at the owner.
        assert_eq!(lead.iv_ranking().len(), 4);
        assert_eq!(owner.iv_ranking().len(), 2);

        let cards = train(&bank, &tax, &files, 0.0);
        let cards: Vec<Option<ScorecardFile>> = cards.into_iter().map(Result::unwrap).collect();
        let (lc, oc) = (cards[0].clone().unwrap(), cards[1].clone().unwrap());
        let e = lc.evaluation.unwrap();
        assert!(e.auc > 0.7, "{mode:?}: AUC {}", e.auc);
        assert_eq!(oc.evaluation, lc.evaluation);
        assert_eq!(lc.sizes, oc.sizes);
        // Points readable at the label holder: the plaintext points of the
        // weights it knows, and a points table.
        let m = lc.features.len() + lc.foreign.len();
        let b = lc.intercept.unwrap();
        for f in &lc.features {
            let want = lc
                .job
                .scale
                .points(f.weight.unwrap(), f.woe.as_ref().unwrap(), b, m);
            for (p, w) in f.points.as_ref().unwrap().iter().zip(&want) {
                assert!((p - w).abs() < 0.05, "{p} vs {w}");
            }
        }
        let readable_foreign = lc.foreign.iter().all(|f| f.points.is_some());
        assert_eq!(readable_foreign, mode != Mode::Strict);
        assert!(oc.features.iter().all(|f| f.points.is_none()));
        let table = lc.points_table().unwrap();
        assert!(table.starts_with("party,feature,bin,woe,points\n"));
        assert_eq!(table.contains("bin 1"), mode != Mode::Strict);
        assert!(lc.score_bands.is_some() && oc.score_bands.is_none());
    }
}

#[test]
fn a_binning_file_from_another_job_is_refused() {
    let (bank, tax) = tables(600, 5);
    let first = bin(&bank, &tax, Settings::default());
    let second = bin(&bank, &tax, Settings::default());
    let mixed = vec![first[0].clone(), second[1].clone(), None];
    let out = train(&bank, &tax, &mixed, 0.0);
    let owner = out[1].as_ref().unwrap_err().to_string();
    assert!(
        owner.contains("binning.json") && owner.contains("binning file of job"),
        "{owner}"
    );
    for r in [&out[0], &out[2]] {
        let e = r.as_ref().unwrap_err().to_string();
        assert!(e.contains("p1 refused"), "{e}");
    }
    // And a threshold no feature reaches stops every party.
    let out = train(&bank, &tax, &first, 10.0);
    assert!(
        out[0]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("--min-iv")
    );
}

#[test]
fn counts_of_the_label_holder_match_its_rows() {
    let (bank, tax) = tables(600, 6);
    let files = bin(&bank, &tax, Settings::default());
    let lead = files[0].clone().unwrap();
    for f in &lead.features {
        let e: u64 = f.events.as_ref().unwrap().iter().sum();
        let n: u64 = f.non_events.as_ref().unwrap().iter().sum();
        assert_eq!((e + n) as usize, lead.rows.train);
        assert_eq!(f.rows.iter().sum::<u64>() as usize, lead.rows.train);
    }
    let _ = bin_counts;
}

fn predict(
    bank: &RawTable,
    tax: &RawTable,
    cards: &[Option<ScorecardFile>],
) -> Vec<card::Predicted> {
    let roles = roles(cards.len() == 3);
    let (out, _) = run(cards.len(), |set| {
        let me = set.me();
        let table = [Some(bank), Some(tax), None][me];
        let c = cards[me].as_ref().map(|c| (c, "card.json"));
        card::predict(set, &roles, c, Ok(table), &mut rand::rng()).unwrap()
    });
    out
}

#[test]
fn joint_scoring_and_stability_equal_the_plaintext() {
    let (bank, tax) = tables(2000, 8);
    let files = bin(&bank, &tax, Settings::default());
    let cards: Vec<Option<ScorecardFile>> = train(&bank, &tax, &files, 0.0)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    // A new batch: the same customers, the bureau's incomes shifted up.
    let mut shifted = tax.clone();
    if let Column::Numeric(v) = &mut shifted.columns[0] {
        v.iter_mut().for_each(|x| *x += 35.0);
    }
    let out = predict(&bank, &shifted, &cards);
    let (lc, oc) = (cards[0].as_ref().unwrap(), cards[1].as_ref().unwrap());
    let scores = out[0].scores.as_ref().unwrap();
    assert!(out[1].scores.is_none() && out[2].scores.is_none());
    assert_eq!(out[0].ids, out[1].ids);
    // The plaintext: each row's bins (both parties' files) and the points
    // the label holder reads.
    let bins_of = |t: &RawTable, c: &ScorecardFile, ids: &[String]| -> Vec<Vec<usize>> {
        let rows: Vec<usize> = ids
            .iter()
            .map(|id| t.ids.iter().position(|x| x == id).unwrap())
            .collect();
        let sel = t.select(&rows);
        c.features
            .iter()
            .zip(&sel.columns)
            .map(|(f, col)| {
                let idx = f.bins.assign(col, "t", &[]).unwrap();
                (0..rows.len()).map(|r| idx.get(r)).collect()
            })
            .collect()
    };
    let own = bins_of(&bank, lc, &out[0].ids);
    let theirs = bins_of(&shifted, oc, &out[0].ids);
    for (r, s) in scores.iter().enumerate() {
        let mut want = 0.0;
        for (f, b) in lc.features.iter().zip(&own) {
            want += f.points.as_ref().unwrap()[b[r]];
        }
        for (f, b) in lc.foreign.iter().zip(&theirs) {
            want += f.points.as_ref().unwrap()[b[r]];
        }
        assert!((s - want).abs() < 0.01, "row {r}: {s} vs {want}");
    }
    // Stability: the owner's per feature, the label holder's on the score.
    for ((name, psi), (f, b)) in out[1].stability.iter().zip(oc.features.iter().zip(&theirs)) {
        assert_eq!(name, &f.bins.name);
        let mut counts = vec![0u64; f.bins.bins()];
        b.iter().for_each(|&x| counts[x] += 1);
        assert_eq!(*psi, indomain_learn::stability::index(&f.rows, &counts));
    }
    assert!(out[1].stability[0].1 > 0.25, "{:?}", out[1].stability);
    let bands = lc.score_bands.as_ref().unwrap();
    assert_eq!(out[0].score_stability, Some(bands.index(scores)));
    assert!(out[1].score_stability.is_none());
}

#[test]
fn without_a_dealer_binning_the_scorecard_and_scoring_equal_the_dealers() {
    let (bank, tax) = tables(1200, 9);
    let settings = Settings::default();
    let (alone, dealt) = (
        bin_with(&bank, &tax, settings, false),
        bin_with(&bank, &tax, settings, true),
    );
    assert_eq!(alone.len(), 2, "two parties, no third");
    for (a, d) in alone.iter().zip(&dealt) {
        let (a, d) = (a.as_ref().unwrap(), d.as_ref().unwrap());
        assert_eq!(a.correlations.as_deref(), Some("two-party"));
        assert_eq!(d.correlations.as_deref(), Some("dealer p2"));
        // The counts are opened exactly: the same IVs and WOE.
        let ivs = |f: &BinningFile| f.iv_ranking().iter().map(|l| l.iv).collect::<Vec<_>>();
        for (x, y) in ivs(a).iter().zip(&ivs(d)) {
            assert!((x - y).abs() < 1e-9, "IV {x} vs {y}");
        }
        assert_eq!(
            a.features.iter().map(|f| f.woe.clone()).collect::<Vec<_>>(),
            d.features.iter().map(|f| f.woe.clone()).collect::<Vec<_>>()
        );
    }
    let cards = |files: &[Option<BinningFile>]| -> Vec<Option<ScorecardFile>> {
        train(&bank, &tax, files, 0.0)
            .into_iter()
            .map(Result::unwrap)
            .collect()
    };
    let (ca, cd) = (cards(&alone), cards(&dealt));
    let (la, ld) = (ca[0].as_ref().unwrap(), cd[0].as_ref().unwrap());
    for c in ca.iter().flatten() {
        assert_eq!(c.correlations.as_deref(), Some("two-party"));
    }
    assert_eq!(ld.correlations.as_deref(), Some("dealer p2"));
    // The same fixed-point training: intercept, weights and readable points
    // within the last bits of the probabilistic truncations.
    assert!((la.intercept.unwrap() - ld.intercept.unwrap()).abs() < 1e-3);
    let points = |c: &ScorecardFile| -> Vec<f64> {
        let own = c.features.iter().flat_map(|f| f.points.clone().unwrap());
        own.chain(c.foreign.iter().flat_map(|f| f.points.clone().unwrap()))
            .collect()
    };
    let (pa, pd) = (points(la), points(ld));
    assert_eq!(pa.len(), pd.len());
    for (x, y) in pa.iter().zip(&pd) {
        assert!((x - y).abs() < 0.05, "points {pa:?} vs {pd:?}");
    }
    let (ea, ed) = (
        la.evaluation.as_ref().unwrap(),
        ld.evaluation.as_ref().unwrap(),
    );
    assert!(
        (ea.auc - ed.auc).abs() < 0.01,
        "AUC {} vs {}",
        ea.auc,
        ed.auc
    );
    // Joint scoring without a dealer: the dealer's scores.
    let (sa, sd) = (predict(&bank, &tax, &ca), predict(&bank, &tax, &cd));
    assert_eq!(sa[0].ids, sd[0].ids);
    for (x, y) in sa[0]
        .scores
        .as_ref()
        .unwrap()
        .iter()
        .zip(sd[0].scores.as_ref().unwrap())
    {
        assert!((x - y).abs() < 0.1, "score {x} vs {y}");
    }
    assert!(sa[1].scores.is_none());
}
