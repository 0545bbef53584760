//! Command-line interface of `dnssec-monitor`.
