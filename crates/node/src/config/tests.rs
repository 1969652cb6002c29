use super::*;
use crate::audit::key::format_public_key;
use ed25519_dalek::SigningKey;

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("people.csv"), "id,income\na,1\n").unwrap();
        Fixture { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("node.toml")
    }

    fn parse(&self, text: &str) -> Result<NodeConfig, NodeError> {
        NodeConfig::from_toml(&self.path(), text)
    }

    fn message(&self, text: &str) -> String {
        let e = self.parse(text).unwrap_err().to_string();
        let prefix = format!("{}:", self.path().display());
        e.strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{e}"))
            .to_string()
    }
}

fn config_text() -> String {
    let key = format_public_key(&SigningKey::from_bytes(&[2; 32]).verifying_key());
    format!(
        r#"name = "bank"
identity = "identity"
listen = "127.0.0.1:7000"
audit_log = "audit.jsonl"
control_socket = "control.sock"

[peers.tax]
address = "127.0.0.1:7001"
fingerprint = "sha256:{fp}"
audit_key = "{key}"

[datasets.people]
csv = "people.csv"
[datasets.people.columns]
id = {{ type = "text", grade = "internal" }}
income = {{ type = "float", grade = "core" }}

[[policy.peers.tax.allow]]
protocols = ["psi-intersection"]
datasets = ["people"]
columns = ["id"]
grades = ["internal"]
outputs = {{ intersection = ["tax", "bank"] }}
not_after = 2027-01-01T00:00:00Z
"#,
        fp = "ab".repeat(32)
    )
}

#[test]
fn loads_a_configuration() {
    let f = Fixture::new();
    let c = f.parse(&config_text()).unwrap();
    assert_eq!(c.name, "bank");
    assert_eq!(c.identity, f.dir.path().join("identity"));
    assert_eq!(c.peers["tax"].address.port(), 7001);
    assert_eq!(c.datasets["people"].columns["income"].grade, Grade::Core);
    assert_eq!(c.policy.catalog["people"]["id"], Grade::Internal);
    let rule = &c.policy.peers["tax"].allow[0];
    assert_eq!(rule.protocols, vec![Protocol::PsiIntersection]);
    assert_eq!(rule.not_after, Some(1_798_761_600));
    assert_eq!(
        rule.outputs["intersection"],
        vec!["tax".to_string(), "bank".to_string()]
    );
}

#[test]
fn typo_names_line_and_key() {
    let f = Fixture::new();
    let m = f.message(&config_text().replace("audit_log =", "audit_logs ="));
    assert!(m.starts_with("4:") && m.contains("audit_logs"), "{m}");
    let m = f.message(&config_text().replace("columns = [\"id\"]", "colums = [\"id\"]"));
    assert!(m.starts_with("21:") && m.contains("colums"), "{m}");
    let m = f.message(&config_text().replace("grade = \"core\"", "grade = \"secret\""));
    assert!(m.starts_with("16:") && m.contains("secret"), "{m}");
}

#[test]
fn unknown_peer_in_policy_is_named() {
    let f = Fixture::new();
    let m = f.message(
        &config_text().replace("[[policy.peers.tax.allow]]", "[[policy.peers.taxx.allow]]"),
    );
    assert!(
        m.starts_with("18:") && m.contains("unknown peer \"taxx\""),
        "{m}"
    );
    let m = f.message(&config_text().replace("[\"tax\", \"bank\"]", "[\"tax\", \"broker\"]"));
    assert!(
        m.starts_with("23:") && m.contains("unknown receiver \"broker\""),
        "{m}"
    );
}

