//! The console's DP budget, binning and scorecard pages, a job's bytes per
//! phase and leak profile, and the peers' reachability, in headless
//! Chromium against real `indomain node` processes on loopback (the
//! browser as in `tests/console_browser.rs`).
//!
//! alpha and beta run nodes with consoles; gamma is configured as a peer
//! of both but never started. beta allows alpha statistics on its
//! `people` only with differential privacy, within a monthly budget
//! (as in `tests/node_dp_budget.rs`). The test: beta's overview shows
//! alpha reachable and gamma unreachable, each with the time of its
//! check; a DP count submitted through alpha's console completes, and its
//! page at beta shows the bytes of each phase and what each party learns;
//! beta's budget page shows the budget that job spent; real `indomain
//! bin` and `indomain train --scorecard` runs write their files into
//! beta's `results/`, and its models page shows the IV ranking, the
//! engine's WOE charts and the points table. Screenshots go to
//! `target/tmp/console-screenshots/`.

mod common;
mod console_common;
mod learn_common;
mod node_common;

use console_common::*;
use learn_common::{Party, args, assert_ok, base, parties, spawn, wait_all};
use node_common::Cluster;
use std::path::Path;

const PEOPLE: &str = r#"
[datasets.people]
csv = "people.csv"
[datasets.people.columns]
id = { type = "text", grade = "internal" }
region = { type = "text", grade = "public" }
income = { type = "float", grade = "sensitive" }
"#;

const POLICY: &str = r#"
[[policy.peers.alpha.allow]]
protocols = ["aggregate"]
datasets = ["people"]
grades = ["public", "internal", "sensitive"]
outputs = { statistics = ["alpha"] }
min_group_size = 3
dp = { epsilon = 1.0, delta = 1e-6, per = "month" }
"#;

const DP_SPEC: &str = r#"id = "dp-counts"
protocol = "aggregate"
purpose = "counts by region"

[parameters]
statistic = "count"
min_group_size = 3
group_by = "region"
categories = "north,south"
dp_epsilon = 0.5

[[parties]]
name = "alpha"
dataset = "people"
columns = ["region", "income"]

[[parties]]
name = "beta"
dataset = "people"
columns = ["region", "income"]

[[outputs]]
name = "statistics"
receiver = "alpha"
"#;

/// The bank's and the tax bureau's columns for `indomain bin`: the label
/// depends on a column of each.
fn credit_files(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut bank = String::from("id,y,age,balance\n");
    let mut tax = String::from("id,income,sector\n");
    for i in 0..300u64 {
        let (a, inc) = (learn_common::noise(i, 1), learn_common::noise(i, 3));
        let y = u8::from(2.0 * a - 1.5 * inc + (learn_common::noise(i, 9) - 0.5) > 0.2);
        let sector = ["farm", "trade", "tech"][(learn_common::noise(i, 5) * 3.0) as usize];
        bank.push_str(&format!(
            "C{i:04},{y},{:.1},{:.1}\n",
            20.0 + 50.0 * a,
            1000.0 * learn_common::noise(i, 2)
        ));
        tax.push_str(&format!("C{i:04},{:.1},{sector}\n", 100.0 * inc));
    }
    let (b, t) = (dir.join("bank.csv"), dir.join("tax.csv"));
    std::fs::write(&b, bank).unwrap();
    std::fs::write(&t, tax).unwrap();
    (b, t)
}

