use super::*;
use crate::config::NodeConfig;
use crate::jobspec::JobSpec;
use crate::policy::check;
use ed25519_dalek::SigningKey;
use std::path::Path;
use std::time::SystemTime;

/// The tax bureau's node: peers bank, stats and broker; `rule` is the
/// leak part of its one rule for the bank.
fn config(dir: &Path, rule: &str) -> Result<NodeConfig, crate::NodeError> {
    std::fs::write(dir.join("people.csv"), "id,income,region\na,1,n\n").unwrap();
    NodeConfig::from_toml(&dir.join("node.toml"), &config_text(rule))
}

fn config_text(rule: &str) -> String {
    let key =
        crate::audit::key::format_public_key(&SigningKey::from_bytes(&[2; 32]).verifying_key());
    let fp = "ab".repeat(32);
    let peer = |name: &str, port: u16| {
        format!(
            "[peers.{name}]\naddress = \"127.0.0.1:{port}\"\nfingerprint = \"sha256:{fp}\"\naudit_key = \"{key}\"\n"
        )
    };
    format!(
        r#"name = "tax"
identity = "identity"
listen = "127.0.0.1:7000"
audit_log = "audit.jsonl"
control_socket = "control.sock"

{}{}{}
[datasets.people]
csv = "people.csv"
[datasets.people.columns]
id = {{ type = "text", grade = "internal" }}
income = {{ type = "float", grade = "sensitive" }}
region = {{ type = "text", grade = "public" }}

[[policy.peers.bank.allow]]
protocols = ["psi-intersection", "aggregate", "train", "binning"]
datasets = ["people"]
grades = ["public", "internal", "sensitive"]
outputs = {{ intersection = ["bank"], statistics = ["bank"], model = ["bank", "tax"], metrics = ["bank", "tax"], binning = ["bank", "tax"] }}
{rule}
"#,
        peer("bank", 7001),
        peer("stats", 7002),
        peer("broker", 7003),
    )
}

fn spec(text: &str) -> JobSpec {
    JobSpec::from_toml(Path::new("job.toml"), text, None).unwrap()
}

fn psi(extra: &str) -> JobSpec {
    spec(&format!(
        "protocol = \"psi-intersection\"\n[parameters]\n{extra}\n\
         [[parties]]\nname = \"bank\"\ndataset = \"c\"\ncolumns = [\"id\"]\n\
         [[parties]]\nname = \"tax\"\ndataset = \"people\"\ncolumns = [\"id\"]\n\
         [[outputs]]\nname = \"intersection\"\nreceiver = \"bank\"\n"
    ))
}

fn statistics(decision: &str, extra: &str) -> JobSpec {
    let dealer = decision.contains("dealer");
    spec(&format!(
        "protocol = \"aggregate\"\n[parameters]\nstatistic = \"histogram\"\nbins = \"0,10,20\"\n\
         group_by = \"region\"\ncategories = \"n,s,e\"\nmin_group_size = 5\n{decision}\n{extra}\n\
         [[parties]]\nname = \"bank\"\ndataset = \"c\"\ncolumns = [\"region\", \"income\"]\n\
         [[parties]]\nname = \"tax\"\ndataset = \"people\"\ncolumns = [\"region\", \"income\"]\n{}\
         [[outputs]]\nname = \"statistics\"\nreceiver = \"bank\"\n",
        if dealer {
            "[[parties]]\nname = \"stats\"\n"
        } else {
            ""
        }
    ))
}

fn train(dealer: &str, extra: &str) -> JobSpec {
    spec(&train_text(dealer, extra))
}

fn train_text(dealer: &str, extra: &str) -> String {
    format!(
        "protocol = \"train\"\n[parameters]\nlabel_holder = \"bank\"\ndealer = \"{dealer}\"\n\
         id_column = \"id\"\nlabel_column = \"y\"\nepochs = 30\n{extra}\n\
         [[parties]]\nname = \"bank\"\ndataset = \"c\"\ncolumns = [\"id\", \"y\", \"x\"]\n\
         [[parties]]\nname = \"tax\"\ndataset = \"people\"\ncolumns = [\"id\", \"income\"]\n\
         [[parties]]\nname = \"{dealer}\"\n\
         [[outputs]]\nname = \"model\"\nreceiver = \"bank\"\n\
         [[outputs]]\nname = \"model\"\nreceiver = \"tax\"\n\
         [[outputs]]\nname = \"metrics\"\nreceiver = \"bank\"\n"
    )
}

