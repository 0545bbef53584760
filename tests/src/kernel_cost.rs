//! Kernel cost per packet of the capture programs, from the kernel's own
//! BPF run-time statistics (what `kernel.bpf_stats_enabled=1` +
//! `bpftool prog show` report as run_time_ns / run_cnt).
//!
//! Loads the programs in-process (the monitor library built with the eBPF
//! object), attaches the tc programs to `lo` only, and sends UDP datagrams
//! over loopback in two phases: to a port that is not a DNS port (the
//! early-exit path) and to one that is (parse, ring-buffer reserve, copy,
//! submit). Each datagram crosses tc twice on `lo` (egress, ingress).

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use monitor::capture::ebpf::KernelPrograms;

/// Ports used by the measurement (not 53: a local resolver may run).
pub const DNS_PORT: u16 = 5399;
pub const OTHER_PORT: u16 = 5398;

/// One program's cost in one phase.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProgCost {
    pub program: String,
    pub runs: u64,
    pub ns_per_run: f64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct KernelCost {
    pub packets_per_phase: u64,
    pub non_dns: Vec<ProgCost>,
    pub dns: Vec<ProgCost>,
    /// BPF_PROG_TEST_RUN averages (ns per run, no statistics overhead):
    /// `(case, ns)`.
    pub test_run: Vec<(String, f64)>,
    /// Kernel counters at the end (seen, sent, ring_full, …).
    pub counters: Vec<(String, u64)>,
}

impl KernelCost {
    /// Average over the capture tc programs (what a packet pays per tc
    /// hook, measurement floor included).
    pub fn tc_ns(costs: &[ProgCost]) -> f64 {
        let (t, n) = costs
            .iter()
            .filter(|c| c.program.starts_with("tc_") && c.program != "tc_noop")
            .fold((0.0, 0u64), |(t, n), c| {
                (t + c.ns_per_run * c.runs as f64, n + c.runs)
            });
        if n == 0 { 0.0 } else { t / n as f64 }
    }

    /// The do-nothing classifier's cost: dispatch plus the statistics'
    /// own clock reads, which every figure above includes.
    pub fn floor_ns(costs: &[ProgCost]) -> f64 {
        costs
            .iter()
            .find(|c| c.program == "tc_noop")
            .map_or(0.0, |c| c.ns_per_run)
    }
}

