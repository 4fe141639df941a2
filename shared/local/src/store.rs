//! SQLite as the single-table item store.
//!
//! One row per item in `items` (see [`crate::SqliteDb`] for the schema). The version condition
//! is part of the write itself (`UPDATE … WHERE pk = ? AND sk = ? AND version = ?`, `INSERT … ON
//! CONFLICT DO NOTHING`), so of two writers on the same version exactly one changes a row; the
//! other changes none and gets `ConditionFailed`. A transaction takes the write lock first
//! (`BEGIN IMMEDIATE`), checks every condition, then applies every write, and commits or rolls
//! back as a whole.
//!
//! Sort-key prefixes become ranges (`sk >= prefix AND sk < successor(prefix)`), which SQLite
//! answers from the primary key or index; text compares by UTF-8 bytes, the order DynamoDB uses.
//! Cursors are small JSON documents naming the query they belong to and the last key returned.

use async_trait::async_trait;
use ledgerpost_ports::store::{check_key, check_transaction};
use ledgerpost_ports::{
    Body, Cursor, Expect, Index, IndexKey, IndexKeys, Item, ItemKey, KeyQuery, QueryPage, Store, StoreError,
    StoredItem, TransactOp,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params, params_from_iter};

use crate::LocalError;
use crate::db::{SqliteDb, is_busy};

macro_rules! columns {
    () => {
        "pk, sk, version, body, gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk"
    };
}

const COLUMNS: &str = columns!();
/// Statements are fixed text so that each is prepared once per connection and then taken from
/// rusqlite's statement cache (preparing costs more than running most of them).
const GET_SQL: &str = concat!("SELECT ", columns!(), " FROM items WHERE pk = ?1 AND sk = ?2");
const INSERT_SQL: &str =
    "INSERT INTO items (pk, sk, version, body, gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk)
     VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
const INSERT_IF_ABSENT_SQL: &str =
    "INSERT INTO items (pk, sk, version, body, gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk)
     VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
     ON CONFLICT (pk, sk) DO NOTHING";
const UPDATE_SQL: &str = "UPDATE items SET version = version + 1, body = ?3,
         gsi1pk = ?4, gsi1sk = ?5, gsi2pk = ?6, gsi2sk = ?7, gsi3pk = ?8, gsi3sk = ?9
     WHERE pk = ?1 AND sk = ?2 AND version = ?10";
const VERSION_SQL: &str = "SELECT version FROM items WHERE pk = ?1 AND sk = ?2";

/// The item store, in a [`SqliteDb`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: SqliteDb,
}

impl SqliteStore {
    pub fn new(db: SqliteDb) -> Self {
        SqliteStore { db }
    }

    /// Opens (or creates) a database file holding only this store's data so far.
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self, LocalError> {
        Ok(SqliteStore::new(SqliteDb::open(path)?))
    }

    pub fn db(&self) -> &SqliteDb {
        &self.db
    }

    fn get_sync(&self, key: &ItemKey) -> Result<Option<StoredItem>, StoreError> {
        check_key(key)?;
        let row = self
            .db
            .with(|c| c.prepare_cached(GET_SQL)?.query_row(params![key.pk, key.sk], RawRow::read).optional())
            .map_err(sql_error(format!("get {key}")))?;
        row.map(RawRow::into_stored).transpose()
    }

    fn put_if_absent_sync(&self, item: &Item) -> Result<u64, StoreError> {
        item.check()?;
        let changed = self
            .db
            .with(|c| insert(c, INSERT_IF_ABSENT_SQL, item))
            .map_err(sql_error(format!("put {}", item.key)))?;
        if changed == 0 {
            return Err(StoreError::ConditionFailed { key: item.key.clone(), op: None });
        }
        Ok(1)
    }

    fn put_if_version_sync(&self, item: &Item, version: u64) -> Result<u64, StoreError> {
        item.check()?;
        let condition_failed = || StoreError::ConditionFailed { key: item.key.clone(), op: None };
        // No stored version is above i64::MAX, so such a condition can only fail.
        let (Some(expected), Some(next)) =
            (sql_version(version), version.checked_add(1).and_then(sql_version))
        else {
            return Err(condition_failed());
        };
        let changed =
            self.db.with(|c| update(c, item, expected)).map_err(sql_error(format!("update {}", item.key)))?;
        if changed == 0 {
            return Err(condition_failed());
        }
        Ok(next as u64)
    }

