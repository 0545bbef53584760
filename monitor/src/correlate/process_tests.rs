use super::*;
use std::cell::{Cell, RefCell};

/// The kernel maps, counting lookups (each a syscall in production).
#[derive(Default)]
struct Fake {
    flows: RefCell<HashMap<FlowKey, ProcInfo>>,
    sockets: RefCell<HashMap<u64, ProcInfo>>,
    flow_calls: Cell<u64>,
    socket_calls: Cell<u64>,
}

impl KernelSource for &Fake {
    fn flow(&self, key: &FlowKey) -> Option<ProcInfo> {
        self.flow_calls.set(self.flow_calls.get() + 1);
        self.flows.borrow().get(key).copied()
    }

    fn socket(&self, cookie: u64) -> Option<ProcInfo> {
        self.socket_calls.set(self.socket_calls.get() + 1);
        self.sockets.borrow().get(&cookie).copied()
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
/// The client's socket and the server's.
const COOKIE: u64 = 7;
const SERVER_COOKIE: u64 = 9;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn key() -> FlowKey {
    flow_key(Proto::Udp, sa(CLIENT), sa(SERVER))
}

/// A query of CLIENT to SERVER sent by the socket `cookie`.
fn query<K: KernelSource>(
    t: &mut ProcessTable<K>,
    cookie: Option<u64>,
    now: Instant,
) -> Option<Arc<ProcessInfo>> {
    t.lookup(Proto::Udp, sa(CLIENT), sa(SERVER), true, cookie, now)
}

/// Its answer, sent by the server's socket.
fn answer<K: KernelSource>(t: &mut ProcessTable<K>, now: Instant) -> Option<Arc<ProcessInfo>> {
    t.lookup(
        Proto::Udp,
        sa(CLIENT),
        sa(SERVER),
        false,
        Some(SERVER_COOKIE),
        now,
    )
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
    fake.flows.borrow_mut().insert(key(), info(42, "dig"));
    let mut t = ProcessTable::new(&fake, None);
    let now = Instant::now();
    let q = query(&mut t, None, now).unwrap();
    assert_eq!((q.pid, q.tid, q.name.as_str()), (42, 43, "dig"));
    fake.flows.borrow_mut().clear();
    let a = answer(&mut t, now).unwrap();
    assert_eq!(a, q);
    assert_eq!(t.stats().found_cache, 1);
    // Another transport or port is another exchange.
    assert_eq!(
        t.lookup(Proto::Tcp, sa(CLIENT), sa(SERVER), false, None, now),
        None
    );
    assert_eq!(
        t.lookup(
            Proto::Udp,
            sa("198.18.0.2:40001"),
            sa(SERVER),
            false,
            None,
            now
        ),
        None
    );
    assert_eq!(t.stats().not_found, 2);
}

#[test]
fn remembered_queries_expire() {
    let fake = Fake::default();
    fake.flows.borrow_mut().insert(key(), info(42, "dig"));
    let mut t = ProcessTable::new(&fake, None);
    let now = Instant::now();
    query(&mut t, None, now);
    fake.flows.borrow_mut().clear();
    // One rotation keeps it (previous generation) ...
    let later = now + REMEMBER;
    assert!(answer(&mut t, later).is_some());
    // ... two drop it.
    let much_later = later + REMEMBER;
    assert!(answer(&mut t, much_later).is_none());
}

#[test]
fn reused_tuple_query_prefers_kernel() {
    let fake = Fake::default();
    fake.flows.borrow_mut().insert(key(), info(42, "dig"));
    let mut t = ProcessTable::new(&fake, None);
    let now = Instant::now();
    query(&mut t, None, now);
    fake.flows.borrow_mut().insert(key(), info(77, "curl"));
    assert_eq!(query(&mut t, None, now).unwrap().pid, 77);
    assert_eq!(answer(&mut t, now).unwrap().pid, 77);
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

#[test]
fn cookie_hit_costs_no_syscall_and_shares_the_value() {
    let fake = Fake::default();
    fake.sockets.borrow_mut().insert(COOKIE, info(42, "dig"));
    let mut t = ProcessTable::new(&fake, None);
    let now = Instant::now();
    let first = query(&mut t, Some(COOKIE), now).unwrap();
    assert_eq!((first.pid, first.name.as_str()), (42, "dig"));
    for _ in 0..3 {
        let again = query(&mut t, Some(COOKIE), now).unwrap();
        assert!(Arc::ptr_eq(&again, &first));
    }
    // One SOCKETS lookup, never FLOWS.
    assert_eq!((fake.socket_calls.get(), fake.flow_calls.get()), (1, 0));
    let s = t.stats();
    assert_eq!((s.found_kernel, s.found_cookie, s.map_lookups), (1, 3, 1));
}

#[test]
fn answer_joins_the_query_not_its_own_cookie() {
    let fake = Fake::default();
    fake.sockets.borrow_mut().insert(COOKIE, info(42, "dig"));
    // The server's socket is known too (it sends its own queries
    // upstream): an answer's cookie must not attribute it to the server.
    fake.sockets
        .borrow_mut()
        .insert(SERVER_COOKIE, info(53, "unbound"));
    let mut t = ProcessTable::new(&fake, None);
    let now = Instant::now();
    let q = query(&mut t, Some(COOKIE), now).unwrap();
    let a = answer(&mut t, now).unwrap();
    assert!(Arc::ptr_eq(&a, &q));
    assert_eq!(a.pid, 42);
    assert_eq!(fake.socket_calls.get(), 1);
    assert_eq!((t.stats().found_cache, t.stats().map_lookups), (1, 1));
}

#[test]
fn unknown_cookie_goes_by_four_tuple() {
    let fake = Fake::default();
    fake.flows.borrow_mut().insert(key(), info(42, "dig"));
    let mut t = ProcessTable::new(&fake, None);
    let now = Instant::now();
    assert_eq!(query(&mut t, Some(COOKIE), now).unwrap().pid, 42);
    assert_eq!((fake.socket_calls.get(), fake.flow_calls.get()), (1, 1));
    // What SOCKETS said (nothing) holds for the refresh interval: FLOWS
    // alone is asked, as for a packet without a cookie.
    assert_eq!(query(&mut t, Some(COOKIE), now).unwrap().pid, 42);
    assert_eq!((fake.socket_calls.get(), fake.flow_calls.get()), (1, 2));
    // Nowhere at all: not found, and every message counted once.
    fake.flows.borrow_mut().clear();
    assert!(
        t.lookup(
            Proto::Udp,
            sa("198.18.0.3:1"),
            sa(SERVER),
            true,
            Some(11),
            now
        )
        .is_none()
    );
    let s = t.stats();
    assert_eq!(
        (s.found_cookie, s.found_kernel, s.found_cache, s.not_found),
        (0, 2, 0, 1)
    );
    assert_eq!(s.map_lookups, 5);
}

#[test]
fn no_cookie_goes_by_four_tuple() {
    let fake = Fake::default();
    // SOCKETS knows a cookie, but this packet carries none (forwarded
    // from a container): FLOWS decides.
    fake.sockets.borrow_mut().insert(COOKIE, info(1, "other"));
    fake.flows.borrow_mut().insert(key(), info(42, "dig"));
    let mut t = ProcessTable::new(&fake, None);
    let now = Instant::now();
    assert_eq!(query(&mut t, None, now).unwrap().pid, 42);
    assert_eq!(query(&mut t, None, now).unwrap().pid, 42);
    assert_eq!((fake.socket_calls.get(), fake.flow_calls.get()), (0, 2));
    assert_eq!(t.stats().found_kernel, 2);
}

#[test]
fn cookie_refreshed_after_the_interval() {
    let fake = Fake::default();
    fake.sockets.borrow_mut().insert(COOKIE, info(42, "sh"));
    let mut t = ProcessTable::new(&fake, None);
    let t0 = Instant::now();
    let first = query(&mut t, Some(COOKIE), t0).unwrap();
    // Unchanged at the refresh: asked again, same shared value.
    let same = query(&mut t, Some(COOKIE), t0 + COOKIE_REFRESH).unwrap();
    assert!(Arc::ptr_eq(&same, &first));
    assert_eq!(fake.socket_calls.get(), 2);
    // The socket passes to a forked child: within the interval the old
    // owner is still named, at its end the new one.
    fake.sockets.borrow_mut().insert(COOKIE, info(77, "child"));
    let t1 = t0 + COOKIE_REFRESH;
    assert_eq!(
        query(&mut t, Some(COOKIE), t1 + COOKIE_REFRESH / 2)
            .unwrap()
            .pid,
        42
    );
    assert_eq!(fake.socket_calls.get(), 2);
    let child = query(&mut t, Some(COOKIE), t1 + COOKIE_REFRESH).unwrap();
    assert_eq!((child.pid, child.name.as_str()), (77, "child"));
    assert_eq!(fake.socket_calls.get(), 3);
    // Its answer follows the new owner.
    assert_eq!(answer(&mut t, t1 + COOKIE_REFRESH).unwrap().pid, 77);
    // Forgotten by the kernel since: FLOWS (empty) then the remembered
    // query decide.
    fake.sockets.borrow_mut().clear();
    let t2 = t1 + 2 * COOKIE_REFRESH;
    assert_eq!(query(&mut t, Some(COOKIE), t2).unwrap().pid, 77);
    assert_eq!((fake.socket_calls.get(), fake.flow_calls.get()), (4, 1));
}

#[test]
fn cookie_cache_is_bounded_oldest_generation_dropped() {
    let fake = Fake::default();
    for c in 1..=5 {
        fake.sockets
            .borrow_mut()
            .insert(c, info(100 + c as u32, "p"));
    }
    let mut t = ProcessTable::new(&fake, None).with_cookie_max(2);
    let now = Instant::now();
    let ask = |t: &mut ProcessTable<&Fake>, c: u64| {
        let client = SocketAddr::new(sa(CLIENT).ip(), 40_000 + c as u16);
        t.lookup(Proto::Udp, client, sa(SERVER), true, Some(c), now)
            .unwrap()
            .pid
    };
    // 1 2 | 3 4 | 5: each full generation pushes out the one before.
    for c in 1..=5 {
        assert_eq!(ask(&mut t, c), 100 + c as u32);
    }
    assert_eq!(fake.socket_calls.get(), 5);
    assert!(t.cookies.current.len() + t.cookies.previous.len() <= 4);
    // 3, 4 (previous) and 5 (current) are still known ...
    for c in 3..=5 {
        ask(&mut t, c);
    }
    assert_eq!(fake.socket_calls.get(), 5);
    // ... 1 was dropped: asked again, within the refresh interval.
    assert_eq!(ask(&mut t, 1), 101);
    assert_eq!(fake.socket_calls.get(), 6);
}

#[test]
fn cookies_no_query_used_are_forgotten() {
    let fake = Fake::default();
    fake.sockets.borrow_mut().insert(COOKIE, info(42, "dig"));
    let mut t = ProcessTable::new(&fake, None);
    let now = Instant::now();
    query(&mut t, Some(COOKIE), now);
    let later = now + 2 * REMEMBER;
    // Two rotations later (no query in between) the entry is gone: the
    // table does not grow with every socket that ever asked.
    t.lookup(
        Proto::Udp,
        sa(CLIENT),
        sa(SERVER),
        false,
        None,
        now + REMEMBER,
    );
    t.lookup(Proto::Udp, sa(CLIENT), sa(SERVER), false, None, later);
    assert!(t.cookies.get(&COOKIE).is_none());
}
