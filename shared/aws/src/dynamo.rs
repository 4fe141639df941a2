//! The store port on one DynamoDB table. What the items are is written down in
//! [`crate::key_design`]; this module is how the port's operations map onto DynamoDB.
//!
//! ## Attributes
//!
//! | attribute | type | holds |
//! | --- | --- | --- |
//! | `pk`, `sk` | S | the item key (table key schema: `pk` HASH, `sk` RANGE) |
//! | `version` | N | 1 on creation, +1 on every write; every write is conditional on it |
//! | `body` | S | the item's JSON as one string: the size is what `Item::size_bytes` counts, and numbers keep their exact text (DynamoDB's N type would not keep `1.50`) |
//! | `gsi1pk`/`gsi1sk` … `gsi3pk`/`gsi3sk` | S | index keys, present only when the item is in that index (sparse indexes `gsi1`, `gsi2`, `gsi3`, projection ALL) |
//!
//! ## Operations
//!
//! - `get`: GetItem with `ConsistentRead`.
//! - `put_if_absent`: PutItem with `attribute_not_exists(pk)`.
//! - `put_if_version`: PutItem (a whole replacement, so index keys that are gone disappear)
//!   with `version = :v`, writing `v + 1`. `delete_if_version`: DeleteItem with the same condition.
//! - `query`: Query on `pk` with `begins_with(sk, prefix)`, `ConsistentRead`;
//!   `query_index`: the same on an index (eventually consistent, as a GSI is).
//!   No Scan anywhere. The cursor is DynamoDB's `LastEvaluatedKey`, wrapped with the name of
//!   the table or index and the partition it belongs to, so a cursor of another query is refused.
//! - `transact`: TransactWriteItems; `Put`/`Update` are conditional Puts, `ConditionCheck` and
//!   `Delete` carry the same version condition. A `TransactionCanceledException` is read
//!   through its `CancellationReasons` (one per operation, in order) to name the failing
//!   operation. Each call carries a fresh `ClientRequestToken`, so the SDK's own retry of a
//!   transaction whose answer was lost is idempotent (DynamoDB answers the retry with the first
//!   outcome for 10 minutes) instead of failing on its own earlier write.
//!
//! A single PutItem has no such token: if its answer is lost and the SDK retries, the retry may
//! fail its condition against the write that did happen. Callers already treat
//! `ConditionFailed` as "re-read and decide", which resolves that case too.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use ledgerpost_ports::store::{check_key, check_transaction};
use ledgerpost_ports::{
    Body, Cursor, Expect, Index, IndexKey, IndexKeys, Item, ItemKey, KeyQuery, QueryPage, Store, StoreError,
    StoredItem, TransactOp,
};

use crate::error::{describe, is_transient};

const PK: &str = "pk";
const SK: &str = "sk";
const VERSION: &str = "version";
const BODY: &str = "body";

/// The condition that no item exists under the key.
const ABSENT: &str = "attribute_not_exists(#pk)";
/// The condition that the item exists with version `:v`.
const AT_VERSION: &str = "#v = :v";

type Attributes = HashMap<String, AttributeValue>;

