//! Reading weighted destination lists (a route's, a TrafficSplit's, a forward action's) that
//! may send traffic to experiment Services besides the canary and the stable: the canary's
//! weight they carry — its own, and what the stable's and the others' leave it — and the
//! others' weights by Service.

use std::collections::BTreeMap;

use super::json;

/// Who a destination is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination<'a> {
    /// The canary.
    Canary,
    /// The stable.
    Stable,
    /// Any other Service (an experiment's, or one to remove).
    Other(&'a str),
}

/// What the lists of one object carry, added one by one.
#[derive(Debug, Default)]
pub struct Splits {
    canary: Vec<Option<i32>>,
    others: Vec<BTreeMap<String, Option<i32>>>,
}

impl Splits {
    /// Adds one list, with `max_weight` the weight of all traffic.
    pub fn add<'a>(
        &mut self,
        max_weight: i32,
        destinations: impl IntoIterator<Item = (Destination<'a>, Option<i32>)>,
    ) {
        let mut stable = Vec::new();
        let mut others = BTreeMap::new();
        for (destination, weight) in destinations {
            match destination {
                Destination::Canary => self.canary.push(weight),
                Destination::Stable => stable.push(weight),
                Destination::Other(service) => {
                    others.insert(service.to_owned(), weight);
                }
            }
        }
        let others_total: Option<i32> = others.values().copied().sum();
        for weight in stable {
            let left = weight
                .zip(others_total)
                .map(|(stable, others)| max_weight - stable - others);
            self.canary.push(left);
        }
        self.others.push(others);
    }

    /// The canary's weight, when every list agrees on it and on the other destinations'
    /// weights (all readable); and the other destinations' weights by Service.
    pub fn read(self) -> (Option<i32>, BTreeMap<String, i32>) {
        let first = self.others.first().cloned().unwrap_or_default();
        let others: Option<BTreeMap<String, i32>> = first
            .into_iter()
            .map(|(service, weight)| Some((service, weight?)))
            .collect();
        let agree = self.others.windows(2).all(|pair| pair[0] == pair[1]);
        match others {
            Some(others) if agree => (json::agreed(self.canary), others),
            _ => (None, BTreeMap::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stable_leaves_the_canary_what_the_others_do_not_take() {
        let mut splits = Splits::default();
        splits.add(
            100,
            [
                (Destination::Canary, Some(10)),
                (Destination::Stable, Some(70)),
                (Destination::Other("exp-a"), Some(20)),
            ],
        );
        assert_eq!(
            splits.read(),
            (Some(10), BTreeMap::from([("exp-a".to_owned(), 20)]))
        );
    }

    #[test]
    fn lists_that_disagree_on_the_canary_or_the_others_carry_no_weight() {
        let mut canary_differs = Splits::default();
        canary_differs.add(
            100,
            [
                (Destination::Canary, Some(10)),
                (Destination::Stable, Some(90)),
            ],
        );
        canary_differs.add(
            100,
            [
                (Destination::Canary, Some(20)),
                (Destination::Stable, Some(80)),
            ],
        );
        assert_eq!(canary_differs.read().0, None);

        let mut others_differ = Splits::default();
        others_differ.add(
            100,
            [
                (Destination::Canary, Some(10)),
                (Destination::Stable, Some(70)),
                (Destination::Other("exp-a"), Some(20)),
            ],
        );
        others_differ.add(
            100,
            [
                (Destination::Canary, Some(10)),
                (Destination::Stable, Some(90)),
            ],
        );
        assert_eq!(others_differ.read(), (None, BTreeMap::new()));

        let mut unreadable = Splits::default();
        unreadable.add(
            100,
            [
                (Destination::Canary, Some(10)),
                (Destination::Stable, Some(70)),
                (Destination::Other("exp-a"), None),
            ],
        );
        assert_eq!(unreadable.read(), (None, BTreeMap::new()));
    }

    #[test]
    fn nothing_read_carries_nothing() {
        assert_eq!(Splits::default().read(), (None, BTreeMap::new()));
    }
}
