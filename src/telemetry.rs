//! Logging (human or JSON, secrets never logged) and the Prometheus metrics recorder.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global tracing subscriber (once; later calls do nothing).
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,teloxide=info,hyper=warn,reqwest=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Human => builder.try_init(),
    };
}

/// The process-wide Prometheus recorder's handle (installed on first use).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                120.0, 300.0,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!(
                    "a metrics recorder was already installed; /metrics may be incomplete"
                );
            }
            handle
        })
        .clone()
}

/// Runs one request to an outside vendor and records its latency
/// (`callops_vendor_request_seconds`) and, when it fails, `callops_vendor_errors_total`.
pub async fn timed<T, E>(
    vendor: &'static str,
    op: &'static str,
    request: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = std::time::Instant::now();
    let result = request.await;
    metrics::histogram!("callops_vendor_request_seconds", "vendor" => vendor, "op" => op)
        .record(started.elapsed().as_secs_f64());
    if result.is_err() {
        metrics::counter!("callops_vendor_errors_total", "vendor" => vendor, "op" => op)
            .increment(1);
    }
    result
}