    fn delete_if_version_sync(&self, key: &ItemKey, version: u64) -> Result<(), StoreError> {
        check_key(key)?;
        let condition_failed = || StoreError::ConditionFailed { key: key.clone(), op: None };
        let Some(expected) = sql_version(version) else { return Err(condition_failed()) };
        let changed = self
            .db
            .with(|c| {
                c.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2 AND version = ?3")?
                    .execute(params![key.pk, key.sk, expected])
            })
            .map_err(sql_error(format!("delete {key}")))?;
        if changed == 0 {
            return Err(condition_failed());
        }
        Ok(())
    }

    fn query_sync(&self, index: Option<Index>, query: &KeyQuery) -> Result<QueryPage, StoreError> {
        query.check()?;
        let source = index.map_or("table", Index::name);
        let (sql, args) = query_sql(index, query)?;
        let rows = self
            .db
            .with(|c| {
                let mut statement = c.prepare_cached(&sql)?;
                let rows = statement.query_map(params_from_iter(args), RawRow::read)?;
                rows.collect::<rusqlite::Result<Vec<RawRow>>>()
            })
            .map_err(sql_error(format!("query {source} for {}", query.pk)))?;
        let mut items = rows.into_iter().map(RawRow::into_stored).collect::<Result<Vec<_>, _>>()?;
        let next = if items.len() > query.limit {
            items.truncate(query.limit);
            items.last().map(|last| encode_cursor(source, &query.pk, &cursor_position(index, last)))
        } else {
            None
        };
        Ok(QueryPage { items, next })
    }

    fn transact_sync(&self, ops: &[TransactOp]) -> Result<(), StoreError> {
        check_transaction(ops)?;
        self.db.with(|c| {
            let failed = sql_error(format!("transaction of {} operations", ops.len()));
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&failed)?;
            // Every key appears once, so the conditions do not depend on each other's writes:
            // check them all first, then write.
            for (i, op) in ops.iter().enumerate() {
                let key = op.key();
                let current: Option<i64> = tx
                    .prepare_cached(VERSION_SQL)
                    .and_then(|mut s| s.query_row(params![key.pk, key.sk], |r| r.get(0)).optional())
                    .map_err(&failed)?;
                let is = |version: u64| sql_version(version).is_some_and(|v| current == Some(v));
                let holds = match op {
                    TransactOp::Put(_) | TransactOp::ConditionCheck { expect: Expect::Absent, .. } => {
                        current.is_none()
                    }
                    TransactOp::Update { version, .. }
                    | TransactOp::Delete { version, .. }
                    | TransactOp::ConditionCheck { expect: Expect::Version(version), .. } => is(*version),
                };
                // Updating past the largest version SQLite holds cannot happen in practice;
                // refuse it as a failed condition rather than wrap around.
                let overflows =
                    matches!(op, TransactOp::Update { version, .. } if *version >= i64::MAX as u64);
                if !holds || overflows {
                    return Err(StoreError::ConditionFailed { key: key.clone(), op: Some(i) });
                }
            }
            for op in ops {
                match op {
                    TransactOp::Put(item) => insert(&tx, INSERT_SQL, item).map(drop),
                    TransactOp::Update { item, version } => {
                        update(&tx, item, sql_version(*version).unwrap_or_default()).map(drop)
                    }
                    TransactOp::Delete { key, .. } => tx
                        .prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
                        .and_then(|mut s| s.execute(params![key.pk, key.sk]))
                        .map(drop),
                    TransactOp::ConditionCheck { .. } => Ok(()),
                }
                .map_err(&failed)?;
            }
            tx.commit().map_err(&failed)
        })
    }
}

