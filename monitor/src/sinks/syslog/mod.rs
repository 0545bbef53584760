//! Syslog output: RFC 5424 message format and its transports.
//!
//! - [`format`]: one alert as an RFC 5424 message (PRI, header, SD, MSG).
//! - [`transport`]: UDP (RFC 5426), TCP with octet counting (RFC 6587 §3.4.1)
//!   and TLS (RFC 5425, same framing), behind one connect/send interface.
//! - [`tls`]: the rustls client configuration (CA file, ring provider).
//! - [`sink`]: alerts in, messages out through the reliable (spooling) sink.

pub mod format;
pub mod sink;
pub mod tls;
pub mod transport;

pub use format::{Facility, Rfc5424Formatter, Severity};
pub use sink::{SinkStartError, SyslogSink};
pub use transport::{SyslogConnection, SyslogTransport, TransportKind};
