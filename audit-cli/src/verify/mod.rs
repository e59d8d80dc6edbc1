//! `audit verify`: checks every chain and checkpoint in a SOURCE and names what is wrong.
//!
//! One pass reads every line; each chained entry's content is checked against its own hash
//! on the spot (so an edit is named with its file, line and id), and its link, position and
//! checkpoint facts are kept (about 100 bytes an entry) for the checks across entries: gaps,
//! duplicates, broken links, reordering, checkpoints and the sealed tail.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use audit_core::chain::{self, CheckpointKey, CHECKPOINT_ENDPOINT, GENESIS};
use audit_core::DROPPED_ENDPOINT;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::error::CliError;
use crate::source::{Source, SqlQuery};

mod checks;

use checks::{check_chain, short, unhex};

/// What `verify` is told besides the SOURCE.
pub struct Options {
    /// The checkpoint key; with it, checkpoints must be signed, and their signatures are checked.
    pub key: Option<CheckpointKey>,
    /// Accept chains without their final checkpoint (a log still being written).
    pub allow_open: bool,
    /// Heads published earlier (`CHAIN:SEQ:HASH`) that the log must still hold.
    pub expect: Vec<Head>,
}

/// A chain head as `audit verify --heads` prints it and `--expect` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub chain: Uuid,
    pub seq: u64,
    pub hash: String,
}

impl std::str::FromStr for Head {
    type Err = CliError;

    fn from_str(text: &str) -> Result<Self, CliError> {
        let bad = || CliError::Argument {
            what: "a head",
            value: text.to_owned(),
            expected: "CHAIN:SEQ:HASH as `audit verify --heads` prints it",
        };
        let mut parts = text.trim().splitn(3, ':');
        let (Some(chain), Some(seq), Some(hash)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let hash = hash.to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(Head {
            chain: chain.parse().map_err(|_| bad())?,
            seq: seq.parse().map_err(|_| bad())?,
            hash,
        })
    }
}

impl std::fmt::Display for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.chain, self.seq, self.hash)
    }
}

/// The outcome: problems make the log not intact; notes are worth knowing but prove nothing wrong.
#[derive(Default)]
pub struct Report {
    pub problems: Vec<String>,
    pub notes: Vec<String>,
    pub chains: usize,
    pub entries: u64,
    pub checkpoints: u64,
    pub signatures_verified: u64,
    pub heads: Vec<Head>,
}

type Hash = [u8; 32];

#[derive(Clone, Copy)]
struct Loc {
    file: u32,
    line: u32,
}

struct Link {
    seq: u64,
    hash: Hash,
    prev: Hash,
    loc: Loc,
    checkpoint: Option<u32>,
}

struct Checkpoint {
    seq: u64,
    head_seq: Option<u64>,
    head_hash: Option<String>,
    last: bool,
    alg: String,
    key_id: Option<String>,
    signature: Option<String>,
}

#[derive(Default)]
struct ChainLog {
    links: Vec<Link>,
    checkpoints: Vec<Checkpoint>,
    /// Ranges of sequence numbers the pipeline reported as lost (`audit.dropped`).
    reported_lost: Vec<(u64, u64, Loc)>,
    /// The highest sequence number read so far, and where.
    furthest: Option<(u64, Loc)>,
}

/// The parts of an entry the chain checks need, without building the rest.
#[derive(Deserialize)]
struct Light {
    chain: Option<chain::Chain>,
    id: Option<String>,
    endpoint: Option<String>,
    #[serde(default)]
    fields: serde_json::Map<String, Value>,
}

/// The files (or table) lines came from, numbered in reading order.
#[derive(Default)]
struct Places {
    files: Vec<PathBuf>,
}

impl Places {
    fn show(&self, loc: Loc) -> String {
        let file = self
            .files
            .get(loc.file as usize)
            .map_or_else(|| "?".into(), |f| f.display().to_string());
        format!("{file}:{}", loc.line)
    }

    fn index(&mut self, file: &Path) -> u32 {
        if self.files.last().map(PathBuf::as_path) != Some(file) {
            self.files.push(file.to_path_buf());
        }
        (self.files.len() - 1) as u32
    }
}

