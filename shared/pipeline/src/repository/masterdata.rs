//! Master data in the store: goods-receipt lines, obligations, text rules and UBL orders.
//!
//! The domain's [`MasterData`] lookups are synchronous (matching is pure computation), while the
//! store is async. So the match stage first loads, with the two index queries the design names,
//! everything one invoice can match against into a [`MasterDataSnapshot`]: the receipt lines and
//! obligations of (administration, order reference) from `gsi1`, and the text rules of
//! (administration, supplier) from `gsi2`. The snapshot implements [`MasterData`] and refuses a
//! lookup it was not loaded for, so matching can never silently see "no candidates" for a key
//! nobody read.
//!
//! Consumption is applied by the journal stage in its transaction, conditional on the versions of
//! the receipt and obligation items read just before (see `crate::journal`).

use chrono::NaiveDate;
use ledgerpost_domain::fold::fold;
use ledgerpost_domain::ids::{AdministrationId, SupplierKey};
use ledgerpost_domain::masterdata::{
    GoodsReceipt, MasterData, MasterDataError, Obligation, ObligationKey, ReceiptKey, TextRule,
};
use ledgerpost_ports::{Index, Item, ItemKey, TransactOp};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::records::{order_index_pk, supplier_index_pk};
use super::{Repository, Versioned, esc, from_body, to_body, versioned};
use crate::error::StageError;

/// The store keys and items of master data.
pub struct StoreMasterData;

impl StoreMasterData {
    pub fn receipt_key(key: &ReceiptKey) -> ItemKey {
        ItemKey::new(
            format!("RECEIPT#{}#{}#{}", key.administration, esc(&key.order_number), esc(&key.line_id)),
            "RECEIPT",
        )
    }

    pub fn obligation_key(key: &ObligationKey) -> ItemKey {
        ItemKey::new(
            format!(
                "OBLIGATION#{}#{}#{}",
                key.administration,
                esc(&key.reference),
                esc(key.supplier.as_str())
            ),
            "OBLIGATION",
        )
    }

    /// Rule keys use a hash of the folded search text, which may be long.
    fn rule_hash(rule: &TextRule) -> String {
        let digest = Sha256::digest(fold(&rule.search_text).as_bytes());
        digest[..12].iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn rule_key(rule: &TextRule) -> ItemKey {
        ItemKey::new(
            format!("RULE#{}#{}#{}", rule.administration, esc(rule.supplier.as_str()), Self::rule_hash(rule)),
            "RULE",
        )
    }

    pub fn order_key(administration: &AdministrationId, order: &str) -> ItemKey {
        ItemKey::new(format!("ORDER#{administration}#{}", esc(order)), "ORDER")
    }

    pub fn receipt_item(receipt: &GoodsReceipt) -> Result<Item, StageError> {
        Ok(Item::new(Self::receipt_key(&receipt.key()), to_body(receipt)?).with_index(
            Index::Gsi1,
            order_index_pk(&receipt.administration, &receipt.order_number),
            format!("RECEIPT#{}", esc(&receipt.line_id)),
        ))
    }

    pub fn obligation_item(obligation: &Obligation) -> Result<Item, StageError> {
        Ok(Item::new(Self::obligation_key(&obligation.key()), to_body(obligation)?)
            .with_index(
                Index::Gsi1,
                order_index_pk(&obligation.administration, &obligation.reference),
                format!("OBLIGATION#{}", esc(obligation.supplier.as_str())),
            )
            .with_index(
                Index::Gsi2,
                supplier_index_pk(&obligation.administration, &obligation.supplier),
                format!("OBLIGATION#{}", esc(&obligation.reference)),
            ))
    }

    pub fn rule_item(rule: &TextRule) -> Result<Item, StageError> {
        Ok(Item::new(Self::rule_key(rule), to_body(rule)?).with_index(
            Index::Gsi2,
            supplier_index_pk(&rule.administration, &rule.supplier),
            format!("RULE#{}", Self::rule_hash(rule)),
        ))
    }
}

/// A UBL Order as kept for pricing the receipt advices that refer to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredOrder {
    pub administration: AdministrationId,
    pub order_number: String,
    pub supplier: SupplierKey,
    pub issue_date: NaiveDate,
    pub lines: Vec<OrderLinePrice>,
}

