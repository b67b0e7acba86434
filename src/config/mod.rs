//! `SimConfig`: every knob of a run, as plain serde data written in RON, with validation that names the field, the
//! value and the accepted range. No Bevy here; the simulation copies what it needs into resources.

pub mod interventions;
pub mod load;
mod ron_json;
pub mod set;
mod validate;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use interventions::Intervention;
pub use load::{ConfigSource, load_config};
pub use validate::InvalidField;

/// Largest run we accept; beyond this memory, not the code, is the limit on this kind of machine.
pub const MAX_AGENTS: usize = 1_000_000;
pub const MAX_STEPS: u32 = 10_000_000;
/// Largest full mesh we build (about 12.5 million links).
pub const MAX_FULL_MESH_AGENTS: usize = 5_000;
/// Number of named traffic features (see `sim::traffic::FEATURE_NAMES`).
pub const FEATURE_COUNT: usize = 8;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    pub simulation: SimulationConfig,
    pub network: NetworkConfig,
    pub traffic: TrafficConfig,
    pub detector: DetectorConfig,
    pub signatures: SignatureConfig,
    pub vote: VoteConfig,
    pub consensus: ConsensusConfig,
    pub faults: FaultsConfig,
    pub immunity: ImmunityConfig,
    pub output: OutputConfig,
    /// What is done to the run while it runs, by tick: a teacher's clicks, or a script. Left out of the RON while
    /// empty, so a run without any keeps the config hash it always had.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interventions: Vec<(u32, Intervention)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulationConfig {
    pub agents: usize,
    /// Ticks to run.
    pub steps: u32,
    pub seed: u64,
    /// Traffic samples each agent observes per tick.
    pub samples_per_tick: usize,
}

