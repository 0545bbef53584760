//! Alert latency: a captured answer handed to the detector → its alert
//! ready to write (issue 4, acceptance 6), with the verdict cached and
//! cold (a fresh engine that resolves and validates through the in-process
//! signed hierarchy, so no network time is counted).
//!
//! Besides criterion's estimates, each case prints p50/p99 over a fixed
//! number of samples: `cargo bench -p monitor --bench alert_latency`.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use monitor::detect::alert::Rule;
use monitor::detect::detector::Detector;
use monitor::event::DnsEvent;

#[path = "support/detect.rs"]
mod support;
use support::detector;

fn ev(msg: Message, t: SystemTime) -> DnsEvent {
    support::event(msg, t, None)
}

/// A query and an answer of `ip` for www.broken.test./A (bogus zone):
/// `bogus_signature` from the verdict alone (no confirming re-query).
fn pair(id: u16, qname: &str, ip: Ipv4Addr) -> (Message, Message) {
    let mut q = Message::new(id, MessageType::Query, OpCode::Query);
    q.metadata.recursion_desired = true;
    q.add_query(Query::query(
        Name::from_ascii(qname).unwrap(),
        RecordType::A,
    ));
    q.set_edns(Edns::new());
    let mut a = Message::new(id, MessageType::Response, OpCode::Query);
    a.metadata.recursion_desired = true;
    a.metadata.recursion_available = true;
    a.metadata.response_code = ResponseCode::NoError;
    a.add_query(q.queries[0].clone());
    a.answers = vec![Record::from_rdata(
        Name::from_ascii(qname).unwrap(),
        300,
        RData::A(A(ip)),
    )];
    (q, a)
}

/// One transaction; returns the time from the answer's arrival to its alerts.
fn one(
    rt: &tokio::runtime::Runtime,
    d: &mut Detector,
    id: u16,
    qname: &str,
    ip: Ipv4Addr,
    want: Rule,
) -> Duration {
    let (q, a) = pair(id, qname, ip);
    let t = SystemTime::now();
    rt.block_on(async {
        d.on_event(ev(q, t)).await;
        let start = Instant::now();
        let alerts = d.on_event(ev(a, t + Duration::from_millis(1))).await;
        let took = start.elapsed();
        assert!(alerts.iter().any(|x| x.rule == want), "{alerts:?}");
        took
    })
}

fn percentiles(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let p = |q: f64| v[((v.len() as f64 - 1.0) * q) as usize];
    println!(
        "{name}: n={} p50={:?} p99={:?} max={:?}",
        v.len(),
        p(0.5),
        p(0.99),
        v[v.len() - 1]
    );
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let bogus = (
        "www.broken.test.",
        Ipv4Addr::new(192, 0, 2, 4),
        Rule::BogusSignature,
    );
    let forged = (
        "www.secure.test.",
        Ipv4Addr::new(6, 6, 6, 6),
        Rule::AnswerMismatch,
    );

    for (label, (qname, ip, rule)) in [("bogus_signature", bogus), ("answer_mismatch", forged)] {
        // Cached: one detector, the verdict warm after the first answer.
        let mut d = detector(&rt);
        one(&rt, &mut d, 1, qname, ip, rule);
        let mut id = 2u16;
        let samples: Vec<Duration> = (0..2_000)
            .map(|_| {
                id = id.wrapping_add(1);
                one(&rt, &mut d, id, qname, ip, rule)
            })
            .collect();
        percentiles(&format!("{label} cached"), samples);
        c.bench_function(&format!("{label}_cached"), |b| {
            b.iter(|| {
                id = id.wrapping_add(1);
                one(&rt, &mut d, id, qname, ip, rule)
            })
        });
        // Cold: a fresh engine and detector per answer.
        let samples: Vec<Duration> = (0..200)
            .map(|_| {
                let mut d = detector(&rt);
                one(&rt, &mut d, 1, qname, ip, rule)
            })
            .collect();
        percentiles(&format!("{label} cold"), samples);
        c.bench_function(&format!("{label}_cold"), |b| {
            b.iter_batched(
                || detector(&rt),
                |mut d| one(&rt, &mut d, 1, qname, ip, rule),
                criterion::BatchSize::SmallInput,
            )
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
