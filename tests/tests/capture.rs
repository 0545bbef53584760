//! End to end, as root: real namespaces, a real unbound, real clients, the
//! real daemon with its eBPF programs. Each case asserts the question, the
//! answer data and the client's pid and process name on both the query
//! and the answer event.
//!
//! Needs `target/debug/dnssec-monitor` built with the eBPF object
//! (`cargo xtask build`; `cargo xtask test` does it and runs these).
//! Skipped when not root, unless DNSSEC_MONITOR_REQUIRE_ROOT_TESTS=1.

use std::time::Duration;

use anyhow::{Result, ensure};
use base64::Engine as _;
use serde_json::Value;
use tests::cgroup::FakeContainer;
use tests::cmd::{have, run_pid};
use tests::monitor::Monitor;
use tests::netns::Topology;
use tests::root::{required, root_or_skip};
use tests::unbound::{
    A_NAME, A_V4, A_V6, FRAG_COUNT, FRAG_NAME, HUGE_COUNT, HUGE_NAME, Unbound, txt_string,
};

const WAIT: Duration = Duration::from_secs(15);

fn tools_or_skip(test: &str) -> bool {
    let missing: Vec<&str> = ["ip", "unbound", "dig", "getent"]
        .into_iter()
        .filter(|t| !have(t))
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        !required(),
        "{test}: missing tools {missing:?} (cargo xtask setup installs them)"
    );
    eprintln!("{test}: skipped: missing {missing:?}");
    false
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn pid_of(e: &Value) -> Option<u64> {
    s(e, &["process", "pid"]).and_then(Value::as_u64)
}

/// Query and answer events for `name` sent by process `pid`.
fn exchange(events: &[Value], pid: u32, name: &str) -> (Vec<Value>, Vec<Value>) {
    let mine = events.iter().filter(|e| {
        pid_of(e) == Some(u64::from(pid))
            && s(e, &["dns", "question", "name"]).and_then(Value::as_str) == Some(name)
    });
    let (q, a): (Vec<&Value>, Vec<&Value>) =
        mine.partition(|e| s(e, &["dns", "type"]).and_then(Value::as_str) == Some("query"));
    (
        q.into_iter().cloned().collect(),
        a.into_iter().cloned().collect(),
    )
}

fn answer_data(e: &Value) -> Vec<String> {
    s(e, &["dns", "answers"])
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r.get("data").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn raw_len(e: &Value) -> usize {
    s(e, &["dnssec_monitor", "raw"])
        .and_then(Value::as_str)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map_or(0, |v| v.len())
}

/// Runs a client in the client namespace and checks the monitor reported
/// its query and answer with its pid and name.
struct Case<'a> {
    what: &'a str,
    argv: Vec<&'a str>,
    comm: &'a str,
    qname: &'a str,
    qtype: &'a str,
    transport: &'a str,
    network: &'a str,
    /// Every one of these must be in the answer's data.
    expect: Vec<String>,
    /// The answer must carry at least this many records / bytes.
    min_answers: usize,
    min_bytes: usize,
    /// Run inside this fake container (its id must be `container.id`);
    /// without one, events must carry no `container.id`.
    container: Option<&'a FakeContainer>,
}

