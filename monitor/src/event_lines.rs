//! `--events` lines with each message's `dns` object rendered once.
//!
//! Under load most messages repeat an earlier one byte for byte after the
//! transaction id, and share its parse (decode/memo.rs). The `dns` object
//! of an event (question, answers, flags: everything but `dns.id`) is a
//! function of that parse alone, and building and escaping it was the
//! largest part of an event line (profile at 50k queries/s with
//! `--events`: `EcsDns` ~12% of the daemon, `DnsEvent::ecs` ~18%). So a
//! line is the document without `dns`, then `"dns":{"id":N,` and the
//! message's cached rest, kept per parse (per_arc.rs).

use std::io::Write as _;
use std::sync::Arc;

use hickory_proto::op::Message;

use crate::event::{DnsEvent, EcsDocument};
use crate::per_arc::PerArc;

/// Rendered `dns` objects kept; dead ones are dropped first when full.
const ENTRIES: usize = 4_096;

/// Renders ECS lines (one per call) with a per-message `dns` cache: (the
/// parse, an answer or not) → its `dns` object without `id`, as JSON. The
/// kind follows the parse's QR bit wherever events are made; keyed by it
/// too, so an event built otherwise cannot be served another kind's
/// rendering.
#[derive(Debug)]
pub struct EcsLines {
    cache: PerArc<Message, Box<[u8]>>,
}

impl Default for EcsLines {
    fn default() -> EcsLines {
        EcsLines {
            cache: PerArc::new(ENTRIES),
        }
    }
}

impl EcsLines {
    /// Appends `doc` — built by [`DnsEvent::ecs_without_dns`] of `ev` and
    /// edited — with `ev`'s `dns` object, as one JSON line.
    pub fn write(&mut self, out: &mut Vec<u8>, ev: &DnsEvent, doc: &EcsDocument<'_>) {
        let start = out.len();
        // Plain data (strings, numbers, maps with string keys): serde_json
        // cannot fail on it; an empty object would still be one line.
        if doc.dns.is_some()
            || serde_json::to_writer(&mut *out, doc).is_err()
            || out.last() != Some(&b'}')
        {
            out.truncate(start);
            if serde_json::to_writer(&mut *out, doc).is_err() {
                out.truncate(start);
                out.extend_from_slice(b"{}");
            }
            out.push(b'\n');
            return;
        }
        out.pop();
        let rest = self.rest_of(ev);
        out.extend_from_slice(b",\"dns\":{\"id\":");
        // Straight into the line (no String per line); a Vec takes it all.
        let _ = write!(out, "{}", ev.txid);
        // `rest` is an object with at least `type`: its fields follow.
        out.push(b',');
        out.extend_from_slice(&rest[1..]);
        out.extend_from_slice(b"}\n");
    }

    /// The message's `dns` object without `id`, rendered once while the
    /// parse lives (only a shared parse is kept: a message the memo does
    /// not share would only fill the cache).
    fn rest_of(&mut self, ev: &DnsEvent) -> std::borrow::Cow<'_, [u8]> {
        use std::borrow::Cow;
        let answer = ev.kind == crate::event::DnsKind::Answer;
        // Not `if let Some(v) = get() { return v }`: that borrow would
        // last through the insert (the borrow checker's known limit).
        if self.cache.get(&ev.message, answer).is_none() {
            let rendered = render_rest(ev);
            if Arc::strong_count(&ev.message) < 2 {
                return Cow::Owned(rendered.into_vec());
            }
            return Cow::Borrowed(&self.cache.insert(&ev.message, answer, rendered)[..]);
        }
        match self.cache.get(&ev.message, answer) {
            Some(v) => Cow::Borrowed(&v[..]),
            None => Cow::Owned(render_rest(ev).into_vec()),
        }
    }
}

/// `{"type":…}`: the `dns` object without `id`.
fn render_rest(ev: &DnsEvent) -> Box<[u8]> {
    // Always has `type`: never `{}`.
    serde_json::to_vec(&ev.dns_object(None))
        .unwrap_or_else(|_| br#"{"type":"unknown"}"#.to_vec())
        .into_boxed_slice()
}

#[cfg(test)]
#[path = "event_lines_tests.rs"]
mod tests;
