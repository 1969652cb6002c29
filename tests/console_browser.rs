//! The operator's console in a real browser: headless Chromium (Debian's
//! `chromium`, which .ci/run installs; `$CHROME` or Google Chrome too)
//! driven over the DevTools protocol, against three real `indomain node`
//! processes on loopback — a bank and a tax bureau, each with its console,
//! and a statistics office that deals.
//!
//! One browser for the file, reused by every step of one test: log in
//! (a wrong token refused), submit a training job through the page and
//! watch the open jobs list and the job's page change without a reload,
//! a job the tax bureau refuses showing the refusing peer and its rule, a
//! form stripped of its CSRF token refused, cancel, inline scripts
//! refused by the Content-Security-Policy, the model page's ROC plot and a
//! screenshot of it, the same outcome and receipts on both nodes' pages, a
//! tampered audit log naming its first bad record, and a rotated token
//! logging the old session out. Screenshots of each page go to
//! `target/tmp/console-screenshots/`.
//!
//! Two more tests need no browser: a console beyond loopback without TLS
//! stops the node before it serves, and with TLS it serves its pages
//! (with the CSP header) to a TLS client that trusts its certificate.

mod common;
mod console_common;
mod node_common;

use console_common::*;
use headless_chrome::Tab;
use node_common::{NodeProcess, Site, run, site, text, write_node_config};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// Writes the three sites' data and configurations (the bank and the tax
/// bureau with consoles); returns the configurations.
fn cluster(root: &Path) -> (Vec<Site>, Vec<PathBuf>) {
    let names = ["bank", "tax", "stats"];
    let sites: Vec<Site> = names.iter().map(|n| site(root, n)).collect();
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
                1 => format!("p{r},{},{}", (r * 13) % 100 + age, r % 17),
                _ => format!("p{r}"),
            };
            csv.push_str(&row);
            csv.push('\n');
        }
        std::fs::write(s.dir.join("credit.csv"), csv).unwrap();
    }
    let configs = names
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
            // Only training: the tax bureau refuses a PSI job.
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
            let path = write_node_config(&sites[i], name, &peers, &dataset, &policy);
            if i < 2 {
                let mut text = std::fs::read_to_string(&path).unwrap();
                text.insert_str(0, "console = \"127.0.0.1:0\"\n");
                std::fs::write(&path, text).unwrap();
            }
            path
        })
        .collect();
    (sites, configs)
}

/// A training job of exactly `epochs` epochs (no convergence test, so that
/// a large count keeps the job running).
fn train_spec(id: &str, epochs: u32) -> String {
    format!(
        r#"id = "{id}"
protocol = "train"
purpose = "credit model"

[parameters]
label_holder = "bank"
dealer = "stats"
id_column = "id"
label_column = "y"
epochs = {epochs}
convergence = false
learning_rate = 0.5
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
"#
    )
}

const PSI_SPEC: &str = r#"id = "overlap"
protocol = "psi-cardinality"
purpose = "customer overlap"

[[parties]]
name = "bank"
dataset = "credit"
columns = ["id"]

[[parties]]
name = "tax"
dataset = "credit"
columns = ["id"]

[[outputs]]
name = "cardinality"
receiver = "bank"
"#;

/// Whether the page lists a receipt of `signer` vouching for `outcome`.
fn receipt_js(signer: &str, outcome: &str) -> String {
    format!(
        "[...document.querySelectorAll('#receipts tr[data-signer=\"{signer}\"] [data-state]')]\
         .some(e => e.dataset.state === '{outcome}')"
    )
}

