use super::test_specs::{bare, data, parse, spec_text};
use super::*;
use crate::jobspec::Param;
use indomain_aggregate::stats::CountDecision;
use indomain_psi::{Mode, Reveal};
use std::sync::LazyLock;

fn psi_spec() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        spec_text(
            r#"
protocol = "psi-intersection"

[parameters]
min_intersection = 10
"#,
            &[
                data("bank", "customers", &["id"]),
                data("tax", "taxpayers", &["id"]),
            ],
            &[("intersection", "bank")],
        )
    });
    &TEXT
}

fn psi_sum_spec() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        spec_text(
            r#"
protocol = "psi-sum"

[parameters]
value_column = "paid"
"#,
            &[
                data("bank", "customers", &["id"]),
                data("tax", "taxpayers", &["id", "paid"]),
            ],
            &[
                ("cardinality", "bank"),
                ("cardinality", "tax"),
                ("sum", "tax"),
            ],
        )
    });
    &TEXT
}

fn aggregate_spec() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        spec_text(
            r#"
protocol = "aggregate"

[parameters]
statistic = "histogram"
bins = "0,10,20"
group_by = "region"
categories = "north,south"
min_group_size = 5
dealer = "stats"
"#,
            &[
                data("bank", "customers", &["region", "income"]),
                data("tax", "taxpayers", &["region", "income"]),
                bare("stats"),
            ],
            &[("statistics", "bank")],
        )
    });
    &TEXT
}

fn train_spec() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        spec_text(
            r#"
protocol = "train"

[parameters]
label_holder = "bank"
dealer = "stats"
id_column = "id"
label_column = "y"
epochs = 10
learning_rate = 0.25
min_group_size = 30
"#,
            &[
                data("bank", "customers", &["id", "y", "age"]),
                data("tax", "taxpayers", &["id", "income"]),
                bare("stats"),
            ],
            &[("model", "bank"), ("model", "tax"), ("metrics", "bank")],
        )
    });
    &TEXT
}

fn predict_spec() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        spec_text(
            r#"
protocol = "predict"

[parameters]
model = "credit-1"
min_group_size = 5
"#,
            &[
                data("bank", "applicants", &["id", "age"]),
                data("tax", "taxpayers", &["id", "income"]),
            ],
            &[("predictions", "bank")],
        )
    });
    &TEXT
}

fn trees_spec() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        spec_text(
            r#"
protocol = "train"

[parameters]
algorithm = "gbdt"
label_holder = "bank"
dealer = "stats"
id_column = "id"
label_column = "y"
trees = 5
max_depth = 3
bins = 16
"#,
            &[
                data("bank", "customers", &["id", "y", "age", "region"]),
                data("tax", "taxpayers", &["id", "income"]),
                bare("stats"),
            ],
            &[
                ("model", "bank"),
                ("model", "tax"),
                ("metrics", "bank"),
                ("metrics", "tax"),
            ],
        )
    });
    &TEXT
}

fn binning_spec() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        spec_text(
            r#"
protocol = "binning"

[parameters]
label_holder = "bank"
dealer = "stats"
id_column = "id"
label_column = "y"
bins = 8
"#,
            &[
                data("bank", "customers", &["id", "y", "age"]),
                data("tax", "taxpayers", &["id", "income", "sector"]),
                bare("stats"),
            ],
            &[("binning", "bank"), ("binning", "tax"), ("iv", "bank")],
        )
    });
    &TEXT
}

fn scorecard_spec() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        spec_text(
            r#"
protocol = "train"

[parameters]
algorithm = "scorecard"
label_holder = "bank"
dealer = "stats"
id_column = "id"
label_column = "y"
binning = "bins-1"
"#,
            &[
                data("bank", "customers", &["id", "y", "age"]),
                data("tax", "taxpayers", &["id", "income"]),
                bare("stats"),
            ],
            &[
                ("model", "bank"),
                ("model", "tax"),
                ("metrics", "bank"),
                ("metrics", "tax"),
            ],
        )
    });
    &TEXT
}

fn plan(text: &str) -> JobPlan {
    parse(text).unwrap().plan().unwrap()
}

/// `text` with `[parameters]` line `key = value` set (replaced or added).
fn with_param(text: &str, key: &str, value: &str) -> String {
    let mut out = String::new();
    let mut done = false;
    for line in text.lines() {
        if line.starts_with(&format!("{key} =")) {
            out.push_str(&format!("{key} = {value}\n"));
            done = true;
        } else {
            out.push_str(line);
            out.push('\n');
            if line == "[parameters]" && !text.contains(&format!("\n{key} =")) {
                out.push_str(&format!("{key} = {value}\n"));
                done = true;
            }
        }
    }
    assert!(done, "{key}");
    out
}

