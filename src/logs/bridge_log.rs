//! The bridge from the [`log`] crate: records written with `log::info!` and friends become
//! OpenTelemetry log records, tied to the span that is current when they are written.

use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;

use crate::attributes::StringValue;
use crate::logs::logger::Logger;
use crate::logs::provider::LoggerProvider;
use crate::logs::record::{LogRecord, SeverityNumber};
use crate::semconv;
use crate::time::now_unix_nanos;

/// Most distinct `log` targets given a logger (scope) of their own; records of further
/// targets share one scope named `log`.
const MAX_TARGET_LOGGERS: usize = 256;

/// A [`log::Log`] that turns `log` records into OpenTelemetry log records.
///
/// - The record's target is the instrumentation scope name (as Python's logging handler uses
///   the logger name).
/// - Severity: `Error` 17, `Warn` 13, `Info` 9, `Debug` 5, `Trace` 1; the level's name is the
///   severity text.
/// - The formatted message is the body; the module path, file and line become the `code.namespace`,
///   `code.file.path` and `code.line.number` attributes.
/// - The current span's trace id, span id and flags are filled in.
///
/// ```
/// use otlp_sdk::logs::{InMemoryLogExporter, LogBridge, LoggerProvider};
///
/// let exporter = InMemoryLogExporter::default();
/// let provider = LoggerProvider::builder().with_simple_exporter(exporter.clone()).build();
/// LogBridge::new(&provider).install(log::LevelFilter::Info).unwrap();
/// log::info!("doing some work");
/// provider.shutdown().unwrap();
/// assert_eq!(exporter.emitted_logs()[0].record.body.as_ref().unwrap().as_str(), Some("doing some work"));
/// ```
pub struct LogBridge {
    provider: LoggerProvider,
    loggers: TargetLoggers,
}

/// One logger per target (the target is the scope name), created on first use.
pub(crate) struct TargetLoggers {
    provider: LoggerProvider,
    fallback: Logger,
    loggers: RwLock<HashMap<String, Logger>>,
}

impl TargetLoggers {
    pub(crate) fn new(provider: &LoggerProvider, fallback_name: &'static str) -> Self {
        TargetLoggers {
            provider: provider.clone(),
            fallback: provider.logger(fallback_name),
            loggers: RwLock::new(HashMap::new()),
        }
    }

    /// `false` when emitting would do nothing.
    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.fallback.enabled()
    }

    pub(crate) fn get(&self, target: &str) -> Logger {
        if let Some(l) = self
            .loggers
            .read()
            .ok()
            .and_then(|m| m.get(target).cloned())
        {
            return l;
        }
        let Ok(mut map) = self.loggers.write() else {
            return self.fallback.clone();
        };
        if let Some(l) = map.get(target) {
            return l.clone();
        }
        if map.len() >= MAX_TARGET_LOGGERS {
            return self.fallback.clone();
        }
        let l = self.provider.logger(target.to_string());
        map.insert(target.to_string(), l.clone());
        l
    }
}

impl LogBridge {
    /// A bridge emitting through `provider`'s loggers.
    pub fn new(provider: &LoggerProvider) -> Self {
        LogBridge {
            provider: provider.clone(),
            loggers: TargetLoggers::new(provider, "log"),
        }
    }

    /// Installs the bridge as the `log` crate's logger and sets the maximum level. Fails if
    /// another logger was installed already (the `log` crate allows one per process).
    pub fn install(self, max_level: log::LevelFilter) -> Result<(), log::SetLoggerError> {
        log::set_boxed_logger(Box::new(self))?;
        log::set_max_level(max_level);
        Ok(())
    }
}

/// The specification's mapping of `log` levels to severity numbers.
pub(crate) fn severity_of(level: log::Level) -> SeverityNumber {
    match level {
        log::Level::Error => SeverityNumber::Error,
        log::Level::Warn => SeverityNumber::Warn,
        log::Level::Info => SeverityNumber::Info,
        log::Level::Debug => SeverityNumber::Debug,
        log::Level::Trace => SeverityNumber::Trace,
    }
}

impl log::Log for LogBridge {
    fn enabled(&self, _metadata: &log::Metadata<'_>) -> bool {
        self.loggers.enabled()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.loggers.enabled() {
            return;
        }
        let body: StringValue = match record.args().as_str() {
            Some(s) => s.into(),
            None => record.args().to_string().into(),
        };
        let mut out = LogRecord {
            time_unix_nano: now_unix_nanos(),
            severity_number: Some(severity_of(record.level())),
            severity_text: Some(record.level().as_str().into()),
            body: Some(body.into()),
            ..LogRecord::default()
        };
        out.attributes.reserve(3);
        match (record.module_path_static(), record.module_path()) {
            (Some(m), _) => out.add_attribute(semconv::legacy::CODE_NAMESPACE, m),
            (None, Some(m)) => out.add_attribute(semconv::legacy::CODE_NAMESPACE, m.to_string()),
            _ => {}
        }
        match (record.file_static(), record.file()) {
            (Some(f), _) => out.add_attribute(semconv::CODE_FILE_PATH, f),
            (None, Some(f)) => out.add_attribute(semconv::CODE_FILE_PATH, f.to_string()),
            _ => {}
        }
        if let Some(line) = record.line() {
            out.add_attribute(semconv::CODE_LINE_NUMBER, line);
        }
        self.loggers.get(record.target()).emit(out);
    }

    fn flush(&self) {
        if let Err(e) = self.provider.force_flush() {
            crate::diagnostics::report(&format!("LogBridge: flush failed: {e}"));
        }
    }
}

impl fmt::Debug for LogBridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogBridge")
            .field("provider", &self.provider)
            .finish()
    }
}
