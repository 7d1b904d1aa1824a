//! benchmark-svc: ACO historical and updated benchmarks (42 CFR 425.601-425.603, 425.650-425.660).
//!
//! Not built yet. Its v1 contract is `proto/acorn/benchmark/v1/benchmark.proto`
//! (`acorn.benchmark.v1.BenchmarkService`); the rule engine, the PUF backtest and the server arrive
//! with the benchmark issue and follow settlement-svc's layout.
