//! The in-process [`Transport`] that answers the engine's queries from a
//! scenario's `RANGE`s and one-shot `STEP REPLY`s, the way Deckard's
//! simulated network does (`pydnstest/scenario.py`, `Scenario.reply`).

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use monitor::dnssec::transport::{BoxFuture, Protocol, Transport, TransportError};

use super::message::{QueryView, build_reply, query_matches};
use super::parse::{Scenario, StepKind};

/// How a query's destination picks the ranges that may answer it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressMode {
    /// Iterative scenarios: ranges whose `ADDRESS` list holds the server
    /// (or that list none). An address no range lists may be answered by
    /// any range, as in Deckard.
    ByAddress,
    /// Stub scenarios: the single upstream answers everything, so every
    /// range is eligible whatever its `ADDRESS`, and the LAST matching
    /// entry wins: the files list servers from the root down, so the last
    /// match is the most authoritative answer, not a referral (NLnet Labs
    /// `domain` stelline, `do_server`, which these scenarios were adapted
    /// for, does the same).
    Any,
}

/// One exchange, for diagnostics.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub step: u64,
    pub server: SocketAddr,
    pub protocol: Protocol,
    pub question: String,
    /// `file line of the entry that answered`, or why there was no answer.
    pub outcome: String,
}

#[derive(Debug, Default)]
struct State {
    step: u64,
    used_replies: HashSet<usize>,
    log: Vec<Exchange>,
}

/// Answers queries from a scenario; the runner moves it from step to step.
#[derive(Debug)]
pub struct Replay {
    scenario: Arc<Scenario>,
    mode: AddressMode,
    known: HashSet<IpAddr>,
    state: Mutex<State>,
}

