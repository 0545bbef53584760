//! BPF atomic instructions (`BPF_ATOMIC` with `BPF_CMPXCHG` / `BPF_XCHG`,
//! kernel 5.12+, Documentation/bpf/standardization/instruction-set.rst
//! "Atomic operations"): the bpfel target declares no compare-and-swap,
//! so `core::sync::atomic` offers none; the intrinsics lower to them.
//! Both are fully ordered on every JIT.

use core::intrinsics::{AtomicOrdering, atomic_cxchg, atomic_xchg};

/// `*p = new` if `*p == old`; `true` when it was.
///
/// # Safety
/// `p` points at an 8-aligned `u64` in a map value.
#[inline(always)]
pub unsafe fn cas(p: *mut u64, old: u64, new: u64) -> bool {
    // SAFETY: the caller's pointer.
    unsafe { atomic_cxchg::<u64, { AtomicOrdering::SeqCst }, { AtomicOrdering::SeqCst }>(p, old, new).1 }
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
