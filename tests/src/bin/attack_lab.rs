//! The attack lab from the command line (as root):
//!
//! ```text
//! attack_lab scenario NAME…|all   bring the lab up, run scenarios, check, tear down
//! attack_lab benign N             bring the lab up, N benign lookups, tear down
//! attack_lab hold [SECONDS]       bring the lab up and keep it (0 or none: until
//!                                 SIGTERM/SIGINT), then tear it down
//! attack_lab down                 remove what a lab left (also after a crash)
//! attack_lab status               what of the lab is there
//! attack_lab list                 the scenario names
//! ```
//! `hold` writes [`STATE_PATH`] (its pid, then how to use the lab) once the
//! lab is up and removes it when it is torn down.
//! Exit status 1 when a scenario raised other alerts than expected.

use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use tests::attack::scenarios::{self, SCENARIOS, check};
use tests::attack::{Lab, leftovers};

/// Written by `hold` while the lab is up: first line its pid.
const STATE_PATH: &str = "/tmp/dnssec-monitor-lab.state";

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// SIGTERM/SIGINT/SIGHUP end `hold` by returning, so the lab is dropped
/// (torn down) instead of the process dying with it up.
fn catch_signals() {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic (async-signal-safe).
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        bail!(
            "usage: attack_lab scenario NAME…|all | benign N | hold [SECONDS] | down | status | list"
        );
    };
    match cmd.as_str() {
        "list" => {
            for s in SCENARIOS {
                println!("{}", s.name);
            }
        }
        "down" => {
            let _lock = tests::attack::host_lock(Duration::from_secs(60))
                .context("a lab is running (stop its `attack_lab hold` first)")?;
            leftovers::sweep();
            let _ = std::fs::remove_file(STATE_PATH);
            let left = leftovers::report();
            if left.is_empty() {
                println!("lab down: nothing left");
            } else {
                bail!("lab down: still there:\n{}", left.join("\n"));
            }
        }
        "status" => {
            let left = leftovers::report();
            if left.is_empty() {
                println!("no lab is up");
            } else {
                println!("{}", left.join("\n"));
            }
        }
        "hold" => {
            let secs: u64 = args.get(1).map_or(Ok(0), |s| s.parse())?;
            catch_signals();
            let lab = Lab::up()?;
            lab.wait_warm();
            let text = format!("{}\n{}", std::process::id(), lab.describe());
            std::fs::write(STATE_PATH, &text)?;
            println!("lab up ({})\n{}", lab.status(), lab.describe());
            let t = Instant::now();
            while !STOP.load(Ordering::SeqCst)
                && (secs == 0 || t.elapsed() < Duration::from_secs(secs))
            {
                std::thread::sleep(Duration::from_millis(200));
            }
            drop(lab);
            let _ = std::fs::remove_file(STATE_PATH);
            println!("lab torn down");
        }
        "benign" => {
            let n: usize = args.get(1).map_or(Ok(1000), |s| s.parse())?;
            let lab = Lab::up()?;
            let t = Instant::now();
            let o = tests::attack::benign::benign(&lab, n)?;
            println!("benign {n}: {:?} in {:?}", o.alerts, t.elapsed());
            check(&o, &[])?;
        }
        "scenario" => {
            let names: Vec<&str> = if args.get(1).map(String::as_str) == Some("all") {
                SCENARIOS.iter().map(|s| s.name).collect()
            } else {
                args[1..].iter().map(String::as_str).collect()
            };
            let lab = Lab::up()?;
            let mut failed = 0;
            for n in names {
                let Some(s) = scenarios::find(n) else {
                    bail!("unknown scenario {n}");
                };
                let t = Instant::now();
                let result = (s.run)(&lab).and_then(|o| check(&o, s.expect).map(|()| o));
                let took = t.elapsed();
                match result {
                    Ok(o) => println!("PASS {n} ({took:.1?}): {:?}", o.alerts),
                    Err(e) => {
                        failed += 1;
                        println!("FAIL {n} ({took:.1?}): {e:#}");
                    }
                }
            }
            drop(lab);
            if failed > 0 {
                std::process::exit(1);
            }
        }
        other => bail!("unknown command {other}"),
    }
    Ok(())
}
