//! `kernel-cost [PACKETS]`: the capture programs' kernel cost in ns per
//! packet for DNS and non-DNS packets (root; see `tests::kernel_cost`).
//! Prints a summary on stderr and the full result as JSON on stdout.
//!
//! Run: `DNSSEC_MONITOR_EBPF_OBJ=… cargo run --release -p tests --bin kernel-cost`
//! (the eBPF object must be embedded; `cargo xtask build` prints its path).

fn main() -> anyhow::Result<()> {
    let packets = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(200_000u64);
    let r = tests::kernel_cost::measure(packets)?;
    for (phase, costs) in [("non-DNS", &r.non_dns), ("DNS", &r.dns)] {
        let tc = tests::kernel_cost::KernelCost::tc_ns(costs);
        let floor = tests::kernel_cost::KernelCost::floor_ns(costs);
        eprintln!(
            "kernel cost, {phase} packets: {tc:.1} ns per tc run ({floor:.1} ns of it is the floor of an empty classifier: {:.1} ns net)",
            tc - floor
        );
        for c in costs {
            eprintln!(
                "  {:<16} {:>9} runs {:>8.1} ns/run",
                c.program, c.runs, c.ns_per_run
            );
        }
    }
    eprintln!("BPF_PROG_TEST_RUN (program alone, average per run):");
    for (what, ns) in &r.test_run {
        eprintln!("  {what:<32} {ns:>6.0} ns");
    }
    println!("{}", serde_json::to_string_pretty(&r)?);
    Ok(())
}