/// Reads every entry of `source` and checks the chains in them (from PostgreSQL, rows come
/// ordered by chain and sequence number: a table has no order of its own to check).
pub fn verify(source: &Source, options: &Options) -> Result<Report, CliError> {
    let mut report = Report::default();
    let mut chains: HashMap<Uuid, ChainLog> = HashMap::new();
    let mut order: Vec<Uuid> = Vec::new();
    let mut unchained = 0u64;
    let mut first_unchained = None;
    let mut places = Places::default();
    let query = SqlQuery::all("chain_id, chain_seq, ts, id");
    let unreadable = source.each_line(&query, |line| {
        let loc = Loc {
            file: places.index(line.file),
            line: line.number as u32,
        };
        let at = places.show(loc);
        let light: Light = match serde_json::from_str(line.text) {
            Ok(light) => light,
            Err(e) if !line.complete => {
                report.problems.push(format!(
                    "{at}: torn line: the file ends in the middle of an entry ({e})"
                ));
                return true;
            }
            Err(e) => {
                report
                    .problems
                    .push(format!("{at}: malformed line, not an entry: {e}"));
                return true;
            }
        };
        if !line.complete {
            report.problems.push(format!(
                "{at}: the last line has no newline: the file was cut after it"
            ));
        }
        let Some(link) = light.chain else {
            // A collector's report of entries that never reached it: a problem in itself,
            // not an entry that should carry a chain.
            if light.endpoint.as_deref() == Some(chain::GAP_ENDPOINT) {
                let field = |name: &str| light.fields.get(name).map(Value::to_string);
                report.problems.push(format!(
                    "{at}: a collector reported a gap on the stream: chain {}, entries {} to {}",
                    field("chain_id").unwrap_or_default(),
                    field("first_seq").or(field("seq")).unwrap_or_default(),
                    field("last_seq").or(field("seq")).unwrap_or_default(),
                ));
                return true;
            }
            unchained += 1;
            first_unchained.get_or_insert(at);
            return true;
        };
        report.entries += 1;
        let id = light.id.as_deref().unwrap_or("?");
        let content_ok = match chain::check_line_bytes(line.text.as_bytes()) {
            Some(true) => true,
            // Another tool may have reformatted the line: compare meanings, not bytes.
            _ => serde_json::from_str::<Value>(line.text)
                .map(|value| chain::hash_value(&value) == link.hash)
                .unwrap_or(false),
        };
        if !content_ok {
            report.problems.push(format!(
                "{at}: entry seq {} (id {id}) was edited: its content does not match its hash",
                link.seq
            ));
        }
        let (Some(hash), Some(prev)) = (unhex(&link.hash), unhex(&link.prev)) else {
            report.problems.push(format!(
                "{at}: entry seq {} (id {id}) has a malformed chain hash",
                link.seq
            ));
            return true;
        };
        let log = chains.entry(link.id).or_insert_with(|| {
            order.push(link.id);
            ChainLog::default()
        });
        if let Some((furthest, where_)) = log.furthest {
            if link.seq <= furthest {
                report.problems.push(format!(
                    "{at}: entry seq {} (id {id}) is out of order: it comes after seq {furthest} ({})",
                    link.seq,
                    places.show(where_)
                ));
            }
        }
        if log.furthest.is_none_or(|(furthest, _)| link.seq > furthest) {
            log.furthest = Some((link.seq, loc));
        }
        let endpoint = light.endpoint.as_deref().unwrap_or("");
        let field_u64 = |name: &str| light.fields.get(name).and_then(Value::as_u64);
        let field_str = |name: &str| {
            light
                .fields
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let mut checkpoint = None;
        if endpoint == CHECKPOINT_ENDPOINT {
            checkpoint = Some(log.checkpoints.len() as u32);
            log.checkpoints.push(Checkpoint {
                seq: link.seq,
                head_seq: field_u64("head_seq"),
                head_hash: field_str("head_hash"),
                last: light.fields.get("final") == Some(&Value::Bool(true)),
                alg: field_str("alg").unwrap_or_default(),
                key_id: field_str("key_id"),
                signature: field_str("signature"),
            });
        } else if endpoint == DROPPED_ENDPOINT {
            for (first, last) in chain::reported_gaps(&light.fields) {
                log.reported_lost.push((first, last, loc));
            }
        }
        log.links.push(Link {
            seq: link.seq,
            hash,
            prev,
            loc,
            checkpoint,
        });
        true
    })?;
    if unreadable > 0 {
        report.problems.push(format!(
            "{unreadable} file(s) could not be read completely (see above)"
        ));
    }
    if unchained > 0 {
        let first = first_unchained.unwrap_or_default();
        report.problems.push(format!(
            "{unchained} entries carry no chain (the first at {first}): nothing proves they were not added or edited (written with AUDIT_CHAIN=off?)"
        ));
    }
    if chains.is_empty() && report.problems.is_empty() {
        report
            .problems
            .push("no chained entries found: nothing to verify".into());
    }
    report.chains = chains.len();
    for head in options
        .expect
        .iter()
        .filter(|h| !chains.contains_key(&h.chain))
    {
        report.problems.push(format!(
            "the published head {head} is not in SOURCE: chain {} is missing entirely",
            short(head.chain)
        ));
    }
    for id in order {
        if let Some(log) = chains.remove(&id) {
            check_chain(id, log, options, &places, &mut report);
        }
    }
    Ok(report)
}
