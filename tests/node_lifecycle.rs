//! How a node job ends other than by completing, with real `indomain node`
//! processes on loopback: `job cancel` stops a running job on both nodes
//! (whichever node cancels, the other learns that it was cancelled and by
//! whom), nothing is released, the audit logs record it and the nodes serve
//! the next job; and a job accepted from a proposer that never starts it
//! fails once its start deadline has passed, naming the proposer.

mod common;
mod node_common;

use indomain_net::Limits;
use indomain_net::quic::{Endpoint, Identity, TrustedPeer};
use indomain_node::daemon::propose::{self, Answer};
use indomain_node::jobspec::JobSpec;
use node_common::{Site, run, settled, site, start, state, submit, text, write_node_config};
use std::path::{Path, PathBuf};
use std::time::Duration;

const BANK_DATA: &str = r#"
[datasets.customers]
csv = "people.csv"
[datasets.customers.columns]
id = { type = "text", grade = "internal" }
"#;

const TAX_DATA: &str = r#"
[datasets.taxpayers]
csv = "people.csv"
[datasets.taxpayers.columns]
id = { type = "text", grade = "internal" }
"#;

const TAX_POLICY: &str = r#"
[[policy.peers.bank.allow]]
protocols = ["psi-intersection", "psi-cardinality"]
datasets = ["taxpayers"]
grades = ["internal"]
outputs = { intersection = ["bank"], cardinality = ["bank"] }
"#;

/// Writes `ids` as the site's people.csv.
fn people(site: &Site, ids: std::ops::Range<u32>) {
    let mut csv = String::from("id\n");
    for i in ids {
        csv.push_str(&format!("k{i}\n"));
    }
    std::fs::write(site.dir.join("people.csv"), csv).unwrap();
}

