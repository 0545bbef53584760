//! Network interfaces, now and as they come and go: an rtnetlink socket
//! (NETLINK_ROUTE) subscribed to RTMGRP_LINK, plus an RTM_GETLINK dump of
//! what exists at start. The tc programs are attached to each interface as
//! it appears (containers create veths all the time).
//!
//! Message layout: rtnetlink(7), netlink(7); `struct ifinfomsg` and the
//! IFLA_* attributes from `include/uapi/linux/if_link.h`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// What happened to an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// It exists (new, or changed: rtnetlink sends RTM_NEWLINK for both).
    New {
        index: u32,
        name: String,
        /// ARPHRD_* device type (1 Ethernet, 772 loopback, 65534 none, …).
        arphrd: u16,
        /// `IFLA_INFO_KIND` ("veth", "bridge", "vlan", …); none for a
        /// physical NIC (no rtnl_link_ops).
        kind: Option<String>,
    },
    Gone {
        index: u32,
        name: String,
    },
}

const NLMSG_HDRLEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const RTMGRP_LINK: u32 = 1;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The link events in one datagram from the socket. Malformed or foreign
/// messages are skipped; a truncated message ends the parse.
pub fn parse_messages(buf: &[u8]) -> Vec<LinkEvent> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + NLMSG_HDRLEN <= buf.len() {
        let h = &buf[off..];
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let ty = u16::from_ne_bytes([h[4], h[5]]);
        if len < NLMSG_HDRLEN || off + len > buf.len() {
            break;
        }
        let body = &h[NLMSG_HDRLEN..len];
        if ty == NLMSG_DONE || ty == NLMSG_ERROR {
            break;
        }
        if (ty == RTM_NEWLINK || ty == RTM_DELLINK)
            && let Some(ev) = parse_link(ty, body)
        {
            out.push(ev);
        }
        off += align4(len);
    }
    out
}

/// The payload of the first attribute of type `want` in a run of rtattrs
/// (NLA_F_NESTED and NLA_F_NET_BYTEORDER masked off); a malformed run ends
/// the search.
fn attr(mut attrs: &[u8], want: u16) -> Option<&[u8]> {
    while attrs.len() >= 4 {
        let alen = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
        let aty = u16::from_ne_bytes([attrs[2], attrs[3]]) & 0x3fff;
        if alen < 4 || alen > attrs.len() {
            return None;
        }
        if aty == want {
            return Some(&attrs[4..alen]);
        }
        attrs = &attrs[align4(alen).min(attrs.len())..];
    }
    None
}

/// A NUL-terminated (or not) UTF-8 string attribute.
fn c_string(v: &[u8]) -> Option<String> {
    let v = v.split(|&b| b == 0).next().unwrap_or(v);
    std::str::from_utf8(v).ok().map(str::to_owned)
}

fn parse_link(ty: u16, body: &[u8]) -> Option<LinkEvent> {
    if body.len() < IFINFOMSG_LEN {
        return None;
    }
    let arphrd = u16::from_ne_bytes([body[2], body[3]]);
    let index = i32::from_ne_bytes([body[4], body[5], body[6], body[7]]);
    let index = u32::try_from(index).ok().filter(|&i| i > 0)?;
    let attrs = &body[IFINFOMSG_LEN..];
    let name = attr(attrs, IFLA_IFNAME).and_then(c_string);
    // IFLA_LINKINFO nests IFLA_INFO_KIND (include/uapi/linux/if_link.h).
    let kind = attr(attrs, IFLA_LINKINFO)
        .and_then(|info| attr(info, IFLA_INFO_KIND))
        .and_then(c_string);
    let name = name.filter(|n| !n.is_empty())?;
    Some(if ty == RTM_NEWLINK {
        LinkEvent::New {
            index,
            name,
            arphrd,
            kind,
        }
    } else {
        LinkEvent::Gone { index, name }
    })
}

/// Whether the datagram ends a dump (NLMSG_DONE or an error reply).
pub fn ends_dump(buf: &[u8]) -> bool {
    let mut off = 0;
    while off + NLMSG_HDRLEN <= buf.len() {
        let h = &buf[off..];
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let ty = u16::from_ne_bytes([h[4], h[5]]);
        if ty == NLMSG_DONE || ty == NLMSG_ERROR {
            return true;
        }
        if len < NLMSG_HDRLEN {
            return false;
        }
        off += align4(len);
    }
    false
}

/// A non-blocking rtnetlink socket in the link multicast group.
pub struct LinkSocket {
    fd: OwnedFd,
}

impl LinkSocket {
    pub fn open() -> io::Result<Self> {
        // SAFETY: plain socket(2); the fd is owned right away.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: zeroed sockaddr_nl is valid; we set the fields we need.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as u16;
        sa.nl_groups = RTMGRP_LINK;
        // SAFETY: sa is a valid sockaddr_nl of the given size.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(LinkSocket { fd })
    }

