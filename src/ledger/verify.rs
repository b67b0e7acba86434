//! `dais ledger verify`: walks every row of every table in chain order, recomputing each hash, and checks that
//! the rows tell one consistent story: the run row first, its agents, then each tick's signatures, ballots,
//! decisions and outcomes followed by the tick's own row (whose counts and metrics must follow from those rows)
//! and its frame, and at the end a closing row whose totals must follow from all of them. Without a closing row
//! the ledger is reported incomplete. The walk merges the tables by `seq` through one cursor each, so memory
//! grows with the number of signatures, not with the ballots or frames.

use std::collections::HashMap;

use rusqlite::Connection;
use rusqlite::types::{Value, ValueRef};

use super::schema::{self, Table};
use super::sqlite::schema_version;
use super::{Frame, LedgerTotals};
use crate::model::Outcome;

/// What a verification found when the chain and every check held.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyReport {
    pub schema: i64,
    /// Ticks recorded.
    pub ticks: u64,
    /// Ticks the run was configured for (schema 2; read from the recorded config).
    pub steps: Option<u64>,
    pub chained_rows: u64,
    pub head_hash: String,
    /// The run finished: its closing row is present and holds.
    pub closed: bool,
}

impl VerifyReport {
    /// The line `dais ledger verify` prints for a chain that holds: ok, or incomplete (no closing row).
    pub fn line(&self) -> String {
        if self.schema >= 2 && !self.closed {
            format!(
                "ledger incomplete: {} of {} ticks and no closing row (the run was stopped or the file cut); \
                 the {} rows present chain correctly, head hash {}",
                self.ticks,
                self.steps.unwrap_or(0),
                self.chained_rows,
                self.head_hash
            )
        } else {
            format!(
                "ledger ok: {} ticks, {} chained rows, head hash {}",
                self.ticks, self.chained_rows, self.head_hash
            )
        }
    }
}

/// The first thing wrong with a ledger.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("first broken row: {table} seq {seq}{}: {reason}", tick.map_or(String::new(), |t| format!(" (tick {t})")))]
    BrokenRow {
        table: String,
        seq: i64,
        tick: Option<i64>,
        reason: String,
    },
    #[error("row seq {0} is missing from the chain (deleted?)")]
    MissingRow(i64),
    #[error("append-only trigger {0} is missing")]
    MissingTrigger(String),
    #[error("tick {tick}: {what} recorded {recorded}, found {found}")]
    CountMismatch {
        tick: i64,
        what: String,
        recorded: i64,
        found: i64,
    },
    #[error("ticks are not contiguous: expected tick {expected}, found {found}")]
    TickGap { expected: i64, found: i64 },
    #[error("the closing row's {what} is {recorded}, but the rows give {found}")]
    TotalsMismatch {
        what: String,
        recorded: String,
        found: String,
    },
    #[error("cannot read the ledger: {0}")]
    Read(String),
}

pub(super) fn read(e: rusqlite::Error) -> Problem {
    Problem::Read(e.to_string())
}

/// Checks the whole ledger, of either schema; the first problem found is returned.
pub fn verify(conn: &Connection) -> Result<VerifyReport, Problem> {
    match schema_version(conn).map_err(read)? {
        1 => super::verify_v1::verify(conn),
        schema => verify_chain(conn, schema),
    }
}

/// One row read back: its table, its values in schema order, and its chain columns.
struct StoredRow {
    table: &'static Table,
    values: Vec<Value>,
    prev: Vec<u8>,
    hash: Vec<u8>,
}

