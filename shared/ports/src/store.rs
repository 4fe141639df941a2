//! The store port: one table of versioned JSON items, shaped like DynamoDB's single-table design.
//!
//! An item lives under `(pk, sk)`, carries a `version` owned by the store, a JSON `body`, and up to
//! three secondary index keys (`gsi1pk/gsi1sk`, `gsi2pk/gsi2sk`, `gsi3pk/gsi3sk`). An item without
//! a given index key is simply absent from that index (a sparse index).
//!
//! Versions: an item is created with version 1; each conditional update on version `v` writes
//! `v + 1`. There is no unconditional write: every state change names the state it expects,
//! and a mismatch is [`StoreError::ConditionFailed`], never a silent overwrite.
//!
//! Consistency: [`Store::get`] and [`Store::query`] are strongly consistent (DynamoDB
//! `ConsistentRead`); [`Store::query_index`] is eventually consistent, as DynamoDB's global
//! secondary indexes are. Use an index to find candidates, then `get` the item and write
//! conditionally on its version.
//!
//! Size: an item must stay under DynamoDB's 400 KB limit, measured by [`Item::size_bytes`] the
//! same way by every adapter; a larger item is refused with [`StoreError::ItemTooLarge`] and the
//! caller splits it (e.g. the lines of a very large invoice into several items).
//!
//! Bodies: a [`Body`] is one JSON value as compact text, written once by the caller's serializer
//! and read once into the caller's type. Adapters store and return the text as it is: DynamoDB
//! keeps it as one string attribute (so the size is what [`Item::size_bytes`] says and numbers keep
//! their exact text), SQLite as one text column. Nothing between caller and table builds a
//! `serde_json::Value`: that tree cost more than everything else an item goes through.
//!
//! The DynamoDB adapter is expected to name the attributes `pk`, `sk`, `version`, `body`,
//! `gsi1pk`, `gsi1sk`, … with the indexes
//! called `gsi1`, `gsi2`, `gsi3`.

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{BoxError, Cursor, Retryable};

/// DynamoDB's item size limit (400 KB), in bytes.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// Most operations in one [`Store::transact`] (DynamoDB's limit).
pub const MAX_TRANSACT_OPS: usize = 100;
/// Most bytes of items in one [`Store::transact`] (DynamoDB's limit: 4 MB).
pub const MAX_TRANSACT_BYTES: usize = 4 * 1024 * 1024;
/// Longest partition key value, in bytes.
pub const MAX_PK_BYTES: usize = 2048;
/// Longest sort key value, in bytes.
pub const MAX_SK_BYTES: usize = 1024;

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ItemKey {
    pub pk: String,
    pub sk: String,
}

impl ItemKey {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        ItemKey { pk: pk.into(), sk: sk.into() }
    }
}

impl std::fmt::Display for ItemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({}, {})", self.pk, self.sk)
    }
}

/// One of the three secondary indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Index {
    Gsi1,
    Gsi2,
    Gsi3,
}

impl Index {
    pub const ALL: [Index; 3] = [Index::Gsi1, Index::Gsi2, Index::Gsi3];

    /// The index name: `gsi1`, `gsi2` or `gsi3`.
    pub fn name(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1",
            Index::Gsi2 => "gsi2",
            Index::Gsi3 => "gsi3",
        }
    }

    /// The attributes holding an item's key in this index, e.g. `("gsi1pk", "gsi1sk")`.
    pub fn attributes(self) -> (&'static str, &'static str) {
        match self {
            Index::Gsi1 => ("gsi1pk", "gsi1sk"),
            Index::Gsi2 => ("gsi2pk", "gsi2sk"),
            Index::Gsi3 => ("gsi3pk", "gsi3sk"),
        }
    }
}

impl std::fmt::Display for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An item's key in one secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct IndexKey {
    pub pk: String,
    pub sk: String,
}

impl IndexKey {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        IndexKey { pk: pk.into(), sk: sk.into() }
    }
}

/// The secondary index keys of an item; `None` keeps the item out of that index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexKeys {
    pub gsi1: Option<IndexKey>,
    pub gsi2: Option<IndexKey>,
    pub gsi3: Option<IndexKey>,
}

impl IndexKeys {
    pub fn get(&self, index: Index) -> Option<&IndexKey> {
        match index {
            Index::Gsi1 => self.gsi1.as_ref(),
            Index::Gsi2 => self.gsi2.as_ref(),
            Index::Gsi3 => self.gsi3.as_ref(),
        }
    }

