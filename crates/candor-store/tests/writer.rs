//! The single writer under concurrency: group-committed jobs, rejected jobs rolled back
//! (rows, log entries — also those a job wrote early with `flush_log` — and effects), the log's checkpoint, proofs and tiles against
//! `candor-log`'s own maths, and the same after reopening.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use candor_log::tile::{read_tile_data, tiles_for_size};
use candor_log::{verify_proof_file, Checkpoint, Signer, StoredHashes};
use candor_store::{sqlx, Store, StoreError, StoreOptions};

mod support;
use support::Db;

const ORIGIN: &str = "candor.test/store";
const TASKS: u64 = 50;
const JOBS_PER_TASK: u64 = 40; // 2,000 jobs

fn signer() -> Signer {
    Signer::from_seed(ORIGIN, &[7; 32]).unwrap()
}

/// Deterministic per job: how many entries (1..=3) and whether it rejects itself.
fn plan(job: u64) -> (u64, bool) {
    let x = job.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    (1 + x % 3, x % 7 == 3)
}

fn entry(job: u64, k: u64) -> Vec<u8> {
    format!("job {job} entry {k} {}", "x".repeat((job % 50) as usize)).into_bytes()
}

/// What one successful job reported: its indexes.
type Done = BTreeMap<u64, Vec<u64>>;

async fn run_jobs(store: &Store, first_job: u64, effects: Arc<Mutex<Vec<(u64, u64)>>>) -> Done {
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        let effects = effects.clone();
        handles.push(tokio::spawn(async move {
            let mut done = Vec::new();
            for j in 0..JOBS_PER_TASK {
                let job = first_job + t * JOBS_PER_TASK + j;
                let (n, reject) = plan(job);
                let fx = effects.clone();
                let r = store
                    .write(move |ctx| {
                        Box::pin(async move {
                            sqlx::query("INSERT INTO test_jobs (job) VALUES ($1)")
                                .bind(job as i64)
                                .execute(&mut ctx.conn)
                                .await?;
                            let mut idx = Vec::new();
                            for k in 0..n {
                                idx.push(ctx.append(entry(job, k)));
                                // Some jobs write their entries early (as imports do); a
                                // rejected one must still leave none, and the entries of
                                // the jobs before it in the batch must survive.
                                if job % 4 == 1 && k == 0 {
                                    ctx.flush_log().await?;
                                }
                            }
                            assert_eq!(ctx.log_size(), idx[idx.len() - 1] + 1);
                            let first = idx[0];
                            ctx.after_commit(move || fx.lock().unwrap().push((job, first)));
                            if reject {
                                return Err(StoreError::Rejected(format!("job {job} says no")));
                            }
                            Ok(idx)
                        })
                    })
                    .await;
                match r {
                    Ok(idx) => {
                        assert!(!reject, "job {job} should have been rejected");
                        // The effect ran before the caller got its answer.
                        assert!(
                            effects.lock().unwrap().iter().any(|&(j, _)| j == job),
                            "job {job}: answered before its effect ran"
                        );
                        done.push((job, idx));
                    }
                    Err(StoreError::Rejected(m)) => {
                        assert!(reject, "job {job} failed: {m}");
                        assert!(m.contains("says no"), "{m}");
                    }
                    Err(e) => panic!("job {job}: {e}"),
                }
            }
            done
        }));
    }
    let mut done = Done::new();
    for h in handles {
        for (job, idx) in h.await.unwrap() {
            done.insert(job, idx);
        }
    }
    done
}

