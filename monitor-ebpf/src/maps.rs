//! The maps shared with user space (names in `monitor_common::names`).

use aya_ebpf::{
    macros::map,
    maps::{Array, LruHashMap, LruPerCpuHashMap, PerCpuArray, RingBuf},
};
use monitor_common::{
    DNS_PORTS_LEN, FLOWS_MAX, FlowKey, ProcInfo, RING_BYTES, SOCKETS_MAX, config, counter,
    fast::{
        self, HeldSlot, PENDING_SLOTS, SERVERS_MAX, ServerCounts, ServerKey, TUPLES_MAX, TupleSlot,
        VALIDATED_SLOTS, ValidatedSlot,
    },
};

/// Captured packets: `PacketHeader` + bytes.
#[map]
pub static PACKETS: RingBuf = RingBuf::with_byte_size(RING_BYTES, 0);

/// One byte per port; non-zero = DNS port. An array (not a hash) because
/// the verifier inlines array lookups: checking a non-DNS packet's two
/// ports costs two loads, not two hash lookups.
#[map]
pub static DNS_PORTS: Array<u8> = Array::with_max_entries(DNS_PORTS_LEN, 0);

/// Settings from user space (`monitor_common::config` indices).
#[map]
pub static CONFIG: Array<u32> = Array::with_max_entries(config::COUNT, 0);

/// Per-CPU counters, indexed by `monitor_common::counter`.
#[map]
pub static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

/// Socket cookie → process that connected it / sent on it to a DNS port.
#[map]
pub static SOCKETS: LruHashMap<u64, ProcInfo> = LruHashMap::with_max_entries(SOCKETS_MAX, 0);

/// DNS packet 4-tuple (sender's view) → process that sent it.
#[map]
pub static FLOWS: LruHashMap<FlowKey, ProcInfo> = LruHashMap::with_max_entries(FLOWS_MAX, 0);

/// `BPF_F_MMAPABLE` (include/uapi/linux/bpf.h).
const BPF_F_MMAPABLE: u32 = 1024;

/// Fast path (`monitor_common::fast`): validated exchanges, each in one of
/// the two slots [`fast::validated_index`] gives for (server, query length
/// and digest). Written only by user space, through its mapping, under
/// each slot's sequence word ([`fast::ValidatedSlot`]).
#[map]
pub static FAST_VALIDATED: Array<ValidatedSlot> =
    Array::with_max_entries(VALIDATED_SLOTS, BPF_F_MMAPABLE);

/// Fast path: held-back queries, in slots by [`fast::pending_index`] of
/// their exchange. An array, not a hash: a hash insert and delete per
/// query (bucket lock with interrupts off, element allocation, a shared
/// element count) cost ~400 ns per exchange here (perf, session 8), more
/// than everything else the fast path does. Each slot's `state` word is
/// changed only by compare-and-exchange, here and in user space, which
/// maps the array (`BPF_F_MMAPABLE`) to take queries left unanswered:
/// exactly one side takes a held query, none is lost. A slot taken by
/// another held query = this query is copied as usual.
#[map]
pub static FAST_PENDING: Array<HeldSlot> = Array::with_max_entries(PENDING_SLOTS, BPF_F_MMAPABLE);

/// Fast path: (server, client address and port) → txid of the last query
/// held back on it, so a wrong-txid answer brings that query up. Slots
/// by hash, overwritten without a lock: a lost or torn slot only costs
/// that heuristic (the answer is copied either way).
#[map]
pub static FAST_TUPLES: Array<TupleSlot> = Array::with_max_entries(TUPLES_MAX, 0);

/// Fast path: per server, answers counted instead of copied (per CPU, so
/// the sums need no atomics; user space adds the CPUs up).
#[map]
pub static FAST_SERVERS: LruPerCpuHashMap<ServerKey, ServerCounts> =
    LruPerCpuHashMap::with_max_entries(SERVERS_MAX, 0);

/// Per-CPU scratch space for the fast path: its keys and buffers are
/// larger than the 512-byte BPF stack.
#[repr(C)]
pub struct Scratch {
    pub query: [u64; fast::QUERY_WORDS],
    pub answer: [u64; fast::ANSWER_MAX / 8],
}

#[map]
pub static FAST_SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

#[inline(always)]
pub fn bump(index: u32) {
    if let Some(p) = COUNTERS.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, no concurrent writer on this CPU.
        unsafe { *p += 1 };
    }
}

#[inline(always)]
pub fn is_dns_port(port: u16) -> bool {
    matches!(DNS_PORTS.get(u32::from(port)), Some(&v) if v != 0)
}

#[inline(always)]
pub fn config(index: u32) -> u32 {
    CONFIG.get(index).copied().unwrap_or(0)
}
