//! What the decoder hands on: one complete DNS message and where it was seen.

use std::net::SocketAddr;
use std::time::SystemTime;

use crate::capture::InterfaceRef;

/// How the message travelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// ECS `network.transport` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// One decoded DNS message.
#[derive(Clone, Debug)]
pub struct DnsMessage {
    /// Capture time of the packet that completed the message (the last
    /// fragment or TCP segment).
    pub timestamp: SystemTime,
    pub transport: Transport,
    /// Sender of this message (not necessarily the client).
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub interface: Option<InterfaceRef>,
    pub socket_cookie: Option<u64>,
    /// The DNS message bytes (no TCP length prefix).
    pub raw: Vec<u8>,
    pub message: hickory_proto::op::Message,
}
