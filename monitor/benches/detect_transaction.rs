//! One DNS transaction through the detector as the detection stage runs
//! it (`observe` of a query, `observe` of its answer, `try_now`), for a
//! name with a cached Insecure verdict and one with a cached Secure
//! verdict: ns per transaction as the minimum and the median of 201 runs
//! of 2,000 transactions each (runs short enough that many go without a
//! preemption). The minimum is the figure to compare on a shared machine
//! (other work only ever adds time); criterion's mean over single calls
//! (`evaluate.rs`) moves by tens of percent there.
//!
//! `cargo bench -p monitor --bench detect_transaction`; under `cargo test`
//! (no `--bench` argument) it makes 3 short runs, as a smoke test.

use std::time::{Duration, Instant};

use monitor::detect::detector::Detector;
use monitor::event::DnsEvent;

#[path = "support/detect.rs"]
mod support;

fn run(d: &mut Detector, events: Vec<(DnsEvent, DnsEvent)>) -> Duration {
    let start = Instant::now();
    for (q, a) in events {
        assert!(d.observe(q).alerts.is_empty());
        let o = d.observe(a);
        assert!(o.alerts.is_empty());
        let p = o.pending.expect("a verdict to wait for");
        match p.try_now() {
            Ok(alerts) => assert!(alerts.is_empty()),
            Err(_) => panic!("the cached verdict did not complete at once"),
        }
    }
    start.elapsed()
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (per_run, runs): (u64, usize) = if bench { (2_000, 201) } else { (20, 3) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let process = support::dnsperf();
    let cases = [
        ("insecure", "www.unsigned.test.", [192, 0, 2, 3], false),
        ("secure", "www.secure.test.", [192, 0, 2, 1], true),
    ];
    for (label, qname, ip, ad) in cases {
        let mut d = support::detector(&rt);
        let (q, a) = support::transaction(0, qname, ip, ad, &process);
        rt.block_on(async {
            d.on_event(q).await;
            assert!(d.on_event(a).await.is_empty());
        });
        let mut n = 1;
        let mut per = Vec::with_capacity(runs);
        for _ in 0..runs {
            // Built outside the timing (the reader's decode is not ours).
            let events: Vec<_> = (0..per_run)
                .map(|i| support::transaction(n + i, qname, ip, ad, &process))
                .collect();
            n += per_run;
            per.push(run(&mut d, events).as_nanos() as f64 / per_run as f64);
        }
        per.sort_by(f64::total_cmp);
        println!(
            "detect_transaction_{label}: min {:.0} ns, median {:.0} ns per transaction",
            per[0],
            per[runs / 2]
        );
    }
}
