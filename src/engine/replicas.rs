//! Replica math of a canary: how many replicas the new and the stable ReplicaSet should have
//! next. Without a traffic router the weight is realised by the ratio of pods, moving towards
//! it without exceeding `maxSurge` or `maxUnavailable` ([`BasicCanary`]); with one, the canary
//! gets the pods its weight needs and the stable keeps its own ([`RoutedCanary`]).
//!
//! This follows Argo Rollouts' `CalculateReplicaCountsForBasicCanary`,
//! `approximateWeightedCanaryStableReplicaCounts` and
//! `CalculateReplicaCountsForTrafficRoutedCanary` (ARGO-SEMANTICS §1.1–1.5), with exact
//! integer arithmetic where Argo uses floating point.

use std::cmp::Ordering;

use crate::model::{Amount, CanaryScale};

/// The default of both `maxSurge` and `maxUnavailable`.
const DEFAULT_FENCEPOST: Amount = Amount::Percent(25);

/// `maxSurge` and `maxUnavailable` resolved against the desired replica count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fenceposts {
    /// Pods allowed above the desired count.
    pub surge: i32,
    /// Pods allowed to be unavailable.
    pub unavailable: i32,
}

impl Fenceposts {
    /// Resolves a canary's limits: 25 % each by default, surge rounded up and unavailability
    /// rounded down; if both come to 0 one pod may be unavailable (or nothing could move);
    /// unavailability never exceeds `replicas`.
    #[must_use]
    pub fn canary(
        replicas: i32,
        max_surge: Option<Amount>,
        max_unavailable: Option<Amount>,
    ) -> Self {
        let surge = max_surge.unwrap_or(DEFAULT_FENCEPOST).rounded_up(replicas);
        let mut unavailable = max_unavailable
            .unwrap_or(DEFAULT_FENCEPOST)
            .rounded_down(replicas);
        if surge == 0 && unavailable == 0 {
            unavailable = 1;
        }
        Self {
            surge,
            unavailable: unavailable.min(replicas),
        }
    }
}

/// A ReplicaSet as the math sees it: desired and available pods.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicaCounts {
    /// `spec.replicas`.
    pub spec: i32,
    /// `status.availableReplicas`.
    pub available: i32,
}

impl ReplicaCounts {
    /// The pods this ReplicaSet counts with when scaling down: its spec when it is already
    /// shrinking or when its availability does not matter, its available pods otherwise.
    fn for_scale_down(self, ignore_availability: bool) -> i32 {
        if self.spec < self.available || ignore_availability {
            self.spec
        } else {
            self.available
        }
    }
}

/// Replica counts to set next on the new (canary) and the stable ReplicaSet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Targets {
    /// Replicas for the new ReplicaSet.
    pub new: i32,
    /// Replicas for the stable ReplicaSet.
    pub stable: i32,
}

/// The inputs of one basic-canary calculation.
#[derive(Clone, Copy, Debug)]
pub struct BasicCanary<'a> {
    /// The Rollout's desired replicas.
    pub replicas: i32,
    /// The desired canary weight, 0–100.
    pub weight: i32,
    /// The resolved `maxSurge` and `maxUnavailable`.
    pub fenceposts: Fenceposts,
    /// The ReplicaSet of the current pod template, once created.
    pub new: Option<ReplicaCounts>,
    /// The stable ReplicaSet; `None` when there is none or it is the new one, in which case
    /// the new ReplicaSet simply goes to `replicas`.
    pub stable: Option<ReplicaCounts>,
    /// Every other ReplicaSet of the Rollout; they drain before new and stable shrink.
    pub others: &'a [ReplicaCounts],
}

