//! The quickstart with `AUDIT_SINK=postgres://…`, and every query of docs/postgres.md run
//! against what it wrote.
#![cfg(feature = "postgres")]

mod support;

use support::Quickstart;

fn database_url() -> String {
    std::env::var("AUDIT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The statements of the SQL block under "Questions, answered in SQL".
fn documented_queries() -> Vec<String> {
    let doc = include_str!("../../docs/postgres.md");
    let section = doc
        .split("## Questions, answered in SQL")
        .nth(1)
        .expect("the section exists");
    let block = section
        .split("```sql")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a SQL block");
    block
        .split(';')
        .map(|statement| {
            statement
                .lines()
                .filter(|line| !line.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|statement| !statement.trim().is_empty())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_writes_to_postgres_and_the_documented_sql_answers() {
    let schema = format!("quickstart_{}", uuid::Uuid::now_v7().simple());
    let dir = tempfile::tempdir().unwrap();
    let sink = format!(
        "{}?audit_schema={schema}&audit_spool={}",
        database_url(),
        dir.path().join("spool").display()
    );
    let server = Quickstart::start(dir.path(), Some(&sink));
    // Every call carries the same request id, for the correlation query.
    let request_id = [("x-request-id", "req-123")];
    let sow =
        r#"{"client_id":"CLIENT-001","product":"Real-Time Payments","quality_mode":"production"}"#;
    assert_eq!(
        server
            .call("POST", "/api/v1/sow/create", sow, &request_id)
            .await
            .0,
        200
    );
    assert_eq!(
        server
            .call("GET", "/api/v1/sow/SOW-9999", "", &request_id)
            .await
            .0,
        404
    );
    assert_eq!(
        server
            .call(
                "POST",
                "/api/v1/login",
                r#"{"username":"alice","password":"hunter2"}"#,
                &request_id
            )
            .await
            .0,
        200
    );
    assert_eq!(
        server.call("GET", "/api/v1/panic", "", &request_id).await.0,
        500
    );
    server.stop().await;

    let (client, connection) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("SET search_path = \"{schema}\""))
        .await
        .unwrap();
    let mut answers = Vec::new();
    for query in documented_queries() {
        let rows = client
            .query(&query, &[])
            .await
            .unwrap_or_else(|e| panic!("{query}\n{e:?}"));
        answers.push(rows);
    }
    client
        .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();

    assert_eq!(answers.len(), 7);
    // Latest calls: all four, the panic last in, first out.
    assert_eq!(answers[0].len(), 4);
    assert_eq!(answers[0][0].get::<_, String>("endpoint"), "panic_demo");
    // Failures of sow_create: none.
    assert_eq!(answers[1].len(), 0);
    // Percentiles per endpoint: four endpoints, sow_get's error rate is 1.
    assert_eq!(answers[2].len(), 4);
    // alice's calls: the login.
    assert_eq!(answers[3].len(), 1);
    // The correlation id was sent with every call.
    assert_eq!(answers[4].len(), 4);
    // CLIENT-001's SOW creation, and the day's cost.
    assert_eq!(answers[5].len(), 1);
    assert_eq!(answers[6].len(), 1);
}
