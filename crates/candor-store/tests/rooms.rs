//! The rooms' operations (tokens, policies, decisions and notices, review, appeals) against a
//! real store: each write inside a writer job, each read through the reader pool, and the
//! guards the flows rely on (only open items close, only live tokens revoke, one open appeal).
//! The store test suite every backend must pass.

use candor_log::Signer;
use candor_store::appeals::Subject;
use candor_store::decisions::{NewDecision, NewNotice};
use candor_store::review::NewItem;
use candor_store::{appeals, decisions, policies, review, sqlx, tokens, Store};

mod support;
use support::Db;

async fn store(db: &Db) -> Store {
    let signer = Signer::from_seed("candor.test/rooms", &[3; 32]).unwrap();
    Store::open(db.dir.path(), signer, db.options())
        .await
        .unwrap()
}

/// Run `f` as one write job.
macro_rules! write {
    ($store:expr, |$c:ident| $body:expr) => {
        $store
            .write(move |ctx| {
                Box::pin(async move {
                    let $c = &mut ctx.conn;
                    $body
                })
            })
            .await
    };
}

on_both!(tokens_live_list_revoke, tokens_live_list_revoke_on);
async fn tokens_live_list_revoke_on(db: Db) {
    let s = store(&db).await;
    assert_eq!(tokens::live_count(s.reader()).await.unwrap(), 0);
    for (id, role, h) in [("t1", "admin", [1u8; 32]), ("t2", "platform", [2u8; 32])] {
        let row = tokens::TokenRow {
            id: id.into(),
            name: format!("{role} holder"),
            role: role.into(),
            created_at: "2026-12-01T00:00:00Z".into(),
            revoked_at: None,
        };
        write!(s, |c| tokens::create(c, &row, &h).await).unwrap();
    }
    assert_eq!(tokens::live_count(s.reader()).await.unwrap(), 2);
    let hit = tokens::live_by_hash(s.reader(), &[2; 32])
        .await
        .unwrap()
        .unwrap();
    assert_eq!((hit.id.as_str(), hit.role.as_str()), ("t2", "platform"));
    assert!(tokens::live_by_hash(s.reader(), &[9; 32])
        .await
        .unwrap()
        .is_none());

    assert!(write!(s, |c| tokens::revoke(c, "t2", "2026-12-01T01:00:00Z").await).unwrap());
    // Twice, or an unknown token: nothing to revoke.
    assert!(!write!(s, |c| tokens::revoke(c, "t2", "2026-12-01T02:00:00Z").await).unwrap());
    assert!(
        !write!(s, |c| tokens::revoke(c, "nope", "2026-12-01T02:00:00Z")
            .await)
        .unwrap()
    );
    assert!(tokens::live_by_hash(s.reader(), &[2; 32])
        .await
        .unwrap()
        .is_none());
    let live = tokens::live(s.reader()).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].secret_hash, vec![1u8; 32]);
    let all = tokens::list(s.reader()).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].revoked_at.as_deref(), Some("2026-12-01T01:00:00Z"));
    // A duplicate id is refused and writes nothing.
    let dup = all[0].clone();
    assert!(write!(s, |c| tokens::create(c, &dup, &[5; 32]).await).is_err());
    assert_eq!(tokens::list(s.reader()).await.unwrap().len(), 2);
}

on_both!(policies_replace_whole_set, policies_replace_whole_set_on);
async fn policies_replace_whole_set_on(db: Db) {
    let s = store(&db).await;
    let empty = policies::load(s.reader()).await.unwrap();
    assert!(empty.policies.is_empty() && empty.sampling.is_none());
    let set = vec![
        ("b".to_string(), "{\"id\":\"b\"}".to_string()),
        ("a".into(), "{\"id\":\"a\"}".into()),
    ];
    write!(s, |c| policies::replace(c, &set, "{\"rate\":0}", "t0")
        .await)
    .unwrap();
    let got = policies::load(s.reader()).await.unwrap();
    // In the given order, not by id.
    assert_eq!(got.policies, vec!["{\"id\":\"b\"}", "{\"id\":\"a\"}"]);
    assert_eq!(got.sampling.as_deref(), Some("{\"rate\":0}"));
    let one = vec![("a".to_string(), "{\"id\":\"a\",\"v\":2}".to_string())];
    write!(s, |c| {
        assert_eq!(
            policies::sampling(c).await?.as_deref(),
            Some("{\"rate\":0}")
        );
        policies::replace(c, &one, "{\"rate\":1}", "t1").await
    })
    .unwrap();
    let got = policies::load(s.reader()).await.unwrap();
    assert_eq!(got.policies, vec!["{\"id\":\"a\",\"v\":2}"]);
    assert_eq!(got.sampling.as_deref(), Some("{\"rate\":1}"));
}

fn decision<'a>(id: &'a str, item: Option<&'a str>, index: u64) -> NewDecision<'a> {
    NewDecision {
        id,
        created_at: "2026-12-01T00:00:00Z",
        puid: "msg-1",
        surface: "group",
        action: if item.is_some() {
            "hold_for_review"
        } else {
            "withhold"
        },
        policy_id: "p1",
        jurisdictions: "[\"DE\"]",
        statement: "{\"category\":\"x\"}",
        matches: "[]",
        nonce: &[7; 32],
        log_index: index,
        review_item: item,
    }
}

