//! Off-path injection: a UDP datagram with a forged IPv4 source, written
//! through a raw socket (IPPROTO_RAW implies IP_HDRINCL, raw(7)) from a
//! thread inside the attacker namespace.

use std::net::SocketAddrV4;

use anyhow::{Result, anyhow, bail};

use super::relay::enter_netns;

/// IPv4 header (RFC 791) + UDP header (RFC 768, checksum 0 = none) + payload.
pub fn ipv4_udp(src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> Vec<u8> {
    let total = 20 + 8 + payload.len();
    let mut p = Vec::with_capacity(total);
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&[0x12, 0x34, 0x40, 0]); // id, DF
    p.extend_from_slice(&[64, 17, 0, 0]); // TTL, UDP, checksum (kernel fills it)
    p.extend_from_slice(&src.ip().octets());
    p.extend_from_slice(&dst.ip().octets());
    p.extend_from_slice(&src.port().to_be_bytes());
    p.extend_from_slice(&dst.port().to_be_bytes());
    p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

/// Sends `payload` as UDP from `src` (forged) to `dst`, from namespace `ns`.
pub fn send_spoofed(ns: &str, src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> Result<()> {
    let ns = ns.to_string();
    let packet = ipv4_udp(src, dst, payload);
    std::thread::spawn(move || -> Result<()> {
        enter_netns(&ns)?;
        // SAFETY: plain socket(2) call; the fd is closed below.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
        if fd < 0 {
            bail!("raw socket: {}", std::io::Error::last_os_error());
        }
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes(dst.ip().octets()),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: buffer and sockaddr are valid for the given lengths.
        let n = unsafe {
            libc::sendto(
                fd,
                packet.as_ptr().cast(),
                packet.len(),
                0,
                (&raw const sa).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        let err = std::io::Error::last_os_error();
        // SAFETY: closing the fd we opened.
        unsafe { libc::close(fd) };
        if n < 0 {
            bail!("raw sendto {dst}: {err}");
        }
        Ok(())
    })
    .join()
    .map_err(|_| anyhow!("spoofer thread panicked"))?
}