/// Runs `indomain bin` and `indomain train --scorecard` among a bank, a
/// tax bureau and a dealer; the bank's files go to `out`.
fn bin_and_card(work: &Path, out: &Path) {
    let ps: Vec<Party> = parties(work, &["bank", "tax", "stats"]);
    let (bank, tax) = credit_files(work);
    let roles = ["--label-holder", "bank", "--dealer", "stats"];
    let with = |mut a: Vec<String>, extra: &[String]| {
        a.extend(extra.iter().cloned());
        a
    };
    let s = |p: &Path| p.display().to_string();
    let (bb, tb) = (
        out.join("credit-binning.json"),
        work.join("tax-binning.json"),
    );
    let bin = |me: usize, extra: Vec<String>| {
        let mut a = with(base("bin", &ps, me), &args(&roles));
        a.extend(args(&["--bins", "4"]));
        with(a, &extra)
    };
    assert_ok(&wait_all(vec![
        spawn(&bin(
            0,
            vec![
                "--label-column".into(),
                "y".into(),
                "--input".into(),
                s(&bank),
                "--output".into(),
                s(&bb),
            ],
        )),
        spawn(&bin(
            1,
            vec!["--input".into(), s(&tax), "--output".into(), s(&tb)],
        )),
        spawn(&bin(2, vec![])),
    ]));
    let card = |me: usize, extra: Vec<String>| {
        let mut a = with(base("train", &ps, me), &args(&roles));
        a.extend(args(&[
            "--scorecard",
            "--min-iv",
            "0.01",
            "--epochs",
            "15",
            "--learning-rate",
            "1",
        ]));
        with(a, &extra)
    };
    assert_ok(&wait_all(vec![
        spawn(&card(
            0,
            vec![
                "--label-column".into(),
                "y".into(),
                "--input".into(),
                s(&bank),
                "--woe".into(),
                s(&bb),
                "--model".into(),
                s(&out.join("credit-card.json")),
            ],
        )),
        spawn(&card(
            1,
            vec![
                "--input".into(),
                s(&tax),
                "--woe".into(),
                s(&tb),
                "--model".into(),
                s(&work.join("tax-card.json")),
            ],
        )),
        spawn(&card(2, vec![])),
    ]));
}

