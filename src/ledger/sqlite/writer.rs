//! How a run becomes rows: the [`Writer`] owns a connection and the chain head, and appends each job (the run
//! row, or one tick's rows) in one transaction, hashing every row into the chain as it goes.

use rusqlite::Connection;
use rusqlite::types::{Value, ValueRef};

use crate::ledger::schema::{self, Table};
use crate::ledger::{RunInfo, TickRecord};

/// What the writer is handed: the run row first, then one tick at a time.
pub(super) enum Job {
    Run(RunInfo),
    Tick(Box<TickRecord>),
}

impl Job {
    /// What the job holds while it waits in the writer's queue.
    pub(super) fn bytes(&self) -> u64 {
        match self {
            // The run row lists every agent and its neighbours: megabytes at 100,000 agents.
            Job::Run(run) => {
                let agents: usize = run
                    .agents
                    .iter()
                    .map(|a| size_of_val(a) + a.role.len() + size_of_val(a.neighbours.as_slice()))
                    .sum();
                (size_of::<RunInfo>() + run.config_ron.len() + agents) as u64
            }
            Job::Tick(record) => record.bytes(),
        }
    }
}

fn floats(values: &[f32]) -> String {
    values
        .iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn int(v: impl Into<i64>) -> Value {
    Value::Integer(v.into())
}

fn text(v: impl Into<String>) -> Value {
    Value::Text(v.into())
}

/// The writer side: owns the connection and the chain head.
pub(super) struct Writer {
    pub(super) conn: Connection,
    pub(super) chain: Chain,
}

/// Where the chain stands: the last seq written and its hash.
pub(super) struct Chain {
    seq: i64,
    pub(super) head: [u8; 32],
}

impl Chain {
    /// Rows written so far: every row of every table takes the next seq.
    pub(super) fn rows(&self) -> u64 {
        self.seq.max(0) as u64
    }
}

/// Appends rows to one table within a transaction: the insert is prepared once, and the row and canonical-bytes
/// buffers are reused, so a tick's hundred thousand ballots allocate nothing per row.
struct Appender<'t> {
    table: &'static Table,
    insert: rusqlite::CachedStatement<'t>,
    seq_at: usize,
    row: Vec<Value>,
    canonical: Vec<u8>,
}

impl<'t> Appender<'t> {
    fn new(tx: &'t rusqlite::Transaction<'_>, name: &str) -> rusqlite::Result<Self> {
        let table = schema::table(name);
        Ok(Self {
            table,
            insert: tx.prepare_cached(&schema::insert_sql(table))?,
            seq_at: table
                .column_names()
                .position(|c| c == "seq")
                .expect("every table has a seq"),
            row: Vec::with_capacity(table.columns.len()),
            canonical: Vec::with_capacity(128),
        })
    }

    /// Appends one row: `values` are the table's columns except `seq`, in schema order; `seq` is filled in here.
    fn append(
        &mut self,
        chain: &mut Chain,
        values: impl IntoIterator<Item = Value>,
    ) -> rusqlite::Result<()> {
        chain.seq += 1;
        self.row.clear();
        self.row.extend(values);
        self.row.insert(self.seq_at, Value::Integer(chain.seq));
        schema::canonical_into(
            &mut self.canonical,
            self.table.name,
            self.row.iter().map(ValueRef::from),
        );
        let hash = schema::chain_hash(&chain.head, &self.canonical);
        for (i, value) in self.row.iter().enumerate() {
            self.insert.raw_bind_parameter(i + 1, value)?;
        }
        let width = self.row.len();
        self.insert.raw_bind_parameter(width + 1, &chain.head[..])?;
        self.insert.raw_bind_parameter(width + 2, &hash[..])?;
        self.insert.raw_execute()?;
        chain.head = hash;
        Ok(())
    }
}

impl Writer {
    pub(super) fn new(conn: Connection) -> Self {
        Self {
            conn,
            chain: Chain {
                seq: 0,
                head: [0; 32],
            },
        }
    }

