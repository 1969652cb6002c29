//! Framing under hostile input, written as raw bytes on the QUIC stream
//! underneath a channel: oversized and truncated frames are errors, and the
//! announced length is never allocated up front.

use super::{Endpoint, Identity, QuicChannel};
use crate::{Channel, Limits, NetError};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

/// Records the largest allocation made by the current thread while
/// tracking is on (the channel reads frames on the calling thread).
struct LargestAllocation;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn note(size: usize) {
    let _ = TRACKING.try_with(|on| {
        if on.get() {
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
        }
    });
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// Runs `f` and returns its result with the largest allocation it made on
/// this thread.
pub(crate) fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    TRACKING.with(|t| t.set(true));
    let out = f();
    TRACKING.with(|t| t.set(false));
    (out, LARGEST.with(Cell::get))
}

const MAX_FRAME: usize = 64 << 20;

fn limits() -> Limits {
    Limits {
        max_frame: MAX_FRAME,
        recv_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(3),
    }
}

/// (raw writer's channel, reader's channel, both endpoints).
fn pair() -> (QuicChannel, QuicChannel, Endpoint, Endpoint) {
    let (w, r) = (
        Identity::generate("writer").unwrap(),
        Identity::generate("reader").unwrap(),
    );
    let any = "127.0.0.1:0".parse().unwrap();
    let we = Endpoint::bind(&w, any, vec![r.trusted_entry()], limits()).unwrap();
    let re = Endpoint::bind(&r, any, vec![w.trusted_entry()], limits()).unwrap();
    let (writer, reader) = std::thread::scope(|s| {
        let accepted = s.spawn(|| re.accept().unwrap());
        let writer = we.connect(re.local_addr(), "reader").unwrap();
        (writer, accepted.join().unwrap())
    });
    (writer, reader, we, re)
}

/// Writes raw bytes on the writer's stream, bypassing framing.
fn write_raw(writer: &mut QuicChannel, bytes: &[u8]) {
    let runtime = writer.shared.clone();
    runtime
        .runtime
        .block_on(writer.send.write_all(bytes))
        .unwrap();
}

fn finish(writer: &mut QuicChannel) {
    writer.send.finish().unwrap();
}

#[test]
fn an_oversized_length_is_refused_before_allocating() {
    for announced in [MAX_FRAME as u64 + 1, 1 << 40, u64::MAX] {
        let (mut writer, mut reader, _we, _re) = pair();
        write_raw(&mut writer, &announced.to_le_bytes());
        let (result, largest) = largest_allocation(|| reader.recv());
        match result {
            Err(NetError::FrameTooLarge { peer, len, max }) => {
                assert_eq!((peer.as_str(), len, max), ("writer", announced, MAX_FRAME))
            }
            other => panic!("expected FrameTooLarge, got {other:?}"),
        }
        assert!(
            largest < 1 << 20,
            "allocated {largest} bytes for a refused frame"
        );
        // The stream cannot be resynchronised: the error stays.
        assert!(matches!(reader.recv(), Err(NetError::FrameTooLarge { .. })));
    }
}

#[test]
fn a_frame_cut_short_is_truncated_and_its_length_never_allocated() {
    let (mut writer, mut reader, _we, _re) = pair();
    write_raw(&mut writer, &(MAX_FRAME as u64).to_le_bytes());
    write_raw(&mut writer, &[1u8; 1000]);
    finish(&mut writer);
    let (result, largest) = largest_allocation(|| reader.recv());
    assert!(
        matches!(&result, Err(NetError::Truncated { peer }) if peer == "writer"),
        "{result:?}"
    );
    assert!(
        largest <= 1 << 20,
        "allocated {largest} bytes for 1000 that arrived"
    );
}

#[test]
fn a_header_cut_short_is_truncated() {
    let (mut writer, mut reader, _we, _re) = pair();
    write_raw(&mut writer, &[5, 0, 0]);
    finish(&mut writer);
    let result = reader.recv();
    assert!(
        matches!(&result, Err(NetError::Truncated { peer }) if peer == "writer"),
        "{result:?}"
    );
}

#[test]
fn a_stream_finished_between_frames_is_closed() {
    let (mut writer, mut reader, _we, _re) = pair();
    writer.send(b"last").unwrap();
    finish(&mut writer);
    assert_eq!(reader.recv().unwrap(), b"last");
    let result = reader.recv();
    assert!(
        matches!(&result, Err(NetError::Closed { peer }) if peer == "writer"),
        "{result:?}"
    );
}