#[test]
fn budgets_binning_scorecards_phases_leaks_and_reachability_in_a_real_browser() {
    let cluster = Cluster::new(&["alpha", "beta", "gamma"], |i| {
        let policy = if i == 1 { POLICY } else { "" };
        (PEOPLE.to_string(), policy.to_string())
    });
    for (i, site) in cluster.sites.iter().enumerate() {
        let mut csv = String::from("id,region,income\n");
        for k in 0..40 {
            let region = if k % 4 == 0 { "south" } else { "north" };
            csv.push_str(&format!("k{i}{k},{region},{}\n", 1000 + k));
        }
        std::fs::write(site.dir.join("people.csv"), csv).unwrap();
    }
    for config in &cluster.configs[..2] {
        let text = std::fs::read_to_string(config).unwrap();
        std::fs::write(config, format!("console = \"127.0.0.1:0\"\n{text}")).unwrap();
    }
    // gamma is configured everywhere and never started.
    let alpha = start(&cluster.configs[0]);
    let beta = start(&cluster.configs[1]);
    let profile = tempfile::tempdir().unwrap();
    let browser = browser(profile.path());
    let tab = browser.new_tab().unwrap();

    // Reachable now: alpha answers a handshake, gamma does not; each with
    // the time of its check, and the page never waited for them.
    login(&tab, &beta);
    wait_for(
        &tab,
        "!!document.querySelector('#peers tr[data-peer=\"alpha\"] [data-reach=\"reachable\"]') && \
         !!document.querySelector('#peers tr[data-peer=\"gamma\"] [data-reach=\"unreachable\"]')",
        "alpha reachable and gamma unreachable on beta's overview",
    );
    let gamma = text_of(&tab, "#peers tr[data-peer=\"gamma\"] td.reach");
    assert!(
        gamma.contains("checked ") && gamma.contains("UTC"),
        "{gamma}"
    );
    screenshot(&tab, "overview-reach");

    // A DP count submitted through alpha's console completes.
    let alpha_tab = browser.new_tab().unwrap();
    login(&alpha_tab, &alpha);
    submit(&alpha_tab, &alpha, DP_SPEC);
    wait_for(
        &alpha_tab,
        &state_js("completed"),
        "the DP job completed at alpha",
    );

    // At beta, its page gives each phase's time and bytes, and what each
    // party learns from its plan.
    go(&tab, &format!("{}/jobs/alpha/dp-counts", beta.url));
    wait_for(&tab, &state_js("completed"), "the DP job completed at beta");
    wait_for(
        &tab,
        "!!document.querySelector('#phase-bytes tr[data-phase=\"running the protocol\"]')",
        "the phases with their bytes",
    );
    let protocol_bytes = eval(
        &tab,
        "Number(document.querySelector('#phase-bytes tr[data-phase=\"running the protocol\"] td.sent').dataset.bytes) + \
         Number(document.querySelector('#phase-bytes tr[data-phase=\"running the protocol\"] td.received').dataset.bytes)",
    );
    assert!(protocol_bytes.as_f64().unwrap() > 0.0, "{protocol_bytes}");
    assert!(text_of(&tab, "#phase-bytes").contains("exchanging receipts"));
    assert_eq!(
        text_of(&tab, "#leaks tr[data-party=\"alpha\"] td.receives"),
        "statistics"
    );
    assert_eq!(
        text_of(&tab, "#leaks tr[data-party=\"beta\"] td.receives"),
        "nothing"
    );
    let common = text_of(&tab, "#leaks-common");
    assert!(
        common.contains("differential-privacy noise") && common.contains("dp_epsilon = 0.5"),
        "{common}"
    );
    eval(
        &tab,
        "document.querySelector('#phase-bytes').scrollIntoView(); true",
    );
    screenshot(&tab, "job-phases-leaks");

    // beta's budget page: the budget alpha's job spent, for alpha on
    // people, and the job that spent it.
    go(&tab, &format!("{}/budgets", beta.url));
    let line = "#budgets tr[data-dataset=\"people\"][data-receiver=\"alpha\"]";
    let spent = text_of(&tab, &format!("{line} td.spent"));
    assert!(
        spent.starts_with("ρ = 0.") && !spent.starts_with("ρ = 0.000000"),
        "{spent}"
    );
    let left = text_of(&tab, &format!("{line} td.left"));
    assert!(left.starts_with("ε = 0."), "{left}");
    let charge = text_of(&tab, "#charges tbody tr");
    assert!(
        charge.contains("alpha/dp-counts") && charge.contains("spent"),
        "{charge}"
    );
    assert!(
        eval(
            &tab,
            "!!document.querySelector('nav a.current[href=\"/budgets\"]')"
        ) == serde_json::json!(true)
    );
    screenshot(&tab, "budgets");

    // Binning and scorecard files written by real runs, kept in beta's
    // results: the IV ranking, the engine's WOE charts, the points table.
    let work = tempfile::tempdir().unwrap();
    let results = cluster.sites[1].dir.join("results/cli/credit");
    std::fs::create_dir_all(&results).unwrap();
    bin_and_card(work.path(), &results);
    go(&tab, &format!("{}/models", beta.url));
    assert!(text_of(&tab, "#cards").contains("credit-binning.json"));
    go(
        &tab,
        &format!("{}/models/cli/credit/credit-binning.json", beta.url),
    );
    let ranked = eval(
        &tab,
        "document.querySelectorAll('#iv-ranking tbody tr').length",
    );
    assert!(ranked.as_u64().unwrap() >= 4, "{ranked}");
    // The bank's own features and, in the default mode, the tax bureau's
    // (anonymous bins) as `indomain bin` draws them.
    let charts = eval(&tab, "document.querySelectorAll('#woe-charts svg').length");
    assert!(charts.as_u64().unwrap() >= 4, "{charts}");
    assert!(text_of(&tab, "#woe-charts").contains("tax: income"));
    let png = screenshot(&tab, "binning");
    assert!(png.len() > 20_000, "{} bytes", png.len());
    go(
        &tab,
        &format!("{}/models/cli/credit/credit-card.json", beta.url),
    );
    let points = eval(
        &tab,
        "document.querySelectorAll('#points td.points').length",
    );
    assert!(points.as_u64().unwrap() >= 4, "{points}");
    screenshot(&tab, "scorecard");
}