/// The SELECT for a query on the table or an index, and its arguments: a range on the (index)
/// sort key within one partition, ordered, after the cursor, one row more than the limit (to
/// know whether a next page exists).
fn query_sql(index: Option<Index>, query: &KeyQuery) -> Result<(String, Vec<SqlValue>), StoreError> {
    let source = index.map_or("table", Index::name);
    // (partition column, sort column, columns the order and the cursor follow)
    let (pk_col, sk_col, order): (&str, &str, &[&str]) = match index {
        None => ("pk", "sk", &["sk"]),
        Some(index) => {
            let (pk_col, sk_col) = index.attributes();
            (pk_col, sk_col, &[sk_col, "pk", "sk"][..])
        }
    };
    let mut sql = format!("SELECT {COLUMNS} FROM items WHERE {pk_col} = ?");
    let mut args = vec![SqlValue::Text(query.pk.clone())];
    if !query.sk_prefix.is_empty() {
        sql.push_str(&format!(" AND {sk_col} >= ?"));
        args.push(SqlValue::Text(query.sk_prefix.clone()));
        if let Some(upper) = prefix_upper_bound(&query.sk_prefix) {
            sql.push_str(&format!(" AND {sk_col} < ?"));
            args.push(SqlValue::Text(upper));
        }
    }
    if let Some(cursor) = &query.after {
        let position = decode_cursor(cursor, source, &query.pk, order.len())?;
        let comparison = if query.descending { "<" } else { ">" };
        let placeholders = vec!["?"; order.len()].join(", ");
        sql.push_str(&format!(" AND ({}) {comparison} ({placeholders})", order.join(", ")));
        args.extend(position.into_iter().map(SqlValue::Text));
    }
    let direction = if query.descending { "DESC" } else { "ASC" };
    let order_by: Vec<String> = order.iter().map(|col| format!("{col} {direction}")).collect();
    sql.push_str(&format!(" ORDER BY {} LIMIT ?", order_by.join(", ")));
    let fetch = query.limit.saturating_add(1);
    args.push(SqlValue::Integer(i64::try_from(fetch).unwrap_or(i64::MAX)));
    Ok((sql, args))
}

/// Writes an item with `sql`: a plain insert, or one that does nothing when the key exists.
fn insert(c: &Connection, sql: &str, item: &Item) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(params_from_iter(item_columns(item)))
}

/// Replaces the item if its version is `expected`; the number of rows changed (0 or 1).
fn update(c: &Connection, item: &Item, expected: i64) -> rusqlite::Result<usize> {
    let columns = item_columns(item);
    let args = columns.iter().map(|c| c as &dyn rusqlite::ToSql);
    c.prepare_cached(UPDATE_SQL)?.execute(params_from_iter(args.chain([&expected as &dyn rusqlite::ToSql])))
}

/// An item's columns as the insert and update statements bind them: pk, sk, body, then the
/// index keys.
fn item_columns(item: &Item) -> [Option<&str>; 9] {
    let [g1p, g1s, g2p, g2s, g3p, g3s] = index_columns(&item.indexes);
    [Some(&item.key.pk), Some(&item.key.sk), Some(item.body.as_str()), g1p, g1s, g2p, g2s, g3p, g3s]
}

fn index_columns(indexes: &IndexKeys) -> [Option<&str>; 6] {
    fn split(key: Option<&IndexKey>) -> (Option<&str>, Option<&str>) {
        (key.map(|k| k.pk.as_str()), key.map(|k| k.sk.as_str()))
    }
    let (g1p, g1s) = split(indexes.gsi1.as_ref());
    let (g2p, g2s) = split(indexes.gsi2.as_ref());
    let (g3p, g3s) = split(indexes.gsi3.as_ref());
    [g1p, g1s, g2p, g2s, g3p, g3s]
}

/// A version as SQLite stores it; `None` for versions no item can have.
fn sql_version(version: u64) -> Option<i64> {
    i64::try_from(version).ok()
}

fn sql_error(context: String) -> impl Fn(rusqlite::Error) -> StoreError {
    move |err| {
        if is_busy(&err) {
            StoreError::unavailable(context.clone(), err)
        } else {
            StoreError::backend(context.clone(), err)
        }
    }
}

/// A row as read.
struct RawRow {
    pk: String,
    sk: String,
    version: i64,
    body: String,
    gsi: [Option<String>; 6],
}

