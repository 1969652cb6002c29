//! The README's main command, end to end: `indomain demo` starts three real
//! `indomain node` processes on loopback, submits jobs to them over their
//! control sockets (a differentially private release spends a data
//! holder's monthly budget and a second one is refused for it), shows one
//! refused by policy, trains a logistic regression and gradient-boosted
//! trees on the same data as node jobs, verifies every node's audit log,
//! then runs the private verification service and SecAgg+; every secure
//! result is checked
//! against the plaintext computation, and the report must say that all
//! matched.

use std::process::Command;

const NODES: [&str; 3] = ["bank", "tax-bureau", "statistics-office"];

#[test]
fn demo_runs_every_job_and_matches_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_indomain"))
        .args(["demo", "--rows", "1500", "--workdir"])
        .arg(dir.path())
        .output()
        .expect("run indomain demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("jobs matched the plaintext computation"),
        "{stdout}"
    );
    assert!(!stdout.contains("MISMATCH"), "{stdout}");
    assert!(!stdout.contains("failed"), "{stdout}");
    // The differentially private histogram states its ε and checks every
    // noisy count against the exact one.
    assert!(
        stdout.contains("A differentially private histogram of incomes")
            && stdout.contains("ε = 0.9097 achieved"),
        "{stdout}"
    );

    // The node part: the PSI jobs ran between the nodes, the out-of-policy
    // job was refused with the rule named, and every audit log verified.
    assert!(
        stdout.contains("ok: both nodes' outputs equal the plaintext intersection"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "policy.peers.bank.allow[0].columns: the job names a dataset or column that this node does not allow to the proposer (refused by tax-bureau)"
        ),
        "{stdout}"
    );
    // A DP release spends from the bank's monthly budget for the
    // statistics office; the same release again is refused for it, with
    // what remains named, before any data is read.
    assert!(
        stdout.contains("ok: every released count and sum within 5.5 noise standard deviations")
            && stdout.contains("the bank's ledger charged the release's ρ")
            && stdout.contains("the bank's budget for statistics-office this month"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "refused: policy.peers.statistics-office.allow[1].dp: the DP budget of dataset incomes for statistics-office for "
        ) && stdout.contains("is exhausted for this job")
            && stdout.contains(
                "ok: refused by bank under policy.peers.statistics-office.allow[1].dp before any row was read, naming the ε that remains; the budget is unchanged"
            ),
        "{stdout}"
    );
    for node in NODES {
        assert!(stdout.contains(&format!("{node}: OK — ")), "{stdout}");
    }
    let nodes = dir.path().join("nodes");
    let statistics =
        nodes.join("statistics-office/results/statistics-office/demo-incomes/statistics.csv");
    assert!(statistics.is_file(), "{}", statistics.display());
    let released =
        nodes.join("statistics-office/results/statistics-office/demo-dp-incomes/statistics.csv");
    assert!(released.is_file(), "{}", released.display());
    assert!(
        !nodes
            .join("bank/results/statistics-office/demo-dp-incomes-again")
            .exists()
    );
    for node in ["bank", "tax-bureau"] {
        assert!(
            !nodes
                .join(node)
                .join("results/statistics-office/demo-incomes")
                .exists()
        );
        // Each data party holds its own part of the trained model and the
        // join's alignment; the dealer holds no model.
        let model = nodes.join(node).join("results/bank/demo-credit/model.json");
        assert!(model.is_file(), "{}", model.display());
        let alignment = nodes
            .join(node)
            .join("results/bank/demo-align/alignment.csv");
        assert!(alignment.is_file(), "{}", alignment.display());
    }
    assert!(
        !nodes
            .join("statistics-office/results/bank/demo-credit")
            .exists()
    );
    // The intersection-sum: the sum only at the tax bureau.
    assert!(
        nodes
            .join("tax-bureau/results/tax-bureau/demo-tax-sum/sum.csv")
            .is_file()
    );
    assert!(
        !nodes
            .join("bank/results/tax-bureau/demo-tax-sum/sum.csv")
            .exists()
    );
    assert!(
        stdout.contains("ok: converged; AUC, log-loss and ECE within"),
        "{stdout}"
    );
    // Gradient-boosted trees as a node job beside the logistic
    // regression: both AUCs next to plaintext in one table, every split
    // and leaf weight checked by a plaintext replay; each data party holds
    // its model part, the dealer none.
    assert!(
        stdout.contains("Gradient-boosted trees beside the logistic regression, as a node job")
            && stdout.contains("logistic regression (demo-credit)    0.")
            && stdout.contains("GBDT, 4 trees of depth 3, 8 bins     0.")
            && stdout.contains(
                "ok: replayed in plaintext on the same rows, split and bins, every split is a best candidate of its node"
            ),
        "{stdout}"
    );
    for node in ["bank", "tax-bureau"] {
        let model = nodes.join(node).join("results/bank/demo-trees/model.json");
        assert!(model.is_file(), "{}", model.display());
    }
    assert!(
        !nodes
            .join("statistics-office/results/bank/demo-trees")
            .exists()
    );
    assert!(
        stdout.contains("answers equal the plaintext look-up"),
        "{stdout}"
    );
    for node in ["bank", "tax-bureau"] {
        let out = nodes
            .join(node)
            .join("results/bank/demo-overlap/intersection.csv");
        assert!(out.is_file(), "{}", out.display());
        assert!(
            !nodes
                .join(node)
                .join("results/bank/demo-overreach")
                .exists()
        );
    }
    // The nodes were stopped: nobody answers on their control sockets.
    for node in NODES {
        let socket = nodes.join(node).join("control.sock");
        assert!(
            std::os::unix::net::UnixStream::connect(&socket).is_err(),
            "{} still answers",
            socket.display()
        );
    }

    // Outside the node: the client's answers landed, and no partial file
    // was left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n == "bank_answers.csv"), "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with(".indomain-partial")),
        "{names:?}"
    );
}