/// The 1-based line of `key = ` in `text`.
fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(&format!("{key} =")))
        .unwrap()
        + 1
}

#[test]
fn every_job_types_plan_refuses_out_of_range_parameters_at_both_ends() {
    let table: &[(&str, &str, &str, &str)] = &[
        (psi_spec(), "min_intersection", "-1", "must be 0 to"),
        (
            psi_spec(),
            "min_intersection",
            "\"10\"",
            "must be an integer",
        ),
        (psi_spec(), "max_peer_items", "0", "must be 1 to"),
        (psi_spec(), "max_peer_items", "134217728", "must be 1 to"),
        (
            psi_spec(),
            "min_intersect",
            "10",
            "take no parameter \"min_intersect\"",
        ),
        (
            psi_sum_spec(),
            "value_column",
            "\"amount\"",
            "does not list value_column",
        ),
        (psi_sum_spec(), "min_intersection", "-3", "must be 0 to"),
        (
            psi_sum_spec(),
            "max_peer_items",
            "1e9",
            "must be an integer",
        ),
        (
            aggregate_spec(),
            "statistic",
            "\"median\"",
            "use count or sum",
        ),
        (aggregate_spec(), "min_group_size", "2", "must be 3 to"),
        (aggregate_spec(), "frac_bits", "60", "must be 0 to 48"),
        (aggregate_spec(), "max_abs", "0", "must be positive"),
        (aggregate_spec(), "bins", "\"0,ten,20\"", "parameter bins"),
        (
            aggregate_spec(),
            "open_counts_to_decider",
            "\"yes\"",
            "must be true or false",
        ),
        (aggregate_spec(), "dealer", "\"nobody\"", "names no dataset"),
        (
            aggregate_spec(),
            "groupby",
            "\"region\"",
            "take no parameter \"groupby\"",
        ),
        (train_spec(), "epochs", "0", "must be 1 to 100000"),
        (train_spec(), "epochs", "100001", "must be 1 to 100000"),
        (train_spec(), "epochs", "\"20\"", "must be an integer"),
        (
            train_spec(),
            "learning_rate",
            "20.0",
            "learning rate must be in (0, 16]",
        ),
        (train_spec(), "l2", "-1", "L2 strength must be in [0, 16]"),
        (train_spec(), "frac_bits", "30", "8 to 20 fractional bits"),
        (
            train_spec(),
            "test_fraction",
            "1.0",
            "must be between 0 and 1",
        ),
        (train_spec(), "batch_size", "0", "must be 1 to"),
        (
            train_spec(),
            "task",
            "\"poisson\"",
            "use logistic or linear",
        ),
        (
            train_spec(),
            "sigmoid",
            "\"tanh\"",
            "use fourier or linear or clamped",
        ),
        (train_spec(), "seed", "-1", "must be 0 to"),
        (train_spec(), "min_rows", "0", "must be 1 to"),
        (
            train_spec(),
            "contribution",
            "\"yes\"",
            "must be true or false",
        ),
        (train_spec(), "label_column", "\"id\"", "not the id column"),
        (
            train_spec(),
            "label_holder",
            "\"stats\"",
            "two different parties",
        ),
        (train_spec(), "epoch", "5", "take no parameter \"epoch\""),
        (
            train_spec(),
            "algorithm",
            "\"forest\"",
            "use linear or gbdt or scorecard",
        ),
        (trees_spec(), "trees", "0", "must be 1 to 10000"),
        (trees_spec(), "trees", "10001", "must be 1 to 10000"),
        (trees_spec(), "max_depth", "0", "must be 1 to 10"),
        (trees_spec(), "max_depth", "11", "must be 1 to 10"),
        (trees_spec(), "bins", "1", "must be 2 to 1024"),
        (trees_spec(), "bins", "5000", "must be 2 to 1024"),
        (trees_spec(), "learning_rate", "0", "must be in (0, 1]"),
        (trees_spec(), "learning_rate", "1.5", "must be in (0, 1]"),
        (trees_spec(), "lambda", "0", "must be 1/64 to 10^4"),
        (trees_spec(), "gamma", "-1", "must be 0 to 10^6"),
        (trees_spec(), "min_child_weight", "1e7", "must be 0 to 10^6"),
        (trees_spec(), "subsample", "0", "must be in (0, 1]"),
        (trees_spec(), "frac_bits", "30", "must be 12 to 20"),
        (trees_spec(), "early_stopping", "0", "must be 1 to"),
        (
            trees_spec(),
            "validation_fraction",
            "0.2",
            "goes with early_stopping",
        ),
        (
            trees_spec(),
            "test_fraction",
            "0",
            "must be between 0 and 1",
        ),
        (
            trees_spec(),
            "task",
            "\"poisson\"",
            "use logistic or linear",
        ),
        (
            trees_spec(),
            "categorical",
            "\"sector\"",
            "no data party lists column",
        ),
        (trees_spec(), "epochs", "5", "take no parameter \"epochs\""),
        (
            trees_spec(),
            "label_holder",
            "\"stats\"",
            "two different parties",
        ),
        (binning_spec(), "bins", "1", "must be 2 to 1024"),
        (binning_spec(), "bins", "1025", "must be 2 to 1024"),
        (
            binning_spec(),
            "mode",
            "\"open\"",
            "use default or strict or owner-transform",
        ),
        (
            binning_spec(),
            "method",
            "\"kmeans\"",
            "use quantile or equal-width",
        ),
        (binning_spec(), "min_share", "0.5", "must be 0 to 0.5"),
        (binning_spec(), "max_categories", "0", "must be 1 to 65535"),
        (
            binning_spec(),
            "max_categories",
            "70000",
            "must be 1 to 65535",
        ),
        (binning_spec(), "min_events", "-1", "must be 0 to"),
        (binning_spec(), "frac_bits", "4", "must be 8 to 20"),
        (
            binning_spec(),
            "test_fraction",
            "1",
            "must be at least 0 and below 1",
        ),
        (
            binning_spec(),
            "monotone",
            "\"yes\"",
            "must be true or false",
        ),
        (binning_spec(), "trees", "5", "take no parameter \"trees\""),
        (
            binning_spec(),
            "dealer",
            "\"tax\"",
            "is the dealer, which reads no data",
        ),
        (
            scorecard_spec(),
            "binning",
            "\"../bins\"",
            "is not a job id",
        ),
        (scorecard_spec(), "epochs", "0", "must be 1 to 100000"),
        (scorecard_spec(), "epochs", "100001", "must be 1 to 100000"),
        (scorecard_spec(), "min_iv", "-0.1", "must be 0 or more"),
        (scorecard_spec(), "pdo", "0", "must be in (0, 10^4]"),
        (scorecard_spec(), "base_odds", "-50", "must be positive"),
        (
            scorecard_spec(),
            "sigmoid",
            "\"fourier\"",
            "use linear or clamped",
        ),
        (
            scorecard_spec(),
            "learning_rate",
            "20",
            "must be in (0, 16]",
        ),
        (
            scorecard_spec(),
            "trees",
            "5",
            "take no parameter \"trees\"",
        ),
        (
            predict_spec(),
            "algorithm",
            "\"forest\"",
            "use linear or gbdt or scorecard",
        ),
        (
            predict_spec(),
            "algorithm",
            "\"gbdt\"",
            "scored with a dealer",
        ),
        (
            predict_spec(),
            "dealer",
            "\"tax\"",
            "is the dealer, which reads no data",
        ),
        (predict_spec(), "model", "\"../train\"", "is not a job id"),
        (predict_spec(), "min_group_size", "-1", "must be 0 to"),
        (
            predict_spec(),
            "label_holder",
            "\"tax\"",
            "only the label holder (tax)",
        ),
        (
            predict_spec(),
            "label_holder",
            "\"nobody\"",
            "is not a party of the job",
        ),
    ];
    for &(base, key, value, expected) in table {
        // At `job submit`: the TOML, refused on the parameter's line when
        // the refusal is about one parameter.
        let text = with_param(base, key, value);
        let message = parse(&text).unwrap_err().to_string();
        assert!(message.contains(expected), "{key} = {value}: {message}");
        let on_line = format!("job.toml:{}:", line_of(&text, key));
        assert!(
            message.starts_with(&on_line) || message.starts_with("job.toml: ") || key == "dealer",
            "{key} = {value}: {message}"
        );
        // At a peer, before it decides: the same spec as JSON.
        let mut json = parse(base).unwrap();
        let parsed = toml::from_str::<toml::Table>(&format!("v = {value}")).unwrap()["v"].clone();
        json.parameters.insert(
            key.to_string(),
            match parsed {
                toml::Value::Integer(i) => Param::Int(i),
                toml::Value::Float(x) => Param::Float(x),
                toml::Value::Boolean(b) => Param::Bool(b),
                toml::Value::String(s) => Param::Text(s),
                other => panic!("{other}"),
            },
        );
        let message = json.validate().unwrap_err().to_string();
        assert!(
            message.contains(expected),
            "{key} = {value} (JSON): {message}"
        );
    }
}