    pub fn set(&mut self, index: Index, key: Option<IndexKey>) {
        match index {
            Index::Gsi1 => self.gsi1 = key,
            Index::Gsi2 => self.gsi2 = key,
            Index::Gsi3 => self.gsi3 = key,
        }
    }

    /// The indexes this item is in, with its key in each.
    pub fn iter(&self) -> impl Iterator<Item = (Index, &IndexKey)> {
        Index::ALL.into_iter().filter_map(|index| self.get(index).map(|key| (index, key)))
    }
}

/// An item's body: one JSON value as compact text.
///
/// Made by serializing a value ([`Body::of`], or from a `serde_json::Value`), read by
/// deserializing it ([`Body::read`]). Equality is equality of the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Body(String);

impl Body {
    /// The compact JSON text of `value`.
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Result<Body, serde_json::Error> {
        serde_json::to_string(value).map(Body)
    }

    /// The text an adapter read back from its table, as it was written. It is not checked here:
    /// a body that is not JSON fails at [`Body::read`], where the caller names the item.
    pub fn from_stored(text: String) -> Body {
        Body(text)
    }

    /// The body as a value of `T`.
    pub fn read<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.0)
    }

    /// The body as a JSON tree, for callers that look at it without a type (tests, tools).
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        self.read()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Length of the text in bytes, as counted against the item size limit.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Value> for Body {
    fn from(value: Value) -> Body {
        // A `Value` always serializes: its map keys are strings.
        Body(value.to_string())
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An item to write: key, body and index keys. The version is the store's business.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: ItemKey,
    pub body: Body,
    pub indexes: IndexKeys,
}

impl Item {
    pub fn new(key: ItemKey, body: impl Into<Body>) -> Self {
        Item { key, body: body.into(), indexes: IndexKeys::default() }
    }

    /// Puts the item in `index` under `(pk, sk)`.
    pub fn with_index(mut self, index: Index, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        self.indexes.set(index, Some(IndexKey::new(pk, sk)));
        self
    }

    /// The item's size as every adapter counts it against [`MAX_ITEM_BYTES`]: attribute names
    /// plus values (strings as UTF-8, the body as compact JSON text, the version as 21 bytes,
    /// DynamoDB's worst case for a number), which is how DynamoDB sizes an item.
    pub fn size_bytes(&self) -> usize {
        let mut size = "pk".len() + self.key.pk.len() + "sk".len() + self.key.sk.len();
        size += "version".len() + 21 + "body".len() + self.body.len();
        for (index, key) in self.indexes.iter() {
            let (pk_attr, sk_attr) = index.attributes();
            size += pk_attr.len() + key.pk.len() + sk_attr.len() + key.sk.len();
        }
        size
    }

    /// Checks the key lengths, the index keys and the size. Every adapter calls this before a
    /// write, so a bad item fails the same way locally and on AWS.
    pub fn check(&self) -> Result<(), StoreError> {
        check_key(&self.key)?;
        for (index, key) in self.indexes.iter() {
            if key.pk.is_empty() || key.sk.is_empty() {
                return Err(StoreError::invalid(format!(
                    "item {}: the {index} key must not be empty (leave the index out instead)",
                    self.key
                )));
            }
            if key.pk.len() > MAX_PK_BYTES || key.sk.len() > MAX_SK_BYTES {
                return Err(StoreError::invalid(format!("item {}: the {index} key is too long", self.key)));
            }
        }
        let size = self.size_bytes();
        if size > MAX_ITEM_BYTES {
            return Err(StoreError::ItemTooLarge { key: self.key.clone(), size, limit: MAX_ITEM_BYTES });
        }
        Ok(())
    }
}

/// Checks that a key is usable: `pk` 1..=2048 bytes, `sk` 1..=1024 bytes (DynamoDB's limits).
pub fn check_key(key: &ItemKey) -> Result<(), StoreError> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(StoreError::invalid(format!("item key {key}: pk and sk must not be empty")));
    }
    if key.pk.len() > MAX_PK_BYTES || key.sk.len() > MAX_SK_BYTES {
        return Err(StoreError::invalid(format!(
            "item key {key}: pk is at most {MAX_PK_BYTES} bytes and sk at most {MAX_SK_BYTES}"
        )));
    }
    Ok(())
}

/// An item as stored, with its current version.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredItem {
    pub item: Item,
    pub version: u64,
}

/// A query on one partition key: the items whose sort key starts with `sk_prefix`, in sort-key
/// order. Build it with [`KeyQuery::new`] and the chained setters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyQuery {
    pub pk: String,
    /// Empty for the whole partition.
    pub sk_prefix: String,
    /// At most this many items per page (at least 1).
    pub limit: usize,
    /// Continue after the page that returned this cursor.
    pub after: Option<Cursor>,
    /// Highest sort key first.
    pub descending: bool,
}

