//! Exotel's rate, kept as Exotel (and the simulator) count it: at most
//! `limit` requests in any sliding minute. A token bucket would let a full
//! burst through and then one request every 60/limit seconds, which a
//! sliding window answers with 429s; this waits until the oldest request
//! of the minute has left it, with a margin for the time a request takes
//! to arrive.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The requests sent within the last `span`, for one account and family.
#[derive(Debug)]
pub struct Window {
    limit: usize,
    span: Duration,
    margin: Duration,
    sent: Mutex<VecDeque<Instant>>,
}

impl Window {
    pub fn new(limit: u32, span: Duration, margin: Duration) -> Self {
        Self {
            limit: limit as usize,
            span,
            margin,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    /// Takes a place at `now`, or says how long until one frees.
    pub fn try_take(&self, now: Instant) -> Result<(), Duration> {
        let Ok(mut sent) = self.sent.lock() else {
            return Ok(());
        };
        let keep = self.span + self.margin;
        while sent.front().is_some_and(|t| now.duration_since(*t) >= keep) {
            sent.pop_front();
        }
        match (sent.len() < self.limit, sent.front()) {
            (true, _) | (false, None) => {
                sent.push_back(now);
                Ok(())
            }
            (false, Some(oldest)) => Err((*oldest + keep).saturating_duration_since(now)),
        }
    }

    /// How long until a place is free at `now`, taking none.
    pub fn wait_at(&self, now: Instant) -> Duration {
        let Ok(sent) = self.sent.lock() else {
            return Duration::ZERO;
        };
        let keep = self.span + self.margin;
        let inside: Vec<&Instant> = sent.iter().filter(|t| now.duration_since(**t) < keep).collect();
        match (inside.len() < self.limit, inside.first()) {
            (true, _) | (false, None) => Duration::ZERO,
            (false, Some(oldest)) => (**oldest + keep).saturating_duration_since(now),
        }
    }

    /// Waits until a place is free, taking none.
    pub async fn until_free(&self) {
        loop {
            match self.wait_at(Instant::now()) {
                Duration::ZERO => return,
                wait => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Waits for a place and takes it.
    pub async fn until_ready(&self) {
        loop {
            match self.try_take(Instant::now()) {
                Ok(()) => return,
                Err(wait) => tokio::time::sleep(wait.max(Duration::from_millis(1))).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_minute_waits_for_its_oldest_request_to_leave_with_the_margin() {
        let window = Window::new(3, Duration::from_secs(60), Duration::from_millis(250));
        let start = Instant::now();
        for i in 0..3 {
            assert_eq!(window.try_take(start + Duration::from_secs(i)), Ok(()));
        }
        let later = start + Duration::from_secs(10);
        assert_eq!(window.try_take(later), Err(Duration::from_millis(50_250)));
        assert_eq!(
            window.try_take(start + Duration::from_millis(60_249)),
            Err(Duration::from_millis(1))
        );
        assert_eq!(window.try_take(start + Duration::from_millis(60_250)), Ok(()));
        assert!(
            window.try_take(start + Duration::from_millis(60_300)).is_err(),
            "still three in the minute"
        );
        assert_eq!(window.try_take(start + Duration::from_millis(61_250)), Ok(()));
    }

    #[test]
    fn a_look_at_the_window_takes_no_place() {
        let window = Window::new(1, Duration::from_secs(60), Duration::ZERO);
        let start = Instant::now();
        assert_eq!(window.wait_at(start), Duration::ZERO);
        assert_eq!(window.try_take(start), Ok(()));
        assert_eq!(window.wait_at(start + Duration::from_secs(20)), Duration::from_secs(40));
        assert_eq!(window.wait_at(start + Duration::from_secs(60)), Duration::ZERO);
        assert_eq!(window.try_take(start + Duration::from_secs(60)), Ok(()));
    }

    #[tokio::test]
    async fn waiting_for_a_place_takes_as_long_as_the_oldest_needs_to_leave() {
        let window = Window::new(1, Duration::from_millis(80), Duration::from_millis(20));
        let start = Instant::now();
        window.until_ready().await;
        assert!(start.elapsed() < Duration::from_millis(50));
        window.until_ready().await;
        assert!(start.elapsed() >= Duration::from_millis(100));
    }
}