/// Everything the store holds must agree with the jobs that succeeded and with candor-log.
async fn check(store: &Store, done: &Done) {
    let n: u64 = done.values().map(|v| v.len() as u64).sum();
    let signed = store.checkpoint();
    let cp = Checkpoint::open(signed.note.as_bytes(), store.verifier()).unwrap();
    assert_eq!(cp, signed.checkpoint);
    assert_eq!(cp.size, n, "log size = entries of successful jobs");

    // Entries: exactly those of successful jobs, each at the index its job was told.
    let entries = store.log_entries(0, n + 10).await.unwrap();
    assert_eq!(entries.len() as u64, n);
    let mut seen = HashSet::new();
    for (job, idx) in done {
        for (k, &i) in idx.iter().enumerate() {
            assert_eq!(entries[i as usize], entry(*job, k as u64), "entry {i}");
            assert!(seen.insert(i));
        }
        // A job's entries are contiguous.
        assert_eq!(idx[idx.len() - 1] - idx[0] + 1, idx.len() as u64);
    }
    // Rejected jobs left no rows.
    let rows: Vec<i64> = sqlx::query_scalar("SELECT job FROM test_jobs ORDER BY job")
        .fetch_all(store.reader())
        .await
        .unwrap();
    let want: Vec<i64> = done.keys().map(|&j| j as i64).collect();
    assert_eq!(rows, want, "rows of rejected jobs were rolled back");

    // The root is the RFC 6962 tree of the entries in order.
    let mut stored = StoredHashes::new();
    for e in &entries {
        stored.append_entry(e).unwrap();
    }
    assert_eq!(stored.size(), n);
    assert_eq!(cp.root, stored.root(), "checkpoint root");

    // Every proof verifies, for its own entry, against the latest checkpoint.
    let verifier = store.verifier().clone();
    for i in 0..n {
        let proof = store.log_proof(i).await.unwrap().expect("proof");
        let v = verify_proof_file(proof.as_bytes(), &verifier)
            .unwrap_or_else(|e| panic!("proof {i}: {e}"));
        assert_eq!(v.index, i);
        assert_eq!(v.checkpoint.size, n);
        assert_eq!(v.entry.as_deref(), Some(entries[i as usize].as_slice()));
    }
    assert!(store.log_proof(n).await.unwrap().is_none());

    // Tiles equal candor-log's over the same hashes; nothing past the tree is served.
    let tiles = tiles_for_size(0, n);
    assert!(!tiles.is_empty());
    for t in tiles {
        let got = store.log_tile(t).await.unwrap().expect("tile");
        let want = read_tile_data(&t, &stored).unwrap();
        assert_eq!(got, want, "tile {}", t.path());
        if t.width < 256 {
            let mut wider = t;
            wider.width += 1;
            assert!(store.log_tile(wider).await.unwrap().is_none());
        }
    }
}

fn check_effects(effects: &[(u64, u64)], done: &Done) {
    // Only successful jobs' effects ran, each once, in commit (= log) order.
    let jobs: Vec<u64> = effects.iter().map(|e| e.0).collect();
    let set: HashSet<u64> = jobs.iter().copied().collect();
    assert_eq!(set.len(), jobs.len(), "an effect ran twice");
    assert_eq!(set, done.keys().copied().collect::<HashSet<_>>());
    for w in effects.windows(2) {
        assert!(w[0].1 < w[1].1, "effects out of commit order: {w:?}");
    }
    for &(job, first) in effects {
        assert_eq!(done[&job][0], first);
    }
}

on_both!(concurrent_jobs_commit_group_and_reopen, concurrent_jobs_on);
async fn concurrent_jobs_on(db: Db) {
    let dir = &db.dir;
    let options = StoreOptions {
        max_batch: 64,
        readers: 4,
        database_url: db.url.clone(),
    };
    let store = Store::open(dir.path(), signer(), options.clone())
        .await
        .unwrap();
    assert_eq!(store.checkpoint().checkpoint.size, 0);
    store
        .write(|ctx| {
            Box::pin(async move {
                sqlx::query("CREATE TABLE test_jobs (job BIGINT PRIMARY KEY)")
                    .execute(&mut ctx.conn)
                    .await?;
                Ok(())
            })
        })
        .await
        .unwrap();
    // A job with no entries leaves the log alone.
    assert_eq!(store.checkpoint().checkpoint.size, 0);

    let effects = Arc::new(Mutex::new(Vec::new()));
    let done = run_jobs(&store, 0, effects.clone()).await;
    let rejected = (0..TASKS * JOBS_PER_TASK).filter(|&j| plan(j).1).count();
    assert!(rejected > 100 && done.len() + rejected == (TASKS * JOBS_PER_TASK) as usize);
    check(&store, &done).await;
    check_effects(&effects.lock().unwrap(), &done);

    // Every committed entry is this writer's, and nothing beyond the log; forgetting below an
    // index keeps the rest.
    let size = store.checkpoint().checkpoint.size;
    assert!((0..size).all(|i| store.committed_here(i)));
    assert!(!store.committed_here(size));
    store.forget_committed_before(size / 2);
    assert!(!store.committed_here(size / 2 - 1) && store.committed_here(size / 2));

    // Reopen with the same key: everything is still there.
    let before = store.checkpoint().note;
    store.close().await;
    let store = Store::open(dir.path(), signer(), options.clone())
        .await
        .unwrap();
    assert_eq!(store.checkpoint().note, before);
    check(&store, &done).await;
    // Entries written before this store was opened are not its own.
    assert!(!store.committed_here(0) && !store.committed_here(size - 1));

    // And the log keeps growing consistently from where it was.
    let effects2 = Arc::new(Mutex::new(Vec::new()));
    let more = run_jobs(&store, 1_000_000, effects2.clone()).await;
    check_effects(&effects2.lock().unwrap(), &more);
    let mut all = done;
    all.extend(more);
    check(&store, &all).await;
    store.close().await;

    // A different key cannot open it.
    let other = Signer::from_seed(ORIGIN, &[8; 32]).unwrap();
    assert!(Store::open(dir.path(), other, options).await.is_err());
}

