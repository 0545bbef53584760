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
    /// The kernel fast path's maps (see [`crate::fast`]).
    pub const FAST_VALIDATED: &str = "FAST_VALIDATED";
    pub const FAST_PENDING: &str = "FAST_PENDING";
    pub const FAST_TUPLES: &str = "FAST_TUPLES";
    pub const FAST_SERVERS: &str = "FAST_SERVERS";
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
    /// Non-zero: the tc program on `lo` absorbs repeated exchanges (see
    /// [`crate::fast`]).
    pub const FAST_PATH: u32 = 3;
    /// Non-zero: the host's stores are seen by other CPUs in program order
    /// (x86-64 TSO, Intel SDM vol. 3 §9.2.2), so the fast path publishes a
    /// held query with a plain store and reads `FAST_VALIDATED`'s sequence
    /// words with plain loads. Zero (arm64, …): fully ordered atomics
    /// (`BPF_XCHG`, `BPF_FETCH | BPF_ADD`) instead, the only barriers BPF
    /// had before kernel 6.15.
    pub const TSO: u32 = 4;
    pub const COUNT: u32 = 5;
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
/// The record is not a packet but a [`fast::PendingQuery`]: a query the
/// fast path held back, sent up late because its exchange turned out not
/// to be a repeat (a different answer, a wrong-txid answer on its socket,
/// or no answer). `ktime_ns` is the query's own time.
pub const PKT_F_DEFERRED_QUERY: u32 = 4;

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
    /// Packets the cgroup skb program left to the socket-cookie join (no
    /// 4-tuple record: see monitor-ebpf `sock.rs`): every packet leaving
    /// through a `lo` (not parsed), and DNS queries to a loopback address.
    pub const FLOWS_LOOPBACK: u32 = 8;
    /// Queries on `lo` the fast path held back (their bytes equal a query
    /// whose answer user space validated, see [`crate::fast`]).
    pub const FAST_QUERIES: u32 = 9;
    /// Answers to held-back queries equal byte for byte (after the id) to
    /// the validated answer: counted, not copied.
    pub const FAST_ANSWERS: u32 = 10;
    /// Held-back queries sent up after all (an answer that differed, a
    /// wrong-txid answer on the same socket pair).
    pub const FAST_DEFERRED: u32 = 11;
    /// Queries that could have been held back but found both their
    /// `FAST_PENDING` slots taken by other queries: copied as usual.
    pub const FAST_SLOT_BUSY: u32 = 12;
    pub const COUNT: u32 = 13;

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
        "fast_queries",
        "fast_answers",
        "fast_deferred",
        "fast_slot_busy",
    ];
}

/// The kernel fast path for repeated exchanges on `lo`
/// (docs/design-kernel-fast-path.md). User space writes
/// [`FAST_VALIDATED`](names::FAST_VALIDATED) after it judged an exchange
/// clean: a [`fast::ValidatedSlot`] found by (server, query length,
/// [`fast::query_digest`]) holds the query's and the answer's bytes after
/// the id. The tc program then holds back a query with those bytes (in a
/// [`fast::HeldSlot`] of `FAST_PENDING`) and counts, instead of copying,
/// an answer to it that equals the validated one. Anything else about such an exchange sends
/// the held-back query up first ([`PKT_F_DEFERRED_QUERY`]), so user space
/// sees what it would have seen without the fast path.
pub mod fast {
    /// Longest query (after the id) the fast path takes.
    pub const QUERY_MAX: usize = 128;
    /// Longest answer (after the id) the fast path takes.
    pub const ANSWER_MAX: usize = 512;
    /// Slots of `FAST_VALIDATED` (a power of two: pairs indexed by
    /// [`validated_index`]).
    pub const VALIDATED_SLOTS: u32 = 8192;
    /// Slots of `FAST_PENDING` (a power of two: indexed by
    /// [`pending_index`]).
    pub const PENDING_SLOTS: u32 = 16384;
    /// [`HeldSlot::state`]: nothing held.
    pub const SLOT_FREE: u64 = 0;
    /// [`HeldSlot::state`]: its owner is writing or reading it.
    pub const SLOT_BUSY: u64 = 1;
    /// [`HeldSlot::state`] with this bit (and the time it was set): the
    /// held query went up without its answer (a different answer, a
    /// wrong-txid answer on its socket pair, or no answer in time). Its
    /// answer, when it comes, is copied and frees the slot; user space
    /// frees it after [`SENT_LIMIT_NS`] otherwise.
    pub const SLOT_SENT: u64 = 1 << 63;
    /// How long a [`SLOT_SENT`] slot waits for its answer.
    pub const SENT_LIMIT_NS: u64 = 2_000_000_000;
    /// Slots of `FAST_TUPLES` (a power of two: indexed by a hash).
    pub const TUPLES_MAX: u32 = 65536;
    pub const SERVERS_MAX: u32 = 1024;
    /// [`super::fast::PendingQuery::flags`]: the query had RD set.
    pub const PQ_F_RD: u32 = 1;

