//! `OTEL_BLRP_*` and `OTEL_LOGRECORD_*` environment variables. One test, because it changes
//! the process environment.

use std::time::Duration;

use otlp_sdk::logs::{InMemoryLogExporter, LogLimits, LogRecord, LoggerProvider};
use otlp_sdk::pipeline::BatchConfig;

#[test]
fn environment_configures_batching_and_limits() {
    std::env::set_var("OTEL_BLRP_SCHEDULE_DELAY", "250");
    std::env::set_var("OTEL_BLRP_EXPORT_TIMEOUT", "1500");
    std::env::set_var("OTEL_BLRP_MAX_QUEUE_SIZE", "64");
    std::env::set_var("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "16");
    let c = BatchConfig::logs_from_env();
    assert_eq!(c.scheduled_delay, Duration::from_millis(250));
    assert_eq!(c.export_timeout, Duration::from_millis(1500));
    assert_eq!((c.max_queue_size, c.max_export_batch_size), (64, 16));

    std::env::set_var("OTEL_BLRP_SCHEDULE_DELAY", "soon");
    assert_eq!(
        BatchConfig::logs_from_env().scheduled_delay,
        Duration::from_secs(1),
        "a bad value keeps the logs default"
    );

    // The general limits apply unless the log-record ones are set.
    std::env::set_var("OTEL_ATTRIBUTE_COUNT_LIMIT", "5");
    std::env::set_var("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "7");
    assert_eq!(
        LogLimits::from_env(),
        LogLimits {
            max_attributes_per_record: 5,
            max_attribute_value_length: Some(7)
        }
    );
    std::env::set_var("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "1");
    std::env::set_var("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "2");
    assert_eq!(
        LogLimits::from_env(),
        LogLimits {
            max_attributes_per_record: 1,
            max_attribute_value_length: Some(2)
        }
    );

    // A provider built without explicit limits reads them.
    let exporter = InMemoryLogExporter::default();
    let provider = LoggerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    provider.logger("l").emit(
        LogRecord::new()
            .with_attribute("a", "abc")
            .with_attribute("b", 1),
    );
    let r = &exporter.emitted_logs()[0].record;
    assert_eq!(r.attributes, vec![("a".into(), "ab".into())]);
    assert_eq!(r.dropped_attributes_count, 1);
}