/// An order line: its id, item ids, quantity and value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLinePrice {
    pub line_id: String,
    pub sellers_item_id: Option<String>,
    pub buyers_item_id: Option<String>,
    pub standard_item_id: Option<String>,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub amount: Decimal,
}

/// Everything one invoice can be matched against, loaded with one query per index.
#[derive(Debug, Clone, Default)]
pub struct MasterDataSnapshot {
    administration: Option<AdministrationId>,
    order: Option<String>,
    receipts: Vec<GoodsReceipt>,
    obligations: Vec<Obligation>,
    supplier: Option<SupplierKey>,
    rules: Vec<TextRule>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}: this lookup was not loaded for the invoice being matched")]
struct NotLoaded(String);

impl MasterDataSnapshot {
    fn refuse(what: String) -> MasterDataError {
        MasterDataError { source: Box::new(NotLoaded(what)) }
    }
}

impl MasterData for MasterDataSnapshot {
    fn receipts_for_order(
        &self,
        administration: &AdministrationId,
        order_number: &str,
    ) -> Result<Vec<GoodsReceipt>, MasterDataError> {
        if self.administration.as_ref() != Some(administration) || self.order.as_deref() != Some(order_number)
        {
            return Err(Self::refuse(format!("receipts of order {order_number}")));
        }
        Ok(self.receipts.clone())
    }

    fn obligations_for_reference(
        &self,
        administration: &AdministrationId,
        reference: &str,
    ) -> Result<Vec<Obligation>, MasterDataError> {
        if self.administration.as_ref() != Some(administration) || self.order.as_deref() != Some(reference) {
            return Err(Self::refuse(format!("obligations of reference {reference}")));
        }
        Ok(self.obligations.clone())
    }

    fn rules_for_supplier(
        &self,
        administration: &AdministrationId,
        supplier: &SupplierKey,
    ) -> Result<Vec<TextRule>, MasterDataError> {
        if self.administration.as_ref() != Some(administration) || self.supplier.as_ref() != Some(supplier) {
            return Err(Self::refuse(format!("rules of supplier {supplier}")));
        }
        Ok(self.rules.clone())
    }
}

/// How an import treats a key that already exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCounts {
    pub created: usize,
    pub updated: usize,
}

impl Repository {
    /// Loads the candidates for one invoice: `gsi1` on (administration, order reference) when
    /// there is one, `gsi2` on (administration, supplier).
    pub async fn master_data_for(
        &self,
        administration: &AdministrationId,
        order_reference: Option<&str>,
        supplier: &SupplierKey,
    ) -> Result<MasterDataSnapshot, StageError> {
        let mut snapshot = MasterDataSnapshot {
            administration: Some(administration.clone()),
            order: order_reference.map(str::to_owned),
            supplier: Some(supplier.clone()),
            ..MasterDataSnapshot::default()
        };
        if let Some(order) = order_reference {
            for item in self.query_index_all(Index::Gsi1, &order_index_pk(administration, order), "").await? {
                let sk = item.item.indexes.gsi1.as_ref().map(|k| k.sk.as_str()).unwrap_or_default();
                if sk.starts_with("RECEIPT#") {
                    snapshot.receipts.push(from_body(&item)?);
                } else if sk.starts_with("OBLIGATION#") {
                    snapshot.obligations.push(from_body(&item)?);
                }
            }
        }
        for item in
            self.query_index_all(Index::Gsi2, &supplier_index_pk(administration, supplier), "RULE#").await?
        {
            snapshot.rules.push(from_body(&item)?);
        }
        Ok(snapshot)
    }

    pub async fn receipt(&self, key: &ReceiptKey) -> Result<Option<Versioned<GoodsReceipt>>, StageError> {
        self.get(&StoreMasterData::receipt_key(key)).await
    }

    pub async fn obligation(&self, key: &ObligationKey) -> Result<Option<Versioned<Obligation>>, StageError> {
        self.get(&StoreMasterData::obligation_key(key)).await
    }

    pub async fn order(
        &self,
        administration: &AdministrationId,
        order: &str,
    ) -> Result<Option<Versioned<StoredOrder>>, StageError> {
        self.get(&StoreMasterData::order_key(administration, order)).await
    }

