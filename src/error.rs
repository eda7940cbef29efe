//! Error types.
//!
//! - [`ConfigError`]: a builder, or an environment variable the SDK cannot do without (an
//!   OTLP endpoint, say), was given a value that cannot be used. It names the setting and
//!   the value (secrets redacted), and is returned from `build()`-style calls and the
//!   `from_env` functions; the SDK never panics on bad configuration. Other malformed
//!   variables are reported through [`diagnostics`](crate::diagnostics) and ignored, as the
//!   specification asks.
//! - [`SdkError`]: the outcome of `force_flush`, `shutdown` and `export` calls.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

/// The result of `force_flush`, `shutdown` and exporter calls.
pub type SdkResult = Result<(), SdkError>;

/// Runs every operation (all of them, even after a failure) and returns the first error.
pub(crate) fn first_error(results: impl Iterator<Item = SdkResult>) -> SdkResult {
    let mut out = Ok(());
    for r in results {
        if let Err(e) = r {
            if out.is_ok() {
                out = Err(e);
            }
        }
    }
    out
}

/// Runs an exporter call; a panic in it becomes an error (`"<what> panicked"`), so that a
/// faulty exporter never unwinds into the application or the SDK's own threads.
/// Runs a user hook that returns nothing; a panic in it is reported, not unwound into the
/// application.
pub(crate) fn run_hook(what: &str, f: impl FnOnce()) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
        crate::diagnostics::report(&format!("{what} panicked"));
    }
}

pub(crate) fn catch_panic(what: &str, f: impl FnOnce() -> SdkResult) -> SdkResult {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(SdkError::failed(format!("{what} panicked"))))
}

/// Why a flush, shutdown or export did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SdkError {
    /// `shutdown` was already called on this component.
    AlreadyShutdown,
    /// The operation did not finish within the given time.
    Timeout(Duration),
    /// The operation failed; the message says why.
    Failed(String),
}

impl SdkError {
    /// A failure with a message.
    pub fn failed(msg: impl Into<String>) -> Self {
        SdkError::Failed(msg.into())
    }
}

impl fmt::Display for SdkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SdkError::AlreadyShutdown => f.write_str("already shut down"),
            SdkError::Timeout(d) => write!(f, "timed out after {d:?}"),
            SdkError::Failed(m) => write!(f, "failed: {m}"),
        }
    }
}

impl std::error::Error for SdkError {}

/// What kind of configuration problem a [`ConfigError`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The value could not be parsed (not a number, not a URL, not a known name...).
    Invalid,
    /// The value parsed but is outside the allowed range.
    OutOfRange,
    /// A file named by the setting could not be read.
    Unreadable,
    /// The setting needs a cargo feature that is not compiled in.
    Unsupported,
}

/// A setting (builder option or environment variable) had a value that cannot be used.
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigError {
    kind: ConfigErrorKind,
    setting: Cow<'static, str>,
    value: String,
    reason: String,
}

impl ConfigError {
    /// A new error for `setting` (an env var name or a builder method) given `value`.
    pub fn new(
        kind: ConfigErrorKind,
        setting: impl Into<Cow<'static, str>>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        ConfigError {
            kind,
            setting: setting.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }

    /// Like [`ConfigError::new`] but never shows the value (for secrets such as headers).
    pub fn redacted(
        kind: ConfigErrorKind,
        setting: impl Into<Cow<'static, str>>,
        reason: impl Into<String>,
    ) -> Self {
        Self::new(kind, setting, "<redacted>", reason)
    }

    /// The kind of problem.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }
    /// The setting: an environment variable name or a builder method.
    pub fn setting(&self) -> &str {
        &self.setting
    }
    /// The offending value (or `<redacted>`).
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} value {:?}: {}",
            self.setting, self.value, self.reason
        )
    }
}

impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigError")
            .field("kind", &self.kind)
            .field("setting", &self.setting)
            .field("value", &self.value)
            .field("reason", &self.reason)
            .finish()
    }
}

impl std::error::Error for ConfigError {}