#[test]
fn refusals_about_one_parameter_name_its_line() {
    let text = with_param(train_spec(), "epochs", "0");
    let message = parse(&text).unwrap_err().to_string();
    assert_eq!(
        message,
        format!(
            "job.toml:{}: parameter epochs = 0: must be 1 to 100000",
            line_of(&text, "epochs")
        )
    );
    let message = parse(&with_param(psi_spec(), "min_intersect", "3"))
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("job.toml:5: psi-intersection jobs take no parameter"),
        "{message}"
    );
}

#[test]
fn a_histogram_of_a_hundred_thousand_categories_and_sixty_thousand_edges_is_refused() {
    let categories: Vec<String> = (0..100_000).map(|c| format!("c{c}")).collect();
    let edges: Vec<String> = (0..60_000).map(|e| e.to_string()).collect();
    let text = with_param(
        &with_param(
            aggregate_spec(),
            "categories",
            &format!("{:?}", categories.join(",")),
        ),
        "bins",
        &format!("{:?}", edges.join(",")),
    );
    // Refused by a bound on the text (`crate::bounds`: a parameter's or the
    // whole spec's size) before the plan counts the cells; either way,
    // before anything is allocated.
    let message = parse(&text).unwrap_err().to_string();
    let refused = |m: &str| {
        m.contains("exceed 4194304 cells") || (m.contains("more than the") && m.contains("allowed"))
    };
    assert!(
        refused(&message),
        "{}",
        crate::bounds::printable(&message, 200)
    );
    // The same at a peer that gets it as JSON.
    let mut json = parse(aggregate_spec()).unwrap();
    json.parameters
        .insert("categories".into(), Param::Text(categories.join(",")));
    json.parameters
        .insert("bins".into(), Param::Text(edges.join(",")));
    assert!(refused(&json.validate().unwrap_err().to_string()));
}

