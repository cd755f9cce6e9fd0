//! The per-receiver bitrate allocator: which video sources a receiver gets and in which
//! simulcast layer, from its `ReceiverVideoConstraints` (last-N, on-stage and selected
//! sources, max height per source), the dominant speaker history and its bandwidth
//! estimate. Pure function of its inputs; it never writes packets or asks for keyframes.

use std::time::Instant;

use proto::bridge_channel::ReceiverVideoConstraints;

use crate::track::{EpNum, TrackIn};

/// One video source as the allocator sees it.
pub struct Candidate<'a> {
    pub ep: EpNum,
    pub track: &'a TrackIn,
}

/// The decision for one source: a layer index of its `TrackIn`, or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub ep: EpNum,
    pub layer: Option<usize>,
}

/// Height assumed for a layer whose keyframes did not tell it (rank 0 = lowest of n).
fn assumed_height(rank: usize, n: usize) -> i32 {
    720 >> (n.saturating_sub(1).saturating_sub(rank)).min(3)
}

/// What one audio source takes on the same link.
const AUDIO_BPS: u64 = 40_000;

/// Bitrate assumed for a layer not measured yet.
fn assumed_bitrate(rank: usize, n: usize) -> u64 {
    1_500_000 >> (2 * n.saturating_sub(1).saturating_sub(rank)).min(6)
}

/// Decides every source's layer for one receiver. `speakers` lists recent dominant
/// speakers, most recent first; `bwe_bps` is the receiver's estimate (None = unknown);
/// `audio_streams` how many audio streams share its link (with loudest-only routing, the
/// routed few, not every participant).
pub fn allocate(
    constraints: &ReceiverVideoConstraints,
    candidates: &[Candidate<'_>],
    speakers: &[EpNum],
    bwe_bps: Option<u64>,
    audio_streams: usize,
    now: Instant,
) -> Vec<Allocation> {
    // Priority order: on stage, selected, recent speakers, then join order.
    let prio = |c: &Candidate<'_>| -> (u8, usize) {
        let name = &c.track.source_name;
        if constraints.on_stage_sources.iter().any(|s| s == name) {
            (0, 0)
        } else if constraints.selected_sources.iter().any(|s| s == name) {
            (1, 0)
        } else if let Some(i) = speakers.iter().position(|e| *e == c.ep) {
            (2, i)
        } else {
            (3, 0)
        }
    };
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by_key(|i| prio(&candidates[*i]));

    let last_n = if constraints.last_n < 0 { usize::MAX } else { constraints.last_n as usize };
    let mut result: Vec<Allocation> = candidates.iter().map(|c| Allocation { ep: c.ep, layer: None }).collect();
    // Per chosen source: ranked layers and the highest rank allowed by max height.
    let mut plans: Vec<(usize, Vec<usize>, usize)> = Vec::new();
    for &i in &order {
        if plans.len() >= last_n {
            break;
        }
        let c = &candidates[i];
        if c.track.muted {
            continue;
        }
        let max_height = constraints
            .constraints
            .get(&c.track.source_name)
            .or(constraints.default_constraints.as_ref())
            .map(|v| v.max_height)
            .unwrap_or(i32::MAX);
        let ranked = c.track.ranked_layers(now);
        if max_height <= 0 || ranked.is_empty() {
            continue;
        }
        let n = ranked.len();
        let mut best = 0;
        for (rank, &li) in ranked.iter().enumerate() {
            let h = c.track.layers[li].height.map(i32::from).unwrap_or_else(|| assumed_height(rank, n));
            if h <= max_height {
                best = rank;
            }
        }
        plans.push((i, ranked, best));
    }

    // Bandwidth: everyone gets the lowest layer first, then upgrades in priority order.
    // Keep headroom: the estimate is not a promise, and audio and RTX ride the same link.
    let mut budget =
        bwe_bps.map(|b| (b * 85 / 100).saturating_sub(AUDIO_BPS * audio_streams as u64)).unwrap_or(u64::MAX);
    let rate = |c: &Candidate<'_>, ranked: &[usize], rank: usize| -> u64 {
        let l = &c.track.layers[ranked[rank]];
        if l.bitrate_bps > 0 {
            l.bitrate_bps
        } else {
            assumed_bitrate(rank, ranked.len())
        }
    };
    let mut chosen: Vec<Option<usize>> = vec![None; plans.len()];
    for (k, (i, ranked, _)) in plans.iter().enumerate() {
        let r = rate(&candidates[*i], ranked, 0);
        if k == 0 || r <= budget {
            budget = budget.saturating_sub(r);
            chosen[k] = Some(0);
        }
    }
    for (k, (i, ranked, best)) in plans.iter().enumerate() {
        let Some(mut rank) = chosen[k] else { continue };
        while rank < *best {
            let extra = rate(&candidates[*i], ranked, rank + 1).saturating_sub(rate(&candidates[*i], ranked, rank));
            if extra > budget {
                break;
            }
            budget -= extra;
            rank += 1;
        }
        chosen[k] = Some(rank);
    }
    for (k, (i, ranked, _)) in plans.iter().enumerate() {
        result[*i].layer = chosen[k].map(|rank| ranked[rank]);
    }
    result
}

