//! Stopping a job cleanly: on SIGINT or SIGTERM, and when the job fails at
//! this node after peers are connected.
//!
//! Either way the peers are told at once that the job was stopped and by
//! whom (their link closes with the "stopped" code and a short public
//! reason, never the private detail), instead of waiting out an idle or
//! receive timeout. On a signal, the temporary files of unfinished outputs
//! are removed too, and the process exits with 128 + the signal number,
//! saying what it actually stopped: a job (peers told), a node's running
//! jobs ([`on_signal`]), partial output — or that nothing was running.

use indomain_net::quic::StopHandle;
use signal_hook::consts::{SIGINT, SIGTERM};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// The endpoint of the job in progress, if it has one yet.
static CURRENT: Mutex<Option<StopHandle>> = Mutex::new(None);

/// Set once a signal arrived: the signal thread reports and exits.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// What a long-running process (the node) stops on a signal; it returns a
/// sentence saying what that was.
type OnSignal = Box<dyn Fn(&str) -> String + Send>;

/// The process's own stop on a signal, if it registered one.
static ON_SIGNAL: Mutex<Option<OnSignal>> = Mutex::new(None);

/// Registers what to stop when a signal arrives (given the signal's name)
/// and how to say it.
pub fn on_signal(stop: impl Fn(&str) -> String + Send + 'static) {
    if let Ok(mut hook) = ON_SIGNAL.lock() {
        *hook = Some(Box::new(stop));
    }
}

/// What a peer is told when this node's job fails: that it stopped, not why.
const FAILED: &str = "it stopped after an error on its side";

/// Starts the thread that turns SIGINT and SIGTERM into a clean stop.
pub fn install() -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("indomain-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let name = if signal == SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                INTERRUPTED.store(true, Ordering::SeqCst);
                let mut stopped = Vec::new();
                if let Some(handle) = CURRENT.lock().ok().and_then(|mut c| c.take()) {
                    handle.stop(&format!("interrupted ({name})"));
                    stopped.push("the job was stopped and its peers were told".to_string());
                }
                if let Some(hook) = ON_SIGNAL.try_lock().ok().and_then(|mut h| h.take()) {
                    stopped.push(hook(name));
                }
                if indomain_node::output::remove_partials() > 0 {
                    stopped.push("partial output was removed".to_string());
                }
                if stopped.is_empty() {
                    stopped.push("nothing was running".to_string());
                }
                eprintln!("error: interrupted by {name}; {}", stopped.join("; "));
                std::process::exit(128 + signal);
            }
        })?;
    Ok(())
}

/// Whether a signal is stopping the process. The job's own error (its
/// links were closed under it) is then not the story: the signal thread
/// reports and sets the exit status.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Parks the calling thread for good while the signal thread exits the
/// process.
pub fn wait_for_exit() -> ! {
    loop {
        std::thread::park();
    }
}

/// Watches a job's endpoint: until [`Guard::done`], a signal stops its
/// links at once; [`Guard::failed`], or dropping the guard (the job
/// returned an error), makes them close as stopped once the frames already
/// sent are delivered (an abort message, or a hello the peer needs to
/// report a mismatch itself). Declare it after the endpoint and channels,
/// or call `failed` before they are dropped.
pub struct Guard {
    armed: bool,
    handle: StopHandle,
}

impl Guard {
    /// Starts watching `handle`.
    pub fn new(handle: StopHandle) -> Self {
        if let Ok(mut current) = CURRENT.lock() {
            *current = Some(handle.clone());
        }
        Self {
            armed: true,
            handle,
        }
    }

    /// The job failed at this node: the links close as stopped.
    pub fn failed(&self) {
        self.handle.stop_after_delivery(FAILED);
    }

    /// The job completed: peers need no stop.
    pub fn done(mut self) {
        self.armed = false;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(mut current) = CURRENT.lock() {
            current.take();
        }
        if self.armed {
            self.failed();
        }
    }
}
