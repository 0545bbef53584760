//! Process attribution on the cgroup v2 root.
//!
//! `try_record` (cgroup/connect4|6, cgroup/sendmsg4|6) runs in the calling
//! task's context: it stores socket cookie → pid/tid/uid/gid/comm/cgroup
//! for sockets that talk to a DNS port. `try_flow` (cgroup_skb/egress)
//! runs as each packet leaves its socket, before any veth or netns
//! crossing orphans the skb: it stores the packet's 4-tuple → that process,
//! which user space joins to the packets the tc programs capture.

use aya_ebpf::{
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_current_uid_gid,
        bpf_probe_read_kernel,
        generated::{bpf_get_current_cgroup_id, bpf_get_current_task, bpf_get_socket_cookie},
    },
    programs::{SkBuffContext, SockAddrContext},
};
use monitor_common::{FAMILY_V4, FlowKey, ProcInfo, config, counter};

use crate::maps::{FLOWS, SOCKETS, bump, config as cfg, is_dns_port};
use crate::parse::{ETH_P_IP, ETH_P_IPV6, Pkt, parse_ip, ports};

/// `LOOPBACK_IFINDEX` (include/net/flow.h).
const LOOPBACK_IFINDEX: u32 = 1;

#[inline(always)]
pub fn try_record(ctx: &SockAddrContext) -> Option<()> {
    let sa = ctx.sock_addr;
    // user_port: the destination port, network byte order in the low half.
    // SAFETY: context field read.
    let port = u16::from_be(unsafe { (*sa).user_port } as u16);
    if !is_dns_port(port) {
        return None;
    }
    let pid_tgid = bpf_get_current_pid_tgid();
    // SAFETY: helper valid in sock_addr programs.
    let cookie = unsafe { bpf_get_socket_cookie(sa as *mut _) };
    // A stub sending query after query on one socket: already recorded,
    // skip the (costly) LRU update.
    // SAFETY: fields copied out at once.
    if let Some(old) = unsafe { SOCKETS.get(cookie) }
        && old.tgid == (pid_tgid >> 32) as u32
        && old.tid == pid_tgid as u32
    {
        return Some(());
    }
    let uid_gid = bpf_get_current_uid_gid();
    let comm = process_comm();
    // SAFETY: helper valid in sock_addr programs.
    let cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    let info = ProcInfo {
        tgid: (pid_tgid >> 32) as u32,
        tid: pid_tgid as u32,
        uid: uid_gid as u32,
        gid: (uid_gid >> 32) as u32,
        cgroup_id,
        comm,
    };
    if SOCKETS.insert(cookie, info, 0).is_ok() {
        bump(counter::SOCKETS_RECORDED);
    }
    Some(())
}

/// The process name: the thread-group leader's `comm` (a resolver library
/// thread is often renamed, e.g. dig's `isc-net-0000`), read at the offsets
/// user space found in the kernel's BTF; the thread's own `comm` otherwise.
#[inline(always)]
fn process_comm() -> [u8; 16] {
    let thread = bpf_get_current_comm().unwrap_or([0; 16]);
    if cfg(config::OFFSETS_VALID) == 0 {
        return thread;
    }
    let gl = cfg(config::GROUP_LEADER_OFF) as usize;
    let co = cfg(config::COMM_OFF) as usize;
    // SAFETY: probe reads of kernel memory; a fault yields Err, not a crash.
    unsafe {
        let task = bpf_get_current_task() as *const u8;
        let Ok(leader) = bpf_probe_read_kernel(task.add(gl) as *const *const u8) else {
            return thread;
        };
        bpf_probe_read_kernel(leader.add(co) as *const [u8; 16]).unwrap_or(thread)
    }
}

#[inline(always)]
pub fn try_flow(ctx: &SkBuffContext) -> Option<()> {
    let skb = ctx.skb.skb;
    // A packet leaving through a `lo` (ifindex 1 in every network
    // namespace; `skb->dev` is the output device here, set by ip_output /
    // ip6_output before the cgroup egress hook) never crosses a veth or a
    // netns: on the host's `lo` the tc program captures it with its socket
    // cookie, on a container's nothing captures it (see below). One load
    // instead of parsing every local packet: measured ~10% of the
    // program's runs' cost at the bench's maximum rate.
    // SAFETY: context field read.
    if unsafe { (*skb).ifindex } == LOOPBACK_IFINDEX {
        bump(counter::FLOWS_LOOPBACK);
        return None;
    }
    // SAFETY: context field read.
    let proto = u16::from_be(unsafe { (*skb).protocol } as u16);
    if proto != ETH_P_IP && proto != ETH_P_IPV6 {
        return None;
    }
    // cgroup_skb data starts at the network header.
    let pkt = Pkt::new(skb);
    let l4 = parse_ip(&pkt, 0, proto)?;
    if l4.nonfirst {
        return None;
    }
    let (src_port, dst_port) = ports(&pkt, l4.l4_off)?;
    // Queries only: the client's socket is the one we attribute.
    if !is_dns_port(dst_port) {
        return None;
    }
    let mut key = FlowKey {
        family: l4.family,
        proto: l4.proto,
        _pad: [0; 2],
        src_port,
        dst_port,
        src_addr: [0; 16],
        dst_addr: [0; 16],
    };
    if l4.family == FAMILY_V4 {
        let a: [u8; 8] = pkt.read(12)?;
        key.src_addr[..4].copy_from_slice(&a[..4]);
        key.dst_addr[..4].copy_from_slice(&a[4..]);
    } else {
        key.src_addr = pkt.read(8)?;
        key.dst_addr = pkt.read(24)?;
    }
    // A query to a loopback address leaves through `lo` of this network
    // namespace and nothing else: on the host's `lo` the tc program
    // captures it with its socket's cookie, which user space joins to
    // `SOCKETS` (correlate/process.rs, its answer then by the query's
    // remembered 4-tuple); on a container's `lo` nothing captures it. Its
    // 4-tuple record would never be read, and it cost two hash lookups
    // per query (most local DNS: stubs on 127.0.0.53, a local resolver).
    if is_loopback(l4.family, &key.dst_addr) {
        bump(counter::FLOWS_LOOPBACK);
        return None;
    }
    // SAFETY: helper valid in cgroup_skb programs.
    let cookie = unsafe { bpf_get_socket_cookie(skb as *mut _) };
    // SAFETY: the value is copied out before any other map operation.
    let Some(info) = (unsafe { SOCKETS.get(cookie) }).copied() else {
        bump(counter::FLOWS_UNKNOWN_SOCKET);
        return None;
    };
    // A stub sending query after query on one 4-tuple (a connected
    // socket, or a resolver library reusing its port): already recorded,
    // skip the LRU update, which takes the map's lock and costs several
    // times the lookup (kernel/bpf/bpf_lru_list.c).
    // SAFETY: fields copied out at once.
    if let Some(old) = unsafe { FLOWS.get(key) }
        && old.tgid == info.tgid
        && old.tid == info.tid
        && old.cgroup_id == info.cgroup_id
    {
        return Some(());
    }
    if FLOWS.insert(key, info, 0).is_ok() {
        bump(counter::FLOWS_RECORDED);
    }
    Some(())
}

/// 127.0.0.0/8 (RFC 1122 §3.2.1.3) or ::1 (RFC 4291 §2.5.3).
#[inline(always)]
fn is_loopback(family: u8, addr: &[u8; 16]) -> bool {
    if family == FAMILY_V4 {
        addr[0] == 127
    } else {
        let mut lo = [0u8; 16];
        lo[15] = 1;
        *addr == lo
    }
}