#[test]
fn a_timeout_in_the_middle_of_a_frame_loses_nothing() {
    let (mut writer, mut reader, _we, _re) = pair();
    let frame: Vec<u8> = (0..3_000_000u32).map(|i| i as u8).collect();
    let mut raw = (frame.len() as u64).to_le_bytes().to_vec();
    raw.extend_from_slice(&frame);
    let (first, rest) = raw.split_at(2 << 20);
    write_raw(&mut writer, &first[..5]);
    assert!(matches!(reader.recv(), Err(NetError::Timeout { .. })));
    write_raw(&mut writer, &first[5..]);
    assert!(matches!(reader.recv(), Err(NetError::Timeout { .. })));
    write_raw(&mut writer, rest);
    assert_eq!(reader.recv().unwrap(), frame);
    assert_eq!(reader.counters().received, raw.len() as u64);
    writer.send(b"next").unwrap();
    assert_eq!(reader.recv().unwrap(), b"next");
}

#[test]
fn the_greeting_alpn_and_close_codes_are_pinned() {
    use super::endpoint::{CLOSE_BAD_HELLO, CLOSE_DONE, CLOSE_STOPPED, CLOSE_WRONG_PEER, HELLO};
    assert_eq!(HELLO, *b"indomain");
    assert_eq!(super::ALPN, b"indomain/1");
    assert_eq!(
        [CLOSE_DONE, CLOSE_WRONG_PEER, CLOSE_BAD_HELLO, CLOSE_STOPPED],
        [0, 1, 2, 3]
    );
}

#[test]
fn a_stalled_handshake_does_not_keep_a_trusted_peer_out() {
    let (server_id, staller_id, peer_id) = (
        Identity::generate("server").unwrap(),
        Identity::generate("staller").unwrap(),
        Identity::generate("peer").unwrap(),
    );
    let limits = Limits {
        recv_timeout: Duration::from_secs(20),
        connect_timeout: Duration::from_secs(3),
        ..limits()
    };
    let any = "127.0.0.1:0".parse().unwrap();
    let trusted = vec![staller_id.trusted_entry(), peer_id.trusted_entry()];
    let server = Endpoint::bind(&server_id, any, trusted, limits).unwrap();
    let staller =
        Endpoint::bind(&staller_id, any, vec![server_id.trusted_entry()], limits).unwrap();
    let peer = Endpoint::bind(&peer_id, any, vec![server_id.trusted_entry()], limits).unwrap();
    let addr = server.local_addr();
    std::thread::scope(|s| {
        let accepted = s.spawn(|| server.accept());
        // A trusted client that completes TLS and then never greets: the
        // server waits for it up to the connect timeout.
        let shared = staller.shared().clone();
        let stalled = shared.runtime.block_on(async {
            let (config, _) = shared.client_config(addr).unwrap();
            shared
                .endpoint
                .connect_with(config, addr, super::endpoint::SERVER_NAME)
                .unwrap()
                .await
                .unwrap()
        });
        // Meanwhile a trusted peer connects and is admitted.
        let mut to_server = peer.connect(addr, "server").unwrap();
        let mut to_peer = accepted.join().unwrap().unwrap();
        assert_eq!(to_peer.peer(), "peer");
        to_server.send(b"in").unwrap();
        assert_eq!(to_peer.recv().unwrap(), b"in");
        drop(stalled);
    });
}

#[test]
fn liveness_must_send_keep_alives_within_the_idle_timeout() {
    use super::Liveness;
    let id = Identity::generate("solo").unwrap();
    let e = Endpoint::bind(&id, "127.0.0.1:0".parse().unwrap(), vec![], limits()).unwrap();
    assert!(e.set_liveness(Liveness::PROMPT).is_ok());
    for (idle, keep_alive) in [(5, 5), (5, 0), (1, 2)] {
        let bad = Liveness {
            idle_timeout: Duration::from_secs(idle),
            keep_alive: Duration::from_secs(keep_alive),
        };
        assert!(
            matches!(e.set_liveness(bad), Err(NetError::Config(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn a_link_stopped_from_another_thread_tells_the_peer_why() {
    let (mut writer, mut reader, _we, _re) = pair();
    let link = writer.stopper();
    std::thread::spawn(move || link.stop("cancelled by writer"))
        .join()
        .unwrap();
    let err = reader.recv().unwrap_err();
    assert!(
        matches!(&err, NetError::Stopped { peer, reason }
            if peer == "writer" && reason == "cancelled by writer"),
        "{err}"
    );
    assert_eq!(
        reader.stopper().stopped_by_peer().as_deref(),
        Some("cancelled by writer")
    );
    // The side that stopped fails at once too, and was not stopped by its peer.
    assert!(writer.recv().is_err());
    assert_eq!(writer.stopper().stopped_by_peer(), None);
    // Stopping a link the peer already stopped keeps the peer's reason.
    reader.stopper().stop("failed at reader");
    assert_eq!(
        reader.stopper().stopped_by_peer().as_deref(),
        Some("cancelled by writer")
    );
}
