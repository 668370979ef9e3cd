//! The manager's part in media: it passes negotiation messages of the current call to
//! the application and ends a call whose media the application could not carry.

use beckon_protocol::*;
use serde_json::json;

use super::machine::*;
use super::machine_tests::{changed, user, H, VIDEO};
use super::model::*;
use crate::sdk::Event;

fn relay(call_id: &str, from: &str, payload: serde_json::Value) -> Event {
    Event::Relay(RelayEvent {
        call_id: call_id.into(),
        from_user_id: from.into(),
        from_device_id: "d".into(),
        payload,
    })
}

fn signals(h: &H) -> Vec<(String, String, serde_json::Value)> {
    h.updates
        .iter()
        .filter_map(|u| match &u.notice {
            Notice::Signal {
                call_id,
                from_user_id,
                payload,
            } => Some((call_id.clone(), from_user_id.clone(), payload.clone())),
            _ => None,
        })
        .collect()
}

fn in_call_with_bob(h: &mut H) {
    h.outgoing(&["bob"]);
    h.ev(changed(
        "c1",
        vec![user("bob", CallUserState::Accepted, None)],
    ));
    assert_eq!(h.m.phase(), Phase::InCall);
}

#[test]
fn signals_of_the_current_call_are_passed_on_in_order_and_others_dropped() {
    let mut h = H::new();
    in_call_with_bob(&mut h);
    h.ev(relay(
        "c1",
        "bob",
        json!({"description": {"type": "offer"}}),
    ));
    h.ev(relay("old-call", "bob", json!({"candidate": null})));
    h.ev(relay("c1", "bob", json!({"candidate": {"candidate": "x"}})));
    assert_eq!(
        signals(&h),
        [
            (
                "c1".into(),
                "bob".into(),
                json!({"description": {"type": "offer"}})
            ),
            (
                "c1".into(),
                "bob".into(),
                json!({"candidate": {"candidate": "x"}})
            ),
        ]
    );
    // Once the call is over, its late messages go nowhere.
    h.intent(Intent::HangUp).unwrap();
    h.ev(relay("c1", "bob", json!({"candidate": null})));
    assert_eq!(signals(&h).len(), 2);
}

#[test]
fn media_failing_ends_a_one_to_one_call_with_its_reason() {
    for problem in [MediaProblem::CouldNotConnect, MediaProblem::ConnectionLost] {
        let mut h = H::new();
        in_call_with_bob(&mut h);
        h.intent(Intent::MediaFailed {
            call_id: "c1".into(),
            problem,
        })
        .unwrap();
        assert_eq!(h.m.phase(), Phase::Free);
        assert_eq!(h.outcome(), Some(Outcome::MediaFailed { problem }));
        assert_eq!(
            h.last_op().1,
            Op::End {
                call_id: "c1".into()
            }
        );
    }
}

#[test]
fn media_failing_for_an_old_call_or_while_ringing_is_refused() {
    let mut h = H::new();
    in_call_with_bob(&mut h);
    let stale = Intent::MediaFailed {
        call_id: "c0".into(),
        problem: MediaProblem::ConnectionLost,
    };
    assert!(h.intent(stale).is_err());
    assert_eq!(h.m.phase(), Phase::InCall);

    let mut h = H::new();
    h.incoming("c1", VIDEO);
    let ringing = Intent::MediaFailed {
        call_id: "c1".into(),
        problem: MediaProblem::CouldNotConnect,
    };
    assert!(h.intent(ringing).is_err());
    assert_eq!(h.m.phase(), Phase::Incoming);
}

#[test]
fn media_failing_in_a_group_call_leaves_it_for_the_others() {
    let mut h = H::new();
    h.outgoing(&["bob", "carol"]);
    h.ev(changed(
        "c1",
        vec![
            user("bob", CallUserState::Accepted, None),
            user("carol", CallUserState::Accepted, None),
        ],
    ));
    assert!(h.call().group);
    h.intent(Intent::MediaFailed {
        call_id: "c1".into(),
        problem: MediaProblem::ConnectionLost,
    })
    .unwrap();
    assert_eq!(
        h.last_op().1,
        Op::Quit {
            call_id: "c1".into()
        }
    );
}
