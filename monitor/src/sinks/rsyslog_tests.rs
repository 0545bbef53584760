//! Interoperability with a real rsyslogd (Debian `rsyslog`, plus
//! `rsyslog-gnutls` for TLS) on loopback: alerts arrive over TCP and TLS;
//! rsyslogd is stopped, alerts are raised, it is started again, and every
//! alert arrives exactly once, in order (issue 4, acceptance 3).
//!
//! They run in the normal suite as root (rsyslogd is a system daemon; the
//! tests use their own config, work directory, pid file and a free
//! loopback port, so parallel runs do not collide). Not root, or rsyslogd
//! (or its gtls driver) missing: skipped with a printed reason, unless
//! `DNSSEC_MONITOR_REQUIRE_ROOT_TESTS=1`, which makes that a failure.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use super::{
    reliable::{ReliableSink, ReliableSinkOptions},
    syslog::{
        Facility, Rfc5424Formatter, Severity, SyslogTransport, tls, transport::tests::test_pki,
    },
};

fn required() -> bool {
    std::env::var("DNSSEC_MONITOR_REQUIRE_ROOT_TESTS").is_ok_and(|v| v == "1")
}

fn skip(test: &str, why: &str) -> bool {
    assert!(
        !required(),
        "{test}: {why}, and DNSSEC_MONITOR_REQUIRE_ROOT_TESTS=1 says it must run"
    );
    eprintln!("{test}: skipped: {why}");
    false
}

/// Whether the test can run: root, rsyslogd present and, for TLS, its
/// GnuTLS stream driver (Debian `rsyslog-gnutls`).
fn rsyslog_or_skip(test: &str, tls: bool) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return skip(test, "needs root");
    }
    let present = Command::new("rsyslogd")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        return skip(test, "rsyslogd is not installed (apt-get install rsyslog)");
    }
    if tls && !gtls_driver_present() {
        return skip(
            test,
            "rsyslog's gtls driver is missing (apt-get install rsyslog-gnutls)",
        );
    }
    true
}

fn gtls_driver_present() -> bool {
    let Ok(lib) = std::fs::read_dir("/usr/lib") else {
        return false;
    };
    lib.flatten()
        .map(|d| d.path().join("rsyslog/lmnsd_gtls.so"))
        .chain([PathBuf::from("/usr/lib/rsyslog/lmnsd_gtls.so")])
        .any(|p| p.exists())
}

struct Rsyslogd {
    child: Child,
}

impl Rsyslogd {
    fn start(conf: &Path, pid: &Path, addr: SocketAddr) -> Rsyslogd {
        let _ = std::fs::remove_file(pid);
        let child = Command::new("rsyslogd")
            .args(["-n", "-f"])
            .arg(conf)
            .arg("-i")
            .arg(pid)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rsyslogd is installed (apt-get install rsyslog rsyslog-gnutls)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "rsyslogd did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Rsyslogd { child }
    }

    /// SIGTERM, as `systemctl stop rsyslog` does, and wait for the exit.
    fn stop(mut self) {
        // SAFETY: signalling the child we spawned, by its pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

impl Drop for Rsyslogd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(dir: &Path, port: u16, out: &Path, tls: Option<(&Path, &Path, &Path)>) -> PathBuf {
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let (global_tls, module) = match tls {
        None => (String::new(), "module(load=\"imtcp\")".to_owned()),
        Some((ca, cert, key)) => (
            format!(
                "global(DefaultNetstreamDriverCAFile=\"{}\" DefaultNetstreamDriverCertFile=\"{}\" DefaultNetstreamDriverKeyFile=\"{}\")",
                ca.display(),
                cert.display(),
                key.display()
            ),
            "module(load=\"imtcp\" StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\")".to_owned(),
        ),
    };
    let conf = format!(
        "global(workDirectory=\"{work}\")\n{global_tls}\n{module}\n\
         template(name=\"t\" type=\"string\" string=\"%msgid% %app-name% %msg%\\n\")\n\
         ruleset(name=\"r\") {{ action(type=\"omfile\" file=\"{out}\" template=\"t\") }}\n\
         input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{port}\" ruleset=\"r\")\n",
        work = work.display(),
        out = out.display(),
    );
    let path = dir.join("rsyslog.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

/// The `n` of each received line `test_rule dnssec-monitor {"n":N}`.
fn received(out: &Path) -> Vec<u64> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let (head, json) = l.split_once(" {").expect("line has the JSON message");
            assert_eq!(
                head, "test_rule dnssec-monitor",
                "MSGID and APP-NAME parsed by rsyslog"
            );
            let v: serde_json::Value = serde_json::from_str(&format!("{{{json}")).unwrap();
            v["n"].as_u64().unwrap()
        })
        .collect()
}

async fn wait_lines(out: &Path, n: usize) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = received(out);
        if got.len() >= n {
            // Give a duplicate the chance to show up before judging.
            tokio::time::sleep(Duration::from_millis(300)).await;
            return received(out);
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {n} lines arrived",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn stop_raise_start(use_tls: bool) {
    let pki = test_pki();
    let dir = tempfile::tempdir().unwrap();
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = dir.path().join("out.log");
    let tls_files = use_tls.then_some({
        (
            pki.ca_file.as_path(),
            pki.cert_file.as_path(),
            pki.key_file.as_path(),
        )
    });
    let conf = config(dir.path(), addr.port(), &out, tls_files);
    let pid = dir.path().join("rsyslogd.pid");
    let transport = if use_tls {
        SyslogTransport::tls(
            addr.to_string(),
            tls::client_config(&pki.ca_file).unwrap(),
            tls::server_name("localhost").unwrap(),
        )
    } else {
        SyslogTransport::tcp(addr.to_string())
    };
    let opts = ReliableSinkOptions {
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        ..ReliableSinkOptions::new(dir.path().join("spool"))
    };
    let sink = ReliableSink::start("rsyslog", transport, opts).unwrap();
    let f = Rfc5424Formatter::new(Facility::AUTH);
    let msg = |i: u64| {
        f.format(
            Severity::Warning,
            "test_rule",
            std::time::SystemTime::now(),
            &format!("{{\"n\":{i}}}"),
        )
    };

    let rsyslogd = Rsyslogd::start(&conf, &pid, addr);
    for i in 0..20 {
        assert!(sink.try_send(msg(i)));
    }
    assert_eq!(wait_lines(&out, 20).await, (0..20).collect::<Vec<_>>());
    rsyslogd.stop();

    for i in 20..120 {
        assert!(sink.try_send(msg(i)));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.stats().spool_depth < 100 {
        assert!(
            Instant::now() < deadline,
            "alerts not spooled: {:?}",
            sink.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _rsyslogd = Rsyslogd::start(&conf, &pid, addr);
    assert_eq!(
        wait_lines(&out, 120).await,
        (0..120).collect::<Vec<_>>(),
        "all 100, once each, in order"
    );
    sink.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn rsyslog_tcp_stop_raise_start() {
    if rsyslog_or_skip("rsyslog_tcp_stop_raise_start", false) {
        stop_raise_start(false).await;
    }
}

#[tokio::test]
async fn rsyslog_tls_stop_raise_start() {
    if rsyslog_or_skip("rsyslog_tls_stop_raise_start", true) {
        stop_raise_start(true).await;
    }
}