impl StoredRow {
    fn value(&self, column: &str) -> &Value {
        let at = self
            .table
            .column_names()
            .position(|c| c == column)
            .expect("a column of the table");
        &self.values[at]
    }
    fn seq(&self) -> i64 {
        match self.value("seq") {
            Value::Integer(i) => *i,
            _ => i64::MAX,
        }
    }
    fn tick(&self) -> Option<i64> {
        self.table
            .column_names()
            .any(|c| c == "tick")
            .then(|| match self.value("tick") {
                Value::Integer(i) => *i,
                _ => -1,
            })
    }
    fn broken(&self, reason: impl Into<String>) -> Problem {
        Problem::BrokenRow {
            table: self.table.name.to_string(),
            seq: self.seq(),
            tick: self.tick(),
            reason: reason.into(),
        }
    }
    fn int(&self, column: &str) -> Result<i64, Problem> {
        match self.value(column) {
            Value::Integer(i) => Ok(*i),
            other => Err(self.broken(format!("{column} is not an integer: {other:?}"))),
        }
    }
    fn text(&self, column: &str) -> Result<&str, Problem> {
        match self.value(column) {
            Value::Text(t) => Ok(t),
            other => Err(self.broken(format!("{column} is not text: {other:?}"))),
        }
    }
    fn outcome(&self, column: &str) -> Result<Outcome, Problem> {
        let word = self.text(column)?;
        Outcome::parse(word).ok_or_else(|| self.broken(format!("unknown {column} {word:?}")))
    }
}

fn read_row(table: &'static Table, row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRow> {
    let width = table.columns.len();
    let values = (0..width)
        .map(|i| row.get::<_, Value>(i))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(StoredRow {
        table,
        values,
        prev: row.get(width)?,
        hash: row.get(width + 1)?,
    })
}

/// What one tick's rows added up to, before its `ticks` row states them.
#[derive(Default)]
struct TickTally {
    /// What was done to the run this tick.
    interventions: Vec<crate::config::Intervention>,
    signatures: i64,
    ballots: i64,
    decisions: i64,
    outcomes: i64,
    by_outcome: LedgerTotals,
}

/// The story the rows tell so far.
#[derive(Default)]
struct Story {
    agents: Option<i64>,
    steps: Option<i64>,
    /// The interventions the recorded config scripts, by tick: each must be among its tick's recorded ones.
    scripted: std::collections::BTreeMap<i64, Vec<crate::config::Intervention>>,
    agents_seen: i64,
    /// The last tick whose `ticks` row was read, and whether its frame followed.
    tick: i64,
    frame_done: bool,
    current: TickTally,
    totals: LedgerTotals,
    /// Each proposed signature: its ground truth and whether it was settled.
    signatures: HashMap<i64, (i64, bool)>,
    /// Each decision: its signature and what honest agents took it as.
    decisions: HashMap<i64, (i64, Outcome)>,
    closed: bool,
}

