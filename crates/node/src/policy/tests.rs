use super::*;
use crate::jobspec::{Output, Param, Party};
use std::time::Duration;

const NOW: u64 = 1_795_980_605;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn policy() -> Policy {
    let grades = BTreeMap::from([
        ("id".to_string(), Grade::Internal),
        ("region".to_string(), Grade::Public),
        ("income".to_string(), Grade::Sensitive),
        ("salary".to_string(), Grade::Core),
    ]);
    let psi_rule = Rule {
        protocols: vec![Protocol::PsiIntersection, Protocol::PsiCardinality],
        datasets: vec!["taxpayers".into()],
        columns: Some(vec!["id".into()]),
        grades: vec![Grade::Public, Grade::Internal],
        outputs: BTreeMap::from([
            ("intersection".to_string(), vec!["bank".to_string()]),
            (
                "cardinality".to_string(),
                vec!["bank".to_string(), "tax".to_string()],
            ),
        ]),
        min_intersection: Some(10),
        not_before: Some(NOW - 86_400),
        not_after: Some(NOW + 86_400),
        ..Rule::default()
    };
    let stats_rule = Rule {
        protocols: vec![Protocol::Aggregate],
        purposes: Some(vec!["regional statistics".into()]),
        datasets: vec!["taxpayers".into()],
        columns: Some(vec!["region".into(), "income".into(), "salary".into()]),
        grades: vec![Grade::Public, Grade::Sensitive],
        outputs: BTreeMap::from([(
            "statistics".to_string(),
            vec!["bank".to_string(), "tax".to_string()],
        )]),
        min_group_size: Some(5),
        max_rows: Some(1000),
        max_jobs_per_hour: Some(2),
        ..Rule::default()
    };
    Policy {
        me: "tax".into(),
        catalog: BTreeMap::from([("taxpayers".to_string(), grades)]),
        peers: BTreeMap::from([(
            "bank".to_string(),
            PeerPolicy {
                allow: vec![psi_rule, stats_rule],
            },
        )]),
    }
}

fn psi_job() -> JobSpec {
    JobSpec {
        id: "j1".into(),
        protocol: Protocol::PsiIntersection,
        purpose: String::new(),
        parties: vec![
            Party {
                name: "bank".into(),
                dataset: "customers".into(),
                columns: vec!["id".into()],
            },
            Party {
                name: "tax".into(),
                dataset: "taxpayers".into(),
                columns: vec!["id".into()],
            },
        ],
        parameters: BTreeMap::from([("min_intersection".to_string(), Param::Int(50))]),
        outputs: vec![Output {
            name: "intersection".into(),
            receiver: "bank".into(),
        }],
    }
}

fn stats_job() -> JobSpec {
    let mut job = psi_job();
    job.protocol = Protocol::Aggregate;
    job.purpose = "regional statistics".into();
    job.parties[1].columns = vec!["region".into(), "income".into()];
    job.parameters = BTreeMap::from([("min_group_size".to_string(), Param::Int(5))]);
    job.outputs = vec![Output {
        name: "statistics".into(),
        receiver: "bank".into(),
    }];
    job
}

/// One row of the table: a job, who proposes it, when, and the expected
/// outcome (`Ok(rule index)` or `Err((rule, part of the reason))`).
struct Case {
    name: &'static str,
    peer: &'static str,
    now: u64,
    job: JobSpec,
    expect: Result<usize, (&'static str, &'static str)>,
}

fn with(job: JobSpec, change: impl FnOnce(&mut JobSpec)) -> JobSpec {
    let mut job = job;
    change(&mut job);
    job
}

