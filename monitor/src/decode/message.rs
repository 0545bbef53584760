//! What the decoder hands on: one complete DNS message and where it was seen.

use std::net::SocketAddr;
use std::sync::Arc;
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
    /// The DNS message bytes (no TCP length prefix); shared, so whoever
    /// keeps them (the outstanding query table) takes a reference, not a
    /// copy.
    pub raw: crate::decode::Wire,
    /// The transaction id of *this* message (RFC 1035 §4.1.1). Read it
    /// here, not from `message.metadata.id`: the parsed message may be
    /// shared with an earlier copy under another id (see `decode/memo.rs`).
    pub txid: u16,
    /// Shared: the parsed message is large, the event is moved from stage
    /// to stage by value, and repeated messages share one parse.
    pub message: Arc<hickory_proto::op::Message>,
}
