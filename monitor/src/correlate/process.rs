//! Which process asked: joins a DNS message with what the kernel recorded.
//!
//! Two kernel maps, each read with a bpf(2) syscall, so both are cached:
//! * `SOCKETS`: socket cookie → the process that connected it or sent on
//!   it to a DNS port (sock_addr programs). A query the host sends carries
//!   its socket's cookie in the ring record (tc egress, the skb still owns
//!   its socket), so a query is joined by cookie: cookie → process is kept
//!   here ([`ProcessTable::lookup`]) and the map is read again only for a
//!   new cookie or once per [`COOKIE_REFRESH`] per cookie. A cookie is
//!   unique per boot (the kernel never hands it to another socket), so an
//!   entry never describes the wrong socket; it can only be up to a
//!   refresh interval late when the kernel's record of the socket changes
//!   (another thread or a forked child sending on it, seen by the
//!   sock_addr programs): a socket handed to another process is
//!   re-attributed within [`COOKIE_REFRESH`] of the kernel noticing.
//! * `FLOWS`: the query's client→server 4-tuple → the process that sent
//!   it (cgroup_skb program, before the packet left its socket). For what
//!   carries no usable cookie: answers (their cookie, where there is one,
//!   is the server's socket), packets forwarded from another network
//!   namespace (a container's: the skb lost its socket crossing the veth),
//!   and sockets `SOCKETS` does not know.
//!
//! Queries and answers both carry the client and server of the exchange,
//! so both use the client→server key. The kernel map is an LRU that a
//! busy host may cycle quickly, so every process found for a query is also
//! kept here for a while: its answer gets the process even when the kernel
//! entry is gone.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use monitor_common::{FAMILY_V4, FAMILY_V6, FlowKey, PROTO_TCP, PROTO_UDP, ProcInfo};

use crate::capture::cgroup::ContainerResolver;
use crate::event::ProcessInfo;

/// foldhash instead of SipHash: these maps are hit several times per DNS
/// message (measured: SipHash was ~5% of the agent under load); a
/// per-process random seed keeps flooding attacks on bucket order out.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Where kernel process records come from (the BPF maps, or a fake in
/// tests). Every call is a syscall in production.
pub trait KernelSource {
    /// `FLOWS`: the process that sent packets with this 4-tuple.
    fn flow(&self, key: &FlowKey) -> Option<ProcInfo>;
    /// `SOCKETS`: the process recorded for the socket with this cookie.
    fn socket(&self, cookie: u64) -> Option<ProcInfo>;
}

impl KernelSource for crate::capture::ebpf::ProcessMaps {
    fn flow(&self, key: &FlowKey) -> Option<ProcInfo> {
        crate::capture::ebpf::ProcessMaps::flow(self, key)
    }

    fn socket(&self, cookie: u64) -> Option<ProcInfo> {
        crate::capture::ebpf::ProcessMaps::socket(self, cookie)
    }
}

/// Transport of the exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Udp,
    Tcp,
}

/// Writes `ip` in place as the kernel programs key addresses (IPv4 in the
/// first 4 bytes, the rest untouched, so zero in a fresh key); returns its
/// family. Built once per message: no temporaries.
#[inline(always)]
pub fn put_kernel_addr(out: &mut [u8; 16], ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(a) => {
            out[..4].copy_from_slice(&a.octets());
            FAMILY_V4
        }
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            // A v4-mapped address is IPv4 on the wire.
            Some(v4) => {
                out[..4].copy_from_slice(&v4.octets());
                FAMILY_V4
            }
            None => {
                *out = a.octets();
                FAMILY_V6
            }
        },
    }
}

/// The kernel key for the client→server direction of an exchange.
pub fn flow_key(proto: Proto, client: SocketAddr, server: SocketAddr) -> FlowKey {
    let put = put_kernel_addr;
    let mut k = FlowKey {
        family: FAMILY_V4,
        proto: match proto {
            Proto::Udp => PROTO_UDP,
            Proto::Tcp => PROTO_TCP,
        },
        _pad: [0; 2],
        src_port: client.port(),
        dst_port: server.port(),
        src_addr: [0; 16],
        dst_addr: [0; 16],
    };
    k.family = put(&mut k.src_addr, client.ip());
    put(&mut k.dst_addr, server.ip());
    k
}

/// How long a query's process is remembered for its answer; also the age
/// at which cookies no query used are forgotten (two generations).
const REMEMBER: Duration = Duration::from_secs(30);
/// Bound on remembered exchanges per generation.
const CACHE_MAX: usize = 65_536;
/// How long what `SOCKETS` said about a cookie is used without asking
/// again (see the module documentation).
pub const COOKIE_REFRESH: Duration = Duration::from_secs(1);
/// Bound on cached cookies per generation (sockets that sent queries in
/// the last [`REMEMBER`]; the kernel map holds 65,536).
const COOKIE_MAX: usize = 16_384;

/// Counters of the join: every message is counted in exactly one of
/// `found_cookie`, `found_kernel`, `found_cache` and `not_found`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessStats {
    /// Queries joined by their socket cookie without a syscall.
    pub found_cookie: u64,
    /// Messages joined by a kernel map lookup (`SOCKETS` or `FLOWS`).
    pub found_kernel: u64,
    /// Messages joined with a remembered query (answers, mostly).
    pub found_cache: u64,
    pub not_found: u64,
    /// bpf(2) map lookups made, found or not: the syscall cost of the join.
    pub map_lookups: u64,
}

/// What `SOCKETS` said about one cookie, and when.
struct CookieEntry {
    /// The kernel's record, to tell a change from a refresh.
    info: Option<ProcInfo>,
    process: Option<Arc<ProcessInfo>>,
    checked: Instant,
}

