//! Driving the operator's console in headless Chromium (Debian's
//! `chromium`, which .ci/run installs; `$CHROME` or Google Chrome too)
//! over the DevTools protocol, against real `indomain node` processes:
//! shared by the console's browser tests.
// Each test binary uses a subset of these helpers.
#![allow(dead_code)]

use crate::common;
use crate::node_common::NodeProcess;
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Where the browser may be, in order: Debian's `chromium` package, then
/// Google Chrome's apt package (what .ci/run installs on Ubuntu, whose
/// `chromium-browser` only installs a snap).
pub const BROWSERS: [&str; 3] = [
    "/usr/bin/chromium",
    "/usr/bin/google-chrome-stable",
    "/usr/bin/google-chrome",
];

/// The browser to drive: `$CHROME` when set (headless_chrome's own
/// convention), else the first of [`BROWSERS`] present. No browser is a
/// failure, in CI and out of it: a browser test that passes without a
/// browser would claim what it never checked.
pub fn browser_path() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROME") {
        let path = PathBuf::from(path);
        assert!(path.exists(), "CHROME={} does not exist", path.display());
        return path;
    }
    BROWSERS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "no browser at {BROWSERS:?} and CHROME is not set: the console's browser \
                 tests need headless Chromium (Debian: `apt-get install -y chromium`; \
                 .ci/run installs it, or Google Chrome's apt package on Ubuntu)"
            )
        })
}

pub fn browser(profile: &Path) -> Browser {
    let path = browser_path();
    let args: Vec<&OsStr> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    let options = LaunchOptions::default_builder()
        .path(Some(path.clone()))
        .headless(true)
        .sandbox(false)
        .window_size(Some((1400, 1000)))
        .user_data_dir(Some(profile.to_path_buf()))
        // Pages are polled every 100 ms while the test waits, so the
        // connection is never idle this long unless something hangs.
        .idle_browser_timeout(Duration::from_secs(60))
        .args(args)
        .build()
        .unwrap();
    Browser::new(options).unwrap_or_else(|e| panic!("{} did not start: {e}", path.display()))
}

/// A node process and the console address its ready line names.
pub struct Running {
    pub _process: NodeProcess,
    pub url: String,
    pub token_file: PathBuf,
}

pub fn start(config: &Path) -> Running {
    let mut child = Command::new(common::BIN)
        .args(["node", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let process = NodeProcess(child);
    assert!(line.contains("ready"), "node did not start: {line:?}");
    let url = line
        .split(", console ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no console in {line:?}"))
        .trim_end_matches('/')
        .to_string();
    let token_file = config.parent().unwrap().join("console.token");
    Running {
        _process: process,
        url,
        token_file,
    }
}

pub fn token(node: &Running) -> String {
    std::fs::read_to_string(&node.token_file)
        .unwrap()
        .trim()
        .to_string()
}

/// Runs `js` in the page and returns its value.
pub fn eval(tab: &Tab, js: &str) -> serde_json::Value {
    tab.evaluate(js, false)
        .unwrap_or_else(|e| panic!("{js}: {e}"))
        .value
        .unwrap_or(serde_json::Value::Null)
}

/// Waits until `js` is true in the page (checked ten times a second, for
/// at most two minutes so a broken page fails instead of hanging). A
/// check that cannot run because a navigation is replacing the page's
/// context counts as not yet.
pub fn wait_for(tab: &Tab, js: &str, what: &str) {
    for _ in 0..1200 {
        let value = tab.evaluate(js, false).ok().and_then(|r| r.value);
        if value == Some(serde_json::Value::Bool(true)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let page = tab.get_content().unwrap_or_default();
    panic!("{what}: never true ({js}); the page:\n{page}");
}

pub fn text_of(tab: &Tab, selector: &str) -> String {
    let js = format!("(document.querySelector({selector:?}) || {{innerText: ''}}).innerText");
    eval(tab, &js).as_str().unwrap_or_default().to_string()
}

/// Brings `tab` to the front (a headless background tab renders no
/// frames) and opens `url` in it, returning once the new document has
/// replaced the old one and loaded.
///
/// `wait_until_navigated` alone is not enough: it waits for a flag that
/// the previous page's late "network almost idle" event can clear after
/// the navigation has started, so it may return while the old document
/// is still shown. A login form filled in then is the old page's, whose
/// CSRF value no longer matches the cookie the new page has set. So the
/// old document is marked and the wait lasts until the mark is gone.
pub fn go(tab: &Tab, url: &str) {
    tab.activate().unwrap();
    eval(tab, "window.__leaving = true");
    tab.navigate_to(url).unwrap();
    tab.wait_until_navigated().unwrap();
    wait_for(
        tab,
        "window.__leaving !== true && document.readyState === 'complete'",
        &format!("{url} loaded in place of the previous page"),
    );
}

/// Clicks `selector` (in the page's script, so a part of the page being
/// refreshed meanwhile is no matter) and waits until `then` holds.
pub fn click_then(tab: &Tab, selector: &str, then: &str, what: &str) {
    tab.activate().unwrap();
    let js = format!("document.querySelector({selector:?}).click(); true");
    eval(tab, &js);
    wait_for(tab, then, what);
}

/// Saves a screenshot of the page as `name.png` and returns its bytes.
pub fn screenshot(tab: &Tab, name: &str) -> Vec<u8> {
    tab.activate().unwrap();
    let png = tab
        .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
    png
}

/// A PNG's width and height, from its header.
pub fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

pub fn login(tab: &Tab, node: &Running) {
    go(tab, &format!("{}/login", node.url));
    let js = format!("document.querySelector('#token').value = {:?}", token(node));
    eval(tab, &js);
    click_then(
        tab,
        "#login",
        "!!document.querySelector('#node-name')",
        "the overview after login",
    );
}

/// Submits `spec` through the submit page; the browser lands on the job's
/// page.
pub fn submit(tab: &Tab, node: &Running, spec: &str) {
    go(tab, &format!("{}/submit", node.url));
    eval(
        tab,
        &format!("document.querySelector('#spec').value = {spec:?}"),
    );
    click_then(
        tab,
        "#submit",
        "location.pathname.startsWith('/jobs/') && !!document.querySelector('#job-state')",
        "the job's page after submitting",
    );
}

/// The job state the page shows.
pub fn state_js(state: &str) -> String {
    format!("!!document.querySelector('#job-state [data-state=\"{state}\"]')")
}
