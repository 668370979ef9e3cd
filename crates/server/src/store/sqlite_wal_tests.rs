//! The WAL under writes that never pause. A checkpoint beside the writer copies frames
//! back but cannot finish while commits keep landing; only a checkpoint with no commit
//! after it lets SQLite start the WAL over. Here a reader holding an older snapshot
//! stands in for "a commit landed during the checkpoint": the checkpointer's round
//! cannot copy the newest frames, as under load.

use std::path::{Path, PathBuf};

use beckon_protocol::{CallMode, CallState, CallUserState};

use super::*;
use crate::core::{Call, Invite, Member};

fn member(user: &str, state: CallUserState) -> Member {
    Member {
        user_id: user.into(),
        state,
        reason: None,
        extended_data: Box::default(),
        inviter: "caller".into(),
        update_time: 1,
        invite: Invite::new(1, None, String::new(), None),
        device: None,
    }
}

/// Twenty new ringing calls between users spread over a thousand, so their rows land on
/// pages all over the indexes, as real traffic does.
fn batch(seq: &mut u64) -> Vec<Call> {
    (0..20)
        .map(|_| {
            *seq += 1;
            let caller = format!("user-{}", *seq * 7919 % 1000);
            let callee = format!("user-{}", *seq * 104_729 % 1000);
            Call {
                seq: *seq,
                id: format!("call-{:016x}", seq.wrapping_mul(0x9e37_79b9_7f4a_7c15)).into(),
                caller: caller.as_str().into(),
                caller_name: caller.as_str().into(),
                mode: CallMode::Normal,
                state: CallState::Started,
                create_time: 1,
                end_time: 0,
                extended_data: Box::default(),
                answered: false,
                members: vec![
                    member(&caller, CallUserState::Accepted),
                    member(&callee, CallUserState::Inviting),
                ],
            }
        })
        .collect()
}

fn wal_of(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap().to_os_string();
    name.push("-wal");
    db.with_file_name(name)
}

/// The WAL file's size after each of 30 rounds of: a commit, a reader takes its
/// snapshot, another commit, the checkpointer's round, the reader ends, and then, if
/// `writer_finishes`, the writer's maintenance.
fn wal_sizes(writer_finishes: bool) -> Vec<u64> {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wal.db");
    let (mut writer, _reads) = open(&db, Durability::Normal).unwrap();
    let policy = WalPolicy {
        every: std::time::Duration::ZERO,
        rewind_at_frames: 1,
    };
    let checkpointer = Checkpointer::open(&db, &writer, policy).unwrap();
    let reader = Connection::open(&db).unwrap();
    let mut seq = 0;
    let mut sizes = Vec::new();
    for _ in 0..30 {
        writer.write(&batch(&mut seq)).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader
            .query_row("SELECT COUNT(*) FROM calls", [], |r| r.get(0))
            .unwrap();
        writer.write(&batch(&mut seq)).unwrap();
        checkpointer.round();
        reader.execute_batch("COMMIT").unwrap();
        if writer_finishes {
            writer.maintain();
        }
        sizes.push(std::fs::metadata(wal_of(&db)).unwrap().len());
    }
    sizes
}

#[test]
fn the_writer_finishing_the_checkpoint_keeps_the_wal_to_one_rounds_frames() {
    let alone = wal_sizes(false);
    assert!(
        alone[29] > 20 * alone[0],
        "with the checkpointer alone the WAL should grow with every commit: {alone:?}"
    );
    let finished = wal_sizes(true);
    let last_round = alone[29] - alone[28];
    assert!(
        finished[29] <= 2 * last_round,
        "the WAL should start over every round, holding one round's frames \
         ({last_round} bytes), not grow: {finished:?}"
    );
}
