//! `StoreLease` (from the ports crate) on DynamoDB: runs never overlap.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use ledgerpost_aws_tests::TestEnv;
use ledgerpost_ports::{Clock, FixedClock, Lease, LeaseError, Store, StoreLease, SystemClock};

const TTL: Duration = Duration::from_secs(15 * 60);

async fn lease_env(tag: &str, clock: Arc<dyn Clock>) -> (TestEnv, StoreLease) {
    let env = TestEnv::new(tag).await;
    env.create_table().await;
    let store: Arc<dyn Store> = Arc::new(env.clients.store());
    (env, StoreLease::new(store, clock))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_lease_refuses_others_until_it_expires() {
    let clock = Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2025, 3, 1, 6, 0, 0).unwrap()));
    let (_env, lease) = lease_env("lease-held", clock.clone()).await;
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
    // Renewing extends it; the old grant is stale afterwards.
    clock.advance(TimeDelta::minutes(10));
    let renewed = lease.renew(&scheduled, TTL).await.unwrap();
    assert!(renewed.token > scheduled.token);
    assert!(matches!(lease.renew(&scheduled, TTL).await, Err(LeaseError::Lost { .. })));

    // GIVEN the scheduled run died: once the lease expires, the manual run takes it
    clock.advance(TimeDelta::minutes(15));
    let manual = lease.acquire("send-batch", "manual", TTL).await.unwrap();
    assert!(manual.token > renewed.token);
    // AND the dead run, should it wake up, has lost it
    assert!(matches!(lease.renew(&renewed, TTL).await, Err(LeaseError::Lost { .. })));
    assert!(matches!(lease.release(renewed).await, Err(LeaseError::Lost { .. })));
    // Releasing frees it at once.
    lease.release(manual).await.unwrap();
    lease.acquire("send-batch", "next", TTL).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn two_runs_racing_for_the_lease_never_both_win() {
    let (env, _) = lease_env("lease-race", Arc::new(SystemClock)).await;
    for round in 0..10 {
        let name = format!("send-batch-{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let handles: Vec<_> = ["scheduled", "manual"]
            .into_iter()
            .map(|owner| {
                // Each contender has its own client and lease, as two Lambda invocations would.
                let store: Arc<dyn Store> = Arc::new(env.clients.store());
                let lease = StoreLease::new(store, Arc::new(SystemClock));
                let (barrier, name) = (barrier.clone(), name.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    lease.acquire(&name, owner, TTL).await
                })
            })
            .collect();
        let mut results = Vec::new();
        for handle in handles {
            results.push(handle.await.unwrap());
        }
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
        assert!(results.iter().any(|r| matches!(r, Err(LeaseError::Held { .. }))), "{results:?}");
    }
}