fn notice<'a>(id: &'a str, decision: &'a str, account: &'a str, role: &'a str) -> NewNotice<'a> {
    NewNotice {
        id,
        decision_id: Some(decision),
        review_item: None,
        account,
        role,
        kind: "decision",
        text: "you were told",
        created_at: "2026-12-01T00:00:00Z",
        deferred_legal_basis: None,
        log_index: 0,
    }
}

on_both!(
    decisions_accounts_notices_deferral,
    decisions_accounts_notices_deferral_on
);
async fn decisions_accounts_notices_deferral_on(db: Db) {
    let s = store(&db).await;
    write!(s, |c| {
        decisions::record(c, &decision("d1", None, 4)).await?;
        decisions::add_account(c, "d1", "alice", "US", "sender").await?;
        decisions::add_account(c, "d1", "bob", "DE", "recipient").await?;
        // Named twice (a recipient also in the audience): recorded once.
        decisions::add_account(c, "d1", "bob", "DE", "recipient").await?;
        decisions::add_notice(c, &notice("n1", "d1", "alice", "sender")).await?;
        decisions::add_notice(
            c,
            &NewNotice {
                deferred_legal_basis: Some("court order 12"),
                ..notice("n2", "d1", "bob", "recipient")
            },
        )
        .await
    })
    .unwrap();
    let d = decisions::get(s.reader(), "d1").await.unwrap().unwrap();
    assert_eq!(
        (d.status.as_str(), d.decided_by.as_str(), d.log_index),
        ("in_force", "automated", Some(4))
    );
    assert_eq!(d.jurisdictions, "[\"DE\"]");
    assert!(decisions::get(s.reader(), "d9").await.unwrap().is_none());
    assert!(decisions::affects(s.reader(), "d1", "bob").await.unwrap());
    assert!(!decisions::affects(s.reader(), "d1", "carol").await.unwrap());
    assert_eq!(
        decisions::of_account(s.reader(), "bob").await.unwrap(),
        vec![("d1".to_string(), "recipient".to_string(), true)]
    );
    assert_eq!(
        decisions::of_account(s.reader(), "alice").await.unwrap(),
        vec![("d1".to_string(), "sender".to_string(), false)]
    );
    // The deferred notice is listed only when asked for; its commitment opens with the
    // decision's nonce and content id.
    assert!(decisions::notices_of_account(s.reader(), "bob", false)
        .await
        .unwrap()
        .is_empty());
    let n = decisions::notices_of_account(s.reader(), "bob", true)
        .await
        .unwrap();
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].nonce.as_deref(), Some(&[7u8; 32][..]));
    assert_eq!(n[0].puid.as_deref(), Some("msg-1"));
    // The decision's notices: both with the deferred one, only the sender's without.
    let of_d = |include| decisions::notices_of_decision(s.reader(), "d1", include);
    let ids = |v: Vec<decisions::NoticeRow>| v.into_iter().map(|n| n.id).collect::<Vec<_>>();
    assert_eq!(ids(of_d(true).await.unwrap()), ["n1", "n2"]);
    assert_eq!(ids(of_d(false).await.unwrap()), ["n1"]);
    assert!(decisions::notices_of_decision(s.reader(), "d9", true)
        .await
        .unwrap()
        .is_empty());
    assert!(write!(s, |c| decisions::release_notice(c, "n2", "t1").await).unwrap());
    assert!(!write!(s, |c| decisions::release_notice(c, "n2", "t2").await).unwrap());
    assert!(!write!(s, |c| decisions::release_notice(c, "n1", "t2").await).unwrap());
    let released = decisions::notice(s.reader(), "n2").await.unwrap().unwrap();
    assert_eq!(released.released_at.as_deref(), Some("t1"));
    assert_eq!(
        decisions::notices_of_account(s.reader(), "bob", false)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(!decisions::of_account(s.reader(), "bob").await.unwrap()[0].2);
    let told = write!(s, |c| decisions::notified(c, "d1").await).unwrap();
    assert_eq!(told.len(), 2);
    // Review closes only a decision in force; an appeal reverses.
    write!(s, |c| decisions::close_review(c, "d1", "confirmed", "rita")
        .await)
    .unwrap();
    write!(s, |c| decisions::close_review(c, "d1", "lifted", "sam")
        .await)
    .unwrap();
    let d = decisions::get(s.reader(), "d1").await.unwrap().unwrap();
    assert_eq!(
        (d.status.as_str(), d.decided_by.as_str()),
        ("confirmed", "rita")
    );
    write!(s, |c| decisions::reverse(c, "d1").await).unwrap();
    assert_eq!(
        decisions::get(s.reader(), "d1")
            .await
            .unwrap()
            .unwrap()
            .status,
        "reversed"
    );
}

fn item<'a>(id: &'a str, decision: Option<&'a str>, sender: &'a str) -> NewItem<'a> {
    NewItem {
        id,
        decision_id: decision,
        puid: "msg-2",
        signals: "{\"pdq\":null}",
        created_at: "2026-12-01T00:00:00Z",
        surface: "public",
        sender_account: sender,
        sender_jurisdiction: "FR",
        notify_recipients: None,
        nonce: &[8; 32],
        log_index: 9,
        priority: 0,
    }
}

