use super::*;
use std::path::Path;

const SPEC: &str = r#"
id = "job-1"
protocol = "psi-intersection"
purpose = "customer overlap"

[[parties]]
name = "bank"
dataset = "customers"
columns = ["id"]

[[parties]]
name = "tax"
dataset = "taxpayers"
columns = ["id"]

[parameters]
min_intersection = 10

[[outputs]]
name = "intersection"
receiver = "bank"
"#;

fn parse(text: &str) -> Result<JobSpec, NodeError> {
    JobSpec::from_toml(Path::new("job.toml"), text, None)
}

fn message(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn parses_a_spec() {
    let spec = parse(SPEC).unwrap();
    assert_eq!(spec.protocol, Protocol::PsiIntersection);
    assert_eq!(spec.parties[1].dataset, "taxpayers");
    assert_eq!(spec.int_param("min_intersection"), Some(10));
    assert_eq!(spec.outputs[0].receiver, "bank");
}

#[test]
fn hash_is_canonical_not_textual() {
    let a = parse(SPEC).unwrap();
    // The same spec written differently: comments, key order, spacing.
    let reordered = SPEC
        .replace(
            "purpose = \"customer overlap\"",
            "# note\npurpose   =   \"customer overlap\"",
        )
        .replace(
            "id = \"job-1\"\nprotocol = \"psi-intersection\"",
            "protocol = \"psi-intersection\"\nid = \"job-1\"",
        );
    let b = parse(&reordered).unwrap();
    assert_eq!(a.hash(), b.hash());
    // A spec that arrives as JSON hashes the same.
    let c: JobSpec = serde_json::from_slice(&a.canonical_bytes()).unwrap();
    assert_eq!(a.hash(), c.hash());
    // Any change of substance changes the hash.
    let d = parse(&format!(
        "{SPEC}\n[[outputs]]\nname = \"intersection\"\nreceiver = \"tax\"\n"
    ))
    .unwrap();
    assert_ne!(a.hash(), d.hash());
    let e = parse(&SPEC.replace("min_intersection = 10", "min_intersection = 11")).unwrap();
    assert_ne!(a.hash(), e.hash());
}

#[test]
fn typo_names_file_line_and_key() {
    let m = message(&SPEC.replace("purpose =", "purpse ="));
    assert!(m.starts_with("job.toml:4:"), "{m}");
    assert!(m.contains("purpse"), "{m}");
    let m = message(&SPEC.replace(
        "dataset = \"taxpayers\"",
        "dataset = \"taxpayers\"\ncolumn = [\"x\"]",
    ));
    assert!(m.starts_with("job.toml:"), "{m}");
    assert!(m.contains("column"), "{m}");
}

#[test]
fn receiver_outside_the_job_is_refused_on_its_line() {
    let m = message(&SPEC.replace("receiver = \"bank\"", "receiver = \"broker\""));
    assert!(m.starts_with("job.toml:21:"), "{m}");
    assert!(m.contains("\"broker\""), "{m}");
}

#[test]
fn unknown_output_and_protocol_are_refused() {
    let m = message(&SPEC.replace("name = \"intersection\"", "name = \"model\""));
    assert!(
        m.starts_with("job.toml:20:") && m.contains("no output \"model\""),
        "{m}"
    );
    let m = message(&SPEC.replace("psi-intersection", "psi-everything"));
    assert!(
        m.starts_with("job.toml:3:") && m.contains("psi-everything"),
        "{m}"
    );
}

#[test]
fn party_count_and_duplicates_are_checked() {
    let m = message(&SPEC.replace("name = \"tax\"", "name = \"bank\""));
    assert!(
        m.starts_with("job.toml:12:") && m.contains("listed twice"),
        "{m}"
    );
    let three = format!("{SPEC}\n[[parties]]\nname = \"x\"\ndataset = \"d\"\ncolumns = [\"c\"]\n");
    assert!(message(&three).contains("takes 2..=2 parties"));
}

#[test]
fn json_specs_are_validated_too() {
    let mut spec = parse(SPEC).unwrap();
    spec.id = "../etc".into();
    assert!(matches!(spec.validate(), Err(NodeError::InvalidJob(_))));
}

#[test]
fn the_submitting_node_checks_peers_datasets_and_columns_with_lines() {
    use crate::grade::Grade;
    let catalog = BTreeMap::from([(
        "customers".to_string(),
        BTreeMap::from([("id".to_string(), Grade::Internal)]),
    )]);
    let known = Known {
        me: "bank",
        peers: vec!["tax"],
        catalog: &catalog,
    };
    let check = |text: &str| JobSpec::from_toml(Path::new("job.toml"), text, Some(&known));
    check(SPEC).unwrap();
    let m = check(&SPEC.replace("name = \"tax\"", "name = \"broker\""))
        .unwrap_err()
        .to_string();
    assert_eq!(m, "job.toml:12: party \"broker\" is not a configured peer");
    let m = check(&SPEC.replace("\"customers\"", "\"clients\""))
        .unwrap_err()
        .to_string();
    assert_eq!(m, "job.toml:8: no dataset \"clients\" on this node");
    let m = check(&SPEC.replacen("columns = [\"id\"]", "columns = [\"iban\"]", 1))
        .unwrap_err()
        .to_string();
    assert_eq!(
        m,
        "job.toml:9: dataset \"customers\" has no column \"iban\""
    );
    let other = Known {
        me: "insurer",
        peers: vec!["tax", "bank"],
        catalog: &catalog,
    };
    let m = JobSpec::from_toml(Path::new("job.toml"), SPEC, Some(&other))
        .unwrap_err()
        .to_string();
    assert_eq!(m, "job.toml: this node (insurer) is not a party of the job");
}

const TRAIN: &str = r#"
protocol = "train"
purpose = "credit model"

[parameters]
label_holder = "bank"
dealer = "stats"
id_column = "id"
label_column = "y"

[[parties]]
name = "bank"
dataset = "customers"
columns = ["id", "y", "age"]

[[parties]]
name = "tax"
dataset = "taxpayers"
columns = ["id", "income"]

[[parties]]
name = "stats"

[[outputs]]
name = "model"
receiver = "bank"

[[outputs]]
name = "model"
receiver = "tax"
"#;

#[test]
fn only_a_training_jobs_dealer_names_no_dataset() {
    let spec = parse(TRAIN).unwrap();
    assert!(spec.is_dealer("stats") && !spec.is_dealer("bank"));
    assert_eq!(spec.parties[2].dataset, "");
    assert!(spec.parties[2].columns.is_empty());
    // Round trip through the JSON a peer receives, same hash.
    let json: JobSpec = serde_json::from_slice(&spec.canonical_bytes()).unwrap();
    json.validate().unwrap();
    assert_eq!(json.hash(), spec.hash());

    let m = message(&TRAIN.replace("dealer = \"stats\"", "dealer = \"nobody\""));
    assert!(
        m.starts_with("job.toml:22:") && m.contains("names no dataset"),
        "{m}"
    );
    let m = message(&TRAIN.replace(
        "name = \"stats\"\n",
        "name = \"stats\"\ndataset = \"d\"\ncolumns = [\"c\"]\n",
    ));
    assert!(m.contains("is the dealer, which reads no data"), "{m}");
    // A party that is not the job's dealer names its dataset.
    let m = message(
        &TRAIN
            .replace("protocol = \"train\"", "protocol = \"predict\"")
            .replace("dealer = \"stats\"\n", ""),
    );
    assert!(m.contains("names no dataset"), "{m}");
}

const AGGREGATE: &str = r#"
protocol = "aggregate"
purpose = "income statistics"

[parameters]
statistic = "mean"
min_group_size = 20
dealer = "stats"

[[parties]]
name = "bank"
dataset = "customers"
columns = ["income"]

[[parties]]
name = "tax"
dataset = "taxpayers"
columns = ["income"]

[[parties]]
name = "stats"

[[outputs]]
name = "statistics"
receiver = "bank"
"#;

#[test]
fn an_aggregate_jobs_dealer_names_no_dataset() {
    let spec = parse(AGGREGATE).unwrap();
    assert!(spec.is_dealer("stats") && !spec.is_dealer("tax"));
    let json: JobSpec = serde_json::from_slice(&spec.canonical_bytes()).unwrap();
    json.validate().unwrap();
    let m = message(&AGGREGATE.replace(
        "name = \"stats\"\n",
        "name = \"stats\"\ndataset = \"d\"\ncolumns = [\"c\"]\n",
    ));
    assert!(m.contains("is the dealer, which reads no data"), "{m}");
}

#[test]
fn an_aggregate_job_without_dealer_must_open_counts_explicitly() {
    let without = AGGREGATE
        .replace("dealer = \"stats\"\n", "")
        .replace("[[parties]]\nname = \"stats\"\n", "");
    let m = message(&without);
    assert!(
        m.starts_with("job.toml: an aggregate job names a dealer")
            && m.contains("open_counts_to_decider = true"),
        "{m}"
    );
    let opened = without.replace(
        "min_group_size = 20\n",
        "min_group_size = 20\nopen_counts_to_decider = true\n",
    );
    assert!(!parse(&opened).unwrap().is_dealer("bank"));
    // false is not consent; both at once is ambiguous.
    let m = message(&opened.replace("= true", "= false"));
    assert!(m.contains("names a dealer"), "{m}");
    let both = AGGREGATE.replace(
        "min_group_size = 20\n",
        "min_group_size = 20\nopen_counts_to_decider = true\n",
    );
    assert!(message(&both).contains("exclude each other"));
    // A JSON spec from a peer is held to the same rule.
    let mut json = parse(AGGREGATE).unwrap();
    json.parameters.remove("dealer");
    json.parties.pop();
    let m = json.validate().unwrap_err().to_string();
    assert!(m.contains("names a dealer"), "{m}");
}

#[test]
fn an_aggregate_jobs_dealer_receives_nothing_and_is_a_party() {
    let m = message(&format!(
        "{AGGREGATE}\n[[outputs]]\nname = \"statistics\"\nreceiver = \"stats\"\n"
    ));
    assert!(
        m.starts_with("job.toml:29:") && m.contains("\"stats\" is the dealer"),
        "{m}"
    );
    let m = message(&AGGREGATE.replace("dealer = \"stats\"", "dealer = \"nobody\""));
    assert!(m.contains("names no dataset"), "{m}");
    let two = AGGREGATE.replace(
        "[[parties]]\nname = \"tax\"\ndataset = \"taxpayers\"\ncolumns = [\"income\"]\n",
        "",
    );
    assert!(message(&two).contains("two data parties besides the dealer"));
}
