//! The Prometheus metrics: requests by route group and status, latency histograms, refusals by
//! reason, the tile cache.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

/// Latency buckets, seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Counters {
    requests: BTreeMap<(&'static str, u16), u64>,
    latency: BTreeMap<&'static str, Histogram>,
    refused: BTreeMap<&'static str, u64>,
    cache: BTreeMap<String, u64>,
}

/// Request counters and latencies, in the Prometheus text format at `/metrics`.
pub(crate) struct Metrics {
    started: Instant,
    inner: Mutex<Counters>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            inner: Mutex::new(Counters::default()),
        }
    }
}

impl Metrics {
    pub(super) fn record(&self, route: &'static str, status: u16, secs: f64, cache: Option<&str>) {
        let Ok(mut c) = self.inner.lock() else { return };
        *c.requests.entry((route, status)).or_default() += 1;
        let h = c.latency.entry(route).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
        if let Some(kind) = cache {
            *c.cache.entry(kind.to_owned()).or_default() += 1;
        }
    }

    pub(super) fn count_refused(&self, why: &'static str) {
        if let Ok(mut c) = self.inner.lock() {
            *c.refused.entry(why).or_default() += 1;
        }
    }

    /// The exposition, with the gauges the server adds.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        let Ok(c) = self.inner.lock() else {
            return out;
        };
        let _ = writeln!(
            out,
            "# HELP predio_http_requests_total HTTP requests answered, by route group and status.\n\
             # TYPE predio_http_requests_total counter"
        );
        for ((route, status), n) in &c.requests {
            let _ = writeln!(
                out,
                "predio_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP predio_http_request_duration_seconds Time to answer, by route group.\n\
             # TYPE predio_http_request_duration_seconds histogram"
        );
        for (route, h) in &c.latency {
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "predio_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "predio_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 predio_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 predio_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count, h.sum, h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP predio_http_refused_total Requests refused before a handler, by reason.\n\
             # TYPE predio_http_refused_total counter"
        );
        for (why, n) in &c.refused {
            let _ = writeln!(out, "predio_http_refused_total{{reason=\"{why}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP predio_tile_cache_requests_total Tile requests by cache result.\n\
             # TYPE predio_tile_cache_requests_total counter"
        );
        for (kind, n) in &c.cache {
            let _ = writeln!(
                out,
                "predio_tile_cache_requests_total{{result=\"{kind}\"}} {n}"
            );
        }
        let mut gauges = gauges.to_vec();
        gauges.push((
            "predio_uptime_seconds",
            "Seconds since the server started.",
            self.started.elapsed().as_secs_f64(),
        ));
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        out
    }
}
