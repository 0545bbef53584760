//! Which process asked: joins a DNS message's 4-tuple with what the kernel
//! recorded (`FLOWS`: the query's client→server tuple → the process that
//! sent it, written by the cgroup_skb program before the packet left its
//! socket).
//!
//! Queries and answers both carry the client and server of the exchange,
//! so both look up the client→server key. The kernel map is an LRU that a
//! busy host may cycle quickly, so every process found for a query is also
//! kept here for a while: its answer gets the process even when the kernel
//! entry is gone.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use monitor_common::{FAMILY_V4, FAMILY_V6, FlowKey, PROTO_TCP, PROTO_UDP, ProcInfo};

use crate::capture::cgroup::ContainerResolver;
use crate::event::ProcessInfo;

/// foldhash instead of SipHash: these maps are hit several times per DNS
/// message (measured: SipHash was ~5% of the agent under load); a
/// per-process random seed keeps flooding attacks on bucket order out.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Where kernel flow records come from (the BPF map, or a fake in tests).
pub trait FlowSource {
    fn get(&self, key: &FlowKey) -> Option<ProcInfo>;
}

impl FlowSource for crate::capture::ebpf::FlowsMap {
    fn get(&self, key: &FlowKey) -> Option<ProcInfo> {
        crate::capture::ebpf::FlowsMap::get(self, key)
    }
}

/// Transport of the exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Udp,
    Tcp,
}

/// The kernel key for the client→server direction of an exchange.
pub fn flow_key(proto: Proto, client: SocketAddr, server: SocketAddr) -> FlowKey {
    fn addr(ip: IpAddr) -> (u8, [u8; 16]) {
        match ip {
            IpAddr::V4(a) => {
                let mut b = [0; 16];
                b[..4].copy_from_slice(&a.octets());
                (FAMILY_V4, b)
            }
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                // A v4-mapped address is IPv4 on the wire.
                Some(v4) => addr(IpAddr::V4(v4)),
                None => (FAMILY_V6, a.octets()),
            },
        }
    }
    let (family, src_addr) = addr(client.ip());
    let (_, dst_addr) = addr(server.ip());
    FlowKey {
        family,
        proto: match proto {
            Proto::Udp => PROTO_UDP,
            Proto::Tcp => PROTO_TCP,
        },
        _pad: [0; 2],
        src_port: client.port(),
        dst_port: server.port(),
        src_addr,
        dst_addr,
    }
}

/// How long a query's process is remembered for its answer.
const REMEMBER: Duration = Duration::from_secs(30);
/// Bound on remembered exchanges per generation.
const CACHE_MAX: usize = 65_536;

/// Counters of the join.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessStats {
    pub found_kernel: u64,
    pub found_cache: u64,
    pub not_found: u64,
}

pub struct ProcessTable<F> {
    flows: F,
    containers: Option<ContainerResolver>,
    own_pid: u32,
    /// Two generations: lookups see both; the old one is dropped when the
    /// current one is older than REMEMBER or full. Bounded, no per-entry
    /// timers.
    current: HashMap<FlowKey, ProcessInfo>,
    previous: HashMap<FlowKey, ProcessInfo>,
    rotated: Instant,
    stats: ProcessStats,
}

impl<F: FlowSource> ProcessTable<F> {
    pub fn new(flows: F, containers: Option<ContainerResolver>) -> Self {
        ProcessTable {
            flows,
            containers,
            own_pid: std::process::id(),
            current: HashMap::default(),
            previous: HashMap::default(),
            rotated: Instant::now(),
            stats: ProcessStats::default(),
        }
    }

    /// The process of the exchange between `client` and `server`. For a
    /// query the kernel record is freshest (a 4-tuple can be reused by
    /// another process); for an answer the remembered query wins.
    pub fn lookup(
        &mut self,
        proto: Proto,
        client: SocketAddr,
        server: SocketAddr,
        is_query: bool,
        now: Instant,
    ) -> Option<ProcessInfo> {
        self.maybe_rotate(now);
        let key = flow_key(proto, client, server);
        if !is_query && let Some(p) = self.cached(&key) {
            self.stats.found_cache += 1;
            return Some(p);
        }
        if let Some(info) = self.flows.get(&key) {
            self.stats.found_kernel += 1;
            let p = self.process_of(&info);
            if self.current.len() >= CACHE_MAX {
                self.rotate(now);
            }
            self.current.insert(key, p.clone());
            return Some(p);
        }
        if let Some(p) = self.cached(&key) {
            self.stats.found_cache += 1;
            return Some(p);
        }
        self.stats.not_found += 1;
        None
    }

    /// Whether `p` is this monitor (its own resolver's queries).
    pub fn is_own(&self, p: &ProcessInfo) -> bool {
        p.pid == self.own_pid
    }

    pub fn stats(&self) -> ProcessStats {
        self.stats
    }

    fn cached(&self, key: &FlowKey) -> Option<ProcessInfo> {
        self.current
            .get(key)
            .or_else(|| self.previous.get(key))
            .cloned()
    }

    fn maybe_rotate(&mut self, now: Instant) {
        if now.saturating_duration_since(self.rotated) >= REMEMBER {
            self.rotate(now);
        }
    }

    fn rotate(&mut self, now: Instant) {
        self.previous = std::mem::take(&mut self.current);
        self.rotated = now;
    }

