//! What the integration tests of the server, the client and the CLI share: the real
//! server on port 0 (stoppable and restartable on the same port and data), and a TCP
//! proxy in front of it that drops, refuses or freezes connections as a network would.
//! Helpers that speak the protocol stay with the tests that use them. And a real coturn,
//! which the server's TURN tests and the app's media tests relay through. And a
//! throwaway PostgreSQL, on which `BECKON_TEST_DB=postgres` runs every [`TestServer`].

pub mod coturn;
pub mod postgres;
mod proxy;
mod server;

pub use proxy::Proxy;
pub use server::TestServer;