    /// A DNS server: address family, port (host order), address (IPv4 in
    /// the first 4 bytes).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct ServerKey {
        pub family: u8,
        pub _pad: u8,
        pub port: u16,
        pub addr: [u8; 16],
    }

    /// A query in full: the server and the query's bytes after the id,
    /// zero-padded (in [`PendingQuery`]).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct FastKey {
        pub server: ServerKey,
        pub len: u16,
        pub _pad: u16,
        pub query: [u8; QUERY_MAX],
    }

    /// Words of a zero-padded query, as [`query_digest`] reads them.
    pub const QUERY_WORDS: usize = QUERY_MAX / 8;

    /// What identifies a `FAST_VALIDATED` entry: the server, the query's
    /// length and a digest of its bytes (the bytes themselves are compared
    /// with the entry's copy).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct ValidatedKey {
        pub server: ServerKey,
        pub len: u16,
        pub _pad: u16,
        pub digest: u64,
    }

    /// A validated exchange: the query's bytes after the id (compared in
    /// full: the digest only finds the entry) and the answer's,
    /// zero-padded, valid until `expires_ns` (CLOCK_MONOTONIC).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct FastAnswer {
        pub expires_ns: u64,
        pub len: u32,
        pub _pad: u32,
        pub query: [u8; QUERY_MAX],
        pub answer: [u8; ANSWER_MAX],
    }

    /// The digest of a query's zero-padded bytes, read as little-endian
    /// words (the kernel's loads on bpfel). Not a secret: equal digests
    /// of different queries only compete for one entry (the bytes are
    /// compared), they never match each other's answers.
    #[inline(always)]
    pub fn query_digest(words: &[u64; QUERY_WORDS]) -> u64 {
        let mut h: u64 = 0x243F_6A88_85A3_08D3;
        let mut i = 0;
        while i < QUERY_WORDS {
            h = (h ^ words[i]).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            h ^= h >> 32;
            i += 1;
        }
        h
    }

    /// A `FAST_VALIDATED` slot: an array shared with user space by `mmap`,
    /// written only by user space, under a sequence lock. `seq` is odd
    /// while user space rewrites the slot and grows by 2 with each write;
    /// the kernel uses an entry only if `seq` was the same even number
    /// before and after it read it, and remembers that number in the held
    /// slot, so the answer is compared with the very entry the query
    /// matched. An array, not a hash: the verifier inlines an array
    /// lookup, where an LRU hash lookup (jhash of the key, a bucket walk)
    /// cost ~12% of the tc program's time on each side (perf, session 13).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct ValidatedSlot {
        pub seq: u64,
        pub key: ValidatedKey,
        pub value: FastAnswer,
    }

    /// The first of the two `FAST_VALIDATED` slots an entry may be in
    /// (always even; the other is `+ 1`).
    #[inline(always)]
    pub fn validated_index(key: &ValidatedKey) -> u32 {
        let a = &key.server.addr;
        let h = (key.digest as u32)
            ^ ((key.digest >> 32) as u32).rotate_left(11)
            ^ (u32::from(key.server.port) << 16 | u32::from(key.len))
            ^ u32::from_ne_bytes([a[12], a[13], a[14], a[15]]).rotate_left(7)
            ^ u32::from_ne_bytes([a[0], a[1], a[2], a[3]]).rotate_left(19);
        (h.wrapping_mul(0x9E37_79B1) >> (32 - VALIDATED_SLOTS.trailing_zeros())) & !1
    }

    impl FastKey {
        /// The query's bytes as [`query_digest`] reads them.
        pub fn words(&self) -> [u64; QUERY_WORDS] {
            let mut w = [0u64; QUERY_WORDS];
            let mut i = 0;
            while i < QUERY_WORDS {
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.query[i * 8..i * 8 + 8]);
                w[i] = u64::from_le_bytes(b);
                i += 1;
            }
            w
        }

        /// Its `FAST_VALIDATED` key.
        pub fn validated_key(&self) -> ValidatedKey {
            ValidatedKey {
                server: self.server,
                len: self.len,
                _pad: 0,
                digest: query_digest(&self.words()),
            }
        }
    }

    /// One UDP exchange: server, client port and address, transaction id
    /// (0 in `FAST_TUPLES`' keys).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct ExchangeKey {
        pub server: ServerKey,
        pub client_port: u16,
        pub txid: u16,
        pub client_addr: [u8; 16],
    }

    /// A held-back query (`FAST_PENDING`'s value, and the body of a
    /// [`super::PKT_F_DEFERRED_QUERY`] record).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PendingQuery {
        pub ktime_ns: u64,
        pub socket_cookie: u64,
        pub ifindex: u32,
        /// `PQ_F_*`.
        pub flags: u32,
        pub exchange: ExchangeKey,
        pub key: FastKey,
    }

    /// A `FAST_PENDING` slot (an array shared with user space by `mmap`),
    /// four cache lines: the first is all an answer reads; the query's own
    /// bytes follow (read only when it goes up), so a held query never
    /// depends on its `FAST_VALIDATED` entry staying in place. `state` is
    /// [`SLOT_FREE`], [`SLOT_BUSY`], or, while a query is held, its
    /// `bpf_ktime_get_ns` time (a token ≥ 2). It changes only by atomic
    /// compare-and-exchange, so exactly one party takes a held query: the
    /// kernel for its answer, or user space once it waited too long.
    /// FREE → BUSY (the kernel claims it) → token (query written) → BUSY
    /// (taken: whoever won reads it) → FREE, or → SENT (the query went up)
    /// → FREE (its answer came, or user space gave up on it).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct HeldSlot {
        pub state: u64,
        pub exchange: ExchangeKey,
        /// The `seq` of the `FAST_VALIDATED` slot the query matched.
        pub validated_seq: u64,
        /// The query's length after the id.
        pub len: u16,
        /// `PQ_F_*`.
        pub flags: u16,
        /// The index of that `FAST_VALIDATED` slot.
        pub validated_slot: u32,
        pub socket_cookie: u64,
        /// The query's bytes after the id: the first `len` are valid.
        pub query: [u64; QUERY_WORDS],
        pub _spare: [u64; 7],
    }

    impl HeldSlot {
        /// The held query's bytes, laid out as [`FastKey::query`]: the
        /// inverse of [`FastKey::words`] (little-endian words, as the
        /// kernel copied them).
        pub fn query_bytes(&self) -> [u8; QUERY_MAX] {
            let mut b = [0u8; QUERY_MAX];
            let mut i = 0;
            while i < QUERY_WORDS {
                let w = self.query[i].to_le_bytes();
                b[i * 8..i * 8 + 8].copy_from_slice(&w);
                i += 1;
            }
            b
        }
    }

    /// The `FAST_PENDING` slot of an exchange (Fibonacci hashing of its
    /// ports, txid and the low words of both addresses); its neighbour
    /// (`^ 1`) is the second choice when it is taken.
    #[inline(always)]
    pub fn pending_index(e: &ExchangeKey) -> u32 {
        let h = mix(e) ^ u32::from(e.txid).wrapping_mul(0x85EB_CA6B);
        h.wrapping_mul(0x9E37_79B1) >> (32 - PENDING_SLOTS.trailing_zeros())
    }

    /// The `FAST_TUPLES` slot of a socket pair (its txid is ignored).
    #[inline(always)]
    pub fn tuple_index(e: &ExchangeKey) -> u32 {
        mix(e).wrapping_mul(0x9E37_79B1) >> (32 - TUPLES_MAX.trailing_zeros())
    }

    #[inline(always)]
    fn mix(t: &ExchangeKey) -> u32 {
        let word = |b: &[u8; 16]| {
            u32::from_ne_bytes([b[12], b[13], b[14], b[15]])
                ^ u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
        };
        (u32::from(t.client_port) << 16 | u32::from(t.server.port))
            ^ word(&t.client_addr).rotate_left(7)
            ^ word(&t.server.addr).rotate_left(13)
    }

    /// A `FAST_TUPLES` slot: the socket pair (txid 0) whose last query was
    /// held back, and that query's txid.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct TupleSlot {
        pub tuple: ExchangeKey,
        pub txid: u32,
        pub _pad: u32,
    }

    /// `FAST_SERVERS`' value: answers counted instead of copied (queries
    /// with RD only), and of them `timed` whose latencies sum to
    /// `latency_ns` (a clock read per answer cost ~8% of the program;
    /// one in [`TIMED_EVERY`] is timed).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct ServerCounts {
        pub answers: u64,
        pub latency_ns: u64,
        pub timed: u64,
    }

    /// One absorbed answer in this many is timed (a power of two: the
    /// low bits of its query's time decide).
    pub const TIMED_EVERY: u64 = 16;

    const _: () = assert!(core::mem::size_of::<ServerKey>() == 20);
    const _: () = assert!(core::mem::size_of::<FastKey>() == 20 + 4 + QUERY_MAX);
    const _: () = assert!(core::mem::size_of::<FastAnswer>() == 16 + QUERY_MAX + ANSWER_MAX);
    const _: () = assert!(core::mem::size_of::<ValidatedKey>() == 20 + 4 + 8);
    const _: () =
        assert!(core::mem::size_of::<ValidatedSlot>() == 8 + 32 + 16 + QUERY_MAX + ANSWER_MAX);
    // The kernel reads the copies as u64 words: 8-aligned in a slot.
    const _: () = assert!(core::mem::offset_of!(ValidatedSlot, value).is_multiple_of(8));
    const _: () = assert!(VALIDATED_SLOTS.is_power_of_two());
    const _: () = assert!(QUERY_MAX.is_multiple_of(8));
    const _: () = assert!(core::mem::size_of::<ExchangeKey>() == 20 + 4 + 16);
    const _: () = assert!(core::mem::size_of::<PendingQuery>() == 24 + 40 + 152);
    const _: () = assert!(core::mem::size_of::<PendingQuery>().is_multiple_of(8));
    const _: () = assert!(core::mem::size_of::<ServerCounts>() == 24);
    const _: () = assert!(TIMED_EVERY.is_power_of_two());
    const _: () = assert!(core::mem::size_of::<TupleSlot>() == 40 + 8);
    const _: () = assert!(TUPLES_MAX.is_power_of_two());
    const _: () = assert!(PENDING_SLOTS.is_power_of_two());
    const _: () = assert!(core::mem::size_of::<HeldSlot>() == 256);
    const _: () = assert!(core::mem::offset_of!(HeldSlot, socket_cookie) == 64);
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
    // SAFETY: as above.
    unsafe impl aya::Pod for super::fast::ServerKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::fast::FastKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::fast::FastAnswer {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::fast::ValidatedKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::fast::ValidatedSlot {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::fast::ExchangeKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::fast::PendingQuery {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::fast::HeldSlot {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::fast::ServerCounts {}
}
