//! The pipeline over the AWS adapters, built once per process by each function binary: the SDK
//! clients come from [`AwsClients::from_env`] ([`start`]), the configuration from the bucket
//! ([`crate::startup`]), the lease from the table (the ports crate's `StoreLease`, the same logic
//! as on one machine).

use std::sync::Arc;

use ledgerpost_aws::{AwsClients, AwsSettings};
use ledgerpost_pipeline::{Pipeline, Ports, TokioSleeper};
use ledgerpost_ports::{Clock, Store, StoreLease, SystemClock};

use crate::startup::{self, StartupError};

/// What every function binary does once per process, outside the handler: the SDK clients from
/// the environment, then the configuration object, read and checked before the first event. A
/// wrong one stops the start with the field named, logged before the runtime reports it.
pub async fn start() -> Result<Pipeline, lambda_runtime::Error> {
    let refused = |e: &dyn std::fmt::Display| tracing::error!(error = %e, "start-up refused");
    let clients = AwsClients::from_env().await.inspect_err(|e| refused(e))?;
    Ok(pipeline(&clients).await.inspect_err(|e| refused(e))?)
}

/// Reads and checks the configuration object, then builds the pipeline on `clients`.
pub async fn pipeline(clients: &AwsClients) -> Result<Pipeline, StartupError> {
    let bucket = Arc::new(clients.bucket());
    let key = startup::config_key(|name| std::env::var(name).ok())?;
    let config = startup::load_config(bucket.as_ref(), &key).await?;
    startup::check_sender(&config, &key, AwsSettings::SENDER, clients.settings.sender.as_str())?;
    let store: Arc<dyn Store> = Arc::new(clients.store());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ports = Ports {
        bucket,
        queue: Arc::new(clients.queue()),
        lease: Arc::new(StoreLease::new(store.clone(), clock.clone())),
        store,
        mailer: Arc::new(clients.mailer()),
        clock,
        sleeper: Arc::new(TokioSleeper),
    };
    tracing::info!(
        config = %key,
        administrations = config.administrations.len(),
        bucket = %clients.settings.bucket,
        table = %clients.settings.table,
        "ready"
    );
    Ok(Pipeline::new(ports, Arc::new(config)))
}