impl Default for SimulationConfig {
    fn default() -> Self {
        Self {
            agents: 100,
            steps: 300,
            seed: 42,
            samples_per_tick: 8,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topology {
    Ring,
    Grid,
    ErdosRenyi,
    WattsStrogatz,
    BarabasiAlbert,
    FullMesh,
}

impl Topology {
    pub const NAMES: &'static str =
        "ring, grid, erdos_renyi, watts_strogatz, barabasi_albert, full_mesh";
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    pub topology: Topology,
    /// Watts–Strogatz: each node links to its `neighbours` nearest on the ring (even).
    pub neighbours: usize,
    /// Watts–Strogatz: chance each ring link is rewired.
    pub rewire_probability: f64,
    /// Erdős–Rényi: chance of each possible link.
    pub edge_probability: f64,
    /// Barabási–Albert: links each new node makes to existing ones.
    pub attach: usize,
    /// Ticks a message spends on one hop.
    pub latency: u32,
    /// Chance a message is lost on a hop.
    pub loss: f64,
    /// Neighbours a message is forwarded to; 0 forwards to all (flooding).
    pub fan_out: usize,
    /// Hops an announcement or decision may travel.
    pub ttl: u32,
    /// How each link's latency is drawn: `constant` (every link takes `latency` ticks), `uniform(min, max)` or
    /// `log_normal(median, sigma)`, drawn once per link from the run seed.
    pub latency_distribution: LatencyDistribution,
    /// Messages a link carries per tick in each direction; the excess waits in the link's queue. 0: no limit.
    pub bandwidth: u32,
}

/// How link latencies are drawn (whole ticks, at least 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyDistribution {
    /// Every link takes `network.latency` ticks.
    #[default]
    Constant,
    /// Each link takes between `min` and `max` ticks, uniformly.
    Uniform { min: u32, max: u32 },
    /// Each link takes a log-normal number of ticks with this median and log-space sigma (rounded, at least 1, at
    /// most `LOG_NORMAL_MAX_SIGMAS` sigmas above the median).
    LogNormal { median: f64, sigma: f64 },
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            topology: Topology::WattsStrogatz,
            neighbours: 6,
            rewire_probability: 0.1,
            edge_probability: 0.05,
            attach: 3,
            latency: 1,
            loss: 0.0,
            fan_out: 0,
            ttl: 64,
            latency_distribution: LatencyDistribution::Constant,
            bandwidth: 0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignKind {
    PortScan,
    Ddos,
    Exfiltration,
    BruteForce,
    /// A label of a flow file (`traffic.source`): its samples are the file's rows, not a shift of normal traffic.
    Recorded,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CampaignConfig {
    pub name: String,
    pub kind: CampaignKind,
    pub start_tick: u32,
    /// Agents the campaign hits first.
    pub origins: Vec<usize>,
    /// Fraction of a reached agent's samples that are attack traffic.
    pub intensity: f64,
    /// Per-tick chance that a compromised agent passes the campaign to each neighbour.
    pub spread_probability: f64,
    /// Shift of the attack traffic from normal, in standard deviations per feature; empty uses the kind's preset.
    pub shift: Vec<f32>,
    /// Drift: the shift moves by this much per feature every tick from the start (empty: it stays put).
    pub drift: Vec<f32>,
    /// Low and slow: the intensity ramps up linearly from nothing to `intensity` over this many ticks from the
    /// start (0: full intensity at once).
    pub ramp_ticks: u32,
    /// Evasion: the campaign mutates to a new shift once a share of honest live agents blocks it.
    pub evasion: Option<EvasionConfig>,
}

/// How a campaign evades the blacklists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvasionConfig {
    /// It mutates once this share of honest live agents is immune to it.
    pub at_share: f64,
    /// How far each mutation moves the shift, in standard deviations, in a direction drawn from the run seed.
    pub distance: f32,
    /// At most this many mutations.
    pub mutations: u32,
}

impl Default for EvasionConfig {
    fn default() -> Self {
        Self {
            at_share: 0.5,
            distance: 3.0,
            mutations: 1,
        }
    }
}

impl Default for CampaignConfig {
    fn default() -> Self {
        Self {
            name: "port_scan".into(),
            kind: CampaignKind::PortScan,
            start_tick: 40,
            origins: vec![0],
            intensity: 0.4,
            spread_probability: 0.05,
            shift: Vec::new(),
            drift: Vec::new(),
            ramp_ticks: 0,
            evasion: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrafficConfig {
    /// How far each agent's normal profile sits from the network baseline, in standard deviations.
    pub profile_spread: f32,
    /// Noise of attack samples around the campaign's shifted mean, in standard deviations.
    pub attack_noise: f32,
    pub campaigns: Vec<CampaignConfig>,
    /// Where samples come from: the generator (profiles and the campaigns above), or a CSV of flow records, whose
    /// labels then become the campaigns.
    pub source: TrafficSource,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        Self {
            profile_spread: 0.3,
            attack_noise: 0.5,
            campaigns: vec![CampaignConfig::default()],
            source: TrafficSource::Generator,
        }
    }
}

/// Where an agent's samples come from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrafficSource {
    #[default]
    Generator,
    /// Boxed: the resolved statistics make it large, and most configs have none.
    Flows(Box<FlowSource>),
}

/// A CSV of flow records in the CICFlowMeter shape (CIC-IDS2017/2018), read as the agents' traffic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowSource {
    pub path: String,
    /// Feature columns by name (spaces around header names are ignored); empty: every numeric column.
    pub features: Vec<String>,
    /// The ground-truth column: `benign` is normal traffic, every other value a campaign named after it.
    pub label: String,
    pub benign: String,
    /// Which agent sees a row.
    pub assign: FlowAssign,
    /// What becomes of a row with an `Infinity` or `NaN` feature cell.
    pub bad_cells: BadCells,
    /// What the file held when the config was resolved (filled by DAIS, not written by hand).
    pub resolved: Option<ResolvedFlows>,
}

impl Default for FlowSource {
    fn default() -> Self {
        Self {
            path: String::new(),
            features: Vec::new(),
            label: "Label".into(),
            benign: "BENIGN".into(),
            assign: FlowAssign::RoundRobin,
            bad_cells: BadCells::Drop,
            resolved: None,
        }
    }
}

/// How rows are dealt to agents: each tick takes the next `agents × samples_per_tick` rows of the file, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowAssign {
    /// Row i of the tick's block goes to agent i mod agents: exactly `samples_per_tick` each.
    #[default]
    RoundRobin,
    /// By a hash of this column's text (a destination IP, say): the same host always lands on the same agent, and
    /// agents get `samples_per_tick` on average.
    Hash(String),
}

/// What an `Infinity` or `NaN` feature cell does to its row (they are counted either way).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BadCells {
    /// The row is skipped.
    #[default]
    Drop,
    /// Infinity becomes the column's largest (or smallest) finite benign value, NaN its benign mean.
    Clamp,
}

/// A flow file as a run reads it: the rows it uses, their digest, the feature columns and their benign statistics,
/// and the attack labels in order of first appearance (the campaigns). Stored in the config, so the ledger holds
/// what defines the run's traffic, and a replay reads the file the same way.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResolvedFlows {
    /// SHA-256 of the bytes the run reads: the header line and its rows, up to the last row's line ending (which
    /// the CSV reader has not consumed when the last row is read).
    pub sha256: String,
    /// Data rows the run reads (`steps × agents × samples_per_tick`, or the whole file if shorter).
    pub rows: u64,
    pub columns: Vec<String>,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    pub min: Vec<f64>,
    pub max: Vec<f64>,
    pub labels: Vec<String>,
    pub infinite_cells: u64,
    pub nan_cells: u64,
    pub dropped_rows: u64,
}

