//! The checks of one chain: links and hashes in order, checkpoints and their signatures, and
//! heads published earlier.

use super::*;

pub(super) fn check_chain(
    id: Uuid,
    mut log: ChainLog,
    options: &Options,
    places: &Places,
    report: &mut Report,
) {
    log.links.sort_by_key(|link| link.seq);
    let short = short(id);
    let Some(first) = log.links.first() else {
        return;
    };
    if first.seq == 1 {
        if first.prev != unhex(GENESIS).unwrap_or_default() {
            report.problems.push(format!(
                "{}: chain {short} seq 1 does not start from the genesis hash: entries before it were removed",
                places.show(first.loc)
            ));
        }
    } else {
        report.notes.push(format!(
            "chain {short} starts at seq {} ({}): its first {} entries are not in SOURCE (older files removed by retention?)",
            first.seq,
            places.show(first.loc),
            first.seq - 1
        ));
    }
    for pair in log.links.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if b.seq == a.seq {
            let what = if a.hash == b.hash {
                "appears twice"
            } else {
                "is claimed by two different entries"
            };
            report.problems.push(format!(
                "chain {short} seq {} {what}: {} and {}",
                a.seq,
                places.show(a.loc),
                places.show(b.loc)
            ));
        } else if b.seq == a.seq + 1 {
            if b.prev != a.hash {
                report.problems.push(format!(
                    "{}: chain {short} is broken before seq {}: seq {} ({}) is not the entry it followed; it was replaced or its hash rewritten",
                    places.show(b.loc),
                    b.seq,
                    a.seq,
                    places.show(a.loc)
                ));
            }
        } else {
            let (from, to) = (a.seq + 1, b.seq - 1);
            let range = if from == to {
                format!("seq {from} is")
            } else {
                format!("seq {from}–{to} ({} entries) are", to - from + 1)
            };
            match log
                .reported_lost
                .iter()
                .find(|(first, last, _)| *first <= from && to <= *last)
            {
                Some((_, _, at)) => report.notes.push(format!(
                    "chain {short}: {range} missing, as the pipeline reported (audit.dropped at {})",
                    places.show(*at)
                )),
                None => report.problems.push(format!(
                    "chain {short}: {range} missing (deleted) between {} and {}",
                    places.show(a.loc),
                    places.show(b.loc)
                )),
            }
        }
    }
    check_checkpoints(&short, id, &log, options, places, report);
    for head in options.expect.iter().filter(|h| h.chain == id) {
        report
            .problems
            .extend(check_expected(head, &log.links, places));
    }
    if let Some(last) = log.links.last() {
        report.heads.push(Head {
            chain: id,
            seq: last.seq,
            hash: chain_hex(&last.hash),
        });
    }
}

pub(super) fn check_checkpoints(
    short: &str,
    id: Uuid,
    log: &ChainLog,
    options: &Options,
    places: &Places,
    report: &mut Report,
) {
    let by_seq: HashMap<u64, &Link> = log.links.iter().map(|l| (l.seq, l)).collect();
    let mut unverified = 0;
    for checkpoint in &log.checkpoints {
        report.checkpoints += 1;
        let Some(link) = by_seq.get(&checkpoint.seq) else {
            continue;
        };
        let at = places.show(link.loc);
        let head_hash = checkpoint.head_hash.as_deref().unwrap_or("");
        if checkpoint.head_seq != Some(checkpoint.seq - 1) || unhex(head_hash) != Some(link.prev) {
            report.problems.push(format!(
                "{at}: chain {short} checkpoint seq {} names a head that is not the entry before it",
                checkpoint.seq
            ));
            continue;
        }
        match (checkpoint.alg.as_str(), &options.key) {
            ("hmac-sha256", Some(key)) => {
                let message = chain::checkpoint_message(
                    &id,
                    checkpoint.seq - 1,
                    head_hash,
                    checkpoint.last,
                );
                let signature = checkpoint.signature.as_deref().unwrap_or("");
                if checkpoint.key_id.as_deref() != Some(key.key_id()) {
                    report.problems.push(format!(
                        "{at}: chain {short} checkpoint seq {} was signed with another key (key_id {}, given {})",
                        checkpoint.seq,
                        checkpoint.key_id.as_deref().unwrap_or("none"),
                        key.key_id()
                    ));
                } else if key.verify(&message, signature) {
                    report.signatures_verified += 1;
                } else {
                    report.problems.push(format!(
                        "{at}: chain {short} checkpoint seq {} has a bad signature: the chain up to it was rewritten, or the checkpoint forged",
                        checkpoint.seq
                    ));
                }
            }
            ("hmac-sha256", None) => unverified += 1,
            (_, Some(_)) => report.problems.push(format!(
                "{at}: chain {short} checkpoint seq {} is unsigned, but a key was given: checkpoints are expected to be signed",
                checkpoint.seq
            )),
            (_, None) => {}
        }
    }
    if unverified > 0 {
        report.notes.push(format!(
            "chain {short}: {unverified} checkpoint signatures not checked: give the key with --key-file"
        ));
    }
    let Some(last) = log.links.last() else {
        return;
    };
    let last_checkpoint = log.checkpoints.iter().max_by_key(|c| c.seq);
    if let Some(closing) = log
        .checkpoints
        .iter()
        .filter(|c| c.last)
        .min_by_key(|c| c.seq)
    {
        if closing.seq < last.seq {
            report.problems.push(format!(
                "chain {short}: entries after its final checkpoint (seq {}): seq {} at {} was added after the chain was closed",
                closing.seq,
                closing.seq + 1,
                by_seq
                    .get(&(closing.seq + 1))
                    .map_or_else(|| "?".into(), |l| places.show(l.loc))
            ));
        }
    }
    if last.checkpoint.is_some() && last_checkpoint.is_some_and(|c| c.seq == last.seq && c.last) {
        return; // sealed
    }
    let since = last_checkpoint.map_or(0, |c| c.seq);
    let message = format!(
        "chain {short} is not sealed: it ends at seq {} ({}) without its final checkpoint, so the entries after seq {since} {}may have been cut off, or its writer is still running or died",
        last.seq,
        places.show(last.loc),
        if since == 0 { "(it has no checkpoint) " } else { "(the last checkpoint) " }
    );
    if options.allow_open {
        report.notes.push(message);
    } else {
        report
            .problems
            .push(format!("{message}; --allow-open accepts a live log"));
    }
}

/// Whether the chain still holds a head published earlier, unchanged.
pub(super) fn check_expected(head: &Head, links: &[Link], places: &Places) -> Option<String> {
    let short = short(head.chain);
    match links.binary_search_by_key(&head.seq, |link| link.seq) {
        Ok(i) if chain_hex(&links[i].hash) == head.hash => None,
        Ok(i) => Some(format!(
            "{}: chain {short} seq {} differs from its published head: the chain was rewritten",
            places.show(links[i].loc),
            head.seq
        )),
        Err(_) if links.last().is_some_and(|last| last.seq < head.seq) => Some(format!(
            "chain {short} ends at seq {}, before its published head seq {}: its tail was cut off",
            links.last().map_or(0, |l| l.seq),
            head.seq
        )),
        Err(_) => Some(format!(
            "chain {short} seq {} (a published head) is missing",
            head.seq
        )),
    }
}

/// A chain's id as shown in messages: its first 8 hex digits, enough to tell chains apart.
pub(super) fn short(id: Uuid) -> String {
    id.simple().to_string()[..8].to_owned()
}

pub(super) fn unhex(text: &str) -> Option<Hash> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

pub(super) fn chain_hex(hash: &Hash) -> String {
    hex::encode(hash)
}
