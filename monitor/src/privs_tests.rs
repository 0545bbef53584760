use std::process::Command;

use super::*;

const CHILD_ENV: &str = "DNSSEC_MONITOR_PRIVS_CHILD";

fn root_with_setpcap() -> bool {
    read_status("/proc/self/status").is_ok_and(|(eff, _, _)| eff & Cap::SETPCAP.bit() != 0)
}

#[test]
fn parses_proc_status_capability_lines() {
    let text = "Name:\tx\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n\
                CapEff:\t0000008000001000\nCapBnd:\t000001ffffffffff\nCapAmb:\t0\n";
    assert_eq!(
        parse_status(text),
        Some((0x80_0000_1000, 0x1ff_ffff_ffff, 0x1ff_ffff_ffff))
    );
    assert_eq!(parse_status("CapEff:\tzz\n"), None);
    assert_eq!(Cap::NET_ADMIN.bit() | Cap::BPF.bit(), 0x80_0000_1000);
    assert_eq!(Cap::BPF.to_string(), "CAP_BPF");
}

/// Runs only as the subprocess of the test below (it drops this
/// process's capabilities for good).
#[test]
#[ignore = "run by drop_leaves_exactly_the_kept_set_in_every_thread in a subprocess"]
fn privs_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    // Extra threads, parked, as a runtime's workers would be.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let rx = rx.clone();
            std::thread::spawn(move || {
                let _ = rx.lock().unwrap().recv();
            })
        })
        .collect();
    let report = drop_capabilities(DAEMON_KEEP).unwrap();
    println!(
        "REPORT threads={} missing={}",
        report.threads,
        report.missing.len()
    );
    for entry in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap();
        for l in status.lines().filter(|l| {
            [
                "CapEff:",
                "CapPrm:",
                "CapBnd:",
                "CapInh:",
                "CapAmb:",
                "NoNewPrivs:",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        }) {
            println!(
                "TASK {} {}",
                entry.file_name().to_string_lossy(),
                l.replace('\t', " ")
            );
        }
    }
    // Negative: a dropped capability cannot be taken back.
    let mut hdr = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let all = [CapData {
        effective: !0,
        permitted: !0,
        inheritable: 0,
    }; 2];
    // SAFETY: capset(2) v3 with valid pointers.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, all.as_ptr()) };
    println!("REGAIN {}", if r == 0 { "succeeded" } else { "refused" });
    drop(tx);
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn drop_leaves_exactly_the_kept_set_in_every_thread() {
    if !root_with_setpcap() {
        eprintln!("not root with CAP_SETPCAP: skipped");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "privs::tests::privs_child",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let threads: usize = stdout
        .lines()
        .find_map(|l| l.split_once("REPORT threads=").map(|(_, r)| r))
        .and_then(|r| r.split(' ').next()?.parse().ok())
        .expect(&stdout);
    assert!(threads >= 4, "caller + 3 workers: {stdout}");
    let kept = "0000008000001000"; // CAP_NET_ADMIN (12) | CAP_BPF (39)
    let tasks: Vec<&str> = stdout.lines().filter(|l| l.starts_with("TASK ")).collect();
    for field in ["CapEff:", "CapPrm:", "CapBnd:"] {
        let lines: Vec<&&str> = tasks.iter().filter(|l| l.contains(field)).collect();
        assert!(lines.len() >= 4, "{stdout}");
        for l in lines {
            assert!(l.ends_with(&format!("{field} {kept}")), "{l}\n{stdout}");
        }
    }
    for field in ["CapInh:", "CapAmb:"] {
        for l in tasks.iter().filter(|l| l.contains(field)) {
            assert!(l.ends_with(&format!("{field} 0000000000000000")), "{l}");
        }
    }
    assert!(
        tasks
            .iter()
            .filter(|l| l.contains("NoNewPrivs:"))
            .all(|l| l.ends_with(" 1")),
        "{stdout}"
    );
    assert!(stdout.contains("REGAIN refused"), "{stdout}");
}