impl Replay {
    pub fn new(scenario: Arc<Scenario>, mode: AddressMode) -> Self {
        let known = scenario
            .ranges
            .iter()
            .flat_map(|r| r.addresses.iter().copied())
            .collect();
        Self {
            scenario,
            mode,
            known,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere cannot leave State inconsistent: recover it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ranges and one-shot replies are chosen by the current step.
    pub fn set_step(&self, step: u64) {
        self.state().step = step;
    }

    /// Every exchange so far.
    pub fn log(&self) -> Vec<Exchange> {
        self.state().log.clone()
    }

    /// The answer to `query` sent to `server`, or `None` (no scripted
    /// answer or `do_not_answer`: the engine sees a timeout).
    pub fn answer(&self, server: SocketAddr, protocol: Protocol, query: &[u8]) -> Option<Vec<u8>> {
        let mut st = self.state();
        let step = st.step;
        let (reply, question, outcome) = match QueryView::from_wire(query) {
            Err(why) => (None, String::from("?"), why),
            Ok(q) => {
                let question = q
                    .question
                    .first()
                    .map(|x| {
                        format!(
                            "{} {}",
                            x.name,
                            hickory_proto::rr::RecordType::from(x.qtype)
                        )
                    })
                    .unwrap_or_default();
                let (reply, outcome) = self.pick(&mut st, server.ip(), &q);
                (reply, question, outcome)
            }
        };
        st.log.push(Exchange {
            step,
            server,
            protocol,
            question,
            outcome,
        });
        reply
    }

    fn pick(&self, st: &mut State, server: IpAddr, q: &QueryView) -> (Option<Vec<u8>>, String) {
        let addr = match self.mode {
            AddressMode::ByAddress if self.known.contains(&server) => Some(server),
            _ => None,
        };
        let sc = &self.scenario;
        let mut candidates = sc
            .ranges
            .iter()
            .filter(|range| {
                range.start <= st.step
                    && st.step <= range.end
                    && addr
                        .is_none_or(|a| range.addresses.is_empty() || range.addresses.contains(&a))
            })
            .flat_map(|range| range.entries.iter())
            .filter(|e| query_matches(e, q));
        let chosen = match self.mode {
            AddressMode::ByAddress => candidates.next(),
            AddressMode::Any => candidates.next_back(),
        };
        if let Some(e) = chosen {
            let reply = build_reply(e, q);
            let what = if reply.is_some() {
                "answered by"
            } else {
                "do_not_answer at"
            };
            return (reply, format!("{what} line {}", e.line));
        }
        for (i, step) in sc.steps.iter().enumerate() {
            if step.id < st.step || st.used_replies.contains(&i) {
                continue;
            }
            if let StepKind::Reply(e) = &step.kind
                && query_matches(e, q)
            {
                st.used_replies.insert(i);
                return (
                    build_reply(e, q),
                    format!("one-shot STEP {} REPLY", step.id),
                );
            }
        }
        (None, "no matching entry".into())
    }
}

/// The transport handle given to the engine.
#[derive(Clone, Debug)]
pub struct ReplayTransport(pub Arc<Replay>);

impl Transport for ReplayTransport {
    fn exchange<'a>(
        &'a self,
        server: SocketAddr,
        protocol: Protocol,
        query: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, TransportError>> {
        Box::pin(async move {
            // Yield so concurrent lookups interleave as on a network.
            tokio::task::yield_now().await;
            self.0
                .answer(server, protocol, query)
                .ok_or(TransportError::Timeout {
                    server,
                    timeout_ms: 0,
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use hickory_proto::op::Message;

    use super::*;
    use crate::deckard::message::encode;
    use crate::deckard::parse::{Flags, parse_str};
    use crate::deckard::text::parse_question;

    const SC: &str = "\
stub-addr: 192.0.2.1
CONFIG_END
SCENARIO_BEGIN replay selection
RANGE_BEGIN 0 100
\tADDRESS 192.0.2.1
ENTRY_BEGIN
MATCH opcode subdomain
ADJUST copy_id copy_query
REPLY QR NOERROR
SECTION QUESTION
com. IN NS
SECTION AUTHORITY
com. IN NS a.gtld.
ENTRY_END
RANGE_END
RANGE_BEGIN 0 100
\tADDRESS 192.0.2.2
ENTRY_BEGIN
MATCH opcode qtype qname
ADJUST copy_id
REPLY QR AA NOERROR
SECTION QUESTION
www.example.com. IN A
SECTION ANSWER
www.example.com. IN A 10.0.0.1
ENTRY_END
ENTRY_BEGIN
MATCH opcode qtype qname
ADJUST copy_id do_not_answer
REPLY QR NOERROR
SECTION QUESTION
quiet.example.com. IN A
ENTRY_END
RANGE_END
STEP 1 QUERY
ENTRY_BEGIN
REPLY RD
SECTION QUESTION
www.example.com. IN A
ENTRY_END
STEP 5 REPLY
ENTRY_BEGIN
MATCH opcode qtype qname
ADJUST copy_id
REPLY QR AA NOERROR
SECTION QUESTION
once.example.net. IN A
SECTION ANSWER
once.example.net. IN A 10.0.0.9
ENTRY_END
SCENARIO_END
";

    fn replay(mode: AddressMode) -> Replay {
        let sc = parse_str(Path::new("replay.rpl"), SC).unwrap();
        let r = Replay::new(Arc::new(sc), mode);
        r.set_step(1);
        r
    }

    fn ask(r: &Replay, server: &str, q: &str) -> Option<Message> {
        let query = encode(
            0x4242,
            0,
            0,
            &Flags::default(),
            &[parse_question(q).unwrap()],
            [&[], &[], &[]],
            Some(true),
        );
        let server = SocketAddr::new(server.parse().unwrap(), 53);
        r.answer(server, Protocol::Udp, &query)
            .map(|a| Message::from_vec(&a).unwrap())
    }

    #[test]
    fn by_address_answers_from_the_server_asked() {
        let r = replay(AddressMode::ByAddress);
        let referral = ask(&r, "192.0.2.1", "www.example.com. IN A").unwrap();
        assert!(referral.answers.is_empty() && referral.authorities.len() == 1);
        assert_eq!(referral.metadata.id, 0x4242);
        let answer = ask(&r, "192.0.2.2", "www.example.com. IN A").unwrap();
        assert_eq!(answer.answers.len(), 1);
        // An address no range lists may be answered by any range.
        let any = ask(&r, "198.51.100.7", "www.example.com. IN A").unwrap();
        assert_eq!(any.authorities.len(), 1);
        // Nothing scripted, do_not_answer: silence.
        assert!(ask(&r, "192.0.2.2", "www.example.com. IN AAAA").is_none());
        assert!(ask(&r, "192.0.2.2", "quiet.example.com. IN A").is_none());
        assert_eq!(r.log().len(), 5);
    }

    #[test]
    fn any_mode_takes_the_last_match() {
        let r = replay(AddressMode::Any);
        let answer = ask(&r, "192.0.2.1", "www.example.com. IN A").unwrap();
        assert_eq!(
            answer.answers.len(),
            1,
            "the authoritative entry, not the referral"
        );
    }

    #[test]
    fn one_shot_replies_are_used_once() {
        let r = replay(AddressMode::ByAddress);
        let first = ask(&r, "203.0.113.1", "once.example.net. IN A");
        // The catch-all referral matches first (subdomain com. fails for
        // .net, so the one-shot STEP REPLY answers) …
        assert_eq!(first.unwrap().answers.len(), 1);
        // … and only once.
        assert!(ask(&r, "203.0.113.1", "once.example.net. IN A").is_none());
        // Past its step it is not used either.
        let r = replay(AddressMode::ByAddress);
        r.set_step(6);
        assert!(ask(&r, "203.0.113.1", "once.example.net. IN A").is_none());
    }
}
