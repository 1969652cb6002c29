//! End to end with three real `indomain node` processes on loopback: jobs
//! with a party set (aggregate, train, predict) proposed by one node and
//! run over QUIC links between every two nodes. A statistics job's result
//! equals the plaintext statistics of the three datasets; a training job's
//! model predicts like the plaintext reference; a predict job scores with
//! it; a node killed mid-job fails the job on the others, naming it,
//! releasing nothing, and the others serve the next job; every node's audit
//! log verifies, with the other parties' completion receipts.

mod common;
mod node_common;

use node_common::{
    NodeProcess, Site, result, run, settled, site, start, submit, text, write_node_config,
};
use std::path::PathBuf;

const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

const DATASETS: &str = r#"
[datasets.people]
csv = "people.csv"
[datasets.people.columns]
id = { type = "text", grade = "internal" }
region = { type = "text", grade = "public" }
income = { type = "float", grade = "sensitive" }
age = { type = "integer", grade = "sensitive" }
"#;

/// What beta and gamma allow alpha to propose.
const POLICY: &str = r#"
[[policy.peers.alpha.allow]]
protocols = ["aggregate", "train", "predict"]
datasets = ["people"]
grades = ["public", "internal", "sensitive"]
outputs = { statistics = ["alpha", "beta"], model = ["alpha", "beta"], metrics = ["alpha", "beta"], predictions = ["alpha"] }
min_group_size = 3
"#;

/// Three sites with their configurations (alpha proposes).
struct Nodes {
    _root: tempfile::TempDir,
    sites: Vec<Site>,
    configs: Vec<PathBuf>,
}

impl Nodes {
    fn new() -> Nodes {
        let root = tempfile::tempdir().unwrap();
        let sites: Vec<Site> = NAMES.iter().map(|n| site(root.path(), n)).collect();
        let configs = NAMES
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let peers: Vec<(&str, &Site)> = NAMES
                    .iter()
                    .zip(&sites)
                    .filter(|(n, _)| *n != name)
                    .map(|(n, s)| (*n, s))
                    .collect();
                let policy = if i == 0 { "" } else { POLICY };
                write_node_config(&sites[i], name, &peers, DATASETS, policy)
            })
            .collect();
        Nodes {
            _root: root,
            sites,
            configs,
        }
    }

    fn cfg(&self, i: usize) -> &str {
        self.configs[i].to_str().unwrap()
    }

    fn start(&self, i: usize) -> NodeProcess {
        start(&self.configs[i])
    }

    /// Writes a job spec into alpha's directory.
    fn spec(&self, name: &str, text: &str) -> PathBuf {
        let path = self.sites[0].dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn write_people(&self, i: usize, rows: &[Row]) {
        let mut csv = String::from("id,region,income,age\n");
        for r in rows {
            csv.push_str(&format!("{},{},{},{}\n", r.id, r.region, r.income, r.age));
        }
        std::fs::write(self.sites[i].dir.join("people.csv"), csv).unwrap();
    }

    /// Waits until job `id` settles on every node and asserts it completed.
    fn completed(&self, id: &str) {
        for i in 0..3 {
            let (st, status) = settled(self.cfg(i), id);
            assert_eq!(st, "completed", "{} : {status}", NAMES[i]);
        }
    }

    /// `audit verify` passes on every node, and each holds the completion
    /// receipts of the two others for `job`.
    fn audited(&self, job: &str) {
        for i in 0..3 {
            let v = run(&["audit", "verify", "--config", self.cfg(i)]);
            assert!(v.status.success(), "{}", text(&v));
            let shown = text(&run(&["audit", "show", "--config", self.cfg(i)]));
            for (j, other) in NAMES.iter().enumerate() {
                if j != i {
                    let receipt = format!("receipt from {other} for job {job}: completed");
                    assert!(shown.contains(&receipt), "{}: {shown}", NAMES[i]);
                }
            }
        }
    }
}

#[derive(Clone)]
struct Row {
    id: String,
    region: &'static str,
    income: f64,
    age: i64,
}

/// `n` rows of party `p`, deterministic, ids `p-k`.
fn people(p: usize, n: usize) -> Vec<Row> {
    (0..n)
        .map(|k| {
            let z = (p * 1000 + k) as u64;
            let h = z.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
            Row {
                id: format!("{p}-{k}"),
                region: if k % 3 == 0 { "south" } else { "north" },
                income: (h % 100_000) as f64 / 100.0,
                age: 20 + (h % 50) as i64,
            }
        })
        .collect()
}

