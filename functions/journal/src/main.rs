//! The journal function: messages of the journal queue become journal entries (partial batch
//! failure).
//! The handler is `ledgerpost_lambda::journal`; this file only wires it to the Lambda runtime.

use std::convert::Infallible;

use lambda_runtime::{LambdaEvent, service_fn};
use ledgerpost_aws::AwsClients;
use ledgerpost_lambda::SqsEvent;

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
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Infallible>(ledgerpost_lambda::journal(pipeline, event.payload).await)
    }))
    .await
}
