//! Critical names, modes and the two policy rules: each firing case with
//! its benign twin, over real verdicts (the in-process signed hierarchy).

use std::sync::atomic::Ordering;
use std::time::{Duration, UNIX_EPOCH};

use hickory_proto::dnssec::rdata::DNSKEY;
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use super::*;
use crate::config::{CriticalName, Mode, Require, ZoneConfig};
use crate::detect::alert::{Alert, Rule, Severity};
use crate::detect::lab::{Lab, Reply, policy, rules};
use crate::detect::policy::DetectPolicy;
use crate::detect::testkit::{CLIENT, RESOLVER, event, query_msg};
use crate::dnssec::testnet::{NOW, TestNet, Zone, a, name};

const SECURE: u8 = 3;
const UNSIGNED: u8 = 5;
const BROKEN: u8 = 6;

fn entry(n: &str, label: &str, require: Require) -> CriticalName {
    CriticalName {
        name: n.into(),
        label: label.into(),
        require,
    }
}

fn critical(list: &[CriticalName]) -> CriticalNames {
    CriticalNames::from_config(list).unwrap()
}

fn with_critical(mut p: DetectPolicy, list: &[CriticalName]) -> DetectPolicy {
    p.critical = critical(list);
    p
}

// ---- matching, modes, dedup -------------------------------------------------

#[test]
fn exact_beats_pattern_and_longest_suffix_wins() {
    let c = critical(&[
        entry("*.example.com", "corp", Require::Any),
        entry("*.vault.example.com", "secrets", Require::Secure),
        entry("login.example.com", "idp", Require::Secure),
    ]);
    let label = |n: &str| c.lookup(&name(n)).map(|e| e.label.as_str());
    assert_eq!(label("login.example.com."), Some("idp"));
    assert_eq!(label("a.login.example.com."), Some("corp"));
    assert_eq!(label("eu.vault.example.com."), Some("secrets"));
    assert_eq!(label("vault.example.com."), Some("corp"));
    // `*.x` is strictly below x, and nothing outside it.
    assert_eq!(label("example.com."), None);
    assert_eq!(label("example.org."), None);
    assert_eq!(label("badexample.com."), None);
}

#[test]
fn zone_mode_overrides_global_longest_match() {
    let z = |n: &str, m: Option<Mode>| ZoneConfig {
        name: n.into(),
        trust_anchor: None,
        upstream: Vec::new(),
        mode: m,
    };
    let m = Modes::from_config(
        Mode::Enforce,
        &[
            z("corp.internal", Some(Mode::Audit)),
            z("prod.corp.internal", Some(Mode::Enforce)),
            z("lab.internal", None),
        ],
    )
    .unwrap();
    let at = |n: &str| m.mode_for(Some(&name(n)));
    assert_eq!(at("x.corp.internal."), Mode::Audit);
    assert_eq!(at("corp.internal."), Mode::Audit);
    assert_eq!(at("api.prod.corp.internal."), Mode::Enforce);
    assert_eq!(at("x.lab.internal."), Mode::Enforce, "no mode set: global");
    assert_eq!(at("example.com."), Mode::Enforce);
    assert_eq!(m.mode_for(None), Mode::Enforce);
    let audit = Modes::from_config(Mode::Audit, &[]).unwrap();
    assert_eq!(audit.mode_for(Some(&name("example.com."))), Mode::Audit);
}

#[test]
fn dedup_once_per_period_bounded() {
    let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let d: Dedup<&str> = Dedup::new(Duration::from_secs(3600), 2);
    assert!(d.first(&"a", t0));
    assert!(!d.first(&"a", t0 + Duration::from_secs(3599)));
    assert!(
        !d.first(&"a", t0 - Duration::from_secs(10)),
        "clock went back"
    );
    assert!(d.first(&"a", t0 + Duration::from_secs(3600)));
    assert!(d.first(&"b", t0 + Duration::from_secs(3600)));
    // Full: a third key evicts what is stale, else clears; never grows.
    assert!(d.first(&"c", t0 + Duration::from_secs(3601)));
    assert!(d.len() <= 2);
}

#[test]
fn raise_is_one_step() {
    assert_eq!(raise(Severity::Low), Severity::Medium);
    assert_eq!(raise(Severity::Medium), Severity::High);
    assert_eq!(raise(Severity::High), Severity::Critical);
    assert_eq!(raise(Severity::Critical), Severity::Critical);
}

