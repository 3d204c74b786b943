//! [`Environment`]: how the `MICRO_*` variables combine with code, and reading their values.

use std::time::Duration;

use crate::error::{LocalError, LocalErrorKind};

/// How a [`ServiceBuilder`](super::ServiceBuilder) combines the environment (`MICRO_*` variables) with what its code set.
///
/// | | code set it | code left it unset |
/// |---|---|---|
/// | `FillsGaps` (default) | code | environment, else default |
/// | `Overrides` (go-micro's flags) | environment, else code | environment, else default |
/// | `Ignored` | code | default |
///
/// `FillsGaps` is the default because a value written in code is a decision, and a variable
/// exported for another program must not silently undo it; an operator who wants to re-point a
/// binary without rebuilding it gets go-micro's behaviour with `Overrides`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Environment {
    /// Code wins; the environment fills what code left unset.
    #[default]
    FillsGaps,
    /// The environment wins over code, as go-micro's flags and variables do.
    Overrides,
    /// The environment is not read at all: code, then defaults.
    Ignored,
}

impl Environment {
    pub(super) fn pick<T>(self, code: Option<T>, env: Option<T>) -> Option<T> {
        match self {
            Environment::FillsGaps => code.or(env),
            Environment::Overrides => env.or(code),
            Environment::Ignored => code,
        }
    }
}

pub(super) fn config(message: String) -> LocalError {
    LocalError::new(LocalErrorKind::Config, message)
}

pub(super) fn seconds(key: &str, value: &str) -> Result<Duration, LocalError> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| config(format!("{key}={value:?} is not a number of seconds")))
}

/// A Go-style duration (`30s`, `500ms`, `1m`, `1.5h`) or plain seconds (`5`), as go-micro's
/// flags and variables take them; `None` for anything else. The `micro` command line and the
/// gateway read durations with it too, so they all take the same forms.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let at = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(at);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

/// [`parse_duration`] of a variable's value, with an error naming the variable.
pub(crate) fn duration(key: &str, value: &str) -> Result<Duration, LocalError> {
    parse_duration(value).ok_or_else(|| {
        config(format!(
            "{key}={value:?} is not a duration (try 30s or 500ms)"
        ))
    })
}
