//! What the decode stage loses, for `capture_loss` and the metrics.
//!
//! DESIGN.md: `capture_loss` fires when "the kernel or any stage dropped
//! events". The decoder drops DNS messages the host did receive when its
//! own limits or gaps in capture get in the way (a TCP hole given up on, a
//! flow evicted, fragments over the memory bound, a message over the size
//! limit, a packet captured short — the kernel's `truncated`, counted once,
//! here): those join the alert. What the host's
//! own stack drops as well (fragments that never completed, overlapping
//! fragments, malformed packets) is not a loss of the monitor and stays a
//! metric only.
//!
//! These counters are left out of the detector's loss *probe*, which
//! holds back `unsolicited_response`/`response_race` alerts for a moment
//! after a loss: anyone who can send the host one oversized message or a
//! TCP segment with a hole could otherwise buy a window in which a blind
//! spoof is not reported.

use super::run_ops::sample;
use crate::decode::counters::FIELDS;
use crate::metrics::{STAGE_DROPPED, STAGE_EMITTED, STAGE_RECEIVED, Sample};

/// Prefix of the decoder's counters in the `capture_loss` counter list.
pub const DECODER_PREFIX: &str = "decoder_";

/// Decoder counters that are DNS messages the host received and the
/// monitor did not see.
pub const DECODER_LOSSES: [&str; 5] = [
    "truncated_capture",
    "frag_limit",
    "tcp_gap",
    "tcp_flow_limit",
    "oversized",
];

/// Decoder counters shown as the `decode` stage's drops in the metrics
/// (every way a packet or message ends without a DNS message, losses and
/// garbage alike).
const DECODE_DROPS: [&str; 12] = [
    "malformed_l2",
    "malformed_l3",
    "malformed_l4",
    "truncated_capture",
    "frag_timeout",
    "frag_overlap",
    "frag_limit",
    "tcp_gap",
    "tcp_flow_limit",
    "tcp_incomplete",
    "malformed_dns",
    "oversized",
];

/// The decoder's losses, named for the `capture_loss` counter list.
pub fn decoder_losses(snapshot: &[(&'static str, u64); FIELDS]) -> Vec<(String, u64)> {
    snapshot
        .iter()
        .filter(|(n, _)| DECODER_LOSSES.contains(n))
        .map(|(n, v)| (format!("{DECODER_PREFIX}{n}"), *v))
        .collect()
}

/// Whether a counter of the `capture_loss` list may hold back the
/// correlation alerts (see the module comment): capture-side losses only.
pub fn suppresses(name: &str) -> bool {
    !name.starts_with(DECODER_PREFIX)
}

/// The decoder's counters as the `decode` stage: packets received,
/// messages passed on, drops by reason.
pub fn decode_samples(snapshot: &[(&'static str, u64); FIELDS]) -> Vec<Sample> {
    let get = |name: &str| {
        snapshot
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v)
    };
    let mut out = vec![
        sample(
            STAGE_RECEIVED,
            "Items a pipeline stage received.",
            &[("stage", "decode")],
            get("packets"),
        ),
        sample(
            STAGE_EMITTED,
            "Items a pipeline stage passed on.",
            &[("stage", "decode")],
            get("messages"),
        ),
    ];
    for reason in DECODE_DROPS {
        out.push(sample(
            STAGE_DROPPED,
            "Items a pipeline stage dropped, by reason.",
            &[("stage", "decode"), ("reason", reason)],
            get(reason),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::DecodeCounters;

    #[test]
    fn only_messages_the_monitor_missed_are_losses() {
        let c = DecodeCounters {
            tcp_gap: 3,
            oversized: 1,
            frag_timeout: 9,
            frag_overlap: 4,
            malformed_dns: 5,
            ..DecodeCounters::default()
        };
        let l = decoder_losses(&c.fields());
        let get = |n: &str| l.iter().find(|(k, _)| k == n).map(|(_, v)| *v);
        assert_eq!(get("decoder_tcp_gap"), Some(3));
        assert_eq!(get("decoder_oversized"), Some(1));
        assert_eq!(get("decoder_frag_limit"), Some(0));
        // What the host's own stack drops too is not the monitor's loss.
        assert_eq!(get("decoder_frag_timeout"), None);
        assert_eq!(get("decoder_frag_overlap"), None);
        assert_eq!(get("decoder_malformed_dns"), None);
        assert_eq!(l.len(), DECODER_LOSSES.len());
        // Every listed loss is a real decoder counter (a renamed field
        // would silently drop out of the alert).
        for n in DECODER_LOSSES.iter().chain(DECODE_DROPS.iter()) {
            assert!(c.fields().iter().any(|(k, _)| k == n), "{n}");
        }
    }

    #[test]
    fn only_capture_side_losses_hold_back_correlation_alerts() {
        assert!(suppresses("kernel_ring_full"));
        assert!(suppresses("ring_channel_full"));
        assert!(suppresses("decode_channel_full"));
        assert!(!suppresses("decoder_oversized"));
        assert!(!suppresses("decoder_tcp_gap"));
    }

    #[test]
    fn decode_stage_metrics_name_every_drop_reason() {
        let c = DecodeCounters {
            packets: 10,
            messages: 6,
            malformed_dns: 2,
            tcp_gap: 1,
            ..DecodeCounters::default()
        };
        let s = decode_samples(&c.fields());
        let find = |name: &str, reason: Option<&str>| {
            s.iter()
                .find(|x| {
                    x.name == name
                        && x.labels.iter().any(|(k, v)| k == "stage" && v == "decode")
                        && reason
                            .is_none_or(|r| x.labels.iter().any(|(k, v)| k == "reason" && v == r))
                })
                .map(|x| x.value)
        };
        assert_eq!(find(STAGE_RECEIVED, None), Some(10.0));
        assert_eq!(find(STAGE_EMITTED, None), Some(6.0));
        assert_eq!(find(STAGE_DROPPED, Some("malformed_dns")), Some(2.0));
        assert_eq!(find(STAGE_DROPPED, Some("tcp_gap")), Some(1.0));
        assert_eq!(find(STAGE_DROPPED, Some("frag_limit")), Some(0.0));
        assert_eq!(s.len(), 2 + DECODE_DROPS.len());
    }
}
