//! The console's newer pages without a network: the DP budget page (its
//! access and what it shows from the ledger), binning reports and
//! scorecards rendered from files the learning library writes, a job's
//! bytes per phase and its leak profile, and the peers' reachability from
//! real probes (one peer up, one down).

use super::reach::Reach;
use super::tests::{Setup, body, setup};
use crate::audit::{AuditLog, Event, Record};
use crate::control::{BudgetLine, PhaseBytes};
use crate::dp_ledger::{Account, LedgerEvent, Month};
use indomain_learn::binning::{BinKind, FeatureBins, Method};
use indomain_learn::model::{JobParty, PartyRole, Rows};
use indomain_learn::scorecard::Scale;
use indomain_learn::scorecard::model::{
    CardFeature, SCORECARD_FORMAT, ScorecardFile, ScorecardJob,
};
use indomain_learn::woe::file::{BINNING_FORMAT, BinningFile, BinningJob, FileFeature};
use indomain_learn::woe::woe_iv;
use std::sync::{Arc, Mutex};

/// Appends `events` to a log of their own and folds them into the fake
/// node's state.
fn fold(s: &Setup, events: Vec<Event>) {
    let dir = tempfile::tempdir().unwrap();
    let mut log = AuditLog::open(
        &dir.path().join("budget.jsonl"),
        ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
    )
    .unwrap();
    let records: Arc<Mutex<Vec<Record>>> = Arc::default();
    let kept = Arc::clone(&records);
    log.observe(move |r| kept.lock().unwrap().push(r.clone()));
    for e in events {
        log.append(e).unwrap();
    }
    let mut state = s.fake.state.lock().unwrap();
    for r in records.lock().unwrap().iter() {
        state.apply(r);
    }
}

#[test]
fn the_dp_budget_page_needs_a_session_and_shows_spent_and_left_per_dataset_and_consumer() {
    let s = setup();
    // No session: sent to the login page, nothing of the budget shown.
    let r = s.get("/budgets", "");
    assert_eq!(r.status, 303);
    assert_eq!(r.get("Location"), Some("/login"));
    assert!(!body(&r).contains("people"));
    let r = s.get("/budgets", "indomain-bank=forged");
    assert_eq!(r.status, 303);

    let month = Month {
        year: 2026,
        month: 12,
    };
    let account = Account {
        dataset: "people".into(),
        receiver: "tax".into(),
    };
    fold(
        &s,
        vec![
            Event::Budget {
                change: LedgerEvent::Reserved {
                    job: "tax/spends".into(),
                    accounts: vec![account.clone()],
                    month,
                    rho: 0.005,
                },
            },
            Event::Budget {
                change: LedgerEvent::Released {
                    job: "tax/spends".into(),
                },
            },
            Event::Budget {
                change: LedgerEvent::Reserved {
                    job: "tax/fails".into(),
                    accounts: vec![account],
                    month,
                    rho: 0.003,
                },
            },
            Event::Budget {
                change: LedgerEvent::Refunded {
                    job: "tax/fails".into(),
                },
            },
        ],
    );
    *s.fake.budgets.lock().unwrap() = vec![BudgetLine {
        rule: "policy.peers.tax.allow[0].dp".into(),
        dataset: "people".into(),
        receiver: "tax".into(),
        month: "2026-12".into(),
        epsilon: 1.0,
        delta: 1e-6,
        rho: 0.0125,
        remaining_rho: 0.0075,
        remaining_epsilon: 0.7,
    }];
    let (session, _) = s.login();
    let text = body(&s.get("/budgets", &session));
    for shown in [
        "data-dataset=\"people\" data-receiver=\"tax\"",
        "policy.peers.tax.allow[0].dp",
        // Spent: the job not refunded (0.005 of 0.0125); left as the
        // ledger gives it.
        "ρ = 0.005000",
        "<td class=\"left\">ε = 0.7000",
        "40 % spent",
        // The jobs that charged it, newest first, with where each stands.
        "href=\"/jobs/tax/fails\"",
        "refunded",
        "href=\"/jobs/tax/spends\"",
        ">spent<",
    ] {
        assert!(text.contains(shown), "{shown} not in {text}");
    }
    assert!(
        text.find("tax/fails").unwrap() < text.find("tax/spends").unwrap(),
        "newest first"
    );
    // Linked from the navigation of every page.
    assert!(body(&s.get("/", &session)).contains("href=\"/budgets\""));
}

