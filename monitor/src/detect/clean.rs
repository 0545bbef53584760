//! Where the detector reports exchanges it judged clean, so that repeats
//! of them need not be judged again: the kernel fast path
//! (capture/fast_path.rs, docs/design-kernel-fast-path.md) counts a repeat
//! of such an exchange instead of copying it up.

use crate::correlate::outstanding::QueryInfo;
use crate::event::DnsEvent;

/// Told of every answer that raised no alert and whose verdict may be
/// reused (Secure or Insecure), with its query and how many seconds the
/// verdict stays good. Must not block: the detector calls it inline.
pub trait CleanExchanges: Send + Sync + std::fmt::Debug {
    fn clean(&self, answer: &DnsEvent, query: &QueryInfo, verdict_ttl: u32);
}
