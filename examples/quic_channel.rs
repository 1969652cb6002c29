//! Two nodes in one process talk over QUIC with mutual TLS on loopback.
//!
//! Each node gets a fresh identity (self-signed certificate) and trusts only
//! the other's fingerprint. Bob listens, Alice connects; they exchange a few
//! frames and print whom each end authenticated and the bytes it counted.
//!
//!     cargo run --release --example quic_channel

use indomain::net::quic::{Endpoint, Identity};
use indomain::net::{Channel, Limits, NetError};

fn main() -> Result<(), NetError> {
    let alice = Identity::generate("alice")?;
    let bob = Identity::generate("bob")?;
    println!("alice: {}", alice.trusted_entry());
    println!("bob:   {}", bob.trusted_entry());

    let loopback = "127.0.0.1:0".parse().expect("a valid address");
    let bob_node = Endpoint::bind(
        &bob,
        loopback,
        vec![alice.trusted_entry()],
        Limits::default(),
    )?;
    let alice_node = Endpoint::bind(
        &alice,
        loopback,
        vec![bob.trusted_entry()],
        Limits::default(),
    )?;

    let (alice_counters, bob_counters) = std::thread::scope(|s| {
        let bob_side = s.spawn(|| -> Result<_, NetError> {
            let mut to_alice = bob_node.accept()?;
            println!(
                "bob accepted {} from {}",
                to_alice.peer(),
                to_alice.remote_addr()
            );
            for _ in 0..3 {
                let question = to_alice.recv()?;
                let answer = format!("bob got {} bytes", question.len());
                to_alice.send(answer.as_bytes())?;
            }
            Ok(to_alice.counters())
        });
        let alice_side = || -> Result<_, NetError> {
            let mut to_bob = alice_node.connect(bob_node.local_addr(), "bob")?;
            println!(
                "alice connected to {} at {}",
                to_bob.peer(),
                to_bob.remote_addr()
            );
            for size in [5, 1 << 10, 1 << 20] {
                to_bob.send(&vec![0x2a; size])?;
                let answer = to_bob.recv()?;
                println!(
                    "alice sent {size} bytes; {}",
                    String::from_utf8_lossy(&answer)
                );
            }
            Ok(to_bob.counters())
        };
        let alice_counters = alice_side();
        let bob_counters = bob_side.join().expect("bob's thread panicked");
        (alice_counters, bob_counters)
    });
    let (a, b) = (alice_counters?, bob_counters?);
    println!(
        "alice: sent {} bytes, received {} (frame headers included)",
        a.sent, a.received
    );
    println!("bob:   sent {} bytes, received {}", b.sent, b.received);
    Ok(())
}
