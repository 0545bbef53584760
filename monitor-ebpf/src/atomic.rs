//! BPF atomic instructions (`BPF_ATOMIC` with `BPF_CMPXCHG` / `BPF_XCHG`,
//! kernel 5.12+, Documentation/bpf/standardization/instruction-set.rst
//! "Atomic operations"): the bpfel target declares no compare-and-swap,
//! so `core::sync::atomic` offers none; the intrinsics lower to them.
//! Both are fully ordered on every JIT.

use core::intrinsics::{AtomicOrdering, atomic_cxchg, atomic_xadd, atomic_xchg};

/// `*p = new` if `*p == old`; `true` when it was.
///
/// # Safety
/// `p` points at an 8-aligned `u64` in a map value.
#[inline(always)]
pub unsafe fn cas(p: *mut u64, old: u64, new: u64) -> bool {
    // SAFETY: the caller's pointer.
    unsafe {
        atomic_cxchg::<u64, { AtomicOrdering::SeqCst }, { AtomicOrdering::SeqCst }>(p, old, new).1
    }
}

/// `*p = v`, ordered after every earlier store (a release).
///
/// # Safety
/// As [`cas`].
#[inline(always)]
pub unsafe fn store(p: *mut u64, v: u64) {
    // SAFETY: the caller's pointer.
    let _ = unsafe { atomic_xchg::<u64, { AtomicOrdering::SeqCst }>(p, v) };
}

/// `*p`, read with a fully ordered read-modify-write that adds 0: a load
/// no later load can pass (`BPF_FETCH | BPF_ADD`), for hosts without
/// ordered loads (`config::TSO` = 0).
///
/// # Safety
/// As [`cas`].
#[inline(always)]
pub unsafe fn load_ordered(p: *mut u64) -> u64 {
    // SAFETY: the caller's pointer.
    unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::SeqCst }>(p, 0) }
}