#[test]
fn the_console_in_a_real_browser() {
    let root = tempfile::tempdir().unwrap();
    let (sites, configs) = cluster(root.path());
    let bank = start(&configs[0]);
    let tax = start(&configs[1]);
    let _stats = NodeProcess(
        Command::new(common::BIN)
            .args(["node", "--config"])
            .arg(&configs[2])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let profile = tempfile::tempdir().unwrap();
    let browser = browser(profile.path());
    let tab: Arc<Tab> = browser.new_tab().unwrap();

    // A wrong token is refused; the right one opens the overview.
    go(&tab, &format!("{}/", bank.url));
    assert!(tab.get_url().ends_with("/login"), "{}", tab.get_url());
    eval(
        &tab,
        "document.querySelector('#token').value = 'not-the-token'",
    );
    click_then(
        &tab,
        "#login",
        "!!document.querySelector('#login-error')",
        "the login refused",
    );
    assert!(text_of(&tab, "#login-error").contains("not the operator token"));
    screenshot(&tab, "login-refused");
    login(&tab, &bank);
    assert_eq!(text_of(&tab, "#node-name"), "bank");
    assert!(text_of(&tab, "#peers").contains("tax"));
    screenshot(&tab, "overview");

    // The jobs list is open in a second tab, marked so a reload would show.
    let list = browser.new_tab().unwrap();
    go(&list, &format!("{}/jobs", bank.url));
    eval(&list, "window.__notReloaded = true");

    // A training job submitted through the page runs; its page and the
    // open list follow it to the end without a reload.
    submit(&tab, &bank, &train_spec("credit-live", 30));
    assert!(
        tab.get_url().ends_with("/jobs/bank/credit-live"),
        "{}",
        tab.get_url()
    );
    eval(&tab, "window.__notReloaded = true");
    wait_for(
        &tab,
        &state_js("completed"),
        "the job's page shows it completed",
    );
    assert_eq!(
        eval(&tab, "window.__notReloaded === true"),
        serde_json::Value::Bool(true)
    );
    wait_for(
        &list,
        "!!document.querySelector('tr[data-job=\"bank/credit-live\"] [data-state=\"completed\"]')",
        "the open jobs list shows the new job completed",
    );
    assert_eq!(
        eval(&list, "window.__notReloaded === true"),
        serde_json::Value::Bool(true)
    );
    wait_for(
        &tab,
        "document.querySelectorAll('#receipts tr[data-signer]').length >= 2",
        "receipts",
    );
    screenshot(&tab, "job-completed");
    screenshot(&list, "jobs");
    let bank_hash = text_of(&tab, "#spec-hash");

    // A job outside the tax bureau's policy: the page names the refusing
    // peer and its rule.
    submit(&tab, &bank, PSI_SPEC);
    wait_for(&tab, &state_js("refused"), "the PSI job refused");
    wait_for(
        &tab,
        "!!document.querySelector('#decisions tr[data-party=\"tax\"]')",
        "tax's decision",
    );
    let decision = text_of(&tab, "#decisions tr[data-party=\"tax\"]");
    assert!(
        decision.contains("refused") && decision.contains("policy.peers.bank"),
        "{decision}"
    );
    assert!(
        text_of(&tab, "#failure").contains("refused by tax"),
        "{}",
        text_of(&tab, "#failure")
    );
    screenshot(&tab, "job-refused");

    // A long job: its cancel form stripped of the CSRF token is refused;
    // the real cancel stops it.
    submit(&tab, &bank, &train_spec("credit-long", 100_000));
    wait_for(&tab, &state_js("running"), "the long job running");
    // (One script, so the page's own refresh cannot put the token back
    // in between.)
    eval(
        &tab,
        "const f = document.querySelector('#cancel-form'); \
         f.querySelector('input[name=csrf]').remove(); f.submit(); true",
    );
    wait_for(
        &tab,
        "(document.querySelector('h1') || {textContent: ''}).textContent.includes('CSRF')",
        "the form without its CSRF token refused",
    );
    go(&tab, &format!("{}/jobs/bank/credit-long", bank.url));
    assert_eq!(
        eval(&tab, &state_js("running")),
        serde_json::Value::Bool(true)
    );
    eval(&tab, "document.querySelector('#cancel').click(); true");
    wait_for(&tab, &state_js("cancelled"), "the long job cancelled");
    assert!(text_of(&tab, "#failure").contains("Cancelled by bank"));
    screenshot(&tab, "job-cancelled");

    // The CSP refuses an inline script, even one the page's own DOM gains.
    eval(
        &tab,
        "window.__inline = 0; window.__violation = ''; \
         document.addEventListener('securitypolicyviolation', e => { window.__violation = e.violatedDirective; }); \
         const s = document.createElement('script'); s.textContent = 'window.__inline = 1'; \
         document.body.appendChild(s); true",
    );
    wait_for(
        &tab,
        "window.__violation !== ''",
        "a CSP violation reported",
    );
    assert_eq!(eval(&tab, "window.__inline"), serde_json::json!(0));
    assert!(
        eval(&tab, "window.__violation")
            .as_str()
            .unwrap()
            .starts_with("script-src")
    );

    // The model the bank holds: metrics and the engine's ROC plot.
    go(&tab, &format!("{}/models", bank.url));
    assert!(text_of(&tab, "table.models").contains("bank/credit-live"));
    go(&tab, &format!("{}/models/bank/credit-live", bank.url));
    wait_for(
        &tab,
        "!!document.querySelector('#plots svg')",
        "the model's plot",
    );
    let svg_text = eval(&tab, "document.querySelector('#plots svg').textContent");
    assert!(svg_text.as_str().unwrap().contains("ROC"), "{svg_text}");
    // The ROC, chance, TPR, FPR and loss curves; the ROC with its points.
    let curves = eval(
        &tab,
        "document.querySelectorAll('#plots svg polyline').length",
    );
    assert!(curves.as_u64().unwrap() >= 5, "{curves}");
    let roc_points = eval(
        &tab,
        "document.querySelectorAll('#plots svg polyline')[1].getAttribute('points').trim().split(' ').length",
    );
    assert!(roc_points.as_u64().unwrap() >= 10, "{roc_points}");
    let png = screenshot(&tab, "model");
    let (w, h) = png_size(&png);
    assert!(
        w >= 1000 && h >= 700 && png.len() > 30_000,
        "{w}x{h}, {} bytes",
        png.len()
    );

    // The tax bureau's console shows the same outcome of the shared job,
    // the same spec hash, and the bank's signed receipt.
    let tax_tab = browser.new_tab().unwrap();
    login(&tax_tab, &tax);
    go(&tax_tab, &format!("{}/jobs/bank/credit-live", tax.url));
    wait_for(
        &tax_tab,
        &state_js("completed"),
        "the shared job completed at tax",
    );
    assert_eq!(text_of(&tax_tab, "#spec-hash"), bank_hash);
    wait_for(
        &tax_tab,
        "!!document.querySelector('#receipts tr[data-signer=\"bank\"]')",
        "the bank's receipt at tax",
    );
    wait_for(
        &tax_tab,
        &receipt_js("bank", "completed"),
        "the bank's completion receipt at tax",
    );
    go(&tab, &format!("{}/jobs/bank/credit-live", bank.url));
    wait_for(
        &tab,
        &receipt_js("tax", "completed"),
        "tax's completion receipt at the bank",
    );
    screenshot(&tax_tab, "job-at-tax");

    // The audit log verifies; tampered with in place, it names record #3.
    go(&tab, &format!("{}/audit", bank.url));
    assert_eq!(
        text_of(&tab, "#verdict").split(':').next(),
        Some("Verified")
    );
    screenshot(&tab, "audit");
    let log = sites[0].dir.join("audit.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let mut tampered = lines.clone();
    tampered[3] = tampered[3].replacen("\"time_ms\":1", "\"time_ms\":2", 1);
    assert_ne!(tampered[3], lines[3]);
    std::fs::write(&log, tampered.join("\n") + "\n").unwrap();
    go(&tab, &format!("{}/audit", bank.url));
    assert_eq!(text_of(&tab, "#first-bad"), "#3");
    let colour = eval(
        &tab,
        "getComputedStyle(document.querySelector('#verdict')).color",
    );
    assert_eq!(colour, serde_json::json!("rgb(161, 27, 27)"));
    screenshot(&tab, "audit-tampered");

    // A rotated token logs the old session out at its next request.
    let rotated = run(&[
        "node",
        "--config",
        configs[0].to_str().unwrap(),
        "--new-console-token",
    ]);
    assert!(rotated.status.success(), "{}", text(&rotated));
    go(&tab, &format!("{}/jobs", bank.url));
    assert!(tab.get_url().ends_with("/login"), "{}", tab.get_url());
    login(&tab, &bank);
}

/// A console beyond loopback without TLS: the node refuses to start.
#[test]
fn a_console_beyond_loopback_needs_tls() {
    let root = tempfile::tempdir().unwrap();
    let bank = site(root.path(), "bank");
    let config = write_node_config(&bank, "bank", &[], "", "");
    let body = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("console = \"0.0.0.0:0\"\n{body}")).unwrap();
    let o = run(&["node", "--config", config.to_str().unwrap()]);
    assert!(!o.status.success());
    let out = text(&o);
    assert!(
        out.contains("node.toml:1") && out.contains("needs TLS"),
        "{out}"
    );
    assert!(!out.contains("ready"), "{out}");
}

/// With TLS configured, the console answers over TLS only, with its
/// security headers.
#[test]
fn a_console_behind_tls_serves_over_tls() {
    let root = tempfile::tempdir().unwrap();
    let bank = site(root.path(), "bank");
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    std::fs::write(bank.dir.join("console.crt"), cert.cert.pem()).unwrap();
    std::fs::write(
        bank.dir.join("console.key"),
        cert.signing_key.serialize_pem(),
    )
    .unwrap();
    let config = write_node_config(&bank, "bank", &[], "", "");
    let body = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "console = \"127.0.0.1:0\"\nconsole_tls_cert = \"console.crt\"\n\
             console_tls_key = \"console.key\"\n{body}"
        ),
    )
    .unwrap();
    let node = start(&config);
    assert!(node.url.starts_with("https://"), "{}", node.url);
    let addr = node.url.trim_start_matches("https://").to_string();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(client), name).unwrap();
    let tcp = std::net::TcpStream::connect(&addr).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(
        format!("GET /login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut answer = String::new();
    let _ = tls.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let lower = answer.to_lowercase();
    assert!(
        lower.contains("content-security-policy: default-src 'none'; script-src 'self'"),
        "{answer}"
    );
    assert!(
        lower.contains("set-cookie: indomain-bank-login=") && lower.contains("secure"),
        "{answer}"
    );

    // Plain HTTP on the same port gets no page.
    let mut plain = std::net::TcpStream::connect(&addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    plain
        .write_all(format!("GET /login HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(!String::from_utf8_lossy(&got).contains("HTTP/1.1 200"));
}
