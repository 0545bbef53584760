//! `response_race`: two or more different responses for one outstanding
//! query within the window (blind spoofing, RFC 5452 §4), or a burst of
//! responses with wrong txids toward one socket.

use crate::correlate::outstanding::Join;
use crate::decode::presentation as pres;
use crate::detect::alert::{Finding, Rule, Severity};
use crate::event::DnsEvent;

pub fn check(ev: &DnsEvent, join: &Join) -> Option<Finding> {
    // Called for every answer: nothing is formatted unless it is a race.
    if !matches!(join, Join::Race { .. } | Join::TxidBurst { .. }) {
        return None;
    }
    let what = ev
        .message
        .queries
        .first()
        .map(|q| format!("{}/{}", pres::name(q.name()), pres::rtype(q.query_type())))
        .unwrap_or_else(|| "(no question)".into());
    let detail = match join {
        Join::Race {
            query,
            distinct,
            first,
            since_first,
        } => format!(
            "{distinct} different answers to query id {} for {what} from {} to {} within {} ms: first {first}, now {}",
            query.id,
            ev.server,
            ev.client,
            since_first.as_millis(),
            now_summary(ev)
        ),
        Join::TxidBurst {
            query,
            answers,
            window,
        } => format!(
            "{answers} answers with wrong txids toward {} from {} within {} ms while query id {} was outstanding (blind spoofing)",
            ev.client,
            ev.server,
            window.as_millis(),
            query.id
        ),
        _ => return None,
    };
    Some(Finding::new(Rule::ResponseRace, Severity::High, detail))
}

fn now_summary(ev: &DnsEvent) -> String {
    let data: Vec<String> = ev
        .message
        .answers
        .iter()
        .map(|r| pres::rdata(&r.data))
        .take(4)
        .collect();
    let rcode = pres::rcode(ev.message.metadata.response_code);
    if data.is_empty() {
        rcode
    } else {
        format!("{rcode} {}", data.join(","))
    }
}
