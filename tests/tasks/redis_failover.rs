//! Redis fails over to its replica (issue 21 §4): the primary dies, the
//! replica is promoted and the service address moves to it. Replication is
//! asynchronous, so the replica lacks what the primary had not sent it yet;
//! it still carries the heal markers the primary had replicated, which say
//! "whole". The markers also name the server that wrote them (`run_id`), so
//! the next heartbeat sees another server answering and heals from the
//! database.
use redis::aio::ConnectionManager;
use serde_json::json;

use orders_flow::{models::kpi, workers::heal};

use crate::support::{
    kpi_data::{drain_all, run_orders},
    servers::{Address, PrivateRedis},
    TestApp,
};

/// The first command on a connection whose server went away fails (broken
/// pipe) and the manager reconnects: this spends that failure.
async fn reconnect(conn: &ConnectionManager) {
    let _: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut conn.clone()).await;
}

#[tokio::test]
async fn a_promoted_replica_lacking_writes_is_healed_from_the_database() {
    let mut primary = PrivateRedis::start();
    let replica = PrivateRedis::start_replica_of(&primary);
    let mut address = Address::to(primary.port());
    let url = address.redis_url();
    // Booting heals the fresh prefix: the markers say "whole", written by the primary.
    let app = TestApp::boot_with(|s| s["redis"]["url"] = json!(url)).await;
    let services = app.services();
    let prefix = services.settings.redis.prefix.clone();
    let replicated: u64 = primary.query(redis::cmd("WAIT").arg(1).arg(10_000));
    assert_eq!(replicated, 1, "the replica holds the markers");

    // The replica stops following (as a replica that lags, here for good);
    // the primary goes on taking writes it will never send: the figures of
    // every order below.
    replica.query::<()>(redis::cmd("REPLICAOF").arg("NO").arg("ONE"));
    run_orders(&app, 30).await;
    let applied = drain_all(&app.ctx().db, &services.redis, &prefix).await;
    assert!(applied > 0, "KPI events applied on the primary");
    assert_eq!(
        kpi::verify(&app.ctx().db, &services.redis, &prefix)
            .await
            .unwrap(),
        vec![],
        "the primary's figures are whole"
    );

    // The primary dies; the address moves to the promoted replica.
    primary.kill();
    address.move_to(replica.port());
    reconnect(&services.redis).await;
    let lost = kpi::verify(&app.ctx().db, &services.redis, &prefix)
        .await
        .unwrap();
    assert!(!lost.is_empty(), "the replica lacks the figures");
    assert_eq!(
        heal::check(&mut services.redis.clone(), &prefix)
            .await
            .unwrap(),
        heal::check(&mut services.redis.clone(), &prefix)
            .await
            .unwrap(),
        "the server is noticed once: the next check sees the same generation"
    );

    // A worker's heartbeat (called directly) heals it.
    let report = heal::heal_if_lost(&app.jobs())
        .await
        .unwrap()
        .expect("a heal after the failover");
    assert!(report.days_rebuilt > 0, "{report:?}");
    let heals: u64 = redis::cmd("GET")
        .arg(heal::heals_key(&prefix))
        .query_async(&mut services.redis.clone())
        .await
        .unwrap();
    assert_eq!(heals, 1, "one heal since the failover");
    assert_eq!(
        kpi::verify(&app.ctx().db, &services.redis, &prefix)
            .await
            .unwrap(),
        vec![],
        "the figures are the database's again"
    );
    assert_eq!(
        heal::heal_if_lost(&app.jobs()).await.unwrap(),
        None,
        "healed once: the same server answering is whole"
    );
}