/// One DynamoDB table as the store port.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore { client, table: table.into() }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    async fn run_query(&self, index: Option<Index>, query: &KeyQuery) -> Result<QueryPage, StoreError> {
        query.check()?;
        let source = index.map_or("table", Index::name);
        let (pk_attr, sk_attr) = index.map_or((PK, SK), Index::attributes);
        let start = query.after.as_ref().map(|cursor| decode_cursor(cursor, index, &query.pk)).transpose()?;
        let mut condition = "#pk = :pk".to_owned();
        let mut names = HashMap::from([("#pk".to_owned(), pk_attr.to_owned())]);
        let mut values = HashMap::from([(":pk".to_owned(), AttributeValue::S(query.pk.clone()))]);
        if !query.sk_prefix.is_empty() {
            condition.push_str(" AND begins_with(#sk, :prefix)");
            names.insert("#sk".to_owned(), sk_attr.to_owned());
            values.insert(":prefix".to_owned(), AttributeValue::S(query.sk_prefix.clone()));
        }
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(|index| index.name().to_owned()))
            .key_condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(!query.descending)
            .limit(i32::try_from(query.limit).unwrap_or(i32::MAX))
            .consistent_read(index.is_none())
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|err| sdk_error(format!("query {source} for {}", query.pk), err))?;
        let items = output.items().iter().map(stored_item).collect::<Result<Vec<_>, _>>()?;
        let next = match output.last_evaluated_key() {
            Some(key) if !key.is_empty() => Some(encode_cursor(source, &query.pk, key)?),
            _ => None,
        };
        Ok(QueryPage { items, next })
    }

    fn transact_item(&self, op: &TransactOp, position: usize) -> Result<TransactWriteItem, StoreError> {
        let build_failed = |err| StoreError::backend(format!("build transaction operation {position}"), err);
        let item = match op {
            TransactOp::Put(item) => TransactWriteItem::builder().put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item_attributes(item, 1)?))
                    .condition_expression(ABSENT)
                    .expression_attribute_names("#pk", PK)
                    .build()
                    .map_err(build_failed)?,
            ),
            TransactOp::Update { item, version } => {
                let Some(next) = version.checked_add(1) else {
                    return Err(StoreError::ConditionFailed { key: item.key.clone(), op: Some(position) });
                };
                TransactWriteItem::builder().put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item_attributes(item, next)?))
                        .condition_expression(AT_VERSION)
                        .expression_attribute_names("#v", VERSION)
                        .expression_attribute_values(":v", number(*version))
                        .build()
                        .map_err(build_failed)?,
                )
            }
            TransactOp::ConditionCheck { key, expect } => {
                let check =
                    ConditionCheck::builder().table_name(&self.table).set_key(Some(key_attributes(key)));
                let check = match expect {
                    Expect::Absent => {
                        check.condition_expression(ABSENT).expression_attribute_names("#pk", PK)
                    }
                    Expect::Version(version) => check
                        .condition_expression(AT_VERSION)
                        .expression_attribute_names("#v", VERSION)
                        .expression_attribute_values(":v", number(*version)),
                };
                TransactWriteItem::builder().condition_check(check.build().map_err(build_failed)?)
            }
            TransactOp::Delete { key, version } => TransactWriteItem::builder().delete(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attributes(key)))
                    .condition_expression(AT_VERSION)
                    .expression_attribute_names("#v", VERSION)
                    .expression_attribute_values(":v", number(*version))
                    .build()
                    .map_err(build_failed)?,
            ),
        };
        Ok(item.build())
    }
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn key_attributes(key: &ItemKey) -> Attributes {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

/// The attributes of `item` at `version`, after the checks every adapter makes.
fn item_attributes(item: &Item, version: u64) -> Result<Attributes, StoreError> {
    item.check()?;
    let mut attributes = key_attributes(&item.key);
    attributes.insert(VERSION.to_owned(), number(version));
    attributes.insert(BODY.to_owned(), AttributeValue::S(item.body.as_str().to_owned()));
    for (index, key) in item.indexes.iter() {
        let (pk_attr, sk_attr) = index.attributes();
        attributes.insert(pk_attr.to_owned(), AttributeValue::S(key.pk.clone()));
        attributes.insert(sk_attr.to_owned(), AttributeValue::S(key.sk.clone()));
    }
    Ok(attributes)
}

/// An item read back from DynamoDB.
fn stored_item(attributes: &Attributes) -> Result<StoredItem, StoreError> {
    let text = |name: &str| match attributes.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    };
    let unreadable = |what: String| StoreError::backend("read an item", what);
    let key = match (text(PK), text(SK)) {
        (Some(pk), Some(sk)) => ItemKey { pk, sk },
        _ => return Err(unreadable("an item without string pk and sk".to_owned())),
    };
    let version = match attributes.get(VERSION) {
        Some(AttributeValue::N(n)) => n.parse::<u64>().ok(),
        _ => None,
    }
    .ok_or_else(|| unreadable(format!("item {key} has no usable version")))?;
    let body = text(BODY).ok_or_else(|| unreadable(format!("item {key} has no string body")))?;
    let body = Body::from_stored(body);
    let mut indexes = IndexKeys::default();
    for index in Index::ALL {
        let (pk_attr, sk_attr) = index.attributes();
        if let (Some(pk), Some(sk)) = (text(pk_attr), text(sk_attr)) {
            indexes.set(index, Some(IndexKey { pk, sk }));
        }
    }
    Ok(StoredItem { item: Item { key, body, indexes }, version })
}

/// A cursor: the `LastEvaluatedKey` with the table or index and the partition it belongs to.
#[derive(serde::Serialize, serde::Deserialize)]
struct CursorData {
    source: String,
    pk: String,
    after: HashMap<String, String>,
}

