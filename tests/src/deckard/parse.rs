//! Reads a Deckard `.rpl` scenario (format: `../shared/conformance/
//! scenario_guide.rst`) into [`Scenario`]. Every error names file and line.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::text::{self, RawQuestion, RawRecord};

/// A parse failure at `path:line`.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {msg}", path.display())]
pub struct ParseError {
    pub path: PathBuf,
    pub line: usize,
    pub msg: String,
}

/// The `CONFIG` block (before `CONFIG_END`).
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// `trust-anchor:` values (zone-file lines, DS or DNSKEY), in order.
    pub trust_anchors: Vec<String>,
    /// `val-override-date` / `val-override-timestamp`, as Unix seconds.
    pub val_override: Option<i64>,
    /// `stub-addr:` values.
    pub stub_addrs: Vec<IpAddr>,
    /// `query-minimization:` (None when absent).
    pub query_minimization: Option<bool>,
    /// `domain-insecure:` names (negative trust anchors, RFC 7646).
    pub domain_insecure: Vec<String>,
    /// Every other `key: value`, kept for diagnostics.
    pub other: Vec<(String, String)>,
}

/// Header flags of an entry's `REPLY` line (DO is the EDNS flag).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    pub qr: bool,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    pub ad: bool,
    pub cd: bool,
    pub do_: bool,
}

/// `ADJUST` elements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Adjust {
    pub copy_id: bool,
    pub copy_query: bool,
    pub raw_id: bool,
    pub do_not_answer: bool,
}

/// One `ENTRY_BEGIN … ENTRY_END` block.
#[derive(Clone, Debug, Default)]
pub struct Entry {
    pub line: usize,
    /// `MATCH` elements, lower case (`opcode`, `qname`, `all`, …).
    pub matches: Vec<String>,
    pub adjust: Adjust,
    pub opcode: u8,
    /// Full (extended) rcode.
    pub rcode: u16,
    pub flags: Flags,
    pub question: Vec<RawQuestion>,
    pub answer: Vec<RawRecord>,
    pub authority: Vec<RawRecord>,
    pub additional: Vec<RawRecord>,
    /// A `RAW` message, sent byte for byte.
    pub raw: Option<Vec<u8>>,
}

impl Entry {
    /// Whether `MATCH` asks for `elem` (directly or through `all`).
    pub fn matches_on(&self, elem: &str) -> bool {
        let all = [
            "opcode",
            "qtype",
            "qname",
            "flags",
            "rcode",
            "answer",
            "authority",
            "additional",
        ];
        self.matches.iter().any(|m| {
            m == elem
                || (m == "all" && all.contains(&elem))
                || (m == "question" && (elem == "qtype" || elem == "qname"))
        })
    }
}

/// `RANGE_BEGIN a b` … `RANGE_END`: scripted answers for steps a..=b.
#[derive(Clone, Debug, Default)]
pub struct Range {
    pub line: usize,
    pub start: u64,
    pub end: u64,
    /// Servers this range simulates; empty means any.
    pub addresses: Vec<IpAddr>,
    pub entries: Vec<Entry>,
}

#[derive(Clone, Debug)]
pub enum StepKind {
    Query(Entry),
    CheckAnswer(Entry),
    /// A one-shot scripted answer, used when no range answers.
    Reply(Entry),
    TimePasses(i64),
    /// A step type this runner has no use for (e.g. `CHECK_OUT_QUERY`).
    Other(String),
}

#[derive(Clone, Debug)]
pub struct Step {
    pub id: u64,
    pub line: usize,
    pub kind: StepKind,
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub path: PathBuf,
    /// File name, e.g. `val_nx.rpl`.
    pub name: String,
    /// Text after `SCENARIO_BEGIN`.
    pub description: String,
    pub config: Config,
    pub ranges: Vec<Range>,
    /// In file order (Deckard requires increasing ids).
    pub steps: Vec<Step>,
}

