//! The workloads of `../shared/anchors/README.md`, one per process:
//! `cargo bench --bench workloads -- NAME` prints `NAME ns_per_op=N key=value...`.
//! An unknown NAME prints nothing on stdout and exits non-zero.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use otlp_sdk::pipeline::BatchConfig;
use otlp_sdk::resource::Resource;
use otlp_sdk::trace::{
    BatchSpanProcessor, Sampler, SpanData, SpanExporter, Status, Tracer, TracerProvider,
};
use otlp_sdk::SdkResult;

const CHUNK: u64 = 1024;

/// Repetitions (5). `REPS` overrides it for diagnostics only (compare.sh unsets it).
fn reps() -> usize {
    std::env::var("REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

/// Seconds per repetition (1.0). `SECS` overrides it for diagnostics only.
fn secs() -> f64 {
    std::env::var("SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0)
}

struct Res {
    median: f64,
    min: f64,
    max: f64,
    calls: u64,
}

fn run_for(op: &mut impl FnMut(u64), secs: f64, ctr: &mut u64) -> (u64, Duration) {
    let start = Instant::now();
    let limit = Duration::from_secs_f64(secs);
    let mut calls = 0;
    loop {
        for _ in 0..CHUNK {
            op(*ctr);
            *ctr = ctr.wrapping_add(1);
        }
        calls += CHUNK;
        let el = start.elapsed();
        if el >= limit {
            return (calls, el);
        }
    }
}

fn summarize(mut v: Vec<f64>, calls: u64) -> Res {
    v.sort_by(|a, b| a.total_cmp(b));
    Res {
        median: v[v.len() / 2],
        min: v[0],
        max: v[v.len() - 1],
        calls,
    }
}

/// Single thread: 0.3 s warmup, then 5 repetitions of >= 1 s.
fn bench(ops_per_call: u64, mut op: impl FnMut(u64)) -> Res {
    let mut ctr = 0;
    let (mut total, _) = run_for(&mut op, 0.3, &mut ctr);
    let mut per = Vec::new();
    for _ in 0..reps() {
        let (calls, el) = run_for(&mut op, secs(), &mut ctr);
        total += calls;
        per.push(el.as_nanos() as f64 / (calls * ops_per_call) as f64);
    }
    summarize(per, total)
}

/// Two threads on shared objects until a common deadline; aggregate throughput.
fn bench_mt(op: impl Fn(u64) + Sync) -> Res {
    let run = |secs: f64| -> (u64, Duration) {
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(secs);
        let total = std::thread::scope(|s| {
            let hs: Vec<_> = (0..2u64)
                .map(|t| {
                    let op = &op;
                    s.spawn(move || {
                        let mut i = 7 * t;
                        let mut calls = 0u64;
                        loop {
                            for _ in 0..CHUNK {
                                op(i);
                                i = i.wrapping_add(1);
                            }
                            calls += CHUNK;
                            if Instant::now() >= deadline {
                                return calls;
                            }
                        }
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        });
        (total, start.elapsed())
    };
    let (mut total, _) = run(0.3);
    let mut per = Vec::new();
    for _ in 0..reps() {
        let (calls, el) = run(secs());
        total += calls;
        per.push(el.as_nanos() as f64 / calls as f64);
    }
    summarize(per, total)
}

fn print_micro(name: &str, r: &Res, extra: &str) {
    println!(
        "{name} ns_per_op={:.1} runs={} min={:.1} max={:.1} ops_per_s={:.0}{extra}",
        r.median,
        reps(),
        r.min,
        r.max,
        1e9 / r.median
    );
}

// ------------------------------------------------------------------ spans

#[derive(Debug, Clone, Default)]
struct NoopExporter(Arc<AtomicU64>);

impl SpanExporter for NoopExporter {
    fn export(&mut self, batch: &[Box<SpanData>]) -> SdkResult {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

fn span_setup() -> (TracerProvider, Tracer, Arc<AtomicU64>) {
    let exported = Arc::new(AtomicU64::new(0));
    let processor = BatchSpanProcessor::with_config(
        NoopExporter(exported.clone()),
        BatchConfig {
            max_queue_size: 2048,
            max_export_batch_size: 512,
            scheduled_delay: Duration::from_secs(5),
            export_timeout: Duration::from_secs(30),
        },
    );
    let provider = TracerProvider::builder()
        .with_resource(Resource::default())
        .with_sampler(Sampler::AlwaysOn)
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("upstream-bench");
    (provider, tracer, exported)
}

fn span_attrs_op(tracer: &Tracer) {
    let mut span = tracer.start("span_attrs");
    span.set_attribute("operation.value", 1i64);
    span.set_attribute("operation.name", "Saying hello!");
    span.set_attribute("operation.other-stuff", [1i64, 2, 3]);
    span.add_event("Starting some work", []);
    span.set_status(Status::error(""));
    span.end();
}

fn finish_spans(
    name: &str,
    r: Res,
    spans_per_op: u64,
    provider: TracerProvider,
    exported: Arc<AtomicU64>,
) {
    let _ = provider.force_flush();
    let _ = provider.shutdown();
    let created = r.calls * spans_per_op;
    let exp = exported.load(Ordering::Relaxed);
    let dropped = created.saturating_sub(exp);
    print_micro(
        name,
        &r,
        &format!(
            " spans_created={created} spans_exported={exp} dropped={dropped} dropped_pct={:.2}",
            100.0 * dropped as f64 / created as f64
        ),
    );
}

fn span_workload(name: &str) -> bool {
    if !matches!(
        name,
        "span_basic" | "span_attrs" | "span_nested" | "span_attrs_2threads"
    ) {
        return false;
    }
    let (provider, tracer, exported) = span_setup();
    let (r, per) = match name {
        "span_basic" => (bench(1, |_| tracer.start("span_basic").end()), 1),
        "span_attrs" => (bench(1, |_| span_attrs_op(&tracer)), 1),
        "span_nested" => (
            bench(1, |_| {
                tracer.in_span("parent", |_| tracer.start("child").end())
            }),
            2,
        ),
        "span_attrs_2threads" => (bench_mt(|_| span_attrs_op(&tracer)), 1),
        _ => return false,
    };
    finish_spans(name, r, per, provider, exported);
    true
}

// ------------------------------------------------------------------ metrics

mod metric_workloads {
    use super::*;
    use otlp_sdk::metrics::{
        InstrumentKind, MeterProvider, MetricExporter, PeriodicExportingMetricReader,
        ResourceMetrics, Temporality,
    };
    use otlp_sdk::KeyValue;

    struct NoopMetricExporter;

    impl MetricExporter for NoopMetricExporter {
        fn export(&mut self, _m: &ResourceMetrics) -> SdkResult {
            Ok(())
        }
        fn temporality(&self, _k: InstrumentKind) -> Temporality {
            Temporality::Cumulative
        }
    }

    pub(super) fn run(name: &str) -> bool {
        if !matches!(
            name,
            "counter_add_3attrs"
                | "counter_add_3attrs_2threads"
                | "histogram_record_3attrs"
                | "histogram_record_3attrs_2threads"
        ) {
            return false;
        }
        let reader = PeriodicExportingMetricReader::builder(NoopMetricExporter)
            .with_interval(Duration::from_secs(3600))
            .build();
        let provider = MeterProvider::builder().with_reader(reader).build();
        let meter = provider.meter("upstream-bench");
        let sets: Vec<[KeyValue; 3]> = (0..10i64)
            .map(|k| {
                [
                    KeyValue::new("attr.one", format!("value{}", k + 1)),
                    KeyValue::new("attr.two", "constant"),
                    KeyValue::new("attr.three", k),
                ]
            })
            .collect();
        let r = match name {
            "counter_add_3attrs" | "counter_add_3attrs_2threads" => {
                let counter = meter.u64_counter("bench.counter").build();
                let op = |i: u64| counter.add(1, &sets[(i % 10) as usize]);
                if name.ends_with("2threads") {
                    bench_mt(op)
                } else {
                    bench(1, op)
                }
            }
            _ => {
                let histogram = meter.f64_histogram("bench.histogram").build();
                let op =
                    |i: u64| histogram.record((i % 1000) as f64 * 1.7, &sets[(i % 10) as usize]);
                if name.ends_with("2threads") {
                    bench_mt(op)
                } else {
                    bench(1, op)
                }
            }
        };
        let _ = provider.shutdown();
        print_micro(name, &r, "");
        true
    }
}

// ------------------------------------------------------------------ export

#[cfg(all(feature = "grpc", feature = "http"))]
mod export {
    use super::*;
    use otlp_sdk::export::otlp::{OtlpSpanExporter, Protocol};
    use std::sync::Mutex;

    const SPANS: u64 = 1_000_000;
    const QUEUE: usize = 1 << 20;
    const BATCH: usize = 8192;

    /// Counts what crosses the exporter boundary.
    #[derive(Debug, Default)]
    struct Counters {
        handed: AtomicU64,
        batches: AtomicU64,
        last_done: Mutex<Option<Instant>>,
    }

    #[derive(Debug)]
    struct Counted(OtlpSpanExporter, Arc<Counters>);

    impl SpanExporter for Counted {
        fn export(&mut self, batch: &[Box<SpanData>]) -> SdkResult {
            let n = batch.len() as u64;
            self.1.handed.fetch_add(n, Ordering::Relaxed);
            self.1.batches.fetch_add(1, Ordering::Relaxed);
            let r = self.0.export(batch);
            *self.1.last_done.lock().unwrap() = Some(Instant::now());
            r
        }
        fn held(&mut self) -> usize {
            self.0.held()
        }
        fn set_resource(&mut self, r: &Resource) {
            self.0.set_resource(r)
        }
        fn force_flush(&mut self) -> SdkResult {
            self.0.force_flush()
        }
        fn shutdown(&mut self) -> SdkResult {
            let r = self.0.shutdown();
            *self.1.last_done.lock().unwrap() = Some(Instant::now());
            r
        }
    }

    fn peak_rss_mb() -> f64 {
        // SAFETY: getrusage only writes into the zeroed struct we pass; RUSAGE_SELF is valid.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: as above; the pointer is to a live, properly aligned rusage.
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
        ru.ru_maxrss as f64 / 1024.0
    }

    pub(super) fn run(name: &str) -> bool {
        let (var, protocol, path) = match name {
            "export_grpc_1m" => ("OTLP_SINK_GRPC", Protocol::Grpc, ""),
            "export_http_1m" => ("OTLP_SINK_HTTP", Protocol::HttpProtobuf, "/v1/traces"),
            _ => return false,
        };
        let Ok(base) = std::env::var(var) else {
            eprintln!("{name}: {var} is not set");
            std::process::exit(2);
        };
        let endpoint = format!("{}{path}", base.trim_end_matches('/'));
        let exporter = OtlpSpanExporter::builder()
            .with_endpoint(endpoint.clone())
            .with_protocol(protocol)
            .build()
            .unwrap_or_else(|e| {
                eprintln!("{name}: {e}");
                std::process::exit(2);
            })
            // Encode the next batches while earlier ones travel (the anchors' definition
            // leaves how many exports are in flight to the implementation). Measured on the
            // 2-vCPU reference VM at 1343dc8, three alternating runs each: export_grpc_1m took
            // 1017-1062 ns/op with 1 request on the wire, 737-880 with 2, 734-813 with 4 and
            // 734-763 with 8 (peak RSS 161-368 MiB for 2-8, no order).
            .with_max_in_flight(4);
        let client_stats = exporter.stats();
        let counters = Arc::new(Counters::default());
        let processor = BatchSpanProcessor::with_config(
            Counted(exporter, counters.clone()),
            BatchConfig {
                max_queue_size: QUEUE,
                max_export_batch_size: BATCH,
                scheduled_delay: Duration::from_secs(5),
                export_timeout: Duration::from_secs(30),
            },
        );
        let provider = TracerProvider::builder()
            .with_resource(Resource::default())
            .with_sampler(Sampler::AlwaysOn)
            .with_span_processor(processor)
            .build();
        let tracer = provider.tracer("upstream-bench");

        let start = Instant::now();
        for _ in 0..SPANS {
            span_attrs_op(&tracer);
        }
        let produce = start.elapsed();
        let flush_ok = provider.force_flush().is_ok();
        let shutdown_ok = provider.shutdown().is_ok();
        let shut = Instant::now();
        let last = counters.last_done.lock().unwrap().unwrap_or(shut);
        let wall = shut.max(last).duration_since(start);

        let stats = provider.pipeline_stats();
        let handed = counters.handed.load(Ordering::Relaxed);
        // Acknowledged by the collector, counted per request outcome by the client.
        let delivered = client_stats.exported();
        let dropped = SPANS.saturating_sub(handed);
        let wall_s = wall.as_secs_f64();
        println!(
            "{name} ns_per_op={:.1} spans_per_s={:.0} dropped={dropped} dropped_pct={:.2} peak_rss_mb={:.0} runs=1 wall_s={wall_s:.3} produce_s={:.3} spans_created={SPANS} handed_to_exporter={handed} delivered={delivered} export_failed={} batches={} bsp_queue={QUEUE} bsp_batch={BATCH} bsp_dropped={} flush_ok={flush_ok} shutdown_ok={shutdown_ok} endpoint={endpoint}",
            wall.as_nanos() as f64 / SPANS as f64,
            delivered as f64 / wall_s,
            100.0 * dropped as f64 / SPANS as f64,
            peak_rss_mb(),
            produce.as_secs_f64(),
            client_stats.failed(),
            counters.batches.load(Ordering::Relaxed),
            stats.dropped,
        );
        true
    }
}

#[cfg(not(all(feature = "grpc", feature = "http")))]
mod export {
    pub(super) fn run(_name: &str) -> bool {
        false
    }
}

// ------------------------------------------------------------------ logs

/// `log_emit`: one log record per op through a logger, like span_attrs for logs (not an
/// upstream workload): severity, a string body and two attributes, emitted outside any span
/// to a batch processor with the default log settings (2048 queued, 512 per export, 1 s) and
/// a no-op exporter. Prints the same counting keys as the span workloads.
mod log_workloads {
    use super::*;
    use otlp_sdk::logs::{
        BatchLogProcessor, LogData, LogExporter, LogRecord, LoggerProvider, SeverityNumber,
    };

    #[derive(Debug)]
    struct NoopLogExporter(Arc<AtomicU64>);

    impl LogExporter for NoopLogExporter {
        fn export(&mut self, batch: &[Box<LogData>]) -> SdkResult {
            self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
            Ok(())
        }
    }

    pub(super) fn run(name: &str) -> bool {
        if name != "log_emit" {
            return false;
        }
        let exported = Arc::new(AtomicU64::new(0));
        let processor = BatchLogProcessor::with_config(
            NoopLogExporter(exported.clone()),
            BatchConfig {
                max_queue_size: 2048,
                max_export_batch_size: 512,
                scheduled_delay: Duration::from_secs(1),
                export_timeout: Duration::from_secs(30),
            },
        );
        let provider = LoggerProvider::builder()
            .with_resource(Resource::default())
            .with_log_processor(processor)
            .build();
        let logger = provider.logger("upstream-bench");
        let r = bench(1, |_| {
            logger.emit(
                LogRecord::new()
                    .with_severity(SeverityNumber::Info)
                    .with_body("Saying hello!")
                    .with_attribute("operation.value", 1i64)
                    .with_attribute("operation.name", "Saying hello!"),
            )
        });
        let _ = provider.force_flush();
        let _ = provider.shutdown();
        let exp = exported.load(Ordering::Relaxed);
        let dropped = r.calls.saturating_sub(exp);
        print_micro(
            name,
            &r,
            &format!(
                " records_emitted={} records_exported={exp} dropped={dropped} dropped_pct={:.2}",
                r.calls,
                100.0 * dropped as f64 / r.calls as f64
            ),
        );
        true
    }
}

/// `encode_protobuf` and `encode_prost` (ours only, not upstream workloads): encoding a batch
/// of 8192 span_attrs spans into an OTLP trace request's protobuf bytes, per span, into a
/// reused buffer. `encode_protobuf` is what the OTLP exporter does, writing straight from the
/// records; `encode_prost` builds the generated prost request first and encodes that. Both
/// give the same bytes (`bytes_per_span` is printed to show it).
#[cfg(any(feature = "grpc", feature = "http"))]
mod encode_workloads {
    use super::*;
    use otlp_sdk::export::otlp::{encode_spans, encode_spans_to_protobuf};
    use otlp_sdk::export::InMemorySpanExporter;
    use prost::Message;

    const BATCH: usize = 8192;

    pub(super) fn run(name: &str) -> bool {
        if name != "encode_protobuf" && name != "encode_prost" {
            return false;
        }
        let exporter = InMemorySpanExporter::default();
        let provider = TracerProvider::builder()
            .with_resource(Resource::default())
            .with_simple_exporter(exporter.clone())
            .build();
        let tracer = provider.tracer("upstream-bench");
        for _ in 0..BATCH {
            span_attrs_op(&tracer);
        }
        let spans = exporter.finished_spans();
        let boxed: Vec<Box<SpanData>> = spans.iter().cloned().map(Box::new).collect();
        let resource = provider.resource().clone();
        let mut buf = Vec::new();
        let r = if name == "encode_protobuf" {
            bench(BATCH as u64, |_| {
                buf.clear();
                encode_spans_to_protobuf(&resource, &boxed, &mut buf);
            })
        } else {
            bench(BATCH as u64, |_| {
                buf.clear();
                encode_spans(&resource, &spans)
                    .encode(&mut buf)
                    .expect("the buffer grows");
            })
        };
        print_micro(
            name,
            &r,
            &format!(
                " batch={BATCH} bytes_per_span={:.1}",
                buf.len() as f64 / BATCH as f64
            ),
        );
        true
    }
}

#[cfg(not(any(feature = "grpc", feature = "http")))]
mod encode_workloads {
    pub(super) fn run(_name: &str) -> bool {
        false
    }
}

/// `clock_read`: one read of the clock that spans use for their timestamps (the CPU's
/// time-stamp counter through `quanta`), for scale: a span reads it at start and at end, and
/// once per event. Not an upstream workload.
fn clock_workload(name: &str) -> bool {
    if name != "clock_read" {
        return false;
    }
    let clock = quanta::Clock::new();
    let r = bench(1, |_| {
        std::hint::black_box(clock.raw());
    });
    print_micro(name, &r, "");
    true
}

/// `line_pingpong`: one round trip of a cache line between two threads (each waits for the
/// other's write, then writes; both spin, so on an otherwise idle 2-CPU machine they run on
/// different CPUs). Not an upstream workload: it tells the VM's phases apart, since handing
/// spans to the export thread on the other CPU moves lines the same way (42-55 ns a round
/// trip in fast phases here, ~380-420 in slow ones; see benches/PERFORMANCE.md).
fn pingpong_workload(name: &str) -> bool {
    use std::sync::atomic::{AtomicU64, Ordering};
    if name != "line_pingpong" {
        return false;
    }
    const TRIPS: u64 = 2_000_000;
    let line = crossbeam_utils::CachePadded::new(AtomicU64::new(0));
    let secs = std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..TRIPS {
                while line.load(Ordering::Acquire) != 2 * i + 1 {
                    std::hint::spin_loop();
                }
                line.store(2 * i + 2, Ordering::Release);
            }
        });
        let t0 = Instant::now();
        for i in 0..TRIPS {
            line.store(2 * i + 1, Ordering::Release);
            while line.load(Ordering::Acquire) != 2 * i + 2 {
                std::hint::spin_loop();
            }
        }
        t0.elapsed().as_secs_f64()
    });
    println!(
        "{name} ns_per_op={:.1} trips={TRIPS}",
        secs * 1e9 / TRIPS as f64
    );
    true
}

/// Placing threads on CPUs, shared with the scheduling tests.
#[cfg(target_os = "linux")]
#[path = "../tests/support/cpu.rs"]
mod cpu;

/// `thread_yield` and `thread_switch`, to put the export thread's wake-ups in scale (see
/// benches/PERFORMANCE.md); not upstream workloads. `thread_yield`: one `sched_yield` with no
/// other thread waiting for the CPU, a system call that returns at once. `thread_switch`:
/// one switch between two threads pinned to the same CPU that yield to each other (each
/// call of the measured thread is two switches).
fn yield_workload(name: &str) -> bool {
    match name {
        "thread_yield" => {
            let r = bench(1, |_| std::thread::yield_now());
            print_micro(name, &r, "");
        }
        #[cfg(target_os = "linux")]
        "thread_switch" => {
            use std::sync::atomic::AtomicBool;
            // SAFETY: `sched_getcpu` takes no argument and only returns a number.
            let cpu = unsafe { libc::sched_getcpu() };
            assert!(cpu >= 0, "sched_getcpu failed");
            let cpu = cpu as usize;
            cpu::pin(0, cpu);
            let stop = AtomicBool::new(false);
            let r = std::thread::scope(|s| {
                s.spawn(|| {
                    cpu::pin(0, cpu);
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::yield_now();
                    }
                });
                let r = bench(2, |_| std::thread::yield_now());
                stop.store(true, Ordering::Relaxed);
                r
            });
            print_micro(name, &r, &format!(" cpu={cpu}"));
        }
        _ => return false,
    }
    true
}

fn main() {
    let Some(name) = std::env::args().skip(1).find(|a| !a.starts_with('-')) else {
        eprintln!("usage: cargo bench --bench workloads -- NAME");
        std::process::exit(2);
    };
    if !span_workload(&name)
        && !metric_workloads::run(&name)
        && !export::run(&name)
        && !log_workloads::run(&name)
        && !encode_workloads::run(&name)
        && !clock_workload(&name)
        && !pingpong_workload(&name)
        && !yield_workload(&name)
    {
        eprintln!("unknown workload {name}");
        std::process::exit(1);
    }
}
