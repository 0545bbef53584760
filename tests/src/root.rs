//! Root-only tests: skip with a message when not root, unless
//! `DNSSEC_MONITOR_REQUIRE_ROOT_TESTS=1` (set by `cargo xtask test` when
//! it runs as root), in which case not being able to run them is a failure.

/// `true` when the caller may go on; `false`: skip (message printed).
pub fn root_or_skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        return true;
    }
    if required() {
        panic!("{test}: needs root, and DNSSEC_MONITOR_REQUIRE_ROOT_TESTS=1 says it must run");
    }
    eprintln!("{test}: skipped: needs root (network namespaces, eBPF)");
    false
}

/// Whether skipping root tests is an error.
pub fn required() -> bool {
    std::env::var("DNSSEC_MONITOR_REQUIRE_ROOT_TESTS").is_ok_and(|v| v == "1")
}