on_both!(review_queue_by_priority, review_queue_by_priority_on);
async fn review_queue_by_priority_on(db: Db) {
    let s = store(&db).await;
    write!(s, |c| {
        for (id, priority) in [("q1", 10), ("q2", 90), ("q3", 50), ("q4", 90), ("q5", 0)] {
            review::queue(
                c,
                &NewItem {
                    priority,
                    ..item(id, None, "alice")
                },
            )
            .await?;
        }
        Ok(())
    })
    .unwrap();
    let ids = |rows: &[review::ReviewRow]| rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    let all = review::list_by_priority(s.reader(), "open", None, 100)
        .await
        .unwrap();
    // Highest first; within a priority, oldest (smallest id) first.
    assert_eq!(ids(&all), ["q2", "q4", "q3", "q1", "q5"]);
    assert_eq!(
        all.iter().map(|r| r.priority).collect::<Vec<_>>(),
        [90, 90, 50, 10, 0]
    );
    // Oldest first is unchanged.
    let old = review::list(s.reader(), "open", "", 100).await.unwrap();
    assert_eq!(ids(&old), ["q1", "q2", "q3", "q4", "q5"]);
    // Pages of two by the last item's (priority, id): every item once, in order.
    let mut seen = Vec::new();
    let mut after: Option<(i64, String)> = None;
    loop {
        let page = review::list_by_priority(
            s.reader(),
            "open",
            after.as_ref().map(|(p, i)| (*p, i.as_str())),
            2,
        )
        .await
        .unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.priority, last.id.clone()));
        seen.extend(ids(&page));
    }
    assert_eq!(seen, ["q2", "q4", "q3", "q1", "q5"]);
    // Closed items leave the open queue.
    assert!(write!(s, |c| review::close(
        c, "q2", "rejected", "rita", "t", "", None
    )
    .await)
    .unwrap());
    let open = review::list_by_priority(s.reader(), "open", None, 100)
        .await
        .unwrap();
    assert_eq!(ids(&open), ["q4", "q3", "q1", "q5"]);
}

