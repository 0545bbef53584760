//! Child processes (nsd, unbound) that die with their guard, and bounded
//! waits for them to serve.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process; killed and reaped on drop (also when a test panics).
#[derive(Debug)]
pub struct Server {
    pub name: String,
    pub addr: SocketAddr,
    child: Child,
    pub log: PathBuf,
}

impl Server {
    /// Starts `cmd` (stdout/stderr to `log`) and waits up to `wait` until
    /// `addr` answers a DNS query over UDP.
    pub fn start(
        name: &str,
        mut cmd: Command,
        addr: SocketAddr,
        log: PathBuf,
        wait: Duration,
    ) -> Result<Self, String> {
        let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let mut server = Self {
            name: name.to_string(),
            addr,
            child,
            log,
        };
        let deadline = Instant::now() + wait;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "{name} exited with {status}: {}",
                    std::fs::read_to_string(&server.log).unwrap_or_default()
                ));
            }
            if probe(addr) {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{name} not answering on {addr} after {wait:?}: {}",
                    std::fs::read_to_string(&server.log).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    /// SIGTERM first so nsd/unbound stop their worker processes too, then
    /// SIGKILL after 3 s; always reaped.
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child's pid, which is not yet
            // reaped (so cannot have been reused).
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether something at `addr` answers `. IN SOA` over UDP within 300 ms.
pub fn probe(addr: SocketAddr) -> bool {
    // Any source address: loopback targets still get 127.0.0.1, and a
    // server in a network namespace is reached over the host's bridge.
    let Ok(sock) = UdpSocket::bind(SocketAddr::new(
        if addr.is_ipv4() {
            [0, 0, 0, 0].into()
        } else {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        },
        0,
    )) else {
        return false;
    };
    let _ = sock.set_read_timeout(Some(Duration::from_millis(300)));
    // id 0x5e5e, RD, one question: root SOA.
    let query = [
        0x5e, 0x5e, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1,
    ];
    if sock.send_to(&query, addr).is_err() {
        return false;
    }
    let mut buf = [0u8; 1500];
    matches!(sock.recv_from(&mut buf), Ok((n, from)) if n >= 12 && from == addr && buf[..2] == [0x5e, 0x5e])
}

/// Runs a command to completion with a time limit; stdout on success.
pub fn run(cmd: Command, limit: Duration) -> Result<String, String> {
    let (ok, stdout, stderr, desc) = run_combined(cmd, limit)?;
    if ok {
        Ok(stdout)
    } else {
        Err(format!("{desc}: {stdout}{stderr}"))
    }
}

/// Runs a command with a time limit: (exited 0, stdout, stderr, description).
pub fn run_combined(
    mut cmd: Command,
    limit: Duration,
) -> Result<(bool, String, String, String), String> {
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{desc}: {e}"))?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{desc}: no result within {limit:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("{desc}: {e}")),
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{desc}: {e}"))?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        format!("{desc} ({})", out.status),
    ))
}
