//! `/files/`: tus 1.0 uploads (core, creation, creation-with-upload, checksum, termination,
//! expiration), downloads by room members, and the streamed relay for peer-to-peer
//! transfers whose direct path failed. Every request carries a room token; nothing here
//! holds a whole file in memory.

pub mod download;
pub mod metadata;
pub mod name;
pub mod relay;
pub mod store;
pub mod tus;
pub mod upload;

pub const TUS_VERSION: &str = "1.0.0";
pub const TUS_EXTENSIONS: &str = "creation,creation-with-upload,checksum,termination,expiration";
pub const TUS_CHECKSUMS: &str = "sha1,sha256";