on_both!(
    review_queue_close_and_additions,
    review_queue_close_and_additions_on
);
async fn review_queue_close_and_additions_on(db: Db) {
    let s = store(&db).await;
    write!(s, |c| {
        decisions::record(c, &decision("d1", Some("r1"), 1)).await?;
        review::queue(c, &item("r1", Some("d1"), "alice")).await?;
        review::queue(
            c,
            &NewItem {
                notify_recipients: Some("[\"bob\"]"),
                ..item("r2", None, "alice")
            },
        )
        .await?;
        review::queue(c, &item("r3", None, "carol")).await
    })
    .unwrap();
    let open = review::list(s.reader(), "open", "", 100).await.unwrap();
    assert_eq!(
        open.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["r1", "r2", "r3"]
    );
    assert_eq!(
        (open[0].kind.as_str(), open[1].kind.as_str()),
        ("held", "sampled")
    );
    // Paging by cursor and limit.
    let page = review::list(s.reader(), "all", "r1", 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, "r2");
    // By priority: nothing set yet, so age order.
    let by_p = review::list_by_priority(s.reader(), "open", None, 100)
        .await
        .unwrap();
    assert_eq!(
        by_p.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["r1", "r2", "r3"]
    );
    let p = review::person(s.reader(), "r2").await.unwrap().unwrap();
    assert_eq!(p.sender_account.as_deref(), Some("alice"));
    assert_eq!(p.notify_recipients.as_deref(), Some("[\"bob\"]"));
    assert!(review::person(s.reader(), "r1")
        .await
        .unwrap()
        .unwrap()
        .notify_recipients
        .is_none());
    assert!(review::person(s.reader(), "zz").await.unwrap().is_none());

    // A bank to add to (the banks room's own operations live elsewhere).
    write!(s, |c| {
        sqlx::query("INSERT INTO banks (id, name, description, category, provenance, enabled, pdq_threshold, created_at, updated_at) VALUES (1, 'own', '', 'STATEMENT_CATEGORY_X', 'own_review', 1, 31, 't', 't')")
            .execute(&mut *c)
            .await?;
        sqlx::query("INSERT INTO bank_content (id, public_id, bank_id, provenance, note, enabled, created_at, created_by) VALUES (1, 'c1', 1, 'own_review', '', 1, 't', 'rita')")
            .execute(&mut *c)
            .await?;
        Ok(())
    })
    .unwrap();
    let own = candor_store::banks::find_bank(s.reader(), "own")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((own.id, own.category.as_str()), (1, "STATEMENT_CATEGORY_X"));
    assert!(candor_store::banks::find_bank(s.reader(), "none")
        .await
        .unwrap()
        .is_none());
    assert!(write!(s, |c| review::close(
        c,
        "r2",
        "confirmed",
        "rita",
        "t1",
        "seen",
        Some("c1")
    )
    .await)
    .unwrap());
    // Closed once: a second reviewer finds it closed.
    assert!(!write!(s, |c| review::close(
        c, "r2", "rejected", "sam", "t2", "", None
    )
    .await)
    .unwrap());
    write!(s, |c| review::set_log_indexes(c, "r2", 11, Some(12)).await).unwrap();
    let r2 = review::get(s.reader(), "r2").await.unwrap().unwrap();
    assert_eq!(
        (
            r2.status.as_str(),
            r2.reviewer.as_deref(),
            r2.bank_content.as_deref()
        ),
        ("confirmed", Some("rita"), Some("c1"))
    );
    assert_eq!(
        review::list(s.reader(), "confirmed", "", 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        review::live_addition(s.reader(), "r2").await.unwrap(),
        Some(("own".to_string(), "c1".to_string()))
    );
    let mine = review::of_sender(s.reader(), "alice").await.unwrap();
    assert_eq!(mine.len(), 2);
    let r2x = &mine[1];
    assert_eq!(
        (
            r2x.bank.as_deref(),
            r2x.bank_content_retracted,
            r2x.review_log_index,
            r2x.bank_log_index
        ),
        (Some("own"), false, Some(11), Some(12))
    );
    assert!(!mine[0].deferred);
    // Retracted content is no longer a live addition, and the export says so.
    write!(s, |c| {
        sqlx::query("UPDATE bank_content SET retracted_at = 't3' WHERE public_id = 'c1'")
            .execute(&mut *c)
            .await?;
        Ok(())
    })
    .unwrap();
    assert!(review::live_addition(s.reader(), "r2")
        .await
        .unwrap()
        .is_none());
    assert!(review::of_sender(s.reader(), "alice").await.unwrap()[1].bank_content_retracted);
    assert!(review::of_sender(s.reader(), "nobody")
        .await
        .unwrap()
        .is_empty());
}

on_both!(
    appeals_one_open_per_subject_and_account,
    appeals_one_open_per_subject_and_account_on
);
async fn appeals_one_open_per_subject_and_account_on(db: Db) {
    let s = store(&db).await;
    let d = Subject::Decision("d1".into());
    let a = Subject::Addition("r1".into());
    write!(s, |c| {
        decisions::record(c, &decision("d1", None, 1)).await?;
        review::queue(c, &item("r1", None, "alice")).await?;
        assert!(
            appeals::open_for(c, &Subject::Decision("d1".into()), "alice")
                .await?
                .is_none()
        );
        appeals::file(
            c,
            "a1",
            &Subject::Decision("d1".into()),
            "alice",
            "wrong",
            "t1",
        )
        .await?;
        appeals::file(
            c,
            "a2",
            &Subject::Addition("r1".into()),
            "alice",
            "not mine",
            "t2",
        )
        .await?;
        appeals::file(
            c,
            "a3",
            &Subject::Decision("d1".into()),
            "bob",
            "me too",
            "t3",
        )
        .await
    })
    .unwrap();
    let (d2, a2) = (d.clone(), a.clone());
    write!(s, |c| {
        assert_eq!(
            appeals::open_for(c, &d2, "alice").await?.as_deref(),
            Some("a1")
        );
        assert_eq!(
            appeals::open_for(c, &a2, "alice").await?.as_deref(),
            Some("a2")
        );
        assert!(appeals::open_for(c, &a2, "bob").await?.is_none());
        Ok(())
    })
    .unwrap();
    let a1 = appeals::get(s.reader(), "a1").await.unwrap().unwrap();
    assert_eq!(
        (a1.decision_id.as_deref(), a1.review_item.as_deref()),
        (Some("d1"), None)
    );
    let a2row = appeals::get(s.reader(), "a2").await.unwrap().unwrap();
    assert_eq!(
        (a2row.decision_id.as_deref(), a2row.review_item.as_deref()),
        (None, Some("r1"))
    );
    assert_eq!(
        appeals::of_account(s.reader(), "alice")
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(appeals::list(s.reader(), "open").await.unwrap().len(), 3);
    assert!(write!(s, |c| appeals::decide(
        c, "a1", "sam", "t4", "reversed", "yes"
    )
    .await)
    .unwrap());
    assert!(
        !write!(s, |c| appeals::decide(c, "a1", "tom", "t5", "upheld", "no")
            .await)
        .unwrap()
    );
    let a1 = appeals::get(s.reader(), "a1").await.unwrap().unwrap();
    assert_eq!(
        (
            a1.status.as_str(),
            a1.outcome.as_deref(),
            a1.reviewer.as_deref()
        ),
        ("decided", Some("reversed"), Some("sam"))
    );
    assert_eq!(appeals::list(s.reader(), "decided").await.unwrap().len(), 1);
    assert_eq!(appeals::list(s.reader(), "all").await.unwrap().len(), 3);
    // Once decided, the account may appeal again.
    let d3 = d.clone();
    write!(s, |c| {
        assert!(appeals::open_for(c, &d3, "alice").await?.is_none());
        Ok(())
    })
    .unwrap();
}

on_both!(
    banks_content_import_and_matching,
    banks_content_import_and_matching_on
);
async fn banks_content_import_and_matching_on(db: Db) {
    use candor_log::entry::SignalKind;
    use candor_store::banks::{self, BankSettings, ImportedSignal, NewBank, NewContent};
    let s = store(&db).await;
    let nb = |name: &'static str| NewBank {
        name,
        description: "",
        category: "STATEMENT_CATEGORY_X",
        provenance: "own_review",
        enabled: true,
        pdq_threshold: 31,
        now: "t1",
    };
    let (b1, b2) = write!(s, |c| {
        let b1 = banks::create_bank(c, &nb("one")).await?;
        let b2 = banks::create_bank(c, &nb("two")).await?;
        Ok((b1, b2))
    })
    .unwrap();
    assert_ne!(b1, b2);
    // A second bank of the same name is refused, and nothing of its job is kept.
    assert!(write!(s, |c| banks::create_bank(c, &nb("one")).await).is_err());
    write!(s, |c| {
        let settings = BankSettings {
            description: "updated",
            category: "STATEMENT_CATEGORY_Y",
            enabled: false,
            pdq_threshold: 20,
        };
        banks::update_bank(c, b2, &settings, "t2").await
    })
    .unwrap();
    let two = banks::find_bank(s.reader(), "two").await.unwrap().unwrap();
    assert_eq!(
        (
            two.description.as_str(),
            two.category.as_str(),
            two.enabled,
            two.pdq_threshold
        ),
        ("updated", "STATEMENT_CATEGORY_Y", false, 20)
    );

    // One content with two signals, then an import of three.
    let (content, sig) = write!(s, |c| {
        let content = banks::add_content(
            c,
            &NewContent {
                public_id: "c-1",
                bank_id: b1,
                provenance: "own_review",
                note: "n",
                created_by: "cora",
                now: "t3",
            },
        )
        .await?;
        let sig =
            banks::add_signal(c, content, SignalKind::Pdq, &[1; 32], Some(90), &[9; 16]).await?;
        banks::add_signal(c, content, SignalKind::Md5, &[2; 16], None, &[8; 16]).await?;
        Ok((content, sig))
    })
    .unwrap();
    let backend = s.backend();
    let imported = write!(s, |c| {
        let ids = ["i-1", "i-2", "i-3"];
        let values = [[3u8; 32], [4u8; 32], [5u8; 32]];
        let items: Vec<ImportedSignal> = ids
            .iter()
            .zip(values.iter())
            .map(|(id, v)| ImportedSignal {
                public_id: id,
                kind: SignalKind::Pdq,
                value: v,
                salt: &[7; 16],
            })
            .collect();
        banks::add_imported(c, backend, b1, "imported:list", "cora", "t4", &items).await
    })
    .unwrap();
    assert_eq!(imported.first_content, content + 1);
    assert_eq!(imported.first_signal, sig + 2);
    // Each imported row as written (the PostgreSQL bulk path sends the columns as arrays).
    for (i, (id, v)) in ["i-1", "i-2", "i-3"].iter().zip([3u8, 4, 5]).enumerate() {
        let row = banks::find_content(s.reader(), "one", id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.id, imported.first_content + i as i64);
        assert_eq!(row.provenance, "imported:list");
        let sigs = banks::signals_of(s.reader(), row.id).await.unwrap();
        assert_eq!(sigs.len(), 1);
        assert_eq!(sigs[0].id, imported.first_signal + i as i64);
        assert_eq!(
            (sigs[0].kind, sigs[0].quality, sigs[0].value.as_slice()),
            (SignalKind::Pdq, None, &[v; 32][..])
        );
        assert_eq!(sigs[0].salt, [7u8; 16]);
    }
    let sigs = banks::signals_of(s.reader(), content).await.unwrap();
    assert_eq!(sigs.len(), 2);
    assert_eq!(
        (sigs[0].kind, sigs[0].quality, sigs[0].value.as_slice()),
        (SignalKind::Pdq, Some(90), &[1u8; 32][..])
    );
    assert_eq!((sigs[1].kind, sigs[1].quality), (SignalKind::Md5, None));
    let page = banks::list_content(s.reader(), b1, 0, 2).await.unwrap();
    assert_eq!(
        page.iter()
            .map(|r| r.public_id.as_str())
            .collect::<Vec<_>>(),
        ["c-1", "i-1"]
    );
    let rest = banks::list_content(s.reader(), b1, page[1].id, 10)
        .await
        .unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(
        banks::find_bank(s.reader(), "one")
            .await
            .unwrap()
            .unwrap()
            .content_count,
        4
    );

    // Matching's view: live rows, and rows of contents and banks, live or not.
    assert_eq!(s.live_signal_count().await.unwrap(), 5);
    write!(s, |c| {
        let st = banks::content_state(c, "one", "i-2").await?.unwrap();
        assert!(st.enabled && !st.retracted);
        banks::retract(c, st.id, "t5", Some("listed in error")).await?;
        let st = banks::content_state(c, "one", "i-3").await?.unwrap();
        banks::set_enabled(c, st.id, false).await
    })
    .unwrap();
    let row = banks::find_content(s.reader(), "one", "i-2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.retraction_reason.as_deref(), Some("listed in error"));
    assert_eq!(s.live_signal_count().await.unwrap(), 3);
    // The bank's count is kept by the writes (not counted on read): a retraction takes one off,
    // a retraction of a retracted content changes nothing (its first reason stays), a disabled
    // content still counts.
    write!(s, |c| banks::retract(c, row.id, "t6", Some("again")).await).unwrap();
    let again = banks::find_content(s.reader(), "one", "i-2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.retraction_reason.as_deref(), Some("listed in error"));
    let counted: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM bank_content WHERE bank_id = $1 AND retracted_at IS NULL",
    )
    .bind(b1)
    .fetch_one(s.reader())
    .await
    .unwrap();
    assert_eq!(counted, 3);
    assert_eq!(
        banks::find_bank(s.reader(), "one")
            .await
            .unwrap()
            .unwrap()
            .content_count,
        counted
    );
    let mut live = Vec::new();
    s.for_each_live_signal(|row, bank, content_row, public, signal, _| {
        live.push((
            row,
            bank,
            public.to_string(),
            signal.to_string(),
            content_row,
        ))
    })
    .await
    .unwrap();
    assert_eq!(
        live.iter().map(|l| l.2.as_str()).collect::<Vec<_>>(),
        ["c-1", "c-1", "i-1"]
    );
    // Each row names its content row.
    assert_eq!(
        live.iter().map(|l| l.4).collect::<Vec<_>>(),
        [content, content, imported.first_content]
    );
    let rows = s
        .signals_of_contents(&["i-2".into(), "i-3".into(), "nope".into()])
        .await
        .unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.public_id.as_str(), r.live, r.content_row))
            .collect::<Vec<_>>(),
        [
            ("i-2", false, imported.first_content + 1),
            ("i-3", false, imported.first_content + 2)
        ]
    );
    assert_eq!(s.signals_of_bank(b1).await.unwrap().len(), 5);
    // A negative bank (an allowlist) is a flag of the bank, read by matching.
    write!(s, |c| banks::set_negative(c, b1, true).await).unwrap();
    assert!(
        banks::find_bank(s.reader(), "one")
            .await
            .unwrap()
            .unwrap()
            .negative
    );
    let mb = s.match_banks().await.unwrap();
    assert_eq!(
        mb.iter()
            .map(|b| (
                b.name.as_str(),
                b.enabled,
                b.negative,
                b.matching_enabled_ratio
            ))
            .collect::<Vec<_>>(),
        [("one", true, true, 1.0), ("two", false, false, 1.0)]
    );
    write!(s, |c| banks::set_negative(c, b1, false).await).unwrap();
    assert!(
        !banks::find_bank(s.reader(), "one")
            .await
            .unwrap()
            .unwrap()
            .negative
    );

    // Deleting a bank takes its content and signals with it.
    write!(s, |c| banks::delete_bank(c, b1).await).unwrap();
    assert!(banks::find_bank(s.reader(), "one").await.unwrap().is_none());
    assert_eq!(s.signals_of_bank(b1).await.unwrap().len(), 0);
    assert_eq!(s.live_signal_count().await.unwrap(), 0);
    assert_eq!(banks::list_banks(s.reader()).await.unwrap().len(), 1);
}