/// The rule that refused `job` under the leak fields `rule`, or `None`.
fn refused(rule: &str, job: &JobSpec) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), rule).unwrap();
    match check(&config.policy, "bank", job, SystemTime::now()) {
        Ok(_) => None,
        Err(r) => Some(format!("{}: {}", r.rule, r.reason)),
    }
}

#[test]
fn dealers_name_the_approved_sources_of_correlations() {
    let job = train("stats", "");
    // Absent: any dealer, as before the rule existed.
    assert_eq!(refused("", &job), None);
    assert_eq!(refused("dealers = [\"stats\"]", &job), None);
    let m = refused("dealers = [\"broker\"]", &train("stats", "")).unwrap();
    assert!(
        m.starts_with("policy.peers.bank.allow[0].dealers: the job's correlated randomness comes from dealer stats"),
        "{m}"
    );
    // A rule that requires two-party correlations refuses every dealer.
    let m = refused("dealers = [\"two-party\"]", &job).unwrap();
    assert!(m.starts_with("policy.peers.bank.allow[0].dealers"), "{m}");
    // Statistics with a dealer go through the same rule.
    let m = refused(
        "dealers = [\"broker\"]",
        &statistics("dealer = \"stats\"", ""),
    )
    .unwrap();
    assert!(m.starts_with("policy.peers.bank.allow[0].dealers"), "{m}");
    // A job without correlated randomness is not concerned.
    assert_eq!(refused("dealers = [\"two-party\"]", &psi("")), None);
    // The two-party entry allows exactly two-party correlations.
    let rules = LeakRules {
        dealers: Some(vec![DealerChoice::parse(TWO_PARTY)]),
        ..LeakRules::default()
    };
    let two_party = LeakProfile {
        correlations: Correlations::TwoParty,
        ..crate::plan::JobPlan::leaks(&psi("").plan().unwrap())
    };
    rules.check("p", &two_party).unwrap();
}

#[test]
fn a_dealer_outside_the_configuration_is_refused_on_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let rule = "dealers = [\"stats\", \"nobody\"]";
    let err = config(dir.path(), rule).unwrap_err().to_string();
    let line = config_text(rule).lines().position(|l| l == rule).unwrap() + 1;
    assert!(
        err.ends_with(&format!(
            "node.toml:{line}: policy.peers.bank.allow[0]: dealers: unknown party \"nobody\""
        )),
        "{err}"
    );
}

#[test]
fn counts_are_opened_to_a_decider_only_where_allowed() {
    let opened = statistics("open_counts_to_decider = true", "");
    let m = refused("", &opened).unwrap();
    assert!(
        m.starts_with("policy.peers.bank.allow[0].open_counts_to_decider: the job opens every group's count to bank"),
        "{m}"
    );
    assert_eq!(refused("open_counts_to_decider = true", &opened), None);
    // With a dealer no count is opened.
    assert_eq!(refused("", &statistics("dealer = \"stats\"", "")), None);
}

#[test]
fn contribution_reports_are_refused_where_the_rule_says_so() {
    let job = train("stats", "contribution = true");
    assert_eq!(refused("", &job), None);
    let m = refused("contribution = false", &job).unwrap();
    assert!(
        m.starts_with("policy.peers.bank.allow[0].contribution:"),
        "{m}"
    );
    assert_eq!(refused("contribution = false", &train("stats", "")), None);
}

#[test]
fn sizes_are_bounded_per_rule() {
    let stats = statistics("dealer = \"stats\"", "");
    assert_eq!(refused("max_categories = 3\nmax_bins = 4", &stats), None);
    let m = refused("max_categories = 2", &stats).unwrap();
    assert!(
        m.starts_with(
            "policy.peers.bank.allow[0].max_categories: the job asks for 3 categories, at most 2"
        ),
        "{m}"
    );
    let m = refused("max_bins = 3", &stats).unwrap();
    assert!(m.starts_with("policy.peers.bank.allow[0].max_bins"), "{m}");
    let m = refused("max_epochs = 20", &train("stats", "")).unwrap();
    assert!(
        m.starts_with("policy.peers.bank.allow[0].max_epochs: the job asks for 30 epochs"),
        "{m}"
    );
    assert_eq!(refused("max_epochs = 30", &train("stats", "")), None);
    // A PSI peer brings up to max_peer_items keys: the job must bound it.
    let m = refused("max_items = 1000", &psi("")).unwrap();
    assert!(m.starts_with("policy.peers.bank.allow[0].max_items"), "{m}");
    assert_eq!(
        refused("max_items = 1000", &psi("max_peer_items = 1000")),
        None
    );
    // Limits of other job types do not apply.
    assert_eq!(refused("max_items = 1\nmax_epochs = 1", &stats), None);
}