fn check(t: &Topology, m: &Monitor, c: &Case) -> Result<()> {
    let argv = t.in_client(&c.argv);
    let wrapped: Vec<String> = match c.container {
        Some(fc) => fc.wrap(&argv),
        None => argv.iter().map(|s| (*s).to_owned()).collect(),
    };
    let wrapped: Vec<&str> = wrapped.iter().map(String::as_str).collect();
    let (pid, out) = run_pid(&wrapped, Duration::from_secs(20))?;
    ensure!(
        out.status.success(),
        "{}: {:?} failed: {}",
        c.what,
        c.argv,
        String::from_utf8_lossy(&out.stderr)
    );
    let events = m.wait_events(c.what, WAIT, |ev| {
        let (q, a) = exchange(ev, pid, c.qname);
        !q.is_empty() && !a.is_empty()
    })?;
    let (q, a) = exchange(&events, pid, c.qname);
    for e in q.iter().chain(&a) {
        let name = s(e, &["process", "name"]).and_then(Value::as_str);
        ensure!(
            name == Some(c.comm),
            "{}: process.name {name:?} in {e}",
            c.what
        );
        let tr = s(e, &["network", "transport"]).and_then(Value::as_str);
        ensure!(
            tr == Some(c.transport),
            "{}: transport {tr:?} in {e}",
            c.what
        );
        let nt = s(e, &["network", "type"]).and_then(Value::as_str);
        ensure!(
            nt == Some(c.network),
            "{}: network.type {nt:?} in {e}",
            c.what
        );
    }
    ensure!(
        q.iter()
            .any(|e| s(e, &["dns", "question", "type"]).and_then(Value::as_str) == Some(c.qtype)),
        "{}: no {} query in {q:?}",
        c.what,
        c.qtype
    );
    let good = a.iter().any(|e| {
        let data = answer_data(e);
        data.len() >= c.min_answers
            && raw_len(e) >= c.min_bytes
            && c.expect
                .iter()
                .all(|x| data.iter().any(|d| d.contains(x.as_str())))
    });
    ensure!(
        good,
        "{}: no answer with {:?} (≥ {} records, ≥ {} bytes) in {a:?}",
        c.what,
        c.expect,
        c.min_answers,
        c.min_bytes
    );
    // Source is the client, destination the server, on both.
    for e in q.iter().chain(&a) {
        let dport = s(e, &["destination", "port"]).and_then(Value::as_u64);
        ensure!(
            dport == Some(53),
            "{}: destination.port {dport:?} in {e}",
            c.what
        );
    }
    Ok(())
}

#[test]
fn small_queries_udp4_udp6_tcp_and_glibc() -> Result<()> {
    let test = "small_queries_udp4_udp6_tcp_and_glibc";
    if !root_or_skip(test) || !tools_or_skip(test) {
        return Ok(());
    }
    // Monitor first: the veths appear later and must be picked up live.
    let mut m = Monitor::start("small", &[])?;
    let t = Topology::new()?;
    for i in &t.host_ifaces {
        m.wait_log(&format!("attached iface={i} "), Duration::from_secs(10))?;
    }
    let _server = Unbound::start(&t)?;
    let at4 = format!("@{}", t.server_v4);
    let at6 = format!("@{}", t.server_v6);
    let cases = [
        Case {
            what: "dig UDP/IPv4",
            argv: vec!["dig", "+time=2", "+tries=1", &at4, A_NAME, "A"],
            comm: "dig",
            qname: A_NAME,
            qtype: "A",
            transport: "udp",
            network: "ipv4",
            expect: vec![A_V4.into()],
            min_answers: 1,
            min_bytes: 0,
            container: None,
        },
        Case {
            what: "dig UDP/IPv6",
            argv: vec!["dig", "+time=2", "+tries=1", &at6, A_NAME, "AAAA"],
            comm: "dig",
            qname: A_NAME,
            qtype: "AAAA",
            transport: "udp",
            network: "ipv6",
            expect: vec![A_V6.into()],
            min_answers: 1,
            min_bytes: 0,
            container: None,
        },
        Case {
            what: "dig TCP/IPv4",
            argv: vec!["dig", "+tcp", "+time=2", "+tries=1", &at4, A_NAME, "A"],
            comm: "dig",
            qname: A_NAME,
            qtype: "A",
            transport: "tcp",
            network: "ipv4",
            expect: vec![A_V4.into()],
            min_answers: 1,
            min_bytes: 0,
            container: None,
        },
        Case {
            what: "getent (glibc, resolv.conf of the namespace)",
            argv: vec!["getent", "ahostsv4", A_NAME],
            comm: "getent",
            qname: A_NAME,
            qtype: "A",
            transport: "udp",
            network: "ipv4",
            expect: vec![A_V4.into()],
            min_answers: 1,
            min_bytes: 0,
            container: None,
        },
    ];
    for c in &cases {
        check(&t, &m, c)?;
    }
    // A process in a docker-style cgroup: its container id on both events
    // (the cases above, outside any container, have none).
    let fc = FakeContainer::new(&t.prefix)?;
    check(
        &t,
        &m,
        &Case {
            what: "dig in a docker-style cgroup",
            argv: vec!["dig", "+time=2", "+tries=1", &at4, A_NAME, "A"],
            comm: "dig",
            qname: A_NAME,
            qtype: "A",
            transport: "udp",
            network: "ipv4",
            expect: vec![A_V4.into()],
            min_answers: 1,
            min_bytes: 0,
            container: Some(&fc),
        },
    )?;
    // Negative twin: UDP to a port that is not a DNS port is not reported,
    // though it is a well-formed DNS query.
    let (pid, _) = run_pid(
        &t.in_client(&["dig", "+time=1", "+tries=1", "-p", "5300", &at4, A_NAME]),
        Duration::from_secs(10),
    )?;
    // A marker query after it: once its events are in, the port-5300 one
    // would have been too.
    let (mpid, _) = run_pid(
        &t.in_client(&["dig", "+time=2", "+tries=1", &at4, A_NAME]),
        Duration::from_secs(10),
    )?;
    let ev = m.wait_events("marker", WAIT, |ev| {
        !exchange(ev, mpid, A_NAME).1.is_empty()
    })?;
    ensure!(
        ev.iter().all(|e| pid_of(e) != Some(u64::from(pid))
            && s(e, &["destination", "port"]).and_then(Value::as_u64) != Some(5300)),
        "a query to port 5300 was reported"
    );
    let log = m.stop()?;
    ensure!(log.contains("kernel: seen="), "no exit report:\n{log}");
    Ok(())
}

