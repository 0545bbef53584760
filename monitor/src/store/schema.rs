//! The store's schema, versioned with `PRAGMA user_version`.
//!
//! `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`; each runs
//! in its own transaction together with the version bump, so a crash
//! mid-migration leaves the previous version intact. Append new
//! migrations; never edit a released one.

use rusqlite::Connection;

/// Version 1: transactions, verdicts, evidence, alerts.
///
/// Names are stored lowercased without the trailing dot (`qname`) and with
/// their labels reversed (`qname_rev`, `com.example.www.`), so a suffix
/// search ("everything under example.com") is an index range scan.
/// Times are Unix nanoseconds (`*_ns`).
const V1: &str = "
CREATE TABLE transactions (
    id            INTEGER PRIMARY KEY,
    time_ns       INTEGER NOT NULL,
    query_time_ns INTEGER,
    qname         TEXT NOT NULL,
    qname_rev     TEXT NOT NULL,
    qtype         INTEGER NOT NULL,
    rcode         INTEGER,
    pid           INTEGER,
    process       TEXT,
    uid           INTEGER,
    container_id  TEXT,
    src           TEXT,
    dst           TEXT,
    transport     TEXT,
    query         BLOB,
    answer        BLOB
);
CREATE INDEX transactions_time ON transactions(time_ns);
CREATE INDEX transactions_name ON transactions(qname_rev);
CREATE INDEX transactions_process ON transactions(process);
CREATE INDEX transactions_pid ON transactions(pid);

CREATE TABLE verdicts (
    id             INTEGER PRIMARY KEY,
    transaction_id INTEGER REFERENCES transactions(id) ON DELETE CASCADE,
    time_ns        INTEGER NOT NULL,
    qname          TEXT NOT NULL,
    qtype          INTEGER NOT NULL,
    outcome        TEXT NOT NULL,
    reason         TEXT,
    ede_code       INTEGER,
    ede_text       TEXT,
    chain_json     TEXT
);
CREATE INDEX verdicts_time ON verdicts(time_ns);
CREATE INDEX verdicts_transaction ON verdicts(transaction_id);

CREATE TABLE evidence (
    id           INTEGER PRIMARY KEY,
    verdict_id   INTEGER NOT NULL REFERENCES verdicts(id) ON DELETE CASCADE,
    owner        TEXT NOT NULL,
    rtype        INTEGER NOT NULL,
    wire         BLOB NOT NULL,
    presentation TEXT
);
CREATE INDEX evidence_verdict ON evidence(verdict_id);

CREATE TABLE alerts (
    id             INTEGER PRIMARY KEY,
    transaction_id INTEGER REFERENCES transactions(id) ON DELETE SET NULL,
    verdict_id     INTEGER REFERENCES verdicts(id) ON DELETE SET NULL,
    time_ns        INTEGER NOT NULL,
    rule           TEXT NOT NULL,
    severity       INTEGER NOT NULL,
    detail         TEXT NOT NULL,
    json           TEXT NOT NULL
);
CREATE INDEX alerts_time ON alerts(time_ns);
CREATE INDEX alerts_rule ON alerts(rule, time_ns);
CREATE INDEX alerts_transaction ON alerts(transaction_id);
CREATE INDEX alerts_verdict ON alerts(verdict_id);
";

/// Version 2: posture for `dnssec-monitor report` — per-resolver
/// aggregates per interval and per-name observations
/// ([`super::posture`]). Lists are comma-separated numbers; latency is the
/// sparse histogram `bucket:count,…` of [`crate::detect::latency`].
const V2: &str = "
CREATE TABLE resolver_stats (
    id             INTEGER PRIMARY KEY,
    start_ns       INTEGER NOT NULL,
    time_ns        INTEGER NOT NULL,
    resolver       TEXT NOT NULL,
    queries        INTEGER NOT NULL,
    answers        INTEGER NOT NULL,
    unanswered     INTEGER NOT NULL,
    servfail       INTEGER NOT NULL,
    refused        INTEGER NOT NULL,
    secure_answers INTEGER NOT NULL,
    secure_ad      INTEGER NOT NULL,
    latency        TEXT NOT NULL
);
CREATE INDEX resolver_stats_time ON resolver_stats(time_ns);

