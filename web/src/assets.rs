//! The browser client, embedded at build time (see `build.rs`). The served set is exactly
//! the files under `web/client/`; a lookup is an exact match on the URL path, so no path
//! trick can reach anything else.

include!(concat!(env!("OUT_DIR"), "/assets_table.rs"));

pub struct Asset {
    pub bytes: &'static [u8],
    pub content_type: &'static str,
}

/// The asset at exactly `path` (e.g. `/static/js/app.js`).
pub fn get(path: &str) -> Option<Asset> {
    FILES.iter().find(|(p, _, _)| *p == path).map(|(_, bytes, content_type)| Asset { bytes, content_type })
}

/// The page every room URL gets; the room name is read by the page's script from
/// `location`, never written into the markup by the server.
pub fn index() -> Asset {
    get("/index.html").expect("web/client/index.html is part of the embedded set")
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_exact_paths_match() {
        assert!(super::get("/index.html").is_some());
        assert!(super::get("/static/js/app.js").is_some());
        assert!(super::get("/static/../index.html").is_none());
        assert!(super::get("static/js/app.js").is_none());
    }
}