    pub(super) fn write(&mut self, job: &Job) -> rusqlite::Result<()> {
        match job {
            Job::Run(run) => self.write_run(run),
            Job::Tick(record) => self.write_tick(record),
        }
    }

    fn write_run(&mut self, run: &RunInfo) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        let chain = &mut self.chain;
        Appender::new(&tx, "run")?.append(
            chain,
            [
                int(1),
                text(run.config_ron.clone()),
                text(run.config_hash.clone()),
                int(run.seed as i64),
                text(run.version.clone()),
                text(now_text()),
                int(run.agents.len() as i64),
            ],
        )?;
        let mut agents = Appender::new(&tx, "agents")?;
        for a in &run.agents {
            let neighbours = a
                .neighbours
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" ");
            agents.append(
                chain,
                [int(a.index), text(a.role.clone()), text(neighbours)],
            )?;
        }
        drop(agents);
        tx.commit()
    }

    fn write_tick(&mut self, record: &TickRecord) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        let chain = &mut self.chain;
        let tick = || int(record.tick);
        {
            if !record.interventions.is_empty() {
                let mut interventions = Appender::new(&tx, "interventions")?;
                for action in &record.interventions {
                    interventions.append(chain, [tick(), text(action.to_ron())])?;
                }
            }
            let mut signatures = Appender::new(&tx, "signatures")?;
            for s in &record.signatures {
                signatures.append(
                    chain,
                    [
                        tick(),
                        int(s.sig),
                        text(crate::ledger::sig_id_hex(s.id)),
                        int(s.origin),
                        int(s.count),
                        text(floats(&s.centroid)),
                        text(floats(&s.spread)),
                        int(s.truth),
                    ],
                )?;
            }
            let mut ballots = Appender::new(&tx, "ballots")?;
            for b in &record.ballots {
                ballots.append(chain, [tick(), int(b.sig), int(b.voter), int(b.yes)])?;
            }
            let mut decisions = Appender::new(&tx, "decisions")?;
            for d in &record.decisions {
                decisions.append(
                    chain,
                    [
                        tick(),
                        int(d.decision),
                        int(d.sig),
                        int(d.tallier),
                        text(d.outcome.as_str()),
                        text(d.verdict().as_str()),
                        int(d.yes),
                        int(d.no),
                    ],
                )?;
            }
            let mut outcomes = Appender::new(&tx, "outcomes")?;
            for o in &record.outcomes {
                let decision = o.decision.map_or(Value::Null, int);
                outcomes.append(
                    chain,
                    [tick(), int(o.sig), text(o.outcome.as_str()), decision],
                )?;
            }
            Appender::new(&tx, "ticks")?.append(
                chain,
                [
                    tick(),
                    text(record.state_hash.clone()),
                    int(record.signatures.len() as i64),
                    int(record.ballots.len() as i64),
                    int(record.decisions.len() as i64),
                    int(record.outcomes.len() as i64),
                    text(serde_json::to_string(&record.metrics).expect("metrics serialise")),
                ],
            )?;
            Appender::new(&tx, "frames")?
                .append(chain, [tick(), Value::Blob(record.frame.to_bytes())])?;
            if let Some(closing) = &record.closing {
                Appender::new(&tx, "closing")?.append(
                    chain,
                    [
                        int(1),
                        int(closing.ticks),
                        int(closing.steps),
                        text(serde_json::to_string(&closing.totals).expect("totals serialise")),
                    ],
                )?;
            }
        }
        tx.commit()
    }
}

/// Wall-clock start time for the run row (metadata only; never read by the simulation).
fn now_text() -> String {
    // `SystemTime::now` panics in the browser, which has its own clock.
    #[cfg(target_arch = "wasm32")]
    let secs = (js_sys::Date::now() / 1000.0) as u64;
    #[cfg(not(target_arch = "wasm32"))]
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{secs} (unix seconds)")
}
