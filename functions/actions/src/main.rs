//! The actions function: a manual action payload (`{"action": …}`) gives its typed result or
//! typed error.
//! The handler is `ledgerpost_lambda::actions`; this file only wires it to the Lambda runtime.

use lambda_runtime::{LambdaEvent, service_fn};
use ledgerpost_aws::AwsClients;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ledgerpost_lambda::init_tracing();
    // Once per process, outside the handler: the SDK clients, then the configuration object,
    // read and checked before the first event (a wrong one stops the start, with the field named).
    let clients =
        AwsClients::from_env().await.inspect_err(|e| tracing::error!(error = %e, "start-up refused"))?;
    let pipeline = ledgerpost_lambda::aws::pipeline(&clients)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "start-up refused"))?;
    let pipeline = &pipeline;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        ledgerpost_lambda::actions(pipeline, event.payload).await
    }))
    .await
}
