//! Deckard scenario replay (format: `../shared/conformance/scenario_guide.rst`).
//!
//! Table of contents:
//! - [`text`]: zone-file presentation syntax → wire format.
//! - [`parse`]: `.rpl` file → [`parse::Scenario`].
//! - [`message`]: matching a query against an entry, building the answer.
//! - [`replay`]: the in-process `Transport` that answers from the scenario.
//! - [`check`]: comparing the engine's `Lookup` with `CHECK_ANSWER`.
//! - [`run`]: running scenarios, one report line each.

pub mod check;
pub mod message;
pub mod parse;
pub mod replay;
pub mod run;
pub mod text;
