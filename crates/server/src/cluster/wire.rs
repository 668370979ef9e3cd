//! What nodes say to each other over NATS: the subjects and the messages. The only place
//! their names exist, but for the hub's inputs, which go as [`crate::core::Input`].
//!
//! Every subject starts with the cluster's prefix, so clusters on different databases can
//! share one NATS without hearing each other.

use beckon_protocol::CloseReason;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::core::{NodeId, SessionId};

/// How often each node says it is alive, and the leader that it leads.
pub const BEACON_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Most frames in one [`ToNode::Deliveries`]: keeps a message far below NATS's default
/// 1 MB payload limit, which a whole group commit of large frames could pass.
pub const MAX_DELIVERIES: usize = 32;

/// The subjects of one cluster.
#[derive(Debug, Clone)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    /// `cluster`: the name all nodes of the cluster share (made by its first node and
    /// kept in the database); characters NATS gives a meaning in subjects become `_`.
    pub fn new(cluster: &str) -> Subjects {
        let name: String = cluster
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Subjects {
            prefix: format!("beckon.{name}"),
        }
    }

    /// Inputs for the hub, from every node; only the leader listens.
    pub fn hub(&self) -> String {
        format!("{}.hub", self.prefix)
    }

    /// Frames for one node's sessions, from the leader, in commit order.
    pub fn node(&self, node: NodeId) -> String {
        format!("{}.node.{node}", self.prefix)
    }

    /// Beacons: every node's heartbeat and the leader's announcement.
    pub fn beacons(&self) -> String {
        format!("{}.beacon", self.prefix)
    }
}

/// What the leader sends one node. Externally tagged, as is [`Delivery`]: serde reads an
/// internally tagged enum through a buffer that cannot hold a [`RawValue`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ToNode {
    /// Frames of committed batches, in order. `seq` counts the messages the leader of
    /// `term` sent this node, so the node sees one went missing (NATS is at most once)
    /// and that one came from a leader that was replaced.
    Deliveries {
        term: u64,
        seq: u64,
        items: Vec<Delivery>,
    },
    /// The leader counted this node as gone (it fell silent); its sessions are no longer
    /// logged in, so the node closes them and their clients log in again.
    CloseAll,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Delivery {
    /// A server message, JSON as the client gets it.
    Text {
        to: Vec<SessionId>,
        text: Box<RawValue>,
    },
    #[serde(rename_all = "camelCase")]
    LoggedIn {
        session: SessionId,
        user_id: String,
        device_id: String,
    },
    Close {
        session: SessionId,
        reason: CloseReason,
    },
}

/// Said every [`BEACON_EVERY`] by each node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "beacon", rename_all = "camelCase")]
pub enum Beacon {
    Alive {
        node: NodeId,
    },
    /// From the node that holds the database's lock. `term` counts elections: a node
    /// follows the highest it has heard, so a leader that lost the lock without noticing
    /// yet is not followed back.
    Leader {
        node: NodeId,
        term: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_carries_the_clients_json_unchanged() {
        let text = r#"{"type":"callInvitationTimeout","callId":"c1"}"#;
        let out = ToNode::Deliveries {
            term: 2,
            seq: 5,
            items: vec![Delivery::Text {
                to: vec![1 << 48 | 3],
                text: RawValue::from_string(text.into()).unwrap(),
            }],
        };
        let wire = serde_json::to_string(&out).unwrap();
        let ToNode::Deliveries { items, .. } = serde_json::from_str(&wire).unwrap() else {
            panic!("{wire}");
        };
        let [Delivery::Text { to, text: back }] = &items[..] else {
            panic!("{wire}");
        };
        assert_eq!((to.as_slice(), back.get()), (&[1 << 48 | 3][..], text));
    }

    #[test]
    fn a_hub_input_crosses_as_json_whole_and_is_timed_from_its_arrival() {
        use crate::core::Input;
        use beckon_protocol::{CallCancel, RequestBody};
        let sent = Input::Request {
            session: 3 << 48 | 9,
            req: 7,
            body: RequestBody::CallCancel(CallCancel {
                call_id: "c1".into(),
                invitees: vec!["bob".into()],
                extended_data: "\u{0}why".into(),
            }),
            started: std::time::Instant::now() - std::time::Duration::from_secs(60),
        };
        let wire = serde_json::to_string(&sent).unwrap();
        let back: Input = serde_json::from_str(&wire).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), wire);
        let Input::Request { started, .. } = back else {
            panic!("{wire}");
        };
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn subjects_keep_the_cluster_name_to_one_token() {
        let s = Subjects::new("team db.*>");
        assert_eq!(s.hub(), "beckon.team_db___.hub");
        assert_eq!(s.node(7), "beckon.team_db___.node.7");
    }
}
