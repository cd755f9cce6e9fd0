//! The bridges focus knows: their last announced load, whether they are draining, when they
//! last failed, and when their next health check is due. Choosing a bridge for a new
//! conference happens here; moving conferences off a bridge is [`super::failover`]'s job.
//!
//! Pure bookkeeping: never sends anything.

use super::io::BridgeId;
use proto::colibri::BridgeStats;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct BridgeEntry {
    pub stats: BridgeStats,
    /// Avoided until then after a failure.
    pub failed_until: Option<Instant>,
    pub last_failure: Option<String>,
    pub next_health: Instant,
    /// Id of the health IQ in flight, if any.
    pub health_in_flight: Option<String>,
    /// Health checks failed in a row; a bridge that keeps failing is dropped from the pool
    /// (it comes back with its next presence).
    pub health_failures: u32,
}

#[derive(Debug, Default)]
pub struct BridgePool {
    bridges: BTreeMap<BridgeId, BridgeEntry>,
}

impl BridgePool {
    /// Records a bridge's announced load; true when the bridge was not known before.
    pub fn upsert(&mut self, id: &BridgeId, stats: BridgeStats, now: Instant) -> bool {
        match self.bridges.get_mut(id) {
            Some(e) => {
                e.stats = stats;
                false
            }
            None => {
                self.bridges.insert(
                    id.clone(),
                    BridgeEntry {
                        stats,
                        failed_until: None,
                        last_failure: None,
                        next_health: now,
                        health_in_flight: None,
                        health_failures: 0,
                    },
                );
                true
            }
        }
    }

    pub fn remove(&mut self, id: &BridgeId) -> bool {
        self.bridges.remove(id).is_some()
    }

    pub fn get(&self, id: &BridgeId) -> Option<&BridgeEntry> {
        self.bridges.get(id)
    }

    pub fn get_mut(&mut self, id: &BridgeId) -> Option<&mut BridgeEntry> {
        self.bridges.get_mut(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&BridgeId, &BridgeEntry)> {
        self.bridges.iter()
    }

    pub fn ids(&self) -> Vec<BridgeId> {
        self.bridges.keys().cloned().collect()
    }

    /// Present, not failed recently, not draining: may take new endpoints.
    pub fn usable(&self, id: &BridgeId, now: Instant) -> bool {
        self.bridges.get(id).is_some_and(|e| entry_usable(e, now))
    }

    /// The least-stressed usable bridge (ties: fewer endpoints, then id).
    pub fn select(&self, now: Instant) -> Option<BridgeId> {
        self.bridges
            .iter()
            .filter(|(_, e)| entry_usable(e, now))
            .min_by(|(ia, a), (ib, b)| {
                a.stats
                    .stress
                    .total_cmp(&b.stats.stress)
                    .then(a.stats.endpoints.cmp(&b.stats.endpoints))
                    .then(ia.cmp(ib))
            })
            .map(|(id, _)| id.clone())
    }

    pub fn any_usable(&self, now: Instant) -> bool {
        self.bridges.values().any(|e| entry_usable(e, now))
    }

    /// Avoids the bridge for `avoid`; true if it was usable before (a new failure).
    pub fn mark_failed(&mut self, id: &BridgeId, now: Instant, avoid: Duration, why: &str) -> bool {
        match self.bridges.get_mut(id) {
            Some(e) => {
                let was = entry_usable(e, now);
                e.failed_until = Some(now + avoid);
                e.last_failure = Some(why.to_string());
                e.health_in_flight = None;
                was
            }
            None => false,
        }
    }

    pub fn set_draining(&mut self, id: &BridgeId) {
        if let Some(e) = self.bridges.get_mut(id) {
            e.stats.draining = true;
        }
    }

    /// Clears failure marks that ran out; true if some bridge became usable again.
    pub fn expire_failures(&mut self, now: Instant) -> bool {
        let mut any = false;
        for e in self.bridges.values_mut() {
            if e.failed_until.is_some_and(|t| t <= now) {
                e.failed_until = None;
                any = true;
            }
        }
        any
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.bridges
            .values()
            .flat_map(|e| [Some(e.next_health).filter(|_| e.health_in_flight.is_none()), e.failed_until])
            .flatten()
            .min()
    }
}

fn entry_usable(e: &BridgeEntry, now: Instant) -> bool {
    !e.stats.draining && e.failed_until.is_none_or(|t| t <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(stress: f64) -> BridgeStats {
        BridgeStats { stress, ..Default::default() }
    }

    #[test]
    fn least_stressed_healthy_non_draining_bridge_is_chosen() {
        let now = Instant::now();
        let mut pool = BridgePool::default();
        let (a, b, c) = (BridgeId::new("a").unwrap(), BridgeId::new("b").unwrap(), BridgeId::new("c").unwrap());
        pool.upsert(&a, stats(0.5), now);
        pool.upsert(&b, stats(0.1), now);
        pool.upsert(&c, BridgeStats { stress: 0.0, draining: true, ..Default::default() }, now);
        assert_eq!(pool.select(now), Some(b.clone()));
        pool.mark_failed(&b, now, Duration::from_secs(60), "test");
        assert_eq!(pool.select(now), Some(a.clone()));
        assert_eq!(pool.select(now + Duration::from_secs(61)), Some(b));
    }
}
