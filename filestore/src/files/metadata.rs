//! The tus `Upload-Metadata` header: comma-separated `key base64(value)` pairs. We read
//! `filename` (or `name`) and keep the raw header only to echo it on HEAD; the declared
//! type is ignored in favour of the sniffed one.

use crate::Error;
use base64::Engine;

pub struct UploadMetadata {
    pub filename: Option<String>,
}

pub fn parse(header: Option<&str>) -> Result<UploadMetadata, Error> {
    let mut filename = None;
    let Some(h) = header else { return Ok(UploadMetadata { filename }) };
    for pair in h.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = match pair.split_once(' ') {
            Some((k, v)) => (k, v.trim()),
            None => (pair, ""),
        };
        if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::BadRequest("Upload-Metadata: malformed key".into()));
        }
        if key == "filename" || (key == "name" && filename.is_none()) {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value)
                .map_err(|_| Error::BadRequest(format!("Upload-Metadata: {key} is not base64")))?;
            let s = String::from_utf8(bytes)
                .map_err(|_| Error::BadRequest(format!("Upload-Metadata: {key} is not UTF-8")))?;
            filename = Some(s);
        }
    }
    Ok(UploadMetadata { filename })
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_filename_and_refuses_garbage() {
        // "filename" = "a b.txt", "filetype" = "text/plain", a key without value
        let m = parse(Some("filename YSBiLnR4dA==,filetype dGV4dC9wbGFpbg==,is_confidential")).unwrap();
        assert_eq!(m.filename.as_deref(), Some("a b.txt"));
        assert!(parse(None).unwrap().filename.is_none());
        assert!(parse(Some("filename !!notbase64")).is_err());
        assert!(parse(Some("filename //79")).is_err(), "invalid UTF-8 is refused");
        assert!(parse(Some("name YQ==,filename Yg==")).unwrap().filename.as_deref() == Some("b"));
    }
}