fn encode_cursor(source: &str, pk: &str, last: &Attributes) -> Result<Cursor, StoreError> {
    let mut after = HashMap::with_capacity(last.len());
    for (name, value) in last {
        let AttributeValue::S(value) = value else {
            return Err(StoreError::backend("page a query", format!("key attribute {name} is not a string")));
        };
        after.insert(name.clone(), value.clone());
    }
    let data = CursorData { source: source.to_owned(), pk: pk.to_owned(), after };
    let text = serde_json::to_string(&data).map_err(|err| StoreError::backend("page a query", err))?;
    Ok(Cursor::new(text))
}

/// The `ExclusiveStartKey` of a cursor, refused unless it comes from a query of the same table
/// or index and partition.
fn decode_cursor(cursor: &Cursor, index: Option<Index>, pk: &str) -> Result<Attributes, StoreError> {
    let source = index.map_or("table", Index::name);
    let refused =
        || StoreError::invalid(format!("the cursor does not belong to a query of {source} for {pk}"));
    let data: CursorData = serde_json::from_str(cursor.as_str()).map_err(|_| refused())?;
    if data.source != source || data.pk != pk {
        return Err(refused());
    }
    let mut expected = vec![PK, SK];
    if let Some(index) = index {
        let (pk_attr, sk_attr) = index.attributes();
        expected.extend([pk_attr, sk_attr]);
    }
    if data.after.len() != expected.len() || !expected.iter().all(|name| data.after.contains_key(*name)) {
        return Err(refused());
    }
    Ok(data.after.into_iter().map(|(name, value)| (name, AttributeValue::S(value))).collect())
}

/// A fresh idempotency token for one TransactWriteItems call (at most 36 characters).
fn request_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut halves = [0u64; 2];
    for (i, half) in halves.iter_mut().enumerate() {
        // RandomState is seeded from the operating system's randomness.
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(count);
        hasher.write_u128(nanos);
        hasher.write_usize(i);
        hasher.write_u32(std::process::id());
        *half = hasher.finish();
    }
    format!("{:016x}{:016x}", halves[0], halves[1])
}

fn sdk_error<E>(context: String, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let context = format!("{context}: {}", describe(&err));
    if err.code() == Some("TransactionConflictException") {
        StoreError::Conflict { context, source: Some(Box::new(err)) }
    } else if is_transient(&err) {
        StoreError::unavailable(context, err)
    } else {
        StoreError::backend(context, err)
    }
}

/// Maps the error of a single conditional write.
fn write_error<E>(key: &ItemKey, what: &str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if err.code() == Some("ConditionalCheckFailedException") {
        StoreError::ConditionFailed { key: key.clone(), op: None }
    } else {
        sdk_error(format!("{what} {key}"), err)
    }
}

