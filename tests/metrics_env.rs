//! Environment variables of the metrics SDK. One test function: the environment is
//! process-wide.

use std::time::Duration;

use otlp_sdk::metrics::{
    ExemplarFilter, InMemoryMetricExporter, InstrumentKind, PeriodicExportingMetricReader,
    Temporality, TemporalityPreference,
};

#[test]
fn metrics_environment_variables() {
    let pref = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
    std::env::remove_var(pref);
    assert_eq!(
        TemporalityPreference::from_env(),
        TemporalityPreference::Cumulative
    );
    std::env::set_var(pref, "delta");
    assert_eq!(
        TemporalityPreference::from_env(),
        TemporalityPreference::Delta
    );
    assert_eq!(
        TemporalityPreference::from_env().temporality(InstrumentKind::Counter),
        Temporality::Delta
    );
    std::env::set_var(pref, "LOWMEMORY");
    assert_eq!(
        TemporalityPreference::from_env(),
        TemporalityPreference::LowMemory
    );
    std::env::set_var(pref, "bogus");
    assert_eq!(
        TemporalityPreference::from_env(),
        TemporalityPreference::Cumulative
    );
    std::env::remove_var(pref);

    let filter = "OTEL_METRICS_EXEMPLAR_FILTER";
    std::env::remove_var(filter);
    assert_eq!(ExemplarFilter::from_env(), ExemplarFilter::TraceBased);
    std::env::set_var(filter, "always_on");
    assert_eq!(ExemplarFilter::from_env(), ExemplarFilter::AlwaysOn);
    std::env::set_var(filter, "always_off");
    assert_eq!(ExemplarFilter::from_env(), ExemplarFilter::AlwaysOff);
    std::env::set_var(filter, "sometimes");
    assert_eq!(ExemplarFilter::from_env(), ExemplarFilter::TraceBased);
    std::env::remove_var(filter);

    let reader = PeriodicExportingMetricReader::builder(InMemoryMetricExporter::default()).build();
    assert_eq!(reader.interval(), Duration::from_secs(60));
    assert_eq!(reader.timeout(), Duration::from_secs(30));
    std::env::set_var("OTEL_METRIC_EXPORT_INTERVAL", "1500");
    std::env::set_var("OTEL_METRIC_EXPORT_TIMEOUT", "250");
    let reader = PeriodicExportingMetricReader::builder(InMemoryMetricExporter::default()).build();
    assert_eq!(reader.interval(), Duration::from_millis(1500));
    assert_eq!(reader.timeout(), Duration::from_millis(250));
    // code wins over the environment
    let reader = PeriodicExportingMetricReader::builder(InMemoryMetricExporter::default())
        .with_interval(Duration::from_secs(7))
        .build();
    assert_eq!(reader.interval(), Duration::from_secs(7));
    // bad values: reported, defaults kept; a zero timeout means no limit
    std::env::set_var("OTEL_METRIC_EXPORT_INTERVAL", "soon");
    std::env::set_var("OTEL_METRIC_EXPORT_TIMEOUT", "0");
    let reader = PeriodicExportingMetricReader::builder(InMemoryMetricExporter::default()).build();
    assert_eq!(reader.interval(), Duration::from_secs(60));
    assert_eq!(reader.timeout(), otlp_sdk::pipeline::MAX_DURATION);
    std::env::set_var("OTEL_METRIC_EXPORT_INTERVAL", "0");
    let reader = PeriodicExportingMetricReader::builder(InMemoryMetricExporter::default()).build();
    assert_eq!(
        reader.interval(),
        Duration::from_secs(60),
        "a zero interval is refused"
    );
    std::env::remove_var("OTEL_METRIC_EXPORT_INTERVAL");
    std::env::remove_var("OTEL_METRIC_EXPORT_TIMEOUT");
}
