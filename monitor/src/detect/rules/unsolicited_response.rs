//! `unsolicited_response`: a DNS response with no matching outstanding
//! query (4-tuple, txid, question; RFC 5452 §9.1) and none at all on its
//! socket. Wrong-txid answers toward a socket that has a query out are
//! guesses: `response_race` judges them (correlate::outstanding).

use crate::correlate::outstanding::Join;
use crate::decode::presentation as pres;
use crate::detect::alert::{Finding, Rule, Severity};
use crate::event::DnsEvent;

pub fn check(ev: &DnsEvent, join: &Join) -> Option<Finding> {
    let Join::Unsolicited = join else {
        return None;
    };
    let what = ev
        .message
        .queries
        .first()
        .map(|q| format!("{}/{}", pres::name(q.name()), pres::rtype(q.query_type())))
        .unwrap_or_else(|| "(no question)".into());
    Some(Finding::new(
        Rule::UnsolicitedResponse,
        Severity::Medium,
        format!(
            "response id {} for {what} from {} to {} matches no outstanding query (none is out on that socket)",
            ev.txid, ev.server, ev.client
        ),
    ))
}
