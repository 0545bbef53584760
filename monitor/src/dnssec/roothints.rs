//! Root hints: where iterative resolution starts (RFC 1034 §5.3.3, the
//! "SBELT" of a resolver). Built in from IANA's `named.root` (the root
//! servers' addresses as published in 2024, b.root's 2023 renumbering
//! included); `--root-hints FILE` reads the same `named.root` format.

use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;

use hickory_proto::rr::Name;

/// Names and addresses of the root servers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootHints {
    pub servers: Vec<(Name, Vec<IpAddr>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum RootHintsError {
    #[error("cannot read root hints {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("root hints line {line}: {why}")]
    Syntax { line: usize, why: String },
    #[error("root hints contain no server address")]
    Empty,
}

/// IANA `named.root` (https://www.internic.net/domain/named.root).
const IANA: &[(&str, &str, &str)] = &[
    ("a.root-servers.net.", "198.41.0.4", "2001:503:ba3e::2:30"),
    ("b.root-servers.net.", "170.247.170.2", "2801:1b8:10::b"),
    ("c.root-servers.net.", "192.33.4.12", "2001:500:2::c"),
    ("d.root-servers.net.", "199.7.91.13", "2001:500:2d::d"),
    ("e.root-servers.net.", "192.203.230.10", "2001:500:a8::e"),
    ("f.root-servers.net.", "192.5.5.241", "2001:500:2f::f"),
    ("g.root-servers.net.", "192.112.36.4", "2001:500:12::d0d"),
    ("h.root-servers.net.", "198.97.190.53", "2001:500:1::53"),
    ("i.root-servers.net.", "192.36.148.17", "2001:7fe::53"),
    ("j.root-servers.net.", "192.58.128.30", "2001:503:c27::2:30"),
    ("k.root-servers.net.", "193.0.14.129", "2001:7fd::1"),
    ("l.root-servers.net.", "199.7.83.42", "2001:500:9f::42"),
    ("m.root-servers.net.", "202.12.27.33", "2001:dc3::35"),
];

impl RootHints {
    /// The 13 IANA root servers, IPv4 and IPv6.
    pub fn iana() -> Self {
        let servers = IANA
            .iter()
            .map(|(name, v4, v6)| {
                let name = Name::from_ascii(name).expect("built-in root server name is valid");
                let v4 = IpAddr::from_str(v4).expect("built-in IPv4 address is valid");
                let v6 = IpAddr::from_str(v6).expect("built-in IPv6 address is valid");
                (name, vec![v4, v6])
            })
            .collect();
        Self { servers }
    }

    /// Hints made of bare addresses (tests, Deckard `stub-addr`, a lab root).
    pub fn from_addrs(addrs: Vec<IpAddr>) -> Self {
        let servers = addrs
            .into_iter()
            .enumerate()
            .map(|(i, ip)| {
                let name = Name::from_ascii(format!("hint{i}.root-servers.invalid."))
                    .unwrap_or_else(|_| Name::root());
                (name, vec![ip])
            })
            .collect();
        Self { servers }
    }

    /// Reads a `named.root`-style file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, RootHintsError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| RootHintsError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_text(&text)
    }

    /// Parses `named.root` text: `. NS name`, `name A addr`, `name AAAA addr`
    /// (TTL and class optional); `;` starts a comment.
    pub fn from_text(text: &str) -> Result<Self, RootHintsError> {
        let mut servers: Vec<(Name, Vec<IpAddr>)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.split(';').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let tokens: Vec<&str> = line.split_whitespace().collect();
            let syntax = |why: &str| RootHintsError::Syntax {
                line: line_no,
                why: format!("{why}: {raw:?}"),
            };
            // owner [ttl] [class] type rdata
            let owner = Name::from_ascii(tokens[0]).map_err(|_| syntax("bad owner name"))?;
            let mut rest = &tokens[1..];
            while let Some(t) = rest.first() {
                if t.chars().all(|c| c.is_ascii_digit()) || t.eq_ignore_ascii_case("IN") {
                    rest = &rest[1..];
                } else {
                    break;
                }
            }
            let [rtype, rdata] = rest else {
                return Err(syntax("expected `owner [ttl] [class] type rdata`"));
            };
            let entry = |servers: &mut Vec<(Name, Vec<IpAddr>)>, name: &Name| -> usize {
                match servers.iter().position(|(n, _)| n == name) {
                    Some(p) => p,
                    None => {
                        servers.push((name.clone(), Vec::new()));
                        servers.len() - 1
                    }
                }
            };
            match rtype.to_ascii_uppercase().as_str() {
                "NS" => {
                    if !owner.is_root() {
                        return Err(syntax("NS owner is not the root"));
                    }
                    let ns = Name::from_ascii(rdata).map_err(|_| syntax("bad NS name"))?;
                    entry(&mut servers, &ns);
                }
                "A" | "AAAA" => {
                    let ip = IpAddr::from_str(rdata).map_err(|_| syntax("bad address"))?;
                    if (rtype.eq_ignore_ascii_case("A")) != ip.is_ipv4() {
                        return Err(syntax("address family does not match the type"));
                    }
                    let p = entry(&mut servers, &owner);
                    servers[p].1.push(ip);
                }
                _ => return Err(syntax("unexpected record type")),
            }
        }
        servers.retain(|(_, addrs)| !addrs.is_empty());
        if servers.is_empty() {
            return Err(RootHintsError::Empty);
        }
        Ok(Self { servers })
    }

    /// Every address, IPv4 first then IPv6 within each server.
    pub fn addresses(&self) -> Vec<IpAddr> {
        self.servers
            .iter()
            .flat_map(|(_, a)| a.iter().copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_has_thirteen_dual_stack_servers() {
        let h = RootHints::iana();
        assert_eq!(h.servers.len(), 13);
        assert!(h.servers.iter().all(|(_, a)| a.len() == 2));
        assert!(h.addresses().contains(&"198.41.0.4".parse().unwrap()));
    }

    #[test]
    fn parses_named_root() {
        let text = ";       This file holds the information on root name servers\n\
            .                        3600000      NS    A.ROOT-SERVERS.NET.\n\
            A.ROOT-SERVERS.NET.      3600000      A     198.41.0.4\n\
            A.ROOT-SERVERS.NET.      3600000      AAAA  2001:503:ba3e::2:30\n\
            .                        3600000      NS    B.ROOT-SERVERS.NET.\n\
            B.ROOT-SERVERS.NET.      3600000  IN  A     170.247.170.2\n";
        let h = RootHints::from_text(text).unwrap();
        assert_eq!(h.servers.len(), 2);
        assert_eq!(h.servers[0].1.len(), 2);
    }

    #[test]
    fn rejects_bad_lines() {
        assert!(matches!(
            RootHints::from_text("A.ROOT-SERVERS.NET. 3600000 A 2001:db8::1\n"),
            Err(RootHintsError::Syntax { line: 1, .. })
        ));
        assert!(matches!(
            RootHints::from_text("; nothing\n"),
            Err(RootHintsError::Empty)
        ));
        assert!(matches!(
            RootHints::from_text("x. MX 10 y.\n"),
            Err(RootHintsError::Syntax { .. })
        ));
    }
}
