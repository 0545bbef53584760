//! A syslog sink as the daemon uses it: alerts in (JSON), RFC 5424
//! messages out through a [`ReliableSink`] (spool, reconnect, counters).

use std::time::{Duration, SystemTime};

use super::{Facility, Rfc5424Formatter, SyslogTransport, tls::TlsConfigError};
use crate::sinks::{
    reliable::{ReliableSink, ReliableSinkOptions, SinkStats, SinkStatsReader},
    spool::SpoolError,
};

#[derive(Debug, thiserror::Error)]
pub enum SinkStartError {
    #[error(transparent)]
    Tls(#[from] TlsConfigError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

pub struct SyslogSink {
    formatter: Rfc5424Formatter,
    inner: ReliableSink,
}

impl SyslogSink {
    /// Open the spool and start the sink thread; `name` labels logs and
    /// metrics (the collector address is a good one).
    pub fn start(
        name: &str,
        transport: SyslogTransport,
        facility: Facility,
        opts: ReliableSinkOptions,
    ) -> Result<SyslogSink, SinkStartError> {
        Ok(SyslogSink {
            formatter: Rfc5424Formatter::new(facility),
            inner: ReliableSink::start(name, transport, opts)?,
        })
    }

    /// Format and hand over one alert; never blocks. `false` when the
    /// hand-over queue is full (counted in [`SinkStats::dropped_queue_full`]).
    pub fn send_alert(&self, alert: &serde_json::Value) -> bool {
        self.inner
            .try_send(self.formatter.format_alert(alert, SystemTime::now()))
    }

    pub fn name(&self) -> &str {
        self.inner.name()
    }

    pub fn stats(&self) -> SinkStats {
        self.inner.stats()
    }

    pub fn stats_reader(&self) -> SinkStatsReader {
        self.inner.stats_reader()
    }

    /// See [`ReliableSink::shutdown`].
    pub async fn shutdown(self, grace: Duration) {
        self.inner.shutdown(grace).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::syslog::{format::tests::parse_rfc5424, transport::tests::Collector};

    #[tokio::test]
    async fn alerts_arrive_as_rfc5424_with_the_rule_as_msgid() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let c = Collector::start("127.0.0.1:0".parse().unwrap(), None, tx).await;
        let dir = tempfile::tempdir().unwrap();
        let sink = SyslogSink::start(
            "t",
            SyslogTransport::tcp(c.addr.to_string()),
            Facility::AUTH,
            ReliableSinkOptions::new(dir.path()),
        )
        .unwrap();
        let alert =
            serde_json::json!({"rule": {"name": "bogus_signature"}, "event": {"risk_score": 73}});
        assert!(sink.send_alert(&alert));
        let raw = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        let p = parse_rfc5424(&raw).unwrap();
        assert_eq!(
            (p.msgid.as_str(), p.pri, p.app_name.as_str()),
            ("bogus_signature", 4 * 8 + 3, "dnssec-monitor")
        );
        assert_eq!(p.procid, std::process::id().to_string());
        sink.shutdown(Duration::from_secs(1)).await;
        c.stop().await;
    }

    #[test]
    fn a_spool_in_use_is_a_start_error() {
        let dir = tempfile::tempdir().unwrap();
        let _held = crate::sinks::spool::Spool::open(dir.path(), Default::default()).unwrap();
        let r = SyslogSink::start(
            "t",
            SyslogTransport::udp("127.0.0.1:9"),
            Facility::AUTH,
            ReliableSinkOptions::new(dir.path()),
        );
        assert!(matches!(
            r,
            Err(SinkStartError::Spool(SpoolError::Locked(_)))
        ));
    }
}
