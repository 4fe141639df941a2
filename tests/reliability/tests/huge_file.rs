//! A 200 MB file in the inbox: refused by the size cap before it is read, with a reason, while
//! the process's peak memory stays far below the file's size. Its own test binary, so that no
//! other test moves the peak meanwhile.

use std::io::Write;
use std::time::Duration;

use ledgerpost_reliability::audit::{Input, audit, send_until_quiet};
use ledgerpost_reliability::harness::CONFIG;
use ledgerpost_reliability::{Harness, corpus};

const SIZE: u64 = 200 * 1024 * 1024;

/// The process's peak resident memory so far (VmHWM), in bytes.
fn peak_memory() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux)");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("a VmHWM line");
    let kb: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmHWM in kB");
    kb * 1024
}

#[tokio::test]
async fn a_200_mb_file_is_refused_unread_and_memory_stays_bounded() {
    let harness = Harness::new(CONFIG, 3);
    let pipeline = harness.pipeline();
    // GIVEN a 200 MB "invoice" written to the inbox folder in 1 MB pieces (never whole in memory):
    // a real invoice header, then one enormous note.
    let path = harness.bucket_dir().join("inbox").join("huge.xml");
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("the inbox folder");
    let head =
        String::from_utf8(corpus("ubl/valid/en16931__ubl-examples__ubl-tc434-example1.xml")).expect("UTF-8");
    let cut = head.find("<cbc:Note>").expect("a note") + "<cbc:Note>".len();
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create the file"));
    file.write_all(&head.as_bytes()[..cut]).expect("write");
    let chunk = vec![b'A'; 1024 * 1024];
    let mut written = cut as u64;
    while written < SIZE {
        let n = chunk.len().min((SIZE - written) as usize);
        file.write_all(&chunk[..n]).expect("write");
        written += n as u64;
    }
    file.flush().expect("flush");
    drop(file);
    assert_eq!(std::fs::metadata(&path).expect("the file").len(), SIZE);
    let key = ledgerpost_ports::ObjectKey::parse("inbox/huge.xml").expect("a key");
    let good = Input::new(
        "after-huge.xml",
        String::from_utf8(corpus("ubl/valid/en16931__ubl-examples__ubl-tc434-example1.xml"))
            .expect("UTF-8")
            .replacen("<cbc:ID>12115118</cbc:ID>", "<cbc:ID>AFTER-HUGE</cbc:ID>", 1)
            .into_bytes(),
    );

    // WHEN ingest runs on it (and on a good file after it)
    let before = peak_memory();
    pipeline.enqueue_ingest(&key).await.expect("the ingest message");
    harness.drop_file(&pipeline, &good.name, &good.bytes).await;
    let stats = pipeline.drain(Duration::ZERO).await.expect("drain");
    let after = peak_memory();

    // THEN it was refused before reading: the peak grew by far less than the file
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);
    let grown = after.saturating_sub(before);
    assert!(grown < 32 * 1024 * 1024, "peak memory grew by {grown} bytes (from {before} to {after})");
    // AND it is under rejected/ with a reason naming the size and the limit, listed in the report
    send_until_quiet(&harness, &pipeline, 2).await;
    let moved = harness.bucket_dir().join("rejected").join("huge.xml");
    assert_eq!(std::fs::metadata(&moved).expect("the moved file").len(), SIZE, "kept whole");
    let reason = std::fs::read_to_string(harness.bucket_dir().join("rejected").join("huge.xml.reason.txt"))
        .expect("a reason file");
    let expected = format!("the file is {SIZE} bytes, over the limit of 20971520 bytes");
    assert!(reason.to_lowercase().contains(&expected), "{reason}");
    assert!(reason.contains("validation.max_file_bytes"), "{reason}");
    let runs = pipeline.repository().latest_runs(5).await.expect("runs");
    assert!(runs.iter().any(|r| r.report_text.contains("rejected/huge.xml")), "not in any report");
    // AND the good file after it went through (the audit reads it back; the huge file is checked
    // above without reading it into memory).
    let audit = audit(&harness, std::slice::from_ref(&good), &[]).await;
    assert!(audit.stored_from.contains_key(&good.name));
    assert!(audit.violations.iter().all(|v| v.contains("huge.xml")), "{:?}", audit.violations);
}
