//! Types shared by the kernel programs (`monitor-ebpf`) and the agent
//! (`monitor`). Everything here is `#[repr(C)]`, `Copy`, and free of
//! implicit padding so both sides agree on the layout byte for byte
//! (every struct's size is asserted below to equal the sum of its fields).
#![no_std]

/// Names of the maps and programs in the eBPF object, so user space and the
/// kernel side cannot drift apart.
pub mod names {
    pub const RING: &str = "PACKETS";
    pub const COUNTERS: &str = "COUNTERS";
    pub const DNS_PORTS: &str = "DNS_PORTS";
    pub const SOCKETS: &str = "SOCKETS";
    pub const FLOWS: &str = "FLOWS";
    pub const CONFIG: &str = "CONFIG";
    /// tc programs: one per (direction, link-layer kind), so the hot path
    /// needs no per-packet map lookup to learn either.
    pub const TC_INGRESS_ETH: &str = "tc_ingress_eth";
    pub const TC_EGRESS_ETH: &str = "tc_egress_eth";
    pub const TC_INGRESS_RAW: &str = "tc_ingress_raw";
    pub const TC_EGRESS_RAW: &str = "tc_egress_raw";
    /// Does nothing: the floor of a tc program's measured cost (dispatch
    /// and the statistics' own clock reads), for the kernel-cost bench.
    pub const TC_NOOP: &str = "tc_noop";
    pub const CONNECT4: &str = "sock_connect4";
    pub const CONNECT6: &str = "sock_connect6";
    pub const SENDMSG4: &str = "sock_sendmsg4";
    pub const SENDMSG6: &str = "sock_sendmsg6";
    pub const SKB_EGRESS: &str = "skb_egress";
}

/// Indices of the `CONFIG` array (u32 values, filled by user space from
/// the kernel's BTF before the programs run).
pub mod config {
    /// Byte offset of `task_struct.group_leader`.
    pub const GROUP_LEADER_OFF: u32 = 0;
    /// Byte offset of `task_struct.comm`.
    pub const COMM_OFF: u32 = 1;
    /// Non-zero when the two offsets above are valid.
    pub const OFFSETS_VALID: u32 = 2;
    pub const COUNT: u32 = 4;
}

/// Size of the `DNS_PORTS` array map: one byte per port, non-zero = DNS.
pub const DNS_PORTS_LEN: u32 = 65536;
/// Ring buffer size (bytes, a power of two multiple of the page size).
pub const RING_BYTES: u32 = 16 * 1024 * 1024;
/// Entries of the socket-cookie → process LRU map.
pub const SOCKETS_MAX: u32 = 65536;
/// Entries of the 4-tuple → process LRU map.
pub const FLOWS_MAX: u32 = 65536;

/// Packet size classes: a ring buffer reservation must have a size the
/// verifier knows, so each packet goes into the smallest class that holds
/// it (most queries fit the first). A packet longer than the largest class
/// is cut and flagged [`PKT_F_TRUNCATED`]; the largest holds a full
/// 65,535-byte DNS message with its TCP length prefix and headers.
pub const SIZE_CLASSES: [u32; 5] = [192, 512, 2048, 9216, 65536 + 256];
pub const MAX_CAPTURE: u32 = SIZE_CLASSES[4];

/// [`PacketHeader::direction`] values.
pub const DIR_INGRESS: u32 = 0;
pub const DIR_EGRESS: u32 = 1;

/// [`PacketHeader::flags`] bits.
/// The packet was longer than [`MAX_CAPTURE`]; only `cap_len` bytes follow.
pub const PKT_F_TRUNCATED: u32 = 1;
/// `socket_cookie` is valid (the skb still had its socket).
pub const PKT_F_HAS_COOKIE: u32 = 2;

/// Header of every ring-buffer record; `cap_len` packet bytes follow it,
/// starting at the link-layer header (or at the IP header when `l3_offset`
/// is 0).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketHeader {
    /// `bpf_ktime_get_ns()`: CLOCK_MONOTONIC nanoseconds.
    pub ktime_ns: u64,
    /// `bpf_get_socket_cookie(skb)`; 0 when the skb had no socket.
    pub socket_cookie: u64,
    pub ifindex: u32,
    /// [`DIR_INGRESS`] or [`DIR_EGRESS`].
    pub direction: u32,
    /// Length of the whole packet (`skb->len`).
    pub pkt_len: u32,
    /// Bytes of the packet that follow this header.
    pub cap_len: u32,
    /// Offset of the IP header in the captured bytes (0 on L3 devices).
    pub l3_offset: u32,
    /// `PKT_F_*` bits.
    pub flags: u32,
}