#[test]
fn psi_plans_reveal_what_the_spec_declares_or_are_refused() {
    let JobPlan::Psi(p) = plan(psi_spec()) else {
        panic!()
    };
    assert_eq!(
        (p.mode, p.reveal, p.min_intersection),
        (Mode::Intersection, Reveal::Receiver, 10)
    );
    assert_eq!(p.job(1).min_intersection, 10);
    assert_eq!(p.receives(), vec![set(&["intersection"]), set(&[])]);
    // The sender learns the intersection only when the spec declares it.
    let both = spec_text(psi_spec(), &[], &[("intersection", "tax")]);
    let JobPlan::Psi(p) = plan(&both) else {
        panic!()
    };
    assert_eq!(p.reveal, Reveal::Both);
    // The receiver always learns it: a spec that hides it is refused.
    let m = parse(&psi_spec().replace("receiver = \"bank\"", "receiver = \"tax\""))
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("the first party (bank) is the PSI receiver"),
        "{m}"
    );
    // A join reveals to both.
    let m = parse(
        &psi_spec()
            .replace("psi-intersection", "psi-join")
            .replace("\"intersection\"", "\"alignment\""),
    )
    .unwrap_err()
    .to_string();
    assert!(m.contains("reveals the alignment to both"), "{m}");
    // psi-sum: the sum to the sender only, the count to both.
    let JobPlan::PsiSum(p) = plan(psi_sum_spec()) else {
        panic!()
    };
    assert_eq!(
        p.receives(),
        vec![set(&["cardinality"]), set(&["cardinality", "sum"])]
    );
    assert_eq!(p.job().mode, Mode::IntersectionSum);
    let m = parse(&spec_text(psi_sum_spec(), &[], &[("sum", "bank")]))
        .unwrap_err()
        .to_string();
    assert!(m.contains("learns the sum and bank never does"), "{m}");
}

