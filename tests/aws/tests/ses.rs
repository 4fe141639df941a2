//! The mailer port on SESv2 (moto_server): raw messages read back from the emulator.

use ledgerpost_aws_tests::TestEnv;
use ledgerpost_ports::{MailError, Mailer, OutgoingEmail};

fn email(env: &TestEnv, subject: &str) -> OutgoingEmail {
    let from = env.settings().sender.clone();
    let raw = format!(
        "From: Ledgerpost <{from}>\r\nTo: Purchase books <purchase@books.example>\r\nSubject: {subject}\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nInvoice 2025-001 attached.\r\n"
    );
    OutgoingEmail {
        from,
        // The envelope differs from the To: header: recipients come from configuration only.
        to: vec!["purchase@books.example".parse().unwrap(), "archive@books.example".parse().unwrap()],
        raw: raw.into_bytes(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_raw_email_is_sent_once_and_reads_back_byte_for_byte() {
    // GIVEN a verified sender identity
    let env = TestEnv::new("ses-send").await;
    env.verify_sender().await;
    let mailer = env.clients.mailer();
    let message = email(&env, "Purchase invoices 2025-03-01 (1/1)");

    // WHEN a raw message is sent
    let id = mailer.send_raw(&message).await.unwrap();

    // THEN moto holds exactly that message under the returned id, with the envelope
    let sent = env.moto.sent_raw_emails();
    let mine: Vec<_> = sent.iter().filter(|m| m["id"] == id.as_str()).collect();
    assert_eq!(mine.len(), 1, "{sent:?}");
    assert_eq!(mine[0]["raw_data"].as_str().unwrap().as_bytes(), message.raw.as_slice());
    assert_eq!(mine[0]["source"], env.settings().sender.as_str());
    let destinations: Vec<&str> =
        mine[0]["destinations"].as_array().unwrap().iter().filter_map(|d| d.as_str()).collect();
    for to in &message.to {
        assert!(destinations.contains(&to.as_str()), "{destinations:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unverified_sender_is_rejected_and_nothing_is_sent() {
    let env = TestEnv::new("ses-unverified").await;
    let message = email(&env, "never sent");
    match env.clients.mailer().send_raw(&message).await {
        Err(err @ MailError::Rejected { .. }) => {
            assert!(!err.is_in_doubt());
            assert!(err.to_string().contains("MessageRejected"), "{err}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    let sent = env.moto.sent_raw_emails();
    assert!(sent.iter().all(|m| m["source"] != env.settings().sender.as_str()), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configuration_set_is_sent_with_the_message() {
    let mut env = TestEnv::new("ses-configset").await;
    env.verify_sender().await;
    let set = format!("{}-set", env.settings().table);
    env.clients.ses.create_configuration_set().configuration_set_name(&set).send().await.unwrap();
    env.clients.settings.ses_configuration_set = Some(set);
    let id = env.clients.mailer().send_raw(&email(&env, "with a configuration set")).await.unwrap();
    assert!(env.moto.sent_raw_emails().iter().any(|m| m["id"] == id.as_str()));
}
