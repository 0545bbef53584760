//! The maps shared with user space (names in `monitor_common::names`).

use aya_ebpf::{
    macros::map,
    maps::{Array, LruHashMap, PerCpuArray, RingBuf},
};
use monitor_common::{
    DNS_PORTS_LEN, config, FLOWS_MAX, FlowKey, ProcInfo, RING_BYTES, SOCKETS_MAX, counter,
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