on_both!(
    banks_what_the_hma_api_keeps,
    banks_what_the_hma_api_keeps_on
);
async fn banks_what_the_hma_api_keeps_on(db: Db) {
    use candor_log::entry::SignalKind;
    use candor_store::banks;
    let s = store(&db).await;
    let (signal, other) = write!(s, |c| {
        let bank = banks::create_bank(
            c,
            &banks::NewBank {
                name: "HMA_BANK",
                description: "",
                category: "STATEMENT_CATEGORY_X",
                provenance: "own_review",
                enabled: true,
                pdq_threshold: 31,
                now: "t",
            },
        )
        .await?;
        banks::set_matching_ratio(c, bank, 0.25).await?;
        let content = |id: &'static str| banks::NewContent {
            public_id: id,
            bank_id: bank,
            provenance: "own_review",
            note: "",
            created_by: "cur",
            now: "t",
        };
        let c1 = banks::add_content(c, &content("c1")).await?;
        let sig = banks::add_signal(c, c1, SignalKind::Pdq, &[7; 32], None, &[1; 16]).await?;
        let c2 = banks::add_content(c, &content("c2")).await?;
        let sig2 = banks::add_signal(c, c2, SignalKind::Md5, &[8; 16], None, &[2; 16]).await?;
        banks::set_metadata(c, "c1", r#"{"content_id":"x"}"#).await?;
        banks::set_note(c, c1, "a note").await?;
        // c2: disabled until 100.
        banks::set_enabled(c, c2, false).await?;
        banks::set_disable_until(c, c2, Some(100)).await?;
        Ok((sig, sig2))
    })
    .unwrap();
    let b = banks::find_bank(s.reader(), "HMA_BANK")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.matching_enabled_ratio, 0.25);
    let c1 = banks::find_content(s.reader(), "HMA_BANK", "c1")
        .await
        .unwrap()
        .unwrap();
    let by_row = banks::find_content_by_row(s.reader(), "HMA_BANK", c1.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_row, c1);
    assert_eq!(c1.metadata.as_deref(), Some(r#"{"content_id":"x"}"#));
    assert_eq!(c1.note, "a note");
    assert_eq!(c1.disable_until_ts, None);
    // The row id names content of its own bank only.
    assert!(banks::find_content_by_row(s.reader(), "OTHER", c1.id)
        .await
        .unwrap()
        .is_none());
    // Signal rows to their content rows, with the bank's ratio; unknown rows left out.
    let got = banks::contents_of_signals(s.reader(), &[other, signal, 999_999])
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].signal_row, got[0].content_id), (signal, c1.id));
    assert_eq!(got[0].bank, "HMA_BANK");
    assert_eq!(got[0].matching_enabled_ratio, 0.25);
    assert_eq!(got[1].signal_row, other);
    // A timed disable is due once its time has come, not before.
    assert!(banks::due_enables(s.reader(), 99, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        banks::due_enables(s.reader(), 100, 10).await.unwrap(),
        vec![("HMA_BANK".to_string(), "c2".to_string())]
    );
}

