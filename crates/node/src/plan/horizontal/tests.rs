//! The plans of horizontal training and of vertical training with
//! two-party correlations: parameters parsed and bounded, outputs as the
//! protocol reveals them, leak profiles for policy.

use crate::plan::test_specs::{bare, data, parse, spec_text};
use crate::plan::{Correlations, JobPlan};
use std::sync::LazyLock;

fn horizontal_spec() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        spec_text(
            r#"
protocol = "train"

[parameters]
mode = "horizontal"
server = "hub"
label_column = "y"
id_column = "id"
rounds = 5
epochs = 4
dp_epsilon = 2.0
clip_norm = 0.5
"#,
            &[
                data("bank", "customers", &["id", "y", "age", "income"]),
                data("shop", "clients", &["id", "y", "age", "income"]),
                bare("hub"),
            ],
            &[
                ("model", "bank"),
                ("model", "shop"),
                ("model", "hub"),
                ("metrics", "shop"),
            ],
        )
    });
    &TEXT
}

fn two_party_spec() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        spec_text(
            r#"
protocol = "train"

[parameters]
label_holder = "bank"
correlations = "two-party"
id_column = "id"
label_column = "y"
sigmoid = "clamped"
"#,
            &[
                data("bank", "customers", &["id", "y", "age"]),
                data("tax", "taxpayers", &["id", "income"]),
            ],
            &[("model", "bank"), ("model", "tax")],
        )
    });
    &TEXT
}