/// What a receiver would take without any bandwidth limit: the top active layer of every
/// source, plus room for `audio_streams` audio streams. The bandwidth estimator probes up to
/// this.
pub fn desired_bitrate(candidates: &[Candidate<'_>], audio_streams: usize, now: Instant) -> u64 {
    let video: u64 = candidates
        .iter()
        .filter(|c| !c.track.muted)
        .filter_map(|c| {
            let ranked = c.track.ranked_layers(now);
            let top = *ranked.last()?;
            let l = &c.track.layers[top];
            Some(if l.bitrate_bps > 0 { l.bitrate_bps } else { assumed_bitrate(ranked.len() - 1, ranked.len()) })
        })
        .sum();
    video + AUDIO_BPS * audio_streams as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::track::{Layer, TrackIn};
    use proto::bridge_channel::VideoConstraints;

    fn track(name: &str, now: Instant) -> TrackIn {
        let mut layers = Vec::new();
        for (i, (h, br)) in [(180u16, 150_000u64), (360, 500_000), (720, 1_500_000)].into_iter().enumerate() {
            let mut l = Layer::new(Some(["q", "h", "f"][i].into()), i);
            l.last_packet = Some(now);
            l.height = Some(h);
            l.bitrate_bps = br;
            layers.push(l);
        }
        TrackIn {
            kind: str0m::media::MediaKind::Video,
            mid: "0".into(),
            source_name: format!("{name}-v0"),
            layers,
            codecs: vec![],
            last_keyframe_request: vec![None; 3],
            muted: false,
            announced_max_height: None,
            left_out_everywhere: false,
        }
    }

    #[test]
    fn bandwidth_goes_to_on_stage_first_and_everyone_keeps_the_lowest_layer() {
        let now = Instant::now();
        let (a, b, c) = (track("a", now), track("b", now), track("c", now));
        let cands = [
            Candidate { ep: EpNum(1), track: &a },
            Candidate { ep: EpNum(2), track: &b },
            Candidate { ep: EpNum(3), track: &c },
        ];
        let mut rc = ReceiverVideoConstraints { last_n: -1, ..Default::default() };
        rc.on_stage_sources = vec!["c-v0".into()];
        let got = allocate(&rc, &cands, &[], Some(2_400_000), 3, now);
        assert_eq!(got[2].layer, Some(2), "on stage gets 720p");
        assert_eq!((got[0].layer, got[1].layer), (Some(0), Some(0)), "the rest fit only 180p");
        let plenty = allocate(&rc, &cands, &[], Some(10_000_000), 3, now);
        assert!(plenty.iter().all(|a| a.layer == Some(2)));
        rc.default_constraints = Some(VideoConstraints { max_height: 360 });
        let capped = allocate(&rc, &cands, &[], None, 3, now);
        assert!(capped.iter().all(|a| a.layer == Some(1)), "{capped:?}");
        rc.last_n = 0;
        assert!(allocate(&rc, &cands, &[], None, 3, now).iter().all(|a| a.layer.is_none()));
        assert_eq!(desired_bitrate(&cands, 3, now), 3 * 1_540_000);
    }

    #[test]
    fn only_the_audio_streams_received_take_room_from_video() {
        let now = Instant::now();
        let tracks: Vec<TrackIn> = (0..99).map(|i| track(&format!("p{i}"), now)).collect();
        let cands: Vec<Candidate<'_>> =
            tracks.iter().enumerate().map(|(i, t)| Candidate { ep: EpNum(i as u64), track: t }).collect();
        let rc = ReceiverVideoConstraints { last_n: 25, ..Default::default() };
        let count = |audio| {
            allocate(&rc, &cands, &[], Some(5_000_000), audio, now).iter().filter(|a| a.layer.is_some()).count()
        };
        // 99 participants' audio would leave 0.29 Mbit/s of 4.25 for video: one 180p video
        // (0.15 Mbit/s each); the 3 routed ones leave room for all 25.
        assert_eq!(count(99), 1);
        assert_eq!(count(3), 25);
    }
}
