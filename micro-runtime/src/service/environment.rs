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

/// A Go-style duration (`30s`, `500ms`, `1m`) or plain seconds.
pub(crate) fn duration(key: &str, value: &str) -> Result<Duration, LocalError> {
    let v = value.trim();
    let parsed = if let Some(ms) = v.strip_suffix("ms") {
        ms.parse::<u64>().ok().map(Duration::from_millis)
    } else if let Some(s) = v.strip_suffix('s') {
        s.parse::<f64>()
            .ok()
            .filter(|s| *s >= 0.0)
            .map(Duration::from_secs_f64)
    } else if let Some(m) = v.strip_suffix('m') {
        m.parse::<u64>().ok().map(|m| Duration::from_secs(m * 60))
    } else {
        v.parse::<u64>().ok().map(Duration::from_secs)
    };
    parsed.ok_or_else(|| {
        config(format!(
            "{key}={value:?} is not a duration (try 30s or 500ms)"
        ))
    })
}