/// A two-party PSI spec of `protocol` with its output to the bank.
fn spec(dir: &Path, name: &str, protocol: &str) -> PathBuf {
    let output = match protocol {
        "psi-cardinality" => "cardinality",
        _ => "intersection",
    };
    let text = format!(
        r#"protocol = "{protocol}"
purpose = "customer overlap"

[[parties]]
name = "bank"
dataset = "customers"
columns = ["id"]

[[parties]]
name = "tax"
dataset = "taxpayers"
columns = ["id"]

[[outputs]]
name = "{output}"
receiver = "bank"
"#
    );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Waits until `id` runs on the node of `cfg`.
fn until_running(cfg: &str, id: &str) {
    for _ in 0..3000 {
        if state(cfg, id) == "running" {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("job {id} never ran on {cfg}");
}

/// The files of job `id` (whoever proposed it) under the site's results.
fn files_left(site: &Site, id: &str) -> usize {
    std::fs::read_dir(site.dir.join("results"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|proposer| {
            std::fs::read_dir(proposer.path().join(id))
                .map(|d| d.count())
                .unwrap_or(0)
        })
        .sum()
}

#[test]
fn cancel_stops_a_running_job_on_both_nodes_and_names_who() {
    let root = tempfile::tempdir().unwrap();
    let bank = site(root.path(), "bank");
    let tax = site(root.path(), "tax");
    let bank_config = write_node_config(&bank, "bank", &[("tax", &tax)], BANK_DATA, "");
    let tax_config = write_node_config(&tax, "tax", &[("bank", &bank)], TAX_DATA, TAX_POLICY);
    let (bank_cfg, tax_cfg) = (bank_config.to_str().unwrap(), tax_config.to_str().unwrap());
    // Large enough that an ECDH cardinality job is still running when it
    // is cancelled (hashing and blinding 100 000 keys takes seconds).
    people(&bank, 0..100_000);
    people(&tax, 50_000..150_000);
    let bank_node = start(&bank_config);
    let tax_node = start(&tax_config);

    // Cancelled where it was submitted, then at the peer.
    let mut cancelled = Vec::new();
    for (canceller, cfg) in [("bank", bank_cfg), ("tax", tax_cfg)] {
        let card = spec(root.path(), &format!("{canceller}.toml"), "psi-cardinality");
        let id = submit(bank_cfg, &card);
        until_running(tax_cfg, &id);
        std::thread::sleep(Duration::from_millis(300));
        let cancel = run(&["job", "cancel", "--config", cfg, &id]);
        assert!(cancel.status.success(), "{}", text(&cancel));
        for node_cfg in [bank_cfg, tax_cfg] {
            let (st, status) = settled(node_cfg, &id);
            assert_eq!(st, "cancelled", "{node_cfg}: {status}");
            assert!(
                status.contains(&format!("cancelled by {canceller}")),
                "{node_cfg}: {status}"
            );
        }
        // Nothing was released, and there is no result to ask for.
        assert_eq!(files_left(&bank, &id), 0);
        assert_eq!(files_left(&tax, &id), 0);
        let result = run(&["job", "result", "--config", bank_cfg, &id]);
        assert!(!result.status.success(), "{}", text(&result));
        // A cancelled job cannot be cancelled again.
        let again = run(&["job", "cancel", "--config", bank_cfg, &id]);
        assert!(
            !again.status.success() && text(&again).contains("already cancelled"),
            "{}",
            text(&again)
        );
        cancelled.push((canceller, id));
    }

    // Both nodes serve the next job, which completes.
    let next = submit(
        bank_cfg,
        &spec(root.path(), "next.toml", "psi-intersection"),
    );
    for cfg in [bank_cfg, tax_cfg] {
        let (st, status) = settled(cfg, &next);
        assert_eq!(st, "completed", "{status}");
    }

    drop(bank_node);
    drop(tax_node);
    for cfg in [bank_cfg, tax_cfg] {
        let v = run(&["audit", "verify", "--config", cfg]);
        assert!(v.status.success(), "{}", text(&v));
        let shown = text(&run(&["audit", "show", "--config", cfg]));
        for (canceller, id) in &cancelled {
            let line = shown
                .lines()
                .find(|l| l.contains(&format!("job {id} ")) && l.contains("CANCELLED"))
                .unwrap_or_else(|| panic!("no cancellation of {id} in {cfg}:\n{shown}"));
            assert!(
                line.contains(&format!("CANCELLED by {canceller}")),
                "{line}"
            );
        }
    }
}

#[test]
fn an_accepted_job_whose_proposer_never_starts_it_fails_naming_the_proposer() {
    let root = tempfile::tempdir().unwrap();
    let bank = site(root.path(), "bank");
    let tax = site(root.path(), "tax");
    let tax_config = write_node_config(&tax, "tax", &[("bank", &bank)], TAX_DATA, TAX_POLICY);
    let config = std::fs::read_to_string(&tax_config).unwrap();
    std::fs::write(&tax_config, format!("start_timeout_secs = 2\n{config}")).unwrap();
    let tax_cfg = tax_config.to_str().unwrap();
    people(&tax, 0..10);
    let _tax_node = start(&tax_config);

    // The test plays the bank's node: it proposes a job, which tax
    // accepts, and then vanishes without opening the job's channel.
    let path = spec(root.path(), "orphan.toml", "psi-intersection");
    let mut job = JobSpec::load(&path, None).unwrap();
    job.id = "orphan".into();
    {
        let identity = Identity::load(&bank.dir.join("identity")).unwrap();
        let trusted = vec![TrustedPeer {
            name: "tax".into(),
            fingerprint: tax.fingerprint.parse().unwrap(),
        }];
        let any = "127.0.0.1:0".parse().unwrap();
        let endpoint = Endpoint::bind(&identity, any, trusted, Limits::default()).unwrap();
        let tax_addr = format!("127.0.0.1:{}", tax.port).parse().unwrap();
        let mut ch = endpoint.connect(tax_addr, "tax").unwrap();
        let answer = propose::propose(&mut ch, job.canonical_bytes()).unwrap();
        assert!(matches!(answer, Answer::Accept { .. }), "{answer:?}");
    }
    assert_eq!(state(tax_cfg, "orphan"), "accepted");

    let (st, status) = settled(tax_cfg, "orphan");
    assert_eq!(st, "failed", "{status}");
    assert!(
        status.contains("the proposer bank did not start the job within 2 s"),
        "{status}"
    );
    let shown = text(&run(&["audit", "show", "--config", tax_cfg]));
    assert!(
        shown.contains("FAILED: the proposer bank did not start the job"),
        "{shown}"
    );
    let v = run(&["audit", "verify", "--config", tax_cfg]);
    assert!(v.status.success(), "{}", text(&v));
}

/// A party of a three-party job (the dealer, neither the proposer nor a
/// data holder) cancels a long training job: every party stops it and
/// names the dealer, nothing is released, and every log records it.
#[test]
fn a_dealer_cancels_a_running_training_job_on_all_three_nodes() {
    let root = tempfile::tempdir().unwrap();
    let names = ["bank", "tax", "stats"];
    let sites: Vec<Site> = names.iter().map(|n| site(root.path(), n)).collect();
    let columns = ["id,y,age,balance", "id,income,tax_paid", "id"];
    for (i, s) in sites.iter().enumerate() {
        let mut csv = format!("{}\n", columns[i]);
        for r in 0..200u32 {
            let age = 20 + r % 50;
            let row = match i {
                0 => format!(
                    "p{r},{},{age},{}",
                    u32::from((age > 45) ^ (r % 7 == 0)),
                    (r * 37) % 1000
                ),
                1 => format!("p{r},{},{}", (r * 13) % 100, r % 17),
                _ => format!("p{r}"),
            };
            csv.push_str(&row);
            csv.push('\n');
        }
        std::fs::write(s.dir.join("credit.csv"), csv).unwrap();
    }
    let configs: Vec<PathBuf> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut dataset = String::from(
                "\n[datasets.credit]\ncsv = \"credit.csv\"\n[datasets.credit.columns]\n\
                 id = { type = \"text\", grade = \"internal\" }\n",
            );
            for c in columns[i].split(',').skip(1) {
                dataset.push_str(&format!("{c} = {{ type = \"float\", grade = \"sensitive\" }}\n"));
            }
            let policy = if i == 0 {
                String::new()
            } else {
                "\n[[policy.peers.bank.allow]]\nprotocols = [\"train\"]\ndatasets = [\"credit\"]\n\
                 grades = [\"internal\", \"sensitive\"]\n\
                 outputs = { model = [\"bank\", \"tax\"], metrics = [\"bank\"] }\nmin_group_size = 3\n"
                    .to_string()
            };
            let peers: Vec<(&str, &Site)> = names
                .iter()
                .zip(&sites)
                .filter(|(n, _)| *n != name)
                .map(|(n, s)| (*n, s))
                .collect();
            write_node_config(&sites[i], name, &peers, &dataset, &policy)
        })
        .collect();
    let cfgs: Vec<&str> = configs.iter().map(|c| c.to_str().unwrap()).collect();
    let nodes: Vec<_> = configs.iter().map(|c| start(c)).collect();

    // Enough epochs that the job is still training when it is cancelled.
    let spec = root.path().join("train.toml");
    std::fs::write(
        &spec,
        r#"protocol = "train"
purpose = "credit model"

[parameters]
label_holder = "bank"
dealer = "stats"
id_column = "id"
label_column = "y"
epochs = 100000
convergence = false
min_group_size = 3

[[parties]]
name = "bank"
dataset = "credit"
columns = ["id", "y", "age", "balance"]

[[parties]]
name = "tax"
dataset = "credit"
columns = ["id", "income", "tax_paid"]

[[parties]]
name = "stats"

[[outputs]]
name = "model"
receiver = "bank"

[[outputs]]
name = "model"
receiver = "tax"

[[outputs]]
name = "metrics"
receiver = "bank"
"#,
    )
    .unwrap();
    let id = submit(cfgs[0], &spec);
    for cfg in &cfgs {
        until_running(cfg, &id);
    }
    std::thread::sleep(Duration::from_millis(500));
    let cancel = run(&["job", "cancel", "--config", cfgs[2], &id]);
    assert!(cancel.status.success(), "{}", text(&cancel));
    for (i, cfg) in cfgs.iter().enumerate() {
        let (st, status) = settled(cfg, &id);
        assert_eq!(st, "cancelled", "{cfg}: {status}");
        assert!(status.contains("cancelled by stats"), "{cfg}: {status}");
        assert_eq!(files_left(&sites[i], &id), 0, "{cfg}");
    }
    drop(nodes);
    for cfg in &cfgs {
        let v = run(&["audit", "verify", "--config", cfg]);
        assert!(v.status.success(), "{}", text(&v));
        let shown = text(&run(&["audit", "show", "--config", cfg]));
        assert!(
            shown
                .lines()
                .any(|l| l.contains(&format!("job {id} ")) && l.contains("CANCELLED by stats")),
            "{cfg}:\n{shown}"
        );
    }
}