impl Story {
    fn follow(&mut self, row: &StoredRow) -> Result<(), Problem> {
        if self.closed {
            return Err(row.broken("a row after the closing row"));
        }
        let name = row.table.name;
        if name != "run" && self.agents.is_none() {
            return Err(row.broken("the run row must come first"));
        }
        let in_tick = matches!(
            name,
            "interventions" | "signatures" | "ballots" | "decisions" | "outcomes" | "ticks"
        );
        if in_tick {
            if self.agents_seen != self.agents.unwrap_or(0) {
                return Err(row.broken(format!(
                    "the run has {} agents but {} agent rows precede the first tick",
                    self.agents.unwrap_or(0),
                    self.agents_seen
                )));
            }
            if self.tick > 0 && !self.frame_done {
                return Err(row.broken(format!("tick {} has no frame row", self.tick)));
            }
            let tick = row.int("tick")?;
            if tick != self.tick + 1 {
                return Err(row.broken(format!(
                    "belongs to tick {tick}, but the ledger is at tick {}",
                    self.tick + 1
                )));
            }
        }
        match name {
            "run" => {
                if self.agents.is_some() {
                    return Err(row.broken("a second run row"));
                }
                let config: crate::config::SimConfig = ron::from_str(row.text("config_ron")?)
                    .map_err(|e| row.broken(format!("config_ron does not parse: {e}")))?;
                let agents = row.int("agents")?;
                if agents != config.population() as i64 {
                    return Err(row.broken(format!(
                        "agents = {agents}, but its config has {}",
                        config.population()
                    )));
                }
                if row.int("seed")? as u64 != config.simulation.seed {
                    return Err(row.broken(format!(
                        "seed = {}, but its config has {}",
                        row.int("seed")?,
                        config.simulation.seed
                    )));
                }
                self.agents = Some(agents);
                self.steps = Some(i64::from(config.simulation.steps));
                for (tick, action) in config.interventions {
                    self.scripted
                        .entry(i64::from(tick))
                        .or_default()
                        .push(action);
                }
            }
            "agents" => {
                if self.tick > 0 || self.current.signatures + self.current.ballots > 0 {
                    return Err(row.broken("an agent row after the first tick began"));
                }
                if row.int("idx")? != self.agents_seen {
                    return Err(row.broken(format!("expected agent {}", self.agents_seen)));
                }
                self.agents_seen += 1;
            }
            "interventions" => {
                if self.current.signatures + self.current.ballots + self.current.decisions > 0 {
                    return Err(row.broken("an intervention after the tick's other rows"));
                }
                let action: crate::config::Intervention = ron::from_str(row.text("action")?)
                    .map_err(|e| row.broken(format!("action does not parse: {e}")))?;
                if let Some(agent) = action
                    .agents()
                    .into_iter()
                    .find(|&a| a as i64 >= self.agents.unwrap_or(0))
                {
                    return Err(row.broken(format!(
                        "names agent {agent}, but the run has {}",
                        self.agents.unwrap_or(0)
                    )));
                }
                self.current.interventions.push(action);
            }
            "signatures" => {
                let sig = row.int("sig")?;
                if self
                    .signatures
                    .insert(sig, (row.int("truth")?, false))
                    .is_some()
                {
                    return Err(row.broken(format!("signature {sig} proposed twice")));
                }
                self.current.signatures += 1;
            }
            "ballots" => {
                if !self.signatures.contains_key(&row.int("sig")?) {
                    return Err(row.broken("a ballot on a signature never proposed"));
                }
                self.current.ballots += 1;
            }
            "decisions" => {
                let (claimed, outcome) = (row.outcome("claimed")?, row.outcome("outcome")?);
                if outcome != claimed && outcome != Outcome::Refused {
                    return Err(row.broken(format!(
                        "outcome {} is neither the claim ({}) nor refused",
                        outcome.as_str(),
                        claimed.as_str()
                    )));
                }
                let sig = row.int("sig")?;
                if !self.signatures.contains_key(&sig) {
                    return Err(row.broken("a decision on a signature never proposed"));
                }
                self.decisions.insert(row.int("decision")?, (sig, outcome));
                self.current.decisions += 1;
            }
            "outcomes" => self.settle(row)?,
            "ticks" => self.close_tick(row)?,
            "frames" => {
                if row.int("tick")? != self.tick || self.frame_done || self.tick == 0 {
                    return Err(row.broken(format!(
                        "a frame out of place (the ledger is at tick {})",
                        self.tick
                    )));
                }
                let Value::Blob(data) = row.value("data") else {
                    return Err(row.broken("data is not a blob"));
                };
                let frame = Frame::from_bytes(data)
                    .ok_or_else(|| row.broken("the frame does not decode"))?;
                if frame.agents.len() as i64 != self.agents.unwrap_or(0) {
                    return Err(row.broken(format!(
                        "the frame holds {} agents, the run {}",
                        frame.agents.len(),
                        self.agents.unwrap_or(0)
                    )));
                }
                self.frame_done = true;
            }
            "closing" => self.close_run(row)?,
            _ => return Err(row.broken("a table this dais does not know")),
        }
        Ok(())
    }