on_both!(exchanges_state_and_sources, exchanges_state_and_sources_on);
async fn exchanges_state_and_sources_on(db: Db) {
    use candor_log::entry::SignalKind;
    use candor_store::banks::{self, ImportedSignal, NewBank};
    use candor_store::exchanges::{self, PageCounts};
    let s = store(&db).await;
    let backend = s.backend();
    let bank = write!(s, |c| {
        banks::create_bank(
            c,
            &NewBank {
                name: "ncmec",
                description: "",
                category: "STATEMENT_CATEGORY_X",
                provenance: "imported:ncmec",
                enabled: true,
                pdq_threshold: 31,
                now: "t0",
            },
        )
        .await
    })
    .unwrap();
    // State: created from the beginning, pages add up, an error keeps the checkpoint.
    let st = write!(s, |c| exchanges::ensure(c, "ncmec-industry", "ncmec", bank)
        .await)
    .unwrap();
    assert_eq!(
        (st.checkpoint.as_str(), st.fetched, st.last_fetch_at),
        ("", 0, None)
    );
    write!(s, |c| {
        let page = PageCounts {
            fetched: 3,
            added: 2,
            retracted: 1,
            skipped: 0,
        };
        assert!(exchanges::record_page(c, "ncmec-industry", "", "1700000000", page, "t1").await?);
        assert!(
            exchanges::record_page(c, "ncmec-industry", "1700000000", "1700000100", page, "t2")
                .await?
        );
        // A page fetched after a checkpoint the exchange has left (another process synced it
        // meanwhile) is not recorded, and nothing changes.
        assert!(
            !exchanges::record_page(c, "ncmec-industry", "1700000000", "1700000050", page, "t9")
                .await?
        );
        exchanges::record_error(c, "ncmec-industry", "HTTP 503", "t3").await
    })
    .unwrap();
    let st = exchanges::get(s.reader(), "ncmec-industry")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            st.checkpoint.as_str(),
            st.fetched,
            st.added,
            st.retracted,
            st.last_success_at.as_deref(),
            st.last_fetch_at.as_deref(),
            st.last_error.as_deref()
        ),
        (
            "1700000100",
            6,
            4,
            2,
            Some("t2"),
            Some("t3"),
            Some("HTTP 503")
        )
    );
    // The same exchange pointed at another bank starts again.
    let again = write!(s, |c| exchanges::ensure(
        c,
        "ncmec-industry",
        "ncmec",
        bank + 1
    )
    .await)
    .unwrap();
    assert_eq!((again.checkpoint.as_str(), again.fetched), ("", 0));
    assert_eq!(exchanges::list(s.reader()).await.unwrap().len(), 1);

    // Source ids and signal values find their contents; retracted ones are not returned.
    let rows = write!(s, |c| {
        let items = [
            ImportedSignal {
                public_id: "e-1",
                kind: SignalKind::Sha1,
                value: &[1; 20],
                salt: &[0; 16],
            },
            ImportedSignal {
                public_id: "e-2",
                kind: SignalKind::Md5,
                value: &[1; 16],
                salt: &[0; 16],
            },
        ];
        let rows =
            banks::add_imported(c, backend, bank, "imported:ncmec", "x", "t4", &items).await?;
        exchanges::add_source_items(
            c,
            bank,
            &[
                ("id:image1".to_string(), rows.first_content),
                ("id:image1".to_string(), rows.first_content + 1),
            ],
        )
        .await?;
        // Twice is harmless.
        exchanges::add_source_items(c, bank, &[("id:image1".to_string(), rows.first_content)])
            .await?;
        Ok(rows)
    })
    .unwrap();
    let (by_id, by_value, other_kind) = write!(s, |c| {
        Ok((
            exchanges::contents_of_source(c, bank, "id:image1").await?,
            exchanges::contents_with_signal(c, bank, SignalKind::Sha1, &[1; 20]).await?,
            exchanges::contents_with_signal(c, bank, SignalKind::Pdq, &[1; 20]).await?,
        ))
    })
    .unwrap();
    assert_eq!(by_id, ["e-1", "e-2"]);
    assert_eq!(by_value, ["e-1"]);
    assert!(other_kind.is_empty());
    // An entry's contents with their signals (what a re-sent entry replaces).
    let signals = write!(s, |c| exchanges::source_signals(c, bank, "id:image1").await).unwrap();
    assert_eq!(
        signals,
        [
            ("e-1".to_string(), "sha1".to_string(), vec![1u8; 20]),
            ("e-2".to_string(), "md5".to_string(), vec![1u8; 16]),
        ]
    );
    assert!(
        write!(s, |c| exchanges::source_signals(c, bank, "id:other").await)
            .unwrap()
            .is_empty()
    );
    write!(s, |c| banks::retract(
        c,
        rows.first_content,
        "t5",
        Some("gone")
    )
    .await)
    .unwrap();
    let after = write!(s, |c| exchanges::contents_of_source(c, bank, "id:image1")
        .await)
    .unwrap();
    assert_eq!(after, ["e-2"]);
    let signals = write!(s, |c| exchanges::source_signals(c, bank, "id:image1").await).unwrap();
    assert_eq!(signals.len(), 1);
    assert_eq!(signals[0].0, "e-2");
}