impl BasicCanary<'_> {
    /// The next replica counts: towards [`weighted_split`], growing the stable first and then
    /// the new ReplicaSet within `replicas + surge`, and shrinking only as far as
    /// `replicas - unavailable` available pods allow.
    #[must_use]
    pub fn targets(&self) -> Targets {
        let Fenceposts { surge, unavailable } = self.fenceposts;
        let (mut desired_new, mut desired_stable) =
            weighted_split(self.replicas, self.weight, surge);
        if self.stable.is_none() {
            // Nothing to shift traffic from: the new ReplicaSet simply goes to full size.
            (desired_new, desired_stable) = (self.replicas, 0);
        }
        let mut new = self.new.map_or(0, |rs| rs.spec);
        let mut stable = self.stable.map_or(0, |rs| rs.spec);

        let max_total = self.replicas + surge;
        let others_spec: i32 = self.others.iter().map(|rs| rs.spec).sum();
        let current_total = others_spec + new + stable;
        let mut headroom = max_total - current_total;
        if let Some(rs) = self
            .stable
            .filter(|rs| rs.spec < desired_stable && headroom > 0)
        {
            stable = desired_stable.min(rs.spec + headroom);
            headroom -= stable - rs.spec;
        }
        if let Some(rs) = self.new.filter(|rs| rs.spec < desired_new && headroom > 0) {
            new = desired_new.min(rs.spec + headroom);
        }
        if others_spec > 0 {
            // Older ReplicaSets drain first; new and stable do not shrink meanwhile.
            return Targets { new, stable };
        }

        let min_available = self.replicas - unavailable;
        let increasing = self.new.is_none_or(|rs| desired_new >= rs.spec);
        let counted =
            |rs: Option<ReplicaCounts>, ignore| rs.map_or(0, |rs| rs.for_scale_down(ignore));
        let scalable = counted(self.new, !increasing) + counted(self.stable, increasing);
        if scalable <= min_available {
            return Targets { new, stable };
        }
        let excess = scalable - min_available;
        if !increasing {
            // Going back (an abort, a lower weight): drain the canary, keep stable available.
            new = shrunk(self.new, desired_new, excess, new);
            (new, stable) =
                within_limits(self.new, self.stable, new, stable, max_total, min_available);
        } else if self.stable.is_some() {
            stable = shrunk(self.stable, desired_stable, excess, stable);
            (stable, new) =
                within_limits(self.stable, self.new, stable, new, max_total, min_available);
        }
        Targets { new, stable }
    }
}

/// The inputs of one traffic-routed canary calculation. No surge or unavailability limit
/// applies: the routers, not the pod ratio, decide who gets the traffic.
#[derive(Clone, Copy, Debug)]
pub struct RoutedCanary {
    /// The Rollout's desired replicas.
    pub replicas: i32,
    /// The weight that means all traffic.
    pub max_weight: i32,
    /// The weight the canary is sized for.
    pub weight: i32,
    /// The `setCanaryScale` in effect, if any.
    pub scale: Option<CanaryScale>,
    /// `minPodsPerReplicaSet`.
    pub min_pods: Option<i32>,
    /// With `dynamicStableScale`: the stable's weight as the routers were last asked to carry
    /// it (the stable shrinks only once traffic has left it); `None` keeps the stable whole.
    pub dynamic_stable_weight: Option<i32>,
}

impl RoutedCanary {
    /// The canary gets `ceil(weight · replicas / max)` pods (or what `setCanaryScale` says, its
    /// weight read on the same `max` scale, as Argo reads it);
    /// the stable keeps `replicas`, or with `dynamicStableScale` what the larger of its weight
    /// to be and its weight now needs. A side with any pods has at least `minPodsPerReplicaSet`
    /// of them (at most `replicas`).
    #[must_use]
    pub fn targets(&self) -> Targets {
        let replicas = self.replicas;
        let share = |weight: i32, of: i32| ceil_share(replicas, weight, of);
        let new = match self.scale {
            Some(CanaryScale::Replicas(count)) => count,
            Some(CanaryScale::Weight(weight)) => self.at_least_min(share(weight, self.max_weight)),
            Some(CanaryScale::MatchTrafficWeight) | None => {
                self.at_least_min(share(self.weight, self.max_weight))
            }
        };
        let stable = self.dynamic_stable_weight.map_or(replicas, |recorded| {
            let to_be = share(self.max_weight - self.weight, self.max_weight);
            let now = share(recorded, self.max_weight);
            self.at_least_min(to_be.max(now))
        });
        Targets { new, stable }
    }

    fn at_least_min(&self, count: i32) -> i32 {
        match self.min_pods {
            Some(min) if count > 0 => count.max(min.min(self.replicas)),
            _ => count,
        }
    }
}

