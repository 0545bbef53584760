//! Metrics of `run`'s output side and of the verdict caches, read at
//! scrape time from the counters each part already keeps (sinks, store,
//! sampler, verdict service, engine), plus the validation latency
//! histogram the verdict service fills.

use std::sync::atomic::{AtomicU64, Ordering};

use super::run_ops::sample;
use super::run_output::OutputStats;
use crate::detect::verdicts::VerdictService;
use crate::metrics::{
    CACHE_ENTRIES, CACHE_HITS, CACHE_MISSES, Kind, Metrics, STAGE_DROPPED, STAGE_EMITTED,
    STAGE_RECEIVED, Sample, VALIDATION_SECONDS, registry::Series,
};

pub const SINK_MESSAGES: &str = "dnssec_monitor_sink_messages_total";
pub const SINK_SPOOL_DEPTH: &str = "dnssec_monitor_sink_spool_depth";
pub const SINK_CONNECTED: &str = "dnssec_monitor_sink_connected";
pub const STORE_RECORDS: &str = "dnssec_monitor_store_records_total";
pub const CACHE_HIT_RATIO: &str = "dnssec_monitor_cache_hit_ratio";

fn gauge(name: &str, help: &str, labels: &[(&str, &str)], value: f64) -> Sample {
    Sample {
        kind: Kind::Gauge,
        value,
        ..sample(name, help, labels, 0)
    }
}

fn dropped(stage: &str, reason: &str, n: u64) -> Sample {
    sample(
        STAGE_DROPPED,
        "Items a pipeline stage dropped, by reason.",
        &[("stage", stage), ("reason", reason)],
        n,
    )
}

/// Every output counter: the `output` stage (lines, write errors, store
/// hand-over), each syslog sink (sent, spooled, dropped by reason, spool
/// depth), the store (written, dropped) and the answer sampler.
pub fn output_samples(s: &OutputStats) -> Vec<Sample> {
    let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let c = &s.counters;
    let mut out = vec![
        sample(
            STAGE_EMITTED,
            "Items a pipeline stage passed on.",
            &[("stage", "output")],
            l(&c.lines),
        ),
        dropped("output", "write_error", l(&c.write_errors)),
        dropped("output", "store_channel_full", l(&c.store_channel_full)),
        dropped("output", "evidence_skipped", l(&c.evidence_skipped)),
        dropped("output", "evidence_timeout", l(&c.evidence_timeouts)),
    ];
    for (name, r) in &s.syslog {
        let st = r.get();
        let help = "Syslog sink messages, by result.";
        for (result, n) in [
            ("received", st.received),
            ("sent", st.sent),
            ("spooled", st.spooled),
            ("dropped_queue_full", st.dropped_queue_full),
            ("dropped_spool_full", st.dropped_spool_full),
            ("dropped_rejected", st.dropped_rejected),
            ("dropped_corrupt", st.dropped_corrupt),
            ("dropped_spool_error", st.dropped_spool_error),
        ] {
            out.push(sample(
                SINK_MESSAGES,
                help,
                &[("sink", name), ("result", result)],
                n,
            ));
        }
        out.push(gauge(
            SINK_SPOOL_DEPTH,
            "Messages waiting in a sink's spool.",
            &[("sink", name)],
            st.spool_depth as f64,
        ));
        out.push(gauge(
            SINK_CONNECTED,
            "1 while the sink has a connection to its collector.",
            &[("sink", name)],
            if st.connected { 1.0 } else { 0.0 },
        ));
    }
    if let Some(r) = &s.store {
        let st = r.get();
        for (result, n) in [
            ("received", st.received),
            ("committed", st.committed),
            ("dropped_queue_full", st.dropped_queue_full),
            ("dropped_write_error", st.dropped_write_error),
            ("retention_deleted", st.retention_deleted),
        ] {
            out.push(sample(
                STORE_RECORDS,
                "Forensic store records, by result.",
                &[("result", result)],
                n,
            ));
        }
        let sm = &s.sample;
        out.push(sample(
            STAGE_RECEIVED,
            "Items a pipeline stage received.",
            &[("stage", "sample")],
            l(&sm.offered),
        ));
        out.push(sample(
            STAGE_EMITTED,
            "Items a pipeline stage passed on.",
            &[("stage", "sample")],
            l(&sm.sampled),
        ));
        out.push(dropped("sample", "over_rate", l(&sm.over_rate)));
        out.push(dropped("sample", "channel_full", l(&sm.channel_full)));
    }
    out
}

/// The verdict cache (the detector's, per (name, type)) and the engine's
/// lookup cache: entries, hits, misses and the hit ratio.
pub fn cache_samples(v: &VerdictService) -> Vec<Sample> {
    let st = v.stats();
    let hits = st.cache_hits.load(Ordering::Relaxed);
    let requests = st.requests.load(Ordering::Relaxed);
    let e = v.engine().stats();
    let ratio = |h: u64, total: u64| {
        if total == 0 {
            0.0
        } else {
            h as f64 / total as f64
        }
    };
    let mut out = Vec::new();
    for (cache, entries, h, m) in [
        (
            "verdict",
            v.cached() as u64,
            hits,
            requests.saturating_sub(hits),
        ),
        ("engine", e.cache_entries, e.cache_hits, e.cache_misses),
    ] {
        let lbl = [("cache", cache)];
        out.push(gauge(
            CACHE_ENTRIES,
            "Entries in a cache.",
            &lbl,
            entries as f64,
        ));
        out.push(sample(CACHE_HITS, "Cache hits.", &lbl, h));
        out.push(sample(CACHE_MISSES, "Cache misses.", &lbl, m));
        out.push(gauge(
            CACHE_HIT_RATIO,
            "Cache hits / lookups since start.",
            &lbl,
            ratio(h, h + m),
        ));
    }
    // With `dns_0x20`, answers to the engine's own queries whose question
    // did not echo the random case: a server that does not keep case, or
    // forged answers aimed at the monitor's lookups.
    out.push(sample(
        "dnssec_monitor_engine_case_mismatches_total",
        "Answers to the engine's queries dropped for not echoing the question's 0x20 case.",
        &[],
        e.case_mismatches,
    ));
    out
}

/// Register the output and cache collectors and the latency histogram.
pub fn register(m: &Metrics, out: OutputStats, verdicts: &VerdictService) {
    m.add_collector(move || output_samples(&out));
    let v = verdicts.clone();
    m.add_collector(move || cache_samples(&v));
    if let Err(e) = m.registry().adopt(
        VALIDATION_SECONDS,
        "Time of one independent validation (engine lookup, cold or cached).",
        &[],
        Series::Histogram(verdicts.stats().latency.clone()),
    ) {
        tracing::error!("metrics: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::sample::SampleStats;
    use std::sync::Arc;

    #[test]
    fn output_samples_name_every_drop() {
        let s = OutputStats {
            counters: Arc::default(),
            syslog: Vec::new(),
            store: None,
            sample: Arc::new(SampleStats::default()),
        };
        s.counters.write_errors.store(3, Ordering::Relaxed);
        s.counters.store_channel_full.store(2, Ordering::Relaxed);
        let v = output_samples(&s);
        let find = |reason: &str| {
            v.iter()
                .find(|x| {
                    x.name == STAGE_DROPPED
                        && x.labels
                            .iter()
                            .any(|(k, val)| k == "reason" && val == reason)
                })
                .map(|x| x.value)
        };
        assert_eq!(find("write_error"), Some(3.0));
        assert_eq!(find("store_channel_full"), Some(2.0));
        assert_eq!(find("over_rate"), None, "no store: no sampler series");
    }
}
