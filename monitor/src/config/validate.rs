//! Raw TOML → [`Config`], checking every value: addresses parse, names are
//! DNS names, files the daemon must read are readable, choices are known.
//! Each error names its key (e.g. `sink.syslog[1].address`) and line.

use std::{
    collections::HashSet,
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use toml::{
    Spanned,
    value::{Datetime, Offset},
};

use super::{
    Config, ConfigError, ConfigErrorKind as Kind, DEFAULT_SPOOL_MAX_BYTES, DEFAULT_SPOOL_ROOT,
    Mode, Nta, OutputTarget, StoreConfig, SyslogSinkConfig, ZoneConfig,
    error::ErrorContext,
    raw::{RawConfig, RawSyslog},
};
use crate::sinks::{
    rotate::RotateOptions,
    syslog::{Facility, TransportKind, tls},
};

pub(super) struct Checker<'a> {
    pub(super) ctx: ErrorContext<'a>,
    base: PathBuf,
}

pub fn validate(text: &str, origin: &Path) -> Result<Config, ConfigError> {
    let ctx = ErrorContext {
        file: origin.to_owned(),
        text,
    };
    let raw: RawConfig = toml::from_str(text).map_err(|e| ctx.from_toml(&e))?;
    let base = origin
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    let c = Checker { ctx, base };
    let mut cfg = Config::default();

    if let Some(path) = &raw.output.path {
        cfg.output.target = match path.get_ref().as_str() {
            "-" => OutputTarget::Stdout,
            "" => return Err(c.bad("output.path", path, "empty path (use \"-\" for stdout)")),
            p => OutputTarget::File(c.resolve(Path::new(p))),
        };
    }
    let defaults = RotateOptions::default();
    cfg.output.rotate = RotateOptions {
        max_bytes: match &raw.output.rotate_bytes {
            Some(s) => s
                .get_ref()
                .bytes()
                .map_err(|m| c.bad("output.rotate_bytes", s, m))?,
            None => defaults.max_bytes,
        },
        keep: raw.output.keep.unwrap_or(defaults.keep),
    };
    cfg.events = raw.events.unwrap_or(false);
    cfg.dns_0x20 = raw.dns_0x20.unwrap_or(false);
    cfg.kernel_fast_path = raw.kernel_fast_path.unwrap_or(true);
    cfg.resolvers = c.resolver_list("resolvers", &raw.resolvers)?;
    cfg.validating_resolvers =
        c.resolver_list("validating_resolvers", &raw.validating_resolvers)?;
    cfg.upstream = c.resolver_list("upstream", &raw.upstream)?;
    cfg.root_hints = raw
        .root_hints
        .as_ref()
        .map(|p| c.parsed_file("root_hints", p, hints_ok))
        .transpose()?;
    cfg.trust_anchor = raw
        .trust_anchor
        .as_ref()
        .map(|p| c.parsed_file("trust_anchor", p, anchors_ok))
        .transpose()?;
    for (i, name) in raw.allow.iter().enumerate() {
        cfg.allow.push(c.dns_name(&format!("allow[{i}]"), name)?);
    }
    for (i, nta) in raw.nta.iter().enumerate() {
        let zone = c.dns_name(&format!("nta[{i}].zone"), &nta.zone)?;
        let expires = nta
            .expires
            .as_ref()
            .map(|e| c.instant(&format!("nta[{i}].expires"), e))
            .transpose()?;
        cfg.nta.push(Nta { zone, expires });
    }
    if let Some(n) = &raw.nice {
        cfg.nice = i32::try_from(*n.get_ref())
            .ok()
            .filter(|v| (-20..=19).contains(v))
            .ok_or_else(|| {
                c.bad(
                    "nice",
                    n,
                    format!("{} is not a niceness between -20 and 19", n.get_ref()),
                )
            })?;
    }
    if let Some(m) = &raw.metrics_listen {
        cfg.metrics_listen = m.get_ref().parse().map_err(|_| {
            c.bad(
                "metrics_listen",
                m,
                format!("{:?} is not an IP:port address", m.get_ref()),
            )
        })?;
    }
    let mut spool_dirs = HashSet::new();
    for (i, s) in raw.sink.syslog.iter().enumerate() {
        let sink = c.syslog(i, s)?;
        if !spool_dirs.insert(sink.spool_dir.clone()) {
            let span = s.spool_dir.as_ref().map_or(s.address.span(), |d| d.span());
            return Err(c.ctx.at(
                Kind::BadValue,
                format!("sink.syslog[{i}].spool_dir"),
                span,
                format!(
                    "spool directory {} is used by another sink",
                    sink.spool_dir.display()
                ),
            ));
        }
        cfg.syslog.push(sink);
    }
    if let Some(s) = &raw.store {
        cfg.store = Some(StoreConfig {
            path: c.resolve(s.path.get_ref()),
            max_age: s
                .max_age
                .as_ref()
                .map(|d| {
                    d.get_ref()
                        .duration()
                        .map_err(|m| c.bad("store.max_age", d, m))
                })
                .transpose()?,
            max_bytes: s
                .max_bytes
                .as_ref()
                .map(|b| {
                    b.get_ref()
                        .bytes()
                        .map_err(|m| c.bad("store.max_bytes", b, m))
                })
                .transpose()?,
            sample_per_second: match &s.sample_per_second {
                None => super::DEFAULT_SAMPLE_PER_SECOND,
                Some(n) => u32::try_from(*n.get_ref())
                    .ok()
                    .filter(|v| *v <= super::MAX_SAMPLE_PER_SECOND)
                    .ok_or_else(|| {
                        c.bad(
                            "store.sample_per_second",
                            n,
                            format!(
                                "{} is not a rate between 0 and {}",
                                n.get_ref(),
                                super::MAX_SAMPLE_PER_SECOND
                            ),
                        )
                    })?,
            },
        });
    }
    for (i, ifname) in raw.interfaces.iter().enumerate() {
        let n = ifname.get_ref();
        // IFNAMSIZ is 16 including the NUL (include/uapi/linux/if.h).
        if n.is_empty()
            || n.len() > 15
            || n.contains(['/', ' ', '\t', ':'])
            || n == "."
            || n == ".."
        {
            return Err(c.bad(
                &format!("interfaces[{i}]"),
                ifname,
                format!("{n:?} is not a valid interface name"),
            ));
        }
        cfg.interfaces.push(n.clone());
    }
    if !raw.dns_ports.is_empty() {
        cfg.dns_ports.clear();
        for (i, p) in raw.dns_ports.iter().enumerate() {
            if *p.get_ref() == 0 {
                return Err(c.bad(&format!("dns_ports[{i}]"), p, "port 0 is not a DNS port"));
            }
            cfg.dns_ports.push(*p.get_ref());
        }
    }
    if let Some(m) = &raw.mode {
        cfg.mode = c.mode("mode", m)?;
    }
    let mut zone_names = HashSet::new();
    for (i, z) in raw.zone.iter().enumerate() {
        let name = c.dns_name(&format!("zone[{i}].name"), &z.name)?;
        if !zone_names.insert(name.to_ascii_lowercase()) {
            return Err(c.bad(
                &format!("zone[{i}].name"),
                &z.name,
                format!("zone {name} is listed twice"),
            ));
        }
        let key = format!("zone[{i}].trust_anchor");
        let trust_anchor = z
            .trust_anchor
            .as_ref()
            .map(|p| c.parsed_file(&key, p, anchors_ok))
            .transpose()?;
        if let (Some(path), Some(p)) = (&trust_anchor, &z.trust_anchor) {
            zone_anchors_ok(&name, path)
                .map_err(|why| c.ctx.at(Kind::BadValue, &key, p.span(), why))?;
        }
        cfg.zones.push(ZoneConfig {
            name,
            trust_anchor,
            upstream: c.resolver_list(&format!("zone[{i}].upstream"), &z.upstream)?,
            mode: z
                .mode
                .as_ref()
                .map(|m| c.mode(&format!("zone[{i}].mode"), m))
                .transpose()?,
        });
    }
    cfg.resolver_health = c.resolver_health(raw.resolver_health.as_ref())?;
    cfg.critical = c.critical(&raw.critical)?;
    cfg.signature_expiry_window = c.expiry_window(raw.signature_expiry_window.as_ref())?;
    Ok(cfg)
}

