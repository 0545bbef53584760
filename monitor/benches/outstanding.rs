//! The outstanding-query table on the hot path: one query and its answer
//! through `on_query` + `on_answer`, as the detect task does for every
//! pair (issue 5: 50,000 q/s, 100 names cycled, a few client sockets).
//! Reported per pair: `cargo bench -p monitor --bench outstanding -- --quick`.
//!
//! Events are built once; each iteration rewrites the txid, client port
//! and capture time in place, so every pair is a new transaction (as with
//! dnsperf) and no message is cloned or encoded inside the timing.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use monitor::correlate::outstanding::{Join, OutstandingConfig, OutstandingTable};
use monitor::decode::Transport;
use monitor::event::{DnsEvent, DnsKind, ProcessInfo};

const NAMES: usize = 100;
const SOCKETS: u16 = 4;

fn event(msg: Message, kind: DnsKind, process: Option<ProcessInfo>) -> DnsEvent {
    DnsEvent {
        timestamp: UNIX_EPOCH,
        kind,
        transport: Transport::Udp,
        client: "10.0.0.2:40000".parse::<SocketAddr>().unwrap(),
        server: "10.0.0.53:53".parse::<SocketAddr>().unwrap(),
        interface: None,
        socket_cookie: None,
        process: process.map(std::sync::Arc::new),
        raw: msg.to_vec().unwrap().into(),
        txid: msg.metadata.id,
        message: std::sync::Arc::new(msg),
    }
}

/// A query and its one-address answer for each of the 100 names.
fn pairs() -> Vec<(DnsEvent, DnsEvent)> {
    let process = ProcessInfo {
        pid: 4242,
        tid: 4242,
        uid: 1000,
        name: "dnsperf".into(),
        cgroup_id: 1,
        container_id: None,
    };
    (0..NAMES)
        .map(|i| {
            let name = Name::from_ascii(format!("www{i}.Bench.Example.")).unwrap();
            let mut q = Message::new(0, MessageType::Query, OpCode::Query);
            q.metadata.recursion_desired = true;
            q.add_query(Query::query(name.clone(), RecordType::A));
            q.set_edns(Edns::new());
            let mut a = Message::new(0, MessageType::Response, OpCode::Query);
            a.metadata.recursion_desired = true;
            a.metadata.recursion_available = true;
            a.metadata.response_code = ResponseCode::NoError;
            a.add_query(Query::query(name.clone(), RecordType::A));
            a.set_edns(Edns::new());
            a.answers = vec![Record::from_rdata(
                name,
                300,
                RData::A(A(Ipv4Addr::new(198, 18, 1, i as u8))),
            )];
            (
                event(q, DnsKind::Query, Some(process.clone())),
                event(a, DnsKind::Answer, Some(process.clone())),
            )
        })
        .collect()
}

/// The pairs, the table and the capture clock of one run.
struct Run {
    evs: Vec<(DnsEvent, DnsEvent)>,
    table: OutstandingTable,
    t: std::time::SystemTime,
    gap: Duration,
    n: u64,
    joined: u64,
    /// Client sockets the pairs spread over, and whether txids are
    /// scrambled (a stub's random ids) rather than sequential (dnsperf).
    sockets: u16,
    scramble: bool,
}

impl Run {
    /// One pair `gap` after the last (20 µs = 50,000 q/s), its answer
    /// 100 µs after its query.
    fn pair(&mut self) {
        let n = self.n;
        let (q, a) = &mut self.evs[(n % NAMES as u64) as usize];
        // Sequential txids per client socket, like dnsperf; or ids that
        // look random (a multiplicative scramble, still distinct per port
        // within 65,536 pairs of it).
        let sockets = u64::from(self.sockets);
        let port = 40_000 + (n % sockets) as u16;
        let seq = (n / sockets) as u16;
        let id = if self.scramble {
            seq.wrapping_mul(0x9e37) ^ 0x5a5a
        } else {
            seq
        };
        self.n += 1;
        self.t += self.gap;
        for (ev, at) in [
            (&mut *q, self.t),
            (&mut *a, self.t + Duration::from_micros(100)),
        ] {
            ev.txid = id;
            ev.client.set_port(port);
            ev.timestamp = at;
        }
        self.table.on_query(q);
        if matches!(self.table.on_answer(a), Join::Answered { .. }) {
            self.joined += 1;
        }
    }
}

fn bench_rate(c: &mut Criterion, label: &str, gap: Duration, sockets: u16, scramble: bool) {
    let mut run = Run {
        evs: pairs(),
        table: OutstandingTable::new(OutstandingConfig {
            warmup: Duration::ZERO,
            ..OutstandingConfig::default()
        }),
        t: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        gap,
        n: 0,
        joined: 0,
        sockets,
        scramble,
    };
    // Steady state first: 4 s of capture time fills the race window (and
    // at 50k q/s the table: 2 s of answered queries exceed max_entries).
    let warm = (Duration::from_secs(4).as_nanos() / gap.as_nanos()) as usize;
    for _ in 0..warm {
        run.pair();
    }
    c.bench_function(label, |b| b.iter(|| run.pair()));
    // Every pair must have joined: a bench of the unmatched path would lie.
    assert_eq!(run.joined, run.n, "{label}: answers joined");
    let s = run.table.stats();
    eprintln!(
        "{label}: {} pairs, entries {}, evicted_full {}, expired {}",
        run.n, s.entries, s.evicted_full, s.expired
    );
}

fn outstanding(c: &mut Criterion) {
    // 50k q/s: 2 s of answered entries exceed max_entries (65,536), so the
    // steady state evicts; 5k q/s: entries leave through expiry instead.
    // The full table at steady state is the case that matters.
    let gap = Duration::from_micros(20);
    bench_rate(c, "outstanding/pair_50k_qps", gap, SOCKETS, false);
    // The same with keys that look random: 1,000 client sockets (several
    // stubs, or a resolver's randomised source ports) and scrambled ids.
    bench_rate(c, "outstanding/pair_50k_qps_random", gap, 1_000, true);
    let gap = Duration::from_micros(200);
    bench_rate(c, "outstanding/pair_5k_qps", gap, SOCKETS, false);
}

criterion_group!(benches, outstanding);
criterion_main!(benches);
