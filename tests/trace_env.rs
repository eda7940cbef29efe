//! Environment variables of the trace SDK. One test function, so that setting variables never
//! races with another test of this binary.

use std::time::Duration;

use otlp_sdk::pipeline::BatchConfig;
use otlp_sdk::resource::{Resource, SERVICE_NAME};
use otlp_sdk::trace::{Sampler, SpanLimits};
use otlp_sdk::{ConfigErrorKind, KeyValue, Value};

fn with_env(vars: &[(&str, &str)], f: impl FnOnce()) {
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
    f();
    for (k, _) in vars {
        std::env::remove_var(k);
    }
}

#[test]
fn environment_variables() {
    // Resource defaults.
    let r = Resource::default();
    let exe = std::env::current_exe().unwrap();
    let exe = exe.file_name().unwrap().to_string_lossy();
    assert_eq!(
        r.get(SERVICE_NAME).and_then(Value::as_str),
        Some(format!("unknown_service:{exe}").as_str())
    );

    // OTEL_RESOURCE_ATTRIBUTES (percent-decoded) and OTEL_SERVICE_NAME, which wins; code wins
    // over both.
    with_env(
        &[
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=from-attrs,team=a%20b,deployment.environment.name=prod",
            ),
            ("OTEL_SERVICE_NAME", "from-env"),
        ],
        || {
            let r = Resource::default();
            assert_eq!(
                r.get(SERVICE_NAME).and_then(Value::as_str),
                Some("from-env")
            );
            assert_eq!(r.get("team").and_then(Value::as_str), Some("a b"));
            assert_eq!(
                r.get("deployment.environment.name").and_then(Value::as_str),
                Some("prod")
            );
            let r = Resource::new([KeyValue::new(SERVICE_NAME, "from-code")]);
            assert_eq!(
                r.get(SERVICE_NAME).and_then(Value::as_str),
                Some("from-code")
            );
            assert_eq!(r.get("team").and_then(Value::as_str), Some("a b"));
        },
    );
    // A malformed list is discarded whole.
    with_env(&[("OTEL_RESOURCE_ATTRIBUTES", "good=1,bad")], || {
        assert!(Resource::default().get("good").is_none());
    });

    // Samplers.
    with_env(
        &[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
        ],
        || {
            assert!(
                matches!(Sampler::from_env(), Ok(Some(Sampler::TraceIdRatioBased(r))) if r == 0.1)
            );
        },
    );
    with_env(&[("OTEL_TRACES_SAMPLER", "parentbased_always_off")], || {
        assert_eq!(
            Sampler::from_env().unwrap().unwrap().description(),
            "ParentBased{root=AlwaysOffSampler}"
        );
    });
    with_env(&[("OTEL_TRACES_SAMPLER", "bogus")], || {
        let e = Sampler::from_env().unwrap_err();
        assert_eq!(e.kind(), ConfigErrorKind::Invalid);
        assert!(e.to_string().contains("OTEL_TRACES_SAMPLER"));
        assert!(e.to_string().contains("bogus"));
        // The provider falls back to the default with a diagnostic instead of failing.
        let p = otlp_sdk::trace::TracerProvider::builder().build();
        assert!(format!("{p:?}").contains("ParentBased"));
    });
    with_env(
        &[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
        ],
        || {
            assert_eq!(
                Sampler::from_env().unwrap_err().kind(),
                ConfigErrorKind::OutOfRange
            );
        },
    );
    // A provider ignores a bad argument (reported), not the sampler it goes with: the
    // named sampler gets its default argument (a ratio of 1).
    for arg in ["1.5", "abc"] {
        for (name, debug) in [
            ("traceidratio", "TraceIdRatioBased(1.0)"),
            ("parentbased_traceidratio", "root: TraceIdRatioBased(1.0)"),
        ] {
            with_env(
                &[
                    ("OTEL_TRACES_SAMPLER", name),
                    ("OTEL_TRACES_SAMPLER_ARG", arg),
                ],
                || {
                    let p = otlp_sdk::trace::TracerProvider::builder().build();
                    let shown = format!("{p:?}");
                    assert!(shown.contains(debug), "{name}={arg}: {shown}");
                },
            );
        }
    }

    // Span limits: specific variables win over the general ones; garbage keeps the default.
    with_env(
        &[
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "10"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "5"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "7"),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "3"),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "x"),
        ],
        || {
            let l = SpanLimits::from_env();
            assert_eq!(l.max_attributes_per_span, 5);
            assert_eq!(l.max_attributes_per_event, 10);
            assert_eq!(l.max_attributes_per_link, 10);
            assert_eq!(l.max_attribute_value_length, Some(7));
            assert_eq!(l.max_events_per_span, 3);
            assert_eq!(l.max_links_per_span, 128);
        },
    );

    // Batch span processor.
    with_env(
        &[
            ("OTEL_BSP_SCHEDULE_DELAY", "250"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "1000"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "500"),
        ],
        || {
            let c = BatchConfig::spans_from_env();
            assert_eq!(c.scheduled_delay, Duration::from_millis(250));
            assert_eq!(c.export_timeout, Duration::from_secs(1));
            assert_eq!(c.max_queue_size, 100);
            assert_eq!(
                c.max_export_batch_size, 100,
                "batch size never exceeds the queue"
            );
        },
    );
    with_env(&[("OTEL_BSP_MAX_QUEUE_SIZE", "-3")], || {
        assert_eq!(BatchConfig::spans_from_env().max_queue_size, 2048);
    });
}