/// `text` with its line starting `old` replaced by `new` (removed if empty).
fn edit(text: &str, old: &str, new: &str) -> String {
    assert!(text.contains(old), "{old}");
    text.lines()
        .map(|l| match l.starts_with(old) {
            true => new.to_string(),
            false => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_horizontal_plan_parses_its_parameters_and_spends_the_rho_of_its_calibration() {
    let JobPlan::Horizontal(plan) = parse(horizontal_spec()).unwrap().plan().unwrap() else {
        panic!("not a horizontal plan");
    };
    assert_eq!(plan.server, 2);
    assert_eq!(plan.features, ["age", "income"]);
    assert_eq!(plan.fedavg.clients, 2);
    assert_eq!(plan.fedavg.rounds, 5);
    assert_eq!(plan.fedavg.local.epochs, 4);
    let dp = plan.fedavg.dp.unwrap();
    assert_eq!((dp.epsilon, dp.delta, dp.clip_norm), (2.0, 1e-6, 0.5));
    let rho = dp.calibrate(&plan.fedavg).unwrap().rho;
    let leaks = JobPlan::Horizontal(plan.clone()).leaks();
    assert_eq!(leaks.dp_rho, Some(rho));
    assert_eq!(leaks.epochs, 20);
    assert_eq!(leaks.correlations, Correlations::None);
    let receives = JobPlan::Horizontal(plan.clone()).receives();
    let names = |i: usize| receives[i].iter().copied().collect::<Vec<_>>();
    assert_eq!(names(0), ["model"]);
    assert_eq!(names(1), ["metrics", "model"]);
    assert_eq!(names(2), ["model"]);
    let job = plan.horizontal_job();
    assert_eq!(job.spec.mode, "horizontal");
    assert_eq!(job.spec.horizontal.unwrap().dp, Some(dp));
    // Without DP: no ρ.
    let plain = edit(&edit(horizontal_spec(), "dp_epsilon", ""), "clip_norm", "");
    assert_eq!(parse(&plain).unwrap().plan().unwrap().leaks().dp_rho, None);
}

#[test]
fn a_horizontal_plan_refuses_bad_parameters_before_anyone_accepts() {
    let table: &[(&str, &str, &str)] = &[
        (
            "dp_epsilon",
            "dp_epsilon = -1.0",
            "give a finite number above 0",
        ),
        (
            "dp_epsilon",
            "dp_epsilon = inf",
            "give a finite number above 0",
        ),
        ("clip_norm", "", "needs parameter clip_norm"),
        (
            "clip_norm",
            "clip_norm = 0.0",
            "give a finite number above 0",
        ),
        (
            "dp_epsilon",
            "dp_delta = 1e-5",
            "dp_delta is used with dp_epsilon only",
        ),
        ("rounds", "rounds = 0", "must be 1 to 10000"),
        ("rounds", "rounds = 10001", "must be 1 to 10000"),
        ("epochs", "epochs = 0", "must be 1 to 100000"),
        (
            "server",
            "server = \"bank\"",
            "is the server, which reads no data",
        ),
        (
            "server",
            "server = \"nobody\"",
            "party \"hub\" names no dataset",
        ),
        (
            "label_column",
            "label_column = \"sex\"",
            "does not list column \"sex\"",
        ),
        ("rounds", "dealer = \"hub\"", "take no parameter \"dealer\""),
    ];
    for &(old, new, expected) in table {
        let text = edit(horizontal_spec(), old, new);
        let message = parse(&text).unwrap_err().to_string();
        assert!(message.contains(expected), "{old} -> {new}: {message}");
    }
    // A client whose columns differ from the others'.
    let text = horizontal_spec().replacen(
        "columns = [\"id\", \"y\", \"age\", \"income\"]",
        "columns = [\"id\", \"y\", \"income\", \"age\"]",
        1,
    );
    let message = parse(&text).unwrap_err().to_string();
    assert!(
        message.contains("same columns in the same order"),
        "{message}"
    );
    // The server receives the model (it computes it) and no metrics.
    let text = horizontal_spec().replace("[[outputs]]\nname = \"model\"\nreceiver = \"hub\"\n", "");
    let message = parse(&text).unwrap_err().to_string();
    assert!(message.contains("reveals the model to hub"), "{message}");
    let text = spec_text(horizontal_spec(), &[], &[("metrics", "hub")]);
    let message = parse(&text).unwrap_err().to_string();
    assert!(message.contains("hub is the server"), "{message}");
}

#[test]
fn a_two_party_plan_has_no_dealer_and_is_refused_where_the_library_refuses_it() {
    let spec = parse(two_party_spec()).unwrap();
    let JobPlan::Train(plan) = spec.plan().unwrap() else {
        panic!("not a training plan");
    };
    assert_eq!(plan.roles.dealer, None);
    assert_eq!(
        plan.vertical_job().spec.correlations().unwrap(),
        "two-party"
    );
    assert_eq!(
        JobPlan::Train(plan).leaks().correlations,
        Correlations::TwoParty
    );
    for (old, new, expected) in [
        (
            "sigmoid",
            "dealer = \"nobody\"",
            "no party deals: drop parameter dealer",
        ),
        (
            "correlations",
            "correlations = \"ot\"",
            "use dealer or two-party",
        ),
        ("correlations", "", "names its dealer (parameter dealer)"),
        (
            "sigmoid",
            "mode = \"diagonal\"",
            "use vertical or horizontal",
        ),
    ] {
        let text = edit(two_party_spec(), old, new);
        let message = parse(&text).unwrap_err().to_string();
        assert!(message.contains(expected), "{old} -> {new}: {message}");
    }
    // Linear regression, and logistic regression with the default Fourier
    // sigmoid (two-party trigonometric masks), plan as the library runs them.
    for line in ["task = \"linear\"", "", "sigmoid = \"fourier\""] {
        assert!(
            parse(&edit(two_party_spec(), "sigmoid", line)).is_ok(),
            "{line}"
        );
    }
    // Three parties with two-party correlations.
    let three = spec_text(
        two_party_spec(),
        &[data("third", "d", &["id", "x"])],
        &[("model", "third")],
    );
    let message = parse(&three).unwrap_err().to_string();
    assert!(message.contains("exactly two parties"), "{message}");
}
