//! The two backends are interchangeable: the same groups of call snapshots, written to an
//! SQLite file and to a PostgreSQL database, are stored as the last snapshot of each call
//! (checked against the calls themselves) and give the same restore and the same history
//! pages, call for call and `nextFlag` for `nextFlag`, whatever the page size and byte
//! bound. Always on both backends, whatever `BECKON_TEST_DB` says.

use std::collections::BTreeMap;

use beckon_protocol::{CallList, CallMode, CallState, CallUserState, PushConfig, StateReason};
use beckon_server::core::{Call, Invite, Member};
use beckon_server::store::{self, Database, Durability};

/// xorshift64: the same calls on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
}

const USERS: [&str; 8] = ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7"];
const NOW: u64 = 1_800_000_000_000;

fn text(rng: &mut Rng) -> String {
    // Mostly short; now and then large enough that a page hits its byte bound.
    let len = match rng.below(10) {
        0 => 3000 + rng.below(6000),
        1 => 0,
        _ => rng.below(40),
    };
    (0..len)
        .map(|i| ['a', 'é', ' ', '"', '\0', 'z'][(i as usize + len as usize) % 6])
        .collect()
}

fn member(rng: &mut Rng, user: &str, caller: &str, at: u64) -> Member {
    Member {
        user_id: user.into(),
        state: CallUserState::Received,
        reason: None,
        extended_data: text(rng).into(),
        inviter: caller.into(),
        update_time: at,
        invite: Invite {
            time: at,
            timeout_secs: rng.below(120) as u32 + 1,
            deadline: at + 60_000,
            extended_data: text(rng).into(),
            push: (rng.below(3) == 0).then(|| {
                Box::new(PushConfig {
                    title: "T".into(),
                    content: text(rng),
                    payload: "{\"k\":1}".into(),
                })
            }),
        },
        device: (rng.below(2) == 0).then(|| format!("{user}-d").into()),
    }
}

fn new_call(rng: &mut Rng, seq: u64) -> Call {
    let caller = rng.pick(&USERS);
    let at = NOW - 3_600_000 + seq * 1000;
    let mut members = vec![member(rng, caller, caller, at)];
    members[0].state = CallUserState::Accepted;
    for _ in 0..rng.below(4) + 1 {
        let user = rng.pick(&USERS);
        if members.iter().all(|m| &*m.user_id != user) {
            members.push(member(rng, user, caller, at));
        }
    }
    Call {
        seq,
        id: format!("call-{seq}").into(),
        caller: caller.into(),
        caller_name: format!("{caller} name {}", text(rng)).into(),
        mode: if rng.below(3) == 0 {
            CallMode::Advanced
        } else {
            CallMode::Normal
        },
        state: CallState::Started,
        create_time: at,
        end_time: 0,
        extended_data: text(rng).into(),
        answered: false,
        members,
    }
}

/// A later snapshot: the call's members change state, and the call may end.
fn changed(rng: &mut Rng, call: &Call) -> Call {
    let mut call = call.clone();
    let states = [
        CallUserState::Accepted,
        CallUserState::Rejected,
        CallUserState::Cancelled,
        CallUserState::Timeout,
        CallUserState::Quit,
    ];
    let reasons = [
        None,
        Some(StateReason::Declined),
        Some(StateReason::Busy),
        Some(StateReason::CallerGone),
    ];
    let at = call.create_time + 5000 + rng.below(10_000);
    for m in call.members.iter_mut().skip(1) {
        if rng.below(2) == 0 {
            m.state = rng.pick(&states);
            m.reason = rng.pick(&reasons);
            m.update_time = at;
            m.extended_data = text(rng).into();
        }
    }
    call.answered |= rng.below(2) == 0;
    if rng.below(2) == 0 {
        call.state = CallState::Ended;
        call.end_time = at;
    }
    call
}