#[test]
fn a_leak_refusal_is_reported_over_an_earlier_rules_narrower_one() {
    // The leak check runs after the rest of a rule: a rule that allows
    // everything but the dealer is the closest, and is named.
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "dealers = [\"broker\"]").unwrap();
    let refusal = check(
        &config.policy,
        "bank",
        &train("stats", ""),
        SystemTime::now(),
    )
    .unwrap_err();
    assert_eq!(refusal.rule, "policy.peers.bank.allow[0].dealers");
}

fn binning(extra: &str) -> JobSpec {
    spec(&format!(
        "protocol = \"binning\"\n[parameters]\nlabel_holder = \"bank\"\ndealer = \"stats\"\n\
         id_column = \"id\"\nlabel_column = \"y\"\n{extra}\n\
         [[parties]]\nname = \"bank\"\ndataset = \"c\"\ncolumns = [\"id\", \"y\", \"x\"]\n\
         [[parties]]\nname = \"tax\"\ndataset = \"people\"\ncolumns = [\"id\", \"income\"]\n\
         [[parties]]\nname = \"stats\"\n\
         [[outputs]]\nname = \"binning\"\nreceiver = \"bank\"\n\
         [[outputs]]\nname = \"binning\"\nreceiver = \"tax\"\n"
    ))
}

#[test]
fn binning_modes_beyond_the_label_holder_view_need_the_rule() {
    // Absent: the label-holder view and strict, not the owner transform.
    assert_eq!(refused("", &binning("")), None);
    assert_eq!(refused("", &binning("mode = \"strict\"")), None);
    let owner = binning("mode = \"owner-transform\"");
    let m = refused("", &owner).unwrap();
    assert!(
        m.starts_with(
            "policy.peers.bank.allow[0].binning_modes: the job bins in the owner-transform mode"
        ),
        "{m}"
    );
    assert_eq!(
        refused("binning_modes = [\"default\", \"owner-transform\"]", &owner),
        None
    );
    // A rule may insist on strict binning.
    let m = refused("binning_modes = [\"strict\"]", &binning("")).unwrap();
    assert!(
        m.starts_with("policy.peers.bank.allow[0].binning_modes: the job bins in the default mode"),
        "{m}"
    );
    // A shared permutation shows how an owner's bins co-occur.
    let shared = binning("shared_permutation = true");
    let m = refused("", &shared).unwrap();
    assert!(
        m.starts_with("policy.peers.bank.allow[0].shared_permutation:"),
        "{m}"
    );
    assert_eq!(refused("shared_permutation = true", &shared), None);
    // Bins and categories meet the same limits as statistics'.
    let m = refused("max_bins = 8", &binning("bins = 12")).unwrap();
    assert!(
        m.starts_with("policy.peers.bank.allow[0].max_bins: the job asks for 12"),
        "{m}"
    );
    let m = refused("max_categories = 100", &binning("")).unwrap();
    assert!(
        m.starts_with("policy.peers.bank.allow[0].max_categories"),
        "{m}"
    );
    // An unknown mode in the configuration is refused when it loads.
    let dir = tempfile::tempdir().unwrap();
    assert!(config(dir.path(), "binning_modes = [\"open\"]").is_err());
}

#[test]
fn the_instance_space_of_trees_is_opened_only_where_allowed() {
    // Trees keep the instance space hidden: the rule has nothing to refuse.
    let trees = spec(&format!(
        "{}[[outputs]]\nname = \"metrics\"\nreceiver = \"tax\"\n",
        train_text("stats", "").replace("epochs = 30", "algorithm = \"gbdt\"\ntrees = 5")
    ));
    let profile = trees.plan().unwrap().leaks();
    assert!(!profile.instance_space);
    assert_eq!(profile.bins, 32);
    assert_eq!(refused("", &trees), None);
    // A job that opened it (SecureBoost's leakage, issue #19's
    // --leak-instance-space) would need the rule's consent.
    let opened = LeakProfile {
        instance_space: true,
        ..profile
    };
    let m = LeakRules::default()
        .check("policy.peers.bank.allow[0]", &opened)
        .unwrap_err();
    assert_eq!(m.rule, "policy.peers.bank.allow[0].leak_instance_space");
    let allowed = LeakRules {
        leak_instance_space: true,
        ..LeakRules::default()
    };
    allowed.check("p", &opened).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "leak_instance_space = true").unwrap();
    assert!(
        config.policy.peers["bank"].allow[0]
            .leaks
            .leak_instance_space
    );
}
