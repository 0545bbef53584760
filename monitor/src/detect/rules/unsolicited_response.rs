//! `unsolicited_response`: a DNS response with no matching outstanding
//! query (4-tuple, txid, question; RFC 5452 §9.1).

use crate::correlate::outstanding::Join;
use crate::decode::presentation as pres;
use crate::detect::alert::{Finding, Rule, Severity};
use crate::event::DnsEvent;

pub fn check(ev: &DnsEvent, join: &Join) -> Option<Finding> {
    let Join::Unsolicited { wrong_txid } = join else {
        return None;
    };
    let what = ev
        .message
        .queries
        .first()
        .map(|q| format!("{}/{}", pres::name(q.name()), pres::rtype(q.query_type())))
        .unwrap_or_else(|| "(no question)".into());
    let why = match wrong_txid {
        Some(n) => format!(
            "; a query is out on that socket under another txid ({n} such answer(s) within the burst window)"
        ),
        None => String::new(),
    };
    Some(Finding::new(
        Rule::UnsolicitedResponse,
        Severity::Medium,
        format!(
            "response id {} for {what} from {} to {} matches no outstanding query{why}",
            ev.message.metadata.id, ev.server, ev.client
        ),
    ))
}
