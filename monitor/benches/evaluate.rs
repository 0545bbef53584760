//! The per-answer verdict path when the verdict is already cached and
//! nothing is wrong (the common case at 50k q/s): benign answers for a
//! name with a cached Insecure verdict (www.unsigned.test./A) and one with
//! a cached Secure verdict (www.secure.test./A, DO=0, no RRSIGs), through
//! [`Detector::observe`] and then the evaluation the detection stage runs.
//!
//! - `*_stage`: what `detect/stage.rs` does per answer (`try_now`, else a
//!   boxed future polled once).
//! - `*_boxed`: the evaluation as a boxed future polled once (the path
//!   before `try_now`).
//! - `*_drop`: the answer dropped unjudged: the floor both pay (the
//!   event's frees, and the timer itself).
//! - `*_transaction`: a query and its answer observed, then evaluated as
//!   the stage does: ns per transaction.
//!
//! Before the timings, the heap allocations per answer of each path are
//! printed (the event's own frees not counted).
//!
//! `cargo bench -p monitor --bench evaluate -- --quick`

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use monitor::detect::alert::Alert;
use monitor::detect::detector::{Detector, Pending};
use monitor::event::{DnsEvent, ProcessInfo};

/// Counts allocations while `COUNTING` (a load and a branch otherwise).
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(l) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(p, l) }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations per call of `eval` over `n` answers.
fn allocs_per_answer(
    eval: impl Fn(Pending) -> Vec<Alert>,
    mut next: impl FnMut() -> Pending,
) -> f64 {
    let n = 1_000;
    let mut total = 0;
    for _ in 0..n {
        let p = next();
        ALLOCS.store(0, Ordering::Relaxed);
        COUNTING.store(true, Ordering::Relaxed);
        let alerts = eval(p);
        COUNTING.store(false, Ordering::Relaxed);
        total += ALLOCS.load(Ordering::Relaxed);
        assert!(alerts.is_empty());
    }
    total as f64 / f64::from(n)
}

#[path = "support/detect.rs"]
mod support;
use support::detector;

/// Transaction `n` (see `support::transaction`), asked by dnsperf.
fn txn(n: u64, qname: &str, ip: [u8; 4], ad: bool) -> (DnsEvent, DnsEvent) {
    thread_local!(static DNSPERF: Arc<ProcessInfo> = support::dnsperf());
    DNSPERF.with(|p| support::transaction(n, qname, ip, ad, p))
}

/// The boxed evaluation polled once, as the stage did before `try_now`.
fn boxed(p: Pending) -> Vec<Alert> {
    let mut fut: std::pin::Pin<Box<dyn Future<Output = Vec<Alert>> + Send>> =
        Box::pin(p.evaluate());
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(a) => a,
        Poll::Pending => panic!("the cached verdict did not complete at once"),
    }
}

/// The floor: the answer dropped unjudged (its event's frees).
fn drop_only(p: Pending) -> Vec<Alert> {
    drop(p);
    Vec::new()
}

/// What the stage does now.
fn stage(p: Pending) -> Vec<Alert> {
    match p.try_now() {
        Ok(a) => a,
        Err(p) => boxed(p),
    }
}

fn pending(d: &mut Detector, n: u64, qname: &str, ip: [u8; 4], ad: bool) -> Pending {
    let (q, a) = txn(n, qname, ip, ad);
    assert!(d.observe(q).alerts.is_empty());
    let o = d.observe(a);
    assert!(o.alerts.is_empty(), "{:?}", o.alerts);
    o.pending.expect("an accepted answer waits for its verdict")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cases = [
        ("insecure", "www.unsigned.test.", [192, 0, 2, 3], false),
        ("secure", "www.secure.test.", [192, 0, 2, 1], true),
    ];
    for (label, qname, ip, ad) in cases {
        let mut d = detector(&rt);
        // Warm the verdict cache (the engine resolves through the test net).
        let (q, a) = txn(0, qname, ip, ad);
        rt.block_on(async {
            d.on_event(q).await;
            assert!(d.on_event(a).await.is_empty());
        });
        let mut n = 1u64;
        type Eval = fn(Pending) -> Vec<Alert>;
        let paths: [(&str, Eval); 3] = [("stage", stage), ("boxed", boxed), ("drop", drop_only)];
        for (path, eval) in paths {
            let per = allocs_per_answer(eval, || {
                n += 1;
                pending(&mut d, n, qname, ip, ad)
            });
            println!("evaluate_{label}_{path}: {per} allocations per answer");
            // Each answer timed alone, right after its observation (as in
            // the stage: its memory is still in cache).
            c.bench_function(&format!("evaluate_{label}_{path}"), |b| {
                b.iter_custom(|iters| {
                    let mut took = Duration::ZERO;
                    for _ in 0..iters {
                        n += 1;
                        let p = pending(&mut d, n, qname, ip, ad);
                        let start = Instant::now();
                        let alerts = eval(p);
                        took += start.elapsed();
                        assert!(alerts.is_empty());
                    }
                    took
                })
            });
        }
        c.bench_function(&format!("evaluate_{label}_transaction"), |b| {
            b.iter_custom(|iters| {
                let mut took = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    let (q, a) = txn(n, qname, ip, ad);
                    let start = Instant::now();
                    d.observe(q);
                    let p = d.observe(a).pending.expect("a verdict to wait for");
                    let alerts = stage(p);
                    took += start.elapsed();
                    assert!(alerts.is_empty());
                }
                took
            })
        });
        // Every answer was checked against its cached verdict.
        let v = d.verdicts().stats();
        assert!(v.cache_hits.load(Ordering::Relaxed) > 0);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