impl KeyQuery {
    /// The whole partition `pk`, ascending, 100 items per page.
    pub fn new(pk: impl Into<String>) -> Self {
        KeyQuery { pk: pk.into(), sk_prefix: String::new(), limit: 100, after: None, descending: false }
    }

    pub fn sk_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.sk_prefix = prefix.into();
        self
    }

    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.after = cursor;
        self
    }

    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }

    /// Checks what every adapter refuses: an empty partition key or a zero limit.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.pk.is_empty() {
            return Err(StoreError::invalid("a query needs a partition key"));
        }
        if self.limit == 0 {
            return Err(StoreError::invalid("a query limit must be at least 1"));
        }
        Ok(())
    }
}

/// One page of a query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryPage {
    pub items: Vec<StoredItem>,
    /// Where the next page starts; `None` on the last page. A page may hold fewer items than the
    /// limit (even none) while `next` is `Some`: keep going until it is `None`.
    pub next: Option<Cursor>,
}

/// What a [`TransactOp::ConditionCheck`] expects of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No item under the key.
    Absent,
    /// The item exists with exactly this version.
    Version(u64),
}

/// One operation of an all-or-nothing [`Store::transact`].
#[derive(Debug, Clone, PartialEq)]
pub enum TransactOp {
    /// Creates the item; its key must be absent. It gets version 1.
    Put(Item),
    /// Replaces the item if its current version is `version`; it gets `version + 1`.
    Update { item: Item, version: u64 },
    /// Writes nothing, but the whole transaction fails unless the condition holds.
    ConditionCheck { key: ItemKey, expect: Expect },
    /// Deletes the item if its current version is `version`.
    Delete { key: ItemKey, version: u64 },
}

impl TransactOp {
    pub fn key(&self) -> &ItemKey {
        match self {
            TransactOp::Put(item) | TransactOp::Update { item, .. } => &item.key,
            TransactOp::ConditionCheck { key, .. } | TransactOp::Delete { key, .. } => key,
        }
    }
}

/// Checks a transaction as DynamoDB would before running it: 1..=100 operations, each key at
/// most once, every item valid, at most 4 MB of items.
pub fn check_transaction(ops: &[TransactOp]) -> Result<(), StoreError> {
    if ops.is_empty() || ops.len() > MAX_TRANSACT_OPS {
        return Err(StoreError::invalid(format!(
            "a transaction has 1 to {MAX_TRANSACT_OPS} operations, not {}",
            ops.len()
        )));
    }
    let mut seen = std::collections::HashSet::with_capacity(ops.len());
    let mut total = 0usize;
    for op in ops {
        check_key(op.key())?;
        if !seen.insert(op.key()) {
            return Err(StoreError::invalid(format!(
                "item {} appears twice in one transaction; DynamoDB refuses that",
                op.key()
            )));
        }
        if let TransactOp::Put(item) | TransactOp::Update { item, .. } = op {
            item.check()?;
            total += item.size_bytes();
        }
    }
    if total > MAX_TRANSACT_BYTES {
        return Err(StoreError::invalid(format!(
            "a transaction writes {total} bytes, over the limit of {MAX_TRANSACT_BYTES}"
        )));
    }
    Ok(())
}

/// A single table of versioned items with conditional writes.
#[async_trait]
pub trait Store: Send + Sync {
    /// The item under `key`, or `None`. Strongly consistent.
    async fn get(&self, key: &ItemKey) -> Result<Option<StoredItem>, StoreError>;

    /// Creates an item whose key must be absent; returns its version, 1.
    async fn put_if_absent(&self, item: Item) -> Result<u64, StoreError>;

    /// Replaces an item whose current version is `version`; returns the new version,
    /// `version + 1`. [`StoreError::ConditionFailed`] when the version differs or the item is gone.
    async fn put_if_version(&self, item: Item, version: u64) -> Result<u64, StoreError>;

    /// Deletes an item whose current version is `version`.
    async fn delete_if_version(&self, key: &ItemKey, version: u64) -> Result<(), StoreError>;

    /// Items of one partition whose sort key starts with the prefix, in sort-key order.
    async fn query(&self, query: &KeyQuery) -> Result<QueryPage, StoreError>;

    /// Items whose key in `index` has partition key `query.pk` and a sort key starting with the
    /// prefix, ordered by that index sort key. Eventually consistent.
    async fn query_index(&self, index: Index, query: &KeyQuery) -> Result<QueryPage, StoreError>;