// ---- critical_name_unprotected ---------------------------------------------

/// A stub query from `pid` to `server`, answered from test server `n`'s
/// data as `reply` says.
#[expect(
    clippy::too_many_arguments,
    reason = "a test helper spelling out every knob of one lookup"
)]
async fn lookup_as(
    lab: &mut Lab,
    pid: u32,
    ms: u64,
    n: u8,
    qname: &str,
    dnssec_ok: bool,
    server: &str,
    reply: Reply,
) -> Vec<Alert> {
    let auth = lab.auth(n, qname, RecordType::A).await;
    let id = (ms % 60_000) as u16;
    let q = query_msg(id, qname, RecordType::A, true, dnssec_ok);
    let mut qe = event(q.clone(), CLIENT, server, ms);
    if let Some(p) = qe.process.as_mut() {
        let p = std::sync::Arc::make_mut(p);
        p.pid = pid;
        p.tid = pid;
    }
    assert!(lab.det.on_event(qe).await.is_empty());
    let ans: Message = Lab::resolver_answer(&q, &auth, reply);
    lab.det.on_event(event(ans, CLIENT, server, ms + 5)).await
}

fn unprotected(al: &[Alert]) -> Vec<&Alert> {
    al.iter()
        .filter(|a| a.rule == Rule::CriticalNameUnprotected)
        .collect()
}

#[tokio::test]
async fn unsigned_critical_name_fires_once_per_process_per_hour() {
    let p = with_critical(
        policy(),
        &[entry("www.unsigned.test", "idp", Require::Secure)],
    );
    let mut lab = Lab::new(p);
    let q = "www.unsigned.test.";
    let al = lookup_as(
        &mut lab,
        100,
        1_000,
        UNSIGNED,
        q,
        false,
        RESOLVER,
        Reply::default(),
    )
    .await;
    assert_eq!(rules(&al), vec![Rule::CriticalNameUnprotected], "{al:?}");
    let a = &al[0];
    assert_eq!(a.severity, Severity::Medium);
    assert!(a.detail.contains("insecure"), "{}", a.detail);
    assert!(
        a.detail.contains("(idp, entry www.unsigned.test)"),
        "{}",
        a.detail
    );
    assert_eq!(a.tags.critical.as_ref().unwrap().label, "idp");
    assert_eq!(a.tags.base_severity, None, "its own severity is not raised");
    let v = a.to_ecs();
    assert_eq!(v["dnssec_monitor"]["critical"]["label"], "idp");
    assert_eq!(v["dnssec"]["outcome"], "insecure");
    assert_eq!(v["process"]["pid"], 100);

    // Same name, same process, a minute later: suppressed and counted.
    let al = lookup_as(
        &mut lab,
        100,
        61_000,
        UNSIGNED,
        q,
        false,
        RESOLVER,
        Reply::default(),
    )
    .await;
    assert!(al.is_empty(), "{al:?}");
    let c = lab.det.counters();
    assert_eq!(c.suppressed_of(Rule::CriticalNameUnprotected), 1);
    assert_eq!(c.alerts_of(Rule::CriticalNameUnprotected), 1);
    // Another process: its own alert.
    let al = lookup_as(
        &mut lab,
        200,
        62_000,
        UNSIGNED,
        q,
        false,
        RESOLVER,
        Reply::default(),
    )
    .await;
    assert_eq!(rules(&al), vec![Rule::CriticalNameUnprotected], "{al:?}");
    // The first process, an hour after its alert: again.
    let al = lookup_as(
        &mut lab,
        100,
        3_601_000,
        UNSIGNED,
        q,
        false,
        RESOLVER,
        Reply::default(),
    )
    .await;
    assert_eq!(rules(&al), vec![Rule::CriticalNameUnprotected], "{al:?}");
}

#[tokio::test]
async fn iterative_answer_of_unsigned_critical_name_raises_nothing() {
    let p = with_critical(
        policy(),
        &[entry("www.unsigned.test", "idp", Require::Secure)],
    );
    let mut lab = Lab::new(p);
    let auth = lab
        .auth(UNSIGNED, "www.unsigned.test.", RecordType::A)
        .await;
    // RD=0: a resolver on the host iterating, talking to the authority.
    let al = lab
        .txn(
            "www.unsigned.test.",
            RecordType::A,
            false,
            true,
            "198.18.0.5:53",
            |q| {
                let mut m = auth.clone();
                m.metadata.id = q.metadata.id;
                m
            },
        )
        .await;
    assert!(al.is_empty(), "{al:?}");
    // Twin: the stub's recursive lookup of the same name.
    let al = lab
        .via_resolver(
            UNSIGNED,
            "www.unsigned.test.",
            RecordType::A,
            false,
            Reply::default(),
        )
        .await;
    assert_eq!(rules(&al), vec![Rule::CriticalNameUnprotected], "{al:?}");
}