#[test]
fn training_plans_reveal_the_model_to_every_data_party_and_the_metrics_as_declared() {
    let JobPlan::Train(p) = plan(train_spec()) else {
        panic!()
    };
    assert_eq!(
        p.receives(),
        vec![set(&["model", "metrics"]), set(&["model"]), set(&[])]
    );
    assert_eq!(p.releases.metrics, vec![0]);
    assert_eq!((p.params.epochs, p.params.learning_rate), (10, 0.25));
    // min_group_size raises the default minimum of shared rows.
    assert_eq!(p.min_rows, 30);
    let job = p.vertical_job();
    assert_eq!(job.roles.dealer, Some(2));
    assert_eq!(job.spec.parties[1].name, "tax");
    assert_eq!(job.spec.params, p.params);

    // Every data party learns its weights: the spec declares them.
    let m = parse(&train_spec().replace("[[outputs]]\nname = \"model\"\nreceiver = \"tax\"\n", ""))
        .unwrap_err()
        .to_string();
    assert!(m.contains("declare output \"model\" for tax"), "{m}");
    // The label holder computes the metrics: it cannot be left out.
    let m = parse(&train_spec().replace(
        "name = \"metrics\"\nreceiver = \"bank\"",
        "name = \"metrics\"\nreceiver = \"tax\"",
    ))
    .unwrap_err()
    .to_string();
    assert!(m.contains("declare output \"metrics\" for bank too"), "{m}");
    // The dealer receives nothing, and no model share exists.
    let m = parse(&spec_text(train_spec(), &[], &[("metrics", "stats")]))
        .unwrap_err()
        .to_string();
    assert!(m.contains("stats is the dealer"), "{m}");
    let m = parse(&train_spec().replace("name = \"metrics\"", "name = \"model-share\""))
        .unwrap_err()
        .to_string();
    assert!(m.contains("no output \"model-share\""), "{m}");
    // Metrics to nobody: no held-out scoring, and then no report.
    let quiet = train_spec().replace("[[outputs]]\nname = \"metrics\"\nreceiver = \"bank\"\n", "");
    let JobPlan::Train(p) = plan(&quiet) else {
        panic!()
    };
    assert!(p.releases.metrics.is_empty());
    let m = parse(&with_param(&quiet, "contribution", "true"))
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("contribution report goes with the metrics"),
        "{m}"
    );
    // A fifth feature holder is one too many.
    let mut many = train_spec().to_string();
    for i in 0..4 {
        many.push_str(&format!(
            "\n[[parties]]\nname = \"f{i}\"\ndataset = \"d\"\ncolumns = [\"id\", \"x\"]\n\n[[outputs]]\nname = \"model\"\nreceiver = \"f{i}\"\n"
        ));
    }
    let m = parse(&many).unwrap_err().to_string();
    assert!(
        m.contains("vertical training takes 1 to 4 feature holders"),
        "{m}"
    );
}

