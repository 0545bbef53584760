//! Alerts of every rule validate against `docs/alert.schema.json`.
//!
//! The `jsonschema` crate is not in the offline registry, so this is a
//! small validator for the draft 2020-12 keywords the schema uses; any
//! other keyword is an error (so the schema cannot silently outgrow it).
//! `pattern` is checked by hand for the two fields that have one.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use super::alert::{Alert, Rule};
use super::critical::{CriticalNames, Modes};
use super::lab::{Lab, Reply, a_rec, forged, policy};
use super::testkit::{CLIENT, RESOLVER, answer_msg, event, query_msg};
use crate::config::{CriticalName, Mode, Require};

const SCHEMA: &str = include_str!("../../../docs/alert.schema.json");

fn resolve<'a>(root: &'a Value, r: &str) -> &'a Value {
    let path = r.strip_prefix("#/").expect("local $ref");
    path.split('/').fold(root, |v, k| &v[k])
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => panic!("unknown type {t}"),
    }
}

/// Errors of `v` against `s` (empty = valid).
fn check(root: &Value, s: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
    let Some(obj) = s.as_object() else {
        return;
    };
    for (k, kv) in obj {
        match k.as_str() {
            "$schema" | "$id" | "$defs" | "title" | "description" | "pattern" | "then" | "else" => {
            }
            "$ref" => check(root, resolve(root, kv.as_str().unwrap()), v, at, errs),
            "type" => {
                if !type_ok(kv.as_str().unwrap(), v) {
                    errs.push(format!("{at}: not {kv}"));
                }
            }
            "const" => {
                if v != kv {
                    errs.push(format!("{at}: {v} is not {kv}"));
                }
            }
            "enum" => {
                if !kv.as_array().unwrap().contains(v) {
                    errs.push(format!("{at}: {v} not in {kv}"));
                }
            }
            "minimum" => {
                if v.as_f64().is_some_and(|x| x < kv.as_f64().unwrap()) {
                    errs.push(format!("{at}: {v} < {kv}"));
                }
            }
            "maximum" => {
                if v.as_f64().is_some_and(|x| x > kv.as_f64().unwrap()) {
                    errs.push(format!("{at}: {v} > {kv}"));
                }
            }
            "minLength" => {
                if v.as_str()
                    .is_some_and(|x| (x.chars().count() as u64) < kv.as_u64().unwrap())
                {
                    errs.push(format!("{at}: too short"));
                }
            }
            "required" => {
                if let Some(o) = v.as_object() {
                    for r in kv.as_array().unwrap() {
                        if !o.contains_key(r.as_str().unwrap()) {
                            errs.push(format!("{at}: missing {r}"));
                        }
                    }
                }
            }
            "properties" => {
                if let Some(o) = v.as_object() {
                    for (p, ps) in kv.as_object().unwrap() {
                        if let Some(pv) = o.get(p) {
                            check(root, ps, pv, &format!("{at}.{p}"), errs);
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(o) = v.as_object() {
                    let known = s.get("properties").and_then(Value::as_object);
                    for (p, pv) in o {
                        if known.is_none_or(|k| !k.contains_key(p)) {
                            check(root, kv, pv, &format!("{at}.{p}"), errs);
                        }
                    }
                }
            }
            "items" => {
                if let Some(a) = v.as_array() {
                    for (i, iv) in a.iter().enumerate() {
                        check(root, kv, iv, &format!("{at}[{i}]"), errs);
                    }
                }
            }
            "allOf" => {
                for sub in kv.as_array().unwrap() {
                    check(root, sub, v, at, errs);
                }
            }
            "if" => {
                let mut e = Vec::new();
                check(root, kv, v, at, &mut e);
                let branch = if e.is_empty() { "then" } else { "else" };
                if let Some(b) = obj.get(branch) {
                    check(root, b, v, at, errs);
                }
            }
            other => panic!("schema keyword {other} not supported by this validator"),
        }
    }
}

fn validate(v: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(SCHEMA).expect("schema is JSON");
    let mut errs = Vec::new();
    check(&schema, &schema, v, "$", &mut errs);
    // The two patterns.
    let ts = v["@timestamp"].as_str().unwrap_or("");
    if !(ts.len() == 27 && ts.ends_with('Z') && ts.as_bytes()[10] == b'T') {
        errs.push(format!(
            "@timestamp {ts:?} is not RFC 3339 with microseconds"
        ));
    }
    if let Some(raw) = v["dnssec_monitor"]["raw"].as_str() {
        use base64::Engine as _;
        if base64::engine::general_purpose::STANDARD
            .decode(raw)
            .is_err()
        {
            errs.push("dnssec_monitor.raw is not base64".into());
        }
    }
    errs
}

/// One alert of every rule, from the same scenarios as the rule tests.
async fn alerts_of_every_rule() -> Vec<Alert> {
    let mut out = Vec::new();
    let mut lab = Lab::new(policy());
    // bogus_signature (bogus zone accepted)
    out.extend(
        lab.via_resolver(
            6,
            "www.broken.test.",
            RecordType::A,
            false,
            Reply::default(),
        )
        .await,
    );
    // unsigned_fallback (stripped)
    out.extend(
        lab.via_resolver(
            3,
            "www.secure.test.",
            RecordType::A,
            true,
            Reply {
                strip_rrsigs: true,
                ..Reply::default()
            },
        )
        .await,
    );
    // answer_mismatch
    out.extend(
        lab.txn(
            "www.secure.test.",
            RecordType::A,
            true,
            false,
            RESOLVER,
            |q| {
                forged(
                    q,
                    ResponseCode::NoError,
                    vec![a_rec("www.secure.test.", [6, 6, 6, 6])],
                )
            },
        )
        .await,
    );
    // unsolicited_response
    let q = query_msg(9, "www.other.test.", RecordType::A, true, false);
    let ans = answer_msg(&q, ResponseCode::NoError, vec![]);
    out.extend(lab.det.on_event(event(ans, CLIENT, RESOLVER, 50_000)).await);
    // response_race
    let q = query_msg(10, "www.unsigned.test.", RecordType::A, true, false);
    lab.det
        .on_event(event(q.clone(), CLIENT, RESOLVER, 50_010))
        .await;
    for (ms, ip) in [(50_011, [192, 0, 2, 3]), (50_012, [6, 6, 6, 6])] {
        let ans = forged(
            &q,
            ResponseCode::NoError,
            vec![a_rec("www.unsigned.test.", ip)],
        );
        out.extend(lab.det.on_event(event(ans, CLIENT, RESOLVER, ms)).await);
    }
    // capture_loss
    lab.det.check_loss(&[("kernel_ringbuf_full".into(), 0)]);
    out.extend(lab.det.check_loss(&[("kernel_ringbuf_full".into(), 3)]));
    // critical_name_unprotected (critical name in an unsigned zone) and
    // signature_expiring (a window wider than the hierarchy's 30 days).
    let mut p = policy();
    p.critical = CriticalNames::from_config(&[CriticalName {
        name: "www.unsigned.test".into(),
        label: "idp".into(),
        require: Require::Secure,
    }])
    .unwrap();
    p.signature_expiry_window = std::time::Duration::from_secs(31 * 86_400);
    let mut lab = Lab::new(p);
    out.extend(
        lab.via_resolver(
            5,
            "www.unsigned.test.",
            RecordType::A,
            false,
            Reply::default(),
        )
        .await,
    );
    out.extend(
        lab.via_resolver(
            4,
            "www.other.test.",
            RecordType::A,
            true,
            Reply {
                ad: true,
                ..Reply::default()
            },
        )
        .await,
    );
    out
}

/// Audit mode: the documents validate too, as events.
#[tokio::test]
async fn audit_mode_alerts_validate_as_events() {
    let mut p = policy();
    p.modes = Modes::from_config(Mode::Audit, &[]).unwrap();
    let mut lab = Lab::new(p);
    let al = lab
        .via_resolver(
            6,
            "www.broken.test.",
            RecordType::A,
            false,
            Reply::default(),
        )
        .await;
    assert!(!al.is_empty());
    for a in &al {
        let v = a.to_ecs();
        assert!(validate(&v).is_empty(), "{:?}", validate(&v));
        assert_eq!(v["event"]["kind"], "event");
        let mut lying = v.clone();
        lying["event"]["kind"] = json!("alert");
        assert!(!validate(&lying).is_empty(), "audit documents are events");
    }
}

#[tokio::test]
async fn alerts_of_every_rule_validate_against_the_schema() {
    let alerts = alerts_of_every_rule().await;
    for rule in Rule::ALL {
        assert!(
            alerts.iter().any(|a| a.rule == rule),
            "no {} alert generated: {:?}",
            rule.name(),
            alerts.iter().map(|a| a.rule).collect::<Vec<_>>()
        );
    }
    for a in &alerts {
        let v = a.to_ecs();
        let errs = validate(&v);
        assert!(errs.is_empty(), "{}: {errs:?}\n{v:#}", a.rule.name());
        assert_eq!(v["event"]["kind"], "alert");
        assert_eq!(v["dnssec_monitor"]["mode"], "enforce");
        assert_eq!(v["rule"]["name"], a.rule.name());
    }
    // The verdict-rule alerts carry the chain and the validated answers.
    let m = alerts
        .iter()
        .find(|a| a.rule == Rule::AnswerMismatch)
        .unwrap()
        .to_ecs();
    assert_eq!(m["dnssec"]["outcome"], "secure");
    assert_eq!(m["dnssec"]["validated_answers"][0]["data"], "192.0.2.1");
    assert!(!m["dnssec"]["chain"].as_array().unwrap().is_empty());
    assert_eq!(m["dns"]["answers"][0]["data"], "6.6.6.6");
    assert_eq!(m["process"]["name"], "curl");
    let b = alerts
        .iter()
        .find(|a| a.rule == Rule::BogusSignature)
        .unwrap()
        .to_ecs();
    assert_eq!(b["dnssec"]["outcome"], "bogus");
    assert!(b["dnssec"]["ede"]["code"].is_u64());
    if let Ok(dir) = std::env::var("DETECT_DUMP_ALERTS") {
        let lines: Vec<String> = alerts.iter().map(|a| a.to_ecs().to_string()).collect();
        std::fs::write(format!("{dir}/alerts.jsonl"), lines.join("\n")).unwrap();
    }
}

#[tokio::test]
async fn broken_alerts_do_not_validate() {
    let alerts = alerts_of_every_rule().await;
    let good = alerts
        .iter()
        .find(|a| a.rule == Rule::AnswerMismatch)
        .unwrap()
        .to_ecs();
    assert!(validate(&good).is_empty());
    let mut no_rule = good.clone();
    no_rule["rule"] = json!({});
    assert!(!validate(&no_rule).is_empty());
    let mut kind = good.clone();
    kind["event"]["kind"] = json!("event");
    assert!(!validate(&kind).is_empty());
    let mut no_dnssec = good.clone();
    no_dnssec.as_object_mut().unwrap().remove("dnssec");
    assert!(!validate(&no_dnssec).is_empty());
    let mut port = good.clone();
    port["source"]["port"] = json!(70_000);
    assert!(!validate(&port).is_empty());
    let loss = alerts
        .iter()
        .find(|a| a.rule == Rule::CaptureLoss)
        .unwrap()
        .to_ecs();
    assert!(validate(&loss).is_empty(), "{:?}", validate(&loss));
    let mut no_dropped = loss.clone();
    no_dropped["dnssec_monitor"]
        .as_object_mut()
        .unwrap()
        .remove("dropped");
    assert!(!validate(&no_dropped).is_empty());
    let mut ts = loss;
    ts["@timestamp"] = json!("yesterday");
    assert!(!validate(&ts).is_empty());
    let crit = alerts
        .iter()
        .find(|a| a.rule == Rule::CriticalNameUnprotected)
        .unwrap()
        .to_ecs();
    assert!(validate(&crit).is_empty(), "{:?}", validate(&crit));
    let mut unlabelled = crit.clone();
    unlabelled["dnssec_monitor"]
        .as_object_mut()
        .unwrap()
        .remove("critical");
    assert!(!validate(&unlabelled).is_empty());
    let mut no_mode = crit;
    no_mode["dnssec_monitor"]
        .as_object_mut()
        .unwrap()
        .remove("mode");
    assert!(!validate(&no_mode).is_empty());
}