    /// Runs all operations or none. When a condition fails, the error is
    /// [`StoreError::ConditionFailed`] with `op` set to the position of the (first) failing
    /// operation in `ops`.
    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError>;
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The item's state was not the one expected: another writer got there first, or the item
    /// was already there / already gone. Re-read and decide; do not blindly retry.
    #[error("condition failed on item {key}{}", op.map(|i| format!(" (transaction operation {i})")).unwrap_or_default())]
    ConditionFailed {
        key: ItemKey,
        /// For [`Store::transact`], the position of the failing operation.
        op: Option<usize>,
    },

    /// The item is over [`MAX_ITEM_BYTES`]; the caller must split it.
    #[error("item {key} is {size} bytes, over the limit of {limit} bytes")]
    ItemTooLarge { key: ItemKey, size: usize, limit: usize },

    /// The request is wrong whatever the data (empty key, bad cursor, too many operations, …).
    #[error("invalid store request: {reason}")]
    InvalidRequest { reason: String },

    /// Another transaction touched the same items at the same moment (DynamoDB
    /// `TransactionConflict`): retrying may work.
    #[error("transaction conflict: {context}")]
    Conflict {
        context: String,
        #[source]
        source: Option<BoxError>,
    },

    /// Throttled, timed out or busy: retrying later may work.
    #[error("store unavailable: {context}")]
    Unavailable {
        context: String,
        #[source]
        source: BoxError,
    },

    /// Any other failure of the backend, including a stored body that cannot be read.
    #[error("store failed: {context}")]
    Backend {
        context: String,
        #[source]
        source: BoxError,
    },
}

impl StoreError {
    pub fn invalid(reason: impl Into<String>) -> Self {
        StoreError::InvalidRequest { reason: reason.into() }
    }

    pub fn unavailable(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StoreError::Unavailable { context: context.into(), source: source.into() }
    }

    pub fn backend(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StoreError::Backend { context: context.into(), source: source.into() }
    }

    /// Whether this is [`StoreError::ConditionFailed`].
    pub fn is_condition_failed(&self) -> bool {
        matches!(self, StoreError::ConditionFailed { .. })
    }
}

impl Retryable for StoreError {
    fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Conflict { .. } | StoreError::Unavailable { .. })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn size_counts_names_values_and_json() {
        let item = Item::new(ItemKey::new("A", "B"), json!({"a": 1})).with_index(Index::Gsi2, "C", "D");
        // pk A + sk B + version 21 + body {"a":1} + gsi2pk C + gsi2sk D
        let expected = 2 + 1 + 2 + 1 + 7 + 21 + 4 + 7 + 6 + 1 + 6 + 1;
        assert_eq!(item.size_bytes(), expected);
    }

    #[test]
    fn oversized_item_is_refused_with_its_size() {
        let item = Item::new(ItemKey::new("p", "s"), json!({ "x": "y".repeat(MAX_ITEM_BYTES) }));
        match item.check() {
            Err(StoreError::ItemTooLarge { size, limit, .. }) => {
                assert!(size > limit);
                assert_eq!(limit, MAX_ITEM_BYTES);
            }
            other => panic!("expected ItemTooLarge, got {other:?}"),
        }
    }

    #[test]
    fn empty_keys_are_refused() {
        assert!(Item::new(ItemKey::new("", "s"), json!(null)).check().is_err());
        assert!(Item::new(ItemKey::new("p", ""), json!(null)).check().is_err());
        assert!(
            Item::new(ItemKey::new("p", "s"), json!(null)).with_index(Index::Gsi1, "", "x").check().is_err()
        );
    }

    #[test]
    fn transaction_rules() {
        let put = |pk: &str| TransactOp::Put(Item::new(ItemKey::new(pk, "s"), json!({})));
        assert!(check_transaction(&[]).is_err());
        assert!(check_transaction(&[put("a"), put("b")]).is_ok());
        assert!(check_transaction(&[put("a"), put("a")]).is_err());
        let many: Vec<_> = (0..=MAX_TRANSACT_OPS).map(|i| put(&i.to_string())).collect();
        assert!(check_transaction(&many).is_err());
    }

    #[test]
    fn condition_failed_names_the_op() {
        let err = StoreError::ConditionFailed { key: ItemKey::new("p", "s"), op: Some(2) };
        assert_eq!(err.to_string(), "condition failed on item (p, s) (transaction operation 2)");
        assert!(err.is_condition_failed());
        assert!(!err.is_retryable());
    }
}
