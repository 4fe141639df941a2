//! The store port on DynamoDB (moto_server), mirroring the SQLite store's tests.

use std::sync::Arc;

use ledgerpost_aws::DynamoStore;
use ledgerpost_aws_tests::TestEnv;
use ledgerpost_ports::store::MAX_ITEM_BYTES;
use ledgerpost_ports::{Cursor, Expect, Index, Item, ItemKey, KeyQuery, Store, StoreError, TransactOp};
use serde_json::{Value, json};

fn item(pk: &str, sk: &str, body: Value) -> Item {
    Item::new(ItemKey::new(pk, sk), body)
}

async fn store_env(tag: &str) -> (TestEnv, DynamoStore) {
    let env = TestEnv::new(tag).await;
    env.create_table().await;
    let store = env.clients.store();
    (env, store)
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_guard_every_write() {
    let (_env, store) = store_env("ddb-versions").await;
    let key = ItemKey::new("ADM#A#INV#1", "META");
    // Amounts keep their exact text: the body is one JSON string.
    let body = json!({"status": "received", "total": "1.50", "rate": 0.1});
    assert_eq!(store.put_if_absent(item("ADM#A#INV#1", "META", body.clone())).await.unwrap(), 1);
    let stored = store.get(&key).await.unwrap().unwrap();
    assert_eq!((stored.version, stored.item.body.to_value().unwrap()), (1, body));

    // A second create fails its condition.
    let again = store.put_if_absent(item("ADM#A#INV#1", "META", json!({}))).await.unwrap_err();
    assert!(matches!(&again, StoreError::ConditionFailed { op: None, .. }), "{again:?}");

    // An update on the wrong version fails; on the right one it bumps the version.
    let update = item("ADM#A#INV#1", "META", json!({"status": "to journal"}));
    assert!(store.put_if_version(update.clone(), 2).await.unwrap_err().is_condition_failed());
    assert_eq!(store.put_if_version(update.clone(), 1).await.unwrap(), 2);
    assert_eq!(store.get(&key).await.unwrap().unwrap().item.body.to_value().unwrap()["status"], "to journal");
    // An update of a missing item fails too (never a blind create).
    let missing = item("ADM#A#INV#2", "META", json!({}));
    assert!(store.put_if_version(missing, 1).await.unwrap_err().is_condition_failed());

    // Deletes are conditional as well.
    assert!(store.delete_if_version(&key, 1).await.unwrap_err().is_condition_failed());
    store.delete_if_version(&key, 2).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), None);
    assert!(store.delete_if_version(&key, 2).await.unwrap_err().is_condition_failed());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_writers_on_the_same_version_exactly_one_wins() {
    // GIVEN one batch item at version 1, and two writers sharing nothing but the table
    let (env, setup) = store_env("ddb-race").await;
    setup.put_if_absent(item("ADM#A#BATCH#1", "META", json!({"state": "open"}))).await.unwrap();
    let writers = [env.clients.store(), env.clients.store()];

    for round in 1..=10u64 {
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        // WHEN both write on the version they read, at the same moment
        let handles: Vec<_> = writers
            .iter()
            .cloned()
            .enumerate()
            .map(|(who, store)| {
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    let body = json!({"state": "claimed", "by": who, "round": round});
                    barrier.wait().await;
                    store.put_if_version(item("ADM#A#BATCH#1", "META", body), round).await
                })
            })
            .collect();
        let mut results = Vec::new();
        for handle in handles {
            results.push(handle.await.unwrap());
        }
        // THEN exactly one wins, the other sees a failed condition
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "round {round}: {results:?}");
        assert!(results.iter().any(|r| matches!(r, Err(StoreError::ConditionFailed { .. }))));
        let stored = setup.get(&ItemKey::new("ADM#A#BATCH#1", "META")).await.unwrap().unwrap();
        assert_eq!(stored.version, round + 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn transact_is_all_or_nothing_and_names_the_failing_op() {
    let (_env, store) = store_env("ddb-transact").await;
    store.put_if_absent(item("INV#1", "META", json!({"status": "to journal"}))).await.unwrap();
    store.put_if_absent(item("OBL#9", "META", json!({"open": "100.00"}))).await.unwrap();
    store.put_if_absent(item("ADMIN#1", "LOCK", json!({}))).await.unwrap();

    // GIVEN a journal transaction whose condition check (op 3) expects a version the
    // administration lock does not have
    let ops = vec![
        TransactOp::Put(item("JE#1", "META", json!({"lines": 3}))),
        TransactOp::Update { item: item("INV#1", "META", json!({"status": "journaled"})), version: 1 },
        TransactOp::Update { item: item("OBL#9", "META", json!({"open": "0.00"})), version: 1 },
        TransactOp::ConditionCheck { key: ItemKey::new("ADMIN#1", "LOCK"), expect: Expect::Version(7) },
    ];
    // WHEN it runs
    let err = store.transact(ops.clone()).await.unwrap_err();
    // THEN it fails on op 3 (read from DynamoDB's cancellation reasons) and nothing was written
    match &err {
        StoreError::ConditionFailed { key, op } => {
            assert_eq!((key, *op), (&ItemKey::new("ADMIN#1", "LOCK"), Some(3)));
        }
        other => panic!("expected ConditionFailed, got {other:?}"),
    }
    assert_eq!(store.get(&ItemKey::new("JE#1", "META")).await.unwrap(), None);
    let invoice = store.get(&ItemKey::new("INV#1", "META")).await.unwrap().unwrap();
    assert_eq!(
        (invoice.version, invoice.item.body.to_value().unwrap()["status"].as_str()),
        (1, Some("to journal"))
    );
    assert_eq!(store.get(&ItemKey::new("OBL#9", "META")).await.unwrap().unwrap().version, 1);

    // WHEN the condition holds THEN everything is written at once
    let mut ops = ops;
    ops[3] = TransactOp::ConditionCheck { key: ItemKey::new("ADMIN#1", "LOCK"), expect: Expect::Version(1) };
    ops.push(TransactOp::ConditionCheck { key: ItemKey::new("JE#2", "META"), expect: Expect::Absent });
    ops.push(TransactOp::Delete { key: ItemKey::new("ADMIN#1", "LOCK"), version: 1 });
    // (the same key twice is refused before DynamoDB sees it, as DynamoDB would refuse it)
    assert!(matches!(store.transact(ops.clone()).await, Err(StoreError::InvalidRequest { .. })));
    ops.remove(3);
    store.transact(ops).await.unwrap();
    assert_eq!(store.get(&ItemKey::new("JE#1", "META")).await.unwrap().unwrap().version, 1);
    assert_eq!(store.get(&ItemKey::new("INV#1", "META")).await.unwrap().unwrap().version, 2);
    assert_eq!(
        store.get(&ItemKey::new("OBL#9", "META")).await.unwrap().unwrap().item.body.to_value().unwrap()["open"],
        "0.00"
    );
    assert_eq!(store.get(&ItemKey::new("ADMIN#1", "LOCK")).await.unwrap(), None);

    // A Put on an existing key (a duplicate guard) fails with its position.
    let err = store
        .transact(vec![
            TransactOp::ConditionCheck { key: ItemKey::new("INV#1", "META"), expect: Expect::Version(2) },
            TransactOp::Put(item("JE#1", "META", json!({}))),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { op: Some(1), .. }), "{err:?}");
    // A delete on a stale version fails with its position.
    let err = store
        .transact(vec![
            TransactOp::Put(item("JE#3", "META", json!({}))),
            TransactOp::Delete { key: ItemKey::new("INV#1", "META"), version: 1 },
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { op: Some(1), .. }), "{err:?}");
    assert_eq!(store.get(&ItemKey::new("JE#3", "META")).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn query_by_prefix_in_pages_both_ways() {
    let (_env, store) = store_env("ddb-query").await;
    for sk in ["LINES#0001", "LINES#0002", "LINES#0003", "LINES#0004", "LINES#0005", "META", "LINET"] {
        store.put_if_absent(item("INV#1", sk, json!({"sk": sk}))).await.unwrap();
    }
    store.put_if_absent(item("INV#2", "LINES#0001", json!({}))).await.unwrap();

    let collect = |descending: bool| {
        let store = store.clone();
        async move {
            let mut seen = Vec::new();
            let mut query = KeyQuery::new("INV#1").sk_prefix("LINES#").limit(2);
            if descending {
                query = query.descending();
            }
            loop {
                let page = store.query(&query).await.unwrap();
                assert!(page.items.len() <= 2);
                seen.extend(page.items.into_iter().map(|s| s.item.key.sk));
                match page.next {
                    Some(next) => query = query.after(Some(next)),
                    None => break,
                }
            }
            seen
        }
    };
    assert_eq!(collect(false).await, ["LINES#0001", "LINES#0002", "LINES#0003", "LINES#0004", "LINES#0005"]);
    assert_eq!(collect(true).await, ["LINES#0005", "LINES#0004", "LINES#0003", "LINES#0002", "LINES#0001"]);
    let all = store.query(&KeyQuery::new("INV#1")).await.unwrap();
    assert_eq!((all.items.len(), all.next), (7, None));
    // A cursor from another query is refused, and so is garbage.
    let page = store.query(&KeyQuery::new("INV#1").limit(1)).await.unwrap();
    let foreign = KeyQuery::new("INV#2").after(page.next);
    assert!(matches!(store.query(&foreign).await, Err(StoreError::InvalidRequest { .. })));
    let garbage = KeyQuery::new("INV#1").after(Some(Cursor::new("{not json")));
    assert!(matches!(store.query(&garbage).await, Err(StoreError::InvalidRequest { .. })));
    assert!(matches!(
        store.query(&KeyQuery::new("INV#1").limit(0)).await,
        Err(StoreError::InvalidRequest { .. })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn query_by_index_with_pagination() {
    let (_env, store) = store_env("ddb-index").await;
    // GIVEN goods receipt lines of two administrations, indexed by (administration, order
    // reference); two lines share the index sort key of one order
    let receipts = [
        ("GR#1", "ADM#A#ORDER#100", "GR#1#1"),
        ("GR#2", "ADM#A#ORDER#100", "GR#2#1"),
        ("GR#3", "ADM#A#ORDER#100", "GR#2#1"),
        ("GR#4", "ADM#A#ORDER#101", "GR#4#1"),
        ("GR#5", "ADM#A#ORDER#100", "GR#5#1"),
        ("GR#6", "ADM#B#ORDER#100", "GR#6#1"),
        ("OBL#1", "ADM#A#ORDER#100", "OBL#1"),
    ];
    for (pk, gpk, gsk) in receipts {
        store
            .put_if_absent(item(pk, "META", json!({"id": pk})).with_index(Index::Gsi1, gpk, gsk))
            .await
            .unwrap();
    }
    // one item outside the index
    store.put_if_absent(item("GR#7", "META", json!({}))).await.unwrap();

    // WHEN the receipt lines of order 100 of administration A are read two at a time
    let mut query = KeyQuery::new("ADM#A#ORDER#100").sk_prefix("GR#").limit(2);
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.query_index(Index::Gsi1, &query).await.unwrap();
        pages += 1;
        for stored in &page.items {
            assert_eq!(stored.item.indexes.gsi1.as_ref().unwrap().pk, "ADM#A#ORDER#100");
        }
        seen.extend(page.items.into_iter().map(|s| s.item.key.pk));
        match page.next {
            Some(next) => query = query.after(Some(next)),
            None => break,
        }
    }
    // THEN all four come, in index order, none twice (DynamoDB may end with an empty page)
    let mut tied = seen[1..3].to_vec();
    tied.sort();
    assert_eq!(
        (seen[0].as_str(), tied, seen[3].as_str()),
        ("GR#1", vec!["GR#2".to_owned(), "GR#3".to_owned()], "GR#5")
    );
    assert_eq!(seen.len(), 4);
    assert!((2..=3).contains(&pages), "{pages} pages");
    // Another index is empty; a table cursor is refused on an index.
    assert!(
        store.query_index(Index::Gsi2, &KeyQuery::new("ADM#A#ORDER#100")).await.unwrap().items.is_empty()
    );
    let table_page = store.query(&KeyQuery::new("GR#1").limit(1)).await.unwrap();
    assert!(table_page.next.is_none());
    let obligation =
        store.query_index(Index::Gsi1, &KeyQuery::new("ADM#A#ORDER#100").sk_prefix("OBL#")).await.unwrap();
    assert_eq!(obligation.items.len(), 1);

    // An update that changes the index key moves the item in the index; one that drops it
    // takes the item out.
    let moved = item("GR#1", "META", json!({})).with_index(Index::Gsi1, "ADM#B#ORDER#100", "GR#0#1");
    store.put_if_version(moved, 1).await.unwrap();
    let b = store.query_index(Index::Gsi1, &KeyQuery::new("ADM#B#ORDER#100")).await.unwrap();
    let keys: Vec<_> = b.items.iter().map(|s| s.item.key.pk.as_str()).collect();
    assert_eq!(keys, ["GR#1", "GR#6"]);
    store.put_if_version(item("GR#1", "META", json!({})), 2).await.unwrap();
    let b = store.query_index(Index::Gsi1, &KeyQuery::new("ADM#B#ORDER#100")).await.unwrap();
    assert_eq!(b.items.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn items_over_400_kb_are_refused_and_just_under_fit_in_dynamodb() {
    let (_env, store) = store_env("ddb-size").await;
    let big = item("INV#1", "LINES#0001", json!({ "text": "x".repeat(MAX_ITEM_BYTES) }));
    match store.put_if_absent(big.clone()).await {
        Err(StoreError::ItemTooLarge { size, limit, .. }) => assert!(size > limit),
        other => panic!("expected ItemTooLarge, got {other:?}"),
    }
    assert!(matches!(store.transact(vec![TransactOp::Put(big)]).await, Err(StoreError::ItemTooLarge { .. })));
    assert_eq!(store.get(&ItemKey::new("INV#1", "LINES#0001")).await.unwrap(), None);
    // An item that the port counts at moto's own limit is accepted: the port never counts an
    // item smaller than the emulator does. (moto refuses items over 405,000 bytes, a little
    // under AWS's 409,600 that the port allows; the pipeline keeps line chunks under 300 KB.)
    const MOTO_MAX_ITEM_BYTES: usize = 405_000;
    let mut fits = item("INV#1", "LINES#0001", json!({ "text": "" })).with_index(
        Index::Gsi3,
        "ADM#A#JNL#PURCHASE#READY",
        "2025-03-01#1",
    );
    let room = MOTO_MAX_ITEM_BYTES - fits.size_bytes();
    fits.body = json!({ "text": "x".repeat(room) }).into();
    assert_eq!(fits.size_bytes(), MOTO_MAX_ITEM_BYTES);
    store.put_if_absent(fits.clone()).await.unwrap();
    assert_eq!(store.get(&fits.key).await.unwrap().unwrap().item, fits);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_table_is_a_backend_error() {
    let env = TestEnv::new("ddb-notable").await;
    let err = env.clients.store().get(&ItemKey::new("p", "s")).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend { .. }), "{err:?}");
    assert!(err.to_string().contains("ResourceNotFoundException"), "{err}");
}
