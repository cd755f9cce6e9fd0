//! filestore: persistent in-call chat (`/chat`, WebSocket + JSON) and resumable, verified
//! file transfer (`/files/`, tus 1.0; downloads; a streamed relay for peer-to-peer
//! transfers), for the members of a room only, proven by a room token from signal; and the
//! archive of people's one-to-one conversations, calls and notifications, a component
//! (`archive.<domain>`) on signal's bus.
//!
//! It owns `DATA_DIR/filestore.sqlite3`, `DATA_DIR/archive.sqlite3` and `DATA_DIR/files/`;
//! it never talks to another component's database, never listens beyond its configured
//! address, and never holds a whole file in memory. See README.md for the protocol and the
//! settings.

pub mod archive;
pub mod auth;
pub mod chat;
pub mod config;
pub mod db;
pub mod error;
pub mod files;
pub mod http;
pub mod ids;
pub mod metrics;
pub mod retention;
pub mod revocation;
pub mod state;

pub use config::Config;
pub use error::Error;

use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Runs filestore until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let paths = files::store::Paths { files: config.files_dir(), partial: config.partial_dir() };
    std::fs::create_dir_all(&paths.partial)?;
    let db = db::Db::open(&config.db_path(), db::FILESTORE_MIGRATIONS, "filestore-db")?;
    let hub = chat::hub::HubHandle::start(db.clone(), shutdown.clone());
    let metrics = Arc::new(metrics::Metrics::default());
    let revocations = Arc::new(revocation::Revocations::default());
    let archive = archive::Archive::open(&config, metrics.clone(), revocations.clone(), hub.clone()).await?;
    let (bus_addr, bus_secret) = (config.archive.bus_addr.clone(), config.archive.bus_secret.clone());
    let st = state::AppState {
        config: Arc::new(config),
        db,
        hub,
        uploads: Default::default(),
        metrics,
        revocations,
        paths,
        shutdown: shutdown.clone(),
    };
    retention::mark_all_ended(&st).await?;
    files::tus::recover(&st).await?;
    retention::remove_orphan_partials(&st).await?;
    let listener = tokio::net::TcpListener::bind(st.config.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, data_dir = %st.config.data_dir.display(), "filestore listening");
    tokio::spawn(retention::run(st.clone()));
    tokio::spawn(archive.run(bus_addr, bus_secret, shutdown.clone()));
    let app = http::router(st);
    axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await?;
    Ok(())
}