    /// The text rules of a supplier.
    pub async fn rules_for(
        &self,
        administration: &AdministrationId,
        supplier: &SupplierKey,
    ) -> Result<Vec<TextRule>, StageError> {
        let items =
            self.query_index_all(Index::Gsi2, &supplier_index_pk(administration, supplier), "RULE#").await?;
        items.iter().map(from_body).collect()
    }

    /// Creates or replaces receipt lines. A receipt line already known keeps its invoiced
    /// quantity (what ledgerpost has journaled against it), whatever the file says.
    pub async fn import_receipts(&self, receipts: &[GoodsReceipt]) -> Result<ImportCounts, StageError> {
        let mut counts = ImportCounts::default();
        for receipt in receipts {
            let key = StoreMasterData::receipt_key(&receipt.key());
            let current: Option<Versioned<GoodsReceipt>> = self.get(&key).await?;
            match current {
                None => {
                    self.store.put_if_absent(StoreMasterData::receipt_item(receipt)?).await?;
                    counts.created += 1;
                }
                Some(current) => {
                    let mut next = receipt.clone();
                    next.quantity_invoiced = current.value.quantity_invoiced;
                    self.store.put_if_version(StoreMasterData::receipt_item(&next)?, current.version).await?;
                    counts.updated += 1;
                }
            }
        }
        Ok(counts)
    }

    /// Creates or replaces obligations. One already known keeps what has been consumed of it:
    /// its open balance becomes the file's amount less what was consumed.
    pub async fn import_obligations(&self, obligations: &[Obligation]) -> Result<ImportCounts, StageError> {
        let mut counts = ImportCounts::default();
        for obligation in obligations {
            let key = StoreMasterData::obligation_key(&obligation.key());
            let current: Option<Versioned<Obligation>> = self.get(&key).await?;
            match current {
                None => {
                    self.store.put_if_absent(StoreMasterData::obligation_item(obligation)?).await?;
                    counts.created += 1;
                }
                Some(current) => {
                    let consumed = current.value.amount - current.value.open_balance;
                    let mut next = obligation.clone();
                    next.open_balance = obligation.amount - consumed;
                    self.store
                        .put_if_version(StoreMasterData::obligation_item(&next)?, current.version)
                        .await?;
                    counts.updated += 1;
                }
            }
        }
        Ok(counts)
    }

    /// Creates or replaces text rules (same supplier and folded search text: replaced).
    pub async fn import_rules(&self, rules: &[TextRule]) -> Result<ImportCounts, StageError> {
        let mut counts = ImportCounts::default();
        for rule in rules {
            let key = StoreMasterData::rule_key(rule);
            let current = self.store.get(&key).await?;
            match current {
                None => {
                    self.store.put_if_absent(StoreMasterData::rule_item(rule)?).await?;
                    counts.created += 1;
                }
                Some(current) => {
                    self.store.put_if_version(StoreMasterData::rule_item(rule)?, current.version).await?;
                    counts.updated += 1;
                }
            }
        }
        Ok(counts)
    }

    /// The operation that writes a receipt line at `version` (or creates it when `None`).
    pub fn receipt_op(receipt: &GoodsReceipt, version: Option<u64>) -> Result<TransactOp, StageError> {
        let item = StoreMasterData::receipt_item(receipt)?;
        Ok(match version {
            None => TransactOp::Put(item),
            Some(version) => TransactOp::Update { item, version },
        })
    }

    pub fn obligation_op(obligation: &Obligation, version: Option<u64>) -> Result<TransactOp, StageError> {
        let item = StoreMasterData::obligation_item(obligation)?;
        Ok(match version {
            None => TransactOp::Put(item),
            Some(version) => TransactOp::Update { item, version },
        })
    }

    pub fn order_op(order: &StoredOrder, version: Option<u64>) -> Result<TransactOp, StageError> {
        let item = Item::new(
            StoreMasterData::order_key(&order.administration, &order.order_number),
            to_body(order)?,
        );
        Ok(match version {
            None => TransactOp::Put(item),
            Some(version) => TransactOp::Update { item, version },
        })
    }

    /// Receipt lines of an order, straight from the index (for the status of an order).
    pub async fn receipts_of_order(
        &self,
        administration: &AdministrationId,
        order: &str,
    ) -> Result<Vec<Versioned<GoodsReceipt>>, StageError> {
        let items =
            self.query_index_all(Index::Gsi1, &order_index_pk(administration, order), "RECEIPT#").await?;
        items.iter().map(versioned).collect()
    }
}
