//! Metrics to the OTLP protobuf model (`ExportMetricsServiceRequest`), for the OTLP exporters.

use crate::export::otlp::encode::{key_values, resource, resource_schema_url, scope};
use crate::metrics::data::{Exemplar, MetricData, Number, ResourceMetrics};
use crate::metrics::Temporality;
use crate::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::proto::metrics::v1 as pm;

fn temporality(t: Temporality) -> i32 {
    match t {
        Temporality::Delta => pm::AggregationTemporality::Delta as i32,
        Temporality::Cumulative => pm::AggregationTemporality::Cumulative as i32,
    }
}

fn number_value(n: Number) -> pm::number_data_point::Value {
    match n {
        Number::F64(v) => pm::number_data_point::Value::AsDouble(v),
        other => pm::number_data_point::Value::AsInt(other.as_i64()),
    }
}

fn exemplars(ex: &[Exemplar]) -> Vec<pm::Exemplar> {
    ex.iter()
        .map(|e| pm::Exemplar {
            filtered_attributes: key_values(&e.filtered_attributes),
            time_unix_nano: e.time_unix_nano,
            span_id: e.span_id.map(|s| s.to_bytes().to_vec()).unwrap_or_default(),
            trace_id: e
                .trace_id
                .map(|t| t.to_bytes().to_vec())
                .unwrap_or_default(),
            value: Some(match e.value {
                Number::F64(v) => pm::exemplar::Value::AsDouble(v),
                other => pm::exemplar::Value::AsInt(other.as_i64()),
            }),
        })
        .collect()
}

fn number_points(points: &[crate::metrics::data::NumberDataPoint]) -> Vec<pm::NumberDataPoint> {
    points
        .iter()
        .map(|p| pm::NumberDataPoint {
            attributes: key_values(&p.attributes),
            start_time_unix_nano: p.start_time_unix_nano,
            time_unix_nano: p.time_unix_nano,
            exemplars: exemplars(&p.exemplars),
            flags: 0,
            value: Some(number_value(p.value)),
        })
        .collect()
}

fn data(d: &MetricData) -> pm::metric::Data {
    match d {
        MetricData::Sum(s) => pm::metric::Data::Sum(pm::Sum {
            data_points: number_points(&s.data_points),
            aggregation_temporality: temporality(s.temporality),
            is_monotonic: s.is_monotonic,
        }),
        MetricData::Gauge(g) => pm::metric::Data::Gauge(pm::Gauge {
            data_points: number_points(&g.data_points),
        }),
        MetricData::Histogram(h) => pm::metric::Data::Histogram(pm::Histogram {
            data_points: h
                .data_points
                .iter()
                .map(|p| pm::HistogramDataPoint {
                    attributes: key_values(&p.attributes),
                    start_time_unix_nano: p.start_time_unix_nano,
                    time_unix_nano: p.time_unix_nano,
                    count: p.count,
                    sum: p.sum,
                    bucket_counts: p.bucket_counts.clone(),
                    explicit_bounds: p.bounds.clone(),
                    exemplars: exemplars(&p.exemplars),
                    flags: 0,
                    min: p.min,
                    max: p.max,
                })
                .collect(),
            aggregation_temporality: temporality(h.temporality),
        }),
        MetricData::ExponentialHistogram(h) => {
            use pm::exponential_histogram_data_point::Buckets;
            pm::metric::Data::ExponentialHistogram(pm::ExponentialHistogram {
                data_points: h
                    .data_points
                    .iter()
                    .map(|p| pm::ExponentialHistogramDataPoint {
                        attributes: key_values(&p.attributes),
                        start_time_unix_nano: p.start_time_unix_nano,
                        time_unix_nano: p.time_unix_nano,
                        count: p.count,
                        sum: p.sum,
                        scale: p.scale,
                        zero_count: p.zero_count,
                        positive: Some(Buckets {
                            offset: p.positive.offset,
                            bucket_counts: p.positive.counts.clone(),
                        }),
                        negative: Some(Buckets {
                            offset: p.negative.offset,
                            bucket_counts: p.negative.counts.clone(),
                        }),
                        flags: 0,
                        exemplars: exemplars(&p.exemplars),
                        min: p.min,
                        max: p.max,
                        zero_threshold: p.zero_threshold,
                    })
                    .collect(),
                aggregation_temporality: temporality(h.temporality),
            })
        }
    }
}