/// Reads and parses a scenario file.
pub fn parse_file(path: &Path) -> Result<Scenario, ParseError> {
    let text = std::fs::read_to_string(path).map_err(|e| ParseError {
        path: path.to_owned(),
        line: 0,
        msg: format!("cannot read: {e}"),
    })?;
    parse_str(path, &text)
}

/// Drops a `;` comment (and, in CONFIG, a `#` comment) outside quotes.
fn strip_comment(line: &str, hash_too: bool) -> &str {
    let mut in_quote = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_quote = !in_quote,
            ';' if !in_quote => return &line[..i],
            '#' if hash_too && !in_quote => return &line[..i],
            _ => {}
        }
    }
    line
}

struct Cursor<'a> {
    path: &'a Path,
    lines: Vec<(usize, &'a str)>,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, line: usize, msg: impl Into<String>) -> ParseError {
        ParseError {
            path: self.path.to_owned(),
            line,
            msg: msg.into(),
        }
    }
    fn next(&mut self) -> Option<(usize, &'a str)> {
        let l = self.lines.get(self.pos).copied();
        self.pos += 1;
        l
    }
    fn peek(&self) -> Option<(usize, &'a str)> {
        self.lines.get(self.pos).copied()
    }
}

/// Parses scenario text; `path` is only for names and errors.
pub fn parse_str(path: &Path, text: &str) -> Result<Scenario, ParseError> {
    let mut config = Config::default();
    let mut all = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let mut saw_config_end = false;
    for (n, raw) in all.by_ref() {
        let line = strip_comment(raw, true).trim();
        if line == "CONFIG_END" {
            saw_config_end = true;
            break;
        }
        if line.is_empty() {
            continue;
        }
        parse_config_line(&mut config, line).map_err(|msg| ParseError {
            path: path.to_owned(),
            line: n,
            msg,
        })?;
    }
    if !saw_config_end {
        return Err(ParseError {
            path: path.to_owned(),
            line: text.lines().count(),
            msg: "no CONFIG_END".into(),
        });
    }
    let mut cur = Cursor {
        path,
        lines: all
            .map(|(n, l)| (n, strip_comment(l, false).trim()))
            .filter(|(_, l)| !l.is_empty())
            .collect(),
        pos: 0,
    };
    let mut scenario = Scenario {
        path: path.to_owned(),
        name: path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        description: String::new(),
        config,
        ranges: Vec::new(),
        steps: Vec::new(),
    };
    let mut begun = false;
    let mut ended = false;
    while let Some((n, line)) = cur.next() {
        let (kw, rest) = split_kw(line);
        match kw {
            "SCENARIO_BEGIN" => {
                begun = true;
                scenario.description = rest.to_string();
            }
            "SCENARIO_END" => {
                ended = true;
                break;
            }
            _ if !begun => return Err(cur.err(n, format!("{kw:?} before SCENARIO_BEGIN"))),
            "RANGE_BEGIN" => scenario.ranges.push(parse_range(&mut cur, n, rest)?),
            "STEP" => {
                let step = parse_step(&mut cur, n, rest)?;
                if let Some(prev) = scenario.steps.last()
                    && prev.id >= step.id
                {
                    return Err(cur.err(n, format!("STEP {} after STEP {}", step.id, prev.id)));
                }
                scenario.steps.push(step);
            }
            _ => return Err(cur.err(n, format!("unexpected {kw:?} in SCENARIO"))),
        }
    }
    if !ended {
        return Err(cur.err(text.lines().count(), "no SCENARIO_END"));
    }
    Ok(scenario)
}

fn split_kw(line: &str) -> (&str, &str) {
    match line.split_once(char::is_whitespace) {
        Some((k, r)) => (k, r.trim()),
        None => (line, ""),
    }
}

fn unquote(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
}

