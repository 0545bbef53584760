//! Decode + ECS JSON throughput over an in-memory pcap of ≥ 100,000 DNS
//! messages (queries and answers; A, AAAA, TXT; IPv4 and IPv6; UDP and some
//! TCP), with decode alone and pcap reading alone as same-run baselines.
//!
//! `cargo bench -p monitor --bench capture -- --measurement-time 5`

use std::hint::black_box;
use std::io::{self, Cursor};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hickory_proto::rr::RecordType;
use monitor::capture::pcap::PcapSource;
use monitor::decode::{DecodeLimits, Decoder, build};
use monitor::event::DnsEvent;
use monitor::sinks::jsonl::JsonLinesSink;

/// Transactions (query + answer); every 10th goes over TCP.
const TRANSACTIONS: usize = 50_000;
/// Under `cargo test --all-targets` (no `--bench` flag) criterion runs each
/// benchmark once as a smoke test; a small corpus keeps that quick.
const SMOKE_TRANSACTIONS: usize = 2_000;

fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

struct Corpus {
    pcap: Vec<u8>,
    messages: u64,
}

fn generate(transactions: usize) -> Corpus {
    let mut frames: Vec<Vec<u8>> = Vec::with_capacity(transactions * 3);
    let mut messages = 0u64;
    for i in 0..transactions {
        let id = i as u16;
        let v6 = i % 3 == 0;
        let (client, server): (SocketAddr, SocketAddr) = if v6 {
            (
                SocketAddr::new(
                    format!("fd00::{:x}", 0x10 + i % 200)
                        .parse::<IpAddr>()
                        .unwrap(),
                    20_000 + (i % 40_000) as u16,
                ),
                "[fd00::53]:53".parse().unwrap(),
            )
        } else {
            (
                SocketAddr::new(
                    format!("198.18.{}.{}", i / 250 % 250, 1 + i % 250)
                        .parse::<IpAddr>()
                        .unwrap(),
                    20_000 + (i % 40_000) as u16,
                ),
                "198.18.0.53:53".parse().unwrap(),
            )
        };
        let name = format!("host{}.zone{}.example.test.", i % 997, i % 13);
        let (qtype, answer) = match i % 3 {
            0 => (
                RecordType::AAAA,
                build::dns_answer_a(
                    id,
                    &name,
                    &[format!("fd00::1:{:x}", i % 65_000).parse().unwrap()],
                ),
            ),
            1 => (
                RecordType::A,
                build::dns_answer_a(
                    id,
                    &name,
                    &[
                        format!("198.18.1.{}", i % 250).parse().unwrap(),
                        "198.18.2.2".parse().unwrap(),
                    ],
                ),
            ),
            _ => (
                RecordType::TXT,
                build::dns_answer_txt(
                    id,
                    &name,
                    &[
                        format!("v=spf1 include:_spf{i}.example.test -all"),
                        "k=v".into(),
                    ],
                ),
            ),
        };
        let query = build::dns_query(id, &name, qtype);
        if i % 10 == 9 {
            let (cs, ss) = (1000u32 + i as u32, 5000u32 + i as u32);
            frames.push(build::tcp_frame(client, server, cs, build::TCP_SYN, b""));
            frames.push(build::tcp_frame(
                server,
                client,
                ss,
                build::TCP_SYN | 0x10,
                b"",
            ));
            let q = build::tcp_framed(&query);
            frames.push(build::tcp_frame(
                client,
                server,
                cs + 1,
                build::TCP_PSH_ACK | build::TCP_FIN,
                &q,
            ));
            let a = build::tcp_framed(&answer);
            frames.push(build::tcp_frame(
                server,
                client,
                ss + 1,
                build::TCP_PSH_ACK | build::TCP_FIN,
                &a,
            ));
        } else {
            frames.push(build::udp_frame(client, server, &query));
            frames.push(build::udp_frame(server, client, &answer));
        }
        messages += 2;
    }
    let start = UNIX_EPOCH + Duration::from_secs(1_764_000_000);
    let packets: Vec<(SystemTime, Vec<u8>)> = frames
        .into_iter()
        .enumerate()
        .map(|(i, f)| (start + Duration::from_micros(i as u64 * 10), f))
        .collect();
    Corpus {
        pcap: build::pcap_file(1, &packets),
        messages,
    }
}

