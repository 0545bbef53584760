//! The attack lab from the command line (as root):
//!
//! ```text
//! attack_lab scenario NAME…|all   bring the lab up, run scenarios, check, tear down
//! attack_lab benign N             bring the lab up, N benign lookups, tear down
//! attack_lab hold SECONDS         bring the lab up and keep it for manual digging
//! attack_lab down                 remove leftovers of a crashed run
//! attack_lab list                 the scenario names
//! ```
//! Exit status 1 when a scenario raised other alerts than expected.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use tests::attack::scenarios::{self, SCENARIOS, check};
use tests::attack::{Lab, topology};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        bail!("usage: attack_lab scenario NAME…|all | benign N | hold SECONDS | down | list");
    };
    match cmd.as_str() {
        "list" => {
            for s in SCENARIOS {
                println!("{}", s.name);
            }
        }
        "down" => {
            let _lock = tests::attack::host_lock(Duration::ZERO)?;
            topology::teardown();
            println!("present after teardown: {}", topology::present());
        }
        "hold" => {
            let secs: u64 = args.get(1).map_or(Ok(600), |s| s.parse())?;
            let lab = Lab::up()?;
            println!(
                "lab up ({}); dir {}",
                lab.status(),
                lab.dir.path().display()
            );
            std::thread::sleep(Duration::from_secs(secs));
        }
        "benign" => {
            let n: usize = args.get(1).map_or(Ok(1000), |s| s.parse())?;
            let lab = Lab::up()?;
            let t = Instant::now();
            let o = scenarios::benign(&lab, n)?;
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
                let o = (s.run)(&lab)?;
                match check(&o, s.expect) {
                    Ok(()) => println!("PASS {n}: {:?}", o.alerts),
                    Err(e) => {
                        failed += 1;
                        println!("FAIL {n}: {e:#}");
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
