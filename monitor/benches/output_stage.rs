//! Throughput of `run`'s output stage (commands/run_output.rs): batches of
//! rendered event lines through the output thread into a size-rotated
//! file, with a store attached (sampled answers are stored elsewhere: this
//! measures the line path every event takes).

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use monitor::commands::run_output::{Output, OutputArgs, OutputPlan};
use monitor::config::{Config, OutputTarget};
use monitor::sinks::rotate::RotateOptions;

const BATCHES: usize = 100;
const LINES: usize = 64;

fn line(i: usize) -> String {
    format!(
        "{{\"@timestamp\":\"2026-11-27T18:47:29.123456Z\",\"event\":{{\"kind\":\"event\",\"dataset\":\"dns\"}},\
         \"dns\":{{\"id\":{i},\"question\":{{\"name\":\"host{i}.example.com\",\"type\":\"A\"}},\"response_code\":\"NOERROR\"}},\
         \"process\":{{\"pid\":4242,\"name\":\"curl\"}}}}\n"
    )
}

fn events(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let batch: Vec<u8> = (0..LINES).map(line).collect::<String>().into_bytes();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::default();
    cfg.output.target = OutputTarget::File(dir.path().join("out.jsonl"));
    cfg.output.rotate = RotateOptions {
        max_bytes: 16 << 20,
        keep: 1,
    };
    let mut g = c.benchmark_group("output_stage");
    g.throughput(Throughput::Elements((BATCHES * LINES) as u64));
    g.sample_size(20);
    g.bench_function("event_lines_to_rotated_file", |b| {
        b.iter(|| {
            rt.block_on(async {
                let plan = OutputPlan::open(&cfg, None, &OutputArgs::default()).unwrap();
                let (tx, rx) = tokio::sync::mpsc::channel(1024);
                let stage = plan.start(rx, None).unwrap();
                for _ in 0..BATCHES {
                    tx.send(Output::Events {
                        bytes: batch.clone(),
                        lines: LINES as u64,
                    })
                    .await
                    .unwrap();
                }
                drop(tx);
                stage.finish(Duration::from_secs(1)).await.unwrap()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, events);
criterion_main!(benches);
