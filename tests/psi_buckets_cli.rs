//! End to end: `indomain psi --buckets N`, two real processes on loopback
//! over QUIC, the input spooled to bucket files: the bucketed result equals
//! the plaintext one and the unbucketed one, an interrupted run resumes
//! from its state files (a torn last line ignored) to the uninterrupted
//! output, a resume against a changed input is refused, and no spool file
//! is left after a success or a failure.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{BIN, free_port, keygen};

struct Parties {
    dir: tempfile::TempDir,
    peer_a: String,
    peer_b: String,
}

impl Parties {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let peer_a = keygen("alice", &dir.path().join("alice"));
        let peer_b = keygen("bob", &dir.path().join("bob"));
        Self {
            dir,
            peer_a,
            peer_b,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts alice (listening, sender) and bob (connecting, receiver) on
    /// `alice.csv` and `bob.csv`, with `args` on both sides and outputs
    /// `a-OUT` and `b-OUT` (revealed to both).
    fn spawn(&self, args: &[&str], out: &str) -> (Child, Child) {
        let addr = format!("127.0.0.1:{}", free_port());
        let spawn = |name: &str, side: [&str; 2], peer: &str| {
            Command::new(BIN)
                .arg("psi")
                .arg("--identity")
                .arg(self.path(name))
                .args(side)
                .args(["--peer", peer, "--timeout", "30", "--quiet"])
                .args(["--input", &format!("{name}.csv"), "--key", "id"])
                .args(["--output", &format!("{}-{out}", &name[..1])])
                .args(["--reveal", "both"])
                .args(args)
                .current_dir(self.dir.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let a = spawn("alice", ["--listen", &addr], &self.peer_b);
        std::thread::sleep(Duration::from_millis(300));
        let b = spawn("bob", ["--connect", &addr], &self.peer_a);
        (a, b)
    }

    fn run(&self, args: &[&str], out: &str) -> (Output, Output) {
        let (a, b) = self.spawn(args, out);
        (a.wait_with_output().unwrap(), b.wait_with_output().unwrap())
    }
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    err
}

fn rows(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// Alice holds ids `a`, Bob ids `b`, each with a second column.
fn write_inputs(p: &Parties, a: std::ops::Range<u32>, b: std::ops::Range<u32>) {
    let mut text = String::from("id,income\n");
    for i in a {
        text += &format!("id{i},{}\n", i * 10);
    }
    std::fs::write(p.path("alice.csv"), text).unwrap();
    let mut text = String::from("id,score\n");
    for i in b {
        text += &format!("id{i},{}\n", i % 7);
    }
    std::fs::write(p.path("bob.csv"), text).unwrap();
}

/// The spool files left in the parties' directory.
fn spools(p: &Parties) -> Vec<String> {
    std::fs::read_dir(p.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("indomain-spool"))
        .collect()
}

fn sorted(mut rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    rows.sort();
    rows
}

/// Buckets completed in a resume state (one `intersection_size` field per
/// completed bucket).
fn state_buckets(path: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(text.matches("\"intersection_size\"").count())
}

#[test]
fn bucketed_intersection_and_join_match_the_plaintext() {
    let p = Parties::new();
    write_inputs(&p, 0..600, 400..1000);
    let (ra, rb) = p.run(&["--mode", "intersection", "--buckets", "5"], "i.csv");
    let (ea, eb) = (ok(&ra), ok(&rb));
    assert!(
        ea.contains("matches: 200") && eb.contains("matches: 200"),
        "{ea}\n{eb}"
    );
    let want: Vec<Vec<String>> = (400..600).map(|i| vec![format!("id{i}")]).collect();
    // Intersection rows come in each party's input order.
    assert_eq!(rows(&p.path("a-i.csv")), want);
    assert_eq!(rows(&p.path("b-i.csv")), want);
    for side in ["a", "b"] {
        assert!(!p.path(&format!("{side}-i.csv.indomain-resume")).exists());
    }
    assert_eq!(spools(&p), Vec::<String>::new());
    // The unbucketed run writes the same files.
    let (ra, rb) = p.run(&["--mode", "intersection"], "u.csv");
    ok(&ra);
    ok(&rb);
    for side in ["a", "b"] {
        let bucketed = std::fs::read(p.path(&format!("{side}-i.csv"))).unwrap();
        let whole = std::fs::read(p.path(&format!("{side}-u.csv"))).unwrap();
        assert_eq!(bucketed, whole, "{side}");
    }

    let (ra, rb) = p.run(&["--mode", "join", "--buckets", "3"], "j.csv");
    ok(&ra);
    ok(&rb);
    let (ja, jb) = (rows(&p.path("a-j.csv")), rows(&p.path("b-j.csv")));
    assert_eq!((ja.len(), jb.len()), (200, 200));
    let mut seen = HashSet::new();
    for (x, y) in ja.iter().zip(&jb) {
        assert_eq!(x[0], y[0]);
        let i: u32 = x[0][2..].parse().unwrap();
        assert!((400..600).contains(&i));
        assert_eq!(
            (x[1].clone(), y[1].clone()),
            ((i * 10).to_string(), (i % 7).to_string())
        );
        assert!(seen.insert(i));
    }
    assert_eq!(spools(&p), Vec::<String>::new());
    // The same rows as the unbucketed join (in another common order).
    let (ra, rb) = p.run(&["--mode", "join"], "ju.csv");
    ok(&ra);
    ok(&rb);
    assert_eq!(sorted(ja), sorted(rows(&p.path("a-ju.csv"))));
    assert_eq!(sorted(jb), sorted(rows(&p.path("b-ju.csv"))));
}

#[test]
fn a_run_failing_after_spooling_leaves_no_spool_output_or_state() {
    let p = Parties::new();
    write_inputs(&p, 0..300, 100..400);
    // A repeated key shows only once the input is spooled (after connecting).
    let mut bob = std::fs::read_to_string(p.path("bob.csv")).unwrap();
    bob += "id150,3\n";
    std::fs::write(p.path("bob.csv"), bob).unwrap();
    let (ra, rb) = p.run(&["--mode", "join", "--buckets", "4"], "f.csv");
    let err = String::from_utf8_lossy(&rb.stderr);
    assert!(!ra.status.success() && !rb.status.success());
    assert!(err.contains("repeats the key of line"), "{err}");
    assert_eq!(spools(&p), Vec::<String>::new());
    for side in ["a", "b"] {
        assert!(!p.path(&format!("{side}-f.csv")).exists());
        assert!(!p.path(&format!("{side}-f.csv.indomain-resume")).exists());
    }
}

#[test]
fn cardinality_in_buckets_is_refused_before_connecting() {
    let p = Parties::new();
    write_inputs(&p, 0..10, 5..15);
    let o = Command::new(BIN)
        .arg("psi")
        .arg("--identity")
        .arg(p.path("bob"))
        .args(["--connect", &format!("127.0.0.1:{}", free_port())])
        .args(["--peer", &p.peer_a, "--timeout", "30", "--quiet"])
        .args(["--input", "bob.csv", "--key", "id", "--output", "c.csv"])
        .args(["--mode", "cardinality", "--buckets", "4"])
        .current_dir(p.dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("cannot run in buckets"), "{err}");
    assert!(!p.path("c.csv").exists());
}

#[test]
fn an_interrupted_run_resumes_to_the_uninterrupted_output_and_a_changed_input_is_refused() {
    const BUCKETS: &str = "60";
    let p = Parties::new();
    write_inputs(&p, 0..3000, 2000..5000);
    let args = ["--mode", "intersection", "--buckets", BUCKETS];

    let (ra, rb) = p.run(&args, "whole.csv");
    ok(&ra);
    ok(&rb);

    // Kill both processes once bob's state shows some buckets done.
    let (mut a, mut b) = p.spawn(&args, "cut.csv");
    let bob_state = p.path("b-cut.csv.indomain-resume");
    let alice_state = p.path("a-cut.csv.indomain-resume");
    let deadline = Instant::now() + Duration::from_secs(120);
    while state_buckets(&bob_state).unwrap_or(0) < 2 {
        assert!(Instant::now() < deadline, "no bucket completed");
        assert!(b.try_wait().unwrap().is_none(), "bob ended before the cut");
        std::thread::sleep(Duration::from_millis(5));
    }
    a.kill().unwrap();
    b.kill().unwrap();
    a.wait().unwrap();
    b.wait().unwrap();
    let cut = state_buckets(&bob_state).unwrap();
    assert!((2..60).contains(&cut), "{cut} buckets at the cut");
    assert!(state_buckets(&alice_state).is_some());
    assert!(!p.path("a-cut.csv").exists() && !p.path("b-cut.csv").exists());
    // A crash in the middle of writing bob's next line: it is ignored.
    let mut state = std::fs::OpenOptions::new()
        .append(true)
        .open(&bob_state)
        .unwrap();
    std::io::Write::write_all(&mut state, b"{\"bucket\":99,\"intersection_si").unwrap();
    drop(state);

    // Bob's input changes: his own state refuses it.
    let original = std::fs::read(p.path("bob.csv")).unwrap();
    let mut changed = original.clone();
    changed.extend_from_slice(b"id999999,1\n");
    std::fs::write(p.path("bob.csv"), &changed).unwrap();
    let (ra, rb) = p.run(&args, "cut.csv");
    let err = String::from_utf8_lossy(&rb.stderr);
    assert!(!rb.status.success() && !ra.status.success());
    assert!(
        err.contains("cannot resume") && err.contains("input changed"),
        "{err}"
    );
    assert!(err.contains("indomain-resume"), "{err}");
    assert!(!p.path("a-cut.csv").exists() && !p.path("b-cut.csv").exists());
    assert!(state_buckets(&bob_state).unwrap() >= cut);

    // The same command on the same input resumes and ends as the whole run.
    std::fs::write(p.path("bob.csv"), &original).unwrap();
    let (ra, rb) = p.run(&args, "cut.csv");
    let (ea, eb) = (ok(&ra), ok(&rb));
    assert!(
        ea.contains("resuming from") && eb.contains("resuming from"),
        "{eb}"
    );
    assert!(eb.contains("matches: 1000"), "{eb}");
    for side in ["a", "b"] {
        let whole = std::fs::read(p.path(&format!("{side}-whole.csv"))).unwrap();
        let cut = std::fs::read(p.path(&format!("{side}-cut.csv"))).unwrap();
        assert_eq!(whole, cut, "{side}");
        assert!(!p.path(&format!("{side}-cut.csv.indomain-resume")).exists());
    }
    assert_eq!(spools(&p), Vec::<String>::new());
    let want: Vec<Vec<String>> = (2000..3000).map(|i| vec![format!("id{i}")]).collect();
    assert_eq!(rows(&p.path("b-cut.csv")), want);
}

/// The mode bits of `path`.
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn spools_and_state_are_private_and_a_killed_runs_spool_goes_with_the_next_run() {
    let p = Parties::new();
    write_inputs(&p, 0..150_000, 100_000..250_000);
    // Alice sends and learns nothing: no output, so she spools into the
    // directory she names; Bob receives into `out.csv`.
    let spawn = |p: &Parties| {
        let addr = format!("127.0.0.1:{}", free_port());
        let party = |name: &str, side: [&str; 2], peer: &str, extra: &[&str]| {
            Command::new(BIN)
                .arg("psi")
                .arg("--identity")
                .arg(p.path(name))
                .args(side)
                .args(["--peer", peer, "--timeout", "30", "--quiet"])
                .args(["--input", &format!("{name}.csv"), "--key", "id"])
                .args(["--mode", "intersection", "--buckets", "40"])
                .args(extra)
                .current_dir(p.dir.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let a = party(
            "alice",
            ["--listen", &addr],
            &p.peer_b,
            &["--role", "sender", "--spool-dir", "spools"],
        );
        std::thread::sleep(Duration::from_millis(300));
        let b = party(
            "bob",
            ["--connect", &addr],
            &p.peer_a,
            &["--output", "out.csv"],
        );
        (a, b)
    };
    let alice_spool = p.path("spools/alice.csv.indomain-spool");
    let bob_spool = p.path("out.csv.indomain-spool");
    let bob_state = p.path("out.csv.indomain-resume");

    // kill -9 both while they hold their spools and Bob his resume state.
    let (mut a, mut b) = spawn(&p);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !(alice_spool.exists()
        && bob_spool.exists()
        && state_buckets(&bob_state).unwrap_or(0) >= 1)
    {
        assert!(Instant::now() < deadline, "the run never spooled");
        assert!(b.try_wait().unwrap().is_none(), "bob ended before the kill");
        std::thread::sleep(Duration::from_millis(2));
    }
    a.kill().unwrap();
    b.kill().unwrap();
    a.wait().unwrap();
    b.wait().unwrap();
    // What a crash leaves holds every key and matched positions: private,
    // in a private directory, never in the shared temporary directory.
    assert_eq!(mode(&p.path("spools")), 0o700);
    for f in [&alice_spool, &bob_spool, &bob_state] {
        assert!(f.exists(), "{}", f.display());
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }

    // The next run removes the spools before anything else, resumes, and
    // leaves only the private output.
    let (a, b) = spawn(&p);
    let (ra, rb) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    ok(&ra);
    let eb = ok(&rb);
    assert!(eb.contains("matches: 50000"), "{eb}");
    assert!(!alice_spool.exists() && !bob_spool.exists() && !bob_state.exists());
    assert_eq!(mode(&p.path("out.csv")), 0o600);
    assert_eq!(rows(&p.path("out.csv")).len(), 50_000);
}