#[test]
fn large_answers_ip_fragments_and_tcp() -> Result<()> {
    let test = "large_answers_ip_fragments_and_tcp";
    if !root_or_skip(test) || !tools_or_skip(test) {
        return Ok(());
    }
    let t = Topology::new()?;
    let _server = Unbound::start(&t)?;
    // Only the two host-side veths (the --interface option).
    let mut args = Vec::new();
    for i in &t.host_ifaces {
        args.extend(["--interface", i.as_str()]);
    }
    let mut m = Monitor::start("large", &args)?;
    let at4 = format!("@{}", t.server_v4);
    let at6 = format!("@{}", t.server_v6);
    let frag_expect = vec![txt_string(0), txt_string(FRAG_COUNT - 1)];
    let cases = [
        Case {
            what: "UDP/IPv4 answer over 4,000 bytes (IP fragments)",
            argv: vec![
                "dig",
                "+time=2",
                "+tries=1",
                "+bufsize=8192",
                "+ignore",
                &at4,
                FRAG_NAME,
                "TXT",
            ],
            comm: "dig",
            qname: FRAG_NAME,
            qtype: "TXT",
            transport: "udp",
            network: "ipv4",
            expect: frag_expect.clone(),
            min_answers: FRAG_COUNT,
            min_bytes: 4000,
            container: None,
        },
        Case {
            what: "UDP/IPv6 answer over 4,000 bytes (IPv6 fragments)",
            argv: vec![
                "dig",
                "+time=2",
                "+tries=1",
                "+bufsize=8192",
                "+ignore",
                &at6,
                FRAG_NAME,
                "TXT",
            ],
            comm: "dig",
            qname: FRAG_NAME,
            qtype: "TXT",
            transport: "udp",
            network: "ipv6",
            expect: frag_expect,
            min_answers: FRAG_COUNT,
            min_bytes: 4000,
            container: None,
        },
        Case {
            what: "TCP answer over 16 KiB",
            argv: vec!["dig", "+tcp", "+time=2", "+tries=1", &at4, HUGE_NAME, "TXT"],
            comm: "dig",
            qname: HUGE_NAME,
            qtype: "TXT",
            transport: "tcp",
            network: "ipv4",
            expect: vec![txt_string(0), txt_string(HUGE_COUNT - 1)],
            min_answers: HUGE_COUNT,
            min_bytes: 16 * 1024,
            container: None,
        },
    ];
    for c in &cases {
        check(&t, &m, c)?;
    }
    // Negative twin: an answer cut short by the client's small buffer
    // (TC=1, no records) is reported as such, not as the full RRset.
    let (pid, _) = run_pid(
        &t.in_client(&[
            "dig",
            "+time=2",
            "+tries=1",
            "+bufsize=512",
            "+ignore",
            &at4,
            FRAG_NAME,
            "TXT",
        ]),
        Duration::from_secs(10),
    )?;
    let ev = m.wait_events("truncated answer", WAIT, |ev| {
        !exchange(ev, pid, FRAG_NAME).1.is_empty()
    })?;
    let (_, a) = exchange(&ev, pid, FRAG_NAME);
    ensure!(
        a.iter().all(|e| answer_data(e).len() < FRAG_COUNT
            && s(e, &["dns", "header_flags"])
                .and_then(Value::as_array)
                .is_some_and(|f| f.iter().any(|x| x == "TC"))),
        "a truncated answer was reported with the full RRset: {a:?}"
    );
    m.stop()?;
    Ok(())
}

