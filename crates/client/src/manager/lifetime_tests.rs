//! How long a call lives: the server keeps an advanced call until `callEnd` or until
//! nobody is in it, so the manager ends the calls that are over for its user.

use beckon_protocol::*;

use super::machine::*;
use super::machine_tests::{changed, user, H, VIDEO};
use super::model::*;

/// The server keeps an advanced call with one member in it (the seed: until `callEnd`), so
/// the manager must end a 1:1 call whose other side left, or the user stays busy.
#[test]
fn the_other_side_leaving_a_one_to_one_call_ends_it_on_the_server() {
    let cases = [
        (CallUserState::Quit, None),
        (CallUserState::Quit, Some(StateReason::ConnectionLost)),
    ];
    for (state, reason) in cases {
        let mut h = H::new();
        h.outgoing(&["bob"]);
        h.ev(changed(
            "c1",
            vec![user("bob", CallUserState::Accepted, None)],
        ));
        let sent = h.sent.len();
        h.ev(changed("c1", vec![user("bob", state, reason)]));
        assert_eq!(h.m.phase(), Phase::Free);
        assert_eq!(h.outcome(), Some(Outcome::EndedByPeer { by: None }));
        assert_eq!(
            h.sent[sent..]
                .iter()
                .map(|(_, o)| o.clone())
                .collect::<Vec<_>>(),
            [Op::End {
                call_id: "c1".into()
            }],
            "{state:?}"
        );
    }
    // Also as the callee, when the caller quits.
    let mut h = H::new();
    h.incoming("c1", VIDEO);
    h.intent(Intent::Accept { call_id: None }).unwrap();
    let (op, _) = h.last_op();
    h.done(op, OpResult::Done);
    h.ev(changed(
        "c1",
        vec![user("alice", CallUserState::Quit, None)],
    ));
    assert_eq!(h.outcome(), Some(Outcome::EndedByPeer { by: None }));
    assert_eq!(
        h.last_op().1,
        Op::End {
            call_id: "c1".into()
        }
    );
}

#[test]
fn an_outgoing_call_nobody_took_is_ended_on_the_server() {
    for (state, reason) in [
        (CallUserState::Rejected, Some(StateReason::Declined)),
        (CallUserState::Timeout, None),
    ] {
        let mut h = H::new();
        h.outgoing(&["bob", "carol"]);
        h.ev(changed("c1", vec![user("bob", state, reason)]));
        assert_eq!(h.m.phase(), Phase::Outgoing, "carol still rings");
        let sent = h.sent.len();
        h.ev(changed("c1", vec![user("carol", state, reason)]));
        assert_eq!(h.m.phase(), Phase::Free);
        assert_eq!(
            h.sent[sent..]
                .iter()
                .map(|(_, o)| o.clone())
                .collect::<Vec<_>>(),
            [Op::End {
                call_id: "c1".into()
            }]
        );
    }
    // The local deadline, when the server's timeouts were lost.
    let mut h = H::new();
    h.outgoing(&["bob"]);
    h.tick(66_000);
    assert_eq!(h.outcome(), Some(Outcome::NoAnswer));
    assert_eq!(
        h.last_op().1,
        Op::End {
            call_id: "c1".into()
        }
    );
}

/// The seed lets members of an advanced call invite others until it ends: a user left alone
/// in a group call stays in it until it leaves.
#[test]
fn everyone_else_leaving_a_group_call_leaves_the_user_in_it() {
    let mut h = H::new();
    h.outgoing(&["bob", "carol"]);
    h.ev(changed(
        "c1",
        vec![user("bob", CallUserState::Accepted, None)],
    ));
    h.ev(changed(
        "c1",
        vec![user("carol", CallUserState::Timeout, None)],
    ));
    assert_eq!(h.m.phase(), Phase::InCall);
    let sent = h.sent.len();
    h.ev(changed("c1", vec![user("bob", CallUserState::Quit, None)]));
    assert_eq!(h.m.phase(), Phase::InCall);
    assert_eq!(h.sent.len(), sent, "nothing sent");
    let peers: Vec<_> = h.call().peers.iter().map(|p| p.state).collect();
    assert_eq!(peers, [CallUserState::Quit, CallUserState::Timeout]);
    h.intent(Intent::InviteMore {
        users: vec!["dave".into()],
    })
    .unwrap();
    h.intent(Intent::HangUp).unwrap();
    assert_eq!(
        h.last_op().1,
        Op::Quit {
            call_id: "c1".into()
        }
    );
    assert_eq!(h.outcome(), Some(Outcome::Left));
}