#[tokio::test]
async fn unsigned_name_not_listed_or_require_any_raises_nothing() {
    let p = with_critical(
        policy(),
        &[entry("www.unsigned.test", "internal-api", Require::Any)],
    );
    let mut lab = Lab::new(p);
    for q in ["www.unsigned.test.", "txt.unsigned.test."] {
        let al = lookup_as(
            &mut lab,
            100,
            1_000,
            UNSIGNED,
            q,
            false,
            RESOLVER,
            Reply::default(),
        )
        .await;
        assert!(al.is_empty(), "{q}: {al:?}");
    }
}

#[tokio::test]
async fn secure_critical_name_with_ad_from_validating_resolver_raises_nothing() {
    let mut p = with_critical(
        policy(),
        &[entry("*.secure.test", "token-endpoint", Require::Secure)],
    );
    p.validating_resolvers = p.resolvers.clone();
    let mut lab = Lab::new(p);
    let q = "www.secure.test.";
    let ad = Reply {
        ad: true,
        ..Reply::default()
    };
    let al = lookup_as(&mut lab, 100, 1_000, SECURE, q, true, RESOLVER, ad).await;
    assert!(al.is_empty(), "{al:?}");
    // A stub that asks DO=0 AD=0 gets AD=0 (RFC 6840 §5.7) from a
    // validating resolver: still a validating path.
    let al = lookup_as(
        &mut lab,
        101,
        2_000,
        SECURE,
        q,
        false,
        RESOLVER,
        Reply::default(),
    )
    .await;
    assert!(al.is_empty(), "{al:?}");
    // The firing twin: DO=1 asked for AD and AD=0 came back (cleared on
    // the path): both rules, unsigned_fallback raised.
    let al = lookup_as(
        &mut lab,
        102,
        3_000,
        SECURE,
        q,
        true,
        RESOLVER,
        Reply::default(),
    )
    .await;
    let mut r = rules(&al);
    r.sort_by_key(|r| r.index());
    assert_eq!(
        r,
        vec![Rule::UnsignedFallback, Rule::CriticalNameUnprotected],
        "{al:?}"
    );
    let cu = unprotected(&al)[0];
    assert!(cu.detail.contains("AD=0"), "{}", cu.detail);
    assert_eq!(cu.severity, Severity::High);
}

#[tokio::test]
async fn secure_critical_name_via_non_validating_resolver_without_ad_fires() {
    let p = with_critical(
        policy(),
        &[entry("*.secure.test", "token-endpoint", Require::Secure)],
    );
    let mut lab = Lab::new(p);
    let q = "www.secure.test.";
    let al = lookup_as(
        &mut lab,
        100,
        1_000,
        SECURE,
        q,
        false,
        RESOLVER,
        Reply::default(),
    )
    .await;
    assert_eq!(rules(&al), vec![Rule::CriticalNameUnprotected], "{al:?}");
    assert!(
        al[0]
            .detail
            .contains("not a configured validating resolver"),
        "{}",
        al[0].detail
    );
    // Twin: the same resolver setting AD (it validated) is protection.
    let ad = Reply {
        ad: true,
        ..Reply::default()
    };
    let al = lookup_as(&mut lab, 200, 2_000, SECURE, q, true, RESOLVER, ad).await;
    assert!(al.is_empty(), "{al:?}");
}