fn parse_config_line(config: &mut Config, line: &str) -> Result<(), String> {
    let Some((key, value)) = line.split_once(':') else {
        return Err(format!("expected `key: value` in CONFIG, got {line:?}"));
    };
    let key = key.trim();
    let value = unquote(value.trim()).trim();
    let on_off = |v: &str| match v {
        "on" | "yes" => Ok(true),
        "off" | "no" => Ok(false),
        _ => Err(format!("{key}: expected on/off, got {v:?}")),
    };
    match key {
        "trust-anchor" => config.trust_anchors.push(value.to_string()),
        "val-override-date" => config.val_override = Some(text::parse_yyyymmddhhmmss(value)?),
        "val-override-timestamp" => {
            config.val_override = Some(
                value
                    .parse()
                    .map_err(|_| format!("bad timestamp {value:?}"))?,
            )
        }
        // A forwarder is the stub's one upstream too.
        "stub-addr" | "forward-addr" => config.stub_addrs.push(
            value
                .parse()
                .map_err(|_| format!("bad stub-addr {value:?}"))?,
        ),
        "query-minimization" => config.query_minimization = Some(on_off(value)?),
        "domain-insecure" => config.domain_insecure.push(value.to_string()),
        _ => config.other.push((key.to_string(), value.to_string())),
    }
    Ok(())
}

fn parse_range(cur: &mut Cursor<'_>, n: usize, rest: &str) -> Result<Range, ParseError> {
    let nums: Vec<&str> = rest.split_whitespace().collect();
    let (Some(a), Some(b)) = (
        nums.first().and_then(|s| s.parse().ok()),
        nums.get(1).and_then(|s| s.parse().ok()),
    ) else {
        return Err(cur.err(
            n,
            format!("RANGE_BEGIN needs two step numbers, got {rest:?}"),
        ));
    };
    let mut range = Range {
        line: n,
        start: a,
        end: b,
        ..Range::default()
    };
    // Deckard also takes the server address on the RANGE_BEGIN line.
    for extra in &nums[2..] {
        range.addresses.push(
            extra
                .parse()
                .map_err(|_| cur.err(n, format!("bad RANGE_BEGIN address {extra:?}")))?,
        );
    }
    loop {
        let Some((n, line)) = cur.next() else {
            return Err(cur.err(range.line, "RANGE_BEGIN without RANGE_END"));
        };
        let (kw, rest) = split_kw(line);
        match kw {
            "RANGE_END" => return Ok(range),
            "ADDRESS" => range.addresses.push(
                rest.parse()
                    .map_err(|_| cur.err(n, format!("bad ADDRESS {rest:?}")))?,
            ),
            "ENTRY_BEGIN" => range.entries.push(parse_entry(cur, n)?),
            _ => return Err(cur.err(n, format!("unexpected {kw:?} in RANGE"))),
        }
    }
}

fn parse_step(cur: &mut Cursor<'_>, n: usize, rest: &str) -> Result<Step, ParseError> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    let id = words
        .first()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| cur.err(n, format!("STEP needs a number, got {rest:?}")))?;
    let ty = words.get(1).copied().unwrap_or("");
    let entry = |cur: &mut Cursor<'_>| -> Result<Entry, ParseError> {
        match cur.next() {
            Some((m, "ENTRY_BEGIN")) => parse_entry(cur, m),
            Some((m, l)) => Err(cur.err(m, format!("STEP {ty} needs an ENTRY, got {l:?}"))),
            None => Err(cur.err(n, format!("STEP {ty} needs an ENTRY"))),
        }
    };
    let kind = match ty {
        "QUERY" => StepKind::Query(entry(cur)?),
        "CHECK_ANSWER" => StepKind::CheckAnswer(entry(cur)?),
        "REPLY" => StepKind::Reply(entry(cur)?),
        "TIME_PASSES" => {
            let secs = match (words.get(2), words.get(3)) {
                (Some(&"ELAPSE"), Some(s)) => s.parse::<i64>().ok(),
                _ => None,
            };
            StepKind::TimePasses(
                secs.ok_or_else(|| cur.err(n, "TIME_PASSES needs `ELAPSE seconds`"))?,
            )
        }
        "" => return Err(cur.err(n, "STEP without a type")),
        other => {
            // Skip an entry that belongs to the unknown step.
            if cur.peek().is_some_and(|(_, l)| l == "ENTRY_BEGIN") {
                entry(cur)?;
            }
            StepKind::Other(other.to_string())
        }
    };
    Ok(Step { id, line: n, kind })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Question,
    Answer,
    Authority,
    Additional,
}