    fn settle(&mut self, row: &StoredRow) -> Result<(), Problem> {
        let sig = row.int("sig")?;
        let outcome = row.outcome("outcome")?;
        let Some((truth, settled)) = self.signatures.get_mut(&sig) else {
            return Err(row.broken(format!("signature {sig} was never proposed")));
        };
        if std::mem::replace(settled, true) {
            return Err(row.broken(format!("signature {sig} settled twice")));
        }
        let truth = *truth;
        match row.value("decision") {
            Value::Null if outcome == Outcome::Expired => {}
            Value::Null => {
                return Err(row.broken(format!(
                    "{} without a decision (only an expiry has none)",
                    outcome.as_str()
                )));
            }
            Value::Integer(d) => match self.decisions.get(d) {
                Some(&(s, verdict)) if s == sig && verdict == outcome => {}
                _ => {
                    return Err(row.broken(format!(
                        "decision {d} does not settle signature {sig} as {}",
                        outcome.as_str()
                    )));
                }
            },
            other => return Err(row.broken(format!("decision is not an integer: {other:?}"))),
        }
        let t = &mut self.current.by_outcome;
        match outcome {
            Outcome::Accepted if truth != 0 => t.signatures_accepted_true += 1,
            Outcome::Accepted => t.signatures_accepted_false += 1,
            Outcome::Rejected => t.signatures_rejected += 1,
            Outcome::Expired => t.signatures_expired += 1,
            Outcome::Refused => t.signatures_refused += 1,
        }
        self.current.outcomes += 1;
        Ok(())
    }

    /// The `ticks` row: its counts and metrics must follow from the tick's rows.
    fn close_tick(&mut self, row: &StoredRow) -> Result<(), Problem> {
        let tick = row.int("tick")?;
        let tally = std::mem::take(&mut self.current);
        // The config's script is part of what defines the run: each scripted intervention must have been applied.
        let mut recorded = tally.interventions;
        for action in self.scripted.remove(&tick).unwrap_or_default() {
            match recorded.iter().position(|a| *a == action) {
                Some(at) => {
                    recorded.swap_remove(at);
                }
                None => {
                    return Err(row.broken(format!(
                        "the config scripts {} at this tick, but no intervention row records it",
                        action.to_ron()
                    )));
                }
            }
        }
        for (column, found) in [
            ("signatures", tally.signatures),
            ("ballots", tally.ballots),
            ("decisions", tally.decisions),
            ("outcomes", tally.outcomes),
        ] {
            let recorded = row.int(column)?;
            if recorded != found {
                return Err(Problem::CountMismatch {
                    tick,
                    what: format!("{column} rows"),
                    recorded,
                    found,
                });
            }
        }
        let t = &mut self.totals;
        let b = &tally.by_outcome;
        t.signatures_proposed += tally.signatures as u64;
        t.signatures_accepted_true += b.signatures_accepted_true;
        t.signatures_accepted_false += b.signatures_accepted_false;
        t.signatures_rejected += b.signatures_rejected;
        t.signatures_expired += b.signatures_expired;
        t.signatures_refused += b.signatures_refused;
        t.ballots += tally.ballots as u64;
        t.decisions += tally.decisions as u64;
        t.signatures_pending = t.unsettled();
        let metrics: serde_json::Value = serde_json::from_str(row.text("metrics")?)
            .map_err(|e| row.broken(format!("metrics do not parse: {e}")))?;
        for (metric, found) in [
            ("signatures_proposed", tally.signatures as u64),
            ("ballots_cast", tally.ballots as u64),
            ("signatures_accepted_true", b.signatures_accepted_true),
            ("signatures_accepted_false", b.signatures_accepted_false),
            ("signatures_rejected", b.signatures_rejected),
            ("signatures_expired", b.signatures_expired),
            ("signatures_refused", b.signatures_refused),
            ("signatures_pending", t.signatures_pending),
        ] {
            let recorded = metrics[metric].as_i64().unwrap_or(-1);
            if recorded != found as i64 {
                return Err(Problem::CountMismatch {
                    tick,
                    what: format!("metrics.{metric}"),
                    recorded,
                    found: found as i64,
                });
            }
        }
        if metrics["tick"].as_i64() != Some(tick) {
            return Err(row.broken("its metrics belong to another tick"));
        }
        self.tick = tick;
        self.frame_done = false;
        Ok(())
    }

