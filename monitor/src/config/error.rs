//! Configuration errors that name the file, the key and its line.

use std::{fmt, ops::Range, path::PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// The config file itself cannot be read.
    Read,
    /// Not valid TOML, or a value of the wrong type.
    Syntax,
    UnknownKey,
    /// An address, name, size, duration or choice that does not parse.
    BadValue,
    /// A file the config names (trust anchor, root hints, CA) cannot be read.
    UnreadableFile,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub kind: ConfigErrorKind,
    /// Dotted key, e.g. `sink.syslog[0].address`, when known.
    pub key: Option<String>,
    /// 1-based line and column of the offending key or value.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// 1-based (line, column) of byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text.as_bytes()[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// Builds errors for one config text.
pub struct ErrorContext<'a> {
    pub file: PathBuf,
    pub text: &'a str,
}

impl ErrorContext<'_> {
    pub fn at(
        &self,
        kind: ConfigErrorKind,
        key: impl Into<String>,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> ConfigError {
        let (line, column) = line_col(self.text, span.start);
        ConfigError {
            file: self.file.clone(),
            kind,
            key: Some(key.into()),
            line: Some(line),
            column: Some(column),
            message: message.into(),
        }
    }

    /// Map a toml parse/deserialize error: find its line, and the key either
    /// from the message (unknown field) or from the `key =` on that line,
    /// prefixed with the table header above it.
    pub fn from_toml(&self, e: &toml::de::Error) -> ConfigError {
        let message = e.message().trim().to_owned();
        let Some(span) = e.span() else {
            return ConfigError {
                file: self.file.clone(),
                kind: ConfigErrorKind::Syntax,
                key: None,
                line: None,
                column: None,
                message,
            };
        };
        let (line, column) = line_col(self.text, span.start);
        let unknown = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, _)| name.to_owned());
        let kind = if unknown.is_some() {
            ConfigErrorKind::UnknownKey
        } else {
            ConfigErrorKind::Syntax
        };
        let key =
            unknown
                .or_else(|| self.key_on_line(line))
                .map(|k| match self.table_above(line) {
                    Some(table) => format!("{table}.{k}"),
                    None => k,
                });
        ConfigError {
            file: self.file.clone(),
            kind,
            key,
            line: Some(line),
            column: Some(column),
            message,
        }
    }

    fn lines(&self) -> impl Iterator<Item = &str> {
        self.text.lines()
    }

    /// The bare key written at the start of line `line` (`key = …`).
    fn key_on_line(&self, line: usize) -> Option<String> {
        let l = self.lines().nth(line - 1)?;
        let (key, _) = l.split_once('=')?;
        let key = key.trim();
        (!key.is_empty() && !key.starts_with('#') && !key.starts_with('[')).then(|| key.to_owned())
    }

    /// The `[table]` or `[[table]]` header in force at line `line`.
    fn table_above(&self, line: usize) -> Option<String> {
        self.lines()
            .take(line)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .find_map(|l| {
                let l = l.trim();
                let inner = l
                    .strip_prefix("[[")
                    .and_then(|r| r.split_once("]]"))
                    .map(|(t, _)| t)
                    .or_else(|| {
                        l.strip_prefix('[')
                            .and_then(|r| r.split_once(']'))
                            .map(|(t, _)| t)
                    })?;
                Some(inner.trim().to_owned())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_of_offsets() {
        let t = "a = 1\nbb = 2\n\nccc = 3";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 11), (2, 6));
        assert_eq!(line_col(t, t.len()), (4, 8));
    }

    #[test]
    fn display_names_file_line_and_key() {
        let ctx = ErrorContext {
            file: "/etc/x.toml".into(),
            text: "\n\nkey = 1\n",
        };
        let e = ctx.at(ConfigErrorKind::BadValue, "key", 8..9, "bad");
        assert_eq!(e.to_string(), "/etc/x.toml:3:7: `key`: bad");
    }
}
