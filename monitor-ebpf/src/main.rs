//! Kernel programs of dnssec-monitor.
//!
//! - `tc`: classifiers on ingress and egress of every interface; copy each
//!   DNS packet (and every UDP fragment) whole into the `PACKETS` ring buffer.
//! - `sock`: `cgroup/connect4|6` and `cgroup/sendmsg4|6` on the cgroup v2
//!   root; remember which process owns each socket that talks to a DNS port.
//! - `flow`: `cgroup_skb/egress` on the cgroup v2 root; map each DNS
//!   packet's 4-tuple to that process, so user space can attribute packets
//!   even where the tc hook no longer sees the socket (other netns, veths).
//!
//! - `fast`: inside the tc program on `lo`, repeats of validated exchanges
//!   are counted instead of copied.
//!
//! Entry points are thin: `fn prog(ctx) -> i32 { try_prog(&ctx) … }`; every
//! loop is bounded and nothing can panic.
#![no_std]
#![feature(core_intrinsics)]
#![allow(
    internal_features,
    reason = "BPF atomics: the bpfel target has no compare-and-swap in core::sync (atomic.rs)"
)]
#![no_main]

mod atomic;
mod fast;
mod maps;
mod parse;
mod sock;
mod tc;

use aya_ebpf::{
    macros::{cgroup_skb, cgroup_sock_addr, classifier},
    programs::{SkBuffContext, SockAddrContext, TcContext},
};
use monitor_common::{DIR_EGRESS, DIR_INGRESS};

/// `TC_ACT_UNSPEC`: let the packet go on to the next classifier / default
/// action, as if we were not there (also right for TCX chains).
const TC_PASS: i32 = -1;
/// cgroup programs: 1 = allow.
const CG_ALLOW: i32 = 1;

#[classifier]
pub fn tc_ingress_eth(ctx: TcContext) -> i32 {
    let _ = tc::try_tc::<true>(&ctx, DIR_INGRESS);
    TC_PASS
}

#[classifier]
pub fn tc_egress_eth(ctx: TcContext) -> i32 {
    let _ = tc::try_tc::<true>(&ctx, DIR_EGRESS);
    TC_PASS
}

#[classifier]
pub fn tc_ingress_raw(ctx: TcContext) -> i32 {
    let _ = tc::try_tc::<false>(&ctx, DIR_INGRESS);
    TC_PASS
}

#[classifier]
pub fn tc_egress_raw(ctx: TcContext) -> i32 {
    let _ = tc::try_tc::<false>(&ctx, DIR_EGRESS);
    TC_PASS
}

/// Attached only by the kernel-cost benchmark, as its baseline.
#[classifier]
pub fn tc_noop(_ctx: TcContext) -> i32 {
    TC_PASS
}

#[cgroup_sock_addr(connect4)]
pub fn sock_connect4(ctx: SockAddrContext) -> i32 {
    let _ = sock::try_record(&ctx);
    CG_ALLOW
}

#[cgroup_sock_addr(connect6)]
pub fn sock_connect6(ctx: SockAddrContext) -> i32 {
    let _ = sock::try_record(&ctx);
    CG_ALLOW
}

#[cgroup_sock_addr(sendmsg4)]
pub fn sock_sendmsg4(ctx: SockAddrContext) -> i32 {
    let _ = sock::try_record(&ctx);
    CG_ALLOW
}

#[cgroup_sock_addr(sendmsg6)]
pub fn sock_sendmsg6(ctx: SockAddrContext) -> i32 {
    let _ = sock::try_record(&ctx);
    CG_ALLOW
}

#[cgroup_skb(egress)]
pub fn skb_egress(ctx: SkBuffContext) -> i32 {
    let _ = sock::try_flow(&ctx);
    CG_ALLOW
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // Unreachable in a verified program: the verifier rejects code that
    // could get here, and we never call anything that panics.
    loop {}
}

/// The licence the kernel checks before allowing GPL-only helpers.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