    fn close_run(&mut self, row: &StoredRow) -> Result<(), Problem> {
        if !self.frame_done {
            return Err(row.broken("the closing row must follow a whole tick"));
        }
        let mismatch = |what: &str, recorded: String, found: String| Problem::TotalsMismatch {
            what: what.to_string(),
            recorded,
            found,
        };
        let (ticks, steps) = (row.int("ticks")?, row.int("steps")?);
        if ticks != self.tick {
            return Err(mismatch("ticks", ticks.to_string(), self.tick.to_string()));
        }
        if Some(steps) != self.steps {
            return Err(mismatch(
                "steps",
                steps.to_string(),
                format!("{} (the run's config)", self.steps.unwrap_or(0)),
            ));
        }
        let recorded: LedgerTotals = serde_json::from_str(row.text("totals")?)
            .map_err(|e| row.broken(format!("totals do not parse: {e}")))?;
        if recorded != self.totals {
            let (r, f) = (
                serde_json::to_value(&recorded).expect("plain data"),
                serde_json::to_value(&self.totals).expect("plain data"),
            );
            let key = r
                .as_object()
                .and_then(|o| o.keys().find(|k| r[*k] != f[*k]).cloned())
                .unwrap_or_default();
            return Err(mismatch(
                &format!("totals.{key}"),
                r[&key].to_string(),
                f[&key].to_string(),
            ));
        }
        self.closed = true;
        Ok(())
    }
}

fn verify_chain(conn: &Connection, version: i64) -> Result<VerifyReport, Problem> {
    let tables: Vec<&'static Table> = schema::tables(version).collect();
    let mut statements = tables
        .iter()
        .map(|t| conn.prepare(&schema::select_sql(t)))
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(read)?;
    let mut cursors = statements
        .iter_mut()
        .map(|s| s.query([]))
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(read)?;
    let mut next: Vec<Option<StoredRow>> = Vec::with_capacity(tables.len());
    for (table, cursor) in tables.iter().zip(cursors.iter_mut()) {
        next.push(match cursor.next().map_err(read)? {
            Some(row) => Some(read_row(table, row).map_err(read)?),
            None => None,
        });
    }
    let mut head = vec![0u8; 32];
    let mut story = Story::default();
    let mut rows = 0i64;
    // The lowest seq among the tables' next rows is the next link of the chain.
    while let Some(at) = (0..next.len())
        .filter(|&i| next[i].is_some())
        .min_by_key(|&i| next[i].as_ref().map(StoredRow::seq))
    {
        let row = next[at].take().expect("chosen above");
        rows += 1;
        if row.seq() != rows {
            return Err(if row.seq() > rows {
                Problem::MissingRow(rows)
            } else {
                row.broken("seq out of order")
            });
        }
        if row.prev != head {
            return Err(row.broken("prev_hash does not match the previous row's hash"));
        }
        let canonical = schema::canonical(row.table.name, row.values.iter().map(ValueRef::from));
        if schema::chain_hash(&row.prev, &canonical)[..] != row.hash[..] {
            return Err(row.broken("hash does not match the row's contents"));
        }
        story.follow(&row)?;
        head.clone_from(&row.hash);
        next[at] = match cursors[at].next().map_err(read)? {
            Some(r) => Some(read_row(tables[at], r).map_err(read)?),
            None => None,
        };
    }
    if story.agents.is_none() {
        return Err(Problem::Read("the ledger has no run row".into()));
    }
    if story.tick > 0 && !story.frame_done {
        return Err(Problem::MissingRow(rows + 1));
    }

    let triggers: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(read)?;
    if let Some(missing) = schema::trigger_names(version)
        .into_iter()
        .find(|t| !triggers.contains(t))
    {
        return Err(Problem::MissingTrigger(missing));
    }
    Ok(VerifyReport {
        schema: version,
        ticks: story.tick as u64,
        steps: story.steps.map(|s| s as u64),
        chained_rows: rows as u64,
        head_hash: hex::encode(head),
        closed: story.closed,
    })
}