    /// Asks for every existing interface (answers arrive as RTM_NEWLINK).
    pub fn request_dump(&self) -> io::Result<()> {
        let mut msg = [0u8; NLMSG_HDRLEN + IFINFOMSG_LEN];
        let len = msg.len() as u32;
        msg[0..4].copy_from_slice(&len.to_ne_bytes());
        msg[4..6].copy_from_slice(&RTM_GETLINK.to_ne_bytes());
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
        msg[6..8].copy_from_slice(&flags.to_ne_bytes());
        msg[8..12].copy_from_slice(&1u32.to_ne_bytes());
        // ifinfomsg.ifi_family = AF_UNSPEC (0): all.
        // SAFETY: msg is a valid buffer of len bytes.
        let r = unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The interfaces that exist now: a dump, waited for at most `timeout`.
    pub fn dump(&self, timeout: std::time::Duration) -> io::Result<Vec<LinkEvent>> {
        self.request_dump()?;
        let deadline = std::time::Instant::now() + timeout;
        let mut buf = vec![0u8; 65536];
        let mut out = Vec::new();
        loop {
            match self.recv(&mut buf) {
                Ok(n) => {
                    out.extend(parse_messages(&buf[..n]));
                    if ends_dump(&buf[..n]) {
                        return Ok(out);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "rtnetlink link dump did not finish",
                        ));
                    }
                    let mut pfd = libc::pollfd {
                        fd: self.fd.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd.
                    unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(1000) as i32) };
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One datagram into `buf`; `WouldBlock` when none is queued.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: buf is writable for buf.len() bytes.
        let r = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(r as usize)
    }
}

impl AsRawFd for LinkSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for LinkSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One rtattr, padded to 4 bytes.
    fn rtattr(ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&ty.to_ne_bytes());
        a.extend_from_slice(payload);
        while !a.len().is_multiple_of(4) {
            a.push(0);
        }
        a
    }

    fn msg(ty: u16, index: i32, arphrd: u16, name: Option<&str>) -> Vec<u8> {
        msg_with(ty, index, arphrd, name, &[])
    }

    /// `msg` with more attributes after the name.
    fn msg_with(ty: u16, index: i32, arphrd: u16, name: Option<&str>, more: &[u8]) -> Vec<u8> {
        let mut body = vec![0u8; IFINFOMSG_LEN];
        body[2..4].copy_from_slice(&arphrd.to_ne_bytes());
        body[4..8].copy_from_slice(&index.to_ne_bytes());
        if let Some(n) = name {
            body.extend(rtattr(IFLA_IFNAME, format!("{n}\0").as_bytes()));
        }
        body.extend_from_slice(more);
        let mut m = vec![0u8; NLMSG_HDRLEN];
        let len = (NLMSG_HDRLEN + body.len()) as u32;
        m[0..4].copy_from_slice(&len.to_ne_bytes());
        m[4..6].copy_from_slice(&ty.to_ne_bytes());
        m.extend(body);
        m
    }

    #[test]
    fn new_and_del_in_one_datagram() {
        let mut buf = msg(RTM_NEWLINK, 7, 1, Some("veth0"));
        buf.extend(msg(RTM_DELLINK, 8, 1, Some("veth1")));
        assert_eq!(
            parse_messages(&buf),
            vec![
                LinkEvent::New {
                    index: 7,
                    name: "veth0".into(),
                    arphrd: 1,
                    kind: None,
                },
                LinkEvent::Gone {
                    index: 8,
                    name: "veth1".into()
                },
            ]
        );
    }

    #[test]
    fn link_kind_from_nested_linkinfo() {
        // IFLA_LINKINFO (with NLA_F_NESTED set, as the kernel sends it)
        // holding IFLA_INFO_KIND after another nested attribute.
        let mut info = rtattr(2, &[0; 8]); // IFLA_INFO_DATA, skipped
        info.extend(rtattr(IFLA_INFO_KIND, b"veth\0"));
        let linkinfo = rtattr(IFLA_LINKINFO | 0x8000, &info);
        let mut more = rtattr(4, &1500u32.to_ne_bytes()); // IFLA_MTU first
        more.extend(linkinfo);
        let buf = msg_with(RTM_NEWLINK, 9, 1, Some("veth9"), &more);
        assert_eq!(
            parse_messages(&buf),
            vec![LinkEvent::New {
                index: 9,
                name: "veth9".into(),
                arphrd: 1,
                kind: Some("veth".into()),
            }]
        );
        // A kind attribute cut short: the link is still reported, kindless.
        let mut bad = rtattr(IFLA_INFO_KIND, b"bridge\0");
        bad[0] = 0xff;
        let buf = msg_with(RTM_NEWLINK, 9, 1, Some("br0"), &rtattr(IFLA_LINKINFO, &bad));
        assert!(matches!(
            &parse_messages(&buf)[..],
            [LinkEvent::New { kind: None, .. }]
        ));
    }

    #[test]
    fn nameless_negative_index_and_truncated_skipped() {
        let mut buf = msg(RTM_NEWLINK, 3, 1, None);
        buf.extend(msg(RTM_NEWLINK, -1, 1, Some("x")));
        assert!(parse_messages(&buf).is_empty());
        let full = msg(RTM_NEWLINK, 3, 1, Some("eth0"));
        for cut in 0..full.len() {
            assert!(parse_messages(&full[..cut]).is_empty(), "cut at {cut}");
        }
        // A lying attribute length ends the attribute walk without panic.
        let mut bad = full.clone();
        bad[NLMSG_HDRLEN + IFINFOMSG_LEN] = 0xff;
        assert!(parse_messages(&bad).is_empty());
    }

    #[test]
    fn done_detected() {
        let mut buf = msg(RTM_NEWLINK, 7, 1, Some("veth0"));
        assert!(!ends_dump(&buf));
        let mut done = vec![0u8; NLMSG_HDRLEN + 4];
        done[0..4].copy_from_slice(&((NLMSG_HDRLEN + 4) as u32).to_ne_bytes());
        done[4..6].copy_from_slice(&NLMSG_DONE.to_ne_bytes());
        buf.extend(done);
        assert!(ends_dump(&buf));
    }

    #[test]
    fn dump_of_this_machine_has_lo() {
        let s = LinkSocket::open().expect("netlink socket");
        let seen = s.dump(std::time::Duration::from_secs(5)).unwrap();
        assert!(
            seen.iter()
                .any(|e| matches!(e, LinkEvent::New { name, arphrd: 772, .. } if name == "lo")),
            "{seen:?}"
        );
    }
}