#[test]
fn tree_binning_and_scorecard_plans_reveal_what_their_protocols_do() {
    // Trees: the model and the metrics to every data party.
    let JobPlan::Trees(p) = plan(trees_spec()) else {
        panic!()
    };
    let both = set(&["model", "metrics"]);
    assert_eq!(p.receives(), vec![both.clone(), both.clone(), set(&[])]);
    assert_eq!(
        (p.params.trees, p.params.max_depth, p.params.bins),
        (5, 3, 16)
    );
    let job = p.tree_job();
    assert_eq!(job.spec.parties[2].name, "stats");
    assert_eq!(job.roles.dealer, Some(2));
    let m =
        parse(&trees_spec().replace("[[outputs]]\nname = \"metrics\"\nreceiver = \"tax\"\n", ""))
            .unwrap_err()
            .to_string();
    assert!(
        m.contains("reveals the metrics to tax: the job must declare output \"metrics\""),
        "{m}"
    );
    let m = parse(&spec_text(trees_spec(), &[], &[("model", "stats")]))
        .unwrap_err()
        .to_string();
    assert!(m.contains("stats is the dealer"), "{m}");
    let l = plan(trees_spec()).leaks();
    assert_eq!(l.correlations, Correlations::Dealer("stats".into()));
    assert_eq!((l.bins, l.instance_space), (16, false));
    // Early stopping takes its validation share.
    let JobPlan::Trees(p) = plan(&with_param(trees_spec(), "early_stopping", "3")) else {
        panic!()
    };
    assert_eq!(p.params.early_stopping.unwrap().patience, 3);

    // Binning: the binning file to every data party, the IV report where
    // declared; the mode and the bins for policy.
    let JobPlan::Binning(p) = plan(binning_spec()) else {
        panic!()
    };
    assert_eq!(
        p.receives(),
        vec![set(&["binning", "iv"]), set(&["binning"]), set(&[])]
    );
    let l = plan(&with_param(binning_spec(), "mode", "\"owner-transform\"")).leaks();
    assert_eq!(
        l.binning_mode,
        Some(indomain_learn::woe::Mode::OwnerTransform)
    );
    assert_eq!((l.bins, l.categories), (8, 256));
    let m =
        parse(&binning_spec().replace("[[outputs]]\nname = \"binning\"\nreceiver = \"tax\"\n", ""))
            .unwrap_err()
            .to_string();
    assert!(
        m.contains("reveals the binning to tax: the job must declare output \"binning\""),
        "{m}"
    );
    // Monotone merging needs the WOE's order, which strict hides.
    let strict = with_param(binning_spec(), "mode", "\"strict\"");
    let m = parse(&with_param(&strict, "monotone", "true"))
        .unwrap_err()
        .to_string();
    assert!(m.contains("monotone merging"), "{m}");

    // Scorecards: as trees, plus the binning job they read.
    let JobPlan::Scorecard(p) = plan(scorecard_spec()) else {
        panic!()
    };
    assert_eq!(p.receives(), vec![both.clone(), both, set(&[])]);
    assert_eq!((p.binning.as_str(), p.params.epochs), ("bins-1", 20));
    assert_eq!(plan(scorecard_spec()).leaks().epochs, 20);
    let m = parse(&scorecard_spec().replace("binning = \"bins-1\"\n", ""))
        .unwrap_err()
        .to_string();
    assert!(m.contains("parameter binning"), "{m}");

    // Scoring with trees or a scorecard: a dealer that receives nothing.
    let scoring = with_param(
        &with_param(
            &with_param(predict_spec(), "algorithm", "\"gbdt\""),
            "dealer",
            "\"stats\"",
        ),
        "label_holder",
        "\"bank\"",
    ) + "\n[[parties]]\nname = \"stats\"\n";
    let JobPlan::Predict(p) = plan(&scoring) else {
        panic!()
    };
    assert_eq!(
        (p.kind, p.dealer, p.receives()),
        (
            ModelKind::Trees,
            Some(2),
            vec![set(&["predictions"]), set(&[]), set(&[])]
        )
    );
    assert_eq!(
        plan(&scoring).leaks().correlations,
        Correlations::Dealer("stats".into())
    );
    let m = parse(&scoring.replace("algorithm = \"gbdt\"", "algorithm = \"linear\""))
        .unwrap_err()
        .to_string();
    assert!(m.contains("scored without a dealer"), "{m}");
    let m = parse(&scoring.replace("label_holder = \"bank\"\n", ""))
        .unwrap_err()
        .to_string();
    assert!(m.contains("parameter label_holder"), "{m}");
}

#[test]
fn statistics_and_scoring_plans_state_their_receivers() {
    let JobPlan::Aggregate(p) = plan(aggregate_spec()) else {
        panic!()
    };
    assert_eq!(p.decision, CountDecision::Compared { dealer: 2 });
    assert_eq!(p.receives(), vec![set(&["statistics"]), set(&[]), set(&[])]);
    assert_eq!(p.job.columns, vec!["income".to_string()]);
    let m = parse(&spec_text(
        aggregate_spec(),
        &[],
        &[("statistics", "stats")],
    ))
    .unwrap_err()
    .to_string();
    assert!(m.contains("\"stats\" is the dealer"), "{m}");
    // 2..16 parties, the protocol's own limit.
    let mut many = aggregate_spec().to_string();
    for i in 0..14 {
        many.push_str(&format!(
            "\n[[parties]]\nname = \"p{i}\"\ndataset = \"d\"\ncolumns = [\"region\", \"income\"]\n"
        ));
    }
    let m = parse(&many).unwrap_err().to_string();
    assert!(m.contains("aggregate takes 2..=16 parties"), "{m}");

    let JobPlan::Predict(p) = plan(predict_spec()) else {
        panic!()
    };
    assert_eq!(
        (p.receiver, p.min_rows, p.model.as_str()),
        (0, 5, "credit-1")
    );
    let m = parse(&spec_text(predict_spec(), &[], &[("predictions", "tax")]))
        .unwrap_err()
        .to_string();
    assert!(m.contains("exactly one party"), "{m}");
}

