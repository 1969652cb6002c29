use super::*;

fn numeric(values: &[f64]) -> Column {
    Column::Numeric(values.to_vec())
}

/// The plaintext reference of a numeric binning: every row's bin counted
/// from the edges by hand (edges at or below the value).
fn reference_bins(edges: &[f64], values: &[f64], missing_bin: usize) -> Vec<u16> {
    values
        .iter()
        .map(|&x| {
            if x.is_nan() {
                missing_bin as u16
            } else {
                edges.iter().filter(|&&e| e <= x).count() as u16
            }
        })
        .collect()
}

#[test]
fn quantile_bins_hold_equal_shares_and_missing_values_their_own_bin() {
    // 0..99 shuffled, every 10th value missing.
    let values: Vec<f64> = (0..100)
        .map(|i| {
            if i % 10 == 3 {
                f64::NAN
            } else {
                ((i * 37) % 100) as f64
            }
        })
        .collect();
    let params = BinParams {
        min_share: 0.0,
        ..BinParams::quantile(3)
    };
    let b = bin_column("age", &numeric(&values), &params, "bank.csv").unwrap();
    let BinKind::Numeric { edges } = &b.bins.kind else {
        panic!("numeric")
    };
    let present: Vec<f64> = {
        let mut p: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        p.sort_by(f64::total_cmp);
        p
    };
    // 90 values: edges at sorted positions 30 and 60.
    assert_eq!(edges, &vec![present[30], present[60]]);
    assert!(b.bins.missing);
    assert_eq!(b.bins.bins(), 4);
    assert_eq!(b.index.to_vec(), reference_bins(edges, &values, 3));
    assert_eq!(b.index.counts(4), vec![30, 30, 30, 10]);
    assert_eq!(
        b.bins.labels(),
        vec![
            format!("[-inf, {})", present[30]),
            format!("[{}, {})", present[30], present[60]),
            format!("[{}, +inf)", present[60]),
            "missing".to_string()
        ]
    );
}

#[test]
fn small_bins_merge_to_the_minimum_share() {
    // Equal width over 0..=100 with a long tail: most bins are sparse.
    let mut values: Vec<f64> = (0..95).map(|i| f64::from(i % 10)).collect();
    values.extend([30.0, 50.0, 70.0, 90.0, 100.0]);
    let params = BinParams {
        method: Method::EqualWidth { bins: 10 },
        min_share: 0.05,
        ..BinParams::default()
    };
    let b = bin_column("income", &numeric(&values), &params, "tax.csv").unwrap();
    let counts = b.index.counts(b.bins.bins());
    assert!(counts.iter().all(|&c| c >= 5), "{counts:?}");
    assert_eq!(counts.iter().sum::<u64>(), 100);
    let BinKind::Numeric { edges } = &b.bins.kind else {
        panic!("numeric")
    };
    assert_eq!(b.index.to_vec(), reference_bins(edges, &values, usize::MAX));
    // Without a minimum, the empty middle bins stay.
    let raw = bin_column(
        "income",
        &numeric(&values),
        &BinParams {
            min_share: 0.0,
            ..params
        },
        "tax.csv",
    )
    .unwrap();
    assert_eq!(raw.bins.bins(), 10);
}

#[test]
fn given_edges_and_new_rows() {
    let params = BinParams {
        edges: vec![("x".into(), vec![0.0, 10.0])],
        min_share: 0.0,
        ..BinParams::default()
    };
    let values = [-5.0, 0.0, 5.0, 10.0, 20.0, f64::NAN];
    let b = bin_column("x", &numeric(&values), &params, "f.csv").unwrap();
    assert_eq!(b.index.to_vec(), vec![0, 1, 1, 2, 2, 3]);
    // New rows bin the same way; a missing value needs a missing bin.
    let again = b
        .bins
        .assign(&numeric(&[7.0, f64::NAN]), "new.csv", &[])
        .unwrap();
    assert_eq!(again.to_vec(), vec![1, 3]);
    let no_missing = bin_column("x", &numeric(&values[..5]), &params, "f.csv").unwrap();
    let err = no_missing
        .bins
        .assign(&numeric(&[1.0, f64::NAN]), "new.csv", &[2, 3])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("new.csv, line 3, column x: a missing value"),
        "{err}"
    );
}

#[test]
fn categorical_bins_and_the_category_limit() {
    let cells: Vec<Option<&str>> = ["b", "a", "b", "a", "b", "a", "b", "a", "c", "d", "", "b"]
        .iter()
        .map(|s| (!s.is_empty()).then_some(*s))
        .collect();
    let column = Column::categorical(&cells);
    let params = BinParams {
        min_share: 0.1,
        ..BinParams::default()
    };
    let b = bin_column("city", &column, &params, "tax.csv").unwrap();
    // 12 rows, at least 2 a bin: a, b, {c, d}, missing.
    assert_eq!(
        b.bins.labels(),
        vec!["{a}", "{b}", "{c, d, (unseen)}", "missing"]
    );
    assert_eq!(b.index.to_vec(), vec![1, 0, 1, 0, 1, 0, 1, 0, 2, 2, 3, 1]);
    let unseen = Column::categorical(&[Some("zzz")]);
    assert_eq!(
        b.bins.assign(&unseen, "new.csv", &[]).unwrap().to_vec(),
        vec![2]
    );
    let few = BinParams {
        max_categories: 3,
        ..params
    };
    let err = bin_column("city", &column, &few, "tax.csv")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tax.csv: column \"city\": 4 categories, more than the 3 allowed"),
        "{err}"
    );
    // 300 categories: refused by default.
    let many: Vec<Option<String>> = (0..300).map(|i| Some(format!("c{i}"))).collect();
    let err = bin_column(
        "id_like",
        &Column::categorical(&many),
        &BinParams::default(),
        "t.csv",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("300 categories, more than the 256"), "{err}");
}