    fn process_of(&mut self, info: &ProcInfo) -> ProcessInfo {
        let container_id = self
            .containers
            .as_mut()
            .and_then(|c| c.resolve(info.cgroup_id, info.tgid));
        ProcessInfo {
            pid: info.tgid,
            tid: info.tid,
            uid: info.uid,
            name: info.comm_str().to_owned(),
            cgroup_id: info.cgroup_id,
            container_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[derive(Default)]
    struct Fake(RefCell<HashMap<FlowKey, ProcInfo>>);

    impl FlowSource for &Fake {
        fn get(&self, key: &FlowKey) -> Option<ProcInfo> {
            self.0.borrow().get(key).copied()
        }
    }

    fn info(pid: u32, comm: &str) -> ProcInfo {
        let mut c = [0u8; 16];
        c[..comm.len()].copy_from_slice(comm.as_bytes());
        ProcInfo {
            tgid: pid,
            tid: pid + 1,
            uid: 1000,
            gid: 1000,
            cgroup_id: 0,
            comm: c,
        }
    }

    const CLIENT: &str = "198.18.0.2:40000";
    const SERVER: &str = "198.18.1.1:53";

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn key_layout() {
        let k = flow_key(Proto::Udp, sa(CLIENT), sa(SERVER));
        assert_eq!(
            (k.family, k.proto, k.src_port, k.dst_port),
            (FAMILY_V4, PROTO_UDP, 40000, 53)
        );
        assert_eq!(&k.src_addr[..5], &[198, 18, 0, 2, 0]);
        let k6 = flow_key(Proto::Tcp, sa("[fd00::2]:1"), sa("[fd00::1]:53"));
        assert_eq!((k6.family, k6.proto), (FAMILY_V6, PROTO_TCP));
        // v4-mapped is IPv4 on the wire.
        let km = flow_key(
            Proto::Udp,
            sa("[::ffff:198.18.0.2]:40000"),
            sa("[::ffff:198.18.1.1]:53"),
        );
        assert_eq!(km, k);
    }

    #[test]
    fn query_and_answer_get_the_process_even_after_kernel_eviction() {
        let fake = Fake::default();
        let key = flow_key(Proto::Udp, sa(CLIENT), sa(SERVER));
        fake.0.borrow_mut().insert(key, info(42, "dig"));
        let mut t = ProcessTable::new(&fake, None);
        let now = Instant::now();
        let q = t
            .lookup(Proto::Udp, sa(CLIENT), sa(SERVER), true, now)
            .unwrap();
        assert_eq!((q.pid, q.tid, q.name.as_str()), (42, 43, "dig"));
        fake.0.borrow_mut().clear();
        let a = t
            .lookup(Proto::Udp, sa(CLIENT), sa(SERVER), false, now)
            .unwrap();
        assert_eq!(a, q);
        assert_eq!(t.stats().found_cache, 1);
        // Another transport or port is another exchange.
        assert_eq!(
            t.lookup(Proto::Tcp, sa(CLIENT), sa(SERVER), false, now),
            None
        );
        assert_eq!(
            t.lookup(Proto::Udp, sa("198.18.0.2:40001"), sa(SERVER), false, now),
            None
        );
        assert_eq!(t.stats().not_found, 2);
    }

    #[test]
    fn remembered_queries_expire() {
        let fake = Fake::default();
        let key = flow_key(Proto::Udp, sa(CLIENT), sa(SERVER));
        fake.0.borrow_mut().insert(key, info(42, "dig"));
        let mut t = ProcessTable::new(&fake, None);
        let now = Instant::now();
        t.lookup(Proto::Udp, sa(CLIENT), sa(SERVER), true, now);
        fake.0.borrow_mut().clear();
        // One rotation keeps it (previous generation) ...
        let later = now + REMEMBER;
        assert!(
            t.lookup(Proto::Udp, sa(CLIENT), sa(SERVER), false, later)
                .is_some()
        );
        // ... two drop it.
        let much_later = later + REMEMBER;
        assert!(
            t.lookup(Proto::Udp, sa(CLIENT), sa(SERVER), false, much_later)
                .is_none()
        );
    }

    #[test]
    fn reused_tuple_query_prefers_kernel() {
        let fake = Fake::default();
        let key = flow_key(Proto::Udp, sa(CLIENT), sa(SERVER));
        fake.0.borrow_mut().insert(key, info(42, "dig"));
        let mut t = ProcessTable::new(&fake, None);
        let now = Instant::now();
        t.lookup(Proto::Udp, sa(CLIENT), sa(SERVER), true, now);
        fake.0.borrow_mut().insert(key, info(77, "curl"));
        let q = t
            .lookup(Proto::Udp, sa(CLIENT), sa(SERVER), true, now)
            .unwrap();
        assert_eq!(q.pid, 77);
        let a = t
            .lookup(Proto::Udp, sa(CLIENT), sa(SERVER), false, now)
            .unwrap();
        assert_eq!(a.pid, 77);
    }

    #[test]
    fn own_pid_recognised() {
        let fake = Fake::default();
        let t = ProcessTable::new(&fake, None);
        let me = ProcessInfo {
            pid: std::process::id(),
            tid: 0,
            uid: 0,
            name: "dnssec-monitor".into(),
            cgroup_id: 0,
            container_id: None,
        };
        assert!(t.is_own(&me));
        assert!(!t.is_own(&ProcessInfo {
            pid: me.pid + 1,
            ..me.clone()
        }));
    }
}