/// The trust anchor file as the engine reads it (DS/DNSKEY records).
fn anchors_ok(path: &Path) -> Result<(), String> {
    crate::dnssec::anchors::TrustAnchors::from_file(path)
        .map(drop)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A `[[zone]]`'s anchors sit at or below its name: the engine refuses
/// any other at start (`TrustAnchors::add_zone`), so the check does too.
fn zone_anchors_ok(zone: &str, path: &Path) -> Result<(), String> {
    use crate::dnssec::anchors::TrustAnchors;
    let anchors = TrustAnchors::from_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut name = hickory_proto::rr::Name::from_ascii(zone).map_err(|e| e.to_string())?;
    name.set_fqdn(true);
    TrustAnchors::empty()
        .add_zone(&name, anchors)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The root hints file as the engine reads it (`named.root` form).
fn hints_ok(path: &Path) -> Result<(), String> {
    crate::dnssec::roothints::RootHints::from_file(path)
        .map(drop)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The CA file as the TLS sink reads it (PEM certificates).
fn ca_ok(path: &Path) -> Result<(), String> {
    crate::sinks::syslog::tls::client_config(path)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The host part of `host:port` / `[v6]:port`, if the address has that shape.
pub fn host_of(address: &str) -> Option<String> {
    let (host, port) = address.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    (!host.is_empty() && !host.contains(char::is_whitespace)).then(|| host.to_owned())
}

impl Checker<'_> {
    pub(super) fn bad<T>(&self, key: &str, at: &Spanned<T>, msg: impl Into<String>) -> ConfigError {
        self.ctx.at(Kind::BadValue, key, at.span(), msg)
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base.join(p)
        }
    }

    /// `IP` (port 53) or `IP:port` / `[IPv6]:port`.
    fn resolver_list(
        &self,
        key: &str,
        list: &[Spanned<String>],
    ) -> Result<Vec<SocketAddr>, ConfigError> {
        list.iter()
            .enumerate()
            .map(|(i, s)| {
                let v = s.get_ref();
                v.parse::<SocketAddr>()
                    .or_else(|_| v.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                    .map_err(|_| {
                        self.bad(
                            &format!("{key}[{i}]"),
                            s,
                            format!("{v:?} is not an IP address or IP:port"),
                        )
                    })
            })
            .collect()
    }

    fn readable_file(&self, key: &str, p: &Spanned<PathBuf>) -> Result<PathBuf, ConfigError> {
        let path = self.resolve(p.get_ref());
        let unreadable = |why: String| {
            self.ctx.at(
                Kind::UnreadableFile,
                key,
                p.span(),
                format!("cannot read {}: {why}", path.display()),
            )
        };
        match std::fs::metadata(&path) {
            Err(e) => return Err(unreadable(e.to_string())),
            Ok(m) if !m.is_file() => return Err(unreadable("not a regular file".into())),
            Ok(_) => {}
        }
        std::fs::File::open(&path).map_err(|e| unreadable(e.to_string()))?;
        Ok(path)
    }

    /// [`Self::readable_file`] whose contents `check` also accepts: the
    /// daemon parses these files only once it starts, and a corrupt one
    /// must fail `check-config` (systemd's `ExecStartPre`), naming the key
    /// and its line, not the start.
    fn parsed_file(
        &self,
        key: &str,
        p: &Spanned<PathBuf>,
        check: fn(&Path) -> Result<(), String>,
    ) -> Result<PathBuf, ConfigError> {
        let path = self.readable_file(key, p)?;
        check(&path).map_err(|why| self.ctx.at(Kind::BadValue, key, p.span(), why))?;
        Ok(path)
    }

    /// A DNS name in presentation format: labels of 1..=63 octets, at most
    /// 253 octets without the final dot (RFC 1035 §2.3.4). Returned
    /// lowercased without the final dot.
    pub(super) fn dns_name(&self, key: &str, s: &Spanned<String>) -> Result<String, ConfigError> {
        let v = s.get_ref().trim();
        let name = v.strip_suffix('.').unwrap_or(v).to_ascii_lowercase();
        let ok = !name.is_empty()
            && name.len() <= 253
            && name
                .split('.')
                .all(|l| !l.is_empty() && l.len() <= 63 && !l.contains(char::is_whitespace));
        if ok || v == "." {
            Ok(if v == "." { ".".to_owned() } else { name })
        } else {
            Err(self.bad(key, s, format!("{v:?} is not a DNS name")))
        }
    }

    /// A TOML offset date-time (`2026-12-31T00:00:00Z`) as a point in time.
    fn mode(&self, key: &str, m: &Spanned<String>) -> Result<Mode, ConfigError> {
        match m.get_ref().as_str() {
            "enforce" => Ok(Mode::Enforce),
            "audit" => Ok(Mode::Audit),
            other => Err(self.bad(
                key,
                m,
                format!("{other:?} is not a mode (enforce or audit)"),
            )),
        }
    }

    fn instant(&self, key: &str, d: &Spanned<Datetime>) -> Result<SystemTime, ConfigError> {
        offset_datetime(d.get_ref()).map_err(|m| self.bad(key, d, m))
    }

    fn syslog(&self, i: usize, s: &RawSyslog) -> Result<SyslogSinkConfig, ConfigError> {
        let key = |k: &str| format!("sink.syslog[{i}].{k}");
        let transport = match s.transport.get_ref().as_str() {
            "udp" => TransportKind::Udp,
            "tcp" => TransportKind::Tcp,
            "tls" => TransportKind::Tls,
            other => {
                return Err(self.bad(
                    &key("transport"),
                    &s.transport,
                    format!("{other:?} is not one of udp, tcp, tls"),
                ));
            }
        };
        let address = s.address.get_ref().clone();
        if host_of(&address).is_none() {
            return Err(self.bad(
                &key("address"),
                &s.address,
                format!("{address:?} is not host:port"),
            ));
        }
        let tls_only = |name: &str, at: std::ops::Range<usize>| {
            self.ctx.at(
                Kind::BadValue,
                key(name),
                at,
                "only applies to transport = \"tls\"",
            )
        };
        let ca_file = match &s.ca_file {
            Some(p) if transport != TransportKind::Tls => {
                return Err(tls_only("ca_file", p.span()));
            }
            Some(p) => Some(self.parsed_file(&key("ca_file"), p, ca_ok)?),
            None if transport == TransportKind::Tls => {
                // The system bundle is the default: it must be there.
                let sys = Spanned::new(s.transport.span(), PathBuf::from(tls::SYSTEM_CA_FILE));
                self.readable_file(&key("transport"), &sys)?;
                None
            }
            None => None,
        };
        let server_name = match &s.server_name {
            Some(n) if transport != TransportKind::Tls => {
                return Err(tls_only("server_name", n.span()));
            }
            Some(n) => {
                tls::server_name(n.get_ref())
                    .map_err(|e| self.bad(&key("server_name"), n, e.to_string()))?;
                Some(n.get_ref().clone())
            }
            None if transport == TransportKind::Tls => {
                let host = host_of(&address).unwrap_or_default();
                tls::server_name(&host).map_err(|_| {
                    self.bad(
                        &key("address"),
                        &s.address,
                        format!(
                            "{host:?} cannot be checked against a certificate; set server_name"
                        ),
                    )
                })?;
                None
            }
            None => None,
        };
        let spool_dir = match &s.spool_dir {
            Some(d) => self.resolve(d.get_ref()),
            None => {
                let tag: String = address
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                Path::new(DEFAULT_SPOOL_ROOT).join(format!("{}-{tag}", s.transport.get_ref()))
            }
        };
        let spool_max_bytes = match &s.spool_max_bytes {
            Some(b) => {
                let n = b
                    .get_ref()
                    .bytes()
                    .map_err(|m| self.bad(&key("spool_max_bytes"), b, m))?;
                if n < 4096 {
                    return Err(self.bad(
                        &key("spool_max_bytes"),
                        b,
                        "must be at least 4096 bytes",
                    ));
                }
                n
            }
            None => DEFAULT_SPOOL_MAX_BYTES,
        };
        let facility = match &s.facility {
            Some(f) => facility(f.get_ref()).ok_or_else(|| {
                self.bad(
                    &key("facility"),
                    f,
                    format!("{:?} is not a syslog facility", f.get_ref()),
                )
            })?,
            None => Facility::AUTH,
        };
        Ok(SyslogSinkConfig {
            transport,
            address,
            server_name,
            ca_file,
            spool_dir,
            spool_max_bytes,
            facility,
        })
    }
}

/// An RFC 3339 date-time with offset (TOML's offset date-time), such as
/// `2026-12-31T00:00:00Z`, as a point in time.
pub fn offset_datetime(dt: &Datetime) -> Result<SystemTime, String> {
    let (Some(date), Some(time), Some(offset)) = (dt.date, dt.time, dt.offset) else {
        return Err("needs a full date-time with offset, e.g. 2026-12-31T00:00:00Z".to_owned());
    };
    let days = days_from_civil(
        i64::from(date.year),
        u32::from(date.month),
        u32::from(date.day),
    );
    let offset_min = match offset {
        Offset::Z => 0,
        Offset::Custom { minutes } => i64::from(minutes),
    };
    let secs = days * 86_400
        + i64::from(time.hour) * 3600
        + i64::from(time.minute) * 60
        + i64::from(time.second)
        - offset_min * 60;
    let secs = u64::try_from(secs).map_err(|_| "date before 1970".to_owned())?;
    Ok(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_nanos(u64::from(time.nanosecond)))
}

/// RFC 5424 §6.2.1 table 1, by the names syslog.conf uses.
fn facility(name: &str) -> Option<Facility> {
    const NAMES: [&str; 16] = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
        "authpriv", "ftp", "ntp", "security", "console", "clock",
    ];
    if let Some(n) = name.strip_prefix("local") {
        return n
            .parse::<u8>()
            .ok()
            .filter(|&n| n <= 7)
            .and_then(|n| Facility::new(16 + n));
    }
    NAMES
        .iter()
        .position(|&n| n == name)
        .and_then(|i| Facility::new(i as u8))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