#[test]
fn missing_datasets_and_columns_are_named() {
    let f = Fixture::new();
    let m = f.message(&config_text().replace("csv = \"people.csv\"", "csv = \"persons.csv\""));
    assert!(
        m.starts_with("13:") && m.contains("persons.csv does not exist"),
        "{m}"
    );
    let m = f.message(&config_text().replace("datasets = [\"people\"]", "datasets = [\"staff\"]"));
    assert!(
        m.starts_with("20:") && m.contains("no dataset \"staff\""),
        "{m}"
    );
    let m = f.message(&config_text().replace("columns = [\"id\"]", "columns = [\"iban\"]"));
    assert!(
        m.starts_with("21:") && m.contains("no column \"iban\""),
        "{m}"
    );
    let m = f.message(&config_text().replace(
        "csv = \"people.csv\"",
        "csv = \"people.csv\"\ntable = \"t\"",
    ));
    assert!(m.contains("takes no `table`"), "{m}");
}

#[test]
fn bad_values_are_named() {
    let f = Fixture::new();
    let m = f.message(&config_text().replace("127.0.0.1:7001", "localhost"));
    assert!(
        m.starts_with("8:") && m.contains("peers.tax.address"),
        "{m}"
    );
    let m = f.message(&config_text().replace("sha256:", "sha1:"));
    assert!(m.starts_with("9:") && m.contains("fingerprint"), "{m}");
    let m = f.message(&config_text().replace("audit_key = \"ed25519:", "audit_key = \"ed25519:00"));
    assert!(m.starts_with("10:") && m.contains("audit_key"), "{m}");
    let m = f.message(&config_text().replace("2027-01-01T00:00:00Z", "2027-01-01T00:00:00"));
    assert!(m.starts_with("24:") && m.contains("UTC offset"), "{m}");
}

#[test]
fn the_start_timeout_defaults_and_must_be_positive() {
    let f = Fixture::new();
    let text = config_text();
    assert_eq!(f.parse(&text).unwrap().start_timeout, DEFAULT_START_TIMEOUT);
    let set = format!("start_timeout_secs = 30\n{text}");
    assert_eq!(
        f.parse(&set).unwrap().start_timeout,
        Duration::from_secs(30)
    );
    let zero = format!("start_timeout_secs = 0\n{text}");
    let m = f.message(&zero);
    assert!(
        m.starts_with("1:") && m.contains("start_timeout_secs: must be at least 1"),
        "{m}"
    );
}

#[test]
fn a_dp_budget_is_parsed_and_bad_ones_are_named() {
    let f = Fixture::new();
    let rule = "not_after = 2027-01-01T00:00:00Z\n";
    let with = |dp: &str| config_text().replace(rule, &format!("{rule}dp = {dp}\n"));
    let c = f
        .parse(&with(r#"{ epsilon = 1.5, delta = 1e-6, per = "month" }"#))
        .unwrap();
    let budget = c.policy.peers["tax"].allow[0].dp.unwrap();
    assert_eq!((budget.epsilon, budget.delta), (1.5, 1e-6));
    assert!(
        f.parse(&config_text()).unwrap().policy.peers["tax"].allow[0]
            .dp
            .is_none()
    );
    let line = config_text()
        .lines()
        .position(|l| l == rule.trim())
        .unwrap()
        + 2;
    for (dp, words) in [
        (
            r#"{ epsilon = 0.0, delta = 1e-6, per = "month" }"#,
            "give epsilon > 0",
        ),
        (
            r#"{ epsilon = inf, delta = 1e-6, per = "month" }"#,
            "give epsilon > 0",
        ),
        (
            r#"{ epsilon = 1.0, delta = 1.0, per = "month" }"#,
            "delta in (0, 1)",
        ),
        (
            r#"{ epsilon = 1.0, delta = 1e-6, per = "week" }"#,
            "per \"month\"",
        ),
    ] {
        let m = f.message(&with(dp));
        assert!(
            m.starts_with(&format!("{line}:"))
                && m.contains("policy.peers.tax.allow[0]: dp")
                && m.contains(words),
            "{dp}: {m}"
        );
    }
    let m = f.message(&with(r#"{ epsilon = 1.0, delta = 1e-6 }"#));
    assert!(m.contains("per"), "{m}");
}