/// Groups of snapshots as the storage thread would hand them over: new calls, later
/// snapshots of earlier ones, and now and then two snapshots of one call in one group.
fn groups(rng: &mut Rng) -> (Vec<Vec<Call>>, BTreeMap<u64, Call>) {
    let mut latest: BTreeMap<u64, Call> = BTreeMap::new();
    let mut groups = Vec::new();
    let mut seq = 0;
    while seq < 240 {
        let mut group = Vec::new();
        for _ in 0..rng.below(30) + 1 {
            if seq > 0 && rng.below(3) == 0 {
                let old = rng.below(seq) + 1;
                let next = changed(rng, &latest[&old]);
                latest.insert(old, next.clone());
                group.push(next);
            } else {
                seq += 1;
                let call = new_call(rng, seq);
                latest.insert(seq, call.clone());
                group.push(call);
                if rng.below(5) == 0 {
                    let next = changed(rng, &latest[&seq]);
                    latest.insert(seq, next.clone());
                    group.push(next);
                }
            }
        }
        groups.push(group);
    }
    (groups, latest)
}

fn pages(reads: &store::ReadPool, user: &str, count: u32, max_bytes: usize) -> Vec<CallList> {
    let mut out = Vec::new();
    let mut next_flag = 0;
    loop {
        let page = store::query_calls(reads, user, count, next_flag, max_bytes)
            .unwrap_or_else(|e| panic!("{user}: {e}"));
        next_flag = page.next_flag;
        out.push(page);
        if next_flag == 0 {
            return out;
        }
        assert!(out.len() < 1000, "{user}: the pages never end");
    }
}

#[test]
fn sqlite_and_postgres_store_and_answer_alike() {
    let dir = tempfile::tempdir().unwrap();
    let backends = [
        Database::Sqlite(dir.path().join("beckon.db")),
        Database::Postgres(beckon_testkit::postgres::fresh_database()),
    ];
    let (groups, latest) = groups(&mut Rng(0x5eed_bec0_0001));
    let expected: Vec<Call> = latest.into_values().collect();

    let mut answers = Vec::new();
    for db in &backends {
        let mut opened = store::open(db, Durability::Normal).unwrap_or_else(|e| panic!("{e}"));
        for group in &groups {
            opened.writer.write(group).unwrap();
        }
        // Every call, however long ago it ended: the stored rows themselves.
        let (all, next_seq) = opened.writer.load(NOW, NOW).unwrap();
        assert_eq!(next_seq, expected.len() as u64 + 1, "{db}");
        let mut all = all;
        all.sort_by_key(|c| c.seq);
        assert_eq!(all.len(), expected.len(), "{db}");
        for (stored, sent) in all.iter().zip(&expected) {
            assert_eq!(
                stored, sent,
                "{db}: call {} is not its last snapshot",
                sent.seq
            );
        }
        // What a restart restores: live calls and those ended in the last 20 minutes.
        let (mut restored, _) = opened.writer.load(NOW, 20 * 60_000).unwrap();
        restored.sort_by_key(|c| c.seq);

        let mut history = Vec::new();
        for user in USERS.iter().chain(&["nobody"]) {
            for (count, max_bytes) in [
                (1, 256 * 1024),
                (7, 20_000),
                (100, 30_000),
                (100, 256 * 1024),
            ] {
                history.push(pages(&opened.reads, user, count, max_bytes));
            }
        }
        answers.push((restored, history));
        drop(opened.writer);
        opened.keeper.finish();
    }
    let (sqlite, postgres) = (&answers[0], &answers[1]);
    assert!(!sqlite.0.is_empty() && sqlite.0.len() < expected.len());
    assert!(sqlite.0 == postgres.0, "the restored calls differ");
    // The byte bound did cut pages of 7 short, so that path is compared too.
    let cut_short = sqlite
        .1
        .iter()
        .skip(1)
        .step_by(4)
        .flatten()
        .any(|p| p.next_flag != 0 && p.call_list.len() < 7);
    assert!(cut_short, "no page of 7 ended at the byte bound");
    for (s, p) in sqlite.1.iter().zip(&postgres.1) {
        assert_eq!(s, p);
    }
}
