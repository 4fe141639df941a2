//! The lease port: a named lock that expires, so that runs never overlap (a scheduled
//! send-batch and a manual one cannot both send) and a crashed holder does not block forever.
//!
//! [`StoreLease`] implements it on any [`Store`] with the store's conditional writes, so both
//! backends get the same logic: the lease is one item, `pk = "LEASE#<name>"`, `sk = "LEASE"`,
//! with body `{"owner": …, "until": …}`. Acquiring writes it conditionally on the version read
//! (or on its absence); two contenders cannot both win. Releasing keeps the item and sets
//! `until` to now, so the version, which doubles as a fencing token, only ever grows.
//!
//! Expiry is judged with the contender's clock: holders renew well before `until`, and the TTL
//! is chosen far larger than any clock skew between machines.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use crate::clock::Clock;
use crate::store::{Item, ItemKey, Store, StoreError, StoredItem};
use crate::{BoxError, Retryable};

/// A lease held: what [`Lease::acquire`] and [`Lease::renew`] return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseGrant {
    pub name: String,
    pub owner: String,
    /// The lease is the holder's until then, unless renewed.
    pub until: DateTime<Utc>,
    /// Grows with every acquisition and renewal (the lease item's version); a write made under
    /// the lease can carry it so that a holder that lost the lease is recognised.
    pub token: u64,
}

/// Named, expiring, exclusive leases.
#[async_trait]
pub trait Lease: Send + Sync {
    /// Takes the lease for `ttl`, or fails with [`LeaseError::Held`] while another owner holds
    /// an unexpired one. The same owner acquiring again takes it over (a retried invocation).
    async fn acquire(&self, name: &str, owner: &str, ttl: Duration) -> Result<LeaseGrant, LeaseError>;

    /// Extends a lease still held to now + `ttl`; [`LeaseError::Lost`] if someone else took it.
    async fn renew(&self, lease: &LeaseGrant, ttl: Duration) -> Result<LeaseGrant, LeaseError>;

    /// Gives the lease up at once; [`LeaseError::Lost`] if someone else took it meanwhile.
    async fn release(&self, lease: LeaseGrant) -> Result<(), LeaseError>;
}

/// Why a lease operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("lease {name:?} is held by {by:?} until {until}")]
    Held { name: String, by: String, until: DateTime<Utc> },

    /// The lease expired and another owner took it; whatever ran under it must stop.
    #[error("lease {name:?} was lost to another owner")]
    Lost { name: String },

    #[error("invalid lease request: {reason}")]
    InvalidRequest { reason: String },

    #[error("lease store failed")]
    Store(#[from] StoreError),
}

impl Retryable for LeaseError {
    fn is_retryable(&self) -> bool {
        match self {
            LeaseError::Store(err) => err.is_retryable(),
            _ => false,
        }
    }
}

/// A [`Lease`] kept as items of a [`Store`] (SQLite locally, DynamoDB on AWS).
#[derive(Clone)]
pub struct StoreLease {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

/// How many times `acquire` re-reads after losing a race before giving up with a conflict.
const ACQUIRE_ATTEMPTS: usize = 3;

impl StoreLease {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        StoreLease { store, clock }
    }

    /// The store key of the lease called `name`.
    pub fn key(name: &str) -> ItemKey {
        ItemKey::new(format!("LEASE#{name}"), "LEASE")
    }

    fn item(name: &str, owner: &str, until: DateTime<Utc>) -> Item {
        Item::new(Self::key(name), json!({ "owner": owner, "until": until }))
    }

    fn until(&self, ttl: Duration) -> Result<DateTime<Utc>, LeaseError> {
        let invalid =
            || LeaseError::InvalidRequest { reason: format!("a lease TTL of {ttl:?} is out of range") };
        let ttl = TimeDelta::from_std(ttl).map_err(|_| invalid())?;
        if ttl <= TimeDelta::zero() {
            return Err(invalid());
        }
        self.clock.now().checked_add_signed(ttl).ok_or_else(invalid)
    }
}

/// The holder and expiry stored in a lease item.
#[derive(serde::Deserialize)]
struct LeaseBody {
    owner: String,
    until: DateTime<Utc>,
}

fn read_body(stored: &StoredItem) -> Result<LeaseBody, LeaseError> {
    stored.item.body.read().map_err(|err| {
        let source: BoxError = Box::new(err);
        LeaseError::Store(StoreError::Backend {
            context: format!("lease item {} is unreadable", stored.item.key),
            source,
        })
    })
}

#[async_trait]
impl Lease for StoreLease {
    async fn acquire(&self, name: &str, owner: &str, ttl: Duration) -> Result<LeaseGrant, LeaseError> {
        if name.is_empty() || owner.is_empty() {
            return Err(LeaseError::InvalidRequest { reason: "a lease needs a name and an owner".into() });
        }
        let key = Self::key(name);
        for _ in 0..ACQUIRE_ATTEMPTS {
            let until = self.until(ttl)?;
            let item = Self::item(name, owner, until);
            let written = match self.store.get(&key).await? {
                None => self.store.put_if_absent(item).await,
                Some(current) => {
                    let held = read_body(&current)?;
                    if held.owner != owner && held.until > self.clock.now() {
                        return Err(LeaseError::Held {
                            name: name.to_owned(),
                            by: held.owner,
                            until: held.until,
                        });
                    }
                    self.store.put_if_version(item, current.version).await
                }
            };
            match written {
                Ok(token) => {
                    return Ok(LeaseGrant { name: name.to_owned(), owner: owner.to_owned(), until, token });
                }
                // Another contender wrote between our read and our write: read again.
                Err(err) if err.is_condition_failed() => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(LeaseError::Store(StoreError::Conflict {
            context: format!("lease {name:?} kept changing while being acquired"),
            source: None,
        }))
    }

    async fn renew(&self, lease: &LeaseGrant, ttl: Duration) -> Result<LeaseGrant, LeaseError> {
        let until = self.until(ttl)?;
        let item = Self::item(&lease.name, &lease.owner, until);
        match self.store.put_if_version(item, lease.token).await {
            Ok(token) => Ok(LeaseGrant { until, token, ..lease.clone() }),
            Err(err) if err.is_condition_failed() => Err(LeaseError::Lost { name: lease.name.clone() }),
            Err(err) => Err(err.into()),
        }
    }

    async fn release(&self, lease: LeaseGrant) -> Result<(), LeaseError> {
        let item = Self::item(&lease.name, &lease.owner, self.clock.now());
        match self.store.put_if_version(item, lease.token).await {
            Ok(_) => Ok(()),
            Err(err) if err.is_condition_failed() => Err(LeaseError::Lost { name: lease.name }),
            Err(err) => Err(err.into()),
        }
    }
}