impl RawRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawRow {
            pk: row.get(0)?,
            sk: row.get(1)?,
            version: row.get(2)?,
            body: row.get(3)?,
            gsi: [row.get(4)?, row.get(5)?, row.get(6)?, row.get(7)?, row.get(8)?, row.get(9)?],
        })
    }

    fn into_stored(self) -> Result<StoredItem, StoreError> {
        let key = ItemKey::new(self.pk, self.sk);
        let body = Body::from_stored(self.body);
        let version = u64::try_from(self.version).map_err(|err| {
            StoreError::backend(format!("item {key} holds the negative version {}", self.version), err)
        })?;
        let [g1p, g1s, g2p, g2s, g3p, g3s] = self.gsi;
        let pair = |pk: Option<String>, sk: Option<String>| Some(IndexKey { pk: pk?, sk: sk? });
        let indexes = IndexKeys { gsi1: pair(g1p, g1s), gsi2: pair(g2p, g2s), gsi3: pair(g3p, g3s) };
        Ok(StoredItem { item: Item { key, body, indexes }, version })
    }
}

/// The smallest string above every string that starts with `prefix`, if there is one: the
/// prefix with its last character bumped (trailing `char::MAX`es dropped). Code-point order is
/// UTF-8 byte order, the order SQLite compares text in.
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if next == 0xD800 {
            next = 0xE000; // skip the surrogate range, which is not made of chars
        }
        if let Some(next) = char::from_u32(next) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The cursor of a page ending at `last`: its sort key (table), or its index sort key and
