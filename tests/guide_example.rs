//! Runs the real `examples/guide.rs` (built by `cargo test` with the other targets) and checks
//! what it prints: the guide's spans, its three metrics (exported by the final collection at
//! shutdown, before the first interval), and its log line correlated with `my-operation`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value as Json;

/// `target/<profile>/examples/guide`, next to this test's `deps/` directory.
fn guide_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let bin = dir
        .join("examples")
        .join(format!("guide{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test` (which builds the examples)",
        bin.display()
    );
    bin
}

/// The example's stdout: plain lines and the JSON blocks of the console exporters.
fn run_guide() -> (Vec<String>, Vec<Json>) {
    let out = Command::new(guide_binary())
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .expect("run the guide example");
    assert!(out.status.success(), "guide failed: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = Vec::new();
    let mut blocks = Vec::new();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        if rest.starts_with('{') {
            let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Json>();
            blocks.push(stream.next().unwrap().expect("a JSON block"));
            rest = rest[stream.byte_offset()..].trim_start_matches('\n');
        } else {
            let (line, tail) = rest.split_once('\n').unwrap_or((rest, ""));
            lines.push(line.to_string());
            rest = tail;
        }
    }
    (lines, blocks)
}

fn span<'a>(blocks: &'a [Json], name: &str) -> &'a Json {
    blocks
        .iter()
        .find(|b| b["name"] == name && b.get("kind").is_some())
        .unwrap_or_else(|| panic!("no span {name}"))
}

fn metric<'a>(metrics: &'a Json, name: &str) -> &'a Json {
    metrics["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
}

#[test]
fn the_guide_example_prints_the_whole_scenario() {
    let (lines, blocks) = run_guide();

    // Traces: resource, scope, the five scenarios of the guide.
    for name in [
        "span.name",
        "parent",
        "child",
        "span",
        "error.operation",
        "my-operation",
    ] {
        let s = span(&blocks, name);
        assert_eq!(s["kind"], "SpanKind.INTERNAL", "{name}");
        assert_eq!(
            s["resource"]["attributes"]["service.name"],
            "my.service.name"
        );
        assert_eq!(
            s["resource"]["attributes"]["telemetry.sdk.language"],
            "rust"
        );
    }
    let (parent, child) = (span(&blocks, "parent"), span(&blocks, "child"));
    assert_eq!(child["context"]["trace_id"], parent["context"]["trace_id"]);
    assert_eq!(child["parent_id"], parent["context"]["span_id"]);
    assert_eq!(span(&blocks, "span.name")["parent_id"], Json::Null);
    let decorated = span(&blocks, "span");
    assert_eq!(decorated["attributes"]["operation.value"], 1);
    assert_eq!(decorated["attributes"]["operation.name"], "Saying hello!");
    assert_eq!(
        decorated["attributes"]["operation.other-stuff"],
        serde_json::json!([1, 2, 3])
    );
    assert_eq!(decorated["attributes"]["http.method"], "GET");
    assert_eq!(decorated["attributes"]["http.url"], "https://base14.io/");
    let events: Vec<&Json> = decorated["events"].as_array().unwrap().iter().collect();
    assert_eq!(events[0]["name"], "Starting some work");
    assert_eq!(events[1]["name"], "Finished working");
    let failed = span(&blocks, "error.operation");
    assert_eq!(
        failed["status"],
        serde_json::json!({"status_code": "ERROR"})
    );
    assert_eq!(failed["events"][0]["name"], "exception");
    assert_eq!(
        failed["events"][0]["attributes"]["exception.message"],
        "boom"
    );
    assert!(failed["events"][0]["attributes"]["exception.type"]
        .as_str()
        .unwrap()
        .ends_with("WorkError"));

    // Extracting trace and span ids: the printed ids are my-operation's.
    let ids = lines
        .iter()
        .find_map(|l| l.strip_prefix("ids "))
        .expect("the ids line");
    let op = span(&blocks, "my-operation");
    let trace_id = op["context"]["trace_id"]
        .as_str()
        .unwrap()
        .trim_start_matches("0x");
    let span_id = op["context"]["span_id"]
        .as_str()
        .unwrap()
        .trim_start_matches("0x");
    assert_eq!(ids, format!("trace_id={trace_id} span_id={span_id}"));

    // Logs: the log::info! line inside my-operation carries its ids.
    let log = blocks
        .iter()
        .find(|b| b.get("body").is_some())
        .expect("the log record");
    assert_eq!(log["severity_text"], "INFO");
    assert_eq!(
        log["trace_id"].as_str().unwrap().trim_start_matches("0x"),
        trace_id
    );
    assert_eq!(
        log["span_id"].as_str().unwrap().trim_start_matches("0x"),
        span_id
    );

    // Metrics: one final collection at shutdown, cumulative.
    let collections: Vec<&Json> = blocks
        .iter()
        .filter(|b| b.get("resource_metrics").is_some())
        .collect();
    assert_eq!(collections.len(), 1, "one final collection");
    let rm = &collections[0]["resource_metrics"][0];
    assert_eq!(
        rm["resource"]["attributes"]["service.name"],
        "my.service.name"
    );
    let scopes = rm["scope_metrics"].as_array().unwrap();
    assert_eq!(scopes.len(), 1);
    let sm = &scopes[0];
    assert_eq!(sm["scope"]["name"], "my.meter.name");
    assert_eq!(sm["scope"]["version"], Json::Null);

    let work = metric(sm, "work.counter");
    assert_eq!(work["unit"], "1");
    assert_eq!(work["description"], "Counts the amount of work done");
    assert_eq!(work["data"]["aggregation_temporality"], 2, "cumulative");
    assert_eq!(work["data"]["is_monotonic"], true);
    let points = work["data"]["data_points"].as_array().unwrap();
    assert_eq!(points.len(), 1);
    assert_eq!(
        points[0]["attributes"],
        serde_json::json!({"work.type": "a"})
    );
    assert_eq!(points[0]["value"], 3);

    let pf = metric(sm, "PF");
    assert_eq!(pf["description"], "process page faults");
    let mut pf_points: Vec<(i64, i64, u64)> = pf["data"]["data_points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["attributes"]["pid"].as_i64().unwrap(),
                p["attributes"]["bitness"].as_i64().unwrap(),
                p["value"].as_u64().unwrap(),
            )
        })
        .collect();
    pf_points.sort();
    assert_eq!(
        pf_points,
        vec![(0, 64, 8), (4, 64, 37741921), (880, 32, 10465)]
    );

    let dur = metric(sm, "http.server.duration");
    assert_eq!(dur["unit"], "ms");
    assert_eq!(
        dur["description"],
        "measures the duration of the inbound HTTP request"
    );
    let hps = dur["data"]["data_points"].as_array().unwrap();
    assert_eq!(hps.len(), 2);
    for p in hps {
        assert_eq!(p["count"], 1);
        assert_eq!(p["explicit_bounds"].as_array().unwrap().len(), 15);
        assert_eq!(p["min"], p["max"]);
        assert_eq!(p["sum"], p["min"]);
    }
    let post = hps
        .iter()
        .find(|p| p["attributes"]["http.request.method"] == "POST")
        .unwrap();
    assert_eq!(post["attributes"]["url.scheme"], "https");
    assert_eq!(post["sum"], 50.0);
}
