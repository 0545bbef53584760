use hickory_proto::rr::RecordType;

use super::*;
use crate::detect::testkit::{CLIENT, RESOLVER, event, query_msg};

fn events(n: usize) -> Vec<DnsEvent> {
    (0..n)
        .map(|i| {
            let q = query_msg(i as u16, "www.secure.test.", RecordType::A, true, false);
            event(q, CLIENT, RESOLVER, i as u64)
        })
        .collect()
}

#[tokio::test]
async fn the_bound_is_in_events_and_frees_on_receive() {
    let (tx, mut rx) = batch_channel(5);
    assert_eq!(tx.room(), 5);
    tx.try_send(events(3)).unwrap();
    assert_eq!(tx.room(), 2);
    // Three more do not fit: handed back whole, nothing queued.
    match tx.try_send(events(3)) {
        Err(TrySendError::Full(b)) => assert_eq!(b.len(), 3),
        other => panic!("expected Full, got {other:?}"),
    }
    assert_eq!(tx.room(), 2);
    tx.try_send(events(2)).unwrap();
    assert_eq!(tx.room(), 0);
    assert_eq!(rx.recv().await.map(|b| b.len()), Some(3));
    assert_eq!(tx.room(), 3);
    assert_eq!(rx.recv().await.map(|b| b.len()), Some(2));
    assert_eq!(tx.room(), 5);
}

#[tokio::test]
async fn send_waits_for_room_and_keeps_order() {
    let (tx, mut rx) = batch_channel(4);
    tx.try_send(events(4)).unwrap();
    let tx2 = tx.clone();
    let sender = tokio::spawn(async move { tx2.send(events(2)).await.map_err(|b| b.len()) });
    tokio::task::yield_now().await;
    assert!(!sender.is_finished(), "no room: the send waits");
    assert_eq!(rx.recv().await.map(|b| b.len()), Some(4));
    sender.await.unwrap().unwrap();
    assert_eq!(rx.recv().await.map(|b| b.len()), Some(2));
}

#[tokio::test]
async fn a_closed_channel_hands_the_batch_back() {
    let (tx, rx) = batch_channel(4);
    drop(rx);
    assert!(tx.is_closed());
    assert!(matches!(tx.try_send(events(1)), Err(TrySendError::Closed(b)) if b.len() == 1));
    assert_eq!(tx.send(events(2)).await.map_err(|b| b.len()), Err(2));
}

#[tokio::test]
async fn the_receiver_ends_when_senders_are_gone() {
    let (tx, mut rx) = batch_channel(4);
    tx.try_send(events(1)).unwrap();
    drop(tx);
    assert_eq!(rx.recv().await.map(|b| b.len()), Some(1));
    assert!(rx.recv().await.is_none());
}
