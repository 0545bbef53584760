//! Opening the store: pragmas, schema migration, integrity check.
//!
//! - `journal_mode = WAL`: readers (the `search` CLI) never block the
//!   writer, and a killed writer leaves a database that recovers on open.
//! - `synchronous = NORMAL`: in WAL mode a commit survives a process kill
//!   (SIGKILL); only a power loss can roll back the last commits, and never
//!   corrupts (SQLite docs, "WAL mode ... synchronous=NORMAL").
//! - `auto_vacuum = INCREMENTAL`: retention frees pages and
//!   `incremental_vacuum` gives them back to the file system. It must be
//!   set before the first table exists, so it is set on a new file only.
//! - `foreign_keys = ON`: evidence and verdicts go with their transaction.

use std::{path::Path, time::Duration};

use rusqlite::{Connection, OpenFlags};

use super::schema::{self, MigrationError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {cause}")]
    Open {
        path: String,
        cause: rusqlite::Error,
    },
    #[error("store schema: {0}")]
    Migration(#[from] MigrationError),
    #[error("store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("store integrity check failed: {0}")]
    Integrity(String),
}

/// One connection to the store.
pub struct Store {
    pub(crate) conn: Connection,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.conn.path())
            .finish()
    }
}

impl Store {
    /// Open for writing (the daemon), creating and migrating as needed.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.display().to_string(),
            cause: source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(open_err)?;
        let fresh = schema::user_version(&conn).map_err(open_err)? == 0;
        if fresh {
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
                .map_err(open_err)?;
        }
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(open_err(rusqlite::Error::InvalidParameterName(format!(
                "journal_mode stayed {mode}"
            ))));
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        // Truncate the WAL file back to 64 MiB after checkpoints.
        conn.pragma_update(None, "journal_size_limit", 64i64 << 20)
            .map_err(open_err)?;
        schema::migrate(&mut conn)?;
        Ok(Store { conn })
    }

    /// Open read-only (the `search` CLI while the daemon runs).
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.display().to_string(),
            cause: source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(open_err)?;
        let version = schema::user_version(&conn).map_err(open_err)?;
        if version != schema::CURRENT_VERSION {
            return Err(StoreError::Migration(MigrationError::TooNew {
                found: version,
                supported: schema::CURRENT_VERSION,
            }));
        }
        Ok(Store { conn })
    }

    /// `PRAGMA integrity_check`: `Ok` when SQLite answers exactly `ok`.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let lines: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if lines == ["ok"] {
            Ok(())
        } else {
            Err(StoreError::Integrity(lines.join("; ")))
        }
    }

    /// Rows in each table: (transactions, verdicts, evidence, alerts).
    pub fn counts(&self) -> Result<(i64, i64, i64, i64), StoreError> {
        let c = |t: &str| -> Result<i64, StoreError> {
            Ok(self
                .conn
                .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))?)
        };
        Ok((
            c("transactions")?,
            c("verdicts")?,
            c("evidence")?,
            c("alerts")?,
        ))
    }

    /// Bytes of pages in use (file size minus free pages).
    pub fn used_bytes(&self) -> Result<u64, StoreError> {
        let q = |p: &str| -> Result<i64, StoreError> {
            Ok(self.conn.pragma_query_value(None, p, |r| r.get(0))?)
        };
        let used = (q("page_count")? - q("freelist_count")?) * q("page_size")?;
        Ok(used.max(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_in_wal_with_incremental_vacuum_and_checks_ok() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("store.db");
        let s = Store::open(&p).unwrap();
        let mode: String = s
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let av: i64 = s
            .conn
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
            .unwrap();
        assert_eq!(av, 2, "2 = incremental");
        s.integrity_check().unwrap();
        drop(s);
        // Reopen: the schema is found, not recreated.
        let s = Store::open(&p).unwrap();
        assert_eq!(s.counts().unwrap(), (0, 0, 0, 0));
        assert!(Store::open_read_only(&p).is_ok());
    }

    #[test]
    fn a_file_that_is_not_a_database_is_an_error_naming_it() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("junk.db");
        std::fs::write(&p, vec![0x42u8; 8192]).unwrap();
        let err = Store::open(&p).unwrap_err();
        assert!(err.to_string().contains("junk.db"), "{err}");
    }

    #[test]
    fn read_only_open_of_a_missing_file_fails() {
        let d = tempfile::tempdir().unwrap();
        assert!(Store::open_read_only(&d.path().join("none.db")).is_err());
    }
}
