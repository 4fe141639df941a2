//! The bucket port on S3 (moto_server), mirroring the folder adapter's tests.

use ledgerpost_aws_tests::TestEnv;
use ledgerpost_ports::{Bucket, BucketError, ObjectKey};

fn key(text: &str) -> ObjectKey {
    ObjectKey::parse(text).unwrap()
}

async fn bucket_env(tag: &str) -> (TestEnv, ledgerpost_aws::S3Bucket) {
    let env = TestEnv::new(tag).await;
    env.create_bucket().await;
    let bucket = env.clients.bucket();
    (env, bucket)
}

#[tokio::test(flavor = "multi_thread")]
async fn put_get_head_delete() {
    let (_env, bucket) = bucket_env("s3-basic").await;
    let k = key("inbox/2024/x.xml");
    bucket.put(&k, b"<Invoice/>".to_vec(), "application/xml").await.unwrap();
    assert_eq!(bucket.get(&k, 100).await.unwrap(), b"<Invoice/>");
    let meta = bucket.head(&k).await.unwrap().unwrap();
    assert_eq!((meta.size, meta.content_type.as_deref()), (10, Some("application/xml")));
    assert!(meta.last_modified.is_some());
    assert_eq!(bucket.size(&k).await.unwrap(), Some(10));
    // Overwrite replaces the whole object.
    bucket.put(&k, b"<x/>".to_vec(), "application/xml").await.unwrap();
    assert_eq!(bucket.get(&k, 100).await.unwrap(), b"<x/>");
    bucket.delete(&k).await.unwrap();
    assert!(bucket.head(&k).await.unwrap().is_none());
    assert!(matches!(bucket.get(&k, 100).await, Err(BucketError::NotFound { .. })));
    // Deleting again is fine, as on S3.
    bucket.delete(&k).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn size_cap_refuses_before_reading() {
    let (_env, bucket) = bucket_env("s3-cap").await;
    let k = key("inbox/huge.xml");
    bucket.put(&k, vec![b'x'; 1001], "application/xml").await.unwrap();
    match bucket.get(&k, 1000).await {
        Err(BucketError::TooLarge { size, limit, .. }) => assert_eq!((size, limit), (1001, 1000)),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(bucket.get(&k, 1001).await.unwrap().len(), 1001);
    // A large object is refused on its headers alone, not after a download.
    let big = key("inbox/big.xml");
    bucket.put(&big, vec![b'y'; 8 * 1024 * 1024], "application/xml").await.unwrap();
    let started = std::time::Instant::now();
    assert!(matches!(bucket.get(&big, 1024).await, Err(BucketError::TooLarge { size: 8_388_608, .. })));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread")]
async fn move_copies_then_deletes_and_keeps_the_bytes() {
    let (_env, bucket) = bucket_env("s3-move").await;
    // A key with a space, a plus and a non-ASCII letter: the copy source must be encoded.
    let from = key("inbox/bad file+1 é.xml");
    let to = key("rejected/bad file+1 é.xml");
    bucket.put(&from, b"not ubl".to_vec(), "application/xml").await.unwrap();
    bucket.move_object(&from, &to).await.unwrap();
    assert!(bucket.head(&from).await.unwrap().is_none());
    assert_eq!(bucket.get(&to, 100).await.unwrap(), b"not ubl");
    assert_eq!(bucket.head(&to).await.unwrap().unwrap().content_type.as_deref(), Some("application/xml"));
    // Moving what is not there says so.
    assert!(matches!(bucket.move_object(&from, &to).await, Err(BucketError::NotFound { .. })));
    // A move onto an existing key replaces it; a move onto itself keeps it.
    bucket.put(&from, b"second".to_vec(), "application/xml").await.unwrap();
    bucket.move_object(&from, &to).await.unwrap();
    assert_eq!(bucket.get(&to, 100).await.unwrap(), b"second");
    bucket.move_object(&to, &to).await.unwrap();
    assert_eq!(bucket.get(&to, 100).await.unwrap(), b"second");
}

#[tokio::test(flavor = "multi_thread")]
async fn list_by_prefix_in_pages() {
    let (_env, bucket) = bucket_env("s3-list").await;
    for name in
        ["inbox/c.xml", "inbox/a.xml", "inbox/b.xml", "inbox/sub/d.xml", "invoices/x", "rejected/a.xml"]
    {
        bucket.put(&key(name), b"x".to_vec(), "text/plain").await.unwrap();
    }
    let mut keys = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = bucket.list("inbox/", after.as_ref(), 2).await.unwrap();
        pages += 1;
        assert!(page.objects.len() <= 2);
        assert!(page.objects.iter().all(|meta| meta.size == 1));
        keys.extend(page.objects.into_iter().map(|meta| meta.key.into_string()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(keys, ["inbox/a.xml", "inbox/b.xml", "inbox/c.xml", "inbox/sub/d.xml"]);
    assert_eq!(pages, 2);
    // A prefix is text, not a folder.
    assert_eq!(bucket.list("in", None, 100).await.unwrap().objects.len(), 5);
    assert_eq!(bucket.list("inbox/s", None, 100).await.unwrap().objects.len(), 1);
    assert_eq!(bucket.list("", None, 100).await.unwrap().objects.len(), 6);
    assert!(bucket.list("nothing/", None, 10).await.unwrap().objects.is_empty());
    assert!(matches!(bucket.list("../", None, 10).await, Err(BucketError::InvalidKey(_))));
    assert!(matches!(bucket.list("inbox/", None, 0).await, Err(BucketError::InvalidKey(_))));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_bucket_is_a_backend_error_not_a_missing_object() {
    let env = TestEnv::new("s3-nobucket").await;
    let bucket = env.clients.bucket();
    let k = key("inbox/x.xml");
    let err = bucket.put(&k, b"x".to_vec(), "text/plain").await.unwrap_err();
    assert!(matches!(err, BucketError::Backend { .. }), "{err:?}");
    assert!(err.to_string().contains("NoSuchBucket"), "{err}");
    assert!(matches!(bucket.get(&k, 10).await, Err(BucketError::Backend { .. })));
}
