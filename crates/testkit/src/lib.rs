//! What the integration tests of the server, the client and the CLI share: the real
//! server on port 0 (stoppable and restartable on the same port and data), and a TCP
//! proxy in front of it that drops, refuses or freezes connections as a network would.
//! Helpers that speak the protocol stay with the tests that use them. And a real coturn,
//! which the server's TURN tests and the app's media tests relay through. And a
//! throwaway PostgreSQL, on which `BECKON_TEST_DB=postgres` runs every [`TestServer`], and a
//! throwaway NATS, with which `BECKON_TEST_CLUSTER=1` makes each one a three-node cluster.

pub mod coturn;
pub mod nats;
pub mod postgres;
pub mod process;
mod proxy;
mod server;

pub use proxy::Proxy;
pub use server::{healthy, uses_cluster, TestServer, CLUSTER_NODES};

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
