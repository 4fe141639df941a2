//! S3 → SQS notifications (moto_server): what the ingest function will receive, parsed by the
//! tolerant parser, and the object read back through the bucket port with the decoded key.

use std::time::Duration;

use ledgerpost_aws::{QUEUE_INGEST, S3Notification, parse_notification};
use ledgerpost_aws_tests::TestEnv;
use ledgerpost_ports::{Bucket, ObjectKey, Queue};

#[tokio::test(flavor = "multi_thread")]
async fn objects_created_under_inbox_reach_the_ingest_queue_with_their_keys() {
    // GIVEN the bucket notifies the ingest queue of every object created under inbox/
    let env = TestEnv::new("s3-notify").await;
    env.create_bucket().await;
    let (_, ingest_arn) = env.create_queue_with_dlq(&env.settings().ingest_queue, 5).await;
    env.notify_queue("inbox/", &ingest_arn).await;
    let bucket = env.clients.bucket();
    let queue = env.clients.queue();

    // WHEN a file with a space, a plus and an accent is dropped in the inbox, and one elsewhere
    let dropped = ObjectKey::parse("inbox/Invoice 2025+001 é.xml").unwrap();
    bucket.put(&dropped, b"<Invoice/>".to_vec(), "application/xml").await.unwrap();
    bucket
        .put(&ObjectKey::parse("archive/other.xml").unwrap(), b"<x/>".to_vec(), "application/xml")
        .await
        .unwrap();

    let mut messages = Vec::new();
    for _ in 0..10 {
        let batch = queue.receive(QUEUE_INGEST, 10, Duration::from_secs(30)).await.unwrap();
        if batch.is_empty() && messages.len() >= 2 {
            break;
        }
        messages.extend(batch);
    }

    // THEN the queue holds S3's test event and exactly one ObjectCreated event, for the inbox file
    let mut tests = 0;
    let mut created = Vec::new();
    for message in &messages {
        match parse_notification(&message.body).unwrap_or_else(|err| panic!("{err}: {}", message.body)) {
            S3Notification::Test { bucket } => {
                assert_eq!(bucket.as_deref(), Some(env.settings().bucket.as_str()));
                tests += 1;
            }
            S3Notification::Records(records) => created.extend(records),
        }
        queue.delete(QUEUE_INGEST, &message.receipt).await.unwrap();
    }
    assert_eq!(tests, 1, "{messages:?}");
    let [event] = created.as_slice() else { panic!("expected one event: {created:?}") };
    assert!(event.is_object_created(), "{event:?}");
    assert_eq!(event.bucket, env.settings().bucket);
    assert_eq!(event.size, Some(10));
    // The key arrived URL-encoded (spaces as '+'), and is decoded to the real key.
    let body_with_event = messages.iter().find(|m| m.body.contains("Records")).unwrap();
    assert!(body_with_event.body.contains("Invoice+2025%2B001+%C3%A9.xml"), "{}", body_with_event.body);
    assert_eq!(event.object_key().unwrap(), dropped);
    // The pipeline's own reading of ingest messages agrees on the emulator's real message.
    assert_eq!(
        ledgerpost_pipeline::messages::ingest_keys(&body_with_event.body).unwrap(),
        std::slice::from_ref(&dropped)
    );
    assert_eq!(bucket.get(&event.object_key().unwrap(), 1024).await.unwrap(), b"<Invoice/>");
}
