//! Human units in the config: sizes (`64MiB`, `1GB`, or bytes) and
//! durations (`30d`, `12h`, or seconds).

use serde::{Deserialize, Deserializer, de};

/// A size as written: an integer of bytes or a string with a unit.
#[derive(Clone, Debug, PartialEq)]
pub enum SizeSpec {
    Bytes(u64),
    Text(String),
}

impl SizeSpec {
    pub fn bytes(&self) -> Result<u64, String> {
        match self {
            SizeSpec::Bytes(b) => Ok(*b),
            SizeSpec::Text(s) => parse_size(s),
        }
    }
}

/// A duration as written: an integer of seconds or a string with a unit.
#[derive(Clone, Debug, PartialEq)]
pub enum DurationSpec {
    Seconds(u64),
    Text(String),
}

impl DurationSpec {
    pub fn duration(&self) -> Result<std::time::Duration, String> {
        match self {
            DurationSpec::Seconds(s) => Ok(std::time::Duration::from_secs(*s)),
            DurationSpec::Text(s) => parse_duration(s),
        }
    }
}

/// Either a non-negative integer or a string; anything else is an error
/// that says what is expected (serde's untagged enums cannot).
struct NumberOrText(&'static str);

enum NumOrText {
    Num(u64),
    Text(String),
}

impl<'de> de::Visitor<'de> for NumberOrText {
    type Value = NumOrText;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumOrText, E> {
        Ok(NumOrText::Num(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumOrText, E> {
        u64::try_from(v)
            .map(NumOrText::Num)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<NumOrText, E> {
        Ok(NumOrText::Text(v.to_owned()))
    }
}

impl<'de> Deserialize<'de> for SizeSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(
            match d.deserialize_any(NumberOrText(
                "a size: a number of bytes or a string such as \"64MiB\"",
            ))? {
                NumOrText::Num(n) => SizeSpec::Bytes(n),
                NumOrText::Text(s) => SizeSpec::Text(s),
            },
        )
    }
}

impl<'de> Deserialize<'de> for DurationSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(
            match d.deserialize_any(NumberOrText(
                "a duration: a number of seconds or a string such as \"30d\"",
            ))? {
                NumOrText::Num(n) => DurationSpec::Seconds(n),
                NumOrText::Text(s) => DurationSpec::Text(s),
            },
        )
    }
}

fn split_number(s: &str) -> Result<(u64, &str), String> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n = s[..digits]
        .parse::<u64>()
        .map_err(|_| format!("{s:?} does not start with a number"))?;
    Ok((n, s[digits..].trim()))
}

/// `512`, `512B`, `64K`/`64KiB` (×1024), `64KB` (×1000), likewise M, G, T.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (n, unit) = split_number(s)?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => {
            return Err(format!(
                "unknown size unit {unit:?} in {s:?} (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// `90` (seconds), `90s`, `15m`, `12h`, `30d`, `2w`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (n, unit) = split_number(s)?;
    let mult: u64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "unknown duration unit {unit:?} in {s:?} (use s, m, h, d, w)"
            ));
        }
    };
    n.checked_mul(mult)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("duration {s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("64 M").unwrap(), 64 << 20);
        assert_eq!(parse_size("1GB").unwrap(), 1_000_000_000);
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("30d").unwrap(),
            Duration::from_secs(30 * 86_400)
        );
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert!(parse_duration("3 fortnights").is_err());
        assert!(parse_duration("-1d").is_err());
    }
}
