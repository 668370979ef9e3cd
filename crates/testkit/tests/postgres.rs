//! The throwaway PostgreSQL: its databases are separate, and dropping it stops the server
//! and removes its directory.

use beckon_testkit::postgres::PgServer;

#[test]
fn databases_are_separate_and_drop_stops_the_server() {
    let server = PgServer::start();
    let a = server.create_database();
    let b = server.create_database();
    assert_ne!(a, b);
    PgServer::on(&a, |c| c.batch_execute("CREATE TABLE only_in_a (x int)")).unwrap();
    let tables = |url| {
        PgServer::on(url, |c| {
            c.query_one(
                "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'",
                &[],
            )
            .map(|r| r.get::<_, i64>(0))
        })
        .unwrap()
    };
    assert_eq!(tables(&a), 1);
    assert_eq!(tables(&b), 0);

    let port = server.port();
    let dir = server.dir().to_path_buf();
    assert!(dir.join("data").join("PG_VERSION").is_file());
    drop(server);
    // Drop waited for the server to exit: nothing listens any more.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(!dir.exists(), "{} is left behind", dir.display());
}