/// A DNS query for `example.com. A` (29 bytes of DNS, as a stub sends).
fn query(id: u16) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend([1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    q.extend(b"\x07example\x03com\x00\x00\x01\x00\x01");
    q
}

fn snapshot(p: &KernelPrograms) -> Vec<(String, Duration, u64)> {
    p.program_stats()
}

fn delta(before: &[(String, Duration, u64)], after: &[(String, Duration, u64)]) -> Vec<ProgCost> {
    let mut out: Vec<ProgCost> = after
        .iter()
        .filter_map(|(name, t1, n1)| {
            let (_, t0, n0) = before.iter().find(|(n, _, _)| n == name)?;
            let runs = n1.saturating_sub(*n0);
            (runs > 0).then(|| ProgCost {
                program: name.clone(),
                runs,
                ns_per_run: t1.saturating_sub(*t0).as_nanos() as f64 / runs as f64,
            })
        })
        .collect();
    out.sort_by(|a, b| a.program.cmp(&b.program));
    out
}

fn blast(to_port: u16, packets: u64) -> Result<()> {
    let tx = UdpSocket::bind("127.0.0.1:0")?;
    let dst = format!("127.0.0.1:{to_port}");
    for i in 0..packets {
        // sendto with an address: the sendmsg4 hook runs too, as for a stub.
        let _ = tx.send_to(&query(i as u16), &dst);
    }
    Ok(())
}

/// The classifier run in the kernel over fixed frames, without any
/// interface: the program's own cost, free of the statistics' clock reads.
fn test_run_costs(
    progs: &KernelPrograms,
    maps: &mut monitor::capture::ebpf::KernelMaps,
) -> Result<Vec<(String, f64)>> {
    use monitor::decode::build;
    use monitor_common::names;
    use std::net::Ipv4Addr;
    let (c, s) = (Ipv4Addr::new(198, 18, 0, 2), Ipv4Addr::new(198, 18, 1, 1));
    let udp = |dport| {
        build::ethernet(
            &build::ipv4(c, s, 17, &build::udp(40000, dport, &query(1))),
            &[],
        )
    };
    let tcp443 = build::ethernet(
        &build::ipv4(c, s, 6, &build::tcp(40000, 443, 1, 0x10, &[0; 100])),
        &[],
    );
    let cases: [(&str, &str, Vec<u8>, u32); 4] = [
        (
            "empty classifier (floor)",
            names::TC_NOOP,
            udp(OTHER_PORT),
            1_000_000,
        ),
        (
            "non-DNS UDP/IPv4",
            names::TC_INGRESS_ETH,
            udp(OTHER_PORT),
            1_000_000,
        ),
        (
            "non-DNS TCP/IPv4 port 443",
            names::TC_INGRESS_ETH,
            tcp443,
            1_000_000,
        ),
        // Fits the ring (no reservation failures): 20,000 × 232 bytes.
        (
            "DNS UDP/IPv4 query (copied)",
            names::TC_INGRESS_ETH,
            udp(DNS_PORT),
            20_000,
        ),
    ];
    let mut out = Vec::new();
    for (what, prog, frame, repeat) in cases {
        while maps.ring.next().is_some() {}
        let d = progs.test_run_tc(prog, &frame, repeat)?;
        out.push((what.to_owned(), d.as_nanos() as f64));
    }
    while maps.ring.next().is_some() {}
    Ok(out)
}

/// Measures; needs root (loads programs, enables BPF statistics).
pub fn measure(packets: u64) -> Result<KernelCost> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("kernel cost measurement needs root");
    }
    // Statistics stay on while this fd is open (BPF_ENABLE_STATS).
    let _stats = aya::sys::enable_stats(aya::sys::Stats::RunTime)
        .context("enabling BPF run-time statistics")?;
    let mut progs = KernelPrograms::load(&[DNS_PORT])?;
    let mut maps = progs.take_maps()?;
    let lo = std::ffi::CString::new("lo")?;
    // SAFETY: valid C string.
    let lo_index = unsafe { libc::if_nametoindex(lo.as_ptr()) };
    progs.attach_interface(lo_index, "lo", 772)?;
    progs.attach_baseline("lo")?;
    progs.attach_cgroup(&monitor::capture::cgroup::cgroup2_mount()?)?;
    // Sinks so the datagrams are delivered (no ICMP port unreachable).
    let _sinks = [
        UdpSocket::bind(("127.0.0.1", DNS_PORT)).context("binding the DNS-port sink")?,
        UdpSocket::bind(("127.0.0.1", OTHER_PORT)).context("binding the other-port sink")?,
    ];
    let test_run = test_run_costs(&progs, &mut maps)?;
    // Drain the ring so reservations do not fail (that path is cheaper).
    let stop = Arc::new(AtomicBool::new(false));
    let drainer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                while maps.ring.next().is_some() {}
                std::thread::sleep(Duration::from_micros(200));
            }
            maps
        })
    };
    let t0 = snapshot(&progs);
    blast(OTHER_PORT, packets)?;
    let t1 = snapshot(&progs);
    blast(DNS_PORT, packets)?;
    let t2 = snapshot(&progs);
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_millis(200) {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let maps = drainer
        .join()
        .map_err(|_| anyhow::anyhow!("drain thread panicked"))?;
    Ok(KernelCost {
        packets_per_phase: packets,
        non_dns: delta(&t0, &t1),
        dns: delta(&t1, &t2),
        test_run,
        counters: maps
            .counters
            .named()
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v))
            .collect(),
    })
}