fn parse_entry(cur: &mut Cursor<'_>, n: usize) -> Result<Entry, ParseError> {
    let mut e = Entry {
        line: n,
        ..Entry::default()
    };
    let mut section = Section::None;
    loop {
        let Some((n, line)) = cur.next() else {
            return Err(cur.err(e.line, "ENTRY_BEGIN without ENTRY_END"));
        };
        let (kw, rest) = split_kw(line);
        match kw {
            "ENTRY_END" => return Ok(e),
            "MATCH" => e
                .matches
                .extend(rest.split_whitespace().map(str::to_ascii_lowercase)),
            "ADJUST" => {
                for a in rest.split_whitespace() {
                    match a {
                        "copy_id" => e.adjust.copy_id = true,
                        "copy_query" => e.adjust.copy_query = true,
                        "raw_id" => e.adjust.raw_id = true,
                        "do_not_answer" => e.adjust.do_not_answer = true,
                        _ => return Err(cur.err(n, format!("unknown ADJUST {a:?}"))),
                    }
                }
            }
            "REPLY" | "FLAGS" => {
                for w in rest.split_whitespace() {
                    reply_word(&mut e, w).map_err(|m| cur.err(n, m))?;
                }
            }
            "SECTION" => {
                section = match rest {
                    "QUESTION" => Section::Question,
                    "ANSWER" => Section::Answer,
                    "AUTHORITY" => Section::Authority,
                    "ADDITIONAL" => Section::Additional,
                    _ => return Err(cur.err(n, format!("unknown SECTION {rest:?}"))),
                }
            }
            "RAW" => {
                let Some((m, hex)) = cur.next() else {
                    return Err(cur.err(n, "RAW without data"));
                };
                let bytes = data_encoding::HEXUPPER_PERMISSIVE
                    .decode(hex.to_ascii_uppercase().as_bytes())
                    .map_err(|err| cur.err(m, format!("bad RAW hex: {err}")))?;
                e.raw = Some(bytes);
            }
            _ => {
                let record = |l: &str| text::parse_record(l).map_err(|m| cur.err(n, m));
                match section {
                    Section::None => {
                        return Err(cur.err(n, format!("{line:?} outside a SECTION")));
                    }
                    Section::Question => e
                        .question
                        .push(text::parse_question(line).map_err(|m| cur.err(n, m))?),
                    Section::Answer => e.answer.push(record(line)?),
                    Section::Authority => e.authority.push(record(line)?),
                    Section::Additional => e.additional.push(record(line)?),
                }
            }
        }
    }
}

/// One word of `REPLY`: opcode, rcode or flag.
fn reply_word(e: &mut Entry, w: &str) -> Result<(), String> {
    let f = &mut e.flags;
    match w {
        "QR" => f.qr = true,
        "AA" => f.aa = true,
        "TC" => f.tc = true,
        "RD" => f.rd = true,
        "RA" => f.ra = true,
        "AD" => f.ad = true,
        "CD" => f.cd = true,
        "DO" => f.do_ = true,
        "QUERY" => e.opcode = 0,
        "IQUERY" => e.opcode = 1,
        "STATUS" => e.opcode = 2,
        "NOTIFY" => e.opcode = 4,
        "UPDATE" => e.opcode = 5,
        _ => {
            e.rcode = match w {
                "NOERROR" => 0,
                "FORMERR" => 1,
                "SERVFAIL" => 2,
                "NXDOMAIN" => 3,
                "NOTIMP" | "NOTIMPL" => 4,
                "REFUSED" => 5,
                "YXDOMAIN" => 6,
                "YXRRSET" => 7,
                "NXRRSET" => 8,
                "NOTAUTH" => 9,
                "NOTZONE" => 10,
                "BADVERS" => 16,
                _ => return Err(format!("unknown REPLY word {w:?}")),
            }
        }
    }
    Ok(())
}
