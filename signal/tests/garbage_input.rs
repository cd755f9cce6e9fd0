//! Nothing a client sends can panic the server or disturb others: many connections send
//! random bytes and random XML-ish fragments at every stage; afterwards a bystander is still
//! served and new clients can still log in.

mod common;

use common::*;
use tokio::io::AsyncWriteExt;

fn rand_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    getrandom::fill(&mut v).expect("os randomness");
    v
}

#[tokio::test]
async fn random_input_never_takes_the_server_down() {
    let signal = Signal::start();
    let mut bystander = Client::anonymous(&signal).await;
    bystander.join("steady", "me").await;
    let pieces = [
        "<",
        ">",
        "/",
        "'",
        "\"",
        "=",
        "&",
        ";",
        "amp",
        "#x",
        "<![CDATA[",
        "]]>",
        "<!",
        "<?",
        "?>",
        "xmlns",
        ":",
        "stream",
        "iq",
        "message",
        "presence",
        " ",
        "\u{0}",
        "é",
        "\u{FFFF}",
    ];
    let mut tasks = Vec::new();
    for round in 0..40u32 {
        let addr = signal.c2s;
        let bus = signal.bus;
        tasks.push(tokio::spawn(async move {
            let target = if round % 5 == 0 { bus } else { addr };
            let Ok(mut sock) = tokio::net::TcpStream::connect(target).await else { return };
            if round % 2 == 0 {
                let _ = sock.write_all(HEADER_TO_DOMAIN.as_bytes()).await;
            }
            if round % 3 == 0 {
                let _ = sock.write_all(&rand_bytes(4096)).await;
            } else {
                let r = rand_bytes(600);
                let mut s = String::new();
                for b in r {
                    s.push_str(pieces[b as usize % pieces.len()]);
                }
                let _ = sock.write_all(s.as_bytes()).await;
            }
            let _ = sock.shutdown().await;
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    still_served(&mut bystander, "alive").await;
    let mut fresh = Client::anonymous(&signal).await;
    let (_, others) = fresh.join("steady", "new").await;
    assert_eq!(others.len(), 1);
}