fn aggregate_spec(statistic: &str, extra: &str, columns: &str) -> String {
    let mut spec = format!(
        "protocol = \"aggregate\"\npurpose = \"income statistics\"\n\n[parameters]\nstatistic = \"{statistic}\"\nmin_group_size = 3\n{extra}\n"
    );
    for name in NAMES {
        spec.push_str(&format!(
            "\n[[parties]]\nname = \"{name}\"\ndataset = \"people\"\ncolumns = {columns}\n"
        ));
    }
    for receiver in ["alpha", "beta"] {
        spec.push_str(&format!(
            "\n[[outputs]]\nname = \"statistics\"\nreceiver = \"{receiver}\"\n"
        ));
    }
    spec
}

/// The rows of a result CSV as maps from header to cell.
fn records(csv: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .map(|h| h.to_string())
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

fn close(got: &str, want: f64, tolerance: f64, what: &str) {
    let got: f64 = got.parse().unwrap_or(f64::NAN);
    assert!(
        (got - want).abs() <= tolerance * want.abs().max(1.0),
        "{what}: {got} against plaintext {want}"
    );
}

#[test]
fn statistics_jobs_equal_the_plaintext_statistics() {
    let nodes = Nodes::new();
    let data: Vec<Vec<Row>> = (0..3).map(|p| people(p, 20 + 5 * p)).collect();
    for (i, rows) in data.iter().enumerate() {
        nodes.write_people(i, rows);
    }
    let _running: Vec<NodeProcess> = (0..3).map(|i| nodes.start(i)).collect();
    let all: Vec<&Row> = data.iter().flatten().collect();

    // Mean income and age by region, to alpha and beta.
    let mean = nodes.spec(
        "mean.toml",
        &aggregate_spec(
            "mean",
            "group_by = \"region\"\ncategories = \"north,south\"",
            "[\"income\", \"age\", \"region\"]",
        ),
    );
    let id = submit(nodes.cfg(0), &mean);
    nodes.completed(&id);
    let got = result(nodes.cfg(0), &id);
    assert_eq!(
        got,
        result(nodes.cfg(1), &id),
        "both receivers get the same"
    );
    let rows = records(&got);
    assert_eq!(rows.len(), 4, "{got}");
    for r in &rows {
        assert_eq!(r["status"], "released", "{got}");
        let group: Vec<&&Row> = all.iter().filter(|x| x.region == r["group"]).collect();
        let values: Vec<f64> = match r["column"].as_str() {
            "income" => group.iter().map(|x| x.income).collect(),
            "age" => group.iter().map(|x| x.age as f64).collect(),
            other => panic!("column {other}"),
        };
        assert_eq!(r["count"], values.len().to_string());
        let sum: f64 = values.iter().sum();
        close(&r["sum"], sum, 1e-9, "sum");
        close(&r["mean"], sum / values.len() as f64, 1e-9, "mean");
    }
    // gamma receives nothing and writes nothing.
    let gamma = run(&["job", "result", "--config", nodes.cfg(2), &id]);
    assert!(gamma.status.success(), "{}", text(&gamma));
    assert!(gamma.stdout.is_empty(), "gamma learns no statistics");
    assert!(
        !nodes.sites[2]
            .dir
            .join("results")
            .join(&id)
            .join("statistics.csv")
            .exists()
    );

    // The sample variance of income over everyone.
    let variance = nodes.spec(
        "variance.toml",
        &aggregate_spec("variance", "", "[\"income\"]"),
    );
    let vid = submit(nodes.cfg(0), &variance);
    nodes.completed(&vid);
    let got = result(nodes.cfg(1), &vid);
    let rows = records(&got);
    assert_eq!(rows.len(), 1, "{got}");
    let n = all.len() as f64;
    let mean = all.iter().map(|x| x.income).sum::<f64>() / n;
    let var = all.iter().map(|x| (x.income - mean).powi(2)).sum::<f64>() / (n - 1.0);
    close(&rows[0]["variance"], var, 1e-6, "variance");

    nodes.audited(&id);
    nodes.audited(&vid);
}
