//! Subscriptions in the store: key layout, reads, and the create, update
//! and delete use cases (under [`crate::resource_writes::lock`], with
//! their idempotency answers in the same write).

use super::*;

fn record_key(project: &ProjectKey, id: &str) -> Vec<u8> {
    let mut key = project_prefix(project);
    push_text(&mut key, id);
    key
}

fn corrupt(what: impl fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("subscription: {what}"))
}

fn decode(bytes: &[u8]) -> Result<SubscriptionRecord, StoreError> {
    serde_json::from_slice(bytes).map_err(corrupt)
}

fn encode(record: &SubscriptionRecord) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record).map_err(corrupt)
}

/// Every subscription of `project`, oldest first.
pub fn list(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
) -> Result<Vec<SubscriptionRecord>, StoreError> {
    let prefix = project_prefix(project);
    let rows = store.scan(
        Table::Subscriptions,
        &prefix,
        &prefix_end(&prefix),
        SUBSCRIPTIONS_PER_PROJECT_MAX + 1,
    )?;
    let mut records = rows
        .iter()
        .map(|(_, value)| decode(value))
        .collect::<Result<Vec<_>, _>>()?;
    records.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
    Ok(records)
}

/// Every subscription of every project (what the delivery workers serve).
pub fn list_all(
    store: &(impl EventStore + ?Sized),
) -> Result<Vec<(ProjectKey, SubscriptionRecord)>, StoreError> {
    // Keys start with the project's u16 length, far below 0xFFFF.
    let rows = store.scan(
        Table::Subscriptions,
        &[],
        &[u8::MAX; 3],
        SUBSCRIPTIONS_LISTED_MAX,
    )?;
    rows.iter()
        .map(|(key, value)| {
            let project = project_of_key(key)?;
            Ok((project, decode(value)?))
        })
        .collect()
}

fn project_of_key(key: &[u8]) -> Result<ProjectKey, StoreError> {
    split_text(key)
        .and_then(|(text, _)| std::str::from_utf8(text).ok())
        .and_then(ProjectKey::parse)
        .ok_or_else(|| corrupt(format!("key {}", hex::encode(key))))
}

/// The subscription named by id or key.
pub fn get(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    by: &ResourceRef,
) -> Result<SubscriptionRecord, SubscriptionError> {
    let found = match by {
        ResourceRef::Id(id) => store
            .get(Table::Subscriptions, &record_key(project, id))?
            .map(|bytes| decode(&bytes))
            .transpose()?,
        ResourceRef::Key(key) => list(store, project)?
            .into_iter()
            .find(|r| r.key.as_deref() == Some(key.as_str())),
    };
    found.ok_or(SubscriptionError::NotFound)
}

/// Creates a subscription whose cursors start at the current log heads.
#[tracing::instrument(skip_all, fields(project = %project))]
pub fn create(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    draft: SubscriptionDraft,
    message_types: &[&str],
    meta: &SubscriptionMeta,
) -> Result<SubscriptionRecord, SubscriptionError> {
    check_draft(&draft, message_types)?;
    let now = meta.now_text();
    let record = SubscriptionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        version: 1,
        created_at: now.clone(),
        last_modified_at: now,
        created_by: meta.modified_by(),
        last_modified_by: meta.modified_by(),
        key: draft.key,
        destination: draft.destination,
        messages: draft.messages,
        format: draft.format,
        delivery_stop: None,
    };
    let _writes = crate::resource_writes::lock();
    let existing = list(store, project)?;
    rules::check_room(existing.len())?;
    if let Some(key) = &record.key
        && existing.iter().any(|r| r.key.as_ref() == Some(key))
    {
        return Err(SubscriptionRejection::DuplicateKey { key: key.clone() }.into());
    }
    let consumer = consumer_name(&record.id);
    let mut writes = vec![KvWrite {
        table: Table::Subscriptions,
        key: record_key(project, &record.id),
        value: Some(encode(&record)?),
    }];
    for partition in 0..store.partition_count() {
        let head = store.log_head(partition)?;
        writes.push(Cursor::write_at(&consumer, partition, head));
    }
    idempotency::write_answered(store, meta.answer.as_ref(), &record, writes)?;
    Ok(record)
}

/// The subscription `by` names, if it is at `version`.
fn current(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    by: &ResourceRef,
    version: u64,
) -> Result<SubscriptionRecord, SubscriptionError> {
    let record = get(store, project, by)?;
    if record.version != version {
        return Err(SubscriptionError::Conflict {
            id: record.id,
            expected: version,
            current_version: record.version,
        });
    }
    Ok(record)
}

