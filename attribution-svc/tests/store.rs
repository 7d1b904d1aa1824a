//! The store's own suite, run on every backend available: SQLite always, PostgreSQL when
//! `ACORN_TEST_DATABASE_URL` names a server (each test in a schema of its own).

use acorn_proto::store::Location;
use acorn_testkit::db::TestDb;
use attribution_svc::store::{
    Added, Created, Finalization, Finalized, NewBatch, NewRun, Store, StoredRun,
};

async fn stores() -> Vec<(TestDb, Store)> {
    TestDb::all_opened(async |path, url| {
        let location = Location::new(path, url).expect("location");
        Store::open(&location).await.expect("open")
    })
    .await
}

fn run(n: u32, fingerprint: u8) -> NewRun {
    NewRun {
        id: format!("run-{n}"),
        request_id: format!("req-{n}"),
        fingerprint: vec![fingerprint],
        performance_year: 2024 + (n % 2) as i32,
        body: format!("body-{n}").into_bytes(),
    }
}

fn batch(run: &str, request_id: &str, fingerprint: u8, lines: u64) -> NewBatch {
    NewBatch {
        run_id: run.into(),
        request_id: request_id.into(),
        fingerprint: vec![fingerprint],
        beneficiaries: 1,
        claim_lines: lines,
        body: format!("{run}/{request_id}").into_bytes(),
    }
}

fn created(c: Created) -> StoredRun {
    match c {
        Created::Created(r) => r,
        other => panic!("not created: {other:?}"),
    }
}

#[tokio::test]
async fn runs_are_created_idempotently_and_listed_newest_first() {
    for (test, store) in stores().await {
        let b = test.backend();
        let first = created(store.create_run(run(1, 1)).await.expect("create"));
        assert_eq!(
            (first.id.as_str(), first.body.as_slice()),
            ("run-1", &b"body-1"[..]),
            "{b}"
        );
        assert!(!first.finalized && first.batches == 0, "{b}");
        // The same request again (under another server-chosen id): the stored run.
        let again = NewRun {
            id: "run-other".into(),
            ..run(1, 1)
        };
        assert_eq!(
            store.create_run(again).await.expect("retry"),
            Created::Existing(first.clone()),
            "{b}"
        );
        assert_eq!(
            store.create_run(run(1, 2)).await.expect("conflict"),
            Created::Conflict,
            "{b}"
        );
        assert_eq!(store.run("run-other").await.expect("get"), None, "{b}");
        for n in 2..=5 {
            created(store.create_run(run(n, 1)).await.expect("create"));
        }
        let (page, next) = store.runs(None, None, 3).await.expect("list");
        let ids: Vec<_> = page.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["run-5", "run-4", "run-3"], "{b}");
        let (rest, end) = store.runs(None, next, 3).await.expect("list");
        let ids: Vec<_> = rest.iter().map(|r| r.id.as_str()).collect();
        assert_eq!((ids, end), (vec!["run-2", "run-1"], None), "{b}");
        let (odd, _) = store.runs(Some(2025), None, 10).await.expect("by year");
        let ids: Vec<_> = odd.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["run-5", "run-3", "run-1"], "{b}");
    }
}

