use indomain::ed25519_dalek::SigningKey;
use indomain::net::memory::pair;
use indomain::verify::client::Verifier;
use indomain::verify::oprf::OprfKey;
use indomain::verify::publish::{Dataset, Publisher};
use indomain::verify::record::{Query, Record};
use indomain::verify::service::{self, Limits, Service};
use indomain::verify::session;
use std::collections::HashMap;
use std::sync::Arc;

fn main() -> Result<(), indomain::Error> {
    // An operator's records: an id, two attributes it confirms, a label it
    // returns when every claim matches.
    let rows = [
        ("ID-1001", "Li Lei", "Beijing", "valid"),
        ("ID-1002", "Han Meimei", "Shanghai", "revoked"),
    ];
    let dataset = Dataset {
        attributes: vec!["name".into(), "city".into()],
        label_columns: vec!["status".into()],
        records: rows
            .iter()
            .map(|(id, name, city, status)| Record {
                key: id.to_string(),
                values: vec![name.to_string(), city.to_string()],
                labels: vec![status.to_string()],
            })
            .collect(),
    };
    // It publishes a signed table of OPRF outputs and serves evaluations.
    let rng = &mut indomain::rand::rng();
    let (key, signer) = (OprfKey::random(rng), SigningKey::generate(rng));
    let published = Publisher {
        service: "operator",
        key: &key,
        signer: &signer,
        now: 0,
    }
    .publish(&dataset, 1)?;
    let table = Arc::new(published.bytes.clone());
    let mut operator = Service::new(
        key,
        published.commitment,
        table,
        Limits::default(),
        HashMap::new(),
    );
    // A bank checks two claims; the operator learns neither key nor value.
    let claim = |id: &str, name: &str, city: &str| Query {
        key: id.into(),
        claims: vec![("name".into(), name.into()), ("city".into(), city.into())],
    };
    let queries = [
        claim("ID-1001", "Li Lei", "Beijing"),
        claim("ID-1002", "Han Meimei", "Beijing"),
    ];
    let (mut bank, mut operator_end) = pair("bank", "operator");
    let answers = std::thread::scope(|s| {
        let op = s.spawn(|| service::serve(&mut operator, &mut operator_end, "bank"));
        let welcome = session::hello(&mut bank)?;
        let table = session::fetch_table(&mut bank, &welcome.commitment, &mut |_, _| {})?;
        let verifier = Verifier::new(signer.verifying_key(), welcome.commitment, &table)?;
        let batching = session::Batching {
            max_entries: welcome.max_batch,
            max_records: usize::MAX,
        };
        let answers = session::verify(&mut bank, &verifier, &queries, batching, &mut |_| {})?;
        drop(bank); // hangs up: the operator's loop returns
        op.join().map_err(|_| "the operator panicked")??;
        Ok::<_, indomain::Error>(answers)
    })?;
    // The answers are the plaintext look-up's.
    for (query, answer) in queries.iter().zip(&answers) {
        let row = rows.iter().find(|r| r.0 == query.key).ok_or("a known id")?;
        let plain = [
            ("name", query.claims[0].1 == row.1),
            ("city", query.claims[1].1 == row.2),
        ];
        let got: Vec<(&str, bool)> = answer
            .matches
            .iter()
            .map(|(a, m)| (a.as_str(), *m))
            .collect();
        assert_eq!(got, plain);
        let label =
            (plain[0].1 && plain[1].1).then(|| vec![("status".to_string(), row.3.to_string())]);
        assert_eq!(answer.labels, label);
    }
    Ok(())
}
