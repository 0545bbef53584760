//! Searches for `dnssec-monitor search`: by name (the name and everything
//! under it), process (name, or pid when numeric), rule and time range;
//! newest first. And the full detail of one alert, for `export` and
//! `verify-evidence`.

use std::time::SystemTime;

use rusqlite::{OptionalExtension, Row, params, params_from_iter, types::Value};

use super::{
    db::{Store, StoreError},
    record::{Evidence, Transaction, Verdict, normalize_name, reversed_name, time_ns},
};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// This name and every name below it (`example.com` matches
    /// `www.example.com`, not `badexample.com`).
    pub name: Option<String>,
    /// Process name (`comm`) or, when all digits, a pid.
    pub process: Option<String>,
    pub rule: Option<String>,
    pub since: Option<SystemTime>,
    pub until: Option<SystemTime>,
    /// At most this many rows; 0 means 100.
    pub limit: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AlertHit {
    pub id: i64,
    pub time_ns: i64,
    pub rule: String,
    pub severity: i64,
    pub detail: String,
    pub qname: Option<String>,
    pub qtype: Option<u16>,
    pub pid: Option<u32>,
    pub process: Option<String>,
    pub outcome: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TransactionHit {
    pub id: i64,
    pub time_ns: i64,
    pub qname: String,
    pub qtype: u16,
    pub rcode: Option<u16>,
    pub pid: Option<u32>,
    pub process: Option<String>,
    pub src: Option<String>,
    pub dst: Option<String>,
    pub outcome: Option<String>,
    /// Alerts raised on this transaction.
    pub alerts: i64,
}

/// One alert with everything stored about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertDetail {
    pub hit: AlertHit,
    pub json: String,
    pub transaction: Option<Transaction>,
    pub verdict: Option<Verdict>,
}

/// SQL conditions and their parameters, built from a query.
struct Filter {
    sql: Vec<String>,
    params: Vec<Value>,
}

impl Filter {
    fn new(q: &SearchQuery, time_col: &str) -> Filter {
        let mut f = Filter {
            sql: Vec::new(),
            params: Vec::new(),
        };
        if let Some(name) = &q.name {
            let rev = reversed_name(&normalize_name(name));
            if !rev.is_empty() {
                // Every name under the suffix starts with `rev` (which ends in
                // a dot); '/' is the byte after '.', closing the range.
                let mut upper = rev[..rev.len() - 1].to_owned();
                upper.push('/');
                f.push(
                    "t.qname_rev >= ? AND t.qname_rev < ?",
                    [Value::Text(rev), Value::Text(upper)],
                );
            }
        }
        if let Some(p) = &q.process {
            match p.parse::<u32>() {
                Ok(pid) => f.push("t.pid = ?", [Value::Integer(pid.into())]),
                Err(_) => f.push("t.process = ?", [Value::Text(p.clone())]),
            }
        }
        if let Some(since) = q.since {
            f.push(
                &format!("{time_col} >= ?"),
                [Value::Integer(time_ns(Some(since)))],
            );
        }
        if let Some(until) = q.until {
            f.push(
                &format!("{time_col} < ?"),
                [Value::Integer(time_ns(Some(until)))],
            );
        }
        f
    }

    fn push<const N: usize>(&mut self, sql: &str, params: [Value; N]) {
        self.sql.push(sql.to_owned());
        self.params.extend(params);
    }

    fn where_clause(&self) -> String {
        if self.sql.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.sql.join(" AND "))
        }
    }
}

fn limit(q: &SearchQuery) -> i64 {
    if q.limit == 0 {
        100
    } else {
        q.limit.min(i64::MAX as usize) as i64
    }
}

const ALERT_COLUMNS: &str =
    "a.id, a.time_ns, a.rule, a.severity, a.detail, t.qname, t.qtype, t.pid, t.process, v.outcome";

fn alert_hit(r: &Row<'_>) -> rusqlite::Result<AlertHit> {
    Ok(AlertHit {
        id: r.get(0)?,
        time_ns: r.get(1)?,
        rule: r.get(2)?,
        severity: r.get(3)?,
        detail: r.get(4)?,
        qname: r.get(5)?,
        qtype: r.get(6)?,
        pid: r.get(7)?,
        process: r.get(8)?,
        outcome: r.get(9)?,
    })
}

