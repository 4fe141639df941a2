//! The match-lines function: messages of the match queue become matched purchase lines (partial
//! batch failure).
//! The handler is `ledgerpost_lambda::match_lines`; this file only wires it to the Lambda runtime.

use std::convert::Infallible;

use lambda_runtime::{LambdaEvent, service_fn};
use ledgerpost_lambda::SqsEvent;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ledgerpost_lambda::tune_allocator();
    ledgerpost_lambda::init_tracing();
    let pipeline = &ledgerpost_lambda::aws::start().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Infallible>(ledgerpost_lambda::match_lines(pipeline, event.payload).await)
    }))
    .await
}