/// Two generations of a bounded map: lookups see both; the old one is
/// dropped when the current one is older than REMEMBER or full. No
/// per-entry timers.
struct Generations<K, V> {
    current: HashMap<K, V>,
    previous: HashMap<K, V>,
    max: usize,
    rotated: Instant,
}

impl<K: std::hash::Hash + Eq, V> Generations<K, V> {
    fn new(max: usize, now: Instant) -> Self {
        Generations {
            current: HashMap::default(),
            previous: HashMap::default(),
            max,
            rotated: now,
        }
    }

    fn get(&self, k: &K) -> Option<&V> {
        self.current.get(k).or_else(|| self.previous.get(k))
    }

    fn rotate(&mut self, now: Instant) {
        self.previous = std::mem::take(&mut self.current);
        self.rotated = now;
    }

    fn maybe_rotate(&mut self, now: Instant) {
        if now.saturating_duration_since(self.rotated) >= REMEMBER {
            self.rotate(now);
        }
    }

    /// Room for `k` in the current generation (rotating if it is full).
    fn make_room(&mut self, k: &K, now: Instant) {
        if self.current.len() >= self.max && !self.current.contains_key(k) {
            self.rotate(now);
        }
    }
}

pub struct ProcessTable<K> {
    kernel: K,
    containers: Option<ContainerResolver>,
    own_pid: u32,
    /// Client→server 4-tuple → the process of its last query.
    flows: Generations<FlowKey, Arc<ProcessInfo>>,
    /// Socket cookie → what `SOCKETS` said.
    cookies: Generations<u64, CookieEntry>,
    stats: ProcessStats,
}

impl<K: KernelSource> ProcessTable<K> {
    pub fn new(kernel: K, containers: Option<ContainerResolver>) -> Self {
        let now = Instant::now();
        ProcessTable {
            kernel,
            containers,
            own_pid: std::process::id(),
            flows: Generations::new(CACHE_MAX, now),
            cookies: Generations::new(COOKIE_MAX, now),
            stats: ProcessStats::default(),
        }
    }

    /// The process of the exchange between `client` and `server`;
    /// `cookie` is the socket cookie of the packet's sender, if the ring
    /// record had one. A query with a cookie is joined by cookie (see the
    /// module documentation); otherwise, for a query the kernel's 4-tuple
    /// record is freshest (a 4-tuple can be reused by another process),
    /// for an answer the remembered query wins. `now` may be a little
    /// stale (one per batch of messages).
    pub fn lookup(
        &mut self,
        proto: Proto,
        client: SocketAddr,
        server: SocketAddr,
        is_query: bool,
        cookie: Option<u64>,
        now: Instant,
    ) -> Option<Arc<ProcessInfo>> {
        self.flows.maybe_rotate(now);
        self.cookies.maybe_rotate(now);
        let key = flow_key(proto, client, server);
        if is_query {
            // An answer's cookie is the server's socket: never used.
            if let Some(p) = cookie.and_then(|c| self.by_cookie(c, now)) {
                self.remember(key, &p, now);
                return Some(p);
            }
        } else if let Some(p) = self.flows.get(&key) {
            self.stats.found_cache += 1;
            return Some(p.clone());
        }
        self.stats.map_lookups += 1;
        if let Some(info) = self.kernel.flow(&key) {
            self.stats.found_kernel += 1;
            let p = Arc::new(self.process_of(&info));
            self.remember(key, &p, now);
            return Some(p);
        }
        if let Some(p) = self.flows.get(&key) {
            self.stats.found_cache += 1;
            return Some(p.clone());
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

    /// The process of the socket `cookie` (counted when found); `None`
    /// when `SOCKETS` does not know it (the caller goes on by 4-tuple).
    fn by_cookie(&mut self, cookie: u64, now: Instant) -> Option<Arc<ProcessInfo>> {
        let known = self.cookies.get(&cookie);
        if let Some(e) = known
            && now.saturating_duration_since(e.checked) < COOKIE_REFRESH
        {
            let p = e.process.clone();
            if p.is_some() {
                self.stats.found_cookie += 1;
            }
            return p;
        }
        let (old_info, old_process) = known.map_or((None, None), |e| (e.info, e.process.clone()));
        self.stats.map_lookups += 1;
        let info = self.kernel.socket(cookie);
        let process = match info {
            // Unchanged: keep sharing the value the events already hold.
            Some(i) if old_info == Some(i) => old_process,
            Some(i) => Some(Arc::new(self.process_of(&i))),
            None => None,
        };
        self.cookies.make_room(&cookie, now);
        self.cookies.current.insert(
            cookie,
            CookieEntry {
                info,
                process: process.clone(),
                checked: now,
            },
        );
        if process.is_some() {
            self.stats.found_kernel += 1;
        }
        process
    }

    /// Keep `p` as the process of the query on `key`, for its answer.
    fn remember(&mut self, key: FlowKey, p: &Arc<ProcessInfo>, now: Instant) {
        self.flows.make_room(&key, now);
        match self.flows.current.entry(key) {
            // The same socket asking again: nothing to write or drop.
            std::collections::hash_map::Entry::Occupied(o) if Arc::ptr_eq(o.get(), p) => {}
            std::collections::hash_map::Entry::Occupied(mut o) => {
                o.insert(p.clone());
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(p.clone());
            }
        }
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
impl<K> ProcessTable<K> {
    /// A smaller cookie bound, to see eviction.
    fn with_cookie_max(mut self, max: usize) -> Self {
        self.cookies.max = max;
        self
    }
}

#[cfg(test)]
#[path = "process_tests.rs"]
mod tests;