/// A minimal DNS responder on a loopback address: every query gets an
/// answer with its question and one A record, `LOOP_A`, until dropped.
struct LoopResponder {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const LOOP_PORT: u16 = 5391;
const LOOP_A: [u8; 4] = [192, 0, 2, 77];

impl LoopResponder {
    fn start(addr: &str) -> Result<LoopResponder> {
        use std::sync::atomic::Ordering;
        let sock = std::net::UdpSocket::bind(addr)?;
        sock.set_read_timeout(Some(Duration::from_millis(100)))?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !s2.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(a) = loop_answer(&buf[..n]) {
                    let _ = sock.send_to(&a, from);
                }
            }
        });
        Ok(LoopResponder {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for LoopResponder {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The answer to `q`: its id and question, one A record `LOOP_A`.
fn loop_answer(q: &[u8]) -> Option<Vec<u8>> {
    tests::dns::answer_a(q, LOOP_A)
}

/// Loopback exchanges (a stub and a resolver on the same host: the most
/// common DNS on a fleet host) carry the client's process on the query
/// and on the answer. The cgroup skb program leaves queries to loopback
/// addresses to the socket-cookie join (no FLOWS record, counted as
/// `flows_loopback`), so this is the test of that join for answers too.
#[test]
fn loopback_exchanges_carry_the_process() -> Result<()> {
    let test = "loopback_exchanges_carry_the_process";
    if !root_or_skip(test) || !tools_or_skip(test) {
        return Ok(());
    }
    let port = LOOP_PORT.to_string();
    let mut m = Monitor::start("loopback", &["--dns-port", &port])?;
    let _v4 = LoopResponder::start(&format!("127.0.0.1:{LOOP_PORT}"))?;
    let _v6 = LoopResponder::start(&format!("[::1]:{LOOP_PORT}"))?;
    let want = std::net::Ipv4Addr::from(LOOP_A).to_string();
    // Event names carry no trailing dot.
    for (server, name) in [("127.0.0.1", "loop4.example"), ("::1", "loop6.example")] {
        let at = format!("@{server}");
        let (pid, out) = run_pid(
            &["dig", "+time=2", "+tries=1", "-p", &port, &at, name, "A"],
            Duration::from_secs(10),
        )?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        ensure!(
            stdout.contains(&want),
            "dig {at} {name}: no answer:\n{stdout}"
        );
        let ev = m.wait_events(&format!("{name} from pid {pid}"), WAIT, |ev| {
            let (q, a) = exchange(ev, pid, name);
            !q.is_empty() && !a.is_empty()
        })?;
        let (q, a) = exchange(&ev, pid, name);
        for e in q.iter().chain(&a) {
            let comm = s(e, &["process", "name"]).and_then(Value::as_str);
            ensure!(comm == Some("dig"), "{name}: process.name {comm:?} in {e}");
        }
        ensure!(
            a.iter().any(|e| answer_data(e).contains(&want)),
            "{name}: answer data lacks {want}: {a:?}"
        );
    }
    let log = m.stop()?;
    let loopback = log
        .split_whitespace()
        .find_map(|t| t.strip_prefix("flows_loopback="))
        .and_then(|v| v.trim_end_matches([',', ';']).parse::<u64>().ok());
    ensure!(
        loopback.is_some_and(|n| n >= 2),
        "the two queries should have been left to the cookie join (flows_loopback >= 2):\n{log}"
    );
    Ok(())
}

/// A query from an unconnected UDP socket (`sendto` with an address, as
/// dnsperf, python's resolvers and many stubs send; dig connects its
/// socket) carries its process: the cgroup sendmsg hooks record it, which
/// the connect hooks never see.
#[test]
fn unconnected_udp_senders_carry_the_process() -> Result<()> {
    let test = "unconnected_udp_senders_carry_the_process";
    if !root_or_skip(test) || !tools_or_skip(test) {
        return Ok(());
    }
    let port = LOOP_PORT + 1;
    let _v4 = LoopResponder::start(&format!("127.0.0.1:{port}"))?;
    let me = std::process::id();
    // The process name is the thread-group leader's (BTF offsets), not the
    // test thread's.
    let comm = std::fs::read_to_string("/proc/self/comm")?
        .trim()
        .to_string();
    let port_s = port.to_string();
    let mut m = Monitor::start("unconnected", &["--dns-port", &port_s])?;
    let name = "unconnected.example";
    let sock = std::net::UdpSocket::bind("127.0.0.1:0")?;
    sock.set_read_timeout(Some(Duration::from_secs(2)))?;
    let q = tests::dns::query(0x5151, name, 1);
    sock.send_to(&q, ("127.0.0.1", port))?;
    let mut buf = [0u8; 512];
    let (n, _) = sock.recv_from(&mut buf)?;
    ensure!(n > q.len(), "no answer from the loop responder");
    let ev = m.wait_events(&format!("{name} from pid {me}"), WAIT, |ev| {
        let (q, a) = exchange(ev, me, name);
        !q.is_empty() && !a.is_empty()
    })?;
    let (q, a) = exchange(&ev, me, name);
    for e in q.iter().chain(&a) {
        let got = s(e, &["process", "name"]).and_then(Value::as_str);
        ensure!(
            got == Some(comm.as_str()),
            "{name}: process.name {got:?}, want {comm:?}, in {e}"
        );
    }
    m.stop()?;
    Ok(())
}

/// A network namespace reached from the host through a VXLAN tunnel over
/// a veth: the VXLAN device's link kind (`vxlan`) is not a guest's, so to
/// the monitor it is a network-facing interface, as a NIC would be (this
/// kernel has no vlan/macvlan modules). The veth carries only UDP/4789.
struct VxlanPeer {
    ns: String,
    host_veth: String,
    host_vxlan: String,
}

fn vxlan_cmd<'a>(name: &'a str, local: &'a str, remote: &'a str, dev: &'a str) -> Vec<&'a str> {
    vec![
        "ip", "link", "add", name, "type", "vxlan", "id", "77", "dstport", "4789", "local", local,
        "remote", remote, "dev", dev,
    ]
}

const PEER_HOST_IP: &str = "198.19.77.1";
const PEER_IP: &str = "198.19.77.2";

impl VxlanPeer {
    fn new() -> Result<VxlanPeer> {
        let p = format!("dmv{:04x}", std::process::id() & 0xffff);
        let v = VxlanPeer {
            ns: format!("{p}n"),
            host_veth: format!("{p}h"),
            host_vxlan: format!("{p}v"),
        };
        v.teardown();
        let (ns, h) = (v.ns.as_str(), v.host_veth.as_str());
        let hv = v.host_vxlan.as_str();
        let (peer, pv) = (format!("{p}p"), format!("{p}w"));
        let (under_h, under_p) = ("198.19.78.1", "198.19.78.2");
        let host_cidr = format!("{PEER_HOST_IP}/24");
        let peer_cidr = format!("{PEER_IP}/24");
        let under_h_cidr = format!("{under_h}/24");
        let under_p_cidr = format!("{under_p}/24");
        let mut steps: Vec<Vec<&str>> = vec![
            vec!["ip", "netns", "add", ns],
            vec![
                "ip", "link", "add", h, "type", "veth", "peer", "name", &peer,
            ],
            vec!["ip", "link", "set", &peer, "netns", ns],
            vec!["ip", "addr", "add", &under_h_cidr, "dev", h],
            vec!["ip", "link", "set", h, "up"],
            vec!["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"],
            vec![
                "ip",
                "netns",
                "exec",
                ns,
                "ip",
                "addr",
                "add",
                &under_p_cidr,
                "dev",
                &peer,
            ],
            vec!["ip", "netns", "exec", ns, "ip", "link", "set", &peer, "up"],
            vxlan_cmd(hv, under_h, under_p, h),
            vec!["ip", "addr", "add", &host_cidr, "dev", hv],
            vec!["ip", "link", "set", hv, "up"],
        ];
        let mut inside = vec!["ip", "netns", "exec", ns];
        inside.extend(vxlan_cmd(&pv, under_p, under_h, &peer));
        steps.push(inside);
        steps.push(vec![
            "ip", "netns", "exec", ns, "ip", "addr", "add", &peer_cidr, "dev", &pv,
        ]);
        steps.push(vec![
            "ip", "netns", "exec", ns, "ip", "link", "set", &pv, "up",
        ]);
        for s in &steps {
            tests::cmd::run(s)?;
        }
        Ok(v)
    }

    fn teardown(&self) {
        // The namespace takes the peer veth (and so the pair) and its
        // VXLAN; the host's VXLAN goes with its veth.
        tests::cmd::run_quiet(&["ip", "netns", "del", &self.ns]);
        tests::cmd::run_quiet(&["ip", "link", "del", &self.host_vxlan]);
        tests::cmd::run_quiet(&["ip", "link", "del", &self.host_veth]);
    }
}

impl Drop for VxlanPeer {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// A DNS server on this host answering another machine: its answers leave
/// through a network-facing interface and are not answers the host
/// received (DESIGN.md, Detection), so nothing judges them — before, every
/// name a LAN client asked was validated by the monitor and its verdict
/// rules ran on it. The same server answering over `lo` is judged: with
/// the engine asking that server (which has no DNSSEC to give), its answer
/// raises an alert, which shows the served one would have too.
#[test]
fn answers_served_to_other_machines_are_not_judged() -> Result<()> {
    let test = "answers_served_to_other_machines_are_not_judged";
    if !root_or_skip(test) || !tools_or_skip(test) {
        return Ok(());
    }
    let peer = VxlanPeer::new()?;
    let port = LOOP_PORT.to_string();
    let upstream = format!("127.0.0.1:{LOOP_PORT}");
    let mut m = Monitor::start("served", &["--dns-port", &port, "--upstream", &upstream])?;
    let _lo = LoopResponder::start(&upstream)?;
    let _lan = LoopResponder::start(&format!("{PEER_HOST_IP}:{LOOP_PORT}"))?;
    let want = std::net::Ipv4Addr::from(LOOP_A).to_string();
    let at = format!("@{PEER_HOST_IP}");
    let out = tests::cmd::run_timeout(
        &[
            "ip",
            "netns",
            "exec",
            &peer.ns,
            "dig",
            "+time=2",
            "+tries=1",
            "-p",
            &port,
            &at,
            "served.example",
            "A",
        ],
        Duration::from_secs(10),
    )?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        stdout.contains(&want),
        "dig from the peer: no answer:\n{stdout}"
    );
    let (pid, out) = run_pid(
        &[
            "dig",
            "+time=2",
            "+tries=1",
            "-p",
            &port,
            "@127.0.0.1",
            "judged.example",
            "A",
        ],
        Duration::from_secs(10),
    )?;
    ensure!(
        String::from_utf8_lossy(&out.stdout).contains(&want),
        "dig over lo: no answer"
    );
    let is_alert_for = |e: &Value, name: &str| {
        s(e, &["event", "dataset"]).and_then(Value::as_str) == Some("dnssec_monitor.alert")
            && s(e, &["dns", "question", "name"]).and_then(Value::as_str) == Some(name)
    };
    // The judged one first: once its alert is out, the served answer
    // (captured before it) has long been through detection.
    let ev = m.wait_events(
        &format!("an alert for judged.example (dig pid {pid})"),
        WAIT,
        |ev| ev.iter().any(|e| is_alert_for(e, "judged.example")),
    )?;
    ensure!(
        ev.iter().any(
            |e| s(e, &["dns", "type"]).and_then(Value::as_str) == Some("answer")
                && s(e, &["dns", "question", "name"]).and_then(Value::as_str)
                    == Some("served.example")
                && s(e, &["dnssec_monitor", "served"]) == Some(&Value::Bool(true))
        ),
        "no answer event for served.example marked dnssec_monitor.served"
    );
    let served_alerts: Vec<&Value> = ev
        .iter()
        .filter(|e| is_alert_for(e, "served.example"))
        .collect();
    ensure!(
        served_alerts.is_empty(),
        "the served answer was judged: {served_alerts:?}"
    );
    let log = m.stop()?;
    let served = log
        .split([' ', ';'])
        .find_map(|t| t.strip_prefix("served="))
        .and_then(|v| v.parse::<u64>().ok());
    ensure!(
        served.is_some_and(|n| n >= 1),
        "served= in the exit report:\n{log}"
    );
    Ok(())
}