#[test]
fn policy_table() {
    let cases = vec![
        Case {
            name: "psi inside policy",
            peer: "bank",
            now: NOW,
            job: psi_job(),
            expect: Ok(0),
        },
        Case {
            name: "statistics inside policy",
            peer: "bank",
            now: NOW,
            job: stats_job(),
            expect: Ok(1),
        },
        Case {
            name: "unknown peer",
            peer: "broker",
            now: NOW,
            job: with(psi_job(), |j| j.parties[0].name = "broker".into()),
            expect: Err(("policy.peers", "no entry for peer \"broker\"")),
        },
        Case {
            name: "peer not in the job",
            peer: "bank",
            now: NOW,
            job: with(psi_job(), |j| j.parties[0].name = "insurer".into()),
            expect: Err(("job.parties", "\"bank\" is not a party")),
        },
        Case {
            name: "dataset this node lacks",
            peer: "bank",
            now: NOW,
            job: with(psi_job(), |j| j.parties[1].dataset = "payroll".into()),
            expect: Err(("policy.peers.bank.allow[0].datasets", DATA_NOT_ALLOWED)),
        },
        Case {
            name: "column the dataset lacks",
            peer: "bank",
            now: NOW,
            job: with(psi_job(), |j| j.parties[1].columns = vec!["idd".into()]),
            expect: Err(("policy.peers.bank.allow[0].columns", DATA_NOT_ALLOWED)),
        },
        Case {
            name: "column outside the rule",
            peer: "bank",
            now: NOW,
            job: with(psi_job(), |j| {
                j.parties[1].columns = vec!["id".into(), "salary".into()]
            }),
            expect: Err(("policy.peers.bank.allow[0].columns", DATA_NOT_ALLOWED)),
        },
        Case {
            name: "grade outside the rule",
            peer: "bank",
            now: NOW,
            job: with(stats_job(), |j| {
                j.parties[1].columns = vec!["salary".into()]
            }),
            // Listed, but of a grade the rule does not allow: refused by
            // the rule's column list like a column not listed or missing.
            expect: Err(("policy.peers.bank.allow[1].columns", DATA_NOT_ALLOWED)),
        },
        Case {
            name: "output to an undeclared receiver",
            peer: "bank",
            now: NOW,
            job: with(psi_job(), |j| j.outputs[0].receiver = "tax".into()),
            expect: Err((
                "policy.peers.bank.allow[0].outputs",
                "\"intersection\" may not be released to \"tax\"",
            )),
        },
        Case {
            name: "protocol no rule allows",
            peer: "bank",
            now: NOW,
            job: with(psi_job(), |j| j.protocol = Protocol::PsiJoin),
            expect: Err((
                "policy.peers.bank.allow[0].protocols",
                "psi-join not allowed",
            )),
        },
        Case {
            name: "purpose outside the rule",
            peer: "bank",
            now: NOW,
            job: with(stats_job(), |j| j.purpose = "marketing".into()),
            expect: Err((
                "policy.peers.bank.allow[1].purposes",
                "the job's purpose is not one the rule allows",
            )),
        },
        Case {
            name: "intersection threshold too low",
            peer: "bank",
            now: NOW,
            job: with(psi_job(), |j| {
                j.parameters
                    .insert("min_intersection".into(), Param::Int(3));
            }),
            expect: Err((
                "policy.peers.bank.allow[0].min_intersection",
                "is 3, at least 10",
            )),
        },
        Case {
            name: "group size missing",
            peer: "bank",
            now: NOW,
            job: with(stats_job(), |j| j.parameters.clear()),
            expect: Err((
                "policy.peers.bank.allow[1].min_group_size",
                "sets no min_group_size",
            )),
        },
        Case {
            name: "expired validity",
            peer: "bank",
            now: NOW + 2 * 86_400,
            job: psi_job(),
            expect: Err(("policy.peers.bank.allow[0].not_after", "expired at")),
        },
        Case {
            name: "not yet valid",
            peer: "bank",
            now: NOW - 2 * 86_400,
            job: psi_job(),
            expect: Err(("policy.peers.bank.allow[0].not_before", "applies from")),
        },
    ];
    let policy = policy();
    for case in cases {
        let got = check(&policy, case.peer, &case.job, at(case.now));
        match (&got, &case.expect) {
            (Ok(grant), Ok(rule)) => assert_eq!(grant.rule, *rule, "{}", case.name),
            (Err(refusal), Err((rule, reason))) => {
                assert_eq!(refusal.rule, *rule, "{}: {refusal}", case.name);
                assert!(refusal.reason.contains(reason), "{}: {refusal}", case.name);
            }
            _ => panic!("{}: got {got:?}, expected {:?}", case.name, case.expect),
        }
    }
}

#[test]
fn refusals_do_not_tell_existing_from_missing_data_nor_quote_the_spec() {
    // `payroll` exists here but no rule allows it; `nosuch` does not exist.
    let mut policy = policy();
    policy.catalog.insert(
        "payroll".into(),
        BTreeMap::from([("id".to_string(), Grade::Internal)]),
    );
    let refused = |job: JobSpec| check(&policy, "bank", &job, at(NOW)).unwrap_err();
    let pairs = [
        (
            with(psi_job(), |j| j.parties[1].dataset = "payroll".into()),
            with(psi_job(), |j| j.parties[1].dataset = "nosuch".into()),
        ),
        // A rule listing its columns: one not listed, one missing.
        (
            with(psi_job(), |j| {
                j.parties[1].columns = vec!["id".into(), "salary".into()]
            }),
            with(psi_job(), |j| {
                j.parties[1].columns = vec!["id".into(), "nosuch".into()]
            }),
        ),
        // A rule by grades: a core column, and one missing.
        (
            with(stats_job(), |j| {
                j.parties[1].columns = vec!["salary".into()]
            }),
            with(stats_job(), |j| {
                j.parties[1].columns = vec!["nosuch".into()]
            }),
        ),
    ];
    for (existing, missing) in pairs {
        let (a, b) = (refused(existing), refused(missing));
        assert_eq!(a.to_string().as_bytes(), b.to_string().as_bytes());
        assert!(!a.to_string().contains("core"), "{a}");
    }
    // A rule by grades alone (no column list): a core column, and one
    // missing, are both refused by its grades.
    let mut graded = policy.clone();
    graded.peers.get_mut("bank").unwrap().allow[1].columns = None;
    let core = with(stats_job(), |j| {
        j.parties[1].columns = vec!["salary".into()]
    });
    let missing = with(stats_job(), |j| {
        j.parties[1].columns = vec!["nosuch".into()]
    });
    let a = check(&graded, "bank", &core, at(NOW)).unwrap_err();
    let b = check(&graded, "bank", &missing, at(NOW)).unwrap_err();
    assert_eq!(a, b);
    assert_eq!(a.rule, "policy.peers.bank.allow[1].grades");
    // A purpose is never quoted back, however long.
    let long = with(stats_job(), |j| j.purpose = "z".repeat(900 << 10));
    let refusal = refused(long);
    assert!(refusal.to_string().len() < 200, "{refusal}");
}