/// scikit-learn's `contamination`: `"auto"` or a fraction in (0, 0.5].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ContaminationSetting {
    Auto,
    Fraction(f64),
}

impl Serialize for ContaminationSetting {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Auto => serializer.serialize_str("auto"),
            Self::Fraction(f) => serializer.serialize_f64(*f),
        }
    }
}

impl<'de> Deserialize<'de> for ContaminationSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(f) => Ok(Self::Fraction(f)),
            Raw::Text(t) if t.eq_ignore_ascii_case("auto") => Ok(Self::Auto),
            Raw::Text(t) => t.parse().map(Self::Fraction).map_err(|_| {
                serde::de::Error::custom(format!(
                    "contamination must be \"auto\" or a number, got {t:?}"
                ))
            }),
        }
    }
}

impl From<ContaminationSetting> for crate::ml::Contamination {
    fn from(value: ContaminationSetting) -> Self {
        match value {
            ContaminationSetting::Auto => Self::Auto,
            ContaminationSetting::Fraction(f) => Self::Fraction(f),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    pub trees: usize,
    pub subsample: usize,
    pub contamination: ContaminationSetting,
    /// Ticks between retrains of an agent's forest (staggered across agents).
    pub retrain_period: u32,
    /// Ticks of traffic collected before the first fit; nothing is scored before.
    pub warmup: u32,
    /// Samples kept in the training window.
    pub window: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            trees: 50,
            subsample: 128,
            contamination: ContaminationSetting::Fraction(0.01),
            retrain_period: 50,
            warmup: 20,
            window: 256,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignatureConfig {
    /// Anomalies a cluster needs before it is proposed as a signature.
    pub min_support: u32,
    /// Cosine similarity above which an anomaly joins a cluster, and above which two signatures are the same.
    pub merge_similarity: f32,
    /// Ticks an anomaly cluster lives without new support.
    pub cluster_ttl: u32,
    /// A sample is blocked when its spread-scaled distance to a blacklisted centroid is at most this.
    pub match_radius: f32,
    /// Floor on a signature's spread, in standard deviations.
    pub min_spread: f32,
    /// Ticks an agent waits between two proposals.
    pub cooldown: u32,
}

impl Default for SignatureConfig {
    fn default() -> Self {
        Self {
            min_support: 6,
            merge_similarity: 0.9,
            cluster_ttl: 20,
            match_radius: 2.5,
            min_spread: 0.25,
            cooldown: 10,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoteRule {
    /// Yes when the centroid is anomalous to the voter's model, or similar to its recent anomalies.
    AnomalousOrSimilar,
    AnomalousOnly,
    SimilarOnly,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoteConfig {
    pub rule: VoteRule,
    /// Added to the voter's own threshold: a centroid must score this much above it to count as anomalous.
    pub anomaly_margin: f64,
    /// Cosine similarity to one of the voter's recent anomalies that counts as evidence.
    pub similarity: f32,
    /// Recent anomalies each agent remembers as evidence.
    pub evidence_memory: usize,
}

impl Default for VoteConfig {
    fn default() -> Self {
        Self {
            rule: VoteRule::AnomalousOrSimilar,
            anomaly_margin: 0.02,
            similarity: 0.9,
            evidence_memory: 32,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsensusRule {
    /// More yes than no among the ballots, with at least `min_turnout` of the electorate voting.
    Majority,
    /// At least `quorum` yes ballots.
    Quorum,
    /// Beta-trust-weighted yes share above `reputation_threshold`, with `min_turnout`.
    ReputationWeighted,
    /// At least 2f+1 yes of n = 3f+1 agents.
    Bft,
    /// Agent `authority` decides alone; if it crashes nothing is decided.
    CentralAuthority,
    /// BFT within a seeded random committee of `committee_size` agents per signature (Algorand-style sortition:
    /// anyone can recompute it from the signature and the run seed), so voting costs O(c) whatever n is.
    Committee,
    /// Avalanche's Snowball: every agent repeatedly asks `snowball.k` random peers; `snowball.alpha` agreeing
    /// answers are a success, and `snowball.beta` consecutive successes decide. No tallier, no certificate.
    Snowball,
}

impl ConsensusRule {
    pub const NAMES: &'static str =
        "majority, quorum, reputation_weighted, bft, central_authority, committee, snowball";
}

/// Snowball's parameters (Rocket et al., "Scalable and Probabilistic Leaderless BFT Consensus through
/// Metastability", 2019): a round asks `k` peers drawn uniformly from the network; `alpha` of them agreeing on a
/// value is a success for it; `beta` consecutive successes for the same value decide it. A colluding share p
/// stays harmless while p * k is well below `alpha`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SnowballConfig {
    pub k: usize,
    pub alpha: usize,
    pub beta: u32,
}

impl Default for SnowballConfig {
    fn default() -> Self {
        Self {
            k: 10,
            alpha: 7,
            beta: 8,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsensusConfig {
    pub rule: ConsensusRule,
    /// Ticks a proposer collects ballots before the signature expires.
    pub voting_window: u32,
    /// k for the quorum rule.
    pub quorum: usize,
    /// Fraction of the electorate that must vote (majority and reputation-weighted).
    pub min_turnout: f64,
    /// Weighted yes share needed by the reputation-weighted rule.
    pub reputation_threshold: f64,
    /// The deciding agent of the central-authority rule.
    pub authority: usize,
    /// Agents drawn per signature by the committee rule (all of them when the network is smaller).
    pub committee_size: usize,
    pub snowball: SnowballConfig,
    /// How each agent's trust follows its ballots: `beta` counts every agreement and disagreement with the
    /// certified outcome forever; `dirichlet(forgetting: 0.9)` discounts the evidence so far by the factor at each
    /// new ballot (Fung et al., TNSM 2011), so trust follows recent behaviour.
    pub trust: TrustModel,
}

/// How trust is kept (see `ConsensusConfig::trust`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustModel {
    #[default]
    Beta,
    Dirichlet {
        forgetting: f64,
    },
}

impl Default for ConsensusConfig {
    fn default() -> Self {
        Self {
            rule: ConsensusRule::Bft,
            voting_window: 30,
            quorum: 10,
            min_turnout: 0.5,
            reputation_threshold: 0.5,
            authority: 0,
            committee_size: 31,
            snowball: SnowballConfig::default(),
            trust: TrustModel::Beta,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ByzantineStrategy {
    AlwaysYes,
    AlwaysNo,
    /// Publishes fake signatures made from normal traffic.
    Forge,
    /// Forges, and votes yes for every forgery of the colluding group.
    Collude,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultsConfig {
    pub byzantine_fraction: f64,
    pub byzantine_strategy: ByzantineStrategy,
    pub crash_fraction: f64,
    pub crash_tick: u32,
    /// Crash and recover: each live agent crashes with this chance per tick and is down for a geometric number of
    /// ticks with this mean; back up, it asks its neighbours for the decisions it missed.
    pub churn: ChurnConfig,
    /// Crashes aimed at a tick: the best-connected hubs, the authority, or a list of agents. They do not recover.
    pub targeted_crashes: Vec<TargetedCrash>,
    /// Cuts that split the network from `tick` until `heal`: no message crosses them.
    pub partitions: Vec<PartitionConfig>,
    /// Groups of insiders, each with its own strategy, drawn after the Byzantine and crashing agents above (so
    /// adding a group never changes who those are). A scenario can mix them.
    pub adversaries: Vec<AdversaryGroup>,
}

/// Agents that share an adversary strategy: `count` of them plus `fraction` of `simulation.agents`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdversaryGroup {
    #[serde(default)]
    pub fraction: f64,
    #[serde(default)]
    pub count: usize,
    pub strategy: Adversary,
}

/// What an adversary group does. The four Byzantine strategies of `faults.byzantine_strategy` are here too, so a
/// scenario can mix them with the rest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Adversary {
    AlwaysYes,
    AlwaysNo,
    Forge,
    Collude,
    /// Honest, and so gaining reputation, until tick `at`; from then on the strategy `then`.
    Betrayal {
        at: u32,
        then: ByzantineStrategy,
    },
    /// Honest for `honest` ticks, then `strategy` for `malicious` ticks, over and over, starting honest.
    OnOff {
        honest: u32,
        malicious: u32,
        strategy: ByzantineStrategy,
    },
    /// Plays `strategy`; at tick `at` each attacker brings `identities` new agents, linked to it and to its
    /// neighbours, that play the same strategy. They count in the electorate from the start (absent, like crashed
    /// agents, until they join).
    Sybil {
        at: u32,
        identities: usize,
        strategy: ByzantineStrategy,
    },
    /// Votes honestly, but drops what it should relay: everything, or one kind of message.
    SelectiveForwarding {
        drop: Dropped,
    },
    /// Plays `strategy`; whenever its trust falls below `threshold` it leaves and rejoins under a new identity,
    /// with the fresh trust of a newcomer.
    Whitewashing {
        threshold: f64,
        strategy: ByzantineStrategy,
    },
    /// Votes honestly, but until `campaign` starts it slips `samples_per_tick` of that campaign's samples into
    /// each neighbour's training window, so its forest learns them as normal.
    Poisoning {
        campaign: usize,
        samples_per_tick: usize,
    },
}

/// What a selective forwarder drops on the way through (its own messages still go out).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dropped {
    All,
    Announcements,
    Ballots,
    Decisions,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChurnConfig {
    /// Chance per tick that a live agent crashes (0: no churn).
    pub crash_probability: f64,
    /// Mean ticks a churned agent stays down.
    pub mean_downtime: u32,
}

impl Default for ChurnConfig {
    fn default() -> Self {
        Self {
            crash_probability: 0.0,
            mean_downtime: 20,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetedCrash {
    pub tick: u32,
    pub target: CrashTarget,
}

/// Who a targeted crash takes down.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrashTarget {
    /// The `k` agents with the most links (ties: the lower index).
    Hubs(usize),
    /// `consensus.authority`.
    Authority,
    /// These agents.
    Agents(Vec<usize>),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionConfig {
    /// The first tick of the cut.
    pub tick: u32,
    /// The first tick messages cross again.
    pub heal: u32,
    pub cut: Cut,
}

/// Which agents a partition puts on its far side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cut {
    /// Half the agents: a breadth-first region grown from an agent drawn from the run seed, so each side holds
    /// together as a place in the network would.
    Bisection,
    /// These agents, against the rest.
    Agents(Vec<usize>),
}

impl Default for FaultsConfig {
    fn default() -> Self {
        Self {
            byzantine_fraction: 0.0,
            byzantine_strategy: ByzantineStrategy::Collude,
            crash_fraction: 0.0,
            crash_tick: 150,
            churn: ChurnConfig::default(),
            targeted_crashes: Vec::new(),
            partitions: Vec::new(),
            adversaries: Vec::new(),
        }
    }
}

/// What "immune" means, measured against ground truth rather than assumed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImmunityConfig {
    /// Probe samples drawn once per run (seeded) from each campaign's distribution, attack noise included, and
    /// placed at each agent's profile.
    pub probes: usize,
    /// An agent is immune to a campaign when its blacklist blocks at least this share of those probes.
    pub block_share: f64,
    /// A campaign is beaten network-wide (time to immunity) once this share of honest live agents is immune.
    pub level: f64,
}

impl Default for ImmunityConfig {
    fn default() -> Self {
        Self {
            probes: 64,
            block_share: 0.95,
            level: 0.9,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct OutputConfig {
    /// Directory for metrics.csv, summary.json, config.ron and ledger.db (the `--out` flag sets it; `--ledger PATH`
    /// records the ledger elsewhere).
    pub dir: Option<String>,
}

impl AdversaryGroup {
    /// How many agents of a network of `agents` the group takes.
    pub fn size(&self, agents: usize) -> usize {
        self.count + (self.fraction * agents as f64).round() as usize
    }

    /// The identities each member brings when it is a Sybil attacker (0 otherwise).
    pub fn sybil_identities(&self) -> usize {
        match self.strategy {
            Adversary::Sybil { identities, .. } => identities,
            _ => 0,
        }
    }
}

impl SimConfig {
    /// Every identity the run will have: `simulation.agents`, plus the identities Sybil attackers bring. Sybil
    /// identities take the indices after the real agents, group by group, attacker by attacker.
    pub fn population(&self) -> usize {
        self.population_at(u32::MAX)
    }

    /// The identities that have joined by `tick`, who make up the electorate then: Sybil identities count from
    /// the tick their attacker brings them in.
    pub fn population_at(&self, tick: u32) -> usize {
        let agents = self.simulation.agents;
        agents
            + self
                .faults
                .adversaries
                .iter()
                .filter(|g| matches!(g.strategy, Adversary::Sybil { at, .. } if at <= tick))
                .map(|g| g.size(agents) * g.sybil_identities())
                .sum::<usize>()
    }

    /// The config as pretty RON, the form `dais config show` prints and the ledger stores.
    pub fn to_ron(&self) -> String {
        let pretty = ron::ser::PrettyConfig::new().struct_names(false);
        ron::ser::to_string_pretty(self, pretty).expect("SimConfig always serialises")
    }

    /// Stable hash of the effective config (SHA-256 of its RON), for summaries and ledgers.
    pub fn hash_hex(&self) -> String {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(self.to_ron().as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip_through_ron() {
        let config = SimConfig::default();
        config.validate().unwrap();
        let back: SimConfig = ron::from_str(&config.to_ron()).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn contamination_reads_auto_and_numbers() {
        let d: DetectorConfig = ron::from_str("(contamination: \"auto\")").unwrap();
        assert_eq!(d.contamination, ContaminationSetting::Auto);
        let d: DetectorConfig = ron::from_str("(contamination: 0.1)").unwrap();
        assert_eq!(d.contamination, ContaminationSetting::Fraction(0.1));
        assert!(ron::from_str::<DetectorConfig>("(contamination: \"lots\")").is_err());
    }
}