/// The OTLP request for one collection.
pub(crate) fn to_proto(resource_metrics: &ResourceMetrics) -> ExportMetricsServiceRequest {
    let rm = resource_metrics;
    ExportMetricsServiceRequest {
        resource_metrics: vec![pm::ResourceMetrics {
            resource: Some(resource(&rm.resource)),
            scope_metrics: rm
                .scope_metrics
                .iter()
                .map(|sm| pm::ScopeMetrics {
                    scope: Some(scope(&sm.scope)),
                    metrics: sm
                        .metrics
                        .iter()
                        .map(|m| pm::Metric {
                            name: m.name.to_string(),
                            description: m.description.to_string(),
                            unit: m.unit.to_string(),
                            metadata: Vec::new(),
                            data: Some(data(&m.data)),
                        })
                        .collect(),
                    schema_url: sm.scope.schema_url().unwrap_or_default().to_string(),
                })
                .collect(),
            schema_url: resource_schema_url(&rm.resource),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attributes::KeyValue;
    use crate::metrics::{ManualReader, MeterProvider};
    use crate::resource::Resource;
    use prost::Message;

    #[test]
    fn request_round_trips_through_protobuf() {
        let reader = ManualReader::new();
        let provider = MeterProvider::builder()
            .with_resource(Resource::from_attributes([KeyValue::new(
                "service.name",
                "svc",
            )]))
            .with_reader(reader.clone())
            .build();
        let meter = provider.meter("my.meter.name");
        let c = meter.u64_counter("c").with_unit("1").build();
        c.add(3, &[KeyValue::new("k", "v")]);
        let h = meter
            .f64_histogram("h")
            .with_boundaries(vec![1.0, 10.0])
            .build();
        h.record(5.0, &[]);
        meter
            .f64_observable_gauge("g")
            .with_callback(|o| o.observe(-1.5, &[KeyValue::new("n", 1)]))
            .build();
        let rm = reader.collect().unwrap();
        let bytes = to_proto(&rm).encode_to_vec();
        let back = ExportMetricsServiceRequest::decode(bytes.as_slice()).unwrap();
        let r = &back.resource_metrics[0];
        assert_eq!(
            r.resource.as_ref().unwrap().attributes[0].key,
            "service.name"
        );
        let sm = &r.scope_metrics[0];
        assert_eq!(sm.scope.as_ref().unwrap().name, "my.meter.name");
        assert_eq!(sm.metrics.len(), 3);
        let Some(pm::metric::Data::Sum(sum)) = &sm.metrics[0].data else {
            panic!("sum expected")
        };
        assert!(sum.is_monotonic);
        assert_eq!(sum.aggregation_temporality, 2);
        assert_eq!(
            sum.data_points[0].value,
            Some(pm::number_data_point::Value::AsInt(3))
        );
        assert_eq!(sum.data_points[0].attributes[0].key, "k");
        let Some(pm::metric::Data::Histogram(hist)) = &sm.metrics[1].data else {
            panic!("histogram expected")
        };
        assert_eq!(hist.data_points[0].bucket_counts, vec![0, 1, 0]);
        assert_eq!(hist.data_points[0].explicit_bounds, vec![1.0, 10.0]);
        assert_eq!(hist.data_points[0].min, Some(5.0));
        let Some(pm::metric::Data::Gauge(g)) = &sm.metrics[2].data else {
            panic!("gauge expected")
        };
        assert_eq!(
            g.data_points[0].value,
            Some(pm::number_data_point::Value::AsDouble(-1.5))
        );
        provider.shutdown().unwrap();
    }

    #[test]
    fn a_histogram_without_sum_leaves_the_optional_field_unset() {
        use crate::export::otlp::json::OtlpJson;
        use crate::metrics::{Aggregation, View};

        let reader = ManualReader::new();
        let provider = MeterProvider::builder()
            .with_reader(reader.clone())
            .with_view(
                View::builder()
                    .with_instrument_name("udc")
                    .with_aggregation(Aggregation::ExplicitBucketHistogram {
                        boundaries: vec![0.0],
                        record_min_max: true,
                    })
                    .build()
                    .unwrap(),
            )
            .with_view(
                View::builder()
                    .with_instrument_name("expo.*")
                    .with_aggregation(Aggregation::base2_exponential_histogram())
                    .build()
                    .unwrap(),
            )
            .build();
        let meter = provider.meter("m");
        meter.i64_up_down_counter("udc").build().add(-2, &[]);
        meter.f64_histogram("h").build().record(3.0, &[]);
        meter.f64_gauge("expo.gauge").build().record(-1.0, &[]);
        meter.u64_counter("expo.counter").build().add(4, &[]);
        let rm = reader.collect().unwrap();

        // (name, sum) of every point of a decoded request
        let sums = |req: &ExportMetricsServiceRequest| -> Vec<(String, Option<f64>)> {
            req.resource_metrics[0].scope_metrics[0]
                .metrics
                .iter()
                .map(|m| {
                    let sum = match &m.data {
                        Some(pm::metric::Data::Histogram(h)) => h.data_points[0].sum,
                        Some(pm::metric::Data::ExponentialHistogram(h)) => h.data_points[0].sum,
                        other => panic!("{}: a histogram expected: {other:?}", m.name),
                    };
                    (m.name.clone(), sum)
                })
                .collect()
        };
        let expected = vec![
            ("udc".to_string(), None),
            ("h".to_string(), Some(3.0)),
            ("expo.gauge".to_string(), None),
            ("expo.counter".to_string(), Some(4.0)),
        ];
        let bytes = to_proto(&rm).encode_to_vec();
        let back = ExportMetricsServiceRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(sums(&back), expected, "protobuf");

        // OTLP/JSON leaves the field out, and reads its absence back as unset.
        let text = to_proto(&rm).to_otlp_json();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let metrics = json["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
            .as_array()
            .unwrap();
        let has_sum: Vec<bool> = metrics
            .iter()
            .map(|m| {
                let data = m.get("histogram").or_else(|| m.get("exponentialHistogram"));
                data.unwrap()["dataPoints"][0].get("sum").is_some()
            })
            .collect();
        assert_eq!(has_sum, vec![false, true, false, true], "{text}");
        let back = ExportMetricsServiceRequest::from_otlp_json(&text).unwrap();
        assert_eq!(sums(&back), expected, "OTLP/JSON");
        provider.shutdown().unwrap();
    }
}