#[test]
fn leak_profiles_name_what_policy_rules_on() {
    let l = plan(aggregate_spec()).leaks();
    assert_eq!(l.correlations, Correlations::Dealer("stats".into()));
    assert_eq!((l.categories, l.bins, l.counts_opened_to), (2, 4, None));
    let opened = aggregate_spec()
        .replace("dealer = \"stats\"", "open_counts_to_decider = true")
        .replace("[[parties]]\nname = \"stats\"\n", "");
    let l = plan(&opened).leaks();
    assert_eq!(l.correlations, Correlations::None);
    assert_eq!(l.counts_opened_to.as_deref(), Some("bank"));
    let l = plan(&with_param(train_spec(), "contribution", "true")).leaks();
    assert_eq!(l.correlations, Correlations::Dealer("stats".into()));
    assert!(l.contribution);
    assert_eq!(l.epochs, 10);
    let l = plan(&with_param(psi_spec(), "max_peer_items", "1000")).leaks();
    assert_eq!(l.peer_items, 1000);
    assert_eq!(
        plan(predict_spec()).leaks().correlations,
        Correlations::None
    );
}

#[test]
fn dp_parameters_are_checked_before_any_party_accepts() {
    // With a dealer: decided by comparison, on noisy counts.
    let dp = with_param(aggregate_spec(), "dp_epsilon", "1.0");
    let JobPlan::Aggregate(p) = plan(&dp) else {
        panic!()
    };
    let spec = p.dp.unwrap();
    assert_eq!((spec.epsilon, spec.delta, spec.clip), (1.0, 1e-6, None));
    let rho = p.dp_rho.unwrap();
    assert!(rho > 0.0 && rho <= spec.rho(), "{rho}");
    assert_eq!(p.decision, CountDecision::Compared { dealer: 2 });
    assert_eq!(plan(&dp).leaks().dp_rho, Some(rho));
    // Without a dealer: the noisy counts decide, and open no exact count.
    let noisy = dp.replace("dealer = \"stats\"\n", "");
    let noisy = noisy.replace("\n[[parties]]\nname = \"stats\"\n", "");
    let JobPlan::Aggregate(p) = plan(&noisy) else {
        panic!()
    };
    assert_eq!(p.decision, CountDecision::NoisyCounts);
    assert_eq!(plan(&noisy).leaks().counts_opened_to, None);
    let opened = with_param(&noisy, "open_counts_to_decider", "true");
    let m = parse(&opened).unwrap_err().to_string();
    assert!(m.contains("drop open_counts_to_decider"), "{m}");

    let refused = |text: &str, words: &str| {
        let m = parse(text).unwrap_err().to_string();
        assert!(m.contains(words), "{words:?} not in {m}");
        m
    };
    for bad in ["0", "-1.0", "nan", "inf", "\"one\""] {
        let text = with_param(aggregate_spec(), "dp_epsilon", bad);
        let m = refused(&text, "dp_epsilon");
        assert!(
            m.starts_with(&format!("job.toml:{}:", line_of(&text, "dp_epsilon"))),
            "{m}"
        );
    }
    refused(
        &with_param(&dp, "dp_delta", "1.5"),
        "give a number in (0, 1)",
    );
    refused(
        &with_param(aggregate_spec(), "clip", "\"0,1\""),
        "with dp_epsilon only",
    );
    refused(&with_param(&dp, "clip", "\"5,1\""), "finite bounds LO < HI");
    refused(&with_param(&dp, "clip", "\"1\""), "two bounds");
    // A sum needs clip bounds; a count takes none.
    let sum = with_param(&dp, "statistic", "\"sum\"").replace("bins = \"0,10,20\"\n", "");
    refused(&sum, "needs parameter clip");
    let count = with_param(&dp, "statistic", "\"count\"").replace("bins = \"0,10,20\"\n", "");
    refused(
        &with_param(&count, "clip", "\"0,1\""),
        "drop parameter clip",
    );
    // Bounds beyond the declared range, and a coalition of every party.
    let wide = with_param(&with_param(&sum, "clip", "\"0,100\""), "max_abs", "50");
    refused(&wide, "reach beyond");
    refused(
        &with_param(&with_param(&sum, "clip", "\"0,10\""), "dp_coalition", "2"),
        "coalition",
    );
    let JobPlan::Aggregate(p) = plan(&with_param(&sum, "clip", "\"0,10\"")) else {
        panic!()
    };
    assert!(p.dp.unwrap().clip.is_some());
}