#[tokio::test]
async fn stripped_critical_name_raises_both_with_raised_severity() {
    let p = with_critical(
        policy(),
        &[entry("www.secure.test", "idp", Require::Secure)],
    );
    let mut lab = Lab::new(p);
    let strip = Reply {
        strip_rrsigs: true,
        ..Reply::default()
    };
    let al = lookup_as(
        &mut lab,
        100,
        1_000,
        SECURE,
        "www.secure.test.",
        true,
        RESOLVER,
        strip,
    )
    .await;
    let mut r = rules(&al);
    r.sort_by_key(|r| r.index());
    assert_eq!(
        r,
        vec![Rule::UnsignedFallback, Rule::CriticalNameUnprotected],
        "{al:?}"
    );
    let uf = al
        .iter()
        .find(|a| a.rule == Rule::UnsignedFallback)
        .unwrap();
    assert_eq!(uf.severity, Severity::Critical, "high raised one step");
    assert_eq!(uf.tags.base_severity, Some(Severity::High));
    let v = uf.to_ecs();
    assert_eq!(v["event"]["severity"], 99);
    assert_eq!(v["dnssec_monitor"]["critical"]["label"], "idp");
    assert_eq!(v["dnssec_monitor"]["critical"]["base_severity"], "high");
    let cu = unprotected(&al)[0];
    assert_eq!(cu.severity, Severity::High);
    assert!(cu.detail.contains("stripped"), "{}", cu.detail);

    // Twin: the same stripping for a name that is not critical keeps
    // unsigned_fallback at its own severity, without a label.
    let al = lookup_as(
        &mut lab,
        100,
        2_000,
        SECURE,
        "x.wild.secure.test.",
        true,
        RESOLVER,
        Reply {
            strip_rrsigs: true,
            ..Reply::default()
        },
    )
    .await;
    assert_eq!(rules(&al), vec![Rule::UnsignedFallback], "{al:?}");
    assert_eq!(al[0].severity, Severity::High);
    assert!(al[0].tags.critical.is_none());
    assert!(al[0].to_ecs()["dnssec_monitor"].get("critical").is_none());
}

#[tokio::test]
async fn bogus_critical_name_with_require_any_is_labelled_and_raised() {
    let p = with_critical(policy(), &[entry("*.broken.test", "mesh", Require::Any)]);
    let mut lab = Lab::new(p);
    let al = lab
        .via_resolver(
            BROKEN,
            "www.broken.test.",
            RecordType::A,
            false,
            Reply::default(),
        )
        .await;
    assert_eq!(rules(&al), vec![Rule::BogusSignature], "{al:?}");
    assert_eq!(al[0].severity, Severity::Critical);
    assert_eq!(al[0].tags.critical.as_ref().unwrap().label, "mesh");
}

// ---- audit mode -------------------------------------------------------------

#[tokio::test]
async fn audit_mode_emits_events_and_counts_them() {
    let mut p = policy();
    p.modes = Modes::from_config(
        Mode::Audit,
        &[ZoneConfig {
            name: "broken.test".into(),
            trust_anchor: None,
            upstream: Vec::new(),
            mode: Some(Mode::Enforce),
        }],
    )
    .unwrap();
    let mut lab = Lab::new(p);
    let strip = Reply {
        strip_rrsigs: true,
        ..Reply::default()
    };
    let al = lab
        .via_resolver(SECURE, "www.secure.test.", RecordType::A, true, strip)
        .await;
    assert_eq!(rules(&al), vec![Rule::UnsignedFallback], "{al:?}");
    let v = al[0].to_ecs();
    assert_eq!(v["event"]["kind"], "event");
    assert_eq!(v["dnssec_monitor"]["mode"], "audit");
    assert_eq!(lab.det.counters().audit.load(Ordering::Relaxed), 1);
    assert_eq!(lab.det.counters().alerts_of(Rule::UnsignedFallback), 1);
    // Twin: the zone that overrides back to enforce.
    let al = lab
        .via_resolver(
            BROKEN,
            "www.broken.test.",
            RecordType::A,
            false,
            Reply::default(),
        )
        .await;
    assert_eq!(rules(&al), vec![Rule::BogusSignature], "{al:?}");
    let v = al[0].to_ecs();
    assert_eq!(v["event"]["kind"], "alert");
    assert_eq!(v["dnssec_monitor"]["mode"], "enforce");
    assert_eq!(lab.det.counters().audit.load(Ordering::Relaxed), 1);
    // capture_loss is about no name: the global mode.
    lab.det.check_loss(&[("k".into(), 0)]);
    let loss = lab.det.check_loss(&[("k".into(), 1)]).unwrap();
    assert_eq!(loss.to_ecs()["event"]["kind"], "event");
}

// ---- signature_expiring -----------------------------------------------------

const DAY: u32 = 86_400;