impl Store {
    pub fn search_alerts(&self, q: &SearchQuery) -> Result<Vec<AlertHit>, StoreError> {
        let mut f = Filter::new(q, "a.time_ns");
        if let Some(rule) = &q.rule {
            f.push("a.rule = ?", [Value::Text(rule.clone())]);
        }
        f.params.push(Value::Integer(limit(q)));
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts a
             LEFT JOIN transactions t ON t.id = a.transaction_id
             LEFT JOIN verdicts v ON v.id = a.verdict_id
             {} ORDER BY a.time_ns DESC, a.id DESC LIMIT ?",
            f.where_clause()
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(f.params), alert_hit)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn search_transactions(&self, q: &SearchQuery) -> Result<Vec<TransactionHit>, StoreError> {
        let mut f = Filter::new(q, "t.time_ns");
        if let Some(rule) = &q.rule {
            f.push(
                "EXISTS (SELECT 1 FROM alerts x WHERE x.transaction_id = t.id AND x.rule = ?)",
                [Value::Text(rule.clone())],
            );
        }
        f.params.push(Value::Integer(limit(q)));
        let sql = format!(
            "SELECT t.id, t.time_ns, t.qname, t.qtype, t.rcode, t.pid, t.process, t.src, t.dst,
                    (SELECT v.outcome FROM verdicts v WHERE v.transaction_id = t.id ORDER BY v.id LIMIT 1),
                    (SELECT count(*) FROM alerts x WHERE x.transaction_id = t.id)
             FROM transactions t {} ORDER BY t.time_ns DESC, t.id DESC LIMIT ?",
            f.where_clause()
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(f.params), |r| {
            Ok(TransactionHit {
                id: r.get(0)?,
                time_ns: r.get(1)?,
                qname: r.get(2)?,
                qtype: r.get(3)?,
                rcode: r.get(4)?,
                pid: r.get(5)?,
                process: r.get(6)?,
                src: r.get(7)?,
                dst: r.get(8)?,
                outcome: r.get(9)?,
                alerts: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Everything stored about alert `id`, or `None` if there is no such alert.
    pub fn alert_detail(&self, id: i64) -> Result<Option<AlertDetail>, StoreError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS}, a.json, a.transaction_id, a.verdict_id FROM alerts a
             LEFT JOIN transactions t ON t.id = a.transaction_id
             LEFT JOIN verdicts v ON v.id = a.verdict_id WHERE a.id = ?1"
        );
        let found = self
            .conn
            .query_row(&sql, params![id], |r| {
                Ok((
                    alert_hit(r)?,
                    r.get::<_, String>(10)?,
                    r.get::<_, Option<i64>>(11)?,
                    r.get::<_, Option<i64>>(12)?,
                ))
            })
            .optional()?;
        let Some((hit, json, tx_id, verdict_id)) = found else {
            return Ok(None);
        };
        let transaction = tx_id.map(|t| self.transaction(t)).transpose()?.flatten();
        let verdict = verdict_id.map(|v| self.verdict(v)).transpose()?.flatten();
        Ok(Some(AlertDetail {
            hit,
            json,
            transaction,
            verdict,
        }))
    }

    fn transaction(&self, id: i64) -> Result<Option<Transaction>, StoreError> {
        let from_ns =
            |ns: i64| std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns.max(0) as u64);
        Ok(self
            .conn
            .query_row(
                "SELECT time_ns, query_time_ns, qname, qtype, rcode, pid, process, uid, container_id,
                        src, dst, transport, query, answer FROM transactions WHERE id = ?1",
                params![id],
                |r| {
                    Ok(Transaction {
                        time: Some(from_ns(r.get(0)?)),
                        query_time: r.get::<_, Option<i64>>(1)?.map(from_ns),
                        qname: r.get(2)?,
                        qtype: r.get(3)?,
                        rcode: r.get(4)?,
                        pid: r.get(5)?,
                        process: r.get(6)?,
                        uid: r.get(7)?,
                        container_id: r.get(8)?,
                        src: r.get(9)?,
                        dst: r.get(10)?,
                        transport: r.get(11)?,
                        query: r.get(12)?,
                        answer: r.get(13)?,
                    })
                },
            )
            .optional()?)
    }

    fn verdict(&self, id: i64) -> Result<Option<Verdict>, StoreError> {
        let from_ns =
            |ns: i64| std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns.max(0) as u64);
        let Some(mut v) = self
            .conn
            .query_row(
                "SELECT time_ns, qname, qtype, outcome, reason, ede_code, ede_text, chain_json FROM verdicts WHERE id = ?1",
                params![id],
                |r| {
                    Ok(Verdict {
                        time: Some(from_ns(r.get(0)?)),
                        qname: r.get(1)?,
                        qtype: r.get(2)?,
                        outcome: r.get(3)?,
                        reason: r.get(4)?,
                        ede_code: r.get(5)?,
                        ede_text: r.get(6)?,
                        chain_json: r.get(7)?,
                        evidence: Vec::new(),
                    })
                },
            )
            .optional()?
        else {
            return Ok(None);
        };
        let mut stmt =
            self.conn.prepare("SELECT owner, rtype, wire, presentation FROM evidence WHERE verdict_id = ?1 ORDER BY id")?;
        v.evidence = stmt
            .query_map(params![id], |r| {
                Ok(Evidence {
                    owner: r.get(0)?,
                    rtype: r.get(1)?,
                    wire: r.get(2)?,
                    presentation: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(Some(v))
    }
}

#[cfg(test)]
#[path = "search_tests.rs"]
mod tests;