#[test]
fn too_few_rows_and_bad_settings_are_refused() {
    let err = bin_column(
        "x",
        &numeric(&[1.0, 2.0, f64::NAN]),
        &BinParams::default(),
        "f.csv",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("2 rows with a value are too few for 10 bins"),
        "{err}"
    );
    let err = bin_column(
        "x",
        &numeric(&[f64::NAN; 3]),
        &BinParams::default(),
        "f.csv",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("every value is missing"), "{err}");
    for bad in [
        BinParams::quantile(1),
        BinParams::quantile(5000),
        BinParams {
            min_share: 0.7,
            ..BinParams::default()
        },
        BinParams {
            edges: vec![("x".into(), vec![2.0, 1.0])],
            ..BinParams::default()
        },
    ] {
        assert!(matches!(bad.check(), Err(LearnError::Params(_))), "{bad:?}");
    }
}

#[test]
fn monotone_merging_applies_to_bins_and_rows() {
    // Five quantile bins of 0..50; events rise except in bin 2.
    let values: Vec<f64> = (0..50).map(f64::from).chain([f64::NAN]).collect();
    let b = bin_column("x", &numeric(&values), &BinParams::quantile(5), "f.csv").unwrap();
    let events = [1.0, 3.0, 2.0, 6.0, 8.0];
    let non_events: Vec<f64> = events.iter().map(|e| 10.0 - e).collect();
    let (blocks, direction) = monotone_blocks(&events, &non_events);
    assert_eq!(direction, Direction::Increasing);
    assert_eq!(blocks, vec![0..1, 1..3, 3..4, 4..5]);
    let merged = b.merge_adjacent(&blocks).unwrap();
    assert_eq!(
        merged.bins.kind,
        BinKind::Numeric {
            edges: vec![10.0, 30.0, 40.0]
        }
    );
    assert_eq!(merged.bins.missing_bin(), Some(4));
    let BinKind::Numeric { edges } = &merged.bins.kind else {
        panic!("numeric")
    };
    assert_eq!(merged.index.to_vec(), reference_bins(edges, &values, 4));
    assert!(b.bins.merge_adjacent(&[0..2, 3..5]).is_err());
}

#[test]
fn a_table_bins_column_by_column() {
    let table = RawTable {
        source: "t.csv".into(),
        ids: (0..40).map(|i| format!("r{i}")).collect(),
        lines: (2..42).collect(),
        feature_names: vec!["n".into(), "c".into()],
        columns: vec![
            numeric(&(0..40).map(f64::from).collect::<Vec<_>>()),
            Column::categorical(
                &(0..40)
                    .map(|i| Some(if i % 2 == 0 { "even" } else { "odd" }))
                    .collect::<Vec<_>>(),
            ),
        ],
        y: None,
    };
    let binned = bin_table(&table, &BinParams::quantile(4)).unwrap();
    assert_eq!(binned[0].bins.bins(), 4);
    assert_eq!(binned[1].bins.bins(), 2);
    let bad = BinParams {
        edges: vec![("nope".into(), vec![1.0])],
        ..BinParams::quantile(4)
    };
    assert!(
        bin_table(&table, &bad)
            .unwrap_err()
            .to_string()
            .contains("\"nope\"")
    );
    // Bin files round-trip through JSON.
    let json = serde_json::to_string(&binned[1].bins).unwrap();
    assert!(json.contains("\"type\":\"categorical\""), "{json}");
    let back: FeatureBins = serde_json::from_str(&json).unwrap();
    assert_eq!(back, binned[1].bins);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any column: every row's bin is the one its edges give, every
        /// value bin holds the minimum share, missing values sit last.
        #[test]
        fn bins_follow_their_edges(
            values in proptest::collection::vec(
                prop_oneof![4 => (-50i32..50).prop_map(f64::from), 1 => Just(f64::NAN)],
                20..200,
            ),
            bins in 2usize..12,
            equal_width in any::<bool>(),
        ) {
            let present = values.iter().filter(|v| !v.is_nan()).count();
            prop_assume!(present >= bins);
            let method = if equal_width {
                Method::EqualWidth { bins }
            } else {
                Method::Quantile { bins }
            };
            let params = BinParams { method, ..BinParams::default() };
            let b = bin_column("x", &numeric(&values), &params, "f.csv").unwrap();
            let BinKind::Numeric { edges } = &b.bins.kind else { panic!("numeric") };
            prop_assert!(edges.windows(2).all(|w| w[0] < w[1]));
            let missing = b.bins.missing_bin().unwrap_or(usize::MAX);
            prop_assert_eq!(b.bins.missing, present < values.len());
            prop_assert_eq!(b.index.to_vec(), reference_bins(edges, &values, missing));
            let counts = b.index.counts(b.bins.bins());
            let min = (0.05 * values.len() as f64).ceil() as u64;
            if b.bins.value_bins() > 1 {
                prop_assert!(counts[..b.bins.value_bins()].iter().all(|&c| c >= min));
            }
        }
    }
}
