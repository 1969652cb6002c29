//! The thin driver that runs a [`Service`] over a QUIC [`Hub`]: one thread
//! takes every frame that is waiting, hands them to the service as one batch
//! (whose evaluations run in parallel on rayon), queues the replies, and
//! appends a usage line per evaluation request to the service log.

use crate::VerifyError;
use crate::service::Service;
use indomain_net::quic::{ClientId, Hub, HubEvent};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Frames taken into one batch at most.
const MAX_BATCH_FRAMES: usize = 256;

/// How often the driver looks at the stop flag when idle.
const POLL: Duration = Duration::from_millis(100);

/// Serves until `stop` is set. Fails only if the usage log cannot be
/// written: evaluations are not served unlogged.
pub fn serve(
    hub: &Hub,
    service: &mut Service,
    log: &mut dyn Write,
    stop: &AtomicBool,
) -> Result<(), VerifyError> {
    while !stop.load(Ordering::Relaxed) {
        let Some(first) = hub.next(POLL) else {
            continue;
        };
        let mut frames: Vec<(ClientId, String, Vec<u8>)> = Vec::new();
        let mut event = Some(first);
        while let Some(e) = event {
            match e {
                HubEvent::Frame {
                    client,
                    peer,
                    frame,
                } => frames.push((client, peer, frame)),
                HubEvent::Left {
                    peer,
                    error: Some(e),
                    ..
                } => tracing::info!("client {peer} left: {e}"),
                HubEvent::Left { .. } => {}
            }
            event = (frames.len() < MAX_BATCH_FRAMES)
                .then(|| hub.try_next())
                .flatten();
        }
        let batch: Vec<(&str, &[u8])> = frames
            .iter()
            .map(|(_, peer, frame)| (peer.as_str(), frame.as_slice()))
            .collect();
        let handled = service.handle_batch(&batch, Instant::now());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        for ((client, _, _), h) in frames.iter().zip(handled) {
            if let Some(u) = &h.usage {
                writeln!(log, "{}", u.line(now)).map_err(|source| VerifyError::Io {
                    context: "writing the usage log".into(),
                    source,
                })?;
            }
            // A client that left does not need its reply.
            let _ = hub.reply(*client, h.reply);
        }
        log.flush().map_err(|source| VerifyError::Io {
            context: "flushing the usage log".into(),
            source,
        })?;
    }
    Ok(())
}