/// Maps the error of a transaction, naming the failing operation from the cancellation reasons.
fn transact_error(ops: &[TransactOp], err: SdkError<TransactWriteItemsError, HttpResponse>) -> StoreError {
    let Some(TransactWriteItemsError::TransactionCanceledException(canceled)) = err.as_service_error() else {
        return sdk_error(format!("transaction of {} operations", ops.len()), err);
    };
    let codes: Vec<Option<&str>> =
        canceled.cancellation_reasons().iter().map(|reason| reason.code()).collect();
    if let Some(position) = codes.iter().position(|code| *code == Some("ConditionalCheckFailed"))
        && let Some(op) = ops.get(position)
    {
        return StoreError::ConditionFailed { key: op.key().clone(), op: Some(position) };
    }
    let has = |wanted: &[&str]| codes.iter().flatten().any(|code| wanted.contains(code));
    let context = format!("transaction of {} operations cancelled: {codes:?}", ops.len());
    if has(&["TransactionConflict"]) {
        StoreError::Conflict { context, source: Some(Box::new(err)) }
    } else if has(&["ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"]) {
        StoreError::unavailable(context, err)
    } else {
        StoreError::backend(context, err)
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, key: &ItemKey) -> Result<Option<StoredItem>, StoreError> {
        check_key(key)?;
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| sdk_error(format!("get {key}"), err))?;
        output.item().map(stored_item).transpose()
    }

    async fn put_if_absent(&self, item: Item) -> Result<u64, StoreError> {
        let attributes = item_attributes(&item, 1)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(attributes))
            .condition_expression(ABSENT)
            .expression_attribute_names("#pk", PK)
            .send()
            .await
            .map_err(|err| write_error(&item.key, "put", err))?;
        Ok(1)
    }

    async fn put_if_version(&self, item: Item, version: u64) -> Result<u64, StoreError> {
        let Some(next) = version.checked_add(1) else {
            item.check()?;
            return Err(StoreError::ConditionFailed { key: item.key, op: None });
        };
        let attributes = item_attributes(&item, next)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(attributes))
            .condition_expression(AT_VERSION)
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_values(":v", number(version))
            .send()
            .await
            .map_err(|err| write_error(&item.key, "update", err))?;
        Ok(next)
    }

    async fn delete_if_version(&self, key: &ItemKey, version: u64) -> Result<(), StoreError> {
        check_key(key)?;
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .condition_expression(AT_VERSION)
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_values(":v", number(version))
            .send()
            .await
            .map_err(|err| write_error(key, "delete", err))?;
        Ok(())
    }

    async fn query(&self, query: &KeyQuery) -> Result<QueryPage, StoreError> {
        self.run_query(None, query).await
    }

    async fn query_index(&self, index: Index, query: &KeyQuery) -> Result<QueryPage, StoreError> {
        self.run_query(Some(index), query).await
    }

    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        check_transaction(&ops)?;
        let items =
            ops.iter().enumerate().map(|(i, op)| self.transact_item(op, i)).collect::<Result<Vec<_>, _>>()?;
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(request_token())
            .send()
            .await
            .map_err(|err| transact_error(&ops, err))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn items_round_trip_through_attributes() {
        let item =
            Item::new(ItemKey::new("INV#1", "META"), json!({"total": "1.50", "n": 0.1, "lines": [1, 2]}))
                .with_index(Index::Gsi2, "ADM#A#SUP#9", "2025-03-01");
        let attributes = item_attributes(&item, 7).unwrap();
        assert_eq!(attributes.get("version"), Some(&AttributeValue::N("7".into())));
        assert_eq!(
            attributes.get("body"),
            Some(&AttributeValue::S(r#"{"lines":[1,2],"n":0.1,"total":"1.50"}"#.into()))
        );
        assert!(!attributes.contains_key("gsi1pk"));
        let stored = stored_item(&attributes).unwrap();
        assert_eq!((stored.item, stored.version), (item, 7));
    }

    #[test]
    fn unreadable_items_are_backend_errors() {
        let mut attributes = key_attributes(&ItemKey::new("p", "s"));
        attributes.insert("version".into(), AttributeValue::N("1".into()));
        // The body is the caller's to read: it comes back as stored, and reading it says why not.
        attributes.insert("body".into(), AttributeValue::S("{not json".into()));
        let stored = stored_item(&attributes).unwrap();
        assert_eq!(stored.item.body.as_str(), "{not json");
        assert!(stored.item.body.read::<serde_json::Value>().is_err());
        attributes.remove("body");
        assert!(matches!(stored_item(&attributes), Err(StoreError::Backend { .. })));
        attributes.insert("body".into(), AttributeValue::S("{}".into()));
        attributes.insert("version".into(), AttributeValue::S("1".into()));
        assert!(matches!(stored_item(&attributes), Err(StoreError::Backend { .. })));
    }

    #[test]
    fn cursors_belong_to_their_query() {
        let last = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("GR#1".into())),
            ("sk".to_owned(), AttributeValue::S("META".into())),
            ("gsi1pk".to_owned(), AttributeValue::S("ADM#A".into())),
            ("gsi1sk".to_owned(), AttributeValue::S("PO#100#1".into())),
        ]);
        let cursor = encode_cursor("gsi1", "ADM#A", &last).unwrap();
        assert_eq!(decode_cursor(&cursor, Some(Index::Gsi1), "ADM#A").unwrap(), last);
        assert!(decode_cursor(&cursor, Some(Index::Gsi1), "ADM#B").is_err());
        assert!(decode_cursor(&cursor, Some(Index::Gsi2), "ADM#A").is_err());
        assert!(decode_cursor(&cursor, None, "ADM#A").is_err());
        assert!(decode_cursor(&Cursor::new("{not json"), None, "ADM#A").is_err());
        let table =
            encode_cursor("table", "ADM#A", &HashMap::from([("pk".into(), AttributeValue::S("x".into()))]));
        assert!(decode_cursor(&table.unwrap(), None, "ADM#A").is_err(), "a key without sk is refused");
    }

    #[test]
    fn request_tokens_are_unique_and_short() {
        let tokens: std::collections::HashSet<String> = (0..1000).map(|_| request_token()).collect();
        assert_eq!(tokens.len(), 1000);
        assert!(tokens.iter().all(|t| t.len() <= 36));
    }
}
