//! What every request handler and chat connection shares: settings, the database handle,
//! the chat hub's handle, the upload locks, the revoked tokens and the metrics. All handles,
//! no owned state.

use crate::chat::hub::HubHandle;
use crate::config::Config;
use crate::db::Db;
use crate::files::store::Paths;
use crate::files::upload::UploadLocks;
use crate::metrics::{inc, Metrics};
use crate::revocation::Revocations;
use crate::Error;
use axum::http::HeaderMap;
use proto::token::Claims;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub hub: HubHandle,
    pub uploads: Arc<UploadLocks>,
    pub metrics: Arc<Metrics>,
    pub revocations: Arc<Revocations>,
    pub paths: Paths,
    pub shutdown: CancellationToken,
}

impl AppState {
    /// Verifies the request's room token (header, else `?token=`); a removed person's token
    /// is refused (403).
    pub fn auth(&self, headers: &HeaderMap, query: Option<&str>) -> Result<Claims, Error> {
        crate::auth::request(&self.config.token_secret, headers, query)
            .and_then(|c| self.not_revoked(c))
            .inspect_err(|_| inc(&self.metrics.auth_failures))
    }

    /// `claims` unless their bearer was removed from the room after the token was issued.
    pub fn not_revoked(&self, claims: Claims) -> Result<Claims, Error> {
        self.revocations.check(&claims)?;
        Ok(claims)
    }

    /// The resource belongs to `room`: a token for any other room gets 403.
    pub fn check_room(&self, claims: &Claims, room: &str) -> Result<(), Error> {
        crate::auth::same_room(claims, room).inspect_err(|_| inc(&self.metrics.auth_failures))
    }
}