/// A binning file of `party` with one numeric feature it may see the WOE
/// of and one whose WOE it may not, saved with the library under the
/// console's `results/`.
fn binning_file(s: &Setup) -> BinningFile {
    let job = BinningJob {
        parties: vec![
            JobParty {
                name: "bank".into(),
                role: PartyRole::Label,
            },
            JobParty {
                name: "tax".into(),
                role: PartyRole::Feature,
            },
        ],
        id_column: "id".into(),
        test_fraction: 0.2,
        seed: 7,
        method: Method::Quantile { bins: 3 },
        min_share: 0.05,
        max_categories: 16,
        settings: Default::default(),
        nonce: "n".into(),
    };
    let (events, non_events) = (vec![30u64, 12, 3], vec![20u64, 40, 55]);
    let w = woe_iv(&events, &non_events);
    let income = FeatureBins {
        name: "income".into(),
        kind: BinKind::Numeric {
            edges: vec![1000.0, 2500.0],
        },
        missing: false,
    };
    let region = FeatureBins {
        name: "region<b>".into(),
        kind: BinKind::Categorical {
            groups: vec![vec!["north".into()], vec!["south".into()]],
            other: None,
        },
        missing: false,
    };
    let file = BinningFile {
        format: BINNING_FORMAT,
        kind: "binning".into(),
        job_hash: job.hash(),
        job,
        party: "bank".into(),
        role: PartyRole::Label,
        rows: Rows {
            train: 160,
            test: 40,
        },
        features: vec![
            FileFeature {
                labels: income.labels(),
                bins: income,
                rows: vec![50, 52, 58],
                events: Some(events),
                non_events: Some(non_events),
                woe: Some(w.woe),
                iv: w.iv,
                monotone: Some("decreasing".into()),
            },
            FileFeature {
                labels: region.labels(),
                bins: region,
                rows: vec![80, 80],
                events: None,
                non_events: None,
                woe: None,
                iv: 0.01,
                monotone: None,
            },
        ],
        foreign: Vec::new(),
        sizes: vec![vec![3, 2]],
        woe_shares: None,
        correlations: Some("dealer op".into()),
        written_by: "indomain test".into(),
    };
    let dir = s.dir.path().join("results/bank/bin-1");
    std::fs::create_dir_all(&dir).unwrap();
    file.save(&dir.join("binning.json")).unwrap();
    file
}

#[test]
fn a_binning_report_shows_its_iv_ranking_and_the_engines_woe_chart() {
    let s = setup();
    let file = binning_file(&s);
    let (session, _) = s.login();
    let list = body(&s.get("/models", &session));
    assert!(
        list.contains("href=\"/models/bank/bin-1/binning.json\"")
            && list.contains("binning report"),
        "{list}"
    );
    let text = body(&s.get("/models/bank/bin-1/binning.json", &session));
    // The ranking, highest IV first, as the library ranks it.
    let ranking = file.iv_ranking();
    assert_eq!(ranking[0].feature, "income");
    let first = text.find("data-feature=\"income\"").expect("income ranked");
    let second = text
        .find("data-feature=\"region&lt;b&gt;\"")
        .expect("region ranked, escaped");
    assert!(first < second, "{text}");
    assert!(text.contains(&format!("{:.4}", ranking[0].iv)), "{text}");
    // One chart: the one feature whose WOE this party may see, the
    // library's own drawing.
    let svg = indomain_learn::woe::chart::feature_svg(
        "income",
        &file.features[0].labels,
        &file.features[0].rows,
        Some(&[0.6, 12.0 / 52.0, 3.0 / 58.0]),
        file.features[0].woe.as_ref().unwrap(),
        file.features[0].iv,
    );
    assert_eq!(text.matches("<svg").count(), 1, "{text}");
    assert!(text.contains(svg.lines().nth(2).unwrap()), "{text}");
    assert!(!text.contains("<b>"), "a feature name is escaped");
    // A file that is not whole is refused with the library's reason.
    let mut broken = file.clone();
    broken.job_hash = "sha256:00".into();
    broken
        .save(&s.dir.path().join("results/bank/bin-1/binning.json"))
        .unwrap();
    let r = s.get("/models/bank/bin-1/binning.json", &session);
    assert_eq!(r.status, 500);
    assert!(body(&r).contains("job hash does not match"), "{}", body(&r));
}