#[tokio::test]
async fn batches_count_once_and_never_land_in_a_finalized_run() {
    for (test, store) in stores().await {
        let b = test.backend();
        let r = created(store.create_run(run(1, 1)).await.expect("create"));
        for (batch, added) in [
            (batch("run-1", "b1", 1, 10), Added::Added),
            (batch("run-1", "b2", 1, 5), Added::Added),
            (batch("run-1", "b1", 1, 10), Added::Duplicate),
            (batch("run-1", "b1", 9, 10), Added::Conflict),
            (batch("nope", "b1", 1, 10), Added::NotFound),
        ] {
            assert_eq!(store.add_batch(batch).await.expect("add"), added, "{b}");
        }
        let now = store.run("run-1").await.expect("get").expect("run");
        assert_eq!(
            (now.batches, now.claim_lines, now.beneficiaries),
            (2, 15, 2),
            "{b}"
        );
        // In upload order, paged by rowid.
        let first = store.batches(r.seq, 0, 1).await.expect("batches");
        assert_eq!(first.len(), 1, "{b}");
        assert_eq!(first[0].1, b"run-1/b1", "{b}");
        let second = store.batches(r.seq, first[0].0, 10).await.expect("batches");
        let bodies: Vec<_> = second.iter().map(|(_, body)| body.as_slice()).collect();
        assert_eq!(bodies, [&b"run-1/b2"[..]], "{b}");

        // Results: an interrupted finalize's rows are replaced; they list in byte order of the id.
        let rows = |aco: i32| {
            vec![
                ("b-10".to_string(), aco, b"x".to_vec()),
                ("B-2".to_string(), 0, b"y".to_vec()),
                ("a-1".to_string(), -1, b"z".to_vec()),
            ]
        };
        assert!(
            store.put_results("run-1", rows(1)).await.expect("put"),
            "{b}"
        );
        assert!(
            store
                .put_results("run-1", rows(0))
                .await
                .expect("put again"),
            "{b}"
        );
        let fin = |batches| Finalization {
            run_id: "run-1".into(),
            request_id: "fin-1".into(),
            batches,
            body: b"final".to_vec(),
        };
        assert_eq!(
            store.finalize(fin(1)).await.expect("stale"),
            Finalized::Changed,
            "{b}"
        );
        let done = match store.finalize(fin(2)).await.expect("finalize") {
            Finalized::Done(run) => run,
            other => panic!("{b}: {other:?}"),
        };
        assert!(done.finalized && done.body == b"final", "{b}");
        assert_eq!(done.finalize_request_id.as_deref(), Some("fin-1"), "{b}");
        assert_eq!(
            store.finalize(fin(2)).await.expect("again"),
            Finalized::Already(done),
            "{b}"
        );
        assert!(
            store
                .batches(r.seq, 0, 10)
                .await
                .expect("batches")
                .is_empty(),
            "{b}: folded in"
        );
        // A batch after finalize is refused, and again when retried (still not added).
        for attempt in ["first", "retried"] {
            let added = store.add_batch(batch("run-1", "b3", 1, 1)).await;
            assert_eq!(added.expect("add"), Added::Finalized, "{b}: {attempt}");
        }
        assert!(
            !store.put_results("run-1", rows(0)).await.expect("put"),
            "{b}"
        );
        let assigned = store.assigned(r.seq, 0, 0, 10).await.expect("assigned");
        let ids: Vec<_> = assigned.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["B-2", "b-10"], "{b}: byte order, upper case first");
        assert_eq!(
            store.assigned(r.seq, 0, 1, 10).await.expect("offset").len(),
            1,
            "{b}"
        );
        assert_eq!(
            store.assignment(r.seq, "a-1").await.expect("one"),
            Some(b"z".to_vec()),
            "{b}"
        );
        assert_eq!(
            store.assignment(r.seq, "zz").await.expect("none"),
            None,
            "{b}"
        );

        assert!(store.delete_run("run-1").await.expect("delete"), "{b}");
        assert!(!store.delete_run("run-1").await.expect("delete"), "{b}");
        assert_eq!(
            store.assignment(r.seq, "a-1").await.expect("gone"),
            None,
            "{b}"
        );
        assert_eq!(
            store.finalize(fin(2)).await.expect("gone"),
            Finalized::NotFound,
            "{b}"
        );
    }
}

#[tokio::test]
async fn concurrent_creates_of_one_request_record_one_run() {
    for (test, store) in stores().await {
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let attempt = NewRun {
                        id: format!("run-{i}"),
                        ..run(7, 1)
                    };
                    store.create_run(attempt).await.expect("create")
                })
            })
            .collect();
        let mut runs = Vec::new();
        for t in tasks {
            runs.push(t.await.expect("join"));
        }
        let fresh = runs
            .iter()
            .filter(|c| matches!(c, Created::Created(_)))
            .count();
        assert_eq!(fresh, 1, "{}", test.backend());
        let stored: Vec<_> = runs
            .into_iter()
            .map(|c| match c {
                Created::Created(r) | Created::Existing(r) => r,
                Created::Conflict => panic!("conflict"),
            })
            .collect();
        assert!(stored.iter().all(|r| r == &stored[0]), "{}", test.backend());
        assert_eq!(store.runs(None, None, 100).await.expect("list").0.len(), 1);
    }
}
