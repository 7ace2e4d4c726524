//! Criterion benches of whole sweeps: `cargo bench -p xyz-cli --bench sweep`.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use xyz_core::{Function, RayonPool, Runner, Sequential};

fn add(c: &mut Criterion) {
    let f = common::in_process("add", None);
    let space = common::add_space(&f, 200);
    let mut group = c.benchmark_group("add");
    group.throughput(Throughput::Elements(space.len()));
    group.bench_function("in-process, 1 thread", |b| {
        b.iter(|| Runner::new(&f, &Sequential).run(&space).unwrap())
    });
    group.finish();
}

fn mandel(c: &mut Criterion) {
    let mut group = c.benchmark_group("mandel 400x400 maxiter 1000");
    group.sample_size(10);
    group.throughput(Throughput::Elements(common::MANDEL_N * common::MANDEL_N));
    group.bench_function("native loop", |b| b.iter(common::mandel_native));
    let off = common::in_process("mandel", None);
    let epoch = common::in_process("mandel", Some(common::DEADLINE));
    let workers = common::in_workers("mandel");
    let pool = RayonPool::new(2).unwrap();
    let space = common::mandel_space(&off);
    for (name, f) in [
        ("wasm, no deadline", &off as &dyn Function),
        ("wasm, worker-process deadline", &workers),
        ("wasm, epoch deadline", &epoch),
    ] {
        group.bench_function(format!("{name}, 1 thread"), |b| {
            b.iter(|| Runner::new(f, &Sequential).run(&space).unwrap())
        });
        group.bench_function(format!("{name}, 2 threads"), |b| {
            b.iter(|| Runner::new(f, &pool).run(&space).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, add, mandel);
criterion_main!(benches);
