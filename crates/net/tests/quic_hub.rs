//! A hub serves several clients on one endpoint from one driver thread:
//! each frame gets its reply, clients are named from their certificates,
//! and a client that leaves is reported.

mod common;

use common::{bind, identity, short_limits};
use indomain_net::Channel;
use indomain_net::quic::{Hub, HubEvent};
use std::time::Duration;

#[test]
fn one_driver_answers_many_clients() {
    let (server, alice, bob) = (identity("server"), identity("alice"), identity("bob"));
    let hub = Hub::start(bind(&server, &[&alice, &bob], short_limits()), 8);
    let addr = hub.local_addr();
    std::thread::scope(|s| {
        let clients: Vec<_> = [&alice, &bob, &alice]
            .into_iter()
            .enumerate()
            .map(|(i, me)| {
                let server = &server;
                s.spawn(move || {
                    let ep = bind(me, &[server], short_limits());
                    let mut ch = ep.connect(addr, "server").unwrap();
                    for j in 0..5u8 {
                        ch.send(&[i as u8, j]).unwrap();
                        let reply = ch.recv().unwrap();
                        assert_eq!(reply, format!("{}:{i}:{j}", me.name()).into_bytes());
                    }
                })
            })
            .collect();
        let (mut answered, mut left) = (0, 0);
        while left < 3 {
            match hub.next(Duration::from_secs(10)).expect("an event") {
                HubEvent::Frame {
                    client,
                    peer,
                    frame,
                } => {
                    let reply = format!("{peer}:{}:{}", frame[0], frame[1]);
                    hub.reply(client, reply.into_bytes()).unwrap();
                    answered += 1;
                }
                HubEvent::Left { error, .. } => {
                    assert!(error.is_none(), "{error:?}");
                    left += 1;
                }
            }
        }
        for c in clients {
            c.join().unwrap();
        }
        assert_eq!(answered, 15);
        assert_eq!(hub.clients(), 0);
    });
}