#[test]
fn training_takes_early_stopping_in_place_of_the_convergence_test() {
    let JobPlan::Train(t) = plan(&with_param(train_spec(), "early_stopping", "3")) else {
        panic!("not a training plan");
    };
    assert_eq!(
        t.params.early_stopping,
        Some(indomain_learn::EarlyStopping {
            validation_fraction: indomain_learn::Convergence::default().validation_fraction,
            patience: 3,
        })
    );
    assert_eq!(t.params.convergence, None);
    let with_fraction = with_param(
        &with_param(train_spec(), "early_stopping", "5"),
        "validation_fraction",
        "0.3",
    );
    let JobPlan::Train(t) = plan(&with_fraction) else {
        panic!("not a training plan");
    };
    assert_eq!(
        t.params.early_stopping.map(|e| e.validation_fraction),
        Some(0.3)
    );
    // Without it, the convergence test as before.
    let JobPlan::Train(t) = plan(train_spec()) else {
        panic!("not a training plan");
    };
    assert_eq!(t.params.early_stopping, None);
    assert!(t.params.convergence.is_some());
    // A patience of 0, or together with convergence = true, is refused.
    for bad in [
        with_param(train_spec(), "early_stopping", "0"),
        with_param(
            &with_param(train_spec(), "early_stopping", "3"),
            "convergence",
            "true",
        ),
    ] {
        let e = match parse(&bad) {
            Err(e) => e.to_string(),
            Ok(spec) => spec.validate().unwrap_err().to_string(),
        };
        assert!(e.contains("early_stopping"), "{e}");
    }
}

/// `text` (a spec dealt by `stats`) with two-party correlations: no
/// `dealer` parameter and no party `stats`.
fn two_party(text: &str) -> String {
    text.replace("dealer = \"stats\"", "correlations = \"two-party\"")
        .replace("[[parties]]\nname = \"stats\"\n\n", "")
}

#[test]
fn tree_binning_scorecard_and_scoring_plans_take_two_party_correlations() {
    for (name, text) in [
        ("trees", trees_spec()),
        ("binning", binning_spec()),
        ("scorecard", scorecard_spec()),
    ] {
        let alone = two_party(text);
        let p = plan(&alone);
        let roles = match &p {
            JobPlan::Trees(t) => t.vertical.roles.clone(),
            JobPlan::Binning(b) => b.vertical.roles.clone(),
            JobPlan::Scorecard(s) => s.vertical.roles.clone(),
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!((roles.dealer, roles.label), (None, 0), "{name}");
        assert_eq!(p.leaks().correlations, Correlations::TwoParty, "{name}");
        assert_eq!(
            plan(text).leaks().correlations,
            Correlations::Dealer("stats".into()),
            "{name}"
        );
        // A dealer beside two-party correlations, a third party, an
        // unknown source: each refused before any party accepts.
        let both = with_param(&alone, "dealer", "\"nobody\"");
        let message = parse(&both).unwrap_err().to_string();
        assert!(
            message.contains("no party deals: drop parameter dealer"),
            "{name}: {message}"
        );
        let three = format!(
            "{alone}\n[[parties]]\nname = \"court\"\ndataset = \"cases\"\ncolumns = [\"id\", \"z\"]\n"
        );
        let message = parse(&three).unwrap_err().to_string();
        assert!(message.contains("exactly two parties"), "{name}: {message}");
        let odd = with_param(&alone, "correlations", "\"ot\"");
        let message = parse(&odd).unwrap_err().to_string();
        assert!(
            message.contains("use dealer or two-party"),
            "{name}: {message}"
        );
    }
    // Scoring a tree or scorecard model of two parties without a dealer.
    for algorithm in ["gbdt", "scorecard"] {
        let text = with_param(
            &with_param(
                &with_param(predict_spec(), "algorithm", &format!("\"{algorithm}\"")),
                "correlations",
                "\"two-party\"",
            ),
            "label_holder",
            "\"bank\"",
        );
        let p = plan(&text);
        assert_eq!(p.leaks().correlations, Correlations::TwoParty);
        let JobPlan::Predict(predict) = p else {
            panic!("{algorithm}")
        };
        assert!(predict.two_party && predict.dealer.is_none());
        let unnamed = text.replace("label_holder = \"bank\"\n", "");
        let message = parse(&unnamed).unwrap_err().to_string();
        assert!(
            message.contains("names the model's label holder"),
            "{message}"
        );
    }
    let linear = with_param(predict_spec(), "correlations", "\"two-party\"");
    let message = parse(&linear).unwrap_err().to_string();
    assert!(message.contains("drop parameter correlations"), "{message}");
}
