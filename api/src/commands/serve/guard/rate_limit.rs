//! The rate limit: a token bucket per client (its key, else its address).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket per client: `rate` per second, bursts of 4 s worth.
pub(super) struct RateLimit {
    rate: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimit {
    pub(super) fn new(rate: f64) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token, or says how long until one is there.
    pub(super) fn take(&self, who: &str) -> Result<(), Duration> {
        let cap = self.rate * 4.0;
        let now = Instant::now();
        let Ok(mut b) = self.buckets.lock() else {
            return Ok(());
        };
        if b.len() > 100_000 {
            b.retain(|_, (_, t)| now.duration_since(*t) < Duration::from_secs(60));
        }
        let (tokens, last) = b.entry(who.to_owned()).or_insert((cap, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.rate).min(cap);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.rate))
        }
    }
}