/// root → test. → soon.test. (signatures expire in 2 days) and
/// later.test. (30 days); servers 198.18.0.1/.2/.20/.21.
fn expiry_hierarchy() -> (TestNet, DNSKEY) {
    let ip = |n: u8| [198, 18, 0, n];
    let (inc, exp) = (NOW - DAY, NOW + 30 * DAY);
    let mut soon = Zone::new("soon.test.", ip(20));
    soon.add(a("www.soon.test.", [192, 0, 2, 20]))
        .sign(inc, NOW + 2 * DAY);
    let mut later = Zone::new("later.test.", ip(21));
    later
        .add(a("www.later.test.", [192, 0, 2, 21]))
        .sign(inc, exp);
    let soon_ds = soon.key.as_ref().unwrap().ds(&soon.origin);
    let later_ds = later.key.as_ref().unwrap().ds(&later.origin);
    let mut test = Zone::new("test.", ip(2));
    test.delegate(&soon, ip(20), Some(soon_ds))
        .delegate(&later, ip(21), Some(later_ds))
        .sign(inc, exp);
    let test_ds = test.key.as_ref().unwrap().ds(&test.origin);
    let mut root = Zone::new(".", ip(1));
    root.delegate(&test, ip(2), Some(test_ds)).sign(inc, exp);
    let anchor = root.key.as_ref().unwrap().dnskey.clone();
    let mut net = TestNet::default();
    net.serve(ip(1), root)
        .serve(ip(2), test)
        .serve(ip(20), soon)
        .serve(ip(21), later);
    (net, anchor)
}

fn expiry_lab(window_days: u64, list: &[CriticalName]) -> Lab {
    let (net, anchor) = expiry_hierarchy();
    let mut p = with_critical(policy(), list);
    p.validating_resolvers = p.resolvers.clone();
    p.signature_expiry_window = Duration::from_secs(window_days * 86_400);
    Lab::over(net, anchor, p, &[])
}

fn ad() -> Reply {
    Reply {
        ad: true,
        ..Reply::default()
    }
}

#[tokio::test]
async fn signatures_expiring_in_two_days_warn_once_per_zone_per_day() {
    let mut lab = expiry_lab(3, &[]);
    let al = lookup_as(
        &mut lab,
        100,
        1_000,
        20,
        "www.soon.test.",
        true,
        RESOLVER,
        ad(),
    )
    .await;
    assert_eq!(rules(&al), vec![Rule::SignatureExpiring], "{al:?}");
    let d = &al[0].detail;
    assert!(d.contains("zone soon.test expire"), "{d}");
    assert!(d.contains("1d 23h left") || d.contains("2d 0h left"), "{d}");
    let exp =
        crate::event::rfc3339_micros(UNIX_EPOCH + Duration::from_secs(u64::from(NOW + 2 * DAY)));
    assert!(d.contains(&exp), "{d} names the expiry {exp}");
    assert!(d.contains("key "), "{d}");
    assert_eq!(al[0].severity, Severity::Medium);
    assert_eq!(al[0].to_ecs()["rule"]["name"], "signature_expiring");
    // Another name of the same zone, another process: the zone was
    // reported today.
    let al = lookup_as(&mut lab, 200, 2_000, 20, "soon.test.", true, RESOLVER, ad()).await;
    assert!(al.is_empty(), "{al:?}");
    assert_eq!(lab.det.counters().suppressed_of(Rule::SignatureExpiring), 1);
    // A day later: again.
    let al = lookup_as(
        &mut lab,
        100,
        1_000 + 86_400_000,
        20,
        "www.soon.test.",
        true,
        RESOLVER,
        ad(),
    )
    .await;
    assert_eq!(rules(&al), vec![Rule::SignatureExpiring], "{al:?}");
}

#[tokio::test]
async fn signatures_expiring_later_or_watch_off_raise_nothing() {
    let mut lab = expiry_lab(3, &[]);
    let al = lookup_as(
        &mut lab,
        100,
        1_000,
        21,
        "www.later.test.",
        true,
        RESOLVER,
        ad(),
    )
    .await;
    assert!(al.is_empty(), "30 days left: {al:?}");
    let mut off = expiry_lab(0, &[]);
    let al = lookup_as(
        &mut off,
        100,
        1_000,
        20,
        "www.soon.test.",
        true,
        RESOLVER,
        ad(),
    )
    .await;
    assert!(al.is_empty(), "window 0 is off: {al:?}");
    let mut narrow = expiry_lab(1, &[]);
    let al = lookup_as(
        &mut narrow,
        100,
        1_000,
        20,
        "www.soon.test.",
        true,
        RESOLVER,
        ad(),
    )
    .await;
    assert!(al.is_empty(), "2 days left, 1-day window: {al:?}");
}