on_both!(
    exchange_configs_and_credentials,
    exchange_configs_and_credentials_on
);
async fn exchange_configs_and_credentials_on(db: Db) {
    use candor_store::exchanges::{self, PageCounts, StoredExchange};
    let s = store(&db).await;
    let cfg = |name: &str, kind: &str| StoredExchange {
        name: name.to_string(),
        kind: kind.to_string(),
        bank: name.to_string(),
        options: r#"{"privacy_group":"303636684709969"}"#.to_string(),
        interval_secs: 3600,
        enabled: true,
        created_at: "t0".to_string(),
        updated_at: "t0".to_string(),
    };
    let (a, b) = (cfg("TE_GROUP", "threatexchange"), cfg("A_STOP", "stopncii"));
    let (a2, b2) = (a.clone(), b.clone());
    assert!(write!(s, |c| exchanges::create_config(c, &a2).await).unwrap());
    assert!(write!(s, |c| exchanges::create_config(c, &b2).await).unwrap());
    // A second one by that name writes nothing.
    let mut dup = cfg("TE_GROUP", "ncmec");
    dup.options = "{}".into();
    assert!(!write!(s, |c| exchanges::create_config(c, &dup).await).unwrap());
    assert_eq!(
        exchanges::get_config(s.reader(), "TE_GROUP").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        exchanges::get_config(s.reader(), "NOPE").await.unwrap(),
        None
    );
    assert_eq!(
        exchanges::list_configs(s.reader()).await.unwrap(),
        vec![b.clone(), a.clone()],
        "by name"
    );
    // Disable: the flag and the time change, nothing else.
    assert!(write!(s, |c| exchanges::set_config_enabled(
        c, "TE_GROUP", false, "t1"
    )
    .await)
    .unwrap());
    assert!(
        !write!(s, |c| exchanges::set_config_enabled(c, "NOPE", false, "t1")
            .await)
        .unwrap()
    );
    let got = exchanges::get_config(s.reader(), "TE_GROUP")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            got.enabled,
            got.updated_at.as_str(),
            got.created_at.as_str()
        ),
        (false, "t1", "t0")
    );
    // Delete: the configuration and its sync state go.
    write!(s, |c| {
        exchanges::ensure(c, "TE_GROUP", "threatexchange", 7).await?;
        exchanges::record_page(c, "TE_GROUP", "", "cp", PageCounts::default(), "t2").await
    })
    .unwrap();
    assert!(write!(s, |c| exchanges::delete_config(c, "TE_GROUP").await).unwrap());
    assert!(!write!(s, |c| exchanges::delete_config(c, "TE_GROUP").await).unwrap());
    assert_eq!(
        exchanges::get_config(s.reader(), "TE_GROUP").await.unwrap(),
        None
    );
    assert_eq!(exchanges::get(s.reader(), "TE_GROUP").await.unwrap(), None);
    assert_eq!(exchanges::list_configs(s.reader()).await.unwrap(), vec![b]);

    // Credentials per kind: set, replaced, removed.
    assert_eq!(
        exchanges::credentials(s.reader(), "tcap").await.unwrap(),
        None
    );
    for (kind, creds, at) in [
        ("tcap", r#"{"username":"u","password":"p1"}"#, "t3"),
        ("tcap", r#"{"username":"u","password":"p2"}"#, "t4"),
        ("ncmec", "{}", "t4"),
    ] {
        write!(s, |c| exchanges::set_credentials(c, kind, Some(creds), at)
            .await)
        .unwrap();
    }
    assert_eq!(
        exchanges::credentials(s.reader(), "tcap")
            .await
            .unwrap()
            .as_deref(),
        Some(r#"{"username":"u","password":"p2"}"#)
    );
    write!(s, |c| exchanges::set_credentials(c, "tcap", None, "t5")
        .await)
    .unwrap();
    assert_eq!(
        exchanges::credentials(s.reader(), "tcap").await.unwrap(),
        None
    );
    assert_eq!(
        exchanges::credentials(s.reader(), "ncmec")
            .await
            .unwrap()
            .as_deref(),
        Some("{}")
    );
}
