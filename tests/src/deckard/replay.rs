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
            AddressMode::Any => candidates.last(),
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
            if let StepKind::Reply(e) = &step.kind {
                if query_matches(e, q) {
                    st.used_replies.insert(i);
                    return (
                        build_reply(e, q),
                        format!("one-shot STEP {} REPLY", step.id),
                    );
                }
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