CREATE TABLE name_observations (
    id                INTEGER PRIMARY KEY,
    first_ns          INTEGER NOT NULL,
    time_ns           INTEGER NOT NULL,
    qname             TEXT NOT NULL,
    qname_rev         TEXT NOT NULL,
    qtype             INTEGER NOT NULL,
    label             TEXT,
    zone              TEXT,
    outcome           TEXT NOT NULL,
    reason            TEXT,
    algorithms        TEXT NOT NULL,
    ds_key_tags       TEXT NOT NULL,
    sig_expiration_ns INTEGER,
    resolver          TEXT,
    answers           INTEGER NOT NULL,
    ad_answers        INTEGER NOT NULL,
    pid               INTEGER,
    process           TEXT,
    container_id      TEXT
);
CREATE INDEX name_observations_time ON name_observations(time_ns);
CREATE INDEX name_observations_name ON name_observations(qname_rev);
";

pub const MIGRATIONS: &[&str] = &[V1, V2];

/// The schema version this build writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(
        "database schema version {found} is newer than this build's {supported}; refusing to touch it"
    )]
    TooNew { found: i64, supported: i64 },
    #[error("migration to schema version {version}: {cause}")]
    Sql {
        version: i64,
        cause: rusqlite::Error,
    },
}

pub fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

/// Bring the schema up to [`CURRENT_VERSION`]; returns the version found.
pub fn migrate(conn: &mut Connection) -> Result<i64, MigrationError> {
    let found = user_version(conn).map_err(|source| MigrationError::Sql {
        version: 0,
        cause: source,
    })?;
    if found > CURRENT_VERSION {
        return Err(MigrationError::TooNew {
            found,
            supported: CURRENT_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i as i64 + 1;
        let sql_err = |source| MigrationError::Sql {
            version,
            cause: source,
        };
        // IMMEDIATE takes the write lock first, and the version is read
        // again under it: two processes opening a new store at once (the
        // daemon's writers) migrate it once, not twice.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        if user_version(&tx).map_err(sql_err)? >= version {
            continue;
        }
        tx.execute_batch(sql).map_err(sql_err)?;
        tx.pragma_update(None, "user_version", version)
            .map_err(sql_err)?;
        tx.commit().map_err(sql_err)?;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_a_fresh_database_once() {
        let mut c = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut c).unwrap(), 0);
        assert_eq!(user_version(&c).unwrap(), CURRENT_VERSION);
        // Idempotent: a second run finds the current version and does nothing.
        assert_eq!(migrate(&mut c).unwrap(), CURRENT_VERSION);
        let tables: i64 = c
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 6);
    }

    #[test]
    fn a_version_1_store_is_upgraded_in_place() {
        let mut c = Connection::open_in_memory().unwrap();
        c.execute_batch(V1).unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
        c.execute(
            "INSERT INTO alerts (time_ns, rule, severity, detail, json) VALUES (1, 'r', 47, 'd', '{}')",
            [],
        )
        .unwrap();
        assert_eq!(migrate(&mut c).unwrap(), 1);
        assert_eq!(user_version(&c).unwrap(), CURRENT_VERSION);
        let kept: i64 = c
            .query_row("SELECT count(*) FROM alerts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, 1, "old rows survive");
        c.execute("SELECT count(*) FROM resolver_stats", []).ok();
        let n: i64 = c
            .query_row("SELECT count(*) FROM name_observations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn two_connections_migrate_a_new_file_once() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.db");
        let mut a = Connection::open(&p).unwrap();
        let mut b = Connection::open(&p).unwrap();
        b.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
        // b read version 0 before a migrated: it must still not fail.
        assert_eq!(user_version(&b).unwrap(), 0);
        migrate(&mut a).unwrap();
        migrate(&mut b).unwrap();
        assert_eq!(user_version(&b).unwrap(), CURRENT_VERSION);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let mut c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "user_version", CURRENT_VERSION + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut c),
            Err(MigrationError::TooNew { .. })
        ));
    }
}