#[test]
fn refusal_reads_as_rule_then_reason() {
    let job = with(psi_job(), |j| j.parties[1].columns = vec!["salary".into()]);
    let refusal = check(&policy(), "bank", &job, at(NOW)).unwrap_err();
    assert_eq!(
        refusal.to_string(),
        "policy.peers.bank.allow[0].columns: the job names a dataset or column that this node \
         does not allow to the proposer"
    );
}

#[test]
fn grant_carries_row_limit_and_rate_limit_is_enforced() {
    let policy = policy();
    let grant = check(&policy, "bank", &stats_job(), at(NOW)).unwrap();
    assert_eq!(grant.max_rows, Some(1000));
    rate_limit(&grant, 0).unwrap();
    rate_limit(&grant, 1).unwrap();
    let refusal = rate_limit(&grant, 2).unwrap_err();
    assert_eq!(refusal.rule, "policy.peers.bank.allow[1].max_jobs_per_hour");
    // A rule without a limit admits any number.
    let psi = check(&policy, "bank", &psi_job(), at(NOW)).unwrap();
    rate_limit(&psi, 1_000_000).unwrap();
}

#[test]
fn a_dealer_is_checked_on_everything_but_data() {
    let mut policy = policy();
    let dealer_rule = Rule {
        protocols: vec![Protocol::Train],
        datasets: vec![],
        grades: vec![],
        outputs: BTreeMap::from([("model".to_string(), vec!["bank".to_string()])]),
        min_group_size: Some(5),
        ..Rule::default()
    };
    policy.peers.get_mut("bank").unwrap().allow = vec![dealer_rule];
    let mut job = stats_job();
    job.protocol = Protocol::Train;
    job.parties[1].dataset = String::new();
    job.parties[1].columns = Vec::new();
    job.parameters
        .insert("dealer".to_string(), Param::Text("tax".into()));
    job.outputs = vec![Output {
        name: "model".into(),
        receiver: "bank".into(),
    }];
    check(&policy, "bank", &job, at(NOW)).unwrap();
    // The rest of the rule still applies: an output to another receiver,
    // or a job that is not the dealer's, is refused.
    let to_tax = with(job.clone(), |j| j.outputs[0].receiver = "tax".into());
    let refusal = check(&policy, "bank", &to_tax, at(NOW)).unwrap_err();
    assert_eq!(refusal.rule, "policy.peers.bank.allow[0].outputs");
    let not_dealer = with(job, |j| {
        j.parameters
            .insert("dealer".to_string(), Param::Text("bank".into()));
    });
    let refusal = check(&policy, "bank", &not_dealer, at(NOW)).unwrap_err();
    assert_eq!(refusal.rule, "policy.peers.bank.allow[0].datasets");
}

#[test]
fn an_aggregate_jobs_dealer_is_checked_on_everything_but_data() {
    let mut policy = policy();
    policy.peers.get_mut("bank").unwrap().allow = vec![Rule {
        protocols: vec![Protocol::Aggregate],
        outputs: BTreeMap::from([("statistics".to_string(), vec!["bank".to_string()])]),
        min_group_size: Some(5),
        ..Rule::default()
    }];
    let mut job = stats_job();
    job.parties[1].dataset = String::new();
    job.parties[1].columns = Vec::new();
    job.parameters
        .insert("dealer".to_string(), Param::Text("tax".into()));
    check(&policy, "bank", &job, at(NOW)).unwrap();
    // Without the dealer parameter the node looks for its (empty) dataset.
    let not_dealer = with(job, |j| {
        j.parameters.remove("dealer");
    });
    let refusal = check(&policy, "bank", &not_dealer, at(NOW)).unwrap_err();
    assert_eq!(refusal.rule, "policy.peers.bank.allow[0].datasets");
}
