//! One tick's figures, as the Measure stage computes them and `metrics.csv`, the ledger and the view carry them.
//!
//! The struct is declared through [`tick_metrics!`], which also derives the CSV vocabulary from the same field list:
//! the scalar column names are the field names, and each per-campaign field names its column prefix beside its
//! type. So a new figure is written once, here, and `metrics.csv`, the ledger's `ticks.metrics` JSON and the
//! experiment tables all pick it up.

use serde::{Deserialize, Serialize};

/// How one value is written in a CSV cell: counts as integers, shares with six decimals, an undefined share as an
/// empty cell.
pub trait MetricCell {
    fn cell(&self) -> String;
}

impl MetricCell for u32 {
    fn cell(&self) -> String {
        self.to_string()
    }
}

impl MetricCell for u64 {
    fn cell(&self) -> String {
        self.to_string()
    }
}

impl MetricCell for f64 {
    fn cell(&self) -> String {
        format!("{self:.6}")
    }
}

impl<T: MetricCell> MetricCell for Option<T> {
    fn cell(&self) -> String {
        self.as_ref().map(MetricCell::cell).unwrap_or_default()
    }
}

/// Declares [`TickMetrics`] and its column vocabulary from one list. Scalars become one column each, named as the
/// field; a per-campaign field `name as "prefix": T` is a `Vec<T>` with one entry per campaign, written as the
/// columns `prefix_<campaign>`.
macro_rules! tick_metrics {
    (
        $(#[$struct_meta:meta])*
        pub struct $name:ident {
            scalars {
                $( $(#[$scalar_meta:meta])* $scalar:ident : $scalar_ty:ty, )*
            }
            per_campaign {
                $( $(#[$campaign_meta:meta])* $campaign:ident as $prefix:literal : $campaign_ty:ty, )*
            }
        }
    ) => {
        $(#[$struct_meta])*
        pub struct $name {
            $( $(#[$scalar_meta])* pub $scalar: $scalar_ty, )*
            $( $(#[$campaign_meta])* pub $campaign: Vec<$campaign_ty>, )*
        }

        impl $name {
            /// The scalar columns of `metrics.csv`, in order.
            pub const SCALAR_COLUMNS: &'static [&'static str] = &[$(stringify!($scalar)),*];
            /// The per-campaign column groups, in order: each is `<prefix>_<campaign name>` for every campaign.
            pub const CAMPAIGN_COLUMNS: &'static [&'static str] = &[$($prefix),*];

            /// Every cell of this tick's row, in the order of [`Self::column_names`].
            pub fn cells(&self) -> Vec<String> {
                let mut cells = vec![$(self.$scalar.cell()),*];
                $( cells.extend(self.$campaign.iter().map(MetricCell::cell)); )*
                cells
            }
        }
    };
}

tick_metrics! {
    /// One tick's figures. Counts are for this tick; ratios are `None` where undefined.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default)]
    pub struct TickMetrics {
        scalars {
            tick: u32,
            attack_samples: u64,
            true_positive: u64,
            false_positive: u64,
            false_negative: u64,
            true_negative: u64,
            attack_blocked: u64,
            normal_blocked: u64,
            attack_through: u64,
            detection_precision: Option<f64>,
            detection_recall: Option<f64>,
            /// The harmonic mean of this tick's detection precision and recall; `None` where either is.
            detection_f1: Option<f64>,
            /// Normal samples at honest live agents that their forest flagged or their blacklist blocked, over all
            /// their normal samples; `None` with none.
            false_positive_rate: Option<f64>,
            signatures_proposed: u64,
            signatures_accepted_true: u64,
            signatures_accepted_false: u64,
            signatures_rejected: u64,
            signatures_expired: u64,
            signatures_refused: u64,
            /// Signatures proposed so far and not yet settled, at the end of this tick (a level, not a count of
            /// events).
            signatures_pending: u64,
            ballots_cast: u64,
            messages_sent: u64,
            messages_announce: u64,
            messages_ballot: u64,
            messages_decision: u64,
            messages_lost: u64,
            messages_in_flight: u64,
            honest_live_agents: u64,
            compromised_agents: u64,
            /// Honest agents whose blacklist holds a signature of normal traffic.
            false_blacklist_agents: u64,
            /// Of honest live agents, the share whose blacklist holds a signature of normal traffic.
            false_blacklist_share: Option<f64>,
            /// Mean trust (the reputation the consensus rules weigh ballots by) of honest agents minus that of
            /// Byzantine agents; `None` unless there are both.
            trust_gap: Option<f64>,
        }
        per_campaign {
            /// Per campaign: share of honest live agents immune to it (their blacklist blocks at least
            /// `immunity.block_share` of its probe samples).
            immune_fraction as "immune_fraction": f64,
            /// Per campaign: share of all agents it has reached.
            reached_fraction as "reached_fraction": f64,
            /// Per campaign: share of this tick's samples of it, at honest live agents, that blacklists blocked;
            /// `None` when it sent none.
            blocked_fraction as "blocked_fraction": Option<f64>,
            /// Per campaign: honest live agents with at least one of its samples past their blacklist this tick.
            compromised_by as "compromised": u64,
            /// Per campaign: of those, the agents counted immune to it (immune, yet still leaking).
            immune_leaking as "immune_leaking": u64,
            /// Per campaign: its samples at honest live agents that got past the blacklist and that the forest
            /// flagged.
            detected_by as "detected": u64,
            /// Per campaign: its mutations so far (0 until an evasive campaign first mutates; level).
            variant_of as "variant": u64,
        }
    }
}

impl TickMetrics {
    /// The column names of `metrics.csv` for these campaigns: the scalars, then each per-campaign group.
    pub fn column_names(campaigns: &[String]) -> Vec<String> {
        let mut columns: Vec<String> = Self::SCALAR_COLUMNS.iter().map(|c| c.to_string()).collect();
        for prefix in Self::CAMPAIGN_COLUMNS {
            columns.extend(campaigns.iter().map(|name| format!("{prefix}_{name}")));
        }
        columns
    }

    pub fn caught(&self) -> u64 {
        self.true_positive + self.attack_blocked
    }
    pub fn flagged(&self) -> u64 {
        self.true_positive + self.false_positive + self.attack_blocked + self.normal_blocked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_has_a_cell_and_the_per_campaign_ones_follow_the_campaigns() {
        let campaigns = vec!["port_scan".to_string(), "ddos".to_string()];
        let columns = TickMetrics::column_names(&campaigns);
        assert!(columns.join(",").contains(
            "immune_fraction_port_scan,immune_fraction_ddos,reached_fraction_port_scan,reached_fraction_ddos,\
             blocked_fraction_port_scan"
        ));
        let m = TickMetrics {
            tick: 3,
            detection_precision: Some(0.25),
            immune_fraction: vec![0.5, 0.0],
            reached_fraction: vec![1.0, 0.0],
            blocked_fraction: vec![Some(0.5), None],
            compromised_by: vec![2, 0],
            immune_leaking: vec![1, 0],
            detected_by: vec![3, 0],
            variant_of: vec![0, 0],
            ..Default::default()
        };
        let cells = m.cells();
        assert_eq!(columns.len(), cells.len());
        let cell = |name: &str| &cells[columns.iter().position(|c| c == name).unwrap()];
        assert_eq!(cell("tick"), "3");
        assert_eq!(cell("detection_precision"), "0.250000");
        assert_eq!(
            cell("detection_recall"),
            "",
            "an undefined share is an empty cell"
        );
        assert_eq!(cell("blocked_fraction_ddos"), "");
        assert_eq!(cell("compromised_port_scan"), "2");
    }

    #[test]
    fn the_readme_defines_every_column() {
        let readme = include_str!("../../README.md");
        for column in TickMetrics::SCALAR_COLUMNS {
            assert!(
                readme.contains(&format!("`{column}`")),
                "README's Metrics section does not define `{column}`"
            );
        }
        for prefix in TickMetrics::CAMPAIGN_COLUMNS {
            assert!(
                readme.contains(&format!("`{prefix}_<c>`")),
                "README's Metrics section does not define `{prefix}_<c>`"
            );
        }
    }
}