#[tokio::test]
async fn expiring_critical_zone_is_raised_and_labelled() {
    let mut lab = expiry_lab(3, &[entry("www.soon.test", "idp", Require::Secure)]);
    let al = lookup_as(
        &mut lab,
        100,
        1_000,
        20,
        "www.soon.test.",
        true,
        RESOLVER,
        ad(),
    )
    .await;
    assert_eq!(rules(&al), vec![Rule::SignatureExpiring], "{al:?}");
    assert_eq!(al[0].severity, Severity::High);
    assert_eq!(al[0].tags.critical.as_ref().unwrap().label, "idp");
}

#[tokio::test]
async fn signature_uses_name_each_rrset_and_signer() {
    let lab = expiry_lab(3, &[]);
    let l = lab
        .det
        .verdicts()
        .engine()
        .lookup(&name("www.soon.test."), RecordType::A)
        .await;
    assert!(l.verdict.is_secure(), "{}", l.verdict);
    let uses = crate::detect::rules::signature_expiring::signatures(&l);
    let has = |signer: &str, covers: &str| {
        uses.iter()
            .any(|u| u.signer == name(signer) && u.covers == covers)
    };
    assert!(has(".", ". DNSKEY"), "{uses:?}");
    assert!(has(".", "test DS"), "{uses:?}");
    assert!(has("test.", "test DNSKEY"), "{uses:?}");
    assert!(has("test.", "soon.test DS"), "{uses:?}");
    assert!(has("soon.test.", "soon.test DNSKEY"), "{uses:?}");
    assert!(has("soon.test.", "www.soon.test A"), "{uses:?}");
    let soonest = uses.iter().map(|u| u.expiration).min().unwrap();
    assert_eq!(soonest, NOW + 2 * DAY);
}

#[test]
fn policy_from_config_carries_critical_modes_and_window() {
    let cfg = crate::config::Config {
        critical: vec![entry("*.vault.example.com", "secrets", Require::Secure)],
        mode: Mode::Audit,
        zones: vec![ZoneConfig {
            name: "prod.example.com".into(),
            trust_anchor: None,
            upstream: Vec::new(),
            mode: Some(Mode::Enforce),
        }],
        ..crate::config::Config::default()
    };
    let p = DetectPolicy::from_config(&cfg).unwrap();
    assert_eq!(
        p.critical
            .lookup(&name("eu.vault.example.com."))
            .map(|e| e.label.as_str()),
        Some("secrets")
    );
    assert_eq!(p.critical.entries().len(), 1);
    assert_eq!(p.modes.mode_for(Some(&name("x.example.com."))), Mode::Audit);
    assert_eq!(
        p.modes.mode_for(Some(&name("api.prod.example.com."))),
        Mode::Enforce
    );
    assert_eq!(
        p.signature_expiry_window,
        crate::config::DEFAULT_SIGNATURE_EXPIRY_WINDOW
    );
    // The default policy (tests, library users) keeps the watch off.
    assert_eq!(
        DetectPolicy::default().signature_expiry_window,
        Duration::ZERO
    );
}

#[test]
fn suppressed_and_audit_counts_are_metrics() {
    use crate::detect::detector::DetectCounters;
    use crate::detect::stage::StageHandle;
    let detect = std::sync::Arc::new(DetectCounters::default());
    detect.suppressed[Rule::CriticalNameUnprotected.index()].store(3, Ordering::Relaxed);
    detect.audit.store(2, Ordering::Relaxed);
    let h = StageHandle {
        stage: std::sync::Arc::default(),
        detect,
        health: std::sync::Arc::default(),
        outstanding: std::sync::Arc::default(),
        transactions: None,
    };
    let samples = crate::commands::run_ops::detect_samples(&h);
    let value = |name: &str, rule: Option<&str>| {
        samples
            .iter()
            .find(|s| {
                s.name == name
                    && rule.is_none_or(|r| s.labels.iter().any(|(k, v)| k == "rule" && v == r))
            })
            .map(|s| s.value)
    };
    assert_eq!(
        value(
            "dnssec_monitor_alerts_suppressed_total",
            Some("critical_name_unprotected")
        ),
        Some(3.0)
    );
    assert_eq!(
        value(
            "dnssec_monitor_alerts_suppressed_total",
            Some("signature_expiring")
        ),
        Some(0.0)
    );
    assert_eq!(value("dnssec_monitor_alerts_audit_total", None), Some(2.0));
}
