//! The clock port: what time it is. Synchronous, since reading the time never waits.
//!
//! [`SystemClock`] reads the machine's clock; [`FixedClock`] is set and advanced by hand, so
//! tests of timeouts, delays and expiry never sleep. Both backends use these two; they live
//! here rather than in an adapter crate because neither needs anything outside `chrono`.

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// The current time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// Today's date in UTC. The domain turns `now()` into a local date itself where the
    /// administration's time zone matters.
    fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to. Shared through an `Arc`, so a test keeps a handle and
/// moves the time under the code it drives.
#[derive(Debug)]
pub struct FixedClock {
    now: Mutex<DateTime<Utc>>,
}

impl FixedClock {
    pub fn new(now: DateTime<Utc>) -> Self {
        FixedClock { now: Mutex::new(now) }
    }

    /// Sets the time.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }

    /// Moves the time forward (or back, for a negative delta).
    pub fn advance(&self, by: TimeDelta) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let start = Utc.with_ymd_and_hms(2024, 12, 31, 23, 59, 0).unwrap();
        let clock = FixedClock::new(start);
        assert_eq!(clock.now(), start);
        assert_eq!(clock.today(), NaiveDate::from_ymd_opt(2024, 12, 31).unwrap());
        clock.advance(TimeDelta::minutes(2));
        assert_eq!(clock.today(), NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
        clock.set(start);
        assert_eq!(clock.now(), start);
    }

    #[test]
    fn system_clock_is_now() {
        let before = Utc::now();
        let now = SystemClock.now();
        assert!(now >= before && now <= Utc::now());
    }
}