/// Applies update actions to the subscription at `version`, all or
/// nothing; the result must pass the rules of a new subscription. The
/// cursors stay where they are: deliveries go on from there with the new
/// destination and filters, so a Message held back by a failing
/// destination is retried at the new one and nothing is skipped. Stopped
/// deliveries resume with `resumeDeliveries` or a new destination. An
/// update that changes nothing keeps the version.
#[tracing::instrument(skip_all, fields(project = %project, version))]
pub fn update(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    by: &ResourceRef,
    version: u64,
    actions: Vec<SubscriptionAction>,
    message_types: &[&str],
    meta: &SubscriptionMeta,
) -> Result<SubscriptionRecord, SubscriptionError> {
    let _writes = crate::resource_writes::lock();
    let before = current(store, project, by, version)?;
    let unchanged = SubscriptionDraft::of(&before);
    let mut draft = unchanged.clone();
    let mut resume = false;
    for action in actions {
        match action {
            SubscriptionAction::ChangeDestination(destination) => draft.destination = destination,
            SubscriptionAction::SetKey(key) => draft.key = key,
            SubscriptionAction::SetMessages(messages) => draft.messages = messages,
            SubscriptionAction::ResumeDeliveries => resume = true,
        }
    }
    // A new destination is a new configuration: as in commercetools, it
    // ends a stop as well.
    let resumes =
        before.delivery_stop.is_some() && (resume || draft.destination != unchanged.destination);
    if draft == unchanged && !resumes {
        // Nothing changes; the answer is still recorded.
        idempotency::write_answered(store, meta.answer.as_ref(), &before, Vec::new())?;
        return Ok(before);
    }
    check_draft(&draft, message_types)?;
    if let Some(key) = &draft.key
        && draft.key != before.key
        && list(store, project)?
            .iter()
            .any(|r| r.id != before.id && r.key.as_ref() == Some(key))
    {
        return Err(SubscriptionRejection::DuplicateKey { key: key.clone() }.into());
    }
    let after = SubscriptionRecord {
        version: before.version + 1,
        last_modified_at: meta.now_text(),
        last_modified_by: meta.modified_by(),
        key: draft.key,
        destination: draft.destination,
        messages: draft.messages,
        format: draft.format,
        delivery_stop: if resumes {
            None
        } else {
            before.delivery_stop.clone()
        },
        ..before
    };
    let mut writes = vec![KvWrite {
        table: Table::Subscriptions,
        key: record_key(project, &after.id),
        value: Some(encode(&after)?),
    }];
    if resumes {
        // Resumed deliveries count their attempts from zero again.
        let consumer = consumer_name(&after.id);
        for partition in 0..store.partition_count() {
            let cursor = crate::consumer::Cursor::load(store, &consumer, partition)?;
            writes.extend(cursor.forget_retry());
        }
    }
    idempotency::write_answered(store, meta.answer.as_ref(), &after, writes)?;
    Ok(after)
}

/// Stops the deliveries of subscription `id` of `project` for `stop`
/// (the delivery workers call this when a Message passed the retry
/// bound). The version stays: the stop is the workers' state, not a
/// client's change. Returns whether this call stopped them; it does not
/// when the record is gone, is stopped already, or is no longer at
/// `version` (an update since the workers read it wins: a resume or a new
/// destination is not undone by a worker that still used the old one).
#[tracing::instrument(skip_all, fields(project = %project, subscription = id, version))]
pub fn stop_deliveries(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    id: &str,
    version: u64,
    stop: DeliveryStop,
) -> Result<bool, StoreError> {
    let _writes = crate::resource_writes::lock();
    let key = record_key(project, id);
    let Some(bytes) = store.get(Table::Subscriptions, &key)? else {
        return Ok(false);
    };
    let record = decode(&bytes)?;
    if record.version != version || record.delivery_stop.is_some() {
        return Ok(false);
    }
    let stopped = SubscriptionRecord {
        delivery_stop: Some(stop),
        ..record
    };
    store.write(vec![KvWrite {
        table: Table::Subscriptions,
        key,
        value: Some(encode(&stopped)?),
    }])?;
    Ok(true)
}

/// Deletes the subscription at `version`, with its cursors (and records
/// `answer` for it in the same write).
#[tracing::instrument(skip_all, fields(project = %project, version))]
pub fn delete(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    by: &ResourceRef,
    version: u64,
    answer: Option<&Answer>,
) -> Result<SubscriptionRecord, SubscriptionError> {
    let _writes = crate::resource_writes::lock();
    let record = current(store, project, by, version)?;
    let mut writes = vec![KvWrite {
        table: Table::Subscriptions,
        key: record_key(project, &record.id),
        value: None,
    }];
    writes.extend(remove_cursors(store, &record.id));
    idempotency::write_answered(store, answer, &record, writes)?;
    Ok(record)
}

/// The writes that remove every cursor of subscription `id`.
pub fn remove_cursors(store: &(impl EventStore + ?Sized), id: &str) -> Vec<KvWrite> {
    let consumer = consumer_name(id);
    (0..store.partition_count())
        .map(|partition| Cursor::removal(&consumer, partition))
        .collect()
}