#[test]
fn a_scorecard_shows_its_points_table() {
    let s = setup();
    let scale = Scale::default();
    let w = woe_iv(&[30, 12, 3], &[20, 40, 55]);
    let points = scale.points(0.9, &w.woe, -1.2, 1);
    let bins = FeatureBins {
        name: "income".into(),
        kind: BinKind::Numeric {
            edges: vec![1000.0, 2500.0],
        },
        missing: false,
    };
    let job = ScorecardJob {
        binning_hash: "sha256:ab".into(),
        mode: Default::default(),
        parties: vec![JobParty {
            name: "bank".into(),
            role: PartyRole::Label,
        }],
        id_column: "id".into(),
        test_fraction: 0.2,
        seed: 7,
        min_iv: 0.02,
        scale,
        params: Default::default(),
        nonce: "n".into(),
    };
    let card = ScorecardFile {
        format: SCORECARD_FORMAT,
        kind: "scorecard".into(),
        job_hash: job.hash(),
        job,
        party: "bank".into(),
        role: PartyRole::Label,
        rows: Rows {
            train: 160,
            test: 40,
        },
        features: vec![CardFeature {
            labels: bins.labels(),
            bins,
            rows: vec![50, 52, 58],
            iv: w.iv,
            woe: Some(w.woe.clone()),
            weight: Some(0.9),
            points: Some(points.clone()),
        }],
        foreign: Vec::new(),
        sizes: vec![vec![3]],
        intercept: Some(-1.2),
        points_shares: None,
        evaluation: None,
        score_bands: None,
        correlations: Some("dealer op".into()),
        written_by: "indomain test".into(),
    };
    let dir = s.dir.path().join("results/bank/card-1");
    std::fs::create_dir_all(&dir).unwrap();
    card.save(&dir.join("card.json")).unwrap();
    let (session, _) = s.login();
    assert!(body(&s.get("/models", &session)).contains("href=\"/models/bank/card-1/card.json\""));
    let text = body(&s.get("/models/bank/card-1/card.json", &session));
    assert_eq!(card.points_rows().len(), 3);
    for (row, p) in card.points_rows().iter().zip(&points) {
        assert!(
            text.contains(&format!("<td class=\"points\">{p:.2}</td>")),
            "{p} not in {text}"
        );
        assert!(text.contains(&row.bin), "{}", row.bin);
    }
    assert!(text.contains("Base score 600"), "{text}");
}

#[test]
fn a_jobs_page_shows_bytes_per_phase_and_what_each_party_learns() {
    let s = setup();
    *s.fake.phases.lock().unwrap() = vec![
        PhaseBytes {
            phase: "opening the links".into(),
            started_ms: 1_000,
            ms: Some(20),
            sent: 300,
            received: 200,
        },
        PhaseBytes {
            phase: "running the protocol".into(),
            started_ms: 1_020,
            ms: None,
            sent: 5 << 20,
            received: 4096,
        },
    ];
    let spec = crate::jobspec::JobSpec::from_toml(
        std::path::Path::new("j1.toml"),
        r#"
id = "j1"
protocol = "aggregate"
purpose = "counts"
[parameters]
statistic = "count"
group_by = "region"
categories = "north,south"
min_group_size = 3
open_counts_to_decider = true
[[parties]]
name = "tax"
dataset = "people"
columns = ["region"]
[[parties]]
name = "bank"
dataset = "people"
columns = ["region"]
[[outputs]]
name = "statistics"
receiver = "tax"
"#,
        None,
    )
    .unwrap();
    *s.fake.spec.lock().unwrap() = Some(spec);
    let (session, _) = s.login();
    let text = body(&s.get("/jobs/tax/j1", &session));
    for shown in [
        "data-phase=\"opening the links\"",
        "data-bytes=\"300\"",
        "data-bytes=\"5242880\"",
        "5.0 MiB",
        // The last phase has no end yet; the job is not open: no "running".
        "<td>—</td>",
        // The leak profile: the decider sees the counts, bank receives
        // nothing, every party sees the categories.
        "<tr data-party=\"tax\"><td>tax</td><td class=\"receives\">statistics</td>",
        "every group's count",
        "<tr data-party=\"bank\"><td>bank (this node)</td><td class=\"receives\">nothing</td><td class=\"beyond\">nothing</td>",
        "2 categories of the group-by column",
    ] {
        assert!(text.contains(shown), "{shown} not in {text}");
    }
    // The live fragment carries the phases too (they change while it runs).
    assert!(
        body(&s.get("/jobs/tax/j1/live", &session)).contains("data-phase=\"running the protocol\"")
    );
    // Without the spec (a job of an earlier run): the declared outputs.
    *s.fake.spec.lock().unwrap() = None;
    s.fake.phases.lock().unwrap().clear();
    let text = body(&s.get("/jobs/tax/j1", &session));
    assert!(
        text.contains("keeps the spec's hash, not the spec"),
        "{text}"
    );
    assert!(
        text.contains("<td class=\"receives\">cardinality</td>"),
        "{text}"
    );
    assert!(
        text.contains("Not run on this node since it started"),
        "{text}"
    );
}