fn decode_all(pcap: &[u8], mut each: impl FnMut(monitor::decode::DnsMessage)) -> u64 {
    let mut d = Decoder::new(DecodeLimits::default());
    let mut out = Vec::with_capacity(4);
    for p in PcapSource::new(Cursor::new(pcap)).unwrap() {
        d.push(&p.unwrap(), &mut out);
        for m in out.drain(..) {
            each(m);
        }
    }
    d.counters().messages
}

fn bench(c: &mut Criterion) {
    let measuring = measuring();
    let corpus = generate(if measuring {
        TRANSACTIONS
    } else {
        SMOKE_TRANSACTIONS
    });
    // Sanity: the corpus decodes completely, or the figures mean nothing.
    assert_eq!(decode_all(&corpus.pcap, |_| {}), corpus.messages);
    assert!(!measuring || corpus.messages >= 100_000);
    eprintln!(
        "corpus: {} messages, {} bytes of pcap",
        corpus.messages,
        corpus.pcap.len()
    );

    let mut g = c.benchmark_group("capture");
    g.sample_size(10);
    g.throughput(Throughput::Elements(corpus.messages));
    g.bench_function("pcap_read", |b| {
        b.iter(|| {
            let n = PcapSource::new(Cursor::new(&corpus.pcap))
                .unwrap()
                .map(|p| p.unwrap().data.len())
                .sum::<usize>();
            black_box(n)
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| black_box(decode_all(&corpus.pcap, |m| drop(black_box(m)))))
    });
    g.bench_function("decode_json", |b| {
        b.iter(|| {
            let mut sink = JsonLinesSink::writer(Box::new(io::sink()));
            let n = decode_all(&corpus.pcap, |m| {
                sink.write(&DnsEvent::from_message(m, None).to_ecs())
                    .unwrap();
            });
            black_box(n)
        })
    });
    g.finish();

    // Where the JSON time goes, per message, on 1,000 decoded messages.
    let mut msgs = Vec::new();
    decode_all(&corpus.pcap, |m| {
        if msgs.len() < 1000 {
            msgs.push(m)
        }
    });
    let events: Vec<DnsEvent> = msgs
        .iter()
        .cloned()
        .map(|m| DnsEvent::from_message(m, None))
        .collect();
    let mut g = c.benchmark_group("json_parts");
    g.sample_size(10);
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("build_document", |b| {
        b.iter(|| {
            events
                .iter()
                .map(|e| black_box(e.ecs()).dns.and_then(|d| d.id).unwrap_or(0) as u64)
                .sum::<u64>()
        })
    });
    let docs: Vec<_> = events.iter().map(|e| e.ecs()).collect();
    g.bench_function("serialise_document", |b| {
        b.iter(|| {
            let mut sink = JsonLinesSink::writer(Box::new(io::sink()));
            for d in &docs {
                sink.write_record(d).unwrap();
            }
        })
    });
    g.finish();
}

/// The reader side of `run`, per message: ring record → packet → dedup →
/// decode → process join → event in a batch (then dropped, as detection
/// would). Loopback traffic as in the load test: a few client sockets
/// asking 100 names of one server, each query's socket known by cookie.
/// As root the kernel maps are real BPF LRU hash maps (a lookup is the
/// daemon's bpf(2) syscall); otherwise a fake makes a cheap syscall per
/// lookup in its place.
mod reader_path {
    use std::collections::HashMap;
    use std::net::SocketAddr;
    use std::sync::{Arc, RwLock};
    use std::time::Instant;

    use hickory_proto::rr::RecordType;
    use monitor::capture::dedup::Dedup;
    use monitor::capture::ringbuf::{InterfaceNames, KtimeClock, parse_record_checked};
    use monitor::capture::{CapturedPacket, LinkType};
    use monitor::commands::run::render;
    use monitor::correlate::process::{KernelSource, ProcessTable, Proto, flow_key};
    use monitor::decode::{DecodeLimits, Decoder, DnsMessage, build};
    use monitor::event::DnsEvent;
    use monitor_common::{DIR_EGRESS, FlowKey, PKT_F_HAS_COOKIE, PacketHeader, ProcInfo};

    pub const SOCKETS: u64 = 4;
    const SERVER_COOKIE: u64 = 1_000;

    pub struct Kernel {
        pub flows: HashMap<FlowKey, ProcInfo>,
        pub sockets: HashMap<u64, ProcInfo>,
        /// FLOWS and SOCKETS as real BPF maps, when we may create them.
        pub bpf: Option<(BpfMap, BpfMap)>,
    }

    /// A BPF_MAP_TYPE_LRU_HASH, like FLOWS and SOCKETS (bpf(2) directly).
    pub struct BpfMap(i32);

    /// `union bpf_attr` for the element commands.
    #[repr(C)]
    struct ElemAttr {
        map_fd: u32,
        _pad: u32,
        key: u64,
        value: u64,
        flags: u64,
    }

    impl BpfMap {
        pub fn create(key_size: usize, value_size: usize) -> Option<BpfMap> {
            // map_type (BPF_MAP_TYPE_LRU_HASH = 9), key_size, value_size,
            // max_entries; the rest zero.
            let mut attr = [0u32; 32];
            attr[..4].copy_from_slice(&[9, key_size as u32, value_size as u32, 65_536]);
            // SAFETY: BPF_MAP_CREATE reads `attr`, 128 bytes.
            let fd = unsafe { libc::syscall(libc::SYS_bpf, 0, attr.as_ptr(), 128) };
            (fd >= 0).then_some(BpfMap(fd as i32))
        }

        fn elem(&self, cmd: i64, key: *const u8, value: *mut u8) -> bool {
            let a = ElemAttr {
                map_fd: self.0 as u32,
                _pad: 0,
                key: key as u64,
                value: value as u64,
                flags: 0,
            };
            // SAFETY: key and value point to buffers of the map's sizes.
            unsafe {
                libc::syscall(
                    libc::SYS_bpf,
                    cmd,
                    &a as *const ElemAttr,
                    std::mem::size_of::<ElemAttr>(),
                ) == 0
            }
        }

        pub fn insert<K>(&self, k: &K, v: &ProcInfo) {
            let v = *v;
            assert!(self.elem(
                2,
                (k as *const K).cast(),
                (&v as *const ProcInfo).cast_mut().cast()
            ));
        }

        pub fn get<K>(&self, k: &K) -> Option<ProcInfo> {
            let mut v = ProcInfo::default();
            self.elem(1, (k as *const K).cast(), (&mut v as *mut ProcInfo).cast())
                .then_some(v)
        }
    }

    impl Drop for BpfMap {
        fn drop(&mut self) {
            // SAFETY: our own fd.
            unsafe { libc::close(self.0) };
        }
    }

    fn syscall() {
        // SAFETY: no preconditions.
        std::hint::black_box(unsafe { libc::getppid() });
    }

    impl KernelSource for &Kernel {
        fn flow(&self, key: &FlowKey) -> Option<ProcInfo> {
            if let Some((flows, _)) = &self.bpf {
                return flows.get(key);
            }
            syscall();
            self.flows.get(key).copied()
        }

        fn socket(&self, cookie: u64) -> Option<ProcInfo> {
            if let Some((_, sockets)) = &self.bpf {
                return sockets.get(&cookie);
            }
            syscall();
            self.sockets.get(&cookie).copied()
        }
    }

    fn client(s: u64) -> SocketAddr {
        SocketAddr::new([127, 0, 0, 1].into(), 40_000 + s as u16)
    }

    fn server() -> SocketAddr {
        "127.0.0.1:53".parse().unwrap()
    }

    fn record(ktime_ns: u64, cookie: u64, frame: &[u8]) -> Vec<u8> {
        let h = PacketHeader {
            ktime_ns,
            socket_cookie: cookie,
            ifindex: 1,
            direction: DIR_EGRESS,
            pkt_len: frame.len() as u32,
            cap_len: frame.len() as u32,
            l3_offset: 14,
            flags: PKT_F_HAS_COOKIE,
        };
        let mut v = vec![0u8; std::mem::size_of::<PacketHeader>()];
        // SAFETY: v has room for the header.
        unsafe { std::ptr::write_unaligned(v.as_mut_ptr().cast(), h) };
        v.extend_from_slice(frame);
        v
    }

    /// `transactions` query/answer pairs, 10 µs apart.
    pub fn records(transactions: usize) -> (Vec<Vec<u8>>, Kernel) {
        let mut recs = Vec::with_capacity(transactions * 2);
        let mut kernel = Kernel {
            flows: HashMap::new(),
            sockets: HashMap::new(),
            bpf: BpfMap::create(
                std::mem::size_of::<FlowKey>(),
                std::mem::size_of::<ProcInfo>(),
            )
            .zip(BpfMap::create(8, std::mem::size_of::<ProcInfo>())),
        };
        for s in 0..SOCKETS {
            let mut comm = [0u8; 16];
            comm[..7].copy_from_slice(b"dnsperf");
            let info = ProcInfo {
                tgid: 100,
                tid: 101 + s as u32,
                uid: 0,
                gid: 0,
                cgroup_id: 0,
                comm,
            };
            let key = flow_key(Proto::Udp, client(s), server());
            kernel.flows.insert(key, info);
            kernel.sockets.insert(1 + s, info);
            if let Some((flows, sockets)) = &kernel.bpf {
                flows.insert(&key, &info);
                sockets.insert(&(1 + s), &info);
            }
        }
        for i in 0..transactions {
            let s = i as u64 % SOCKETS;
            let name = format!("n{}.bench.", i % 100);
            let q = build::dns_query(i as u16, &name, RecordType::A);
            let a = build::dns_answer_a(i as u16, &name, &["198.18.0.1".parse().unwrap()]);
            let t = i as u64 * 20_000;
            recs.push(record(t, 1 + s, &build::udp_frame(client(s), server(), &q)));
            recs.push(record(
                t + 10_000,
                SERVER_COOKIE,
                &build::udp_frame(server(), client(s), &a),
            ));
        }
        (recs, kernel)
    }

    pub struct Reader<'k> {
        names: InterfaceNames,
        scratch: CapturedPacket,
        dedup: Dedup,
        decoder: Decoder,
        processes: ProcessTable<&'k Kernel>,
        out: Vec<DnsMessage>,
        pub batch: Vec<DnsEvent>,
    }

    impl<'k> Reader<'k> {
        pub fn new(kernel: &'k Kernel) -> Self {
            Reader {
                names: Arc::new(RwLock::new(HashMap::from([(
                    1,
                    ("lo".into(), monitor::capture::Side::Loopback),
                )]))),
                scratch: build::captured(
                    LinkType::RawIp,
                    Vec::with_capacity(2048),
                    std::time::UNIX_EPOCH,
                ),
                dedup: Dedup::new(),
                decoder: Decoder::new(DecodeLimits::default()),
                processes: ProcessTable::new(kernel, None),
                out: Vec::new(),
                batch: Vec::new(),
            }
        }

        /// One pass over `recs`, the clock `offset_ns` later than the last.
        pub fn pass(&mut self, recs: &[Vec<u8>], offset_ns: i128) -> usize {
            let clock = KtimeClock::with_offset_ns(offset_ns);
            // As `DecodeSink`: the join's clock read once per batch.
            let mut now = Instant::now();
            // As `RingReader::drain`: interface names checked once a batch.
            let mut checked = None;
            let mut n = 0;
            for r in recs {
                parse_record_checked(r, &clock, &self.names, &mut checked, &mut self.scratch)
                    .unwrap();
                if !self.dedup.first_sighting(&self.scratch) {
                    continue;
                }
                self.decoder.push(&self.scratch, &mut self.out);
                for msg in self.out.drain(..) {
                    self.batch.push(render(msg, &mut self.processes, now));
                }
                if self.batch.len() >= 256 {
                    n += self.batch.len();
                    self.batch.clear();
                    now = Instant::now();
                    checked = None;
                }
            }
            n += self.batch.len();
            self.batch.clear();
            n
        }
    }
}

fn bench_reader(c: &mut Criterion) {
    let transactions = if measuring() { 10_000 } else { 500 };
    let (recs, kernel) = reader_path::records(transactions);
    eprintln!(
        "reader_path: kernel maps {}",
        if kernel.bpf.is_some() {
            "are BPF maps"
        } else {
            "faked (no BPF map could be created)"
        }
    );
    let mut reader = reader_path::Reader::new(&kernel);
    let mut offset: i128 = 1_764_000_000_000_000_000;
    assert_eq!(reader.pass(&recs, offset), transactions * 2);
    let mut g = c.benchmark_group("reader_path");
    g.sample_size(10);
    g.throughput(Throughput::Elements(recs.len() as u64));
    g.bench_function("record_to_event", |b| {
        b.iter(|| {
            // Each pass a minute later: no packet is a copy of the last pass's.
            offset += 60_000_000_000;
            black_box(reader.pass(&recs, offset))
        })
    });
    g.finish();
}

criterion_group!(benches, bench, bench_reader);
criterion_main!(benches);