/// PostgreSQL crashing under a running store: writes fail with `Unavailable` (nothing half
/// written) while it is down, and succeed again once it is back, on a new connection, with the
/// log still consistent (reopened, its checkpoint verifies against the stored tree).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_is_survived() {
    let Some(mut db) = Db::new(support::Kind::Postgres) else {
        return;
    };
    let store = Store::open(db.dir.path(), signer(), db.options())
        .await
        .unwrap();
    let append = |store: &Store, n: u64| {
        let store = store.clone();
        async move {
            store
                .write(move |ctx| {
                    Box::pin(async move {
                        ctx.append(entry(n, 0));
                        Ok(())
                    })
                })
                .await
        }
    };
    append(&store, 1).await.unwrap();
    db.pg.as_mut().unwrap().restart();
    let mut failures = 0;
    let mut ok = false;
    for i in 0..50 {
        match append(&store, 100 + i).await {
            Ok(()) => {
                ok = true;
                break;
            }
            Err(e) => {
                assert!(e.is_storage_failure(), "{e:?}");
                failures += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    assert!(ok, "no write succeeded after PostgreSQL came back");
    assert!(failures <= 2, "{failures} writes failed after the restart");
    append(&store, 1000).await.unwrap();
    let size = store.checkpoint().checkpoint.size;
    assert_eq!(size, 3, "one entry per acknowledged write");
    store.close().await;
    let again = Store::open(db.dir.path(), signer(), db.options())
        .await
        .unwrap();
    assert_eq!(again.checkpoint().checkpoint.size, size);
}

on_both!(a_job_written_alone_has_a_transaction_of_its_own, alone_on);
/// `write_alone`: the jobs queued before it commit without it and those after it wait for the
/// next transaction; other jobs still share one (one signed checkpoint per transaction).
async fn alone_on(db: Db) {
    let options = StoreOptions {
        max_batch: 64,
        readers: 2,
        database_url: db.url.clone(),
    };
    let store = Store::open(db.dir.path(), signer(), options).await.unwrap();
    let one = |store: &Store, alone: bool, name: &'static str| {
        let store = store.clone();
        tokio::spawn(async move {
            if alone {
                store
                    .write_alone(move |ctx| {
                        Box::pin(async move {
                            ctx.append(name.as_bytes().to_vec());
                            Ok(())
                        })
                    })
                    .await
            } else {
                store
                    .write(move |ctx| {
                        Box::pin(async move {
                            ctx.append(name.as_bytes().to_vec());
                            Ok(())
                        })
                    })
                    .await
            }
        })
    };
    // Hold the writer in a job until the others are queued behind it, in this order.
    let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let blocker = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .write(move |ctx| {
                    Box::pin(async move {
                        ctx.append(b"blocker".to_vec());
                        let _ = started_tx.send(());
                        let _ = released.await;
                        Ok(())
                    })
                })
                .await
        })
    };
    started.await.unwrap();
    let mut queued = Vec::new();
    for (alone, name) in [(false, "n1"), (true, "alone"), (false, "n2"), (false, "n3")] {
        queued.push(one(&store, alone, name));
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    for q in queued {
        q.await.unwrap().unwrap();
    }
    let sizes: Vec<i64> = store
        .write(|ctx| {
            Box::pin(async move {
                Ok(
                    sqlx::query_scalar("SELECT size FROM log_checkpoints ORDER BY size")
                        .fetch_all(&mut ctx.conn)
                        .await?,
                )
            })
        })
        .await
        .unwrap();
    // The empty log's checkpoint, then the blocker's transaction, n1's, the alone job's, then
    // n2 and n3 together.
    assert_eq!(sizes, vec![0, 1, 2, 3, 5]);
    store.close().await;
}