/// The process behind a socket, recorded when it connects or sends.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcInfo {
    /// Thread-group id: the pid users see.
    pub tgid: u32,
    /// The thread that called connect/sendmsg.
    pub tid: u32,
    pub uid: u32,
    pub gid: u32,
    /// cgroup v2 id of the task (inode number of its cgroup directory).
    pub cgroup_id: u64,
    /// The process name: `comm` of the thread-group leader (falls back to
    /// the calling thread's when the kernel's BTF was not available),
    /// NUL-padded.
    pub comm: [u8; 16],
}

impl ProcInfo {
    /// `comm` up to its first NUL, if it is UTF-8.
    pub fn comm_str(&self) -> &str {
        let end = self
            .comm
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.comm.len());
        core::str::from_utf8(&self.comm[..end]).unwrap_or("")
    }
}

/// [`FlowKey::family`] values (AF_INET / AF_INET6).
pub const FAMILY_V4: u8 = 2;
pub const FAMILY_V6: u8 = 10;
/// [`FlowKey::proto`] values (IPPROTO_TCP / IPPROTO_UDP).
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;

/// A transport 4-tuple as the sender sees it (source = the sending socket).
/// IPv4 addresses occupy the first 4 bytes of the 16-byte fields, the rest
/// is zero. Ports are in host byte order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub family: u8,
    pub proto: u8,
    pub _pad: [u8; 2],
    pub src_port: u16,
    pub dst_port: u16,
    pub src_addr: [u8; 16],
    pub dst_addr: [u8; 16],
}

impl FlowKey {
    /// The key of the packets flowing the other way.
    pub fn reversed(&self) -> FlowKey {
        FlowKey {
            family: self.family,
            proto: self.proto,
            _pad: [0; 2],
            src_port: self.dst_port,
            dst_port: self.src_port,
            src_addr: self.dst_addr,
            dst_addr: self.src_addr,
        }
    }
}

/// Indices of the per-CPU `COUNTERS` array.
pub mod counter {
    /// Packets the tc programs looked at.
    pub const SEEN: u32 = 0;
    /// DNS packets (or UDP fragments) written to the ring buffer.
    pub const SENT: u32 = 1;
    /// Of those, packets longer than the largest size class (cut).
    pub const TRUNCATED: u32 = 2;
    /// DNS packets lost because the ring buffer was full.
    pub const RING_FULL: u32 = 3;
    /// DNS packets whose bytes could not be copied (`bpf_skb_load_bytes` failed).
    pub const LOAD_FAILED: u32 = 4;
    /// Processes recorded by the cgroup sock_addr programs.
    pub const SOCKETS_RECORDED: u32 = 5;
    /// DNS flows recorded by the cgroup skb program.
    pub const FLOWS_RECORDED: u32 = 6;
    /// DNS packets the cgroup skb program saw whose socket had no process record.
    pub const FLOWS_UNKNOWN_SOCKET: u32 = 7;
    /// DNS queries to a loopback address the cgroup skb program left to the
    /// socket-cookie join (no 4-tuple record: see monitor-ebpf `sock.rs`).
    pub const FLOWS_LOOPBACK: u32 = 8;
    pub const COUNT: u32 = 9;

    /// Names for metrics and logs, by index.
    pub const NAMES: [&str; COUNT as usize] = [
        "seen",
        "sent",
        "truncated",
        "ring_full",
        "load_failed",
        "sockets_recorded",
        "flows_recorded",
        "flows_unknown_socket",
        "flows_loopback",
    ];
}

// No implicit padding: each size equals the sum of the field sizes.
const _: () = assert!(core::mem::size_of::<PacketHeader>() == 8 + 8 + 6 * 4);
const _: () = assert!(core::mem::size_of::<ProcInfo>() == 4 * 4 + 8 + 16);
const _: () = assert!(core::mem::size_of::<FlowKey>() == 1 + 1 + 2 + 2 + 2 + 16 + 16);
const _: () = assert!(core::mem::size_of::<PacketHeader>().is_multiple_of(8));

#[cfg(feature = "user")]
mod pod {
    // SAFETY: #[repr(C)], Copy, no padding (asserted above), every bit
    // pattern is a valid value.
    unsafe impl aya::Pod for super::PacketHeader {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::ProcInfo {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::FlowKey {}
}