/// `ceil(replicas · weight / of)`, never negative.
fn ceil_share(replicas: i32, weight: i32, of: i32) -> i32 {
    if of <= 0 || weight <= 0 {
        return 0;
    }
    let product = i64::from(replicas) * i64::from(weight);
    narrow((product + i64::from(of) - 1).div_euclid(i64::from(of)))
}

/// The (canary, stable) replica counts that best approximate `weight` percent of `replicas`.
///
/// The total is `replicas`, or `replicas + 1` when surge allows a closer ratio. With a weight
/// strictly between 0 and 100 and room for two pods, neither side is 0. Ties between rounding
/// down and up (3 replicas at 50 %) round up.
#[must_use]
pub fn weighted_split(replicas: i32, weight: i32, surge: i32) -> (i32, i32) {
    if replicas == 0 {
        return (0, 0);
    }
    let weighted = i64::from(replicas) * i64::from(weight);
    let floor = narrow(weighted.div_euclid(100));
    let ceil = floor + i32::from(weighted.rem_euclid(100) != 0);
    let zero_allowed = weight == 100 || weight == 0 || (replicas == 1 && surge == 0);
    let floor_allowed = floor != 0 || zero_allowed;

    // A floor that ties with its ceiling loses to it (3 replicas at 50 % is 2 + 1): the
    // ceiling is listed first and the comparison below is strict. Where the ceiling would
    // empty the stable, the floor stands alone: 99 % of 50 pods without surge is 49 + 1, not
    // (as in Argo, whose options run out there) no canary at all.
    let mut options = Vec::with_capacity(3);
    if ceil < replicas || zero_allowed {
        options.push((ceil, replicas));
    }
    if floor_allowed {
        options.push((floor, replicas));
    }
    // Surging only ever helps the ceiling: the floor of one pod more is further from the
    // weight than the floor without it.
    if surge > 0 {
        options.push((ceil, replicas + 1));
    }
    // The first option wins ties, so compare strictly.
    let best = options.into_iter().reduce(|best, option| {
        if weight_error(weight, option) < weight_error(weight, best) {
            option
        } else {
            best
        }
    });
    best.map_or((0, replicas), |(canary, total)| (canary, total - canary))
}

/// How far `canary` of `total` pods is from `weight` percent, as an exact fraction.
fn weight_error(weight: i32, (canary, total): (i32, i32)) -> Fraction {
    let numerator = (i64::from(canary) * 100 - i64::from(weight) * i64::from(total)).abs();
    Fraction {
        numerator,
        denominator: i64::from(total),
    }
}

/// A non-negative fraction with a positive denominator, compared exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fraction {
    numerator: i64,
    denominator: i64,
}

impl PartialOrd for Fraction {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Fraction {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.numerator * other.denominator).cmp(&(other.numerator * self.denominator))
    }
}

/// Shrinks the draining ReplicaSet by `excess`, but not below its desired count.
fn shrunk(rs: Option<ReplicaCounts>, desired: i32, excess: i32, current: i32) -> i32 {
    match rs {
        Some(rs) if rs.spec > desired => desired.max(rs.spec - excess),
        _ => current,
    }
}

/// Keeps the pair within `max_total` pods and `min_available` available pods: the adjusted
/// side gives up what exceeds the surge limit, takes back what availability needs, and the
/// draining side absorbs any remaining excess. Returns (drain, adjust).
fn within_limits(
    drain: Option<ReplicaCounts>,
    adjust: Option<ReplicaCounts>,
    mut drain_count: i32,
    mut adjust_count: i32,
    max_total: i32,
    min_available: i32,
) -> (i32, i32) {
    let Some(adjust) = adjust else {
        return (drain_count, adjust_count);
    };
    let over_limit = (adjust_count + drain_count - max_total).max(0);
    adjust_count -= over_limit;
    let drain_available = drain.map_or(0, |rs| rs.available.min(drain_count));
    let available = drain_available + adjust.available.min(adjust_count);
    let lost_availability = (adjust.available - adjust_count).max(0);
    let needed = (min_available - available).max(0);
    adjust_count += lost_availability.min(needed);
    drain_count -= (adjust_count + drain_count - max_total).max(0);
    (drain_count, adjust_count)
}

fn narrow(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests;
