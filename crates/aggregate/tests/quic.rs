//! The same protocols over QUIC on loopback (mutual TLS, pinned
//! certificates): a secure-aggregation round with a dropout, and a
//! statistics job over a QUIC mesh.

use indomain_aggregate::secagg::{Params, run_client, run_server};
use indomain_aggregate::stats::{GroupOutcome, LocalData, Statistic, StatsJob, run_statistics};
use indomain_net::quic::{Endpoint, Identity, PartyAddr, QuicChannel, mesh};
use indomain_net::{Channel, Limits};
use std::net::SocketAddr;

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[test]
fn a_secure_aggregation_round_over_quic() {
    let n = 5;
    let len = 20_000;
    let params = Params::new(n, len, 16, 100.0).unwrap();
    let server_id = Identity::generate("server").unwrap();
    let client_ids: Vec<Identity> = (0..n)
        .map(|i| Identity::generate(&format!("client-{i}")).unwrap())
        .collect();
    let server = Endpoint::bind(
        &server_id,
        loopback(),
        client_ids.iter().map(Identity::trusted_entry).collect(),
        Limits::default(),
    )
    .unwrap();
    let server_addr = server.local_addr();
    let inputs: Vec<Vec<f64>> = (0..n)
        .map(|u| {
            (0..len)
                .map(|i| ((i * 7 + u * 13) % 200) as f64 / 2.0 - 50.0)
                .collect()
        })
        .collect();
    let output = std::thread::scope(|s| {
        for (id, (identity, input)) in client_ids.iter().zip(&inputs).enumerate() {
            let params = &params;
            let trusted = vec![server_id.trusted_entry()];
            s.spawn(move || {
                let endpoint =
                    Endpoint::bind(identity, loopback(), trusted, Limits::default()).unwrap();
                let mut ch = endpoint.connect(server_addr, "server").unwrap();
                if id == 2 {
                    // Sends a malformed advertisement and disappears.
                    ch.send(&[]).ok();
                    return;
                }
                run_client(&mut ch, id, params, input, &mut rand::rng()).unwrap();
            });
        }
        let mut accepted: Vec<Option<QuicChannel>> = (0..n).map(|_| None).collect();
        for _ in 0..n {
            let ch = server.accept().unwrap();
            let id: usize = ch.peer().trim_start_matches("client-").parse().unwrap();
            accepted[id] = Some(ch);
        }
        let mut links: Vec<QuicChannel> = accepted.into_iter().map(Option::unwrap).collect();
        run_server(&mut links, &params, &mut rand::rng()).unwrap()
    });
    let left_out: Vec<usize> = output.left_out.iter().map(|d| d.client).collect();
    assert_eq!(left_out, vec![2]);
    for (i, got) in output.sum.iter().enumerate() {
        let want: f64 = [0, 1, 3, 4].iter().map(|&u| inputs[u][i]).sum();
        assert!((got - want).abs() < 1e-3, "element {i}: {got} vs {want}");
    }
}

#[test]
fn a_statistics_job_over_a_quic_mesh() {
    let names = ["a", "b", "c"];
    let ids: Vec<Identity> = names
        .iter()
        .map(|n| Identity::generate(n).unwrap())
        .collect();
    let endpoints: Vec<Endpoint> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let trusted = ids
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, o)| o.trusted_entry())
                .collect();
            Endpoint::bind(id, loopback(), trusted, Limits::default()).unwrap()
        })
        .collect();
    let addrs: Vec<PartyAddr> = names
        .iter()
        .zip(&endpoints)
        .map(|(n, e)| PartyAddr {
            name: n.to_string(),
            addr: e.local_addr(),
        })
        .collect();
    let job = StatsJob {
        statistic: Statistic::Sum,
        columns: vec!["x".into()],
        categories: Some(vec!["small".into(), "large".into()]),
        receivers: vec![2],
        min_group_size: 4,
        frac_bits: 16,
        max_abs: 1e6,
    };
    let data: Vec<LocalData> = (0..3)
        .map(|p| LocalData {
            groups: vec![1, 1, 1, usize::from(p == 0)],
            columns: vec![vec![1.5 * p as f64, 2.0, 3.25, 10.0]],
        })
        .collect();
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = endpoints
            .iter()
            .zip(&data)
            .enumerate()
            .map(|(me, (endpoint, d))| {
                let (addrs, job) = (&addrs, &job);
                s.spawn(move || {
                    let mut parties = mesh(endpoint, me, addrs).unwrap();
                    run_statistics(&mut parties, job, d, &mut rand::rng(), &mut |_| {}).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results[0], None);
    assert_eq!(results[1], None);
    let result = results[2].as_ref().unwrap();
    assert_eq!(result.groups[0].outcome, GroupOutcome::Suppressed);
    match &result.groups[1].outcome {
        GroupOutcome::Released { count, columns } => {
            assert_eq!(*count, 10);
            // Σ over parties of 1.5p + 2 + 3.25, plus party 0's 10 (the
            // other parties' fourth rows are in the suppressed group).
            let want = 1.5 * 3.0 + 3.0 * 5.25 + 10.0;
            match &columns[0] {
                indomain_aggregate::stats::ColumnResult::Sum { sum } => {
                    assert_eq!(sum.to_f64(), want)
                }
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }
}