#[test]
fn reachability_probes_a_peer_that_is_up_and_one_that_is_down() {
    use indomain_net::quic::{Endpoint, Identity, TrustedPeer};
    let me = Identity::generate("bank").unwrap();
    let up = Identity::generate("tax").unwrap();
    let down = Identity::generate("stat").unwrap();
    let listener = Endpoint::bind(
        &up,
        "127.0.0.1:0".parse().unwrap(),
        vec![me.trusted_entry()],
        indomain_net::Limits::default(),
    )
    .unwrap();
    let up_addr = listener.local_addr();
    std::thread::spawn(move || {
        while let Ok(ch) = listener.accept() {
            // The probe closes at once, as a stopped probe.
            drop(ch);
        }
    });
    // Nothing answers there: a socket bound and never read.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let down_addr = silent.local_addr().unwrap();
    let key = crate::audit::key::format_public_key(
        &ed25519_dalek::SigningKey::from_bytes(&[2; 32]).verifying_key(),
    );
    let dir = tempfile::tempdir().unwrap();
    let entry = |id: &Identity, addr: std::net::SocketAddr| {
        let TrustedPeer { name, fingerprint } = id.trusted_entry();
        format!(
            "[peers.{name}]\naddress = \"{addr}\"\nfingerprint = \"{fingerprint}\"\naudit_key = \"{key}\"\n"
        )
    };
    let text = format!(
        "name = \"bank\"\nidentity = \"identity\"\nlisten = \"127.0.0.1:0\"\naudit_log = \"audit.jsonl\"\ncontrol_socket = \"control.sock\"\n\n{}\n{}",
        entry(&up, up_addr),
        entry(&down, down_addr)
    );
    let config =
        crate::config::NodeConfig::from_toml(&dir.path().join("node.toml"), &text).unwrap();
    let reach = Reach::with_timeout(&me, &config, std::time::Duration::from_secs(1));
    // The first look starts the probes and waits for none.
    assert!(reach.view().is_empty());
    let mut seen = reach.view();
    for _ in 0..300 {
        if seen.len() == 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        seen = reach.view();
    }
    let (tax, stat) = (&seen["tax"], &seen["stat"]);
    assert!(tax.reachable && tax.detail.is_empty(), "{tax:?}");
    assert!(!stat.reachable && stat.detail.contains("stat"), "{stat:?}");
    assert!(tax.checked_ms > 0 && stat.checked_ms > 0);
    drop(silent);
}

#[test]
fn the_overview_shows_whether_each_peer_is_reachable_without_waiting() {
    let s = setup();
    let (session, _) = s.login();
    // The fake's peer listens nowhere: the first render does not wait
    // for the probe and says it is checking; the fragment the page
    // polls says so too until the probe ends.
    let text = body(&s.get("/", &session));
    assert!(
        text.contains("data-live=\"/peers/live\"") && text.contains("data-reach="),
        "{text}"
    );
    let fragment = body(&s.get("/peers/live", &session));
    assert!(fragment.contains("<tr data-peer=\"tax\">"), "{fragment}");
    assert_eq!(s.get("/peers/live", "").status, 401);
}
