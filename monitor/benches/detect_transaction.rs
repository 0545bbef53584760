//! One DNS transaction through the detector as the detection stage runs
//! it (`observe` of a query, `observe` of its answer, `try_now`), for a
//! name with a cached Insecure verdict and one with a cached Secure
//! verdict: ns per transaction as the minimum and the median of 201 runs
//! of 2,000 transactions each (runs short enough that many go without a
//! preemption). The minimum is the figure to compare on a shared machine
//! (other work only ever adds time); criterion's mean over single calls
//! (`evaluate.rs`) moves by tens of percent there.
//!
//! `cargo bench -p monitor --bench detect_transaction`

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use monitor::detect::detector::Detector;
use monitor::dnssec::testnet::NOW;
use monitor::event::{DnsEvent, ProcessInfo};

#[path = "support/detect.rs"]
mod support;

fn ev(msg: Message, t: SystemTime, process: &Arc<ProcessInfo>) -> DnsEvent {
    let p = (msg.metadata.message_type == MessageType::Query).then(|| process.clone());
    support::event(msg, t, p)
}

/// Transaction `n` (as in `evaluate.rs`): RD=1, DO=0, one A record,
/// capture times 100 µs apart.
fn txn(n: u64, qname: &str, ip: [u8; 4], ad: bool, p: &Arc<ProcessInfo>) -> (DnsEvent, DnsEvent) {
    let id = (n % 65_521) as u16;
    let mut q = Message::new(id, MessageType::Query, OpCode::Query);
    q.metadata.recursion_desired = true;
    q.add_query(Query::query(
        Name::from_ascii(qname).unwrap(),
        RecordType::A,
    ));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    q.set_edns(e);
    let mut a = Message::new(id, MessageType::Response, OpCode::Query);
    a.metadata.recursion_desired = true;
    a.metadata.recursion_available = true;
    a.metadata.authentic_data = ad;
    a.metadata.response_code = ResponseCode::NoError;
    a.add_query(q.queries[0].clone());
    a.set_edns(q.edns.clone().unwrap());
    a.answers = vec![Record::from_rdata(
        Name::from_ascii(qname).unwrap(),
        300,
        RData::A(A::from(std::net::Ipv4Addr::from(ip))),
    )];
    let t = UNIX_EPOCH + Duration::from_secs(u64::from(NOW)) + Duration::from_micros(100 * n);
    (ev(q, t, p), ev(a, t + Duration::from_micros(300), p))
}

fn run(d: &mut Detector, events: Vec<(DnsEvent, DnsEvent)>) -> Duration {
    let start = Instant::now();
    for (q, a) in events {
        assert!(d.observe(q).alerts.is_empty());
        let o = d.observe(a);
        assert!(o.alerts.is_empty());
        let p = o.pending.expect("a verdict to wait for");
        match p.try_now() {
            Ok(alerts) => assert!(alerts.is_empty()),
            Err(_) => panic!("the cached verdict did not complete at once"),
        }
    }
    start.elapsed()
}

fn main() {
    const PER_RUN: u64 = 2_000;
    const RUNS: usize = 201;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let process = Arc::new(ProcessInfo {
        pid: 4242,
        tid: 4242,
        uid: 1000,
        name: "dnsperf".into(),
        cgroup_id: 1,
        container_id: None,
    });
    let cases = [
        ("insecure", "www.unsigned.test.", [192, 0, 2, 3], false),
        ("secure", "www.secure.test.", [192, 0, 2, 1], true),
    ];
    for (label, qname, ip, ad) in cases {
        let mut d = support::detector(&rt);
        let (q, a) = txn(0, qname, ip, ad, &process);
        rt.block_on(async {
            d.on_event(q).await;
            assert!(d.on_event(a).await.is_empty());
        });
        let mut n = 1;
        let mut per = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            // Built outside the timing (the reader's decode is not ours).
            let events: Vec<_> = (0..PER_RUN)
                .map(|i| txn(n + i, qname, ip, ad, &process))
                .collect();
            n += PER_RUN;
            per.push(run(&mut d, events).as_nanos() as f64 / PER_RUN as f64);
        }
        per.sort_by(f64::total_cmp);
        println!(
            "detect_transaction_{label}: min {:.0} ns, median {:.0} ns per transaction",
            per[0],
            per[RUNS / 2]
        );
    }
}