/// primary key (index: several items may share an index sort key).
fn cursor_position(index: Option<Index>, last: &StoredItem) -> Vec<String> {
    let key = &last.item.key;
    match index.and_then(|index| last.item.indexes.get(index)) {
        None => vec![key.sk.clone()],
        Some(index_key) => vec![index_key.sk.clone(), key.pk.clone(), key.sk.clone()],
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CursorDoc {
    /// `table` or the index name.
    source: String,
    pk: String,
    after: Vec<String>,
}

fn encode_cursor(source: &str, pk: &str, after: &[String]) -> Cursor {
    let doc = CursorDoc { source: source.to_owned(), pk: pk.to_owned(), after: after.to_vec() };
    // Serialising strings cannot fail.
    Cursor::new(serde_json::to_string(&doc).unwrap_or_default())
}

fn decode_cursor(cursor: &Cursor, source: &str, pk: &str, len: usize) -> Result<Vec<String>, StoreError> {
    let doc: CursorDoc = serde_json::from_str(cursor.as_str())
        .map_err(|_| StoreError::invalid("the cursor was not issued by this store"))?;
    if doc.source != source || doc.pk != pk || doc.after.len() != len {
        return Err(StoreError::invalid("the cursor belongs to another query"));
    }
    Ok(doc.after)
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, key: &ItemKey) -> Result<Option<StoredItem>, StoreError> {
        self.get_sync(key)
    }

    async fn put_if_absent(&self, item: Item) -> Result<u64, StoreError> {
        self.put_if_absent_sync(&item)
    }

    async fn put_if_version(&self, item: Item, version: u64) -> Result<u64, StoreError> {
        self.put_if_version_sync(&item, version)
    }

    async fn delete_if_version(&self, key: &ItemKey, version: u64) -> Result<(), StoreError> {
        self.delete_if_version_sync(key, version)
    }

    async fn query(&self, query: &KeyQuery) -> Result<QueryPage, StoreError> {
        self.query_sync(None, query)
    }

    async fn query_index(&self, index: Index, query: &KeyQuery) -> Result<QueryPage, StoreError> {
        self.query_sync(Some(index), query)
    }

    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        self.transact_sync(&ops)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use ledgerpost_ports::store::MAX_ITEM_BYTES;
    use serde_json::json;

    use super::*;

    fn store() -> SqliteStore {
        SqliteStore::new(SqliteDb::open_in_memory().unwrap())
    }

    fn item(pk: &str, sk: &str, body: serde_json::Value) -> Item {
        Item::new(ItemKey::new(pk, sk), body)
    }

    #[tokio::test]
    async fn versions_and_conditions() {
        let store = store();
        let key = ItemKey::new("INV#1", "META");
        assert_eq!(store.get(&key).await.unwrap(), None);
        assert_eq!(store.put_if_absent(item("INV#1", "META", json!({"status": "new"}))).await.unwrap(), 1);
        let again = store.put_if_absent(item("INV#1", "META", json!({}))).await;
        assert!(matches!(again, Err(StoreError::ConditionFailed { op: None, .. })));

        let v2 = store.put_if_version(item("INV#1", "META", json!({"status": "matched"})), 1).await.unwrap();
        assert_eq!(v2, 2);
        let stale = store.put_if_version(item("INV#1", "META", json!({"status": "x"})), 1).await;
        assert!(stale.unwrap_err().is_condition_failed());
        let stored = store.get(&key).await.unwrap().unwrap();
        assert_eq!((stored.version, stored.item.body.to_value().unwrap()), (2, json!({"status": "matched"})));

        // Updating or deleting what is not there fails the condition too.
        let missing = store.put_if_version(item("INV#2", "META", json!({})), 1).await;
        assert!(missing.unwrap_err().is_condition_failed());
        assert!(store.delete_if_version(&key, 1).await.unwrap_err().is_condition_failed());
        assert!(store.delete_if_version(&key, u64::MAX).await.unwrap_err().is_condition_failed());
        store.delete_if_version(&key, 2).await.unwrap();
        assert_eq!(store.get(&key).await.unwrap(), None);
    }

    #[test]
    fn two_writers_on_the_same_version_exactly_one_wins() {
        // GIVEN one item at version 1 in a database file, and two connections to it
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("race.db");
        let setup = SqliteStore::open(&path).unwrap();
        setup.put_if_absent_sync(&item("BATCH#1", "META", json!({"state": "open"}))).unwrap();
        let writers = [SqliteStore::open(&path).unwrap(), SqliteStore::open(&path).unwrap()];

        for round in 1..=20u64 {
            let barrier = Arc::new(Barrier::new(2));
            // WHEN both write on the version they read, at the same moment
            let handles: Vec<_> = writers
                .iter()
                .cloned()
                .enumerate()
                .map(|(who, store)| {
                    let barrier = barrier.clone();
                    std::thread::spawn(move || {
                        let body = json!({"state": "claimed", "by": who, "round": round});
                        barrier.wait();
                        store.put_if_version_sync(&item("BATCH#1", "META", body), round)
                    })
                })
                .collect();
            let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            // THEN exactly one wins, the other sees a failed condition
            let wins = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(wins, 1, "round {round}: {results:?}");
            assert!(results.iter().any(|r| matches!(r, Err(StoreError::ConditionFailed { .. }))));
            let stored = setup.get_sync(&ItemKey::new("BATCH#1", "META")).unwrap().unwrap();
            assert_eq!(stored.version, round + 1);
        }
    }

    #[test]
    fn many_threads_on_one_shared_store_lose_no_update() {
        // GIVEN a counter item and 4 threads that each increment it 25 times, re-reading on conflict
        let store = Arc::new(store());
        store.put_if_absent_sync(&item("COUNTER", "C", json!({"n": 0}))).unwrap();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        loop {
                            let current = store.get_sync(&ItemKey::new("COUNTER", "C")).unwrap().unwrap();
                            let n = current.item.body.to_value().unwrap()["n"].as_u64().unwrap();
                            let next = item("COUNTER", "C", json!({"n": n + 1}));
                            match store.put_if_version_sync(&next, current.version) {
                                Ok(_) => break,
                                Err(err) if err.is_condition_failed() => continue,
                                Err(err) => panic!("{err}"),
                            }
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        // THEN no increment is lost
        let stored = store.get_sync(&ItemKey::new("COUNTER", "C")).unwrap().unwrap();
        assert_eq!(stored.item.body.to_value().unwrap()["n"], 100);
        assert_eq!(stored.version, 101);
    }

    #[tokio::test]
    async fn transact_is_all_or_nothing_and_names_the_failing_op() {
        let store = store();
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
        // THEN it fails on op 3 and nothing was written
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
        let obligation = store.get(&ItemKey::new("OBL#9", "META")).await.unwrap().unwrap();
        assert_eq!(obligation.version, 1);

        // WHEN the condition holds THEN everything is written at once
        let mut ops = ops;
        ops[3] =
            TransactOp::ConditionCheck { key: ItemKey::new("ADMIN#1", "LOCK"), expect: Expect::Version(1) };
        ops.push(TransactOp::ConditionCheck { key: ItemKey::new("JE#2", "META"), expect: Expect::Absent });
        ops.push(TransactOp::Delete { key: ItemKey::new("ADMIN#1", "LOCK"), version: 1 });
        // (the same key twice is refused, as DynamoDB does)
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

        // A Put on an existing key fails with its position.
        let err = store
            .transact(vec![
                TransactOp::ConditionCheck { key: ItemKey::new("INV#1", "META"), expect: Expect::Version(2) },
                TransactOp::Put(item("JE#1", "META", json!({}))),
            ])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::ConditionFailed { op: Some(1), .. }));
    }

    #[tokio::test]
    async fn query_by_prefix_in_pages_both_ways() {
        let store = store();
        for sk in ["LINE#001", "LINE#002", "LINE#003", "LINE#004", "LINE#005", "META", "LINF"] {
            store.put_if_absent(item("INV#1", sk, json!({"sk": sk}))).await.unwrap();
        }
        store.put_if_absent(item("INV#2", "LINE#001", json!({}))).await.unwrap();

        let collect = |descending: bool| {
            let store = store.clone();
            async move {
                let mut seen = Vec::new();
                let mut query = KeyQuery::new("INV#1").sk_prefix("LINE#").limit(2);
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
        assert_eq!(collect(false).await, ["LINE#001", "LINE#002", "LINE#003", "LINE#004", "LINE#005"]);
        assert_eq!(collect(true).await, ["LINE#005", "LINE#004", "LINE#003", "LINE#002", "LINE#001"]);
        let all = store.query(&KeyQuery::new("INV#1")).await.unwrap();
        assert_eq!((all.items.len(), all.next), (7, None));
        // A cursor from another query is refused.
        let page = store.query(&KeyQuery::new("INV#1").limit(1)).await.unwrap();
        let foreign = KeyQuery::new("INV#2").after(page.next);
        assert!(matches!(store.query(&foreign).await, Err(StoreError::InvalidRequest { .. })));
        let garbage = KeyQuery::new("INV#1").after(Some(Cursor::new("{not json")));
        assert!(matches!(store.query(&garbage).await, Err(StoreError::InvalidRequest { .. })));
    }

    #[tokio::test]
    async fn query_by_index_with_pagination() {
        let store = store();
        // GIVEN goods receipts of two administrations, indexed by (administration, order
        // reference); two receipts share the index sort key of one order
        let receipts = [
            ("GR#1", "ADM#A", "PO#100#1"),
            ("GR#2", "ADM#A", "PO#100#2"),
            ("GR#3", "ADM#A", "PO#100#2"),
            ("GR#4", "ADM#A", "PO#101#1"),
            ("GR#5", "ADM#A", "PO#100#3"),
            ("GR#6", "ADM#B", "PO#100#1"),
        ];
        for (pk, gpk, gsk) in receipts {
            store
                .put_if_absent(item(pk, "META", json!({"id": pk})).with_index(Index::Gsi1, gpk, gsk))
                .await
                .unwrap();
        }
        // one item outside the index
        store.put_if_absent(item("GR#7", "META", json!({}))).await.unwrap();

        // WHEN the receipts of order 100 of administration A are read two at a time
        let mut query = KeyQuery::new("ADM#A").sk_prefix("PO#100#").limit(2);
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = store.query_index(Index::Gsi1, &query).await.unwrap();
            pages += 1;
            for stored in &page.items {
                assert_eq!(stored.item.indexes.gsi1.as_ref().unwrap().pk, "ADM#A");
            }
            seen.extend(page.items.into_iter().map(|s| s.item.key.pk));
            match page.next {
                Some(next) => query = query.after(Some(next)),
                None => break,
            }
        }
        // THEN all four come, in index order, none twice, in two pages
        assert_eq!(seen, ["GR#1", "GR#2", "GR#3", "GR#5"]);
        assert_eq!(pages, 2);
        // Another index is empty; a table cursor is refused on an index.
        assert!(store.query_index(Index::Gsi2, &KeyQuery::new("ADM#A")).await.unwrap().items.is_empty());
        let table_cursor = encode_cursor("table", "ADM#A", &["PO#100#1".to_owned()]);
        let mixed = KeyQuery::new("ADM#A").after(Some(table_cursor));
        assert!(matches!(
            store.query_index(Index::Gsi1, &mixed).await,
            Err(StoreError::InvalidRequest { .. })
        ));

        // An update that changes the index key moves the item in the index.
        let moved = item("GR#1", "META", json!({})).with_index(Index::Gsi1, "ADM#B", "PO#200#1");
        store.put_if_version(moved, 1).await.unwrap();
        let b = store.query_index(Index::Gsi1, &KeyQuery::new("ADM#B")).await.unwrap();
        let keys: Vec<_> = b.items.iter().map(|s| s.item.key.pk.as_str()).collect();
        assert_eq!(keys, ["GR#6", "GR#1"]);
    }

    #[tokio::test]
    async fn items_over_400_kb_are_refused() {
        let store = store();
        let big = item("INV#1", "LINES#1", json!({ "text": "x".repeat(MAX_ITEM_BYTES) }));
        match store.put_if_absent(big.clone()).await {
            Err(StoreError::ItemTooLarge { size, limit, .. }) => assert!(size > limit),
            other => panic!("expected ItemTooLarge, got {other:?}"),
        }
        assert!(matches!(
            store.transact(vec![TransactOp::Put(big)]).await,
            Err(StoreError::ItemTooLarge { .. })
        ));
        assert_eq!(store.get(&ItemKey::new("INV#1", "LINES#1")).await.unwrap(), None);
        // Just under the limit is fine.
        let mut fits = item("INV#1", "LINES#1", json!({ "text": "" }));
        let room = MAX_ITEM_BYTES - fits.size_bytes();
        fits.body = json!({ "text": "x".repeat(room) }).into();
        assert_eq!(fits.size_bytes(), MAX_ITEM_BYTES);
        store.put_if_absent(fits).await.unwrap();
    }

    #[test]
    fn queries_search_the_key_or_an_index_and_never_scan() {
        let store = store();
        let cursor = |source: &str, after: &[&str]| {
            Some(encode_cursor(source, "ADM#A", &after.iter().map(|s| s.to_string()).collect::<Vec<_>>()))
        };
        let cases = [
            (None, KeyQuery::new("ADM#A").sk_prefix("INV#").after(cursor("table", &["INV#5"]))),
            (None, KeyQuery::new("ADM#A").descending()),
            (
                Some(Index::Gsi1),
                KeyQuery::new("ADM#A").sk_prefix("PO#1").after(cursor("gsi1", &["PO#1", "p", "s"])),
            ),
            (Some(Index::Gsi3), KeyQuery::new("ADM#A").descending()),
        ];
        for (index, query) in cases {
            let (sql, args) = query_sql(index, &query).unwrap();
            let plan: Vec<String> = store
                .db
                .with(|c| {
                    let mut statement = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                    let rows = statement.query_map(params_from_iter(args), |row| row.get::<_, String>(3))?;
                    rows.collect()
                })
                .unwrap();
            let plan = plan.join(" | ");
            assert!(plan.starts_with("SEARCH items USING"), "{sql}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{sql} sorts outside the index: {plan}");
            if let Some(index) = index {
                assert!(plan.contains(&format!("items_{index}")), "{sql}: {plan}");
            }
        }
    }

    #[test]
    fn upper_bounds() {
        assert_eq!(prefix_upper_bound("LINE#"), Some("LINE$".into()));
        assert_eq!(prefix_upper_bound(""), None);
        assert_eq!(prefix_upper_bound("a\u{10FFFF}"), Some("b".into()));
        assert_eq!(prefix_upper_bound("\u{D7FF}"), Some("\u{E000}".into()));
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
    }

    #[tokio::test]
    async fn prefix_with_unusual_characters() {
        let store = store();
        for sk in ["a%", "a%b", "a_", "ab", "a\u{10FFFF}x", "b"] {
            store.put_if_absent(item("P", sk, json!({}))).await.unwrap();
        }
        let keys = |prefix: &'static str| {
            let store = store.clone();
            async move {
                let page = store.query(&KeyQuery::new("P").sk_prefix(prefix)).await.unwrap();
                page.items.into_iter().map(|s| s.item.key.sk).collect::<Vec<_>>()
            }
        };
        assert_eq!(keys("a%").await, ["a%", "a%b"]);
        assert_eq!(keys("a\u{10FFFF}").await, ["a\u{10FFFF}x"]);
        assert_eq!(keys("a").await.len(), 5);
    }
}
