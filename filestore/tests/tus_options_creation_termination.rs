//! tus 1.0 surface: OPTIONS advertises version, extensions, max size and checksum
//! algorithms; creation-with-upload stores the first bytes in the POST; HEAD reports
//! offset, length, metadata and expiry; a request without Tus-Resumable is 412; termination
//! removes an unfinished upload (uploader only) and its partial file.

mod common;
use common::*;

#[tokio::test]
async fn options_creation_with_upload_head_and_termination() {
    let server = Server::start(&[("MAX_FILE_SIZE", "123456")]);
    let a = &server.addr;
    let tok = token("tus", "alice01");
    let auth = bearer(&tok);
    let o = http(a, "OPTIONS", "/files/", &[("authorization", &auth)], vec![]).await;
    assert_eq!(o.status, 204);
    assert_eq!(o.header("tus-version"), Some("1.0.0"));
    assert_eq!(o.header("tus-max-size"), Some("123456"));
    assert_eq!(o.header("tus-checksum-algorithm"), Some("sha1,sha256"));
    let ext = o.header("tus-extension").expect("extensions");
    for e in ["creation", "creation-with-upload", "checksum", "termination", "expiration"] {
        assert!(ext.split(',').any(|x| x == e), "{e} missing in {ext}");
    }

    let r = http(a, "POST", "/files/", &[("authorization", &auth), ("upload-length", "4")], vec![]).await;
    assert_eq!(r.status, 412, "Tus-Resumable is required");

    let r = http(
        a,
        "POST",
        "/files/",
        &[
            ("authorization", &auth),
            ("tus-resumable", "1.0.0"),
            ("upload-length", "10"),
            ("upload-metadata", "filename aGVsbG8udHh0,filetype dGV4dC9wbGFpbg=="),
            ("content-type", "application/offset+octet-stream"),
        ],
        b"hello".to_vec(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("upload-offset"), Some("5"));
    assert!(r.header("upload-expires").is_some_and(|v| v.ends_with("GMT")));
    let loc = r.header("location").expect("location").to_string();
    let h = http(a, "HEAD", &loc, &[("authorization", &auth), ("tus-resumable", "1.0.0")], vec![]).await;
    assert_eq!(h.status, 200);
    assert_eq!(h.header("upload-offset"), Some("5"));
    assert_eq!(h.header("upload-length"), Some("10"));
    assert_eq!(h.header("upload-metadata"), Some("filename aGVsbG8udHh0,filetype dGV4dC9wbGFpbg=="));
    assert_eq!(h.header("cache-control"), Some("no-store"));
    let bad_type = http(
        a,
        "PATCH",
        &loc,
        &[("authorization", &auth), ("tus-resumable", "1.0.0"), ("upload-offset", "5")],
        b"x".to_vec(),
    )
    .await;
    assert_eq!(bad_type.status, 415);

    // termination: not by another participant, then by the uploader
    let bob = bearer(&token("tus", "bob0001"));
    let d = http(a, "DELETE", &loc, &[("authorization", &bob), ("tus-resumable", "1.0.0")], vec![]).await;
    assert_eq!(d.status, 403);
    assert_eq!(server.stored().1.len(), 1);
    let d = http(a, "DELETE", &loc, &[("authorization", &auth), ("tus-resumable", "1.0.0")], vec![]).await;
    assert_eq!(d.status, 204);
    assert_eq!(server.stored(), (vec![], vec![]));
    let h = http(a, "HEAD", &loc, &[("authorization", &auth), ("tus-resumable", "1.0.0")], vec![]).await;
    assert_eq!(h.status, 404);
    let p = patch(a, &tok, &loc, 5, b"world".to_vec(), None).await;
    assert_eq!(p.status, 404);

    // a zero-length upload completes at creation
    let r = create_upload(a, &tok, 0, "empty.txt").await;
    assert_eq!(r.status, 201);
    let e = http(a, "GET", r.header("location").expect("location"), &[("authorization", &auth)], vec![]).await;
    assert_eq!((e.status, e.body.len()), (200, 0));
}
