//! The lease on one machine: [`StoreLease`] (from the ports crate) on a [`SqliteStore`], so the
//! lease item lives in the same SQLite file as everything else and two processes contend for it
//! through the store's conditional writes.

use std::sync::Arc;

use ledgerpost_ports::{Clock, StoreLease};

use crate::SqliteStore;

/// A lease kept in `store`.
pub fn sqlite_lease(store: &SqliteStore, clock: Arc<dyn Clock>) -> StoreLease {
    StoreLease::new(Arc::new(store.clone()), clock)
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;
    use std::time::Duration;

    use chrono::{TimeDelta, TimeZone, Utc};
    use ledgerpost_ports::{FixedClock, Lease, LeaseError, Store};

    use super::*;
    use crate::SqliteDb;

    const TTL: Duration = Duration::from_secs(15 * 60);

    fn setup() -> (Arc<FixedClock>, SqliteStore, StoreLease) {
        let clock = Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2025, 3, 1, 6, 0, 0).unwrap()));
        let store = SqliteStore::new(SqliteDb::open_in_memory().unwrap());
        let lease = sqlite_lease(&store, clock.clone());
        (clock, store, lease)
    }

    #[tokio::test]
    async fn a_held_lease_refuses_others_until_it_expires() {
        let (clock, _store, lease) = setup();
        // GIVEN the scheduled run holds the send lease
        let scheduled = lease.acquire("send-batch", "scheduled", TTL).await.unwrap();
        assert_eq!(scheduled.until, clock.now() + TimeDelta::minutes(15));

        // WHEN a manual run asks for it THEN it is told who holds it and until when
        match lease.acquire("send-batch", "manual", TTL).await {
            Err(LeaseError::Held { by, until, .. }) => {
                assert_eq!((by.as_str(), until), ("scheduled", scheduled.until))
            }
            other => panic!("expected Held, got {other:?}"),
        }
        // Other names are independent.
        lease.acquire("report", "manual", TTL).await.unwrap();

        // GIVEN the scheduled run died: once the lease expires, the manual run takes it
        clock.advance(TimeDelta::minutes(15));
        let manual = lease.acquire("send-batch", "manual", TTL).await.unwrap();
        assert!(manual.token > scheduled.token);
        // AND the dead run, should it wake up, has lost it
        assert!(matches!(lease.renew(&scheduled, TTL).await, Err(LeaseError::Lost { .. })));
        assert!(matches!(lease.release(scheduled).await, Err(LeaseError::Lost { .. })));
        // while the holder still holds it
        assert!(matches!(lease.acquire("send-batch", "scheduled", TTL).await, Err(LeaseError::Held { .. })));
    }

    #[tokio::test]
    async fn renew_extends_and_release_frees_at_once() {
        let (clock, _store, lease) = setup();
        let held = lease.acquire("send-batch", "run-1", TTL).await.unwrap();
        clock.advance(TimeDelta::minutes(10));
        let renewed = lease.renew(&held, TTL).await.unwrap();
        assert_eq!(renewed.until, clock.now() + TimeDelta::minutes(15));
        assert!(renewed.token > held.token);
        // The old grant is stale once renewed.
        assert!(matches!(lease.renew(&held, TTL).await, Err(LeaseError::Lost { .. })));
        clock.advance(TimeDelta::minutes(10));
        assert!(matches!(lease.acquire("send-batch", "run-2", TTL).await, Err(LeaseError::Held { .. })));

        lease.release(renewed).await.unwrap();
        let next = lease.acquire("send-batch", "run-2", TTL).await.unwrap();
        assert_eq!(next.owner, "run-2");
    }

    #[tokio::test]
    async fn the_same_owner_may_take_its_lease_over() {
        let (_clock, _store, lease) = setup();
        let first = lease.acquire("send-batch", "invocation-7", TTL).await.unwrap();
        let again = lease.acquire("send-batch", "invocation-7", TTL).await.unwrap();
        assert!(again.token > first.token);
    }

    #[tokio::test]
    async fn bad_requests_and_unreadable_items() {
        let (_clock, store, lease) = setup();
        assert!(matches!(lease.acquire("", "x", TTL).await, Err(LeaseError::InvalidRequest { .. })));
        assert!(matches!(
            lease.acquire("a", "x", Duration::ZERO).await,
            Err(LeaseError::InvalidRequest { .. })
        ));
        let junk = ledgerpost_ports::Item::new(StoreLease::key("junk"), serde_json::json!({"owner": 3}));
        store.put_if_absent(junk).await.unwrap();
        assert!(matches!(lease.acquire("junk", "x", TTL).await, Err(LeaseError::Store(_))));
    }

    #[test]
    fn two_processes_racing_for_the_lease_never_both_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lease.db");
        let clock: Arc<dyn Clock> = Arc::new(ledgerpost_ports::SystemClock);
        for round in 0..10 {
            let name = format!("send-batch-{round}");
            let barrier = Arc::new(Barrier::new(2));
            let handles: Vec<_> = ["a", "b"]
                .into_iter()
                .map(|owner| {
                    let (path, clock, barrier, name) =
                        (path.clone(), clock.clone(), barrier.clone(), name.clone());
                    std::thread::spawn(move || {
                        let lease = sqlite_lease(&SqliteStore::open(&path).unwrap(), clock);
                        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
                        barrier.wait();
                        runtime.block_on(lease.acquire(&name, owner, TTL))
                    })
                })
                .collect();
            let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
            assert!(results.iter().any(|r| matches!(r, Err(LeaseError::Held { .. }))), "{results:?}");
        }
    }
}
