//! The actions function: a manual action payload (`{"action": …}`) gives its typed result or
//! typed error.
//! The handler is `ledgerpost_lambda::actions`; this file only wires it to the Lambda runtime.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ledgerpost_lambda::tune_allocator();
    ledgerpost_lambda::init_tracing();
    let pipeline = &ledgerpost_lambda::aws::start().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        ledgerpost_lambda::actions(pipeline, event.payload).await
    }))
    .await
}
